/*
 * outbox.c -- the durable outbox: its state, and the way out to MQTT.
 *
 * Opening (the store, the scan of rows left from before, the commit
 * thread) and closing; the index of live rows; handing committed rows to
 * MQTT in id order, at most max_inflight at a time, only while connected;
 * acks, reconnects, stats and waiting. The way in (bounds, the queue, group
 * commit) is outbox_commit.c's; the sqlite file is outbox_store.c's and
 * outbox_rows.c's; MQTT is reached only through the hooks client_outbox.c
 * provides. The order rules are explained in secmq/outbox.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_int.h"
#include "outbox_int.h"

/* Rows read from the file per load, when the rows to hand are not all in
 * memory (see READY_CAP_BYTES in outbox_commit.c). */
#define LOAD_ROWS 256

/* ---- small helpers ---- */

void secmq__outbox_entry_free(struct entry *e)
{
    if (e != NULL) {
        free(e->row.topic);
        free(e->row.payload);
        free(e);
    }
}

int secmq__outbox_push_id(uint64_t **arr, size_t *n, size_t *cap, uint64_t id)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        uint64_t *p = realloc(*arr, ncap * sizeof *p);
        if (p == NULL) {
            return -1;
        }
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*n)++] = id;
    return 0;
}

/* ---- the index of live rows ---- */

int secmq__outbox_idx_append(secmq__outbox *ob, uint64_t id, size_t bytes,
                             int state, int qos)
{
    if (ob->idx_n == ob->idx_cap) {
        if (ob->idx_head > 0) {
            memmove(ob->idx, ob->idx + ob->idx_head,
                    (ob->idx_n - ob->idx_head) * sizeof *ob->idx);
            ob->idx_n -= ob->idx_head;
            ob->idx_head = 0;
        }
        if (ob->idx_n == ob->idx_cap) {
            size_t ncap = ob->idx_cap ? ob->idx_cap * 2 : 1024;
            struct live *p = realloc(ob->idx, ncap * sizeof *p);
            if (p == NULL) {
                return -1;
            }
            ob->idx = p;
            ob->idx_cap = ncap;
        }
    }
    ob->idx[ob->idx_n].id = id;
    ob->idx[ob->idx_n].bytes = bytes;
    ob->idx[ob->idx_n].state = state;
    ob->idx[ob->idx_n].qos = qos;
    ob->idx_n++;
    ob->ctr.rows++;
    ob->ctr.bytes += bytes;
    return 0;
}

struct live *secmq__outbox_idx_find(secmq__outbox *ob, uint64_t id)
{
    size_t lo = ob->idx_head, hi = ob->idx_n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->idx[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < ob->idx_n && ob->idx[lo].id == id && ob->idx[lo].state != L_GONE) {
        return &ob->idx[lo];
    }
    return NULL;
}

/* The row is gone from memory's view; its delete is queued by the caller. */
void secmq__outbox_idx_gone(secmq__outbox *ob, struct live *l)
{
    l->state = L_GONE;
    ob->ctr.rows--;
    ob->ctr.bytes -= l->bytes;
    while (ob->idx_head < ob->idx_n && ob->idx[ob->idx_head].state == L_GONE) {
        ob->idx_head++;
    }
    if (ob->idx_head == ob->idx_n) {
        ob->idx_head = ob->idx_n = 0;
    }
}

/* Delete a row that was committed (ack, drop, failure). */
void secmq__outbox_forget(secmq__outbox *ob, struct live *l)
{
    uint64_t id = l->id;

    secmq__outbox_idx_gone(ob, l);
    if (secmq__outbox_push_id(&ob->dels, &ob->dels_n, &ob->dels_cap, id) != 0) {
        /* Out of memory: the row stays in the file and is sent again after
         * a restart (at least once). */
        secmq__log_write(ob->h.log, SECMQ_LOG_WARNING,
                         "outbox: out of memory queueing the delete of row "
                         "%" PRIu64 "; it may be sent again after a restart",
                         id);
    }
    pthread_cond_signal(&ob->work);
}

/* ---- handing rows to MQTT (lock held) ---- */

