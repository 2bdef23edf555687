/*
 * test_receipt.c -- unit tests for receipt.c (PROTOCOL.md §9.2, §9.3)
 * through the public API: a receipt seals and opens back to its ranges and
 * receipter; envelopes built here by hand from §4 and §9.2 (not with the
 * library's sealer) open the same way; and every refusal of §9.3 happens
 * with its reason: mac-only, another topic, another channel's key, a
 * message of the channel, a member that is not a receipter, a receipter's
 * id claimed under another member's key, every plaintext rule, every
 * changed or missing byte. Known answers: tests/vectors/receipt-v1.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "check.h"

#define TOPIC "secmq/receipts/0123456789abcdef"

static unsigned char a_pk[32], a_sk[64], b_pk[32], b_sk[64];
static unsigned char z_pk[32], z_sk[64]; /* a member, not a receipter */
static unsigned char rcpts[64];          /* a, b */
static unsigned char ckey[32], other_key[32], key_id[8], cid[8];
static secmq_receipt_range rr[3];

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (unsigned char)v;
        v >>= 8;
    }
}

/* The plaintext of §9.2 by hand: n ranges of rr, a given n field. */
static size_t plain_by_hand(unsigned char *p, const unsigned char *channel,
                            size_t n, size_t n_field)
{
    memcpy(p, "SECMQRC1", 8);
    memcpy(p + 8, channel, 8);
    put_be(p + 16, n_field, 2);
    for (size_t i = 0; i < n; i++) {
        unsigned char *q = p + 18 + 28 * i;
        memcpy(q, rr[i].key_id, 8);
        memcpy(q + 8, rr[i].sender_id, 8);
        put_be(q + 16, rr[i].first, 8);
        put_be(q + 24, rr[i].count, 4);
    }
    return 18 + 28 * n;
}

/*
 * A signed envelope by hand from §4 and §9.2: the AEAD under
 * kdf(1, kdf(2, key)), claiming sender_id, signed with sk. mode 2 leaves
 * the signature off. Returns the length.
 */
static size_t seal_by_hand(unsigned char *out, unsigned mode,
                           const unsigned char *key, const unsigned char *id,
                           const unsigned char *sk, const char *topic,
                           const unsigned char *plain, size_t plen)
{
    unsigned char rk[32], mk[32], ad[4200], sig_in[4300], h64[64];
    size_t tl = strlen(topic), adl, sl;
    unsigned long long clen = 0;

    crypto_kdf_derive_from_key(rk, 32, 2, "secmqenv", key);
    crypto_kdf_derive_from_key(mk, 32, 1, "secmqenv", rk);
    out[0] = 1;
    out[1] = (unsigned char)mode;
    memcpy(out + 2, key_id, 8);
    memcpy(out + 10, id, 8);
    put_be(out + 18, 77, 8);
    put_be(out + 26, 1700000000123u, 8);
    randombytes_buf(out + 34, 24);
    memcpy(ad, "secmq-env-v1", 12);
    memcpy(ad + 12, out, 58);
    put_be(ad + 70, tl, 2);
    memcpy(ad + 72, topic, tl);
    adl = 72 + tl;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 58, &clen, plain, plen, ad,
                                               adl, NULL, out + 34, mk);
    if (mode == 2) {
        return 58 + (size_t)clen;
    }
    crypto_generichash(h64, 64, out + 58, (size_t)clen, NULL, 0);
    memcpy(sig_in, "secmq-sig-v1", 12);
    memcpy(sig_in + 12, out, 58);
    put_be(sig_in + 70, tl, 2);
    memcpy(sig_in + 72, topic, tl);
    memcpy(sig_in + 72 + tl, h64, 64);
    sl = 72 + tl + 64;
    crypto_sign_detached(out + 58 + clen, NULL, sig_in, sl, sk);
    return 58 + (size_t)clen + 64;
}

static secmq_seal_params params(const unsigned char *pk,
                                const unsigned char *sk, unsigned char *id)
{
    secmq_seal_params p;

    memset(&p, 0, sizeof p);
    secmq_identity_id(id, pk);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = ckey;
    p.key_id = key_id;
    p.sender_id = id;
    p.sender_sk = sk;
    p.seq = 42;
    p.time_ms = 1700000000000u;
    return p;
}

