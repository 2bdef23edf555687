/*
 * keychannel.c -- channels this identity owns: create one, rotate its key,
 * revoke a member (a rotation without them), and issue the grant files
 * for every member (PROTOCOL.md §3, §5). The channel's full state is kept
 * sealed in DIR/owned/. Not for accepting grants (keyimport.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring_int.h"
#include "ratchet_int.h"
#include "topicfilter_int.h"

static int same_pk(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_SIGN_PK_BYTES) == 0; /* not secret */
}

/* ---- issuing grants ------------------------------------------------------ */

/* The grant files of one issue, built before anything is written. */
typedef struct issued {
    unsigned char **files;
    size_t *lens;
    size_t n;
} issued;

static void issued_free(issued *is)
{
    for (size_t i = 0; i < is->n; i++) {
        free(is->files[i]);
    }
    free(is->files);
    free(is->lens);
    is->files = NULL;
    is->lens = NULL;
    is->n = 0;
}

/* Build one grant file per member of o. */
static int issue_build(const secmq_keyring *kr, const secmq__owned *o,
                       issued *is, secmq__kerr *e)
{
    static const unsigned char zero_id[SECMQ_ID_BYTES];
    secmq_grant_receipts gr;
    secmq_grant_ratchet rt;
    secmq_grant_fields g;
    unsigned char *pubs = NULL, *body = NULL;
    size_t npub = 0, blen = 0, bsize, fsize;
    int rc;

    memset(is, 0, sizeof *is);
    sodium_memzero(&g, sizeof g);
    is->files = calloc(o->nmembers ? o->nmembers : 1, sizeof *is->files);
    is->lens = calloc(o->nmembers ? o->nmembers : 1, sizeof *is->lens);
    pubs = malloc((o->nmembers ? o->nmembers : 1) * SECMQ_SIGN_PK_BYTES);
    if (is->files == NULL || is->lens == NULL || pubs == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < o->nmembers; i++) {
        if (o->members[i].publisher) {
            memcpy(pubs + npub * SECMQ_SIGN_PK_BYTES, o->members[i].pk,
                   SECMQ_SIGN_PK_BYTES);
            npub++;
        }
    }
    secmq__rcpt_view(o->rcpt, &gr);
    memset(&rt, 0, sizeof rt);
    if (o->period_ms != 0) {
        /* §3.2: a grant carries the key of the epoch it is issued in,
         * never an earlier one (a member added now opens nothing older). */
        rt.period_ms = o->period_ms;
        rt.grace_ms = o->ratchet_grace_ms;
        rt.step = secmq__ratchet_step_at(o->created_ms, o->period_ms,
                                         secmq__unix_ms());
        rt.step = rt.step < o->lo ? o->lo : rt.step;
    }
    bsize = secmq_grant_body_size_v3(o->filter_len, npub, &gr, &rt);
    fsize = secmq_grant_file_size(bsize);
    /* SECURITY: the body holds the channel key. */
    body = sodium_malloc(bsize ? bsize : 1);
    if (bsize == 0 || body == NULL) {
        rc = secmq__kerr_set(e, bsize ? SECMQ_E_NOMEM : SECMQ_E_INVAL,
                             "cannot build grants for '%.64s'", o->filter);
        goto err;
    }
    memcpy(g.owner_pk, kr->self.pk, SECMQ_SIGN_PK_BYTES);
    memcpy(g.key_id, o->key_id, SECMQ_ID_BYTES);
    memcpy(g.channel_key, o->key, SECMQ_KEY_BYTES);
    secmq__ratchet_advance(g.channel_key, rt.step - o->lo);
    g.epoch = o->epoch;
    g.created_ms = o->created_ms;
    memcpy(g.prev_key_id, o->has_prev ? o->prev_key_id : zero_id,
           SECMQ_ID_BYTES);
    g.grace_ms = o->has_prev ? o->prev_deadline_ms : 0;
    g.filter = o->filter;
    g.filter_len = o->filter_len;
    g.publishers = pubs;
    g.n_publishers = npub;
    for (size_t i = 0; i < o->nmembers; i++) {
        memcpy(g.member_pk, o->members[i].pk, SECMQ_SIGN_PK_BYTES);
        g.flags = (o->members[i].publisher ? SECMQ_GRANT_MAY_PUBLISH : 0u) |
                  (o->allow_mac ? SECMQ_GRANT_ALLOW_MAC : 0u);
        rc = secmq_grant_body_build_v3(body, bsize, &blen, &g, &gr, &rt,
                                       kr->sec->sk);
        if (rc != SECMQ_OK) {
            rc = secmq__kerr_set(e, rc, "cannot build the grant for '%s'",
                                 o->members[i].name);
            goto err;
        }
        is->files[i] = malloc(fsize);
        if (is->files[i] == NULL) {
            rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
            goto err;
        }
        is->n = i + 1;
        rc = secmq_grant_seal(is->files[i], fsize, &is->lens[i], body, blen,
                              o->members[i].pk);
        if (rc != SECMQ_OK) {
            rc = secmq__kerr_set(e, rc, "cannot seal the grant for '%s'",
                                 o->members[i].name);
            goto err;
        }
    }
    rc = SECMQ_OK;
    goto out;
err:
    issued_free(is);
out:
    sodium_memzero(&g, sizeof g);
    if (body != NULL) {
        sodium_free(body);
    }
    free(pubs);
    return rc;
}

