/*
 * authsvc.c -- the policy service the plugin and secmq-authd share: the
 * auth database kept open and loaded, reloads when it changes, and the
 * decision on one login (authsvc.h). The callers add what their broker
 * needs around it: the plugin its table of connected clients and kicks,
 * authd the HTTP contract of RabbitMQ.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <secmq.h>

#include "authsvc.h"

#define ERR_LEN 256

const char *secmq__printable(const char *s, char *buf, size_t cap)
{
    size_t i = 0;

    if (s == NULL) {
        return "(none)";
    }
    for (; s[i] != '\0' && i + 1 < cap && i < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

void secmq__svc_logf(const secmq_authsvc *s, secmq_svc_level level,
                     const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_user, level, line);
}

uint64_t secmq__mono_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A hash of a random password at the policy's cost: unknown users are
 * checked against it so they cost what a known user costs. */
static int make_dummy(secmq_authsvc *s)
{
    unsigned char pw[32];
    int rc;

    if (s->dummy_hash[0] != '\0' && s->dummy_ops == s->policy.pw_ops &&
        s->dummy_mem == s->policy.pw_mem) {
        return 0;
    }
    randombytes_buf(pw, sizeof pw);
    rc = secmq__pw_hash(s->dummy_hash, (const char *)pw, sizeof pw,
                        s->policy.pw_ops, s->policy.pw_mem);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0) {
        return -1;
    }
    s->dummy_ops = s->policy.pw_ops;
    s->dummy_mem = s->policy.pw_mem;
    return 0;
}

static int open_db(secmq_authsvc *s, char *err, size_t errlen)
{
    int rc = secmq__authdb_open(&s->db, s->db_path, SECMQ_AUTHDB_READWRITE, err,
                                errlen);

    s->db_writable = rc == SECMQ_OK;
    if (rc == SECMQ_E_IO) {
        /* A read-only database works; only hash upgrades are lost. */
        rc = secmq__authdb_open(&s->db, s->db_path, SECMQ_AUTHDB_READONLY, err,
                                errlen);
        if (rc == SECMQ_OK) {
            secmq__svc_logf(s, SECMQ_SVC_WARNING,
                            "%s is read-only for the broker: old password "
                            "hashes will not be upgraded",
                            s->db_path);
        }
    }
    return rc;
}

/* Load the policy (replacing the old one only on success). */
static int load_policy(secmq_authsvc *s, char *err, size_t errlen)
{
    secmq_policy fresh = {0};
    size_t skipped = 0;
    int rc = secmq__authdb_load(s->db, &fresh, &skipped, err, errlen);

    if (rc != SECMQ_OK) {
        return rc;
    }
    if (s->on_load != NULL &&
        s->on_load(s->load_user, &fresh, err, errlen) != 0) {
        secmq__policy_clear(&fresh);
        return SECMQ_E_NOMEM;
    }
    secmq__policy_clear(&s->policy);
    s->policy = fresh;
    if (skipped > 0) {
        secmq__svc_logf(s, SECMQ_SVC_WARNING,
                        "%zu invalid rows in %s were ignored (fix them with "
                        "secmq-admin)",
                        skipped, s->db_path);
    }
    if (make_dummy(s) != 0) {
        (void)snprintf(err, errlen, "cannot hash at the database's cost");
        return SECMQ_E_NOMEM;
    }
    return SECMQ_OK;
}

int secmq__authsvc_start(secmq_authsvc *s, char *err, size_t errlen)
{
    int rc;

    if (s->guard_cfg.backoff_max_s < s->guard_cfg.backoff_s) {
        (void)snprintf(err, errlen,
                       "the login backoff maximum must not be "
                       "less than the first backoff");
        return SECMQ_E_INVAL;
    }
    if (secmq__guard_new(&s->guard, &s->guard_cfg) != 0) {
        (void)snprintf(err, errlen, "out of memory for the login guard");
        return SECMQ_E_NOMEM;
    }
    rc = open_db(s, err, errlen);
    if (rc == SECMQ_OK) {
        rc = load_policy(s, err, errlen);
    }
    return rc;
}

