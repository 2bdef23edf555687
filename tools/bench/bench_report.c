/*
 * bench_report.c -- prints a run's results: a table, or one JSON document.
 *
 * Both forms carry the same facts: machine, library versions, negotiated
 * TLS, every throughput row and latency run, the secmq/libmosquitto-TLS
 * and sealed/secmq-tls ratios of this run, the envelopes that did not
 * open, the Ed25519 reference figure, and whether the performance targets
 * were met. Pure formatting: no measurement happens here.
 */
#include "bench.h"
#include "bench_authd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The targets of docs/PERFORMANCE.md, secmq-tls against mosq-tls. */
#define TARGET_SMALL_RATIO 1.0 /* 64 B and 1 KiB: at least as fast */
#define TARGET_LARGE_RATIO 0.8 /* 64 KiB: at least 0.8x */
#define TARGET_LAT_P50_US 50.0 /* p50 at most 50 us above */
/* The targets of the sealing issue, secmq-mac against secmq-tls. */
#define TARGET_MAC_SMALL_RATIO 0.9 /* 64 B: at least 0.9x */
#define TARGET_MAC_LARGE_RATIO 0.9 /* 64 KiB: at least 0.9x */

/* "64 B", "1 KiB", "64 KiB", "1500 B". Also bench_auth_report.c's. */
void bench_fmt_size(char *out, size_t len, size_t size)
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

/* The transport a row is compared with: mosq-tls for secmq-tls, secmq-tls
 * for the sealed transports; -1 for the baselines. */
static int baseline_of(bench_transport t)
{
    if (t == BENCH_SECMQ_TLS) {
        return BENCH_MOSQ_TLS;
    }
    if (bench_transport_sealed(t)) {
        return BENCH_SECMQ_TLS;
    }
    return -1;
}

/* row's msgs/s over its baseline's msgs/s at the same size and QoS, or -1
 * (no baseline, or it is not in this run). */
static double row_ratio(const bench_results *r, const bench_row *row)
{
    const bench_row *base;
    int b = baseline_of(row->transport);

    if (b < 0) {
        return -1.0;
    }
    base = find_row(r, (bench_transport)b, row->size, row->qos);
    if (base == NULL || base->msgs_per_s <= 0.0) {
        return -1.0;
    }
    return row->msgs_per_s / base->msgs_per_s;
}

/* The minimum ratio transport t must reach at a size, or -1 when there is
 * no target. */
static double size_target(bench_transport t, size_t size)
{
    if (t == BENCH_SECMQ_TLS) {
        if (size == 64 || size == 1024) {
            return TARGET_SMALL_RATIO;
        }
        if (size == 65536) {
            return TARGET_LARGE_RATIO;
        }
    }
    if (t == BENCH_SECMQ_MAC) {
        if (size == 64) {
            return TARGET_MAC_SMALL_RATIO;
        }
        if (size == 65536) {
            return TARGET_MAC_LARGE_RATIO;
        }
    }
    return -1.0;
}

/* The msgs/s target for transport t at size and QoS q, and this run's
 * ratio against its baseline: 1 with *target and *ratio set, or 0 when
 * there is no target or the run lacks one of the two rows. */
static int throughput_target(const bench_results *r, bench_transport t,
                             size_t size, int q, double *target, double *ratio)
{
    const bench_row *row;

    *target = size_target(t, size);
    if (*target <= 0.0) {
        return 0;
    }
    row = find_row(r, t, size, q);
    *ratio = row != NULL ? row_ratio(r, row) : -1.0;
    return *ratio >= 0.0;
}

/* The transports with ratio targets, in the order they are reported. */
static const bench_transport target_transports[] = {BENCH_SECMQ_TLS,
                                                    BENCH_SECMQ_MAC};
#define N_TARGET_TRANSPORTS                                                    \
    (sizeof(target_transports) / sizeof(target_transports[0]))

/* Envelopes of transport t that did not open, over all its rows; -1 when
 * the run has no rows of t. */
static long open_failures(const bench_results *r, bench_transport t)
{
    long n = -1;
    size_t i;

    for (i = 0; i < r->nrows; i++) {
        if (r->rows[i].transport == t && r->rows[i].open_failed >= 0) {
            n = (n < 0 ? 0 : n) + r->rows[i].open_failed;
        }
    }
    return n;
}

/* A signed row's msgs/s over this machine's Ed25519 verifications/s, or
 * -1 (not a signed row, or no reference measured). */
static double per_verify(const bench_results *r, const bench_row *row)
{
    if (row->transport != BENCH_SECMQ_SIGNED || r->verify_per_s <= 0.0) {
        return -1.0;
    }
    return row->msgs_per_s / r->verify_per_s;
}