static void ready_push_front(secmq__outbox *ob, struct entry *e)
{
    e->next = ob->ready_head;
    ob->ready_head = e;
    if (ob->ready_tail == NULL) {
        ob->ready_tail = e;
    }
    ob->ready_bytes += e->row.len;
}

void secmq__outbox_ready_push_back(secmq__outbox *ob, struct entry *e)
{
    e->next = NULL;
    if (ob->ready_tail != NULL) {
        ob->ready_tail->next = e;
    } else {
        ob->ready_head = e;
    }
    ob->ready_tail = e;
    ob->ready_bytes += e->row.len;
}

static struct entry *ready_pop(secmq__outbox *ob)
{
    struct entry *e = ob->ready_head;

    if (e != NULL) {
        ob->ready_head = e->next;
        if (ob->ready_head == NULL) {
            ob->ready_tail = NULL;
        }
        ob->ready_bytes -= e->row.len;
        e->next = NULL;
    }
    return e;
}

struct load_ctx {
    secmq__outbox *ob;
    size_t n;
    uint64_t last_id;
    struct entry *one; /* single-row loads */
    int single;
};

static int load_row(void *ctx, secmq__obrow *row)
{
    struct load_ctx *lc = ctx;
    struct live *l = secmq__outbox_idx_find(lc->ob, row->id);
    struct entry *e;

    lc->n++;
    lc->last_id = row->id;
    if (row->damage != NULL) {
        /* SECURITY: a row that does not match its checksum is never
         * handed to MQTT. */
        if (l != NULL && l->state == L_STORED) {
            secmq__outbox_quarantine(lc->ob, l, row->damage);
        }
        return 0;
    }
    if (l == NULL || l->state != L_STORED) {
        /* Dropped or handed meanwhile. */
        free(row->topic);
        free(row->payload);
        return 0;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        free(row->topic);
        free(row->payload);
        return 1;
    }
    e->row = *row;
    e->bytes = l->bytes;
    if (lc->single) {
        lc->one = e;
        return 1;
    }
    secmq__outbox_ready_push_back(lc->ob, e);
    return 0;
}

/* Fill ready from the file: rows hand_cursor..committed_upto, none from
 * durable_gate on (their on_durable is being reported). */
static int load_ready(secmq__outbox *ob)
{
    struct load_ctx lc = {ob, 0, 0, NULL, 0};
    char err[SECMQ_ERRMSG_BYTES];
    uint64_t upto = ob->committed_upto;
    int rc;

    if (ob->durable_gate != 0 && ob->durable_gate - 1 < upto) {
        upto = ob->durable_gate - 1;
    }
    rc = secmq__obstore_load(ob->st, ob->hand_cursor, upto, LOAD_ROWS, load_row,
                             &lc, err, sizeof err);
    if (rc != SECMQ_OK) {
        secmq__log_write(ob->h.log, SECMQ_LOG_ERROR, "%s", err);
        if (ob->read_rc == SECMQ_OK) {
            secmq__err_set(ob->h.err, rc, "%s", err);
        }
        ob->read_rc = rc; /* waiters learn it (secmq__outbox_wait) */
        pthread_cond_broadcast(&ob->done);
        return rc;
    }
    ob->read_rc = SECMQ_OK;
    if (lc.n < LOAD_ROWS && upto == ob->committed_upto) {
        /* Everything committed from hand_cursor on is in ready now. */
        ob->ready_complete = 1;
    }
    if (lc.n > 0) {
        /* The next load starts after these: they are in ready or gone. */
        ob->hand_cursor = lc.last_id + 1;
    }
    if (lc.n < LOAD_ROWS && upto < ob->committed_upto) {
        /* Stopped at the gate: every row up to it is in ready or gone. */
        ob->hand_cursor = upto + 1;
    }
    return SECMQ_OK;
}

static struct entry *load_one(secmq__outbox *ob, uint64_t id)
{
    struct load_ctx lc = {ob, 0, 0, NULL, 1};
    char err[SECMQ_ERRMSG_BYTES];

    if (secmq__obstore_load(ob->st, id, id, 1, load_row, &lc, err,
                            sizeof err) != SECMQ_OK) {
        secmq__log_write(ob->h.log, SECMQ_LOG_ERROR, "%s", err);
    }
    return lc.one;
}

