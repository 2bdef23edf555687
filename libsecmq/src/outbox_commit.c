/*
 * outbox_commit.c -- the durable outbox's way in: bounds, queue, group commit.
 *
 * Publishers append rows to a queue under the bounds (refuse new, or drop
 * the oldest) and sleep; one commit thread writes everything queued in one
 * transaction (so many publishers, or one fast ASYNC publisher, share each
 * fsync), with the deletes of acknowledged rows riding along, then lets
 * outbox.c hand the rows to MQTT. Not the handing itself, nor sqlite.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_int.h"
#include "outbox_int.h"

/* The payload bytes kept in memory for rows committed but not yet handed
 * (more are read back from the file when needed). */
#define READY_CAP_BYTES (4u * 1024u * 1024u)
/* A transaction with only deletes waits this long for company. */
#define DELETE_DELAY_MS 20
/* At most one "full" warning line per this many ms. */
#define WARN_EVERY_MS 1000

/* ---- logging of the bounds, at most once a second ---- */

/* Format a warning about refusals/drops into line (lock held); "" when it
 * is too soon. The caller logs it after unlocking. */
static void full_warning(secmq__outbox *ob, char *line, size_t len)
{
    int64_t now = secmq__now_ms();

    line[0] = '\0';
    if (ob->unreported_refused == 0 && ob->unreported_dropped == 0) {
        return;
    }
    if (ob->last_warn_ms != 0 && now - ob->last_warn_ms < WARN_EVERY_MS) {
        return;
    }
    snprintf(line, len,
             "outbox %s is full (%" PRIu64 " rows, %" PRIu64
             " bytes; bounds %" PRIu64 " rows, %" PRIu64 " bytes): %s %" PRIu64
             " since the last report (%" PRIu64 " in all)",
             ob->path, ob->ctr.rows, ob->ctr.bytes, ob->cfg.max_rows,
             ob->cfg.max_bytes,
             ob->cfg.policy == SECMQ_OUTBOX_DROP_OLDEST
                 ? "dropped the oldest message,"
                 : "refused new messages,",
             ob->cfg.policy == SECMQ_OUTBOX_DROP_OLDEST
                 ? ob->unreported_dropped
                 : ob->unreported_refused,
             ob->cfg.policy == SECMQ_OUTBOX_DROP_OLDEST ? ob->ctr.dropped_oldest
                                                        : ob->ctr.refused_full);
    ob->unreported_refused = 0;
    ob->unreported_dropped = 0;
    ob->last_warn_ms = now;
}

/* ---- the commit thread ---- */

/* Take up to max_batch queued rows (lock held). */
static struct entry *take_batch(secmq__outbox *ob, size_t *n)
{
    struct entry *head = ob->pend_head, *e = head, *last = NULL;
    size_t k = 0;

    while (e != NULL && k < (size_t)ob->cfg.max_batch) {
        last = e;
        e = e->next;
        k++;
    }
    if (last != NULL) {
        last->next = NULL;
    }
    ob->pend_head = e;
    if (e == NULL) {
        ob->pend_tail = NULL;
    }
    ob->pend_n -= k;
    *n = k;
    return k > 0 ? head : NULL;
}

/* After a transaction (lock held): mark rows, wake waiters, keep rows to
 * hand. Async rows are collected into *async for on_durable. */
static void settle(secmq__outbox *ob, struct entry *batch, int rc,
                   struct report *async, size_t *nasync)
{
    struct entry *e = batch, *next;

