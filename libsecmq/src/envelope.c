/*
 * envelope.c -- the end-to-end envelope, version 1: seal, parse, open and
 * verify exactly as docs/PROTOCOL.md section 4 says, plus identity ids.
 * Pure: bytes in, bytes out, no I/O, no allocation, no state. Key lookup,
 * authorisation, maximum age and replay belong to the keyring, not here.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "bytes_int.h"
#include "envelope_int.h"

/* Offsets of the header fields (PROTOCOL.md section 4). */
#define OFF_VERSION 0u
#define OFF_MODE 1u
#define OFF_KEY_ID 2u
#define OFF_SENDER_ID 10u
#define OFF_SEQ 18u
#define OFF_TIME 26u
#define OFF_NONCE 34u

/* Context strings; both prefixes are 12 bytes, which bound_prefix relies on. */
#define AD_PREFIX "secmq-env-v1"
#define SIG_PREFIX "secmq-sig-v1"
#define PREFIX_BYTES 12u
#define KDF_CONTEXT "secmqenv"
#define KDF_SUBKEY_ENVELOPE 1u
#define CT_HASH_BYTES 64u

/*
 * The associated data and the signed bytes share one layout:
 *   prefix(12) || header(58) || u16(len(topic)) || topic [|| BLAKE2b-64(ct)]
 * Both are built in this stack buffer, so its size bounds the topic.
 */
#define BOUND_MAX                                                              \
    (PREFIX_BYTES + SECMQ_ENV_HEADER_BYTES + 2u + SECMQ_TOPIC_MAX +            \
     CT_HASH_BYTES)

_Static_assert(sizeof AD_PREFIX - 1 == PREFIX_BYTES, "AD prefix length");
_Static_assert(sizeof SIG_PREFIX - 1 == PREFIX_BYTES, "signature prefix");
_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf ctx");
_Static_assert(SECMQ_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "AEAD key size");
_Static_assert(SECMQ_ENV_NONCE_BYTES ==
                   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "AEAD nonce size");
