/*
 * keyring_int.h -- the inside of a secmq_keyring, shared by keystore.c
 * (loading the directory), keyring.c (the runtime API) and keyadmin.c (the
 * management API). Nothing here is part of the public API.
 */
#ifndef SECMQ_KEYRING_INT_H
#define SECMQ_KEYRING_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "identity_int.h"
#include "kfile_int.h"
#include "replay_int.h"
#include "rjournal_int.h"
#include "seqstate_int.h"

/* Longest grant file the keyring reads (65535 publishers fit). */
#define SECMQ__GRANT_FILE_MAX (4u * 1024u * 1024u)
/* Channel id bytes (file names under grants/ and owned/). */
#define SECMQ__CID_BYTES 8u
/* A display name: a name, or 16 hex digits. */
#define SECMQ__DISPLAY_BYTES (SECMQ_NAME_MAX + 1u)

/* A publisher of a channel, as its grant (or owned state) lists it. */
typedef struct secmq__kpub {
    unsigned char pk[SECMQ_SIGN_PK_BYTES];
    unsigned char id[SECMQ_ID_BYTES];
    char display[SECMQ__DISPLAY_BYTES]; /* peer name, own name, or hex id */
} secmq__kpub;

/* A member of an owned channel. */
typedef struct secmq__kmember {
    unsigned char pk[SECMQ_SIGN_PK_BYTES];
    char name[SECMQ_NAME_MAX + 1];
    int publisher;
} secmq__kmember;

/*
 * The receipt fields of a channel (PROTOCOL.md §9.1), from its grant or
 * its owned state (keyreceipts.c). on = 0: a channel without receipts,
 * everything else empty.
 */
typedef struct secmq__krcpt {
    int on;
    char *topic; /* NUL-terminated, malloc'd */
    size_t topic_len;
    unsigned need;      /* 0: every receipter; N: any N */
    int listed;         /* owned: 1 when the owner named the receipters */
    unsigned char *pks; /* n * 32, malloc'd */
    size_t n;
    char (*display)[SECMQ__DISPLAY_BYTES]; /* n names, malloc'd */
    const char **names;                    /* -> display, malloc'd */
} secmq__krcpt;

/*
 * The epoch ratchet of a channel (PROTOCOL.md §3.2, keychain.c). Only the
 * key of the lowest step still held is kept; the message keys and step key
 * ids of steps lo .. lo + n - 1 are derived from it as time needs them.
 * Guarded by the keyring's chain_lock once the keyring is open.
 */
typedef struct secmq__kchain {
    uint32_t period_ms;
    uint32_t grace_ms;
    uint32_t lo;       /* the lowest step held */
    uint32_t saved_lo; /* the lowest step the file on disk holds */
    uint32_t n;        /* steps derived: lo .. lo + n - 1 */
    uint32_t cap;      /* room for this many */
    /* sodium_malloc: k_lo (32), k_top (32: the key of step lo + n - 1),
     * then cap message keys of 32. */
    unsigned char *sec;
    unsigned char *ids; /* cap step key ids of SECMQ_ID_BYTES, malloc'd */
    /* A member's kept grant body (PROTOCOL.md §5.3, channel key zeroed),
     * malloc'd; NULL for an owned channel. */
    unsigned char *body;
    size_t body_len;
    int save_failed; /* the last save failed (said once on stderr) */
    int pruned;      /* replay state was pruned up to pruned_lo */
    uint32_t pruned_lo;
} secmq__kchain;

/* A channel: owned by this identity, or held through a grant, or both. */
typedef struct secmq__kchan {
    unsigned char cid[SECMQ__CID_BYTES];
    unsigned char owner_pk[SECMQ_SIGN_PK_BYTES];
    char owner_display[SECMQ__DISPLAY_BYTES];
    char *filter; /* NUL-terminated */
    size_t filter_len;
    int owned;
    int member;
    int may_publish;
    int member_old; /* its grant names a predecessor of this identity */
    int allow_mac;
    uint32_t epoch;
    unsigned char key_id[SECMQ_ID_BYTES];
    uint64_t created_ms;
    int has_prev;
    int prev_held;
    unsigned char prev_key_id[SECMQ_ID_BYTES];
    uint64_t prev_deadline_ms;
    size_t slot; /* keys: kr->keys[2 * slot] current, [2 * slot + 1] prev */
    secmq__kpub *pubs;
    size_t npubs;
    secmq__kmember *members; /* owned channels only */
    size_t nmembers;
    secmq__krcpt rcpt;    /* receipts (§9.1) */
    secmq__kchain *chain; /* the epoch ratchet (§3.2), or NULL: a static key */
    unsigned long long prev_ino; /* grants/<cid>.prev.grant's inode, loaded */
    int prev_erased; /* the previous key past its grace is off the disk */
    /* For secmq_keyring_channel(): arrays pointing at the names above. */
    const char **pub_names;
    const char **member_names;
    int *member_pub;
} secmq__kchan;

