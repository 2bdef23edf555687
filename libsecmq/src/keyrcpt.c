/*
 * keyrcpt.c -- receipts with a keyring (PROTOCOL.md §9): seal one from this
 * identity for a channel it receives on, open one that arrived on the
 * receipt topic of a channel it holds. The channel, its keys (newest, or
 * previous within grace) and its receipters come from the keyring; the
 * bytes from receipt.c. Not batching, sending or counting receipts.
 */
#include <string.h>

#include <sodium.h>

#include "keyring_int.h"
#include "secmq_int.h"

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: ids */
}

/* 0: key_id is ch's newest key, 1: its previous key, -1: neither. */
static int which_key(const secmq__kchan *ch, const unsigned char *key_id)
{
    if (same_id(ch->key_id, key_id)) {
        return 0;
    }
    return ch->has_prev && same_id(ch->prev_key_id, key_id) ? 1 : -1;
}

/* The index of this identity among ch's receipters, or ch->rcpt.n. */
static size_t self_index(const secmq_keyring *kr, const secmq__kchan *ch)
{
    for (size_t i = 0; i < ch->rcpt.n; i++) {
        if (sodium_memcmp(ch->rcpt.pks + SECMQ_SIGN_PK_BYTES * i, kr->self.pk,
                          SECMQ_SIGN_PK_BYTES) == 0) {
            return i;
        }
    }
    return ch->rcpt.n;
}

int secmq_keyring_seal_receipt(secmq_keyring *kr,
                               const secmq_receipt_range *ranges, size_t n,
                               unsigned char *out, size_t cap, size_t *out_len,
                               const char **topic)
{
    const secmq__kchan *ch = NULL;
    secmq_seal_params p;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (topic != NULL) {
        *topic = NULL;
    }
    if (kr == NULL || ranges == NULL || out == NULL || out_len == NULL ||
        n < 1 || n > SECMQ_RECEIPT_MAX_RANGES) {
        return SECMQ_E_INVAL;
    }
    for (size_t i = 0; i < kr->nchans && ch == NULL; i++) {
        if (kr->chans[i].member &&
            which_key(&kr->chans[i], ranges[0].key_id) >= 0) {
            ch = &kr->chans[i];
        }
    }
    if (ch == NULL || !ch->rcpt.on || self_index(kr, ch) == ch->rcpt.n) {
        return SECMQ_E_NO_KEY;
    }
    for (size_t i = 1; i < n; i++) {
        if (which_key(ch, ranges[i].key_id) < 0) {
            return SECMQ_E_INVAL;
        }
    }
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = secmq__chan_key(kr, ch, 0);
    p.key_id = ch->key_id;
    p.sender_id = kr->self.id;
    p.sender_sk = kr->sec->sk;
    /* §9.2: the clock, no reservation. */
    p.seq = secmq__unix_us();
    p.time_ms = secmq__unix_ms();
    if (topic != NULL) {
        *topic = ch->rcpt.topic;
    }
    return secmq_receipt_seal(out, cap, out_len, &p, ch->cid, ch->rcpt.topic,
                              ranges, n);
}

int secmq__keyring_open_receipt_ix(const secmq_keyring *kr, const char *topic,
                                   const void *env, size_t len,
                                   secmq_receipt_range *ranges, size_t cap,
                                   size_t *n, long *chan, size_t *who_out,
                                   int *reason)
{
    const secmq__kchan *ch = NULL;
    secmq_envelope_fields f;
    int why, on_topic = 0, k = -1;
    size_t who = 0;

    if (reason != NULL) {
        *reason = SECMQ_OPEN_MALFORMED;
    }
    if (n != NULL) {
        *n = 0;
    }
    if (kr == NULL || topic == NULL || env == NULL || ranges == NULL ||
        n == NULL) {
        return SECMQ_E_INVAL;
    }
    why = secmq_envelope_parse(env, len, &f);
    /* Step 2: a channel whose receipt topic this is, holding the key. */
    for (size_t i = 0; why == SECMQ_OPEN_OK && i < kr->nchans; i++) {
        const secmq__kchan *c = &kr->chans[i];
        if (!c->member || !c->rcpt.on || strcmp(c->rcpt.topic, topic) != 0) {
            continue;
        }
        on_topic = 1;
        k = which_key(c, f.key_id);
        if (k >= 0) {
            ch = c;
            *chan = (long)i;
            break;
        }
    }
    if (why == SECMQ_OPEN_OK && !on_topic) {
        if (reason != NULL) {
            *reason = SECMQ_OPEN_UNKNOWN_KEY;
        }
        return SECMQ_E_NO_KEY;
    }
    if (why == SECMQ_OPEN_OK && ch == NULL) {
        why = SECMQ_OPEN_UNKNOWN_KEY;
    } else if (why == SECMQ_OPEN_OK && k == 1) {
        /* SECURITY: the previous key dies at its grace deadline. */
        if (secmq__unix_ms() > ch->prev_deadline_ms) {
            why = SECMQ_OPEN_KEY_EXPIRED;
        } else if (!ch->prev_held) {
            why = SECMQ_OPEN_UNKNOWN_KEY;
        }
    }
    if (why == SECMQ_OPEN_OK) {
        why = secmq_receipt_open(ranges, cap, n, &who, &f, topic,
                                 secmq__chan_key(kr, ch, k), ch->cid,
                                 ch->rcpt.pks, ch->rcpt.n);
    }
    if (reason != NULL) {
        *reason = why;
    }
    if (why != SECMQ_OPEN_OK) {
        return SECMQ_E_OPEN;
    }
    *who_out = who;
    return SECMQ_OK;
}