_Static_assert(SECMQ_ENV_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "AEAD tag size");
_Static_assert(SECMQ_ENV_SIG_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(SECMQ_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(SECMQ_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(SECMQ_ENV_OVERHEAD_SIGNED == SECMQ_ENV_HEADER_BYTES +
                                                SECMQ_ENV_TAG_BYTES +
                                                SECMQ_ENV_SIG_BYTES,
               "signed overhead");
_Static_assert(SECMQ_ENV_OVERHEAD_MAC ==
                   SECMQ_ENV_HEADER_BYTES + SECMQ_ENV_TAG_BYTES,
               "mac-only overhead");
_Static_assert(SECMQ_TOPIC_MAX <= 65535u, "topic length must fit a u16");

const char *secmq_open_reason_name(int reason)
{
    switch (reason) {
    case SECMQ_OPEN_OK:
        return "ok";
    case SECMQ_OPEN_MALFORMED:
        return "malformed";
    case SECMQ_OPEN_VERSION:
        return "version";
    case SECMQ_OPEN_UNKNOWN_KEY:
        return "unknown_key";
    case SECMQ_OPEN_KEY_EXPIRED:
        return "key_expired";
    case SECMQ_OPEN_MODE_REFUSED:
        return "mode_refused";
    case SECMQ_OPEN_BAD_TAG:
        return "bad_tag";
    case SECMQ_OPEN_UNKNOWN_SENDER:
        return "unknown_sender";
    case SECMQ_OPEN_BAD_SIGNATURE:
        return "bad_signature";
    case SECMQ_OPEN_UNAUTHORISED:
        return "unauthorised";
    case SECMQ_OPEN_TOO_OLD:
        return "too_old";
    case SECMQ_OPEN_REPLAY:
        return "replay";
    case SECMQ_OPEN_NO_CHANNEL:
        return "no_channel";
    case SECMQ_OPEN_BAD_PROOF:
        return "bad_proof";
    default:
        return "unknown";
    }
}

void secmq_identity_id(unsigned char id[SECMQ_ID_BYTES],
                       const unsigned char pk[SECMQ_SIGN_PK_BYTES])
{
    unsigned char h[32];

    crypto_generichash(h, sizeof h, pk, SECMQ_SIGN_PK_BYTES, NULL, 0);
    memcpy(id, h, SECMQ_ID_BYTES);
}

size_t secmq_envelope_size(secmq_seal_mode mode, size_t plaintext_len)
{
    size_t overhead;

    if (mode == SECMQ_SEAL_SIGNED) {
        overhead = SECMQ_ENV_OVERHEAD_SIGNED;
    } else if (mode == SECMQ_SEAL_MAC) {
        overhead = SECMQ_ENV_OVERHEAD_MAC;
    } else {
        return 0;
    }
    if (plaintext_len > SIZE_MAX - overhead) {
        return 0;
    }
    return plaintext_len + overhead;
}

/*
 * Length of a topic that may be bound to an envelope: 1..SECMQ_TOPIC_MAX
 * bytes, no wildcard. Reads at most SECMQ_TOPIC_MAX + 1 bytes, never past
 * the NUL. Returns 0 for NULL or a topic that cannot be used.
 */
static size_t topic_length(const char *topic)
{
    size_t n = 0;

    if (topic == NULL) {
        return 0;
    }
    while (topic[n] != '\0') {
        if (n == SECMQ_TOPIC_MAX || topic[n] == '+' || topic[n] == '#') {
            return 0;
        }
        n++;
    }
    return n;
}

/*
 * Writes the 58-byte header. The receiver rebuilds it from parsed fields
 * the same way, so the bytes authenticated are the bytes transmitted
 * (parse is a bijection on the header) without trusting pointer arithmetic
 * on a caller's secmq_envelope_fields.
 */
static void put_header(unsigned char h[SECMQ_ENV_HEADER_BYTES], unsigned mode,
                       const unsigned char *key_id,
                       const unsigned char *sender_id, uint64_t seq,
                       uint64_t time_ms, const unsigned char *nonce)
{
    h[OFF_VERSION] = (unsigned char)SECMQ_ENV_VERSION;
    h[OFF_MODE] = (unsigned char)mode;
    memcpy(h + OFF_KEY_ID, key_id, SECMQ_ID_BYTES);
    memcpy(h + OFF_SENDER_ID, sender_id, SECMQ_ID_BYTES);
    secmq__put_u64(h + OFF_SEQ, seq);
    secmq__put_u64(h + OFF_TIME, time_ms);
    memcpy(h + OFF_NONCE, nonce, SECMQ_ENV_NONCE_BYTES);
}

/*
 * Fills buf with prefix || header || u16(topic_len) || topic and returns
 * its length. buf has BOUND_MAX bytes; topic_len <= SECMQ_TOPIC_MAX.
 */
static size_t bound_build(unsigned char *buf, const char *prefix,
                          const unsigned char *header, const char *topic,
                          size_t topic_len)
{
    size_t n = 0;

    memcpy(buf, prefix, PREFIX_BYTES);
    n += PREFIX_BYTES;
    memcpy(buf + n, header, SECMQ_ENV_HEADER_BYTES);
    n += SECMQ_ENV_HEADER_BYTES;
    buf[n++] = (unsigned char)(topic_len >> 8);
    buf[n++] = (unsigned char)(topic_len & 0xffu);
    memcpy(buf + n, topic, topic_len);
    n += topic_len;
    return n;
}

/*
 * Turns the associated data in buf (ad_len bytes, from bound_build with
 * AD_PREFIX) into the signed bytes: swaps the prefix and appends
 * BLAKE2b-64(ciphertext). Returns the new length.
 */
static size_t bound_to_signed(unsigned char *buf, size_t ad_len,
                              const unsigned char *ct, size_t ct_len)
{
    memcpy(buf, SIG_PREFIX, PREFIX_BYTES);
    crypto_generichash(buf + ad_len, CT_HASH_BYTES, ct, ct_len, NULL, 0);
    return ad_len + CT_HASH_BYTES;
}

static void message_key(unsigned char mk[SECMQ_KEY_BYTES],
                        const unsigned char *channel_key)
{
    crypto_kdf_derive_from_key(mk, SECMQ_KEY_BYTES, KDF_SUBKEY_ENVELOPE,
                               KDF_CONTEXT, channel_key);
}

void secmq__envelope_msg_key(unsigned char *mk,
                             const unsigned char *channel_key)
{
    message_key(mk, channel_key);
}

/* 1 if [a, a+alen) and [b, b+blen) share a byte. */
static int overlaps(const void *a, size_t alen, const void *b, size_t blen)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

    if (alen == 0 || blen == 0) {
        return 0;
    }
    return x < y + blen && y < x + alen;
}

int secmq_envelope_seal(unsigned char *out, size_t out_cap, size_t *out_len,
                        const secmq_seal_params *p, const char *topic,
                        const void *plaintext, size_t plaintext_len)
{
    return secmq__envelope_seal_mk(out, out_cap, out_len, p, NULL, topic,
                                   plaintext, plaintext_len);
}

/* message_key NULL: derive it from p->channel_key (the public seal). */
int secmq__envelope_seal_mk(unsigned char *out, size_t out_cap, size_t *out_len,
                            const secmq_seal_params *p,
                            const unsigned char *message_key_in,
                            const char *topic, const void *plaintext,
                            size_t plaintext_len)
{
    unsigned char bound[BOUND_MAX];
    unsigned char mk[SECMQ_KEY_BYTES];
    unsigned char id[SECMQ_ID_BYTES];
    unsigned char nonce[SECMQ_ENV_NONCE_BYTES];
    const unsigned char empty = 0;
    const unsigned char *m = plaintext;
    size_t topic_len, env_len, ad_len, sig_len;
    unsigned char *ct;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || p == NULL ||
        (p->channel_key == NULL && message_key_in == NULL) ||
        p->key_id == NULL || p->sender_id == NULL ||
        (plaintext == NULL && plaintext_len > 0)) {
        return SECMQ_E_INVAL;
    }
    if (p->mode != SECMQ_SEAL_SIGNED && p->mode != SECMQ_SEAL_MAC) {
        return SECMQ_E_INVAL;
    }
    if (p->mode == SECMQ_SEAL_SIGNED && p->sender_sk == NULL) {
        return SECMQ_E_INVAL;
    }
    topic_len = topic_length(topic);
    if (topic_len == 0) {
        return SECMQ_E_INVAL;
    }
    env_len = secmq_envelope_size(p->mode, plaintext_len);
    if (env_len == 0 ||
        plaintext_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX) {
        return SECMQ_E_OVERSIZE;
    }
    if (out_cap < env_len) {
        return SECMQ_E_OVERSIZE;
    }
    if (overlaps(out, env_len, plaintext, plaintext_len)) {
        return SECMQ_E_INVAL;
    }
    if (p->mode == SECMQ_SEAL_SIGNED && message_key_in == NULL) {
        /* A libsodium secret key ends with its public key. An envelope
         * whose sender id names another key could never verify, so this is
         * a caller's bug worth reporting here rather than at every
         * receiver. Ids are not secret. */
        secmq_identity_id(id, p->sender_sk + crypto_sign_SEEDBYTES);
        if (sodium_memcmp(id, p->sender_id, SECMQ_ID_BYTES) != 0) {
            return SECMQ_E_INVAL;
        }
    }
    if (m == NULL) {
        m = &empty; /* libsodium wants a pointer even for 0 bytes */
    }

    /* SECURITY: the nonce is 24 random bytes unless a test vector fixes
     * it; nothing else keeps nonces unique under a key (PROTOCOL.md 4). */
    if (p->nonce != NULL) {
        memcpy(nonce, p->nonce, sizeof nonce);
    } else {
        randombytes_buf(nonce, sizeof nonce);
    }
    put_header(out, (unsigned)p->mode, p->key_id, p->sender_id, p->seq,
               p->time_ms, nonce);

    /* SECURITY: the AD binds the whole header and the exact topic, so an
     * envelope cannot be moved to another topic or relabelled. */
    ad_len = bound_build(bound, AD_PREFIX, out, topic, topic_len);
    ct = out + SECMQ_ENV_HEADER_BYTES;
    if (message_key_in != NULL) {
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            ct, ct + plaintext_len, NULL, m, plaintext_len, bound, ad_len, NULL,
            out + OFF_NONCE, message_key_in);
    } else {
        message_key(mk, p->channel_key);
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            ct, ct + plaintext_len, NULL, m, plaintext_len, bound, ad_len, NULL,
            out + OFF_NONCE, mk);
        /* SECURITY: a key derived here never outlives the call. */
        sodium_memzero(mk, sizeof mk);
    }

    if (p->mode == SECMQ_SEAL_SIGNED) {
        /* SECURITY: the signature covers the ciphertext (through its
         * BLAKE2b-512 digest), not the plaintext, so a broker can check it
         * with the public key alone. */
        sig_len = bound_to_signed(bound, ad_len, ct,
                                  plaintext_len + SECMQ_ENV_TAG_BYTES);
        crypto_sign_detached(ct + plaintext_len + SECMQ_ENV_TAG_BYTES, NULL,
                             bound, sig_len, p->sender_sk);
    }
    *out_len = env_len;
    return SECMQ_OK;
}

