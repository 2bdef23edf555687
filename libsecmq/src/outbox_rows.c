/*
 * outbox_rows.c -- the outbox file's rows: the scan at open, the commit of
 * inserts, deletes and quarantine records, reads checked against each
 * row's checksum, and the release of QoS 2 rows held aside.
 *
 * A row whose sum does not match, or whose record sqlite cannot read, is
 * set aside rather than sent, and the rows after it keep flowing. Creating,
 * checking and upgrading the file is outbox_store.c's; order and MQTT are
 * outbox.c's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "outbox_int.h"
#include "outbox_store_int.h"

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
const char *secmq__obst_row_shape(sqlite3_stmt *s)
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

void secmq__obst_sum_of(sqlite3_stmt *s, unsigned char out[SECMQ__OB_SUM_BYTES])
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
    const char *why = secmq__obst_row_shape(s);

    if (why != NULL) {
        return why;
    }
    if (sum == NULL || sqlite3_column_type(s, 7) != SQLITE_BLOB ||
        sqlite3_column_bytes(s, 7) != SECMQ__OB_SUM_BYTES) {
        return "its checksum is missing";
    }
    secmq__obst_sum_of(s, want);
    if (sodium_memcmp(want, sum, SECMQ__OB_SUM_BYTES) != 0) {
        return "its checksum does not match its contents";
    }
    return NULL;
}

/* Record id in the quarantine table (writer; one thread). SQLITE_OK or an
 * sqlite code. */
int secmq__obst_quarantine(secmq__obstore *st, uint64_t id, const char *reason)
{
    sqlite3_bind_int64(st->quar, 1, (sqlite3_int64)id);
    sqlite3_bind_text(st->quar, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->quar, 3, secmq__obst_now_ms());
    return secmq__obst_step_reset(st->quar);
}

/*
 * Read row id alone with ROW_COLS into s (prepared "... WHERE id = ?1").
 * SQLITE_ROW when it is readable (s positioned on it; the caller resets),
 * else the sqlite code (s reset).
 */
int secmq__obst_read_one(sqlite3_stmt *s, uint64_t id)
{
    int rc;

    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
    }
    return rc;
}

