/*
 * gen_successor_vectors.c -- writes tests/vectors/successor-v1.json, the
 * known-answer vectors of successor statements (docs/PROTOCOL.md §2.3):
 * statements from fixed seeds with their message M and text, statements a
 * reader refuses (each breaking one rule, with the reason §2.3 gives, and
 * a few breaking two, to pin the order), and a chain A -> B -> C with a
 * conflicting second statement for A. Every text is also parsed by
 * libsecmq's reader (src/identity_succ.c, through the static library)
 * while the file is written: a result other than the vector's, or a
 * statement the library formats differently, fails the run.
 *
 * Usage: gen_successor_vectors [--out FILE | --check FILE]  (default:
 * stdout). --check (ctest vectors_successor) fails when the code's output
 * differs from FILE. tests/vectors/check_successor.py checks it
 * independently.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "identity_int.h"
#include "vecout.h"

#define CREATED 1767225600000ull /* 2026-01-01T00:00:00Z */
#define DAY_MS 86400000ull
#define LINE_BYTES 200u
#define VALUE_BYTES 128u /* a value: base64 of 64 bytes is 89 */
#define TEXT_MAX 1400u
#define NLINES 7u

/* The fixed identities: seed fill bytes. */
enum { K_OLD, K_NEW, K_OTHER, K_A, K_B, K_C, K_D, K_COUNT };
static const unsigned key_fill[K_COUNT] = {0x10, 0x50, 0x30, 0x80,
                                           0xa0, 0xc0, 0xe0};
static unsigned char seed[K_COUNT][32], pk[K_COUNT][32], sk[K_COUNT][64];

/*
 * M = "secmq-successor-v1" || old_pk || new_pk || u64(created_ms) ||
 * u8(name_len) || name, written here from §2.3 so that statements with
 * names the library's struct cannot hold (65 bytes) can be signed too;
 * compared with secmq__succ_message() for every accepted statement.
 */
static size_t build_m(unsigned char *m, const char *name, size_t nlen,
                      const unsigned char *old_pk, const unsigned char *new_pk,
                      uint64_t ms)
{
    size_t n = 0;

    if (nlen > 255) {
        die("name too long for M");
    }
    memcpy(m, "secmq-successor-v1", 18);
    n = 18;
    memcpy(m + n, old_pk, 32);
    n += 32;
    memcpy(m + n, new_pk, 32);
    n += 32;
    for (int i = 7; i >= 0; i--) {
        m[n++] = (unsigned char)(ms >> (8 * i));
    }
    m[n++] = (unsigned char)nlen;
    memcpy(m + n, name, nlen);
    return n + nlen;
}

static void b64(char *out, const unsigned char *b, size_t n)
{
    sodium_bin2base64(out, VALUE_BYTES, b, n, sodium_base64_VARIANT_ORIGINAL);
}

/* The seven lines of a statement, without their "\n". */
typedef struct parts {
    char line[NLINES][LINE_BYTES];
    size_t name_len; /* the name may hold a NUL */
} parts;

/*
 * The lines of a statement by name (nlen bytes) naming new_pk as old_pk's
 * successor at ms, signed by sig_sk over M (of sig_ms) and proved by
 * proof_sk over M (of proof_ms): passing other keys or times than the
 * statement's own breaks a signature on purpose.
 */
static void make(parts *p, const char *name, size_t nlen, int old_k, int new_k,
                 uint64_t ms, int sig_k, uint64_t sig_ms, int proof_k,
                 uint64_t proof_ms)
{
    unsigned char m[SECMQ__SUCC_MSG_MAX + 1], sig[64];
    char v[VALUE_BYTES];
    size_t mlen;

    memset(p, 0, sizeof *p);
    snprintf(p->line[0], LINE_BYTES, "secmq-successor 1");
    if (nlen > LINE_BYTES - 7) {
        die("name too long for a line");
    }
    memcpy(p->line[1], "name: ", 6);
    memcpy(p->line[1] + 6, name, nlen);
    p->name_len = nlen;
    b64(v, pk[old_k], 32);
    snprintf(p->line[2], LINE_BYTES, "old-ed25519: %s", v);
    b64(v, pk[new_k], 32);
    snprintf(p->line[3], LINE_BYTES, "ed25519: %s", v);
    snprintf(p->line[4], LINE_BYTES, "created-ms: %" PRIu64, ms);
    mlen = build_m(m, name, nlen, pk[old_k], pk[new_k], sig_ms);
    crypto_sign_detached(sig, NULL, m, mlen, sk[sig_k]);
    b64(v, sig, 64);
    snprintf(p->line[5], LINE_BYTES, "signature: %s", v);
    mlen = build_m(m, name, nlen, pk[old_k], pk[new_k], proof_ms);
    crypto_sign_detached(sig, NULL, m, mlen, sk[proof_k]);
    b64(v, sig, 64);
    snprintf(p->line[6], LINE_BYTES, "proof: %s", v);
}

