/*
 * identity_succ.c -- successor statements (PROTOCOL.md §2.3): an identity
 * names the key pair that replaces its own, signed by the old key (its
 * authority) and by the new one (proof its holder has the secret). Parsed
 * strictly (seven lines, canonical base64, nothing else). Not for deciding
 * whom a keyring trusts (keysucc.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "identity_int.h"

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

static const char SUCC_MAGIC[] = "secmq-successor 1";
static const char SUCC_LABEL[] = "secmq-successor-v1";

size_t secmq__succ_message(unsigned char *buf, const secmq__succ *s)
{
    size_t nlen = strlen(s->name), off = 0;

    memcpy(buf, SUCC_LABEL, sizeof SUCC_LABEL - 1);
    off += sizeof SUCC_LABEL - 1;
    memcpy(buf + off, s->old_pk, SECMQ_SIGN_PK_BYTES);
    off += SECMQ_SIGN_PK_BYTES;
    memcpy(buf + off, s->new_pk, SECMQ_SIGN_PK_BYTES);
    off += SECMQ_SIGN_PK_BYTES;
    for (int i = 7; i >= 0; i--) {
        buf[off++] = (unsigned char)(s->created_ms >> (8 * i));
    }
    buf[off++] = (unsigned char)nlen;
    memcpy(buf + off, s->name, nlen);
    return off + nlen;
}

void secmq__succ_sign(secmq__succ *s, const unsigned char *old_sk,
                      const unsigned char *new_sk)
{
    unsigned char m[SECMQ__SUCC_MSG_MAX];
    size_t mlen = secmq__succ_message(m, s);

    crypto_sign_detached(s->sig, NULL, m, mlen, old_sk);
    crypto_sign_detached(s->proof, NULL, m, mlen, new_sk);
}

/* A decimal u64 without leading zeros: 0 or -1. */
static int parse_u64(const char *v, size_t len, uint64_t *out)
{
    uint64_t x = 0;

    if (len == 0 || len > 20 || (len > 1 && v[0] == '0')) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        d = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10u) {
            return -1;
        }
        x = x * 10u + d;
    }
    *out = x;
    return 0;
}

static int refuse(const char **why, const char *phrase, int st)
{
    if (why != NULL) {
        *why = phrase;
    }
    return st;
}

int secmq__succ_parse(const char *text, size_t len, secmq__succ *s,
                      const char **why)
{
    const char *p = text, *end = text + len, *v;
    unsigned char m[SECMQ__SUCC_MSG_MAX];
    size_t vlen, mlen;

    memset(s, 0, sizeof *s);
    if (secmq__take_line(&p, end, SUCC_MAGIC, &v, &vlen) != 0 || vlen != 0) {
        return refuse(why,
                      "not a successor statement (first line is not "
                      "'secmq-successor 1')",
                      SECMQ__SUCC_MALFORMED);
    }
    v = secmq__take_name(&p, end, s->name);
    if (v != NULL) {
        return refuse(why, v, SECMQ__SUCC_MALFORMED);
    }
    if (secmq__take_line(&p, end, "old-ed25519: ", &v, &vlen) != 0 ||
        secmq__b64_exact(s->old_pk, SECMQ_SIGN_PK_BYTES, v, vlen) != 0) {
        return refuse(why,
                      "third line is not 'old-ed25519: <base64 of 32 "
                      "bytes>'",
                      SECMQ__SUCC_MALFORMED);
    }
    if (secmq__take_line(&p, end, "ed25519: ", &v, &vlen) != 0 ||
        secmq__b64_exact(s->new_pk, SECMQ_SIGN_PK_BYTES, v, vlen) != 0) {
        return refuse(why, "fourth line is not 'ed25519: <base64 of 32 bytes>'",
                      SECMQ__SUCC_MALFORMED);
    }
    if (secmq__take_line(&p, end, "created-ms: ", &v, &vlen) != 0 ||
        parse_u64(v, vlen, &s->created_ms) != 0) {
        return refuse(why, "fifth line is not 'created-ms: <decimal Unix ms>'",
                      SECMQ__SUCC_MALFORMED);
    }
    if (secmq__take_line(&p, end, "signature: ", &v, &vlen) != 0 ||
        secmq__b64_exact(s->sig, SECMQ__SIG_BYTES, v, vlen) != 0) {
        return refuse(why,
                      "sixth line is not 'signature: <base64 of 64 bytes>'",
                      SECMQ__SUCC_MALFORMED);
    }
    if (secmq__take_line(&p, end, "proof: ", &v, &vlen) != 0 ||
        secmq__b64_exact(s->proof, SECMQ__SIG_BYTES, v, vlen) != 0) {
        return refuse(why, "seventh line is not 'proof: <base64 of 64 bytes>'",
                      SECMQ__SUCC_MALFORMED);
    }
    if (p != end) {
        return refuse(why, "unexpected bytes after the seventh line",
                      SECMQ__SUCC_MALFORMED);
    }
    if (memcmp(s->old_pk, s->new_pk, 32) == 0) { /* not secret: keys */
        return refuse(why, "the new key is the old key", SECMQ__SUCC_SAME_KEY);
    }
    mlen = secmq__succ_message(m, s);
    if (crypto_sign_verify_detached(s->sig, m, mlen, s->old_pk) != 0) {
        return refuse(why,
                      "the old key's signature does not verify (forged or "
                      "tampered statement)",
                      SECMQ__SUCC_BAD_SIGNATURE);
    }
    if (crypto_sign_verify_detached(s->proof, m, mlen, s->new_pk) != 0) {
        return refuse(why,
                      "the new key's proof does not verify (tampered "
                      "statement)",
                      SECMQ__SUCC_BAD_PROOF);
    }
    return SECMQ__SUCC_OK;
}

const char *secmq__succ_status_name(int st)
{
    switch (st) {
    case SECMQ__SUCC_OK:
        return "ok";
    case SECMQ__SUCC_SAME_KEY:
        return "same_key";
    case SECMQ__SUCC_BAD_SIGNATURE:
        return "bad_signature";
    case SECMQ__SUCC_BAD_PROOF:
        return "bad_proof";
    default:
        return "malformed";
    }
}

size_t secmq__succ_format(char *buf, size_t len, const secmq__succ *s)
{
    char opk[sodium_base64_ENCODED_LEN(32, B64_VARIANT)];
    char npk[sizeof opk];
    char sig[SECMQ__B64_64_BYTES], proof[SECMQ__B64_64_BYTES];
    int n;

    sodium_bin2base64(opk, sizeof opk, s->old_pk, 32, B64_VARIANT);
    sodium_bin2base64(npk, sizeof npk, s->new_pk, 32, B64_VARIANT);
    sodium_bin2base64(sig, sizeof sig, s->sig, 64, B64_VARIANT);
    sodium_bin2base64(proof, sizeof proof, s->proof, 64, B64_VARIANT);
    n = snprintf(buf, len,
                 "%s\nname: %s\nold-ed25519: %s\ned25519: %s\n"
                 "created-ms: %" PRIu64 "\nsignature: %s\nproof: %s\n",
                 SUCC_MAGIC, s->name, opk, npk, s->created_ms, sig, proof);
    if (n < 0 || (size_t)n >= len) {
        return 0;
    }
    return (size_t)n;
}
