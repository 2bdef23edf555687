/*
 * test_rjournal.c -- unit tests for the receiver's replay journal
 * (rjournal.c, rxstate.c) through the public keyring API: a receiver
 * killed with SIGKILL right after open_msg returned keeps what it
 * accepted; a torn tail (a write cut short) is dropped and the records
 * before it kept; a damaged record in the middle, a damaged header or
 * another keyring's journal refuse the keyring, naming the file;
 * deferred opens are durable only after secmq_keyring_sync. Keyrings are
 * made in a temp dir with the management API (sam publishes "status",
 * alice subscribes).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include <secmq.h>

#include "testutil.h"

#define ERRLEN 512
#define MSG "door open"
#define N 5
#define UNIT 48

static unsigned char envs[N][256];
static size_t lens[N];

/* N fresh envelopes from sam into envs. */
static int seal_batch(void)
{
    secmq_keyring *sam = tu_keyring_open("sam");
    int rc = 0;

    if (sam == NULL) {
        return -1;
    }
    for (int i = 0; i < N && rc == 0; i++) {
        rc = secmq_keyring_seal(sam, "status", MSG, strlen(MSG), envs[i],
                                sizeof envs[i], &lens[i]) == SECMQ_OK
                 ? 0
                 : -1;
    }
    secmq_keyring_free(sam);
    return rc;
}

/* Open envelope i with kr: the reason (SECMQ_OPEN_OK when delivered), or
 * -rc for another failure. */
static int open_i(secmq_keyring *kr, int i)
{
    unsigned char pt[256];
    size_t ptlen = 0;
    int reason = -1;
    int rc = secmq_keyring_open_msg(kr, "status", envs[i], lens[i], pt,
                                    sizeof pt, &ptlen, NULL, &reason);

    if (rc == SECMQ_OK) {
        return reason;
    }
    return rc == SECMQ_E_OPEN ? reason : -rc;
}

static long journal_size(void)
{
    struct stat st;

    if (stat(tu_at("alice/state/replay.journal"), &st) != 0) {
        return -1;
    }
    return (long)st.st_size;
}

/* Alice's keyring in the child of tu_kill_after, and how it opens. */
typedef struct crash_ctx {
    secmq_keyring *kr;
    int defer;
} crash_ctx;

static int crash_step(int i, void *user)
{
    crash_ctx *x = user;
    unsigned char pt[256];
    size_t ptlen = 0;
    uint64_t ticket = 0;
    int reason = -1;

    if (x->kr == NULL && (x->kr = tu_keyring_open("alice")) == NULL) {
        return -1;
    }
    return secmq_keyring_open_msg_v2(x->kr, "status", envs[i], lens[i], pt,
                                     sizeof pt, &ptlen, NULL, &reason,
                                     x->defer ? SECMQ_OPEN_DEFER_SYNC : 0u,
                                     &ticket) == SECMQ_OK
               ? 0
               : -1;
}

/*
 * A child opens alice's keyring, opens the first n envelopes (deferred
 * with defer 1, never synced) and tells the parent after each one; the
 * parent SIGKILLs it right after the last. No free, no clean exit.
 */
static void crash_after(int n, int defer)
{
    crash_ctx x = {NULL, defer};

    CHECK_INT_EQ(tu_kill_after(n, crash_step, &x), 0);
}

/* Start each test from fresh envelopes and an empty replay state. */
static void fresh(void)
{
    unlink(tu_at("alice/state/replay"));
    unlink(tu_at("alice/state/replay.journal"));
    CHECK_INT_EQ(seal_batch(), 0);
}

static void flip_at(long off)
{
    unsigned char *d = NULL;
    size_t n = 0;

    CHECK_INT_EQ(tu_read_file(tu_at("alice/state/replay.journal"), &d, &n), 0);
    CHECK((size_t)off < n);
    d[off] ^= 0x01;
    CHECK_INT_EQ(tu_write_file(tu_at("alice/state/replay.journal"), d, n), 0);
    free(d);
}

static void truncate_by(long k)
{
    long sz = journal_size();

    CHECK(sz > k);
    CHECK_INT_EQ(truncate(tu_at("alice/state/replay.journal"), sz - k), 0);
}

static void refused_open(const char *want)
{
    char err[ERRLEN];
    secmq_keyring *kr = NULL;

    CHECK_INT_EQ(secmq_keyring_open(&kr, tu_at("alice"), err, sizeof err),
                 SECMQ_E_KEYRING);
    CHECK(kr == NULL);
    CHECK_CONTAINS(err, "state/replay.journal", 0);
    CHECK_CONTAINS(err, want, 0);
}

