/*
 * gen_grant_vectors.c -- writes tests/vectors/grant-v1.json, the grant
 * known-answer vectors (PROTOCOL.md §5), from fixed seeds, keys, ids,
 * epochs and times, using libsecmq's grant codec. Everything is fixed but
 * the sealed box (crypto_box_seal is randomised), so `--check FILE`
 * rebuilds every body, checks that the file's "grant" opens with the
 * member's key to exactly that body, and compares the whole file with the
 * regenerated text (the file's grants put back in). The negatives of
 * §5.1's field rules are bodies validly signed by the owner (encoded and
 * signed here by hand: the codec refuses to build them), and --check
 * also checks that the codec refuses each with the reason it names.
 * ctest runs --check.
 * Usage: gen_grant_vectors [--out FILE | --check FILE]   (default: stdout)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "grantcraft.h"
#include "vecout.h"

#define MAX_PUBS 4
/* Sealed grants in the file: the vectors', the "not_for_me" negative (a
 * copy of vector 0's) and the "publisher_mismatch" negative. */
#define NSEALED (NVEC + 2)
#define MISMATCH_GRANT (NVEC + 1)
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

/* A body that breaks one field rule of PROTOCOL.md §5.1, signed validly
 * by the owner: vector base with the change named by kind. */
typedef struct crafted {
    const char *name, *reason;
    size_t base;
    int kind;
} crafted;

enum {
    K_EPOCH0 = 1,
    K_EPOCH1_PREV,
    K_GRACE_NO_PREV,
    K_PREV_IS_KEY,
    K_FLAG4,
    K_NO_PUBS,
    K_PUB_TWICE,
    K_FLAG_NOT_LISTED,
    K_LISTED_NO_FLAG
};

static const crafted craftv[] = {
    {"vector 0 with epoch 0", "bad_epoch", 0, K_EPOCH0},
    {"vector 0 (epoch 1) naming a previous key id 38..3f", "bad_epoch", 0,
     K_EPOCH1_PREV},
    {"vector 1 (epoch 2) with no previous key id but grace_ms still set",
     "bad_epoch", 1, K_GRACE_NO_PREV},
    {"vector 1 with its previous key id equal to its key id", "bad_epoch", 1,
     K_PREV_IS_KEY},
    {"vector 0 with flag bit 2 (0x04) set", "bad_flags", 0, K_FLAG4},
    {"vector 0 with no publishers", "bad_publishers", 0, K_NO_PUBS},
    {"vector 1 listing the owner twice", "bad_publishers", 1, K_PUB_TWICE},
    {"vector 0 with may-publish set while its member is not listed",
     "publisher_mismatch", 0, K_FLAG_NOT_LISTED},
    {"vector 1 with may-publish clear while its member is listed",
     "publisher_mismatch", 1, K_LISTED_NO_FLAG},
};
#define NCRAFT (sizeof craftv / sizeof craftv[0])
/* The crafted body that is also given as a sealed grant. */
#define MISMATCH_CRAFT 7u

/* Encode g (PROTOCOL.md §5) and sign it with owner_sk, no rules applied
 * (the test helper tests/common/grantcraft.c). */
static size_t encode_signed(unsigned char *b, const secmq_grant_fields *g,
                            const unsigned char *owner_sk)
{
    return tc_grant_craft(b, MAX_BODY, g, NULL, owner_sk);
}

/* Crafted negative c's body into body (MAX_BODY), its member key in
 * member_pk. */
static size_t craft_body(const crafted *c, unsigned char *body,
                         unsigned char member_pk[32])
{
    unsigned char tmp[MAX_BODY], owner_sk[64], pubs[MAX_PUBS][32];
    unsigned char twice[MAX_PUBS + 1][32];
    secmq_grant_fields g;
    size_t blen = 0;

    body_of(&vectors[c->base], tmp, &blen, &g, pubs, owner_sk);
    switch (c->kind) {
    case K_EPOCH0:
        g.epoch = 0;
        break;
    case K_EPOCH1_PREV:
        fill(g.prev_key_id, 8, 0x38);
        break;
    case K_GRACE_NO_PREV:
        memset(g.prev_key_id, 0, 8);
        break;
    case K_PREV_IS_KEY:
        memcpy(g.prev_key_id, g.key_id, 8);
        break;
    case K_FLAG4:
        g.flags |= 0x04u;
        break;
    case K_NO_PUBS:
        g.n_publishers = 0;
        break;
    case K_PUB_TWICE:
        memcpy(twice, pubs, 32 * g.n_publishers);
        memcpy(twice[g.n_publishers], pubs[0], 32);
        g.publishers = &twice[0][0];
        g.n_publishers++;
        break;
    case K_FLAG_NOT_LISTED:
        g.flags |= SECMQ_GRANT_MAY_PUBLISH;
        break;
    default:
        g.flags &= ~SECMQ_GRANT_MAY_PUBLISH;
        break;
    }
    blen = encode_signed(body, &g, owner_sk);
    memcpy(member_pk, g.member_pk, 32);
    sodium_memzero(owner_sk, sizeof owner_sk);
    return blen;
}

