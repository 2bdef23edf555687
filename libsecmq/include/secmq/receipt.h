/*
 * secmq/receipt.h -- end-to-end receipts (docs/PROTOCOL.md §9): the pure
 * codec. Bytes in, bytes out: seal a receipt (a signed envelope under the
 * channel's receipt key whose plaintext lists (key id, sender, seq) ranges)
 * and open and verify one. No I/O, no allocation, no state: which key id
 * is current, who the receipters are and what a range frees are the
 * caller's. Included by <secmq.h>.
 */
#ifndef SECMQ_RECEIPT_H
#define SECMQ_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#ifndef SECMQ_H
#error "include <secmq.h>, not <secmq/receipt.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SECMQ_RECEIPT_MAX_RANGES 512u /* ranges in one receipt, at most */
#define SECMQ_RECEIPT_RANGE_BYTES 28u /* key id, sender id, u64, u32 */
#define SECMQ_RECEIPT_FIXED_BYTES 18u /* magic, channel id, u16 n */
/* Longest receipt plaintext and envelope (512 ranges, signed). */
#define SECMQ_RECEIPT_PLAIN_MAX                                                \
    (SECMQ_RECEIPT_FIXED_BYTES +                                               \
     SECMQ_RECEIPT_RANGE_BYTES * SECMQ_RECEIPT_MAX_RANGES)
#define SECMQ_RECEIPT_MAX_BYTES                                                \
    (SECMQ_RECEIPT_PLAIN_MAX + SECMQ_ENV_OVERHEAD_SIGNED)

/*
 * One range: the receipter opened, and made durable, every envelope with
 * this key id and sender id and first <= seq < first + count. count >= 1
 * and first + count - 1 does not pass 2^64 - 1.
 */
typedef struct secmq_receipt_range {
    unsigned char key_id[SECMQ_ID_BYTES];
    unsigned char sender_id[SECMQ_ID_BYTES];
    uint64_t first;
    uint32_t count;
} secmq_receipt_range;

/*
 * secmq_receipt_key -- the receipt key of a channel key:
 * crypto_kdf_derive_from_key(32, 2, "secmqenv", channel_key) (§9.2). rk
 * receives SECMQ_KEY_BYTES secret bytes: the caller wipes them. Never fails.
 */
SECMQ_API void secmq_receipt_key(unsigned char rk[SECMQ_KEY_BYTES],
                                 const unsigned char *channel_key);

/*
 * secmq_receipt_size -- envelope bytes of a receipt with n_ranges ranges;
 * 0 unless 1 <= n_ranges <= SECMQ_RECEIPT_MAX_RANGES.
 */
SECMQ_API size_t secmq_receipt_size(size_t n_ranges);

/*
 * secmq_receipt_encode -- the receipt plaintext of §9.2 (no crypto): out
 * (cap bytes) receives SECMQ_RECEIPT_FIXED_BYTES + 28 * n bytes, length in
 * *out_len. channel_id (SECMQ_ID_BYTES) is the channel id of §5.3; ranges
 * (n of them, BORROWED) are written in the order given.
 * Returns SECMQ_OK, SECMQ_E_INVAL (NULL argument, n outside 1..512, a
 * count of 0 or a range past 2^64 - 1) or SECMQ_E_OVERSIZE (cap too small).
 */
SECMQ_API int secmq_receipt_encode(unsigned char *out, size_t cap,
                                   size_t *out_len,
                                   const unsigned char *channel_id,
                                   const secmq_receipt_range *ranges, size_t n);

/*
 * secmq_receipt_decode -- check a receipt plaintext (§9.3 step 5) and copy
 * its ranges into ranges (cap entries; SECMQ_RECEIPT_MAX_RANGES always
 * suffices), their number in *n. channel_id is the channel the receipt
 * arrived for. Returns SECMQ_OPEN_OK or SECMQ_OPEN_MALFORMED (not exactly
 * 18 + 28 * n bytes, another magic, n outside 1..512, a count of 0, a range
 * past 2^64 - 1, another channel id, cap too small, NULL arguments); on
 * failure *n is 0.
 */
SECMQ_API int
secmq_receipt_decode(secmq_receipt_range *ranges, size_t cap, size_t *n,
                     const unsigned char *plain, size_t len,
                     const unsigned char *channel_id) SECMQ_NODISCARD;

