/*
 * bench_authd.c -- `secmq-bench --suite authd`: how many of RabbitMQ's
 * questions (rabbitmq_auth_backend_http) secmq-authd answers per second,
 * and how long each takes, per question, from 1 and from N kept-alive
 * HTTP connections.
 *
 * The auth database is the broker suite's policy (bench_auth_files.c: 101
 * users, 1,000 rules) made with secmq-admin in a temp dir. Two secmq-authd
 * processes serve it on free loopback ports: one with its defaults (the
 * login cache and the login guard on), and one with the cache off and the
 * guard relaxed, so that every login there costs an argon2id check. The
 * questions are asked by bench_http.c; every answer is checked against
 * what the policy says (an unexpected allow or deny fails the run). The
 * report is in bench_authd_report.c.
 */
#include "bench_authd.h"
#include "bench_authd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 60000L /* secmq-authd's "listening on" line */
#define POLL_MS 20L

/* The questions, in the order they are measured. Fields are filled in by
 * fill_body(): "pw" and "bad" stand for the user's password and a wrong
 * one. The guarded wrong-password row comes last on its instance: its
 * user (bench-conn) is backed off from then on. */
static const authd_question questions[] = {
    {"user-uncached", "/auth/user", AUTHD_INST_NOCACHE, 1,
     "right password, not cached (argon2id)"},
    {"user-wrong", "/auth/user", AUTHD_INST_NOCACHE, 0,
     "wrong password, guard relaxed (argon2id)"},
    {"user-cached", "/auth/user", AUTHD_INST_DEFAULT, 1,
     "right password, cached"},
    {"vhost", "/auth/vhost", AUTHD_INST_DEFAULT, 1, "vhost '/'"},
    {"resource", "/auth/resource", AUTHD_INST_DEFAULT, 1,
     "exchange amq.topic, write"},
    {"topic-allow", "/auth/topic", AUTHD_INST_DEFAULT, 1,
     "write bench.ab.data (5th rule)"},
    {"topic-deny", "/auth/topic", AUTHD_INST_DEFAULT, 0,
     "write dev.001.data (no rule)"},
    {"user-wrong-guarded", "/auth/user", AUTHD_INST_DEFAULT, 0,
     "wrong password, default guard"},
};
#define NQUESTIONS (sizeof questions / sizeof questions[0])

const authd_question *bench_authd_question(size_t i)
{
    return i < NQUESTIONS ? &questions[i] : NULL;
}

static const char authd_usage[] =
    "usage: secmq-bench --suite authd [--seconds S] [--conns N] [--repeat N]\n"
    "                   [--count N] [--quick] [--json] [--keep]\n"
    "                   [--pw-ops N] [--pw-mem BYTES] [--authd PATH]\n"
    "                   [--admin-bin PATH] [--mosquitto-passwd PATH]\n"
    "\n"
    "secmq-authd's answers to RabbitMQ's HTTP auth backend: requests per\n"
    "second and latency (p50, p99, max: request written .. answer read)\n"
    "per question, from 1 and from N HTTP/1.1 connections kept alive, each\n"
    "asking in sequence as fast as answers come (form-encoded POSTs, as\n"
    "auth_http.http_method = post sends them). secmq-authd is a process of\n"
    "its own; this bench's client is a small HTTP client over loopback.\n"
    "The database: the broker suite's 101 users and 1,000 rules, made with\n"
    "secmq-admin (mosquitto_passwd hashes the imported users; the bench's\n"
    "users get argon2id at --pw-ops/--pw-mem, default secmq-admin's).\n"
    "Two secmq-authd on it: 'default' (its defaults: login cache, login\n"
    "guard) and 'nocache' (--login-cache-size 0, --login-pause-ms 0, the\n"
    "failure budgets out of reach: every login is an argon2id check).\n"
    "Questions (every answer checked: allow or deny as the policy says):\n"
    "  user-uncached       /auth/user, right password        nocache\n"
    "  user-wrong          /auth/user, wrong password        nocache\n"
    "  user-cached         /auth/user, right password, after\n"
    "                      one login filled the cache (that first login\n"
    "                      is reported on its own)           default\n"
    "  vhost               /auth/vhost '/'                   default\n"
    "  resource            /auth/resource exchange write     default\n"
    "  topic-allow         /auth/topic write, allowed by the user's 5th\n"
    "                      rule                              default\n"
    "  topic-deny          /auth/topic write, no rule allows\n"
    "                      (all the user's rules and the patterns walked)\n"
    "  user-wrong-guarded  /auth/user, wrong password: after the first,\n"
    "                      refused by the login guard without a hash\n"
    "The cpu column is secmq-authd's CPU time during the row, in cores.\n"
    "Options:\n"
    "  --seconds S        length of each row (default 2; --quick 0.25)\n"
    "  --conns N          connections of the parallel rows, 1..64\n"
    "                     (default 8; 1: only the one-connection rows)\n"
    "  --count N          requests per row at most (default 1000000)\n"
    "  --repeat N         measure every row N times (1..9), report the\n"
    "                     median and the spread (default 1)\n"
    "  --quick            smoke run: 0.25 s rows\n"
    "  --json             one JSON document instead of the table\n"
    "  --keep             keep the temp dir (database, secmq-authd logs)\n"
    "  --pw-ops N, --pw-mem BYTES  argon2id cost of the database\n"
    "  --authd PATH       secmq-authd (default: next to this executable)\n"
    "  --admin-bin PATH   secmq-admin (default: next to this executable)\n"
    "  --mosquitto-passwd PATH  (default /usr/bin/mosquitto_passwd)\n"
    "  --help             this text\n"
    "Exit status 0 after a complete run, 1 when it failed (secmq-authd or\n"
    "secmq-admin missing, an unexpected answer; the reason on stderr), 2\n"
    "for a usage error.\n";

