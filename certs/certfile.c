/* certfile.c -- where secmq-certs meets the file system: names it accepts,
 * the output directory, and key/certificate pairs written through temporary
 * files so a key is never readable by others and no name ever holds a
 * half-written file. Knows nothing about certificates or cryptography.
 */
#define _POSIX_C_SOURCE 200809L

#include "certgen.h"
#include "certgen_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- names and paths ----------------------------------------------------- */

int certgen_name_ok(const char *name, char *err, size_t err_size)
{
    size_t len, i;

    if (name == NULL || name[0] == '\0') {
        certgen__seterr(err, err_size, "empty name");
        return 0;
    }
    len = strlen(name);
    if (len > CERTGEN_NAME_MAX) {
        certgen__seterr(err, err_size, "name longer than %d characters",
                        CERTGEN_NAME_MAX);
        return 0;
    }
    if (strchr(name, '/') != NULL) {
        certgen__seterr(err, err_size, "name '%s' contains '/'", name);
        return 0;
    }
    if (name[0] == '.') {
        certgen__seterr(err, err_size, "name '%s' starts with '.'", name);
        return 0;
    }
    /* File names double as CNs and end up in shell commands and configs:
     * keep them to characters that need no quoting anywhere. */
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (!certgen__is_alnum(c) && c != '.' && c != '-' && c != '_' &&
            c != '@' && c != '+') {
            certgen__seterr(
                err, err_size,
                "name '%s' has characters other than A-Z a-z 0-9 . - _ @ +",
                name);
            return 0;
        }
    }
    if (strcmp(name, "ca") == 0) {
        certgen__seterr(err, err_size,
                        "name 'ca' is reserved for the CA's own files");
        return 0;
    }
    return 1;
}

int certgen__path_join(char *out, size_t out_size, const char *dir,
                       const char *stem, const char *suffix, char *err,
                       size_t err_size)
{
    int n = snprintf(out, out_size, "%s/%s%s", dir, stem, suffix);

    if (n < 0 || (size_t)n >= out_size) {
        certgen__seterr(err, err_size, "path too long: %s/%s%s", dir, stem,
                        suffix);
        return CERTGEN_E_INVAL;
    }
    return CERTGEN_OK;
}

int certgen_dir_prepare(const char *dir, char *err, size_t err_size)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len, i;

    if (dir == NULL || dir[0] == '\0') {
        certgen__seterr(err, err_size, "empty directory name");
        return CERTGEN_E_INVAL;
    }
    len = strlen(dir);
    if (len >= sizeof(path)) {
        certgen__seterr(err, err_size, "directory name too long");
        return CERTGEN_E_INVAL;
    }
    memcpy(path, dir, len + 1);
    /* Create each missing component, like mkdir -p, but private. */
    for (i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        if (path[i - 1] == '/')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            certgen__seterr(err, err_size, "cannot create directory %s: %s",
                            path, strerror(errno));
            return CERTGEN_E_IO;
        }
        if (i < len)
            path[i] = '/';
    }
    if (stat(dir, &st) != 0) {
        certgen__seterr(err, err_size, "cannot use directory %s: %s", dir,
                        strerror(errno));
        return CERTGEN_E_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        certgen__seterr(err, err_size, "%s is not a directory", dir);
        return CERTGEN_E_INVAL;
    }
    return CERTGEN_OK;
}

int certgen_check_free(const char *dir, const char *stem, unsigned flags,
                       char *err, size_t err_size)
{
    static const char *const suffixes[] = {".key", ".crt"};
    char path[PATH_MAX];
    struct stat st;
    size_t i;
    int rc;

    if (flags & CERTGEN_FORCE)
        return CERTGEN_OK;
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        rc = certgen__path_join(path, sizeof(path), dir, stem, suffixes[i], err,
                                err_size);
        if (rc != CERTGEN_OK)
            return rc;
        if (lstat(path, &st) == 0) {
            certgen__seterr(
                err, err_size,
                "%s already exists; refusing to overwrite (use --force)", path);
            return CERTGEN_E_EXISTS;
        }
        if (errno != ENOENT) {
            certgen__seterr(err, err_size, "cannot check %s: %s", path,
                            strerror(errno));
            return CERTGEN_E_IO;
        }
    }
    return CERTGEN_OK;
}

/* ---- files --------------------------------------------------------------- */

/* Reads all of path into buf. Files of cap bytes or more are refused, so the
 * caller's buffer always has room to spare. The caller wipes buf if the file
 * may hold a secret, on success and on failure. */
int certgen__file_read(const char *path, unsigned char *buf, size_t cap,
                       size_t *len, char *err, size_t err_size)
{
    size_t got = 0;
    ssize_t n;
    int fd, rc = CERTGEN_E_IO;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        certgen__seterr(err, err_size, "cannot open %s: %s", path,
                        strerror(errno));
        return CERTGEN_E_IO;
    }
    while (got < cap) {
        n = read(fd, buf + got, cap - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            certgen__seterr(err, err_size, "cannot read %s: %s", path,
                            strerror(errno));
            goto err;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got == cap) {
        certgen__seterr(err, err_size, "%s is too large (limit %zu bytes)",
                        path, cap - 1);
        rc = CERTGEN_E_FORMAT;
        goto err;
    }
    *len = got;
    rc = CERTGEN_OK;
err:
    (void)close(fd);
    return rc;
}

