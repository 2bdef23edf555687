/*
 * secmq/keyring.h -- identities, peers and channel keys kept in a directory,
 * and sealing and opening messages with them (docs/PROTOCOL.md §2-§5).
 *
 * Two halves: the runtime API (secmq_keyring_*: open a keyring once, then
 * seal and open envelopes from any thread) and the management API (create
 * an identity, import peers and grants, create, rotate and revoke channels),
 * which works on the directory and is what `secmq-keys` runs. Included by
 * secmq.h; include that, not this file.
 *
 * The keyring directory (PROTOCOL.md §5.3, which also gives the owned
 * channel file's payload; every directory 0700; a management call takes an
 * exclusive flock on DIR/lock, secmq_keyring_open a shared one while it
 * reads):
 *
 *   DIR/identity                secret identity file (§2.1), mode 0600
 *   DIR/peers/<name>.pub        trusted peers: public identity files (§2.2)
 *   DIR/grants/<cid>.grant      the newest grant held for a channel, as
 *                               received (§5): sealed to this identity and
 *                               signed by the owner, so it is checked again
 *                               at every load
 *   DIR/grants/<cid>.prev.grant the previous epoch's grant, while its key
 *                               is within the grace period
 *   DIR/owned/<cid>.chan        channels this identity owns: key(s),
 *                               members, epoch (sealed, see below)
 *   DIR/state/seq               sender sequence reservations (sealed)
 *   DIR/state/replay            receiver replay tops per stream (sealed)
 *   DIR/state/replay.journal    what was accepted since the last
 *                               compaction into state/replay: one
 *                               authenticated record per message, appended
 *                               and fdatasync'd before the message is
 *                               handed out; a compaction starts it with
 *                               the last seqs per stream known accepted
 *                               (for receipts, PROTOCOL.md §9.2)
 *   DIR/state/seq.lock          flock held by the one process publishing
 *   DIR/state/replay.lock       flock taken by a receiving process while
 *                               it writes the two replay files
 *
 * <cid> is the channel id: hex of the first 8 bytes of
 * BLAKE2b-32(owner_pk || filter). "Sealed" local files are
 * "SECMQLF1" || nonce(24) || XChaCha20-Poly1305(k, nonce, payload,
 * AD = "SECMQLF1" || kind) with k = crypto_kdf_derive_from_key(32, 1,
 * "secmqkr1", identity seed): private to this keyring, tamper-evident
 * (a changed byte refuses the load, naming the file), and never read by
 * anyone else, so not part of the protocol.
 */
#ifndef SECMQ_KEYRING_H
#define SECMQ_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#ifndef SECMQ_H
#error "include <secmq.h>, not <secmq/keyring.h>"
#endif

#include "secmq/grant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest identity name (PROTOCOL.md §2: 1..64 of [A-Za-z0-9._@-]). */
#define SECMQ_NAME_MAX 64u
/* Default grace period of `channel rotate`, in ms (revoke defaults to 0). */
#define SECMQ_GRACE_DEFAULT_MS 3600000u
/* The grace secmq-keys gives a channel with epochs unless told (and never
 * more than one epoch): long enough for a broker restart and clients
 * reconnecting with backoff, short enough that a stolen device holds at
 * most the current epoch's key and ten minutes of the one before. */
#define SECMQ_EPOCH_GRACE_DEFAULT_MS 600000u
/* Sequence numbers reserved per persisted block (PROTOCOL.md §4). */
#define SECMQ_SEQ_BLOCK 4096u
/* The replay journal is folded into DIR/state/replay (and emptied) once
 * it holds this many records. */
#define SECMQ_REPLAY_COMPACT_EVERY 4096u
/* secmq_keyring_open_msg_v2 flag: do not wait for the replay state. */
#define SECMQ_OPEN_DEFER_SYNC 1u

