/*
 * grantcraft.c -- grant bodies by hand (PROTOCOL.md §5), for tests that
 * need a validly signed body the codec refuses to build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "grantcraft.h"

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (unsigned char)v;
        v >>= 8;
    }
}

size_t tc_grant_craft(unsigned char *b, size_t cap, const secmq_grant_fields *g,
                      const secmq_grant_receipts *r,
                      const unsigned char *owner_sk)
{
    int rcpt = r != NULL && r->topic != NULL;
    size_t n = 145 + g->filter_len + 32 * g->n_publishers, o;
    unsigned char *m;

    if (rcpt) {
        n += 6 + r->topic_len + 32 * r->n_receipters;
    }
    if (cap < n + 64) {
        fprintf(stderr, "tc_grant_craft: %zu bytes do not fit %zu\n", n + 64,
                cap);
        abort();
    }
    memcpy(b, rcpt ? "SECMQGB2" : "SECMQGB1", 8);
    memcpy(b + 8, g->owner_pk, 32);
    memcpy(b + 40, g->member_pk, 32);
    memcpy(b + 72, g->key_id, 8);
    memcpy(b + 80, g->channel_key, 32);
    put_be(b + 112, g->epoch, 4);
    put_be(b + 116, g->created_ms, 8);
    memcpy(b + 124, g->prev_key_id, 8);
    put_be(b + 132, g->grace_ms, 8);
    b[140] = (unsigned char)g->flags;
    put_be(b + 141, g->filter_len, 2);
    memcpy(b + 143, g->filter, g->filter_len);
    o = 143 + g->filter_len;
    put_be(b + o, g->n_publishers, 2);
    if (g->n_publishers > 0) {
        memcpy(b + o + 2, g->publishers, 32 * g->n_publishers);
    }
    o += 2 + 32 * g->n_publishers;
    if (rcpt) {
        put_be(b + o, r->topic_len, 2);
        memcpy(b + o + 2, r->topic, r->topic_len);
        o += 2 + r->topic_len;
        put_be(b + o, r->need, 2);
        put_be(b + o + 2, r->n_receipters, 2);
        if (r->n_receipters > 0) {
            memcpy(b + o + 4, r->receipters, 32 * r->n_receipters);
        }
    }
    m = malloc(14 + n);
    if (m == NULL) {
        abort();
    }
    memcpy(m, "secmq-grant-v1", 14);
    memcpy(m + 14, b, n);
    crypto_sign_detached(b + n, NULL, m, 14 + n, owner_sk);
    free(m);
    return n + 64;
}
