/*
 * test_client_verify.c -- a client's verify threads
 * (secmq_client_set_open_threads) against a real broker.
 *
 * sam, bob and carol publish on the channel v/# (signed; mac-only
 * allowed), alice subscribes. Envelopes are sealed beforehand with each
 * sender's keyring and published as they are by one plain client, at
 * QoS 1, so the broker hands them to alice in exactly the order written
 * here: originals of three senders, large and small (verified at very
 * different speeds), some mac-only (opened by the loop thread), with
 * immediate duplicates, replays of older ones and forgeries of later
 * ones interleaved. Every callback alice gets must match the script one
 * for one: first copies to on_message, copies refused as replays,
 * forgeries refused, in arrival order, never two callbacks at once. The
 * same script runs with four verify threads and a long sync interval
 * (the burst must share a few group commits, counted in alice's replay
 * journal) and with no verify thread and no interval. Then a full
 * queue (the application stalled) when secmq_client_free() is called:
 * everything queued is delivered, in order, before it returns, nothing
 * after. Last, a subscriber SIGKILLed while a burst waits for its group
 * commit. Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define ERRLEN 512
#define N_ORIG 240              /* originals, 80 per sender */
#define N_MAX (N_ORIG * 2 + 64) /* published, with copies */
#define BIG 40000               /* bytes of the large payloads */
#define N_FLOOD 1500            /* more than the queue's 1024 */

/* What alice should get for one published envelope. */
enum { WANT_OK = 0, WANT_REPLAY = 1, WANT_FORGED = 2 };

typedef struct env {
    unsigned char *b;
    size_t len;
    char topic[32];
} env;

/* One callback, copied out. */
typedef struct ev {
    int orig;   /* the index in v/<index> */
    int reason; /* 0: on_message */
    int good;   /* on_message: payload, sender and mode as sealed */
} ev;

/* tu_client first: the library's user pointer is the tu_client. */
typedef struct rec {
    tu_client t;
    ev evs[N_MAX + N_FLOOD];
    size_t n;
    atomic_int inside;  /* callbacks running now */
    atomic_int overlap; /* a callback started while another ran */
    atomic_int gate;    /* 1: the first on_message waits until 0 */
    atomic_int freed;   /* secmq_client_free returned */
    atomic_int late;    /* a callback after that */
} rec;

static secmq_keyring *kr_pub[3], *kr_alice;
static const char *names[3] = {"sam", "bob", "carol"};
static env orig[N_ORIG];
static int mode_of[N_ORIG];
static const char *sender_of[N_ORIG];

static void enter(rec *r)
{
    if (atomic_fetch_add(&r->inside, 1) != 0) {
        atomic_store(&r->overlap, 1);
    }
    if (atomic_load(&r->freed)) {
        atomic_store(&r->late, 1);
    }
}

static void push(rec *r, const ev *e)
{
    pthread_mutex_lock(&r->t.mu);
    if (r->n < sizeof r->evs / sizeof r->evs[0]) {
        r->evs[r->n++] = *e;
    }
    pthread_cond_broadcast(&r->t.cv);
    pthread_mutex_unlock(&r->t.mu);
    atomic_fetch_sub(&r->inside, 1);
}

/* The payload of original i: "<i>" then filler, large for every 7th. */
static size_t payload_of(int i, char *buf, size_t cap)
{
    size_t len = i % 7 == 3 ? BIG : 16 + (size_t)(i % 5) * 40;

    if (len > cap) {
        len = cap;
    }
    memset(buf, 'a' + i % 26, len);
    snprintf(buf, 12, "%d", i);
    return len;
}

/* "v/<i>" is original i, "v/f<i>" flood message i (N_ORIG + i); -1 for
 * anything else. */
