/*
 * bench_auth_report.c -- prints the broker suite's results: a table, or one
 * JSON document with the same facts (brokers, policy, the control,
 * throughput rows with plugin/acl-file ratios, connect rows, ACL check
 * cost, password cost, and whether the 0.9x target was met). Pure
 * formatting: no measurement happens here.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

/* The target of the plugin issue: plugin against acl-file, msgs/s. */
#define TARGET_PLUGIN_RATIO 0.9

static const bench_auth_row *find_row(const bench_auth_results *r,
                                      bench_auth_broker b, bench_transport t,
                                      int qos)
{
    size_t i;

    for (i = 0; i < r->nrows; i++) {
        if (r->rows[i].broker == b && r->rows[i].r.transport == t &&
            r->rows[i].r.qos == qos) {
            return &r->rows[i];
        }
    }
    return NULL;
}

/* A plugin row's msgs/s over the acl-file row of the same transport and
 * QoS; -1 for acl-file rows or when the other is missing. */
static double ratio_of(const bench_auth_results *r, const bench_auth_row *row)
{
    const bench_auth_row *base;

    if (row->broker != BENCH_AUTH_PLUGIN) {
        return -1.0;
    }
    base = find_row(r, BENCH_AUTH_FILES, row->r.transport, row->r.qos);
    if (base == NULL || base->r.msgs_per_s <= 0.0) {
        return -1.0;
    }
    return row->r.msgs_per_s / base->r.msgs_per_s;
}

/* "8 MiB" or "65536 B". */
static void fmt_mem(char *out, size_t len, size_t mem)
{
    if (mem >= 1048576 && mem % 1048576 == 0) {
        snprintf(out, len, "%zu MiB", mem / 1048576);
    } else {
        bench_fmt_size(out, len, mem);
    }
}

/* v with decimals and suffix ("1.10x"), or "-" when negative (unknown). */
static void fmt_known(char *out, size_t len, double v, int decimals,
                      const char *suffix)
{
    if (v >= 0.0) {
        snprintf(out, len, "%.*f%s", decimals, v, suffix);
    } else {
        snprintf(out, len, "-");
    }
}

/* Broker CPU per message that arrived, in microseconds; -1 unknown. */
static double broker_us_per_msg(const bench_row *r)
{
    return bench_us_per_msg(r->cpu_broker_s, r->arrived);
}

/* A plugin row's broker CPU per message over the acl-file row's; -1 for
 * acl-file rows or when unknown. */
static double cpu_ratio_of(const bench_auth_results *r,
                           const bench_auth_row *row)
{
    const bench_auth_row *base;
    double a, b;

    if (row->broker != BENCH_AUTH_PLUGIN) {
        return -1.0;
    }
    base = find_row(r, BENCH_AUTH_FILES, row->r.transport, row->r.qos);
    if (base == NULL) {
        return -1.0;
    }
    a = broker_us_per_msg(&row->r);
    b = broker_us_per_msg(&base->r);
    return a >= 0.0 && b > 0.0 ? a / b : -1.0;
}

/* The good, sequential connect row of broker b, or NULL. */
static const bench_connect_row *good_conn(const bench_auth_results *r,
                                          bench_auth_broker b)
{
    size_t i;

    for (i = 0; i < r->nconns; i++) {
        if (r->conns[i].broker == b && r->conns[i].expect_ok &&
            r->conns[i].parallel == 1) {
            return &r->conns[i];
        }
    }
    return NULL;
}

