/*
 * bench_rabbit.c -- `secmq-bench --suite rabbitmq`: sealed 64 B QoS 1
 * messages from a publisher on node A to a subscriber on node B of a
 * RabbitMQ cluster on loopback, next to the same through one node of it
 * and through one mosquitto, in one run.
 *
 * The bench starts everything itself: its private mosquitto (whose temp
 * dir and PKI the nodes share), then Debian's rabbitmq-server nodes one
 * after the other, each in its own directory with its own node name and
 * ports, one epmd and one Erlang cookie; the later nodes join the first
 * by classic_config peer discovery at their first boot. A node's MQTT
 * plugin listens on TLS with the bench's PKI and takes anonymous clients
 * as guest (loopback only). The clients are libsecmq's (bench_secmq.c)
 * with keyrings made for the run (secmq-mac), measured as the transport
 * suite measures rows (bench_run.c). Not the test harness's code: an
 * installed bench has no tests/harness.
 */
#include "bench_authd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define DEFAULT_SERVER "/usr/lib/rabbitmq/bin/rabbitmq-server"
#define EPMD "/usr/bin/epmd"
#define MAX_NODES 3
#define NODE_START_MS 240000L /* one node, to its MQTT listener */
#define NODE_STOP_MS 30000L
#define POLL_MS 200L
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
    long count;
    double duration_s;
    int repeat;
    int json;
    int quick;
    int keep;
    const char *server;
    const char *mosquitto;
} ropts;

typedef struct rnode {
    char name[80]; /* secmqbenchPIDx@localhost */
    char dir[BENCH_PATH_BYTES];
    char log[BENCH_PATH_BYTES];
    int mqtt_port;
    int dist_port;
    pid_t pid;       /* the rabbitmq-server script */
    bench_broker vm; /* only pid: the Erlang VM, for its CPU time */
    double start_s;  /* spawn .. MQTT listener open */
} rnode;

typedef struct rrun {
    bench_broker mosq;
    rnode node[MAX_NODES];
    int nnodes;
    int epmd_port;
    char version[32]; /* RabbitMQ's, from the first node's log */
    bench_row rows[NKINDS];
    bench_row reps[NKINDS][BENCH_MAX_REPEAT];
    bench_host host;
    double load_start[3];
    double load_end[3];
} rrun;

