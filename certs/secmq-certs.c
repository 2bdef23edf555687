/* secmq-certs.c -- command line of the development PKI generator: parses the
 * ca, server, client, dev and pin commands and hands the work to certgen.c.
 * No cryptography and no file formats here; every failure ends as one line
 * "secmq-certs: reason" on stderr and a non-zero exit status.
 */
#define _POSIX_C_SOURCE 200809L

#include "certgen.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define PROG "secmq-certs"
#define CA_DAYS_DEFAULT 3650
#define LEAF_DAYS_DEFAULT 825
#define CA_CN_DEFAULT "secmq development CA"

/* Exit statuses: 0 success, 1 the operation failed, 2 bad command line. */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* parse_options' return when it printed the help and nothing is left to do. */
#define PARSED_HELP (-1)

/* Options, as bits so each command can list the ones it accepts. */
enum {
    OPT_DIR = 1u << 0,
    OPT_CN = 1u << 1,
    OPT_NAME = 1u << 2,
    OPT_DNS = 1u << 3,
    OPT_IP = 1u << 4,
    OPT_DAYS = 1u << 5,
    OPT_EXPIRED = 1u << 6,
    OPT_FORCE = 1u << 7
};

static const struct option_def {
    const char *name;
    unsigned bit;
    int has_value;
} option_defs[] = {
    {"dir", OPT_DIR, 1},         {"cn", OPT_CN, 1},       {"name", OPT_NAME, 1},
    {"dns", OPT_DNS, 1},         {"ip", OPT_IP, 1},       {"days", OPT_DAYS, 1},
    {"expired", OPT_EXPIRED, 0}, {"force", OPT_FORCE, 0},
};

/* What the command line said. Strings point into argv, except dir. */
typedef struct cli {
    unsigned seen;
    const char *dir; /* points to dir_buf */
    char dir_buf[PATH_MAX];
    const char *cn;
    const char *name;
    const char *dns[CERTGEN_SAN_MAX];
    size_t n_dns;
    const char *ips[CERTGEN_SAN_MAX];
    size_t n_ips;
    int days;
} cli;

static const char usage_text[] =
    "usage: " PROG " COMMAND [OPTIONS]\n"
    "\n"
    "Generate a development PKI for secmq: EC P-256 keys, ECDSA-SHA256\n"
    "certificates. Keys are unencrypted PEM (\"EC PRIVATE KEY\", mode 0600),\n"
    "certificates PEM (mode 0644). Existing files are never replaced unless\n"
    "--force is given. For development and tests, not for production.\n"
    "\n"
    "Commands:\n"
    "  ca     --dir DIR [--cn NAME] [--days N] [--force]\n"
    "         Self-signed CA: DIR/ca.crt, DIR/ca.key.\n"
    "         Default CN \"" CA_CN_DEFAULT "\", 3650 days.\n"
    "  server --dir DIR --name NAME [--dns HOST]... [--ip ADDR]...\n"
    "         [--days N] [--expired] [--force]\n"
    "         Server certificate DIR/NAME.crt, DIR/NAME.key signed by the CA\n"
    "         in DIR; CN NAME, extendedKeyUsage serverAuth. subjectAltName:\n"
    "         the --dns names and --ip addresses (IPv4 or IPv6), or if none\n"
    "         are given DNS:localhost, IP:127.0.0.1, IP:::1. Default 825 "
    "days.\n"
    "  client --dir DIR --name NAME [--days N] [--expired] [--force]\n"
    "         Client certificate DIR/NAME.crt, DIR/NAME.key signed by the CA\n"
    "         in DIR; CN NAME, extendedKeyUsage clientAuth. Default 825 "
    "days.\n"
    "  dev    --dir DIR [--force]\n"
    "         A CA, server \"broker\" (default subjectAltNames) and clients\n"
    "         \"sam\" and \"alice\", all in DIR.\n"
    "  pin    FILE.crt\n"
    "         Print sha256:BASE64, the SHA-256 of the certificate's DER\n"
    "         SubjectPublicKeyInfo in standard padded base64.\n"
    "\n"
    "Options:\n"
    "  --dir DIR     output directory; ca and dev create it (mode 0700)\n"
    "  --cn NAME     subject CN of the CA (UTF-8, at most 63 bytes)\n"
    "  --name NAME   file stem and CN: A-Z a-z 0-9 . - _ @ +, at most 63,\n"
    "                not starting with '.', not \"ca\"\n"
    "  --dns HOST    add a DNS subjectAltName (repeatable, \"*.\" allowed)\n"
    "  --ip ADDR     add an IP subjectAltName (repeatable)\n"
    "  --days N      validity in days from now (1..36500); notBefore is set\n"
    "                an hour in the past to tolerate clock skew\n"
    "  --expired     notBefore now-2 days, notAfter now-1 day (for tests)\n"
    "  --force       replace existing key and certificate files\n"
    "  -h, --help    show this help\n"
    "  --version     show the versions of " PROG " and its libraries\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad command line.\n";

