/*
 * test_xfertree.c -- unit tests for file transfer protocol 2 (PROTOCOL.md
 * §8.3.1-8.3.2, xfertree.c) through the public API: the tree root equals
 * a recursive reference implementation of its definition for every count
 * up to 70, proofs have the length the rule gives, a v2 chunk opens for
 * its file, index and topic only, and every changed field, a forged chunk
 * made by a holder of the file key, another index's proof, a truncated or
 * extended proof and chunks of the other protocol are refused with the
 * reason §8.3.2 gives. The sender's pass over a file (xferleaves.c,
 * compiled in) gives every chunk's leaf and keyed tag, whatever the
 * number of threads, and fails loudly on a short file or a bad
 * descriptor.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <secmq.h>

#include "check.h"
#include "xferleaves_int.h"

#define CS 1024u /* chunk size of the test files */

static void manifest2(secmq_file_manifest *m, uint64_t size, unsigned char fill)
{
    memset(m, 0, sizeof *m);
    memset(m->file_id, fill, sizeof m->file_id);
    memset(m->key, fill ^ 0x5a, sizeof m->key);
    m->size = size;
    m->chunk_size = CS;
    m->chunk_count = (uint32_t)((size + CS - 1) / CS);
    m->mtime_ms = 1700000000123u;
    m->version = SECMQ_FILE_PROTOCOL_2;
    snprintf(m->name, sizeof m->name, "%s", "cam.jpg");
}

/* The definition of §8.3.1 written out on its own, level by level on a
 * copy: neighbours are paired, an odd last node is promoted. */
static void ref_root(unsigned char *root, const unsigned char *k,
                     const unsigned char *leaves, uint32_t n)
{
    unsigned char *lv = malloc((size_t)n * 32 + 32);
    unsigned char in[65];

    if (n == 0) {
        in[0] = 2;
        crypto_generichash(root, 32, in, 1, k, 32);
        free(lv);
        return;
    }
    memcpy(lv, leaves, (size_t)n * 32);
    while (n > 1) {
        uint32_t j = 0;
        for (uint32_t i = 0; i < n; i += 2, j++) {
            if (i + 1 < n) {
                in[0] = 1;
                memcpy(in + 1, lv + i * 32, 32);
                memcpy(in + 33, lv + (i + 1) * 32, 32);
                crypto_generichash(lv + j * 32, 32, in, 65, k, 32);
            } else {
                memmove(lv + j * 32, lv + i * 32, 32);
            }
        }
        n = j;
    }
    memcpy(root, lv, 32);
    free(lv);
}

/* A file of m->size bytes from seed: its plaintext, tree and root. */
static unsigned char *make_file(secmq_file_manifest *m, unsigned char **nodes)
{
    unsigned char *data = malloc(m->size + 1), k[32];

    randombytes_buf(data, m->size);
    *nodes = malloc(secmq_file_tree_nodes(m->chunk_count) * 32 + 32);
    secmq_file_tree_key(k, m->key);
    for (uint32_t i = 0; i < m->chunk_count; i++) {
        size_t len = m->size - (uint64_t)i * CS < CS
                         ? (size_t)(m->size - (uint64_t)i * CS)
                         : CS;
        secmq_file_tree_leaf(*nodes + (size_t)i * 32, k, i, data + i * CS, len);
    }
    if (secmq_file_tree_build(*nodes, k, m->chunk_count, m->hash) != SECMQ_OK) {
        fprintf(stderr, "tree build of %u chunks failed\n", m->chunk_count);
        abort();
    }
    return data;
}