static int inflight_qos12(const secmq__outbox *ob)
{
    int n = 0;

    for (int i = 0; i < ob->inf_n; i++) {
        n += ob->inf[i].qos > 0;
    }
    return n;
}

/* Move up to room ids off the front of ids into r with code rc. Returns
 * how many. */
static size_t take_reports(uint64_t *ids, size_t *n, int rc, struct report *r,
                           size_t room)
{
    size_t k = *n < room ? *n : room;

    for (size_t i = 0; i < k; i++) {
        r[i].id = ids[i];
        r[i].rc = rc;
    }
    if (k > 0) {
        memmove(ids, ids + k, (*n - k) * sizeof *ids);
        *n -= k;
    }
    return k;
}

/*
 * Hand rows while connected and below max_inflight. Rows MQTT can never
 * send are deleted and reported through fails (at most nfails; the rest
 * wait for the next pump). Returns the number of reports.
 */
size_t secmq__outbox_pump(secmq__outbox *ob, struct report *fails,
                          size_t nfails)
{
    size_t nf = 0;

    for (;;) {
        struct entry *e = NULL;
        struct live *l;
        int from_rehand = 0, mid = 0, rc, urgent;

        nf += take_reports(ob->bad_ids, &ob->bad_n, SECMQ_E_DB, fails + nf,
                           nfails - nf);
        nf += take_reports(ob->held_ids, &ob->held_n, SECMQ_E_QOS_UNSUPPORTED,
                           fails + nf, nfails - nf);
        nf += take_reports(ob->erased_ids, &ob->erased_n, SECMQ_E_NO_KEY,
                           fails + nf, nfails - nf);
        /* Rows held for receipts that a reconnect made due go out at
         * once (inside on_connect, before libmosquitto's own resends of
         * newer rows): secmq/receipt.h. */
        urgent = ob->resend_now && ob->rehand_n > 0 &&
                 ob->inf_n < ob->cfg.max_inflight + OB_URGENT_MAX;
        if (!urgent) {
            ob->resend_now = 0;
        }
        if (!ob->connected || nf >= nfails ||
            (!urgent &&
             (ob->resume_wait || ob->inf_n >= ob->cfg.max_inflight))) {
            break;
        }
        if (ob->rehand_n > 0) {
            uint64_t id = ob->rehand[0];
            memmove(ob->rehand, ob->rehand + 1,
                    (ob->rehand_n - 1) * sizeof *ob->rehand);
            ob->rehand_n--;
            e = load_one(ob, id);
            if (e == NULL) {
                continue;
            }
            from_rehand = 1;
        } else if (ob->ready_head != NULL) {
            e = ready_pop(ob);
        } else if (!ob->ready_complete &&
                   ob->hand_cursor <= ob->committed_upto &&
                   (ob->durable_gate == 0 ||
                    ob->hand_cursor < ob->durable_gate)) {
            if (load_ready(ob) != SECMQ_OK) {
                break;
            }
            continue;
        } else {
            break;
        }
        l = secmq__outbox_idx_find(ob, e->row.id);
        if (l == NULL || l->state != L_STORED) {
            secmq__outbox_entry_free(e); /* dropped while it waited */
            continue;
        }
        if (!from_rehand && ob->durable_gate != 0 &&
            e->row.id >= ob->durable_gate) {
            /* Its on_durable is being reported: the commit thread pumps
             * once it has been. */
            ready_push_front(ob, e);
            break;
        }
        if (e->row.sealed && ob->h.key_erased != NULL &&
            ob->h.key_erased(ob->h.ctx, e->row.payload, e->row.len)) {
            /* SECURITY: sealed under a key this keyring has erased (an
             * epoch, or a previous key, past its grace): receivers refuse
             * it, and no plaintext is kept to seal it again. */
            if (e->row.id >= ob->hand_cursor) {
                ob->hand_cursor = e->row.id + 1;
            }
            secmq__outbox_set_erased(ob, l, e->row.topic);
            secmq__outbox_entry_free(e);
            continue;
        }
        if (secmq__obrc_on_hand(ob, e) != 0) {
            /* The receipt window is full: this row and those after it
             * wait for receipts of older ones. */
            ready_push_front(ob, e);
            break;
        }
        rc = ob->h.send(ob->h.ctx, &mid, e->row.topic, e->row.payload,
                        e->row.len, e->row.qos, e->row.retain);
        if (rc == SECMQ_OK) {
            ob->inf[ob->inf_n].mid = mid;
            ob->inf[ob->inf_n].qos = e->row.qos;
            ob->inf[ob->inf_n].id = e->row.id;
            ob->inf_n++;
            l->state = L_HANDED;
            if (e->row.id >= ob->hand_cursor) {
                ob->hand_cursor = e->row.id + 1;
            }
            ob->ctr.sent++;
            secmq__outbox_entry_free(e);
        } else if (rc == SECMQ_E_NO_CONN || rc == SECMQ_E_NOMEM) {
            /* Not sent (QoS 0 without a link, or no memory): later. */
            if (from_rehand) {
                (void)secmq__outbox_push_id(&ob->rehand, &ob->rehand_n,
                                            &ob->rehand_cap, e->row.id);
                secmq__outbox_entry_free(e);
            } else {
                ready_push_front(ob, e);
            }
            break;
        } else if (rc == SECMQ_E_QOS_UNSUPPORTED) {
            /* This broker has no QoS 2: kept, set aside, reported. */
            secmq__outbox_hold(ob, l);
            secmq__outbox_entry_free(e);
        } else {
            secmq__log_write(ob->h.log, SECMQ_LOG_ERROR,
                             "outbox %s: row %" PRIu64 " on '%s' cannot be "
                             "sent (%s); deleted",
                             ob->path, e->row.id, e->row.topic,
                             secmq_strerror(rc));
            if (e->row.id >= ob->hand_cursor) {
                ob->hand_cursor = e->row.id + 1;
            }
            fails[nf].id = e->row.id;
            fails[nf].rc = rc;
            nf++;
            ob->ctr.failed++;
            secmq__outbox_forget(ob, l);
            secmq__outbox_entry_free(e);
        }
    }
    if (ob->bad_n > 0 || ob->held_n > 0 || ob->erased_n > 0) {
        /* More to report than fails could take: the commit thread pumps
         * again. */
        ob->bad_kick = 1;
        pthread_cond_signal(&ob->work);
    }
    return nf;
}