static int fail(int status, const char *reason)
{
    fprintf(stderr, PROG ": %s\n", reason);
    return status;
}

/* Parses a positive day count. Returns 0 and sets *days, or -1. */
static int parse_days(const char *text, int *days)
{
    char *end = NULL;
    long v;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 1 ||
        v > CERTGEN_DAYS_MAX)
        return -1;
    *days = (int)v;
    return 0;
}

/* Copies a directory path without its trailing slashes ("/" stays), so
 * messages show "dir/ca.crt", not "dir//ca.crt". Returns 0, or -1 if value
 * is empty or too long. */
static int dir_copy(char *out, size_t out_size, const char *value)
{
    size_t len = strlen(value);

    if (len == 0 || len >= out_size)
        return -1;
    while (len > 1 && value[len - 1] == '/')
        len--;
    memcpy(out, value, len);
    out[len] = '\0';
    return 0;
}

static const struct option_def *option_find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(option_defs) / sizeof(option_defs[0]); i++) {
        if (strlen(option_defs[i].name) == len &&
            strncmp(option_defs[i].name, name, len) == 0)
            return &option_defs[i];
    }
    return NULL;
}

/* Parses argv[first..argc) as options of command cmd, accepting those in
 * allowed. Returns 0, PARSED_HELP when --help was asked for (usage already
 * printed), or EXIT_USAGE after printing the reason. */
static int parse_options(const char *cmd, int first, int argc, char **argv,
                         unsigned allowed, cli *c)
{
    char reason[CERTGEN_ERR_BYTES];
    int i;

    for (i = first; i < argc; i++) {
        const char *arg = argv[i], *name, *eq;
        const char *value = ""; /* stays empty for flags */
        const struct option_def *def;
        size_t name_len;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return PARSED_HELP;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            (void)snprintf(reason, sizeof(reason),
                           "unexpected argument '%s' (see --help)", arg);
            return fail(EXIT_USAGE, reason);
        }
        name = arg + 2;
        eq = strchr(name, '=');
        name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        def = option_find(name, name_len);
        if (def == NULL) {
            (void)snprintf(reason, sizeof(reason),
                           "unknown option '%s' (see --help)", arg);
            return fail(EXIT_USAGE, reason);
        }
        if (!(allowed & def->bit)) {
            (void)snprintf(reason, sizeof(reason),
                           "option --%s does not apply to '%s'", def->name,
                           cmd);
            return fail(EXIT_USAGE, reason);
        }
        if (def->has_value) {
            if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                (void)snprintf(reason, sizeof(reason),
                               "option --%s needs a value", def->name);
                return fail(EXIT_USAGE, reason);
            }
        } else if (eq != NULL) {
            (void)snprintf(reason, sizeof(reason), "option --%s takes no value",
                           def->name);
            return fail(EXIT_USAGE, reason);
        }
        if ((c->seen & def->bit) && def->bit != OPT_DNS && def->bit != OPT_IP) {
            (void)snprintf(reason, sizeof(reason), "option --%s given twice",
                           def->name);
            return fail(EXIT_USAGE, reason);
        }
        c->seen |= def->bit;

        switch (def->bit) {
        case OPT_DIR:
            if (dir_copy(c->dir_buf, sizeof(c->dir_buf), value) != 0)
                return fail(EXIT_USAGE, "--dir wants a directory path");
            c->dir = c->dir_buf;
            break;
        case OPT_CN:
            c->cn = value;
            break;
        case OPT_NAME:
            c->name = value;
            break;
        case OPT_DNS:
        case OPT_IP:
            if (c->n_dns + c->n_ips >= CERTGEN_SAN_MAX) {
                (void)snprintf(reason, sizeof(reason),
                               "more than %d --dns/--ip entries",
                               CERTGEN_SAN_MAX);
                return fail(EXIT_USAGE, reason);
            }
            if (def->bit == OPT_DNS)
                c->dns[c->n_dns++] = value;
            else
                c->ips[c->n_ips++] = value;
            break;
        case OPT_DAYS:
            if (parse_days(value, &c->days) != 0) {
                (void)snprintf(reason, sizeof(reason),
                               "--days wants a whole number 1..%d, not '%s'",
                               CERTGEN_DAYS_MAX, value);
                return fail(EXIT_USAGE, reason);
            }
            break;
        default:
            break; /* flags: recorded in seen */
        }
    }

    if ((allowed & OPT_DIR) && c->dir == NULL)
        return fail(EXIT_USAGE, "--dir DIR is required");
    if ((allowed & OPT_NAME) && c->name == NULL)
        return fail(EXIT_USAGE, "--name NAME is required");
    if ((c->seen & OPT_EXPIRED) && (c->seen & OPT_DAYS))
        return fail(EXIT_USAGE, "--expired and --days exclude each other");
    return 0;
}

