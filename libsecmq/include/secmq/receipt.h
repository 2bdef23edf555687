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
 * is never receipted (PROTOCOL.md §9.2). secmq_client_disconnect() first
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

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_RECEIPT_H */
