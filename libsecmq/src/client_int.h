/*
 * client_int.h -- private interface between the client's files.
 *
 * The client struct and the few calls the files make to each other:
 * client.c (the libmosquitto adapter, the only file that includes
 * mosquitto.h), client_config.c, client_seal.c, client_deliver.c,
 * client_rcpt.c and client_outbox.c, client_qos2.c, client_drive.c (the
 * loops; with client.c the only file that calls libmosquitto's loop
 * functions). Nothing
 * here is public API; libmosquitto's types stay opaque outside client.c.
 */
#ifndef SECMQ_CLIENT_INT_H
#define SECMQ_CLIENT_INT_H

#include <stdatomic.h>
#include <stddef.h>

#include "outbox_int.h"
#include "secmq_int.h"
#include "tls_int.h"
#include "tunnel_int.h"

struct mosquitto;                         /* only client.c looks inside */
typedef struct secmq__drive secmq__drive; /* client_drive.c */

enum secmq__conn_state {
    ST_IDLE = 0,       /* never connected, or after a requested disconnect */
    ST_CONNECTING = 1, /* CONNECT sent, no CONNACK yet */
    ST_CONNECTED = 2,  /* CONNACK accepted */
    ST_FAILED = 3      /* refused, or the link broke before CONNACK */
};

/* Receipt topics a client subscribes to, at most (client_rcptin.c). */
#define SECMQ__RCPT_SUBS_MAX 64

struct secmq_client {
    struct mosquitto *mosq;
    void *user;

    /* Owned copies of the configuration. */
    char *host;
    char *client_id;
    char *username;
    char *password; /* sodium_malloc'd, wiped by sodium_free */
    char *cafile, *capath, *certfile, *keyfile, *server_name, *ciphers;
    secmq_tls_config tls_cfg; /* strings point at the copies above */
    secmq_transport transport;
    int port;
    int keepalive;
    int connect_timeout_ms;
    int reconnect_min_s, reconnect_max_s; /* the backoff's bounds */
    int mqtt5;                            /* cfg->protocol is SECMQ_MQTT_5 */
    uint32_t session_expiry; /* MQTT 5 Session Expiry Interval sent in
                                CONNECT (0: none is sent) */

    secmq__err err;
    secmq__log log;
    secmq__tls_ctx *tls;
    secmq__tunnel *tunnel;
    /* TLS only: libmosquitto's loop run by the tunnel thread (loop_start). */
    secmq__drive *drive;
    /* A mosquitto_disconnect was called since the last connect: the state
     * libmosquitto keeps (disconnected) and offers no getter for. */
    atomic_int mosq_disc;

    secmq_connect_cb on_connect;
    secmq_disconnect_cb on_disconnect;
    secmq_message_cb on_message;
    secmq_publish_cb on_publish;
    secmq_subscribe_cb on_subscribe;
    secmq_unsubscribe_cb on_unsubscribe;
    secmq_log_cb on_log;
    int log_level;           /* most detailed level on_log gets */
    atomic_int mosq_logging; /* libmosquitto's log callback installed */
    secmq_open_failure_cb on_open_failure;

    secmq_keyring *keyring; /* BORROWED, may be NULL */
    char **allow_plain;     /* owned filters (secmq_client_allow_plain) */
    size_t nallow_plain;
    secmq__outbox *outbox; /* owned, may be NULL */
    secmq_durable_cb on_durable;
    secmq_delivered_cb on_delivered;
    atomic_uint_fast64_t open_counts[SECMQ_OPEN_REASON_COUNT];
    struct secmq__dq *dq;       /* delivery thread; NULL until the first message
                                   received with a keyring (client_deliver.c) */
    unsigned open_threads;      /* secmq_client_set_open_threads; 0: one per
                                   online core (client_verify.c) */
    unsigned sync_interval_us;  /* secmq_client_set_sync_interval, when */
    int sync_interval_set;      /* set (client_deliver.c) */
    struct secmq__crcpt *rcpt;  /* receipts sent (client_rcpt.c); NULL until
                                   a keyring is set */
    unsigned rcpt_max_msgs;     /* secmq_client_set_receipts; 0: default */
    unsigned rcpt_max_delay_ms; /* 0: default */
    /* Receipts this client waits for (client_rcptin.c). */
    secmq_receipt_wait rcpt_wait;
    secmq_receipt_cb on_receipt;
    atomic_uint_fast64_t rcpt_opened, rcpt_refused;
    atomic_int rcpt_warned; /* published on such a channel without outbox */
    struct {
        int mid;
        long chan;
    } rcpt_subs[SECMQ__RCPT_SUBS_MAX]; /* loop thread only */
    size_t rcpt_nsubs;
    /* A broker without QoS 2 (client_qos2.c). */
    atomic_int qos2_sent;        /* a QoS 2 publish was handed over */
    atomic_int qos2_last_puback; /* the last packet read was a PUBACK */
    atomic_int qos2_refused;     /* the broker answered QoS 2 with PUBACK */

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cond;
    enum secmq__conn_state state;
    int result;  /* outcome of the last connect attempt */
    int refused; /* the broker refused this connection in CONNACK */
    int disconnect_requested; /* secmq_client_disconnect() was called */
    int threaded;             /* loop_start running */
};

