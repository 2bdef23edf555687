/*
 * bench_util.c -- small helpers the suites of secmq-bench share: a secmq
 * client for the private broker's TLS listener, and option numbers.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "secmq.h"

int bench_client_new(secmq_client **c, const bench_broker *br, const char *id,
                     void *user)
{
    secmq_config cfg;

    *c = NULL;
    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = br->tls_port;
    cfg.tls.cafile = br->cafile;
    cfg.client_id = id;
    if (secmq_client_new(c, &cfg, user) != SECMQ_OK) {
        *c = NULL;
        return -1;
    }
    return 0;
}

int bench_suite_number(const char *suite, const char *opt, const char *v,
                       long top, long *out)
{
    char *end = NULL;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > top) {
        fprintf(stderr, "secmq-bench --suite %s: %s: not within 1..%ld: '%s'\n",
                suite, opt, top, v);
        return -1;
    }
    *out = n;
    return 0;
}
