/*
 * test_xfer.c -- unit tests for the file-transfer codecs of PROTOCOL.md §8
 * (xfercodec.c) through the public API: manifests and requests encode and
 * decode back, every truncation, extension and bad field is refused; the
 * name rule keeps only safe last components; a chunk opens for its file,
 * index and topic only, and every flipped byte is refused with the reason
 * of its field.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "check.h"

static unsigned char sender_pk[32], sender_sk[64];
static unsigned char other_pk[32], other_sk[64];

static void manifest(secmq_file_manifest *m, uint64_t size, const char *name)
{
    memset(m, 0, sizeof *m);
    memset(m->file_id, 0xa5, sizeof m->file_id);
    memset(m->key, 0x42, sizeof m->key);
    memcpy(m->sender_pk, sender_pk, 32);
    m->size = size;
    m->chunk_size = 4096;
    m->chunk_count = (uint32_t)((size + 4095) / 4096);
    memset(m->hash, 0x77, sizeof m->hash);
    m->mtime_ms = 1700000000123u;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->version = SECMQ_FILE_PROTOCOL_1;
}

static void test_manifest_round_trip(void)
{
    unsigned char buf[SECMQ_FILE_MANIFEST_MAX + 8];
    secmq_file_manifest m, got;
    size_t len = 0;

    manifest(&m, 10000, "photo.jpg");
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_OK);
    CHECK_INT_EQ(len, SECMQ_FILE_MANIFEST_FIXED + 9);
    CHECK_MEM_EQ(buf, 8, "SECMQFM1", 8);
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_OK);
    CHECK_MEM_EQ(&got, sizeof got, &m, sizeof m);
    /* Every shorter and one longer length is refused. */
    for (size_t n = 0; n < len; n++) {
        CHECKF(secmq_file_manifest_decode(&got, buf, n) == SECMQ_E_INVAL,
               "length %zu accepted", n);
    }
    buf[len] = 'x';
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len + 1), SECMQ_E_INVAL);
    /* cap too small */
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, len - 1, &len, &m),
                 SECMQ_E_OVERSIZE);
    /* an empty file has no chunks */
    manifest(&m, 0, "empty");
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_OK);
    CHECK_INT_EQ(got.chunk_count, 0);
}

static void test_manifest_fields(void)
{
    unsigned char buf[SECMQ_FILE_MANIFEST_MAX + 8];
    secmq_file_manifest m, got;
    size_t len = 0;

    manifest(&m, 10000, "a");
    m.chunk_count = 2; /* ceil(10000 / 4096) is 3 */
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_E_INVAL);
    manifest(&m, 10000, "a");
    m.chunk_size = 1000; /* below SECMQ_FILE_CHUNK_MIN */
    m.chunk_count = 10;
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_E_INVAL);
    manifest(&m, 10000, "");
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_E_INVAL);
    /* Fields changed in the bytes: count, chunk size, magic, NUL in name. */
    manifest(&m, 10000, "abc");
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_OK);
    buf[103] ^= 1; /* chunk_count */
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_E_INVAL);
    buf[103] ^= 1;
    buf[97] ^= 0x80; /* chunk_size huge */
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_E_INVAL);
    buf[97] ^= 0x80;
    buf[0] ^= 1;
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_E_INVAL);
    buf[0] ^= 1;
    buf[len - 2] = 0;
    CHECK_INT_EQ(secmq_file_manifest_decode(&got, buf, len), SECMQ_E_INVAL);
    /* The key is wiped from a refused decode. */
    {
        static const unsigned char zero[32];
        CHECK_MEM_EQ(got.key, 32, zero, 32);
    }
    /* The largest size within SECMQ_FILE_CHUNKS_MAX chunks and one over. */
    manifest(&m, 0, "big");
    m.chunk_size = SECMQ_FILE_CHUNK_MIN;
    m.size = (uint64_t)SECMQ_FILE_CHUNKS_MAX * SECMQ_FILE_CHUNK_MIN;
    m.chunk_count = SECMQ_FILE_CHUNKS_MAX;
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_OK);
    m.size++;
    CHECK_INT_EQ(secmq_file_manifest_encode(buf, sizeof buf, &len, &m),
                 SECMQ_E_INVAL);
}

