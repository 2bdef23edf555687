/*
 * authd_revoke.h -- closing the RabbitMQ connections of users who lost
 * access, through RabbitMQ's management API: RabbitMQ asks secmq-authd
 * once per connection (and per topic), so a reload alone leaves revoked
 * users connected. authd_remember.c keeps what secmq-authd allowed per
 * user and client id and re-asks it after a reload; authd_revoke.c turns
 * losses into targets and closes their connections from a worker thread;
 * authd_mgmt.c is the only file that sees libcurl, authd_json.c the only
 * one that sees json-c. Not for deciding answers: authd_rules.c does.
 */
#ifndef SECMQ_AUTHD_REVOKE_H
#define SECMQ_AUTHD_REVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "authd.h"

#define AUTHD_REMEMBER_DEFAULT 10000   /* clients remembered */
#define AUTHD_REMEMBER_QUESTIONS 64    /* allowed questions per client */
#define AUTHD_CREDS_MAX 512            /* the credentials file, bytes */
#define AUTHD_API_BODY_MAX (64u << 20) /* a management API answer, bytes */

/* --- authd_remember.c ------------------------------------------------ */

typedef struct authd_remember authd_remember;

/* A table for at most max_clients (user, client id) pairs; NULL when out
 * of memory. */
authd_remember *authd_remember_new(size_t max_clients);
void authd_remember_free(authd_remember *m);

/* Remember an ALLOWED answer of kind to form (fields copied): a login
 * starts the pair afresh (a new connection), a queue or topic question
 * is added to it. The least recently used pair goes when the table is
 * full (counted: authd_remember_evicted). Out of memory: forgotten. */
void authd_remember_answer(authd_remember *m, authd_kind kind,
                           const authd_form *form);

/* Called for each pair that lost access (all borrowed for the call). */
typedef void (*authd_lost_fn)(void *user, const char *name, const char *id,
                              const char *why);

/*
 * authd_remember_recheck -- ask every remembered question again of
 * fresh, a view of d whose svc.policy is the new policy (old is the one
 * in force until now). A pair whose user has a new password is forgotten
 * (the caller closes all of the user's connections); one whose user is
 * gone or disabled too, after lost is called for it with "user deleted"
 * or "user disabled" when it has a client id (its session goes). For
 * each other pair with a question now denied (or, when it had more than
 * AUTHD_REMEMBER_QUESTIONS, whose rules lost any right), or whose client
 * id is now another user's, lost is called once with "access reduced:
 * ..." and the pair forgotten. Returns how many lost access that way.
 */
size_t authd_remember_recheck(authd_remember *m, authd *fresh,
                              const secmq_policy *old, authd_lost_fn lost,
                              void *user);

/* Pairs remembered now, and pairs dropped for room since the last call
 * (the counter is reset). */
size_t authd_remember_count(const authd_remember *m);
size_t authd_remember_evicted(authd_remember *m);

/* --- authd_json.c ---------------------------------------------------- */

/* One RabbitMQ connection from GET /api/connections (strings owned). */
typedef struct authd_conn {
    char *name;           /* the connection's name (its id in the API) */
    char *user;           /* NULL when not given */
    char *client_id;      /* the MQTT client id; NULL for other protocols */
    int64_t connected_at; /* ms since the epoch; -1 when not given */
} authd_conn;

/*
 * authd_conns_parse -- the connections in a GET /api/connections body
 * (len bytes, borrowed): a JSON array of objects with "name" (required),
 * "user", "connected_at", and the MQTT client id in
 * "variable_map"."client_id" or else "client_properties"."client_id".
 * Returns 0 with *out (free with authd_conns_free) and *n, or -1 with a
 * reason in err (not JSON, not an array, an entry without a name, out
 * of memory).
 */
int authd_conns_parse(const char *body, size_t len, authd_conn **out, size_t *n,
                      char *err, size_t errlen);
void authd_conns_free(authd_conn *c, size_t n);

