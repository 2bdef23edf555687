/*
 * bench_replay.c -- secmq-bench --suite replay: the receive path's cost of
 * durable replay state, without a broker.
 *
 * A keyring pair made in --dir with the management API (sam publishes a
 * mac-only channel, alice reads it); sam seals the envelopes once, then
 * alice opens them with a fresh replay state per row: every open waiting
 * for its own fdatasync (secmq_keyring_open_msg), eight threads doing so
 * together (they share group commits), deferred opens with one
 * secmq_keyring_sync per 16 / 256 messages (what the client's delivery
 * thread does with what arrived meanwhile), and deferred opens never
 * synced (the in-memory work alone). mac-only 64 B, so the AEAD is cheap
 * and the replay state is most of what is measured. --dir should be the
 * disk the keyrings will live on: a tmpfs makes fdatasync free.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secmq.h"

#define RP_THREADS 8
#define RP_SIZE 64
#define RP_ENV (RP_SIZE + 138)

struct rp_opts {
    long count;
    const char *dir;
    int json;
};

struct rp_row {
    const char *mode;
    long count;
    double msgs_s;
    long late;
};

static double rp_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char rp_root[4096];
static unsigned char (*rp_env)[RP_ENV];
static size_t *rp_len;

static const char *rp_at(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", rp_root, name);
    return buf;
}

/* sam and alice, a mac-only channel "bench/replay". 0 or -1. */
static int rp_keyrings(void)
{
    char err[512], text[512], a[4200], b[4200], c[4200], d[4200];
    const char *pubs[1], *subs[1], *files[2];
    secmq_channel_spec spec;
    size_t n = 0;
    FILE *f;

    if (secmq_identity_create(rp_at("sam", a, sizeof a), "sam", err,
                              sizeof err) != SECMQ_OK ||
        secmq_identity_create(rp_at("alice", b, sizeof b), "alice", err,
                              sizeof err) != SECMQ_OK) {
        fprintf(stderr, "secmq-bench: replay: %s\n", err);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        const char *who = i == 0 ? "sam" : "alice";
        char pub[64];
        snprintf(pub, sizeof pub, "%s.pub", who);
        if (secmq_identity_export(rp_at(who, a, sizeof a), text, sizeof text,
                                  &n, err, sizeof err) != SECMQ_OK ||
            (f = fopen(rp_at(pub, b, sizeof b), "w")) == NULL) {
            fprintf(stderr, "secmq-bench: replay: export %s failed\n", who);
            return -1;
        }
        fwrite(text, 1, n, f);
        fclose(f);
    }
    pubs[0] = rp_at("sam.pub", a, sizeof a);
    subs[0] = rp_at("alice.pub", b, sizeof b);
    memset(&spec, 0, sizeof spec);
    spec.filter = "bench/replay";
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    spec.allow_mac = 1;
    if (secmq_channel_create(rp_at("sam", c, sizeof c), &spec,
                             rp_at("grants", d, sizeof d), NULL, NULL, err,
                             sizeof err) != SECMQ_OK) {
        fprintf(stderr, "secmq-bench: replay: channel: %s\n", err);
        return -1;
    }
    files[0] = rp_at("sam.pub", a, sizeof a);
    files[1] = rp_at("grants/alice.grant", b, sizeof b);
    if (secmq_keyring_import(rp_at("alice", c, sizeof c), files, 2, NULL, NULL,
                             err, sizeof err) != SECMQ_OK) {
        fprintf(stderr, "secmq-bench: replay: import: %s\n", err);
        return -1;
    }
    return 0;
}

static int rp_seal(long count)
{
    char err[512], a[4200];
    unsigned char pt[RP_SIZE];
    secmq_keyring *sam = NULL;

    rp_env = malloc((size_t)count * sizeof *rp_env);
    rp_len = malloc((size_t)count * sizeof *rp_len);
    if (rp_env == NULL || rp_len == NULL ||
        secmq_keyring_open(&sam, rp_at("sam", a, sizeof a), err, sizeof err) !=
            SECMQ_OK) {
        fprintf(stderr, "secmq-bench: replay: cannot seal\n");
        return -1;
    }
    (void)secmq_keyring_set_mode(sam, SECMQ_SEAL_MAC);
    memset(pt, 'r', sizeof pt);
    for (long i = 0; i < count; i++) {
        if (secmq_keyring_seal(sam, "bench/replay", pt, sizeof pt, rp_env[i],
                               RP_ENV, &rp_len[i]) != SECMQ_OK) {
            secmq_keyring_free(sam);
            return -1;
        }
    }
    secmq_keyring_free(sam);
    return 0;
}

