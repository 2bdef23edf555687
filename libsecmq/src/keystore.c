/*
 * keystore.c -- loading a keyring directory into memory: the identity,
 * the trusted peers, the owned channels and the grants held, each checked
 * again on every load (a grant is opened and its owner's signature and
 * trust verified; an owned file must authenticate, keyowned.c reads it).
 * Not for runtime sealing/opening (keyring.c) or for changing the
 * directory (keyadmin.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring_int.h"
#include "topicfilter_int.h"

/* ---- small helpers --------------------------------------------------------
 */

void secmq__chan_id(unsigned char cid[SECMQ__CID_BYTES],
                    const unsigned char *owner_pk, const char *filter,
                    size_t filter_len)
{
    crypto_generichash_state st;
    unsigned char h[32];

    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, owner_pk, SECMQ_SIGN_PK_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)filter, filter_len);
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(cid, h, SECMQ__CID_BYTES);
}

int secmq__chan_path(char *buf, size_t len, const char *dir, const char *sub,
                     const unsigned char *cid, const char *suffix)
{
    char name[2 * SECMQ__CID_BYTES + 1 + 16];
    char hex[2 * SECMQ__CID_BYTES + 1];
    int n;

    n = snprintf(name, sizeof name, "%s%s",
                 secmq__hex(hex, cid, SECMQ__CID_BYTES), suffix);
    if (n < 0 || (size_t)n >= sizeof name) {
        return -1;
    }
    return secmq__kpath(buf, len, dir, sub, name);
}

/* Public bytes (filters, ids) equal. */
static int same_bytes(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0; /* not secret */
}

secmq__kchan *secmq__chan_find(secmq_keyring *kr, const unsigned char *cid)
{
    for (size_t i = 0; i < kr->nchans; i++) {
        if (same_bytes(kr->chans[i].cid, cid, SECMQ__CID_BYTES)) {
            return &kr->chans[i];
        }
    }
    return NULL;
}

const unsigned char *secmq__chan_key(const secmq_keyring *kr,
                                     const secmq__kchan *ch, int prev)
{
    return kr->keys + (2 * ch->slot + (prev ? 1u : 0u)) * SECMQ_KEY_BYTES;
}

static int same_pk(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_SIGN_PK_BYTES) == 0; /* not secret */
}

const secmq__ident *secmq__peer_by_pk(const secmq_keyring *kr,
                                      const unsigned char *pk)
{
    for (size_t i = 0; i < kr->npeers; i++) {
        if (same_pk(kr->peers[i].pk, pk)) {
            return &kr->peers[i];
        }
    }
    return NULL;
}

const secmq__ident *secmq__peer_by_name(const secmq_keyring *kr,
                                        const char *name)
{
    for (size_t i = 0; i < kr->npeers; i++) {
        if (strcmp(kr->peers[i].name, name) == 0) {
            return &kr->peers[i];
        }
    }
    return NULL;
}

/* The name people know pk by: this identity, a peer (also by a key they
 * replaced), else its hex id. */
