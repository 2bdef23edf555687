/*
 * admin_input.c -- secmq-admin's password input: --password-file F, "-"
 * for stdin, or a prompt on the terminal with echo off (asked twice).
 *
 * SECURITY: the password is read straight into sodium_malloc'd memory and
 * wiped on every path; it is never echoed, printed or written anywhere.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "admin.h"
#include "cli_config.h"
#include "admin_input.h"
#include "pwhash.h"

/* A password and its line end, so a too long line is seen as such. */
#define PW_BUF (SECMQ_PW_MAX + 2)

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

/* SECURITY: a signal while echo is off must not leave the terminal so. */
static void restore_tty(int sig)
{
    if (tty_changed) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/*
 * Read the first line of fd into buf (PW_BUF bytes, sodium_malloc'd),
 * without the "\n" or "\r\n"; length in *len. Returns 0, or 1 after
 * printing why (what names the source).
 */
static int read_line(int fd, char *buf, size_t *len, const char *what)
{
    size_t n = 0;
    char *nl = NULL;

    while (n < PW_BUF) {
        ssize_t r = read(fd, buf + n, PW_BUF - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return admin_fail("cannot read the password from %s: %s", what,
                              strerror(errno));
        }
        if (r == 0) {
            break;
        }
        nl = memchr(buf + n, '\n', (size_t)r);
        n += (size_t)r;
        if (nl != NULL) {
            break;
        }
    }
    if (nl == NULL && n == PW_BUF) {
        sodium_memzero(buf, PW_BUF);
        return admin_fail("password from %s is longer than %d bytes", what,
                          SECMQ_PW_MAX);
    }
    if (nl != NULL) {
        n = (size_t)(nl - buf);
    }
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    sodium_memzero(buf + n, PW_BUF - n);
    if (n > SECMQ_PW_MAX) {
        sodium_memzero(buf, PW_BUF);
        return admin_fail("password from %s is longer than %d bytes", what,
                          SECMQ_PW_MAX);
    }
    *len = n;
    return 0;
}

/* Prompt on the terminal on stdin with echo off; prompt text to stderr. */
static int prompt(const char *text, char *buf, size_t *len)
{
    struct termios noecho;
    int rc;

    if (tcgetattr(STDIN_FILENO, &saved_tty) != 0) {
        return admin_fail("cannot read the terminal settings: %s",
                          strerror(errno));
    }
    noecho = saved_tty;
    noecho.c_lflag &= (tcflag_t)~ECHO;
    signal(SIGINT, restore_tty);
    signal(SIGTERM, restore_tty);
    signal(SIGHUP, restore_tty);
    signal(SIGQUIT, restore_tty);
    tty_changed = 1;
    /* Echo goes off before the prompt appears, so nothing typed in
     * answer to it is ever echoed. */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) != 0) {
        tty_changed = 0;
        return admin_fail("cannot turn off echo: %s", strerror(errno));
    }
    fputs(text, stderr);
    fflush(stderr);
    rc = read_line(STDIN_FILENO, buf, len, "the terminal");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_changed = 0;
    fputs("\n", stderr);
    return rc;
}

/*
 * The first line of the password file into buf (PW_BUF bytes). The file
 * is judged by the same rule as the client tools' --pw-file (cli_config.c:
 * owned by us or root, not writable by group, nothing for others), so a
 * password file good for one is good for the other. Returns 0, or 1 after
 * printing why.
 */
static int read_file(const char *file, char *buf, size_t *len)
{
    char why[512];
    char *line = NULL;
    size_t n = 0;

    if (cli_config_read_password(file, &line, &n, why, sizeof why) != 0) {
        return admin_fail("%s", why);
    }
    if (n > SECMQ_PW_MAX) {
        sodium_free(line); /* wipes */
        return admin_fail("password from %s is longer than %d bytes",
                          SHOWN(file), SECMQ_PW_MAX);
    }
    memcpy(buf, line, n);
    sodium_memzero(buf + n, PW_BUF - n);
    sodium_free(line); /* wipes */
    *len = n;
    return 0;
}

/* See admin_input.h. */
int admin_password_read(const char *file, char **out, size_t *len)
{
    char *pw = sodium_malloc(PW_BUF), *again = NULL;
    size_t len2 = 0;
    int rc;

    *out = NULL;
    if (pw == NULL) {
        return admin_fail("out of memory");
    }
    if (file != NULL && strcmp(file, "-") != 0) {
        rc = read_file(file, pw, len);
    } else if (file == NULL && isatty(STDIN_FILENO)) {
        rc = prompt("Password: ", pw, len);
        if (rc == 0) {
            again = sodium_malloc(PW_BUF);
            rc = again == NULL ? admin_fail("out of memory")
                               : prompt("Repeat: ", again, &len2);
        }
        /* SECURITY: compared in constant time, then wiped by sodium_free. */
        if (rc == 0 && (len2 != *len || sodium_memcmp(pw, again, *len) != 0)) {
            rc = admin_fail("the passwords do not match");
        }
        sodium_free(again);
    } else {
        rc = read_line(STDIN_FILENO, pw, len, "stdin");
    }
    if (rc == 0 && *len == 0) {
        rc = admin_fail("empty password refused");
    }
    if (rc != 0) {
        sodium_free(pw);
        return rc;
    }
    *out = pw;
    return 0;
}
