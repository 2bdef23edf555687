/*
 * replay_int.h -- the receiver's replay window for one (key id, sender)
 * stream: the highest accepted sequence number and a 64-bit bitmap below
 * it (PROTOCOL.md 4.2), and which of those bits are known to be accepted
 * (not only assumed seen after a restart). Plain data, no allocation, no
 * locking: the keyring owns one per stream, persists `top` and serialises
 * access.
 */
#ifndef SECMQ_REPLAY_INT_H
#define SECMQ_REPLAY_INT_H

#include <stdint.h>

#include <secmq.h>

/* Sequence numbers the window remembers below and including top. */
#define SECMQ__REPLAY_WINDOW 64u

typedef struct secmq__replay {
    uint64_t top;    /* highest accepted seq (0 when nothing accepted) */
    uint64_t bitmap; /* bit i set: seq top - i was accepted, or counts as
                        seen because it is at or below a restored top */
    uint64_t known;  /* bit i set: seq top - i was accepted, known exactly
                        (always a subset of bitmap) */
} secmq__replay;

/* A new stream: nothing accepted yet, so every seq, 0 included, is new. */
void secmq__replay_init(secmq__replay *w);

/*
 * A stream restored from a persisted top (after a restart): every seq up
 * to and including top counts as seen, because which of the last 64 were
 * delivered is not known. Loses at most out-of-order stragglers below top;
 * never delivers one twice. Nothing is known exactly (known = 0) until
 * secmq__replay_mark_known says so.
 */
void secmq__replay_restore(secmq__replay *w, uint64_t top);

/*
 * secmq__replay_mark_known -- seq was accepted (a durable journal record
 * says so): remember that exactly, if seq is within the window and already
 * counts as seen. Never makes a seq seen that was not, so it cannot change
 * what is accepted. Returns 1 if marked, else 0.
 */
int secmq__replay_mark_known(secmq__replay *w, uint64_t seq);

/*
 * secmq__replay_known -- 1 if seq is known to have been accepted through
 * this window (committed here, or marked known), 0 otherwise: never
 * accepted, 64 or more behind top, or only assumed seen at or below a
 * restored top. A seq for which this is 1 is always refused as a replay.
 */
int secmq__replay_known(const secmq__replay *w, uint64_t seq);

/*
 * secmq__replay_forget -- seq stays refused, but is no longer known as
 * accepted (its acceptance was not made durable, so its message was not
 * delivered). No effect when seq is not known.
 */
void secmq__replay_forget(secmq__replay *w, uint64_t seq);

/*
 * secmq__replay_check -- would seq be accepted? Does not change w, so the
 * keyring can check early and commit only after every other check passed.
 * Returns SECMQ_OPEN_OK or SECMQ_OPEN_REPLAY (seen before, or 64 or more
 * behind top).
 */
int secmq__replay_check(const secmq__replay *w, uint64_t seq);

/*
 * secmq__replay_commit -- record seq as accepted (PROTOCOL.md 4.2 step 9).
 * Checks again: returns SECMQ_OPEN_REPLAY and leaves w unchanged if seq
 * would not be accepted, else SECMQ_OPEN_OK.
 */
int secmq__replay_commit(secmq__replay *w, uint64_t seq);

#endif
