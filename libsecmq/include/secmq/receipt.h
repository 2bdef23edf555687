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
 * p->sender_id/p->sender_sk the receipter's, p->seq the receipter's next
 * sequence number for that key id. out (out_cap bytes, at least
 * secmq_receipt_size(n)) receives the envelope, length in *out_len.
 * Returns SECMQ_OK, SECMQ_E_INVAL (mac-only mode, bad ranges or topic, a
 * sender id that is not the secret key's) or SECMQ_E_OVERSIZE. Never
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

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_RECEIPT_H */
