/*
 * xfercodec.c -- the file-transfer wire formats of docs/PROTOCOL.md §8:
 * manifest and request codecs, the v1 chunk (a signed envelope under the
 * per-file key) and the topics; the v2 chunk and its tree are
 * xfertree.c's, the name rule is xfername.c's. Pure: no
 * I/O, no allocation. What a sender or receiver does with them lives in
 * xfersend.c and xferrecv.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <secmq.h>

#include "bytes_int.h"
#include "xfer_int.h"

#define MANIFEST_MAGIC "SECMQFM1"
#define MANIFEST_MAGIC2 "SECMQFM2"
#define REQUEST_MAGIC "SECMQFR1"
#define MAGIC_BYTES 8u

_Static_assert(SECMQ_FILE_MANIFEST_FIXED ==
                   MAGIC_BYTES + SECMQ_FILE_ID_BYTES + SECMQ_FILE_KEY_BYTES +
                       SECMQ_SIGN_PK_BYTES + 8u + 4u + 4u +
                       SECMQ_FILE_HASH_BYTES + 8u + 2u,
               "manifest layout");
_Static_assert(SECMQ_FILE_REQUEST_FIXED ==
                   MAGIC_BYTES + SECMQ_FILE_ID_BYTES + 1u + 1u + 2u,
               "request layout");
_Static_assert(SECMQ_FILE_KEY_BYTES == SECMQ_KEY_BYTES, "file key size");

/* ---- shared helpers -------------------------------------------------------
 */

/* 1 if buf (len bytes) holds at least the fixed part of a message and
 * opens with its magic; 0 otherwise. */
static int framed(const void *buf, size_t len, size_t fixed, const char *magic)
{
    return buf != NULL && len >= fixed &&
           memcmp(buf, magic, MAGIC_BYTES) == 0; /* not secret */
}

uint32_t secmq__xfer_chunk_count(uint64_t size, uint32_t chunk_size)
{
    uint64_t n = size / chunk_size + (size % chunk_size != 0);

    return n > SECMQ_FILE_CHUNKS_MAX ? SECMQ_FILE_CHUNKS_MAX + 1u : (uint32_t)n;
}

size_t secmq__xfer_chunk_len(const secmq_file_manifest *m, uint32_t index)
{
    uint64_t off = (uint64_t)index * m->chunk_size;

    if (index >= m->chunk_count || off >= m->size) {
        return 0;
    }
    return m->size - off < m->chunk_size ? (size_t)(m->size - off)
                                         : (size_t)m->chunk_size;
}

void secmq__xfer_topics(secmq__xtopics *t, const char *topic, const char *sub)
{
    snprintf(t->topic, sizeof t->topic, "%s", topic);
    snprintf(t->filter, sizeof t->filter, "%s/%s/+", topic, sub);
    snprintf(t->prefix, sizeof t->prefix, "%s/%s/", topic, sub);
    t->prefix_len = strlen(t->prefix);
    (void)secmq_file_manifest_topic(t->mtopic, sizeof t->mtopic, topic);
}

uint64_t secmq__xfer_bytes(const secmq_file_manifest *m, uint32_t n)
{
    return n == m->chunk_count ? m->size : (uint64_t)n * m->chunk_size;
}

void secmq__xfer_event(secmq_file_event *ev, char *detail, size_t dlen,
                       int kind, int reason, int rc, const char *fmt,
                       va_list ap)
{
    vsnprintf(detail, dlen, fmt, ap);
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->reason = reason;
    ev->rc = rc;
    ev->detail = detail;
}

/* A topic usable as TOPIC: 1..SECMQ_FILE_TOPIC_MAX bytes, no wildcards. */
int secmq__xfer_topic_ok(const char *topic)
{
    size_t len;

    if (topic == NULL) {
        return 0;
    }
    len = strlen(topic);
    return len >= 1 && len <= SECMQ_FILE_TOPIC_MAX &&
           strpbrk(topic, "+#") == NULL;
}

/* ---- manifest ------------------------------------------------------------ */

static int manifest_fields_ok(const secmq_file_manifest *m, size_t name_len)
{
    /* version 0 (a zeroed struct) encodes as 1; decoding sets 1 or 2 */
    return m->version >= 0 && m->version <= SECMQ_FILE_PROTOCOL_2 &&
           m->chunk_size >= SECMQ_FILE_CHUNK_MIN &&
           m->chunk_size <= SECMQ_FILE_CHUNK_MAX &&
           m->chunk_count <= SECMQ_FILE_CHUNKS_MAX &&
           m->chunk_count == secmq__xfer_chunk_count(m->size, m->chunk_size) &&
           name_len >= 1 && name_len <= SECMQ_FILE_NAME_MAX;
}

