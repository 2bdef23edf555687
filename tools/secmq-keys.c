/*
 * secmq-keys.c -- manage a secmq keyring: identities, trusted peers,
 * channels and their grants (docs/PROTOCOL.md §2-§5).
 *
 * A thin front end over the management API of secmq/keyring.h: it parses
 * the command line, calls one function, and prints what happened. Exit
 * status: 0 done, 1 refused or failed (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_dropin.h"
#include "cli_msg.h"
#include "keys_list.h"
#include "secmq.h"

#define EXIT_USAGE 2
#define MAX_ARGS 1024

/* A parsed command line. */
struct args {
    const char *keyring;
    const char *name;
    const char *topic;
    const char *out;
    const char *grace;
    const char *files;
    int allow_mac;
    int receipts;
    const char *receipt_topic;
    const char *receipt_count;
    const char *epoch;
    const char *epoch_grace;
    const char *from[MAX_ARGS];
    size_t nfrom;
    const char *pubs[MAX_ARGS];
    size_t npubs;
    const char *subs[MAX_ARGS];
    size_t nsubs;
    const char *pos[MAX_ARGS];
    size_t npos;
};

/* Which options a command takes. */
enum {
    O_KEYRING = 1u,
    O_NAME = 2u,
    O_TOPIC = 4u,
    O_OUT = 8u,
    O_GRACE = 16u,
    O_ALLOW_MAC = 32u,
    O_PUBLISHER = 64u,
    O_SUBSCRIBER = 128u,
    O_FILES = 256u,
    O_RECEIPTS = 512u,
    O_RECEIPT_TOPIC = 1024u,
    O_RECEIPTS_FROM = 2048u,
    O_RECEIPT_COUNT = 4096u,
    O_EPOCH = 8192u,
    O_EPOCH_GRACE = 16384u
};

/* Print "secmq-keys: <why> (see --help)" and the synopsis; exit status 2. */
static int usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cli_usage_err("%s", line);
    fputs(keys_synopsis, stderr);
    return EXIT_USAGE;
}