int secmq_envelope_parse(const void *env, size_t env_len,
                         secmq_envelope_fields *f)
{
    const unsigned char *e = env;
    size_t min_len, sig_len;

    if (f == NULL) {
        return SECMQ_OPEN_MALFORMED;
    }
    memset(f, 0, sizeof *f);
    if (e == NULL || env_len < 1) {
        return SECMQ_OPEN_MALFORMED;
    }
    /* Version first: a later version may have another layout and length. */
    if (e[OFF_VERSION] != SECMQ_ENV_VERSION) {
        return SECMQ_OPEN_VERSION;
    }
    if (env_len < 2) {
        return SECMQ_OPEN_MALFORMED;
    }
    if (e[OFF_MODE] == SECMQ_SEAL_SIGNED) {
        min_len = SECMQ_ENV_OVERHEAD_SIGNED;
        sig_len = SECMQ_ENV_SIG_BYTES;
    } else if (e[OFF_MODE] == SECMQ_SEAL_MAC) {
        min_len = SECMQ_ENV_OVERHEAD_MAC;
        sig_len = 0;
    } else {
        return SECMQ_OPEN_MALFORMED;
    }
    if (env_len < min_len) {
        return SECMQ_OPEN_MALFORMED;
    }
    f->version = e[OFF_VERSION];
    f->mode = e[OFF_MODE];
    memcpy(f->key_id, e + OFF_KEY_ID, SECMQ_ID_BYTES);
    memcpy(f->sender_id, e + OFF_SENDER_ID, SECMQ_ID_BYTES);
    f->seq = secmq__get_u64(e + OFF_SEQ);
    f->time_ms = secmq__get_u64(e + OFF_TIME);
    f->nonce = e + OFF_NONCE;
    f->ciphertext = e + SECMQ_ENV_HEADER_BYTES;
    f->ciphertext_len = env_len - SECMQ_ENV_HEADER_BYTES - sig_len;
    f->signature = sig_len > 0 ? e + env_len - sig_len : NULL;
    return SECMQ_OPEN_OK;
}

