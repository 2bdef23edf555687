/*
 * test_client_wildcard.c -- wildcard subscriptions with libsecmq over TLS.
 *
 * appiot/+ receives appiot/kitchen and appiot/livingroom and nothing deeper
 * or elsewhere; appiot/# also gets the deeper topic and appiot itself;
 * +/kitchen matches on the first level. Exact topics, payloads and order
 * are checked. Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "testutil.h"

static tu_client pub;

typedef struct pubmsg {
    const char *topic;
    const char *payload;
} pubmsg;

static const pubmsg PUBLISHED[] = {
    {"appiot/kitchen", "21.5"}, {"appiot/kitchen/humidity", "40"},
    {"other/kitchen", "99"},    {"appiot/livingroom", "19.0"},
    {"appiotx/hall", "5"},      {"appiot", "root"},
    {"appiot/kitchen", "21.7"},
};
#define N_PUBLISHED (sizeof(PUBLISHED) / sizeof(PUBLISHED[0]))

/* Publishes PUBLISHED at QoS 1 and waits for every PUBACK. */
static int publish_all(void)
{
    int before = tu_published(&pub);
    size_t i;

    for (i = 0; i < N_PUBLISHED; i++) {
        int rc = secmq_client_publish(pub.c, NULL, PUBLISHED[i].topic,
                                      PUBLISHED[i].payload,
                                      strlen(PUBLISHED[i].payload), 1, 0);
        if (rc != SECMQ_OK) {
            return rc;
        }
    }
    return tu_wait_published(&pub, before + (int)N_PUBLISHED, TU_WAIT_MS);
}

/* Subscribes a fresh client to filter, publishes everything, and checks
 * that exactly want[0..nwant) arrived ("topic payload" strings, in order). */
static void expect(const char *filter, const char *const *want, size_t nwant)
{
    tu_client sub = {0};
    char got[128];
    size_t i, n;

    if (tu_connect_as(&sub, "alice", "wild-sub") != SECMQ_OK) {
        tu_client_free(&sub);
        CHECKF(0, "subscriber could not connect");
    }
    if (tu_subscribe(&sub, filter, 1, TU_WAIT_MS) != 1) {
        tu_client_free(&sub);
        CHECKF(0, "subscription to %s failed", filter);
    }
    if (publish_all() != 0) {
        tu_client_free(&sub);
        CHECKF(0, "publishing failed");
    }
    (void)tu_wait_msgs(&sub, nwant, TU_WAIT_MS);
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&sub.mu);
    n = sub.nmsgs;
    for (i = 0; i < n && i < nwant; i++) {
        snprintf(got, sizeof(got), "%s %s", sub.msgs[i].topic,
                 (const char *)sub.msgs[i].payload);
        if (strcmp(got, want[i]) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&sub.mu);
    tu_client_free(&sub);
    CHECKF(n == nwant && i == nwant,
           "%s: %zu message(s) arrived, want %zu; first difference at #%zu "
           "(\"%s\" vs \"%s\")",
           filter, n, nwant, i, i < n ? got : "-", i < nwant ? want[i] : "-");
}

static void test_single_level(void)
{
    static const char *const want[] = {
        "appiot/kitchen 21.5", "appiot/livingroom 19.0", "appiot/kitchen 21.7"};
    expect("appiot/+", want, 3);
}

static void test_multi_level(void)
{
    /* appiot/# also matches "appiot" itself (MQTT 3.1.1 4.7.1.2). */
    static const char *const want[] = {
        "appiot/kitchen 21.5", "appiot/kitchen/humidity 40",
        "appiot/livingroom 19.0", "appiot root", "appiot/kitchen 21.7"};
    expect("appiot/#", want, 5);
}

static void test_plus_in_the_middle(void)
{
    static const char *const want[] = {
        "appiot/kitchen 21.5", "other/kitchen 99", "appiot/kitchen 21.7"};
    expect("+/kitchen", want, 3);
}

int main(void)
{
    if (tu_connect_as(&pub, "sam", "wild-pub") != SECMQ_OK) {
        return 1;
    }
    RUN(test_single_level);
    RUN(test_multi_level);
    RUN(test_plus_in_the_middle);
    secmq_client_disconnect(pub.c);
    tu_client_free(&pub);
    return check_exit();
}
