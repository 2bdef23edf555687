/*
 * keychain.c -- the epoch ratchet of a keyring's channels (PROTOCOL.md
 * §3.2): which steps are held at a time, the step keys a seal or an open
 * needs, erasing the steps past their grace, and keeping the files on
 * disk no older than memory (grants/<cid>.chain for a member, the owned
 * file for the owner, §5.3). The arithmetic is ratchet.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes_int.h"
#include "envelope_int.h"
#include "grant_int.h"
#include "keyring_int.h"
#include "ratchet_int.h"

#define CHAIN_KIND "chain"
/* u32 lo, the key of step lo, u32 body length, then the body. */
#define CHAIN_HEAD (4u + SECMQ_KEY_BYTES + 4u)
#define CHAIN_MAX (CHAIN_HEAD + SECMQ__GRANT_FILE_MAX)
/* The owned file's ratchet block (§5.3): u8 2, period, grace, lo. */
#define OWNED_RATCHET_BYTES 13u
#define OWNED_RATCHET_TAG 2u
#define OWNED_MAX (70000u + 65535u * (SECMQ_SIGN_PK_BYTES + 2u + 64u))
/* Offset of the key id in a grant body (PROTOCOL.md §5). */
#define BODY_KEY_ID 72u

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: key ids */
}

static unsigned char *k_lo(const secmq__kchain *c)
{
    return c->sec;
}

static unsigned char *k_top(const secmq__kchain *c)
{
    return c->sec + SECMQ_KEY_BYTES;
}

static unsigned char *mk_at(const secmq__kchain *c, uint32_t i)
{
    return c->sec + (2u + (size_t)i) * SECMQ_KEY_BYTES;
}

int secmq__chain_new(secmq__kchan *ch, const unsigned char *k, uint32_t lo,
                     uint32_t saved_lo, uint32_t period_ms, uint32_t grace_ms,
                     const unsigned char *body, size_t body_len, secmq__kerr *e)
{
    secmq__kchain *c = calloc(1, sizeof *c);

    if (c == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    c->period_ms = period_ms;
    c->grace_ms = grace_ms;
    c->lo = lo;
    c->saved_lo = saved_lo;
    /* Steps lo .. step(now) + 1 are at most grace / period + 3 (§3.2). */
    c->cap = grace_ms / period_ms + 3u;
    c->sec = sodium_malloc((2u + (size_t)c->cap) * SECMQ_KEY_BYTES);
    c->ids = malloc((size_t)c->cap * SECMQ_ID_BYTES);
    if (body != NULL) {
        c->body = malloc(body_len);
        c->body_len = body_len;
    }
    if (c->sec == NULL || c->ids == NULL || (body != NULL && c->body == NULL)) {
        ch->chain = c;
        secmq__chain_free(ch);
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    memcpy(k_lo(c), k, SECMQ_KEY_BYTES);
    if (body != NULL) {
        memcpy(c->body, body, body_len);
    }
    ch->chain = c;
    return SECMQ_OK;
}

void secmq__chain_free(secmq__kchan *ch)
{
    secmq__kchain *c = ch != NULL ? ch->chain : NULL;

    if (c == NULL) {
        return;
    }
    if (c->sec != NULL) {
        sodium_free(c->sec); /* wipes */
    }
    free(c->ids);
    free(c->body);
    free(c);
    ch->chain = NULL;
}

/* Derive the steps lo + n .. lo + want - 1. */
static void extend(const secmq__kchan *ch, uint32_t want)
{
    secmq__kchain *c = ch->chain;

    while (c->n < want && c->n < c->cap &&
           (uint64_t)c->lo + c->n <= UINT32_MAX) {
        if (c->n == 0) {
            memcpy(k_top(c), k_lo(c), SECMQ_KEY_BYTES);
        } else {
            secmq__ratchet_next(k_top(c), k_top(c));
        }
        secmq__envelope_msg_key(mk_at(c, c->n), k_top(c));
        secmq__ratchet_step_id(c->ids + (size_t)c->n * SECMQ_ID_BYTES,
                               ch->key_id, c->lo + c->n);
        c->n++;
    }
}

/* Erase the steps below lo2 (> lo): their keys are wiped. */
static void drop_below(secmq__kchain *c, uint32_t lo2)
{
    uint32_t d = lo2 - c->lo;

    /* SECURITY: the one-way step is the erasure; the old key is gone. */
    secmq__ratchet_advance(k_lo(c), d);
    if (d >= c->n) {
        sodium_memzero(mk_at(c, 0), (size_t)c->n * SECMQ_KEY_BYTES);
        sodium_memzero(k_top(c), SECMQ_KEY_BYTES);
        c->n = 0;
    } else {
        memmove(mk_at(c, 0), mk_at(c, d), (size_t)(c->n - d) * SECMQ_KEY_BYTES);
        sodium_memzero(mk_at(c, c->n - d), (size_t)d * SECMQ_KEY_BYTES);
        memmove(c->ids, c->ids + (size_t)d * SECMQ_ID_BYTES,
                (size_t)(c->n - d) * SECMQ_ID_BYTES);
        c->n -= d;
    }
    c->lo = lo2;
}

int secmq__chain_sync(secmq__kchan *ch, uint64_t now_ms)
{
    secmq__kchain *c = ch->chain;
    uint32_t lo2, cur;
    uint64_t want;
    int moved = 0;

    lo2 = secmq__ratchet_lowest(ch->created_ms, c->period_ms, c->grace_ms,
                                c->lo, now_ms);
    if (lo2 > c->lo) {
        drop_below(c, lo2);
        moved = 1;
    }
    cur = secmq__ratchet_step_at(ch->created_ms, c->period_ms, now_ms);
    /* Up to one step ahead of max(step(now), lo) (a sender's clock a
     * little ahead); never further. */
    want = cur >= c->lo ? (uint64_t)cur - c->lo + 2u : 2u;
    extend(ch, want > c->cap ? c->cap : (uint32_t)want);
    return moved;
}

/* Save a chain that moved, without waiting for the directory lock; a
 * failure is said once on stderr (the library's callers see no error:
 * the seal or open itself succeeded) and tried again later. */
static void save_soon(secmq_keyring *kr, secmq__kchan *ch)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};

    if (secmq__chain_save(kr, ch, 0, &e) != SECMQ_OK) {
        pthread_mutex_lock(&kr->chain_lock);
        if (!ch->chain->save_failed) {
            ch->chain->save_failed = 1;
            fprintf(stderr,
                    "secmq: keyring '%s': channel '%.64s': erased epoch "
                    "keys are still on disk (the chain file was not "
                    "written; tried again later): %s\n",
                    kr->self.name, ch->filter, msg);
        }
        pthread_mutex_unlock(&kr->chain_lock);
    }
}

