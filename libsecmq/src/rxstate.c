/*
 * rxstate.c -- the receiver's replay state on disk: which (key, sender,
 * seq) this keyring accepted, durable before a message is handed on.
 *
 * Every accepted envelope gets a record in DIR/state/replay.journal
 * (rjournal.c) and a ticket; secmq__rx_sync() writes the records queued so
 * far in one group commit (one write, one fdatasync) so that many messages
 * share the cost. The journal is compacted into the sealed table of tops,
 * DIR/state/replay (seqstate.c), when it reaches SECMQ_REPLAY_COMPACT_EVERY
 * records, when it cannot be appended to (a torn tail, a failed write, a
 * file another process replaced badly), when receiving begins, and at
 * close. Writers of several processes take turns under an flock on
 * DIR/state/replay.lock; a compaction merges what every process wrote.
 * At open, the tops are restored (every seq up to one counts as seen) and
 * the seqs of whole groups still in the journal are marked known: those a
 * receipter may receipt again when a copy comes (PROTOCOL.md §9.2). The
 * journal holds them after a kill (not folded) and after a fold too, which
 * starts the new journal with the seqs the windows knew (at most 1024).
 * Not for the window arithmetic (replay.c) or the open steps (keyring.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "keyring_int.h"

/* A table of stream tops, merged by maximum. */
typedef struct tab {
    secmq__stream_ent *v;
    size_t n, cap;
    int nomem;
} tab;

static int same_id(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_ID_BYTES) == 0; /* not secret: ids */
}

