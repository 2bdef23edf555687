/*
 * bytes_int.h -- big-endian integer put/get for the wire and file formats
 * (envelope, grant, file transfer, stream state). Header-only: static
 * inline, no state. Not for anything that needs bounds checks: callers
 * have checked the length already.
 */
#ifndef SECMQ_BYTES_INT_H
#define SECMQ_BYTES_INT_H

#include <stdint.h>

/* The low 16 bits of v into p[0..1], most significant first. */
static inline void secmq__put_u16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static inline void secmq__put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static inline void secmq__put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static inline uint32_t secmq__get_u16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t secmq__get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline uint64_t secmq__get_u64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

#endif /* SECMQ_BYTES_INT_H */