static int unsaved(secmq_keyring *kr, const secmq__kchan *ch)
{
    int r;

    pthread_mutex_lock(&kr->chain_lock);
    r = ch->chain->saved_lo < ch->chain->lo;
    pthread_mutex_unlock(&kr->chain_lock);
    return r;
}

int secmq__chain_seal_key(secmq_keyring *kr, secmq__kchan *ch,
                          unsigned char *id, unsigned char *mk)
{
    secmq__kchain *c = ch->chain;
    uint64_t now = secmq__unix_ms();
    uint32_t s;
    int rc = SECMQ_OK;

    pthread_mutex_lock(&kr->chain_lock);
    (void)secmq__chain_sync(ch, now);
    s = secmq__ratchet_step_at(ch->created_ms, c->period_ms, now);
    s = s < c->lo ? c->lo : s;
    if (s - c->lo >= c->n) {
        rc = SECMQ_E_NO_KEY; /* past the last step a u32 can name */
    } else {
        memcpy(id, c->ids + (size_t)(s - c->lo) * SECMQ_ID_BYTES,
               SECMQ_ID_BYTES);
        memcpy(mk, mk_at(c, s - c->lo), SECMQ_KEY_BYTES);
    }
    pthread_mutex_unlock(&kr->chain_lock);
    if (unsaved(kr, ch)) {
        save_soon(kr, ch);
    }
    return rc;
}

