/*
 * xferleaves_int.h -- the sender's pass over a file: tree leaves and
 * keyed tags of every chunk, by a few threads (xferleaves.c). Not part of
 * the public API.
 */
#ifndef SECMQ_XFERLEAVES_INT_H
#define SECMQ_XFERLEAVES_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include <secmq.h>

#define SECMQ__LEAF_TAG_BYTES crypto_onetimeauth_BYTES        /* 16 */
#define SECMQ__LEAF_TAG_KEY_BYTES crypto_onetimeauth_KEYBYTES /* 32 */
#define SECMQ__LEAF_THREADS_MAX 4u

/* What to compute. All pointers borrowed for the call. */
typedef struct secmq__leaf_job {
    int fd;              /* the file, read with pread (offset not moved) */
    uint64_t size;       /* bytes to cover: chunks of chunk_size, last short */
    uint32_t chunk_size; /* > 0 */
    const unsigned char *ktree; /* the tree key (SECMQ_KEY_BYTES) */
    /* Key of the tags (SECMQ__LEAF_TAG_KEY_BYTES): random, kept by the
     * sender for this run only. The tags never leave the process, so
     * Poly1305 serves as a keyed universal hash here: a chunk that
     * differs from the one tagged matches its tag with probability at
     * most 8 * ceil(len / 16) / 2^106 (2^-91 for 64 KiB, 2^-83 for the
     * largest chunk), whoever changed it, as long as the key stays in
     * the process. */
    const unsigned char *ktag;
    unsigned char *leaves; /* out: chunk_count * SECMQ_FILE_NODE_BYTES */
    unsigned char *tags;   /* out: chunk_count * SECMQ__LEAF_TAG_BYTES */
} secmq__leaf_job;

/*
 * The leaf (secmq_file_tree_leaf) and the tag (crypto_onetimeauth with
 * job->ktag) of every chunk of the file, using up to threads threads
 * (1..SECMQ__LEAF_THREADS_MAX; fewer for small files and large chunks:
 * at least 32 chunks and all read buffers within 4 MiB; where a thread
 * cannot start its share runs in the caller). Thread-safe for distinct
 * outputs. Returns 0; -1 on a read error (errno value in *err); -2 if the
 * file is shorter than size; -3 out of memory (or chunk_size 0).
 */
int secmq__xfer_leaves(const secmq__leaf_job *job, unsigned threads, int *err);

/* Threads worth using for secmq__xfer_leaves: the online CPUs, at most
 * SECMQ__LEAF_THREADS_MAX. */
unsigned secmq__xfer_leaf_threads(void);

#endif /* SECMQ_XFERLEAVES_INT_H */
