/*
 * test_replay.c -- unit tests for replay.c, the receiver's 64-entry replay
 * window (PROTOCOL.md 4.2): the edges one by one, then every short history
 * over a small range against a reference model that remembers everything;
 * and which refused seqs the window knows it accepted (for receipting a
 * copy again, §9.2), never one it only assumes seen after a restore.
 * Internal API (replay_int.h), so replay.c is compiled into this test.
 */
#include <stdint.h>
#include <string.h>

#include "../../libsecmq/src/replay_int.h"

#include "check.h"

static int accept(secmq__replay *w, uint64_t seq)
{
    int c = secmq__replay_check(w, seq);
    int r = secmq__replay_commit(w, seq);

    /* check and commit must always agree. */
    if (c != r) {
        return -1;
    }
    return r;
}

static void test_fresh_window_accepts_zero_once(void)
{
    secmq__replay w;

    secmq__replay_init(&w);
    CHECK_INT_EQ(secmq__replay_check(&w, 0), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 1), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 1), SECMQ_OPEN_REPLAY);
}

static void test_in_order_then_duplicates(void)
{
    secmq__replay w;

    secmq__replay_init(&w);
    for (uint64_t s = 1; s <= 1000; s++) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_OK);
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_REPLAY);
    }
    for (uint64_t s = 0; s <= 1000; s++) {
        CHECK_INT_EQ(secmq__replay_check(&w, s), SECMQ_OPEN_REPLAY);
    }
    CHECK_INT_EQ(w.top, 1000);
}

/* Seen first 100, then everything below it, newest first. */
static void test_out_of_order_within_window(void)
{
    secmq__replay w;

    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, 1000), SECMQ_OPEN_OK);
    for (uint64_t s = 999; s > 1000 - 64; s--) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_OK);
    }
    /* 63 behind was the last one inside; 64 behind is outside. */
    CHECK_INT_EQ(accept(&w, 1000 - 64), SECMQ_OPEN_REPLAY);
    for (uint64_t s = 1000; s > 1000 - 64; s--) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_REPLAY);
    }
    /* Mixed order: every other one, then the gaps. */
    CHECK_INT_EQ(accept(&w, 2000), SECMQ_OPEN_OK);
    for (uint64_t s = 1998; s > 2000 - 64; s -= 2) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_OK);
    }
    for (uint64_t s = 1999; s > 2000 - 64; s -= 2) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_OK);
    }
    for (uint64_t s = 2000; s > 2000 - 64; s--) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_REPLAY);
    }
}

static void test_window_edges(void)
{
    secmq__replay w;

    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, 500), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 500 - 63), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 500 - 64), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(secmq__replay_check(&w, 500 - 65), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(secmq__replay_check(&w, 0), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 500 - 63), SECMQ_OPEN_OK);
    /* A jump of 63 keeps the old top in the window (as seen); 64 drops it. */
    CHECK_INT_EQ(accept(&w, 563), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 500), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(secmq__replay_check(&w, 501), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 627), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 563), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(secmq__replay_check(&w, 564), SECMQ_OPEN_OK);
    /* Below 64, nothing is "too far behind" yet. */
    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, 63), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 64), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 0), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 1), SECMQ_OPEN_OK);
}

static void test_check_does_not_change_state(void)
{
    secmq__replay w, before;

    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, 10), SECMQ_OPEN_OK);
    before = w;
    for (uint64_t s = 0; s < 200; s++) {
        (void)secmq__replay_check(&w, s);
    }
    (void)secmq__replay_check(&w, UINT64_MAX);
    CHECK_MEM_EQ(&w, sizeof w, &before, sizeof before);
    /* A refused commit changes nothing either. */
    CHECK_INT_EQ(secmq__replay_commit(&w, 10), SECMQ_OPEN_REPLAY);
    CHECK_MEM_EQ(&w, sizeof w, &before, sizeof before);
    CHECK_INT_EQ(secmq__replay_check(&w, 11), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 11), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_commit(&w, 11), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_check(&w, 11), SECMQ_OPEN_REPLAY);
}

