/*
 * receipt.c -- the receipt codec (PROTOCOL.md §9): the plaintext of ranges,
 * and sealing and opening a receipt as a signed envelope under the
 * channel's receipt key. Pure: no I/O, no allocation, no state. Which key
 * is current and what a range frees belong to the client and the outbox.
 */
#include <string.h>

#include <sodium.h>

#include "bytes_int.h"
#include "secmq_int.h"

#define RECEIPT_MAGIC "SECMQRC1"
#define MAGIC_BYTES 8u
#define KDF_CONTEXT "secmqenv"
#define KDF_SUBKEY_RECEIPT 2u

/* Offsets in the plaintext and in one range (§9.2). */
enum {
    OFF_CHANNEL = 8,
    OFF_N = 16,
    OFF_RANGES = 18,
    R_KEY = 0,
    R_SENDER = 8,
    R_FIRST = 16,
    R_COUNT = 24
};

void secmq_receipt_key(unsigned char rk[SECMQ_KEY_BYTES],
                       const unsigned char *channel_key)
{
    crypto_kdf_derive_from_key(rk, SECMQ_KEY_BYTES, KDF_SUBKEY_RECEIPT,
                               KDF_CONTEXT, channel_key);
}

size_t secmq_receipt_size(size_t n_ranges)
{
    if (n_ranges < 1 || n_ranges > SECMQ_RECEIPT_MAX_RANGES) {
        return 0;
    }
    return SECMQ_RECEIPT_FIXED_BYTES + SECMQ_RECEIPT_RANGE_BYTES * n_ranges +
           SECMQ_ENV_OVERHEAD_SIGNED;
}

/* A range of §9.2: at least one number, none past 2^64 - 1. */
static int range_ok(uint64_t first, uint32_t count)
{
    return count >= 1 && first <= UINT64_MAX - (count - 1u);
}

int secmq_receipt_encode(unsigned char *out, size_t cap, size_t *out_len,
                         const unsigned char *channel_id,
                         const secmq_receipt_range *ranges, size_t n)
{
    size_t len;
    unsigned char *p;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || channel_id == NULL ||
        ranges == NULL || n < 1 || n > SECMQ_RECEIPT_MAX_RANGES) {
        return SECMQ_E_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!range_ok(ranges[i].first, ranges[i].count)) {
            return SECMQ_E_INVAL;
        }
    }
    len = SECMQ_RECEIPT_FIXED_BYTES + SECMQ_RECEIPT_RANGE_BYTES * n;
    if (cap < len) {
        return SECMQ_E_OVERSIZE;
    }
    memcpy(out, RECEIPT_MAGIC, MAGIC_BYTES);
    memcpy(out + OFF_CHANNEL, channel_id, SECMQ_ID_BYTES);
    secmq__put_u16(out + OFF_N, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        p = out + OFF_RANGES + SECMQ_RECEIPT_RANGE_BYTES * i;
        memcpy(p + R_KEY, ranges[i].key_id, SECMQ_ID_BYTES);
        memcpy(p + R_SENDER, ranges[i].sender_id, SECMQ_ID_BYTES);
        secmq__put_u64(p + R_FIRST, ranges[i].first);
        secmq__put_u32(p + R_COUNT, ranges[i].count);
    }
    *out_len = len;
    return SECMQ_OK;
}

int secmq_receipt_decode(secmq_receipt_range *ranges, size_t cap, size_t *n,
                         const unsigned char *plain, size_t len,
                         const unsigned char *channel_id)
{
    const unsigned char *p;
    size_t k;

    if (n != NULL) {
        *n = 0;
    }
    if (ranges == NULL || n == NULL || plain == NULL || channel_id == NULL ||
        len < SECMQ_RECEIPT_FIXED_BYTES ||
        memcmp(plain, RECEIPT_MAGIC, MAGIC_BYTES) != 0) { /* not secret */
        return SECMQ_OPEN_MALFORMED;
    }
    k = secmq__get_u16(plain + OFF_N);
    /* SECURITY: exact length, no trailing bytes. */
    if (k < 1 || k > SECMQ_RECEIPT_MAX_RANGES || k > cap ||
        len != SECMQ_RECEIPT_FIXED_BYTES + SECMQ_RECEIPT_RANGE_BYTES * k) {
        return SECMQ_OPEN_MALFORMED;
    }
    /* Channel ids are public. */
    p = plain + OFF_CHANNEL;
    if (memcmp(p, channel_id, SECMQ_ID_BYTES) != 0) { /* not secret */
        return SECMQ_OPEN_MALFORMED;
    }
    for (size_t i = 0; i < k; i++) {
        p = plain + OFF_RANGES + SECMQ_RECEIPT_RANGE_BYTES * i;
        memcpy(ranges[i].key_id, p + R_KEY, SECMQ_ID_BYTES);
        memcpy(ranges[i].sender_id, p + R_SENDER, SECMQ_ID_BYTES);
        ranges[i].first = secmq__get_u64(p + R_FIRST);
        ranges[i].count = secmq__get_u32(p + R_COUNT);
        if (!range_ok(ranges[i].first, ranges[i].count)) {
            memset(ranges, 0, sizeof *ranges * (i + 1));
            return SECMQ_OPEN_MALFORMED;
        }
    }
    *n = k;
    return SECMQ_OPEN_OK;
}

