/*
 * test_ratchet.c -- channels with epochs (PROTOCOL.md §3.2): the ratchet's
 * arithmetic (ratchet.c, compiled in), SECMQGB3 grant bodies, and real
 * keyrings in a temp dir with epochs of one second: each epoch seals under
 * its own key id, a member keeps a chain file and no grant, keys past
 * their grace are refused (key_expired) also by a copy of the keyring, a
 * member added later opens nothing older, a revoked one nothing newer.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <secmq.h>

#include "ratchet_int.h"
#include "testutil.h"

#define ERRLEN 512
#define MSG "epoch message"
#define EPOCH_MS 1000u

/* ---- arithmetic ---------------------------------------------------------- */

static void test_steps(void)
{
    /* Epochs of 1000 ms from t = 5000. */
    CHECK_INT_EQ(secmq__ratchet_step_at(5000, 1000, 4000), 0);
    CHECK_INT_EQ(secmq__ratchet_step_at(5000, 1000, 5999), 0);
    CHECK_INT_EQ(secmq__ratchet_step_at(5000, 1000, 6000), 1);
    CHECK_INT_EQ(secmq__ratchet_step_at(5000, 1000, 15500), 10);
    /* Step s is erased once now > 5000 + (s + 1) * 1000 + grace. */
    CHECK_INT_EQ(secmq__ratchet_lowest(5000, 1000, 0, 0, 6000), 0);
    CHECK_INT_EQ(secmq__ratchet_lowest(5000, 1000, 0, 0, 6001), 1);
    CHECK_INT_EQ(secmq__ratchet_lowest(5000, 1000, 500, 0, 6500), 0);
    CHECK_INT_EQ(secmq__ratchet_lowest(5000, 1000, 500, 0, 6501), 1);
    CHECK_INT_EQ(secmq__ratchet_lowest(5000, 1000, 2500, 0, 15500), 7);
    /* Never below the step of the key held. */
    CHECK_INT_EQ(secmq__ratchet_lowest(5000, 1000, 0, 9, 6001), 9);
    CHECK(secmq__ratchet_erase_at(5000, 1000, 250, 3) == 9250);
    CHECK(secmq__ratchet_erase_at(UINT64_MAX - 10, 1000, 0, 3) == UINT64_MAX);
    CHECK(secmq__ratchet_valid(1000, 0));
    CHECK(secmq__ratchet_valid(1000, 1024000));
    CHECK(!secmq__ratchet_valid(999, 0));
    CHECK(!secmq__ratchet_valid(1000, 1024001));
    CHECK(!secmq__ratchet_valid(0x80000000u, 0));
}

