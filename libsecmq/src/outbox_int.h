/*
 * outbox_int.h -- private interface of the durable outbox.
 *
 * outbox_store.c and outbox_rows.c are the only files that see sqlite (the
 * file, its checks, transactions, checked reads); outbox.c (state, order,
 * handing, in-flight rows) and outbox_commit.c (bounds, queue, commit thread)
 * hold the logic and talk to MQTT only through the hooks client_outbox.c gives
 * them. Nothing here is public API.
 */
#ifndef SECMQ_OUTBOX_INT_H
#define SECMQ_OUTBOX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "secmq_int.h"

/* ---- the store (outbox_store.c, outbox_rows.c) ---- */

typedef struct secmq__obstore secmq__obstore;

/* Bytes of a row's checksum (BLAKE2b-128, column sum). */
#define SECMQ__OB_SUM_BYTES 16

/* One row. Strings and buffers belong to whoever filled the struct. */
typedef struct secmq__obrow {
    uint64_t id;
    char *topic;
    unsigned char *payload;
    size_t len;
    int qos;
    int retain;
    int sealed;
    /* Read back: NULL for a sound row; else what is wrong with it (a
     * static phrase) and topic and payload are NULL. */
    const char *damage;
} secmq__obrow;

/* A row to set aside in the quarantine table; reason is static. */
typedef struct secmq__obquar {
    uint64_t id;
    const char *reason;
} secmq__obquar;

/* The quarantine table's reason for a QoS 2 row set aside because the
 * broker does not do QoS 2 (kept, not damaged; see outbox_held.c). */
#define SECMQ__OB_HELD_QOS2 "qos2-unsupported"
/* Its reason for a sealed row whose key the keyring has erased (an epoch
 * of a ratcheted channel, or a rotated key past its grace) before the row
 * was sent: receivers would refuse it, and it cannot be sealed again (the
 * plaintext is not kept). Every other reason there is a damaged row's. */
#define SECMQ__OB_KEY_ERASED "key-erased"

/* What the scan at open found besides the live rows. */
typedef struct secmq__obscan {
    uint64_t max_id;      /* largest id in the file, set-aside rows too */
    uint64_t quarantined; /* damaged rows in the quarantine table */
    uint64_t held_qos2;   /* rows there as SECMQ__OB_HELD_QOS2 */
    uint64_t key_erased;  /* rows there as SECMQ__OB_KEY_ERASED */
    int upgraded;         /* a version 1 file was upgraded */
    size_t upgrade_bad;   /* rows the upgrade set aside */
} secmq__obscan;

typedef void (*secmq__obscan_fn)(void *ctx, uint64_t id, size_t bytes, int qos);
typedef void (*secmq__obbad_fn)(void *ctx, uint64_t id, const char *reason);

/*
 * Open or create the file (0600) with two connections (writer, reader),
 * WAL, the given synchronous mode, an exclusive flock; a version 1 file is
 * upgraded to version 2 in one transaction. Returns SECMQ_OK, SECMQ_E_DB
 * (foreign, corrupt or newer version: untouched), SECMQ_E_BUSY,
 * SECMQ_E_IO, SECMQ_E_NOMEM; err receives a sentence naming path.
 */
int secmq__obstore_open(secmq__obstore **out, const char *path, int sync_full,
                        char *err, size_t errlen);
/* Close both connections and the lock. NULL is a no-op. */
void secmq__obstore_close(secmq__obstore *st);

/*
 * At open (writer side): call fn(ctx, id, bytes, qos) for every row not
 * set aside, in id order; a row sqlite cannot read is recorded in the
 * quarantine table and reported through bad(ctx, id, reason); *info is
 * filled. Returns SECMQ_OK or SECMQ_E_DB/SECMQ_E_IO with err (damage that
 * is not one row's: the file is refused).
 */
