/*
 * gen_receipt_vectors.c -- writes tests/vectors/receipt-v1.json, the
 * receipt known-answer vectors (PROTOCOL.md §9) and grant bodies with
 * receipt fields (§5, SECMQGB2), from fixed seeds, keys, ids, nonces and
 * times, using libsecmq's codecs. Everything is deterministic, so
 * `--check FILE` regenerates the text and compares it with the file.
 * While generating it checks that libsecmq opens each receipt to its
 * ranges and refuses each negative with the reason the file names (the
 * negatives the library will not seal are encoded and signed here by hand
 * from §4 and §9.2). ctest runs --check.
 * Usage: gen_receipt_vectors [--out FILE | --check FILE]  (default: stdout)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "vecout.h"

#define TOPIC "secmq/receipts/7c7d637aecde95a4"
#define MAX_R 4

/* An identity from the seed start, start+1, ... */
typedef struct ident {
    unsigned char pk[32], sk[64], id[8];
} ident;

static void ident_make(ident *p, unsigned start)
{
    unsigned char seed[32];

    fill(seed, sizeof seed, start);
    crypto_sign_seed_keypair(p->pk, p->sk, seed);
    secmq_identity_id(p->id, p->pk);
}

static ident owner, alice, bob, sam, zed;
static unsigned char ckey[32], other_key[32], key_id[8], cid[8];

static void put_ranges(text *t, const secmq_receipt_range *r, size_t n)
{
    put(t, "      \"ranges\": [");
    for (size_t i = 0; i < n; i++) {
        put(t, "%s\n        {\"key_id\": ", i ? "," : "");
        put_hex(t, r[i].key_id, 8);
        put(t, ", \"sender_id\": ");
        put_hex(t, r[i].sender_id, 8);
        put(t, ", \"first\": %" PRIu64 ", \"count\": %" PRIu32 "}", r[i].first,
            r[i].count);
    }
    put(t, "\n      ],\n");
}

/* The receipters list of the vectors: alice and bob. */
static void put_receipters(text *t)
{
    put(t, "      \"receipters\": [");
    put_hex(t, alice.pk, 32);
    put(t, ", ");
    put_hex(t, bob.pk, 32);
    put(t, "],\n");
}

/* 1 if the n ranges a and b are the same (field by field: padding). */
static int same_ranges(const secmq_receipt_range *a,
                       const secmq_receipt_range *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(a[i].key_id, b[i].key_id, 8) != 0 ||
            memcmp(a[i].sender_id, b[i].sender_id, 8) != 0 ||
            a[i].first != b[i].first || a[i].count != b[i].count) {
            return 0;
        }
    }
    return 1;
}

static int open_reason(const unsigned char *env, size_t len, const char *topic,
                       const unsigned char *key, secmq_receipt_range *got,
                       size_t *n)
{
    unsigned char rcpts[64];
    secmq_envelope_fields f;
    size_t who = 0;
    int rc = secmq_envelope_parse(env, len, &f);

    memcpy(rcpts, alice.pk, 32);
    memcpy(rcpts + 32, bob.pk, 32);
    if (rc != SECMQ_OPEN_OK) {
        return rc;
    }
    return secmq_receipt_open(got, MAX_R, n, &who, &f, topic, key, cid, rcpts,
                              2);
}

static void receipt_vector(text *t, const char *name, const ident *who,
                           uint64_t seq, unsigned nonce0,
                           const secmq_receipt_range *r, size_t n, int last)
{
    unsigned char env[SECMQ_RECEIPT_MAX_BYTES], nonce[24], rk[32];
    unsigned char plain[SECMQ_RECEIPT_PLAIN_MAX];
    secmq_receipt_range got[MAX_R];
    secmq_seal_params p;
    size_t len = 0, plen = 0, gn = 0;

    fill(nonce, sizeof nonce, nonce0);
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = ckey;
    p.key_id = key_id;
    p.sender_id = who->id;
    p.sender_sk = who->sk;
    p.seq = seq;
    p.time_ms = 1700000005000u;
    p.nonce = nonce;
    if (secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, r, n) !=
            SECMQ_OK ||
        secmq_receipt_encode(plain, sizeof plain, &plen, cid, r, n) !=
            SECMQ_OK) {
        die("a receipt vector does not seal");
    }
    if (open_reason(env, len, TOPIC, ckey, got, &gn) != SECMQ_OPEN_OK ||
        gn != n || !same_ranges(got, r, n)) {
        die("a receipt vector does not open to its ranges");
    }
    secmq_receipt_key(rk, ckey);
    put(t, "    {\n      \"name\": ");
    put_str(t, name);
    put(t, ",\n      \"receipter_seed_start\": %u,\n",
        who == &alice ? 0x20u : 0x70u);
    put(t, "      \"receipter_pk\": ");
    put_hex(t, who->pk, 32);
    put(t, ",\n      \"channel_key\": ");
    put_hex(t, ckey, 32);
    put(t, ",\n      \"receipt_key\": ");
    put_hex(t, rk, 32);
    put(t, ",\n      \"key_id\": ");
    put_hex(t, key_id, 8);
    put(t, ",\n      \"channel_id\": ");
    put_hex(t, cid, 8);
    put(t, ",\n      \"topic\": ");
    put_str(t, TOPIC);
    put(t,
        ",\n      \"seq\": %" PRIu64 ",\n      \"time_ms\": %" PRIu64
        ",\n      \"nonce\": ",
        p.seq, p.time_ms);
    put_hex(t, nonce, 24);
    put(t, ",\n");
    put_ranges(t, r, n);
    put_receipters(t);
    put(t, "      \"plaintext\": ");
    put_hex(t, plain, plen);
    put(t, ",\n      \"envelope\": ");
    put_hex(t, env, len);
    put(t, "\n    }%s\n", last ? "" : ",");
}

