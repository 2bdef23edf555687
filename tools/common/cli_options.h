/*
 * cli_options.h -- connection options shared by secmq-pub and secmq-sub.
 *
 * One table-driven parser for the config file and the command line; the
 * connection options (broker, TLS, login, session, will) are handled here,
 * the tools' own options are handed to the tool. No network I/O.
 */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "secmq.h"

/* Option ids from this value on belong to the common options. */
#define CLI_OPT_COMMON_BASE 1000

/* One option. A table ends with an entry whose id is 0. */
struct cli_opt {
    const char *shortname; /* "-t", or NULL */
    const char *longname;  /* "--topic", or NULL */
    int has_arg;           /* 1: the next argument is the option's value */
    int id;                /* > 0, below CLI_OPT_COMMON_BASE for a tool */
};

/*
 * A tool's handler for one of its own options. name is the option as
 * written, arg its value (NULL for a flag); both point into argv and live
 * as long as the program. On a bad value, writes a one-line reason into
 * err (errlen bytes) and returns -1; otherwise returns 0.
 */
typedef int (*cli_option_fn)(void *ctx, int id, const char *name,
                             const char *arg, char *err, size_t errlen);

/* What a tool adds to the parser. */
struct cli_tool {
    const struct cli_opt *opts; /* the tool's own options */
    cli_option_fn handle;       /* called for each of them */
    void *ctx;                  /* passed to handle */
    void (*help)(void);         /* prints --help to stdout */
};

/*
 * A tool's handler for an argument that is not an option (does not start
 * with '-'), e.g. secmq-file's FILEs; same contract as cli_option_fn.
 */
typedef int (*cli_operand_fn)(void *ctx, const char *arg, char *err,
                              size_t errlen);

/*
 * The connection options after parsing. Strings are owned by the struct
 * (released by cli_conn_free()); NULL or 0 means "library default".
 */
struct cli_conn {
    char *host;     /* -h; NULL = localhost */
    int port;       /* -p; 0 = 8883 with TLS, 1883 with --no-tls */
    int plain;      /* --no-tls */
    char *cafile;   /* --cafile */
    char *capath;   /* --capath */
    char *certfile; /* --cert */
    char *keyfile;  /* --key */
    char *ciphers;  /* --ciphers */
    char *keyring;  /* --keyring DIR */
    int min_tls;    /* --tls-version: 0, SECMQ_TLS_1_2 or SECMQ_TLS_1_3 */
    int insecure;   /* --insecure: no host name check */
    int has_pin;    /* --pin given */
    unsigned char pin[SECMQ_PIN_BYTES];
    char *username;  /* -u */
    char *password;  /* -P / --pw-file; sodium_malloc'd, wiped on free */
    char *client_id; /* -i, or "<prefix>-<pid>" from -I */
    char *id_prefix; /* -I */
    int keepalive;   /* -k */
    int persistent;  /* -c */
    int protocol;    /* -V: 0, SECMQ_MQTT_311 or SECMQ_MQTT_5 */
    int has_expiry;  /* -x given */
    uint32_t session_expiry; /* -x seconds; UINT32_MAX: never */
    char *will_topic;        /* --will-topic */
    char *will_payload;
    int will_qos;
    int will_retain;
    int debug; /* -d */
    int quiet; /* --quiet */
    /* Where choices came from (0 none, 1 config file, 2 command line), so
     * that the command line overrides the file instead of clashing. */
    int src_id, src_prefix, src_plain, src_tls, src_will;
};

/* Zero *o. Never fails. */
void cli_conn_init(struct cli_conn *o);

/*
 * cli_conn_free -- wipe the password and release every string of *o.
 * NULL is a no-op.
 */
void cli_conn_free(struct cli_conn *o);

/*
 * cli_conn_forget_password -- wipe and release the password now, e.g. as
 * soon as the library holds its own copy.
 */
void cli_conn_forget_password(struct cli_conn *o);

/*
 * cli_parse -- read the config file (--config FILE, or the default file
 * when it exists and --no-config is absent), then argv; the command line
 * overrides the file. Passwords given with -P or in a -L URL are wiped
 * from argv. Returns 0 to go on, 1 when --help or --version was printed
 * (exit 0), -1 after printing a one-line error (exit 1).
 */
int cli_parse(struct cli_conn *o, const struct cli_tool *t, int argc,
              char **argv);

/*
 * cli_parse_v2 -- cli_parse, but arguments that are not options are
 * handed to operand (with t->ctx, in order) instead of being an error.
 * cli_parse is cli_parse_v2 with operand NULL.
 */
int cli_parse_v2(struct cli_conn *o, const struct cli_tool *t,
                 cli_operand_fn operand, int argc, char **argv);

/*
 * cli_parse_v3 -- cli_parse_v2, and -L URL (mosquitto_pub/_sub's URL
 * option) is accepted: its topic goes to t->handle as the tool's option
 * url_topic_id (its -t), named "-L". With url_topic_id 0, -L is refused.
 * cli_parse_v2 is cli_parse_v3 with url_topic_id 0.
 */
int cli_parse_v3(struct cli_conn *o, const struct cli_tool *t,
                 cli_operand_fn operand, int url_topic_id, int argc,
                 char **argv);

/*
 * cli_conn_config -- fill *cfg (written) from *o. The strings in cfg point
 * into *o (BORROWED): o must stay unchanged until secmq_client_new() has
 * copied them.
 */
void cli_conn_config(const struct cli_conn *o, secmq_config *cfg);

/* The port that will be used (the default for the transport if unset). */
int cli_conn_port(const struct cli_conn *o);
/* The broker host that will be used. */
const char *cli_conn_host(const struct cli_conn *o);

/*
 * cli_parse_long -- parse a decimal integer in [min, max] (whole string,
 * no trailing text). Returns 0 and sets *out, or -1.
 */
int cli_parse_long(const char *s, long min, long max, long *out);

/*
 * cli_parse_seconds -- parse a non-negative, finite decimal number of
 * seconds ("2", "0.5") no larger than max. Returns 0 and sets *out, or -1.
 */
int cli_parse_seconds(const char *s, double max, double *out);

/*
 * cli_parse_qos -- parse a QoS 0, 1 or 2 given to option name. Returns 0
 * and sets *out, or -1 with a reason in err.
 */
int cli_parse_qos(const char *name, const char *arg, int *out, char *err,
                  size_t errlen);

/*
 * cli_parse_count -- parse a count of 1 or more (at most INT_MAX) given to
 * option name. Returns 0 and sets *out, or -1 with a reason in err.
 */
int cli_parse_count(const char *name, const char *arg, long *out, char *err,
                    size_t errlen);

/* Print the help for the connection options and the config file. */
void cli_help_common(FILE *f);

#endif /* CLI_OPTIONS_H */
