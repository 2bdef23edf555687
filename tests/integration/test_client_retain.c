/*
 * test_client_retain.c -- retained messages with libsecmq over TLS.
 *
 * A retained publish reaches a subscriber that arrives later, flagged
 * retain=1; a subscriber that is already there gets it live with retain=0
 * (MQTT 3.1.1 section 3.3.1.3); an empty retained publish clears it.
 * Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "testutil.h"

static tu_client pub;

/* Publishes and waits for the PUBACK/PUBCOMP. */
static int publish_wait(const char *topic, const char *payload, int qos,
                        int retain)
{
    int before = tu_published(&pub);
    int rc = secmq_client_publish(pub.c, NULL, topic, payload,
                                  payload ? strlen(payload) : 0, qos, retain);

    if (rc != SECMQ_OK) {
        return rc;
    }
    return tu_wait_published(&pub, before + 1, TU_WAIT_MS) == 0
               ? SECMQ_OK
               : SECMQ_E_TIMEOUT;
}

/* A late subscriber (its own client) subscribes at sub_qos; then a live
 * sentinel is published. Fills *late with what arrived up to the
 * sentinel; returns 0 or -1 when the sentinel did not come. */
static int late_subscriber(tu_client *late, const char *topic, int sub_qos)
{
    if (tu_connect_as(late, "alice", "retain-late") != SECMQ_OK) {
        return -1;
    }
    if (tu_subscribe(late, topic, sub_qos, TU_WAIT_MS) != sub_qos) {
        return -1;
    }
    if (publish_wait(topic, "sentinel", 1, 0) != SECMQ_OK) {
        return -1;
    }
    for (;;) {
        size_t n;
        int seen;

        pthread_mutex_lock(&late->mu);
        n = late->nmsgs;
        seen = n > 0 &&
               strcmp((const char *)late->msgs[n - 1].payload, "sentinel") == 0;
        pthread_mutex_unlock(&late->mu);
        if (seen) {
            return 0;
        }
        if (tu_wait_msgs(late, n + 1, TU_WAIT_MS) != 0) {
            return -1;
        }
    }
}

static void test_retained_reaches_late_subscriber(void)
{
    tu_client late = {0};
    const char *topic = "c/retain/state";

    CHECK_RC(publish_wait(topic, "on", 1, 1), SECMQ_OK);
    if (late_subscriber(&late, topic, 1) != 0) {
        tu_client_free(&late);
        CHECKF(0, "the late subscriber did not see the sentinel");
    }
    pthread_mutex_lock(&late.mu);
    {
        size_t n = late.nmsgs;
        const tu_msg *m = &late.msgs[0];
        int ok = n == 2 && strcmp(m->topic, topic) == 0 && m->payloadlen == 2 &&
                 memcmp(m->payload, "on", 2) == 0 && m->retain == 1 &&
                 m->qos == 1 && late.msgs[1].retain == 0;
        pthread_mutex_unlock(&late.mu);
        if (!ok) {
            check_fail(__FILE__, __LINE__,
                       "want [retained \"on\" qos 1, live sentinel], got %zu "
                       "message(s), first \"%s\" retain %d qos %d",
                       n, n ? (const char *)m->payload : "", n ? m->retain : -1,
                       n ? m->qos : -1);
        }
    }
    tu_client_free(&late);
}

static void test_retained_qos_capped_by_subscription(void)
{
    tu_client late = {0};
    const char *topic = "c/retain/q2";

    CHECK_RC(publish_wait(topic, "two", 2, 1), SECMQ_OK);
    if (late_subscriber(&late, topic, 0) != 0) {
        tu_client_free(&late);
        CHECKF(0, "the late subscriber did not see the sentinel");
    }
    pthread_mutex_lock(&late.mu);
    {
        int ok = late.nmsgs == 2 && late.msgs[0].retain == 1 &&
                 late.msgs[0].qos == 0 &&
                 strcmp((const char *)late.msgs[0].payload, "two") == 0;
        pthread_mutex_unlock(&late.mu);
        tu_client_free(&late);
        CHECKF(ok, "retained QoS 2 message not delivered at QoS 0");
    }
}

static void test_live_retained_has_no_retain_flag(void)
{
    tu_client sub = {0};
    const char *topic = "c/retain/live";
    int ok;

    if (tu_connect_as(&sub, "alice", "retain-live") != SECMQ_OK ||
        tu_subscribe(&sub, topic, 1, TU_WAIT_MS) != 1) {
        tu_client_free(&sub);
        CHECKF(0, "subscriber setup failed");
    }
    ok = publish_wait(topic, "live", 1, 1) == SECMQ_OK &&
         tu_wait_msgs(&sub, 1, TU_WAIT_MS) == 0;
    if (ok) {
        pthread_mutex_lock(&sub.mu);
        ok = sub.msgs[0].retain == 0 &&
             strcmp((const char *)sub.msgs[0].payload, "live") == 0;
        pthread_mutex_unlock(&sub.mu);
    }
    tu_client_free(&sub);
    CHECKF(ok, "a retained publish to an existing subscription must arrive "
               "with retain=0");
    /* Clean up the retained message for the other cases. */
    CHECK_RC(publish_wait(topic, NULL, 1, 1), SECMQ_OK);
}

static void test_empty_retained_clears(void)
{
    tu_client late = {0};
    const char *topic = "c/retain/cleared";
    size_t n;
    int first_is_sentinel;

    CHECK_RC(publish_wait(topic, "soon gone", 1, 1), SECMQ_OK);
    CHECK_RC(publish_wait(topic, NULL, 1, 1), SECMQ_OK);
    if (late_subscriber(&late, topic, 1) != 0) {
        tu_client_free(&late);
        CHECKF(0, "the late subscriber did not see the sentinel");
    }
    pthread_mutex_lock(&late.mu);
    n = late.nmsgs;
    first_is_sentinel =
        n >= 1 && strcmp((const char *)late.msgs[0].payload, "sentinel") == 0;
    pthread_mutex_unlock(&late.mu);
    tu_client_free(&late);
    CHECKF(n == 1 && first_is_sentinel,
           "after an empty retained publish, %zu message(s) arrived before "
           "or with the sentinel",
           n);
}

int main(void)
{
    if (tu_connect_as(&pub, "sam", "retain-pub") != SECMQ_OK) {
        return 1;
    }
    RUN(test_retained_reaches_late_subscriber);
    RUN(test_retained_qos_capped_by_subscription);
    RUN(test_live_retained_has_no_retain_flag);
    RUN(test_empty_retained_clears);
    secmq_client_disconnect(pub.c);
    tu_client_free(&pub);
    return check_exit();
}