/* Reports a certgen failure and maps it to an exit status. */
static int report(int rc, const char *reason)
{
    return fail(rc == CERTGEN_E_INVAL ? EXIT_USAGE : EXIT_FAIL, reason);
}

static void print_written(const char *dir, const char *stem)
{
    printf("wrote %s/%s.crt and %s/%s.key\n", dir, stem, dir, stem);
}

static int cmd_ca(const cli *c)
{
    char err[CERTGEN_ERR_BYTES];
    unsigned flags = (c->seen & OPT_FORCE) ? CERTGEN_FORCE : 0u;
    int rc;

    rc = certgen_dir_prepare(c->dir, err, sizeof(err));
    if (rc != CERTGEN_OK)
        return report(rc, err);
    rc = certgen_ca_create(c->dir, c->cn != NULL ? c->cn : CA_CN_DEFAULT,
                           (c->seen & OPT_DAYS) ? c->days : CA_DAYS_DEFAULT,
                           flags, err, sizeof(err));
    if (rc != CERTGEN_OK)
        return report(rc, err);
    print_written(c->dir, "ca");
    return 0;
}

static int cmd_leaf(const cli *c, certgen_role role)
{
    char err[CERTGEN_ERR_BYTES];
    unsigned flags = (c->seen & OPT_FORCE) ? CERTGEN_FORCE : 0u;
    certgen_leaf leaf;
    int rc;

    memset(&leaf, 0, sizeof(leaf));
    leaf.name = c->name;
    leaf.role = role;
    leaf.dns = c->dns;
    leaf.n_dns = c->n_dns;
    leaf.ips = c->ips;
    leaf.n_ips = c->n_ips;
    leaf.days = (c->seen & OPT_DAYS) ? c->days : LEAF_DAYS_DEFAULT;
    leaf.expired = (c->seen & OPT_EXPIRED) != 0;
    rc = certgen_leaf_create(c->dir, &leaf, flags, err, sizeof(err));
    if (rc != CERTGEN_OK)
        return report(rc, err);
    print_written(c->dir, c->name);
    return 0;
}

