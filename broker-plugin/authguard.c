/*
 * authguard.c -- login-flood protection (authguard.h): failure budgets per
 * source address and per user name, decided before any password hash,
 * with doubling backoff; and a bounded, aged cache of successful checks
 * keyed with a per-process secret. Fixed-size set-associative tables
 * indexed with a keyed SipHash, so neither memory nor the choice of which
 * entry to evict is under a client's control. Not the password check
 * itself (pwhash.c) and not the log lines (plugin.c).
 */
#include "authguard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define WAYS 8u
#define SRC_SETS 512u  /* 4096 sources */
#define NAME_SETS 512u /* 4096 user names */
#define KEY_BYTES 16u
#define TAG_BYTES 32u
#define FP_BYTES 16u
#define FLUSH_EVERY_MS 1000u
#define OPT_MAX 86400u /* seconds options: at most a day */

/* The per-process secret: three independent keys. */
#define SECRET_TAG 0u  /* BLAKE2b key of (name, password) tags */
#define SECRET_FP 32u  /* BLAKE2b key of stored-hash fingerprints */
#define SECRET_IDX 64u /* SipHash key of table indexes and odd sources */
#define SECRET_BYTES (64u + crypto_shorthash_KEYBYTES)

typedef struct src_entry {
    int used;
    unsigned char key[KEY_BYTES]; /* IPv4-mapped address or IPv6 /64 */
    char label[SECMQ_GUARD_ADDR_MAX];
    uint32_t fails;         /* within the window */
    uint64_t last_ms;       /* latest failure */
    uint64_t blocked_until; /* refused unchecked before this */
    uint64_t backoff_ms;    /* length of its next backoff */
    unsigned long held;     /* refusals not logged yet */
    uint64_t next_log;      /* no refusal line before this */
} src_entry;

typedef struct name_entry {
    int used;
    unsigned char key[KEY_BYTES]; /* keyed hash of the name */
    uint32_t fails;
    uint64_t last_ms;
} name_entry;

typedef struct cache_entry {
    int used;
    unsigned char tag[TAG_BYTES]; /* keyed hash of (name, password) */
    unsigned char fp[FP_BYTES];   /* keyed hash of the stored hash */
    uint64_t made_ms;
    char name[SECMQ_AUTH_NAME_MAX + 1];
} cache_entry;

struct secmq_guard {
    secmq_guard_cfg cfg;
    unsigned char *secret; /* sodium_malloc, SECRET_BYTES */
    src_entry *src;        /* SRC_SETS * WAYS */
    name_entry *names;     /* NAME_SETS * WAYS */
    cache_entry *cache;    /* sodium_malloc, cache_sets * WAYS; or NULL */
    size_t cache_sets;
    uint64_t next_flush;
    secmq_guard_stats st;
};

/* --- configuration -------------------------------------------------------- */

void secmq__guard_cfg_default(secmq_guard_cfg *c)
{
    c->source_failures = SECMQ_GUARD_SOURCE_FAILURES;
    c->user_failures = SECMQ_GUARD_USER_FAILURES;
    c->pause_ms = SECMQ_GUARD_PAUSE_MS;
    c->backoff_s = SECMQ_GUARD_BACKOFF_S;
    c->backoff_max_s = SECMQ_GUARD_BACKOFF_MAX_S;
    c->window_s = SECMQ_GUARD_WINDOW_S;
    c->cache_size = SECMQ_GUARD_CACHE_SIZE;
    c->cache_ttl_s = SECMQ_GUARD_CACHE_TTL_S;
    c->log_interval_s = SECMQ_GUARD_LOG_INTERVAL_S;
}

typedef struct opt_def {
    const char *key;
    size_t offset;
    unsigned min;
    unsigned max;
    const char *unit;
} opt_def;

