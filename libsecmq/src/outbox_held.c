/*
 * outbox_held.c -- outbox rows set aside: damaged ones, sealed rows whose
 * key was erased before they left, and QoS 2 rows a broker without QoS 2
 * refused.
 *
 * A damaged row (checked when read back) is never sent (quarantine). A
 * sealed row whose key id the keyring has erased by the time it would be
 * handed (an epoch of a ratcheted channel, or a rotated key past its grace,
 * while the publisher was offline) is never sent either: receivers refuse
 * it, and it cannot be sealed again. A broker that answers QoS 2 with
 * PUBACK (RabbitMQ) would refuse every QoS 2 row again at each reconnect,
 * and the rows behind them would never leave. Such rows are set aside
 * instead: kept in the file (the quarantine table, reason
 * SECMQ__OB_HELD_QOS2), never sent, reported once to on_delivered with
 * SECMQ_E_QOS_UNSUPPORTED and counted (held_qos2), until the application
 * releases them, at QoS 1 or at QoS 2 again. Not the detection
 * (client_qos2.c, client_outbox.c) nor sqlite (outbox_rows.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbox_int.h"

void secmq__outbox_quarantine(secmq__outbox *ob, struct live *l,
                              const char *reason)
{
    uint64_t id = l->id;

    secmq__outbox_idx_gone(ob, l);
    ob->ctr.damaged++;
    ob->ctr.quarantined++;
    secmq__log_write(ob->h.log, SECMQ_LOG_ERROR,
                     "outbox %s: row %" PRIu64 " is damaged (%s): set aside "
                     "in the file's quarantine table, never sent",
                     ob->path, id, reason);
    secmq__outbox_quar_push(ob, id, reason);
    (void)secmq__outbox_push_id(&ob->bad_ids, &ob->bad_n, &ob->bad_cap, id);
    pthread_cond_signal(&ob->work);
}

void secmq__outbox_set_erased(secmq__outbox *ob, struct live *l,
                              const char *topic)
{
    uint64_t id = l->id;
    char shown[256];

    secmq__outbox_idx_gone(ob, l);
    ob->ctr.key_erased++;
    (void)secmq_text_show(shown, sizeof shown, topic);
    secmq__log_write(ob->h.log, SECMQ_LOG_WARNING,
                     "outbox %s: row %" PRIu64 " on '%s' was sealed under an "
                     "erased key (an epoch, or a previous key, past its "
                     "grace: the keyring no longer holds it and receivers "
                     "refuse it): set aside in the file's "
                     "quarantine table as '" SECMQ__OB_KEY_ERASED "', never "
                     "sent; it cannot be sealed again",
                     ob->path, id, shown);
    secmq__outbox_quar_push(ob, id, SECMQ__OB_KEY_ERASED);
    (void)secmq__outbox_push_id(&ob->erased_ids, &ob->erased_n, &ob->erased_cap,
                                id);
    pthread_cond_signal(&ob->work);
}

void secmq__outbox_aside_at_open(secmq__outbox *ob, const secmq__obscan *info)
{
    if (info->held_qos2 > 0) {
        secmq__log_write(ob->h.log, SECMQ_LOG_WARNING,
                         "outbox %s: %" PRIu64 " QoS 2 message(s) stay set "
                         "aside: a broker answered QoS 2 with PUBACK (no "
                         "QoS 2); they are kept, not sent, until released "
                         "(secmq_client_outbox_release_qos2)",
                         ob->path, info->held_qos2);
    }
    if (info->key_erased > 0) {
        secmq__log_write(ob->h.log, SECMQ_LOG_WARNING,
                         "outbox %s: %" PRIu64 " message(s) sealed under "
                         "erased keys stay set aside in its quarantine "
                         "table; they are never sent",
                         ob->path, info->key_erased);
    }
}

void secmq__outbox_quar_push(secmq__outbox *ob, uint64_t id, const char *reason)
{
    if (ob->quars_n == ob->quars_cap) {
        size_t ncap = ob->quars_cap ? ob->quars_cap * 2 : 16;
        secmq__obquar *p = realloc(ob->quars, ncap * sizeof *p);
        if (p != NULL) {
            ob->quars = p;
            ob->quars_cap = ncap;
        }
    }
    if (ob->quars_n < ob->quars_cap) {
        ob->quars[ob->quars_n].id = id;
        ob->quars[ob->quars_n].reason = reason;
        ob->quars_n++;
    } /* else: not recorded; a damaged row is found (and skipped) again at
         the next open, a held QoS 2 row is tried again by the next client,
         a row under an erased key is found so again by the next client */
}

