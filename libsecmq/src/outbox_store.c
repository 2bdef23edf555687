/*
 * outbox_store.c -- the outbox's sqlite file: the only file that sees sqlite.
 *
 * Creates the file 0600 or checks that an existing one is ours (a foreign,
 * corrupt or newer file is refused before anything writes to it), switches
 * it to WAL with the chosen synchronous mode, and offers three operations:
 * a scan at open, one transaction of inserts and deletes, and ordered reads.
 * It knows nothing of MQTT, order or bounds: that is outbox.c.
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

#define OB_APP_ID 0x53514F42 /* 'SQOB' */
#define OB_VERSION 1
#define OB_BUSY_MS 5000

static const char schema[] =
    "PRAGMA application_id = 1397837634;" /* 0x53514F42 */
    "PRAGMA user_version = 1;"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY,"
    " topic TEXT NOT NULL,"
    " payload BLOB NOT NULL,"
    " qos INTEGER NOT NULL,"
    " retain INTEGER NOT NULL,"
    " sealed INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL);";

struct secmq__obstore {
    char *path;
    int lock_fd; /* flock: one process per file; closed last */
    sqlite3 *w;  /* writer: the commit thread (and open/scan) */
    sqlite3 *r;  /* reader: whoever hands rows to MQTT */
    sqlite3_stmt *ins, *del, *sel;
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    SECMQ_PRINTF(4, 5);
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* sqlite result -> SECMQ code: damaged or foreign files are SECMQ_E_DB. */
static int map_sqlite(int rc)
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

static int db_fail(sqlite3 *db, int rc, const char *path, const char *what,
                   char *err, size_t errlen)
{
    return fail(err, errlen, map_sqlite(rc), "outbox %s: %s: %s", path, what,
                db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int exec(secmq__obstore *st, sqlite3 *db, const char *sql, char *err,
                size_t errlen)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        return db_fail(db, rc, st->path, sql, err, errlen);
    }
    return SECMQ_OK;
}

static int pragma_int(secmq__obstore *st, sqlite3 *db, const char *sql,
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
        rc = db_fail(db, rc, st->path, "cannot read it", err, errlen);
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
static int check_file(secmq__obstore *st, int *fresh, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int64_t app = 0, ver = 0, tables = 0;
    int rc;

    rc = sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc, st->path, "cannot open", err, errlen);
        sqlite3_close(db);
        return rc;
    }
    rc = pragma_int(st, db, "PRAGMA application_id", &app, err, errlen);
    if (rc == SECMQ_OK) {
        rc = pragma_int(st, db, "PRAGMA user_version", &ver, err, errlen);
    }
    if (rc == SECMQ_OK) {
        rc = pragma_int(st, db, "SELECT count(*) FROM sqlite_master", &tables,
                        err, errlen);
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
        return fail(err, errlen, SECMQ_E_DB,
                    "outbox %s is not a secmq outbox (an sqlite database with "
                    "application_id 0x%08" PRIx64 "); the file is left as it "
                    "is",
                    st->path, (uint64_t)app);
    }
    if (ver != OB_VERSION) {
        return fail(err, errlen, SECMQ_E_DB,
                    "outbox %s has format version %" PRId64 ", this library "
                    "reads version %d; the file is left as it is",
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
        return fail(err, errlen, SECMQ_E_IO, "outbox %s: cannot open: %s",
                    st->path, strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(err, errlen, SECMQ_E_IO, "outbox %s: not a regular file",
                    st->path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            return fail(err, errlen, SECMQ_E_BUSY,
                        "outbox %s is in use by another process", st->path);
        }
        return fail(err, errlen, SECMQ_E_IO, "outbox %s: cannot lock: %s",
                    st->path, strerror(e));
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
        return db_fail(*db, rc, st->path, "cannot open", err, errlen);
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

static int prepare(secmq__obstore *st, sqlite3 *db, const char *sql,
                   sqlite3_stmt **s, char *err, size_t errlen)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);

    if (rc != SQLITE_OK) {
        return db_fail(db, rc, st->path, "prepare", err, errlen);
    }
    return SECMQ_OK;
}

int secmq__obstore_open(secmq__obstore **out, const char *path, int sync_full,
                        char *err, size_t errlen)
{
    secmq__obstore *st;
    int fresh = 0, rc;

    *out = NULL;
    st = calloc(1, sizeof *st);
    if (st == NULL || secmq__strdup_opt(&st->path, path) != 0) {
        free(st);
        return fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
    }
    st->lock_fd = -1;
    if ((rc = create_and_lock(st, err, errlen)) != SECMQ_OK ||
        (rc = check_file(st, &fresh, err, errlen)) != SECMQ_OK ||
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
    }
    if ((rc = open_conn(st, &st->r, sync_full, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->w,
                      "INSERT INTO outbox(id, topic, payload, qos, retain, "
                      "sealed, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                      "?7)",
                      &st->ins, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->w, "DELETE FROM outbox WHERE id = ?1", &st->del,
                      err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->r,
                      "SELECT id, topic, payload, qos, retain, sealed FROM "
                      "outbox WHERE id >= ?1 AND id <= ?2 ORDER BY id "
                      "LIMIT ?3",
                      &st->sel, err, errlen)) != SECMQ_OK) {
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

int secmq__obstore_scan(secmq__obstore *st,
                        void (*fn)(void *ctx, uint64_t id, size_t bytes,
                                   int qos),
                        void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc;

    rc = prepare(st, st->w,
                 "SELECT id, length(CAST(topic AS BLOB)) + length(payload), "
                 "qos FROM outbox ORDER BY id",
                 &s, err, errlen);
    if (rc != SECMQ_OK) {
        return rc == SECMQ_E_IO ? SECMQ_E_DB : rc;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        int64_t bytes = sqlite3_column_int64(s, 1);
        if (id <= 0 || bytes < 0) {
            sqlite3_finalize(s);
            return fail(err, errlen, SECMQ_E_DB,
                        "outbox %s: invalid row %" PRId64
                        "; the file is left as it is",
                        st->path, id);
        }
        fn(ctx, (uint64_t)id, (size_t)bytes, sqlite3_column_int(s, 2));
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(st->w, rc, st->path, "cannot read its rows", err, errlen);
        sqlite3_finalize(s);
        return rc == SECMQ_E_IO ? SECMQ_E_DB : rc;
    }
    sqlite3_finalize(s);
    return SECMQ_OK;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int secmq__obstore_commit(secmq__obstore *st, const secmq__obrow *rows,
                          size_t nrows, const uint64_t *dels, size_t ndels,
                          char *err, size_t errlen)
{
    int64_t t = now_ms();
    int rc = sqlite3_exec(st->w, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        return fail(err, errlen,
                    map_sqlite(rc) == SECMQ_E_NOMEM ? SECMQ_E_NOMEM
                                                    : SECMQ_E_IO,
                    "outbox %s: cannot begin a transaction: %s", st->path,
                    sqlite3_errmsg(st->w));
    }
    for (size_t i = 0; i < nrows && rc == SQLITE_OK; i++) {
        const secmq__obrow *r = &rows[i];
        sqlite3_bind_int64(st->ins, 1, (sqlite3_int64)r->id);
        sqlite3_bind_text(st->ins, 2, r->topic, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st->ins, 3,
                            r->len > 0 ? (const void *)r->payload
                                       : (const void *)"",
                            r->len, SQLITE_STATIC);
        sqlite3_bind_int(st->ins, 4, r->qos);
        sqlite3_bind_int(st->ins, 5, r->retain);
        sqlite3_bind_int(st->ins, 6, r->sealed);
        sqlite3_bind_int64(st->ins, 7, t);
        rc = step_reset(st->ins);
    }
    for (size_t i = 0; i < ndels && rc == SQLITE_OK; i++) {
        sqlite3_bind_int64(st->del, 1, (sqlite3_int64)dels[i]);
        rc = step_reset(st->del);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(st->w, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int code = map_sqlite(rc);
        fail(err, errlen, code == SECMQ_E_NOMEM ? code : SECMQ_E_IO,
             "outbox %s: commit failed: %s", st->path, sqlite3_errmsg(st->w));
        sqlite3_exec(st->w, "ROLLBACK", NULL, NULL, NULL);
        return code == SECMQ_E_NOMEM ? code : SECMQ_E_IO;
    }
    return SECMQ_OK;
}

int secmq__obstore_load(secmq__obstore *st, uint64_t from_id, uint64_t to_id,
                        size_t max_rows,
                        int (*fn)(void *ctx, secmq__obrow *row), void *ctx,
                        char *err, size_t errlen)
{
    sqlite3_stmt *s = st->sel;
    int rc;

    if (to_id > INT64_MAX) {
        to_id = INT64_MAX;
    }
    sqlite3_bind_int64(s, 1, (sqlite3_int64)from_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)to_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max_rows);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        secmq__obrow row;
        const void *blob = sqlite3_column_blob(s, 2);
        int blen = sqlite3_column_bytes(s, 2);
        const unsigned char *topic = sqlite3_column_text(s, 1);

        memset(&row, 0, sizeof row);
        row.id = (uint64_t)sqlite3_column_int64(s, 0);
        row.qos = sqlite3_column_int(s, 3);
        row.retain = sqlite3_column_int(s, 4);
        row.sealed = sqlite3_column_int(s, 5);
        row.len = blen > 0 ? (size_t)blen : 0;
        if (secmq__strdup_opt(&row.topic,
                              topic != NULL ? (const char *)topic : "") != 0 ||
            (row.payload = malloc(row.len > 0 ? row.len : 1)) == NULL) {
            free(row.topic);
            sqlite3_reset(s);
            return fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
        }
        if (row.len > 0) {
            memcpy(row.payload, blob, row.len);
        }
        if (fn(ctx, &row) != 0) {
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = db_fail(st->r, rc, st->path, "cannot read", err, errlen);
        sqlite3_reset(s);
        return rc == SECMQ_E_DB ? SECMQ_E_IO : rc;
    }
    sqlite3_reset(s);
    return SECMQ_OK;
}
