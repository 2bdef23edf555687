/*
 * xfersend.c -- the sending side of a file transfer (PROTOCOL.md §8): one
 * file after the other, manifest first, then chunks with a window of
 * publishes awaiting the broker's PUBACK; answers receivers' requests;
 * keeps which chunks the broker acknowledged in the state file, so a
 * restart resumes. Not for receiving, nor for the wire formats
 * (xfercodec.c) or sqlite (xferstate.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "kfile_int.h"
#include "xfersend_int.h"

void secmq_file_send_opts_init(secmq_file_send_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->chunk_size = SECMQ_FILE_CHUNK_DEFAULT;
    o->window = 16;
    o->retry_ms = 5000;
    o->receivers = 1;
    o->protocol = SECMQ_FILE_PROTOCOL_2;
}

static uint64_t now_ms(void)
{
    return secmq__unix_ms();
}

/* ---- events ---------------------------------------------------------------
 */

static void emit(secmq_file_sender *s, int kind, sfile *f, const char *peer,
                 int reason, int rc, uint32_t chunks, const char *fmt, ...)
    SECMQ_PRINTF(8, 9);

static void emit(secmq_file_sender *s, int kind, sfile *f, const char *peer,
                 int reason, int rc, uint32_t chunks, const char *fmt, ...)
{
    secmq_file_event ev;
    char detail[512];
    va_list ap;

    if (s->cb == NULL) {
        return;
    }
    va_start(ap, fmt);
    secmq__xfer_event(&ev, detail, sizeof detail, kind, reason, rc, fmt, ap);
    va_end(ap);
    ev.peer = peer;
    ev.chunks = chunks;
    if (f != NULL) {
        memcpy(ev.file_id, f->m.file_id, SECMQ_FILE_ID_BYTES);
        ev.name = f->m.name;
        ev.path = f->path;
        ev.size = f->m.size;
        ev.chunk_count = f->m.chunk_count;
        ev.bytes = secmq__xfer_bytes(&f->m, f->acked_n);
        ev.protocol = f->m.version;
        if (kind == SECMQ_FILE_EV_DONE) {
            ev.hash = f->m.hash;
        }
        if (kind != SECMQ_FILE_EV_REQUEST) {
            ev.chunks = f->acked_n;
        }
    }
    s->cb(s->user, &ev);
}

/* ---- publishing -----------------------------------------------------------
 */

/*
 * One QoS 1 message, as it is (already sealed). With an outbox: an ASYNC
 * outbox row, *id its row id (on_durable and on_delivered report it);
 * without: an ordinary publish, *mid its packet id (on_publish).
 */
static int send_raw(secmq_file_sender *s, const char *topic, const void *buf,
                    size_t len, int *mid, uint64_t *id)
{
    uint64_t rid = 0;
    int rc;

    if (!s->outbox) {
        return secmq_client_publish_raw(s->c, mid, topic, buf, len, 1, 0);
    }
    rc = secmq_client_publish_v2(s->c, &rid, NULL, topic, buf, len, 1, 0,
                                 SECMQ_PUBLISH_RAW | SECMQ_PUBLISH_ASYNC);
    if (rc == SECMQ_OK && s->first_id == 0) {
        s->first_id = rid;
    }
    if (id != NULL) {
        *id = rid;
    }
    return rc;
}

/* Window slots taken: our own chunks, and outbox rows of an earlier run. */
static uint64_t window_used(const secmq_file_sender *s)
{
    return (uint64_t)s->inflight + s->recovered_left;
}

static int publish_manifest(secmq_file_sender *s, sfile *f)
{
    unsigned char pt[SECMQ_FILE_MANIFEST_MAX];
    unsigned char env[SECMQ_FILE_MANIFEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED];
    size_t len = 0, elen = 0;
    int rc;

    rc = secmq_file_manifest_encode(pt, sizeof pt, &len, &f->m);
    if (rc == SECMQ_OK) {
        rc = secmq_keyring_seal(s->kr, s->t.mtopic, pt, len, env, sizeof env,
                                &elen);
    }
    sodium_memzero(pt, sizeof pt); /* SECURITY: holds the file key */
    if (rc == SECMQ_OK) {
        int mid = 0;
        uint64_t id = 0;
        rc = send_raw(s, s->t.mtopic, env, elen, &mid, &id);
        if (rc == SECMQ_OK) {
            secmq__xs_late_push(s, mid, id);
        }
    }
    f->last_manifest_ms = now_ms();
    return rc;
}

