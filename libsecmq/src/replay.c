/*
 * replay.c -- the 64-entry sliding replay window of PROTOCOL.md 4.2.
 * Pure arithmetic on a two-word struct; what a stream is, when `top` is
 * persisted and how streams are found is the keyring's business.
 */
#include "replay_int.h"

void secmq__replay_init(secmq__replay *w)
{
    w->top = 0;
    w->bitmap = 0;
}

void secmq__replay_restore(secmq__replay *w, uint64_t top)
{
    w->top = top;
    w->bitmap = UINT64_MAX;
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
        w->bitmap |= 1u;
        w->top = seq;
    } else {
        w->bitmap |= UINT64_C(1) << (w->top - seq);
    }
    return SECMQ_OPEN_OK;
}