static void display_of(const secmq_keyring *kr, const unsigned char *pk,
                       char out[SECMQ__DISPLAY_BYTES])
{
    const secmq__ident *p;
    unsigned char id[SECMQ_ID_BYTES];

    if (same_pk(pk, kr->self.pk)) {
        snprintf(out, SECMQ__DISPLAY_BYTES, "%s", kr->self.name);
        return;
    }
    /* A key replaced by a successor (§2.3) is still its holder's. */
    p = secmq__succ_peer(kr, pk);
    if (p != NULL) {
        snprintf(out, SECMQ__DISPLAY_BYTES, "%s", p->name);
        return;
    }
    if (secmq__succ_is_own_old(kr, pk)) {
        snprintf(out, SECMQ__DISPLAY_BYTES, "%s", kr->self.name);
        return;
    }
    secmq_identity_id(id, pk);
    secmq__hex(out, id, SECMQ_ID_BYTES);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void secmq__free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

int secmq__list_dir(const char *dir, const char *sub, const char *suffix,
                    const char *except, char ***names, size_t *n,
                    secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    char **v = NULL, **nv;
    size_t count = 0, cap = 0, slen = strlen(suffix), xlen, len;
    struct dirent *de;
    DIR *d;
    int rc;

    *names = NULL;
    *n = 0;
    if (secmq__kpath(path, sizeof path, dir, sub, NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    d = opendir(path);
    if (d == NULL) {
        if (errno == ENOENT) {
            return SECMQ_OK;
        }
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
    }
    xlen = except != NULL ? strlen(except) : 0;
    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= slen ||
            strcmp(de->d_name + len - slen, suffix) != 0) {
            continue;
        }
        if (except != NULL && len > xlen &&
            strcmp(de->d_name + len - xlen, except) == 0) {
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            nv = realloc(v, cap * sizeof *v);
            if (nv == NULL) {
                rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
                goto err;
            }
            v = nv;
        }
        v[count] = strdup(de->d_name);
        if (v[count] == NULL) {
            rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
            goto err;
        }
        count++;
    }
    closedir(d);
    if (count > 1) {
        qsort(v, count, sizeof *v, cmp_str);
    }
    *names = v;
    *n = count;
    return SECMQ_OK;
err:
    closedir(d);
    secmq__free_names(v, count);
    return rc;
}

/* ---- channels and their keys ----------------------------------------------
 */

int secmq__chan_add(secmq_keyring *kr, secmq__kchan **out, secmq__kerr *e)
{
    secmq__kchan *nc;
    unsigned char *nk;
    size_t cap;

    nc = realloc(kr->chans, (kr->nchans + 1) * sizeof *nc);
    if (nc == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    kr->chans = nc;
    if (kr->nchans + 1 > kr->key_slots) {
        cap = kr->key_slots ? 2 * kr->key_slots : 8;
        nk = sodium_malloc(cap * 2 * SECMQ_KEY_BYTES);
        if (nk == NULL) {
            return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        }
        sodium_memzero(nk, cap * 2 * SECMQ_KEY_BYTES);
        if (kr->keys != NULL) {
            memcpy(nk, kr->keys, kr->key_slots * 2 * SECMQ_KEY_BYTES);
            sodium_free(kr->keys);
        }
        kr->keys = nk;
        kr->key_slots = cap;
    }
    memset(&nc[kr->nchans], 0, sizeof *nc);
    nc[kr->nchans].slot = kr->nchans;
    *out = &nc[kr->nchans];
    kr->nchans++;
    return SECMQ_OK;
}

void secmq__chan_drop_last(secmq_keyring *kr)
{
    secmq__kchan *ch = &kr->chans[kr->nchans - 1];

    sodium_memzero(kr->keys + 2 * ch->slot * SECMQ_KEY_BYTES,
                   2 * SECMQ_KEY_BYTES);
    free(ch->filter);
    free(ch->pubs);
    free(ch->members);
    secmq__rcpt_free(&ch->rcpt);
    secmq__chain_free(ch);
    kr->nchans--;
}

unsigned char *secmq__chan_key_w(secmq_keyring *kr, const secmq__kchan *ch,
                                 int prev)
{
    return kr->keys + (2 * ch->slot + (prev ? 1u : 0u)) * SECMQ_KEY_BYTES;
}

int secmq__chan_set_filter(secmq__kchan *ch, const char *f, size_t len,
                           secmq__kerr *e)
{
    ch->filter = malloc(len + 1);
    if (ch->filter == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    memcpy(ch->filter, f, len);
    ch->filter[len] = 0;
    ch->filter_len = len;
    return SECMQ_OK;
}

int secmq__name_is_cid(const char *name, const unsigned char *cid,
                       const char *suffix)
{
    char want[2 * SECMQ__CID_BYTES + 1 + 16];
    char hex[2 * SECMQ__CID_BYTES + 1];
    int n;

    n = snprintf(want, sizeof want, "%s%s",
                 secmq__hex(hex, cid, SECMQ__CID_BYTES), suffix);
    return n > 0 && (size_t)n < sizeof want && strcmp(want, name) == 0;
}

/* ---- grants ---------------------------------------------------------------
 */

/* What a grant refused by secmq_grant_body_parse for status st breaks
 * (PROTOCOL.md §5.1), for people. */
static const char *refusal_text(int st)
{
    switch (st) {
    case SECMQ_GRANT_BAD_EPOCH:
        return "its epoch, previous key id and grace deadline disagree "
               "(epoch 0, a previous key at epoch 1, a grace deadline "
               "without a previous key, or a key that follows itself)";
    case SECMQ_GRANT_BAD_FLAGS:
        return "it sets flag bits this version does not define";
    case SECMQ_GRANT_BAD_PUBLISHERS:
        return "its publishers list is empty or names a key twice";
    case SECMQ_GRANT_BAD_RECEIPTS:
        return "its receipters list is empty or names a key twice, or it "
               "needs more receipts than it lists receipters";
    case SECMQ_GRANT_PUBLISHER_MISMATCH:
        return "its may-publish flag disagrees with its publishers list "
               "(the member must be listed exactly when the flag is set; "
               "receivers go by the list)";
    default:
        return "malformed body: wrong lengths, magic or filter (tampered?)";
    }
}

int secmq__grant_trusted(const secmq_keyring *kr, const char *label,
                         const secmq_grant_fields *g, secmq__kerr *e)
{
    char h1[2 * SECMQ_ID_BYTES + 1], h2[2 * SECMQ_ID_BYTES + 1];
    unsigned char id[SECMQ_ID_BYTES];

    /* A grant to a predecessor of this identity was re-sealed to it at
     * `identity rotate` (§2.3): still its grant, not to publish with. */
    if (!same_pk(g->member_pk, kr->self.pk) &&
        !secmq__succ_is_own_old(kr, g->member_pk)) {
        secmq_identity_id(id, g->member_pk);
        return secmq__kerr_set(
            e, SECMQ_E_KEYRING,
            "%s: grant for someone else (member id %s; this keyring is "
            "'%s', id %s)",
            label, secmq__hex(h1, id, SECMQ_ID_BYTES), kr->self.name,
            secmq__hex(h2, kr->self.id, SECMQ_ID_BYTES));
    }
    /* SECURITY: a valid signature proves nothing unless its key is one we
     * were told to trust (or one that a trusted key succeeded: a grant it
     * signed before is kept until the owner issues it again). */
    if (!same_pk(g->owner_pk, kr->self.pk) &&
        secmq__succ_peer(kr, g->owner_pk) == NULL &&
        !secmq__succ_is_own_old(kr, g->owner_pk)) {
        secmq_identity_id(id, g->owner_pk);
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: grant from an untrusted owner (id %s): "
                               "import the owner's public identity first",
                               label, secmq__hex(h1, id, SECMQ_ID_BYTES));
    }
    return SECMQ_OK;
}

/* 1 if id is the identity id of a predecessor of this identity. */
static int own_old_id(const secmq_keyring *kr, const unsigned char *id)
{
    unsigned char oid[SECMQ_ID_BYTES];

    for (size_t i = 0; i < kr->nsucc; i++) {
        secmq_identity_id(oid, kr->succ[i].old_pk);
        if (same_bytes(oid, id, SECMQ_ID_BYTES) &&
            secmq__succ_is_own_old(kr, kr->succ[i].old_pk)) {
            return 1;
        }
    }
    return 0;
}

int secmq__grant_check(const secmq_keyring *kr, const char *label,
                       const unsigned char *grant, size_t len,
                       unsigned char **body, secmq_grant_fields *g,
                       secmq_grant_receipts *r, secmq_grant_ratchet *rt,
                       secmq__kerr *e)
{
    secmq_grant_receipts rs;
    secmq_grant_ratchet rts;
    char h1[2 * SECMQ_ID_BYTES + 1], h2[2 * SECMQ_ID_BYTES + 1];
    unsigned char *b;
    size_t blen = 0;
    int st, rc;

    *body = NULL;
    sodium_memzero(g, sizeof *g);
    /* SECURITY: the opened body holds the channel key. */
    b = sodium_malloc(len > 0 ? len : 1);
    if (b == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    st = secmq_grant_open(b, len, &blen, grant, len, kr->sec->sk);
    if (st == SECMQ_GRANT_NOT_FOR_US && own_old_id(kr, grant + 8)) {
        rc = secmq__kerr_set(
            e, SECMQ_E_KEYRING,
            "%s: grant sealed to this identity's previous key (id %s, "
            "before `secmq-keys identity rotate`): the owner must import "
            "%s.successor and issue it again",
            label, secmq__hex(h1, grant + 8, SECMQ_ID_BYTES), kr->self.name);
        goto err;
    }
    if (st == SECMQ_GRANT_NOT_FOR_US) {
        rc = secmq__kerr_set(
            e, SECMQ_E_KEYRING,
            "%s: grant for someone else (recipient id %s; this keyring is "
            "'%s', id %s)",
            label, secmq__hex(h1, grant + 8, SECMQ_ID_BYTES), kr->self.name,
            secmq__hex(h2, kr->self.id, SECMQ_ID_BYTES));
        goto err;
    }
    if (st == SECMQ_GRANT_BAD_SEAL) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: grant does not open (tampered, or sealed "
                             "to another key)",
                             label);
        goto err;
    }
    if (st != SECMQ_GRANT_OK) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: not a grant file (bad magic or too short)",
                             label);
        goto err;
    }
    st = secmq_grant_body_parse_v3(b, blen, g, &rs, &rts);
    if (st == SECMQ_GRANT_BAD_SIGNATURE) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: the owner's signature does not verify "
                             "(tampered grant)",
                             label);
        goto err;
    }
    if (st != SECMQ_GRANT_OK) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: grant refused (%s): %s",
                             label, secmq_grant_status_name(st),
                             refusal_text(st));
        goto err;
    }
    rc = secmq__grant_trusted(kr, label, g, e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    if (rts.period_ms != 0 && rt == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: a grant of a channel with epochs is kept "
                             "as grants/<id>.chain, not as a grant file: "
                             "import it with `secmq-keys import`",
                             label);
        goto err;
    }
    if (r != NULL) {
        *r = rs;
    }
    if (rt != NULL) {
        *rt = rts;
    }
    *body = b;
    return SECMQ_OK;