int secmq_keyring_open_receipt(secmq_keyring *kr, const char *topic,
                               const void *env, size_t len,
                               secmq_receipt_range *ranges, size_t cap,
                               size_t *n, const char **receipter, int *reason)
{
    long chan = -1;
    size_t who = 0;
    int rc;

    if (receipter != NULL) {
        *receipter = NULL;
    }
    rc = secmq__keyring_open_receipt_ix(kr, topic, env, len, ranges, cap, n,
                                        &chan, &who, reason);
    if (rc == SECMQ_OK && receipter != NULL) {
        *receipter = kr->chans[chan].rcpt.names != NULL
                         ? kr->chans[chan].rcpt.names[who]
                         : NULL;
    }
    return rc;
}

long secmq__keyring_rcpt_chan(const secmq_keyring *kr,
                              const unsigned char *key_id,
                              const unsigned char *sender_id)
{
    if (same_id(sender_id, kr->self.id)) {
        return -1; /* §9.1: a sender never waits for its own receipt */
    }
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (ch->member && which_key(ch, key_id) >= 0) {
            if (!ch->rcpt.on || self_index(kr, ch) == ch->rcpt.n) {
                return -1;
            }
            return (long)i;
        }
    }
    return -1;
}

size_t secmq__keyring_nchans(const secmq_keyring *kr)
{
    return kr->nchans;
}

/* The number of receipters of ch a row from this identity needs (§9.1):
 * need N among those other than this identity, or all of them. */
static unsigned needed(const secmq_keyring *kr, const secmq__kchan *ch)
{
    size_t others = ch->rcpt.n - (self_index(kr, ch) < ch->rcpt.n ? 1 : 0);

    if (ch->rcpt.need != 0 && ch->rcpt.need < others) {
        return ch->rcpt.need;
    }
    return (unsigned)others;
}

int secmq__keyring_send_rcpt(const secmq_keyring *kr,
                             const unsigned char *key_id,
                             const unsigned char *sender_id,
                             secmq__send_rcpt *out)
{
    if (!same_id(sender_id, kr->self.id)) {
        return 0; /* not ours: a raw publish of another's envelope */
    }
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (!ch->member || which_key(ch, key_id) < 0) {
            continue;
        }
        if (!ch->rcpt.on || needed(kr, ch) == 0) {
            return 0;
        }
        out->chan = (long)i;
        out->n_rcpt = (unsigned)ch->rcpt.n;
        out->self_idx = (unsigned)self_index(kr, ch);
        out->need = needed(kr, ch);
        return 1;
    }
    return 0;
}

const char *secmq__keyring_rcpt_topic(const secmq_keyring *kr, size_t i)
{
    const secmq__kchan *ch;

    if (i >= kr->nchans) {
        return NULL;
    }
    ch = &kr->chans[i];
    if (!ch->member || !ch->may_publish || !ch->rcpt.on ||
        needed(kr, ch) == 0) {
        return NULL;
    }
    return ch->rcpt.topic;
}

const char *secmq__keyring_rcpt_name(const secmq_keyring *kr, long chan,
                                     size_t who)
{
    const secmq__kchan *ch;

    if (chan < 0 || (size_t)chan >= kr->nchans) {
        return "?";
    }
    ch = &kr->chans[chan];
    if (who >= ch->rcpt.n || ch->rcpt.names == NULL) {
        return "?";
    }
    return ch->rcpt.names[who];
}

int secmq__keyring_rcpt_is_topic(const secmq_keyring *kr, const char *topic)
{
    for (size_t i = 0; i < kr->nchans; i++) {
        const char *t = secmq__keyring_rcpt_topic(kr, i);
        if (t != NULL && strcmp(t, topic) == 0) {
            return 1;
        }
    }
    return 0;
}
