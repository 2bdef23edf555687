/*
 * keystore.c -- loading a keyring directory into memory: the identity,
 * the trusted peers, the owned channels and the grants held, each checked
 * again on every load (a grant is opened and its owner's signature and
 * trust verified; an owned file must authenticate). Also the owned-channel
 * file format. Not for runtime sealing/opening (keyring.c) or for changing
 * the directory (keyadmin.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring_int.h"
#include "topicfilter_int.h"

/* Largest owned-channel payload: filter, keys, 65535 members. */
#define OWNED_MAX (70000u + 65535u * (SECMQ_SIGN_PK_BYTES + 2u + 64u))

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

/* The name people know pk by: this identity, a peer, else its hex id. */
static void display_of(const secmq_keyring *kr, const unsigned char *pk,
                       char out[SECMQ__DISPLAY_BYTES])
{
    const secmq__ident *p;
    unsigned char id[SECMQ_ID_BYTES];

    if (same_pk(pk, kr->self.pk)) {
        snprintf(out, SECMQ__DISPLAY_BYTES, "%s", kr->self.name);
        return;
    }
    p = secmq__peer_by_pk(kr, pk);
    if (p != NULL) {
        snprintf(out, SECMQ__DISPLAY_BYTES, "%s", p->name);
        return;
    }
    secmq_identity_id(id, pk);
    secmq__hex(out, id, SECMQ_ID_BYTES);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* The file names in DIR/sub ending in suffix (and not in except), sorted.
 * A missing directory has none. */
static int list_dir(const char *dir, const char *sub, const char *suffix,
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
    free_names(v, count);
    return rc;
}

/* ---- channels and their keys ----------------------------------------------
 */

/* Add a zeroed channel with its own key slots. The pointer is valid until
 * the next chan_add. */
static int chan_add(secmq_keyring *kr, secmq__kchan **out, secmq__kerr *e)
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

/* Drop the channel chan_add made last (its slot is wiped). */
static void chan_drop_last(secmq_keyring *kr)
{
    secmq__kchan *ch = &kr->chans[kr->nchans - 1];

    sodium_memzero(kr->keys + 2 * ch->slot * SECMQ_KEY_BYTES,
                   2 * SECMQ_KEY_BYTES);
    free(ch->filter);
    free(ch->pubs);
    free(ch->members);
    kr->nchans--;
}

static unsigned char *key_w(secmq_keyring *kr, const secmq__kchan *ch, int prev)
{
    return kr->keys + (2 * ch->slot + (prev ? 1u : 0u)) * SECMQ_KEY_BYTES;
}

static int set_filter(secmq__kchan *ch, const char *f, size_t len,
                      secmq__kerr *e)
{
    ch->filter = malloc(len + 1);
    if (ch->filter == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    memcpy(ch->filter, f, len);
    ch->filter[len] = 0;
    ch->filter_len = len;
    ch->literals = secmq__filter_literals(f, len);
    return SECMQ_OK;
}

/* ---- owned channels ---------------------------------------------------------
 */

/* A bounds-checked reader: any overrun sets bad and yields zeros. */
typedef struct rd {
    const unsigned char *p;
    size_t left;
    int bad;
} rd;

static const unsigned char *rd_take(rd *r, size_t n)
{
    static const unsigned char zeros[SECMQ_SIGN_PK_BYTES];
    const unsigned char *p;

    if (r->bad || r->left < n) {
        r->bad = 1;
        return zeros;
    }
    p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint64_t rd_uint(rd *r, size_t n)
{
    const unsigned char *p = rd_take(r, n);
    uint64_t v = 0;

    for (size_t i = 0; i < n && !r->bad; i++) {
        v = (v << 8) | p[i];
    }
    return r->bad ? 0 : v;
}

static unsigned char *wr_uint(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (unsigned char)v;
        v >>= 8;
    }
    return p + n;
}

static unsigned char *wr_bytes(unsigned char *p, const void *b, size_t n)
{
    memcpy(p, b, n);
    return p + n;
}

int secmq__owned_save(const secmq_keyring *kr, const unsigned char *cid,
                      const secmq__owned *o, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    static const unsigned char zero_key[SECMQ_KEY_BYTES];
    unsigned char *buf, *p;
    size_t size;
    int rc;

    if (secmq__chan_path(path, sizeof path, kr->dir, "owned", cid, ".chan") !=
        0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    if (o->nmembers > 65535u) {
        return secmq__kerr_set(e, SECMQ_E_INVAL, "too many members");
    }
    size = 2 + o->filter_len + 1 + 4 + SECMQ_ID_BYTES + SECMQ_KEY_BYTES + 8 +
           1 + SECMQ_ID_BYTES + SECMQ_KEY_BYTES + 8 + 2;
    for (size_t i = 0; i < o->nmembers; i++) {
        size += SECMQ_SIGN_PK_BYTES + 2 + strlen(o->members[i].name);
    }
    /* SECURITY: the payload holds channel keys. */
    buf = sodium_malloc(size);
    if (buf == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    p = wr_uint(buf, o->filter_len, 2);
    p = wr_bytes(p, o->filter, o->filter_len);
    p = wr_uint(p, o->allow_mac ? 1u : 0u, 1);
    p = wr_uint(p, o->epoch, 4);
    p = wr_bytes(p, o->key_id, SECMQ_ID_BYTES);
    p = wr_bytes(p, o->key, SECMQ_KEY_BYTES);
    p = wr_uint(p, o->created_ms, 8);
    p = wr_uint(p, o->has_prev ? 1u : 0u, 1);
    p = wr_bytes(p, o->prev_key_id, SECMQ_ID_BYTES);
    p = wr_bytes(p, o->has_prev ? o->prev_key : zero_key, SECMQ_KEY_BYTES);
    p = wr_uint(p, o->prev_deadline_ms, 8);
    p = wr_uint(p, o->nmembers, 2);
    for (size_t i = 0; i < o->nmembers; i++) {
        size_t nl = strlen(o->members[i].name);
        p = wr_bytes(p, o->members[i].pk, SECMQ_SIGN_PK_BYTES);
        p = wr_uint(p, o->members[i].publisher ? 1u : 0u, 1);
        p = wr_uint(p, nl, 1);
        p = wr_bytes(p, o->members[i].name, nl);
    }
    rc = secmq__kfile_seal_write(path, "owned", kr->sec->local_key, buf,
                                 (size_t)(p - buf), e);
    sodium_free(buf);
    return rc;
}

/* 1 if name is "<16 hex digits of cid><suffix>". */
static int name_is_cid(const char *name, const unsigned char *cid,
                       const char *suffix)
{
    char want[2 * SECMQ__CID_BYTES + 1 + 16];
    char hex[2 * SECMQ__CID_BYTES + 1];
    int n;

    n = snprintf(want, sizeof want, "%s%s",
                 secmq__hex(hex, cid, SECMQ__CID_BYTES), suffix);
    return n > 0 && (size_t)n < sizeof want && strcmp(want, name) == 0;
}

static int load_owned(secmq_keyring *kr, const char *fname, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *pl = NULL;
    size_t len = 0, flen, n;
    secmq__kchan *ch = NULL;
    const unsigned char *f;
    rd r;
    int rc;

    if (secmq__kpath(path, sizeof path, kr->dir, "owned", fname) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = secmq__kfile_seal_read(path, "owned", kr->sec->local_key, OWNED_MAX, 0,
                                &pl, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    r.p = pl;
    r.left = len;
    r.bad = 0;
    flen = (size_t)rd_uint(&r, 2);
    f = rd_take(&r, flen);
    if (r.bad || !secmq__filter_valid((const char *)f, flen)) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto err;
    }
    rc = chan_add(kr, &ch, e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    rc = set_filter(ch, (const char *)f, flen, e);
    if (rc != SECMQ_OK) {
        goto err_chan;
    }
    memcpy(ch->owner_pk, kr->self.pk, SECMQ_SIGN_PK_BYTES);
    secmq__chan_id(ch->cid, ch->owner_pk, ch->filter, flen);
    if (!name_is_cid(fname, ch->cid, ".chan")) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: holds another channel ('%s'); renamed?", path,
                             ch->filter);
        goto err_chan;
    }
    ch->owned = 1;
    ch->allow_mac = (rd_uint(&r, 1) & 1u) != 0;
    ch->epoch = (uint32_t)rd_uint(&r, 4);
    memcpy(ch->key_id, rd_take(&r, SECMQ_ID_BYTES), SECMQ_ID_BYTES);
    memcpy(key_w(kr, ch, 0), rd_take(&r, SECMQ_KEY_BYTES), SECMQ_KEY_BYTES);
    ch->created_ms = rd_uint(&r, 8);
    ch->has_prev = rd_uint(&r, 1) != 0;
    ch->prev_held = ch->has_prev;
    memcpy(ch->prev_key_id, rd_take(&r, SECMQ_ID_BYTES), SECMQ_ID_BYTES);
    memcpy(key_w(kr, ch, 1), rd_take(&r, SECMQ_KEY_BYTES), SECMQ_KEY_BYTES);
    ch->prev_deadline_ms = rd_uint(&r, 8);
    n = (size_t)rd_uint(&r, 2);
    if (r.bad) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto err_chan;
    }
    ch->members = calloc(n ? n : 1, sizeof *ch->members);
    ch->pubs = calloc(n ? n : 1, sizeof *ch->pubs);
    if (ch->members == NULL || ch->pubs == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        goto err_chan;
    }
    for (size_t i = 0; i < n; i++) {
        secmq__kmember *m = &ch->members[i];
        size_t nl;
        const unsigned char *nm;
        memcpy(m->pk, rd_take(&r, SECMQ_SIGN_PK_BYTES), SECMQ_SIGN_PK_BYTES);
        m->publisher = rd_uint(&r, 1) != 0;
        nl = (size_t)rd_uint(&r, 1);
        nm = rd_take(&r, nl);
        if (r.bad || !secmq__name_valid((const char *)nm, nl)) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
            goto err_chan;
        }
        memcpy(m->name, nm, nl);
        m->name[nl] = 0;
        if (same_pk(m->pk, kr->self.pk)) {
            ch->member = 1;
            ch->may_publish = m->publisher;
        }
        if (m->publisher) {
            memcpy(ch->pubs[ch->npubs].pk, m->pk, SECMQ_SIGN_PK_BYTES);
            secmq_identity_id(ch->pubs[ch->npubs].id, m->pk);
            ch->npubs++;
        }
    }
    ch->nmembers = n;
    if (r.left != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto err_chan;
    }
    sodium_free(pl);
    return SECMQ_OK;
err_chan:
    chan_drop_last(kr);
err:
    sodium_free(pl);
    return rc;
}

/* ---- grants ---------------------------------------------------------------
 */

int secmq__grant_check(const secmq_keyring *kr, const char *label,
                       const unsigned char *grant, size_t len,
                       unsigned char **body, secmq_grant_fields *g,
                       secmq__kerr *e)
{
    char h1[2 * SECMQ_ID_BYTES + 1], h2[2 * SECMQ_ID_BYTES + 1];
    unsigned char id[SECMQ_ID_BYTES];
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
    st = secmq_grant_body_parse(b, blen, g);
    if (st == SECMQ_GRANT_BAD_SIGNATURE) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: the owner's signature does not verify "
                             "(tampered grant)",
                             label);
        goto err;
    }
    if (st != SECMQ_GRANT_OK) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: malformed grant body (tampered?)", label);
        goto err;
    }
    if (!same_pk(g->member_pk, kr->self.pk)) {
        secmq_identity_id(id, g->member_pk);
        rc = secmq__kerr_set(
            e, SECMQ_E_KEYRING,
            "%s: grant for someone else (member id %s; this keyring is "
            "'%s', id %s)",
            label, secmq__hex(h1, id, SECMQ_ID_BYTES), kr->self.name,
            secmq__hex(h2, kr->self.id, SECMQ_ID_BYTES));
        goto err;
    }
    /* SECURITY: a valid signature proves nothing unless its key is one we
     * were told to trust. */
    if (!same_pk(g->owner_pk, kr->self.pk) &&
        secmq__peer_by_pk(kr, g->owner_pk) == NULL) {
        secmq_identity_id(id, g->owner_pk);
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: grant from an untrusted owner (id %s): "
                             "import the owner's public identity first",
                             label, secmq__hex(h1, id, SECMQ_ID_BYTES));
        goto err;
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

