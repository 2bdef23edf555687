/*
 * keyopen.c -- opening an envelope with the keyring (PROTOCOL.md §4.2):
 * which key a key id names (a static key, its predecessor in grace, or a
 * step of an epoch ratchet), who sent it, the checks in order, then the
 * replay window and its durable record before the plaintext is handed
 * out. Sealing is keyring.c's.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "envelope_int.h"
#include "keyring_int.h"
#include "topicfilter_int.h"

static const char *reason_phrase(int reason)
{
    return secmq_open_reason_name(reason);
}

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: ids */
}

/* ---- opening ------------------------------------------------------------ */

/* Who sent it: the channel's publishers (under ch's previous key, prev 1,
 * also their predecessors), this identity, the peers. */
static void find_sender(const secmq_keyring *kr, const secmq__kchan *ch,
                        int prev, const unsigned char *sender_id,
                        const unsigned char **pk, const char **name,
                        int *publisher)
{
    *pk = NULL;
    *name = NULL;
    *publisher = 0;
    for (size_t i = 0; i < ch->npubs; i++) {
        if (same_id(ch->pubs[i].id, sender_id)) {
            *pk = ch->pubs[i].pk;
            *name = ch->pubs[i].display;
            *publisher = 1;
            return;
        }
    }
    /* §2.3: under the previous key, while its grace lasts, a publisher's
     * predecessor key is that publisher (what it sealed before it rotated
     * and was still on its way). */
    for (size_t k = 0; prev && k < kr->nsucc; k++) {
        unsigned char id[SECMQ_ID_BYTES];
        const unsigned char *now_pk;
        secmq_identity_id(id, kr->succ[k].old_pk);
        if (!same_id(id, sender_id)) {
            continue;
        }
        now_pk = secmq__succ_latest(kr, kr->succ[k].old_pk);
        for (size_t i = 0; i < ch->npubs; i++) {
            if (sodium_memcmp(ch->pubs[i].pk, now_pk, SECMQ_SIGN_PK_BYTES) ==
                0) {
                *pk = kr->succ[k].old_pk;
                *name = ch->pubs[i].display;
                *publisher = 1;
                return;
            }
        }
    }
    if (same_id(kr->self.id, sender_id)) {
        *pk = kr->self.pk;
        *name = kr->self.name;
        return;
    }
    for (size_t i = 0; i < kr->npeers; i++) {
        if (same_id(kr->peers[i].id, sender_id)) {
            *pk = kr->peers[i].pk;
            *name = kr->peers[i].name;
            return;
        }
    }
}

/* Step 2: the key named by key_id among channels matching topic, and its
 * message key derived at open (*mk NULL: not derived). */
static int find_key(const secmq_keyring *kr, const char *topic, size_t tlen,
                    const unsigned char *key_id, const secmq__kchan **chp,
                    const unsigned char **key, const unsigned char **mk,
                    unsigned char *step_mk)
{
    int expired = 0;

    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        int cur = same_id(ch->key_id, key_id);
        if (ch->chain != NULL && ch->member &&
            secmq__filter_match(ch->filter, ch->filter_len, topic, tlen)) {
            /* §3.2: a step of the chain held now, or one erased. */
            int st =
                secmq__chain_lookup((secmq_keyring *)kr, (secmq__kchan *)ch,
                                    key_id, secmq__unix_ms(), step_mk);
            if (st == SECMQ__KEY_HELD) {
                *chp = ch;
                *key = NULL;
                *mk = step_mk;
                return SECMQ_OPEN_OK;
            }
            expired |= st == SECMQ__KEY_EXPIRED;
            continue;
        }
        /* The key ids first: they rule out most channels for less than a
         * topic match. */
        if (!ch->member ||
            (!cur && !(ch->has_prev && same_id(ch->prev_key_id, key_id))) ||
            !secmq__filter_match(ch->filter, ch->filter_len, topic, tlen)) {
            continue;
        }
        if (cur) {
            *chp = ch;
            *key = secmq__chan_key(kr, ch, 0);
            *mk = secmq__msg_key(kr, ch, 0);
            return SECMQ_OPEN_OK;
        }
        if (ch->has_prev && same_id(ch->prev_key_id, key_id)) {
            /* SECURITY: the previous key dies at its grace deadline. */
            if (secmq__unix_ms() > ch->prev_deadline_ms) {
                return SECMQ_OPEN_KEY_EXPIRED;
            }
            if (!ch->prev_held) {
                return SECMQ_OPEN_UNKNOWN_KEY;
            }
            *chp = ch;
            *key = secmq__chan_key(kr, ch, 1);
            *mk = secmq__msg_key(kr, ch, 1);
            return SECMQ_OPEN_OK;
        }
    }
    return expired ? SECMQ_OPEN_KEY_EXPIRED : SECMQ_OPEN_UNKNOWN_KEY;
}

