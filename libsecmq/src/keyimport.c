/*
 * keyimport.c -- secmq_keyring_import: public identities become trusted
 * peers, grants are accepted under PROTOCOL.md §5 (addressed to us, a
 * trusted owner's valid signature, a newer epoch), and the key a grant
 * replaces is kept as the previous one. All files are checked before any
 * is written. Not for issuing grants (keychannel.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring_int.h"
#include "ratchet_int.h"
#include "topicfilter_int.h"

enum { IT_PEER = 1, IT_GRANT = 2 };

typedef struct item {
    const char *path;
    unsigned char *raw; /* the file */
    size_t len;
    int kind;
    int is_new;          /* peers: to be written */
    secmq__ident pub;    /* peers */
    unsigned char *body; /* grants: sodium_malloc'd opened body */
    secmq_grant_fields g;
    secmq_grant_ratchet rt; /* grants: period_ms 0 without epochs */
    unsigned char cid[SECMQ__CID_BYTES];
    int prev;  /* grants: the item that becomes previous, or
                  -1 none, -2 the grant on disk */
    int final; /* grants: the newest of its channel in this call */
} item;

/* What a channel looks like while grants of this call are applied. */
typedef struct cstate {
    unsigned char cid[SECMQ__CID_BYTES];
    uint32_t epoch;
    unsigned char key_id[SECMQ_ID_BYTES];
    int cur;  /* item index of the current grant, -2 = on disk */
    int prev; /* as item.prev */
} cstate;

static int same_cid(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ__CID_BYTES) == 0; /* not secret */
}

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: key ids */
}

static const char GRANT_MAGIC[] = "SECMQGR1";
static const char PUBLIC_LINE[] = "secmq-public 1\n";
static const char SECRET_LINE[] = "secmq-identity 1\n";

static int starts_with(const unsigned char *b, size_t len, const char *s)
{
    size_t n = strlen(s);

    return len >= n && memcmp(b, s, n) == 0; /* not secret: magic */
}

/* Sort grant indices by epoch, stable (insertion sort: calls carry few
 * files, and qsort would need a global for the items). */
static void sort_by_epoch(size_t *idx, size_t n, const item *items)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && items[idx[j - 1]].g.epoch > items[v].g.epoch) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

static cstate *cstate_get(secmq_keyring *kr, cstate *cs, size_t *ncs,
                          const unsigned char *cid)
{
    const secmq__kchan *ch;

    for (size_t i = 0; i < *ncs; i++) {
        if (same_cid(cs[i].cid, cid)) {
            return &cs[i];
        }
    }
    memset(&cs[*ncs], 0, sizeof cs[*ncs]);
    memcpy(cs[*ncs].cid, cid, SECMQ__CID_BYTES);
    cs[*ncs].cur = -1;
    cs[*ncs].prev = -1;
    ch = secmq__chan_find(kr, cid);
    if (ch != NULL) {
        cs[*ncs].epoch = ch->epoch;
        memcpy(cs[*ncs].key_id, ch->key_id, SECMQ_ID_BYTES);
        /* A chain file (§5.3) is no grant to keep as the previous one. */
        cs[*ncs].cur = ch->owned || ch->chain != NULL ? -1 : -2;
    }
    return &cs[(*ncs)++];
}

/* Read and classify every file; admit the peers. */
static int import_read(secmq_keyring *kr, item *items, size_t n, secmq__kerr *e)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        rc = secmq__kfile_read(it->path, SECMQ__GRANT_FILE_MAX, 0, &it->raw,
                               &it->len, e);
        if (rc != SECMQ_OK) {
            return rc;
        }
        if (starts_with(it->raw, it->len, GRANT_MAGIC)) {
            it->kind = IT_GRANT;
        } else if (starts_with(it->raw, it->len, PUBLIC_LINE)) {
            it->kind = IT_PEER;
        } else if (starts_with(it->raw, it->len, SECRET_LINE)) {
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "%s: a SECRET identity file: import the "
                                   "output of `secmq-keys export` instead, "
                                   "and keep this one private",
                                   it->path);
        } else {
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "%s: neither a public identity nor a "
                                   "grant file",
                                   it->path);
        }
    }
    /* Peers first, so grants in the same call may name them as owners. */
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        const char *why;
        if (it->kind != IT_PEER) {
            continue;
        }
        why = secmq__identity_parse_public((const char *)it->raw, it->len,
                                           &it->pub);
        if (why != NULL) {
            return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: %s", it->path, why);
        }
        rc = secmq__peer_admit(kr, &it->pub, it->path, e);
        if (rc < 0) {
            return rc;
        }
        it->is_new = rc;
    }
    return SECMQ_OK;
}

