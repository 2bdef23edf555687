/*
 * test_client_session.c -- clean and persistent sessions with libsecmq.
 *
 * A persistent session (clean_session 0, fixed client id) that reconnects
 * sees session_present 1 and gets the QoS 1 messages published while it was
 * away, in order, without subscribing again; a clean session gets
 * session_present 0 and nothing. Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define AWAY 5

static tu_client pub;

static int connect_client(tu_client *t, const char *user, const char *id,
                          int clean)
{
    secmq_config cfg;

    tu_config(&cfg, user);
    cfg.client_id = id;
    cfg.clean_session = clean;
    return tu_connect_cfg(t, &cfg, id);
}

static int publish_away(const char *topic)
{
    char payload[32];
    int i, before = tu_published(&pub);

    for (i = 0; i < AWAY; i++) {
        snprintf(payload, sizeof(payload), "away %d", i);
        if (secmq_client_publish(pub.c, NULL, topic, payload, strlen(payload),
                                 1, 0) != SECMQ_OK) {
            return -1;
        }
    }
    return tu_wait_published(&pub, before + AWAY, TU_WAIT_MS);
}

/* Leaves with DISCONNECT and frees the client. */
static void leave(tu_client *t)
{
    if (t->c != NULL) {
        secmq_client_disconnect(t->c);
    }
    tu_client_free(t);
}

static void test_persistent_session(void)
{
    char id[64];
    tu_client a = {0}, b = {0};
    int sp1, sp2, ok = 1;
    size_t i, n;

    snprintf(id, sizeof(id), "%s", tu_id("persistent"));
    if (connect_client(&a, "alice", id, 0) != SECMQ_OK) {
        leave(&a);
        CHECKF(0, "first connect failed");
    }
    sp1 = a.session_present;
    if (tu_subscribe(&a, "c/session/p", 1, TU_WAIT_MS) != 1) {
        leave(&a);
        CHECKF(0, "subscribe failed");
    }
    leave(&a);
    CHECK(publish_away("c/session/p") == 0);
    if (connect_client(&b, "alice", id, 0) != SECMQ_OK) {
        leave(&b);
        CHECKF(0, "second connect failed");
    }
    (void)tu_wait_msgs(&b, AWAY, TU_WAIT_MS);
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&b.mu);
    sp2 = b.session_present;
    n = b.nmsgs;
    for (i = 0; i < n && i < AWAY; i++) {
        char want[32];
        snprintf(want, sizeof(want), "away %zu", i);
        if (strcmp((const char *)b.msgs[i].payload, want) != 0 ||
            b.msgs[i].qos != 1) {
            ok = 0;
        }
    }
    pthread_mutex_unlock(&b.mu);
    /* Leave nothing behind: end the session with a clean connect. */
    leave(&b);
    if (connect_client(&b, "alice", id, 1) == SECMQ_OK) {
        leave(&b);
    } else {
        tu_client_free(&b);
    }
    CHECK_INT_EQ(sp1, 0);
    CHECK_INT_EQ(sp2, 1);
    CHECKF(n == AWAY && ok,
           "%zu message(s) delivered after reconnect, want exactly the %d "
           "published while away, in order",
           n, AWAY);
}

static void test_clean_session(void)
{
    char id[64];
    tu_client a = {0}, b = {0};
    int sp2;
    size_t n;

    snprintf(id, sizeof(id), "%s", tu_id("clean"));
    if (connect_client(&a, "alice", id, 1) != SECMQ_OK ||
        tu_subscribe(&a, "c/session/c", 1, TU_WAIT_MS) != 1) {
        leave(&a);
        CHECKF(0, "first connect or subscribe failed");
    }
    leave(&a);
    CHECK(publish_away("c/session/c") == 0);
    if (connect_client(&b, "alice", id, 1) != SECMQ_OK) {
        leave(&b);
        CHECKF(0, "second connect failed");
    }
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&b.mu);
    sp2 = b.session_present;
    n = b.nmsgs;
    pthread_mutex_unlock(&b.mu);
    leave(&b);
    CHECK_INT_EQ(sp2, 0);
    CHECK_INT_EQ(n, 0);
}

int main(void)
{
    if (connect_client(&pub, "sam", tu_id("session-pub"), 1) != SECMQ_OK) {
        return 1;
    }
    RUN(test_persistent_session);
    RUN(test_clean_session);
    leave(&pub);
    return check_exit();
}
