/*
 * test_grant.c -- unit tests for grant.c, the pure grant codec of
 * PROTOCOL.md §5, through the public API: bodies build and parse back,
 * every changed, missing or extra byte is refused, the epoch and filter
 * rules hold, the field rules of §5.1 (epoch and previous key, flags,
 * publishers, may-publish flag = listed) refuse validly signed bodies with
 * their own reasons, and a sealed grant opens for its member only. Known
 * answers
 * are tests/vectors/grant-v1.json's (gen_grant_vectors --check); trust and
 * epochs are the keyring's (test_keyring.c).
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
static unsigned char other_pk[32], other_sk[64];
static unsigned char pubs[2][32];

static void fields(secmq_grant_fields *g, const char *filter)
{
    memset(g, 0, sizeof *g);
    memcpy(g->owner_pk, owner_pk, 32);
    memcpy(g->member_pk, member_pk, 32);
    memset(g->key_id, 0x11, 8);
    memset(g->channel_key, 0x22, 32);
    g->epoch = 3;
    g->created_ms = 1700000000000u;
    memset(g->prev_key_id, 0x33, 8);
    g->grace_ms = 1700000001000u;
    g->flags = SECMQ_GRANT_MAY_PUBLISH;
    g->filter = filter;
    g->filter_len = strlen(filter);
    g->publishers = &pubs[0][0];
    g->n_publishers = 2;
}

static void test_round_trip(void)
{
    secmq_grant_fields g, p;
    unsigned char body[512];
    size_t len = 0;

    fields(&g, "a/+/c");
    CHECK_INT_EQ(secmq_grant_body_size(5, 2), 145 + 5 + 64 + 64);
    CHECK_INT_EQ(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
                 SECMQ_OK);
    CHECK_INT_EQ(len, secmq_grant_body_size(5, 2));
    CHECK(memcmp(body, "SECMQGB1", 8) == 0);
    CHECK_INT_EQ(secmq_grant_body_parse(body, len, &p), SECMQ_GRANT_OK);
    CHECK_MEM_EQ(p.owner_pk, 32, owner_pk, 32);
    CHECK_MEM_EQ(p.member_pk, 32, member_pk, 32);
    CHECK_MEM_EQ(p.channel_key, 32, g.channel_key, 32);
    CHECK_INT_EQ(p.epoch, 3);
    CHECK_INT_EQ(p.created_ms, g.created_ms);
    CHECK_INT_EQ(p.grace_ms, g.grace_ms);
    CHECK_INT_EQ(p.flags, SECMQ_GRANT_MAY_PUBLISH);
    CHECK_MEM_EQ(p.filter, p.filter_len, "a/+/c", 5);
    CHECK_MEM_EQ(p.publishers, 32 * p.n_publishers, &pubs[0][0], 64);
    CHECK_INT_EQ(secmq_grant_body_build(body, len - 1, &len, &g, owner_sk),
                 SECMQ_E_OVERSIZE);
}

static void test_every_byte(void)
{
    secmq_grant_fields g, p;
    unsigned char body[512], bad[513];
    size_t len = 0;

    fields(&g, "home/#");
    CHECK_INT_EQ(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
                 SECMQ_OK);
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, body, len);
        bad[i] ^= 0x01;
        CHECKF(secmq_grant_body_parse(bad, len, &p) != SECMQ_GRANT_OK,
               "byte %zu changed still parses", i);
    }
    for (size_t n = 0; n < len; n++) {
        CHECKF(secmq_grant_body_parse(body, n, &p) == SECMQ_GRANT_MALFORMED,
               "truncated to %zu parses", n);
    }
    memcpy(bad, body, len);
    bad[len] = 0;
    CHECK_INT_EQ(secmq_grant_body_parse(bad, len + 1, &p),
                 SECMQ_GRANT_MALFORMED);
    /* The signature covers everything before it. */
    memcpy(bad, body, len);
    bad[120] ^= 0x01; /* inside created_ms */
    CHECK_INT_EQ(secmq_grant_body_parse(bad, len, &p),
                 SECMQ_GRANT_BAD_SIGNATURE);
}