err:
    sodium_memzero(g, sizeof *g);
    sodium_free(b);
    return rc;
}

static int has_prev_id(const unsigned char *id)
{
    unsigned char acc = 0;

    for (size_t i = 0; i < SECMQ_ID_BYTES; i++) {
        acc |= id[i];
    }
    return acc != 0;
}

int secmq__chan_from_grant(secmq_keyring *kr, secmq__kchan *ch,
                           const secmq_grant_fields *g,
                           const secmq_grant_receipts *r, secmq__kerr *e)
{
    int rc = secmq__chan_set_filter(ch, g->filter, g->filter_len, e);

    if (rc != SECMQ_OK) {
        return rc;
    }
    memcpy(ch->owner_pk, g->owner_pk, SECMQ_SIGN_PK_BYTES);
    secmq__chan_id(ch->cid, g->owner_pk, g->filter, g->filter_len);
    ch->member = 1;
    /* The publishers list decides, as on the receiving side; the codec
     * refused a grant whose flag says otherwise. */
    ch->may_publish = 0;
    ch->member_old = !same_pk(g->member_pk, kr->self.pk);
    for (size_t i = 0; i < g->n_publishers; i++) {
        if (same_pk(g->publishers + i * SECMQ_SIGN_PK_BYTES, kr->self.pk)) {
            ch->may_publish = 1;
        }
    }
    ch->allow_mac = (g->flags & SECMQ_GRANT_ALLOW_MAC) != 0;
    ch->epoch = g->epoch;
    memcpy(ch->key_id, g->key_id, SECMQ_ID_BYTES);
    memcpy(secmq__chan_key_w(kr, ch, 0), g->channel_key, SECMQ_KEY_BYTES);
    ch->created_ms = g->created_ms;
    ch->has_prev = has_prev_id(g->prev_key_id);
    memcpy(ch->prev_key_id, g->prev_key_id, SECMQ_ID_BYTES);
    ch->prev_deadline_ms = g->grace_ms;
    ch->pubs = calloc(g->n_publishers ? g->n_publishers : 1, sizeof *ch->pubs);
    if (ch->pubs == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_publishers; i++) {
        memcpy(ch->pubs[i].pk, g->publishers + i * SECMQ_SIGN_PK_BYTES,
               SECMQ_SIGN_PK_BYTES);
        secmq_identity_id(ch->pubs[i].id, ch->pubs[i].pk);
    }
    ch->npubs = g->n_publishers;
    if (r == NULL) {
        return SECMQ_OK;
    }
    return secmq__rcpt_from_grant(&ch->rcpt, r, e);
}