/* ---- client.c: what needs libmosquitto ---- */

/*
 * Hand a message to libmosquitto as it is (no sealing, no outbox). QoS 1/2
 * while disconnected is queued by libmosquitto and returns SECMQ_OK.
 * Returns SECMQ_OK with *mid (mid may be NULL), SECMQ_E_OVERSIZE, or
 * libmosquitto's failure mapped. Any thread.
 */
int secmq__client_publish_direct(secmq_client *c, int *mid, const char *topic,
                                 const void *payload, size_t payloadlen,
                                 int qos, int retain);
/* A MOSQ_ERR_* code as the SECMQ_E_* code it means. */
int secmq__client_map_mosq(int mrc);
/* SECMQ_OK if libmosquitto would accept topic for PUBLISH, else
 * SECMQ_E_INVAL with a detail in c->err. */
int secmq__client_check_topic(secmq_client *c, const char *topic);
/* Mark the handle threaded: publishes from other threads only queue, the
 * loop thread writes (needed once an outbox's commit thread hands rows). */
void secmq__client_threaded_set(secmq_client *c);

/* ---- client_drive.c: libmosquitto's loop on the tunnel thread ---- */

/* Make c->drive (TLS clients, at creation). SECMQ_OK or SECMQ_E_NOMEM. */
int secmq__drive_new(secmq_client *c);
/* Free c->drive (after secmq__drive_stop). NULL drive is a no-op. */
void secmq__drive_free(secmq_client *c);
/* secmq_client_loop_start over TLS: mark libmosquitto threaded (it only
 * queues), reset the reconnect backoff and let the tunnel thread run the
 * loop, now or once connect makes the tunnel. c->drive must exist and no
 * loop run. */
void secmq__drive_start(secmq_client *c);
/* Attach the running loop to c->tunnel once it exists (connect_tls). */
void secmq__drive_attach(secmq_client *c);
/* secmq_client_loop_stop over TLS: force 0 waits (unbounded, like a
 * thread join) until the loop ended, which it does after a disconnect;
 * force 1 stops it now. From a callback on the tunnel thread it stops
 * driving at once, whatever force says. The handle stays threaded only
 * with an outbox. */
void secmq__drive_stop(secmq_client *c, int force);
/* 1 while the tunnel thread runs the loop (between start and stop). */
int secmq__drive_active(const secmq_client *c);
/* After queueing a packet in libmosquitto from any thread: wake the tunnel
 * thread if it sleeps (a system call only then). No-op when not active. */
void secmq__drive_kick(secmq_client *c);
/* An accepted CONNACK (loop thread): reset the backoff's counter. */
void secmq__drive_connack(secmq_client *c);

/* ---- client_config.c ---- */

/* Copy cfg's strings (the password into guarded memory), the port and the
 * timeouts into c. SECMQ_OK or SECMQ_E_NOMEM (partial copies are freed by
 * secmq__client_free_config). */
int secmq__client_copy_config(secmq_client *c, const secmq_config *cfg);
/* Free (and wipe, for the password) what secmq__client_copy_config made. */
void secmq__client_free_config(secmq_client *c);

/* ---- client_seal.c ---- */

/*
 * Seal payload for topic when the keyring covers it (one channel lookup).
 * Returns SECMQ_OK with *env (the envelope, ciphertext only, in this
 * thread's reusable buffer or allocated: give it back on this thread with
 * secmq__client_seal_done once it was copied) and *envlen, or with *env
 * NULL when there is no keyring or it does not cover topic; else
 * SECMQ_E_OVERSIZE, SECMQ_E_NOMEM or the keyring's code with a detail in
 * c->err. An empty retained publish is never sealed (it only deletes).
 */
int secmq__client_seal(secmq_client *c, const char *topic, const void *payload,
                       size_t payloadlen, int retain, unsigned char **env,
                       size_t *envlen);
/* Give back what secmq__client_seal put in *env (NULL is a no-op). */
void secmq__client_seal_done(unsigned char *env);
/* ---- client_deliver.c ---- */

