/*
 * xferstate.c -- the sqlite state of file transfers: which transfers a
 * sender or receiver has, their manifests and progress bitmaps. The only
 * file that sees sqlite for transfers. What the rows mean (when a chunk
 * counts as held or acknowledged) is xfersend.c's and xferrecv.c's.
 *
 * Schema (one file per sender or receiver):
 *   PRAGMA application_id = 0x53584631;  -- 'SXF1'
 *   PRAGMA user_version = 1;
 *   CREATE TABLE transfer(file_id BLOB PRIMARY KEY, role INTEGER,
 *       state INTEGER, manifest BLOB, bitmap BLOB, peer TEXT, path TEXT,
 *       src_size INTEGER, src_mtime_ns INTEGER, reason INTEGER,
 *       updated_ms INTEGER);
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "kfile_int.h"
#include "xfer_int.h"

#define APP_ID 0x53584631 /* 'SXF1' */
#define SCHEMA_VERSION 1

struct secmq__xdb {
    sqlite3 *db;
    int lock_fd;
    char msg[256];
};

static const char schema_sql[] =
    "PRAGMA application_id = 1398294065;" /* 0x53584631 */
    "PRAGMA user_version = 1;"
    "CREATE TABLE IF NOT EXISTS transfer("
    " file_id BLOB PRIMARY KEY CHECK(length(file_id) = 16),"
    " role INTEGER NOT NULL, state INTEGER NOT NULL,"
    " manifest BLOB, bitmap BLOB, peer TEXT, path TEXT,"
    " src_size INTEGER, src_mtime_ns INTEGER, reason INTEGER NOT NULL"
    " DEFAULT 0, updated_ms INTEGER NOT NULL);";

static int fail(secmq__xdb *db, const char *what)
{
    snprintf(db->msg, sizeof db->msg, "%s: %s", what,
             db->db != NULL ? sqlite3_errmsg(db->db) : "no database");
    return SECMQ_E_IO;
}

const char *secmq__xdb_errmsg(secmq__xdb *db)
{
    return db != NULL ? db->msg : "no state file";
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_OK) {
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* An existing, non-empty file must be one of ours. */
static int check_ours(secmq__xdb *db, const char *path, char *err,
                      size_t errlen)
{
    int64_t app = 0, ver = 0, tables = 0;

    if (pragma_int(db->db, "SELECT count(*) FROM sqlite_master", &tables) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s is not a secmq transfer state file (%s)",
                 path, sqlite3_errmsg(db->db));
        return SECMQ_E_IO;
    }
    if (pragma_int(db->db, "PRAGMA application_id", &app) != SQLITE_OK ||
        pragma_int(db->db, "PRAGMA user_version", &ver) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db->db));
        return SECMQ_E_IO;
    }
    if (tables == 0 && app == 0) {
        return SECMQ_OK; /* new and empty: ours to initialise */
    }
    if (app != APP_ID) {
        snprintf(err, errlen,
                 "%s is not a secmq transfer state file (application_id "
                 "0x%08" PRIx64 "); not touching it",
                 path, (uint64_t)app);
        return SECMQ_E_IO;
    }
    if (ver > SCHEMA_VERSION) {
        snprintf(err, errlen, "%s has a newer format (%" PRId64 ")", path, ver);
        return SECMQ_E_IO;
    }
    return SECMQ_OK;
}