void secmq__outbox_hold(secmq__outbox *ob, struct live *l)
{
    uint64_t id = l->id;

    secmq__outbox_idx_gone(ob, l);
    ob->ctr.held_qos2++;
    secmq__log_write(ob->h.log, SECMQ_LOG_ERROR,
                     "outbox %s: row %" PRIu64 " is at QoS 2 and the broker "
                     "does not support QoS 2 (it answered QoS 2 with "
                     "PUBACK): set aside in the file, not sent, until "
                     "released at QoS 1 or 2",
                     ob->path, id);
    secmq__outbox_quar_push(ob, id, SECMQ__OB_HELD_QOS2);
    (void)secmq__outbox_push_id(&ob->held_ids, &ob->held_n, &ob->held_cap, id);
    pthread_cond_signal(&ob->work);
}

void secmq__outbox_qos2_refused(secmq__outbox *ob)
{
    struct report fails[16];
    size_t nf;

    pthread_mutex_lock(&ob->lock);
    ob->qos2_refused = 1;
    /* libmosquitto keeps the handed ones in its own queue, but the client
     * never reconnects now (client_qos2.c): they are the outbox's again. */
    for (int i = 0; i < ob->inf_n;) {
        if (ob->inf[i].qos == 2) {
            struct live *l = secmq__outbox_idx_find(ob, ob->inf[i].id);
            if (l != NULL) {
                l->state = L_STORED;
            }
            memmove(&ob->inf[i], &ob->inf[i + 1],
                    (size_t)(ob->inf_n - i - 1) * sizeof *ob->inf);
            ob->inf_n--;
        } else {
            i++;
        }
    }
    /* Pending rows are held when their commit settles. */
    for (size_t i = ob->idx_head; i < ob->idx_n; i++) {
        struct live *l = &ob->idx[i];
        if (l->qos == 2 && l->state == L_STORED) {
            secmq__outbox_hold(ob, l);
        }
    }
    ob->connected = 0;
    nf = secmq__outbox_pump(ob, fails, sizeof fails / sizeof fails[0]);
    pthread_cond_broadcast(&ob->done);
    pthread_mutex_unlock(&ob->lock);
    secmq__outbox_report_fails(ob, fails, nf);
}

/* ---- release ---- */

struct rel {
    uint64_t id;
    size_t bytes;
    const char *damage;
};

struct rel_ctx {
    struct rel *v;
    size_t n, cap;
    int nomem;
};

static void rel_row(void *ctx, uint64_t id, size_t bytes, const char *damage)
{
    struct rel_ctx *rc = ctx;

    if (rc->n == rc->cap) {
        size_t ncap = rc->cap ? rc->cap * 2 : 64;
        struct rel *p = realloc(rc->v, ncap * sizeof *p);
        if (p == NULL) {
            rc->nomem = 1;
            return;
        }
        rc->v = p;
        rc->cap = ncap;
    }
    rc->v[rc->n].id = id;
    rc->v[rc->n].bytes = bytes;
    rc->v[rc->n].damage = damage;
    rc->n++;
}

/* Merge the released rows (ids ascending, none live) into the index
 * (lock held): 0, or -1 (no memory, index unchanged). */
