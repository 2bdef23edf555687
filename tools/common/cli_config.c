/*
 * cli_config.c -- read config and password files without trusting them.
 *
 * Both kinds may hold a password, so they are read whole into guarded
 * memory that is wiped on release, and refused when another user could
 * have changed them. Option meanings live in cli_options.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "cli_config.h"
#include "cli_msg.h"

/*
 * SECURITY: the one rule for a file that holds a password (--pw-file,
 * secmq-admin --password-file, a config file with -P): besides being owned
 * by us or root, no bit for others and no group write. Group read stays
 * allowed, so a root:service 0640 file works for a service user.
 */
#define SECRET_BAD_MODE (S_IWGRP | S_IRWXO)

/*
 * Read a whole file whose permissions we insist on: not a directory, owned
 * by us or root, no mode bit of bad_mode set. The content goes to guarded
 * memory (*buf, NUL-terminated, release with sodium_free()); *mode gets
 * the file's mode. With missing_ok, a file that does not exist returns 1
 * and *buf NULL. Otherwise 0, or -1 with a reason naming the file in err.
 */
static int read_guarded_file(const char *path, const char *what,
                             mode_t bad_mode, int missing_ok, char **buf,
                             size_t *len, mode_t *mode, char *err,
                             size_t errlen)
{
    struct stat st;
    char *data = NULL;
    size_t used = 0;
    int fd;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT && missing_ok) {
            return 1;
        }
        snprintf(err, errlen, "cannot open %s %s: %s", what, path,
                 strerror(errno));
        return -1;
    }
    /* SECURITY: checked on the open descriptor, so the file we judge is
     * the file we read. */
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s %s: %s", what, path,
                 strerror(errno));
        goto err;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s %s is a directory", what, path);
        goto err;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(err, errlen,
                 "%s %s is owned by another user (uid %lu); refusing to "
                 "trust it",
                 what, path, (unsigned long)st.st_uid);
        goto err;
    }
    if ((st.st_mode & bad_mode) != 0) {
        snprintf(err, errlen,
                 "%s %s is %s (mode %04o); fix it with: chmod %s %s", what,
                 path,
                 (bad_mode & S_IROTH) != 0
                     ? "writable by group or accessible to others"
                     : "writable by group or others",
                 (unsigned)(st.st_mode & 07777),
                 (bad_mode & S_IROTH) != 0 ? "600" : "go-w", path);
        goto err;
    }
    data = sodium_malloc(CLI_CONFIG_MAX_BYTES + 1);
    if (data == NULL) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    for (;;) {
        ssize_t n = read(fd, data + used, CLI_CONFIG_MAX_BYTES + 1 - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s %s: %s", what, path,
                     strerror(errno));
            goto err;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
        if (used > CLI_CONFIG_MAX_BYTES) {
            snprintf(err, errlen, "%s %s is larger than %u bytes", what, path,
                     (unsigned)CLI_CONFIG_MAX_BYTES);
            goto err;
        }
    }
    close(fd);
    data[used] = '\0';
    *buf = data;
    *len = used;
    *mode = st.st_mode;
    return 0;
err:
    sodium_free(data);
    close(fd);
    return -1;
}

int cli_config_read_password(const char *path, char **out, size_t *len,
                             char *err, size_t errlen)
{
    char *buf;
    size_t size, n;
    mode_t mode;

    *out = NULL;
    *len = 0;
    if (read_guarded_file(path, "password file", SECRET_BAD_MODE, 0, &buf,
                          &size, &mode, err, errlen) != 0) {
        return -1;
    }
    n = strcspn(buf, "\r\n");
    if (n == 0) {
        snprintf(err, errlen,
                 "password file %s: the first line is empty (empty password "
                 "refused)",
                 path);
        sodium_free(buf);
        return -1;
    }
    /* Keep only the first line; the rest is wiped now. */
    sodium_memzero(buf + n, size - n);
    *out = buf;
    *len = n;
    return 0;
}

int cli_config_default_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home;
    int n;

    /* The XDG spec says relative values are to be ignored. */
    if (xdg != NULL && xdg[0] == '/') {
        n = snprintf(buf, len, "%s/secmq/client.conf", xdg);
    } else {
        home = getenv("HOME");
        if (home == NULL || home[0] == '\0') {
            const struct passwd *pw = getpwuid(getuid());
            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL) {
            return -1;
        }
        n = snprintf(buf, len, "%s/.config/secmq/client.conf", home);
    }
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Split "option value" in place: the value is the rest of the line without
 * surrounding blanks (no quoting, so it may contain spaces). */
static void split_line(char *line, char **name, char **value)
{
    char *v = line, *end;

    while (*v != '\0' && !is_space(*v)) {
        v++;
    }
    if (*v != '\0') {
        *v++ = '\0';
    }
    while (is_space(*v)) {
        v++;
    }
    end = v + strlen(v);
    while (end > v && is_space(end[-1])) {
        *--end = '\0';
    }
    *name = line;
    *value = v;
}

int cli_config_load(const char *path, int must_exist, cli_config_line_fn fn,
                    void *ctx)
{
    char err[512];
    char *buf, *line;
    size_t len;
    mode_t mode;
    int rc, lineno = 0, has_secret = 0;

    rc = read_guarded_file(path, "config file", S_IWGRP | S_IWOTH, !must_exist,
                           &buf, &len, &mode, err, sizeof err);
    if (rc == 1) {
        return 0;
    }
    if (rc != 0) {
        cli_err("%s", err);
        return -1;
    }
    line = buf;
    rc = 0;
    while (line != NULL && *line != '\0') {
        char *next = strchr(line, '\n');
        char *name, *value;

        if (next != NULL) {
            *next++ = '\0';
        }
        lineno++;
        while (is_space(*line)) {
            line++;
        }
        if (*line == '\0' || *line == '#') {
            line = next;
            continue;
        }
        split_line(line, &name, &value);
        rc = fn(ctx, name, value, err, sizeof err);
        if (rc < 0) {
            cli_err("%s:%d: %s", path, lineno, err);
            break;
        }
        has_secret |= rc;
        rc = 0;
        line = next;
    }
    sodium_free(buf); /* wipes */
    /* SECURITY: a config file with a password in it is a password file
     * and obeys its rule; one without only has to be safe from changes. */
    if (rc == 0 && has_secret && (mode & SECRET_BAD_MODE) != 0) {
        cli_err("config file %s holds a password (-P) and is accessible to "
                "others (mode %04o); fix it with: chmod 600 %s",
                path, (unsigned)(mode & 07777), path);
        rc = -1;
    }
    return rc;
}
