/*
 * gen_file_vectors.c -- writes tests/vectors/file-v1.json, the known-answer
 * vectors of the file-transfer formats (docs/PROTOCOL.md §8): manifests
 * (and their signed envelopes on TOPIC/m), chunks, requests, the name rule,
 * and messages a receiver must refuse with the reason §8 gives. Everything
 * comes from fixed seeds, keys, ids, nonces and times, through libsecmq's
 * codecs (secmq/file.h) and envelope (a chunk is an envelope under the
 * per-file key; secmq_file_chunk_seal picks a random nonce, so the vectors
 * are sealed with secmq_envelope_seal and the §8.3 parameters, and each one
 * is opened with secmq_file_chunk_open).
 *
 * Usage: gen_file_vectors [--out FILE | --check FILE]   (default: stdout)
 * --check (ctest vectors_file) fails when the code's output differs from
 * FILE, and independently reads FILE (tests/common/tinyjson) and checks
 * every entry through the public codecs: encodings byte for byte, decodings
 * field for field, chunks open, secmq_file_chunk_seal follows §8.3, and
 * every negative is refused with its reason.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "tinyjson.h"
#include "vecout.h"

#define TOPIC "cam/front"
/* "caméra/entrée" */
#define TOPIC_UTF8                                                             \
    "cam\xc3\xa9ra/entr\xc3\xa9"                                               \
    "e"
/* "café 日本 📷.jpg": 2-, 3- and 4-byte UTF-8 */
#define NAME_UTF8 "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xb7.jpg"
#define SEQ_BASE UINT64_C(1700000000000000)
#define TIME_BASE UINT64_C(1700000000123)
#define CHUNK_TIME_BASE UINT64_C(1700000001000)
#define MAX_CONTENT 10000u

/* ---- fixed inputs ---------------------------------------------------------
 */

static unsigned char seed[32], pk[32], sk[64], sid[8];    /* sender */
static unsigned char oseed[32], opk[32], osk[64], oid[8]; /* another */
static unsigned char ch_key[32], ch_kid[8];               /* TOPIC/# */

static unsigned char content_byte(uint64_t j)
{
    return (unsigned char)((j * 31u + 7u) & 0xffu);
}

static void fixed_init(void)
{
    fill(seed, sizeof seed, 0x00);
    crypto_sign_seed_keypair(pk, sk, seed);
    secmq_identity_id(sid, pk);
    fill(oseed, sizeof oseed, 0x80);
    crypto_sign_seed_keypair(opk, osk, oseed);
    secmq_identity_id(oid, opk);
    fill(ch_key, sizeof ch_key, 0x20);
    fill(ch_kid, sizeof ch_kid, 0x40);
}

/* One announced file. real: the content is byte j = (31 j + 7) mod 256 and
 * hash is its BLAKE2b-256; else hash is hash_fill.. (a manifest only). */
typedef struct file_spec {
    const char *label;
    const char *topic;
    const char *name;
    uint64_t size;
    uint32_t chunk_size;
    unsigned id_fill, key_fill;
    uint64_t mtime_ms;
    int real;
    unsigned hash_fill;
} file_spec;

static char long_name[SECMQ_FILE_NAME_MAX + 1];

static file_spec files[] = {
    {"photo", TOPIC, "photo.jpg", 2500, 1024, 0xa0, 0xc0, TIME_BASE, 1, 0},
    {"utf8-name-and-topic", TOPIC_UTF8, NAME_UTF8, 2048, 1024, 0xb0, 0xe0,
     TIME_BASE + 1, 1, 0},
    {"empty-file (0 chunks, chunk_size 1024)", TOPIC, "empty.log", 0, 1024,
     0x10, 0x30, TIME_BASE + 2, 1, 0},
    {"one-byte-file (1 chunk of 1 byte)", TOPIC, "x", 1, 1024, 0x50, 0x70,
     TIME_BASE + 3, 1, 0},
    {"most-chunks (2^24 chunks of 1024 bytes, no content)", TOPIC, "big.bin",
     UINT64_C(1) << 34, 1024, 0x90, 0x08, 0, 0, 0xe0},
    {"largest (2^24 chunks of 16 MiB, last one byte short, 255-byte name, "
     "mtime 2^64-1, no content)",
     TOPIC, long_name, (UINT64_C(1) << 48) - 1, 16777216, 0xf0, 0x48,
     UINT64_MAX, 0, 0xf0},
};
#define NFILES (sizeof files / sizeof files[0])

typedef struct file_made {
    secmq_file_manifest m;
    unsigned char bytes[SECMQ_FILE_MANIFEST_MAX];
    size_t len;
    char chunk_topic[SECMQ_TOPIC_MAX + 1], manifest_topic[SECMQ_TOPIC_MAX + 1];
} file_made;

static file_made made[NFILES];

static void make_file(size_t i)
{
    const file_spec *f = &files[i];
    file_made *o = &made[i];
    secmq_file_manifest *m = &o->m;

    memset(m, 0, sizeof *m);
    fill(m->file_id, sizeof m->file_id, f->id_fill);
    fill(m->key, sizeof m->key, f->key_fill);
    memcpy(m->sender_pk, pk, sizeof pk);
    m->size = f->size;
    m->chunk_size = f->chunk_size;
    m->chunk_count =
        (uint32_t)(f->size / f->chunk_size + (f->size % f->chunk_size != 0));
    if (f->real) {
        crypto_generichash_state st;
        unsigned char b;

        if (f->size > MAX_CONTENT) {
            die("content too large");
        }
        crypto_generichash_init(&st, NULL, 0, sizeof m->hash);
        for (uint64_t j = 0; j < f->size; j++) {
            b = content_byte(j);
            crypto_generichash_update(&st, &b, 1);
        }
        crypto_generichash_final(&st, m->hash, sizeof m->hash);
    } else {
        fill(m->hash, sizeof m->hash, f->hash_fill);
    }
    m->mtime_ms = f->mtime_ms;
    snprintf(m->name, sizeof m->name, "%s", f->name);
    if (secmq_file_manifest_encode(o->bytes, sizeof o->bytes, &o->len, m) !=
        SECMQ_OK) {
        die("manifest_encode failed");
    }
    if (secmq_file_chunk_topic(o->chunk_topic, sizeof o->chunk_topic, f->topic,
                               m->file_id) != SECMQ_OK ||
        secmq_file_manifest_topic(o->manifest_topic, sizeof o->manifest_topic,
                                  f->topic) != SECMQ_OK) {
        die("topic failed");
    }
}

/* ---- sealing ---------------------------------------------------------------
 */

static void seal(unsigned char *out, size_t cap, size_t *len,
                 secmq_seal_mode mode, const unsigned char *key,
                 const unsigned char *key_id, const unsigned char *sender_id,
                 const unsigned char *sender_sk, uint64_t seq, uint64_t time_ms,
                 const unsigned char *nonce, const char *topic,
                 const unsigned char *pt, size_t pt_len)
{
    secmq_seal_params p;

    memset(&p, 0, sizeof p);
    p.mode = mode;
    p.channel_key = key;
    p.key_id = key_id;
    p.sender_id = sender_id;
    p.sender_sk = sender_sk;
    p.seq = seq;
    p.time_ms = time_ms;
    p.nonce = nonce;
    if (secmq_envelope_seal(out, cap, len, &p, topic, pt, pt_len) != SECMQ_OK) {
        die("envelope_seal failed");
    }
}

/* The content of chunk index of file i into pt; its length. */
static size_t chunk_content(size_t i, uint32_t index, unsigned char *pt)
{
    const secmq_file_manifest *m = &made[i].m;
    uint64_t off = (uint64_t)index * m->chunk_size;
    size_t n = 0;

    for (uint64_t j = off; j < m->size && j < off + m->chunk_size; j++) {
        pt[n++] = content_byte(j);
    }
    return n;
}

/* Chunk index of file i exactly as §8.3, with nonce 70..87 (last byte
 * ctr) and time_ms CHUNK_TIME_BASE + ctr. */
static size_t seal_chunk(unsigned char *out, size_t cap, size_t i,
                         uint32_t index, unsigned ctr, unsigned char *nonce,
                         uint64_t *time_ms)
{
    const file_made *f = &made[i];
    unsigned char pt[4096];
    size_t n, len;

    fill(nonce, SECMQ_ENV_NONCE_BYTES, 0x70);
    nonce[SECMQ_ENV_NONCE_BYTES - 1] = (unsigned char)ctr;
    *time_ms = CHUNK_TIME_BASE + ctr;
    n = chunk_content(i, index, pt);
    seal(out, cap, &len, SECMQ_SEAL_SIGNED, f->m.key, f->m.file_id, sid, sk,
         index, *time_ms, nonce, f->chunk_topic, pt, n);
    return len;
}

