/*
 * client_deliver.c -- the received-message queue and the delivery thread
 * of a client with a keyring.
 *
 * The loop thread queues every message in arrival order. It opens each
 * envelope itself (crypto, replay check, without waiting for the disk),
 * or, with verify threads (client_verify.c), copies a signed one and
 * hands it to them. The delivery thread takes the oldest messages whose
 * verification is done, runs the replay check of those the verify threads
 * had (in arrival order, one at a time), makes the replay records durable
 * with one secmq_keyring_sync() (so a burst shares one fdatasync), and
 * only then calls on_message / on_open_failure, in arrival order, wiping
 * each plaintext after its callback. The queue is bounded: a slow
 * application holds the loop thread back, as it did when callbacks ran
 * there. It also feeds the receipt batches and wakes for their timed
 * flush (client_rcpt.c). MQTT is client.c's, the crypto keyring.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "client_dq_int.h"
#include "net_int.h"

/* At most this many messages or payload bytes wait for the application. */
#define DQ_MAX_MSGS 1024u
#define DQ_MAX_BYTES (16u * 1024u * 1024u)

/* Delivered items kept for reuse (so a steady stream of messages costs
 * no malloc, free or page faults per message): at most this many and
 * bytes on each side, none larger than DQ_REUSE_ITEM. */
#define DQ_REUSE_MAX 64u
#define DQ_REUSE_BYTES (2u * 1024u * 1024u)
#define DQ_REUSE_ITEM (256u * 1024u)

/* secmq_client_set_sync_interval's default, in microseconds. */
#define DQ_SYNC_INTERVAL_US 1000u
/* A group commit is not held back while this many messages or bytes
 * wait: the loop thread must not find the queue full because of it. */
#define DQ_HOLD_MSGS (DQ_MAX_MSGS / 4u)
#define DQ_HOLD_BYTES (DQ_MAX_BYTES / 4u)

typedef secmq__dq_item dq_item;
typedef secmq__dq secmq__dq;

/* Wipe what it held of a message, before it is freed or reused. */
static void item_wipe(dq_item *it)
{
    if (it->datalen > 0) {
        /* SECURITY: plaintext never outlives its callback. */
        sodium_memzero(it->data, it->datalen);
        it->datalen = 0;
    }
}

static void list_free(dq_item *it)
{
    dq_item *next;

    for (; it != NULL; it = next) {
        next = it->next;
        free(it);
    }
}

/* A new item for msg in one block (a reused one of the loop thread's
 * list when it is large enough): the topic, a buffer for len + 1 bytes of
 * plaintext and, with copy_env, a copy of the envelope. NULL when out of
 * memory. Loop thread. */
static dq_item *item_new(secmq__dq *q, const secmq_message *msg, int copy_env)
{
    size_t tlen = strlen(msg->topic), len = msg->payloadlen, extra, room;
    dq_item *it;
    unsigned char *p;

    if (len > (SIZE_MAX - sizeof *it - tlen - 2) / 2) {
        return NULL;
    }
    extra = tlen + 1 + len + 1 + (copy_env ? len : 0);
    it = q->lfree;
    if (it != NULL) {
        q->lfree = it->next;
        if (it->room < extra) {
            free(it); /* wiped when it was delivered */
            it = NULL;
        }
    }
    if (it != NULL) {
        room = it->room;
    } else {
        room = extra;
        it = malloc(sizeof *it + room);
        if (it == NULL) {
            return NULL;
        }
    }
    memset(it, 0, sizeof *it);
    it->room = room;
    p = (unsigned char *)(it + 1);
    it->topic = (char *)p;
    memcpy(it->topic, msg->topic, tlen + 1);
    p += tlen + 1;
    it->data = p;
    it->datacap = len + 1;
    if (copy_env) {
        memcpy(p + len + 1, msg->payload, len);
        it->env = p + len + 1;
        it->envlen = len;
    }
    it->rchan = -1;
    it->msg = *msg;
    it->msg.topic = it->topic;
    return it;
}

static void log_err(secmq_client *c, const char *line)
{
    c->log.fn(c->log.ctx, SECMQ_LOG_ERROR, line);
}

/* Deliver a batch taken off the queue (delivery thread). Returns its
 * items, wiped, for reuse (those small enough; the others are freed). */