/* Writes data to a fresh temporary file in dir and gives it mode. The name is
 * returned in tmp (tmp_size bytes); the caller unlinks it when done.
 * SECURITY: mkstemp creates the file O_EXCL with mode 0600, so a key is never
 * readable by others, not even between open and fchmod. */
static int stage_file(const char *dir, const unsigned char *data, size_t len,
                      mode_t mode, char *tmp, size_t tmp_size, char *err,
                      size_t err_size)
{
    size_t off = 0;
    ssize_t n;
    int fd, rc;

    rc = certgen__path_join(tmp, tmp_size, dir, ".secmq-certs.", "XXXXXX", err,
                            err_size);
    if (rc != CERTGEN_OK) {
        tmp[0] = '\0';
        return rc;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        certgen__seterr(err, err_size, "cannot create a file in %s: %s", dir,
                        strerror(errno));
        tmp[0] = '\0';
        return CERTGEN_E_IO;
    }
    rc = CERTGEN_E_IO;
    while (off < len) {
        n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            certgen__seterr(err, err_size, "cannot write %s: %s", tmp,
                            strerror(errno));
            goto err;
        }
        off += (size_t)n;
    }
    /* Explicit, so the result does not depend on the umask. */
    if (fchmod(fd, mode) != 0) {
        certgen__seterr(err, err_size, "cannot chmod %s: %s", tmp,
                        strerror(errno));
        goto err;
    }
    if (fsync(fd) != 0) {
        certgen__seterr(err, err_size, "cannot sync %s: %s", tmp,
                        strerror(errno));
        goto err;
    }
    rc = CERTGEN_OK;
err:
    if (close(fd) != 0 && rc == CERTGEN_OK) {
        certgen__seterr(err, err_size, "cannot close %s: %s", tmp,
                        strerror(errno));
        rc = CERTGEN_E_IO;
    }
    return rc;
}

/* Gives the staged file tmp its final name. With CERTGEN_FORCE it replaces
 * any existing file (rename is atomic); without, link() fails on an existing
 * name, so nothing is ever overwritten, even by a racing process. */
static int place_file(const char *tmp, const char *final, unsigned flags,
                      char *err, size_t err_size)
{
    if (flags & CERTGEN_FORCE) {
        if (rename(tmp, final) != 0) {
            certgen__seterr(err, err_size, "cannot create %s: %s", final,
                            strerror(errno));
            return CERTGEN_E_IO;
        }
        return CERTGEN_OK;
    }
    if (link(tmp, final) != 0) {
        if (errno == EEXIST) {
            certgen__seterr(
                err, err_size,
                "%s already exists; refusing to overwrite (use --force)",
                final);
            return CERTGEN_E_EXISTS;
        }
        certgen__seterr(err, err_size, "cannot create %s: %s", final,
                        strerror(errno));
        return CERTGEN_E_IO;
    }
    return CERTGEN_OK;
}

/* Writes dir/stem.key (0600) and dir/stem.crt (0644). If the certificate
 * cannot be placed after the key was, the new key is removed again (without
 * --force) so no orphan key is left behind. */
int certgen__pair_write(const char *dir, const char *stem,
                        const unsigned char *key_pem, size_t key_len,
                        const unsigned char *crt_pem, size_t crt_len,
                        unsigned flags, char *err, size_t err_size)
{
    char key_path[PATH_MAX], crt_path[PATH_MAX];
    char key_tmp[PATH_MAX] = "", crt_tmp[PATH_MAX] = "";
    int rc, dfd;

    rc = certgen__path_join(key_path, sizeof(key_path), dir, stem, ".key", err,
                            err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = certgen__path_join(crt_path, sizeof(crt_path), dir, stem, ".crt", err,
                            err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = stage_file(dir, key_pem, key_len, 0600, key_tmp, sizeof(key_tmp), err,
                    err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = stage_file(dir, crt_pem, crt_len, 0644, crt_tmp, sizeof(crt_tmp), err,
                    err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = place_file(key_tmp, key_path, flags, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = place_file(crt_tmp, crt_path, flags, err, err_size);
    if (rc != CERTGEN_OK) {
        if (!(flags & CERTGEN_FORCE))
            (void)unlink(key_path);
        goto err;
    }
    /* Make the new names durable; a failure here loses nothing now. */
    dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        (void)close(dfd);
    }
err:
    if (key_tmp[0] != '\0')
        (void)unlink(key_tmp);
    if (crt_tmp[0] != '\0')
        (void)unlink(crt_tmp);
    return rc;
}
