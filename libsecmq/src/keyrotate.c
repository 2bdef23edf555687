/*
 * keyrotate.c -- secmq_identity_rotate (PROTOCOL.md §2.3): a new key pair
 * for a keyring's identity. The whole new keyring is built beside the old
 * one (DIR.rotating: the new identity, its successor statement, every
 * held grant re-sealed to the new key, every local file sealed with the
 * new local key, every owned channel issued again from the new key), then
 * the two directories are exchanged in one rename (renameat2
 * RENAME_EXCHANGE) and the old one is erased file by file. A crash before
 * the exchange leaves the old keyring as it was (the half-built one is
 * erased by the next call); after it, the next call only erases. Not for
 * accepting a peer's successor (keysucc.c, keyimport.c).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring_int.h"

static const char STAGE_SUFFIX[] = ".rotating";

int secmq__rotation_path(char *buf, size_t len, const char *dir)
{
    size_t n = strlen(dir);
    int w;

    while (n > 1 && dir[n - 1] == '/') {
        n--;
    }
    w = snprintf(buf, len, "%.*s%s", (int)n, dir, STAGE_SUFFIX);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* Remove the tree at path, every regular file erased (kfile_remove). */
static int erase_tree(const char *path, int depth, secmq__kerr *e)
{
    char sub[SECMQ__PATH_MAX];
    struct dirent *de;
    struct stat st;
    DIR *d;
    int rc = SECMQ_OK;

    if (depth > 4) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: nested too deep", path);
    }
    d = opendir(path);
    if (d == NULL) {
        return errno == ENOENT ? SECMQ_OK
                               : secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path,
                                                 strerror(errno));
    }
    while (rc == SECMQ_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (secmq__kpath(sub, sizeof sub, path, de->d_name, NULL) != 0 ||
            lstat(sub, &st) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "%s/%s: cannot read", path,
                                 de->d_name);
        } else if (S_ISDIR(st.st_mode)) {
            rc = erase_tree(sub, depth + 1, e);
        } else if (S_ISREG(st.st_mode)) {
            rc = secmq__kfile_remove(sub, e);
        } else if (unlink(sub) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", sub, strerror(errno));
        }
    }
    closedir(d);
    if (rc == SECMQ_OK && rmdir(path) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
    }
    return rc;
}

/* Copy every file of DIR/sub ending in suffix to to/sub, as it is. */
static int copy_files(const char *dir, const char *to, const char *sub,
                      const char *suffix, secmq__kerr *e)
{
    char from[SECMQ__PATH_MAX], dest[SECMQ__PATH_MAX];
    char **names = NULL;
    unsigned char *raw = NULL;
    size_t n = 0, len = 0;
    int rc = secmq__list_dir(dir, sub, suffix, NULL, &names, &n, e);

    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        if (secmq__kpath(from, sizeof from, dir, sub, names[i]) != 0 ||
            secmq__kpath(dest, sizeof dest, to, sub, names[i]) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", dir);
            break;
        }
        rc = secmq__kfile_read(from, SECMQ__GRANT_FILE_MAX, 0, &raw, &len, e);
        if (rc == SECMQ_OK) {
            rc = secmq__kfile_write(dest, raw, len, 0600, e);
        }
        secmq__kfile_release(raw, len + 1, 0);
        raw = NULL;
    }
    secmq__free_names(names, n);
    return rc;
}

/* Every grant file under DIR/grants/, opened with old_sk and sealed again
 * to new_pk, into to/grants/ under the same name. */
static int reseal_grants(const char *dir, const char *to,
                         const unsigned char *old_sk,
                         const unsigned char *new_pk, secmq__kerr *e)
{
    char from[SECMQ__PATH_MAX], dest[SECMQ__PATH_MAX];
    char **names = NULL;
    unsigned char *raw = NULL, *body = NULL, *file = NULL;
    size_t n = 0, len = 0, blen = 0, flen = 0;
    int rc = secmq__list_dir(dir, "grants", ".grant", NULL, &names, &n, e);

    for (size_t i = 0; rc == SECMQ_OK && i < n; i++) {
        if (secmq__kpath(from, sizeof from, dir, "grants", names[i]) != 0 ||
            secmq__kpath(dest, sizeof dest, to, "grants", names[i]) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", dir);
            break;
        }
        rc = secmq__kfile_read(from, SECMQ__GRANT_FILE_MAX, 0, &raw, &len, e);
        if (rc != SECMQ_OK) {
            break;
        }
        /* SECURITY: the body holds a channel key. */
        body = sodium_malloc(len ? len : 1);
        file = sodium_malloc(len + 1);
        if (body == NULL || file == NULL) {
            rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
        } else if (secmq_grant_open(body, len, &blen, raw, len, old_sk) !=
                   SECMQ_GRANT_OK) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                                 "%s: does not open with this identity's "
                                 "key (checked at every load: tampered?)",
                                 from);
        } else if (secmq_grant_seal(file, len + 1, &flen, body, blen, new_pk) !=
                   SECMQ_OK) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: cannot seal again",
                                 from);
        } else {
            rc = secmq__kfile_write(dest, file, flen, 0600, e);
        }
        if (body != NULL) {
            sodium_free(body);
        }
        if (file != NULL) {
            sodium_free(file);
        }
        body = file = NULL;
        secmq__kfile_release(raw, len + 1, 0);
        raw = NULL;
    }
    secmq__free_names(names, n);
    return rc;
}

