/*
 * test_client_qos.c -- libsecmq delivers through a real broker over TLS at
 * QoS 0, 1 and 2: a publisher and a subscriber client in one process, and
 * the test checks the exact payloads, their count and order, the QoS they
 * arrive with, and the on_publish / on_subscribe reports. Retained messages,
 * wildcards and TLS failures have their own test programs.
 * Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define N_MSGS 20

static tu_client pub, sub;

/* Connects pub (sam) and sub (alice); returns 0 when both are up. */
static int setup(void)
{
    secmq_config cfg;
    int rc;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("qos-pub");
    rc = tu_client_new(&pub, &cfg);
    if (rc == SECMQ_OK) {
        rc = tu_connect(&pub, TU_WAIT_MS);
    }
    if (rc != SECMQ_OK) {
        fprintf(stderr, "publisher: %s: %s\n", tu_rc_name(rc), tu_errmsg(&pub));
        return -1;
    }
    tu_config(&cfg, "alice");
    cfg.client_id = tu_id("qos-sub");
    rc = tu_client_new(&sub, &cfg);
    if (rc == SECMQ_OK) {
        rc = tu_connect(&sub, TU_WAIT_MS);
    }
    if (rc != SECMQ_OK) {
        fprintf(stderr, "subscriber: %s: %s\n", tu_rc_name(rc),
                tu_errmsg(&sub));
        return -1;
    }
    return 0;
}

/* Clears what sub recorded so far (between cases). */
static void forget(tu_client *t)
{
    size_t i;

    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->nmsgs; i++) {
        free(t->msgs[i].topic);
        free(t->msgs[i].payload);
    }
    t->nmsgs = 0;
    t->published = 0;
    t->publish_errors = 0;
    pthread_mutex_unlock(&t->mu);
}

/* N_MSGS messages at qos to a subscription at sub_qos. */
static void roundtrip(int qos, int sub_qos)
{
    char topic[64], payload[64];
    int i, granted, want_qos = qos < sub_qos ? qos : sub_qos;

    forget(&pub);
    forget(&sub);
    snprintf(topic, sizeof(topic), "c/qos/%d-%d", qos, sub_qos);
    granted = tu_subscribe(&sub, topic, sub_qos, TU_WAIT_MS);
    CHECK_INT_EQ(granted, sub_qos);
    for (i = 0; i < N_MSGS; i++) {
        int mid = -1;
        snprintf(payload, sizeof(payload), "qos %d message %d", qos, i);
        CHECK_RC(secmq_client_publish(pub.c, &mid, topic, payload,
                                      strlen(payload), qos, 0),
                 SECMQ_OK);
        CHECKF(mid >= 0, "publish gave mid %d", mid);
    }
    CHECKF(tu_wait_published(&pub, N_MSGS, TU_WAIT_MS) == 0,
           "only %d of %d publishes completed", tu_published(&pub), N_MSGS);
    CHECK_INT_EQ(pub.publish_errors, 0);
    CHECKF(tu_wait_msgs(&sub, N_MSGS, TU_WAIT_MS) == 0,
           "only %zu of %d messages arrived", tu_nmsgs(&sub), N_MSGS);
    /* Nothing more (no duplicates, even at QoS 2) after a quiet spell. */
    tu_sleep_ms(TU_QUIET_MS);
    CHECK_INT_EQ(tu_nmsgs(&sub), N_MSGS);
    CHECK_INT_EQ(tu_published(&pub), N_MSGS);
    pthread_mutex_lock(&sub.mu);
    for (i = 0; i < N_MSGS; i++) {
        const tu_msg *m = &sub.msgs[i];
        snprintf(payload, sizeof(payload), "qos %d message %d", qos, i);
        if (strcmp(m->topic, topic) != 0 || m->payloadlen != strlen(payload) ||
            memcmp(m->payload, payload, m->payloadlen) != 0 ||
            m->qos != want_qos || m->retain != 0 || !m->nul_terminated ||
            (want_qos == 0) != (m->mid == 0)) {
            check_fail(__FILE__, __LINE__,
                       "message %d: topic %s payload \"%s\" qos %d retain %d "
                       "mid %d nul %d; want %s \"%s\" qos %d retain 0",
                       i, m->topic, (const char *)m->payload, m->qos, m->retain,
                       m->mid, m->nul_terminated, topic, payload, want_qos);
            pthread_mutex_unlock(&sub.mu);
            return;
        }
    }
    pthread_mutex_unlock(&sub.mu);
}

static void test_qos0(void)
{
    roundtrip(0, 2);
}

static void test_qos1(void)
{
    roundtrip(1, 2);
}