/* Fill ch from a checked grant. */
static int chan_from_grant(secmq_keyring *kr, secmq__kchan *ch,
                           const secmq_grant_fields *g, secmq__kerr *e)
{
    int rc = set_filter(ch, g->filter, g->filter_len, e);

    if (rc != SECMQ_OK) {
        return rc;
    }
    memcpy(ch->owner_pk, g->owner_pk, SECMQ_SIGN_PK_BYTES);
    secmq__chan_id(ch->cid, g->owner_pk, g->filter, g->filter_len);
    ch->member = 1;
    ch->may_publish = (g->flags & SECMQ_GRANT_MAY_PUBLISH) != 0;
    ch->allow_mac = (g->flags & SECMQ_GRANT_ALLOW_MAC) != 0;
    ch->epoch = g->epoch;
    memcpy(ch->key_id, g->key_id, SECMQ_ID_BYTES);
    memcpy(key_w(kr, ch, 0), g->channel_key, SECMQ_KEY_BYTES);
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
    return SECMQ_OK;
}

/* Read and check the grant file at path. */
static int read_grant(const secmq_keyring *kr, const char *path,
                      unsigned char **body, secmq_grant_fields *g,
                      secmq__kerr *e)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    int rc;

    rc = secmq__kfile_read(path, SECMQ__GRANT_FILE_MAX, 0, &raw, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq__grant_check(kr, path, raw, len, body, g, e);
    secmq__kfile_release(raw, len + 1, 0);
    return rc;
}