/* Check the grants against trust and epochs; decide what each replaces. */
static int import_decide(secmq_keyring *kr, item *items, size_t n, size_t *idx,
                         size_t nidx, cstate *cs, size_t *ncs, secmq__kerr *e)
{
    const secmq__ident *owner;
    int rc;

    for (size_t k = 0; k < nidx; k++) {
        item *it = &items[idx[k]];
        rc = secmq__grant_check(kr, it->path, it->raw, it->len, &it->body,
                                &it->g, NULL, &it->rt, e);
        if (rc != SECMQ_OK) {
            return rc;
        }
        secmq__chan_id(it->cid, it->g.owner_pk, it->g.filter, it->g.filter_len);
    }
    sort_by_epoch(idx, nidx, items);
    for (size_t k = 0; k < nidx; k++) {
        item *it = &items[idx[k]];
        cstate *c = cstate_get(kr, cs, ncs, it->cid);
        /* SECURITY: an epoch not newer than the one held is an older or
         * replayed grant: it could bring back a revoked key. */
        if (it->g.epoch <= c->epoch) {
            owner = secmq__peer_by_pk(kr, it->g.owner_pk);
            return secmq__kerr_set(
                e, SECMQ_E_KEYRING,
                "%s: older or replayed grant: epoch %u of channel '%.*s' "
                "(owner %s) is not newer than epoch %u held",
                it->path, (unsigned)it->g.epoch, (int)it->g.filter_len,
                it->g.filter, owner != NULL ? owner->name : kr->self.name,
                (unsigned)c->epoch);
        }
        /* Only the key the grant names as previous is kept, and only
         * with a grace period: keys older than it, or without grace, are
         * dropped (PROTOCOL.md §3). */
        if (c->epoch > 0 && it->g.grace_ms != 0 &&
            same_id(c->key_id, it->g.prev_key_id)) {
            it->prev = c->cur;
        } else {
            it->prev = -1;
        }
        if (c->cur >= 0) {
            items[c->cur].final = 0;
        }
        c->epoch = it->g.epoch;
        memcpy(c->key_id, it->g.key_id, SECMQ_ID_BYTES);
        c->cur = (int)idx[k];
        it->final = 1;
    }
    (void)n;
    return SECMQ_OK;
}

/*
 * A grant of a channel with epochs (§3.2, §5.3): kept as the chain file
 * at the lowest step held now, never as the grant file; the grant files
 * of the channel's earlier keys go.
 */
