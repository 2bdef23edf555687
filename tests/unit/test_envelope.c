/*
 * test_envelope.c -- unit tests for envelope.c through the public API:
 * round trips, every single-byte change, wrong topic/key/sender, sizes and
 * parameter checks, wiping, and the known-answer vectors of
 * tests/vectors/envelope-v1.json (path in argv[1]), read with a small JSON
 * reader below. Not for keys, grants or replay: see test_replay.c.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "check.h"
#include "tinyjson.h"

#define TOPIC "home/kitchen/light/status"

static const char *vectors_path;

/* A sender and a channel, deterministic per index. */
typedef struct party {
    unsigned char pk[SECMQ_SIGN_PK_BYTES], sk[SECMQ_SIGN_SK_BYTES];
    unsigned char id[SECMQ_ID_BYTES];
    unsigned char channel_key[SECMQ_KEY_BYTES], key_id[SECMQ_ID_BYTES];
} party;

static void party_init(party *p, unsigned char n)
{
    unsigned char seed[32];

    memset(seed, n, sizeof seed);
    crypto_sign_seed_keypair(p->pk, p->sk, seed);
    secmq_identity_id(p->id, p->pk);
    memset(p->channel_key, 0x40 + n, sizeof p->channel_key);
    memset(p->key_id, 0x80 + n, sizeof p->key_id);
}

static secmq_seal_params params(const party *p, secmq_seal_mode mode)
{
    secmq_seal_params sp;

    memset(&sp, 0, sizeof sp);
    sp.mode = mode;
    sp.channel_key = p->channel_key;
    sp.key_id = p->key_id;
    sp.sender_id = p->id;
    sp.sender_sk = p->sk;
    sp.seq = UINT64_C(0x0102030405060708);
    sp.time_ms = UINT64_C(1700000000000);
    sp.nonce = NULL;
    return sp;
}

static int all_zero(const unsigned char *b, size_t n)
{
    unsigned char acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= b[i];
    }
    return acc == 0;
}

/*
 * Parses and opens env as a receiver holding key and pk would; the
 * plaintext lands in pt (cap bytes). Returns the reason.
 */
static int open_env(const unsigned char *env, size_t env_len, const char *topic,
                    const unsigned char *key, const unsigned char *pk,
                    unsigned char *pt, size_t cap, size_t *pt_len)
{
    secmq_envelope_fields f;
    int r = secmq_envelope_parse(env, env_len, &f);

    if (r != SECMQ_OPEN_OK) {
        return r;
    }
    return secmq_envelope_open(pt, cap, pt_len, &f, topic, key, pk);
}

/* ---- round trips ----------------------------------------------------------
 */

static void round_trip(secmq_seal_mode mode, size_t len)
{
    party a;
    secmq_seal_params sp;
    secmq_envelope_fields f;
    unsigned char *pt = malloc(len + 1), *out, *back;
    size_t env_len = secmq_envelope_size(mode, len), out_len = 0, back_len = 0;

    party_init(&a, 1);
    sp = params(&a, mode);
    out = malloc(env_len);
    back = malloc(len + 1);
    CHECK(pt != NULL && out != NULL && back != NULL);
    randombytes_buf(pt, len + 1);
    CHECK_INT_EQ(secmq_envelope_seal(out, env_len, &out_len, &sp, TOPIC,
                                     len > 0 ? pt : NULL, len),
                 SECMQ_OK);
    CHECK_INT_EQ(out_len, env_len);
    CHECK_INT_EQ(env_len, len + (mode == SECMQ_SEAL_SIGNED ? 138 : 74));

    CHECK_INT_EQ(secmq_envelope_parse(out, out_len, &f), SECMQ_OPEN_OK);
    CHECK_INT_EQ(f.version, 1);
    CHECK_INT_EQ(f.mode, mode);
    CHECK_MEM_EQ(f.key_id, 8, a.key_id, 8);
    CHECK_MEM_EQ(f.sender_id, 8, a.id, 8);
    CHECK(f.seq == sp.seq);
    CHECK(f.time_ms == sp.time_ms);
    CHECK(f.nonce == out + 34);
    CHECK(f.ciphertext == out + 58);
    CHECK_INT_EQ(f.ciphertext_len, len + 16);
    if (mode == SECMQ_SEAL_SIGNED) {
        CHECK(f.signature == out + out_len - 64);
    } else {
        CHECK(f.signature == NULL);
    }
    CHECK_INT_EQ(secmq_envelope_open(back, len + 1, &back_len, &f, TOPIC,
                                     a.channel_key, a.pk),
                 SECMQ_OPEN_OK);
    CHECK_MEM_EQ(back, back_len, pt, len);
    /* mac-only ignores the sender key, even a NULL one. */
    if (mode == SECMQ_SEAL_MAC) {
        CHECK_INT_EQ(secmq_envelope_open(back, len + 1, &back_len, &f, TOPIC,
                                         a.channel_key, NULL),
                     SECMQ_OPEN_OK);
        CHECK_MEM_EQ(back, back_len, pt, len);
    }
    free(pt);
    free(out);
    free(back);
}

