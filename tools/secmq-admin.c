/*
 * secmq-admin.c -- manage the auth database of the broker plugin
 * (secmq_auth.so): users and their passwords, groups, ACL rules, signing
 * keys, and the import of a mosquitto password file and acl file.
 *
 * A thin front end over broker-plugin/authdb.h: parse the command line,
 * make one change (one transaction), print what happened. It never talks
 * to the broker: the plugin notices the change within a second or so.
 * Exit status: 0 done, 1 refused or failed (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "acl.h"
#include "authdb.h"
#include "policy.h"
#include "pwhash.h"
#include "secmq.h"

#define PROG "secmq-admin"
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define MAX_POS 8

static const char usage_text[] =
    "Usage: secmq-admin --db FILE COMMAND [ARGS]\n"
    "\n"
    "Manage the auth database of the secmq broker plugin (secmq_auth.so):\n"
    "users, groups, per-topic ACL rules and signing keys. The broker picks\n"
    "up every change within a few seconds; no restart is needed.\n"
    "\n"
    "  --db FILE    the database (default: $SECMQ_AUTH_DB)\n"
    "  -h, --help   show this help\n"
    "\n"
    "Commands:\n"
    "  init [--pw-ops N] [--pw-mem BYTES]\n"
    "      Create a new, empty database (mode 0600; never overwrites a\n"
    "      file). N and BYTES are the argon2id cost of new passwords\n"
    "      (default ops 3, 8M); BYTES may end in K or M.\n"
    "  cost [--pw-ops N] [--pw-mem BYTES]\n"
    "      Show the password cost (\"pw_ops N pw_mem BYTES\"), or set it;\n"
    "      existing hashes are upgraded by the broker at their next login.\n"
    "  user add NAME [--password-file F]\n"
    "  user passwd NAME [--password-file F]\n"
    "      Add a user, or give it a new password (its sessions are closed).\n"
    "      The password is the first line of F (\"-\" for stdin); without\n"
    "      --password-file it is asked for twice on a terminal, or read\n"
    "      from the first line of stdin. Empty passwords are refused.\n"
    "  user del NAME          delete the user, its rules, keys, memberships\n"
    "  user disable NAME      refuse its logins (and close its sessions)\n"
    "  user enable NAME\n"
    "  user list              NAME, enabled|disabled, groups=, keys=, hash=\n"
    "  group add G | group del G\n"
    "  group member G USER [--remove]\n"
    "  group list             G, members=\n"
    "  acl add (--user NAME | --group G | --pattern) TOPIC ACCESS [--signed]\n"
    "      Allow (or deny) a topic filter. ACCESS is read (receive and\n"
    "      subscribe), write (publish), readwrite, subscribe or deny (beats\n"
    "      every allow). A --pattern applies to every user, with %u and %c\n"
    "      in TOPIC replaced by the user name and client id. --signed: a\n"
    "      publish allowed by this rule must be a secmq envelope signed by\n"
    "      a key registered for the user (see key add). Prints the rule id.\n"
    "  acl del ID\n"
    "  acl list [--user NAME]\n"
    "      ID, subject (user NAME, group G or pattern), ACCESS, TOPIC and\n"
    "      \"signed\" when required; with --user only the rules that apply\n"
    "      to NAME (its own, its groups' and the patterns).\n"
    "  key add NAME PUBFILE   register the public identity PUBFILE (from\n"
    "                         `secmq-keys export`) as a signing key of NAME\n"
    "  key del NAME KEYID     KEYID: 16 hex digits as key list shows\n"
    "  key list [NAME]        NAME, KEYID, LABEL\n"
    "  import-mosquitto [--passwd FILE] [--acl FILE]\n"
    "      Import a mosquitto password file (its $6$/$7$ hashes as they are;\n"
    "      the broker upgrades each to argon2id at the next login) and acl\n"
    "      file (user sections, topic and pattern lines; rules for anonymous\n"
    "      clients are skipped: anonymous clients are always refused). One\n"
    "      transaction: all or nothing.\n"
    "\n"
    "Names of users and groups: 1..256 bytes of UTF-8 without control\n"
    "characters, '+', '#' or '/'. Options may also be written --opt=VALUE;\n"
    "\"--\" ends the options (for a TOPIC that starts with '-').\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (the reason on stderr), 2\n"
    "usage error.\n";

/* ---------------------------------------------------------------------- */
/* Messages                                                               */
/* ---------------------------------------------------------------------- */

static void vmsg(const char *pre, const char *post, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", PROG, pre);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "%s\n", post);
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "secmq-admin: <why> (see --help)"; exit status 2. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg("", " (see --help)", fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

/* "secmq-admin: <why>"; exit status 1. */
static int fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg("", "", fmt, ap);
    va_end(ap);
    return EXIT_FAIL;
}

static void warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg("warning: ", "", fmt, ap);
    va_end(ap);
}

/* An authdb error: its message, else the generic sentence. */
static int fail_rc(int rc, const char *err)
{
    return fail("%s", err[0] != 0 ? err : secmq_strerror(rc));
}

/* A user-supplied string fit for a one-line message. */
static const char *shown(const char *s, char *buf, size_t cap)
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

#define SHOWN(s) shown((s), (char[256]){0}, 256)

/* ---------------------------------------------------------------------- */
/* Command-line options                                                   */
/* ---------------------------------------------------------------------- */

enum {
    O_PWFILE = 1u,
    O_PWOPS = 2u,
    O_PWMEM = 4u,
    O_USER = 8u,
    O_GROUP = 16u,
    O_PATTERN = 32u,
    O_SIGNED = 64u,
    O_REMOVE = 128u,
    O_PASSWD = 256u,
    O_ACL = 512u
};

struct opts {
    const char *db;
    const char *pwfile;
    const char *pw_ops;
    const char *pw_mem;
    const char *user;
    const char *group;
    int pattern;
    int sign;
    int remove;
    const char *passwd;
    const char *acl;
    const char *pos[MAX_POS];
    size_t npos;
};