    if (rc == SECMQ_OK) {
        ob->ctr.commits++;
    } else {
        ob->ctr.commit_errors++;
    }
    for (; e != NULL; e = next) {
        struct live *l = secmq__outbox_idx_find(ob, e->row.id);
        next = e->next;
        e->next = NULL;
        if (rc == SECMQ_OK) {
            ob->ctr.committed++;
            ob->committed_upto = e->row.id;
            if (l != NULL && l->state == L_PENDING) {
                l->state = L_STORED;
                if (ob->qos2_refused && l->qos == 2) {
                    secmq__outbox_hold(ob, l); /* see outbox_held.c */
                }
            }
        } else if (l != NULL) {
            secmq__outbox_idx_gone(ob, l); /* never reached the file */
        }
        if (e->waiter != NULL) {
            e->waiter->rc = rc;
            e->waiter->done = 1;
        }
        if (e->async) {
            async[*nasync].id = e->row.id;
            async[*nasync].rc = rc;
            (*nasync)++;
        }
        if (rc == SECMQ_OK && ob->ready_complete &&
            ob->ready_bytes + e->row.len <= READY_CAP_BYTES) {
            secmq__outbox_ready_push_back(ob, e);
        } else {
            if (rc == SECMQ_OK) {
                ob->ready_complete = 0; /* read back from the file later */
            }
            secmq__outbox_entry_free(e);
        }
    }
    if (rc != SECMQ_OK && ob->pend_head == NULL) {
        /* Later ids follow the failed ones: nothing gap-worthy. */
        ob->committed_upto = ob->next_id - 1;
    }
}

/* Nothing to commit: keep the deadlines of rows held for receipts
 * (resends fall due, rows are given up), then sleep until the next one or
 * more work (lock held). */
static void idle_wait(secmq__outbox *ob, struct report *fails, size_t nfails)
{
    int64_t next = secmq__obrc_tick(ob);

    if (ob->rcr_n > 0 || ob->rehand_n > 0) {
        size_t nf = secmq__outbox_pump(ob, fails, nfails);
        pthread_mutex_unlock(&ob->lock);
        secmq__obrc_flush(ob);
        secmq__outbox_report_fails(ob, fails, nf);
        pthread_mutex_lock(&ob->lock);
        next = secmq__obrc_tick(ob);
    }
    if (ob->stop || ob->pend_head != NULL || ob->dels_n > 0 ||
        ob->quars_n > 0 || ob->bad_kick) {
        return;
    }
    if (next < 0) {
        pthread_cond_wait(&ob->work, &ob->lock);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        next += 1; /* past the deadline, not just before it */
        ts.tv_sec += next / 1000;
        ts.tv_nsec += (long)(next % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ob->work, &ob->lock, &ts);
    }
}

