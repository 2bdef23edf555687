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

enum { IT_PEER = 1, IT_GRANT = 2, IT_SUCC = 3 };

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
    int prev;         /* grants: the item that becomes previous, or
                         -1 none, -2 the grant on disk */
    int final;        /* grants: the newest of its channel in this call */
    secmq__succ succ; /* successor statements */
    int has_from;     /* grants: continues the held channel from_cid of a
                         predecessor of its owner (§2.3) */
    unsigned char from_cid[SECMQ__CID_BYTES];
} item;

/* What a channel looks like while grants of this call are applied. */
typedef struct cstate {
    unsigned char cid[SECMQ__CID_BYTES];
    uint32_t epoch;
    unsigned char key_id[SECMQ_ID_BYTES];
    int cur;      /* item index of the current grant, -2 = on disk */
    int prev;     /* as item.prev */
    int has_from; /* as item.has_from */
    unsigned char from_cid[SECMQ__CID_BYTES];
} cstate;

static int same_cid(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ__CID_BYTES) == 0; /* not secret */
}

static int same_pk(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_SIGN_PK_BYTES) == 0; /* not secret: keys */
}

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: key ids */
}

static const char GRANT_MAGIC[] = "SECMQGR1";
static const char PUBLIC_LINE[] = "secmq-public 1\n";
static const char SECRET_LINE[] = "secmq-identity 1\n";
static const char SUCC_LINE[] = "secmq-successor 1\n";

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

/* The channel a member holds that a grant from the successor of its owner
 * continues (§2.3): the same filter, its owner a predecessor of g's. */
static const secmq__kchan *continued(const secmq_keyring *kr,
                                     const secmq_grant_fields *g)
{
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (ch->owned || !ch->member || ch->filter_len != g->filter_len ||
            strncmp(ch->filter, g->filter, g->filter_len) != 0 ||
            same_pk(ch->owner_pk, g->owner_pk)) {
            continue;
        }
        if (same_pk(secmq__succ_latest(kr, ch->owner_pk), g->owner_pk)) {
            return ch;
        }
    }
    return NULL;
}

static cstate *cstate_get(secmq_keyring *kr, cstate *cs, size_t *ncs,
                          const unsigned char *cid, const secmq_grant_fields *g)
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
    if (ch == NULL) {
        ch = continued(kr, g);
        if (ch != NULL) {
            cs[*ncs].has_from = 1;
            memcpy(cs[*ncs].from_cid, ch->cid, SECMQ__CID_BYTES);
        }
    }
    if (ch != NULL) {
        cs[*ncs].epoch = ch->epoch;
        memcpy(cs[*ncs].key_id, ch->key_id, SECMQ_ID_BYTES);
        /* A chain file (§5.3) is no grant to keep as the previous one. */
        cs[*ncs].cur = ch->owned || ch->chain != NULL ? -1 : -2;
    }
    return &cs[(*ncs)++];
}

/* 1 if it's statement may become admissible later in this call: another
 * statement still to admit has its old key as its new key. */
static int succ_waits(const secmq_keyring *kr, const item *items, size_t n,
                      const item *it)
{
    (void)kr;
    for (size_t i = 0; i < n; i++) {
        if (&items[i] != it && items[i].kind == IT_SUCC &&
            items[i].is_new == -1 &&
            same_pk(items[i].succ.new_pk, it->succ.old_pk)) {
            return 1;
        }
    }
    return 0;
}

/*
 * Parse and admit the successor statements of items, in the order of their
 * chains whatever the order given (A -> B before B -> C): each pass admits
 * those whose old key is trusted by then; a pass that admits none ends it
 * with the first refusal.
 */