void secmq__xs_finish(secmq_file_sender *s, sfile *f, int kind,
                      const char *peer, int reason, int rc, const char *detail)
{
    f->state = F_FINISHED;
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    for (unsigned i = 0; i < s->o.window; i++) {
        if (s->fl[i].f == f) {
            s->fl[i].f = NULL;
            s->inflight--;
            secmq__xs_late_push(s, s->fl[i].mid, s->fl[i].id);
        }
    }
    if (kind == SECMQ_FILE_EV_DONE) {
        s->ndone++;
        /* SECURITY: the row with the key goes (secure_delete). */
        if (s->db != NULL) {
            (void)secmq__xdb_delete(s->db, f->m.file_id);
        }
        emit(s, kind, f, peer, 0, 0, 0, "%s delivered to %s", f->m.name,
             peer != NULL ? peer : "the receivers");
    } else {
        if (kind == SECMQ_FILE_EV_REFUSED) {
            s->nrefused++;
        } else {
            s->nfailed++;
        }
        if (s->db != NULL) {
            (void)secmq__xdb_finish(s->db, f->m.file_id, SECMQ__XST_FAILED,
                                    reason, NULL);
        }
        emit(s, kind, f, peer, reason, rc, 0, "%s", detail);
    }
    sodium_memzero(f->m.key, sizeof f->m.key);
    sodium_memzero(f->ktag, sizeof f->ktag); /* its chunks' tag key */
}

/* Start the next queued file, if no file is being sent. */
void secmq__xs_start_next(secmq_file_sender *s)
{
    struct stat st;
    sfile *f;
    int rc;

    while (s->cur < s->nfiles) {
        f = s->files[s->cur];
        if (f->state == F_SENDING) {
            return;
        }
        if (f->state == F_FINISHED) {
            s->cur++;
            continue;
        }
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0 || fstat(f->fd, &st) != 0 ||
            (int64_t)st.st_size != f->src_size ||
            (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec !=
                f->src_mtime_ns) {
            char why[900];
            snprintf(why, sizeof why, "%.400s: %s", f->path,
                     f->fd < 0 ? strerror(errno)
                               : "the file changed after it was queued");
            secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL, SECMQ_FILE_R_IO,
                             SECMQ_E_IO, why);
            continue;
        }
        f->state = F_SENDING;
        f->last_answer_ms = now_ms();
        f->wait_ms = (uint64_t)s->o.retry_ms;
        rc = publish_manifest(s, f);
        if (rc != SECMQ_OK) {
            char why[900];
            snprintf(why, sizeof why, "cannot publish the manifest of %s: %s",
                     f->m.name, secmq_strerror(rc));
            secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL,
                             SECMQ_FILE_R_NONE, rc, why);
            continue;
        }
        emit(s, SECMQ_FILE_EV_START, f, NULL, 0, 0, 0,
             "%s: %llu bytes in %u chunks%s", f->m.name,
             (unsigned long long)f->m.size, f->m.chunk_count,
             f->acked_n > 0 ? " (resumed)" : "");
        return;
    }
}

/* Next wanted chunk of f not in flight, from the cursor; -1 if none. */
static int64_t next_wanted(sfile *f)
{
    uint32_t n = f->m.chunk_count;

    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (f->cursor + k) % n;
        if ((i & 7) == 0 && f->want[i >> 3] == 0 && i + 8 <= n) {
            k += 7; /* a whole empty byte */
            continue;
        }
        if (secmq__bit_get(f->want, i)) {
            f->cursor = i + 1 < n ? i + 1 : 0;
            return i;
        }
    }
    return -1;
}