/* Read and check the grant file at path. */
static int read_grant(const secmq_keyring *kr, const char *path,
                      unsigned char **body, secmq_grant_fields *g,
                      secmq_grant_receipts *r, secmq__kerr *e)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    int rc;

    rc = secmq__kfile_read(path, SECMQ__GRANT_FILE_MAX, 0, &raw, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq__grant_check(kr, path, raw, len, body, g, r, NULL, e);
    secmq__kfile_release(raw, len + 1, 0);
    return rc;
}

/* Load grants/<fname> (a current grant) and its .prev.grant, if any. */
static int load_grant(secmq_keyring *kr, const char *fname, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    secmq_grant_fields g, pg;
    secmq_grant_receipts gr;
    unsigned char *body = NULL, *pbody = NULL;
    unsigned char cid[SECMQ__CID_BYTES];
    secmq__kchan *ch = NULL;
    struct stat pst;
    int rc;

    sodium_memzero(&pg, sizeof pg);
    if (secmq__kpath(path, sizeof path, kr->dir, "grants", fname) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = read_grant(kr, path, &body, &g, &gr, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq__chan_id(cid, g.owner_pk, g.filter, g.filter_len);
    if (!secmq__name_is_cid(fname, cid, ".grant")) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: holds another channel's grant; renamed?",
                             path);
        goto err;
    }
    /* The owner's own state is authoritative for an owned channel. */
    if (secmq__chan_find(kr, cid) != NULL) {
        rc = SECMQ_OK;
        goto err;
    }
    rc = secmq__chan_add(kr, &ch, e);
    if (rc == SECMQ_OK) {
        rc = secmq__chan_from_grant(kr, ch, &g, &gr, e);
        if (rc != SECMQ_OK) {
            secmq__chan_drop_last(kr);
        }
    }
    if (rc != SECMQ_OK) {
        goto err;
    }
    if (ch->has_prev) {
        if (secmq__chan_path(path, sizeof path, kr->dir, "grants", cid,
                             ".prev.grant") != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                                 kr->dir);
            goto err;
        }
        if (stat(path, &pst) == 0) {
            ch->prev_ino = (unsigned long long)pst.st_ino;
            rc = read_grant(kr, path, &pbody, &pg, NULL, e);
            if (rc != SECMQ_OK) {
                goto err;
            }
            /* A previous grant that is not the key the current one names
             * (a crash between the two writes of an import) is ignored. */
            if (same_pk(secmq__succ_latest(kr, pg.owner_pk),
                        secmq__succ_latest(kr, g.owner_pk)) &&
                pg.filter_len == g.filter_len &&
                same_bytes(pg.filter, g.filter, g.filter_len) &&
                same_bytes(pg.key_id, g.prev_key_id, SECMQ_ID_BYTES)) {
                memcpy(secmq__chan_key_w(kr, ch, 1), pg.channel_key,
                       SECMQ_KEY_BYTES);
                ch->prev_held = 1;
            }
        }
    }
    rc = SECMQ_OK;
