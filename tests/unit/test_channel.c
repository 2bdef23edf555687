/*
 * test_channel.c -- channels as the keyring sees them, through the public
 * API: tests/vectors/channel-v1.json (filter matching with $-topics,
 * PROTOCOL.md §3.1, and the most specific channel, §4.1) checked by
 * building real keyrings and sealing on each topic; a grant whose
 * may-publish flag disagrees with its publishers list (validly signed by
 * the owner) refused at import and at load (§5.1); no grace written as
 * grace_ms 0 (§3); who is a known identity (§4.2 step 5), whose
 * publishers list applies during a grace period, and which keys a member
 * holds after two rotations (§3). Usage: unit_channel CHANNEL_VECTORS_JSON
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "testutil.h"
#include "tinyjson.h"

#define ERRLEN 512

static const char *vectors_path;
static unsigned keyrings; /* identities made so far: unique names */

/* owner creates filter with itself as the one publisher (and member). */
static int own_channel(const char *owner, const char *filter)
{
    char err[ERRLEN], pub[300], out[300];
    const char *pv[1];
    secmq_channel_spec spec;
    int rc;

    snprintf(pub, sizeof pub, "%s.pub", owner);
    snprintf(out, sizeof out, "%s-out", owner);
    pv[0] = tu_at(pub);
    memset(&spec, 0, sizeof spec);
    spec.filter = filter;
    spec.publishers = pv;
    spec.n_publishers = 1;
    rc = secmq_channel_create(tu_at(owner), &spec, tu_at(out), NULL, NULL, err,
                              sizeof err);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "channel '%s': %s\n", filter, err);
    }
    return rc;
}

/* A fresh keyring holding one own channel per filter; NULL on failure. */
static secmq_keyring *keyring_with(const char *const *filters, size_t n)
{
    char name[32];

    snprintf(name, sizeof name, "k%u", keyrings++);
    if (tu_identity_make(name) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (own_channel(name, filters[i]) != SECMQ_OK) {
            return NULL;
        }
    }
    return tu_keyring_open(name);
}

/* The filter whose key sealed topic in kr, "(none)" when nothing may
 * seal it, or "(error)". */
static const char *chosen(secmq_keyring *kr, const char *topic)
{
    unsigned char env[512];
    secmq_envelope_fields f;
    secmq_channel_info ci;
    size_t len = 0;
    int rc = secmq_keyring_seal(kr, topic, "x", 1, env, sizeof env, &len);

    if (rc == SECMQ_E_NO_KEY && !secmq_keyring_covers(kr, topic)) {
        return "(none)";
    }
    if (rc != SECMQ_OK || secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK) {
        return "(error)";
    }
    for (size_t i = 0; i < secmq_keyring_channel_count(kr); i++) {
        if (secmq_keyring_channel(kr, i, &ci) == SECMQ_OK &&
            memcmp(ci.key_id, f.key_id, 8) == 0) {
            return ci.filter;
        }
    }
    return "(error)";
}

/* §3.1: one keyring per distinct filter; covers() is the match. */
static void test_matching_vectors(void)
{
    tj_value *doc = tj_load(vectors_path);
    const tj_value *m = doc != NULL ? tj_get(doc, "matching", TJ_ARR) : NULL;
    size_t checked = 0;

    CHECKF(m != NULL && m->n > 0, "%s: no \"matching\"", vectors_path);
    for (size_t i = 0; m != NULL && i < m->n; i++) {
        const tj_value *e = m->v[i], *f, *t, *want;
        secmq_keyring *kr;
        int dup = 0;

        f = tj_get(e, "filter", TJ_STR);
        CHECK(f != NULL);
        for (size_t k = 0; f != NULL && k < i; k++) {
            const tj_value *g = tj_get(m->v[k], "filter", TJ_STR);
            dup |= g != NULL && strcmp(g->str, f->str) == 0;
        }
        if (f == NULL || dup) {
            continue; /* checked with the first entry of its filter */
        }
        {
            const char *one[1] = {f->str};
            kr = keyring_with(one, 1);
        }
        CHECKF(kr != NULL, "keyring for '%s'", f->str);
        for (size_t k = i; kr != NULL && k < m->n; k++) {
            const tj_value *g = tj_get(m->v[k], "filter", TJ_STR);
            if (g == NULL || strcmp(g->str, f->str) != 0) {
                continue;
            }
            t = tj_get(m->v[k], "topic", TJ_STR);
            want = tj_get(m->v[k], "match", TJ_BOOL);
            CHECK(t != NULL && want != NULL);
            if (t == NULL || want == NULL) {
                continue;
            }
            CHECKF(secmq_keyring_covers(kr, t->str) == (want->num ? 1 : 0),
                   "filter '%s', topic '%s': want %s", f->str, t->str,
                   want->num ? "a match" : "no match");
            checked++;
        }
        secmq_keyring_free(kr);
    }
    CHECK_INT_EQ(checked, m != NULL ? m->n : 1);
    tj_free(doc);
}