/* 0, 1 after --help, -1 for a usage error (reported). */
static int parse(authd_opts *o, int argc, char **argv)
{
    const char *a = NULL;
    int seconds_set = 0;
    long v;

    memset(o, 0, sizeof *o);
    o->seconds = 2.0;
    o->conns = 8;
    o->count = 1000000;
    o->repeat = 1;
    o->passwd_bin = "/usr/bin/mosquitto_passwd";
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        a = argv[i];
        if (strcmp(a, "--help") == 0) {
            printf("%s", authd_usage);
            return 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = 1;
        } else if (val == NULL) {
            goto bad;
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = strtod(val, &end);
            if (end == val || *end != '\0' || !(o->seconds >= 0.01) ||
                o->seconds > 600) {
                goto bad;
            }
            seconds_set = 1;
            i++;
        } else if (strcmp(a, "--conns") == 0 &&
                   bench_parse_long(val, 1, AUTHD_MAX_CONNS, &v) == 0) {
            o->conns = (int)v;
            i++;
        } else if (strcmp(a, "--count") == 0 &&
                   bench_parse_long(val, 1, 10000000, &o->count) == 0) {
            i++;
        } else if (strcmp(a, "--repeat") == 0 &&
                   bench_parse_long(val, 1, AUTHD_MAX_REPEAT, &v) == 0) {
            o->repeat = (int)v;
            i++;
        } else if (strcmp(a, "--pw-ops") == 0 &&
                   bench_parse_long(val, 1, 100, &v) == 0) {
            o->pw_ops = (unsigned long long)v;
            i++;
        } else if (strcmp(a, "--pw-mem") == 0 &&
                   bench_parse_long(val, 8192, 1L << 30, &v) == 0) {
            o->pw_mem = (size_t)v;
            i++;
        } else if (strcmp(a, "--authd") == 0) {
            o->authd = argv[++i];
        } else if (strcmp(a, "--admin-bin") == 0) {
            o->admin = argv[++i];
        } else if (strcmp(a, "--mosquitto-passwd") == 0) {
            o->passwd_bin = argv[++i];
        } else {
            goto bad;
        }
    }
    if (o->quick && !seconds_set) {
        o->seconds = 0.25;
    }
    return 0;
bad:
    fprintf(stderr,
            "secmq-bench --suite authd: bad option or value '%s' (see "
            "secmq-bench --suite authd --help)\n",
            a != NULL ? a : "");
    return -1;
}

/* --- the secmq-authd processes ------------------------------------------ */

/* The port number at the start of s (digits up to a space or the end). */
static int parse_long_prefix(const char *s, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || v < 1 || v > 65535 ||
        (*end != '\0' && *end != '\n' && *end != ' ')) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Waits for "listening on 127.0.0.1:PORT" in log; the port, or -1 with
 * err (the process exited, or no such line in time). */
