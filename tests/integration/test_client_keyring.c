/*
 * test_client_keyring.c -- what a client with a keyring hands on_message,
 * against a real broker.
 *
 * alice (subscriber, her keyring) and sam (publisher, his keyring) with
 * the channels k/status (signed) and k/mac/# (mac-only allowed). alice
 * gets: opened messages with sealed = 1, the sender and the seal mode
 * (signed or mac, a claim only); plain messages on k/plain/#, which she
 * allowed with secmq_client_allow_plain(); and nothing else: plaintext on
 * a covered topic and anything on a topic no channel covers go to
 * on_open_failure (SECMQ_OPEN_VERSION, SECMQ_OPEN_NO_CHANNEL) and the
 * counts. Then sam publishes from 4 threads at once through one client:
 * every message arrives once, opened, byte for byte. Run through
 * tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ERRLEN 512

/* One thing alice's client reported, copied out of the callback. */
typedef struct got {
    char topic[64];
    char payload[64];
    char sender[32]; /* "" when NULL */
    int sealed, seal_mode;
    int refused; /* 0: on_message; else the on_open_failure reason */
} got;

/* tu_client first: the library's user pointer is the tu_client. */
typedef struct recorder {
    tu_client t;
    got items[16];
    size_t n;
} recorder;

static void record(recorder *r, const got *g)
{
    pthread_mutex_lock(&r->t.mu);
    if (r->n < sizeof r->items / sizeof r->items[0]) {
        r->items[r->n++] = *g;
    }
    pthread_cond_broadcast(&r->t.cv);
    pthread_mutex_unlock(&r->t.mu);
}

static void on_message(secmq_client *c, void *user, const secmq_message *m)
{
    got g;

    (void)c;
    memset(&g, 0, sizeof g);
    snprintf(g.topic, sizeof g.topic, "%s", m->topic);
    snprintf(g.payload, sizeof g.payload, "%.*s", (int)m->payloadlen,
             (const char *)m->payload);
    snprintf(g.sender, sizeof g.sender, "%s",
             m->sender != NULL ? m->sender : "");
    g.sealed = m->sealed;
    g.seal_mode = m->seal_mode;
    record(user, &g);
}

static void on_open_failure(secmq_client *c, void *user, const char *topic,
                            int reason)
{
    got g;

    (void)c;
    memset(&g, 0, sizeof g);
    snprintf(g.topic, sizeof g.topic, "%s", topic);
    g.refused = reason;
    record(user, &g);
}

/* Wait (bounded) until r holds n items; 0 or -1. */
static int wait_items(recorder *r, size_t n)
{
    long long end = tu_now_ms() + TU_WAIT_MS;
    int ok;

    for (;;) {
        pthread_mutex_lock(&r->t.mu);
        ok = r->n >= n;
        pthread_mutex_unlock(&r->t.mu);
        if (ok || tu_now_ms() >= end) {
            return ok ? 0 : -1;
        }
        tu_sleep_ms(20);
    }
}

