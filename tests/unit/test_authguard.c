/*
 * test_authguard.c -- the broker plugin's login guard
 * (broker-plugin/authguard.c): per-source budgets, pauses and doubling
 * backoff, the per-username budget that never locks out a clean source,
 * IPv6 /64 grouping, rate-limited log notes, the keyed success cache (hit,
 * age, changed hash, prune after reload, bounded size) and the options.
 * Time is passed in, so nothing here sleeps.
 *
 * The passwords below are test values, not secrets.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authguard.h"
#include "check.h"
#include "policy.h"

#define H1 "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaDE"
#define H2 "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaDI"

static secmq_guard *make(unsigned src, unsigned user, unsigned pause_ms)
{
    secmq_guard_cfg c;
    secmq_guard *g = NULL;

    secmq__guard_cfg_default(&c);
    c.source_failures = src;
    c.user_failures = user;
    c.pause_ms = pause_ms;
    c.backoff_s = 10;
    c.backoff_max_s = 40;
    c.window_s = 100;
    c.cache_ttl_s = 60;
    c.log_interval_s = 5;
    if (secmq__guard_new(&g, &c) != 0) {
        check_fail(__FILE__, __LINE__, "secmq__guard_new refused a config");
    }
    return g;
}

/* n failed logins for name from addr at time t (ms). */
static void fail(secmq_guard *g, const char *addr, const char *name, int n,
                 uint64_t t)
{
    secmq_guard_note note;

    for (int i = 0; i < n; i++) {
        CHECK_INT_EQ(secmq__guard_admit(g, addr, t, &note), 0);
        (void)secmq__guard_result(g, addr, name, 0, t, &note);
    }
}

static int admitted(secmq_guard *g, const char *addr, uint64_t t)
{
    secmq_guard_note note;

    return secmq__guard_admit(g, addr, t, &note) == 0;
}

static void test_source_budget_and_backoff(void)
{
    secmq_guard *g = make(3, 0, 0);
    secmq_guard_note note;
    secmq_guard_stats st;

    if (g == NULL) {
        return;
    }
    fail(g, "127.0.0.2", "alice", 2, 1000);
    CHECK(admitted(g, "127.0.0.2", 1000));
    CHECK_INT_EQ(secmq__guard_admit(g, "127.0.0.2", 1000, &note), 0);
    CHECK_INT_EQ(secmq__guard_result(g, "127.0.0.2", "alice", 0, 1000, &note),
                 1);
    CHECK(note.log);
    CHECK_INT_EQ((int)note.retry_s, 10);
    CHECK_STR_EQ(note.addr, "127.0.0.2");
    /* Refused unchecked, whatever the password; another source is not. */
    CHECK(!admitted(g, "127.0.0.2", 1500));
    CHECK(admitted(g, "127.0.0.1", 1500));
    CHECK(!admitted(g, "127.0.0.2", 10999));
    /* After the backoff one more failure backs off again, twice as long. */
    CHECK(admitted(g, "127.0.0.2", 11000));
    CHECK_INT_EQ(secmq__guard_result(g, "127.0.0.2", "alice", 0, 11000, &note),
                 1);
    CHECK_INT_EQ((int)note.retry_s, 20);
    CHECK(!admitted(g, "127.0.0.2", 30999));
    CHECK(admitted(g, "127.0.0.2", 31000));
    /* ... up to backoff_max. */
    (void)secmq__guard_result(g, "127.0.0.2", "alice", 0, 31000, &note);
    CHECK_INT_EQ((int)note.retry_s, 40);
    (void)secmq__guard_result(g, "127.0.0.2", "alice", 0, 71000, &note);
    CHECK_INT_EQ((int)note.retry_s, 40);
    /* A success forgives nothing; quiet for the window after the backoff
     * starts afresh with the full budget. */
    (void)secmq__guard_result(g, "127.0.0.2", "alice", 1, 111000, &note);
    CHECK(admitted(g, "127.0.0.2", 111000 + 100000));
    fail(g, "127.0.0.2", "alice", 2, 211000);
    CHECK(admitted(g, "127.0.0.2", 211001));
    secmq__guard_stats(g, &st);
    CHECK(st.backoffs == 4);
    CHECK(st.refused_unchecked >= 3);
    secmq__guard_free(g);
}

