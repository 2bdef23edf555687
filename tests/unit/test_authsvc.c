/*
 * test_authsvc.c -- the policy service the plugin and secmq-authd share
 * (broker-plugin/authsvc.c): start on a database, the login decision
 * (right and wrong passwords, unknown, disabled and invalid names, client
 * id patterns, the success cache, the guard's refusals by key, hash
 * upgrades), reloads after another connection's changes, a broken file
 * keeping the last good policy (logged once), and the on_load hook.
 *
 * The passwords below are test values, not secrets.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authdb.h"
#include "authsvc.h"
#include "check.h"
#include "pwhash.h"
#include "secmq.h"

static char tmpdir[] = "/tmp/secmq-authsvc-XXXXXX";
static char path[256];
static char last[1024];
static int nlines;
static int refuse_load;

static void log_cb(void *user, secmq_svc_level level, const char *line)
{
    (void)user;
    (void)level;
    (void)snprintf(last, sizeof last, "%s", line);
    nlines++;
}

static int load_cb(void *user, const secmq_policy *fresh, char *err,
                   size_t errlen)
{
    (void)user;
    (void)fresh;
    if (refuse_load) {
        (void)snprintf(err, errlen, "refused by the test");
        return -1;
    }
    return 0;
}

/* One change through a connection of its own (as secmq-admin makes). */
static secmq_authdb *admin(void)
{
    secmq_authdb *db = NULL;
    char err[256];

    if (secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err,
                           sizeof err) != SECMQ_OK) {
        check_fail(__FILE__, __LINE__, "cannot open %s: %s", path, err);
        exit(check_exit());
    }
    return db;
}

static void add_user(secmq_authdb *db, const char *name, const char *pw,
                     unsigned long long ops)
{
    char h[SECMQ_PW_HASH_MAX], err[256];

    CHECK_INT_EQ(secmq__pw_hash(h, pw, strlen(pw), ops, SECMQ_PW_MIN_MEM), 0);
    CHECK_INT_EQ(secmq__authdb_user_add(db, name, h, err, sizeof err),
                 SECMQ_OK);
}

static void make_db(void)
{
    secmq_authdb *db;
    char err[256];

    (void)snprintf(path, sizeof path, "%s/auth.db", tmpdir);
    CHECK_INT_EQ(
        secmq__authdb_create(path, 1, SECMQ_PW_MIN_MEM, err, sizeof err),
        SECMQ_OK);
    db = admin();
    add_user(db, "sam", "pw-s", 1);
    add_user(db, "alice", "pw-a", 1);
    add_user(db, "eve", "pw-e", 1);
    /* An older cost: upgraded at the first good login. */
    add_user(db, "bob", "pw-b", 2);
    CHECK_INT_EQ(secmq__authdb_user_set_disabled(db, "eve", 1, err, sizeof err),
                 SECMQ_OK);
    secmq__authdb_close(db);
}

static void start(secmq_authsvc *s, unsigned pause_ms)
{
    char err[256] = "";

    memset(s, 0, sizeof *s);
    secmq__guard_cfg_default(&s->guard_cfg);
    s->guard_cfg.pause_ms = pause_ms;
    s->guard_cfg.source_failures = 1000;
    s->db_path = strdup(path);
    s->log = log_cb;
    s->on_load = load_cb;
    CHECK_INT_EQ(secmq__authsvc_start(s, err, sizeof err), SECMQ_OK);
}

static const char *login(secmq_authsvc *s, const char *name, const char *id,
                         const char *pw, const char *key)
{
    return secmq__authsvc_login(s, name, id, pw, strlen(pw), "127.0.0.1", key,
                                secmq__mono_ms());
}

