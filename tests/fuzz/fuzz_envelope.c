/*
 * fuzz_envelope.c -- libFuzzer target for envelope parse/open/verify.
 * Input: byte t, t bytes of topic (0: the vectors' topic), the envelope;
 * keys are the vectors', so seeds from them open. Aborts on a broken
 * invariant; sanitizers catch bad reads. Run by run_fuzz.sh, not a unit test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEFAULT_TOPIC "secmq/test/status"

static unsigned char sender_pk[32], sender_sk[64], sender_id[8];
static unsigned char channel_key[32], key_id[8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char seed[32];

    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        seed[i] = (unsigned char)i;
        channel_key[i] = (unsigned char)(0x20 + i);
    }
    for (unsigned i = 0; i < 8; i++) {
        key_id[i] = (unsigned char)(0x40 + i);
    }
    crypto_sign_seed_keypair(sender_pk, sender_sk, seed);
    secmq_identity_id(sender_id, sender_pk);
    return 0;
}

static int all_zero(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return 0;
        }
    }
    return 1;
}

/* Parse and open env (an exactly sized copy, so any over-read is caught). */
static void fuzz_open(const char *topic, const unsigned char *env,
                      size_t env_len)
{
    secmq_envelope_fields f;
    unsigned char *pt;
    size_t cap, pt_len = 1;
    int r;

    r = secmq_envelope_parse(env, env_len, &f);
    if (r != SECMQ_OPEN_OK) {
        if (r != SECMQ_OPEN_MALFORMED && r != SECMQ_OPEN_VERSION) {
            abort();
        }
        return;
    }
    if (f.ciphertext < env || f.ciphertext_len < 16 ||
        f.ciphertext_len > env_len ||
        f.ciphertext + f.ciphertext_len > env + env_len ||
        (f.signature != NULL && f.signature + 64 != env + env_len) ||
        (f.mode == 1) != (f.signature != NULL)) {
        abort();
    }
    cap = f.ciphertext_len - 16;
    pt = malloc(cap + 1); /* + 1: malloc(0) may be NULL */
    if (pt == NULL) {
        abort();
    }
    memset(pt, 0xaa, cap + 1);
    r = secmq_envelope_open(pt, cap, &pt_len, &f, topic, channel_key,
                            sender_pk);
    if (r == SECMQ_OPEN_OK) {
        if (pt_len != cap) {
            abort();
        }
        if (f.mode == SECMQ_SEAL_SIGNED &&
            secmq_envelope_verify_signature(&f, topic, sender_pk) !=
                SECMQ_OPEN_OK) {
            abort();
        }
    } else if (pt_len != 0 || !all_zero(pt, cap) || pt[cap] != 0xaa) {
        abort(); /* a failed open must wipe exactly the buffer it was given */
    }
    (void)secmq_envelope_verify_signature(&f, topic, sender_pk);
    free(pt);
}

/* Seal the input as a plaintext and check that it opens to itself. */
static void fuzz_round_trip(const char *topic, const uint8_t *data, size_t size,
                            secmq_seal_mode mode)
{
    secmq_seal_params p;
    size_t env_len = secmq_envelope_size(mode, size), out_len = 0, pt_len;
    unsigned char *env = malloc(env_len), *pt = malloc(size + 1);
    secmq_envelope_fields f;
    int rc;

    if (env == NULL || pt == NULL) {
        abort();
    }
    memset(&p, 0, sizeof p);
    p.mode = mode;
    p.channel_key = channel_key;
    p.key_id = key_id;
    p.sender_id = sender_id;
    p.sender_sk = sender_sk;
    p.seq = size;
    p.time_ms = 1;
    rc = secmq_envelope_seal(env, env_len, &out_len, &p, topic, data, size);
    if (rc == SECMQ_E_INVAL) { /* topics with wildcards, too long */
        goto out;
    }
    if (rc != SECMQ_OK || out_len != env_len ||
        secmq_envelope_parse(env, env_len, &f) != SECMQ_OPEN_OK ||
        secmq_envelope_open(pt, size, &pt_len, &f, topic, channel_key,
                            sender_pk) != SECMQ_OPEN_OK ||
        pt_len != size || (size > 0 && memcmp(pt, data, size) != 0)) {
        abort();
    }
out:
    free(env);
    free(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char topic[256];
    size_t t;
    unsigned char *env;

    if (size < 1) {
        return 0;
    }
    t = data[0];
    if (t > size - 1) {
        return 0;
    }
    if (t == 0) {
        memcpy(topic, DEFAULT_TOPIC, sizeof DEFAULT_TOPIC);
    } else {
        memcpy(topic, data + 1, t);
        topic[t] = '\0';
    }
    env = malloc(size - 1 - t + 1);
    if (env == NULL) {
        abort();
    }
    memcpy(env, data + 1 + t, size - 1 - t);
    fuzz_open(topic, env, size - 1 - t);
    free(env);
    fuzz_round_trip(topic, data, size,
                    (size & 1) ? SECMQ_SEAL_SIGNED : SECMQ_SEAL_MAC);
    return 0;
}