static int wait_listening(pid_t pid, const char *log, char *err, size_t errlen)
{
    char line[512], last[512] = "";

    for (long waited = 0; waited < START_TIMEOUT_MS; waited += POLL_MS) {
        FILE *f = fopen(log, "r");
        int status;
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            const char *p = strstr(line, "listening on 127.0.0.1:");
            long port = 0;
            if (p != NULL) {
                fclose(f);
                return parse_long_prefix(p + strlen("listening on 127.0.0.1:"),
                                         &port) == 0
                           ? (int)port
                           : -1;
            }
            if (line[0] != '\n') {
                snprintf(last, sizeof last, "%s", line);
            }
        }
        if (f != NULL) {
            fclose(f);
        }
        if (bench_interrupted) {
            snprintf(err, errlen, "interrupted");
            return -1;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            last[strcspn(last, "\n")] = '\0';
            snprintf(err, errlen, "secmq-authd exited at start: %s",
                     last[0] != '\0' ? last : "no output");
            return -1;
        }
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen,
             "secmq-authd did not listen within %ld s (log %.300s)",
             START_TIMEOUT_MS / 1000, log);
    return -1;
}

static int start_authd(const authd_opts *o, authd_run *run, int inst, char *err,
                       size_t errlen)
{
    static const char *const relaxed[] = {"--login-cache-size",
                                          "0",
                                          "--login-pause-ms",
                                          "0",
                                          "--login-source-failures",
                                          "1000000",
                                          "--login-user-failures",
                                          "0",
                                          NULL};
    char log[BENCH_PATH_BYTES];
    char *argv[16];
    size_t n = 0;
    pid_t pid;

    if (bench_path_join(log, run->files.root,
                        inst == AUTHD_INST_NOCACHE ? "authd-nocache.log"
                                                   : "authd-default.log",
                        err, errlen) != 0) {
        return -1;
    }
    argv[n++] = (char *)o->authd;
    argv[n++] = (char *)"--db";
    argv[n++] = run->files.db;
    argv[n++] = (char *)"--listen";
    argv[n++] = (char *)"127.0.0.1:0";
    for (size_t k = 0; inst == AUTHD_INST_NOCACHE && relaxed[k] != NULL; k++) {
        argv[n++] = (char *)relaxed[k];
    }
    argv[n] = NULL;
    pid = bench_spawn(argv, log, err, errlen);
    if (pid < 0) {
        return -1;
    }
    run->proc[inst].pid = pid;
    run->port[inst] = wait_listening(pid, log, err, errlen);
    return run->port[inst] > 0 ? 0 : -1;
}

/* --- the questions ------------------------------------------------------ */

/* The form body of question q into out (cap bytes). 0, or -1. */
static int fill_body(const authd_run *run, const authd_question *q, char *out,
                     size_t cap)
{
    const char *pub = BENCH_AUTH_PUB;
    const char *pw = bench_auth_password(&run->pol, &run->files, pub);
    int bad = 0;

    out[0] = '\0';
    if (strcmp(q->path, "/auth/user") == 0) {
        /* The wrong password has the right one's length. */
        const char *user = q->expect_allow ? pub : BENCH_AUTH_CONN;
        bad |= bench_form_add(out, cap, "username", user);
        bad |= bench_form_add(
            out, cap, "password",
            q->expect_allow ? pw : "00000000000000000000000000000000");
        bad |= bench_form_add(out, cap, "vhost", "/");
        bad |= bench_form_add(out, cap, "client_id", user);
    } else if (strcmp(q->path, "/auth/vhost") == 0) {
        bad |= bench_form_add(out, cap, "username", pub);
        bad |= bench_form_add(out, cap, "vhost", "/");
        bad |= bench_form_add(out, cap, "ip", "127.0.0.1");
    } else if (strcmp(q->path, "/auth/resource") == 0) {
        bad |= bench_form_add(out, cap, "username", pub);
        bad |= bench_form_add(out, cap, "vhost", "/");
        bad |= bench_form_add(out, cap, "resource", "exchange");
        bad |= bench_form_add(out, cap, "name", "amq.topic");
        bad |= bench_form_add(out, cap, "permission", "write");
    } else {
        bad |= bench_form_add(out, cap, "username", pub);
        bad |= bench_form_add(out, cap, "vhost", "/");
        bad |= bench_form_add(out, cap, "resource", "topic");
        bad |= bench_form_add(out, cap, "name", "amq.topic");
        bad |= bench_form_add(out, cap, "permission", "write");
        bad |=
            bench_form_add(out, cap, "routing_key",
                           q->expect_allow ? "bench.ab.data" : "dev.001.data");
        bad |= bench_form_add(out, cap, "variable_map.client_id", pub);
        bad |= bench_form_add(out, cap, "variable_map.username", pub);
    }
    return bad ? -1 : 0;
}

