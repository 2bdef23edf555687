/*
 * cli_dropin.c -- mosquitto_pub/_sub compatibility beyond the plain options.
 *
 * -L URLs are split exactly as mosquitto's clients split them, options that
 * secmq cannot honour are refused with the reason (never silently ignored),
 * and --version names every library the program runs on. No I/O besides
 * printing the version.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli_dropin.h"
#include "cli_msg.h"
#include "cli_options.h"
#include "secmq.h"

int cli_url_parse(char *url, struct cli_url *out, char *err, size_t errlen)
{
    char *rest;
    char *slash;
    char *at;
    char *colon;
    size_t hostlen;
    long port;

    memset(out, 0, sizeof *out);
    if (strncasecmp(url, "mqtt://", 7) == 0) {
        rest = url + 7;
        out->port = SECMQ_PORT_PLAIN;
    } else if (strncasecmp(url, "mqtts://", 8) == 0) {
        rest = url + 8;
        out->tls = 1;
        out->port = SECMQ_PORT_TLS;
    } else {
        snprintf(err, errlen,
                 "-L: unsupported URL scheme (use mqtts://HOST[:PORT]/TOPIC, "
                 "or mqtt:// for plain TCP)");
        return -1;
    }
    slash = strchr(rest, '/');
    if (slash == NULL) {
        snprintf(err, errlen, "-L: the URL has no topic (mqtts://HOST/TOPIC)");
        return -1;
    }
    out->topic = slash + 1;
    /* Like mosquitto: the first '@' before the topic ends the user part,
     * and a ':' in the user part starts the password. */
    at = memchr(rest, '@', (size_t)(slash - rest));
    if (at != NULL) {
        colon = memchr(rest, ':', (size_t)(at - rest));
        out->user = rest;
        out->userlen = (size_t)((colon != NULL ? colon : at) - rest);
        if (colon != NULL) {
            out->pass = colon + 1;
            out->passlen = (size_t)(at - colon - 1);
        }
        if (out->userlen == 0) {
            snprintf(err, errlen, "-L: the URL has an empty user name");
            return -1;
        }
        rest = at + 1;
    }
    colon = memchr(rest, ':', (size_t)(slash - rest));
    hostlen = (size_t)((colon != NULL ? colon : slash) - rest);
    if (hostlen == 0 || hostlen >= sizeof out->host) {
        snprintf(err, errlen, "-L: the URL needs a host name");
        return -1;
    }
    memcpy(out->host, rest, hostlen);
    out->host[hostlen] = '\0';
    if (colon != NULL) {
        char num[8];
        size_t n = (size_t)(slash - colon - 1);

        if (n == 0 || n >= sizeof num) {
            snprintf(err, errlen, "-L: the URL's port must be 1..65535");
            return -1;
        }
        memcpy(num, colon + 1, n);
        num[n] = '\0';
        if (cli_parse_long(num, 1, 65535, &port) != 0) {
            snprintf(err, errlen,
                     "-L: the URL's port must be 1..65535, not "
                     "'%s'",
                     num);
            return -1;
        }
        out->port = (int)port;
    }
    return 0;
}

/* The mosquitto_pub/_sub options secmq refuses, with the reason. */
static const struct {
    const char *name;
    const char *why;
} refused[] = {
    {"-D", "libsecmq sends no MQTT v5 properties"},
    {"--property", "libsecmq sends no MQTT v5 properties"},
    {"--unix", "libsecmq reaches brokers over TCP only (TLS unless --no-tls)"},
    {"--psk", "TLS-PSK is not offered: the broker is checked by its "
              "certificate (--cafile, --pin)"},
    {"--psk-identity", "TLS-PSK is not offered: the broker is checked by its "
                       "certificate (--cafile, --pin)"},
    {"--proxy", "SOCKS proxies are not supported"},
    {NULL, NULL},
};

const char *cli_dropin_refused(const char *name)
{
    for (size_t i = 0; refused[i].name != NULL; i++) {
        if (strcmp(refused[i].name, name) == 0) {
            return refused[i].why;
        }
    }
    return NULL;
}

void cli_print_version(void)
{
    char deps[256];

    (void)secmq_dependency_versions(deps, sizeof deps);
    printf("%s %s (libsecmq %s, %s)\n", cli_progname(), SECMQ_VERSION_STRING,
           secmq_version(), deps);
}
