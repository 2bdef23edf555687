/*
 * client_outbox.c -- where a client's publish goes: its outbox, or MQTT.
 *
 * secmq_client_publish*() seal (client_seal.c) and then either queue the
 * row in the durable outbox (outbox.c) or hand it to libmosquitto directly
 * (client.c). Also the outbox's setup, its hooks back into the client
 * (send, on_durable, on_delivered), stats and waiting. No libmosquitto here.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "client_int.h"
#include "keyring_int.h"
#include "kfile_int.h"

/* The outbox's way to MQTT (called with the outbox's lock held). */
static int outbox_send(void *ctx, int *mid, const char *topic,
                       const void *payload, size_t len, int qos, int retain)
{
    return secmq__client_publish_direct(ctx, mid, topic, payload, len, qos,
                                        retain);
}

static void outbox_durable(void *ctx, uint64_t id, int rc)
{
    secmq_client *c = ctx;

    if (c->on_durable != NULL) {
        c->on_durable(c, c->user, id, rc);
    }
}

static void outbox_delivered(void *ctx, uint64_t id, int rc)
{
    secmq_client *c = ctx;

    if (c->on_delivered != NULL) {
        c->on_delivered(c, c->user, id, rc);
    }
}

/* Whether a sealed row's key was erased by the keyring (called with the
 * outbox's lock held, per row about to be handed): a header parse and a
 * key id lookup. Rows that do not parse are left to the receivers. */
static int outbox_key_erased(void *ctx, const void *payload, size_t len)
{
    secmq_client *c = ctx;
    secmq_envelope_fields f;

    if (c->keyring == NULL ||
        secmq_envelope_parse(payload, len, &f) != SECMQ_OPEN_OK) {
        return 0;
    }
    /* A row signed with this identity's key from before `identity
     * rotate` (§2.3) goes out while its channel key is held: receivers
     * open it under the previous key during the grace (PROTOCOL.md §4.2
     * step 5). */
    return secmq__key_state(c->keyring, f.key_id, secmq__unix_ms()) ==
           SECMQ__KEY_EXPIRED;
}

void secmq_outbox_config_init(secmq_outbox_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->sync = SECMQ_OUTBOX_SYNC_FULL;
    cfg->policy = SECMQ_OUTBOX_REFUSE_NEW;
    cfg->max_rows = SECMQ_OUTBOX_DEFAULT_MAX_ROWS;
    cfg->max_bytes = SECMQ_OUTBOX_DEFAULT_MAX_BYTES;
    cfg->max_inflight = SECMQ_OUTBOX_DEFAULT_INFLIGHT;
    cfg->max_batch = SECMQ_OUTBOX_DEFAULT_BATCH;
}

int secmq_client_set_outbox(secmq_client *c, const secmq_outbox_config *cfg)
{
    secmq__outbox_hooks h;
    int busy, rc;

    if (c == NULL || cfg == NULL) {
        return SECMQ_E_INVAL;
    }
    if (cfg->size != sizeof *cfg) {
        return secmq__err_set(&c->err, SECMQ_E_INVAL,
                              "outbox: configuration not initialised with "
                              "secmq_outbox_config_init()");
    }
    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED || c->threaded;
    pthread_mutex_unlock(&c->lock);
    if (busy || c->outbox != NULL) {
        return secmq__err_set(&c->err, SECMQ_E_STATE,
                              busy ? "outbox: set it before connecting"
                                   : "outbox: already set");
    }
    memset(&h, 0, sizeof h);
    h.send = outbox_send;
    h.durable = outbox_durable;
    h.delivered = outbox_delivered;
    h.classify = secmq__crin_classify;
    h.receipt = secmq__crin_receipt;
    h.missing = secmq__crin_missing;
    h.key_erased = outbox_key_erased;
    h.ctx = c;
    h.log = &c->log;
    h.err = &c->err;
    rc = secmq__outbox_open(&c->outbox, cfg, &h);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq__outbox_set_receipt_wait(c->outbox, &c->rcpt_wait);
    /* Rows held for receipts that a reconnect hands again go out inside
     * on_connect, ahead of libmosquitto's resends of newer rows, only if
     * its send quota (20 by default) has room for them (MQTT 3.1.1; an
     * MQTT 5 broker's Receive Maximum still applies). */
    (void)mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM,
                               cfg->max_inflight + OB_URGENT_MAX);
    /* The commit thread hands rows to libmosquitto while another thread
     * may run the loop: libmosquitto must then never write to the socket
     * (or call on_publish) from the publishing thread, only from the loop.
     * secmq_client_loop_start() lets libmosquitto mark it itself. */
    secmq__client_threaded_set(c);
    return SECMQ_OK;
}

