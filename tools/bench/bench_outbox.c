/*
 * bench_outbox.c -- secmq-bench --suite outbox: durable outbox messages/s.
 *
 * How fast publishes become durable in the outbox file (1 KiB by default),
 * with synchronous=FULL and NORMAL, for three publishers: one thread whose
 * every publish waits for its commit, one thread publishing ASYNC (group
 * commit decides), and eight threads each waiting for their commits (they
 * share transactions). No broker: the client is never connected, so this is
 * the cost the outbox adds in front of the network. The file lives in --dir
 * (default: the current directory), which should be the disk the outbox
 * will use: a tmpfs makes fsync free.
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

#define OB_THREADS 8

struct ob_opts {
    long count; /* messages per run */
    long size;  /* payload bytes */
    const char *dir;
    int json;
};

struct ob_row {
    const char *sync;
    const char *mode;
    double msgs_s;
    double commits;
    long count;
};

static double ob_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ob_thread {
    secmq_client *c;
    const unsigned char *payload;
    long size;
    long count;
    int async;
    int fails;
};

static void *ob_publisher(void *arg)
{
    struct ob_thread *t = arg;

    for (long i = 0; i < t->count; i++) {
        if (secmq_client_publish_v2(
                t->c, NULL, NULL, "bench/outbox", t->payload, (size_t)t->size,
                1, 0, t->async ? SECMQ_PUBLISH_ASYNC : 0u) != SECMQ_OK) {
            t->fails++;
        }
    }
    return NULL;
}

/* One run: a fresh file, count messages, threads publishers. 0 or -1. */
static int ob_run(const struct ob_opts *o, int full, int async, int threads,
                  struct ob_row *row)
{
    secmq_config cfg;
    secmq_outbox_config oc;
    secmq_client *c = NULL;
    secmq_outbox_stats st;
    struct ob_thread t[OB_THREADS];
    pthread_t th[OB_THREADS];
    unsigned char *payload = malloc((size_t)o->size);
    char path[4200];
    double t0, t1;
    int rc, fails = 0;

    if (payload == NULL) {
        return -1;
    }
    memset(payload, 'p', (size_t)o->size);
    snprintf(path, sizeof path, "%s/secmq-bench-outbox-%ld.db", o->dir,
             (long)getpid());
    unlink(path);
    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 1;
    cfg.transport = SECMQ_TRANSPORT_PLAIN;
    rc = secmq_client_new(&c, &cfg, NULL);
    secmq_outbox_config_init(&oc);
    oc.path = path;
    oc.sync = full ? SECMQ_OUTBOX_SYNC_FULL : SECMQ_OUTBOX_SYNC_NORMAL;
    oc.max_rows = (uint64_t)o->count + 1;
    oc.max_bytes = (uint64_t)(o->count + 1) * (uint64_t)(o->size + 64);
    if (rc == SECMQ_OK) {
        rc = secmq_client_set_outbox(c, &oc);
    }
    if (rc != SECMQ_OK) {
        char why[SECMQ_ERRMSG_BYTES] = "";
        secmq_client_errmsg(c, why, sizeof why);
        fprintf(stderr, "secmq-bench: outbox %s: %s\n", path,
                why[0] ? why : secmq_strerror(rc));
        secmq_client_free(c);
        free(payload);
        return -1;
    }
    t0 = ob_now();
    for (int i = 0; i < threads; i++) {
        t[i].c = c;
        t[i].payload = payload;
        t[i].size = o->size;
        t[i].count = o->count / threads;
        t[i].async = async;
        t[i].fails = 0;
        pthread_create(&th[i], NULL, ob_publisher, &t[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        fails += t[i].fails;
    }
    (void)secmq_client_outbox_wait(c, SECMQ_OUTBOX_WAIT_DURABLE, -1);
    t1 = ob_now();
    (void)secmq_client_outbox_stats(c, &st);
    secmq_client_free(c);
    unlink(path);
    {
        char side[4300];
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
    free(payload);
    if (fails > 0) {
        fprintf(stderr, "secmq-bench: %d outbox publishes failed\n", fails);
        return -1;
    }
    row->sync = full ? "FULL" : "NORMAL";
    row->mode = async         ? "1 thread, ASYNC"
                : threads > 1 ? "8 threads, each waits"
                              : "1 thread, waits";
    row->count = (long)st.committed;
    row->msgs_s = (double)st.committed / (t1 - t0);
    row->commits = (double)st.commits;
    return 0;
}

static int ob_parse(struct ob_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) {
            o->count = 2000;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if ((strcmp(a, "--count") == 0 || strcmp(a, "--size") == 0 ||
                    strcmp(a, "--dir") == 0) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            char *end = NULL;
            long n;
            if (strcmp(a, "--dir") == 0) {
                o->dir = v;
                continue;
            }
            errno = 0;
            n = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n < 1 ||
                n > 100000000L) {
                fprintf(stderr, "secmq-bench: %s: not a count: '%s'\n", a, v);
                return -1;
            }
            if (strcmp(a, "--count") == 0) {
                o->count = n < OB_THREADS ? OB_THREADS : n;
            } else {
                o->size = n;
            }
        } else if (strcmp(a, "--help") == 0) {
            printf("secmq-bench --suite outbox [--quick] [--count N] "
                   "[--size BYTES] [--dir DIR] [--json]\n"
                   "  durable outbox messages/s, synchronous FULL and "
                   "NORMAL (default 20000\n"
                   "  messages of 1024 bytes; the file in DIR, default "
                   "the current directory)\n");
            return 1;
        } else {
            fprintf(stderr,
                    "secmq-bench --suite outbox: unknown option "
                    "'%s' (see --help)\n",
                    a);
            return -1;
        }
    }
    return 0;
}

int bench_outbox_main(int argc, char **argv)
{
    struct ob_opts o = {20000, 1024, ".", 0};
    struct ob_row rows[6];
    int n = 0, rc = ob_parse(&o, argc, argv);

    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    for (int full = 1; full >= 0; full--) {
        long count = o.count;
        struct ob_opts one = o;
        /* A publish that waits for its own fsync is slow: fewer of them. */
        one.count = count / 4 > 500 ? count / 4 : (count < 500 ? count : 500);
        if (ob_run(&one, full, 0, 1, &rows[n++]) != 0 ||
            ob_run(&o, full, 1, 1, &rows[n++]) != 0 ||
            ob_run(&o, full, 0, OB_THREADS, &rows[n++]) != 0) {
            return 1;
        }
    }
    if (o.json) {
        printf("{\"suite\":\"outbox\",\"size\":%ld,\"rows\":[", o.size);
        for (int i = 0; i < n; i++) {
            printf("%s{\"sync\":\"%s\",\"mode\":\"%s\",\"messages\":%ld,"
                   "\"msgs_per_s\":%.0f,\"commits\":%.0f}",
                   i ? "," : "", rows[i].sync, rows[i].mode, rows[i].count,
                   rows[i].msgs_s, rows[i].commits);
        }
        printf("]}\n");
        return 0;
    }
    printf("durable outbox messages/s (%ld-byte payloads, file in %s)\n",
           o.size, o.dir);
    printf("  %-7s %-24s %10s %12s %10s\n", "sync", "publisher", "messages",
           "msgs/s", "commits");
    for (int i = 0; i < n; i++) {
        printf("  %-7s %-24s %10ld %12.0f %10.0f\n", rows[i].sync, rows[i].mode,
               rows[i].count, rows[i].msgs_s, rows[i].commits);
    }
    return 0;
}
