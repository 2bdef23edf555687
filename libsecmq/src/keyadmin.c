/*
 * keyadmin.c -- what every management call shares (take the directory
 * lock, load the keyring, admit a new peer, write it), and the identity
 * calls: create and export. Importing is keyimport.c's, channels are
 * keychannel.c's; sealing and opening messages is keyring.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring_int.h"
#include "topicfilter_int.h"

#define NOTE_BYTES 512u

void secmq__note(secmq_keyring_note_cb cb, void *user, const char *fmt, ...)
{
    char line[NOTE_BYTES];
    va_list ap;

    if (cb == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cb(user, line);
}

static int same_pk(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ_SIGN_PK_BYTES) == 0; /* not secret */
}

void secmq__clear_err(char *err, size_t errlen)
{
    if (err != NULL && errlen > 0) {
        err[0] = 0;
    }
}

/* ---- the directory lock and the loaded keyring ----------------------------
 */

int secmq__admin_begin(const char *dir, secmq__admin *a, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    struct stat st;
    int rc;

    a->lockfd = -1;
    a->kr = NULL;
    if (secmq_init() != SECMQ_OK) {
        return secmq__kerr_set(e, SECMQ_E_IO, "libsodium failed to start");
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: no keyring here (create one with "
                               "`secmq-keys init`)",
                               dir);
    }
    if (secmq__kpath(path, sizeof path, dir, "lock", NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    rc = secmq__kfile_lock(path, 1, 0, 1, &a->lockfd, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq__rotation_check(dir, e);
    if (rc == SECMQ_OK) {
        rc = secmq__keystore_load(&a->kr, dir, e);
    }
    if (rc != SECMQ_OK) {
        close(a->lockfd);
        a->lockfd = -1;
    }
    return rc;
}

int secmq__rotation_check(const char *dir, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    struct stat st;

    if (secmq__rotation_path(path, sizeof path, dir) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    if (lstat(path, &st) == 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: an identity rotation was interrupted "
                               "(%s exists): run `secmq-keys identity rotate "
                               "--keyring %s --out DIR` again to finish it",
                               dir, path, dir);
    }
    return SECMQ_OK;
}

int secmq__use_lock(secmq_keyring *kr, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    int rc;

    if (secmq__kpath(path, sizeof path, kr->dir, "state", "use.lock") != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long",
                               kr->dir);
    }
    rc = secmq__kfile_lock(path, 0, 1, 0, &kr->use_fd, e);
    if (rc == SECMQ_OK && kr->use_fd < 0) {
        /* No lock file yet. A directory this process cannot write (read
         * only) keeps none: nothing rotates it under our feet either. */
        rc = secmq__kfile_lock(path, 0, 1, 1, &kr->use_fd, e);
        rc = rc == SECMQ_E_IO ? SECMQ_OK : rc;
    }
    if (rc == SECMQ_E_STATE) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: its identity is being rotated "
                               "(`secmq-keys identity rotate`); open it "
                               "again when that has finished",
                               kr->dir);
    }
    return rc;
}

void secmq__admin_end(secmq__admin *a)
{
    secmq__keystore_free(a->kr);
    a->kr = NULL;
    if (a->lockfd >= 0) {
        close(a->lockfd);
        a->lockfd = -1;
    }
}

/* Add p to the in-memory peers (trusted for the rest of this call). */
static int peer_add(secmq_keyring *kr, const secmq__ident *p, secmq__kerr *e)
{
    secmq__ident *np = realloc(kr->peers, (kr->npeers + 1) * sizeof *np);

    if (np == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    kr->peers = np;
    kr->peers[kr->npeers++] = *p;
    return SECMQ_OK;
}

/*
 * Decide about a public identity p read from label: 1 = new peer (added
 * to kr->peers), 0 = already known or this identity (nothing to do),
 * negative = refused.
 */
int secmq__peer_admit(secmq_keyring *kr, const secmq__ident *p,
                      const char *label, secmq__kerr *e)
{
    const secmq__ident *known;
    char hex[2 * SECMQ_ID_BYTES + 1];
    int rc;

    if (same_pk(p->pk, kr->self.pk)) {
        if (strcmp(p->name, kr->self.name) != 0) {
            return secmq__kerr_set(e, SECMQ_E_KEYRING,
                                   "%s: this keyring's own key under another "
                                   "name ('%s', not '%s')",
                                   label, p->name, kr->self.name);
        }
        return 0;
    }
    if (secmq__succ_find(kr, p->pk) != NULL) {
        known = secmq__succ_peer(kr, p->pk);
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: an old key of '%s', replaced by its "
                               "successor (statement accepted): use its new "
                               "public file",
                               label,
                               known != NULL ? known->name : kr->self.name);
    }
    known = secmq__peer_by_pk(kr, p->pk);
    if (known != NULL && strcmp(known->name, p->name) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: key already trusted under the name '%s' "
                               "(not '%s')",
                               label, known->name, p->name);
    }
    if (known != NULL) {
        return 0;
    }
    known = secmq__peer_by_name(kr, p->name);
    if (known != NULL || strcmp(p->name, kr->self.name) == 0) {
        return secmq__kerr_set(
            e, SECMQ_E_KEYRING,
            "%s: another identity named '%s' is already known (id %s); "
            "names must be unique",
            label, p->name,
            secmq__hex(hex, known != NULL ? known->id : kr->self.id,
                       SECMQ_ID_BYTES));
    }
    rc = peer_add(kr, p, e);
    return rc == SECMQ_OK ? 1 : rc;
}

