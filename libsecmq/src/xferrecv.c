/*
 * xferrecv.c -- the receiving side of a file transfer (PROTOCOL.md §8):
 * judges manifests (the signer, the name, the size limit, free space),
 * resumes unfinished transfers from the state file, and holds the API.
 * Writing chunks, requests and finishing a file are xferwrite.c's; the
 * wire formats xfercodec.c's, sqlite xferstate.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "kfile_int.h"
#include "xferrecv_int.h"

void secmq_file_recv_opts_init(secmq_file_recv_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_size = 4ull << 30;
    o->reserve = 16ull << 20;
    o->retry_ms = 3000;
    o->max_active = 16;
    o->stall_ms = STALL_DEFAULT_MS;
}

static void on_manifest(secmq_file_receiver *r, const secmq_message *msg)
{
    unsigned char pt[MENV_BUF];
    secmq_file_manifest *m = NULL;
    char name[SECMQ_FILE_NAME_MAX + 1], why[600], detail[200];
    const char *sender = NULL;
    struct statvfs vfs;
    secmq__xrow *row = NULL;
    size_t len = 0;
    int reason = SECMQ_OPEN_MALFORMED, rc, fd;
    rfile *f = NULL;

    if (msg->payloadlen > sizeof pt) {
        rc = SECMQ_E_OPEN;
    } else {
        rc = secmq_keyring_open_msg(r->kr, msg->topic, msg->payload,
                                    msg->payloadlen, pt, sizeof pt, &len,
                                    &sender, &reason);
    }
    m = sodium_malloc(sizeof *m);
    row = sodium_malloc(sizeof *row);
    if (m == NULL || row == NULL) {
        goto out;
    }
    if (rc == SECMQ_OK &&
        (secmq_file_manifest_decode(m, pt, len) != SECMQ_OK ||
         !secmq__xfer_sender_is(r->kr, msg->topic, msg->payload,
                                msg->payloadlen, m->sender_pk))) {
        rc = SECMQ_E_OPEN;
        reason = SECMQ_OPEN_MALFORMED;
    }
    if (rc != SECMQ_OK) {
        secmq__xr_emit(r, SECMQ_FILE_EV_REJECTED, NULL, NULL, sender, NULL,
                       reason, rc, "dropped a manifest on %.200s: %s",
                       msg->topic, secmq_open_reason_name(reason));
        goto out;
    }
    f = secmq__xr_find(r, m->file_id);
    if (f != NULL) {
        /* The sender restarted or repeats itself: tell it what we lack. */
        uint64_t now = secmq__unix_ms();
        if (now - f->last_chunk_ms >= 1000u && now - f->last_req_ms >= 1000u) {
            f->backoff_ms = (uint64_t)r->o.retry_ms;
            secmq__xr_ask(r, f, now);
        }
        goto out;
    }
    rc = secmq__xdb_get(r->db, m->file_id, row, NULL, 0);
    if (rc == 1) {
        secmq__xr_answer(r, m->file_id);
        goto out;
    }
    if (r->nact >= r->o.max_active) {
        /* Not recorded: a later manifest of it is judged again, once a
         * slot is free (a stalled transfer expires after stall_ms). One
         * answer per file and second at most. */
        uint64_t now = secmq__unix_ms();
        size_t idn = sizeof r->busy_id;
        int same = memcmp(r->busy_id, m->file_id, idn) == 0; /* not secret */
        if (now - r->busy_ms >= 1000u || !same) {
            r->busy_ms = now;
            memcpy(r->busy_id, m->file_id, SECMQ_FILE_ID_BYTES);
            (void)secmq__xr_request(r, m->file_id, SECMQ_FILE_REQ_REFUSED,
                                    SECMQ_FILE_R_BUSY, NULL, 0);
            secmq__xr_emit(r, SECMQ_FILE_EV_REFUSED, NULL, m, sender, NULL,
                           SECMQ_FILE_R_BUSY, 0,
                           "busy: refused a file from %s for now: %u "
                           "transfers are in progress already (the limit); "
                           "the sender will announce it again",
                           sender, r->o.max_active);
        }
        goto out;
    }
    if (secmq__file_name_judge(name, sizeof name, m->name, detail,
                               sizeof detail) != SECMQ_OK) {
        /* The name itself is not shown: it is what cannot be trusted on
         * a terminal. */
        snprintf(why, sizeof why,
                 "refused a file from %s: its name cannot be used as a file "
                 "name here: %s",
                 sender, detail);
        secmq__xr_refuse(r, m, sender, SECMQ_FILE_R_BAD_NAME, why);
        goto out;
    }
    if (m->size > r->o.max_size) {
        snprintf(why, sizeof why,
                 "refused %s from %s: %llu bytes is over the limit of %llu",
                 name, sender, (unsigned long long)m->size,
                 (unsigned long long)r->o.max_size);
        secmq__xr_refuse(r, m, sender, SECMQ_FILE_R_TOO_LARGE, why);
        goto out;
    }
    if (fstatvfs(r->dirfd, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < m->size + r->o.reserve) {
        snprintf(why, sizeof why,
                 "refused %s from %s: %llu bytes do not fit (%llu free, "
                 "%llu kept in reserve)",
                 name, sender, (unsigned long long)m->size,
                 (unsigned long long)vfs.f_bavail * vfs.f_frsize,
                 (unsigned long long)r->o.reserve);
        secmq__xr_refuse(r, m, sender, SECMQ_FILE_R_NO_SPACE, why);
        goto out;
    }
    if (secmq__xr_new(r, m, name, sender, &f) != SECMQ_OK) {
        goto out;
    }
    /* SECURITY: created inside the directory by descriptor, never
     * following a link, and never an existing file. */
    (void)unlinkat(r->dirfd, f->part, 0); /* a leftover of a crash */
    fd = openat(r->dirfd, f->part,
                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, sizeof why, "cannot create %s/%s: %s", r->dir, f->part,
                 strerror(errno));
        secmq__xr_free(f);
        secmq__xr_refuse(r, m, sender, SECMQ_FILE_R_IO, why);
        goto out;
    }
    f->fd = fd;
    memset(row, 0, sizeof *row);
    memcpy(row->file_id, m->file_id, SECMQ_FILE_ID_BYTES);
    row->role = SECMQ__XROLE_RECV;
    row->state = SECMQ__XST_ACTIVE;
    memcpy(row->manifest, pt, len);
    row->manifest_len = len;
    snprintf(row->peer, sizeof row->peer, "%s", sender);
    if (secmq__xdb_put(r->db, row, f->have, secmq__bit_bytes(m->chunk_count)) !=
        SECMQ_OK) {
        snprintf(why, sizeof why, "state file: %s", secmq__xdb_errmsg(r->db));
        close(f->fd);
        f->fd = -1;
        (void)unlinkat(r->dirfd, f->part, 0);
        secmq__xr_emit(r, SECMQ_FILE_EV_FAILED, f, NULL, NULL, NULL,
                       SECMQ_FILE_R_IO, SECMQ_E_IO, "%s", why);
        secmq__xr_free(f);
        goto out;
    }
    r->act[r->nact++] = f;
    secmq__xr_emit(r, SECMQ_FILE_EV_START, f, NULL, NULL, NULL, 0, 0,
                   "receiving %s from %s: %llu bytes in %u chunks", f->name,
                   f->sender, (unsigned long long)m->size, m->chunk_count);
    if (m->chunk_count == 0) {
        secmq__xr_complete(r, f);
    }
