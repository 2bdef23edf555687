/*
 * relay.h -- who signed a message a relay (a bridge's user) published: the
 * signing keys of every user, each with the rules that user would have as
 * the signer, built once per policy load so a relayed publish costs one
 * lookup and one signature check. No mosquitto API; compiled into
 * secmq_auth.so only (it needs the envelope code). Not for a user's own
 * publishes (plugin.c checks those against the user's own keys).
 */
#ifndef SECMQ_RELAY_H
#define SECMQ_RELAY_H

#include <stddef.h>

#include <secmq.h>

#include "acl.h"
#include "policy.h"

/* A user with signing keys, and the rules it has as a signer. */
typedef struct secmq_signer_user {
    char *name;     /* owned */
    secmq_acl *acl; /* owned; secmq__acl_compile_signer */
} secmq_signer_user;

/* One signing key of one user (a key registered for two users is two). */
typedef struct secmq_signer_key {
    unsigned char id[SECMQ_ID_BYTES]; /* secmq_identity_id(pk) */
    unsigned char pk[SECMQ_SIGN_KEY_BYTES];
    size_t user; /* index into secmq_signers.users */
} secmq_signer_key;

typedef struct secmq_signers {
    secmq_signer_user *users; /* owned */
    size_t nusers;
    secmq_signer_key *keys; /* owned; sorted by id */
    size_t nkeys;
} secmq_signers;

/* What secmq__signers_check found. */
typedef enum secmq_relay_verdict {
    SECMQ_RELAY_OK = 0,        /* signed by a user who may write the topic */
    SECMQ_RELAY_NOT_SIGNED,    /* not a signed secmq envelope */
    SECMQ_RELAY_UNKNOWN_KEY,   /* no enabled user has the signing key */
    SECMQ_RELAY_BAD_SIGNATURE, /* the key is known, the signature wrong */
    SECMQ_RELAY_NOT_ALLOWED    /* a valid signature of a user the ACLs do
                                  not let write the topic */
} secmq_relay_verdict;

/*
 * secmq__signers_build -- the keys of every enabled user of pol with keys,
 * into *out (empty first; the caller frees it with secmq__signers_free).
 * Returns 0, or -1 when out of memory (*out then empty).
 */
int secmq__signers_build(const secmq_policy *pol, secmq_signers *out);

/* Frees what s owns and empties it. s may be NULL. */
void secmq__signers_free(secmq_signers *s);

/*
 * secmq__signers_check -- is payload (len bytes, may be NULL) a secmq
 * envelope for topic signed by a key of a user who may publish on topic?
 * *signer (may be NULL) is set to that user's name for SECMQ_RELAY_OK and
 * to the refused user's for SECMQ_RELAY_NOT_ALLOWED, else NULL; borrowed
 * from s, valid until it is freed. SECURITY: every user holding the key
 * is tried; one allowed user whose signature verifies is enough.
 */
secmq_relay_verdict secmq__signers_check(const secmq_signers *s,
                                         const char *topic, const void *payload,
                                         size_t len, const char **signer);

/*
 * secmq__signers_chunk_writer -- the name of a user with a signing key
 * whose rules let it publish on topic (borrowed from s), or NULL. For file
 * chunks of protocol 2, which carry no signature to name their sender.
 */
const char *secmq__signers_chunk_writer(const secmq_signers *s,
                                        const char *topic);

/* A short reason for the log ("key not registered for any user", ...). */
const char *secmq__relay_verdict_str(secmq_relay_verdict v);

#endif /* SECMQ_RELAY_H */
