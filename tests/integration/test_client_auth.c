/*
 * test_client_auth.c -- logging in to the broker with libsecmq, and the
 * configurations secmq_client_new() must refuse.
 *
 * Right passwords are accepted (MQTT 3.1.1 and 5); a wrong password, an
 * unknown user and no user at all are refused through wait_connected() and
 * on_connect with the broker's reason code and a detail message. Note:
 * mosquitto 2.0.11 answers a bad password with CONNACK 5 "not authorised"
 * (0x87 in MQTT 5), never 4 / 0x86; the library is expected to report it
 * as SECMQ_E_AUTH all the same.
 * Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define CONNECT_WAIT_MS 5000

static void test_right_passwords(void)
{
    static const char *const users[] = {"sam", "alice", "eve"};
    size_t i;

    for (i = 0; i < 3; i++) {
        secmq_config cfg;
        tu_client t = {0};
        int rc, connects, crc;

        tu_config(&cfg, users[i]);
        cfg.client_id = tu_id(users[i]);
        rc = tu_attempt(&t, &cfg, CONNECT_WAIT_MS);
        if (rc != SECMQ_OK) {
            check_fail(__FILE__, __LINE__, "%s: %s \"%s\"", users[i],
                       tu_rc_name(rc), tu_errmsg(&t));
        }
        pthread_mutex_lock(&t.mu);
        connects = t.connects;
        crc = t.connect_rc;
        pthread_mutex_unlock(&t.mu);
        if (t.c != NULL) {
            secmq_client_disconnect(t.c);
        }
        tu_client_free(&t);
        if (rc != SECMQ_OK) {
            return;
        }
        CHECK_INT_EQ(connects, 1);
        CHECK_RC(crc, SECMQ_OK);
    }
}

/* A refused login: wait_connected gives want, on_connect ran once with the
 * same code and the broker's raw reason, and the detail message says why. */
static void expect_refused(const secmq_config *cfg, int want, int reason,
                           const char *what)
{
    tu_client t = {0};
    int rc = tu_attempt(&t, cfg, CONNECT_WAIT_MS), connects, crc, creason;
    const char *msg = tu_errmsg(&t);
    int mentions =
        check_contains(msg, "password", 1) || check_contains(msg, "authori", 1);

    pthread_mutex_lock(&t.mu);
    connects = t.connects;
    crc = t.connect_rc;
    creason = t.connect_reason;
    pthread_mutex_unlock(&t.mu);
    fprintf(stderr, "   %s: %s (reason %d) \"%s\"\n", what, tu_rc_name(rc),
            creason, msg);
    if (t.c != NULL) {
        secmq_client_disconnect(t.c);
    }
    tu_client_free(&t);
    CHECKF(rc == want, "%s: wait_connected gave %s, want %s", what,
           tu_rc_name(rc), tu_rc_name(want));
    CHECKF(connects == 1 && crc == want && creason == reason,
           "%s: on_connect ran %d time(s), rc %s reason %d; want once, %s, "
           "reason %d",
           what, connects, tu_rc_name(crc), creason, tu_rc_name(want), reason);
    CHECKF(mentions,
           "%s: detail \"%s\" names neither password nor "
           "authorisation",
           what, msg);
}

static void test_wrong_password(void)
{
    secmq_config cfg;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("wrongpw");
    cfg.password = "not the password";
    expect_refused(&cfg, SECMQ_E_AUTH, 5, "wrong password, MQTT 3.1.1");
}

static void test_wrong_password_mqtt5(void)
{
    secmq_config cfg;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("wrongpw5");
    cfg.password = "not the password";
    cfg.protocol = SECMQ_MQTT_5;
    expect_refused(&cfg, SECMQ_E_AUTH, 0x87, "wrong password, MQTT 5");
}

static void test_unknown_user(void)
{
    secmq_config cfg;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("nouser");
    cfg.username = "mallory";
    cfg.password = "whatever";
    expect_refused(&cfg, SECMQ_E_AUTH, 5, "unknown user");
}

