/*
 * authsvc.h -- the login and reload logic that the mosquitto plugin and
 * secmq-authd (the HTTP auth service for RabbitMQ) share: the auth
 * database kept open and its policy in memory, reloaded when the file
 * changes, and the login decision (argon2id with a dummy hash for unknown
 * users, the success cache and login guard, disabled users, client id
 * patterns, hash upgrades). Logs through a callback; no mosquitto, no HTTP.
 * Not thread-safe: one thread calls in (the broker's loop, authd's loop).
 */
#ifndef SECMQ_AUTHSVC_H
#define SECMQ_AUTHSVC_H

#include <stddef.h>
#include <stdint.h>

#include "authdb.h"
#include "authguard.h"
#include "clientid.h"
#include "policy.h"
#include "pwhash.h"

/* Log levels of secmq_authsvc_log_fn, in the plugin's mosquitto order. */
typedef enum secmq_svc_level {
    SECMQ_SVC_ERR = 0,
    SECMQ_SVC_WARNING,
    SECMQ_SVC_NOTICE,
    SECMQ_SVC_INFO,
    SECMQ_SVC_DEBUG
} secmq_svc_level;

/* One log line (without newline; line borrowed for the call). */
typedef void (*secmq_authsvc_log_fn)(void *user, secmq_svc_level level,
                                     const char *line);

/* Called with a freshly loaded policy before it replaces the old one
 * (the plugin builds its signer table there). 0 to go on, -1 to keep the
 * old policy (a one-line reason in err). */
typedef int (*secmq_authsvc_load_fn)(void *user, const secmq_policy *fresh,
                                     char *err, size_t errlen);

typedef struct secmq_authsvc {
    /* Set by the caller before secmq__authsvc_start. */
    char *db_path;              /* owned (secmq__authsvc_clear frees) */
    const secmq_idpats *idpats; /* borrowed; NULL or n == 0: any id */
    secmq_guard_cfg guard_cfg;  /* login budgets (authguard.h) */
    secmq_authsvc_log_fn log;   /* required */
    void *log_user;
    secmq_authsvc_load_fn on_load; /* may be NULL */
    void *load_user;

    /* State. */
    secmq_authdb *db;
    int db_writable;
    secmq_policy policy;
    char dummy_hash[SECMQ_PW_HASH_MAX]; /* verified for unknown users */
    unsigned long long dummy_ops;
    size_t dummy_mem;
    secmq_guard *guard;
    int check_failing; /* the last reload check failed (logged once) */
} secmq_authsvc;

/* Names from clients go into log lines: at most 64 bytes of s, control
 * characters as '?', into buf (cap bytes); "(none)" for NULL. Returns the
 * string to print (buf or a constant). */
const char *secmq__printable(const char *s, char *buf, size_t cap);

/* Printf-style line through s->log. */
void secmq__svc_logf(const secmq_authsvc *s, secmq_svc_level level,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * secmq__authsvc_start -- open s->db_path (read-write, else read-only with
 * a warning), load the policy and make the login guard from s->guard_cfg.
 * sodium_init() must have succeeded. Returns SECMQ_OK, or a negative
 * SECMQ_E_* with the reason in err (nothing logged); s is then cleared
 * with secmq__authsvc_clear by the caller.
 */
int secmq__authsvc_start(secmq_authsvc *s, char *err, size_t errlen);

/*
 * secmq__authsvc_reload -- about once per reload interval (force 0), or on
 * demand (force 1: the file is opened afresh): when the database changed,
 * reopen it and load the new policy; the cached logins of users deleted,
 * disabled or with a new password are dropped. Logs what it did; a failure
 * keeps the last good policy and is logged once per outage. Returns 1 when
 * a new policy is in force, 0 when nothing changed, -1 on failure.
 */
int secmq__authsvc_reload(secmq_authsvc *s, int force);

/*
 * secmq__authsvc_login -- decide one login: name, client id (NULL when the
 * broker did not say), password (pwlen bytes), all borrowed. addr is the
 * source shown in logs; guard_key is what the login guard budgets (the
 * plugin: the client address; authd: see authd.c). now_ms is monotonic.
 * SECURITY: every login admitted by the guard costs one argon2id check
 * (unknown users too) unless it matches a recent successful check of the
 * same stored hash. Logs a refusal with its reason (or the guard's
 * summary). Returns NULL when accepted (the hash upgraded and the success
 * cached), else the reason ("bad password", "unknown user", ...; the
 * guard's refusals: "backing off").
 */
const char *secmq__authsvc_login(secmq_authsvc *s, const char *name,
                                 const char *id, const char *pw, size_t pwlen,
                                 const char *addr, const char *guard_key,
                                 uint64_t now_ms);

/* The guard's periodic summary lines (at most once a second). */
void secmq__authsvc_tick(secmq_authsvc *s, uint64_t now_ms);

/* Frees everything s owns (hashes wiped). NULL is a no-op. */
void secmq__authsvc_clear(secmq_authsvc *s);

/* A monotonic clock in ms. */
uint64_t secmq__mono_ms(void);

#endif /* SECMQ_AUTHSVC_H */
