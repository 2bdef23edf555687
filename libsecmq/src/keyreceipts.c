/*
 * keyreceipts.c -- the receipt fields of a keyring's channels (PROTOCOL.md
 * §9.1): chosen at creation (defaults: the subscribers, every receipt
 * needed, topic secmq/receipts/<channel id>), carried through rotations,
 * kept in the owned file and read back from grants. Not the receipt
 * codec (receipt.c) and not the sending or counting of receipts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes_int.h"
#include "keyring_int.h"
#include "secmq_int.h"
#include "topicfilter_int.h"

#define DEFAULT_PREFIX "secmq/receipts/"

void secmq__rcpt_free(secmq__krcpt *r)
{
    if (r == NULL) {
        return;
    }
    free(r->topic);
    free(r->pks);
    free(r->display);
    free(r->names);
    memset(r, 0, sizeof *r);
}

static int set_topic(secmq__krcpt *r, const char *t, size_t len)
{
    r->topic = malloc(len + 1);
    if (r->topic == NULL) {
        return -1;
    }
    memcpy(r->topic, t, len);
    r->topic[len] = 0;
    r->topic_len = len;
    return 0;
}

int secmq__rcpt_from_grant(secmq__krcpt *r, const secmq_grant_receipts *g,
                           secmq__kerr *e)
{
    memset(r, 0, sizeof *r);
    if (g == NULL || g->topic == NULL) {
        return SECMQ_OK;
    }
    r->pks = malloc(g->n_receipters * SECMQ_SIGN_PK_BYTES + 1);
    if (r->pks == NULL || set_topic(r, g->topic, g->topic_len) != 0) {
        secmq__rcpt_free(r);
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    memcpy(r->pks, g->receipters, g->n_receipters * SECMQ_SIGN_PK_BYTES);
    r->n = g->n_receipters;
    r->need = g->need;
    r->on = 1;
    return SECMQ_OK;
}

void secmq__rcpt_view(const secmq__krcpt *r, secmq_grant_receipts *g)
{
    memset(g, 0, sizeof *g);
    if (r == NULL || !r->on) {
        return;
    }
    g->topic = r->topic;
    g->topic_len = r->topic_len;
    g->need = r->need;
    g->receipters = r->pks;
    g->n_receipters = r->n;
}

/* The default receipters (§9.1): the members that do not publish, or every
 * member when all of them do. pks has room for nm keys. */
static size_t default_receipters(unsigned char *pks, const secmq__kmember *m,
                                 size_t nm)
{
    size_t n = 0;

    for (size_t i = 0; i < nm; i++) {
        if (!m[i].publisher) {
            memcpy(pks + SECMQ_SIGN_PK_BYTES * n++, m[i].pk,
                   SECMQ_SIGN_PK_BYTES);
        }
    }
    if (n == 0) {
        for (size_t i = 0; i < nm; i++) {
            memcpy(pks + SECMQ_SIGN_PK_BYTES * n++, m[i].pk,
                   SECMQ_SIGN_PK_BYTES);
        }
    }
    return n;
}

static int pk_in(const unsigned char *pks, size_t n, const unsigned char *pk)
{
    const unsigned char *p;

    for (size_t i = 0; i < n; i++) {
        p = pks + SECMQ_SIGN_PK_BYTES * i;
        if (memcmp(p, pk, SECMQ_SIGN_PK_BYTES) == 0) { /* not secret */
            return 1;
        }
    }
    return 0;
}

