/*
 * test_outbox_qos2_refused.c -- outbox rows at QoS 2 and a broker without
 * QoS 2 (it answers QoS 2 with PUBACK, as RabbitMQ does; fakebroker.c).
 *
 * Without care, such rows stay in the file forever: each new client sends
 * them, is refused and stops, and the QoS 1 rows behind them are sent again
 * every time and never leave. Here: the QoS 2 rows are set aside (kept in
 * the file, reported to on_delivered with SECMQ_E_QOS_UNSUPPORTED, counted
 * as held_qos2), the next client with the file drains the QoS 1 rows in
 * order without sending the held ones, and secmq_client_outbox_release_qos2
 * puts them back at QoS 1 (or QoS 2) on request, never by itself.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fakebroker.h"
#include "testutil.h"

#define MAX_REPORTS 64

static pthread_mutex_t dmu = PTHREAD_MUTEX_INITIALIZER;
static int nrep;
static uint64_t rep_id[MAX_REPORTS];
static int rep_rc[MAX_REPORTS];

static void on_delivered(secmq_client *c, void *user, uint64_t id, int rc)
{
    (void)c;
    (void)user;
    pthread_mutex_lock(&dmu);
    if (nrep < MAX_REPORTS) {
        rep_id[nrep] = id;
        rep_rc[nrep] = rc;
    }
    nrep++;
    pthread_mutex_unlock(&dmu);
}

/* The rc on_delivered reported for id (the last one), or 1 if none. */
static int report_of(uint64_t id)
{
    int rc = 1;

    pthread_mutex_lock(&dmu);
    for (int i = 0; i < nrep && i < MAX_REPORTS; i++) {
        if (rep_id[i] == id) {
            rc = rep_rc[i];
        }
    }
    pthread_mutex_unlock(&dmu);
    return rc;
}

static void reports_reset(void)
{
    pthread_mutex_lock(&dmu);
    nrep = 0;
    pthread_mutex_unlock(&dmu);
}

/* A client on the fake broker with the outbox file (not connected). */
static int open_client(tu_client *t, const char *prefix)
{
    secmq_config cfg;
    secmq_outbox_config ocfg;
    int rc;

    fb_config(&cfg, tu_id(prefix));
    rc = tu_client_new(t, &cfg);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq_outbox_config_init(&ocfg);
    ocfg.path = tu_at("outbox.db");
    rc = secmq_client_set_outbox(t->c, &ocfg);
    secmq_client_on_delivered(t->c, on_delivered);
    return rc;
}

static secmq_outbox_stats stats_of(tu_client *t)
{
    secmq_outbox_stats st;

    memset(&st, 0, sizeof st);
    if (secmq_client_outbox_stats_v2(t->c, &st, sizeof st) != SECMQ_OK) {
        st.rows = st.held_qos2 = 999; /* fails the checks that follow */
    }
    return st;
}

/* The payloads the broker read from index from on, joined by spaces. */
static void pubs_since(int from, char *out, size_t len)
{
    fb_pub p;
    size_t n = 0;

    out[0] = '\0';
    for (int i = from; fb_pub_at(i, &p) == 0 && n + 1 < len; i++) {
        n += (size_t)snprintf(out + n, len - n, "%s%s:%d", n ? " " : "",
                              p.payload, p.qos);
    }
}

/* Connect t, wait (bounded) until its outbox is empty, and check that
 * the broker read exactly want meanwhile and never refused the link. */
static void drain_and_see(tu_client *t, const char *want)
{
    char seen[512];
    int base = fb_pubs();

    CHECK_INT_EQ(tu_connect(t, TU_WAIT_MS), SECMQ_OK);
    CHECK_INT_EQ(
        secmq_client_outbox_wait(t->c, SECMQ_OUTBOX_WAIT_EMPTY, TU_WAIT_MS),
        SECMQ_OK);
    pubs_since(base, seen, sizeof seen);
    CHECK_STR_EQ(seen, want);
    CHECK_INT_EQ(tu_disconnects(t), 0);
}