int secmq__chain_lookup(secmq_keyring *kr, secmq__kchan *ch,
                        const unsigned char *key_id, uint64_t now_ms,
                        unsigned char *mk)
{
    secmq__kchain *c = ch->chain;
    unsigned char id[SECMQ_ID_BYTES];
    int state = SECMQ__KEY_UNKNOWN;

    pthread_mutex_lock(&kr->chain_lock);
    (void)secmq__chain_sync(ch, now_ms);
    for (uint32_t i = 0; i < c->n; i++) {
        if (same_id(c->ids + (size_t)i * SECMQ_ID_BYTES, key_id)) {
            if (mk != NULL) {
                memcpy(mk, mk_at(c, i), SECMQ_KEY_BYTES);
            }
            state = SECMQ__KEY_HELD;
            break;
        }
    }
    /* A step erased lately is told apart from a key never held: the ids
     * are public, derived from the chain's key id alone. */
    for (uint32_t d = 1; state == SECMQ__KEY_UNKNOWN &&
                         d <= SECMQ__EXPIRED_LOOKBACK && d <= c->lo;
         d++) {
        secmq__ratchet_step_id(id, ch->key_id, c->lo - d);
        if (same_id(id, key_id)) {
            state = SECMQ__KEY_EXPIRED;
        }
    }
    pthread_mutex_unlock(&kr->chain_lock);
    /* An open saves a chain that moved; a question (mk NULL, e.g. from
     * under the outbox's or the sender's lock) leaves it to the ticker. */
    if (mk != NULL && unsaved(kr, ch)) {
        save_soon(kr, ch);
    }
    return state;
}

/* ---- files ------------------------------------------------------------- */

