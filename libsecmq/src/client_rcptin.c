/*
 * client_rcptin.c -- receipts a sender waits for (PROTOCOL.md §9;
 * secmq/receipt.h, "Receipts a sender waits for"): which outbox rows are
 * held (the classify hook), the subscriptions to the receipt topics, the
 * receipts that arrive there (opened with the keyring, ranges handed to
 * the outbox), the settings and counters. The holding itself is
 * outbox_rcpt.c's; receipts this client sends are client_rcpt.c's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <sodium.h>

#include "client_int.h"
#include "keyring_int.h"

void secmq_receipt_wait_init(secmq_receipt_wait *w)
{
    memset(w, 0, sizeof *w);
    w->size = sizeof *w;
    w->resend_ms = SECMQ_RECEIPT_DEFAULT_RESEND_MS;
    w->resend_max_ms = SECMQ_RECEIPT_DEFAULT_RESEND_MAX_MS;
    w->give_up_ms = SECMQ_RECEIPT_DEFAULT_GIVE_UP_MS;
    w->window = SECMQ_RECEIPT_WINDOW_MAX;
}

static int connecting(secmq_client *c)
{
    int busy;

    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    pthread_mutex_unlock(&c->lock);
    return busy;
}

int secmq_client_set_receipt_wait(secmq_client *c, const secmq_receipt_wait *w)
{
    if (c == NULL || w == NULL) {
        return SECMQ_E_INVAL;
    }
    if (w->size != sizeof *w) {
        return secmq__err_set(&c->err, SECMQ_E_INVAL,
                              "receipt wait: not initialised with "
                              "secmq_receipt_wait_init()");
    }
    if (w->resend_ms < 1 || w->resend_ms > 3600000u ||
        w->resend_max_ms < w->resend_ms || w->resend_max_ms > 3600000u ||
        w->give_up_ms < 1 || w->window > SECMQ_RECEIPT_WINDOW_MAX) {
        return secmq__err_set(
            &c->err, SECMQ_E_INVAL,
            "receipt wait: resend_ms 1..3600000, resend_max_ms resend_ms.."
            "3600000, give_up_ms >= 1, window 0..%u",
            SECMQ_RECEIPT_WINDOW_MAX);
    }
    if (connecting(c)) {
        return secmq__err_set(&c->err, SECMQ_E_STATE,
                              "receipt wait: set it before connecting");
    }
    c->rcpt_wait = *w;
    if (c->outbox != NULL) {
        secmq__outbox_set_receipt_wait(c->outbox, w);
    }
    return SECMQ_OK;
}

void secmq_client_on_receipt(secmq_client *c, secmq_receipt_cb cb)
{
    if (c != NULL) {
        c->on_receipt = cb;
    }
}

int secmq_client_receipt_row(secmq_client *c, uint64_t id,
                             secmq_receipt_row *st, size_t size)
{
    secmq_receipt_row row;
    int rc;

    if (c == NULL || st == NULL || size == 0) {
        return SECMQ_E_INVAL;
    }
    if (c->outbox == NULL) {
        return SECMQ_E_STATE;
    }
    rc = secmq__outbox_row(c->outbox, id, &row);
    if (rc == SECMQ_OK) {
        memcpy(st, &row, size < sizeof row ? size : sizeof row);
    }
    return rc;
}

/* ---- outbox hooks ---- */

int secmq__crin_classify(void *ctx, const void *payload, size_t len,
                         secmq__obrc *out)
{
    secmq_client *c = ctx;
    secmq_envelope_fields f;
    secmq__send_rcpt sr;

    if (c->keyring == NULL ||
        secmq_envelope_parse(payload, len, &f) != SECMQ_OPEN_OK ||
        !secmq__keyring_send_rcpt(c->keyring, f.key_id, f.sender_id, &sr)) {
        return 0;
    }
    memcpy(out->key_id, f.key_id, sizeof out->key_id);
    out->seq = f.seq;
    out->chan = sr.chan;
    out->n_rcpt = sr.n_rcpt;
    out->self_idx = sr.self_idx;
    out->need = sr.need;
    return 1;
}

void secmq__crin_receipt(void *ctx, uint64_t id, int rc, unsigned got,
                         unsigned need)
{
    secmq_client *c = ctx;

    if (c->on_receipt != NULL) {
        c->on_receipt(c, c->user, id, rc, got, need);
    }
}

void secmq__crin_missing(void *ctx, long chan, unsigned self_idx,
                         const unsigned char *bits, unsigned n, char *buf,
                         size_t len)
{
    secmq_client *c = ctx;
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < n && c->keyring != NULL; i++) {
        int w;
        if (i == self_idx || (bits[i / 8] & (1u << (i % 8))) != 0) {
            continue;
        }
        w = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
                     secmq__keyring_rcpt_name(c->keyring, chan, i));
        if (w < 0 || (size_t)w >= len - used) {
            break; /* truncated: the count in the line says how many */
        }
        used += (size_t)w;
    }
}