static void test_pause_after_failure(void)
{
    secmq_guard *g = make(5, 0, 1000);
    secmq_guard_note note;

    if (g == NULL) {
        return;
    }
    fail(g, "10.0.0.7", "bob", 1, 5000);
    /* A burst of parallel guesses: one was checked, the rest wait. */
    CHECK(!admitted(g, "10.0.0.7", 5000));
    CHECK(!admitted(g, "10.0.0.7", 5999));
    CHECK(admitted(g, "10.0.0.7", 6000));
    (void)secmq__guard_result(g, "10.0.0.7", "bob", 0, 6000, &note);
    CHECK(!note.log); /* within the budget: no backoff line */
    secmq__guard_free(g);
}

static void test_refusal_notes_rate_limited(void)
{
    secmq_guard *g = make(1, 0, 0);
    secmq_guard_note note;
    int lines = 0;

    if (g == NULL) {
        return;
    }
    fail(g, "192.0.2.9", "x", 1, 0);
    /* 1000 refusals within one log interval (5 s): one line, the first. */
    for (int i = 0; i < 1000; i++) {
        CHECK_INT_EQ(secmq__guard_admit(g, "192.0.2.9", 1 + (uint64_t)i, &note),
                     1);
        if (i == 0) {
            CHECK(note.log);
            CHECK(note.held == 1);
            CHECK_STR_EQ(note.addr, "192.0.2.9");
            CHECK_INT_EQ((int)note.retry_s, 10);
        }
        lines += note.log;
    }
    CHECK_INT_EQ(lines, 1);
    CHECK_INT_EQ(secmq__guard_admit(g, "192.0.2.9", 5000, &note), 1);
    CHECK(!note.log);
    /* The next line, an interval after the first, sums up the rest. */
    CHECK_INT_EQ(secmq__guard_admit(g, "192.0.2.9", 5001, &note), 1);
    CHECK(note.log);
    CHECK(note.held == 1001); /* 2..1000, 5000 and this one */
    secmq__guard_free(g);
}

static int flushed;
static unsigned long flushed_held;

static void on_flush(const secmq_guard_note *n, void *user)
{
    (void)user;
    flushed++;
    flushed_held += n->held;
}

static void test_flush_summary(void)
{
    secmq_guard *g = make(1, 0, 0);
    secmq_guard_note note;

    if (g == NULL) {
        return;
    }
    fail(g, "192.0.2.10", "x", 1, 0);
    for (int i = 0; i < 7; i++) {
        (void)secmq__guard_admit(g, "192.0.2.10", 100, &note);
    }
    flushed = 0;
    flushed_held = 0;
    secmq__guard_flush(g, 1000, on_flush, NULL);
    CHECK_INT_EQ(flushed, 0); /* interval not over */
    secmq__guard_flush(g, 6000, on_flush, NULL);
    CHECK_INT_EQ(flushed, 1);
    CHECK(flushed_held == 6); /* the first refusal had its own line */
    secmq__guard_flush(g, 20000, on_flush, NULL);
    CHECK_INT_EQ(flushed, 1); /* nothing new held */
    secmq__guard_free(g);
}

static void test_user_budget_spares_clean_source(void)
{
    secmq_guard *g = make(100, 3, 0);
    secmq_guard_note note;

    if (g == NULL) {
        return;
    }
    fail(g, "127.0.0.2", "alice", 2, 1000);
    CHECK(admitted(g, "127.0.0.2", 1000));
    /* The third failure for alice puts the name over its budget: the
     * failing source backs off although its own budget is 100. */
    CHECK_INT_EQ(secmq__guard_result(g, "127.0.0.2", "alice", 0, 1000, &note),
                 1);
    CHECK(!admitted(g, "127.0.0.2", 1001));
    /* Another source failing for alice backs off at its first failure. */
    CHECK(admitted(g, "127.0.0.3", 1001));
    CHECK_INT_EQ(secmq__guard_result(g, "127.0.0.3", "alice", 0, 1001, &note),
                 1);
    CHECK(!admitted(g, "127.0.0.3", 1002));
    /* A source that has not failed is still checked: the genuine user. */
    CHECK(admitted(g, "127.0.0.1", 1002));
    /* Other names are not affected. */
    CHECK(admitted(g, "127.0.0.4", 1002));
    CHECK_INT_EQ(secmq__guard_result(g, "127.0.0.4", "bob", 0, 1002, &note), 0);
    /* An invalid name (NULL) charges the source only. */
    CHECK_INT_EQ(secmq__guard_result(g, "127.0.0.5", NULL, 0, 1003, &note), 0);
    secmq__guard_free(g);
}

