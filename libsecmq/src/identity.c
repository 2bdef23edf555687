/*
 * identity.c -- identities (PROTOCOL.md §2): the name rule, the two
 * identity file formats, parsed strictly (three lines, canonical base64,
 * nothing else), and the keys derived from the secret seed. Not for the
 * set of peers or for trust decisions: see keystore.c and keyadmin.c.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "identity_int.h"

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL
/* Base64 of 32 bytes, with padding, plus NUL. */
#define B64_32_BYTES 45u

static const char SECRET_MAGIC[] = "secmq-identity 1";
static const char PUBLIC_MAGIC[] = "secmq-public 1";

int secmq__name_valid(const char *s, size_t len)
{
    if (len < 1 || len > SECMQ_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

void secmq__identity_derive(secmq__secret *sec, secmq__ident *pub)
{
    static const char ctx[crypto_kdf_CONTEXTBYTES] = {'s', 'e', 'c', 'm',
                                                      'q', 'k', 'r', '1'};

    crypto_sign_seed_keypair(pub->pk, sec->sk, sec->seed);
    secmq_identity_id(pub->id, pub->pk);
    crypto_kdf_derive_from_key(sec->local_key, sizeof sec->local_key, 1, ctx,
                               sec->seed);
}

/* 1 if s (len bytes) starts with prefix. */
static int starts_with(const char *s, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);

    return len >= plen && memcmp(s, prefix, plen) == 0; /* not secret */
}

int secmq__take_line(const char **p, const char *end, const char *prefix,
                     const char **val, size_t *vlen)
{
    size_t plen = strlen(prefix);
    const char *nl;

    if (!starts_with(*p, (size_t)(end - *p), prefix)) {
        return -1;
    }
    nl = memchr(*p + plen, '\n', (size_t)(end - *p - (ptrdiff_t)plen));
    if (nl == NULL) {
        return -1;
    }
    *val = *p + plen;
    *vlen = (size_t)(nl - *val);
    *p = nl + 1;
    return 0;
}

int secmq__b64_exact(unsigned char *out, size_t n, const char *s, size_t len)
{
    char again[SECMQ__B64_64_BYTES];
    size_t got = 0;
    const char *b64_end = NULL;
    int same;

    if (n > 64 || len != sodium_base64_ENCODED_LEN(n, B64_VARIANT) - 1) {
        return -1;
    }
    if (sodium_base642bin(out, n, s, len, NULL, &got, &b64_end, B64_VARIANT) !=
            0 ||
        got != n || b64_end != s + len) {
        return -1;
    }
    /* SECURITY: only the canonical spelling: unused bits must be zero, so
     * one key has one file. */
    sodium_bin2base64(again, sizeof again, out, n, B64_VARIANT);
    same = sodium_memcmp(again, s, len) == 0;
    sodium_memzero(again, sizeof again);
    return same ? 0 : -1;
}

const char *secmq__take_name(const char **p, const char *end, char *name)
{
    const char *v;
    size_t vlen;

    if (secmq__take_line(p, end, "name: ", &v, &vlen) != 0) {
        return "second line is not 'name: <name>'";
    }
    if (!secmq__name_valid(v, vlen)) {
        return "invalid name (1..64 of A-Z a-z 0-9 . _ @ -)";
    }
    memcpy(name, v, vlen);
    name[vlen] = 0;
    return NULL;
}

const char *secmq__identity_parse_secret(const char *text, size_t len,
                                         char *name, unsigned char *seed)
{
    const char *p = text, *end = text + len, *v, *why;
    size_t vlen;

    if (secmq__take_line(&p, end, SECRET_MAGIC, &v, &vlen) != 0 || vlen != 0) {
        return "not a secret identity file (first line is not "
               "'secmq-identity 1')";
    }
    why = secmq__take_name(&p, end, name);
    if (why != NULL) {
        return why;
    }
    if (secmq__take_line(&p, end, "ed25519-seed: ", &v, &vlen) != 0 ||
        secmq__b64_exact(seed, 32, v, vlen) != 0) {
        sodium_memzero(seed, SECMQ__SEED_BYTES);
        return "third line is not 'ed25519-seed: <base64 of 32 bytes>'";
    }
    if (p != end) {
        sodium_memzero(seed, SECMQ__SEED_BYTES);
        return "unexpected bytes after the third line";
    }
    return NULL;
}

const char *secmq__identity_parse_public(const char *text, size_t len,
                                         secmq__ident *pub)
{
    const char *p = text, *end = text + len, *v, *why;
    unsigned char x[crypto_scalarmult_curve25519_BYTES];
    size_t vlen;

    if (secmq__take_line(&p, end, PUBLIC_MAGIC, &v, &vlen) != 0 || vlen != 0) {
        return "not a public identity file (first line is not "
               "'secmq-public 1')";
    }
    why = secmq__take_name(&p, end, pub->name);
    if (why != NULL) {
        return why;
    }
    if (secmq__take_line(&p, end, "ed25519: ", &v, &vlen) != 0 ||
        secmq__b64_exact(pub->pk, 32, v, vlen) != 0) {
        return "third line is not 'ed25519: <base64 of 32 bytes>'";
    }
    if (p != end) {
        return "unexpected bytes after the third line";
    }
    /* A key that has no X25519 form cannot receive grants: refuse it now. */
    if (crypto_sign_ed25519_pk_to_curve25519(x, pub->pk) != 0) {
        return "not a valid Ed25519 public key";
    }
    secmq_identity_id(pub->id, pub->pk);
    return NULL;
}

size_t secmq__identity_format_secret(char *buf, size_t len, const char *name,
                                     const unsigned char *seed)
{
    char b64[B64_32_BYTES];
    int n;

    sodium_bin2base64(b64, sizeof b64, seed, SECMQ__SEED_BYTES, B64_VARIANT);
    n = snprintf(buf, len, "%s\nname: %s\ned25519-seed: %s\n", SECRET_MAGIC,
                 name, b64);
    sodium_memzero(b64, sizeof b64);
    if (n < 0 || (size_t)n >= len) {
        sodium_memzero(buf, len);
        return 0;
    }
    return (size_t)n;
}

size_t secmq__identity_format_public(char *buf, size_t len,
                                     const secmq__ident *pub)
{
    char b64[B64_32_BYTES];
    int n;

    sodium_bin2base64(b64, sizeof b64, pub->pk, SECMQ_SIGN_PK_BYTES,
                      B64_VARIANT);
    n = snprintf(buf, len, "%s\nname: %s\ned25519: %s\n", PUBLIC_MAGIC,
                 pub->name, b64);
    if (n < 0 || (size_t)n >= len) {
        return 0;
    }
    return (size_t)n;
}

int secmq__identity_load(const char *dir, secmq__ident *pub, secmq__secret *sec,
                         secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *text = NULL;
    size_t len = 0;
    const char *why;
    int rc;

    /* Every way into a keyring (open, secmq-keys, export) loads the
     * identity first, so the directory's mode is checked here once. */
    rc = secmq__kfile_check_dir(dir, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq__kpath(path, sizeof path, dir, "identity", NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    rc = secmq__kfile_read(path, SECMQ__IDENTITY_FILE_MAX,
                           SECMQ__KF_PRIVATE | SECMQ__KF_SECRET |
                               SECMQ__KF_OPTIONAL,
                           &text, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (text == NULL) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: no identity (create one with "
                               "`secmq-keys init`)",
                               path);
    }
    why = secmq__identity_parse_secret((const char *)text, len, pub->name,
                                       sec->seed);
    secmq__kfile_release(text, len + 1, SECMQ__KF_SECRET);
    if (why != NULL) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: %s", path, why);
    }
    secmq__identity_derive(sec, pub);
    return SECMQ_OK;
}

int secmq__identity_read_public(const char *path, secmq__ident *pub,
                                secmq__kerr *e)
{
    unsigned char *text = NULL;
    size_t len = 0;
    const char *why;
    int rc;

    rc = secmq__kfile_read(path, SECMQ__IDENTITY_FILE_MAX, 0, &text, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    why = secmq__identity_parse_public((const char *)text, len, pub);
    if (why != NULL && starts_with((const char *)text, len, SECRET_MAGIC)) {
        why = "a SECRET identity file: give the output of `secmq-keys "
              "export` instead, and keep this one private";
    }
    secmq__kfile_release(text, len + 1, 0);
    if (why != NULL) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: %s", path, why);
    }
    return SECMQ_OK;
}
