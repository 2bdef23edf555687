/*
 * xferwrite.c -- what a receiver does with a file it accepted: writes
 * verified chunks at their offsets into the partial file inside its
 * directory, keeps the bitmap of held chunks in the state file (after
 * fdatasync of the data), asks for what is missing, verifies the whole
 * file (protocol 1; in protocol 2 every chunk was verified against the
 * tree root) and renames it into place, or removes it on a write error.
 * Judging
 * manifests and the API are xferrecv.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "kfile_int.h"
#include "xferrecv_int.h"

/* ---- events -----------------------------------------------------------------
 */

void secmq__xr_emit(secmq_file_receiver *r, int kind, const rfile *f,
                    const secmq_file_manifest *m, const char *sender,
                    const char *path, int reason, int rc, const char *fmt, ...)
    SECMQ_PRINTF(9, 10);

void secmq__xr_emit(secmq_file_receiver *r, int kind, const rfile *f,
                    const secmq_file_manifest *m, const char *sender,
                    const char *path, int reason, int rc, const char *fmt, ...)
{
    secmq_file_event ev;
    char detail[600];
    va_list ap;

    if (r->cb == NULL) {
        return;
    }
    va_start(ap, fmt);
    secmq__xfer_event(&ev, detail, sizeof detail, kind, reason, rc, fmt, ap);
    va_end(ap);
    ev.path = path;
    ev.peer = sender;
    if (f != NULL) {
        m = &f->m;
        ev.peer = f->sender;
        ev.chunks = f->have_n;
        ev.bytes = secmq__xfer_bytes(&f->m, f->have_n);
    }
    if (m != NULL) {
        memcpy(ev.file_id, m->file_id, SECMQ_FILE_ID_BYTES);
        ev.name = f != NULL ? f->name : m->name;
        ev.size = m->size;
        ev.chunk_count = m->chunk_count;
        ev.protocol = m->version;
        if (kind == SECMQ_FILE_EV_DONE) {
            ev.hash = m->hash;
        }
    }
    r->cb(r->user, &ev);
}

/* ---- requests
 * ---------------------------------------------------------------- */

int secmq__xr_request(secmq_file_receiver *r, const unsigned char *file_id,
                      int kind, int reason, const secmq_file_range *g, size_t n)
{
    unsigned char pt[SECMQ_FILE_REQUEST_MAX];
    unsigned char env[SECMQ_FILE_REQUEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED];
    char rtopic[SECMQ_TOPIC_MAX + 1];
    size_t len = 0, elen = 0;
    int rc;

    rc = secmq_file_request_encode(pt, sizeof pt, &len, file_id, kind, reason,
                                   g, n);
    if (rc == SECMQ_OK) {
        rc = secmq_file_request_topic(rtopic, sizeof rtopic, r->t.topic,
                                      file_id);
    }
    if (rc == SECMQ_OK) {
        rc = secmq_keyring_seal(r->kr, rtopic, pt, len, env, sizeof env, &elen);
    }
    if (rc == SECMQ_OK) {
        int mid = 0;
        rc = secmq_client_publish_raw(r->c, &mid, rtopic, env, elen, 1, 0);
        if (rc == SECMQ_OK && r->nunacked < UNACKED_MAX) {
            r->unacked[r->nunacked++] = mid;
        }
    }
    if (rc != SECMQ_OK) {
        char why[SECMQ_ERRMSG_BYTES] = "";
        secmq_keyring_errmsg(r->kr, why, sizeof why);
        secmq__err_set(&r->err, rc, "cannot answer the sender on %s/r/: %s%s%s",
                       r->t.topic, secmq_strerror(rc), why[0] ? ": " : "", why);
        /* A receiver that cannot answer must not go on silently: the
         * sender would wait for its answer forever. A lost connection is
         * not that: the answer is repeated after reconnecting. */
        if (rc == SECMQ_E_NO_KEY || rc == SECMQ_E_IO || rc == SECMQ_E_INVAL ||
            rc == SECMQ_E_OVERSIZE) {
            r->fatal = rc;
        }
    }
    return rc;
}

