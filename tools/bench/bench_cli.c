/*
 * bench_cli.c -- `secmq-bench --suite cli`: the command-line tools timed as
 * a user runs them, through the bench's private TLS mosquitto on 127.0.0.1
 * (password_file with one user made for the run, allow_anonymous false).
 *
 * Rows, each a subscriber started first with -C N (stdout to a file), then
 * a publisher with -l reading N lines of 64 B from a file, QoS 1, TLS
 * (--cafile, -u/-P); timed from the publisher's start to the subscriber's
 * exit, msgs/s = N / that time:
 *   mosquitto     mosquitto_sub and mosquitto_pub
 *   secmq-tls     secmq-sub and secmq-pub, TLS only (no keyring)
 *   secmq-sealed  secmq-sub and secmq-pub with --keyring (signed
 *                 envelopes; keyrings made by bench_secmq_keys)
 * The subscriber is known to be subscribed from the broker's log (log_type
 * subscribe) before the publisher starts. A row counts only when the
 * subscriber exited 0 and printed N lines. Rows are interleaved over
 * --repeat rounds; the median round is reported with the range, and the
 * median CPU time and context switches per message of each tool (wait4's
 * rusage).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_authd.h"

#define ROWS 3
#define LINE_BYTES 64u
#define TOPIC "bench/cli"
#define USER "bench"
#define MOSQ_PUB "/usr/bin/mosquitto_pub"
#define MOSQ_SUB "/usr/bin/mosquitto_sub"
#define MOSQ_PASSWD "/usr/bin/mosquitto_passwd"
#define SUB_READY_S 20.0
/* A row's subscriber waits at most this long, and longer for large
 * --count: at least MIN_RATE msgs/s or the row fails. */
#define ROW_TIMEOUT_S 30.0
#define MIN_RATE 100.0
#define PATHB (BENCH_PATH_BYTES + 64u)

static const char *const row_names[ROWS] = {"mosquitto", "secmq-tls",
                                            "secmq-sealed"};

struct copts {
    int json;
    int keep;
    long count;
    long repeat;
    const char *mosquitto;
};

/* What the rows share: broker, tools, files. */
struct cctx {
    const struct copts *o;
    bench_broker br;
    char dir[BENCH_PATH_BYTES];
    char lines[PATHB];
    char pw[40];
    char port[16];
    char secmq_pub[BENCH_PATH_BYTES];
    char secmq_sub[BENCH_PATH_BYTES];
    char keys_pub[BENCH_PATH_BYTES];
    char keys_sub[BENCH_PATH_BYTES];
    char count[24];
};

