/*
 * bench_stats.c -- order statistics the bench reports: sorting nanosecond
 * samples, their nearest-rank percentiles, the median repetition of a
 * throughput row, and CPU time per message. Pure functions over arrays; nothing
 * here measures.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

double bench_us_per_msg(double cpu_s, long arrived)
{
    if (cpu_s < 0.0 || arrived <= 0) {
        return -1.0;
    }
    return cpu_s / (double)arrived * 1e6;
}

void bench_u64_sort(uint64_t *v, long n)
{
    if (n > 1) {
        qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    }
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
uint64_t bench_u64_percentile(const uint64_t *v, long n, double q)
{
    long idx = (long)((double)n * q + 0.999999) - 1;

    idx = idx < 0 ? 0 : idx >= n ? n - 1 : idx;
    return v[idx];
}

static int cmp_rate(const void *a, const void *b)
{
    double x = ((const bench_row *)a)->msgs_per_s;
    double y = ((const bench_row *)b)->msgs_per_s;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* Copies the repetition with the median msgs/s (the lower middle one for
 * an even count) into out, with the spread of all n. v is reordered. */
void bench_rows_median(bench_row *v, int n, bench_row *out)
{
    int i, r;

    qsort(v, (size_t)n, sizeof(*v), cmp_rate);
    *out = v[(n - 1) / 2];
    out->runs = n;
    out->rate_min = v[0].msgs_per_s;
    out->rate_max = v[n - 1].msgs_per_s;
    /* Open failures are not a speed: every repetition's count. */
    if (out->open_failed >= 0) {
        out->open_failed = 0;
        memset(out->open_failed_by, 0, sizeof(out->open_failed_by));
        for (i = 0; i < n; i++) {
            out->open_failed += v[i].open_failed > 0 ? v[i].open_failed : 0;
            for (r = 0; r < BENCH_OPEN_REASONS; r++) {
                out->open_failed_by[r] += v[i].open_failed_by[r];
            }
        }
    }
}