static void test_rules(void)
{
    secmq_grant_fields g;
    unsigned char body[512];
    size_t len = 0;
    const char *bad_filters[] = {"a/#/b", "a+", "#a", "a/b#", ""};

    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        fields(&g, bad_filters[i]);
        CHECK_INT_EQ(
            secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
            SECMQ_E_INVAL);
    }
    fields(&g, "a");
    g.epoch = 0;
    CHECK_INT_EQ(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
                 SECMQ_E_INVAL);
    g.epoch = 1; /* with a previous key id */
    CHECK_INT_EQ(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
                 SECMQ_E_INVAL);
    memset(g.prev_key_id, 0, 8);
    g.grace_ms = 0;
    CHECK_INT_EQ(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_grant_body_size(0, 0), 0);
    CHECK_INT_EQ(secmq_grant_body_size(65536, 0), 0);
    CHECK_INT_EQ(secmq_grant_body_size(1, 65536), 0);
}

/* Encode and sign g by hand (PROTOCOL.md §5), without the codec's rules:
 * what a careless or hostile owner could sign. Returns the length. */
static size_t craft(unsigned char *b, size_t cap, const secmq_grant_fields *g)
{
    return tc_grant_craft(b, cap, g, NULL, owner_sk);
}

/* Validly signed bodies that break one field rule of §5.1 each. */
static void test_field_rules(void)
{
    unsigned char three[3][32], body[1024], *big;
    secmq_grant_fields g, p;
    size_t len = 0, blen;
    struct {
        const char *what;
        int want;
    } cases[] = {
        {"epoch 0", SECMQ_GRANT_BAD_EPOCH},
        {"epoch 1 naming a previous key", SECMQ_GRANT_BAD_EPOCH},
        {"a grace deadline without a previous key", SECMQ_GRANT_BAD_EPOCH},
        {"previous key id = key id", SECMQ_GRANT_BAD_EPOCH},
        {"flag bit 2", SECMQ_GRANT_BAD_FLAGS},
        {"flag bit 7", SECMQ_GRANT_BAD_FLAGS},
        {"no publisher", SECMQ_GRANT_BAD_PUBLISHERS},
        {"a publisher listed twice", SECMQ_GRANT_BAD_PUBLISHERS},
        {"may publish, not listed", SECMQ_GRANT_PUBLISHER_MISMATCH},
        {"listed, may not publish", SECMQ_GRANT_PUBLISHER_MISMATCH},
        {"epoch 0 and flag bit 2: the epoch first", SECMQ_GRANT_BAD_EPOCH},
    };

    memcpy(three[0], owner_pk, 32);
    memcpy(three[1], member_pk, 32);
    memcpy(three[2], owner_pk, 32);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fields(&g, "a/+/c");
        switch (c) {
        case 0:
            g.epoch = 0;
            break;
        case 1:
            g.epoch = 1;
            break;
        case 2:
            memset(g.prev_key_id, 0, 8);
            break;
        case 3:
            memcpy(g.prev_key_id, g.key_id, 8);
            break;
        case 4:
            g.flags |= 0x04u;
            break;
        case 5:
            g.flags |= 0x80u;
            break;
        case 6:
            g.n_publishers = 0;
            g.flags = 0;
            break;
        case 7:
            g.publishers = &three[0][0];
            g.n_publishers = 3;
            break;
        case 8:
            g.n_publishers = 1; /* the owner only */
            break;
        case 9:
            g.flags = 0;
            break;
        default:
            g.epoch = 0;
            g.flags |= 0x04u;
            break;
        }
        CHECKF(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk) ==
                   SECMQ_E_INVAL,
               "%s: built", cases[c].what);
        blen = craft(body, sizeof body, &g);
        CHECKF(secmq_grant_body_parse(body, blen, &p) == cases[c].want,
               "%s: parse gives %s, want %s", cases[c].what,
               secmq_grant_status_name(secmq_grant_body_parse(body, blen, &p)),
               secmq_grant_status_name(cases[c].want));
        /* The signature is checked before the fields. */
        body[blen - 1] ^= 0x01;
        CHECKF(secmq_grant_body_parse(body, blen, &p) ==
                   SECMQ_GRANT_BAD_SIGNATURE,
               "%s: bad signature not reported first", cases[c].what);
    }
    /* A long list (past the stack check) with and without a repeat. */
    big = calloc(600, 32);
    CHECK(big != NULL);
    for (size_t i = 0; i < 600; i++) {
        memcpy(big + 32 * i, member_pk, 32);
        big[32 * i] = (unsigned char)i;
        big[32 * i + 1] = (unsigned char)(i >> 8);
        big[32 * i + 2] ^= 0xffu; /* never the member's own key */
    }
    memcpy(big + 32 * 599, member_pk, 32);
    fields(&g, "x");
    g.publishers = big;
    g.n_publishers = 600;
    {
        unsigned char *b = malloc(145 + 1 + 600 * 32 + 64);
        CHECK(b != NULL);
        blen = craft(b, 145 + 1 + 600 * 32 + 64, &g);
        CHECK_INT_EQ(secmq_grant_body_parse(b, blen, &p), SECMQ_GRANT_OK);
        memcpy(big + 32 * 17, big + 32 * 420, 32);
        blen = craft(b, 145 + 1 + 600 * 32 + 64, &g);
        CHECK_INT_EQ(secmq_grant_body_parse(b, blen, &p),
                     SECMQ_GRANT_BAD_PUBLISHERS);
        free(b);
    }
    free(big);
    CHECK_STR_EQ(secmq_grant_status_name(SECMQ_GRANT_PUBLISHER_MISMATCH),
                 "publisher_mismatch");
    CHECK_STR_EQ(secmq_grant_status_name(99), "unknown");
}

