/*
 * authdb_load.c -- reading a whole auth database into a secmq_policy: the
 * users, groups, keys and rules in one read transaction, rows that break
 * the rules skipped and counted (never trusted), and the data version
 * noted so secmq__authdb_changed() can tell when to read again.
 */
#include "authdb.h"
#include "authdb_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "acl.h"
#include "pwhash.h"
#include "secmq.h"

static int rule_ok(int64_t kind, const char *subject, const char *topic,
                   int64_t access)
{
    if (kind == SECMQ_RULE_PATTERN) {
        if (subject != NULL) {
            return 0;
        }
    } else if (kind == SECMQ_RULE_USER || kind == SECMQ_RULE_GROUP) {
        if (!secmq__name_ok(subject)) {
            return 0;
        }
    } else {
        return 0;
    }
    return secmq__authdb_access_ok(access) &&
           secmq__authdb_topic_ok(topic, kind == SECMQ_RULE_PATTERN);
}

/* ---------------------------------------------------------------------- */
/* Load                                                                   */
/* ---------------------------------------------------------------------- */

static int cmp_user(const void *a, const void *b)
{
    return strcmp(((const secmq_user *)a)->name, ((const secmq_user *)b)->name);
}

static secmq_user *find_user(secmq_policy *p, const char *name)
{
    return (secmq_user *)secmq__policy_user(p, name);
}

static int parse_ull(const char *s, unsigned long long *v)
{
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno == 0 && *end == 0 ? 0 : -1;
}

/* What the row functions of load() fill: the policy, the count of rows
 * skipped, the capacity of its users and rules arrays, and the cost from
 * meta (copied into the policy once meta has been read whole). */
struct loading {
    secmq_policy *p;
    size_t skip;
    size_t ucap, rcap;
    unsigned long long ops, mem;
};

/* arr (n elements of size in use, *cap allocated) with room for one more,
 * doubling from 16; NULL when out of memory, arr then still valid. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *na;

    if (n < *cap) {
        return arr;
    }
    ncap = *cap ? *cap * 2 : 16;
    na = realloc(arr, ncap * size);
    if (na != NULL) {
        *cap = ncap;
    }
    return na;
}

/* SELECT key, value FROM meta */
static int meta_row(sqlite3_stmt *st, void *ctx)
{
    struct loading *ld = ctx;
    const char *k = secmq__authdb_col_text(st, 0),
               *v = secmq__authdb_col_text(st, 1);
    unsigned long long x;

    if (k == NULL) {
        return SQLITE_OK;
    }
    if (strcmp(k, "pw_ops") == 0) {
        if (parse_ull(v, &x) == 0 && secmq__pw_cost_ok(x, SECMQ_PW_MIN_MEM)) {
            ld->ops = x;
        } else {
            ld->skip++;
        }
    } else if (strcmp(k, "pw_mem") == 0) {
        if (parse_ull(v, &x) == 0 &&
            secmq__pw_cost_ok(SECMQ_PW_MIN_OPS, (size_t)x)) {
            ld->mem = x;
        } else {
            ld->skip++;
        }
    }
    return SQLITE_OK;
}

/* SELECT name, hash, disabled, pw_gen, relay FROM users */
static int user_row(sqlite3_stmt *st, void *ctx)
{
    struct loading *ld = ctx;
    secmq_policy *p = ld->p;
    const char *name = secmq__authdb_col_text(st, 0),
               *hash = secmq__authdb_col_text(st, 1);
    secmq_user *u;

    if (!secmq__name_ok(name) || !secmq__pw_hash_known(hash)) {
        ld->skip++;
        return SQLITE_OK;
    }
    u = grow(p->users, &ld->ucap, p->nusers, sizeof *p->users);
    if (u == NULL) {
        return SQLITE_NOMEM;
    }
    p->users = u;
    u = &p->users[p->nusers];
    memset(u, 0, sizeof *u);
    u->name = strdup(name);
    u->hash = strdup(hash);
    if (u->name == NULL || u->hash == NULL) {
        free(u->name);
        free(u->hash);
        return SQLITE_NOMEM;
    }
    u->disabled = sqlite3_column_int64(st, 2) != 0;
    u->pw_gen = sqlite3_column_int64(st, 3);
    u->relay = sqlite3_column_int64(st, 4) != 0;
    p->nusers++;
    return SQLITE_OK;
}

/* SELECT grp, user, (the group exists) FROM members; after the users. */
static int member_row(sqlite3_stmt *st, void *ctx)
{
    struct loading *ld = ctx;
    const char *grp = secmq__authdb_col_text(st, 0),
               *user = secmq__authdb_col_text(st, 1);
    secmq_user *u;
    char **ng, *copy;

    if (!secmq__name_ok(grp) || sqlite3_column_int(st, 2) == 0 ||
        (u = find_user(ld->p, user)) == NULL) {
        ld->skip++;
        return SQLITE_OK;
    }
    ng = realloc(u->groups, (u->ngroups + 1) * sizeof *ng);
    if (ng == NULL) {
        return SQLITE_NOMEM;
    }
    u->groups = ng;
    copy = strdup(grp);
    if (copy == NULL) {
        return SQLITE_NOMEM;
    }
    u->groups[u->ngroups++] = copy;
    return SQLITE_OK;
}

/* SELECT user, pk FROM keys; after the users. */
static int key_row(sqlite3_stmt *st, void *ctx)
{
    struct loading *ld = ctx;
    secmq_user *u = find_user(ld->p, secmq__authdb_col_text(st, 0));
    unsigned char(*nk)[SECMQ_SIGN_KEY_BYTES];

    if (u == NULL || sqlite3_column_type(st, 1) != SQLITE_BLOB ||
        sqlite3_column_bytes(st, 1) != SECMQ_SIGN_KEY_BYTES) {
        ld->skip++;
        return SQLITE_OK;
    }
    nk = realloc(u->keys, (u->nkeys + 1) * sizeof *nk);
    if (nk == NULL) {
        return SQLITE_NOMEM;
    }
    u->keys = nk;
    memcpy(u->keys[u->nkeys++], sqlite3_column_blob(st, 1),
           SECMQ_SIGN_KEY_BYTES);
    return SQLITE_OK;
}

