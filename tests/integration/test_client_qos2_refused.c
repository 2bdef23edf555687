/*
 * test_client_qos2_refused.c -- libsecmq against a broker that answers a
 * QoS 2 PUBLISH with PUBACK, as RabbitMQ does: the client reports
 * SECMQ_E_QOS_UNSUPPORTED with a message naming the cause and the fix,
 * does not reconnect, and refuses later QoS 2 publishes at once; a QoS 1
 * PUBACK from the same broker is an ordinary success. The broker is a
 * minimal MQTT 3.1.1 responder on a thread of this process (fakebroker.c,
 * plain TCP on 127.0.0.1), so no RabbitMQ is needed; test_cluster_rabbitmq.py
 * checks the real one through secmq-pub.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "fakebroker.h"
#include "testutil.h"

#define WHY                                                                    \
    "the broker answered QoS 2 with PUBACK (RabbitMQ does not support QoS "    \
    "2); publish at QoS 1"

static int connect_client(tu_client *t, const char *prefix)
{
    secmq_config cfg;
    int rc;

    fb_config(&cfg, tu_id(prefix));
    rc = tu_client_new(t, &cfg);
    return rc == SECMQ_OK ? tu_connect(t, TU_WAIT_MS) : rc;
}

/* A PUBACK for a QoS 1 message is what it always was. */
static void test_qos1_puback_is_success(void)
{
    tu_client t;
    int mid = 0;

    CHECK_INT_EQ(connect_client(&t, "qos1"), SECMQ_OK);
    CHECK_INT_EQ(
        secmq_client_publish(t.c, &mid, "room/1/temp", "21.5", 4, 1, 0),
        SECMQ_OK);
    CHECK_INT_EQ(tu_wait_published(&t, 1, TU_WAIT_MS), 0);
    CHECK_INT_EQ(t.publish_errors, 0);
    CHECK_INT_EQ(tu_disconnects(&t), 0);
    tu_client_free(&t);
}

/* A PUBACK for a QoS 2 message: SECMQ_E_QOS_UNSUPPORTED, no reconnect,
 * later QoS 2 publishes refused with the same reason. */
static void test_qos2_puback_refused(void)
{
    char msg[SECMQ_ERRMSG_BYTES];
    tu_client t;
    int before, mid = 0;
    long long t0;

    CHECK_INT_EQ(connect_client(&t, "qos2"), SECMQ_OK);
    before = fb_accepted();
    t0 = tu_now_ms();
    CHECK_INT_EQ(
        secmq_client_publish(t.c, &mid, "room/1/temp", "21.5", 4, 2, 0),
        SECMQ_OK);
    CHECK_INT_EQ(tu_wait_disconnects(&t, 1, TU_WAIT_MS), 0);
    fprintf(stderr, "QoS 2 refusal reported after %lld ms\n", tu_now_ms() - t0);
    CHECK_INT_EQ(t.disconnect_rc, SECMQ_E_QOS_UNSUPPORTED);
    secmq_client_errmsg(t.c, msg, sizeof msg);
    CHECK_STR_EQ(msg, WHY);
    CHECK_INT_EQ(tu_published(&t), 0);
    CHECK_INT_EQ(secmq_client_publish(t.c, &mid, "room/1/temp", "x", 1, 2, 0),
                 SECMQ_E_QOS_UNSUPPORTED);
    secmq_client_errmsg(t.c, msg, sizeof msg);
    CHECKF(check_contains(msg, WHY, 0), "errmsg: %s", msg);
    /* reconnect_min_s is 1: a reconnect would have come by now. */
    tu_sleep_ms(2500);
    CHECK_INT_EQ(fb_accepted(), before);
    CHECK_INT_EQ(tu_connects(&t), 1);
    tu_client_free(&t);
}

int main(void)
{
    if (secmq_init() != SECMQ_OK || fb_start() != 0) {
        return 1;
    }
    RUN(test_qos1_puback_is_success);
    RUN(test_qos2_puback_refused);
    fb_stop();
    return check_exit();
}
