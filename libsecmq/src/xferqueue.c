/*
 * xferqueue.c -- queueing a file to send: open and check it, hash it
 * (protocol 1: BLAKE2b-256) or build its chunk tree (protocol 2), and
 * make its manifest with a fresh file id and key, or
 * resume the unfinished transfer the state file holds for the same path,
 * size and modification time. Publishing is xfersend.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "xfersend_int.h"

/* ---- files ------------------------------------------------------------------
 */

void secmq__xs_free(sfile *f)
{
    if (f == NULL) {
        return;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    free(f->acked);
    free(f->want);
    free(f->nodes);
    free(f->tags);
    sodium_free(f); /* wipes the keys */
}

/* Hash the whole file through fd (BLAKE2b-256), reading 64 KiB at a time. */
static int hash_fd(int fd, uint64_t size, unsigned char *out)
{
    crypto_generichash_state st;
    unsigned char buf[65536];
    uint64_t off = 0;

    crypto_generichash_init(&st, NULL, 0, SECMQ_FILE_HASH_BYTES);
    while (off < size) {
        size_t want =
            size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -1 : -2;
        }
        crypto_generichash_update(&st, buf, (unsigned long long)n);
        off += (uint64_t)n;
    }
    crypto_generichash_final(&st, out, SECMQ_FILE_HASH_BYTES);
    return 0;
}

/*
 * Protocol 2: the leaves and tags of every chunk of f->m (key f->m.key)
 * through fd, by a few threads in large sequential reads
 * (xferleaves.c), and the tree above them into f->nodes; the root into
 * root. 0, -1 (read error, errno), -2 (the file is shorter), -3 (no
 * memory).
 */
static int tree_fd(sfile *f, int fd, unsigned char *root)
{
    const secmq_file_manifest *m = &f->m;
    secmq__leaf_job job;
    int rc, err = 0;

    free(f->nodes);
    free(f->tags);
    f->nodes = malloc(
        secmq_file_tree_nodes(m->chunk_count) * SECMQ_FILE_NODE_BYTES + 1);
    f->tags = malloc((size_t)m->chunk_count * SECMQ__LEAF_TAG_BYTES + 1);
    if (f->nodes == NULL || f->tags == NULL) {
        return -3;
    }
    secmq_file_tree_key(f->ktree, m->key);
    randombytes_buf(f->ktag, sizeof f->ktag);
    job = (secmq__leaf_job){.fd = fd,
                            .size = m->size,
                            .chunk_size = m->chunk_size,
                            .ktree = f->ktree,
                            .ktag = f->ktag,
                            .leaves = f->nodes,
                            .tags = f->tags};
    rc = secmq__xfer_leaves(&job, secmq__xfer_leaf_threads(), &err);
    if (rc == -1) {
        errno = err;
    }
    if (rc == 0 && secmq_file_tree_build(f->nodes, f->ktree, m->chunk_count,
                                         root) != SECMQ_OK) {
        rc = -3;
    }
    return rc;
}

/* Protocol 1: hash_fd; protocol 2: tree_fd. */
static int digest_fd(sfile *f, int fd, unsigned char *out)
{
    if (f->m.version == SECMQ_FILE_PROTOCOL_2) {
        return tree_fd(f, fd, out);
    }
    return hash_fd(fd, f->m.size, out);
}

/* A new transfer of the file (st) as name: fresh id and key. */
static void fresh_manifest(secmq_file_sender *s, sfile *f,
                           const struct stat *st, const char *name)
{
    sodium_memzero(&f->m, sizeof f->m);
    randombytes_buf(f->m.file_id, sizeof f->m.file_id);
    randombytes_buf(f->m.key, sizeof f->m.key);
    memcpy(f->m.sender_pk, s->pk, SECMQ_SIGN_PK_BYTES);
    f->m.size = (uint64_t)st->st_size;
    f->m.chunk_size = s->o.chunk_size;
    f->m.chunk_count = secmq__xfer_chunk_count(f->m.size, f->m.chunk_size);
    f->m.mtime_ms = (uint64_t)st->st_mtim.tv_sec * 1000u +
                    (uint64_t)st->st_mtim.tv_nsec / 1000000u;
    snprintf(f->m.name, sizeof f->m.name, "%s", name);
    f->m.version = s->o.protocol;
}

static int save_row(secmq_file_sender *s, sfile *f)
{
    secmq__xrow *row;
    int rc;

    if (s->db == NULL) {
        return SECMQ_OK;
    }
    row = sodium_malloc(sizeof *row);
    if (row == NULL) {
        return SECMQ_E_NOMEM;
    }
    memset(row, 0, sizeof *row);
    memcpy(row->file_id, f->m.file_id, SECMQ_FILE_ID_BYTES);
    row->role = SECMQ__XROLE_SEND;
    row->state = SECMQ__XST_ACTIVE;
    rc = secmq_file_manifest_encode(row->manifest, sizeof row->manifest,
                                    &row->manifest_len, &f->m);
    snprintf(row->path, sizeof row->path, "%s", f->path);
    row->src_size = f->src_size;
    row->src_mtime_ns = f->src_mtime_ns;
    if (rc == SECMQ_OK) {
        rc = secmq__xdb_put(s->db, row, f->acked,
                            secmq__bit_bytes(f->m.chunk_count));
    }
    sodium_free(row);
    return rc;
}

