/*
 * bench_rabbit.c -- `secmq-bench --suite rabbitmq`: sealed 64 B QoS 1
 * messages from a publisher on node A to a subscriber on node B of a
 * RabbitMQ cluster on loopback, next to the same through one node of it
 * and through one mosquitto, in one run.
 *
 * The bench starts everything itself: its private mosquitto, whose temp
 * dir and PKI the nodes share, then the nodes (bench_rabbit_nodes.c).
 * The clients are libsecmq's (bench_secmq.c) with keyrings made for the
 * run (secmq-mac), measured as the transport suite measures rows
 * (bench_run.c).
 */
#include "bench_authd.h"
#include "bench_rabbit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SERVER "/usr/lib/rabbitmq/bin/rabbitmq-server"
#define SIZE 64u
#define QOS 1
#define WARMUP 200L
#define DEFAULT_COUNT 20000L
#define QUICK_COUNT 1000L

/* The three paths measured, each a publisher and a subscriber. */
enum { K_MOSQ = 0, K_NODE = 1, K_CLUSTER = 2, NKINDS = 3 };
static const char *const kind_name[NKINDS] = {"mosquitto", "rabbitmq-node",
                                              "rabbitmq-cluster"};

typedef struct ropts {
    int nodes;
    long prefetch; /* 0: RabbitMQ's default */
    long count;
    double duration_s;
    int repeat;
    int json;
    int quick;
    int keep;
    const char *server;
    const char *mosquitto;
} ropts;

typedef struct rrun {
    bench_broker mosq;
    bench_rcluster rc;
    bench_row rows[NKINDS];
    bench_row reps[NKINDS][BENCH_MAX_REPEAT];
    bench_host host;
    double load_start[3];
    double load_end[3];
} rrun;

static const char rabbit_usage[] =
    "usage: secmq-bench --suite rabbitmq [--nodes N] [--prefetch N]\n"
    "                   [--count N]\n"
    "                   [--duration S] [--repeat N] [--quick] [--json]\n"
    "                   [--keep] [--rabbitmq-server PATH] [--mosquitto PATH]\n"
    "\n"
    "Sealed messages (secmq-mac: mac-only envelopes, keyrings made for the\n"
    "run), 64 B at QoS 1 over TLS, through a RabbitMQ cluster on loopback\n"
    "and through one mosquitto, in one run. Three paths, each a libsecmq\n"
    "publisher and subscriber in this process, rows interleaved:\n"
    "  mosquitto         the bench's private mosquitto (as the transport\n"
    "                    suite's)\n"
    "  rabbitmq-node     publisher and subscriber on node A\n"
    "  rabbitmq-cluster  publisher on node A, subscriber on the last node\n"
    "Throughput as in the transport suite: a window of 1000 messages,\n"
    "counted when they opened at the subscriber. The nodes: Debian's\n"
    "rabbitmq-server (3.10, with rabbitmq_mqtt), started one after the\n"
    "other in the bench's temp dir, each with its own node name, ports and\n"
    "directories, one epmd and one Erlang cookie; nodes after the first\n"
    "join it (classic_config peer discovery). MQTT on a TLS listener with\n"
    "the bench's PKI, anonymous clients as guest (loopback only), every\n"
    "other setting RabbitMQ's default (mqtt.prefetch 10 unless\n"
    "--prefetch). Starting the nodes takes 15-60 s. Everything is\n"
    "stopped and removed at exit.\n"
    "Options:\n"
    "  --nodes N          nodes in the cluster, 2 or 3 (default 2)\n"
    "  --prefetch N       the nodes' mqtt.prefetch (default: not set,\n"
    "                     RabbitMQ's 10)\n"
    "  --count N          messages per row (default 20000; --quick 1000)\n"
    "  --duration S       cap on the sending time of a row (default 5)\n"
    "  --repeat N         rows per path, 1..9; the median is reported\n"
    "                     (default 3; --quick 1)\n"
    "  --quick            smoke run\n"
    "  --json             one JSON document instead of the table\n"
    "  --keep             keep the temp dir (node logs, configs)\n"
    "  --rabbitmq-server PATH  (default " DEFAULT_SERVER ")\n"
    "  --mosquitto PATH   (default /usr/sbin/mosquitto)\n"
    "  --help             this text\n"
    "Exit status 0 after a complete run, 1 when it failed (rabbitmq-server\n"
    "not installed, a node that does not start, messages that do not\n"
    "cross the cluster; the reason on stderr), 2 for a usage error.\n";