/* 1 if the run has a row of a sealed transport. */
static int have_sealed(const bench_results *r)
{
    size_t i;

    for (i = 0; i < r->nrows; i++) {
        if (bench_transport_sealed(r->rows[i].transport)) {
            return 1;
        }
    }
    return 0;
}

/* Prints the reasons of a row's open failures: " (bad_tag 3, replay 1)". */
static void print_reasons(const bench_row *row)
{
    const char *sep = " (";
    int k;

    for (k = 1; k < BENCH_OPEN_REASONS; k++) {
        if (row->open_failed_by[k] > 0) {
            printf("%s%s %ld", sep, bench_secmq_reason_name(k),
                   row->open_failed_by[k]);
            sep = ", ";
        }
    }
    if (sep[0] == ',') {
        printf(")");
    }
}

/* The threads the thread table has a column for (libmosquitto's loop
 * thread, secmq's); the bench's own thread goes first, the rest last. */
static const char *const thread_cols[] = {"mosquitto loop", "secmq-tunnel",
                                          "secmq-deliver", "secmq-verify"};
#define N_THREAD_COLS (sizeof thread_cols / sizeof thread_cols[0])

/* Prints one figure of the thread table: us per message, or "-". */
static void print_thread_us(double s, long arrived)
{
    double us = s > 0.0 ? bench_us_per_msg(s, arrived) : -1.0;

    if (us >= 0.0) {
        printf(" %14.1f", us);
    } else {
        printf(" %14s", "-");
    }
}

/* The rows' CPU per message by thread name (row->threads). */
static void report_threads(const bench_results *r)
{
    char sz[32], self[BENCH_THREAD_NAME] = "";
    const bench_row *row;
    double rest;
    size_t i, c;
    int any = 0;
    FILE *f = fopen("/proc/self/comm", "r");

    if (f != NULL) {
        if (fgets(self, sizeof self, f) == NULL) {
            self[0] = '\0';
        }
        fclose(f);
        self[strcspn(self, "\n")] = '\0';
    }
    for (i = 0; i < r->nrows; i++) {
        any |= r->rows[i].threads.n > 0;
    }
    if (!any) {
        return;
    }
    printf("\nCPU per message by thread (us; this process's threads during "
           "the row, by name):\n%-12s %8s %3s %14s",
           "transport", "payload", "qos", self);
    for (c = 0; c < N_THREAD_COLS; c++) {
        printf(" %14s", thread_cols[c]);
    }
    printf(" %14s\n", "other");
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        if (row->threads.n == 0) {
            continue;
        }
        bench_fmt_size(sz, sizeof(sz), row->size);
        printf("%-12s %8s %3d", bench_transport_name(row->transport), sz,
               row->qos);
        rest = 0.0;
        for (int g = 0; g < row->threads.n; g++) {
            rest += row->threads.s[g];
        }
        rest -= bench_thread_cpu_of(&row->threads, self);
        print_thread_us(bench_thread_cpu_of(&row->threads, self), row->arrived);
        for (c = 0; c < N_THREAD_COLS; c++) {
            double s = bench_thread_cpu_of(&row->threads, thread_cols[c]);

            rest -= s;
            print_thread_us(s, row->arrived);
        }
        print_thread_us(rest > 1e-9 ? rest : 0.0, row->arrived);
        printf("\n");
    }
    printf("(%s: the bench's thread, publishing (and sealing); mosquitto "
           "loop: the\n mosq-* clients' network threads (libmosquitto's); "
           "secmq-tunnel: the secmq\n clients' network threads (TLS, MQTT, "
           "opening on the subscriber's side);\n secmq-deliver: the "
           "subscriber's delivery thread (replay journal, group commit,\n "
           "on_message); secmq-verify: the verify threads of signed envelopes; "
           "both\n clients of a row together)\n",
           self);
}