void secmq__crin_unheld(secmq_client *c, const void *env, size_t len)
{
    secmq__obrc rc;

    if (atomic_load(&c->rcpt_warned) ||
        !secmq__crin_classify(c, env, len, &rc) ||
        atomic_exchange(&c->rcpt_warned, 1)) {
        return;
    }
    secmq__log_write(&c->log, SECMQ_LOG_WARNING,
                     "a message on a channel with receipts was published "
                     "without an outbox: it is not held until receipted nor "
                     "resent (set an outbox, secmq/receipt.h)");
}

/* ---- the receipt topics ---- */

void secmq__crin_connected(secmq_client *c)
{
    size_t n;

    c->rcpt_nsubs = 0;
    if (c->keyring == NULL || c->outbox == NULL) {
        return;
    }
    n = secmq__keyring_nchans(c->keyring);
    for (size_t i = 0; i < n; i++) {
        const char *t = secmq__keyring_rcpt_topic(c->keyring, i);
        int mid = 0, mrc;
        if (t == NULL) {
            continue;
        }
        mrc = mosquitto_subscribe(c->mosq, &mid, t, 1);
        if (mrc != MOSQ_ERR_SUCCESS) {
            secmq__log_write(&c->log, SECMQ_LOG_ERROR,
                             "cannot subscribe to the receipt topic '%s' "
                             "(%s): rows waiting for its receipts will be "
                             "resent and given up",
                             t, mosquitto_strerror(mrc));
        } else if (c->rcpt_nsubs < SECMQ__RCPT_SUBS_MAX) {
            c->rcpt_subs[c->rcpt_nsubs].mid = mid;
            c->rcpt_subs[c->rcpt_nsubs].chan = (long)i;
            c->rcpt_nsubs++;
        }
    }
}

int secmq__crin_suback(secmq_client *c, int mid, int count, const int *granted)
{
    for (size_t k = 0; k < c->rcpt_nsubs; k++) {
        const char *t;
        if (c->rcpt_subs[k].mid != mid) {
            continue;
        }
        t = secmq__keyring_rcpt_topic(c->keyring, (size_t)c->rcpt_subs[k].chan);
        if (count < 1 || granted == NULL || granted[0] < 0 ||
            granted[0] >= 0x80) {
            secmq__log_write(&c->log, SECMQ_LOG_ERROR,
                             "the broker refused the subscription to the "
                             "receipt topic '%s': no receipt can arrive; "
                             "the rows sent on its channel will be resent "
                             "and given up (the broker ACL needs read on it "
                             "for this user, PROTOCOL.md §9.1)",
                             t != NULL ? t : "?");
        }
        return 1;
    }
    return 0;
}

int secmq__crin_message(secmq_client *c, const char *topic, const void *env,
                        size_t len)
{
    secmq_receipt_range *ranges;
    unsigned char self[SECMQ_ID_BYTES];
    size_t n = 0, who = 0;
    long chan = -1;
    int reason = SECMQ_OPEN_MALFORMED, rc;

    if (c->keyring == NULL || c->outbox == NULL ||
        !secmq__keyring_rcpt_is_topic(c->keyring, topic)) {
        return 0;
    }
    ranges = malloc(SECMQ_RECEIPT_MAX_RANGES * sizeof *ranges);
    if (ranges == NULL) {
        secmq__log_write(&c->log, SECMQ_LOG_ERROR,
                         "out of memory: a receipt on '%s' was dropped", topic);
        return 1;
    }
    rc = secmq__keyring_open_receipt_ix(c->keyring, topic, env, len, ranges,
                                        SECMQ_RECEIPT_MAX_RANGES, &n, &chan,
                                        &who, &reason);
    if (rc != SECMQ_OK) {
        atomic_fetch_add(&c->rcpt_refused, 1);
        secmq__log_write(&c->log, SECMQ_LOG_WARNING,
                         "refused a receipt on '%s' (%s): it counts for "
                         "nothing",
                         topic, secmq_open_reason_name(reason));
        free(ranges);
        return 1;
    }
    atomic_fetch_add(&c->rcpt_opened, 1);
    secmq_keyring_id(c->keyring, self);
    for (size_t i = 0; i < n; i++) {
        /* §9.3 step 6: only ranges about this identity's messages. */
        int mine =
            !memcmp(ranges[i].sender_id, self, SECMQ_ID_BYTES); /* not secret */
        if (mine) {
            secmq__outbox_receipt(c->outbox, chan, ranges[i].key_id,
                                  ranges[i].first, ranges[i].count, who);
        }
    }
    free(ranges);
    return 1;
}

void secmq__crin_stats(secmq_client *c, secmq_receipt_stats *st)
{
    if (c->outbox != NULL) {
        st->awaiting = secmq__outbox_awaiting(c->outbox, &st->receipted,
                                              &st->resent, &st->missed);
    }
    st->opened = atomic_load(&c->rcpt_opened);
    st->refused = atomic_load(&c->rcpt_refused);
}
