/*
 * secmq/outbox.h -- the durable outbox: messages committed to an sqlite file
 * before they are sent, delivered in order after a reconnect or a restart.
 *
 * Included by secmq.h; include that, not this file. The outbox belongs to one
 * client (secmq_client_set_outbox) and owns one database file; nothing else
 * may open that file while the client lives.
 *
 * What a publish through the outbox does:
 *
 *   seal (keyring, as secmq_client_publish always does) -> append to the
 *   commit queue -> the commit thread writes every queued row in ONE
 *   transaction (group commit) -> the publish returns (or on_durable fires)
 *   -> rows are handed to MQTT in id order, at most max_inflight at a time
 *   and only while the broker has accepted the connection -> PUBACK (QoS 1)
 *   or PUBCOMP (QoS 2) -> the row is deleted (in the next transaction) and
 *   on_delivered fires.
 *
 * Ordering. Rows are handed in id order (the order the publishes returned;
 * for concurrent publishers, the order they took the queue lock). After a
 * lost link, libmosquitto still holds the rows it had in flight and resends
 * them itself once on_connect has returned; the outbox therefore hands
 * nothing new after a reconnect until the first of those resends has been
 * acknowledged (by then libmosquitto has queued all of them), so newer rows
 * cannot overtake older ones. When nothing was in flight, draining starts
 * inside on_connect. After a restart of the process, every row in the file
 * is unacknowledged and is sent again from the oldest. Delivery is at least
 * once: a crash between PUBACK and the delete, or a resend of a message the
 * broker had already received, can deliver a message twice; with a keyring
 * the envelope's sequence number makes receivers drop the copy
 * (SECMQ_OPEN_REPLAY), so applications see it once. Order holds among
 * QoS 1 and 2 messages of the outbox; messages published around the outbox
 * (SECMQ_PUBLISH_DIRECT, publish without an outbox) are not ordered with
 * them. A QoS 0 row is deleted once libmosquitto has written it to the
 * link; if the link drops first it is sent again after the reconnect, after
 * the QoS 1/2 rows libmosquitto resends (QoS 0 order is best effort).
 *
 * What is on disk. With a keyring and a topic a channel covers, the stored
 * payload is the envelope: only ciphertext reaches the file. On topics no
 * channel covers, and without a keyring (TLS only), the payload is stored AS
 * GIVEN, in clear: the outbox has no key to encrypt it with. Topics are
 * always stored in clear (the broker sees them anyway). The file, its -wal
 * and -shm are created 0600.
 *
 * Durability. synchronous=FULL (the default): a publish that returned
 * SECMQ_OK (or an on_durable with SECMQ_OK) survives a power cut.
 * synchronous=NORMAL: survives a crash of the process, but a power cut can
 * lose the last commits. Deletes ride along with the next commit, so a
 * crash may resend what the broker already acknowledged (see above).
 *
 * The file: sqlite, WAL mode, PRAGMA application_id 0x53514F42 ('SQOB'),
 * user_version 2, two tables
 *   outbox(id INTEGER PRIMARY KEY, topic TEXT, payload BLOB, qos INTEGER,
 *          retain INTEGER, sealed INTEGER, created_ms INTEGER, sum BLOB)
 *   quarantine(id INTEGER PRIMARY KEY, reason TEXT, found_ms INTEGER).
 * sum is BLAKE2b-128 (no key) over "SQOBrow2", then big-endian id (8
 * bytes), qos, retain, sealed (1 byte each), created_ms (8), the topic's
 * length (8) and bytes, the payload's length (8) and bytes.
 * A missing or empty file is created; a version 1 file (no sum, no
 * quarantine) is upgraded in place in one transaction; any other file must
 * carry that application_id and version, or secmq_client_set_outbox() fails
 * with SECMQ_E_DB and leaves it untouched (it never replaces a file). An
 * flock on the file keeps a second process out (SECMQ_E_BUSY).
 *
 * Damaged rows. A row is checked against its sum when it is read back to
 * be sent. One that does not match, or that sqlite cannot read, is set
 * aside: its id goes into the quarantine table (the row stays as it is,
 * for inspection), it is never handed to MQTT, it leaves the counts rows
 * and bytes, it is logged (SECMQ_LOG_ERROR) and reported to on_delivered
 * with SECMQ_E_DB; the rows after it keep flowing. (QoS 2 rows a broker
 * refused are set aside in the same table; see below.) Rows sqlite cannot read
 * may already be found when the file is opened. Damage to the table itself
 * (keys out of order, pages sqlite cannot follow) refuses the whole file with
 * SECMQ_E_DB. The sum finds damage, not a forger.
 *
 * A broker without QoS 2. RabbitMQ answers a QoS 2 PUBLISH with PUBACK; the
 * client then reports SECMQ_E_QOS_UNSUPPORTED and stops (see on_disconnect
 * in secmq.h). Every committed QoS 2 row of the outbox (the one refused,
 * the others handed or waiting) is then set aside: it stays in the file,
 * recorded in the quarantine table with reason 'qos2-unsupported' (not
 * damaged: stats.held_qos2, not stats.quarantined), it leaves the counts
 * rows and bytes, it is logged (SECMQ_LOG_ERROR) and reported once to
 * on_delivered with SECMQ_E_QOS_UNSUPPORTED. It is never deleted and never
 * sent at another QoS by itself. The QoS 0 and 1 rows are not set aside:
 * those the refused link had in flight are sent again, and the rows behind
 * the held ones drain in order, by the next client with the file (this
 * one has stopped). A later client that hands a QoS 2 row to the same
 * broker sets it aside the same way. The way out is
 * secmq_client_outbox_release_qos2(): at QoS 1 (the rows are rewritten as
 * QoS 1 rows: at least once, and receivers with a keyring drop copies), or
 * at QoS 2 again for a broker that does QoS 2. An older libsecmq opening
 * the file sees the held rows as set aside too (it never sends them; it
 * counts them as quarantined).
 *
 * Rows under an erased key. A sealed row is checked when it is about to be
 * handed to MQTT: when the client's keyring no longer holds the key its
 * envelope's key id names -- an epoch of a ratcheted channel erased while
 * the publisher was offline (PROTOCOL.md 3.2), or a rotated channel's
 * previous key past its grace -- the row is set aside: recorded in the
 * quarantine table with reason 'key-erased' (the row stays as it is), never
 * sent, it leaves the counts rows and bytes, it is logged
 * (SECMQ_LOG_WARNING, naming the row and its topic), counted
 * (stats.key_erased) and reported once to on_delivered with SECMQ_E_NO_KEY;
 * the rows after it keep flowing. Every receiver would refuse it
 * (key_expired or unknown_key), and it cannot be sealed again under a
 * current key: the outbox keeps only the envelope, never the plaintext. An
 * application that still has the message publishes it again. A row already
 * handed to MQTT before its key was erased is resent by libmosquitto as it
 * is after a reconnect, and refused by receivers if it arrives too late.
 *
 * A full disk. A commit that fails (SECMQ_E_IO) queues nothing and does not
 * stop the sending of rows already committed. Deletes that cannot be
 * written are retried (every 200 ms); until one succeeds the rows stay in
 * the file (stats.undeleted) and a restart sends them again;
 * secmq_client_outbox_wait(EMPTY) then returns SECMQ_E_IO.
 */