int secmq_file_manifest_encode(unsigned char *out, size_t cap, size_t *out_len,
                               const secmq_file_manifest *m)
{
    size_t name_len, len;
    unsigned char *p = out;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || m == NULL) {
        return SECMQ_E_INVAL;
    }
    name_len = strnlen(m->name, sizeof m->name);
    if (name_len == sizeof m->name || !manifest_fields_ok(m, name_len)) {
        return SECMQ_E_INVAL;
    }
    len = SECMQ_FILE_MANIFEST_FIXED + name_len;
    if (cap < len) {
        return SECMQ_E_OVERSIZE;
    }
    memcpy(p,
           m->version == SECMQ_FILE_PROTOCOL_2 ? MANIFEST_MAGIC2
                                               : MANIFEST_MAGIC,
           MAGIC_BYTES);
    p += MAGIC_BYTES;
    memcpy(p, m->file_id, SECMQ_FILE_ID_BYTES);
    p += SECMQ_FILE_ID_BYTES;
    memcpy(p, m->key, SECMQ_FILE_KEY_BYTES);
    p += SECMQ_FILE_KEY_BYTES;
    memcpy(p, m->sender_pk, SECMQ_SIGN_PK_BYTES);
    p += SECMQ_SIGN_PK_BYTES;
    secmq__put_u64(p, m->size);
    secmq__put_u32(p + 8, m->chunk_size);
    secmq__put_u32(p + 12, m->chunk_count);
    p += 16;
    memcpy(p, m->hash, SECMQ_FILE_HASH_BYTES);
    p += SECMQ_FILE_HASH_BYTES;
    secmq__put_u64(p, m->mtime_ms);
    secmq__put_u16(p + 8, (uint32_t)name_len);
    p += 10;
    memcpy(p, m->name, name_len);
    *out_len = len;
    return SECMQ_OK;
}

int secmq_file_manifest_decode(secmq_file_manifest *m, const void *buf,
                               size_t len)
{
    const unsigned char *p = buf;
    size_t name_len;

    if (m == NULL) {
        return SECMQ_E_INVAL;
    }
    memset(m, 0, sizeof *m);
    if (framed(buf, len, SECMQ_FILE_MANIFEST_FIXED, MANIFEST_MAGIC)) {
        m->version = SECMQ_FILE_PROTOCOL_1;
    } else if (framed(buf, len, SECMQ_FILE_MANIFEST_FIXED, MANIFEST_MAGIC2)) {
        m->version = SECMQ_FILE_PROTOCOL_2;
    } else {
        return SECMQ_E_INVAL;
    }
    name_len = secmq__get_u16(p + SECMQ_FILE_MANIFEST_FIXED - 2);
    if (len != SECMQ_FILE_MANIFEST_FIXED + name_len) {
        m->version = 0;
        return SECMQ_E_INVAL;
    }
    p += MAGIC_BYTES;
    memcpy(m->file_id, p, SECMQ_FILE_ID_BYTES);
    p += SECMQ_FILE_ID_BYTES;
    memcpy(m->key, p, SECMQ_FILE_KEY_BYTES);
    p += SECMQ_FILE_KEY_BYTES;
    memcpy(m->sender_pk, p, SECMQ_SIGN_PK_BYTES);
    p += SECMQ_SIGN_PK_BYTES;
    m->size = secmq__get_u64(p);
    m->chunk_size = secmq__get_u32(p + 8);
    m->chunk_count = secmq__get_u32(p + 12);
    p += 16;
    memcpy(m->hash, p, SECMQ_FILE_HASH_BYTES);
    p += SECMQ_FILE_HASH_BYTES;
    m->mtime_ms = secmq__get_u64(p);
    p += 10;
    if (name_len > SECMQ_FILE_NAME_MAX || memchr(p, 0, name_len) != NULL) {
        sodium_memzero(m, sizeof *m);
        return SECMQ_E_INVAL;
    }
    memcpy(m->name, p, name_len);
    m->name[name_len] = '\0';
    if (!manifest_fields_ok(m, name_len)) {
        sodium_memzero(m, sizeof *m);
        return SECMQ_E_INVAL;
    }
    return SECMQ_OK;
}

/* ---- requests ------------------------------------------------------------ */

