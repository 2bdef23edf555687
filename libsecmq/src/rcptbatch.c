/*
 * rcptbatch.c -- a receiver's batch of receipt ranges for one channel
 * (PROTOCOL.md §9.2): messages folded into (key id, sender id, first,
 * count) ranges until a receipt is due. Pure; the client decides when to
 * seal and send (keyrcpt.c seals).
 */
#include <string.h>

#include "rcptbatch_int.h"

void secmq__rb_init(secmq__rb *b)
{
    memset(b, 0, sizeof *b);
}

static int same_stream(const secmq_receipt_range *r, const unsigned char *k,
                       const unsigned char *s)
{
    int kd = memcmp(r->key_id, k, SECMQ_ID_BYTES);    /* not secret: ids */
    int sd = memcmp(r->sender_id, s, SECMQ_ID_BYTES); /* not secret: ids */

    return kd == 0 && sd == 0;
}

int secmq__rb_add(secmq__rb *b, const unsigned char *key_id,
                  const unsigned char *sender_id, uint64_t seq, uint64_t now_ms)
{
    secmq_receipt_range *r;

    /* Held already (a copy) in any range: nothing changes. Checked over
     * all ranges first, so an extension never overlaps another range. */
    for (size_t i = 0; i < b->n; i++) {
        r = &b->r[i];
        if (same_stream(r, key_id, sender_id) && seq >= r->first &&
            seq - r->first < r->count) {
            return 1;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        r = &b->r[i];
        if (!same_stream(r, key_id, sender_id)) {
            continue;
        }
        if (r->count < UINT32_MAX && seq > r->first &&
            seq - r->first == r->count) {
            r->count++; /* the next one: the usual case */
            goto added;
        }
        if (r->count < UINT32_MAX && r->first > 0 && seq == r->first - 1) {
            r->first = seq;
            r->count++;
            goto added;
        }
    }
    if (b->n == SECMQ_RECEIPT_MAX_RANGES) {
        return 0;
    }
    r = &b->r[b->n++];
    memcpy(r->key_id, key_id, SECMQ_ID_BYTES);
    memcpy(r->sender_id, sender_id, SECMQ_ID_BYTES);
    r->first = seq;
    r->count = 1;
added:
    if (b->msgs == 0) {
        b->first_ms = now_ms;
    }
    b->msgs++;
    return 1;
}

int secmq__rb_due(const secmq__rb *b, uint64_t now_ms, size_t max_msgs,
                  uint64_t max_delay_ms)
{
    if (b->n == 0) {
        return 0;
    }
    return b->msgs >= max_msgs || b->n == SECMQ_RECEIPT_MAX_RANGES ||
           (now_ms >= b->first_ms && now_ms - b->first_ms >= max_delay_ms);
}

size_t secmq__rb_take(secmq__rb *b, secmq_receipt_range *out)
{
    size_t n = b->n;

    memcpy(out, b->r, n * sizeof *out);
    secmq__rb_init(b);
    return n;
}