static int cmd_dev(const cli *c)
{
    static const char *const stems[] = {"ca", "broker", "sam", "alice"};
    char err[CERTGEN_ERR_BYTES];
    unsigned flags = (c->seen & OPT_FORCE) ? CERTGEN_FORCE : 0u;
    certgen_leaf leaf;
    size_t i;
    int rc;

    rc = certgen_dir_prepare(c->dir, err, sizeof(err));
    if (rc != CERTGEN_OK)
        return report(rc, err);
    /* Refuse before writing anything rather than stop half-way. */
    for (i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) {
        rc = certgen_check_free(c->dir, stems[i], flags, err, sizeof(err));
        if (rc != CERTGEN_OK)
            return report(rc, err);
    }
    rc = certgen_ca_create(c->dir, CA_CN_DEFAULT, CA_DAYS_DEFAULT, flags, err,
                           sizeof(err));
    if (rc != CERTGEN_OK)
        return report(rc, err);
    print_written(c->dir, "ca");
    for (i = 1; i < sizeof(stems) / sizeof(stems[0]); i++) {
        memset(&leaf, 0, sizeof(leaf));
        leaf.name = stems[i];
        leaf.role = i == 1 ? CERTGEN_ROLE_SERVER : CERTGEN_ROLE_CLIENT;
        leaf.days = LEAF_DAYS_DEFAULT;
        rc = certgen_leaf_create(c->dir, &leaf, flags, err, sizeof(err));
        if (rc != CERTGEN_OK)
            return report(rc, err);
        print_written(c->dir, stems[i]);
    }
    return 0;
}

static int cmd_pin(int argc, char **argv)
{
    char err[CERTGEN_ERR_BYTES];
    char pin[CERTGEN_PIN_BYTES];
    const char *path = NULL;
    int i, options_done = 0, rc;

    for (i = 2; i < argc; i++) {
        const char *arg = argv[i];

        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                fputs(usage_text, stdout);
                return 0;
            }
            if (strcmp(arg, "--") == 0) {
                options_done = 1;
                continue;
            }
            return fail(EXIT_USAGE, "pin takes no options (see --help)");
        }
        if (path != NULL)
            return fail(EXIT_USAGE, "usage: " PROG " pin FILE.crt");
        path = arg;
    }
    if (path == NULL)
        return fail(EXIT_USAGE, "usage: " PROG " pin FILE.crt");
    rc = certgen_pin(path, pin, sizeof(pin), err, sizeof(err));
    if (rc != CERTGEN_OK)
        return report(rc, err);
    printf("%s\n", pin);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct command {
        const char *name;
        unsigned allowed;
    } commands[] = {
        {"ca", OPT_DIR | OPT_CN | OPT_DAYS | OPT_FORCE},
        {"server", OPT_DIR | OPT_NAME | OPT_DNS | OPT_IP | OPT_DAYS |
                       OPT_EXPIRED | OPT_FORCE},
        {"client", OPT_DIR | OPT_NAME | OPT_DAYS | OPT_EXPIRED | OPT_FORCE},
        {"dev", OPT_DIR | OPT_FORCE},
    };
    char reason[CERTGEN_ERR_BYTES];
    const char *cmd;
    cli c;
    size_t i;
    int rc;

    if (argc < 2)
        return fail(EXIT_USAGE, "missing command (see --help)");
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf(PROG " %s (wolfSSL %s, libsodium %s)\n", SECMQ_CERTS_VERSION,
               wolfSSL_lib_version(), sodium_version_string());
        return 0;
    }
    if (strcmp(cmd, "pin") == 0)
        return cmd_pin(argc, argv);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) == 0)
            break;
    }
    if (i == sizeof(commands) / sizeof(commands[0])) {
        (void)snprintf(reason, sizeof(reason),
                       "unknown command '%s' (see --help)", cmd);
        return fail(EXIT_USAGE, reason);
    }
    memset(&c, 0, sizeof(c));
    rc = parse_options(cmd, 2, argc, argv, commands[i].allowed, &c);
    if (rc == PARSED_HELP)
        return 0;
    if (rc != 0)
        return rc;
    if (strcmp(cmd, "ca") == 0)
        return cmd_ca(&c);
    if (strcmp(cmd, "server") == 0)
        return cmd_leaf(&c, CERTGEN_ROLE_SERVER);
    if (strcmp(cmd, "client") == 0)
        return cmd_leaf(&c, CERTGEN_ROLE_CLIENT);
    return cmd_dev(&c);
}

int main(int argc, char **argv)
{
    char err[CERTGEN_ERR_BYTES];
    int status;

    if (certgen_init(err, sizeof(err)) != CERTGEN_OK)
        return fail(EXIT_FAIL, err);
    status = run(argc, argv);
    certgen_cleanup();
    if (fflush(stdout) != 0 && status == 0)
        status = fail(EXIT_FAIL, "cannot write to standard output");
    return status;
}