static void test_round_trip_signed(void)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000, 65536, 1 << 20};

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int before = check_failures;
        round_trip(SECMQ_SEAL_SIGNED, lens[i]);
        CHECKF(check_failures == before, "length %zu", lens[i]);
    }
}

static void test_round_trip_mac(void)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 1000, 65536, 1 << 20};

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        int before = check_failures;
        round_trip(SECMQ_SEAL_MAC, lens[i]);
        CHECKF(check_failures == before, "length %zu", lens[i]);
    }
}

/* Random nonces: two seals of the same message differ. */
static void test_random_nonce(void)
{
    party a;
    secmq_seal_params sp;
    unsigned char e1[100], e2[100];
    size_t l1, l2;

    party_init(&a, 1);
    sp = params(&a, SECMQ_SEAL_MAC);
    CHECK_INT_EQ(secmq_envelope_seal(e1, sizeof e1, &l1, &sp, TOPIC, "x", 1),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_envelope_seal(e2, sizeof e2, &l2, &sp, TOPIC, "x", 1),
                 SECMQ_OK);
    CHECK_INT_EQ(l1, l2);
    CHECK(memcmp(e1 + 34, e2 + 34, 24) != 0);
    CHECK(memcmp(e1 + 58, e2 + 58, l1 - 58) != 0);
}

/* ---- tampering --------------------------------------------------------------
 */

/* The reason a byte flip at pos must give, by field. */
static int expected_for_flip(secmq_seal_mode mode, size_t pos, size_t env_len)
{
    if (pos == 0) {
        return SECMQ_OPEN_VERSION;
    }
    if (pos == 1) {
        return SECMQ_OPEN_MALFORMED; /* 0x01 -> 0x00, 0x02 -> 0x03 */
    }
    if (mode == SECMQ_SEAL_SIGNED && pos >= env_len - 64) {
        return SECMQ_OPEN_BAD_SIGNATURE;
    }
    return SECMQ_OPEN_BAD_TAG; /* header fields, ciphertext, tag */
}

static void flip_every_byte(secmq_seal_mode mode, size_t len)
{
    party a;
    secmq_seal_params sp;
    unsigned char env[300], pt[200];
    size_t env_len, pt_len;

    party_init(&a, 2);
    sp = params(&a, mode);
    memset(pt, 'p', sizeof pt);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, len),
        SECMQ_OK);
    for (size_t pos = 0; pos < env_len; pos++) {
        int want = expected_for_flip(mode, pos, env_len), got;

        env[pos] ^= 0x01;
        memset(pt, 0xaa, sizeof pt);
        pt_len = 12345;
        got = open_env(env, env_len, TOPIC, a.channel_key, a.pk, pt, sizeof pt,
                       &pt_len);
        env[pos] ^= 0x01;
        CHECKF(got == want, "mode %d len %zu byte %zu: got %s, want %s",
               (int)mode, len, pos, secmq_open_reason_name(got),
               secmq_open_reason_name(want));
        if (want != SECMQ_OPEN_VERSION && want != SECMQ_OPEN_MALFORMED) {
            CHECKF(all_zero(pt, sizeof pt),
                   "byte %zu: plaintext buffer not wiped", pos);
            CHECK_INT_EQ(pt_len, 0);
        }
        /* The broker's view: the signature covers every byte after the
         * version and mode too. */
        if (mode == SECMQ_SEAL_SIGNED && pos >= 2) {
            secmq_envelope_fields f;
            env[pos] ^= 0x01;
            CHECK_INT_EQ(secmq_envelope_parse(env, env_len, &f), SECMQ_OPEN_OK);
            CHECK_INT_EQ(secmq_envelope_verify_signature(&f, TOPIC, a.pk),
                         SECMQ_OPEN_BAD_SIGNATURE);
            env[pos] ^= 0x01;
        }
    }
    /* Untouched, it still opens. */
    CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, a.pk, pt,
                          sizeof pt, &pt_len),
                 SECMQ_OPEN_OK);
}