/* §4.1: each set of filters in one keyring; the sealing key's filter. */
static void test_selection_vectors(void)
{
    tj_value *doc = tj_load(vectors_path);
    const tj_value *sel = doc != NULL ? tj_get(doc, "selection", TJ_ARR) : NULL;

    CHECKF(sel != NULL && sel->n > 0, "%s: no \"selection\"", vectors_path);
    for (size_t i = 0; sel != NULL && i < sel->n; i++) {
        const tj_value *fs = tj_get(sel->v[i], "filters", TJ_ARR);
        const tj_value *cs = tj_get(sel->v[i], "cases", TJ_ARR);
        const char *filters[16];
        secmq_keyring *kr;

        CHECK(fs != NULL && cs != NULL && fs->n <= 16);
        if (fs == NULL || cs == NULL || fs->n > 16) {
            continue;
        }
        for (size_t k = 0; k < fs->n; k++) {
            filters[k] = fs->v[k]->str;
        }
        kr = keyring_with(filters, fs->n);
        CHECK(kr != NULL);
        for (size_t k = 0; kr != NULL && k < cs->n; k++) {
            const tj_value *t = tj_get(cs->v[k], "topic", TJ_STR);
            const tj_value *x = tj_get(cs->v[k], "expect", TJ_STR);
            const char *want = x != NULL ? x->str : "(none)";
            CHECK(t != NULL);
            if (t != NULL) {
                CHECKF(strcmp(chosen(kr, t->str), want) == 0,
                       "set %zu, topic '%s': sealed with '%s', want '%s'", i,
                       t->str, chosen(kr, t->str), want);
            }
        }
        secmq_keyring_free(kr);
    }
    tj_free(doc);
}

/* The Ed25519 key pair of the identity in <tmpdir>/<name>. */
static int key_pair(const char *name, unsigned char pk[32],
                    unsigned char sk[64])
{
    char path[300];
    unsigned char *text = NULL, seed[32];
    const char *p;
    size_t len = 0, got = 0;
    int rc = -1;

    snprintf(path, sizeof path, "%s/identity", name);
    if (tu_read_file(tu_at(path), &text, &len) != 0) {
        return -1;
    }
    text[len] = 0;
    p = strstr((const char *)text, "ed25519-seed: ");
    if (p != NULL &&
        sodium_base642bin(seed, sizeof seed, p + 14, 44, NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0 &&
        got == 32) {
        crypto_sign_seed_keypair(pk, sk, seed);
        rc = 0;
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(text, len);
    free(text);
    return rc;
}

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (unsigned char)v;
        v >>= 8;
    }
}

/*
 * A grant for member on "status" from owner, encoded and signed by hand
 * (the codec refuses to build it): epoch 1, flags as given, the owner as
 * the only publisher. Written sealed to <tmpdir>/<file>.
 */
static int crafted_grant(const char *owner, const char *member, unsigned flags,
                         const char *file)
{
    unsigned char opk[32], osk[64], mpk[32], msk[64];
    unsigned char body[512], m[14 + 512], grant[600];
    size_t n = 145 + 6 + 32, glen = 0;

    if (key_pair(owner, opk, osk) != 0 || key_pair(member, mpk, msk) != 0) {
        return -1;
    }
    memset(body, 0, sizeof body);
    memcpy(body, "SECMQGB1", 8);
    memcpy(body + 8, opk, 32);
    memcpy(body + 40, mpk, 32);
    randombytes_buf(body + 72, 8 + 32); /* key id, channel key */
    put_be(body + 112, 1, 4);
    put_be(body + 116, 1700000000000u, 8);
    body[140] = (unsigned char)flags;
    put_be(body + 141, 6, 2);
    memcpy(body + 143, "status", 6);
    put_be(body + 149, 1, 2);
    memcpy(body + 151, opk, 32);
    memcpy(m, "secmq-grant-v1", 14);
    memcpy(m + 14, body, n);
    crypto_sign_detached(body + n, NULL, m, 14 + n, osk);
    sodium_memzero(osk, sizeof osk);
    sodium_memzero(msk, sizeof msk);
    if (secmq_grant_seal(grant, sizeof grant, &glen, body, n + 64, mpk) !=
        SECMQ_OK) {
        return -1;
    }
    sodium_memzero(body, sizeof body);
    return tu_write_file(tu_at(file), grant, glen);
}