static void test_seal_open(void)
{
    secmq_grant_fields g;
    unsigned char body[512], grant[600], got[600];
    size_t len = 0, glen = 0, blen = 0;
    unsigned char id[8];

    fields(&g, "x/y");
    CHECK_INT_EQ(secmq_grant_body_build(body, sizeof body, &len, &g, owner_sk),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_grant_file_size(len), len + 64);
    CHECK_INT_EQ(secmq_grant_seal(grant, len + 63, &glen, body, len, member_pk),
                 SECMQ_E_OVERSIZE);
    CHECK_INT_EQ(
        secmq_grant_seal(grant, sizeof grant, &glen, body, len, member_pk),
        SECMQ_OK);
    CHECK_INT_EQ(glen, len + 64);
    CHECK(memcmp(grant, "SECMQGR1", 8) == 0);
    secmq_identity_id(id, member_pk);
    CHECK_MEM_EQ(grant + 8, 8, id, 8);
    CHECK_INT_EQ(
        secmq_grant_open(got, sizeof got, &blen, grant, glen, member_sk),
        SECMQ_GRANT_OK);
    CHECK_MEM_EQ(got, blen, body, len);
    CHECK_INT_EQ(
        secmq_grant_open(got, sizeof got, &blen, grant, glen, other_sk),
        SECMQ_GRANT_NOT_FOR_US);
    /* Re-addressed to another member: still sealed to the first one. */
    secmq_identity_id(grant + 8, other_pk);
    CHECK_INT_EQ(
        secmq_grant_open(got, sizeof got, &blen, grant, glen, other_sk),
        SECMQ_GRANT_BAD_SEAL);
    secmq_identity_id(grant + 8, member_pk);
    grant[0] ^= 1;
    CHECK_INT_EQ(
        secmq_grant_open(got, sizeof got, &blen, grant, glen, member_sk),
        SECMQ_GRANT_MALFORMED);
    grant[0] ^= 1;
    grant[glen - 1] ^= 1;
    CHECK_INT_EQ(
        secmq_grant_open(got, sizeof got, &blen, grant, glen, member_sk),
        SECMQ_GRANT_BAD_SEAL);
    grant[glen - 1] ^= 1;
    CHECK_INT_EQ(secmq_grant_open(got, len - 1, &blen, grant, glen, member_sk),
                 SECMQ_GRANT_MALFORMED);
}

int main(void)
{
    if (secmq_init() != SECMQ_OK) {
        return 1;
    }
    crypto_sign_keypair(owner_pk, owner_sk);
    crypto_sign_keypair(member_pk, member_sk);
    crypto_sign_keypair(other_pk, other_sk);
    memcpy(pubs[0], owner_pk, 32);
    memcpy(pubs[1], member_pk, 32);
    RUN(test_round_trip);
    RUN(test_every_byte);
    RUN(test_rules);
    RUN(test_field_rules);
    RUN(test_seal_open);
    return check_exit();
}