err:
    sodium_memzero(&g, sizeof g);
    sodium_memzero(&pg, sizeof pg);
    if (body != NULL) {
        sodium_free(body);
    }
    if (pbody != NULL) {
        sodium_free(pbody);
    }
    return rc;
}

/* ---- peers -------------------------------------------------------------- */

static int cmp_peer(const void *a, const void *b)
{
    return strcmp(((const secmq__ident *)a)->name,
                  ((const secmq__ident *)b)->name);
}

static int load_peers(secmq_keyring *kr, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    char **names = NULL;
    size_t n = 0;
    secmq__ident p;
    int rc;

    rc = secmq__list_dir(kr->dir, "peers", ".pub", NULL, &names, &n, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    kr->peers = calloc(n ? n : 1, sizeof *kr->peers);
    if (kr->peers == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        if (secmq__kpath(path, sizeof path, kr->dir, "peers", names[i]) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                                 kr->dir);
            goto err;
        }
        rc = secmq__identity_read_public(path, &p, e);
        if (rc != SECMQ_OK) {
            goto err;
        }
        if (strlen(names[i]) != strlen(p.name) + 4 ||
            strncmp(names[i], p.name, strlen(p.name)) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                                 "%s: holds identity '%s'; renamed?", path,
                                 p.name);
            goto err;
        }
        if (same_pk(p.pk, kr->self.pk) || secmq__peer_by_pk(kr, p.pk)) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                                 "%s: the same key as another identity of "
                                 "this keyring",
                                 path);
            goto err;
        }
        kr->peers[kr->npeers++] = p;
    }
    if (kr->npeers > 1) {
        qsort(kr->peers, kr->npeers, sizeof *kr->peers, cmp_peer);
    }
    rc = SECMQ_OK;