void secmq__outbox_report_fails(secmq__outbox *ob, const struct report *r,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ob->h.delivered != NULL) {
            ob->h.delivered(ob->h.ctx, r[i].id, r[i].rc);
        }
    }
}

/* ---- opening and closing ---- */

static void scan_row(void *ctx, uint64_t id, size_t bytes, int qos)
{
    secmq__outbox *ob = ctx;

    if (secmq__outbox_idx_append(ob, id, bytes, L_STORED, qos) == 0) {
        ob->ctr.recovered++;
    }
    ob->committed_upto = id;
    ob->next_id = id + 1;
}

static void scan_bad(void *ctx, uint64_t id, const char *reason)
{
    secmq__outbox *ob = ctx;

    ob->ctr.damaged++;
    (void)secmq__outbox_push_id(&ob->bad_ids, &ob->bad_n, &ob->bad_cap, id);
    secmq__log_write(ob->h.log, SECMQ_LOG_ERROR,
                     "outbox %s: row %" PRIu64 " is damaged (%s): set aside "
                     "in the file's quarantine table, never sent",
                     ob->path, id, reason);
}

static int check_cfg(const secmq_outbox_config *cfg, secmq__err *err)
{
    if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0') {
        return secmq__err_set(err, SECMQ_E_INVAL, "outbox: no file given");
    }
    if (cfg->max_rows == 0 || cfg->max_bytes == 0) {
        return secmq__err_set(err, SECMQ_E_INVAL,
                              "outbox: max_rows and max_bytes must be at "
                              "least 1");
    }
    if (cfg->max_inflight < 1 ||
        cfg->max_inflight > SECMQ_OUTBOX_MAX_INFLIGHT) {
        return secmq__err_set(err, SECMQ_E_INVAL,
                              "outbox: max_inflight %d is not within 1..%d",
                              cfg->max_inflight, SECMQ_OUTBOX_MAX_INFLIGHT);
    }
    if (cfg->max_batch < 1 || cfg->max_batch > 100000) {
        return secmq__err_set(err, SECMQ_E_INVAL,
                              "outbox: max_batch %d is not within 1..100000",
                              cfg->max_batch);
    }
    if ((cfg->sync != SECMQ_OUTBOX_SYNC_FULL &&
         cfg->sync != SECMQ_OUTBOX_SYNC_NORMAL) ||
        (cfg->policy != SECMQ_OUTBOX_REFUSE_NEW &&
         cfg->policy != SECMQ_OUTBOX_DROP_OLDEST)) {
        return secmq__err_set(err, SECMQ_E_INVAL,
                              "outbox: unknown sync mode or policy");
    }
    return SECMQ_OK;
}

