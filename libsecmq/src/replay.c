/*
 * replay.c -- the 64-entry sliding replay window of PROTOCOL.md 4.2, and
 * which of its entries are known to be accepted (for receipts, §9.2).
 * Pure arithmetic on a three-word struct; what a stream is, when `top` is
 * persisted and how streams are found is the keyring's business.
 */
#include "replay_int.h"

void secmq__replay_init(secmq__replay *w)
{
    w->top = 0;
    w->bitmap = 0;
    w->known = 0;
}

void secmq__replay_restore(secmq__replay *w, uint64_t top)
{
    w->top = top;
    w->bitmap = UINT64_MAX;
    /* SECURITY: a restored top says nothing about which seqs below it
     * were accepted: none is known. */
    w->known = 0;
}

/* The bit of seq in the window, or 0 when seq is above top or 64 or more
 * behind it. */
static uint64_t bit_of(const secmq__replay *w, uint64_t seq)
{
    if (seq > w->top || w->top - seq >= SECMQ__REPLAY_WINDOW) {
        return 0;
    }
    return UINT64_C(1) << (w->top - seq);
}

int secmq__replay_mark_known(secmq__replay *w, uint64_t seq)
{
    uint64_t b = bit_of(w, seq);

    if (b == 0 || (w->bitmap & b) == 0) {
        return 0;
    }
    w->known |= b;
    return 1;
}

int secmq__replay_known(const secmq__replay *w, uint64_t seq)
{
    uint64_t b = bit_of(w, seq);

    return b != 0 && (w->known & b) != 0;
}

void secmq__replay_forget(secmq__replay *w, uint64_t seq)
{
    w->known &= ~bit_of(w, seq);
}

int secmq__replay_check(const secmq__replay *w, uint64_t seq)
{
    uint64_t behind;

    if (seq > w->top) {
        return SECMQ_OPEN_OK;
    }
    /* SECURITY: top - seq cannot wrap here (seq <= top); 64 or more behind
     * is refused without looking at the bitmap, even when top < 64 makes
     * that impossible, so the shift below is always < 64. */
    behind = w->top - seq;
    if (behind >= SECMQ__REPLAY_WINDOW) {
        return SECMQ_OPEN_REPLAY;
    }
    if ((w->bitmap >> behind) & 1u) {
        return SECMQ_OPEN_REPLAY;
    }
    return SECMQ_OPEN_OK;
}

int secmq__replay_commit(secmq__replay *w, uint64_t seq)
{
    uint64_t ahead;

    if (secmq__replay_check(w, seq) != SECMQ_OPEN_OK) {
        return SECMQ_OPEN_REPLAY;
    }
    if (seq > w->top) {
        ahead = seq - w->top;
        /* Shifting a uint64_t by 64 or more is undefined in C. */
        w->bitmap = ahead >= SECMQ__REPLAY_WINDOW ? 0 : w->bitmap << ahead;
        w->known = ahead >= SECMQ__REPLAY_WINDOW ? 0 : w->known << ahead;
        w->bitmap |= 1u;
        w->known |= 1u;
        w->top = seq;
    } else {
        w->bitmap |= UINT64_C(1) << (w->top - seq);
        w->known |= UINT64_C(1) << (w->top - seq);
    }
    return SECMQ_OPEN_OK;
}
