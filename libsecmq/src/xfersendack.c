/*
 * xfersendack.c -- the sender's side of the broker's answers: acks of its
 * chunks and manifests (PUBACK, or an outbox row committed / delivered),
 * which of the client's acks are the sender's, and what still awaits one.
 * Not the publishing itself (xfersend.c).
 */
#include <stdio.h>

#include "xfersend_int.h"

/* Remember a publish no flight holds until its ack comes; the oldest is
 * forgotten (its ack is long overdue). */
void secmq__xs_late_push(secmq_file_sender *s, int mid, uint64_t id)
{
    s->late[s->late_next].mid = mid;
    s->late[s->late_next].id = id;
    s->late_next = (s->late_next + 1u) % s->nlate;
}

/* 1 (and forgotten) if the ack of packet mid / row id is a late one. */
static int late_take(secmq_file_sender *s, int mid, uint64_t id)
{
    for (unsigned i = 0; i < s->nlate; i++) {
        struct late *l = &s->late[i];
        if ((mid != 0 && l->mid == mid) || (id != 0 && l->id == id)) {
            l->mid = 0;
            l->id = 0;
            return 1;
        }
    }
    return 0;
}

/*
 * The broker answered for flight fl: free its slot; on an error (rc) the
 * file fails. Returns the flight's file when rc is SECMQ_OK, else NULL.
 */
static sfile *flight_done(secmq_file_sender *s, flight *fl, int rc)
{
    sfile *f = fl->f;

    fl->f = NULL;
    s->inflight--;
    if (rc != SECMQ_OK) {
        char why[900];
        snprintf(why, sizeof why, "the broker refused chunk %u of %s: %s",
                 fl->index, f->m.name, secmq_strerror(rc));
        secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL, SECMQ_FILE_R_NONE,
                         rc, why);
        secmq__xs_start_next(s);
        return NULL;
    }
    return f;
}

void secmq_file_sender_handle_publish(secmq_file_sender *s, int mid, int rc)
{
    (void)secmq_file_sender_handle_publish_v2(s, mid, rc);
}

int secmq_file_sender_handle_publish_v2(secmq_file_sender *s, int mid, int rc)
{
    int mine = 0;

    if (s == NULL) {
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    mine = !s->outbox && late_take(s, mid, 0);
    for (unsigned i = 0; i < s->o.window && !s->outbox && !mine; i++) {
        flight *fl = &s->fl[i];
        if (fl->f == NULL || fl->mid != mid) {
            continue;
        }
        mine = 1;
        sfile *f = flight_done(s, fl, rc);
        if (f != NULL && !secmq__bit_get(f->acked, fl->index)) {
            secmq__bit_set(f->acked, fl->index);
            f->acked_n++;
            f->dirty = 1;
        }
        break;
    }
    secmq__xs_pump(s);
    pthread_mutex_unlock(&s->lock);
    return mine;
}

/* The flight of outbox row id, or NULL. */
static flight *flight_of_row(secmq_file_sender *s, uint64_t id)
{
    for (unsigned i = 0; i < s->o.window; i++) {
        if (s->fl[i].f != NULL && s->fl[i].id == id) {
            return &s->fl[i];
        }
    }
    return NULL;
}

void secmq_file_sender_handle_durable(secmq_file_sender *s, uint64_t id, int rc)
{
    flight *fl;

    if (s == NULL || id == 0) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    fl = s->outbox ? flight_of_row(s, id) : NULL;
    if (fl != NULL) {
        sfile *f = fl->f;
        if (rc != SECMQ_OK) {
            char why[900];
            fl->f = NULL;
            s->inflight--;
            snprintf(why, sizeof why,
                     "cannot commit chunk %u of %s to the outbox: %s",
                     fl->index, f->m.name, secmq_strerror(rc));
            secmq__xs_finish(s, f, SECMQ_FILE_EV_FAILED, NULL, SECMQ_FILE_R_IO,
                             rc, why);
            secmq__xs_start_next(s);
        } else if (!secmq__bit_get(f->acked, fl->index)) {
            /* SECURITY/durability: the bit (saved to the state file
             * later) is only ever set for a chunk whose row is committed:
             * the outbox delivers it, after a restart too. */
            secmq__bit_set(f->acked, fl->index);
            f->acked_n++;
            f->dirty = 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void secmq_file_sender_handle_delivered(secmq_file_sender *s, uint64_t id,
                                        int rc)
{
    (void)secmq_file_sender_handle_delivered_v2(s, id, rc);
}

int secmq_file_sender_handle_delivered_v2(secmq_file_sender *s, uint64_t id,
                                          int rc)
{
    flight *fl;
    int mine = 0;

    if (s == NULL || id == 0) {
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    if (!s->outbox) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    mine = late_take(s, 0, id);
    fl = flight_of_row(s, id);
    if (fl != NULL) {
        uint32_t index = fl->index;
        sfile *f = flight_done(s, fl, rc);
        mine = 1;
        if (f != NULL && !secmq__bit_get(f->acked, index)) {
            /* Delivered, so committed too (the outbox reports on_durable
             * first; this holds whatever order the two came in). */
            secmq__bit_set(f->acked, index);
            f->acked_n++;
            f->dirty = 1;
        }
    } else if (!mine && (s->first_id == 0 || id < s->first_id) &&
               s->recovered_left > 0) {
        /* A row of an earlier run went out. Not claimed: on an outbox
         * the application shares, it cannot be told from its own. */
        s->recovered_left--;
    }
    secmq__xs_pump(s);
    pthread_mutex_unlock(&s->lock);
    return mine;
}

size_t secmq_file_sender_awaiting(secmq_file_sender *s, int *mids,
                                  uint64_t *rows, size_t cap)
{
    size_t n = 0;

    if (s == NULL) {
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->nlate + s->o.window; i++) {
        int mid;
        uint64_t row;
        if (i < s->nlate) {
            mid = s->outbox ? 0 : s->late[i].mid;
            row = s->outbox ? s->late[i].id : 0;
        } else if (s->fl[i - s->nlate].f != NULL) {
            mid = s->outbox ? 0 : s->fl[i - s->nlate].mid;
            row = s->outbox ? s->fl[i - s->nlate].id : 0;
        } else {
            continue;
        }
        if (mid == 0 && row == 0) {
            continue;
        }
        if (n < cap) {
            if (mids != NULL) {
                mids[n] = mid;
            }
            if (rows != NULL) {
                rows[n] = row;
            }
        }
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}
