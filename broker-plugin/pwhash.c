/*
 * pwhash.c -- password hashes for the broker plugin and secmq-admin:
 * argon2id through libsodium for every new password, and verification of
 * the two formats mosquitto_passwd 2.0 writes, so a mosquitto password file
 * can be imported without knowing the passwords (the plugin replaces such a
 * hash with argon2id at the user's next successful login). Pure libsodium:
 * no OpenSSL, no I/O; the only allocation is inside crypto_pwhash.
 *
 * mosquitto formats (checked against files made by mosquitto_passwd 2.0.11,
 * tests/unit/test_pwhash.c):
 *   "$6$" SALT "$" HASH            HASH = SHA-512(password || salt)
 *   "$7$" ITER "$" SALT "$" HASH   HASH = PBKDF2-HMAC-SHA512(password, salt,
 *                                         ITER, 64 bytes)
 * SALT and HASH in standard base64 with padding (mosquitto: 12-byte salt,
 * ITER 101).
 */
#include "pwhash.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#define ARGON_PREFIX "$argon2id$"
#define SHA512_PREFIX "$6$"
#define PBKDF2_PREFIX "$7$"

#define MOSQ_HASH_BYTES 64u /* SHA-512 and PBKDF2 output */
#define MOSQ_SALT_MAX 64u   /* mosquitto uses 12; leave room */
#define PBKDF2_ITER_MAX 1000000ul
/* SECURITY: the costs a stored hash may ask for. A hostile or corrupt hash
 * in the database must not be able to stall the broker's only thread for
 * minutes or make it allocate gigabytes at a login. */
#define ARGON_MAX_OPS 32ull
#define ARGON_MAX_MEM_KIB (1024ul * 1024ul) /* 1 GiB */

/* One parsed mosquitto hash; salt and hash decoded. */
struct mosq_hash {
    int pbkdf2;               /* 1: "$7$", 0: "$6$" */
    unsigned long iterations; /* "$7$" only */
    unsigned char salt[MOSQ_SALT_MAX];
    size_t salt_len;
    unsigned char hash[MOSQ_HASH_BYTES];
};

/* Decode the base64 (standard alphabet, padded) field s[0..len) into out;
 * 0 when all of it decodes to at most cap bytes, length in *n. */
static int b64_field(const char *s, size_t len, unsigned char *out, size_t cap,
                     size_t *n)
{
    const char *end = NULL;

    if (len == 0) {
        return -1;
    }
    if (sodium_base642bin(out, cap, s, len, NULL, n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return -1;
    }
    return end == s + len ? 0 : -1;
}

/* Parse "$6$..." or "$7$..."; 0 on success (m filled), -1 if malformed. */
static int mosq_parse(const char *h, struct mosq_hash *m)
{
    const char *p, *salt, *dollar;
    size_t n;

    memset(m, 0, sizeof *m);
    /* Every accepted hash fits the SECMQ_PW_HASH_MAX buffers of callers. */
    if (strlen(h) >= SECMQ_PW_HASH_MAX) {
        return -1;
    }
    if (strncmp(h, PBKDF2_PREFIX, 3) == 0) {
        unsigned long it = 0;
        m->pbkdf2 = 1;
        p = h + 3;
        /* Decimal, no sign, no leading zero, at most 7 digits. */
        if (*p < '1' || *p > '9') {
            return -1;
        }
        for (n = 0; *p >= '0' && *p <= '9'; p++, n++) {
            if (n >= 7) {
                return -1;
            }
            it = it * 10u + (unsigned long)(*p - '0');
        }
        if (*p != '$' || it < 1 || it > PBKDF2_ITER_MAX) {
            return -1;
        }
        m->iterations = it;
        salt = p + 1;
    } else if (strncmp(h, SHA512_PREFIX, 3) == 0) {
        salt = h + 3;
    } else {
        return -1;
    }
    dollar = strchr(salt, '$');
    if (dollar == NULL ||
        b64_field(salt, (size_t)(dollar - salt), m->salt, sizeof m->salt,
                  &m->salt_len) != 0 ||
        m->salt_len == 0) {
        return -1;
    }
    if (b64_field(dollar + 1, strlen(dollar + 1), m->hash, sizeof m->hash,
                  &n) != 0 ||
        n != MOSQ_HASH_BYTES) {
        return -1;
    }
    return 0;
}

/* Parse a decimal uint32 at *p (advanced past it); -1 if none/overflow. */
static int parse_u32(const char **p, unsigned long *v)
{
    unsigned long x = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        x = x * 10u + (unsigned long)(*s - '0');
        if (x > 0xfffffffful) {
            return -1;
        }
    }
    *p = s;
    *v = x;
    return 0;
}