static void test_logins(void)
{
    secmq_authsvc s;
    secmq_guard_stats st;
    secmq_idpats ids;
    char err[128];
    const secmq_user *u;

    start(&s, 0);
    CHECK_INT_EQ((int)s.policy.nusers, 4);
    CHECK(login(&s, "sam", "c1", "pw-s", "k1") == NULL);
    CHECK_STR_EQ(login(&s, "sam", "c1", "pw-x", "k1"), "bad password");
    CHECK_CONTAINS(last, "refused login for 'sam' (client 'c1'): bad password",
                   0);
    CHECK_STR_EQ(login(&s, "mallory", "c1", "pw-s", "k1"), "unknown user");
    CHECK_STR_EQ(login(&s, "eve", "c1", "pw-e", "k1"), "disabled user");
    CHECK_STR_EQ(login(&s, "a+b", "c1", "pw-s", "k1"), "invalid username");
    CHECK_STR_EQ(login(&s, "sam", "a/b", "pw-s", "k1"), "invalid client id");
    CHECK_STR_EQ(login(&s, "", "c1", "pw-s", "k1"), "no username");
    /* No client id and no patterns: fine (authd without client_id). */
    CHECK(login(&s, "alice", NULL, "pw-a", "k1") == NULL);
    /* A repeated good login is served from the cache. */
    secmq__guard_stats(s.guard, &st);
    CHECK(login(&s, "sam", "c1", "pw-s", "k1") == NULL);
    {
        secmq_guard_stats st2;
        secmq__guard_stats(s.guard, &st2);
        CHECK(st2.cache_hits == st.cache_hits + 1);
    }
    /* bob's hash of cost 2 is upgraded to the database's cost 1. */
    u = secmq__policy_user(&s.policy, "bob");
    CHECK(secmq__pw_needs_rehash(u->hash, 1, SECMQ_PW_MIN_MEM));
    CHECK(login(&s, "bob", "c1", "pw-b", "k1") == NULL);
    u = secmq__policy_user(&s.policy, "bob");
    CHECK(!secmq__pw_needs_rehash(u->hash, 1, SECMQ_PW_MIN_MEM));
    /* Client id patterns: a login must name an id that is the user's. */
    CHECK_INT_EQ(secmq__idpats_parse(&ids, "%u %u-*", err, sizeof err), 0);
    s.idpats = &ids;
    CHECK(login(&s, "alice", "alice-1", "pw-a", "k1") == NULL);
    CHECK_STR_EQ(login(&s, "alice", "sam-1", "pw-a", "k1"),
                 "client id does not match the user's pattern");
    CHECK_STR_EQ(login(&s, "alice", NULL, "pw-a", "k1"), "no client id");
    secmq__authsvc_clear(&s);
}

static void test_guard_key(void)
{
    secmq_authsvc s;

    /* A failure pauses its guard key, and only that key. */
    start(&s, 60000);
    CHECK_STR_EQ(login(&s, "sam", "c1", "pw-x", "user sam"), "bad password");
    CHECK_STR_EQ(login(&s, "sam", "c1", "pw-s", "user sam"), "backing off");
    CHECK(login(&s, "alice", "c1", "pw-a", "user alice") == NULL);
    secmq__authsvc_clear(&s);
}

static void test_reload(void)
{
    secmq_authsvc s;
    secmq_authdb *db;
    char err[256], h[SECMQ_PW_HASH_MAX];
    int before;
    FILE *f;

    start(&s, 0);
    CHECK_INT_EQ(secmq__authsvc_reload(&s, 0), 0);
    CHECK(login(&s, "alice", "c1", "pw-a", "k") == NULL);
    CHECK(login(&s, "sam", "c1", "pw-s", "k") == NULL);
    db = admin();
    CHECK_INT_EQ(secmq__authdb_user_del(db, "alice", err, sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq__pw_hash(h, "pw-s2", 5, 1, SECMQ_PW_MIN_MEM), 0);
    CHECK_INT_EQ(secmq__authdb_user_set_hash(db, "sam", h, 1, err, sizeof err),
                 SECMQ_OK);
    secmq__authdb_close(db);
    CHECK_INT_EQ(secmq__authsvc_reload(&s, 0), 1);
    CHECK_INT_EQ((int)s.policy.nusers, 3);
    CHECK_STR_EQ(login(&s, "alice", "c1", "pw-a", "k"), "unknown user");
    /* The cached check of the old password went with the reload. */
    CHECK_STR_EQ(login(&s, "sam", "c1", "pw-s", "k"), "bad password");
    CHECK(login(&s, "sam", "c1", "pw-s2", "k") == NULL);
    /* The hook refuses: the last good policy stays. */
    refuse_load = 1;
    CHECK_INT_EQ(secmq__authsvc_reload(&s, 1), -1);
    CHECK_CONTAINS(last, "refused by the test", 0);
    refuse_load = 0;
    CHECK_INT_EQ(secmq__authsvc_reload(&s, 1), 1);
    /* A broken file: -1, the policy kept, logged once per outage. */
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("not a database\n", f);
        fclose(f);
    }
    before = nlines;
    CHECK_INT_EQ(secmq__authsvc_reload(&s, 1), -1);
    CHECK_INT_EQ(nlines, before + 1);
    CHECK_CONTAINS(last, "keeping the last good policy", 0);
    CHECK_INT_EQ(secmq__authsvc_reload(&s, 1), -1);
    CHECK_INT_EQ(nlines, before + 1);
    CHECK_INT_EQ((int)s.policy.nusers, 3);
    CHECK(login(&s, "sam", "c1", "pw-s2", "k") == NULL);
    secmq__authsvc_clear(&s);
    secmq__authsvc_clear(NULL);
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    make_db();
    RUN(test_logins);
    RUN(test_guard_key);
    RUN(test_reload);
    (void)unlink(path);
    (void)rmdir(tmpdir);
    return check_exit();
}
