/*
 * client_deliver.c -- the delivery thread of a client with a keyring.
 *
 * The loop thread opens each envelope (crypto, replay check) without
 * waiting for the disk and queues the result; this thread takes everything
 * queued, makes the replay records durable with one secmq_keyring_sync()
 * (so a burst of messages shares one fdatasync), and only then calls
 * on_message / on_open_failure, in arrival order, wiping each plaintext
 * after its callback. The queue is bounded: a slow application holds the
 * loop thread back, as it did when callbacks ran there. It also feeds the
 * receipt batches and wakes for their timed flush (client_rcpt.c). MQTT
 * is client.c's, the crypto keyring.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client_int.h"
#include "keyring_int.h"
#include "net_int.h"

/* At most this many messages or payload bytes wait for the application. */
#define DQ_MAX_MSGS 1024u
#define DQ_MAX_BYTES (16u * 1024u * 1024u)

typedef struct dq_item {
    struct dq_item *next;
    int failed; /* 1: for on_open_failure, with reason */
    int reason;
    secmq_keyring *kr; /* whose ticket */
    uint64_t ticket;   /* 0: nothing to make durable */
    long rchan;        /* opened on a channel this identity receipts; else -1 */
    int again;         /* refused as a replay of one the keyring knows it
                          opened: receipted again once ticket is durable */
    unsigned char key_id[SECMQ_ID_BYTES], sender_id[SECMQ_ID_BYTES];
    uint64_t seq;
    secmq_message msg; /* topic and payload point at the copies below */
    char *topic;
    unsigned char *data;
    size_t datalen;
} dq_item;

typedef struct secmq__dq secmq__dq;
struct secmq__dq {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    dq_item *head, *tail;
    size_t count, bytes;
    int stop;
};

static void item_free(dq_item *it)
{
    if (it->data != NULL) {
        /* SECURITY: plaintext never outlives its callback. */
        sodium_memzero(it->data, it->datalen);
        free(it->data);
    }
    free(it->topic);
    free(it);
}

static void log_err(secmq_client *c, const char *line)
{
    c->log.fn(c->log.ctx, SECMQ_LOG_ERROR, line);
}

/* Deliver a batch taken off the queue (delivery thread). */
static void deliver_batch(secmq_client *c, dq_item *batch)
{
    char why[SECMQ_ERRMSG_BYTES], line[SECMQ_ERRMSG_BYTES + 128];
    secmq_keyring *kr = NULL;
    uint64_t top = 0;
    size_t dropped = 0;
    int rc = SECMQ_OK;
    dq_item *next;

    for (dq_item *it = batch; it != NULL; it = it->next) {
        if (it->ticket > top) {
            top = it->ticket;
            kr = it->kr;
        }
    }
    if (top > 0) {
        /* SECURITY: one fdatasync for the whole batch, before any of it
         * reaches the application. */
        rc = secmq_keyring_sync(kr, top);
    }
    for (dq_item *it = batch; it != NULL; it = next) {
        next = it->next;
        if (it->failed) {
            if (it->again && it->rchan >= 0 && rc == SECMQ_OK &&
                secmq__rx_known(it->kr, it->key_id, it->sender_id, it->seq)) {
                /* A genuine copy (steps 1-7 passed) of a message opened
                 * and made durable before (§9.2): its receipt may have
                 * been lost, so it is receipted again. Known is asked
                 * again here: an earlier batch holding the message itself
                 * may have failed to sync, and forgot it. */
                secmq__crcpt_note(c, it->rchan, it->key_id, it->sender_id,
                                  it->seq, 1);
            }
            if (c->on_open_failure != NULL) {
                c->on_open_failure(c, c->user, it->msg.topic, it->reason);
            }
        } else if (it->ticket > 0 && rc != SECMQ_OK) {
            /* Not delivered: a copy of it must not be receipted. */
            secmq__rx_forget(it->kr, it->key_id, it->sender_id, it->seq);
            dropped++;
        } else {
            if (it->rchan >= 0) {
                /* Opened, and its replay record is durable (§9.2). */
                secmq__crcpt_note(c, it->rchan, it->key_id, it->sender_id,
                                  it->seq, 0);
            }
            if (c->on_message != NULL) {
                c->on_message(c, c->user, &it->msg);
            }
        }
        item_free(it);
    }
    if (dropped > 0) {
        secmq_keyring_errmsg(kr, why, sizeof why);
        snprintf(line, sizeof line,
                 "%zu sealed message(s) not delivered: their replay state "
                 "is not durable: %s",
                 dropped, why);
        log_err(c, line);
    }
}