/* This sender's sequence numbers under one key. */
typedef struct secmq__ktx {
    unsigned char key_id[SECMQ_ID_BYTES];
    uint64_t next;     /* next seq to use (0: not started) */
    uint64_t reserved; /* persisted block end: every used seq is below */
} secmq__ktx;

/* A received stream (key id, sender id) and its replay window. */
typedef struct secmq__krx {
    unsigned char key_id[SECMQ_ID_BYTES];
    unsigned char sender_id[SECMQ_ID_BYTES];
    secmq__replay w;
} secmq__krx;

struct secmq_keyring {
    char *dir;
    secmq__ident self;
    secmq__secret *sec; /* sodium_malloc; read-only after loading */

    secmq__ident *peers; /* sorted by name */
    size_t npeers;
    secmq__succ *succ; /* accepted successor statements (keysucc.c) */
    size_t nsucc;
    int use_fd; /* shared flock on DIR/state/use.lock while open, or -1 */

    secmq__kchan *chans; /* sorted by filter, then channel id */
    size_t nchans;
    /* 32-byte channel keys, two per channel (current, previous), in
     * sodium_malloc memory; read-only once loaded. */
    unsigned char *keys;
    size_t key_slots; /* capacity in channels */
    /* The message keys of those keys (PROTOCOL.md §4), same layout, in
     * sodium_malloc memory, read-only (keymsg.c). NULL: not derived. */
    unsigned char *msg_keys;

    /* Sender side, guarded by tx_lock. */
    pthread_mutex_t tx_lock;
    secmq__ktx *tx;
    size_t ntx, captx;
    int seq_lock_fd; /* flock on state/seq.lock, -1 until first seal */
    secmq__stream_ent *seq_other; /* state/seq rows of keys not in tx */
    size_t nseq_other;
    secmq_seal_mode mode;

    /* Receiver side (rxstate.c). rx_lock guards the windows, the records
     * not yet journaled and the tickets; sync_lock (always taken before
     * rx_lock) makes one group commit at a time and guards the rest. */
    pthread_mutex_t rx_lock;
    secmq__krx *rx;
    size_t nrx, caprx;
    uint64_t max_age_ms;
    secmq__stream_ent *pend; /* accepted, not yet in the journal */
    size_t npend, cappend;
    uint64_t ticket;  /* tickets handed out so far (one per accepted) */
    uint64_t durable; /* every ticket up to this one is durable */
    pthread_mutex_t sync_lock;
    secmq__stream_ent *spare; /* the other pending buffer (sync_lock) */
    size_t capspare;
    int rx_lock_fd;      /* state/replay.lock, -1 until receiving begins */
    atomic_int rx_begun; /* the first compaction under the lock was done */
    secmq__rj journal;

    /* The ratchets of the channels that have one (keychain.c). */
    pthread_mutex_t chain_lock;
    /* The thread that erases epoch keys on time while nothing is sealed or
     * opened (keychain.c); tick_mu guards tick_stop. */
    pthread_t ticker;
    int ticker_running;
    pthread_mutex_t tick_mu;
    pthread_cond_t tick_cv;
    int tick_stop;

    /* The latest failure, guarded by err_lock. */
    pthread_mutex_t err_lock;
    char errmsg[SECMQ_ERRMSG_BYTES];

    int locks_ready; /* the five mutexes are initialised */
};

/*
 * Load the keyring directory dir into a new keyring (no runtime locks
 * taken, the caller holds DIR/lock as it needs). Secrets are made
 * read-only. Returns SECMQ_OK, SECMQ_E_KEYRING, SECMQ_E_IO, SECMQ_E_NOMEM.
 */
int secmq__keystore_load(secmq_keyring **out, const char *dir, secmq__kerr *e);
/* Wipe and free everything (no persistence). NULL is a no-op. */
void secmq__keystore_free(secmq_keyring *kr);

/*
 * secmq_keyring_seal for a client's publish, with one channel lookup: when
 * no channel covers topic (or topic is not a valid topic) *covered is 0
 * and SECMQ_OK is returned with nothing sealed and no error recorded;
 * else *covered is 1 and the result is secmq_keyring_seal's. All pointers
 * BORROWED. Any thread.
 */