/*
 * secmq_receipt_seal -- build a receipt envelope (§9.2) on topic, the
 * channel's receipt topic (NUL-terminated). p is as for
 * secmq_envelope_seal, with p->mode SECMQ_SEAL_SIGNED, p->channel_key the
 * channel key itself (the receipt key is derived here), p->key_id its id,
 * p->sender_id/p->sender_sk the receipter's, p->seq its clock in Unix
 * microseconds (§9.2: receipts need no sequence reservation). out (out_cap
 * bytes, at least secmq_receipt_size(n)) receives the envelope, length in
 * *out_len. Returns SECMQ_OK, SECMQ_E_INVAL (mac-only mode, bad ranges or
 * topic, a sender id that is not the secret key's) or SECMQ_E_OVERSIZE. Never
 * allocates.
 */
SECMQ_API int secmq_receipt_seal(unsigned char *out, size_t out_cap,
                                 size_t *out_len, const secmq_seal_params *p,
                                 const unsigned char *channel_id,
                                 const char *topic,
                                 const secmq_receipt_range *ranges, size_t n);

/*
 * secmq_receipt_open -- §9.3 steps 1 and 3-5 on a parsed envelope f
 * (secmq_envelope_parse, which is step 1's parse) that arrived on topic:
 * signed mode, the AEAD under the receipt key of channel_key (the key the
 * caller holds for f->key_id: step 2, the key lookup and its grace
 * deadline, is the caller's), f->sender_id one of the n_receipters keys at
 * receipters (32 bytes each, from the newest grant), its signature, and the
 * plaintext (secmq_receipt_decode with channel_id). On success ranges (cap
 * entries) holds *n ranges and *who the index of the receipter in
 * receipters. Every range is returned, also those about other senders:
 * step 6 (which count) is the caller's.
 * Returns SECMQ_OPEN_OK, SECMQ_OPEN_MALFORMED (mac-only, bad plaintext,
 * NULL arguments), SECMQ_OPEN_BAD_TAG, SECMQ_OPEN_UNAUTHORISED (the sender
 * is not a receipter) or SECMQ_OPEN_BAD_SIGNATURE; on failure *n is 0 and
 * nothing of the plaintext is kept. Never allocates.
 */
SECMQ_API int secmq_receipt_open(
    secmq_receipt_range *ranges, size_t cap, size_t *n, size_t *who,
    const secmq_envelope_fields *f, const char *topic,
    const unsigned char *channel_key, const unsigned char *channel_id,
    const unsigned char *receipters, size_t n_receipters) SECMQ_NODISCARD;

/* ------------------------------------------------------------------------ */
/* Receipts with a keyring (secmq/keyring.h)                                */
/* ------------------------------------------------------------------------ */

/*
 * secmq_keyring_seal_receipt -- seal a receipt (§9.2) from this keyring's
 * identity for ranges (n of them, BORROWED) of messages it opened. The
 * channel is the one this identity is a member of whose newest or previous
 * key is ranges[0].key_id; every range must name one of those two keys.
 * The receipt is sealed under the channel's newest key, seq and time from
 * the clock. out (cap bytes, secmq_receipt_size(n) suffice) receives it,
 * length in *out_len; *topic (may be NULL) the channel's receipt topic,
 * valid as long as kr. Never allocates; does not touch the sequence state.
 * Returns SECMQ_OK; SECMQ_E_INVAL (NULL argument, n outside 1..512, a bad
 * range, a range under a key of another channel); SECMQ_E_NO_KEY (no
 * channel holds that key, the channel has no receipts, or this identity is
 * not one of its receipters); SECMQ_E_OVERSIZE (cap too small).
 */
SECMQ_API int secmq_keyring_seal_receipt(secmq_keyring *kr,
                                         const secmq_receipt_range *ranges,
                                         size_t n, unsigned char *out,
                                         size_t cap, size_t *out_len,
                                         const char **topic);

