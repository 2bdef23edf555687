/*
 * keyring.c -- the runtime keyring: seal a payload for a topic with the
 * right channel key and sequence number, open an envelope following
 * PROTOCOL.md §4.2, persist sequence blocks and replay tops. What it holds
 * is loaded by keystore.c and never changes while open, so lookups and
 * crypto run without a lock; only the sequence counters (tx_lock) and the
 * replay windows (rx_lock) are shared state. Not for changing the
 * directory: that is keyadmin.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "envelope_int.h"
#include "keyring_int.h"
#include "nonce_int.h"
#include "topicfilter_int.h"

static const char *reason_phrase(int reason)
{
    return secmq_open_reason_name(reason);
}

static int set_err(secmq_keyring *kr, int code, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);

static int set_err(secmq_keyring *kr, int code, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&kr->err_lock);
    va_start(ap, fmt);
    vsnprintf(kr->errmsg, sizeof kr->errmsg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&kr->err_lock);
    return code;
}

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: ids */
}

int secmq__key_known(const secmq_keyring *kr, const unsigned char *key_id)
{
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (!ch->member) {
            continue;
        }
        if (ch->chain != NULL) {
            /* A step of a chain: known while held (§3.2). */
            if (secmq__chain_lookup((secmq_keyring *)kr, (secmq__kchan *)ch,
                                    key_id, secmq__unix_ms(),
                                    NULL) == SECMQ__KEY_HELD) {
                return 1;
            }
            continue;
        }
        if (same_id(ch->key_id, key_id) ||
            (ch->has_prev && same_id(ch->prev_key_id, key_id))) {
            return 1;
        }
    }
    return 0;
}

int secmq__key_state(secmq_keyring *kr, const unsigned char *key_id,
                     uint64_t now_ms)
{
    int st, state = SECMQ__KEY_UNKNOWN;

    for (size_t i = 0; i < kr->nchans; i++) {
        secmq__kchan *ch = &kr->chans[i];
        if (!ch->member) {
            continue;
        }
        if (ch->chain != NULL) {
            st = secmq__chain_lookup(kr, ch, key_id, now_ms, NULL);
        } else if (same_id(ch->key_id, key_id)) {
            st = SECMQ__KEY_HELD;
        } else if (ch->has_prev && same_id(ch->prev_key_id, key_id)) {
            st = ch->prev_held && now_ms <= ch->prev_deadline_ms
                     ? SECMQ__KEY_HELD
                     : SECMQ__KEY_EXPIRED;
        } else {
            st = SECMQ__KEY_UNKNOWN;
        }
        if (st == SECMQ__KEY_HELD) {
            return st;
        }
        if (st == SECMQ__KEY_EXPIRED) {
            state = st;
        }
    }
    return state;
}

/* ---- persisted state ------------------------------------------------------
 */

/* This sender's stream under key_id, or NULL. Caller holds tx_lock. */
static secmq__ktx *find_tx(secmq_keyring *kr, const unsigned char *key_id)
{
    for (size_t i = 0; i < kr->ntx; i++) {
        if (same_id(kr->tx[i].key_id, key_id)) {
            return &kr->tx[i];
        }
    }
    return NULL;
}

/* Write every sender stream's reserved block end (plus rows of keys that
 * this process has not used yet). Caller holds tx_lock. */
static int save_seq(secmq_keyring *kr, const secmq__ktx *extra, secmq__kerr *e)
{
    secmq__stream_ent *ents;
    size_t n = 0, cap = kr->ntx + kr->nseq_other + 1;
    int rc;

    ents = calloc(cap, sizeof *ents);
    if (ents == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < kr->ntx; i++) {
        const secmq__ktx *t = &kr->tx[i];
        if (extra != NULL && same_id(t->key_id, extra->key_id)) {
            t = extra;
        }
        memcpy(ents[n].key_id, t->key_id, SECMQ_ID_BYTES);
        memcpy(ents[n].sender_id, kr->self.id, SECMQ_ID_BYTES);
        ents[n].value = t->reserved;
        n++;
    }
    for (size_t i = 0; i < kr->nseq_other; i++) {
        if (secmq__key_known(kr, kr->seq_other[i].key_id) &&
            find_tx(kr, kr->seq_other[i].key_id) == NULL) {
            ents[n++] = kr->seq_other[i];
        }
    }
    rc = secmq__streams_save(kr->dir, "seq", kr->sec->local_key, ents, n, e);
    free(ents);
    return rc;
}

/*
 * The first seal of this keyring object: lock state/seq.lock so no other
 * process publishes with this identity, then read state/seq under the
 * lock (another process may have published since we opened).
 * Caller holds tx_lock.
 */
