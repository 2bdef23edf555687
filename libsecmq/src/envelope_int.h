/*
 * envelope_int.h -- what the keyring needs from envelope.c beyond the
 * public secmq/envelope.h: the message key a channel key gives, and a seal
 * and an open that take that key already derived, so a sender and a
 * receiver derive it once per channel key instead of once per message.
 * Not part of the public API.
 */
#ifndef SECMQ_ENVELOPE_INT_H
#define SECMQ_ENVELOPE_INT_H

#include <stddef.h>

#include <secmq.h>

/* The message key of PROTOCOL.md §4 (crypto_kdf subkey 1, context
 * "secmqenv") of channel_key; both SECMQ_KEY_BYTES, both BORROWED. */
void secmq__envelope_msg_key(unsigned char *mk,
                             const unsigned char *channel_key);

/*
 * secmq_envelope_seal with p->channel_key ignored and message_key (from
 * secmq__envelope_msg_key of the channel key, BORROWED) used instead; the
 * same checks and return codes, except that in signed mode p->sender_id is
 * taken to be p->sender_sk's id (the keyring passes its own, checked when
 * it was loaded) instead of being hashed again. message_key NULL: exactly
 * secmq_envelope_seal.
 */
int secmq__envelope_seal_mk(unsigned char *out, size_t out_cap, size_t *out_len,
                            const secmq_seal_params *p,
                            const unsigned char *message_key, const char *topic,
                            const void *plaintext, size_t plaintext_len);

/*
 * secmq_envelope_open with message_key (from secmq__envelope_msg_key of
 * channel_key, BORROWED) used instead of deriving it from channel_key, so
 * a receiver derives it once per channel key instead of once per message;
 * the same checks and return codes. message_key NULL: exactly
 * secmq_envelope_open.
 */
int secmq__envelope_open_mk(unsigned char *plaintext, size_t cap,
                            size_t *plaintext_len,
                            const secmq_envelope_fields *f, const char *topic,
                            const unsigned char *channel_key,
                            const unsigned char *message_key,
                            const unsigned char *sender_pk);

#endif /* SECMQ_ENVELOPE_INT_H */