/* ---- the receiver's verdicts (public API only) ----------------------------
 */

/* §8.2 + §8.5 step 1 on manifest bytes: "ok", "malformed" or "bad_name". */
static const char *manifest_verdict(const unsigned char *b, size_t n,
                                    char *file_name)
{
    secmq_file_manifest m;
    char out[SECMQ_FILE_NAME_MAX + 1];

    if (secmq_file_manifest_decode(&m, b, n) != SECMQ_OK) {
        return "malformed";
    }
    if (secmq_file_name_check(out, sizeof out, m.name) != SECMQ_OK) {
        return secmq_file_reason_name(SECMQ_FILE_R_BAD_NAME);
    }
    if (file_name != NULL) {
        memcpy(file_name, out, strlen(out) + 1);
    }
    sodium_memzero(&m, sizeof m);
    return "ok";
}

/* §8.2: the manifest envelope env on topic, the receiver holding key for
 * its key id and spk for its sender id. */
static const char *manifest_env_verdict(const unsigned char *env, size_t n,
                                        const char *topic,
                                        const unsigned char *key,
                                        const unsigned char *spk)
{
    unsigned char pt[SECMQ_FILE_MANIFEST_MAX + 64], id[SECMQ_ID_BYTES];
    secmq_envelope_fields f;
    secmq_file_manifest m;
    size_t len = 0;
    int r;

    r = secmq_envelope_parse(env, n, &f);
    if (r == SECMQ_OPEN_OK) {
        r = secmq_envelope_open(pt, sizeof pt, &len, &f, topic, key, spk);
    }
    if (r != SECMQ_OPEN_OK) {
        return secmq_open_reason_name(r);
    }
    if (secmq_file_manifest_decode(&m, pt, len) != SECMQ_OK) {
        return "malformed";
    }
    secmq_identity_id(id, m.sender_pk);
    r = f.mode == SECMQ_SEAL_SIGNED && memcmp(id, f.sender_id, 8) == 0 &&
        memcmp(m.sender_pk, spk, 32) == 0;
    sodium_memzero(&m, sizeof m);
    return r ? "ok" : "malformed";
}

static const char *chunk_verdict(const unsigned char *env, size_t n,
                                 const char *topic,
                                 const unsigned char *manifest, size_t mlen,
                                 unsigned char *pt, size_t *pt_len,
                                 uint32_t *index)
{
    static unsigned char buf[SECMQ_FILE_CHUNK_MAX];
    secmq_file_manifest m;
    int r;

    if (secmq_file_manifest_decode(&m, manifest, mlen) != SECMQ_OK) {
        die("chunk vector: its manifest does not decode");
    }
    r = secmq_file_chunk_open(pt != NULL ? pt : buf,
                              pt != NULL ? 4096 : sizeof buf, pt_len, index, &m,
                              topic, env, n);
    sodium_memzero(&m, sizeof m);
    return r == SECMQ_OPEN_OK ? "ok" : secmq_open_reason_name(r);
}

/* §8.4 bytes on request_topic of transfer topic. */
static const char *request_verdict(const unsigned char *b, size_t n,
                                   const char *topic, const char *rtopic)
{
    char want[SECMQ_TOPIC_MAX + 1];
    secmq_file_request r;

    if (secmq_file_request_decode(&r, b, n) != SECMQ_OK ||
        secmq_file_request_topic(want, sizeof want, topic, r.file_id) !=
            SECMQ_OK ||
        strcmp(want, rtopic) != 0) {
        return "malformed";
    }
    return "ok";
}

/* ---- JSON output -----------------------------------------------------------
 */

static int first;

static void entry(text *t, const char *name)
{
    put(t, "%s    {\"name\": ", first ? "" : ",\n");
    first = 0;
    put_str(t, name);
}

static void put_manifest_fields(text *t, const secmq_file_manifest *m)
{
    unsigned char id[8];

    secmq_identity_id(id, m->sender_pk);
    put(t, ",\n     \"file_id\": ");
    put_hex(t, m->file_id, sizeof m->file_id);
    put(t, ", \"file_key\": ");
    put_hex(t, m->key, sizeof m->key);
    put(t, ",\n     \"sender_pk\": ");
    put_hex(t, m->sender_pk, sizeof m->sender_pk);
    put(t, ", \"sender_id\": ");
    put_hex(t, id, sizeof id);
    put(t,
        ",\n     \"size\": %" PRIu64 ", \"chunk_size\": %" PRIu32
        ", \"chunk_count\": %" PRIu32 ", \"mtime_ms\": %" PRIu64,
        m->size, m->chunk_size, m->chunk_count, m->mtime_ms);
    put(t, ",\n     \"hash\": ");
    put_hex(t, m->hash, sizeof m->hash);
    put(t, ",\n     \"announced\": ");
    put_str(t, m->name);
}

static void gen_manifests(text *t)
{
    unsigned char nonce[SECMQ_ENV_NONCE_BYTES],
        env[SECMQ_FILE_MANIFEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED];
    char file_name[SECMQ_FILE_NAME_MAX + 1], name[600];
    size_t len;

    put(t, "  \"manifests\": [\n");
    first = 1;
    for (size_t i = 0; i < NFILES; i++) {
        const file_made *f = &made[i];
        const char *v = manifest_verdict(f->bytes, f->len, file_name);

        if (strcmp(v, "ok") != 0) {
            die("a manifest vector is refused");
        }
        fill(nonce, sizeof nonce, 0x50);
        nonce[sizeof nonce - 1] = (unsigned char)i;
        seal(env, sizeof env, &len, SECMQ_SEAL_SIGNED, ch_key, ch_kid, sid, sk,
             SEQ_BASE + i, TIME_BASE + i, nonce, f->manifest_topic, f->bytes,
             f->len);
        if (strcmp(
                manifest_env_verdict(env, len, f->manifest_topic, ch_key, pk),
                "ok") != 0) {
            die("a manifest envelope is refused");
        }
        snprintf(name, sizeof name,
                 "%s (file id %02x.., file key %02x.., sender seed 00..1f%s; "
                 "envelope: channel key 20..3f, key id 40..47, nonce 50..66 "
                 "then %02zx, seq and time_ms base + %zu)",
                 files[i].label, files[i].id_fill, files[i].key_fill,
                 files[i].real ? ", content byte j = (31 j + 7) mod 256"
                               : ", hash not of any content",
                 i, i);
        entry(t, name);
        put(t, ",\n     \"sender_seed\": ");
        put_hex(t, seed, sizeof seed);
        put_manifest_fields(t, &f->m);
        put(t, ",\n     \"file_name\": ");
        put_str(t, file_name);
        put(t, ",\n     \"manifest\": ");
        put_hex(t, f->bytes, f->len);
        put(t, ",\n     \"topic\": ");
        put_str(t, files[i].topic);
        put(t, ", \"manifest_topic\": ");
        put_str(t, f->manifest_topic);
        put(t, ",\n     \"channel_key\": ");
        put_hex(t, ch_key, sizeof ch_key);
        put(t, ", \"key_id\": ");
        put_hex(t, ch_kid, sizeof ch_kid);
        put(t,
            ",\n     \"seq\": %" PRIu64 ", \"time_ms\": %" PRIu64
            ", \"nonce\": ",
            SEQ_BASE + i, TIME_BASE + i);
        put_hex(t, nonce, sizeof nonce);
        put(t, ",\n     \"envelope\": ");
        put_hex(t, env, len);
        put(t, "}");
    }
    put(t, "\n  ],\n");
}

static unsigned chunk_ctr;

