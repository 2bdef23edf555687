/*
 * outbox_store.c -- the outbox's sqlite file: creating, checking, upgrading.
 *
 * Creates the file 0600 or checks that an existing one is ours (a foreign,
 * corrupt or newer file is refused before anything writes to it), upgrades
 * a version 1 file, switches it to WAL with the chosen synchronous mode,
 * and holds the helpers outbox_rows.c shares. With outbox_rows.c (the rows:
 * scan, commit, checked reads) the only files that see sqlite for the
 * outbox. It knows nothing of MQTT, order or bounds: that is outbox.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "outbox_int.h"
#include "outbox_store_int.h"

#define OB_APP_ID 0x53514F42 /* 'SQOB' */
#define OB_VERSION 2
#define OB_BUSY_MS 5000

/* Version 2 adds each row's checksum (column sum) and the quarantine
 * table; a version 1 file is upgraded in place (upgrade_v1). */
static const char schema[] =
    "PRAGMA application_id = 1397837634;" /* 0x53514F42 */
    "PRAGMA user_version = 2;"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY,"
    " topic TEXT NOT NULL,"
    " payload BLOB NOT NULL,"
    " qos INTEGER NOT NULL,"
    " retain INTEGER NOT NULL,"
    " sealed INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " sum BLOB NOT NULL DEFAULT x'');"
    "CREATE TABLE quarantine ("
    " id INTEGER PRIMARY KEY,"
    " reason TEXT NOT NULL,"
    " found_ms INTEGER NOT NULL);";

static const char upgrade_sql[] =
    "ALTER TABLE outbox ADD COLUMN sum BLOB NOT NULL DEFAULT x'';"
    "CREATE TABLE quarantine ("
    " id INTEGER PRIMARY KEY,"
    " reason TEXT NOT NULL,"
    " found_ms INTEGER NOT NULL);";

int secmq__obst_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* sqlite result -> SECMQ code: damaged or foreign files are SECMQ_E_DB. */
int secmq__obst_map(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return SECMQ_OK;
    case SQLITE_NOMEM:
        return SECMQ_E_NOMEM;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
    case SQLITE_SCHEMA:
        return SECMQ_E_DB;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SECMQ_E_BUSY;
    default:
        return SECMQ_E_IO;
    }
}

int secmq__obst_dbfail(sqlite3 *db, int rc, const char *path, const char *what,
                       char *err, size_t errlen)
{
    return secmq__obst_fail(
        err, errlen, secmq__obst_map(rc), "outbox %s: %s: %s", path, what,
        db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int exec(secmq__obstore *st, sqlite3 *db, const char *sql, char *err,
                size_t errlen)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        return secmq__obst_dbfail(db, rc, st->path, sql, err, errlen);
    }
    return SECMQ_OK;
}

int64_t secmq__obst_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int secmq__obst_step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int secmq__obst_pragma_int(secmq__obstore *st, sqlite3 *db, const char *sql,
                           int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK) {
        rc =
            secmq__obst_dbfail(db, rc, st->path, "cannot read it", err, errlen);
        sqlite3_finalize(s);
        return rc;
    }
    sqlite3_finalize(s);
    return SECMQ_OK;
}

/*
 * Look at the file read-only first: a foreign or damaged file must not be
 * written to, not even by setting WAL mode. *fresh = 1 for an empty file
 * (no tables, no id) that we may initialise.
 */
static int check_file(secmq__obstore *st, int *fresh, int *old, char *err,
                      size_t errlen)
{
    sqlite3 *db = NULL;
    int64_t app = 0, ver = 0, tables = 0;
    int rc;

    rc = sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rc = secmq__obst_dbfail(db, rc, st->path, "cannot open", err, errlen);
        sqlite3_close(db);
        return rc;
    }
    rc = secmq__obst_pragma_int(st, db, "PRAGMA application_id", &app, err,
                                errlen);
    if (rc == SECMQ_OK) {
        rc = secmq__obst_pragma_int(st, db, "PRAGMA user_version", &ver, err,
                                    errlen);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__obst_pragma_int(
            st, db, "SELECT count(*) FROM sqlite_master", &tables, err, errlen);
    }
    sqlite3_close(db);
    if (rc != SECMQ_OK) {
        if (rc == SECMQ_E_DB || rc == SECMQ_E_IO) {
            /* "file is not a database", "database disk image is
             * malformed": say what we will not do about it. */
            size_t n = strlen(err);
            snprintf(err + n, errlen > n ? errlen - n : 0,
                     " (not a usable outbox; the file is left as it is)");
            return SECMQ_E_DB;
        }
        return rc;
    }
    *fresh = app == 0 && ver == 0 && tables == 0;
    if (*fresh) {
        return SECMQ_OK;
    }
    if (app != OB_APP_ID) {
        return secmq__obst_fail(
            err, errlen, SECMQ_E_DB,
            "outbox %s is not a secmq outbox (an sqlite database with "
            "application_id 0x%08" PRIx64 "); the file is left as it "
            "is",
            st->path, (uint64_t)app);
    }
    *old = ver == 1;
    if (ver != OB_VERSION && ver != 1) {
        return secmq__obst_fail(
            err, errlen, SECMQ_E_DB,
            "outbox %s has format version %" PRId64 ", this library "
            "reads versions 1 and %d; the file is left as it is",
            st->path, ver, OB_VERSION);
    }
    return SECMQ_OK;
}

