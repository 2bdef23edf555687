/*
 * authguard.h -- login-flood protection for the broker plugin: per-source
 * and per-username failure budgets with backoff, decided before any
 * password hashing, and a cache of recent successful checks keyed with a
 * per-process secret, so that neither a flood of bad logins nor a
 * reconnect storm of genuine devices spends the broker's only thread on
 * argon2id. Pure logic over libsodium: no mosquitto, no sqlite, no clock
 * (the caller passes the time), no logging (the caller logs what it is
 * told), so the unit tests drive it directly.
 */
#ifndef SECMQ_AUTHGUARD_H
#define SECMQ_AUTHGUARD_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Defaults of secmq_guard_cfg; docs/DEPLOY.md explains them. */
#define SECMQ_GUARD_SOURCE_FAILURES 3u /* per source, then backoff */
#define SECMQ_GUARD_USER_FAILURES 50u  /* per user name, all sources */
#define SECMQ_GUARD_PAUSE_MS 1000u     /* after each failure, per source */
#define SECMQ_GUARD_BACKOFF_S 10u      /* first backoff of a source */
#define SECMQ_GUARD_BACKOFF_MAX_S 900u /* doubling stops here */
#define SECMQ_GUARD_WINDOW_S 600u      /* failures forgotten after */
#define SECMQ_GUARD_CACHE_SIZE 4096u   /* successful checks kept */
#define SECMQ_GUARD_CACHE_TTL_S 900u   /* each for at most this long */
#define SECMQ_GUARD_LOG_INTERVAL_S 60u /* one summary line per source */

#define SECMQ_GUARD_ADDR_MAX 64 /* printable source, with NUL */

/* Budgets and sizes, set from plugin_opt_login_* options. */
typedef struct secmq_guard_cfg {
    unsigned source_failures; /* failed logins from one source (an IPv4
                                 address, an IPv6 /64) within window_s
                                 before its logins are refused unchecked */
    unsigned user_failures;   /* failed logins for one user name from all
                                 sources within window_s after which each
                                 source failing for it backs off at its
                                 first failure; 0: no per-user budget */
    unsigned pause_ms;        /* after each failed login, a source's logins
                                 are refused unchecked for this long (so a
                                 burst of parallel guesses costs one hash,
                                 not a budget of them); 0: no pause */
    unsigned backoff_s;       /* a source's first backoff; doubled each
                                 time it fails again, up to backoff_max_s */
    unsigned backoff_max_s;
    unsigned window_s;       /* a source or name quiet this long (after its
                                backoff) starts afresh */
    unsigned cache_size;     /* successful checks cached; 0: no cache */
    unsigned cache_ttl_s;    /* a cached check is used at most this long
                                after the check that made it */
    unsigned log_interval_s; /* refusals of a backed-off source are
                                summed up in one line per interval */
} secmq_guard_cfg;

typedef struct secmq_guard secmq_guard;

/* What the plugin should log about a refusal (secmq__guard_admit). */
typedef struct secmq_guard_note {
    int log;            /* 1: log a line now */
    unsigned long held; /* refusals the line stands for (this one and the
                           unlogged ones before it) */
    unsigned retry_s;   /* seconds left of the source's backoff */
    char addr[SECMQ_GUARD_ADDR_MAX]; /* the source, printable ("a.b.c.d",
                                        "2001:db8::/64") */
} secmq_guard_note;

/* Counters since secmq__guard_new, for logs and tests. */
typedef struct secmq_guard_stats {
    unsigned long long refused_unchecked; /* refused before hashing */
    unsigned long long backoffs;          /* backoffs started */
    unsigned long long cache_hits;        /* logins that needed no hash */
    unsigned long long cache_dropped;     /* entries invalidated */
} secmq_guard_stats;

/* Fills c with the defaults above. */
void secmq__guard_cfg_default(secmq_guard_cfg *c);

