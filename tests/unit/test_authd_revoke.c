/*
 * test_authd_revoke.c -- the parts of secmq-authd's revocation that need
 * no RabbitMQ (authd/authd_revoke.h): the connection list of the
 * management API (json-c), the credentials file and its mode, URL checks
 * and escaping, and the remembered answers asked again of a changed
 * policy (a removed rule, a disabled user, the bound on pairs, too many
 * questions). The passwords below are test values, not secrets.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "authd_revoke.h"
#include "check.h"

static char tmpdir[] = "/tmp/secmq-authd-revoke-XXXXXX";

static void test_conns(void)
{
    /* As RabbitMQ 3.10 answers with ?columns=...: an MQTT connection
     * (client_properties given twice, the first one empty) and an AMQP
     * one (no client id). */
    static const char body[] =
        "[{\"client_properties\":{},\"client_properties\":{\"client_id\":"
        "\"alice-c1\",\"product\":\"MQTT client\"},\"connected_at\":"
        "1796585560323,\"name\":\"127.0.0.1:37166 -> 127.0.0.1:48867\","
        "\"user\":\"alice\",\"variable_map\":{\"client_id\":\"alice-c1\"}},"
        "{\"name\":\"amqp 1\",\"user\":\"sam\",\"client_properties\":{}},"
        "{\"name\":\"vm only\",\"variable_map\":{\"client_id\":\"c2\"},"
        "\"client_properties\":{\"client_id\":\"other\"},\"connected_at\":"
        "\"soon\"}]";
    static const char *const bad[] = {"",
                                      "{}",
                                      "[1]",
                                      "[{\"user\":\"a\"}]",
                                      "[{\"name\":5}]",
                                      "[{\"name\":\"a\"}] x",
                                      "[{\"name\":\"a\"}",
                                      "nul"};
    authd_conn *c = NULL;
    size_t n = 0;
    char err[256];

    CHECK_INT_EQ(authd_conns_parse(body, strlen(body), &c, &n, err, sizeof err),
                 0);
    CHECK_INT_EQ((int)n, 3);
    CHECK_STR_EQ(c[0].name, "127.0.0.1:37166 -> 127.0.0.1:48867");
    CHECK_STR_EQ(c[0].user, "alice");
    CHECK_STR_EQ(c[0].client_id, "alice-c1");
    CHECK(c[0].connected_at == 1796585560323LL);
    CHECK_STR_EQ(c[1].user, "sam");
    CHECK(c[1].client_id == NULL);
    CHECK(c[1].connected_at == -1);
    /* variable_map first; a time that is not a number is none. */
    CHECK_STR_EQ(c[2].client_id, "c2");
    CHECK(c[2].user == NULL);
    CHECK(c[2].connected_at == -1);
    authd_conns_free(c, n);

    /* A NUL inside a string: no such user (not "alice"); no such name. */
    {
        static const char nul_user[] =
            "[{\"name\":\"n\",\"user\":\"alice\\u0000x\"}]";
        static const char nul_name[] = "[{\"name\":\"n\\u0000x\"}]";
        CHECK_INT_EQ(authd_conns_parse(nul_user, strlen(nul_user), &c, &n, err,
                                       sizeof err),
                     0);
        CHECK_INT_EQ((int)n, 1);
        CHECK(c[0].user == NULL);
        authd_conns_free(c, n);
        CHECK_INT_EQ(authd_conns_parse(nul_name, strlen(nul_name), &c, &n, err,
                                       sizeof err),
                     -1);
    }
    CHECK_INT_EQ(authd_conns_parse("[]", 2, &c, &n, err, sizeof err), 0);
    CHECK_INT_EQ((int)n, 0);
    authd_conns_free(c, n);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECKF(authd_conns_parse(bad[i], strlen(bad[i]), &c, &n, err,
                                 sizeof err) == -1,
               "accepted %s", bad[i]);
        CHECK(c == NULL && n == 0 && err[0] != '\0');
    }
    /* Deeper than the parser's bound. */
    {
        char deep[200];
        memset(deep, '[', sizeof deep);
        CHECK_INT_EQ(
            authd_conns_parse(deep, sizeof deep, &c, &n, err, sizeof err), -1);
    }
}

