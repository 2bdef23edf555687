/*
 * gen_ratchet_vectors.c -- writes tests/vectors/ratchet-v1.json, the
 * known-answer vectors of channels with epochs (docs/PROTOCOL.md §3.2,
 * §5 SECMQGB3): chains (step keys, step key ids, message keys) from fixed
 * keys, schedules (the current and the lowest held step at a time),
 * SECMQGB3 grant bodies accepted and refused with each reason of §5.1,
 * and envelopes sealed under step keys. Chains and schedules come from
 * libsecmq's ratchet (src/ratchet.c, compiled in); grants and envelopes
 * from its public codecs, each parsed or opened back while the file is
 * written (a refusal must give the reason the vector names), so a run
 * fails when the code disagrees with the vectors it writes.
 *
 * Usage: gen_ratchet_vectors [--out FILE | --check FILE]  (default: stdout)
 * --check (ctest vectors_ratchet) fails when the code's output differs
 * from FILE. tests/vectors/check_ratchet.py checks it independently.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "ratchet_int.h"
#include "vecout.h"

#define TOPIC "light/status"
#define FILTER "light/#"
#define CREATED 1767225600000ull /* 2026-01-01T00:00:00Z */

/* The fixed chains: name, key id and first key from a fill byte. */
static const struct {
    const char *name;
    unsigned fill;
} chains[] = {{"a", 0x20}, {"b", 0x90}};

static void chain_start(size_t c, unsigned char *kid, unsigned char *k0)
{
    fill(kid, SECMQ_ID_BYTES, chains[c].fill);
    fill(k0, SECMQ_KEY_BYTES, chains[c].fill + 0x40);
}

/* k_s of chain c. */
static void chain_key(size_t c, uint32_t s, unsigned char *k)
{
    unsigned char kid[SECMQ_ID_BYTES];

    chain_start(c, kid, k);
    secmq__ratchet_advance(k, s);
}

/* The message key of step key k (§3: the KDF every channel key gets). The
 * envelopes below are sealed from k through the public codec, which
 * derives the same key itself. */
static void message_key(const unsigned char *k, unsigned char *mk)
{
    crypto_kdf_derive_from_key(mk, SECMQ_KEY_BYTES, 1, "secmqenv", k);
}

static void gen_chains(text *t)
{
    static const uint32_t steps[] = {0, 1, 2, 3, 10, 1000};
    unsigned char kid[8], k[32], mk[32], id[8];

    put(t, "  \"chains\": [\n");
    for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++) {
        chain_start(c, kid, k);
        put(t, "    {\"name\": \"%s\", ", chains[c].name);
        put_key(t, "key_id", kid, 8);
        put(t, ", \"start_step\": 0, ");
        put_key(t, "start_key", k, 32);
        put(t, ",\n     \"steps\": [\n");
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            chain_key(c, steps[i], k);
            message_key(k, mk);
            secmq__ratchet_step_id(id, kid, steps[i]);
            put(t, "       {\"step\": %" PRIu32 ", ", steps[i]);
            put_key(t, "chain_key", k, 32);
            put(t, ", ");
            put_key(t, "step_key_id", id, 8);
            put(t, ",\n        ");
            put_key(t, "message_key", mk, 32);
            put(t, "}%s\n", i + 1 < sizeof steps / sizeof steps[0] ? "," : "");
        }
        put(t, "     ]}%s\n",
            c + 1 < sizeof chains / sizeof chains[0] ? "," : "");
    }
    put(t, "  ],\n");
    sodium_memzero(k, sizeof k);
}