static int begin_sending(secmq_keyring *kr, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    secmq__stream_ent *ents = NULL;
    size_t n = 0;
    int fd = -1, rc;

    if (secmq__kpath(path, sizeof path, kr->dir, "state", "seq.lock") != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    rc = secmq__kfile_lock(path, 1, 1, 1, &fd, e);
    if (rc == SECMQ_E_STATE) {
        return secmq__kerr_set(e, SECMQ_E_IO,
                               "another process is publishing with identity "
                               "'%s' (%s is locked)",
                               kr->self.name, path);
    }
    if (rc != SECMQ_OK) {
        return SECMQ_E_IO;
    }
    rc = secmq__streams_load(kr->dir, "seq", kr->sec->local_key, &ents, &n, e);
    if (rc != SECMQ_OK) {
        close(fd);
        return SECMQ_E_IO;
    }
    free(kr->seq_other);
    kr->seq_other = ents;
    kr->nseq_other = n;
    kr->seq_lock_fd = fd;
    return SECMQ_OK;
}

/* Take the next sequence number under key_id. Caller holds tx_lock. */
static int take_seq(secmq_keyring *kr, const unsigned char *key_id,
                    uint64_t *seq, secmq__kerr *e)
{
    secmq__ktx *t = NULL, *nt, next;
    uint64_t reserved = 0;
    int rc;

    if (kr->seq_lock_fd < 0) {
        rc = begin_sending(kr, e);
        if (rc != SECMQ_OK) {
            return rc;
        }
    }
    t = find_tx(kr, key_id);
    if (t == NULL) {
        if (kr->ntx == kr->captx) {
            size_t cap = kr->captx ? 2 * kr->captx : 4;
            nt = realloc(kr->tx, cap * sizeof *nt);
            if (nt == NULL) {
                return secmq__kerr_set(e, SECMQ_E_IO, "out of memory");
            }
            kr->tx = nt;
            kr->captx = cap;
        }
        for (size_t i = 0; i < kr->nseq_other; i++) {
            if (same_id(kr->seq_other[i].key_id, key_id) &&
                kr->seq_other[i].value > reserved) {
                reserved = kr->seq_other[i].value;
            }
        }
        t = &kr->tx[kr->ntx];
        memcpy(t->key_id, key_id, SECMQ_ID_BYTES);
        t->reserved = reserved;
        t->next = secmq__seq_start(reserved, secmq__unix_us());
        kr->ntx++;
    }
    /* SECURITY: never use a number at or past the persisted block end;
     * persist the next block (fsync) first. A failed write leaves the
     * stream as it was and seals nothing. */
    if (t->next >= t->reserved) {
        if (t->next > UINT64_MAX - SECMQ_SEQ_BLOCK) {
            return secmq__kerr_set(e, SECMQ_E_IO, "sequence numbers exhausted");
        }
        next = *t;
        next.reserved = t->next + SECMQ_SEQ_BLOCK;
        rc = save_seq(kr, &next, e);
        if (rc != SECMQ_OK) {
            return SECMQ_E_IO;
        }
        t->reserved = next.reserved;
    }
    *seq = t->next++;
    return SECMQ_OK;
}

/* ---- open and free --------------------------------------------------------
 */

int secmq_keyring_open(secmq_keyring **out, const char *dir, char *err,
                       size_t errlen)
{
    secmq__kerr e = {err, errlen};
    char path[SECMQ__PATH_MAX];
    secmq__stream_ent *seq = NULL;
    secmq_keyring *kr = NULL;
    size_t nseq = 0;
    int lockfd = -1, rc;

    if (err != NULL && errlen > 0) {
        err[0] = 0;
    }
    if (out == NULL || dir == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    *out = NULL;
    if (secmq_init() != SECMQ_OK) {
        return secmq__kerr_set(&e, SECMQ_E_IO, "libsodium failed to start");
    }
    if (secmq__kpath(path, sizeof path, dir, "lock", NULL) != 0) {
        return secmq__kerr_set(&e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    /* Shared: secmq-keys (exclusive) never changes files under our feet. */
    rc = secmq__kfile_lock(path, 0, 0, 0, &lockfd, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq__keystore_load(&kr, dir, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    secmq__msg_keys_derive(kr);
    if (lockfd >= 0) {
        close(lockfd); /* the chains' files take it exclusively */
        lockfd = -1;
    }
    /* SECURITY: steps past their grace are erased in memory and on disk
     * before anything is sealed or opened (§3.2). */
    rc = secmq__chains_tick(kr, 1, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    rc = secmq__rx_load(kr, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    /* Read now only to refuse a tampered file early; the first seal reads
     * it again under the publishing lock. */
    rc = secmq__streams_load(dir, "seq", kr->sec->local_key, &seq, &nseq, &e);
    free(seq);
    if (rc != SECMQ_OK) {
        goto err;
    }
    if (lockfd >= 0) {
        close(lockfd);
    }
    *out = kr;
    return SECMQ_OK;
err:
    if (kr != NULL) {
        secmq__msg_keys_free(kr);
    }
    secmq__keystore_free(kr);
    if (lockfd >= 0) {
        close(lockfd);
    }
    return rc;
}

void secmq_keyring_free(secmq_keyring *kr)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};

    if (kr == NULL) {
        return;
    }
    if (secmq__rx_close(kr, &e) != SECMQ_OK) {
        fprintf(stderr, "secmq: keyring '%s': replay state not saved: %s\n",
                kr->self.name, msg);
    }
    if (secmq__chains_tick(kr, 1, &e) != SECMQ_OK) {
        fprintf(stderr,
                "secmq: keyring '%s': erased epoch keys are still on "
                "disk: %s\n",
                kr->self.name, msg);
    }
    secmq__msg_keys_free(kr);
    secmq__keystore_free(kr);
}

const char *secmq_keyring_name(const secmq_keyring *kr)
{
    return kr != NULL ? kr->self.name : "";
}

void secmq_keyring_id(const secmq_keyring *kr, unsigned char id[SECMQ_ID_BYTES])
{
    if (kr != NULL && id != NULL) {
        memcpy(id, kr->self.id, SECMQ_ID_BYTES);
    }
}

/* ---- covering and sealing ---------------------------------------------------
 */

/* §4.1 step 1 for ch, the most specific channel covering topic (NULL:
 * none): SECMQ_OK when this identity may seal with it, else SECMQ_E_NO_KEY
 * with the reason in kr's error message. */
static int check_sealing(secmq_keyring *kr, const secmq__kchan *ch,
                         const char *topic)
{
    if (ch == NULL) {
        return set_err(kr, SECMQ_E_NO_KEY,
                       "seal: no channel covers topic '%.64s'", topic);
    }
    /* SECURITY: the publishers list decides (the same list receivers
     * check); never a fallback to a less specific channel. */
    if (!ch->may_publish) {
        return set_err(kr, SECMQ_E_NO_KEY,
                       "seal: '%s' is not a publisher of channel '%.64s' "
                       "(owner %s), which covers topic '%.64s'",
                       kr->self.name, ch->filter, ch->owner_display, topic);
    }
    return SECMQ_OK;
}

int secmq_keyring_may_publish(secmq_keyring *kr, const char *topic)
{
    size_t tlen;

    if (kr == NULL || topic == NULL) {
        return SECMQ_E_INVAL;
    }
    tlen = strlen(topic);
    if (!secmq__topic_valid(topic, tlen)) {
        return set_err(kr, SECMQ_E_INVAL, "seal: invalid topic '%.64s'", topic);
    }
    return check_sealing(kr, secmq__chan_best(kr, topic, tlen), topic);
}

/* Seal with ch, the channel check_sealing accepted for topic. */
static int seal_on(secmq_keyring *kr, const secmq__kchan *ch, const char *topic,
                   const void *pt, size_t len, unsigned char *out,
                   size_t out_cap, size_t *out_len)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};
    unsigned char nonce[SECMQ_ENV_NONCE_BYTES];
    unsigned char step_id[SECMQ_ID_BYTES], step_mk[SECMQ_KEY_BYTES];
    const unsigned char *mk, *key_id = ch->key_id;
    secmq_seal_params p;
    secmq_seal_mode mode;
    size_t need;
    uint64_t seq = 0;
    int rc;

    if (ch->chain != NULL) {
        /* §3.2: this epoch's step key, named by its step key id. */
        rc = secmq__chain_seal_key(kr, (secmq__kchan *)ch, step_id, step_mk);
        if (rc != SECMQ_OK) {
            return set_err(kr, rc,
                           "seal on '%.64s': channel '%.64s' has used up "
                           "its epochs: rotate it",
                           topic, ch->filter);
        }
        key_id = step_id;
    }

    /* One lock for the mode and the number: a buffer too small for the
     * mode takes no number. */
    pthread_mutex_lock(&kr->tx_lock);
    mode = kr->mode;
    if (mode != SECMQ_SEAL_MAC || !ch->allow_mac) {
        mode = SECMQ_SEAL_SIGNED;
    }
    need = secmq_envelope_size(mode, len);
    if (need == 0 || out_cap < need) {
        pthread_mutex_unlock(&kr->tx_lock);
        return set_err(kr, SECMQ_E_OVERSIZE,
                       "seal: %zu-byte buffer too small for %zu bytes sealed",
                       out_cap, need);
    }
    rc = take_seq(kr, key_id, &seq, &e);
    pthread_mutex_unlock(&kr->tx_lock);
    if (rc != SECMQ_OK) {
        sodium_memzero(step_mk, sizeof step_mk);
        return set_err(kr, rc, "seal: %s", msg);
    }
    memset(&p, 0, sizeof p);
    p.mode = mode;
    p.channel_key = ch->chain != NULL ? NULL : secmq__chan_key(kr, ch, 0);
    p.key_id = key_id;
    p.sender_id = kr->self.id;
    p.sender_sk = kr->sec->sk;
    p.seq = seq;
    p.time_ms = secmq__unix_ms();
    /* SECURITY: 24 random bytes as PROTOCOL.md §4 asks, from this thread's
     * generator seeded by the system (nonce.c): no system call each. */
    secmq__nonce_fill(nonce, sizeof nonce);
    p.nonce = nonce;
    /* NULL: the seal derives it */
    mk = ch->chain != NULL ? step_mk : secmq__msg_key(kr, ch, 0);
    rc = secmq__envelope_seal_mk(out, out_cap, out_len, &p, mk, topic, pt, len);
    sodium_memzero(step_mk, sizeof step_mk);
    if (rc != SECMQ_OK) {
        return set_err(kr, rc, "seal on '%.64s': %s", topic,
                       secmq_strerror(rc));
    }
    return SECMQ_OK;
}

int secmq_keyring_seal(secmq_keyring *kr, const char *topic, const void *pt,
                       size_t len, unsigned char *out, size_t out_cap,
                       size_t *out_len)
{
    const secmq__kchan *ch;
    size_t tlen;
    int rc;

    if (kr == NULL || topic == NULL || out == NULL || out_len == NULL ||
        (pt == NULL && len > 0)) {
        return SECMQ_E_INVAL;
    }
    tlen = strlen(topic);
    if (!secmq__topic_valid(topic, tlen)) {
        return set_err(kr, SECMQ_E_INVAL, "seal: invalid topic '%.64s'", topic);
    }
    ch = secmq__chan_best(kr, topic, tlen);
    rc = check_sealing(kr, ch, topic);
    if (rc != SECMQ_OK) {
        return rc;
    }
    return seal_on(kr, ch, topic, pt, len, out, out_cap, out_len);
}

int secmq__keyring_seal_covered(secmq_keyring *kr, const char *topic,
                                const void *pt, size_t len, unsigned char *out,
                                size_t out_cap, size_t *out_len, int *covered)
{
    const secmq__kchan *ch;
    size_t tlen;
    int rc;

    *covered = 0;
    *out_len = 0;
    if (pt == NULL && len > 0) {
        return SECMQ_E_INVAL;
    }
    tlen = strlen(topic);
    if (!secmq__topic_valid(topic, tlen)) {
        return SECMQ_OK;
    }
    /* The one lookup: what secmq_keyring_covers and secmq_keyring_seal
     * would each find (the keyring never changes while open). */
    ch = secmq__chan_best(kr, topic, tlen);
    if (ch == NULL) {
        return SECMQ_OK;
    }
    *covered = 1;
    rc = check_sealing(kr, ch, topic);
    if (rc != SECMQ_OK) {
        return rc;
    }
    return seal_on(kr, ch, topic, pt, len, out, out_cap, out_len);
}

/* ---- opening ------------------------------------------------------------ */

/* Who sent it: the channel's publishers, this identity, the peers. */
static void find_sender(const secmq_keyring *kr, const secmq__kchan *ch,
                        const unsigned char *sender_id,
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
        return set_err(kr, SECMQ_E_OPEN, "open on '%.64s': %s", topic,
                       reason_phrase(why));
    }
    return set_err(
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
    find_sender(kr, ch, o->f.sender_id, &pk, &o->sender, &publisher);
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
        return set_err(kr, rc == SECMQ_E_NOMEM ? SECMQ_E_NOMEM : SECMQ_E_IO,
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
        return set_err(kr, rc == SECMQ_E_NOMEM ? SECMQ_E_NOMEM : SECMQ_E_IO,
                       "replay state not made durable: %s", msg);
    }
    return SECMQ_OK;
}

/* ---- settings ------------------------------------------------------------
 * (the receiver's setting, the error message and the listings are in
 * keyinfo.c) */

int secmq_keyring_set_mode(secmq_keyring *kr, secmq_seal_mode mode)
{
    if (kr == NULL || (mode != SECMQ_SEAL_SIGNED && mode != SECMQ_SEAL_MAC)) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&kr->tx_lock);
    kr->mode = mode;
    pthread_mutex_unlock(&kr->tx_lock);
    return SECMQ_OK;
}
