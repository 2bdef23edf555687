/*
 * test_grant_receipts.c -- unit tests for the receipt fields of grants
 * (PROTOCOL.md §5 SECMQGB2 bodies, §5.1 rule 7, §9.1) through the public
 * codec: a body with receipts builds and parses back, one without is byte
 * for byte the old SECMQGB1 body, the reader from before receipts
 * (secmq_grant_body_parse) refuses SECMQGB2, every changed, missing or
 * extra byte is refused, and validly signed bodies that break a receipt
 * rule are refused with their reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "check.h"
#include "grantcraft.h"

static unsigned char owner_pk[32], owner_sk[64];
static unsigned char member_pk[32], member_sk[64];
static unsigned char rcpts[3][32];

static void fields(secmq_grant_fields *g)
{
    memset(g, 0, sizeof *g);
    memcpy(g->owner_pk, owner_pk, 32);
    memcpy(g->member_pk, member_pk, 32);
    memset(g->key_id, 0x11, 8);
    memset(g->channel_key, 0x22, 32);
    g->epoch = 1;
    g->created_ms = 1700000000000u;
    g->flags = 0;
    g->filter = "home/+/status";
    g->filter_len = strlen(g->filter);
    g->publishers = owner_pk;
    g->n_publishers = 1;
}

static void receipts(secmq_grant_receipts *r)
{
    memset(r, 0, sizeof *r);
    r->topic = "secmq/receipts/0123456789abcdef";
    r->topic_len = strlen(r->topic);
    r->need = 0;
    r->receipters = &rcpts[0][0];
    r->n_receipters = 2;
}

/* A SECMQGB2 body by hand (PROTOCOL.md §5), without the codec's rules. */
static size_t craft(unsigned char *b, size_t cap, const secmq_grant_fields *g,
                    const secmq_grant_receipts *r)
{
    return tc_grant_craft(b, cap, g, r, owner_sk);
}

static void test_round_trip(void)
{
    secmq_grant_fields g, p;
    secmq_grant_receipts r, pr;
    unsigned char body[1024], hand[1024], old[1024];
    size_t len = 0, hlen, olen = 0;

    fields(&g);
    receipts(&r);
    CHECK_INT_EQ(secmq_grant_body_size_v2(g.filter_len, 1, &r),
                 145 + g.filter_len + 32 + 6 + r.topic_len + 64 + 64);
    CHECK_INT_EQ(
        secmq_grant_body_build_v2(body, sizeof body, &len, &g, &r, owner_sk),
        SECMQ_OK);
    CHECK_INT_EQ(len, secmq_grant_body_size_v2(g.filter_len, 1, &r));
    CHECK(memcmp(body, "SECMQGB2", 8) == 0);
    /* The codec writes exactly the layout of §5. */
    hlen = craft(hand, sizeof hand, &g, &r);
    CHECK_MEM_EQ(body, len, hand, hlen);
    CHECK_INT_EQ(secmq_grant_body_parse_v2(body, len, &p, &pr), SECMQ_GRANT_OK);
    CHECK_MEM_EQ(pr.topic, pr.topic_len, r.topic, r.topic_len);
    CHECK_INT_EQ(pr.need, 0);
    CHECK_INT_EQ(pr.n_receipters, 2);
    CHECK_MEM_EQ(pr.receipters, 64, rcpts, 64);
    CHECK_MEM_EQ(p.filter, p.filter_len, g.filter, g.filter_len);
    CHECK_MEM_EQ(p.channel_key, 32, g.channel_key, 32);
    /* A reader from before receipts refuses it (§6), whole. */
    CHECK_INT_EQ(secmq_grant_body_parse(body, len, &p), SECMQ_GRANT_MALFORMED);
    CHECK_INT_EQ(secmq_grant_body_parse_v2(body, len, &p, NULL),
                 SECMQ_GRANT_MALFORMED);
    /* Without receipts: the SECMQGB1 body of secmq_grant_body_build. */
    CHECK_INT_EQ(secmq_grant_body_build(old, sizeof old, &olen, &g, owner_sk),
                 SECMQ_OK);
    r.topic = NULL;
    CHECK_INT_EQ(secmq_grant_body_size_v2(g.filter_len, 1, &r), olen);
    CHECK_INT_EQ(
        secmq_grant_body_build_v2(body, sizeof body, &len, &g, &r, owner_sk),
        SECMQ_OK);
    /* Ed25519 is deterministic: same bytes, same signature. */
    CHECK_MEM_EQ(body, len, old, olen);
    CHECK_INT_EQ(secmq_grant_body_parse_v2(old, olen, &p, &pr), SECMQ_GRANT_OK);
    CHECK(pr.topic == NULL && pr.n_receipters == 0);
    /* Too small a buffer. */
    receipts(&r);
    CHECK_INT_EQ(
        secmq_grant_body_build_v2(body, hlen - 1, &len, &g, &r, owner_sk),
        SECMQ_E_OVERSIZE);
}