static void test_every_byte_flip_signed(void)
{
    flip_every_byte(SECMQ_SEAL_SIGNED, 0);
    flip_every_byte(SECMQ_SEAL_SIGNED, 37);
}

static void test_every_byte_flip_mac(void)
{
    flip_every_byte(SECMQ_SEAL_MAC, 0);
    flip_every_byte(SECMQ_SEAL_MAC, 37);
}

static void test_other_topic_key_sender(void)
{
    party a, b;
    secmq_seal_params sp;
    unsigned char env[200], pt[100];
    size_t env_len, pt_len;

    party_init(&a, 3);
    party_init(&b, 4);
    for (int mode = SECMQ_SEAL_SIGNED; mode <= SECMQ_SEAL_MAC; mode++) {
        sp = params(&a, (secmq_seal_mode)mode);
        CHECK_INT_EQ(
            secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, "on", 2),
            SECMQ_OK);
        CHECK_INT_EQ(open_env(env, env_len, "home/kitchen/light/statu",
                              a.channel_key, a.pk, pt, sizeof pt, &pt_len),
                     SECMQ_OPEN_BAD_TAG);
        CHECK_INT_EQ(open_env(env, env_len, TOPIC "/x", a.channel_key, a.pk, pt,
                              sizeof pt, &pt_len),
                     SECMQ_OPEN_BAD_TAG);
        CHECK_INT_EQ(open_env(env, env_len, "home/kitchen/light/Status",
                              a.channel_key, a.pk, pt, sizeof pt, &pt_len),
                     SECMQ_OPEN_BAD_TAG);
        CHECK_INT_EQ(open_env(env, env_len, TOPIC, b.channel_key, a.pk, pt,
                              sizeof pt, &pt_len),
                     SECMQ_OPEN_BAD_TAG);
        if (mode == SECMQ_SEAL_SIGNED) {
            CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, b.pk, pt,
                                  sizeof pt, &pt_len),
                         SECMQ_OPEN_BAD_SIGNATURE);
            CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, NULL, pt,
                                  sizeof pt, &pt_len),
                         SECMQ_OPEN_UNKNOWN_SENDER);
            /* The tag is checked first (PROTOCOL.md 4.2): a wrong key with
             * a missing sender is still bad_tag. */
            CHECK_INT_EQ(open_env(env, env_len, TOPIC, b.channel_key, NULL, pt,
                                  sizeof pt, &pt_len),
                         SECMQ_OPEN_BAD_TAG);
        } else {
            /* mac-only proves membership only: any key is "fine". */
            CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, b.pk, pt,
                                  sizeof pt, &pt_len),
                         SECMQ_OPEN_OK);
        }
        CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, a.pk, pt,
                              sizeof pt, &pt_len),
                     SECMQ_OPEN_OK);
        CHECK_MEM_EQ(pt, pt_len, "on", 2);
    }
}

static void test_truncated_and_extended(void)
{
    party a;
    secmq_seal_params sp;
    unsigned char env[200], pt[100];
    size_t env_len, pt_len;

    party_init(&a, 5);
    for (int mode = SECMQ_SEAL_SIGNED; mode <= SECMQ_SEAL_MAC; mode++) {
        size_t min = mode == SECMQ_SEAL_SIGNED ? 138 : 74;

        sp = params(&a, (secmq_seal_mode)mode);
        CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC,
                                         "0123456789", 10),
                     SECMQ_OK);
        for (size_t n = 0; n < env_len; n++) {
            int got = open_env(env, n, TOPIC, a.channel_key, a.pk, pt,
                               sizeof pt, &pt_len);
            int want = n < min ? SECMQ_OPEN_MALFORMED : SECMQ_OPEN_BAD_TAG;
            CHECKF(got == want, "mode %d truncated to %zu: got %s", mode, n,
                   secmq_open_reason_name(got));
        }
        for (size_t extra = 1; extra <= 20; extra++) {
            int got;
            memset(env + env_len, (int)extra, extra);
            got = open_env(env, env_len + extra, TOPIC, a.channel_key, a.pk, pt,
                           sizeof pt, &pt_len);
            CHECKF(got == SECMQ_OPEN_BAD_TAG, "mode %d + %zu bytes: got %s",
                   mode, extra, secmq_open_reason_name(got));
        }
    }
}

