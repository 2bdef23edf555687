/*
 * gen_file2_vectors.c -- writes tests/vectors/file-v2.json, the known-answer
 * vectors of file transfer protocol 2 (docs/PROTOCOL.md §8.2, §8.3.1,
 * §8.3.2): chunk trees (keys, leaves, roots) for several chunk counts, a
 * SECMQFM2 manifest, every chunk of a five-chunk file with its proof, and
 * chunks a receiver must refuse with the reason §8.3.2 gives. Everything
 * comes from fixed keys, ids and nonces through libsecmq's public codecs;
 * each chunk is opened and each negative refused with its reason through
 * secmq_file_chunk_open_v2 while the file is written, so a generator run
 * fails when the code disagrees with the vectors it writes.
 *
 * Usage: gen_file2_vectors [--out FILE | --check FILE]   (default: stdout)
 * --check (ctest vectors_file2) fails when the code's output differs from
 * FILE. tests/vectors/check_file2.py checks the file independently.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "vecout.h"

#define TOPIC "cam/front"
#define CS 1024u
#define FILE_SIZE (4u * CS + 100u) /* 5 chunks; index 4 is promoted */

/* Byte j of the file: (31 j + 7) mod 256, as in file-v1.json. */
static unsigned char content_byte(uint64_t j)
{
    return (unsigned char)((j * 31u + 7u) & 0xffu);
}

/* ---- trees ---------------------------------------------------------------
 */

/* Tree of count chunks; chunk i is the 3 bytes i, i+1, i+2 (mod 256). */
static void gen_trees(text *t)
{
    static const uint32_t counts[] = {0, 1, 2, 3, 5, 8, 13};
    unsigned char key[32], kt[32], root[32];

    put(t, "  \"trees\": [\n");
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        uint32_t n = counts[c];
        unsigned char *nodes = malloc(secmq_file_tree_nodes(n) * 32 + 32);

        if (nodes == NULL) {
            die("out of memory");
        }
        fill(key, sizeof key, 0x60 + (unsigned)c);
        secmq_file_tree_key(kt, key);
        put(t, "    {\"count\": %" PRIu32 ", ", n);
        put_key(t, "file_key", key, 32);
        put(t, ",\n     ");
        put_key(t, "tree_key", kt, 32);
        put(t, ",\n     \"chunks\": [");
        for (uint32_t i = 0; i < n; i++) {
            unsigned char pt[3] = {(unsigned char)i, (unsigned char)(i + 1),
                                   (unsigned char)(i + 2)};
            secmq_file_tree_leaf(nodes + i * 32, kt, i, pt, sizeof pt);
            put(t, "%s", i ? ", " : "");
            put_hex(t, pt, sizeof pt);
        }
        put(t, "],\n     \"leaves\": [");
        for (uint32_t i = 0; i < n; i++) {
            put(t, "%s", i ? ",\n                " : "");
            put_hex(t, nodes + i * 32, 32);
        }
        if (secmq_file_tree_build(nodes, kt, n, root) != SECMQ_OK) {
            die("tree build failed");
        }
        put(t, "],\n     ");
        put_key(t, "root", root, 32);
        put(t, "}%s\n", c + 1 < sizeof counts / sizeof counts[0] ? "," : "");
        free(nodes);
    }
    put(t, "  ],\n");
}

/* ---- the file ------------------------------------------------------------
 */

static secmq_file_manifest m;
static unsigned char data[FILE_SIZE], *tree;
static char ctopic[SECMQ_TOPIC_MAX + 1];

static void make_file(void)
{
    unsigned char kt[32], pk[32], sk[64], seed[32];

    for (uint32_t j = 0; j < FILE_SIZE; j++) {
        data[j] = content_byte(j);
    }
    memset(&m, 0, sizeof m);
    fill(seed, sizeof seed, 0x00);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(sk, sizeof sk);
    fill(m.file_id, sizeof m.file_id, 0xa0);
    fill(m.key, sizeof m.key, 0xc0);
    memcpy(m.sender_pk, pk, sizeof pk);
    m.size = FILE_SIZE;
    m.chunk_size = CS;
    m.chunk_count = 5;
    m.mtime_ms = UINT64_C(1700000000123);
    m.version = SECMQ_FILE_PROTOCOL_2;
    snprintf(m.name, sizeof m.name, "%s", "photo.jpg");
    tree = malloc(secmq_file_tree_nodes(5) * 32);
    if (tree == NULL) {
        die("out of memory");
    }
    secmq_file_tree_key(kt, m.key);
    for (uint32_t i = 0; i < 5; i++) {
        secmq_file_tree_leaf(tree + i * 32, kt, i, data + i * CS,
                             i < 4 ? CS : 100);
    }
    if (secmq_file_tree_build(tree, kt, 5, m.hash) != SECMQ_OK ||
        secmq_file_chunk_topic(ctopic, sizeof ctopic, TOPIC, m.file_id) !=
            SECMQ_OK) {
        die("file setup failed");
    }
}

