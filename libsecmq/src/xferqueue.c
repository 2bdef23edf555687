/*
 * xferqueue.c -- queueing a file to send: open and check it, hash it
 * (BLAKE2b-256) and make its manifest with a fresh file id and key, or
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
    sodium_free(f); /* wipes the key */
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
             strcmp(f->m.name, name) != 0 ||
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
        randombytes_buf(f->m.file_id, sizeof f->m.file_id);
        randombytes_buf(f->m.key, sizeof f->m.key);
        memcpy(f->m.sender_pk, s->pk, SECMQ_SIGN_PK_BYTES);
        f->m.size = (uint64_t)st.st_size;
        f->m.chunk_size = s->o.chunk_size;
        f->m.chunk_count = secmq__xfer_chunk_count(f->m.size, f->m.chunk_size);
        f->m.mtime_ms = (uint64_t)st.st_mtim.tv_sec * 1000u +
                        (uint64_t)st.st_mtim.tv_nsec / 1000000u;
        snprintf(f->m.name, sizeof f->m.name, "%s", name);
        if (hash_fd(fd, f->m.size, f->m.hash) != 0) {
            rc = secmq__err_set(&s->err, SECMQ_E_IO, "cannot read %s: %s", path,
                                strerror(errno));
            sodium_free(row);
            secmq__xs_free(f);
            return rc;
        }
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