/*
 * A message received by a client with a keyring (loop thread): opened
 * (covered topics, replay record queued but not yet durable) or copied,
 * and queued for the delivery thread, which makes the replay records
 * durable in one group commit and then calls on_message or
 * on_open_failure in arrival order. Waits while the queue is full.
 */
void secmq__client_enqueue(secmq_client *c, const secmq_message *msg);
/* Deliver what is queued and end the delivery thread (no callback may
 * enqueue any more). No-op when it never started. */
void secmq__client_deliver_stop(secmq_client *c);
/* 1 if an allow-plain filter (secmq_client_allow_plain) matches topic. */
int secmq__client_plain_allowed(const secmq_client *c, const char *topic);
/* Free the allow-plain filters (secmq_client_free). */
void secmq__client_free_plain(secmq_client *c);

/* ---- client_rcpt.c ---- */

/* secmq_client_set_keyring: make the receipt state on first use and size
 * its batches for kr (NULL: none); pending batches are dropped. SECMQ_OK
 * or SECMQ_E_NOMEM. Not while connected. */
int secmq__crcpt_set_keyring(secmq_client *c, secmq_keyring *kr);
/* Free the receipt state (secmq_client_free, after the delivery thread). */
void secmq__crcpt_free(secmq_client *c);
/* Delivery thread: the message (key_id, sender_id, seq) of channel chan
 * (secmq__keyring_rcpt_chan; < 0: not receipted) opened and its replay
 * record is durable: add it to the channel's batch, send the batch if due.
 * again 1: a copy refused as a replay of one the keyring knows it opened
 * (PROTOCOL.md §9.2), counted in stats.rereceipted. */
void secmq__crcpt_note(secmq_client *c, long chan, const unsigned char *key_id,
                       const unsigned char *sender_id, uint64_t seq, int again);
/* Send the batches that are due (all of them when all is 1). Returns when
 * (secmq__now_ms scale) the next batch falls due, or -1 if none waits.
 * Any thread. */
int64_t secmq__crcpt_pump(secmq_client *c, int all);
/* Loop thread, on a PUBACK: 1 if mid was a receipt (counted, not for
 * on_publish), else 0. */
int secmq__crcpt_puback(secmq_client *c, int mid);

/* ---- client_rcptin.c ---- */

/* The outbox's hooks (ctx is the client). */
int secmq__crin_classify(void *ctx, const void *payload, size_t len,
                         secmq__obrc *out);
void secmq__crin_receipt(void *ctx, uint64_t id, int rc, unsigned got,
                         unsigned need);
void secmq__crin_missing(void *ctx, long chan, unsigned self_idx,
                         const unsigned char *bits, unsigned n, char *buf,
                         size_t len);
/* A sealed envelope published around the outbox: warn once when it is on
 * a channel with receipts. */
void secmq__crin_unheld(secmq_client *c, const void *env, size_t len);
/* The sender's counters into st (any thread). */
void secmq__crin_stats(secmq_client *c, secmq_receipt_stats *st);
/* Loop thread, inside on_connect: subscribe to the receipt topics. */
void secmq__crin_connected(secmq_client *c);
/* Loop thread, a SUBACK: 1 if it answered a receipt topic's subscription
 * (a refusal logged), else 0. */
int secmq__crin_suback(secmq_client *c, int mid, int count, const int *granted);
/* Loop thread, a message: 1 if it arrived on a receipt topic this client
 * waits on (opened, counted, handed to the outbox; never to on_message),
 * else 0. */
int secmq__crin_message(secmq_client *c, const char *topic, const void *env,
                        size_t len);

/* ---- client_qos2.c ---- */

/* Each libmosquitto log line (loop thread): notes whether the packet read
 * last was a PUBACK. */
void secmq__qos2_note_log(secmq_client *c, const char *line);
/* The link was lost to a protocol error (loop thread): SECMQ_E_QOS_UNSUPPORTED
 * with the detail in c->err when it was a PUBACK after QoS 2 publishes (and
 * from then on QoS 2 is refused), else SECMQ_OK. */
int secmq__qos2_check_lost(secmq_client *c);
/* Before handing a publish at qos to libmosquitto (any thread):
 * SECMQ_E_QOS_UNSUPPORTED with the detail once the broker answered QoS 2
 * with PUBACK, else SECMQ_OK. */
int secmq__qos2_before_publish(secmq_client *c, int qos);
/* Installs libmosquitto's log callback once (client.c): needed for debug
 * lines and to notice a broker answering QoS 2 with PUBACK. */
void secmq__client_mosq_logging(secmq_client *c);

#endif /* SECMQ_CLIENT_INT_H */