/* Publish chunks while the window has room. */
void secmq__xs_pump(secmq_file_sender *s)
{
    sfile *f;

    if (s->cur >= s->nfiles || s->files[s->cur]->state != F_SENDING) {
        return;
    }
    f = s->files[s->cur];
    while (window_used(s) < s->o.window) {
        int64_t i = next_wanted(f);
        size_t len, elen = 0;
        ssize_t got = 0;
        unsigned slot;
        uint64_t id = 0;
        int rc, mid = 0;

        if (i < 0) {
            return;
        }
        len = secmq__xfer_chunk_len(&f->m, (uint32_t)i);
        if (s->o.max_rate > 0) {
            uint64_t now = now_ms();
            if (s->rate_t0_ms == 0) {
                s->rate_t0_ms = now;
            }
            if (s->rate_bytes > (now - s->rate_t0_ms) * s->o.max_rate / 1000u) {
                /* Over the budget: the next tick goes on. */
                f->cursor = (uint32_t)i;
                return;
            }
            s->rate_bytes += len;
        }
        while (got < (ssize_t)len) {
            ssize_t n = pread(f->fd, s->pt + got, len - (size_t)got,
                              (off_t)((uint64_t)i * f->m.chunk_size) + got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                char why[900];
                snprintf(why, sizeof why, "cannot read %.400s: %s", f->path,
                         n < 0 ? strerror(errno) : "file shrank");
                secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL,
                                 SECMQ_FILE_R_IO, SECMQ_E_IO, why);
                return;
            }
            got += n;
        }
        if (f->m.version == SECMQ_FILE_PROTOCOL_2) {
            /* The tree was built from the file before the manifest went
             * out; a chunk that no longer matches it would be refused by
             * every receiver. Say so, once, instead. The tag taken with
             * its leaf tells (xferleaves_int.h) at a fifth of the cost of
             * hashing the leaf again. */
            if (crypto_onetimeauth_verify(f->tags +
                                              (size_t)i * SECMQ__LEAF_TAG_BYTES,
                                          s->pt, len, f->ktag) != 0) {
                char why[900];
                snprintf(why, sizeof why,
                         "%.400s changed while it was being sent (chunk "
                         "%lld differs from what the manifest announced); "
                         "send it again once it is no longer written to",
                         f->path, (long long)i);
                secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL,
                                 SECMQ_FILE_R_IO, SECMQ_E_IO, why);
                return;
            }
            rc = secmq_file_chunk_seal_v2(s->env, s->env_cap, &elen, &f->m,
                                          (uint32_t)i, f->nodes, f->ctopic,
                                          s->pt, len, NULL);
        } else {
            rc = secmq_file_chunk_seal(s->env, s->env_cap, &elen, &f->m,
                                       (uint32_t)i, s->sk, f->ctopic, s->pt,
                                       len);
        }
        if (rc == SECMQ_OK) {
            rc = send_raw(s, f->ctopic, s->env, elen, &mid, &id);
        }
        if (rc == SECMQ_E_FULL && s->outbox) {
            /* The outbox is at its bound (rows of an earlier run, or
             * manifests): this chunk waits for a delivery. */
            f->cursor = (uint32_t)i;
            return;
        }
        if (rc != SECMQ_OK) {
            char why[900];
            snprintf(why, sizeof why, "cannot publish chunk %lld of %s: %s%s",
                     (long long)i, f->m.name, secmq_strerror(rc),
                     rc == SECMQ_E_OVERSIZE
                         ? " (use a chunk size below the broker's maximum "
                           "packet size)"
                         : "");
            secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL,
                             SECMQ_FILE_R_NONE, rc, why);
            return;
        }
        f->want[(uint32_t)i >> 3] &= (unsigned char)~(1u << ((uint32_t)i & 7));
        for (slot = 0; slot < s->o.window && s->fl[slot].f != NULL; slot++) {
        }
        s->fl[slot].f = f;
        s->fl[slot].mid = mid;
        s->fl[slot].id = id;
        s->fl[slot].index = (uint32_t)i;
        s->inflight++;
    }
}

/* ---- the API ------------------------------------------------------------- */

