/*
 * cli_dropin.h -- what secmq-pub and secmq-sub take over from
 * mosquitto_pub/_sub beyond the ordinary options: -L URLs, the mosquitto
 * options they refuse (each with the reason) and --version. Parsing only;
 * applying a URL to the connection options is cli_options.c's business.
 */
#ifndef CLI_DROPIN_H
#define CLI_DROPIN_H

#include <stddef.h>

/* A parsed -L URL: mqtt[s]://[user[:password]@]host[:port]/topic. */
struct cli_url {
    int tls;           /* 1 for mqtts://, 0 for mqtt:// */
    const char *user;  /* BORROWED from the URL; NULL when absent */
    size_t userlen;    /* bytes of user */
    char *pass;        /* BORROWED from the URL (so it can be wiped there);
                          NULL when absent */
    size_t passlen;    /* bytes of pass */
    char host[256];    /* NUL-terminated, non-empty */
    int port;          /* the URL's port, else 8883 (mqtts) or 1883 (mqtt) */
    const char *topic; /* BORROWED: the rest of the URL after the first '/' */
};

/*
 * cli_url_parse -- split url the way mosquitto_pub/_sub 2.0 do (no
 * percent-decoding): the scheme, then everything up to the first '/' is
 * [user[:password]@]host[:port], the rest is the topic. url is BORROWED
 * and must outlive *out. Returns 0, or -1 with a one-line reason in err.
 */
int cli_url_parse(char *url, struct cli_url *out, char *err, size_t errlen);

/*
 * cli_dropin_refused -- the reason why mosquitto_pub/_sub option name is
 * not supported (a static sentence), or NULL when name is not one of them.
 */
const char *cli_dropin_refused(const char *name);

/* cli_print_version -- "PROG VERSION (libsecmq ..., libmosquitto ...,
 * wolfSSL ..., libsodium ...)" on stdout. */
void cli_print_version(void);

#endif /* CLI_DROPIN_H */