/* The sealed section of the table: ratios, open failures, Ed25519. */
static void report_sealed(const bench_params *p, const bench_results *r)
{
    char sz[32];
    char ratio[32];
    char pv[32];
    const bench_row *row;
    double x;
    size_t i;

    printf("\nsealed: secmq-tls plus end-to-end envelopes, sealed by the "
           "publisher, opened by the\nsubscriber (signed: +138 B, Ed25519; "
           "mac-only: +74 B); arrived = opened\n");
    if (r->verify_per_s > 0.0) {
        printf("Ed25519 on this machine: %.0f verifications/s, 1 thread "
               "(crypto_sign_verify_detached,\n%zu B message: %ld in %.2f "
               "s, %d slices spread over the run, %.0f .. %.0f/s)\n",
               r->verify_per_s, r->verify_msg_len, r->verify_count,
               r->verify_seconds, r->verify_slices, r->verify_min,
               r->verify_max);
    }
    printf("%-12s %8s %3s %11s %12s %8s/%-8s %13s %17s\n", "transport",
           "payload", "qos", "msgs/s", "vs secmq-tls", "opened", "sent",
           "open failures", "msgs/s / verify/s");
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        if (!bench_transport_sealed(row->transport)) {
            continue;
        }
        bench_fmt_size(sz, sizeof(sz), row->size);
        x = row_ratio(r, row);
        if (x >= 0.0) {
            snprintf(ratio, sizeof(ratio), "%.2fx", x);
        } else {
            snprintf(ratio, sizeof(ratio), "-");
        }
        x = per_verify(r, row);
        if (x >= 0.0) {
            snprintf(pv, sizeof(pv), "%.2f", x);
        } else {
            snprintf(pv, sizeof(pv), "-");
        }
        printf("%-12s %8s %3d %11.0f %12s %8ld/%-8ld %13ld %17s",
               bench_transport_name(row->transport), sz, row->qos,
               row->msgs_per_s, ratio, row->arrived, row->sent,
               row->open_failed, pv);
        print_reasons(row);
        printf("\n");
    }
    if (p->repeat > 1) {
        printf("(open failures: all %d runs of a row)\n", p->repeat);
    }
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
    char uspm[32];
    const bench_row *row;
    const bench_latency *l;
    bench_transport tt;
    double x, target, d, us;
    size_t i, k;
    long n;
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
    printf("%-12s %8s %3s %11s %9s %8s/%-8s %7s %6s %6s %7s %11s\n",
           "transport", "payload", "qos", "msgs/s", "MB/s", "arrived", "sent",
           "time s", "cpu", "broker", "us/msg", "vs baseline");
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        bench_fmt_size(sz, sizeof(sz), row->size);
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
        us = bench_us_per_msg(row->cpu_self_s, row->arrived);
        if (us >= 0.0) {
            snprintf(uspm, sizeof(uspm), "%.1f", us);
        } else {
            snprintf(uspm, sizeof(uspm), "-");
        }
        printf("%-12s %8s %3d %11.0f %9.2f %8ld/%-8ld %7.2f %6.2f %6s %7s "
               "%11s%s\n",
               bench_transport_name(row->transport), sz, row->qos,
               row->msgs_per_s, row->mb_per_s, row->arrived, row->sent,
               row->seconds, row->cpu_self, bcpu, uspm, ratio,
               row->capped ? "  (capped)" : "");
    }
    printf("(MB = 10^6 bytes of payload; cpu/broker = CPU used by this "
           "process / the broker, in cores;\n us/msg = this process's CPU "
           "time per message that arrived, publisher and subscriber\n "
           "together (one send plus one receive); baseline: mosq-tls for "
           "secmq-tls, secmq-tls for secmq-signed and secmq-mac)\n");
    if (p->repeat > 1) {
        printf("(each row: median of %d runs; spread of msgs/s across "
               "runs:)\n",
               p->repeat);
        for (i = 0; i < r->nrows; i++) {
            row = &r->rows[i];
            bench_fmt_size(sz, sizeof(sz), row->size);
            printf("  %-12s %8s qos %d  %9.0f .. %9.0f msgs/s\n",
                   bench_transport_name(row->transport), sz, row->qos,
                   row->rate_min, row->rate_max);
        }
    }

    report_threads(r);
    if (have_sealed(r)) {
        report_sealed(p, r);
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

    printf("\ntargets (this run):\n");
    ok = 0;
    for (k = 0; k < N_TARGET_TRANSPORTS; k++) {
        tt = target_transports[k];
        for (i = 0; i < p->nsizes; i++) {
            for (q = 0; q <= 1; q++) {
                if (!throughput_target(r, tt, p->sizes[i], q, &target, &x)) {
                    continue;
                }
                bench_fmt_size(sz, sizeof(sz), p->sizes[i]);
                printf("  %-9s vs %-9s msgs/s %-7s QoS %d  >= %.2fx   "
                       "%6.2fx   %s\n",
                       bench_transport_name(tt),
                       bench_transport_name((bench_transport)baseline_of(tt)),
                       sz, q, target, x, x >= target ? "met" : "NOT MET");
                ok = 1;
            }
        }
        if (tt == BENCH_SECMQ_TLS) {
            d = lat_delta(r, &t);
            if (t) {
                printf("  secmq-tls vs mosq-tls  latency p50 64 B QoS 1  "
                       "<= +%.0f us  %+6.0f us  %s\n",
                       TARGET_LAT_P50_US, d,
                       d <= TARGET_LAT_P50_US ? "met" : "NOT MET");
                ok = 1;
            }
        }
    }
    for (t = BENCH_SECMQ_SIGNED; t <= BENCH_SECMQ_MAC; t++) {
        n = open_failures(r, (bench_transport)t);
        if (n >= 0) {
            printf("  %-12s envelopes that did not open = 0   %6ld    %s\n",
                   bench_transport_name((bench_transport)t), n,
                   n == 0 ? "met" : "NOT MET");
            ok = 1;
        }
    }
    if (!ok) {
        printf("  (none: needs mosq-tls and secmq-tls rows, or secmq-tls and "
               "secmq-mac rows)\n");
    }
    if (r->verify_per_s > 0.0) {
        printf("secmq-signed (target: 64 B at least 0.9x one thread's Ed25519 "
               "verifications, %.0f/s here; more where cores allow):\n",
               r->verify_per_s);
        for (i = 0; i < r->nrows; i++) {
            row = &r->rows[i];
            if (row->transport != BENCH_SECMQ_SIGNED) {
                continue;
            }
            bench_fmt_size(sz, sizeof(sz), row->size);
            printf("  msgs/s %-7s QoS %d  %9.0f  = %.2f x verifications/s\n",
                   sz, row->qos, row->msgs_per_s, per_verify(r, row));
        }
    }
    printf("total run time %.1f s\n", m->total_s);
}

