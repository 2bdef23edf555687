/*
 * kfile.c -- the keyring's file primitives: bounded reads that can refuse
 * a file others may read, atomic replace (temporary file, fsync, rename,
 * fsync of the directory) and removal that both overwrite the old file's
 * bytes with zeros once nothing needs them, flock, and sealed local files.
 * Every failure names the path. Not for what the files mean: that is
 * keystore.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kfile_int.h"

#define LF_MAGIC "SECMQLF1"
#define LF_MAGIC_BYTES 8u
#define LF_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define LF_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define LF_KIND_MAX 32u

/* The largest file the erase overwrites: every keyring file is smaller
 * (grants at most 4 MiB, the sealed stream tables at most 24 MB). */
#define KF_ERASE_MAX (64u * 1024u * 1024u)
#define KF_ZERO_CHUNK 65536u
/* pwrite calls one erase may make: every chunk once, plus short writes. */
#define KF_ERASE_STEPS (4u * (KF_ERASE_MAX / KF_ZERO_CHUNK) + 16u)
/* Reads of a file that another process keeps replacing meanwhile. */
#define KF_READ_TRIES 4

int secmq__kerr_set(secmq__kerr *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e != NULL && e->buf != NULL && e->len > 0) {
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return code;
}

int secmq__kpath(char *buf, size_t len, const char *dir, const char *a,
                 const char *b)
{
    int n;

    if (b != NULL) {
        n = snprintf(buf, len, "%s/%s/%s", dir, a, b);
    } else {
        n = snprintf(buf, len, "%s/%s", dir, a);
    }
    if (n < 0 || (size_t)n >= len) {
        return -1;
    }
    return 0;
}

static unsigned char *buf_alloc(size_t n, unsigned flags)
{
    if (flags & SECMQ__KF_SECRET) {
        return sodium_malloc(n);
    }
    return malloc(n);
}

void secmq__kfile_release(unsigned char *data, size_t len, unsigned flags)
{
    if (data == NULL) {
        return;
    }
    if (flags & SECMQ__KF_SECRET) {
        sodium_free(data);
        return;
    }
    sodium_memzero(data, len);
    free(data);
}

/* One try of secmq__kfile_read. *replaced is set (and nothing returned)
 * when path no longer names the file read once it has been read. */
static int read_once(const char *path, size_t max, unsigned flags,
                     unsigned char **data, size_t *len, int *replaced,
                     secmq__kerr *e)
{
    struct stat st, now;
    unsigned char *buf = NULL;
    size_t size = 0, got = 0;
    ssize_t n;
    int fd, rc;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT && (flags & SECMQ__KF_OPTIONAL)) {
            return SECMQ_OK;
        }
        if (errno == ENOENT) {
            return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: missing", path);
        }
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        rc =
            secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: not a regular file", path);
        goto err;
    }
    /* SECURITY: a secret file others can read or write is refused, not
     * fixed: someone may already have read or replaced it. */
    if ((flags & SECMQ__KF_PRIVATE) && (st.st_mode & 077) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: readable or writable by group or others "
                             "(mode %04o); it must be 0600 (chmod 600 %s)",
                             path, (unsigned)(st.st_mode & 07777), path);
        goto err;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: too large (more than %zu bytes)", path, max);
        goto err;
    }
    size = (size_t)st.st_size;
    buf = buf_alloc(size + 1, flags);
    if (buf == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "%s: out of memory", path);
        goto err;
    }
    /* Read to EOF, but never past size: a growing file is not ours. */
    for (;;) {
        n = read(fd, buf + got, size + 1 - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc =
                secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
            goto err;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
        if (got > size) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                                 "%s: changed while being read", path);
            goto err;
        }
    }
    buf[got] = 0;
    /* SECURITY: a writer overwrites a replaced or removed file with zeros
     * once its name points elsewhere. If that happened while we read, what
     * we read may be part zeros: read the file the name points at now. */
    if (lstat(path, &now) != 0 || now.st_dev != st.st_dev ||
        now.st_ino != st.st_ino) {
        *replaced = 1;
        rc = SECMQ_OK;
        goto err;
    }
    close(fd);
    *data = buf;
    *len = got;
    return SECMQ_OK;
err:
    secmq__kfile_release(buf, size + 1, flags);
    close(fd);
    return rc;
}

