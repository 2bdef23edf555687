/*
 * bench_aclcost.c -- what one ACL check of the broker plugin costs, in
 * process: the bench's 1,000-rule policy built in memory (policy.h),
 * compiled per client as the plugin compiles it (acl.h), and
 * secmq__acl_check_topic / secmq__acl_check_filter timed in a loop; plus
 * one password check at the plugin's default argon2id cost (pwhash.h).
 * The only bench file that sees the plugin's core (secmq_authcore); no
 * broker, no database, no sockets.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BENCH_HAVE_AUTHCORE
#include <sodium.h>

#include "acl.h"
#include "policy.h"
#include "pwhash.h"

/* Client ids of the compiled ACLs (the plugin substitutes %c with them). */
#define PUB_ID "secmq-bench-1-pt-pub"
#define SUB_ID "secmq-bench-1-pt-sub"
#define COMPILE_ITERS 200

/* Keeps every result alive, so no loop can be optimised away. */
static volatile long sink;

/* One timed check: which client, which call, which argument. */
typedef struct check_spec {
    const char *what;
    int sub;         /* 0: bench-pub's ACL, 1: bench-sub's */
    int filter;      /* 1: check_filter, 0: check_topic */
    unsigned access; /* check_topic: SECMQ_ACL_READ or _WRITE */
    const char *arg;
    int expect;
} check_spec;

/* The topics are the throughput rows' ("bench/TAG/data", allowed by the
 * last of the user's rules) and some that no rule or a deny rule covers. */
static const check_spec specs[] = {
    {"check_topic write, allowed", 0, 0, SECMQ_ACL_WRITE, "bench/pt/data", 1},
    {"check_topic write, denied (no rule)", 0, 0, SECMQ_ACL_WRITE,
     "dev/042/cmd", 0},
    {"check_topic write, denied (deny rule)", 0, 0, SECMQ_ACL_WRITE,
     "bench/secret/x", 0},
    {"check_topic read, allowed", 1, 0, SECMQ_ACL_READ, "bench/pt/data", 1},
    {"check_topic read, denied (no rule)", 1, 0, SECMQ_ACL_READ,
     "fleet/007/status", 0},
    {"check_filter, allowed", 1, 1, 0, "bench/pt/data", 1},
    {"check_filter, denied (#)", 1, 1, 0, "#", 0},
    {"check_filter, denied (deny intersects)", 1, 1, 0, "bench/+/data", 0},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

static int cmp_user(const void *a, const void *b)
{
    return strcmp(((const secmq_user *)a)->name, ((const secmq_user *)b)->name);
}

/* secmq-admin's meaning of mosquitto's access words (policy.h). */
static unsigned map_access(unsigned a)
{
    unsigned r = 0;

    if (a & BENCH_AUTH_DENY) {
        return SECMQ_ACL_DENY;
    }
    if (a & BENCH_AUTH_READ) {
        r |= SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE;
    }
    if (a & BENCH_AUTH_WRITE) {
        r |= SECMQ_ACL_WRITE;
    }
    return r;
}

/* pol as the plugin would load it from the database: users sorted by name
 * (no password hashes: the ACL does not need them), rules in order with
 * ids 1..n. Returns 0, or -1 (out of memory; sp cleared). */
static int build_policy(const bench_auth_policy *pol, secmq_policy *sp)
{
    size_t i;

    memset(sp, 0, sizeof(*sp));
    sp->users = calloc(pol->nusers, sizeof(*sp->users));
    sp->rules = calloc(pol->nrules, sizeof(*sp->rules));
    if (sp->users == NULL || sp->rules == NULL) {
        goto err;
    }
    for (i = 0; i < pol->nusers; i++) {
        sp->users[i].name = dup_str(pol->users[i]);
        sp->nusers++;
        if (sp->users[i].name == NULL) {
            goto err;
        }
    }
    qsort(sp->users, sp->nusers, sizeof(*sp->users), cmp_user);
    for (i = 0; i < pol->nrules; i++) {
        secmq_rule *r = &sp->rules[i];
        const bench_auth_rule *b = &pol->rules[i];

        sp->nrules++;
        r->id = (int64_t)i + 1;
        r->kind = b->pattern ? SECMQ_RULE_PATTERN : SECMQ_RULE_USER;
        r->access = map_access(b->access);
        r->topic = dup_str(b->topic);
        if (r->topic == NULL) {
            goto err;
        }
        if (!b->pattern) {
            r->subject = dup_str(b->subject);
            if (r->subject == NULL) {
                goto err;
            }
        }
    }
    sp->pw_ops = SECMQ_PW_DEFAULT_OPS;
    sp->pw_mem = SECMQ_PW_DEFAULT_MEM;
    return 0;

err:
    secmq__policy_clear(sp);
    return -1;
}

static int run_check(const secmq_acl *a, const check_spec *s)
{
    int sig = 0;

    if (s->filter) {
        return secmq__acl_check_filter(a, s->arg);
    }
    return secmq__acl_check_topic(a, s->arg, s->access, &sig);
}

/* ns per call of spec s on a, iterations calls. */
static double time_check(const secmq_acl *a, const check_spec *s,
                         long iterations)
{
    uint64_t t0, t1;
    long i, acc = 0;
    int sig = 0;

    t0 = bench_now_ns();
    if (s->filter) {
        for (i = 0; i < iterations; i++) {
            acc += secmq__acl_check_filter(a, s->arg);
        }
    } else {
        for (i = 0; i < iterations; i++) {
            acc += secmq__acl_check_topic(a, s->arg, s->access, &sig);
        }
    }
    t1 = bench_now_ns();
    sink += acc + sig;
    return (double)(t1 - t0) / (double)iterations;
}

/* Median, min and max of v[0..n-1] (reordered). */
static void stats(double *v, int n, double *med, double *min, double *max)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    *med = v[(n - 1) / 2];
    *min = v[0];
    *max = v[n - 1];
}