/* DIR/grants/<cid>.grant of (owner, "status") in member's keyring. */
static const char *grant_path(const char *owner, const char *member)
{
    static char path[400];
    unsigned char opk[32], osk[64], h[32];
    char hex[17], rel[300];
    crypto_generichash_state st;

    if (key_pair(owner, opk, osk) != 0) {
        return "";
    }
    sodium_memzero(osk, sizeof osk);
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, opk, 32);
    crypto_generichash_update(&st, (const unsigned char *)"status", 6);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(hex, sizeof hex, h, 8);
    snprintf(rel, sizeof rel, "%s/grants/%s.grant", member, hex);
    snprintf(path, sizeof path, "%s", tu_at(rel));
    return path;
}

/* PROTOCOL.md §5.1: flag bit 0 must say what the publishers list says. */
static void test_publisher_mismatch(void)
{
    char err[ERRLEN];
    const char *files[2];
    secmq_keyring *kr = NULL;
    unsigned char *raw = NULL;
    size_t len = 0;

    CHECK_INT_EQ(tu_identity_make("pm-owner"), 0);
    CHECK_INT_EQ(tu_identity_make("pm-member"), 0);
    /* May publish, not listed: receivers would refuse all it sends. */
    CHECK_INT_EQ(crafted_grant("pm-owner", "pm-member", SECMQ_GRANT_MAY_PUBLISH,
                               "pm-flag.grant"),
                 0);
    /* Listed, may not publish. */
    CHECK_INT_EQ(crafted_grant("pm-owner", "pm-owner", 0, "pm-noflag.grant"),
                 0);
    files[0] = tu_at("pm-owner.pub");
    files[1] = tu_at("pm-flag.grant");
    CHECK_INT_EQ(secmq_keyring_import(tu_at("pm-member"), files, 2, NULL, NULL,
                                      err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "publisher_mismatch", 0);
    CHECK_CONTAINS(err, "publishers list", 0);
    CHECK_CONTAINS(err, "pm-flag.grant", 0);
    files[0] = tu_at("pm-noflag.grant");
    CHECK_INT_EQ(secmq_keyring_import(tu_at("pm-owner"), files, 1, NULL, NULL,
                                      err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "publisher_mismatch", 0);
    /* All or nothing: the peer of the refused call was not written. */
    kr = tu_keyring_open("pm-member");
    CHECK(kr != NULL);
    CHECK_INT_EQ(secmq_keyring_peer_count(kr), 0);
    CHECK_INT_EQ(secmq_keyring_covers(kr, "status"), 0);
    secmq_keyring_free(kr);
    kr = NULL;
    /* The same grant put in place by hand (as an earlier version would
     * have imported it): the keyring refuses to open, naming it. */
    files[0] = tu_at("pm-owner.pub");
    CHECK_INT_EQ(secmq_keyring_import(tu_at("pm-member"), files, 1, NULL, NULL,
                                      err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(tu_read_file(tu_at("pm-flag.grant"), &raw, &len), 0);
    CHECK_INT_EQ(tu_write_file(grant_path("pm-owner", "pm-member"), raw, len),
                 0);
    free(raw);
    CHECK_INT_EQ(secmq_keyring_open(&kr, tu_at("pm-member"), err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK(kr == NULL);
    CHECK_CONTAINS(err, "publisher_mismatch", 0);
    CHECK_CONTAINS(err, "/grants/", 0);
}

/* §3: rotation and revocation without grace write grace_ms 0; the
 * previous key is named (key_expired) and never accepted. */
static void test_no_grace(void)
{
    char err[ERRLEN];
    const char *files[2];
    secmq_channel_info ci;
    secmq_keyring *owner, *member, *old;
    unsigned char env[512], pt[512];
    size_t len = 0, ptlen = 0;
    int reason = -1;

    CHECK_INT_EQ(tu_identity_make("ng-owner"), 0);
    CHECK_INT_EQ(tu_identity_make("ng-member"), 0);
    CHECK_INT_EQ(own_channel("ng-owner", "status"), SECMQ_OK);
    /* The owner's keyring opened before the rotation seals under epoch 1. */
    old = tu_keyring_open("ng-owner");
    CHECK(old != NULL);
    CHECK_INT_EQ(secmq_channel_rotate(tu_at("ng-owner"), "status", 0,
                                      tu_at("ng-out"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_OK);
    owner = tu_keyring_open("ng-owner");
    CHECK(owner != NULL);
    if (old == NULL || owner == NULL) {
        secmq_keyring_free(old);
        secmq_keyring_free(owner);
        return;
    }
    CHECK_INT_EQ(secmq_keyring_channel(owner, 0, &ci), SECMQ_OK);
    CHECK_INT_EQ(ci.epoch, 2);
    CHECK_INT_EQ(ci.has_prev, 1);
    CHECK_INT_EQ(ci.prev_deadline_ms, 0);
    CHECK_INT_EQ(
        secmq_keyring_seal(old, "status", "x", 1, env, sizeof env, &len),
        SECMQ_OK);
    CHECK_INT_EQ(secmq_keyring_open_msg(owner, "status", env, len, pt,
                                        sizeof pt, &ptlen, NULL, &reason),
                 SECMQ_E_OPEN);
    CHECK_INT_EQ(reason, SECMQ_OPEN_KEY_EXPIRED);
    secmq_keyring_free(old);
    secmq_keyring_free(owner);
    /* A revoke that would leave subscribers but no publisher is refused. */
    files[0] = tu_at("ng-member.pub");
    {
        secmq_channel_spec spec;
        const char *pv[1] = {tu_at("ng-owner.pub")};
        memset(&spec, 0, sizeof spec);
        spec.filter = "other";
        spec.publishers = pv;
        spec.n_publishers = 1;
        spec.subscribers = files;
        spec.n_subscribers = 1;
        CHECK_INT_EQ(secmq_channel_create(tu_at("ng-owner"), &spec,
                                          tu_at("ng-out2"), NULL, NULL, err,
                                          sizeof err),
                     SECMQ_OK);
    }
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("ng-owner"), "other", "ng-owner", 0,
                                      tu_at("ng-out3"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "without a publisher", 0);
    files[0] = tu_at("ng-owner.pub");
    files[1] = tu_at("ng-out2/ng-member.grant");
    CHECK_INT_EQ(secmq_keyring_import(tu_at("ng-member"), files, 2, NULL, NULL,
                                      err, sizeof err),
                 SECMQ_OK);
    member = tu_keyring_open("ng-member");
    CHECK(member != NULL);
    CHECK_INT_EQ(secmq_keyring_covers(member, "other"), 1);
    secmq_keyring_free(member);
}

/* Open env (sealed "x") on topic with kr: the reason; *name the sender. */
static int open_one(secmq_keyring *kr, const char *topic,
                    const unsigned char *env, size_t len, const char **name)
{
    unsigned char pt[512];
    size_t ptlen = 0;
    int reason = -1;
    int rc = secmq_keyring_open_msg(kr, topic, env, len, pt, sizeof pt, &ptlen,
                                    name, &reason);

    return (rc == SECMQ_OK) == (reason == SECMQ_OPEN_OK) ? reason : -1;
}

/* Import files (tmpdir names) into who's keyring. */
static int import_n(const char *who, const char *a, const char *b)
{
    char err[ERRLEN];
    const char *files[2] = {tu_at(a), b != NULL ? tu_at(b) : NULL};
    int rc = secmq_keyring_import(tu_at(who), files, b != NULL ? 2 : 1, NULL,
                                  NULL, err, sizeof err);

    if (rc != SECMQ_OK) {
        fprintf(stderr, "import into %s: %s\n", who, err);
    }
    return rc;
}

/*
 * PROTOCOL.md §4.2 step 5 (a publisher known only from the grant is a
 * known identity, named by its hex id), step 6 with §3 (the newest
 * grant's publishers list applies under the previous key too), and §3's
 * keys held (after two rotations the oldest key is gone: unknown_key).
 */
static void test_known_identities_and_keys_held(void)
{
    const char *pv[2], *sv[1];
    secmq_channel_spec spec;
    secmq_keyring *kr;
    unsigned char e1a[256], e1b[256], e2[256], p1[256], p2[256], id[8];
    size_t l1a = 0, l1b = 0, l2 = 0, lp1 = 0, lp2 = 0;
    const char *name = NULL;
    char err[ERRLEN], hex[17];

    CHECK_INT_EQ(tu_identity_make("kh-owner"), 0);
    CHECK_INT_EQ(tu_identity_make("kh-pub"), 0);
    CHECK_INT_EQ(tu_identity_make("kh-sub"), 0);
    pv[0] = tu_at("kh-owner.pub");
    pv[1] = tu_at("kh-pub.pub");
    sv[0] = tu_at("kh-sub.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = "kh";
    spec.publishers = pv;
    spec.n_publishers = 2;
    spec.subscribers = sv;
    spec.n_subscribers = 1;
    CHECK_INT_EQ(secmq_channel_create(tu_at("kh-owner"), &spec, tu_at("kh-g1"),
                                      NULL, NULL, err, sizeof err),
                 SECMQ_OK);
    /* kh-sub trusts the owner only: kh-pub is known from the grant. */
    CHECK_INT_EQ(import_n("kh-sub", "kh-owner.pub", "kh-g1/kh-sub.grant"),
                 SECMQ_OK);
    CHECK_INT_EQ(import_n("kh-pub", "kh-owner.pub", "kh-g1/kh-pub.grant"),
                 SECMQ_OK);
    kr = tu_keyring_open("kh-owner");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    CHECK_INT_EQ(secmq_keyring_seal(kr, "kh", "x", 1, e1a, sizeof e1a, &l1a),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_keyring_seal(kr, "kh", "x", 1, e1b, sizeof e1b, &l1b),
                 SECMQ_OK);
    secmq_keyring_free(kr);
    kr = tu_keyring_open("kh-pub");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    CHECK_INT_EQ(secmq_keyring_seal(kr, "kh", "x", 1, p1, sizeof p1, &lp1),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_keyring_seal(kr, "kh", "x", 1, p2, sizeof p2, &lp2),
                 SECMQ_OK);
    secmq_keyring_id(kr, id);
    secmq_keyring_free(kr);
    sodium_bin2hex(hex, sizeof hex, id, 8);

    kr = tu_keyring_open("kh-sub");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    CHECK_INT_EQ(open_one(kr, "kh", p1, lp1, &name), SECMQ_OPEN_OK);
    CHECK_STR_EQ(name != NULL ? name : "(null)", hex);
    CHECK_INT_EQ(open_one(kr, "kh", e1a, l1a, &name), SECMQ_OPEN_OK);
    CHECK_STR_EQ(name != NULL ? name : "(null)", "kh-owner");
    secmq_keyring_free(kr);

    /* kh-pub revoked with a grace period: the epoch 1 key still opens,
     * but kh-pub is no longer in the list, also under that key. */
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("kh-owner"), "kh", "kh-pub", 60000,
                                      tu_at("kh-g2"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(import_n("kh-sub", "kh-g2/kh-sub.grant", NULL), SECMQ_OK);
    kr = tu_keyring_open("kh-owner");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    CHECK_INT_EQ(secmq_keyring_seal(kr, "kh", "x", 1, e2, sizeof e2, &l2),
                 SECMQ_OK);
    secmq_keyring_free(kr);
    kr = tu_keyring_open("kh-sub");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    /* Known only from the older grant: no longer a known identity. */
    CHECK_INT_EQ(open_one(kr, "kh", p2, lp2, &name), SECMQ_OPEN_UNKNOWN_SENDER);
    CHECK_INT_EQ(open_one(kr, "kh", e1a, l1a, &name), SECMQ_OPEN_REPLAY);
    secmq_keyring_free(kr);
    /* A trusted peer, but not in the newest list: unauthorised. */
    CHECK_INT_EQ(import_n("kh-sub", "kh-pub.pub", NULL), SECMQ_OK);
    kr = tu_keyring_open("kh-sub");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    CHECK_INT_EQ(open_one(kr, "kh", p2, lp2, &name), SECMQ_OPEN_UNAUTHORISED);
    secmq_keyring_free(kr);

    /* A second rotation: epoch 2 is the previous key, epoch 1 is gone. */
    CHECK_INT_EQ(secmq_channel_rotate(tu_at("kh-owner"), "kh", 60000,
                                      tu_at("kh-g3"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(import_n("kh-sub", "kh-g3/kh-sub.grant", NULL), SECMQ_OK);
    kr = tu_keyring_open("kh-sub");
    CHECK(kr != NULL);
    if (kr == NULL) {
        return;
    }
    CHECK_INT_EQ(open_one(kr, "kh", e1b, l1b, &name), SECMQ_OPEN_UNKNOWN_KEY);
    CHECK_INT_EQ(open_one(kr, "kh", e2, l2, &name), SECMQ_OPEN_OK);
    secmq_keyring_free(kr);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: unit_channel CHANNEL_VECTORS_JSON\n");
        return 2;
    }
    vectors_path = argv[1];
    if (sodium_init() < 0 || tu_tmpdir_make("channel") != 0) {
        return 1;
    }
    RUN(test_matching_vectors);
    RUN(test_selection_vectors);
    RUN(test_publisher_mismatch);
    RUN(test_no_grace);
    RUN(test_known_identities_and_keys_held);
    tu_tmpdir_done("keyrings");
    return check_exit();
}
