/*
 * bench_report.c -- prints a run's results: a table, or one JSON document.
 *
 * Both forms carry the same facts: machine, library versions, negotiated
 * TLS, every throughput row and latency run, the secmq/libmosquitto-TLS
 * ratios of this run and whether the performance targets were met. Pure
 * formatting: no measurement happens here.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

/* The targets from the performance issue, secmq-tls against mosq-tls. */
#define TARGET_SMALL_RATIO 1.0 /* 64 B and 1 KiB: at least as fast */
#define TARGET_LARGE_RATIO 0.8 /* 64 KiB: at least 0.8x */
#define TARGET_LAT_P50_US 50.0 /* p50 at most 50 us above */

/* "64 B", "1 KiB", "64 KiB", "1500 B". */
static void fmt_size(char *out, size_t len, size_t size)
{
    if (size >= 1024 && size % 1024 == 0) {
        snprintf(out, len, "%zu KiB", size / 1024);
    } else {
        snprintf(out, len, "%zu B", size);
    }
}

static const bench_row *find_row(const bench_results *r, bench_transport t,
                                 size_t size, int qos)
{
    size_t i;

    for (i = 0; i < r->nrows; i++) {
        if (r->rows[i].transport == t && r->rows[i].size == size &&
            r->rows[i].qos == qos) {
            return &r->rows[i];
        }
    }
    return NULL;
}

static const bench_latency *find_lat(const bench_results *r, bench_transport t)
{
    size_t i;

    for (i = 0; i < r->nlat; i++) {
        if (r->lat[i].transport == t && r->lat[i].samples > 0) {
            return &r->lat[i];
        }
    }
    return NULL;
}

/* secmq-tls msgs/s over mosq-tls msgs/s for row's size and QoS, or -1. */
static double row_ratio(const bench_results *r, const bench_row *row)
{
    const bench_row *base;

    if (row->transport != BENCH_SECMQ_TLS) {
        return -1.0;
    }
    base = find_row(r, BENCH_MOSQ_TLS, row->size, row->qos);
    if (base == NULL || base->msgs_per_s <= 0.0) {
        return -1.0;
    }
    return row->msgs_per_s / base->msgs_per_s;
}

/* The minimum ratio a size must reach, or -1 when there is no target. */
static double size_target(size_t size)
{
    if (size == 64 || size == 1024) {
        return TARGET_SMALL_RATIO;
    }
    if (size == 65536) {
        return TARGET_LARGE_RATIO;
    }
    return -1.0;
}

/* The msgs/s target for secmq-tls at size and QoS q, and this run's ratio
 * against mosq-tls: 1 with *target and *ratio set, or 0 when size has no
 * target or the run lacks one of the two rows. */
static int throughput_target(const bench_results *r, size_t size, int q,
                             double *target, double *ratio)
{
    const bench_row *row;

    *target = size_target(size);
    if (*target <= 0.0) {
        return 0;
    }
    row = find_row(r, BENCH_SECMQ_TLS, size, q);
    *ratio = row != NULL ? row_ratio(r, row) : -1.0;
    return *ratio >= 0.0;
}

/* p50 of secmq-tls minus p50 of mosq-tls in us; *ok = 0 if unknown. */
static double lat_delta(const bench_results *r, int *ok)
{
    const bench_latency *a = find_lat(r, BENCH_SECMQ_TLS);
    const bench_latency *b = find_lat(r, BENCH_MOSQ_TLS);

    *ok = a != NULL && b != NULL;
    return *ok ? a->p50_us - b->p50_us : 0.0;
}

