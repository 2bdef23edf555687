/*
 * bench_receipts.c -- secmq-bench --suite receipts: what end-to-end
 * receipts (PROTOCOL.md §9, secmq/receipt.h) cost a sender.
 *
 * sam publishes 64 B signed envelopes at QoS 1 through his outbox
 * (ASYNC publishes, at most RC_AHEAD rows not yet settled) to alice, both
 * secmq clients in this process over TLS through the bench's private
 * mosquitto on 127.0.0.1. Rows, in one run and interleaved when repeated:
 *  - on `bench/norc`, a channel without receipts: a row leaves the outbox
 *    at the broker's PUBACK;
 *  - on `bench/rc`, a channel with receipts (alice its receipter): a row
 *    leaves when alice's receipt for it arrived, with alice sending a
 *    receipt after N = 1, 16, 32 and 64 (the default) messages or 100 ms
 *    (secmq_client_set_receipts), sam with the default window of 64
 *    seqs; and N 64 with sam's window off (secmq_receipt_wait.window 0).
 * Each row: msgs/s while the middle 80 % of the messages arrived at alice
 * and left sam's outbox (the row goes on until all of them did: the last
 * partial batch waits for its 100 ms), its ratio to the row without
 * receipts, the receipts sam opened per second, and, sampled every 10 ms
 * while the middle 80 % of the rows settle, the rows held for receipts
 * (receipt stats `awaiting`) and in the outbox (outbox stats `rows`).
 * Keyrings made with the management API in a temp dir.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <secmq.h>

#include "bench.h"
#include "bench_receipts.h"

#define RC_SIZE 64u
#define RC_AHEAD 2000L
#define RC_SAMPLE_NS 10000000ull
#define RC_ROW_CAP_NS 300000000000ull
#define RC_DELAY_MS 100u
#define RC_KINDS 6
#define RC_DEFAULT 4 /* the row with the library's defaults */
#define RC_WINDOW_DEFAULT SECMQ_RECEIPT_WINDOW_MAX
#define PATHB (BENCH_PATH_BYTES + 64u)

/* alice's batch N (0: the channel without receipts) and sam's window. */
static const struct rc_kind {
    unsigned batch, window;
} rc_kinds[RC_KINDS] = {{0, 64},  {1, 64},  {16, 64},
                        {32, 64}, {64, 64}, {64, 0}};

struct rc_opts {
    long count;
    int repeat;
    int json;
    int keep;
    int full;
    const char *mosquitto;
};

struct rc_row {
    unsigned batch;          /* alice's N; 0: the channel without receipts */
    unsigned window;         /* sam's receipt window; 0: none */
    double seconds, total_s; /* the whole row: time, msgs/s */
    double msgs_s;           /* msgs/s over the middle 80 % */
    double receipts_s;
    double cpu_us, broker_us; /* CPU per message: this process (both
                                 clients), the broker; -1 unknown */
    double held_mean, rows_mean;
    uint64_t held_max, rows_max, resent, opened, sub_sent;
    double rate_min, rate_max;
};

/* What the callbacks of one row count. */
struct rc_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long arrived, settled, failed;
    int subscribed;
    long lo, hi;         /* the middle 80 % of the messages */
    uint64_t t_lo, t_hi; /* when lo and hi had arrived and settled */
};

/* With s->mu held: stamp the moments the middle of the row begins and
 * ends (messages both arrived and settled). */
static void rc_progress(struct rc_state *s)
{
    long done = s->arrived < s->settled ? s->arrived : s->settled;

    if (s->t_lo == 0 && s->lo > 0 && done >= s->lo) {
        s->t_lo = bench_now_ns();
    }
    if (s->t_hi == 0 && s->hi > 0 && done >= s->hi) {
        s->t_hi = bench_now_ns();
    }
}