static void test_request(void)
{
    unsigned char id[16], buf[SECMQ_FILE_REQUEST_MAX];
    secmq_file_range g[3] = {{0, 5}, {9, 1}, {4000000000u, 7}};
    secmq_file_request r;
    secmq_file_range x;
    size_t len = 0;

    memset(id, 0x3c, sizeof id);
    CHECK_INT_EQ(secmq_file_request_encode(buf, sizeof buf, &len, id,
                                           SECMQ_FILE_REQ_NEED, 0, g, 3),
                 SECMQ_OK);
    CHECK_INT_EQ(len, SECMQ_FILE_REQUEST_FIXED + 24);
    CHECK_INT_EQ(secmq_file_request_decode(&r, buf, len), SECMQ_OK);
    CHECK_INT_EQ(r.kind, SECMQ_FILE_REQ_NEED);
    CHECK_INT_EQ(r.n_ranges, 3);
    x = secmq_file_request_range(&r, 2);
    CHECK(x.first == 4000000000u && x.count == 7);
    x = secmq_file_request_range(&r, 3);
    CHECK(x.first == 0 && x.count == 0);
    for (size_t n = 0; n < len; n++) {
        CHECKF(secmq_file_request_decode(&r, buf, n) == SECMQ_E_INVAL,
               "length %zu accepted", n);
    }
    /* A range of 0 chunks, a NEED without ranges, DONE with a reason. */
    buf[len - 1] = 0;
    buf[len - 2] = 0;
    buf[len - 3] = 0;
    buf[len - 4] = 0;
    CHECK_INT_EQ(secmq_file_request_decode(&r, buf, len), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_request_encode(buf, sizeof buf, &len, id,
                                           SECMQ_FILE_REQ_NEED, 0, NULL, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_request_encode(buf, sizeof buf, &len, id,
                                           SECMQ_FILE_REQ_DONE, 1, NULL, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_request_encode(buf, sizeof buf, &len, id,
                                           SECMQ_FILE_REQ_REFUSED,
                                           SECMQ_FILE_R_TOO_LARGE, NULL, 0),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_file_request_decode(&r, buf, len), SECMQ_OK);
    CHECK_INT_EQ(r.reason, SECMQ_FILE_R_TOO_LARGE);
    buf[25] = SECMQ_FILE_R_COUNT;
    CHECK_INT_EQ(secmq_file_request_decode(&r, buf, len), SECMQ_E_INVAL);
    buf[24] = 9;
    CHECK_INT_EQ(secmq_file_request_decode(&r, buf, len), SECMQ_E_INVAL);
    CHECK_STR_EQ(secmq_file_reason_name(SECMQ_FILE_R_NO_SPACE), "no_space");
    CHECK_STR_EQ(secmq_file_reason_name(99), "unknown");
}

static void name_ok(const char *in, const char *want)
{
    char out[SECMQ_FILE_NAME_MAX + 1];

    CHECKF(secmq_file_name_check(out, sizeof out, in) == SECMQ_OK,
           "'%s' refused", in);
    CHECK_STR_EQ(out, want);
}

static void name_bad(const char *in)
{
    char out[SECMQ_FILE_NAME_MAX + 1] = "x";

    CHECKF(secmq_file_name_check(out, sizeof out, in) == SECMQ_E_INVAL,
           "'%s' accepted as '%s'", in, out);
    CHECK_STR_EQ(out, "");
}

static void test_names(void)
{
    char long_name[300];

    name_ok("photo.jpg", "photo.jpg");
    name_ok("../../etc/x", "x");
    name_ok("/etc/passwd", "passwd");
    name_ok("a/b/c d.png", "c d.png");
    name_ok("\xc3\xa9t\xc3\xa9.jpg", "\xc3\xa9t\xc3\xa9.jpg");
    name_bad("");
    name_bad("..");
    name_bad(".");
    name_bad("a/..");
    name_bad("x/");
    name_bad("/");
    name_bad(".hidden");
    name_bad(".secmq-part-00");
    name_bad("a\nb");
    name_bad("tab\there");
    name_bad("del\x7f");
    name_bad("back\\slash");
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    name_bad(long_name);
    long_name[255] = '\0';
    name_ok(long_name, long_name);
}

/* cp as UTF-8 into out (5 bytes at least); returns out. */
static char *utf8(char *out, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out;

    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        o[1] = 0;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        o[2] = 0;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        o[3] = 0;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        o[4] = 0;
    }
    return out;
}

/* "a" + cp + "b" */
static void name_with(uint32_t cp, int ok)
{
    char c[8], in[32];

    snprintf(in, sizeof in, "a%sb", utf8(c, cp));
    if (ok) {
        name_ok(in, in);
    } else {
        name_bad(in);
    }
}

/* PROTOCOL.md §8.6: Unicode 15.0 category Cf, written out again here from
 * the spec so that a change of the library's table shows. */
static void test_name_format_chars(void)
{
    static const uint32_t cf[][2] = {
        {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
        {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},
        {0x08E2, 0x08E2},   {0x180E, 0x180E},   {0x200B, 0x200F},
        {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
        {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD},
        {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
        {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
    };
    /* Next to a range but not Cf (and no control, no surrogate). */
    static const uint32_t near[] = {
        0x00AC,  0x00AE,  0x05FF,  0x0606,  0x061B,   0x061D,  0x06DC,  0x06DE,
        0x070E,  0x0710,  0x088F,  0x0892,  0x08E1,   0x08E3,  0x180D,  0x180F,
        0x200A,  0x2010,  0x2029,  0x202F,  0x205F,   0x2065,  0x2070,  0xFEFE,
        0xFF00,  0xFFF8,  0xFFFC,  0x110BC, 0x110BE,  0x110CC, 0x110CE, 0x1342F,
        0x13440, 0x1BC9F, 0x1BCA4, 0x1D172, 0x1D17B,  0xE0000, 0xE0002, 0xE001F,
        0xE0080, 0x00A0,  0x00E9,  0x1F4F7, 0x10FFFF, 0xE000,  0xD7FF};
    size_t n = 0;

    for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++) {
        for (uint32_t cp = cf[i][0]; cp <= cf[i][1]; cp++) {
            name_with(cp, 0);
            n++;
        }
    }
    CHECK_INT_EQ((long)n, 170); /* Cf in Unicode 15.0 */
    for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
        name_with(near[i], 1);
    }
    /* The name that shows as "invoice<...>exe.jpg". */
    name_bad("invoice\xe2\x80\xae"
             "gpj.exe");
    name_bad("dir/report\xe2\x81\xa6.pdf"); /* U+2066 isolate */
    name_bad("\xef\xbb\xbfname");           /* a byte order mark */
    /* C1 controls, as code points (U+009B is a terminal's CSI). */
    name_with(0x80, 0);
    name_with(0x9B, 0);
    name_with(0x9F, 0);
}

static void test_name_utf8(void)
{
    name_ok("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x93\xb7.jpg",
            "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x93\xb7.jpg");
    name_bad("latin1-caf\xe9.jpg");   /* not UTF-8 */
    name_bad("\x80x");                /* continuation byte first */
    name_bad("x\xbf");                /* continuation byte alone */
    name_bad("\xc0\xaf");             /* overlong '/' */
    name_bad("a\xc1\xbf");            /* overlong */
    name_bad("\xe0\x80\xaf");         /* overlong, 3 bytes */
    name_bad("\xe0\x9f\xbf");         /* overlong U+07FF */
    name_bad("\xf0\x80\x80\xaf");     /* overlong, 4 bytes */
    name_bad("\xf0\x8f\xbf\xbf");     /* overlong U+FFFF */
    name_bad("\xed\xa0\x80");         /* surrogate U+D800 */
    name_bad("\xed\xbf\xbf");         /* surrogate U+DFFF */
    name_bad("\xf4\x90\x80\x80");     /* U+110000 */
    name_bad("\xf5\x80\x80\x80");     /* lead byte above F4 */
    name_bad("\xf8\x88\x80\x80\x80"); /* 5-byte form */
    name_bad("\xfe");
    name_bad("\xff");
    name_bad("ab\xc3");       /* truncated at the end */
    name_bad("ab\xe2\x82");   /* truncated at the end */
    name_bad("\xf0\x9f\x93"); /* truncated at the end */
    name_bad("\xe2\x28\xa1"); /* bad continuation */
    name_bad("\xc3(");        /* bad continuation */
    /* The last component alone is judged: a bad byte before the last '/'
     * is never used. */
    name_ok("\xff/ok.txt", "ok.txt");
}

/* secmq_text_show: what a tool may print of peer-chosen text. */
static void test_text_show(void)
{
    char out[64];

    CHECK_INT_EQ((long)secmq_text_show(out, sizeof out, "plain/topic"), 11);
    CHECK_STR_EQ(out, "plain/topic");
    (void)secmq_text_show(out, sizeof out, "a\x1b[31mb\r");
    CHECK_STR_EQ(out, "a<U+001B>[31mb<U+000D>");
    (void)secmq_text_show(out, sizeof out, "x\xe2\x80\xaegpj.exe");
    CHECK_STR_EQ(out, "x<U+202E>gpj.exe");
    (void)secmq_text_show(out, sizeof out, "caf\xe9 \xc3\xa9");
    CHECK_STR_EQ(out, "caf\\xE9 \xc3\xa9");
    /* Cut at a whole piece, always terminated. */
    CHECK_INT_EQ((long)secmq_text_show(out, 6, "ab\x1b"), 2);
    CHECK_STR_EQ(out, "ab");
    CHECK_INT_EQ((long)secmq_text_show(out, sizeof out, NULL), 0);
    CHECK_STR_EQ(out, "");
    CHECK_INT_EQ((long)secmq_text_show(NULL, 0, "x"), 0);
}

static void test_topics(void)
{
    unsigned char id[16];
    char t[SECMQ_TOPIC_MAX + 1];

    memset(id, 0xab, sizeof id);
    CHECK_INT_EQ(secmq_file_chunk_topic(t, sizeof t, "cam/front", id),
                 SECMQ_OK);
    CHECK_STR_EQ(t, "cam/front/c/abababababababababababababababab");
    CHECK_INT_EQ(secmq_file_request_topic(t, sizeof t, "x", id), SECMQ_OK);
    CHECK_STR_EQ(t, "x/r/abababababababababababababababab");
    CHECK_INT_EQ(secmq_file_manifest_topic(t, sizeof t, "x"), SECMQ_OK);
    CHECK_STR_EQ(t, "x/m");
    CHECK_INT_EQ(secmq_file_manifest_topic(t, sizeof t, "x/#"), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_manifest_topic(t, sizeof t, ""), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_chunk_topic(t, 10, "x", id), SECMQ_E_OVERSIZE);
}

static void test_chunks(void)
{
    unsigned char pt[4096], got[4096], env[4096 + 200];
    char topic[200], other[200];
    secmq_file_manifest m, m2;
    size_t elen = 0, glen = 0;
    uint32_t idx = 99;

    manifest(&m, 10000, "f");
    randombytes_buf(pt, sizeof pt);
    CHECK_INT_EQ(secmq_file_chunk_topic(topic, sizeof topic, "t", m.file_id),
                 SECMQ_OK);
    /* The last chunk has the rest: 10000 - 2 * 4096 = 1808 bytes. */
    CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, 2, sender_sk,
                                       topic, pt, 4096),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, 3, sender_sk,
                                       topic, pt, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, 2, sender_sk,
                                       topic, pt, 1808),
                 SECMQ_OK);
    CHECK_INT_EQ(elen, 1808 + SECMQ_FILE_CHUNK_OVERHEAD);
    CHECK_INT_EQ(secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m, topic,
                                       env, elen),
                 SECMQ_OPEN_OK);
    CHECK_INT_EQ(idx, 2);
    CHECK_MEM_EQ(got, glen, pt, 1808);
    /* A signature checkable with the public key alone (a broker can). */
    {
        secmq_envelope_fields f;
        CHECK_INT_EQ(secmq_envelope_parse(env, elen, &f), SECMQ_OPEN_OK);
        CHECK_INT_EQ(secmq_envelope_verify_signature(&f, topic, sender_pk),
                     SECMQ_OPEN_OK);
    }
    /* Every flipped byte is refused, each with its field's reason. */
    for (size_t i = 0; i < elen; i++) {
        int want, r;
        env[i] ^= 1;
        if (i == 0) {
            want = SECMQ_OPEN_VERSION;
        } else if (i < 26) { /* mode, key id, sender id, seq (index) */
            want = SECMQ_OPEN_MALFORMED;
        } else if (i >= elen - 64) {
            want = SECMQ_OPEN_BAD_SIGNATURE;
        } else {
            want = SECMQ_OPEN_BAD_TAG;
        }
        r = secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m, topic, env,
                                  elen);
        /* A flipped low seq bit gives index 3 (out of range) or 2 -> 3:
         * malformed either way; a changed bit above can also be bad_tag
         * where the index stays in range. */
        CHECKF(r == want || (i >= 18 && i < 26 && r == SECMQ_OPEN_BAD_TAG),
               "byte %zu: reason %d, want %d", i, r, want);
        env[i] ^= 1;
    }
    /* Another topic (another file's), another file key, another sender. */
    memset(m2.file_id, 0, sizeof m2.file_id);
    CHECK_INT_EQ(secmq_file_chunk_topic(other, sizeof other, "t", m2.file_id),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m, other,
                                       env, elen),
                 SECMQ_OPEN_BAD_TAG);
    m2 = m;
    m2.key[0] ^= 1;
    CHECK_INT_EQ(secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m2, topic,
                                       env, elen),
                 SECMQ_OPEN_BAD_TAG);
    m2 = m;
    memcpy(m2.sender_pk, other_pk, 32);
    CHECK_INT_EQ(secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m2, topic,
                                       env, elen),
                 SECMQ_OPEN_MALFORMED);
    /* A chunk signed by another key under the right sender id: refused. */
    CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, 0, other_sk,
                                       topic, pt, 4096),
                 SECMQ_E_INVAL); /* the sender id is not other_sk's */
    /* A short output buffer. */
    CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, 0, sender_sk,
                                       topic, pt, 4096),
                 SECMQ_OK);
    CHECK_INT_EQ(
        secmq_file_chunk_open(got, 4095, &glen, &idx, &m, topic, env, elen),
        SECMQ_OPEN_MALFORMED);
}

