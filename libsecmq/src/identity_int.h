/*
 * identity_int.h -- identities (PROTOCOL.md §2): names, the secret and
 * public identity files, and the keys derived from the seed. Not for
 * peers as a set or for trust: that is the keyring's.
 */
#ifndef SECMQ_IDENTITY_INT_H
#define SECMQ_IDENTITY_INT_H

#include <stddef.h>
#include <stdint.h>

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

/* Base64 (with padding) of 64 bytes, plus NUL. */
#define SECMQ__B64_64_BYTES 89u

/*
 * Take one line "<prefix><value>\n" from *p (end at end). On success
 * val and vlen are the value and *p moves past the line; else returns -1.
 */
int secmq__take_line(const char **p, const char *end, const char *prefix,
                     const char **val, size_t *vlen);
/* The canonical standard base64 (padded) of exactly n (<= 64) bytes into
 * out: 0, or -1 (out may be written). */
int secmq__b64_exact(unsigned char *out, size_t n, const char *s, size_t len);
/* Take the line "name: <valid name>\n" into name (65 bytes): NULL or a
 * reason phrase. */
const char *secmq__take_name(const char **p, const char *end, char *name);

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

/* ---- successor statements (PROTOCOL.md §2.3, identity_succ.c) ---- */

#define SECMQ__SUCC_FILE_MAX 1024u
#define SECMQ__SIG_BYTES 64u /* Ed25519 signature */
/* Bytes of M: the label, two keys, u64, u8, a name. */
#define SECMQ__SUCC_MSG_MAX (18u + 32u + 32u + 8u + 1u + SECMQ_NAME_MAX)

/* An identity's statement that new_pk replaces old_pk. */
typedef struct secmq__succ {
    char name[SECMQ_NAME_MAX + 1];
    unsigned char old_pk[SECMQ_SIGN_PK_BYTES];
    unsigned char new_pk[SECMQ_SIGN_PK_BYTES];
    uint64_t created_ms;
    unsigned char sig[SECMQ__SIG_BYTES];   /* by the old key over M */
    unsigned char proof[SECMQ__SIG_BYTES]; /* by the new key over M */
} secmq__succ;

/* Why a statement is refused (§2.3), in the order checked. */
#define SECMQ__SUCC_OK 0
#define SECMQ__SUCC_MALFORMED 1
#define SECMQ__SUCC_SAME_KEY 2
#define SECMQ__SUCC_BAD_SIGNATURE 3
#define SECMQ__SUCC_BAD_PROOF 4

/* M of s (name, keys, time) into buf (SECMQ__SUCC_MSG_MAX); its length. */
size_t secmq__succ_message(unsigned char *buf, const secmq__succ *s);
/* Fill s->sig and s->proof with the two secret keys (libsodium form). */
void secmq__succ_sign(secmq__succ *s, const unsigned char *old_sk,
                      const unsigned char *new_sk);
/*
 * Parse and verify the text of a statement into s: SECMQ__SUCC_OK or the
 * reason above; *why (may be NULL) gets a phrase for people.
 */
int secmq__succ_parse(const char *text, size_t len, secmq__succ *s,
                      const char **why);
/* The reason's name as PROTOCOL.md §2.3 spells it ("malformed", ...). */
const char *secmq__succ_status_name(int st);
/* Format s as the file; the length, or 0 if buf (len bytes) is short. */
size_t secmq__succ_format(char *buf, size_t len, const secmq__succ *s);

#endif /* SECMQ_IDENTITY_INT_H */