/*
 * A signed receipt envelope by hand (§4 with §9.2's key): sender id id,
 * signed with sk, the plaintext given; mode 2 leaves the signature off.
 */
static size_t by_hand(unsigned char *out, unsigned mode,
                      const unsigned char *key, const unsigned char *id,
                      const unsigned char *sk, const char *topic,
                      const unsigned char *plain, size_t plen)
{
    unsigned char rk[32], nonce[24];
    secmq_seal_params p;
    size_t len = 0;
    unsigned char sig_in[256 + 64], h64[64];
    size_t tl = strlen(topic), sl;

    fill(nonce, sizeof nonce, 0xe0);
    secmq_receipt_key(rk, key);
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_MAC; /* the AEAD of §4; the signature below */
    p.channel_key = rk;
    p.key_id = key_id;
    p.sender_id = id;
    p.seq = 9;
    p.time_ms = 1700000006000u;
    p.nonce = nonce;
    if (secmq_envelope_seal(out, 2048, &len, &p, topic, plain, plen) !=
        SECMQ_OK) {
        die("by_hand: seal");
    }
    if (mode == 2) {
        return len;
    }
    /* Re-label as signed: the mode byte is in the AD, so encrypt again
     * with the signed header, then sign §4's bytes. */
    {
        unsigned char mk[32], ad[12 + 58 + 2 + 256];
        unsigned long long clen = 0;
        crypto_kdf_derive_from_key(mk, 32, 1, "secmqenv", rk);
        out[1] = 1;
        memcpy(ad, "secmq-env-v1", 12);
        memcpy(ad + 12, out, 58);
        ad[70] = (unsigned char)(tl >> 8);
        ad[71] = (unsigned char)tl;
        memcpy(ad + 72, topic, tl);
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            out + 58, &clen, plain, plen, ad, 72 + tl, NULL, out + 34, mk);
        crypto_generichash(h64, 64, out + 58, (size_t)clen, NULL, 0);
        memcpy(sig_in, "secmq-sig-v1", 12);
        memcpy(sig_in + 12, ad + 12, 60 + tl);
        memcpy(sig_in + 72 + tl, h64, 64);
        sl = 72 + tl + 64;
        crypto_sign_detached(out + 58 + clen, NULL, sig_in, sl, sk);
        return 58 + (size_t)clen + 64;
    }
}

static void negative(text *t, const char *name, const unsigned char *env,
                     size_t len, const char *topic, const unsigned char *key,
                     int want, int last)
{
    secmq_receipt_range got[MAX_R];
    size_t n = 0;

    if (open_reason(env, len, topic, key, got, &n) != want) {
        fprintf(
            stderr, "gen_receipt_vectors: %s: libsecmq says %s\n", name,
            secmq_open_reason_name(open_reason(env, len, topic, key, got, &n)));
        die("a negative is not refused with its reason");
    }
    put(t, "    {\n      \"name\": ");
    put_str(t, name);
    put(t, ",\n      \"channel_key\": ");
    put_hex(t, key == ckey ? ckey : other_key, 32);
    put(t, ",\n      \"held_channel_key\": ");
    put_hex(t, ckey, 32);
    put(t, ",\n      \"channel_id\": ");
    put_hex(t, cid, 8);
    put(t, ",\n      \"topic\": ");
    put_str(t, topic);
    put(t, ",\n");
    put_receipters(t);
    put(t, "      \"envelope\": ");
    put_hex(t, env, len);
    put(t, ",\n      \"expect\": \"%s\"\n    }%s\n",
        secmq_open_reason_name(want), last ? "" : ",");
}

