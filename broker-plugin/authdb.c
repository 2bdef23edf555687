/*
 * authdb.c -- the auth database adapter: with authdb_change.c, the only
 * code of broker-plugin/ and tools/admin/ that sees sqlite. It creates and
 * opens the file (refusing anything that is not ours), runs transactions,
 * loads the whole policy in one read transaction and notices changes; the
 * changes themselves and the listings are authdb_change.c's. What the rules
 * mean is policy.c's and acl.c's business.
 *
 * Schema, version 2 (docs/DEPLOY.md copies it):
 *
 *   PRAGMA application_id = 0x53514D41;  -- 'SQMA'
 *   PRAGMA user_version = 2;
 *   CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
 *       -- rows: pw_ops, pw_mem (argon2id cost of new hashes), created
 *   CREATE TABLE users(name TEXT PRIMARY KEY, hash TEXT NOT NULL,
 *       disabled INTEGER NOT NULL DEFAULT 0,
 *       pw_gen INTEGER NOT NULL DEFAULT 1,
 *       created INTEGER NOT NULL, changed INTEGER NOT NULL,
 *       relay INTEGER NOT NULL DEFAULT 0);
 *   CREATE TABLE groups(name TEXT PRIMARY KEY);
 *   CREATE TABLE members(grp TEXT NOT NULL, user TEXT NOT NULL,
 *       PRIMARY KEY(grp, user));
 *   CREATE TABLE rules(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,
 *       subject TEXT, topic TEXT NOT NULL, access INTEGER NOT NULL,
 *       require_signed INTEGER NOT NULL DEFAULT 0,
 *       UNIQUE(kind, subject, topic, access));
 *   CREATE TABLE keys(user TEXT NOT NULL,
 *       pk BLOB NOT NULL CHECK(length(pk) = 32), label TEXT,
 *       PRIMARY KEY(user, pk));
 *
 * Version 1 had no users.relay. A version 1 file opened for writing is
 * upgraded in place (one transaction: the column, then user_version); one
 * opened read-only is read as it is, with no relay users.
 *
 * rules.kind is secmq_rule_kind (0 user, 1 group, 2 pattern: subject
 * NULL), rules.access the SECMQ_ACL_* bits, created/changed Unix seconds.
 * There are no foreign keys: deleting a user or group deletes its member
 * rows, rules and keys explicitly in the same transaction, and load()
 * ignores (and counts) rows that point nowhere or do not validate.
 *
 * File rules: rollback journal (journal_mode=DELETE), never WAL: the broker
 * runs as user mosquitto and secmq-admin often as root, and -wal/-shm files
 * left behind by root would lock the broker out; the -journal file exists
 * only during a write. synchronous=FULL, busy timeout 2 s. The file is
 * created 0600 by open(O_EXCL) before sqlite sees it.
 */
#include "authdb.h"
#include "authdb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "acl.h"
#include "pwhash.h"
#include "secmq.h"

#define APP_ID 0x53514D41 /* 'SQMA' */
#define SCHEMA_VERSION 2
#define BUSY_MS 2000

static const char schema_sql[] =
    "PRAGMA application_id = 1397837121;" /* 0x53514D41 */
    "PRAGMA user_version = 2;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0,"
    " pw_gen INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL, changed INTEGER NOT NULL,"
    " relay INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE groups(name TEXT PRIMARY KEY);"
    "CREATE TABLE members(grp TEXT NOT NULL, user TEXT NOT NULL,"
    " PRIMARY KEY(grp, user));"
    "CREATE TABLE rules(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " subject TEXT, topic TEXT NOT NULL, access INTEGER NOT NULL,"
    " require_signed INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(kind, subject, topic, access));"
    "CREATE TABLE keys(user TEXT NOT NULL,"
    " pk BLOB NOT NULL CHECK(length(pk) = 32), label TEXT,"
    " PRIMARY KEY(user, pk));";

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