/*
 * Checks what open and verify_signature need from f (as parse fills it)
 * and topic; on success writes the AD into bound and returns its length,
 * else 0 (malformed fields or topic).
 */
static size_t fields_to_ad(unsigned char *bound, const secmq_envelope_fields *f,
                           const char *topic)
{
    unsigned char header[SECMQ_ENV_HEADER_BYTES];
    size_t topic_len;

    if (f == NULL || f->version != SECMQ_ENV_VERSION) {
        return 0;
    }
    if ((f->mode != SECMQ_SEAL_SIGNED && f->mode != SECMQ_SEAL_MAC) ||
        f->nonce == NULL || f->ciphertext == NULL ||
        f->ciphertext_len < SECMQ_ENV_TAG_BYTES ||
        (f->mode == SECMQ_SEAL_SIGNED && f->signature == NULL)) {
        return 0;
    }
    topic_len = topic_length(topic);
    if (topic_len == 0) {
        return 0;
    }
    put_header(header, f->mode, f->key_id, f->sender_id, f->seq, f->time_ms,
               f->nonce);
    return bound_build(bound, AD_PREFIX, header, topic, topic_len);
}

int secmq_envelope_open(unsigned char *plaintext, size_t cap,
                        size_t *plaintext_len, const secmq_envelope_fields *f,
                        const char *topic, const unsigned char *channel_key,
                        const unsigned char *sender_pk)
{
    return secmq__envelope_open_mk(plaintext, cap, plaintext_len, f, topic,
                                   channel_key, NULL, sender_pk);
}