static void test_chain(void)
{
    unsigned char k0[32], a[32], b[32], id1[8], id2[8], id3[8];
    static const unsigned char kid[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    randombytes_buf(k0, sizeof k0);
    memcpy(a, k0, 32);
    secmq__ratchet_advance(a, 5);
    memcpy(b, k0, 32);
    for (int i = 0; i < 5; i++) {
        secmq__ratchet_next(b, b);
    }
    CHECK_MEM_EQ(a, 32, b, 32);
    CHECK(memcmp(a, k0, 32) != 0);
    secmq__ratchet_step_id(id1, kid, 0);
    secmq__ratchet_step_id(id2, kid, 1);
    secmq__ratchet_step_id(id3, kid, 0);
    CHECK(memcmp(id1, id2, 8) != 0);
    CHECK_MEM_EQ(id1, 8, id3, 8);
}

/* ---- grant bodies ----------------------------------------------------------
 */

static void test_gb3(void)
{
    unsigned char opk[32], osk[64], mpk[32], msk[64], body[1024];
    secmq_grant_fields g, out;
    secmq_grant_receipts r;
    secmq_grant_ratchet rt = {2000, 500, 7}, rt2;
    size_t len = 0;

    crypto_sign_keypair(opk, osk);
    crypto_sign_keypair(mpk, msk);
    memset(&g, 0, sizeof g);
    memcpy(g.owner_pk, opk, 32);
    memcpy(g.member_pk, mpk, 32);
    randombytes_buf(g.key_id, 8);
    randombytes_buf(g.channel_key, 32);
    g.epoch = 1;
    g.created_ms = 1700000000000ull;
    g.filter = "light/#";
    g.filter_len = 7;
    g.publishers = opk;
    g.n_publishers = 1;
    CHECK_RC(
        secmq_grant_body_build_v3(body, sizeof body, &len, &g, NULL, &rt, osk),
        SECMQ_OK);
    CHECK(len == secmq_grant_body_size_v3(7, 1, NULL, &rt));
    CHECK(len == secmq_grant_body_size(7, 1) + 12);
    CHECK_MEM_EQ(body, 8, "SECMQGB3", 8);
    CHECK_INT_EQ(secmq_grant_body_parse_v3(body, len, &out, &r, &rt2),
                 SECMQ_GRANT_OK);
    CHECK_INT_EQ(rt2.period_ms, 2000);
    CHECK_INT_EQ(rt2.grace_ms, 500);
    CHECK_INT_EQ(rt2.step, 7);
    CHECK_MEM_EQ(out.channel_key, 32, g.channel_key, 32);
    /* Readers from before epochs refuse it (§6). */
    CHECK_INT_EQ(secmq_grant_body_parse(body, len, &out),
                 SECMQ_GRANT_MALFORMED);
    CHECK_INT_EQ(secmq_grant_body_parse_v2(body, len, &out, &r),
                 SECMQ_GRANT_MALFORMED);
    /* One flipped byte anywhere is refused. */
    for (size_t i = 0; i < len; i++) {
        body[i] ^= 0x40;
        CHECK(secmq_grant_body_parse_v3(body, len, &out, &r, &rt2) !=
              SECMQ_GRANT_OK);
        body[i] ^= 0x40;
    }
    /* The builder refuses what the parser would refuse. */
    rt.period_ms = 999;
    CHECK_RC(
        secmq_grant_body_build_v3(body, sizeof body, &len, &g, NULL, &rt, osk),
        SECMQ_E_INVAL);
    rt.period_ms = 1000;
    rt.grace_ms = 1024001;
    CHECK_RC(
        secmq_grant_body_build_v3(body, sizeof body, &len, &g, NULL, &rt, osk),
        SECMQ_E_INVAL);
    rt.grace_ms = 0;
    g.epoch = 2;
    randombytes_buf(g.prev_key_id, 8); /* a previous key: never with epochs */
    CHECK_RC(
        secmq_grant_body_build_v3(body, sizeof body, &len, &g, NULL, &rt, osk),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        strcmp(secmq_grant_status_name(SECMQ_GRANT_BAD_RATCHET), "bad_ratchet"),
        0);
}

/* ---- keyrings ------------------------------------------------------------ */

static int import_files(const char *who, const char *f1, const char *f2)
{
    char err[ERRLEN];
    const char *files[2];
    size_t n = 0;
    int rc;

    files[n++] = tu_at(f1);
    if (f2 != NULL) {
        files[n++] = tu_at(f2);
    }
    rc = secmq_keyring_import(tu_at(who), files, n, NULL, NULL, err, ERRLEN);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "import into %s: %s\n", who, err);
    }
    return rc;
}

static int seal(secmq_keyring *kr, unsigned char *out, size_t *len)
{
    return secmq_keyring_seal(kr, "light/status", MSG, strlen(MSG), out, 512,
                              len);
}

/* The reason kr gives env (SECMQ_OPEN_OK when it opens to MSG). */
static int open_reason(secmq_keyring *kr, const unsigned char *env, size_t len)
{
    unsigned char pt[512];
    size_t ptlen = 0;
    int reason = -1;
    int rc = secmq_keyring_open_msg(kr, "light/status", env, len, pt, sizeof pt,
                                    &ptlen, NULL, &reason);

    if (rc == SECMQ_OK) {
        return ptlen == strlen(MSG) && memcmp(pt, MSG, ptlen) == 0 ? reason
                                                                   : -1;
    }
    return reason;
}

/* Wait until the next epoch of a chain created at created_ms has begun
 * (plus a margin). */
static void next_epoch(uint64_t created_ms)
{
    struct timespec ts;
    uint64_t now, into;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    into = (now - created_ms) % EPOCH_MS;

    tu_sleep_ms((int)(EPOCH_MS - into) + 50);
}

/* The channel light/# of kr: its info and ratchet. */
static int chan(secmq_keyring *kr, secmq_channel_info *ci,
                secmq_channel_ratchet_info *ri)
{
    for (size_t i = 0; i < secmq_keyring_channel_count(kr); i++) {
        if (secmq_keyring_channel(kr, i, ci) == SECMQ_OK &&
            strcmp(ci->filter, "light/#") == 0) {
            return secmq_keyring_channel_ratchet(kr, i, ri);
        }
    }
    return -1;
}

