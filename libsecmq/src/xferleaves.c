/*
 * xferleaves.c -- the sender's one pass over a file before it announces it
 * (protocol 2): every chunk's tree leaf (PROTOCOL.md §8.3.1) and a keyed
 * Poly1305 tag of its plaintext, computed by a few threads at once over
 * large sequential reads. The tags let the sender check cheaply that a
 * chunk it reads again to send is still the one the tree holds. Not the
 * tree above the leaves (xfertree.c), nor queueing a file (xferqueue.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "xferleaves_int.h"

#define LEAF_READ (1u << 20) /* bytes per read, at least one chunk */
#define LEAF_MIN_PER_THREAD 32u
/* Buffers of all threads together: more threads only while each one's
 * buffer (whole chunks, at least one) fits. Large chunks: one thread,
 * one chunk's buffer, as the sender holds for sending anyway. */
#define LEAF_MEM_MAX (4u << 20)

/* One thread's share: chunks [first, end). */
struct share {
    const secmq__leaf_job *job;
    uint32_t first, end;
    int rc;  /* 0, -1 (errno in err), -2 (short file), -3 (no memory) */
    int err; /* errno of a failed read */
    pthread_t tid;
    int started;
};

static size_t chunk_len(const secmq__leaf_job *j, uint32_t i)
{
    uint64_t off = (uint64_t)i * j->chunk_size;
    uint64_t left = j->size - off;

    return left < j->chunk_size ? (size_t)left : (size_t)j->chunk_size;
}

/* Read exactly len bytes at off. 0, -1 (errno in *err), -2 (EOF). */
static int read_at(int fd, unsigned char *buf, size_t len, uint64_t off,
                   int *err)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            *err = n < 0 ? errno : 0;
            return n < 0 ? -1 : -2;
        }
        got += (size_t)n;
    }
    return 0;
}

/* Whole chunks per read: as many as fit in LEAF_READ, at least one. */
static uint32_t read_chunks(const secmq__leaf_job *j)
{
    return j->chunk_size >= LEAF_READ ? 1u : LEAF_READ / j->chunk_size;
}

/* The buffer one thread reads into. */
static size_t read_bytes(const secmq__leaf_job *j)
{
    return (size_t)read_chunks(j) * j->chunk_size;
}

static void *run_share(void *arg)
{
    struct share *s = arg;
    const secmq__leaf_job *j = s->job;
    uint32_t per = read_chunks(j);
    size_t cap = read_bytes(j);
    unsigned char *buf = malloc(cap);

    if (buf == NULL) {
        s->rc = -3;
        return NULL;
    }
    for (uint32_t i = s->first; i < s->end && s->rc == 0;) {
        uint32_t n = s->end - i < per ? s->end - i : per;
        size_t len = (size_t)(n - 1) * j->chunk_size + chunk_len(j, i + n - 1);
        s->rc = read_at(j->fd, buf, len, (uint64_t)i * j->chunk_size, &s->err);
        for (uint32_t k = 0; k < n && s->rc == 0; k++, i++) {
            const unsigned char *p = buf + (size_t)k * j->chunk_size;
            size_t clen = chunk_len(j, i);
            secmq_file_tree_leaf(j->leaves + (size_t)i * SECMQ_FILE_NODE_BYTES,
                                 j->ktree, i, p, clen);
            crypto_onetimeauth(j->tags + (size_t)i * SECMQ__LEAF_TAG_BYTES, p,
                               clen, j->ktag);
        }
    }
    sodium_memzero(buf, cap); /* SECURITY: plaintext of the file */
    free(buf);
    return NULL;
}

/* run_share on a thread of its own, named for top -H and ps -L. */
static void *share_thread(void *arg)
{
    (void)pthread_setname_np(pthread_self(), "secmq-hash");
    return run_share(arg);
}

int secmq__xfer_leaves(const secmq__leaf_job *job, unsigned threads, int *err)
{
    struct share sh[SECMQ__LEAF_THREADS_MAX];
    uint32_t count, per;
    int rc = 0;

    *err = 0;
    if (job->chunk_size == 0) {
        return -3;
    }
    count = (uint32_t)((job->size + job->chunk_size - 1) / job->chunk_size);
    if (threads < 1) {
        threads = 1;
    }
    if (threads > SECMQ__LEAF_THREADS_MAX) {
        threads = SECMQ__LEAF_THREADS_MAX;
    }
    /* A thread is only worth its start for a few dozen chunks. */
    while (threads > 1 &&
           (count / threads < LEAF_MIN_PER_THREAD ||
            (uint64_t)threads * read_bytes(job) > LEAF_MEM_MAX)) {
        threads--;
    }
    per = count / threads;
    memset(sh, 0, sizeof sh);
    for (unsigned t = 0; t < threads; t++) {
        sh[t].job = job;
        sh[t].first = t * per;
        sh[t].end = t + 1 == threads ? count : (t + 1) * per;
    }
    /* Share 0 runs here; the others on threads, or here when a thread
     * cannot be started. */
    for (unsigned t = 1; t < threads; t++) {
        sh[t].started =
            pthread_create(&sh[t].tid, NULL, share_thread, &sh[t]) == 0;
    }
    run_share(&sh[0]);
    for (unsigned t = 1; t < threads; t++) {
        if (sh[t].started) {
            (void)pthread_join(sh[t].tid, NULL);
        } else {
            run_share(&sh[t]);
        }
    }
    for (unsigned t = 0; t < threads && rc == 0; t++) {
        rc = sh[t].rc;
        *err = sh[t].err;
    }
    return rc;
}

unsigned secmq__xfer_leaf_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1) {
        return 1;
    }
    return n > (long)SECMQ__LEAF_THREADS_MAX ? SECMQ__LEAF_THREADS_MAX
                                             : (unsigned)n;
}