#ifndef SECMQ_OUTBOX_H
#define SECMQ_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#ifndef SECMQ_H
#error "include <secmq.h>, not <secmq/outbox.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of secmq_outbox_config_init(). */
#define SECMQ_OUTBOX_DEFAULT_MAX_ROWS 100000u
#define SECMQ_OUTBOX_DEFAULT_MAX_BYTES (64u * 1024u * 1024u)
#define SECMQ_OUTBOX_DEFAULT_INFLIGHT 20
#define SECMQ_OUTBOX_DEFAULT_BATCH 1000
/* Largest max_inflight (libmosquitto keeps them all in memory anyway). */
#define SECMQ_OUTBOX_MAX_INFLIGHT 1000

typedef enum secmq_outbox_sync {
    SECMQ_OUTBOX_SYNC_FULL = 0,  /* synchronous=FULL: power-cut safe */
    SECMQ_OUTBOX_SYNC_NORMAL = 1 /* synchronous=NORMAL: crash safe only */
} secmq_outbox_sync;

/* What a publish does when the outbox is at max_rows or max_bytes. */
typedef enum secmq_outbox_policy {
    SECMQ_OUTBOX_REFUSE_NEW = 0, /* the publish fails with SECMQ_E_FULL */
    SECMQ_OUTBOX_DROP_OLDEST = 1 /* the oldest rows not in flight are
                                    deleted to make room */
} secmq_outbox_policy;

/*
 * Outbox settings. Initialise with secmq_outbox_config_init(). Bytes of a
 * row = topic length + stored payload length (the envelope when sealed).
 * Every refusal and every dropped row is counted (secmq_outbox_stats) and
 * logged through on_log (SECMQ_LOG_WARNING; at most one line per second,
 * saying how many since the last line).
 */