/*
 * secmq_keyring_open_receipt -- open a receipt env (len bytes, BORROWED)
 * that arrived on topic, for a channel this identity is a member of whose
 * receipt topic is topic: §9.3 steps 1-5 (step 2: the key id is the
 * channel's newest key, or its previous key held and within the grace
 * deadline). ranges (cap entries; SECMQ_RECEIPT_MAX_RANGES always suffice)
 * receives every range, *n their number, *receipter (may be NULL) the
 * receipter's name (a peer's name, this identity's, or 16 hex digits),
 * valid as long as kr. Which ranges count (those naming this identity as
 * sender, §9.3 step 6) is the caller's. *reason (may be NULL) is a
 * secmq_open_reason. Stateless: a replayed receipt opens again (§9.3).
 * Returns SECMQ_OK; SECMQ_E_INVAL (NULL argument); SECMQ_E_NO_KEY (no
 * channel of this keyring has topic as its receipt topic; *reason
 * SECMQ_OPEN_UNKNOWN_KEY); SECMQ_E_OPEN (refused, *reason says why).
 */
SECMQ_API int secmq_keyring_open_receipt(secmq_keyring *kr, const char *topic,
                                         const void *env, size_t len,
                                         secmq_receipt_range *ranges,
                                         size_t cap, size_t *n,
                                         const char **receipter,
                                         int *reason) SECMQ_NODISCARD;

/* ------------------------------------------------------------------------ */
/* Receipts sent by a client (secmq.h)                                      */
/* ------------------------------------------------------------------------ */

/* When a client sends a receipt by default: after this many messages of a
 * channel, or this long after the oldest one not yet receipted. */
#define SECMQ_RECEIPT_DEFAULT_MSGS 64u
#define SECMQ_RECEIPT_DEFAULT_DELAY_MS 100u

/*
 * A client with a keyring (secmq_client_set_keyring) sends receipts by
 * itself, nothing to call: for every message it opened on a channel whose
 * grant has receipts and names this keyring's identity among the
 * receipters (and that another identity sent: a sender never waits for its
 * own receipt), once the message's replay record is durable and before
 * on_message sees it, (key id, sender, seq) joins that channel's batch. A
 * batch is sealed (secmq_keyring_seal_receipt) and published at QoS 1, not
 * retained, on the channel's receipt topic when max_msgs messages joined
 * it, or max_delay_ms after the oldest of them joined (the delivery
 * thread waits for that moment; nothing polls), whichever comes first, or
 * when it holds SECMQ_RECEIPT_MAX_RANGES ranges. A copy refused as a replay
 * (a sender's resend) is receipted again only when the keyring knows it
 * opened that envelope (its replay window or journal; PROTOCOL.md §9.2),
 * never otherwise (counted in rereceipted). secmq_client_disconnect() first
 * publishes what is pending (best effort: messages still queued for the
 * application then, and receipts not yet written when the link goes, are
 * not receipted); secmq_client_free() without it sends nothing more.
 * Receipts go straight to MQTT, never through an outbox: while the link is
 * down libmosquitto keeps them in memory and sends them after the
 * reconnect; their PUBACKs are not reported to on_publish.
 */

/*
 * secmq_client_set_receipts -- when this client sends receipts: after
 * max_msgs messages of a channel (1..65535; 0: SECMQ_RECEIPT_DEFAULT_MSGS)
 * or max_delay_ms after the oldest message not yet receipted (1..60000; 0:
 * SECMQ_RECEIPT_DEFAULT_DELAY_MS). Call before secmq_client_connect().
 * Returns SECMQ_OK, SECMQ_E_INVAL (c NULL, a value out of range) or
 * SECMQ_E_STATE (connecting or connected).
 */
SECMQ_API int secmq_client_set_receipts(secmq_client *c, unsigned max_msgs,
                                        unsigned max_delay_ms);