/* SELECT id, kind, subject, topic, access, require_signed FROM rules */
static int rule_row(sqlite3_stmt *st, void *ctx)
{
    struct loading *ld = ctx;
    secmq_policy *p = ld->p;
    int64_t kind = sqlite3_column_int64(st, 1);
    int64_t access = sqlite3_column_int64(st, 4);
    const char *subject = secmq__authdb_col_text(st, 2),
               *topic = secmq__authdb_col_text(st, 3);
    secmq_rule *r;

    /* A subject column that is not NULL but unreadable (NUL inside)
     * must not pass as a pattern's NULL subject. */
    if (subject == NULL && sqlite3_column_type(st, 2) != SQLITE_NULL) {
        ld->skip++;
        return SQLITE_OK;
    }
    if (sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
        sqlite3_column_type(st, 4) != SQLITE_INTEGER ||
        !rule_ok(kind, subject, topic, access)) {
        ld->skip++;
        return SQLITE_OK;
    }
    r = grow(p->rules, &ld->rcap, p->nrules, sizeof *p->rules);
    if (r == NULL) {
        return SQLITE_NOMEM;
    }
    p->rules = r;
    r = &p->rules[p->nrules];
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->kind = (secmq_rule_kind)kind;
    r->access = (unsigned)access;
    r->require_signed = sqlite3_column_int64(st, 5) != 0;
    r->topic = strdup(topic);
    r->subject = subject != NULL ? strdup(subject) : NULL;
    if (r->topic == NULL || (subject != NULL && r->subject == NULL)) {
        free(r->topic);
        free(r->subject);
        return SQLITE_NOMEM;
    }
    p->nrules++;
    return SQLITE_OK;
}

/* Every table into ld->p, in an order that lets members and keys find
 * their users. */
static int load_all(secmq_authdb *db, struct loading *ld, char *err,
                    size_t errlen)
{
    int rc = secmq__authdb_each_row(db, "SELECT key, value FROM meta", NULL,
                                    "read meta", meta_row, ld, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    ld->p->pw_ops = ld->ops;
    ld->p->pw_mem = (size_t)ld->mem;
    /* A version 1 file (opened read-only, so not upgraded) has no relay
     * users. */
    rc = secmq__authdb_each_row(
        db,
        db->version >= 2 ? "SELECT name, hash, disabled, pw_gen, relay"
                           " FROM users ORDER BY name"
                         : "SELECT name, hash, disabled, pw_gen, 0"
                           " FROM users ORDER BY name",
        NULL, "read users", user_row, ld, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    /* ORDER BY uses memcmp order, which is strcmp order for these strings;
     * sorting again costs little and makes the bsearch safe regardless. */
    if (ld->p->nusers > 1) {
        qsort(ld->p->users, ld->p->nusers, sizeof *ld->p->users, cmp_user);
    }
    rc = secmq__authdb_each_row(
        db,
        "SELECT m.grp, m.user, g.name IS NOT NULL FROM members m"
        " LEFT JOIN groups g ON g.name = m.grp"
        " ORDER BY m.user, m.grp",
        NULL, "read members", member_row, ld, err, errlen);
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_each_row(
            db, "SELECT user, pk FROM keys ORDER BY user, pk", NULL,
            "read keys", key_row, ld, err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_each_row(db,
                                    "SELECT id, kind, subject, topic, access,"
                                    " require_signed FROM rules ORDER BY id",
                                    NULL, "read rules", rule_row, ld, err,
                                    errlen);
    }
    return rc;
}

int secmq__authdb_load(secmq_authdb *db, secmq_policy *out, size_t *skipped,
                       char *err, size_t errlen)
{
    struct loading ld;
    int64_t version = 0;
    int own, rc;

    if (out != NULL) {
        secmq__policy_clear(out);
    }
    if (skipped != NULL) {
        *skipped = 0;
    }
    if (db == NULL || db->db == NULL || out == NULL) {
        secmq__authdb_seterr(err, errlen, "no database");
        return SECMQ_E_INVAL;
    }
    /* One snapshot: a concurrent secmq-admin commit is seen whole or not
     * at all. Inside a caller's transaction, a savepoint. */
    own = sqlite3_get_autocommit(db->db);
    rc = secmq__authdb_exec(db, own ? "BEGIN" : "SAVEPOINT secmq_load", err,
                            errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    memset(&ld, 0, sizeof ld);
    ld.p = out;
    ld.ops = SECMQ_PW_DEFAULT_OPS;
    ld.mem = SECMQ_PW_DEFAULT_MEM;
    rc = load_all(db, &ld, err, errlen);
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_pragma_int(db, "PRAGMA data_version", &version, err,
                                      errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_exec(db, own ? "COMMIT" : "RELEASE secmq_load", err,
                                errlen);
    }
    if (rc != SECMQ_OK) {
        if (!sqlite3_get_autocommit(db->db)) {
            sqlite3_exec(db->db,
                         own ? "ROLLBACK"
                             : "ROLLBACK TO secmq_load; RELEASE secmq_load",
                         NULL, NULL, NULL);
        }
        secmq__policy_clear(out);
        return rc;
    }
    db->data_version = version;
    db->loaded = 1;
    if (skipped != NULL) {
        *skipped = ld.skip;
    }
    return SECMQ_OK;
}