/* Open env on topic with the test's channel; the reason. */
static int open_it(const unsigned char *env, size_t len, const char *topic,
                   const unsigned char *key, secmq_receipt_range *got,
                   size_t *n, size_t *who)
{
    secmq_envelope_fields f;
    int rc = secmq_envelope_parse(env, len, &f);

    if (rc != SECMQ_OPEN_OK) {
        return rc;
    }
    return secmq_receipt_open(got, SECMQ_RECEIPT_MAX_RANGES, n, who, &f, topic,
                              key, cid, rcpts, 2);
}

static void test_round_trip(void)
{
    static secmq_receipt_range got[SECMQ_RECEIPT_MAX_RANGES];
    unsigned char env[SECMQ_RECEIPT_MAX_BYTES], id[8], plain[200];
    secmq_seal_params p = params(b_pk, b_sk, id);
    size_t len = 0, n = 0, who = 9, plen;

    CHECK_INT_EQ(secmq_receipt_size(3), 18 + 3 * 28 + 138);
    CHECK_INT_EQ(secmq_receipt_size(0), 0);
    CHECK_INT_EQ(secmq_receipt_size(513), 0);
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 3),
        SECMQ_OK);
    CHECK_INT_EQ(len, secmq_receipt_size(3));
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who), SECMQ_OPEN_OK);
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(who, 1);
    for (size_t i = 0; i < 3; i++) {
        CHECK_MEM_EQ(got[i].key_id, 8, rr[i].key_id, 8);
        CHECK_MEM_EQ(got[i].sender_id, 8, rr[i].sender_id, 8);
        CHECK(got[i].first == rr[i].first && got[i].count == rr[i].count);
    }
    /* The sealed plaintext is exactly §9.2's. */
    plen = plain_by_hand(plain, cid, 3, 3);
    {
        unsigned char enc[200];
        size_t elen = 0;
        CHECK_INT_EQ(secmq_receipt_encode(enc, sizeof enc, &elen, cid, rr, 3),
                     SECMQ_OK);
        CHECK_MEM_EQ(enc, elen, plain, plen);
    }
    /* A receipt built by hand from the spec opens here. */
    len = seal_by_hand(env, 1, ckey, id, b_sk, TOPIC, plain, plen);
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who), SECMQ_OPEN_OK);
    CHECK_INT_EQ(who, 1);
    CHECK_INT_EQ(got[2].first, rr[2].first);
    /* Opening is stateless: the same receipt again says the same (§9.3,
     * replayed: the counting is a set, the caller's). */
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who), SECMQ_OPEN_OK);
    CHECK_INT_EQ(n, 3);
    /* 512 ranges: the largest receipt. */
    for (size_t i = 0; i < SECMQ_RECEIPT_MAX_RANGES; i++) {
        got[i] = rr[0];
        got[i].first = 1000 * i;
    }
    CHECK_INT_EQ(secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, got,
                                    SECMQ_RECEIPT_MAX_RANGES),
                 SECMQ_OK);
    CHECK_INT_EQ(len, SECMQ_RECEIPT_MAX_BYTES);
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who), SECMQ_OPEN_OK);
    CHECK_INT_EQ(n, SECMQ_RECEIPT_MAX_RANGES);
    CHECK_INT_EQ(got[511].first, 511000);
}

static void test_seal_refusals(void)
{
    unsigned char env[SECMQ_RECEIPT_MAX_BYTES], id[8];
    secmq_seal_params p = params(a_pk, a_sk, id);
    secmq_receipt_range bad = rr[0];
    size_t len = 7;

    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 0),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(len, 0);
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 513),
        SECMQ_E_INVAL);
    bad.count = 0;
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, &bad, 1),
        SECMQ_E_INVAL);
    bad.count = 2;
    bad.first = UINT64_MAX;
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, &bad, 1),
        SECMQ_E_INVAL);
    bad.count = 1; /* UINT64_MAX itself is a sequence number */
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, &bad, 1),
        SECMQ_OK);
    CHECK_INT_EQ(secmq_receipt_seal(env, sizeof env, &len, &p, cid,
                                    "secmq/receipts/+", rr, 1),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_receipt_seal(env, secmq_receipt_size(1) - 1, &len, &p,
                                    cid, TOPIC, rr, 1),
                 SECMQ_E_OVERSIZE);
    p.mode = SECMQ_SEAL_MAC;
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 1),
        SECMQ_E_INVAL);
    p.mode = SECMQ_SEAL_SIGNED;
    p.sender_sk = z_sk; /* a's id, z's key */
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 1),
        SECMQ_E_INVAL);
}