/* sam creates filter (publisher sam, subscriber alice); grants in out. */
static int channel(const char *filter, int allow_mac, const char *out)
{
    char err[ERRLEN];
    const char *pubs[1], *subs[1];
    secmq_channel_spec spec;

    pubs[0] = tu_at("sam.pub");
    subs[0] = tu_at("alice.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = filter;
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    spec.allow_mac = allow_mac;
    if (secmq_channel_create(tu_at("sam"), &spec, tu_at(out), NULL, NULL, err,
                             sizeof err) != SECMQ_OK) {
        fprintf(stderr, "channel %s: %s\n", filter, err);
        return -1;
    }
    return 0;
}

static int world(void)
{
    char err[ERRLEN];
    const char *files[3];

    if (tu_identity_make("sam") != 0 || tu_identity_make("alice") != 0 ||
        channel("k/status", 0, "g1") != 0 || channel("k/mac/#", 1, "g2") != 0) {
        return -1;
    }
    files[0] = tu_at("sam.pub");
    files[1] = tu_at("g1/alice.grant");
    files[2] = tu_at("g2/alice.grant");
    if (secmq_keyring_import(tu_at("alice"), files, 3, NULL, NULL, err,
                             sizeof err) != SECMQ_OK) {
        fprintf(stderr, "import: %s\n", err);
        return -1;
    }
    return 0;
}

static int publish(tu_client *p, const char *topic, const char *text, int raw)
{
    int before = tu_published(p);
    int rc =
        raw ? secmq_client_publish_raw(p->c, NULL, topic, text, strlen(text), 1,
                                       0)
            : secmq_client_publish(p->c, NULL, topic, text, strlen(text), 1, 0);

    if (rc != SECMQ_OK) {
        return rc;
    }
    return tu_wait_published(p, before + 1, TU_WAIT_MS) == 0 ? SECMQ_OK
                                                             : SECMQ_E_TIMEOUT;
}

static void check_item(const got *g, const char *topic, const char *payload,
                       int sealed, int mode, const char *sender, int refused)
{
    CHECK_STR_EQ(g->topic, topic);
    CHECK_INT_EQ(g->refused, refused);
    if (refused == 0) {
        CHECK_STR_EQ(g->payload, payload);
        CHECK_INT_EQ(g->sealed, sealed);
        CHECK_INT_EQ(g->seal_mode, mode);
        CHECK_STR_EQ(g->sender, sender);
    }
}

static secmq_keyring *sam_kr, *alice_kr;

/* A new client of user (client id from prefix) with keyring kr and, when
 * not NULL, the two callbacks. SECMQ_OK or the failure. */
static int keyed_client(tu_client *t, const char *user, const char *prefix,
                        secmq_keyring *kr, secmq_message_cb on_m,
                        secmq_open_failure_cb on_f)
{
    secmq_config cfg;
    int rc;

    tu_config(&cfg, user);
    cfg.client_id = tu_id(prefix);
    rc = tu_client_new(t, &cfg);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (on_m != NULL) {
        secmq_client_on_message(t->c, on_m);
    }
    if (on_f != NULL) {
        secmq_client_on_open_failure(t->c, on_f);
    }
    return secmq_client_set_keyring(t->c, kr);
}

static void test_what_on_message_gets(void)
{
    static recorder alice;
    tu_client sam = {0};
    uint64_t counts[SECMQ_OPEN_REASON_COUNT];

    CHECK_RC(keyed_client(&alice.t, "alice", "kr-alice", alice_kr, on_message,
                          on_open_failure),
             SECMQ_OK);
    CHECK_RC(secmq_client_allow_plain(alice.t.c, "a/#/b"), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_allow_plain(alice.t.c, NULL), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_allow_plain(NULL, "x"), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_allow_plain(alice.t.c, "k/plain/#"), SECMQ_OK);
    /* Filters never open a covered topic to plaintext. */
    CHECK_RC(secmq_client_allow_plain(alice.t.c, "k/status"), SECMQ_OK);
    CHECK_RC(tu_connect(&alice.t, TU_WAIT_MS), SECMQ_OK);
    CHECK_RC(secmq_client_allow_plain(alice.t.c, "late/#"), SECMQ_E_STATE);
    CHECK_INT_EQ(tu_subscribe(&alice.t, "k/#", 1, TU_WAIT_MS), 1);

    CHECK_RC(keyed_client(&sam, "sam", "kr-sam", sam_kr, NULL, NULL), SECMQ_OK);
    CHECK_RC(tu_connect(&sam, TU_WAIT_MS), SECMQ_OK);

    CHECK_RC(publish(&sam, "k/status", "signed", 0), SECMQ_OK);
    CHECK_RC(secmq_keyring_set_mode(sam_kr, SECMQ_SEAL_MAC), SECMQ_OK);
    CHECK_RC(publish(&sam, "k/mac/t", "mac-only", 0), SECMQ_OK);
    CHECK_RC(secmq_keyring_set_mode(sam_kr, SECMQ_SEAL_SIGNED), SECMQ_OK);
    /* No channel covers these: sam's client publishes them as they are. */
    CHECK_RC(publish(&sam, "k/plain/x", "allowed plain", 0), SECMQ_OK);
    CHECK_RC(publish(&sam, "k/other", "not allowed", 0), SECMQ_OK);
    CHECK_RC(publish(&sam, "k/status", "impostor", 1), SECMQ_OK);
    CHECK_RC(publish(&sam, "k/plain/end", "end", 0), SECMQ_OK);
    /* alice only subscribes to k/status: her publish there is refused,
     * never sent as plaintext (alice would get a seventh message). */
    CHECK_RC(secmq_client_publish(alice.t.c, NULL, "k/status", "x", 1, 1, 0),
             SECMQ_E_NO_KEY);

    if (wait_items(&alice, 6) != 0) {
        CHECKF(0, "alice reported %zu of 6 messages", alice.n);
    } else {
        pthread_mutex_lock(&alice.t.mu);
        check_item(&alice.items[0], "k/status", "signed", 1, SECMQ_SEAL_SIGNED,
                   "sam", 0);
        check_item(&alice.items[1], "k/mac/t", "mac-only", 1, SECMQ_SEAL_MAC,
                   "sam", 0);
        check_item(&alice.items[2], "k/plain/x", "allowed plain", 0, 0, "", 0);
        check_item(&alice.items[3], "k/other", NULL, 0, 0, NULL,
                   SECMQ_OPEN_NO_CHANNEL);
        check_item(&alice.items[4], "k/status", NULL, 0, 0, NULL,
                   SECMQ_OPEN_VERSION);
        check_item(&alice.items[5], "k/plain/end", "end", 0, 0, "", 0);
        pthread_mutex_unlock(&alice.t.mu);
    }
    tu_sleep_ms(200);
    CHECK_INT_EQ((long)alice.n, 6);
    CHECK_INT_EQ(
        secmq_client_open_counts_v2(alice.t.c, counts, SECMQ_OPEN_REASON_COUNT),
        SECMQ_OPEN_REASON_COUNT);
    {
        /* The first call's callers have 12 entries: it writes no more. */
        uint64_t v1[SECMQ_OPEN_REASON_COUNT];
        v1[12] = 777;
        CHECK_RC(secmq_client_open_counts(alice.t.c, v1), SECMQ_OK);
        CHECK_INT_EQ((long)v1[12], 777);
        CHECK_INT_EQ((long)v1[SECMQ_OPEN_OK], (long)counts[SECMQ_OPEN_OK]);
    }
    CHECK_INT_EQ((long)counts[SECMQ_OPEN_OK], 2);
    CHECK_INT_EQ((long)counts[SECMQ_OPEN_NO_CHANNEL], 1);
    CHECK_INT_EQ((long)counts[SECMQ_OPEN_VERSION], 1);
    CHECK_STR_EQ(secmq_open_reason_name(SECMQ_OPEN_NO_CHANNEL), "no_channel");
    (void)secmq_client_disconnect(sam.c);
    (void)secmq_client_disconnect(alice.t.c);
    tu_client_free(&sam);
    tu_client_free(&alice.t);
}

/* ---- publishers on several threads -------------------------------------
 * Each thread seals into a buffer of its own (client_seal.c): messages of
 * different sizes from 4 threads at once through one client must each
 * arrive once, opened, byte for byte. */
#define CP_THREADS 4
/* 60 in all, under the replay window of 64: a thread preempted between
 * taking its seq and publishing cannot fall out of the window. */
#define CP_EACH 15

typedef struct cp_sub {
    tu_client t; /* first: the library's user pointer */
    int got[CP_THREADS][CP_EACH];
    int opened, bad, reason; /* reason: the last open failure's */
} cp_sub;

typedef struct cp_pub {
    secmq_client *c;
    int t, rc;
} cp_pub;

/* Sizes differ per thread (8 to 57 KB: long enough seals to overlap). */
static size_t cp_len(int t, int i)
{
    return 8000u + 16000u * (size_t)t + (size_t)i;
}

static pthread_barrier_t cp_start;

static unsigned char cp_byte(int t, int i, size_t k)
{
    return (unsigned char)(t * 31 + i * 7 + (int)(k % 251));
}

static void cp_on_message(secmq_client *c, void *user, const secmq_message *m)
{
    cp_sub *s = user;
    const unsigned char *p = m->payload;
    int t, i, ok;

    (void)c;
    ok = m->sealed && m->payloadlen >= 2;
    t = ok ? p[0] : 0;
    i = ok ? p[1] : 0;
    ok = ok && t < CP_THREADS && i < CP_EACH && m->payloadlen == cp_len(t, i);
    for (size_t k = 2; ok && k < m->payloadlen; k++) {
        ok = p[k] == cp_byte(t, i, k);
    }
    pthread_mutex_lock(&s->t.mu);
    if (ok) {
        s->got[t][i]++;
        s->opened++;
    } else {
        s->bad++;
    }
    pthread_mutex_unlock(&s->t.mu);
}

static void cp_on_failure(secmq_client *c, void *user, const char *topic,
                          int reason)
{
    cp_sub *s = user;

    (void)c;
    (void)topic;
    pthread_mutex_lock(&s->t.mu);
    s->reason = reason;
    s->bad++;
    pthread_mutex_unlock(&s->t.mu);
}

static void *cp_publisher(void *arg)
{
    cp_pub *p = arg;
    static unsigned char bufs[CP_THREADS][8000 + 16000 * CP_THREADS + CP_EACH];
    unsigned char *buf = bufs[p->t];

    pthread_barrier_wait(&cp_start);
    for (int i = 0; i < CP_EACH && p->rc == SECMQ_OK; i++) {
        size_t len = cp_len(p->t, i);
        buf[0] = (unsigned char)p->t;
        buf[1] = (unsigned char)i;
        for (size_t k = 2; k < len; k++) {
            buf[k] = cp_byte(p->t, i, k);
        }
        p->rc = secmq_client_publish(p->c, NULL, "k/status", buf, len, 1, 0);
    }
    return NULL;
}

static void test_publishers_on_threads(void)
{
    static cp_sub sub;
    tu_client sam = {0};
    pthread_t th[CP_THREADS];
    cp_pub pubs[CP_THREADS];
    long long end;
    int opened = 0, bad = 0, once = 1;

    CHECK_RC(keyed_client(&sub.t, "alice", "kr-cp-alice", alice_kr,
                          cp_on_message, cp_on_failure),
             SECMQ_OK);
    CHECK_RC(tu_connect(&sub.t, TU_WAIT_MS), SECMQ_OK);
    CHECK_INT_EQ(tu_subscribe(&sub.t, "k/status", 1, TU_WAIT_MS), 1);
    CHECK_RC(keyed_client(&sam, "sam", "kr-cp-sam", sam_kr, NULL, NULL),
             SECMQ_OK);
    CHECK_RC(tu_connect(&sam, TU_WAIT_MS), SECMQ_OK);

    CHECK(pthread_barrier_init(&cp_start, NULL, CP_THREADS) == 0);
    for (int t = 0; t < CP_THREADS; t++) {
        pubs[t].c = sam.c;
        pubs[t].t = t;
        pubs[t].rc = SECMQ_OK;
        CHECK(pthread_create(&th[t], NULL, cp_publisher, &pubs[t]) == 0);
    }
    for (int t = 0; t < CP_THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    pthread_barrier_destroy(&cp_start);
    for (int t = 0; t < CP_THREADS; t++) {
        CHECK_RC(pubs[t].rc, SECMQ_OK);
    }
    end = tu_now_ms() + TU_WAIT_MS;
    while (opened < CP_THREADS * CP_EACH && bad == 0 && tu_now_ms() < end) {
        tu_sleep_ms(20);
        pthread_mutex_lock(&sub.t.mu);
        opened = sub.opened;
        bad = sub.bad;
        pthread_mutex_unlock(&sub.t.mu);
    }
    tu_sleep_ms(200); /* nothing more may come */
    pthread_mutex_lock(&sub.t.mu);
    opened = sub.opened;
    bad = sub.bad;
    for (int t = 0; t < CP_THREADS; t++) {
        for (int i = 0; i < CP_EACH; i++) {
            once = once && sub.got[t][i] == 1;
        }
    }
    pthread_mutex_unlock(&sub.t.mu);
    (void)secmq_client_disconnect(sam.c);
    (void)secmq_client_disconnect(sub.t.c);
    tu_client_free(&sam);
    tu_client_free(&sub.t);
    CHECKF(bad == 0, "%d not opened or not as sent (last refusal: %s)", bad,
           secmq_open_reason_name(sub.reason));
    CHECK_INT_EQ(opened, CP_THREADS * CP_EACH);
    CHECK(once);
}

int main(void)
{
    if (tu_tmpdir_make("client-keyring") != 0) {
        return 1;
    }
    if (world() != 0 || (sam_kr = tu_keyring_open("sam")) == NULL ||
        (alice_kr = tu_keyring_open("alice")) == NULL) {
        fprintf(stderr, "could not set up the keyrings in %s\n", tu_tmpdir());
        return 1;
    }
    RUN(test_what_on_message_gets);
    RUN(test_publishers_on_threads);
    secmq_keyring_free(sam_kr);
    secmq_keyring_free(alice_kr);
    tu_tmpdir_done("keyrings");
    return check_exit();
}