static void rc_msg(secmq_client *c, void *user, const secmq_message *m)
{
    struct rc_state *s = user;
    (void)c;
    (void)m;
    pthread_mutex_lock(&s->mu);
    s->arrived++;
    rc_progress(s);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void rc_sub(secmq_client *c, void *user, int mid, int n, const int *g)
{
    struct rc_state *s = user;
    (void)c;
    (void)mid;
    pthread_mutex_lock(&s->mu);
    s->subscribed = n == 1 && g[0] == 1 ? 1 : -1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void rc_delivered(secmq_client *c, void *user, uint64_t id, int rc)
{
    struct rc_state *s = user;
    (void)c;
    (void)id;
    pthread_mutex_lock(&s->mu);
    s->settled++;
    s->failed += rc != SECMQ_OK;
    rc_progress(s);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- keyrings ---------------------------------------------------------- */

static const char *rc_at(const char *dir, const char *name, char *buf,
                         size_t len)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);

    /* Too long: an empty path, which every call then refuses. */
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
    }
    return buf;
}

/* sam and alice in dir; bench/rc with receipts (alice the receipter),
 * bench/norc without; alice imports sam and both grants. 0 or -1. */
static int rc_keyrings(const char *dir, char *err, size_t errlen)
{
    char text[512], a[PATHB], b[PATHB], c[PATHB], d[PATHB];
    const char *pubs[1], *subs[1], *files[3];
    secmq_channel_receipts rcpt;
    secmq_channel_spec spec;
    size_t n = 0;

    for (int i = 0; i < 2; i++) {
        const char *who = i == 0 ? "sam" : "alice";
        FILE *f;
        snprintf(d, sizeof d, "%s.pub", who);
        if (secmq_identity_create(rc_at(dir, who, a, sizeof a), who, err,
                                  errlen) != SECMQ_OK ||
            secmq_identity_export(a, text, sizeof text, &n, err, errlen) !=
                SECMQ_OK) {
            return -1;
        }
        if ((f = fopen(rc_at(dir, d, b, sizeof b), "w")) == NULL ||
            fwrite(text, 1, n, f) != n || fclose(f) != 0) {
            snprintf(err, errlen, "cannot write %.300s", b);
            return -1;
        }
    }
    pubs[0] = rc_at(dir, "sam.pub", a, sizeof a);
    subs[0] = rc_at(dir, "alice.pub", b, sizeof b);
    memset(&spec, 0, sizeof spec);
    memset(&rcpt, 0, sizeof rcpt);
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    spec.filter = "bench/rc";
    if (secmq_channel_create_v2(rc_at(dir, "sam", c, sizeof c), &spec, &rcpt,
                                rc_at(dir, "grants-rc", d, sizeof d), NULL,
                                NULL, err, errlen) != SECMQ_OK) {
        return -1;
    }
    spec.filter = "bench/norc";
    if (secmq_channel_create(c, &spec, rc_at(dir, "grants-norc", d, sizeof d),
                             NULL, NULL, err, errlen) != SECMQ_OK) {
        return -1;
    }
    files[0] = rc_at(dir, "sam.pub", a, sizeof a);
    files[1] = rc_at(dir, "grants-rc/alice.grant", b, sizeof b);
    files[2] = rc_at(dir, "grants-norc/alice.grant", c, sizeof c);
    return secmq_keyring_import(rc_at(dir, "alice", d, sizeof d), files, 3,
                                NULL, NULL, err, errlen) == SECMQ_OK
               ? 0
               : -1;
}

/* ---- one row ------------------------------------------------------------ */

/* A client of who (keyring kr) on the broker, connected, loop running. */
static int rc_client(secmq_client **out, const bench_broker *br,
                     secmq_keyring *kr, const char *id, struct rc_state *s,
                     const secmq_outbox_config *ob, unsigned batch,
                     unsigned window)
{
    secmq_receipt_wait w;
    secmq_client *c = NULL;

    if (bench_client_new(&c, br, id, s) != 0) {
        return -1;
    }
    *out = c;
    secmq_client_on_message(c, rc_msg);
    secmq_client_on_subscribe(c, rc_sub);
    secmq_client_on_delivered(c, rc_delivered);
    secmq_receipt_wait_init(&w);
    w.window = window;
    if (secmq_client_set_keyring(c, kr) != SECMQ_OK ||
        (window != RC_WINDOW_DEFAULT &&
         secmq_client_set_receipt_wait(c, &w) != SECMQ_OK) ||
        (ob != NULL && secmq_client_set_outbox(c, ob) != SECMQ_OK) ||
        (batch > 0 &&
         secmq_client_set_receipts(c, batch, RC_DELAY_MS) != SECMQ_OK) ||
        secmq_client_connect(c) != SECMQ_OK ||
        secmq_client_wait_connected(c, 10000) != SECMQ_OK ||
        secmq_client_loop_start(c) != SECMQ_OK) {
        return -1;
    }
    return 0;
}

