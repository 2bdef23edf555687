/*
 * secmq/envelope.h -- the end-to-end envelope, version 1 (docs/PROTOCOL.md).
 *
 * Pure functions: bytes in, bytes out. No I/O, no allocation, no state; the
 * caller (the keyring) supplies keys, sequence numbers and the clock, and
 * does key lookup, authorisation and replay checks. Included by secmq.h;
 * include that, not this file.
 * Like libsodium: sizes are macros, verification results must be used.
 * Call secmq_init() (or sodium_init()) once before any function here.
 */
#ifndef SECMQ_ENVELOPE_H
#define SECMQ_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#ifndef SECMQ_H
#error "include <secmq.h>, not <secmq/envelope.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SECMQ_ID_BYTES 8u       /* identity id, key id */
#define SECMQ_KEY_BYTES 32u     /* channel key, message key */
#define SECMQ_SIGN_PK_BYTES 32u /* Ed25519 public key */
#define SECMQ_SIGN_SK_BYTES 64u /* Ed25519 secret key (libsodium form) */
#define SECMQ_ENV_NONCE_BYTES 24u
#define SECMQ_ENV_TAG_BYTES 16u
#define SECMQ_ENV_SIG_BYTES 64u
#define SECMQ_ENV_HEADER_BYTES 58u
#define SECMQ_ENV_VERSION 1u
/* Bytes an envelope adds to the plaintext. */
#define SECMQ_ENV_OVERHEAD_SIGNED 138u /* header + tag + signature */
#define SECMQ_ENV_OVERHEAD_MAC 74u     /* header + tag */
/*
 * Longest topic an envelope can be bound to. MQTT allows 65535 bytes; the
 * associated data and the signed bytes are built in a fixed stack buffer so
 * that sealing and opening never allocate, which bounds the topic
 * (PROTOCOL.md section 4). Longer topics are refused.
 */
#define SECMQ_TOPIC_MAX 4096u

typedef enum secmq_seal_mode {
    SECMQ_SEAL_SIGNED = 1, /* Ed25519 signature by the sender (default) */
    SECMQ_SEAL_MAC = 2     /* AEAD tag only: proves membership, not sender */
} secmq_seal_mode;

/*
 * Why an envelope did not open. Numbers never change; new reasons are added
 * before SECMQ_OPEN_REASON_COUNT.
 */
typedef enum secmq_open_reason {
    SECMQ_OPEN_OK = 0,
    SECMQ_OPEN_MALFORMED = 1,      /* too short, bad mode, not an envelope */
    SECMQ_OPEN_VERSION = 2,        /* unknown version byte */
    SECMQ_OPEN_UNKNOWN_KEY = 3,    /* no key with this id for this topic */
    SECMQ_OPEN_KEY_EXPIRED = 4,    /* previous key past its grace deadline */
    SECMQ_OPEN_MODE_REFUSED = 5,   /* mac-only not allowed on this channel */
    SECMQ_OPEN_BAD_TAG = 6,        /* tampered, other topic, or other key */
    SECMQ_OPEN_UNKNOWN_SENDER = 7, /* sender id not a known identity */
    SECMQ_OPEN_BAD_SIGNATURE = 8,  /* signature does not verify */
    SECMQ_OPEN_UNAUTHORISED = 9,   /* sender is not a publisher */
    SECMQ_OPEN_TOO_OLD = 10,       /* outside the maximum age */
    SECMQ_OPEN_REPLAY = 11,        /* seen before, or too far behind */
    SECMQ_OPEN_NO_CHANNEL = 12,    /* a client with a keyring got a message
                                      on a topic no channel of it covers
                                      (and no allow-plain filter matches);
                                      never an envelope verdict */
    SECMQ_OPEN_BAD_PROOF = 13,     /* a file chunk (protocol 2) whose
                                      plaintext is not the one its proof
                                      leads to in the signed manifest's
                                      tree root; never an envelope verdict */
    SECMQ_OPEN_REASON_COUNT = 14
} secmq_open_reason;

/*
 * secmq_open_reason_name -- "bad_tag", "replay", ... as in PROTOCOL.md,
 * and "no_channel" (a client's refusal, see secmq_client_allow_plain).
 * Never NULL ("unknown" for other values); static.
 */
SECMQ_API const char *secmq_open_reason_name(int reason);

/*
 * The fields of a parsed envelope. Pointers point into the envelope, which
 * must stay unchanged while the fields are used.
 */
typedef struct secmq_envelope_fields {
    unsigned version;
    unsigned mode;
    unsigned char key_id[SECMQ_ID_BYTES];
    unsigned char sender_id[SECMQ_ID_BYTES];
    uint64_t seq;
    uint64_t time_ms;
    const unsigned char *nonce;      /* SECMQ_ENV_NONCE_BYTES */
    const unsigned char *ciphertext; /* ciphertext_len bytes, tag last */
    size_t ciphertext_len;           /* plaintext length + 16 */
    const unsigned char *signature;  /* NULL in mac-only mode */
} secmq_envelope_fields;

