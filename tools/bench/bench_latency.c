/*
 * bench_latency.c -- the latency phase of the transport suite: one message
 * in flight in the whole process, sampled in blocks rotating over the plain
 * transports, summarised as percentiles. Sending and receiving one sample
 * is bench_pair_sample (bench_run.c); the throughput rows are bench_run.c.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAT_BLOCK 100    /* latency samples in a row on one transport */
#define LAT_BLOCK_SKIP 2 /* first samples of a block, not kept */

/* Sorts v[0..n-1] and fills the statistics of out. */
static void lat_stats(uint64_t *v, long n, bench_latency *out)
{
    double sum = 0.0;
    long i;

    out->samples = n;
    if (n <= 0) {
        return;
    }
    bench_u64_sort(v, n);
    for (i = 0; i < n; i++) {
        sum += (double)v[i];
    }
    out->p50_us = (double)bench_u64_percentile(v, n, 0.50) / 1e3;
    out->p99_us = (double)bench_u64_percentile(v, n, 0.99) / 1e3;
    out->min_us = (double)v[0] / 1e3;
    out->max_us = (double)v[n - 1] / 1e3;
    out->mean_us = sum / (double)n / 1e3;
}

/*
 * Latency of every open pair: BENCH_LAT_SIZE bytes at BENCH_LAT_QOS, one
 * message in flight in the whole process. Samples are taken in blocks per
 * transport, rotating over the transports, so drift hits all of them alike
 * while each block runs with its threads awake. Fills res->lat; returns 0, or
 * -1.
 */
int bench_latency_run(const bench_params *p,
                      bench_pair *const pairs[BENCH_TRANSPORTS],
                      uint32_t row_id, unsigned char *buf, bench_results *res,
                      char *err, size_t errlen)
{
    uint64_t *v[BENCH_TRANSPORTS] = {NULL};
    long n[BENCH_TRANSPORTS] = {0};
    long seen[BENCH_TRANSPORTS] = {0};
    long total = p->lat_warmup + p->lat_samples;
    bench_latency *out;
    uint64_t phase_end, lat;
    uint32_t seq = 0;
    long i, round, rounds;
    int t;

    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        out = &res->lat[t];
        memset(out, 0, sizeof(*out));
        out->transport = (bench_transport)t;
        out->size = BENCH_LAT_SIZE;
        out->qos = BENCH_LAT_QOS;
        if (pairs[t] == NULL || t >= BENCH_PLAIN_TRANSPORTS) {
            continue;
        }
        v[t] = calloc((size_t)p->lat_samples + 1, sizeof(*v[t]));
        if (v[t] == NULL) {
            snprintf(err, errlen, "out of memory");
            goto err;
        }
    }
    /* The whole phase is capped too, in case every sample times out. */
    phase_end =
        bench_now_ns() +
        (uint64_t)((p->duration_s * 4.0 > 10.0 ? p->duration_s * 4.0 : 10.0) *
                   1e9);
    /* Blocks of LAT_BLOCK samples per transport, rotating over the
     * transports; each block starts with LAT_BLOCK_SKIP samples that wake
     * its threads and are not kept. Bounded by rounds and by phase_end. */
    rounds = total / (LAT_BLOCK - LAT_BLOCK_SKIP) + 1;
    for (round = 0; round < rounds && !bench_interrupted; round++) {
        for (t = 0; t < BENCH_PLAIN_TRANSPORTS; t++) {
            if (pairs[t] == NULL || n[t] >= p->lat_samples) {
                continue;
            }
            for (i = 0; i < LAT_BLOCK && n[t] < p->lat_samples &&
                        bench_now_ns() < phase_end && !bench_interrupted;
                 i++) {
                if (bench_pair_sample(pairs[t], row_id, seq++, buf, &lat, err,
                                      errlen) != 0) {
                    goto err;
                }
                if (lat == 0) {
                    res->lat[t].lost++;
                } else if (i >= LAT_BLOCK_SKIP && seen[t]++ >= p->lat_warmup) {
                    v[t][n[t]++] = lat;
                }
            }
        }
    }
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        goto err;
    }
    res->nlat = 0;
    for (t = 0; t < BENCH_PLAIN_TRANSPORTS; t++) {
        if (pairs[t] != NULL) {
            lat_stats(v[t], n[t], &res->lat[t]);
            res->lat[res->nlat] = res->lat[t];
            res->nlat++;
        }
        free(v[t]);
    }
    return 0;

err:
    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        free(v[t]);
    }
    return -1;
}