/* Wait for more (q->mu held) until next (secmq__now_ms scale; -1: no
 * limit), when a receipt batch falls due. */
static void wait_more(secmq__dq *q, int64_t next)
{
    struct timespec ts;

    if (next < 0) {
        pthread_cond_wait(&q->more, &q->mu);
        return;
    }
    /* q->more runs on CLOCK_MONOTONIC, the clock of secmq__now_ms. */
    ts.tv_sec = (time_t)(next / 1000);
    ts.tv_nsec = (long)(next % 1000) * 1000000L;
    (void)pthread_cond_timedwait(&q->more, &q->mu, &ts);
}

static void *dq_main(void *arg)
{
    secmq_client *c = arg;
    secmq__dq *q = c->dq;
    dq_item *batch;
    int64_t next;

    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->head == NULL && !q->stop) {
            /* Idle: send the receipts that are due, sleep until the next
             * one is (or a message comes). */
            pthread_mutex_unlock(&q->mu);
            next = secmq__crcpt_pump(c, 0);
            pthread_mutex_lock(&q->mu);
            if (q->head == NULL && !q->stop) {
                wait_more(q, next);
            }
            continue;
        }
        if (q->head == NULL) {
            break;
        }
        batch = q->head;
        q->head = q->tail = NULL;
        q->count = 0;
        q->bytes = 0;
        pthread_cond_broadcast(&q->room);
        pthread_mutex_unlock(&q->mu);
        deliver_batch(c, batch);
        (void)secmq__crcpt_pump(c, 0); /* due by time under a steady load */
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* The queue and its thread, made on the first message. */
static int dq_start(secmq_client *c)
{
    secmq__dq *q = calloc(1, sizeof *q);
    pthread_condattr_t ca;

    if (q == NULL) {
        return SECMQ_E_NOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->more, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&q->room, NULL);
    c->dq = q;
    if (pthread_create(&q->th, NULL, dq_main, c) != 0) {
        pthread_cond_destroy(&q->room);
        pthread_cond_destroy(&q->more);
        pthread_mutex_destroy(&q->mu);
        free(q);
        c->dq = NULL;
        return SECMQ_E_NOMEM;
    }
    return SECMQ_OK;
}

/* The mode and stream of an envelope that opened or is a known copy (so
 * it parses), and the channel it is receipted for (-1: none). */
static void note_fields(secmq_client *c, dq_item *it, const void *env,
                        size_t len)
{
    secmq_envelope_fields f;

    it->rchan = -1;
    if (secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK) {
        return;
    }
    it->msg.seal_mode = (int)f.mode;
    memcpy(it->key_id, f.key_id, SECMQ_ID_BYTES);
    memcpy(it->sender_id, f.sender_id, SECMQ_ID_BYTES);
    it->seq = f.seq;
    it->rchan = secmq__keyring_rcpt_chan(c->keyring, f.key_id, f.sender_id);
}

/* Turn it into a refusal for on_open_failure, counted under reason. */
static dq_item *refused(secmq_client *c, dq_item *it, int reason)
{
    if (reason <= SECMQ_OPEN_OK || reason >= SECMQ_OPEN_REASON_COUNT) {
        reason = SECMQ_OPEN_MALFORMED;
    }
    atomic_fetch_add(&c->open_counts[reason], 1);
    if (it->data != NULL) {
        /* Nothing of it was opened; wiped in case it was copied. */
        sodium_memzero(it->data, it->datalen);
        free(it->data);
        it->data = NULL;
    }
    it->datalen = 0;
    it->failed = 1;
    it->reason = reason;
    it->msg.payload = "";
    it->msg.payloadlen = 0;
    return it;
}