static void gen_schedule(text *t)
{
    static const struct {
        const char *name;
        uint32_t period, grace, grant_step;
        uint64_t after; /* now = CREATED + after */
    } rows[] = {
        {"before the start", 1000, 0, 0, 0},
        {"first epoch", 1000, 0, 0, 999},
        {"end of epoch 0, no grace", 1000, 0, 0, 1000},
        {"just past epoch 0, no grace", 1000, 0, 0, 1001},
        {"epoch 1 in grace of 500 ms", 1000, 500, 0, 1500},
        {"just past that grace", 1000, 500, 0, 1501},
        {"one hour epochs, ten minutes grace", 3600000, 600000, 0,
         3 * 3600000ull + 600000},
        {"one minute past that", 3600000, 600000, 0, 3 * 3600000ull + 660000},
        {"grant issued at step 40", 1000, 0, 40, 12345},
        {"largest grace", 1000, 1024000, 0, 2000000},
    };

    put(t, "  \"schedule\": [\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t now = CREATED + rows[i].after;
        put(t,
            "    {\"name\": \"%s\", \"created_ms\": %llu, \"period_ms\": "
            "%" PRIu32 ", \"grace_ms\": %" PRIu32 ", \"grant_step\": %" PRIu32
            ",\n     \"now_ms\": %" PRIu64 ", \"current_step\": %" PRIu32
            ", \"lowest_held\": %" PRIu32 "}%s\n",
            rows[i].name, CREATED, rows[i].period, rows[i].grace,
            rows[i].grant_step, now,
            secmq__ratchet_step_at(CREATED, rows[i].period, now),
            secmq__ratchet_lowest(CREATED, rows[i].period, rows[i].grace,
                                  rows[i].grant_step, now),
            i + 1 < sizeof rows / sizeof rows[0] ? "," : "");
    }
    put(t, "  ],\n");
}

/* ---- grants -------------------------------------------------------------- */

static unsigned char owner_pk[32], owner_sk[64], member_pk[32], member_sk[64];
static unsigned char owner_seed[32], member_seed[32];

/* A SECMQGB3 body by hand (§5), signed with the owner's key whatever its
 * fields say: what a careless or hostile owner could sign. */
static size_t craft(unsigned char *b, const secmq_grant_fields *g,
                    const secmq_grant_ratchet *rt)
{
    unsigned char m[2048];
    size_t n = 0;

    memcpy(m, "secmq-grant-v1", 14);
    n = 14;
    memcpy(m + n, "SECMQGB3", 8);
    memcpy(m + n + 8, g->owner_pk, 32);
    memcpy(m + n + 40, g->member_pk, 32);
    memcpy(m + n + 72, g->key_id, 8);
    memcpy(m + n + 80, g->channel_key, 32);
    m[n + 112] = (unsigned char)(g->epoch >> 24);
    m[n + 113] = (unsigned char)(g->epoch >> 16);
    m[n + 114] = (unsigned char)(g->epoch >> 8);
    m[n + 115] = (unsigned char)g->epoch;
    for (size_t i = 0; i < 8; i++) {
        m[n + 116 + i] = (unsigned char)(g->created_ms >> (56 - 8 * i));
        m[n + 132 + i] = (unsigned char)(g->grace_ms >> (56 - 8 * i));
    }
    memcpy(m + n + 124, g->prev_key_id, 8);
    m[n + 140] = (unsigned char)g->flags;
    m[n + 141] = (unsigned char)(g->filter_len >> 8);
    m[n + 142] = (unsigned char)g->filter_len;
    memcpy(m + n + 143, g->filter, g->filter_len);
    n += 143 + g->filter_len;
    m[n] = (unsigned char)(g->n_publishers >> 8);
    m[n + 1] = (unsigned char)g->n_publishers;
    memcpy(m + n + 2, g->publishers, 32 * g->n_publishers);
    n += 2 + 32 * g->n_publishers;
    for (size_t i = 0; i < 4; i++) {
        m[n + i] = (unsigned char)(rt->period_ms >> (24 - 8 * i));
        m[n + 4 + i] = (unsigned char)(rt->grace_ms >> (24 - 8 * i));
        m[n + 8 + i] = (unsigned char)(rt->step >> (24 - 8 * i));
    }
    n += 12;
    crypto_sign_detached(m + n, NULL, m, n, owner_sk);
    memcpy(b, m + 14, n - 14 + 64);
    return n - 14 + 64;
}

/* The grant every negative starts from: chain a at step 3, the member a
 * publisher, epochs of 1 s with 500 ms of grace. */
static void base_grant(secmq_grant_fields *g, secmq_grant_ratchet *rt,
                       unsigned char *kid, unsigned char *k)
{
    chain_start(0, kid, k);
    chain_key(0, 3, k);
    memset(g, 0, sizeof *g);
    memcpy(g->owner_pk, owner_pk, 32);
    memcpy(g->member_pk, member_pk, 32);
    memcpy(g->key_id, kid, 8);
    memcpy(g->channel_key, k, 32);
    g->epoch = 1;
    g->created_ms = CREATED;
    g->flags = SECMQ_GRANT_MAY_PUBLISH;
    g->filter = FILTER;
    g->filter_len = strlen(FILTER);
    g->publishers = member_pk;
    g->n_publishers = 1;
    rt->period_ms = 1000;
    rt->grace_ms = 500;
    rt->step = 3;
}

