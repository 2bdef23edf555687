/*
 * test_keyring.c -- unit tests for the keyring (keystore.c, keyring.c,
 * keyadmin.c, seqstate.c): keyrings made in a temp dir with the management
 * API (owner sam publishes "status", alice subscribes, eve is outside),
 * then sealed and opened through the runtime API. Forged envelopes are
 * built with the pure envelope API from keys read out of the test's own
 * files. The grant codec itself is test_grant.c's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <secmq.h>

#include "testutil.h"

#define ERRLEN 512
#define MSG "lights on"

static int files_equal(const char *a, const char *b)
{
    unsigned char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    int same;

    if (tu_read_file(a, &x, &xl) != 0 || tu_read_file(b, &y, &yl) != 0) {
        free(x);
        free(y);
        return 0;
    }
    same = xl == yl && memcmp(x, y, xl) == 0;
    free(x);
    free(y);
    return same;
}

static int copy_file(const char *from, const char *to)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int rc = tu_read_file(from, &d, &n);

    if (rc == 0) {
        rc = tu_write_file(to, d, n);
    }
    free(d);
    return rc;
}

/* The Ed25519 secret key of the identity in <tmpdir>/<name>. */
static int secret_key(const char *name, unsigned char sk[64])
{
    char path[300];
    unsigned char *text = NULL, seed[32], pk[32];
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

/* Channel key and key id out of a grant file for member name. */
static int grant_key(const char *grant, const char *name, unsigned char key[32],
                     unsigned char key_id[8])
{
    unsigned char sk[64], *g = NULL, body[4096];
    secmq_grant_fields f;
    size_t len = 0, blen = 0;
    int rc = -1;

    if (secret_key(name, sk) != 0 ||
        tu_read_file(tu_at(grant), &g, &len) != 0) {
        return -1;
    }
    if (secmq_grant_open(body, sizeof body, &blen, g, len, sk) ==
            SECMQ_GRANT_OK &&
        secmq_grant_body_parse(body, blen, &f) == SECMQ_GRANT_OK) {
        memcpy(key, f.channel_key, 32);
        memcpy(key_id, f.key_id, 8);
        rc = 0;
    }
    free(g);
    return rc;
}

static int import1(const char *who, const char *file, char *err)
{
    const char *files[1];

    files[0] = tu_at(file);
    return secmq_keyring_import(tu_at(who), files, 1, NULL, NULL, err, ERRLEN);
}

static int import2(const char *who, const char *f1, const char *f2, char *err)
{
    const char *files[2];

    files[0] = tu_at(f1);
    files[1] = tu_at(f2);
    return secmq_keyring_import(tu_at(who), files, 2, NULL, NULL, err, ERRLEN);
}

/* Owner sam creates filter with the given publishers/subscribers (names;
 * their .pub files), grants to <tmpdir>/<out>. */
static int create_channel(const char *owner, const char *filter,
                          const char *pubs, const char *subs, int allow_mac,
                          const char *out)
{
    char err[ERRLEN], namebuf[8][64];
    const char *pv[4], *sv[4];
    secmq_channel_spec spec;
    size_t np = 0, ns = 0, k = 0;
    char list[256], *tok, *save = NULL;
    int rc;

    snprintf(list, sizeof list, "%s", pubs);
    for (tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        snprintf(namebuf[k], sizeof namebuf[k], "%s.pub", tok);
        pv[np++] = tu_at(namebuf[k++]);
    }
    snprintf(list, sizeof list, "%s", subs);
    for (tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        snprintf(namebuf[k], sizeof namebuf[k], "%s.pub", tok);
        sv[ns++] = tu_at(namebuf[k++]);
    }
    memset(&spec, 0, sizeof spec);
    spec.filter = filter;
    spec.publishers = pv;
    spec.n_publishers = np;
    spec.subscribers = sv;
    spec.n_subscribers = ns;
    spec.allow_mac = allow_mac;
    rc = secmq_channel_create(tu_at(owner), &spec, tu_at(out), NULL, NULL, err,
                              sizeof err);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "channel create: %s\n", err);
    }
    return rc;
}

static uint64_t env_seq(const unsigned char *env, size_t len)
{
    secmq_envelope_fields f;

    if (secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK) {
        return 0;
    }
    return f.seq;
}

static int env_key_id(const unsigned char *env, size_t len, unsigned char id[8])
{
    secmq_envelope_fields f;

    if (secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK) {
        return -1;
    }
    memcpy(id, f.key_id, 8);
    return 0;
}

/* The channel of kr with this filter. 0 or -1. */
static int find_chan(secmq_keyring *kr, const char *filter,
                     secmq_channel_info *ci)
{
    for (size_t i = 0; i < secmq_keyring_channel_count(kr); i++) {
        if (secmq_keyring_channel(kr, i, ci) == SECMQ_OK &&
            strcmp(ci->filter, filter) == 0) {
            return 0;
        }
    }
    return -1;
}

/* Seal MSG on topic with kr. */
static int seal(secmq_keyring *kr, const char *topic, unsigned char *out,
                size_t *len)
{
    return secmq_keyring_seal(kr, topic, MSG, strlen(MSG), out, 512, len);
}