/* Create the file 0600 if it does not exist, and take the process lock. */
static int create_and_lock(secmq__obstore *st, char *err, size_t errlen)
{
    struct stat sb;
    int fd;

    /* SECURITY: created 0600 before sqlite sees it; sqlite gives -wal and
     * -shm the database file's mode. O_NOFOLLOW: never through a link. */
    fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return secmq__obst_fail(err, errlen, SECMQ_E_IO,
                                "outbox %s: cannot open: %s", st->path,
                                strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return secmq__obst_fail(err, errlen, SECMQ_E_IO,
                                "outbox %s: not a regular file", st->path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            return secmq__obst_fail(err, errlen, SECMQ_E_BUSY,
                                    "outbox %s is in use by another process",
                                    st->path);
        }
        return secmq__obst_fail(err, errlen, SECMQ_E_IO,
                                "outbox %s: cannot lock: %s", st->path,
                                strerror(e));
    }
    st->lock_fd = fd;
    return SECMQ_OK;
}

static int open_conn(secmq__obstore *st, sqlite3 **db, int sync_full, char *err,
                     size_t errlen)
{
    int rc = sqlite3_open_v2(st->path, db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        return secmq__obst_dbfail(*db, rc, st->path, "cannot open", err,
                                  errlen);
    }
    sqlite3_busy_timeout(*db, OB_BUSY_MS);
    sqlite3_extended_result_codes(*db, 1);
    if ((rc = exec(st, *db, "PRAGMA journal_mode = WAL", err, errlen)) !=
            SECMQ_OK ||
        (rc = exec(st, *db,
                   sync_full ? "PRAGMA synchronous = FULL"
                             : "PRAGMA synchronous = NORMAL",
                   err, errlen)) != SECMQ_OK) {
        return rc;
    }
    return SECMQ_OK;
}

int secmq__obst_prepare(secmq__obstore *st, sqlite3 *db, const char *sql,
                        sqlite3_stmt **s, char *err, size_t errlen)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);

    if (rc != SQLITE_OK) {
        return secmq__obst_dbfail(db, rc, st->path, "prepare", err, errlen);
    }
    return SECMQ_OK;
}

/*
 * Version 1 to 2, in one transaction at open: add the sum column and the
 * quarantine table, give every readable row its sum (what a version 1 file
 * holds cannot be checked, only sealed from now on), and set aside rows
 * that cannot be read. Writer connection, before anything else uses it.
 */
