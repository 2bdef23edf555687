/*
 * test_rereceipt.c -- which refused copies a receiver knows it opened
 * (rxstate.c, replay.c; PROTOCOL.md §9.2): a replay of a seq this keyring
 * accepted is reported as opened before, one 64 or more behind the top,
 * below a top restored without journal records, never accepted, or
 * tampered is not; after a SIGKILL the seqs of whole groups still in the
 * journal are known again, a group cut short before its commit record is
 * not; a fold (receiving begins, a clean close) carries the known seqs.
 * The internal open (secmq__keyring_open, keyring_int.h) is called, so
 * this test links the static library with the test utilities compiled in.
 * Keyrings are made in a temp dir (sam publishes "status", alice
 * subscribes).
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

#include "keyring_int.h"
#include "testutil.h"

#define MSG "door open"
#define N 80 /* more than the window, so early ones fall below it */
#define UNIT 48

static unsigned char envs[N][256];
static size_t lens[N];
static uint64_t seqs[N];

/* N fresh envelopes from sam (consecutive seqs), and an empty replay state
 * for alice. */
static int fresh(void)
{
    secmq_keyring *sam = tu_keyring_open("sam");
    secmq_envelope_fields f;
    int rc = 0;

    unlink(tu_at("alice/state/replay"));
    unlink(tu_at("alice/state/replay.journal"));
    if (sam == NULL) {
        return -1;
    }
    for (int i = 0; i < N && rc == 0; i++) {
        rc = secmq_keyring_seal(sam, "status", MSG, strlen(MSG), envs[i],
                                sizeof envs[i], &lens[i]) == SECMQ_OK
                 ? 0
                 : -1;
        if (rc == 0 &&
            secmq_envelope_parse(envs[i], lens[i], &f) != SECMQ_OPEN_OK) {
            rc = -1;
        }
        seqs[i] = f.seq;
        if (rc == 0 && i > 0 && seqs[i] != seqs[i - 1] + 1) {
            rc = -1;
        }
    }
    secmq_keyring_free(sam);
    return rc;
}

/* Open env (len bytes) with kr through the client's open: the reason
 * (SECMQ_OPEN_OK when accepted), *known whether it is a copy of one kr
 * knows it opened, *ticket (may be NULL) the ticket. Deferred when defer. */
static int open_env(secmq_keyring *kr, const unsigned char *env, size_t len,
                    int defer, int *known, uint64_t *ticket)
{
    unsigned char pt[256];
    size_t ptlen = 0;
    uint64_t tk = 0;
    int reason = -1;
    int rc = secmq__keyring_open(
        kr, "status", env, len, pt, sizeof pt, &ptlen, NULL, &reason,
        defer ? SECMQ_OPEN_DEFER_SYNC : 0u, &tk, known);

    if (ticket != NULL) {
        *ticket = tk;
    }
    if (rc == SECMQ_OK) {
        return reason;
    }
    return rc == SECMQ_E_OPEN ? reason : -100 + rc;
}

static int open_i(secmq_keyring *kr, int i, int *known)
{
    return open_env(kr, envs[i], lens[i], 0, known, NULL);
}

/* 1 if envelope i is refused as a replay and known as opened, 0 if
 * refused and not known, -1 otherwise (accepted, another reason). */
static int replay_known(secmq_keyring *kr, int i)
{
    int known = -1;
    int reason = open_i(kr, i, &known);

    if (reason != SECMQ_OPEN_REPLAY) {
        fprintf(stderr, "envelope %d: reason %d, not a replay\n", i, reason);
        return -1;
    }
    return known;
}

/* Alice's keyring in the child of tu_kill_after, and which envelope the
 * step opens: first, first + 1, ... leaving out skip. */
typedef struct crash_ctx {
    secmq_keyring *kr;
    int first, skip;
} crash_ctx;

static int crash_step(int i, void *user)
{
    crash_ctx *x = user;
    int k = x->first + i, known = 0;

    if (x->skip >= x->first && k >= x->skip) {
        k++;
    }
    if (x->kr == NULL && (x->kr = tu_keyring_open("alice")) == NULL) {
        return -1;
    }
    return open_i(x->kr, k, &known) == SECMQ_OPEN_OK ? 0 : -1;
}

/*
 * A child opens alice's keyring, opens envelopes first..last-1 but skip
 * (each synced, so each its own group in the journal); the parent
 * SIGKILLs it right after the last: the journal is not folded.
 */