/* A new sfile for path; resumed from the state file when it has one. */
int secmq__xs_make(secmq_file_sender *s, const char *path, const char *name,
                   sfile **out)
{
    char real[PATH_MAX];
    secmq__xrow *row = NULL;
    struct stat st;
    sfile *f;
    int fd, rc, found = 0;
    size_t blen;

    *out = NULL;
    if (realpath(path, real) == NULL) {
        return secmq__err_set(&s->err, SECMQ_E_IO, "%s: %s", path,
                              strerror(errno));
    }
    fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = secmq__err_set(&s->err, SECMQ_E_IO, "%s: %s", path,
                            strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    if (!S_ISREG(st.st_mode) ||
        secmq__xfer_chunk_count((uint64_t)st.st_size, s->o.chunk_size) >
            SECMQ_FILE_CHUNKS_MAX) {
        close(fd);
        return secmq__err_set(&s->err, SECMQ_E_INVAL, "%s: %s", path,
                              S_ISREG(st.st_mode)
                                  ? "too large for this chunk size"
                                  : "not a regular file");
    }
    f = sodium_malloc(sizeof *f);
    if (f == NULL) {
        close(fd);
        return SECMQ_E_NOMEM;
    }
    memset(f, 0, sizeof *f);
    f->fd = fd;
    snprintf(f->path, sizeof f->path, "%s", real);
    f->src_size = (int64_t)st.st_size;
    f->src_mtime_ns =
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (s->db != NULL) {
        row = sodium_malloc(sizeof *row);
        if (row == NULL) {
            secmq__xs_free(f);
            return SECMQ_E_NOMEM;
        }
        found = secmq__xdb_find_source(s->db, f->path, f->src_size,
                                       f->src_mtime_ns, row);
        if (found == 1 &&
            (secmq_file_manifest_decode(&f->m, row->manifest,
                                        row->manifest_len) != SECMQ_OK ||
             strcmp(f->m.name, name) != 0 || f->m.version != s->o.protocol ||
             sodium_memcmp(f->m.sender_pk, s->pk, SECMQ_SIGN_PK_BYTES) != 0)) {
            found = 0; /* another name or identity: a new transfer */
        }
        if (found < 0) {
            rc = secmq__err_set(&s->err, SECMQ_E_IO, "state file: %s",
                                secmq__xdb_errmsg(s->db));
            sodium_free(row);
            secmq__xs_free(f);
            return rc;
        }
    }
    if (found != 1) {
        fresh_manifest(s, f, &st, name);
        rc = digest_fd(f, fd, f->m.hash);
    } else if (f->m.version == SECMQ_FILE_PROTOCOL_2) {
        /* Resumed: rebuild the tree; a file whose content changed (with
         * size and mtime kept) gets a new transfer. */
        unsigned char root[SECMQ_FILE_NODE_BYTES];
        rc = digest_fd(f, fd, root);
        if (rc == 0 && sodium_memcmp(root, f->m.hash, sizeof root) != 0) {
            (void)secmq__xdb_delete(s->db, f->m.file_id);
            fresh_manifest(s, f, &st, name);
            found = 0;
            rc = digest_fd(f, fd, f->m.hash);
        }
    } else {
        rc = 0;
    }
    if (rc != 0) {
        rc = secmq__err_set(&s->err, rc == -3 ? SECMQ_E_NOMEM : SECMQ_E_IO,
                            "cannot read %s: %s", path,
                            rc == -2   ? "the file shrank"
                            : rc == -3 ? "out of memory"
                                       : strerror(errno));
        sodium_free(row);
        secmq__xs_free(f);
        return rc;
    }
    blen = secmq__bit_bytes(f->m.chunk_count);
    f->acked = calloc(1, blen + 1);
    f->want = calloc(1, blen + 1);
    if (f->acked == NULL || f->want == NULL) {
        sodium_free(row);
        secmq__xs_free(f);
        return SECMQ_E_NOMEM;
    }
    if (found == 1) {
        rc = secmq__xdb_get(s->db, f->m.file_id, row, f->acked, blen);
        if (rc < 0) {
            rc = secmq__err_set(&s->err, SECMQ_E_IO, "state file: %s",
                                secmq__xdb_errmsg(s->db));
            sodium_free(row);
            secmq__xs_free(f);
            return rc;
        }
    }
    sodium_free(row);
    for (uint32_t i = 0; i < f->m.chunk_count; i++) {
        if (secmq__bit_get(f->acked, i)) {
            f->acked_n++;
        } else {
            secmq__bit_set(f->want, i);
        }
    }
    rc = secmq_file_chunk_topic(f->ctopic, sizeof f->ctopic, s->t.topic,
                                f->m.file_id);
    if (rc == SECMQ_OK && found != 1) {
        rc = save_row(s, f);
        if (rc != SECMQ_OK) {
            rc = secmq__err_set(&s->err, rc, "state file: %s",
                                secmq__xdb_errmsg(s->db));
        }
    }
    if (rc != SECMQ_OK) {
        secmq__xs_free(f);
        return rc;
    }
    /* Until the file's turn comes, no descriptor is held. */
    close(f->fd);
    f->fd = -1;
    *out = f;
    return SECMQ_OK;
}