void bench_auth_report_table(const bench_meta *m, const bench_auth_opts *o,
                             const bench_auth_results *r)
{
    char sz[32];
    char mem[32];
    char ratio[32];
    char cratio[32];
    char bcpu[32];
    char us[32];
    const bench_auth_row *row;
    const bench_connect_row *c;
    const bench_aclcost *a;
    double x;
    size_t i;
    int w, ok = 0;

    bench_fmt_size(sz, sizeof(sz), o->p.sizes[0]);
    fmt_mem(mem, sizeof(mem), r->pw_mem);
    printf("secmq-bench --suite broker: mosquitto %s with secmq_auth.so "
           "against mosquitto with\npassword_file + acl_file, the same "
           "users and rules, side by side on 127.0.0.1\n",
           r->broker_version[0] != '\0' ? r->broker_version : "(version ?)");
    printf("machine:   %s, %d cores, %s\n", m->host.cpu, m->host.cores,
           m->host.kernel);
    printf("load:      %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the "
           "end (1/5/15 min;\n           other work on this machine "
           "shows here)\n",
           r->load_start[0], r->load_start[1], r->load_start[2], r->load_end[0],
           r->load_end[1], r->load_end[2]);
    printf("libraries: libmosquitto %s, %s (clients)\n", m->mosq_version,
           m->openssl_version);
    printf("policy:    %zu users, %zu rules (%zu user rules, %zu patterns), "
           "in both brokers\n",
           r->nusers, r->nrules, r->nrules - r->npatterns, r->npatterns);
    printf("  %-8s plain :%-5d TLS :%-5d password_file (mosquitto_passwd: "
           "$7$ PBKDF2-SHA512) + acl_file\n",
           bench_auth_broker_name(BENCH_AUTH_FILES), r->port[BENCH_AUTH_FILES],
           r->tls_port[BENCH_AUTH_FILES]);
    if (r->pw_ops > 0) {
        printf("  %-8s plain :%-5d TLS :%-5d %s, database by secmq-admin "
               "(argon2id ops %llu, mem %s)\n",
               bench_auth_broker_name(BENCH_AUTH_PLUGIN),
               r->port[BENCH_AUTH_PLUGIN], r->tls_port[BENCH_AUTH_PLUGIN],
               r->plugin, r->pw_ops, mem);
    } else {
        /* --flood-only: the in-process cost (and its figure) not run. */
        printf("  %-8s plain :%-5d TLS :%-5d %s, database by secmq-admin "
               "(its default argon2id cost)\n",
               bench_auth_broker_name(BENCH_AUTH_PLUGIN),
               r->port[BENCH_AUTH_PLUGIN], r->tls_port[BENCH_AUTH_PLUGIN],
               r->plugin);
    }
    if (o->flood_only) {
        bench_flood_report_table(r);
        printf("total run time %.1f s\n", m->total_s);
        return;
    }
    printf("control:   publishes no rule allows (%s writing a row's topic, "
           "QoS 1) arrived:",
           BENCH_AUTH_SUB);
    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        printf(" %s %ld/%ld%s", bench_auth_broker_name((bench_auth_broker)w),
               r->control_arrived[w], r->control_sent[w],
               w + 1 < BENCH_AUTH_BROKERS ? "," : "");
    }
    printf(" (must be 0)\n");

    printf("\nthroughput: %s, %s -> broker -> %s, counted at the "
           "subscriber;\nat most %ld messages in flight, sending capped at "
           "%.1f s per row\n",
           sz, BENCH_AUTH_PUB, BENCH_AUTH_SUB, o->p.window, o->p.duration_s);
    printf("%-9s %-9s %3s %9s %8s/%-8s %6s %5s %6s %6s %11s %8s\n", "transport",
           "broker", "qos", "msgs/s", "arrived", "sent", "time s", "cpu",
           "broker", "us/msg", "vs acl-file", "us/msg");
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        fmt_known(ratio, sizeof(ratio), ratio_of(r, row), 2, "x");
        fmt_known(bcpu, sizeof(bcpu), row->r.cpu_broker, 2, "");
        fmt_known(us, sizeof(us), broker_us_per_msg(&row->r), 1, "");
        fmt_known(cratio, sizeof(cratio), cpu_ratio_of(r, row), 2, "x");
        printf("%-9s %-9s %3d %9.0f %8ld/%-8ld %6.2f %5.2f %6s %6s %11s "
               "%8s%s\n",
               bench_transport_name(row->r.transport),
               bench_auth_broker_name(row->broker), row->r.qos,
               row->r.msgs_per_s, row->r.arrived, row->r.sent, row->r.seconds,
               row->r.cpu_self, bcpu, us, ratio, cratio,
               row->r.capped ? "  (capped)" : "");
    }
    printf("(cpu/broker = CPU used by this process / that broker during the "
           "row, in cores;\n us/msg = that broker's CPU time per message; "
           "vs acl-file: msgs/s, then broker us/msg)\n");
    if (o->p.repeat > 1) {
        printf("(each row: median of %d runs, brokers' order swapped every "
               "run; spread of msgs/s:)\n",
               o->p.repeat);
        for (i = 0; i < r->nrows; i++) {
            row = &r->rows[i];
            printf("  %-9s %-9s qos %d  %9.0f .. %9.0f msgs/s\n",
                   bench_transport_name(row->r.transport),
                   bench_auth_broker_name(row->broker), row->r.qos,
                   row->r.rate_min, row->r.rate_max);
        }
    }

    printf("\nconnects: TCP connect, CONNECT (MQTT 3.1.1, username + "
           "password) .. CONNACK, then\nDISCONNECT; plain TCP; THREADS "
           "clients, each connecting in sequence\n");
    printf("%-9s %-15s %7s %8s %8s %7s %6s %10s %8s %8s %8s %8s %6s\n",
           "broker", "login", "threads", "attempts", "accepted", "refused",
           "failed", "connects/s", "ms mean", "ms p50", "ms p99", "ms max",
           "broker");
    for (i = 0; i < r->nconns; i++) {
        c = &r->conns[i];
        fmt_known(bcpu, sizeof(bcpu), c->cpu_broker, 2, "");
        printf("%-9s %-15s %7d %8ld %8ld %7ld %6ld %10.0f %8.2f %8.2f %8.2f "
               "%8.2f %6s%s\n",
               bench_auth_broker_name(c->broker), c->what, c->parallel,
               c->attempts, c->accepted, c->refused, c->failed, c->per_s,
               c->ms_mean, c->ms_p50, c->ms_p99, c->ms_max, bcpu,
               c->capped ? "  (capped)" : "");
    }
    printf("(connects/s = CONNACKs received / time; broker = its CPU in "
           "cores)\n");

    bench_flood_report_table(r);

    if (r->acl.available) {
        printf("\nACL check cost, in process (secmq_authcore, the same %zu "
               "rules; %s compiled to %zu rules,\n%s to %zu; median of %d "
               "runs of %ld calls):\n",
               r->acl.policy_rules, BENCH_AUTH_PUB, r->acl.compiled_pub,
               BENCH_AUTH_SUB, r->acl.compiled_sub,
               r->acl.n > 0 ? r->acl.items[0].runs : 0,
               r->acl.n > 0 ? r->acl.items[0].iterations : 0L);
        printf("  %-40s %-10s %-16s %9s %21s\n", "call", "client", "argument",
               "ns/call", "(min .. max of runs)");
        for (i = 0; i < r->acl.n; i++) {
            a = &r->acl.items[i];
            printf("  %-40s %-10s %-16s %9.1f   (%7.1f .. %7.1f)\n", a->what,
                   a->user, a->arg, a->ns, a->ns_min, a->ns_max);
        }
        printf("  %-40s %-10s %-16s %9.1f us\n",
               "secmq__acl_compile (once per connect)", BENCH_AUTH_PUB, "-",
               r->acl.compile_us);
        fmt_mem(mem, sizeof(mem), r->acl.pw_mem);
        printf("password check, in process (secmq__pw_verify, median): "
               "argon2id ops %llu, mem %s: %.2f ms",
               r->acl.pw_ops, mem, r->acl.argon2_ms);
        if (r->acl.pbkdf2_ms >= 0.0) {
            printf("; mosquitto $7$: %.3f ms", r->acl.pbkdf2_ms);
        }
        printf("\n");
    } else {
        printf("\nACL check cost: not measured (built without "
               "secmq_authcore)\n");
    }

    printf("\ntargets (this run):\n");
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        x = ratio_of(r, row);
        if (x < 0.0) {
            continue;
        }
        printf("  plugin vs acl-file  msgs/s %-6s %-8s QoS %d  >= %.2fx  "
               "%6.2fx   %-7s",
               sz, bench_transport_name(row->r.transport), row->r.qos,
               TARGET_PLUGIN_RATIO, x,
               x >= TARGET_PLUGIN_RATIO ? "met" : "NOT MET");
        x = cpu_ratio_of(r, row);
        if (x >= 0.0) {
            printf("  (broker CPU per message %.2fx)", x);
        }
        printf("\n");
        ok = 1;
    }
    if (!ok) {
        printf("  (none: no throughput rows)\n");
    }
    c = good_conn(r, BENCH_AUTH_PLUGIN);
    if (c != NULL) {
        printf("plugin logins (no target; argon2id ops %llu, mem %s): "
               "%.0f connects/s, %.1f ms each;\n"
               "  500 devices reconnecting at once wait up to %.1f s for the "
               "last CONNACK\n",
               r->pw_ops, mem, c->per_s, c->ms_mean,
               c->per_s > 0.0 ? 500.0 / c->per_s : 0.0);
    }
    printf("total run time %.1f s\n", m->total_s);
}