static int topic_index(const char *topic)
{
    const char *p = topic + 2;
    char *end = NULL;
    long v;
    int flood = 0;

    if (strncmp(topic, "v/", 2) != 0) {
        return -1;
    }
    if (*p == 'f') {
        flood = 1;
        p++;
    }
    v = strtol(p, &end, 10);
    if (end == p || *end != '\0' || v < 0 || v >= (flood ? N_FLOOD : N_ORIG)) {
        return -1;
    }
    return (int)v + (flood ? N_ORIG : 0);
}

static void on_message(secmq_client *c, void *user, const secmq_message *m)
{
    static char want[BIG];
    rec *r = user;
    ev e;
    size_t wl;

    (void)c;
    enter(r);
    while (atomic_load(&r->gate)) {
        tu_sleep_ms(5);
    }
    memset(&e, 0, sizeof e);
    e.orig = topic_index(m->topic);
    if (e.orig >= 0 && e.orig < N_ORIG) {
        wl = payload_of(e.orig, want, sizeof want);
        /* Large and small payloads alternate, so the library's reused
         * buffers must hold exactly this one, NUL-terminated. */
        e.good = m->sealed == 1 && m->payloadlen == wl &&
                 memcmp(m->payload, want, wl) == 0 &&
                 ((const char *)m->payload)[wl] == '\0' && m->sender != NULL &&
                 strcmp(m->sender, sender_of[e.orig]) == 0 &&
                 m->seal_mode == mode_of[e.orig];
    } else {
        e.good = e.orig >= N_ORIG && m->sealed == 1; /* the flood */
    }
    push(r, &e);
}

static void on_open_failure(secmq_client *c, void *user, const char *topic,
                            int reason)
{
    rec *r = user;
    ev e;

    (void)c;
    enter(r);
    memset(&e, 0, sizeof e);
    e.orig = topic_index(topic);
    e.reason = reason;
    push(r, &e);
}

/* Wait until r holds n callbacks, at most ms: 0 or -1. */
static int wait_evs(rec *r, size_t n, int ms)
{
    struct timespec ts;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of r->t.cv */
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->t.mu);
    while (r->n < n && rc == 0) {
        rc = pthread_cond_timedwait(&r->t.cv, &r->t.mu, &ts);
    }
    rc = r->n >= n ? 0 : -1;
    pthread_mutex_unlock(&r->t.mu);
    return rc;
}

