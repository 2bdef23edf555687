/*
 * gen_grant_vectors.c -- writes tests/vectors/grant-v1.json, the grant
 * known-answer vectors (PROTOCOL.md §5), from fixed seeds, keys, ids,
 * epochs and times, using libsecmq's grant codec. Everything is fixed but
 * the sealed box (crypto_box_seal is randomised), so `--check FILE`
 * rebuilds every body, checks that the file's "grant" opens with the
 * member's key to exactly that body, and compares the whole file with the
 * regenerated text (the file's grants put back in). ctest runs --check.
 * Usage: gen_grant_vectors [--out FILE | --check FILE]   (default: stdout)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "vecout.h"

#define MAX_PUBS 4
#define MAX_BODY 512
#define MAX_GRANT (MAX_BODY + 64)

/* One vector's inputs. Seeds and keys are filled as start, start+1, ... */
typedef struct vec {
    const char *name;
    unsigned owner_seed0, member_seed0, key_id0, key0, prev0;
    uint32_t epoch;
    uint64_t created_ms, grace_ms;
    unsigned flags;
    const char *filter;
    unsigned pub_seed0[MAX_PUBS]; /* seeds of the publishers */
    size_t npubs;
} vec;

static const vec vectors[] = {
    {"subscriber, epoch 1 (owner seed 00..1f, member seed 20..3f, key id "
     "40..47, channel key 50..6f)",
     0x00,
     0x20,
     0x40,
     0x50,
     0,
     1,
     1700000000000u,
     0,
     0,
     "home/+/status",
     {0x00},
     1},
    {"publisher, epoch 2 after a rotation (previous key id 40..47, grace "
     "deadline created + 1 h)",
     0x00,
     0x70,
     0x48,
     0x90,
     0x40,
     2,
     1700000360000u,
     1700000360000u + 3600000u,
     SECMQ_GRANT_MAY_PUBLISH,
     "sensors/#",
     {0x00, 0x70},
     2},
    {"publisher with mac-only allowed, UTF-8 filter, three publishers",
     0x00,
     0xa0,
     0xc0,
     0xd0,
     0,
     1,
     1700000720000u,
     0,
     SECMQ_GRANT_MAY_PUBLISH | SECMQ_GRANT_ALLOW_MAC,
     "maison/cuisine/lumi\xc3\xa8re",
     {0x00, 0x20, 0xa0},
     3},
    {"the owner as its own member, filter '#', epoch 7",
     0x00,
     0x00,
     0xe0,
     0xf0,
     0xe8,
     7,
     1700001080000u,
     1700001080000u,
     SECMQ_GRANT_MAY_PUBLISH,
     "#",
     {0x00},
     1},
};
#define NVEC (sizeof vectors / sizeof vectors[0])

static void fill(unsigned char *b, size_t n, unsigned start)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (unsigned char)(start + i);
    }
}