/* A receipt plaintext by hand (§9.2) with n_field, count overrides. */
static size_t plain_of(unsigned char *p, const unsigned char *channel,
                       const secmq_receipt_range *r, size_t n)
{
    size_t len = 0;

    if (secmq_receipt_encode(p, SECMQ_RECEIPT_PLAIN_MAX, &len, channel, r, n) !=
        SECMQ_OK) {
        die("plain_of");
    }
    return len;
}

static void negatives(text *t, const secmq_receipt_range *r)
{
    unsigned char env[2048], plain[512], other_cid[8];
    secmq_seal_params p;
    size_t len = 0, plen;
    unsigned char nonce[24];

    fill(nonce, sizeof nonce, 0xd0);
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = ckey;
    p.key_id = key_id;
    p.sender_id = alice.id;
    p.sender_sk = alice.sk;
    p.seq = 8;
    p.time_ms = 1700000007000u;
    p.nonce = nonce;
    plen = plain_of(plain, cid, r, 2);
    put(t, "  \"negative\": [\n");
    len = by_hand(env, 2, ckey, alice.id, NULL, TOPIC, plain, plen);
    negative(t, "mac-only: says no receiver", env, len, TOPIC, ckey,
             SECMQ_OPEN_MALFORMED, 0);
    if (secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, r, 2) !=
        SECMQ_OK) {
        die("negatives: seal");
    }
    negative(t, "moved to another receipt topic", env, len,
             "secmq/receipts/0000000000000000", ckey, SECMQ_OPEN_BAD_TAG, 0);
    p.channel_key = other_key;
    if (secmq_receipt_seal(env, sizeof env, &len, &p, cid, TOPIC, r, 2) !=
        SECMQ_OK) {
        die("negatives: seal");
    }
    negative(t, "sealed under another channel's key (key id copied)", env, len,
             TOPIC, ckey, SECMQ_OPEN_BAD_TAG, 0);
    p.channel_key = ckey;
    {
        unsigned char msg[512];
        size_t mlen = 0;
        if (secmq_envelope_seal(msg, sizeof msg, &mlen, &p, TOPIC, plain,
                                plen) != SECMQ_OK) {
            die("negatives: message");
        }
        negative(t, "a message of the channel (message key, not receipt key)",
                 msg, mlen, TOPIC, ckey, SECMQ_OPEN_BAD_TAG, 0);
    }
    len = by_hand(env, 1, ckey, zed.id, zed.sk, TOPIC, plain, plen);
    negative(t, "a member that is no receipter, in its own name", env, len,
             TOPIC, ckey, SECMQ_OPEN_UNAUTHORISED, 0);
    len = by_hand(env, 1, ckey, alice.id, zed.sk, TOPIC, plain, plen);
    negative(t, "alice's id, signed by another member's key", env, len, TOPIC,
             ckey, SECMQ_OPEN_BAD_SIGNATURE, 0);
    len = by_hand(env, 1, ckey, alice.id, bob.sk, TOPIC, plain, plen);
    negative(t, "alice's id, signed by receipter bob", env, len, TOPIC, ckey,
             SECMQ_OPEN_BAD_SIGNATURE, 0);
    memcpy(other_cid, cid, 8);
    other_cid[0] ^= 0xff;
    plen = plain_of(plain, other_cid, r, 2);
    len = by_hand(env, 1, ckey, alice.id, alice.sk, TOPIC, plain, plen);
    negative(t, "another channel id in the plaintext", env, len, TOPIC, ckey,
             SECMQ_OPEN_MALFORMED, 0);
    plen = plain_of(plain, cid, r, 2);
    plain[plen++] = 0;
    len = by_hand(env, 1, ckey, alice.id, alice.sk, TOPIC, plain, plen);
    negative(t, "a trailing byte in the plaintext", env, len, TOPIC, ckey,
             SECMQ_OPEN_MALFORMED, 0);
    plen = plain_of(plain, cid, r, 2);
    memset(plain + 18 + 28 + 24, 0, 4); /* the second range's count */
    len = by_hand(env, 1, ckey, alice.id, alice.sk, TOPIC, plain, plen);
    negative(t, "a range with count 0", env, len, TOPIC, ckey,
             SECMQ_OPEN_MALFORMED, 0);
    plen = plain_of(plain, cid, r, 2);
    memset(plain + 18 + 28 + 16, 0xff, 8); /* first = 2^64 - 1, count 64 */
    len = by_hand(env, 1, ckey, alice.id, alice.sk, TOPIC, plain, plen);
    negative(t, "a range past 2^64 - 1", env, len, TOPIC, ckey,
             SECMQ_OPEN_MALFORMED, 0);
    plen = plain_of(plain, cid, r, 2);
    plain[17] = 0; /* n = 0 */
    len = by_hand(env, 1, ckey, alice.id, alice.sk, TOPIC, plain, plen);
    negative(t, "n = 0 ranges", env, len, TOPIC, ckey, SECMQ_OPEN_MALFORMED, 1);
    put(t, "  ]\n");
}