static void gen_chunks(text *t)
{
    static const size_t which[] = {0, 1, 3};
    unsigned char env[4096 + SECMQ_FILE_CHUNK_OVERHEAD], pt[4096], got[4096],
        nonce[SECMQ_ENV_NONCE_BYTES], mk[32];
    char name[300];
    size_t len, n, glen;
    uint32_t idx;
    uint64_t tm;

    put(t, "  \"chunks\": [\n");
    first = 1;
    chunk_ctr = 0;
    for (size_t w = 0; w < sizeof which / sizeof which[0]; w++) {
        const size_t i = which[w];
        const file_made *f = &made[i];

        crypto_kdf_derive_from_key(mk, sizeof mk, 1, "secmqenv", f->m.key);
        for (uint32_t index = 0; index < f->m.chunk_count; index++) {
            len = seal_chunk(env, sizeof env, i, index, chunk_ctr, nonce, &tm);
            n = chunk_content(i, index, pt);
            if (strcmp(chunk_verdict(env, len, f->chunk_topic, f->bytes, f->len,
                                     got, &glen, &idx),
                       "ok") != 0 ||
                idx != index || glen != n || memcmp(got, pt, n) != 0) {
                die("a chunk vector does not open");
            }
            snprintf(name, sizeof name,
                     "%s chunk %" PRIu32 " of %" PRIu32
                     " (nonce 70..86 then %02x, time_ms %" PRIu64 ")",
                     files[i].label, index, f->m.chunk_count, chunk_ctr, tm);
            entry(t, name);
            put(t, ",\n     \"manifest\": ");
            put_hex(t, f->bytes, f->len);
            put(t, ",\n     \"sender_seed\": ");
            put_hex(t, seed, sizeof seed);
            put(t, ", \"sender_id\": ");
            put_hex(t, sid, sizeof sid);
            put(t, ",\n     \"file_key\": ");
            put_hex(t, f->m.key, sizeof f->m.key);
            put(t, ", \"message_key\": ");
            put_hex(t, mk, sizeof mk);
            put(t, ",\n     \"key_id\": ");
            put_hex(t, f->m.file_id, SECMQ_ID_BYTES);
            put(t, ", \"topic\": ");
            put_str(t, files[i].topic);
            put(t, ", \"chunk_topic\": ");
            put_str(t, f->chunk_topic);
            put(t,
                ",\n     \"index\": %" PRIu32 ", \"seq\": %" PRIu32
                ", \"time_ms\": %" PRIu64 ", \"nonce\": ",
                index, index, tm);
            put_hex(t, nonce, sizeof nonce);
            put(t, ",\n     \"plaintext\": ");
            put_hex(t, pt, n);
            put(t, ",\n     \"chunk\": ");
            put_hex(t, env, len);
            put(t, "}");
            chunk_ctr++;
        }
    }
    put(t, "\n  ],\n");
}

static const char *const kind_names[] = {"", "need", "done", "refused"};

static void put_request(text *t, const char *name, const char *topic,
                        const unsigned char *file_id, int kind, int reason,
                        const secmq_file_range *g, size_t n)
{
    unsigned char b[SECMQ_FILE_REQUEST_MAX];
    char rtopic[SECMQ_TOPIC_MAX + 1];
    size_t len;

    if (secmq_file_request_encode(b, sizeof b, &len, file_id, kind, reason, g,
                                  n) != SECMQ_OK ||
        secmq_file_request_topic(rtopic, sizeof rtopic, topic, file_id) !=
            SECMQ_OK ||
        strcmp(request_verdict(b, len, topic, rtopic), "ok") != 0) {
        die("a request vector failed");
    }
    entry(t, name);
    put(t, ",\n     \"file_id\": ");
    put_hex(t, file_id, SECMQ_FILE_ID_BYTES);
    put(t, ", \"topic\": ");
    put_str(t, topic);
    put(t, ", \"request_topic\": ");
    put_str(t, rtopic);
    put(t,
        ",\n     \"kind\": %d, \"kind_name\": \"%s\", \"reason\": %d, "
        "\"reason_name\": \"%s\",\n     \"ranges\": [",
        kind, kind_names[kind], reason, secmq_file_reason_name(reason));
    for (size_t i = 0; i < n; i++) {
        put(t, "%s[%" PRIu32 ", %" PRIu32 "]", i == 0 ? "" : ", ", g[i].first,
            g[i].count);
    }
    put(t, "],\n     \"request\": ");
    put_hex(t, b, len);
    put(t, "}");
}

static secmq_file_range need3[3] = {{0, 5}, {9, 1}, {4000000000u, 7}};
static secmq_file_range need512[SECMQ_FILE_RANGES_MAX];

static void gen_requests(text *t)
{
    const unsigned char *id = made[0].m.file_id;
    char name[100];

    for (uint32_t i = 0; i < SECMQ_FILE_RANGES_MAX; i++) {
        need512[i].first = 2 * i;
        need512[i].count = 1;
    }
    put(t, "  \"requests\": [\n");
    first = 1;
    put_request(t, "need, 3 ranges", TOPIC, id, SECMQ_FILE_REQ_NEED, 0, need3,
                3);
    put_request(t, "need, 1 range", TOPIC, id, SECMQ_FILE_REQ_NEED, 0,
                &need3[1], 1);
    put_request(t, "need, 512 ranges (first 2 i, count 1)", TOPIC, id,
                SECMQ_FILE_REQ_NEED, 0, need512, SECMQ_FILE_RANGES_MAX);
    put_request(t, "done", TOPIC, id, SECMQ_FILE_REQ_DONE, 0, NULL, 0);
    put_request(t, "done, UTF-8 topic", TOPIC_UTF8, made[1].m.file_id,
                SECMQ_FILE_REQ_DONE, 0, NULL, 0);
    for (int r = SECMQ_FILE_R_TOO_LARGE; r < SECMQ_FILE_R_COUNT; r++) {
        snprintf(name, sizeof name, "refused, %s", secmq_file_reason_name(r));
        put_request(t, name, TOPIC, id, SECMQ_FILE_REQ_REFUSED, r, NULL, 0);
    }
    put(t, "\n  ],\n");
}

/* Names refused for their characters (§8.6): Unicode format characters
 * (category Cf), C1 controls, and bytes that are not UTF-8. utf8 = 0:
 * the JSON holds them as announced_hex. */
static const struct {
    const char *name, *label;
    int utf8;
} unicode_bad_names[] = {
    {"invoice\xe2\x80\xaegpj.exe",
     "U+202E right-to-left override: invoice<RLO>gpj.exe", 1},
    {"a\xe2\x80\xaa"
     "b",
     "U+202A left-to-right embedding", 1},
    {"a\xe2\x81\xa6"
     "b.txt",
     "U+2066 left-to-right isolate", 1},
    {"a\xe2\x81\xa9"
     "b.txt",
     "U+2069 pop directional isolate", 1},
    {"a\xe2\x80\x8f"
     "b.txt",
     "U+200F right-to-left mark", 1},
    {"zero\xe2\x80\x8bwidth.txt", "U+200B zero width space", 1},
    {"zero\xe2\x80\x8djoiner.txt", "U+200D zero width joiner", 1},
    {"soft\xc2\xadhyphen.txt", "U+00AD soft hyphen", 1},
    {"\xef\xbb\xbf"
     "bom.txt",
     "U+FEFF byte order mark", 1},
    {"arabic\xd8\x80.txt", "U+0600 Arabic number sign", 1},
    {"tag\xf3\xa0\x80\x81.txt", "U+E0001 language tag", 1},
    {"tag\xf3\xa0\x81\xbf.txt", "U+E007F cancel tag", 1},
    {"hiero\xf0\x93\x90\xbf.txt", "U+1343F (category Cf since Unicode 15.0)",
     1},
    {"csi\xc2\x9b.txt", "U+009B, a C1 control", 1},
    {"latin1-caf\xe9.jpg", "not UTF-8: Latin-1 0xE9", 0},
    {"\xc0\xaf", "overlong '/' (C0 AF)", 0},
    {"x\xe0\x80\xaf.txt", "overlong 3-byte form (E0 80 AF)", 0},
    {"x\xf0\x80\x80\xaf.txt", "overlong 4-byte form (F0 80 80 AF)", 0},
    {"x\xed\xa0\x80.txt", "surrogate U+D800 (ED A0 80)", 0},
    {"x\xf4\x90\x80\x80.txt", "above U+10FFFF (F4 90 80 80)", 0},
    {"x\xf5\x80\x80\x80.txt", "lead byte F5", 0},
    {"x\x80.txt", "continuation byte alone (80)", 0},
    {"trunc\xe2\x82", "truncated at the end (E2 82)", 0},
    {"trunc\xe2\x82.txt", "truncated sequence (E2 82 then '.')", 0},
};

static void put_hex_str(text *t, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
        put(t, "%02x", *p);
    }
}

