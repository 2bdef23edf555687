/*
 * bench_python.c -- `secmq-bench --suite python`: the Python package's
 * secmq.Client against paho-mqtt 1.6, both over TLS through the bench's
 * private broker.
 *
 * The measurement itself is Python (python/bench/paho_vs_secmq.py, run as
 * a child process with /usr/bin/python3 or --python): this file finds the
 * script, the package and the library, starts the broker, runs the script
 * against it and prints its rows with the secmq/paho ratio. It does not
 * load Python or measure anything in this process.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_authd.h"

#define DEFAULT_PYTHON "/usr/bin/python3"
#define SCRIPT_NAME "paho_vs_secmq.py"
#define DEFAULT_COUNT 20000L
#define QUICK_COUNT 500L
#define DEFAULT_ROUNDS 3L
#define DEFAULT_SIZE 64L
#define MAX_ROUNDS 9
#define MAX_ROWS 2
/* The script's own limit is 120 s per client kind, QoS and round. */
#define RUN_LIMIT_S 150L

struct popts {
    const char *python;
    const char *script;
    const char *mosquitto;
    long count;
    long rounds;
    long size;
    int json;
    int keep;
};

/* One "row" line of the script: a QoS, both kinds' best and rounds. */
struct prow {
    int qos;
    long size;
    long count;
    double paho;
    double secmq;
    double paho_r[MAX_ROUNDS];
    double secmq_r[MAX_ROUNDS];
    int nrounds;
};

/* What the script reported of itself (its "info" line). */
struct pinfo {
    char python[32];
    char paho[32];
    char secmq[32];
    char library[BENCH_PATH_BYTES];
    char package[BENCH_PATH_BYTES];
};

static const char python_usage[] =
    "usage: secmq-bench --suite python [--python PATH] [--count N]\n"
    "                   [--rounds N] [--size BYTES] [--quick] [--json]\n"
    "                   [--keep] [--mosquitto PATH] [--script PATH]\n"
    "\n"
    "The Python package's secmq.Client against paho-mqtt 1.6 (Debian's\n"
    "python3-paho-mqtt), both over TLS through the bench's private\n"
    "mosquitto on 127.0.0.1 (anonymous, as for the transport rows). Per\n"
    "QoS (0 and 1) and round, for each kind in turn: a subscriber and a\n"
    "publisher of that kind in one Python process, each with its own\n"
    "connection and network thread (loop_start()); the publisher calls\n"
    "publish() N times with the payload as fast as it returns, and the\n"
    "rate is N over the time from the first publish() to the Nth\n"
    "on_message in Python. The best round of each kind is compared:\n"
    "secmq/paho (target at least 1.0x).\n"
    "The measurement is python/bench/" SCRIPT_NAME ", run as a child\n"
    "process. From a build tree it gets the build's library\n"
    "(SECMQ_LIBRARY) and the package of the source tree (PYTHONPATH);\n"
    "installed, Python imports the installed package, which finds its\n"
    "library. SECMQ_LIBRARY or PYTHONPATH already set are kept.\n"
    "Options:\n"
    "  --python PATH   the Python to run (default " DEFAULT_PYTHON ")\n"
    "  --count N       messages per kind, QoS and round (default 20000)\n"
    "  --rounds N      rounds, 1..9 (default 3)\n"
    "  --size BYTES    payload size (default 64)\n"
    "  --quick         smoke run: 500 messages, 1 round\n"
    "  --json          one JSON document instead of the text\n"
    "  --keep          keep the temp dirs (broker log, the script's output)\n"
    "  --mosquitto PATH  broker binary (default /usr/sbin/mosquitto)\n"
    "  --script PATH   the measuring script (default: found as above)\n"
    "  --help          this text\n"
    "Exit status 0 after a complete run, 1 when it failed (python3,\n"
    "paho-mqtt or the package missing included; the reason on stderr),\n"
    "2 for a usage error.\n";