static int idx_merge(secmq__outbox *ob, const struct rel_ctx *rc, int qos)
{
    size_t live = ob->idx_n - ob->idx_head, k = 0, j = ob->idx_head;
    struct live *nidx = malloc((live + rc->n + 1) * sizeof *nidx);
    size_t nn = 0;

    if (nidx == NULL) {
        return -1;
    }
    while (k < rc->n || j < ob->idx_n) {
        if (k < rc->n && rc->v[k].damage != NULL) {
            k++;
            continue;
        }
        if (k < rc->n && (j >= ob->idx_n || rc->v[k].id < ob->idx[j].id)) {
            nidx[nn].id = rc->v[k].id;
            nidx[nn].bytes = rc->v[k].bytes;
            nidx[nn].state = L_STORED;
            nidx[nn].qos = qos;
            ob->ctr.rows++;
            ob->ctr.bytes += rc->v[k].bytes;
            nn++;
            k++;
        } else {
            nidx[nn++] = ob->idx[j++];
        }
    }
    free(ob->idx);
    ob->idx = nidx;
    ob->idx_head = 0;
    ob->idx_n = nn;
    ob->idx_cap = live + rc->n + 1;
    return 0;
}

int secmq__outbox_release_qos2(secmq__outbox *ob, int qos, uint64_t *count)
{
    struct rel_ctx rc = {NULL, 0, 0, 0};
    char err[SECMQ_ERRMSG_BYTES] = "";
    uint64_t released = 0;
    int code;

    pthread_mutex_lock(&ob->lock);
    if (ob->inf_n > 0 || ob->connected || ob->stop) {
        pthread_mutex_unlock(&ob->lock);
        return secmq__err_set(ob->h.err, SECMQ_E_STATE,
                              "outbox %s: release held QoS 2 rows before "
                              "connecting (rows are in flight)",
                              ob->path);
    }
    /* The writer connection is the commit thread's while it commits; the
     * lock keeps it from starting another transaction meanwhile. */
    while (ob->committing) {
        pthread_cond_wait(&ob->done, &ob->lock);
    }
    code = secmq__obstore_release(ob->st, qos, rel_row, &rc, err, sizeof err);
    if (code == SECMQ_OK && rc.nomem) {
        code = SECMQ_E_NOMEM;
        snprintf(err, sizeof err, "out of memory");
    }
    if (code == SECMQ_OK && idx_merge(ob, &rc, qos) != 0) {
        /* The file has them released; the next open finds them. */
        code = SECMQ_E_NOMEM;
        snprintf(err, sizeof err, "out of memory");
    }
    if (code != SECMQ_OK) {
        pthread_mutex_unlock(&ob->lock);
        free(rc.v);
        return secmq__err_set(ob->h.err, code, "%s", err);
    }
    for (size_t i = 0; i < rc.n; i++) {
        ob->ctr.held_qos2--;
        if (rc.v[i].damage != NULL) {
            ob->ctr.quarantined++;
            ob->ctr.damaged++;
            (void)secmq__outbox_push_id(&ob->bad_ids, &ob->bad_n, &ob->bad_cap,
                                        rc.v[i].id);
            secmq__log_write(ob->h.log, SECMQ_LOG_ERROR,
                             "outbox %s: held row %" PRIu64 " is damaged "
                             "(%s): set aside in the file's quarantine "
                             "table, never sent",
                             ob->path, rc.v[i].id, rc.v[i].damage);
            continue;
        }
        released++;
        if (ob->hand_cursor > rc.v[i].id) {
            ob->hand_cursor = rc.v[i].id;
        }
    }
    if (released > 0) {
        /* Read the rows to hand back from the file, from the oldest. */
        struct entry *e = ob->ready_head, *next;
        for (; e != NULL; e = next) {
            next = e->next;
            secmq__outbox_entry_free(e);
        }
        ob->ready_head = ob->ready_tail = NULL;
        ob->ready_bytes = 0;
        ob->ready_complete = 0;
        secmq__log_write(ob->h.log, SECMQ_LOG_INFO,
                         "outbox %s: %" PRIu64 " held QoS 2 row(s) released "
                         "at QoS %d; they are sent first",
                         ob->path, released, qos);
    }
    if (ob->bad_n > 0) {
        ob->bad_kick = 1;
        pthread_cond_signal(&ob->work);
    }
    pthread_mutex_unlock(&ob->lock);
    free(rc.v);
    if (count != NULL) {
        *count = released;
    }
    return SECMQ_OK;
}
