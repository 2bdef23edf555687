/*
 * admin_common.c -- what every secmq-admin command leans on: one-line
 * messages on stderr that return the exit status, and opening and loading
 * the auth database with its errors said once. No command logic here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "secmq.h"

/* ---------------------------------------------------------------------- */
/* Messages                                                               */
/* ---------------------------------------------------------------------- */

static void vmsg(const char *pre, const char *post, const char *fmt, va_list ap)
    ADMIN_PRINTF(3, 0);

static void vmsg(const char *pre, const char *post, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", ADMIN_PROG, pre);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "%s\n", post);
}

/* "secmq-admin: <why> (see --help)"; exit status 2. */
int admin_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg("", " (see --help)", fmt, ap);
    va_end(ap);
    return ADMIN_EXIT_USAGE;
}

/* "secmq-admin: <why>"; exit status 1. */
int admin_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg("", "", fmt, ap);
    va_end(ap);
    return ADMIN_EXIT_FAIL;
}

void admin_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg("warning: ", "", fmt, ap);
    va_end(ap);
}

/* An authdb error: its message, else the generic sentence. */
int admin_fail_rc(int rc, const char *err)
{
    return admin_fail("%s", err[0] != 0 ? err : secmq_strerror(rc));
}

/* A user-supplied string fit for a one-line message. */
const char *admin_shown(const char *s, char *buf, size_t cap)
{
    size_t i;

    for (i = 0; s[i] != 0 && i + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    if (s[i] != 0) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = 0;
    return buf;
}

/* ---------------------------------------------------------------------- */
/* Database                                                               */
/* ---------------------------------------------------------------------- */

int admin_open_db(const char *path, int mode, secmq_authdb **db)
{
    char err[512] = "";
    int rc = secmq__authdb_open(db, path, mode, err, sizeof err);

    return rc == SECMQ_OK ? 0 : admin_fail_rc(rc, err);
}

/* The whole policy; warns about rows the broker ignores too. */
int admin_load(secmq_authdb *db, secmq_policy *p)
{
    char err[512] = "";
    size_t skipped = 0;
    int rc = secmq__authdb_load(db, p, &skipped, err, sizeof err);

    if (rc != SECMQ_OK) {
        return admin_fail_rc(rc, err);
    }
    if (skipped > 0) {
        admin_warn("%zu invalid row(s) in the database are ignored", skipped);
    }
    return 0;
}

int admin_open_load(const char *path, int mode, secmq_authdb **db,
                    secmq_policy *p)
{
    int rc = admin_open_db(path, mode, db);

    return rc != 0 ? rc : admin_load(*db, p);
}

int admin_name_check(const char *name, const char *what)
{
    if (!secmq__name_ok(name)) {
        return admin_fail("invalid %s name '%s' (1..256 bytes of UTF-8 without "
                          "control characters, '+', '#' or '/')",
                          what, SHOWN(name));
    }
    return 0;
}