int secmq__authsvc_reload(secmq_authsvc *s, int force)
{
    char err[ERR_LEN] = "";
    /* After a failed reopen there is no connection: try again. */
    int rc = s->db != NULL ? secmq__authdb_changed(s->db, err, sizeof err) : 1;

    if (rc == 1 || force) {
        /* A replaced file (or a forced reload) is opened afresh. */
        secmq__authdb_close(s->db);
        s->db = NULL;
        rc = open_db(s, err, sizeof err);
        if (rc == SECMQ_OK) {
            rc = load_policy(s, err, sizeof err);
        }
        if (rc != SECMQ_OK) {
            /* Tried again every interval; logged once per outage. */
            if (!s->check_failing) {
                secmq__svc_logf(s, SECMQ_SVC_ERR,
                                "cannot reload %s: %s; keeping the last good "
                                "policy",
                                s->db_path, err);
            }
            s->check_failing = 1;
            return -1;
        }
        /* SECURITY: cached logins of users deleted, disabled or with a
         * new password end with the reload that brings the change. */
        (void)secmq__guard_cache_prune(s->guard, &s->policy);
        s->check_failing = 0;
        return 1;
    }
    if (rc < 0) {
        /* Logged once per outage, not every second of it. */
        if (!s->check_failing) {
            secmq__svc_logf(s, SECMQ_SVC_ERR,
                            "cannot check %s for changes: %s; keeping the "
                            "last good policy",
                            s->db_path, err);
        }
        s->check_failing = 1;
        return -1;
    }
    s->check_failing = 0;
    return 0;
}

/* After a successful login with an old or imported hash: store an
 * argon2id hash at the current cost (once per user and cost change). */
static void maybe_rehash(secmq_authsvc *s, const char *name, const char *pw,
                         size_t pwlen)
{
    const secmq_user *u = secmq__policy_user(&s->policy, name);
    char fresh[SECMQ_PW_HASH_MAX];
    char err[ERR_LEN];
    char *copy;

    if (u == NULL || s->db == NULL || !s->db_writable ||
        !secmq__pw_needs_rehash(u->hash, s->policy.pw_ops, s->policy.pw_mem)) {
        return;
    }
    if (secmq__pw_hash(fresh, pw, pwlen, s->policy.pw_ops, s->policy.pw_mem) !=
        0) {
        return;
    }
    if (secmq__authdb_user_set_hash(s->db, name, fresh, 0, err, sizeof err) !=
        SECMQ_OK) {
        secmq__svc_logf(s, SECMQ_SVC_WARNING,
                        "cannot upgrade the password hash of '%s': %s", name,
                        err);
        sodium_memzero(fresh, sizeof fresh);
        return;
    }
    copy = strdup(fresh);
    sodium_memzero(fresh, sizeof fresh);
    if (copy != NULL) {
        /* The policy owns its users; swap the hash in place. */
        secmq_user *mu = (secmq_user *)u;
        sodium_memzero(mu->hash, strlen(mu->hash));
        free(mu->hash);
        mu->hash = copy;
    }
    secmq__svc_logf(s, SECMQ_SVC_INFO,
                    "upgraded the password hash of '%s' to argon2id", name);
}

/* Why a login that passed the guard is refused, or NULL. */
static const char *refusal(const secmq_authsvc *s, const char *name,
                           const char *id, const secmq_user *u, int ok)
{
    if (u == NULL) {
        return "unknown user";
    }
    if (!ok) {
        return "bad password";
    }
    if (u->disabled) {
        return "disabled user";
    }
    if (s->idpats == NULL || s->idpats->n == 0) {
        return NULL;
    }
    if (id == NULL) {
        /* SECURITY: with client id patterns, a login must name its id. */
        return "no client id";
    }
    return secmq__idpats_check(s->idpats, &s->policy, name, id, NULL);
}