int secmq_client_outbox_stats_v2(secmq_client *c, secmq_outbox_stats *st,
                                 size_t size)
{
    secmq_outbox_stats all;

    if (c == NULL || st == NULL ||
        size < offsetof(secmq_outbox_stats, quarantined)) {
        return SECMQ_E_INVAL;
    }
    if (c->outbox == NULL) {
        return SECMQ_E_STATE;
    }
    secmq__outbox_stats(c->outbox, &all);
    memcpy(st, &all, size < sizeof all ? size : sizeof all);
    return SECMQ_OK;
}

int secmq_client_outbox_stats(secmq_client *c, secmq_outbox_stats *st)
{
    return secmq_client_outbox_stats_v2(
        c, st, offsetof(secmq_outbox_stats, quarantined));
}

int secmq_client_outbox_release_qos2(secmq_client *c, int qos, uint64_t *count)
{
    int busy;

    if (count != NULL) {
        *count = 0;
    }
    if (c == NULL || (qos != 1 && qos != 2)) {
        return SECMQ_E_INVAL;
    }
    if (c->outbox == NULL) {
        return secmq__err_set(&c->err, SECMQ_E_STATE, "no outbox is set");
    }
    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    pthread_mutex_unlock(&c->lock);
    if (busy) {
        return secmq__err_set(&c->err, SECMQ_E_STATE,
                              "outbox: release held QoS 2 rows before "
                              "connecting");
    }
    if (qos == 2 && atomic_load(&c->qos2_refused)) {
        return secmq__err_set(&c->err, SECMQ_E_QOS_UNSUPPORTED,
                              "this client's broker answered QoS 2 with "
                              "PUBACK: release the rows at QoS 1, or at QoS "
                              "2 with a new client for another broker");
    }
    return secmq__outbox_release_qos2(c->outbox, qos, count);
}

int secmq_client_outbox_wait(secmq_client *c, int what, int timeout_ms)
{
    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    if (c->outbox == NULL) {
        return SECMQ_E_STATE;
    }
    return secmq__outbox_wait(c->outbox, what, timeout_ms);
}

int secmq_client_publish_v2(secmq_client *c, uint64_t *id, int *mid,
                            const char *topic, const void *payload,
                            size_t payloadlen, int qos, int retain,
                            unsigned flags)
{
    unsigned char *env = NULL;
    const void *data = payload;
    size_t len = payloadlen;
    int use_outbox, sealed = 0, rc;

    if (id != NULL) {
        *id = 0;
    }
    if (mid != NULL) {
        *mid = 0;
    }
    if (c == NULL || topic == NULL || qos < 0 || qos > 2 ||
        (payload == NULL && payloadlen > 0) ||
        (flags & ~(SECMQ_PUBLISH_RAW | SECMQ_PUBLISH_ASYNC |
                   SECMQ_PUBLISH_DIRECT)) != 0) {
        return SECMQ_E_INVAL;
    }
    use_outbox =
        !(flags & SECMQ_PUBLISH_DIRECT) && secmq__outbox_wants(c->outbox, qos);
    if (!(flags & SECMQ_PUBLISH_RAW)) {
        size_t envlen;
        rc = secmq__client_seal(c, topic, payload, payloadlen, retain, &env,
                                &envlen);
        if (rc != SECMQ_OK) {
            return rc;
        }
        if (env != NULL) {
            data = env;
            len = envlen;
            sealed = 1;
        }
    }
    if (use_outbox) {
        /* SECURITY: what is stored is what goes on the wire: the envelope
         * when sealed (see secmq/outbox.h for unsealed topics). */
        rc = secmq__client_check_topic(c, topic);
        if (rc == SECMQ_OK && len > 268435455u) {
            rc = SECMQ_E_OVERSIZE;
        }
        if (rc == SECMQ_OK && qos == 2 && atomic_load(&c->qos2_refused)) {
            /* This broker has no QoS 2: queueing the row would only set
             * it aside (secmq/outbox.h). */
            rc = secmq__qos2_before_publish(c, qos);
        }
        if (rc == SECMQ_OK) {
            rc = secmq__outbox_put(c->outbox, id, topic, data, len, qos, retain,
                                   sealed, !(flags & SECMQ_PUBLISH_ASYNC));
        }
    } else {
        rc =
            secmq__client_publish_direct(c, mid, topic, data, len, qos, retain);
        if (rc == SECMQ_OK && sealed) {
            secmq__crin_unheld(c, data, len);
        }
    }
    secmq__client_seal_done(env); /* copied by now; ciphertext only */
    return rc;
}

int secmq_client_publish_raw(secmq_client *c, int *mid, const char *topic,
                             const void *payload, size_t payloadlen, int qos,
                             int retain)
{
    return secmq_client_publish_v2(c, NULL, mid, topic, payload, payloadlen,
                                   qos, retain, SECMQ_PUBLISH_RAW);
}

int secmq_client_publish(secmq_client *c, int *mid, const char *topic,
                         const void *payload, size_t payloadlen, int qos,
                         int retain)
{
    return secmq_client_publish_v2(c, NULL, mid, topic, payload, payloadlen,
                                   qos, retain, 0);
}
