/*
 * outbox_int.h -- private interface of the durable outbox.
 *
 * outbox_store.c is the only file that sees sqlite (the file, its checks,
 * transactions, reads); outbox.c holds the logic (commit thread, bounds,
 * order, in-flight rows) and talks to MQTT only through the hooks client.c
 * gives it. Nothing here is public API.
 */
#ifndef SECMQ_OUTBOX_INT_H
#define SECMQ_OUTBOX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "secmq_int.h"

/* ---- the store (outbox_store.c) ---- */

typedef struct secmq__obstore secmq__obstore;

/* One row. Strings and buffers belong to whoever filled the struct. */
typedef struct secmq__obrow {
    uint64_t id;
    char *topic;
    unsigned char *payload;
    size_t len;
    int qos;
    int retain;
    int sealed;
} secmq__obrow;

/*
 * Open or create the file (0600) with two connections (writer, reader),
 * WAL, the given synchronous mode, an exclusive flock. Returns SECMQ_OK,
 * SECMQ_E_DB (foreign, corrupt or other version: untouched), SECMQ_E_BUSY,
 * SECMQ_E_IO, SECMQ_E_NOMEM; err receives a sentence naming path.
 */
int secmq__obstore_open(secmq__obstore **out, const char *path, int sync_full,
                        char *err, size_t errlen);
/* Close both connections and the lock. NULL is a no-op. */
void secmq__obstore_close(secmq__obstore *st);

/* Call fn(ctx, id, bytes, qos) for every row in id order (writer side, at
 * open). Returns SECMQ_OK or SECMQ_E_DB/SECMQ_E_IO with err. */
int secmq__obstore_scan(secmq__obstore *st,
                        void (*fn)(void *ctx, uint64_t id, size_t bytes,
                                   int qos),
                        void *ctx, char *err, size_t errlen);

/* One transaction: insert rows, delete ids. Writer connection; one thread
 * at a time. Returns SECMQ_OK or SECMQ_E_IO with err (rolled back). */
int secmq__obstore_commit(secmq__obstore *st, const secmq__obrow *rows,
                          size_t nrows, const uint64_t *dels, size_t ndels,
                          char *err, size_t errlen);

/*
 * Read up to max_rows rows with from_id <= id <= to_id, in id order, calling
 * fn for each (fn takes ownership of topic and payload, which are malloc'd;
 * a non-zero return stops the read). Reader connection; one thread at a
 * time. Returns SECMQ_OK, SECMQ_E_NOMEM or SECMQ_E_IO with err.
 */
int secmq__obstore_load(secmq__obstore *st, uint64_t from_id, uint64_t to_id,
                        size_t max_rows,
                        int (*fn)(void *ctx, secmq__obrow *row), void *ctx,
                        char *err, size_t errlen);

/* ---- the outbox (outbox.c) ---- */

typedef struct secmq__outbox secmq__outbox;

/* What the outbox needs from the client (all called with ctx). */
typedef struct secmq__outbox_hooks {
    /* Hand a row to MQTT: SECMQ_OK with *mid set (QoS 1/2 queued by
     * libmosquitto even while disconnected), SECMQ_E_NO_CONN (QoS 0, not
     * sent), another code (never sendable, e.g. SECMQ_E_OVERSIZE). */
    int (*send)(void *ctx, int *mid, const char *topic, const void *payload,
                size_t len, int qos, int retain);
    void (*durable)(void *ctx, uint64_t id, int rc);
    void (*delivered)(void *ctx, uint64_t id, int rc);
    void *ctx;
    const secmq__log *log;
    secmq__err *err;
} secmq__outbox_hooks;

/* Checks cfg, opens the store, scans it, starts the commit thread. Codes as
 * secmq_client_set_outbox(); the detail goes to hooks->err. hooks is
 * copied. */
int secmq__outbox_open(secmq__outbox **out, const secmq_outbox_config *cfg,
                       const secmq__outbox_hooks *hooks);
/* Commit what is queued, stop the thread, close. NULL is a no-op. */
void secmq__outbox_free(secmq__outbox *ob);

/* Whether a publish at this QoS goes through the outbox. */
int secmq__outbox_wants(const secmq__outbox *ob, int qos);

/*
 * Queue one row (topic and payload copied; payload is what goes on the
 * wire). wait: return after the commit. Returns SECMQ_OK with *id, or
 * SECMQ_E_FULL, SECMQ_E_IO, SECMQ_E_NOMEM, SECMQ_E_STATE.
 */
int secmq__outbox_put(secmq__outbox *ob, uint64_t *id, const char *topic,
                      const void *payload, size_t len, int qos, int retain,
                      int sealed, int wait);

/* The broker accepted the connection (loop thread, inside on_connect). */
void secmq__outbox_connected(secmq__outbox *ob);
/* The link is gone (loop thread, inside on_disconnect). */
void secmq__outbox_disconnected(secmq__outbox *ob);
/* MQTT is going away (before mosquitto_destroy): once this returns no
 * thread is handing a row, and none will again. */
void secmq__outbox_detach(secmq__outbox *ob);
/* A publish completed: 1 if mid was an outbox row (handled), else 0. */
int secmq__outbox_completed(secmq__outbox *ob, int mid, int rc);

void secmq__outbox_stats(secmq__outbox *ob, secmq_outbox_stats *st);
int secmq__outbox_wait(secmq__outbox *ob, int what, int timeout_ms);

#endif /* SECMQ_OUTBOX_INT_H */
