/*
 * keyowned.c -- the owner's channel file DIR/owned/<cid>.chan (PROTOCOL.md
 * §5.3): write it sealed with the keyring's local key, and read it back
 * into a channel of the keyring being loaded. Not for grants (keystore.c
 * loads those) or for deciding what a channel becomes (keychannel.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes_int.h"
#include "keyring_int.h"
#include "ratchet_int.h"
#include "topicfilter_int.h"

/* Largest owned-channel payload: filter, keys, 65535 members. */
/* The ratchet block (§5.3): u8 2, period, grace, lo. */
#define OWNED_RATCHET_TAG 2u
#define OWNED_RATCHET_BYTES 13u
#define OWNED_MAX (70000u + 65535u * (SECMQ_SIGN_PK_BYTES + 2u + 64u))

static int same_pk(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_SIGN_PK_BYTES) == 0; /* not secret */
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

/* The ratchet block of an owned file (after its tag): the channel's key
 * is then the key of step lo (§5.3). */
static int ratchet_read(secmq__kchan *ch, const unsigned char *key,
                        const unsigned char *p, const char *path,
                        secmq__kerr *e)
{
    uint32_t period = secmq__get_u32(p), grace = secmq__get_u32(p + 4);

    if (!secmq__ratchet_valid(period, grace) || ch->has_prev) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
    }
    return secmq__chain_new(ch, key, secmq__get_u32(p + 8),
                            secmq__get_u32(p + 8), period, grace, NULL, 0, e);
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
    size += secmq__rcpt_owned_size(o->rcpt);
    size += o->period_ms != 0 ? OWNED_RATCHET_BYTES : 0u;
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
    p = secmq__rcpt_owned_write(p, o->rcpt);
    if (o->period_ms != 0) {
        /* §5.3: the ratchet block; o->key is the key of step lo. */
        p = wr_uint(p, OWNED_RATCHET_TAG, 1);
        p = wr_uint(p, o->period_ms, 4);
        p = wr_uint(p, o->ratchet_grace_ms, 4);
        p = wr_uint(p, o->lo, 4);
    }
    rc = secmq__kfile_seal_write(path, "owned", kr->sec->local_key, buf,
                                 (size_t)(p - buf), e);
    sodium_free(buf);
    return rc;
}

int secmq__owned_load(secmq_keyring *kr, const char *fname, secmq__kerr *e)
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
    rc = secmq__chan_add(kr, &ch, e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    rc = secmq__chan_set_filter(ch, (const char *)f, flen, e);
    if (rc != SECMQ_OK) {
        goto err_chan;
    }
    memcpy(ch->owner_pk, kr->self.pk, SECMQ_SIGN_PK_BYTES);
    secmq__chan_id(ch->cid, ch->owner_pk, ch->filter, flen);
    if (!secmq__name_is_cid(fname, ch->cid, ".chan")) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: holds another channel ('%s'); renamed?", path,
                             ch->filter);
        goto err_chan;
    }
    ch->owned = 1;
    ch->allow_mac = (rd_uint(&r, 1) & 1u) != 0;
    ch->epoch = (uint32_t)rd_uint(&r, 4);
    memcpy(ch->key_id, rd_take(&r, SECMQ_ID_BYTES), SECMQ_ID_BYTES);
    memcpy(secmq__chan_key_w(kr, ch, 0), rd_take(&r, SECMQ_KEY_BYTES),
           SECMQ_KEY_BYTES);
    ch->created_ms = rd_uint(&r, 8);
    ch->has_prev = rd_uint(&r, 1) != 0;
    ch->prev_held = ch->has_prev;
    memcpy(ch->prev_key_id, rd_take(&r, SECMQ_ID_BYTES), SECMQ_ID_BYTES);
    memcpy(secmq__chan_key_w(kr, ch, 1), rd_take(&r, SECMQ_KEY_BYTES),
           SECMQ_KEY_BYTES);
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
    if (!r.bad && r.left == OWNED_RATCHET_BYTES && *r.p == OWNED_RATCHET_TAG) {
        rc = ratchet_read(ch, secmq__chan_key_w(kr, ch, 0), r.p + 1, path, e);
        if (rc != SECMQ_OK) {
            goto err_chan;
        }
    } else if (r.bad || secmq__rcpt_owned_read(&ch->rcpt, r.p, r.left) != 0) {
        /* The receipt section (§5.3) is the rest, empty without receipts. */
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto err_chan;
    }
    sodium_free(pl);
    return SECMQ_OK;
err_chan:
    secmq__chan_drop_last(kr);
err:
    sodium_free(pl);
    return rc;
}