void *secmq__outbox_commit_main(void *arg)
{
    secmq__outbox *ob = arg;
    struct report *async = ob->async_buf;
    struct report fails[16];
    secmq__obrow *rows = ob->rows_buf;

    (void)pthread_setname_np(pthread_self(), "secmq-outbox");
    pthread_mutex_lock(&ob->lock);
    for (;;) {
        struct entry *batch;
        uint64_t *dels;
        size_t n = 0, ndels, nasync = 0, nf;
        char err[SECMQ_ERRMSG_BYTES] = "";
        char warn[400];
        int rc;

        secmq__obquar *quars;
        size_t nquars;

        while (!ob->stop && ob->pend_head == NULL && ob->dels_n == 0 &&
               ob->quars_n == 0 && !ob->bad_kick) {
            idle_wait(ob, fails, sizeof fails / sizeof fails[0]);
        }
        ob->bad_kick = 0;
        if (ob->pend_head == NULL && ob->dels_n == 0 && ob->quars_n == 0) {
            if (ob->stop) {
                break; /* stop, and nothing left to write */
            }
            /* Only damaged rows to report (more than one pump took). */
            nf = secmq__outbox_pump(ob, fails, sizeof fails / sizeof fails[0]);
            pthread_mutex_unlock(&ob->lock);
            secmq__outbox_report_fails(ob, fails, nf);
            pthread_mutex_lock(&ob->lock);
            continue;
        }
        if (ob->pend_head == NULL && !ob->stop &&
            ob->dels_n < (size_t)ob->cfg.max_batch) {
            /* Only deletes: let a few more acks (or rows) join. */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += DELETE_DELAY_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ob->work, &ob->lock, &ts);
        }
        batch = take_batch(ob, &n);
        dels = ob->dels;
        ndels = ob->dels_n;
        ob->dels = NULL;
        ob->dels_n = ob->dels_cap = 0;
        quars = ob->quars;
        nquars = ob->quars_n;
        ob->quars = NULL;
        ob->quars_n = ob->quars_cap = 0;
        ob->committing = 1;
        ob->committing_dels = ndels;
        pthread_mutex_unlock(&ob->lock);

        {
            size_t i = 0;
            for (struct entry *e = batch; e != NULL; e = e->next) {
                rows[i++] = e->row;
            }
        }
        rc = secmq__obstore_commit(ob->st, rows, n, dels, ndels, quars, nquars,
                                   err, sizeof err);
        if (rc != SECMQ_OK) {
            int64_t now = secmq__now_ms();
            /* A failing disk retries deletes every 200 ms: one line a
             * second is enough. */
            if (n > 0 || now - ob->last_err_ms >= WARN_EVERY_MS) {
                secmq__log_write(ob->h.log, SECMQ_LOG_ERROR, "%s", err);
                ob->last_err_ms = now;
            }
            if (ob->h.err != NULL) {
                secmq__err_set(ob->h.err, rc, "%s", err);
            }
        }

        pthread_mutex_lock(&ob->lock);
        ob->committing = 0;
        ob->committing_dels = 0;
        if (ndels > 0) {
            ob->last_commit_rc = rc; /* of the last try at deleting */
        }
        if (rc != SECMQ_OK && !ob->stop) {
            /* Keep the deletes and quarantine records for the next try (at
             * close they are dropped: the rows are sent again after a
             * restart, damaged ones found again). */
            for (size_t i = 0; i < ndels; i++) {
                (void)secmq__outbox_push_id(&ob->dels, &ob->dels_n,
                                            &ob->dels_cap, dels[i]);
            }
            if (ob->quars == NULL) {
                ob->quars = quars;
                ob->quars_n = ob->quars_cap = nquars;
                quars = NULL;
            }
        }
        free(dels);
        free(quars);
        settle(ob, batch, rc, async, &nasync);
        full_warning(ob, warn, sizeof warn);
        pthread_cond_broadcast(&ob->done);
        if (nasync > 0) {
            /* A row's on_durable comes before its on_delivered: while the
             * lock is released for the reports, the loop thread (acks of
             * earlier rows) must not hand the rows of this batch. */
            ob->durable_gate = async[0].id;
            pthread_mutex_unlock(&ob->lock);
            for (size_t i = 0; i < nasync; i++) {
                if (ob->h.durable != NULL) {
                    ob->h.durable(ob->h.ctx, async[i].id, async[i].rc);
                }
            }
            pthread_mutex_lock(&ob->lock);
            ob->durable_gate = 0;
        }
        nf = secmq__outbox_pump(ob, fails, sizeof fails / sizeof fails[0]);
        pthread_mutex_unlock(&ob->lock);

        if (warn[0] != '\0') {
            secmq__log_write(ob->h.log, SECMQ_LOG_WARNING, "%s", warn);
        }
        secmq__outbox_report_fails(ob, fails, nf);
        if (rc != SECMQ_OK && (ndels > 0 || nquars > 0) && n == 0) {
            /* A failing disk: do not spin on the deletes. */
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&ob->lock);
    }
    pthread_cond_broadcast(&ob->done);
    pthread_mutex_unlock(&ob->lock);
    return NULL;
}

/* ---- publishing ---- */

int secmq__outbox_wants(const secmq__outbox *ob, int qos)
{
    return ob != NULL && (qos > 0 || ob->cfg.qos0);
}

/* Make room under SECMQ_OUTBOX_DROP_OLDEST (lock held): 0, or -1 when no
 * row can be dropped (all are in flight or not yet committed). */
static int drop_oldest(secmq__outbox *ob, size_t need)
{
    size_t i = ob->idx_head;

    while (ob->ctr.rows + 1 > ob->cfg.max_rows ||
           ob->ctr.bytes + need > ob->cfg.max_bytes) {
        while (i < ob->idx_n && ob->idx[i].state != L_STORED) {
            i++;
        }
        if (i >= ob->idx_n) {
            return -1;
        }
        ob->ctr.dropped_oldest++;
        ob->unreported_dropped++;
        secmq__outbox_forget(ob, &ob->idx[i]);
        /* secmq__outbox_forget() may move idx_head past i, never the entries.
         */
        if (i < ob->idx_head) {
            i = ob->idx_head;
        }
    }
    return 0;
}

