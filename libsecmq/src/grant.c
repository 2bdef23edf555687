/*
 * grant.c -- the grant codec (PROTOCOL.md §5): build and sign a body (with
 * the receipt fields of §9.1 for a channel with receipts), seal it to a
 * member, open a grant file and parse a body with exact lengths.
 * Pure: no files, no trust decisions (keyadmin.c and keystore.c decide
 * whom to believe and which epoch is new).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes_int.h"
#include "grant_int.h"
#include "ratchet_int.h"
#include "secmq_int.h"
#include "topicfilter_int.h"

#define GRANT_MAGIC "SECMQGR1"
#define BODY_MAGIC "SECMQGB1"
#define BODY_MAGIC_RCPT "SECMQGB2"
#define BODY_MAGIC_RATCHET "SECMQGB3"
/* period_ms, grace_ms and step of a SECMQGB3 body (§3.2). */
#define RATCHET_FIXED_BYTES 12u
/* rt_len, need and n_rcpt of a SECMQGB2 body. */
#define RCPT_FIXED_BYTES 6u
#define MAGIC_BYTES 8u
#define SIG_CONTEXT "secmq-grant-v1"
#define SIG_CONTEXT_BYTES 14u
/* Bodies up to this size are verified from a stack buffer. */
#define VERIFY_STACK_BYTES 2048u
/* Publisher lists up to this long are checked for repeats on the stack. */
#define DISTINCT_STACK 512u

/* Offsets in the body (PROTOCOL.md §5). */
enum {
    OFF_OWNER = 8,
    OFF_MEMBER = 40,
    OFF_KEY_ID = 72,
    OFF_KEY = 80,
    OFF_EPOCH = 112,
    OFF_CREATED = 116,
    OFF_PREV = 124,
    OFF_GRACE = 132,
    OFF_FLAGS = 140,
    OFF_FILTER_LEN = 141,
    OFF_FILTER = 143
};