/* Counters of the receipts a client sent, from secmq_client_receipt_stats. */
typedef struct secmq_receipt_stats {
    uint64_t sent;     /* receipts handed to MQTT (QoS 1) */
    uint64_t acked;    /* of those, acknowledged by the broker (PUBACK) */
    uint64_t ranges;   /* ranges in the receipts sent */
    uint64_t messages; /* messages the receipts sent cover */
    uint64_t failed;   /* receipts not sent (sealing or MQTT refused them;
                          a line went to on_log): their messages are not
                          receipted */
    uint64_t pending;  /* messages waiting in batches now */
    /* A sender's side (an outbox holding rows for receipts, below): */
    uint64_t awaiting;  /* outbox rows handed to MQTT and not yet receipted
                           by the receipters they need, now */
    uint64_t receipted; /* rows freed by receipts (on_receipt SECMQ_OK) */
    uint64_t resent;    /* rows handed again for want of receipts (timeout
                           or reconnect) */
    uint64_t missed;    /* rows given up (on_receipt SECMQ_E_NO_RECEIPT) */
    uint64_t opened;    /* receipts received that opened (§9.3 steps 1-5) */
    uint64_t refused;   /* receipts received that did not open: forged,
                           another channel, not a receipter, tampered (a
                           line went to on_log); they change nothing */
    /* A receiver's side again: */
    uint64_t rereceipted; /* copies refused as replays (on_open_failure
                             SECMQ_OPEN_REPLAY) of messages the keyring
                             knows it opened, added to a batch again
                             (PROTOCOL.md §9.2); also counted in messages
                             when their receipt is sent, unless the batch
                             held them already */
} secmq_receipt_stats;

/*
 * secmq_client_receipt_stats -- the counters of receipts this client sent
 * since it was created: the first size bytes of a secmq_receipt_stats are
 * written into *st (BORROWED, written); pass sizeof(secmq_receipt_stats),
 * so a program built against an older, shorter struct keeps working. Any
 * thread. Returns SECMQ_OK or SECMQ_E_INVAL (c or st NULL, size 0).
 */
SECMQ_API int secmq_client_receipt_stats(secmq_client *c,
                                         secmq_receipt_stats *st, size_t size);

/* ------------------------------------------------------------------------ */
/* Receipts a sender waits for (an outbox, secmq/outbox.h)                  */
/* ------------------------------------------------------------------------ */

/*
 * A client with a keyring and an outbox holds every row it sealed on a
 * channel whose grant has receipts, from this identity, until the
 * receipters the channel needs (PROTOCOL.md §9.1: every receipter other
 * than this identity, or any `need` of them) have receipted it; nothing to
 * call. While connected it subscribes (QoS 1) to the receipt topic of each
 * such channel and opens what arrives there itself (§9.3): receipts never
 * reach on_message. A receipt that does not open changes nothing (counted
 * as refused, logged). For such a row:
 *  - the broker's PUBACK does not delete it: it stays in the file, waiting
 *    (stats.awaiting), and on_delivered is not called yet;
 *  - when the receipts it needs are in: the row is deleted (its delete
 *    queued for the file, it leaves the counts), then on_receipt(id,
 *    SECMQ_OK), then on_delivered(id, SECMQ_OK);
 *  - no receipt resend_ms after its PUBACK: it is handed again (the same
 *    envelope, same seq: receivers that opened it drop the copy as a replay
 *    and receipt it again, §9.2), and again after twice that, and so on up
 *    to resend_max_ms between tries; after a reconnect every waiting row is
 *    handed again at once, oldest first, before newer rows (a broker that
 *    restarted may have lost what it acknowledged);
 *  - still short of receipts give_up_ms after it was first handed: it is
 *    logged (SECMQ_LOG_WARNING, naming the receipters missing), deleted,
 *    and reported: on_receipt(id, SECMQ_E_NO_RECEIPT), then
 *    on_delivered(id, SECMQ_E_NO_RECEIPT);
 *  - a broker that refuses it (MQTT 5 reason code) ends it as before.
 * Window: per key, a row is handed only while its seq is less than
 * `window` past the oldest row handed and not yet receipted (so at most
 * `window` such rows; at most 64, the receivers' replay window,
 * PROTOCOL.md §4.2): a row further ahead waits, and the rows behind it, so
 * a resent row always lands inside the receivers' replay window and in
 * order. The price: a receipter that stops receipting stops the stream
 * after `window` rows (for every subscriber) until it is back or the rows
 * are given up. window 0 turns the window off: the stream never waits for
 * receipts, and a resend that lands more than 64 seqs behind a receiver's
 * newest is refused there as a replay (never opened, never receipted) and
 * given up like any row without receipts. After a restart of the process
 * the rows in the file are handed again from the oldest and wait for
 * receipts as before: the file is the only state. Without an outbox,
 * publishes on such channels are sent as usual and not held (one warning
 * in the log).
 */

