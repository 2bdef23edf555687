/*
 * bench_flood.c -- the login-flood row of the broker suite: what a flood of
 * wrong passwords from one host does to everyone else on the broker.
 *
 * Per broker: an established subscriber (bench-sub, 127.0.0.1) receives a
 * message from bench-pub every FLOOD_PUBLISH_MS; FLOOD threads connect in
 * a loop from 127.0.0.2 as bench-conn with a wrong password; a genuine
 * device (bench-conn with its password, 127.0.0.1, logged in once before
 * the flood) reconnects every GENUINE_PAUSE_MS. Reported: the subscriber's
 * delivery latency and the genuine device's connect time during the
 * flood, and what the flood got. Loopback only, bounded in time and count.
 * Not a test: nothing is asserted here; docs/PERFORMANCE.md has the targets.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLOOD_FROM "127.0.0.2"
#define GENUINE_FROM "127.0.0.1"
#define FLOOD_PER_THREAD 20000L /* attempts per flood thread, at most */
#define FLOOD_PUBLISH_MS 10L
#define GENUINE_PAUSE_MS 25L
#define GENUINE_MAX 2000L
#define DRAIN_MAX_S 30.0  /* after the flood: wait for late messages */
#define DRAIN_STALL_S 5.0 /* ... unless nothing arrives for this long */
#define FLOOD_ROW_ID 0x464c4f4fu

static void sleep_until(uint64_t t)
{
    uint64_t now = bench_now_ns();
    struct timespec ts;

    if (now >= t) {
        return;
    }
    ts.tv_sec = (time_t)((t - now) / 1000000000u);
    ts.tv_nsec = (long)((t - now) % 1000000000u);
    (void)nanosleep(&ts, NULL);
}

/* Latency statistics of v[0..n-1] (sorted here) into out, in ms. */
static void lat_ms(uint64_t *v, long n, bench_flood_result *out)
{
    if (n <= 0) {
        return;
    }
    bench_u64_sort(v, n);
    out->lat_p50_ms = (double)bench_u64_percentile(v, n, 0.50) / 1e6;
    out->lat_p99_ms = (double)bench_u64_percentile(v, n, 0.99) / 1e6;
    out->lat_max_ms = (double)v[n - 1] / 1e6;
}

