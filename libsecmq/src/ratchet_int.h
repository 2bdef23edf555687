/*
 * ratchet_int.h -- the epoch ratchet of a channel key (PROTOCOL.md §3.2):
 * the one-way chain of step keys, the key id that names a step in an
 * envelope, and which steps a clock time makes current and still held.
 * Pure functions of their arguments: no keyring, no files, no clock.
 */
#ifndef SECMQ_RATCHET_INT_H
#define SECMQ_RATCHET_INT_H

#include <stdint.h>

#include "secmq_int.h"

/* An epoch is at least this long (ms), at most SECMQ__PERIOD_MAX_MS. */
#define SECMQ__PERIOD_MIN_MS 1000u
#define SECMQ__PERIOD_MAX_MS 2147483647u
/* The grace is at most this many epochs (bounds the steps held). */
#define SECMQ__GRACE_MAX_PERIODS 1024u
/* Key ids of this many steps below the lowest held are recognised as
 * erased (key_expired) rather than unknown. */
#define SECMQ__EXPIRED_LOOKBACK 64u

/*
 * next = the chain key of the step after key's (KDF, context "secmqrat",
 * subkey 1). next may be key (advanced in place); 32 bytes each.
 */
void secmq__ratchet_next(unsigned char *next, const unsigned char *key);

/*
 * Advance key (32 bytes, in place) by n steps; intermediate keys are wiped.
 */
void secmq__ratchet_advance(unsigned char *key, uint32_t n);

/*
 * out (SECMQ_ID_BYTES) = the key id of step s of the chain whose first key
 * has key id key_id: BLAKE2b-32("secmq-step-v1" || key_id || u32(s)), first
 * 8 bytes.
 */
void secmq__ratchet_step_id(unsigned char *out, const unsigned char *key_id,
                            uint32_t s);

/*
 * The step that time now_ms falls in, for a chain started at created_ms
 * with epochs of period_ms (> 0): floor((now - created) / period), 0 before
 * created_ms, UINT32_MAX past the last representable step.
 */
uint32_t secmq__ratchet_step_at(uint64_t created_ms, uint32_t period_ms,
                                uint64_t now_ms);

/*
 * The lowest step still held at now_ms: step s is erased once now_ms >
 * created_ms + (s + 1) * period_ms + grace_ms; never below floor (the step
 * of the key the holder was given).
 */
uint32_t secmq__ratchet_lowest(uint64_t created_ms, uint32_t period_ms,
                               uint32_t grace_ms, uint32_t floor,
                               uint64_t now_ms);

/*
 * When step s is erased (ms): created_ms + (s + 1) * period_ms + grace_ms,
 * UINT64_MAX where that does not fit.
 */
uint64_t secmq__ratchet_erase_at(uint64_t created_ms, uint32_t period_ms,
                                 uint32_t grace_ms, uint32_t s);

/*
 * Whether period_ms and grace_ms are allowed (§3.2): period 1000 ..
 * 2^31-1, grace at most 1024 periods and 2^31-1. 1 allowed, 0 not.
 */
int secmq__ratchet_valid(uint32_t period_ms, uint32_t grace_ms);

#endif