static void gen_manifest(text *t)
{
    unsigned char b[SECMQ_FILE_MANIFEST_MAX];
    secmq_file_manifest d;
    size_t len = 0;

    if (secmq_file_manifest_encode(b, sizeof b, &len, &m) != SECMQ_OK ||
        secmq_file_manifest_decode(&d, b, len) != SECMQ_OK ||
        d.version != SECMQ_FILE_PROTOCOL_2 || memcmp(&d, &m, sizeof d) != 0) {
        die("manifest does not round-trip");
    }
    put(t, "  \"manifest\": {\"topic\": \"%s\", \"chunk_topic\": \"%s\",\n   ",
        TOPIC, ctopic);
    put_key(t, "file_id", m.file_id, 16);
    put(t, ", ");
    put_key(t, "file_key", m.key, 32);
    put(t, ",\n   ");
    put_key(t, "sender_pk", m.sender_pk, 32);
    put(t,
        ",\n   \"size\": %" PRIu64 ", \"chunk_size\": %" PRIu32
        ", \"chunk_count\": %" PRIu32 ", \"mtime_ms\": %" PRIu64
        ", \"announced\": \"%s\",\n   ",
        m.size, m.chunk_size, m.chunk_count, m.mtime_ms, m.name);
    put_key(t, "root", m.hash, 32);
    put(t, ",\n   ");
    put_key(t, "manifest", b, len);
    put(t, "},\n");
}

/* Chunk index of the file with the nonce 0x10+index.. into c. */
static size_t seal(unsigned char *c, size_t cap, uint32_t index,
                   const unsigned char *pt)
{
    unsigned char nonce[24];
    size_t len = 0;

    fill(nonce, sizeof nonce, 0x10 + index);
    if (secmq_file_chunk_seal_v2(c, cap, &len, &m, index, tree, ctopic, pt,
                                 index < 4 ? CS : 100, nonce) != SECMQ_OK) {
        die("seal failed");
    }
    return len;
}

static void gen_chunks(text *t)
{
    unsigned char c[CS + SECMQ_FILE_CHUNK2_OVERHEAD], out[CS], ck[32];
    size_t len, olen = 0;
    uint32_t idx = 0;

    crypto_kdf_derive_from_key(ck, sizeof ck, 2, "secmqfil", m.key);
    put(t, "  \"chunk_key\": ");
    put_hex(t, ck, 32);
    put(t, ",\n  \"chunks\": [\n");
    for (uint32_t i = 0; i < 5; i++) {
        size_t pl = i < 4 ? CS : 100;
        len = seal(c, sizeof c, i, data + i * CS);
        if (secmq_file_chunk_open_v2(out, sizeof out, &olen, &idx, &m, ctopic,
                                     c, len) != SECMQ_OPEN_OK ||
            idx != i || olen != pl || memcmp(out, data + i * CS, pl) != 0) {
            die("a chunk does not open");
        }
        put(t, "    {\"index\": %" PRIu32 ", \"proof_nodes\": %u,\n     ", i,
            secmq_file_proof_len(5, i));
        put_key(t, "plaintext", data + i * CS, pl);
        put(t, ",\n     ");
        put_key(t, "chunk", c, len);
        put(t, "}%s\n", i < 4 ? "," : "");
    }
    put(t, "  ],\n");
}

/* One negative: c (len bytes) on topic is refused with reason. */
static void neg(text *t, int *first, const char *label, const char *topic,
                const unsigned char *c, size_t len, int reason)
{
    unsigned char out[CS];
    size_t olen = 0;
    uint32_t idx = 0;
    int got = secmq_file_chunk_open_v2(out, sizeof out, &olen, &idx, &m, topic,
                                       c, len);

    if (got != reason) {
        fprintf(stderr, "gen_file2_vectors: %s: %s, expected %s\n", label,
                secmq_open_reason_name(got), secmq_open_reason_name(reason));
        exit(1);
    }
    put(t, "%s    {\"name\": \"%s\", \"chunk_topic\": \"%s\",\n     ",
        *first ? "" : ",\n", label, topic);
    put_key(t, "chunk", c, len);
    put(t, ",\n     \"expect\": \"%s\"}", secmq_open_reason_name(reason));
    *first = 0;
}

