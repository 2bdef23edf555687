/*
 * fuzz_acl.c -- libFuzzer target for the broker plugin's ACL engine: names,
 * pattern substitution, the filter algebra (checked against a reference
 * matcher and its own laws) and compiled ACLs (checked against the rules'
 * definition). Input: flags byte, then user, client id, pattern, filter and
 * topic separated by NUL bytes. Aborts on a broken invariant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "policy.h"

#include "acl_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIECE_MAX (SECMQ_AUTH_TOPIC_MAX + 16)
#define NPIECES 5

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_acl: %s:%d: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Reference substitution, written differently: length first. */
static int ref_subst(const char *pat, const char *u, const char *c, char *out,
                     size_t cap)
{
    size_t need = 0, o = 0, ul = strlen(u), cl = strlen(c);
    size_t n = strlen(pat);

    for (size_t i = 0; i < n; i++) {
        if (pat[i] == '%' && i + 1 < n &&
            (pat[i + 1] == 'u' || pat[i + 1] == 'c')) {
            need += pat[i + 1] == 'u' ? ul : cl;
            i++;
        } else {
            need++;
        }
    }
    if (need + 1 > cap) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == '%' && i + 1 < n &&
            (pat[i + 1] == 'u' || pat[i + 1] == 'c')) {
            const char *s = pat[i + 1] == 'u' ? u : c;
            size_t sl = pat[i + 1] == 'u' ? ul : cl;

            memcpy(out + o, s, sl);
            o += sl;
            i++;
        } else {
            out[o++] = pat[i];
        }
    }
    out[o] = '\0';
    return 0;
}

static void check_name(const char *s)
{
    size_t n = strlen(s);

    if (!secmq__name_ok(s)) {
        return;
    }
    REQUIRE(n >= 1 && n <= SECMQ_AUTH_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        REQUIRE(ch != '+' && ch != '#' && ch != '/' && ch >= 0x20 &&
                ch != 0x7f);
    }
}

static void check_valid(const char *s)
{
    int f = secmq__filter_valid(s), t = secmq__topic_valid(s);

    REQUIRE(!t || f);
    if (t) {
        REQUIRE(strchr(s, '+') == NULL && strchr(s, '#') == NULL);
    }
    if (f) {
        size_t n = strlen(s);

        REQUIRE(n >= 1 && n <= SECMQ_AUTH_TOPIC_MAX);
        REQUIRE(secmq__filter_contains(s, s));
        REQUIRE(secmq__filter_intersects(s, s));
    }
}

static char cand[SECMQ_AUTH_TOPIC_MAX + 8];

/* 1 if the one-byte level c occurs in filter f. */
static int has_level(const char *f, char c)
{
    for (const char *p = f;;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);

        if (n == 1 && p[0] == c) {
            return 1;
        }
        if (q == NULL) {
            return 0;
        }
        p = q + 1;
    }
}

/*
 * Completeness of contains: when b is not inside a, a topic matching b but
 * not a exists, and one is b with every '+' a fresh level (in no level of
 * a) and a final '#' dropped (parent) or one or two fresh levels.
 */
static void check_contains_complete(const char *a, const char *b)
{
    char fresh = 0;
    size_t n = strlen(b), o = 0, base;
    int hash, witness = 0;

    for (int c = 'A'; c <= 'Z'; c++) {
        if (!has_level(a, (char)c)) {
            fresh = (char)c;
            break;
        }
    }
    if (fresh == 0 || n + 5 > SECMQ_AUTH_TOPIC_MAX) {
        return;
    }
    hash = b[n - 1] == '#';
    for (size_t i = 0; i < (hash ? n - 1 : n); i++) {
        cand[o++] = b[i] == '+' ? fresh : b[i];
    }
    /* cand[0..o) is the prefix, with its trailing '/' when hash. */
    base = o;
    /* The parent (k == 0) last: its NUL replaces the prefix's '/'. */
    for (int k = hash ? 2 : 0; k >= 0; k--) {
        o = base;
        if (hash && k == 0) {
            if (o == 0) {
                continue; /* "#" has no parent topic */
            }
            /* Drop the '/'. The parent of "/#" is "", not a valid name
             * but counted by the algebra (conservatively, for denies). */
            o--;
        } else if (hash) {
            cand[o++] = fresh;
            if (k == 2) {
                cand[o++] = '/';
                cand[o++] = fresh;
            }
        }
        cand[o] = '\0';
        REQUIRE(o == 0 || secmq__topic_valid(cand));
        REQUIRE(secmq__topic_matches(b, cand));
        if (!secmq__topic_matches(a, cand)) {
            witness = 1;
        }
    }
    REQUIRE(secmq__filter_contains(a, b) == !witness);
}

