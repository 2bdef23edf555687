/*
 * bench_authd_report.c -- the output of `secmq-bench --suite authd`: a
 * table, or one JSON document (--json). Only printing; the rows come from
 * bench_authd.c.
 */
#include "bench_authd.h"
#include "bench_authd_int.h"

#include <stdio.h>

#ifdef BENCH_HAVE_AUTHCORE
#include "pwhash.h"
#endif

/* The database's argon2id cost: the option, else secmq-admin's default
 * (known when the bench is built with the plugin's code). 0 unknown. */
static void pw_cost(const authd_opts *o, unsigned long long *ops, size_t *mem)
{
    *ops = o->pw_ops;
    *mem = o->pw_mem;
#ifdef BENCH_HAVE_AUTHCORE
    *ops = *ops > 0 ? *ops : SECMQ_PW_DEFAULT_OPS;
    *mem = *mem > 0 ? *mem : SECMQ_PW_DEFAULT_MEM;
#endif
}

static const char *inst_name(int inst)
{
    return inst == AUTHD_INST_NOCACHE ? "nocache" : "default";
}

void bench_authd_report_table(const authd_opts *o, const authd_run *r)
{
    unsigned long long ops;
    size_t mem;

    pw_cost(o, &ops, &mem);
    printf("secmq-bench --suite authd (%s, %d cores, %s)\n", r->host.cpu,
           r->host.cores, r->host.kernel);
    printf("secmq-authd: %s\n", o->authd);
    printf("database:    %zu users, %zu rules (%zu patterns); argon2id ops "
           "%llu, %zu KiB%s\n",
           r->pol.nusers, r->pol.nrules, r->pol.npatterns, ops, mem / 1024,
           o->pw_ops == 0 ? " (secmq-admin's default)" : "");
    printf("load:        %.2f %.2f %.2f before, %.2f %.2f %.2f after\n",
           r->load_start[0], r->load_start[1], r->load_start[2], r->load_end[0],
           r->load_end[1], r->load_end[2]);
    printf("first login (default instance, not cached): %.2f ms\n",
           r->first_login_ms);
    printf("\n%.2f s per row, median of %d; HTTP/1.1 kept alive, one "
           "question at a time per connection\n",
           o->seconds, o->repeat);
    printf("%-19s %-15s %-7s %5s %9s %10s %9s %9s %9s %5s\n", "question",
           "path", "authd", "conns", "requests", "answers/s", "p50 us",
           "p99 us", "max us", "cpu");
    for (size_t i = 0; i < r->nrows; i++) {
        const authd_row *w = &r->rows[i];
        printf("%-19s %-15s %-7s %5d %9ld %10.0f %9.1f %9.1f %9.1f %5.2f\n",
               w->q->name, w->q->path, inst_name(w->q->inst), w->conns,
               w->requests, w->per_s, w->p50_us, w->p99_us, w->max_us, w->cpu);
    }
    printf("\nquestions (answer expected and checked):\n");
    for (size_t i = 0; bench_authd_question(i) != NULL; i++) {
        const authd_question *q = bench_authd_question(i);
        printf("  %-19s %-5s %s\n", q->name, q->expect_allow ? "allow" : "deny",
               q->what);
    }
    if (o->repeat > 1) {
        printf("\nspread of answers/s over %d runs:\n", o->repeat);
        for (size_t i = 0; i < r->nrows; i++) {
            const authd_row *w = &r->rows[i];
            printf("  %-19s %2d conns  %.0f .. %.0f\n", w->q->name, w->conns,
                   w->rate_min, w->rate_max);
        }
    }
}

void bench_authd_report_json(const authd_opts *o, const authd_run *r)
{
    unsigned long long ops;
    size_t mem;

    pw_cost(o, &ops, &mem);
    printf("{\"suite\":\"authd\",\"cpu\":");
    bench_json_str(r->host.cpu);
    printf(",\"cores\":%d,\"authd\":", r->host.cores);
    bench_json_str(o->authd);
    printf(",\"policy\":{\"users\":%zu,\"rules\":%zu,\"patterns\":%zu},"
           "\"pw_ops\":%llu,\"pw_mem\":%zu,",
           r->pol.nusers, r->pol.nrules, r->pol.npatterns, ops, mem);
    bench_json_load(r->load_start, r->load_end);
    printf(",\"seconds_per_row\":%.3f,\"repeat\":%d,\"conns\":%d,"
           "\"first_login_ms\":%.3f,\"rows\":[",
           o->seconds, o->repeat, o->conns, r->first_login_ms);
    for (size_t i = 0; i < r->nrows; i++) {
        const authd_row *w = &r->rows[i];
        printf("%s{\"question\":\"%s\",\"path\":\"%s\",\"instance\":\"%s\","
               "\"expect\":\"%s\",\"conns\":%d,\"requests\":%ld,"
               "\"reconnects\":%ld,\"seconds\":%.4f,\"per_s\":%.1f,"
               "\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f,\"cpu\":",
               i ? "," : "", w->q->name, w->q->path, inst_name(w->q->inst),
               w->q->expect_allow ? "allow" : "deny", w->conns, w->requests,
               w->reconnects, w->seconds, w->per_s, w->p50_us, w->p99_us,
               w->max_us);
        bench_json_num(w->cpu);
        printf(",\"runs\":%d,\"rate_min\":%.1f,\"rate_max\":%.1f}", w->runs,
               w->rate_min, w->rate_max);
    }
    printf("]}\n");
}