int secmq__obstore_scan(secmq__obstore *st, secmq__obscan_fn fn,
                        secmq__obbad_fn bad, void *ctx, secmq__obscan *info,
                        char *err, size_t errlen);

/* One transaction: insert rows (each with its checksum), delete ids,
 * record quarantined ids. Writer connection; one thread at a time.
 * Returns SECMQ_OK or SECMQ_E_IO with err (rolled back). */
int secmq__obstore_commit(secmq__obstore *st, const secmq__obrow *rows,
                          size_t nrows, const uint64_t *dels, size_t ndels,
                          const secmq__obquar *quars, size_t nquars, char *err,
                          size_t errlen);

/*
 * Read up to max_rows rows with from_id <= id <= to_id that are not set
 * aside, in id order, calling fn for each (fn takes ownership of topic and
 * payload, which are malloc'd; a non-zero return stops the read). Each row
 * is checked against its checksum first: a damaged or unreadable one is
 * handed with damage set and no bytes. Reader connection; one thread at a
 * time. Returns SECMQ_OK, SECMQ_E_NOMEM or SECMQ_E_IO with err.
 */
int secmq__obstore_load(secmq__obstore *st, uint64_t from_id, uint64_t to_id,
                        size_t max_rows,
                        int (*fn)(void *ctx, secmq__obrow *row), void *ctx,
                        char *err, size_t errlen);

/*
 * Put the rows set aside as SECMQ__OB_HELD_QOS2 back in the queue, in one
 * transaction: at qos 1 each row's QoS and checksum are rewritten, at qos 2
 * they are left as they are; their quarantine records are deleted. fn(ctx,
 * id, bytes, damage) is called for each row in id order: damage NULL when
 * it was released, else the row is damaged and stays in the quarantine
 * table as such (reason damage, a static phrase). Writer connection: the
 * caller makes sure no commit runs. Returns SECMQ_OK, SECMQ_E_NOMEM or
 * SECMQ_E_IO with err (rolled back: nothing changed, fn's calls void).
 */
int secmq__obstore_release(secmq__obstore *st, int qos,
                           void (*fn)(void *ctx, uint64_t id, size_t bytes,
                                      const char *damage),
                           void *ctx, char *err, size_t errlen);

/* ---- the outbox (outbox.c, outbox_commit.c, outbox_held.c) ---- */

typedef struct secmq__outbox secmq__outbox;

/* What a row held for receipts waits for (outbox_rcpt.c). */
typedef struct secmq__obrc {
    unsigned char key_id[SECMQ_ID_BYTES];
    uint64_t seq;
    long chan;         /* the keyring's channel index */
    unsigned n_rcpt;   /* receipters of the channel */
    unsigned self_idx; /* this identity among them, or n_rcpt */
    unsigned need;     /* distinct receipters needed, >= 1 */
} secmq__obrc;

/* What the outbox needs from the client (all called with ctx). */
typedef struct secmq__outbox_hooks {
    /* Hand a row to MQTT: SECMQ_OK with *mid set (QoS 1/2 queued by
     * libmosquitto even while disconnected), SECMQ_E_NO_CONN (QoS 0, not
     * sent), another code (never sendable, e.g. SECMQ_E_OVERSIZE). */
    int (*send)(void *ctx, int *mid, const char *topic, const void *payload,
                size_t len, int qos, int retain);
    void (*durable)(void *ctx, uint64_t id, int rc);
    void (*delivered)(void *ctx, uint64_t id, int rc);
    /* 1 and *out filled when a sealed row (payload, the envelope) waits
     * for receipts; NULL: no row does. */
    int (*classify)(void *ctx, const void *payload, size_t len,
                    secmq__obrc *out);
    /* A held row settled (before its delivered). */
    void (*receipt)(void *ctx, uint64_t id, int rc, unsigned got,
                    unsigned need);
    /* The names of the receipters of chan not in bits (n bits, self_idx
     * skipped), comma-separated, into buf. */
    void (*missing)(void *ctx, long chan, unsigned self_idx,
                    const unsigned char *bits, unsigned n, char *buf,
                    size_t len);
    /* 1 when a sealed row (payload, the envelope) is under a key id the
     * keyring knew and has erased, now: never to be sent. NULL: never.
     * Called with the outbox's lock held, once per row about to be
     * handed: cheap (a header parse and a key id lookup). */
    int (*key_erased)(void *ctx, const void *payload, size_t len);
    void *ctx;
    const secmq__log *log;
    secmq__err *err;
} secmq__outbox_hooks;