void secmq__authdb_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Map an sqlite result to SECMQ_E_* with a message; what names the step. */
int secmq__authdb_sqlerr(secmq_authdb *db, int rc, const char *what, char *err,
                         size_t errlen)
{
    const char *path = db != NULL ? db->path : "auth database";
    const char *msg = db != NULL && db->db != NULL ? sqlite3_errmsg(db->db)
                                                   : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        secmq__authdb_seterr(err, errlen, "out of memory");
        return SECMQ_E_NOMEM;
    case SQLITE_FULL:
        secmq__authdb_seterr(err, errlen, "%s: %s: disk full", path, what);
        return SECMQ_E_IO;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        secmq__authdb_seterr(
            err, errlen,
            "%s: %s: database is locked (busy for more than %d ms)", path, what,
            BUSY_MS);
        return SECMQ_E_IO;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        secmq__authdb_seterr(err, errlen,
                             "%s is not a secmq auth database (%s)", path, msg);
        return SECMQ_E_CONFIG;
    case SQLITE_READONLY:
        secmq__authdb_seterr(err, errlen, "%s: %s: read-only (%s)", path, what,
                             msg);
        return SECMQ_E_IO;
    default:
        secmq__authdb_seterr(err, errlen, "%s: %s: %s", path, what, msg);
        return SECMQ_E_IO;
    }
}

int secmq__authdb_exec(secmq_authdb *db, const char *sql, char *err,
                       size_t errlen)
{
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? SECMQ_OK
                           : secmq__authdb_sqlerr(db, rc, sql, err, errlen);
}

int secmq__authdb_prepare(secmq_authdb *db, const char *sql, sqlite3_stmt **st,
                          char *err, size_t errlen)
{
    int rc = sqlite3_prepare_v2(db->db, sql, -1, st, NULL);

    if (rc != SQLITE_OK) {
        *st = NULL;
        return secmq__authdb_sqlerr(db, rc, "prepare", err, errlen);
    }
    return SECMQ_OK;
}