/* What the connections of one row share. */
typedef struct row_ctl {
    long count;        /* requests started by all connections */
    long max;          /* at most this many */
    long ready;        /* connections connected, waiting for go */
    int go;            /* 1: start (deadline is set) */
    uint64_t deadline; /* bench_now_ns() */
} row_ctl;

/* One connection's side of a row. */
typedef struct worker {
    pthread_t th;
    const authd_question *q;
    const char *body;
    size_t len;
    int port;
    row_ctl *ctl;
    uint64_t *lat; /* ns per request, owned by the row */
    long cap;
    long done;
    long connects;
    uint64_t end_ns;
    char err[BENCH_ERR_BYTES];
} worker;

/* One request, its answer checked. 0, or -1 with w->err. */
static int ask(worker *w, bench_http *h)
{
    char resp[64], why[BENCH_WHY_BYTES];
    const char *want = w->q->expect_allow ? "allow" : "deny";
    int st = bench_http_post(h, w->q->path, w->body, w->len, resp, sizeof resp,
                             why, sizeof why);

    if (st < 0) {
        snprintf(w->err, sizeof w->err, "%s: %s", w->q->name, why);
        return -1;
    }
    if (st != 200 || strcmp(resp, want) != 0) {
        snprintf(w->err, sizeof w->err,
                 "%s: secmq-authd answered %d '%.20s', expected 200 '%s'",
                 w->q->name, st, resp, want);
        return -1;
    }
    return 0;
}

static void *work(void *arg)
{
    struct timespec nap = {0, 100000L};
    worker *w = arg;
    bench_http h;
    int ok;

    /* Connected (and one question answered) before the clock starts. */
    ok = bench_http_open(&h, w->port, w->err, sizeof w->err) == 0 &&
         ask(w, &h) == 0;
    (void)__atomic_add_fetch(&w->ctl->ready, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&w->ctl->go, __ATOMIC_ACQUIRE)) {
        nanosleep(&nap, NULL);
    }
    while (ok && !bench_interrupted) {
        uint64_t t0 = bench_now_ns(), t1;
        if (t0 >= w->ctl->deadline ||
            __atomic_fetch_add(&w->ctl->count, 1, __ATOMIC_RELAXED) >=
                w->ctl->max) {
            break;
        }
        if (ask(w, &h) != 0) {
            ok = 0;
            break;
        }
        t1 = bench_now_ns();
        if (w->done < w->cap) {
            w->lat[w->done] = t1 - t0;
        }
        w->done++;
    }
    w->end_ns = bench_now_ns();
    w->connects = h.connects;
    bench_http_close(&h);
    return ok ? NULL : w;
}

/* Starts the workers, waits until all are connected, sets the deadline
 * and lets them go; joins them. Returns the time they were let go, or 0
 * with err (a thread could not be started, or a worker failed). */
static uint64_t run_workers(const authd_opts *o, worker *ws, int conns,
                            row_ctl *ctl, char *err, size_t errlen)
{
    struct timespec nap = {0, 200000L};
    int started = 0;
    uint64_t t0;

    for (int i = 0; i < conns; i++) {
        if (pthread_create(&ws[i].th, NULL, work, &ws[i]) != 0) {
            snprintf(err, errlen, "pthread_create failed");
            ctl->max = 0; /* the started ones stop at once */
            break;
        }
        started++;
    }
    while (__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE) < started) {
        nanosleep(&nap, NULL);
    }
    t0 = bench_now_ns();
    ctl->deadline = t0 + (uint64_t)(o->seconds * 1e9);
    __atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < started; i++) {
        void *res = NULL;
        (void)pthread_join(ws[i].th, &res);
        if (res != NULL && err[0] == '\0') {
            snprintf(err, errlen, "%s", ws[i].err);
        }
    }
    return started == conns && err[0] == '\0' ? t0 : 0;
}