/* Checks cfg, opens the store, scans it, starts the commit thread. Codes as
 * secmq_client_set_outbox(); the detail goes to hooks->err. hooks is
 * copied. */
int secmq__outbox_open(secmq__outbox **out, const secmq_outbox_config *cfg,
                       const secmq__outbox_hooks *hooks);
/* How held rows wait (secmq_client_set_receipt_wait; checked); before
 * connecting. */
void secmq__outbox_set_receipt_wait(secmq__outbox *ob,
                                    const secmq_receipt_wait *w);
/* A receipt's range from receipter who of channel chan (client_rcptin.c,
 * loop thread): ticks the rows it covers off; settled rows are reported
 * before this returns, and handing goes on. */
void secmq__outbox_receipt(secmq__outbox *ob, long chan,
                           const unsigned char *key_id, uint64_t first,
                           uint32_t count, size_t who);
/* Rows held for receipts now; where row id stands (SECMQ_E_INVAL: not in
 * the outbox). */
uint64_t secmq__outbox_awaiting(secmq__outbox *ob, uint64_t *receipted,
                                uint64_t *resent, uint64_t *missed);
int secmq__outbox_row(secmq__outbox *ob, uint64_t id, secmq_receipt_row *st);
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

/* outbox_held.c. The broker answered QoS 2 with PUBACK (loop thread,
 * inside on_disconnect): every committed QoS 2 row is set aside, kept in
 * the file, reported to on_delivered with SECMQ_E_QOS_UNSUPPORTED. */
void secmq__outbox_qos2_refused(secmq__outbox *ob);
/* secmq_client_outbox_release_qos2() without the client's checks: codes as
 * documented there (SECMQ_E_STATE while rows are in flight). */
int secmq__outbox_release_qos2(secmq__outbox *ob, int qos, uint64_t *count);

void secmq__outbox_stats(secmq__outbox *ob, secmq_outbox_stats *st);
int secmq__outbox_wait(secmq__outbox *ob, int what, int timeout_ms);

/* ---- inside the outbox: shared by outbox.c and outbox_commit.c only ---- */

/* In-flight entries beyond max_inflight for rows held for receipts that
 * a reconnect hands again at once (outbox_rcpt.c). */
#define OB_URGENT_MAX 1024

enum live_state {
    L_PENDING = 0, /* queued, not committed yet */
    L_STORED = 1,  /* committed, not handed to MQTT */
    L_HANDED = 2,  /* handed to MQTT, awaiting its ack */
    L_GONE = 3,    /* deleted (ack, drop, failure) */
    L_AWAIT = 4    /* acknowledged, held for receipts (outbox_rcpt.c) */
};

/* Every row that is not gone, in id order: for bounds, drops and stats. */
struct live {
    uint64_t id;
    size_t bytes;
    int state;
    int qos;
};

struct waiter {
    int done;
    int rc;
};

/* A row with its bytes: queued for commit, or ready to hand. */
struct entry {
    struct entry *next;
    secmq__obrow row;
    size_t bytes;
    int async;
    struct waiter *waiter; /* sync publisher waiting for the commit */
};

struct inflight {
    int mid;
    int qos;
    uint64_t id;
};

/* Reports made after the lock is released. */
struct report {
    uint64_t id;
    int rc;
};

