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
#include "secmq.h"

#define EXIT_USAGE 2
#define MAX_ARGS 1024

static const char usage_text[] =
    "Usage: secmq-keys COMMAND [OPTIONS]\n"
    "\n"
    "Manage a secmq keyring directory: this device's identity, the peers it\n"
    "trusts, and the channels (topic filter + key) it holds or owns.\n"
    "\n"
    "Commands:\n"
    "  init --keyring DIR --name NAME\n"
    "      Create a new identity NAME (1..64 of A-Z a-z 0-9 . _ @ -) in DIR\n"
    "      (created 0700; DIR/identity is 0600). Never overwrites one.\n"
    "  export --keyring DIR\n"
    "      Print the public identity (name and Ed25519 key) to stdout; give\n"
    "      it to peers and channel owners.\n"
    "  import --keyring DIR FILE...\n"
    "      Import public identities (trusted peers) and grants, in any order:\n"
    "      peers are taken first. A grant is accepted only if it is addressed\n"
    "      to this identity, signed by a trusted owner, intact, keeps the\n"
    "      rules of PROTOCOL.md 5.1 (e.g. it may say 'may publish' only if it\n"
    "      lists the member as a publisher) and is newer (higher epoch) than\n"
    "      the key held for that channel. All or nothing; a refusal names\n"
    "      the file and the reason.\n"
    "  channel create --keyring DIR --topic FILTER --publisher FILE...\n"
    "                 [--subscriber FILE...] --out OUTDIR [--allow-mac]\n"
    "                 [--receipts [--receipt-topic T] [--receipts-from "
    "NAME...]\n"
    "                 [--receipt-count N]]\n"
    "      Create a channel owned by this identity for the MQTT topic filter\n"
    "      FILTER. FILE is a public identity (from `export`); list your own\n"
    "      to be a member yourself. Writes OUTDIR/<member>.grant for every\n"
    "      member; send each to its member, who imports it. --allow-mac lets\n"
    "      members use mac-only envelopes (proves membership, not sender).\n"
    "      --receipts: members send signed receipts for what they opened\n"
    "      (PROTOCOL.md 9) on --receipt-topic T (default\n"
    "      secmq/receipts/<channel id>); receipts count from the members\n"
    "      named by --receipts-from NAME... (default: every subscriber, or\n"
    "      every member when all publish), from all of them, or from any N\n"
    "      with --receipt-count N. The broker must let those members write\n"
    "      the receipt topic and the publishers read it. Members need a\n"
    "      secmq version that knows receipts to import these grants.\n"
    "  channel create --keyring DIR --files TOPIC --publisher FILE...\n"
    "                 --subscriber FILE... --out OUTDIR\n"
    "      The two channels of a file transfer on TOPIC (secmq-file, see\n"
    "      PROTOCOL.md 8.1) in one step: TOPIC/# with the senders\n"
    "      (--publisher) as publishers and the receivers (--subscriber) as\n"
    "      subscribers, grants in OUTDIR/files/; and TOPIC/r/# for the\n"
    "      receivers' answers, publishers the receivers, subscribers the\n"
    "      senders, grants in OUTDIR/requests/. Each member imports both of\n"
    "      its grants.\n"
    "  channel rotate --keyring DIR --topic FILTER --out OUTDIR\n"
    "                 [--grace SECONDS]\n"
    "      Give an owned channel a new key (epoch + 1) and write new grants\n"
    "      for all members. The old key is still accepted for SECONDS\n"
    "      (default 3600).\n"
    "  channel revoke --keyring DIR --topic FILTER NAME --out OUTDIR\n"
    "                 [--grace SECONDS]\n"
    "      Remove member NAME and rotate without it; NAME gets no grant.\n"
    "      The old key stops at once unless --grace is given (default 0).\n"
    "      The last publisher of a channel with subscribers is not revoked.\n"
    "  list --keyring DIR\n"
    "      Show the identity, the peers with their ids, and every channel:\n"
    "      filter, owner, key id, epoch, publishers, whether this identity\n"
    "      may publish, the previous key and its grace deadline, and the\n"
    "      receipt topic, receipters and count of a channel with receipts.\n"
    "\n"
    "Options may also be written --option=VALUE. --publisher and\n"
    "--subscriber take one or more files each and may be repeated.\n"
    "  -h, --help   show this help\n"
    "  --version    show the version\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (the reason on stderr, naming\n"
    "the file), 2 usage error.\n";

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
    O_RECEIPT_COUNT = 4096u
};

static const char synopsis[] =
    "usage: secmq-keys init --keyring DIR --name NAME\n"
    "       secmq-keys export --keyring DIR\n"
    "       secmq-keys import --keyring DIR FILE...\n"
    "       secmq-keys channel create --keyring DIR --topic FILTER "
    "--publisher FILE... [--subscriber FILE...] --out DIR [--allow-mac] "
    "[--receipts [--receipt-topic T] [--receipts-from NAME...] "
    "[--receipt-count N]]\n"
    "       secmq-keys channel create --keyring DIR --files TOPIC "
    "--publisher FILE... --subscriber FILE... --out DIR\n"
    "       secmq-keys channel rotate --keyring DIR --topic FILTER --out DIR "
    "[--grace SECONDS]\n"
    "       secmq-keys channel revoke --keyring DIR --topic FILTER NAME "
    "--out DIR [--grace SECONDS]\n"
    "       secmq-keys list --keyring DIR\n";

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
    fputs(synopsis, stderr);
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
static int create_files(const struct args *a, char *err, size_t errlen)
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
        rc = secmq_channel_create(a->keyring, &spec, out[i], print_note, NULL,
                                  err, errlen);
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

