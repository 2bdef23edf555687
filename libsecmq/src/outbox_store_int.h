/*
 * outbox_store_int.h -- what outbox_store.c and outbox_rows.c share: the
 * store's struct, the row columns and the sqlite helpers. Only those two
 * files include it (they are the only ones that see sqlite for the
 * outbox).
 */
#ifndef SECMQ_OUTBOX_STORE_INT_H
#define SECMQ_OUTBOX_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "outbox_int.h"

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

/* err <- the formatted sentence; returns code. */
int secmq__obst_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    SECMQ_PRINTF(4, 5);
/* sqlite result -> SECMQ code: damaged or foreign files are SECMQ_E_DB. */
int secmq__obst_map(int rc);
/* err <- "outbox PATH: what: sqlite's message"; returns the mapped code. */
int secmq__obst_dbfail(sqlite3 *db, int rc, const char *path, const char *what,
                       char *err, size_t errlen);
/* Prepare sql on db into *s: SECMQ_OK or the mapped code with err. */
int secmq__obst_prepare(secmq__obstore *st, sqlite3 *db, const char *sql,
                        sqlite3_stmt **s, char *err, size_t errlen);
/* One int64 from a one-row query: SECMQ_OK or the mapped code with err. */
int secmq__obst_pragma_int(secmq__obstore *st, sqlite3 *db, const char *sql,
                           int64_t *out, char *err, size_t errlen);
/* Wall clock in ms (the rows' created_ms, quarantine's found_ms). */
int64_t secmq__obst_now_ms(void);
/* Step a statement that returns no row, reset it: SQLITE_OK or the code. */
int secmq__obst_step_reset(sqlite3_stmt *s);

/* outbox_rows.c */

/* NULL when the row s is on (ROW_COLS) has the right types and ranges,
 * else a static phrase saying what is wrong. */
const char *secmq__obst_row_shape(sqlite3_stmt *s);
/* The checksum of the row s is on (ROW_COLS). */
void secmq__obst_sum_of(sqlite3_stmt *s,
                        unsigned char out[SECMQ__OB_SUM_BYTES]);
/* Record id in the quarantine table (writer, st->quar prepared):
 * SQLITE_OK or the sqlite code. */
int secmq__obst_quarantine(secmq__obstore *st, uint64_t id, const char *reason);
/* Read row id alone with s ("SELECT ROW_COLS ... WHERE id = ?1"):
 * SQLITE_ROW with s on it (the caller resets), else the code (s reset). */
int secmq__obst_read_one(sqlite3_stmt *s, uint64_t id);

#endif /* SECMQ_OUTBOX_STORE_INT_H */