static void gen_names(text *t)
{
    static const char *const names[] = {
        "photo.jpg", "../../etc/x", "/etc/passwd", "a/b/c d.png", NAME_UTF8,
        "x.", "a..b", "NAME-1.EXT",
        /* refused */
        "", "/", "x/", ".", "..", "a/..", "a/.", ".hidden", "a/.b",
        ".secmq-part-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", "a\nb", "tab\there",
        "\x1f", "del\x7f", "back\\slash", "C:\\x"};
    char out[SECMQ_FILE_NAME_MAX + 1];

    put(t, "  \"names\": [\n");
    first = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        put(t, "%s    {\"announced\": ", first ? "" : ",\n");
        first = 0;
        put_str(t, names[i]);
        if (secmq_file_name_check(out, sizeof out, names[i]) == SECMQ_OK) {
            put(t, ", \"file_name\": ");
            put_str(t, out);
        } else {
            put(t, ", \"expect\": \"bad_name\"");
        }
        put(t, "}");
    }
    for (size_t i = 0;
         i < sizeof unicode_bad_names / sizeof unicode_bad_names[0]; i++) {
        const char *nm = unicode_bad_names[i].name;

        if (secmq_file_name_check(out, sizeof out, nm) == SECMQ_OK) {
            die("names: a name of unicode_bad_names is accepted");
        }
        put(t, ",\n    {\"comment\": ");
        put_str(t, unicode_bad_names[i].label);
        if (unicode_bad_names[i].utf8) {
            put(t, ", \"announced\": ");
            put_str(t, nm);
        } else {
            put(t, ", \"announced_hex\": \"");
            put_hex_str(t, nm);
            put(t, "\"");
        }
        put(t, ", \"expect\": \"bad_name\"}");
    }
    /* and the 255-byte name of the "largest" manifest, and one more byte */
    put(t, ",\n    {\"announced\": ");
    put_str(t, long_name);
    put(t, ", \"file_name\": ");
    put_str(t, long_name);
    put(t, "}");
    put(t, "\n  ],\n");
}

/* ---- negatives ------------------------------------------------------------
 */

static void neg_manifest(text *t, const char *name, const unsigned char *b,
                         size_t n, const char *expect)
{
    const char *got = manifest_verdict(b, n, NULL);

    if (strcmp(got, expect) != 0) {
        fprintf(stderr, "gen_file_vectors: %s: expected %s, got %s\n", name,
                expect, got);
        exit(1);
    }
    entry(t, name);
    put(t, ", \"what\": \"manifest\",\n     \"manifest\": ");
    put_hex(t, b, n);
    put(t, ",\n     \"expect\": \"%s\"}", expect);
}