static const char *write_file(const char *name, const char *text, int mode)
{
    static char path[300];
    int fd;

    (void)snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    (void)unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        close(fd) != 0 || chmod(path, (mode_t)mode) != 0) {
        check_fail(__FILE__, __LINE__, "cannot write %s", path);
        exit(check_exit());
    }
    return path;
}

static void test_creds(void)
{
    char user[64], pass[64], err[512];
    char big[AUTHD_CREDS_MAX + 10];
    static const char *const bad_text[] = {
        "nocolon\n", ":pw\n", "user:\n", "user:pw\nmore\n", "", "us\0er:pw"};
    static const int bad_modes[] = {0640, 0604, 0620, 0602, 0644, 0666};

    CHECK_INT_EQ(authd_creds_read(write_file("c", "mgmt:s3:cr:et\n", 0600),
                                  user, sizeof user, pass, sizeof pass, err,
                                  sizeof err),
                 0);
    CHECK_STR_EQ(user, "mgmt");
    CHECK_STR_EQ(pass, "s3:cr:et");
    CHECK_INT_EQ(authd_creds_read(write_file("c", "m:p\r\n", 0400), user,
                                  sizeof user, pass, sizeof pass, err,
                                  sizeof err),
                 0);
    CHECK_STR_EQ(pass, "p");
    CHECK_INT_EQ(authd_creds_read(write_file("c", "m:p", 0600), user,
                                  sizeof user, pass, sizeof pass, err,
                                  sizeof err),
                 0);
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        CHECK_INT_EQ(authd_creds_read(
                         write_file("c", "m:topsecret\n", bad_modes[i]), user,
                         sizeof user, pass, sizeof pass, err, sizeof err),
                     -1);
        CHECK_CONTAINS(err, "may be read or written by others", 0);
        CHECK(strstr(err, "topsecret") == NULL);
    }
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        CHECKF(authd_creds_read(write_file("c", bad_text[i], 0600), user,
                                sizeof user, pass, sizeof pass, err,
                                sizeof err) == -1,
               "accepted text %zu", i);
    }
    /* Too long, a user that does not fit, a directory, a symlink, none. */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[3] = ':';
    CHECK_INT_EQ(authd_creds_read(write_file("c", big, 0600), user, sizeof user,
                                  pass, sizeof pass, err, sizeof err),
                 -1);
    CHECK_INT_EQ(authd_creds_read(write_file("c", "mgmt:pw\n", 0600), user, 3,
                                  pass, sizeof pass, err, sizeof err),
                 -1);
    CHECK_INT_EQ(authd_creds_read(tmpdir, user, sizeof user, pass, sizeof pass,
                                  err, sizeof err),
                 -1);
    {
        char link[300], target[300];
        (void)snprintf(target, sizeof target, "%s",
                       write_file("t", "m:p\n", 0600));
        (void)snprintf(link, sizeof link, "%s/link", tmpdir);
        CHECK_INT_EQ(symlink(target, link), 0);
        CHECK_INT_EQ(authd_creds_read(link, user, sizeof user, pass,
                                      sizeof pass, err, sizeof err),
                     -1);
        (void)unlink(link);
        (void)unlink(target);
    }
    CHECK_INT_EQ(authd_creds_read("/nonexistent/creds", user, sizeof user, pass,
                                  sizeof pass, err, sizeof err),
                 -1);
    CHECK_CONTAINS(err, "cannot open", 0);
}