static void test_open_refusals(void)
{
    static secmq_receipt_range got[SECMQ_RECEIPT_MAX_RANGES];
    unsigned char env[SECMQ_RECEIPT_MAX_BYTES + 1], plain[300], id[8];
    unsigned char msg[400], zid[8], pt[300];
    secmq_seal_params p = params(a_pk, a_sk, id);
    secmq_envelope_fields f;
    size_t len = 0, n = 0, who = 0, plen, mlen = 0;

    secmq_identity_id(zid, z_pk);
    plen = plain_by_hand(plain, cid, 2, 2);
    /* Mac-only: who received is not said. */
    len = seal_by_hand(env, 2, ckey, id, NULL, TOPIC, plain, plen);
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who),
                 SECMQ_OPEN_MALFORMED);
    /* Moved to another receipt topic. */
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 2),
        SECMQ_OK);
    CHECK_INT_EQ(open_it(env, len, "secmq/receipts/fedcba9876543210", ckey, got,
                         &n, &who),
                 SECMQ_OPEN_BAD_TAG);
    CHECK_INT_EQ(n, 0);
    /* Another channel's key (its key id copied). */
    CHECK_INT_EQ(open_it(env, len, TOPIC, other_key, got, &n, &who),
                 SECMQ_OPEN_BAD_TAG);
    /* A receipt never opens as a message of the channel ... */
    CHECK_INT_EQ(secmq_envelope_parse(env, len, &f), SECMQ_OPEN_OK);
    CHECK_INT_EQ(
        secmq_envelope_open(pt, sizeof pt, &mlen, &f, TOPIC, ckey, a_pk),
        SECMQ_OPEN_BAD_TAG);
    /* ... nor a message as a receipt, even with a receipt's plaintext. */
    CHECK_INT_EQ(
        secmq_envelope_seal(msg, sizeof msg, &mlen, &p, TOPIC, plain, plen),
        SECMQ_OK);
    CHECK_INT_EQ(open_it(msg, mlen, TOPIC, ckey, got, &n, &who),
                 SECMQ_OPEN_BAD_TAG);
    /* A member that is not a receipter, in its own name. */
    len = seal_by_hand(env, 1, ckey, zid, z_sk, TOPIC, plain, plen);
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who),
                 SECMQ_OPEN_UNAUTHORISED);
    /* The same member claiming receipter a's id: its key does not sign
     * for a. */
    len = seal_by_hand(env, 1, ckey, id, z_sk, TOPIC, plain, plen);
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who),
                 SECMQ_OPEN_BAD_SIGNATURE);
    /* Receipter b signing as a. */
    len = seal_by_hand(env, 1, ckey, id, b_sk, TOPIC, plain, plen);
    CHECK_INT_EQ(open_it(env, len, TOPIC, ckey, got, &n, &who),
                 SECMQ_OPEN_BAD_SIGNATURE);
    /* Every changed byte and every truncation of a good receipt. */
    CHECK_INT_EQ(
        secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, rr, 2),
        SECMQ_OK);
    for (size_t i = 0; i < len; i++) {
        env[i] ^= 0x01;
        CHECKF(open_it(env, len, TOPIC, ckey, got, &n, &who) != SECMQ_OPEN_OK,
               "byte %zu changed, opened", i);
        env[i] ^= 0x01;
    }
    for (size_t k = 0; k < len; k++) {
        CHECKF(open_it(env, k, TOPIC, ckey, got, &n, &who) != SECMQ_OPEN_OK,
               "truncated to %zu, opened", k);
    }
    env[len] = 0;
    CHECK(open_it(env, len + 1, TOPIC, ckey, got, &n, &who) != SECMQ_OPEN_OK);
}

