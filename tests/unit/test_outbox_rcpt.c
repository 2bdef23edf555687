/*
 * test_outbox_rcpt.c -- outbox rows held for receipts (internal,
 * src/outbox_rcpt.c, linked from the static library), without a broker:
 * the outbox is driven through its hooks, with a fake "envelope" payload
 * the classify hook reads ("K<key>S<seq>", channel 0, three receipters of
 * which this identity is number 2). What is checked: a held row survives
 * its PUBACK and leaves only once the receipters it needs have receipted
 * it (on_receipt then on_delivered, in that order, the row gone from the
 * file's count); receipts from this identity, another channel, another
 * key, a seq outside the range or the same receipter twice count for
 * nothing; the window holds the row 64 seqs ahead (and every row behind
 * it) until the oldest is receipted; a waiting row is handed again after
 * resend_ms with the same bytes, and after a reconnect at once, before
 * any newer row and past rows in flight; a row without receipts in
 * give_up_ms is reported SECMQ_E_NO_RECEIPT and deleted; rows that are
 * not held leave at their PUBACK as before.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../libsecmq/src/outbox_int.h"

#include "check.h"
#include "testutil.h"

#define MAXSENT 4096

struct sent {
    int mid;
    char payload[32];
};

static struct {
    pthread_mutex_t mu;
    struct sent sent[MAXSENT];
    int nsent;
    int next_mid;
    uint64_t rcpt_id[MAXSENT], deliv_id[MAXSENT];
    int rcpt_rc[MAXSENT], deliv_rc[MAXSENT];
    unsigned rcpt_got[MAXSENT];
    int nrcpt, ndeliv;
    int order_errors; /* on_delivered before on_receipt for a held row */
    char log[8192];
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static secmq__err err;
static secmq__log lg;
static char dir[256];

static void log_fn(void *ctx, int level, const char *line)
{
    size_t n;

    (void)ctx;
    (void)level;
    pthread_mutex_lock(&R.mu);
    n = strlen(R.log);
    snprintf(R.log + n, sizeof R.log - n, "%s\n", line);
    pthread_mutex_unlock(&R.mu);
}

static int h_send(void *ctx, int *mid, const char *topic, const void *payload,
                  size_t len, int qos, int retain)
{
    (void)ctx;
    (void)topic;
    (void)qos;
    (void)retain;
    pthread_mutex_lock(&R.mu);
    *mid = ++R.next_mid;
    if (R.nsent < MAXSENT) {
        R.sent[R.nsent].mid = *mid;
        snprintf(R.sent[R.nsent].payload, sizeof R.sent[R.nsent].payload,
                 "%.*s", (int)len, (const char *)payload);
        R.nsent++;
    }
    pthread_mutex_unlock(&R.mu);
    return SECMQ_OK;
}

static void h_durable(void *ctx, uint64_t id, int rc)
{
    (void)ctx;
    (void)id;
    (void)rc;
}

static void h_delivered(void *ctx, uint64_t id, int rc)
{
    (void)ctx;
    pthread_mutex_lock(&R.mu);
    if (R.ndeliv < MAXSENT) {
        R.deliv_id[R.ndeliv] = id;
        R.deliv_rc[R.ndeliv] = rc;
        R.ndeliv++;
    }
    pthread_mutex_unlock(&R.mu);
}

/* "K<key>S<seq>": held, key id <key> (one byte), seq <seq>; "P...": not. */
static int h_classify(void *ctx, const void *payload, size_t len,
                      secmq__obrc *out)
{
    char buf[32];
    unsigned key;
    unsigned long long seq;

    (void)ctx;
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)payload);
    if (sscanf(buf, "K%uS%llu", &key, &seq) != 2) {
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->key_id[0] = (unsigned char)key;
    out->seq = seq;
    out->chan = 0;
    out->n_rcpt = 3;
    out->self_idx = 2;
    out->need = 2;
    return 1;
}

static void h_receipt(void *ctx, uint64_t id, int rc, unsigned got,
                      unsigned need)
{
    (void)ctx;
    (void)need;
    pthread_mutex_lock(&R.mu);
    if (R.nrcpt < MAXSENT) {
        for (int i = 0; i < R.ndeliv; i++) {
            R.order_errors += R.deliv_id[i] == id;
        }
        R.rcpt_id[R.nrcpt] = id;
        R.rcpt_rc[R.nrcpt] = rc;
        R.rcpt_got[R.nrcpt] = got;
        R.nrcpt++;
    }
    pthread_mutex_unlock(&R.mu);
}