err:
    secmq__free_names(names, n);
    return rc;
}

/* ---- the whole keyring ------------------------------------------------------
 */

static int cmp_chan(const void *a, const void *b)
{
    const secmq__kchan *x = a, *y = b;
    int c = strcmp(x->filter, y->filter);

    if (c != 0) {
        return c;
    }
    return memcmp(x->cid, y->cid, SECMQ__CID_BYTES); /* not secret */
}

/* Names for display and the arrays secmq_keyring_channel() hands out. */
static int finish_chan(secmq_keyring *kr, secmq__kchan *ch, secmq__kerr *e)
{
    display_of(kr, ch->owner_pk, ch->owner_display);
    ch->pub_names = calloc(ch->npubs ? ch->npubs : 1, sizeof(char *));
    ch->member_names = calloc(ch->nmembers ? ch->nmembers : 1, sizeof(char *));
    ch->member_pub = calloc(ch->nmembers ? ch->nmembers : 1, sizeof(int));
    if (ch->pub_names == NULL || ch->member_names == NULL ||
        ch->member_pub == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < ch->npubs; i++) {
        display_of(kr, ch->pubs[i].pk, ch->pubs[i].display);
        ch->pub_names[i] = ch->pubs[i].display;
    }
    for (size_t i = 0; i < ch->nmembers; i++) {
        ch->member_names[i] = ch->members[i].name;
        ch->member_pub[i] = ch->members[i].publisher;
    }
    if (secmq__rcpt_names_alloc(&ch->rcpt, e) != SECMQ_OK) {
        return SECMQ_E_NOMEM;
    }
    for (size_t i = 0; ch->rcpt.on && i < ch->rcpt.n; i++) {
        display_of(kr, ch->rcpt.pks + SECMQ_SIGN_PK_BYTES * i,
                   ch->rcpt.display[i]);
    }
    return SECMQ_OK;
}

static int load_all(secmq_keyring *kr, secmq__kerr *e)
{
    char **names = NULL;
    size_t n = 0;
    int rc;

    rc = secmq__identity_load(kr->dir, &kr->self, kr->sec, e);
    if (rc == SECMQ_OK) {
        rc = load_peers(kr, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__succ_load(kr, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__list_dir(kr->dir, "owned", ".chan", NULL, &names, &n, e);
    }
    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        rc = secmq__owned_load(kr, names[i], e);
    }
    secmq__free_names(names, n);
    names = NULL;
    n = 0;
    /* Ratcheted channels (§5.3) before grants: a grant file left beside
     * its chain file by an interrupted import is then ignored. */
    if (rc == SECMQ_OK) {
        rc = secmq__list_dir(kr->dir, "grants", ".chain", NULL, &names, &n, e);
    }
    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        rc = secmq__chain_load(kr, names[i], e);
    }
    secmq__free_names(names, n);
    names = NULL;
    n = 0;
    if (rc == SECMQ_OK) {
        rc = secmq__list_dir(kr->dir, "grants", ".grant", ".prev.grant", &names,
                             &n, e);
    }
    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        rc = load_grant(kr, names[i], e);
    }
    secmq__free_names(names, n);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (kr->nchans > 1) {
        qsort(kr->chans, kr->nchans, sizeof *kr->chans, cmp_chan);
    }
    for (size_t i = 0; i < kr->nchans; i++) {
        rc = finish_chan(kr, &kr->chans[i], e);
        if (rc != SECMQ_OK) {
            return rc;
        }
    }
    return SECMQ_OK;
}

