/*
 * gen_vectors.c -- writes tests/vectors/envelope-v1.json, the envelope's
 * known-answer vectors, from fixed seeds, keys, nonces, times and sequence
 * numbers, using libsecmq itself. The JSON is committed; ctest runs
 * `gen_vectors --check FILE` so any change in the code's output fails.
 * Usage: gen_vectors [--out FILE | --check FILE]   (default: stdout)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "vecout.h"

/* ---- the vectors ----------------------------------------------------------
 */

#define TOPIC "secmq/test/status"
/* "capteurs/température/çà/日本" */
#define TOPIC_UTF8                                                             \
    "capteurs/temp\xc3\xa9rature/\xc3\xa7\xc3\xa0/\xe6\x97\xa5\xe6\x9c\xac"
/* Sequence numbers start at a time in microseconds, as senders do. */
#define SEQ_BASE UINT64_C(1700000000000000)
#define TIME_BASE UINT64_C(1700000000123)

typedef struct fixed {
    unsigned char seed[32], pk[32], sk[64], id[8];
    unsigned char channel_key[32], key_id[8], message_key[32];
} fixed;

static void fixed_init(fixed *k)
{
    fill(k->seed, sizeof k->seed, 0x00);
    crypto_sign_seed_keypair(k->pk, k->sk, k->seed);
    secmq_identity_id(k->id, k->pk);
    fill(k->channel_key, sizeof k->channel_key, 0x20);
    fill(k->key_id, sizeof k->key_id, 0x40);
    /* Straight from PROTOCOL.md 3, independently of envelope.c. */
    crypto_kdf_derive_from_key(k->message_key, sizeof k->message_key, 1,
                               "secmqenv", k->channel_key);
}

typedef struct vector {
    const char *name;
    secmq_seal_mode mode;
    const char *topic;
    size_t pt_len;
    const char *pt_text; /* NULL: pt_len bytes (i * 7 + 3) & 0xff */
} vector;

static const vector vectors[] = {
    {"signed-short", SECMQ_SEAL_SIGNED, TOPIC, 12, "hello, secmq"},
    {"mac-short", SECMQ_SEAL_MAC, TOPIC, 12, "hello, secmq"},
    {"signed-empty", SECMQ_SEAL_SIGNED, TOPIC, 0, ""},
    {"mac-empty", SECMQ_SEAL_MAC, TOPIC, 0, ""},
    {"signed-1000", SECMQ_SEAL_SIGNED, TOPIC, 1000, NULL},
    {"mac-1000", SECMQ_SEAL_MAC, TOPIC, 1000, NULL},
    {"signed-utf8-topic", SECMQ_SEAL_SIGNED, TOPIC_UTF8, 5, "21.5C"},
    {"mac-utf8-topic", SECMQ_SEAL_MAC, TOPIC_UTF8, 5, "21.5C"},
};
#define NVECTORS (sizeof vectors / sizeof vectors[0])

/* What one vector produced. */
typedef struct sealed {
    unsigned char env[1200];
    size_t env_len;
    unsigned char nonce[SECMQ_ENV_NONCE_BYTES];
    unsigned char pt[1000];
    size_t pt_len;
    uint64_t seq, time_ms;
} sealed;

static void seal_vector(const fixed *k, size_t i, sealed *out)
{
    const vector *v = &vectors[i];
    secmq_seal_params p;

    out->pt_len = v->pt_len;
    for (size_t j = 0; j < v->pt_len; j++) {
        out->pt[j] = v->pt_text != NULL ? (unsigned char)v->pt_text[j]
                                        : (unsigned char)((j * 7 + 3) & 0xff);
    }
    /* Nonce 0x50..0x67 with the last byte replaced by the vector's index,
     * so no two vectors share a nonce under the one key. */
    fill(out->nonce, sizeof out->nonce, 0x50);
    out->nonce[sizeof out->nonce - 1] = (unsigned char)i;
    out->seq = SEQ_BASE + i;
    out->time_ms = TIME_BASE + i;

    memset(&p, 0, sizeof p);
    p.mode = v->mode;
    p.channel_key = k->channel_key;
    p.key_id = k->key_id;
    p.sender_id = k->id;
    p.sender_sk = k->sk;
    p.seq = out->seq;
    p.time_ms = out->time_ms;
    p.nonce = out->nonce;
    if (secmq_envelope_seal(out->env, sizeof out->env, &out->env_len, &p,
                            v->topic, out->pt, out->pt_len) != SECMQ_OK) {
        die("seal failed");
    }
}