int secmq_receipt_seal(unsigned char *out, size_t out_cap, size_t *out_len,
                       const secmq_seal_params *p,
                       const unsigned char *channel_id, const char *topic,
                       const secmq_receipt_range *ranges, size_t n)
{
    unsigned char plain[SECMQ_RECEIPT_PLAIN_MAX];
    unsigned char rk[SECMQ_KEY_BYTES];
    secmq_seal_params rp;
    size_t plen = 0;
    int rc;

    if (out_len != NULL) {
        *out_len = 0;
    }
    /* SECURITY: a mac-only receipt would not say who received (§9.3). */
    if (p == NULL || p->mode != SECMQ_SEAL_SIGNED || p->channel_key == NULL) {
        return SECMQ_E_INVAL;
    }
    rc =
        secmq_receipt_encode(plain, sizeof plain, &plen, channel_id, ranges, n);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq_receipt_key(rk, p->channel_key);
    rp = *p;
    rp.channel_key = rk;
    rc = secmq_envelope_seal(out, out_cap, out_len, &rp, topic, plain, plen);
    sodium_memzero(rk, sizeof rk);
    sodium_memzero(plain, plen);
    return rc;
}

/* The index of the receipter whose identity id is id, or n_rcpt. */
static size_t receipter_find(const unsigned char *receipters, size_t n_rcpt,
                             const unsigned char *id)
{
    unsigned char rid[SECMQ_ID_BYTES];

    for (size_t i = 0; i < n_rcpt; i++) {
        secmq_identity_id(rid, receipters + SECMQ_SIGN_PK_BYTES * i);
        if (memcmp(rid, id, SECMQ_ID_BYTES) == 0) { /* not secret */
            return i;
        }
    }
    return n_rcpt;
}

int secmq_receipt_open(secmq_receipt_range *ranges, size_t cap, size_t *n,
                       size_t *who, const secmq_envelope_fields *f,
                       const char *topic, const unsigned char *channel_key,
                       const unsigned char *channel_id,
                       const unsigned char *receipters, size_t n_receipters)
{
    unsigned char plain[SECMQ_RECEIPT_PLAIN_MAX];
    unsigned char rk[SECMQ_KEY_BYTES];
    const unsigned char *pk = NULL;
    size_t plen = 0, idx;
    int rc;

    if (n != NULL) {
        *n = 0;
    }
    if (ranges == NULL || n == NULL || who == NULL || f == NULL ||
        channel_key == NULL || channel_id == NULL ||
        (receipters == NULL && n_receipters > 0)) {
        return SECMQ_OPEN_MALFORMED;
    }
    /* §9.3 step 1: signed only; longer than any receipt is malformed. */
    if (f->mode != SECMQ_SEAL_SIGNED ||
        f->ciphertext_len > SECMQ_RECEIPT_PLAIN_MAX + SECMQ_ENV_TAG_BYTES) {
        return SECMQ_OPEN_MALFORMED;
    }
    idx = receipter_find(receipters, n_receipters, f->sender_id);
    if (idx < n_receipters) {
        pk = receipters + SECMQ_SIGN_PK_BYTES * idx;
    }
    /* Steps 3 and 4: the tag first, then who signed. Without a receipter's
     * key the envelope code answers unknown_sender after the tag passed;
     * for a receipt that is a member that may not receipt. */
    secmq_receipt_key(rk, channel_key);
    rc = secmq_envelope_open(plain, sizeof plain, &plen, f, topic, rk, pk);
    sodium_memzero(rk, sizeof rk);
    if (rc == SECMQ_OPEN_UNKNOWN_SENDER) {
        rc = SECMQ_OPEN_UNAUTHORISED;
    }
    if (rc == SECMQ_OPEN_OK) {
        rc = secmq_receipt_decode(ranges, cap, n, plain, plen, channel_id);
    }
    sodium_memzero(plain, plen);
    if (rc == SECMQ_OPEN_OK) {
        *who = idx;
    }
    return rc;
}