static int world(void)
{
    char err[ERRLEN];
    const char *pubs[3], *subs[1], *files[4];
    secmq_channel_spec spec;

    for (int i = 0; i < 3; i++) {
        if (tu_identity_make(names[i]) != 0) {
            return -1;
        }
    }
    if (tu_identity_make("alice") != 0) {
        return -1;
    }
    pubs[0] = tu_at("sam.pub");
    pubs[1] = tu_at("bob.pub");
    pubs[2] = tu_at("carol.pub");
    subs[0] = tu_at("alice.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = "v/#";
    spec.publishers = pubs;
    spec.n_publishers = 3;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    spec.allow_mac = 1;
    if (secmq_channel_create(tu_at("sam"), &spec, tu_at("g"), NULL, NULL, err,
                             sizeof err) != SECMQ_OK) {
        fprintf(stderr, "channel: %s\n", err);
        return -1;
    }
    for (int i = 1; i < 4; i++) { /* sam owns the channel */
        char grant[64];
        const char *who = i < 3 ? names[i] : "alice";
        /* Every keyring knows every publisher by name (tu_at rotates). */
        files[0] = tu_at("sam.pub");
        files[1] = tu_at("bob.pub");
        files[2] = tu_at("carol.pub");
        snprintf(grant, sizeof grant, "g/%s.grant", who);
        files[3] = tu_at(grant);
        if (secmq_keyring_import(tu_at(who), files, 4, NULL, NULL, err,
                                 sizeof err) != SECMQ_OK) {
            fprintf(stderr, "import %s: %s\n", grant, err);
            return -1;
        }
    }
    return 0;
}

static int seal(int who, const char *topic, const void *pt, size_t len,
                env *out)
{
    size_t cap = len + 256;

    out->b = malloc(cap);
    snprintf(out->topic, sizeof out->topic, "%s", topic);
    if (out->b == NULL) {
        return -1;
    }
    return secmq_keyring_seal(kr_pub[who], topic, pt, len, out->b, cap,
                              &out->len) == SECMQ_OK
               ? 0
               : -1;
}

/* Every original, sealed by sender i % 3 (new seqs at every call); every
 * 4th of bob's mac-only. */
static int seal_all(void)
{
    static char pt[BIG];
    char topic[32];

    for (int i = 0; i < N_ORIG; i++) {
        int who = i % 3;
        size_t len = payload_of(i, pt, sizeof pt);
        mode_of[i] =
            who == 1 && i % 4 == 1 ? SECMQ_SEAL_MAC : SECMQ_SEAL_SIGNED;
        sender_of[i] = names[who];
        snprintf(topic, sizeof topic, "v/%d", i);
        free(orig[i].b);
        if (secmq_keyring_set_mode(kr_pub[who], mode_of[i]) != SECMQ_OK ||
            seal(who, topic, pt, len, &orig[i]) != 0) {
            fprintf(stderr, "seal %d failed\n", i);
            return -1;
        }
    }
    for (int w = 0; w < 3; w++) {
        (void)secmq_keyring_set_mode(kr_pub[w], SECMQ_SEAL_SIGNED);
    }
    return 0;
}

/* The script: what is published, in order, and what alice must get. */
typedef struct step {
    int orig;
    int want;
} step;

static size_t script(step *s)
{
    size_t n = 0;

    for (int i = 0; i < N_ORIG; i++) {
        if (i % 13 == 5) {
            s[n++] = (step){i, WANT_FORGED}; /* before the genuine one */
        }
        s[n++] = (step){i, WANT_OK};
        if (i % 5 == 0) {
            s[n++] = (step){i, WANT_REPLAY}; /* right behind it */
        }
        if (i % 11 == 10) {
            s[n++] = (step){i - 9, WANT_REPLAY}; /* an older one */
        }
        if (i % 17 == 16) {
            s[n++] = (step){i - 1, WANT_REPLAY};
            s[n++] = (step){i - 2, WANT_REPLAY};
        }
    }
    return n;
}

static int publish_env(tu_client *p, const env *e, int forge)
{
    unsigned char *b = e->b;
    unsigned char *copy = NULL;
    int rc;

    if (forge) {
        copy = malloc(e->len);
        if (copy == NULL) {
            return SECMQ_E_NOMEM;
        }
        memcpy(copy, e->b, e->len);
        copy[e->len - 70] ^= 0x01; /* in the tag or the signature */
        b = copy;
    }
    rc = secmq_client_publish(p->c, NULL, e->topic, b, e->len, 1, 0);
    free(copy);
    return rc;
}

/* Bytes of alice's replay journal (-1: none). */
static long journal_bytes(void)
{
    struct stat st;

    if (stat(tu_at("alice/state/replay.journal"), &st) != 0) {
        return -1;
    }
    return (long)st.st_size;
}

/* Alice, with n verify threads and a sync interval of usec, subscribed to
 * v/#: 0, or -1 after printing why. */
static int alice_up(rec *r, unsigned threads, unsigned usec, const char *id)
{
    secmq_config cfg;
    int rc;

    tu_config(&cfg, "alice");
    cfg.client_id = tu_id(id);
    if (tu_client_new(&r->t, &cfg) != SECMQ_OK) {
        return -1;
    }
    secmq_client_on_message(r->t.c, on_message);
    secmq_client_on_open_failure(r->t.c, on_open_failure);
    if (secmq_client_set_keyring(r->t.c, kr_alice) != SECMQ_OK ||
        secmq_client_set_open_threads(r->t.c, 65) != SECMQ_E_INVAL ||
        secmq_client_set_open_threads(r->t.c, threads) != SECMQ_OK ||
        secmq_client_set_sync_interval(r->t.c, SECMQ_SYNC_INTERVAL_MAX_US +
                                                   1) != SECMQ_E_INVAL ||
        secmq_client_set_sync_interval(r->t.c, usec) != SECMQ_OK ||
        (rc = tu_connect(&r->t, TU_WAIT_MS)) != SECMQ_OK) {
        fprintf(stderr, "alice: %s\n", tu_errmsg(&r->t));
        return -1;
    }
    /* The number is read when the first message arrives: not now. */
    if (secmq_client_set_open_threads(r->t.c, 2) != SECMQ_E_STATE ||
        secmq_client_set_sync_interval(r->t.c, 0) != SECMQ_E_STATE) {
        check_fail(__FILE__, __LINE__, "set_open_threads while connected");
    }
    return tu_subscribe(&r->t, "v/#", 1, TU_WAIT_MS) == 1 ? 0 : -1;
}

/* The script through alice with n verify threads and a sync interval of
 * usec; with max_groups > 0, at most that many group commits for it. */
static void run_script(unsigned threads, unsigned usec, long max_groups,
                       const char *prefix)
{
    static step s[N_MAX];
    rec *ap = calloc(1, sizeof *ap); /* kept by a failed run's client */
    tu_client pub = {0};
    secmq_config cfg;
    uint64_t counts[SECMQ_OPEN_REASON_COUNT];
    size_t n = script(s), okn = 0, replays = 0, forged = 0;
    char id[32];
    long j0, groups;

    if (ap == NULL || seal_all() != 0) {
        CHECKF(0, "sealing failed");
        return;
    }
    snprintf(id, sizeof id, "%s-alice", prefix);
    if (alice_up(ap, threads, usec, id) != 0) {
        CHECKF(0, "alice is not subscribed");
        tu_client_free(&ap->t);
        return;
    }
    tu_config(&cfg, "sam");
    cfg.client_id = tu_id(prefix);
    CHECK_RC(tu_client_new(&pub, &cfg), SECMQ_OK);
    CHECK_RC(tu_connect(&pub, TU_WAIT_MS), SECMQ_OK);
    j0 = journal_bytes();
    for (size_t k = 0; k < n; k++) {
        CHECK_RC(publish_env(&pub, &orig[s[k].orig], s[k].want == WANT_FORGED),
                 SECMQ_OK);
    }
    CHECK_INT_EQ(tu_wait_published(&pub, (int)n, 4 * TU_WAIT_MS), 0);
    CHECK_INT_EQ(wait_evs(ap, n, 4 * TU_WAIT_MS), 0);
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&ap->t.mu);
    if (ap->n != n) {
        check_fail(__FILE__, __LINE__, "%u threads: %zu callbacks, want %zu",
                   threads, ap->n, n);
    }
    for (size_t k = 0; k < n && k < ap->n; k++) {
        const ev *e = &ap->evs[k];
        int want = s[k].want;
        /* The arrival order, one for one. */
        if (e->orig != s[k].orig ||
            e->reason != (want == WANT_OK       ? 0
                          : want == WANT_REPLAY ? SECMQ_OPEN_REPLAY
                                                : e->reason) ||
            (want == WANT_FORGED && e->reason != SECMQ_OPEN_BAD_TAG &&
             e->reason != SECMQ_OPEN_BAD_SIGNATURE) ||
            (want == WANT_OK && !e->good)) {
            check_fail(
                __FILE__, __LINE__,
                "%u threads: callback %zu is v/%d reason %d good %d, want "
                "v/%d (%s)",
                threads, k, e->orig, e->reason, e->good, s[k].orig,
                want == WANT_OK       ? "delivered"
                : want == WANT_REPLAY ? "a replay"
                                      : "a forgery");
            break;
        }
        okn += want == WANT_OK;
        replays += want == WANT_REPLAY;
        forged += want == WANT_FORGED;
    }
    pthread_mutex_unlock(&ap->t.mu);
    CHECK_INT_EQ(atomic_load(&ap->overlap), 0);
    CHECK_INT_EQ(
        secmq_client_open_counts_v2(ap->t.c, counts, SECMQ_OPEN_REASON_COUNT),
        SECMQ_OPEN_REASON_COUNT);
    CHECK_INT_EQ((long)counts[SECMQ_OPEN_OK], (long)okn);
    CHECK_INT_EQ((long)counts[SECMQ_OPEN_REPLAY], (long)replays);
    CHECK_INT_EQ(
        (long)(counts[SECMQ_OPEN_BAD_TAG] + counts[SECMQ_OPEN_BAD_SIGNATURE]),
        (long)forged);
    CHECK_INT_EQ((long)okn, N_ORIG);
    /* One 48-byte record per message delivered and one commit record per
     * group commit (fdatasync) were appended to the journal. */
    groups = (journal_bytes() - j0) / 48 - (long)okn;
    CHECK(groups >= 1);
    if (max_groups > 0 && groups > max_groups) {
        check_fail(__FILE__, __LINE__,
                   "%ld group commits for a burst of %zu messages with a "
                   "sync interval of %u us, want at most %ld",
                   groups, n, usec, max_groups);
    }
    (void)secmq_client_disconnect(pub.c);
    (void)secmq_client_disconnect(ap->t.c);
    tu_client_free(&pub);
    tu_client_free(&ap->t);
    free(ap);
}