/* Defaults of secmq_receipt_wait_init(). */
#define SECMQ_RECEIPT_DEFAULT_RESEND_MS 2000u
#define SECMQ_RECEIPT_DEFAULT_RESEND_MAX_MS 30000u
#define SECMQ_RECEIPT_DEFAULT_GIVE_UP_MS 600000u
#define SECMQ_RECEIPT_WINDOW_MAX 64u

/* How a sender waits for receipts. Initialise with secmq_receipt_wait_init. */
typedef struct secmq_receipt_wait {
    size_t size;            /* sizeof(secmq_receipt_wait); set by _init */
    unsigned resend_ms;     /* first resend after the PUBACK, 1..3600000;
                               default SECMQ_RECEIPT_DEFAULT_RESEND_MS */
    unsigned resend_max_ms; /* longest wait between resends, resend_ms..
                               3600000; default 30000 */
    uint64_t give_up_ms;    /* from the first hand to the report, >= 1;
                               default SECMQ_RECEIPT_DEFAULT_GIVE_UP_MS */
    unsigned window;        /* 1..SECMQ_RECEIPT_WINDOW_MAX, default 64;
                               0: none (see Window above) */
} secmq_receipt_wait;

/*
 * secmq_receipt_wait_init -- fill *w with the defaults above. w is
 * BORROWED and written. Never fails.
 */
SECMQ_API void secmq_receipt_wait_init(secmq_receipt_wait *w);

/*
 * secmq_client_set_receipt_wait -- how this client's outbox waits for
 * receipts (w BORROWED, copied). Call before secmq_client_connect().
 * Returns SECMQ_OK, SECMQ_E_INVAL (c or w NULL, w not initialised with
 * secmq_receipt_wait_init, a value out of range) or SECMQ_E_STATE
 * (connecting or connected).
 */
SECMQ_API int secmq_client_set_receipt_wait(secmq_client *c,
                                            const secmq_receipt_wait *w);

/*
 * on_receipt: an outbox row held for receipts is settled: rc SECMQ_OK (got
 * receipts from need receipters) or SECMQ_E_NO_RECEIPT (given up with got
 * < need). need is the number of receipters the row needed (the channel's
 * `need`, or every receipter but this identity). Called once per such row,
 * after the row left the outbox and before its on_delivered, on the loop
 * thread (rows settled by receipts or PUBACKs) or on the outbox's commit
 * thread (rows given up), which may run at the same time for different
 * rows: keep it short and lock what it shares.
 */
typedef void (*secmq_receipt_cb)(secmq_client *c, void *user, uint64_t id,
                                 int rc, unsigned got, unsigned need);
/* Set it before secmq_client_connect(). NULL unsets. */
SECMQ_API void secmq_client_on_receipt(secmq_client *c, secmq_receipt_cb cb);

/* Where an outbox row stands, from secmq_client_receipt_row. */
typedef enum secmq_row_state {
    SECMQ_ROW_QUEUED = 1,  /* in the outbox, not handed to MQTT now */
    SECMQ_ROW_HANDED = 2,  /* handed to MQTT, no PUBACK yet */
    SECMQ_ROW_AWAITING = 3 /* acknowledged by the broker, waiting for
                              receipts */
} secmq_row_state;

typedef struct secmq_receipt_row {
    int state;          /* a secmq_row_state */
    int receipts;       /* 1: held for receipts; 0: leaves at the PUBACK */
    unsigned got, need; /* receipters heard from / needed */
    unsigned resends;   /* times handed again for want of receipts */
} secmq_receipt_row;

/*
 * secmq_client_receipt_row -- where outbox row id stands now: the first
 * size bytes of a secmq_receipt_row go to *st (pass sizeof). A row not
 * yet handed since the file was opened has receipts 0 until it is. Any
 * thread. Returns SECMQ_OK; SECMQ_E_INVAL (NULL, size 0, or id not in
 * the outbox: settled, delivered, dropped or never queued); SECMQ_E_STATE
 * (no outbox).
 */
SECMQ_API int secmq_client_receipt_row(secmq_client *c, uint64_t id,
                                       secmq_receipt_row *st, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_RECEIPT_H */
