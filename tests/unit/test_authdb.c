/*
 * test_authdb.c -- the auth database adapter (broker-plugin/authdb.c):
 * creating and refusing files, change round trips through load(), the
 * explicit cascades, change detection (another connection's commit, a
 * replaced file), rows planted by hand that load() must skip, nested
 * transactions and a disk that fills up mid-commit (through a wrapping
 * sqlite VFS). Everything lives in a mkdtemp directory, removed at exit.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authdb.h"
#include "check.h"
#include "policy.h"
#include "pwhash.h"
#include "secmq.h"

static char tmpdir[] = "/tmp/secmq-authdb-XXXXXX";
static char hash_a[SECMQ_PW_HASH_MAX]; /* argon2id of "pw-a" */
static int file_no;

/* A fresh path in tmpdir. */
static const char *newpath(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/db%d", tmpdir, ++file_no);
    return buf;
}

/* Run SQL through an independent connection (planting rows by hand). */
static int raw_sql(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        fprintf(stderr, "   raw_sql: %s\n", sqlite3_errmsg(h));
    }
    sqlite3_close(h);
    return rc;
}

/* A new database at path with default cost, opened read-write. */
static secmq_authdb *fresh(char *path, size_t cap)
{
    secmq_authdb *db = NULL;
    char err[256] = "";

    newpath(path, cap);
    if (secmq__authdb_create(path, 1, SECMQ_PW_MIN_MEM, err, sizeof err) !=
            SECMQ_OK ||
        secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err,
                           sizeof err) != SECMQ_OK) {
        fprintf(stderr, "   fresh: %s\n", err);
        return NULL;
    }
    return db;
}

static int read_file(const char *path, unsigned char *buf, size_t cap,
                     size_t *len)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return -1;
    }
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return 0;
}