static void put_u32be(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_u64be(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

/* The photo manifest with fields replaced (UINT64_MAX / 0: unchanged). */
static size_t manifest_with(unsigned char *b, uint64_t size,
                            uint32_t chunk_size, uint32_t count,
                            const char *name, size_t name_len)
{
    size_t n = made[0].len;

    memcpy(b, made[0].bytes, n);
    if (size != UINT64_MAX) {
        put_u64be(b + 88, size);
    }
    if (chunk_size != 0) {
        put_u32be(b + 96, chunk_size);
    }
    if (count != UINT32_MAX) {
        put_u32be(b + 100, count);
    }
    if (name != NULL) {
        b[144] = (unsigned char)(name_len >> 8);
        b[145] = (unsigned char)name_len;
        memcpy(b + 146, name, name_len);
        n = 146 + name_len;
    }
    return n;
}

static void gen_neg_manifests(text *t)
{
    const unsigned char *m0 = made[0].bytes;
    const size_t n0 = made[0].len;
    unsigned char b[SECMQ_FILE_MANIFEST_MAX + 64];
    char name256[257];
    size_t n;
    static const char *const bad_names[] = {
        "a/..", "x/",      ".hidden",    "dir/.secmq-part-00",
        "a\nb", "del\x7f", "back\\slash"};
    char label[200];

    neg_manifest(t, "manifest: empty", m0, 0, "malformed");
    neg_manifest(t, "manifest: truncated to 145 bytes", m0, 145, "malformed");
    neg_manifest(t, "manifest: photo, last byte cut", m0, n0 - 1, "malformed");
    memcpy(b, m0, n0);
    b[n0] = 'x';
    neg_manifest(t, "manifest: photo, one byte appended", b, n0 + 1,
                 "malformed");
    memcpy(b, m0, n0);
    b[7] = '9';
    neg_manifest(t, "manifest: magic SECMQFM9 (an unknown version)", b, n0,
                 "malformed");
    memcpy(b, m0, n0);
    memcpy(b, "SECMQFR1", 8);
    neg_manifest(t, "manifest: the request magic SECMQFR1", b, n0, "malformed");
    n = manifest_with(b, UINT64_MAX, 1023, 3, NULL, 0);
    neg_manifest(t, "manifest: chunk_size 1023, chunk_count 3", b, n,
                 "malformed");
    n = manifest_with(b, UINT64_MAX, 16777217, 1, NULL, 0);
    neg_manifest(t, "manifest: chunk_size 16777217, chunk_count 1", b, n,
                 "malformed");
    n = manifest_with(b, UINT64_MAX, 0, 2, NULL, 0);
    neg_manifest(t, "manifest: chunk_count 2, ceil(2500 / 1024) = 3", b, n,
                 "malformed");
    n = manifest_with(b, UINT64_MAX, 0, 4, NULL, 0);
    neg_manifest(t, "manifest: chunk_count 4, ceil(2500 / 1024) = 3", b, n,
                 "malformed");
    n = manifest_with(b, 0, 0, 1, NULL, 0);
    neg_manifest(t, "manifest: size 0 with chunk_count 1", b, n, "malformed");
    n = manifest_with(b, (UINT64_C(1) << 34) + 1, 1024, (1u << 24) + 1, NULL,
                      0);
    neg_manifest(t,
                 "manifest: 2^24 + 1 chunks (size 2^34 + 1, chunk_size 1024)",
                 b, n, "malformed");
    n = manifest_with(b, UINT64_MAX, 0, UINT32_MAX, "", 0);
    neg_manifest(t, "manifest: empty name (name_len 0)", b, n, "malformed");
    memset(name256, 'n', 256);
    name256[256] = '\0';
    n = manifest_with(b, UINT64_MAX, 0, UINT32_MAX, name256, 256);
    neg_manifest(t, "manifest: 256-byte name", b, n, "malformed");
    n = manifest_with(b, UINT64_MAX, 0, UINT32_MAX, "a\0b", 3);
    neg_manifest(t, "manifest: NUL in the name", b, n, "malformed");
    n = manifest_with(b, UINT64_MAX, 0, UINT32_MAX, "photo.jpg", 9);
    b[145] = 10;
    neg_manifest(t, "manifest: name_len 10, 9 name bytes follow", b, n,
                 "malformed");
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        snprintf(label, sizeof label, "manifest: name refused by §8.6 (%s)",
                 i == 4   ? "a LF b"
                 : i == 5 ? "del 0x7f"
                          : bad_names[i]);
        n = manifest_with(b, UINT64_MAX, 0, UINT32_MAX, bad_names[i],
                          strlen(bad_names[i]));
        neg_manifest(t, label, b, n, "bad_name");
    }
    for (size_t i = 0;
         i < sizeof unicode_bad_names / sizeof unicode_bad_names[0]; i++) {
        const char *nm = unicode_bad_names[i].name;

        snprintf(label, sizeof label, "manifest: name refused by §8.6 (%s)",
                 unicode_bad_names[i].label);
        n = manifest_with(b, UINT64_MAX, 0, UINT32_MAX, nm, strlen(nm));
        neg_manifest(t, label, b, n, "bad_name");
    }
}

static void neg_menv(text *t, const char *name, const char *topic,
                     const unsigned char *spk, const unsigned char *env,
                     size_t n, const char *expect)
{
    const char *got = manifest_env_verdict(env, n, topic, ch_key, spk);

    if (strcmp(got, expect) != 0) {
        fprintf(stderr, "gen_file_vectors: %s: expected %s, got %s\n", name,
                expect, got);
        exit(1);
    }
    entry(t, name);
    put(t, ", \"what\": \"manifest_envelope\",\n     \"manifest_topic\": ");
    put_str(t, topic);
    put(t, ", \"channel_key\": ");
    put_hex(t, ch_key, sizeof ch_key);
    put(t, ",\n     \"sender_pk\": ");
    put_hex(t, spk, 32);
    put(t, ",\n     \"envelope\": ");
    put_hex(t, env, n);
    put(t, ",\n     \"expect\": \"%s\"}", expect);
}

static void gen_neg_menv(text *t)
{
    const file_made *f = &made[0];
    unsigned char env[SECMQ_FILE_MANIFEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED],
        nonce[SECMQ_ENV_NONCE_BYTES];
    size_t len;

    fill(nonce, sizeof nonce, 0x50);
    nonce[sizeof nonce - 1] = 0x40;
    seal(env, sizeof env, &len, SECMQ_SEAL_MAC, ch_key, ch_kid, sid, NULL,
         SEQ_BASE + 0x40, TIME_BASE, nonce, f->manifest_topic, f->bytes,
         f->len);
    neg_menv(t,
             "manifest envelope: the photo manifest mac-only (unsigned), "
             "sender id of seed 00..1f (nonce 50..66 then 40)",
             f->manifest_topic, pk, env, len, "malformed");
    nonce[sizeof nonce - 1] = 0x41;
    seal(env, sizeof env, &len, SECMQ_SEAL_SIGNED, ch_key, ch_kid, oid, osk,
         SEQ_BASE + 0x41, TIME_BASE, nonce, f->manifest_topic, f->bytes,
         f->len);
    neg_menv(t,
             "manifest envelope: the photo manifest (sender_pk of seed "
             "00..1f) signed by seed 80..9f (nonce 50..66 then 41)",
             f->manifest_topic, opk, env, len, "malformed");
}

static void neg_chunk(text *t, const char *name, const file_made *f,
                      const char *topic, const unsigned char *env, size_t n,
                      const char *expect)
{
    size_t glen;
    uint32_t idx;
    const char *got =
        chunk_verdict(env, n, topic, f->bytes, f->len, NULL, &glen, &idx);

    if (strcmp(got, expect) != 0) {
        fprintf(stderr, "gen_file_vectors: %s: expected %s, got %s\n", name,
                expect, got);
        exit(1);
    }
    entry(t, name);
    put(t, ", \"what\": \"chunk\",\n     \"manifest\": ");
    put_hex(t, f->bytes, f->len);
    put(t, ",\n     \"chunk_topic\": ");
    put_str(t, topic);
    put(t, ",\n     \"chunk\": ");
    put_hex(t, env, n);
    put(t, ",\n     \"expect\": \"%s\"}", expect);
}

/* Replaces the signature of the signed envelope env (n bytes, on topic)
 * with one by other_sk over the same §4 signed bytes (secmq_envelope_seal
 * refuses a secret key that is not the sender id's). */
static void resign(unsigned char *env, size_t n, const char *topic,
                   const unsigned char *other_sk)
{
    static unsigned char msg[12 + 58 + 2 + SECMQ_TOPIC_MAX + 64];
    size_t tl = strlen(topic), off = 0;

    memcpy(msg, "secmq-sig-v1", 12);
    off = 12;
    memcpy(msg + off, env, SECMQ_ENV_HEADER_BYTES);
    off += SECMQ_ENV_HEADER_BYTES;
    msg[off++] = (unsigned char)(tl >> 8);
    msg[off++] = (unsigned char)tl;
    memcpy(msg + off, topic, tl);
    off += tl;
    crypto_generichash(msg + off, 64, env + SECMQ_ENV_HEADER_BYTES,
                       n - SECMQ_ENV_HEADER_BYTES - SECMQ_ENV_SIG_BYTES, NULL,
                       0);
    off += 64;
    crypto_sign_detached(env + n - SECMQ_ENV_SIG_BYTES, NULL, msg, off,
                         other_sk);
}

/* The manifest bytes and chunk topic (on TOPIC) of o again, after its
 * fields changed; dies with what if they cannot be made. */
static void reencode(file_made *o, const char *what)
{
    if (secmq_file_manifest_encode(o->bytes, sizeof o->bytes, &o->len, &o->m) !=
            SECMQ_OK ||
        secmq_file_chunk_topic(o->chunk_topic, sizeof o->chunk_topic, TOPIC,
                               o->m.file_id) != SECMQ_OK) {
        die(what);
    }
}

static void gen_neg_chunks(text *t)
{
    const file_made *f = &made[0];
    static file_made g, h; /* other files */
    unsigned char c0[4096 + 200], b[4096 + 200], pt[4096],
        nonce[SECMQ_ENV_NONCE_BYTES], other_key[32];
    char other_topic[SECMQ_TOPIC_MAX + 1];
    size_t n0, n, plen;
    uint64_t tm;
    unsigned ctr = 0x80;
    /* One byte of c0 changed: set to a value, or its bit 0 flipped. */
    static const struct {
        const char *name;
        int at;  /* from the end when negative */
        int set; /* the new value, or -1: ^ 0x01 */
        const char *expect;
    } edits[] = {
        {"chunk: photo chunk 0, version 0x02", 0, 0x02, "version"},
        {"chunk: photo chunk 0 relabelled mac-only (mode 0x02)", 1, 0x02,
         "malformed"},
        {"chunk: photo chunk 0, first key_id byte ^ 0x01", 2, -1, "malformed"},
        {"chunk: photo chunk 0, last sender_id byte ^ 0x01", 17, -1,
         "malformed"},
        {"chunk: photo chunk 0 moved to index 1 (seq 0 -> 1, same length)", 25,
         0x01, "bad_tag"},
        {"chunk: photo chunk 0 with seq 3 = chunk_count", 25, 0x03,
         "malformed"},
        {"chunk: photo chunk 0, a time_ms byte ^ 0x01", 30, -1, "bad_tag"},
        {"chunk: photo chunk 0, first nonce byte ^ 0x01", 34, -1, "bad_tag"},
        {"chunk: photo chunk 0, first ciphertext byte ^ 0x01", 58, -1,
         "bad_tag"},
        {"chunk: photo chunk 0, last tag byte ^ 0x01", -65, -1, "bad_tag"},
        {"chunk: photo chunk 0, last signature byte ^ 0x01", -1, -1,
         "bad_signature"},
    };

    /* c0: chunk 0 of photo, as in "chunks" but nonce ... then 80 */
    n0 = seal_chunk(c0, sizeof c0, 0, 0, ctr++, nonce, &tm);
    plen = chunk_content(0, 0, pt);

    neg_chunk(t, "chunk: empty", f, f->chunk_topic, c0, 0, "malformed");
    neg_chunk(t,
              "chunk: photo chunk 0 (nonce 70..86 then 80) cut to 137 "
              "bytes",
              f, f->chunk_topic, c0, 137, "malformed");
    neg_chunk(t, "chunk: photo chunk 0, last byte cut (ciphertext 1 short)", f,
              f->chunk_topic, c0, n0 - 1, "malformed");
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        size_t at =
            edits[i].at >= 0 ? (size_t)edits[i].at : n0 - (size_t)-edits[i].at;

        memcpy(b, c0, n0);
        b[at] = edits[i].set >= 0 ? (unsigned char)edits[i].set
                                  : (unsigned char)(b[at] ^ 0x01);
        neg_chunk(t, edits[i].name, f, f->chunk_topic, b, n0, edits[i].expect);
    }

    memcpy(other_key, f->m.key, sizeof other_key);
    other_key[31] ^= 0x01;
    /* Sealed with other inputs (envelope_seal, nonce 70..86 then ctr). */
    const struct {
        const char *name;
        const unsigned char *key;
        uint64_t index;
        size_t ptlen;
        int resign; /* signed again with seed 80..9f */
        const char *expect;
    } reseals[] = {
        {"chunk: photo, index 3 = chunk_count, properly sealed with 452 "
         "bytes (nonce 70..86 then 81)",
         f->m.key, 3, 452, 0, "malformed"},
        {"chunk: photo, index 3 = chunk_count, properly sealed empty "
         "(the length past the end) (nonce 70..86 then 82)",
         f->m.key, 3, 0, 0, "malformed"},
        {"chunk: photo, index 2^32, properly sealed (nonce 70..86 then 83)",
         f->m.key, UINT64_C(1) << 32, plen, 0, "malformed"},
        {"chunk: photo, index 2 (452 bytes) sealed with 1024 bytes "
         "(nonce 70..86 then 84)",
         f->m.key, 2, plen, 0, "malformed"},
        {"chunk: photo chunk 0 under the sender's id, signed by seed "
         "80..9f (nonce 70..86 then 85)",
         f->m.key, 0, plen, 1, "bad_signature"},
        {"chunk: photo chunk 0 under another file key (c0..df, last ^ "
         "0x01) (nonce 70..86 then 86)",
         other_key, 0, plen, 0, "bad_tag"},
        {"chunk: photo chunk 0 under the channel key 20..3f (nonce "
         "70..86 then 87)",
         ch_key, 0, plen, 0, "bad_tag"},
    };

    fill(nonce, sizeof nonce, 0x70);
    for (size_t i = 0; i < sizeof reseals / sizeof reseals[0]; i++) {
        nonce[sizeof nonce - 1] = (unsigned char)ctr++;
        seal(b, sizeof b, &n, SECMQ_SEAL_SIGNED, reseals[i].key, f->m.file_id,
             sid, sk, reseals[i].index, CHUNK_TIME_BASE, nonce, f->chunk_topic,
             pt, reseals[i].ptlen);
        if (reseals[i].resign) {
            resign(b, n, f->chunk_topic, osk);
        }
        neg_chunk(t, reseals[i].name, f, f->chunk_topic, b, n,
                  reseals[i].expect);
    }

    /* Moved: to another transfer topic, to another file. */
    if (secmq_file_chunk_topic(other_topic, sizeof other_topic, "cam/back",
                               f->m.file_id) != SECMQ_OK) {
        die("topic");
    }
    neg_chunk(t, "chunk: photo chunk 0 on cam/back/c/<photo id>", f,
              other_topic, c0, n0, "bad_tag");
    /* g: the photo with another file id (60..6f) and key (88..a7). */
    g = *f;
    fill(g.m.file_id, sizeof g.m.file_id, 0x60);
    fill(g.m.key, sizeof g.m.key, 0x88);
    reencode(&g, "g");
    neg_chunk(t,
              "chunk: photo chunk 0 moved to another file (id 60..6f, key "
              "88..a7) and its topic",
              &g, g.chunk_topic, c0, n0, "malformed");
    memcpy(b, c0, n0);
    memcpy(b + 2, g.m.file_id, 8);
    neg_chunk(t,
              "chunk: photo chunk 0 moved to another file (id 60..6f, key "
              "88..a7), key_id rewritten to 60..67",
              &g, g.chunk_topic, b, n0, "bad_tag");
    /* h: same key and first 8 id bytes as the photo, last 8 differ. */
    h = *f;
    fill(h.m.file_id + 8, 8, 0x18);
    reencode(&h, "h");
    neg_chunk(t,
              "chunk: photo chunk 0 moved to a file with the same key and id "
              "a0..a7 18..1f (only the topic differs)",
              &h, h.chunk_topic, c0, n0, "bad_tag");
}