/* Rows held for receipts and in the outbox, sampled. */
struct rc_samples {
    double held_sum, rows_sum;
    uint64_t held_max, rows_max;
    long n;
};

static void rc_sample(secmq_client *pub, struct rc_samples *sm)
{
    secmq_receipt_stats rs;
    secmq_outbox_stats os;

    memset(&rs, 0, sizeof rs);
    if (secmq_client_receipt_stats(pub, &rs, sizeof rs) != SECMQ_OK ||
        secmq_client_outbox_stats_v2(pub, &os, sizeof os) != SECMQ_OK) {
        return;
    }
    sm->held_sum += (double)rs.awaiting;
    sm->rows_sum += (double)os.rows;
    sm->held_max = rs.awaiting > sm->held_max ? rs.awaiting : sm->held_max;
    sm->rows_max = os.rows > sm->rows_max ? os.rows : sm->rows_max;
    sm->n++;
}

/* Publish o->count messages and wait until all arrived and settled, taking
 * samples meanwhile. 0 or -1 (err). */
static int rc_pump(const struct rc_opts *o, secmq_client *pub,
                   struct rc_state *s, const char *topic, struct rc_row *row,
                   struct rc_samples *sm, char *err, size_t errlen)
{
    unsigned char payload[RC_SIZE];
    uint64_t t0 = bench_now_ns(), end = t0 + RC_ROW_CAP_NS, next = t0;
    long lo = o->count / 10, hi = o->count - o->count / 10, i = 0;
    int done = 0;

    memset(payload, 'r', sizeof payload);
    pthread_mutex_lock(&s->mu);
    s->lo = lo;
    s->hi = hi;
    pthread_mutex_unlock(&s->mu);
    while (!done && !bench_interrupted && bench_now_ns() < end) {
        long settled;
        pthread_mutex_lock(&s->mu);
        while (i < o->count && i - s->settled >= RC_AHEAD &&
               bench_now_ns() < next) {
            bench_cond_wait(&s->cv, &s->mu, next, RC_SAMPLE_NS);
        }
        if (i >= o->count) {
            while (!(s->settled >= o->count && s->arrived >= o->count) &&
                   bench_now_ns() < next) {
                bench_cond_wait(&s->cv, &s->mu, next, RC_SAMPLE_NS);
            }
        }
        settled = s->settled;
        done = s->settled >= o->count && s->arrived >= o->count;
        pthread_mutex_unlock(&s->mu);
        if (bench_now_ns() >= next) {
            if (settled >= lo && settled < hi) {
                rc_sample(pub, sm);
            }
            next = bench_now_ns() + RC_SAMPLE_NS;
        }
        /* Publish what the window allows, then look again. */
        while (i < o->count && i - settled < RC_AHEAD &&
               bench_now_ns() < next) {
            int rc = secmq_client_publish_v2(pub, NULL, NULL, topic, payload,
                                             sizeof payload, 1, 0,
                                             SECMQ_PUBLISH_ASYNC);
            if (rc != SECMQ_OK) {
                snprintf(err, errlen, "publish %ld on %s: %s", i, topic,
                         secmq_strerror(rc));
                return -1;
            }
            i++;
        }
    }
    row->seconds = (double)(bench_now_ns() - t0) / 1e9;
    if (!done) {
        pthread_mutex_lock(&s->mu);
        snprintf(err, errlen,
                 "%s: %ld of %ld arrived, %ld rows settled within %.0f s",
                 topic, s->arrived, o->count, s->settled, row->seconds);
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    if (s->failed > 0) {
        snprintf(err, errlen, "%s: %ld rows settled with an error", topic,
                 s->failed);
        return -1;
    }
    row->total_s = (double)o->count / row->seconds;
    row->msgs_s = s->t_hi > s->t_lo
                      ? (double)(hi - lo) / ((double)(s->t_hi - s->t_lo) / 1e9)
                      : row->total_s;
    return 0;
}

static int rc_row_run(const struct rc_opts *o, const bench_broker *br,
                      const char *dir, const struct rc_kind *kind, int run,
                      struct rc_row *row, char *err, size_t errlen)
{
    unsigned batch = kind->batch;
    char path[PATHB], a[PATHB], pid[48], sid[48];
    const char *topic = batch > 0 ? "bench/rc" : "bench/norc";
    secmq_keyring *sam = NULL, *alice = NULL;
    secmq_client *pub = NULL, *sub = NULL;
    secmq_outbox_config ob;
    secmq_receipt_stats ps, ss;
    struct rc_samples sm;
    struct rc_state s;
    double cpu0, bcpu0;
    uint64_t end;
    int rc = -1;