const char *secmq__authsvc_login(secmq_authsvc *s, const char *name,
                                 const char *id, const char *pw, size_t pwlen,
                                 const char *addr, const char *guard_key,
                                 uint64_t now_ms)
{
    const secmq_user *u = NULL;
    const char *why = NULL;
    secmq_guard_note note;
    int ok, cached = 0;
    char b1[80], b2[80];

    if (pw == NULL) {
        pw = "";
        pwlen = 0;
    }
    if (name == NULL || name[0] == '\0') {
        why = "no username";
    } else if (!secmq__name_ok(name)) {
        why = "invalid username";
    } else if (id != NULL && !secmq__name_ok(id)) {
        why = "invalid client id";
    } else if (pwlen > SECMQ_PW_MAX) {
        why = "bad password";
    }
    if (why == NULL) {
        u = secmq__policy_user(&s->policy, name);
    }
    /* SECURITY: every login that gets this far costs one argon2id check,
     * whether the user exists, is disabled or has an imported hash, so
     * timing does not tell which names exist; except that a source over
     * its failure budget is refused before any check (the same answer as
     * a wrong password), and a login that matches a recent successful
     * check of the same stored hash needs none. */
    if (secmq__guard_admit(s->guard, guard_key, now_ms, &note)) {
        if (note.log) {
            secmq__svc_logf(s, SECMQ_SVC_NOTICE,
                            "refused login for '%s' (client '%s'): not "
                            "checked, the address is backing off after failed "
                            "logins (from %s; %lu refused since the last "
                            "line, %u s more)",
                            secmq__printable(name, b1, sizeof b1),
                            secmq__printable(id, b2, sizeof b2), note.addr,
                            note.held, note.retry_s);
        }
        return "backing off";
    }
    if (u != NULL &&
        secmq__guard_cache_hit(s->guard, name, pw, pwlen, u->hash, now_ms)) {
        ok = 1;
        cached = 1;
    } else if (u != NULL && strncmp(u->hash, "$argon2id$", 10) == 0) {
        ok = secmq__pw_verify(u->hash, pw, pwlen);
    } else {
        /* Unknown user, or a cheap imported mosquitto hash. */
        (void)secmq__pw_verify(s->dummy_hash, pw, pwlen);
        ok = u != NULL && secmq__pw_verify(u->hash, pw, pwlen);
    }
    if (why == NULL) {
        why = refusal(s, name, id, u, ok);
    }
    if (why != NULL) {
        secmq__svc_logf(s, SECMQ_SVC_NOTICE,
                        "refused login for '%s' (client '%s'): %s (from %s)",
                        secmq__printable(name, b1, sizeof b1),
                        secmq__printable(id, b2, sizeof b2), why,
                        addr != NULL ? addr : "?");
        /* A right password refused for a disabled user or a client id of
         * someone else is not a guess: it spends no failure budget, so
         * one misconfigured device does not back off its neighbours. */
        if (!ok && secmq__guard_result(
                       s->guard, guard_key,
                       name != NULL && secmq__name_ok(name) ? name : NULL, 0,
                       now_ms, &note)) {
            secmq__svc_logf(s, SECMQ_SVC_NOTICE,
                            "too many failed logins from %s: its logins are "
                            "refused without checking for %u s",
                            note.addr, note.retry_s);
        }
        return why;
    }
    maybe_rehash(s, name, pw, pwlen);
    if (cached) {
        secmq__svc_logf(s, SECMQ_SVC_DEBUG,
                        "login for '%s' (client '%s') from %s matched a "
                        "recent check (not hashed)",
                        secmq__printable(name, b1, sizeof b1),
                        secmq__printable(id, b2, sizeof b2),
                        addr != NULL ? addr : "?");
    } else {
        /* After maybe_rehash: the hash the next login will meet. */
        u = secmq__policy_user(&s->policy, name);
        if (u != NULL) {
            secmq__guard_cache_put(s->guard, name, pw, pwlen, u->hash, now_ms);
        }
    }
    return NULL;
}

/* The summary line of a backing-off source's refusals (one per source per
 * log interval, so a flood cannot fill the disk). */
static void log_held(const secmq_guard_note *n, void *user)
{
    const secmq_authsvc *s = user;

    secmq__svc_logf(s, SECMQ_SVC_NOTICE,
                    "refused %lu more logins from %s without checking them: "
                    "the address is backing off after failed logins (%u s "
                    "more)",
                    n->held, n->addr, n->retry_s);
}

void secmq__authsvc_tick(secmq_authsvc *s, uint64_t now_ms)
{
    secmq__guard_flush(s->guard, now_ms, log_held, s);
}

void secmq__authsvc_clear(secmq_authsvc *s)
{
    if (s == NULL) {
        return;
    }
    secmq__policy_clear(&s->policy);
    secmq__authdb_close(s->db);
    s->db = NULL;
    free(s->db_path);
    s->db_path = NULL;
    sodium_memzero(s->dummy_hash, sizeof s->dummy_hash);
    secmq__guard_free(s->guard);
    s->guard = NULL;
}