int secmq__keyring_seal_covered(secmq_keyring *kr, const char *topic,
                                const void *pt, size_t len, unsigned char *out,
                                size_t out_cap, size_t *out_len, int *covered);

/* 1 if key_id is the current or previous key of a channel held. */
int secmq__key_known(const secmq_keyring *kr, const unsigned char *key_id);

/* Put a printf-style message into kr's error message (under err_lock);
 * returns code. */
int secmq__kr_err(secmq_keyring *kr, int code, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);

/* What a keyring knows of an envelope's key id at now_ms (§3, §3.2). */
#define SECMQ__KEY_UNKNOWN 0 /* no channel it holds has this key id */
#define SECMQ__KEY_HELD 1    /* it can seal/open under this key id */
#define SECMQ__KEY_EXPIRED 2 /* a key it held, erased or past its grace */
int secmq__key_state(secmq_keyring *kr, const unsigned char *key_id,
                     uint64_t now_ms);

/* ---- the receiver's replay state (rxstate.c) ---- */

/* Load DIR/state/replay and its journal into kr's windows (at open; no
 * lock taken, a torn journal tail is ignored). SECMQ_OK, SECMQ_E_KEYRING
 * (damaged), SECMQ_E_IO, SECMQ_E_NOMEM. */
int secmq__rx_load(secmq_keyring *kr, secmq__kerr *e);
/*
 * Steps 8 and 9 of PROTOCOL.md §4.2 for f: the first call begins
 * receiving (opens state/replay.lock, compacts the journal); then check
 * and commit the window and queue a journal record. *ticket receives its
 * ticket.
 * A replay of a seq this keyring knows it accepted (secmq__replay_known:
 * committed by this process, or in a whole journal group at open) sets
 * *known to 1 (when known is not NULL) and *ticket to a ticket that is
 * durable once that acceptance is; any other outcome sets *known to 0.
 * Returns SECMQ_OPEN_OK, SECMQ_OPEN_REPLAY, or a negative SECMQ_E_*
 * (state unusable: reason in e; nothing committed).
 */
int secmq__rx_accept(secmq_keyring *kr, const secmq_envelope_fields *f,
                     uint64_t *ticket, int *known, secmq__kerr *e);
/* 1 if (key_id, sender_id, seq) is known as accepted now (see above). */
int secmq__rx_known(secmq_keyring *kr, const unsigned char *key_id,
                    const unsigned char *sender_id, uint64_t seq);
/* (key_id, sender_id, seq) stays refused but is no longer known as
 * accepted: its replay record was not made durable, so it was not
 * delivered and must not be receipted. */
void secmq__rx_forget(secmq_keyring *kr, const unsigned char *key_id,
                      const unsigned char *sender_id, uint64_t seq);
/*
 * secmq_keyring_open_msg_v2 (keyring.h), and when opened_before is not
 * NULL one more result: *opened_before is 1 when the envelope passed
 * steps 1-7 of PROTOCOL.md §4.2 and was refused as a replay (SECMQ_E_OPEN,
 * reason SECMQ_OPEN_REPLAY) of a seq this keyring knows it accepted
 * (secmq__rx_accept); *ticket (if not NULL) is then the ticket to make
 * durable (secmq_keyring_sync) before receipting it. Otherwise 0, and
 * *ticket as secmq_keyring_open_msg_v2 sets it.
 */
int secmq__keyring_open(secmq_keyring *kr, const char *topic, const void *env,
                        size_t len, unsigned char *out, size_t out_cap,
                        size_t *out_len, const char **sender, int *reason,
                        unsigned flags, uint64_t *ticket, int *opened_before);
/* An envelope that passed steps 1-7 of PROTOCOL.md §4.2
 * (secmq__keyring_verify), waiting for steps 8-9 (secmq__keyring_accept). */
typedef struct secmq__kopened {
    secmq_envelope_fields f; /* pointers into the envelope: only the ids,
                                seq and mode are used after verifying */
    const char *sender;      /* display name (the keyring's), or NULL */
    size_t ptlen;            /* plaintext bytes written to out */
} secmq__kopened;
/*
 * Steps 1-7 (parse, key, mode, AEAD, signature, publisher, age): reads
 * only what loading set, so any number of threads may run it at once.
 * out (out_cap >= len) receives the plaintext; it must not be acted on
 * before secmq__keyring_accept. Returns SECMQ_OK with *o filled,
 * SECMQ_E_OPEN (*reason says why; out wiped), SECMQ_E_NO_KEY (no channel
 * covers topic), SECMQ_E_INVAL.
 */
int secmq__keyring_verify(const secmq_keyring *kr, const char *topic,
                          const void *env, size_t len, unsigned char *out,
                          size_t out_cap, secmq__kopened *o, int *reason);