/* The members' chains, from the lowest step still held now, sealed with
 * kr's (new) local key under kr->dir. */
static int reseal_chains(secmq_keyring *kr, secmq__kerr *e)
{
    uint64_t now = secmq__unix_ms();
    int rc = SECMQ_OK;

    for (size_t i = 0; rc == SECMQ_OK && i < kr->nchans; i++) {
        secmq__kchan *ch = &kr->chans[i];
        if (ch->chain == NULL || ch->owned || ch->chain->body == NULL) {
            continue;
        }
        /* SECURITY: steps past their grace are not carried over. */
        (void)secmq__chain_sync(ch, now);
        rc = secmq__chain_write(kr, ch->cid, ch->chain->lo, ch->chain->sec,
                                ch->chain->body, ch->chain->body_len, e);
    }
    return rc;
}

/* The new tree's directories and identity file (O_EXCL, 0600). */
static int stage_begin(const char *stage, const char *name,
                       const secmq__secret *nsec, secmq__kerr *e)
{
    static const char *const subdirs[] = {"peers", "grants", "owned", "state",
                                          "successions"};
    char path[SECMQ__PATH_MAX], text[256];
    size_t n;
    int rc = secmq__kfile_mkdir(stage, e);

    for (size_t i = 0; rc == SECMQ_OK && i < 5; i++) {
        if (secmq__kpath(path, sizeof path, stage, subdirs[i], NULL) != 0) {
            return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", stage);
        }
        rc = secmq__kfile_mkdir(path, e);
    }
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq__kpath(path, sizeof path, stage, "identity", NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", stage);
    }
    n = secmq__identity_format_secret(text, sizeof text, name, nsec->seed);
    rc = secmq__kfile_create(path, text, n, e);
    sodium_memzero(text, sizeof text);
    return rc;
}

/* out_dir/<name>.successor and out_dir/<name>.pub for the statement s. */
static int write_out(const char *out_dir, const secmq__succ *s,
                     secmq_keyring_note_cb cb, void *user, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], fname[SECMQ_NAME_MAX + 16];
    char text[SECMQ__SUCC_FILE_MAX], h1[2 * SECMQ_ID_BYTES + 1],
        h2[2 * SECMQ_ID_BYTES + 1];
    unsigned char old_id[SECMQ_ID_BYTES];
    secmq__ident pub;
    size_t n;
    int rc;

    memset(&pub, 0, sizeof pub);
    memcpy(pub.name, s->name, sizeof pub.name);
    memcpy(pub.pk, s->new_pk, SECMQ_SIGN_PK_BYTES);
    secmq_identity_id(pub.id, pub.pk);
    secmq_identity_id(old_id, s->old_pk);
    rc = secmq__kfile_mkdir(out_dir, e);
    snprintf(fname, sizeof fname, "%s.successor", s->name);
    if (rc == SECMQ_OK) {
        n = secmq__succ_format(text, sizeof text, s);
        rc = secmq__kpath(path, sizeof path, out_dir, fname, NULL) != 0
                 ? secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", out_dir)
                 : secmq__kfile_write(path, text, n, 0644, e);
    }
    if (rc == SECMQ_OK) {
        secmq__note(cb, user,
                    "%s: '%s' id %s -> %s: give it to every peer and channel "
                    "owner (secmq-keys import)",
                    path, s->name, secmq__hex(h1, old_id, SECMQ_ID_BYTES),
                    secmq__hex(h2, pub.id, SECMQ_ID_BYTES));
        snprintf(fname, sizeof fname, "%s.pub", s->name);
        n = secmq__identity_format_public(text, sizeof text, &pub);
        rc = secmq__kpath(path, sizeof path, out_dir, fname, NULL) != 0
                 ? secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", out_dir)
                 : secmq__kfile_write(path, text, n, 0644, e);
    }
    if (rc == SECMQ_OK) {
        secmq__note(cb, user, "%s: the new public identity", path);
    }
    return rc;
}