/* Laws between two valid filters a, b and a valid topic t (or NULL). */
static void check_laws(const char *a, const char *b, const char *t)
{
    int ab = secmq__filter_contains(a, b);
    int ba = secmq__filter_contains(b, a);
    int x = secmq__filter_intersects(a, b);

    REQUIRE(x == secmq__filter_intersects(b, a));
    check_contains_complete(a, b);
    check_contains_complete(b, a);
    /* A valid filter matches some topic, so containment implies meeting. */
    if (ab || ba) {
        REQUIRE(x);
    }
    if (t == NULL) {
        return;
    }
    {
        int ma = secmq__topic_matches(a, t);
        int mb = secmq__topic_matches(b, t);

        REQUIRE(ma == ref_match(a, t, 1));
        REQUIRE(mb == ref_match(b, t, 1));
        if (ab && mb) {
            REQUIRE(ma);
        }
        if (ba && ma) {
            REQUIRE(mb);
        }
        if (ma && mb) {
            REQUIRE(x);
        }
        /* A topic is a filter matching only itself. */
        REQUIRE(secmq__filter_contains(a, t) == ma);
        REQUIRE(secmq__filter_intersects(a, t) == ma);
        REQUIRE(secmq__filter_contains(t, t));
    }
}

/* A filter made from topic t: level i becomes '+' when bit i of mask is
 * set; with hash, everything from level `cut` on becomes '#'. */
static void generalise(const char *t, unsigned mask, int hash, unsigned cut,
                       char *out, size_t cap)
{
    size_t o = 0;
    unsigned lvl = 0;
    const char *p = t;

    for (;;) {
        const char *q = strchr(p, '/');
        size_t n = q ? (size_t)(q - p) : strlen(p);

        if (hash && lvl == cut) {
            REQUIRE(o + 2 <= cap);
            out[o++] = '#';
            break;
        }
        if (lvl < 32 && (mask >> lvl) & 1u) {
            REQUIRE(o + 2 <= cap);
            out[o++] = '+';
        } else {
            REQUIRE(o + n + 1 <= cap);
            memcpy(out + o, p, n);
            o += n;
        }
        if (q == NULL) {
            break;
        }
        out[o++] = '/';
        p = q + 1;
        lvl++;
    }
    out[o] = '\0';
}

typedef struct frule {
    const char *topic;
    unsigned access;
    int sig;
} frule;

/* What the definition says for a topic, given the effective rules; *sig
 * is 1 when a matching allow rule with WRITE requires signatures. */
static int def_topic(const frule *r, size_t n, const char *t, unsigned bit,
                     int *sig)
{
    int allow = 0;

    *sig = 0;
    for (size_t i = 0; i < n; i++) {
        if (!secmq__topic_matches(r[i].topic, t)) {
            continue;
        }
        if (r[i].access & SECMQ_ACL_DENY) {
            return 0;
        }
        if (r[i].access & bit) {
            allow = 1;
        }
        if ((r[i].access & SECMQ_ACL_WRITE) && r[i].sig) {
            *sig = 1;
        }
    }
    return allow;
}

static int def_filter(const frule *r, size_t n, const char *f)
{
    int allow = 0;

    for (size_t i = 0; i < n; i++) {
        if (r[i].access & SECMQ_ACL_DENY) {
            if (secmq__filter_intersects(r[i].topic, f)) {
                return 0;
            }
        } else if ((r[i].access & SECMQ_ACL_SUBSCRIBE) &&
                   secmq__filter_contains(r[i].topic, f)) {
            allow = 1;
        }
    }
    return allow;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    REQUIRE(d != NULL);
    memcpy(d, s, n);
    return d;
}

