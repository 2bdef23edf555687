/*
 * rcptbatch_int.h -- a receiver's batch of receipt ranges for one channel
 * (PROTOCOL.md §9.2): opened messages (key id, sender id, seq) folded into
 * ranges, due after a number of messages or a delay. Pure: no clock of its
 * own, no I/O, no allocation. Not the sealing (keyrcpt.c) nor the sending.
 */
#ifndef SECMQ_RCPTBATCH_INT_H
#define SECMQ_RCPTBATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "secmq_int.h"

/* Defaults for when a batch is due (secmq/receipt.h); provisional until
 * measured. */
#define SECMQ__RB_MAX_MSGS SECMQ_RECEIPT_DEFAULT_MSGS
#define SECMQ__RB_MAX_DELAY_MS SECMQ_RECEIPT_DEFAULT_DELAY_MS

typedef struct secmq__rb {
    secmq_receipt_range r[SECMQ_RECEIPT_MAX_RANGES];
    size_t n;          /* ranges held */
    size_t msgs;       /* messages added since the last take */
    uint64_t first_ms; /* when the oldest of them was added */
} secmq__rb;

/* An empty batch. */
void secmq__rb_init(secmq__rb *b);

/*
 * secmq__rb_add -- fold (key_id, sender_id, seq), opened at now_ms, into b:
 * it extends a range of the same key and sender that it touches, or is
 * already in one (then nothing changes), or starts a new range. Returns
 * 1 when added (or already held), 0 when b holds SECMQ_RECEIPT_MAX_RANGES
 * ranges and seq fits none: take the batch first, then add again.
 */
int secmq__rb_add(secmq__rb *b, const unsigned char *key_id,
                  const unsigned char *sender_id, uint64_t seq,
                  uint64_t now_ms);

/* 1 when b holds something and max_msgs messages were added, all ranges
 * are used, or the oldest waited max_delay_ms; else 0. */
int secmq__rb_due(const secmq__rb *b, uint64_t now_ms, size_t max_msgs,
                  uint64_t max_delay_ms);

/* Copy b's ranges to out (SECMQ_RECEIPT_MAX_RANGES entries), empty b;
 * returns the number of ranges. */
size_t secmq__rb_take(secmq__rb *b, secmq_receipt_range *out);

#endif /* SECMQ_RCPTBATCH_INT_H */
