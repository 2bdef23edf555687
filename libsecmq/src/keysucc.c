/*
 * keysucc.c -- successions in a keyring (PROTOCOL.md §2.3, §5.3): the
 * successor statements it accepted (its own and its peers'), kept in
 * DIR/successions/ and checked again at every load, and what follows from
 * them: which keys are this identity's predecessors, which peer an old key
 * belongs to, and whether a new statement may be accepted (the first one
 * for an old key wins; a conflicting second is refused loudly). Not for
 * making statements (identity_succ.c) or rotating (keyrotate.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyring_int.h"

static int same_pk(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_SIGN_PK_BYTES) == 0; /* not secret */
}

/* DIR/successions/<16 hex of old_pk's id>.successor into path. */
static int succ_path(char *path, size_t len, const char *dir,
                     const unsigned char *old_pk)
{
    unsigned char id[SECMQ_ID_BYTES];
    char hex[2 * SECMQ_ID_BYTES + 1], fname[2 * SECMQ_ID_BYTES + 16];

    secmq_identity_id(id, old_pk);
    snprintf(fname, sizeof fname, "%s.successor",
             secmq__hex(hex, id, SECMQ_ID_BYTES));
    return secmq__kpath(path, len, dir, "successions", fname);
}

static int succ_append(secmq_keyring *kr, const secmq__succ *s, secmq__kerr *e)
{
    secmq__succ *ns = realloc(kr->succ, (kr->nsucc + 1) * sizeof *ns);

    if (ns == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    kr->succ = ns;
    kr->succ[kr->nsucc++] = *s;
    return SECMQ_OK;
}

int secmq__succ_load(secmq_keyring *kr, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], want[SECMQ__PATH_MAX];
    char **names = NULL;
    unsigned char *raw = NULL;
    size_t n = 0, len = 0;
    const char *why;
    secmq__succ s;
    int rc;

    rc = secmq__list_dir(kr->dir, "successions", ".successor", NULL, &names, &n,
                         e);
    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        if (secmq__kpath(path, sizeof path, kr->dir, "successions", names[i]) !=
            0) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                                 kr->dir);
            break;
        }
        rc = secmq__kfile_read(path, SECMQ__SUCC_FILE_MAX, 0, &raw, &len, e);
        if (rc != SECMQ_OK) {
            break;
        }
        if (secmq__succ_parse((const char *)raw, len, &s, &why) !=
            SECMQ__SUCC_OK) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: %s", path, why);
        } else if (succ_path(want, sizeof want, kr->dir, s.old_pk) != 0 ||
                   strcmp(want, path) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                                 "%s: holds the statement of another key; "
                                 "renamed?",
                                 path);
        } else {
            rc = succ_append(kr, &s, e);
        }
        secmq__kfile_release(raw, len + 1, 0);
        raw = NULL;
    }
    secmq__free_names(names, n);
    return rc;
}

const secmq__succ *secmq__succ_find(const secmq_keyring *kr,
                                    const unsigned char *old_pk)
{
    for (size_t i = 0; i < kr->nsucc; i++) {
        if (same_pk(kr->succ[i].old_pk, old_pk)) {
            return &kr->succ[i];
        }
    }
    return NULL;
}

const unsigned char *secmq__succ_latest(const secmq_keyring *kr,
                                        const unsigned char *pk)
{
    const secmq__succ *s;

    for (int i = 0; i < SECMQ__SUCC_CHAIN_MAX; i++) {
        s = secmq__succ_find(kr, pk);
        if (s == NULL) {
            break;
        }
        pk = s->new_pk;
    }
    return pk;
}

int secmq__succ_is_own_old(const secmq_keyring *kr, const unsigned char *pk)
{
    return !same_pk(pk, kr->self.pk) &&
           same_pk(secmq__succ_latest(kr, pk), kr->self.pk);
}

const secmq__ident *secmq__succ_peer(const secmq_keyring *kr,
                                     const unsigned char *pk)
{
    return secmq__peer_by_pk(kr, secmq__succ_latest(kr, pk));
}

int secmq__succ_keep(secmq_keyring *kr, const secmq__succ *s, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], dpath[SECMQ__PATH_MAX];
    char text[SECMQ__SUCC_FILE_MAX];
    size_t len = secmq__succ_format(text, sizeof text, s);
    int rc;

    if (len == 0 || succ_path(path, sizeof path, kr->dir, s->old_pk) != 0 ||
        secmq__kpath(dpath, sizeof dpath, kr->dir, "successions", NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    rc = secmq__kfile_mkdir(dpath, e);
    if (rc == SECMQ_OK) {
        rc = secmq__kfile_write(path, text, len, 0600, e);
    }
    if (rc == SECMQ_OK && secmq__succ_find(kr, s->old_pk) == NULL) {
        rc = succ_append(kr, s, e);
    }
    return rc;
}

int secmq__succ_admit(secmq_keyring *kr, const secmq__succ *s,
                      const char *label, secmq__ident *peer, secmq__kerr *e)
{
    const secmq__succ *known = secmq__succ_find(kr, s->old_pk);
    char h1[2 * SECMQ_ID_BYTES + 1], h2[2 * SECMQ_ID_BYTES + 1];
    unsigned char id[SECMQ_ID_BYTES];
    secmq__ident *p = NULL;
    int rc;

    /* SECURITY: whoever stole a key can write a statement for it too;
     * the first one accepted stands and a second one is an alarm. */
    if (known != NULL && !same_pk(known->new_pk, s->new_pk)) {
        unsigned char id2[SECMQ_ID_BYTES];
        secmq_identity_id(id, known->new_pk);
        secmq_identity_id(id2, s->new_pk);
        return secmq__kerr_set(
            e, SECMQ_E_KEYRING,
            "%s: conflicting successors: two successors for '%s' (this "
            "keyring accepted id %s, this file names id %s): its old key may "
            "be stolen; check the new key's fingerprint with its owner",
            label, s->name, secmq__hex(h1, id, SECMQ_ID_BYTES),
            secmq__hex(h2, id2, SECMQ_ID_BYTES));
    }
    if (known != NULL || secmq__succ_is_own_old(kr, s->old_pk)) {
        return 0;
    }
    for (size_t i = 0; i < kr->npeers; i++) {
        if (same_pk(kr->peers[i].pk, s->old_pk)) {
            p = &kr->peers[i];
        }
    }
    if (p == NULL) {
        secmq_identity_id(id, s->old_pk);
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: a successor for a key this keyring does "
                               "not trust ('%s', id %s): import its public "
                               "identity first, if you trust it",
                               label, s->name,
                               secmq__hex(h1, id, SECMQ_ID_BYTES));
    }
    if (strcmp(p->name, s->name) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: names '%s', but the key is trusted as "
                               "'%s'",
                               label, s->name, p->name);
    }
    if (same_pk(s->new_pk, kr->self.pk) ||
        secmq__peer_by_pk(kr, s->new_pk) != NULL) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: the new key is already another identity "
                               "of this keyring",
                               label);
    }
    rc = succ_append(kr, s, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    memcpy(p->pk, s->new_pk, SECMQ_SIGN_PK_BYTES);
    secmq_identity_id(p->id, p->pk);
    *peer = *p;
    return 1;
}