static void neg_request(text *t, const char *name, const unsigned char *b,
                        size_t n, const char *topic, const char *rtopic)
{
    const char *got = request_verdict(b, n, topic, rtopic);

    if (strcmp(got, "malformed") != 0) {
        fprintf(stderr, "gen_file_vectors: %s: expected malformed, got %s\n",
                name, got);
        exit(1);
    }
    entry(t, name);
    put(t, ", \"what\": \"request\", \"topic\": ");
    put_str(t, topic);
    put(t, ", \"request_topic\": ");
    put_str(t, rtopic);
    put(t, ",\n     \"request\": ");
    put_hex(t, b, n);
    put(t, ",\n     \"expect\": \"malformed\"}");
}

static void gen_neg_requests(text *t)
{
    const unsigned char *id = made[0].m.file_id;
    unsigned char r0[SECMQ_FILE_REQUEST_MAX], rd[64],
        b[SECMQ_FILE_REQUEST_MAX + 16];
    char rtopic[SECMQ_TOPIC_MAX + 1], otopic[SECMQ_TOPIC_MAX + 1];
    unsigned char oid16[16];
    size_t n0, nd;

    if (secmq_file_request_encode(r0, sizeof r0, &n0, id, SECMQ_FILE_REQ_NEED,
                                  0, need3, 3) != SECMQ_OK ||
        secmq_file_request_encode(rd, sizeof rd, &nd, id, SECMQ_FILE_REQ_DONE,
                                  0, NULL, 0) != SECMQ_OK ||
        secmq_file_request_topic(rtopic, sizeof rtopic, TOPIC, id) !=
            SECMQ_OK) {
        die("request");
    }
#define NEG(label, buf, len) neg_request(t, label, buf, len, TOPIC, rtopic)
    NEG("request: empty", r0, 0);
    NEG("request: need, cut to 27 bytes", r0, 27);
    NEG("request: need 3 ranges, last byte cut", r0, n0 - 1);
    memcpy(b, r0, n0);
    b[n0] = 0;
    NEG("request: need 3 ranges, one byte appended", b, n0 + 1);
    memcpy(b, rd, nd);
    b[7] = '2';
    NEG("request: done, magic SECMQFR2 (another version)", b, nd);
    memcpy(b, rd, nd);
    memcpy(b, "SECMQFM1", 8);
    NEG("request: done, the manifest magic SECMQFM1", b, nd);
    memcpy(b, rd, nd);
    b[24] = 0;
    NEG("request: kind 0", b, nd);
    memcpy(b, rd, nd);
    b[24] = 4;
    NEG("request: kind 4", b, nd);
    memcpy(b, rd, nd);
    b[24] = 1;
    NEG("request: need without ranges (n 0)", b, nd);
    memcpy(b, r0, 36);
    b[24] = 2;
    b[27] = 1;
    NEG("request: done with 1 range", b, 36);
    memcpy(b, r0, 36);
    b[24] = 3;
    b[25] = 1;
    b[27] = 1;
    NEG("request: refused too_large with 1 range", b, 36);
    memcpy(b, rd, nd);
    b[24] = 3;
    b[25] = 7;
    NEG("request: refused, reason 7", b, nd);
    memcpy(b, rd, nd);
    b[24] = 3;
    b[25] = 0;
    NEG("request: refused without a reason (0)", b, nd);
    memcpy(b, r0, n0);
    b[25] = 1;
    NEG("request: need with reason 1", b, n0);
    memcpy(b, rd, nd);
    b[25] = 5;
    NEG("request: done with reason 5", b, nd);
    memcpy(b, r0, n0);
    memset(b + n0 - 4, 0, 4);
    NEG("request: need, last range of count 0", b, n0);
    memset(b, 0, sizeof b);
    memcpy(b, r0, 28);
    b[26] = 0x02;
    b[27] = 0x01;
    for (size_t i = 0; i < 513; i++) {
        b[28 + 8 * i + 7] = 1;
        b[28 + 8 * i + 3] = (unsigned char)i;
        b[28 + 8 * i + 2] = (unsigned char)(i >> 8);
    }
    NEG("request: need with 513 ranges", b, 28 + 8 * 513);
#undef NEG
    fill(oid16, sizeof oid16, 0x60);
    if (secmq_file_request_topic(otopic, sizeof otopic, TOPIC, oid16) !=
        SECMQ_OK) {
        die("topic");
    }
    neg_request(t, "request: done for the photo on the topic of file 60..6f",
                rd, nd, TOPIC, otopic);
}

static void generate(text *t)
{
    memset(long_name, 'n', SECMQ_FILE_NAME_MAX);
    memcpy(long_name + SECMQ_FILE_NAME_MAX - 4, ".bin", 4);
    long_name[SECMQ_FILE_NAME_MAX] = '\0';
    fixed_init();
    for (size_t i = 0; i < NFILES; i++) {
        make_file(i);
    }
    put(t, "{\n  \"version\": 1,\n");
    gen_manifests(t);
    gen_chunks(t);
    gen_requests(t);
    gen_names(t);
    put(t, "  \"negative\": [\n");
    first = 1;
    gen_neg_manifests(t);
    gen_neg_menv(t);
    gen_neg_chunks(t);
    gen_neg_requests(t);
    put(t, "\n  ]\n}\n");
}

/* ---- --check: the committed file through the public codecs ----------------
 */

static int failures;

