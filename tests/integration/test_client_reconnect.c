/*
 * test_client_reconnect.c -- libsecmq's threaded loop reconnects by itself
 * when the broker restarts.
 *
 * The broker (with persistence) is restarted on the same port through
 * with_broker.py (SIGUSR1 to SECMQ_TEST_RUNNER_PID). Both clients must see
 * on_disconnect with an error, reconnect with a fresh TLS handshake, the
 * persistent subscriber must find its session again, and a QoS 1 message
 * published while the link was down must arrive after the reconnect,
 * followed by one published afterwards, with nothing lost or doubled.
 * Run through tests/harness/with_broker.py --persistence.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "testutil.h"

#define RECONNECT_WAIT_MS 20000

static int connect_client(tu_client *t, const char *user, const char *id,
                          int clean)
{
    secmq_config cfg;

    tu_config(&cfg, user);
    cfg.client_id = id;
    cfg.clean_session = clean;
    cfg.reconnect_min_s = 1;
    cfg.reconnect_max_s = 2;
    return tu_connect_cfg(t, &cfg, id);
}

static tu_client sub, pub;

static void test_reconnect_after_broker_restart(void)
{
    secmq_tls_info info;
    pid_t runner = (pid_t)strtol(tu_env("SECMQ_TEST_RUNNER_PID"), NULL, 10);
    int during_rc, sub_drc, pub_drc, sp;
    char got[256];
    size_t i, n;

    CHECK_INT_EQ(tu_subscribe(&sub, "c/reconnect", 1, TU_WAIT_MS), 1);
    CHECK_RC(
        secmq_client_publish(pub.c, NULL, "c/reconnect", "before", 6, 1, 0),
        SECMQ_OK);
    CHECK(tu_wait_msgs(&sub, 1, TU_WAIT_MS) == 0);

    CHECK(runner > 1);
    CHECK(kill(runner, SIGUSR1) == 0);
    CHECKF(tu_wait_disconnects(&pub, 1, TU_WAIT_MS) == 0,
           "publisher saw no disconnect when the broker stopped");
    CHECKF(tu_wait_disconnects(&sub, 1, TU_WAIT_MS) == 0,
           "subscriber saw no disconnect when the broker stopped");
    pthread_mutex_lock(&pub.mu);
    pub_drc = pub.disconnect_rc;
    pthread_mutex_unlock(&pub.mu);
    pthread_mutex_lock(&sub.mu);
    sub_drc = sub.disconnect_rc;
    pthread_mutex_unlock(&sub.mu);
    fprintf(stderr, "   on_disconnect: publisher %s, subscriber %s\n",
            tu_rc_name(pub_drc), tu_rc_name(sub_drc));
    CHECKF(pub_drc != SECMQ_OK && sub_drc != SECMQ_OK,
           "a lost link was reported as a requested disconnect");

    /* Published while the link is (most likely) down: the header promises
     * that QoS 1 messages are queued and survive reconnects (only QoS 0
     * gives SECMQ_E_NO_CONN). A failure here is recorded, and the rest of
     * the test still runs. */
    during_rc =
        secmq_client_publish(pub.c, NULL, "c/reconnect", "during", 6, 1, 0);
    if (during_rc != SECMQ_OK) {
        check_fail(__FILE__, __LINE__,
                   "QoS 1 publish while disconnected: got %s, want SECMQ_OK "
                   "(queued)",
                   tu_rc_name(during_rc));
    }

    CHECKF(tu_wait_connects(&pub, 2, RECONNECT_WAIT_MS) == 0,
           "publisher did not reconnect within %d ms: %s", RECONNECT_WAIT_MS,
           tu_errmsg(&pub));
    CHECKF(tu_wait_connects(&sub, 2, RECONNECT_WAIT_MS) == 0,
           "subscriber did not reconnect within %d ms: %s", RECONNECT_WAIT_MS,
           tu_errmsg(&sub));
    pthread_mutex_lock(&sub.mu);
    sp = sub.session_present;
    pthread_mutex_unlock(&sub.mu);
    CHECKF(sp == 1, "the persistent session was not found after restart");

    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/reconnect", "after", 5, 1, 0),
             SECMQ_OK);
    (void)tu_wait_msgs(&sub, 3, TU_WAIT_MS);
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&sub.mu);
    n = sub.nmsgs;
    got[0] = '\0';
    for (i = 0; i < n; i++) {
        size_t used = strlen(got);
        snprintf(got + used, sizeof(got) - used, "%s%s", i ? ", " : "",
                 (const char *)sub.msgs[i].payload);
    }
    pthread_mutex_unlock(&sub.mu);
    fprintf(stderr, "   received: %s\n", got);
    if (during_rc == SECMQ_OK) {
        /* Nothing lost or doubled. libmosquitto resends what it queued
         * while disconnected only after on_connect has returned, so a
         * message published as soon as the link is back ("after") may
         * overtake it: documented in secmq_client_publish(); the durable
         * outbox will drain in order. */
        CHECKF(strcmp(got, "before, during, after") == 0 ||
                   strcmp(got, "before, after, during") == 0,
               "received \"%s\"; want before, during and after once each", got);
    } else {
        /* The publish reported failure, so only before and after are owed;
         * say what happened to "during". */
        if (strstr(got, "during") != NULL) {
            fprintf(stderr,
                    "   NOTE: \"during\" was delivered although "
                    "its publish returned %s\n",
                    tu_rc_name(during_rc));
        }
        CHECKF(strcmp(got, "before, after") == 0 ||
                   strcmp(got, "before, during, after") == 0 ||
                   strcmp(got, "before, after, during") == 0,
               "received \"%s\"", got);
    }

    CHECK_RC(secmq_client_tls_info(sub.c, &info), SECMQ_OK);
    fprintf(stderr, "   after reconnect: %s resumed=%d handshakes=%d\n",
            info.version, info.resumed, info.handshakes);
    CHECK_INT_EQ(info.handshakes, 2);
}

int main(void)
{
    char sub_id[64];

    snprintf(sub_id, sizeof(sub_id), "%s", tu_id("reconnect-sub"));
    if (connect_client(&sub, "alice", sub_id, 0) != SECMQ_OK ||
        connect_client(&pub, "sam", tu_id("reconnect-pub"), 1) != SECMQ_OK) {
        return 1;
    }
    RUN(test_reconnect_after_broker_restart);
    secmq_client_disconnect(pub.c);
    secmq_client_disconnect(sub.c);
    tu_client_free(&pub);
    tu_client_free(&sub);
    return check_exit();
}