/* How many files in dir end with suffix. */
static int count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t sl = strlen(suffix);
    int n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int copy_tree(const char *from, const char *to)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", from, to);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_keyrings(void)
{
    char err[ERRLEN];
    const char *pubs[1], *subs[1];
    secmq_channel_spec spec;
    secmq_channel_ratchet rt = {EPOCH_MS, 0};
    secmq_channel_info ci;
    secmq_channel_ratchet_info ri;
    secmq_keyring *sam, *alice, *copy, *carol;
    unsigned char e0[512], e1[512], e2[512], e3[512];
    size_t l0 = 0, l1 = 0, l2 = 0, l3 = 0;
    secmq_envelope_fields f0, f1;
    uint64_t created;

    CHECK(tu_identity_make("sam") == 0);
    CHECK(tu_identity_make("alice") == 0);
    CHECK(tu_identity_make("carol") == 0);
    pubs[0] = tu_at("sam.pub");
    subs[0] = tu_at("alice.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = "light/#";
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    /* Receipts and epochs do not mix; a period under 1 s is refused. */
    {
        secmq_channel_receipts rc_spec;
        secmq_channel_ratchet bad = {999, 0};
        memset(&rc_spec, 0, sizeof rc_spec);
        CHECK_RC(secmq_channel_create_v3(tu_at("sam"), &spec, &rc_spec, &rt,
                                         tu_at("g0"), NULL, NULL, err, ERRLEN),
                 SECMQ_E_INVAL);
        CHECK_RC(secmq_channel_create_v3(tu_at("sam"), &spec, NULL, &bad,
                                         tu_at("g0"), NULL, NULL, err, ERRLEN),
                 SECMQ_E_INVAL);
    }
    CHECK_RC(secmq_channel_create_v3(tu_at("sam"), &spec, NULL, &rt,
                                     tu_at("g1"), NULL, NULL, err, ERRLEN),
             SECMQ_OK);
    CHECK_RC(import_files("alice", "sam.pub", "g1/alice.grant"), SECMQ_OK);
    /* The member keeps a chain file, not the grant (§5.3). */
    CHECK_INT_EQ(count_suffix(tu_at("alice/grants"), ".chain"), 1);
    CHECK_INT_EQ(count_suffix(tu_at("alice/grants"), ".grant"), 0);

    sam = tu_keyring_open("sam");
    alice = tu_keyring_open("alice");
    CHECK(sam != NULL && alice != NULL);
    if (sam == NULL || alice == NULL) {
        return;
    }
    CHECK_RC(chan(alice, &ci, &ri), SECMQ_OK);
    created = ci.created_ms;
    CHECK(ri.on && ri.period_ms == EPOCH_MS && ri.grace_ms == 0);
    /* At the start of an epoch: it must not end (grace 0) between a seal
     * and its open, also on a slow (sanitized, emulated) run. */
    next_epoch(created);
    CHECK_RC(seal(sam, e0, &l0), SECMQ_OK);
    CHECK_INT_EQ(open_reason(alice, e0, l0), SECMQ_OPEN_OK);
    /* The envelope names the epoch by its step key id, not the chain's. */
    CHECK(secmq_envelope_parse(e0, l0, &f0) == SECMQ_OPEN_OK);
    CHECK(memcmp(f0.key_id, ci.key_id, 8) != 0);

    next_epoch(created);
    CHECK_RC(seal(sam, e1, &l1), SECMQ_OK);
    CHECK(secmq_envelope_parse(e1, l1, &f1) == SECMQ_OPEN_OK);
    CHECK(memcmp(f0.key_id, f1.key_id, 8) != 0);
    CHECK_INT_EQ(open_reason(alice, e1, l1), SECMQ_OPEN_OK);
    /* Epoch 0's key is past its grace (0): refused, erased. */
    CHECK_INT_EQ(open_reason(alice, e0, l0), SECMQ_OPEN_KEY_EXPIRED);
    CHECK_RC(chan(alice, &ci, &ri), SECMQ_OK);
    CHECK(ri.lowest >= 1 && ri.lowest == ri.step);

    /* A copy of alice's keyring (a stolen card) opens the current epoch
     * only; the files were rewritten as the chain moved. */
    secmq_keyring_free(alice);
    alice = NULL;
    CHECK(copy_tree(tu_at("alice"), tu_at("alice-copy")) == 0);
    copy = tu_keyring_open("alice-copy");
    CHECK(copy != NULL);
    if (copy != NULL) {
        CHECK_INT_EQ(open_reason(copy, e0, l0), SECMQ_OPEN_KEY_EXPIRED);
        secmq_keyring_free(copy);
    }

    /* carol joins: a fresh chain; she opens nothing sealed before. */
    subs[0] = tu_at("carol.pub");
    spec.subscribers = subs;
    spec.n_publishers = 0;
    CHECK_RC(secmq_channel_add(tu_at("sam"), &spec, 0, tu_at("g2"), NULL, NULL,
                               err, ERRLEN),
             SECMQ_OK);
    CHECK_RC(import_files("carol", "sam.pub", "g2/carol.grant"), SECMQ_OK);
    CHECK_RC(import_files("alice", "g2/alice.grant", NULL), SECMQ_OK);
    carol = tu_keyring_open("carol");
    secmq_keyring_free(sam);
    sam = tu_keyring_open("sam");
    alice = tu_keyring_open("alice");
    CHECK(carol != NULL && sam != NULL && alice != NULL);
    if (carol == NULL || sam == NULL || alice == NULL) {
        goto out;
    }
    CHECK_INT_EQ(open_reason(carol, e1, l1), SECMQ_OPEN_UNKNOWN_KEY);
    CHECK_RC(chan(sam, &ci, &ri), SECMQ_OK); /* the new chain */
    next_epoch(ci.created_ms);
    CHECK_RC(seal(sam, e2, &l2), SECMQ_OK);
    CHECK_INT_EQ(open_reason(carol, e2, l2), SECMQ_OPEN_OK);
    CHECK_INT_EQ(open_reason(alice, e2, l2), SECMQ_OPEN_OK);

    /* alice revoked: what sam seals from now on is not hers to open. */
    secmq_keyring_free(sam);
    sam = NULL;
    CHECK_RC(secmq_channel_revoke(tu_at("sam"), "light/#", "alice", 0,
                                  tu_at("g3"), NULL, NULL, err, ERRLEN),
             SECMQ_OK);
    sam = tu_keyring_open("sam");
    CHECK(sam != NULL);
    if (sam != NULL) {
        CHECK_RC(seal(sam, e3, &l3), SECMQ_OK);
        CHECK_INT_EQ(open_reason(alice, e3, l3), SECMQ_OPEN_UNKNOWN_KEY);
    }
out:
    secmq_keyring_free(sam);
    secmq_keyring_free(alice);
    secmq_keyring_free(carol);
}

/* The path of the one .chain file of keyring who (static buffer). */
static const char *chain_file(const char *who)
{
    static char path[700];
    char dir[400];
    DIR *d;
    struct dirent *de;

    snprintf(dir, sizeof dir, "%s/grants", tu_at(who));
    path[0] = 0;
    d = opendir(dir);
    if (d == NULL) {
        return path;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 6 && strcmp(de->d_name + l - 6, ".chain") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    return path;
}

/* A keyring left open and idle still erases on time: its thread rewrites
 * the chain file when an epoch's key is due, and the old file's bytes are
 * overwritten (a hard link to it reads zeros). */
static void test_idle_erasure(void)
{
    char err[ERRLEN], keep[720];
    const char *pubs[1], *subs[1];
    secmq_channel_spec spec;
    secmq_channel_ratchet rt = {EPOCH_MS, 0};
    secmq_keyring *bob;
    unsigned char *data = NULL;
    size_t len = 0, nonzero = 0;

    CHECK(tu_identity_make("own2") == 0);
    CHECK(tu_identity_make("bob") == 0);
    pubs[0] = tu_at("own2.pub");
    subs[0] = tu_at("bob.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = "idle/#";
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    CHECK_RC(secmq_channel_create_v3(tu_at("own2"), &spec, NULL, &rt,
                                     tu_at("g4"), NULL, NULL, err, ERRLEN),
             SECMQ_OK);
    CHECK_RC(import_files("bob", "own2.pub", "g4/bob.grant"), SECMQ_OK);
    bob = tu_keyring_open("bob");
    CHECK(bob != NULL);
    /* The keyring's own thread, by the name top -H shows (it names itself
     * once it runs: up to 2 s). */
    for (int i = 0; i < 100 && tu_threads_named("secmq-epochs") != 1; i++) {
        tu_sleep_ms(20);
    }
    CHECK_INT_EQ(tu_threads_named("secmq-epochs"), 1);
    snprintf(keep, sizeof keep, "%s.keep", chain_file("bob"));
    CHECK(link(chain_file("bob"), keep) == 0);
    tu_sleep_ms(2 * (int)EPOCH_MS + 300); /* nothing sealed or opened */
    CHECK(tu_read_file(keep, &data, &len) == 0 && len > 0);
    for (size_t i = 0; i < len; i++) {
        nonzero += data[i] != 0;
    }
    free(data);
    CHECKF(nonzero == 0,
           "the chain file was not rewritten while idle "
           "(%zu non-zero bytes left in the old one)",
           nonzero);
    unlink(keep);
    secmq_keyring_free(bob);
    /* Joined. Under qemu-user the host thread leaves /proc a moment after
     * the join returns: up to 2 s. */
    for (int i = 0; i < 100 && tu_threads_named("secmq-epochs") != 0; i++) {
        tu_sleep_ms(20);
    }
    CHECK_INT_EQ(tu_threads_named("secmq-epochs"), 0);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    if (tu_tmpdir_make("ratchet") != 0) {
        return 1;
    }
    RUN(test_steps);
    RUN(test_chain);
    RUN(test_gb3);
    RUN(test_keyrings);
    RUN(test_idle_erasure);
    tu_tmpdir_done("ratchet keyrings");
    return check_exit();
}