/* Prints s as a JSON string literal. Also bench_auth_report.c's. */
void bench_json_str(const char *s)
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

/* Prints a number with 4 decimals, or null when negative (unknown). Also
 * bench_auth_report.c's. */
void bench_json_num(double v)
{
    if (v < 0.0) {
        printf("null");
    } else {
        printf("%.4f", v);
    }
}

void bench_json_load(const double start[3], const double end[3])
{
    for (int k = 0; k < 2; k++) {
        const double *v = k == 0 ? start : end;
        printf("%s\"load_%s\":[", k ? "," : "", k == 0 ? "start" : "end");
        for (int i = 0; i < 3; i++) {
            printf("%s", i ? "," : "");
            bench_json_num(v[i]);
        }
        printf("]");
    }
}

int bench_stdout_flush(char *err, size_t errlen)
{
    if (fflush(stdout) != 0) {
        snprintf(err, errlen, "writing the report: %s", strerror(errno));
        return -1;
    }
    return 0;
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
    bench_transport tt;
    double x, target, d;
    const char *sep = "";
    const char *rsep;
    size_t i, k;
    long n;
    int t, q, ok;

    printf("{\n  \"tool\": \"secmq-bench\",\n  \"versions\": {\"secmq\": ");
    bench_json_str(m->secmq_version);
    printf(", \"wolfssl\": ");
    bench_json_str(m->wolfssl_version);
    printf(", \"libmosquitto\": ");
    bench_json_str(m->mosq_version);
    printf(", \"openssl\": ");
    bench_json_str(m->openssl_version);
    printf(", \"broker\": ");
    bench_json_str(m->broker_version);
    printf("},\n  \"machine\": {\"cpu\": ");
    bench_json_str(m->host.cpu);
    printf(", \"cores\": %d, \"cpu_aes_flag\": %s, \"kernel\": ", m->host.cores,
           m->host.aes_flag ? "true" : "false");
    bench_json_str(m->host.kernel);
    printf("},\n  \"broker\": {\"mode\": ");
    bench_json_str(m->broker_mode);
    printf(", \"host\": ");
    bench_json_str(m->host_addr);
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
        bench_json_str(r->tls[t].library);
        printf(", \"version\": ");
        bench_json_str(r->tls[t].version);
        printf(", \"cipher\": ");
        bench_json_str(r->tls[t].cipher);
        printf("}");
    }
    json_next_array("throughput", &sep);
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        json_measurement(&sep, row->transport, row->size, row->qos);
        printf(", \"sent\": %ld, \"arrived\": %ld, \"seconds\": %.6f, "
               "\"msgs_per_s\": %.1f, \"mb_per_s\": %.3f, \"cpu_self\": %.3f, "
               "\"cpu_self_us_per_msg\": ",
               row->sent, row->arrived, row->seconds, row->msgs_per_s,
               row->mb_per_s, row->cpu_self);
        bench_json_num(bench_us_per_msg(row->cpu_self_s, row->arrived));
        printf(", \"cpu_broker_us_per_msg\": ");
        bench_json_num(bench_us_per_msg(row->cpu_broker_s, row->arrived));
        printf(", \"cpu_broker\": ");
        bench_json_num(row->cpu_broker);
        printf(", \"capped\": %s, \"runs\": %d, \"msgs_per_s_min\": "
               "%.1f, \"msgs_per_s_max\": %.1f, \"ratio_vs_mosq_tls\": ",
               row->capped ? "true" : "false", row->runs, row->rate_min,
               row->rate_max);
        bench_json_num(row->transport == BENCH_SECMQ_TLS ? row_ratio(r, row)
                                                         : -1.0);
        printf(", \"ratio_vs_secmq_tls\": ");
        bench_json_num(
            bench_transport_sealed(row->transport) ? row_ratio(r, row) : -1.0);
        if (row->open_failed >= 0) {
            printf(", \"sealed\": true, \"open_failures\": %ld, "
                   "\"open_failure_reasons\": {",
                   row->open_failed);
            for (k = 1, rsep = ""; k < BENCH_OPEN_REASONS; k++) {
                if (row->open_failed_by[k] > 0) {
                    printf("%s\"%s\": %ld", rsep,
                           bench_secmq_reason_name((int)k),
                           row->open_failed_by[k]);
                    rsep = ", ";
                }
            }
            printf("}");
        }
        if (row->transport == BENCH_SECMQ_SIGNED) {
            printf(", \"msgs_per_verification\": ");
            bench_json_num(per_verify(r, row));
        }
        printf(", \"cpu_threads_us_per_msg\": {");
        for (k = 0, rsep = ""; k < (size_t)row->threads.n; k++) {
            if (row->threads.s[k] <= 0.0) {
                continue; /* a thread of another transport's clients */
            }
            printf("%s", rsep);
            bench_json_str(row->threads.name[k]);
            printf(": ");
            bench_json_num(bench_us_per_msg(row->threads.s[k], row->arrived));
            rsep = ", ";
        }
        printf("}}");
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
    for (k = 0; k < N_TARGET_TRANSPORTS; k++) {
        tt = target_transports[k];
        for (i = 0; i < p->nsizes; i++) {
            for (q = 0; q <= 1; q++) {
                if (!throughput_target(r, tt, p->sizes[i], q, &target, &x)) {
                    continue;
                }
                json_element(&sep);
                printf("\"metric\": \"msgs_per_s_ratio\", \"transport\": "
                       "\"%s\", \"baseline\": \"%s\", \"payload\": %zu, "
                       "\"qos\": %d, \"min\": %.2f, \"value\": %.4f, "
                       "\"met\": %s}",
                       bench_transport_name(tt),
                       bench_transport_name((bench_transport)baseline_of(tt)),
                       p->sizes[i], q, target, x,
                       x >= target ? "true" : "false");
            }
        }
    }
    d = lat_delta(r, &ok);
    if (ok) {
        json_element(&sep);
        printf("\"metric\": \"latency_p50_delta_us\", \"transport\": "
               "\"secmq-tls\", \"baseline\": \"mosq-tls\", "
               "\"payload\": 64, \"qos\": 1, \"max\": %.1f, "
               "\"value\": %.2f, \"met\": %s}",
               TARGET_LAT_P50_US, d, d <= TARGET_LAT_P50_US ? "true" : "false");
    }
    for (t = BENCH_SECMQ_SIGNED; t <= BENCH_SECMQ_MAC; t++) {
        n = open_failures(r, (bench_transport)t);
        if (n >= 0) {
            json_element(&sep);
            printf("\"metric\": \"open_failures\", \"transport\": \"%s\", "
                   "\"max\": 0, \"value\": %ld, \"met\": %s}",
                   bench_transport_name((bench_transport)t), n,
                   n == 0 ? "true" : "false");
        }
    }
    printf("\n  ],\n  \"ed25519_verify\": ");
    if (r->verify_per_s > 0.0) {
        printf("{\"function\": \"crypto_sign_verify_detached\", "
               "\"message_bytes\": %zu, \"threads\": 1, \"count\": %ld, "
               "\"seconds\": %.4f, \"per_s\": %.1f, \"slices\": %d, "
               "\"slice_min_per_s\": %.1f, \"slice_max_per_s\": %.1f}",
               r->verify_msg_len, r->verify_count, r->verify_seconds,
               r->verify_per_s, r->verify_slices, r->verify_min, r->verify_max);
    } else {
        printf("null");
    }
    printf(",\n  \"total_s\": %.3f\n}\n", m->total_s);
}