/* Load grants/<fname> (a current grant) and its .prev.grant, if any. */
static int load_grant(secmq_keyring *kr, const char *fname, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    secmq_grant_fields g, pg;
    unsigned char *body = NULL, *pbody = NULL;
    unsigned char cid[SECMQ__CID_BYTES];
    secmq__kchan *ch = NULL;
    int rc;

    sodium_memzero(&pg, sizeof pg);
    if (secmq__kpath(path, sizeof path, kr->dir, "grants", fname) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = read_grant(kr, path, &body, &g, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq__chan_id(cid, g.owner_pk, g.filter, g.filter_len);
    if (!name_is_cid(fname, cid, ".grant")) {
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
    rc = chan_add(kr, &ch, e);
    if (rc == SECMQ_OK) {
        rc = chan_from_grant(kr, ch, &g, e);
        if (rc != SECMQ_OK) {
            chan_drop_last(kr);
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
        if (access(path, F_OK) == 0) {
            rc = read_grant(kr, path, &pbody, &pg, e);
            if (rc != SECMQ_OK) {
                goto err;
            }
            /* A previous grant that is not the key the current one names
             * (a crash between the two writes of an import) is ignored. */
            if (same_pk(pg.owner_pk, g.owner_pk) &&
                pg.filter_len == g.filter_len &&
                same_bytes(pg.filter, g.filter, g.filter_len) &&
                same_bytes(pg.key_id, g.prev_key_id, SECMQ_ID_BYTES)) {
                memcpy(key_w(kr, ch, 1), pg.channel_key, SECMQ_KEY_BYTES);
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

    rc = list_dir(kr->dir, "peers", ".pub", NULL, &names, &n, e);
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
    free_names(names, n);
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
        rc = list_dir(kr->dir, "owned", ".chan", NULL, &names, &n, e);
    }
    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        rc = load_owned(kr, names[i], e);
    }
    free_names(names, n);
    names = NULL;
    n = 0;
    if (rc == SECMQ_OK) {
        rc =
            list_dir(kr->dir, "grants", ".grant", ".prev.grant", &names, &n, e);
    }
    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        rc = load_grant(kr, names[i], e);
    }
    free_names(names, n);
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
    secmq__rj_init(&kr->journal);
    kr->mode = SECMQ_SEAL_SIGNED;
    pthread_mutex_init(&kr->tx_lock, NULL);
    pthread_mutex_init(&kr->rx_lock, NULL);
    pthread_mutex_init(&kr->sync_lock, NULL);
    pthread_mutex_init(&kr->err_lock, NULL);
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
    }
    free(kr->chans);
    if (kr->keys != NULL) {
        sodium_free(kr->keys); /* wipes */
    }
    if (kr->sec != NULL) {
        sodium_free(kr->sec); /* wipes */
    }
    free(kr->peers);
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
    }
    free(kr->dir);
    free(kr);
}