    memset(&s, 0, sizeof s);
    memset(&sm, 0, sizeof sm);
    memset(&ps, 0, sizeof ps);
    memset(&ss, 0, sizeof ss);
    pthread_mutex_init(&s.mu, NULL);
    bench_cond_init(&s.cv);
    snprintf(path, sizeof path, "%s/outbox-%u-%u-%d.db", dir, batch,
             kind->window, run);
    snprintf(pid, sizeof pid, "bench-rc-pub-%u-%u-%d", batch, kind->window,
             run);
    snprintf(sid, sizeof sid, "bench-rc-sub-%u-%u-%d", batch, kind->window,
             run);
    secmq_outbox_config_init(&ob);
    ob.path = path;
    ob.sync = o->full ? SECMQ_OUTBOX_SYNC_FULL : SECMQ_OUTBOX_SYNC_NORMAL;
    if (secmq_keyring_open(&sam, rc_at(dir, "sam", a, sizeof a), err, errlen) !=
            SECMQ_OK ||
        secmq_keyring_open(&alice, rc_at(dir, "alice", a, sizeof a), err,
                           errlen) != SECMQ_OK) {
        goto out;
    }
    if (rc_client(&sub, br, alice, sid, &s, NULL, batch, RC_WINDOW_DEFAULT) !=
            0 ||
        secmq_client_subscribe(sub, NULL, topic, 1) != SECMQ_OK) {
        snprintf(err, errlen, "alice cannot connect and subscribe");
        goto out;
    }
    end = bench_now_ns() + 10000000000ull;
    pthread_mutex_lock(&s.mu);
    while (s.subscribed == 0 && bench_now_ns() < end) {
        bench_cond_wait(&s.cv, &s.mu, end, 100000000ull);
    }
    pthread_mutex_unlock(&s.mu);
    if (s.subscribed != 1) {
        snprintf(err, errlen, "alice: no SUBACK granting QoS 1 on %s", topic);
        goto out;
    }
    if (rc_client(&pub, br, sam, pid, &s, &ob, 0, kind->window) != 0) {
        char why[SECMQ_ERRMSG_BYTES] = "";
        if (pub != NULL) {
            secmq_client_errmsg(pub, why, sizeof why);
        }
        snprintf(err, errlen, "sam cannot connect with an outbox: %s", why);
        goto out;
    }
    cpu0 = bench_self_cpu_s();
    bcpu0 = bench_broker_cpu_s(br);
    if (rc_pump(o, pub, &s, topic, row, &sm, err, errlen) != 0) {
        goto out;
    }
    row->cpu_us = (bench_self_cpu_s() - cpu0) / (double)o->count * 1e6;
    row->broker_us =
        bcpu0 < 0 ? -1.0
                  : (bench_broker_cpu_s(br) - bcpu0) / (double)o->count * 1e6;
    (void)secmq_client_receipt_stats(pub, &ps, sizeof ps);
    (void)secmq_client_disconnect(pub);
    (void)secmq_client_disconnect(sub);
    (void)secmq_client_receipt_stats(sub, &ss, sizeof ss);
    row->batch = batch;
    row->window = kind->window;
    row->receipts_s = (double)ps.opened / row->seconds;
    row->opened = ps.opened;
    row->resent = ps.resent;
    row->sub_sent = ss.sent;
    row->held_mean = sm.n > 0 ? sm.held_sum / (double)sm.n : 0.0;
    row->rows_mean = sm.n > 0 ? sm.rows_sum / (double)sm.n : 0.0;
    row->held_max = sm.held_max;
    row->rows_max = sm.rows_max;
    if (batch > 0 && ps.receipted != (uint64_t)o->count) {
        snprintf(err, errlen, "%s: %llu of %ld rows receipted", topic,
                 (unsigned long long)ps.receipted, o->count);
        goto out;
    }
    if (batch == 0 && ps.receipted != 0) {
        snprintf(err, errlen, "%s: rows receipted on a channel without", topic);
        goto out;
    }
    rc = 0;
out:
    secmq_client_free(pub);
    secmq_client_free(sub);
    secmq_keyring_free(sam);
    secmq_keyring_free(alice);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    if (!o->keep) {
        char side[PATHB + 8];
        remove(path);
        snprintf(side, sizeof side, "%s-wal", path);
        remove(side);
        snprintf(side, sizeof side, "%s-shm", path);
        remove(side);
    }
    return rc;
}

/* ---- the suite ---------------------------------------------------------- */

static const char rc_usage[] =
    "usage: secmq-bench --suite receipts [--quick] [--count N] "
    "[--repeat R]\n"
    "                   [--sync full|normal] [--json] [--keep] "
    "[--mosquitto PATH]\n"
    "\n"
    "What end-to-end receipts (PROTOCOL.md section 9) cost a sender: sam\n"
    "publishes 64 B signed envelopes at QoS 1 through his outbox (ASYNC,\n"
    "at most 2000 rows unsettled) to alice over TLS through a private\n"
    "mosquitto on 127.0.0.1, both clients in this process. Rows: a channel\n"
    "without receipts (a row leaves at the PUBACK), and one with receipts\n"
    "(a row leaves when alice's receipt arrived) with alice sending a\n"
    "receipt after N = 1, 16, 32, 64 messages or 100 ms, sam waiting with\n"
    "the default window (64 seqs), and N 64 with no window. Per row: msgs/s\n"
    "while the middle 80 % of the messages arrived and left the outbox\n"
    "(the last partial batch waits for its 100 ms: not steady state), the\n"
    "ratio to the row without receipts (target: 0.8x), receipts the sender\n"
    "opened per second, messages per receipt, and rows held for receipts\n"
    "and in the outbox, sampled every 10 ms while the middle 80 % of the\n"
    "rows settle (mean, max), and CPU time per message of this process\n"
    "(both clients) and of the broker.\n"
    "Options:\n"
    "  --count N    messages per row (default 5000; --quick 500)\n"
    "  --repeat R   runs of every row, interleaved; the median is kept\n"
    "               (1..9, default 1)\n"
    "  --sync MODE  the outbox's synchronous mode (default normal)\n"
    "  --json       one JSON document instead of the table\n"
    "  --keep       keep the temp dirs (keyrings, outbox files)\n"
    "  --mosquitto PATH  broker binary (default /usr/sbin/mosquitto)\n"
    "  --help       this text\n";

static int rc_number(const char *opt, const char *v, long top, long *out)
{
    return bench_suite_number("receipts", opt, v, top, out);
}

/* 0, -1 for a usage error (reported), 1 after --help. */
static int rc_parse(struct rc_opts *o, int argc, char **argv)
{
    long n;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            o->count = 500;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
        } else if (strcmp(a, "--help") == 0) {
            printf("%s", rc_usage);
            return 1;
        } else if (v != NULL && strcmp(a, "--count") == 0) {
            if (rc_number(a, v, 10000000L, &n) != 0) {
                return -1;
            }
            o->count = n < 10 ? 10 : n;
            i++;
        } else if (v != NULL && strcmp(a, "--repeat") == 0) {
            if (rc_number(a, v, BENCH_MAX_REPEAT, &n) != 0) {
                return -1;
            }
            o->repeat = (int)n;
            i++;
        } else if (v != NULL && strcmp(a, "--sync") == 0 &&
                   (strcmp(v, "full") == 0 || strcmp(v, "normal") == 0)) {
            o->full = strcmp(v, "full") == 0;
            i++;
        } else if (v != NULL && strcmp(a, "--mosquitto") == 0) {
            o->mosquitto = v;
            i++;
        } else {
            fprintf(stderr,
                    "secmq-bench --suite receipts: unknown option or value "
                    "'%s' (see --help)\n",
                    a);
            return -1;
        }
    }
    return 0;
}

