/*
 * client_seal.c -- the keyring between the application and MQTT.
 *
 * Seals a publish on a covered topic (never falling back to plaintext);
 * the open counts and the allow-plain filters. Opening and delivering
 * received envelopes is client_deliver.c's. The crypto is keyring.c's;
 * MQTT is client.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "keyring_int.h"
#include "topicfilter_int.h"

/* Connecting or connected: the keyring and its filters are in use. */
static int linked(secmq_client *c)
{
    int busy;

    pthread_mutex_lock(&c->lock);
    busy = c->state == ST_CONNECTING || c->state == ST_CONNECTED;
    pthread_mutex_unlock(&c->lock);
    return busy;
}

int secmq_client_set_keyring(secmq_client *c, secmq_keyring *kr)
{
    int rc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    if (linked(c)) {
        return SECMQ_E_STATE;
    }
    rc = secmq__crcpt_set_keyring(c, kr);
    if (rc != SECMQ_OK) {
        return rc;
    }
    c->keyring = kr;
    return SECMQ_OK;
}

int secmq_client_allow_plain(secmq_client *c, const char *filter)
{
    char **more;
    char *copy;

    if (c == NULL || filter == NULL ||
        !secmq__filter_valid(filter, strlen(filter))) {
        return SECMQ_E_INVAL;
    }
    if (linked(c)) {
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

/* The reasons secmq_client_open_counts() was defined with: its callers'
 * arrays have this many entries, whatever the header says now. */
#define OPEN_COUNTS_V1 12

int secmq_client_open_counts_v2(secmq_client *c, uint64_t *counts, size_t n)
{
    size_t m = n < SECMQ_OPEN_REASON_COUNT ? n : SECMQ_OPEN_REASON_COUNT;

    if (c == NULL || counts == NULL) {
        return SECMQ_E_INVAL;
    }
    for (size_t i = 0; i < m; i++) {
        counts[i] = (uint64_t)atomic_load(&c->open_counts[i]);
    }
    return (int)m;
}

int secmq_client_open_counts(secmq_client *c, uint64_t *counts)
{
    int rc = secmq_client_open_counts_v2(c, counts, OPEN_COUNTS_V1);

    return rc < 0 ? rc : SECMQ_OK;
}

/*
 * Each publishing thread seals into a buffer of its own that stays for
 * its next message, so a publish allocates nothing (libmosquitto or the
 * outbox copies the envelope before the publish returns). Envelopes hold
 * ciphertext only: nothing to wipe. A publish nested in a callback of
 * another on the same thread finds the buffer busy and allocates.
 */
#define SEAL_BUF_KEEP (256u * 1024u + SECMQ_ENV_OVERHEAD_SIGNED)

typedef struct sealbuf {
    unsigned char *p;
    size_t cap;
    int busy;
} sealbuf;

static pthread_once_t sealbuf_once = PTHREAD_ONCE_INIT;
static pthread_key_t sealbuf_key;
static int sealbuf_key_ok;
static _Thread_local sealbuf tls_sealbuf;

/* Thread exit: release the thread's buffer. */
static void sealbuf_free(void *arg)
{
    sealbuf *b = arg;

    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

static void sealbuf_init(void)
{
    sealbuf_key_ok = pthread_key_create(&sealbuf_key, sealbuf_free) == 0;
}

/* A buffer of cap bytes for one envelope: this thread's (kept) or a new
 * allocation (too large to keep, busy, or no thread key); NULL when out
 * of memory. Give it back with give_back. */
static unsigned char *take_buf(size_t cap)
{
    sealbuf *b = &tls_sealbuf;
    unsigned char *p;

    if (cap > SEAL_BUF_KEEP || b->busy) {
        return malloc(cap);
    }
    if (b->cap < cap) {
        pthread_once(&sealbuf_once, sealbuf_init);
        if (!sealbuf_key_ok) {
            return malloc(cap);
        }
        /* Grown to the largest kept size at once: no regrowth per size. */
        p = realloc(b->p, cap < 4096u ? 4096u : cap);
        if (p == NULL) {
            return NULL;
        }
        if (b->p == NULL && pthread_setspecific(sealbuf_key, b) != 0) {
            free(p);
            return malloc(cap);
        }
        b->p = p;
        b->cap = cap < 4096u ? 4096u : cap;
    }
    b->busy = 1;
    return b->p;
}

static void give_back(unsigned char *p)
{
    sealbuf *b = &tls_sealbuf;

    if (p != NULL && p == b->p && b->busy) {
        b->busy = 0;
        return;
    }
    free(p);
}

void secmq__client_seal_done(unsigned char *env)
{
    give_back(env);
}

int secmq__client_seal(secmq_client *c, const char *topic, const void *payload,
                       size_t payloadlen, int retain, unsigned char **env,
                       size_t *envlen)
{
    unsigned char *buf;
    size_t cap;
    int covered = 0, rc;

    *env = NULL;
    *envlen = 0;
    if (c->keyring == NULL || (payloadlen == 0 && retain)) {
        /* No keyring, or an empty retained publish (which carries no
         * data and only deletes the topic's retained message). */
        return SECMQ_OK;
    }
    if (payloadlen > 268435455u - SECMQ_ENV_OVERHEAD_SIGNED) {
        /* Too large to seal: refused only where it would be sealed. */
        return secmq_keyring_covers(c->keyring, topic) ? SECMQ_E_OVERSIZE
                                                       : SECMQ_OK;
    }
    cap = payloadlen + SECMQ_ENV_OVERHEAD_SIGNED;
    if (cap > SEAL_BUF_KEEP && !secmq_keyring_covers(c->keyring, topic)) {
        return SECMQ_OK; /* no buffer of that size for a plain publish */
    }
    buf = take_buf(cap);
    if (buf == NULL) {
        return SECMQ_E_NOMEM;
    }
    /* One channel lookup decides both whether to seal and with what. */
    rc = secmq__keyring_seal_covered(c->keyring, topic, payload, payloadlen,
                                     buf, cap, envlen, &covered);
    if (rc != SECMQ_OK || !covered) {
        if (rc != SECMQ_OK) {
            char why[SECMQ_ERRMSG_BYTES];
            secmq_keyring_errmsg(c->keyring, why, sizeof why);
            secmq__err_set(&c->err, rc, "%s", why);
        }
        give_back(buf);
        *envlen = 0;
        return rc;
    }
    *env = buf;
    return SECMQ_OK;
}

int secmq__client_plain_allowed(const secmq_client *c, const char *topic)
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