/* ------------------------------------------------------------------------ */
/* Runtime                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * A loaded keyring: this identity, its peers and the channels it holds.
 * What was loaded never changes while it is open (run secmq-keys, then
 * reopen to see new grants); only sequence numbers and replay windows move.
 *
 * Threading: every function below may be called from any thread at any
 * time, concurrently (seal on publisher threads, open_msg on the loop
 * thread), except secmq_keyring_free(), which no other call may overlap.
 * Sealing holds an internal lock only to take a sequence number (and to
 * persist a new block, an fsync every SECMQ_SEQ_BLOCK messages); opening
 * holds another only for the replay check and commit, and a third while
 * it writes the replay journal (group commit: threads opening at the same
 * time share one fdatasync). Crypto runs unlocked.
 *
 * Replay state: an accepted message is recorded in DIR/state/replay.journal
 * and fdatasync'd before secmq_keyring_open_msg() returns it, so after a
 * crash, a SIGKILL or a power cut at any moment, a message that was handed
 * out is refused as a replay when it comes again (a message whose record
 * was not yet durable was not handed out: it is lost, never doubled).
 * Restoring an older copy of the keyring directory brings back older
 * replay state: messages accepted since that copy are accepted again,
 * unless secmq_keyring_set_max_age() refuses them as too old.
 *
 * Processes: one keyring directory may be opened by several processes (a
 * publisher and a subscriber of the same identity), but only one may
 * publish at a time: the first seal takes an exclusive lock on
 * DIR/state/seq.lock, and a second publishing process gets SECMQ_E_IO.
 * Several processes may receive: each keeps its own windows, they write
 * the journal in turns under an flock on DIR/state/replay.lock, and a
 * compaction keeps the highest top any of them recorded per stream.
 */
typedef struct secmq_keyring secmq_keyring;

/*
 * secmq_keyring_open -- load the identity, peers, grants, owned channels
 * and state of the keyring directory dir (BORROWED).
 * out receives the keyring (release with secmq_keyring_free()). err (errlen
 * bytes, may be NULL) receives a one-line reason naming the file on failure.
 * Every grant is opened and its signature checked again; a previous key
 * whose grace deadline has passed is still listed (so envelopes under it
 * are reported as key_expired) but never used.
 * Returns SECMQ_OK, SECMQ_E_INVAL (NULL argument), SECMQ_E_KEYRING (a
 * missing, malformed or tampered file, an identity file readable or
 * writable by group or others), SECMQ_E_IO, SECMQ_E_NOMEM. On failure *out
 * is NULL.
 */
SECMQ_API SECMQ_NODISCARD int secmq_keyring_open(secmq_keyring **out,
                                                 const char *dir, char *err,
                                                 size_t errlen);

/*
 * secmq_keyring_free -- fold the replay journal into DIR/state/replay
 * (every accepted message is already durable; sequence reservations are
 * always persisted before use), release the publishing lock, wipe every
 * secret (the identity and channel keys live in sodium_malloc memory) and
 * free. Strings returned by the keyring become invalid. A failure to
 * persist is reported on stderr. NULL is a no-op.
 */
SECMQ_API void secmq_keyring_free(secmq_keyring *kr);

/* secmq_keyring_name -- this identity's name; lives as long as kr. */
SECMQ_API const char *secmq_keyring_name(const secmq_keyring *kr);

/* secmq_keyring_id -- this identity's id (PROTOCOL.md §2) into id. */
SECMQ_API void secmq_keyring_id(const secmq_keyring *kr,
                                unsigned char id[SECMQ_ID_BYTES]);

/*
 * secmq_keyring_covers -- 1 if the filter of some channel this identity is
 * a member of matches topic (BORROWED), else 0 (also for a NULL or invalid
 * topic). Whether it may publish there is secmq_keyring_seal's business.
 */
SECMQ_API int secmq_keyring_covers(secmq_keyring *kr, const char *topic);

/*
 * secmq_keyring_may_publish -- whether secmq_keyring_seal() would seal on
 * topic (BORROWED, no wildcards): the most specific channel covering it
 * (see secmq_keyring_seal) lists this identity as a publisher. Lets a
 * tool refuse before it connects. Takes no sequence number, writes
 * nothing.
 * Returns SECMQ_OK; SECMQ_E_INVAL (NULL argument, invalid topic);
 * SECMQ_E_NO_KEY (no channel covers topic, or this identity is not in the
 * publishers list of the one that does: secmq_keyring_errmsg() says which).
 */
SECMQ_API int secmq_keyring_may_publish(secmq_keyring *kr, const char *topic);