static const struct {
    const char *name;
    unsigned bit;
    int takes_value;
} optdefs[] = {
    {"--password-file", O_PWFILE, 1}, {"--pw-ops", O_PWOPS, 1},
    {"--pw-mem", O_PWMEM, 1},         {"--user", O_USER, 1},
    {"--group", O_GROUP, 1},          {"--pattern", O_PATTERN, 0},
    {"--signed", O_SIGNED, 0},        {"--remove", O_REMOVE, 0},
    {"--passwd", O_PASSWD, 1},        {"--acl", O_ACL, 1},
};

/*
 * Parse argv[first..] for a command taking the options in allowed (and
 * --db, everywhere). Returns 0, or EXIT_USAGE after saying why.
 */
static int parse(int argc, char **argv, int first, unsigned allowed,
                 struct opts *o)
{
    int i, only_pos = 0;

    for (i = first; i < argc; i++) {
        const char *arg = argv[i], *eq, *v = NULL;
        size_t len, k;
        unsigned bit = 0;
        int takes = 0;

        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (o->npos == MAX_POS) {
                return usage_error("too many arguments");
            }
            o->pos[o->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        eq = strchr(arg, '=');
        len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        if (len == 4 && strncmp(arg, "--db", 4) == 0) {
            takes = 1;
        } else {
            for (k = 0; k < sizeof optdefs / sizeof optdefs[0]; k++) {
                if (strlen(optdefs[k].name) == len &&
                    strncmp(arg, optdefs[k].name, len) == 0) {
                    bit = optdefs[k].bit;
                    takes = optdefs[k].takes_value;
                }
            }
            if (bit == 0 || !(allowed & bit)) {
                return usage_error("unknown option '%s' for this command",
                                   SHOWN(arg));
            }
        }
        if (!takes) {
            if (eq != NULL) {
                return usage_error("'%.*s' takes no value", (int)len, arg);
            }
        } else if (eq != NULL) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        }
        if (takes && (v == NULL || v[0] == 0)) {
            return usage_error("'%.*s' needs a value", (int)len, arg);
        }
        switch (bit) {
        case 0:
            o->db = v;
            break;
        case O_PWFILE:
            o->pwfile = v;
            break;
        case O_PWOPS:
            o->pw_ops = v;
            break;
        case O_PWMEM:
            o->pw_mem = v;
            break;
        case O_USER:
            o->user = v;
            break;
        case O_GROUP:
            o->group = v;
            break;
        case O_PATTERN:
            o->pattern = 1;
            break;
        case O_SIGNED:
            o->sign = 1;
            break;
        case O_REMOVE:
            o->remove = 1;
            break;
        case O_PASSWD:
            o->passwd = v;
            break;
        default:
            o->acl = v;
            break;
        }
    }
    if (o->db == NULL) {
        o->db = getenv("SECMQ_AUTH_DB");
    }
    if (o->db == NULL || o->db[0] == 0) {
        return usage_error("--db FILE is required (or SECMQ_AUTH_DB)");
    }
    return 0;
}

/* Exactly n positional arguments (what names them for the message). */
static int want_pos(const struct opts *o, size_t n, const char *what)
{
    if (o->npos < n) {
        return usage_error("missing %s", what);
    }
    if (o->npos > n) {
        return usage_error("unexpected argument '%s'", SHOWN(o->pos[n]));
    }
    return 0;
}

static int parse_u64(const char *s, unsigned long long *v)
{
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno == 0 && *end == 0 ? 0 : -1;
}

/* BYTES with an optional K or M suffix (powers of 1024). */
static int parse_bytes(const char *s, size_t *v)
{
    unsigned long long n, mul = 1;
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    if (*end == 'K' || *end == 'k') {
        mul = 1024u;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        mul = 1024u * 1024u;
        end++;
    }
    if (*end != 0 || n > SIZE_MAX / mul) {
        return -1;
    }
    *v = (size_t)(n * mul);
    return 0;
}

