/*
 * fuzz_grant.c -- libFuzzer target for the grant body parser (PROTOCOL.md
 * §5, §5.1) and the most-specific-filter comparison (§4.1). First byte:
 * 0 parse the rest as a body; 1 take the rest as a body without its
 * signature, put the fixed owner's key in it and sign it, so the field
 * rules after the signature are reached (a body that parses must build
 * back to the same bytes); 2 "A\0B\0TOPIC": two filters matching one topic
 * are ordered antisymmetrically, equal only when identical; 3 as 1 with
 * the magic SECMQGB2 (receipt fields, §5.1 rule 7): the old parser refuses
 * it, the new one keeps rule 7 and builds it back; 4 as 1 with the magic
 * SECMQGB3 (an epoch ratchet, §3.2, rule 3a): the parsers from before
 * refuse it, the new one keeps the ratchet rule and builds it back.
 * Aborts on a broken invariant. Run by run_fuzz.sh, not a unit test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "topicfilter_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 4096u

static unsigned char owner_pk[32], owner_sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char seed[32];

    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        seed[i] = (unsigned char)i;
    }
    crypto_sign_seed_keypair(owner_pk, owner_sk, seed);
    return 0;
}

/* A parsed body holds every rule of §5.1 and builds back to itself. */
static void check_parsed(const unsigned char *body, size_t len)
{
    static unsigned char again[MAX_BODY + 64];
    secmq_grant_fields g;
    size_t n = 0, listed = 0;
    int st = secmq_grant_body_parse(body, len, &g);

    if (st < SECMQ_GRANT_OK || st > SECMQ_GRANT_PUBLISHER_MISMATCH) {
        abort();
    }
    if (st != SECMQ_GRANT_OK) {
        return;
    }
    if (g.epoch == 0 || (g.flags & ~SECMQ_GRANT_KNOWN_FLAGS) != 0 ||
        g.n_publishers == 0) {
        abort();
    }
    for (size_t i = 0; i < g.n_publishers; i++) {
        listed |= memcmp(g.publishers + 32 * i, g.member_pk, 32) == 0;
    }
    if (((g.flags & SECMQ_GRANT_MAY_PUBLISH) != 0) != (listed != 0)) {
        abort();
    }
    if (memcmp(g.owner_pk, owner_pk, 32) == 0) {
        if (secmq_grant_body_build(again, sizeof again, &n, &g, owner_sk) !=
                SECMQ_OK ||
            n != len || memcmp(again, body, len) != 0) {
            abort();
        }
    }
}

/* A parsed SECMQGB2 body keeps rule 7 and builds back to itself. */
static void check_parsed_v2(const unsigned char *body, size_t len)
{
    static unsigned char again[MAX_BODY + 64];
    secmq_grant_fields g;
    secmq_grant_receipts r;
    size_t n = 0;
    int st = secmq_grant_body_parse_v2(body, len, &g, &r);

    if (st < SECMQ_GRANT_OK || st > SECMQ_GRANT_BAD_RECEIPTS ||
        secmq_grant_body_parse(body, len, &g) != SECMQ_GRANT_MALFORMED) {
        abort();
    }
    st = secmq_grant_body_parse_v2(body, len, &g, &r);
    if (st != SECMQ_GRANT_OK) {
        return;
    }
    if (r.topic == NULL || r.n_receipters == 0 || r.need > r.n_receipters ||
        r.topic_len < 1 || r.topic_len > SECMQ_TOPIC_MAX) {
        abort();
    }
    if (secmq_grant_body_build_v2(again, sizeof again, &n, &g, &r, owner_sk) !=
            SECMQ_OK ||
        n != len || memcmp(again, body, len) != 0) {
        abort();
    }
}