static void add_rule(secmq_policy *p, secmq_rule_kind kind, const char *subj,
                     const char *topic, unsigned access, int sig)
{
    secmq_rule *r = &p->rules[p->nrules];

    r->id = (int64_t)p->nrules + 1;
    r->kind = kind;
    r->subject = subj != NULL ? dup_str(subj) : NULL;
    r->topic = dup_str(topic);
    r->access = access;
    r->require_signed = sig;
    p->nrules++;
}

static const unsigned access_of[8] = {
    SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE,
    SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE,
    SECMQ_ACL_WRITE,
    SECMQ_ACL_SUBSCRIBE,
    SECMQ_ACL_DENY,
    SECMQ_ACL_READ,
    SECMQ_ACL_DENY | SECMQ_ACL_READ,
    0,
};

/* Normalised as the engine does: a deny bit only denies. */
static unsigned effective(unsigned access)
{
    return (access & SECMQ_ACL_DENY) ? SECMQ_ACL_DENY : access;
}

static char pieces[NPIECES][PIECE_MAX + 1];
static char subst[SECMQ_AUTH_TOPIC_MAX + 1];
static char refbuf[SECMQ_AUTH_TOPIC_MAX + 1];
static char gen[2 * SECMQ_AUTH_TOPIC_MAX + 8];
static char shared[SECMQ_AUTH_TOPIC_MAX + 64];