static void test_address_forms(void)
{
    secmq_guard *g = make(1, 0, 0);
    secmq_guard_note note;

    if (g == NULL) {
        return;
    }
    /* IPv6: one /64 is one source. */
    (void)secmq__guard_result(g, "2001:db8:1:2::5", "x", 0, 0, &note);
    CHECK_STR_EQ(note.addr, "2001:db8:1:2::/64");
    CHECK(!admitted(g, "2001:db8:1:2:ffff::1", 1));
    CHECK(admitted(g, "2001:db8:1:3::5", 1));
    /* An IPv4-mapped address is the IPv4 address. */
    (void)secmq__guard_result(g, "::ffff:198.51.100.4", "x", 0, 0, &note);
    CHECK_STR_EQ(note.addr, "198.51.100.4");
    CHECK(!admitted(g, "198.51.100.4", 1));
    /* No address, or something else: a bucket of its own, printable. */
    (void)secmq__guard_result(g, NULL, "x", 0, 0, &note);
    CHECK(!admitted(g, NULL, 1));
    CHECK(admitted(g, "not-an-address", 1));
    (void)secmq__guard_result(g, "bad\nline", "x", 0, 0, &note);
    CHECK_STR_EQ(note.addr, "bad?line");
    secmq__guard_free(g);
}

static void test_table_bounded(void)
{
    secmq_guard *g = make(2, 2, 0);
    char addr[32];

    if (g == NULL) {
        return;
    }
    /* Far more sources and names than the tables hold: no growth, no
     * crash; the latest failing source is still tracked. */
    for (int i = 0; i < 20000; i++) {
        char name[32];
        snprintf(addr, sizeof addr, "10.%d.%d.%d", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        snprintf(name, sizeof name, "u%d", i);
        fail(g, addr, name, 1, (uint64_t)i);
    }
    fail(g, addr, "u19999", 1, 20000);
    CHECK(!admitted(g, addr, 20001));
    secmq__guard_free(g);
}

static void test_cache(void)
{
    secmq_guard *g = make(5, 0, 0);

    if (g == NULL) {
        return;
    }
    CHECK(!secmq__guard_cache_hit(g, "alice", "pw-a", 4, H1, 0));
    secmq__guard_cache_put(g, "alice", "pw-a", 4, H1, 0);
    CHECK(secmq__guard_cache_hit(g, "alice", "pw-a", 4, H1, 1000));
    /* Another password, another name, the bytes moved between the two. */
    CHECK(!secmq__guard_cache_hit(g, "alice", "pw-b", 4, H1, 1000));
    CHECK(!secmq__guard_cache_hit(g, "alic", "epw-a", 5, H1, 1000));
    CHECK(!secmq__guard_cache_hit(g, "bob", "pw-a", 4, H1, 1000));
    /* Binary-safe length: a prefix of the password is not the password. */
    CHECK(!secmq__guard_cache_hit(g, "alice", "pw-a", 3, H1, 1000));
    /* Another stored hash (a new password): no hit, and the entry goes. */
    CHECK(!secmq__guard_cache_hit(g, "alice", "pw-a", 4, H2, 1000));
    CHECK(!secmq__guard_cache_hit(g, "alice", "pw-a", 4, H1, 1000));
    /* Age: at most cache_ttl (60 s) after the check that made it. */
    secmq__guard_cache_put(g, "alice", "pw-a", 4, H1, 2000);
    CHECK(secmq__guard_cache_hit(g, "alice", "pw-a", 4, H1, 61999));
    CHECK(!secmq__guard_cache_hit(g, "alice", "pw-a", 4, H1, 62000));
    secmq__guard_free(g);
}

static void add_user(secmq_policy *p, const char *name, const char *hash,
                     int disabled)
{
    secmq_user *u = &p->users[p->nusers++];

    memset(u, 0, sizeof *u);
    u->name = strdup(name);
    u->hash = strdup(hash);
    u->disabled = disabled;
}

static void test_cache_prune(void)
{
    secmq_guard *g = make(5, 0, 0);
    secmq_policy p;
    secmq_guard_stats st;

    if (g == NULL) {
        return;
    }
    secmq__guard_cache_put(g, "alice", "a", 1, H1, 0);
    secmq__guard_cache_put(g, "bob", "b", 1, H1, 0);
    secmq__guard_cache_put(g, "carol", "c", 1, H1, 0);
    secmq__guard_cache_put(g, "dave", "d", 1, H1, 0);
    /* After the reload: alice unchanged, bob has a new hash, carol is
     * disabled, dave is gone. Sorted by name, as authdb loads them. */
    memset(&p, 0, sizeof p);
    p.users = calloc(3, sizeof *p.users);
    if (p.users == NULL) {
        CHECK(0);
        secmq__guard_free(g);
        return;
    }
    add_user(&p, "alice", H1, 0);
    add_user(&p, "bob", H2, 0);
    add_user(&p, "carol", H1, 1);
    CHECK_INT_EQ((int)secmq__guard_cache_prune(g, &p), 3);
    CHECK(secmq__guard_cache_hit(g, "alice", "a", 1, H1, 1));
    CHECK(!secmq__guard_cache_hit(g, "bob", "b", 1, H1, 1));
    CHECK(!secmq__guard_cache_hit(g, "carol", "c", 1, H1, 1));
    CHECK(!secmq__guard_cache_hit(g, "dave", "d", 1, H1, 1));
    secmq__guard_stats(g, &st);
    CHECK(st.cache_dropped == 3);
    secmq__policy_clear(&p);
    secmq__guard_free(g);
}

static void test_cache_bounded_and_off(void)
{
    secmq_guard_cfg c;
    secmq_guard *g = NULL;
    int hits = 0;
    char name[32];

    secmq__guard_cfg_default(&c);
    c.cache_size = 16;
    CHECK_INT_EQ(secmq__guard_new(&g, &c), 0);
    if (g == NULL) {
        return;
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "dev%d", i);
        secmq__guard_cache_put(g, name, "pw", 2, H1, (uint64_t)i);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "dev%d", i);
        hits += secmq__guard_cache_hit(g, name, "pw", 2, H1, 1000);
    }
    CHECK(hits > 0 && hits <= 16);
    /* The newest is always kept (the oldest of its set goes). */
    CHECK(secmq__guard_cache_hit(g, "dev999", "pw", 2, H1, 1000));
    secmq__guard_free(g);

    c.cache_size = 0;
    g = NULL;
    CHECK_INT_EQ(secmq__guard_new(&g, &c), 0);
    if (g != NULL) {
        secmq__guard_cache_put(g, "a", "pw", 2, H1, 0);
        CHECK(!secmq__guard_cache_hit(g, "a", "pw", 2, H1, 1));
    }
    secmq__guard_free(g);
    secmq__guard_free(NULL);
}