/* The value of --opt VALUE or --opt=VALUE at argv[*i]. */
static const char *opt_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL) {
        return eq + 1;
    }
    if (*i + 1 >= argc) {
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

static int add_file(const char **v, size_t *n, const char *f)
{
    if (*n >= MAX_ARGS) {
        return -1;
    }
    v[(*n)++] = f;
    return 0;
}

/*
 * Parse argv[first..] for a command that takes the options in allowed.
 * Returns 0, or EXIT_USAGE after printing why.
 */
static int parse(int argc, char **argv, int first, unsigned allowed,
                 struct args *a)
{
    int i, only_pos = 0;

    memset(a, 0, sizeof *a);
    for (i = first; i < argc; i++) {
        const char *arg = argv[i], *eq, *v;
        size_t len;
        unsigned opt = 0;

        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (add_file(a->pos, &a->npos, arg) != 0) {
                return usage_error("too many arguments");
            }
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        eq = strchr(arg, '=');
        len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
#define IS(s) (len == sizeof(s) - 1 && strncmp(arg, s, len) == 0)
        if (IS("--keyring")) {
            opt = O_KEYRING;
        } else if (IS("--name")) {
            opt = O_NAME;
        } else if (IS("--topic")) {
            opt = O_TOPIC;
        } else if (IS("--files")) {
            opt = O_FILES;
        } else if (IS("--out")) {
            opt = O_OUT;
        } else if (IS("--grace")) {
            opt = O_GRACE;
        } else if (IS("--allow-mac")) {
            opt = O_ALLOW_MAC;
        } else if (IS("--publisher")) {
            opt = O_PUBLISHER;
        } else if (IS("--subscriber")) {
            opt = O_SUBSCRIBER;
        } else if (IS("--receipts")) {
            opt = O_RECEIPTS;
        } else if (IS("--receipt-topic")) {
            opt = O_RECEIPT_TOPIC;
        } else if (IS("--receipts-from")) {
            opt = O_RECEIPTS_FROM;
        } else if (IS("--receipt-count")) {
            opt = O_RECEIPT_COUNT;
        } else if (IS("--epoch")) {
            opt = O_EPOCH;
        } else if (IS("--epoch-grace")) {
            opt = O_EPOCH_GRACE;
        }
#undef IS
        if (opt == 0 || !(allowed & opt)) {
            return usage_error("unknown option '%s' for this command", arg);
        }
        if (opt == O_ALLOW_MAC || opt == O_RECEIPTS) {
            if (eq != NULL) {
                return usage_error("'%s' takes no value", arg);
            }
            *(opt == O_ALLOW_MAC ? &a->allow_mac : &a->receipts) = 1;
            continue;
        }
        if (opt == O_PUBLISHER || opt == O_SUBSCRIBER ||
            opt == O_RECEIPTS_FROM) {
            const char **vec = opt == O_PUBLISHER    ? a->pubs
                               : opt == O_SUBSCRIBER ? a->subs
                                                     : a->from;
            size_t *n = opt == O_PUBLISHER    ? &a->npubs
                        : opt == O_SUBSCRIBER ? &a->nsubs
                                              : &a->nfrom;
            size_t before = *n;
            if (eq != NULL && add_file(vec, n, eq + 1) != 0) {
                return usage_error("too many files");
            }
            /* FILE...: every following argument up to the next option. */
            while (eq == NULL && i + 1 < argc && argv[i + 1][0] != '-') {
                if (add_file(vec, n, argv[++i]) != 0) {
                    return usage_error("too many files");
                }
            }
            if (*n == before) {
                return usage_error("'%s' needs at least one FILE", arg);
            }
            continue;
        }
        v = opt_value(argc, argv, &i, eq);
        if (v == NULL || v[0] == 0) {
            return usage_error("'%s' needs a value", arg);
        }
        switch (opt) {
        case O_KEYRING:
            a->keyring = v;
            break;
        case O_NAME:
            a->name = v;
            break;
        case O_TOPIC:
            a->topic = v;
            break;
        case O_OUT:
            a->out = v;
            break;
        case O_FILES:
            a->files = v;
            break;
        case O_RECEIPT_TOPIC:
            a->receipt_topic = v;
            break;
        case O_RECEIPT_COUNT:
            a->receipt_count = v;
            break;
        case O_EPOCH:
            a->epoch = v;
            break;
        case O_EPOCH_GRACE:
            a->epoch_grace = v;
            break;
        default:
            a->grace = v;
            break;
        }
    }
    if ((allowed & O_KEYRING) && a->keyring == NULL) {
        return usage_error("--keyring DIR is required");
    }
    return 0;
}

static int require(const char *value, const char *what)
{
    if (value == NULL) {
        return usage_error("%s is required", what);
    }
    return 0;
}

/* Seconds of --grace into ms; -1 if not a number. */
static int parse_grace(const char *s, uint64_t dflt, uint64_t *ms)
{
    unsigned long long v;
    char *end;

    if (s == NULL) {
        *ms = dflt;
        return 0;
    }
    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != 0 || v > UINT64_MAX / 1000u) {
        return -1;
    }
    *ms = (uint64_t)v * 1000u;
    return 0;
}

/* "90", "90s", "1500ms", "10m", "1h", "2d" into ms (<= UINT32_MAX);
 * -1 if not such a duration. */
static int parse_dur(const char *s, uint32_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"", 1000u},   {"s", 1000u},    {"ms", 1u},
                 {"m", 60000u}, {"h", 3600000u}, {"d", 86400000u}};
    unsigned long long v;
    char *end;

    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > UINT32_MAX / units[i].ms) {
                return -1;
            }
            *ms = (uint32_t)(v * units[i].ms);
            return 0;
        }
    }
    return -1;
}

/* The ratchet of channel create (--epoch, --epoch-grace) into r; 0, or
 * the usage error's exit status. */
static int ratchet_args(const struct args *a, secmq_channel_ratchet *r)
{
    memset(r, 0, sizeof r[0]);
    if (a->epoch == NULL) {
        if (a->epoch_grace != NULL) {
            return usage_error("--epoch-grace needs --epoch");
        }
        return 0;
    }
    if (parse_dur(a->epoch, &r->period_ms) != 0 || r->period_ms < 1000u) {
        return usage_error("--epoch takes a duration of at least 1s (e.g. "
                           "1h, 10m, 30s), not '%s'",
                           a->epoch);
    }
    /* A default grace covers a broker restart and reconnecting clients,
     * and never keeps more than one epoch beyond the current one. */
    r->grace_ms = r->period_ms < SECMQ_EPOCH_GRACE_DEFAULT_MS
                      ? r->period_ms
                      : SECMQ_EPOCH_GRACE_DEFAULT_MS;
    if (a->epoch_grace != NULL &&
        parse_dur(a->epoch_grace, &r->grace_ms) != 0) {
        return usage_error("--epoch-grace takes a duration (e.g. 10m, 0), not "
                           "'%s'",
                           a->epoch_grace);
    }
    if (a->receipts) {
        return usage_error("--epoch and --receipts cannot be combined");
    }
    return 0;
}

