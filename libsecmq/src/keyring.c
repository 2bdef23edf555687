/*
 * keyring.c -- the runtime keyring: seal a payload for a topic with the
 * right channel key and sequence number, open an envelope following
 * PROTOCOL.md §4.2 (keyopen.c), persist sequence blocks. What it holds is
 * loaded by keystore.c and never changes while open, so lookups and
 * crypto run without a lock; only the sequence counters (tx_lock), the
 * replay windows (rx_lock) and the epoch ratchets (chain_lock, keychain.c)
 * are shared state. Not for changing the directory: that is keyadmin.c.
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

int secmq__kr_err(secmq_keyring *kr, int code, const char *fmt, ...)
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

/* Forget the sender streams of keys this keyring no longer holds (an
 * erased epoch's, a rotated-away key's): none of them seals again, so a
 * channel with epochs adds no stream per epoch for ever. Caller holds
 * tx_lock. */
static void prune_tx(secmq_keyring *kr)
{
    uint64_t now = secmq__unix_ms();
    size_t k = 0;

    for (size_t i = 0; i < kr->ntx; i++) {
        if (secmq__key_state(kr, kr->tx[i].key_id, now) == SECMQ__KEY_HELD) {
            kr->tx[k++] = kr->tx[i];
        }
    }
    kr->ntx = k;
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
        prune_tx(kr);
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
    rc = secmq__rotation_check(dir, &e);
    if (rc == SECMQ_OK) {
        rc = secmq__keystore_load(&kr, dir, &e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__use_lock(kr, &e);
    }
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
    if (rc == SECMQ_OK) {
        rc = secmq__prev_tick(kr, &e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__ticker_start(kr);
    }
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
        secmq__ticker_stop(kr);
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
    secmq__ticker_stop(kr);
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
        return secmq__kr_err(kr, SECMQ_E_NO_KEY,
                             "seal: no channel covers topic '%.64s'", topic);
    }
    /* SECURITY: the publishers list decides (the same list receivers
     * check); never a fallback to a less specific channel. */
    if (!ch->may_publish && ch->member_old) {
        return secmq__kr_err(kr, SECMQ_E_NO_KEY,
                             "seal: the grant of channel '%.64s' (owner %s) "
                             "names this identity's previous key: the owner "
                             "must import %s.successor and rotate the channel",
                             ch->filter, ch->owner_display, kr->self.name);
    }
    if (!ch->may_publish) {
        return secmq__kr_err(kr, SECMQ_E_NO_KEY,
                             "seal: '%s' is not a publisher of channel '%.64s' "
                             "(owner %s), which covers topic '%.64s'",
                             kr->self.name, ch->filter, ch->owner_display,
                             topic);
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
        return secmq__kr_err(kr, SECMQ_E_INVAL, "seal: invalid topic '%.64s'",
                             topic);
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
            return secmq__kr_err(kr, rc,
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
        return secmq__kr_err(
            kr, SECMQ_E_OVERSIZE,
            "seal: %zu-byte buffer too small for %zu bytes sealed", out_cap,
            need);
    }
    rc = take_seq(kr, key_id, &seq, &e);
    pthread_mutex_unlock(&kr->tx_lock);
    if (rc != SECMQ_OK) {
        sodium_memzero(step_mk, sizeof step_mk);
        return secmq__kr_err(kr, rc, "seal: %s", msg);
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
        return secmq__kr_err(kr, rc, "seal on '%.64s': %s", topic,
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
        return secmq__kr_err(kr, SECMQ_E_INVAL, "seal: invalid topic '%.64s'",
                             topic);
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