int bench_flood_run(const bench_auth_opts *o, const bench_broker *b,
                    bench_auth_broker which, const bench_flood_logins *lg,
                    bench_flood_result *out, char *err, size_t errlen)
{
    bench_endpoint ep;
    bench_pair *pr = NULL;
    bench_connect_bg *flood = NULL;
    bench_connect_bg *genuine = NULL;
    bench_connect_spec fs, gs;
    bench_connect_row first;
    unsigned char buf[BENCH_LAT_SIZE];
    uint64_t *lat = NULL;
    uint64_t t0, end, next, drain_end, progress;
    long cap, n, seen;
    uint32_t seq = 0;
    char topic[64];
    char tag[3];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(buf, 0x5a, sizeof(buf));
    out->broker = which;
    out->threads = o->flood_threads;
    out->seconds = o->flood_s;
    tag[0] = which == BENCH_AUTH_PLUGIN ? 'p' : 'f';
    tag[1] = 'l';
    tag[2] = '\0';
    snprintf(topic, sizeof(topic), BENCH_AUTH_TOPIC_FMT, tag);
    memset(&ep, 0, sizeof(ep));
    ep.host = GENUINE_FROM;
    ep.port = b->port;
    ep.tls_port = b->tls_port;
    ep.cafile = b->cafile;
    cap = (long)(o->flood_s * 1000.0 / (double)FLOOD_PUBLISH_MS) + 1;
    lat = calloc((size_t)cap, sizeof(*lat));
    if (lat == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (bench_pair_open_login(&pr, BENCH_MOSQ_TCP, &ep, topic, tag, lg->pub,
                              lg->sub, err, errlen) != 0) {
        goto done;
    }
    /* The genuine device has logged in before (a reconnect, not a first
     * login). */
    if (bench_connect_run(GENUINE_FROM, b->port, lg->good, 1, 1, 5.0, b, &first,
                          err, errlen) != 0) {
        goto done;
    }
    out->first_login_ms = first.ms_mean;
    out->first_login_ok = first.accepted == 1;

    memset(&fs, 0, sizeof(fs));
    fs.from = FLOOD_FROM;
    fs.login = lg->bad;
    fs.threads = o->flood_threads;
    fs.count = FLOOD_PER_THREAD * o->flood_threads;
    fs.cap_s = o->flood_s;
    fs.tolerant = 1;
    fs.id_base = 1000;
    memset(&gs, 0, sizeof(gs));
    gs.from = GENUINE_FROM;
    gs.login = lg->good;
    gs.threads = 1;
    gs.count = GENUINE_MAX;
    gs.cap_s = o->flood_s;
    gs.pause_ms = GENUINE_PAUSE_MS;
    gs.id_base = 2000;

    bench_pair_record(pr, FLOOD_ROW_ID, lat, cap);
    if (bench_connect_bg_start(&flood, "127.0.0.1", b->port, &fs, b, err,
                               errlen) != 0 ||
        bench_connect_bg_start(&genuine, "127.0.0.1", b->port, &gs, b, err,
                               errlen) != 0) {
        goto done;
    }
    t0 = bench_now_ns();
    end = t0 + (uint64_t)(o->flood_s * 1e9);
    next = t0;
    while (!bench_interrupted && (long)seq < cap && next < end) {
        sleep_until(next);
        if (bench_pair_send(pr, FLOOD_ROW_ID, seq, buf, err, errlen) != 0) {
            goto done;
        }
        seq++;
        next += (uint64_t)FLOOD_PUBLISH_MS * 1000000u;
    }
    out->sent = (long)seq;
    rc = bench_connect_bg_stop(flood, &out->flood, err, errlen);
    flood = NULL;
    if (rc == 0) {
        rc = bench_connect_bg_stop(genuine, &out->genuine, err, errlen);
    }
    genuine = NULL;
    if (rc != 0) {
        goto done;
    }
    rc = -1;
    /* Messages held up by the flood arrive late: wait for them, bounded. */
    drain_end = bench_now_ns() + (uint64_t)(DRAIN_MAX_S * 1e9);
    progress = bench_now_ns();
    seen = -1;
    while (!bench_interrupted && bench_now_ns() < drain_end) {
        n = bench_pair_recorded(pr, 0);
        if (n >= out->sent) {
            break;
        }
        if (n != seen) {
            seen = n;
            progress = bench_now_ns();
        } else if (bench_now_ns() - progress >
                   (uint64_t)(DRAIN_STALL_S * 1e9)) {
            break;
        }
        sleep_until(bench_now_ns() + 20000000u);
    }
    n = bench_pair_recorded(pr, 1);
    out->arrived = n;
    lat_ms(lat, n, out);
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        goto done;
    }
    rc = 0;

done:
    if (rc != 0 && pr != NULL) {
        (void)bench_pair_recorded(pr, 1);
    }
    (void)bench_connect_bg_stop(flood, NULL, NULL, 0);
    (void)bench_connect_bg_stop(genuine, NULL, NULL, 0);
    bench_pair_free(pr);
    free(lat);
    return rc;
}