static void test_tree(void)
{
    unsigned char key[32], k[32], root[32], ref[32];
    unsigned char leaves[70 * 32], nodes[(2 * 70 + SECMQ_FILE_PROOF_MAX) * 32];

    randombytes_buf(key, sizeof key);
    secmq_file_tree_key(k, key);
    CHECK(sodium_memcmp(k, key, 32) != 0);
    for (uint32_t n = 0; n <= 70; n++) {
        unsigned total = 0;
        for (uint32_t i = 0; i < n; i++) {
            unsigned char c[8];
            memset(c, (int)i, sizeof c);
            secmq_file_tree_leaf(leaves + i * 32, k, i, c, sizeof c);
            total += secmq_file_proof_len(n, i);
        }
        CHECKF(secmq_file_tree_nodes(n) <= 2u * n + SECMQ_FILE_PROOF_MAX,
               "nodes of %u", n);
        memcpy(nodes, leaves, (size_t)n * 32);
        CHECK_INT_EQ(secmq_file_tree_build(nodes, k, n, root), SECMQ_OK);
        ref_root(ref, k, leaves, n);
        CHECKF(memcmp(root, ref, 32) == 0, "root of %u leaves", n);
        /* every pair has two siblings in the proofs; a power of two
         * has n * log2(n) proof nodes in all */
        if (n == 64) {
            CHECK_INT_EQ(total, 64 * 6);
        }
    }
    CHECK_INT_EQ(secmq_file_proof_len(5, 4), 1); /* promoted twice */
    CHECK_INT_EQ(secmq_file_proof_len(5, 0), 3);
    CHECK_INT_EQ(secmq_file_proof_len(1, 0), 0);
    CHECK_INT_EQ(secmq_file_proof_len(5, 5), 0);
    CHECK_INT_EQ(secmq_file_proof_len(SECMQ_FILE_CHUNKS_MAX, 0),
                 SECMQ_FILE_PROOF_MAX);
    /* The index is bound into the leaf. */
    {
        unsigned char a[32], b[32], c[4] = {1, 2, 3, 4};
        secmq_file_tree_leaf(a, k, 0, c, 4);
        secmq_file_tree_leaf(b, k, 1, c, 4);
        CHECK(memcmp(a, b, 32) != 0);
    }
}

static void test_manifest_v2(void)
{
    unsigned char buf[SECMQ_FILE_MANIFEST_MAX];
    secmq_file_manifest m, got;
    size_t len = 0;

    manifest2(&m, 5000, 0x11);
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_OK);
    CHECK_MEM_EQ(buf, 8, "SECMQFM2", 8);
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_OK);
    CHECK_INT_EQ(got.version, SECMQ_FILE_PROTOCOL_2);
    CHECK_MEM_EQ(&got, sizeof got, &m, sizeof m);
    m.version = 3;
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_E_INVAL);
    memcpy(buf, "SECMQFM3", 8);
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_E_INVAL);
}

static int open2(const secmq_file_manifest *m, const char *topic,
                 const unsigned char *c, size_t len, uint32_t *idx)
{
    unsigned char out[CS];
    size_t olen = 0;

    return secmq_file_chunk_open_v2(out, sizeof out, &olen, idx, m, topic, c,
                                    len);
}