/* With a sync interval of 0.3 s the burst (a few hundred messages, sent
 * in well under a second here) shares a few group commits: one for the
 * first message, then one per interval or per 256 waiting. */
static void test_script_with_verify_threads(void)
{
    run_script(4, 300000u, 8, "vt4");
}

/* The same with no verify thread (the loop thread opens everything) and
 * a group commit as soon as anything is ready. */
static void test_script_inline(void)
{
    run_script(1, 0u, 0, "vt1");
}

static void *open_gate(void *arg)
{
    rec *r = arg;

    tu_sleep_ms(300);
    atomic_store(&r->gate, 0);
    return NULL;
}

/* The application stalls on the first message while more than the queue
 * holds arrive; secmq_client_free() is called before it resumes. */
static void test_free_with_a_full_queue(void)
{
    static rec alice;
    static env fl[N_FLOOD];
    char topic[32], pt[32];
    tu_client pub = {0};
    secmq_config cfg;
    pthread_t opener;
    size_t n;

    memset(&alice, 0, sizeof alice);
    for (int i = 0; i < N_FLOOD; i++) {
        snprintf(topic, sizeof topic, "v/f%d", i);
        snprintf(pt, sizeof pt, "flood %d", i);
        if (seal(i % 3, topic, pt, strlen(pt), &fl[i]) != 0) {
            CHECKF(0, "seal flood %d", i);
            return;
        }
    }
    if (alice_up(&alice, 3, 1000u, "vtf-alice") != 0) {
        CHECKF(0, "alice is not subscribed");
        tu_client_free(&alice.t);
        return;
    }
    atomic_store(&alice.gate, 1);
    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("vtf");
    CHECK_RC(tu_client_new(&pub, &cfg), SECMQ_OK);
    CHECK_RC(tu_connect(&pub, TU_WAIT_MS), SECMQ_OK);
    for (int i = 0; i < N_FLOOD; i++) {
        CHECK_RC(publish_env(&pub, &fl[i], 0), SECMQ_OK);
    }
    CHECK_INT_EQ(tu_wait_published(&pub, N_FLOOD, 4 * TU_WAIT_MS), 0);
    /* Time for alice's loop thread to fill the queue and wait for room. */
    tu_sleep_ms(TU_QUIET_MS);
    /* Freed while the loop thread waits for room: stopping it must not
     * leave the queue locked (libmosquitto cancels it). The application
     * resumes a little later; a hang ends the test by SIGALRM. */
    CHECK_INT_EQ(pthread_create(&opener, NULL, open_gate, &alice), 0);
    alarm(30);
    secmq_client_free(alice.t.c);
    alarm(0);
    atomic_store(&alice.freed, 1);
    pthread_join(opener, NULL);
    alice.t.c = NULL;
    tu_sleep_ms(100);
    pthread_mutex_lock(&alice.t.mu);
    n = alice.n;
    fprintf(stderr, "delivered before free returned: %zu of %d\n", n, N_FLOOD);
    /* The queue was full: everything in it was delivered, in order. */
    if (n < 1024) {
        check_fail(__FILE__, __LINE__, "only %zu delivered", n);
    }
    for (size_t k = 0; k < n; k++) {
        if (alice.evs[k].orig != N_ORIG + (int)k || !alice.evs[k].good) {
            check_fail(__FILE__, __LINE__, "flood: callback %zu is %d", k,
                       alice.evs[k].orig);
            break;
        }
    }
    pthread_mutex_unlock(&alice.t.mu);
    CHECK_INT_EQ(atomic_load(&alice.late), 0);
    CHECK_INT_EQ(atomic_load(&alice.overlap), 0);
    (void)secmq_client_disconnect(pub.c);
    tu_client_free(&pub);
    tu_client_free(&alice.t);
    for (int i = 0; i < N_FLOOD; i++) {
        free(fl[i].b);
    }
}