/* alice with an empty replay state. */
static secmq_keyring *rp_fresh(void)
{
    char err[512], a[4200];
    secmq_keyring *kr = NULL;

    unlink(rp_at("alice/state/replay", a, sizeof a));
    unlink(rp_at("alice/state/replay.journal", a, sizeof a));
    if (secmq_keyring_open(&kr, rp_at("alice", a, sizeof a), err, sizeof err) !=
        SECMQ_OK) {
        fprintf(stderr, "secmq-bench: replay: open alice: %s\n", err);
        return NULL;
    }
    return kr;
}

/* The next envelope for the threaded row: taken in order, so the threads
 * stay within the 64-message replay window of each other. */
static pthread_mutex_t rp_mu = PTHREAD_MUTEX_INITIALIZER;
static long rp_next, rp_end;

struct rp_thread {
    secmq_keyring *kr;
    int fails;
    long late; /* refused: more than 64 behind another thread's */
};

static void *rp_opener(void *arg)
{
    struct rp_thread *t = arg;
    unsigned char pt[RP_ENV];
    size_t len = 0;
    int reason, rc;

    for (;;) {
        long i;
        pthread_mutex_lock(&rp_mu);
        i = rp_next < rp_end ? rp_next++ : -1;
        pthread_mutex_unlock(&rp_mu);
        if (i < 0) {
            break;
        }
        rc = secmq_keyring_open_msg(t->kr, "bench/replay", rp_env[i], rp_len[i],
                                    pt, sizeof pt, &len, NULL, &reason);
        if (rc == SECMQ_E_OPEN && reason == SECMQ_OPEN_REPLAY) {
            t->late++; /* a thread preempted between taking and opening */
        } else if (rc != SECMQ_OK) {
            t->fails++;
        }
    }
    return NULL;
}

/* One row: count messages, threads openers waiting each (batch 0), or
 * deferred with a sync every batch messages (batch < 0: never). */
static int rp_run(long count, int threads, long batch, struct rp_row *row)
{
    secmq_keyring *kr = rp_fresh();
    struct rp_thread t[RP_THREADS];
    pthread_t th[RP_THREADS];
    unsigned char pt[RP_ENV];
    uint64_t ticket = 0;
    size_t len = 0;
    double t0, t1;
    int reason, fails = 0;
    long late = 0;

    if (kr == NULL) {
        return -1;
    }
    t0 = rp_now();
    if (batch == 0) {
        rp_next = 0;
        rp_end = count;
        for (int i = 0; i < threads; i++) {
            t[i].kr = kr;
            t[i].fails = 0;
            t[i].late = 0;
            pthread_create(&th[i], NULL, rp_opener, &t[i]);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            fails += t[i].fails;
            late += t[i].late;
        }
    } else {
        for (long i = 0; i < count; i++) {
            if (secmq_keyring_open_msg_v2(kr, "bench/replay", rp_env[i],
                                          rp_len[i], pt, sizeof pt, &len, NULL,
                                          &reason, SECMQ_OPEN_DEFER_SYNC,
                                          &ticket) != SECMQ_OK) {
                fails++;
            }
            if (batch > 0 && ((i + 1) % batch == 0 || i + 1 == count) &&
                secmq_keyring_sync(kr, ticket) != SECMQ_OK) {
                fails++;
            }
        }
    }
    t1 = rp_now();
    secmq_keyring_free(kr);
    if (fails > 0) {
        fprintf(stderr, "secmq-bench: replay: %d opens failed\n", fails);
        return -1;
    }
    row->count = count;
    row->late = late;
    row->msgs_s = (double)count / (t1 - t0);
    return 0;
}