/* 0, 1 after --help, -1 for a usage error (reported). */
static int parse(ropts *o, int argc, char **argv)
{
    const char *a = NULL;
    int count_set = 0, repeat_set = 0;
    long v;

    memset(o, 0, sizeof *o);
    o->nodes = 2;
    o->count = DEFAULT_COUNT;
    o->duration_s = 5.0;
    o->repeat = 3;
    o->server = DEFAULT_SERVER;
    o->mosquitto = "/usr/sbin/mosquitto";
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        a = argv[i];
        if (strcmp(a, "--help") == 0) {
            printf("%s", rabbit_usage);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
        } else if (val == NULL) {
            goto bad;
        } else if (strcmp(a, "--nodes") == 0 &&
                   bench_parse_long(val, 2, BENCH_RABBIT_MAX_NODES, &v) == 0) {
            o->nodes = (int)v;
            i++;
        } else if (strcmp(a, "--prefetch") == 0 &&
                   bench_parse_long(val, 1, 65535, &o->prefetch) == 0) {
            i++;
        } else if (strcmp(a, "--count") == 0 &&
                   bench_parse_long(val, 1, 10000000, &o->count) == 0) {
            count_set = 1;
            i++;
        } else if (strcmp(a, "--repeat") == 0 &&
                   bench_parse_long(val, 1, BENCH_MAX_REPEAT, &v) == 0) {
            o->repeat = (int)v;
            repeat_set = 1;
            i++;
        } else if (strcmp(a, "--duration") == 0) {
            o->duration_s = strtod(val, &end);
            if (end == val || *end != '\0' || !(o->duration_s >= 0.1) ||
                o->duration_s > 600) {
                goto bad;
            }
            i++;
        } else if (strcmp(a, "--rabbitmq-server") == 0) {
            o->server = argv[++i];
        } else if (strcmp(a, "--mosquitto") == 0) {
            o->mosquitto = argv[++i];
        } else {
            goto bad;
        }
    }
    if (o->quick) {
        o->count = count_set ? o->count : QUICK_COUNT;
        o->repeat = repeat_set ? o->repeat : 1;
    }
    return 0;
bad:
    fprintf(stderr,
            "secmq-bench --suite rabbitmq: bad option or value '%s' (see "
            "secmq-bench --suite rabbitmq --help)\n",
            a != NULL ? a : "");
    return -1;
}

/* The three pairs, a warm-up through each, then the rows interleaved,
 * the paths' order rotated each repetition. */
static int measure(const ropts *o, rrun *run, char *err, size_t errlen)
{
    bench_endpoint ep[BENCH_RABBIT_MAX_NODES + 1];
    bench_pair *pairs[NKINDS] = {NULL, NULL, NULL};
    char keys[BENCH_PATH_BYTES + 32];
    unsigned char buf[SIZE];
    bench_params p;
    uint32_t row_id = 1;
    int rc = -1;

    memset(&p, 0, sizeof p);
    p.window = 1000;
    p.window_bytes = 4L * 1024 * 1024;
    p.duration_s = o->duration_s;
    p.stall_s = 2.0;
    p.drain_max_s = 10.0;
    p.repeat = o->repeat;
    memset(ep, 0, sizeof ep);
    ep[0].host = "127.0.0.1";
    ep[0].port = run->mosq.port;
    ep[0].tls_port = run->mosq.tls_port;
    ep[0].cafile = run->mosq.cafile;
    for (int i = 0; i < run->rc.nnodes; i++) {
        ep[i + 1] = ep[0];
        ep[i + 1].port = 0;
        ep[i + 1].tls_port = run->rc.node[i].mqtt_port;
    }
    for (int k = 0; k < NKINDS; k++) {
        const bench_endpoint *pub = k == K_MOSQ ? &ep[0] : &ep[1];
        const bench_endpoint *sub = k == K_MOSQ   ? &ep[0]
                                    : k == K_NODE ? &ep[1]
                                                  : &ep[run->rc.nnodes];
        snprintf(keys, sizeof keys, "%s/keys-%s", run->mosq.dir, kind_name[k]);
        if (mkdir(keys, 0700) != 0) {
            snprintf(err, errlen, "cannot create %.300s: %s", keys,
                     strerror(errno));
            goto out;
        }
        if (bench_pair_open_split(&pairs[k], BENCH_SECMQ_MAC, pub, sub, &p,
                                  keys, kind_name[k], err, errlen) != 0) {
            goto out;
        }
        if (bench_pair_row(&p, NULL, pairs[k], row_id++, SIZE, QOS, WARMUP, buf,
                           &run->rows[k], err, errlen) != 0) {
            goto out;
        }
        if (run->rows[k].arrived == 0) {
            snprintf(err, errlen, "%s: none of %ld sealed messages arrived%s",
                     kind_name[k], run->rows[k].sent,
                     k == K_CLUSTER ? " (published on the first node, "
                                      "subscribed on the last: did the "
                                      "nodes form a cluster? --keep keeps "
                                      "their logs)"
                                    : "");
            goto out;
        }
    }
    for (int r = 0; r < o->repeat; r++) {
        for (int j = 0; j < NKINDS; j++) {
            int k = (j + r) % NKINDS;
            bench_row *row = &run->reps[k][r];
            double c0 = k == K_MOSQ ? 0.0 : bench_rabbit_cpu_s(&run->rc), c1;
            if (bench_pair_row(&p, k == K_MOSQ ? &run->mosq : NULL, pairs[k],
                               row_id++, SIZE, QOS, o->count, buf, row, err,
                               errlen) != 0) {
                goto out;
            }
            if (k != K_MOSQ) {
                c1 = bench_rabbit_cpu_s(&run->rc);
                row->cpu_broker_s = c0 >= 0.0 && c1 >= c0 ? c1 - c0 : -1.0;
                row->cpu_broker = row->cpu_broker_s >= 0.0 && row->seconds > 0
                                      ? row->cpu_broker_s / row->seconds
                                      : -1.0;
            }
            if (row->arrived == 0) {
                snprintf(err, errlen, "%s: no message arrived in a row",
                         kind_name[k]);
                goto out;
            }
        }
    }
    for (int k = 0; k < NKINDS; k++) {
        bench_rows_median(run->reps[k], o->repeat, &run->rows[k]);
    }
    rc = 0;
out:
    for (int k = 0; k < NKINDS; k++) {
        bench_pair_free(pairs[k]);
    }
    return rc;
}

