/*
 * fuzz_successor.c -- libFuzzer target for the successor statement reader
 * (PROTOCOL.md §2.3, libsecmq/src/identity_succ.c) and the public identity
 * file reader it shares its line and base64 readers with (§2.2). First
 * byte: 0 the rest is a statement: the verdict is one of §2.3's, and an
 * accepted one has a valid name, two different keys, both signatures valid
 * over its M and formats back to exactly its bytes; 1 the rest is
 * u64 created_ms, u16 position, u8 xor, name: a statement signed here by
 * a fixed old key and a new key from the name is accepted with its fields
 * (when the name is valid), and with the byte at position xor-ed it is
 * refused; 2 the rest is a public identity file: an accepted one has a
 * valid name, its key's id, and formats back to its bytes. Aborts on a
 * broken invariant. Run by run_fuzz.sh, not a unit test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "identity_int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char old_pk[32], old_sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    unsigned char seed[32];

    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    for (unsigned i = 0; i < 32; i++) {
        seed[i] = (unsigned char)(0x10 + i);
    }
    crypto_sign_seed_keypair(old_pk, old_sk, seed);
    return 0;
}

/* An accepted statement holds §2.3's rules and is its one spelling. */
static void statement(const char *text, size_t n)
{
    static char again[SECMQ__SUCC_FILE_MAX];
    unsigned char m[SECMQ__SUCC_MSG_MAX];
    secmq__succ s;
    const char *why = NULL;
    size_t mlen;
    int st = secmq__succ_parse(text, n, &s, &why);

    if (st < SECMQ__SUCC_OK || st > SECMQ__SUCC_BAD_PROOF) {
        abort();
    }
    if (st != SECMQ__SUCC_OK) {
        return;
    }
    mlen = secmq__succ_message(m, &s);
    if (!secmq__name_valid(s.name, strlen(s.name)) ||
        memcmp(s.old_pk, s.new_pk, 32) == 0 ||
        crypto_sign_verify_detached(s.sig, m, mlen, s.old_pk) != 0 ||
        crypto_sign_verify_detached(s.proof, m, mlen, s.new_pk) != 0 ||
        secmq__succ_format(again, sizeof again, &s) != n ||
        memcmp(again, text, n) != 0) {
        abort();
    }
}

/* A statement made here: accepted, and refused once a byte changes. */
static void signed_here(const uint8_t *p, size_t n)
{
    static char text[SECMQ__SUCC_FILE_MAX];
    unsigned char seed[32], new_sk[64];
    secmq__succ s, back;
    size_t len, pos;
    int st;

    if (n < 11 || n - 11 > SECMQ_NAME_MAX) {
        return;
    }
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 8; i++) {
        s.created_ms = s.created_ms << 8 | p[i];
    }
    pos = (size_t)p[8] << 8 | p[9];
    memcpy(s.name, p + 11, n - 11);
    if (!secmq__name_valid(s.name, n - 11)) {
        return;
    }
    crypto_generichash(seed, sizeof seed, p + 11, n - 11, NULL, 0);
    crypto_sign_seed_keypair(s.new_pk, new_sk, seed);
    memcpy(s.old_pk, old_pk, 32);
    secmq__succ_sign(&s, old_sk, new_sk);
    len = secmq__succ_format(text, sizeof text, &s);
    if (len == 0 ||
        secmq__succ_parse(text, len, &back, NULL) != SECMQ__SUCC_OK ||
        strcmp(back.name, s.name) != 0 || back.created_ms != s.created_ms ||
        memcmp(back.old_pk, s.old_pk, 32) != 0 ||
        memcmp(back.new_pk, s.new_pk, 32) != 0) {
        abort();
    }
    if (p[10] != 0) {
        text[pos % len] = (char)(text[pos % len] ^ p[10]);
        st = secmq__succ_parse(text, len, &back, NULL);
        if (st == SECMQ__SUCC_OK || st == SECMQ__SUCC_SAME_KEY) {
            abort();
        }
    }
    sodium_memzero(new_sk, sizeof new_sk);
}

/* An accepted public identity file is its one spelling. */
static void public_file(const char *text, size_t n)
{
    static char again[SECMQ__IDENTITY_FILE_MAX];
    unsigned char id[SECMQ_ID_BYTES];
    secmq__ident pub;

    if (secmq__identity_parse_public(text, n, &pub) != NULL) {
        return;
    }
    secmq_identity_id(id, pub.pk);
    if (!secmq__name_valid(pub.name, strlen(pub.name)) ||
        memcmp(id, pub.id, sizeof id) != 0 ||
        secmq__identity_format_public(again, sizeof again, &pub) != n ||
        memcmp(again, text, n) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    switch (data[0]) {
    case 0:
        statement((const char *)data + 1, size - 1);
        break;
    case 1:
        signed_here(data + 1, size - 1);
        break;
    case 2:
        public_file((const char *)data + 1, size - 1);
        break;
    default:
        break;
    }
    return 0;
}