int secmq__xdb_open(secmq__xdb **out, const char *path, char *err,
                    size_t errlen)
{
    secmq__xdb *db;
    int fd, rc;

    *out = NULL;
    db = calloc(1, sizeof *db);
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return SECMQ_E_NOMEM;
    }
    db->lock_fd = -1;
    /* SECURITY: 0600 from the start: the file holds per-file keys. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open state file %s: %s", path,
                 strerror(errno));
        free(db);
        return SECMQ_E_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "state file %s is in use by another process (%s)",
                 path, errno == EWOULDBLOCK ? "locked" : strerror(errno));
        close(fd);
        free(db);
        return SECMQ_E_IO;
    }
    db->lock_fd = fd;
    rc = sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open state file %s: %s", path,
                 db->db != NULL ? sqlite3_errmsg(db->db) : "out of memory");
        secmq__xdb_close(db);
        return SECMQ_E_IO;
    }
    sqlite3_busy_timeout(db->db, 2000);
    rc = check_ours(db, path, err, errlen);
    if (rc == SECMQ_OK &&
        (sqlite3_exec(db->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) !=
             SQLITE_OK ||
         sqlite3_exec(db->db,
                      "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;",
                      NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(db->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)) {
        snprintf(err, errlen, "state file %s: %s", path,
                 sqlite3_errmsg(db->db));
        rc = SECMQ_E_IO;
    }
    if (rc != SECMQ_OK) {
        secmq__xdb_close(db);
        return rc;
    }
    *out = db;
    return SECMQ_OK;
}

void secmq__xdb_close(secmq__xdb *db)
{
    if (db == NULL) {
        return;
    }
    if (db->db != NULL) {
        sqlite3_close(db->db);
    }
    if (db->lock_fd >= 0) {
        close(db->lock_fd); /* releases the flock */
    }
    free(db);
}

/* Prepare sql or record why not. */
static sqlite3_stmt *prep(secmq__xdb *db, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(db, "prepare");
        return NULL;
    }
    return st;
}

/* Step a statement that returns no rows, finalize it. */
static int run(secmq__xdb *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE) {
        rc = fail(db, what);
    } else {
        rc = SECMQ_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int secmq__xdb_put(secmq__xdb *db, const secmq__xrow *row,
                   const unsigned char *bits, size_t blen)
{
    sqlite3_stmt *st = prep(
        db, "INSERT OR REPLACE INTO transfer(file_id, role, state, manifest,"
            " bitmap, peer, path, src_size, src_mtime_ns, reason, updated_ms)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_blob(st, 1, row->file_id, SECMQ_FILE_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, row->role);
    sqlite3_bind_int(st, 3, row->state);
    if (row->manifest_len > 0) {
        sqlite3_bind_blob(st, 4, row->manifest, (int)row->manifest_len,
                          SQLITE_STATIC);
    }
    if (blen > 0) {
        sqlite3_bind_blob(st, 5, bits, (int)blen, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 6, row->peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, row->src_size);
    sqlite3_bind_int64(st, 9, row->src_mtime_ns);
    sqlite3_bind_int(st, 10, row->reason);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)secmq__unix_ms());
    return run(db, st, "saving a transfer");
}

int secmq__xdb_set_bits(secmq__xdb *db, const unsigned char *file_id,
                        const unsigned char *bits, size_t blen)
{
    sqlite3_stmt *st = prep(db, "UPDATE transfer SET bitmap = ?2, "
                                "updated_ms = ?3 WHERE file_id = ?1");

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_blob(st, 1, file_id, SECMQ_FILE_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, bits, (int)blen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)secmq__unix_ms());
    return run(db, st, "saving progress");
}

int secmq__xdb_finish(secmq__xdb *db, const unsigned char *file_id, int state,
                      int reason, const char *path)
{
    sqlite3_stmt *st =
        prep(db, "UPDATE transfer SET state = ?2, reason = ?3, "
                 "path = coalesce(?4, path), manifest = NULL, bitmap = NULL, "
                 "updated_ms = ?5 WHERE file_id = ?1");

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_blob(st, 1, file_id, SECMQ_FILE_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int(st, 3, reason);
    if (path != NULL) {
        sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 5, (sqlite3_int64)secmq__unix_ms());
    return run(db, st, "ending a transfer");
}

int secmq__xdb_delete(secmq__xdb *db, const unsigned char *file_id)
{
    sqlite3_stmt *st = prep(db, "DELETE FROM transfer WHERE file_id = ?1");

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_blob(st, 1, file_id, SECMQ_FILE_ID_BYTES, SQLITE_STATIC);
    return run(db, st, "removing a transfer");
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? (const char *)src : "");
}