/* Open env on topic with kr; the reason, or -1 if the return code does
 * not fit the reason. */
static int open_reason(secmq_keyring *kr, const char *topic,
                       const unsigned char *env, size_t len,
                       const char **sender)
{
    unsigned char pt[1024];
    size_t ptlen = 0;
    int reason = -1;
    int rc = secmq_keyring_open_msg(kr, topic, env, len, pt, sizeof pt, &ptlen,
                                    sender, &reason);

    if (rc == SECMQ_OK) {
        if (reason != SECMQ_OPEN_OK || ptlen != strlen(MSG) ||
            memcmp(pt, MSG, ptlen) != 0) {
            return -1;
        }
        return SECMQ_OPEN_OK;
    }
    if (rc == SECMQ_E_NO_KEY) {
        return reason == SECMQ_OPEN_UNKNOWN_KEY ? 100 : -1;
    }
    return rc == SECMQ_E_OPEN ? reason : -1;
}

/* The world every test starts from: sam owns "status" (sam publishes,
 * alice subscribes), alice imported sam.pub and her grant, eve exists. */
static int world(void)
{
    char err[ERRLEN];

    if (tu_identity_make("sam") != 0 || tu_identity_make("alice") != 0 ||
        tu_identity_make("eve") != 0) {
        return -1;
    }
    if (create_channel("sam", "status", "sam", "alice", 0, "g1") != SECMQ_OK) {
        return -1;
    }
    if (import2("alice", "sam.pub", "g1/alice.grant", err) != SECMQ_OK) {
        fprintf(stderr, "import: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- tests ----------------------------------------------------------------
 */

static void test_round_trip(void)
{
    secmq_keyring *sam = tu_keyring_open("sam"),
                  *alice = tu_keyring_open("alice");
    unsigned char env[512];
    const char *sender = NULL;
    size_t len = 0;

    CHECK(sam != NULL && alice != NULL);
    CHECK_STR_EQ(secmq_keyring_name(sam), "sam");
    CHECK_INT_EQ(secmq_keyring_covers(alice, "status"), 1);
    CHECK_INT_EQ(secmq_keyring_covers(alice, "status/x"), 0);
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    CHECK_INT_EQ(len, strlen(MSG) + SECMQ_ENV_OVERHEAD_SIGNED);
    CHECK_INT_EQ(open_reason(alice, "status", env, len, &sender),
                 SECMQ_OPEN_OK);
    CHECK_STR_EQ(sender, "sam");
    /* The owner is a member too and reads its own messages. */
    CHECK_INT_EQ(open_reason(sam, "status", env, len, &sender), SECMQ_OPEN_OK);
    /* Bound to the topic. */
    CHECK_INT_EQ(open_reason(alice, "status2", env, len, NULL), 100);
    secmq_keyring_free(sam);
    secmq_keyring_free(alice);
}

static void test_subscriber_cannot_seal(void)
{
    secmq_keyring *alice = tu_keyring_open("alice");
    unsigned char env[512];
    char msg[256];
    size_t len = 0;

    CHECK(alice != NULL);
    CHECK_INT_EQ(seal(alice, "status", env, &len), SECMQ_E_NO_KEY);
    secmq_keyring_errmsg(alice, msg, sizeof msg);
    CHECK_CONTAINS(msg, "not a publisher", 0);
    CHECK_INT_EQ(seal(alice, "elsewhere", env, &len), SECMQ_E_NO_KEY);
    secmq_keyring_errmsg(alice, msg, sizeof msg);
    CHECK_CONTAINS(msg, "no channel covers", 0);
    secmq_keyring_free(alice);
}

/* alice holds the key but is no publisher: her signed envelope opens
 * (AEAD and signature are fine) but is refused as unauthorised. */
static void test_non_publisher_refused(void)
{
    secmq_keyring *sam = tu_keyring_open("sam");
    unsigned char sk[64], pk[32], key[32], kid[8], sid[8], env[512];
    secmq_seal_params p;
    size_t len = 0;

    CHECK(sam != NULL);
    CHECK_INT_EQ(secret_key("alice", sk), 0);
    CHECK_INT_EQ(grant_key("g1/alice.grant", "alice", key, kid), 0);
    memcpy(pk, sk + 32, 32);
    secmq_identity_id(sid, pk);
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = key;
    p.key_id = kid;
    p.sender_id = sid;
    p.sender_sk = sk;
    p.seq = 1;
    p.time_ms = (uint64_t)time(NULL) * 1000u;
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &len, &p, "status", MSG,
                                     strlen(MSG)),
                 SECMQ_OK);
    CHECK_INT_EQ(open_reason(sam, "status", env, len, NULL),
                 SECMQ_OPEN_UNAUTHORISED);
    /* Mac-only on a channel that does not allow it: refused by policy. */
    p.mode = SECMQ_SEAL_MAC;
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &len, &p, "status", MSG,
                                     strlen(MSG)),
                 SECMQ_OK);
    CHECK_INT_EQ(open_reason(sam, "status", env, len, NULL),
                 SECMQ_OPEN_MODE_REFUSED);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(key, sizeof key);
    secmq_keyring_free(sam);
}