int secmq__keystore_load(secmq_keyring **out, const char *dir, secmq__kerr *e)
{
    secmq_keyring *kr;
    int rc;

    *out = NULL;
    kr = calloc(1, sizeof *kr);
    if (kr == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    kr->seq_lock_fd = -1;
    kr->rx_lock_fd = -1;
    kr->use_fd = -1;
    secmq__rj_init(&kr->journal);
    kr->mode = SECMQ_SEAL_SIGNED;
    pthread_mutex_init(&kr->tx_lock, NULL);
    pthread_mutex_init(&kr->rx_lock, NULL);
    pthread_mutex_init(&kr->sync_lock, NULL);
    pthread_mutex_init(&kr->err_lock, NULL);
    pthread_mutex_init(&kr->chain_lock, NULL);
    pthread_mutex_init(&kr->tick_mu, NULL);
    pthread_cond_init(&kr->tick_cv, NULL);
    kr->locks_ready = 1;
    kr->dir = strdup(dir);
    kr->sec = sodium_malloc(sizeof *kr->sec);
    if (kr->dir == NULL || kr->sec == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    rc = load_all(kr, e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    /* SECURITY: a ratcheted channel's key lives in its chain only, which
     * erases it as its epochs pass; no copy stays in the key slots. */
    for (size_t i = 0; i < kr->nchans; i++) {
        if (kr->chans[i].chain != NULL) {
            sodium_memzero(secmq__chan_key_w(kr, &kr->chans[i], 0),
                           2 * SECMQ_KEY_BYTES);
        }
    }
    /* SECURITY: nothing writes the secrets after loading; a stray write
     * now faults instead of corrupting or leaking them. */
    sodium_mprotect_readonly(kr->sec);
    if (kr->keys != NULL) {
        sodium_mprotect_readonly(kr->keys);
    }
    *out = kr;
    return SECMQ_OK;
err:
    secmq__keystore_free(kr);
    return rc;
}

void secmq__keystore_free(secmq_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    for (size_t i = 0; i < kr->nchans; i++) {
        secmq__kchan *ch = &kr->chans[i];
        free(ch->filter);
        free(ch->pubs);
        free(ch->members);
        free(ch->pub_names);
        free(ch->member_names);
        free(ch->member_pub);
        secmq__rcpt_free(&ch->rcpt);
        secmq__chain_free(ch);
    }
    free(kr->chans);
    if (kr->keys != NULL) {
        sodium_free(kr->keys); /* wipes */
    }
    if (kr->sec != NULL) {
        sodium_free(kr->sec); /* wipes */
    }
    free(kr->peers);
    free(kr->succ);
    if (kr->use_fd >= 0) {
        close(kr->use_fd);
    }
    free(kr->tx);
    free(kr->rx);
    free(kr->pend);
    free(kr->spare);
    free(kr->seq_other);
    if (kr->seq_lock_fd >= 0) {
        close(kr->seq_lock_fd);
    }
    secmq__rj_close(&kr->journal);
    if (kr->rx_lock_fd >= 0) {
        close(kr->rx_lock_fd);
    }
    if (kr->locks_ready) {
        pthread_mutex_destroy(&kr->tx_lock);
        pthread_mutex_destroy(&kr->rx_lock);
        pthread_mutex_destroy(&kr->sync_lock);
        pthread_mutex_destroy(&kr->err_lock);
        pthread_mutex_destroy(&kr->chain_lock);
        pthread_mutex_destroy(&kr->tick_mu);
        pthread_cond_destroy(&kr->tick_cv);
    }
    free(kr->dir);
    free(kr);
}
