/*
 * authdb_change.c -- the changes to the auth database (users, groups,
 * memberships, rules, signing keys, password cost), each one transaction,
 * and the listings the policy does not carry. With authdb.c, the only code
 * of broker-plugin/ and tools/admin/ that sees sqlite. Not for opening or
 * loading the file (authdb.c) or what the rules mean (policy.c, acl.c).
 */
#include "authdb.h"
#include "authdb_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "pwhash.h"
#include "secmq.h"

#define LABEL_MAX SECMQ_AUTH_NAME_MAX

/* A name for messages: control bytes shown as '?', at most 64 bytes. */
struct qname {
    char s[72];
};

static struct qname q(const char *name)
{
    struct qname out;
    size_t i;

    if (name == NULL) {
        name = "(null)";
    }
    for (i = 0; name[i] != 0 && i < 64; i++) {
        unsigned char c = (unsigned char)name[i];
        out.s[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    if (name[i] != 0) {
        memcpy(out.s + i, "...", 3);
        i += 3;
    }
    out.s[i] = 0;
    return out;
}

/* ---------------------------------------------------------------------- */
/* Changes                                                                */
/* ---------------------------------------------------------------------- */

/* Bind the parameters, then step once. Returns 1 when a row came back
 * (its first column in *row_int, may be NULL), 0 when none did, or a
 * negative SECMQ_E_*. fmt, one letter per argument: 't' text, 'i' int64,
 * 'b' 32-byte blob, 'n' NULL (the argument is ignored). */
static int run(secmq_authdb *db, const char *sql, int64_t *row_int, char *err,
               size_t errlen, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc = secmq__authdb_prepare(db, sql, &st, err, errlen), i;

    if (rc != SECMQ_OK) {
        return rc;
    }
    va_start(ap, fmt);
    for (i = 0; fmt[i] != 0 && rc == SECMQ_OK; i++) {
        int r;
        switch (fmt[i]) {
        case 't':
            r = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
                                  SQLITE_TRANSIENT);
            break;
        case 'i':
            r = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        case 'b':
            r = sqlite3_bind_blob(st, i + 1, va_arg(ap, const void *),
                                  SECMQ_SIGN_KEY_BYTES, SQLITE_TRANSIENT);
            break;
        default: /* 'n': the argument (a NULL pointer) is skipped */
            (void)va_arg(ap, const void *);
            r = sqlite3_bind_null(st, i + 1);
            break;
        }
        if (r != SQLITE_OK) {
            rc = secmq__authdb_sqlerr(db, r, "bind", err, errlen);
        }
    }
    va_end(ap);
    if (rc == SECMQ_OK) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            if (row_int != NULL) {
                *row_int = sqlite3_column_int64(st, 0);
            }
            rc = 1;
        } else if (r == SQLITE_DONE) {
            rc = 0;
        } else {
            rc = secmq__authdb_sqlerr(db, r, "write", err, errlen);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* The rows a change names, users and groups, and how to delete one with
 * what points at it: del_sql[0] deletes the row, the rest (explicit: no
 * foreign keys in the schema) what names it; each takes the name. */
struct named {
    const char *what; /* "user", "group": for messages */
    const char *exists_sql;
    const char *del_sql[4]; /* NULL-terminated */
    secmq_rule_kind rule_kind;
};

static const struct named user_rows = {
    "user",
    "SELECT 1 FROM users WHERE name = ?",
    {"DELETE FROM users WHERE name = ?", "DELETE FROM members WHERE user = ?",
     "DELETE FROM keys WHERE user = ?", NULL},
    SECMQ_RULE_USER};

static const struct named group_rows = {"group",
                                        "SELECT 1 FROM groups WHERE name = ?",
                                        {"DELETE FROM groups WHERE name = ?",
                                         "DELETE FROM members WHERE grp = ?",
                                         NULL, NULL},
                                        SECMQ_RULE_GROUP};

enum { ABSENT = 0, PRESENT = 1 };

/* SECMQ_OK when the user or group name is PRESENT or ABSENT as want says,
 * else SECMQ_E_INVAL ("no user 'x'", "user 'x' already exists") or the
 * error of the query. */
static int expect(secmq_authdb *db, const struct named *n, const char *name,
                  int want, char *err, size_t errlen)
{
    int rc = run(db, n->exists_sql, NULL, err, errlen, "t", name);

    if (rc < 0) {
        return rc;
    }
    if (rc == want) {
        return SECMQ_OK;
    }
    if (want == PRESENT) {
        secmq__authdb_seterr(err, errlen, "no %s '%s'", n->what, q(name).s);
    } else {
        secmq__authdb_seterr(err, errlen, "%s '%s' already exists", n->what,
                             q(name).s);
    }
    return SECMQ_E_INVAL;
}

/* rc of a change that had to touch a row of n named name: SECMQ_E_INVAL
 * ("no user 'x'") when it succeeded but changed nothing, else rc. */
static int must_change(secmq_authdb *db, int rc, const struct named *n,
                       const char *name, char *err, size_t errlen)
{
    if (rc == 0 && sqlite3_changes(db->db) == 0) {
        secmq__authdb_seterr(err, errlen, "no %s '%s'", n->what, q(name).s);
        return SECMQ_E_INVAL;
    }
    return rc;
}

/* Delete the user or group name and everything that names it, as one
 * change. */
static int del_named(secmq_authdb *db, const struct named *n, const char *name,
                     char *err, size_t errlen)
{
    int own, rc, i;

    if (name == NULL) {
        secmq__authdb_seterr(err, errlen, "no %s name", n->what);
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = run(db, n->del_sql[0], NULL, err, errlen, "t", name);
    rc = must_change(db, rc, n, name, err, errlen);
    for (i = 1; n->del_sql[i] != NULL && rc == 0; i++) {
        rc = run(db, n->del_sql[i], NULL, err, errlen, "t", name);
    }
    if (rc == 0) {
        rc = run(db, "DELETE FROM rules WHERE kind = ? AND subject = ?", NULL,
                 err, errlen, "it", (int64_t)n->rule_kind, name);
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_user_add(secmq_authdb *db, const char *name, const char *hash,
                           char *err, size_t errlen)
{
    int own, rc;

    if (!secmq__name_ok(name)) {
        secmq__authdb_seterr(err, errlen, "invalid user name '%s'", q(name).s);
        return SECMQ_E_INVAL;
    }
    if (!secmq__pw_hash_known(hash)) {
        secmq__authdb_seterr(err, errlen,
                             "unknown password hash format for user '%s'",
                             q(name).s);
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = expect(db, &user_rows, name, ABSENT, err, errlen);
    if (rc == 0) {
        int64_t now = (int64_t)time(NULL);
        rc = run(db,
                 "INSERT INTO users(name, hash, disabled, pw_gen, created,"
                 " changed) VALUES(?, ?, 0, 1, ?, ?)",
                 NULL, err, errlen, "ttii", name, hash, now, now);
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_user_set_hash(secmq_authdb *db, const char *name,
                                const char *hash, int new_password, char *err,
                                size_t errlen)
{
    int own, rc;

    if (!secmq__pw_hash_known(hash)) {
        secmq__authdb_seterr(err, errlen, "unknown password hash format");
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = run(db,
             "UPDATE users SET hash = ?, pw_gen = pw_gen + ?, changed = ?"
             " WHERE name = ?",
             NULL, err, errlen, "tiit", hash, (int64_t)(new_password ? 1 : 0),
             (int64_t)time(NULL), name != NULL ? name : "");
    rc = must_change(db, rc, &user_rows, name, err, errlen);
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_user_del(secmq_authdb *db, const char *name, char *err,
                           size_t errlen)
{
    return del_named(db, &user_rows, name, err, errlen);
}

/* users.<column> (disabled or relay: a constant, never input) = on. */
static int set_user_flag(secmq_authdb *db, const char *name, const char *sql,
                         int on, char *err, size_t errlen)
{
    int own, rc;

    if (name == NULL) {
        secmq__authdb_seterr(err, errlen, "no user name");
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = run(db, sql, NULL, err, errlen, "iit", (int64_t)(on ? 1 : 0),
             (int64_t)time(NULL), name);
    rc = must_change(db, rc, &user_rows, name, err, errlen);
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_user_set_disabled(secmq_authdb *db, const char *name,
                                    int disabled, char *err, size_t errlen)
{
    return set_user_flag(
        db, name, "UPDATE users SET disabled = ?, changed = ? WHERE name = ?",
        disabled, err, errlen);
}

int secmq__authdb_user_set_relay(secmq_authdb *db, const char *name, int relay,
                                 char *err, size_t errlen)
{
    return set_user_flag(
        db, name, "UPDATE users SET relay = ?, changed = ? WHERE name = ?",
        relay, err, errlen);
}

int secmq__authdb_group_add(secmq_authdb *db, const char *name, char *err,
                            size_t errlen)
{
    int own, rc;

    if (!secmq__name_ok(name)) {
        secmq__authdb_seterr(err, errlen, "invalid group name '%s'", q(name).s);
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = expect(db, &group_rows, name, ABSENT, err, errlen);
    if (rc == 0) {
        rc = run(db, "INSERT INTO groups(name) VALUES(?)", NULL, err, errlen,
                 "t", name);
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_group_del(secmq_authdb *db, const char *name, char *err,
                            size_t errlen)
{
    return del_named(db, &group_rows, name, err, errlen);
}

int secmq__authdb_group_member(secmq_authdb *db, const char *group,
                               const char *user, int add, char *err,
                               size_t errlen)
{
    int own, rc;

    if (group == NULL || user == NULL) {
        secmq__authdb_seterr(err, errlen, "no group or user name");
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = expect(db, &group_rows, group, PRESENT, err, errlen);
    if (rc == 0) {
        rc = expect(db, &user_rows, user, PRESENT, err, errlen);
    }
    if (rc == 0 && add) {
        rc = run(db, "SELECT 1 FROM members WHERE grp = ? AND user = ?", NULL,
                 err, errlen, "tt", group, user);
        if (rc == 1) {
            secmq__authdb_seterr(err, errlen,
                                 "'%s' is already a member of '%s'", q(user).s,
                                 q(group).s);
            rc = SECMQ_E_INVAL;
        } else if (rc == 0) {
            rc = run(db, "INSERT INTO members(grp, user) VALUES(?, ?)", NULL,
                     err, errlen, "tt", group, user);
        }
    } else if (rc == 0) {
        rc = run(db, "DELETE FROM members WHERE grp = ? AND user = ?", NULL,
                 err, errlen, "tt", group, user);
        if (rc == 0 && sqlite3_changes(db->db) == 0) {
            secmq__authdb_seterr(err, errlen, "'%s' is not a member of '%s'",
                                 q(user).s, q(group).s);
            rc = SECMQ_E_INVAL;
        }
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_rule_add(secmq_authdb *db, const secmq_rule *r, int64_t *id,
                           char *err, size_t errlen)
{
    int64_t found = 0;
    int own, rc;

    if (r == NULL) {
        secmq__authdb_seterr(err, errlen, "no rule");
        return SECMQ_E_INVAL;
    }
    if (r->kind == SECMQ_RULE_PATTERN ? r->subject != NULL
                                      : !secmq__name_ok(r->subject)) {
        secmq__authdb_seterr(err, errlen,
                             r->kind == SECMQ_RULE_PATTERN
                                 ? "a pattern rule has no subject"
                                 : "invalid name '%s'",
                             q(r->subject).s);
        return SECMQ_E_INVAL;
    }
    if (r->kind != SECMQ_RULE_USER && r->kind != SECMQ_RULE_GROUP &&
        r->kind != SECMQ_RULE_PATTERN) {
        secmq__authdb_seterr(err, errlen, "bad rule kind %d", (int)r->kind);
        return SECMQ_E_INVAL;
    }
    if (!secmq__authdb_access_ok((int64_t)r->access)) {
        secmq__authdb_seterr(
            err, errlen,
            "bad access 0x%x (deny alone, or read/write/subscribe)", r->access);
        return SECMQ_E_INVAL;
    }
    if (!secmq__authdb_topic_ok(r->topic, r->kind == SECMQ_RULE_PATTERN)) {
        secmq__authdb_seterr(err, errlen, "invalid topic filter '%s'",
                             q(r->topic).s);
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (r->kind != SECMQ_RULE_PATTERN) {
        rc = expect(db, r->kind == SECMQ_RULE_USER ? &user_rows : &group_rows,
                    r->subject, PRESENT, err, errlen);
    }
    if (rc == 0) {
        /* "IS": the UNIQUE constraint treats NULL subjects (patterns) as
         * all different, this finds their duplicates too. */
        rc = run(db,
                 "SELECT id FROM rules WHERE kind = ? AND subject IS ?"
                 " AND topic = ? AND access = ?",
                 &found, err, errlen, r->subject != NULL ? "itti" : "inti",
                 (int64_t)r->kind,
                 r->subject != NULL ? r->subject : (const char *)NULL, r->topic,
                 (int64_t)r->access);
        if (rc == 1) {
            secmq__authdb_seterr(err, errlen, "rule exists (id %" PRId64 ")",
                                 found);
            rc = SECMQ_E_INVAL;
        }
    }
    if (rc == 0) {
        rc = run(db,
                 "INSERT INTO rules(kind, subject, topic, access,"
                 " require_signed) VALUES(?, ?, ?, ?, ?)",
                 NULL, err, errlen, r->subject != NULL ? "ittii" : "intii",
                 (int64_t)r->kind,
                 r->subject != NULL ? r->subject : (const char *)NULL, r->topic,
                 (int64_t)r->access, (int64_t)(r->require_signed ? 1 : 0));
        if (rc == 0 && id != NULL) {
            *id = sqlite3_last_insert_rowid(db->db);
        }
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_rule_del(secmq_authdb *db, int64_t id, char *err,
                           size_t errlen)
{
    int own, rc = secmq__authdb_tx_begin(db, &own, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = run(db, "DELETE FROM rules WHERE id = ?", NULL, err, errlen, "i", id);
    if (rc == 0 && sqlite3_changes(db->db) == 0) {
        secmq__authdb_seterr(err, errlen, "no rule with id %" PRId64, id);
        rc = SECMQ_E_INVAL;
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_key_set(secmq_authdb *db, const char *user,
                          const unsigned char pk[SECMQ_SIGN_KEY_BYTES],
                          const char *label, int add, char *err, size_t errlen)
{
    int own, rc;

    if (user == NULL || pk == NULL) {
        secmq__authdb_seterr(err, errlen, "no user or key");
        return SECMQ_E_INVAL;
    }
    if (label != NULL && strlen(label) > LABEL_MAX) {
        secmq__authdb_seterr(err, errlen, "key label longer than %d bytes",
                             LABEL_MAX);
        return SECMQ_E_INVAL;
    }
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = expect(db, &user_rows, user, PRESENT, err, errlen);
    if (rc == 0) {
        rc = run(db, "SELECT 1 FROM keys WHERE user = ? AND pk = ?", NULL, err,
                 errlen, "tb", user, pk);
        if (add && rc == 1) {
            secmq__authdb_seterr(err, errlen,
                                 "that key is already registered for '%s'",
                                 q(user).s);
            rc = SECMQ_E_INVAL;
        } else if (!add && rc == 0) {
            secmq__authdb_seterr(err, errlen, "no such key for '%s'",
                                 q(user).s);
            rc = SECMQ_E_INVAL;
        } else if (add && rc == 0) {
            rc = run(db, "INSERT INTO keys(user, pk, label) VALUES(?, ?, ?)",
                     NULL, err, errlen, label != NULL ? "tbt" : "tbn", user, pk,
                     label);
        } else if (rc == 1) {
            rc = run(db, "DELETE FROM keys WHERE user = ? AND pk = ?", NULL,
                     err, errlen, "tb", user, pk);
        }
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

int secmq__authdb_set_cost(secmq_authdb *db, unsigned long long pw_ops,
                           size_t pw_mem, char *err, size_t errlen)
{
    char ops[32], mem[32];
    int own, rc;

    if (!secmq__pw_cost_ok(pw_ops, pw_mem)) {
        secmq__authdb_seterr(
            err, errlen,
            "password cost out of range (ops 1..32, memory 8 KiB..1 GiB)");
        return SECMQ_E_INVAL;
    }
    snprintf(ops, sizeof ops, "%llu", pw_ops);
    snprintf(mem, sizeof mem, "%zu", pw_mem);
    rc = secmq__authdb_tx_begin(db, &own, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = run(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('pw_ops', ?)",
             NULL, err, errlen, "t", ops);
    if (rc == 0) {
        rc = run(db,
                 "INSERT OR REPLACE INTO meta(key, value) VALUES('pw_mem', ?)",
                 NULL, err, errlen, "t", mem);
    }
    return secmq__authdb_tx_end(db, own, rc, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* Listings that the policy does not carry                                */
/* ---------------------------------------------------------------------- */

/* The caller's callback and its argument, for the row functions below. */
struct listing {
    secmq__authdb_group_cb group_cb;
    secmq__authdb_key_cb key_cb;
    void *arg;
};

/* SELECT name FROM groups */
static int group_list_row(sqlite3_stmt *st, void *ctx)
{
    const struct listing *l = ctx;
    const char *name = secmq__authdb_col_text(st, 0);

    if (secmq__name_ok(name)) {
        l->group_cb(l->arg, name);
    }
    return SQLITE_OK;
}

/* SELECT user, pk, label FROM keys */
static int key_list_row(sqlite3_stmt *st, void *ctx)
{
    const struct listing *l = ctx;
    const char *name = secmq__authdb_col_text(st, 0),
               *label = secmq__authdb_col_text(st, 2);

    if (secmq__name_ok(name) && sqlite3_column_type(st, 1) == SQLITE_BLOB &&
        sqlite3_column_bytes(st, 1) == SECMQ_SIGN_KEY_BYTES) {
        l->key_cb(l->arg, name, sqlite3_column_blob(st, 1), label);
    }
    return SQLITE_OK;
}

int secmq__authdb_group_list(secmq_authdb *db, secmq__authdb_group_cb cb,
                             void *arg, char *err, size_t errlen)
{
    struct listing l = {cb, NULL, arg};

    if (db == NULL || db->db == NULL || cb == NULL) {
        secmq__authdb_seterr(err, errlen, "no database or callback");
        return SECMQ_E_INVAL;
    }
    return secmq__authdb_each_row(db, "SELECT name FROM groups ORDER BY name",
                                  NULL, "read groups", group_list_row, &l, err,
                                  errlen);
}

int secmq__authdb_key_list(secmq_authdb *db, const char *user,
                           secmq__authdb_key_cb cb, void *arg, char *err,
                           size_t errlen)
{
    struct listing l = {NULL, cb, arg};

    if (db == NULL || db->db == NULL || cb == NULL) {
        secmq__authdb_seterr(err, errlen, "no database or callback");
        return SECMQ_E_INVAL;
    }
    return secmq__authdb_each_row(
        db,
        "SELECT user, pk, label FROM keys"
        " WHERE ?1 IS NULL OR user = ?1 ORDER BY user, pk",
        user, "read keys", key_list_row, &l, err, errlen);
}