static void test_urls(void)
{
    static const char *const good[] = {
        "http://127.0.0.1:15672", "http://localhost:15672/",
        "http://[::1]:15672",     "http://127.1.2.3",
        "https://rabbit.example", "https://192.0.2.1:15671"};
    static const char *const bad[] = {"http://rabbit.example:15672",
                                      "http://127.0.0.1.evil.example",
                                      "http://192.0.2.1",
                                      "ftp://127.0.0.1",
                                      "http://u:p@127.0.0.1:1",
                                      "http://u@127.0.0.1:1",
                                      "not a url",
                                      ""};
    char err[512], *e;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECKF(authd_mgmt_check_url(good[i], err, sizeof err) == 0,
               "refused %s: %s", good[i], err);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(authd_mgmt_check_url(bad[i], err, sizeof err) == -1,
               "accepted %s", bad[i]);
    }
    CHECK_INT_EQ(
        authd_mgmt_check_url("http://u:hunter2@127.0.0.1", err, sizeof err),
        -1);
    CHECK(strstr(err, "hunter2") == NULL);
    e = authd_mgmt_escape("127.0.0.1:37166 -> 127.0.0.1:48867");
    CHECK_STR_EQ(e, "127.0.0.1%3A37166%20-%3E%20127.0.0.1%3A48867");
    free(e);
    e = authd_mgmt_escape("a/b?c#d%e~_\xff");
    CHECK_STR_EQ(e, "a%2Fb%3Fc%23d%25e~_%FF");
    free(e);
}

/* --- remembered answers ------------------------------------------------ */

static secmq_user users[3];
static secmq_rule rules[2];

/* alice (enabled, pw_gen 1) reads status; bob reads status too. */
static void policy_make(secmq_policy *p)
{
    memset(p, 0, sizeof *p);
    memset(users, 0, sizeof users);
    memset(rules, 0, sizeof rules);
    users[0].name = "alice";
    users[0].hash = "x";
    users[0].pw_gen = 1;
    users[1].name = "bob";
    users[1].hash = "x";
    users[2].name = "sam";
    users[2].hash = "x";
    rules[0].id = 1;
    rules[0].kind = SECMQ_RULE_USER;
    rules[0].subject = "alice";
    rules[0].topic = "status";
    rules[0].access = SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE;
    rules[1] = rules[0];
    rules[1].id = 2;
    rules[1].subject = "bob";
    p->users = users;
    p->nusers = 3;
    p->rules = rules;
    p->nrules = 2;
}

static char lost_log[4][256];
static int nlost;

static void on_lost(void *user, const char *name, const char *id,
                    const char *why)
{
    (void)user;
    if (nlost < 4) {
        (void)snprintf(lost_log[nlost], sizeof lost_log[0], "%s/%s: %s", name,
                       id, why);
    }
    nlost++;
}

static void form_of(authd_form *f, const char *const *kv)
{
    char err[128];

    memset(f, 0, sizeof *f);
    for (size_t i = 0; kv[i] != NULL; i += 2) {
        CHECK_INT_EQ(authd_form_add(f, kv[i], kv[i + 1], err, sizeof err), 0);
    }
}

static void answer(authd_remember *m, authd_kind kind, const char *const *kv)
{
    authd_form f;

    form_of(&f, kv);
    authd_remember_answer(m, kind, &f);
    authd_form_clear(&f);
}

static void topic_read(authd_remember *m, const char *user, const char *id,
                       const char *rk)
{
    const char *const kv[] = {"username",
                              user,
                              "vhost",
                              "/",
                              "resource",
                              "topic",
                              "name",
                              "amq.topic",
                              "permission",
                              "read",
                              "routing_key",
                              rk,
                              "variable_map.client_id",
                              id,
                              NULL};
    answer(m, AUTHD_TOPIC, kv);
}

static void login(authd_remember *m, const char *user, const char *id)
{
    const char *const kv[] = {"username",  user, "password", "pw",
                              "client_id", id,   NULL};
    answer(m, AUTHD_USER, kv);
}