static int upgrade_v1(secmq__obstore *st, char *err, size_t errlen)
{
    sqlite3_stmt *ids = NULL, *one = NULL, *upd = NULL;
    uint64_t *v = NULL;
    size_t n = 0, cap = 0, bad = 0;
    int rc;

    if ((rc = exec(st, st->w, "BEGIN IMMEDIATE", err, errlen)) != SECMQ_OK) {
        return rc;
    }
    if ((rc = exec(st, st->w, upgrade_sql, err, errlen)) != SECMQ_OK ||
        (rc =
             secmq__obst_prepare(st, st->w, "SELECT id FROM outbox ORDER BY id",
                                 &ids, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(
             st, st->w, "SELECT " ROW_COLS " FROM outbox WHERE id = ?1", &one,
             err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(st, st->w,
                                  "UPDATE outbox SET sum = ?2 WHERE id = ?1",
                                  &upd, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(
             st, st->w,
             "INSERT OR IGNORE INTO quarantine(id, reason, found_ms) "
             "VALUES (?1, ?2, ?3)",
             &st->quar, err, errlen)) != SECMQ_OK) {
        goto done;
    }
    while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
        if (secmq__outbox_push_id(
                &v, &n, &cap, (uint64_t)sqlite3_column_int64(ids, 0)) != 0) {
            rc = secmq__obst_fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = secmq__obst_dbfail(st->w, rc, st->path, "cannot list its rows",
                                err, errlen);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char sum[SECMQ__OB_SUM_BYTES];
        const char *why = "unreadable when upgraded to version 2";

        rc = secmq__obst_read_one(one, v[i]);
        if (rc == SQLITE_ROW && (why = secmq__obst_row_shape(one)) == NULL) {
            secmq__obst_sum_of(one, sum);
            sqlite3_reset(one);
            sqlite3_bind_int64(upd, 1, (sqlite3_int64)v[i]);
            sqlite3_bind_blob(upd, 2, sum, sizeof sum, SQLITE_TRANSIENT);
            rc = secmq__obst_step_reset(upd);
        } else {
            if (rc == SQLITE_ROW) {
                sqlite3_reset(one);
            }
            bad++;
            rc = secmq__obst_quarantine(st, v[i], why);
        }
        if (rc != SQLITE_OK) {
            rc = secmq__obst_dbfail(st->w, rc, st->path, "cannot upgrade it",
                                    err, errlen);
            goto done;
        }
    }
    if ((rc = exec(st, st->w, "PRAGMA user_version = 2", err, errlen)) !=
        SECMQ_OK) {
        goto done;
    }
    rc = exec(st, st->w, "COMMIT", err, errlen);
done:
    sqlite3_finalize(ids);
    sqlite3_finalize(one);
    sqlite3_finalize(upd);
    sqlite3_finalize(st->quar);
    st->quar = NULL;
    free(v);
    if (rc != SECMQ_OK) {
        sqlite3_exec(st->w, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    st->upgraded = 1;
    st->upgrade_bad = bad;
    return SECMQ_OK;
}

int secmq__obstore_open(secmq__obstore **out, const char *path, int sync_full,
                        char *err, size_t errlen)
{
    secmq__obstore *st;
    int fresh = 0, old = 0, rc;

    *out = NULL;
    st = calloc(1, sizeof *st);
    if (st == NULL || secmq__strdup_opt(&st->path, path) != 0) {
        free(st);
        return secmq__obst_fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
    }
    st->lock_fd = -1;
    if ((rc = create_and_lock(st, err, errlen)) != SECMQ_OK ||
        (rc = check_file(st, &fresh, &old, err, errlen)) != SECMQ_OK ||
        (rc = open_conn(st, &st->w, sync_full, err, errlen)) != SECMQ_OK) {
        goto err;
    }
    if (fresh) {
        rc = exec(st, st->w, "BEGIN IMMEDIATE", err, errlen);
        if (rc == SECMQ_OK) {
            rc = exec(st, st->w, schema, err, errlen);
        }
        if (rc == SECMQ_OK) {
            rc = exec(st, st->w, "COMMIT", err, errlen);
        }
        if (rc != SECMQ_OK) {
            goto err;
        }
    } else if (old && (rc = upgrade_v1(st, err, errlen)) != SECMQ_OK) {
        goto err;
    }
    if ((rc = open_conn(st, &st->r, sync_full, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(
             st, st->w,
             "INSERT INTO outbox(id, topic, payload, qos, retain, "
             "sealed, created_ms, sum) VALUES (?1, ?2, ?3, ?4, ?5, "
             "?6, ?7, ?8)",
             &st->ins, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(st, st->w, "DELETE FROM outbox WHERE id = ?1",
                                  &st->del, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(
             st, st->w,
             "INSERT OR IGNORE INTO quarantine(id, reason, found_ms) "
             "VALUES (?1, ?2, ?3)",
             &st->quar, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(
             st, st->r,
             "SELECT " ROW_COLS " FROM outbox WHERE id >= ?1 AND "
             "id <= ?2 AND " NOT_QUARANTINED " ORDER BY id LIMIT ?3",
             &st->sel, err, errlen)) != SECMQ_OK ||
        (rc = secmq__obst_prepare(
             st, st->r,
             "SELECT id FROM outbox WHERE id >= ?1 AND id <= ?2 "
             "AND " NOT_QUARANTINED " ORDER BY id LIMIT 1",
             &st->next, err, errlen)) != SECMQ_OK) {
        goto err;
    }
    *out = st;
    return SECMQ_OK;
err:
    secmq__obstore_close(st);
    return rc;
}

void secmq__obstore_close(secmq__obstore *st)
{
    if (st == NULL) {
        return;
    }
    sqlite3_finalize(st->ins);
    sqlite3_finalize(st->del);
    sqlite3_finalize(st->sel);
    sqlite3_finalize(st->quar);
    sqlite3_finalize(st->next);
    sqlite3_close(st->r);
    sqlite3_close(st->w);
    /* After sqlite: closing another descriptor of the file would drop
     * sqlite's POSIX locks while it still had the file open. */
    if (st->lock_fd >= 0) {
        close(st->lock_fd);
    }
    free(st->path);
    free(st);
}
