/*
 * test_client_outbox.c -- the durable outbox's callbacks against a real
 * broker: every ASYNC row gets its on_durable before its on_delivered, even
 * when on_durable is slow and earlier rows are being acknowledged meanwhile
 * (the loop thread then looks for more rows to hand). The outbox without a
 * broker is tests/unit/test_outbox.c; the tools' --outbox are Python tests.
 * Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Rows of the first commits, then of the commit whose on_durable is slow. */
#define N_A 300
#define N_B 20
#define N_ROWS (N_A + N_B)

static tu_client pub;

/* Per row id (1..N_ROWS, the file is new), guarded by pub.mu. */
static int durable_seen[N_ROWS + 1];
static int delivered_seen[N_ROWS + 1];
static int delivered_first; /* rows delivered before their on_durable */
static int durable_after;   /* rows whose on_durable came after delivery */
static int bad_rc;
static int n_delivered;
static int n_durable;
static int a_left_at_b = -1; /* rows of A unacknowledged when B was committed */

/* *counter under pub.mu. */
static int count_of(const int *counter)
{
    int n;

    pthread_mutex_lock(&pub.mu);
    n = *counter;
    pthread_mutex_unlock(&pub.mu);
    return n;
}

/* Wait (polling every step_ms, at most limit_ms) until *counter reaches n;
 * returns its last value. */
static int wait_count(const int *counter, int n, int limit_ms, int step_ms)
{
    long long deadline = tu_now_ms() + limit_ms;
    int got = count_of(counter);

    while (got < n && tu_now_ms() < deadline) {
        tu_sleep_ms(step_ms);
        got = count_of(counter);
    }
    return got;
}

/* One report of row id (lock held): counted in seen[id]; order_errors
 * counts the rows the other callback (other[id]) had not reported yet
 * (for on_delivered) or had already (for on_durable), as want_other says. */
static void record(int *seen, const int *other, int want_other,
                   int *order_errors, uint64_t id, int rc)
{
    if (rc != SECMQ_OK || id == 0 || id > N_ROWS) {
        bad_rc++;
        return;
    }
    seen[id]++;
    *order_errors += (other[id] != 0) != want_other;
}

/* The first row of B waits in on_durable (as a slow application would,
 * e.g. for a GIL) until every row of A was acknowledged, and a little more:
 * meanwhile the loop thread, handling A's acks, looks for rows to hand. */
static void on_durable(secmq_client *c, void *user, uint64_t id, int rc)
{
    (void)c;
    (void)user;
    pthread_mutex_lock(&pub.mu);
    record(durable_seen, delivered_seen, 0, &durable_after, id, rc);
    n_durable++;
    if (id == N_A + 1) {
        a_left_at_b = N_A - n_delivered;
    }
    pthread_mutex_unlock(&pub.mu);
    if (id == N_A + 1) {
        (void)wait_count(&n_delivered, N_A, 5000, 5);
        tu_sleep_ms(200);
    }
}

static void on_delivered(secmq_client *c, void *user, uint64_t id, int rc)
{
    (void)c;
    (void)user;
    pthread_mutex_lock(&pub.mu);
    record(delivered_seen, durable_seen, 1, &delivered_first, id, rc);
    n_delivered++;
    pthread_mutex_unlock(&pub.mu);
    if (id <= N_A) {
        /* A slow application too: A's acks keep the loop thread busy
         * (about N_A * 2 ms) well past B's commit. */
        tu_sleep_ms(2);
    }
}

static void test_durable_before_delivered(void)
{
    secmq_outbox_config oc;
    secmq_config cfg;
    char payload[64];
    int rc, i, done;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("outbox-order");
    CHECK_RC(tu_client_new(&pub, &cfg), SECMQ_OK);
    secmq_outbox_config_init(&oc);
    oc.path = tu_at("order.db");
    oc.max_inflight = 1;
    CHECK_RC(secmq_client_set_outbox(pub.c, &oc), SECMQ_OK);
    secmq_client_on_durable(pub.c, on_durable);
    secmq_client_on_delivered(pub.c, on_delivered);
    rc = tu_connect(&pub, TU_WAIT_MS);
    CHECKF(rc == SECMQ_OK, "connect: %s: %s", tu_rc_name(rc), tu_errmsg(&pub));
    if (rc != SECMQ_OK) {
        return;
    }
    /* A: committed and reported at once, then handed one at a time (one
     * in flight), so acks of A are still coming when B is committed. */
    for (i = 0; i < N_ROWS; i++) {
        uint64_t id = 0;
        if (i == N_A) {
            int durable = wait_count(&n_durable, N_A, 10000, 1);
            int delivered = count_of(&n_delivered);
            CHECKF(durable == N_A, "%d of %d rows durable in 10 s", durable,
                   N_A);
            /* Not a result: what makes the case (A still in flight). */
            CHECKF(delivered < N_A,
                   "all %d rows of A acknowledged before B was published: "
                   "the case was not made",
                   N_A);
        }
        snprintf(payload, sizeof payload, "row %d", i);
        rc =
            secmq_client_publish_v2(pub.c, &id, NULL, "c/outbox/order", payload,
                                    strlen(payload), 1, 0, SECMQ_PUBLISH_ASYNC);
        CHECK_RC(rc, SECMQ_OK);
        CHECK_INT_EQ((long long)id, (long long)i + 1);
    }
    done = wait_count(&n_delivered, N_ROWS, 30000, 20);
    CHECKF(done == N_ROWS, "%d of %d rows delivered in 30 s", done, N_ROWS);
    CHECK_RC(secmq_client_outbox_wait(pub.c, SECMQ_OUTBOX_WAIT_EMPTY, 10000),
             SECMQ_OK);

    /* Everything was reported: the callbacks are over, read without the
     * lock (the checks return early). */
    pthread_mutex_lock(&pub.mu);
    pthread_mutex_unlock(&pub.mu);
    CHECK_INT_EQ(bad_rc, 0);
    /* Not a result: what makes the case (the loop thread still handling
     * acks of A while B's on_durable runs). */
    CHECKF(a_left_at_b > 0,
           "every row of A was acknowledged before B was committed (%d "
           "left): the case was not made",
           a_left_at_b);
    printf("rows of A unacknowledged when B was committed: %d\n", a_left_at_b);
    for (i = 1; i <= N_ROWS; i++) {
        CHECKF(durable_seen[i] == 1 && delivered_seen[i] == 1,
               "row %d: %d on_durable, %d on_delivered (want 1 and 1)", i,
               durable_seen[i], delivered_seen[i]);
    }
    CHECKF(delivered_first == 0 && durable_after == 0,
           "%d rows reported delivered before durable (%d on_durable calls "
           "after the row's on_delivered)",
           delivered_first, durable_after);
    secmq_client_disconnect(pub.c);
}

int main(void)
{
    if (tu_tmpdir_make("client-outbox") != 0) {
        return 1;
    }
    RUN(test_durable_before_delivered);
    tu_client_free(&pub);
    tu_tmpdir_done("outbox files");
    return check_exit();
}