static void fail(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(const char *what, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "gen_file_vectors: FAIL %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failures++;
}

/* Hex member key of o, exactly want bytes (want 0: any); NULL + failure. */
static unsigned char *hexf(const tj_value *o, const char *what, const char *key,
                           size_t want, size_t *len)
{
    size_t n = 0;
    unsigned char *b = tj_hex(o, key, &n);

    if (b == NULL || (want != 0 && n != want)) {
        fail(what, "field %s missing or not %zu bytes", key, want);
        free(b);
        return NULL;
    }
    if (len != NULL) {
        *len = n;
    }
    return b;
}

static const char *strf(const tj_value *o, const char *key)
{
    const tj_value *v = tj_get(o, key, TJ_STR);

    return v != NULL ? v->str : NULL;
}

static int numf(const tj_value *o, const char *key, uint64_t *out)
{
    const tj_value *v = tj_get(o, key, TJ_NUM);

    if (v == NULL) {
        return 0;
    }
    *out = v->num;
    return 1;
}

static void check_manifest_entry(const tj_value *v)
{
    const char *what = strf(v, "name");
    unsigned char *s = NULL, *fid = NULL, *key = NULL, *spk = NULL,
                  *sidj = NULL, *hash = NULL, *mb = NULL, *ck = NULL,
                  *kid = NULL, *nonce = NULL, *env = NULL;
    unsigned char mpk[32], msk[64], mid[8], out[SECMQ_FILE_MANIFEST_MAX],
        eout[SECMQ_FILE_MANIFEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED];
    const char *topic = strf(v, "topic"), *mtopic = strf(v, "manifest_topic"),
               *ann = strf(v, "announced"), *fname = strf(v, "file_name");
    char tbuf[SECMQ_TOPIC_MAX + 1], nbuf[SECMQ_FILE_NAME_MAX + 1];
    uint64_t size, cs, cc, mt, seq, tm;
    size_t mlen = 0, elen = 0, olen = 0;
    secmq_file_manifest m, d;

    if (what == NULL) {
        what = "manifest without a name";
    }
    s = hexf(v, what, "sender_seed", 32, NULL);
    fid = hexf(v, what, "file_id", 16, NULL);
    key = hexf(v, what, "file_key", 32, NULL);
    spk = hexf(v, what, "sender_pk", 32, NULL);
    sidj = hexf(v, what, "sender_id", 8, NULL);
    hash = hexf(v, what, "hash", 32, NULL);
    mb = hexf(v, what, "manifest", 0, &mlen);
    ck = hexf(v, what, "channel_key", 32, NULL);
    kid = hexf(v, what, "key_id", 8, NULL);
    nonce = hexf(v, what, "nonce", 24, NULL);
    env = hexf(v, what, "envelope", 0, &elen);
    if (s == NULL || fid == NULL || key == NULL || spk == NULL ||
        sidj == NULL || hash == NULL || mb == NULL || ck == NULL ||
        kid == NULL || nonce == NULL || env == NULL || topic == NULL ||
        mtopic == NULL || ann == NULL || fname == NULL ||
        !numf(v, "size", &size) || !numf(v, "chunk_size", &cs) ||
        !numf(v, "chunk_count", &cc) || !numf(v, "mtime_ms", &mt) ||
        !numf(v, "seq", &seq) || !numf(v, "time_ms", &tm) ||
        strlen(ann) > SECMQ_FILE_NAME_MAX) {
        fail(what, "a field is missing or bad");
        goto out;
    }
    crypto_sign_seed_keypair(mpk, msk, s);
    secmq_identity_id(mid, mpk);
    if (memcmp(mpk, spk, 32) != 0 || memcmp(mid, sidj, 8) != 0) {
        fail(what, "sender_pk / sender_id are not those of sender_seed");
    }
    memset(&m, 0, sizeof m);
    memcpy(m.file_id, fid, 16);
    memcpy(m.key, key, 32);
    memcpy(m.sender_pk, spk, 32);
    m.size = size;
    m.chunk_size = (uint32_t)cs;
    m.chunk_count = (uint32_t)cc;
    memcpy(m.hash, hash, 32);
    m.version = SECMQ_FILE_PROTOCOL_1; /* what decoding a SECMQFM1 sets */
    m.mtime_ms = mt;
    memcpy(m.name, ann, strlen(ann) + 1);
    if (secmq_file_manifest_encode(out, sizeof out, &olen, &m) != SECMQ_OK ||
        olen != mlen || memcmp(out, mb, mlen) != 0) {
        fail(what, "secmq_file_manifest_encode gives other bytes");
    }
    if (secmq_file_manifest_decode(&d, mb, mlen) != SECMQ_OK ||
        memcmp(&d, &m, sizeof m) != 0) {
        fail(what, "secmq_file_manifest_decode gives other fields");
    }
    if (secmq_file_name_check(nbuf, sizeof nbuf, ann) != SECMQ_OK ||
        strcmp(nbuf, fname) != 0) {
        fail(what, "secmq_file_name_check: not file_name");
    }
    if (secmq_file_manifest_topic(tbuf, sizeof tbuf, topic) != SECMQ_OK ||
        strcmp(tbuf, mtopic) != 0) {
        fail(what, "secmq_file_manifest_topic: not manifest_topic");
    }
    seal(eout, sizeof eout, &olen, SECMQ_SEAL_SIGNED, ck, kid, mid, msk, seq,
         tm, nonce, mtopic, mb, mlen);
    if (olen != elen || memcmp(eout, env, elen) != 0) {
        fail(what, "the manifest envelope seals to other bytes");
    }
    if (strcmp(manifest_env_verdict(env, elen, mtopic, ck, spk), "ok") != 0) {
        fail(what, "the manifest envelope is refused");
    }
out:
    sodium_memzero(msk, sizeof msk);
    free(s);
    free(fid);
    free(key);
    free(spk);
    free(sidj);
    free(hash);
    free(mb);
    free(ck);
    free(kid);
    free(nonce);
    free(env);
}

static void check_chunk_entry(const tj_value *v)
{
    const char *what = strf(v, "name");
    unsigned char *mb = NULL, *s = NULL, *fk = NULL, *mkj = NULL, *kid = NULL,
                  *sidj = NULL, *nonce = NULL, *pt = NULL, *env = NULL;
    static unsigned char out[4096 + 200], got[4096 + 200];
    unsigned char mpk[32], msk[64], mid[8], mk[32];
    const char *topic = strf(v, "topic"), *ctopic = strf(v, "chunk_topic");
    char tbuf[SECMQ_TOPIC_MAX + 1];
    uint64_t index, seq, tm;
    size_t mlen = 0, ptlen = 0, elen = 0, olen = 0, glen = 0;
    uint32_t idx = 0;
    secmq_file_manifest m;
    secmq_envelope_fields f;

    if (what == NULL) {
        what = "chunk without a name";
    }
    mb = hexf(v, what, "manifest", 0, &mlen);
    s = hexf(v, what, "sender_seed", 32, NULL);
    fk = hexf(v, what, "file_key", 32, NULL);
    mkj = hexf(v, what, "message_key", 32, NULL);
    kid = hexf(v, what, "key_id", 8, NULL);
    sidj = hexf(v, what, "sender_id", 8, NULL);
    nonce = hexf(v, what, "nonce", 24, NULL);
    pt = hexf(v, what, "plaintext", 0, &ptlen);
    env = hexf(v, what, "chunk", 0, &elen);
    if (mb == NULL || s == NULL || fk == NULL || mkj == NULL || kid == NULL ||
        sidj == NULL || nonce == NULL || env == NULL || topic == NULL ||
        ctopic == NULL || !numf(v, "index", &index) || !numf(v, "seq", &seq) ||
        !numf(v, "time_ms", &tm) || ptlen > 4096 ||
        (pt == NULL && tj_get(v, "plaintext", TJ_STR) == NULL)) {
        fail(what, "a field is missing or bad");
        goto out;
    }
    if (secmq_file_manifest_decode(&m, mb, mlen) != SECMQ_OK) {
        fail(what, "its manifest does not decode");
        goto out;
    }
    crypto_sign_seed_keypair(mpk, msk, s);
    secmq_identity_id(mid, mpk);
    crypto_kdf_derive_from_key(mk, sizeof mk, 1, "secmqenv", m.key);
    if (memcmp(mpk, m.sender_pk, 32) != 0 || memcmp(mid, sidj, 8) != 0 ||
        memcmp(fk, m.key, 32) != 0 || memcmp(mk, mkj, 32) != 0 ||
        memcmp(kid, m.file_id, 8) != 0 || seq != index) {
        fail(what, "sender, file key, message key, key id or seq are not "
                   "those §8.3 gives for the manifest");
    }
    if (secmq_file_chunk_topic(tbuf, sizeof tbuf, topic, m.file_id) !=
            SECMQ_OK ||
        strcmp(tbuf, ctopic) != 0) {
        fail(what, "secmq_file_chunk_topic: not chunk_topic");
    }
    seal(out, sizeof out, &olen, SECMQ_SEAL_SIGNED, m.key, m.file_id, mid, msk,
         seq, tm, nonce, ctopic, pt, ptlen);
    if (olen != elen || memcmp(out, env, elen) != 0) {
        fail(what, "the §8.3 envelope seals to other bytes");
    }
    if (secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m, ctopic, env,
                              elen) != SECMQ_OPEN_OK ||
        idx != index || glen != ptlen || memcmp(got, pt, ptlen) != 0) {
        fail(what, "secmq_file_chunk_open does not give index and plaintext");
    }
    /* secmq_file_chunk_seal (random nonce, clock) follows §8.3 too: its
     * output resealed with its own nonce and time by the rule is the same. */
    if (secmq_file_chunk_seal(out, sizeof out, &olen, &m, (uint32_t)index, msk,
                              ctopic, pt, ptlen) != SECMQ_OK ||
        secmq_envelope_parse(out, olen, &f) != SECMQ_OPEN_OK) {
        fail(what, "secmq_file_chunk_seal failed");
    } else {
        memcpy(got, out, olen);
        seal(out, sizeof out, &glen, SECMQ_SEAL_SIGNED, m.key, m.file_id, mid,
             msk, seq, f.time_ms, got + 34, ctopic, pt, ptlen);
        if (glen != olen || memcmp(got, out, olen) != 0) {
            fail(what, "secmq_file_chunk_seal does not seal as §8.3");
        }
    }
    sodium_memzero(&m, sizeof m);
out:
    sodium_memzero(msk, sizeof msk);
    free(mb);
    free(s);
    free(fk);
    free(mkj);
    free(kid);
    free(sidj);
    free(nonce);
    free(pt);
    free(env);
}

