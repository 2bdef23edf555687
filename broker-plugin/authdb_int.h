/*
 * authdb_int.h -- what authdb.c, authdb_load.c and authdb_change.c share
 * and nobody else sees: the handle, error messages, statement and row
 * helpers, the one-change transaction and the rule checks. Not for
 * anything outside the authdb*.c files: they are the only code that may
 * include sqlite3.h.
 */
#ifndef SECMQ_AUTHDB_INT_H
#define SECMQ_AUTHDB_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "authdb.h"

struct secmq_authdb {
    sqlite3 *db;
    char *path;
    dev_t dev; /* the file sqlite opened */
    ino_t ino;
    int readonly;
    int version;          /* the file's schema version (user_version) */
    int loaded;           /* 1 once load() succeeded */
    int64_t data_version; /* PRAGMA data_version at the last load */
};

/* printf fmt into err (errlen bytes); nothing when err is NULL or errlen 0. */
void secmq__authdb_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Map the sqlite result rc to SECMQ_E_* with a message naming db's path
 * and what (the step); db may be NULL. */
int secmq__authdb_sqlerr(secmq_authdb *db, int rc, const char *what, char *err,
                         size_t errlen);

/* Run sql (statements without results). Returns SECMQ_OK or a SECMQ_E_*
 * with a message naming db's path. */
int secmq__authdb_exec(secmq_authdb *db, const char *sql, char *err,
                       size_t errlen);

/* Read one integer pragma (sql: "PRAGMA name") into *v. Returns SECMQ_OK or
 * a SECMQ_E_*. */
int secmq__authdb_pragma_int(secmq_authdb *db, const char *sql, int64_t *v,
                             char *err, size_t errlen);

/* Prepare sql into *st (NULL on error). Returns SECMQ_OK or a SECMQ_E_*;
 * the caller finalizes *st. */
int secmq__authdb_prepare(secmq_authdb *db, const char *sql, sqlite3_stmt **st,
                          char *err, size_t errlen);

/* One row of secmq__authdb_each_row(): SQLITE_OK to go on, or an SQLITE_*
 * code (in practice SQLITE_NOMEM) to stop the query with that error. st is
 * valid only during the call. */
typedef int (*secmq__authdb_row_fn)(sqlite3_stmt *st, void *ctx);

/* Run sql, with ?1 bound to param unless it is NULL, and call fn(st, ctx)
 * for every row. what names the read in an error message. Returns SECMQ_OK
 * or a SECMQ_E_*; ctx is the caller's, borrowed. */
int secmq__authdb_each_row(secmq_authdb *db, const char *sql, const char *param,
                           const char *what, secmq__authdb_row_fn fn, void *ctx,
                           char *err, size_t errlen);

/* Start one change: its own BEGIN IMMEDIATE transaction, or a SAVEPOINT
 * inside the caller's secmq__authdb_begin; *own says which. SECMQ_E_INVAL
 * when db is not open for writing. */
int secmq__authdb_tx_begin(secmq_authdb *db, int *own, char *err,
                           size_t errlen);

/* Finish a change begun by secmq__authdb_tx_begin: keep it when rc is
 * SECMQ_OK, else undo all of it. Returns rc, or the commit's error. */
int secmq__authdb_tx_end(secmq_authdb *db, int own, int rc, char *err,
                         size_t errlen);

/* Column i as a C string, or NULL when NULL or when it holds a NUL byte.
 * Valid until the next step. */
const char *secmq__authdb_col_text(sqlite3_stmt *st, int i);

/* 1 when a is a valid rules.access (SECMQ_ACL_DENY alone, or read, write,
 * subscribe bits), else 0. */
int secmq__authdb_access_ok(int64_t a);

/* 1 when topic is a valid rule topic (a filter; for a pattern, with each
 * %u and %c standing for one level), else 0. */
int secmq__authdb_topic_ok(const char *topic, int pattern);

#endif