static int import_successors(secmq_keyring *kr, item *items, size_t n,
                             secmq__kerr *e)
{
    size_t left = 0, done;
    const char *why;
    int rc;

    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        if (it->kind != IT_SUCC) {
            continue;
        }
        if (secmq__succ_parse((const char *)it->raw, it->len, &it->succ,
                              &why) != SECMQ__SUCC_OK) {
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "%s: successor statement refused: %s",
                                   it->path, why);
        }
        it->is_new = -1; /* not decided yet */
        left++;
    }
    /* At most one pass per statement: each pass but the last admits one. */
    for (size_t pass = 0; left > 0 && pass <= n; pass++) {
        done = 0;
        for (size_t i = 0; i < n; i++) {
            item *it = &items[i];
            if (it->kind != IT_SUCC || it->is_new != -1) {
                continue;
            }
            rc = secmq__succ_admit(kr, &it->succ, it->path, &it->pub, e);
            if (rc >= 0) {
                it->is_new = rc;
                done++;
                left--;
            } else if (!succ_waits(kr, items, n, it)) {
                return rc;
            }
        }
        if (done == 0) {
            break;
        }
    }
    for (size_t i = 0; left > 0 && i < n; i++) {
        if (items[i].kind == IT_SUCC && items[i].is_new == -1) {
            return secmq__succ_admit(kr, &items[i].succ, items[i].path,
                                     &items[i].pub, e);
        }
    }
    return SECMQ_OK;
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
        } else if (starts_with(it->raw, it->len, SUCC_LINE)) {
            it->kind = IT_SUCC;
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
                                   "%s: neither a public identity, a "
                                   "successor statement nor a grant file",
                                   it->path);
        }
    }
    /* Successors first: a peer's new public file in the same call is then
     * known already. */
    rc = import_successors(kr, items, n, e);
    if (rc != SECMQ_OK) {
        return rc;
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
        /* SECURITY: a key its owner replaced (§2.3) issues nothing new:
         * whoever holds it now may not be its owner. */
        if (!same_pk(it->g.owner_pk, kr->self.pk) &&
            secmq__peer_by_pk(kr, it->g.owner_pk) == NULL) {
            owner = secmq__succ_peer(kr, it->g.owner_pk);
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "%s: grant signed with a key that '%s' "
                                   "replaced (successor statement accepted): "
                                   "ask for a grant from the new key",
                                   it->path,
                                   owner != NULL ? owner->name : kr->self.name);
        }
        secmq__chan_id(it->cid, it->g.owner_pk, it->g.filter, it->g.filter_len);
    }
    sort_by_epoch(idx, nidx, items);
    for (size_t k = 0; k < nidx; k++) {
        item *it = &items[idx[k]];
        cstate *c = cstate_get(kr, cs, ncs, it->cid, &it->g);
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
        it->has_from = c->has_from;
        memcpy(it->from_cid, c->from_cid, SECMQ__CID_BYTES);
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

/* Remove a channel's grant, previous grant and chain files. */
static int drop_channel(const secmq_keyring *kr, const unsigned char *cid,
                        secmq__kerr *e)
{
    static const char *const sfx[] = {".grant", ".prev.grant", ".chain"};
    char path[SECMQ__PATH_MAX];
    int rc = SECMQ_OK;

    for (size_t i = 0; rc == SECMQ_OK && i < 3; i++) {
        if (secmq__chan_path(path, sizeof path, kr->dir, "grants", cid,
                             sfx[i]) != 0) {
            return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
        }
        rc = secmq__kfile_remove(path, e);
    }
    return rc;
}

/* Write the newest grant of a channel, and the one it replaces. */
static int write_grant(const secmq_keyring *kr, item *items, item *it,
                       secmq__kerr *e)
{
    char cur[SECMQ__PATH_MAX], prev[SECMQ__PATH_MAX], chain[SECMQ__PATH_MAX];
    char held[SECMQ__PATH_MAX];
    unsigned char *old = NULL;
    size_t oldlen = 0;
    int rc;

    if (secmq__chan_path(cur, sizeof cur, kr->dir, "grants", it->cid,
                         ".grant") != 0 ||
        secmq__chan_path(prev, sizeof prev, kr->dir, "grants", it->cid,
                         ".prev.grant") != 0 ||
        secmq__chan_path(chain, sizeof chain, kr->dir, "grants", it->cid,
                         ".chain") != 0 ||
        secmq__chan_path(held, sizeof held, kr->dir, "grants",
                         it->has_from ? it->from_cid : it->cid,
                         ".grant") != 0) {
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
        rc =
            secmq__kfile_read(held, SECMQ__GRANT_FILE_MAX, 0, &old, &oldlen, e);
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

/* write_grant, then, for a channel continued from a predecessor of its
 * owner (§2.3), the files of the channel it replaces go. */
static int import_write_grant(const secmq_keyring *kr, item *items, item *it,
                              secmq__kerr *e)
{
    int rc = write_grant(kr, items, it, e);

    if (rc == SECMQ_OK && it->has_from) {
        rc = drop_channel(kr, it->from_cid, e);
    }
    return rc;
}

/* What importing the statement of it means, and the owned channels that
 * still grant to the old key (rotate issues grants to the new one). */
static void succ_notes(const secmq_keyring *kr, const item *it,
                       secmq_keyring_note_cb cb, void *user)
{
    char h1[2 * SECMQ_ID_BYTES + 1], h2[2 * SECMQ_ID_BYTES + 1];
    unsigned char id[SECMQ_ID_BYTES];

    secmq_identity_id(id, it->succ.old_pk);
    if (!it->is_new) {
        secmq__note(cb, user, "%s: successor of '%s' already known", it->path,
                    it->succ.name);
        return;
    }
    secmq__note(cb, user, "%s: '%s' replaced its key: id %s -> %s (trusted)",
                it->path, it->succ.name, secmq__hex(h1, id, SECMQ_ID_BYTES),
                secmq__hex(h2, it->pub.id, SECMQ_ID_BYTES));
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        for (size_t k = 0; ch->owned && k < ch->nmembers; k++) {
            if (same_pk(ch->members[k].pk, it->succ.old_pk)) {
                secmq__note(
                    cb, user,
                    "channel '%s' grants to the old key of '%s': "
                    "rotate it to issue a grant to the new one "
                    "(secmq-keys channel rotate --keyring %s --topic %s "
                    "--out DIR)",
                    ch->filter, it->succ.name, kr->dir, ch->filter);
            }
        }
    }
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
    /* Everything checked: now write, successions and peers first. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == IT_SUCC && items[i].is_new) {
            rc = secmq__succ_keep(a.kr, &items[i].succ, &e);
            /* The peer as the whole chain of this call left it. */
            if (rc == SECMQ_OK) {
                rc = secmq__peer_write(
                    a.kr, secmq__peer_by_name(a.kr, items[i].pub.name), &e);
            }
            if (rc != SECMQ_OK) {
                goto err;
            }
        }
    }
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
        if (it->kind == IT_SUCC) {
            succ_notes(a.kr, it, cb, user);
            continue;
        }
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