static void tab_max(tab *t, const unsigned char *kid, const unsigned char *sid,
                    uint64_t top)
{
    secmq__stream_ent *nv;

    for (size_t i = 0; i < t->n; i++) {
        if (same_id(t->v[i].key_id, kid) && same_id(t->v[i].sender_id, sid)) {
            if (top > t->v[i].value) {
                t->v[i].value = top;
            }
            return;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        nv = realloc(t->v, cap * sizeof *nv);
        if (nv == NULL) {
            t->nomem = 1;
            return;
        }
        t->v = nv;
        t->cap = cap;
    }
    memcpy(t->v[t->n].key_id, kid, SECMQ_ID_BYTES);
    memcpy(t->v[t->n].sender_id, sid, SECMQ_ID_BYTES);
    t->v[t->n].value = top;
    t->n++;
}

static void rec_cb(void *user, const secmq__stream_ent *rec)
{
    tab_max(user, rec->key_id, rec->sender_id, rec->value);
}

static int journal_path(char *buf, size_t len, const secmq_keyring *kr)
{
    return secmq__kpath(buf, len, kr->dir, "state", "replay.journal");
}

/* The persisted table: state/replay, then the journal's records on top.
 * *torn: bytes ignored at the journal's end. */
static int load_table(const secmq_keyring *kr, tab *t, uint64_t *torn,
                      char *jpath, size_t jlen, secmq__kerr *e)
{
    secmq__stream_ent *ents = NULL;
    size_t n = 0;
    int rc;

    memset(t, 0, sizeof *t);
    if (journal_path(jpath, jlen, kr) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = secmq__streams_load(kr->dir, "replay", kr->sec->local_key, &ents, &n,
                             e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    t->v = ents;
    t->n = n;
    t->cap = n;
    rc = secmq__rj_read(jpath, kr->sec->local_key, rec_cb, NULL, t, torn, e);
    if (rc == SECMQ_OK && t->nomem) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    if (rc != SECMQ_OK) {
        free(t->v);
        memset(t, 0, sizeof *t);
    }
    return rc;
}

/* The window of (kid, sid), added as new when add is 1 (NULL: no memory
 * or not found). Caller holds rx_lock. */
static secmq__krx *find_rx(secmq_keyring *kr, const unsigned char *kid,
                           const unsigned char *sid, int add)
{
    secmq__krx *ns;

    for (size_t i = 0; i < kr->nrx; i++) {
        if (same_id(kr->rx[i].key_id, kid) &&
            same_id(kr->rx[i].sender_id, sid)) {
            return &kr->rx[i];
        }
    }
    if (!add) {
        return NULL;
    }
    if (kr->nrx == kr->caprx) {
        size_t cap = kr->caprx ? 2 * kr->caprx : 8;
        ns = realloc(kr->rx, cap * sizeof *ns);
        if (ns == NULL) {
            return NULL;
        }
        kr->rx = ns;
        kr->caprx = cap;
    }
    ns = &kr->rx[kr->nrx++];
    memcpy(ns->key_id, kid, SECMQ_ID_BYTES);
    memcpy(ns->sender_id, sid, SECMQ_ID_BYTES);
    secmq__replay_init(&ns->w);
    return ns;
}

/* Raise kr's windows to the tops of t (a restart: everything up to a
 * persisted top counts as seen). Caller holds rx_lock. */
static int raise_windows(secmq_keyring *kr, const tab *t)
{
    for (size_t i = 0; i < t->n; i++) {
        secmq__krx *s;
        if (!secmq__key_known(kr, t->v[i].key_id)) {
            continue;
        }
        s = find_rx(kr, t->v[i].key_id, t->v[i].sender_id, 1);
        if (s == NULL) {
            return SECMQ_E_NOMEM;
        }
        if (t->v[i].value > s->w.top || (s->w.top == 0 && s->w.bitmap == 0)) {
            secmq__replay_restore(&s->w, t->v[i].value);
        }
    }
    return SECMQ_OK;
}

/* The journal's records of one group, until its commit record. */
typedef struct marker {
    secmq_keyring *kr;
    secmq__stream_ent *v;
    size_t n, cap;
    int nomem;
} marker;

static void mark_rec(void *user, const secmq__stream_ent *rec)
{
    marker *m = user;
    secmq__stream_ent *nv;

    if (m->nomem) {
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        nv = realloc(m->v, cap * sizeof *nv);
        if (nv == NULL) {
            m->nomem = 1; /* this group is not marked: less known, no harm */
            return;
        }
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->n++] = *rec;
}

/* A whole group: its seqs were accepted by this keyring (any of its
 * processes) and written; mark them known in the windows. */
static void mark_commit(void *user, uint64_t n)
{
    marker *m = user;

    if (!m->nomem && n == m->n) {
        for (size_t i = 0; i < m->n; i++) {
            secmq__krx *s =
                find_rx(m->kr, m->v[i].key_id, m->v[i].sender_id, 0);
            if (s != NULL) {
                (void)secmq__replay_mark_known(&s->w, m->v[i].value);
            }
        }
    }
    m->n = 0;
    m->nomem = 0;
}

/*
 * After the windows were restored from the tops: mark as known each seq
 * the journal at jpath holds in a whole group (records of a process killed
 * before it folded the journal, or the known seqs a fold carried over,
 * carry_known). SECURITY: only seqs already counted as
 * seen are marked (secmq__replay_mark_known), so this never changes what
 * is accepted; a group cut short (no commit record) is not marked. Caller
 * holds rx_lock and the shared flock.
 */
static int mark_journal(secmq_keyring *kr, const char *jpath, secmq__kerr *e)
{
    marker m;
    uint64_t torn = 0;
    int rc;

    memset(&m, 0, sizeof m);
    m.kr = kr;
    rc = secmq__rj_read(jpath, kr->sec->local_key, mark_rec, mark_commit, &m,
                        &torn, e);
    free(m.v);
    return rc;
}

int secmq__rx_load(secmq_keyring *kr, secmq__kerr *e)
{
    char jpath[SECMQ__PATH_MAX], lpath[SECMQ__PATH_MAX];
    uint64_t torn = 0;
    int lockfd = -1;
    tab t;
    int rc;

    /* Shared: a receiving process compacting (table, then a new journal)
     * is not seen half done. No lock file: nobody ever received. */
    if (secmq__kpath(lpath, sizeof lpath, kr->dir, "state", "replay.lock") !=
        0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = secmq__kfile_lock(lpath, 0, 0, 0, &lockfd, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = load_table(kr, &t, &torn, jpath, sizeof jpath, e);
    if (rc == SECMQ_OK) {
        pthread_mutex_lock(&kr->rx_lock);
        rc = raise_windows(kr, &t);
        if (rc != SECMQ_OK) {
            rc = secmq__kerr_set(e, rc, "out of memory");
        } else {
            rc = mark_journal(kr, jpath, e);
        }
        pthread_mutex_unlock(&kr->rx_lock);
        free(t.v);
    }
    if (lockfd >= 0) {
        close(lockfd);
    }
    return rc;
}

/* At most this many known seqs are carried into a new journal (a
 * fraction of SECMQ_REPLAY_COMPACT_EVERY, so carrying never makes the
 * journal compact again at once). */
#define RX_CARRY_MAX (SECMQ_REPLAY_COMPACT_EVERY / 4u)

/* Copy up to RX_CARRY_MAX seqs the windows know they accepted into out
 * (newest of each stream first). Caller holds rx_lock. */
static size_t known_seqs(const secmq_keyring *kr, secmq__stream_ent *out)
{
    size_t n = 0;

    for (size_t i = 0; i < kr->nrx; i++) {
        const secmq__replay *w = &kr->rx[i].w;
        for (uint64_t b = 0; b < SECMQ__REPLAY_WINDOW && n < RX_CARRY_MAX;
             b++) {
            if (((w->known >> b) & 1u) == 0) {
                continue;
            }
            memcpy(out[n].key_id, kr->rx[i].key_id, SECMQ_ID_BYTES);
            memcpy(out[n].sender_id, kr->rx[i].sender_id, SECMQ_ID_BYTES);
            out[n].value = w->top - b;
            n++;
        }
    }
    return n;
}

/*
 * Write the known seqs (taken with the tops just saved, so each is
 * covered by the table: durable) into the new, empty journal as one group,
 * so that a receiver restarted after this fold (a clean close included)
 * still knows which of its last 64 per stream it opened (PROTOCOL.md
 * §9.2). Best effort: a failed write marks the journal broken, it is
 * rebuilt before the next append, and only that knowledge is lost.
 * Caller holds sync_lock and the flock.
 */
static void carry_known(secmq_keyring *kr, const secmq__stream_ent *v, size_t n)
{
    char msg[SECMQ_ERRMSG_BYTES];
    secmq__kerr e = {msg, sizeof msg};

    (void)secmq__rj_append(&kr->journal, v, n, kr->sec->local_key, &e);
}

/* Drop the windows of streams under the n erased key ids. Caller holds
 * rx_lock. */
static void prune_rx(secmq_keyring *kr, const unsigned char *ids, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; n > 0 && i < kr->nrx; i++) {
        if (!secmq__ids_have(ids, n, kr->rx[i].key_id)) {
            kr->rx[k++] = kr->rx[i];
        }
    }
    if (n > 0) {
        kr->nrx = k;
    }
}

/* Drop the table's streams under the n erased key ids. */
static void prune_table(tab *t, const unsigned char *ids, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; n > 0 && i < t->n; i++) {
        if (!secmq__ids_have(ids, n, t->v[i].key_id)) {
            t->v[k++] = t->v[i];
        }
    }
    if (n > 0) {
        t->n = k;
    }
}

/*
 * Fold the journal into state/replay and start an empty journal. Caller
 * holds sync_lock and the flock. The table written is the highest top
 * per stream of the file, the journal (every process's records) and this
 * process's windows, which are left as they are: another process
 * receiving the same messages live must not make this one refuse them.
 * Everything queued so far is in the table, so it all becomes durable.
 * The new journal starts with the seqs this process knows it accepted.
 */
static int compact(secmq_keyring *kr, secmq__kerr *e)
{
    char jpath[SECMQ__PATH_MAX];
    uint64_t torn = 0, upto;
    secmq__stream_ent *carry;
    unsigned char *erased = NULL;
    size_t np, ncarry = 0, nerased;
    tab t;
    int rc;

    rc = load_table(kr, &t, &torn, jpath, sizeof jpath, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    /* §3.2: the streams of erased epoch keys go (those keys never open
     * anything again), so a channel with epochs does not grow the table
     * by a stream per epoch for ever. */
    nerased = secmq__chain_erased_ids(kr, &erased);
    carry = malloc(RX_CARRY_MAX * sizeof *carry); /* NULL: carry nothing */
    pthread_mutex_lock(&kr->rx_lock);
    prune_rx(kr, erased, nerased);
    for (size_t i = 0; i < kr->nrx; i++) {
        tab_max(&t, kr->rx[i].key_id, kr->rx[i].sender_id, kr->rx[i].w.top);
    }
    ncarry = carry != NULL ? known_seqs(kr, carry) : 0;
    /* The queued records are in the windows, so in the table: once it is
     * written they are durable and leave the queue. */
    upto = kr->ticket;
    np = kr->npend;
    pthread_mutex_unlock(&kr->rx_lock);
    if (t.nomem) {
        free(t.v);
        free(carry);
        free(erased);
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    prune_table(&t, erased, nerased);
    free(erased);
    /* Every stream is kept, also under keys this process does not hold:
     * another process may have loaded a newer grant (one entry per key and
     * sender: keys rotate rarely).
     * SECURITY: the table (fsync, rename, fsync of the directory) is on
     * disk before the journal it replaces is emptied. */
    rc =
        secmq__streams_save(kr->dir, "replay", kr->sec->local_key, t.v, t.n, e);
    free(t.v);
    if (rc == SECMQ_OK) {
        rc = secmq__rj_reset(&kr->journal, jpath, kr->sec->local_key, e);
    }
    if (rc == SECMQ_OK && ncarry > 0) {
        carry_known(kr, carry, ncarry);
    }
    free(carry);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (torn > 0) {
        fprintf(stderr,
                "secmq: keyring '%s': %s: ignored %llu bytes at its end that "
                "do not authenticate (a write cut short by a crash or power "
                "loss; their messages were never delivered)\n",
                kr->self.name, jpath, (unsigned long long)torn);
    }
    pthread_mutex_lock(&kr->rx_lock);
    if (np > 0) {
        memmove(kr->pend, kr->pend + np, (kr->npend - np) * sizeof *kr->pend);
        kr->npend -= np;
    }
    if (upto > kr->durable) {
        kr->durable = upto;
    }
    pthread_mutex_unlock(&kr->rx_lock);
    return SECMQ_OK;
}

static int flock_ex(secmq_keyring *kr, secmq__kerr *e)
{
    while (flock(kr->rx_lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            return secmq__kerr_set(e, SECMQ_E_IO, "%s/state/replay.lock: %s",
                                   kr->dir, strerror(errno));
        }
    }
    return SECMQ_OK;
}

static void flock_un(secmq_keyring *kr)
{
    (void)flock(kr->rx_lock_fd, LOCK_UN);
}

/* The first receive: the lock file, and a compaction (which also drops a
 * torn tail a crash left, saying so). */
static int begin(secmq_keyring *kr, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    int rc = SECMQ_OK;

    pthread_mutex_lock(&kr->sync_lock);
    if (atomic_load(&kr->rx_begun)) {
        goto out;
    }
    if (kr->rx_lock_fd < 0) {
        if (secmq__kpath(path, sizeof path, kr->dir, "state", "replay.lock") !=
            0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
            goto out;
        }
        /* Taken and released again at once: the fd stays open. */
        rc = secmq__kfile_lock(path, 1, 0, 1, &kr->rx_lock_fd, e);
        if (rc != SECMQ_OK) {
            goto out;
        }
    } else {
        rc = flock_ex(kr, e);
        if (rc != SECMQ_OK) {
            goto out;
        }
    }
    rc = compact(kr, e);
    flock_un(kr);
    if (rc == SECMQ_OK) {
        atomic_store(&kr->rx_begun, 1);
    }
out:
    pthread_mutex_unlock(&kr->sync_lock);
    return rc;
}

int secmq__rx_accept(secmq_keyring *kr, const secmq_envelope_fields *f,
                     uint64_t *ticket, int *known, secmq__kerr *e)
{
    secmq__stream_ent *np;
    secmq__krx *s;
    secmq__replay fresh;
    int rc = SECMQ_OPEN_OK;

    *ticket = 0;
    if (known != NULL) {
        *known = 0;
    }
    if (!atomic_load(&kr->rx_begun)) {
        rc = begin(kr, e);
        if (rc != SECMQ_OK) {
            return rc;
        }
    }
    pthread_mutex_lock(&kr->rx_lock);
    s = find_rx(kr, f->key_id, f->sender_id, 0);
    if (s == NULL) {
        secmq__replay_init(&fresh);
        if (secmq__replay_check(&fresh, f->seq) != SECMQ_OPEN_OK) {
            rc = SECMQ_OPEN_REPLAY;
            goto out;
        }
    } else if (secmq__replay_check(&s->w, f->seq) != SECMQ_OPEN_OK) {
        rc = SECMQ_OPEN_REPLAY;
        if (known != NULL && secmq__replay_known(&s->w, f->seq)) {
            /* Accepted before, under a ticket no later than this one:
             * durable once this one is. */
            *known = 1;
            *ticket = kr->ticket;
        }
        goto out;
    }
    /* Room for the record first: once the window moves, the record must
     * follow. */
    if (kr->npend == kr->cappend) {
        size_t cap = kr->cappend ? 2 * kr->cappend : 64;
        np = realloc(kr->pend, cap * sizeof *np);
        if (np == NULL) {
            rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
            goto out;
        }
        kr->pend = np;
        kr->cappend = cap;
    }
    if (s == NULL) {
        s = find_rx(kr, f->key_id, f->sender_id, 1);
        if (s == NULL) {
            rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
            goto out;
        }
    }
    if (secmq__replay_commit(&s->w, f->seq) != SECMQ_OPEN_OK) {
        rc = SECMQ_OPEN_REPLAY;
        goto out;
    }
    memcpy(kr->pend[kr->npend].key_id, f->key_id, SECMQ_ID_BYTES);
    memcpy(kr->pend[kr->npend].sender_id, f->sender_id, SECMQ_ID_BYTES);
    kr->pend[kr->npend].value = f->seq;
    kr->npend++;
    *ticket = ++kr->ticket;
out:
    pthread_mutex_unlock(&kr->rx_lock);
    return rc;
}

int secmq__rx_known(secmq_keyring *kr, const unsigned char *key_id,
                    const unsigned char *sender_id, uint64_t seq)
{
    secmq__krx *s;
    int known = 0;

    pthread_mutex_lock(&kr->rx_lock);
    s = find_rx(kr, key_id, sender_id, 0);
    if (s != NULL) {
        known = secmq__replay_known(&s->w, seq);
    }
    pthread_mutex_unlock(&kr->rx_lock);
    return known;
}

void secmq__rx_forget(secmq_keyring *kr, const unsigned char *key_id,
                      const unsigned char *sender_id, uint64_t seq)
{
    secmq__krx *s;

    pthread_mutex_lock(&kr->rx_lock);
    s = find_rx(kr, key_id, sender_id, 0);
    if (s != NULL) {
        secmq__replay_forget(&s->w, seq);
    }
    pthread_mutex_unlock(&kr->rx_lock);
}

static int is_durable(secmq_keyring *kr, uint64_t ticket)
{
    int d;

    pthread_mutex_lock(&kr->rx_lock);
    d = ticket <= kr->durable;
    pthread_mutex_unlock(&kr->rx_lock);
    return d;
}

/* One group commit. Caller holds sync_lock and the flock. */
static int commit_group(secmq_keyring *kr, secmq__kerr *e)
{
    char jpath[SECMQ__PATH_MAX];
    secmq__stream_ent *batch;
    size_t n, cap;
    uint64_t upto;
    int rc;

    if (journal_path(jpath, sizeof jpath, kr) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    rc = secmq__rj_attach(&kr->journal, jpath, kr->sec->local_key, e);
    if (rc == SECMQ_OK && kr->journal.nrec >= SECMQ_REPLAY_COMPACT_EVERY) {
        rc = SECMQ_E_STATE;
    }
    if (rc == SECMQ_E_STATE) {
        return compact(kr, e);
    }
    if (rc != SECMQ_OK) {
        return rc;
    }
    /* Swap the pending buffer for the spare one: receiving goes on while
     * this group is written. */
    pthread_mutex_lock(&kr->rx_lock);
    batch = kr->pend;
    n = kr->npend;
    cap = kr->cappend;
    kr->pend = kr->spare;
    kr->cappend = kr->capspare;
    kr->npend = 0;
    upto = kr->ticket;
    pthread_mutex_unlock(&kr->rx_lock);
    kr->spare = batch;
    kr->capspare = cap;
    rc = n > 0 ? secmq__rj_append(&kr->journal, batch, n, kr->sec->local_key, e)
               : SECMQ_OK;
    if (rc == SECMQ_OK) {
        pthread_mutex_lock(&kr->rx_lock);
        if (upto > kr->durable) {
            kr->durable = upto;
        }
        pthread_mutex_unlock(&kr->rx_lock);
    }
    return rc;
}

int secmq__rx_sync(secmq_keyring *kr, uint64_t ticket, secmq__kerr *e)
{
    int rc = SECMQ_OK;

    if (is_durable(kr, ticket)) {
        return SECMQ_OK;
    }
    /* Leader and followers: whoever holds sync_lock writes every record
     * queued so far; those who waited find theirs durable. */
    pthread_mutex_lock(&kr->sync_lock);
    if (!is_durable(kr, ticket)) {
        rc = kr->rx_lock_fd >= 0
                 ? flock_ex(kr, e)
                 : secmq__kerr_set(e, SECMQ_E_IO, "replay state not begun");
        if (rc == SECMQ_OK) {
            rc = commit_group(kr, e);
            flock_un(kr);
        }
        if (rc == SECMQ_OK && !is_durable(kr, ticket)) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "replay record lost");
        }
    }
    pthread_mutex_unlock(&kr->sync_lock);
    return rc;
}

int secmq__rx_close(secmq_keyring *kr, secmq__kerr *e)
{
    int rc = SECMQ_OK;

    pthread_mutex_lock(&kr->sync_lock);
    if (atomic_load(&kr->rx_begun) && kr->rx_lock_fd >= 0) {
        rc = flock_ex(kr, e);
        if (rc == SECMQ_OK) {
            rc = compact(kr, e);
            flock_un(kr);
        }
    }
    secmq__rj_close(&kr->journal);
    if (kr->rx_lock_fd >= 0) {
        close(kr->rx_lock_fd);
        kr->rx_lock_fd = -1;
    }
    atomic_store(&kr->rx_begun, 0);
    pthread_mutex_unlock(&kr->sync_lock);
    return rc;
}

int secmq__rx_copy(const secmq_keyring *kr, const char *to_dir,
                   const unsigned char *key, secmq__kerr *e)
{
    char jpath[SECMQ__PATH_MAX];
    uint64_t torn = 0;
    tab t;
    int rc = load_table(kr, &t, &torn, jpath, sizeof jpath, e);

    if (rc == SECMQ_OK && t.n > 0) {
        rc = secmq__streams_save(to_dir, "replay", key, t.v, t.n, e);
    }
    free(t.v);
    return rc;
}