/*
 * Steps 8-9 for o (replay window, journal record; synced unless flags has
 * SECMQ_OPEN_DEFER_SYNC): the caller keeps the order in which envelopes
 * are accepted. out holds o's plaintext; it is wiped when refused.
 * Results as secmq__keyring_open's.
 */
int secmq__keyring_accept(secmq_keyring *kr, const char *topic,
                          const secmq__kopened *o, unsigned char *out,
                          int *reason, unsigned flags, uint64_t *ticket,
                          int *opened_before);
/* Make every record up to ticket durable (group commit). SECMQ_OK,
 * SECMQ_E_IO, SECMQ_E_KEYRING (a damaged journal), SECMQ_E_NOMEM. */
int secmq__rx_sync(secmq_keyring *kr, uint64_t ticket, secmq__kerr *e);
/* Identity rotation: kr's replay tops (DIR/state/replay and its journal,
 * read with kr's local key) into to_dir's state/replay, sealed with key
 * (nothing written when there are none). SECMQ_OK, SECMQ_E_KEYRING,
 * SECMQ_E_IO, SECMQ_E_NOMEM. */
int secmq__rx_copy(const secmq_keyring *kr, const char *to_dir,
                   const unsigned char *key, secmq__kerr *e);
/* At free: compact if receiving began, close the journal and the lock.
 * SECMQ_OK or the failure (reason in e). */
int secmq__rx_close(secmq_keyring *kr, secmq__kerr *e);

/* The channel id of (owner_pk, filter). */
void secmq__chan_id(unsigned char cid[SECMQ__CID_BYTES],
                    const unsigned char *owner_pk, const char *filter,
                    size_t filter_len);
/* The channel with this id, or NULL. */
secmq__kchan *secmq__chan_find(secmq_keyring *kr, const unsigned char *cid);
/*
 * keyrcpt.c: the channel a receiver receipts a message it opened under
 * key_id from sender_id for (PROTOCOL.md §9): the index in kr->chans of
 * the channel holding key_id (newest or previous) when it has receipts,
 * lists this identity among its receipters and sender_id is not this
 * identity's; else -1. Reads only what loading set: any thread.
 */
long secmq__keyring_rcpt_chan(const secmq_keyring *kr,
                              const unsigned char *key_id,
                              const unsigned char *sender_id);
/* keyrcpt.c: the number of channels of kr (indices of the call above). */
size_t secmq__keyring_nchans(const secmq_keyring *kr);

/* keyrcpt.c: what a sender holds a row for (PROTOCOL.md §9.1). */
typedef struct secmq__send_rcpt {
    long chan;         /* index in kr->chans */
    unsigned n_rcpt;   /* receipters of the newest grant */
    unsigned self_idx; /* this identity among them, or n_rcpt */
    unsigned need;     /* distinct receipters other than self needed, >= 1 */
} secmq__send_rcpt;
/* 1 and *out filled when an envelope under key_id from sender_id is this
 * identity's on a channel with receipts that needs at least one receipter;
 * else 0. Any thread (reads what loading set). */
int secmq__keyring_send_rcpt(const secmq_keyring *kr,
                             const unsigned char *key_id,
                             const unsigned char *sender_id,
                             secmq__send_rcpt *out);
/* The receipt topic of channel i when this identity publishes there and
 * waits for receipts on it; else NULL. */
const char *secmq__keyring_rcpt_topic(const secmq_keyring *kr, size_t i);
/* 1 when topic is such a receipt topic. */
int secmq__keyring_rcpt_is_topic(const secmq_keyring *kr, const char *topic);
/* The name of receipter who of channel chan ("?" when out of range). */
const char *secmq__keyring_rcpt_name(const secmq_keyring *kr, long chan,
                                     size_t who);
/* secmq_keyring_open_receipt giving the channel index and the receipter's
 * index instead of its name. */
int secmq__keyring_open_receipt_ix(const secmq_keyring *kr, const char *topic,
                                   const void *env, size_t len,
                                   secmq_receipt_range *ranges, size_t cap,
                                   size_t *n, long *chan, size_t *who_out,
                                   int *reason);

/* ---- message keys derived once (keymsg.c) ---- */

/* Derive the message key of every channel key of kr (secmq_keyring_open,
 * after loading). Without memory for them nothing is kept and
 * secmq__msg_key returns NULL. */
void secmq__msg_keys_derive(secmq_keyring *kr);
/* Wipe and free them (NULL kr->msg_keys is a no-op). */
void secmq__msg_keys_free(secmq_keyring *kr);
/* Channel ch's current (prev 0) or previous message key, 32 bytes, or
 * NULL when not derived (then derive it from secmq__chan_key). Any
 * thread (read-only after open). */