struct secmq__outbox {
    secmq__obstore *st;
    secmq__outbox_hooks h;
    secmq_outbox_config cfg;
    char *path;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t work;  /* the commit thread waits here */
    pthread_cond_t done;  /* waiters for commits and for the empty state */
    pthread_t thread;
    int thread_started;
    int stop;
    int committing;

    uint64_t next_id;
    uint64_t committed_upto; /* every id up to here is committed or gone */
    uint64_t hand_cursor;    /* every stored row below it was handed */
    uint64_t durable_gate;   /* rows from this id on wait while the commit
                                thread reports their on_durable (0: none) */

    struct entry *pend_head, *pend_tail;
    size_t pend_n;
    uint64_t *dels;
    size_t dels_n, dels_cap;

    struct entry *ready_head, *ready_tail; /* stored rows to hand, id order */
    size_t ready_bytes;
    int ready_complete; /* ready holds every stored row >= hand_cursor */
    uint64_t *rehand;   /* QoS 0 rows the link lost, to hand again */
    size_t rehand_n, rehand_cap;

    struct live *idx;
    size_t idx_head, idx_n, idx_cap;

    struct inflight *inf;
    int inf_n;
    int connected;
    int detached;    /* MQTT is gone: never hand again */
    int resume_wait; /* after a reconnect: wait for libmosquitto's resends */
    int resend_now;  /* after a reconnect: rows held for receipts in rehand
                        go first, past resume_wait and max_inflight */

    struct report *async_buf; /* the commit thread's, max_batch each */
    secmq__obrow *rows_buf;

    secmq__obquar *quars; /* damaged rows to record in the quarantine */
    size_t quars_n, quars_cap;
    uint64_t *bad_ids; /* damaged rows to report to on_delivered */
    size_t bad_n, bad_cap;
    uint64_t *held_ids; /* QoS 2 rows set aside to report (outbox_held.c) */
    size_t held_n, held_cap;
    uint64_t *erased_ids; /* rows under an erased key, to report */
    size_t erased_n, erased_cap;
    int qos2_refused;       /* the broker answered QoS 2 with PUBACK */
    int bad_kick;           /* pump left some: the commit thread pumps again */
    size_t committing_dels; /* deletes in the transaction being written */
    int last_commit_rc;     /* of the last transaction with deletes */
    int read_rc;            /* reading rows to hand failed (not one row) */
    int64_t last_err_ms;

    /* Rows held for receipts (outbox_rcpt.c), in id order. */
    struct secmq__await *aw;
    size_t aw_n, aw_cap;
    struct secmq__obrc_report *rcr; /* settled, to report unlocked */
    size_t rcr_n, rcr_cap;
    secmq_receipt_wait rw;
    struct {
        uint64_t receipted, resent, missed;
    } rc_ctr;

    secmq_outbox_stats ctr;
    int64_t last_warn_ms;
    uint64_t unreported_refused, unreported_dropped;
};

/* outbox.c. "lock held" means ob->lock. */

/* Free a row's entry with its topic and payload. NULL is a no-op. */
void secmq__outbox_entry_free(struct entry *e);
/* Append id to a growing array: 0, or -1 (out of memory, unchanged). */
int secmq__outbox_push_id(uint64_t **arr, size_t *n, size_t *cap, uint64_t id);
/* Add a live row (ids ascending) and count it: 0, or -1 (no memory). */
int secmq__outbox_idx_append(secmq__outbox *ob, uint64_t id, size_t bytes,
                             int state, int qos);
/* The live row id, or NULL when it is gone or unknown (lock held). */
struct live *secmq__outbox_idx_find(secmq__outbox *ob, uint64_t id);
/* Mark a row gone and uncount it; its delete is the caller's (lock held). */
void secmq__outbox_idx_gone(secmq__outbox *ob, struct live *l);
/* Delete a committed row (ack, drop, failure): gone, and its delete queued
 * for the commit thread (lock held). */