static void check_acl(unsigned flags, const char *user, const char *cid,
                      const char *pattern, const char *filter,
                      const char *topic)
{
    secmq_policy p;
    secmq_acl *a = NULL;
    frule eff[4];
    size_t neff = 0;
    int user_ok = secmq__name_ok(user) && secmq__name_ok(cid);
    unsigned pacc = access_of[flags & 7u];
    unsigned facc = access_of[(flags >> 3) & 7u];
    const char *name = user_ok ? user : "u";
    const char *probes[4];
    int sig = -1;

    memset(&p, 0, sizeof p);
    p.users = calloc(1, sizeof *p.users);
    p.rules = calloc(4, sizeof *p.rules);
    REQUIRE(p.users != NULL && p.rules != NULL);
    p.nusers = 1;
    p.users[0].name = dup_str(name);
    p.users[0].hash = dup_str("x");
    p.users[0].disabled = (flags & 0x80u) != 0;
    p.users[0].groups = calloc(1, sizeof(char *));
    REQUIRE(p.users[0].groups != NULL);
    p.users[0].groups[0] = dup_str("g");
    p.users[0].ngroups = 1;

    add_rule(&p, SECMQ_RULE_PATTERN, NULL, pattern, pacc, (flags >> 6) & 1);
    add_rule(&p, SECMQ_RULE_USER, name, filter, facc, 0);
    add_rule(&p, SECMQ_RULE_GROUP, "g", topic, SECMQ_ACL_WRITE, 1);
    add_rule(&p, SECMQ_RULE_USER, "other", "#", SECMQ_ACL_READ, 0);

    REQUIRE(secmq__acl_compile(&p, user, cid, &a) == 0);
    REQUIRE(a != NULL);
    /* The rules as the definition sees them. */
    if (user_ok && !p.users[0].disabled) {
        if (pacc != 0 &&
            secmq__pattern_substitute(pattern, user, cid, subst,
                                      sizeof subst) == 0 &&
            secmq__filter_valid(subst) &&
            !(subst[0] == '$' && pattern[0] != '$')) {
            eff[neff++] = (frule){subst, effective(pacc), (flags >> 6) & 1};
        }
        if (facc != 0 && secmq__filter_valid(filter)) {
            eff[neff++] = (frule){filter, effective(facc), 0};
        }
        if (secmq__filter_valid(topic)) {
            eff[neff++] = (frule){topic, SECMQ_ACL_WRITE, 1};
        }
        if (strcmp(name, "other") == 0) {
            eff[neff++] = (frule){"#", SECMQ_ACL_READ, 0};
        }
    }
    REQUIRE(secmq__acl_count(a) <= neff);
    /* The policy may go before the ACL (ASan sees any dangling use). */
    secmq__policy_clear(&p);

    probes[0] = topic;
    probes[1] = filter;
    probes[2] = neff > 0 ? eff[0].topic : "x";
    probes[3] = "status";
    for (size_t i = 0; i < 4; i++) {
        const char *t = probes[i];

        if (secmq__topic_valid(t)) {
            for (unsigned bit = 1; bit <= SECMQ_ACL_SUBSCRIBE; bit <<= 1) {
                int esig, ok = def_topic(eff, neff, t, bit, &esig);

                REQUIRE(secmq__acl_check_topic(a, t, bit, &sig) == ok);
                if (ok && bit == SECMQ_ACL_WRITE) {
                    REQUIRE(sig == esig);
                }
            }
        } else {
            REQUIRE(secmq__acl_check_topic(a, t, SECMQ_ACL_READ, &sig) == 0);
        }
        if (secmq__filter_valid(t) && strncmp(t, "$share/", 7) != 0) {
            REQUIRE(secmq__acl_check_filter(a, t) == def_filter(eff, neff, t));
            snprintf(shared, sizeof shared, "$share/grp/%s", t);
            REQUIRE(secmq__acl_check_filter(a, shared) ==
                    def_filter(eff, neff, t));
        } else {
            (void)secmq__acl_check_filter(a, t);
        }
    }
    REQUIRE(secmq__acl_only_gained(a, a));
    secmq__acl_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t k = 0, o = 0;
    unsigned flags, mask;
    const char *user, *cid, *pattern, *filter, *topic;
    size_t cap;

    if (size < 1) {
        return 0;
    }
    flags = data[0];
    memset(pieces, 0, sizeof pieces);
    for (size_t i = 1; i < size && k < NPIECES; i++) {
        if (data[i] == 0) {
            pieces[k][o] = '\0';
            k++;
            o = 0;
        } else if (o < PIECE_MAX) {
            pieces[k][o++] = (char)data[i];
        }
    }
    user = pieces[0];
    cid = pieces[1];
    pattern = pieces[2];
    filter = pieces[3];
    topic = pieces[4];

    check_name(user);
    check_name(cid);
    for (int i = 0; i < NPIECES; i++) {
        check_valid(pieces[i]);
    }

    /* Substitution agrees with the reference, for the full buffer and a
     * small one (overflow must fail cleanly). */
    {
        int r =
            secmq__pattern_substitute(pattern, user, cid, subst, sizeof subst);
        int e = ref_subst(pattern, user, cid, refbuf, sizeof refbuf);

        REQUIRE(r == e);
        if (r == 0) {
            REQUIRE(strcmp(subst, refbuf) == 0);
        }
        cap = (size_t)(flags % 40u);
        r = secmq__pattern_substitute(pattern, user, cid, subst, cap);
        e = ref_subst(pattern, user, cid, refbuf, cap);
        REQUIRE(r == e);
        if (r == 0) {
            REQUIRE(strcmp(subst, refbuf) == 0);
        }
        if (secmq__pattern_substitute(pattern, user, cid, subst,
                                      sizeof subst) == 0) {
            check_valid(subst);
            /* SECURITY: good names add no level and no wildcard. */
            if (secmq__name_ok(user) && secmq__name_ok(cid)) {
                size_t sl = 0, pl = 0, sw = 0, pw = 0;

                for (const char *s = subst; *s; s++) {
                    sl += *s == '/';
                    sw += *s == '+' || *s == '#';
                }
                for (const char *s = pattern; *s; s++) {
                    pl += *s == '/';
                    pw += *s == '+' || *s == '#';
                }
                REQUIRE(sl == pl && sw == pw);
            }
        }
    }

    /* The algebra on every valid pair, with the topic if it is one. */
    {
        const char *t = secmq__topic_valid(topic) ? topic : NULL;
        const char *fs[3];
        size_t nf = 0;

        if (secmq__filter_valid(pattern)) {
            fs[nf++] = pattern;
        }
        if (secmq__filter_valid(filter)) {
            fs[nf++] = filter;
        }
        if (t != NULL) {
            mask = (unsigned)data[0] * 0x01010101u;
            generalise(t, mask >> 1, (flags & 1u) != 0, flags % 5u, gen,
                       sizeof gen);
            if (secmq__filter_valid(gen)) {
                REQUIRE(secmq__topic_matches(gen, t) ==
                        (t[0] != '$' || gen[0] == '$'));
                fs[nf++] = gen;
            }
        }
        for (size_t i = 0; i < nf; i++) {
            for (size_t j = 0; j < nf; j++) {
                check_laws(fs[i], fs[j], t);
            }
        }
    }

    check_acl(flags, user, cid, pattern, filter, topic);
    return 0;
}