/* One int64 from a one-row query on the writer (0 for NULL). */
static int query_int(secmq__obstore *st, const char *sql, int64_t *out,
                     char *err, size_t errlen)
{
    int rc = secmq__obst_pragma_int(st, st->w, sql, out, err, errlen);

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
    rc = secmq__obst_prepare(
        st, st->w,
        "SELECT id, length(CAST(topic AS BLOB)) + length(payload), "
        "qos FROM outbox WHERE id >= ?1 AND " NOT_QUARANTINED " ORDER BY id",
        &s, err, errlen);
    if (rc == SECMQ_OK) {
        rc = secmq__obst_prepare(
            st, st->w, "SELECT " ROW_COLS " FROM outbox WHERE id = ?1", &one,
            err, errlen);
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
                rc = secmq__obst_fail(
                    err, errlen, SECMQ_E_DB,
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
        if (secmq__obst_map(rc) != SECMQ_E_DB ||
            next_id(st->w, &nx, from, &bad_id) != SQLITE_ROW ||
            secmq__obst_read_one(one, bad_id) == SQLITE_ROW) {
            rc = secmq__obst_dbfail(st->w, rc, st->path, "cannot read its rows",
                                    err, errlen);
            rc = rc == SECMQ_E_IO ? SECMQ_E_DB : rc;
            goto done;
        }
        if (secmq__obst_quarantine(st, bad_id, "unreadable") != SQLITE_OK) {
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
    {
        /* Set aside, by reason: kept QoS 2 rows, rows under an erased key,
         * and every other reason a damaged row's. */
        const struct {
            const char *sql;
            uint64_t *to;
        } counts[] = {
            {"SELECT count(*) FROM quarantine WHERE reason = "
             "'" SECMQ__OB_HELD_QOS2 "'",
             &info->held_qos2},
            {"SELECT count(*) FROM quarantine WHERE reason = "
             "'" SECMQ__OB_KEY_ERASED "'",
             &info->key_erased},
            {"SELECT count(*) FROM quarantine WHERE reason NOT IN "
             "('" SECMQ__OB_HELD_QOS2 "', '" SECMQ__OB_KEY_ERASED "')",
             &info->quarantined},
        };
        rc = SECMQ_OK;
        for (size_t i = 0; rc == SECMQ_OK && i < sizeof counts / sizeof *counts;
             i++) {
            rc = query_int(st, counts[i].sql, &v, err, errlen);
            *counts[i].to = rc == SECMQ_OK && v > 0 ? (uint64_t)v : 0;
        }
    }
    if (rc == SECMQ_OK) {
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
    int64_t t = secmq__obst_now_ms();
    int rc = sqlite3_exec(st->w, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        return secmq__obst_fail(
            err, errlen,
            secmq__obst_map(rc) == SECMQ_E_NOMEM ? SECMQ_E_NOMEM : SECMQ_E_IO,
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
        rc = secmq__obst_step_reset(st->ins);
    }
    for (size_t i = 0; i < nquars && rc == SQLITE_OK; i++) {
        rc = secmq__obst_quarantine(st, quars[i].id, quars[i].reason);
    }
    for (size_t i = 0; i < ndels && rc == SQLITE_OK; i++) {
        sqlite3_bind_int64(st->del, 1, (sqlite3_int64)dels[i]);
        rc = secmq__obst_step_reset(st->del);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(st->w, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int code = secmq__obst_map(rc);
        secmq__obst_fail(err, errlen, code == SECMQ_E_NOMEM ? code : SECMQ_E_IO,
                         "outbox %s: commit failed: %s", st->path,
                         sqlite3_errmsg(st->w));
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
                return secmq__obst_fail(err, errlen, SECMQ_E_NOMEM,
                                        "out of memory");
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
        if (secmq__obst_map(rc) != SECMQ_E_DB ||
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
        if (rc == SQLITE_ROW || secmq__obst_map(rc) != SECMQ_E_DB) {
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
        rc =
            secmq__obst_dbfail(st->r, rc, st->path, "cannot read", err, errlen);
        return rc == SECMQ_E_DB ? SECMQ_E_IO : rc;
    }
    return SECMQ_OK;
}

/* The ids held as SECMQ__OB_HELD_QOS2, ascending, into *ids (malloc'd).
 * SQLITE_OK or the sqlite code. */
static int held_ids(sqlite3 *db, uint64_t **ids, size_t *n)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id FROM quarantine WHERE reason = "
                                "'" SECMQ__OB_HELD_QOS2 "' ORDER BY id",
                                -1, &s, NULL);

    *ids = NULL;
    *n = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            uint64_t *p = realloc(*ids, ncap * sizeof *p);
            if (p == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            *ids = p;
            cap = ncap;
        }
        (*ids)[(*n)++] = (uint64_t)sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Release held row id (one = "SELECT ROW_COLS ... WHERE id = ?1" on the
 * writer) at qos; *damage set when it is damaged instead (its reason in the
 * quarantine table becomes that). SQLITE_OK or the sqlite code. */
static int release_one(secmq__obstore *st, sqlite3_stmt *one, uint64_t id,
                       int qos, size_t *bytes, const char **damage)
{
    static const char fix_sql[] =
        "UPDATE outbox SET qos = ?2, sum = ?3 WHERE id = ?1";
    sqlite3_stmt *s = NULL;
    unsigned char sum[SECMQ__OB_SUM_BYTES];
    int rc = secmq__obst_read_one(one, id);

    *bytes = 0;
    *damage = rc == SQLITE_ROW    ? row_damage(one)
              : rc == SQLITE_DONE ? "missing from the outbox table"
                                  : "unreadable";
    if (rc != SQLITE_ROW && rc != SQLITE_DONE &&
        secmq__obst_map(rc) != SECMQ_E_DB) {
        return rc;
    }
    if (*damage != NULL) {
        if (rc == SQLITE_ROW) {
            sqlite3_reset(one);
        }
        rc = sqlite3_prepare_v2(
            st->w, "UPDATE quarantine SET reason = ?2 WHERE id = ?1", -1, &s,
            NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
            sqlite3_bind_text(s, 2, *damage, -1, SQLITE_STATIC);
            rc = secmq__obst_step_reset(s);
        }
        sqlite3_finalize(s);
        return rc;
    }
    *bytes = (size_t)sqlite3_column_bytes(one, 1) +
             (size_t)sqlite3_column_bytes(one, 2);
    /* SECURITY: the new sum covers the new QoS; everything else is the
     * row as it was checked just now. */
    row_sum(sum, id, (const char *)sqlite3_column_text(one, 1),
            (size_t)sqlite3_column_bytes(one, 1), sqlite3_column_blob(one, 2),
            (size_t)sqlite3_column_bytes(one, 2), qos,
            sqlite3_column_int(one, 4), sqlite3_column_int(one, 5),
            sqlite3_column_int64(one, 6));
    sqlite3_reset(one);
    rc = sqlite3_prepare_v2(st->w, fix_sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        sqlite3_bind_int(s, 2, qos);
        sqlite3_bind_blob(s, 3, sum, sizeof sum, SQLITE_TRANSIENT);
        rc = secmq__obst_step_reset(s);
        sqlite3_finalize(s);
        s = NULL;
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(st->w, "DELETE FROM quarantine WHERE id = ?1",
                                -1, &s, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        rc = secmq__obst_step_reset(s);
    }
    sqlite3_finalize(s);
    return rc;
}

int secmq__obstore_release(secmq__obstore *st, int qos,
                           void (*fn)(void *ctx, uint64_t id, size_t bytes,
                                      const char *damage),
                           void *ctx, char *err, size_t errlen)
{
    sqlite3_stmt *one = NULL;
    uint64_t *ids = NULL;
    size_t n = 0;
    int rc = sqlite3_exec(st->w, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    if (rc == SQLITE_OK) {
        rc = held_ids(st->w, &ids, &n);
    }
    if (rc == SQLITE_OK && n > 0) {
        rc = sqlite3_prepare_v2(st->w,
                                "SELECT " ROW_COLS " FROM outbox WHERE id = ?1",
                                -1, &one, NULL);
    }
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        size_t bytes;
        const char *damage;
        rc = release_one(st, one, ids[i], qos, &bytes, &damage);
        if (rc == SQLITE_OK) {
            fn(ctx, ids[i], bytes, damage);
        }
    }
    sqlite3_finalize(one);
    free(ids);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(st->w, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int code =
            secmq__obst_map(rc) == SECMQ_E_NOMEM ? SECMQ_E_NOMEM : SECMQ_E_IO;
        secmq__obst_fail(err, errlen, code,
                         "outbox %s: cannot release the held QoS 2 rows: %s",
                         st->path, sqlite3_errmsg(st->w));
        sqlite3_exec(st->w, "ROLLBACK", NULL, NULL, NULL);
        return code;
    }
    return SECMQ_OK;
}