static void h_missing(void *ctx, long chan, unsigned self_idx,
                      const unsigned char *bits, unsigned n, char *buf,
                      size_t len)
{
    (void)ctx;
    (void)chan;
    (void)self_idx;
    (void)bits;
    (void)n;
    snprintf(buf, len, "alice, bob");
}

static void reset(void)
{
    pthread_mutex_lock(&R.mu);
    R.nsent = R.nrcpt = R.ndeliv = R.order_errors = 0;
    R.log[0] = '\0';
    pthread_mutex_unlock(&R.mu);
}

static secmq__outbox *open_ob(const char *name, unsigned resend_ms,
                              uint64_t give_up_ms, int max_inflight)
{
    secmq_outbox_config cfg;
    secmq__outbox_hooks h;
    secmq_receipt_wait w;
    secmq__outbox *ob = NULL;
    char path[512];

    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    secmq_outbox_config_init(&cfg);
    cfg.path = path;
    cfg.sync = SECMQ_OUTBOX_SYNC_NORMAL;
    cfg.max_inflight = max_inflight;
    memset(&h, 0, sizeof h);
    h.send = h_send;
    h.durable = h_durable;
    h.delivered = h_delivered;
    h.classify = h_classify;
    h.receipt = h_receipt;
    h.missing = h_missing;
    h.log = &lg;
    h.err = &err;
    if (secmq__outbox_open(&ob, &cfg, &h) != SECMQ_OK) {
        return NULL;
    }
    secmq_receipt_wait_init(&w);
    w.resend_ms = resend_ms;
    w.resend_max_ms = resend_ms * 4;
    w.give_up_ms = give_up_ms;
    secmq__outbox_set_receipt_wait(ob, &w);
    reset();
    return ob;
}

static uint64_t put(secmq__outbox *ob, const char *payload)
{
    uint64_t id = 0;

    if (secmq__outbox_put(ob, &id, "status", payload, strlen(payload), 1, 0, 1,
                          1) != SECMQ_OK) {
        return 0;
    }
    return id;
}

static int nsent(void)
{
    int n;

    pthread_mutex_lock(&R.mu);
    n = R.nsent;
    pthread_mutex_unlock(&R.mu);
    return n;
}

static struct sent sent_at(int i)
{
    struct sent s;

    pthread_mutex_lock(&R.mu);
    s = R.sent[i];
    pthread_mutex_unlock(&R.mu);
    return s;
}

/* PUBACK every mid sent from index from on; returns the new count. */
static int ack_from(secmq__outbox *ob, int from)
{
    int n = nsent();

    for (int i = from; i < n; i++) {
        (void)secmq__outbox_completed(ob, sent_at(i).mid, SECMQ_OK);
    }
    return n;
}

static uint64_t rows(secmq__outbox *ob)
{
    secmq_outbox_stats st;

    secmq__outbox_stats(ob, &st);
    return st.rows;
}

static const unsigned char key1[SECMQ_ID_BYTES] = {1};
static const unsigned char key2[SECMQ_ID_BYTES] = {2};