const char *secmq_file_reason_name(int reason)
{
    static const char *const names[] = {"none",     "too_large", "no_space",
                                        "bad_name", "io_error",  "hash",
                                        "busy"};

    if (reason < 0 || reason >= SECMQ_FILE_R_COUNT) {
        return "unknown";
    }
    return names[reason];
}

int secmq_file_request_encode(unsigned char *out, size_t cap, size_t *out_len,
                              const unsigned char *file_id, int kind,
                              int reason, const secmq_file_range *ranges,
                              size_t n)
{
    size_t len;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || file_id == NULL ||
        kind < SECMQ_FILE_REQ_NEED || kind > SECMQ_FILE_REQ_REFUSED ||
        reason < 0 || reason >= SECMQ_FILE_R_COUNT ||
        (kind == SECMQ_FILE_REQ_NEED) != (n > 0) || n > SECMQ_FILE_RANGES_MAX ||
        (n > 0 && ranges == NULL) ||
        (kind != SECMQ_FILE_REQ_REFUSED) != (reason == 0)) {
        return SECMQ_E_INVAL;
    }
    len = SECMQ_FILE_REQUEST_FIXED + 8u * n;
    if (cap < len) {
        return SECMQ_E_OVERSIZE;
    }
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].count == 0) {
            return SECMQ_E_INVAL;
        }
    }
    memcpy(out, REQUEST_MAGIC, MAGIC_BYTES);
    memcpy(out + 8, file_id, SECMQ_FILE_ID_BYTES);
    out[24] = (unsigned char)kind;
    out[25] = (unsigned char)reason;
    secmq__put_u16(out + 26, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        secmq__put_u32(out + 28 + 8 * i, ranges[i].first);
        secmq__put_u32(out + 32 + 8 * i, ranges[i].count);
    }
    *out_len = len;
    return SECMQ_OK;
}

int secmq_file_request_decode(secmq_file_request *r, const void *buf,
                              size_t len)
{
    const unsigned char *p = buf;
    size_t n;

    if (r == NULL) {
        return SECMQ_E_INVAL;
    }
    memset(r, 0, sizeof *r);
    if (!framed(buf, len, SECMQ_FILE_REQUEST_FIXED, REQUEST_MAGIC)) {
        return SECMQ_E_INVAL;
    }
    n = secmq__get_u16(p + 26);
    if (len != SECMQ_FILE_REQUEST_FIXED + 8u * n || n > SECMQ_FILE_RANGES_MAX ||
        p[24] < SECMQ_FILE_REQ_NEED || p[24] > SECMQ_FILE_REQ_REFUSED ||
        p[25] >= SECMQ_FILE_R_COUNT ||
        (p[24] == SECMQ_FILE_REQ_NEED) != (n > 0) ||
        /* PROTOCOL.md §8.4: a refusal names a reason (1..), the others
         * carry 0. */
        (p[24] != SECMQ_FILE_REQ_REFUSED) != (p[25] == 0)) {
        return SECMQ_E_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (secmq__get_u32(p + 32 + 8 * i) == 0) {
            return SECMQ_E_INVAL;
        }
    }
    memcpy(r->file_id, p + 8, SECMQ_FILE_ID_BYTES);
    r->kind = p[24];
    r->reason = p[25];
    r->n_ranges = n;
    r->ranges = n > 0 ? p + SECMQ_FILE_REQUEST_FIXED : NULL;
    return SECMQ_OK;
}

secmq_file_range secmq_file_request_range(const secmq_file_request *r, size_t i)
{
    secmq_file_range g = {0, 0};

    if (r != NULL && i < r->n_ranges) {
        g.first = secmq__get_u32(r->ranges + 8 * i);
        g.count = secmq__get_u32(r->ranges + 8 * i + 4);
    }
    return g;
}

/* ---- topics --------------------------------------------------------------
 */

static int file_topic(char *out, size_t cap, const char *topic,
                      const char *kind, const unsigned char *file_id)
{
    char hex[2 * SECMQ_FILE_ID_BYTES + 1];
    int n;

    if (out == NULL || !secmq__xfer_topic_ok(topic)) {
        return SECMQ_E_INVAL;
    }
    if (file_id != NULL) {
        sodium_bin2hex(hex, sizeof hex, file_id, SECMQ_FILE_ID_BYTES);
        n = snprintf(out, cap, "%s/%s/%s", topic, kind, hex);
    } else {
        n = snprintf(out, cap, "%s/%s", topic, kind);
    }
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return SECMQ_E_OVERSIZE;
    }
    return SECMQ_OK;
}

