/*
 * client_rcpt.c -- the receipts a client with a keyring sends (PROTOCOL.md
 * §9): one batch per channel of the messages it opened and made durable,
 * sealed and published at QoS 1 on the channel's receipt topic when the
 * batch is due (rcptbatch.c decides), and the PUBACKs of those publishes
 * kept away from on_publish. The delivery thread (client_deliver.c) feeds
 * it and drives the timed flush; opening a receipt (the sender's side) is
 * not here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "keyring_int.h"
#include "net_int.h"
#include "rcptbatch_int.h"

/* Receipts whose PUBACK is awaited, at most; beyond that the oldest is
 * forgotten (its PUBACK then reaches on_publish, which ignores unknown
 * mids). */
#define MAX_INFLIGHT 256u

struct secmq__crcpt {
    pthread_mutex_t mu; /* guards everything below */
    secmq_keyring *kr;  /* BORROWED: the client's keyring */
    secmq__rb **batch;  /* one per channel of the keyring, made on use */
    size_t nbatch;
    int inflight[MAX_INFLIGHT]; /* mids of receipts awaiting PUBACK */
    size_t ninflight;
    secmq_receipt_stats st;
    char warn[160]; /* a line for on_log, written after r->mu is let go */
    secmq_receipt_range ranges[SECMQ_RECEIPT_MAX_RANGES]; /* scratch */
    unsigned char env[SECMQ_RECEIPT_MAX_BYTES];           /* scratch */
};

/* Drop every batch (r->mu held). */
static void drop_batches(struct secmq__crcpt *r)
{
    for (size_t i = 0; i < r->nbatch; i++) {
        free(r->batch[i]);
    }
    free(r->batch);
    r->batch = NULL;
    r->nbatch = 0;
    r->st.pending = 0;
}

int secmq__crcpt_set_keyring(secmq_client *c, secmq_keyring *kr)
{
    struct secmq__crcpt *r = c->rcpt;
    size_t n = kr != NULL ? secmq__keyring_nchans(kr) : 0;
    secmq__rb **batch = NULL;

    if (r == NULL && kr == NULL) {
        return SECMQ_OK;
    }
    if (r == NULL) {
        /* Made once, kept until secmq_client_free: the delivery thread
         * may look at it from its first message on. */
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            return SECMQ_E_NOMEM;
        }
        pthread_mutex_init(&r->mu, NULL);
        c->rcpt = r;
    }
    if (n > 0) {
        batch = calloc(n, sizeof *batch);
        if (batch == NULL) {
            return SECMQ_E_NOMEM;
        }
    }
    pthread_mutex_lock(&r->mu);
    /* Batches of another keyring cannot be sealed with this one; after
     * secmq_client_disconnect() nothing is pending anyway. */
    drop_batches(r);
    r->batch = batch;
    r->nbatch = n;
    r->kr = kr;
    pthread_mutex_unlock(&r->mu);
    return SECMQ_OK;
}

void secmq__crcpt_free(secmq_client *c)
{
    struct secmq__crcpt *r = c->rcpt;

    if (r == NULL) {
        return;
    }
    drop_batches(r);
    pthread_mutex_destroy(&r->mu);
    free(r);
    c->rcpt = NULL;
}

static size_t max_msgs(const secmq_client *c)
{
    return c->rcpt_max_msgs > 0 ? c->rcpt_max_msgs : SECMQ__RB_MAX_MSGS;
}

static uint64_t max_delay(const secmq_client *c)
{
    return c->rcpt_max_delay_ms > 0 ? c->rcpt_max_delay_ms
                                    : SECMQ__RB_MAX_DELAY_MS;
}

/* Let go of r->mu, then log the warning noted under it, if any: on_log
 * is the application's and may call back into the client. */
static void unlock_and_log(secmq_client *c, struct secmq__crcpt *r)
{
    char line[sizeof r->warn];

    memcpy(line, r->warn, sizeof line);
    r->warn[0] = '\0';
    pthread_mutex_unlock(&r->mu);
    if (line[0] != '\0') {
        c->log.fn(c->log.ctx, SECMQ_LOG_WARNING, line);
    }
}

/* Messages waiting in batches (r->mu held). */
static void recount(struct secmq__crcpt *r)
{
    r->st.pending = 0;
    for (size_t k = 0; k < r->nbatch; k++) {
        r->st.pending += r->batch[k] != NULL ? r->batch[k]->msgs : 0;
    }
}

/* Seal and publish channel i's batch (r->mu held). A failure loses the
 * batch's ranges (counted, logged): their messages stay unreceipted. */