/* A well-signed statement. */
static void make_ok(parts *p, const char *name, int old_k, int new_k,
                    uint64_t ms)
{
    make(p, name, strlen(name), old_k, new_k, ms, old_k, ms, new_k, ms);
}

/* The lines in the order given (-1 ends), each with "\n"; the length. */
static size_t join(char *buf, const parts *p, const int *order)
{
    size_t n = 0, l;

    for (size_t i = 0; i < 16 && order[i] >= 0; i++) {
        l = order[i] == 1 ? 6 + p->name_len : strlen(p->line[(size_t)order[i]]);
        if (n + l + 1 > TEXT_MAX) {
            die("statement too long");
        }
        memcpy(buf + n, p->line[(size_t)order[i]], l);
        n += l;
        buf[n++] = '\n';
    }
    return n;
}

static const int in_order[] = {0, 1, 2, 3, 4, 5, 6, -1};

/* Set line i to "<prefix><value>". */
static void set_line(parts *p, size_t i, const char *prefix, const char *value)
{
    size_t a = strlen(prefix), b = strlen(value);

    if (a + b >= LINE_BYTES) {
        die("line too long");
    }
    memcpy(p->line[i], prefix, a);
    memcpy(p->line[i] + a, value, b + 1);
}

/* The value of line i (after ": "). */
static char *value_of(parts *p, size_t i)
{
    char *c = strstr(p->line[i], ": ");

    if (c == NULL) {
        die("a line without \": \"");
    }
    return c + 2;
}

/* Make the base64 value of line i non-canonical: set the unused low bits
 * of its last data character (the bytes a lax decoder gives are the same,
 * so the signatures still verify). */
static void noncanonical(parts *p, size_t i)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *v = value_of(p, i), *last = strchr(v, '=') - 1;
    size_t idx = (size_t)(strchr(alphabet, *last) - alphabet);

    *last = alphabet[idx | 1u];
    if ((size_t)(strchr(alphabet, *last) - alphabet) == idx) {
        die("base64 already non-canonical");
    }
}