/* One row: question q from conns connections for o->seconds. */
static int run_row(const authd_opts *o, authd_run *run, const authd_question *q,
                   int conns, authd_row *out, char *err, size_t errlen)
{
    char body[1024];
    worker ws[AUTHD_MAX_CONNS];
    row_ctl ctl;
    long cap = o->count / conns + 1, total = 0, connects = 0;
    uint64_t *all, t0, t_end = 0;
    double cpu0, cpu1;

    memset(out, 0, sizeof *out);
    memset(ws, 0, sizeof ws);
    memset(&ctl, 0, sizeof ctl);
    out->q = q;
    out->conns = conns;
    err[0] = '\0';
    if (fill_body(run, q, body, sizeof body) != 0) {
        snprintf(err, errlen, "%s: form body too long", q->name);
        return -1;
    }
    all = calloc((size_t)cap * (size_t)conns, sizeof *all);
    if (all == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ctl.max = o->count;
    for (int i = 0; i < conns; i++) {
        ws[i].q = q;
        ws[i].body = body;
        ws[i].len = strlen(body);
        ws[i].port = run->port[q->inst];
        ws[i].ctl = &ctl;
        ws[i].lat = all + (size_t)i * (size_t)cap;
        ws[i].cap = cap;
    }
    cpu0 = bench_broker_cpu_s(&run->proc[q->inst]);
    t0 = run_workers(o, ws, conns, &ctl, err, errlen);
    cpu1 = bench_broker_cpu_s(&run->proc[q->inst]);
    if (t0 == 0) {
        free(all);
        return -1;
    }
    /* The samples of all connections, packed together. */
    for (int i = 0; i < conns; i++) {
        long k = ws[i].done < cap ? ws[i].done : cap;
        memmove(all + total, ws[i].lat, (size_t)k * sizeof *all);
        total += k;
        out->requests += ws[i].done;
        connects += ws[i].connects;
        t_end = ws[i].end_ns > t_end ? ws[i].end_ns : t_end;
    }
    out->reconnects = connects - conns;
    out->seconds = t_end > t0 ? (double)(t_end - t0) / 1e9 : 0.0;
    if (total == 0 || out->seconds <= 0.0) {
        free(all);
        snprintf(err, errlen, "%s: no request answered", q->name);
        return -1;
    }
    out->per_s = (double)out->requests / out->seconds;
    bench_u64_sort(all, total);
    out->p50_us = (double)bench_u64_percentile(all, total, 0.50) / 1e3;
    out->p99_us = (double)bench_u64_percentile(all, total, 0.99) / 1e3;
    out->max_us = (double)all[total - 1] / 1e3;
    /* The CPU columns cover thread start and connect too: a few ms. */
    out->cpu =
        cpu0 >= 0.0 && cpu1 >= cpu0 ? (cpu1 - cpu0) / out->seconds : -1.0;
    out->runs = 1;
    out->rate_min = out->rate_max = out->per_s;
    free(all);
    return 0;
}

/* The repetition with the median rate into out, with the spread. */
static void row_median(authd_row *v, int n, authd_row *out)
{
    double lo = v[0].per_s, hi = v[0].per_s;

    for (int i = 1; i < n; i++) {
        authd_row t = v[i];
        int j = i - 1;
        for (; j >= 0 && v[j].per_s > t.per_s; j--) {
            v[j + 1] = v[j];
        }
        v[j + 1] = t;
    }
    for (int i = 0; i < n; i++) {
        lo = v[i].per_s < lo ? v[i].per_s : lo;
        hi = v[i].per_s > hi ? v[i].per_s : hi;
    }
    *out = v[(n - 1) / 2];
    out->runs = n;
    out->rate_min = lo;
    out->rate_max = hi;
}

/* The first login to the default instance: fills its cache. */
static int first_login(authd_run *run, char *err, size_t errlen)
{
    const authd_question *q = &questions[2]; /* user-cached */
    char body[1024];
    worker w;
    bench_http h;
    uint64_t t0;
    int rc;

    memset(&w, 0, sizeof w);
    w.q = q;
    w.body = body;
    if (fill_body(run, q, body, sizeof body) != 0 ||
        bench_http_open(&h, run->port[q->inst], err, errlen) != 0) {
        return -1;
    }
    w.len = strlen(body);
    t0 = bench_now_ns();
    rc = ask(&w, &h);
    run->first_login_ms = (double)(bench_now_ns() - t0) / 1e6;
    bench_http_close(&h);
    if (rc != 0) {
        snprintf(err, errlen, "%s", w.err);
    }
    return rc;
}

static int measure(const authd_opts *o, authd_run *run, char *err,
                   size_t errlen)
{
    authd_row reps[AUTHD_MAX_REPEAT];
    int conns[2] = {1, o->conns};
    int nconns = o->conns > 1 ? 2 : 1;

    if (first_login(run, err, errlen) != 0) {
        return -1;
    }
    run->nrows = 0;
    for (size_t k = 0; k < NQUESTIONS; k++) {
        for (int c = 0; c < nconns; c++) {
            for (int r = 0; r < o->repeat; r++) {
                if (bench_interrupted) {
                    snprintf(err, errlen, "interrupted");
                    return -1;
                }
                if (run_row(o, run, &questions[k], conns[c], &reps[r], err,
                            errlen) != 0) {
                    return -1;
                }
            }
            row_median(reps, o->repeat, &run->rows[run->nrows++]);
        }
    }
    return 0;
}

static int locate(authd_opts *o, char *authd, char *admin, char *err,
                  size_t errlen)
{
    if (o->authd == NULL) {
        if (bench_path_near_self(authd, BENCH_PATH_BYTES, "secmq-authd", err,
                                 errlen) != 0) {
            return -1;
        }
        o->authd = authd;
    }
    if (o->admin == NULL) {
        if (bench_path_near_self(admin, BENCH_PATH_BYTES, "secmq-admin", err,
                                 errlen) != 0) {
            return -1;
        }
        o->admin = admin;
    }
    if (access(o->authd, X_OK) != 0) {
        snprintf(err, errlen,
                 "no secmq-authd at %.300s (built when libmicrohttpd-dev is "
                 "installed; package secmq-authd; or give --authd PATH)",
                 o->authd);
        return -1;
    }
    if (access(o->admin, X_OK) != 0 || access(o->passwd_bin, X_OK) != 0) {
        snprintf(err, errlen,
                 "secmq-admin (%.200s) and mosquitto_passwd (%.200s) are "
                 "needed to make the auth database",
                 o->admin, o->passwd_bin);
        return -1;
    }
    return 0;
}

int bench_authd_main(int argc, char **argv)
{
    char err[BENCH_ERR_BYTES] = "";
    char authd[BENCH_PATH_BYTES], admin[BENCH_PATH_BYTES];
    bench_auth_opts ao;
    authd_run *run = NULL;
    authd_opts o;
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
    if (locate(&o, authd, admin, err, sizeof err) != 0 ||
        bench_mkdtemp(run->files.root, "secmq-bench-authd", err, sizeof err) !=
            0) {
        goto out;
    }
    if (bench_auth_policy_make(&run->pol) != 0) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    memset(&ao, 0, sizeof ao);
    ao.admin = o.admin;
    ao.passwd_bin = o.passwd_bin;
    ao.pw_ops = o.pw_ops;
    ao.pw_mem = o.pw_mem;
    bench_host_load(run->load_start);
    if (bench_auth_files_make(&ao, &run->pol, &run->files, err, sizeof err) !=
            0 ||
        start_authd(&o, run, AUTHD_INST_DEFAULT, err, sizeof err) != 0 ||
        start_authd(&o, run, AUTHD_INST_NOCACHE, err, sizeof err) != 0 ||
        measure(&o, run, err, sizeof err) != 0) {
        goto out;
    }
    bench_host_load(run->load_end);
    bench_host_probe(&run->host);
    if (o.json) {
        bench_authd_report_json(&o, run);
    } else {
        bench_authd_report_table(&o, run);
    }
    if (bench_stdout_flush(err, sizeof err) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite authd: %s\n", err);
    }
    if (run != NULL) {
        for (int i = 0; i < AUTHD_INSTANCES; i++) {
            bench_broker_stop(&run->proc[i]);
        }
        if (run->files.root[0] != '\0') {
            if (o.keep) {
                fprintf(stderr, "secmq-bench: files kept in %s\n",
                        run->files.root);
            } else {
                bench_rmtree(run->files.root);
            }
        }
        free(run->files.pw);
        bench_auth_policy_free(&run->pol);
        free(run);
    }
    return rc;
}