static void test_held_until_receipted(void)
{
    secmq__outbox *ob = open_ob("held", 60000, 600000, 20);
    uint64_t a, b, plain;
    uint64_t rc_n, rs, ms;

    CHECK(ob != NULL);
    a = put(ob, "K1S100");
    b = put(ob, "K1S101");
    plain = put(ob, "P1");
    CHECK(a != 0 && b != 0 && plain != 0);
    secmq__outbox_connected(ob);
    CHECK_INT_EQ(nsent(), 3);
    ack_from(ob, 0);
    /* The plain row left at its PUBACK; the held ones wait. */
    CHECK_INT_EQ(R.ndeliv, 1);
    CHECK(R.deliv_id[0] == plain && R.deliv_rc[0] == SECMQ_OK);
    CHECK_INT_EQ(rows(ob), 2);
    CHECK_INT_EQ(secmq__outbox_awaiting(ob, &rc_n, &rs, &ms), 2);
    {
        secmq_receipt_row st;
        CHECK_INT_EQ(secmq__outbox_row(ob, a, &st), SECMQ_OK);
        CHECK_INT_EQ(st.state, SECMQ_ROW_AWAITING);
        CHECK_INT_EQ(st.receipts, 1);
        CHECK_INT_EQ(st.need, 2);
        CHECK_INT_EQ(st.got, 0);
    }
    /* Nothing that should not count does: this identity (2), a
     * receipter index out of range, another channel, another key, seqs
     * beside the rows. */
    secmq__outbox_receipt(ob, 0, key1, 100, 2, 2);
    secmq__outbox_receipt(ob, 0, key1, 100, 2, 7);
    secmq__outbox_receipt(ob, 1, key1, 100, 2, 0);
    secmq__outbox_receipt(ob, 0, key2, 100, 2, 0);
    secmq__outbox_receipt(ob, 0, key1, 102, 50, 0);
    secmq__outbox_receipt(ob, 0, key1, 1, 99, 0);
    CHECK_INT_EQ(rows(ob), 2);
    CHECK_INT_EQ(R.nrcpt, 0);
    /* One receipter, twice (a replayed receipt): still one of two. */
    secmq__outbox_receipt(ob, 0, key1, 100, 1, 0);
    secmq__outbox_receipt(ob, 0, key1, 100, 1, 0);
    CHECK_INT_EQ(R.nrcpt, 0);
    CHECK_INT_EQ(rows(ob), 2);
    /* The second receipter: row a settles, b still needs two. */
    secmq__outbox_receipt(ob, 0, key1, 90, 11, 1);
    CHECK_INT_EQ(R.nrcpt, 1);
    CHECK(R.rcpt_id[0] == a && R.rcpt_rc[0] == SECMQ_OK);
    CHECK_INT_EQ(R.rcpt_got[0], 2);
    CHECK_INT_EQ(R.ndeliv, 2);
    CHECK(R.deliv_id[1] == a && R.deliv_rc[1] == SECMQ_OK);
    CHECK_INT_EQ(R.order_errors, 0);
    CHECK_INT_EQ(rows(ob), 1);
    secmq__outbox_receipt(ob, 0, key1, 101, 1, 0);
    secmq__outbox_receipt(ob, 0, key1, 101, 1, 1);
    CHECK_INT_EQ(rows(ob), 0);
    CHECK_INT_EQ(R.nrcpt, 2);
    CHECK_INT_EQ(secmq__outbox_awaiting(ob, &rc_n, &rs, &ms), 0);
    CHECK(rc_n == 2 && rs == 0 && ms == 0);
    CHECK_INT_EQ(secmq__outbox_wait(ob, SECMQ_OUTBOX_WAIT_EMPTY, 2000),
                 SECMQ_OK);
    secmq__outbox_free(ob);
}

static void test_receipt_before_puback(void)
{
    secmq__outbox *ob = open_ob("early", 60000, 600000, 20);
    uint64_t a;

    CHECK(ob != NULL);
    a = put(ob, "K1S5");
    secmq__outbox_connected(ob);
    CHECK_INT_EQ(nsent(), 1);
    secmq__outbox_receipt(ob, 0, key1, 5, 1, 0);
    secmq__outbox_receipt(ob, 0, key1, 5, 1, 1);
    /* Receipted while handed: it settles at its PUBACK. */
    CHECK_INT_EQ(R.nrcpt, 0);
    CHECK_INT_EQ(rows(ob), 1);
    ack_from(ob, 0);
    CHECK_INT_EQ(R.nrcpt, 1);
    CHECK(R.rcpt_id[0] == a && R.rcpt_rc[0] == SECMQ_OK);
    CHECK_INT_EQ(rows(ob), 0);
    secmq__outbox_free(ob);
}

static void test_window(void)
{
    secmq__outbox *ob = open_ob("window", 60000, 600000, 1000);
    char p[32];
    int n, acked;

    CHECK(ob != NULL);
    for (int s = 0; s < 70; s++) {
        snprintf(p, sizeof p, "K1S%d", 1000 + s);
        CHECK(put(ob, p) != 0);
    }
    CHECK(put(ob, "P-after") != 0);
    secmq__outbox_connected(ob);
    /* seqs 1000..1063 go; 1064 (64 ahead of the oldest) waits, and the
     * plain row behind it too. */
    CHECK_INT_EQ(nsent(), 64);
    acked = ack_from(ob, 0);
    CHECK_INT_EQ(nsent(), 64);
    /* The oldest two receipted by both: two more may go. */
    secmq__outbox_receipt(ob, 0, key1, 1000, 2, 0);
    secmq__outbox_receipt(ob, 0, key1, 1000, 2, 1);
    n = nsent();
    CHECK_INT_EQ(n, 66);
    CHECK_STR_EQ(sent_at(64).payload, "K1S1064");
    CHECK_STR_EQ(sent_at(65).payload, "K1S1065");
    /* Up to 1065: the rest go, then the plain row. A receipt counts only
     * for rows handed before it came (1066.. were not). */
    acked = ack_from(ob, acked);
    secmq__outbox_receipt(ob, 0, key1, 1000, 70, 0);
    secmq__outbox_receipt(ob, 0, key1, 1000, 70, 1);
    CHECK_INT_EQ(nsent(), 71);
    CHECK_STR_EQ(sent_at(70).payload, "P-after");
    ack_from(ob, acked);
    CHECK_INT_EQ(rows(ob), 4);
    secmq__outbox_receipt(ob, 0, key1, 1066, 4, 0);
    secmq__outbox_receipt(ob, 0, key1, 1066, 4, 1);
    CHECK_INT_EQ(rows(ob), 0);
    secmq__outbox_free(ob);
}