/*
 * After the exchange (DIR/state/rotated holds the statement): erase the
 * old tree at stage, write the files for the peers, drop the marker.
 */
static int finish(const char *dir, const char *stage, const char *out_dir,
                  secmq_keyring_note_cb cb, void *user, secmq__kerr *e)
{
    char marker[SECMQ__PATH_MAX];
    unsigned char *raw = NULL;
    size_t len = 0;
    const char *why;
    secmq__succ s;
    int rc;

    if (secmq__kpath(marker, sizeof marker, dir, "state", "rotated") != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", dir);
    }
    rc = secmq__kfile_read(marker, SECMQ__SUCC_FILE_MAX, 0, &raw, &len, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq__succ_parse((const char *)raw, len, &s, &why) != SECMQ__SUCC_OK) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: %s", marker, why);
    }
    secmq__kfile_release(raw, len + 1, 0);
    if (rc == SECMQ_OK) {
        /* SECURITY: the old seed and every file sealed with the old local
         * key are overwritten, not only unlinked. */
        rc = erase_tree(stage, 0, e);
    }
    if (rc == SECMQ_OK) {
        secmq__note(cb, user,
                    "%s: the old identity's keyring erased (overwritten, "
                    "then removed)",
                    stage);
        rc = write_out(out_dir, &s, cb, user, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__kfile_remove(marker, e);
    }
    return rc;
}

/* Build the new tree at stage from kr (loaded from dir, old identity) and
 * exchange it with dir. kr is switched to the new identity. */
static int build_and_swap(secmq_keyring *kr, const char *dir, const char *stage,
                          const char *out_dir, uint64_t grace_ms,
                          secmq_keyring_note_cb cb, void *user, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], text[SECMQ__SUCC_FILE_MAX];
    secmq__stream_ent *ents = NULL;
    secmq__secret *nsec, *old;
    secmq__ident npub;
    secmq__succ s;
    size_t n = 0;
    char *sdir;
    int rc;

    nsec = sodium_malloc(sizeof *nsec);
    sdir = strdup(stage);
    if (nsec == NULL || sdir == NULL) {
        if (nsec != NULL) {
            sodium_free(nsec);
        }
        free(sdir);
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    randombytes_buf(nsec->seed, sizeof nsec->seed);
    memset(&npub, 0, sizeof npub);
    secmq__identity_derive(nsec, &npub);
    memcpy(npub.name, kr->self.name, sizeof npub.name);
    memset(&s, 0, sizeof s);
    memcpy(s.name, kr->self.name, sizeof s.name);
    memcpy(s.old_pk, kr->self.pk, SECMQ_SIGN_PK_BYTES);
    memcpy(s.new_pk, npub.pk, SECMQ_SIGN_PK_BYTES);
    s.created_ms = secmq__unix_ms();
    secmq__succ_sign(&s, kr->sec->sk, nsec->sk);

    rc = stage_begin(stage, kr->self.name, nsec, e);
    if (rc == SECMQ_OK) {
        rc = copy_files(dir, stage, "peers", ".pub", e);
    }
    if (rc == SECMQ_OK) {
        rc = copy_files(dir, stage, "successions", ".successor", e);
    }
    if (rc == SECMQ_OK) {
        rc = reseal_grants(dir, stage, kr->sec->sk, npub.pk, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__rx_copy(kr, stage, nsec->local_key, e);
    }
    if (rc == SECMQ_OK) {
        rc = secmq__streams_load(dir, "seq", kr->sec->local_key, &ents, &n, e);
    }
    if (rc == SECMQ_OK && n > 0) {
        rc = secmq__streams_save(stage, "seq", nsec->local_key, ents, n, e);
    }
    free(ents);
    /* From here kr is the new identity, its files under stage. */
    old = kr->sec;
    kr->sec = nsec;
    kr->self = npub;
    free(kr->dir);
    kr->dir = sdir;
    sodium_free(old);
    if (rc == SECMQ_OK) {
        rc = secmq__succ_keep(kr, &s, e);
    }
    if (rc == SECMQ_OK) {
        rc = reseal_chains(kr, e);
    }
    /* Each owned channel's grants in out_dir/<its new channel id>/: a
     * member of two channels gets two files of the same name. */
    for (size_t i = 0; rc == SECMQ_OK && i < kr->nchans; i++) {
        unsigned char cid[SECMQ__CID_BYTES];
        char hex[2 * SECMQ__CID_BYTES + 1];
        const secmq__kchan *ch = &kr->chans[i];
        if (!ch->owned) {
            continue;
        }
        secmq__chan_id(cid, kr->self.pk, ch->filter, ch->filter_len);
        rc = secmq__kfile_mkdir(out_dir, e);
        if (rc == SECMQ_OK &&
            secmq__kpath(path, sizeof path, out_dir,
                         secmq__hex(hex, cid, SECMQ__CID_BYTES), NULL) != 0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", out_dir);
        }
        if (rc == SECMQ_OK) {
            rc = secmq__owned_succeed(kr, ch, grace_ms, path, cb, user, e);
        }
    }
    if (rc == SECMQ_OK) {
        n = secmq__succ_format(text, sizeof text, &s);
        rc = secmq__kpath(path, sizeof path, stage, "state", "rotated") != 0
                 ? secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", stage)
                 : secmq__kfile_write(path, text, n, 0600, e);
    }
    if (rc != SECMQ_OK) {
        return rc;
    }
    /* The one step that changes the keyring: both trees are complete. */
    if (renameat2(AT_FDCWD, stage, AT_FDCWD, dir, RENAME_EXCHANGE) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO,
                               "cannot exchange %s with %s: %s (the file "
                               "system must support RENAME_EXCHANGE); the "
                               "keyring is unchanged",
                               stage, dir, strerror(errno));
    }
    return secmq__kfile_sync_parent(stage, e);
}

