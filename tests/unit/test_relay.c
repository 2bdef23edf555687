/*
 * test_relay.c -- the relay role of the broker plugin without a broker:
 * the auth database's users.relay (a version 1 file read as it is when
 * opened read-only, upgraded in place when opened for writing, a newer one
 * refused), the rules of a relayed signer (secmq__acl_compile_signer: a
 * %c pattern grants nothing, denies for every client id) and the signer
 * table (broker-plugin/relay.c) with envelopes sealed by libsecmq: each
 * verdict (mac-only and plain: not signed), the user it names, disabled
 * users and a key two users share.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "authdb.h"
#include "check.h"
#include "policy.h"
#include "pwhash.h"
#include "relay.h"
#include "secmq.h"

static char tmpdir[] = "/tmp/secmq-relay-XXXXXX";
static char path[512];

/* The version 1 schema, as secmq wrote it before users.relay. */
static const char v1_sql[] =
    "PRAGMA application_id = 1397837121;"
    "PRAGMA user_version = 1;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE users(name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0,"
    " pw_gen INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL, changed INTEGER NOT NULL);"
    "CREATE TABLE groups(name TEXT PRIMARY KEY);"
    "CREATE TABLE members(grp TEXT NOT NULL, user TEXT NOT NULL,"
    " PRIMARY KEY(grp, user));"
    "CREATE TABLE rules(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " subject TEXT, topic TEXT NOT NULL, access INTEGER NOT NULL,"
    " require_signed INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(kind, subject, topic, access));"
    "CREATE TABLE keys(user TEXT NOT NULL,"
    " pk BLOB NOT NULL CHECK(length(pk) = 32), label TEXT,"
    " PRIMARY KEY(user, pk));"
    "INSERT INTO meta VALUES('pw_ops', '1'), ('pw_mem', '8192');";

static int raw_sql(const char *sql)
{
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        fprintf(stderr, "   raw_sql: %s\n", sqlite3_errmsg(h));
    }
    sqlite3_close(h);
    return rc;
}