static void put_grant(text *t, const char *name, const unsigned char *b,
                      size_t n, const char *result, int last)
{
    secmq_grant_fields g;
    secmq_grant_receipts r;
    secmq_grant_ratchet rt;
    int st = secmq_grant_body_parse_v3(b, n, &g, &r, &rt);

    if (strcmp(secmq_grant_status_name(st), result) != 0) {
        fprintf(stderr, "gen_ratchet_vectors: grant '%s': the code says %s\n",
                name, secmq_grant_status_name(st));
        die("the code disagrees with a grant vector");
    }
    sodium_memzero(&g, sizeof g);
    put(t, "    {\"name\": \"%s\", ", name);
    put_key(t, "owner_seed", owner_seed, 32);
    put(t, ",\n     ");
    put_key(t, "member_seed", member_seed, 32);
    put(t, ",\n     ");
    put_key(t, "body", b, n);
    put(t, ",\n     \"result\": \"%s\"}%s\n", result, last ? "" : ",");
}

static void gen_grants(text *t)
{
    unsigned char b[2048], kid[8], k[32], one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    secmq_grant_fields g;
    secmq_grant_ratchet rt;
    size_t n = 0;

    fill(owner_seed, 32, 0x01);
    fill(member_seed, 32, 0x41);
    crypto_sign_seed_keypair(owner_pk, owner_sk, owner_seed);
    crypto_sign_seed_keypair(member_pk, member_sk, member_seed);
    put(t, "  \"grants\": [\n");
    base_grant(&g, &rt, kid, k);
    if (secmq_grant_body_build_v3(b, sizeof b, &n, &g, NULL, &rt, owner_sk) !=
        SECMQ_OK) {
        die("cannot build the grant");
    }
    put_grant(t, "member publisher, chain a at step 3", b, n, "ok", 0);
    base_grant(&g, &rt, kid, k);
    chain_start(1, kid, k);
    chain_key(1, 0, k);
    memcpy(g.key_id, kid, 8);
    memcpy(g.channel_key, k, 32);
    g.flags = 0;
    g.publishers = owner_pk;
    rt.period_ms = 3600000;
    rt.grace_ms = 600000;
    rt.step = 0;
    if (secmq_grant_body_build_v3(b, sizeof b, &n, &g, NULL, &rt, owner_sk) !=
        SECMQ_OK) {
        die("cannot build the grant");
    }
    put_grant(t, "member subscriber, chain b at step 0, hour epochs", b, n,
              "ok", 0);

    base_grant(&g, &rt, kid, k);
    n = craft(b, &g, &rt);
    put_grant(t, "one byte short", b, n - 1, "malformed", 0);
    b[n - 1] ^= 1;
    put_grant(t, "signature changed", b, n, "bad_signature", 0);
    g.epoch = 0;
    n = craft(b, &g, &rt);
    put_grant(t, "epoch 0", b, n, "bad_epoch", 0);
    base_grant(&g, &rt, kid, k);
    rt.period_ms = 999;
    n = craft(b, &g, &rt);
    put_grant(t, "period of 999 ms", b, n, "bad_ratchet", 0);
    base_grant(&g, &rt, kid, k);
    rt.grace_ms = 1024001;
    n = craft(b, &g, &rt);
    put_grant(t, "grace over 1024 periods", b, n, "bad_ratchet", 0);
    base_grant(&g, &rt, kid, k);
    g.epoch = 2;
    memcpy(g.prev_key_id, one, 8);
    n = craft(b, &g, &rt);
    put_grant(t, "a previous key named", b, n, "bad_ratchet", 0);
    base_grant(&g, &rt, kid, k);
    g.flags = 0x05;
    n = craft(b, &g, &rt);
    put_grant(t, "flag bit 2", b, n, "bad_flags", 0);
    base_grant(&g, &rt, kid, k);
    g.n_publishers = 0;
    g.flags = 0;
    n = craft(b, &g, &rt);
    put_grant(t, "no publisher", b, n, "bad_publishers", 0);
    base_grant(&g, &rt, kid, k);
    g.publishers = owner_pk;
    n = craft(b, &g, &rt);
    put_grant(t, "may publish but not listed", b, n, "publisher_mismatch", 1);
    put(t, "  ],\n");
    sodium_memzero(k, sizeof k);
    sodium_memzero(&g, sizeof g);
}

