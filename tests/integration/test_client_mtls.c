/*
 * test_client_mtls.c -- mutual TLS with libsecmq: the broker's listener
 * requires a client certificate (with_broker.py --require-cert).
 *
 * A certificate from the test CA is accepted (and messages flow); no
 * certificate, a certificate from another CA, an expired one, or a key that
 * does not match the certificate are refused, with a SECMQ_E_TLS* code and
 * a detail message naming the certificate file (or saying none was given). With
 * TLS 1.3 the broker's verdict comes after the client's handshake finished, so
 * the refusal may surface in secmq_client_connect() or in
 * secmq_client_wait_connected().
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define CONNECT_WAIT_MS 5000

static char sam_crt[512], sam_key[512], alice_key[512];
static char mallory_crt[512], mallory_key[512];
static char expired_crt[512], expired_key[512];

static int is_tls_code(int rc)
{
    return rc == SECMQ_E_TLS || rc == SECMQ_E_TLS_CA ||
           rc == SECMQ_E_TLS_HOSTNAME || rc == SECMQ_E_TLS_EXPIRED ||
           rc == SECMQ_E_TLS_PIN;
}

/* new + connect + wait_connected; *stage says where it stopped. */
static int attempt(tu_client *t, const secmq_config *cfg, const char **stage)
{
    int rc = tu_client_new(t, cfg);

    *stage = "secmq_client_new";
    if (rc != SECMQ_OK) {
        return rc;
    }
    *stage = "secmq_client_connect";
    rc = secmq_client_connect(t->c);
    if (rc != SECMQ_OK) {
        return rc;
    }
    *stage = "secmq_client_wait_connected";
    return secmq_client_wait_connected(t->c, CONNECT_WAIT_MS);
}

static void test_client_certificate_accepted(void)
{
    secmq_config cfg;
    tu_client t = {0};
    const char *stage;
    int rc, got = 0;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("mtls-ok");
    cfg.tls.certfile = sam_crt;
    cfg.tls.keyfile = sam_key;
    rc = attempt(&t, &cfg, &stage);
    if (rc == SECMQ_OK) {
        secmq_client_loop_start(t.c);
        if (tu_subscribe(&t, "c/mtls", 1, TU_WAIT_MS) == 1 &&
            secmq_client_publish(t.c, NULL, "c/mtls", "hi", 2, 1, 0) ==
                SECMQ_OK &&
            tu_wait_msgs(&t, 1, TU_WAIT_MS) == 0) {
            got = 1;
        }
        secmq_client_disconnect(t.c);
    } else {
        check_fail(__FILE__, __LINE__, "%s: %s \"%s\"", stage, tu_rc_name(rc),
                   tu_errmsg(&t));
    }
    tu_client_free(&t);
    CHECK_RC(rc, SECMQ_OK);
    CHECKF(got, "no message round trip over mutual TLS");
}

/* Refused with a SECMQ_E_TLS* code and a detail that contains want (the
 * certificate file and the broker's reason, or that none was given). */
static void expect_refused(const secmq_config *cfg, const char *what,
                           const char *want)
{
    tu_client t = {0};
    const char *stage;
    int rc = attempt(&t, cfg, &stage);
    const char *msg = tu_errmsg(&t);
    int named = check_contains(msg, want, 1);

    fprintf(stderr, "   %s: %s in %s \"%s\"\n", what, tu_rc_name(rc), stage,
            msg);
    if (t.c != NULL) {
        secmq_client_disconnect(t.c);
    }
    tu_client_free(&t);
    CHECKF(is_tls_code(rc), "%s: %s gave %s, want a SECMQ_E_TLS* code", what,
           stage, tu_rc_name(rc));
    CHECKF(named, "%s: detail \"%s\" does not contain \"%s\"", what, msg, want);
}

static void test_no_client_certificate(void)
{
    secmq_config cfg;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("mtls-none");
    expect_refused(&cfg, "no client certificate",
                   "requires a client certificate and none was configured");
}

static void test_no_client_certificate_tls13(void)
{
    secmq_config cfg;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("mtls-none13");
    cfg.tls.min_version = SECMQ_TLS_1_3;
    expect_refused(&cfg, "no client certificate, TLS 1.3 only",
                   "requires a client certificate and none was configured");
}

/* Connect with certificate crt (key key): refused, the detail naming crt
 * in both wordings, with the broker's alert ("...refused our client
 * certificate 'F': unknown CA...") or without ("...probably refused
 * 'F'"). */
static void expect_cert_refused(const char *id, const char *crt,
                                const char *key, const char *what)
{
    secmq_config cfg;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id(id);
    cfg.tls.certfile = crt;
    cfg.tls.keyfile = key;
    expect_refused(&cfg, what, crt);
}

static void test_certificate_from_other_ca(void)
{
    expect_cert_refused("mtls-other", mallory_crt, mallory_key,
                        "client certificate from another CA");
}

static void test_expired_client_certificate(void)
{
    expect_cert_refused("mtls-expired", expired_crt, expired_key,
                        "expired client certificate");
}

/* sam's certificate with alice's key: must never get through. */
static void test_key_does_not_match(void)
{
    secmq_config cfg;
    tu_client t = {0};
    const char *stage;
    int rc;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("mtls-mismatch");
    cfg.tls.certfile = sam_crt;
    cfg.tls.keyfile = alice_key;
    rc = attempt(&t, &cfg, &stage);
    fprintf(stderr, "   mismatched key: %s in %s \"%s\"\n", tu_rc_name(rc),
            stage, tu_errmsg(&t));
    if (t.c != NULL) {
        secmq_client_disconnect(t.c);
    }
    tu_client_free(&t);
    CHECKF(rc != SECMQ_OK, "a certificate with the wrong key was accepted");
    CHECKF(rc != SECMQ_E_TIMEOUT, "refused only by a timeout");
}

int main(void)
{
    tu_path(sam_crt, sizeof(sam_crt), "SECMQ_TEST_DIR", "sam.crt");
    tu_path(sam_key, sizeof(sam_key), "SECMQ_TEST_DIR", "sam.key");
    tu_path(alice_key, sizeof(alice_key), "SECMQ_TEST_DIR", "alice.key");
    tu_path(expired_crt, sizeof(expired_crt), "SECMQ_TEST_DIR",
            "expired-client.crt");
    tu_path(expired_key, sizeof(expired_key), "SECMQ_TEST_DIR",
            "expired-client.key");
    tu_path(mallory_crt, sizeof(mallory_crt), "SECMQ_TEST_OTHER_DIR",
            "mallory.crt");
    tu_path(mallory_key, sizeof(mallory_key), "SECMQ_TEST_OTHER_DIR",
            "mallory.key");
    if (strcmp(tu_env("SECMQ_TEST_REQUIRE_CERT"), "1") != 0) {
        fprintf(stderr, "run with with_broker.py --require-cert\n");
        return 2;
    }
    RUN(test_client_certificate_accepted);
    RUN(test_no_client_certificate);
    RUN(test_no_client_certificate_tls13);
    RUN(test_certificate_from_other_ca);
    RUN(test_expired_client_certificate);
    RUN(test_key_does_not_match);
    return check_exit();
}