/* Flip one bit of the raw bytes behind base64 line i (n bytes). */
static void flip_b64(parts *p, size_t i, size_t n, size_t byte)
{
    unsigned char raw[64];
    char *v = value_of(p, i);
    size_t got = 0;

    if (sodium_base642bin(raw, sizeof raw, v, strlen(v), NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n) {
        die("flip_b64");
    }
    raw[byte] ^= 0x01;
    b64(v, raw, n);
}

static void put_text(text *t, const char *s, size_t n)
{
    put(t, "\"statement\": ");
    put_json_str(t, s, n);
}

/* Parse s with the library: its result must be want. */
static void expect(const char *desc, const char *s, size_t n, int want,
                   secmq__succ *out)
{
    secmq__succ tmp;
    const char *why = NULL;
    int st = secmq__succ_parse(s, n, out != NULL ? out : &tmp, &why);

    if (st != want) {
        fprintf(stderr, "gen_successor_vectors: %s: %s (%s), expected %s\n",
                desc, secmq__succ_status_name(st), why ? why : "-",
                secmq__succ_status_name(want));
        exit(1);
    }
}

/* Each single-byte change (xor 0x01, 0x20 and 0xff), each truncation and
 * an appended byte of the accepted statement s is refused: one spelling
 * per statement, and no change the signatures miss. */
static void every_change_refused(const char *desc, const char *s, size_t n)
{
    static const unsigned char xors[] = {0x01, 0x20, 0xff};
    char buf[TEXT_MAX + 1];
    secmq__succ tmp;

    memcpy(buf, s, n);
    for (size_t i = 0; i < n; i++) {
        for (size_t x = 0; x < sizeof xors; x++) {
            buf[i] = (char)(s[i] ^ xors[x]);
            if (secmq__succ_parse(buf, n, &tmp, NULL) == SECMQ__SUCC_OK) {
                fprintf(stderr,
                        "gen_successor_vectors: %s: byte %zu xor "
                        "0x%02x accepted\n",
                        desc, i, xors[x]);
                exit(1);
            }
        }
        buf[i] = s[i];
    }
    for (size_t k = 0; k < n; k++) {
        if (secmq__succ_parse(s, k, &tmp, NULL) == SECMQ__SUCC_OK) {
            die("a truncated statement accepted");
        }
    }
    buf[n] = '\n';
    if (secmq__succ_parse(buf, n + 1, &tmp, NULL) == SECMQ__SUCC_OK) {
        die("a statement with an appended byte accepted");
    }
}

/* An accepted statement: seeds, keys, M, text; checked through the
 * library's parser, M and formatter. */
static void put_statement(text *t, const char *desc, const char *name,
                          int old_k, int new_k, uint64_t ms, int last)
{
    unsigned char m[SECMQ__SUCC_MSG_MAX], m2[SECMQ__SUCC_MSG_MAX];
    unsigned char id[SECMQ_ID_BYTES];
    char buf[TEXT_MAX], again[TEXT_MAX];
    secmq__succ s;
    parts p;
    size_t n, mlen;

    make_ok(&p, name, old_k, new_k, ms);
    n = join(buf, &p, in_order);
    expect(desc, buf, n, SECMQ__SUCC_OK, &s);
    mlen = build_m(m, name, strlen(name), pk[old_k], pk[new_k], ms);
    if (secmq__succ_message(m2, &s) != mlen || memcmp(m, m2, mlen) != 0 ||
        secmq__succ_format(again, sizeof again, &s) != n ||
        memcmp(again, buf, n) != 0 || strcmp(s.name, name) != 0 ||
        s.created_ms != ms || memcmp(s.old_pk, pk[old_k], 32) != 0 ||
        memcmp(s.new_pk, pk[new_k], 32) != 0) {
        die("the library's M, fields or text differ from the statement's");
    }
    secmq__succ_sign(&s, sk[old_k], sk[new_k]);
    if (secmq__succ_format(again, sizeof again, &s) != n ||
        memcmp(again, buf, n) != 0) {
        die("secmq__succ_sign signs differently");
    }
    every_change_refused(desc, buf, n);
    secmq_identity_id(id, pk[old_k]);
    put(t, "    {\"desc\": ");
    put_str(t, desc);
    put(t, ", \"name\": ");
    put_str(t, name);
    put(t, ", \"created_ms\": %" PRIu64 ",\n     ", ms);
    put_key(t, "old_seed", seed[old_k], 32);
    put(t, ", ");
    put_key(t, "new_seed", seed[new_k], 32);
    put(t, ",\n     ");
    put_key(t, "old_pk", pk[old_k], 32);
    put(t, ", ");
    put_key(t, "new_pk", pk[new_k], 32);
    put(t, ",\n     ");
    put_key(t, "old_id", id, sizeof id);
    put(t, ", \"file\": \"successions/");
    for (size_t i = 0; i < sizeof id; i++) {
        put(t, "%02x", id[i]);
    }
    put(t, ".successor\",\n     ");
    put_key(t, "message", m, mlen);
    put(t, ",\n     ");
    put_text(t, buf, n);
    put(t, ",\n     \"result\": \"ok\"}%s\n", last ? "" : ",");
}

static void gen_statements(text *t)
{
    char longest[SECMQ_NAME_MAX + 1];

    memset(longest, 'x', SECMQ_NAME_MAX);
    memcpy(longest, "A.b_c@d-9", 9);
    longest[SECMQ_NAME_MAX] = '\0';
    put(t, "  \"statements\": [\n");
    put_statement(t, "alice", "alice", K_OLD, K_NEW, CREATED, 0);
    put_statement(t, "a 64-character name of every kind of character", longest,
                  K_OTHER, K_NEW, CREATED + 1, 0);
    put_statement(t, "created-ms 0", "b", K_NEW, K_OLD, 0, 0);
    put_statement(t, "created-ms 2^64 - 1", "c", K_OLD, K_OTHER, UINT64_MAX, 1);
    put(t, "  ],\n");
}

/* One refused statement: the text, and the reason. */
static void put_refused(text *t, const char *desc, const char *s, size_t n,
                        int want, int last)
{
    expect(desc, s, n, want, NULL);
    put(t, "    {\"desc\": ");
    put_str(t, desc);
    put(t, ", \"result\": \"%s\",\n     ", secmq__succ_status_name(want));
    put_text(t, s, n);
    put(t, "}%s\n", last ? "" : ",");
}

/* The statement p in order, refused with want. */
static void refuse(text *t, const char *desc, const parts *p, int want)
{
    char buf[TEXT_MAX];

    put_refused(t, desc, buf, join(buf, p, in_order), want, 0);
}

/* Negatives of the lines' structure and of the first line. */
static void gen_lines(text *t)
{
    static const int no_proof[] = {0, 1, 2, 3, 4, 5, -1},
                     no_created[] = {0, 1, 2, 3, 5, 6, -1},
                     name_twice[] = {0, 1, 1, 2, 3, 4, 5, 6, -1},
                     keys_swapped[] = {0, 1, 3, 2, 4, 5, 6, -1},
                     sigs_swapped[] = {0, 1, 2, 3, 4, 6, 5, -1},
                     no_first[] = {1, 2, 3, 4, 5, 6, -1};
    static const struct {
        const char *desc;
        const int *order;
    } orders[] = {
        {"missing line: proof", no_proof},
        {"missing line: created-ms", no_created},
        {"missing line: the first", no_first},
        {"extra line: name twice", name_twice},
        {"out of order: ed25519 before old-ed25519", keys_swapped},
        {"out of order: proof before signature", sigs_swapped},
    };
    static const struct {
        const char *desc, *first;
    } firsts[] = {
        {"first line: version 2", "secmq-successor 2"},
        {"first line: a public identity file's", "secmq-public 1"},
        {"first line: a trailing space", "secmq-successor 1 "},
        {"first line: upper case", "SECMQ-SUCCESSOR 1"},
    };
    static const struct {
        const char *desc;
        size_t line;
        const char *prefix;
    } prefixes[] = {
        {"line name: 'ed25519-old:' for 'old-ed25519:'", 2, "ed25519-old: "},
        {"line name: 'new-ed25519:' for 'ed25519:'", 3, "new-ed25519: "},
        {"line name: no space after 'created-ms:'", 4, "created-ms:"},
        {"line name: 'Signature:'", 5, "Signature: "},
    };
    char buf[TEXT_MAX], value[VALUE_BYTES];
    parts p;
    size_t n;

    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    put_refused(t, "empty file", "", 0, SECMQ__SUCC_MALFORMED, 0);
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
        put_refused(t, orders[i].desc, buf, join(buf, &p, orders[i].order),
                    SECMQ__SUCC_MALFORMED, 0);
    }
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
        snprintf(p.line[0], LINE_BYTES, "%s", firsts[i].first);
        refuse(t, firsts[i].desc, &p, SECMQ__SUCC_MALFORMED);
    }
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
        snprintf(value, sizeof value, "%s", value_of(&p, prefixes[i].line));
        set_line(&p, prefixes[i].line, prefixes[i].prefix, value);
        refuse(t, prefixes[i].desc, &p, SECMQ__SUCC_MALFORMED);
    }
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    n = 0;
    for (size_t i = 0; i < NLINES; i++) {
        size_t l = strlen(p.line[i]);

        memcpy(buf + n, p.line[i], l);
        memcpy(buf + n + l, "\r\n", 2);
        n += l + 2;
    }
    put_refused(t, "line ends CRLF", buf, n, SECMQ__SUCC_MALFORMED, 0);
    n = join(buf, &p, in_order);
    put_refused(t, "last line without its \\n", buf, n - 1,
                SECMQ__SUCC_MALFORMED, 0);
    memcpy(buf + n, "\n", 1);
    put_refused(t, "trailing bytes: an empty line", buf, n + 1,
                SECMQ__SUCC_MALFORMED, 0);
    buf[n] = '\0';
    put_refused(t, "trailing bytes: a NUL", buf, n + 1, SECMQ__SUCC_MALFORMED,
                0);
    memcpy(buf + n, "comment: x\n", 11);
    put_refused(t, "trailing bytes: an eighth line", buf, n + 11,
                SECMQ__SUCC_MALFORMED, 0);
}