static const opt_def opts[] = {
    {"login_source_failures", offsetof(secmq_guard_cfg, source_failures), 1,
     1000000, "failed logins"},
    {"login_user_failures", offsetof(secmq_guard_cfg, user_failures), 0,
     1000000, "failed logins (0: off)"},
    {"login_pause_ms", offsetof(secmq_guard_cfg, pause_ms), 0, 60000,
     "milliseconds (0: no pause)"},
    {"login_backoff", offsetof(secmq_guard_cfg, backoff_s), 1, OPT_MAX,
     "seconds"},
    {"login_backoff_max", offsetof(secmq_guard_cfg, backoff_max_s), 1, OPT_MAX,
     "seconds"},
    {"login_window", offsetof(secmq_guard_cfg, window_s), 1, OPT_MAX,
     "seconds"},
    /* About 330 bytes an entry: at most ~33 MB. */
    {"login_cache_size", offsetof(secmq_guard_cfg, cache_size), 0, 100000,
     "entries (0: no cache)"},
    {"login_cache_ttl", offsetof(secmq_guard_cfg, cache_ttl_s), 1, OPT_MAX,
     "seconds"},
    {"login_log_interval", offsetof(secmq_guard_cfg, log_interval_s), 1,
     OPT_MAX, "seconds"},
};

int secmq__guard_option(secmq_guard_cfg *c, const char *key, const char *value,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char *end = NULL;
        long long v;

        if (strcmp(key, opts[i].key) != 0) {
            continue;
        }
        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' ||
            v < (long long)opts[i].min || v > (long long)opts[i].max) {
            (void)snprintf(
                err, errlen, "plugin_opt_%s must be %u..%u %s, not '%s'",
                opts[i].key, opts[i].min, opts[i].max, opts[i].unit, value);
            return -1;
        }
        *(unsigned *)(void *)((char *)c + opts[i].offset) = (unsigned)v;
        return 1;
    }
    return 0;
}

/* --- life cycle ------------------------------------------------------------
 */

int secmq__guard_new(secmq_guard **out, const secmq_guard_cfg *cfg)
{
    secmq_guard *g;

    *out = NULL;
    if (cfg->backoff_s == 0 || cfg->backoff_max_s < cfg->backoff_s ||
        cfg->window_s == 0 || cfg->cache_ttl_s == 0 ||
        cfg->source_failures == 0 || cfg->log_interval_s == 0) {
        return -1;
    }
    g = calloc(1, sizeof *g);
    if (g == NULL) {
        return -1;
    }
    g->cfg = *cfg;
    g->secret = sodium_malloc(SECRET_BYTES);
    g->src = calloc(SRC_SETS * WAYS, sizeof *g->src);
    g->names = calloc(NAME_SETS * WAYS, sizeof *g->names);
    if (g->secret == NULL || g->src == NULL || g->names == NULL) {
        secmq__guard_free(g);
        return -1;
    }
    randombytes_buf(g->secret, SECRET_BYTES);
    if (cfg->cache_size > 0) {
        size_t bytes;
        g->cache_sets = (cfg->cache_size + WAYS - 1) / WAYS;
        bytes = g->cache_sets * WAYS * sizeof *g->cache;
        g->cache = sodium_malloc(bytes);
        if (g->cache == NULL) {
            secmq__guard_free(g);
            return -1;
        }
        memset(g->cache, 0, bytes);
    }
    *out = g;
    return 0;
}

void secmq__guard_free(secmq_guard *g)
{
    if (g == NULL) {
        return;
    }
    /* SECURITY: sodium_free wipes the secret and the cached tags. */
    sodium_free(g->secret);
    sodium_free(g->cache);
    free(g->src);
    free(g->names);
    free(g);
}

/* --- keys and indexes ------------------------------------------------------
 */

static size_t index_of(const secmq_guard *g, const unsigned char *key,
                       size_t len, size_t sets)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    (void)crypto_shorthash(h, key, len, g->secret + SECRET_IDX);
    for (size_t i = 0; i < sizeof h; i++) {
        v = (v << 8) | h[i];
    }
    return (size_t)(v % sets);
}

/* Names from clients go into log lines: at most 40 bytes, no control
 * characters, so a hostile string cannot forge lines. */