/* --pw-ops / --pw-mem over the defaults in *ops, *mem. */
static int parse_cost(const struct opts *o, unsigned long long *ops,
                      size_t *mem)
{
    if (o->pw_ops != NULL && parse_u64(o->pw_ops, ops) != 0) {
        return usage_error("--pw-ops takes a number, not '%s'",
                           SHOWN(o->pw_ops));
    }
    if (o->pw_mem != NULL && parse_bytes(o->pw_mem, mem) != 0) {
        return usage_error("--pw-mem takes BYTES (e.g. 8M, 65536K), not '%s'",
                           SHOWN(o->pw_mem));
    }
    if (!secmq__pw_cost_ok(*ops, *mem)) {
        return usage_error("password cost out of range: --pw-ops 1..32, "
                           "--pw-mem 8K..1024M");
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Database                                                               */
/* ---------------------------------------------------------------------- */

static int open_db(const char *path, int mode, secmq_authdb **db)
{
    char err[512] = "";
    int rc = secmq__authdb_open(db, path, mode, err, sizeof err);

    return rc == SECMQ_OK ? 0 : fail_rc(rc, err);
}

/* The whole policy; warns about rows the broker ignores too. */
static int load(secmq_authdb *db, secmq_policy *p)
{
    char err[512] = "";
    size_t skipped = 0;
    int rc = secmq__authdb_load(db, p, &skipped, err, sizeof err);

    if (rc != SECMQ_OK) {
        return fail_rc(rc, err);
    }
    if (skipped > 0) {
        warn("%zu invalid row(s) in the database are ignored", skipped);
    }
    return 0;
}

static int name_check(const char *name, const char *what)
{
    if (!secmq__name_ok(name)) {
        return fail("invalid %s name '%s' (1..256 bytes of UTF-8 without "
                    "control characters, '+', '#' or '/')",
                    what, SHOWN(name));
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Passwords                                                              */
/* ---------------------------------------------------------------------- */

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
            return fail("cannot read the password from %s: %s", what,
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
        return fail("password from %s is longer than %d bytes", what,
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
        return fail("password from %s is longer than %d bytes", what,
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
        return fail("cannot read the terminal settings: %s", strerror(errno));
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
        return fail("cannot turn off echo: %s", strerror(errno));
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
 * The new password into *out (sodium_malloc'd, the caller frees it with
 * sodium_free), length in *len: from file (F or "-"), else twice from the
 * terminal when stdin is one, else the first line of stdin.
 * Returns 0, or 1 after printing why.
 */
static int get_password(const char *file, char **out, size_t *len)
{
    char *pw = sodium_malloc(PW_BUF), *again = NULL;
    size_t len2 = 0;
    int rc;

    *out = NULL;
    if (pw == NULL) {
        return fail("out of memory");
    }
    if (file != NULL && strcmp(file, "-") != 0) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = fail("cannot open %s: %s", SHOWN(file), strerror(errno));
        } else {
            rc = read_line(fd, pw, len, file);
            close(fd);
        }
    } else if (file == NULL && isatty(STDIN_FILENO)) {
        rc = prompt("Password: ", pw, len);
        if (rc == 0) {
            again = sodium_malloc(PW_BUF);
            rc = again == NULL ? fail("out of memory")
                               : prompt("Repeat: ", again, &len2);
        }
        /* SECURITY: compared in constant time, then wiped by sodium_free. */
        if (rc == 0 && (len2 != *len || sodium_memcmp(pw, again, *len) != 0)) {
            rc = fail("the passwords do not match");
        }
        sodium_free(again);
    } else {
        rc = read_line(STDIN_FILENO, pw, len, "stdin");
    }
    if (rc == 0 && *len == 0) {
        rc = fail("empty password refused");
    }
    if (rc != 0) {
        sodium_free(pw);
        return rc;
    }
    *out = pw;
    return 0;
}

/* Hash a new password for NAME at the database's cost into hash. */
static int new_hash(const char *pwfile, const secmq_policy *p,
                    char hash[SECMQ_PW_HASH_MAX])
{
    char *pw;
    size_t len = 0;
    int rc = get_password(pwfile, &pw, &len);

    if (rc != 0) {
        return rc;
    }
    if (secmq__pw_hash(hash, pw, len, p->pw_ops, p->pw_mem) != 0) {
        rc = fail("cannot hash the password (out of memory?)");
    }
    sodium_free(pw);
    return rc;
}

static const char *hash_kind(const char *hash)
{
    if (strncmp(hash, "$argon2id$", 10) == 0) {
        return "argon2id";
    }
    if (strncmp(hash, "$6$", 3) == 0) {
        return "mosquitto-sha512";
    }
    if (strncmp(hash, "$7$", 3) == 0) {
        return "mosquitto-pbkdf2";
    }
    return "unknown";
}

/* ---------------------------------------------------------------------- */
/* init, cost                                                             */
/* ---------------------------------------------------------------------- */

static int cmd_init(int argc, char **argv, int first, struct opts *o)
{
    unsigned long long ops = SECMQ_PW_DEFAULT_OPS;
    size_t mem = SECMQ_PW_DEFAULT_MEM;
    char err[512] = "";
    int rc = parse(argc, argv, first, O_PWOPS | O_PWMEM, o);

    if (rc == 0) {
        rc = want_pos(o, 0, "");
    }
    if (rc == 0) {
        rc = parse_cost(o, &ops, &mem);
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq__authdb_create(o->db, ops, mem, err, sizeof err);
    if (rc != SECMQ_OK) {
        return fail_rc(rc, err);
    }
    printf("created %s (pw_ops %llu pw_mem %zu)\n", o->db, ops, mem);
    return 0;
}

static int cmd_cost(int argc, char **argv, int first, struct opts *o)
{
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    unsigned long long ops;
    size_t mem;
    char err[512] = "";
    int set, rc = parse(argc, argv, first, O_PWOPS | O_PWMEM, o);

    if (rc == 0) {
        rc = want_pos(o, 0, "");
    }
    if (rc != 0) {
        return rc;
    }
    set = o->pw_ops != NULL || o->pw_mem != NULL;
    rc = open_db(o->db, set ? SECMQ_AUTHDB_READWRITE : SECMQ_AUTHDB_READONLY,
                 &db);
    if (rc == 0) {
        rc = load(db, &p);
    }
    ops = p.pw_ops;
    mem = p.pw_mem;
    if (rc == 0 && set) {
        rc = parse_cost(o, &ops, &mem);
        if (rc == 0) {
            int r = secmq__authdb_set_cost(db, ops, mem, err, sizeof err);
            rc = r == SECMQ_OK ? 0 : fail_rc(r, err);
        }
    }
    if (rc == 0) {
        printf("pw_ops %llu pw_mem %zu\n", ops, mem);
    }
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* user                                                                   */
/* ---------------------------------------------------------------------- */

static int user_list(const secmq_policy *p)
{
    size_t i, j;

    for (i = 0; i < p->nusers; i++) {
        const secmq_user *u = &p->users[i];
        printf("%s\t%s\tgroups=", u->name,
               u->disabled ? "disabled" : "enabled");
        for (j = 0; j < u->ngroups; j++) {
            printf("%s%s", j ? "," : "", u->groups[j]);
        }
        printf("%s\tkeys=%zu\thash=%s%s\n", u->ngroups ? "" : "-", u->nkeys,
               hash_kind(u->hash),
               secmq__pw_needs_rehash(u->hash, p->pw_ops, p->pw_mem)
                   ? " (rehash at next login)"
                   : "");
    }
    return 0;
}

static int cmd_user(int argc, char **argv, int first, struct opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL, *name;
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    char err[512] = "", hash[SECMQ_PW_HASH_MAX] = "";
    int rc, r = SECMQ_OK, add, list;

    if (sub == NULL) {
        return usage_error("user needs add, passwd, del, disable, enable or "
                           "list");
    }
    add = strcmp(sub, "add") == 0;
    list = strcmp(sub, "list") == 0;
    if (!add && !list && strcmp(sub, "passwd") != 0 &&
        strcmp(sub, "del") != 0 && strcmp(sub, "disable") != 0 &&
        strcmp(sub, "enable") != 0) {
        return usage_error("unknown command 'user %s'", SHOWN(sub));
    }
    rc = parse(argc, argv, first + 1,
               add || strcmp(sub, "passwd") == 0 ? O_PWFILE : 0, o);
    if (rc == 0) {
        rc = want_pos(o, list ? 0 : 1, "user NAME");
    }
    if (rc != 0) {
        return rc;
    }
    if (list) {
        rc = open_db(o->db, SECMQ_AUTHDB_READONLY, &db);
        if (rc == 0) {
            rc = load(db, &p);
        }
        if (rc == 0) {
            rc = user_list(&p);
        }
        goto out;
    }
    name = o->pos[0];
    if (add && name_check(name, "user") != 0) {
        return EXIT_FAIL;
    }
    rc = open_db(o->db, SECMQ_AUTHDB_READWRITE, &db);
    if (rc != 0) {
        goto out;
    }
    if (add || strcmp(sub, "passwd") == 0) {
        /* Refuse before asking for a password that would be thrown away. */
        rc = load(db, &p);
        if (rc == 0 && add && secmq__policy_user(&p, name) != NULL) {
            rc = fail("user '%s' already exists", SHOWN(name));
        }
        if (rc == 0 && !add && secmq__policy_user(&p, name) == NULL) {
            rc = fail("no user '%s'", SHOWN(name));
        }
        if (rc == 0) {
            rc = new_hash(o->pwfile, &p, hash);
        }
        if (rc != 0) {
            goto out;
        }
        r = add ? secmq__authdb_user_add(db, name, hash, err, sizeof err)
                : secmq__authdb_user_set_hash(db, name, hash, 1, err,
                                              sizeof err);
    } else if (strcmp(sub, "del") == 0) {
        r = secmq__authdb_user_del(db, name, err, sizeof err);
    } else {
        r = secmq__authdb_user_set_disabled(db, name, sub[0] == 'd', err,
                                            sizeof err);
    }
    if (r != SECMQ_OK) {
        rc = fail_rc(r, err);
        goto out;
    }
    printf("%s user %s\n",
           add                           ? "added"
           : strcmp(sub, "passwd") == 0  ? "new password for"
           : strcmp(sub, "del") == 0     ? "deleted"
           : strcmp(sub, "disable") == 0 ? "disabled"
                                         : "enabled",
           name);
out:
    sodium_memzero(hash, sizeof hash);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* group                                                                  */
/* ---------------------------------------------------------------------- */

static void print_group(void *arg, const char *group)
{
    const secmq_policy *p = arg;
    size_t i, n = 0;

    printf("%s\tmembers=", group);
    for (i = 0; i < p->nusers; i++) {
        if (secmq__user_in_group(&p->users[i], group)) {
            printf("%s%s", n++ ? "," : "", p->users[i].name);
        }
    }
    printf("%s\n", n ? "" : "-");
}

static int cmd_group(int argc, char **argv, int first, struct opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL;
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    char err[512] = "";
    int rc, r;

    if (sub == NULL) {
        return usage_error("group needs add, del, member or list");
    }
    if (strcmp(sub, "list") == 0) {
        rc = parse(argc, argv, first + 1, 0, o);
        if (rc == 0) {
            rc = want_pos(o, 0, "");
        }
        if (rc == 0) {
            rc = open_db(o->db, SECMQ_AUTHDB_READONLY, &db);
        }
        if (rc == 0) {
            rc = load(db, &p);
        }
        if (rc == 0) {
            r = secmq__authdb_group_list(db, print_group, &p, err, sizeof err);
            rc = r == SECMQ_OK ? 0 : fail_rc(r, err);
        }
        secmq__policy_clear(&p);
        secmq__authdb_close(db);
        return rc;
    }
    if (strcmp(sub, "add") == 0 || strcmp(sub, "del") == 0) {
        rc = parse(argc, argv, first + 1, 0, o);
        if (rc == 0) {
            rc = want_pos(o, 1, "group name G");
        }
        if (rc != 0) {
            return rc;
        }
        if (sub[0] == 'a' && name_check(o->pos[0], "group") != 0) {
            return EXIT_FAIL;
        }
        if (open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return EXIT_FAIL;
        }
        r = sub[0] == 'a'
                ? secmq__authdb_group_add(db, o->pos[0], err, sizeof err)
                : secmq__authdb_group_del(db, o->pos[0], err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        printf("%s group %s\n", sub[0] == 'a' ? "added" : "deleted", o->pos[0]);
        return 0;
    }
    if (strcmp(sub, "member") == 0) {
        rc = parse(argc, argv, first + 1, O_REMOVE, o);
        if (rc == 0) {
            rc = want_pos(o, 2, "G USER");
        }
        if (rc != 0) {
            return rc;
        }
        if (open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return EXIT_FAIL;
        }
        r = secmq__authdb_group_member(db, o->pos[0], o->pos[1], !o->remove,
                                       err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        printf("%s %s %s %s\n", o->remove ? "removed" : "added", o->pos[1],
               o->remove ? "from" : "to", o->pos[0]);
        return 0;
    }
    return usage_error("unknown command 'group %s'", SHOWN(sub));
}

/* ---------------------------------------------------------------------- */
/* acl                                                                    */
/* ---------------------------------------------------------------------- */

static const struct {
    const char *word;
    unsigned access;
} access_words[] = {
    {"read", SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE},
    {"write", SECMQ_ACL_WRITE},
    {"readwrite", SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE},
    {"subscribe", SECMQ_ACL_SUBSCRIBE},
    {"deny", SECMQ_ACL_DENY},
};

static int access_parse(const char *word, unsigned *access)
{
    size_t i;

    for (i = 0; i < sizeof access_words / sizeof access_words[0]; i++) {
        if (strcmp(word, access_words[i].word) == 0) {
            *access = access_words[i].access;
            return 0;
        }
    }
    return -1;
}

/* The word for access bits; combinations without a word (made by hand)
 * are shown as their bits, "r", "w", "s". */
static const char *access_word(unsigned access, char buf[8])
{
    size_t i, n = 0;

    for (i = 0; i < sizeof access_words / sizeof access_words[0]; i++) {
        if (access_words[i].access == access) {
            return access_words[i].word;
        }
    }
    if (access & SECMQ_ACL_READ) {
        buf[n++] = 'r';
    }
    if (access & SECMQ_ACL_WRITE) {
        buf[n++] = 'w';
    }
    if (access & SECMQ_ACL_SUBSCRIBE) {
        buf[n++] = 's';
    }
    buf[n] = 0;
    return buf;
}

static void print_rule(const secmq_rule *r)
{
    char bits[8];

    printf("%" PRId64 "\t%s%s\t%s\t%s%s\n", r->id,
           r->kind == SECMQ_RULE_USER    ? "user "
           : r->kind == SECMQ_RULE_GROUP ? "group "
                                         : "pattern",
           r->subject != NULL ? r->subject : "", access_word(r->access, bits),
           r->topic, r->require_signed ? "\tsigned" : "");
}

static int cmd_acl_list(struct opts *o)
{
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    const secmq_user *u = NULL;
    size_t i;
    int rc = open_db(o->db, SECMQ_AUTHDB_READONLY, &db);

    if (rc == 0) {
        rc = load(db, &p);
    }
    if (rc == 0 && o->user != NULL) {
        u = secmq__policy_user(&p, o->user);
        if (u == NULL) {
            rc = fail("no user '%s'", SHOWN(o->user));
        }
    }
    for (i = 0; rc == 0 && i < p.nrules; i++) {
        const secmq_rule *r = &p.rules[i];
        if (u != NULL && !(r->kind == SECMQ_RULE_PATTERN ||
                           (r->kind == SECMQ_RULE_USER &&
                            strcmp(r->subject, u->name) == 0) ||
                           (r->kind == SECMQ_RULE_GROUP &&
                            secmq__user_in_group(u, r->subject)))) {
            continue;
        }
        print_rule(r);
    }
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

static int cmd_acl(int argc, char **argv, int first, struct opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL;
    secmq_authdb *db = NULL;
    char err[512] = "";
    int rc, r;

    if (sub == NULL) {
        return usage_error("acl needs add, del or list");
    }
    if (strcmp(sub, "list") == 0) {
        rc = parse(argc, argv, first + 1, O_USER, o);
        if (rc == 0) {
            rc = want_pos(o, 0, "");
        }
        return rc != 0 ? rc : cmd_acl_list(o);
    }
    if (strcmp(sub, "add") == 0) {
        secmq_rule rule;
        int64_t id = 0;
        rc = parse(argc, argv, first + 1,
                   O_USER | O_GROUP | O_PATTERN | O_SIGNED, o);
        if (rc == 0) {
            rc = want_pos(o, 2, "TOPIC ACCESS");
        }
        if (rc != 0) {
            return rc;
        }
        if ((o->user != NULL) + (o->group != NULL) + o->pattern != 1) {
            return usage_error("acl add needs one of --user NAME, --group G "
                               "or --pattern");
        }
        memset(&rule, 0, sizeof rule);
        if (access_parse(o->pos[1], &rule.access) != 0) {
            return usage_error("ACCESS is read, write, readwrite, subscribe "
                               "or deny, not '%s'",
                               SHOWN(o->pos[1]));
        }
        rule.kind = o->user != NULL    ? SECMQ_RULE_USER
                    : o->group != NULL ? SECMQ_RULE_GROUP
                                       : SECMQ_RULE_PATTERN;
        rule.subject = (char *)(o->user != NULL ? o->user : o->group);
        rule.topic = (char *)o->pos[0];
        rule.require_signed = o->sign;
        if (rule.subject != NULL &&
            name_check(rule.subject, o->user != NULL ? "user" : "group") != 0) {
            return EXIT_FAIL;
        }
        if (open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return EXIT_FAIL;
        }
        r = secmq__authdb_rule_add(db, &rule, &id, err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        printf("added rule %" PRId64 "\n", id);
        return 0;
    }
    if (strcmp(sub, "del") == 0) {
        unsigned long long id;
        rc = parse(argc, argv, first + 1, 0, o);
        if (rc == 0) {
            rc = want_pos(o, 1, "rule ID");
        }
        if (rc != 0) {
            return rc;
        }
        if (parse_u64(o->pos[0], &id) != 0 || id > INT64_MAX) {
            return usage_error("rule ID is a number, not '%s'",
                               SHOWN(o->pos[0]));
        }
        if (open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return EXIT_FAIL;
        }
        r = secmq__authdb_rule_del(db, (int64_t)id, err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        printf("deleted rule %llu\n", id);
        return 0;
    }
    return usage_error("unknown command 'acl %s'", SHOWN(sub));
}

/* ---------------------------------------------------------------------- */
/* key                                                                    */
/* ---------------------------------------------------------------------- */

static void key_hex(const unsigned char *pk, char hex[2 * SECMQ_ID_BYTES + 1])
{
    unsigned char id[SECMQ_ID_BYTES];

    secmq_identity_id(id, pk);
    sodium_bin2hex(hex, 2 * SECMQ_ID_BYTES + 1, id, sizeof id);
}

static void print_key(void *arg, const char *user, const unsigned char *pk,
                      const char *label)
{
    char hex[2 * SECMQ_ID_BYTES + 1];

    (void)arg;
    key_hex(pk, hex);
    printf("%s\t%s\t%s\n", user, hex, label != NULL ? SHOWN(label) : "-");
}

struct key_find {
    char hex[2 * SECMQ_ID_BYTES + 1];
    unsigned char pk[SECMQ_SIGN_KEY_BYTES];
    int found;
};

static void find_key(void *arg, const char *user, const unsigned char *pk,
                     const char *label)
{
    struct key_find *f = arg;
    char hex[2 * SECMQ_ID_BYTES + 1];

    (void)user;
    (void)label;
    key_hex(pk, hex);
    if (strcmp(hex, f->hex) == 0) {
        memcpy(f->pk, pk, sizeof f->pk);
        f->found = 1;
    }
}

static int cmd_key(int argc, char **argv, int first, struct opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL;
    secmq_authdb *db = NULL;
    char err[512] = "";
    int rc, r;

    if (sub == NULL) {
        return usage_error("key needs add, del or list");
    }
    if (strcmp(sub, "list") == 0) {
        rc = parse(argc, argv, first + 1, 0, o);
        if (rc == 0 && o->npos > 1) {
            rc = usage_error("unexpected argument '%s'", SHOWN(o->pos[1]));
        }
        if (rc != 0) {
            return rc;
        }
        if (open_db(o->db, SECMQ_AUTHDB_READONLY, &db) != 0) {
            return EXIT_FAIL;
        }
        r = secmq__authdb_key_list(db, o->npos ? o->pos[0] : NULL, print_key,
                                   NULL, err, sizeof err);
        secmq__authdb_close(db);
        return r == SECMQ_OK ? 0 : fail_rc(r, err);
    }
    if (strcmp(sub, "add") == 0) {
        unsigned char pk[SECMQ_SIGN_PK_BYTES];
        char label[SECMQ_NAME_MAX + 1], hex[2 * SECMQ_ID_BYTES + 1];
        rc = parse(argc, argv, first + 1, 0, o);
        if (rc == 0) {
            rc = want_pos(o, 2, "NAME PUBFILE");
        }
        if (rc != 0) {
            return rc;
        }
        r = secmq_identity_read_public(o->pos[1], label, sizeof label, pk, err,
                                       sizeof err);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        if (open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return EXIT_FAIL;
        }
        r = secmq__authdb_key_set(db, o->pos[0], pk, label, 1, err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        key_hex(pk, hex);
        printf("added key %s for %s\n", hex, o->pos[0]);
        return 0;
    }
    if (strcmp(sub, "del") == 0) {
        struct key_find f;
        size_t i;
        rc = parse(argc, argv, first + 1, 0, o);
        if (rc == 0) {
            rc = want_pos(o, 2, "NAME KEYID");
        }
        if (rc != 0) {
            return rc;
        }
        memset(&f, 0, sizeof f);
        for (i = 0; o->pos[1][i] != 0 && i < 2 * SECMQ_ID_BYTES; i++) {
            char c = o->pos[1][i];
            if (c >= 'A' && c <= 'F') {
                c = (char)(c - 'A' + 'a');
            }
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                break;
            }
            f.hex[i] = c;
        }
        if (i != 2 * SECMQ_ID_BYTES || o->pos[1][i] != 0) {
            return usage_error("KEYID is 16 hex digits, not '%s'",
                               SHOWN(o->pos[1]));
        }
        if (open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return EXIT_FAIL;
        }
        r = secmq__authdb_key_list(db, o->pos[0], find_key, &f, err,
                                   sizeof err);
        if (r == SECMQ_OK && !f.found) {
            secmq__authdb_close(db);
            return fail("no key %s for '%s'", f.hex, SHOWN(o->pos[0]));
        }
        if (r == SECMQ_OK) {
            r = secmq__authdb_key_set(db, o->pos[0], f.pk, NULL, 0, err,
                                      sizeof err);
        }
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return fail_rc(r, err);
        }
        printf("deleted key %s for %s\n", f.hex, o->pos[0]);
        return 0;
    }
    return usage_error("unknown command 'key %s'", SHOWN(sub));
}

/* ---------------------------------------------------------------------- */
/* import-mosquitto                                                       */
/* ---------------------------------------------------------------------- */

struct imp_user {
    char *name;
    char *hash;
    size_t line;
};

struct imp_rule {
    secmq_rule r;
    size_t line;
};

struct import {
    struct imp_user *users;
    size_t nusers;
    struct imp_rule *rules;
    size_t nrules;
    size_t skipped;
    char **notes;  /* warnings, printed only when the import succeeds, so */
    size_t nnotes; /* a refusal stays one line */
};

static void note(struct import *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A skipped line, counted, with its warning kept for later. */
static void note(struct import *im, const char *fmt, ...)
{
    char line[512], **nn;
    va_list ap;

    im->skipped++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nn = realloc(im->notes, (im->nnotes + 1) * sizeof *nn);
    if (nn == NULL) {
        return; /* the count stays right; only the message is lost */
    }
    im->notes = nn;
    im->notes[im->nnotes] = strdup(line);
    if (im->notes[im->nnotes] != NULL) {
        im->nnotes++;
    }
}

static void import_free(struct import *im)
{
    size_t i;

    for (i = 0; i < im->nusers; i++) {
        free(im->users[i].name);
        sodium_memzero(im->users[i].hash, strlen(im->users[i].hash));
        free(im->users[i].hash);
    }
    free(im->users);
    for (i = 0; i < im->nrules; i++) {
        free(im->rules[i].r.subject);
        free(im->rules[i].r.topic);
    }
    free(im->rules);
    for (i = 0; i < im->nnotes; i++) {
        free(im->notes[i]);
    }
    free(im->notes);
}

static const struct imp_user *imp_find(const struct import *im,
                                       const char *name)
{
    size_t i;

    for (i = 0; i < im->nusers; i++) {
        if (strcmp(im->users[i].name, name) == 0) {
            return &im->users[i];
        }
    }
    return NULL;
}

/* Trim blanks and line ends from both ends of s, in place. */
static char *trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n')) {
        s[--n] = 0;
    }
    return s;
}

/* mosquitto_passwd's file: "user:hash" lines. */
static int read_passwd(const char *file, struct import *im)
{
    FILE *f = fopen(file, "r");
    char *buf = NULL;
    size_t cap = 0, line = 0;
    int rc = 0;

    if (f == NULL) {
        return fail("cannot open %s: %s", SHOWN(file), strerror(errno));
    }
    while (rc == 0 && getline(&buf, &cap, f) >= 0) {
        char *s, *colon;
        struct imp_user *nu;
        line++;
        s = trim(buf);
        if (s[0] == 0 || s[0] == '#') {
            continue;
        }
        colon = strchr(s, ':');
        if (colon == NULL) {
            rc = fail("%s:%zu: not a 'user:hash' line", SHOWN(file), line);
            break;
        }
        *colon = 0;
        if (!secmq__name_ok(s)) {
            rc = fail("%s:%zu: invalid user name '%s'", SHOWN(file), line,
                      SHOWN(s));
        } else if (!secmq__pw_hash_known(colon + 1)) {
            rc = fail("%s:%zu: unknown password hash format for user '%s' "
                      "(expected $6$ or $7$ from mosquitto_passwd)",
                      SHOWN(file), line, SHOWN(s));
        } else if (imp_find(im, s) != NULL) {
            rc = fail("%s:%zu: user '%s' appears twice", SHOWN(file), line,
                      SHOWN(s));
        }
        if (rc != 0) {
            break;
        }
        nu = realloc(im->users, (im->nusers + 1) * sizeof *nu);
        if (nu == NULL) {
            rc = fail("out of memory");
            break;
        }
        im->users = nu;
        nu = &im->users[im->nusers];
        nu->name = strdup(s);
        nu->hash = strdup(colon + 1);
        nu->line = line;
        if (nu->name == NULL || nu->hash == NULL) {
            free(nu->name);
            free(nu->hash);
            rc = fail("out of memory");
            break;
        }
        im->nusers++;
    }
    if (rc == 0 && ferror(f)) {
        rc = fail("cannot read %s: %s", SHOWN(file), strerror(errno));
    }
    if (buf != NULL) {
        sodium_memzero(buf, cap); /* it held hashes */
    }
    free(buf);
    fclose(f);
    return rc;
}

/* A rule topic as secmq-admin would take it (patterns: %u/%c = a level). */
static int import_topic_ok(const char *topic, int pattern)
{
    char buf[SECMQ_AUTH_TOPIC_MAX + 1];

    if (!pattern) {
        return secmq__filter_valid(topic);
    }
    return strlen(topic) <= SECMQ_AUTH_TOPIC_MAX &&
           secmq__pattern_substitute(topic, "x", "x", buf, sizeof buf) == 0 &&
           secmq__filter_valid(buf);
}

/*
 * mosquitto's acl_file: "user NAME" starts a section; "topic [ACCESS]
 * TOPIC" lines belong to it (before any user line: to anonymous clients);
 * "pattern [ACCESS] TOPIC" applies to everyone. ACCESS read, write,
 * readwrite (the default) or deny.
 */
static int read_acl(const char *file, struct import *im)
{
    FILE *f = fopen(file, "r");
    char *buf = NULL, *user = NULL;
    size_t cap = 0, line = 0;
    int rc = 0;

    if (f == NULL) {
        return fail("cannot open %s: %s", SHOWN(file), strerror(errno));
    }
    while (rc == 0 && getline(&buf, &cap, f) >= 0) {
        char *s, *rest, *topic;
        int pattern;
        unsigned access =
            SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE;
        size_t wlen;
        struct imp_rule *nr;
        line++;
        s = trim(buf);
        if (s[0] == 0 || s[0] == '#') {
            continue;
        }
        wlen = strcspn(s, " \t");
        rest = trim(s + wlen);
        if (wlen == 4 && strncmp(s, "user", 4) == 0) {
            if (!secmq__name_ok(rest)) {
                rc = fail("%s:%zu: invalid user name '%s'", SHOWN(file), line,
                          SHOWN(rest));
                break;
            }
            free(user);
            user = strdup(rest);
            if (user == NULL) {
                rc = fail("out of memory");
            }
            continue;
        }
        if (wlen == 5 && strncmp(s, "topic", 5) == 0) {
            pattern = 0;
        } else if (wlen == 7 && strncmp(s, "pattern", 7) == 0) {
            pattern = 1;
        } else {
            rc = fail("%s:%zu: expected 'user', 'topic' or 'pattern'",
                      SHOWN(file), line);
            break;
        }
        /* An optional access word, then the topic (the rest of the line):
         * "topic read" is an access word without a topic, as mosquitto
         * says, not a rule for the topic "read". */
        wlen = strcspn(rest, " \t");
        topic = rest;
        {
            char word[16];
            unsigned a;
            if (wlen < sizeof word) {
                memcpy(word, rest, wlen);
                word[wlen] = 0;
                if (strcmp(word, "subscribe") != 0 &&
                    access_parse(word, &a) == 0) {
                    access = a;
                    topic = trim(rest + wlen);
                }
            }
        }
        if (topic[0] == 0) {
            rc = fail("%s:%zu: no topic", SHOWN(file), line);
            break;
        }
        if (!import_topic_ok(topic, pattern)) {
            rc = fail("%s:%zu: invalid topic filter '%s'", SHOWN(file), line,
                      SHOWN(topic));
            break;
        }
        if (!pattern && user == NULL) {
            note(im,
                 "%s:%zu: rule for anonymous clients skipped (anonymous "
                 "clients are always refused)",
                 SHOWN(file), line);
            continue;
        }
        nr = realloc(im->rules, (im->nrules + 1) * sizeof *nr);
        if (nr == NULL) {
            rc = fail("out of memory");
            break;
        }
        im->rules = nr;
        nr = &im->rules[im->nrules];
        memset(nr, 0, sizeof *nr);
        nr->line = line;
        nr->r.kind = pattern ? SECMQ_RULE_PATTERN : SECMQ_RULE_USER;
        nr->r.access = access;
        nr->r.topic = strdup(topic);
        nr->r.subject = pattern ? NULL : strdup(user);
        if (nr->r.topic == NULL || (!pattern && nr->r.subject == NULL)) {
            free(nr->r.topic);
            free(nr->r.subject);
            rc = fail("out of memory");
            break;
        }
        im->nrules++;
    }
    if (rc == 0 && ferror(f)) {
        rc = fail("cannot read %s: %s", SHOWN(file), strerror(errno));
    }
    free(user);
    free(buf);
    fclose(f);
    return rc;
}

/* Put the parsed files into the database inside the caller's transaction.
 * Returns 0, or 1 after printing why. */
static int import_apply(secmq_authdb *db, const secmq_policy *p,
                        const struct opts *o, struct import *im, size_t *nrules)
{
    char err[512];
    size_t i;
    int r;

    for (i = 0; i < im->nusers; i++) {
        err[0] = 0;
        r = secmq__authdb_user_add(db, im->users[i].name, im->users[i].hash,
                                   err, sizeof err);
        if (r != SECMQ_OK) {
            return fail("%s:%zu: %s", SHOWN(o->passwd), im->users[i].line,
                        err[0] ? err : secmq_strerror(r));
        }
    }
    for (i = 0; i < im->nrules; i++) {
        const secmq_rule *rule = &im->rules[i].r;
        size_t line = im->rules[i].line;
        if (rule->kind == SECMQ_RULE_USER &&
            secmq__policy_user(p, rule->subject) == NULL &&
            imp_find(im, rule->subject) == NULL) {
            note(im,
                 "%s:%zu: no user '%s' in the password file or the database: "
                 "rule skipped",
                 SHOWN(o->acl), line, SHOWN(rule->subject));
            continue;
        }
        err[0] = 0;
        r = secmq__authdb_rule_add(db, rule, NULL, err, sizeof err);
        if (r == SECMQ_E_INVAL && strncmp(err, "rule exists", 11) == 0) {
            note(im, "%s:%zu: %s: skipped", SHOWN(o->acl), line, err);
            continue;
        }
        if (r != SECMQ_OK) {
            return fail("%s:%zu: %s", SHOWN(o->acl), line,
                        err[0] ? err : secmq_strerror(r));
        }
        (*nrules)++;
    }
    return 0;
}

static int cmd_import(int argc, char **argv, int first, struct opts *o)
{
    struct import im;
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    char err[512] = "";
    size_t i, nrules = 0;
    int rc = parse(argc, argv, first, O_PASSWD | O_ACL, o), r;

    if (rc == 0) {
        rc = want_pos(o, 0, "");
    }
    if (rc == 0 && o->passwd == NULL && o->acl == NULL) {
        rc = usage_error("import-mosquitto needs --passwd FILE and/or "
                         "--acl FILE");
    }
    if (rc != 0) {
        return rc;
    }
    memset(&im, 0, sizeof im);
    if (o->passwd != NULL) {
        rc = read_passwd(o->passwd, &im);
    }
    if (rc == 0 && o->acl != NULL) {
        rc = read_acl(o->acl, &im);
    }
    if (rc == 0) {
        rc = open_db(o->db, SECMQ_AUTHDB_READWRITE, &db);
    }
    if (rc == 0) {
        rc = load(db, &p);
    }
    for (i = 0; rc == 0 && i < im.nusers; i++) {
        if (secmq__policy_user(&p, im.users[i].name) != NULL) {
            rc =
                fail("%s:%zu: user '%s' already exists in %s", SHOWN(o->passwd),
                     im.users[i].line, SHOWN(im.users[i].name), SHOWN(o->db));
        }
    }
    if (rc == 0) {
        r = secmq__authdb_begin(db, err, sizeof err);
        rc = r == SECMQ_OK ? 0 : fail_rc(r, err);
    }
    if (rc == 0) {
        rc = import_apply(db, &p, o, &im, &nrules);
        if (rc != 0) {
            secmq__authdb_rollback(db);
        } else {
            r = secmq__authdb_commit(db, err, sizeof err);
            rc = r == SECMQ_OK ? 0 : fail_rc(r, err);
        }
    }
    for (i = 0; rc == 0 && i < im.nnotes; i++) {
        warn("%s", im.notes[i]);
    }
    if (rc == 0) {
        printf("imported %zu users, %zu rules (%zu skipped)\n", im.nusers,
               nrules, im.skipped);
    }
    import_free(&im);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* main                                                                   */
/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct opts o;
    const char *cmd;
    int i;

    memset(&o, 0, sizeof o);
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
    }
    /* Options before the command: --db only. */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            o.db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            o.db = argv[i] + 5;
        } else {
            return usage_error("unknown option '%s'", SHOWN(argv[i]));
        }
    }
    if (i >= argc) {
        return usage_error("no command");
    }
    if (sodium_init() < 0) {
        return fail("libsodium failed to start");
    }
    cmd = argv[i];
    if (strcmp(cmd, "init") == 0) {
        return cmd_init(argc, argv, i + 1, &o);
    }
    if (strcmp(cmd, "cost") == 0) {
        return cmd_cost(argc, argv, i + 1, &o);
    }
    if (strcmp(cmd, "user") == 0) {
        return cmd_user(argc, argv, i + 1, &o);
    }
    if (strcmp(cmd, "group") == 0) {
        return cmd_group(argc, argv, i + 1, &o);
    }
    if (strcmp(cmd, "acl") == 0) {
        return cmd_acl(argc, argv, i + 1, &o);
    }
    if (strcmp(cmd, "key") == 0) {
        return cmd_key(argc, argv, i + 1, &o);
    }
    if (strcmp(cmd, "import-mosquitto") == 0) {
        return cmd_import(argc, argv, i + 1, &o);
    }
    return usage_error("unknown command '%s'", SHOWN(cmd));
}