/* Negatives of the base64 values (signatures still valid over M). */
static void gen_base64(text *t)
{
    char value[VALUE_BYTES];
    parts p;
    char *v;

    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    noncanonical(&p, 3);
    refuse(t, "base64: ed25519 not canonical (unused bits set)", &p,
           SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    noncanonical(&p, 5);
    refuse(t, "base64: signature not canonical (unused bits set)", &p,
           SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    *strchr(value_of(&p, 2), '=') = '\0';
    refuse(t, "base64: old-ed25519 without its padding", &p,
           SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    v = value_of(&p, 6);
    if (strpbrk(v, "+/") == NULL) {
        die("the proof's base64 has neither + nor /");
    }
    for (; *v != '\0'; v++) {
        *v = *v == '+' ? '-' : *v == '/' ? '_' : *v;
    }
    refuse(t, "base64: proof in the URL-safe alphabet", &p,
           SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    v = value_of(&p, 3);
    snprintf(value, sizeof value, "%.20s %s", v, v + 20);
    set_line(&p, 3, "ed25519: ", value);
    refuse(t, "base64: a space inside ed25519", &p, SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    b64(value, pk[K_OLD], 31);
    set_line(&p, 2, "old-ed25519: ", value);
    refuse(t, "old-ed25519 of 31 bytes", &p, SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    {
        unsigned char k33[33];

        memcpy(k33, pk[K_NEW], 32);
        k33[32] = 0;
        b64(value, k33, 33);
    }
    set_line(&p, 3, "ed25519: ", value);
    refuse(t, "ed25519 of 33 bytes", &p, SECMQ__SUCC_MALFORMED);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    {
        unsigned char s63[64];
        size_t got = 0;

        v = value_of(&p, 5);
        if (sodium_base642bin(s63, sizeof s63, v, strlen(v), NULL, &got, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            die("signature base64");
        }
        b64(value, s63, 63);
    }
    set_line(&p, 5, "signature: ", value);
    refuse(t, "signature of 63 bytes", &p, SECMQ__SUCC_MALFORMED);
}

/* Negatives of created-ms and of the name (each signed over its own M, so
 * only the one rule is broken). */
static void gen_fields(text *t)
{
    static const struct {
        const char *desc, *value;
    } times[] = {
        {"created-ms: a leading zero", "01767225600000"},
        {"created-ms: 0 written 00", "00"},
        {"created-ms: 2^64", "18446744073709551616"},
        {"created-ms: negative", "-1"},
        {"created-ms: a plus sign", "+1767225600000"},
        {"created-ms: empty", ""},
        {"created-ms: hexadecimal", "0x19b7a4c2400"},
        {"created-ms: a trailing space", "1767225600000 "},
    };
    static const struct {
        const char *desc, *name;
        size_t len;
    } names[] = {
        {"name: empty", "", 0},
        {"name: a space", "al ice", 6},
        {"name: a slash", "al/ice", 6},
        {"name: non-ASCII (e acute)", "al\xc3\xa9", 4},
        {"name: a NUL", "al\0ce", 5},
        {"name: a plus", "al+ice", 6},
    };
    char buf[TEXT_MAX], n65[SECMQ_NAME_MAX + 2];
    parts p;

    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        uint64_t ms = i == 1 ? 0 : CREATED;

        make_ok(&p, "alice", K_OLD, K_NEW, ms);
        set_line(&p, 4, "created-ms: ", times[i].value);
        refuse(t, times[i].desc, &p, SECMQ__SUCC_MALFORMED);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        make(&p, names[i].name, names[i].len, K_OLD, K_NEW, CREATED, K_OLD,
             CREATED, K_NEW, CREATED);
        refuse(t, names[i].desc, &p, SECMQ__SUCC_MALFORMED);
    }
    memset(n65, 'x', SECMQ_NAME_MAX + 1);
    n65[SECMQ_NAME_MAX + 1] = '\0';
    make(&p, n65, SECMQ_NAME_MAX + 1, K_OLD, K_NEW, CREATED, K_OLD, CREATED,
         K_NEW, CREATED);
    put_refused(t, "name: 65 characters", buf, join(buf, &p, in_order),
                SECMQ__SUCC_MALFORMED, 0);
}

/* A statement by name "alice" (old K_OLD, new K_NEW) whose signature is
 * over m instead of M. */
static void sign_other_m(parts *p, size_t line, const char *prefix, int k,
                         const unsigned char *m, size_t mlen)
{
    unsigned char sig[64];
    char v[VALUE_BYTES];

    crypto_sign_detached(sig, NULL, m, mlen, sk[k]);
    b64(v, sig, 64);
    set_line(p, line, prefix, v);
}

/* same_key, bad_signature, bad_proof: well-formed statements. */
static void gen_signatures(text *t)
{
    unsigned char m[SECMQ__SUCC_MSG_MAX + 8];
    char buf[TEXT_MAX];
    size_t mlen;
    parts p;

    make_ok(&p, "alice", K_OLD, K_OLD, CREATED);
    refuse(t, "same_key: new = old, both signatures by it and valid", &p,
           SECMQ__SUCC_SAME_KEY);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_OLD, CREATED + 1, K_NEW,
         CREATED);
    refuse(t, "signature over another M (created-ms + 1)", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    flip_b64(&p, 5, 64, 0);
    refuse(t, "signature: a bit of its first byte flipped", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_NEW, CREATED, K_NEW, CREATED);
    refuse(t, "signature by the new key", &p, SECMQ__SUCC_BAD_SIGNATURE);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_OTHER, CREATED, K_NEW,
         CREATED);
    refuse(t, "signature by a third key", &p, SECMQ__SUCC_BAD_SIGNATURE);
    /* Signatures over Ms an implementation might build by mistake. */
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    mlen = build_m(m, "alice", 5, pk[K_OLD], pk[K_NEW], CREATED);
    for (size_t i = 0; i < 4; i++) { /* created_ms little-endian */
        unsigned char x = m[82 + i];

        m[82 + i] = m[89 - i];
        m[89 - i] = x;
    }
    sign_other_m(&p, 5, "signature: ", K_OLD, m, mlen);
    refuse(t, "signature over M with created_ms little-endian", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    mlen = build_m(m, "alice", 5, pk[K_OLD], pk[K_NEW], CREATED);
    memmove(m + 19, m + 18, mlen - 18);
    m[18] = 0;
    sign_other_m(&p, 5, "signature: ", K_OLD, m, mlen + 1);
    refuse(t, "signature over M with a NUL after the label", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    mlen = build_m(m, "alice", 5, pk[K_OLD], pk[K_NEW], CREATED);
    sign_other_m(&p, 5, "signature: ", K_OLD, m, mlen - 6);
    refuse(t, "signature over M without name_len and name", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_OLD, CREATED, K_NEW,
         CREATED + 1);
    refuse(t, "proof over another M (created-ms + 1)", &p,
           SECMQ__SUCC_BAD_PROOF);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    flip_b64(&p, 6, 64, 63);
    refuse(t, "proof: a bit of its last byte flipped", &p,
           SECMQ__SUCC_BAD_PROOF);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_OLD, CREATED, K_OLD, CREATED);
    put_refused(t, "proof by the old key", buf, join(buf, &p, in_order),
                SECMQ__SUCC_BAD_PROOF, 1);
}

/* Two rules broken: the first of §2.3's order is the reason. */
static void gen_order(text *t)
{
    char buf[TEXT_MAX];
    parts p;
    size_t n;

    put(t, "  \"order\": [\n");
    make(&p, "", 0, K_OLD, K_OLD, CREATED, K_OLD, CREATED, K_OLD, CREATED);
    refuse(t, "empty name and new = old: malformed first", &p,
           SECMQ__SUCC_MALFORMED);
    make(&p, "alice", 5, K_OLD, K_OLD, CREATED, K_OTHER, CREATED, K_OTHER,
         CREATED);
    refuse(t, "new = old, signatures by a third key: same_key first", &p,
           SECMQ__SUCC_SAME_KEY);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_OLD, CREATED + 1, K_NEW,
         CREATED + 1);
    refuse(t, "signature and proof over another M: bad_signature first", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make(&p, "alice", 5, K_OLD, K_NEW, CREATED, K_NEW, CREATED, K_OLD, CREATED);
    refuse(t, "signature and proof swapped: bad_signature first", &p,
           SECMQ__SUCC_BAD_SIGNATURE);
    make_ok(&p, "alice", K_OLD, K_NEW, CREATED);
    flip_b64(&p, 5, 64, 10);
    n = join(buf, &p, in_order);
    buf[n] = '\n';
    put_refused(t, "a trailing byte and a bad signature: malformed first", buf,
                n + 1, SECMQ__SUCC_MALFORMED, 1);
    put(t, "  ],\n");
}

/* One statement of the chain (carol's keys A -> B -> C). */
static void put_link(text *t, int old_k, int new_k, uint64_t ms)
{
    unsigned char m[SECMQ__SUCC_MSG_MAX];
    char buf[TEXT_MAX];
    parts p;
    size_t n;

    make_ok(&p, "carol", old_k, new_k, ms);
    n = join(buf, &p, in_order);
    expect("chain link", buf, n, SECMQ__SUCC_OK, NULL);
    put(t, "{\"created_ms\": %" PRIu64 ", ", ms);
    put_key(t, "old_pk", pk[old_k], 32);
    put(t, ",\n       ");
    put_key(t, "new_pk", pk[new_k], 32);
    put(t, ",\n       ");
    put_key(t, "message", m, build_m(m, "carol", 5, pk[old_k], pk[new_k], ms));
    put(t, ",\n       ");
    put_text(t, buf, n);
    put(t, "}");
}

static void gen_chain(text *t)
{
    put(t, "  \"chain\": {\"desc\": \"carol: A -> B -> C\", \"name\": "
           "\"carol\",\n    \"seeds\": [");
    for (int k = K_A; k <= K_C; k++) {
        put_hex(t, seed[k], 32);
        put(t, "%s", k < K_C ? ",\n              " : "],\n    ");
    }
    put_key(t, "end_pk", pk[K_C], 32);
    put(t, ",\n    \"links\": [\n      ");
    put_link(t, K_A, K_B, CREATED);
    put(t, ",\n      ");
    put_link(t, K_B, K_C, CREATED + 30 * DAY_MS);
    put(t, "],\n    \"conflict\": ");
    put_link(t, K_A, K_D, CREATED + 1);
    put(t, "}\n");
}

int main(int argc, char **argv)
{
    text t = {NULL, 0, 0};
    int rc;

    vec_prog = "gen_successor_vectors";
    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    for (int k = 0; k < K_COUNT; k++) {
        fill(seed[k], 32, key_fill[k]);
        crypto_sign_seed_keypair(pk[k], sk[k], seed[k]);
    }
    put(&t, "{\n  \"comment\": \"secmq successor statements (docs/PROTOCOL.md "
            "2.3). Written by gen_successor_vectors; checked by "
            "check_successor.py. Seeds are fixed byte runs. statements: "
            "accepted, with M and the text; negative: refused, each breaking "
            "one rule, result = the reason; order: two rules broken, result "
            "= the first in order; chain: A -> B -> C under one name, and a "
            "conflicting second statement for A.\",\n");
    gen_statements(&t);
    put(&t, "  \"negative\": [\n");
    gen_lines(&t);
    gen_base64(&t);
    gen_fields(&t);
    gen_signatures(&t);
    put(&t, "  ],\n");
    gen_order(&t);
    gen_chain(&t);
    put(&t, "}\n");
    rc = vec_output(argc, argv, &t);
    free(t.s);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(seed, sizeof seed);
    return rc;
}