static long long raw_int(const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static int relay_of(int mode, const char *user)
{
    secmq_authdb *db = NULL;
    secmq_policy p = {0};
    const secmq_user *u;
    char err[256] = "";
    int r = -1;

    if (secmq__authdb_open(&db, path, mode, err, sizeof err) == SECMQ_OK &&
        secmq__authdb_load(db, &p, NULL, err, sizeof err) == SECMQ_OK &&
        (u = secmq__policy_user(&p, user)) != NULL) {
        r = u->relay;
    }
    if (err[0] != '\0') {
        fprintf(stderr, "   %s\n", err);
    }
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return r;
}

static void test_schema_upgrade(void)
{
    char hash[SECMQ_PW_HASH_MAX], sql[4096], err[256] = "";
    secmq_authdb *db = NULL;

    snprintf(path, sizeof path, "%s/v1.db", tmpdir);
    CHECK_INT_EQ(secmq__pw_hash(hash, "pw", 2, 1, SECMQ_PW_MIN_MEM), 0);
    snprintf(sql, sizeof sql,
             "%s INSERT INTO users(name, hash, created, changed)"
             " VALUES('bridge', '%s', 0, 0);",
             v1_sql, hash);
    CHECK_INT_EQ(raw_sql(sql), SQLITE_OK);
    /* Read-only: read as it is, no relay users, the file not changed. */
    CHECK_INT_EQ(relay_of(SECMQ_AUTHDB_READONLY, "bridge"), 0);
    CHECK_INT_EQ(raw_int("PRAGMA user_version"), 1);
    CHECK_INT_EQ(
        secmq__authdb_open(&db, path, SECMQ_AUTHDB_READONLY, err, sizeof err),
        SECMQ_OK);
    CHECK(secmq__authdb_user_set_relay(db, "bridge", 1, err, sizeof err) !=
          SECMQ_OK);
    secmq__authdb_close(db);
    CHECK_INT_EQ(raw_int("PRAGMA user_version"), 1);
    /* For writing: upgraded, the user kept, the flag settable. */
    CHECK_INT_EQ(
        secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(raw_int("PRAGMA user_version"), 2);
    CHECK_INT_EQ(raw_int("SELECT relay FROM users WHERE name = 'bridge'"), 0);
    CHECK_INT_EQ(secmq__authdb_user_set_relay(db, "bridge", 1, err, sizeof err),
                 SECMQ_OK);
    CHECK(secmq__authdb_user_set_relay(db, "nobody", 1, err, sizeof err) ==
          SECMQ_E_INVAL);
    CHECK(strstr(err, "nobody") != NULL);
    secmq__authdb_close(db);
    CHECK_INT_EQ(relay_of(SECMQ_AUTHDB_READONLY, "bridge"), 1);
    CHECK_INT_EQ(relay_of(SECMQ_AUTHDB_READWRITE, "bridge"), 1);
    CHECK_INT_EQ(raw_int("SELECT count(*) FROM users"), 1);
    /* A newer version is refused, whatever the mode, and left alone. */
    CHECK_INT_EQ(raw_sql("PRAGMA user_version = 3"), SQLITE_OK);
    CHECK_INT_EQ(
        secmq__authdb_open(&db, path, SECMQ_AUTHDB_READWRITE, err, sizeof err),
        SECMQ_E_CONFIG);
    CHECK(strstr(err, "newer") != NULL);
    CHECK_INT_EQ(raw_int("PRAGMA user_version"), 3);
    /* A new database is version 2 with the flag off. */
    snprintf(path, sizeof path, "%s/new.db", tmpdir);
    CHECK_INT_EQ(
        secmq__authdb_create(path, 1, SECMQ_PW_MIN_MEM, err, sizeof err),
        SECMQ_OK);
    CHECK_INT_EQ(raw_int("PRAGMA user_version"), 2);
}

/* --- a policy in memory ------------------------------------------------ */

typedef struct who {
    unsigned char pk[SECMQ_SIGN_PK_BYTES];
    unsigned char sk[SECMQ_SIGN_SK_BYTES];
    unsigned char id[SECMQ_ID_BYTES];
} who;

static who sam, eve, bob, zed;

static void keypair(who *w)
{
    crypto_sign_keypair(w->pk, w->sk);
    secmq_identity_id(w->id, w->pk);
}

static void add_user(secmq_policy *p, const char *name, int disabled,
                     const who *const *keys, size_t nkeys)
{
    secmq_user *u = &p->users[p->nusers++];

    memset(u, 0, sizeof *u);
    u->name = strdup(name);
    u->hash = strdup("$argon2id$x");
    u->disabled = disabled;
    u->keys = calloc(nkeys ? nkeys : 1, sizeof *u->keys);
    CHECK(u->name != NULL && u->hash != NULL && u->keys != NULL);
    for (size_t i = 0; i < nkeys; i++) {
        memcpy(u->keys[i], keys[i]->pk, SECMQ_SIGN_KEY_BYTES);
    }
    u->nkeys = nkeys;
}

static void add_rule(secmq_policy *p, secmq_rule_kind kind, const char *subj,
                     const char *topic, unsigned access)
{
    secmq_rule *r = &p->rules[p->nrules];

    memset(r, 0, sizeof *r);
    r->id = (int64_t)++p->nrules;
    r->kind = kind;
    r->subject = subj != NULL ? strdup(subj) : NULL;
    r->topic = strdup(topic);
    r->access = access;
}

/* bob (disabled), eve, sam, zed sorted by name; rules below. */
static void make_policy(secmq_policy *p)
{
    const who *bk[] = {&bob}, *ek[] = {&eve, &zed}, *sk[] = {&sam, &zed};

    memset(p, 0, sizeof *p);
    p->users = calloc(4, sizeof *p->users);
    p->rules = calloc(8, sizeof *p->rules);
    CHECK(p->users != NULL && p->rules != NULL);
    add_user(p, "bob", 1, bk, 1);
    add_user(p, "eve", 0, ek, 2);
    add_user(p, "sam", 0, sk, 2);
    add_user(p, "zz-nokeys", 0, NULL, 0);
    add_rule(p, SECMQ_RULE_USER, "sam", "status", SECMQ_ACL_WRITE);
    add_rule(p, SECMQ_RULE_USER, "bob", "status", SECMQ_ACL_WRITE);
    add_rule(p, SECMQ_RULE_USER, "sam", "lock/#", SECMQ_ACL_WRITE);
    add_rule(p, SECMQ_RULE_PATTERN, NULL, "dev/%c/out", SECMQ_ACL_WRITE);
    add_rule(p, SECMQ_RULE_PATTERN, NULL, "lock/x%cy/z", SECMQ_ACL_DENY);
    add_rule(p, SECMQ_RULE_PATTERN, NULL, "home/%u/#", SECMQ_ACL_WRITE);
}

static void test_signer_rules(void)
{
    secmq_policy p;
    secmq_acl *a = NULL, *b = NULL;

    make_policy(&p);
    CHECK_INT_EQ(secmq__acl_compile_signer(&p, "sam", &a), 0);
    CHECK(secmq__acl_check_topic(a, "status", SECMQ_ACL_WRITE, NULL));
    CHECK(secmq__acl_check_topic(a, "home/sam/door", SECMQ_ACL_WRITE, NULL));
    CHECK(!secmq__acl_check_topic(a, "home/eve/door", SECMQ_ACL_WRITE, NULL));
    CHECK(secmq__acl_check_topic(a, "lock/front", SECMQ_ACL_WRITE, NULL));
    /* The deny holding %c covers every client id (its level made '+'). */
    CHECK(!secmq__acl_check_topic(a, "lock/anything/z", SECMQ_ACL_WRITE, NULL));
    CHECK(secmq__acl_check_topic(a, "lock/anything/w", SECMQ_ACL_WRITE, NULL));
    /* The allow holding %c grants a signer nothing... */
    CHECK(!secmq__acl_check_topic(a, "dev/sam/out", SECMQ_ACL_WRITE, NULL));
    CHECK(!secmq__acl_check_topic(a, "dev/x/out", SECMQ_ACL_WRITE, NULL));
    /* ...while a connected client gets it for its own id. */
    CHECK_INT_EQ(secmq__acl_compile(&p, "sam", "cam1", &b), 0);
    CHECK(secmq__acl_check_topic(b, "dev/cam1/out", SECMQ_ACL_WRITE, NULL));
    CHECK(!secmq__acl_check_topic(b, "lock/xcam1y/z", SECMQ_ACL_WRITE, NULL));
    secmq__acl_free(a);
    secmq__acl_free(b);
    /* Disabled and unknown users: nothing. */
    CHECK_INT_EQ(secmq__acl_compile_signer(&p, "bob", &a), 0);
    CHECK(!secmq__acl_check_topic(a, "status", SECMQ_ACL_WRITE, NULL));
    secmq__acl_free(a);
    CHECK_INT_EQ(secmq__acl_compile_signer(&p, "nobody", &a), 0);
    CHECK(!secmq__acl_check_topic(a, "home/nobody/x", SECMQ_ACL_WRITE, NULL));
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

/* An envelope by w on topic (random channel key), signed unless mac; its
 * length, 0 when sealing failed (and said so). */
static size_t sealed_mode(unsigned char *out, size_t cap, const who *w,
                          const char *topic, int mac)
{
    unsigned char key[SECMQ_KEY_BYTES], kid[SECMQ_ID_BYTES] = {1};
    secmq_seal_params sp;
    size_t len = 0;

    randombytes_buf(key, sizeof key);
    memset(&sp, 0, sizeof sp);
    sp.mode = mac ? SECMQ_SEAL_MAC : SECMQ_SEAL_SIGNED;
    sp.channel_key = key;
    sp.key_id = kid;
    sp.sender_id = w->id;
    sp.sender_sk = mac ? NULL : w->sk;
    sp.seq = 1;
    sp.time_ms = 1;
    if (secmq_envelope_seal(out, cap, &len, &sp, topic, "hi", 2) != SECMQ_OK) {
        check_fail(__FILE__, __LINE__, "sealing for %s failed", topic);
        return 0;
    }
    return len;
}

static size_t sealed(unsigned char *out, size_t cap, const who *w,
                     const char *topic)
{
    return sealed_mode(out, cap, w, topic, 0);
}

static void test_signers(void)
{
    secmq_policy p;
    secmq_signers s;
    unsigned char env[512];
    const char *signer = NULL;
    size_t n;
    who stranger;

    make_policy(&p);
    keypair(&stranger);
    CHECK_INT_EQ(secmq__signers_build(&p, &s), 0);
    CHECK_INT_EQ(s.nusers, 2); /* eve, sam: bob disabled, zz has no keys */
    CHECK_INT_EQ(s.nkeys, 4);  /* zed's key under both */
    n = sealed(env, sizeof env, &sam, "status");
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_OK);
    CHECK_STR_EQ(signer, "sam");
    /* Moved to another topic the signature fails. */
    CHECK_INT_EQ(secmq__signers_check(&s, "other", env, n, &signer),
                 SECMQ_RELAY_BAD_SIGNATURE);
    CHECK(signer == NULL);
    /* eve's valid signature, but eve may not write status. */
    n = sealed(env, sizeof env, &eve, "status");
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_NOT_ALLOWED);
    CHECK_STR_EQ(signer, "eve");
    /* eve may write home/eve/...: the same table lets it through. */
    n = sealed(env, sizeof env, &eve, "home/eve/door");
    CHECK_INT_EQ(secmq__signers_check(&s, "home/eve/door", env, n, &signer),
                 SECMQ_RELAY_OK);
    CHECK_STR_EQ(signer, "eve");
    /* zed's key is registered for eve and sam: sam's rules allow. */
    n = sealed(env, sizeof env, &zed, "status");
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_OK);
    CHECK_STR_EQ(signer, "sam");
    /* bob is disabled: his key counts for no one. */
    n = sealed(env, sizeof env, &bob, "status");
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_UNKNOWN_KEY);
    n = sealed(env, sizeof env, &stranger, "status");
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_UNKNOWN_KEY);
    /* Tampered signature of sam. */
    n = sealed(env, sizeof env, &sam, "status");
    env[n - 1] ^= 1;
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_BAD_SIGNATURE);
    CHECK_INT_EQ(secmq__signers_check(&s, "status", "plain", 5, &signer),
                 SECMQ_RELAY_NOT_SIGNED);
    /* Mac-only by sam: no signature, so no signer. */
    n = sealed_mode(env, sizeof env, &sam, "status", 1);
    CHECK(n > 0);
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_NOT_SIGNED);
    CHECK(signer == NULL);
    CHECK_INT_EQ(secmq__signers_check(&s, "status", NULL, 0, NULL),
                 SECMQ_RELAY_NOT_SIGNED);
    CHECK(strcmp(secmq__relay_verdict_str(SECMQ_RELAY_UNKNOWN_KEY),
                 "key not registered for any user") == 0);
    secmq__signers_free(&s);
    secmq__signers_free(&s); /* empty: a no-op */
    secmq__signers_free(NULL);
    /* An empty policy: an empty table that knows no key. */
    secmq__policy_clear(&p);
    CHECK_INT_EQ(secmq__signers_build(&p, &s), 0);
    n = sealed(env, sizeof env, &sam, "status");
    CHECK_INT_EQ(secmq__signers_check(&s, "status", env, n, &signer),
                 SECMQ_RELAY_UNKNOWN_KEY);
    secmq__signers_free(&s);
}

static void cleanup(void)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    keypair(&sam);
    keypair(&eve);
    keypair(&bob);
    keypair(&zed);
    RUN(test_schema_upgrade);
    RUN(test_signer_rules);
    RUN(test_signers);
    cleanup();
    return check_exit();
}
