/*
 * secmq/grant.h -- grants, version 1 (docs/PROTOCOL.md §5): the pure codec,
 * with the receipt fields of a channel created with receipts (§9.1).
 *
 * Bytes in, bytes out: build and sign a grant body, seal it to a member,
 * open and check one. No I/O and no trust decisions: whether the owner is
 * trusted and whether the epoch is new is the keyring's business
 * (secmq/keyring.h). Included by secmq/keyring.h; include <secmq.h>.
 */
#ifndef SECMQ_GRANT_H
#define SECMQ_GRANT_H

#include <stddef.h>
#include <stdint.h>

#ifndef SECMQ_H
#error "include <secmq.h>, not <secmq/grant.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SECMQ_GRANT_HEADER_BYTES 16u /* magic "SECMQGR1" + recipient id */
#define SECMQ_GRANT_SEAL_BYTES 48u   /* crypto_box_seal overhead */
#define SECMQ_GRANT_SIG_BYTES 64u
/* Body bytes besides the filter, the publishers and the signature. */
#define SECMQ_GRANT_BODY_FIXED_BYTES 145u
/* Flags of a grant body. */
#define SECMQ_GRANT_MAY_PUBLISH 0x01u /* the recipient may publish */
#define SECMQ_GRANT_ALLOW_MAC 0x02u   /* mac-only envelopes allowed */

/* Flag bits a version 1 grant may set; any other bit is refused. */
#define SECMQ_GRANT_KNOWN_FLAGS 0x03u

/*
 * Why a grant was refused by the codec (PROTOCOL.md §5.1 names each, in
 * the order they are checked). Numbers never change.
 */
typedef enum secmq_grant_status {
    SECMQ_GRANT_OK = 0,
    SECMQ_GRANT_MALFORMED = 1,      /* not a grant, bad magic, wrong lengths,
                                       trailing bytes, invalid filter */
    SECMQ_GRANT_NOT_FOR_US = 2,     /* the recipient id is another identity's */
    SECMQ_GRANT_BAD_SEAL = 3,       /* the sealed box does not open */
    SECMQ_GRANT_BAD_SIGNATURE = 4,  /* the owner's signature does not verify */
    SECMQ_GRANT_BAD_EPOCH = 5,      /* epoch 0; epoch 1 naming a previous key;
                                       no previous key but a grace deadline;
                                       previous key id = key id */
    SECMQ_GRANT_BAD_FLAGS = 6,      /* a flag bit other than bits 0 and 1 */
    SECMQ_GRANT_BAD_PUBLISHERS = 7, /* no publisher, or one listed twice */
    SECMQ_GRANT_PUBLISHER_MISMATCH = 8, /* flag bit 0 (may publish) is not
                                           exactly "member_pk is listed" */
    SECMQ_GRANT_BAD_RECEIPTS = 9,       /* SECMQGB2: no receipter, one listed
                                           twice, or need > number of receipters */
    SECMQ_GRANT_BAD_RATCHET = 10        /* SECMQGB3: epoch length or grace out
                                           of range, or a previous key named */
} secmq_grant_status;

/*
 * secmq_grant_status_name -- the reason name PROTOCOL.md §5.1 gives a
 * status ("ok", "malformed", "not_for_me", "bad_seal", "bad_signature",
 * "bad_epoch", "bad_flags", "bad_publishers", "publisher_mismatch",
 * "bad_receipts", "bad_ratchet"), or "unknown". Never NULL; a static string.
 */
SECMQ_API const char *secmq_grant_status_name(int status);

/*
 * The fields of a grant body. In a parsed body, filter and publishers point
 * into the body bytes; channel_key is a copy and is secret: wipe it.
 */
typedef struct secmq_grant_fields {
    unsigned char owner_pk[SECMQ_SIGN_PK_BYTES];
    unsigned char member_pk[SECMQ_SIGN_PK_BYTES];
    unsigned char key_id[SECMQ_ID_BYTES];
    unsigned char channel_key[SECMQ_KEY_BYTES];
    uint32_t epoch;
    uint64_t created_ms;
    unsigned char prev_key_id[SECMQ_ID_BYTES]; /* zeros when epoch = 1 */
    uint64_t grace_ms;  /* Unix ms deadline for prev_key_id; 0 when there
                           is none, and with a previous key: no grace */
    unsigned flags;     /* SECMQ_GRANT_MAY_PUBLISH | SECMQ_GRANT_ALLOW_MAC;
                           MAY_PUBLISH exactly when member_pk is listed */
    const char *filter; /* filter_len bytes, not NUL-terminated */
    size_t filter_len;  /* 1..65535 */
    const unsigned char *publishers; /* n_publishers * 32 bytes */
    size_t n_publishers;             /* 0..65535 */
} secmq_grant_fields;

/*
 * The receipt fields of a channel created with receipts (PROTOCOL.md §9.1,
 * body magic SECMQGB2). In a parsed body, topic and receipters point into
 * the body bytes; topic is NULL (and every other field 0) for a channel
 * without receipts (SECMQGB1).
 */