out:
    sodium_memzero(pt, sizeof pt);
    if (m != NULL) {
        sodium_free(m);
    }
    if (row != NULL) {
        sodium_free(row);
    }
}

static int resume(secmq_file_receiver *r, const unsigned char *id)
{
    secmq__xrow *row = sodium_malloc(sizeof *row);
    secmq_file_manifest *m = sodium_malloc(sizeof *m);
    unsigned char *bits = NULL;
    char name[SECMQ_FILE_NAME_MAX + 1];
    rfile *f = NULL;
    int rc = SECMQ_E_NOMEM;

    if (row == NULL || m == NULL) {
        goto out;
    }
    rc = secmq__xdb_get(r->db, id, row, NULL, 0);
    if (rc != 1 ||
        secmq_file_manifest_decode(m, row->manifest, row->manifest_len) !=
            SECMQ_OK ||
        secmq_file_name_check(name, sizeof name, m->name) != SECMQ_OK) {
        /* Unreadable: forget it; the sender's manifest starts it anew. */
        (void)secmq__xdb_delete(r->db, id);
        rc = SECMQ_OK;
        goto out;
    }
    rc = secmq__xr_new(r, m, name, row->peer, &f);
    if (rc != SECMQ_OK) {
        goto out;
    }
    rc = secmq__xdb_get(r->db, id, row, f->have,
                        secmq__bit_bytes(m->chunk_count));
    f->fd = openat(r->dirfd, f->part, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (f->fd < 0) {
        /* The partial file is gone: start over with an empty one. */
        memset(f->have, 0, secmq__bit_bytes(m->chunk_count));
        f->fd =
            openat(r->dirfd, f->part,
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        f->unsynced = 1;
    }
    if (f->fd < 0) {
        rc = secmq__err_set(&r->err, SECMQ_E_IO, "%s/%s: %s", r->dir, f->part,
                            strerror(errno));
        secmq__xr_free(f);
        goto out;
    }
    for (uint32_t i = 0; i < m->chunk_count; i++) {
        f->have_n += (uint32_t)secmq__bit_get(f->have, i);
    }
    r->act[r->nact++] = f;
    secmq__xr_emit(r, SECMQ_FILE_EV_START, f, NULL, NULL, NULL, 0, 0,
                   "resuming %s from %s: %u of %u chunks held", f->name,
                   f->sender, f->have_n, m->chunk_count);
    rc = SECMQ_OK;
out:
    free(bits);
    if (row != NULL) {
        sodium_free(row);
    }
    if (m != NULL) {
        sodium_free(m);
    }
    return rc;
}

/* ---- the API --------------------------------------------------------------
 */

int secmq_file_receiver_new(secmq_file_receiver **out, secmq_client *c,
                            secmq_keyring *kr, const char *topic,
                            const char *dir, const secmq_file_recv_opts *o,
                            secmq_file_event_cb cb, void *user, char *err,
                            size_t errlen)
{
    unsigned char ids[64 * SECMQ_FILE_ID_BYTES];
    secmq_file_recv_opts def;
    secmq_file_receiver *r;
    char path[SECMQ__XPATH_MAX + 32], why[512];
    int rc, n;

    secmq__say(err, errlen, "%s", "");
    if (out == NULL) {
        return SECMQ_E_INVAL;
    }
    *out = NULL;
    if (o == NULL) {
        secmq_file_recv_opts_init(&def);
        o = &def;
    }
    if (c == NULL || kr == NULL || dir == NULL ||
        !secmq__xfer_topic_ok(topic) || o->size < sizeof *o ||
        o->retry_ms < 100 || o->max_active < 1 || o->max_active > 1024 ||
        (o->stall_ms != 0 && o->stall_ms < 100) ||
        strlen(dir) >= SECMQ__XPATH_MAX) {
        secmq__say(err, errlen, "invalid topic, directory or option");
        return SECMQ_E_INVAL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return SECMQ_E_NOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    secmq__err_init(&r->err);
    r->dirfd = -1;
    r->c = c;
    r->kr = kr;
    r->o = *o;
    r->o.state = NULL;
    if (r->o.stall_ms == 0) {
        r->o.stall_ms = STALL_DEFAULT_MS; /* a struct filled by hand */
    }
    r->cb = cb;
    r->user = user;
    secmq__xfer_topics(&r->t, topic, "c");
    r->dir = strdup(dir);
    r->act = calloc(o->max_active, sizeof *r->act);
    r->buf_cap = SECMQ_FILE_CHUNK_DEFAULT;
    r->buf = malloc(r->buf_cap);
    if (r->dir == NULL || r->act == NULL || r->buf == NULL) {
        secmq_file_receiver_free(r);
        return SECMQ_E_NOMEM;
    }
    /* Fail at once rather than receive files and never be able to say
     * so: the sender would wait for an answer forever. */
    rc = secmq__xfer_check_receiver(kr, r->t.topic, why, sizeof why);
    if (rc != SECMQ_OK) {
        secmq__say(err, errlen, "%s", why);
        secmq_file_receiver_free(r);
        return rc;
    }
    r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        secmq__say(err, errlen, "cannot open the directory %s: %s", dir,
                   strerror(errno));
        secmq_file_receiver_free(r);
        return SECMQ_E_IO;
    }
    if (o->state != NULL) {
        snprintf(path, sizeof path, "%s", o->state);
    } else {
        snprintf(path, sizeof path, "%s/" STATE_NAME, dir);
    }
    rc = secmq__xdb_open(&r->db, path, why, sizeof why);
    if (rc != SECMQ_OK) {
        secmq__say(err, errlen, "%s", why);
        secmq_file_receiver_free(r);
        return rc;
    }
    n = secmq__xdb_active(r->db, SECMQ__XROLE_RECV, ids, 64);
    for (int i = 0; i < n && i < 64 && r->nact < r->o.max_active; i++) {
        rc = resume(r, ids + (size_t)i * SECMQ_FILE_ID_BYTES);
        if (rc != SECMQ_OK) {
            char d[SECMQ_ERRMSG_BYTES];
            secmq__err_copy(&r->err, d, sizeof d);
            secmq__say(err, errlen, "%s", d);
            secmq_file_receiver_free(r);
            return rc;
        }
    }
    *out = r;
    return SECMQ_OK;
}

void secmq_file_receiver_free(secmq_file_receiver *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->nact; i++) {
        if (r->db != NULL && r->act[i]->fd >= 0) {
            (void)secmq__xr_commit(r, r->act[i], secmq__unix_ms());
        }
        secmq__xr_free(r->act[i]);
    }
    free(r->act);
    if (r->buf != NULL) {
        sodium_memzero(r->buf, r->buf_cap);
    }
    free(r->buf);
    free(r->dir);
    if (r->dirfd >= 0) {
        close(r->dirfd);
    }
    secmq__xdb_close(r->db);
    secmq__err_destroy(&r->err);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int secmq_file_receiver_handle_connect(secmq_file_receiver *r,
                                       int session_present)
{
    int rc;

    (void)session_present;
    if (r == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&r->lock);
    r->sub_mid[0] = r->sub_mid[1] = 0;
    rc = secmq_client_subscribe(r->c, &r->sub_mid[0], r->t.mtopic, 1);
    if (rc == SECMQ_OK) {
        rc = secmq_client_subscribe(r->c, &r->sub_mid[1], r->t.filter, 1);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void secmq_file_receiver_handle_subscribe(secmq_file_receiver *r, int mid,
                                          int count, const int *granted)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < 2; i++) {
        if (mid != 0 && mid == r->sub_mid[i] &&
            (count < 1 || granted == NULL || granted[0] >= 0x80)) {
            r->fatal = SECMQ_E_AUTH;
            secmq__err_set(&r->err, SECMQ_E_AUTH,
                           "the broker refused the subscription to %s: not "
                           "authorised",
                           i == 0 ? r->t.mtopic : r->t.filter);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

int secmq_file_receiver_handle_message(secmq_file_receiver *r,
                                       const secmq_message *m)
{
    unsigned char id[SECMQ_FILE_ID_BYTES];

    if (r == NULL || m == NULL || m->topic == NULL) {
        return 0;
    }
    if (strcmp(m->topic, r->t.mtopic) == 0) {
        pthread_mutex_lock(&r->lock);
        on_manifest(r, m);
        pthread_mutex_unlock(&r->lock);
        return 1;
    }
    if (secmq__xfer_parse_id(m->topic, r->t.prefix, r->t.prefix_len, id) == 0) {
        pthread_mutex_lock(&r->lock);
        secmq__xr_on_chunk(r, m, id);
        pthread_mutex_unlock(&r->lock);
        return 1;
    }
    return 0;
}

void secmq_file_receiver_handle_publish(secmq_file_receiver *r, int mid, int rc)
{
    (void)secmq_file_receiver_handle_publish_v2(r, mid, rc);
}

int secmq_file_receiver_handle_publish_v2(secmq_file_receiver *r, int mid,
                                          int rc)
{
    int mine = 0;

    (void)rc;
    if (r == NULL) {
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    for (unsigned i = 0; i < r->nunacked; i++) {
        if (r->unacked[i] == mid) {
            r->unacked[i] = r->unacked[--r->nunacked];
            mine = 1;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return mine;
}

size_t secmq_file_receiver_awaiting(secmq_file_receiver *r, int *mids,
                                    size_t cap)
{
    size_t n;

    if (r == NULL) {
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    n = r->nunacked;
    for (size_t i = 0; i < n && i < cap && mids != NULL; i++) {
        mids[i] = r->unacked[i];
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

unsigned secmq_file_receiver_unacked(secmq_file_receiver *r)
{
    unsigned n;

    if (r == NULL) {
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    n = r->nunacked;
    pthread_mutex_unlock(&r->lock);
    return n;
}

int secmq_file_receiver_tick(secmq_file_receiver *r)
{
    uint64_t now = secmq__unix_ms();
    int rc = SECMQ_OK, n;

    if (r == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nact; i++) {
        rfile *f = r->act[i];
        uint64_t idle = now - f->last_chunk_ms;
        if (now > f->last_chunk_ms && idle >= (uint64_t)r->o.stall_ms) {
            /* A sender that announced and went away must not hold a
             * slot forever. */
            secmq__xr_expire(r, f, idle);
            i--;
            continue;
        }
        if (f->unsynced > 0 && now - f->last_commit_ms >= COMMIT_EVERY_MS) {
            int c = secmq__xr_commit(r, f, now);
            if (c != SECMQ_OK) {
                rc = c;
            }
        }
        if (now - f->last_chunk_ms >= f->backoff_ms &&
            now - f->last_req_ms >= f->backoff_ms) {
            secmq__xr_ask(r, f, now);
            f->backoff_ms = f->backoff_ms * 2 > RETRY_MAX_MS
                                ? RETRY_MAX_MS
                                : f->backoff_ms * 2;
        }
        if (now - f->last_progress_ms >= PROGRESS_EVERY_MS &&
            f->have_n != f->progress_n) {
            f->last_progress_ms = now;
            f->progress_n = f->have_n;
            secmq__xr_emit(r, SECMQ_FILE_EV_PROGRESS, f, NULL, NULL, NULL, 0, 0,
                           "%s", f->name);
        }
    }
    n = (int)r->nact;
    if (r->fatal != SECMQ_OK) {
        rc = r->fatal;
    }
    pthread_mutex_unlock(&r->lock);
    return rc != SECMQ_OK ? rc : n;
}

size_t secmq_file_receiver_errmsg(secmq_file_receiver *r, char *buf, size_t len)
{
    if (r == NULL) {
        if (buf != NULL && len > 0) {
            buf[0] = '\0';
        }
        return 0;
    }
    return secmq__err_copy(&r->err, buf, len);
}