static void test_chunk_v2(void)
{
    enum { CAP = CS + SECMQ_FILE_CHUNK2_OVERHEAD };
    secmq_file_manifest m, m2;
    unsigned char *nodes, *nodes2, *data, *data2;
    unsigned char c[CAP], c2[CAP], out[CS];
    char topic[100], topic2[100];
    size_t len = 0, len2 = 0, olen = 0;
    uint32_t idx = 0;

    manifest2(&m, 4 * CS + 100, 0x21); /* 5 chunks: index 4 is promoted */
    data = make_file(&m, &nodes);
    (void)secmq_file_chunk_topic(topic, sizeof topic, "cam", m.file_id);
    for (uint32_t i = 0; i < 5; i++) {
        size_t pl = i < 4 ? CS : 100;
        CHECK_INT_EQ(secmq_file_chunk_seal_v2(c, sizeof c, &len, &m, i, nodes,
                                              topic, data + i * CS, pl, NULL),
                     SECMQ_OK);
        CHECK_INT_EQ(len, SECMQ_FILE_CHUNK2_HEADER + pl + 16 +
                              32u * secmq_file_proof_len(5, i));
        CHECK_INT_EQ(c[0], 0x02);
        CHECK_INT_EQ(secmq_file_chunk_open_v2(out, sizeof out, &olen, &idx, &m,
                                              topic, c, len),
                     SECMQ_OPEN_OK);
        CHECK_INT_EQ(idx, i);
        CHECK_MEM_EQ(out, olen, data + i * CS, pl);
    }
    /* Chunk 1, then every single changed byte: header fields first. */
    CHECK_INT_EQ(secmq_file_chunk_seal_v2(c, sizeof c, &len, &m, 1, nodes,
                                          topic, data + CS, CS, NULL),
                 SECMQ_OK);
    for (size_t b = 0; b < len; b++) {
        int want = b == 0   ? SECMQ_OPEN_VERSION
                   : b < 14 ? SECMQ_OPEN_MALFORMED
                   : b < SECMQ_FILE_CHUNK2_HEADER + CS + 16
                       ? SECMQ_OPEN_BAD_TAG
                       : SECMQ_OPEN_BAD_PROOF;
        int got;
        memcpy(c2, c, len);
        c2[b] ^= 0x01;
        got = open2(&m, topic, c2, len, &idx);
        /* index 1 -> 0 keeps the length: the AEAD catches it */
        if (b == 13) {
            want = SECMQ_OPEN_BAD_TAG;
        }
        CHECKF(got == want, "byte %zu: %s, wanted %s", b,
               secmq_open_reason_name(got), secmq_open_reason_name(want));
    }
    /* Truncated or extended proof, and another topic. */
    CHECK_INT_EQ(open2(&m, topic, c, len - 32, &idx), SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(open2(&m, topic, c, len - 1, &idx), SECMQ_OPEN_MALFORMED);
    memcpy(c2, c, len);
    memset(c2 + len, 0, 32);
    CHECK_INT_EQ(open2(&m, topic, c2, len + 32, &idx), SECMQ_OPEN_MALFORMED);
    CHECK_INT_EQ(open2(&m, "cam/c/other", c, len, &idx), SECMQ_OPEN_BAD_TAG);
    /* Chunk 1 with chunk 0's proof (same length): bad_proof. */
    CHECK_INT_EQ(secmq_file_chunk_seal_v2(c2, sizeof c2, &len2, &m, 0, nodes,
                                          topic, data, CS, NULL),
                 SECMQ_OK);
    CHECK_INT_EQ(len2, len);
    memcpy(c + len - 3 * 32, c2 + len - 3 * 32, 3 * 32);
    CHECK_INT_EQ(open2(&m, topic, c, len, &idx), SECMQ_OPEN_BAD_PROOF);
    /* A receiver holding the file key forges chunk 2: the AEAD opens, the
     * proof (the honest one) does not lead to the root with its leaf. */
    {
        unsigned char forged[CS];
        memcpy(forged, data + 2 * CS, CS);
        forged[7] ^= 0xff;
        CHECK_INT_EQ(secmq_file_chunk_seal_v2(c, sizeof c, &len, &m, 2, nodes,
                                              topic, forged, CS, NULL),
                     SECMQ_OK);
        CHECK_INT_EQ(secmq_file_chunk_open_v2(out, sizeof out, &olen, &idx, &m,
                                              topic, c, len),
                     SECMQ_OPEN_BAD_PROOF);
        CHECK_INT_EQ(olen, 0);
        CHECK(sodium_is_zero(out, CS)); /* wiped */
    }
    /* A chunk of another file: key id (malformed), or the same id prefix
     * under another key (bad_tag). */
    manifest2(&m2, 4 * CS + 100, 0x33);
    data2 = make_file(&m2, &nodes2);
    (void)secmq_file_chunk_topic(topic2, sizeof topic2, "cam", m2.file_id);
    CHECK_INT_EQ(secmq_file_chunk_seal_v2(c2, sizeof c2, &len2, &m2, 1, nodes2,
                                          topic2, data2 + CS, CS, NULL),
                 SECMQ_OK);
    CHECK_INT_EQ(open2(&m, topic, c2, len2, &idx), SECMQ_OPEN_MALFORMED);
    memcpy(c2 + 2, m.file_id, 8);
    CHECK_INT_EQ(open2(&m, topic, c2, len2, &idx), SECMQ_OPEN_BAD_TAG);
    /* The protocols do not mix: a v1 chunk is a version-1 envelope. */
    {
        unsigned char sk[64], pk[32], env[CS + 200];
        size_t elen = 0;
        secmq_file_manifest m1 = m;
        crypto_sign_keypair(pk, sk);
        m1.version = SECMQ_FILE_PROTOCOL_1;
        memcpy(m1.sender_pk, pk, 32);
        CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m1, 1, sk,
                                           topic, data + CS, CS),
                     SECMQ_OK);
        CHECK_INT_EQ(open2(&m, topic, env, elen, &idx), SECMQ_OPEN_VERSION);
        CHECK_INT_EQ(secmq_file_chunk_open(out, sizeof out, &olen, &idx, &m1,
                                           topic, c, len),
                     SECMQ_OPEN_VERSION);
        CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, 1, sk,
                                           topic, data + CS, CS),
                     SECMQ_E_INVAL);
    }
    CHECK_INT_EQ(secmq_file_chunk_seal_v2(c, sizeof c, &len, &m, 5, nodes,
                                          topic, data, 0, NULL),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_chunk_seal_v2(c, 100, &len, &m, 0, nodes, topic,
                                          data, CS, NULL),
                 SECMQ_E_OVERSIZE);
    free(data);
    free(data2);
    free(nodes);
    free(nodes2);
}