/* Wait (bounded) until f() >= n. */
static int wait_sent(int n, int ms)
{
    long long end = tu_now_ms() + ms;

    while (nsent() < n && tu_now_ms() < end) {
        tu_sleep_ms(10);
    }
    return nsent();
}

static void test_no_window(void)
{
    secmq__outbox *ob = open_ob("nowindow", 60000, 600000, 1000);
    secmq_receipt_wait w;
    char p[32];

    CHECK(ob != NULL);
    secmq_receipt_wait_init(&w);
    w.window = 0;
    secmq__outbox_set_receipt_wait(ob, &w);
    for (int s = 0; s < 100; s++) {
        snprintf(p, sizeof p, "K1S%d", 1000 + s);
        CHECK(put(ob, p) != 0);
    }
    secmq__outbox_connected(ob);
    CHECK_INT_EQ(nsent(), 100); /* nothing waits for receipts */
    ack_from(ob, 0);
    CHECK_INT_EQ(rows(ob), 100);
    secmq__outbox_free(ob);
}

static void test_resend_and_give_up(void)
{
    secmq__outbox *ob = open_ob("resend", 100, 900, 20);
    uint64_t a, rc_n, rs, ms;
    long long t0;

    CHECK(ob != NULL);
    a = put(ob, "K1S7");
    secmq__outbox_connected(ob);
    CHECK_INT_EQ(nsent(), 1);
    t0 = tu_now_ms();
    ack_from(ob, 0);
    /* Handed again after ~100 ms with the same bytes (the commit thread
     * keeps the time), acked, again after ~200 ms... */
    CHECK_INT_EQ(wait_sent(2, 3000), 2);
    CHECKF(tu_now_ms() - t0 >= 90, "resent after %lld ms", tu_now_ms() - t0);
    CHECK_STR_EQ(sent_at(1).payload, "K1S7");
    ack_from(ob, 1);
    CHECK_INT_EQ(wait_sent(3, 3000), 3);
    ack_from(ob, 2);
    /* One receipter of two: given up after 900 ms, reported, deleted. */
    secmq__outbox_receipt(ob, 0, key1, 7, 1, 0);
    {
        long long end = tu_now_ms() + 5000;
        while (rows(ob) > 0 && tu_now_ms() < end) {
            tu_sleep_ms(10);
            ack_from(ob, nsent() > 0 ? nsent() - 1 : 0);
        }
    }
    CHECK_INT_EQ(rows(ob), 0);
    CHECKF(tu_now_ms() - t0 >= 850, "given up after %lld ms", tu_now_ms() - t0);
    pthread_mutex_lock(&R.mu);
    CHECK_INT_EQ(R.nrcpt, 1);
    CHECK(R.rcpt_id[0] == a && R.rcpt_rc[0] == SECMQ_E_NO_RECEIPT);
    CHECK_INT_EQ(R.rcpt_got[0], 1);
    CHECK_INT_EQ(R.ndeliv, 1);
    CHECK(R.deliv_rc[0] == SECMQ_E_NO_RECEIPT);
    CHECK_CONTAINS(R.log, "missing: alice, bob", 0);
    CHECK_CONTAINS(R.log, "got receipts from 1 of the 2", 0);
    pthread_mutex_unlock(&R.mu);
    secmq__outbox_awaiting(ob, &rc_n, &rs, &ms);
    CHECK(rs >= 2 && ms == 1 && rc_n == 0);
    secmq__outbox_free(ob);
}