int secmq__chain_write(const secmq_keyring *kr, const unsigned char *cid,
                       uint32_t lo, const unsigned char *k,
                       const unsigned char *body, size_t blen, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *pl;
    size_t koff = secmq__grant_key_offset();
    int rc;

    if (secmq__chan_path(path, sizeof path, kr->dir, "grants", cid, ".chain") !=
        0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    if (blen > SECMQ__GRANT_FILE_MAX || blen < koff + SECMQ_KEY_BYTES) {
        return secmq__kerr_set(e, SECMQ_E_INVAL, "grant body too large");
    }
    /* SECURITY: the payload holds the key of step lo. */
    pl = sodium_malloc(CHAIN_HEAD + blen);
    if (pl == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    secmq__put_u32(pl, lo);
    memcpy(pl + 4, k, SECMQ_KEY_BYTES);
    secmq__put_u32(pl + 4 + SECMQ_KEY_BYTES, (uint32_t)blen);
    memcpy(pl + CHAIN_HEAD, body, blen);
    /* SECURITY: the grant's own key (of its step) is not kept (§5.3). */
    sodium_memzero(pl + CHAIN_HEAD + koff, SECMQ_KEY_BYTES);
    rc = secmq__kfile_seal_write(path, CHAIN_KIND, kr->sec->local_key, pl,
                                 CHAIN_HEAD + blen, e);
    sodium_free(pl);
    return rc;
}

/* Where the key id, the key and the ratchet block sit in an owned file's
 * payload (§5.3); -1 when it has no ratchet block. */
static int owned_layout(const unsigned char *pl, size_t len, size_t *id_off,
                        size_t *key_off, size_t *lo_off)
{
    size_t flen;

    if (len < 2) {
        return -1;
    }
    flen = secmq__get_u16(pl);
    *id_off = 2 + flen + 1 + 4;
    *key_off = *id_off + SECMQ_ID_BYTES;
    *lo_off = len - 4;
    if (len < *key_off + SECMQ_KEY_BYTES + OWNED_RATCHET_BYTES ||
        pl[len - OWNED_RATCHET_BYTES] != OWNED_RATCHET_TAG) {
        return -1;
    }
    return 0;
}

/* Rewrite the file at path (kind) so that it holds step lo's key k, when
 * it still holds ch's chain at a lower step. Caller holds the lock. */
static int rewrite(const secmq_keyring *kr, const secmq__kchan *ch,
                   const char *path, const char *kind, uint32_t lo,
                   const unsigned char *k, secmq__kerr *e)
{
    unsigned char *pl = NULL;
    size_t len = 0, id_off, key_off, lo_off;
    int owned = strcmp(kind, "owned") == 0, rc;

    rc = secmq__kfile_seal_read(path, kind, kr->sec->local_key,
                                owned ? OWNED_MAX : CHAIN_MAX, 1, &pl, &len, e);
    if (rc != SECMQ_OK || pl == NULL) {
        return rc; /* gone (replaced by another grant): nothing to keep */
    }
    if (owned) {
        if (owned_layout(pl, len, &id_off, &key_off, &lo_off) != 0) {
            goto out; /* no longer a ratcheted channel */
        }
    } else {
        if (len < CHAIN_HEAD + BODY_KEY_ID + SECMQ_ID_BYTES) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
            goto out;
        }
        id_off = CHAIN_HEAD + BODY_KEY_ID;
        key_off = 4;
        lo_off = 0;
    }
    /* SECURITY: never back to a lower step, never over a newer chain. */
    if (!same_id(pl + id_off, ch->key_id) ||
        secmq__get_u32(pl + lo_off) >= lo) {
        goto out;
    }
    secmq__put_u32(pl + lo_off, lo);
    memcpy(pl + key_off, k, SECMQ_KEY_BYTES);
    rc = secmq__kfile_seal_write(path, kind, kr->sec->local_key, pl, len, e);
out:
    sodium_free(pl);
    return rc;
}

int secmq__chain_save(secmq_keyring *kr, secmq__kchan *ch, int blocking,
                      secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *k;
    uint32_t lo;
    int fd = -1, rc;

    pthread_mutex_lock(&kr->chain_lock);
    lo = ch->chain->lo;
    if (ch->chain->saved_lo >= lo) {
        pthread_mutex_unlock(&kr->chain_lock);
        return SECMQ_OK;
    }
    k = sodium_malloc(SECMQ_KEY_BYTES);
    if (k != NULL) {
        memcpy(k, k_lo(ch->chain), SECMQ_KEY_BYTES);
    }
    pthread_mutex_unlock(&kr->chain_lock);
    if (k == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    rc = SECMQ_OK;
    if (secmq__kpath(path, sizeof path, kr->dir, "lock", NULL) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
        goto out;
    }
    rc = secmq__kfile_lock(path, 1, !blocking, 1, &fd, e);
    if (rc == SECMQ_E_STATE && !blocking) {
        rc = SECMQ_OK; /* someone is changing the keyring: later */
        goto out;
    }
    if (rc != SECMQ_OK) {
        goto out;
    }
    if (secmq__chan_path(path, sizeof path, kr->dir,
                         ch->owned ? "owned" : "grants", ch->cid,
                         ch->owned ? ".chan" : ".chain") != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
        goto out;
    }
    rc = rewrite(kr, ch, path, ch->owned ? "owned" : CHAIN_KIND, lo, k, e);
    if (rc == SECMQ_OK) {
        pthread_mutex_lock(&kr->chain_lock);
        if (ch->chain->saved_lo < lo) {
            ch->chain->saved_lo = lo;
        }
        ch->chain->save_failed = 0;
        pthread_mutex_unlock(&kr->chain_lock);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    sodium_free(k);
    return rc;
}

int secmq__chain_load(secmq_keyring *kr, const char *fname, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char cid[SECMQ__CID_BYTES];
    unsigned char *pl = NULL;
    secmq_grant_fields g;
    secmq_grant_ratchet rt;
    secmq__kchan *ch = NULL;
    size_t len = 0, blen;
    uint32_t lo;
    int st, rc;

    sodium_memzero(&g, sizeof g);
    if (secmq__kpath(path, sizeof path, kr->dir, "grants", fname) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = secmq__kfile_seal_read(path, CHAIN_KIND, kr->sec->local_key, CHAIN_MAX,
                                0, &pl, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    blen = len >= CHAIN_HEAD ? secmq__get_u32(pl + 4 + SECMQ_KEY_BYTES) : 0;
    if (len < CHAIN_HEAD || blen != len - CHAIN_HEAD) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto out;
    }
    lo = secmq__get_u32(pl);
    st = secmq__grant_body_parse_kept(pl + CHAIN_HEAD, blen, &g, &rt);
    if (st != SECMQ_GRANT_OK || rt.period_ms == 0 || lo < rt.step) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed (%s)", path,
                             secmq_grant_status_name(st));
        goto out;
    }
    secmq__chan_id(cid, g.owner_pk, g.filter, g.filter_len);
    if (!secmq__name_is_cid(fname, cid, ".chain")) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: holds another channel's key; renamed?", path);
        goto out;
    }
    rc = secmq__grant_trusted(kr, path, &g, e);
    if (rc != SECMQ_OK || secmq__chan_find(kr, cid) != NULL) {
        goto out; /* an owned channel's own state is authoritative */
    }
    rc = secmq__chan_add(kr, &ch, e);
    if (rc == SECMQ_OK) {
        rc = secmq__chan_from_grant(kr, ch, &g, NULL, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__chain_new(ch, pl + 4, lo, lo, rt.period_ms, rt.grace_ms,
                              pl + CHAIN_HEAD, blen, e);
    }
    if (rc != SECMQ_OK && ch != NULL) {
        secmq__chan_drop_last(kr);
    }
out:
    sodium_memzero(&g, sizeof g);
    sodium_free(pl);
    return rc;
}

/* A grant file an interrupted import left beside the chain file (§5.3):
 * it holds the key of the grant's step, which the chain may have erased. */
static int drop_leftover(const secmq_keyring *kr, const secmq__kchan *ch,
                         secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    int fd = -1, rc;

    if (secmq__chan_path(path, sizeof path, kr->dir, "grants", ch->cid,
                         ".grant") != 0 ||
        access(path, F_OK) != 0) {
        return SECMQ_OK;
    }
    if (secmq__kpath(path, sizeof path, kr->dir, "lock", NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    rc = secmq__kfile_lock(path, 1, 0, 1, &fd, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    (void)secmq__chan_path(path, sizeof path, kr->dir, "grants", ch->cid,
                           ".grant");
    rc = secmq__kfile_remove(path, e);
    close(fd);
    return rc;
}

int secmq__chains_tick(secmq_keyring *kr, int blocking, secmq__kerr *e)
{
    uint64_t now = secmq__unix_ms();
    int rc = SECMQ_OK, r;

    for (size_t i = 0; i < kr->nchans; i++) {
        secmq__kchan *ch = &kr->chans[i];
        if (ch->chain == NULL) {
            continue;
        }
        pthread_mutex_lock(&kr->chain_lock);
        (void)secmq__chain_sync(ch, now);
        pthread_mutex_unlock(&kr->chain_lock);
        r = secmq__chain_save(kr, ch, blocking, e);
        if (r == SECMQ_OK && blocking && !ch->owned) {
            r = drop_leftover(kr, ch, e);
        }
        if (r != SECMQ_OK && rc == SECMQ_OK) {
            rc = r;
        }
    }
    return rc;
}

int secmq_keyring_channel_ratchet(secmq_keyring *kr, size_t i,
                                  secmq_channel_ratchet_info *info)
{
    secmq__kchan *ch;
    uint64_t now = secmq__unix_ms();

    if (kr == NULL || info == NULL || i >= kr->nchans) {
        return SECMQ_E_INVAL;
    }
    memset(info, 0, sizeof *info);
    ch = &kr->chans[i];
    if (ch->chain == NULL) {
        return SECMQ_OK;
    }
    pthread_mutex_lock(&kr->chain_lock);
    (void)secmq__chain_sync(ch, now);
    info->on = 1;
    info->period_ms = ch->chain->period_ms;
    info->grace_ms = ch->chain->grace_ms;
    info->step = secmq__ratchet_step_at(ch->created_ms, info->period_ms, now);
    info->lowest = ch->chain->lo;
    info->erase_ms = secmq__ratchet_erase_at(ch->created_ms, info->period_ms,
                                             info->grace_ms, info->lowest);
    pthread_mutex_unlock(&kr->chain_lock);
    if (unsaved(kr, ch)) {
        save_soon(kr, ch);
    }
    return SECMQ_OK;
}

int secmq_keyring_tick(secmq_keyring *kr)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};
    int rc;

    if (kr == NULL) {
        return SECMQ_E_INVAL;
    }
    rc = secmq__chains_tick(kr, 1, &e);
    if (rc != SECMQ_OK) {
        pthread_mutex_lock(&kr->err_lock);
        memcpy(kr->errmsg, msg, sizeof kr->errmsg);
        pthread_mutex_unlock(&kr->err_lock);
    }
    return rc;
}

/* ---- pruning replay state ------------------------------------------------ */

#define PRUNE_FIRST 4096u

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES); /* not secret: key ids */
}

size_t secmq__chain_erased_ids(secmq_keyring *kr, unsigned char **ids)
{
    size_t n = 0, cap = 0;
    unsigned char *v = NULL, *nv;

    *ids = NULL;
    pthread_mutex_lock(&kr->chain_lock);
    for (size_t i = 0; i < kr->nchans; i++) {
        secmq__kchan *ch = &kr->chans[i];
        secmq__kchain *c = ch->chain;
        uint32_t from;
        if (c == NULL) {
            continue;
        }
        if (c->pruned) {
            from = c->pruned_lo > SECMQ__EXPIRED_LOOKBACK
                       ? c->pruned_lo - SECMQ__EXPIRED_LOOKBACK
                       : 0;
        } else {
            from = c->lo > PRUNE_FIRST ? c->lo - PRUNE_FIRST : 0;
        }
        if (from >= c->lo) {
            continue;
        }
        if (n + (c->lo - from) > cap) {
            cap = n + (c->lo - from);
            nv = realloc(v, cap * SECMQ_ID_BYTES);
            if (nv == NULL) {
                break; /* try again at the next compaction */
            }
            v = nv;
        }
        for (uint32_t s = from; s < c->lo; s++) {
            secmq__ratchet_step_id(v + n * SECMQ_ID_BYTES, ch->key_id, s);
            n++;
        }
        c->pruned = 1;
        c->pruned_lo = c->lo;
    }
    pthread_mutex_unlock(&kr->chain_lock);
    if (n == 0) {
        free(v);
        return 0;
    }
    qsort(v, n, SECMQ_ID_BYTES, cmp_id);
    *ids = v;
    return n;
}

int secmq__ids_have(const unsigned char *ids, size_t n, const unsigned char *id)
{
    return n > 0 && bsearch(id, ids, n, SECMQ_ID_BYTES, cmp_id) != NULL;
}

/* ---- erasing on time ------------------------------------------------------
 */

/* The longest the ticker sleeps (a clock set forward is noticed then). */
#define TICK_MAX_MS 60000u

/* When the next step of any chain is erased (Unix ms). */
static uint64_t next_erase(secmq_keyring *kr)
{
    uint64_t next = UINT64_MAX, t;

    pthread_mutex_lock(&kr->chain_lock);
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (ch->chain == NULL) {
            continue;
        }
        t = secmq__ratchet_erase_at(ch->created_ms, ch->chain->period_ms,
                                    ch->chain->grace_ms, ch->chain->lo);
        next = t < next ? t : next;
    }
    pthread_mutex_unlock(&kr->chain_lock);
    return next;
}