/* Ask for the missing chunks of f (at most SECMQ_FILE_RANGES_MAX runs). */
void secmq__xr_ask(secmq_file_receiver *r, rfile *f, uint64_t now)
{
    secmq_file_range g[SECMQ_FILE_RANGES_MAX];
    size_t n = 0;
    uint32_t asked = 0;

    for (uint32_t i = 0; i < f->m.chunk_count && n < SECMQ_FILE_RANGES_MAX;
         i++) {
        if (secmq__bit_get(f->have, i)) {
            continue;
        }
        if (n > 0 && g[n - 1].first + g[n - 1].count == i) {
            g[n - 1].count++;
        } else {
            g[n].first = i;
            g[n].count = 1;
            n++;
        }
        asked++;
    }
    f->last_req_ms = now;
    if (n == 0) {
        return;
    }
    if (secmq__xr_request(r, f->m.file_id, SECMQ_FILE_REQ_NEED, 0, g, n) ==
        SECMQ_OK) {
        secmq__xr_emit(r, SECMQ_FILE_EV_REQUEST, f, NULL, NULL, NULL, 0, 0,
                       "asked %s for %u missing chunks of %s", f->sender, asked,
                       f->name);
    }
}

/* ---- transfers
 * ---------------------------------------------------------------- */

void secmq__xr_free(rfile *f)
{
    if (f == NULL) {
        return;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    free(f->have);
    sodium_free(f); /* wipes the key */
}

static void drop_active(secmq_file_receiver *r, rfile *f)
{
    for (size_t i = 0; i < r->nact; i++) {
        if (r->act[i] == f) {
            r->act[i] = r->act[--r->nact];
            break;
        }
    }
    secmq__xr_free(f);
}

void secmq__xr_expire(secmq_file_receiver *r, rfile *f, uint64_t idle_ms)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    (void)unlinkat(r->dirfd, f->part, 0);
    (void)fsync(r->dirfd);
    /* Forgotten, not refused: a sender that comes back announces it
     * again and it starts over. */
    (void)secmq__xdb_delete(r->db, f->m.file_id);
    secmq__xr_emit(r, SECMQ_FILE_EV_EXPIRED, f, NULL, NULL, NULL, 0, 0,
                   "gave up %s from %s: no chunk for %llu s (%u of %u "
                   "chunks held); the partial file was removed and its "
                   "slot freed",
                   f->name, f->sender, (unsigned long long)(idle_ms / 1000u),
                   f->have_n, f->m.chunk_count);
    drop_active(r, f);
}

/* Data first (fdatasync), then the bitmap that says it is there. */
int secmq__xr_commit(secmq_file_receiver *r, rfile *f, uint64_t now)
{
    int rc;

    f->last_commit_ms = now;
    if (f->unsynced == 0) {
        return SECMQ_OK;
    }
    if (fdatasync(f->fd) != 0) {
        return secmq__err_set(&r->err, SECMQ_E_IO, "%s: fdatasync: %s", f->part,
                              strerror(errno));
    }
    rc = secmq__xdb_set_bits(r->db, f->m.file_id, f->have,
                             secmq__bit_bytes(f->m.chunk_count));
    if (rc != SECMQ_OK) {
        return secmq__err_set(&r->err, rc, "state file: %s",
                              secmq__xdb_errmsg(r->db));
    }
    f->unsynced = 0;
    return SECMQ_OK;
}

/* End f with an error: partial file removed, state FAILED, the sender
 * told (REFUSED with the reason), an event. */
static void fail_file(secmq_file_receiver *r, rfile *f, int reason, int rc,
                      const char *detail)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    (void)unlinkat(r->dirfd, f->part, 0);
    (void)fsync(r->dirfd);
    (void)secmq__xdb_finish(r->db, f->m.file_id, SECMQ__XST_FAILED, reason,
                            NULL);
    (void)secmq__xr_request(r, f->m.file_id, SECMQ_FILE_REQ_REFUSED, reason,
                            NULL, 0);
    secmq__xr_emit(r, SECMQ_FILE_EV_FAILED, f, NULL, NULL, NULL, reason, rc,
                   "%s", detail);
    drop_active(r, f);
}

/* name, or "stem-N.ext" for N = 1..999, that does not exist yet in dir:
 * moved there without replacing anything. 0, or -1 with errno. */