const unsigned char *secmq__msg_key(const secmq_keyring *kr,
                                    const secmq__kchan *ch, int prev);

/* Channel i's current and previous keys (32 bytes each). */
const unsigned char *secmq__chan_key(const secmq_keyring *kr,
                                     const secmq__kchan *ch, int prev);

/*
 * The most specific member channel whose filter matches topic (tlen bytes,
 * a valid topic), or NULL (keychoose.c, PROTOCOL.md §4.1): compared by
 * secmq__filter_cmp_specific; the same filter from two owners goes to the
 * lower channel id.
 */
const secmq__kchan *secmq__chan_best(const secmq_keyring *kr, const char *topic,
                                     size_t tlen);

/* The file names in DIR/sub ending in suffix (and not in except, may be
 * NULL), sorted, malloc'd (free with secmq__free_names). A missing
 * directory has none. SECMQ_OK, SECMQ_E_KEYRING, SECMQ_E_IO, _E_NOMEM. */
int secmq__list_dir(const char *dir, const char *sub, const char *suffix,
                    const char *except, char ***names, size_t *n,
                    secmq__kerr *e);
void secmq__free_names(char **v, size_t n);

/* ---- successions (PROTOCOL.md §2.3, keysucc.c) ---- */

/* Read and verify DIR/successions/ into kr (at load, after the identity
 * and the peers). SECMQ_OK, SECMQ_E_KEYRING (a bad or misnamed
 * statement), SECMQ_E_IO, SECMQ_E_NOMEM. */
int secmq__succ_load(secmq_keyring *kr, secmq__kerr *e);
/* The accepted statement whose old key is old_pk, or NULL. */
const secmq__succ *secmq__succ_find(const secmq_keyring *kr,
                                    const unsigned char *old_pk);
/* The newest key pk leads to through accepted statements (pk itself when
 * none; at most SECMQ__SUCC_CHAIN_MAX links followed). */
const unsigned char *secmq__succ_latest(const secmq_keyring *kr,
                                        const unsigned char *pk);
#define SECMQ__SUCC_CHAIN_MAX 64
/* 1 if pk is a predecessor of this identity (not its current key). */
int secmq__succ_is_own_old(const secmq_keyring *kr, const unsigned char *pk);
/* The trusted peer whose current key pk is, or a predecessor of; NULL. */
const secmq__ident *secmq__succ_peer(const secmq_keyring *kr,
                                     const unsigned char *pk);
/* Keep s in kr (for the rest of a call) and write it as
 * DIR/successions/<old id>.successor. SECMQ_OK, _E_IO, _E_NOMEM. */
int secmq__succ_keep(secmq_keyring *kr, const secmq__succ *s, secmq__kerr *e);
/*
 * Import (keyimport.c): decide about the statement s read from label.
 * Returns 1 when it is new: kr's peer of that name now has the new key
 * (in memory) and *peer is that peer to write; 0 when known already or
 * this identity's own; negative when refused (the reason names label).
 */
int secmq__succ_admit(secmq_keyring *kr, const secmq__succ *s,
                      const char *label, secmq__ident *peer, secmq__kerr *e);

/* The peer with this public key / name, or NULL. */
const secmq__ident *secmq__peer_by_pk(const secmq_keyring *kr,
                                      const unsigned char *pk);
const secmq__ident *secmq__peer_by_name(const secmq_keyring *kr,
                                        const char *name);

/* The state of an owned channel, as DIR/owned/<cid>.chan holds it. */
typedef struct secmq__owned {
    const char *filter; /* filter_len bytes, BORROWED */
    size_t filter_len;
    int allow_mac;
    uint32_t epoch;
    unsigned char key_id[SECMQ_ID_BYTES];
    uint64_t created_ms;
    int has_prev;
    unsigned char prev_key_id[SECMQ_ID_BYTES];
    uint64_t prev_deadline_ms;
    secmq__kmember *members; /* malloc'd */
    size_t nmembers;
    const secmq__krcpt *rcpt; /* BORROWED; NULL or on = 0: no receipts */
    /* Secrets, pointing into sodium_malloc memory the caller owns. */
    unsigned char *key;      /* 32 bytes; with a ratchet, the key of step lo */
    unsigned char *prev_key; /* 32 bytes */
    /* The epoch ratchet (§3.2): period_ms 0 for a static key. */
    uint32_t period_ms;
    uint32_t ratchet_grace_ms;
    uint32_t lo;
} secmq__owned;

