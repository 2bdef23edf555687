/*
 * identity_int.h -- identities (PROTOCOL.md §2): names, the secret and
 * public identity files, and the keys derived from the seed. Not for
 * peers as a set or for trust: that is the keyring's.
 */
#ifndef SECMQ_IDENTITY_INT_H
#define SECMQ_IDENTITY_INT_H

#include <stddef.h>

#include "kfile_int.h"

#define SECMQ__SEED_BYTES 32u
/* Longest identity file the keyring reads. */
#define SECMQ__IDENTITY_FILE_MAX 4096u

/* The public half of an identity. */
typedef struct secmq__ident {
    char name[SECMQ_NAME_MAX + 1];
    unsigned char pk[SECMQ_SIGN_PK_BYTES];
    unsigned char id[SECMQ_ID_BYTES];
} secmq__ident;

/* The secret half; lives in sodium_malloc memory. */
typedef struct secmq__secret {
    unsigned char seed[SECMQ__SEED_BYTES];
    unsigned char sk[SECMQ_SIGN_SK_BYTES];    /* Ed25519, libsodium form */
    unsigned char local_key[SECMQ_KEY_BYTES]; /* seals the keyring's files */
} secmq__secret;

/* 1 if s (len bytes) is a valid name: 1..64 of [A-Za-z0-9._@-]. */
int secmq__name_valid(const char *s, size_t len);

/* Fill sec (seed set) and pub's pk/id from sec->seed. */
void secmq__identity_derive(secmq__secret *sec, secmq__ident *pub);

/*
 * Parse a secret identity file (§2.1). Returns NULL, or a reason phrase.
 * seed is secret: the caller wipes it.
 */
const char *secmq__identity_parse_secret(const char *text, size_t len,
                                         char *name, unsigned char *seed);
/* Parse a public identity file (§2.2) into pub. NULL or a reason. */
const char *secmq__identity_parse_public(const char *text, size_t len,
                                         secmq__ident *pub);

/* Format the files; return the length, or 0 if buf (len bytes) is short. */
size_t secmq__identity_format_secret(char *buf, size_t len, const char *name,
                                     const unsigned char *seed);
size_t secmq__identity_format_public(char *buf, size_t len,
                                     const secmq__ident *pub);

/*
 * Load DIR/identity (refused when group/others may access it) into pub
 * and sec. Returns SECMQ_OK, SECMQ_E_KEYRING, SECMQ_E_IO, SECMQ_E_NOMEM.
 */
int secmq__identity_load(const char *dir, secmq__ident *pub, secmq__secret *sec,
                         secmq__kerr *e);

/* Read the public identity file at path. Same codes. */
int secmq__identity_read_public(const char *path, secmq__ident *pub,
                                secmq__kerr *e);

#endif /* SECMQ_IDENTITY_INT_H */