void secmq__outbox_forget(secmq__outbox *ob, struct live *l);
/* Append a committed row to the rows to hand (lock held). */
void secmq__outbox_ready_push_back(secmq__outbox *ob, struct entry *e);
/*
 * Hand rows while connected and below max_inflight (lock held). Rows MQTT
 * can never send are deleted and reported through fails (at most nfails;
 * the rest wait for the next call). Returns the number of reports.
 */
size_t secmq__outbox_pump(secmq__outbox *ob, struct report *fails,
                          size_t nfails);
/* outbox_held.c. Set aside a committed row found damaged while reading it back:
 * never sent, recorded in the quarantine table by the next commit, reported to
 * on_delivered with SECMQ_E_DB by the next pump (lock held). */
void secmq__outbox_quarantine(secmq__outbox *ob, struct live *l,
                              const char *reason);
/* Set aside a committed QoS 2 row the broker cannot take (outbox_held.c;
 * lock held): recorded in the quarantine table as SECMQ__OB_HELD_QOS2 by
 * the next commit, reported by the next pump. */
void secmq__outbox_hold(secmq__outbox *ob, struct live *l);
/* Set aside a committed sealed row whose key the keyring has erased
 * (outbox_held.c; lock held): never sent, recorded in the quarantine
 * table as SECMQ__OB_KEY_ERASED by the next commit, logged (WARNING,
 * naming the row and topic, BORROWED), reported to on_delivered with
 * SECMQ_E_NO_KEY by the next pump. */
void secmq__outbox_set_erased(secmq__outbox *ob, struct live *l,
                              const char *topic);
/* At open: log the rows earlier runs set aside and left in the file (held
 * QoS 2 rows, rows under an erased key) at WARNING, with their counts. */
void secmq__outbox_aside_at_open(secmq__outbox *ob, const secmq__obscan *info);
/* Record a set-aside row for the quarantine table (lock held). */
void secmq__outbox_quar_push(secmq__outbox *ob, uint64_t id,
                             const char *reason);
/* Report what pump failed through on_delivered (lock not held). */
void secmq__outbox_report_fails(secmq__outbox *ob, const struct report *r,
                                size_t n);

/* outbox_rcpt.c (lock held unless said). */
struct secmq__obrc_report {
    uint64_t id;
    int rc;
    unsigned got, need;
};
/* Before row e is handed: 0 to hand it (entered or refreshed when held
 * for receipts), 1 when it must wait (the window, or no memory). */
int secmq__obrc_on_hand(secmq__outbox *ob, const struct entry *e);
/* Its PUBACK (rc): 1 when held (kept, or settled and reported), 0 when it
 * is not a held row (or refused: it ends as any row). */
int secmq__obrc_acked(secmq__outbox *ob, uint64_t id, int rc);
/* A receipt's range (see secmq__outbox_receipt). */
void secmq__obrc_mark(secmq__outbox *ob, long chan, const unsigned char *key_id,
                      uint64_t first, uint32_t count, size_t who);
/* Resends that fell due, rows given up: ms until the next deadline, or -1
 * for none. */
int64_t secmq__obrc_tick(secmq__outbox *ob);
/* After a reconnect: every waiting row is due at once. */
void secmq__obrc_connected(secmq__outbox *ob);
/* Report what settled (lock NOT held). */
void secmq__obrc_flush(secmq__outbox *ob);
uint64_t secmq__obrc_awaiting(const secmq__outbox *ob);
/* 1 and *st filled for a held row; 0 (st: a queued row) otherwise. */
int secmq__obrc_row(const secmq__outbox *ob, uint64_t id,
                    secmq_receipt_row *st);
void secmq__obrc_free(secmq__outbox *ob);

/* outbox_commit.c: the commit thread (arg is the outbox), started by
 * secmq__outbox_open; it ends once stop is set and nothing is queued. */
void *secmq__outbox_commit_main(void *arg);

#endif /* SECMQ_OUTBOX_INT_H */