/* 0, 1 after --help, -1 for a usage error (reported). */
static int parse(struct popts *o, int argc, char **argv)
{
    const char *a = NULL;
    int quick = 0;
    int count_set = 0;
    int rounds_set = 0;

    memset(o, 0, sizeof *o);
    o->python = DEFAULT_PYTHON;
    o->mosquitto = "/usr/sbin/mosquitto";
    o->count = DEFAULT_COUNT;
    o->rounds = DEFAULT_ROUNDS;
    o->size = DEFAULT_SIZE;
    for (int i = 1; i < argc; i++) {
        a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            printf("%s", python_usage);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
        } else if (v == NULL) {
            goto bad;
        } else if (strcmp(a, "--python") == 0) {
            o->python = argv[++i];
        } else if (strcmp(a, "--script") == 0) {
            o->script = argv[++i];
        } else if (strcmp(a, "--mosquitto") == 0) {
            o->mosquitto = argv[++i];
        } else if (strcmp(a, "--count") == 0 &&
                   bench_parse_long(v, 1, 10000000, &o->count) == 0) {
            count_set = 1;
            i++;
        } else if (strcmp(a, "--rounds") == 0 &&
                   bench_parse_long(v, 1, MAX_ROUNDS, &o->rounds) == 0) {
            rounds_set = 1;
            i++;
        } else if (strcmp(a, "--size") == 0 &&
                   bench_parse_long(v, 1, 16L * 1024 * 1024, &o->size) == 0) {
            i++;
        } else {
            goto bad;
        }
    }
    if (quick) {
        o->count = count_set ? o->count : QUICK_COUNT;
        o->rounds = rounds_set ? o->rounds : 1;
    }
    return 0;
bad:
    fprintf(stderr,
            "secmq-bench --suite python: bad option or value '%s' (see "
            "secmq-bench --suite python --help)\n",
            a != NULL ? a : "");
    return -1;
}

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Where the script, the package and the library are. A build tree (this
 * executable in BUILD/bin, BUILD/CMakeCache.txt beside it) runs the source
 * tree's script and package with BUILD/lib's library; an installed bench
 * runs the installed script (BENCH_PY_SCRIPT_REL from bindir) and lets
 * Python import the installed package. Sets SECMQ_LIBRARY and PYTHONPATH
 * in this process's environment (unless set already), for the child. */
static int locate(const struct popts *o, char *script, size_t len, char *err,
                  size_t errlen)
{
    char cache[BENCH_PATH_BYTES];
    char lib[BENCH_PATH_BYTES];
    char real[PATH_MAX];

    if (bench_path_near_self(cache, sizeof cache, "../CMakeCache.txt", err,
                             errlen) != 0 ||
        bench_path_near_self(lib, sizeof lib, "../lib/libsecmq.so.0", err,
                             errlen) != 0) {
        return -1;
    }
    if (is_file(cache) && realpath(lib, real) != NULL && is_file(real)) {
        if (setenv("SECMQ_LIBRARY", real, 0) != 0 ||
            setenv("PYTHONPATH", BENCH_SOURCE_DIR "/python", 0) != 0) {
            snprintf(err, errlen, "setenv: %s", strerror(errno));
            return -1;
        }
        snprintf(script, len, "%s",
                 BENCH_SOURCE_DIR "/python/bench/" SCRIPT_NAME);
    } else if (bench_path_near_self(script, len, BENCH_PY_SCRIPT_REL, err,
                                    errlen) != 0) {
        return -1;
    }
    if (o->script != NULL) {
        snprintf(script, len, "%s", o->script);
    }
    if (!is_file(script)) {
        snprintf(err, errlen,
                 "the Python bench script is not at %.300s (installed with "
                 "secmq-bench; or give --script PATH to " SCRIPT_NAME ")",
                 script);
        return -1;
    }
    return 0;
}

/* The next sep-separated field of *s (cut off in place), or NULL at the
 * end; *s moves past it. */
/* src into dst (cap bytes), cut to fit: a version or path too long for
 * the report is shown shortened. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static char *next_field(char **s, char sep)
{
    char *t = *s;
    char *e;

    if (t == NULL) {
        return NULL;
    }
    e = strchr(t, sep);
    if (e != NULL) {
        *e = '\0';
        *s = e + 1;
    } else {
        *s = NULL;
    }
    return t;
}

/* "a,b,c" into v (at most MAX_ROUNDS). Returns the count, or -1. */
static int parse_rounds(char *s, double *v)
{
    int n = 0;
    char *t;

    while ((t = next_field(&s, ',')) != NULL) {
        char *end = NULL;
        if (n == MAX_ROUNDS) {
            return -1;
        }
        v[n] = strtod(t, &end);
        if (end == t || *end != '\0' || !(v[n] > 0.0)) {
            return -1;
        }
        n++;
    }
    return n;
}

