/*
 * bench_auth_files.c -- the broker suite's policy and the files that give
 * it to both brokers: 101 users and 1,000 rules, written as a mosquitto
 * password file (hashed by mosquitto_passwd) and acl file, and imported
 * into the plugin's auth database with secmq-admin. Runs those two tools;
 * starts no broker and measures nothing (bench_auth.c does).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEV_USERS 98
#define DEV_RULES 10 /* per device user */
#define TOOL_TIMEOUT_MS 60000L

/* --- the policy --------------------------------------------------------- */

static int add_rule(bench_auth_policy *pol, size_t cap, int pattern,
                    const char *subject, unsigned access, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Appends one rule; fmt makes its topic. Returns 0, or -1 (full, or the
 * topic does not fit). */
static int add_rule(bench_auth_policy *pol, size_t cap, int pattern,
                    const char *subject, unsigned access, const char *fmt, ...)
{
    bench_auth_rule *r;
    va_list ap;
    int n;

    if (pol->nrules >= cap) {
        return -1;
    }
    r = &pol->rules[pol->nrules];
    memset(r, 0, sizeof(*r));
    r->pattern = pattern;
    snprintf(r->subject, sizeof(r->subject), "%s", subject);
    r->access = access;
    va_start(ap, fmt);
    n = vsnprintf(r->topic, sizeof(r->topic), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(r->topic)) {
        return -1;
    }
    pol->nrules++;
    if (pattern) {
        pol->npatterns++;
    }
    return 0;
}

int bench_auth_policy_make(bench_auth_policy *pol)
{
    enum { R = BENCH_AUTH_READ, W = BENCH_AUTH_WRITE, D = BENCH_AUTH_DENY };
    static const char *const bench_users[3] = {BENCH_AUTH_PUB, BENCH_AUTH_SUB,
                                               BENCH_AUTH_CONN};
    /* The bench's users: the rule their traffic needs comes last, after
     * rules that do not match it (a deny rule among them), so the check
     * walks the user's rules in both brokers. Then the patterns (user ""),
     * which apply to every client: both brokers walk them too. */
    static const struct {
        const char *user;
        unsigned access;
        const char *topic;
    } bench_rules[] = {
        {BENCH_AUTH_PUB, R, "bench/cfg/#"},
        {BENCH_AUTH_PUB, W, "bench/a/x"},
        {BENCH_AUTH_PUB, W, "logs/" BENCH_AUTH_PUB "/#"},
        {BENCH_AUTH_PUB, D, "bench/secret/#"},
        {BENCH_AUTH_PUB, W, "bench/+/data"},
        {BENCH_AUTH_SUB, W, "bench/ack/#"},
        {BENCH_AUTH_SUB, R, "bench/cfg/#"},
        {BENCH_AUTH_SUB, R, "logs/" BENCH_AUTH_SUB "/#"},
        {BENCH_AUTH_SUB, D, "bench/secret/#"},
        {BENCH_AUTH_SUB, R, "bench/+/data"},
        {BENCH_AUTH_CONN, R | W, "bench/conn/#"},
        {BENCH_AUTH_CONN, R, "bench/cfg/#"},
        {BENCH_AUTH_CONN, W, "bench/a/y"},
        {BENCH_AUTH_CONN, D, "bench/secret/#"},
        {BENCH_AUTH_CONN, R, "bench/+/data"},
        {"", R | W, "clients/%u/#"},
        {"", R, "clients/%c/cmd"},
        {"", W, "status/%u"},
        {"", R, "config/%u/#"},
        {"", W, "telemetry/%u/+"},
    };
    size_t cap = DEV_USERS * DEV_RULES + 3 * 5 + 5, k;
    char u[BENCH_AUTH_NAME_BYTES];
    int i, bad = 0;

    memset(pol, 0, sizeof(*pol));
    pol->rules = calloc(cap, sizeof(*pol->rules));
    pol->users = calloc(DEV_USERS + 3, sizeof(*pol->users));
    if (pol->rules == NULL || pol->users == NULL) {
        bench_auth_policy_free(pol);
        return -1;
    }
    /* Device users: their own subtree, fleet-wide reads, a deny rule.
     * None of them is ever checked for the bench's clients: they are the
     * other 980 rules a real broker would hold. */
    for (i = 0; i < DEV_USERS; i++) {
        snprintf(u, sizeof(u), "dev%03d", i);
        memcpy(pol->users[pol->nusers++], u, sizeof(u));
        bad |= add_rule(pol, cap, 0, u, R | W, "dev/%03d/#", i);
        bad |= add_rule(pol, cap, 0, u, R, "fleet/+/status");
        bad |= add_rule(pol, cap, 0, u, W, "fleet/%03d/status", i);
        bad |= add_rule(pol, cap, 0, u, R, "fleet/%03d/config/#", i);
        bad |= add_rule(pol, cap, 0, u, W, "telemetry/%03d/+", i);
        bad |= add_rule(pol, cap, 0, u, R, "cmd/%03d", i);
        bad |= add_rule(pol, cap, 0, u, R, "broadcast/#");
        bad |= add_rule(pol, cap, 0, u, W, "logs/%03d/#", i);
        bad |= add_rule(pol, cap, 0, u, R, "site/%d/+/temp", i % 10);
        bad |= add_rule(pol, cap, 0, u, D, "dev/%03d/secret/#", i);
    }
    /* The bench's users, with the rules of bench_rules. */
    for (i = 0; i < 3; i++) {
        memcpy(pol->users[pol->nusers++], bench_users[i],
               strlen(bench_users[i]) + 1);
    }
    for (k = 0; k < sizeof(bench_rules) / sizeof(bench_rules[0]); k++) {
        bad |= add_rule(pol, cap, bench_rules[k].user[0] == '\0',
                        bench_rules[k].user, bench_rules[k].access, "%s",
                        bench_rules[k].topic);
    }
    if (bad) {
        bench_auth_policy_free(pol);
        return -1;
    }
    return 0;
}

void bench_auth_policy_free(bench_auth_policy *pol)
{
    free(pol->rules);
    free(pol->users);
    memset(pol, 0, sizeof(*pol));
}

/* --- the files both brokers get ----------------------------------------- */

/* n random bytes as 2n hex characters into out. 0, or -1. */
static int random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[BENCH_AUTH_PW_BYTES];
    ssize_t r;
    size_t i;
    int fd;

    if (n > sizeof(b)) {
        return -1;
    }
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    r = read(fd, b, n);
    close(fd);
    if (r != (ssize_t)n) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 0xfu];
    }
    out[2 * n] = '\0';
    return 0;
}