static void test_version_and_mode_bytes(void)
{
    party a;
    secmq_seal_params sp;
    unsigned char env[200], pt[100];
    size_t env_len, pt_len;
    secmq_envelope_fields f;

    party_init(&a, 6);
    sp = params(&a, SECMQ_SEAL_SIGNED);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, "v", 1),
        SECMQ_OK);
    CHECK_INT_EQ(env[0], 1);
    CHECK_INT_EQ(env[1], 1);
    for (int v = 0; v < 256; v++) {
        if (v == 1) {
            continue;
        }
        env[0] = (unsigned char)v;
        CHECK_INT_EQ(secmq_envelope_parse(env, env_len, &f),
                     SECMQ_OPEN_VERSION);
        /* Version first, whatever the length (PROTOCOL.md 4.2 step 1). */
        CHECK_INT_EQ(secmq_envelope_parse(env, 1, &f), SECMQ_OPEN_VERSION);
    }
    env[0] = 1;
    for (int m = 0; m < 256; m++) {
        env[1] = (unsigned char)m;
        if (m == 1) {
            CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, a.pk, pt,
                                  sizeof pt, &pt_len),
                         SECMQ_OPEN_OK);
        } else if (m == 2) {
            /* A signed envelope relabelled mac-only: header is in the AD. */
            CHECK_INT_EQ(open_env(env, env_len, TOPIC, a.channel_key, a.pk, pt,
                                  sizeof pt, &pt_len),
                         SECMQ_OPEN_BAD_TAG);
        } else {
            CHECK_INT_EQ(secmq_envelope_parse(env, env_len, &f),
                         SECMQ_OPEN_MALFORMED);
        }
    }
    CHECK_INT_EQ(secmq_envelope_parse(env, 0, &f), SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(secmq_envelope_parse(NULL, 100, &f), SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(secmq_envelope_parse(env, env_len, NULL),
                 SECMQ_OPEN_MALFORMED);
}

/* ---- the broker's check
 * ------------------------------------------------------ */

static void test_verify_signature_without_channel_key(void)
{
    party a, b;
    secmq_seal_params sp;
    secmq_envelope_fields f;
    unsigned char env[200];
    size_t env_len;

    party_init(&a, 7);
    party_init(&b, 8);
    sp = params(&a, SECMQ_SEAL_SIGNED);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, "hello", 5),
        SECMQ_OK);
    CHECK_INT_EQ(secmq_envelope_parse(env, env_len, &f), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq_envelope_verify_signature(&f, TOPIC, a.pk),
                 SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq_envelope_verify_signature(&f, TOPIC, b.pk),
                 SECMQ_OPEN_BAD_SIGNATURE);
    CHECK_INT_EQ(secmq_envelope_verify_signature(&f, "other", a.pk),
                 SECMQ_OPEN_BAD_SIGNATURE);
    CHECK_INT_EQ(secmq_envelope_verify_signature(&f, TOPIC, NULL),
                 SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(secmq_envelope_verify_signature(&f, "a/+/b", a.pk),
                 SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(secmq_envelope_verify_signature(NULL, TOPIC, a.pk),
                 SECMQ_OPEN_MALFORMED);

    sp = params(&a, SECMQ_SEAL_MAC);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, "hello", 5),
        SECMQ_OK);
    CHECK_INT_EQ(secmq_envelope_parse(env, env_len, &f), SECMQ_OPEN_OK);
    CHECK(f.signature == NULL);
    CHECK_INT_EQ(secmq_envelope_verify_signature(&f, TOPIC, a.pk),
                 SECMQ_OPEN_MALFORMED);
}

/* ---- sizes and parameters
 * ------------------------------------------------------ */