int secmq__rcpt_choose(secmq__krcpt *r, const secmq_channel_receipts *spec,
                       const unsigned char *cid, const secmq__kmember *m,
                       size_t nm, secmq__kerr *e)
{
    char def[sizeof DEFAULT_PREFIX + 2 * SECMQ__CID_BYTES];
    const char *topic;
    size_t tlen;

    memset(r, 0, sizeof *r);
    if (spec == NULL) {
        return SECMQ_OK;
    }
    if (spec->n_from > 0 && spec->from == NULL) {
        return secmq__kerr_set(e, SECMQ_E_INVAL, "invalid argument");
    }
    topic = spec->topic;
    if (topic == NULL) {
        memcpy(def, DEFAULT_PREFIX, sizeof DEFAULT_PREFIX - 1);
        secmq__hex(def + sizeof DEFAULT_PREFIX - 1, cid, SECMQ__CID_BYTES);
        topic = def;
    }
    tlen = strlen(topic);
    if (tlen > SECMQ_TOPIC_MAX || !secmq__topic_valid(topic, tlen)) {
        return secmq__kerr_set(e, SECMQ_E_INVAL,
                               "invalid receipt topic '%.64s' (1..4096 bytes, "
                               "no + or #)",
                               topic);
    }
    r->pks = malloc(SECMQ_SIGN_PK_BYTES * (nm ? nm : 1));
    if (r->pks == NULL || set_topic(r, topic, tlen) != 0) {
        secmq__rcpt_free(r);
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    r->on = 1;
    r->listed = spec->n_from > 0;
    if (!r->listed) {
        r->n = default_receipters(r->pks, m, nm);
    }
    for (size_t k = 0; k < spec->n_from; k++) {
        size_t i = 0;
        while (i < nm && strcmp(m[i].name, spec->from[k]) != 0) {
            i++;
        }
        if (i == nm || pk_in(r->pks, r->n, m[i].pk)) {
            secmq__rcpt_free(r);
            return secmq__kerr_set(
                e, SECMQ_E_INVAL, "receipts from '%.64s': %s", spec->from[k],
                i == nm ? "not a member of the channel" : "named twice");
        }
        memcpy(r->pks + SECMQ_SIGN_PK_BYTES * r->n++, m[i].pk,
               SECMQ_SIGN_PK_BYTES);
    }
    if (spec->count > r->n) {
        size_t n = r->n;
        secmq__rcpt_free(r);
        return secmq__kerr_set(e, SECMQ_E_INVAL,
                               "receipt count %u is more than the %zu "
                               "members whose receipts count",
                               spec->count, n);
    }
    r->need = spec->count;
    return SECMQ_OK;
}

int secmq__rcpt_refresh(secmq__krcpt *r, const secmq__krcpt *old,
                        const secmq__kmember *m, size_t nm, secmq__kerr *e)
{
    memset(r, 0, sizeof *r);
    if (old == NULL || !old->on) {
        return SECMQ_OK;
    }
    r->pks = malloc(SECMQ_SIGN_PK_BYTES * (nm ? nm : 1));
    if (r->pks == NULL || set_topic(r, old->topic, old->topic_len) != 0) {
        secmq__rcpt_free(r);
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    r->on = 1;
    r->listed = old->listed;
    if (!r->listed) {
        r->n = default_receipters(r->pks, m, nm);
    } else {
        /* In the owner's order, those that are still members. */
        for (size_t k = 0; k < old->n && r->n < nm; k++) {
            const unsigned char *pk = old->pks + SECMQ_SIGN_PK_BYTES * k;
            for (size_t i = 0; i < nm; i++) {
                if (pk_in(m[i].pk, 1, pk)) {
                    memcpy(r->pks + SECMQ_SIGN_PK_BYTES * r->n++, pk,
                           SECMQ_SIGN_PK_BYTES);
                    break;
                }
            }
        }
        if (r->n == 0 && nm > 0) {
            secmq__rcpt_free(r);
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "no member whose receipts count would be "
                                   "left: revoke the others first");
        }
    }
    r->need = old->need > r->n ? (unsigned)r->n : old->need;
    return SECMQ_OK;
}

size_t secmq__rcpt_owned_size(const secmq__krcpt *r)
{
    if (r == NULL || !r->on) {
        return 0;
    }
    return 1 + 2 + r->topic_len + 2 + 1 + 2 + SECMQ_SIGN_PK_BYTES * r->n;
}

unsigned char *secmq__rcpt_owned_write(unsigned char *p, const secmq__krcpt *r)
{
    if (r == NULL || !r->on) {
        return p;
    }
    *p++ = 1;
    secmq__put_u16(p, (uint32_t)r->topic_len);
    memcpy(p + 2, r->topic, r->topic_len);
    p += 2 + r->topic_len;
    secmq__put_u16(p, r->need);
    p[2] = r->listed ? 1u : 0u;
    secmq__put_u16(p + 3, (uint32_t)r->n);
    memcpy(p + 5, r->pks, SECMQ_SIGN_PK_BYTES * r->n);
    return p + 5 + SECMQ_SIGN_PK_BYTES * r->n;
}

int secmq__rcpt_owned_read(secmq__krcpt *r, const unsigned char *p, size_t len)
{
    size_t tlen, n;

    memset(r, 0, sizeof *r);
    if (len == 0) {
        return 0;
    }
    if (len < 3 || p[0] != 1) {
        return -1;
    }
    tlen = secmq__get_u16(p + 1);
    if (len < 3 + tlen + 5 || tlen > SECMQ_TOPIC_MAX ||
        !secmq__topic_valid((const char *)p + 3, tlen)) {
        return -1;
    }
    n = secmq__get_u16(p + 3 + tlen + 3);
    if (len != 3 + tlen + 5 + SECMQ_SIGN_PK_BYTES * n ||
        secmq__get_u16(p + 3 + tlen) > n || p[3 + tlen + 2] > 1) {
        return -1;
    }
    r->pks = malloc(SECMQ_SIGN_PK_BYTES * n + 1);
    if (r->pks == NULL || set_topic(r, (const char *)p + 3, tlen) != 0) {
        secmq__rcpt_free(r);
        return -1;
    }
    r->need = secmq__get_u16(p + 3 + tlen);
    r->listed = p[3 + tlen + 2];
    r->n = n;
    memcpy(r->pks, p + 3 + tlen + 5, SECMQ_SIGN_PK_BYTES * n);
    r->on = 1;
    return 0;
}

int secmq__rcpt_names_alloc(secmq__krcpt *r, secmq__kerr *e)
{
    if (!r->on) {
        return SECMQ_OK;
    }
    r->display = calloc(r->n ? r->n : 1, sizeof *r->display);
    r->names = calloc(r->n ? r->n : 1, sizeof *r->names);
    if (r->display == NULL || r->names == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n; i++) {
        r->names[i] = r->display[i];
    }
    return SECMQ_OK;
}

int secmq_keyring_channel_receipts(const secmq_keyring *kr, size_t i,
                                   secmq_channel_receipt_info *info)
{
    const secmq__krcpt *r;

    if (kr == NULL || info == NULL || i >= kr->nchans) {
        return SECMQ_E_INVAL;
    }
    r = &kr->chans[i].rcpt;
    memset(info, 0, sizeof *info);
    if (!r->on) {
        return SECMQ_OK;
    }
    info->on = 1;
    info->topic = r->topic;
    info->need = r->need;
    info->n_receipters = r->n;
    info->receipters = r->names;
    return SECMQ_OK;
}