/* Open (or copy) msg into a new item. NULL when out of memory. */
static dq_item *make_item(secmq_client *c, const secmq_message *msg)
{
    dq_item *it = calloc(1, sizeof *it);
    size_t len = msg->payloadlen, plain_len = 0;
    const char *sender = NULL;
    int reason = SECMQ_OPEN_MALFORMED, rc = SECMQ_E_OPEN, again = 0;

    if (it == NULL) {
        return NULL;
    }
    it->rchan = -1;
    it->topic = strdup(msg->topic);
    it->data = malloc(len + 1);
    if (it->topic == NULL || it->data == NULL) {
        item_free(it);
        return NULL;
    }
    it->msg = *msg;
    it->msg.topic = it->topic;
    /* SECURITY: a covered topic is always opened, whatever the
     * allow-plain filters say, and nothing unopened reaches on_message
     * unless the application asked for plain messages on that topic: a
     * subscriber not yet granted, or a broker that renamed a topic, must
     * not show an envelope (or an impostor's plaintext) as a payload. */
    if (!secmq_keyring_covers(c->keyring, msg->topic)) {
        if (!secmq__client_plain_allowed(c, msg->topic)) {
            return refused(c, it, SECMQ_OPEN_NO_CHANNEL);
        }
        memcpy(it->data, msg->payload, len);
        it->data[len] = '\0';
        it->datalen = len;
        it->msg.payload = it->data;
        return it;
    }
    if (len > 0) {
        rc = secmq__keyring_open(c->keyring, msg->topic, msg->payload, len,
                                 it->data, len, &plain_len, &sender, &reason,
                                 SECMQ_OPEN_DEFER_SYNC, &it->ticket, &again);
    }
    if (rc == SECMQ_OK) {
        atomic_fetch_add(&c->open_counts[SECMQ_OPEN_OK], 1);
        it->data[plain_len] = '\0';
        it->datalen = plain_len;
        it->kr = c->keyring;
        it->msg.payload = it->data;
        it->msg.payloadlen = plain_len;
        it->msg.sealed = 1;
        it->msg.sender = sender;
        note_fields(c, it, msg->payload, len);
        return it;
    }
    if (again) {
        /* SECURITY: only a replay that passed steps 1-7 (AEAD, signature,
         * publisher) of an envelope the keyring knows it accepted. */
        it->kr = c->keyring;
        it->again = 1;
        note_fields(c, it, msg->payload, len);
    }
    if (rc == SECMQ_E_IO || rc == SECMQ_E_NOMEM) {
        char why[SECMQ_ERRMSG_BYTES];
        secmq_keyring_errmsg(c->keyring, why, sizeof why);
        log_err(c, why);
    }
    return refused(c, it, reason); /* it->data was wiped by the open */
}

void secmq__client_enqueue(secmq_client *c, const secmq_message *msg)
{
    secmq__dq *q;
    dq_item *it;

    if (c->dq == NULL && dq_start(c) != SECMQ_OK) {
        log_err(c, "cannot start the delivery thread: message dropped");
        return;
    }
    q = c->dq;
    it = make_item(c, msg);
    if (it == NULL) {
        log_err(c, "out of memory: a received message was dropped");
        return;
    }
    pthread_mutex_lock(&q->mu);
    while (q->count > 0 &&
           (q->count >= DQ_MAX_MSGS || q->bytes >= DQ_MAX_BYTES)) {
        pthread_cond_wait(&q->room, &q->mu);
    }
    if (q->tail != NULL) {
        q->tail->next = it;
    } else {
        q->head = it;
    }
    q->tail = it;
    q->count++;
    q->bytes += it->datalen;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
}

void secmq__client_deliver_stop(secmq_client *c)
{
    secmq__dq *q = c->dq;

    if (q == NULL) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    pthread_cond_destroy(&q->room);
    pthread_cond_destroy(&q->more);
    pthread_mutex_destroy(&q->mu);
    free(q);
    c->dq = NULL;
}