int secmq__kfile_read(const char *path, size_t max, unsigned flags,
                      unsigned char **data, size_t *len, secmq__kerr *e)
{
    int replaced = 1, rc = SECMQ_OK;

    for (int i = 0; i < KF_READ_TRIES && replaced; i++) {
        replaced = 0;
        rc = read_once(path, max, flags, data, len, &replaced, e);
    }
    if (replaced) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: replaced again and again while being read",
                               path);
    }
    return rc;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding path, so a rename or create is durable. */
static int sync_parent(const char *path)
{
    char dir[SECMQ__PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n;
    int fd, rc;

    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else {
        n = (size_t)(slash - path);
        if (n == 0) {
            n = 1;
        }
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    rc = fsync(fd);
    close(fd);
    return rc;
}

int secmq__kfile_sync_parent(const char *path, secmq__kerr *e)
{
    if (sync_parent(path) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO,
                               "cannot sync the directory of %s: %s", path,
                               strerror(errno));
    }
    return SECMQ_OK;
}

/*
 * Open the file path names now, to overwrite it once it is replaced or
 * removed. *fd is -1 when there is nothing to erase there: no such name, a
 * symbolic link (the keyring never reads through one, so what it points at
 * is not a keyring file) or not a regular file (never opened: a FIFO or
 * device must not be touched). Returns 0, or -1 with errno when a regular
 * file is there that cannot be opened for writing.
 */
static int erase_open(const char *path, int *fd)
{
    struct stat ls, st;
    int f, saved;

    *fd = -1;
    if (lstat(path, &ls) != 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (!S_ISREG(ls.st_mode)) {
        return 0;
    }
    f = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) {
        /* Gone or swapped for a link since the lstat: nothing of ours. */
        return errno == ENOENT || errno == ELOOP ? 0 : -1;
    }
    if (fstat(f, &st) != 0) {
        saved = errno;
        close(f);
        errno = saved;
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_dev != ls.st_dev ||
        st.st_ino != ls.st_ino) {
        close(f); /* swapped since the lstat: not the file we looked at */
        return 0;
    }
    *fd = f;
    return 0;
}

/*
 * Overwrite the whole length of fd's file with zeros and fdatasync it.
 * Returns 0, or -1 with errno (EFBIG: larger than any keyring file).
 */
static int erase_fd(int fd)
{
    static const unsigned char zeros[KF_ZERO_CHUNK];
    struct stat st;
    uint64_t size, off = 0;
    size_t want;
    ssize_t n;

    if (fstat(fd, &st) != 0) {
        return -1;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > KF_ERASE_MAX) {
        errno = EFBIG;
        return -1;
    }
    size = (uint64_t)st.st_size;
    for (unsigned step = 0; off < size; step++) {
        if (step >= KF_ERASE_STEPS) {
            errno = EIO; /* only ever-shorter writes get here */
            return -1;
        }
        want = size - off < KF_ZERO_CHUNK ? (size_t)(size - off)
                                          : (size_t)KF_ZERO_CHUNK;
        n = pwrite(fd, zeros, want, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return -1;
        }
        off += (uint64_t)n;
    }
    return fdatasync(fd);
}

/*
 * A file of ours that nobody will read (a temporary file, or one created
 * and then failed): overwrite it through fd (or open path when fd is -1),
 * close fd, unlink path. Best effort: the caller is already failing and
 * reports its own reason.
 */
static void discard(const char *path, int fd)
{
    if (fd < 0) {
        (void)erase_open(path, &fd);
    }
    if (fd >= 0) {
        (void)erase_fd(fd);
        close(fd);
    }
    (void)unlink(path);
}

/*
 * The last step of a replace or removal whose new state is durable: the
 * old file's bytes are overwritten through old (kept open since before the
 * rename or unlink; closed here). open_errno: why old could not be opened
 * (0 if it was, or there was nothing to erase). Returns SECMQ_OK or
 * SECMQ_E_IO, whose reason says what was done and what was not.
 */
static int erase_old(const char *path, int old, int open_errno,
                     const char *done, secmq__kerr *e)
{
    int err = open_errno;

    if (old >= 0) {
        if (erase_fd(old) != 0) {
            err = errno != 0 ? errno : EIO;
        }
        close(old);
    }
    if (err != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO,
                               "%s: %s, but its old content could not be "
                               "overwritten (%s): the old bytes may still be "
                               "on the disk",
                               path, done, strerror(err));
    }
    return SECMQ_OK;
}