int secmq_file_sender_new(secmq_file_sender **out, secmq_client *c,
                          secmq_keyring *kr, const char *topic,
                          const secmq_file_send_opts *o, secmq_file_event_cb cb,
                          void *user, char *err, size_t errlen)
{
    secmq_file_sender *s;
    secmq_file_send_opts def;
    int rc;

    secmq__say(err, errlen, "%s", "");
    if (out == NULL) {
        return SECMQ_E_INVAL;
    }
    *out = NULL;
    if (o == NULL) {
        secmq_file_send_opts_init(&def);
        o = &def;
    }
    if (c == NULL || kr == NULL || !secmq__xfer_topic_ok(topic) ||
        o->size < sizeof *o || o->chunk_size < SECMQ_FILE_CHUNK_MIN ||
        o->chunk_size > SECMQ_FILE_CHUNK_MAX || o->window < 1 ||
        o->window > WINDOW_MAX || o->retry_ms < 100 || o->receivers < 1 ||
        (o->protocol != SECMQ_FILE_PROTOCOL_1 &&
         o->protocol != SECMQ_FILE_PROTOCOL_2)) {
        secmq__say(err, errlen, "invalid topic or option");
        return SECMQ_E_INVAL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return SECMQ_E_NOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    secmq__err_init(&s->err);
    s->c = c;
    s->kr = kr;
    s->o = *o;
    s->o.state = NULL;
    s->cb = cb;
    s->user = user;
    secmq__xfer_topics(&s->t, topic, "r");
    secmq__xfer_self(kr, s->pk, &s->sk);
    s->env_cap = (size_t)o->chunk_size + SECMQ_FILE_CHUNK2_OVERHEAD;
    _Static_assert(SECMQ_FILE_CHUNK2_OVERHEAD >= SECMQ_FILE_CHUNK_OVERHEAD,
                   "chunk buffer fits both protocols");
    s->pt = malloc(o->chunk_size);
    s->env = malloc(s->env_cap);
    s->fl = calloc(o->window, sizeof *s->fl);
    s->nlate = o->window + MAN_MIDS;
    s->late = calloc(s->nlate, sizeof *s->late);
    if (s->pt == NULL || s->env == NULL || s->fl == NULL || s->late == NULL) {
        secmq_file_sender_free(s);
        return SECMQ_E_NOMEM;
    }
    /* Fail early, not at the first file and not by waiting in vain for
     * answers: may this identity announce files, and can it hear them? */
    {
        char why[512];
        rc = secmq__xfer_check_sender(kr, s->t.topic, why, sizeof why);
        if (rc != SECMQ_OK) {
            secmq__say(err, errlen, "%s", why);
            secmq_file_sender_free(s);
            return rc;
        }
    }
    {
        secmq_outbox_stats st;
        if (secmq_client_outbox_stats(c, &st) == SECMQ_OK) {
            s->outbox = 1;
            s->recovered_left = st.rows; /* resent first, in order */
        }
    }
    if (o->state != NULL) {
        char why[512];
        rc = secmq__xdb_open(&s->db, o->state, why, sizeof why);
        if (rc != SECMQ_OK) {
            secmq__say(err, errlen, "%s", why);
            secmq_file_sender_free(s);
            return rc;
        }
    }
    *out = s;
    return SECMQ_OK;
}

void secmq_file_sender_free(secmq_file_sender *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        sfile *f = s->files[i];
        if (f->state == F_SENDING && f->dirty && s->db != NULL) {
            (void)secmq__xdb_set_bits(s->db, f->m.file_id, f->acked,
                                      secmq__bit_bytes(f->m.chunk_count));
        }
        secmq__xs_free(f);
    }
    free(s->files);
    free(s->fl);
    free(s->late);
    free(s->pt);
    free(s->env);
    secmq__xdb_close(s->db);
    secmq__err_destroy(&s->err);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int secmq_file_sender_add(secmq_file_sender *s, const char *path,
                          const char *name)
{
    char checked[SECMQ_FILE_NAME_MAX + 1], why[160];
    const char *base;
    sfile *f = NULL, **more;
    int rc;

    if (s == NULL || path == NULL) {
        return SECMQ_E_INVAL;
    }
    if (name == NULL) {
        base = strrchr(path, '/');
        name = base != NULL ? base + 1 : path;
    }
    if (name[0] == '\0' || strlen(name) > SECMQ_FILE_NAME_MAX) {
        return secmq__err_set(&s->err, SECMQ_E_INVAL,
                              "the name of %s must be 1..%u bytes", path,
                              SECMQ_FILE_NAME_MAX);
    }
    /* Announce only what receivers accept (§8.6): a name they refuse
     * would cost a whole transfer to learn it. */
    if (secmq__file_name_judge(checked, sizeof checked, name, why,
                               sizeof why) != SECMQ_OK) {
        char shown[300], pshown[300];
        secmq__file_name_show(shown, sizeof shown, name);
        secmq__file_name_show(pshown, sizeof pshown, path);
        return secmq__err_set(&s->err, SECMQ_E_INVAL,
                              "receivers refuse the name '%s' of %s: %s", shown,
                              pshown, why);
    }
    pthread_mutex_lock(&s->lock);
    more = realloc(s->files, (s->nfiles + 1) * sizeof *more);
    if (more == NULL) {
        rc = SECMQ_E_NOMEM;
        goto out;
    }
    s->files = more;
    rc = secmq__xs_make(s, path, name, &f);
    if (rc == SECMQ_OK) {
        s->files[s->nfiles++] = f;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int secmq_file_sender_handle_connect(secmq_file_sender *s, int session_present)
{
    int rc;

    (void)session_present;
    if (s == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&s->lock);
    s->sub_mid = 0;
    rc = secmq_client_subscribe(s->c, &s->sub_mid, s->t.filter, 1);
    if (rc == SECMQ_OK && s->cur < s->nfiles &&
        s->files[s->cur]->state == F_SENDING) {
        rc = publish_manifest(s, s->files[s->cur]);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void secmq_file_sender_handle_subscribe(secmq_file_sender *s, int mid,
                                        int count, const int *granted)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (mid != 0 && mid == s->sub_mid &&
        (count < 1 || granted == NULL || granted[0] >= 0x80)) {
        s->fatal = SECMQ_E_AUTH;
        secmq__err_set(&s->err, SECMQ_E_AUTH,
                       "the broker refused the subscription to %s: not "
                       "authorised (the receivers' answers cannot arrive)",
                       s->t.filter);
    }
    pthread_mutex_unlock(&s->lock);
}

/* A NEED: chunks the broker acknowledged but the receiver lacks go out
 * again; chunks still wanted or in flight are on their way already. */
static uint32_t apply_need(sfile *f, const secmq_file_request *r)
{
    uint32_t asked = 0;

    for (size_t k = 0; k < r->n_ranges; k++) {
        secmq_file_range g = secmq_file_request_range(r, k);
        if (g.first >= f->m.chunk_count ||
            g.count > f->m.chunk_count - g.first) {
            continue; /* out of bounds: ignored */
        }
        for (uint32_t i = g.first; i < g.first + g.count; i++) {
            if (secmq__bit_get(f->acked, i)) {
                f->acked[i >> 3] &= (unsigned char)~(1u << (i & 7));
                f->acked_n--;
                secmq__bit_set(f->want, i);
                f->dirty = 1;
                asked++;
            }
        }
    }
    if (asked > 0) {
        f->cursor = 0;
    }
    return asked;
}

int secmq_file_sender_handle_message(secmq_file_sender *s,
                                     const secmq_message *m)
{
    unsigned char id[SECMQ_FILE_ID_BYTES];
    unsigned char pt[ENV_BUF];
    secmq_file_request r;
    const char *peer = NULL;
    size_t len = 0;
    int reason = SECMQ_OPEN_MALFORMED, rc;
    sfile *f = NULL;

    if (s == NULL || m == NULL || m->topic == NULL ||
        secmq__xfer_parse_id(m->topic, s->t.prefix, s->t.prefix_len, id) != 0) {
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    if (m->payloadlen <= sizeof pt) {
        rc = secmq_keyring_open_msg(s->kr, m->topic, m->payload, m->payloadlen,
                                    pt, sizeof pt, &len, &peer, &reason);
    } else {
        rc = SECMQ_E_OPEN;
    }
    if (rc == SECMQ_OK &&
        (secmq_file_request_decode(&r, pt, len) != SECMQ_OK ||
         sodium_memcmp(r.file_id, id, SECMQ_FILE_ID_BYTES) != 0)) {
        rc = SECMQ_E_OPEN;
        reason = SECMQ_OPEN_MALFORMED;
    }
    if (rc != SECMQ_OK) {
        emit(s, SECMQ_FILE_EV_REJECTED, NULL, NULL, reason, rc, 0,
             "dropped a request on %.200s: %s", m->topic,
             secmq_open_reason_name(reason));
        goto out;
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        if (s->files[i]->state == F_SENDING &&
            sodium_memcmp(s->files[i]->m.file_id, id, SECMQ_FILE_ID_BYTES) ==
                0) {
            f = s->files[i];
        }
    }
    if (f == NULL) {
        goto out; /* finished or never ours: nothing to do */
    }
    f->last_answer_ms = now_ms();
    if (r.kind == SECMQ_FILE_REQ_REFUSED && r.reason == SECMQ_FILE_R_BUSY) {
        /* Not final: the receiver has no free slot now. Announce again
         * later, waiting longer each time (the chunks sent meanwhile were
         * dropped; the receiver asks for them once it takes the file). */
        uint64_t w = f->wait_ms * 2;
        f->wait_ms = w > BUSY_MAX_MS ? BUSY_MAX_MS : w;
        emit(s, SECMQ_FILE_EV_REFUSED, f, peer, r.reason, 0, 0,
             "%s is busy (all its transfer slots are taken): %s is "
             "announced again in %llu s",
             peer, f->m.name, (unsigned long long)(f->wait_ms / 1000u));
        goto out;
    }
    f->wait_ms = (uint64_t)s->o.retry_ms;
    if (r.kind == SECMQ_FILE_REQ_NEED) {
        uint32_t asked = apply_need(f, &r);
        emit(s, SECMQ_FILE_EV_REQUEST, f, peer, 0, 0, asked,
             "%s asked for %u chunks of %s again", peer, asked, f->m.name);
        secmq__xs_pump(s);
    } else if (r.kind == SECMQ_FILE_REQ_DONE) {
        f->dones++;
        if (f->dones >= s->o.receivers) {
            secmq__xs_finish(s, f, SECMQ_FILE_EV_DONE, peer, 0, 0, NULL);
            secmq__xs_start_next(s);
            secmq__xs_pump(s);
        }
    } else {
        char why[900];
        snprintf(why, sizeof why, "%s refused %s: %s", peer, f->m.name,
                 secmq_file_reason_name(r.reason));
        secmq__xs_finish(s, f, SECMQ_FILE_EV_REFUSED, peer, r.reason, 0, why);
        secmq__xs_start_next(s);
        secmq__xs_pump(s);
    }
out:
    sodium_memzero(pt, len);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

int secmq_file_sender_tick(secmq_file_sender *s)
{
    uint64_t now = now_ms();
    int left = 0, rc = SECMQ_OK;
    sfile *f;

    if (s == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&s->lock);
    secmq__xs_start_next(s);
    secmq__xs_pump(s);
    if (s->cur < s->nfiles && s->files[s->cur]->state == F_SENDING) {
        f = s->files[s->cur];
        if (f->dirty && s->db != NULL &&
            (now - f->last_save_ms >= SAVE_EVERY_MS ||
             f->acked_n == f->m.chunk_count)) {
            rc = secmq__xdb_set_bits(s->db, f->m.file_id, f->acked,
                                     secmq__bit_bytes(f->m.chunk_count));
            if (rc != SECMQ_OK) {
                secmq__err_set(&s->err, rc, "state file: %s",
                               secmq__xdb_errmsg(s->db));
            }
            f->dirty = 0;
            f->last_save_ms = now;
        }
        if (f->acked_n == f->m.chunk_count && window_used(s) == 0 &&
            now - f->last_answer_ms >= f->wait_ms &&
            now - f->last_manifest_ms >= f->wait_ms) {
            /* Silence: a receiver may have missed the manifest, or its
             * answer was lost. Ask again. */
            (void)publish_manifest(s, f);
        }
        if (now - f->last_progress_ms >= PROGRESS_EVERY_MS &&
            f->acked_n != f->progress_bytes) {
            f->last_progress_ms = now;
            f->progress_bytes = f->acked_n;
            emit(s, SECMQ_FILE_EV_PROGRESS, f, NULL, 0, 0, 0, "%s", f->m.name);
        }
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        left += s->files[i]->state != F_FINISHED;
    }
    if (s->fatal != SECMQ_OK) {
        rc = s->fatal;
    }
    pthread_mutex_unlock(&s->lock);
    return rc != SECMQ_OK ? rc : left;
}

void secmq_file_sender_counts(secmq_file_sender *s, unsigned *done,
                              unsigned *refused, unsigned *failed)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (done != NULL) {
        *done = s->ndone;
    }
    if (refused != NULL) {
        *refused = s->nrefused;
    }
    if (failed != NULL) {
        *failed = s->nfailed;
    }
    pthread_mutex_unlock(&s->lock);
}

size_t secmq_file_sender_errmsg(secmq_file_sender *s, char *buf, size_t len)
{
    if (s == NULL) {
        if (buf != NULL && len > 0) {
            buf[0] = '\0';
        }
        return 0;
    }
    return secmq__err_copy(&s->err, buf, len);
}