typedef struct secmq_outbox_config {
    size_t size;                /* sizeof(secmq_outbox_config); set by _init */
    const char *path;           /* the database file; BORROWED, copied */
    secmq_outbox_sync sync;     /* default SECMQ_OUTBOX_SYNC_FULL */
    secmq_outbox_policy policy; /* default SECMQ_OUTBOX_REFUSE_NEW */
    uint64_t max_rows;          /* default SECMQ_OUTBOX_DEFAULT_MAX_ROWS */
    uint64_t max_bytes;         /* default SECMQ_OUTBOX_DEFAULT_MAX_BYTES */
    int qos0;                   /* 1 = QoS 0 publishes use the outbox too;
                                   default 0 (QoS 0 is sent directly) */
    int max_inflight; /* rows handed to MQTT at once, 1..1000; default 20 */
    int max_batch;    /* rows per transaction at most; default 1000 */
} secmq_outbox_config;

/* Counters and depth, from secmq_client_outbox_stats(). */
typedef struct secmq_outbox_stats {
    uint64_t rows;     /* queued now: committed or being committed,
                          not yet acknowledged */
    uint64_t bytes;    /* their bytes (topic + stored payload) */
    uint64_t inflight; /* of those, handed to MQTT, awaiting the ack */
    uint64_t max_rows; /* the bounds in force */
    uint64_t max_bytes;
    uint64_t recovered;      /* rows found in the file when it was opened */
    uint64_t queued;         /* publishes accepted since it was opened */
    uint64_t committed;      /* rows made durable since then */
    uint64_t commits;        /* transactions (group commits) */
    uint64_t sent;           /* rows handed to MQTT (libmosquitto's own
                                resends after a reconnect not counted) */
    uint64_t acked;          /* rows acknowledged and deleted */
    uint64_t dropped_oldest; /* rows deleted by SECMQ_OUTBOX_DROP_OLDEST */
    uint64_t refused_full;   /* publishes refused with SECMQ_E_FULL */
    uint64_t failed;         /* rows MQTT refused to send (e.g. larger
                                than the broker's maximum packet size),
                                deleted and reported to on_delivered */
    uint64_t commit_errors;  /* transactions that failed (disk full, I/O) */
    /* Filled by secmq_client_outbox_stats_v2() only: */
    uint64_t quarantined; /* damaged rows set aside in the file (its table
                             quarantine), by this client or earlier ones;
                             never sent, not counted in rows */
    uint64_t damaged;     /* of those, found since the file was opened
                             (each reported to on_delivered, SECMQ_E_DB) */
    uint64_t undeleted;   /* rows that left the queue (acknowledged,
                             dropped, failed) whose delete is not yet
                             written to the file; after a failed commit
                             (disk full) they are sent again by the next
                             run unless a later commit succeeds */
    uint64_t held_qos2;   /* QoS 2 rows set aside because a broker does not
                             support QoS 2 (see "A broker without QoS 2"
                             above), by this client or earlier ones: kept
                             in the file, not sent, not counted in rows,
                             until secmq_client_outbox_release_qos2() */
    uint64_t key_erased;  /* sealed rows set aside because the keyring had
                             erased their key before they were sent (see
                             "Rows under an erased key" above), by this
                             client or earlier ones: kept in the file, never
                             sent, not counted in rows */
} secmq_outbox_stats;

/* Flags of secmq_client_publish_v2(). */
#define SECMQ_PUBLISH_RAW 0x1u /* do not seal (as publish_raw) */
#define SECMQ_PUBLISH_ASYNC                                                    \
    0x2u                          /* return once queued; on_durable reports    \
                                     the commit */
#define SECMQ_PUBLISH_DIRECT 0x4u /* bypass the outbox (as without one) */

/* What secmq_client_outbox_wait() waits for. */
#define SECMQ_OUTBOX_WAIT_DURABLE 1 /* every row queued so far committed */
#define SECMQ_OUTBOX_WAIT_EMPTY 2   /* no row left: all acknowledged */

/*
 * on_durable: an ASYNC publish's row was committed (rc SECMQ_OK) or its
 * transaction failed (rc SECMQ_E_IO; the row is not queued, the detail is
 * in secmq_client_errmsg()). Called once per ASYNC row, in id order, on the
 * outbox's commit thread (not the loop thread): keep it short, and do not
 * make a publish that waits for its commit from it (ASYNC ones are fine).
 * A row's on_durable returns before the row is handed to MQTT, so it always
 * comes before the row's on_delivered: the rows of a commit wait until the
 * on_durable calls of that commit have all returned.
 */