/* Write out_dir/<member>.grant for every member. */
static int issue_write(const char *out_dir, const secmq__owned *o,
                       const issued *is, secmq_keyring_note_cb cb, void *user,
                       secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], fname[SECMQ_NAME_MAX + 8];
    int rc = secmq__kfile_mkdir(out_dir, e);

    for (size_t i = 0; rc == SECMQ_OK && i < is->n; i++) {
        snprintf(fname, sizeof fname, "%s.grant", o->members[i].name);
        if (secmq__kpath(path, sizeof path, out_dir, fname, NULL) != 0) {
            return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", out_dir);
        }
        rc = secmq__kfile_write(path, is->files[i], is->lens[i], 0644, e);
        if (rc == SECMQ_OK) {
            secmq__note(cb, user,
                        "%s: grant for '%s' (%s), channel '%.*s' epoch %u%s",
                        path, o->members[i].name,
                        o->members[i].publisher ? "publisher" : "subscriber",
                        (int)o->filter_len, o->filter, (unsigned)o->epoch,
                        o->period_ms != 0 ? " (key ratcheted every epoch: "
                                            "delete the file once imported)"
                                          : "");
        }
    }
    return rc;
}

/* Issue grants for o to out_dir, then save o as DIR/owned/<cid>.chan. */
static int issue(const secmq_keyring *kr, const unsigned char *cid,
                 const secmq__owned *o, const char *out_dir,
                 secmq_keyring_note_cb cb, void *user, secmq__kerr *e)
{
    issued is;
    int rc = issue_build(kr, o, &is, e);

    if (rc != SECMQ_OK) {
        return rc;
    }
    /* Grants first: if saving the owned state then fails, the channel is
     * unchanged and the written grants are simply never used. */
    rc = issue_write(out_dir, o, &is, cb, user, e);
    if (rc == SECMQ_OK) {
        rc = secmq__owned_save(kr, cid, o, e);
    }
    issued_free(&is);
    return rc;
}

/* Add (or merge) the member in the public identity file path. */
static int member_add(secmq_keyring *kr, secmq__kmember *m, size_t *nm,
                      secmq__ident *newp, size_t *nnew, const char *path,
                      int publisher, secmq__kerr *e)
{
    secmq__ident p;
    int rc = secmq__identity_read_public(path, &p, e);

    if (rc != SECMQ_OK) {
        return rc;
    }
    for (size_t i = 0; i < *nm; i++) {
        if (same_pk(m[i].pk, p.pk)) {
            m[i].publisher |= publisher;
            return SECMQ_OK;
        }
        if (strcmp(m[i].name, p.name) == 0) {
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "%s: another member is also named '%s'",
                                   path, p.name);
        }
    }
    rc = secmq__peer_admit(kr, &p, path, e);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        newp[(*nnew)++] = p;
    }
    memcpy(m[*nm].pk, p.pk, SECMQ_SIGN_PK_BYTES);
    memcpy(m[*nm].name, p.name, sizeof m[*nm].name);
    m[*nm].publisher = publisher;
    (*nm)++;
    return SECMQ_OK;
}