static void test_held_then_drained_then_released(void)
{
    secmq_outbox_stats st;
    tu_client t;
    uint64_t ida = 0, idb = 0, idc = 0, idd = 0, n = 99;
    char seen[512];
    int base;
    long long t0;

    /* Run 1: a (QoS 1), b (QoS 2), c (QoS 1), d (QoS 2) committed before
     * the connect, so all are handed in one burst. */
    CHECK_INT_EQ(open_client(&t, "ob1"), SECMQ_OK);
    {
        static const char *const text[4] = {"a", "b", "c", "d"};
        uint64_t *ids[4] = {&ida, &idb, &idc, &idd};
        char topic[8];
        for (int i = 0; i < 4; i++) {
            snprintf(topic, sizeof topic, "t/%s", text[i]);
            CHECK_INT_EQ(secmq_client_publish_v2(t.c, ids[i], NULL, topic,
                                                 text[i], 1, 1 + i % 2, 0, 0),
                         SECMQ_OK);
        }
    }
    base = fb_pubs();
    t0 = tu_now_ms();
    CHECK_INT_EQ(secmq_client_connect(t.c), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_loop_start(t.c), SECMQ_OK);
    CHECK_INT_EQ(tu_wait_disconnects(&t, 1, TU_WAIT_MS), 0);
    fprintf(stderr, "QoS 2 rows set aside %lld ms after connect\n",
            tu_now_ms() - t0);
    CHECK_INT_EQ(t.disconnect_rc, SECMQ_E_QOS_UNSUPPORTED);
    pubs_since(base, seen, sizeof seen);
    CHECKF(strncmp(seen, "a:1 b:2", 7) == 0, "the broker read %s", seen);
    /* Reported before on_disconnect: b and d held, a acknowledged. */
    CHECK_INT_EQ(report_of(ida), SECMQ_OK);
    CHECK_INT_EQ(report_of(idb), SECMQ_E_QOS_UNSUPPORTED);
    CHECK_INT_EQ(report_of(idd), SECMQ_E_QOS_UNSUPPORTED);
    st = stats_of(&t);
    CHECK_INT_EQ(st.held_qos2, 2);
    CHECK_INT_EQ(st.quarantined, 0);
    CHECK_INT_EQ(st.failed, 0);
    /* c was in flight on the refused link: still queued, not lost. */
    CHECK_INT_EQ(st.rows, 1);
    /* Later QoS 2 publishes through the outbox are refused at once. */
    CHECK_INT_EQ(secmq_client_publish(t.c, NULL, "t/e", "e", 1, 2, 0),
                 SECMQ_E_QOS_UNSUPPORTED);
    /* The refused client cannot take them back at QoS 2. */
    CHECK_INT_EQ(secmq_client_outbox_release_qos2(t.c, 2, &n),
                 SECMQ_E_QOS_UNSUPPORTED);
    tu_client_free(&t);

    /* Run 2: the held rows are not sent; c drains; no refusal. */
    reports_reset();
    CHECK_INT_EQ(open_client(&t, "ob2"), SECMQ_OK);
    st = stats_of(&t);
    CHECK_INT_EQ(st.held_qos2, 2);
    CHECK_INT_EQ(st.rows, 1);
    CHECK_INT_EQ(st.recovered, 1);
    drain_and_see(&t, "c:1");
    CHECK_INT_EQ(report_of(idc), SECMQ_OK);
    st = stats_of(&t);
    CHECK_INT_EQ(st.held_qos2, 2);
    CHECK_INT_EQ(st.rows, 0);
    /* Not while connected. */
    CHECK_INT_EQ(secmq_client_outbox_release_qos2(t.c, 1, &n), SECMQ_E_STATE);
    tu_client_free(&t);

    /* Run 3: released at QoS 1 on request, sent in id order, deleted. */
    reports_reset();
    CHECK_INT_EQ(open_client(&t, "ob3"), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_outbox_release_qos2(t.c, 0, &n), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_outbox_release_qos2(t.c, 1, &n), SECMQ_OK);
    CHECK_INT_EQ((int)n, 2);
    st = stats_of(&t);
    CHECK_INT_EQ(st.held_qos2, 0);
    CHECK_INT_EQ(st.rows, 2);
    drain_and_see(&t, "b:1 d:1");
    CHECK_INT_EQ(report_of(idb), SECMQ_OK);
    CHECK_INT_EQ(report_of(idd), SECMQ_OK);
    tu_client_free(&t);

    /* Run 4: the file is empty; nothing is held or sent. */
    CHECK_INT_EQ(open_client(&t, "ob4"), SECMQ_OK);
    st = stats_of(&t);
    CHECK_INT_EQ(st.held_qos2, 0);
    CHECK_INT_EQ(st.rows, 0);
    CHECK_INT_EQ(st.recovered, 0);
    CHECK_INT_EQ(secmq_client_outbox_release_qos2(t.c, 1, &n), SECMQ_OK);
    CHECK_INT_EQ((int)n, 0);
    tu_client_free(&t);
}

