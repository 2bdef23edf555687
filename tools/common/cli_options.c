/*
 * cli_options.c -- command line and config file of the secmq tools.
 *
 * Connection options come first from the config file, then from argv; both
 * go through one option table. Cross-option checks run once at the end.
 * This file knows option syntax; what a tool does with its options is not
 * its business, nor is the network.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli_config.h"
#include "cli_dropin.h"
#include "cli_msg.h"
#include "cli_options.h"

enum { SRC_NONE = 0, SRC_CONFIG = 1, SRC_ARGV = 2 };

enum common_id {
    C_HOST = CLI_OPT_COMMON_BASE,
    C_PORT,
    C_NO_TLS,
    C_CAFILE,
    C_CAPATH,
    C_CERT,
    C_KEY,
    C_CIPHERS,
    C_TLS_VERSION,
    C_INSECURE,
    C_PIN,
    C_USERNAME,
    C_PASSWORD,
    C_PW_FILE,
    C_ID,
    C_ID_PREFIX,
    C_KEEPALIVE,
    C_PERSIST,
    C_PROTOCOL,
    C_WILL_TOPIC,
    C_WILL_PAYLOAD,
    C_WILL_QOS,
    C_WILL_RETAIN,
    C_DEBUG,
    C_QUIET,
    C_KEYRING,
    C_SESSION_EXPIRY,
    /* Command line only: */
    C_CONFIG,
    C_NO_CONFIG,
    C_HELP,
    C_URL,
    C_VERSION
};