/* Validly sealed and signed by receipter a, plaintext against §9.3 step 5. */
static void test_plaintext_rules(void)
{
    static secmq_receipt_range got[SECMQ_RECEIPT_MAX_RANGES];
    unsigned char env[1000], plain[300], id[8], other_cid[8];
    size_t len, plen, n = 0, who = 0;
    struct {
        const char *what;
    } cases[] = {{"another channel id"}, {"n = 0"},         {"n = 3 for 2"},
                 {"a trailing byte"},    {"another magic"}, {"count 0"},
                 {"past 2^64 - 1"}};

    secmq_identity_id(id, a_pk);
    memcpy(other_cid, cid, 8);
    other_cid[7] ^= 1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        secmq_receipt_range keep1 = rr[1];
        plen = plain_by_hand(plain, cid, 2, 2);
        switch (c) {
        case 0:
            plen = plain_by_hand(plain, other_cid, 2, 2);
            break;
        case 1:
            plen = plain_by_hand(plain, cid, 0, 0);
            break;
        case 2:
            plen = plain_by_hand(plain, cid, 2, 3);
            break;
        case 3:
            plain[plen++] = 0;
            break;
        case 4:
            plain[7] = '2';
            break;
        case 5:
            rr[1].count = 0;
            plen = plain_by_hand(plain, cid, 2, 2);
            break;
        default:
            rr[1].first = UINT64_MAX - 1;
            rr[1].count = 3;
            plen = plain_by_hand(plain, cid, 2, 2);
            break;
        }
        rr[1] = keep1;
        len = seal_by_hand(env, 1, ckey, id, a_sk, TOPIC, plain, plen);
        CHECKF(open_it(env, len, TOPIC, ckey, got, &n, &who) ==
                   SECMQ_OPEN_MALFORMED,
               "%s: not malformed", cases[c].what);
        CHECKF(secmq_receipt_decode(got, SECMQ_RECEIPT_MAX_RANGES, &n, plain,
                                    plen, cid) == SECMQ_OPEN_MALFORMED &&
                   n == 0,
               "%s: decoded", cases[c].what);
    }
    /* The largest range that does not pass 2^64 - 1, and cap too small. */
    rr[1].first = UINT64_MAX - 2;
    rr[1].count = 3;
    plen = plain_by_hand(plain, cid, 2, 2);
    CHECK_INT_EQ(secmq_receipt_decode(got, 2, &n, plain, plen, cid),
                 SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq_receipt_decode(got, 1, &n, plain, plen, cid),
                 SECMQ_OPEN_MALFORMED);
    rr[1].first = 5000;
    rr[1].count = 64;
}

int main(void)
{
    unsigned char aid[8], bid[8];

    if (secmq_init() != SECMQ_OK) {
        return 1;
    }
    crypto_sign_keypair(a_pk, a_sk);
    crypto_sign_keypair(b_pk, b_sk);
    crypto_sign_keypair(z_pk, z_sk);
    memcpy(rcpts, a_pk, 32);
    memcpy(rcpts + 32, b_pk, 32);
    randombytes_buf(ckey, 32);
    randombytes_buf(other_key, 32);
    randombytes_buf(key_id, 8);
    randombytes_buf(cid, 8);
    secmq_identity_id(aid, a_pk);
    secmq_identity_id(bid, b_pk);
    for (size_t i = 0; i < 3; i++) {
        memcpy(rr[i].key_id, key_id, 8);
        memcpy(rr[i].sender_id, i == 2 ? bid : aid, 8);
    }
    rr[0].first = 1;
    rr[0].count = 100;
    rr[1].first = 5000;
    rr[1].count = 64;
    rr[2].first = UINT64_MAX;
    rr[2].count = 1;
    RUN(test_round_trip);
    RUN(test_seal_refusals);
    RUN(test_open_refusals);
    RUN(test_plaintext_rules);
    return check_exit();
}