/* The run with the median msgs/s of v[0..n-1], with the range. */
static void rc_median(struct rc_row *v, int n, struct rc_row *out)
{
    int order[BENCH_MAX_REPEAT];

    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && v[order[j - 1]].msgs_s > v[i].msgs_s) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    *out = v[order[n / 2]];
    out->rate_min = v[order[0]].msgs_s;
    out->rate_max = v[order[n - 1]].msgs_s;
}

static void rc_report(const struct rc_opts *o, const struct rc_row *rows,
                      const bench_host *h)
{
    double base = rows[0].msgs_s;
    double ratio = base > 0 ? rows[RC_DEFAULT].msgs_s / base : 0.0;

    if (o->json) {
        printf("{\"suite\":\"receipts\",\"cpu\":\"%s\",\"cores\":%d,"
               "\"size\":%u,\"qos\":1,\"count\":%ld,\"repeat\":%d,"
               "\"sync\":\"%s\",\"delay_ms\":%u,\"rows\":[",
               h->cpu, h->cores, RC_SIZE, o->count, o->repeat,
               o->full ? "full" : "normal", RC_DELAY_MS);
        for (int k = 0; k < RC_KINDS; k++) {
            const struct rc_row *r = &rows[k];
            printf("%s{\"receipts\":%s,\"batch\":%u,\"window\":%u,"
                   "\"msgs_per_s\":%.0f,\"whole_msgs_per_s\":%.0f,"
                   "\"min\":%.0f,\"max\":%.0f,\"ratio\":%.3f,"
                   "\"receipts_per_s\":%.1f,\"receipts_sent\":%llu,"
                   "\"held_mean\":%.1f,\"held_max\":%llu,"
                   "\"rows_mean\":%.1f,\"rows_max\":%llu,\"resent\":%llu,"
                   "\"cpu_us_per_msg\":%.1f,\"broker_cpu_us_per_msg\":%.1f}",
                   k ? "," : "", r->batch ? "true" : "false", r->batch,
                   r->window, r->msgs_s, r->total_s, r->rate_min, r->rate_max,
                   base > 0 ? r->msgs_s / base : 0.0, r->receipts_s,
                   (unsigned long long)r->sub_sent, r->held_mean,
                   (unsigned long long)r->held_max, r->rows_mean,
                   (unsigned long long)r->rows_max,
                   (unsigned long long)r->resent, r->cpu_us, r->broker_us);
        }
        printf("],\"ratio\":%.3f}\n", ratio);
        return;
    }
    printf("secmq-bench --suite receipts (%s, %d cores)\n", h->cpu, h->cores);
    printf("  %u B signed, QoS 1, through the outbox (sync %s), %ld messages "
           "per row, median of %d;\n  CPU us/msg: this process (both "
           "clients) + the broker\n",
           RC_SIZE, o->full ? "FULL" : "NORMAL", o->count, o->repeat);
    printf("  %-27s %7s %13s %6s %10s %9s %13s %13s %6s %13s\n", "row",
           "msgs/s", "(min..max)", "ratio", "receipts/s", "msgs/rcpt",
           "held mean/max", "rows mean/max", "resent", "CPU us/msg");
    for (int k = 0; k < RC_KINDS; k++) {
        const struct rc_row *r = &rows[k];
        char what[48], range[32], held[32], inbox[32], per[16], cpu[48];
        if (r->batch == 0) {
            snprintf(what, sizeof what, "no receipts");
            snprintf(per, sizeof per, "-");
        } else {
            snprintf(what, sizeof what, "receipts, N %u%s", r->batch,
                     r->window == 0 ? ", no window" : "");
            snprintf(per, sizeof per, "%.1f",
                     r->sub_sent ? (double)o->count / (double)r->sub_sent
                                 : 0.0);
        }
        snprintf(range, sizeof range, "(%.0f..%.0f)", r->rate_min, r->rate_max);
        snprintf(held, sizeof held, "%.1f/%llu", r->held_mean,
                 (unsigned long long)r->held_max);
        snprintf(inbox, sizeof inbox, "%.1f/%llu", r->rows_mean,
                 (unsigned long long)r->rows_max);
        snprintf(cpu, sizeof cpu, "%.0f + %.0f", r->cpu_us, r->broker_us);
        printf("  %-27s %7.0f %13s %5.2fx %10.1f %9s %13s %13s %6llu %13s\n",
               what, r->msgs_s, range, base > 0 ? r->msgs_s / base : 0.0,
               r->receipts_s, per, held, inbox, (unsigned long long)r->resent,
               cpu);
    }
    {
        int best = 1;
        for (int k = 2; k < RC_KINDS; k++) {
            best = rows[k].window == RC_WINDOW_DEFAULT &&
                           rows[k].msgs_s > rows[best].msgs_s
                       ? k
                       : best;
        }
        printf("  receipts / no receipts: %.2fx with the defaults (N %u, "
               "window %u), %.2fx with N %u (the fastest window %u row); "
               "target 0.8x\n",
               ratio, rows[RC_DEFAULT].batch, RC_WINDOW_DEFAULT,
               base > 0 ? rows[best].msgs_s / base : 0.0, rows[best].batch,
               RC_WINDOW_DEFAULT);
    }
}