int secmq__kfile_write(const char *path, const void *data, size_t len,
                       unsigned mode, secmq__kerr *e)
{
    char tmp[SECMQ__PATH_MAX];
    int fd = -1, old = -1, old_errno = 0, n, rc;

    n = snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", path);
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot create: %s", path,
                               strerror(errno));
    }
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 ||
        fsync(fd) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot write: %s", path,
                             strerror(errno));
        goto err;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot write: %s", path,
                             strerror(errno));
        goto err;
    }
    fd = -1;
    /* The file being replaced, held open so that its bytes can be
     * overwritten once the new one has taken its name. */
    if (erase_open(path, &old) != 0) {
        old_errno = errno;
    }
    /* SECURITY: the new content is on disk before the name points at it,
     * and the rename is on disk before the caller relies on it. */
    if (rename(tmp, path) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot replace: %s", path,
                             strerror(errno));
        goto err;
    }
    if (sync_parent(path) != 0) {
        /* SECURITY: the old file is left as it is: until the rename is
         * durable, a crash may bring its name back, and zeros there would
         * be neither the old content nor the new. */
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot sync directory: %s",
                             path, strerror(errno));
        if (old >= 0) {
            close(old);
        }
        return rc;
    }
    /* SECURITY: only now, with the new file durable under the name, are
     * the old bytes (keys of a past epoch, say) overwritten: a crash at
     * any point leaves the old file or the new one, never zeros. Another
     * name hard-linked to the old file sees the zeros too, deliberately:
     * the keyring cannot tell a backup from a leftover, and skipping the
     * erase there would keep the very keys it exists to destroy. */
    return erase_old(path, old, old_errno, "replaced", e);
err:
    if (old >= 0) {
        close(old);
    }
    discard(tmp, fd);
    return rc;
}

int secmq__kfile_create(const char *path, const void *data, size_t len,
                        secmq__kerr *e)
{
    int fd, rc;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: exists already; not overwritten", path);
    }
    if (fd < 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot create: %s", path,
                               strerror(errno));
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot write: %s", path,
                             strerror(errno));
        goto err;
    }
    if (close(fd) != 0 || sync_parent(path) != 0) {
        fd = -1;
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot write: %s", path,
                             strerror(errno));
        goto err;
    }
    return SECMQ_OK;
err:
    /* SECURITY: what was written of the secret is overwritten too. */
    discard(path, fd);
    return rc;
}

int secmq__kfile_remove(const char *path, secmq__kerr *e)
{
    int old = -1, old_errno = 0;

    if (erase_open(path, &old) != 0) {
        old_errno = errno;
    }
    if (unlink(path) != 0) {
        int saved = errno;

        if (old >= 0) {
            close(old);
        }
        if (saved == ENOENT) {
            return SECMQ_OK;
        }
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot remove: %s", path,
                               strerror(saved));
    }
    if (sync_parent(path) != 0) {
        /* SECURITY: not erased while a crash may still bring it back. */
        int rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot sync directory: %s",
                                 path, strerror(errno));
        if (old >= 0) {
            close(old);
        }
        return rc;
    }
    /* SECURITY: the removal is durable: now the bytes go (hard links to
     * the file see zeros too, as for a replace). */
    return erase_old(path, old, old_errno, "removed", e);
}

int secmq__kfile_mkdir(const char *path, secmq__kerr *e)
{
    struct stat st;

    if (mkdir(path, 0700) == 0) {
        if (sync_parent(path) != 0) {
            return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot sync: %s", path,
                                   strerror(errno));
        }
        return SECMQ_OK;
    }
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return SECMQ_OK;
    }
    return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot create directory: %s",
                           path, strerror(errno));
}

int secmq__kfile_check_dir(const char *dir, secmq__kerr *e)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        if (errno == ENOENT) {
            return SECMQ_OK; /* the caller says what is missing */
        }
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: not a directory (a keyring is a "
                               "directory)",
                               dir);
    }
    /* SECURITY: refused, not fixed: a keyring directory others can enter
     * or list exposes which peers and channels it holds, and one they can
     * write lets them swap files in it; someone may already have done so. */
    if ((st.st_mode & 077) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING,
                               "%s: keyring directory is accessible by group "
                               "or others (mode %04o); it must be 0700 "
                               "(chmod 700 %s)",
                               dir, (unsigned)(st.st_mode & 07777), dir);
    }
    return SECMQ_OK;
}