/* The script's output: one "info" line, then a "row" line per QoS. Other
 * lines (warnings) are ignored. Returns the rows read, or -1 with err. */
static int read_rows(const char *path, struct prow *rows, struct pinfo *info,
                     char *err, size_t errlen)
{
    char line[1024], pr[512], sr[512];
    FILE *f = fopen(path, "r");
    int n = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
        return -1;
    }
    memset(info, 0, sizeof *info);
    while (fgets(line, sizeof line, f) != NULL) {
        struct prow *r = &rows[n];
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "info ", 5) == 0) {
            /* python|paho|secmq|library|package; paths hold no '|'. */
            char *rest = line + 5;
            char *f5[5] = {NULL, NULL, NULL, NULL, NULL};
            for (int k = 0; k < 5; k++) {
                f5[k] = next_field(&rest, '|');
            }
            if (f5[4] != NULL) {
                copy_field(info->python, sizeof info->python, f5[0]);
                copy_field(info->paho, sizeof info->paho, f5[1]);
                copy_field(info->secmq, sizeof info->secmq, f5[2]);
                copy_field(info->library, sizeof info->library, f5[3]);
                copy_field(info->package, sizeof info->package, f5[4]);
            }
            continue;
        }
        if (strncmp(line, "row ", 4) != 0 || n == MAX_ROWS) {
            continue;
        }
        if (sscanf(line, "row %d %ld %ld %lf %lf %511s %511s", &r->qos,
                   &r->size, &r->count, &r->paho, &r->secmq, pr, sr) != 7 ||
            !(r->paho > 0.0) || !(r->secmq > 0.0) ||
            (r->nrounds = parse_rounds(pr, r->paho_r)) < 1 ||
            parse_rounds(sr, r->secmq_r) != r->nrounds) {
            fclose(f);
            snprintf(err, errlen, "unexpected line from %s: %.200s",
                     SCRIPT_NAME, line);
            return -1;
        }
        n++;
    }
    fclose(f);
    if (n != MAX_ROWS || info->secmq[0] == '\0') {
        snprintf(err, errlen, "%s printed %d of %d rows (output in %.300s)",
                 SCRIPT_NAME, n, MAX_ROWS, path);
        return -1;
    }
    return n;
}

static void print_rounds(const double *v, int n)
{
    for (int k = 0; k < n; k++) {
        printf("%s%.0f", k ? ", " : "", v[k]);
    }
}

static void report_json(const struct popts *o, const struct pinfo *pi,
                        const bench_host *h, const struct prow *rows)
{
    printf("{\"suite\":\"python\",\"cpu\":\"%s\",\"cores\":%d,"
           "\"python\":\"%s\",\"python_version\":\"%s\",\"paho\":\"%s\","
           "\"secmq\":\"%s\",\"library\":\"%s\",\"package\":\"%s\","
           "\"rounds\":%ld,\"rows\":[",
           h->cpu, h->cores, o->python, pi->python, pi->paho, pi->secmq,
           pi->library, pi->package, o->rounds);
    for (int i = 0; i < MAX_ROWS; i++) {
        const struct prow *r = &rows[i];
        printf("%s{\"qos\":%d,\"payload\":%ld,\"count\":%ld,"
               "\"paho_msgs_per_s\":%.1f,\"secmq_msgs_per_s\":%.1f,"
               "\"ratio\":%.3f,\"paho_rounds\":[",
               i ? "," : "", r->qos, r->size, r->count, r->paho, r->secmq,
               r->secmq / r->paho);
        for (int k = 0; k < r->nrounds; k++) {
            printf("%s%.1f", k ? "," : "", r->paho_r[k]);
        }
        printf("],\"secmq_rounds\":[");
        for (int k = 0; k < r->nrounds; k++) {
            printf("%s%.1f", k ? "," : "", r->secmq_r[k]);
        }
        printf("]}");
    }
    printf("]}\n");
}