int secmq_channel_create(const char *dir, const secmq_channel_spec *spec,
                         const char *out_dir, secmq_keyring_note_cb cb,
                         void *user, char *err, size_t errlen)
{
    return secmq_channel_create_v2(dir, spec, NULL, out_dir, cb, user, err,
                                   errlen);
}

int secmq_channel_create_v2(const char *dir, const secmq_channel_spec *spec,
                            const secmq_channel_receipts *receipts,
                            const char *out_dir, secmq_keyring_note_cb cb,
                            void *user, char *err, size_t errlen)
{
    return secmq_channel_create_v3(dir, spec, receipts, NULL, out_dir, cb, user,
                                   err, errlen);
}

int secmq_channel_create_v3(const char *dir, const secmq_channel_spec *spec,
                            const secmq_channel_receipts *receipts,
                            const secmq_channel_ratchet *ratchet,
                            const char *out_dir, secmq_keyring_note_cb cb,
                            void *user, char *err, size_t errlen)
{
    secmq__krcpt rcpt;
    secmq__kerr e = {err, errlen};
    secmq__admin a = {-1, NULL};
    secmq__kmember *m = NULL;
    secmq__ident *newp = NULL;
    unsigned char *keys = NULL;
    unsigned char cid[SECMQ__CID_BYTES];
    size_t nm = 0, nnew = 0, total, flen;
    secmq__owned o;
    int rc;

    secmq__clear_err(err, errlen);
    memset(&o, 0, sizeof o);
    memset(&rcpt, 0, sizeof rcpt);
    if (dir == NULL || spec == NULL || spec->filter == NULL ||
        out_dir == NULL || (spec->publishers == NULL && spec->n_publishers) ||
        (spec->subscribers == NULL && spec->n_subscribers)) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    flen = strlen(spec->filter);
    if (!secmq__filter_valid(spec->filter, flen)) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL,
                               "invalid topic filter '%.64s'", spec->filter);
    }
    if (spec->n_publishers == 0) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL,
                               "channel '%.64s' needs at least one publisher",
                               spec->filter);
    }
    total = spec->n_publishers + spec->n_subscribers;
    if (total > 65535u) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "too many members");
    }
    if (ratchet != NULL && ratchet->period_ms != 0) {
        if (!secmq__ratchet_valid(ratchet->period_ms, ratchet->grace_ms)) {
            return secmq__kerr_set(
                &e, SECMQ_E_INVAL,
                "channel '%.64s': an epoch is 1 s .. 24 days and its grace "
                "at most 1024 epochs (got %u ms, grace %u ms)",
                spec->filter, (unsigned)ratchet->period_ms,
                (unsigned)ratchet->grace_ms);
        }
        if (receipts != NULL) {
            return secmq__kerr_set(&e, SECMQ_E_INVAL,
                                   "channel '%.64s': receipts and epochs "
                                   "cannot be combined",
                                   spec->filter);
        }
        o.period_ms = ratchet->period_ms;
        o.ratchet_grace_ms = ratchet->grace_ms;
    }
    rc = secmq__admin_begin(dir, &a, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq__chan_id(cid, a.kr->self.pk, spec->filter, flen);
    if (secmq__chan_find(a.kr, cid) != NULL) {
        rc = secmq__kerr_set(&e, SECMQ_E_KEYRING,
                             "channel '%.64s' of '%s' exists already (rotate "
                             "or revoke to change it)",
                             spec->filter, a.kr->self.name);
        goto err;
    }
    m = calloc(total, sizeof *m);
    newp = calloc(total, sizeof *newp);
    keys = sodium_malloc(SECMQ_KEY_BYTES);
    if (m == NULL || newp == NULL || keys == NULL) {
        rc = secmq__kerr_set(&e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < spec->n_publishers; i++) {
        rc = member_add(a.kr, m, &nm, newp, &nnew, spec->publishers[i], 1, &e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    for (size_t i = 0; i < spec->n_subscribers; i++) {
        rc = member_add(a.kr, m, &nm, newp, &nnew, spec->subscribers[i], 0, &e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    o.filter = spec->filter;
    o.filter_len = flen;
    o.allow_mac = spec->allow_mac != 0;
    o.epoch = 1;
    randombytes_buf(o.key_id, sizeof o.key_id);
    randombytes_buf(keys, SECMQ_KEY_BYTES);
    o.key = keys;
    o.created_ms = secmq__unix_ms();
    o.members = m;
    o.nmembers = nm;
    rc = secmq__rcpt_choose(&rcpt, receipts, cid, m, nm, &e);
    if (rc != SECMQ_OK) {
        goto err;
    }
    o.rcpt = &rcpt;
    for (size_t i = 0; i < nnew; i++) {
        rc = secmq__peer_write(a.kr, &newp[i], &e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    rc = issue(a.kr, cid, &o, out_dir, cb, user, &e);
err:
    if (keys != NULL) {
        sodium_free(keys);
    }
    free(m);
    free(newp);
    secmq__rcpt_free(&rcpt);
    secmq__admin_end(&a);
    return rc;
}

/* A copy of r whose receipters are each the newest key of their holder
 * (§2.3: a receipter that replaced its key counts with the new one); its
 * pks are malloc'd (free them, not the rest). SECMQ_OK or SECMQ_E_NOMEM. */
static int rcpt_latest(const secmq_keyring *kr, const secmq__krcpt *r,
                       secmq__krcpt *out, secmq__kerr *e)
{
    *out = *r;
    out->pks = NULL;
    if (!r->on) {
        return SECMQ_OK;
    }
    out->pks = malloc(SECMQ_SIGN_PK_BYTES * (r->n ? r->n : 1));
    if (out->pks == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n; i++) {
        memcpy(out->pks + SECMQ_SIGN_PK_BYTES * i,
               secmq__succ_latest(kr, r->pks + SECMQ_SIGN_PK_BYTES * i),
               SECMQ_SIGN_PK_BYTES);
    }
    return SECMQ_OK;
}

/*
 * Issue channel ch again from kr's identity, without member drop (NULL:
 * nobody), with the members of add: a new key, epoch + 1, every member
 * under the newest key of its holder (§2.3).
 */
static int rotate_loaded(secmq_keyring *kr, const secmq__kchan *ch,
                         const char *drop, const secmq_channel_spec *add,
                         uint64_t grace_ms, const char *out_dir,
                         secmq_keyring_note_cb cb, void *user, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], fname[SECMQ_NAME_MAX + 8];
    const char *filter = ch->filter;
    secmq__kmember *m = NULL;
    secmq__ident *newp = NULL;
    unsigned char *keys = NULL;
    unsigned char cid[SECMQ__CID_BYTES];
    size_t nm = 0, npub = 0, nnew = 0;
    size_t nadd = add != NULL ? add->n_publishers + add->n_subscribers : 0;
    int found = 0, rc;
    secmq__krcpt rcpt, latest;
    secmq__owned o;

    memset(&o, 0, sizeof o);
    memset(&rcpt, 0, sizeof rcpt);
    memset(&latest, 0, sizeof latest);
    secmq__chan_id(cid, kr->self.pk, ch->filter, ch->filter_len);
    if (ch->epoch == UINT32_MAX) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "channel '%.64s': epochs "
                             "exhausted",
                             filter);
        goto err;
    }
    if (ch->nmembers + nadd > 65535u) {
        rc = secmq__kerr_set(e, SECMQ_E_INVAL, "too many members");
        goto err;
    }
    m = calloc(ch->nmembers + nadd + 1, sizeof *m);
    newp = calloc(nadd + 1, sizeof *newp);
    keys = sodium_malloc(2 * SECMQ_KEY_BYTES);
    if (m == NULL || newp == NULL || keys == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    for (size_t i = 0; i < ch->nmembers; i++) {
        if (drop != NULL && strcmp(ch->members[i].name, drop) == 0) {
            found = 1;
            continue;
        }
        m[nm] = ch->members[i];
        memcpy(m[nm].pk, secmq__succ_latest(kr, m[nm].pk), SECMQ_SIGN_PK_BYTES);
        nm++;
    }
    for (size_t i = 0; add != NULL && i < add->n_publishers; i++) {
        rc = member_add(kr, m, &nm, newp, &nnew, add->publishers[i], 1, e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    for (size_t i = 0; add != NULL && i < add->n_subscribers; i++) {
        rc = member_add(kr, m, &nm, newp, &nnew, add->subscribers[i], 0, e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    if (drop != NULL && !found) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "'%.64s' is not a member of channel '%.64s'", drop,
                             filter);
        goto err;
    }
    /* PROTOCOL.md §5.1: a grant lists at least one publisher. */
    for (size_t i = 0; i < nm; i++) {
        npub += m[i].publisher ? 1u : 0u;
    }
    if (nm > 0 && npub == 0) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "revoking '%.64s' would leave channel '%.64s' "
                             "without a publisher (a grant must list one): "
                             "revoke its subscribers first",
                             drop != NULL ? drop : "", filter);
        goto err;
    }
    o.filter = ch->filter;
    o.filter_len = ch->filter_len;
    o.allow_mac = ch->allow_mac;
    o.epoch = ch->epoch + 1;
    randombytes_buf(o.key_id, sizeof o.key_id);
    randombytes_buf(keys, SECMQ_KEY_BYTES);
    o.key = keys;
    o.created_ms = secmq__unix_ms();
    if (ch->chain != NULL) {
        /* §3.2: a fresh chain from new random key material, no previous
         * key: a removed member derives nothing of it, a new one nothing
         * of the old chain. */
        o.period_ms = ch->chain->period_ms;
        o.ratchet_grace_ms = ch->chain->grace_ms;
        o.lo = 0;
    } else {
        /* The replaced key stays usable for receivers until the deadline. */
        o.has_prev = 1;
        memcpy(o.prev_key_id, ch->key_id, SECMQ_ID_BYTES);
        memcpy(keys + SECMQ_KEY_BYTES, secmq__chan_key(kr, ch, 0),
               SECMQ_KEY_BYTES);
        o.prev_key = keys + SECMQ_KEY_BYTES;
        /* No grace is deadline 0 (PROTOCOL.md §3): the previous key is
         * named, so late envelopes are reported key_expired, but never
         * accepted. */
        o.prev_deadline_ms = grace_ms == 0 ? 0
                             : grace_ms > UINT64_MAX - o.created_ms
                                 ? UINT64_MAX
                                 : o.created_ms + grace_ms;
    }
    o.members = m;
    o.nmembers = nm;
    /* PROTOCOL.md §9.1: a revoked member is no receipter any more. */
    rc = rcpt_latest(kr, &ch->rcpt, &latest, e);
    if (rc == SECMQ_OK) {
        rc = secmq__rcpt_refresh(&rcpt, &latest, m, nm, e);
    }
    if (rc != SECMQ_OK) {
        goto err;
    }
    o.rcpt = &rcpt;
    for (size_t i = 0; i < nnew; i++) {
        rc = secmq__peer_write(kr, &newp[i], e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    rc = issue(kr, cid, &o, out_dir, cb, user, e);
    if (rc == SECMQ_OK && add != NULL) {
        secmq__note(cb, user,
                    "channel '%s': %zu member(s) added, new key (epoch %u)%s",
                    filter, nadd, (unsigned)o.epoch,
                    o.period_ms != 0 ? ": a fresh chain, the new members "
                                       "open nothing sent before"
                                     : "");
    }
    if (rc == SECMQ_OK && drop != NULL) {
        /* An old grant of the revoked member in out_dir is useless now. */
        snprintf(fname, sizeof fname, "%s.grant", drop);
        if (secmq__kpath(path, sizeof path, out_dir, fname, NULL) == 0) {
            (void)secmq__kfile_remove(path, NULL);
        }
        secmq__note(cb, user, "revoked '%s' from channel '%s' (epoch %u)", drop,
                    filter, (unsigned)o.epoch);
    }
err:
    if (keys != NULL) {
        sodium_free(keys);
    }
    free(m);
    free(newp);
    free(latest.pks);
    secmq__rcpt_free(&rcpt);
    return rc;
}

int secmq__owned_succeed(secmq_keyring *kr, const secmq__kchan *ch,
                         uint64_t grace_ms, const char *out_dir,
                         secmq_keyring_note_cb cb, void *user, secmq__kerr *e)
{
    return rotate_loaded(kr, ch, NULL, NULL, grace_ms, out_dir, cb, user, e);
}

/* Rotate the owned channel filter, without member drop (NULL: nobody). */
static int rotate(const char *dir, const char *filter, const char *drop,
                  const secmq_channel_spec *add, uint64_t grace_ms,
                  const char *out_dir, secmq_keyring_note_cb cb, void *user,
                  secmq__kerr *e)
{
    secmq__admin a = {-1, NULL};
    const secmq__kchan *ch;
    unsigned char cid[SECMQ__CID_BYTES];
    int rc;

    rc = secmq__admin_begin(dir, &a, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq__chan_id(cid, a.kr->self.pk, filter, strlen(filter));
    ch = secmq__chan_find(a.kr, cid);
    if (ch == NULL || !ch->owned) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "no channel '%.64s' owned by '%s' in %s", filter,
                             a.kr->self.name, dir);
    } else {
        rc = rotate_loaded(a.kr, ch, drop, add, grace_ms, out_dir, cb, user, e);
    }
    secmq__admin_end(&a);
    return rc;
}

int secmq_channel_rotate(const char *dir, const char *filter, uint64_t grace_ms,
                         const char *out_dir, secmq_keyring_note_cb cb,
                         void *user, char *err, size_t errlen)
{
    secmq__kerr e = {err, errlen};

    secmq__clear_err(err, errlen);
    if (dir == NULL || filter == NULL || out_dir == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    return rotate(dir, filter, NULL, NULL, grace_ms, out_dir, cb, user, &e);
}

int secmq_channel_revoke(const char *dir, const char *filter, const char *name,
                         uint64_t grace_ms, const char *out_dir,
                         secmq_keyring_note_cb cb, void *user, char *err,
                         size_t errlen)
{
    secmq__kerr e = {err, errlen};

    secmq__clear_err(err, errlen);
    if (dir == NULL || filter == NULL || name == NULL || out_dir == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    return rotate(dir, filter, name, NULL, grace_ms, out_dir, cb, user, &e);
}

int secmq_channel_add(const char *dir, const secmq_channel_spec *members,
                      uint64_t grace_ms, const char *out_dir,
                      secmq_keyring_note_cb cb, void *user, char *err,
                      size_t errlen)
{
    secmq__kerr e = {err, errlen};

    secmq__clear_err(err, errlen);
    if (dir == NULL || members == NULL || members->filter == NULL ||
        out_dir == NULL ||
        (members->publishers == NULL && members->n_publishers) ||
        (members->subscribers == NULL && members->n_subscribers)) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    if (members->n_publishers + members->n_subscribers == 0) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL,
                               "channel '%.64s': no member to add",
                               members->filter);
    }
    return rotate(dir, members->filter, NULL, members, grace_ms, out_dir, cb,
                  user, &e);
}