static void test_envelope_size(void)
{
    CHECK_INT_EQ(secmq_envelope_size(SECMQ_SEAL_SIGNED, 0), 138);
    CHECK_INT_EQ(secmq_envelope_size(SECMQ_SEAL_MAC, 0), 74);
    CHECK_INT_EQ(secmq_envelope_size(SECMQ_SEAL_SIGNED, 1000), 1138);
    CHECK_INT_EQ(secmq_envelope_size(SECMQ_SEAL_MAC, 1000), 1074);
    CHECK(secmq_envelope_size(SECMQ_SEAL_MAC, SIZE_MAX - 74) == SIZE_MAX);
    CHECK(secmq_envelope_size(SECMQ_SEAL_MAC, SIZE_MAX - 73) == 0);
    CHECK(secmq_envelope_size(SECMQ_SEAL_SIGNED, SIZE_MAX) == 0);
    CHECK(secmq_envelope_size((secmq_seal_mode)0, 10) == 0);
    CHECK(secmq_envelope_size((secmq_seal_mode)3, 10) == 0);
}

static void test_out_cap_too_small(void)
{
    party a;
    secmq_seal_params sp;
    unsigned char env[300], pt[100];
    size_t env_len;

    party_init(&a, 9);
    memset(pt, 1, sizeof pt);
    for (int mode = SECMQ_SEAL_SIGNED; mode <= SECMQ_SEAL_MAC; mode++) {
        size_t need = secmq_envelope_size((secmq_seal_mode)mode, sizeof pt);

        sp = params(&a, (secmq_seal_mode)mode);
        env_len = 99;
        CHECK_INT_EQ(secmq_envelope_seal(env, need - 1, &env_len, &sp, TOPIC,
                                         pt, sizeof pt),
                     SECMQ_E_OVERSIZE);
        CHECK_INT_EQ(env_len, 0);
        CHECK_INT_EQ(
            secmq_envelope_seal(env, 0, &env_len, &sp, TOPIC, pt, sizeof pt),
            SECMQ_E_OVERSIZE);
        CHECK_INT_EQ(
            secmq_envelope_seal(env, need, &env_len, &sp, TOPIC, pt, sizeof pt),
            SECMQ_OK);
        CHECK_INT_EQ(env_len, need);
        /* The empty message needs exactly the overhead. */
        CHECK_INT_EQ(secmq_envelope_seal(env, need - sizeof pt - 1, &env_len,
                                         &sp, TOPIC, NULL, 0),
                     SECMQ_E_OVERSIZE);
        CHECK_INT_EQ(secmq_envelope_seal(env, need - sizeof pt, &env_len, &sp,
                                         TOPIC, NULL, 0),
                     SECMQ_OK);
    }
    /* Lengths no envelope can have. */
    sp = params(&a, SECMQ_SEAL_MAC);
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt,
                                     SIZE_MAX - 10),
                 SECMQ_E_OVERSIZE);
}

static void test_seal_refuses_bad_parameters(void)
{
    party a, b;
    secmq_seal_params sp;
    unsigned char env[5000], pt[64];
    char topic[SECMQ_TOPIC_MAX + 2];
    size_t env_len;

    party_init(&a, 10);
    party_init(&b, 11);
    memset(pt, 7, sizeof pt);
    sp = params(&a, SECMQ_SEAL_SIGNED);

    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, NULL, pt, 1),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &env_len, &sp, "", pt, 1),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, "a/+/b", pt, 1),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, "a/#", pt, 1),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq_envelope_seal(NULL, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, NULL, &sp, TOPIC, pt, 1),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, NULL, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, NULL, 1),
        SECMQ_E_INVAL);

    /* Topic length: SECMQ_TOPIC_MAX bytes is fine, one more is not. */
    memset(topic, 'a', sizeof topic);
    topic[SECMQ_TOPIC_MAX] = '\0';
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, topic, pt, 1),
        SECMQ_OK);
    {
        unsigned char back[8];
        size_t back_len;
        CHECK_INT_EQ(open_env(env, env_len, topic, a.channel_key, a.pk, back,
                              sizeof back, &back_len),
                     SECMQ_OPEN_OK);
        topic[SECMQ_TOPIC_MAX] = 'a';
        topic[SECMQ_TOPIC_MAX + 1] = '\0';
        CHECK_INT_EQ(open_env(env, env_len, topic, a.channel_key, a.pk, back,
                              sizeof back, &back_len),
                     SECMQ_OPEN_MALFORMED);
    }
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, topic, pt, 1),
        SECMQ_E_INVAL);

    /* A sender id that is not the secret key's. */
    sp.sender_id = b.id;
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    sp = params(&a, SECMQ_SEAL_SIGNED);
    sp.sender_sk = NULL;
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    /* ... which mac-only does not need. */
    sp.mode = SECMQ_SEAL_MAC;
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_OK);
    sp = params(&a, SECMQ_SEAL_SIGNED);
    sp.mode = (secmq_seal_mode)0;
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    sp.mode = (secmq_seal_mode)3;
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    sp = params(&a, SECMQ_SEAL_SIGNED);
    sp.channel_key = NULL;
    CHECK_INT_EQ(
        secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC, pt, 1),
        SECMQ_E_INVAL);
    /* out overlapping the plaintext. */
    sp = params(&a, SECMQ_SEAL_MAC);
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC,
                                     env + 50, 10),
                 SECMQ_E_INVAL);
}