static const char rabbit_usage[] =
    "usage: secmq-bench --suite rabbitmq [--nodes N] [--count N]\n"
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
    "other setting RabbitMQ's default (mqtt.prefetch 10). Starting the\n"
    "nodes takes 15-60 s. Everything is stopped and removed at exit.\n"
    "Options:\n"
    "  --nodes N          nodes in the cluster, 2 or 3 (default 2)\n"
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

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

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
                   parse_long(val, 2, MAX_NODES, &v) == 0) {
            o->nodes = (int)v;
            i++;
        } else if (strcmp(a, "--count") == 0 &&
                   parse_long(val, 1, 10000000, &o->count) == 0) {
            count_set = 1;
            i++;
        } else if (strcmp(a, "--repeat") == 0 &&
                   parse_long(val, 1, BENCH_MAX_REPEAT, &v) == 0) {
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

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int write_file(const char *path, const char *text, mode_t mode,
                      char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t n = strlen(text);
    int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n;

    if (fd >= 0 && close(fd) != 0) {
        ok = 0;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* 1 when something accepts TCP connections on 127.0.0.1:port. */
static int port_open(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    if (fd < 0) {
        return 0;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* The last non-empty line of path into out. */
static void last_line(const char *path, char *out, size_t cap)
{
    char line[512];
    FILE *f = fopen(path, "r");

    out[0] = '\0';
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0') {
            snprintf(out, cap, "%s", line);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* The pid in the node's pid file (the Erlang VM), or 0. */
static pid_t read_pid(const rnode *n)
{
    char path[BENCH_PATH_BYTES + 8], buf[32] = "";
    FILE *f;
    long v;

    snprintf(path, sizeof path, "%s/pid", n->dir);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(buf, sizeof buf, f) == NULL) {
        buf[0] = '\0';
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return parse_long(buf, 2, 1L << 30, &v) == 0 ? (pid_t)v : 0;
}

/* "Starting RabbitMQ 3.10.8 on Erlang ..." in the node's log. */
static void read_version(const rnode *n, char *out, size_t cap)
{
    char line[1024];
    FILE *f = fopen(n->log, "r");

    snprintf(out, cap, "?");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        const char *p = strstr(line, "Starting RabbitMQ ");
        if (p != NULL) {
            p += strlen("Starting RabbitMQ ");
            snprintf(out, cap, "%.*s", (int)strcspn(p, " \r\n"), p);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* The node's rabbitmq.conf and enabled_plugins; node i > 0 joins node 0. */
static int node_files(const rrun *run, int i, const char *pki, char *err,
                      size_t errlen)
{
    const rnode *n = &run->node[i];
    char path[BENCH_PATH_BYTES + 32], conf[4096 + 3 * BENCH_PATH_BYTES];
    size_t len;

    len = (size_t)snprintf(conf, sizeof conf,
                           "listeners.tcp = none\n"
                           "mqtt.listeners.tcp = none\n"
                           "mqtt.listeners.ssl.default = 127.0.0.1:%d\n"
                           "ssl_options.cacertfile = %s/ca.crt\n"
                           "ssl_options.certfile = %s/broker.crt\n"
                           "ssl_options.keyfile = %s/broker.key\n"
                           "ssl_options.verify = verify_none\n"
                           "ssl_options.fail_if_no_peer_cert = false\n"
                           "mqtt.allow_anonymous = true\n"
                           "mqtt.default_user = guest\n"
                           "mqtt.default_pass = guest\n"
                           "mqtt.vhost = /\n"
                           "mqtt.exchange = amq.topic\n",
                           n->mqtt_port, pki, pki, pki);
    if (i > 0) {
        len += (size_t)snprintf(conf + len, sizeof conf - len,
                                "cluster_formation.peer_discovery_backend = "
                                "classic_config\n");
        for (int k = 0; k <= i && len < sizeof conf; k++) {
            len += (size_t)snprintf(conf + len, sizeof conf - len,
                                    "cluster_formation.classic_config.nodes.%d"
                                    " = %s\n",
                                    k + 1, run->node[k].name);
        }
    }
    if (len >= sizeof conf) {
        snprintf(err, errlen, "RabbitMQ configuration too long");
        return -1;
    }
    snprintf(path, sizeof path, "%s/rabbitmq.conf", n->dir);
    if (write_file(path, conf, 0600, err, errlen) != 0) {
        return -1;
    }
    snprintf(path, sizeof path, "%s/enabled_plugins", n->dir);
    return write_file(path, "[rabbitmq_mqtt].\n", 0600, err, errlen);
}

/* The node's environment, set in this process for the child it starts
 * next (no other thread runs yet). */
static int node_env(const rrun *run, const rnode *n, const char *home,
                    char *err, size_t errlen)
{
    char v[BENCH_PATH_BYTES + 32], port[16], epmd[16];
    int bad = 0;

    snprintf(port, sizeof port, "%d", n->dist_port);
    snprintf(epmd, sizeof epmd, "%d", run->epmd_port);
    bad |= setenv("HOME", home, 1);
    bad |= setenv("RABBITMQ_NODENAME", n->name, 1);
    bad |= setenv("RABBITMQ_DIST_PORT", port, 1);
    bad |= setenv("ERL_EPMD_PORT", epmd, 1);
    bad |= setenv("ERL_EPMD_ADDRESS", "127.0.0.1", 1);
    snprintf(v, sizeof v, "%s/mnesia", n->dir);
    bad |= setenv("RABBITMQ_MNESIA_BASE", v, 1);
    snprintf(v, sizeof v, "%s/log", n->dir);
    bad |= setenv("RABBITMQ_LOG_BASE", v, 1);
    bad |= setenv("RABBITMQ_LOGS", "-", 1);
    snprintf(v, sizeof v, "%s/rabbitmq.conf", n->dir);
    bad |= setenv("RABBITMQ_CONFIG_FILE", v, 1);
    snprintf(v, sizeof v, "%s/enabled_plugins", n->dir);
    bad |= setenv("RABBITMQ_ENABLED_PLUGINS_FILE", v, 1);
    snprintf(v, sizeof v, "%s/pid", n->dir);
    bad |= setenv("RABBITMQ_PID_FILE", v, 1);
    bad |= setenv("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                  "-kernel inet_dist_use_interface {127,0,0,1}", 1);
    if (bad) {
        snprintf(err, errlen, "setenv: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Starts node i and waits for its MQTT listener. */
static int node_start(const ropts *o, rrun *run, int i, const char *home,
                      char *err, size_t errlen)
{
    rnode *n = &run->node[i];
    char *argv[2] = {(char *)o->server, NULL};
    char line[512];
    uint64_t t0 = bench_now_ns();

    if (node_env(run, n, home, err, errlen) != 0) {
        return -1;
    }
    n->pid = bench_spawn(argv, n->log, err, errlen);
    if (n->pid < 0) {
        n->pid = 0;
        return -1;
    }
    for (long waited = 0; waited < NODE_START_MS; waited += POLL_MS) {
        int status;
        if (port_open(n->mqtt_port)) {
            n->start_s = (double)(bench_now_ns() - t0) / 1e9;
            n->vm.pid = read_pid(n);
            return 0;
        }
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            last_line(n->log, line, sizeof line);
            snprintf(err, errlen,
                     "RabbitMQ node %s exited at start (log %.200s): %.200s",
                     n->name, n->log, line);
            return -1;
        }
        if (bench_interrupted) {
            break;
        }
        nap_ms(POLL_MS);
    }
    snprintf(err, errlen,
             "RabbitMQ node %s: MQTT listener not open within %ld s (log "
             "%.300s)",
             n->name, NODE_START_MS / 1000, n->log);
    return -1;
}

/* Makes the nodes' directories, the cookie, the ports, and starts them
 * one after the other. */
static int nodes_start(const ropts *o, rrun *run, char *err, size_t errlen)
{
    char home[BENCH_PATH_BYTES], pki[BENCH_PATH_BYTES];
    char cookie[BENCH_PATH_BYTES + 32], text[48];
    unsigned char rnd[20];
    int fds[2 * MAX_NODES + 1], nfds = 0, rc = -1;

    if (bench_path_join(home, run->mosq.dir, "rabbit-home", err, errlen) != 0 ||
        bench_path_join(pki, run->mosq.dir, "pki", err, errlen) != 0) {
        return -1;
    }
    if (mkdir(home, 0700) != 0) {
        snprintf(err, errlen, "cannot create %.300s: %s", home,
                 strerror(errno));
        return -1;
    }
    /* One cookie for all nodes, written before any starts. */
    {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        ssize_t r = fd >= 0 ? read(fd, rnd, sizeof rnd) : -1;
        if (fd >= 0) {
            close(fd);
        }
        if (r != (ssize_t)sizeof rnd) {
            snprintf(err, errlen, "cannot read /dev/urandom");
            return -1;
        }
        for (size_t k = 0; k < sizeof rnd; k++) {
            text[k] = (char)('A' + rnd[k] % 26);
        }
        text[sizeof rnd] = '\0';
        snprintf(cookie, sizeof cookie, "%s/.erlang.cookie", home);
        if (write_file(cookie, text, 0400, err, errlen) != 0) {
            return -1;
        }
    }
    run->nnodes = o->nodes;
    fds[nfds] = bench_free_port(&run->epmd_port, err, errlen);
    if (fds[nfds++] < 0) {
        return -1;
    }
    for (int i = 0; i < run->nnodes; i++) {
        rnode *n = &run->node[i];
        snprintf(n->name, sizeof n->name, "secmqbench%ld%c@localhost",
                 (long)getpid(), 'a' + i);
        if (snprintf(n->dir, sizeof n->dir, "%s/rabbit-%c", run->mosq.dir,
                     'a' + i) >= (int)sizeof n->dir ||
            bench_path_join(n->log, n->dir, "server.log", err, errlen) != 0) {
            snprintf(err, errlen, "temp dir path too long");
            goto out;
        }
        if (mkdir(n->dir, 0700) != 0) {
            snprintf(err, errlen, "cannot create %.300s: %s", n->dir,
                     strerror(errno));
            goto out;
        }
        fds[nfds] = bench_free_port(&n->mqtt_port, err, errlen);
        if (fds[nfds++] < 0) {
            goto out;
        }
        fds[nfds] = bench_free_port(&n->dist_port, err, errlen);
        if (fds[nfds++] < 0) {
            goto out;
        }
    }
    for (int i = 0; i < run->nnodes; i++) {
        if (node_files(run, i, pki, err, errlen) != 0) {
            goto out;
        }
    }
    for (int k = 0; k < nfds; k++) {
        close(fds[k]);
    }
    nfds = 0;
    for (int i = 0; i < run->nnodes; i++) {
        if (node_start(o, run, i, home, err, errlen) != 0) {
            goto out;
        }
    }
    read_version(&run->node[0], run->version, sizeof run->version);
    rc = 0;
out:
    for (int k = 0; k < nfds; k++) {
        if (fds[k] >= 0) {
            close(fds[k]);
        }
    }
    return rc;
}

/* Stops every node (SIGTERM: the script stops its VM), kills what is
 * left after NODE_STOP_MS, and stops the cluster's epmd. */
static void nodes_stop(rrun *run)
{
    char out[BENCH_PATH_BYTES], why[BENCH_WHY_BYTES];
    char *argv[3] = {(char *)EPMD, (char *)"-kill", NULL};

    for (int i = run->nnodes - 1; i >= 0; i--) {
        rnode *n = &run->node[i];
        int status;
        if (n->pid <= 0) {
            continue;
        }
        kill(n->pid, SIGTERM);
        for (long w = 0; w < NODE_STOP_MS; w += 50) {
            if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
                n->pid = 0;
                break;
            }
            nap_ms(50);
        }
        if (n->pid > 0) {
            kill(n->pid, SIGKILL);
            (void)waitpid(n->pid, &status, 0);
            n->pid = 0;
        }
        if (n->vm.pid > 0) {
            kill(n->vm.pid, SIGKILL);
            n->vm.pid = 0;
        }
    }
    /* ERL_EPMD_PORT is still the cluster's (node_env). */
    if (run->epmd_port > 0 &&
        bench_path_join(out, run->mosq.dir, "epmd-kill.out", why, sizeof why) ==
            0) {
        (void)bench_run_tool(argv, NULL, out, 10000, why, sizeof why);
    }
    run->nnodes = 0;
}

/* CPU seconds of all the nodes' VMs, or -1. */
static double nodes_cpu_s(const rrun *run)
{
    double sum = 0.0;

    for (int i = 0; i < run->nnodes; i++) {
        double c = bench_broker_cpu_s(&run->node[i].vm);
        if (c < 0.0) {
            return -1.0;
        }
        sum += c;
    }
    return sum;
}

/* The three pairs, a warm-up through each, then the rows interleaved,
 * the paths' order rotated each repetition. */
static int measure(const ropts *o, rrun *run, char *err, size_t errlen)
{
    bench_endpoint ep[MAX_NODES + 1];
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
    for (int i = 0; i < run->nnodes; i++) {
        ep[i + 1] = ep[0];
        ep[i + 1].port = 0;
        ep[i + 1].tls_port = run->node[i].mqtt_port;
    }
    for (int k = 0; k < NKINDS; k++) {
        const bench_endpoint *pub = k == K_MOSQ ? &ep[0] : &ep[1];
        const bench_endpoint *sub = k == K_MOSQ   ? &ep[0]
                                    : k == K_NODE ? &ep[1]
                                                  : &ep[run->nnodes];
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
            double c0 = k == K_MOSQ ? 0.0 : nodes_cpu_s(run), c1;
            if (bench_pair_row(&p, k == K_MOSQ ? &run->mosq : NULL, pairs[k],
                               row_id++, SIZE, QOS, o->count, buf, row, err,
                               errlen) != 0) {
                goto out;
            }
            if (k != K_MOSQ) {
                c1 = nodes_cpu_s(run);
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
           run->mosq.version, run->version, run->nnodes);
    for (int i = 0; i < run->nnodes; i++) {
        printf(" %.1f", run->node[i].start_s);
    }
    printf(" s)\n");
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
            snprintf(sub, sizeof sub, "node %c", 'a' + run->nnodes - 1);
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
    bench_json_str(run->version);
    printf(",\"nodes\":%d,\"node_start_s\":[", run->nnodes);
    for (int i = 0; i < run->nnodes; i++) {
        printf("%s%.2f", i ? "," : "", run->node[i].start_s);
    }
    printf("],\"load_start\":[");
    for (int i = 0; i < 3; i++) {
        printf("%s", i ? "," : "");
        bench_json_num(run->load_start[i]);
    }
    printf("],\"load_end\":[");
    for (int i = 0; i < 3; i++) {
        printf("%s", i ? "," : "");
        bench_json_num(run->load_end[i]);
    }
    printf("],\"transport\":\"secmq-mac\",\"payload\":%u,\"qos\":%d,"
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
    (void)signal(SIGPIPE, SIG_IGN);
    run = calloc(1, sizeof *run);
    if (run == NULL) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    if (access(o.server, X_OK) != 0 || access(EPMD, X_OK) != 0) {
        snprintf(err, sizeof err,
                 "RabbitMQ is not installed (no %.200s or " EPMD "): "
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
    if (bench_broker_default_certs_bin(certs, sizeof certs, err, sizeof err) !=
            0 ||
        bench_broker_start(&run->mosq, o.mosquitto, certs, o.keep, err,
                           sizeof err) != 0 ||
        nodes_start(&o, run, err, sizeof err) != 0 ||
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
    if (fflush(stdout) != 0) {
        snprintf(err, sizeof err, "writing the report: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite rabbitmq: %s\n", err);
    }
    if (run != NULL) {
        nodes_stop(run);
        bench_broker_stop(&run->mosq);
        free(run);
    }
    if (lib) {
        bench_mosq_lib_cleanup();
    }
    return rc;
}