/* Is s[0..len) non-empty unpadded standard base64 of at least min bytes? */
static int b64_nopad_ok(const char *s, size_t len, size_t min)
{
    unsigned char buf[128];
    size_t n = 0;
    const char *end = NULL;

    if (len == 0 || len > 170) {
        return 0;
    }
    if (sodium_base642bin(buf, sizeof buf, s, len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
        end != s + len) {
        return 0;
    }
    return n >= min;
}

/*
 * 1 if h is "$argon2id$v=19$m=M,t=T,p=1$SALT$HASH" as libsodium writes it,
 * with a cost inside our limits; then *ops and *mem_kib hold T and M.
 */
static int argon_parse(const char *h, unsigned long *ops,
                       unsigned long *mem_kib)
{
    const char *p = h, *dollar;
    unsigned long v, m, t, par;

    if (strlen(h) >= SECMQ_PW_HASH_MAX ||
        strncmp(p, ARGON_PREFIX, sizeof ARGON_PREFIX - 1) != 0) {
        return 0;
    }
    p += sizeof ARGON_PREFIX - 1;
    if (strncmp(p, "v=", 2) != 0) {
        return 0;
    }
    p += 2;
    if (parse_u32(&p, &v) != 0 || v != 19 || strncmp(p, "$m=", 3) != 0) {
        return 0;
    }
    p += 3;
    if (parse_u32(&p, &m) != 0 || strncmp(p, ",t=", 3) != 0) {
        return 0;
    }
    p += 3;
    if (parse_u32(&p, &t) != 0 || strncmp(p, ",p=", 3) != 0) {
        return 0;
    }
    p += 3;
    if (parse_u32(&p, &par) != 0 || par != 1 || *p != '$') {
        return 0;
    }
    p++;
    if (t < SECMQ_PW_MIN_OPS || t > ARGON_MAX_OPS ||
        m < SECMQ_PW_MIN_MEM / 1024u || m > ARGON_MAX_MEM_KIB) {
        return 0;
    }
    dollar = strchr(p, '$');
    if (dollar == NULL || !b64_nopad_ok(p, (size_t)(dollar - p), 8) ||
        !b64_nopad_ok(dollar + 1, strlen(dollar + 1), 16)) {
        return 0;
    }
    *ops = t;
    *mem_kib = m;
    return 1;
}

int secmq__pw_cost_ok(unsigned long long ops, size_t mem)
{
    return ops >= SECMQ_PW_MIN_OPS && ops <= ARGON_MAX_OPS &&
           mem >= SECMQ_PW_MIN_MEM && mem / 1024u <= ARGON_MAX_MEM_KIB;
}

int secmq__pw_hash(char out[SECMQ_PW_HASH_MAX], const char *pw, size_t pwlen,
                   unsigned long long ops, size_t mem)
{
    out[0] = 0;
    if (pw == NULL || pwlen > SECMQ_PW_MAX || !secmq__pw_cost_ok(ops, mem)) {
        return -1;
    }
    if (crypto_pwhash_str_alg(out, pw, pwlen, ops, mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

/* PBKDF2-HMAC-SHA512 with one 64-byte output block (dkLen == hLen), as
 * RFC 8018 section 5.2 with i = 1. Every intermediate is wiped. */
static void pbkdf2_sha512(unsigned char out[MOSQ_HASH_BYTES], const char *pw,
                          size_t pwlen, const unsigned char *salt,
                          size_t salt_len, unsigned long iterations)
{
    static const unsigned char block1[4] = {0, 0, 0, 1};
    crypto_auth_hmacsha512_state keyed, st;
    unsigned char u[crypto_auth_hmacsha512_BYTES];
    unsigned long i;
    size_t j;

    /* The password-keyed state is computed once and copied per round. */
    crypto_auth_hmacsha512_init(&keyed, (const unsigned char *)pw, pwlen);
    st = keyed;
    crypto_auth_hmacsha512_update(&st, salt, salt_len);
    crypto_auth_hmacsha512_update(&st, block1, sizeof block1);
    crypto_auth_hmacsha512_final(&st, u);
    memcpy(out, u, MOSQ_HASH_BYTES);
    for (i = 1; i < iterations; i++) {
        st = keyed;
        crypto_auth_hmacsha512_update(&st, u, sizeof u);
        crypto_auth_hmacsha512_final(&st, u);
        for (j = 0; j < MOSQ_HASH_BYTES; j++) {
            out[j] ^= u[j];
        }
    }
    sodium_memzero(&keyed, sizeof keyed);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(u, sizeof u);
}

static int mosq_verify(const char *hash, const char *pw, size_t pwlen)
{
    struct mosq_hash m;
    unsigned char got[MOSQ_HASH_BYTES];
    int ok;

    if (mosq_parse(hash, &m) != 0) {
        return 0;
    }
    if (m.pbkdf2) {
        pbkdf2_sha512(got, pw, pwlen, m.salt, m.salt_len, m.iterations);
    } else {
        crypto_hash_sha512_state st;
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, (const unsigned char *)pw, pwlen);
        crypto_hash_sha512_update(&st, m.salt, m.salt_len);
        crypto_hash_sha512_final(&st, got);
        sodium_memzero(&st, sizeof st);
    }
    /* SECURITY: constant-time comparison of the derived value. */
    ok = sodium_memcmp(got, m.hash, sizeof got) == 0;
    sodium_memzero(got, sizeof got);
    sodium_memzero(&m, sizeof m);
    return ok;
}

int secmq__pw_verify(const char *hash, const char *pw, size_t pwlen)
{
    unsigned long ops, mem_kib;

    if (hash == NULL || (pw == NULL && pwlen != 0) || pwlen > SECMQ_PW_MAX) {
        return 0;
    }
    if (pw == NULL) {
        pw = "";
    }
    if (strncmp(hash, ARGON_PREFIX, sizeof ARGON_PREFIX - 1) == 0) {
        /* SECURITY: the cost is checked before libsodium allocates it. */
        if (!argon_parse(hash, &ops, &mem_kib)) {
            return 0;
        }
        return crypto_pwhash_str_verify(hash, pw, pwlen) == 0;
    }
    return mosq_verify(hash, pw, pwlen);
}

int secmq__pw_needs_rehash(const char *hash, unsigned long long ops, size_t mem)
{
    unsigned long t, m;

    if (hash == NULL || !argon_parse(hash, &t, &m)) {
        return 1;
    }
    return crypto_pwhash_str_needs_rehash(hash, ops, mem) != 0;
}

int secmq__pw_hash_known(const char *hash)
{
    struct mosq_hash m;
    unsigned long t, k;
    int ok;

    if (hash == NULL || strlen(hash) >= SECMQ_PW_HASH_MAX) {
        return 0;
    }
    if (strncmp(hash, ARGON_PREFIX, sizeof ARGON_PREFIX - 1) == 0) {
        return argon_parse(hash, &t, &k);
    }
    ok = mosq_parse(hash, &m) == 0;
    sodium_memzero(&m, sizeof m);
    return ok;
}