static void report_table(const ropts *o, const rrun *run)
{
    const bench_row *m = &run->rows[K_MOSQ];

    printf("secmq-bench --suite rabbitmq (%s, %d cores, %s)\n", run->host.cpu,
           run->host.cores, run->host.kernel);
    printf("mosquitto %s; RabbitMQ %s, %d nodes on 127.0.0.1 (started in",
           run->mosq.version, run->rc.version, run->rc.nnodes);
    for (int i = 0; i < run->rc.nnodes; i++) {
        printf(" %.1f", run->rc.node[i].start_s);
    }
    printf(" s), mqtt.prefetch %ld%s\n", o->prefetch > 0 ? o->prefetch : 10,
           o->prefetch > 0 ? "" : " (default)");
    printf("load: %.2f %.2f %.2f before, %.2f %.2f %.2f after\n",
           run->load_start[0], run->load_start[1], run->load_start[2],
           run->load_end[0], run->load_end[1], run->load_end[2]);
    printf("\nsecmq-mac (sealed, mac-only), %u B, QoS %d, TLS; up to %ld "
           "messages per row, median of %d\n",
           SIZE, QOS, o->count, o->repeat);
    printf("%-17s %-10s %-10s %7s %7s %9s %5s %6s %7s  %s\n", "path",
           "publisher", "subscriber", "sent", "arrived", "msgs/s", "cpu",
           "broker", "us/msg", "spread (msgs/s)");
    for (int k = 0; k < NKINDS; k++) {
        const bench_row *r = &run->rows[k];
        char sub[16];
        snprintf(sub, sizeof sub, "%s",
                 k == K_MOSQ   ? "mosquitto"
                 : k == K_NODE ? "node a"
                               : "");
        if (k == K_CLUSTER) {
            snprintf(sub, sizeof sub, "node %c", 'a' + run->rc.nnodes - 1);
        }
        printf("%-17s %-10s %-10s %7ld %7ld %9.0f %5.2f %6.2f %7.1f  %.0f .. "
               "%.0f%s\n",
               kind_name[k], k == K_MOSQ ? "mosquitto" : "node a", sub, r->sent,
               r->arrived, r->msgs_per_s, r->cpu_self, r->cpu_broker,
               bench_us_per_msg(r->cpu_self_s, r->arrived), r->rate_min,
               r->rate_max, r->capped ? " (capped)" : "");
    }
    printf("\nrabbitmq-node / mosquitto     %.2fx\n",
           run->rows[K_NODE].msgs_per_s / m->msgs_per_s);
    printf("rabbitmq-cluster / mosquitto  %.2fx\n",
           run->rows[K_CLUSTER].msgs_per_s / m->msgs_per_s);
    printf("(cpu: this process, both clients; broker: mosquitto, or all "
           "RabbitMQ nodes together)\n");
}