static void report_table(const struct popts *o, const struct pinfo *pi,
                         const bench_host *h, const struct prow *rows)
{
    printf("secmq-bench --suite python (%s, %d cores)\n", h->cpu, h->cores);
    printf("python:    %s (%s), paho-mqtt %s, secmq package %s\n", o->python,
           pi->python, pi->paho, pi->package);
    printf("library:   secmq %s, %s\n", pi->secmq, pi->library);
    printf("\nthroughput: publish() -> on_message in Python, over TLS, "
           "the kinds in turn\nin one Python process; best of %ld round(s) "
           "per kind\n",
           o->rounds);
    printf("%-4s %9s %8s %12s %12s %10s\n", "qos", "payload", "count",
           "paho msgs/s", "secmq msgs/s", "secmq/paho");
    for (int i = 0; i < MAX_ROWS; i++) {
        const struct prow *r = &rows[i];
        printf("%-4d %7ld B %8ld %12.0f %12.0f %9.2fx\n", r->qos, r->size,
               r->count, r->paho, r->secmq, r->secmq / r->paho);
    }
    for (int i = 0; i < MAX_ROWS; i++) {
        const struct prow *r = &rows[i];
        printf("  QoS %d rounds: paho [", r->qos);
        print_rounds(r->paho_r, r->nrounds);
        printf("], secmq [");
        print_rounds(r->secmq_r, r->nrounds);
        printf("]\n");
    }
    printf("\ntargets (this run):\n");
    for (int i = 0; i < MAX_ROWS; i++) {
        double x = rows[i].secmq / rows[i].paho;
        printf("  secmq.Client vs paho-mqtt msgs/s QoS %d  >= 1.00x   "
               "%5.2fx  %s\n",
               rows[i].qos, x, x >= 1.0 ? "met" : "NOT met");
    }
}

int bench_python_main(int argc, char **argv)
{
    char err[BENCH_ERR_BYTES], certs[BENCH_PATH_BYTES];
    char script[BENCH_PATH_BYTES], dir[BENCH_PATH_BYTES];
    char out[BENCH_PATH_BYTES], n[24], sz[24], rd[24], port[16];
    struct prow rows[MAX_ROWS];
    struct pinfo info;
    bench_broker br;
    bench_host h;
    struct popts o;
    int rc;

    rc = parse(&o, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    memset(&br, 0, sizeof br);
    dir[0] = '\0';
    if (access(o.python, X_OK) != 0) {
        snprintf(err, sizeof err,
                 "no Python at %s (install python3 and python3-paho-mqtt, "
                 "or give --python PATH)",
                 o.python);
        goto out;
    }
    if (locate(&o, script, sizeof script, err, sizeof err) != 0 ||
        bench_broker_default_certs_bin(certs, sizeof certs, err, sizeof err) !=
            0 ||
        bench_broker_start(&br, o.mosquitto, certs, o.keep, err, sizeof err) !=
            0 ||
        bench_mkdtemp(dir, "secmq-bench-python", err, sizeof err) != 0 ||
        bench_path_join(out, dir, "python.out", err, sizeof err) != 0) {
        goto out;
    }
    /* libsecmq's tunnel socket goes under $XDG_RUNTIME_DIR: the temp dir. */
    if (setenv("XDG_RUNTIME_DIR", dir, 1) != 0) {
        snprintf(err, sizeof err, "setenv: %s", strerror(errno));
        goto out;
    }
    snprintf(n, sizeof n, "%ld", o.count);
    snprintf(sz, sizeof sz, "%ld", o.size);
    snprintf(rd, sizeof rd, "%ld", o.rounds);
    snprintf(port, sizeof port, "%d", br.tls_port);
    {
        char *args[] = {(char *)o.python,
                        script,
                        "-n",
                        n,
                        "--size",
                        sz,
                        "--rounds",
                        rd,
                        "--rows",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        port,
                        "--cafile",
                        br.cafile,
                        NULL};
        long limit_ms = (o.rounds * 4 + 1) * RUN_LIMIT_S * 1000;
        if (bench_run_tool(args, NULL, out, limit_ms, err, sizeof err) != 0 ||
            read_rows(out, rows, &info, err, sizeof err) < 0) {
            goto out;
        }
    }
    bench_host_probe(&h);
    if (o.json) {
        report_json(&o, &info, &h, rows);
    } else {
        report_table(&o, &info, &h, rows);
    }
    if (fflush(stdout) != 0) {
        snprintf(err, sizeof err, "writing the report: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite python: %s\n", err);
    }
    bench_broker_stop(&br);
    if (dir[0] != '\0' && !o.keep) {
        bench_rmtree(dir);
    }
    return rc;
}