int secmq_keyring_open_msg(secmq_keyring *kr, const char *topic,
                           const void *env, size_t len, unsigned char *out,
                           size_t out_cap, size_t *out_len, const char **sender,
                           int *reason)
{
    return secmq_keyring_open_msg_v2(kr, topic, env, len, out, out_cap, out_len,
                                     sender, reason, 0u, NULL);
}

int secmq_keyring_open_msg_v2(secmq_keyring *kr, const char *topic,
                              const void *env, size_t len, unsigned char *out,
                              size_t out_cap, size_t *out_len,
                              const char **sender, int *reason, unsigned flags,
                              uint64_t *ticket)
{
    return secmq__keyring_open(kr, topic, env, len, out, out_cap, out_len,
                               sender, reason, flags, ticket, NULL);
}

/* The refusal of an envelope: wipe what may have been written to out,
 * record why. Returns SECMQ_E_OPEN. */
static int refuse(secmq_keyring *kr, const char *topic,
                  const secmq_envelope_fields *f, const char *name,
                  unsigned char *out, size_t len, int why, int *reason)
{
    char hex[2 * SECMQ_ID_BYTES + 1];

    /* SECURITY: plaintext of a refused message never leaves. */
    sodium_memzero(out, len);
    if (reason != NULL) {
        *reason = why;
    }
    if (why == SECMQ_OPEN_MALFORMED || why == SECMQ_OPEN_VERSION) {
        return secmq__kr_err(kr, SECMQ_E_OPEN, "open on '%.64s': %s", topic,
                             reason_phrase(why));
    }
    return secmq__kr_err(
        kr, SECMQ_E_OPEN, "open on '%.64s': %s (sender id %s%s%s, seq %llu)",
        topic, reason_phrase(why),
        secmq__hex(hex, f->sender_id, SECMQ_ID_BYTES), name != NULL ? ", " : "",
        name != NULL ? name : "", (unsigned long long)f->seq);
}

int secmq__keyring_verify(const secmq_keyring *kr_c, const char *topic,
                          const void *env, size_t len, unsigned char *out,
                          size_t out_cap, secmq__kopened *o, int *reason)
{
    /* Only the error message and max_age (each under its lock) are
     * touched: what the checks read never changes while open. */
    secmq_keyring *kr = (secmq_keyring *)kr_c;
    const secmq__kchan *ch = NULL;
    const unsigned char *key = NULL, *mk = NULL, *pk = NULL;
    unsigned char step_mk[SECMQ_KEY_BYTES];
    uint64_t max_age, now, age;
    size_t tlen;
    int why, publisher = 0;

    memset(o, 0, sizeof *o);
    if (reason != NULL) {
        *reason = SECMQ_OPEN_MALFORMED;
    }
    if (kr == NULL || topic == NULL || env == NULL || out == NULL ||
        out_cap < len) {
        return SECMQ_E_INVAL;
    }
    tlen = strlen(topic);
    if (!secmq__topic_valid(topic, tlen) ||
        secmq__chan_best(kr, topic, tlen) == NULL) {
        if (reason != NULL) {
            *reason = SECMQ_OPEN_UNKNOWN_KEY;
        }
        return SECMQ_E_NO_KEY;
    }
    /* Step 1. */
    why = secmq_envelope_parse(env, len, &o->f);
    if (why != SECMQ_OPEN_OK) {
        goto fail;
    }
    /* Step 2. */
    why = find_key(kr, topic, tlen, o->f.key_id, &ch, &key, &mk, step_mk);
    if (why != SECMQ_OPEN_OK) {
        goto fail;
    }
    /* Step 3: mac-only proves membership only; the grant must allow it. */
    if (o->f.mode == SECMQ_SEAL_MAC && !ch->allow_mac) {
        why = SECMQ_OPEN_MODE_REFUSED;
        goto fail;
    }
    /* Steps 4 and 5: AEAD, then the signature with the sender's key. */
    find_sender(kr, ch,
                ch->chain == NULL && ch->has_prev &&
                    same_id(o->f.key_id, ch->prev_key_id),
                o->f.sender_id, &pk, &o->sender, &publisher);
    why =
        secmq__envelope_open_mk(out, out_cap, &o->ptlen, &o->f, topic, key, mk,
                                o->f.mode == SECMQ_SEAL_SIGNED ? pk : NULL);
    sodium_memzero(step_mk, sizeof step_mk);
    if (why != SECMQ_OPEN_OK) {
        goto fail;
    }
    /* Step 6. In mac-only mode this is the claimed sender only. */
    if (!publisher) {
        why = SECMQ_OPEN_UNAUTHORISED;
        goto fail;
    }
    /* Step 7. */
    pthread_mutex_lock(&kr->rx_lock);
    max_age = kr->max_age_ms;
    pthread_mutex_unlock(&kr->rx_lock);
    if (max_age > 0) {
        now = secmq__unix_ms();
        age = now > o->f.time_ms ? now - o->f.time_ms : o->f.time_ms - now;
        if (age > max_age) {
            why = SECMQ_OPEN_TOO_OLD;
            goto fail;
        }
    }
    if (reason != NULL) {
        *reason = SECMQ_OPEN_OK;
    }
    return SECMQ_OK;
fail:
    sodium_memzero(step_mk, sizeof step_mk);
    o->ptlen = 0;
    return refuse(kr, topic, &o->f, o->sender, out, len, why, reason);
}