static void printable(char *out, size_t cap, const char *s)
{
    size_t i = 0;

    for (; s[i] != '\0' && i + 1 < cap && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    out[i] = '\0';
}

/* The budget key of a source: the IPv4 address (as ::ffff:a.b.c.d), or
 * the /64 of an IPv6 address (one host is given a /64, so counting single
 * addresses would give it 2^64 budgets); anything else (a unix socket, no
 * address) a keyed hash of the string. label: how logs name it. */
static void source_key(const secmq_guard *g, const char *addr,
                       unsigned char key[KEY_BYTES],
                       char label[SECMQ_GUARD_ADDR_MAX])
{
    struct in_addr a4;
    struct in6_addr a6;
    char buf[INET6_ADDRSTRLEN];

    memset(key, 0, KEY_BYTES);
    if (addr != NULL && inet_pton(AF_INET, addr, &a4) == 1) {
        key[10] = 0xff;
        key[11] = 0xff;
        memcpy(key + 12, &a4, 4);
        (void)inet_ntop(AF_INET, &a4, buf, sizeof buf);
        (void)snprintf(label, SECMQ_GUARD_ADDR_MAX, "%s", buf);
    } else if (addr != NULL && inet_pton(AF_INET6, addr, &a6) == 1) {
        memcpy(key, &a6, KEY_BYTES);
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            (void)inet_ntop(AF_INET, key + 12, buf, sizeof buf);
            (void)snprintf(label, SECMQ_GUARD_ADDR_MAX, "%s", buf);
        } else {
            memset(key + 8, 0, KEY_BYTES - 8);
            (void)inet_ntop(AF_INET6, key, buf, sizeof buf);
            (void)snprintf(label, SECMQ_GUARD_ADDR_MAX, "%s/64", buf);
        }
    } else {
        const char *s = addr != NULL ? addr : "";
        (void)crypto_generichash(key, KEY_BYTES, (const unsigned char *)s,
                                 strlen(s), g->secret + SECRET_IDX,
                                 crypto_shorthash_KEYBYTES);
        /* Never equal to an address key (those have key[0..9] of an
         * IPv4-mapped address or a /64 with zero low half). */
        key[KEY_BYTES - 1] |= 0x01;
        printable(label, SECMQ_GUARD_ADDR_MAX, addr != NULL ? addr : "?");
    }
}

static void name_key(const secmq_guard *g, const char *name,
                     unsigned char key[KEY_BYTES])
{
    (void)crypto_generichash(key, KEY_BYTES, (const unsigned char *)name,
                             strlen(name), g->secret + SECRET_IDX,
                             crypto_shorthash_KEYBYTES);
}

/* A source or name is idle (starts afresh) once its backoff is over and no
 * failure came for a window. */
static int src_idle(const secmq_guard *g, const src_entry *e, uint64_t now)
{
    uint64_t last =
        e->last_ms > e->blocked_until ? e->last_ms : e->blocked_until;

    return now >= e->blocked_until &&
           now - last >= (uint64_t)g->cfg.window_s * 1000u;
}

static void src_reset(const secmq_guard *g, src_entry *e)
{
    e->fails = 0;
    e->blocked_until = 0;
    e->held = 0;
    e->backoff_ms = (uint64_t)g->cfg.backoff_s * 1000u;
}

/* The entry of the source, or NULL when it has none (create 0), or a
 * fresh one (create 1) in place of an empty, idle or least recently
 * failing entry of its set (entries backing off are kept while any
 * other can go). */