static int cmd_channel(int argc, char **argv)
{
    secmq_channel_receipts rcpt;
    int use_rcpt = 0;
    const char *sub = argc > 2 ? argv[2] : NULL;
    secmq_channel_spec spec;
    char err[512];
    struct args a;
    uint64_t grace = 0;
    int rc;

    if (sub == NULL) {
        return usage_error("channel needs create, rotate or revoke");
    }
    if (strcmp(sub, "create") == 0) {
        rc = parse(argc, argv, 3,
                   O_KEYRING | O_TOPIC | O_OUT | O_ALLOW_MAC | O_PUBLISHER |
                       O_SUBSCRIBER | O_FILES | O_RECEIPTS | O_RECEIPT_TOPIC |
                       O_RECEIPTS_FROM | O_RECEIPT_COUNT,
                   &a);
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
            rc = create_files(&a, err, sizeof err);
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
        memset(&spec, 0, sizeof spec);
        spec.filter = a.topic;
        spec.publishers = a.pubs;
        spec.n_publishers = a.npubs;
        spec.subscribers = a.subs;
        spec.n_subscribers = a.nsubs;
        spec.allow_mac = a.allow_mac;
        rc = secmq_channel_create_v2(a.keyring, &spec, use_rcpt ? &rcpt : NULL,
                                     a.out, print_note, NULL, err, sizeof err);
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

static const char *hex8(char out[17], const unsigned char *b)
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 8; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[16] = 0;
    return out;
}

static const char *utc(char out[32], uint64_t ms)
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, 32, "%" PRIu64 " ms", ms);
    }
    return out;
}

static void list_receipts(const secmq_channel_receipt_info *r)
{
    if (!r->on) {
        printf("    receipts: off\n");
        return;
    }
    printf("    receipts: on  topic %s  needed from %s", r->topic,
           r->need == 0 ? "every one of" : "any");
    if (r->need != 0) {
        printf(" %u of", r->need);
    }
    for (size_t i = 0; i < r->n_receipters; i++) {
        printf(" %s", r->receipters[i]);
    }
    printf("\n");
}

static void list_channel(const secmq_channel_info *c, uint64_t now)
{
    char h[17], t[32];

    printf("  %s\n", c->filter);
    printf("    owner: %s%s\n", c->owner, c->owned ? " (this keyring)" : "");
    printf("    key: %s  epoch %" PRIu32 "  created %s\n", hex8(h, c->key_id),
           c->epoch, utc(t, c->created_ms));
    printf("    publishers:");
    for (size_t i = 0; i < c->n_publishers; i++) {
        printf(" %s", c->publishers[i]);
    }
    printf("\n");
    if (c->owned) {
        printf("    members:");
        for (size_t i = 0; i < c->n_members; i++) {
            printf(" %s%s", c->members[i],
                   c->member_publishes[i] ? "(pub)" : "(sub)");
        }
        printf("\n");
    }
    printf("    this identity: %s\n", !c->member ? "not a member (owner only)"
                                      : c->may_publish
                                          ? "may publish and subscribe"
                                          : "may subscribe only");
    printf("    mac-only: %s\n", c->allow_mac ? "allowed" : "refused");
    if (!c->has_prev) {
        printf("    previous key: none\n");
    } else if (c->prev_deadline_ms == 0) {
        printf("    previous key: %s  refused (no grace period)\n",
               hex8(h, c->prev_key_id));
    } else {
        printf("    previous key: %s  %s %s%s\n", hex8(h, c->prev_key_id),
               now >= c->prev_deadline_ms ? "expired at" : "accepted until",
               utc(t, c->prev_deadline_ms), c->prev_held ? "" : " (not held)");
    }
}

static int cmd_list(int argc, char **argv)
{
    char err[512], h[17];
    unsigned char id[SECMQ_ID_BYTES];
    secmq_keyring *kr = NULL;
    secmq_peer_info p;
    secmq_channel_receipt_info rc_info;
    secmq_channel_info c;
    struct args a;
    size_t n;
    struct timespec ts;
    uint64_t now;
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
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    secmq_keyring_id(kr, id);
    printf("identity: %s  id %s\n", secmq_keyring_name(kr), hex8(h, id));
    n = secmq_keyring_peer_count(kr);
    printf("peers: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (secmq_keyring_peer(kr, i, &p) == SECMQ_OK) {
            printf("  %s  id %s\n", p.name, hex8(h, p.id));
        }
    }
    n = secmq_keyring_channel_count(kr);
    printf("channels: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (secmq_keyring_channel(kr, i, &c) == SECMQ_OK) {
            list_channel(&c, now);
        }
        if (secmq_keyring_channel_receipts(kr, i, &rc_info) == SECMQ_OK) {
            list_receipts(&rc_info);
        }
    }
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
        fputs(usage_text, stdout);
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
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
    return usage_error("unknown command '%s'", cmd);
}