/*
 * secmq__guard_option -- applies plugin option key (without its
 * "plugin_opt_" prefix) = value (borrowed) to c if it is one of the
 * guard's: login_source_failures, login_user_failures, login_pause_ms,
 * login_backoff,
 * login_backoff_max, login_window, login_cache_size, login_cache_ttl,
 * login_log_interval. Returns 1 if applied, 0 if key is not a guard
 * option (c unchanged), -1 if the value is out of range (c unchanged, the
 * reason in err).
 */
int secmq__guard_option(secmq_guard_cfg *c, const char *key, const char *value,
                        char *err, size_t errlen);

/*
 * secmq__guard_new -- a guard with configuration cfg (copied): fixed-size
 * tables for sources and names, the success cache and its secret key in
 * sodium_malloc memory. sodium_init() must have succeeded. Returns 0 and
 * sets *out (freed with secmq__guard_free), or -1 (out of memory, or
 * backoff_s 0 / backoff_max_s < backoff_s / a zero window or TTL).
 */
int secmq__guard_new(secmq_guard **out, const secmq_guard_cfg *cfg);

/* Wipes and frees g (keys, cached tags, tables). NULL is a no-op. */
void secmq__guard_free(secmq_guard *g);

/*
 * secmq__guard_admit -- called before any password check, with the peer
 * address (borrowed; NULL or unparsable: one shared bucket per distinct
 * string) and a monotonic time in ms. Returns 0: check the login as usual;
 * 1: refuse it without checking (the source is backing off; note says
 * whether and what to log). Never allocates.
 */
int secmq__guard_admit(secmq_guard *g, const char *addr, uint64_t now_ms,
                       secmq_guard_note *note);

/*
 * secmq__guard_result -- records the outcome of a login that was checked
 * (admitted): ok 1 accepted, 0 refused. name is the user name (borrowed;
 * NULL when it was not a valid name: only the source is charged). Failures
 * count against the source and the name. Returns 1 if this failure
 * started a backoff of the source (note filled for a log line: retry_s
 * is its length), else 0.
 */
int secmq__guard_result(secmq_guard *g, const char *addr, const char *name,
                        int ok, uint64_t now_ms, secmq_guard_note *note);

/*
 * secmq__guard_cache_hit -- 1 if the login (name, pw of pwlen bytes, both
 * borrowed) matches a cached successful check younger than the TTL that
 * was made against the stored hash `hash` (the user's current one,
 * borrowed), so it needs no password hash now; else 0 (an expired entry is
 * wiped). SECURITY: entries hold keyed BLAKE2b tags of (name, password)
 * and of the stored hash, never a password.
 */
int secmq__guard_cache_hit(secmq_guard *g, const char *name, const char *pw,
                           size_t pwlen, const char *hash, uint64_t now_ms);

/*
 * secmq__guard_cache_put -- remembers that (name, pw) was accepted against
 * stored hash `hash` (all borrowed) at now_ms. No-op without a cache or
 * for names longer than SECMQ_AUTH_NAME_MAX; replaces the oldest entry of
 * its set when full.
 */
void secmq__guard_cache_put(secmq_guard *g, const char *name, const char *pw,
                            size_t pwlen, const char *hash, uint64_t now_ms);

/*
 * secmq__guard_cache_prune -- after a reload: wipes every cached check
 * whose user is gone from pol, is disabled, or has another stored hash
 * (a new password, or an upgraded hash). Returns how many were dropped.
 */
size_t secmq__guard_cache_prune(secmq_guard *g, const secmq_policy *pol);

/*
 * secmq__guard_flush -- at most once a second (else returns at once):
 * for each backing-off source with refusals not yet logged whose log
 * interval is over, calls fn(note, user) once (note borrowed for the
 * call) and restarts its interval. Sources idle past their window are
 * forgotten here too.
 */
void secmq__guard_flush(secmq_guard *g, uint64_t now_ms,
                        void (*fn)(const secmq_guard_note *note, void *user),
                        void *user);

/* Copies g's counters into out. */
void secmq__guard_stats(const secmq_guard *g, secmq_guard_stats *out);

#endif /* SECMQ_AUTHGUARD_H */