static int rp_parse(struct rp_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o->count = 2000;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
            o->dir = argv[++i];
        } else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            char *end = NULL;
            long n;
            errno = 0;
            n = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n < 100 ||
                n > 10000000L) {
                fprintf(stderr,
                        "secmq-bench: --count: not a count >= 100: "
                        "'%s'\n",
                        v);
                return -1;
            }
            o->count = n;
        } else if (strcmp(a, "--help") == 0) {
            printf("secmq-bench --suite replay [--quick] [--count N] "
                   "[--dir DIR] [--json]\n"
                   "  the receiver's durable replay state: opens/s of "
                   "mac-only 64 B envelopes\n"
                   "  waiting for their own fdatasync, 8 threads sharing "
                   "them, one sync per\n"
                   "  16 / 256 deferred opens, and never synced (default "
                   "20000 messages;\n"
                   "  keyrings in DIR, default the current directory)\n");
            return 1;
        } else {
            fprintf(stderr,
                    "secmq-bench --suite replay: unknown option '%s' (see "
                    "--help)\n",
                    a);
            return -1;
        }
    }
    return 0;
}

int bench_replay_main(int argc, char **argv)
{
    struct rp_opts o = {20000, ".", 0};
    struct rp_row rows[5];
    int n = 0, rc = rp_parse(&o, argc, argv);
    long waits;

    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    snprintf(rp_root, sizeof rp_root, "%s/secmq-bench-replay-XXXXXX", o.dir);
    if (mkdtemp(rp_root) == NULL) {
        fprintf(stderr,
                "secmq-bench: replay: cannot create a directory in "
                "%s: %s\n",
                o.dir, strerror(errno));
        return 1;
    }
    rc = rp_keyrings() == 0 && rp_seal(o.count) == 0 ? 0 : -1;
    /* An fdatasync per message is slow: fewer of them. */
    waits = o.count / 10 > 200 ? o.count / 10 : o.count;
    if (rc == 0) {
        rows[n].mode = "each open waits (1 thread)";
        rc = rp_run(waits, 1, 0, &rows[n++]);
    }
    if (rc == 0) {
        rows[n].mode = "each open waits (8 threads)";
        rc = rp_run(waits, RP_THREADS, 0, &rows[n++]);
    }
    if (rc == 0) {
        rows[n].mode = "deferred, sync every 16";
        rc = rp_run(o.count, 1, 16, &rows[n++]);
    }
    if (rc == 0) {
        rows[n].mode = "deferred, sync every 256";
        rc = rp_run(o.count, 1, 256, &rows[n++]);
    }
    if (rc == 0) {
        rows[n].mode = "deferred, never synced";
        rc = rp_run(o.count, 1, -1, &rows[n++]);
    }
    bench_rmtree(rp_root);
    free(rp_env);
    free(rp_len);
    if (rc != 0) {
        return 1;
    }
    if (o.json) {
        printf("{\"suite\":\"replay\",\"size\":%d,\"rows\":[", RP_SIZE);
        for (int i = 0; i < n; i++) {
            printf("%s{\"mode\":\"%s\",\"messages\":%ld,\"msgs_per_s\":%.0f,"
                   "\"late\":%ld}",
                   i ? "," : "", rows[i].mode, rows[i].count, rows[i].msgs_s,
                   rows[i].late);
        }
        printf("]}\n");
        return 0;
    }
    printf("durable replay state: mac-only %d B opens/s (keyrings in %s)\n",
           RP_SIZE, o.dir);
    printf("  %-30s %10s %12s %10s\n", "receiver", "messages", "msgs/s",
           "us/msg");
    for (int i = 0; i < n; i++) {
        printf("  %-30s %10ld %12.0f %10.1f\n", rows[i].mode, rows[i].count,
               rows[i].msgs_s, 1e6 / rows[i].msgs_s);
        if (rows[i].late > 0) {
            printf("    (%ld refused as replays: a thread fell more than 64 "
                   "messages behind)\n",
                   rows[i].late);
        }
    }
    return 0;
}