/* A grant body with receipts (§5 SECMQGB2), alice as the member. */
static void grant_vector(text *t)
{
    unsigned char body[1024], rcpts[64];
    secmq_grant_fields g, pg;
    secmq_grant_receipts r, pr;
    size_t len = 0;

    memset(&g, 0, sizeof g);
    memcpy(g.owner_pk, owner.pk, 32);
    memcpy(g.member_pk, alice.pk, 32);
    fill(g.key_id, 8, 0x40);
    memcpy(g.channel_key, ckey, 32);
    g.epoch = 1;
    g.created_ms = 1700000000000u;
    g.filter = "home/+/status";
    g.filter_len = strlen(g.filter);
    g.publishers = sam.pk;
    g.n_publishers = 1;
    memcpy(rcpts, alice.pk, 32);
    memcpy(rcpts + 32, bob.pk, 32);
    memset(&r, 0, sizeof r);
    r.topic = TOPIC;
    r.topic_len = strlen(TOPIC);
    r.need = 1;
    r.receipters = rcpts;
    r.n_receipters = 2;
    if (secmq_grant_body_build_v2(body, sizeof body, &len, &g, &r, owner.sk) !=
            SECMQ_OK ||
        secmq_grant_body_parse_v2(body, len, &pg, &pr) != SECMQ_GRANT_OK ||
        secmq_grant_body_parse(body, len, &pg) != SECMQ_GRANT_MALFORMED) {
        die("the grant vector");
    }
    put(t, "  \"grants\": [\n    {\n      \"name\": ");
    put_str(t, "subscriber alice of home/+/status with receipts from alice "
               "and bob, any 1 (owner seed 00..1f, alice 20..3f, sam "
               "a0..bf, bob 70..8f)");
    put(t, ",\n      \"owner_pk\": ");
    put_hex(t, owner.pk, 32);
    put(t, ",\n      \"member_pk\": ");
    put_hex(t, alice.pk, 32);
    put(t, ",\n      \"key_id\": ");
    put_hex(t, g.key_id, 8);
    put(t, ",\n      \"channel_key\": ");
    put_hex(t, ckey, 32);
    put(t,
        ",\n      \"epoch\": 1,\n      \"created_ms\": %" PRIu64
        ",\n      \"prev_key_id\": \"0000000000000000\",\n"
        "      \"grace_ms\": 0,\n      \"flags\": 0,\n      \"filter\": ",
        g.created_ms);
    put_str(t, g.filter);
    put(t, ",\n      \"publishers\": [");
    put_hex(t, sam.pk, 32);
    put(t, "],\n      \"receipt_topic\": ");
    put_str(t, TOPIC);
    put(t, ",\n      \"need\": 1,\n");
    put_receipters(t);
    put(t, "      \"body\": ");
    put_hex(t, body, len);
    put(t, "\n    }\n  ],\n");
}

int main(int argc, char **argv)
{
    secmq_receipt_range r[3];
    text t = {NULL, 0, 0};

    vec_prog = "gen_receipt_vectors";
    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    ident_make(&owner, 0x00);
    ident_make(&alice, 0x20);
    ident_make(&bob, 0x70);
    ident_make(&sam, 0xa0);
    ident_make(&zed, 0xc0);
    fill(ckey, 32, 0x50);
    fill(other_key, 32, 0x90);
    fill(key_id, 8, 0x40);
    fill(cid, 8, 0x7c);
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < 3; i++) {
        memcpy(r[i].key_id, key_id, 8);
        memcpy(r[i].sender_id, sam.id, 8);
    }
    r[0].first = 1765000000000000u;
    r[0].count = 64;
    r[1].first = 1765000000000100u;
    r[1].count = 3;
    fill(r[2].key_id, 8, 0x48); /* a range under another (previous) key */
    r[2].first = UINT64_MAX;
    r[2].count = 1;
    put(&t, "{\n  \"comment\": ");
    put_str(&t, "secmq receipts (docs/PROTOCOL.md section 9) and grant "
                "bodies with receipt fields (section 5, SECMQGB2); "
                "generated by tests/vectors/gen_receipt_vectors.c");
    put(&t, ",\n  \"receipts\": [\n");
    receipt_vector(&t, "alice receipts two ranges of sam's", &alice, 11, 0x10,
                   r, 2, 0);
    receipt_vector(&t,
                   "bob receipts three ranges, one under another key id "
                   "and the last seq 2^64 - 1",
                   &bob, 12, 0x30, r, 3, 1);
    put(&t, "  ],\n");
    grant_vector(&t);
    negatives(&t, r);
    put(&t, "}\n");
    int rc = vec_output(argc, argv, &t);
    free(t.s);
    return rc;
}