static int import_write_chain(const secmq_keyring *kr, item *it,
                              const char *cur, const char *prev, secmq__kerr *e)
{
    unsigned char *k;
    size_t blen = it->len - SECMQ_GRANT_HEADER_BYTES - SECMQ_GRANT_SEAL_BYTES;
    uint32_t lo;
    int rc;

    lo = secmq__ratchet_lowest(it->g.created_ms, it->rt.period_ms,
                               it->rt.grace_ms, it->rt.step, secmq__unix_ms());
    k = sodium_malloc(SECMQ_KEY_BYTES);
    if (k == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    memcpy(k, it->g.channel_key, SECMQ_KEY_BYTES);
    /* SECURITY: the steps past their grace are not even written. */
    secmq__ratchet_advance(k, lo - it->rt.step);
    rc = secmq__chain_write(kr, it->cid, lo, k, it->body, blen, e);
    sodium_free(k);
    if (rc == SECMQ_OK) {
        rc = secmq__kfile_remove(cur, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__kfile_remove(prev, e);
    }
    return rc;
}

/* Write the newest grant of a channel, and the one it replaces. */
static int import_write_grant(const secmq_keyring *kr, item *items, item *it,
                              secmq__kerr *e)
{
    char cur[SECMQ__PATH_MAX], prev[SECMQ__PATH_MAX], chain[SECMQ__PATH_MAX];
    unsigned char *old = NULL;
    size_t oldlen = 0;
    int rc;

    if (secmq__chan_path(cur, sizeof cur, kr->dir, "grants", it->cid,
                         ".grant") != 0 ||
        secmq__chan_path(prev, sizeof prev, kr->dir, "grants", it->cid,
                         ".prev.grant") != 0 ||
        secmq__chan_path(chain, sizeof chain, kr->dir, "grants", it->cid,
                         ".chain") != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    if (it->rt.period_ms != 0) {
        return import_write_chain(kr, it, cur, prev, e);
    }
    /* A channel that had epochs and now has a static key. */
    rc = secmq__kfile_remove(chain, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (it->prev == -2) {
        rc = secmq__kfile_read(cur, SECMQ__GRANT_FILE_MAX, 0, &old, &oldlen, e);
        if (rc == SECMQ_OK) {
            rc = secmq__kfile_write(prev, old, oldlen, 0600, e);
        }
        secmq__kfile_release(old, oldlen + 1, 0);
    } else if (it->prev >= 0) {
        rc = secmq__kfile_write(prev, items[it->prev].raw, items[it->prev].len,
                                0600, e);
    } else {
        rc = secmq__kfile_remove(prev, e);
    }
    if (rc != SECMQ_OK) {
        return rc;
    }
    return secmq__kfile_write(cur, it->raw, it->len, 0600, e);
}

int secmq_keyring_import(const char *dir, const char *const *files, size_t n,
                         secmq_keyring_note_cb cb, void *user, char *err,
                         size_t errlen)
{
    secmq__kerr e = {err, errlen};
    char hex[2 * SECMQ_ID_BYTES + 1];
    secmq__admin a = {-1, NULL};
    item *items = NULL;
    size_t *idx = NULL, nidx = 0, ncs = 0;
    cstate *cs = NULL;
    const secmq__ident *owner;
    int rc;

    secmq__clear_err(err, errlen);
    if (dir == NULL || files == NULL || n == 0) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "no files to import");
    }
    items = calloc(n, sizeof *items);
    idx = calloc(n, sizeof *idx);
    cs = calloc(n, sizeof *cs);
    if (items == NULL || idx == NULL || cs == NULL) {
        rc = secmq__kerr_set(&e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        if (files[i] == NULL) {
            rc = secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
            goto err;
        }
        items[i].path = files[i];
        items[i].prev = -1;
    }
    rc = secmq__admin_begin(dir, &a, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    rc = import_read(a.kr, items, n, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == IT_GRANT) {
            idx[nidx++] = i;
        }
    }
    rc = import_decide(a.kr, items, n, idx, nidx, cs, &ncs, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    /* Everything checked: now write, peers first. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == IT_PEER && items[i].is_new) {
            rc = secmq__peer_write(a.kr, &items[i].pub, &e);
            if (rc != SECMQ_OK) {
                goto err;
            }
        }
    }
    for (size_t k = 0; k < nidx; k++) {
        if (items[idx[k]].final) {
            rc = import_write_grant(a.kr, items, &items[idx[k]], &e);
            if (rc != SECMQ_OK) {
                goto err;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        if (it->kind == IT_PEER) {
            secmq__note(cb, user, "%s: peer '%s' (id %s) %s", it->path,
                        it->pub.name,
                        secmq__hex(hex, it->pub.id, SECMQ_ID_BYTES),
                        it->is_new ? "trusted" : "already known");
            continue;
        }
        owner = secmq__peer_by_pk(a.kr, it->g.owner_pk);
        secmq__note(cb, user, "%s: channel '%.*s' epoch %u from %s, %s%s%s",
                    it->path, (int)it->g.filter_len, it->g.filter,
                    (unsigned)it->g.epoch,
                    owner != NULL ? owner->name : a.kr->self.name,
                    (it->g.flags & SECMQ_GRANT_MAY_PUBLISH) ? "publisher"
                                                            : "subscriber",
                    it->rt.period_ms != 0
                        ? ", key ratcheted every epoch (kept as a chain "
                          "file: delete this grant file now)"
                        : "",
                    it->final ? "" : " (superseded in this import)");
    }
    rc = SECMQ_OK;
err:
    if (items != NULL) {
        for (size_t i = 0; i < n; i++) {
            sodium_memzero(&items[i].g, sizeof items[i].g);
            if (items[i].body != NULL) {
                sodium_free(items[i].body);
            }
            secmq__kfile_release(items[i].raw, items[i].len + 1, 0);
        }
    }
    free(items);
    free(idx);
    free(cs);
    secmq__admin_end(&a);
    return rc;
}