int secmq__outbox_put(secmq__outbox *ob, uint64_t *id, const char *topic,
                      const void *payload, size_t len, int qos, int retain,
                      int sealed, int wait)
{
    struct entry *e = calloc(1, sizeof *e);
    struct waiter w = {0, SECMQ_OK};
    size_t tlen = strlen(topic), bytes = tlen + len;
    char warn[400];
    int rc = SECMQ_OK;

    if (e == NULL || secmq__strdup_opt(&e->row.topic, topic) != 0 ||
        (e->row.payload = malloc(len > 0 ? len : 1)) == NULL) {
        secmq__outbox_entry_free(e);
        return SECMQ_E_NOMEM;
    }
    if (len > 0) {
        memcpy(e->row.payload, payload, len);
    }
    e->row.len = len;
    e->row.qos = qos;
    e->row.retain = retain ? 1 : 0;
    e->row.sealed = sealed;
    e->bytes = bytes;
    e->async = !wait;
    e->waiter = wait ? &w : NULL;

    pthread_mutex_lock(&ob->lock);
    if (ob->stop) {
        rc = SECMQ_E_STATE;
    } else if (bytes > ob->cfg.max_bytes) {
        ob->ctr.refused_full++;
        ob->unreported_refused++;
        rc = secmq__err_set(ob->h.err, SECMQ_E_FULL,
                            "outbox %s: a message of %zu bytes is larger "
                            "than the outbox's bound of %" PRIu64 " bytes",
                            ob->path, bytes, ob->cfg.max_bytes);
    } else if (ob->ctr.rows + 1 > ob->cfg.max_rows ||
               ob->ctr.bytes + bytes > ob->cfg.max_bytes) {
        if (ob->cfg.policy == SECMQ_OUTBOX_REFUSE_NEW ||
            drop_oldest(ob, bytes) != 0) {
            ob->ctr.refused_full++;
            ob->unreported_refused++;
            rc = secmq__err_set(ob->h.err, SECMQ_E_FULL,
                                "outbox %s is full: %" PRIu64
                                " messages, %" PRIu64 " bytes (bounds %" PRIu64
                                " messages, %" PRIu64 " bytes)",
                                ob->path, ob->ctr.rows, ob->ctr.bytes,
                                ob->cfg.max_rows, ob->cfg.max_bytes);
        }
    }
    if (rc == SECMQ_OK &&
        secmq__outbox_idx_append(ob, ob->next_id, bytes, L_PENDING, qos) != 0) {
        rc = SECMQ_E_NOMEM;
    }
    if (rc != SECMQ_OK) {
        full_warning(ob, warn, sizeof warn);
        pthread_mutex_unlock(&ob->lock);
        if (warn[0] != '\0') {
            secmq__log_write(ob->h.log, SECMQ_LOG_WARNING, "%s", warn);
        }
        secmq__outbox_entry_free(e);
        return rc;
    }
    e->row.id = ob->next_id++;
    if (id != NULL) {
        *id = e->row.id;
    }
    ob->ctr.queued++;
    if (ob->pend_tail != NULL) {
        ob->pend_tail->next = e;
    } else {
        ob->pend_head = e;
    }
    ob->pend_tail = e;
    ob->pend_n++;
    pthread_cond_signal(&ob->work);
    full_warning(ob, warn, sizeof warn);
    if (wait) {
        while (!w.done) {
            pthread_cond_wait(&ob->done, &ob->lock);
        }
        rc = w.rc;
    }
    pthread_mutex_unlock(&ob->lock);
    if (warn[0] != '\0') {
        secmq__log_write(ob->h.log, SECMQ_LOG_WARNING, "%s", warn);
    }
    return rc;
}