/*
 * secmq_file_chunk_seal is exactly the §8.3 envelope: resealed by the rule
 * (channel key = file key, key id = first 8 bytes of the file id, seq =
 * index, topic TOPIC/c/<hex id>) with its own nonce and time, the bytes
 * are the same (Ed25519 is deterministic). The known-answer vectors
 * (tests/vectors/file-v1.json, ctest vectors_file) are sealed that way.
 * And an index past the end is refused even when its (empty) length and
 * the crypto are right.
 */
static void test_chunk_is_section_8_3(void)
{
    unsigned char pt[4096], env[4096 + 200], again[4096 + 200], got[4096];
    unsigned char sid[8];
    char topic[200];
    secmq_file_manifest m;
    secmq_envelope_fields f;
    secmq_seal_params p;
    size_t elen = 0, alen = 0, glen = 0;
    uint32_t idx = 0;

    manifest(&m, 10000, "f");
    randombytes_buf(pt, sizeof pt);
    secmq_identity_id(sid, sender_pk);
    CHECK_INT_EQ(secmq_file_chunk_topic(topic, sizeof topic, "t/u", m.file_id),
                 SECMQ_OK);
    for (uint32_t i = 0; i < m.chunk_count; i++) {
        size_t n = i + 1 < m.chunk_count ? 4096 : 10000 - 2 * 4096;
        CHECK_INT_EQ(secmq_file_chunk_seal(env, sizeof env, &elen, &m, i,
                                           sender_sk, topic, pt, n),
                     SECMQ_OK);
        CHECK_INT_EQ(secmq_envelope_parse(env, elen, &f), SECMQ_OPEN_OK);
        memset(&p, 0, sizeof p);
        p.mode = SECMQ_SEAL_SIGNED;
        p.channel_key = m.key;
        p.key_id = m.file_id;
        p.sender_id = sid;
        p.sender_sk = sender_sk;
        p.seq = i;
        p.time_ms = f.time_ms;
        p.nonce = f.nonce;
        CHECK_INT_EQ(
            secmq_envelope_seal(again, sizeof again, &alen, &p, topic, pt, n),
            SECMQ_OK);
        CHECK_MEM_EQ(again, alen, env, elen);
    }
    /* index 3 = chunk_count, sealed with 0 bytes: no chunk there. */
    p.seq = 3;
    CHECK_INT_EQ(
        secmq_envelope_seal(again, sizeof again, &alen, &p, topic, NULL, 0),
        SECMQ_OK);
    CHECK_INT_EQ(secmq_file_chunk_open(got, sizeof got, &glen, &idx, &m, topic,
                                       again, alen),
                 SECMQ_OPEN_MALFORMED);
}

int main(void)
{
    if (secmq_init() != SECMQ_OK) {
        return 1;
    }
    crypto_sign_keypair(sender_pk, sender_sk);
    crypto_sign_keypair(other_pk, other_sk);
    RUN(test_manifest_round_trip);
    RUN(test_manifest_fields);
    RUN(test_request);
    RUN(test_names);
    RUN(test_name_format_chars);
    RUN(test_name_utf8);
    RUN(test_text_show);
    RUN(test_topics);
    RUN(test_chunks);
    RUN(test_chunk_is_section_8_3);
    return check_exit();
}