static void print_note(void *user, const char *line)
{
    (void)user;
    printf("%s\n", line);
}

/* Report a library failure: a bad argument is a usage error (exit 2). */
static int fail(int rc, const char *err)
{
    const char *why = err[0] != 0 ? err : secmq_strerror(rc);

    if (rc == SECMQ_E_INVAL) {
        return usage_error("%s", why);
    }
    cli_err("%s", why);
    return 1;
}

static int cmd_init(int argc, char **argv)
{
    char err[512];
    struct args a;
    int rc = parse(argc, argv, 2, O_KEYRING | O_NAME, &a);

    if (rc == 0) {
        rc = require(a.name, "--name NAME");
    }
    if (rc == 0 && a.npos > 0) {
        rc = usage_error("unexpected argument '%s'", a.pos[0]);
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq_identity_create(a.keyring, a.name, err, sizeof err);
    if (rc != SECMQ_OK) {
        return fail(rc, err);
    }
    printf("created identity '%s' in %s\n", a.name, a.keyring);
    return 0;
}

static int cmd_export(int argc, char **argv)
{
    char err[512], text[512];
    struct args a;
    int rc = parse(argc, argv, 2, O_KEYRING, &a);

    if (rc == 0 && a.npos > 0) {
        rc = usage_error("unexpected argument '%s'", a.pos[0]);
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq_identity_export(a.keyring, text, sizeof text, NULL, err,
                               sizeof err);
    if (rc != SECMQ_OK) {
        return fail(rc, err);
    }
    fputs(text, stdout);
    return 0;
}

static int cmd_import(int argc, char **argv)
{
    char err[512];
    struct args a;
    int rc = parse(argc, argv, 2, O_KEYRING, &a);

    if (rc == 0 && a.npos == 0) {
        rc = usage_error("import needs at least one FILE");
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq_keyring_import(a.keyring, a.pos, a.npos, print_note, NULL, err,
                              sizeof err);
    if (rc != SECMQ_OK) {
        return fail(rc, err);
    }
    return 0;
}

/*
 * channel create --files TOPIC: TOPIC/# (senders publish, receivers
 * subscribe) and TOPIC/r/# (the reverse), grants in OUTDIR/files and
 * OUTDIR/requests. Returns SECMQ_OK or the failing call's code, err set.
 */
static int create_files(const struct args *a,
                        const secmq_channel_ratchet *ratchet, char *err,
                        size_t errlen)
{
    char filt[2][SECMQ_TOPIC_MAX + 1], out[2][4096];
    static const char *const sub[2] = {"files", "requests"};
    secmq_channel_spec spec;
    int rc;

    if (mkdir(a->out, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", a->out, strerror(errno));
        return SECMQ_E_IO;
    }
    snprintf(filt[0], sizeof filt[0], "%s/#", a->files);
    snprintf(filt[1], sizeof filt[1], "%s/r/#", a->files);
    for (int i = 0; i < 2; i++) {
        if ((size_t)snprintf(out[i], sizeof out[i], "%s/%s", a->out, sub[i]) >=
            sizeof out[i]) {
            snprintf(err, errlen, "--out: too long a path");
            return SECMQ_E_INVAL;
        }
        memset(&spec, 0, sizeof spec);
        spec.filter = filt[i];
        /* The requests channel swaps the roles. */
        spec.publishers = i == 0 ? a->pubs : a->subs;
        spec.n_publishers = i == 0 ? a->npubs : a->nsubs;
        spec.subscribers = i == 0 ? a->subs : a->pubs;
        spec.n_subscribers = i == 0 ? a->nsubs : a->npubs;
        rc = secmq_channel_create_v3(a->keyring, &spec, NULL, ratchet, out[i],
                                     print_note, NULL, err, errlen);
        if (rc != SECMQ_OK) {
            if (i == 1) {
                cli_warn("channel %s was created (grants in %s/); %s was "
                         "not: create it with channel create --topic",
                         filt[0], out[0], filt[1]);
            }
            return rc;
        }
        printf("channel %s: grants in %s/\n", filt[i], out[i]);
    }
    printf("each member imports its two grants, e.g. secmq-keys import "
           "--keyring DIR %s/NAME.grant %s/NAME.grant\n",
           out[0], out[1]);
    return SECMQ_OK;
}

/* The receipts of channel create (--receipts ...) into r; 0, or the
 * usage error's exit status. *use is 1 when the channel has receipts. */
static int receipt_args(const struct args *a, secmq_channel_receipts *r,
                        int *use)
{
    char *end = NULL;
    unsigned long n = 0;

    memset(r, 0, sizeof *r);
    *use = a->receipts;
    if (!a->receipts) {
        if (a->receipt_topic != NULL || a->nfrom > 0 ||
            a->receipt_count != NULL) {
            return usage_error("--receipt-topic, --receipts-from and "
                               "--receipt-count need --receipts");
        }
        return 0;
    }
    if (a->receipt_count != NULL) {
        errno = 0;
        n = strtoul(a->receipt_count, &end, 10);
        if (errno != 0 || end == a->receipt_count || *end != 0 || n < 1 ||
            n > 65535u || a->receipt_count[0] == '-') {
            return usage_error("--receipt-count takes a number 1..65535, not "
                               "'%s'",
                               a->receipt_count);
        }
    }
    r->topic = a->receipt_topic;
    r->from = a->from;
    r->n_from = a->nfrom;
    r->count = (unsigned)n;
    return 0;
}

/* The channel spec of --topic, --publisher, --subscriber, --allow-mac. */
static void spec_of(const struct args *a, secmq_channel_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->filter = a->topic;
    spec->publishers = a->pubs;
    spec->n_publishers = a->npubs;
    spec->subscribers = a->subs;
    spec->n_subscribers = a->nsubs;
    spec->allow_mac = a->allow_mac;
}

static int cmd_channel(int argc, char **argv)
{
    secmq_channel_receipts rcpt;
    secmq_channel_ratchet ratchet;
    int use_rcpt = 0;
    const char *sub = argc > 2 ? argv[2] : NULL;
    secmq_channel_spec spec;
    char err[512];
    struct args a;
    uint64_t grace = 0;
    int rc;

    if (sub == NULL) {
        return usage_error("channel needs create, add, rotate or revoke");
    }
    if (strcmp(sub, "create") == 0) {
        rc = parse(argc, argv, 3,
                   O_KEYRING | O_TOPIC | O_OUT | O_ALLOW_MAC | O_PUBLISHER |
                       O_SUBSCRIBER | O_FILES | O_RECEIPTS | O_RECEIPT_TOPIC |
                       O_RECEIPTS_FROM | O_RECEIPT_COUNT | O_EPOCH |
                       O_EPOCH_GRACE,
                   &a);
        if (rc == 0) {
            rc = ratchet_args(&a, &ratchet);
        }
        if (rc == 0 && a.files != NULL) {
            if (a.topic != NULL || a.allow_mac || a.receipts) {
                return usage_error("--files TOPIC takes neither --topic, "
                                   "--allow-mac nor --receipts");
            }
            if (strpbrk(a.files, "+#") != NULL ||
                strlen(a.files) > SECMQ_FILE_TOPIC_MAX) {
                return usage_error("--files '%s': needs a topic without "
                                   "wildcards",
                                   a.files);
            }
            if (a.npubs == 0 || a.nsubs == 0) {
                return usage_error("--files needs --publisher FILE... (the "
                                   "senders) and --subscriber FILE... (the "
                                   "receivers)");
            }
            if (a.out == NULL) {
                return require(a.out, "--out DIR");
            }
            if (a.npos > 0) {
                return usage_error("unexpected argument '%s'", a.pos[0]);
            }
            rc = create_files(&a, &ratchet, err, sizeof err);
            return rc != SECMQ_OK ? fail(rc, err) : 0;
        }
        if (rc == 0) {
            rc = require(a.topic, "--topic FILTER or --files TOPIC");
        }
        if (rc == 0) {
            rc = require(a.out, "--out DIR");
        }
        if (rc == 0 && a.npubs == 0) {
            rc = usage_error("--publisher FILE... is required");
        }
        if (rc == 0 && a.npos > 0) {
            rc = usage_error("unexpected argument '%s'", a.pos[0]);
        }
        if (rc == 0) {
            rc = receipt_args(&a, &rcpt, &use_rcpt);
        }
        if (rc != 0) {
            return rc;
        }
        spec_of(&a, &spec);
        rc = secmq_channel_create_v3(a.keyring, &spec, use_rcpt ? &rcpt : NULL,
                                     &ratchet, a.out, print_note, NULL, err,
                                     sizeof err);
    } else if (strcmp(sub, "add") == 0) {
        rc = parse(argc, argv, 3,
                   O_KEYRING | O_TOPIC | O_OUT | O_GRACE | O_PUBLISHER |
                       O_SUBSCRIBER,
                   &a);
        if (rc == 0) {
            rc = require(a.topic, "--topic FILTER");
        }
        if (rc == 0) {
            rc = require(a.out, "--out DIR");
        }
        if (rc == 0 && a.npubs + a.nsubs == 0) {
            rc = usage_error("add needs --publisher FILE... or --subscriber "
                             "FILE...");
        }
        if (rc == 0 && a.npos > 0) {
            rc = usage_error("unexpected argument '%s'", a.pos[0]);
        }
        if (rc == 0 &&
            parse_grace(a.grace, SECMQ_GRACE_DEFAULT_MS, &grace) != 0) {
            rc = usage_error("--grace takes whole seconds, not '%s'", a.grace);
        }
        if (rc != 0) {
            return rc;
        }
        spec_of(&a, &spec);
        rc = secmq_channel_add(a.keyring, &spec, grace, a.out, print_note, NULL,
                               err, sizeof err);
    } else if (strcmp(sub, "rotate") == 0 || strcmp(sub, "revoke") == 0) {
        int revoke = sub[2] == 'v';
        rc = parse(argc, argv, 3, O_KEYRING | O_TOPIC | O_OUT | O_GRACE, &a);
        if (rc == 0) {
            rc = require(a.topic, "--topic FILTER");
        }
        if (rc == 0) {
            rc = require(a.out, "--out DIR");
        }
        if (rc == 0 && revoke && a.npos != 1) {
            rc = usage_error("revoke needs exactly one member NAME");
        }
        if (rc == 0 && !revoke && a.npos > 0) {
            rc = usage_error("unexpected argument '%s'", a.pos[0]);
        }
        if (rc == 0 && parse_grace(a.grace, revoke ? 0 : SECMQ_GRACE_DEFAULT_MS,
                                   &grace) != 0) {
            rc = usage_error("--grace takes whole seconds, not '%s'", a.grace);
        }
        if (rc != 0) {
            return rc;
        }
        if (revoke) {
            rc = secmq_channel_revoke(a.keyring, a.topic, a.pos[0], grace,
                                      a.out, print_note, NULL, err, sizeof err);
        } else {
            rc = secmq_channel_rotate(a.keyring, a.topic, grace, a.out,
                                      print_note, NULL, err, sizeof err);
        }
    } else {
        return usage_error("unknown channel command '%s'", sub);
    }
    if (rc != SECMQ_OK) {
        return fail(rc, err);
    }
    return 0;
}

static int cmd_identity(int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : NULL;
    uint64_t grace = 0;
    char err[512];
    struct args a;
    int rc;

    if (sub == NULL || strcmp(sub, "rotate") != 0) {
        return usage_error(sub == NULL ? "identity needs a command (rotate)"
                                       : "unknown identity command '%s'",
                           sub);
    }
    rc = parse(argc, argv, 3, O_KEYRING | O_OUT | O_GRACE, &a);
    if (rc == 0) {
        rc = require(a.out, "--out DIR");
    }
    if (rc == 0 && a.npos > 0) {
        rc = usage_error("unexpected argument '%s'", a.pos[0]);
    }
    if (rc == 0 && parse_grace(a.grace, SECMQ_GRACE_DEFAULT_MS, &grace) != 0) {
        rc = usage_error("--grace takes whole seconds, not '%s'", a.grace);
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq_identity_rotate(a.keyring, a.out, grace, print_note, NULL, err,
                               sizeof err);
    if (rc != SECMQ_OK) {
        return fail(rc, err);
    }
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    char err[512];
    secmq_keyring *kr = NULL;
    struct args a;
    int rc = parse(argc, argv, 2, O_KEYRING, &a);

    if (rc == 0 && a.npos > 0) {
        rc = usage_error("unexpected argument '%s'", a.pos[0]);
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq_keyring_open(&kr, a.keyring, err, sizeof err);
    if (rc != SECMQ_OK) {
        return fail(rc, err);
    }
    keys_list(kr);
    secmq_keyring_free(kr);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd;

    cli_msg_init("secmq-keys");
    if (argc < 2) {
        return usage_error("no command given");
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(keys_usage_text, stdout);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(keys_usage_text, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }
    if (strcmp(cmd, "--version") == 0) {
        cli_print_version();
        return 0;
    }
    if (strcmp(cmd, "init") == 0) {
        return cmd_init(argc, argv);
    }
    if (strcmp(cmd, "export") == 0) {
        return cmd_export(argc, argv);
    }
    if (strcmp(cmd, "import") == 0) {
        return cmd_import(argc, argv);
    }
    if (strcmp(cmd, "channel") == 0) {
        return cmd_channel(argc, argv);
    }
    if (strcmp(cmd, "list") == 0) {
        return cmd_list(argc, argv);
    }
    if (strcmp(cmd, "identity") == 0) {
        return cmd_identity(argc, argv);
    }
    return usage_error("unknown command '%s'", cmd);
}