void bench_report_table(const bench_meta *m, const bench_params *p,
                        const bench_results *r)
{
    char sz[32];
    char ratio[32];
    char bcpu[32];
    const bench_row *row;
    const bench_latency *l;
    double x, target, d;
    size_t i;
    int t, ok, q;

    printf("secmq-bench: MQTT through one mosquitto %s broker (%s, %s "
           "plain :%d, TLS :%d)\n",
           m->broker_version[0] != '\0' ? m->broker_version : "(version ?)",
           m->broker_mode, m->host_addr, m->port, m->tls_port);
    printf("machine:   %s, %d cores, CPU AES instructions: %s, %s\n",
           m->host.cpu, m->host.cores, m->host.aes_flag ? "yes" : "no",
           m->host.kernel);
    printf("libraries: secmq %s, wolfSSL %s, libmosquitto %s, %s\n",
           m->secmq_version, m->wolfssl_version, m->mosq_version,
           m->openssl_version);
    printf("TLS negotiated:\n");
    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        if (r->have_tls[t]) {
            printf("  %-10s %-24s %-8s %s\n",
                   bench_transport_name((bench_transport)t), r->tls[t].library,
                   r->tls[t].version[0] != '\0' ? r->tls[t].version : "?",
                   r->tls[t].cipher[0] != '\0' ? r->tls[t].cipher : "?");
        }
    }

    printf("\nthroughput: publisher -> broker -> subscriber, counted at the "
           "subscriber;\nat most %ld messages / %ld payload bytes in flight, "
           "sending capped at %.1f s per row\n",
           p->window, p->window_bytes, p->duration_s);
    printf("%-10s %8s %3s %11s %9s %8s/%-8s %7s %6s %6s %11s\n", "transport",
           "payload", "qos", "msgs/s", "MB/s", "arrived", "sent", "time s",
           "cpu", "broker", "vs mosq-tls");
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        fmt_size(sz, sizeof(sz), row->size);
        x = row_ratio(r, row);
        if (x >= 0.0) {
            snprintf(ratio, sizeof(ratio), "%.2fx", x);
        } else {
            snprintf(ratio, sizeof(ratio), "-");
        }
        if (row->cpu_broker >= 0.0) {
            snprintf(bcpu, sizeof(bcpu), "%.2f", row->cpu_broker);
        } else {
            snprintf(bcpu, sizeof(bcpu), "-");
        }
        printf("%-10s %8s %3d %11.0f %9.2f %8ld/%-8ld %7.2f %6.2f %6s "
               "%11s%s\n",
               bench_transport_name(row->transport), sz, row->qos,
               row->msgs_per_s, row->mb_per_s, row->arrived, row->sent,
               row->seconds, row->cpu_self, bcpu, ratio,
               row->capped ? "  (capped)" : "");
    }
    printf("(MB = 10^6 bytes of payload; cpu/broker = CPU used by this "
           "process / the broker, in cores)\n");
    if (p->repeat > 1) {
        printf("(each row: median of %d runs; spread of msgs/s across "
               "runs:)\n",
               p->repeat);
        for (i = 0; i < r->nrows; i++) {
            row = &r->rows[i];
            fmt_size(sz, sizeof(sz), row->size);
            printf("  %-10s %8s qos %d  %9.0f .. %9.0f msgs/s\n",
                   bench_transport_name(row->transport), sz, row->qos,
                   row->rate_min, row->rate_max);
        }
    }

    if (r->nlat > 0) {
        printf("\nlatency: 64 B QoS 1, publish -> arrival at the subscriber; "
               "one message in flight;\nblocks of 100 samples per transport, "
               "rotating; %ld warm-up samples per transport dropped\n",
               p->lat_warmup);
        printf("%-10s %9s %9s %9s %9s %9s %8s %5s %13s\n", "transport",
               "p50 us", "p99 us", "mean us", "min us", "max us", "samples",
               "lost", "p50 vs mosq-tls");
        for (i = 0; i < r->nlat; i++) {
            l = &r->lat[i];
            d = lat_delta(r, &ok);
            if (l->transport == BENCH_SECMQ_TLS && ok) {
                snprintf(ratio, sizeof(ratio), "%+.0f us", d);
            } else {
                snprintf(ratio, sizeof(ratio), "-");
            }
            printf("%-10s %9.1f %9.1f %9.1f %9.1f %9.1f %8ld %5ld %13s\n",
                   bench_transport_name(l->transport), l->p50_us, l->p99_us,
                   l->mean_us, l->min_us, l->max_us, l->samples, l->lost,
                   ratio);
        }
    }

    printf("\ntargets (secmq-tls vs mosq-tls, this run):\n");
    ok = 0;
    for (i = 0; i < p->nsizes; i++) {
        for (q = 0; q <= 1; q++) {
            if (!throughput_target(r, p->sizes[i], q, &target, &x)) {
                continue;
            }
            fmt_size(sz, sizeof(sz), p->sizes[i]);
            printf("  msgs/s %-7s QoS %d  >= %.2fx   %6.2fx   %s\n", sz, q,
                   target, x, x >= target ? "met" : "NOT MET");
            ok = 1;
        }
    }
    d = lat_delta(r, &t);
    if (t) {
        printf("  latency p50 64 B QoS 1  <= +%.0f us  %+6.0f us  %s\n",
               TARGET_LAT_P50_US, d,
               d <= TARGET_LAT_P50_US ? "met" : "NOT MET");
        ok = 1;
    }
    if (!ok) {
        printf("  (none: needs both mosq-tls and secmq-tls rows)\n");
    }
    printf("total run time %.1f s\n", m->total_s);
}