static void test_every_byte(void)
{
    secmq_grant_fields g, p;
    secmq_grant_receipts r, pr;
    unsigned char body[1024], bad[1025];
    size_t len = 0;

    fields(&g);
    receipts(&r);
    r.need = 1;
    CHECK_INT_EQ(
        secmq_grant_body_build_v2(body, sizeof body, &len, &g, &r, owner_sk),
        SECMQ_OK);
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, body, len);
        bad[i] ^= 0x01;
        CHECKF(secmq_grant_body_parse_v2(bad, len, &p, &pr) != SECMQ_GRANT_OK,
               "byte %zu changed, still accepted", i);
        CHECKF(pr.topic == NULL, "byte %zu: receipts left after a refusal", i);
    }
    for (size_t n = 0; n < len; n++) {
        CHECKF(secmq_grant_body_parse_v2(body, n, &p, &pr) ==
                   SECMQ_GRANT_MALFORMED,
               "truncated to %zu not malformed", n);
    }
    memcpy(bad, body, len);
    bad[len] = 0;
    CHECK_INT_EQ(secmq_grant_body_parse_v2(bad, len + 1, &p, &pr),
                 SECMQ_GRANT_MALFORMED);
}

/* Validly signed bodies that break one rule each. */
static void test_rules(void)
{
    secmq_grant_fields g, p;
    secmq_grant_receipts r, pr;
    unsigned char body[1024];
    size_t len = 0, blen;
    struct {
        const char *what;
        int want;
    } cases[] = {
        {"no receipter", SECMQ_GRANT_BAD_RECEIPTS},
        {"a receipter listed twice", SECMQ_GRANT_BAD_RECEIPTS},
        {"need above the receipters", SECMQ_GRANT_BAD_RECEIPTS},
        {"a wildcard receipt topic", SECMQ_GRANT_MALFORMED},
        {"an empty receipt topic", SECMQ_GRANT_MALFORMED},
        {"a NUL in the receipt topic", SECMQ_GRANT_MALFORMED},
        {"epoch 0 and no receipter: the epoch first", SECMQ_GRANT_BAD_EPOCH},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fields(&g);
        receipts(&r);
        switch (c) {
        case 0:
            r.n_receipters = 0;
            break;
        case 1:
            r.n_receipters = 3; /* rcpts[2] repeats rcpts[0] */
            break;
        case 2:
            r.need = 3;
            break;
        case 3:
            r.topic = "secmq/receipts/#";
            r.topic_len = strlen(r.topic);
            break;
        case 4:
            r.topic_len = 0;
            break;
        case 5:
            r.topic = "a\0b";
            r.topic_len = 3;
            break;
        default:
            g.epoch = 0;
            r.n_receipters = 0;
            break;
        }
        CHECKF(secmq_grant_body_build_v2(body, sizeof body, &len, &g, &r,
                                         owner_sk) == SECMQ_E_INVAL,
               "%s: built", cases[c].what);
        blen = craft(body, sizeof body, &g, &r);
        CHECKF(secmq_grant_body_parse_v2(body, blen, &p, &pr) == cases[c].want,
               "%s: parse gives %s, want %s", cases[c].what,
               secmq_grant_status_name(
                   secmq_grant_body_parse_v2(body, blen, &p, &pr)),
               secmq_grant_status_name(cases[c].want));
        if (cases[c].want != SECMQ_GRANT_MALFORMED) {
            body[blen - 1] ^= 0x01;
            CHECKF(secmq_grant_body_parse_v2(body, blen, &p, &pr) ==
                       SECMQ_GRANT_BAD_SIGNATURE,
                   "%s: bad signature not reported first", cases[c].what);
        }
    }
    /* need = number of receipters is the largest accepted. */
    fields(&g);
    receipts(&r);
    r.need = 2;
    blen = craft(body, sizeof body, &g, &r);
    CHECK_INT_EQ(secmq_grant_body_parse_v2(body, blen, &p, &pr),
                 SECMQ_GRANT_OK);
    CHECK_INT_EQ(pr.need, 2);
    CHECK_STR_EQ(secmq_grant_status_name(SECMQ_GRANT_BAD_RECEIPTS),
                 "bad_receipts");
}

int main(void)
{
    unsigned char sk[64];

    if (secmq_init() != SECMQ_OK) {
        return 1;
    }

    crypto_sign_keypair(owner_pk, owner_sk);
    crypto_sign_keypair(member_pk, member_sk);
    memcpy(rcpts[0], member_pk, 32);
    crypto_sign_keypair(rcpts[1], sk);
    memcpy(rcpts[2], rcpts[0], 32); /* a repeat, for the rules */
    RUN(test_round_trip);
    RUN(test_every_byte);
    RUN(test_rules);
    return check_exit();
}