static FILE *create(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (f == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
    }
    return f;
}

static int finish(FILE *f, const char *path, char *err, size_t errlen)
{
    int bad = ferror(f);

    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

static int is_bench_user(const char *name)
{
    return strcmp(name, BENCH_AUTH_PUB) == 0 ||
           strcmp(name, BENCH_AUTH_SUB) == 0 ||
           strcmp(name, BENCH_AUTH_CONN) == 0;
}

static const char *access_word(unsigned a)
{
    if (a & BENCH_AUTH_DENY) {
        return "deny";
    }
    if ((a & BENCH_AUTH_READ) && (a & BENCH_AUTH_WRITE)) {
        return "readwrite";
    }
    return (a & BENCH_AUTH_READ) ? "read" : "write";
}

/* The acl file, in mosquitto's format: each user's rules under its
 * "user" line, the patterns at the end. */
static int write_acl(const bench_auth_policy *pol, const char *path, char *err,
                     size_t errlen)
{
    const char *cur = "";
    FILE *f = create(path, err, errlen);
    size_t i;

    if (f == NULL) {
        return -1;
    }
    fprintf(f,
            "# secmq-bench broker suite: %zu rules (%zu patterns), "
            "the same as the plugin's database\n",
            pol->nrules, pol->npatterns);
    for (i = 0; i < pol->nrules; i++) {
        const bench_auth_rule *r = &pol->rules[i];

        if (r->pattern) {
            fprintf(f, "pattern %s %s\n", access_word(r->access), r->topic);
            continue;
        }
        if (strcmp(cur, r->subject) != 0) {
            fprintf(f, "\nuser %s\n", r->subject);
            cur = r->subject;
        }
        fprintf(f, "topic %s %s\n", access_word(r->access), r->topic);
    }
    return finish(f, path, err, errlen);
}

/* Copies the lines of src whose user is not one of the bench's into dst
 * (the file secmq-admin imports). Also keeps bench-conn's hash. */
static int split_passwd(bench_auth_files *af, const char *dst, char *err,
                        size_t errlen)
{
    static const char conn[] = BENCH_AUTH_CONN ":";
    char line[512];
    char user[BENCH_AUTH_NAME_BYTES];
    FILE *in = fopen(af->passwd, "r");
    FILE *out;
    size_t n;
    int lines = 0;

    if (in == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", af->passwd,
                 strerror(errno));
        return -1;
    }
    out = create(dst, err, errlen);
    if (out == NULL) {
        fclose(in);
        return -1;
    }
    /* One line per user: a few hundred at most. */
    while (lines++ < 10000 && fgets(line, sizeof(line), in) != NULL) {
        n = strcspn(line, ":");
        if (line[n] != ':' || n >= sizeof(user)) {
            continue;
        }
        memcpy(user, line, n);
        user[n] = '\0';
        if (strncmp(line, conn, sizeof(conn) - 1) == 0) {
            snprintf(af->conn_hash, sizeof(af->conn_hash), "%.*s",
                     (int)strcspn(line + n + 1, "\r\n"), line + n + 1);
        }
        if (!is_bench_user(user)) {
            fputs(line, out);
        }
    }
    fclose(in);
    if (af->conn_hash[0] == '\0') {
        fclose(out);
        snprintf(err, errlen, "mosquitto_passwd -U left no hash for %s",
                 BENCH_AUTH_CONN);
        return -1;
    }
    return finish(out, dst, err, errlen);
}