/* secmq__xfer_leaves over a temp file of size bytes with threads
 * threads (chunks of cs) against the leaves and tags made one by one. */
static void leaves_case(uint64_t size, uint32_t cs, unsigned threads)
{
    char path[] = "/tmp/secmq-leaves-XXXXXX";
    uint32_t n = (uint32_t)((size + cs - 1) / cs);
    unsigned char *data = malloc((size_t)size + 1);
    unsigned char *leaves = malloc((size_t)n * 32 + 1);
    unsigned char *tags = malloc((size_t)n * 16 + 1);
    unsigned char kt[32], kg[32], want[32], tag[16];
    secmq__leaf_job job;
    int fd = mkstemp(path), err = -1;

    CHECK(fd >= 0 && data != NULL && leaves != NULL && tags != NULL);
    if (fd < 0 || data == NULL || leaves == NULL || tags == NULL) {
        return;
    }
    (void)unlink(path);
    randombytes_buf(data, (size_t)size);
    randombytes_buf(kt, sizeof kt);
    randombytes_buf(kg, sizeof kg);
    CHECK_INT_EQ((long)write(fd, data, (size_t)size), (long)size);
    memset(&job, 0, sizeof job);
    job.fd = fd;
    job.size = size;
    job.chunk_size = cs;
    job.ktree = kt;
    job.ktag = kg;
    job.leaves = leaves;
    job.tags = tags;
    memset(leaves, 0, (size_t)n * 32);
    CHECK_INT_EQ(secmq__xfer_leaves(&job, threads, &err), 0);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = i + 1 < n ? cs : (size_t)(size - (uint64_t)i * cs);
        secmq_file_tree_leaf(want, kt, i, data + (size_t)i * cs, len);
        crypto_onetimeauth(tag, data + (size_t)i * cs, len, kg);
        CHECK(memcmp(leaves + (size_t)i * 32, want, 32) == 0);
        CHECK(memcmp(tags + (size_t)i * 16, tag, 16) == 0);
        /* The sender's check: one changed byte no longer matches. */
        data[(size_t)i * cs] ^= 1;
        CHECK(crypto_onetimeauth_verify(tags + (size_t)i * 16,
                                        data + (size_t)i * cs, len, kg) != 0);
        data[(size_t)i * cs] ^= 1;
    }
    /* The file is shorter than announced: -2, whichever share sees it. */
    job.size = size + cs;
    CHECK_INT_EQ(secmq__xfer_leaves(&job, threads, &err), -2);
    close(fd);
    /* A read error: -1 with its errno. */
    job.size = size;
    if (size > 0) {
        CHECK_INT_EQ(secmq__xfer_leaves(&job, threads, &err), -1);
        CHECK_INT_EQ(err, EBADF);
    }
    free(data);
    free(leaves);
    free(tags);
}

static void test_leaves(void)
{
    /* Small files stay on one thread; 200 chunks split unevenly over 3;
     * a short last chunk; reads of whole chunks larger than a read. */
    leaves_case(0, CS, 4);
    leaves_case(1, CS, 2);
    leaves_case(5 * CS + 7, CS, 1);
    leaves_case(200u * CS + 333, CS, 3);
    leaves_case(200u * CS, CS, 4);
    leaves_case(129u * CS + 1, CS, 2);
    leaves_case(3u * (2u << 20) + 5, 2u << 20, 2);
    CHECK(secmq__xfer_leaf_threads() >= 1 &&
          secmq__xfer_leaf_threads() <= SECMQ__LEAF_THREADS_MAX);
}

int main(void)
{
    if (secmq_init() != SECMQ_OK) {
        return 1;
    }
    RUN(test_tree);
    RUN(test_manifest_v2);
    RUN(test_chunk_v2);
    RUN(test_leaves);
    return check_exit();
}