/*
 * secmq_keyring_seal -- seal pt (len bytes, BORROWED, may be NULL when len
 * is 0) for topic (BORROWED, no wildcards) into out (out_cap bytes), length
 * in *out_len.
 * The channel: among the channels whose filter matches topic, the most
 * specific one (PROTOCOL.md §4.1: level by level from the left, the first
 * level where two filters differ decides; a literal level beats +, + beats
 * #, and a filter with no more levels beats #; the same filter from two
 * owners: the lower channel id). Its newest key is used, in signed
 * mode, or mac-only when secmq_keyring_set_mode() asked for it AND that
 * channel's grant allows it. The sequence number is taken per PROTOCOL.md
 * §4: a new block is persisted (fsync) before a number past the last
 * persisted block is used.
 * Returns SECMQ_OK; SECMQ_E_INVAL (NULL argument, invalid topic);
 * SECMQ_E_NO_KEY (no channel covers topic, or this identity is not in
 * the publishers list of the one that does: secmq_keyring_errmsg() says
 * which; a less specific channel is never used instead);
 * SECMQ_E_OVERSIZE (out_cap < len + overhead, see secmq_envelope_size);
 * SECMQ_E_IO (the sequence block could not be persisted, or another
 * process publishes with this keyring: nothing was sealed).
 */
SECMQ_API SECMQ_NODISCARD int
secmq_keyring_seal(secmq_keyring *kr, const char *topic, const void *pt,
                   size_t len, unsigned char *out, size_t out_cap,
                   size_t *out_len);

/*
 * secmq_keyring_open_msg -- open the envelope env (len bytes, BORROWED)
 * that arrived on topic (BORROWED), following PROTOCOL.md §4.2 in order:
 * parse; key lookup among the channels whose filter matches topic (current
 * key, or previous key until its grace deadline); mode policy (mac-only
 * only on channels whose grant allows it); AEAD; sender lookup (the
 * publishers the newest grant of that channel lists, then this identity,
 * then its peers: PROTOCOL.md §4.2 step 5) and signature; publisher check
 * against that grant's list, also under the previous key (in mac-only
 * mode against the claimed sender id); maximum age; replay check; then
 * the replay window is committed and its journal record made durable
 * (write and fdatasync of DIR/state/replay.journal, shared with other
 * threads opening at the same time) before the call returns.
 * out (out_cap >= len bytes) receives the plaintext, length in *out_len.
 * *sender (may be NULL) receives the sender's name: a peer's or this
 * identity's name, or the hex id of a publisher known only from the grant;
 * it lives as long as kr. *reason (may be NULL) receives a
 * secmq_open_reason, SECMQ_OPEN_OK on success.
 * The first call that reaches the replay check folds the journal into
 * DIR/state/replay (a torn tail, left by a crash or power cut during a
 * write, is dropped with a line on stderr). The windows themselves come
 * from secmq_keyring_open(): a process does not see what another one
 * receiving with the same directory accepts after that.
 * Returns SECMQ_OK; SECMQ_E_INVAL (NULL argument, out_cap < len);
 * SECMQ_E_NO_KEY (no channel covers topic: not the keyring's business,
 * *reason is SECMQ_OPEN_UNKNOWN_KEY); SECMQ_E_OPEN (refused, *reason says
 * why; the plaintext buffer is wiped; secmq_keyring_errmsg() names sender
 * id and seq); SECMQ_E_IO (the replay state could not be written or is
 * damaged: a journal record that does not authenticate followed by one
 * that does; secmq_keyring_errmsg() names the file) or SECMQ_E_NOMEM: the
 * message is not delivered (plaintext wiped, *reason SECMQ_OPEN_REPLAY)
 * and, once its window moved, a copy of it is refused as a replay.
 * Receiving takes no publishing lock and writes only DIR/state/replay,
 * DIR/state/replay.journal and DIR/state/replay.lock.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_keyring_open_msg(secmq_keyring *kr, const char *topic, const void *env,
                       size_t len, unsigned char *out, size_t out_cap,
                       size_t *out_len, const char **sender, int *reason);

/*
 * secmq_keyring_open_msg_v2 -- secmq_keyring_open_msg() with flags (0 or
 * SECMQ_OPEN_DEFER_SYNC) and a ticket (may be NULL without that flag).
 * With SECMQ_OPEN_DEFER_SYNC the call returns as soon as the window is
 * committed and the journal record queued, with *ticket (> 0) naming the
 * record; the plaintext must NOT be acted on or handed to anyone until
 * secmq_keyring_sync(kr, ticket) returned SECMQ_OK: that is what lets many
 * messages share one fdatasync (open a batch, sync once with the highest
 * ticket, then deliver the batch). Refused messages get *ticket 0.
 * Same return codes as secmq_keyring_open_msg(), and SECMQ_E_INVAL for an
 * unknown flag or a NULL ticket with SECMQ_OPEN_DEFER_SYNC.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_keyring_open_msg_v2(secmq_keyring *kr, const char *topic, const void *env,
                          size_t len, unsigned char *out, size_t out_cap,
                          size_t *out_len, const char **sender, int *reason,
                          unsigned flags, uint64_t *ticket);

/*
 * secmq_keyring_sync -- make the journal records of every message opened
 * so far with SECMQ_OPEN_DEFER_SYNC, up to and including ticket, durable:
 * one write and one fdatasync for all that are queued (or a compaction
 * into DIR/state/replay when the journal is full or damaged at its end).
 * Threads calling it together share the work. ticket 0 is a no-op.
 * Returns SECMQ_OK; SECMQ_E_INVAL (kr NULL); SECMQ_E_IO (not written or
 * a damaged journal: secmq_keyring_errmsg() says why; the messages up to
 * ticket must be dropped, they are refused as replays if they come
 * again); SECMQ_E_NOMEM.
 */
