/*
 * seqstate_int.h -- the keyring's persisted stream state: the sender's
 * reserved sequence blocks (state/seq) and the receiver's replay tops
 * (state/replay), PROTOCOL.md §4. Both are tables of (key id, sender id,
 * value) in a sealed local file. Not for the replay window arithmetic
 * (replay.c) or for when to persist (keyring.c).
 */
#ifndef SECMQ_SEQSTATE_INT_H
#define SECMQ_SEQSTATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kfile_int.h"

/* One stream: (key id, sender id) and its value (reserved end, or top). */
typedef struct secmq__stream_ent {
    unsigned char key_id[SECMQ_ID_BYTES];
    unsigned char sender_id[SECMQ_ID_BYTES];
    uint64_t value;
} secmq__stream_ent;

/* The most streams a state file may hold. */
#define SECMQ__STREAMS_MAX 1000000u

/*
 * Load the table kind ("seq" or "replay") from DIR/state/<kind>, sealed
 * with key. A missing file is an empty table. *ents is malloc'd (free it).
 * Returns SECMQ_OK, SECMQ_E_KEYRING (malformed or tampered, the reason
 * names the file), SECMQ_E_IO, SECMQ_E_NOMEM.
 */
int secmq__streams_load(const char *dir, const char *kind,
                        const unsigned char *key, secmq__stream_ent **ents,
                        size_t *n, secmq__kerr *e);

/* Replace DIR/state/<kind> atomically with n entries. SECMQ_OK, _E_IO,
 * _E_NOMEM. */
int secmq__streams_save(const char *dir, const char *kind,
                        const unsigned char *key, const secmq__stream_ent *ents,
                        size_t n, secmq__kerr *e);

/*
 * Where a sender's stream starts (PROTOCOL.md §4): max(reserved, now_us).
 */
uint64_t secmq__seq_start(uint64_t reserved, uint64_t now_us);

#endif /* SECMQ_SEQSTATE_INT_H */