/* message_key_in NULL: derive it from channel_key (the public open). */
int secmq__envelope_open_mk(unsigned char *plaintext, size_t cap,
                            size_t *plaintext_len,
                            const secmq_envelope_fields *f, const char *topic,
                            const unsigned char *channel_key,
                            const unsigned char *message_key_in,
                            const unsigned char *sender_pk)
{
    unsigned char bound[BOUND_MAX];
    unsigned char mk[SECMQ_KEY_BYTES];
    unsigned char sink = 0;
    unsigned char *m = plaintext;
    size_t ad_len, sig_len, m_len;
    int reason = SECMQ_OPEN_MALFORMED;
    int rc;

    if (plaintext_len != NULL) {
        *plaintext_len = 0;
    }
    ad_len = fields_to_ad(bound, f, topic);
    if (ad_len == 0) {
        goto fail;
    }
    m_len = f->ciphertext_len - SECMQ_ENV_TAG_BYTES;
    if (plaintext_len == NULL ||
        (channel_key == NULL && message_key_in == NULL) || cap < m_len ||
        (plaintext == NULL && m_len > 0)) {
        goto fail;
    }
    /* Decrypting over the envelope would destroy what the signature
     * check reads next. */
    if (overlaps(plaintext, cap, f->ciphertext, f->ciphertext_len) ||
        overlaps(plaintext, cap, f->nonce, SECMQ_ENV_NONCE_BYTES) ||
        (f->signature != NULL &&
         overlaps(plaintext, cap, f->signature, SECMQ_ENV_SIG_BYTES))) {
        goto fail;
    }
    if (m == NULL) {
        m = &sink;
    }

    if (message_key_in != NULL) {
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            m, NULL, f->ciphertext, m_len, f->ciphertext + m_len, bound, ad_len,
            f->nonce, message_key_in);
    } else {
        message_key(mk, channel_key);
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            m, NULL, f->ciphertext, m_len, f->ciphertext + m_len, bound, ad_len,
            f->nonce, mk);
        /* SECURITY: a key derived here never outlives the call. */
        sodium_memzero(mk, sizeof mk);
    }
    if (rc != 0) {
        reason = SECMQ_OPEN_BAD_TAG;
        goto fail;
    }

    if (f->mode == SECMQ_SEAL_SIGNED) {
        /* PROTOCOL.md 4.2 step 5, after the tag: a receiver learns
         * "unknown sender" only for messages a member produced. */
        if (sender_pk == NULL) {
            reason = SECMQ_OPEN_UNKNOWN_SENDER;
            goto fail;
        }
        sig_len =
            bound_to_signed(bound, ad_len, f->ciphertext, f->ciphertext_len);
        if (crypto_sign_verify_detached(f->signature, bound, sig_len,
                                        sender_pk) != 0) {
            reason = SECMQ_OPEN_BAD_SIGNATURE;
            goto fail;
        }
    }
    *plaintext_len = m_len;
    return SECMQ_OPEN_OK;

fail:
    /* SECURITY: plaintext of an envelope that did not open (a forged
     * signature, say) is never left behind for a caller to misuse. */
    if (plaintext != NULL && cap > 0) {
        sodium_memzero(plaintext, cap);
    }
    return reason;
}

int secmq_envelope_verify_signature(const secmq_envelope_fields *f,
                                    const char *topic,
                                    const unsigned char *sender_pk)
{
    unsigned char bound[BOUND_MAX];
    size_t ad_len, sig_len;

    ad_len = fields_to_ad(bound, f, topic);
    if (ad_len == 0 || f->mode != SECMQ_SEAL_SIGNED || sender_pk == NULL) {
        return SECMQ_OPEN_MALFORMED;
    }
    sig_len = bound_to_signed(bound, ad_len, f->ciphertext, f->ciphertext_len);
    if (crypto_sign_verify_detached(f->signature, bound, sig_len, sender_pk) !=
        0) {
        return SECMQ_OPEN_BAD_SIGNATURE;
    }
    return SECMQ_OPEN_OK;
}
