/*
 * client_seal.c -- the keyring between the application and MQTT.
 *
 * Seals a publish on a covered topic (never falling back to plaintext),
 * opens a received envelope into a buffer wiped once on_message returns,
 * refuses what did not open or no channel covers (unless the application
 * allowed plain messages there), counting the outcomes. The crypto is
 * keyring.c's; MQTT is client.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client_int.h"
#include "topicfilter_int.h"

int secmq_client_set_keyring(secmq_client *c, secmq_keyring *kr)
{
    int busy;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    pthread_mutex_unlock(&c->lock);
    if (busy) {
        return SECMQ_E_STATE;
    }
    c->keyring = kr;
    return SECMQ_OK;
}

int secmq_client_allow_plain(secmq_client *c, const char *filter)
{
    char **more;
    char *copy;
    int busy;

    if (c == NULL || filter == NULL ||
        !secmq__filter_valid(filter, strlen(filter))) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    pthread_mutex_unlock(&c->lock);
    if (busy) {
        return SECMQ_E_STATE;
    }
    more = realloc(c->allow_plain, (c->nallow_plain + 1) * sizeof *more);
    if (more == NULL) {
        return SECMQ_E_NOMEM;
    }
    c->allow_plain = more;
    copy = strdup(filter);
    if (copy == NULL) {
        return SECMQ_E_NOMEM;
    }
    c->allow_plain[c->nallow_plain++] = copy;
    return SECMQ_OK;
}

void secmq__client_free_plain(secmq_client *c)
{
    for (size_t i = 0; i < c->nallow_plain; i++) {
        free(c->allow_plain[i]);
    }
    free(c->allow_plain);
    c->allow_plain = NULL;
    c->nallow_plain = 0;
}

int secmq_client_open_counts(secmq_client *c, uint64_t *counts)
{
    if (c == NULL || counts == NULL) {
        return SECMQ_E_INVAL;
    }
    for (int i = 0; i < SECMQ_OPEN_REASON_COUNT; i++) {
        counts[i] = (uint64_t)atomic_load(&c->open_counts[i]);
    }
    return SECMQ_OK;
}

int secmq__client_seal(secmq_client *c, const char *topic, const void *payload,
                       size_t payloadlen, int retain, unsigned char **env,
                       size_t *envlen)
{
    size_t cap;
    int rc;

    *env = NULL;
    *envlen = 0;
    if (c->keyring == NULL || !secmq_keyring_covers(c->keyring, topic) ||
        (payloadlen == 0 && retain)) {
        /* Not covered, or an empty retained publish (which carries no
         * data and only deletes the topic's retained message). */
        return SECMQ_OK;
    }
    if (payloadlen > 268435455u - SECMQ_ENV_OVERHEAD_SIGNED) {
        return SECMQ_E_OVERSIZE;
    }
    cap = payloadlen + SECMQ_ENV_OVERHEAD_SIGNED;
    *env = malloc(cap);
    if (*env == NULL) {
        return SECMQ_E_NOMEM;
    }
    rc = secmq_keyring_seal(c->keyring, topic, payload, payloadlen, *env, cap,
                            envlen);
    if (rc != SECMQ_OK) {
        char why[SECMQ_ERRMSG_BYTES];
        secmq_keyring_errmsg(c->keyring, why, sizeof why);
        secmq__err_set(&c->err, rc, "%s", why);
        free(*env);
        *env = NULL;
        *envlen = 0;
    }
    return rc;
}

static void refuse(secmq_client *c, const char *topic, int reason)
{
    if (reason <= SECMQ_OPEN_OK || reason >= SECMQ_OPEN_REASON_COUNT) {
        reason = SECMQ_OPEN_MALFORMED;
    }
    atomic_fetch_add(&c->open_counts[reason], 1);
    if (c->on_open_failure != NULL) {
        c->on_open_failure(c, c->user, topic, reason);
    }
}

/* The mode byte of an envelope that opened (so it parses). */
static int seal_mode_of(const void *env, size_t len)
{
    secmq_envelope_fields f;

    if (secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK) {
        return 0;
    }
    return (int)f.mode;
}

static void deliver_sealed(secmq_client *c, secmq_message *msg)
{
    const void *envelope = msg->payload;
    size_t len = msg->payloadlen;
    unsigned char *plain = malloc(len + 1);
    size_t plain_len = 0;
    const char *sender = NULL;
    int reason = SECMQ_OPEN_MALFORMED;
    int rc = SECMQ_E_OPEN;

    if (plain != NULL && len > 0) {
        rc = secmq_keyring_open_msg(c->keyring, msg->topic, envelope, len,
                                    plain, len, &plain_len, &sender, &reason);
    } else if (plain == NULL) {
        reason = SECMQ_OPEN_MALFORMED; /* cannot even look at it */
    }
    if (rc == SECMQ_OK) {
        atomic_fetch_add(&c->open_counts[SECMQ_OPEN_OK], 1);
        plain[plain_len] = '\0';
        msg->payload = plain;
        msg->payloadlen = plain_len;
        msg->sealed = 1;
        msg->sender = sender;
        msg->seal_mode = seal_mode_of(envelope, len);
        if (c->on_message != NULL) {
            c->on_message(c, c->user, msg);
        }
        /* SECURITY: plaintext is wiped as soon as the application has
         * seen it; it never outlives the callback. */
        sodium_memzero(plain, plain_len);
    } else {
        refuse(c, msg->topic, reason);
    }
    free(plain);
}

static int plain_allowed(const secmq_client *c, const char *topic)
{
    size_t tlen = strlen(topic);

    if (!secmq__topic_valid(topic, tlen)) {
        return 0;
    }
    for (size_t i = 0; i < c->nallow_plain; i++) {
        const char *f = c->allow_plain[i];
        if (secmq__filter_match(f, strlen(f), topic, tlen)) {
            return 1;
        }
    }
    return 0;
}

void secmq__client_deliver_keyed(secmq_client *c, secmq_message *msg)
{
    /* SECURITY: a covered topic is always opened, whatever the
     * allow-plain filters say, and nothing unopened reaches on_message
     * unless the application asked for plain messages on that topic: a
     * subscriber not yet granted, or a broker that renamed a topic, must
     * not show an envelope (or an impostor's plaintext) as a payload. */
    if (secmq_keyring_covers(c->keyring, msg->topic)) {
        deliver_sealed(c, msg);
    } else if (plain_allowed(c, msg->topic)) {
        if (c->on_message != NULL) {
            c->on_message(c, c->user, msg);
        }
    } else {
        refuse(c, msg->topic, SECMQ_OPEN_NO_CHANNEL);
    }
}