void bench_flood_report_table(const bench_auth_results *r)
{
    const bench_flood_result *f;
    size_t i;

    if (r->nflood == 0) {
        return;
    }
    printf("\nlogin flood: %d threads connecting in a loop from %s as %s with "
           "a wrong password\nfor %.1f s; meanwhile %s receives a message "
           "every %ld ms (QoS %d, from %s)\nand %s reconnects from %s every "
           "%ld ms (logged in once before)\n",
           r->flood[0].threads, FLOOD_FROM, BENCH_AUTH_CONN,
           r->flood[0].seconds, BENCH_AUTH_SUB, FLOOD_PUBLISH_MS, BENCH_LAT_QOS,
           BENCH_AUTH_PUB, BENCH_AUTH_CONN, GENUINE_FROM, GENUINE_PAUSE_MS);
    printf("%-9s %-10s %8s %8s %8s %7s %8s %8s %8s %8s\n", "broker", "who",
           "attempts", "accepted", "refused", "failed", "per s", "ms p50",
           "ms p99", "ms max");
    for (i = 0; i < r->nflood; i++) {
        f = &r->flood[i];
        printf("%-9s %-10s %8ld %8ld %8ld %7ld %8.0f %8.2f %8.2f %8.2f\n",
               bench_auth_broker_name(f->broker), "flood", f->flood.attempts,
               f->flood.accepted, f->flood.refused, f->flood.failed,
               f->flood.per_s, f->flood.ms_p50, f->flood.ms_p99,
               f->flood.ms_max);
        printf("%-9s %-10s %8ld %8ld %8ld %7ld %8.0f %8.2f %8.2f %8.2f\n",
               bench_auth_broker_name(f->broker), "genuine",
               f->genuine.attempts, f->genuine.accepted, f->genuine.refused,
               f->genuine.failed, f->genuine.per_s, f->genuine.ms_p50,
               f->genuine.ms_p99, f->genuine.ms_max);
        printf("%-9s %-10s %8ld %8ld %8s %7ld %8s %8.2f %8.2f %8.2f\n",
               bench_auth_broker_name(f->broker), "subscriber", f->sent,
               f->arrived, "-", f->sent - f->arrived, "-", f->lat_p50_ms,
               f->lat_p99_ms, f->lat_max_ms);
    }
    printf("(flood/genuine: CONNECT .. CONNACK; subscriber: attempts = "
           "messages sent, accepted =\n arrived, failed = lost, ms = "
           "publish .. delivery; genuine first login before the flood:");
    for (i = 0; i < r->nflood; i++) {
        printf(" %s %.2f ms%s", bench_auth_broker_name(r->flood[i].broker),
               r->flood[i].first_login_ms,
               r->flood[i].first_login_ok ? "" : " REFUSED");
    }
    printf(")\n");
    for (i = 0; i < r->nflood; i++) {
        f = &r->flood[i];
        if (f->broker != BENCH_AUTH_PLUGIN) {
            continue;
        }
        printf("targets (login flood, plugin): subscriber p99 < %.0f ms: "
               "%.2f ms %s; genuine reconnect p99 < %.0f ms: %.2f ms %s\n",
               BENCH_FLOOD_TARGET_MS, f->lat_p99_ms,
               f->arrived > 0 && f->lat_p99_ms < BENCH_FLOOD_TARGET_MS
                   ? "met"
                   : "NOT MET",
               BENCH_FLOOD_TARGET_MS, f->genuine.ms_p99,
               f->genuine.accepted > 0 &&
                       f->genuine.accepted == f->genuine.attempts &&
                       f->genuine.ms_p99 < BENCH_FLOOD_TARGET_MS
                   ? "met"
                   : "NOT MET");
    }
}

static void json_conn(const char *name, const bench_connect_row *c)
{
    printf("\"%s\": {\"attempts\": %ld, \"accepted\": %ld, \"refused\": %ld, "
           "\"failed\": %ld, \"per_s\": %.1f, \"ms_p50\": %.3f, "
           "\"ms_p99\": %.3f, \"ms_max\": %.3f}",
           name, c->attempts, c->accepted, c->refused, c->failed, c->per_s,
           c->ms_p50, c->ms_p99, c->ms_max);
}

void bench_flood_report_json(const bench_auth_results *r)
{
    const bench_flood_result *f;
    const char *sep = "";
    size_t i;

    printf("  \"login_flood\": [");
    for (i = 0; i < r->nflood; i++) {
        f = &r->flood[i];
        printf("%s\n    {\"broker\": \"%s\", \"threads\": %d, \"from\": "
               "\"%s\", \"seconds\": %.1f, ",
               sep, bench_auth_broker_name(f->broker), f->threads, FLOOD_FROM,
               f->seconds);
        json_conn("flood", &f->flood);
        printf(", ");
        json_conn("genuine", &f->genuine);
        printf(", \"genuine_first_login_ms\": %.3f, \"subscriber\": "
               "{\"sent\": %ld, \"arrived\": %ld, \"ms_p50\": %.3f, "
               "\"ms_p99\": %.3f, \"ms_max\": %.3f}, \"target_ms\": %.0f}",
               f->first_login_ms, f->sent, f->arrived, f->lat_p50_ms,
               f->lat_p99_ms, f->lat_max_ms, BENCH_FLOOD_TARGET_MS);
        sep = ",";
    }
    printf("\n  ],\n");
}