/* Seal o into DIR/owned/<cid>.chan with the local key (keyowned.c). */
int secmq__owned_save(const secmq_keyring *kr, const unsigned char *cid,
                      const secmq__owned *o, secmq__kerr *e);
/*
 * keychannel.c: issue the owned channel ch again from kr's identity (the
 * successor of ch's owner, §2.3): channel id of kr's key, epoch + 1, a new
 * key (the old one kept as previous until now + grace_ms on a static
 * channel; a fresh chain on one with epochs), each member under the newest
 * key of its holder; a grant per member to out_dir, the owned file sealed
 * with kr's local key. ch's own files are left to the caller.
 * SECMQ_OK, SECMQ_E_KEYRING, SECMQ_E_INVAL, SECMQ_E_IO, SECMQ_E_NOMEM.
 */
int secmq__owned_succeed(secmq_keyring *kr, const secmq__kchan *ch,
                         uint64_t grace_ms, const char *out_dir,
                         secmq_keyring_note_cb cb, void *user, secmq__kerr *e);
/* Read DIR/owned/<fname> into a new channel of kr (keyowned.c).
 * SECMQ_OK, SECMQ_E_KEYRING (malformed, tampered, renamed), _E_NOMEM. */
int secmq__owned_load(secmq_keyring *kr, const char *fname, secmq__kerr *e);

/* ---- the epoch ratchet (keychain.c) ---- */

/*
 * Give ch a ratchet whose lowest held step is lo with key k (32 bytes,
 * copied), for epochs of period_ms and a grace of grace_ms; body (body_len
 * bytes, copied; NULL for an owned channel) is a member's kept grant body.
 * saved_lo is what the file holds. SECMQ_OK or SECMQ_E_NOMEM.
 */
int secmq__chain_new(secmq__kchan *ch, const unsigned char *k, uint32_t lo,
                     uint32_t saved_lo, uint32_t period_ms, uint32_t grace_ms,
                     const unsigned char *body, size_t body_len,
                     secmq__kerr *e);
/* Wipe and free ch's ratchet (NULL is a no-op). */
void secmq__chain_free(secmq__kchan *ch);
/*
 * Move ch's ratchet to now_ms: steps past their grace are erased (their
 * keys wiped), the steps up to max(step(now), lo) + 1 are derived. Caller
 * holds chain_lock (or owns the keyring alone). Returns 1 when lo moved.
 */
int secmq__chain_sync(secmq__kchan *ch, uint64_t now_ms);
/*
 * For sealing on ch at now_ms: the step key id and message key of step
 * max(step(now), lo) into id / mk. Takes chain_lock; saves the chain's
 * file when it moved. SECMQ_OK, or SECMQ_E_NO_KEY past the last step.
 */
int secmq__chain_seal_key(secmq_keyring *kr, secmq__kchan *ch,
                          unsigned char *id, unsigned char *mk);
/*
 * For opening: whether key_id names a step of ch held at now_ms (mk gets
 * its message key: SECMQ__KEY_HELD), a step erased lately
 * (SECMQ__KEY_EXPIRED) or none (SECMQ__KEY_UNKNOWN). Takes chain_lock;
 * with mk not NULL also saves the chain's file when it moved (mk NULL
 * writes nothing: the ticker thread saves it).
 */
int secmq__chain_lookup(secmq_keyring *kr, secmq__kchan *ch,
                        const unsigned char *key_id, uint64_t now_ms,
                        unsigned char *mk);
/*
 * Write ch's chain position to its file (grants/<cid>.chain, or the owned
 * file) under the directory's exclusive lock, never moving the file back
 * to a lower step or over another chain. blocking 0: give up (SECMQ_OK,
 * still unsaved) when the lock is busy. SECMQ_OK, SECMQ_E_IO,
 * SECMQ_E_KEYRING.
 */
int secmq__chain_save(secmq_keyring *kr, secmq__kchan *ch, int blocking,
                      secmq__kerr *e);
/*
 * Move every chain of kr to now and save those that moved (blocking:
 * wait for the directory lock; then also remove a grant file left beside
 * a chain file). SECMQ_OK or the first failure (the rest are still done).
 */
int secmq__chains_tick(secmq_keyring *kr, int blocking, secmq__kerr *e);
/*
 * The step key ids of every chain's erased steps not pruned yet (below lo,
 * from the last call's lo less SECMQ__EXPIRED_LOOKBACK, or at most 4096
 * steps back on the first call), sorted (8 bytes each, malloc'd into
 * *ids; NULL when none): the replay streams under them can go, as those
 * keys never open anything again. The number of ids; 0 also without
 * memory. Takes chain_lock.
 */