typedef void (*secmq_durable_cb)(secmq_client *c, void *user, uint64_t id,
                                 int rc);
/*
 * on_delivered: a row left the outbox: acknowledged by the broker (rc
 * SECMQ_OK, or from an MQTT 5 broker SECMQ_E_NOT_AUTHORIZED /
 * SECMQ_E_REFUSED as for on_publish; a row held for receipts leaves once
 * receipted, SECMQ_OK, or given up, SECMQ_E_NO_RECEIPT: see
 * secmq/receipt.h), or refused by MQTT before sending (rc
 * SECMQ_E_OVERSIZE, ...; counted as failed), or found damaged in the file
 * and set aside, never sent (rc SECMQ_E_DB; counted as damaged), or set
 * aside at QoS 2 because the broker does not support QoS 2 (rc
 * SECMQ_E_QOS_UNSUPPORTED; kept in the file, counted as held_qos2; it
 * comes back through secmq_client_outbox_release_qos2()), or set aside
 * because its key was erased before it was sent (rc SECMQ_E_NO_KEY;
 * counted as key_erased; never sent). Runs on
 * the loop thread (or on the publishing thread for rows MQTT refused, and
 * on the loop or the commit thread for damaged rows). on_publish is not called
 * for outbox rows: their packet ids are libmosquitto's business.
 */
typedef void (*secmq_delivered_cb)(secmq_client *c, void *user, uint64_t id,
                                   int rc);

/*
 * secmq_outbox_config_init -- fill *cfg with the defaults listed above
 * (path NULL). cfg is BORROWED and written. Never fails.
 */
SECMQ_API void secmq_outbox_config_init(secmq_outbox_config *cfg);

/*
 * secmq_client_set_outbox -- open (or create) the outbox file and attach it
 * to the client. Call once, after secmq_client_new() and before
 * secmq_client_connect(); set the keyring first when there is one. cfg is
 * BORROWED and copied. Rows already in the file are sent first, oldest
 * first, once connected.
 * Starts the outbox's commit thread. The outbox is closed by
 * secmq_client_free(), which commits what was queued first.
 * Returns SECMQ_OK; SECMQ_E_INVAL (cfg or path NULL, a bound of 0,
 * max_inflight or max_batch out of range); SECMQ_E_STATE (connecting or
 * connected, or an outbox is already set); SECMQ_E_DB (the file is not a
 * secmq outbox: another sqlite database, another version, or not a
 * database at all; it is left untouched); SECMQ_E_BUSY (another process has
 * it open); SECMQ_E_IO (cannot create, open or write the file, or its
 * directory); SECMQ_E_NOMEM. secmq_client_errmsg() names the file and the
 * cause.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_client_set_outbox(secmq_client *c, const secmq_outbox_config *cfg);

/* Callback setters: call before secmq_client_connect(). NULL unsets. */
SECMQ_API void secmq_client_on_durable(secmq_client *c, secmq_durable_cb cb);
SECMQ_API void secmq_client_on_delivered(secmq_client *c,
                                         secmq_delivered_cb cb);

/*
 * secmq_client_publish_v2 -- publish with flags; secmq_client_publish() is
 * this with flags 0 and id NULL, publish_raw with SECMQ_PUBLISH_RAW.
 * Sealing is as documented for secmq_client_publish(). With an outbox, a
 * publish at QoS 1 or 2 (and at QoS 0 when the outbox's qos0 is set) that is
 * not SECMQ_PUBLISH_DIRECT goes through it:
 *  - without SECMQ_PUBLISH_ASYNC it returns once the row is committed
 *    (durable as the sync mode promises); it may be called while the
 *    broker is unreachable, before the first connect, and from several
 *    threads (their rows share commits);
 *  - with SECMQ_PUBLISH_ASYNC it returns once the row is queued in memory;
 *    on_durable(id) reports the commit later;
 *  - *id (may be NULL) receives the row's id (ids grow by one per row, over
 *    the life of the file), *mid (may be NULL) receives 0;
 *  - completion is reported by on_delivered(id), not on_publish;
 *  - at QoS 2 after this client's broker answered QoS 2 with PUBACK, it
 *    queues nothing and returns SECMQ_E_QOS_UNSUPPORTED.
 * Otherwise it is an ordinary publish: *id receives 0 and *mid the packet
 * id reported to on_publish.
 * topic and payload are BORROWED and copied (sealed) before return.
 * Returns SECMQ_OK; every code of secmq_client_publish(); through the
 * outbox also SECMQ_E_FULL (outbox at a bound with SECMQ_OUTBOX_REFUSE_NEW,
 * or a row larger than max_bytes), SECMQ_E_IO (its commit failed; the row is
 * not queued), SECMQ_E_STATE (the outbox failed earlier and is closed).
 * A publish that returns an error queued nothing and fires no callback.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_client_publish_v2(secmq_client *c, uint64_t *id, int *mid,
                        const char *topic, const void *payload,
                        size_t payloadlen, int qos, int retain, unsigned flags);

/*
 * secmq_client_outbox_stats_v2 -- depth and counters: the first size bytes
 * of a secmq_outbox_stats are written into *st (BORROWED, written); pass
 * sizeof(secmq_outbox_stats), so a program built against an older header
 * keeps working. Any thread. Returns SECMQ_OK, SECMQ_E_INVAL (NULL, or size
 * smaller than the fields up to commit_errors), SECMQ_E_STATE (no outbox).
 */