static void test_outsider(void)
{
    secmq_keyring *sam = tu_keyring_open("sam"), *eve;
    unsigned char env[512];
    size_t len = 0;

    CHECK(sam != NULL);
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    secmq_keyring_free(sam);
    eve = tu_keyring_open("eve");
    CHECK(eve != NULL);
    /* No channel covers the topic: not the keyring's business. */
    CHECK_INT_EQ(open_reason(eve, "status", env, len, NULL), 100);
    secmq_keyring_free(eve);
    /* With her own channel on '#', eve sees the topic but not the key. */
    CHECK_INT_EQ(create_channel("eve", "#", "eve", "", 0, "geve"), SECMQ_OK);
    eve = tu_keyring_open("eve");
    CHECK(eve != NULL);
    CHECK_INT_EQ(open_reason(eve, "status", env, len, NULL),
                 SECMQ_OPEN_UNKNOWN_KEY);
    secmq_keyring_free(eve);
}

static void test_replay(void)
{
    secmq_keyring *sam = tu_keyring_open("sam"),
                  *alice = tu_keyring_open("alice");
    unsigned char env[512], env2[512];
    size_t len = 0, len2 = 0;

    CHECK(sam != NULL && alice != NULL);
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    CHECK_INT_EQ(seal(sam, "status", env2, &len2), SECMQ_OK);
    CHECK(env_seq(env2, len2) > env_seq(env, len));
    /* Out of order within the window is fine, twice is not. */
    CHECK_INT_EQ(open_reason(alice, "status", env2, len2, NULL), SECMQ_OPEN_OK);
    CHECK_INT_EQ(open_reason(alice, "status", env, len, NULL), SECMQ_OPEN_OK);
    CHECK_INT_EQ(open_reason(alice, "status", env, len, NULL),
                 SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(open_reason(alice, "status", env2, len2, NULL),
                 SECMQ_OPEN_REPLAY);
    /* The replay top survives a restart of the receiver. */
    secmq_keyring_free(alice);
    alice = tu_keyring_open("alice");
    CHECK(alice != NULL);
    CHECK_INT_EQ(open_reason(alice, "status", env2, len2, NULL),
                 SECMQ_OPEN_REPLAY);
    secmq_keyring_free(alice);
    secmq_keyring_free(sam);
}

/* Every accepted message is journaled (one 48-byte record and a commit
 * record per single-threaded open) before open_msg returns; free folds the
 * journal into state/replay (the new journal starting with the known
 * seqs); a tampered replay file refuses the keyring,
 * naming it. (test_rjournal.c: crashes, torn and damaged journals.) */
static void test_replay_state(void)
{
    secmq_keyring *sam = tu_keyring_open("sam"),
                  *alice = tu_keyring_open("alice");
    unsigned char env[512];
    char err[ERRLEN];
    size_t len = 0;
    struct stat st;
    off_t first = 0;

    CHECK(sam != NULL && alice != NULL);
    unlink(tu_at("alice/state/replay"));
    for (unsigned i = 0; i < 10; i++) {
        CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
        CHECK_INT_EQ(open_reason(alice, "status", env, len, NULL),
                     SECMQ_OPEN_OK);
        if (i == 0) {
            /* The first receive compacted: the journal starts with the
             * seqs known from earlier tests (one group), then this one. */
            CHECK(stat(tu_at("alice/state/replay.journal"), &st) == 0);
            first = st.st_size;
        }
    }
    CHECK(stat(tu_at("alice/state/replay.journal"), &st) == 0);
    CHECK_INT_EQ(st.st_size, first + 9 * 2 * 48);
    secmq_keyring_free(alice);
    secmq_keyring_free(sam);
    CHECK(stat(tu_at("alice/state/replay"), &st) == 0);
    CHECK(stat(tu_at("alice/state/replay.journal"), &st) == 0);
    /* Started again with the seqs known accepted (these 10 at least, at
     * most the window's 64), as one group. */
    CHECK(st.st_size >= 48 + 11 * 48 && st.st_size <= 48 + 65 * 48);
    CHECK_INT_EQ(st.st_size % 48, 0);

    CHECK_INT_EQ(copy_file(tu_at("alice/state/replay"), tu_at("replay.bak")),
                 0);
    {
        unsigned char *d = NULL;
        size_t n = 0;
        CHECK_INT_EQ(tu_read_file(tu_at("alice/state/replay"), &d, &n), 0);
        d[n / 2] ^= 0x01;
        CHECK_INT_EQ(tu_write_file(tu_at("alice/state/replay"), d, n), 0);
        free(d);
    }
    CHECK_INT_EQ(secmq_keyring_open(&alice, tu_at("alice"), err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK(alice == NULL);
    CHECK_CONTAINS(err, "state/replay", 0);
    CHECK_INT_EQ(copy_file(tu_at("replay.bak"), tu_at("alice/state/replay")),
                 0);
    alice = tu_keyring_open("alice");
    CHECK(alice != NULL);
    secmq_keyring_free(alice);
}

/* PROTOCOL.md §4: a block is persisted before its first number is used,
 * and not again until it is used up; seq grows across restarts. */
static void test_seq_blocks(void)
{
    secmq_keyring *sam = tu_keyring_open("sam");
    unsigned char env[512];
    char err[ERRLEN];
    uint64_t first, last = 0;
    size_t len = 0;

    CHECK(sam != NULL);
    secmq_keyring_free(sam);
    unlink(tu_at("sam/state/seq"));
    sam = tu_keyring_open("sam");
    CHECK(sam != NULL);
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    first = env_seq(env, len);
    CHECK(first > 0);
    CHECK_INT_EQ(copy_file(tu_at("sam/state/seq"), tu_at("seq.1")), 0);
    for (unsigned i = 1; i < SECMQ_SEQ_BLOCK; i++) {
        CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
        last = env_seq(env, len);
    }
    CHECK_INT_EQ(last, first + SECMQ_SEQ_BLOCK - 1);
    /* The whole block used, the file not written again. */
    CHECK(files_equal(tu_at("sam/state/seq"), tu_at("seq.1")));
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    CHECK_INT_EQ(env_seq(env, len), last + 1);
    last = env_seq(env, len);
    CHECK(!files_equal(tu_at("sam/state/seq"), tu_at("seq.1")));
    secmq_keyring_free(sam);

    sam = tu_keyring_open("sam");
    CHECK(sam != NULL);
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    CHECK(env_seq(env, len) > last);
    secmq_keyring_free(sam);

    /* A tampered sequence file is refused, naming it. */
    {
        unsigned char *d = NULL;
        size_t n = 0;
        CHECK_INT_EQ(tu_read_file(tu_at("sam/state/seq"), &d, &n), 0);
        d[n - 1] ^= 0x80;
        CHECK_INT_EQ(tu_write_file(tu_at("sam/state/seq"), d, n), 0);
        free(d);
    }
    sam = NULL;
    CHECK_INT_EQ(secmq_keyring_open(&sam, tu_at("sam"), err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "state/seq", 0);
    unlink(tu_at("sam/state/seq"));
}

/* Only one process (here: keyring object) publishes per identity. */
static void test_one_publisher(void)
{
    secmq_keyring *a = tu_keyring_open("sam"), *b = tu_keyring_open("sam");
    unsigned char env[512];
    char msg[256];
    size_t len = 0;

    CHECK(a != NULL && b != NULL);
    CHECK_INT_EQ(seal(a, "status", env, &len), SECMQ_OK);
    CHECK_INT_EQ(seal(b, "status", env, &len), SECMQ_E_IO);
    secmq_keyring_errmsg(b, msg, sizeof msg);
    CHECK_CONTAINS(msg, "another process", 0);
    secmq_keyring_free(a);
    CHECK_INT_EQ(seal(b, "status", env, &len), SECMQ_OK);
    secmq_keyring_free(b);
}

/* Rotation: new messages use the new key; the old key is accepted until
 * the grace deadline (1 s here) and refused after it. */
static void test_rotation(void)
{
    secmq_keyring *sam = tu_keyring_open("sam"), *alice;
    unsigned char old1[512], old2[512], fresh[512];
    unsigned char k_old[8], k_new[8];
    size_t l1 = 0, l2 = 0, lf = 0;
    char err[ERRLEN];
    secmq_channel_info ci;

    CHECK(sam != NULL);
    CHECK_INT_EQ(seal(sam, "status", old1, &l1), SECMQ_OK);
    CHECK_INT_EQ(seal(sam, "status", old2, &l2), SECMQ_OK);
    secmq_keyring_free(sam);
    CHECK_INT_EQ(secmq_channel_rotate(tu_at("sam"), "status", 1000, tu_at("g2"),
                                      NULL, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("alice", "g2/alice.grant", err), SECMQ_OK);

    sam = tu_keyring_open("sam");
    alice = tu_keyring_open("alice");
    CHECK(sam != NULL && alice != NULL);
    CHECK_INT_EQ(find_chan(alice, "status", &ci), 0);
    CHECK_INT_EQ(ci.epoch, 2);
    CHECK(ci.has_prev && ci.prev_held);
    CHECK_INT_EQ(seal(sam, "status", fresh, &lf), SECMQ_OK);
    CHECK_INT_EQ(env_key_id(old1, l1, k_old), 0);
    CHECK_INT_EQ(env_key_id(fresh, lf, k_new), 0);
    CHECK(memcmp(k_old, k_new, 8) != 0);
    CHECK(memcmp(ci.key_id, k_new, 8) == 0);
    CHECK(memcmp(ci.prev_key_id, k_old, 8) == 0);
    CHECK_INT_EQ(open_reason(alice, "status", fresh, lf, NULL), SECMQ_OPEN_OK);
    CHECK_INT_EQ(open_reason(alice, "status", old1, l1, NULL), SECMQ_OPEN_OK);
    /* Past the deadline (bounded wait: 1 s grace + margin). */
    while ((uint64_t)time(NULL) * 1000u <= ci.prev_deadline_ms + 1000u) {
        tu_sleep_ms(100);
    }
    CHECK_INT_EQ(open_reason(alice, "status", old2, l2, NULL),
                 SECMQ_OPEN_KEY_EXPIRED);
    CHECK_INT_EQ(open_reason(alice, "status", fresh, lf, NULL),
                 SECMQ_OPEN_REPLAY);
    secmq_keyring_free(alice);
    secmq_keyring_free(sam);

    /* The epoch 1 grant again: an older grant, refused. */
    CHECK_INT_EQ(import1("alice", "g1/alice.grant", err), SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "older or replayed", 0);
    /* The epoch 2 grant again: replayed, refused. */
    CHECK_INT_EQ(import1("alice", "g2/alice.grant", err), SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "older or replayed", 0);
}

static void test_revoke(void)
{
    secmq_keyring *sam, *alice;
    unsigned char env[512];
    char err[ERRLEN];
    struct stat st;
    size_t len = 0;

    CHECK_INT_EQ(secmq_channel_revoke(tu_at("sam"), "status", "alice", 0,
                                      tu_at("g3"), NULL, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK(stat(tu_at("g3/sam.grant"), &st) == 0);
    CHECK(stat(tu_at("g3/alice.grant"), &st) != 0);
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("sam"), "status", "alice", 0,
                                      tu_at("g3"), NULL, NULL, err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "not a member", 0);
    sam = tu_keyring_open("sam");
    alice = tu_keyring_open("alice");
    CHECK(sam != NULL && alice != NULL);
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    CHECK_INT_EQ(open_reason(alice, "status", env, len, NULL),
                 SECMQ_OPEN_UNKNOWN_KEY);
    secmq_keyring_free(alice);
    secmq_keyring_free(sam);
}

static void test_identity_mode(void)
{
    secmq_keyring *kr = NULL;
    char err[ERRLEN], text[256];

    CHECK_INT_EQ(chmod(tu_at("alice/identity"), 0644), 0);
    CHECK_INT_EQ(secmq_keyring_open(&kr, tu_at("alice"), err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK(kr == NULL);
    CHECK_CONTAINS(err, "alice/identity", 0);
    CHECK_CONTAINS(err, "0644", 0);
    CHECK_INT_EQ(secmq_identity_export(tu_at("alice"), text, sizeof text, NULL,
                                       err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_INT_EQ(chmod(tu_at("alice/identity"), 0600), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    secmq_keyring_free(kr);
    /* Never overwritten. */
    CHECK_INT_EQ(
        secmq_identity_create(tu_at("alice"), "alice", err, sizeof err),
        SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "exists", 0);
    CHECK_INT_EQ(secmq_identity_create(tu_at("x"), "bad/name", err, sizeof err),
                 SECMQ_E_INVAL);
}

/* A keyring directory group or others may enter is refused by every way
 * in (open, export, secmq_identity_create on an existing directory), with
 * the path, the mode and the fix; 0700 opens again. A new one is 0700
 * whatever the umask. */
static void test_dir_mode(void)
{
    static const unsigned modes[] = {0755, 0750, 0711, 0701, 0770, 0707};
    secmq_keyring *kr = NULL;
    char err[ERRLEN], text[256], want[32];
    struct stat st;
    mode_t old;

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        CHECK_INT_EQ(chmod(tu_at("alice"), (mode_t)modes[i]), 0);
        CHECK_INT_EQ(secmq_keyring_open(&kr, tu_at("alice"), err, sizeof err),
                     SECMQ_E_KEYRING);
        CHECK(kr == NULL);
        snprintf(want, sizeof want, "mode %04o", modes[i]);
        CHECK_CONTAINS(err, want, 0);
        CHECK_CONTAINS(err, tu_at("alice"), 0);
        CHECK_CONTAINS(err, "chmod 700", 0);
        CHECK_INT_EQ(secmq_identity_export(tu_at("alice"), text, sizeof text,
                                           NULL, err, sizeof err),
                     SECMQ_E_KEYRING);
        CHECK_CONTAINS(err, "chmod 700", 0);
    }
    CHECK_INT_EQ(chmod(tu_at("alice"), 0700), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    secmq_keyring_free(kr);

    /* init into an existing directory made with the usual umask. */
    CHECK_INT_EQ(mkdir(tu_at("wide"), 0755), 0);
    CHECK_INT_EQ(chmod(tu_at("wide"), 0755), 0);
    CHECK_INT_EQ(secmq_identity_create(tu_at("wide"), "wide", err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "chmod 700", 0);
    CHECK(stat(tu_at("wide/identity"), &st) != 0);

    old = umask(0);
    CHECK_INT_EQ(
        secmq_identity_create(tu_at("fresh"), "fresh", err, sizeof err),
        SECMQ_OK);
    umask(old);
    CHECK_INT_EQ(stat(tu_at("fresh"), &st), 0);
    CHECK_INT_EQ((int)(st.st_mode & 07777), 0700);
    kr = tu_keyring_open("fresh");
    CHECK(kr != NULL);
    secmq_keyring_free(kr);
}

/* Every changed byte of a grant is refused, with the reason for its
 * region; so are truncation and an appended byte. */
static void test_tampered_grant(void)
{
    unsigned char *g = NULL, *t;
    size_t len = 0;
    char err[ERRLEN];

    CHECK_INT_EQ(create_channel("sam", "tamper/#", "sam", "eve", 0, "gt"),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("eve", "sam.pub", err), SECMQ_OK);
    CHECK_INT_EQ(tu_read_file(tu_at("gt/eve.grant"), &g, &len), 0);
    t = malloc(len + 1);
    CHECK(t != NULL);
    for (size_t i = 0; i < len; i++) {
        memcpy(t, g, len);
        t[i] ^= (unsigned char)(i % 2 ? 0x01 : 0xff);
        CHECK_INT_EQ(tu_write_file(tu_at("bad.grant"), t, len), 0);
        CHECKF(import1("eve", "bad.grant", err) == SECMQ_E_KEYRING,
               "byte %zu accepted", i);
        if (i < 8) {
            CHECK_CONTAINS(err, "neither", 0);
        } else if (i < 16) {
            CHECK_CONTAINS(err, "someone else", 0);
        } else {
            CHECK_CONTAINS(err, "does not open", 0);
        }
    }
    CHECK_INT_EQ(tu_write_file(tu_at("bad.grant"), g, len - 1), 0);
    CHECK_INT_EQ(import1("eve", "bad.grant", err), SECMQ_E_KEYRING);
    memcpy(t, g, len);
    t[len] = 0;
    CHECK_INT_EQ(tu_write_file(tu_at("bad.grant"), t, len + 1), 0);
    CHECK_INT_EQ(import1("eve", "bad.grant", err), SECMQ_E_KEYRING);
    free(t);
    free(g);
    /* Nothing was stored; the intact one is accepted. */
    CHECK_INT_EQ(import1("eve", "gt/eve.grant", err), SECMQ_OK);
}

static void test_someone_else_and_untrusted(void)
{
    char err[ERRLEN];

    /* alice's grant is not eve's. */
    CHECK_INT_EQ(import1("eve", "g1/alice.grant", err), SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "someone else", 0);
    /* A grant for eve from an owner eve does not trust. */
    CHECK_INT_EQ(tu_identity_make("mallory"), 0);
    CHECK_INT_EQ(create_channel("mallory", "status", "mallory", "eve", 0, "gm"),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("eve", "gm/eve.grant", err), SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "untrusted owner", 0);
    /* Trusting the owner in the same call is enough. */
    CHECK_INT_EQ(import2("eve", "gm/eve.grant", "mallory.pub", err), SECMQ_OK);
    /* Another key under a known peer's name is refused. */
    CHECK_INT_EQ(tu_identity_make("x2"), 0);
    {
        unsigned char *d = NULL;
        size_t n = 0;
        char text[300], *k;
        CHECK_INT_EQ(tu_read_file(tu_at("x2.pub"), &d, &n), 0);
        d[n] = 0;
        k = strstr((char *)d, "ed25519: ");
        CHECK(k != NULL);
        snprintf(text, sizeof text, "secmq-public 1\nname: sam\n%s", k);
        free(d);
        CHECK_INT_EQ(tu_write_file(tu_at("fake.pub"), text, strlen(text)), 0);
    }
    CHECK_INT_EQ(import1("eve", "fake.pub", err), SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "already known", 0);
    /* The same peer again and one's own public file are no-ops; a secret
     * identity file is refused. */
    CHECK_INT_EQ(import1("eve", "sam.pub", err), SECMQ_OK);
    CHECK_INT_EQ(import1("eve", "eve.pub", err), SECMQ_OK);
    CHECK_INT_EQ(import1("eve", "eve/identity", err), SECMQ_E_KEYRING);
    CHECK_CONTAINS(err, "SECRET", 0);
}

/* The most specific channel wins when several cover a topic. */
static void test_specificity(void)
{
    secmq_keyring *sam;
    secmq_channel_info ci;
    unsigned char env[512], kid[8];
    size_t len = 0;
    const char *want;

    CHECK_INT_EQ(create_channel("sam", "home/#", "sam", "", 0, "gs"), SECMQ_OK);
    CHECK_INT_EQ(create_channel("sam", "home/+/light", "sam", "", 0, "gs"),
                 SECMQ_OK);
    CHECK_INT_EQ(create_channel("sam", "home/kitchen/+", "sam", "", 0, "gs"),
                 SECMQ_OK);
    sam = tu_keyring_open("sam");
    CHECK(sam != NULL);
    /* home/+/light and home/kitchen/+ both have 2 literal levels; the
     * longer filter wins. */
    struct {
        const char *topic, *filter;
    } cases[] = {{"home/kitchen/light", "home/kitchen/+"},
                 {"home/hall/light", "home/+/light"},
                 {"home/kitchen/fan", "home/kitchen/+"},
                 {"home/x", "home/#"},
                 {"home", "home/#"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK_INT_EQ(seal(sam, cases[c].topic, env, &len), SECMQ_OK);
        CHECK_INT_EQ(env_key_id(env, len, kid), 0);
        want = NULL;
        for (size_t i = 0; i < secmq_keyring_channel_count(sam); i++) {
            CHECK_INT_EQ(secmq_keyring_channel(sam, i, &ci), SECMQ_OK);
            if (memcmp(ci.key_id, kid, 8) == 0) {
                want = ci.filter;
            }
        }
        CHECK_STR_EQ(want, cases[c].filter);
    }
    secmq_keyring_free(sam);
}

/*
 * A keyring decides with what it loaded: a channel granted (or a rotation)
 * after it was opened changes the seal only once the keyring is opened
 * again, and then at once: a more specific channel that sam does not
 * publish on refuses the topic the broader one sealed before, and a
 * rotated key seals with the new key (whose message key is derived once
 * at open).
 */
static void test_reload_changes_seal(void)
{
    secmq_keyring *sam, *again;
    secmq_channel_info ci;
    unsigned char env[512], kid[8];
    size_t len = 0;
    char err[ERRLEN];
    int rc;

    CHECK_INT_EQ(create_channel("sam", "zone/#", "sam", "alice", 0, "gz"),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("alice", "gz/alice.grant", err), SECMQ_OK);
    sam = tu_keyring_open("sam");
    CHECK(sam != NULL);
    rc = seal(sam, "zone/a", env, &len);
    if (rc == SECMQ_OK && find_chan(sam, "zone/#", &ci) == 0 &&
        env_key_id(env, len, kid) == 0) {
        rc = memcmp(kid, ci.key_id, 8) == 0 ? 0 : -1;
    }
    if (rc != SECMQ_OK) {
        secmq_keyring_free(sam);
        CHECK_INT_EQ(rc, SECMQ_OK);
    }
    /* zone/a: alice publishes, sam (owner) only subscribes. */
    CHECK_INT_EQ(create_channel("sam", "zone/a", "alice", "sam", 0, "gz2"),
                 SECMQ_OK);
    len = 0;
    rc = seal(sam, "zone/a", env, &len);
    secmq_keyring_free(sam); /* one publishing keyring per identity */
    CHECK_INT_EQ(rc, SECMQ_OK);
    again = tu_keyring_open("sam");
    CHECK(again != NULL);
    rc = seal(again, "zone/a", env, &len);
    if (rc == SECMQ_E_NO_KEY) {
        rc = secmq_keyring_may_publish(again, "zone/a");
    }
    if (rc == SECMQ_E_NO_KEY) {
        rc = seal(again, "zone/b", env, &len) == SECMQ_OK ? 0 : -1;
    }
    secmq_keyring_free(again);
    CHECK_INT_EQ(rc, 0);

    /* Rotation: the reopened keyring seals under the new key, and alice
     * (new grant imported) opens it. */
    CHECK_INT_EQ(secmq_channel_rotate(tu_at("sam"), "zone/#", 0, tu_at("gz3"),
                                      NULL, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("alice", "gz3/alice.grant", err), SECMQ_OK);
    sam = tu_keyring_open("sam");
    again = tu_keyring_open("alice");
    CHECK(sam != NULL && again != NULL);
    rc = seal(sam, "zone/b", env, &len);
    if (rc == SECMQ_OK && find_chan(sam, "zone/#", &ci) == 0 &&
        env_key_id(env, len, kid) == 0) {
        rc = ci.epoch == 2 && memcmp(kid, ci.key_id, 8) == 0 ? 0 : -1;
    }
    if (rc == SECMQ_OK) {
        rc = open_reason(again, "zone/b", env, len, NULL);
    }
    secmq_keyring_free(again);
    secmq_keyring_free(sam);
    CHECK_INT_EQ(rc, SECMQ_OPEN_OK);
}

/* Mac-only: used only where the grant allows it, and proves membership. */
static void test_mac_mode(void)
{
    secmq_keyring *sam, *alice;
    unsigned char env[512];
    const char *sender = NULL;
    char err[ERRLEN];
    size_t len = 0;

    CHECK_INT_EQ(create_channel("sam", "fast/#", "sam", "alice", 1, "gf"),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("alice", "gf/alice.grant", err), SECMQ_OK);
    sam = tu_keyring_open("sam");
    alice = tu_keyring_open("alice");
    CHECK(sam != NULL && alice != NULL);
    CHECK_INT_EQ(secmq_keyring_set_mode(sam, SECMQ_SEAL_MAC), SECMQ_OK);
    CHECK_INT_EQ(seal(sam, "fast/x", env, &len), SECMQ_OK);
    CHECK_INT_EQ(len, strlen(MSG) + SECMQ_ENV_OVERHEAD_MAC);
    CHECK_INT_EQ(open_reason(alice, "fast/x", env, len, &sender),
                 SECMQ_OPEN_OK);
    CHECK_STR_EQ(sender, "sam");
    /* "status" does not allow it: sealed signed anyway. */
    CHECK_INT_EQ(seal(sam, "status", env, &len), SECMQ_OK);
    CHECK_INT_EQ(len, strlen(MSG) + SECMQ_ENV_OVERHEAD_SIGNED);
    CHECK_INT_EQ(secmq_keyring_set_mode(sam, (secmq_seal_mode)7),
                 SECMQ_E_INVAL);
    secmq_keyring_free(alice);
    secmq_keyring_free(sam);
}

static void test_max_age(void)
{
    secmq_keyring *alice;
    unsigned char sk[64], key[32], kid[8], sid[8], env[512];
    secmq_seal_params p;
    size_t len = 0;
    char err[ERRLEN];

    CHECK_INT_EQ(create_channel("sam", "aged", "sam", "alice", 0, "ga"),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("alice", "ga/alice.grant", err), SECMQ_OK);
    CHECK_INT_EQ(secret_key("sam", sk), 0);
    CHECK_INT_EQ(grant_key("ga/sam.grant", "sam", key, kid), 0);
    secmq_identity_id(sid, sk + 32);
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = key;
    p.key_id = kid;
    p.sender_id = sid;
    p.sender_sk = sk;
    p.seq = 5;
    p.time_ms = (uint64_t)time(NULL) * 1000u - 60000u;
    CHECK_INT_EQ(secmq_envelope_seal(env, sizeof env, &len, &p, "aged", MSG,
                                     strlen(MSG)),
                 SECMQ_OK);
    alice = tu_keyring_open("alice");
    CHECK(alice != NULL);
    CHECK_INT_EQ(secmq_keyring_set_max_age(alice, 10000), SECMQ_OK);
    CHECK_INT_EQ(open_reason(alice, "aged", env, len, NULL),
                 SECMQ_OPEN_TOO_OLD);
    CHECK_INT_EQ(secmq_keyring_set_max_age(alice, 0), SECMQ_OK);
    CHECK_INT_EQ(open_reason(alice, "aged", env, len, NULL), SECMQ_OPEN_OK);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(key, sizeof key);
    secmq_keyring_free(alice);
}

#define THREADS 4
#define PER_THREAD 300

struct sealer {
    secmq_keyring *kr;
    unsigned char env[PER_THREAD][160];
    size_t len[PER_THREAD];
    int rc;
};

static void *seal_thread(void *arg)
{
    struct sealer *s = arg;

    for (int i = 0; i < PER_THREAD && s->rc == SECMQ_OK; i++) {
        s->rc = secmq_keyring_seal(s->kr, "busy", MSG, strlen(MSG), s->env[i],
                                   sizeof s->env[i], &s->len[i]);
    }
    return NULL;
}

static int cmp_env(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    uint64_t sx = env_seq(x, strlen(MSG) + SECMQ_ENV_OVERHEAD_SIGNED);
    uint64_t sy = env_seq(y, strlen(MSG) + SECMQ_ENV_OVERHEAD_SIGNED);

    return sx < sy ? -1 : sx > sy;
}

/* Sealing from several threads at once: the sequence numbers are all
 * distinct and consecutive, and every envelope opens exactly once. */
static void test_threads(void)
{
    static struct sealer s[THREADS];
    static unsigned char *all[THREADS * PER_THREAD];
    secmq_keyring *sam, *alice;
    pthread_t th[THREADS];
    size_t n = 0, len = strlen(MSG) + SECMQ_ENV_OVERHEAD_SIGNED;
    char err[ERRLEN];

    CHECK_INT_EQ(create_channel("sam", "busy", "sam", "alice", 0, "gb"),
                 SECMQ_OK);
    CHECK_INT_EQ(import1("alice", "gb/alice.grant", err), SECMQ_OK);
    sam = tu_keyring_open("sam");
    alice = tu_keyring_open("alice");
    CHECK(sam != NULL && alice != NULL);
    for (int t = 0; t < THREADS; t++) {
        s[t].kr = sam;
        s[t].rc = SECMQ_OK;
        CHECK_INT_EQ(pthread_create(&th[t], NULL, seal_thread, &s[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK_INT_EQ(s[t].rc, SECMQ_OK);
        for (int i = 0; i < PER_THREAD; i++) {
            CHECK_INT_EQ(s[t].len[i], len);
            all[n++] = s[t].env[i];
        }
    }
    qsort(all, n, sizeof all[0], cmp_env);
    for (size_t i = 1; i < n; i++) {
        CHECK_INT_EQ(env_seq(all[i], len), env_seq(all[i - 1], len) + 1);
    }
    for (size_t i = 0; i < n; i++) {
        CHECK_INT_EQ(open_reason(alice, "busy", all[i], len, NULL),
                     SECMQ_OPEN_OK);
    }
    for (size_t i = n - 10; i < n; i++) {
        CHECK_INT_EQ(open_reason(alice, "busy", all[i], len, NULL),
                     SECMQ_OPEN_REPLAY);
    }
    secmq_keyring_free(alice);
    secmq_keyring_free(sam);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    if (tu_tmpdir_make("keyring") != 0) {
        return 1;
    }
    if (world() != 0) {
        fprintf(stderr, "could not set up the keyrings in %s\n", tu_tmpdir());
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_subscriber_cannot_seal);
    RUN(test_non_publisher_refused);
    RUN(test_outsider);
    RUN(test_replay);
    RUN(test_replay_state);
    RUN(test_seq_blocks);
    RUN(test_one_publisher);
    RUN(test_identity_mode);
    RUN(test_dir_mode);
    RUN(test_tampered_grant);
    RUN(test_someone_else_and_untrusted);
    RUN(test_specificity);
    RUN(test_mac_mode);
    RUN(test_reload_changes_seal);
    RUN(test_max_age);
    RUN(test_threads);
    RUN(test_rotation);
    RUN(test_revoke);
    tu_tmpdir_done("keyrings");
    return check_exit();
}
