/*
 * authd.h -- secmq-authd, the HTTP auth service that answers RabbitMQ's
 * rabbitmq_auth_backend_http from the secmq auth database with the
 * plugin's policy engine (broker-plugin/authsvc.h). authd_rules.c turns
 * the four RabbitMQ questions into policy decisions (no HTTP),
 * authd_form.c decodes the fields of a request,
 * authd_http.c is the only file that sees libmicrohttpd, authd_main.c
 * holds the options, the listening socket and the loop.
 */
#ifndef SECMQ_AUTHD_H
#define SECMQ_AUTHD_H

#include <stddef.h>

#include "authsvc.h"
#include "clientid.h"

#define AUTHD_FIELDS_MAX 16 /* form fields in one request */
#define AUTHD_BODY_MAX                                                         \
    16384 /* request body bytes (a password <= 4 KiB,                          \
             percent-encoded, and the rest) */
#define AUTHD_DEFAULT_LISTEN "127.0.0.1:8765"
#define AUTHD_DEFAULT_VHOST "/"
#define AUTHD_DEFAULT_EXCHANGE "amq.topic"

/* One decoded form field (strings owned by the request). */
typedef struct authd_field {
    char *key;
    char *value;
} authd_field;

/* A request's fields, decoded. */
typedef struct authd_form {
    authd_field f[AUTHD_FIELDS_MAX];
    size_t n;
} authd_form;

/* What RabbitMQ asks; the last path element of the URL. */
typedef enum authd_kind {
    AUTHD_USER = 0, /* /auth/user */
    AUTHD_VHOST,    /* /auth/vhost */
    AUTHD_RESOURCE, /* /auth/resource */
    AUTHD_TOPIC     /* /auth/topic */
} authd_kind;

struct authd_revoke;

typedef struct authd {
    secmq_authsvc svc;
    struct authd_revoke *rv; /* owned by main; NULL: no management API */
    secmq_idpats idpats;
    const char *vhost;    /* borrowed from argv */
    const char *exchange; /* borrowed from argv */
    int verbose;          /* 1: log allowed answers too */
} authd;

/* The value of field key in form (borrowed), or NULL. */
const char *authd_form_get(const authd_form *form, const char *key);

/*
 * authd_form_parse -- decode an application/x-www-form-urlencoded body
 * (len bytes, borrowed) into form ('+' is a space, %XX a byte). Returns
 * 0, or -1 with a reason in err: more than AUTHD_FIELDS_MAX fields, a key
 * given twice, a bad %-escape, a NUL byte, out of memory.
 */
int authd_form_parse(authd_form *form, const char *body, size_t len, char *err,
                     size_t errlen);

/* Adds key = value (both copied) as authd_form_parse would; -1 as it. */
int authd_form_add(authd_form *form, const char *key, const char *value,
                   char *err, size_t errlen);

/* Frees the strings of form and empties it. */
void authd_form_clear(authd_form *form);

/*
 * authd_decide -- the answer to one question of kind from form; addr (the
 * HTTP peer, for logs). Returns NULL for allow, else the reason of the
 * denial (a constant or a string in why, why_len bytes). Logs nothing
 * itself except through the login decision (authsvc.h).
 */
const char *authd_decide(authd *d, authd_kind kind, const authd_form *form,
                         const char *addr, char *why, size_t why_len);

/*
 * authd_mqtt_from_rk -- the MQTT topic or filter that RabbitMQ's MQTT
 * plugin turned into routing key rk ('/' -> '.', '+' -> '*'), into out
 * (cap bytes): '.' -> '/', '*' -> '+', '#' as it is. Ambiguous where the
 * MQTT topic held a '.' or a '*' (docs/DEPLOY.md). Returns 0, or -1 when
 * it does not fit.
 */
int authd_mqtt_from_rk(const char *rk, char *out, size_t cap);

/* An MQTT subscription queue, "mqtt-subscription-<client id>qos0|1"; its
 * client id into id (cap bytes). 1 if name is one, else 0. */
int authd_queue_client_id(const char *name, char *id, size_t cap);

/* --- authd_http.c ----------------------------------------------------- */

/* A printf-style line through d's log callback (any thread: the callback
 * writes whole lines to stderr). */
void authd_logf(const authd *d, secmq_svc_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct authd_http authd_http;

/*
 * authd_http_start -- serve d on the listening socket fd (handed over:
 * closed by authd_http_stop) with at most max_conns connections, in the
 * caller's thread: authd_http_fd is to be polled and authd_http_run called
 * when it is readable or the timeout authd_http_timeout_ms passed.
 * Returns NULL with a reason in err on failure (fd closed).
 */
authd_http *authd_http_start(authd *d, int fd, unsigned max_conns, char *err,
                             size_t errlen);
int authd_http_fd(const authd_http *h);
int authd_http_timeout_ms(authd_http *h, int cap_ms);
void authd_http_run(authd_http *h);
void authd_http_stop(authd_http *h);

#endif /* SECMQ_AUTHD_H */