int secmq__peer_write(const secmq_keyring *kr, const secmq__ident *p,
                      secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX], fname[SECMQ_NAME_MAX + 8];
    char text[256];
    size_t n;

    snprintf(fname, sizeof fname, "%s.pub", p->name);
    if (secmq__kpath(path, sizeof path, kr->dir, "peers", fname) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    n = secmq__identity_format_public(text, sizeof text, p);
    return secmq__kfile_write(path, text, n, 0600, e);
}

/* ---- identity -------------------------------------------------------------
 */

int secmq_identity_create(const char *dir, const char *name, char *err,
                          size_t errlen)
{
    static const char *const subdirs[] = {"peers", "grants", "owned", "state"};
    secmq__kerr e = {err, errlen};
    char path[SECMQ__PATH_MAX];
    char text[256];
    secmq__secret *sec = NULL;
    int lockfd = -1, rc;
    size_t n;

    secmq__clear_err(err, errlen);
    if (dir == NULL || name == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    if (!secmq__name_valid(name, strlen(name))) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL,
                               "invalid name '%.80s' (1..64 of A-Z a-z 0-9 "
                               ". _ @ -)",
                               name);
    }
    if (secmq_init() != SECMQ_OK) {
        return secmq__kerr_set(&e, SECMQ_E_IO, "libsodium failed to start");
    }
    rc = secmq__kfile_mkdir(dir, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    /* A directory that existed before init keeps its mode: refuse a wide
     * one rather than write an identity into it. */
    rc = secmq__kfile_check_dir(dir, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq__kpath(path, sizeof path, dir, "lock", NULL) != 0) {
        return secmq__kerr_set(&e, SECMQ_E_IO, "%s: path too long", dir);
    }
    rc = secmq__kfile_lock(path, 1, 0, 1, &lockfd, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq__kpath(path, sizeof path, dir, "identity", NULL) != 0) {
        rc = secmq__kerr_set(&e, SECMQ_E_IO, "%s: path too long", dir);
        goto err;
    }
    if (access(path, F_OK) == 0) {
        rc = secmq__kerr_set(&e, SECMQ_E_KEYRING,
                             "%s: an identity exists already; not "
                             "overwritten",
                             path);
        goto err;
    }
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char sub[SECMQ__PATH_MAX];
        if (secmq__kpath(sub, sizeof sub, dir, subdirs[i], NULL) != 0) {
            rc = secmq__kerr_set(&e, SECMQ_E_IO, "%s: path too long", dir);
            goto err;
        }
        rc = secmq__kfile_mkdir(sub, &e);
        if (rc != SECMQ_OK) {
            goto err;
        }
    }
    sec = sodium_malloc(sizeof *sec);
    if (sec == NULL) {
        rc = secmq__kerr_set(&e, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    randombytes_buf(sec->seed, sizeof sec->seed);
    n = secmq__identity_format_secret(text, sizeof text, name, sec->seed);
    /* SECURITY: O_EXCL and 0600 from the first byte: never overwrites an
     * identity, never exists with a wider mode. */
    rc = secmq__kfile_create(path, text, n, &e);
    sodium_memzero(text, sizeof text);
err:
    if (sec != NULL) {
        sodium_free(sec);
    }
    close(lockfd);
    return rc;
}

int secmq_identity_export(const char *dir, char *buf, size_t len,
                          size_t *out_len, char *err, size_t errlen)
{
    secmq__kerr e = {err, errlen};
    secmq__secret *sec;
    secmq__ident pub;
    size_t n;
    int rc;

    secmq__clear_err(err, errlen);
    if (dir == NULL || buf == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    if (secmq_init() != SECMQ_OK) {
        return secmq__kerr_set(&e, SECMQ_E_IO, "libsodium failed to start");
    }
    sec = sodium_malloc(sizeof *sec);
    if (sec == NULL) {
        return secmq__kerr_set(&e, SECMQ_E_NOMEM, "out of memory");
    }
    rc = secmq__identity_load(dir, &pub, sec, &e);
    sodium_free(sec);
    if (rc != SECMQ_OK) {
        return rc;
    }
    n = secmq__identity_format_public(buf, len, &pub);
    if (n == 0) {
        return secmq__kerr_set(&e, SECMQ_E_OVERSIZE, "buffer too small");
    }
    if (out_len != NULL) {
        *out_len = n;
    }
    return SECMQ_OK;
}

int secmq_identity_read_public(const char *path, char *name, size_t name_cap,
                               unsigned char *pk, char *err, size_t errlen)
{
    secmq__kerr e = {err, errlen};
    secmq__ident pub;
    int rc;

    secmq__clear_err(err, errlen);
    if (path == NULL || name == NULL || pk == NULL ||
        name_cap < SECMQ_NAME_MAX + 1) {
        return secmq__kerr_set(&e, SECMQ_E_INVAL, "invalid argument");
    }
    rc = secmq__identity_read_public(path, &pub, &e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    memcpy(name, pub.name, strlen(pub.name) + 1);
    memcpy(pk, pub.pk, SECMQ_SIGN_PK_BYTES);
    return SECMQ_OK;
}
