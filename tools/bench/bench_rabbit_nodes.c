/*
 * bench_rabbit_nodes.c -- RabbitMQ nodes for `secmq-bench --suite
 * rabbitmq`: Debian's rabbitmq-server started on loopback in the bench's
 * temp dir, one after the other, each with its own node name, ports and
 * directories, one epmd and one Erlang cookie; nodes after the first join
 * it by classic_config peer discovery at their first boot. MQTT on a TLS
 * listener with the bench's PKI (DIR/pki), anonymous clients as guest
 * (loopback only), everything else RabbitMQ's default. Measures nothing
 * (bench_rabbit.c does). Not the test harness's code: an installed bench
 * has no tests/harness.
 */
#include "bench_authd.h"
#include "bench_rabbit.h"

#include <arpa/inet.h>
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

#define NODE_START_MS 240000L /* one node, to its MQTT listener */
#define NODE_STOP_MS 10000L
#define POLL_MS 200L

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
            size_t n = strnlen(line, cap - 1); /* cut to fit */
            memcpy(out, line, n);
            out[n] = '\0';
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* The first child of pid (/proc/PID/task/PID/children), or 0. */
static pid_t child_of(pid_t pid)
{
    char path[96], buf[64] = "";
    FILE *f;
    long v;

    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid,
             (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(buf, sizeof buf, f) == NULL) {
        buf[0] = '\0';
    }
    fclose(f);
    buf[strcspn(buf, " \n")] = '\0';
    return bench_parse_long(buf, 2, 1L << 30, &v) == 0 ? (pid_t)v : 0;
}

/* "Starting RabbitMQ 3.10.8 on Erlang ..." in the node's log. */
static void read_version(const bench_rnode *n, char *out, size_t cap)
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
static int node_files(const bench_rcluster *run, int i, const char *pki,
                      char *err, size_t errlen)
{
    const bench_rnode *n = &run->node[i];
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
    if (run->prefetch > 0 && len < sizeof conf) {
        len += (size_t)snprintf(conf + len, sizeof conf - len,
                                "mqtt.prefetch = %ld\n", run->prefetch);
    }
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
static int node_env(const bench_rcluster *run, const bench_rnode *n,
                    const char *home, char *err, size_t errlen)
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
static int node_start(const char *server, bench_rcluster *run, int i,
                      const char *home, char *err, size_t errlen)
{
    bench_rnode *n = &run->node[i];
    char *argv[2] = {(char *)server, NULL};
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
            n->vm.pid = child_of(n->pid); /* the Erlang VM */
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
            snprintf(err, errlen, "interrupted");
            return -1;
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
int bench_rabbit_start(bench_rcluster *run, const char *server, int nodes,
                       const char *dir, char *err, size_t errlen)
{
    char home[BENCH_PATH_BYTES], pki[BENCH_PATH_BYTES];
    char cookie[BENCH_PATH_BYTES + 32], text[48];
    unsigned char rnd[20];
    int fds[2 * BENCH_RABBIT_MAX_NODES + 1], nfds = 0, rc = -1;

    snprintf(run->dir, sizeof run->dir, "%s", dir);
    if (bench_path_join(home, run->dir, "rabbit-home", err, errlen) != 0 ||
        bench_path_join(pki, run->dir, "pki", err, errlen) != 0) {
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
    run->nnodes = nodes;
    fds[nfds] = bench_free_port(&run->epmd_port, err, errlen);
    if (fds[nfds++] < 0) {
        return -1;
    }
    for (int i = 0; i < run->nnodes; i++) {
        bench_rnode *n = &run->node[i];
        snprintf(n->name, sizeof n->name, "secmqbench%ld%c@localhost",
                 (long)getpid(), 'a' + i);
        if (snprintf(n->dir, sizeof n->dir, "%s/rabbit-%c", run->dir,
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
        if (node_start(server, run, i, home, err, errlen) != 0) {
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

/* Stops every node: its Erlang VM is killed (SIGKILL: its files are
 * thrown away, and a VM still booting would put off a SIGTERM until it
 * has booted), which ends the rabbitmq-server script waiting for it
 * (SIGTERM, then SIGKILL after NODE_STOP_MS). Then the cluster's epmd,
 * which has no node left. */
void bench_rabbit_stop(bench_rcluster *run)
{
    char out[BENCH_PATH_BYTES], why[BENCH_WHY_BYTES];
    char port[16];
    char *argv[5] = {(char *)BENCH_RABBIT_EPMD, (char *)"-port", port,
                     (char *)"-kill", NULL};

    for (int i = run->nnodes - 1; i >= 0; i--) {
        bench_rnode *n = &run->node[i];
        pid_t vm;
        int status;
        if (n->pid <= 0) {
            continue;
        }
        /* The VM: the script's child (vm.pid is 0 when the node was
         * stopped before its listener opened). */
        vm = child_of(n->pid);
        vm = vm > 0 ? vm : n->vm.pid;
        if (vm > 0) {
            kill(vm, SIGKILL);
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
        n->vm.pid = 0;
    }
    /* This cluster's epmd only (never the default port's). It refuses
     * while it still lists a node it has not seen go: asked again. */
    snprintf(port, sizeof port, "%d", run->epmd_port);
    for (int k = 0; run->epmd_port > 0 && k < 20; k++) {
        char line[256];
        if (bench_path_join(out, run->dir, "epmd-kill.out", why, sizeof why) !=
            0) {
            break;
        }
        /* Not bench_run_tool: it gives up at once after an interrupt. */
        pid_t pid = bench_spawn(argv, out, why, sizeof why);
        for (int w = 0; pid > 0 && w < 100; w++) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                pid = 0;
                break;
            }
            nap_ms(50);
        }
        if (pid > 0) {
            kill(pid, SIGKILL);
            (void)waitpid(pid, NULL, 0);
        }
        last_line(out, line, sizeof line);
        if (strstr(line, "Killed") != NULL ||
            strstr(line, "Cannot connect") != NULL) {
            break;
        }
        nap_ms(250);
    }
    run->nnodes = 0;
}

/* CPU seconds of all the nodes' VMs, or -1. */
double bench_rabbit_cpu_s(const bench_rcluster *run)
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