static void test_qos2(void)
{
    roundtrip(2, 2);
}

/* The subscription's QoS caps the delivery QoS. */
static void test_qos2_to_qos1_subscription(void)
{
    roundtrip(2, 1);
}

static void test_qos1_to_qos0_subscription(void)
{
    roundtrip(1, 0);
}

/* A large binary payload (every byte value, NULs included) and an empty
 * one arrive byte for byte. */
static void test_binary_and_empty_payloads(void)
{
    size_t len = 256 * 1024 + 7, i;
    unsigned char *big = malloc(len);
    int ok;

    CHECK(big != NULL);
    for (i = 0; i < len; i++) {
        big[i] = (unsigned char)((i * 131u + (i >> 8)) & 0xffu);
    }
    forget(&sub);
    forget(&pub);
    CHECK_INT_EQ(tu_subscribe(&sub, "c/binary", 1, TU_WAIT_MS), 1);
    ok = secmq_client_publish(pub.c, NULL, "c/binary", big, len, 1, 0) ==
             SECMQ_OK &&
         secmq_client_publish(pub.c, NULL, "c/binary", NULL, 0, 1, 0) ==
             SECMQ_OK;
    if (!ok) {
        free(big);
        CHECK(ok);
    }
    if (tu_wait_msgs(&sub, 2, TU_WAIT_MS) != 0) {
        free(big);
        CHECKF(0, "only %zu of 2 messages arrived", tu_nmsgs(&sub));
    }
    pthread_mutex_lock(&sub.mu);
    ok = sub.msgs[0].payloadlen == len &&
         memcmp(sub.msgs[0].payload, big, len) == 0 &&
         sub.msgs[1].payloadlen == 0;
    pthread_mutex_unlock(&sub.mu);
    free(big);
    CHECKF(ok, "binary payload (%zu bytes) or empty payload corrupted", len);
}

/* Many QoS 1 messages published back to back all arrive, in order. */
static void test_burst_in_order(void)
{
    enum { BURST = 500 };
    char payload[32];
    int i;

    forget(&sub);
    forget(&pub);
    CHECK_INT_EQ(tu_subscribe(&sub, "c/burst", 1, TU_WAIT_MS), 1);
    for (i = 0; i < BURST; i++) {
        snprintf(payload, sizeof(payload), "%d", i);
        CHECK_RC(secmq_client_publish(pub.c, NULL, "c/burst", payload,
                                      strlen(payload), 1, 0),
                 SECMQ_OK);
    }
    CHECKF(tu_wait_msgs(&sub, BURST, 3 * TU_WAIT_MS) == 0,
           "only %zu of %d messages arrived", tu_nmsgs(&sub), BURST);
    CHECKF(tu_wait_published(&pub, BURST, TU_WAIT_MS) == 0,
           "only %d of %d PUBACKs reported", tu_published(&pub), BURST);
    pthread_mutex_lock(&sub.mu);
    for (i = 0; i < BURST; i++) {
        snprintf(payload, sizeof(payload), "%d", i);
        if (strcmp((const char *)sub.msgs[i].payload, payload) != 0) {
            check_fail(__FILE__, __LINE__, "message %d is \"%s\"", i,
                       (const char *)sub.msgs[i].payload);
            break;
        }
    }
    pthread_mutex_unlock(&sub.mu);
}

/* Message i of test_large_burst_to_busy_subscriber: mostly 32 KiB, every
 * fourth just over 64 KiB and every fourth over 128 KiB (more than the
 * tunnel's buffer in either direction: split over several reads). */
static size_t large_size(int i)
{
    switch (i % 4) {
    case 1:
        return 64 * 1024 + 13 + (size_t)i;
    case 3:
        return 140 * 1024 + (size_t)i;
    default:
        return 32 * 1024;
    }
}

static void large_fill(unsigned char *p, int i)
{
    memset(p, 'a' + i % 26, large_size(i));
    p[0] = (unsigned char)i;
    p[large_size(i) - 1] = (unsigned char)(255 - i);
}

/*
 * Large messages while the subscriber's loop thread is stuck in on_message
 * (the test holds the lock the recording callback needs): libmosquitto
 * stops reading, the tunnel's socket to it fills up and the tunnel must
 * wait for room and go on once the callback returns. Sizes from 32 KiB to
 * over 128 KiB, so messages both fit the tunnel's buffer whole and span it.
 * Every byte arrives, in order, at QoS 0 (no flow control) and QoS 1.
 */