size_t secmq__chain_erased_ids(secmq_keyring *kr, unsigned char **ids);
/* 1 if the 8 bytes at id are among the n sorted ids. */
int secmq__ids_have(const unsigned char *ids, size_t n,
                    const unsigned char *id);
/*
 * Erase from the disk the previous keys of static channels past their
 * grace deadline (keyprev.c): a member's grants/<cid>.prev.grant (the
 * file loaded, not one imported since), an owner's previous key in its
 * owned file. Under the directory's exclusive lock. SECMQ_OK or the first
 * failure. secmq__prev_next_deadline: the earliest such deadline at or
 * after now not yet passed (UINT64_MAX: none).
 */
int secmq__prev_tick(secmq_keyring *kr, secmq__kerr *e);
uint64_t secmq__prev_next_deadline(const secmq_keyring *kr, uint64_t now);
/*
 * Start / stop the thread that calls secmq__chains_tick and
 * secmq__prev_tick when the next epoch key or previous key is due to be
 * erased (only when kr has a chain or a previous key still in grace). Start
 * returns SECMQ_OK or SECMQ_E_NOMEM; stop is a no-op without a thread.
 */
int secmq__ticker_start(secmq_keyring *kr);
void secmq__ticker_stop(secmq_keyring *kr);
/* Load DIR/grants/<fname> (a .chain file) into a new channel of kr.
 * SECMQ_OK, SECMQ_E_KEYRING, SECMQ_E_NOMEM. */
int secmq__chain_load(secmq_keyring *kr, const char *fname, secmq__kerr *e);
/* Write a member's chain file for the GB3 grant body (blen bytes, the
 * signature checked) holding the key of step lo (32 bytes). */
int secmq__chain_write(const secmq_keyring *kr, const unsigned char *cid,
                       uint32_t lo, const unsigned char *k,
                       const unsigned char *body, size_t blen, secmq__kerr *e);

/* ---- building the channels of a keyring being loaded (keystore.c) ---- */

/* Add a zeroed channel with its own key slots; the pointer is valid until
 * the next call. SECMQ_OK or SECMQ_E_NOMEM. */
int secmq__chan_add(secmq_keyring *kr, secmq__kchan **out, secmq__kerr *e);
/* Drop the channel secmq__chan_add made last (its key slots are wiped). */
void secmq__chan_drop_last(secmq_keyring *kr);
/* Channel ch's current (prev 0) or previous key slot, writable while the
 * keyring is being loaded. */
unsigned char *secmq__chan_key_w(secmq_keyring *kr, const secmq__kchan *ch,
                                 int prev);
/* Copy filter f (len bytes) into ch. SECMQ_OK or SECMQ_E_NOMEM. */
int secmq__chan_set_filter(secmq__kchan *ch, const char *f, size_t len,
                           secmq__kerr *e);
/* 1 if name is "<16 hex digits of cid><suffix>". */
int secmq__name_is_cid(const char *name, const unsigned char *cid,
                       const char *suffix);

/*
 * Open and check the grant file bytes grant (len bytes; label names it in
 * messages) for this keyring: addressed to this identity, opens, body
 * well-formed with a valid owner signature, member is this identity,
 * owner is this identity or a trusted peer (kr->peers). On success *body
 * (sodium_malloc'd; sodium_free it) holds the body and g points into it.
 * rt receives the ratchet of a SECMQGB3 grant; rt NULL refuses such a
 * grant (the keyring keeps those as chain files, §5.3). Epochs are the
 * caller's business. Returns SECMQ_OK, SECMQ_E_KEYRING,
 * SECMQ_E_NOMEM.
 */
int secmq__grant_check(const secmq_keyring *kr, const char *label,
                       const unsigned char *grant, size_t len,
                       unsigned char **body, secmq_grant_fields *g,
                       secmq_grant_receipts *r, secmq_grant_ratchet *rt,
                       secmq__kerr *e);
/* The checks of secmq__grant_check after the body: addressed to this
 * identity, from this identity or a trusted peer. SECMQ_OK or
 * SECMQ_E_KEYRING. */
int secmq__grant_trusted(const secmq_keyring *kr, const char *label,
                         const secmq_grant_fields *g, secmq__kerr *e);
/* Fill ch (from secmq__chan_add) from a checked grant; r NULL: no
 * receipts. SECMQ_OK or SECMQ_E_NOMEM. */
int secmq__chan_from_grant(secmq_keyring *kr, secmq__kchan *ch,
                           const secmq_grant_fields *g,
                           const secmq_grant_receipts *r, secmq__kerr *e);

