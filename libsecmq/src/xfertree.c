/*
 * xfertree.c -- file transfer protocol 2 (docs/PROTOCOL.md §8.3.1-8.3.2):
 * the keyed BLAKE2b-256 chunk tree (leaves, levels, proofs) and the v2
 * chunk, which is not an envelope: a small header, the chunk encrypted
 * under a key derived from the file key, and the proof of its leaf to the
 * tree root the signed manifest holds. Pure: no I/O, no allocation.
 * Version 1 chunks and the manifest are xfercodec.c's.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "bytes_int.h"
#include "xfer_int.h"

#define KDF_CONTEXT "secmqfil"
#define SUBKEY_TREE 1u
#define SUBKEY_CHUNK 2u
#define TAG_LEAF 0x00u
#define TAG_NODE 0x01u
#define TAG_EMPTY 0x02u
#define CHUNK2_VERSION SECMQ__CHUNK2_VERSION
#define CHUNK2_KIND SECMQ__CHUNK2_KIND
#define AD_PREFIX "secmq-chunk-v2"
#define AD_PREFIX_BYTES 14u
#define OFF_KEY_ID SECMQ__CHUNK2_OFF_KEY_ID
#define OFF_INDEX 10u
#define OFF_NONCE 14u
#define NODE SECMQ_FILE_NODE_BYTES

_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf ctx");
_Static_assert(sizeof AD_PREFIX - 1 == AD_PREFIX_BYTES, "AD prefix");
_Static_assert(SECMQ_FILE_CHUNK2_HEADER ==
                   OFF_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "v2 chunk header");
_Static_assert(NODE == crypto_generichash_BYTES, "node size");
_Static_assert((1u << SECMQ_FILE_PROOF_MAX) >= SECMQ_FILE_CHUNKS_MAX,
               "proof bound");

void secmq_file_tree_key(unsigned char ktree[SECMQ_KEY_BYTES],
                         const unsigned char *file_key)
{
    crypto_kdf_derive_from_key(ktree, SECMQ_KEY_BYTES, SUBKEY_TREE, KDF_CONTEXT,
                               file_key);
}

void secmq__xfer_leaf_begin(crypto_generichash_state *st,
                            const unsigned char *ktree, uint32_t index)
{
    unsigned char head[5];

    head[0] = TAG_LEAF;
    secmq__put_u32(head + 1, index);
    crypto_generichash_init(st, ktree, SECMQ_KEY_BYTES, NODE);
    crypto_generichash_update(st, head, sizeof head);
}

void secmq_file_tree_leaf(unsigned char out[SECMQ_FILE_NODE_BYTES],
                          const unsigned char *ktree, uint32_t index,
                          const void *pt, size_t len)
{
    crypto_generichash_state st;

    secmq__xfer_leaf_begin(&st, ktree, index);
    crypto_generichash_update(&st, pt, (unsigned long long)len);
    crypto_generichash_final(&st, out, NODE);
}

/* H_K(0x01 || left || right) into out (which may alias neither input). */
static void node(unsigned char *out, const unsigned char *ktree,
                 const unsigned char *left, const unsigned char *right)
{
    unsigned char in[1 + 2 * NODE];

    in[0] = TAG_NODE;
    memcpy(in + 1, left, NODE);
    memcpy(in + 1 + NODE, right, NODE);
    crypto_generichash(out, NODE, in, sizeof in, ktree, SECMQ_KEY_BYTES);
}

size_t secmq_file_tree_nodes(uint32_t count)
{
    size_t total = 0, n = count;

    while (n > 0) {
        total += n;
        if (n == 1) {
            break;
        }
        n = (n + 1) / 2;
    }
    return total;
}

int secmq_file_tree_build(unsigned char *nodes, const unsigned char *ktree,
                          uint32_t count,
                          unsigned char root[SECMQ_FILE_NODE_BYTES])
{
    size_t base = 0, n = count;

    if (ktree == NULL || root == NULL || (nodes == NULL && count > 0) ||
        count > SECMQ_FILE_CHUNKS_MAX) {
        return SECMQ_E_INVAL;
    }
    if (count == 0) {
        unsigned char tag = TAG_EMPTY;
        crypto_generichash(root, NODE, &tag, 1, ktree, SECMQ_KEY_BYTES);
        return SECMQ_OK;
    }
    while (n > 1) {
        size_t up = base + n;
        for (size_t j = 0; j < (n + 1) / 2; j++) {
            unsigned char *dst = nodes + (up + j) * NODE;
            const unsigned char *l = nodes + (base + 2 * j) * NODE;
            if (2 * j + 1 < n) {
                node(dst, ktree, l, l + NODE);
            } else {
                memcpy(dst, l, NODE); /* odd count: promoted unchanged */
            }
        }
        base = up;
        n = (n + 1) / 2;
    }
    memcpy(root, nodes + base * NODE, NODE);
    return SECMQ_OK;
}