typedef struct secmq_grant_receipts {
    const char *topic;               /* topic_len bytes, not NUL-terminated */
    size_t topic_len;                /* 1..SECMQ_TOPIC_MAX, no NUL, + or # */
    unsigned need;                   /* 0: every receipter; N: any N of them */
    const unsigned char *receipters; /* n_receipters * 32 bytes */
    size_t n_receipters;             /* 1..65535, distinct */
} secmq_grant_receipts;

/*
 * The epoch ratchet of a channel created with an epoch length (PROTOCOL.md
 * §3.2, body magic SECMQGB3). period_ms 0: a channel without a ratchet
 * (every other field 0).
 */
typedef struct secmq_grant_ratchet {
    uint32_t period_ms; /* one epoch, 1000 .. 2^31-1 ms */
    uint32_t grace_ms;  /* a step's key is kept this long past its epoch,
                           at most 1024 epochs and 2^31-1 ms */
    uint32_t step;      /* the chain step of the body's channel_key */
} secmq_grant_ratchet;

/*
 * secmq_grant_body_size -- bytes of a body with this filter length and
 * number of publishers, signature included; 0 if out of range.
 */
SECMQ_API size_t secmq_grant_body_size(size_t filter_len, size_t n_publishers);

/*
 * secmq_grant_body_build -- encode g and sign it with owner_sk (the owner's
 * SECMQ_SIGN_SK_BYTES secret key; g->owner_pk must be its public key).
 * out (out_cap bytes) receives secmq_grant_body_size() bytes, length in
 * *out_len. The body holds the channel key: the caller wipes it. g must
 * pass every rule secmq_grant_body_parse checks (PROTOCOL.md §5.1):
 * epoch and previous key, known flags, 1..65535 distinct publishers,
 * SECMQ_GRANT_MAY_PUBLISH set exactly when member_pk is a publisher.
 * Returns SECMQ_OK, SECMQ_E_INVAL (invalid filter or field) or
 * SECMQ_E_OVERSIZE (out_cap too small). Never allocates.
 */
SECMQ_API int secmq_grant_body_build(unsigned char *out, size_t out_cap,
                                     size_t *out_len,
                                     const secmq_grant_fields *g,
                                     const unsigned char *owner_sk);

/*
 * secmq_grant_body_parse -- split a body into g and verify the signature
 * with the owner_pk the body names (whether that owner is trusted is for
 * the caller to decide), then check the fields, in the order of
 * PROTOCOL.md §5.1: lengths exact and the filter a valid MQTT filter
 * (SECMQ_GRANT_MALFORMED), the signature (SECMQ_GRANT_BAD_SIGNATURE), the
 * epoch and previous key (SECMQ_GRANT_BAD_EPOCH), the flags
 * (SECMQ_GRANT_BAD_FLAGS), at least one publisher and none listed twice
 * (SECMQ_GRANT_BAD_PUBLISHERS; a list of more than 512 publishers needs a
 * small allocation, and no memory for it is SECMQ_GRANT_MALFORMED), and
 * the may-publish flag equal to "member_pk is a publisher"
 * (SECMQ_GRANT_PUBLISHER_MISMATCH). g's pointers point into body;
 * g->channel_key is secret. Returns SECMQ_GRANT_OK or the first failed
 * status; on failure g is wiped.
 */
SECMQ_API int secmq_grant_body_parse(const unsigned char *body, size_t len,
                                     secmq_grant_fields *g) SECMQ_NODISCARD;

/*
 * secmq_grant_body_size_v2 -- as secmq_grant_body_size, for a body with
 * the receipt fields r (BORROWED; NULL or r->topic NULL: a body without
 * receipts, the size secmq_grant_body_size gives). 0 if out of range.
 */
SECMQ_API size_t secmq_grant_body_size_v2(size_t filter_len,
                                          size_t n_publishers,
                                          const secmq_grant_receipts *r);

/*
 * secmq_grant_body_build_v2 -- as secmq_grant_body_build; with r (BORROWED)
 * non-NULL and r->topic non-NULL the body is a SECMQGB2 body carrying r,
 * which must pass the rules of PROTOCOL.md §5.1 (a valid receipt topic,
 * 1..65535 distinct receipters, need <= n_receipters), else SECMQ_E_INVAL.
 * r NULL or r->topic NULL builds exactly what secmq_grant_body_build
 * builds. out receives secmq_grant_body_size_v2() bytes. Returns SECMQ_OK,
 * SECMQ_E_INVAL or SECMQ_E_OVERSIZE. Never allocates.
 */
SECMQ_API int secmq_grant_body_build_v2(unsigned char *out, size_t out_cap,
                                        size_t *out_len,
                                        const secmq_grant_fields *g,
                                        const secmq_grant_receipts *r,
                                        const unsigned char *owner_sk);