static int all_zero(const unsigned char *p, size_t n)
{
    unsigned char acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

const char *secmq_grant_status_name(int status)
{
    switch (status) {
    case SECMQ_GRANT_OK:
        return "ok";
    case SECMQ_GRANT_MALFORMED:
        return "malformed";
    case SECMQ_GRANT_NOT_FOR_US:
        return "not_for_me";
    case SECMQ_GRANT_BAD_SEAL:
        return "bad_seal";
    case SECMQ_GRANT_BAD_SIGNATURE:
        return "bad_signature";
    case SECMQ_GRANT_BAD_EPOCH:
        return "bad_epoch";
    case SECMQ_GRANT_BAD_FLAGS:
        return "bad_flags";
    case SECMQ_GRANT_BAD_PUBLISHERS:
        return "bad_publishers";
    case SECMQ_GRANT_PUBLISHER_MISMATCH:
        return "publisher_mismatch";
    case SECMQ_GRANT_BAD_RECEIPTS:
        return "bad_receipts";
    case SECMQ_GRANT_BAD_RATCHET:
        return "bad_ratchet";
    default:
        return "unknown";
    }
}

/* PROTOCOL.md §5.1: epoch 1 names no previous key; no previous key means
 * no grace deadline; a key is never its own predecessor. */
static int epoch_ok(uint32_t epoch, const unsigned char *key_id,
                    const unsigned char *prev_key_id, uint64_t grace_ms)
{
    int no_prev = all_zero(prev_key_id, SECMQ_ID_BYTES);

    if (epoch == 0 || (epoch == 1 && !no_prev) || (no_prev && grace_ms != 0)) {
        return 0;
    }
    return no_prev ||
           memcmp(key_id, prev_key_id, SECMQ_ID_BYTES) != 0; /* not secret */
}

static int pk_cmp(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;

    return memcmp(x, y, SECMQ_SIGN_PK_BYTES); /* not secret: public keys */
}

/* 1 if the n keys at pubs are all different, 0 if one repeats, -1 when
 * there is no memory to check a long list. */
static int pubs_distinct(const unsigned char *pubs, size_t n)
{
    const unsigned char *stackv[DISTINCT_STACK];
    const unsigned char **v = stackv;
    int ok = 1;

    if (n > DISTINCT_STACK) {
        v = malloc(n * sizeof *v);
        if (v == NULL) {
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = pubs + i * SECMQ_SIGN_PK_BYTES;
    }
    qsort(v, n, sizeof *v, pk_cmp);
    for (size_t i = 1; i < n && ok; i++) {
        ok = pk_cmp(&v[i - 1], &v[i]) != 0;
    }
    if (v != stackv) {
        free(v);
    }
    return ok;
}

/* 1 if pk is one of the n keys at pubs. */
static int pubs_has(const unsigned char *pubs, size_t n,
                    const unsigned char *pk)
{
    const unsigned char *p;

    for (size_t i = 0; i < n; i++) {
        p = pubs + i * SECMQ_SIGN_PK_BYTES;
        if (memcmp(p, pk, SECMQ_SIGN_PK_BYTES) == 0) { /* not secret */
            return 1;
        }
    }
    return 0;
}

/*
 * The field rules of PROTOCOL.md §5.1 after the signature, in order:
 * SECMQ_GRANT_OK or the first that fails.
 */
static int fields_check(uint32_t epoch, const unsigned char *key_id,
                        const unsigned char *prev_key_id, uint64_t grace_ms,
                        unsigned flags, const unsigned char *member_pk,
                        const unsigned char *pubs, size_t npub)
{
    int d;

    if (!epoch_ok(epoch, key_id, prev_key_id, grace_ms)) {
        return SECMQ_GRANT_BAD_EPOCH;
    }
    if ((flags & ~SECMQ_GRANT_KNOWN_FLAGS) != 0) {
        return SECMQ_GRANT_BAD_FLAGS;
    }
    if (npub == 0) {
        return SECMQ_GRANT_BAD_PUBLISHERS;
    }
    d = pubs_distinct(pubs, npub);
    if (d < 0) {
        return SECMQ_GRANT_MALFORMED;
    }
    if (d == 0) {
        return SECMQ_GRANT_BAD_PUBLISHERS;
    }
    /* SECURITY: one rule for both sides. Receivers authorise senders by
     * the publishers list (§4.2 step 6); a flag that says otherwise would
     * let a member seal messages every receiver refuses, or keep a listed
     * publisher from publishing. */
    if (((flags & SECMQ_GRANT_MAY_PUBLISH) != 0) !=
        pubs_has(pubs, npub, member_pk)) {
        return SECMQ_GRANT_PUBLISHER_MISMATCH;
    }
    return SECMQ_GRANT_OK;
}

/* PROTOCOL.md §5.1 rule 7, for a body with receipts. */
static int receipts_check(const secmq_grant_receipts *r)
{
    int d;

    if (r->n_receipters == 0 || r->need > r->n_receipters) {
        return SECMQ_GRANT_BAD_RECEIPTS;
    }
    d = pubs_distinct(r->receipters, r->n_receipters);
    if (d < 0) {
        return SECMQ_GRANT_MALFORMED;
    }
    return d == 0 ? SECMQ_GRANT_BAD_RECEIPTS : SECMQ_GRANT_OK;
}

static int has_receipts(const secmq_grant_receipts *r)
{
    return r != NULL && r->topic != NULL;
}

static int is_magic(const unsigned char *body, const char *magic)
{
    return memcmp(body, magic, MAGIC_BYTES) == 0; /* not secret: magics */
}

static int has_ratchet(const secmq_grant_ratchet *rt)
{
    return rt != NULL && rt->period_ms != 0;
}

/* PROTOCOL.md §3.2 / §5.1 [bad_ratchet]: allowed epoch length and grace,
 * and no previous key (a rotation starts a fresh chain). */
static int ratchet_check(const secmq_grant_ratchet *rt,
                         const unsigned char *prev_key_id, uint64_t grace_ms)
{
    if (!secmq__ratchet_valid(rt->period_ms, rt->grace_ms) ||
        !all_zero(prev_key_id, SECMQ_ID_BYTES) || grace_ms != 0) {
        return SECMQ_GRANT_BAD_RATCHET;
    }
    return SECMQ_GRANT_OK;
}

size_t secmq_grant_body_size(size_t filter_len, size_t n_publishers)
{
    if (filter_len < 1 || filter_len > 65535u || n_publishers > 65535u) {
        return 0;
    }
    return SECMQ_GRANT_BODY_FIXED_BYTES + filter_len +
           SECMQ_SIGN_PK_BYTES * n_publishers + SECMQ_GRANT_SIG_BYTES;
}

size_t secmq_grant_body_size_v2(size_t filter_len, size_t n_publishers,
                                const secmq_grant_receipts *r)
{
    size_t base = secmq_grant_body_size(filter_len, n_publishers);

    if (base == 0 || !has_receipts(r)) {
        return base;
    }
    if (r->topic_len < 1 || r->topic_len > SECMQ_TOPIC_MAX ||
        r->n_receipters > 65535u) {
        return 0;
    }
    return base + RCPT_FIXED_BYTES + r->topic_len +
           SECMQ_SIGN_PK_BYTES * r->n_receipters;
}

size_t secmq_grant_body_size_v3(size_t filter_len, size_t n_publishers,
                                const secmq_grant_receipts *r,
                                const secmq_grant_ratchet *rt)
{
    size_t base = secmq_grant_body_size_v2(filter_len, n_publishers, r);

    if (base == 0 || !has_ratchet(rt)) {
        return base;
    }
    if (has_receipts(r)) {
        return 0; /* no receipts on a ratcheted channel (§3.2) */
    }
    return base + RATCHET_FIXED_BYTES;
}

/* Write the receipt fields of r at p (PROTOCOL.md §5, SECMQGB2). */
static void put_receipts(unsigned char *p, const secmq_grant_receipts *r)
{
    secmq__put_u16(p, (uint32_t)r->topic_len);
    memcpy(p + 2, r->topic, r->topic_len);
    p += 2 + r->topic_len;
    secmq__put_u16(p, r->need);
    secmq__put_u16(p + 2, (uint32_t)r->n_receipters);
    memcpy(p + 4, r->receipters, SECMQ_SIGN_PK_BYTES * r->n_receipters);
}

int secmq_grant_body_build(unsigned char *out, size_t out_cap, size_t *out_len,
                           const secmq_grant_fields *g,
                           const unsigned char *owner_sk)
{
    return secmq_grant_body_build_v2(out, out_cap, out_len, g, NULL, owner_sk);
}

int secmq_grant_body_build_v2(unsigned char *out, size_t out_cap,
                              size_t *out_len, const secmq_grant_fields *g,
                              const secmq_grant_receipts *r,
                              const unsigned char *owner_sk)
{
    return secmq_grant_body_build_v3(out, out_cap, out_len, g, r, NULL,
                                     owner_sk);
}

int secmq_grant_body_build_v3(unsigned char *out, size_t out_cap,
                              size_t *out_len, const secmq_grant_fields *g,
                              const secmq_grant_receipts *r,
                              const secmq_grant_ratchet *rt,
                              const unsigned char *owner_sk)
{
    unsigned char sig[SECMQ_GRANT_SIG_BYTES];
    unsigned char *b;
    size_t size, unsigned_len, pub_end;
    int rcpt = has_receipts(r);
    int ratchet = has_ratchet(rt);

    if (out == NULL || out_len == NULL || g == NULL || owner_sk == NULL ||
        g->filter == NULL || (g->publishers == NULL && g->n_publishers > 0) ||
        g->flags > 0xffu ||
        (rcpt && (r->receipters == NULL || r->need > 65535u))) {
        return SECMQ_E_INVAL;
    }
    size = secmq_grant_body_size_v3(g->filter_len, g->n_publishers, r, rt);
    if (size == 0 || !secmq__filter_valid(g->filter, g->filter_len) ||
        fields_check(g->epoch, g->key_id, g->prev_key_id, g->grace_ms, g->flags,
                     g->member_pk, g->publishers,
                     g->n_publishers) != SECMQ_GRANT_OK) {
        return SECMQ_E_INVAL;
    }
    if (rcpt && (!secmq__topic_valid(r->topic, r->topic_len) ||
                 receipts_check(r) != SECMQ_GRANT_OK)) {
        return SECMQ_E_INVAL;
    }
    if (ratchet &&
        ratchet_check(rt, g->prev_key_id, g->grace_ms) != SECMQ_GRANT_OK) {
        return SECMQ_E_INVAL;
    }
    if (out_cap < size) {
        return SECMQ_E_OVERSIZE;
    }
    unsigned_len = size - SECMQ_GRANT_SIG_BYTES;
    /* Build "secmq-grant-v1" || body in place, sign it, then slide the body
     * down over the context: no allocation. The context (14 bytes) is
     * shorter than the signature, so it fits in out_cap. */
    b = out + SIG_CONTEXT_BYTES;
    memcpy(out, SIG_CONTEXT, SIG_CONTEXT_BYTES);
    memcpy(b,
           rcpt      ? BODY_MAGIC_RCPT
           : ratchet ? BODY_MAGIC_RATCHET
                     : BODY_MAGIC,
           MAGIC_BYTES);
    memcpy(b + OFF_OWNER, g->owner_pk, SECMQ_SIGN_PK_BYTES);
    memcpy(b + OFF_MEMBER, g->member_pk, SECMQ_SIGN_PK_BYTES);
    memcpy(b + OFF_KEY_ID, g->key_id, SECMQ_ID_BYTES);
    memcpy(b + OFF_KEY, g->channel_key, SECMQ_KEY_BYTES);
    secmq__put_u32(b + OFF_EPOCH, g->epoch);
    secmq__put_u64(b + OFF_CREATED, g->created_ms);
    memcpy(b + OFF_PREV, g->prev_key_id, SECMQ_ID_BYTES);
    secmq__put_u64(b + OFF_GRACE, g->grace_ms);
    b[OFF_FLAGS] = (unsigned char)g->flags;
    secmq__put_u16(b + OFF_FILTER_LEN, (uint32_t)g->filter_len);
    memcpy(b + OFF_FILTER, g->filter, g->filter_len);
    secmq__put_u16(b + OFF_FILTER + g->filter_len, (uint32_t)g->n_publishers);
    if (g->n_publishers > 0) {
        memcpy(b + OFF_FILTER + g->filter_len + 2, g->publishers,
               SECMQ_SIGN_PK_BYTES * g->n_publishers);
    }
    pub_end =
        OFF_FILTER + g->filter_len + 2 + SECMQ_SIGN_PK_BYTES * g->n_publishers;
    if (rcpt) {
        put_receipts(b + pub_end, r);
    }
    if (ratchet) {
        secmq__put_u32(b + pub_end, rt->period_ms);
        secmq__put_u32(b + pub_end + 4, rt->grace_ms);
        secmq__put_u32(b + pub_end + 8, rt->step);
    }
    crypto_sign_detached(sig, NULL, out, SIG_CONTEXT_BYTES + unsigned_len,
                         owner_sk);
    memmove(out, b, unsigned_len);
    memcpy(out + unsigned_len, sig, sizeof sig);
    *out_len = size;
    return SECMQ_OK;
}

/* Verify the owner's signature over "secmq-grant-v1" || body[0..n). */
static int verify(const unsigned char *body, size_t n, const unsigned char *sig,
                  const unsigned char *owner_pk)
{
    unsigned char stackbuf[VERIFY_STACK_BYTES];
    unsigned char *m = stackbuf;
    int ok;

    if (n > sizeof stackbuf - SIG_CONTEXT_BYTES) {
        m = malloc(SIG_CONTEXT_BYTES + n);
        if (m == NULL) {
            return -1;
        }
    }
    memcpy(m, SIG_CONTEXT, SIG_CONTEXT_BYTES);
    memcpy(m + SIG_CONTEXT_BYTES, body, n);
    ok = crypto_sign_verify_detached(sig, m, SIG_CONTEXT_BYTES + n, owner_pk) ==
         0;
    /* SECURITY: the body holds the channel key. */
    sodium_memzero(m, SIG_CONTEXT_BYTES + n);
    if (m != stackbuf) {
        free(m);
    }
    return ok ? 0 : -1;
}

/* Split the receipt fields of a SECMQGB2 body, which start at off, into r
 * (pointers into body). 0, or -1 when they do not fit len exactly. */
static int get_receipts(const unsigned char *body, size_t len, size_t off,
                        secmq_grant_receipts *r)
{
    size_t tlen, nr;

    if (len < off + 2) {
        return -1;
    }
    tlen = secmq__get_u16(body + off);
    if (len < off + 2 + tlen + 4) {
        return -1;
    }
    r->topic = (const char *)body + off + 2;
    r->topic_len = tlen;
    r->need = secmq__get_u16(body + off + 2 + tlen);
    nr = secmq__get_u16(body + off + 4 + tlen);
    r->receipters = body + off + 6 + tlen;
    r->n_receipters = nr;
    /* SECURITY: exact length, no trailing bytes. */
    if (len != off + RCPT_FIXED_BYTES + tlen + SECMQ_SIGN_PK_BYTES * nr +
                   SECMQ_GRANT_SIG_BYTES ||
        tlen > SECMQ_TOPIC_MAX || !secmq__topic_valid(r->topic, tlen)) {
        return -1;
    }
    return 0;
}

int secmq_grant_body_parse(const unsigned char *body, size_t len,
                           secmq_grant_fields *g)
{
    return secmq_grant_body_parse_v2(body, len, g, NULL);
}

/*
 * The body parser behind every parse entry point. r NULL refuses SECMQGB2,
 * rt NULL refuses SECMQGB3 (as the readers from before them do). With
 * check_sig 0 the owner's signature is not verified (a body the keyring
 * verified at import and keeps sealed with its own key, §5.3).
 */
static int parse_any(const unsigned char *body, size_t len,
                     secmq_grant_fields *g, secmq_grant_receipts *r,
                     secmq_grant_ratchet *rt, int check_sig)
{
    secmq_grant_receipts rs;
    secmq_grant_ratchet rts;
    size_t flen, npub, size;
    int st, rcpt, ratchet;

    if (g == NULL) {
        return SECMQ_GRANT_MALFORMED;
    }
    sodium_memzero(g, sizeof *g);
    memset(&rs, 0, sizeof rs);
    memset(&rts, 0, sizeof rts);
    if (r != NULL) {
        memset(r, 0, sizeof *r);
    }
    if (rt != NULL) {
        memset(rt, 0, sizeof *rt);
    }
    if (body == NULL || len < SECMQ_GRANT_BODY_FIXED_BYTES + 1) {
        return SECMQ_GRANT_MALFORMED;
    }
    rcpt = r != NULL && is_magic(body, BODY_MAGIC_RCPT);
    ratchet = rt != NULL && is_magic(body, BODY_MAGIC_RATCHET);
    if (!rcpt && !ratchet && !is_magic(body, BODY_MAGIC)) {
        return SECMQ_GRANT_MALFORMED;
    }
    flen = secmq__get_u16(body + OFF_FILTER_LEN);
    if (flen < 1 || len < OFF_FILTER + flen + 2) {
        return SECMQ_GRANT_MALFORMED;
    }
    npub = secmq__get_u16(body + OFF_FILTER + flen);
    size = secmq_grant_body_size(flen, npub);
    if (rcpt) {
        if (size == 0 ||
            get_receipts(body, len, size - SECMQ_GRANT_SIG_BYTES, &rs) != 0) {
            return SECMQ_GRANT_MALFORMED;
        }
        /* SECURITY: exact length, no trailing bytes (get_receipts). */
    } else if (ratchet) {
        /* SECURITY: exact length, no trailing bytes. */
        if (size == 0 || len != size + RATCHET_FIXED_BYTES) {
            return SECMQ_GRANT_MALFORMED;
        }
        rts.period_ms = secmq__get_u32(body + size - SECMQ_GRANT_SIG_BYTES);
        rts.grace_ms = secmq__get_u32(body + size - SECMQ_GRANT_SIG_BYTES + 4);
        rts.step = secmq__get_u32(body + size - SECMQ_GRANT_SIG_BYTES + 8);
    } else if (size == 0 || size != len) {
        /* SECURITY: exact length, no trailing bytes. */
        return SECMQ_GRANT_MALFORMED;
    }
    if (!secmq__filter_valid((const char *)body + OFF_FILTER, flen)) {
        return SECMQ_GRANT_MALFORMED;
    }
    if (check_sig &&
        verify(body, len - SECMQ_GRANT_SIG_BYTES,
               body + len - SECMQ_GRANT_SIG_BYTES, body + OFF_OWNER) != 0) {
        return SECMQ_GRANT_BAD_SIGNATURE;
    }
    /* Only signed fields are judged (PROTOCOL.md §5.1 order: the ratchet,
     * rule 3a, right after the epoch, rule 3). */
    st = SECMQ_GRANT_OK;
    if (ratchet) {
        st = epoch_ok(secmq__get_u32(body + OFF_EPOCH), body + OFF_KEY_ID,
                      body + OFF_PREV, secmq__get_u64(body + OFF_GRACE))
                 ? ratchet_check(&rts, body + OFF_PREV,
                                 secmq__get_u64(body + OFF_GRACE))
                 : SECMQ_GRANT_BAD_EPOCH;
    }
    if (st == SECMQ_GRANT_OK) {
        st = fields_check(secmq__get_u32(body + OFF_EPOCH), body + OFF_KEY_ID,
                          body + OFF_PREV, secmq__get_u64(body + OFF_GRACE),
                          body[OFF_FLAGS], body + OFF_MEMBER,
                          body + OFF_FILTER + flen + 2, npub);
    }
    if (st == SECMQ_GRANT_OK && rcpt) {
        st = receipts_check(&rs);
    }
    if (st != SECMQ_GRANT_OK) {
        return st;
    }
    if (r != NULL) {
        *r = rs;
    }
    if (rt != NULL) {
        *rt = rts;
    }
    memcpy(g->owner_pk, body + OFF_OWNER, SECMQ_SIGN_PK_BYTES);
    memcpy(g->member_pk, body + OFF_MEMBER, SECMQ_SIGN_PK_BYTES);
    memcpy(g->key_id, body + OFF_KEY_ID, SECMQ_ID_BYTES);
    memcpy(g->channel_key, body + OFF_KEY, SECMQ_KEY_BYTES);
    g->epoch = secmq__get_u32(body + OFF_EPOCH);
    g->created_ms = secmq__get_u64(body + OFF_CREATED);
    memcpy(g->prev_key_id, body + OFF_PREV, SECMQ_ID_BYTES);
    g->grace_ms = secmq__get_u64(body + OFF_GRACE);
    g->flags = body[OFF_FLAGS];
    g->filter = (const char *)body + OFF_FILTER;
    g->filter_len = flen;
    g->publishers = body + OFF_FILTER + flen + 2;
    g->n_publishers = npub;
    return SECMQ_GRANT_OK;
}

int secmq_grant_body_parse_v2(const unsigned char *body, size_t len,
                              secmq_grant_fields *g, secmq_grant_receipts *r)
{
    return parse_any(body, len, g, r, NULL, 1);
}

int secmq_grant_body_parse_v3(const unsigned char *body, size_t len,
                              secmq_grant_fields *g, secmq_grant_receipts *r,
                              secmq_grant_ratchet *rt)
{
    if (r == NULL || rt == NULL) {
        if (g != NULL) {
            sodium_memzero(g, sizeof *g);
        }
        return SECMQ_GRANT_MALFORMED;
    }
    return parse_any(body, len, g, r, rt, 1);
}

int secmq__grant_body_parse_kept(const unsigned char *body, size_t len,
                                 secmq_grant_fields *g, secmq_grant_ratchet *rt)
{
    secmq_grant_receipts r;

    return parse_any(body, len, g, &r, rt, 0);
}

size_t secmq__grant_key_offset(void)
{
    return OFF_KEY;
}

size_t secmq_grant_file_size(size_t body_len)
{
    if (body_len >
        SIZE_MAX - SECMQ_GRANT_HEADER_BYTES - SECMQ_GRANT_SEAL_BYTES) {
        return 0;
    }
    return SECMQ_GRANT_HEADER_BYTES + SECMQ_GRANT_SEAL_BYTES + body_len;
}

int secmq_grant_seal(unsigned char *out, size_t out_cap, size_t *out_len,
                     const unsigned char *body, size_t body_len,
                     const unsigned char *member_pk)
{
    unsigned char xpk[crypto_scalarmult_curve25519_BYTES];
    size_t size = secmq_grant_file_size(body_len);

    if (out == NULL || out_len == NULL || body == NULL || member_pk == NULL ||
        size == 0) {
        return SECMQ_E_INVAL;
    }
    if (out_cap < size) {
        return SECMQ_E_OVERSIZE;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, member_pk) != 0) {
        return SECMQ_E_INVAL;
    }
    memcpy(out, GRANT_MAGIC, MAGIC_BYTES);
    secmq_identity_id(out + MAGIC_BYTES, member_pk);
    if (crypto_box_seal(out + SECMQ_GRANT_HEADER_BYTES, body, body_len, xpk) !=
        0) {
        return SECMQ_E_INVAL;
    }
    *out_len = size;
    return SECMQ_OK;
}

int secmq_grant_open(unsigned char *body, size_t cap, size_t *body_len,
                     const unsigned char *grant, size_t grant_len,
                     const unsigned char *member_sk)
{
    unsigned char xpk[crypto_scalarmult_curve25519_BYTES];
    unsigned char xsk[crypto_scalarmult_curve25519_SCALARBYTES];
    unsigned char id[SECMQ_ID_BYTES];
    size_t n;
    int rc;

    if (body == NULL || body_len == NULL || grant == NULL ||
        member_sk == NULL ||
        grant_len < SECMQ_GRANT_HEADER_BYTES + SECMQ_GRANT_SEAL_BYTES ||
        memcmp(grant, GRANT_MAGIC, MAGIC_BYTES) != 0) { /* not secret */
        return SECMQ_GRANT_MALFORMED;
    }
    n = grant_len - SECMQ_GRANT_HEADER_BYTES - SECMQ_GRANT_SEAL_BYTES;
    if (cap < n) {
        return SECMQ_GRANT_MALFORMED;
    }
    /* The public key is the second half of libsodium's secret key. */
    secmq_identity_id(id, member_sk + 32);
    if (sodium_memcmp(id, grant + MAGIC_BYTES, SECMQ_ID_BYTES) != 0) {
        return SECMQ_GRANT_NOT_FOR_US;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, member_sk + 32) != 0) {
        return SECMQ_GRANT_MALFORMED;
    }
    crypto_sign_ed25519_sk_to_curve25519(xsk, member_sk);
    rc = SECMQ_GRANT_OK;
    if (crypto_box_seal_open(body, grant + SECMQ_GRANT_HEADER_BYTES,
                             grant_len - SECMQ_GRANT_HEADER_BYTES, xpk,
                             xsk) != 0) {
        sodium_memzero(body, n);
        rc = SECMQ_GRANT_BAD_SEAL;
    } else {
        *body_len = n;
    }
    sodium_memzero(xsk, sizeof xsk);
    return rc;
}