/* ---- SIGKILL while a group commit is held back ----------------------- */

#define N_HELD 40 /* published; fewer than the 256 that end a hold */

static int held_fd = -1; /* the child's end of the pipe */

/* The child's on_message: the index of what it delivered, to the pipe. */
static void held_on_message(secmq_client *c, void *user, const secmq_message *m)
{
    int i = topic_index(m->topic);

    (void)c;
    (void)user;
    if (write(held_fd, &i, sizeof i) != (ssize_t)sizeof i) {
        _exit(3);
    }
}

/* The child: alice with the longest sync interval, subscribed; writes -1
 * to the pipe when ready and waits to be killed. Never returns. */
static void held_child(void)
{
    tu_client t = {0};
    secmq_config cfg;
    secmq_keyring *kr = tu_keyring_open("alice");
    int ready = -1;

    tu_config(&cfg, "alice");
    cfg.client_id = tu_id("held-alice");
    if (kr == NULL || tu_client_new(&t, &cfg) != SECMQ_OK) {
        _exit(2);
    }
    secmq_client_on_message(t.c, held_on_message);
    if (secmq_client_set_keyring(t.c, kr) != SECMQ_OK ||
        secmq_client_set_open_threads(t.c, 1) != SECMQ_OK ||
        secmq_client_set_sync_interval(t.c, SECMQ_SYNC_INTERVAL_MAX_US) !=
            SECMQ_OK ||
        tu_connect(&t, TU_WAIT_MS) != SECMQ_OK ||
        tu_subscribe(&t, "v/#", 1, TU_WAIT_MS) != 1 ||
        write(held_fd, &ready, sizeof ready) != (ssize_t)sizeof ready) {
        _exit(2);
    }
    tu_sleep_ms(30000);
    _exit(0);
}