static void keypair(unsigned seed0, unsigned char pk[32], unsigned char sk[64],
                    unsigned char seed[32])
{
    fill(seed, 32, seed0);
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* Build vector v's body; its grant is given (hex in the file) or made. */
static void body_of(const vec *v, unsigned char *body, size_t *blen,
                    secmq_grant_fields *g, unsigned char pubs[][32],
                    unsigned char owner_sk[64])
{
    unsigned char seed[32], sk[64];

    memset(g, 0, sizeof *g);
    keypair(v->owner_seed0, g->owner_pk, owner_sk, seed);
    keypair(v->member_seed0, g->member_pk, sk, seed);
    fill(g->key_id, 8, v->key_id0);
    fill(g->channel_key, 32, v->key0);
    g->epoch = v->epoch;
    g->created_ms = v->created_ms;
    if (v->prev0 != 0) {
        fill(g->prev_key_id, 8, v->prev0);
    }
    g->grace_ms = v->grace_ms;
    g->flags = v->flags;
    g->filter = v->filter;
    g->filter_len = strlen(v->filter);
    for (size_t i = 0; i < v->npubs; i++) {
        keypair(v->pub_seed0[i], pubs[i], sk, seed);
    }
    g->publishers = &pubs[0][0];
    g->n_publishers = v->npubs;
    if (secmq_grant_body_build(body, MAX_BODY, blen, g, owner_sk) != SECMQ_OK) {
        die("secmq_grant_body_build failed");
    }
}

static void generate(text *t, unsigned char grants[][MAX_GRANT], size_t *glens,
                     int have_grants)
{
    unsigned char body[MAX_BODY], owner_sk[64], pubs[MAX_PUBS][32];
    unsigned char seed[32], id[8], pk[32], sk[64], bad[MAX_BODY + 1];
    secmq_grant_fields g;
    size_t blen = 0;

    put(t, "{\n  \"version\": 1,\n  \"vectors\": [\n");
    for (size_t i = 0; i < NVEC; i++) {
        const vec *v = &vectors[i];
        body_of(v, body, &blen, &g, pubs, owner_sk);
        if (!have_grants &&
            secmq_grant_seal(grants[i], MAX_GRANT, &glens[i], body, blen,
                             g.member_pk) != SECMQ_OK) {
            die("secmq_grant_seal failed");
        }
        put(t, "    {\"name\": ");
        put_str(t, v->name);
        put(t, ",\n     \"owner_seed\": ");
        fill(seed, 32, v->owner_seed0);
        put_hex(t, seed, 32);
        put(t, ", \"owner_pk\": ");
        put_hex(t, g.owner_pk, 32);
        put(t, ",\n     \"member_seed\": ");
        fill(seed, 32, v->member_seed0);
        put_hex(t, seed, 32);
        put(t, ", \"member_pk\": ");
        put_hex(t, g.member_pk, 32);
        secmq_identity_id(id, g.member_pk);
        put(t, ",\n     \"member_id\": ");
        put_hex(t, id, 8);
        put(t, ", \"key_id\": ");
        put_hex(t, g.key_id, 8);
        put(t, ", \"channel_key\": ");
        put_hex(t, g.channel_key, 32);
        put(t,
            ",\n     \"epoch\": %" PRIu32 ", \"created_ms\": %" PRIu64
            ", \"prev_key_id\": ",
            g.epoch, g.created_ms);
        put_hex(t, g.prev_key_id, 8);
        put(t, ", \"grace_ms\": %" PRIu64 ", \"flags\": %u,\n", g.grace_ms,
            g.flags);
        put(t, "     \"filter\": ");
        put_str(t, v->filter);
        put(t, ",\n     \"publishers\": [");
        for (size_t k = 0; k < v->npubs; k++) {
            put(t, k ? ", " : "");
            put_hex(t, pubs[k], 32);
        }
        put(t, "],\n     \"body\": ");
        put_hex(t, body, blen);
        put(t, ",\n     \"grant\": ");
        put_hex(t, grants[i], glens[i]);
        put(t, "}%s\n", i + 1 < NVEC ? "," : "");
    }
    put(t, "  ],\n  \"negative\": [\n");
    /* A body with one byte appended: lengths must be exact. */
    body_of(&vectors[0], body, &blen, &g, pubs, owner_sk);
    memcpy(bad, body, blen);
    bad[blen] = 0;
    put(t, "    {\"name\": \"vector 0's body with a byte appended\", "
           "\"reason\": \"malformed\",\n     \"body\": ");
    put_hex(t, bad, blen + 1);
    /* A body whose signature does not verify (last byte changed). */
    memcpy(bad, body, blen);
    bad[blen - 1] ^= 0x01;
    put(t, "},\n    {\"name\": \"vector 0's body with its last signature "
           "byte changed\", \"reason\": \"bad_signature\",\n     \"body\": ");
    put_hex(t, bad, blen);
    /* A body whose filter changed ('H' for 'h'): signature fails. */
    memcpy(bad, body, blen);
    bad[143] = 'H';
    put(t, "},\n    {\"name\": \"vector 0's body with its filter changed to "
           "'Home/+/status'\", \"reason\": \"bad_signature\",\n     "
           "\"body\": ");
    put_hex(t, bad, blen);
    /* Vector 0's grant offered to vector 1's member. */
    keypair(vectors[1].member_seed0, pk, sk, seed);
    put(t, "},\n    {\"name\": \"vector 0's grant offered to vector 1's "
           "member\", \"reason\": \"not_for_me\",\n     \"member_seed\": ");
    put_hex(t, seed, 32);
    put(t, ",\n     \"grant\": ");
    put_hex(t, grants[0], glens[0]);
    put(t, "}\n  ]\n}\n");
    sodium_memzero(owner_sk, sizeof owner_sk);
    sodium_memzero(sk, sizeof sk);
}

/* The C side of the checks the committed file's grants must pass. */
static int check_grants(unsigned char grants[][MAX_GRANT], const size_t *glens)
{
    unsigned char body[MAX_BODY], got[MAX_GRANT], owner_sk[64];
    unsigned char pubs[MAX_PUBS][32], seed[32], pk[32], sk[64];
    secmq_grant_fields g, p;
    size_t blen = 0, glen = 0;
    int bad = 0;

    for (size_t i = 0; i < NVEC; i++) {
        body_of(&vectors[i], body, &blen, &g, pubs, owner_sk);
        keypair(vectors[i].member_seed0, pk, sk, seed);
        if (secmq_grant_open(got, sizeof got, &glen, grants[i], glens[i], sk) !=
                SECMQ_GRANT_OK ||
            glen != blen || memcmp(got, body, blen) != 0) {
            fprintf(stderr,
                    "gen_grant_vectors: vector %zu: grant does not "
                    "open to the body\n",
                    i);
            bad = 1;
        }
        if (secmq_grant_body_parse(body, blen, &p) != SECMQ_GRANT_OK ||
            p.epoch != g.epoch || p.flags != g.flags ||
            p.filter_len != g.filter_len || p.n_publishers != g.n_publishers) {
            fprintf(stderr,
                    "gen_grant_vectors: vector %zu: body does not "
                    "parse back\n",
                    i);
            bad = 1;
        }
        /* Another member gets "not for us". */
        keypair(vectors[(i + 1) % NVEC].member_seed0, pk, sk, seed);
        if (memcmp(pk, g.member_pk, 32) != 0 &&
            secmq_grant_open(got, sizeof got, &glen, grants[i], glens[i], sk) !=
                SECMQ_GRANT_NOT_FOR_US) {
            fprintf(stderr,
                    "gen_grant_vectors: vector %zu: opens for "
                    "another member\n",
                    i);
            bad = 1;
        }
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(owner_sk, sizeof owner_sk);
    return bad;
}

static int unhex(unsigned char *out, size_t cap, size_t *len, const char *s,
                 size_t n)
{
    return sodium_hex2bin(out, cap, s, n, NULL, len, NULL);
}

/* The first NVEC "grant" hex strings of the file (the vectors'). */
static int read_grants(const char *buf, unsigned char grants[][MAX_GRANT],
                       size_t *glens)
{
    const char *p = buf, *q;

    for (size_t i = 0; i < NVEC; i++) {
        p = strstr(p, "\"grant\": \"");
        if (p == NULL) {
            return -1;
        }
        p += strlen("\"grant\": \"");
        q = strchr(p, '"');
        if (q == NULL ||
            unhex(grants[i], MAX_GRANT, &glens[i], p, (size_t)(q - p)) != 0) {
            return -1;
        }
        p = q;
    }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    if (fp == NULL) {
        fprintf(stderr, "gen_grant_vectors: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        die("cannot read the vector file");
    }
    fclose(fp);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    static unsigned char grants[NVEC][MAX_GRANT];
    size_t glens[NVEC], flen = 0;
    text t = {NULL, 0, 0};
    char *file;
    int rc = 0;

    vec_prog = "gen_grant_vectors";

    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        file = slurp(argv[2], &flen);
        if (file == NULL) {
            return 1;
        }
        if (read_grants(file, grants, glens) != 0) {
            fprintf(stderr, "gen_grant_vectors: %s: no grants to check\n",
                    argv[2]);
            return 1;
        }
        generate(&t, grants, glens, 1);
        rc = check_grants(grants, glens);
        if (t.len != flen || memcmp(t.s, file, flen) != 0) {
            fprintf(stderr,
                    "gen_grant_vectors: %s differs from what the code "
                    "produces now. If the format changed on purpose (new "
                    "PROTOCOL.md version), regenerate it with --out; "
                    "otherwise the code is wrong.\n",
                    argv[2]);
            rc = 1;
        }
        if (rc == 0) {
            printf("gen_grant_vectors: %s matches the code\n", argv[2]);
        }
        free(file);
    } else if (argc == 3 && strcmp(argv[1], "--out") == 0) {
        generate(&t, grants, glens, 0);
        rc = vec_write_file(argv[2], &t);
    } else if (argc == 1) {
        generate(&t, grants, glens, 0);
        rc = fwrite(t.s, 1, t.len, stdout) == t.len ? 0 : 1;
    } else {
        fprintf(stderr,
                "usage: gen_grant_vectors [--out FILE | --check FILE]\n");
        rc = 2;
    }
    free(t.s);
    return rc;
}