static void test_large_burst_to_busy_subscriber(void)
{
    enum { N = 40, MAX = 141 * 1024 };
    static unsigned char payload[MAX];
    int qos, i;

    for (qos = 0; qos <= 1; qos++) {
        forget(&sub);
        forget(&pub);
        CHECK_INT_EQ(tu_subscribe(&sub, "c/large", qos, TU_WAIT_MS), qos);
        pthread_mutex_lock(&sub.mu);
        for (i = 0; i < N; i++) {
            large_fill(payload, i);
            CHECK_RC(secmq_client_publish(pub.c, NULL, "c/large", payload,
                                          large_size(i), qos, 0),
                     SECMQ_OK);
        }
        tu_sleep_ms(500); /* the tunnel meets a full socket meanwhile */
        pthread_mutex_unlock(&sub.mu);
        CHECKF(tu_wait_msgs(&sub, N, 3 * TU_WAIT_MS) == 0,
               "QoS %d: only %zu of %d messages arrived", qos, tu_nmsgs(&sub),
               N);
        pthread_mutex_lock(&sub.mu);
        for (i = 0; i < N && (size_t)i < sub.nmsgs; i++) {
            const tu_msg *m = &sub.msgs[i];
            large_fill(payload, i);
            if (m->payloadlen != large_size(i) ||
                memcmp(m->payload, payload, large_size(i)) != 0) {
                check_fail(__FILE__, __LINE__,
                           "QoS %d: message %d: %zu bytes, not as sent", qos, i,
                           m->payloadlen);
                break;
            }
        }
        pthread_mutex_unlock(&sub.mu);
    }
}

/* Lines on_log got: libmosquitto's per-packet ones, and in all. */
static atomic_int log_packets, log_lines;

static void count_log(secmq_client *c, void *user, int level, const char *line)
{
    (void)c;
    (void)user;
    (void)level;
    atomic_fetch_add(&log_lines, 1);
    if (strstr(line, " sending PUBLISH") != NULL ||
        strstr(line, " received PUBACK") != NULL) {
        atomic_fetch_add(&log_packets, 1);
    }
}

/* Publishes 5 QoS 1 messages from a client with on_log at level; returns
 * how many per-packet lines on_log saw, -1 when the publishes failed. */
static int packet_lines(int level)
{
    secmq_config cfg;
    secmq_client *c = NULL;
    int rc, i;

    atomic_store(&log_packets, 0);
    atomic_store(&log_lines, 0);
    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("loglevel");
    rc = secmq_client_new(&c, &cfg, NULL);
    if (rc == SECMQ_OK) {
        secmq_client_on_log(c, count_log);
        rc = secmq_client_set_log_level(c, level);
    }
    if (rc == SECMQ_OK) {
        rc = secmq_client_connect(c);
    }
    if (rc == SECMQ_OK) {
        rc = secmq_client_wait_connected(c, TU_WAIT_MS);
    }
    for (i = 0; i < 5 && rc == SECMQ_OK; i++) {
        int mid = 0;
        rc = secmq_client_publish(c, &mid, "c/loglevel", "x", 1, 1, 0);
    }
    if (rc == SECMQ_OK) {
        rc = secmq_client_disconnect(c);
    }
    secmq_client_free(c);
    return rc == SECMQ_OK ? atomic_load(&log_packets) : -1;
}

/* secmq_client_set_log_level: below DEBUG, libmosquitto's line per packet
 * never reaches on_log (it is not made at all); at DEBUG it does. */
static void test_log_level(void)
{
    CHECK_RC(secmq_client_set_log_level(NULL, SECMQ_LOG_DEBUG), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_set_log_level(pub.c, SECMQ_LOG_DEBUG + 1),
             SECMQ_E_INVAL);
    CHECK_RC(secmq_client_set_log_level(pub.c, -1), SECMQ_E_INVAL);
    CHECKF(packet_lines(SECMQ_LOG_DEBUG) >= 5,
           "at DEBUG on_log saw %d packet lines for 5 QoS 1 publishes",
           atomic_load(&log_packets));
    CHECK_INT_EQ(packet_lines(SECMQ_LOG_WARNING), 0);
    CHECK_INT_EQ(packet_lines(SECMQ_LOG_INFO), 0);
}