/* ---- tests ---------------------------------------------------------------
 */

static void test_sigkill_right_after_open(void)
{
    secmq_keyring *kr;

    fresh();
    crash_after(N, 0);
    /* Header, then per message one record and one commit record. */
    CHECK_INT_EQ(journal_size(), UNIT + N * 2 * UNIT);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < N; i++) {
        CHECK_INT_EQ(open_i(kr, i), SECMQ_OPEN_REPLAY);
    }
    secmq_keyring_free(kr);
    /* A clean close folds the journal into state/replay; the new one
     * starts with the N seqs known accepted (one group). */
    CHECK_INT_EQ(journal_size(), UNIT + (N + 1) * UNIT);
}

static void test_torn_tail(void)
{
    secmq_keyring *kr;

    fresh();
    crash_after(N, 0);
    /* The last commit record cut short: every accepted record is whole. */
    truncate_by(20);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < N; i++) {
        CHECK_INT_EQ(open_i(kr, i), SECMQ_OPEN_REPLAY);
    }
    secmq_keyring_free(kr);

    fresh();
    crash_after(N, 0);
    /* Garbage after the last record (a torn append of a later group). */
    {
        FILE *f = fopen(tu_at("alice/state/replay.journal"), "ab");
        CHECK(f != NULL);
        fputs("not a record, cut short", f);
        fclose(f);
    }
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < N; i++) {
        CHECK_INT_EQ(open_i(kr, i), SECMQ_OPEN_REPLAY);
    }
    secmq_keyring_free(kr);

    fresh();
    crash_after(N, 0);
    /* The last message's record torn: it never became durable, so it was
     * never handed out (in a real crash); the ones before stay refused. */
    truncate_by(UNIT + 20);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < N - 1; i++) {
        CHECK_INT_EQ(open_i(kr, i), SECMQ_OPEN_REPLAY);
    }
    /* The journal was rebuilt without the torn bytes (starting with the
     * N - 1 seqs known, one group), then appended to. */
    CHECK_INT_EQ(journal_size(), UNIT + N * UNIT);
    CHECK_INT_EQ(open_i(kr, N - 1), SECMQ_OPEN_OK);
    CHECK_INT_EQ(journal_size(), UNIT + N * UNIT + 2 * UNIT);
    secmq_keyring_free(kr);
}

static void test_damage_refused(void)
{
    fresh();
    crash_after(N, 0);
    /* A byte of the first record: later records still authenticate. */
    flip_at(UNIT + 20);
    refused_open("damaged");
    flip_at(UNIT + 20);
    /* The header. */
    flip_at(10);
    refused_open("header");
    flip_at(10);
    /* A record taken out of the middle: the later ones no longer match
     * their positions. */
    {
        unsigned char *d = NULL;
        size_t n = 0;
        CHECK_INT_EQ(tu_read_file(tu_at("alice/state/replay.journal"), &d, &n),
                     0);
        memmove(d + UNIT, d + 2 * UNIT, n - 2 * UNIT);
        CHECK_INT_EQ(
            tu_write_file(tu_at("alice/state/replay.journal"), d, n - UNIT), 0);
        free(d);
    }
    refused_open("damaged");
    unlink(tu_at("alice/state/replay.journal"));
}

static void test_foreign_journal(void)
{
    secmq_keyring *sam;
    unsigned char pt[256];
    size_t ptlen = 0;
    int reason = -1;

    fresh();
    /* sam reads his own message: his journal, sealed with his key. */
    sam = tu_keyring_open("sam");
    CHECK(sam != NULL);
    CHECK_INT_EQ(secmq_keyring_open_msg(sam, "status", envs[0], lens[0], pt,
                                        sizeof pt, &ptlen, NULL, &reason),
                 SECMQ_OK);
    {
        unsigned char *d = NULL;
        size_t n = 0;
        CHECK_INT_EQ(tu_read_file(tu_at("sam/state/replay.journal"), &d, &n),
                     0);
        CHECK_INT_EQ(tu_write_file(tu_at("alice/state/replay.journal"), d, n),
                     0);
        free(d);
    }
    secmq_keyring_free(sam);
    refused_open("header");
    unlink(tu_at("alice/state/replay.journal"));
}