SECMQ_API int secmq_client_outbox_stats_v2(secmq_client *c,
                                           secmq_outbox_stats *st, size_t size);

/*
 * secmq_client_outbox_release_qos2 -- put the QoS 2 rows set aside because
 * a broker does not support QoS 2 (stats.held_qos2; see "A broker without
 * QoS 2" above) back in the queue. qos 1: each row is rewritten in the file
 * as a QoS 1 row (its QoS and checksum; the payload, sealed or not, is
 * unchanged) and sent at QoS 1: the choice to downgrade is the caller's,
 * never the library's. qos 2: they are queued as they were, for a broker
 * that does QoS 2 (one that still does not sets them aside again). The
 * released rows are sent first, in id order, before the rows queued after
 * them that are still in the outbox (rows delivered while they were set
 * aside went before them). A held row found damaged instead is set aside
 * as damaged (stats.quarantined and damaged, reported to on_delivered with
 * SECMQ_E_DB). One transaction: on failure nothing changed.
 * Call after secmq_client_set_outbox() and before secmq_client_connect()
 * (or after a disconnect, once no row is in flight), from any thread but
 * the loop and commit threads. *count (may be NULL) receives the number of
 * rows released (0 when none were held).
 * Returns SECMQ_OK; SECMQ_E_INVAL (c NULL, qos not 1 or 2); SECMQ_E_STATE
 * (no outbox, connecting or connected, rows in flight, or the outbox is
 * closed); SECMQ_E_QOS_UNSUPPORTED (qos 2 on a client whose broker
 * answered QoS 2 with PUBACK: use a new client); SECMQ_E_IO (the
 * transaction failed: the rows stay held); SECMQ_E_NOMEM.
 * secmq_client_errmsg() says why.
 */
SECMQ_API int secmq_client_outbox_release_qos2(secmq_client *c, int qos,
                                               uint64_t *count);

/*
 * secmq_client_outbox_stats -- the counters up to commit_errors, as this
 * call was defined with (st must have room for them; the fields after it
 * are not written). Any thread. Returns SECMQ_OK, SECMQ_E_INVAL (NULL),
 * SECMQ_E_STATE (no outbox).
 */
SECMQ_API int secmq_client_outbox_stats(secmq_client *c,
                                        secmq_outbox_stats *st);

/*
 * secmq_client_outbox_wait -- wait until what (SECMQ_OUTBOX_WAIT_DURABLE or
 * SECMQ_OUTBOX_WAIT_EMPTY) holds, at most timeout_ms (< 0: forever). EMPTY
 * means no row is left and every delete is written to the file. Does
 * not drive the network: with secmq_client_loop() on the same thread, wait
 * for EMPTY with timeout 0 between loop calls instead. Any thread but the
 * loop thread and the commit thread (on_durable).
 * Returns SECMQ_OK, SECMQ_E_TIMEOUT, SECMQ_E_INVAL, SECMQ_E_STATE (no
 * outbox); for EMPTY also SECMQ_E_IO: every row left the queue but the
 * transaction deleting them failed (e.g. disk full; stats.undeleted says
 * how many, secmq_client_errmsg() why; they are retried, and sent again by
 * the next run if they stay), or rows cannot be read back from the file
 * to be sent (not one damaged row: those are set aside).
 */
SECMQ_API int secmq_client_outbox_wait(secmq_client *c, int what,
                                       int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* SECMQ_OUTBOX_H */