static void test_create_and_open(void)
{
    char path[256], err[256] = "";
    secmq_authdb *db = NULL;
    secmq_policy p = {0};
    struct stat st;
    size_t skipped = 9;
    mode_t old = umask(0);
    int rc;

    newpath(path, sizeof path);
    rc = secmq__authdb_create(path, 2, 64u * 1024u, err, sizeof err);
    umask(old);
    CHECKF(rc == SECMQ_OK, "%s", err);
    CHECK(stat(path, &st) == 0);
    CHECK_INT_EQ(st.st_mode & 0777, 0600);
    /* Refuses an existing file, and leaves it alone. */
    CHECK_INT_EQ(secmq__authdb_create(path, 2, 64u * 1024u, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_CONTAINS(err, "exists", 0);
    CHECK_INT_EQ(secmq__authdb_create(path, 0, 64u * 1024u, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_open(&db, path, SECMQ_AUTHDB_READONLY, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, &skipped, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(skipped, 0);
    CHECK_INT_EQ(p.nusers, 0);
    CHECK_INT_EQ(p.nrules, 0);
    CHECK_INT_EQ(p.pw_ops, 2);
    CHECK_INT_EQ(p.pw_mem, 64u * 1024u);
    /* Read-only: changes are refused before sqlite is asked. */
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_E_INVAL);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    secmq__authdb_close(NULL);
    /* No journal or WAL files left behind. */
    {
        char side[300];
        snprintf(side, sizeof side, "%s-wal", path);
        CHECK(access(side, F_OK) != 0);
        snprintf(side, sizeof side, "%s-journal", path);
        CHECK(access(side, F_OK) != 0);
    }
    /* Not writable by us: read-write is refused (root may write anyway). */
    if (geteuid() != 0) {
        CHECK(chmod(path, 0400) == 0);
        CHECK_INT_EQ(secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err,
                                        sizeof err),
                     SECMQ_E_IO);
        CHECK_CONTAINS(err, "for writing", 0);
        CHECK_INT_EQ(secmq__authdb_open(&db, path, SECMQ_AUTHDB_READONLY, err,
                                        sizeof err),
                     SECMQ_OK);
        secmq__authdb_close(db);
        db = NULL;
    }
    /* A missing file is an I/O error, and open never creates it. */
    newpath(path, sizeof path);
    CHECK_INT_EQ(
        secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err, sizeof err),
        SECMQ_E_IO);
    CHECK(db == NULL);
    CHECK(access(path, F_OK) != 0);
}

/* open() of path must be SECMQ_E_CONFIG naming it, file unchanged. */
static int refused_untouched(const char *path, const char *says)
{
    static unsigned char before[65536], after[65536];
    size_t n1 = 0, n2 = 0;
    secmq_authdb *db = NULL;
    char err[256] = "";
    int rc;

    if (read_file(path, before, sizeof before, &n1) != 0) {
        return -1;
    }
    rc = secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err, sizeof err);
    if (rc != SECMQ_E_CONFIG || db != NULL || strstr(err, path) == NULL ||
        strstr(err, says) == NULL) {
        fprintf(stderr, "   open %s: rc %d: %s\n", path, rc, err);
        secmq__authdb_close(db);
        return -1;
    }
    if (read_file(path, after, sizeof after, &n2) != 0 || n1 != n2 ||
        memcmp(before, after, n1) != 0) {
        fprintf(stderr, "   %s was modified\n", path);
        return -1;
    }
    return 0;
}

static void test_refuses_foreign_files(void)
{
    char path[256];
    secmq_authdb *db;
    FILE *f;

    /* Someone else's sqlite database. */
    newpath(path, sizeof path);
    CHECK_INT_EQ(raw_sql(path, ""), SQLITE_CANTOPEN); /* not created */
    {
        sqlite3 *h;
        CHECK(sqlite3_open(path, &h) == SQLITE_OK);
        CHECK(sqlite3_exec(h,
                           "CREATE TABLE users(name TEXT, hash TEXT);"
                           "INSERT INTO users VALUES('sam', 'x')",
                           NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(h);
    }
    CHECK(refused_untouched(path, "not a secmq auth database") == 0);
    /* Not sqlite at all. */
    newpath(path, sizeof path);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("sam:$7$101$abc$def\nthis is a mosquitto password file\n", f);
    fclose(f);
    CHECK(refused_untouched(path, "not a secmq auth database") == 0);
    /* An empty file. */
    newpath(path, sizeof path);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK(refused_untouched(path, "not a secmq auth database") == 0);
    /* Ours, from a newer secmq. */
    db = fresh(path, sizeof path);
    CHECK(db != NULL);
    secmq__authdb_close(db);
    CHECK_INT_EQ(raw_sql(path, "PRAGMA user_version = 3"), SQLITE_OK);
    CHECK(refused_untouched(path, "newer") == 0);
    /* A directory. */
    snprintf(path, sizeof path, "%s", tmpdir);
    {
        char err[256] = "";
        CHECK_INT_EQ(secmq__authdb_open(&db, path, SECMQ_AUTHDB_READONLY, err,
                                        sizeof err),
                     SECMQ_E_CONFIG);
    }
}

static secmq_rule mkrule(secmq_rule_kind kind, const char *subject,
                         const char *topic, unsigned access)
{
    secmq_rule r;

    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.subject = (char *)subject;
    r.topic = (char *)topic;
    r.access = access;
    return r;
}

static void test_round_trip(void)
{
    /* Rules rule_add() refuses; says: in the message, when checked. */
    static const struct {
        secmq_rule_kind kind;
        const char *subject, *topic;
        unsigned access;
        const char *says;
    } refused[] = {
        {SECMQ_RULE_USER, "sam", "a/#/b", SECMQ_ACL_WRITE, NULL},
        {SECMQ_RULE_USER, "sam", "a+", SECMQ_ACL_WRITE, NULL},
        {SECMQ_RULE_USER, "sam", "", SECMQ_ACL_WRITE, NULL},
        {SECMQ_RULE_PATTERN, NULL, "a/%u#", SECMQ_ACL_WRITE, NULL},
        {SECMQ_RULE_PATTERN, "sam", "a", SECMQ_ACL_WRITE, NULL},
        {SECMQ_RULE_USER, "nobody", "a", SECMQ_ACL_WRITE, "no user"},
        {SECMQ_RULE_GROUP, "nogroup", "a", SECMQ_ACL_WRITE, NULL},
        {SECMQ_RULE_USER, "sam", "a", 0, NULL},
        {SECMQ_RULE_USER, "sam", "a", SECMQ_ACL_DENY | SECMQ_ACL_READ, NULL},
        {SECMQ_RULE_USER, "sam", "a", 0x10, NULL},
        {(secmq_rule_kind)7, "sam", "a", SECMQ_ACL_WRITE, NULL},
    };
    char path[256], err[256] = "";
    secmq_authdb *db = fresh(path, sizeof path);
    secmq_policy p = {0};
    const secmq_user *u;
    secmq_rule r;
    int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;
    unsigned char pk1[32], pk2[32];
    size_t skipped = 9;

    CHECK(db != NULL);
    memset(pk1, 1, sizeof pk1);
    memset(pk2, 2, sizeof pk2);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "alice", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_CONTAINS(err, "already exists", 0);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "a/#", hash_a, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "x+", hash_a, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "", hash_a, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "bob", "plain", err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "ops", err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "ops", err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "o/ps", err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_group_member(db, "ops", "alice", 1, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_group_member(db, "ops", "alice", 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_group_member(db, "ops", "nobody", 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_group_member(db, "nogroup", "sam", 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_group_member(db, "ops", "sam", 0, err, sizeof err),
        SECMQ_E_INVAL);

    r = mkrule(SECMQ_RULE_USER, "sam", "status", SECMQ_ACL_WRITE);
    r.require_signed = 1;
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, &id1, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_USER, "alice", "status",
               SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, &id2, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_GROUP, "ops", "ops/#", SECMQ_ACL_DENY);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, &id3, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_PATTERN, NULL, "users/%u/+/%c", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, &id4, err, sizeof err),
                 SECMQ_OK);
    CHECK(id1 < id2 && id2 < id3 && id3 < id4);
    /* Duplicates, patterns included (NULL subjects). */
    r = mkrule(SECMQ_RULE_USER, "alice", "status",
               SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_E_INVAL);
    {
        char want[64];
        snprintf(want, sizeof want, "rule exists (id %lld)", (long long)id2);
        CHECK_STR_EQ(err, want);
    }
    r = mkrule(SECMQ_RULE_PATTERN, NULL, "users/%u/+/%c", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_CONTAINS(err, "rule exists", 0);
    /* Refusals: bad topics, subjects, access. */
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = mkrule(refused[i].kind, refused[i].subject, refused[i].topic,
                   refused[i].access);
        CHECKF(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err) ==
                   SECMQ_E_INVAL,
               "refused[%zu]", i);
        if (refused[i].says != NULL) {
            CHECK_CONTAINS(err, refused[i].says, 0);
        }
    }
    /* Keys. */
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "sam", pk2, "sam-pi", 1, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "sam", pk1, NULL, 1, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "sam", pk1, NULL, 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "nobody", pk1, NULL, 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "alice", pk1, NULL, 0, err, sizeof err),
        SECMQ_E_INVAL);
    /* Passwords and flags. */
    CHECK_INT_EQ(
        secmq__authdb_user_set_hash(db, "alice", hash_a, 1, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_user_set_hash(db, "sam", hash_a, 0, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_user_set_hash(db, "nobody", hash_a, 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_user_set_disabled(db, "sam", 1, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_user_set_disabled(db, "nobody", 1, err, sizeof err),
        SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_set_cost(db, 4, 1024u * 1024u, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_set_cost(db, 0, 1024u * 1024u, err, sizeof err),
                 SECMQ_E_INVAL);

    CHECK_INT_EQ(secmq__authdb_load(db, &p, &skipped, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(skipped, 0);
    CHECK_INT_EQ(p.pw_ops, 4);
    CHECK_INT_EQ(p.pw_mem, 1024u * 1024u);
    CHECK_INT_EQ(p.nusers, 2);
    CHECK_STR_EQ(p.users[0].name, "alice"); /* sorted */
    CHECK_STR_EQ(p.users[1].name, "sam");
    u = secmq__policy_user(&p, "alice");
    CHECK(u != NULL);
    CHECK_INT_EQ(u->pw_gen, 2);
    CHECK_INT_EQ(u->disabled, 0);
    CHECK_INT_EQ(u->ngroups, 1);
    CHECK_STR_EQ(u->groups[0], "ops");
    CHECK_STR_EQ(u->hash, hash_a);
    u = secmq__policy_user(&p, "sam");
    CHECK(u != NULL);
    CHECK_INT_EQ(u->pw_gen, 1);
    CHECK_INT_EQ(u->disabled, 1);
    CHECK_INT_EQ(u->ngroups, 0);
    CHECK_INT_EQ(u->nkeys, 2);
    CHECK(memcmp(u->keys[0], pk1, 32) == 0); /* sorted by pk */
    CHECK(memcmp(u->keys[1], pk2, 32) == 0);
    CHECK_INT_EQ(p.nrules, 4);
    CHECK_INT_EQ(p.rules[0].id, id1);
    CHECK_INT_EQ(p.rules[0].kind, SECMQ_RULE_USER);
    CHECK_STR_EQ(p.rules[0].subject, "sam");
    CHECK_STR_EQ(p.rules[0].topic, "status");
    CHECK_INT_EQ(p.rules[0].access, SECMQ_ACL_WRITE);
    CHECK_INT_EQ(p.rules[0].require_signed, 1);
    CHECK_INT_EQ(p.rules[1].require_signed, 0);
    CHECK_INT_EQ(p.rules[2].kind, SECMQ_RULE_GROUP);
    CHECK_INT_EQ(p.rules[2].access, SECMQ_ACL_DENY);
    CHECK_INT_EQ(p.rules[3].kind, SECMQ_RULE_PATTERN);
    CHECK(p.rules[3].subject == NULL);
    CHECK_STR_EQ(p.rules[3].topic, "users/%u/+/%c");
    secmq__policy_clear(&p);

    /* Deleting: a rule, a key, a membership. */
    CHECK_INT_EQ(secmq__authdb_rule_del(db, id2, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_rule_del(db, id2, err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "sam", pk1, NULL, 0, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_group_member(db, "ops", "alice", 0, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(p.nrules, 3);
    CHECK_INT_EQ(secmq__policy_user(&p, "sam")->nkeys, 1);
    CHECK(memcmp(secmq__policy_user(&p, "sam")->keys[0], pk2, 32) == 0);
    CHECK_INT_EQ(secmq__policy_user(&p, "alice")->ngroups, 0);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
}

struct keyrow {
    int n;
    char label[64];
};

static void count_key(void *arg, const char *user, const unsigned char *pk,
                      const char *label)
{
    struct keyrow *k = arg;

    (void)user;
    (void)pk;
    k->n++;
    snprintf(k->label, sizeof k->label, "%s", label ? label : "(null)");
}

static void count_group(void *arg, const char *group)
{
    (void)group;
    (*(int *)arg)++;
}

static void test_cascades(void)
{
    char path[256], err[256] = "";
    secmq_authdb *db = fresh(path, sizeof path);
    secmq_policy p = {0};
    secmq_rule r;
    unsigned char pk[32];
    struct keyrow k = {0, ""};
    int groups = 0;

    CHECK(db != NULL);
    memset(pk, 7, sizeof pk);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "bob", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "g", err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "empty", err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_member(db, "g", "sam", 1, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_member(db, "g", "bob", 1, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_key_set(db, "sam", pk, "sam-key", 1, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(
        secmq__authdb_key_list(db, "sam", count_key, &k, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(k.n, 1);
    CHECK_STR_EQ(k.label, "sam-key");
    CHECK_INT_EQ(
        secmq__authdb_group_list(db, count_group, &groups, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(groups, 2); /* the empty group too */
    r = mkrule(SECMQ_RULE_USER, "sam", "s", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_USER, "bob", "b", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_GROUP, "g", "g", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_PATTERN, NULL, "p/%u", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_OK);

    CHECK_INT_EQ(secmq__authdb_user_del(db, "sam", err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_del(db, "sam", err, sizeof err),
                 SECMQ_E_INVAL);
    /* Same name again: nothing of the old sam comes back. */
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__policy_user(&p, "sam")->ngroups, 0);
    CHECK_INT_EQ(secmq__policy_user(&p, "sam")->nkeys, 0);
    CHECK_INT_EQ(secmq__policy_user(&p, "bob")->ngroups, 1);
    CHECK_INT_EQ(p.nrules, 3); /* bob's, g's, the pattern */
    CHECK_STR_EQ(p.rules[0].subject, "bob");
    secmq__policy_clear(&p);
    k.n = 0;
    CHECK_INT_EQ(
        secmq__authdb_key_list(db, NULL, count_key, &k, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(k.n, 0);

    CHECK_INT_EQ(secmq__authdb_group_del(db, "g", err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_del(db, "g", err, sizeof err),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "g", err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__policy_user(&p, "bob")->ngroups, 0);
    CHECK_INT_EQ(p.nrules, 2); /* bob's and the pattern */
    CHECK_INT_EQ(p.rules[1].kind, SECMQ_RULE_PATTERN);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
}

static void test_changed(void)
{
    char path[256], other[256], err[256] = "";
    secmq_authdb *a = fresh(path, sizeof path), *b = NULL;
    secmq_policy p = {0};

    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 1); /* no load */
    CHECK_INT_EQ(secmq__authdb_load(a, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 0);
    /* Its own commits do not count. */
    CHECK_INT_EQ(secmq__authdb_user_add(a, "own", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 0);
    /* Another connection's commit does. */
    CHECK_INT_EQ(
        secmq__authdb_open(&b, path, SECMQ_AUTHDB_READWRITE, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(b, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    secmq__authdb_close(b);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 1);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 1); /* sticky */
    CHECK_INT_EQ(secmq__authdb_load(a, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK(secmq__policy_user(&p, "sam") != NULL);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 0);
    /* A new file renamed over the path (what an editor or a restore does). */
    b = fresh(other, sizeof other);
    CHECK(b != NULL);
    CHECK_INT_EQ(secmq__authdb_user_add(b, "newcomer", hash_a, err, sizeof err),
                 SECMQ_OK);
    secmq__authdb_close(b);
    CHECK(rename(other, path) == 0);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 1);
    /* The caller reopens, as authdb.h says, and sees the new file. */
    secmq__authdb_close(a);
    CHECK_INT_EQ(
        secmq__authdb_open(&a, path, SECMQ_AUTHDB_READONLY, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(a, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK(secmq__policy_user(&p, "newcomer") != NULL);
    CHECK(secmq__policy_user(&p, "sam") == NULL);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), 0);
    /* Gone: an error, not a change (nothing to reload yet). */
    CHECK(unlink(path) == 0);
    CHECK_INT_EQ(secmq__authdb_changed(a, err, sizeof err), SECMQ_E_IO);
    secmq__policy_clear(&p);
    secmq__authdb_close(a);
}

static void test_invalid_rows_skipped(void)
{
    char path[256], sql[2048], err[256] = "";
    secmq_authdb *db = fresh(path, sizeof path);
    secmq_policy p = {0};
    size_t skipped = 0;

    CHECK(db != NULL);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_add(db, "g", err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_group_member(db, "g", "sam", 1, err, sizeof err),
                 SECMQ_OK);
    snprintf(
        sql, sizeof sql,
        /* users: bad names (wildcards, a NUL inside), unknown hash */
        "INSERT INTO users VALUES('a/#', '%s', 0, 1, 0, 0, 0);"
        "INSERT INTO users VALUES('x+', '%s', 0, 1, 0, 0, 1);"
        "INSERT INTO users VALUES(CAST(X'73616d0078' AS TEXT), '%s', 0, 1, 0,"
        " 0, 0);"
        "INSERT INTO users VALUES('plain', 'secret', 0, 1, 0, 0, 0);"
        /* members: unknown group, unknown user */
        "INSERT INTO members VALUES('nogroup', 'sam');"
        "INSERT INTO members VALUES('g', 'nobody');"
        /* keys: not a blob, unknown user */
        "INSERT INTO keys VALUES('sam', '0123456789abcdef0123456789abcdef',"
        " NULL);"
        "INSERT INTO keys VALUES('nobody', zeroblob(32), NULL);"
        /* rules: bad topic, bad kind, pattern with a subject, user rule
         * without one, bad access bits, deny mixed with allow, a pattern
         * that is no filter once substituted, a subject with a NUL */
        "INSERT INTO rules(kind, subject, topic, access) VALUES(0, 'sam',"
        " 'a/#/b', 2);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(5, 'sam',"
        " 'a', 2);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(2, 'sam',"
        " 'a', 2);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(0, NULL,"
        " 'a', 2);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(0, 'sam',"
        " 'a', 0);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(0, 'sam',"
        " 'b', 9);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(2, NULL,"
        " 'a/%%u#', 2);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(1,"
        " CAST(X'670078' AS TEXT), 'a', 2);"
        "INSERT INTO rules(kind, subject, topic, access) VALUES(0, 'sam',"
        " 'c', 'write');"
        /* and one good rule planted by hand */
        "INSERT INTO rules(kind, subject, topic, access) VALUES(0, 'sam',"
        " 'good', 2);",
        hash_a, hash_a, hash_a);
    CHECK_INT_EQ(raw_sql(path, sql), SQLITE_OK);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, &skipped, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(skipped, 4 + 2 + 2 + 9);
    CHECK_INT_EQ(p.nusers, 1);
    CHECK_STR_EQ(p.users[0].name, "sam");
    CHECK_INT_EQ(p.users[0].ngroups, 1);
    CHECK_INT_EQ(p.users[0].nkeys, 0);
    CHECK_INT_EQ(p.nrules, 1);
    CHECK_STR_EQ(p.rules[0].topic, "good");
    /* A broken cost in meta falls back to the defaults, counted. */
    CHECK_INT_EQ(raw_sql(path, "UPDATE meta SET value = 'lots' WHERE key ="
                               " 'pw_ops'"),
                 SQLITE_OK);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, &skipped, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(skipped, 4 + 2 + 2 + 9 + 1);
    CHECK_INT_EQ(p.pw_ops, SECMQ_PW_DEFAULT_OPS);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
}

static void test_transactions(void)
{
    char path[256], err[256] = "";
    secmq_authdb *db = fresh(path, sizeof path), *other = NULL;
    secmq_policy p = {0};
    secmq_rule r;

    CHECK(db != NULL);
    /* One transaction; a failed change inside is undone alone. */
    CHECK_INT_EQ(secmq__authdb_begin(db, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_begin(db, err, sizeof err), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_E_INVAL);
    r = mkrule(SECMQ_RULE_USER, "sam", "status", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_E_INVAL);
    /* Inside, load sees the uncommitted changes; outside, nobody does. */
    CHECK_INT_EQ(secmq__authdb_load(db, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(p.nusers, 1);
    CHECK_INT_EQ(secmq__authdb_open(&other, path, SECMQ_AUTHDB_READONLY, err,
                                    sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(other, &p, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(p.nusers, 0);
    CHECK_INT_EQ(secmq__authdb_commit(db, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_load(other, &p, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(p.nusers, 1);
    CHECK_INT_EQ(p.nrules, 1);
    /* Rolled back: nothing. */
    CHECK_INT_EQ(secmq__authdb_begin(db, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "alice", hash_a, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_del(db, "sam", err, sizeof err), SECMQ_OK);
    secmq__authdb_rollback(db);
    secmq__authdb_rollback(db); /* no transaction: a no-op */
    CHECK_INT_EQ(secmq__authdb_commit(db, err, sizeof err), SECMQ_E_IO);
    CHECK_INT_EQ(secmq__authdb_load(other, &p, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(p.nusers, 1);
    CHECK_STR_EQ(p.users[0].name, "sam");
    CHECK_INT_EQ(p.nrules, 1);
    secmq__policy_clear(&p);
    secmq__authdb_close(other);
    secmq__authdb_close(db);
}

/* --- a disk that fills up: a VFS wrapping the default one --------------- */

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
} shim_file;

static sqlite3_vfs *orig_vfs;
static sqlite3_vfs shim_vfs;
static int disk_full;

#define REAL(f) (((shim_file *)(f))->real)

static int s_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int s_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int s_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (disk_full) {
        return SQLITE_FULL;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int s_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int s_sync(sqlite3_file *f, int flags)
{
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int s_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int s_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int s_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int s_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int s_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int s_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int s_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* Version 1 methods: no shared memory (no WAL) and no mmap, which a
 * rollback-journal database does not need. */
static const sqlite3_io_methods shim_io = {
    .iVersion = 1,
    .xClose = s_close,
    .xRead = s_read,
    .xWrite = s_write,
    .xTruncate = s_truncate,
    .xSync = s_sync,
    .xFileSize = s_size,
    .xLock = s_lock,
    .xUnlock = s_unlock,
    .xCheckReservedLock = s_reserved,
    .xFileControl = s_fcntl,
    .xSectorSize = s_sector,
    .xDeviceCharacteristics = s_devchar,
};

static int s_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                  int flags, int *out_flags)
{
    shim_file *s = (shim_file *)f;
    int rc;

    (void)vfs;
    s->real = (sqlite3_file *)(s + 1);
    rc = orig_vfs->xOpen(orig_vfs, name, s->real, flags, out_flags);
    s->base.pMethods = rc == SQLITE_OK ? &shim_io : NULL;
    return rc;
}

static void test_disk_full(void)
{
    char path[256], err[256] = "";
    secmq_authdb *db;
    secmq_policy p = {0};
    secmq_rule r;
    int rc;

    orig_vfs = sqlite3_vfs_find(NULL);
    CHECK(orig_vfs != NULL);
    shim_vfs = *orig_vfs;
    shim_vfs.zName = "secmq-test-full";
    shim_vfs.szOsFile = (int)sizeof(shim_file) + orig_vfs->szOsFile;
    shim_vfs.xOpen = s_open;
    CHECK(sqlite3_vfs_register(&shim_vfs, 1) == SQLITE_OK);

    db = fresh(path, sizeof path);
    CHECK(db != NULL);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "sam", hash_a, err, sizeof err),
                 SECMQ_OK);
    disk_full = 1;
    rc = secmq__authdb_user_add(db, "alice", hash_a, err, sizeof err);
    disk_full = 0;
    CHECK_INT_EQ(rc, SECMQ_E_IO);
    CHECK_CONTAINS(err, "disk full", 0);
    /* Several changes in one transaction: none of them lands. */
    CHECK_INT_EQ(secmq__authdb_begin(db, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(secmq__authdb_user_add(db, "bob", hash_a, err, sizeof err),
                 SECMQ_OK);
    r = mkrule(SECMQ_RULE_USER, "sam", "status", SECMQ_ACL_WRITE);
    CHECK_INT_EQ(secmq__authdb_rule_add(db, &r, NULL, err, sizeof err),
                 SECMQ_OK);
    disk_full = 1;
    rc = secmq__authdb_commit(db, err, sizeof err);
    disk_full = 0;
    CHECK_INT_EQ(rc, SECMQ_E_IO);
    CHECK_CONTAINS(err, "disk full", 0);
    CHECK_INT_EQ(secmq__authdb_load(db, &p, NULL, err, sizeof err), SECMQ_OK);
    CHECK_INT_EQ(p.nusers, 1);
    CHECK_STR_EQ(p.users[0].name, "sam");
    CHECK_INT_EQ(p.nrules, 0);
    /* And the database still works afterwards. */
    CHECK_INT_EQ(secmq__authdb_user_add(db, "alice", hash_a, err, sizeof err),
                 SECMQ_OK);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    sqlite3_vfs_unregister(&shim_vfs);
}

static void cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    if (secmq__pw_hash(hash_a, "pw-a", 4, 1, SECMQ_PW_MIN_MEM) != 0) {
        return 1;
    }
    RUN(test_create_and_open);
    RUN(test_refuses_foreign_files);
    RUN(test_round_trip);
    RUN(test_cascades);
    RUN(test_changed);
    RUN(test_invalid_rows_skipped);
    RUN(test_transactions);
    RUN(test_disk_full);
    cleanup();
    return check_exit();
}
