/*
 * bench_options.c -- secmq-bench's command line: parsing, defaults and the
 * checks between options (the broker suite's limits, loopback only).
 *
 * Fills a bench_options from argv and says why it refused one; runs
 * nothing and starts nothing. The options of --suite outbox and --suite
 * file are their own (bench_outbox.c, bench_file.c); --help is bench_usage.c.
 */
#include "bench.h"
#include "bench_options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_MOSQUITTO "/usr/sbin/mosquitto"
#define DEFAULT_DURATION_S 3.0
#define DEFAULT_WINDOW 1000L
#define DEFAULT_WINDOW_BYTES (4L * 1024 * 1024)
#define DEFAULT_LAT_SAMPLES 2000L
#define DEFAULT_LAT_WARMUP 100L
#define DEFAULT_VERIFY_S 0.5
#define QUICK_VERIFY_S 0.25
#define MAX_SIZE (16L * 1024 * 1024)
#define MAX_COUNT 100000000L

/* Parses a decimal integer in [min, max] with an optional K suffix (x1024)
 * when allow_k. Returns 0, or -1. */
static int parse_long(const char *s, long min, long max, int allow_k, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s) {
        return -1;
    }
    if (allow_k && (*end == 'K' || *end == 'k')) {
        if (v > LONG_MAX / 1024) {
            return -1;
        }
        v *= 1024;
        end++;
    }
    if (*end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *s, double min, double max, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Splits a comma-separated list into at most max items of len bytes. */
static int split_list(const char *s, char items[][32], size_t max, size_t *n)
{
    size_t k = 0;
    size_t len;

    *n = 0;
    while (*s != '\0' && k < max) {
        len = strcspn(s, ",");
        if (len == 0 || len >= 32) {
            return -1;
        }
        memcpy(items[k], s, len);
        items[k][len] = '\0';
        k++;
        s += len;
        if (*s == ',') {
            s++;
            if (*s == '\0') {
                return -1;
            }
        }
    }
    if (*s != '\0' || k == 0) {
        return -1;
    }
    *n = k;
    return 0;
}

/* Messages per row: about 1-2 s per row on a 2-core machine. QoS 1 is
 * slower for small payloads (libmosquitto keeps 20 PUBACKs outstanding).
 * The sealed transports send fewer small messages: opening costs an
 * Ed25519 verification (signed) or an XChaCha20-Poly1305 pass (mac-only)
 * per message on the subscriber's loop thread. */
static long default_count(size_t size, int qos, bench_transport t)
{
    long n;

    if (size <= 4096) {
        if (size <= 256) {
            n = qos == 0 ? 100000 : 40000;
        } else {
            n = qos == 0 ? 50000 : 25000;
        }
        return t == BENCH_SECMQ_SIGNED ? n / 5
               : t == BENCH_SECMQ_MAC  ? n / 2
                                       : n;
    }
    n = (long)(262144000u / size); /* 250 MiB of payload */
    if (t == BENCH_SECMQ_SIGNED) {
        n /= 2; /* 125 MiB: signing and verifying hash it all twice */
    }
    return n > 10 ? n : 10;
}

/* Returns 1 if every address host resolves to is a loopback address. */
static int host_is_loopback(const char *host)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct addrinfo *ai;
    int n = 0;
    int ok = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return 0;
    }
    /* A name resolves to a handful of addresses; never walk more than 64. */
    for (ai = res; ai != NULL && n < 64; ai = ai->ai_next, n++) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *sa =
                (const struct sockaddr_in *)(const void *)ai->ai_addr;
            if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127) {
                ok = 0;
            }
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sa =
                (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
            if (!IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr)) {
                ok = 0;
            }
        } else {
            ok = 0;
        }
    }
    freeaddrinfo(res);
    return ok && n > 0;
}