/* What secmq_envelope_seal needs. All pointers BORROWED for the call. */
typedef struct secmq_seal_params {
    secmq_seal_mode mode;
    const unsigned char *channel_key; /* SECMQ_KEY_BYTES */
    const unsigned char *key_id;      /* SECMQ_ID_BYTES */
    const unsigned char *sender_id;   /* SECMQ_ID_BYTES */
    const unsigned char *sender_sk;   /* SECMQ_SIGN_SK_BYTES; signed mode */
    uint64_t seq;
    uint64_t time_ms;
    const unsigned char *nonce; /* SECMQ_ENV_NONCE_BYTES, or NULL = random
                                   (NULL is the only safe choice outside
                                   test vectors) */
} secmq_seal_params;

/*
 * secmq_envelope_size -- envelope length for a plaintext length and mode.
 * Returns 0 if mode is not a secmq_seal_mode or the result would overflow
 * size_t.
 */
SECMQ_API size_t secmq_envelope_size(secmq_seal_mode mode,
                                     size_t plaintext_len);

/*
 * secmq_envelope_seal -- build an envelope for topic.
 * out (out_cap bytes) receives secmq_envelope_size() bytes, written to
 * *out_len. topic is NUL-terminated (1..SECMQ_TOPIC_MAX bytes, no
 * wildcards); plaintext (plaintext_len bytes) may be NULL when the length
 * is 0. out must not overlap plaintext. In signed mode p->sender_id must be
 * the identity id of the public half of p->sender_sk.
 * Returns SECMQ_OK, SECMQ_E_INVAL (bad parameter or topic, sender id not
 * that of the secret key, out overlapping plaintext), or SECMQ_E_OVERSIZE
 * (out_cap too small, or plaintext_len too large for any envelope); on
 * failure *out_len is 0. Never allocates.
 */
SECMQ_API int secmq_envelope_seal(unsigned char *out, size_t out_cap,
                                  size_t *out_len, const secmq_seal_params *p,
                                  const char *topic, const void *plaintext,
                                  size_t plaintext_len);

/*
 * secmq_envelope_parse -- split an envelope into fields without any crypto.
 * env (env_len bytes) is BORROWED and f points into it afterwards.
 * Checks in the order of PROTOCOL.md 4.2 step 1: a first byte other than
 * 0x01 is SECMQ_OPEN_VERSION whatever the length.
 * Returns SECMQ_OPEN_OK, SECMQ_OPEN_MALFORMED (also for NULL arguments) or
 * SECMQ_OPEN_VERSION.
 */
SECMQ_API int secmq_envelope_parse(const void *env, size_t env_len,
                                   secmq_envelope_fields *f) SECMQ_NODISCARD;

/*
 * secmq_envelope_open -- verify and decrypt a parsed envelope.
 * f comes from secmq_envelope_parse of the same bytes; topic is the topic
 * the message arrived on; channel_key the key named by f->key_id; sender_pk
 * (SECMQ_SIGN_PK_BYTES) the public key of f->sender_id, required in signed
 * mode and ignored in mac-only mode. plaintext (cap bytes, at least
 * f->ciphertext_len - 16; may be NULL when that is 0) receives the
 * plaintext, length in *plaintext_len; it must not overlap the envelope.
 * On any failure all cap bytes of the plaintext buffer are wiped and
 * *plaintext_len is 0.
 * Returns SECMQ_OPEN_OK, SECMQ_OPEN_BAD_TAG, SECMQ_OPEN_BAD_SIGNATURE,
 * SECMQ_OPEN_UNKNOWN_SENDER (signed mode with sender_pk NULL) or
 * SECMQ_OPEN_MALFORMED (cap too small, bad topic, NULL arguments). The
 * checks run in PROTOCOL.md's order: the AEAD tag first, then the
 * signature. Authorisation, maximum age and replay are the caller's (the
 * keyring's) business.
 */
SECMQ_API int
secmq_envelope_open(unsigned char *plaintext, size_t cap, size_t *plaintext_len,
                    const secmq_envelope_fields *f, const char *topic,
                    const unsigned char *channel_key,
                    const unsigned char *sender_pk) SECMQ_NODISCARD;

/*
 * secmq_envelope_verify_signature -- check a signed envelope's signature
 * with the sender's public key only (no channel key): what a broker can do.
 * Returns SECMQ_OPEN_OK, SECMQ_OPEN_BAD_SIGNATURE, or SECMQ_OPEN_MALFORMED
 * (not a signed envelope, bad topic).
 */
SECMQ_API int
secmq_envelope_verify_signature(const secmq_envelope_fields *f,
                                const char *topic,
                                const unsigned char *sender_pk) SECMQ_NODISCARD;

/*
 * secmq_identity_id -- the 8-byte id of an Ed25519 public key
 * (first 8 bytes of BLAKE2b-32(pk)). Never fails.
 */
SECMQ_API void secmq_identity_id(unsigned char id[SECMQ_ID_BYTES],
                                 const unsigned char pk[SECMQ_SIGN_PK_BYTES]);

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_ENVELOPE_H */