static void test_remember(void)
{
    secmq_policy old, fresh;
    authd d;
    authd_remember *m = authd_remember_new(3);
    secmq_user fresh_users[3];
    secmq_rule kept;
    const char *const queue[] = {
        "username",   "bob",   "vhost", "/",
        "resource",   "queue", "name",  "mqtt-subscription-bob-1qos1",
        "permission", "read",  NULL};

    CHECK(m != NULL);
    memset(&d, 0, sizeof d);
    d.vhost = "/";
    d.exchange = "amq.topic";
    policy_make(&old);
    login(m, "alice", "a-1");
    topic_read(m, "alice", "a-1", "status");
    login(m, "bob", "b-1");
    topic_read(m, "bob", "b-1", "status");
    answer(m, AUTHD_RESOURCE, queue);
    CHECK_INT_EQ((int)authd_remember_count(m), 3); /* bob/bob-1 from the
                                                      queue's name */

    /* Nothing changed: nothing lost. */
    d.svc.policy = old;
    nlost = 0;
    CHECK_INT_EQ((int)authd_remember_recheck(m, &d, &old, on_lost, NULL), 0);
    CHECK_INT_EQ(nlost, 0);
    CHECK_INT_EQ((int)authd_remember_count(m), 3);

    /* bob's rule removed: bob/b-1 lost its topic; alice kept. */
    fresh = old;
    kept = rules[0];
    fresh.rules = &kept;
    fresh.nrules = 1;
    d.svc.policy = fresh;
    CHECK_INT_EQ((int)authd_remember_recheck(m, &d, &old, on_lost, NULL), 1);
    CHECK_INT_EQ(nlost, 1);
    CHECK_STR_EQ(lost_log[0], "bob/b-1: access reduced: no rule allows read "
                              "on MQTT filter 'status'");
    CHECK_INT_EQ((int)authd_remember_count(m), 2);

    /* alice disabled: forgotten, with a call for its session (the caller
     * closes all of a disabled user's connections). */
    memcpy(fresh_users, users, sizeof users);
    fresh_users[0].disabled = 1;
    fresh.users = fresh_users;
    d.svc.policy = fresh;
    nlost = 0;
    CHECK_INT_EQ((int)authd_remember_recheck(m, &d, &old, on_lost, NULL), 0);
    CHECK_INT_EQ(nlost, 1);
    CHECK_STR_EQ(lost_log[0], "alice/a-1: user disabled");
    CHECK_INT_EQ((int)authd_remember_count(m), 1); /* bob's queue pair */

    /* The bound: the least recently used pair goes, counted once. */
    login(m, "sam", "s-1");
    login(m, "sam", "s-2");
    login(m, "sam", "s-3");
    CHECK_INT_EQ((int)authd_remember_count(m), 3);
    CHECK_INT_EQ((int)authd_remember_evicted(m), 1);
    CHECK_INT_EQ((int)authd_remember_evicted(m), 0);
    authd_remember_free(m);

    /* A deny added for status/65: pairs that asked only about what is
     * still allowed stay; a pair with more questions than remembered has
     * its rule set compared instead, which lost a right. */
    for (int over = 0; over < 2; over++) {
        secmq_rule two[2];
        int asked = over ? AUTHD_REMEMBER_QUESTIONS + 5 : 10;

        m = authd_remember_new(10);
        policy_make(&old);
        rules[0].topic = "status/#";
        login(m, "alice", "a-1");
        for (int i = 1; i <= asked; i++) {
            char rk[32];
            (void)snprintf(rk, sizeof rk, "status.%d", i);
            topic_read(m, "alice", "a-1", rk);
        }
        fresh = old;
        two[0] = rules[0];
        two[1] = rules[0];
        two[1].id = 3;
        two[1].topic = "status/65";
        two[1].access = SECMQ_ACL_DENY;
        fresh.rules = two;
        fresh.nrules = 2;
        d.svc.policy = fresh;
        nlost = 0;
        CHECK_INT_EQ((int)authd_remember_recheck(m, &d, &old, on_lost, NULL),
                     over);
        CHECK_INT_EQ(nlost, over);
        if (over) {
            CHECK_STR_EQ(lost_log[0], "alice/a-1: access reduced: its rules "
                                      "lost a right");
        }
        authd_remember_free(m);
    }
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    test_conns();
    test_creds();
    test_urls();
    test_remember();
    (void)rmdir(tmpdir);
    return check_exit();
}