/* See authdb_int.h. */
int secmq__authdb_each_row(secmq_authdb *db, const char *sql, const char *param,
                           const char *what, secmq__authdb_row_fn fn, void *ctx,
                           char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = secmq__authdb_prepare(db, sql, &st, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    if (param != NULL) {
        rc = sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(st);
            return secmq__authdb_sqlerr(db, rc, "bind", err, errlen);
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(st, ctx);
        if (rc != SQLITE_OK) {
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SECMQ_OK
                             : secmq__authdb_sqlerr(db, rc, what, err, errlen);
}

/* ---------------------------------------------------------------------- */
/* Transactions                                                           */
/* ---------------------------------------------------------------------- */

/* SECMQ_OK when db is open for writing, else SECMQ_E_INVAL with why. */
static int writable(secmq_authdb *db, char *err, size_t errlen)
{
    if (db == NULL || db->db == NULL) {
        secmq__authdb_seterr(err, errlen, "no database");
        return SECMQ_E_INVAL;
    }
    if (db->readonly) {
        secmq__authdb_seterr(err, errlen, "%s: opened read-only", db->path);
        return SECMQ_E_INVAL;
    }
    return SECMQ_OK;
}

/*
 * Start a change. Outside secmq__authdb_begin it is its own transaction,
 * BEGIN IMMEDIATE (the write lock is taken up front, so two writers wait
 * for each other through the busy timeout instead of one failing on a
 * read-to-write upgrade); inside one it is a SAVEPOINT, so a failed change
 * is undone without ending the caller's transaction. *own says which.
 */
int secmq__authdb_tx_begin(secmq_authdb *db, int *own, char *err, size_t errlen)
{
    int rc = writable(db, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    *own = sqlite3_get_autocommit(db->db);
    return secmq__authdb_exec(
        db, *own ? "BEGIN IMMEDIATE" : "SAVEPOINT secmq_change", err, errlen);
}

/* Finish a change begun by secmq__authdb_tx_begin: keep it when rc is SECMQ_OK,
 * else undo all of it. Returns rc, or the commit's error. */
int secmq__authdb_tx_end(secmq_authdb *db, int own, int rc, char *err,
                         size_t errlen)
{
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_exec(db, own ? "COMMIT" : "RELEASE secmq_change",
                                err, errlen);
        if (rc == SECMQ_OK) {
            return SECMQ_OK;
        }
    }
    /* SQLITE_FULL and friends may already have rolled the whole
     * transaction back; then there is nothing left to undo. */
    if (!sqlite3_get_autocommit(db->db)) {
        if (own) {
            sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            sqlite3_exec(db->db,
                         "ROLLBACK TO secmq_change; RELEASE secmq_change", NULL,
                         NULL, NULL);
        }
    }
    return rc;
}

int secmq__authdb_begin(secmq_authdb *db, char *err, size_t errlen)
{
    int rc = writable(db, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    if (!sqlite3_get_autocommit(db->db)) {
        secmq__authdb_seterr(err, errlen, "a transaction is already open");
        return SECMQ_E_INVAL;
    }
    return secmq__authdb_exec(db, "BEGIN IMMEDIATE", err, errlen);
}

int secmq__authdb_commit(secmq_authdb *db, char *err, size_t errlen)
{
    int rc;

    if (db == NULL || db->db == NULL) {
        secmq__authdb_seterr(err, errlen, "no database");
        return SECMQ_E_INVAL;
    }
    if (sqlite3_get_autocommit(db->db)) {
        /* An error inside (disk full) rolled everything back already. */
        secmq__authdb_seterr(err, errlen, "%s: the transaction was rolled back",
                             db->path);
        return SECMQ_E_IO;
    }
    rc = secmq__authdb_exec(db, "COMMIT", err, errlen);
    if (rc != SECMQ_OK && !sqlite3_get_autocommit(db->db)) {
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

void secmq__authdb_rollback(secmq_authdb *db)
{
    if (db != NULL && db->db != NULL && !sqlite3_get_autocommit(db->db)) {
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* ---------------------------------------------------------------------- */
/* Create, open, close                                                    */
/* ---------------------------------------------------------------------- */

/* Connection settings, every time: they are not stored in the file. */
static int configure(secmq_authdb *db, char *err, size_t errlen)
{
    sqlite3_busy_timeout(db->db, BUSY_MS);
    return secmq__authdb_exec(db, "PRAGMA synchronous = FULL", err, errlen);
}

static void db_free(secmq_authdb *db)
{
    if (db == NULL) {
        return;
    }
    sqlite3_close_v2(db->db);
    free(db->path);
    free(db);
}

static secmq_authdb *db_alloc(const char *path)
{
    secmq_authdb *db = calloc(1, sizeof *db);

    if (db == NULL) {
        return NULL;
    }
    db->path = strdup(path);
    if (db->path == NULL) {
        free(db);
        return NULL;
    }
    return db;
}

int secmq__authdb_create(const char *path, unsigned long long pw_ops,
                         size_t pw_mem, char *err, size_t errlen)
{
    secmq_authdb *db;
    char sql[256];
    int fd, rc;

    if (path == NULL || path[0] == 0) {
        secmq__authdb_seterr(err, errlen, "no database path");
        return SECMQ_E_INVAL;
    }
    if (!secmq__pw_cost_ok(pw_ops, pw_mem)) {
        secmq__authdb_seterr(
            err, errlen,
            "password cost out of range (ops 1..32, memory 8 KiB..1 GiB)");
        return SECMQ_E_INVAL;
    }
    db = db_alloc(path);
    if (db == NULL) {
        secmq__authdb_seterr(err, errlen, "out of memory");
        return SECMQ_E_NOMEM;
    }
    /* SECURITY: the file holds password hashes. It is created here, 0600
     * whatever the umask, and an existing file is never reused. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST) {
            secmq__authdb_seterr(
                err, errlen, "%s already exists (not overwriting it)", path);
            rc = SECMQ_E_INVAL;
        } else {
            secmq__authdb_seterr(err, errlen, "cannot create %s: %s", path,
                                 strerror(e));
            rc = SECMQ_E_IO;
        }
        db_free(db);
        return rc;
    }
    if (fchmod(fd, 0600) != 0) {
        secmq__authdb_seterr(err, errlen, "cannot chmod %s: %s", path,
                             strerror(errno));
        close(fd);
        rc = SECMQ_E_IO;
        goto err;
    }
    close(fd);
    rc = sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        rc = secmq__authdb_sqlerr(db, rc, "open", err, errlen);
        goto err;
    }
    rc = configure(db, err, errlen);
    if (rc == SECMQ_OK) {
        rc =
            secmq__authdb_exec(db, "PRAGMA journal_mode = DELETE", err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_exec(db, "BEGIN IMMEDIATE", err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_exec(db, schema_sql, err, errlen);
    }
    if (rc == SECMQ_OK) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO meta VALUES('pw_ops', '%llu'),"
                 "('pw_mem', '%zu'),('created', '%lld')",
                 pw_ops, pw_mem, (long long)time(NULL));
        rc = secmq__authdb_exec(db, sql, err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_exec(db, "COMMIT", err, errlen);
    }
    if (rc != SECMQ_OK) {
        goto err;
    }
    db_free(db);
    return SECMQ_OK;
err:
    db_free(db);
    unlink(path); /* ours: created above with O_EXCL */
    return rc;
}

int secmq__authdb_pragma_int(secmq_authdb *db, const char *sql, int64_t *v,
                             char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = secmq__authdb_prepare(db, sql, &st, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = SECMQ_OK;
    } else {
        rc = secmq__authdb_sqlerr(db, rc, sql, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Check the file is a secmq auth database this code understands. Reads
 * only: a foreign file is never modified. */
static int check_ours(secmq_authdb *db, char *err, size_t errlen)
{
    int64_t app = 0, ver = 0;
    int rc = secmq__authdb_pragma_int(db, "PRAGMA application_id", &app, err,
                                      errlen);

    if (rc == SECMQ_E_IO) {
        /* "file is not a database" and the like are CONFIG; a lock or a
         * permission problem stays IO. */
        return rc;
    }
    if (rc != SECMQ_OK) {
        secmq__authdb_seterr(err, errlen,
                             "%s is not a secmq auth database (not sqlite)",
                             db->path);
        return rc;
    }
    if (app != APP_ID) {
        secmq__authdb_seterr(
            err, errlen,
            "%s is not a secmq auth database (application_id 0x%08" PRIx64
            ", expected 0x%08x; create one with secmq-admin init)",
            db->path, (uint64_t)app & 0xffffffffu, APP_ID);
        return SECMQ_E_CONFIG;
    }
    rc = secmq__authdb_pragma_int(db, "PRAGMA user_version", &ver, err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (ver > SCHEMA_VERSION) {
        secmq__authdb_seterr(err, errlen,
                             "%s has auth database schema version %" PRId64
                             ", newer than this secmq understands (%d)",
                             db->path, ver, SCHEMA_VERSION);
        return SECMQ_E_CONFIG;
    }
    if (ver < 1) {
        secmq__authdb_seterr(err, errlen,
                             "%s has auth database schema version %" PRId64
                             " (unfinished or damaged)",
                             db->path, ver);
        return SECMQ_E_CONFIG;
    }
    db->version = (int)ver;
    return SECMQ_OK;
}

/* A version 1 database opened for writing gets users.relay (version 2).
 * Checked again inside the write transaction: another process may have
 * upgraded it since check_ours() looked. */
static int upgrade(secmq_authdb *db, char *err, size_t errlen)
{
    int64_t ver = 0;
    int rc;

    if (db->readonly || db->version >= SCHEMA_VERSION) {
        return SECMQ_OK;
    }
    rc = secmq__authdb_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq__authdb_pragma_int(db, "PRAGMA user_version", &ver, err, errlen);
    if (rc == SECMQ_OK && ver == 1) {
        rc = secmq__authdb_exec(db,
                                "ALTER TABLE users ADD COLUMN"
                                " relay INTEGER NOT NULL DEFAULT 0;"
                                "PRAGMA user_version = 2",
                                err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__authdb_exec(db, "COMMIT", err, errlen);
    }
    if (rc != SECMQ_OK) {
        secmq__authdb_rollback(db);
        return rc;
    }
    db->version = SCHEMA_VERSION;
    return SECMQ_OK;
}

int secmq__authdb_open(secmq_authdb **out, const char *path, int mode,
                       char *err, size_t errlen)
{
    secmq_authdb *db;
    struct stat before, after;
    int rc, tries;

    if (out == NULL) {
        secmq__authdb_seterr(err, errlen, "no output pointer");
        return SECMQ_E_INVAL;
    }
    *out = NULL;
    if (path == NULL || path[0] == 0 ||
        (mode != SECMQ_AUTHDB_READONLY && mode != SECMQ_AUTHDB_READWRITE)) {
        secmq__authdb_seterr(err, errlen, "bad database path or mode");
        return SECMQ_E_INVAL;
    }
    db = db_alloc(path);
    if (db == NULL) {
        secmq__authdb_seterr(err, errlen, "out of memory");
        return SECMQ_E_NOMEM;
    }
    db->readonly = mode == SECMQ_AUTHDB_READONLY;
    /* The identity (dev, ino) of the file sqlite holds, for changed(): stat
     * before and after the open must agree, else the path was replaced in
     * between and we try again. */
    for (tries = 0;; tries++) {
        if (stat(path, &before) != 0) {
            secmq__authdb_seterr(err, errlen, "cannot open %s: %s", path,
                                 strerror(errno));
            rc = SECMQ_E_IO;
            goto err;
        }
        if (!S_ISREG(before.st_mode)) {
            secmq__authdb_seterr(err, errlen,
                                 "%s is not a secmq auth database (not a file)",
                                 path);
            rc = SECMQ_E_CONFIG;
            goto err;
        }
        rc = sqlite3_open_v2(
            path, &db->db,
            db->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, NULL);
        if (rc != SQLITE_OK) {
            rc = secmq__authdb_sqlerr(db, rc, "open", err, errlen);
            goto err;
        }
        if (stat(path, &after) == 0 && after.st_dev == before.st_dev &&
            after.st_ino == before.st_ino) {
            break;
        }
        sqlite3_close_v2(db->db);
        db->db = NULL;
        if (tries == 3) {
            secmq__authdb_seterr(err, errlen,
                                 "%s keeps being replaced while opening", path);
            rc = SECMQ_E_IO;
            goto err;
        }
    }
    db->dev = before.st_dev;
    db->ino = before.st_ino;
    /* sqlite quietly opens a file it may not write read-only; say so now
     * rather than at the first change (the plugin then opens it
     * SECMQ_AUTHDB_READONLY on purpose). */
    if (!db->readonly && sqlite3_db_readonly(db->db, "main") == 1) {
        secmq__authdb_seterr(
            err, errlen, "cannot open %s for writing: permission denied", path);
        rc = SECMQ_E_IO;
        goto err;
    }
    rc = configure(db, err, errlen);
    if (rc == SECMQ_OK) {
        rc = check_ours(db, err, errlen);
    }
    if (rc == SECMQ_OK && !db->readonly) {
        /* Our own file in WAL mode (set by hand): back to a rollback
         * journal, see the top of this file. */
        rc =
            secmq__authdb_exec(db, "PRAGMA journal_mode = DELETE", err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = upgrade(db, err, errlen);
    }
    if (rc != SECMQ_OK) {
        goto err;
    }
    *out = db;
    return SECMQ_OK;
err:
    db_free(db);
    return rc;
}

void secmq__authdb_close(secmq_authdb *db)
{
    db_free(db);
}

/* ---------------------------------------------------------------------- */
/* Validation shared by load() and the changes                            */
/* ---------------------------------------------------------------------- */

/* Column i as a C string, or NULL when NULL or when it holds a NUL byte
 * (SECURITY: "sam\0x" must not load as "sam"). Valid until the next step. */
const char *secmq__authdb_col_text(sqlite3_stmt *st, int i)
{
    const char *s;

    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return NULL;
    }
    s = (const char *)sqlite3_column_text(st, i);
    if (s == NULL || strlen(s) != (size_t)sqlite3_column_bytes(st, i)) {
        return NULL;
    }
    return s;
}

int secmq__authdb_access_ok(int64_t a)
{
    if (a == SECMQ_ACL_DENY) {
        return 1;
    }
    return a > 0 && (a & ~(int64_t)(SECMQ_ACL_READ | SECMQ_ACL_WRITE |
                                    SECMQ_ACL_SUBSCRIBE)) == 0;
}

/* A rule topic: a valid filter; a pattern with each %u and %c standing for
 * one level ("x"). */
int secmq__authdb_topic_ok(const char *topic, int pattern)
{
    char buf[SECMQ_AUTH_TOPIC_MAX + 1];

    if (topic == NULL) {
        return 0;
    }
    if (!pattern) {
        return secmq__filter_valid(topic);
    }
    if (strlen(topic) > SECMQ_AUTH_TOPIC_MAX ||
        secmq__pattern_substitute(topic, "x", "x", buf, sizeof buf) != 0) {
        return 0;
    }
    return secmq__filter_valid(buf);
}

int secmq__authdb_changed(secmq_authdb *db, char *err, size_t errlen)
{
    struct stat st;
    int64_t version = 0;
    int rc;

    if (db == NULL || db->db == NULL) {
        secmq__authdb_seterr(err, errlen, "no database");
        return SECMQ_E_INVAL;
    }
    if (stat(db->path, &st) != 0) {
        secmq__authdb_seterr(err, errlen, "cannot stat %s: %s", db->path,
                             strerror(errno));
        return SECMQ_E_IO;
    }
    if (st.st_dev != db->dev || st.st_ino != db->ino) {
        return 1; /* replaced: the caller reopens */
    }
    rc = secmq__authdb_pragma_int(db, "PRAGMA data_version", &version, err,
                                  errlen);
    if (rc != SECMQ_OK) {
        return rc;
    }
    return !db->loaded || version != db->data_version;
}