static void test_deferred(void)
{
    secmq_keyring *kr;
    unsigned char pt[256];
    uint64_t tickets[N];
    size_t ptlen = 0;
    int reason = -1;

    fresh();
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(secmq_keyring_open_msg_v2(kr, "status", envs[0], lens[0], pt,
                                           sizeof pt, &ptlen, NULL, &reason,
                                           SECMQ_OPEN_DEFER_SYNC, NULL),
                 SECMQ_E_INVAL);
    for (int i = 0; i < N; i++) {
        CHECK_INT_EQ(secmq_keyring_open_msg_v2(
                         kr, "status", envs[i], lens[i], pt, sizeof pt, &ptlen,
                         NULL, &reason, SECMQ_OPEN_DEFER_SYNC, &tickets[i]),
                     SECMQ_OK);
        CHECK(tickets[i] > (i > 0 ? tickets[i - 1] : 0));
    }
    /* Queued, not written: the journal holds its header only. */
    CHECK_INT_EQ(journal_size(), UNIT);
    CHECK_INT_EQ(secmq_keyring_sync(kr, 0), SECMQ_OK);
    CHECK_INT_EQ(secmq_keyring_sync(kr, tickets[N - 1]), SECMQ_OK);
    /* One group: N records and one commit record. */
    CHECK_INT_EQ(journal_size(), UNIT + (N + 1) * UNIT);
    CHECK_INT_EQ(secmq_keyring_sync(kr, tickets[0]), SECMQ_OK);
    CHECK_INT_EQ(journal_size(), UNIT + (N + 1) * UNIT);
    /* Refused (a replay): ticket 0. */
    CHECK_INT_EQ(secmq_keyring_open_msg_v2(kr, "status", envs[0], lens[0], pt,
                                           sizeof pt, &ptlen, NULL, &reason,
                                           SECMQ_OPEN_DEFER_SYNC, &tickets[0]),
                 SECMQ_E_OPEN);
    CHECK_INT_EQ(reason, SECMQ_OPEN_REPLAY);
    CHECK(tickets[0] == 0);
    secmq_keyring_free(kr);

    /* Opened deferred and never synced when the process died: nothing
     * durable, so (never handed out) they open again. */
    fresh();
    crash_after(N, 1);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < N; i++) {
        CHECK_INT_EQ(open_i(kr, i), SECMQ_OPEN_OK);
    }
    secmq_keyring_free(kr);
}

/* The journal cannot be written (a directory in its place, which stops
 * root too): the message is not delivered (SECMQ_E_IO, plaintext wiped),
 * the reason names the journal, and a copy of it is still refused; once
 * the file can be written again receiving goes on. */
static void test_write_failure(void)
{
    secmq_keyring *kr;
    unsigned char pt[256];
    char msg[ERRLEN];
    size_t ptlen = 0;
    int reason = -1;

    fresh();
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(open_i(kr, 0), SECMQ_OPEN_OK);
    CHECK_INT_EQ(unlink(tu_at("alice/state/replay.journal")), 0);
    CHECK_INT_EQ(mkdir(tu_at("alice/state/replay.journal"), 0700), 0);
    memset(pt, 'x', sizeof pt);
    CHECK_INT_EQ(secmq_keyring_open_msg(kr, "status", envs[1], lens[1], pt,
                                        sizeof pt, &ptlen, NULL, &reason),
                 SECMQ_E_IO);
    CHECK_INT_EQ(reason, SECMQ_OPEN_REPLAY);
    CHECK(memmem(pt, sizeof pt, MSG, strlen(MSG)) == NULL);
    secmq_keyring_errmsg(kr, msg, sizeof msg);
    CHECK_CONTAINS(msg, "replay.journal", 0);
    CHECK_INT_EQ(rmdir(tu_at("alice/state/replay.journal")), 0);
    CHECK_INT_EQ(open_i(kr, 1), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(open_i(kr, 2), SECMQ_OPEN_OK);
    secmq_keyring_free(kr);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(open_i(kr, i), SECMQ_OPEN_REPLAY);
    }
    secmq_keyring_free(kr);
}

int main(void)
{
    if (sodium_init() < 0 || tu_tmpdir_make("rjournal") != 0) {
        return 1;
    }
    if (tu_status_world() != 0) {
        fprintf(stderr, "could not set up the keyrings in %s\n", tu_tmpdir());
        return 1;
    }
    RUN(test_sigkill_right_after_open);
    RUN(test_torn_tail);
    RUN(test_damage_refused);
    RUN(test_foreign_journal);
    RUN(test_deferred);
    RUN(test_write_failure);
    tu_tmpdir_done("keyrings");
    return check_exit();
}