/* The code of t's last on_disconnect. */
static int disconnect_rc(tu_client *t)
{
    int rc;

    pthread_mutex_lock(&t->mu);
    rc = t->disconnect_rc;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Released at QoS 2 to the same broker: set aside again, still kept. */
static void test_release_at_qos2_holds_again(void)
{
    secmq_outbox_stats st;
    tu_client t;
    uint64_t id = 0, n = 0;
    int crc;

    reports_reset();
    CHECK_INT_EQ(open_client(&t, "ob5"), SECMQ_OK);
    CHECK_INT_EQ(
        secmq_client_publish_v2(t.c, &id, NULL, "t/f", "f", 1, 2, 0, 0),
        SECMQ_OK);
    /* The row goes out inside on_connect and the PUBACK may end the link
     * before tu_connect sees it up: the disconnect's code is read once
     * on_disconnect has run. */
    crc = tu_connect(&t, TU_WAIT_MS);
    CHECK_INT_EQ(tu_wait_disconnects(&t, 1, TU_WAIT_MS), 0);
    CHECKF(crc == SECMQ_OK || disconnect_rc(&t) == SECMQ_E_QOS_UNSUPPORTED,
           "connect %d, then disconnect %d", crc, disconnect_rc(&t));
    CHECK_INT_EQ(report_of(id), SECMQ_E_QOS_UNSUPPORTED);
    tu_client_free(&t);

    reports_reset();
    CHECK_INT_EQ(open_client(&t, "ob6"), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_outbox_release_qos2(t.c, 2, &n), SECMQ_OK);
    CHECK_INT_EQ((int)n, 1);
    (void)tu_connect(&t, TU_WAIT_MS);
    CHECK_INT_EQ(tu_wait_disconnects(&t, 1, TU_WAIT_MS), 0);
    CHECK_INT_EQ(t.disconnect_rc, SECMQ_E_QOS_UNSUPPORTED);
    CHECK_INT_EQ(report_of(id), SECMQ_E_QOS_UNSUPPORTED);
    st = stats_of(&t);
    CHECK_INT_EQ(st.held_qos2, 1);
    CHECK_INT_EQ(st.rows, 0);
    tu_client_free(&t);
}

int main(void)
{
    if (secmq_init() != SECMQ_OK || fb_start() != 0 ||
        tu_tmpdir_make("outbox_qos2") != 0) {
        return 1;
    }
    RUN(test_held_then_drained_then_released);
    RUN(test_release_at_qos2_holds_again);
    fb_stop();
    tu_tmpdir_done("outbox_qos2");
    return check_exit();
}
