/*
 * outbox_rcpt.c -- outbox rows held for end-to-end receipts (PROTOCOL.md
 * §9; the rules are in secmq/receipt.h, "Receipts a sender waits for").
 *
 * A row sealed by this identity on a channel with receipts gets an entry
 * here when it is first handed to MQTT: its (key id, seq), the receipters
 * it needs and those heard from. At its PUBACK the row is not deleted but
 * waits (L_AWAIT); receipts (client_rcptin.c) tick receipters off; once
 * enough have, the row is deleted and reported. A waiting row is handed
 * again after a timeout (doubling) or at once after a reconnect, and given
 * up after give_up_ms. The window keeps, per key, every row handed and not
 * receipted within `window` sequence numbers of the oldest, so a resend
 * lands inside the receivers' replay window (§4.2). Everything here runs
 * with ob->lock held, except secmq__obrc_flush(). Nothing is stored: after
 * a restart the rows are handed again and the entries rebuilt.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"
#include "outbox_int.h"

enum aw_phase {
    AW_HANDED = 0, /* handed to MQTT, no PUBACK yet */
    AW_WAIT = 1,   /* acknowledged (row L_AWAIT), waiting for receipts */
    AW_DUE = 2     /* due again: row L_STORED, in ob->rehand */
};

struct secmq__await {
    uint64_t id;
    secmq__obrc rc;
    unsigned got;
    unsigned char *bits; /* receipters heard from, n_rcpt bits */
    int phase;
    int done; /* receipted while handed: settles at its PUBACK */
    unsigned resends;
    uint64_t first_ms, due_ms;
};

static uint64_t mono_ms(void)
{
    int64_t t = secmq__now_ms();

    return t > 0 ? (uint64_t)t : 0;
}

/* Key ids are public (they travel in every envelope). */
static int same_key(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: ids */
}