/* A parsed SECMQGB3 body keeps rule 3a and builds back to itself. */
static void check_parsed_v3(const unsigned char *body, size_t len)
{
    static unsigned char again[MAX_BODY + 64];
    secmq_grant_fields g;
    secmq_grant_receipts r;
    secmq_grant_ratchet rt;
    size_t n = 0;
    int st;

    if (secmq_grant_body_parse(body, len, &g) != SECMQ_GRANT_MALFORMED ||
        secmq_grant_body_parse_v2(body, len, &g, &r) != SECMQ_GRANT_MALFORMED) {
        abort();
    }
    st = secmq_grant_body_parse_v3(body, len, &g, &r, &rt);
    if (st < SECMQ_GRANT_OK || st > SECMQ_GRANT_BAD_RATCHET ||
        st == SECMQ_GRANT_BAD_RECEIPTS) {
        abort();
    }
    if (st != SECMQ_GRANT_OK) {
        return;
    }
    if (rt.period_ms < 1000u || rt.period_ms > 0x7fffffffu ||
        rt.grace_ms > 0x7fffffffu ||
        (uint64_t)rt.grace_ms > 1024ull * rt.period_ms || r.topic != NULL ||
        g.grace_ms != 0) {
        abort();
    }
    for (size_t i = 0; i < sizeof g.prev_key_id; i++) {
        if (g.prev_key_id[i] != 0) {
            abort();
        }
    }
    if (secmq_grant_body_build_v3(again, sizeof again, &n, &g, NULL, &rt,
                                  owner_sk) != SECMQ_OK ||
        n != len || memcmp(again, body, len) != 0) {
        abort();
    }
}

static void signed_body(const uint8_t *data, size_t size, int receipts)
{
    static unsigned char body[MAX_BODY + 64], m[14 + MAX_BODY];

    if (size < 40 || size > MAX_BODY) {
        return;
    }
    memcpy(body, data, size);
    memcpy(body + 8, owner_pk, 32);
    if (receipts == 1) {
        memcpy(body, "SECMQGB2", 8);
    } else if (receipts == 2) {
        memcpy(body, "SECMQGB3", 8);
    }
    memcpy(m, "secmq-grant-v1", 14);
    memcpy(m + 14, body, size);
    crypto_sign_detached(body + size, NULL, m, 14 + size, owner_sk);
    if (receipts == 2) {
        check_parsed_v3(body, size + 64);
    } else if (receipts) {
        check_parsed_v2(body, size + 64);
    } else {
        check_parsed(body, size + 64);
    }
}

static void compare(const uint8_t *data, size_t size)
{
    const char *a = (const char *)data, *b, *t;
    const char *end = a + size, *z;
    size_t al, bl, tl;
    int ab, ba;

    z = memchr(a, 0, size);
    if (z == NULL) {
        return;
    }
    al = (size_t)(z - a);
    b = z + 1;
    z = memchr(b, 0, (size_t)(end - b));
    if (z == NULL) {
        return;
    }
    bl = (size_t)(z - b);
    t = z + 1;
    tl = (size_t)(end - t);
    if (!secmq__filter_valid(a, al) || !secmq__filter_valid(b, bl) ||
        !secmq__topic_valid(t, tl)) {
        return;
    }
    if (secmq__filter_cmp_specific(a, al, a, al) != 0) {
        abort();
    }
    ab = secmq__filter_cmp_specific(a, al, b, bl);
    ba = secmq__filter_cmp_specific(b, bl, a, al);
    if ((ab > 0) != (ba < 0) || (ab == 0) != (ba == 0)) {
        abort();
    }
    if (secmq__filter_match(a, al, t, tl) &&
        secmq__filter_match(b, bl, t, tl) &&
        (ab == 0) != (al == bl && memcmp(a, b, al) == 0)) {
        abort(); /* a tie between different matching filters */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    switch (data[0] % 5) {
    case 0:
        check_parsed(data + 1, size - 1);
        break;
    case 1:
        signed_body(data + 1, size - 1, 0);
        break;
    case 2:
        compare(data + 1, size - 1);
        break;
    case 3:
        signed_body(data + 1, size - 1, 1);
        break;
    default:
        signed_body(data + 1, size - 1, 2);
        break;
    }
    return 0;
}