unsigned secmq_file_proof_len(uint32_t count, uint32_t index)
{
    unsigned p = 0;
    uint32_t i = index, n = count;

    if (index >= count) {
        return 0;
    }
    while (n > 1) {
        if ((i ^ 1u) < n) {
            p++;
        }
        i >>= 1;
        n = (n + 1) / 2;
    }
    return p;
}

/* The proof of index from the built tree: the sibling at every level
 * where there is one, bottom up. */
static void proof_of(unsigned char *out, const unsigned char *nodes,
                     uint32_t count, uint32_t index)
{
    size_t base = 0;
    uint32_t i = index, n = count;

    while (n > 1) {
        if ((i ^ 1u) < n) {
            memcpy(out, nodes + (base + (i ^ 1u)) * NODE, NODE);
            out += NODE;
        }
        base += n;
        i >>= 1;
        n = (n + 1) / 2;
    }
}

/* 1 if leaf with proof leads to root for index of count. */
static int proof_ok(const unsigned char *ktree, const unsigned char *root,
                    uint32_t count, uint32_t index, const unsigned char *leaf,
                    const unsigned char *proof)
{
    unsigned char h[NODE], t[NODE];
    uint32_t i = index, n = count;

    memcpy(h, leaf, NODE);
    while (n > 1) {
        if ((i ^ 1u) < n) {
            if (i & 1u) {
                node(t, ktree, proof, h);
            } else {
                node(t, ktree, h, proof);
            }
            memcpy(h, t, NODE);
            proof += NODE;
        }
        i >>= 1;
        n = (n + 1) / 2;
    }
    return sodium_memcmp(h, root, NODE) == 0;
}

/* AD = "secmq-chunk-v2" || header || u16(len(topic)) || topic, into ad
 * (cap bytes). Its length, or 0 when the topic is too long. */
static size_t chunk_ad(unsigned char *ad, size_t cap, const unsigned char *hdr,
                       const char *topic)
{
    size_t tlen = strlen(topic);
    size_t len = AD_PREFIX_BYTES + SECMQ_FILE_CHUNK2_HEADER + 2 + tlen;

    if (tlen == 0 || tlen > SECMQ_TOPIC_MAX || len > cap) {
        return 0;
    }
    memcpy(ad, AD_PREFIX, AD_PREFIX_BYTES);
    memcpy(ad + AD_PREFIX_BYTES, hdr, SECMQ_FILE_CHUNK2_HEADER);
    secmq__put_u16(ad + AD_PREFIX_BYTES + SECMQ_FILE_CHUNK2_HEADER,
                   (uint32_t)tlen);
    memcpy(ad + AD_PREFIX_BYTES + SECMQ_FILE_CHUNK2_HEADER + 2, topic, tlen);
    return len;
}

#define AD_MAX                                                                 \
    (AD_PREFIX_BYTES + SECMQ_FILE_CHUNK2_HEADER + 2 + SECMQ_TOPIC_MAX)

/* The exact length of v2 chunk index of m (index < chunk_count). */
static size_t chunk2_len(const secmq_file_manifest *m, uint32_t index)
{
    return SECMQ_FILE_CHUNK2_HEADER + secmq__xfer_chunk_len(m, index) +
           SECMQ_ENV_TAG_BYTES +
           (size_t)secmq_file_proof_len(m->chunk_count, index) * NODE;
}