int secmq__outbox_open(secmq__outbox **out, const secmq_outbox_config *cfg,
                       const secmq__outbox_hooks *hooks)
{
    secmq__outbox *ob;
    secmq__obscan info;
    char err[SECMQ_ERRMSG_BYTES] = "";
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    rc = check_cfg(cfg, hooks->err);
    if (rc != SECMQ_OK) {
        return rc;
    }
    ob = calloc(1, sizeof *ob);
    if (ob == NULL || secmq__strdup_opt(&ob->path, cfg->path) != 0) {
        free(ob);
        return secmq__err_set(hooks->err, SECMQ_E_NOMEM, "out of memory");
    }
    ob->h = *hooks;
    ob->cfg = *cfg;
    ob->cfg.path = ob->path;
    ob->next_id = 1;
    ob->hand_cursor = 1;
    secmq_receipt_wait_init(&ob->rw);
    pthread_mutex_init(&ob->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ob->work, &ca);
    pthread_cond_init(&ob->done, &ca);
    pthread_condattr_destroy(&ca);
    ob->inf =
        calloc((size_t)cfg->max_inflight + OB_URGENT_MAX, sizeof *ob->inf);
    ob->async_buf = calloc((size_t)cfg->max_batch, sizeof *ob->async_buf);
    ob->rows_buf = calloc((size_t)cfg->max_batch, sizeof *ob->rows_buf);
    if (ob->inf == NULL || ob->async_buf == NULL || ob->rows_buf == NULL) {
        rc = secmq__err_set(hooks->err, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    rc = secmq__obstore_open(&ob->st, cfg->path,
                             cfg->sync == SECMQ_OUTBOX_SYNC_FULL, err,
                             sizeof err);
    if (rc == SECMQ_OK) {
        rc = secmq__obstore_scan(ob->st, scan_row, scan_bad, ob, &info, err,
                                 sizeof err);
    }
    if (rc != SECMQ_OK) {
        secmq__err_set(hooks->err, rc, "%s", err);
        goto err;
    }
    /* Ids go on after every row in the file, set-aside ones too. */
    ob->next_id = info.max_id + 1;
    ob->committed_upto = info.max_id;
    ob->ctr.quarantined = info.quarantined;
    ob->ctr.held_qos2 = info.held_qos2;
    ob->ctr.key_erased = info.key_erased;
    if (info.upgraded) {
        secmq__log_write(hooks->log, SECMQ_LOG_INFO,
                         "outbox %s: upgraded from format version 1 to 2 "
                         "(row checksums)%s",
                         ob->path,
                         info.upgrade_bad > 0 ? "; unreadable rows were set "
                                                "aside"
                                              : "");
    }
    if (info.quarantined > ob->ctr.damaged) {
        secmq__log_write(hooks->log, SECMQ_LOG_WARNING,
                         "outbox %s: %" PRIu64 " damaged row(s) set aside "
                         "earlier stay in its quarantine table; they are "
                         "never sent",
                         ob->path, info.quarantined - ob->ctr.damaged);
    }
    secmq__outbox_aside_at_open(ob, &info);
    ob->ready_complete = ob->ctr.rows == 0;
    if (ob->ctr.recovered > 0) {
        ob->hand_cursor = ob->idx[ob->idx_head].id;
        secmq__log_write(hooks->log, SECMQ_LOG_INFO,
                         "outbox %s: %" PRIu64 " message(s), %" PRIu64
                         " bytes, left from before; they are sent first",
                         ob->path, ob->ctr.rows, ob->ctr.bytes);
    }
    if (pthread_create(&ob->thread, NULL, secmq__outbox_commit_main, ob) != 0) {
        rc = secmq__err_set(hooks->err, SECMQ_E_NOMEM,
                            "outbox: cannot start the commit thread");
        goto err;
    }
    ob->thread_started = 1;
    *out = ob;
    return SECMQ_OK;
err:
    secmq__outbox_free(ob);
    return rc;
}

void secmq__outbox_free(secmq__outbox *ob)
{
    struct entry *e, *next;

    if (ob == NULL) {
        return;
    }
    if (ob->thread_started) {
        pthread_mutex_lock(&ob->lock);
        ob->stop = 1;
        ob->connected = 0; /* nothing more is handed: MQTT is gone */
        pthread_cond_broadcast(&ob->work);
        pthread_mutex_unlock(&ob->lock);
        pthread_join(ob->thread, NULL);
    }
    for (e = ob->pend_head; e != NULL; e = next) {
        next = e->next;
        secmq__outbox_entry_free(e);
    }
    for (e = ob->ready_head; e != NULL; e = next) {
        next = e->next;
        secmq__outbox_entry_free(e);
    }
    secmq__obstore_close(ob->st);
    pthread_cond_destroy(&ob->work);
    pthread_cond_destroy(&ob->done);
    pthread_mutex_destroy(&ob->lock);
    free(ob->dels);
    free(ob->quars);
    free(ob->bad_ids);
    free(ob->held_ids);
    free(ob->erased_ids);
    free(ob->rehand);
    secmq__obrc_free(ob);
    free(ob->idx);
    free(ob->inf);
    free(ob->async_buf);
    free(ob->rows_buf);
    free(ob->path);
    free(ob);
}

/* ---- events from MQTT ---- */

void secmq__outbox_connected(secmq__outbox *ob)
{
    struct report fails[16];
    size_t nf;

    pthread_mutex_lock(&ob->lock);
    ob->connected = !ob->detached;
    /* libmosquitto resends what it holds once on_connect has returned;
     * hand nothing new before the first of those is acknowledged. */
    ob->resume_wait = inflight_qos12(ob) > 0;
    secmq__obrc_connected(ob);
    ob->resend_now = ob->rehand_n > 0;
    nf = secmq__outbox_pump(ob, fails, sizeof fails / sizeof fails[0]);
    pthread_cond_signal(&ob->work); /* resend deadlines run again */
    pthread_mutex_unlock(&ob->lock);
    secmq__outbox_report_fails(ob, fails, nf);
}

void secmq__outbox_disconnected(secmq__outbox *ob)
{
    pthread_mutex_lock(&ob->lock);
    ob->connected = 0;
    /* QoS 0 rows libmosquitto had not written are lost with the link:
     * hand them again after the reconnect (ids ascending). */
    for (int i = 0; i < ob->inf_n;) {
        if (ob->inf[i].qos == 0) {
            struct live *l = secmq__outbox_idx_find(ob, ob->inf[i].id);
            if (l != NULL) {
                l->state = L_STORED;
                (void)secmq__outbox_push_id(&ob->rehand, &ob->rehand_n,
                                            &ob->rehand_cap, ob->inf[i].id);
            }
            ob->inf[i] = ob->inf[--ob->inf_n];
        } else {
            i++;
        }
    }
    for (size_t i = 1; i < ob->rehand_n; i++) {
        uint64_t v = ob->rehand[i];
        size_t j = i;
        while (j > 0 && ob->rehand[j - 1] > v) {
            ob->rehand[j] = ob->rehand[j - 1];
            j--;
        }
        ob->rehand[j] = v;
    }
    pthread_mutex_unlock(&ob->lock);
}

void secmq__outbox_detach(secmq__outbox *ob)
{
    if (ob != NULL) {
        pthread_mutex_lock(&ob->lock);
        ob->detached = 1;
        ob->connected = 0;
        pthread_mutex_unlock(&ob->lock);
    }
}

int secmq__outbox_completed(secmq__outbox *ob, int mid, int rc)
{
    struct report fails[16];
    size_t nf;
    uint64_t id = 0;
    int found = -1, held, dup = 0;

    pthread_mutex_lock(&ob->lock);
    for (int i = 0; i < ob->inf_n; i++) {
        if (ob->inf[i].mid == mid) {
            found = i;
            break;
        }
    }
    if (found < 0) {
        pthread_mutex_unlock(&ob->lock);
        return 0;
    }
    id = ob->inf[found].id;
    /* Keep the in-flight list in handing order (a few entries). */
    memmove(&ob->inf[found], &ob->inf[found + 1],
            (size_t)(ob->inf_n - found - 1) * sizeof *ob->inf);
    ob->inf_n--;
    held = secmq__obrc_acked(ob, id, rc);
    if (!held) {
        struct live *l = secmq__outbox_idx_find(ob, id);
        if (l != NULL) {
            secmq__outbox_forget(ob, l);
        } else {
            /* A second copy of a row held for receipts that a reconnect
             * handed again (outbox_rcpt.c): it was reported already. */
            dup = 1;
        }
    }
    ob->ctr.acked += !dup;
    ob->resume_wait = 0;
    nf = secmq__outbox_pump(ob, fails, sizeof fails / sizeof fails[0]);
    pthread_cond_broadcast(&ob->done);
    pthread_mutex_unlock(&ob->lock);
    if (!held && !dup && ob->h.delivered != NULL) {
        ob->h.delivered(ob->h.ctx, id, rc);
    }
    secmq__obrc_flush(ob);
    secmq__outbox_report_fails(ob, fails, nf);
    return 1;
}

void secmq__outbox_stats(secmq__outbox *ob, secmq_outbox_stats *st)
{
    pthread_mutex_lock(&ob->lock);
    *st = ob->ctr;
    st->inflight = (uint64_t)ob->inf_n;
    st->undeleted = (uint64_t)(ob->dels_n + ob->committing_dels);
    st->max_rows = ob->cfg.max_rows;
    st->max_bytes = ob->cfg.max_bytes;
    pthread_mutex_unlock(&ob->lock);
}

int secmq__outbox_wait(secmq__outbox *ob, int what, int timeout_ms)
{
    int64_t deadline =
        timeout_ms < 0 ? INT64_MAX : secmq__now_ms() + timeout_ms;
    int rc = SECMQ_OK;

    if (what != SECMQ_OUTBOX_WAIT_DURABLE && what != SECMQ_OUTBOX_WAIT_EMPTY) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&ob->lock);
    for (;;) {
        int ok = what == SECMQ_OUTBOX_WAIT_DURABLE
                     ? ob->pend_head == NULL && !ob->committing
                     : ob->ctr.rows == 0 && ob->dels_n == 0 &&
                           ob->committing_dels == 0 && ob->bad_n == 0 &&
                           ob->held_n == 0 && ob->erased_n == 0;
        int64_t left;
        struct timespec ts;

        if (ok) {
            break;
        }
        if (what == SECMQ_OUTBOX_WAIT_EMPTY && ob->ctr.rows == 0 &&
            ob->dels_n > 0 && !ob->committing &&
            ob->last_commit_rc != SECMQ_OK) {
            /* Every row left, but their deletes cannot be written. */
            rc = ob->last_commit_rc;
            break;
        }
        if (what == SECMQ_OUTBOX_WAIT_EMPTY && ob->read_rc != SECMQ_OK) {
            rc = ob->read_rc; /* rows cannot be read back to send */
            break;
        }
        left = deadline - secmq__now_ms();
        if (left <= 0) {
            rc = SECMQ_E_TIMEOUT;
            break;
        }
        if (left > 1000) {
            left = 1000;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ob->done, &ob->lock, &ts);
    }
    pthread_mutex_unlock(&ob->lock);
    return rc;
}