enum {
    OPT_QUICK = 256,
    OPT_COUNT,
    OPT_DURATION,
    OPT_STALL,
    OPT_DRAIN_MAX,
    OPT_SIZES,
    OPT_QOS,
    OPT_TRANSPORTS,
    OPT_WINDOW,
    OPT_WINDOW_BYTES,
    OPT_LAT_SAMPLES,
    OPT_LAT_WARMUP,
    OPT_CIPHERS,
    OPT_MOSQUITTO,
    OPT_CERTS_BIN,
    OPT_KEEP,
    OPT_HOST,
    OPT_PORT,
    OPT_TLS_PORT,
    OPT_CAFILE,
    OPT_JSON,
    OPT_HELP,
    OPT_REPEAT,
    OPT_SUITE,
    OPT_PLUGIN,
    OPT_ADMIN_BIN,
    OPT_PASSWD_BIN,
    OPT_CONNECTS,
    OPT_CONNECT_THREADS,
    OPT_ACL_ITERATIONS,
    OPT_PW_OPS,
    OPT_PW_MEM,
    OPT_DB_OPTION,
    OPT_FLOOD_THREADS,
    OPT_FLOOD_SECONDS,
    OPT_FLOOD_ONLY
};

static const struct option long_opts[] = {
    {"quick", no_argument, NULL, OPT_QUICK},
    {"count", required_argument, NULL, OPT_COUNT},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"stall", required_argument, NULL, OPT_STALL},
    {"drain-max", required_argument, NULL, OPT_DRAIN_MAX},
    {"sizes", required_argument, NULL, OPT_SIZES},
    {"qos", required_argument, NULL, OPT_QOS},
    {"transports", required_argument, NULL, OPT_TRANSPORTS},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"window-bytes", required_argument, NULL, OPT_WINDOW_BYTES},
    {"latency-samples", required_argument, NULL, OPT_LAT_SAMPLES},
    {"latency-warmup", required_argument, NULL, OPT_LAT_WARMUP},
    {"ciphers", required_argument, NULL, OPT_CIPHERS},
    {"mosquitto", required_argument, NULL, OPT_MOSQUITTO},
    {"certs-bin", required_argument, NULL, OPT_CERTS_BIN},
    {"keep-dir", no_argument, NULL, OPT_KEEP},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"tls-port", required_argument, NULL, OPT_TLS_PORT},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"suite", required_argument, NULL, OPT_SUITE},
    {"plugin", required_argument, NULL, OPT_PLUGIN},
    {"admin-bin", required_argument, NULL, OPT_ADMIN_BIN},
    {"mosquitto-passwd", required_argument, NULL, OPT_PASSWD_BIN},
    {"connects", required_argument, NULL, OPT_CONNECTS},
    {"connect-threads", required_argument, NULL, OPT_CONNECT_THREADS},
    {"acl-iterations", required_argument, NULL, OPT_ACL_ITERATIONS},
    {"pw-ops", required_argument, NULL, OPT_PW_OPS},
    {"pw-mem", required_argument, NULL, OPT_PW_MEM},
    {"plugin-db-option", required_argument, NULL, OPT_DB_OPTION},
    {"flood-threads", required_argument, NULL, OPT_FLOOD_THREADS},
    {"flood-seconds", required_argument, NULL, OPT_FLOOD_SECONDS},
    {"flood-only", no_argument, NULL, OPT_FLOOD_ONLY},
    {NULL, 0, NULL, 0}};

static const char *opt_name(int opt)
{
    size_t i;

    for (i = 0; long_opts[i].name != NULL; i++) {
        if (long_opts[i].val == opt) {
            return long_opts[i].name;
        }
    }
    return "?";
}

/* Parses one option with argument arg into o. Returns 0, 1 (--help), or
 * -1 with a reason in err. */