int secmq__keyring_accept(secmq_keyring *kr, const char *topic,
                          const secmq__kopened *o, unsigned char *out,
                          int *reason, unsigned flags, uint64_t *ticket,
                          int *opened_before)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};
    uint64_t tk = 0;
    int known = 0, rc;

    if (opened_before != NULL) {
        *opened_before = 0;
    }
    if (ticket != NULL) {
        *ticket = 0;
    }
    /* Steps 8 and 9: the window, and its journal record queued. */
    rc = secmq__rx_accept(kr, &o->f, &tk, opened_before != NULL ? &known : NULL,
                          &e);
    if (rc == SECMQ_OPEN_OK && (flags & SECMQ_OPEN_DEFER_SYNC) == 0) {
        /* SECURITY: nothing is handed out before its replay record is
         * durable, so no restart, crash or power cut delivers it twice. */
        rc = secmq__rx_sync(kr, tk, &e);
        if (rc != SECMQ_OK) {
            secmq__rx_forget(kr, o->f.key_id, o->f.sender_id, o->f.seq);
        }
    }
    if (rc == SECMQ_OPEN_REPLAY && known) {
        /* SECURITY: steps 1-7 passed, so this is a genuine copy of an
         * envelope this keyring accepted: still refused, but reported. */
        *opened_before = 1;
        if (ticket != NULL) {
            *ticket = tk;
        }
    }
    if (rc < 0) {
        sodium_memzero(out, o->ptlen);
        if (reason != NULL) {
            *reason = SECMQ_OPEN_REPLAY;
        }
        return secmq__kr_err(kr,
                             rc == SECMQ_E_NOMEM ? SECMQ_E_NOMEM : SECMQ_E_IO,
                             "open on '%.64s': replay state: %s", topic, msg);
    }
    if (rc != SECMQ_OPEN_OK) {
        return refuse(kr, topic, &o->f, o->sender, out, o->ptlen, rc, reason);
    }
    if (ticket != NULL) {
        *ticket = tk;
    }
    if (reason != NULL) {
        *reason = SECMQ_OPEN_OK;
    }
    return SECMQ_OK;
}

int secmq__keyring_open(secmq_keyring *kr, const char *topic, const void *env,
                        size_t len, unsigned char *out, size_t out_cap,
                        size_t *out_len, const char **sender, int *reason,
                        unsigned flags, uint64_t *ticket, int *opened_before)
{
    secmq__kopened o;
    int rc;

    if (opened_before != NULL) {
        *opened_before = 0;
    }
    if (reason != NULL) {
        *reason = SECMQ_OPEN_MALFORMED;
    }
    if (sender != NULL) {
        *sender = NULL;
    }
    if (ticket != NULL) {
        *ticket = 0;
    }
    if (out_len == NULL || (flags & ~SECMQ_OPEN_DEFER_SYNC) != 0 ||
        ((flags & SECMQ_OPEN_DEFER_SYNC) != 0 && ticket == NULL)) {
        return SECMQ_E_INVAL;
    }
    rc = secmq__keyring_verify(kr, topic, env, len, out, out_cap, &o, reason);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq__keyring_accept(kr, topic, &o, out, reason, flags, ticket,
                               opened_before);
    if (rc != SECMQ_OK) {
        return rc;
    }
    *out_len = o.ptlen;
    if (sender != NULL) {
        *sender = o.sender;
    }
    return SECMQ_OK;
}

int secmq_keyring_sync(secmq_keyring *kr, uint64_t ticket)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};
    int rc;

    if (kr == NULL) {
        return SECMQ_E_INVAL;
    }
    if (ticket == 0) {
        return SECMQ_OK;
    }
    rc = secmq__rx_sync(kr, ticket, &e);
    if (rc != SECMQ_OK) {
        return secmq__kr_err(kr,
                             rc == SECMQ_E_NOMEM ? SECMQ_E_NOMEM : SECMQ_E_IO,
                             "replay state not made durable: %s", msg);
    }
    return SECMQ_OK;
}
