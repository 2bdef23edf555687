/*
 * admin.h -- what the files of secmq-admin share (private to tools/admin/).
 *
 * The parsed command line, the one-line messages on stderr with their exit
 * statuses, opening and loading the auth database, and the commands that
 * admin_main.c dispatches to. Not an API: nothing outside tools/admin/.
 */
#ifndef SECMQ_ADMIN_H
#define SECMQ_ADMIN_H

#include <stddef.h>

#include "authdb.h"
#include "policy.h"

#define ADMIN_PROG "secmq-admin"
#define ADMIN_EXIT_FAIL 1  /* refused or failed; the reason on stderr */
#define ADMIN_EXIT_USAGE 2 /* a usage error; the reason on stderr */
#define ADMIN_MAX_POS 8    /* positional arguments a command may take */

#if defined(__GNUC__)
#define ADMIN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ADMIN_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------------- */
/* The command line (admin_main.c)                                        */
/* ---------------------------------------------------------------------- */

/* The options a command may take, as a bit set (--db goes everywhere). */
enum {
    OPT_PWFILE = 1u,
    OPT_PWOPS = 2u,
    OPT_PWMEM = 4u,
    OPT_USER = 8u,
    OPT_GROUP = 16u,
    OPT_PATTERN = 32u,
    OPT_SIGNED = 64u,
    OPT_REMOVE = 128u,
    OPT_PASSWD = 256u,
    OPT_ACL = 512u,
    OPT_DB = 1024u, /* allowed for every command */
    OPT_RELAY = 2048u
};

/* A parsed command line. Every string is BORROWED from argv (or the
 * environment, for db) and lives as long as the program. */
struct admin_opts {
    const char *db;
    const char *pwfile;
    const char *pw_ops;
    const char *pw_mem;
    const char *user;
    const char *group;
    int pattern;
    int sign;
    int remove;
    int relay;
    const char *passwd;
    const char *acl;
    const char *pos[ADMIN_MAX_POS];
    size_t npos;
};

/*
 * Parse argv[first..] for a command taking the options in allowed (and
 * --db, everywhere) into *o, then check that between min_pos and max_pos
 * positional arguments were given (what names the missing ones in the
 * message). Returns 0, or ADMIN_EXIT_USAGE after saying why.
 */
int admin_parse(int argc, char **argv, int first, unsigned allowed,
                size_t min_pos, size_t max_pos, const char *what,
                struct admin_opts *o);

/* A decimal number without sign or blanks into *v. Returns 0, or -1 (s
 * NULL, not a number, or too large) without a message. */
int admin_parse_u64(const char *s, unsigned long long *v);

/* --pw-ops / --pw-mem of o over the values in *ops, *mem (the defaults or
 * the database's). Returns 0, or ADMIN_EXIT_USAGE after saying why. */
int admin_parse_cost(const struct admin_opts *o, unsigned long long *ops,
                     size_t *mem);

/* ---------------------------------------------------------------------- */
/* Messages and the database (admin_common.c)                             */
/* ---------------------------------------------------------------------- */

/* "secmq-admin: <why> (see --help)" on stderr; returns ADMIN_EXIT_USAGE. */
int admin_usage_error(const char *fmt, ...) ADMIN_PRINTF(1, 2);
/* "secmq-admin: <why>" on stderr; returns ADMIN_EXIT_FAIL. */
int admin_fail(const char *fmt, ...) ADMIN_PRINTF(1, 2);
/* "secmq-admin: warning: <what>" on stderr. */
void admin_warn(const char *fmt, ...) ADMIN_PRINTF(1, 2);
/* An authdb error rc: its message err (BORROWED), else the generic
 * sentence of secmq_strerror(). Returns ADMIN_EXIT_FAIL. */
int admin_fail_rc(int rc, const char *err);

/* A user-supplied string s fit for a one-line message: control characters
 * as '?', cut with "..." to fit buf (cap >= 4 bytes). Returns buf. */
const char *admin_shown(const char *s, char *buf, size_t cap);
/* admin_shown() into a buffer that lives until the end of the enclosing
 * full expression: for the arguments of one message. */
#define SHOWN(s) admin_shown((s), (char[256]){0}, 256)

/* Open the database at path (BORROWED) in mode SECMQ_AUTHDB_READONLY or
 * _READWRITE into *db. Returns 0, or ADMIN_EXIT_FAIL after saying why. */
int admin_open_db(const char *path, int mode, secmq_authdb **db);
/* Load the whole policy of db into *p (the caller clears it with
 * secmq__policy_clear, also on failure); warns about rows the broker
 * ignores too. Returns 0, or ADMIN_EXIT_FAIL after saying why. */
int admin_load(secmq_authdb *db, secmq_policy *p);
/* admin_open_db() then admin_load(): the same returns. */
int admin_open_load(const char *path, int mode, secmq_authdb **db,
                    secmq_policy *p);
/* 0 if name is a valid user or group name (what: "user" or "group"), or
 * ADMIN_EXIT_FAIL after saying why not. */
int admin_name_check(const char *name, const char *what);

/* ---------------------------------------------------------------------- */
/* ACCESS words (admin_acl.c), shared with import-mosquitto               */
/* ---------------------------------------------------------------------- */

/* read, write, readwrite, subscribe or deny into SECMQ_ACL_* bits in
 * *access. Returns 0, or -1 for any other word (no message). */
int admin_access_parse(const char *word, unsigned *access);

/* ---------------------------------------------------------------------- */
/* The commands                                                           */
/* ---------------------------------------------------------------------- */

/*
 * One command each: argv[first..] are its words after the command name, o
 * holds the options given before it (--db). Each prints what it did on
 * stdout and returns the exit status: 0, ADMIN_EXIT_FAIL or
 * ADMIN_EXIT_USAGE (the reason on stderr).
 */
int admin_cmd_init(int argc, char **argv, int first, struct admin_opts *o);
int admin_cmd_cost(int argc, char **argv, int first, struct admin_opts *o);
int admin_cmd_user(int argc, char **argv, int first, struct admin_opts *o);
int admin_cmd_group(int argc, char **argv, int first, struct admin_opts *o);
int admin_cmd_key(int argc, char **argv, int first, struct admin_opts *o);
int admin_cmd_acl(int argc, char **argv, int first, struct admin_opts *o);
int admin_cmd_import(int argc, char **argv, int first, struct admin_opts *o);

#endif /* SECMQ_ADMIN_H */
