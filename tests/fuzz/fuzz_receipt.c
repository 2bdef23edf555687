/*
 * fuzz_receipt.c -- libFuzzer target for receipts (PROTOCOL.md §9.2, §9.3).
 * First byte: 0 the rest is a receipt plaintext: decoding it either fails
 * or encodes back to the same bytes; 1 the rest is a plaintext sealed here
 * by a fixed receipter under the fixed channel key: opening it agrees with
 * decoding it; 2 the rest is an envelope opened as a receipt: any verdict
 * is one of §9.3's and a success decodes its own plaintext. Aborts on a
 * broken invariant. Run by run_fuzz.sh, not a unit test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOPIC "secmq/receipts/7c7d7e7f80818283"

static unsigned char pk[32], sk[64], id[8], ckey[32], kid[8], cid[8];
static secmq_receipt_range r[SECMQ_RECEIPT_MAX_RANGES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char seed[32];

    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        seed[i] = (unsigned char)(0x20 + i);
        ckey[i] = (unsigned char)(0x50 + i);
    }
    for (unsigned i = 0; i < 8; i++) {
        kid[i] = (unsigned char)(0x40 + i);
        cid[i] = (unsigned char)(0x7c + i);
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    secmq_identity_id(id, pk);
    return 0;
}

static void plaintext(const uint8_t *p, size_t n)
{
    static unsigned char again[SECMQ_RECEIPT_PLAIN_MAX];
    size_t k = 0, len = 0;

    if (secmq_receipt_decode(r, SECMQ_RECEIPT_MAX_RANGES, &k, p, n, cid) !=
        SECMQ_OPEN_OK) {
        if (k != 0) {
            abort();
        }
        return;
    }
    if (secmq_receipt_encode(again, sizeof again, &len, cid, r, k) !=
            SECMQ_OK ||
        len != n || memcmp(again, p, n) != 0) {
        abort();
    }
}

static int open_env(const unsigned char *env, size_t len, size_t *k)
{
    secmq_envelope_fields f;
    size_t who = 99;
    int rc = secmq_envelope_parse(env, len, &f);

    if (rc != SECMQ_OPEN_OK) {
        return rc;
    }
    rc = secmq_receipt_open(r, SECMQ_RECEIPT_MAX_RANGES, k, &who, &f, TOPIC,
                            ckey, cid, pk, 1);
    if (rc == SECMQ_OPEN_OK && who != 0) {
        abort();
    }
    return rc;
}

static void sealed(const uint8_t *p, size_t n)
{
    static unsigned char env[SECMQ_RECEIPT_PLAIN_MAX + 256];
    unsigned char rk[32];
    secmq_seal_params sp;
    size_t len = 0, k = 0, dk = 0;
    int dec, op;

    if (n > SECMQ_RECEIPT_PLAIN_MAX + 64) {
        return;
    }
    secmq_receipt_key(rk, ckey);
    memset(&sp, 0, sizeof sp);
    sp.mode = SECMQ_SEAL_SIGNED;
    sp.channel_key = rk;
    sp.key_id = kid;
    sp.sender_id = id;
    sp.sender_sk = sk;
    sp.seq = 1;
    sp.time_ms = 1;
    if (secmq_envelope_seal(env, sizeof env, &len, &sp, TOPIC, p, n) !=
        SECMQ_OK) {
        abort();
    }
    dec = secmq_receipt_decode(r, SECMQ_RECEIPT_MAX_RANGES, &dk, p, n, cid);
    op = open_env(env, len, &k);
    /* A plaintext too long for any receipt is malformed either way. */
    if ((dec == SECMQ_OPEN_OK) != (op == SECMQ_OPEN_OK) ||
        (op != SECMQ_OPEN_OK && op != SECMQ_OPEN_MALFORMED) || dk != k) {
        abort();
    }
}

static void envelope(const uint8_t *p, size_t n)
{
    size_t k = 0;
    int rc = open_env(p, n, &k);

    switch (rc) {
    case SECMQ_OPEN_OK:
        if (k < 1 || k > SECMQ_RECEIPT_MAX_RANGES) {
            abort();
        }
        break;
    case SECMQ_OPEN_MALFORMED:
    case SECMQ_OPEN_VERSION:
    case SECMQ_OPEN_BAD_TAG:
    case SECMQ_OPEN_UNAUTHORISED:
    case SECMQ_OPEN_BAD_SIGNATURE:
        if (k != 0) {
            abort();
        }
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        plaintext(data + 1, size - 1);
        break;
    case 1:
        sealed(data + 1, size - 1);
        break;
    default:
        envelope(data + 1, size - 1);
        break;
    }
    return 0;
}