static void check_request_entry(const tj_value *v)
{
    const char *what = strf(v, "name");
    const char *topic = strf(v, "topic"), *rtopic = strf(v, "request_topic"),
               *kname = strf(v, "kind_name"), *rname = strf(v, "reason_name");
    const tj_value *ranges = tj_get(v, "ranges", TJ_ARR);
    unsigned char *fid = NULL, *rb = NULL, out[SECMQ_FILE_REQUEST_MAX];
    static secmq_file_range g[SECMQ_FILE_RANGES_MAX];
    char tbuf[SECMQ_TOPIC_MAX + 1];
    uint64_t kind, reason;
    size_t rlen = 0, olen = 0, n;
    secmq_file_request r;

    if (what == NULL) {
        what = "request without a name";
    }
    fid = hexf(v, what, "file_id", 16, NULL);
    rb = hexf(v, what, "request", 0, &rlen);
    if (fid == NULL || rb == NULL || topic == NULL || rtopic == NULL ||
        kname == NULL || rname == NULL || ranges == NULL ||
        ranges->n > SECMQ_FILE_RANGES_MAX || !numf(v, "kind", &kind) ||
        !numf(v, "reason", &reason) || kind < 1 || kind > 3) {
        fail(what, "a field is missing or bad");
        goto out;
    }
    n = ranges->n;
    for (size_t i = 0; i < n; i++) {
        const tj_value *p = ranges->v[i];
        if (p->type != TJ_ARR || p->n != 2 || p->v[0]->type != TJ_NUM ||
            p->v[1]->type != TJ_NUM) {
            fail(what, "range %zu is not [first, count]", i);
            goto out;
        }
        g[i].first = (uint32_t)p->v[0]->num;
        g[i].count = (uint32_t)p->v[1]->num;
    }
    if (strcmp(kname, kind_names[kind]) != 0 ||
        strcmp(rname, secmq_file_reason_name((int)reason)) != 0) {
        fail(what, "kind_name or reason_name");
    }
    if (secmq_file_request_encode(out, sizeof out, &olen, fid, (int)kind,
                                  (int)reason, g, n) != SECMQ_OK ||
        olen != rlen || memcmp(out, rb, rlen) != 0) {
        fail(what, "secmq_file_request_encode gives other bytes");
    }
    if (secmq_file_request_decode(&r, rb, rlen) != SECMQ_OK ||
        memcmp(r.file_id, fid, 16) != 0 || r.kind != (int)kind ||
        r.reason != (int)reason || r.n_ranges != n) {
        fail(what, "secmq_file_request_decode gives other fields");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        secmq_file_range x = secmq_file_request_range(&r, i);
        if (x.first != g[i].first || x.count != g[i].count) {
            fail(what, "range %zu decodes differently", i);
            break;
        }
    }
    if (secmq_file_request_topic(tbuf, sizeof tbuf, topic, fid) != SECMQ_OK ||
        strcmp(tbuf, rtopic) != 0) {
        fail(what, "secmq_file_request_topic: not request_topic");
    }
out:
    free(fid);
    free(rb);
}

static void check_name_entry(const tj_value *v)
{
    const char *ann = strf(v, "announced"), *fname = strf(v, "file_name"),
               *expect = strf(v, "expect");
    char out[SECMQ_FILE_NAME_MAX + 1];
    unsigned char *raw = NULL;
    size_t rlen = 0;
    int r;

    if (ann == NULL && tj_get(v, "announced_hex", TJ_STR) != NULL) {
        /* Bytes that are not UTF-8 cannot be a JSON string. */
        raw = hexf(v, "names", "announced_hex", 0, &rlen);
        if (raw == NULL || memchr(raw, 0, rlen) != NULL) {
            fail("names", "announced_hex: not hex, or holds a NUL");
            free(raw);
            return;
        }
        raw[rlen] = 0; /* tj_hex allocates one byte more */
        ann = (const char *)raw;
    }
    if (ann == NULL || (fname == NULL) == (expect == NULL)) {
        fail("names", "an entry lacks announced, or file_name xor expect");
        free(raw);
        return;
    }
    r = secmq_file_name_check(out, sizeof out, ann);
    if (fname != NULL && (r != SECMQ_OK || strcmp(out, fname) != 0)) {
        fail("names", "\"%s\": not \"%s\"", ann, fname);
    }
    if (expect != NULL && (r == SECMQ_OK || strcmp(expect, "bad_name") != 0)) {
        fail("names", "\"%s\": accepted, or expect is not bad_name", ann);
    }
    free(raw);
}

static void check_negative_entry(const tj_value *v)
{
    const char *what = strf(v, "name"), *kind = strf(v, "what"),
               *expect = strf(v, "expect"), *got = NULL;
    unsigned char *a = NULL, *b = NULL, *c = NULL;
    size_t la = 0, lb = 0;
    size_t glen;
    uint32_t idx;

    if (what == NULL || kind == NULL || expect == NULL) {
        fail("negative", "an entry lacks name, what or expect");
        return;
    }
    if (strcmp(kind, "manifest") == 0) {
        a = hexf(v, what, "manifest", 0, &la);
        if (a != NULL || tj_get(v, "manifest", TJ_STR) != NULL) {
            got = manifest_verdict(a, la, NULL);
        }
    } else if (strcmp(kind, "manifest_envelope") == 0) {
        a = hexf(v, what, "envelope", 0, &la);
        b = hexf(v, what, "channel_key", 32, NULL);
        c = hexf(v, what, "sender_pk", 32, NULL);
        if (a != NULL && b != NULL && c != NULL &&
            strf(v, "manifest_topic") != NULL) {
            got = manifest_env_verdict(a, la, strf(v, "manifest_topic"), b, c);
        }
    } else if (strcmp(kind, "chunk") == 0) {
        a = hexf(v, what, "manifest", 0, &la);
        b = tj_hex(v, "chunk", &lb);
        if (a != NULL && b != NULL && strf(v, "chunk_topic") != NULL) {
            got = chunk_verdict(b, lb, strf(v, "chunk_topic"), a, la, NULL,
                                &glen, &idx);
        }
    } else if (strcmp(kind, "request") == 0) {
        a = tj_hex(v, "request", &la);
        if (a != NULL && strf(v, "topic") != NULL &&
            strf(v, "request_topic") != NULL) {
            got = request_verdict(a, la, strf(v, "topic"),
                                  strf(v, "request_topic"));
        }
    }
    if (got == NULL) {
        fail(what, "unknown \"what\" or a field is missing");
    } else if (strcmp(got, expect) != 0) {
        fail(what, "the library says %s, the vector expects %s", got, expect);
    }
    free(a);
    free(b);
    free(c);
}

static int check_committed(const char *path)
{
    static const struct {
        const char *key;
        size_t min;
        void (*fn)(const tj_value *);
    } parts[] = {{"manifests", 6, check_manifest_entry},
                 {"chunks", 6, check_chunk_entry},
                 {"requests", 11, check_request_entry},
                 {"names", 20, check_name_entry},
                 {"negative", 50, check_negative_entry}};
    tj_value *root = tj_load(path);
    const tj_value *version;
    size_t total = 0;

    if (root == NULL) {
        fprintf(stderr, "gen_file_vectors: %s: cannot read or parse\n", path);
        return 1;
    }
    version = tj_get(root, "version", TJ_NUM);
    if (version == NULL || version->num != 1) {
        fail(path, "version is not 1");
    }
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        const tj_value *a = tj_get(root, parts[p].key, TJ_ARR);
        /* An emptied file must not pass. */
        if (a == NULL || a->n < parts[p].min) {
            fail(path, "\"%s\": missing or fewer than %zu entries",
                 parts[p].key, parts[p].min);
            continue;
        }
        for (size_t i = 0; i < a->n; i++) {
            parts[p].fn(a->v[i]);
        }
        total += a->n;
    }
    tj_free(root);
    if (failures != 0) {
        fprintf(stderr, "gen_file_vectors: %s: %d failures\n", path, failures);
        return 1;
    }
    printf("gen_file_vectors: %s: %zu entries check through the codecs\n", path,
           total);
    return 0;
}

int main(int argc, char **argv)
{
    text t = {NULL, 0, 0};
    int rc;

    vec_prog = "gen_file_vectors";
    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    generate(&t);
    rc = vec_output(argc, argv, &t);
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        rc |= check_committed(argv[2]);
    }
    free(t.s);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(osk, sizeof osk);
    return rc;
}