static void test_anonymous(void)
{
    secmq_config cfg;
    tu_client t = {0};
    int rc;

    tu_config(&cfg, NULL);
    cfg.client_id = tu_id("anon");
    rc = tu_attempt(&t, &cfg, CONNECT_WAIT_MS);
    fprintf(stderr, "   anonymous: %s \"%s\"\n", tu_rc_name(rc), tu_errmsg(&t));
    if (t.c != NULL) {
        secmq_client_disconnect(t.c);
    }
    tu_client_free(&t);
    CHECKF(rc == SECMQ_E_AUTH || rc == SECMQ_E_NOT_AUTHORIZED,
           "anonymous login gave %s", tu_rc_name(rc));
}

static void test_mqtt5_works(void)
{
    secmq_config cfg;
    tu_client t = {0};
    int rc, got = 0;

    tu_config(&cfg, "alice");
    cfg.client_id = tu_id("v5");
    cfg.protocol = SECMQ_MQTT_5;
    rc = tu_client_new(&t, &cfg);
    if (rc == SECMQ_OK) {
        rc = tu_connect(&t, CONNECT_WAIT_MS);
    }
    if (rc == SECMQ_OK && tu_subscribe(&t, "c/v5", 1, TU_WAIT_MS) != 1) {
        rc = SECMQ_E_PROTOCOL;
    }
    if (rc == SECMQ_OK) {
        rc = secmq_client_publish(t.c, NULL, "c/v5", "five", 4, 1, 0);
    }
    if (rc == SECMQ_OK && tu_wait_msgs(&t, 1, TU_WAIT_MS) == 0) {
        pthread_mutex_lock(&t.mu);
        got = strcmp((const char *)t.msgs[0].payload, "five") == 0;
        pthread_mutex_unlock(&t.mu);
    }
    if (rc != SECMQ_OK) {
        check_fail(__FILE__, __LINE__, "MQTT 5: %s \"%s\"", tu_rc_name(rc),
                   tu_errmsg(&t));
    }
    if (t.c != NULL) {
        secmq_client_disconnect(t.c);
    }
    tu_client_free(&t);
    CHECK(rc == SECMQ_OK);
    CHECKF(got, "MQTT 5 client did not get its own message back");
}

/* Configurations that secmq_client_new() must refuse with SECMQ_E_INVAL,
 * leaving *out NULL. */
static void test_invalid_configurations(void)
{
    static char sentinel;
    secmq_config cfg;
    secmq_client *c;
    int i;

    for (i = 0; i < 9; i++) {
        const char *what = "";
        int rc;

        tu_config(&cfg, "sam");
        switch (i) {
        case 0:
            cfg.username = NULL;
            what = "password without username";
            break;
        case 1:
            cfg.keepalive = 4;
            what = "keepalive 4";
            break;
        case 2:
            cfg.keepalive = 65536;
            what = "keepalive 65536";
            break;
        case 3:
            cfg.clean_session = 0;
            cfg.client_id = NULL;
            what = "persistent session without client id";
            break;
        case 4:
            cfg.will.topic = "w/#";
            what = "will topic with #";
            break;
        case 5:
            cfg.will.topic = "w";
            cfg.will.qos = 3;
            what = "will qos 3";
            break;
        case 6:
            cfg.port = 70000;
            what = "port 70000";
            break;
        case 7:
            cfg.host = "";
            what = "empty host";
            break;
        default:
            cfg.tls.certfile = tu_env("SECMQ_TEST_CAFILE");
            what = "certfile without keyfile";
            break;
        }
        c = (secmq_client *)(void *)&sentinel; /* so we see it reset */
        rc = secmq_client_new(&c, &cfg, NULL);
        if (rc == SECMQ_OK) {
            secmq_client_free(c);
        }
        CHECKF(rc == SECMQ_E_INVAL, "%s: secmq_client_new gave %s", what,
               tu_rc_name(rc));
        CHECKF(c == NULL, "%s: *out not set to NULL", what);
    }
}

int main(void)
{
    RUN(test_right_passwords);
    RUN(test_wrong_password);
    RUN(test_wrong_password_mqtt5);
    RUN(test_unknown_user);
    RUN(test_anonymous);
    RUN(test_mqtt5_works);
    RUN(test_invalid_configurations);
    return check_exit();
}