static void crash_after(int first, int last, int skip)
{
    crash_ctx x = {NULL, first, skip};
    int n = last - first - (skip >= first && skip < last);

    CHECK_INT_EQ(tu_kill_after(n, crash_step, &x), 0);
}

/* ---- tests ---------------------------------------------------------------
 */

static void test_replay_of_accepted_is_known(void)
{
    secmq_keyring *kr;
    unsigned char pt[256];
    size_t ptlen = 0;
    uint64_t ticket = 99;
    int known = -1, reason = -1;

    CHECK_INT_EQ(fresh(), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < 10; i++) {
        CHECK_INT_EQ(open_i(kr, i, &known), SECMQ_OPEN_OK);
        CHECK_INT_EQ(known, 0);
    }
    CHECK_INT_EQ(replay_known(kr, 5), 1);
    CHECK_INT_EQ(replay_known(kr, 0), 1);
    CHECK_INT_EQ(replay_known(kr, 9), 1);
    /* The public open refuses it the same way, with ticket 0. */
    CHECK_INT_EQ(secmq_keyring_open_msg_v2(kr, "status", envs[5], lens[5], pt,
                                           sizeof pt, &ptlen, NULL, &reason, 0u,
                                           &ticket),
                 SECMQ_E_OPEN);
    CHECK_INT_EQ(reason, SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(ticket, 0);
    /* Up to N-1: envelope 15 is 64 behind, 16 is 63 behind. */
    for (int i = 10; i < N; i++) {
        CHECK_INT_EQ(open_i(kr, i, &known), SECMQ_OPEN_OK);
    }
    CHECK_INT_EQ(seqs[N - 1] - seqs[15], 64);
    CHECK_INT_EQ(replay_known(kr, 15), 0);
    CHECK_INT_EQ(replay_known(kr, 5), 0);
    CHECK_INT_EQ(replay_known(kr, 16), 1);
    CHECK_INT_EQ(replay_known(kr, N - 1), 1);
    secmq_keyring_free(kr);
}

static void test_not_accepted_or_tampered_is_not_known(void)
{
    secmq_keyring *kr;
    unsigned char bad[256];
    int known = -1;

    CHECK_INT_EQ(fresh(), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    /* 10 never opened: at the end 69 behind the top. */
    for (int i = 0; i < 30; i++) {
        if (i != 10) {
            CHECK_INT_EQ(open_i(kr, i, &known), SECMQ_OPEN_OK);
        }
    }
    for (int i = 30; i < N; i++) {
        CHECK_INT_EQ(open_i(kr, i, &known), SECMQ_OPEN_OK);
    }
    /* A tampered copy of an accepted envelope fails before the window. */
    memcpy(bad, envs[N - 2], lens[N - 2]);
    bad[lens[N - 2] - 1] ^= 0x01;
    CHECK(open_env(kr, bad, lens[N - 2], 0, &known, NULL) != SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(known, 0);
    CHECK_INT_EQ(replay_known(kr, N - 2), 1);
    /* Never seen, below the window: refused, not known. */
    CHECK_INT_EQ(replay_known(kr, 10), 0);
    secmq_keyring_free(kr);
}

static void test_deferred_copy_carries_a_ticket_and_can_be_forgotten(void)
{
    secmq_envelope_fields f;
    secmq_keyring *kr;
    uint64_t t0 = 0, t1 = 0;
    int known = -1;

    CHECK_INT_EQ(fresh(), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(open_env(kr, envs[0], lens[0], 1, &known, &t0), SECMQ_OPEN_OK);
    CHECK(t0 > 0);
    CHECK_INT_EQ(open_env(kr, envs[0], lens[0], 1, &known, &t1),
                 SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(known, 1);
    CHECK(t1 >= t0);
    CHECK_INT_EQ(secmq_keyring_sync(kr, t1), SECMQ_OK);
    /* A message whose sync failed is forgotten (the client does this):
     * its copies are still refused, never known. */
    CHECK_INT_EQ(secmq_envelope_parse(envs[0], lens[0], &f), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__rx_known(kr, f.key_id, f.sender_id, f.seq), 1);
    secmq__rx_forget(kr, f.key_id, f.sender_id, f.seq);
    CHECK_INT_EQ(secmq__rx_known(kr, f.key_id, f.sender_id, f.seq), 0);
    CHECK_INT_EQ(replay_known(kr, 0), 0);
    secmq_keyring_free(kr);
}

static void test_clean_restart_keeps_the_known(void)
{
    secmq_keyring *kr;
    int known = -1;

    CHECK_INT_EQ(fresh(), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < 80; i++) {
        if (i != 75) {
            CHECK_INT_EQ(open_i(kr, i, &known), SECMQ_OPEN_OK);
        }
    }
    secmq_keyring_free(kr); /* folds, and carries the known seqs */
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(replay_known(kr, 79), 1);
    CHECK_INT_EQ(replay_known(kr, 16), 1); /* 63 behind */
    CHECK_INT_EQ(replay_known(kr, 15), 0); /* 64 behind: not carried */
    CHECK_INT_EQ(replay_known(kr, 75), 0); /* never opened */
    /* Twice: receiving begins (a fold), then a clean close (another). */
    CHECK_INT_EQ(replay_known(kr, 78), 1);
    secmq_keyring_free(kr);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(replay_known(kr, 78), 1);
    CHECK_INT_EQ(replay_known(kr, 75), 0);
    secmq_keyring_free(kr);
}

static void test_restored_top_without_records_knows_nothing(void)
{
    secmq_keyring *kr;
    int known = -1;

    CHECK_INT_EQ(fresh(), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    for (int i = 0; i < 10; i++) {
        CHECK_INT_EQ(open_i(kr, i, &known), SECMQ_OPEN_OK);
    }
    secmq_keyring_free(kr);
    /* Only the table of tops (the journal lost): every seq up to the
     * restored top counts as seen, none is known. */
    CHECK_INT_EQ(unlink(tu_at("alice/state/replay.journal")), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(replay_known(kr, 9), 0);
    CHECK_INT_EQ(replay_known(kr, 3), 0);
    secmq_keyring_free(kr);
}

static void test_sigkill_journal_is_known(void)
{
    secmq_keyring *kr;
    int known = -1;

    CHECK_INT_EQ(fresh(), 0);
    crash_after(0, 10, 4);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(replay_known(kr, 9), 1);
    CHECK_INT_EQ(replay_known(kr, 0), 1);
    /* Never accepted, below the restored top: refused, not known. */
    CHECK_INT_EQ(replay_known(kr, 4), 0);
    /* Receiving begins (the journal is folded): still known here. */
    CHECK_INT_EQ(open_i(kr, 10, &known), SECMQ_OPEN_OK);
    CHECK_INT_EQ(replay_known(kr, 9), 1);
    CHECK_INT_EQ(replay_known(kr, 10), 1);
    secmq_keyring_free(kr);
    /* A clean close carries the known seqs into the new journal. */
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(replay_known(kr, 9), 1);
    CHECK_INT_EQ(replay_known(kr, 10), 1);
    CHECK_INT_EQ(replay_known(kr, 4), 0);
    secmq_keyring_free(kr);
}

static void test_group_without_commit_is_not_known(void)
{
    secmq_keyring *kr;
    struct stat st;

    CHECK_INT_EQ(fresh(), 0);
    crash_after(0, 5, -1);
    /* Each open was its own group (record, commit): drop the last commit
     * record, as a write cut short between the two would. */
    CHECK_INT_EQ(stat(tu_at("alice/state/replay.journal"), &st), 0);
    CHECK(st.st_size >= UNIT * 11);
    CHECK_INT_EQ(
        truncate(tu_at("alice/state/replay.journal"), st.st_size - UNIT), 0);
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_INT_EQ(replay_known(kr, 3), 1);
    CHECK_INT_EQ(replay_known(kr, 4), 0);
    secmq_keyring_free(kr);
}

int main(void)
{
    if (sodium_init() < 0 || tu_tmpdir_make("rereceipt") != 0) {
        return 1;
    }
    if (tu_status_world() != 0) {
        fprintf(stderr, "could not set up the keyrings in %s\n", tu_tmpdir());
        return 1;
    }
    RUN(test_replay_of_accepted_is_known);
    RUN(test_not_accepted_or_tampered_is_not_known);
    RUN(test_deferred_copy_carries_a_ticket_and_can_be_forgotten);
    RUN(test_clean_restart_keeps_the_known);
    RUN(test_restored_top_without_records_knows_nothing);
    RUN(test_sigkill_journal_is_known);
    RUN(test_group_without_commit_is_not_known);
    tu_tmpdir_done("rereceipt");
    return check_exit();
}