int secmq_file_chunk_seal_v2(unsigned char *out, size_t cap, size_t *out_len,
                             const secmq_file_manifest *m, uint32_t index,
                             const unsigned char *nodes,
                             const char *chunk_topic, const void *pt,
                             size_t len, const unsigned char *nonce)
{
    unsigned char ad[AD_MAX];
    unsigned char ck[SECMQ_KEY_BYTES];
    size_t adlen, want;
    unsigned long long clen = 0;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || m == NULL || nodes == NULL ||
        chunk_topic == NULL || (pt == NULL && len > 0) ||
        m->version != SECMQ_FILE_PROTOCOL_2 || index >= m->chunk_count ||
        len != secmq__xfer_chunk_len(m, index)) {
        return SECMQ_E_INVAL;
    }
    want = chunk2_len(m, index);
    if (cap < want) {
        return SECMQ_E_OVERSIZE;
    }
    out[0] = CHUNK2_VERSION;
    out[1] = CHUNK2_KIND;
    memcpy(out + OFF_KEY_ID, m->file_id, SECMQ_ID_BYTES);
    secmq__put_u32(out + OFF_INDEX, index);
    if (nonce != NULL) {
        memcpy(out + OFF_NONCE, nonce, SECMQ_ENV_NONCE_BYTES);
    } else {
        randombytes_buf(out + OFF_NONCE, SECMQ_ENV_NONCE_BYTES);
    }
    adlen = chunk_ad(ad, sizeof ad, out, chunk_topic);
    if (adlen == 0) {
        return SECMQ_E_INVAL;
    }
    crypto_kdf_derive_from_key(ck, sizeof ck, SUBKEY_CHUNK, KDF_CONTEXT,
                               m->key);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SECMQ_FILE_CHUNK2_HEADER,
                                               &clen, pt, len, ad, adlen, NULL,
                                               out + OFF_NONCE, ck);
    sodium_memzero(ck, sizeof ck);
    proof_of(out + SECMQ_FILE_CHUNK2_HEADER + clen, nodes, m->chunk_count,
             index);
    *out_len = want;
    return SECMQ_OK;
}

int secmq_file_chunk_open_v2(unsigned char *out, size_t cap, size_t *out_len,
                             uint32_t *index, const secmq_file_manifest *m,
                             const char *chunk_topic, const void *buf,
                             size_t len)
{
    const unsigned char *p = buf;
    unsigned char ad[AD_MAX];
    unsigned char ck[SECMQ_KEY_BYTES], leaf[NODE];
    unsigned long long plen = 0;
    size_t adlen, want;
    uint32_t i;
    int ok;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || index == NULL || m == NULL ||
        chunk_topic == NULL || buf == NULL || len < 1 ||
        m->version != SECMQ_FILE_PROTOCOL_2) {
        return SECMQ_OPEN_MALFORMED;
    }
    if (p[0] != CHUNK2_VERSION) {
        return SECMQ_OPEN_VERSION;
    }
    if (len < SECMQ_FILE_CHUNK2_HEADER || p[1] != CHUNK2_KIND) {
        return SECMQ_OPEN_MALFORMED;
    }
    ok = memcmp(p + OFF_KEY_ID, m->file_id, SECMQ_ID_BYTES); /* not secret */
    if (ok != 0) {
        return SECMQ_OPEN_MALFORMED;
    }
    i = secmq__get_u32(p + OFF_INDEX);
    if (i >= m->chunk_count || len != chunk2_len(m, i)) {
        return SECMQ_OPEN_MALFORMED;
    }
    want = secmq__xfer_chunk_len(m, i);
    adlen = chunk_ad(ad, sizeof ad, p, chunk_topic);
    if (cap < want || adlen == 0) {
        return SECMQ_OPEN_MALFORMED;
    }
    crypto_kdf_derive_from_key(ck, sizeof ck, SUBKEY_CHUNK, KDF_CONTEXT,
                               m->key);
    ok = crypto_aead_xchacha20poly1305_ietf_decrypt(
             out, &plen, NULL, p + SECMQ_FILE_CHUNK2_HEADER,
             want + SECMQ_ENV_TAG_BYTES, ad, adlen, p + OFF_NONCE, ck) == 0;
    sodium_memzero(ck, sizeof ck);
    if (!ok) {
        sodium_memzero(out, want);
        return SECMQ_OPEN_BAD_TAG;
    }
    /* SECURITY: the AEAD only proves a holder of the file key made this
     * chunk (any member who read the manifest); the proof to the root in
     * the signed manifest proves it is the sender's. */
    secmq_file_tree_key(ck, m->key);
    secmq_file_tree_leaf(leaf, ck, i, out, want);
    ok = proof_ok(ck, m->hash, m->chunk_count, i, leaf,
                  p + SECMQ_FILE_CHUNK2_HEADER + want + SECMQ_ENV_TAG_BYTES);
    sodium_memzero(ck, sizeof ck);
    if (!ok) {
        sodium_memzero(out, want);
        return SECMQ_OPEN_BAD_PROOF;
    }
    *out_len = want;
    *index = i;
    return SECMQ_OPEN_OK;
}