/* ---- envelopes ----------------------------------------------------------- */

static void gen_envelopes(text *t)
{
    static const struct {
        const char *name;
        size_t chain;
        uint32_t step;
        secmq_seal_mode mode;
    } envs[] = {
        {"signed, chain a step 0", 0, 0, SECMQ_SEAL_SIGNED},
        {"signed, chain a step 1", 0, 1, SECMQ_SEAL_SIGNED},
        {"mac-only, chain a step 10", 0, 10, SECMQ_SEAL_MAC},
        {"signed, chain b step 1000", 1, 1000, SECMQ_SEAL_SIGNED},
    };
    unsigned char kid[8], id[8], k[32], nonce[24], env[512], pt[64];
    unsigned char sid[8], open[64];
    secmq_seal_params p;
    secmq_envelope_fields f;
    size_t n = 0, ptlen = 0, olen = 0;

    secmq_identity_id(sid, member_pk);
    put(t, "  \"envelopes\": [\n");
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        chain_start(envs[i].chain, kid, k);
        chain_key(envs[i].chain, envs[i].step, k);
        secmq__ratchet_step_id(id, kid, envs[i].step);
        fill(nonce, sizeof nonce, 0x70 + (unsigned)i);
        ptlen = (size_t)snprintf((char *)pt, sizeof pt, "epoch %" PRIu32 " on",
                                 envs[i].step);
        memset(&p, 0, sizeof p);
        p.mode = envs[i].mode;
        p.channel_key = k;
        p.key_id = id;
        p.sender_id = sid;
        p.sender_sk = member_sk;
        p.seq = 1000 + i;
        p.time_ms = CREATED + envs[i].step * 1000ull + 250;
        p.nonce = nonce;
        if (secmq_envelope_seal(env, sizeof env, &n, &p, TOPIC, pt, ptlen) !=
                SECMQ_OK ||
            secmq_envelope_parse(env, n, &f) != SECMQ_OPEN_OK ||
            secmq_envelope_open(open, sizeof open, &olen, &f, TOPIC, k,
                                member_pk) != SECMQ_OPEN_OK ||
            olen != ptlen || memcmp(open, pt, ptlen) != 0) {
            die("an envelope does not seal and open");
        }
        put(t,
            "    {\"name\": \"%s\", \"chain\": \"%s\", \"step\": %" PRIu32
            ", \"mode\": \"%s\",\n     ",
            envs[i].name, chains[envs[i].chain].name, envs[i].step,
            envs[i].mode == SECMQ_SEAL_SIGNED ? "signed" : "mac-only");
        put_key(t, "sender_seed", member_seed, 32);
        put(t,
            ",\n     \"topic\": \"%s\", \"seq\": %" PRIu64
            ", \"time_ms\": %" PRIu64 ", ",
            TOPIC, p.seq, p.time_ms);
        put_key(t, "nonce", nonce, sizeof nonce);
        put(t, ",\n     ");
        put_key(t, "plaintext", pt, ptlen);
        put(t, ",\n     ");
        put_key(t, "envelope", env, n);
        put(t, "}%s\n", i + 1 < sizeof envs / sizeof envs[0] ? "," : "");
    }
    put(t, "  ]\n");
    sodium_memzero(k, sizeof k);
}

int main(int argc, char **argv)
{
    text t = {NULL, 0, 0};
    int rc;

    vec_prog = "gen_ratchet_vectors";
    if (secmq_init() != SECMQ_OK) {
        die("secmq_init failed");
    }
    put(&t, "{\n  \"comment\": \"secmq channels with epochs (docs/PROTOCOL.md "
            "3.2, 5: SECMQGB3). Written by gen_ratchet_vectors; checked by "
            "check_ratchet.py. Chain keys and key ids are fixed byte runs; "
            "the owner's and the member's seeds too (the member seals the "
            "envelopes).\",\n");
    gen_chains(&t);
    gen_schedule(&t);
    gen_grants(&t);
    gen_envelopes(&t);
    put(&t, "}\n");
    rc = vec_output(argc, argv, &t);
    free(t.s);
    sodium_memzero(owner_sk, sizeof owner_sk);
    sodium_memzero(member_sk, sizeof member_sk);
    return rc;
}