static void report_json(const ropts *o, const rrun *run)
{
    printf("{\"suite\":\"rabbitmq\",\"cpu\":");
    bench_json_str(run->host.cpu);
    printf(",\"cores\":%d,\"mosquitto\":", run->host.cores);
    bench_json_str(run->mosq.version);
    printf(",\"rabbitmq\":");
    bench_json_str(run->rc.version);
    printf(",\"nodes\":%d,\"prefetch\":%ld,\"node_start_s\":[", run->rc.nnodes,
           o->prefetch > 0 ? o->prefetch : 10);
    for (int i = 0; i < run->rc.nnodes; i++) {
        printf("%s%.2f", i ? "," : "", run->rc.node[i].start_s);
    }
    printf("],");
    bench_json_load(run->load_start, run->load_end);
    printf(",\"transport\":\"secmq-mac\",\"payload\":%u,\"qos\":%d,"
           "\"count\":%ld,\"repeat\":%d,\"rows\":[",
           SIZE, QOS, o->count, o->repeat);
    for (int k = 0; k < NKINDS; k++) {
        const bench_row *r = &run->rows[k];
        printf("%s{\"path\":\"%s\",\"sent\":%ld,\"arrived\":%ld,"
               "\"open_failed\":%ld,\"seconds\":%.4f,\"msgs_per_s\":%.1f,"
               "\"capped\":%s,\"runs\":%d,\"rate_min\":%.1f,"
               "\"rate_max\":%.1f,\"cpu_self\":",
               k ? "," : "", kind_name[k], r->sent, r->arrived, r->open_failed,
               r->seconds, r->msgs_per_s, r->capped ? "true" : "false", r->runs,
               r->rate_min, r->rate_max);
        bench_json_num(r->cpu_self);
        printf(",\"cpu_broker\":");
        bench_json_num(r->cpu_broker);
        printf(",\"cpu_self_us_per_msg\":");
        bench_json_num(bench_us_per_msg(r->cpu_self_s, r->arrived));
        printf(",\"ratio_vs_mosquitto\":%.4f}",
               r->msgs_per_s / run->rows[K_MOSQ].msgs_per_s);
    }
    printf("]}\n");
}

int bench_rabbit_main(int argc, char **argv)
{
    char err[BENCH_ERR_BYTES] = "", certs[BENCH_PATH_BYTES];
    rrun *run = NULL;
    ropts o;
    int lib = 0;
    int rc = parse(&o, argc, argv);

    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    bench_catch_signals();
    run = calloc(1, sizeof *run);
    if (run == NULL) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    if (access(o.server, X_OK) != 0 || access(BENCH_RABBIT_EPMD, X_OK) != 0) {
        snprintf(err, sizeof err,
                 "RabbitMQ is not installed (no %.200s or " BENCH_RABBIT_EPMD
                 "): "
                 "apt-get install rabbitmq-server (Debian's 3.10, which "
                 "brings rabbitmq_mqtt and Erlang), or give "
                 "--rabbitmq-server PATH",
                 o.server);
        goto out;
    }
    if (bench_mosq_lib_init(err, sizeof err) != 0) {
        goto out;
    }
    lib = 1;
    bench_host_load(run->load_start);
    run->rc.prefetch = o.prefetch;
    if (bench_broker_default_certs_bin(certs, sizeof certs, err, sizeof err) !=
            0 ||
        bench_broker_start(&run->mosq, o.mosquitto, certs, o.keep, err,
                           sizeof err) != 0 ||
        bench_rabbit_start(&run->rc, o.server, o.nodes, run->mosq.dir, err,
                           sizeof err) != 0 ||
        measure(&o, run, err, sizeof err) != 0) {
        goto out;
    }
    bench_host_load(run->load_end);
    bench_host_probe(&run->host);
    if (o.json) {
        report_json(&o, run);
    } else {
        report_table(&o, run);
    }
    if (bench_stdout_flush(err, sizeof err) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite rabbitmq: %s\n", err);
    }
    if (run != NULL) {
        bench_rabbit_stop(&run->rc);
        bench_broker_stop(&run->mosq);
        free(run);
    }
    if (lib) {
        bench_mosq_lib_cleanup();
    }
    return rc;
}