static void test_options(void)
{
    secmq_guard_cfg c, d;
    secmq_guard *g = NULL;
    char err[160];

    secmq__guard_cfg_default(&c);
    d = c;
    CHECK_INT_EQ(secmq__guard_option(&c, "database", "/x", err, sizeof err), 0);
    CHECK_INT_EQ(
        secmq__guard_option(&c, "login_source_failures", "7", err, sizeof err),
        1);
    CHECK_INT_EQ((int)c.source_failures, 7);
    CHECK_INT_EQ(
        secmq__guard_option(&c, "login_pause_ms", "0", err, sizeof err), 1);
    CHECK_INT_EQ((int)c.pause_ms, 0);
    CHECK_INT_EQ(
        secmq__guard_option(&c, "login_cache_size", "0", err, sizeof err), 1);
    d = c;
    CHECK_INT_EQ(secmq__guard_option(&c, "login_backoff", "0", err, sizeof err),
                 -1);
    CHECK_CONTAINS(err, "plugin_opt_login_backoff", 0);
    CHECK_INT_EQ(
        secmq__guard_option(&c, "login_window", "10s", err, sizeof err), -1);
    CHECK_INT_EQ(
        secmq__guard_option(&c, "login_cache_ttl", "", err, sizeof err), -1);
    CHECK_INT_EQ(
        secmq__guard_option(&c, "login_source_failures", "-1", err, sizeof err),
        -1);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    /* Inconsistent settings are refused at creation. */
    c.backoff_s = 100;
    c.backoff_max_s = 10;
    CHECK_INT_EQ(secmq__guard_new(&g, &c), -1);
    CHECK(g == NULL);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    RUN(test_source_budget_and_backoff);
    RUN(test_pause_after_failure);
    RUN(test_refusal_notes_rate_limited);
    RUN(test_flush_summary);
    RUN(test_user_budget_spares_clean_source);
    RUN(test_address_forms);
    RUN(test_table_bounded);
    RUN(test_cache);
    RUN(test_cache_prune);
    RUN(test_cache_bounded_and_off);
    RUN(test_options);
    return check_exit();
}
