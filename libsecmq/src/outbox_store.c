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

#include <sodium.h>
#include <sqlite3.h>

#include "outbox_int.h"

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

/* The columns a row is read with, and checked against its sum. */
#define ROW_COLS                                                               \
    "id, topic, payload, qos, retain, sealed, created_ms, sum, "               \
    "typeof(topic), typeof(payload)"
#define NOT_QUARANTINED "id NOT IN (SELECT id FROM quarantine)"

struct secmq__obstore {
    char *path;
    int lock_fd; /* flock: one process per file; closed last */
    sqlite3 *w;  /* writer: the commit thread (and open/scan) */
    sqlite3 *r;  /* reader: whoever hands rows to MQTT */
    sqlite3_stmt *ins, *del, *sel, *quar, *next;
    int upgraded;       /* a version 1 file was upgraded at open */
    size_t upgrade_bad; /* rows set aside by the upgrade */
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

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/*
 * The row's checksum: BLAKE2b-128 (no key) over a fixed context, the id,
 * QoS, retain, sealed, the time it was queued, the topic and the payload,
 * each length-prefixed. It finds damage (a changed byte, a row moved to
 * another id), not a forger: whoever can write the file can write a sum.
 */
static void row_sum(unsigned char out[SECMQ__OB_SUM_BYTES], uint64_t id,
                    const char *topic, size_t tlen, const void *payload,
                    size_t plen, int qos, int retain, int sealed,
                    int64_t created_ms)
{
    static const unsigned char ctx[8] = {'S', 'Q', 'O', 'B',
                                         'r', 'o', 'w', '2'};
    crypto_generichash_state h;
    unsigned char hdr[8 + 3 + 8 + 8];

    put_be(hdr, id, 8);
    hdr[8] = (unsigned char)qos;
    hdr[9] = (unsigned char)retain;
    hdr[10] = (unsigned char)sealed;
    put_be(hdr + 11, (uint64_t)created_ms, 8);
    put_be(hdr + 19, (uint64_t)tlen, 8);
    crypto_generichash_init(&h, NULL, 0, SECMQ__OB_SUM_BYTES);
    crypto_generichash_update(&h, ctx, sizeof ctx);
    crypto_generichash_update(&h, hdr, sizeof hdr);
    crypto_generichash_update(&h, (const unsigned char *)topic, tlen);
    put_be(hdr, (uint64_t)plen, 8);
    crypto_generichash_update(&h, hdr, 8);
    if (plen > 0) {
        crypto_generichash_update(&h, payload, plen);
    }
    crypto_generichash_final(&h, out, SECMQ__OB_SUM_BYTES);
}

/*
 * Check a row read with ROW_COLS (s on it). NULL when it is sound, else a
 * phrase saying what is wrong.
 */
static const char *row_shape(sqlite3_stmt *s)
{
    const unsigned char *topic;
    int64_t qos, retain, sealed;
    int tlen;

    if (sqlite3_column_type(s, 1) != SQLITE_TEXT ||
        sqlite3_column_type(s, 2) != SQLITE_BLOB ||
        sqlite3_column_type(s, 3) != SQLITE_INTEGER ||
        sqlite3_column_type(s, 4) != SQLITE_INTEGER ||
        sqlite3_column_type(s, 5) != SQLITE_INTEGER ||
        sqlite3_column_type(s, 6) != SQLITE_INTEGER) {
        return "a column has the wrong type";
    }
    qos = sqlite3_column_int64(s, 3);
    retain = sqlite3_column_int64(s, 4);
    sealed = sqlite3_column_int64(s, 5);
    if (qos < 0 || qos > 2 || (retain != 0 && retain != 1) ||
        (sealed != 0 && sealed != 1)) {
        return "QoS, retain or sealed out of range";
    }
    topic = sqlite3_column_text(s, 1);
    tlen = sqlite3_column_bytes(s, 1);
    if (topic == NULL || tlen <= 0 ||
        memchr(topic, '\0', (size_t)tlen) != NULL) {
        return "its topic is unreadable";
    }
    return NULL;
}

static void sum_of(sqlite3_stmt *s, unsigned char out[SECMQ__OB_SUM_BYTES])
{
    int plen = sqlite3_column_bytes(s, 2);

    row_sum(out, (uint64_t)sqlite3_column_int64(s, 0),
            (const char *)sqlite3_column_text(s, 1),
            (size_t)sqlite3_column_bytes(s, 1), sqlite3_column_blob(s, 2),
            plen > 0 ? (size_t)plen : 0, sqlite3_column_int(s, 3),
            sqlite3_column_int(s, 4), sqlite3_column_int(s, 5),
            sqlite3_column_int64(s, 6));
}

/* row_shape, then the sum: NULL when the row is sound. */
static const char *row_damage(sqlite3_stmt *s)
{
    unsigned char want[SECMQ__OB_SUM_BYTES];
    const unsigned char *sum = sqlite3_column_blob(s, 7);
    const char *why = row_shape(s);

    if (why != NULL) {
        return why;
    }
    if (sum == NULL || sqlite3_column_type(s, 7) != SQLITE_BLOB ||
        sqlite3_column_bytes(s, 7) != SECMQ__OB_SUM_BYTES) {
        return "its checksum is missing";
    }
    sum_of(s, want);
    if (sodium_memcmp(want, sum, SECMQ__OB_SUM_BYTES) != 0) {
        return "its checksum does not match its contents";
    }
    return NULL;
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
static int check_file(secmq__obstore *st, int *fresh, int *old, char *err,
                      size_t errlen)
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
    *old = ver == 1;
    if (ver != OB_VERSION && ver != 1) {
        return fail(err, errlen, SECMQ_E_DB,
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

/* Record id in the quarantine table (writer; one thread). SQLITE_OK or an
 * sqlite code. */
static int quarantine_one(secmq__obstore *st, uint64_t id, const char *reason)
{
    sqlite3_bind_int64(st->quar, 1, (sqlite3_int64)id);
    sqlite3_bind_text(st->quar, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->quar, 3, now_ms());
    return step_reset(st->quar);
}

/*
 * Read row id alone with ROW_COLS into s (prepared "... WHERE id = ?1").
 * SQLITE_ROW when it is readable (s positioned on it; the caller resets),
 * else the sqlite code (s reset).
 */
static int read_one(sqlite3_stmt *s, uint64_t id)
{
    int rc;

    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
    }
    return rc;
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
        (rc = prepare(st, st->w, "SELECT id FROM outbox ORDER BY id", &ids, err,
                      errlen)) != SECMQ_OK ||
        (rc =
             prepare(st, st->w, "SELECT " ROW_COLS " FROM outbox WHERE id = ?1",
                     &one, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->w, "UPDATE outbox SET sum = ?2 WHERE id = ?1",
                      &upd, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->w,
                      "INSERT OR IGNORE INTO quarantine(id, reason, found_ms) "
                      "VALUES (?1, ?2, ?3)",
                      &st->quar, err, errlen)) != SECMQ_OK) {
        goto done;
    }
    while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
        if (secmq__outbox_push_id(
                &v, &n, &cap, (uint64_t)sqlite3_column_int64(ids, 0)) != 0) {
            rc = fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(st->w, rc, st->path, "cannot list its rows", err, errlen);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char sum[SECMQ__OB_SUM_BYTES];
        const char *why = "unreadable when upgraded to version 2";

        rc = read_one(one, v[i]);
        if (rc == SQLITE_ROW && (why = row_shape(one)) == NULL) {
            sum_of(one, sum);
            sqlite3_reset(one);
            sqlite3_bind_int64(upd, 1, (sqlite3_int64)v[i]);
            sqlite3_bind_blob(upd, 2, sum, sizeof sum, SQLITE_TRANSIENT);
            rc = step_reset(upd);
        } else {
            if (rc == SQLITE_ROW) {
                sqlite3_reset(one);
            }
            bad++;
            rc = quarantine_one(st, v[i], why);
        }
        if (rc != SQLITE_OK) {
            rc = db_fail(st->w, rc, st->path, "cannot upgrade it", err, errlen);
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
        return fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
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
        (rc = prepare(st, st->w,
                      "INSERT INTO outbox(id, topic, payload, qos, retain, "
                      "sealed, created_ms, sum) VALUES (?1, ?2, ?3, ?4, ?5, "
                      "?6, ?7, ?8)",
                      &st->ins, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->w, "DELETE FROM outbox WHERE id = ?1", &st->del,
                      err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->w,
                      "INSERT OR IGNORE INTO quarantine(id, reason, found_ms) "
                      "VALUES (?1, ?2, ?3)",
                      &st->quar, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->r,
                      "SELECT " ROW_COLS " FROM outbox WHERE id >= ?1 AND "
                      "id <= ?2 AND " NOT_QUARANTINED " ORDER BY id LIMIT ?3",
                      &st->sel, err, errlen)) != SECMQ_OK ||
        (rc = prepare(st, st->r,
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

/* One int64 from a one-row query on the writer (0 for NULL). */
static int query_int(secmq__obstore *st, const char *sql, int64_t *out,
                     char *err, size_t errlen)
{
    int rc = pragma_int(st, st->w, sql, out, err, errlen);

    return rc == SECMQ_E_IO ? SECMQ_E_DB : rc;
}

/*
 * The first row id >= from that is not quarantined, on db with the
 * statement *s prepared here once. SQLITE_ROW with *id, SQLITE_DONE, or
 * an error.
 */
static int next_id(sqlite3 *db, sqlite3_stmt **s, uint64_t from, uint64_t *id)
{
    int rc = SQLITE_OK;

    if (*s == NULL) {
        rc = sqlite3_prepare_v2(db,
                                "SELECT id FROM outbox WHERE id >= ?1 AND "
                                "id <= ?2 AND " NOT_QUARANTINED
                                " ORDER BY id LIMIT 1",
                                -1, s, NULL);
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    sqlite3_bind_int64(*s, 1, (sqlite3_int64)from);
    sqlite3_bind_int64(*s, 2, INT64_MAX);
    rc = sqlite3_step(*s);
    if (rc == SQLITE_ROW) {
        *id = (uint64_t)sqlite3_column_int64(*s, 0);
    }
    sqlite3_reset(*s);
    return rc;
}

int secmq__obstore_scan(secmq__obstore *st, secmq__obscan_fn fn,
                        secmq__obbad_fn bad, void *ctx, secmq__obscan *info,
                        char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL, *one = NULL, *nx = NULL;
    uint64_t from = 1;
    int64_t v = 0;
    int rc;

    memset(info, 0, sizeof *info);
    info->upgraded = st->upgraded;
    info->upgrade_bad = st->upgrade_bad;
    if ((rc = query_int(st, "SELECT max(id) FROM outbox", &v, err, errlen)) !=
        SECMQ_OK) {
        return rc;
    }
    info->max_id = v > 0 ? (uint64_t)v : 0;
    rc = prepare(st, st->w,
                 "SELECT id, length(CAST(topic AS BLOB)) + length(payload), "
                 "qos FROM outbox WHERE id >= ?1 AND " NOT_QUARANTINED
                 " ORDER BY id",
                 &s, err, errlen);
    if (rc == SECMQ_OK) {
        rc = prepare(st, st->w, "SELECT " ROW_COLS " FROM outbox WHERE id = ?1",
                     &one, err, errlen);
    }
    if (rc != SECMQ_OK) {
        rc = rc == SECMQ_E_IO ? SECMQ_E_DB : rc;
        goto done;
    }
    /* A row whose record sqlite cannot read stops the statement: find its
     * id from the table's keys alone, make sure that row alone is
     * unreadable (else the damage is not the row's: refuse the file), set
     * it aside and go on after it. Each round passes one row. */
    for (;;) {
        uint64_t bad_id = 0;

        sqlite3_bind_int64(s, 1, (sqlite3_int64)from);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(s, 0);
            int64_t bytes = sqlite3_column_int64(s, 1);
            if (id <= 0 || bytes < 0 || (uint64_t)id < from) {
                /* Keys out of order or repeated: the table itself is
                 * damaged, not one row. */
                rc = fail(err, errlen, SECMQ_E_DB,
                          "outbox %s: invalid row %" PRId64
                          " (the table is damaged); the file is left as it "
                          "is",
                          st->path, id);
                goto done;
            }
            fn(ctx, (uint64_t)id, (size_t)bytes, sqlite3_column_int(s, 2));
            from = (uint64_t)id + 1;
        }
        sqlite3_reset(s);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (map_sqlite(rc) != SECMQ_E_DB ||
            next_id(st->w, &nx, from, &bad_id) != SQLITE_ROW ||
            read_one(one, bad_id) == SQLITE_ROW) {
            rc = db_fail(st->w, rc, st->path, "cannot read its rows", err,
                         errlen);
            rc = rc == SECMQ_E_IO ? SECMQ_E_DB : rc;
            goto done;
        }
        if (quarantine_one(st, bad_id, "unreadable") != SQLITE_OK) {
            /* Not recorded (e.g. a full disk): skipped this time, found
             * again at the next open. */
            bad(ctx, bad_id,
                "unreadable (and the quarantine could not be "
                "recorded)");
        } else {
            bad(ctx, bad_id, "unreadable");
        }
        from = bad_id + 1;
    }
    rc = query_int(st, "SELECT count(*) FROM quarantine", &v, err, errlen);
    if (rc == SECMQ_OK) {
        info->quarantined = v > 0 ? (uint64_t)v : 0;
        rc = query_int(st, "SELECT max(id) FROM quarantine", &v, err, errlen);
    }
    if (rc == SECMQ_OK && v > 0 && (uint64_t)v > info->max_id) {
        info->max_id = (uint64_t)v;
    }
done:
    sqlite3_finalize(s);
    sqlite3_finalize(one);
    sqlite3_finalize(nx);
    return rc;
}

int secmq__obstore_commit(secmq__obstore *st, const secmq__obrow *rows,
                          size_t nrows, const uint64_t *dels, size_t ndels,
                          const secmq__obquar *quars, size_t nquars, char *err,
                          size_t errlen)
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
        unsigned char sum[SECMQ__OB_SUM_BYTES];

        /* SECURITY: the sum covers every column that is sent, so a byte
         * changed on disk is found before the row reaches the network. */
        row_sum(sum, r->id, r->topic, strlen(r->topic), r->payload, r->len,
                r->qos, r->retain, r->sealed, t);
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
        sqlite3_bind_blob(st->ins, 8, sum, sizeof sum, SQLITE_TRANSIENT);
        rc = step_reset(st->ins);
    }
    for (size_t i = 0; i < nquars && rc == SQLITE_OK; i++) {
        rc = quarantine_one(st, quars[i].id, quars[i].reason);
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

/* Copy a sound row (s on ROW_COLS) into row: 0, or -1 (no memory). */
static int copy_row(sqlite3_stmt *s, secmq__obrow *row)
{
    const void *blob = sqlite3_column_blob(s, 2);
    int blen = sqlite3_column_bytes(s, 2);

    row->qos = sqlite3_column_int(s, 3);
    row->retain = sqlite3_column_int(s, 4);
    row->sealed = sqlite3_column_int(s, 5);
    row->len = blen > 0 ? (size_t)blen : 0;
    if (secmq__strdup_opt(&row->topic,
                          (const char *)sqlite3_column_text(s, 1)) != 0 ||
        (row->payload = malloc(row->len > 0 ? row->len : 1)) == NULL) {
        free(row->topic);
        row->topic = NULL;
        return -1;
    }
    if (row->len > 0) {
        memcpy(row->payload, blob, row->len);
    }
    return 0;
}

int secmq__obstore_load(secmq__obstore *st, uint64_t from_id, uint64_t to_id,
                        size_t max_rows,
                        int (*fn)(void *ctx, secmq__obrow *row), void *ctx,
                        char *err, size_t errlen)
{
    sqlite3_stmt *s = st->sel;
    size_t n = 0;
    int rc = SQLITE_DONE, stop = 0;

    if (to_id > INT64_MAX) {
        to_id = INT64_MAX;
    }
    /* A damaged row is handed to fn with damage set (never its bytes); a
     * row sqlite cannot read stops the statement: it is found by its key,
     * checked alone, handed as damaged, and the read goes on after it. */
    while (!stop && n < max_rows && from_id <= to_id) {
        uint64_t bad_id = 0;

        sqlite3_bind_int64(s, 1, (sqlite3_int64)from_id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)to_id);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)(max_rows - n));
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            secmq__obrow row;

            memset(&row, 0, sizeof row);
            row.id = (uint64_t)sqlite3_column_int64(s, 0);
            from_id = row.id + 1;
            n++;
            row.damage = row_damage(s);
            if (row.damage == NULL && copy_row(s, &row) != 0) {
                sqlite3_reset(s);
                return fail(err, errlen, SECMQ_E_NOMEM, "out of memory");
            }
            if (fn(ctx, &row) != 0) {
                stop = 1;
                break;
            }
        }
        sqlite3_reset(s);
        if (stop || rc == SQLITE_DONE) {
            break;
        }
        if (map_sqlite(rc) != SECMQ_E_DB ||
            next_id(st->r, &st->next, from_id, &bad_id) != SQLITE_ROW ||
            bad_id > to_id) {
            break; /* rc: not a row's damage */
        }
        /* The row alone: unreadable, or the damage is not the row's. */
        sqlite3_bind_int64(s, 1, (sqlite3_int64)bad_id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)bad_id);
        sqlite3_bind_int64(s, 3, 1);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_ROW || map_sqlite(rc) != SECMQ_E_DB) {
            rc = rc == SQLITE_ROW ? SQLITE_CORRUPT : rc;
            break;
        }
        {
            secmq__obrow row;

            memset(&row, 0, sizeof row);
            row.id = bad_id;
            row.damage = "unreadable";
            from_id = bad_id + 1;
            n++;
            rc = SQLITE_DONE;
            if (fn(ctx, &row) != 0) {
                break;
            }
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = db_fail(st->r, rc, st->path, "cannot read", err, errlen);
        return rc == SECMQ_E_DB ? SECMQ_E_IO : rc;
    }
    return SECMQ_OK;
}