/* Invalid arguments are refused before anything is sent. */
static void test_invalid_arguments(void)
{
    size_t huge = (size_t)268435456u; /* 256 MiB: above MQTT's maximum */
    unsigned char *buf;
    int rc;

    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/+/x", "a", 1, 0, 0),
             SECMQ_E_INVAL);
    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/#", "a", 1, 0, 0),
             SECMQ_E_INVAL);
    CHECK_RC(secmq_client_publish(pub.c, NULL, "", "a", 1, 0, 0),
             SECMQ_E_INVAL);
    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/x", "a", 1, 3, 0),
             SECMQ_E_INVAL);
    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/x", "a", 1, -1, 0),
             SECMQ_E_INVAL);
    CHECK_RC(secmq_client_subscribe(sub.c, NULL, "c/#/x", 0), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_subscribe(sub.c, NULL, "c/x+", 0), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_subscribe(sub.c, NULL, "c/x", 3), SECMQ_E_INVAL);
    CHECK_RC(secmq_client_unsubscribe(sub.c, NULL, "c/#/x"), SECMQ_E_INVAL);
    /* A payload larger than MQTT allows cannot be published. calloc'ed
     * pages stay untouched unless the library copies them. */
    buf = calloc(1, huge);
    CHECK(buf != NULL);
    rc = secmq_client_publish(pub.c, NULL, "c/x", buf, huge, 0, 0);
    free(buf);
    CHECK_RC(rc, SECMQ_E_OVERSIZE);
}

/* Unsubscribing stops delivery. */
static void test_unsubscribe(void)
{
    forget(&sub);
    CHECK_INT_EQ(tu_subscribe(&sub, "c/unsub", 1, TU_WAIT_MS), 1);
    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/unsub", "one", 3, 1, 0),
             SECMQ_OK);
    CHECK(tu_wait_msgs(&sub, 1, TU_WAIT_MS) == 0);
    CHECK_RC(tu_unsubscribe(&sub, "c/unsub", TU_WAIT_MS), SECMQ_OK);
    forget(&pub);
    CHECK_RC(secmq_client_publish(pub.c, NULL, "c/unsub", "two", 3, 1, 0),
             SECMQ_OK);
    CHECK(tu_wait_published(&pub, 1, TU_WAIT_MS) == 0);
    tu_sleep_ms(TU_QUIET_MS);
    CHECK_INT_EQ(tu_nmsgs(&sub), 1);
}

/* What a client published before secmq_client_disconnect() reaches the
 * broker even when the client is freed right after (a command-line
 * publisher does exactly this): QoS 0 has no acknowledgement to wait for,
 * so only the ordering PUBLISH-then-DISCONNECT on the link protects it. */
static void test_publish_disconnect_free(void)
{
    enum { ROUNDS = 8 };
    secmq_config cfg;
    char payload[32];
    int i, lost = 0;

    forget(&sub);
    CHECK_INT_EQ(tu_subscribe(&sub, "c/lastwords", 0, TU_WAIT_MS), 0);
    for (i = 0; i < ROUNDS; i++) {
        secmq_client *c = NULL;
        int rc;

        tu_config(&cfg, "sam");
        cfg.client_id = tu_id("lastwords");
        rc = secmq_client_new(&c, &cfg, NULL);
        if (rc == SECMQ_OK) {
            rc = secmq_client_connect(c);
        }
        if (rc == SECMQ_OK) {
            rc = secmq_client_wait_connected(c, TU_WAIT_MS);
        }
        snprintf(payload, sizeof(payload), "last words %d", i);
        if (rc == SECMQ_OK) {
            rc = secmq_client_publish(c, NULL, "c/lastwords", payload,
                                      strlen(payload), 0, 0);
        }
        if (rc == SECMQ_OK) {
            rc = secmq_client_disconnect(c);
        }
        secmq_client_free(c);
        CHECK_RC(rc, SECMQ_OK);
    }
    (void)tu_wait_msgs(&sub, ROUNDS, 3000);
    pthread_mutex_lock(&sub.mu);
    lost = ROUNDS - (int)sub.nmsgs;
    pthread_mutex_unlock(&sub.mu);
    CHECKF(lost == 0,
           "%d of %d QoS 0 messages published just before "
           "disconnect + free never arrived",
           lost, ROUNDS);
}

int main(void)
{
    if (setup() != 0) {
        return 1;
    }
    RUN(test_qos0);
    RUN(test_qos1);
    RUN(test_qos2);
    RUN(test_qos2_to_qos1_subscription);
    RUN(test_qos1_to_qos0_subscription);
    RUN(test_binary_and_empty_payloads);
    RUN(test_burst_in_order);
    RUN(test_large_burst_to_busy_subscriber);
    RUN(test_invalid_arguments);
    RUN(test_log_level);
    RUN(test_unsubscribe);
    RUN(test_publish_disconnect_free);
    secmq_client_disconnect(pub.c);
    secmq_client_disconnect(sub.c);
    tu_client_free(&pub);
    tu_client_free(&sub);
    return check_exit();
}