static void test_huge_jumps_and_uint64_max(void)
{
    secmq__replay w;

    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, 1), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, UINT64_MAX - 1), SECMQ_OPEN_OK);
    CHECK_INT_EQ(w.bitmap, 1);
    CHECK_INT_EQ(accept(&w, 1), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 2), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, UINT64_MAX), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, UINT64_MAX), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, UINT64_MAX - 1), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, UINT64_MAX - 63), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, UINT64_MAX - 64), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_REPLAY);
    /* Straight from nothing to the very end. */
    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, UINT64_MAX), SECMQ_OPEN_OK);
    CHECK_INT_EQ(w.top, UINT64_MAX);
    CHECK_INT_EQ(w.bitmap, 1);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_REPLAY);
    /* Jumps of exactly 64, 65 and 2^63. */
    secmq__replay_init(&w);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 64), SECMQ_OPEN_OK);
    CHECK_INT_EQ(w.bitmap, 1);
    CHECK_INT_EQ(accept(&w, 129), SECMQ_OPEN_OK);
    CHECK_INT_EQ(w.bitmap, 1);
    CHECK_INT_EQ(accept(&w, 129 + (UINT64_C(1) << 63)), SECMQ_OPEN_OK);
    CHECK_INT_EQ(w.bitmap, 1);
    CHECK_INT_EQ(accept(&w, 129), SECMQ_OPEN_REPLAY);
}

static void test_restore_treats_everything_up_to_top_as_seen(void)
{
    secmq__replay w;

    secmq__replay_restore(&w, 1000);
    CHECK_INT_EQ(accept(&w, 1000), SECMQ_OPEN_REPLAY);
    for (uint64_t s = 1000 - 70; s < 1000; s++) {
        CHECK_INT_EQ(secmq__replay_check(&w, s), SECMQ_OPEN_REPLAY);
    }
    CHECK_INT_EQ(accept(&w, 1002), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 1001), SECMQ_OPEN_OK);
    CHECK_INT_EQ(accept(&w, 999), SECMQ_OPEN_REPLAY);
    secmq__replay_restore(&w, 0);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(accept(&w, 1), SECMQ_OPEN_OK);
}

static void test_known_is_exactly_what_was_accepted(void)
{
    secmq__replay w;

    secmq__replay_init(&w);
    CHECK_INT_EQ(secmq__replay_known(&w, 0), 0);
    CHECK_INT_EQ(accept(&w, 0), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 0), 1);
    for (uint64_t s = 100; s <= 110; s += 2) {
        CHECK_INT_EQ(accept(&w, s), SECMQ_OPEN_OK);
    }
    for (uint64_t s = 90; s <= 115; s++) {
        int want = s >= 100 && s <= 110 && s % 2 == 0;
        CHECKF(secmq__replay_known(&w, s) == want, "seq %llu",
               (unsigned long long)s);
    }
    /* 0 fell out of the window: still refused, no longer known. */
    CHECK_INT_EQ(secmq__replay_check(&w, 0), SECMQ_OPEN_REPLAY);
    CHECK_INT_EQ(secmq__replay_known(&w, 0), 0);
    /* A straggler accepted inside the window is known. */
    CHECK_INT_EQ(accept(&w, 101), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 101), 1);
    /* The left edge: 63 behind known, 64 behind not. */
    CHECK_INT_EQ(accept(&w, 110 + 63), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 110), 1);
    CHECK_INT_EQ(accept(&w, 110 + 64), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 110), 0);
    CHECK_INT_EQ(secmq__replay_check(&w, 110), SECMQ_OPEN_REPLAY);
    /* A jump past the whole window forgets everything below. */
    CHECK_INT_EQ(accept(&w, 1000), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 110 + 64), 0);
    CHECK_INT_EQ(w.known, 1);
    /* forget: still refused, not known; a seq not known stays so. */
    secmq__replay_forget(&w, 1000);
    CHECK_INT_EQ(secmq__replay_known(&w, 1000), 0);
    CHECK_INT_EQ(secmq__replay_check(&w, 1000), SECMQ_OPEN_REPLAY);
    secmq__replay_forget(&w, 5);
    CHECK_INT_EQ(w.known, 0);
}