/* --- authd_mgmt.c ---------------------------------------------------- */

/* Where the management API is and how it is reached. */
typedef struct authd_mgmt_cfg {
    const char *url;    /* base URL, e.g. http://127.0.0.1:15672 */
    const char *cafile; /* NULL: the system's CAs (https) */
} authd_mgmt_cfg;

/* libcurl's global set-up, once, before any thread: 0 or -1. */
int authd_mgmt_init(void);
void authd_mgmt_cleanup(void);

/*
 * authd_mgmt_check_url -- whether url can be the management API's base:
 * http or https, a host, no user name or password in it; http only to a
 * loopback host (127.0.0.0/8, ::1, localhost): the requests carry the
 * management password. 0, or -1 with a reason in err.
 */
int authd_mgmt_check_url(const char *url, char *err, size_t errlen);

/*
 * authd_mgmt_request -- one request: method (GET or DELETE) on base URL +
 * path (path borrowed, already escaped), Basic auth user:pass (borrowed;
 * the header built from them is wiped), header "X-Reason: reason" when
 * reason is not NULL. TLS is verified (peer and host name) as libcurl
 * does by default; timeouts are bounded. Returns the HTTP status (> 0)
 * with the body in *body (NUL-terminated, free()) and *len, or -1 with a
 * reason in err (cannot connect, TLS, timeout, a body over
 * AUTHD_API_BODY_MAX).
 */
long authd_mgmt_request(const authd_mgmt_cfg *cfg, const char *method,
                        const char *path, const char *reason, const char *user,
                        const char *pass, char **body, size_t *len, char *err,
                        size_t errlen);

/* s percent-encoded for a path element (every byte but A-Z a-z 0-9 -._~),
 * or NULL when out of memory; free(). */
char *authd_mgmt_escape(const char *s);

/* --- authd_revoke.c -------------------------------------------------- */

typedef struct authd_revoke authd_revoke;

/* What authd_revoke_new needs (strings borrowed for the service's life). */
typedef struct authd_revoke_cfg {
    authd_mgmt_cfg api;
    const char *creds_path; /* "user:password", mode 0600 or stricter */
    size_t remember_max;
    long retry_s; /* a failed pass is tried again this much later */
} authd_revoke_cfg;

/*
 * authd_creds_read -- the management user and password from path: one
 * line "user:password" (a trailing newline ignored; the password may hold
 * ':'), a regular file no one but its owner may read or write. user
 * (ucap bytes) and pass (pcap bytes) filled; the caller wipes pass.
 * Returns 0, or -1 with a reason in err (the password never in it).
 */
int authd_creds_read(const char *path, char *user, size_t ucap, char *pass,
                     size_t pcap, char *err, size_t errlen);

/* The service for d (d->rv is set by the caller); NULL with err. */
authd_revoke *authd_revoke_new(authd *d, const authd_revoke_cfg *cfg, char *err,
                               size_t errlen);

/*
 * authd_revoke_on_load -- secmq_authsvc_load_fn: d->svc.policy is still
 * the old policy and fresh the new one: users deleted, disabled or with a
 * new password, and remembered pairs that lost access, become targets
 * (their connections made before now are closed). Never refuses a load.
 */
int authd_revoke_on_load(void *d, const secmq_policy *fresh, char *err,
                         size_t errlen);

/* From the main loop: collect a finished pass, start one when targets are
 * due and none runs. Never blocks on the network. */
void authd_revoke_tick(authd_revoke *r);

/* An allowed answer, remembered (authd_remember_answer); r may be NULL. */
void authd_revoke_answer(authd_revoke *r, authd_kind kind,
                         const authd_form *form);

/* Targets waiting (for tests and logs). */
size_t authd_revoke_pending(const authd_revoke *r);

/* Waits for a running pass (bounded by its timeouts) and frees r. */
void authd_revoke_free(authd_revoke *r);

#endif /* SECMQ_AUTHD_REVOKE_H */
