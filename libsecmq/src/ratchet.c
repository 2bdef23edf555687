/*
 * ratchet.c -- the epoch ratchet's arithmetic (PROTOCOL.md §3.2): step
 * keys, step key ids and the steps a time makes current or erased.
 */
#include <sodium.h>
#include <string.h>

#include "bytes_int.h"
#include "ratchet_int.h"

#define RATCHET_CTX "secmqrat"
#define RATCHET_SUBKEY 1u
#define STEP_ID_LABEL "secmq-step-v1"

void secmq__ratchet_next(unsigned char *next, const unsigned char *key)
{
    unsigned char tmp[SECMQ_KEY_BYTES];

    crypto_kdf_derive_from_key(tmp, sizeof tmp, RATCHET_SUBKEY, RATCHET_CTX,
                               key);
    memcpy(next, tmp, sizeof tmp);
    sodium_memzero(tmp, sizeof tmp);
}

void secmq__ratchet_advance(unsigned char *key, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        secmq__ratchet_next(key, key);
    }
}

void secmq__ratchet_step_id(unsigned char *out, const unsigned char *key_id,
                            uint32_t s)
{
    unsigned char in[sizeof STEP_ID_LABEL - 1 + SECMQ_ID_BYTES + 4];
    unsigned char h[32];

    memcpy(in, STEP_ID_LABEL, sizeof STEP_ID_LABEL - 1);
    memcpy(in + sizeof STEP_ID_LABEL - 1, key_id, SECMQ_ID_BYTES);
    secmq__put_u32(in + sizeof STEP_ID_LABEL - 1 + SECMQ_ID_BYTES, s);
    crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
    memcpy(out, h, SECMQ_ID_BYTES);
}

uint32_t secmq__ratchet_step_at(uint64_t created_ms, uint32_t period_ms,
                                uint64_t now_ms)
{
    uint64_t s;

    if (period_ms == 0 || now_ms <= created_ms) {
        return 0;
    }
    s = (now_ms - created_ms) / period_ms;
    return s >= UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

uint64_t secmq__ratchet_erase_at(uint64_t created_ms, uint32_t period_ms,
                                 uint32_t grace_ms, uint32_t s)
{
    /* (s + 1) * period < 2^32 * 2^31: no overflow in 64 bits; the sums
     * may overflow for a created_ms near the top, which saturates. */
    uint64_t span = ((uint64_t)s + 1u) * period_ms + grace_ms;

    if (created_ms > UINT64_MAX - span) {
        return UINT64_MAX;
    }
    return created_ms + span;
}

uint32_t secmq__ratchet_lowest(uint64_t created_ms, uint32_t period_ms,
                               uint32_t grace_ms, uint32_t floor,
                               uint64_t now_ms)
{
    uint64_t lo;

    /* Step s is held while now <= created + (s + 1) * period + grace, i.e.
     * s >= (now - created - grace) / period - 1 (rounded up). */
    if (period_ms == 0 || now_ms <= created_ms ||
        now_ms - created_ms <= grace_ms) {
        return floor;
    }
    lo = (now_ms - created_ms - grace_ms + period_ms - 1) / period_ms;
    lo = lo == 0 ? 0 : lo - 1;
    if (lo > UINT32_MAX) {
        lo = UINT32_MAX;
    }
    return (uint32_t)lo > floor ? (uint32_t)lo : floor;
}

int secmq__ratchet_valid(uint32_t period_ms, uint32_t grace_ms)
{
    if (period_ms < SECMQ__PERIOD_MIN_MS || period_ms > SECMQ__PERIOD_MAX_MS) {
        return 0;
    }
    if (grace_ms > SECMQ__PERIOD_MAX_MS) {
        return 0;
    }
    return (uint64_t)grace_ms <= (uint64_t)SECMQ__GRACE_MAX_PERIODS * period_ms;
}