/* Opens env as a receiver would and returns the reason. */
static int open_reason(const unsigned char *env, size_t env_len,
                       const char *topic, const unsigned char *channel_key,
                       const unsigned char *sender_pk)
{
    secmq_envelope_fields f;
    unsigned char pt[1200];
    size_t pt_len;
    int r;

    r = secmq_envelope_parse(env, env_len, &f);
    if (r != SECMQ_OPEN_OK) {
        return r;
    }
    return secmq_envelope_open(pt, sizeof pt, &pt_len, &f, topic, channel_key,
                               f.mode == SECMQ_SEAL_SIGNED ? sender_pk : NULL);
}

static void put_negative(text *t, int first, const char *name,
                         const char *topic, const unsigned char *channel_key,
                         const unsigned char *sender_pk,
                         const unsigned char *env, size_t env_len, int expect)
{
    int got = open_reason(env, env_len, topic, channel_key, sender_pk);

    if (got != expect) {
        fprintf(stderr, "gen_vectors: %s: expected %s, got %s\n", name,
                secmq_open_reason_name(expect), secmq_open_reason_name(got));
        exit(1);
    }
    put(t, "%s    {\"name\": ", first ? "" : ",\n");
    put_str(t, name);
    put(t, ", \"topic\": ");
    put_str(t, topic);
    put(t, ", \"channel_key\": ");
    put_hex(t, channel_key, 32);
    put(t, ", \"sender_pk\": ");
    put_hex(t, sender_pk, 32);
    put(t, ",\n     \"envelope\": ");
    put_hex(t, env, env_len);
    put(t, ",\n     \"expect\": \"%s\"}", secmq_open_reason_name(expect));
}

