/*
 * bench_options.h -- the parsed command line of secmq-bench's transport and
 * broker suites, shared by bench_options.c (which fills it) and bench_main.c
 * (which runs it). Private to tools/bench; the rest of the bench sees only
 * bench_params.
 */
#ifndef SECMQ_BENCH_OPTIONS_H
#define SECMQ_BENCH_OPTIONS_H

#include "bench.h"

/* What the command line of the transport and broker suites asked for, with
 * the defaults filled in. The strings are borrowed from argv. */
typedef struct bench_options {
    bench_params p;
    const char *host;
    int port;
    int tls_port;
    const char *cafile;
    const char *ciphers;
    const char *mosquitto;
    const char *certs_bin;
    int keep;
    int json;
    int quick;
    long count; /* 0 = per-size default */
    int duration_set;
    double stall_s;     /* 0 = default */
    double drain_max_s; /* 0 = default */
    int suite_broker;   /* --suite broker */
    int transports_set;
    int sizes_set;
    const char *plugin;
    const char *admin;
    const char *passwd_bin;
    const char *db_option;
    long connects;        /* 0 = default */
    long connect_threads; /* -1 = default */
    long acl_iterations;  /* 0 = default */
    long pw_ops;          /* 0 = default */
    long pw_mem;
    long flood_threads; /* -1 = default */
    double flood_s;     /* 0 = default */
    int flood_only;
} bench_options;

/*
 * Fills o with the defaults, then parses argv (the transport and broker
 * suites' options) and checks them together: the broker suite's limits, an
 * existing broker's endpoint, loopback only. o's strings are borrowed from
 * argv. Returns 0, 1 (--help: parsing stops there), or -1 with
 * the reason in err.
 */
int bench_options_parse(bench_options *o, int argc, char **argv, char *err,
                        size_t errlen);

#endif /* SECMQ_BENCH_OPTIONS_H */
