/*
 * bench_filecodec.c -- what each file-transfer protocol (PROTOCOL.md §8)
 * costs in CPU per chunk, in this process, through the public codecs:
 * protocol 1 (sender: whole-file BLAKE2b-256, then per chunk a signed
 * envelope; receiver: open and verify, and the whole-file hash) against
 * protocol 2 (sender: the chunk tree and a Poly1305 tag of each chunk,
 * then per chunk the tag check and a v2 chunk, as xferleaves.c and
 * xfersend.c do; receiver: AEAD and proof). No network, no disk: the part of
 * the transfer the protocol decides.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "bench.h"
#include "bench_filecodec.h"

#define CS 65536u
#define N 256u /* 16 MiB */

static double us_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e3;
}

/* One round; per-chunk microseconds into c. 0 or -1. */
static int round_once(secmq_file_manifest *m, const unsigned char *data,
                      const unsigned char *sk, unsigned char *nodes,
                      unsigned char *env, unsigned char *out,
                      struct codec_cost *c)
{
    unsigned char kt[32], kg[crypto_onetimeauth_KEYBYTES];
    unsigned char tags[N][crypto_onetimeauth_BYTES];
    char topic[SECMQ_TOPIC_MAX + 1];
    size_t len = 0, olen = 0;
    uint32_t idx = 0;
    uint64_t t;
    double send = 0, recv = 0, hash;

    (void)secmq_file_chunk_topic(topic, sizeof topic, "files", m->file_id);
    m->version = SECMQ_FILE_PROTOCOL_1;
    t = bench_now_ns();
    crypto_generichash(m->hash, 32, data, (size_t)CS * N, NULL, 0);
    hash = us_since(t);
    for (uint32_t i = 0; i < N; i++) {
        t = bench_now_ns();
        if (secmq_file_chunk_seal(env, CS + SECMQ_FILE_CHUNK2_OVERHEAD, &len, m,
                                  i, sk, topic, data + (size_t)i * CS,
                                  CS) != SECMQ_OK) {
            return -1;
        }
        send += us_since(t);
        t = bench_now_ns();
        if (secmq_file_chunk_open(out, CS, &olen, &idx, m, topic, env, len) !=
            SECMQ_OPEN_OK) {
            return -1;
        }
        recv += us_since(t);
    }
    /* The receiver hashes the chunks as they arrive: the same pass. */
    c->v1_send = (hash + send) / N;
    c->v1_recv = (hash + recv) / N;
    m->version = SECMQ_FILE_PROTOCOL_2;
    send = recv = 0;
    t = bench_now_ns();
    secmq_file_tree_key(kt, m->key);
    randombytes_buf(kg, sizeof kg);
    for (uint32_t i = 0; i < N; i++) {
        secmq_file_tree_leaf(nodes + (size_t)i * 32, kt, i,
                             data + (size_t)i * CS, CS);
        crypto_onetimeauth(tags[i], data + (size_t)i * CS, CS, kg);
    }
    if (secmq_file_tree_build(nodes, kt, N, m->hash) != SECMQ_OK) {
        return -1;
    }
    send = us_since(t);
    for (uint32_t i = 0; i < N; i++) {
        t = bench_now_ns();
        if (crypto_onetimeauth_verify(tags[i], data + (size_t)i * CS, CS, kg) !=
                0 ||
            secmq_file_chunk_seal_v2(env, CS + SECMQ_FILE_CHUNK2_OVERHEAD, &len,
                                     m, i, nodes, topic, data + (size_t)i * CS,
                                     CS, NULL) != SECMQ_OK) {
            return -1;
        }
        send += us_since(t);
        t = bench_now_ns();
        if (secmq_file_chunk_open_v2(out, CS, &olen, &idx, m, topic, env,
                                     len) != SECMQ_OPEN_OK) {
            return -1;
        }
        recv += us_since(t);
    }
    c->v2_send = send / N;
    c->v2_recv = recv / N;
    sodium_memzero(kt, sizeof kt);
    sodium_memzero(kg, sizeof kg);
    return 0;
}

int bench_filecodec(struct codec_cost *c)
{
    unsigned char pk[32], sk[64];
    unsigned char *data = malloc((size_t)CS * N);
    unsigned char *nodes = malloc(secmq_file_tree_nodes(N) * 32);
    unsigned char *env = malloc(CS + SECMQ_FILE_CHUNK2_OVERHEAD);
    unsigned char *out = malloc(CS);
    secmq_file_manifest m;
    int rc = -1;

    memset(c, 0, sizeof *c);
    if (data == NULL || nodes == NULL || env == NULL || out == NULL) {
        goto out;
    }
    crypto_sign_keypair(pk, sk);
    randombytes_buf(data, (size_t)CS * N);
    memset(&m, 0, sizeof m);
    randombytes_buf(m.file_id, sizeof m.file_id);
    randombytes_buf(m.key, sizeof m.key);
    memcpy(m.sender_pk, pk, sizeof pk);
    m.size = (uint64_t)CS * N;
    m.chunk_size = CS;
    m.chunk_count = N;
    memcpy(m.name, "bench", 6);
    for (int r = 0; r < 3; r++) {
        struct codec_cost x;
        if (round_once(&m, data, sk, nodes, env, out, &x) != 0) {
            goto out;
        }
        if (r == 0 || x.v1_send < c->v1_send) {
            c->v1_send = x.v1_send;
        }
        if (r == 0 || x.v1_recv < c->v1_recv) {
            c->v1_recv = x.v1_recv;
        }
        if (r == 0 || x.v2_send < c->v2_send) {
            c->v2_send = x.v2_send;
        }
        if (r == 0 || x.v2_recv < c->v2_recv) {
            c->v2_recv = x.v2_recv;
        }
    }
    rc = 0;
out:
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(&m, sizeof m);
    free(data);
    free(nodes);
    free(env);
    free(out);
    return rc;
}
