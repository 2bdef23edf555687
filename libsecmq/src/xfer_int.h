/*
 * xfer_int.h -- what the file-transfer files share: codec, topic and
 * event helpers (xfercodec.c), the name rule (xfername.c), the sqlite
 * state of transfers (xferstate.c, the only file that sees sqlite for
 * transfers), and keyring lookups (xferkeys.c).
 * Nothing here is part of the public API (secmq/file.h is).
 */
#ifndef SECMQ_XFER_INT_H
#define SECMQ_XFER_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include <secmq.h>

#include "secmq_int.h"

/* ---- codec helpers (xfercodec.c) ------------------------------------------
 */

/* ceil(size / chunk_size); SECMQ_FILE_CHUNKS_MAX + 1 when above the limit. */
uint32_t secmq__xfer_chunk_count(uint64_t size, uint32_t chunk_size);
/* Plaintext length of chunk index of m; 0 when index is out of range. */
size_t secmq__xfer_chunk_len(const secmq_file_manifest *m, uint32_t index);
/* 1 if topic can be a transfer's TOPIC. */
int secmq__xfer_topic_ok(const char *topic);
/* topic = prefix (plen bytes) + 32 hex digits: the file id into file_id.
 * 0, or -1 when topic has another form. */
int secmq__xfer_parse_id(const char *topic, const char *prefix, size_t plen,
                         unsigned char *file_id);
/* The topics of one transfer TOPIC as one side sees them. */
typedef struct secmq__xtopics {
    char topic[SECMQ_FILE_TOPIC_MAX + 1];
    char mtopic[SECMQ_TOPIC_MAX + 1]; /* the manifest topic */
    char filter[SECMQ_TOPIC_MAX + 1]; /* TOPIC/<sub>/+: what the peer sends */
    char prefix[SECMQ_TOPIC_MAX + 1]; /* TOPIC/<sub>/ */
    size_t prefix_len;
} secmq__xtopics;
/* Fill t for topic (already checked by secmq__xfer_topic_ok); sub is "c"
 * (chunks, for a receiver) or "r" (requests, for a sender). */
void secmq__xfer_topics(secmq__xtopics *t, const char *topic, const char *sub);
/* Bytes of m that n whole chunks cover (the last chunk may be short). */
uint64_t secmq__xfer_bytes(const secmq_file_manifest *m, uint32_t n);
/*
 * Begin an event for the application, for the sender and the receiver
 * alike: *ev zeroed, then kind, reason, rc, and detail (borrowed: dlen
 * bytes of the caller's, formatted from fmt and ap) set.
 */
void secmq__xfer_event(secmq_file_event *ev, char *detail, size_t dlen,
                       int kind, int reason, int rc, const char *fmt,
                       va_list ap) SECMQ_PRINTF(7, 0);

/* ---- the chunk tree (xfertree.c) ---------------------------------------- */

/* The v2 chunk's first bytes (PROTOCOL.md §8.3.2): version, kind, and
 * where the key id starts. */
#define SECMQ__CHUNK2_VERSION 0x02u
#define SECMQ__CHUNK2_KIND 0x43u /* 'C' */
#define SECMQ__CHUNK2_OFF_KEY_ID 2u

/* Start the leaf of chunk index under ktree; feed the plaintext with
 * crypto_generichash_update, finish with crypto_generichash_final into
 * SECMQ_FILE_NODE_BYTES. Streams what secmq_file_tree_leaf does at once. */
void secmq__xfer_leaf_begin(crypto_generichash_state *st,
                            const unsigned char *ktree, uint32_t index);

/* ---- names (xfername.c) ----------------------------------------------------
 */

/* 1 if cp is in Unicode 15.0 general category Cf (PROTOCOL.md §8.6). */
int secmq__unicode_is_cf(uint32_t cp);
/*
 * secmq_file_name_check(), and on refusal a one-line reason in why (whylen
 * bytes, may be NULL), e.g. "it holds the invisible format character
 * U+202E (...)". Returns SECMQ_OK or SECMQ_E_INVAL.
 */
int secmq__file_name_judge(char *out, size_t cap, const char *announced,
                           char *why, size_t whylen);
/*
 * s (NUL-terminated) as it may be shown in a message: control and format
 * characters as "<U+202E>", bytes that are not UTF-8 as "\xE9", the rest
 * as it is, so a name cannot disguise itself in the message that refuses
 * it. Into out (cap bytes, cut at a whole character, NUL-terminated);
 * returns the length written.
 */
size_t secmq__file_name_show(char *out, size_t cap, const char *s);

/* ---- keys (xferkeys.c) ------------------------------------------------------
 */

/* This identity's public key, and a pointer to its secret signing key
 * (read-only guarded memory owned by kr). */
void secmq__xfer_self(const secmq_keyring *kr, unsigned char *pk,
                      const unsigned char **sk);
/*
 * Does pk belong to the sender who sealed the envelope env (already opened
 * by secmq_keyring_open_msg on topic)? The envelope must be signed (a
 * mac-only one proves no sender) and its sender id must be that of pk,
 * and, when kr knows that identity's full key (peer, channel publisher,
 * or this identity), pk must be exactly it. 1 or 0.
 */