SECMQ_API SECMQ_NODISCARD int secmq_keyring_sync(secmq_keyring *kr,
                                                 uint64_t ticket);

/*
 * secmq_keyring_set_max_age -- refuse envelopes whose time differs from
 * the local clock by more than max_age_ms (PROTOCOL.md §4.2 step 7).
 * 0 turns the check off (the library's default; secmq-sub sets one hour).
 * This is what still refuses replays of old messages when the replay
 * state was lost or restored from an older copy.
 * Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_keyring_set_max_age(secmq_keyring *kr, uint64_t max_age_ms);

/*
 * secmq_keyring_set_mode -- the publishing mode: SECMQ_SEAL_SIGNED (the
 * default) or SECMQ_SEAL_MAC. Mac-only is used only on channels whose
 * grant allows it; elsewhere sealing stays signed.
 * Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_keyring_set_mode(secmq_keyring *kr, secmq_seal_mode mode);

/*
 * secmq_keyring_errmsg -- copy the detail of the most recent failure of a
 * call on kr (seal, open_msg, a state write) into buf (BORROWED, len bytes,
 * NUL-terminated when len > 0). Returns the full message length, 0 when
 * nothing failed yet.
 */
SECMQ_API size_t secmq_keyring_errmsg(secmq_keyring *kr, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* What a keyring holds (for listing)                                       */
/* ------------------------------------------------------------------------ */

/* A trusted peer. Strings live as long as the keyring. */
typedef struct secmq_peer_info {
    const char *name;
    unsigned char id[SECMQ_ID_BYTES];
    unsigned char pk[SECMQ_SIGN_PK_BYTES];
} secmq_peer_info;

/* A channel. Every pointer lives as long as the keyring. */
typedef struct secmq_channel_info {
    const char *filter;
    const char *owner; /* owner's name (a peer or this identity) or hex id */
    int owned;         /* 1: this keyring owns it (rotate, revoke) */
    int member;        /* 1: this identity holds its key (seal/open use it) */
    int may_publish;   /* 1: this identity may publish on it */
    int allow_mac;     /* 1: the grant allows mac-only envelopes */
    uint32_t epoch;
    unsigned char key_id[SECMQ_ID_BYTES];
    uint64_t created_ms; /* when the current key was made, Unix ms */
    int has_prev;        /* 1: the current grant names a previous key */
    int prev_held;       /* 1: and this keyring holds that key */
    unsigned char prev_key_id[SECMQ_ID_BYTES];
    uint64_t prev_deadline_ms; /* grace deadline of the previous key */
    size_t n_publishers;
    const char *const *publishers; /* names (or hex ids) of the publishers */
    size_t n_members;              /* owned channels: every member; else 0 */
    const char *const *members;    /* names of the members */
    const int *member_publishes;   /* 1 where members[i] is a publisher */
} secmq_channel_info;

/*
 * The receipt fields of a channel (PROTOCOL.md §9.1). Every pointer lives
 * as long as the keyring.
 */
typedef struct secmq_channel_receipt_info {
    int on;            /* 1: the channel was created with receipts */
    const char *topic; /* the receipt topic (NUL-terminated); NULL if off */
    unsigned need;     /* 0: every receipter; N: any N of them */
    size_t n_receipters;
    const char *const *receipters; /* names (or hex ids) */
} secmq_channel_receipt_info;

/*
 * The epoch ratchet of a channel (PROTOCOL.md §3.2), as this keyring holds
 * it at the moment of the call.
 */
typedef struct secmq_channel_ratchet_info {
    int on;             /* 1: the channel's key moves every epoch */
    uint32_t period_ms; /* the length of an epoch */
    uint32_t grace_ms;  /* how long a key is kept past its epoch */
    uint32_t step;      /* the epoch now, by this machine's clock */
    uint32_t lowest;    /* the oldest epoch whose key is still held */
    uint64_t erase_ms;  /* when that key is erased, Unix ms */
} secmq_channel_ratchet_info;

/* secmq_keyring_peer_count -- number of trusted peers (not this identity). */
SECMQ_API size_t secmq_keyring_peer_count(const secmq_keyring *kr);

/*
 * secmq_keyring_peer -- describe peer i (0..count-1, sorted by name) into
 * info. Returns SECMQ_OK or SECMQ_E_INVAL (i out of range).
 */
SECMQ_API int secmq_keyring_peer(const secmq_keyring *kr, size_t i,
                                 secmq_peer_info *info);

/*
 * A succession the keyring holds (PROTOCOL.md §2.3): the identity called
 * name replaced its key old_id with new_id. Its own predecessors (after
 * `secmq-keys identity rotate`) and its peers' (imported statements).
 * name lives as long as the keyring.
 */
typedef struct secmq_succession_info {
    const char *name;
    unsigned char old_id[SECMQ_ID_BYTES];
    unsigned char new_id[SECMQ_ID_BYTES];
    uint64_t created_ms; /* when the statement was made, Unix ms */
    int own;             /* 1: old_id is a predecessor of this identity */
} secmq_succession_info;

/* secmq_keyring_succession_count -- number of successor statements held. */
SECMQ_API size_t secmq_keyring_succession_count(const secmq_keyring *kr);

/*
 * secmq_keyring_succession -- describe succession i (0..count-1, in the
 * order they were accepted: a chain oldest first) into info. Returns
 * SECMQ_OK or SECMQ_E_INVAL (i out of range, or a NULL argument).
 */
SECMQ_API int secmq_keyring_succession(const secmq_keyring *kr, size_t i,
                                       secmq_succession_info *info);

/* secmq_keyring_channel_count -- number of channels held or owned. */
SECMQ_API size_t secmq_keyring_channel_count(const secmq_keyring *kr);

/*
 * secmq_keyring_channel -- describe channel i (0..count-1, sorted by
 * filter, then channel id) into info. Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_keyring_channel(const secmq_keyring *kr, size_t i,
                                    secmq_channel_info *info);

/*
 * secmq_keyring_channel_receipts -- the receipt fields of channel i (the
 * same numbering as secmq_keyring_channel) into info (info->on 0 for a
 * channel without receipts). Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_keyring_channel_receipts(const secmq_keyring *kr, size_t i,
                                             secmq_channel_receipt_info *info);

/*
 * secmq_keyring_channel_ratchet -- the epoch ratchet of channel i (the
 * same numbering as secmq_keyring_channel) into info (info->on 0 for a
 * channel with a static key). Moves the ratchet to now first: keys past
 * their grace are erased, in memory and on disk, as sealing would.
 * Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_keyring_channel_ratchet(secmq_keyring *kr, size_t i,
                                            secmq_channel_ratchet_info *info);

/*
 * secmq_keyring_tick -- move every epoch ratchet of kr to now: keys past
 * their grace are erased in memory and the files on disk rewritten
 * without them (waiting for the directory lock). Sealing and opening do
 * this as they go; a process that holds a keyring open while it sends and
 * receives nothing calls this at least once per epoch (secmq_client does,
 * from its network thread) so that a copy of the disk taken then holds no
 * older key. Returns SECMQ_OK, or SECMQ_E_IO / SECMQ_E_KEYRING when a file
 * could not be written (secmq_keyring_errmsg() says which; the keys are
 * erased from memory all the same).
 */
SECMQ_API int secmq_keyring_tick(secmq_keyring *kr);

/* ------------------------------------------------------------------------ */
/* Management (what secmq-keys runs)                                        */
/* ------------------------------------------------------------------------ */

/*
 * Every management function works on the keyring directory dir (BORROWED)
 * under its exclusive lock, checks everything before it writes anything
 * (a refused call changes nothing), writes each file atomically (temporary
 * file, fsync, rename, fsync of the directory), overwrites the file it
 * replaced or removed with zeros (docs/SECURITY.md, "Erasing keys on
 * disk": if that fails, the file is still replaced or removed and
 * SECMQ_E_IO says the old bytes may remain), and on failure puts a
 * one-line reason into err (errlen bytes, may be NULL), naming the file.
 * A keyring that is open elsewhere sees the changes after a reopen.
 */

/*
 * A line of news from a management call ("peer alice 3f2a... added").
 * line is valid during the call only.
 */
typedef void (*secmq_keyring_note_cb)(void *user, const char *line);

/*
 * secmq_identity_create -- make a new identity called name (1..64 of
 * [A-Za-z0-9._@-]) in dir: creates dir (0700) if needed, its
 * subdirectories, and DIR/identity (0600, O_EXCL) from a fresh random seed.
 * Returns SECMQ_OK, SECMQ_E_INVAL (bad name), SECMQ_E_KEYRING (an identity
 * exists already: never overwritten), SECMQ_E_IO.
 */
SECMQ_API int secmq_identity_create(const char *dir, const char *name,
                                    char *err, size_t errlen);

/*
 * secmq_identity_export -- the public identity file (§2.2) of dir's
 * identity into buf (len bytes, NUL-terminated), its length (without NUL)
 * in *out_len (may be NULL). 200 bytes are always enough.
 * Returns SECMQ_OK, SECMQ_E_KEYRING (identity file missing, malformed or
 * readable by others), SECMQ_E_OVERSIZE (buf too small), SECMQ_E_IO.
 */
SECMQ_API int secmq_identity_export(const char *dir, char *buf, size_t len,
                                    size_t *out_len, char *err, size_t errlen);

/*
 * secmq_identity_read_public -- read a public identity file (§2.2, what
 * secmq_identity_export prints) at path: its name into name (name_cap
 * bytes, at least 65, NUL-terminated) and its Ed25519 public key into pk
 * (SECMQ_SIGN_PK_BYTES). All parameters are borrowed; nothing is kept.
 * Returns SECMQ_OK, SECMQ_E_INVAL (NULL argument, name_cap < 65),
 * SECMQ_E_KEYRING (malformed file), SECMQ_E_IO (cannot read path).
 */
SECMQ_API int secmq_identity_read_public(const char *path, char *name,
                                         size_t name_cap, unsigned char *pk,
                                         char *err, size_t errlen);

/*
 * secmq_identity_rotate -- give dir's identity a new key pair (same name)
 * and erase the old one (PROTOCOL.md §2.3). The new keyring is built
 * beside dir (dir + ".rotating"): the new identity, a successor statement
 * signed by the old and the new key, every held grant sealed again to the
 * new key, every local file sealed with the new local key, and every
 * channel dir owns issued again from the new key (a new channel id,
 * epoch + 1, a new key; on a static channel the old key stays the
 * previous one until now + grace_ms; a channel with epochs starts a fresh
 * chain), with a grant per member in out_dir/<new channel id>/ (16 hex
 * digits: a member of two channels gets a file in each). Then the two
 * directories
 * are exchanged in one rename and the old one is overwritten file by file
 * and removed. out_dir (created 0700 if needed) also receives
 * <name>.successor and <name>.pub for the peers and channel owners to
 * import. Until the owners of the channels dir is a member of issue new
 * grants, dir keeps opening those channels but does not publish on them.
 * Refused while a process has the keyring open (secmq_keyring_open). An
 * interrupted rotation (crash, kill) leaves either the old keyring or the
 * new one in dir, and dir + ".rotating" beside it, which makes
 * secmq_keyring_open refuse the keyring until this is called again: it
 * then finishes (erases the old tree, writes out_dir's files) or starts
 * over. note (may be NULL) gets a line per file written.
 * Returns SECMQ_OK, SECMQ_E_INVAL (dir or out_dir NULL), SECMQ_E_KEYRING
 * (no keyring, keyring in use, a file that does not check), SECMQ_E_IO
 * (also: the file system cannot exchange directories; dir unchanged),
 * SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_identity_rotate(const char *dir, const char *out_dir,
                                    uint64_t grace_ms,
                                    secmq_keyring_note_cb note, void *user,
                                    char *err, size_t errlen);

/*
 * secmq_keyring_import -- import public identity files (trusted peers) and
 * grant files, n paths in files (BORROWED), in any order: all peers are
 * taken first, then the grants, oldest epoch first. A grant is accepted
 * only if it is addressed to this identity (header and body), opens,
 * names an owner who is a trusted peer (imported before or in this call)
 * or this identity, carries a valid signature and filter, and has an epoch
 * newer than any held for that (owner, filter); the key it replaces is
 * kept as the previous key until the grant's grace deadline. A peer whose
 * name or key is already known with another key or name is refused; the
 * same peer again, or this identity's own public file, is a no-op.
 * note (may be NULL) is called with user once per file after success.
 * Returns SECMQ_OK, SECMQ_E_INVAL (n is 0), SECMQ_E_KEYRING (a refused
 * file: the reason names it), SECMQ_E_IO, SECMQ_E_NOMEM. All or nothing.
 */
SECMQ_API int secmq_keyring_import(const char *dir, const char *const *files,
                                   size_t n, secmq_keyring_note_cb note,
                                   void *user, char *err, size_t errlen);

/* What secmq_channel_create needs. Every pointer BORROWED for the call. */
typedef struct secmq_channel_spec {
    const char *filter;            /* MQTT topic filter */
    const char *const *publishers; /* public identity files */
    size_t n_publishers;
    const char *const *subscribers; /* public identity files */
    size_t n_subscribers;
    int allow_mac; /* 1: mac-only envelopes allowed */
} secmq_channel_spec;

/*
 * Receipts for a new channel (PROTOCOL.md §9.1). Every pointer BORROWED
 * for the call.
 */
typedef struct secmq_channel_receipts {
    const char *topic; /* receipt topic; NULL: secmq/receipts/<channel id> */
    const char *const *from; /* member names whose receipts count; n_from 0:
                                every subscriber (every member when all
                                of them publish) */
    size_t n_from;
    unsigned count; /* 0: every receipter; N: any N (N <= receipters) */
} secmq_channel_receipts;

/*
 * secmq_channel_create -- create a channel owned by dir's identity: a new
 * random key and key id, epoch 1. Members are the identities in the
 * publisher and subscriber files (one listed in both is a publisher; this
 * identity's own file makes the owner a member). Every member not yet a
 * peer is imported as one. Writes out_dir/<member-name>.grant per member
 * (out_dir is created 0700 if needed, existing grant files replaced), and
 * keeps the channel's full state in DIR/owned/ to rotate and revoke.
 * Returns SECMQ_OK, SECMQ_E_INVAL (bad filter, no members, no publisher),
 * SECMQ_E_KEYRING (a bad member file, a name clash, the channel exists
 * already), SECMQ_E_IO, SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_channel_create(const char *dir,
                                   const secmq_channel_spec *spec,
                                   const char *out_dir,
                                   secmq_keyring_note_cb note, void *user,
                                   char *err, size_t errlen);

/*
 * secmq_channel_create_v2 -- secmq_channel_create, with receipts when
 * receipts (BORROWED) is not NULL: every grant carries the receipt topic,
 * the receipters and the count (SECMQGB2, PROTOCOL.md §5 and §9.1), and
 * rotations and revocations keep them (a revoked member stops being a
 * receipter). receipts NULL is exactly secmq_channel_create. Returns what
 * secmq_channel_create returns; SECMQ_E_INVAL also for a receipt topic that
 * is not 1..4096 bytes without + or #, a name in receipts->from that is not
 * a member or is named twice, or a count above the number of receipters.
 */
SECMQ_API int secmq_channel_create_v2(const char *dir,
                                      const secmq_channel_spec *spec,
                                      const secmq_channel_receipts *receipts,
                                      const char *out_dir,
                                      secmq_keyring_note_cb note, void *user,
                                      char *err, size_t errlen);

/*
 * The epoch ratchet of a new channel (PROTOCOL.md §3.2): the key moves one
 * way to a new key every period_ms, and every member erases a key
 * grace_ms after its epoch ended. period_ms 0: a static key.
 */
typedef struct secmq_channel_ratchet {
    uint32_t period_ms; /* 1000 .. 2^31-1 (about 24.8 days) */
    uint32_t grace_ms;  /* at most 1024 epochs and 2^31-1 */
} secmq_channel_ratchet;

/*
 * secmq_channel_create_v3 -- secmq_channel_create_v2, with an epoch
 * ratchet when ratchet (BORROWED) is not NULL and ratchet->period_ms is
 * not 0: the grants are SECMQGB3 bodies (PROTOCOL.md §5) carrying the key
 * of the epoch they are issued in, members keep the chain as
 * grants/<cid>.chain and erase each epoch's key grace_ms after it ended,
 * and every rotation, revocation and addition starts a fresh chain with no
 * previous key. Receipts cannot be combined with a ratchet. ratchet NULL
 * is exactly secmq_channel_create_v2. Returns what secmq_channel_create_v2
 * returns; SECMQ_E_INVAL also for a period or grace out of range or
 * receipts with a ratchet.
 */
SECMQ_API int secmq_channel_create_v3(const char *dir,
                                      const secmq_channel_spec *spec,
                                      const secmq_channel_receipts *receipts,
                                      const secmq_channel_ratchet *ratchet,
                                      const char *out_dir,
                                      secmq_keyring_note_cb note, void *user,
                                      char *err, size_t errlen);

/*
 * secmq_channel_add -- add the members in members->publishers and
 * members->subscribers (public identity files, BORROWED; an existing
 * member listed as a publisher becomes one) to the owned channel
 * members->filter, and rotate: a new key (a fresh chain on a channel with
 * epochs) and a grant for every member, old and new, in out_dir, so the
 * new members open nothing sent before. grace_ms as in
 * secmq_channel_rotate (ignored on a channel with epochs: no previous
 * key). Returns SECMQ_OK, SECMQ_E_INVAL (no member listed, too many),
 * SECMQ_E_KEYRING (no such owned channel, a bad file, a name clash),
 * SECMQ_E_IO, SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_channel_add(const char *dir,
                                const secmq_channel_spec *members,
                                uint64_t grace_ms, const char *out_dir,
                                secmq_keyring_note_cb note, void *user,
                                char *err, size_t errlen);

/*
 * secmq_channel_rotate -- give the owned channel with exactly this filter
 * a new key (new key id, epoch + 1) and write a grant per current member
 * to out_dir. The replaced key stays valid for receivers until now +
 * grace_ms (the grant's grace deadline); keys older than it are dropped.
 * A channel with epochs gets a fresh chain and no previous key (grace_ms
 * is ignored).
 * Returns SECMQ_OK, SECMQ_E_INVAL, SECMQ_E_KEYRING (no such channel, or
 * not owned by this identity), SECMQ_E_IO, SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_channel_rotate(const char *dir, const char *filter,
                                   uint64_t grace_ms, const char *out_dir,
                                   secmq_keyring_note_cb note, void *user,
                                   char *err, size_t errlen);

/*
 * secmq_channel_revoke -- remove member name from the owned channel and
 * rotate without it: the remaining members get grants for a new key, the
 * revoked one gets nothing. grace_ms is usually 0 (the revoked member's
 * key stops working for everyone at once).
 * Returns SECMQ_OK, SECMQ_E_INVAL, SECMQ_E_KEYRING (no such channel or
 * member), SECMQ_E_IO, SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_channel_revoke(const char *dir, const char *filter,
                                   const char *name, uint64_t grace_ms,
                                   const char *out_dir,
                                   secmq_keyring_note_cb note, void *user,
                                   char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_KEYRING_H */