int bench_receipts_main(int argc, char **argv)
{
    char err[BENCH_ERR_BYTES], certs[BENCH_PATH_BYTES], dir[BENCH_PATH_BYTES];
    struct rc_opts o = {5000, 1, 0, 0, 0, "/usr/sbin/mosquitto"};
    struct rc_row runs[RC_KINDS][BENCH_MAX_REPEAT], rows[RC_KINDS];
    bench_broker br;
    bench_host h;
    int rc = rc_parse(&o, argc, argv);

    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    memset(&br, 0, sizeof br);
    memset(runs, 0, sizeof runs);
    dir[0] = '\0';
    err[0] = '\0';
    signal(SIGPIPE, SIG_IGN);
    if (bench_broker_default_certs_bin(certs, sizeof certs, err, sizeof err) !=
            0 ||
        bench_broker_start(&br, o.mosquitto, certs, o.keep, err, sizeof err) !=
            0 ||
        bench_mkdtemp(dir, "secmq-bench-receipts", err, sizeof err) != 0) {
        goto out;
    }
    if (rc_keyrings(dir, err, sizeof err) != 0) {
        goto out;
    }
    for (int r = 0; r < o.repeat; r++) {
        for (int k = 0; k < RC_KINDS; k++) {
            if (bench_interrupted ||
                rc_row_run(&o, &br, dir, &rc_kinds[k], r, &runs[k][r], err,
                           sizeof err) != 0) {
                goto out;
            }
        }
    }
    for (int k = 0; k < RC_KINDS; k++) {
        rc_median(runs[k], o.repeat, &rows[k]);
    }
    bench_host_probe(&h);
    rc_report(&o, rows, &h);
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite receipts: %s\n",
                bench_interrupted ? "interrupted" : err);
    }
    bench_broker_stop(&br);
    if (dir[0] != '\0' && !o.keep) {
        bench_rmtree(dir);
    }
    return rc;
}