int secmq_file_chunk_topic(char *out, size_t cap, const char *topic,
                           const unsigned char *file_id)
{
    return file_id == NULL ? SECMQ_E_INVAL
                           : file_topic(out, cap, topic, "c", file_id);
}

int secmq_file_request_topic(char *out, size_t cap, const char *topic,
                             const unsigned char *file_id)
{
    return file_id == NULL ? SECMQ_E_INVAL
                           : file_topic(out, cap, topic, "r", file_id);
}

int secmq_file_manifest_topic(char *out, size_t cap, const char *topic)
{
    return file_topic(out, cap, topic, "m", NULL);
}

int secmq__xfer_parse_id(const char *topic, const char *prefix, size_t plen,
                         unsigned char *file_id)
{
    size_t bin_len = 0;

    if (strncmp(topic, prefix, plen) != 0 ||
        strlen(topic + plen) != 2 * SECMQ_FILE_ID_BYTES) {
        return -1;
    }
    /* PROTOCOL.md §8: the id is lower-case hex; one spelling per file. */
    for (size_t i = 0; i < 2 * SECMQ_FILE_ID_BYTES; i++) {
        char ch = topic[plen + i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return -1;
        }
    }
    if (sodium_hex2bin(file_id, SECMQ_FILE_ID_BYTES, topic + plen,
                       2 * SECMQ_FILE_ID_BYTES, NULL, &bin_len, NULL) != 0 ||
        bin_len != SECMQ_FILE_ID_BYTES) {
        return -1;
    }
    return 0;
}

/* ---- chunks -------------------------------------------------------------- */

int secmq_file_chunk_seal(unsigned char *out, size_t cap, size_t *out_len,
                          const secmq_file_manifest *m, uint32_t index,
                          const unsigned char *sender_sk,
                          const char *chunk_topic, const void *pt, size_t len)
{
    unsigned char sender_id[SECMQ_ID_BYTES];
    secmq_seal_params p;
    struct timespec ts;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || m == NULL || sender_sk == NULL ||
        chunk_topic == NULL || (pt == NULL && len > 0) ||
        m->version == SECMQ_FILE_PROTOCOL_2 || index >= m->chunk_count ||
        len != secmq__xfer_chunk_len(m, index)) {
        return SECMQ_E_INVAL;
    }
    secmq_identity_id(sender_id, m->sender_pk);
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(&p, 0, sizeof p);
    p.mode = SECMQ_SEAL_SIGNED;
    p.channel_key = m->key;
    p.key_id = m->file_id; /* its first SECMQ_ID_BYTES */
    p.sender_id = sender_id;
    p.sender_sk = sender_sk;
    p.seq = index;
    p.time_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    p.nonce = NULL;
    return secmq_envelope_seal(out, cap, out_len, &p, chunk_topic, pt, len);
}

int secmq_file_chunk_open(unsigned char *out, size_t cap, size_t *out_len,
                          uint32_t *index, const secmq_file_manifest *m,
                          const char *chunk_topic, const void *env, size_t len)
{
    unsigned char sender_id[SECMQ_ID_BYTES];
    secmq_envelope_fields f;
    size_t want;
    int why;

    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL || index == NULL || m == NULL ||
        chunk_topic == NULL || env == NULL ||
        m->version == SECMQ_FILE_PROTOCOL_2) {
        return SECMQ_OPEN_MALFORMED;
    }
    why = secmq_envelope_parse(env, len, &f);
    if (why != SECMQ_OPEN_OK) {
        return why;
    }
    secmq_identity_id(sender_id, m->sender_pk);
    /* Ids and the index are bound by the AEAD and the signature anyway;
     * checking them first gives a precise reason and skips the crypto. */
    if (f.mode != SECMQ_SEAL_SIGNED ||
        memcmp(f.key_id, m->file_id, SECMQ_ID_BYTES) != 0 ||   /* not secret */
        memcmp(f.sender_id, sender_id, SECMQ_ID_BYTES) != 0 || /* not secret */
        f.seq >= m->chunk_count) {
        return SECMQ_OPEN_MALFORMED;
    }
    want = secmq__xfer_chunk_len(m, (uint32_t)f.seq);
    if (f.ciphertext_len != want + SECMQ_ENV_TAG_BYTES || cap < want) {
        return SECMQ_OPEN_MALFORMED;
    }
    why = secmq_envelope_open(out, cap, out_len, &f, chunk_topic, m->key,
                              m->sender_pk);
    if (why != SECMQ_OPEN_OK) {
        return why;
    }
    *index = (uint32_t)f.seq;
    return SECMQ_OPEN_OK;
}