/* Fill row (and bits) from the current result row of st; columns as in
 * ROW_COLUMNS. */
#define ROW_COLUMNS                                                            \
    "file_id, role, state, manifest, bitmap, peer, path, src_size, "           \
    "src_mtime_ns, reason"

static void read_row(sqlite3_stmt *st, secmq__xrow *row, unsigned char *bits,
                     size_t blen)
{
    const void *b;
    size_t n;

    memset(row, 0, sizeof *row);
    b = sqlite3_column_blob(st, 0);
    n = (size_t)sqlite3_column_bytes(st, 0);
    if (b != NULL && n == SECMQ_FILE_ID_BYTES) {
        memcpy(row->file_id, b, n);
    }
    row->role = sqlite3_column_int(st, 1);
    row->state = sqlite3_column_int(st, 2);
    b = sqlite3_column_blob(st, 3);
    n = (size_t)sqlite3_column_bytes(st, 3);
    if (b != NULL && n <= sizeof row->manifest) {
        memcpy(row->manifest, b, n);
        row->manifest_len = n;
    }
    if (bits != NULL) {
        memset(bits, 0, blen);
        b = sqlite3_column_blob(st, 4);
        n = (size_t)sqlite3_column_bytes(st, 4);
        if (b != NULL) {
            memcpy(bits, b, n < blen ? n : blen);
        }
    }
    copy_text(row->peer, sizeof row->peer, sqlite3_column_text(st, 5));
    copy_text(row->path, sizeof row->path, sqlite3_column_text(st, 6));
    row->src_size = sqlite3_column_int64(st, 7);
    row->src_mtime_ns = sqlite3_column_int64(st, 8);
    row->reason = sqlite3_column_int(st, 9);
}

int secmq__xdb_get(secmq__xdb *db, const unsigned char *file_id,
                   secmq__xrow *row, unsigned char *bits, size_t blen)
{
    sqlite3_stmt *st =
        prep(db, "SELECT " ROW_COLUMNS " FROM transfer WHERE file_id = ?1");
    int rc;

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_blob(st, 1, file_id, SECMQ_FILE_ID_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_row(st, row, bits, blen);
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = fail(db, "reading a transfer");
    }
    sqlite3_finalize(st);
    return rc;
}

int secmq__xdb_find_source(secmq__xdb *db, const char *path, int64_t size,
                           int64_t mtime_ns, secmq__xrow *row)
{
    sqlite3_stmt *st = prep(db, "SELECT " ROW_COLUMNS
                                " FROM transfer WHERE role = ?1 AND state = ?2"
                                " AND path = ?3 AND src_size = ?4 AND "
                                "src_mtime_ns = ?5 LIMIT 1");
    int rc;

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_int(st, 1, SECMQ__XROLE_SEND);
    sqlite3_bind_int(st, 2, SECMQ__XST_ACTIVE);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, size);
    sqlite3_bind_int64(st, 5, mtime_ns);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_row(st, row, NULL, 0);
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = fail(db, "looking up a transfer");
    }
    sqlite3_finalize(st);
    return rc;
}

int secmq__xdb_active(secmq__xdb *db, int role, unsigned char *ids, size_t max)
{
    sqlite3_stmt *st = prep(db, "SELECT file_id FROM transfer WHERE role = ?1"
                                " AND state = ?2 ORDER BY updated_ms");
    size_t n = 0;
    int rc;

    if (st == NULL) {
        return SECMQ_E_IO;
    }
    sqlite3_bind_int(st, 1, role);
    sqlite3_bind_int(st, 2, SECMQ__XST_ACTIVE);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        if (n < max && b != NULL &&
            sqlite3_column_bytes(st, 0) == SECMQ_FILE_ID_BYTES) {
            memcpy(ids + n * SECMQ_FILE_ID_BYTES, b, SECMQ_FILE_ID_BYTES);
        }
        n++;
        if (n > 1000000u) {
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        return fail(db, "listing transfers");
    }
    sqlite3_finalize(st);
    return (int)n;
}
