/*
 * test_rcptbatch.c -- the receiver's batch of receipt ranges (internal,
 * src/rcptbatch_int.h, compiled into the test): consecutive numbers fold
 * into one range, copies change nothing, gaps and other streams start
 * ranges, a number just below a range extends it, a full batch refuses
 * until taken, a batch is due after N messages or T ms, and a long random
 * history (shuffled, with copies) yields exactly the set of numbers added.
 */
#include <stdlib.h>
#include <string.h>

#include "../../libsecmq/src/rcptbatch_int.h"

#include "check.h"

static const unsigned char k1[8] = {1}, k2[8] = {2}, s1[8] = {3}, s2[8] = {4};
static secmq_receipt_range out[SECMQ_RECEIPT_MAX_RANGES];
static secmq__rb b;

static void test_fold(void)
{
    size_t n;

    secmq__rb_init(&b);
    CHECK(!secmq__rb_due(&b, 1000, 1, 0));
    for (uint64_t s = 10; s < 20; s++) {
        CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, s, 1000), 1);
    }
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 15, 1001), 1); /* a copy */
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 9, 1002), 1);  /* just below */
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 30, 1003), 1); /* a gap */
    CHECK_INT_EQ(secmq__rb_add(&b, k2, s1, 20, 1004), 1); /* other key */
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s2, 20, 1005), 1); /* other sender */
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, UINT64_MAX, 1006), 1);
    CHECK_INT_EQ(b.msgs, 15); /* the copy is not counted */
    n = secmq__rb_take(&b, out);
    CHECK_INT_EQ(n, 5);
    CHECK(out[0].first == 9 && out[0].count == 11);
    CHECK(out[1].first == 30 && out[1].count == 1);
    CHECK(memcmp(out[2].key_id, k2, 8) == 0 && out[2].first == 20);
    CHECK(memcmp(out[3].sender_id, s2, 8) == 0 && out[3].first == 20);
    CHECK(out[4].first == UINT64_MAX && out[4].count == 1);
    CHECK_INT_EQ(b.n, 0);
    CHECK_INT_EQ(b.msgs, 0);
    /* 2^64 - 1 has nothing above it: 0 starts a range of its own. */
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, UINT64_MAX, 1), 1);
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 0, 1), 1);
    CHECK_INT_EQ(secmq__rb_take(&b, out), 2);
    CHECK(out[0].first == UINT64_MAX && out[0].count == 1);
    /* seq 0 has nothing below it. */
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 0, 1), 1);
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 1, 1), 1);
    CHECK_INT_EQ(secmq__rb_take(&b, out), 1);
    CHECK(out[0].first == 0 && out[0].count == 2);
}

static void test_due_and_full(void)
{
    secmq__rb_init(&b);
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 5, 1000), 1);
    CHECK(!secmq__rb_due(&b, 1099, 64, 100));
    CHECK(secmq__rb_due(&b, 1100, 64, 100));
    CHECK(!secmq__rb_due(&b, 999, 64, 100)); /* a clock set back */
    for (uint64_t s = 6; s < 5 + 63; s++) {
        CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, s, 1000), 1);
    }
    CHECK(!secmq__rb_due(&b, 1000, 64, 100));
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 68, 1000), 1);
    CHECK(secmq__rb_due(&b, 1000, 64, 100));
    secmq__rb_take(&b, out);
    /* Every other number: one range each until the batch is full. */
    for (uint64_t i = 0; i < SECMQ_RECEIPT_MAX_RANGES; i++) {
        CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 2 * i, 5), 1);
    }
    CHECK(secmq__rb_due(&b, 5, 100000, 100000));
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 4001, 5), 0);
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 1, 5), 1); /* fits a range */
    CHECK_INT_EQ(secmq__rb_take(&b, out), SECMQ_RECEIPT_MAX_RANGES);
    CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, 4001, 6), 1);
}

/* Mark the n ranges of out in got and add how many numbers they hold to
 * *total; fails on a number twice in one batch. */
static void collect(unsigned char *got, size_t n, size_t *total)
{
    static unsigned char batch[4096];

    memset(batch, 0, sizeof batch);
    for (size_t r = 0; r < n; r++) {
        for (uint64_t s = out[r].first; s < out[r].first + out[r].count; s++) {
            CHECKF(batch[s] == 0, "seq %llu twice in one batch",
                   (unsigned long long)s);
            batch[s] = 1;
            got[s] = 1;
            (*total)++;
        }
    }
}

/* A shuffled history with copies, taken whenever full: the union of the
 * ranges is exactly the numbers added, none twice in one batch. */
static void test_random(void)
{
    static unsigned char seen[4096], got[4096];
    uint64_t seqs[6000];
    size_t total = 0, distinct = 0;

    srand(7);
    for (size_t i = 0; i < 6000; i++) {
        seqs[i] = (uint64_t)(rand() % 4096);
        seen[seqs[i]] = 1;
    }
    for (size_t i = 0; i < sizeof seen; i++) {
        distinct += seen[i];
    }
    secmq__rb_init(&b);
    for (size_t i = 0; i < 6000; i++) {
        if (secmq__rb_add(&b, k1, s1, seqs[i], 0) == 0) {
            collect(got, secmq__rb_take(&b, out), &total);
            CHECK_INT_EQ(secmq__rb_add(&b, k1, s1, seqs[i], 0), 1);
        }
    }
    collect(got, secmq__rb_take(&b, out), &total);
    CHECK(memcmp(seen, got, sizeof seen) == 0);
    /* Repeats across batches are allowed (a copy after a take), so the
     * numbers received are at least the distinct ones. */
    CHECK(total >= distinct);
}

int main(void)
{
    RUN(test_fold);
    RUN(test_due_and_full);
    RUN(test_random);
    return check_exit();
}