/*
 * secmq_grant_body_parse_v2 -- as secmq_grant_body_parse, and also accepts
 * SECMQGB2 bodies: their receipt fields go to r (pointers into body),
 * checked after the other field rules (SECMQ_GRANT_BAD_RECEIPTS; a list of
 * more than 512 receipters needs a small allocation, no memory for it is
 * SECMQ_GRANT_MALFORMED). For a SECMQGB1 body r->topic is NULL. r must not
 * be NULL (SECMQ_GRANT_MALFORMED). On failure g and r are wiped.
 * secmq_grant_body_parse refuses every SECMQGB2 body as
 * SECMQ_GRANT_MALFORMED, as readers from before receipts do (§6).
 */
SECMQ_API int
secmq_grant_body_parse_v2(const unsigned char *body, size_t len,
                          secmq_grant_fields *g,
                          secmq_grant_receipts *r) SECMQ_NODISCARD;

/*
 * secmq_grant_body_size_v3 -- as secmq_grant_body_size_v2, for a body with
 * the receipt fields r and the ratchet rt (both BORROWED, either may be
 * NULL; a body cannot have both: 0). 0 if out of range.
 */
SECMQ_API size_t secmq_grant_body_size_v3(size_t filter_len,
                                          size_t n_publishers,
                                          const secmq_grant_receipts *r,
                                          const secmq_grant_ratchet *rt);

/*
 * secmq_grant_body_build_v3 -- as secmq_grant_body_build_v2; with rt
 * (BORROWED) non-NULL and rt->period_ms non-zero the body is a SECMQGB3
 * body carrying rt, whose g->channel_key is the key of chain step
 * rt->step. rt must pass PROTOCOL.md §5.1's ratchet rule (epoch length and
 * grace in range, g names no previous key and no grace deadline) and r
 * must then be NULL or empty, else SECMQ_E_INVAL. rt NULL builds what
 * secmq_grant_body_build_v2 builds. Returns SECMQ_OK, SECMQ_E_INVAL or
 * SECMQ_E_OVERSIZE. Never allocates.
 */
SECMQ_API int secmq_grant_body_build_v3(unsigned char *out, size_t out_cap,
                                        size_t *out_len,
                                        const secmq_grant_fields *g,
                                        const secmq_grant_receipts *r,
                                        const secmq_grant_ratchet *rt,
                                        const unsigned char *owner_sk);

/*
 * secmq_grant_body_parse_v3 -- as secmq_grant_body_parse_v2, and also
 * accepts SECMQGB3 bodies: their ratchet fields go to rt, checked after
 * the other field rules (SECMQ_GRANT_BAD_RATCHET). For SECMQGB1 and
 * SECMQGB2 bodies rt is zeroed. r and rt must not be NULL
 * (SECMQ_GRANT_MALFORMED). On failure g, r and rt are wiped.
 * secmq_grant_body_parse and secmq_grant_body_parse_v2 refuse every
 * SECMQGB3 body as SECMQ_GRANT_MALFORMED (§6).
 */
SECMQ_API int
secmq_grant_body_parse_v3(const unsigned char *body, size_t len,
                          secmq_grant_fields *g, secmq_grant_receipts *r,
                          secmq_grant_ratchet *rt) SECMQ_NODISCARD;

/*
 * secmq_grant_file_size -- bytes of a grant file around a body of body_len
 * bytes (header + sealed box); 0 on overflow.
 */
SECMQ_API size_t secmq_grant_file_size(size_t body_len);

/*
 * secmq_grant_seal -- build a grant file: the header (recipient id of
 * member_pk) and the body sealed to member_pk's X25519 key (a random
 * ephemeral key: every call gives different bytes).
 * Returns SECMQ_OK, SECMQ_E_INVAL (member_pk is not a valid Ed25519 key)
 * or SECMQ_E_OVERSIZE (out_cap < secmq_grant_file_size(body_len)).
 */
SECMQ_API int secmq_grant_seal(unsigned char *out, size_t out_cap,
                               size_t *out_len, const unsigned char *body,
                               size_t body_len, const unsigned char *member_pk);

/*
 * secmq_grant_open -- open a grant file addressed to the identity whose
 * Ed25519 secret key is member_sk (SECMQ_SIGN_SK_BYTES). body (cap bytes,
 * at least grant_len - 64) receives the body, length in *body_len; it
 * holds the channel key, so the caller wipes it. The body is not parsed.
 * Returns SECMQ_GRANT_OK, SECMQ_GRANT_MALFORMED (not a grant file, cap too
 * small), SECMQ_GRANT_NOT_FOR_US (recipient id is another identity) or
 * SECMQ_GRANT_BAD_SEAL (tampered, or sealed to another key).
 */
SECMQ_API int secmq_grant_open(unsigned char *body, size_t cap,
                               size_t *body_len, const unsigned char *grant,
                               size_t grant_len,
                               const unsigned char *member_sk) SECMQ_NODISCARD;

#ifdef __cplusplus
}
#endif
#endif /* SECMQ_GRANT_H */