static int parse_opt(bench_options *o, int opt, const char *arg, char *err,
                     size_t errlen)
{
    char items[BENCH_MAX_SIZES][32];
    size_t n, i;
    long v;
    int t, mask;

    switch (opt) {
    case OPT_QUICK:
        o->quick = 1;
        return 0;
    case OPT_COUNT:
        if (parse_long(arg, 1, MAX_COUNT, 1, &o->count) != 0) {
            break;
        }
        return 0;
    case OPT_DURATION:
        if (parse_double(arg, 0.01, 3600.0, &o->p.duration_s) != 0) {
            break;
        }
        o->duration_set = 1;
        return 0;
    case OPT_STALL:
        if (parse_double(arg, 0.1, 600.0, &o->stall_s) != 0) {
            break;
        }
        return 0;
    case OPT_DRAIN_MAX:
        if (parse_double(arg, 0.1, 3600.0, &o->drain_max_s) != 0) {
            break;
        }
        return 0;
    case OPT_SIZES:
        if (split_list(arg, items, BENCH_MAX_SIZES, &n) != 0) {
            break;
        }
        for (i = 0; i < n; i++) {
            if (parse_long(items[i], BENCH_HDR_BYTES, MAX_SIZE, 1, &v) != 0) {
                snprintf(err, errlen,
                         "--sizes: '%s' is not a size in "
                         "%u..%ld",
                         items[i], BENCH_HDR_BYTES, MAX_SIZE);
                return -1;
            }
            o->p.sizes[i] = (size_t)v;
        }
        o->p.nsizes = n;
        o->sizes_set = 1;
        return 0;
    case OPT_QOS:
        if (split_list(arg, items, BENCH_MAX_SIZES, &n) != 0) {
            break;
        }
        mask = 0;
        for (i = 0; i < n; i++) {
            if (parse_long(items[i], 0, 1, 0, &v) != 0) {
                snprintf(err, errlen, "--qos: '%s' is not 0 or 1", items[i]);
                return -1;
            }
            mask |= 1 << v;
        }
        o->p.qos_mask = mask;
        return 0;
    case OPT_TRANSPORTS:
        if (split_list(arg, items, BENCH_MAX_SIZES, &n) != 0) {
            break;
        }
        mask = 0;
        for (i = 0; i < n; i++) {
            for (t = 0; t < BENCH_TRANSPORTS; t++) {
                if (strcmp(items[i],
                           bench_transport_name((bench_transport)t)) == 0) {
                    mask |= 1 << t;
                    break;
                }
            }
            if (t == BENCH_TRANSPORTS) {
                snprintf(err, errlen,
                         "--transports: unknown '%s' (use "
                         "mosq-tcp, mosq-tls, secmq-tls, secmq-signed, "
                         "secmq-mac)",
                         items[i]);
                return -1;
            }
        }
        o->p.transport_mask = mask;
        o->transports_set = 1;
        return 0;
    case OPT_REPEAT:
        if (parse_long(arg, 1, BENCH_MAX_REPEAT, 0, &v) != 0) {
            break;
        }
        o->p.repeat = (int)v;
        return 0;
    case OPT_WINDOW:
        if (parse_long(arg, 1, 1000000, 1, &o->p.window) != 0) {
            break;
        }
        return 0;
    case OPT_WINDOW_BYTES:
        if (parse_long(arg, 1, 1L << 30, 1, &o->p.window_bytes) != 0) {
            break;
        }
        return 0;
    case OPT_LAT_SAMPLES:
        if (parse_long(arg, 0, 10000000, 1, &o->p.lat_samples) != 0) {
            break;
        }
        return 0;
    case OPT_LAT_WARMUP:
        if (parse_long(arg, 0, 1000000, 1, &o->p.lat_warmup) != 0) {
            break;
        }
        return 0;
    case OPT_CIPHERS:
        o->ciphers = arg;
        return 0;
    case OPT_MOSQUITTO:
        o->mosquitto = arg;
        return 0;
    case OPT_CERTS_BIN:
        o->certs_bin = arg;
        return 0;
    case OPT_KEEP:
        o->keep = 1;
        return 0;
    case OPT_HOST:
        o->host = arg;
        return 0;
    case OPT_PORT:
        if (parse_long(arg, 1, 65535, 0, &v) != 0) {
            break;
        }
        o->port = (int)v;
        return 0;
    case OPT_TLS_PORT:
        if (parse_long(arg, 1, 65535, 0, &v) != 0) {
            break;
        }
        o->tls_port = (int)v;
        return 0;
    case OPT_CAFILE:
        o->cafile = arg;
        return 0;
    case OPT_JSON:
        o->json = 1;
        return 0;
    case OPT_SUITE:
        if (strcmp(arg, "broker") == 0) {
            o->suite_broker = 1;
        } else if (strcmp(arg, "transports") == 0) {
            o->suite_broker = 0;
        } else {
            snprintf(err, errlen,
                     "--suite: '%s' is not transports or broker (outbox, "
                     "file, replay, python, authd and rabbitmq go first: "
                     "secmq-bench "
                     "--suite NAME [its options])",
                     arg);
            return -1;
        }
        return 0;
    case OPT_PLUGIN:
        o->plugin = arg;
        return 0;
    case OPT_ADMIN_BIN:
        o->admin = arg;
        return 0;
    case OPT_DB_OPTION:
        /* One config token: mosquitto.conf splits at white space. */
        if (arg[0] == '\0' || strpbrk(arg, " \t\r\n") != NULL) {
            break;
        }
        o->db_option = arg;
        return 0;
    case OPT_PASSWD_BIN:
        o->passwd_bin = arg;
        return 0;
    case OPT_CONNECTS:
        if (parse_long(arg, 1, 1000000, 0, &o->connects) != 0) {
            break;
        }
        return 0;
    case OPT_CONNECT_THREADS:
        if (parse_long(arg, 0, BENCH_CONNECT_MAX_THREADS, 0,
                       &o->connect_threads) != 0) {
            break;
        }
        return 0;
    case OPT_FLOOD_THREADS:
        if (parse_long(arg, 0, BENCH_FLOOD_MAX_THREADS, 0, &o->flood_threads) !=
            0) {
            break;
        }
        return 0;
    case OPT_FLOOD_SECONDS:
        if (parse_double(arg, 1.0, 120.0, &o->flood_s) != 0) {
            break;
        }
        return 0;
    case OPT_FLOOD_ONLY:
        o->flood_only = 1;
        return 0;
    case OPT_ACL_ITERATIONS:
        if (parse_long(arg, 1, 100000000, 1, &o->acl_iterations) != 0) {
            break;
        }
        return 0;
    case OPT_PW_OPS:
        if (parse_long(arg, 1, 1000, 0, &o->pw_ops) != 0) {
            break;
        }
        return 0;
    case OPT_PW_MEM:
        if (parse_long(arg, 8192, 1L << 32, 1, &o->pw_mem) != 0) {
            break;
        }
        return 0;
    case OPT_HELP:
        return 1;
    default:
        snprintf(err, errlen, "unknown option (see --help)");
        return -1;
    }
    snprintf(err, errlen, "--%s: invalid value '%s' (see --help)",
             opt_name(opt), arg);
    return -1;
}