static src_entry *src_find(secmq_guard *g, const unsigned char *key,
                           const char *label, uint64_t now, int create)
{
    src_entry *set = &g->src[index_of(g, key, KEY_BYTES, SRC_SETS) * WAYS];
    src_entry *victim = NULL;

    for (unsigned i = 0; i < WAYS; i++) {
        if (set[i].used && memcmp(set[i].key, key, KEY_BYTES) == 0) {
            if (src_idle(g, &set[i], now)) {
                src_reset(g, &set[i]);
            }
            return &set[i];
        }
    }
    if (!create) {
        return NULL;
    }
    for (unsigned i = 0; i < WAYS; i++) {
        src_entry *e = &set[i];
        int e_free = !e->used || src_idle(g, e, now);
        int v_free;
        if (victim == NULL) {
            victim = e;
            continue;
        }
        v_free = !victim->used || src_idle(g, victim, now);
        if (e_free != v_free) {
            victim = e_free ? e : victim;
        } else if ((now < e->blocked_until) != (now < victim->blocked_until)) {
            victim = now < e->blocked_until ? victim : e;
        } else if (e->last_ms < victim->last_ms) {
            victim = e;
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->used = 1;
    memcpy(victim->key, key, KEY_BYTES);
    (void)snprintf(victim->label, sizeof victim->label, "%s", label);
    src_reset(g, victim);
    return victim;
}

static name_entry *name_find(secmq_guard *g, const unsigned char *key,
                             uint64_t now)
{
    name_entry *set = &g->names[index_of(g, key, KEY_BYTES, NAME_SETS) * WAYS];
    name_entry *victim = NULL;
    uint64_t window = (uint64_t)g->cfg.window_s * 1000u;

    for (unsigned i = 0; i < WAYS; i++) {
        if (set[i].used && memcmp(set[i].key, key, KEY_BYTES) == 0) {
            if (now - set[i].last_ms >= window) {
                set[i].fails = 0;
            }
            return &set[i];
        }
    }
    /* An empty entry, else the one that failed longest ago. */
    for (unsigned i = 0; i < WAYS; i++) {
        if (!set[i].used) {
            victim = &set[i];
            break;
        }
        if (victim == NULL || set[i].last_ms < victim->last_ms) {
            victim = &set[i];
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->used = 1;
    memcpy(victim->key, key, KEY_BYTES);
    return victim;
}

/* --- budgets ---------------------------------------------------------------
 */

static void note_of(const secmq_guard *g, const src_entry *e, uint64_t now,
                    secmq_guard_note *note)
{
    (void)g;
    memset(note, 0, sizeof *note);
    (void)snprintf(note->addr, sizeof note->addr, "%s", e->label);
    note->retry_s = e->blocked_until > now
                        ? (unsigned)((e->blocked_until - now + 999u) / 1000u)
                        : 0;
}

int secmq__guard_admit(secmq_guard *g, const char *addr, uint64_t now_ms,
                       secmq_guard_note *note)
{
    unsigned char key[KEY_BYTES];
    char label[SECMQ_GUARD_ADDR_MAX];
    src_entry *e;

    memset(note, 0, sizeof *note);
    source_key(g, addr, key, label);
    e = src_find(g, key, label, now_ms, 0);
    if (e == NULL || now_ms >= e->blocked_until) {
        return 0;
    }
    /* SECURITY: a backing-off source is refused before any hashing and
     * before the cache is looked at: a cache hit would otherwise tell it
     * which guess was right without spending its budget. */
    g->st.refused_unchecked++;
    e->held++;
    if (now_ms >= e->next_log) {
        note_of(g, e, now_ms, note);
        note->log = 1;
        note->held = e->held;
        e->held = 0;
        e->next_log = now_ms + (uint64_t)g->cfg.log_interval_s * 1000u;
    }
    return 1;
}

int secmq__guard_result(secmq_guard *g, const char *addr, const char *name,
                        int ok, uint64_t now_ms, secmq_guard_note *note)
{
    unsigned char key[KEY_BYTES];
    char label[SECMQ_GUARD_ADDR_MAX];
    src_entry *e;
    int over_user = 0;

    memset(note, 0, sizeof *note);
    /* SECURITY: a success forgives nothing: with one valid account of its
     * own, a host could otherwise reset its budget between guesses. */
    if (ok) {
        return 0;
    }
    source_key(g, addr, key, label);
    e = src_find(g, key, label, now_ms, 1);
    if (e->fails < UINT32_MAX) {
        e->fails++;
    }
    e->last_ms = now_ms;
    if (name != NULL && g->cfg.user_failures > 0) {
        unsigned char nk[KEY_BYTES];
        name_entry *n;
        name_key(g, name, nk);
        n = name_find(g, nk, now_ms);
        if (n->fails < UINT32_MAX) {
            n->fails++;
        }
        n->last_ms = now_ms;
        /* SECURITY: a name under attack from many sources gives each
         * source one failure, not a budget; a source that has not
         * failed is still checked, so the genuine user (right password,
         * another address) is never locked out. Unknown names are
         * counted alike, so this tells nothing about which names exist. */
        over_user = n->fails >= g->cfg.user_failures;
    }
    if (e->fails < g->cfg.source_failures && !over_user) {
        /* SECURITY: within its budget a source still waits pause_ms
         * after each failure: fifty parallel guesses cost one hash. */
        if (now_ms + g->cfg.pause_ms > e->blocked_until) {
            e->blocked_until = now_ms + g->cfg.pause_ms;
        }
        return 0;
    }
    e->blocked_until = now_ms + e->backoff_ms;
    e->backoff_ms *= 2u;
    if (e->backoff_ms > (uint64_t)g->cfg.backoff_max_s * 1000u) {
        e->backoff_ms = (uint64_t)g->cfg.backoff_max_s * 1000u;
    }
    /* The first refusal is logged at once and opens the interval. */
    e->next_log = now_ms;
    e->held = 0;
    g->st.backoffs++;
    note_of(g, e, now_ms, note);
    note->log = 1;
    return 1;
}

void secmq__guard_flush(secmq_guard *g, uint64_t now_ms,
                        void (*fn)(const secmq_guard_note *note, void *user),
                        void *user)
{
    secmq_guard_note note;

    if (now_ms < g->next_flush) {
        return;
    }
    g->next_flush = now_ms + FLUSH_EVERY_MS;
    for (size_t i = 0; i < (size_t)SRC_SETS * WAYS; i++) {
        src_entry *e = &g->src[i];
        if (!e->used) {
            continue;
        }
        if (e->held > 0 && now_ms >= e->next_log) {
            note_of(g, e, now_ms, &note);
            note.log = 1;
            note.held = e->held;
            e->held = 0;
            e->next_log = now_ms + (uint64_t)g->cfg.log_interval_s * 1000u;
            fn(&note, user);
        }
        if (e->held == 0 && src_idle(g, e, now_ms)) {
            memset(e, 0, sizeof *e);
        }
    }
}

/* --- the success cache -----------------------------------------------------
 */

static void tag_of(const secmq_guard *g, const char *name, const char *pw,
                   size_t pwlen, unsigned char tag[TAG_BYTES])
{
    crypto_generichash_state st;
    size_t nlen = strlen(name);
    unsigned char len[4] = {(unsigned char)(nlen >> 24),
                            (unsigned char)(nlen >> 16),
                            (unsigned char)(nlen >> 8), (unsigned char)nlen};

    /* The name's length first: (name, password) pairs cannot collide by
     * moving bytes from one to the other. */
    (void)crypto_generichash_init(&st, g->secret + SECRET_TAG, 32, TAG_BYTES);
    (void)crypto_generichash_update(&st, len, sizeof len);
    (void)crypto_generichash_update(&st, (const unsigned char *)name, nlen);
    (void)crypto_generichash_update(&st, (const unsigned char *)pw, pwlen);
    (void)crypto_generichash_final(&st, tag, TAG_BYTES);
    sodium_memzero(&st, sizeof st);
}

static void fp_of(const secmq_guard *g, const char *hash,
                  unsigned char fp[FP_BYTES])
{
    (void)crypto_generichash(fp, FP_BYTES, (const unsigned char *)hash,
                             strlen(hash), g->secret + SECRET_FP, 32);
}

static void entry_wipe(cache_entry *e)
{
    sodium_memzero(e, sizeof *e);
}

int secmq__guard_cache_hit(secmq_guard *g, const char *name, const char *pw,
                           size_t pwlen, const char *hash, uint64_t now_ms)
{
    unsigned char tag[TAG_BYTES];
    unsigned char fp[FP_BYTES];
    cache_entry *set;
    int hit = 0;

    if (g->cache == NULL || name == NULL || hash == NULL ||
        strlen(name) > SECMQ_AUTH_NAME_MAX) {
        return 0;
    }
    tag_of(g, name, pw, pwlen, tag);
    set = &g->cache[(size_t)(((uint64_t)tag[0] << 24 | (uint64_t)tag[1] << 16 |
                              (uint64_t)tag[2] << 8 | tag[3]) %
                             g->cache_sets) *
                    WAYS];
    for (unsigned i = 0; i < WAYS; i++) {
        cache_entry *e = &set[i];
        if (!e->used || sodium_memcmp(e->tag, tag, TAG_BYTES) != 0) {
            continue;
        }
        if (now_ms - e->made_ms >= (uint64_t)g->cfg.cache_ttl_s * 1000u) {
            entry_wipe(e);
            break;
        }
        fp_of(g, hash, fp);
        /* SECURITY: a check made against another stored hash (the
         * password was changed or the hash replaced) does not count. */
        if (sodium_memcmp(e->fp, fp, FP_BYTES) == 0 &&
            strcmp(e->name, name) == 0) {
            hit = 1;
        } else {
            entry_wipe(e);
            g->st.cache_dropped++;
        }
        break;
    }
    sodium_memzero(tag, sizeof tag);
    if (hit) {
        g->st.cache_hits++;
    }
    return hit;
}

void secmq__guard_cache_put(secmq_guard *g, const char *name, const char *pw,
                            size_t pwlen, const char *hash, uint64_t now_ms)
{
    unsigned char tag[TAG_BYTES];
    cache_entry *set;
    cache_entry *victim = NULL;
    size_t nlen;

    if (g->cache == NULL || name == NULL || hash == NULL) {
        return;
    }
    nlen = strlen(name);
    if (nlen > SECMQ_AUTH_NAME_MAX) {
        return;
    }
    tag_of(g, name, pw, pwlen, tag);
    set = &g->cache[(size_t)(((uint64_t)tag[0] << 24 | (uint64_t)tag[1] << 16 |
                              (uint64_t)tag[2] << 8 | tag[3]) %
                             g->cache_sets) *
                    WAYS];
    for (unsigned i = 0; i < WAYS && victim == NULL; i++) {
        if (set[i].used && sodium_memcmp(set[i].tag, tag, TAG_BYTES) == 0) {
            victim = &set[i];
        }
    }
    for (unsigned i = 0; i < WAYS && victim == NULL; i++) {
        if (!set[i].used) {
            victim = &set[i];
        }
    }
    if (victim == NULL) {
        victim = &set[0];
        for (unsigned i = 1; i < WAYS; i++) {
            if (set[i].made_ms < victim->made_ms) {
                victim = &set[i];
            }
        }
    }
    entry_wipe(victim);
    victim->used = 1;
    memcpy(victim->tag, tag, TAG_BYTES);
    fp_of(g, hash, victim->fp);
    memcpy(victim->name, name, nlen + 1);
    victim->made_ms = now_ms;
    sodium_memzero(tag, sizeof tag);
}

size_t secmq__guard_cache_prune(secmq_guard *g, const secmq_policy *pol)
{
    unsigned char fp[FP_BYTES];
    size_t dropped = 0;

    if (g->cache == NULL) {
        return 0;
    }
    for (size_t i = 0; i < g->cache_sets * WAYS; i++) {
        cache_entry *e = &g->cache[i];
        const secmq_user *u;
        if (!e->used) {
            continue;
        }
        u = secmq__policy_user(pol, e->name);
        if (u != NULL && !u->disabled && u->hash != NULL) {
            fp_of(g, u->hash, fp);
            if (sodium_memcmp(fp, e->fp, FP_BYTES) == 0) {
                continue;
            }
        }
        entry_wipe(e);
        dropped++;
    }
    g->st.cache_dropped += dropped;
    return dropped;
}

void secmq__guard_stats(const secmq_guard *g, secmq_guard_stats *out)
{
    *out = g->st;
}