void bench_auth_report_json(const bench_meta *m, const bench_auth_opts *o,
                            const bench_auth_results *r)
{
    const bench_auth_row *row;
    const bench_connect_row *c;
    const bench_aclcost *a;
    const char *sep = "";
    double x;
    size_t i;
    int w;

    printf("{\n  \"tool\": \"secmq-bench\",\n  \"suite\": \"broker\",\n");
    printf("  \"versions\": {\"libmosquitto\": ");
    bench_json_str(m->mosq_version);
    printf(", \"openssl\": ");
    bench_json_str(m->openssl_version);
    printf(", \"broker\": ");
    bench_json_str(r->broker_version);
    printf("},\n  \"machine\": {\"cpu\": ");
    bench_json_str(m->host.cpu);
    printf(", \"cores\": %d, \"kernel\": ", m->host.cores);
    bench_json_str(m->host.kernel);
    printf(", \"load_start\": [%.2f, %.2f, %.2f], \"load_end\": [%.2f, "
           "%.2f, %.2f]",
           r->load_start[0], r->load_start[1], r->load_start[2], r->load_end[0],
           r->load_end[1], r->load_end[2]);
    printf("},\n  \"policy\": {\"users\": %zu, \"rules\": %zu, "
           "\"patterns\": %zu},\n",
           r->nusers, r->nrules, r->npatterns);
    printf("  \"brokers\": [");
    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        printf("%s\n    {\"broker\": \"%s\", \"port\": %d, \"tls_port\": %d, "
               "\"control_sent\": %ld, \"control_arrived\": %ld",
               sep, bench_auth_broker_name((bench_auth_broker)w), r->port[w],
               r->tls_port[w], r->control_sent[w], r->control_arrived[w]);
        if (w == BENCH_AUTH_PLUGIN) {
            printf(", \"plugin\": ");
            bench_json_str(r->plugin);
            printf(", \"pw_ops\": %llu, \"pw_mem\": %zu", r->pw_ops, r->pw_mem);
        }
        printf("}");
        sep = ",";
    }
    printf("\n  ],\n  \"params\": {\"payload\": %zu, \"repeat\": %d, "
           "\"duration_s\": %.3f, \"window\": %ld, \"count_qos0\": %ld, "
           "\"count_qos1\": %ld, \"connect_cap_s\": %.3f},\n",
           o->p.sizes[0], o->p.repeat, o->p.duration_s, o->p.window,
           o->counts[0], o->counts[1], o->connect_cap_s);

    printf("  \"throughput\": [");
    sep = "";
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        printf("%s\n    {\"transport\": \"%s\", \"broker\": \"%s\", "
               "\"payload\": %zu, \"qos\": %d, \"sent\": %ld, "
               "\"arrived\": %ld, \"seconds\": %.6f, \"msgs_per_s\": %.1f, "
               "\"cpu_self\": %.3f, \"cpu_broker\": ",
               sep, bench_transport_name(row->r.transport),
               bench_auth_broker_name(row->broker), row->r.size, row->r.qos,
               row->r.sent, row->r.arrived, row->r.seconds, row->r.msgs_per_s,
               row->r.cpu_self);
        bench_json_num(row->r.cpu_broker);
        printf(", \"broker_cpu_us_per_msg\": ");
        bench_json_num(broker_us_per_msg(&row->r));
        printf(", \"capped\": %s, \"runs\": %d, \"msgs_per_s_min\": %.1f, "
               "\"msgs_per_s_max\": %.1f, \"ratio_vs_acl_file\": ",
               row->r.capped ? "true" : "false", row->r.runs, row->r.rate_min,
               row->r.rate_max);
        bench_json_num(ratio_of(r, row));
        printf(", \"broker_cpu_ratio_vs_acl_file\": ");
        bench_json_num(cpu_ratio_of(r, row));
        printf("}");
        sep = ",";
    }
    printf("\n  ],\n  \"connects\": [");
    sep = "";
    for (i = 0; i < r->nconns; i++) {
        c = &r->conns[i];
        printf("%s\n    {\"broker\": \"%s\", \"login\": \"%s\", "
               "\"expect_ok\": %s, \"threads\": %d, \"attempts\": %ld, "
               "\"accepted\": %ld, \"refused\": %ld, \"failed\": %ld, "
               "\"capped\": %s, \"seconds\": %.4f, \"per_s\": %.1f, "
               "\"ms_mean\": %.3f, \"ms_p50\": %.3f, \"ms_p99\": %.3f, "
               "\"ms_max\": %.3f, \"cpu_broker\": ",
               sep, bench_auth_broker_name(c->broker), c->what,
               c->expect_ok ? "true" : "false", c->parallel, c->attempts,
               c->accepted, c->refused, c->failed, c->capped ? "true" : "false",
               c->seconds, c->per_s, c->ms_mean, c->ms_p50, c->ms_p99,
               c->ms_max);
        bench_json_num(c->cpu_broker);
        printf("}");
        sep = ",";
    }
    printf("\n  ],\n");
    bench_flood_report_json(r);
    printf("  \"acl_cost\": ");
    if (r->acl.available) {
        printf("{\"policy_rules\": %zu, \"compiled_pub\": %zu, "
               "\"compiled_sub\": %zu, \"compile_us\": %.3f, "
               "\"argon2id_ms\": %.3f, \"pw_ops\": %llu, \"pw_mem\": %zu, "
               "\"mosquitto_pbkdf2_ms\": ",
               r->acl.policy_rules, r->acl.compiled_pub, r->acl.compiled_sub,
               r->acl.compile_us, r->acl.argon2_ms, r->acl.pw_ops,
               r->acl.pw_mem);
        bench_json_num(r->acl.pbkdf2_ms);
        printf(", \"checks\": [");
        sep = "";
        for (i = 0; i < r->acl.n; i++) {
            a = &r->acl.items[i];
            printf("%s\n      {\"call\": ", sep);
            bench_json_str(a->what);
            printf(", \"client\": ");
            bench_json_str(a->user);
            printf(", \"argument\": ");
            bench_json_str(a->arg);
            printf(", \"allowed\": %s, \"ns\": %.2f, \"ns_min\": %.2f, "
                   "\"ns_max\": %.2f, \"iterations\": %ld, \"runs\": %d}",
                   a->expect ? "true" : "false", a->ns, a->ns_min, a->ns_max,
                   a->iterations, a->runs);
            sep = ",";
        }
        printf("\n    ]}");
    } else {
        printf("null");
    }
    printf(",\n  \"targets\": [");
    sep = "";
    for (i = 0; i < r->nrows; i++) {
        row = &r->rows[i];
        x = ratio_of(r, row);
        if (x < 0.0) {
            continue;
        }
        printf("%s\n    {\"metric\": \"msgs_per_s_ratio\", \"broker\": "
               "\"plugin\", \"baseline\": \"acl-file\", \"transport\": "
               "\"%s\", \"payload\": %zu, \"qos\": %d, \"min\": %.2f, "
               "\"value\": %.4f, \"met\": %s}",
               sep, bench_transport_name(row->r.transport), row->r.size,
               row->r.qos, TARGET_PLUGIN_RATIO, x,
               x >= TARGET_PLUGIN_RATIO ? "true" : "false");
        sep = ",";
    }
    printf("\n  ],\n  \"total_s\": %.3f\n}\n", m->total_s);
}