int secmq_identity_rotate(const char *dir, const char *out_dir,
                          uint64_t grace_ms, secmq_keyring_note_cb cb,
                          void *user, char *err, size_t errlen)
{
    secmq__kerr e = {err, errlen};
    char path[SECMQ__PATH_MAX], stage[SECMQ__PATH_MAX];
    secmq_keyring *kr = NULL;
    struct stat st;
    int lockfd = -1, usefd = -1, rc;

    secmq__clear_err(err, errlen);
    if (dir == NULL || out_dir == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    if (secmq_init() != SECMQ_OK) {
        return secmq__kerr_set(&e, SECMQ_E_IO, "libsodium failed to start");
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return secmq__kerr_set(&e, SECMQ_E_KEYRING,
                               "%s: no keyring here (create one with "
                               "`secmq-keys init`)",
                               dir);
    }
    if (secmq__rotation_path(stage, sizeof stage, dir) != 0 ||
        secmq__kpath(path, sizeof path, dir, "lock", NULL) != 0) {
        return secmq__kerr_set(&e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    rc = secmq__kfile_lock(path, 1, 0, 1, &lockfd, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq__kpath(path, sizeof path, dir, "state", "use.lock") != 0) {
        rc = secmq__kerr_set(&e, SECMQ_E_KEYRING, "%s: path too long", dir);
        goto out;
    }
    rc = secmq__kfile_lock(path, 1, 1, 1, &usefd, &e);
    if (rc == SECMQ_E_STATE) {
        rc = secmq__kerr_set(&e, SECMQ_E_KEYRING,
                             "%s: the keyring is in use by a running process "
                             "(a client, secmq-pub, secmq-sub, secmq-file): "
                             "stop it, then rotate",
                             dir);
    }
    if (rc != SECMQ_OK) {
        goto out;
    }
    /* A marker in dir: the exchange was made, the old tree not erased. */
    if (secmq__kpath(path, sizeof path, dir, "state", "rotated") != 0) {
        rc = secmq__kerr_set(&e, SECMQ_E_KEYRING, "%s: path too long", dir);
        goto out;
    }
    if (lstat(path, &st) == 0) {
        secmq__note(cb, user, "%s: finishing an interrupted rotation", dir);
        rc = finish(dir, stage, out_dir, cb, user, &e);
        goto out;
    }
    /* A half-built new tree: it never took effect. */
    if (lstat(stage, &st) == 0) {
        rc = erase_tree(stage, 0, &e);
        if (rc != SECMQ_OK) {
            goto out;
        }
        secmq__note(cb, user,
                    "%s: an interrupted rotation's unused new "
                    "keyring erased; rotating again",
                    stage);
    }
    rc = secmq__keystore_load(&kr, dir, &e);
    if (rc == SECMQ_OK) {
        rc = build_and_swap(kr, dir, stage, out_dir, grace_ms, cb, user, &e);
    }
    if (rc != SECMQ_OK && kr != NULL && lstat(path, &st) != 0) {
        /* Not exchanged: the new tree holds a secret nobody will use. */
        (void)erase_tree(stage, 0, NULL);
    }
    if (rc == SECMQ_OK) {
        rc = finish(dir, stage, out_dir, cb, user, &e);
    }
out:
    secmq__keystore_free(kr);
    if (usefd >= 0) {
        close(usefd);
    }
    close(lockfd);
    return rc;
}