/* Runs "admin --db DB args..." with output to root/admin.out. */
static int admin(const bench_auth_opts *o, const bench_auth_files *af,
                 const char *const *args, char *err, size_t errlen)
{
    char out[BENCH_PATH_BYTES];
    char *argv[16];
    size_t i, n = 0;

    if (bench_path_join(out, af->root, "admin.out", err, errlen) != 0) {
        return -1;
    }
    argv[n++] = (char *)o->admin;
    argv[n++] = (char *)"--db";
    argv[n++] = (char *)af->db;
    for (i = 0; args[i] != NULL && n < 15; i++) {
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    return bench_run_tool(argv, NULL, out, TOOL_TIMEOUT_MS, err, errlen);
}

/* The import must have taken every rule and every other user: reads
 * secmq-admin's "imported U users, R rules (S skipped)" line. */
static int check_import(const bench_auth_policy *pol,
                        const bench_auth_files *af, char *err, size_t errlen)
{
    char path[BENCH_PATH_BYTES];
    char line[256];
    unsigned long users = 0, rules = 0, skipped = 0;
    int lines = 0, found = 0;
    FILE *f;

    if (bench_path_join(path, af->root, "admin.out", err, errlen) != 0) {
        return -1;
    }
    f = fopen(path, "r");
    while (f != NULL && lines++ < 1000 && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "imported %lu users, %lu rules (%lu skipped)", &users,
                   &rules, &skipped) == 3) {
            found = 1;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    if (!found || users != pol->nusers - 3 || rules != pol->nrules ||
        skipped != 0) {
        snprintf(err, errlen,
                 "secmq-admin import-mosquitto: expected %zu users and %zu "
                 "rules, none skipped; %s",
                 pol->nusers - 3, pol->nrules,
                 found ? "got others (see --keep-dir)" : "no summary line");
        return -1;
    }
    return 0;
}

int bench_auth_files_make(const bench_auth_opts *o,
                          const bench_auth_policy *pol, bench_auth_files *af,
                          char *err, size_t errlen)
{
    char path[BENCH_PATH_BYTES];
    char imp[BENCH_PATH_BYTES];
    char ops[32], mem[32];
    const char *args[12] = {NULL};
    char *argv[4];
    FILE *f;
    size_t i, k;

    af->pw = calloc(pol->nusers, sizeof(*af->pw));
    if (af->pw == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < pol->nusers; i++) {
        if (random_hex(af->pw[i], BENCH_AUTH_PW_BYTES) != 0) {
            snprintf(err, errlen, "cannot read /dev/urandom");
            return -1;
        }
    }
    if (bench_path_join(af->passwd, af->root, "mosquitto.passwd", err,
                        errlen) != 0 ||
        bench_path_join(af->acl, af->root, "mosquitto.acl", err, errlen) != 0 ||
        bench_path_join(af->db, af->root, "auth.db", err, errlen) != 0 ||
        bench_path_join(imp, af->root, "import.passwd", err, errlen) != 0 ||
        bench_path_join(path, af->root, "passwd.out", err, errlen) != 0) {
        return -1;
    }
    /* Plain "user:password" lines, hashed in place by mosquitto_passwd. */
    f = create(af->passwd, err, errlen);
    if (f == NULL) {
        return -1;
    }
    for (i = 0; i < pol->nusers; i++) {
        fprintf(f, "%s:%s\n", pol->users[i], af->pw[i]);
    }
    if (finish(f, af->passwd, err, errlen) != 0) {
        return -1;
    }
    argv[0] = (char *)o->passwd_bin;
    argv[1] = (char *)"-U";
    argv[2] = af->passwd;
    argv[3] = NULL;
    if (bench_run_tool(argv, NULL, path, TOOL_TIMEOUT_MS, err, errlen) != 0 ||
        split_passwd(af, imp, err, errlen) != 0 ||
        write_acl(pol, af->acl, err, errlen) != 0) {
        return -1;
    }

    k = 0;
    args[k++] = "init";
    if (o->pw_ops > 0) {
        snprintf(ops, sizeof(ops), "%llu", o->pw_ops);
        args[k++] = "--pw-ops";
        args[k++] = ops;
    }
    if (o->pw_mem > 0) {
        snprintf(mem, sizeof(mem), "%zu", o->pw_mem);
        args[k++] = "--pw-mem";
        args[k++] = mem;
    }
    args[k] = NULL;
    if (admin(o, af, args, err, errlen) != 0) {
        return -1;
    }
    for (i = 0; i < pol->nusers; i++) {
        if (!is_bench_user(pol->users[i])) {
            continue;
        }
        if (bench_path_join(path, af->root, "user.pw", err, errlen) != 0) {
            return -1;
        }
        (void)unlink(path);
        f = create(path, err, errlen);
        if (f == NULL) {
            return -1;
        }
        fprintf(f, "%s\n", af->pw[i]);
        if (finish(f, path, err, errlen) != 0) {
            return -1;
        }
        args[0] = "user";
        args[1] = "add";
        args[2] = pol->users[i];
        args[3] = "--password-file";
        args[4] = path;
        args[5] = NULL;
        if (admin(o, af, args, err, errlen) != 0) {
            return -1;
        }
    }
    args[0] = "import-mosquitto";
    args[1] = "--passwd";
    args[2] = imp;
    args[3] = "--acl";
    args[4] = af->acl;
    args[5] = NULL;
    if (admin(o, af, args, err, errlen) != 0) {
        return -1;
    }
    return check_import(pol, af, err, errlen);
}

const char *bench_auth_password(const bench_auth_policy *pol,
                                const bench_auth_files *af, const char *name)
{
    size_t i;

    for (i = 0; i < pol->nusers; i++) {
        if (strcmp(pol->users[i], name) == 0) {
            return af->pw[i];
        }
    }
    return "";
}