static dq_item *deliver_batch(secmq_client *c, dq_item *batch)
{
    char why[SECMQ_ERRMSG_BYTES], line[SECMQ_ERRMSG_BYTES + 128];
    secmq_keyring *kr = NULL;
    uint64_t top = 0;
    size_t dropped = 0;
    int rc = SECMQ_OK;
    dq_item *next, *keep = NULL;

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
        item_wipe(it);
        if (it->room <= DQ_REUSE_ITEM) {
            it->next = keep;
            keep = it;
        } else {
            free(it);
        }
    }
    if (dropped > 0) {
        secmq_keyring_errmsg(kr, why, sizeof why);
        snprintf(line, sizeof line,
                 "%zu sealed message(s) not delivered: their replay state "
                 "is not durable: %s",
                 dropped, why);
        log_err(c, line);
    }
    return keep;
}

/* Keep the delivered items of list for reuse, within the bounds; free
 * the rest (q->mu held). */
static void reuse_items(secmq__dq *q, dq_item *list)
{
    dq_item *next;

    for (dq_item *it = list; it != NULL; it = next) {
        next = it->next;
        if (q->nfree >= DQ_REUSE_MAX ||
            q->free_bytes + it->room > DQ_REUSE_BYTES) {
            it->next = NULL;
            list_free(it);
            continue;
        }
        it->next = q->free_items;
        q->free_items = it;
        q->nfree++;
        q->free_bytes += it->room;
    }
}