/* Messages per row of transport t at size and qos: --count, or the
 * default (a tenth of it with --quick). */
static long row_count(const bench_options *o, size_t size, int qos,
                      bench_transport t)
{
    long v;

    if (o->count > 0) {
        return o->count;
    }
    v = default_count(size, qos, t);
    if (o->quick) {
        v = v / 10 > 1 ? v / 10 : 1;
    }
    return v;
}

/* Fills defaults, parses argv. Returns 0, 1 (--help shown), or -1. */
int bench_options_parse(bench_options *o, int argc, char **argv, char *err,
                        size_t errlen)
{
    size_t i;
    int opt, rc;
    int external;

    memset(o, 0, sizeof(*o));
    o->p.sizes[0] = 64;
    o->p.sizes[1] = 1024;
    o->p.sizes[2] = 65536;
    o->p.nsizes = 3;
    o->p.qos_mask = 3;
    o->p.transport_mask = (1 << BENCH_TRANSPORTS) - 1;
    o->p.duration_s = DEFAULT_DURATION_S;
    o->p.window = DEFAULT_WINDOW;
    o->p.window_bytes = DEFAULT_WINDOW_BYTES;
    o->p.repeat = 1;
    o->p.lat_samples = -1;
    o->p.lat_warmup = -1;
    o->mosquitto = DEFAULT_MOSQUITTO;
    o->connect_threads = -1;
    o->flood_threads = -1;
    opterr = 0;
    /* getopt_long consumes one argv element or two per call. */
    for (i = 0; i <= (size_t)argc; i++) {
        opt = getopt_long(argc, argv, "", long_opts, NULL);
        if (opt == -1) {
            break;
        }
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "bad option '%s' (see --help)",
                     argv[optind - 1]);
            return -1;
        }
        rc = parse_opt(o, opt, optarg, err, errlen);
        if (rc != 0) {
            return rc;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)",
                 argv[optind]);
        return -1;
    }

    for (i = 0; i < o->p.nsizes * 2; i++) {
        o->p.counts[i / 2][i % 2] =
            row_count(o, o->p.sizes[i / 2], (int)(i % 2), BENCH_SECMQ_TLS);
        o->p.counts_signed[i / 2][i % 2] =
            row_count(o, o->p.sizes[i / 2], (int)(i % 2), BENCH_SECMQ_SIGNED);
        o->p.counts_mac[i / 2][i % 2] =
            row_count(o, o->p.sizes[i / 2], (int)(i % 2), BENCH_SECMQ_MAC);
    }
    o->p.verify_s = o->quick ? QUICK_VERIFY_S : DEFAULT_VERIFY_S;
    o->p.keep = o->keep;
    if (o->quick && !o->duration_set) {
        o->p.duration_s = 0.5;
    }
    if (o->p.lat_samples < 0) {
        o->p.lat_samples = o->quick ? 300 : DEFAULT_LAT_SAMPLES;
    }
    if (o->p.lat_warmup < 0) {
        o->p.lat_warmup = o->quick ? 30 : DEFAULT_LAT_WARMUP;
    }
    o->p.stall_s = o->stall_s > 0 ? o->stall_s : o->quick ? 0.5 : 1.0;
    o->p.drain_max_s = o->drain_max_s > 0 ? o->drain_max_s
                       : o->quick         ? 3.0
                                          : 10.0;

    external = o->host != NULL || o->port != 0 || o->tls_port != 0 ||
               o->cafile != NULL;
    if (o->suite_broker) {
        if (external) {
            snprintf(err, errlen,
                     "--suite broker starts its own two "
                     "brokers: no --host/--port/--tls-port/"
                     "--cafile");
            return -1;
        }
        if (o->transports_set &&
            (o->p.transport_mask &
             ~((1 << BENCH_MOSQ_TCP) | (1 << BENCH_MOSQ_TLS))) != 0) {
            snprintf(err, errlen,
                     "--suite broker: --transports takes "
                     "mosq-tcp and mosq-tls only");
            return -1;
        }
        if (!o->transports_set) {
            o->p.transport_mask = (1 << BENCH_MOSQ_TCP) | (1 << BENCH_MOSQ_TLS);
        }
        if (!o->sizes_set) {
            o->p.sizes[0] = 64;
            o->p.nsizes = 1;
        }
        if (o->p.nsizes != 1) {
            snprintf(err, errlen, "--suite broker: one size in --sizes");
            return -1;
        }
        if (o->flood_only && o->flood_threads == 0) {
            snprintf(err, errlen, "--flood-only with --flood-threads 0");
            return -1;
        }
    }
    if (external && (o->port == 0 || o->tls_port == 0 || o->cafile == NULL)) {
        snprintf(err, errlen,
                 "an existing broker needs --port, --tls-port "
                 "and --cafile");
        return -1;
    }
    if (o->host == NULL) {
        o->host = "127.0.0.1";
    }
    /* SECURITY: the bench sends plain-text MQTT and, with its own broker,
     * uses an anonymous listener: it only ever talks to loopback. */
    if (!host_is_loopback(o->host)) {
        snprintf(err, errlen,
                 "--host %s: not a loopback address (the bench "
                 "runs on loopback only)",
                 o->host);
        return -1;
    }
    return 0;
}