static void test_open_wipes_plaintext_on_failure(void)
{
    party a;
    secmq_seal_params sp;
    secmq_envelope_fields f;
    unsigned char env[200], pt[100];
    size_t env_len, pt_len;

    party_init(&a, 12);
    sp = params(&a, SECMQ_SEAL_SIGNED);
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &env_len, &sp, TOPIC,
                                     "secret stuff", 12),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_envelope_parse(env, env_len, &f), SECMQ_OPEN_OK);

    /* Bad signature: the AEAD had already produced the plaintext. */
    env[env_len - 1] ^= 0x80;
    memset(pt, 0xaa, sizeof pt);
    pt_len = 7;
    CHECK_INT_EQ(secmq_envelope_open(pt, sizeof pt, &pt_len, &f, TOPIC,
                                     a.channel_key, a.pk),
                 SECMQ_OPEN_BAD_SIGNATURE);
    CHECK(all_zero(pt, sizeof pt));
    CHECK_INT_EQ(pt_len, 0);
    env[env_len - 1] ^= 0x80;

    /* Unknown sender, after a successful decryption. */
    memset(pt, 0xaa, sizeof pt);
    CHECK_INT_EQ(secmq_envelope_open(pt, sizeof pt, &pt_len, &f, TOPIC,
                                     a.channel_key, NULL),
                 SECMQ_OPEN_UNKNOWN_SENDER);
    CHECK(all_zero(pt, sizeof pt));

    /* Buffer too small: malformed, and still wiped. */
    memset(pt, 0xaa, sizeof pt);
    CHECK_INT_EQ(
        secmq_envelope_open(pt, 11, &pt_len, &f, TOPIC, a.channel_key, a.pk),
        SECMQ_OPEN_MALFORMED);
    CHECK(all_zero(pt, 11));
    CHECK_INT_EQ(pt[11], 0xaa);

    /* Bad topic, missing key, missing length. */
    memset(pt, 0xaa, sizeof pt);
    CHECK_INT_EQ(secmq_envelope_open(pt, sizeof pt, &pt_len, &f, "",
                                     a.channel_key, a.pk),
                 SECMQ_OPEN_MALFORMED);
    CHECK(all_zero(pt, sizeof pt));
    CHECK_INT_EQ(
        secmq_envelope_open(pt, sizeof pt, &pt_len, &f, TOPIC, NULL, a.pk),
        SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(secmq_envelope_open(pt, sizeof pt, NULL, &f, TOPIC,
                                     a.channel_key, a.pk),
                 SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(secmq_envelope_open(pt, sizeof pt, &pt_len, NULL, TOPIC,
                                     a.channel_key, a.pk),
                 SECMQ_OPEN_MALFORMED);

    /* The exact size works. */
    CHECK_INT_EQ(
        secmq_envelope_open(pt, 12, &pt_len, &f, TOPIC, a.channel_key, a.pk),
        SECMQ_OPEN_OK);
    CHECK_MEM_EQ(pt, pt_len, "secret stuff", 12);

    /* Decrypting over the envelope itself is refused (and, as any
     * failure, wipes the buffer given, here the ciphertext). */
    CHECK_INT_EQ(secmq_envelope_open(env + 58, 12, &pt_len, &f, TOPIC,
                                     a.channel_key, a.pk),
                 SECMQ_OPEN_MALFORMED);
    CHECK(all_zero(env + 58, 12));
}

static void test_reason_names(void)
{
    static const char *const names[SECMQ_OPEN_REASON_COUNT] = {
        "ok",           "malformed",      "version",
        "unknown_key",  "key_expired",    "mode_refused",
        "bad_tag",      "unknown_sender", "bad_signature",
        "unauthorised", "too_old",        "replay",
        "no_channel",   "bad_proof"};

    CHECK_INT_EQ(SECMQ_OPEN_REASON_COUNT, 14);
    for (int r = 0; r < SECMQ_OPEN_REASON_COUNT; r++) {
        CHECK_STR_EQ(secmq_open_reason_name(r), names[r]);
    }
    CHECK_STR_EQ(secmq_open_reason_name(-1), "unknown");
    CHECK_STR_EQ(secmq_open_reason_name(SECMQ_OPEN_REASON_COUNT), "unknown");
    CHECK_STR_EQ(secmq_open_reason_name(1000), "unknown");
}

static void test_identity_id(void)
{
    party a;
    unsigned char h[32], id[8];

    party_init(&a, 13);
    crypto_generichash(h, sizeof h, a.pk, sizeof a.pk, NULL, 0);
    secmq_identity_id(id, a.pk);
    CHECK_MEM_EQ(id, 8, h, 8);
}

/* Checks one positive vector; *ok is 1 if it passed. */
static void check_vector(const tj_value *v, int *ok)
{
    const tj_value *name = tj_get(v, "name", TJ_STR),
                   *mode = tj_get(v, "mode", TJ_NUM),
                   *seq = tj_get(v, "seq", TJ_NUM),
                   *tm = tj_get(v, "time_ms", TJ_NUM),
                   *topic = tj_get(v, "topic", TJ_STR);
    unsigned char *seed = NULL, *pk = NULL, *id = NULL, *ck = NULL, *kid = NULL,
                  *mk = NULL, *nonce = NULL, *pt = NULL, *env = NULL,
                  *out = NULL, *back = NULL;
    size_t l_seed = 0, l_pk = 0, l_id = 0, l_ck = 0, l_kid = 0, l_mk = 0,
           l_nonce = 0, l_pt = 0, l_env = 0, out_len = 0, back_len = 0;
    unsigned char my_pk[32], my_sk[64], my_id[8], my_mk[32];
    secmq_seal_params sp;

    *ok = 0;
    seed = tj_hex(v, "sender_seed", &l_seed);
    pk = tj_hex(v, "sender_pk", &l_pk);
    id = tj_hex(v, "sender_id", &l_id);
    ck = tj_hex(v, "channel_key", &l_ck);
    kid = tj_hex(v, "key_id", &l_kid);
    mk = tj_hex(v, "message_key", &l_mk);
    nonce = tj_hex(v, "nonce", &l_nonce);
    pt = tj_hex(v, "plaintext", &l_pt);
    env = tj_hex(v, "envelope", &l_env);
    CHECKF(name != NULL && mode != NULL && seq != NULL && tm != NULL &&
               topic != NULL && seed != NULL && pk != NULL && id != NULL &&
               ck != NULL && kid != NULL && mk != NULL && nonce != NULL &&
               pt != NULL && env != NULL,
           "a vector lacks a field or has a bad one");
    CHECKF(l_seed == 32 && l_pk == 32 && l_id == 8 && l_ck == 32 &&
               l_kid == 8 && l_mk == 32 && l_nonce == 24,
           "%s: a field has the wrong length", name->str);

    crypto_sign_seed_keypair(my_pk, my_sk, seed);
    CHECKF(memcmp(my_pk, pk, 32) == 0, "%s: sender_pk", name->str);
    secmq_identity_id(my_id, my_pk);
    CHECKF(memcmp(my_id, id, 8) == 0, "%s: sender_id", name->str);
    crypto_kdf_derive_from_key(my_mk, 32, 1, "secmqenv", ck);
    CHECKF(memcmp(my_mk, mk, 32) == 0, "%s: message_key", name->str);

    memset(&sp, 0, sizeof sp);
    sp.mode = (secmq_seal_mode)mode->num;
    sp.channel_key = ck;
    sp.key_id = kid;
    sp.sender_id = id;
    sp.sender_sk = my_sk;
    sp.seq = seq->num;
    sp.time_ms = tm->num;
    sp.nonce = nonce;
    out = malloc(l_env + 1);
    back = malloc(l_pt + 1);
    CHECK(out != NULL && back != NULL);
    CHECKF(secmq_envelope_seal(out, l_env, &out_len, &sp, topic->str,
                               l_pt > 0 ? pt : NULL, l_pt) == SECMQ_OK,
           "%s: seal failed", name->str);
    CHECKF(out_len == l_env && memcmp(out, env, l_env) == 0,
           "%s: the code seals different bytes than the committed vector",
           name->str);
    CHECKF(open_env(env, l_env, topic->str, ck, pk, back, l_pt, &back_len) ==
               SECMQ_OPEN_OK,
           "%s: does not open", name->str);
    CHECKF(back_len == l_pt && memcmp(back, pt, l_pt) == 0,
           "%s: opens to other bytes", name->str);
    *ok = 1;
    free(seed);
    free(pk);
    free(id);
    free(ck);
    free(kid);
    free(mk);
    free(nonce);
    free(pt);
    free(env);
    free(out);
    free(back);
    sodium_memzero(my_sk, sizeof my_sk);
}

static void check_negative(const tj_value *v, int *ok)
{
    const tj_value *name = tj_get(v, "name", TJ_STR),
                   *topic = tj_get(v, "topic", TJ_STR),
                   *expect = tj_get(v, "expect", TJ_STR);
    unsigned char *ck = NULL, *pk = NULL, *env = NULL;
    size_t l_ck = 0, l_pk = 0, l_env = 0, pt_len;
    unsigned char pt[2048];
    int got;

    *ok = 0;
    ck = tj_hex(v, "channel_key", &l_ck);
    pk = tj_hex(v, "sender_pk", &l_pk);
    env = tj_hex(v, "envelope", &l_env);
    CHECKF(name != NULL && topic != NULL && expect != NULL && ck != NULL &&
               pk != NULL && env != NULL && l_ck == 32 && l_pk == 32,
           "a negative vector lacks a field or has a bad one");
    got = open_env(env, l_env, topic->str, ck, pk, pt, sizeof pt, &pt_len);
    CHECKF(strcmp(secmq_open_reason_name(got), expect->str) == 0,
           "%s: got %s, the vector expects %s", name->str,
           secmq_open_reason_name(got), expect->str);
    *ok = 1;
    free(ck);
    free(pk);
    free(env);
}

static void test_known_answer_vectors(void)
{
    tj_value *root;
    const tj_value *version, *vectors, *negative;
    size_t passed = 0, modes[3] = {0, 0, 0};
    int ok;

    CHECKF(vectors_path != NULL, "usage: unit_envelope VECTORS.json");
    root = tj_load(vectors_path);
    CHECKF(root != NULL, "%s: cannot read or parse", vectors_path);
    version = tj_get(root, "version", TJ_NUM);
    vectors = tj_get(root, "vectors", TJ_ARR);
    negative = tj_get(root, "negative", TJ_ARR);
    CHECK(version != NULL && version->num == 1);
    CHECK(vectors != NULL && negative != NULL);
    /* An emptied file must not pass. */
    CHECK(vectors->n >= 8);
    CHECK(negative->n >= 5);
    for (size_t i = 0; i < vectors->n; i++) {
        const tj_value *mode = tj_get(vectors->v[i], "mode", TJ_NUM);
        CHECK(mode != NULL && (mode->num == 1 || mode->num == 2));
        modes[mode->num]++;
        check_vector(vectors->v[i], &ok);
        CHECKF(ok, "vector %zu failed", i);
        passed++;
    }
    CHECK(modes[1] >= 4 && modes[2] >= 4);
    for (size_t i = 0; i < negative->n; i++) {
        check_negative(negative->v[i], &ok);
        CHECKF(ok, "negative vector %zu failed", i);
        passed++;
    }
    CHECK_INT_EQ(passed, vectors->n + negative->n);
    tj_free(root);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        vectors_path = argv[1];
    }
    if (secmq_init() != SECMQ_OK) {
        fprintf(stderr, "secmq_init failed\n");
        return 1;
    }
    RUN(test_round_trip_signed);
    RUN(test_round_trip_mac);
    RUN(test_random_nonce);
    RUN(test_every_byte_flip_signed);
    RUN(test_every_byte_flip_mac);
    RUN(test_other_topic_key_sender);
    RUN(test_truncated_and_extended);
    RUN(test_version_and_mode_bytes);
    RUN(test_verify_signature_without_channel_key);
    RUN(test_envelope_size);
    RUN(test_out_cap_too_small);
    RUN(test_seal_refuses_bad_parameters);
    RUN(test_open_wipes_plaintext_on_failure);
    RUN(test_reason_names);
    RUN(test_identity_id);
    RUN(test_known_answer_vectors);
    return check_exit();
}