static void test_restored_top_is_not_known(void)
{
    secmq__replay w;

    secmq__replay_restore(&w, 1000);
    for (uint64_t s = 1000 - 70; s <= 1000; s++) {
        CHECK_INT_EQ(secmq__replay_check(&w, s), SECMQ_OPEN_REPLAY);
        CHECKF(secmq__replay_known(&w, s) == 0, "seq %llu",
               (unsigned long long)s);
    }
    /* Accepted after the restore: known; the restored ones still not. */
    CHECK_INT_EQ(accept(&w, 1003), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 1003), 1);
    CHECK_INT_EQ(secmq__replay_known(&w, 1002), 0); /* never accepted */
    CHECK_INT_EQ(secmq__replay_known(&w, 1000), 0);
    /* A journal record marks a seq that counts as seen. */
    CHECK_INT_EQ(secmq__replay_mark_known(&w, 998), 1);
    CHECK_INT_EQ(secmq__replay_known(&w, 998), 1);
    CHECK_INT_EQ(secmq__replay_known(&w, 999), 0);
    /* mark_known never makes a seq seen: one that would still be accepted
     * (1002, above the restored top), above top, or out of the window. */
    CHECK_INT_EQ(secmq__replay_mark_known(&w, 1002), 0);
    CHECK_INT_EQ(secmq__replay_check(&w, 1002), SECMQ_OPEN_OK);
    CHECK_INT_EQ(secmq__replay_known(&w, 1002), 0);
    CHECK_INT_EQ(secmq__replay_mark_known(&w, 1004), 0);
    CHECK_INT_EQ(secmq__replay_mark_known(&w, 1003 - 64), 0);
    CHECK_INT_EQ(secmq__replay_check(&w, 1004), SECMQ_OPEN_OK);
    /* A restore again knows nothing. */
    secmq__replay_restore(&w, 1003);
    CHECK_INT_EQ(secmq__replay_known(&w, 1003), 0);
    CHECK_INT_EQ(secmq__replay_known(&w, 998), 0);
}

/*
 * A model that remembers every accepted number: accept iff nothing was
 * accepted yet, or above the highest, or less than 64 below it and not
 * accepted before.
 */
#define SPAN 140u
#define STEPS 3u
#define WALK_MAX 200000u

typedef struct model {
    unsigned char *seen; /* one flag per possible seq */
    int any;
    uint64_t top;
    int restored; /* every seq <= floor counts as seen, none is known */
    uint64_t floor;
} model;

/* The window knows seq: the model accepted it, 63 or fewer behind top. */
static int model_known(const model *m, uint64_t seq)
{
    return m->any && seq <= m->top && m->top - seq < 64 && m->seen[seq];
}

static int model_accept(model *m, uint64_t seq)
{
    int ok;

    if (!m->any || seq > m->top) {
        ok = 1;
    } else {
        ok = m->top - seq < 64 && !m->seen[seq] &&
             !(m->restored && seq <= m->floor);
    }
    if (ok) {
        m->seen[seq] = 1;
        if (!m->any || seq > m->top) {
            m->top = seq;
        }
        m->any = 1;
    }
    return ok ? SECMQ_OPEN_OK : SECMQ_OPEN_REPLAY;
}