/* Sealed grants [0, nhave) are given (from a file); the others are made. */
static void generate(text *t, unsigned char grants[][MAX_GRANT], size_t *glens,
                     size_t nhave)
{
    unsigned char body[MAX_BODY], owner_sk[64], pubs[MAX_PUBS][32];
    unsigned char seed[32], id[8], pk[32], sk[64], bad[MAX_BODY + 1];
    secmq_grant_fields g;
    size_t blen = 0;

    put(t, "{\n  \"version\": 1,\n  \"vectors\": [\n");
    for (size_t i = 0; i < NVEC; i++) {
        const vec *v = &vectors[i];
        body_of(v, body, &blen, &g, pubs, owner_sk);
        if (i >= nhave &&
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
    /* PROTOCOL.md §5.1's field rules, each in a validly signed body. */
    for (size_t c = 0; c < NCRAFT; c++) {
        blen = craft_body(&craftv[c], bad, pk);
        put(t, "},\n    {\"name\": ");
        put_str(t, craftv[c].name);
        put(t, ", \"reason\": \"%s\",\n     \"body\": ", craftv[c].reason);
        put_hex(t, bad, blen);
    }
    /* The mismatch also as a grant file, sealed to its member. */
    blen = craft_body(&craftv[MISMATCH_CRAFT], bad, pk);
    if (MISMATCH_GRANT >= nhave &&
        secmq_grant_seal(grants[MISMATCH_GRANT], MAX_GRANT,
                         &glens[MISMATCH_GRANT], bad, blen, pk) != SECMQ_OK) {
        die("secmq_grant_seal failed");
    }
    fill(seed, 32, vectors[craftv[MISMATCH_CRAFT].base].member_seed0);
    put(t, "},\n    {\"name\": \"a sealed grant of '");
    put(t, "%s", craftv[MISMATCH_CRAFT].name);
    put(t,
        "': refused at import\", \"reason\": \"%s\",\n"
        "     \"member_seed\": ",
        craftv[MISMATCH_CRAFT].reason);
    put_hex(t, seed, 32);
    put(t, ",\n     \"grant\": ");
    put_hex(t, grants[MISMATCH_GRANT], glens[MISMATCH_GRANT]);
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
    /* The codec refuses every crafted body with the reason named. */
    for (size_t c = 0; c < NCRAFT; c++) {
        int st;
        blen = craft_body(&craftv[c], body, pk);
        st = secmq_grant_body_parse(body, blen, &p);
        if (strcmp(secmq_grant_status_name(st), craftv[c].reason) != 0) {
            fprintf(stderr,
                    "gen_grant_vectors: negative '%s': the codec says %s, "
                    "the vector %s\n",
                    craftv[c].name, secmq_grant_status_name(st),
                    craftv[c].reason);
            bad = 1;
        }
    }
    /* The sealed mismatch opens for its member to exactly that body,
     * which is then refused. */
    blen = craft_body(&craftv[MISMATCH_CRAFT], body, pk);
    keypair(vectors[craftv[MISMATCH_CRAFT].base].member_seed0, pk, sk, seed);
    if (secmq_grant_open(got, sizeof got, &glen, grants[MISMATCH_GRANT],
                         glens[MISMATCH_GRANT], sk) != SECMQ_GRANT_OK ||
        glen != blen || memcmp(got, body, blen) != 0 ||
        secmq_grant_body_parse(got, glen, &p) !=
            SECMQ_GRANT_PUBLISHER_MISMATCH) {
        fprintf(stderr, "gen_grant_vectors: the sealed publisher_mismatch "
                        "grant does not open to its body, or is accepted\n");
        bad = 1;
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

/* The first n "grant" hex strings of the file, in order. */
static int read_grants(const char *buf, unsigned char grants[][MAX_GRANT],
                       size_t *glens, size_t n)
{
    const char *p = buf, *q;

    for (size_t i = 0; i < n; i++) {
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
    static unsigned char grants[NSEALED][MAX_GRANT];
    size_t glens[NSEALED], flen = 0;
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
        if (read_grants(file, grants, glens, NSEALED) != 0) {
            fprintf(stderr, "gen_grant_vectors: %s: no grants to check\n",
                    argv[2]);
            return 1;
        }
        generate(&t, grants, glens, NSEALED);
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
    } else if (argc == 4 && strcmp(argv[1], "--extend") == 0) {
        /* Keep the sealed grants of an older file (argv[2]) that has
         * fewer of them; seal only the new ones; write argv[3]. */
        size_t have = 0;
        const char *p;
        file = slurp(argv[2], &flen);
        if (file == NULL) {
            return 1;
        }
        for (p = file; (p = strstr(p, "\"grant\": \"")) != NULL; p++) {
            have++;
        }
        if (have > NSEALED || read_grants(file, grants, glens, have) != 0) {
            die("cannot read the older file's grants");
        }
        generate(&t, grants, glens, have);
        rc = vec_write_file(argv[3], &t);
        free(file);
    } else if (argc == 1) {
        generate(&t, grants, glens, 0);
        rc = fwrite(t.s, 1, t.len, stdout) == t.len ? 0 : 1;
    } else {
        fprintf(stderr, "usage: gen_grant_vectors [--out FILE | --check FILE "
                        "| --extend OLD NEW]\n");
        rc = 2;
    }
    free(t.s);
    return rc;
}