static size_t find(const secmq__outbox *ob, uint64_t id)
{
    size_t lo = 0, hi = ob->aw_n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->aw[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < ob->aw_n && ob->aw[lo].id == id ? lo : SIZE_MAX;
}

static void remove_at(secmq__outbox *ob, size_t i)
{
    free(ob->aw[i].bits);
    memmove(&ob->aw[i], &ob->aw[i + 1], (ob->aw_n - i - 1) * sizeof *ob->aw);
    ob->aw_n--;
}

static uint64_t backoff(const secmq__outbox *ob, unsigned resends)
{
    uint64_t d = ob->rw.resend_ms;

    for (unsigned k = 0; k < resends && d < ob->rw.resend_max_ms; k++) {
        d *= 2;
    }
    return d < ob->rw.resend_max_ms ? d : ob->rw.resend_max_ms;
}

static void report(secmq__outbox *ob, const struct secmq__await *a, int rc)
{
    struct secmq__obrc_report *r;

    if (ob->rcr_n == ob->rcr_cap) {
        size_t nc = ob->rcr_cap == 0 ? 16 : ob->rcr_cap * 2;
        r = realloc(ob->rcr, nc * sizeof *r);
        if (r == NULL) {
            secmq__log_write(ob->h.log, SECMQ_LOG_ERROR,
                             "outbox %s: out of memory reporting row %" PRIu64,
                             ob->path, a->id);
            return;
        }
        ob->rcr = r;
        ob->rcr_cap = nc;
    }
    r = &ob->rcr[ob->rcr_n++];
    r->id = a->id;
    r->rc = rc;
    r->got = a->got;
    r->need = a->rc.need;
    pthread_cond_broadcast(&ob->done);
}

/* Settle entry i: the row leaves the file, reported with rc. */
static void settle(secmq__outbox *ob, size_t i, int rc)
{
    struct live *l = secmq__outbox_idx_find(ob, ob->aw[i].id);

    if (rc == SECMQ_OK) {
        ob->rc_ctr.receipted++;
    } else {
        ob->rc_ctr.missed++;
    }
    if (l != NULL) {
        secmq__outbox_forget(ob, l);
        report(ob, &ob->aw[i], rc);
    }
    remove_at(ob, i);
}

int secmq__obrc_on_hand(secmq__outbox *ob, const struct entry *e)
{
    secmq__obrc rc;
    struct secmq__await *a;
    unsigned char *bits;
    size_t i = find(ob, e->row.id), at;

    if (i != SIZE_MAX) {
        ob->aw[i].phase = AW_HANDED; /* a resend (or after a reconnect) */
        return 0;
    }
    if (!e->row.sealed || ob->h.classify == NULL ||
        !ob->h.classify(ob->h.ctx, e->row.payload, e->row.len, &rc)) {
        return 0;
    }
    /* The window: the oldest row under this key not receipted yet. */
    for (size_t k = 0; k < ob->aw_n && ob->rw.window > 0; k++) {
        const struct secmq__await *o = &ob->aw[k];
        if (!o->done && same_key(o->rc.key_id, rc.key_id) &&
            rc.seq >= o->rc.seq && rc.seq - o->rc.seq >= ob->rw.window) {
            return 1;
        }
    }
    if (ob->aw_n == ob->aw_cap) {
        size_t nc = ob->aw_cap == 0 ? 64 : ob->aw_cap * 2;
        struct secmq__await *na = realloc(ob->aw, nc * sizeof *na);
        if (na == NULL) {
            return 1; /* later: the row waits */
        }
        ob->aw = na;
        ob->aw_cap = nc;
    }
    bits = calloc(1, (rc.n_rcpt + 7) / 8 + 1);
    if (bits == NULL) {
        return 1;
    }
    at = ob->aw_n;
    while (at > 0 && ob->aw[at - 1].id > e->row.id) {
        at--; /* a row handed again after a reconnect, before newer ones */
    }
    memmove(&ob->aw[at + 1], &ob->aw[at], (ob->aw_n - at) * sizeof *ob->aw);
    ob->aw_n++;
    a = &ob->aw[at];
    memset(a, 0, sizeof *a);
    a->bits = bits;
    a->id = e->row.id;
    a->rc = rc;
    a->phase = AW_HANDED;
    a->first_ms = mono_ms();
    return 0;
}

int secmq__obrc_acked(secmq__outbox *ob, uint64_t id, int rc)
{
    size_t i = find(ob, id);
    struct live *l;

    if (i == SIZE_MAX) {
        return 0;
    }
    if (rc != SECMQ_OK) {
        remove_at(ob, i); /* refused by the broker: it ends as before */
        return 0;
    }
    if (ob->aw[i].done) {
        settle(ob, i, SECMQ_OK);
        return 1;
    }
    l = secmq__outbox_idx_find(ob, id);
    if (l == NULL) {
        remove_at(ob, i);
        return 1;
    }
    l->state = L_AWAIT;
    ob->aw[i].phase = AW_WAIT;
    ob->aw[i].due_ms = mono_ms() + backoff(ob, ob->aw[i].resends);
    pthread_cond_signal(&ob->work); /* the commit thread keeps the time */
    return 1;
}

void secmq__obrc_mark(secmq__outbox *ob, long chan, const unsigned char *key_id,
                      uint64_t first, uint32_t count, size_t who)
{
    uint64_t last = first + (count - 1);

    for (size_t i = 0; i < ob->aw_n;) {
        struct secmq__await *a = &ob->aw[i];
        if (a->rc.chan != chan || a->done || who >= a->rc.n_rcpt ||
            who == a->rc.self_idx || a->rc.seq < first || a->rc.seq > last ||
            !same_key(a->rc.key_id, key_id) ||
            (a->bits[who / 8] & (1u << (who % 8))) != 0) {
            i++;
            continue;
        }
        a->bits[who / 8] |= (unsigned char)(1u << (who % 8));
        if (++a->got < a->rc.need) {
            i++;
        } else if (a->phase == AW_HANDED) {
            a->done = 1; /* its PUBACK settles it */
            i++;
        } else {
            settle(ob, i, SECMQ_OK); /* entry i is now the next one */
        }
    }
}

/* Insert id into ob->rehand in order (ids ascending). */
static void rehand_insert(secmq__outbox *ob, uint64_t id)
{
    size_t j;

    if (secmq__outbox_push_id(&ob->rehand, &ob->rehand_n, &ob->rehand_cap,
                              id) != 0) {
        return;
    }
    j = ob->rehand_n - 1;
    while (j > 0 && ob->rehand[j - 1] > id) {
        ob->rehand[j] = ob->rehand[j - 1];
        j--;
    }
    ob->rehand[j] = id;
}

/* Entry i waits no longer: handed again after the rows before it. */
static void make_due(secmq__outbox *ob, size_t i)
{
    struct live *l = secmq__outbox_idx_find(ob, ob->aw[i].id);

    if (l == NULL || l->state != L_AWAIT) {
        return;
    }
    l->state = L_STORED;
    ob->aw[i].phase = AW_DUE;
    ob->aw[i].resends++;
    ob->rc_ctr.resent++;
    rehand_insert(ob, ob->aw[i].id);
}

/* Log a row given up, naming the receipters missing. */
static void log_missed(secmq__outbox *ob, const struct secmq__await *a)
{
    char names[256] = "";

    if (ob->h.missing != NULL) {
        ob->h.missing(ob->h.ctx, a->rc.chan, a->rc.self_idx, a->bits,
                      a->rc.n_rcpt, names, sizeof names);
    }
    secmq__log_write(ob->h.log, SECMQ_LOG_WARNING,
                     "outbox %s: row %" PRIu64 " got receipts from %u of the "
                     "%u receipters it needs within %" PRIu64
                     " ms (handed %u times; missing: %s): given up",
                     ob->path, a->id, a->got, a->rc.need, ob->rw.give_up_ms,
                     a->resends + 1, names[0] != '\0' ? names : "?");
}

int64_t secmq__obrc_tick(secmq__outbox *ob)
{
    uint64_t now = mono_ms();
    int64_t next = -1;

    for (size_t i = 0; i < ob->aw_n;) {
        struct secmq__await *a = &ob->aw[i];
        uint64_t give_up = a->first_ms + ob->rw.give_up_ms;
        uint64_t when;

        if (secmq__outbox_idx_find(ob, a->id) == NULL) {
            remove_at(ob, i); /* dropped (DROP_OLDEST) meanwhile */
            continue;
        }
        if (a->phase != AW_HANDED && !a->done && now >= give_up) {
            log_missed(ob, a);
            settle(ob, i, SECMQ_E_NO_RECEIPT);
            continue;
        }
        if (a->phase == AW_WAIT && now >= a->due_ms && ob->connected) {
            make_due(ob, i);
        }
        /* Resends only while connected (a reconnect hands every waiting
         * row anyway); the give-up deadline always runs. */
        when = a->phase == AW_WAIT && ob->connected && a->due_ms < give_up
                   ? a->due_ms
                   : give_up;
        if (a->phase != AW_HANDED &&
            (next < 0 || (int64_t)(when - now) < next)) {
            next = when > now ? (int64_t)(when - now) : 0;
        }
        i++;
    }
    return next;
}

/* 1 if row id is in the in-flight list at QoS 1 or 2. */
static int in_flight(const secmq__outbox *ob, uint64_t id)
{
    for (int k = 0; k < ob->inf_n; k++) {
        if (ob->inf[k].id == id && ob->inf[k].qos > 0) {
            return 1;
        }
    }
    return 0;
}

void secmq__obrc_connected(secmq__outbox *ob)
{
    for (size_t i = 0; i < ob->aw_n; i++) {
        struct secmq__await *a = &ob->aw[i];
        struct live *l;
        if (a->done) {
            continue;
        }
        if (a->phase == AW_WAIT) {
            make_due(ob, i);
            continue;
        }
        /* Handed and not acknowledged when the link went: libmosquitto
         * resends it after on_connect, behind the rows handed inside it.
         * Hand it again with them, in order; libmosquitto's copy comes
         * later and receivers drop it (a replay). Both PUBACKs find the
         * row: the first settles or parks it, the second finds it so or
         * gone. */
        l = secmq__outbox_idx_find(ob, a->id);
        if (a->phase == AW_HANDED && l != NULL && l->state == L_HANDED &&
            in_flight(ob, a->id)) {
            l->state = L_STORED;
            a->phase = AW_DUE;
            a->resends++;
            ob->rc_ctr.resent++;
            rehand_insert(ob, a->id);
        }
    }
}

void secmq__obrc_flush(secmq__outbox *ob)
{
    struct secmq__obrc_report *r;
    size_t n;

    pthread_mutex_lock(&ob->lock);
    r = ob->rcr;
    n = ob->rcr_n;
    ob->rcr = NULL;
    ob->rcr_n = ob->rcr_cap = 0;
    pthread_mutex_unlock(&ob->lock);
    for (size_t i = 0; i < n; i++) {
        if (ob->h.receipt != NULL) {
            ob->h.receipt(ob->h.ctx, r[i].id, r[i].rc, r[i].got, r[i].need);
        }
        if (ob->h.delivered != NULL) {
            ob->h.delivered(ob->h.ctx, r[i].id, r[i].rc);
        }
    }
    free(r);
}

uint64_t secmq__obrc_awaiting(const secmq__outbox *ob)
{
    return ob->aw_n;
}

int secmq__obrc_row(const secmq__outbox *ob, uint64_t id, secmq_receipt_row *st)
{
    size_t i = find(ob, id);

    memset(st, 0, sizeof *st);
    st->state = SECMQ_ROW_QUEUED;
    if (i == SIZE_MAX) {
        return 0;
    }
    st->receipts = 1;
    st->got = ob->aw[i].got;
    st->need = ob->aw[i].rc.need;
    st->resends = ob->aw[i].resends;
    st->state = ob->aw[i].phase == AW_HANDED ? SECMQ_ROW_HANDED
                : ob->aw[i].phase == AW_WAIT ? SECMQ_ROW_AWAITING
                                             : SECMQ_ROW_QUEUED;
    return 1;
}

void secmq__obrc_free(secmq__outbox *ob)
{
    for (size_t i = 0; i < ob->aw_n; i++) {
        free(ob->aw[i].bits);
    }
    free(ob->aw);
    ob->aw = NULL;
    ob->aw_n = ob->aw_cap = 0;
    free(ob->rcr);
    ob->rcr = NULL;
    ob->rcr_n = ob->rcr_cap = 0;
}

/* ---- entry points (take the lock) ---- */

void secmq__outbox_set_receipt_wait(secmq__outbox *ob,
                                    const secmq_receipt_wait *w)
{
    pthread_mutex_lock(&ob->lock);
    ob->rw = *w;
    pthread_mutex_unlock(&ob->lock);
}

void secmq__outbox_receipt(secmq__outbox *ob, long chan,
                           const unsigned char *key_id, uint64_t first,
                           uint32_t count, size_t who)
{
    struct report fails[16];
    size_t nf;

    pthread_mutex_lock(&ob->lock);
    secmq__obrc_mark(ob, chan, key_id, first, count, who);
    /* Settled rows may have opened the window. */
    nf = secmq__outbox_pump(ob, fails, sizeof fails / sizeof fails[0]);
    pthread_mutex_unlock(&ob->lock);
    secmq__obrc_flush(ob);
    secmq__outbox_report_fails(ob, fails, nf);
}

uint64_t secmq__outbox_awaiting(secmq__outbox *ob, uint64_t *receipted,
                                uint64_t *resent, uint64_t *missed)
{
    uint64_t n;

    pthread_mutex_lock(&ob->lock);
    n = secmq__obrc_awaiting(ob);
    *receipted = ob->rc_ctr.receipted;
    *resent = ob->rc_ctr.resent;
    *missed = ob->rc_ctr.missed;
    pthread_mutex_unlock(&ob->lock);
    return n;
}

int secmq__outbox_row(secmq__outbox *ob, uint64_t id, secmq_receipt_row *st)
{
    int rc = SECMQ_OK;

    pthread_mutex_lock(&ob->lock);
    if (!secmq__obrc_row(ob, id, st)) {
        const struct live *l = secmq__outbox_idx_find(ob, id);
        if (l == NULL) {
            rc = SECMQ_E_INVAL;
        } else if (l->state == L_HANDED) {
            st->state = SECMQ_ROW_HANDED;
        }
    }
    pthread_mutex_unlock(&ob->lock);
    return rc;
}