static const struct cli_opt common_opts[] = {
    {"-h", "--host", 1, C_HOST},
    {"-p", "--port", 1, C_PORT},
    {NULL, "--no-tls", 0, C_NO_TLS},
    {NULL, "--cafile", 1, C_CAFILE},
    {NULL, "--capath", 1, C_CAPATH},
    {NULL, "--cert", 1, C_CERT},
    {NULL, "--key", 1, C_KEY},
    {NULL, "--ciphers", 1, C_CIPHERS},
    {NULL, "--tls-version", 1, C_TLS_VERSION},
    {NULL, "--insecure", 0, C_INSECURE},
    {NULL, "--pin", 1, C_PIN},
    {NULL, "--keyring", 1, C_KEYRING},
    {"-u", "--username", 1, C_USERNAME},
    {"-P", "--pw", 1, C_PASSWORD},
    {NULL, "--pw-file", 1, C_PW_FILE},
    {"-i", "--id", 1, C_ID},
    {"-I", "--id-prefix", 1, C_ID_PREFIX},
    {"-k", "--keepalive", 1, C_KEEPALIVE},
    {"-c", "--disable-clean-session", 0, C_PERSIST},
    {"-V", "--protocol-version", 1, C_PROTOCOL},
    {NULL, "--will-topic", 1, C_WILL_TOPIC},
    {NULL, "--will-payload", 1, C_WILL_PAYLOAD},
    {NULL, "--will-qos", 1, C_WILL_QOS},
    {NULL, "--will-retain", 0, C_WILL_RETAIN},
    {"-d", "--debug", 0, C_DEBUG},
    {NULL, "--quiet", 0, C_QUIET},
    {NULL, "--config", 1, C_CONFIG},
    {NULL, "--no-config", 0, C_NO_CONFIG},
    {NULL, "--help", 0, C_HELP},
    {"-L", "--url", 1, C_URL},
    {NULL, "--version", 0, C_VERSION},
    {"-x", "--session-expiry-interval", 1, C_SESSION_EXPIRY},
    {NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------------ */
/* Small parsers                                                            */
/* ------------------------------------------------------------------------ */

int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || s[0] == '\0') {
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *s, double max, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || s[0] == '\0') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0.0 ||
        v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static const struct cli_opt *find_opt(const struct cli_opt *table,
                                      const char *name)
{
    for (const struct cli_opt *o = table; o->id != 0; o++) {
        if ((o->shortname != NULL && strcmp(o->shortname, name) == 0) ||
            (o->longname != NULL && strcmp(o->longname, name) == 0)) {
            return o;
        }
    }
    return NULL;
}

static int set_str(char **field, const char *value, char *err, size_t errlen)
{
    char *copy = strdup(value);

    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

/* SECURITY: the password only ever lives in guarded memory that
 * sodium_free() wipes; value itself is wiped by the caller. */
static int set_password(struct cli_conn *o, const char *value, size_t len,
                        char *err, size_t errlen)
{
    char *p = sodium_malloc(len + 1);

    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(p, value, len);
    p[len] = '\0';
    cli_conn_forget_password(o);
    o->password = p;
    return 0;
}

/* --pw-file: the first line of the file is the password. */
static int load_password_file(struct cli_conn *o, const char *path, char *err,
                              size_t errlen)
{
    char *pw;
    size_t len;
    int rc;

    if (cli_config_read_password(path, &pw, &len, err, errlen) != 0) {
        return -1;
    }
    rc = set_password(o, pw, len, err, errlen);
    sodium_free(pw); /* wipes */
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Applying one connection option                                           */
/* ------------------------------------------------------------------------ */

static int set_client_id(struct cli_conn *o, int prefix, const char *value,
                         int src, char *err, size_t errlen)
{
    char **field = prefix ? &o->id_prefix : &o->client_id;
    char **other = prefix ? &o->client_id : &o->id_prefix;
    int *mysrc = prefix ? &o->src_prefix : &o->src_id;
    int *othersrc = prefix ? &o->src_id : &o->src_prefix;

    if (value[0] == '\0') {
        snprintf(err, errlen, "%s needs a non-empty value",
                 prefix ? "-I" : "-i");
        return -1;
    }
    if (*othersrc == src) {
        snprintf(err, errlen, "-i and -I cannot be used together");
        return -1;
    }
    /* The other one came from the config file: this one overrides it. */
    free(*other);
    *other = NULL;
    *othersrc = SRC_NONE;
    *mysrc = src;
    return set_str(field, value, err, errlen);
}

int cli_parse_qos(const char *name, const char *arg, int *out, char *err,
                  size_t errlen)
{
    long v;

    if (cli_parse_long(arg, 0, 2, &v) != 0) {
        snprintf(err, errlen, "%s: QoS must be 0, 1 or 2, not '%s'", name, arg);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_count(const char *name, const char *arg, long *out, char *err,
                    size_t errlen)
{
    if (cli_parse_long(arg, 1, INT_MAX, out) != 0) {
        snprintf(err, errlen, "%s: needs a count of 1 or more, not '%s'", name,
                 arg);
        return -1;
    }
    return 0;
}

static int parse_protocol(const char *arg, int *out, char *err, size_t errlen)
{
    if (strcmp(arg, "mqttv311") == 0 || strcmp(arg, "311") == 0) {
        *out = SECMQ_MQTT_311;
        return 0;
    }
    if (strcmp(arg, "mqttv5") == 0 || strcmp(arg, "5") == 0) {
        *out = SECMQ_MQTT_5;
        return 0;
    }
    if (strcmp(arg, "mqttv31") == 0 || strcmp(arg, "31") == 0) {
        snprintf(err, errlen,
                 "-V %s: not supported: MQTT 3.1 predates the standard; "
                 "libsecmq speaks MQTT 3.1.1 and 5, which every current "
                 "broker accepts (use mqttv311 or mqttv5)",
                 arg);
        return -1;
    }
    snprintf(err, errlen,
             "-V: unknown protocol version '%s' (use mqttv311 or mqttv5)", arg);
    return -1;
}

static int parse_tls_version(const char *arg, int *out, char *err,
                             size_t errlen)
{
    if (strcmp(arg, "tlsv1.2") == 0) {
        *out = SECMQ_TLS_1_2;
        return 0;
    }
    if (strcmp(arg, "tlsv1.3") == 0) {
        *out = SECMQ_TLS_1_3;
        return 0;
    }
    if (strcmp(arg, "tlsv1.1") == 0 || strcmp(arg, "tlsv1") == 0 ||
        strcmp(arg, "tlsv1.0") == 0) {
        snprintf(err, errlen,
                 "--tls-version: %s is not supported; the minimum can be "
                 "tlsv1.2 or tlsv1.3",
                 arg);
        return -1;
    }
    snprintf(err, errlen,
             "--tls-version: unknown version '%s' (use tlsv1.2 or tlsv1.3)",
             arg);
    return -1;
}

/* Apply one connection option; arg is NULL for flags. 0, or -1 + err. */
static int apply_common(struct cli_conn *o, int id, const char *name,
                        const char *arg, int src, char *err, size_t errlen)
{
    long v;

    switch (id) {
    case C_HOST:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "%s needs a host name", name);
            return -1;
        }
        return set_str(&o->host, arg, err, errlen);
    case C_PORT:
        if (cli_parse_long(arg, 1, 65535, &v) != 0) {
            snprintf(err, errlen, "%s: port must be 1..65535, not '%s'", name,
                     arg);
            return -1;
        }
        o->port = (int)v;
        return 0;
    case C_NO_TLS:
        o->plain = 1;
        o->src_plain = src;
        return 0;
    case C_CAFILE:
        o->src_tls = src;
        return set_str(&o->cafile, arg, err, errlen);
    case C_CAPATH:
        o->src_tls = src;
        return set_str(&o->capath, arg, err, errlen);
    case C_CERT:
        o->src_tls = src;
        return set_str(&o->certfile, arg, err, errlen);
    case C_KEY:
        o->src_tls = src;
        return set_str(&o->keyfile, arg, err, errlen);
    case C_KEYRING:
        return set_str(&o->keyring, arg, err, errlen);
    case C_CIPHERS:
        o->src_tls = src;
        return set_str(&o->ciphers, arg, err, errlen);
    case C_TLS_VERSION:
        o->src_tls = src;
        return parse_tls_version(arg, &o->min_tls, err, errlen);
    case C_INSECURE:
        o->src_tls = src;
        o->insecure = 1;
        return 0;
    case C_PIN:
        o->src_tls = src;
        if (secmq_pin_parse(arg, o->pin) != SECMQ_OK) {
            snprintf(err, errlen,
                     "--pin: expected sha256:<base64 of 32 bytes>, not '%s'",
                     arg);
            return -1;
        }
        o->has_pin = 1;
        return 0;
    case C_USERNAME:
        return set_str(&o->username, arg, err, errlen);
    case C_PASSWORD:
        return set_password(o, arg, strlen(arg), err, errlen);
    case C_PW_FILE:
        return load_password_file(o, arg, err, errlen);
    case C_ID:
        return set_client_id(o, 0, arg, src, err, errlen);
    case C_ID_PREFIX:
        return set_client_id(o, 1, arg, src, err, errlen);
    case C_KEEPALIVE:
        if (cli_parse_long(arg, 5, 65535, &v) != 0) {
            snprintf(err, errlen,
                     "%s: keep-alive must be 5..65535 seconds, not '%s'", name,
                     arg);
            return -1;
        }
        o->keepalive = (int)v;
        return 0;
    case C_PERSIST:
        o->persistent = 1;
        return 0;
    case C_PROTOCOL:
        return parse_protocol(arg, &o->protocol, err, errlen);
    case C_SESSION_EXPIRY:
        /* As mosquitto: -1 (or the infinity sign) means never. */
        if (strcmp(arg, "-1") == 0 || strcmp(arg, "\u221e") == 0) {
            v = (long)UINT32_MAX;
        } else if (cli_parse_long(arg, 0, (long)UINT32_MAX - 1, &v) != 0) {
            snprintf(err, errlen,
                     "%s: needs seconds 0..4294967294, or -1 for never, "
                     "not '%s'",
                     name, arg);
            return -1;
        }
        o->has_expiry = 1;
        o->session_expiry = (uint32_t)v;
        return 0;
    case C_WILL_TOPIC:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "%s needs a topic", name);
            return -1;
        }
        return set_str(&o->will_topic, arg, err, errlen);
    case C_WILL_PAYLOAD:
        o->src_will = src;
        return set_str(&o->will_payload, arg, err, errlen);
    case C_WILL_QOS:
        o->src_will = src;
        return cli_parse_qos(name, arg, &o->will_qos, err, errlen);
    case C_WILL_RETAIN:
        o->src_will = src;
        o->will_retain = 1;
        return 0;
    case C_DEBUG:
        o->debug = 1;
        return 0;
    case C_QUIET:
        o->quiet = 1;
        return 0;
    default:
        snprintf(err, errlen, "%s is not allowed here", name);
        return -1;
    }
}

/*
 * -L URL (command line only): host, port, transport, user and password as
 * -h, -p, --no-tls (mqtt://), -u and -P would set them, the topic handed to
 * the tool's -t. 0, or -1 + err.
 */
static int apply_url(struct cli_conn *o, const struct cli_tool *t,
                     int url_topic_id, char *arg, char *err, size_t errlen)
{
    struct cli_url u;
    int rc = -1;

    if (url_topic_id == 0) {
        snprintf(err, errlen, "-L is not available in %s", cli_progname());
        return -1;
    }
    if (cli_url_parse(arg, &u, err, errlen) != 0) {
        goto out;
    }
    if (set_str(&o->host, u.host, err, errlen) != 0) {
        goto out;
    }
    o->port = u.port;
    o->plain = !u.tls;
    o->src_plain = u.tls ? SRC_NONE : SRC_ARGV;
    if (u.user != NULL) {
        char *user = strndup(u.user, u.userlen);

        if (user == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        free(o->username);
        o->username = user;
    }
    if (u.pass != NULL &&
        set_password(o, u.pass, u.passlen, err, errlen) != 0) {
        goto out;
    }
    rc = t->handle(t->ctx, url_topic_id, "-L", u.topic, err, errlen);
out:
    if (u.pass != NULL) {
        /* SECURITY: as for -P, keep the password out of ps and
         * /proc/PID/cmdline from now on. */
        sodium_memzero(u.pass, u.passlen);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The config file                                                          */
/* ------------------------------------------------------------------------ */

struct config_ctx {
    struct cli_conn *o;
    const struct cli_tool *t;
};

/* One "option value" line of the config file: a cli_config_line_fn. */
static int config_option(void *ctx, const char *name, const char *value,
                         char *err, size_t errlen)
{
    const struct config_ctx *c = ctx;
    const struct cli_opt *opt = find_opt(common_opts, name);

    if (opt == NULL) {
        if (find_opt(c->t->opts, name) != NULL) {
            snprintf(err, errlen,
                     "'%s' cannot be set in a config file (only connection "
                     "options can)",
                     name);
        } else {
            snprintf(err, errlen, "unknown option '%s'", name);
        }
        return -1;
    }
    if (opt->id == C_CONFIG || opt->id == C_NO_CONFIG || opt->id == C_HELP ||
        opt->id == C_URL || opt->id == C_VERSION) {
        snprintf(err, errlen, "'%s' is only valid on the command line", name);
        return -1;
    }
    if (opt->has_arg && value[0] == '\0') {
        snprintf(err, errlen, "option '%s' needs a value", name);
        return -1;
    }
    if (!opt->has_arg && value[0] != '\0') {
        snprintf(err, errlen, "option '%s' takes no value", name);
        return -1;
    }
    if (apply_common(c->o, opt->id, name, opt->has_arg ? value : NULL,
                     SRC_CONFIG, err, errlen) != 0) {
        return -1;
    }
    return opt->id == C_PASSWORD ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* The command line                                                         */
/* ------------------------------------------------------------------------ */

static const struct cli_opt *lookup(const struct cli_tool *t, const char *name)
{
    const struct cli_opt *opt = find_opt(t->opts, name);

    return opt != NULL ? opt : find_opt(common_opts, name);
}

/* The checks that involve several options; 0 or -1 + err. */
static int check_combined(struct cli_conn *o, char *err, size_t errlen)
{
    if (o->plain && o->src_tls != SRC_NONE) {
        if (o->src_plain == o->src_tls) {
            snprintf(err, errlen,
                     "--no-tls (or -L mqtt://) cannot be combined with TLS "
                     "options "
                     "(--cafile, --capath, --cert, --key, --ciphers, "
                     "--tls-version, --pin, --insecure)");
            return -1;
        }
        if (o->src_tls > o->src_plain) {
            o->plain = 0; /* TLS options on the command line win */
        } else {
            cli_debug("--no-tls: ignoring the TLS options of the config "
                      "file");
        }
    }
    if ((o->certfile == NULL) != (o->keyfile == NULL)) {
        snprintf(err, errlen, "--cert and --key must be given together");
        return -1;
    }
    if (o->password != NULL && o->username == NULL) {
        snprintf(err, errlen,
                 "a password (-P or --pw-file) needs a username (-u)");
        return -1;
    }
    if (o->will_topic == NULL && o->src_will != SRC_NONE) {
        snprintf(err, errlen,
                 "--will-payload, --will-qos and --will-retain need "
                 "--will-topic");
        return -1;
    }
    if (o->id_prefix != NULL) {
        char id[256];
        int n = snprintf(id, sizeof id, "%s-%ld", o->id_prefix, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof id) {
            snprintf(err, errlen, "-I: client id prefix is too long");
            return -1;
        }
        if (set_str(&o->client_id, id, err, errlen) != 0) {
            return -1;
        }
    }
    if (o->has_expiry && o->protocol != SECMQ_MQTT_5) {
        snprintf(err, errlen,
                 "-x needs -V mqttv5: MQTT 3.1.1 has no session expiry "
                 "(-c alone keeps the session)");
        return -1;
    }
    if (o->has_expiry && o->session_expiry == UINT32_MAX &&
        o->client_id == NULL) {
        snprintf(err, errlen,
                 "-x -1 needs a client id (-i ID or -I PREFIX): the broker "
                 "finds a session by its client id");
        return -1;
    }
    if (o->persistent && o->client_id == NULL) {
        snprintf(err, errlen,
                 "-c needs a client id (-i ID or -I PREFIX): the broker "
                 "finds a persistent session by its client id");
        return -1;
    }
    return 0;
}

int cli_parse(struct cli_conn *o, const struct cli_tool *t, int argc,
              char **argv)
{
    return cli_parse_v2(o, t, NULL, argc, argv);
}

int cli_parse_v2(struct cli_conn *o, const struct cli_tool *t,
                 cli_operand_fn operand, int argc, char **argv)
{
    return cli_parse_v3(o, t, operand, 0, argc, argv);
}

int cli_parse_v3(struct cli_conn *o, const struct cli_tool *t,
                 cli_operand_fn operand, int url_topic_id, int argc,
                 char **argv)
{
    char err[512];
    char path[4096];
    const char *config = NULL;
    struct config_ctx cc = {o, t};
    int no_config = 0;

    if (sodium_init() < 0) {
        cli_err("cannot initialise libsodium");
        return -1;
    }
    /* Pass 1: --help, --config, --no-config, --quiet; and bad syntax. */
    for (int i = 1; i < argc; i++) {
        const struct cli_opt *opt = lookup(t, argv[i]);

        if (opt == NULL && operand != NULL && argv[i][0] != '-') {
            continue; /* an operand, handed over in pass 2 */
        }
        if (opt == NULL && cli_dropin_refused(argv[i]) != NULL) {
            cli_usage_err("%s: not supported: %s", argv[i],
                          cli_dropin_refused(argv[i]));
            return -1;
        }
        if (opt == NULL) {
            if (argv[i][0] == '-') {
                cli_usage_err("unknown option '%s'", argv[i]);
            } else {
                cli_usage_err("unexpected argument '%s'", argv[i]);
            }
            return -1;
        }
        if (opt->has_arg && i + 1 >= argc) {
            cli_usage_err("option '%s' needs a value", argv[i]);
            return -1;
        }
        if (opt->id == C_HELP) {
            t->help();
            return 1;
        }
        if (opt->id == C_VERSION) {
            cli_print_version();
            return 1;
        }
        if (opt->id == C_CONFIG) {
            config = argv[i + 1];
        } else if (opt->id == C_NO_CONFIG) {
            no_config = 1;
        } else if (opt->id == C_QUIET) {
            cli_msg_set_quiet(1);
        } else if (opt->id == C_DEBUG) {
            cli_msg_set_debug(1);
        }
        i += opt->has_arg;
    }
    if (config != NULL && no_config) {
        cli_usage_err("--config and --no-config cannot be used together");
        return -1;
    }
    if (config != NULL) {
        if (cli_config_load(config, 1, config_option, &cc) != 0) {
            return -1;
        }
    } else if (!no_config && cli_config_default_path(path, sizeof path) == 0) {
        cli_debug("config file: %s", path);
        if (cli_config_load(path, 0, config_option, &cc) != 0) {
            return -1;
        }
    }
    /* Pass 2: the command line, overriding the file. */
    for (int i = 1; i < argc; i++) {
        const struct cli_opt *opt = lookup(t, argv[i]);
        const char *name = argv[i];
        char *arg;
        int rc;

        if (opt == NULL) {
            if (operand(t->ctx, argv[i], err, sizeof err) != 0) {
                cli_usage_err("%s", err);
                return -1;
            }
            continue;
        }
        arg = opt->has_arg ? argv[++i] : NULL;

        if (opt->id == C_CONFIG || opt->id == C_NO_CONFIG) {
            continue;
        }
        if (opt->id == C_URL) {
            rc = apply_url(o, t, url_topic_id, arg, err, sizeof err);
        } else if (opt->id >= CLI_OPT_COMMON_BASE) {
            rc = apply_common(o, opt->id, name, arg, SRC_ARGV, err, sizeof err);
        } else {
            rc = t->handle(t->ctx, opt->id, name, arg, err, sizeof err);
        }
        if (opt->id == C_PASSWORD) {
            /* SECURITY: keep the password out of ps and /proc/PID/cmdline
             * from now on (it was visible until this point). */
            sodium_memzero(arg, strlen(arg));
        }
        if (rc != 0) {
            cli_usage_err("%s", err);
            return -1;
        }
    }
    if (check_combined(o, err, sizeof err) != 0) {
        cli_usage_err("%s", err);
        return -1;
    }
    cli_msg_set_quiet(o->quiet);
    cli_msg_set_debug(o->debug);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The result                                                               */
/* ------------------------------------------------------------------------ */

void cli_conn_init(struct cli_conn *o)
{
    memset(o, 0, sizeof *o);
}

void cli_conn_forget_password(struct cli_conn *o)
{
    if (o->password != NULL) {
        sodium_free(o->password); /* wipes */
        o->password = NULL;
    }
}

void cli_conn_free(struct cli_conn *o)
{
    if (o == NULL) {
        return;
    }
    cli_conn_forget_password(o);
    free(o->host);
    free(o->cafile);
    free(o->capath);
    free(o->certfile);
    free(o->keyfile);
    free(o->ciphers);
    free(o->keyring);
    free(o->username);
    free(o->client_id);
    free(o->id_prefix);
    free(o->will_topic);
    free(o->will_payload);
    sodium_memzero(o->pin, sizeof o->pin);
    memset(o, 0, sizeof *o);
}

int cli_conn_port(const struct cli_conn *o)
{
    if (o->port != 0) {
        return o->port;
    }
    return o->plain ? SECMQ_PORT_PLAIN : SECMQ_PORT_TLS;
}

const char *cli_conn_host(const struct cli_conn *o)
{
    return o->host != NULL ? o->host : "localhost";
}

void cli_conn_config(const struct cli_conn *o, secmq_config *cfg)
{
    secmq_config_init(cfg);
    cfg->host = cli_conn_host(o);
    cfg->port = o->port;
    if (o->plain) {
        cfg->transport = SECMQ_TRANSPORT_PLAIN;
    } else {
        cfg->transport = SECMQ_TRANSPORT_TLS;
        cfg->tls.cafile = o->cafile;
        cfg->tls.capath = o->capath;
        cfg->tls.certfile = o->certfile;
        cfg->tls.keyfile = o->keyfile;
        cfg->tls.ciphers = o->ciphers;
        if (o->min_tls != 0) {
            cfg->tls.min_version = (secmq_tls_version)o->min_tls;
        }
        cfg->tls.insecure = o->insecure;
        cfg->tls.has_pin = o->has_pin;
        memcpy(cfg->tls.pin_sha256, o->pin, sizeof o->pin);
    }
    cfg->username = o->username;
    cfg->password = o->password;
    cfg->client_id = o->client_id;
    if (o->keepalive != 0) {
        cfg->keepalive = o->keepalive;
    }
    cfg->clean_session = o->persistent ? 0 : 1;
    if (o->protocol != 0) {
        cfg->protocol = (secmq_protocol)o->protocol;
    }
    if (o->will_topic != NULL) {
        cfg->will.topic = o->will_topic;
        cfg->will.payload = o->will_payload;
        cfg->will.payloadlen =
            o->will_payload != NULL ? strlen(o->will_payload) : 0;
        cfg->will.qos = o->will_qos;
        cfg->will.retain = o->will_retain;
    }
}

/* ------------------------------------------------------------------------ */
/* Help                                                                     */
/* ------------------------------------------------------------------------ */

void cli_help_common(FILE *f)
{
    fputs(
        "Connection:\n"
        " -h, --host HOST     broker host name or address (default: "
        "localhost)\n"
        " -p, --port PORT     broker port (default: 8883 with TLS, 1883 "
        "with --no-tls)\n"
        " --no-tls            plain TCP: nothing is encrypted and the broker "
        "is not\n"
        "                     authenticated. TLS is the default; plain TCP "
        "is only used\n"
        "                     when asked for with this option.\n"
        " -L, --url URL       mqtts://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC: "
        "-h, -p, -u, -P\n"
        "                     and -t in one, as with mosquitto_pub/_sub "
        "(port 8883 unless\n"
        "                     given); mqtt:// means --no-tls and port 1883. "
        "Options after\n"
        "                     -L override its parts. A password here is "
        "visible in the\n"
        "                     process list for a moment, as with -P. "
        "Command line only.\n"
        " -u, --username USER log in as USER\n"
        " -P, --pw PASSWORD   password (needs -u). Other local users can see "
        "it in the\n"
        "                     process list for a moment; --pw-file and the "
        "config file\n"
        "                     do not have that problem.\n"
        " --pw-file FILE      read the password from the first line of FILE, "
        "which must\n"
        "                     not be writable by group or others nor "
        "readable by others\n"
        " -i, --id ID         client id (default: \"secmq-\" and 16 random "
        "hex digits)\n"
        " -I, --id-prefix PFX client id PFX-<process id>; not together with "
        "-i\n"
        " -k, --keepalive SEC keep-alive interval, 5..65535 seconds "
        "(default: 60)\n"
        " -c, --disable-clean-session\n"
        "                     persistent session: the broker keeps the "
        "subscriptions and\n"
        "                     queues QoS 1/2 messages while the client is "
        "away. Needs\n"
        "                     -i or -I, since the session is found by the "
        "client id.\n"
        " -V, --protocol-version V\n"
        "                     mqttv311 (or 311; the default) or mqttv5 (or "
        "5).\n"
        "                     MQTT 3.1 (mqttv31) is not supported. "
        "-D/--property is\n"
        "                     refused: no other MQTT v5 properties are sent.\n"
        " -x, --session-expiry-interval SEC\n"
        "                     with -V mqttv5: how long the broker keeps the "
        "session after\n"
        "                     the connection ends: 0..4294967294 s, or -1 "
        "for never\n"
        "                     (needs -i or -I). With -c the default is -1, "
        "as with\n"
        "                     mosquitto_pub/_sub; without -c, 0.\n"
        " --will-topic TOPIC  last will: the broker publishes it on TOPIC if "
        "the client\n"
        "                     vanishes without disconnecting (not on a clean "
        "exit)\n"
        " --will-payload TEXT will payload (default: empty)\n"
        " --will-qos QOS      will QoS 0, 1 or 2 (default: 0)\n"
        " --will-retain       retain the will message\n"
        "\n"
        "TLS (on by default; the broker's certificate chain and host name "
        "are checked):\n"
        " --cafile FILE       trusted CA certificates (PEM). Without --cafile "
        "and\n"
        "                     --capath the system CAs in /etc/ssl/certs are "
        "trusted.\n"
        " --capath DIR        directory of trusted CA certificates (PEM)\n"
        " --cert FILE         client certificate (PEM) for mutual TLS; needs "
        "--key\n"
        " --key FILE          private key (PEM) of --cert\n"
        " --tls-version V     MINIMUM TLS version: tlsv1.2 (the default; "
        "TLS 1.3 is used\n"
        "                     when the broker has it) or tlsv1.3 (TLS 1.3 "
        "only)\n"
        " --ciphers LIST      wolfSSL cipher list (default: AEAD suites with "
        "forward\n"
        "                     secrecy; AES-256-GCM first on CPUs with AES-NI, "
        "else\n"
        "                     ChaCha20-Poly1305 first)\n"
        " --pin sha256:B64    additionally require the broker's public key to "
        "match this\n"
        "                     SHA-256 SPKI pin. Compute it with:\n"
        "                       secmq-certs pin broker.crt\n"
        "                     or, the same value, with openssl:\n"
        "                       openssl x509 -in broker.crt -pubkey -noout |\n"
        "                       openssl pkey -pubin -outform der |\n"
        "                       openssl dgst -sha256 -binary | base64\n"
        " --insecure          do NOT check that the broker's certificate is "
        "for the host\n"
        "                     name (the CA is still checked). Anyone with a "
        "certificate\n"
        "                     from the same CA can then pose as the broker. "
        "For testing\n"
        "                     only; prints a warning.\n"
        "\n"
        "End to end (see secmq-keys and docs/SECURITY.md):\n"
        " --keyring DIR       seal and open payloads with the keyring in DIR: "
        "on topics\n"
        "                     a channel covers, messages are encrypted and "
        "signed end to\n"
        "                     end (the broker sees only ciphertext); messages "
        "that do not\n"
        "                     open are reported on stderr and never shown as "
        "data\n"
        "\n"
        "Other:\n"
        " -d, --debug         print debug lines on stderr, and the TLS "
        "version and cipher\n"
        "                     after connecting\n"
        " --quiet             do not print error messages\n"
        " --config FILE       read options from FILE instead of the default "
        "config file\n"
        " --no-config         do not read the default config file\n"
        " --help              print this help and exit\n"
        " --version           print the versions of secmq, libmosquitto, "
        "wolfSSL and\n"
        "                     libsodium and exit (command line only)\n"
        "\n"
        "Config file:\n"
        "  $XDG_CONFIG_HOME/secmq/client.conf, or "
        "~/.config/secmq/client.conf when\n"
        "  XDG_CONFIG_HOME is not set, is read if it exists (shared by "
        "secmq-pub and\n"
        "  secmq-sub). One connection option per line, written as on the "
        "command line,\n"
        "  e.g.\n"
        "      # my broker\n"
        "      -h broker.local\n"
        "      --cafile /etc/secmq/ca.crt\n"
        "      -u sam\n"
        "  The value is the rest of the line (no quoting). Blank lines and "
        "lines starting\n"
        "  with # are ignored. Only the options under Connection, TLS, End to "
        "end and "
        "Other\n"
        "  (except --config, --no-config and --help) are allowed. Options on "
        "the command\n"
        "  line override the file. The file must be owned by you or root and "
        "not be\n"
        "  writable by group or others, and a file with -P must not be "
        "accessible to\n"
        "  others at all (chmod 600), as a --pw-file; that, an unknown option "
        "or a bad\n"
        "  value is an error naming the file and line.\n",
        f);
}