int secmq__xfer_sender_is(const secmq_keyring *kr, const char *topic,
                          const void *env, size_t len, const unsigned char *pk);

/*
 * Can this keyring take part in a transfer on topic (PROTOCOL.md §8.1)?
 * The sender: a publisher of the channel covering TOPIC/m, and a member of
 * one covering TOPIC/r/<id> that lists someone else as a publisher. The
 * receiver: a member of one covering TOPIC/m and a publisher of the one
 * covering TOPIC/r/<id>. SECMQ_OK, or SECMQ_E_NO_KEY with why (whylen
 * bytes) naming the identity, the topic and the missing channel.
 */
int secmq__xfer_check_sender(secmq_keyring *kr, const char *topic, char *why,
                             size_t whylen);
int secmq__xfer_check_receiver(secmq_keyring *kr, const char *topic, char *why,
                               size_t whylen);

/* ---- bitmaps ------------------------------------------------------------- */

static inline int secmq__bit_get(const unsigned char *b, uint32_t i)
{
    return (b[i >> 3] >> (i & 7)) & 1;
}

static inline void secmq__bit_set(unsigned char *b, uint32_t i)
{
    b[i >> 3] = (unsigned char)(b[i >> 3] | (1u << (i & 7)));
}

static inline size_t secmq__bit_bytes(uint32_t n)
{
    return ((size_t)n + 7u) / 8u;
}

/* ---- state (xferstate.c) ----------------------------------------------------
 */

typedef struct secmq__xdb secmq__xdb;

enum { SECMQ__XROLE_SEND = 1, SECMQ__XROLE_RECV = 2 };
enum { SECMQ__XST_ACTIVE = 1, SECMQ__XST_DONE = 2, SECMQ__XST_FAILED = 3 };

/* Longest path kept in the state. */
#define SECMQ__XPATH_MAX 4096u

/* One transfer as the state file holds it. manifest is secret (it holds
 * the per-file key): wipe a row after use. */
typedef struct secmq__xrow {
    unsigned char file_id[SECMQ_FILE_ID_BYTES];
    int role;  /* SECMQ__XROLE_* */
    int state; /* SECMQ__XST_* */
    unsigned char manifest[SECMQ_FILE_MANIFEST_MAX];
    size_t manifest_len;           /* 0 once finished (the key is gone) */
    char peer[SECMQ_NAME_MAX + 1]; /* receiver: the sender's name */
    char path[SECMQ__XPATH_MAX];   /* sender: source path; receiver: final
                                      name once done */
    int64_t src_size;     /* sender: size and mtime of the source, so a */
    int64_t src_mtime_ns; /* changed file is not resumed */
    int reason;           /* FAILED: secmq_file_reason */
} secmq__xrow;

/*
 * Open (create, mode 0600) the state file at path, take an exclusive
 * non-blocking flock on it (one process per state file), check it is ours
 * (application id) and set WAL, synchronous=FULL, secure_delete.
 * Returns SECMQ_OK, SECMQ_E_IO (reason in err), SECMQ_E_NOMEM.
 */
int secmq__xdb_open(secmq__xdb **out, const char *path, char *err,
                    size_t errlen);
/* Close. NULL is a no-op. */
void secmq__xdb_close(secmq__xdb *db);
/* The latest sqlite failure as a sentence (valid until the next call). */
const char *secmq__xdb_errmsg(secmq__xdb *db);

/* Insert or replace a row, with its bitmap (bits, blen bytes; may be 0). */
int secmq__xdb_put(secmq__xdb *db, const secmq__xrow *row,
                   const unsigned char *bits, size_t blen);
/* Replace the bitmap of an active transfer. */
int secmq__xdb_set_bits(secmq__xdb *db, const unsigned char *file_id,
                        const unsigned char *bits, size_t blen);
/*
 * End a transfer: state DONE or FAILED, reason, final path (may be NULL);
 * SECURITY: the manifest (the per-file key) and the bitmap are erased
 * (secure_delete overwrites the freed pages).
 */
int secmq__xdb_finish(secmq__xdb *db, const unsigned char *file_id, int state,
                      int reason, const char *path);
/* Remove a row. */
int secmq__xdb_delete(secmq__xdb *db, const unsigned char *file_id);
/*
 * Read a row (and, when bits is not NULL, its bitmap into bits, blen
 * bytes, zero-filled past what is stored). Returns 1 found, 0 not found,
 * SECMQ_E_IO.
 */
int secmq__xdb_get(secmq__xdb *db, const unsigned char *file_id,
                   secmq__xrow *row, unsigned char *bits, size_t blen);
/*
 * The active sender row for this source (path, size, mtime), if any.
 * 1 found, 0 not found, SECMQ_E_IO.
 */
int secmq__xdb_find_source(secmq__xdb *db, const char *path, int64_t size,
                           int64_t mtime_ns, secmq__xrow *row);
/*
 * The file ids of active rows of role: up to max into ids (16 bytes
 * each). Returns the number found (may exceed max), or SECMQ_E_IO.
 */
int secmq__xdb_active(secmq__xdb *db, int role, unsigned char *ids, size_t max);

#endif /* SECMQ_XFER_INT_H */