int secmq__kfile_lock(const char *path, int exclusive, int nonblock, int create,
                      int *fd, secmq__kerr *e)
{
    int op = exclusive ? LOCK_EX : LOCK_SH;
    int f;

    *fd = -1;
    if (create) {
        f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    } else {
        f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (f < 0 && errno == ENOENT) {
            return SECMQ_OK;
        }
    }
    if (f < 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot open lock: %s", path,
                               strerror(errno));
    }
    if (nonblock) {
        op |= LOCK_NB;
    }
    while (flock(f, op) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            close(f);
            return secmq__kerr_set(e, SECMQ_E_STATE,
                                   "%s: locked by another process", path);
        }
        close(f);
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot lock: %s", path,
                               strerror(errno));
    }
    *fd = f;
    return SECMQ_OK;
}

/* AD = magic || kind; returns its length. */
static size_t lf_ad(unsigned char ad[LF_MAGIC_BYTES + LF_KIND_MAX],
                    const char *kind)
{
    size_t k = strlen(kind);

    if (k > LF_KIND_MAX) {
        k = LF_KIND_MAX;
    }
    memcpy(ad, LF_MAGIC, LF_MAGIC_BYTES);
    memcpy(ad + LF_MAGIC_BYTES, kind, k);
    return LF_MAGIC_BYTES + k;
}

int secmq__kfile_seal_write(const char *path, const char *kind,
                            const unsigned char *key,
                            const unsigned char *payload, size_t len,
                            secmq__kerr *e)
{
    unsigned char ad[LF_MAGIC_BYTES + LF_KIND_MAX];
    unsigned char *buf;
    size_t adlen = lf_ad(ad, kind);
    size_t total = LF_MAGIC_BYTES + LF_NONCE_BYTES + len + LF_TAG_BYTES;
    unsigned long long clen = 0;
    int rc;

    if (len > SIZE_MAX - LF_MAGIC_BYTES - LF_NONCE_BYTES - LF_TAG_BYTES) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "%s: too large", path);
    }
    buf = malloc(total);
    if (buf == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(buf, LF_MAGIC, LF_MAGIC_BYTES);
    randombytes_buf(buf + LF_MAGIC_BYTES, LF_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        buf + LF_MAGIC_BYTES + LF_NONCE_BYTES, &clen, payload, len, ad, adlen,
        NULL, buf + LF_MAGIC_BYTES, key);
    rc = secmq__kfile_write(path, buf, total, 0600, e);
    free(buf);
    return rc;
}

int secmq__kfile_seal_read(const char *path, const char *kind,
                           const unsigned char *key, size_t max, int optional,
                           unsigned char **payload, size_t *len, secmq__kerr *e)
{
    unsigned char ad[LF_MAGIC_BYTES + LF_KIND_MAX];
    size_t adlen = lf_ad(ad, kind);
    unsigned char *raw = NULL, *pt = NULL;
    size_t rawlen = 0, ptlen;
    unsigned long long got = 0;
    int rc;

    *payload = NULL;
    *len = 0;
    rc = secmq__kfile_read(
        path, max + LF_MAGIC_BYTES + LF_NONCE_BYTES + LF_TAG_BYTES,
        optional ? SECMQ__KF_OPTIONAL : 0u, &raw, &rawlen, e);
    if (rc != SECMQ_OK || raw == NULL) {
        return rc;
    }
    if (rawlen < LF_MAGIC_BYTES + LF_NONCE_BYTES + LF_TAG_BYTES ||
        memcmp(raw, LF_MAGIC, LF_MAGIC_BYTES) != 0) { /* not secret */
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: not a keyring state file (damaged?)", path);
        goto err;
    }
    ptlen = rawlen - LF_MAGIC_BYTES - LF_NONCE_BYTES - LF_TAG_BYTES;
    pt = sodium_malloc(ptlen + 1);
    if (pt == NULL) {
        rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "%s: out of memory", path);
        goto err;
    }
    /* SECURITY: a changed byte anywhere fails here; the file is refused,
     * never half-trusted. */
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, &got, NULL, raw + LF_MAGIC_BYTES + LF_NONCE_BYTES,
            rawlen - LF_MAGIC_BYTES - LF_NONCE_BYTES, ad, adlen,
            raw + LF_MAGIC_BYTES, key) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: fails authentication (tampered, damaged or "
                             "from another identity)",
                             path);
        goto err;
    }
    secmq__kfile_release(raw, rawlen + 1, 0);
    *payload = pt;
    *len = (size_t)got;
    return SECMQ_OK;
err:
    if (pt != NULL) {
        sodium_free(pt);
    }
    secmq__kfile_release(raw, rawlen + 1, 0);
    return rc;
}

uint64_t secmq__unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t secmq__unix_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

char *secmq__hex(char *out, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
    return out;
}