/* Prints s as a JSON string literal. */
static void json_str(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    putchar('"');
    for (; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

/* Prints a number with 4 decimals, or null when negative (unknown). */
static void json_num(double v)
{
    if (v < 0.0) {
        printf("null");
    } else {
        printf("%.4f", v);
    }
}

/* Ends the JSON array before and opens the member name as a new one; *sep
 * is reset, as its first element takes no comma. */
static void json_next_array(const char *name, const char **sep)
{
    printf("\n  ],\n  \"%s\": [", name);
    *sep = "";
}

/* Opens one object in a JSON array, on a line of its own: *sep is the comma
 * after the object before, none for the first. */
static void json_element(const char **sep)
{
    printf("%s\n    {", *sep);
    *sep = ",";
}

/* Opens the object of one measurement with the keys all of them start
 * with. */
static void json_measurement(const char **sep, bench_transport t, size_t size,
                             int qos)
{
    json_element(sep);
    printf("\"transport\": \"%s\", \"payload\": %zu, \"qos\": %d",
           bench_transport_name(t), size, qos);
}

void bench_report_json(const bench_meta *m, const bench_params *p,
                       const bench_results *r)
{
    const bench_row *row;
    const bench_latency *l;
    double x, target, d;
    const char *sep = "";
    size_t i;
    int t, q, ok;

    printf("{\n  \"tool\": \"secmq-bench\",\n  \"versions\": {\"secmq\": ");
    json_str(m->secmq_version);
    printf(", \"wolfssl\": ");
    json_str(m->wolfssl_version);
    printf(", \"libmosquitto\": ");
    json_str(m->mosq_version);
    printf(", \"openssl\": ");
    json_str(m->openssl_version);
    printf(", \"broker\": ");
    json_str(m->broker_version);
    printf("},\n  \"machine\": {\"cpu\": ");
    json_str(m->host.cpu);
    printf(", \"cores\": %d, \"cpu_aes_flag\": %s, \"kernel\": ", m->host.cores,
           m->host.aes_flag ? "true" : "false");
    json_str(m->host.kernel);
    printf("},\n  \"broker\": {\"mode\": ");
    json_str(m->broker_mode);
    printf(", \"host\": ");
    json_str(m->host_addr);
    printf(", \"port\": %d, \"tls_port\": %d},\n", m->port, m->tls_port);
    printf("  \"params\": {\"duration_s\": %.3f, \"repeat\": %d, "
           "\"window\": %ld, "
           "\"window_bytes\": %ld, \"latency_samples\": %ld, "
           "\"latency_warmup\": %ld, \"stall_s\": %.3f, "
           "\"drain_max_s\": %.3f},\n",
           p->duration_s, p->repeat, p->window, p->window_bytes, p->lat_samples,
           p->lat_warmup, p->stall_s, p->drain_max_s);

    printf("  \"tls\": [");
    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        if (!r->have_tls[t]) {
            continue;
        }
        json_element(&sep);
        printf("\"transport\": \"%s\", \"library\": ",
               bench_transport_name((bench_transport)t));
        json_str(r->tls[t].library);
        printf(", \"version\": ");
        json_str(r->tls[t].version);
        printf(", \"cipher\": ");
        json_str(r->tls[t].cipher);
        printf("}");
    }
    json_next_array("throughput", &sep);
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        json_measurement(&sep, row->transport, row->size, row->qos);
        printf(", \"sent\": %ld, \"arrived\": %ld, \"seconds\": %.6f, "
               "\"msgs_per_s\": %.1f, \"mb_per_s\": %.3f, \"cpu_self\": %.3f, "
               "\"cpu_broker\": ",
               row->sent, row->arrived, row->seconds, row->msgs_per_s,
               row->mb_per_s, row->cpu_self);
        json_num(row->cpu_broker);
        printf(", \"capped\": %s, \"runs\": %d, \"msgs_per_s_min\": "
               "%.1f, \"msgs_per_s_max\": %.1f, \"ratio_vs_mosq_tls\": ",
               row->capped ? "true" : "false", row->runs, row->rate_min,
               row->rate_max);
        json_num(row_ratio(r, row));
        printf("}");
    }
    json_next_array("latency", &sep);
    for (i = 0; i < r->nlat; i++) {
        l = &r->lat[i];
        json_measurement(&sep, l->transport, l->size, l->qos);
        printf(", \"in_flight\": 1, \"samples\": %ld, \"lost\": %ld, "
               "\"p50_us\": %.2f, \"p99_us\": %.2f, \"mean_us\": %.2f, "
               "\"min_us\": %.2f, \"max_us\": %.2f}",
               l->samples, l->lost, l->p50_us, l->p99_us, l->mean_us, l->min_us,
               l->max_us);
    }
    json_next_array("targets", &sep);
    for (i = 0; i < p->nsizes; i++) {
        for (q = 0; q <= 1; q++) {
            if (!throughput_target(r, p->sizes[i], q, &target, &x)) {
                continue;
            }
            json_element(&sep);
            printf("\"metric\": \"msgs_per_s_ratio\", \"payload\": %zu, "
                   "\"qos\": %d, \"min\": %.2f, \"value\": %.4f, "
                   "\"met\": %s}",
                   p->sizes[i], q, target, x, x >= target ? "true" : "false");
        }
    }
    d = lat_delta(r, &ok);
    if (ok) {
        json_element(&sep);
        printf("\"metric\": \"latency_p50_delta_us\", \"payload\": 64, "
               "\"qos\": 1, \"max\": %.1f, \"value\": %.2f, \"met\": %s}",
               TARGET_LAT_P50_US, d, d <= TARGET_LAT_P50_US ? "true" : "false");
    }
    printf("\n  ],\n  \"total_s\": %.3f\n}\n", m->total_s);
}