/* Every history of 3 numbers from 0..SPAN-1 and one far above. */
static void test_exhaustive_short_histories(void)
{
    /* Values: 0..SPAN-1 plus SPAN+150 (a jump past the whole window). */
    const uint64_t nvalues = SPAN + 1;
    uint64_t total = 1, cases = 0;

    for (unsigned i = 0; i < STEPS; i++) {
        total *= nvalues;
    }
    for (uint64_t code = 0; code < total; code++) {
        secmq__replay w;
        unsigned char seen[SPAN + 200];
        model m = {seen, 0, 0, 0, 0};
        uint64_t c = code;

        secmq__replay_init(&w);
        memset(seen, 0, sizeof seen);
        for (unsigned i = 0; i < STEPS; i++) {
            uint64_t seq = c % nvalues;
            int want, got;

            c /= nvalues;
            if (seq == SPAN) {
                seq = SPAN + 150;
            }
            want = model_accept(&m, seq);
            got = accept(&w, seq);
            CHECKF(got == want,
                   "history %llu step %u seq %llu: got %d, model says %d",
                   (unsigned long long)code, i, (unsigned long long)seq, got,
                   want);
            CHECKF(secmq__replay_known(&w, seq) == model_known(&m, seq),
                   "history %llu step %u seq %llu: known %d",
                   (unsigned long long)code, i, (unsigned long long)seq,
                   secmq__replay_known(&w, seq));
        }
        cases++;
    }
    CHECK_INT_EQ(cases, total);
}

/* A long random walk with stragglers, duplicates and jumps, from a fresh
 * window (restored 0) or one restored at top 100 (restored 1). */
static void random_walk(int restored)
{
    static unsigned char seen[WALK_MAX + 200];
    model m = {seen, restored, 100, restored, 100};
    secmq__replay w;
    uint64_t x = 0x9e3779b97f4a7c15u, base = 100, accepted = 0, known = 0;

    memset(seen, 0, sizeof seen);
    if (restored) {
        secmq__replay_restore(&w, 100);
        base = 101;
    } else {
        secmq__replay_init(&w);
    }
    while (base < WALK_MAX - 100) {
        uint64_t r, seq;
        int want, got;

        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        r = x % 100;
        if (r < 40) {
            seq = base++; /* the next one */
        } else if (r < 85) {
            seq = base - 1 - (x >> 8) % 80; /* a straggler or duplicate */
        } else if (r < 95) {
            seq = base - 1; /* the newest again */
        } else {
            base += (x >> 8) % 70; /* a gap */
            seq = base;
        }
        want = model_accept(&m, seq);
        got = accept(&w, seq);
        CHECKF(got == want, "seq %llu: got %d, model says %d",
               (unsigned long long)seq, got, want);
        accepted += want == SECMQ_OPEN_OK;
        /* A straggler probe: known exactly when the model accepted it. */
        seq = base - 1 - (x >> 20) % 80;
        CHECKF(secmq__replay_known(&w, seq) == model_known(&m, seq),
               "seq %llu: known %d", (unsigned long long)seq,
               secmq__replay_known(&w, seq));
        /* SECURITY: known is always refused. */
        if (secmq__replay_known(&w, seq)) {
            CHECK_INT_EQ(secmq__replay_check(&w, seq), SECMQ_OPEN_REPLAY);
            known++;
        }
    }
    /* The walk exercised both outcomes plenty. */
    CHECK(accepted > 10000);
    CHECK(known > 10000);
}

static void test_random_walk_against_model(void)
{
    random_walk(0);
}

static void test_random_walk_after_restore(void)
{
    random_walk(1);
}

int main(void)
{
    RUN(test_fresh_window_accepts_zero_once);
    RUN(test_in_order_then_duplicates);
    RUN(test_out_of_order_within_window);
    RUN(test_window_edges);
    RUN(test_check_does_not_change_state);
    RUN(test_huge_jumps_and_uint64_max);
    RUN(test_restore_treats_everything_up_to_top_as_seen);
    RUN(test_exhaustive_short_histories);
    RUN(test_random_walk_against_model);
    RUN(test_known_is_exactly_what_was_accepted);
    RUN(test_restored_top_is_not_known);
    RUN(test_random_walk_after_restore);
    return check_exit();
}
