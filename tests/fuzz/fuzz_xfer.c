/*
 * fuzz_xfer.c -- libFuzzer target for the file-transfer parsers of
 * PROTOCOL.md §8 (xfercodec.c, xfertree.c): the manifest and request
 * decoders, the name rule and chunk opening (protocols 1 and 2, and the
 * broker's form check) under a fixed manifest. Whatever the input:
 * no crash, no out-of-bounds read (ASan, UBSan), a decoded manifest
 * encodes back to the same bytes, a checked name is a safe last component.
 * Input: a selector byte, then the bytes for that parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static unsigned char pk[32], sk[64];
    secmq_file_manifest m;
    secmq_file_request r;
    unsigned char out[SECMQ_FILE_MANIFEST_MAX + 8];
    char name[SECMQ_FILE_NAME_MAX + 1], text[512];
    size_t len = 0;

    if (!ready) {
        unsigned char seed[32];
        if (sodium_init() < 0) {
            return 0;
        }
        memset(seed, 7, sizeof seed);
        crypto_sign_seed_keypair(pk, sk, seed);
        ready = 1;
    }
    if (size < 1) {
        return 0;
    }
    switch (data[0] % 4) {
    case 0:
        if (secmq_file_manifest_decode(&m, data + 1, size - 1) == SECMQ_OK) {
            if (secmq_file_manifest_encode(out, sizeof out, &len, &m) !=
                    SECMQ_OK ||
                len != size - 1 || memcmp(out, data + 1, len) != 0) {
                __builtin_trap();
            }
        }
        break;
    case 1:
        if (secmq_file_request_decode(&r, data + 1, size - 1) == SECMQ_OK) {
            for (size_t i = 0; i < r.n_ranges; i++) {
                secmq_file_range g = secmq_file_request_range(&r, i);
                if (g.count == 0) {
                    __builtin_trap();
                }
            }
        }
        break;
    case 2:
        len = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
        memcpy(text, data + 1, len);
        text[len] = '\0';
        if (secmq_file_name_check(name, sizeof name, text) == SECMQ_OK &&
            (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')) {
            __builtin_trap();
        }
        break;
    default: {
        static unsigned char pt[SECMQ_FILE_CHUNK_MIN * 4];
        char topic[64];
        uint32_t idx;
        memset(&m, 0, sizeof m);
        memset(m.file_id, 1, sizeof m.file_id);
        memset(m.key, 2, sizeof m.key);
        memcpy(m.sender_pk, pk, 32);
        m.chunk_size = SECMQ_FILE_CHUNK_MIN;
        m.size = 3 * SECMQ_FILE_CHUNK_MIN + 5;
        m.chunk_count = 4;
        memcpy(m.name, "f", 2);
        (void)secmq_file_chunk_topic(topic, sizeof topic, "t", m.file_id);
        if (secmq_file_chunk_open(pt, sizeof pt, &len, &idx, &m, topic,
                                  data + 1, size - 1) == SECMQ_OPEN_OK &&
            (idx >= 4 || len > SECMQ_FILE_CHUNK_MIN)) {
            __builtin_trap();
        }
        /* The same bytes as a protocol 2 chunk (any root: the checks
         * before the proof, and the proof walk, see every input). */
        m.version = SECMQ_FILE_PROTOCOL_2;
        memset(m.hash, 3, sizeof m.hash);
        if (secmq_file_chunk_open_v2(pt, sizeof pt, &len, &idx, &m, topic,
                                     data + 1, size - 1) == SECMQ_OPEN_OK &&
            (idx >= 4 || len > SECMQ_FILE_CHUNK_MIN)) {
            __builtin_trap();
        }
        (void)secmq_file_chunk_v2_form(topic, data + 1, size - 1);
        break;
    }
    }
    return 0;
}