/* The next index from fd within ms: 0, or -1 (nothing, or end). */
static int read_index(int fd, int ms, int *i)
{
    struct pollfd p = {fd, POLLIN, 0};

    if (poll(&p, 1, ms) != 1) {
        return -1;
    }
    return read(fd, i, sizeof *i) == (ssize_t)sizeof *i ? 0 : -1;
}

/* A subscriber is SIGKILLed while the rest of a burst waits for its
 * group commit (a sync interval of 1 s, after the first message's).
 * After the crash, everything it delivered is refused as a replay (its
 * record was durable before on_message), and everything it had not
 * delivered still opens: held back, it was never made durable, so a
 * broker's redelivery would not be lost. */
static void test_sigkill_while_held(void)
{
    static char delivered[N_HELD];
    tu_client pub = {0};
    secmq_config cfg;
    secmq_keyring *kr;
    static unsigned char pt[BIG + 256]; /* out_cap: the envelope length */
    size_t ptlen, ndel = 0;
    int fds[2], i = 0, reason, rc, status = 0;
    pid_t pid;

    if (seal_all() != 0 || pipe(fds) != 0) {
        CHECKF(0, "set-up failed");
        return;
    }
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        held_fd = fds[1];
        held_child();
    }
    close(fds[1]);
    CHECK(pid > 0);
    if (read_index(fds[0], 4 * TU_WAIT_MS, &i) != 0 || i != -1) {
        CHECKF(0, "the subscriber did not start");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        return;
    }
    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("held");
    CHECK_RC(tu_client_new(&pub, &cfg), SECMQ_OK);
    CHECK_RC(tu_connect(&pub, TU_WAIT_MS), SECMQ_OK);
    /* The first message is committed at once; the rest, sent right after
     * it was delivered, wait for the interval (1 s) to pass. */
    CHECK_RC(publish_env(&pub, &orig[0], 0), SECMQ_OK);
    CHECK_INT_EQ(read_index(fds[0], 4 * TU_WAIT_MS, &i), 0);
    for (int k = 1; k < N_HELD; k++) {
        CHECK_RC(publish_env(&pub, &orig[k], 0), SECMQ_OK);
    }
    CHECK_INT_EQ(tu_wait_published(&pub, N_HELD, 4 * TU_WAIT_MS), 0);
    tu_sleep_ms(200);
    kill(pid, SIGKILL);
    CHECK_INT_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    do {
        if (i >= 0 && i < N_HELD) {
            delivered[i] = 1;
            ndel++;
        }
    } while (read_index(fds[0], 100, &i) == 0);
    close(fds[0]);
    fprintf(stderr, "delivered before SIGKILL: %zu of %d\n", ndel, N_HELD);
    CHECK(ndel >= 1 && ndel < N_HELD);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int k = 0; kr != NULL && k < N_HELD; k++) {
        reason = -1;
        rc = secmq_keyring_open_msg(kr, orig[k].topic, orig[k].b, orig[k].len,
                                    pt, sizeof pt, &ptlen, NULL, &reason);
        if (rc != SECMQ_OK && rc != SECMQ_E_OPEN) {
            reason = rc;
        }
        if (reason != (delivered[k] ? SECMQ_OPEN_REPLAY : SECMQ_OPEN_OK)) {
            check_fail(__FILE__, __LINE__,
                       "v/%d (%s before the kill): "
                       "reason %d after it",
                       k, delivered[k] ? "delivered" : "not delivered", reason);
        }
    }
    secmq_keyring_free(kr);
    (void)secmq_client_disconnect(pub.c);
    tu_client_free(&pub);
}

int main(void)
{
    if (tu_tmpdir_make("client-verify") != 0) {
        return 1;
    }
    if (world() != 0) {
        fprintf(stderr, "could not set up the keyrings in %s\n", tu_tmpdir());
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        if ((kr_pub[i] = tu_keyring_open(names[i])) == NULL) {
            return 1;
        }
    }
    if ((kr_alice = tu_keyring_open("alice")) == NULL) {
        return 1;
    }
    if (secmq_client_set_open_threads(NULL, 0) != SECMQ_E_INVAL) {
        check_fail(__FILE__, __LINE__, "set_open_threads(NULL)");
    }
    RUN(test_script_with_verify_threads);
    RUN(test_script_inline);
    RUN(test_free_with_a_full_queue);
    RUN(test_sigkill_while_held);
    for (int i = 0; i < N_ORIG; i++) {
        free(orig[i].b);
    }
    for (int i = 0; i < 3; i++) {
        secmq_keyring_free(kr_pub[i]);
    }
    secmq_keyring_free(kr_alice);
    tu_tmpdir_done("keyrings");
    return check_exit();
}