static int place(secmq_file_receiver *r, rfile *f, char *final, size_t cap)
{
    const char *dot = strrchr(f->name, '.');
    size_t stem = dot != NULL && dot != f->name ? (size_t)(dot - f->name)
                                                : strlen(f->name);

    for (int n = 0; n < 1000; n++) {
        int len;
        if (n == 0) {
            len = snprintf(final, cap, "%s", f->name);
        } else {
            len = snprintf(final, cap, "%.*s-%d%s", (int)stem, f->name, n,
                           f->name + stem);
        }
        if (len < 0 || (size_t)len >= cap || len > (int)SECMQ_FILE_NAME_MAX) {
            errno = ENAMETOOLONG;
            return -1;
        }
        /* SECURITY: never replaces an existing file (RENAME_NOREPLACE, or
         * link + unlink where the file system lacks it). */
        if (renameat2(r->dirfd, f->part, r->dirfd, final, RENAME_NOREPLACE) ==
            0) {
            return 0;
        }
        if (errno == EINVAL || errno == ENOSYS) {
            if (linkat(r->dirfd, f->part, r->dirfd, final, 0) == 0) {
                (void)unlinkat(r->dirfd, f->part, 0);
                return 0;
            }
        }
        if (errno != EEXIST) {
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Protocol 1: the whole-file hash, continuing the in-order one and
 * reading back only what it has not seen. 0, or -1 with why set and the
 * file failed. */
static int check_hash(secmq_file_receiver *r, rfile *f)
{
    crypto_generichash_state st;
    unsigned char hash[SECMQ_FILE_HASH_BYTES];
    char why[900];
    uint64_t off = 0;

    st = f->hst;
    off = (uint64_t)f->hashed * f->m.chunk_size;
    while (off < f->m.size) {
        size_t want = f->m.size - off < r->buf_cap ? (size_t)(f->m.size - off)
                                                   : r->buf_cap;
        ssize_t n = pread(f->fd, r->buf, want, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            snprintf(why, sizeof why, "%s: cannot read back: %s", f->name,
                     n < 0 ? strerror(errno) : "short file");
            fail_file(r, f, SECMQ_FILE_R_IO, SECMQ_E_IO, why);
            return -1;
        }
        crypto_generichash_update(&st, r->buf, (unsigned long long)n);
        off += (uint64_t)n;
    }
    crypto_generichash_final(&st, hash, sizeof hash);
    if (sodium_memcmp(hash, f->m.hash, sizeof hash) != 0) {
        snprintf(why, sizeof why,
                 "%s: the whole-file hash does not match the manifest (the "
                 "file changed at the sender while it was sent?)",
                 f->name);
        fail_file(r, f, SECMQ_FILE_R_HASH, SECMQ_E_IO, why);
        return -1;
    }
    return 0;
}

/* Every chunk is there: (v1) check the hash, sync, rename, tell the
 * sender. */
void secmq__xr_complete(secmq_file_receiver *r, rfile *f)
{
    char final[SECMQ_FILE_NAME_MAX + 1], path[SECMQ__XPATH_MAX + 300];
    char why[900];

    if (fsync(f->fd) != 0) {
        snprintf(why, sizeof why, "%s: fsync: %s", f->name, strerror(errno));
        fail_file(r, f, SECMQ_FILE_R_IO, SECMQ_E_IO, why);
        return;
    }
    /* SECURITY: in protocol 2 every chunk written passed its proof to the
     * root of the signed manifest, so the file is the sender's as a
     * whole; protocol 1 needs the whole-file hash. */
    if (f->m.version != SECMQ_FILE_PROTOCOL_2 && check_hash(r, f) != 0) {
        return;
    }
    if (place(r, f, final, sizeof final) != 0) {
        snprintf(why, sizeof why, "%s: cannot move it into place: %s", f->name,
                 strerror(errno));
        fail_file(r, f, SECMQ_FILE_R_IO, SECMQ_E_IO, why);
        return;
    }
    (void)fsync(r->dirfd);
    close(f->fd);
    f->fd = -1;
    f->unsynced = 0;
    if (secmq__xdb_finish(r->db, f->m.file_id, SECMQ__XST_DONE, 0, final) !=
        SECMQ_OK) {
        secmq__err_set(&r->err, SECMQ_E_IO, "state file: %s",
                       secmq__xdb_errmsg(r->db));
    }
    (void)secmq__xr_request(r, f->m.file_id, SECMQ_FILE_REQ_DONE, 0, NULL, 0);
    snprintf(path, sizeof path, "%s/%s", r->dir, final);
    snprintf(f->name, sizeof f->name, "%s", final);
    secmq__xr_emit(r, SECMQ_FILE_EV_DONE, f, NULL, NULL, path, 0, 0,
                   "%s: %llu bytes from %s", final,
                   (unsigned long long)f->m.size, f->sender);
    drop_active(r, f);
}

/* A new rfile for manifest m from sender, bitmap from bits (may be NULL). */
int secmq__xr_new(secmq_file_receiver *r, const secmq_file_manifest *m,
                  const char *name, const char *sender, rfile **out)
{
    size_t blen = secmq__bit_bytes(m->chunk_count);
    rfile *f = sodium_malloc(sizeof *f);
    char hex[2 * SECMQ_FILE_ID_BYTES + 1];

    *out = NULL;
    if (f == NULL) {
        return SECMQ_E_NOMEM;
    }
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->m = *m;
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->sender, sizeof f->sender, "%s", sender);
    snprintf(f->part, sizeof f->part, PART_PREFIX "%s",
             secmq__hex(hex, m->file_id, SECMQ_FILE_ID_BYTES));
    f->have = calloc(1, blen + 1);
    if (f->have == NULL || (size_t)m->chunk_size > r->buf_cap) {
        unsigned char *b =
            f->have != NULL ? realloc(r->buf, m->chunk_size) : NULL;
        if (b == NULL) {
            secmq__xr_free(f);
            return SECMQ_E_NOMEM;
        }
        r->buf = b;
        r->buf_cap = m->chunk_size;
    }
    (void)secmq_file_chunk_topic(f->ctopic, sizeof f->ctopic, r->t.topic,
                                 m->file_id);
    f->backoff_ms = (uint64_t)r->o.retry_ms;
    f->last_chunk_ms = f->last_commit_ms = secmq__unix_ms();
    crypto_generichash_init(&f->hst, NULL, 0, SECMQ_FILE_HASH_BYTES);
    f->hashed = 0;
    *out = f;
    return SECMQ_OK;
}

/* Record a refusal (so a repeated manifest gets the same answer), tell the
 * sender, and say so. */
void secmq__xr_refuse(secmq_file_receiver *r, const secmq_file_manifest *m,
                      const char *sender, int reason, const char *detail)
{
    secmq__xrow *row = sodium_malloc(sizeof *row);

    if (row != NULL) {
        memset(row, 0, sizeof *row);
        memcpy(row->file_id, m->file_id, SECMQ_FILE_ID_BYTES);
        row->role = SECMQ__XROLE_RECV;
        row->state = SECMQ__XST_FAILED;
        row->reason = reason;
        snprintf(row->peer, sizeof row->peer, "%s", sender);
        (void)secmq__xdb_put(r->db, row, NULL, 0);
        sodium_free(row);
    }
    (void)secmq__xr_request(r, m->file_id, SECMQ_FILE_REQ_REFUSED, reason, NULL,
                            0);
    secmq__xr_emit(r, SECMQ_FILE_EV_REFUSED, NULL, m, sender, NULL, reason, 0,
                   "%s", detail);
}

rfile *secmq__xr_find(secmq_file_receiver *r, const unsigned char *id)
{
    for (size_t i = 0; i < r->nact; i++) {
        if (sodium_memcmp(r->act[i]->m.file_id, id, SECMQ_FILE_ID_BYTES) == 0) {
            return r->act[i];
        }
    }
    return NULL;
}

/* A file we no longer work on: repeat our last answer (rate-limited). */
void secmq__xr_answer(secmq_file_receiver *r, const unsigned char *id)
{
    secmq__xrow *row;
    uint64_t now = secmq__unix_ms();

    if (sodium_memcmp(id, r->last_done_id, SECMQ_FILE_ID_BYTES) == 0 &&
        now - r->last_done_ms < DONE_REPLY_GAP_MS) {
        return;
    }
    row = sodium_malloc(sizeof *row);
    if (row == NULL) {
        return;
    }
    if (secmq__xdb_get(r->db, id, row, NULL, 0) == 1 &&
        row->role == SECMQ__XROLE_RECV) {
        memcpy(r->last_done_id, id, SECMQ_FILE_ID_BYTES);
        r->last_done_ms = now;
        if (row->state == SECMQ__XST_DONE) {
            (void)secmq__xr_request(r, id, SECMQ_FILE_REQ_DONE, 0, NULL, 0);
        } else if (row->state == SECMQ__XST_FAILED) {
            (void)secmq__xr_request(r, id, SECMQ_FILE_REQ_REFUSED, row->reason,
                                    NULL, 0);
        }
    }
    sodium_free(row);
}

/*
 * Hand what was written since the last call to the disk now, without
 * waiting (Linux: sync_file_range WRITE), every WRITEBACK_BYTES: the
 * fdatasync of the next commit and the fsync at the end then find the
 * data on its way or written, and block the loop that receives chunks for
 * a moment instead of for the whole batch. Only a hint: durability still
 * comes from those syncs, before the bitmap says anything.
 */
static void start_writeback(rfile *f, size_t len)
{
    f->unflushed += len;
    if (f->unflushed < WRITEBACK_BYTES) {
        return;
    }
    f->unflushed = 0;
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
}

void secmq__xr_on_chunk(secmq_file_receiver *r, const secmq_message *msg,
                        const unsigned char *id)
{
    rfile *f = secmq__xr_find(r, id);
    size_t len = 0;
    uint32_t index = 0;
    uint64_t now;
    char why[900];
    int reason;

    if (f == NULL) {
        secmq__xr_answer(r, id);
        return;
    }
    if (f->m.version == SECMQ_FILE_PROTOCOL_2) {
        reason =
            secmq_file_chunk_open_v2(r->buf, r->buf_cap, &len, &index, &f->m,
                                     msg->topic, msg->payload, msg->payloadlen);
    } else {
        reason =
            secmq_file_chunk_open(r->buf, r->buf_cap, &len, &index, &f->m,
                                  msg->topic, msg->payload, msg->payloadlen);
    }
    if (reason != SECMQ_OPEN_OK) {
        secmq__xr_emit(r, SECMQ_FILE_EV_REJECTED, f, NULL, NULL, NULL, reason,
                       SECMQ_E_OPEN, "dropped a chunk of %s: %s", f->name,
                       secmq_open_reason_name(reason));
        return;
    }
    now = secmq__unix_ms();
    f->last_chunk_ms = now;
    f->backoff_ms = (uint64_t)r->o.retry_ms;
    if (secmq__bit_get(f->have, index)) {
        return; /* a duplicate: harmless */
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(f->fd, r->buf + done, len - done,
                           (off_t)((uint64_t)index * f->m.chunk_size + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            snprintf(why, sizeof why,
                     "cannot write %s: %s; the partial file was removed",
                     f->name, strerror(e));
            sodium_memzero(r->buf, len);
            fail_file(r, f,
                      e == ENOSPC || e == EFBIG || e == EDQUOT
                          ? SECMQ_FILE_R_NO_SPACE
                          : SECMQ_FILE_R_IO,
                      SECMQ_E_IO, why);
            return;
        }
        done += (size_t)n;
    }
    if (f->m.version != SECMQ_FILE_PROTOCOL_2 && index == f->hashed) {
        crypto_generichash_update(&f->hst, r->buf, len);
        f->hashed++;
    }
    secmq__bit_set(f->have, index);
    f->have_n++;
    f->unsynced++;
    start_writeback(f, len);
    if (f->have_n == f->m.chunk_count) {
        secmq__xr_complete(r, f);
        return;
    }
    if (f->unsynced >= COMMIT_EVERY_CHUNKS ||
        now - f->last_commit_ms >= COMMIT_EVERY_MS) {
        (void)secmq__xr_commit(r, f, now);
    }
}

/* Reopen an unfinished transfer from the state file. */