static void test_reconnect_resends_first(void)
{
    secmq__outbox *ob = open_ob("reconnect", 60000, 600000, 20);
    int first;

    CHECK(ob != NULL);
    for (int s = 0; s < 5; s++) {
        char p[16];
        snprintf(p, sizeof p, "K1S%d", 10 + s);
        CHECK(put(ob, p) != 0);
    }
    secmq__outbox_connected(ob);
    CHECK_INT_EQ(nsent(), 5);
    /* 10..12 acknowledged (waiting for receipts), 13 and 14 in flight. */
    for (int i = 0; i < 3; i++) {
        (void)secmq__outbox_completed(ob, sent_at(i).mid, SECMQ_OK);
    }
    CHECK(put(ob, "K1S15") != 0); /* a newer row, not handed yet */
    CHECK_INT_EQ(nsent(), 6);
    (void)secmq__outbox_completed(ob, sent_at(5).mid, SECMQ_OK);
    secmq__outbox_disconnected(ob);
    CHECK(put(ob, "K1S16") != 0);
    first = nsent();
    secmq__outbox_connected(ob);
    /* Inside on_connect: the waiting rows 10, 11, 12, 15 and those in
     * flight, 13 and 14 (libmosquitto would resend those after
     * on_connect, behind newer ones), again, in id order; 16 waits behind
     * libmosquitto's own resends. */
    CHECK_INT_EQ(nsent(), first + 6);
    CHECK_STR_EQ(sent_at(first).payload, "K1S10");
    CHECK_STR_EQ(sent_at(first + 1).payload, "K1S11");
    CHECK_STR_EQ(sent_at(first + 2).payload, "K1S12");
    CHECK_STR_EQ(sent_at(first + 3).payload, "K1S13");
    CHECK_STR_EQ(sent_at(first + 4).payload, "K1S14");
    CHECK_STR_EQ(sent_at(first + 5).payload, "K1S15");
    {
        secmq_receipt_row st;
        uint64_t rc_n, rs, ms;
        CHECK_INT_EQ(secmq__outbox_row(ob, 1, &st), SECMQ_OK);
        CHECK_INT_EQ(st.state, SECMQ_ROW_HANDED);
        CHECK_INT_EQ(st.resends, 1);
        secmq__outbox_awaiting(ob, &rc_n, &rs, &ms);
        CHECK(rs == 6);
    }
    /* libmosquitto's resend of 13 (its old packet id) acknowledged: 16
     * goes. */
    (void)secmq__outbox_completed(ob, sent_at(3).mid, SECMQ_OK);
    CHECK_INT_EQ(nsent(), first + 7);
    CHECK_STR_EQ(sent_at(first + 6).payload, "K1S16");
    /* Row 13 receipted; the PUBACK of its second copy then changes
     * nothing and reports nothing twice. */
    secmq__outbox_receipt(ob, 0, key1, 13, 1, 0);
    secmq__outbox_receipt(ob, 0, key1, 13, 1, 1);
    (void)secmq__outbox_completed(ob, sent_at(first + 3).mid, SECMQ_OK);
    pthread_mutex_lock(&R.mu);
    {
        int n13 = 0;
        for (int i = 0; i < R.ndeliv; i++) {
            n13 += R.deliv_id[i] == 4;
        }
        CHECK_INT_EQ(n13, 1);
    }
    pthread_mutex_unlock(&R.mu);
    CHECK_INT_EQ(secmq__outbox_row(ob, 999, &(secmq_receipt_row){0}),
                 SECMQ_E_INVAL);
    secmq__outbox_free(ob);
}

static void test_restart_holds_again(void)
{
    secmq__outbox *ob = open_ob("restart", 60000, 600000, 20);

    CHECK(ob != NULL);
    CHECK(put(ob, "K1S40") != 0);
    secmq__outbox_connected(ob);
    ack_from(ob, 0);
    CHECK_INT_EQ(rows(ob), 1);
    secmq__outbox_free(ob); /* the row stays in the file */
    ob = open_ob("restart", 60000, 600000, 20);
    CHECK(ob != NULL);
    CHECK_INT_EQ(rows(ob), 1);
    secmq__outbox_connected(ob);
    CHECK_INT_EQ(nsent(), 1);
    CHECK_STR_EQ(sent_at(0).payload, "K1S40");
    ack_from(ob, 0);
    CHECK_INT_EQ(rows(ob), 1); /* held again */
    secmq__outbox_receipt(ob, 0, key1, 40, 1, 0);
    secmq__outbox_receipt(ob, 0, key1, 40, 1, 1);
    CHECK_INT_EQ(rows(ob), 0);
    secmq__outbox_free(ob);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof dir, "%s/secmq-obrc-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    secmq__err_init(&err);
    lg.fn = log_fn;
    lg.ctx = NULL;
    RUN(test_held_until_receipted);
    RUN(test_receipt_before_puback);
    RUN(test_window);
    RUN(test_no_window);
    RUN(test_resend_and_give_up);
    RUN(test_reconnect_resends_first);
    RUN(test_restart_holds_again);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", dir);
        }
    }
    return check_exit();
}
