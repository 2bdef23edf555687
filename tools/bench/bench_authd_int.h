/*
 * bench_authd_int.h -- what bench_authd.c (the measurement) and
 * bench_authd_report.c (its table and JSON) share: the options, the
 * questions asked and the rows measured. Private to those two files.
 */
#ifndef SECMQ_BENCH_AUTHD_INT_H
#define SECMQ_BENCH_AUTHD_INT_H

#include "bench.h"

#define AUTHD_MAX_CONNS 64
#define AUTHD_MAX_REPEAT 9

/* The two secmq-authd processes on the one database. */
enum {
    AUTHD_INST_DEFAULT = 0, /* its defaults: login cache and guard */
    AUTHD_INST_NOCACHE = 1, /* no cache, guard relaxed: argon2id each */
    AUTHD_INSTANCES = 2
};

typedef struct authd_opts {
    double seconds; /* per row */
    int conns;      /* connections of the parallel rows */
    long count;     /* requests per row at most */
    int repeat;
    int json;
    int quick;
    int keep;
    unsigned long long pw_ops; /* 0: secmq-admin's default */
    size_t pw_mem;
    const char *authd;
    const char *admin;
    const char *passwd_bin;
} authd_opts;

/* One question RabbitMQ asks, as the bench asks it. */
typedef struct authd_question {
    const char *name; /* "user-cached", ... (stable: JSON and tests) */
    const char *path; /* "/auth/user", ... */
    int inst;         /* AUTHD_INST_* */
    int expect_allow; /* the answer the policy gives: 1 allow, 0 deny */
    const char *what; /* for the table */
} authd_question;

/* The i-th question in measuring order, or NULL past the last. */
const authd_question *bench_authd_question(size_t i);

typedef struct authd_row {
    const authd_question *q;
    int conns;
    long requests;   /* answered, each as expected */
    long reconnects; /* connections the server closed, reopened */
    double seconds;
    double per_s;
    double p50_us; /* request written .. answer read */
    double p99_us;
    double max_us;
    double cpu; /* secmq-authd's CPU in cores during the row; -1 unknown */
    int runs;   /* repetitions; this row is the median */
    double rate_min;
    double rate_max;
} authd_row;

#define AUTHD_MAX_ROWS 32

/* One run: the files, the processes, the rows. */
typedef struct authd_run {
    bench_auth_policy pol;
    bench_auth_files files;             /* files.root: the temp dir */
    bench_broker proc[AUTHD_INSTANCES]; /* only pid is used (stop, cpu) */
    int port[AUTHD_INSTANCES];
    double first_login_ms; /* the default instance's first, uncached login */
    authd_row rows[AUTHD_MAX_ROWS];
    size_t nrows;
    bench_host host;
    double load_start[3];
    double load_end[3];
} authd_run;

void bench_authd_report_table(const authd_opts *o, const authd_run *r);
void bench_authd_report_json(const authd_opts *o, const authd_run *r);

#endif /* SECMQ_BENCH_AUTHD_INT_H */