/* ---- receipt fields of channels (keyreceipts.c) ---- */

/* Free what r holds and zero it. NULL is a no-op. */
void secmq__rcpt_free(secmq__krcpt *r);
/* Copy a grant's receipt fields (g->topic NULL: off) into r (zeroed).
 * SECMQ_OK or SECMQ_E_NOMEM. */
int secmq__rcpt_from_grant(secmq__krcpt *r, const secmq_grant_receipts *g,
                           secmq__kerr *e);
/* The codec's view of r (pointers into r), for building grants. */
void secmq__rcpt_view(const secmq__krcpt *r, secmq_grant_receipts *g);
/* The receipt fields of a new channel from spec (NULL: none), its members
 * and channel id (§9.1 defaults). SECMQ_OK, SECMQ_E_INVAL (bad topic, a
 * name that is no member or named twice, a count above the receipters),
 * SECMQ_E_NOMEM. */
int secmq__rcpt_choose(secmq__krcpt *r, const secmq_channel_receipts *spec,
                       const unsigned char *cid, const secmq__kmember *m,
                       size_t nm, secmq__kerr *e);
/* The receipt fields after a rotation to members m (§9.1): listed
 * receipters that are still members, or the default again; need lowered
 * to what is left. SECMQ_OK, SECMQ_E_KEYRING (named receipters all gone
 * while members remain), SECMQ_E_NOMEM. */
int secmq__rcpt_refresh(secmq__krcpt *r, const secmq__krcpt *old,
                        const secmq__kmember *m, size_t nm, secmq__kerr *e);
/* The owned-file section (PROTOCOL.md §5.3): its size, writing it at p
 * (returns the end), reading it from the len bytes left (0, or -1 when
 * malformed). Without receipts the section is empty. */
size_t secmq__rcpt_owned_size(const secmq__krcpt *r);
unsigned char *secmq__rcpt_owned_write(unsigned char *p, const secmq__krcpt *r);
int secmq__rcpt_owned_read(secmq__krcpt *r, const unsigned char *p, size_t len);
/* Allocate the display arrays of r (names are filled by the caller).
 * SECMQ_OK or SECMQ_E_NOMEM. */
int secmq__rcpt_names_alloc(secmq__krcpt *r, secmq__kerr *e);

/* "grants/<cid>.grant" style path: sub is "grants" or "owned", suffix
 * ".grant", ".prev.grant" or ".chan". -1 if too long. */
int secmq__chan_path(char *buf, size_t len, const char *dir, const char *sub,
                     const unsigned char *cid, const char *suffix);

/* ---- what the management calls share (keyadmin.c) ---- */

/* The directory lock and the keyring loaded under it. */
typedef struct secmq__admin {
    int lockfd;
    secmq_keyring *kr;
} secmq__admin;

/* Lock dir exclusively and load it. SECMQ_OK, _E_KEYRING, _E_IO, ... */
int secmq__admin_begin(const char *dir, secmq__admin *a, secmq__kerr *e);
/* keyrotate.c: the path of the new keyring an identity rotation builds
 * beside dir (dir + ".rotating"). 0, or -1 when buf is short. */
int secmq__rotation_path(char *buf, size_t len, const char *dir);
/* SECMQ_E_KEYRING (saying to finish it) when DIR.rotating shows an
 * interrupted identity rotation; else SECMQ_OK. */
int secmq__rotation_check(const char *dir, secmq__kerr *e);
/* Hold DIR/state/use.lock shared while kr is open (kr->use_fd), so that an
 * identity rotation waits for no process and none starts during one.
 * SECMQ_OK, SECMQ_E_KEYRING (a rotation holds it), SECMQ_E_IO. */
int secmq__use_lock(secmq_keyring *kr, secmq__kerr *e);
/* Free the keyring and release the lock. */
void secmq__admin_end(secmq__admin *a);

/*
 * Decide about public identity p read from label: 1 = a new peer (added
 * to kr->peers for the rest of the call), 0 = already known or this
 * identity, negative = refused (a name or key clash).
 */
int secmq__peer_admit(secmq_keyring *kr, const secmq__ident *p,
                      const char *label, secmq__kerr *e);
/* Write DIR/peers/<name>.pub. */
int secmq__peer_write(const secmq_keyring *kr, const secmq__ident *p,
                      secmq__kerr *e);

/* Call cb (if any) with a formatted line. */
void secmq__note(secmq_keyring_note_cb cb, void *user, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);
/* Empty err, if any. */
void secmq__clear_err(char *err, size_t errlen);

#endif /* SECMQ_KEYRING_INT_H */