/* ms per secmq__pw_verify of pw against hash, median of runs. -1 if a
 * verification fails. */
static double time_verify(const char *hash, const char *pw, int runs)
{
    double v[BENCH_MAX_REPEAT];
    double med, min, max;
    uint64_t t0;
    int i;

    runs = runs < 1 ? 1 : runs > BENCH_MAX_REPEAT ? BENCH_MAX_REPEAT : runs;
    for (i = 0; i < runs; i++) {
        t0 = bench_now_ns();
        if (secmq__pw_verify(hash, pw, strlen(pw)) != 1) {
            return -1.0;
        }
        v[i] = (double)(bench_now_ns() - t0) / 1e6;
    }
    stats(v, runs, &med, &min, &max);
    return med;
}

int bench_aclcost_run(const bench_auth_policy *pol, long iterations, int runs,
                      int pw_runs, const char *mosq_hash, const char *mosq_pw,
                      bench_aclcost_result *out, char *err, size_t errlen)
{
    static const char pw[] = "bench-password-0123456789";
    char hash[SECMQ_PW_HASH_MAX];
    double v[BENCH_MAX_REPEAT];
    double lo, hi;
    secmq_policy sp;
    secmq_acl *acl[2] = {NULL, NULL};
    secmq_acl *tmp = NULL;
    const check_spec *s;
    uint64_t t0;
    size_t k;
    int r, i, rc = -1;

    memset(out, 0, sizeof(*out));
    out->available = 1;
    out->pbkdf2_ms = -1.0;
    runs = runs < 1 ? 1 : runs > BENCH_MAX_REPEAT ? BENCH_MAX_REPEAT : runs;
    /* As the plugin does at start: without it libsodium computes argon2id
     * with its portable code, about twice as slow here. */
    if (sodium_init() < 0) {
        snprintf(err, errlen, "ACL cost: libsodium failed to start");
        return -1;
    }
    if (build_policy(pol, &sp) != 0) {
        snprintf(err, errlen, "ACL cost: out of memory");
        return -1;
    }
    out->policy_rules = sp.nrules;
    if (secmq__acl_compile(&sp, BENCH_AUTH_PUB, PUB_ID, &acl[0]) != 0 ||
        secmq__acl_compile(&sp, BENCH_AUTH_SUB, SUB_ID, &acl[1]) != 0) {
        snprintf(err, errlen, "ACL cost: secmq__acl_compile failed");
        goto done;
    }
    out->compiled_pub = secmq__acl_count(acl[0]);
    out->compiled_sub = secmq__acl_count(acl[1]);

    /* Compiling: what the plugin does for each client at connect. */
    for (r = 0; r < runs; r++) {
        t0 = bench_now_ns();
        for (i = 0; i < COMPILE_ITERS; i++) {
            if (secmq__acl_compile(&sp, BENCH_AUTH_PUB, PUB_ID, &tmp) != 0) {
                snprintf(err, errlen, "ACL cost: secmq__acl_compile failed");
                goto done;
            }
            secmq__acl_free(tmp);
            tmp = NULL;
        }
        v[r] = (double)(bench_now_ns() - t0) / 1e3 / COMPILE_ITERS;
    }
    stats(v, runs, &out->compile_us, &lo, &hi);

    for (k = 0; k < sizeof(specs) / sizeof(specs[0]) && k < BENCH_ACLCOST_MAX &&
                !bench_interrupted;
         k++) {
        bench_aclcost *it = &out->items[out->n];

        s = &specs[k];
        /* A check that does not answer as the rules say would make its
         * time meaningless: the policy or the engine is not what the
         * bench assumes. */
        if (run_check(acl[s->sub], s) != s->expect) {
            snprintf(err, errlen,
                     "ACL cost: %s %s for %s answered %s, expected %s",
                     s->filter ? "check_filter" : "check_topic", s->arg,
                     s->sub ? BENCH_AUTH_SUB : BENCH_AUTH_PUB,
                     s->expect ? "denied" : "allowed",
                     s->expect ? "allowed" : "denied");
            goto done;
        }
        (void)time_check(acl[s->sub], s, iterations / 10 + 1); /* warm */
        for (r = 0; r < runs; r++) {
            v[r] = time_check(acl[s->sub], s, iterations);
        }
        it->what = s->what;
        it->user = s->sub ? BENCH_AUTH_SUB : BENCH_AUTH_PUB;
        it->arg = s->arg;
        it->expect = s->expect;
        it->iterations = iterations;
        it->runs = runs;
        stats(v, runs, &it->ns, &it->ns_min, &it->ns_max);
        out->n++;
    }
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        goto done;
    }

    /* The password check of a login, at the plugin's default cost. */
    out->pw_ops = SECMQ_PW_DEFAULT_OPS;
    out->pw_mem = SECMQ_PW_DEFAULT_MEM;
    if (secmq__pw_hash(hash, pw, sizeof(pw) - 1, SECMQ_PW_DEFAULT_OPS,
                       SECMQ_PW_DEFAULT_MEM) != 0) {
        snprintf(err, errlen, "ACL cost: secmq__pw_hash failed");
        goto done;
    }
    out->argon2_ms = time_verify(hash, pw, pw_runs);
    if (out->argon2_ms < 0.0) {
        snprintf(err, errlen, "ACL cost: argon2id hash did not verify");
        goto done;
    }
    if (mosq_hash != NULL && mosq_pw != NULL) {
        out->pbkdf2_ms = time_verify(mosq_hash, mosq_pw, pw_runs);
        if (out->pbkdf2_ms < 0.0) {
            snprintf(err, errlen,
                     "ACL cost: mosquitto_passwd's hash did not verify");
            goto done;
        }
    }
    rc = 0;

done:
    secmq__acl_free(acl[0]);
    secmq__acl_free(acl[1]);
    secmq__policy_clear(&sp);
    return rc;
}

#else /* !BENCH_HAVE_AUTHCORE */

int bench_aclcost_run(const bench_auth_policy *pol, long iterations, int runs,
                      int pw_runs, const char *mosq_hash, const char *mosq_pw,
                      bench_aclcost_result *out, char *err, size_t errlen)
{
    (void)pol;
    (void)iterations;
    (void)runs;
    (void)pw_runs;
    (void)mosq_hash;
    (void)mosq_pw;
    (void)err;
    (void)errlen;
    memset(out, 0, sizeof(*out));
    out->pbkdf2_ms = -1.0;
    return 0;
}

#endif