static void gen_negative(text *t)
{
    enum { CAP = CS + SECMQ_FILE_CHUNK2_OVERHEAD };
    unsigned char c[CAP], b[CAP], forged[CS];
    size_t len, l2;
    int first = 1;

    put(t, "  \"negative\": [\n");
    len = seal(c, sizeof c, 1, data + CS);
    memcpy(b, c, len);
    b[len - 1] ^= 0x01;
    neg(t, &first, "proof: last byte changed", ctopic, b, len,
        SECMQ_OPEN_BAD_PROOF);
    l2 = seal(b, sizeof b, 0, data);
    memcpy(b, c, len - 96); /* chunk 1 with chunk 0's proof */
    neg(t, &first, "chunk 1 carrying chunk 0's proof", ctopic, b, len,
        SECMQ_OPEN_BAD_PROOF);
    (void)l2;
    memcpy(b, c, len);
    b[13] = 2; /* index 1 -> 2: same length, bound by the AD */
    neg(t, &first, "index field changed to another chunk's", ctopic, b, len,
        SECMQ_OPEN_BAD_TAG);
    memcpy(forged, data + 2 * CS, CS);
    forged[0] ^= 0xff;
    {
        unsigned char nonce[24];
        fill(nonce, sizeof nonce, 0x77);
        if (secmq_file_chunk_seal_v2(b, sizeof b, &l2, &m, 2, tree, ctopic,
                                     forged, CS, nonce) != SECMQ_OK) {
            die("forge failed");
        }
    }
    neg(t, &first,
        "forged by a holder of the file key: other content, valid AEAD, "
        "the honest proof",
        ctopic, b, l2, SECMQ_OPEN_BAD_PROOF);
    neg(t, &first, "proof truncated by one node", ctopic, c, len - 32,
        SECMQ_OPEN_MALFORMED);
    memcpy(b, c, len);
    memset(b + len, 0, 32);
    neg(t, &first, "one node appended to the proof", ctopic, b, len + 32,
        SECMQ_OPEN_MALFORMED);
    memcpy(b, c, len);
    b[2] ^= 0x01;
    neg(t, &first, "key_id of another file", ctopic, b, len,
        SECMQ_OPEN_MALFORMED);
    memcpy(b, c, len);
    b[1] = 'c';
    neg(t, &first, "kind byte not 'C'", ctopic, b, len, SECMQ_OPEN_MALFORMED);
    memcpy(b, c, len);
    b[0] = 0x01;
    neg(t, &first, "version byte 0x01 (an envelope)", ctopic, b, len,
        SECMQ_OPEN_VERSION);
    memcpy(b, c, len);
    b[12] = 0x01; /* index 1 + 2^8 */
    neg(t, &first, "index beyond chunk_count", ctopic, b, len,
        SECMQ_OPEN_MALFORMED);
    memcpy(b, c, len);
    b[40] ^= 0x01;
    neg(t, &first, "ciphertext byte changed", ctopic, b, len,
        SECMQ_OPEN_BAD_TAG);
    neg(t, &first, "moved to another transfer topic",
        "cam/back/c/a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", c, len,
        SECMQ_OPEN_BAD_TAG);
    /* A chunk of another file (other id, key and tree) on this topic. */
    {
        secmq_file_manifest keep = m;
        fill(m.file_id, sizeof m.file_id, 0xb0);
        fill(m.key, sizeof m.key, 0xe0);
        l2 = seal(b, sizeof b, 1, data + CS);
        m = keep;
    }
    neg(t, &first, "a chunk of another file", ctopic, b, l2,
        SECMQ_OPEN_MALFORMED);
    put(t, "\n  ]\n");
}

int main(int argc, char **argv)
{
    text t = {NULL, 0, 0};
    int rc;

    vec_prog = "gen_file2_vectors";
    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    make_file();
    put(&t, "{\n  \"comment\": \"secmq file transfer protocol 2 "
            "(docs/PROTOCOL.md 8.2, 8.3.1, 8.3.2). Written by "
            "gen_file2_vectors; checked by check_file2.py. The file: byte j "
            "= (31 j + 7) mod 256, 4196 bytes in 5 chunks of 1024; chunk i "
            "sealed with nonce bytes 0x10+i, 0x11+i, ...\",\n");
    gen_trees(&t);
    gen_manifest(&t);
    gen_chunks(&t);
    gen_negative(&t);
    put(&t, "}\n");
    rc = vec_output(argc, argv, &t);
    free(t.s);
    free(tree);
    sodium_memzero(&m, sizeof m);
    return rc;
}