static pid_t spawn(char *const argv[], const char *in, const char *out,
                   const char *errf)
{
    pid_t pid = fork();

    if (pid == 0) {
        int i = open(in != NULL ? in : "/dev/null", O_RDONLY);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errf, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 ||
            dup2(e, 2) < 0) {
            _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* CPU time (user + system) in a child's rusage, in microseconds. */
static double ru_us(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec * 1e6 + (double)ru->ru_utime.tv_usec +
           (double)ru->ru_stime.tv_sec * 1e6 + (double)ru->ru_stime.tv_usec;
}

/* Exit status of pid, waited for at most timeout_s (then killed: -1); its
 * CPU time in microseconds into *cpu_us, its context switches (voluntary:
 * it slept, and involuntary) into *csw. */
static int reap(pid_t pid, double timeout_s, double *cpu_us, double *csw)
{
    uint64_t end = bench_now_ns() + (uint64_t)(timeout_s * 1e9);
    int st = 0;

    *cpu_us = 0.0;
    *csw = 0.0;
    for (;;) {
        struct rusage ru;
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid) {
            *cpu_us = ru_us(&ru);
            *csw = (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        if (r < 0 || bench_now_ns() > end || bench_interrupted) {
            kill(pid, SIGKILL);
            (void)waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* 1 when the file at path (the broker's log: small) contains needle. */
static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    long len;
    int found = 0;

    if (f == NULL) {
        return 0;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) != NULL) {
        size_t n = fread(buf, 1, (size_t)len, f);
        buf[n] = '\0';
        found = strstr(buf, needle) != NULL;
    }
    free(buf);
    fclose(f);
    return found;
}

static long count_lines(const char *path)
{
    char buf[65536];
    long lines = 0;
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            lines += buf[i] == '\n';
        }
    }
    fclose(f);
    return lines;
}

/* argv of one tool: bin, the connection options, extra (NULL-ended). */
static void tool_argv(char **argv, const struct cctx *c, const char *bin,
                      int secmq, const char *id, char *const extra[])
{
    size_t n = 0;

    argv[n++] = (char *)bin;
    if (secmq) {
        argv[n++] = "--no-config";
    }
    char *common[] = {
        "-h", "127.0.0.1",   "-p",       (char *)c->port,      "-u", USER,
        "-P", (char *)c->pw, "-i",       (char *)id,           "-t", TOPIC,
        "-q", "1",           "--cafile", (char *)c->br.cafile, NULL};
    for (size_t i = 0; common[i] != NULL; i++) {
        argv[n++] = common[i];
    }
    for (size_t i = 0; extra[i] != NULL; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
}

/* One run of row r (round k): msgs/s into *rate, the subscriber's and the
 * publisher's CPU time per message (us) into cpu[0] and cpu[1], and their
 * context switches per message into csw[0] and csw[1]. */
static int run_row(struct cctx *c, int r, int k, double *rate, double cpu[2],
                   double csw[2], char *err, size_t errlen)
{
    char out[PATHB], log[PATHB], sid[48], pid_s[48], needle[96];
    char *sargv[32], *pargv[32];
    const char *sub_bin = r == 0 ? MOSQ_SUB : c->secmq_sub;
    const char *pub_bin = r == 0 ? MOSQ_PUB : c->secmq_pub;
    char *sub_x[] = {"-C", c->count, NULL, NULL, NULL};
    char *pub_x[] = {"-l", NULL, NULL, NULL};
    uint64_t t0, end;
    pid_t sp, pp;
    int src, prc;
    long got;

    snprintf(out, sizeof out, "%s/%s-%d.out", c->dir, row_names[r], k);
    snprintf(log, sizeof log, "%s/%s-%d.log", c->dir, row_names[r], k);
    snprintf(sid, sizeof sid, "bench-cli-sub-%d-%d", r, k);
    snprintf(pid_s, sizeof pid_s, "bench-cli-pub-%d-%d", r, k);
    if (r == 2) {
        sub_x[2] = "--keyring";
        sub_x[3] = c->keys_sub;
        pub_x[1] = "--keyring";
        pub_x[2] = c->keys_pub;
    }
    tool_argv(sargv, c, sub_bin, r != 0, sid, sub_x);
    tool_argv(pargv, c, pub_bin, r != 0, pid_s, pub_x);
    sp = spawn(sargv, NULL, out, log);
    if (sp < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    /* mosquitto logs "<id> <qos> <filter>" for each subscription. */
    snprintf(needle, sizeof needle, " %s 1 " TOPIC, sid);
    end = bench_now_ns() + (uint64_t)(SUB_READY_S * 1e9);
    while (!file_has(c->br.log, needle)) {
        int gone = waitpid(sp, &src, WNOHANG) == sp;
        if (gone || bench_now_ns() > end || bench_interrupted) {
            if (!gone) {
                kill(sp, SIGKILL);
                (void)waitpid(sp, &src, 0);
            }
            snprintf(err, errlen,
                     "%s row: %.100s did not subscribe within %.0f s (see "
                     "%.300s "
                     "with --keep)",
                     row_names[r], sub_bin, SUB_READY_S, log);
            return -1;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    t0 = bench_now_ns();
    pp = spawn(pargv, c->lines, "/dev/null", log);
    {
        double cap = (double)c->o->count / MIN_RATE;
        src = reap(sp, cap > ROW_TIMEOUT_S ? cap : ROW_TIMEOUT_S, &cpu[0],
                   &csw[0]);
    }
    *rate = (double)c->o->count / ((double)(bench_now_ns() - t0) / 1e9);
    prc = reap(pp, 30.0, &cpu[1], &csw[1]);
    for (int i = 0; i < 2; i++) {
        cpu[i] /= (double)c->o->count;
        csw[i] /= (double)c->o->count;
    }
    got = count_lines(out);
    if (src != 0 || prc != 0 || got != c->o->count) {
        snprintf(err, errlen,
                 "%s row: subscriber exited %d with %ld of %ld lines, "
                 "publisher exited %d (see %.300s with --keep)",
                 row_names[r], src, got, c->o->count, prc, log);
        return -1;
    }
    (void)unlink(out);
    return 0;
}

/* The run's password, the password_file (hashed by mosquitto_passwd -U),
 * the lines to publish, the keyrings. */
static int prepare(struct cctx *c, char *err, size_t errlen)
{
    unsigned char rnd[16];
    char pwfile[PATHB], keys[PATHB], plog[PATHB];
    FILE *f;
    int ok;

    f = fopen("/dev/urandom", "rb");
    ok = f != NULL && fread(rnd, 1, sizeof rnd, f) == sizeof rnd;
    if (f != NULL) {
        fclose(f);
    }
    if (!ok) {
        snprintf(err, errlen, "cannot read /dev/urandom");
        return -1;
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        snprintf(c->pw + 2 * i, 3, "%02x", rnd[i]);
    }
    snprintf(pwfile, sizeof pwfile, "%s/passwd", c->dir);
    snprintf(plog, sizeof plog, "%s/passwd.log", c->dir);
    f = fopen(pwfile, "w");
    if (f == NULL || fprintf(f, "%s:%s\n", USER, c->pw) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %.300s", pwfile);
        return -1;
    }
    {
        char *argv[] = {MOSQ_PASSWD, "-U", pwfile, NULL};
        if (bench_run_tool(argv, NULL, plog, 20000, err, errlen) != 0) {
            return -1;
        }
    }
    snprintf(c->lines, sizeof c->lines, "%s/lines.txt", c->dir);
    f = fopen(c->lines, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %.300s", c->lines);
        return -1;
    }
    for (long i = 0; i < c->o->count; i++) {
        fprintf(f, "%08ld%056d\n", i, 0);
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %.300s", c->lines);
        return -1;
    }
    snprintf(keys, sizeof keys, "%s/keys", c->dir);
    return bench_secmq_keys(keys, TOPIC, "sam", "alice", 0, c->keys_pub,
                            c->keys_sub, err, errlen);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char cli_usage[] =
    "usage: secmq-bench --suite cli [--count N] [--repeat R] [--json] "
    "[--keep]\n"
    "                              [--mosquitto PATH]\n"
    "\n"
    "The command-line tools as a user runs them, through a private TLS\n"
    "mosquitto on 127.0.0.1 (a password_file user made for the run). Each\n"
    "row starts the subscriber with -C N, waits until the broker logged its\n"
    "subscription, then runs the publisher with -l on N lines of 64 B, QoS\n"
    "1, --cafile, -u/-P; msgs/s = N / (publisher start .. subscriber exit);\n"
    "cpu: the subscriber's and the publisher's CPU time (user + system,\n"
    "from wait4) per message, medians; far steadier than msgs/s on a busy\n"
    "machine. cs: their context switches per message (voluntary and\n"
    "involuntary, from wait4): how often each tool's threads slept and woke.\n"
    "Rows:\n"
    "  mosquitto     mosquitto_sub and mosquitto_pub (/usr/bin)\n"
    "  secmq-tls     secmq-sub and secmq-pub, TLS only, no keyring\n"
    "  secmq-sealed  secmq-sub and secmq-pub with --keyring (signed)\n"
    "and each secmq row's ratio to mosquitto (target >= 1.0x).\n"
    "Options:\n"
    "  --count N     messages per row (default 50000)\n"
    "  --repeat R    rounds, rows interleaved, 1..9 (default 1); the median\n"
    "                and the range are reported\n"
    "  --json        one JSON document instead of the text\n"
    "  --keep        keep the temp dirs (broker log, tool logs)\n"
    "  --mosquitto PATH  broker binary (default /usr/sbin/mosquitto)\n"
    "  --help        this text\n";

/* 0, 1 after --help, -1 for a usage error (reported). */
static int parse(struct copts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->count = 50000;
    o->repeat = 1;
    o->mosquitto = "/usr/sbin/mosquitto";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            printf("%s", cli_usage);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
        } else if (v != NULL && strcmp(a, "--mosquitto") == 0) {
            o->mosquitto = argv[++i];
        } else if (v != NULL && strcmp(a, "--count") == 0 &&
                   bench_parse_long(v, 1, 10000000, &o->count) == 0) {
            i++;
        } else if (v != NULL && strcmp(a, "--repeat") == 0 &&
                   bench_parse_long(v, 1, BENCH_MAX_REPEAT, &o->repeat) == 0) {
            i++;
        } else {
            fprintf(stderr,
                    "secmq-bench --suite cli: bad option or value '%s' (see "
                    "secmq-bench --suite cli --help)\n",
                    a);
            return -1;
        }
    }
    return 0;
}

/* Median, smallest and largest of n values. */
static void spread(const double *in, int n, double *med, double *lo, double *hi)
{
    double v[BENCH_MAX_REPEAT];

    memcpy(v, in, (size_t)n * sizeof v[0]);
    qsort(v, (size_t)n, sizeof v[0], cmp_d);
    *med = v[n / 2];
    *lo = v[0];
    *hi = v[n - 1];
}

/* Per row and round: msgs/s, and the subscriber's and the publisher's CPU
 * time (us) and context switches per message. */
struct cres {
    double rate[ROWS][BENCH_MAX_REPEAT];
    double cpu[2][ROWS][BENCH_MAX_REPEAT];
    double csw[2][ROWS][BENCH_MAX_REPEAT];
};

static void report(const struct cctx *c, const struct cres *res,
                   const double load0[3], const double load1[3])
{
    double med[ROWS], lo[ROWS], hi[ROWS], cpu[2][ROWS], csw[2][ROWS], x, y;
    int n = (int)c->o->repeat;
    bench_host h;

    for (int r = 0; r < ROWS; r++) {
        spread(res->rate[r], n, &med[r], &lo[r], &hi[r]);
        for (int i = 0; i < 2; i++) {
            spread(res->cpu[i][r], n, &cpu[i][r], &x, &y);
            spread(res->csw[i][r], n, &csw[i][r], &x, &y);
        }
    }
    bench_host_probe(&h);
    if (c->o->json) {
        printf("{\"suite\":\"cli\",\"cpu\":");
        bench_json_str(h.cpu);
        printf(",\"cores\":%d,\"count\":%ld,\"size\":%u,\"qos\":1,"
               "\"repeat\":%ld,",
               h.cores, c->o->count, LINE_BYTES, c->o->repeat);
        bench_json_load(load0, load1);
        printf(",\"rows\":[");
        for (int r = 0; r < ROWS; r++) {
            printf("%s{\"row\":\"%s\",\"msgs_per_s\":%.1f,\"min\":%.1f,"
                   "\"max\":%.1f,\"ratio\":%.3f,\"sub_cpu_us\":%.2f,"
                   "\"pub_cpu_us\":%.2f,\"sub_csw\":%.3f,\"pub_csw\":%.3f}",
                   r ? "," : "", row_names[r], med[r], lo[r], hi[r],
                   med[0] > 0 ? med[r] / med[0] : 0.0, cpu[0][r], cpu[1][r],
                   csw[0][r], csw[1][r]);
        }
        printf("]}\n");
        return;
    }
    printf("secmq-bench --suite cli (%s, %d cores; load %.2f at start, %.2f "
           "at end)\n",
           h.cpu, h.cores, load0[0], load1[0]);
    printf("  %ld msgs of %u B per row, QoS 1, TLS, -l -> -C N; median of "
           "%ld, range; CPU us/msg and context switches/msg of the "
           "subscriber + publisher\n",
           c->o->count, LINE_BYTES, c->o->repeat);
    for (int r = 0; r < ROWS; r++) {
        printf("  %-13s %9.0f msgs/s  (%.0f..%.0f)  %.2fx mosquitto  cpu "
               "%.1f + %.1f us  cs %.2f + %.2f%s\n",
               row_names[r], med[r], lo[r], hi[r],
               med[0] > 0 ? med[r] / med[0] : 0.0, cpu[0][r], cpu[1][r],
               csw[0][r], csw[1][r], r == 1 ? "  (target >= 1.0x)" : "");
    }
}

int bench_cli_main(int argc, char **argv)
{
    static struct cres res;
    char err[BENCH_ERR_BYTES], certs[BENCH_PATH_BYTES];
    double load0[3], load1[3];
    bench_broker_conf conf;
    struct copts o;
    struct cctx c;
    char extra[PATHB + 64];
    int rc;

    rc = parse(&o, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    memset(&c, 0, sizeof c);
    c.o = &o;
    snprintf(c.count, sizeof c.count, "%ld", o.count);
    bench_catch_signals();
    bench_host_load(load0);
    if (bench_broker_default_certs_bin(certs, sizeof certs, err, sizeof err) !=
            0 ||
        bench_path_near_self(c.secmq_pub, sizeof c.secmq_pub, "secmq-pub", err,
                             sizeof err) != 0 ||
        bench_path_near_self(c.secmq_sub, sizeof c.secmq_sub, "secmq-sub", err,
                             sizeof err) != 0 ||
        bench_mkdtemp(c.dir, "secmq-bench-cli", err, sizeof err) != 0) {
        goto out;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *need[] = {MOSQ_PUB, MOSQ_SUB};
        if (access(need[i], X_OK) != 0) {
            snprintf(err, sizeof err, "%s missing (Debian: mosquitto-clients)",
                     need[i]);
            goto out;
        }
    }
    if (prepare(&c, err, sizeof err) != 0) {
        goto out;
    }
    snprintf(extra, sizeof extra,
             "password_file %s/passwd\nlog_type subscribe\n", c.dir);
    memset(&conf, 0, sizeof conf);
    conf.dir = c.dir;
    conf.anonymous = 0;
    conf.extra = extra;
    if (bench_broker_start_conf(&c.br, o.mosquitto, certs, &conf, o.keep, err,
                                sizeof err) != 0) {
        c.dir[0] = '\0'; /* removed by the failed start */
        goto out;
    }
    snprintf(c.port, sizeof c.port, "%d", c.br.tls_port);
    for (int k = 0; k < (int)o.repeat; k++) {
        for (int r = 0; r < ROWS; r++) {
            double cpu[2], csw[2];
            if (run_row(&c, r, k, &res.rate[r][k], cpu, csw, err, sizeof err) !=
                0) {
                goto out;
            }
            for (int i = 0; i < 2; i++) {
                res.cpu[i][r][k] = cpu[i];
                res.csw[i][r][k] = csw[i];
            }
        }
    }
    bench_host_load(load1);
    report(&c, &res, load0, load1);
    rc = bench_stdout_flush(err, sizeof err) == 0 ? 0 : 1;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite cli: %s\n", err);
    }
    if (c.br.pid != 0 || c.br.dir[0] != '\0') {
        bench_broker_stop(&c.br); /* removes c.dir unless --keep */
    } else if (c.dir[0] != '\0' && !o.keep) {
        bench_rmtree(c.dir);
    }
    return rc;
}