static void send_batch(secmq_client *c, struct secmq__crcpt *r, size_t i)
{
    const char *topic = NULL;
    size_t n, len = 0;
    uint64_t covered = 0;
    int rc, mid = 0;

    n = secmq__rb_take(r->batch[i], r->ranges);
    if (n == 0 || r->kr == NULL) {
        return;
    }
    for (size_t k = 0; k < n; k++) {
        covered += r->ranges[k].count;
    }
    rc = secmq_keyring_seal_receipt(r->kr, r->ranges, n, r->env, sizeof r->env,
                                    &len, &topic);
    if (rc == SECMQ_OK) {
        /* Under r->mu, so the PUBACK (loop thread) finds the mid. */
        rc = secmq__client_publish_direct(c, &mid, topic, r->env, len, 1, 0);
    }
    if (rc != SECMQ_OK) {
        r->st.failed++;
        snprintf(r->warn, sizeof r->warn,
                 "a receipt for %llu message(s) was not sent: %s",
                 (unsigned long long)covered, secmq_strerror(rc));
        return;
    }
    r->st.sent++;
    r->st.ranges += n;
    r->st.messages += covered;
    if (r->ninflight == MAX_INFLIGHT) {
        memmove(r->inflight, r->inflight + 1,
                (MAX_INFLIGHT - 1) * sizeof r->inflight[0]);
        r->ninflight--;
    }
    r->inflight[r->ninflight++] = mid;
}

void secmq__crcpt_note(secmq_client *c, long chan, const unsigned char *key_id,
                       const unsigned char *sender_id, uint64_t seq)
{
    struct secmq__crcpt *r = c->rcpt;
    uint64_t now = (uint64_t)secmq__now_ms();
    size_t i = (size_t)chan;
    secmq__rb *b;

    if (r == NULL || chan < 0) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (i >= r->nbatch) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    if (r->batch[i] == NULL) {
        r->batch[i] = malloc(sizeof *r->batch[i]);
        if (r->batch[i] == NULL) {
            r->st.failed++;
            snprintf(r->warn, sizeof r->warn,
                     "out of memory: a message will not be receipted");
            unlock_and_log(c, r);
            return;
        }
        secmq__rb_init(r->batch[i]);
    }
    b = r->batch[i];
    if (!secmq__rb_add(b, key_id, sender_id, seq, now)) {
        send_batch(c, r, i); /* every range used: send, then start anew */
        (void)secmq__rb_add(b, key_id, sender_id, seq, now);
    }
    if (secmq__rb_due(b, now, max_msgs(c), max_delay(c))) {
        send_batch(c, r, i);
    }
    recount(r);
    unlock_and_log(c, r);
}

int64_t secmq__crcpt_pump(secmq_client *c, int all)
{
    struct secmq__crcpt *r = c->rcpt;
    uint64_t now = (uint64_t)secmq__now_ms(), delay = max_delay(c);
    int64_t next = -1;

    if (r == NULL) {
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->nbatch; i++) {
        secmq__rb *b = r->batch[i];
        if (b == NULL || b->n == 0) {
            continue;
        }
        if (all || secmq__rb_due(b, now, max_msgs(c), delay)) {
            send_batch(c, r, i);
        } else {
            int64_t at = (int64_t)(b->first_ms + delay);
            next = next < 0 || at < next ? at : next;
        }
    }
    recount(r);
    unlock_and_log(c, r);
    return next;
}

int secmq__crcpt_puback(secmq_client *c, int mid)
{
    struct secmq__crcpt *r = c->rcpt;
    int found = 0;

    if (r == NULL) {
        return 0;
    }
    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; k < r->ninflight; k++) {
        if (r->inflight[k] == mid) {
            memmove(r->inflight + k, r->inflight + k + 1,
                    (r->ninflight - k - 1) * sizeof r->inflight[0]);
            r->ninflight--;
            r->st.acked++;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

int secmq_client_set_receipts(secmq_client *c, unsigned msgs, unsigned delay_ms)
{
    int busy;

    if (c == NULL || msgs > 65535u || delay_ms > 60000u) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    pthread_mutex_unlock(&c->lock);
    if (busy) {
        return SECMQ_E_STATE;
    }
    c->rcpt_max_msgs = msgs;
    c->rcpt_max_delay_ms = delay_ms;
    return SECMQ_OK;
}

int secmq_client_receipt_stats(secmq_client *c, secmq_receipt_stats *st,
                               size_t size)
{
    secmq_receipt_stats now;

    if (c == NULL || st == NULL || size == 0) {
        return SECMQ_E_INVAL;
    }
    memset(&now, 0, sizeof now);
    if (c->rcpt != NULL) {
        pthread_mutex_lock(&c->rcpt->mu);
        now = c->rcpt->st;
        pthread_mutex_unlock(&c->rcpt->mu);
    }
    secmq__crin_stats(c, &now);
    memcpy(st, &now, size < sizeof now ? size : sizeof now);
    return SECMQ_OK;
}