static void *ticker_main(void *arg)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};
    secmq_keyring *kr = arg;
    struct timespec ts;
    uint64_t now, due, prev;
    int said = 0;

    (void)pthread_setname_np(pthread_self(), "secmq-epochs");
    pthread_mutex_lock(&kr->tick_mu);
    while (!kr->tick_stop) {
        now = secmq__unix_ms();
        due = next_erase(kr);
        prev = secmq__prev_next_deadline(kr, now);
        due = prev < due ? prev : due;
        /* 1 ms past the deadline: step s goes once now > its erase time. */
        due = due < UINT64_MAX ? due + 1 : due;
        if (due > now) {
            uint64_t wait = due - now < TICK_MAX_MS ? due - now : TICK_MAX_MS;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t)(wait / 1000u);
            ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            (void)pthread_cond_timedwait(&kr->tick_cv, &kr->tick_mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&kr->tick_mu);
        if ((secmq__chains_tick(kr, 1, &e) != SECMQ_OK ||
             secmq__prev_tick(kr, &e) != SECMQ_OK) &&
            !said) {
            said = 1;
            fprintf(stderr,
                    "secmq: keyring '%s': keys past their grace are still "
                    "on disk (tried again at the next deadline): %s\n",
                    kr->self.name, msg);
        }
        pthread_mutex_lock(&kr->tick_mu);
    }
    pthread_mutex_unlock(&kr->tick_mu);
    return NULL;
}

int secmq__ticker_start(secmq_keyring *kr)
{
    int any = 0;

    for (size_t i = 0; i < kr->nchans && !any; i++) {
        any = kr->chans[i].chain != NULL;
    }
    any = any || secmq__prev_next_deadline(kr, secmq__unix_ms()) < UINT64_MAX;
    if (!any || kr->ticker_running) {
        return SECMQ_OK;
    }
    kr->tick_stop = 0;
    if (pthread_create(&kr->ticker, NULL, ticker_main, kr) != 0) {
        return SECMQ_E_NOMEM;
    }
    kr->ticker_running = 1;
    return SECMQ_OK;
}

void secmq__ticker_stop(secmq_keyring *kr)
{
    if (!kr->ticker_running) {
        return;
    }
    pthread_mutex_lock(&kr->tick_mu);
    kr->tick_stop = 1;
    pthread_cond_signal(&kr->tick_cv);
    pthread_mutex_unlock(&kr->tick_mu);
    pthread_join(kr->ticker, NULL);
    kr->ticker_running = 0;
}