int secmq__dq_set_idle(secmq_client *c, unsigned *field, unsigned value,
                       int *set)
{
    int busy;

    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    if (!busy) {
        *field = value;
        if (set != NULL) {
            *set = 1;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return busy ? SECMQ_E_STATE : SECMQ_OK;
}

int secmq_client_set_sync_interval(secmq_client *c, unsigned usec)
{
    if (c == NULL || usec > SECMQ_SYNC_INTERVAL_MAX_US) {
        return SECMQ_E_INVAL;
    }
    return secmq__dq_set_idle(c, &c->sync_interval_us, usec,
                              &c->sync_interval_set);
}

/* CLOCK_MONOTONIC (the clock of q->more) in microseconds. */
static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* When the next group commit may begin (q->mu held): now (0), or later
 * (the time, in now_us's scale) when the last one began less than the
 * interval ago, the oldest message is ready and few wait. Holding a
 * burst back lets one fdatasync cover more of it; a message that
 * arrives after a quiet interval is synced at once. */
static int64_t hold_until(const secmq__dq *q)
{
    int64_t t;

    if (q->interval_us <= 0 || q->stop || q->head == NULL || q->head->pending ||
        q->count >= DQ_HOLD_MSGS || q->bytes >= DQ_HOLD_BYTES) {
        return 0;
    }
    t = q->last_us + q->interval_us;
    return t > now_us() ? t : 0;
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

/* The mode and stream of an envelope that opened or is a known copy (it
 * passed steps 1-7, so it->o holds its fields), and the channel it is
 * receipted for (-1: none). */
static void note_fields(secmq_client *c, dq_item *it)
{
    const secmq_envelope_fields *f = &it->o.f;

    it->msg.seal_mode = (int)f->mode;
    memcpy(it->key_id, f->key_id, SECMQ_ID_BYTES);
    memcpy(it->sender_id, f->sender_id, SECMQ_ID_BYTES);
    it->seq = f->seq;
    it->rchan = secmq__keyring_rcpt_chan(c->keyring, f->key_id, f->sender_id);
}

/* Turn it into a refusal for on_open_failure, counted under reason. */
static void refused(secmq_client *c, dq_item *it, int reason)
{
    if (reason <= SECMQ_OPEN_OK || reason >= SECMQ_OPEN_REASON_COUNT) {
        reason = SECMQ_OPEN_MALFORMED;
    }
    atomic_fetch_add(&c->open_counts[reason], 1);
    if (it->datalen > 0) {
        /* Nothing of it was opened; wiped in case it was copied. */
        sodium_memzero(it->data, it->datalen);
    }
    it->datalen = 0;
    it->failed = 1;
    it->reason = reason;
    it->msg.payload = "";
    it->msg.payloadlen = 0;
}

/* Steps 1-7 for the envelope env (len bytes) of it: no shared state, any
 * thread, any order. */
static void verify_env(secmq_client *c, dq_item *it, const void *env,
                       size_t len)
{
    it->accept = 1;
    it->vrc = SECMQ_E_OPEN;
    it->vreason = SECMQ_OPEN_MALFORMED;
    if (len > 0) {
        it->vrc =
            secmq__keyring_verify(c->keyring, it->topic, env, len, it->data,
                                  it->datacap, &it->o, &it->vreason);
    }
}

void secmq__dq_verify(secmq_client *c, secmq__dq_item *it)
{
    verify_env(c, it, it->env, it->envlen);
}

/* Steps 8-9 for a verified item (the replay window and its journal
 * record, not yet durable), then what on_message or on_open_failure gets.
 * SECURITY: called in arrival order, one message at a time (the loop
 * thread, or the delivery thread with verify threads), so the window
 * sees the messages as they arrived. */
static void accept_item(secmq_client *c, dq_item *it)
{
    int reason = it->vreason, rc = it->vrc, again = 0;

    it->accept = 0;
    if (rc == SECMQ_OK) {
        rc = secmq__keyring_accept(c->keyring, it->topic, &it->o, it->data,
                                   &reason, SECMQ_OPEN_DEFER_SYNC, &it->ticket,
                                   &again);
    }
    if (rc == SECMQ_OK) {
        atomic_fetch_add(&c->open_counts[SECMQ_OPEN_OK], 1);
        it->data[it->o.ptlen] = '\0';
        it->datalen = it->o.ptlen;
        it->kr = c->keyring;
        it->msg.payload = it->data;
        it->msg.payloadlen = it->o.ptlen;
        it->msg.sealed = 1;
        it->msg.sender = it->o.sender;
        note_fields(c, it);
        return;
    }
    if (again) {
        /* SECURITY: only a replay that passed steps 1-7 (AEAD, signature,
         * publisher) of an envelope the keyring knows it accepted. */
        it->kr = c->keyring;
        it->again = 1;
        note_fields(c, it);
    }
    if (rc == SECMQ_E_IO || rc == SECMQ_E_NOMEM) {
        char why[SECMQ_ERRMSG_BYTES];
        secmq_keyring_errmsg(c->keyring, why, sizeof why);
        log_err(c, why);
    }
    refused(c, it, reason); /* it->data was wiped by the open */
}

/* Detach the oldest messages whose verification is done (q->mu held). */
static dq_item *take_ready(secmq__dq *q)
{
    dq_item *batch = q->head, *last = NULL, *it = q->head;

    while (it != NULL && !it->pending) {
        q->count--;
        q->bytes -= it->qbytes;
        last = it;
        it = it->next;
    }
    if (last == NULL) {
        return NULL;
    }
    last->next = NULL;
    q->head = it;
    if (it == NULL) {
        q->tail = NULL;
    }
    pthread_cond_broadcast(&q->room);
    return batch;
}

static void *dq_main(void *arg)
{
    secmq_client *c = arg;
    secmq__dq *q = c->dq;
    dq_item *batch;
    int64_t next;
    struct timespec ts;

    (void)pthread_setname_np(pthread_self(), "secmq-deliver");
    pthread_mutex_lock(&q->mu);
    for (;;) {
        next = hold_until(q);
        if (next > 0) {
            ts.tv_sec = (time_t)(next / 1000000);
            ts.tv_nsec = (long)(next % 1000000) * 1000L;
            (void)pthread_cond_timedwait(&q->more, &q->mu, &ts);
            continue;
        }
        batch = take_ready(q);
        if (batch != NULL) {
            q->last_us = now_us();
            pthread_mutex_unlock(&q->mu);
            for (dq_item *it = batch; it != NULL; it = it->next) {
                if (it->accept) {
                    accept_item(c, it);
                }
            }
            batch = deliver_batch(c, batch);
            (void)secmq__crcpt_pump(c, 0); /* due by time under a steady load */
            pthread_mutex_lock(&q->mu);
            reuse_items(q, batch);
            continue;
        }
        if (q->head == NULL && q->stop) {
            break;
        }
        /* Idle, or the oldest message is still being verified: send the
         * receipts that are due, sleep until the next one is (or the
         * oldest message is ready). */
        pthread_mutex_unlock(&q->mu);
        next = secmq__crcpt_pump(c, 0);
        pthread_mutex_lock(&q->mu);
        if ((q->head == NULL && !q->stop) ||
            (q->head != NULL && q->head->pending)) {
            wait_more(q, next);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* The queue, its verify threads and its delivery thread, made on the
 * first message. */
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
    q->interval_us =
        c->sync_interval_set ? c->sync_interval_us : DQ_SYNC_INTERVAL_US;
    c->dq = q;
    if (secmq__verify_start(c, q) != SECMQ_OK) {
        log_err(c, "cannot start the verify threads: the loop thread "
                   "opens every message");
    }
    if (pthread_create(&q->th, NULL, dq_main, c) != 0) {
        secmq__verify_stop(q);
        pthread_cond_destroy(&q->room);
        pthread_cond_destroy(&q->more);
        pthread_mutex_destroy(&q->mu);
        free(q);
        c->dq = NULL;
        return SECMQ_E_NOMEM;
    }
    return SECMQ_OK;
}

/* msg as a new item, opened (steps 1-7, and 8-9 without verify threads),
 * or copied for a verify thread (*to_pool 1), or as it is (uncovered).
 * NULL when out of memory. */
static dq_item *make_item(secmq_client *c, secmq__dq *q,
                          const secmq_message *msg, int *to_pool)
{
    size_t len = msg->payloadlen;
    dq_item *it;

    *to_pool = 0;
    /* SECURITY: a covered topic is always opened, whatever the
     * allow-plain filters say, and nothing unopened reaches on_message
     * unless the application asked for plain messages on that topic: a
     * subscriber not yet granted, or a broker that renamed a topic, must
     * not show an envelope (or an impostor's plaintext) as a payload. */
    if (!secmq_keyring_covers(c->keyring, msg->topic)) {
        it = item_new(q, msg, 0);
        if (it == NULL) {
            return NULL;
        }
        if (!secmq__client_plain_allowed(c, msg->topic)) {
            refused(c, it, SECMQ_OPEN_NO_CHANNEL);
            return it;
        }
        memcpy(it->data, msg->payload, len);
        it->data[len] = '\0';
        it->datalen = len;
        it->msg.payload = it->data;
        return it;
    }
    *to_pool = len > 0 && secmq__verify_wanted(q, msg->payload, len);
    it = item_new(q, msg, *to_pool);
    if (it == NULL || *to_pool) {
        return it;
    }
    verify_env(c, it, msg->payload, len);
    if (q->nworkers == 0) {
        /* No verify threads: this thread is the only one to accept, in
         * arrival order. With them, the delivery thread does, after the
         * messages ahead of this one. */
        accept_item(c, it);
    }
    return it;
}

void secmq__client_enqueue(secmq_client *c, const secmq_message *msg)
{
    secmq__dq *q;
    dq_item *it;
    int to_pool, cancel;

    /* libmosquitto's loop_stop(force) cancels this thread: never while it
     * holds the queue's or the keyring's locks. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    if (c->dq == NULL && dq_start(c) != SECMQ_OK) {
        log_err(c, "cannot start the delivery thread: message dropped");
        goto out;
    }
    q = c->dq;
    it = make_item(c, q, msg, &to_pool);
    if (it == NULL) {
        log_err(c, "out of memory: a received message was dropped");
        goto out;
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
    it->qbytes = it->datalen + it->envlen;
    q->bytes += it->qbytes;
    if (to_pool) {
        secmq__verify_push(q, it);
    } else if (q->head == it || q->count == DQ_HOLD_MSGS ||
               (q->bytes >= DQ_HOLD_BYTES &&
                q->bytes - it->qbytes < DQ_HOLD_BYTES)) {
        /* The delivery thread may sleep on an empty queue, or hold a
         * group commit back until this many wait. */
        pthread_cond_signal(&q->more);
    }
    if (q->lfree == NULL && q->free_items != NULL) {
        /* The delivered items, for the next messages of this thread. */
        q->lfree = q->free_items;
        q->free_items = NULL;
        q->nfree = 0;
        q->free_bytes = 0;
    }
    pthread_mutex_unlock(&q->mu);
out:
    pthread_setcancelstate(cancel, NULL);
}

void secmq__client_deliver_stop(secmq_client *c)
{
    secmq__dq *q = c->dq;

    if (q == NULL) {
        return;
    }
    /* The delivery thread delivers everything queued (the verify threads
     * still finish what they hold), then the verify threads end. */
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    secmq__verify_stop(q);
    list_free(q->free_items);
    list_free(q->lfree);
    pthread_cond_destroy(&q->room);
    pthread_cond_destroy(&q->more);
    pthread_mutex_destroy(&q->mu);
    free(q);
    c->dq = NULL;
}