static void generate(text *t)
{
    static sealed s[NVECTORS];
    fixed k;
    unsigned char env[1200], other_key[32], other_seed[32], other_pk[32],
        other_sk[64];
    char name[256];
    size_t n, sig_at;
    int first = 1;

    fixed_init(&k);
    /* The schema has no room for comments: names say how inputs were made. */
    put(t, "{\n  \"version\": 1,\n");
    put(t, "  \"vectors\": [\n");
    for (size_t i = 0; i < NVECTORS; i++) {
        seal_vector(&k, i, &s[i]);
        if (open_reason(s[i].env, s[i].env_len, vectors[i].topic, k.channel_key,
                        k.pk) != SECMQ_OPEN_OK) {
            die("a vector does not open");
        }
        snprintf(name, sizeof name,
                 "%s (seed 00..1f, channel key 20..3f, key id 40..47, "
                 "nonce 50..66 then %02zx, seq and time_ms base + %zu%s)",
                 vectors[i].name, i, i,
                 vectors[i].pt_text == NULL
                     ? ", plaintext byte j = (7 * j + 3) mod 256"
                     : "");
        put(t, "%s    {\"name\": ", i == 0 ? "" : ",\n");
        put_str(t, name);
        put(t, ", \"mode\": %d,\n", (int)vectors[i].mode);
        put(t, "     \"sender_seed\": ");
        put_hex(t, k.seed, sizeof k.seed);
        put(t, ",\n     \"sender_pk\": ");
        put_hex(t, k.pk, sizeof k.pk);
        put(t, ", \"sender_id\": ");
        put_hex(t, k.id, sizeof k.id);
        put(t, ",\n     \"channel_key\": ");
        put_hex(t, k.channel_key, sizeof k.channel_key);
        put(t, ", \"key_id\": ");
        put_hex(t, k.key_id, sizeof k.key_id);
        put(t, ",\n     \"message_key\": ");
        put_hex(t, k.message_key, sizeof k.message_key);
        put(t,
            ",\n     \"seq\": %" PRIu64 ", \"time_ms\": %" PRIu64
            ", \"nonce\": ",
            s[i].seq, s[i].time_ms);
        put_hex(t, s[i].nonce, sizeof s[i].nonce);
        put(t, ",\n     \"topic\": ");
        put_str(t, vectors[i].topic);
        put(t, ",\n     \"plaintext\": ");
        put_hex(t, s[i].pt, s[i].pt_len);
        put(t, ",\n     \"envelope\": ");
        put_hex(t, s[i].env, s[i].env_len);
        put(t, "}");
    }
    put(t, "\n  ],\n  \"negative\": [\n");

    /* s[0] is signed-short, s[1] mac-short, s[2] signed-empty. */
    n = s[0].env_len;
    sig_at = n - SECMQ_ENV_SIG_BYTES;

    memcpy(env, s[0].env, n);
    env[SECMQ_ENV_HEADER_BYTES] ^= 0x01;
    put_negative(t, first, "signed-short, first ciphertext byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_BAD_TAG);
    first = 0;

    memcpy(env, s[0].env, n);
    env[sig_at - 1] ^= 0x01;
    put_negative(t, first, "signed-short, last tag byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_BAD_TAG);

    memcpy(env, s[0].env, n);
    env[n - 1] ^= 0x01;
    put_negative(t, first, "signed-short, last signature byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_BAD_SIGNATURE);

    put_negative(t, first, "signed-short on another topic", "secmq/test/other",
                 k.channel_key, k.pk, s[0].env, n, SECMQ_OPEN_BAD_TAG);

    memcpy(env, s[0].env, n);
    env[0] = 0x02;
    put_negative(t, first, "signed-short with version byte 0x02", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_VERSION);

    put_negative(t, first, "signed-short truncated to 73 bytes", TOPIC,
                 k.channel_key, k.pk, s[0].env, 73, SECMQ_OPEN_MALFORMED);

    put_negative(t, first,
                 "signed-empty truncated to 137 bytes (signed minimum 138)",
                 TOPIC, k.channel_key, k.pk, s[2].env, s[2].env_len - 1,
                 SECMQ_OPEN_MALFORMED);

    memcpy(env, s[0].env, n);
    env[1] = 0x03;
    put_negative(t, first, "signed-short with mode byte 0x03", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_MALFORMED);

    memcpy(env, s[0].env, n);
    env[1] = 0x02;
    put_negative(t, first, "signed-short relabelled mac-only (mode byte 0x02)",
                 TOPIC, k.channel_key, k.pk, env, n, SECMQ_OPEN_BAD_TAG);

    memcpy(env, s[0].env, n);
    env[2] ^= 0x01;
    put_negative(t, first, "signed-short, first key_id byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_BAD_TAG);

    memcpy(env, s[0].env, n);
    env[25] ^= 0x01;
    put_negative(t, first, "signed-short, last seq byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, n, SECMQ_OPEN_BAD_TAG);

    memcpy(env, s[0].env, n);
    env[n] = 0x00;
    put_negative(t, first, "signed-short with a 0x00 byte appended", TOPIC,
                 k.channel_key, k.pk, env, n + 1, SECMQ_OPEN_BAD_TAG);

    memcpy(other_key, k.channel_key, sizeof other_key);
    other_key[31] ^= 0x01;
    put_negative(t, first,
                 "signed-short under another channel key (20..3f, last ^ 0x01)",
                 TOPIC, other_key, k.pk, s[0].env, n, SECMQ_OPEN_BAD_TAG);

    fill(other_seed, sizeof other_seed, 0x80);
    crypto_sign_seed_keypair(other_pk, other_sk, other_seed);
    put_negative(t, first,
                 "signed-short checked with another sender's key (seed 80..9f)",
                 TOPIC, k.channel_key, other_pk, s[0].env, n,
                 SECMQ_OPEN_BAD_SIGNATURE);

    memcpy(env, s[1].env, s[1].env_len);
    env[s[1].env_len - 1] ^= 0x01;
    put_negative(t, first, "mac-short, last tag byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, s[1].env_len, SECMQ_OPEN_BAD_TAG);

    memcpy(env, s[1].env, s[1].env_len);
    env[10] ^= 0x01;
    put_negative(t, first, "mac-short, first sender_id byte ^ 0x01", TOPIC,
                 k.channel_key, k.pk, env, s[1].env_len, SECMQ_OPEN_BAD_TAG);

    put_negative(t, first, "mac-short on another topic", "secmq/test/other",
                 k.channel_key, k.pk, s[1].env, s[1].env_len,
                 SECMQ_OPEN_BAD_TAG);

    put_negative(t, first, "mac-short truncated to 73 bytes", TOPIC,
                 k.channel_key, k.pk, s[1].env, 73, SECMQ_OPEN_MALFORMED);

    put(t, "\n  ]\n}\n");
    sodium_memzero(other_sk, sizeof other_sk);
}

int main(int argc, char **argv)
{
    text t = {NULL, 0, 0};
    int rc;

    vec_prog = "gen_vectors";

    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    generate(&t);
    rc = vec_output(argc, argv, &t);
    free(t.s);
    return rc;
}
