/*
 * example_conn.c -- command-line connection options shared by the examples.
 *
 * Everything here is plain use of the public secmq API; the examples keep
 * their own logic short by leaving option parsing and connect error
 * reporting to these few functions. Not part of libsecmq.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "example_conn.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void example_conn_init(example_conn *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->host = "localhost";
}

int example_conn_arg(example_conn *opt, const char *prog, int argc, char **argv,
                     int *i)
{
    const char *name = argv[*i];
    const char **slot = NULL;
    long port;

    if (strcmp(name, "--no-tls") == 0) {
        opt->no_tls = 1;
        return 1;
    }
    if (strcmp(name, "-h") == 0) {
        slot = &opt->host;
    } else if (strcmp(name, "--cafile") == 0) {
        slot = &opt->cafile;
    } else if (strcmp(name, "-u") == 0) {
        slot = &opt->username;
    } else if (strcmp(name, "-P") == 0) {
        slot = &opt->password;
    } else if (strcmp(name, "-i") == 0) {
        slot = &opt->client_id;
    } else if (strcmp(name, "--cert") == 0) {
        slot = &opt->certfile;
    } else if (strcmp(name, "--key") == 0) {
        slot = &opt->keyfile;
    } else if (strcmp(name, "--keyring") == 0) {
        slot = &opt->keyring;
    } else if (strcmp(name, "-p") != 0) {
        return 0;
    }

    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, name);
        return -1;
    }
    *i += 1;
    if (slot != NULL) {
        *slot = argv[*i];
        return 1;
    }
    if (example_parse_long(argv[*i], 1, 65535, &port) != 0) {
        fprintf(stderr, "%s: -p: '%s' is not a port (1..65535)\n", prog,
                argv[*i]);
        return -1;
    }
    opt->port = (int)port;
    return 1;
}

int example_arg_long(const char *prog, const char *name, long min, long max,
                     long *out, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], name) != 0) {
        return 0;
    }
    *i += 1;
    if (*i == argc || example_parse_long(argv[*i], min, max, out) != 0) {
        fprintf(stderr, "%s: %s needs %ld..%ld\n", prog, name, min, max);
        return -1;
    }
    return 1;
}

int example_parse_args(example_conn *opt, const char *prog, int argc,
                       char **argv, void (*usage)(FILE *f), example_arg_fn own,
                       void *user)
{
    example_conn_init(opt);
    for (int i = 1; i < argc; i++) {
        int used = example_conn_arg(opt, prog, argc, argv, &i);

        if (used == 0 && strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return EXAMPLE_EXIT_OK;
        }
        if (used == 0 && own != NULL) {
            used = own(user, argc, argv, &i);
        }
        if (used < 0) {
            return EXAMPLE_EXIT_USAGE;
        }
        if (used == 0) {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, argv[i]);
            usage(stderr);
            return EXAMPLE_EXIT_USAGE;
        }
    }
    return EXAMPLE_CONTINUE;
}

int example_conn_finish(example_conn *opt, const char *prog)
{
    if ((opt->certfile == NULL) != (opt->keyfile == NULL)) {
        fprintf(stderr, "%s: --cert and --key go together\n", prog);
        return -1;
    }
    if (opt->no_tls && (opt->cafile != NULL || opt->certfile != NULL)) {
        fprintf(stderr, "%s: --cafile, --cert and --key need TLS\n", prog);
        return -1;
    }
    if (opt->password != NULL && opt->username == NULL) {
        fprintf(stderr, "%s: -P needs -u\n", prog);
        return -1;
    }
    /* A password in the environment stays out of `ps` output, unlike -P. */
    if (opt->username != NULL && opt->password == NULL) {
        opt->password = getenv("SECMQ_PASSWORD");
    }
    return 0;
}

void example_conn_config(const example_conn *opt, secmq_config *cfg)
{
    secmq_config_init(cfg);
    cfg->host = opt->host;
    cfg->port = opt->port;
    cfg->transport = opt->no_tls ? SECMQ_TRANSPORT_PLAIN : SECMQ_TRANSPORT_TLS;
    cfg->tls.cafile = opt->cafile;
    cfg->tls.certfile = opt->certfile;
    cfg->tls.keyfile = opt->keyfile;
    cfg->username = opt->username;
    cfg->password = opt->password;
    cfg->client_id = opt->client_id;
}

/* The keyring of --keyring, opened by example_connect(). */
static secmq_keyring *example_kr;

void example_keyring_free(void)
{
    secmq_keyring_free(example_kr);
    example_kr = NULL;
}

int example_connect(secmq_client *c, const example_conn *opt, const char *prog,
                    int timeout_ms)
{
    char detail[SECMQ_ERRMSG_BYTES];
    int port = opt->port;
    int rc;

    /* With a keyring the client seals every publish on a topic its
     * channels cover and opens what arrives; plain messages are refused. */
    if (opt->keyring != NULL && example_kr == NULL) {
        rc = secmq_keyring_open(&example_kr, opt->keyring, detail,
                                sizeof(detail));
        if (rc == SECMQ_OK) {
            rc = secmq_client_set_keyring(c, example_kr);
        }
        if (rc != SECMQ_OK) {
            fprintf(stderr, "%s: keyring %s: %s%s%s\n", prog, opt->keyring,
                    secmq_strerror(rc), example_kr == NULL ? " -- " : "",
                    example_kr == NULL ? detail : "");
            return rc;
        }
    }

    /* connect() does TCP and the TLS handshake; the broker's CONNACK,
     * which says whether the login was accepted, comes later. */
    rc = secmq_client_connect(c);
    if (rc == SECMQ_OK) {
        rc = secmq_client_wait_connected(c, timeout_ms);
    }
    if (rc == SECMQ_OK) {
        return SECMQ_OK;
    }

    if (port == 0) {
        port = opt->no_tls ? SECMQ_PORT_PLAIN : SECMQ_PORT_TLS;
    }
    if (secmq_client_errmsg(c, detail, sizeof(detail)) == 0) {
        detail[0] = '\0';
    }
    fprintf(stderr, "%s: cannot connect to %s:%d: %s%s%s\n", prog, opt->host,
            port, secmq_strerror(rc), detail[0] != '\0' ? " -- " : "", detail);
    return rc;
}

int example_parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long value;

    if (text[0] == '\0' || isspace((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return -1;
    }
    *out = value;
    return 0;
}

long long example_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void example_print_safe(FILE *f, const void *payload, size_t len, size_t max)
{
    const unsigned char *p = payload;
    size_t n = len < max ? len : max;

    for (size_t k = 0; k < n; k++) {
        fputc(p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?', f);
    }
    if (len > max) {
        fputs("...", f);
    }
}
