/*
 * test_acl.c -- unit tests for the broker plugin's ACL engine
 * (broker-plugin/acl.c and policy.c): the filter algebra as tables and
 * against brute force over a small topic universe, pattern substitution,
 * names, and compiled ACLs on the issue's seed policy and variations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "policy.h"

#include "acl_ref.h"
#include "check.h"

/* --- building policies -------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d == NULL) {
        abort();
    }
    memcpy(d, s, n);
    return d;
}

static int user_cmp(const void *a, const void *b)
{
    return strcmp(((const secmq_user *)a)->name, ((const secmq_user *)b)->name);
}

/* Adds a user with up to two groups (NULL for none); keeps users sorted. */
static void add_user(secmq_policy *p, const char *name, int disabled,
                     const char *g1, const char *g2)
{
    secmq_user *u;
    secmq_user *nu = realloc(p->users, (p->nusers + 1) * sizeof *nu);

    if (nu == NULL) {
        abort();
    }
    p->users = nu;
    u = &p->users[p->nusers++];
    memset(u, 0, sizeof *u);
    u->name = dup_str(name);
    u->hash = dup_str("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
    u->disabled = disabled;
    u->groups = calloc(2, sizeof *u->groups);
    if (u->groups == NULL) {
        abort();
    }
    if (g1 != NULL) {
        u->groups[u->ngroups++] = dup_str(g1);
    }
    if (g2 != NULL) {
        u->groups[u->ngroups++] = dup_str(g2);
    }
    qsort(p->users, p->nusers, sizeof *p->users, user_cmp);
}

static void add_rule(secmq_policy *p, secmq_rule_kind kind, const char *subj,
                     const char *topic, unsigned access, int require_signed)
{
    secmq_rule *r;
    secmq_rule *nr = realloc(p->rules, (p->nrules + 1) * sizeof *nr);

    if (nr == NULL) {
        abort();
    }
    p->rules = nr;
    r = &p->rules[p->nrules];
    memset(r, 0, sizeof *r);
    r->id = (int64_t)p->nrules + 1;
    p->nrules++;
    r->kind = kind;
    r->subject = subj != NULL ? dup_str(subj) : NULL;
    r->topic = dup_str(topic);
    r->access = access;
    r->require_signed = require_signed;
}

#define RD (SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE)
#define RW (SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE)
#define WR SECMQ_ACL_WRITE
#define DENY SECMQ_ACL_DENY

/* The issue's seed: sam may write status, alice may read it, eve nothing. */
static void seed_policy(secmq_policy *p)
{
    memset(p, 0, sizeof *p);
    add_user(p, "sam", 0, NULL, NULL);
    add_user(p, "alice", 0, NULL, NULL);
    add_user(p, "eve", 0, NULL, NULL);
    add_rule(p, SECMQ_RULE_USER, "sam", "status", WR, 0);
    add_rule(p, SECMQ_RULE_USER, "alice", "status", RD, 0);
}

static secmq_acl *compile(const secmq_policy *p, const char *user,
                          const char *cid)
{
    secmq_acl *a = NULL;

    if (secmq__acl_compile(p, user, cid, &a) != 0) {
        return NULL;
    }
    return a;
}

static int can(const secmq_acl *a, unsigned access, const char *topic)
{
    return secmq__acl_check_topic(a, topic, access, NULL);
}

/* --- filter algebra tables ---------------------------------------------- */

static void test_filter_valid(void)
{
    static const struct {
        const char *s;
        int filter, topic;
    } t[] = {
        {"a", 1, 1},      {"a/b/c", 1, 1}, {"/", 1, 1},
        {"/a", 1, 1},     {"a/", 1, 1},    {"a//b", 1, 1},
        {"$SYS/x", 1, 1}, {"#", 1, 0},     {"+", 1, 0},
        {"a/#", 1, 0},    {"+/+", 1, 0},   {"a/+/b", 1, 0},
        {"/#", 1, 0},     {"+/#", 1, 0},   {"", 0, 0},
        {"a#", 0, 0},     {"#a", 0, 0},    {"a/#/b", 0, 0},
        {"#/", 0, 0},     {"+a", 0, 0},    {"a+", 0, 0},
        {"a/b+/c", 0, 0}, {"##", 0, 0},    {"++", 0, 0},
        {"a/+b", 0, 0},   {"a b/c", 1, 1}, {"\xc3\xa9t\xc3\xa9", 1, 1},
    };
    char big[SECMQ_AUTH_TOPIC_MAX + 2];

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECKF(secmq__filter_valid(t[i].s) == t[i].filter,
               "filter_valid(\"%s\") != %d", t[i].s, t[i].filter);
        CHECKF(secmq__topic_valid(t[i].s) == t[i].topic,
               "topic_valid(\"%s\") != %d", t[i].s, t[i].topic);
    }
    CHECK(!secmq__filter_valid(NULL));
    CHECK(!secmq__topic_valid(NULL));
    memset(big, 'a', sizeof big);
    big[SECMQ_AUTH_TOPIC_MAX] = '\0';
    CHECK(secmq__filter_valid(big));
    CHECK(secmq__topic_valid(big));
    big[SECMQ_AUTH_TOPIC_MAX] = 'a';
    big[SECMQ_AUTH_TOPIC_MAX + 1] = '\0';
    CHECK(!secmq__filter_valid(big));
    CHECK(!secmq__topic_valid(big));
}

static void test_matches_table(void)
{
    static const struct {
        const char *f, *t;
        int m;
    } t[] = {
        {"status", "status", 1}, {"status", "status/x", 0},
        {"status", "statu", 0},  {"status", "Status", 0},
        {"a/b", "a/b", 1},       {"a/b", "a/b/", 0},
        {"a/#", "a", 1},         {"a/#", "a/", 1},
        {"a/#", "a/b/c", 1},     {"a/#", "b", 0},
        {"a/#", "ab", 0},        {"#", "a", 1},
        {"#", "/", 1},           {"#", "a/b/c", 1},
        {"#", "$SYS", 0},        {"#", "$SYS/broker/uptime", 0},
        {"+", "a", 1},           {"+", "a/b", 0},
        {"+", "/", 0},           {"+", "$SYS", 0},
        {"+/#", "$SYS/x", 0},    {"+/+", "/", 1},
        {"+/+", "/a", 1},        {"+/a", "/a", 1},
        {"/+", "/", 1},          {"a/+", "a/", 1},
        {"a/+", "a", 0},         {"a/+/c", "a//c", 1},
        {"a/+/c", "a/b/c", 1},   {"a/+/c", "a/b/d", 0},
        {"a//b", "a//b", 1},     {"a//b", "a/b", 0},
        {"$SYS/#", "$SYS", 1},   {"$SYS/#", "$SYS/a/b", 1},
        {"$SYS/+", "$SYS/a", 1}, {"x/+/#", "x/$y", 1},
        {"x/#", "x/$y/z", 1},    {"/#", "/", 1},
        {"/#", "a", 0},          {"+/#", "a", 1},
        {"+/#", "/", 1},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECKF(secmq__topic_matches(t[i].f, t[i].t) == t[i].m,
               "matches(\"%s\", \"%s\") != %d", t[i].f, t[i].t, t[i].m);
    }
    CHECK(!secmq__topic_matches(NULL, "a"));
    CHECK(!secmq__topic_matches("a", NULL));
}

static void test_contains_intersects_table(void)
{
    static const struct {
        const char *a, *b;
        int contains, intersects;
    } t[] = {
        {"status", "status", 1, 1},
        {"status", "#", 0, 1},
        {"status", "+", 0, 1},
        {"status", "status/#", 0, 1},
        {"status/#", "status", 1, 1},
        {"a/#", "a/+/b", 1, 1},
        {"a/#", "a/#", 1, 1},
        {"a/#", "a", 1, 1},
        {"a/#", "#", 0, 1},
        {"a/#", "a/+", 1, 1},
        {"a/+", "a/#", 0, 1},
        {"a/+", "a/b", 1, 1},
        {"a/b", "a/+", 0, 1},
        {"a/+", "a/b/c", 0, 0},
        {"a/+/c", "a/b/+", 0, 1},
        {"a/b", "a/c", 0, 0},
        {"a", "b/#", 0, 0},
        {"#", "#", 1, 1},
        {"#", "+", 1, 1},
        {"#", "a/b", 1, 1},
        {"#", "$SYS/#", 0, 0},
        {"#", "$SYS/x", 0, 0},
        {"#", "$SYS", 0, 0},
        {"+", "$SYS", 0, 0},
        {"+/#", "$SYS/#", 0, 0},
        {"+/x", "$SYS/+", 0, 0},
        {"$SYS/#", "$SYS/a", 1, 1},
        {"$SYS/#", "#", 0, 0},
        {"$SYS/#", "+/a", 0, 0},
        {"$SYS/+", "$SYS/#", 0, 1},
        {"+", "+", 1, 1},
        {"+", "#", 0, 1},
        {"+/+", "+/#", 0, 1},
        {"+/#", "#", 1, 1},
        {"#", "+/#", 1, 1},
        {"a//b", "a/+/b", 0, 1},
        {"a/+/b", "a//b", 1, 1},
        {"/#", "/", 1, 1},
        /* Only the empty topic "" (not a valid name) is in both: the
         * algebra counts it, which is conservative for deny rules. */
        {"/#", "+", 0, 1},
        {"+", "/", 0, 0},
        {"x/#", "x/$y", 1, 1},
        {"x/+", "x/$y", 1, 1},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECKF(secmq__filter_contains(t[i].a, t[i].b) == t[i].contains,
               "contains(\"%s\", \"%s\") != %d", t[i].a, t[i].b, t[i].contains);
        CHECKF(secmq__filter_intersects(t[i].a, t[i].b) == t[i].intersects,
               "intersects(\"%s\", \"%s\") != %d", t[i].a, t[i].b,
               t[i].intersects);
        CHECKF(secmq__filter_intersects(t[i].b, t[i].a) == t[i].intersects,
               "intersects(\"%s\", \"%s\") not symmetric", t[i].b, t[i].a);
    }
}

/* --- the algebra against brute force ----------------------------------- */

#define NLV 6
static const char *const flev[NLV] = {"a", "b", "", "$x", "+", "#"};
#define NTLV 5
static const char *const tlev[NTLV] = {"a", "b", "", "$x", "z"};

/* Every valid filter of 1..3 levels over flev into out; returns the count. */
static size_t all_filters(char (*out)[16], size_t cap)
{
    size_t n = 0;
    size_t total = NLV + NLV * NLV + NLV * NLV * NLV;

    for (size_t k = 0; k < total; k++) {
        size_t v = k, depth;
        char buf[16] = "";

        if (v < NLV) {
            depth = 1;
        } else if (v < NLV + NLV * NLV) {
            depth = 2;
            v -= NLV;
        } else {
            depth = 3;
            v -= NLV + NLV * NLV;
        }
        for (size_t d = 0; d < depth; d++) {
            size_t len = strlen(buf);

            snprintf(buf + len, sizeof buf - len, "%s%s", d ? "/" : "",
                     flev[v % NLV]);
            v /= NLV;
        }
        if (secmq__filter_valid(buf) && n < cap) {
            memcpy(out[n++], buf, sizeof buf);
        }
    }
    return n;
}

/* Every topic of 1..4 levels over tlev. */
static size_t all_topics(char (*out)[16], size_t cap)
{
    size_t n = 0, per = 1;

    for (size_t depth = 1; depth <= 4; depth++) {
        per *= NTLV;
        for (size_t k = 0; k < per; k++) {
            size_t v = k;
            char buf[16] = "";

            for (size_t d = 0; d < depth; d++) {
                size_t len = strlen(buf);

                snprintf(buf + len, sizeof buf - len, "%s%s", d ? "/" : "",
                         tlev[v % NTLV]);
                v /= NTLV;
            }
            if (n < cap) {
                memcpy(out[n++], buf, sizeof buf);
            }
        }
    }
    return n;
}

static char filters[400][16];
static char topics[800][16];
static unsigned char mtab[400][800];

/*
 * contains(a, b) iff every universe topic matching b matches a, and
 * intersects(a, b) iff some universe topic matches both: exact, since the
 * universe has a level ("z") in no filter and one level more than any.
 */
static void test_algebra_brute_force(void)
{
    size_t nf = all_filters(filters, 400);
    size_t nt = all_topics(topics, 800);

    CHECK(nf > 150);
    CHECK(nt == 5 + 25 + 125 + 625);
    for (size_t i = 0; i < nf; i++) {
        for (size_t j = 0; j < nt; j++) {
            int r = ref_match(filters[i], topics[j], 1);

            mtab[i][j] = (unsigned char)r;
            CHECKF(secmq__topic_matches(filters[i], topics[j]) == r,
                   "matches(\"%s\", \"%s\") != ref %d", filters[i], topics[j],
                   r);
        }
    }
    for (size_t a = 0; a < nf; a++) {
        CHECKF(secmq__filter_contains(filters[a], filters[a]),
               "!contains(\"%s\", itself)", filters[a]);
        for (size_t b = 0; b < nf; b++) {
            int cont = 1, inter = 0;

            for (size_t j = 0; j < nt; j++) {
                if (mtab[b][j] && !mtab[a][j]) {
                    cont = 0;
                }
                if (mtab[a][j] && mtab[b][j]) {
                    inter = 1;
                }
            }
            CHECKF(secmq__filter_contains(filters[a], filters[b]) == cont,
                   "contains(\"%s\", \"%s\") != %d", filters[a], filters[b],
                   cont);
            CHECKF(secmq__filter_intersects(filters[a], filters[b]) == inter,
                   "intersects(\"%s\", \"%s\") != %d", filters[a], filters[b],
                   inter);
        }
    }
}

/*
 * A compiled ACL of random rules over the same universe must answer
 * check_topic exactly like the definition evaluated with topic_matches,
 * and check_filter like the definition with contains/intersects.
 */
static void test_compiled_against_definition(void)
{
    size_t nf = all_filters(filters, 400);
    size_t nt = all_topics(topics, 800);
    uint32_t rng = 12345;
    static const unsigned accs[] = {
        SECMQ_ACL_READ, WR, SECMQ_ACL_SUBSCRIBE, RD, RW, DENY};

    for (int round = 0; round < 60; round++) {
        secmq_policy p;
        secmq_acl *a;
        size_t nrules;

        memset(&p, 0, sizeof p);
        add_user(&p, "u", 0, NULL, NULL);
        rng = rng * 1103515245u + 12345u;
        nrules = 1 + (rng >> 16) % (round < 30 ? 4 : 25);
        for (size_t r = 0; r < nrules; r++) {
            unsigned acc;
            int sig;

            rng = rng * 1103515245u + 12345u;
            acc = accs[(rng >> 16) % 6];
            /* Fewer denies: otherwise almost everything is refused. */
            if (acc == DENY && (rng >> 8) % 3 != 0) {
                acc = RW;
            }
            sig = (int)((rng >> 4) & 1);
            rng = rng * 1103515245u + 12345u;
            add_rule(&p, SECMQ_RULE_USER, "u", filters[(rng >> 16) % nf], acc,
                     sig);
        }
        a = compile(&p, "u", "c");
        CHECK(a != NULL);
        CHECK(secmq__acl_count(a) <= nrules);
        for (size_t j = 0; j < nt; j++) {
            if (topics[j][0] == '\0') {
                continue; /* "" is not a topic name */
            }
            for (unsigned bit = 1; bit <= SECMQ_ACL_SUBSCRIBE; bit <<= 1) {
                int allow = 0, deny = 0, sig = 0, got_sig = -1, got;

                for (size_t r = 0; r < p.nrules; r++) {
                    const secmq_rule *ru = &p.rules[r];

                    if (!secmq__topic_matches(ru->topic, topics[j])) {
                        continue;
                    }
                    if (ru->access & DENY) {
                        deny = 1;
                    } else if (ru->access & bit) {
                        allow = 1;
                        sig |= (ru->access & WR) && ru->require_signed;
                    }
                }
                got = secmq__acl_check_topic(a, topics[j], bit, &got_sig);
                CHECKF(got == (allow && !deny),
                       "round %d: check_topic(\"%s\", %u) = %d", round,
                       topics[j], bit, got);
                if (got && bit == WR) {
                    CHECK_INT_EQ(got_sig, sig);
                }
            }
        }
        for (size_t i = 0; i < nf; i++) {
            int allow = 0, deny = 0;

            for (size_t r = 0; r < p.nrules; r++) {
                const secmq_rule *ru = &p.rules[r];

                if (ru->access & DENY) {
                    deny |= secmq__filter_intersects(ru->topic, filters[i]);
                } else if (ru->access & SECMQ_ACL_SUBSCRIBE) {
                    allow |= secmq__filter_contains(ru->topic, filters[i]);
                }
            }
            CHECKF(secmq__acl_check_filter(a, filters[i]) == (allow && !deny),
                   "round %d: check_filter(\"%s\")", round, filters[i]);
        }
        CHECK(secmq__acl_only_gained(a, a));
        secmq__acl_free(a);
        secmq__policy_clear(&p);
    }
}

/* --- substitution and names ------------------------------------------- */

static void test_pattern_substitute(void)
{
    static const struct {
        const char *pat, *out;
    } t[] = {
        {"users/%u/#", "users/alice/#"},
        {"dev/%c", "dev/pi-1"},
        {"%u/%c/%u", "alice/pi-1/alice"},
        {"plain", "plain"},
        {"100%", "100%"},
        {"%", "%"},
        {"%%", "%%"},
        {"a/%x/%U/%C", "a/%x/%U/%C"},
        {"%%u", "%alice"},
        {"%uu", "aliceu"},
        {"", ""},
    };
    char out[64];

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        CHECK_INT_EQ(
            secmq__pattern_substitute(t[i].pat, "alice", "pi-1", out, 64), 0);
        CHECK_STR_EQ(out, t[i].out);
    }
    /* Exactly fitting: "users/alice" is 11 bytes + NUL. */
    CHECK_INT_EQ(secmq__pattern_substitute("users/%u", "alice", "c", out, 12),
                 0);
    CHECK_STR_EQ(out, "users/alice");
    CHECK_INT_EQ(secmq__pattern_substitute("users/%u", "alice", "c", out, 11),
                 -1);
    CHECK_STR_EQ(out, "");
    CHECK_INT_EQ(secmq__pattern_substitute("users/x", "alice", "c", out, 7),
                 -1);
    CHECK_INT_EQ(secmq__pattern_substitute("users/x", "alice", "c", out, 8), 0);
    CHECK_INT_EQ(secmq__pattern_substitute("%c", "a", "client", out, 6), -1);
    CHECK_INT_EQ(secmq__pattern_substitute("x", "a", "c", out, 0), -1);
    CHECK_INT_EQ(secmq__pattern_substitute("x", "a", "c", NULL, 8), -1);
    CHECK_INT_EQ(secmq__pattern_substitute(NULL, "a", "c", out, 8), -1);
}

static void test_name_ok(void)
{
    char big[SECMQ_AUTH_NAME_MAX + 2];

    CHECK(secmq__name_ok("alice"));
    CHECK(secmq__name_ok("sam"));
    CHECK(secmq__name_ok("pi-1.home_sensor"));
    CHECK(secmq__name_ok("$weird"));
    CHECK(secmq__name_ok("with space"));
    CHECK(secmq__name_ok("\xc3\xa9l\xc3\xa8ve")); /* élève */
    CHECK(secmq__name_ok("\xf0\x9f\x94\x92"));    /* U+1F512 */
    CHECK(!secmq__name_ok("a/#"));
    CHECK(!secmq__name_ok("x+"));
    CHECK(!secmq__name_ok("#"));
    CHECK(!secmq__name_ok("a/b"));
    CHECK(!secmq__name_ok(""));
    CHECK(!secmq__name_ok(NULL));
    CHECK(!secmq__name_ok("tab\there"));
    CHECK(!secmq__name_ok("nl\n"));
    CHECK(!secmq__name_ok("del\x7f"));
    CHECK(!secmq__name_ok("c1\xc2\x85"));       /* U+0085 NEL */
    CHECK(!secmq__name_ok("\xff"));             /* not UTF-8 */
    CHECK(!secmq__name_ok("\xc3"));             /* truncated */
    CHECK(!secmq__name_ok("\xc3("));            /* bad continuation */
    CHECK(!secmq__name_ok("\xc0\xaf"));         /* overlong '/' */
    CHECK(!secmq__name_ok("\xe0\x80\xaf"));     /* overlong '/' */
    CHECK(!secmq__name_ok("\xed\xa0\x80"));     /* surrogate */
    CHECK(!secmq__name_ok("\xf4\x90\x80\x80")); /* > U+10FFFF */
    memset(big, 'n', sizeof big);
    big[SECMQ_AUTH_NAME_MAX] = '\0';
    CHECK(secmq__name_ok(big));
    big[SECMQ_AUTH_NAME_MAX] = 'n';
    big[SECMQ_AUTH_NAME_MAX + 1] = '\0';
    CHECK(!secmq__name_ok(big));
}

/* --- policy helpers ----------------------------------------------------- */

static void test_policy_lookup(void)
{
    secmq_policy p;
    const secmq_user *u;

    seed_policy(&p);
    add_user(&p, "bob", 0, "ops", "staff");
    CHECK(secmq__policy_user(&p, "alice") != NULL);
    CHECK_STR_EQ(secmq__policy_user(&p, "alice")->name, "alice");
    CHECK_STR_EQ(secmq__policy_user(&p, "sam")->name, "sam");
    CHECK_STR_EQ(secmq__policy_user(&p, "eve")->name, "eve");
    CHECK(secmq__policy_user(&p, "mallory") == NULL);
    CHECK(secmq__policy_user(&p, "") == NULL);
    CHECK(secmq__policy_user(&p, NULL) == NULL);
    CHECK(secmq__policy_user(NULL, "sam") == NULL);
    u = secmq__policy_user(&p, "bob");
    CHECK(u != NULL);
    CHECK(secmq__user_in_group(u, "ops"));
    CHECK(secmq__user_in_group(u, "staff"));
    CHECK(!secmq__user_in_group(u, "op"));
    CHECK(!secmq__user_in_group(u, NULL));
    CHECK(!secmq__user_in_group(NULL, "ops"));
    secmq__policy_clear(&p);
    CHECK(p.users == NULL && p.nusers == 0 && p.rules == NULL);
    secmq__policy_clear(&p); /* cleared twice: fine */
    secmq__policy_clear(NULL);
}

/* --- compiled ACLs ---------------------------------------------------- */

static void test_seed_policy(void)
{
    secmq_policy p;
    secmq_acl *sam, *alice, *eve;

    seed_policy(&p);
    sam = compile(&p, "sam", "sam-pi");
    alice = compile(&p, "alice", "alice-laptop");
    eve = compile(&p, "eve", "eve-1");
    CHECK(sam != NULL && alice != NULL && eve != NULL);
    CHECK_INT_EQ(secmq__acl_count(sam), 1);
    CHECK_INT_EQ(secmq__acl_count(alice), 1);
    CHECK_INT_EQ(secmq__acl_count(eve), 0);

    CHECK(can(sam, WR, "status"));
    CHECK(!can(sam, SECMQ_ACL_READ, "status"));
    CHECK(!secmq__acl_check_filter(sam, "status"));
    CHECK(!can(sam, WR, "status/x"));
    CHECK(!can(sam, WR, "statu"));

    CHECK(can(alice, SECMQ_ACL_READ, "status"));
    CHECK(!can(alice, WR, "status"));
    CHECK(secmq__acl_check_filter(alice, "status"));
    CHECK(!secmq__acl_check_filter(alice, "#"));
    CHECK(!secmq__acl_check_filter(alice, "+"));
    CHECK(!secmq__acl_check_filter(alice, "status/#"));
    CHECK(!secmq__acl_check_filter(alice, "status/+"));
    CHECK(!can(alice, SECMQ_ACL_READ, "status/x"));
    /* Shared subscriptions are judged by their real filter. */
    CHECK(secmq__acl_check_filter(alice, "$share/g/status"));
    CHECK(!secmq__acl_check_filter(alice, "$share/g/#"));
    CHECK(!secmq__acl_check_filter(alice, "$share//status"));
    CHECK(!secmq__acl_check_filter(alice, "$share/g+/status"));
    CHECK(!secmq__acl_check_filter(alice, "$share/#/status"));
    CHECK(!secmq__acl_check_filter(alice, "$share/g"));
    CHECK(!secmq__acl_check_filter(alice, "$share/g/"));
    CHECK(!secmq__acl_check_filter(alice, "$share/g/status/#"));

    CHECK(!can(eve, WR, "status"));
    CHECK(!can(eve, SECMQ_ACL_READ, "status"));
    CHECK(!secmq__acl_check_filter(eve, "status"));

    /* Malformed questions are refused, never crash. */
    CHECK(!can(alice, SECMQ_ACL_READ, ""));
    CHECK(!can(alice, SECMQ_ACL_READ, "status/#"));
    CHECK(!can(alice, SECMQ_ACL_READ, NULL));
    CHECK(!can(alice, 0, "status"));
    CHECK(!can(alice, DENY, "status"));
    CHECK(!can(alice, RD, "status"));
    CHECK(!can(NULL, SECMQ_ACL_READ, "status"));
    CHECK(!secmq__acl_check_filter(alice, ""));
    CHECK(!secmq__acl_check_filter(alice, "a#"));
    CHECK(!secmq__acl_check_filter(alice, NULL));
    CHECK(!secmq__acl_check_filter(NULL, "status"));

    secmq__acl_free(sam);
    secmq__acl_free(alice);
    secmq__acl_free(eve);
    secmq__acl_free(NULL);
    secmq__policy_clear(&p);
}

static void test_unknown_disabled_and_bad_names(void)
{
    secmq_policy p;
    secmq_acl *a;

    seed_policy(&p);
    add_user(&p, "dora", 1, NULL, NULL);
    add_rule(&p, SECMQ_RULE_USER, "dora", "status", RW, 0);
    add_rule(&p, SECMQ_RULE_USER, "ghost", "status", RW, 0);
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "users/%u/#", RW, 0);

    a = compile(&p, "dora", "d");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    CHECK(!can(a, SECMQ_ACL_READ, "status"));
    CHECK(!can(a, WR, "users/dora/x"));
    secmq__acl_free(a);

    a = compile(&p, "ghost", "g");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    CHECK(!can(a, WR, "status"));
    secmq__acl_free(a);

    /* Bad client ids or user names never reach a pattern. */
    a = compile(&p, "alice", "x/#");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    CHECK(!can(a, SECMQ_ACL_READ, "status"));
    secmq__acl_free(a);
    a = compile(&p, "alice", "");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    secmq__acl_free(a);
    a = compile(&p, "alice", NULL);
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    secmq__acl_free(a);
    a = compile(&p, NULL, "c");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    secmq__acl_free(a);
    a = compile(NULL, "alice", "c");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    secmq__acl_free(a);
    CHECK_INT_EQ(secmq__acl_compile(&p, "alice", "c", NULL), -1);
    secmq__policy_clear(&p);
}

static void test_user_patterns(void)
{
    secmq_policy p;
    secmq_acl *a, *b;

    seed_policy(&p);
    add_user(&p, "bob", 0, NULL, NULL);
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "users/%u/#", RW, 0);
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "clients/%c/cmd", RD, 0);
    /* "%c/#" with a client id "$SYS" must not become "$SYS/#". */
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "%c/#", RD, 0);
    /* Too long after substitution: skipped, the rest still compiles. */
    {
        char pat[SECMQ_AUTH_TOPIC_MAX + 1];

        memset(pat, 'p', sizeof pat);
        memcpy(pat + SECMQ_AUTH_TOPIC_MAX - 4, "/%u", 4);
        add_rule(&p, SECMQ_RULE_PATTERN, NULL, pat, RW, 0);
    }
    a = compile(&p, "alice", "pi");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 4);
    CHECK(can(a, WR, "users/alice/x"));
    CHECK(can(a, WR, "users/alice"));
    CHECK(can(a, SECMQ_ACL_READ, "users/alice/x/y"));
    CHECK(!can(a, WR, "users/bob/x"));
    CHECK(!can(a, WR, "users/alice2/x"));
    CHECK(secmq__acl_check_filter(a, "users/alice/#"));
    CHECK(secmq__acl_check_filter(a, "users/alice/+/z"));
    CHECK(!secmq__acl_check_filter(a, "users/+/x"));
    CHECK(!secmq__acl_check_filter(a, "users/#"));
    CHECK(can(a, SECMQ_ACL_READ, "clients/pi/cmd"));
    CHECK(!can(a, WR, "clients/pi/cmd"));
    CHECK(!can(a, SECMQ_ACL_READ, "clients/pj/cmd"));
    CHECK(can(a, SECMQ_ACL_READ, "pi/anything"));
    CHECK(can(a, SECMQ_ACL_READ, "status"));
    secmq__acl_free(a);

    b = compile(&p, "bob", "$SYS");
    CHECK(b != NULL);
    CHECK(can(b, WR, "users/bob/x"));
    CHECK(!can(b, WR, "users/alice/x"));
    CHECK(!can(b, SECMQ_ACL_READ, "$SYS/broker/uptime"));
    CHECK(!secmq__acl_check_filter(b, "$SYS/#"));
    CHECK(can(b, SECMQ_ACL_READ, "clients/$SYS/cmd"));
    secmq__acl_free(b);
    secmq__policy_clear(&p);
}

static void test_groups(void)
{
    secmq_policy p;
    secmq_acl *a;

    seed_policy(&p);
    add_user(&p, "gina", 0, "sensors", "ops");
    add_user(&p, "hal", 0, "sensorsX", NULL);
    add_rule(&p, SECMQ_RULE_GROUP, "sensors", "sensors/+/temp", WR, 1);
    add_rule(&p, SECMQ_RULE_GROUP, "ops", "ops/#", RD, 0);
    add_rule(&p, SECMQ_RULE_GROUP, "nobody", "secret", RW, 0);
    /* A user rule whose subject equals a group name is not a group rule. */
    add_rule(&p, SECMQ_RULE_USER, "ops", "userops", RW, 0);

    a = compile(&p, "gina", "g1");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 2);
    CHECK(can(a, WR, "sensors/kitchen/temp"));
    CHECK(!can(a, SECMQ_ACL_READ, "sensors/kitchen/temp"));
    CHECK(can(a, SECMQ_ACL_READ, "ops/alerts/x"));
    CHECK(secmq__acl_check_filter(a, "ops/#"));
    CHECK(!can(a, SECMQ_ACL_READ, "secret"));
    CHECK(!can(a, WR, "userops"));
    CHECK(!can(a, WR, "status"));
    secmq__acl_free(a);

    a = compile(&p, "hal", "h1");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 0);
    CHECK(!can(a, WR, "sensors/kitchen/temp"));
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

static void test_deny_beats_allow(void)
{
    secmq_policy p;
    secmq_acl *a;

    seed_policy(&p);
    /* Deny first and last: order must not matter. */
    add_rule(&p, SECMQ_RULE_USER, "alice", "a/secret/#", DENY, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "a/#", RW, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "b/+", RW, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "b/x", DENY, 0);
    /* DENY with allow bits set still only denies. */
    add_rule(&p, SECMQ_RULE_USER, "alice", "c", DENY | RW, 0);
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "status", DENY, 0);

    a = compile(&p, "alice", "c1");
    CHECK(a != NULL);
    CHECK(can(a, WR, "a/public/x"));
    CHECK(can(a, WR, "a"));
    CHECK(!can(a, WR, "a/secret/x"));
    CHECK(!can(a, WR, "a/secret"));
    CHECK(!can(a, SECMQ_ACL_READ, "a/secret/x/y"));
    CHECK(can(a, WR, "a/secretive"));
    CHECK(!secmq__acl_check_filter(a, "a/#"));
    CHECK(!secmq__acl_check_filter(a, "a/+/x"));
    CHECK(!secmq__acl_check_filter(a, "a/secret"));
    CHECK(secmq__acl_check_filter(a, "a/public/#"));
    CHECK(secmq__acl_check_filter(a, "a/public"));
    /* "a/+" includes "a/secret". */
    CHECK(!secmq__acl_check_filter(a, "a/+"));
    CHECK(can(a, WR, "b/y"));
    CHECK(!can(a, WR, "b/x"));
    CHECK(!secmq__acl_check_filter(a, "b/+"));
    CHECK(secmq__acl_check_filter(a, "b/y"));
    CHECK(!can(a, SECMQ_ACL_READ, "c"));
    CHECK(!can(a, SECMQ_ACL_READ, "status"));
    CHECK(!secmq__acl_check_filter(a, "status"));
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

static void test_require_signed(void)
{
    secmq_policy p;
    secmq_acl *a;
    int sig = -1;

    seed_policy(&p);
    add_rule(&p, SECMQ_RULE_USER, "sam", "cmd/#", WR, 1);
    add_rule(&p, SECMQ_RULE_USER, "sam", "cmd/open", WR, 0);
    add_rule(&p, SECMQ_RULE_USER, "sam", "log/#", WR, 0);
    /* require_signed on a rule without WRITE means nothing. */
    add_rule(&p, SECMQ_RULE_USER, "sam", "log/in", RD, 1);
    add_rule(&p, SECMQ_RULE_USER, "sam", "deny/x", DENY, 1);

    a = compile(&p, "sam", "s1");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_check_topic(a, "cmd/open", WR, &sig), 1);
    CHECK_INT_EQ(sig, 1); /* any matching WRITE rule requiring it */
    sig = -1;
    CHECK_INT_EQ(secmq__acl_check_topic(a, "cmd/close", WR, &sig), 1);
    CHECK_INT_EQ(sig, 1);
    sig = -1;
    CHECK_INT_EQ(secmq__acl_check_topic(a, "log/in", WR, &sig), 1);
    CHECK_INT_EQ(sig, 0);
    sig = -1;
    CHECK_INT_EQ(secmq__acl_check_topic(a, "status", WR, &sig), 1);
    CHECK_INT_EQ(sig, 0);
    sig = -1;
    CHECK_INT_EQ(secmq__acl_check_topic(a, "log/in", SECMQ_ACL_READ, &sig), 1);
    CHECK_INT_EQ(sig, 0);
    sig = -1;
    CHECK_INT_EQ(secmq__acl_check_topic(a, "nothing", WR, &sig), 0);
    CHECK_INT_EQ(sig, 0);
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

static void test_dedup(void)
{
    secmq_policy p;
    secmq_acl *a;
    int sig = -1;

    memset(&p, 0, sizeof p);
    add_user(&p, "u", 0, "g", NULL);
    add_rule(&p, SECMQ_RULE_USER, "u", "t", SECMQ_ACL_READ, 0);
    add_rule(&p, SECMQ_RULE_GROUP, "g", "t", WR, 1);
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "t", SECMQ_ACL_SUBSCRIBE, 0);
    add_rule(&p, SECMQ_RULE_USER, "u", "t", DENY, 0);
    add_rule(&p, SECMQ_RULE_USER, "u", "t", DENY, 0);
    add_rule(&p, SECMQ_RULE_USER, "u", "x", RW, 0);
    add_rule(&p, SECMQ_RULE_USER, "u", "x", RW, 0);
    /* No bits at all, and a malformed topic: nothing. */
    add_rule(&p, SECMQ_RULE_USER, "u", "y", 0, 0);
    add_rule(&p, SECMQ_RULE_USER, "u", "a/#/b", RW, 0);
    a = compile(&p, "u", "c");
    CHECK(a != NULL);
    /* "t" allow (three merged), "t" deny (two merged), "x". */
    CHECK_INT_EQ(secmq__acl_count(a), 3);
    CHECK(!can(a, SECMQ_ACL_READ, "t"));
    CHECK_INT_EQ(secmq__acl_check_topic(a, "x", WR, &sig), 1);
    CHECK_INT_EQ(sig, 0);
    CHECK(!can(a, WR, "y"));
    CHECK(!can(a, WR, "a/x/b"));
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

/* The compiled ACL owns copies: the policy may go away right after. */
static void test_survives_policy_clear(void)
{
    secmq_policy p;
    secmq_acl *a;

    seed_policy(&p);
    add_rule(&p, SECMQ_RULE_PATTERN, NULL, "users/%u/#", RW, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "x/secret", DENY, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "x/+", RD, 0);
    a = compile(&p, "alice", "c");
    CHECK(a != NULL);
    secmq__policy_clear(&p);
    /* Reuse the freed memory with other bytes to catch dangling use. */
    seed_policy(&p);
    add_rule(&p, SECMQ_RULE_USER, "zzzzz", "qqqqqq/qqqqqqq/qqqqq", RW, 0);
    CHECK(can(a, SECMQ_ACL_READ, "status"));
    CHECK(can(a, WR, "users/alice/1"));
    CHECK(can(a, SECMQ_ACL_READ, "x/y"));
    CHECK(!can(a, SECMQ_ACL_READ, "x/secret"));
    CHECK(secmq__acl_check_filter(a, "users/alice/#"));
    CHECK(!secmq__acl_check_filter(a, "x/+"));
    CHECK(secmq__acl_check_filter(a, "x/y"));
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

/* One of alice's user rules, for test_only_gained. */
struct alice_rule {
    const char *topic; /* NULL: the end of a list */
    unsigned access;
    int require_signed;
};

/* A fresh policy in *q with alice and rules; her compiled ACL. */
static secmq_acl *compile_alice(secmq_policy *q, const struct alice_rule *rules)
{
    memset(q, 0, sizeof *q);
    add_user(q, "alice", 0, NULL, NULL);
    for (; rules->topic != NULL; rules++) {
        add_rule(q, SECMQ_RULE_USER, "alice", rules->topic, rules->access,
                 rules->require_signed);
    }
    return compile(q, "alice", "c");
}

static void test_only_gained(void)
{
    /* Changes to the baseline below; gained: only gains (and then the
     * reverse change is not). */
    static const struct {
        const char *what;
        int gained;
        struct alice_rule rules[6];
    } changes[] = {
        /* Same rules, other order and ids, one more grant, one fewer deny,
         * a signature no longer required: only gains. */
        {"only gains",
         1,
         {{"a/#", RW, 0},
          {"log", WR | RD, 0},
          {"status", RW, 0},
          {"more/#", RD, 0},
          {NULL, 0, 0}}},
        {"a bit lost",
         0,
         {{"a/secret", DENY, 0},
          {"a/#", RD, 0},
          {"log", WR, 1},
          {"status", RD, 0},
          {NULL, 0, 0}}},
        {"a new deny",
         0,
         {{"a/secret", DENY, 0},
          {"a/other", DENY, 0},
          {"a/#", RW, 0},
          {"log", WR, 1},
          {"status", RD, 0},
          {NULL, 0, 0}}},
        {"a signature newly required",
         0,
         {{"a/secret", DENY, 0},
          {"a/#", RW, 1},
          {"log", WR, 1},
          {"status", RD, 0},
          {NULL, 0, 0}}},
        /* A rule replaced by a broader one with another topic string: the
         * comparison is by topic string, so this counts as a loss
         * (conservative: the client is reconnected, nothing leaks). */
        {"a rule replaced by a broader one",
         0,
         {{"a/secret", DENY, 0}, {"#", RW, 1}, {"log", WR, 1}, {NULL, 0, 0}}},
    };
    secmq_policy p, q;
    secmq_acl *old_a, *new_a, *empty;

    /* Baseline: alice reads status, writes log signed, denied a/secret. */
    memset(&p, 0, sizeof p);
    add_user(&p, "alice", 0, NULL, NULL);
    add_user(&p, "dis", 1, NULL, NULL);
    add_rule(&p, SECMQ_RULE_USER, "alice", "status", RD, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "log", WR, 1);
    add_rule(&p, SECMQ_RULE_USER, "alice", "a/secret", DENY, 0);
    add_rule(&p, SECMQ_RULE_USER, "alice", "a/#", RW, 0);
    old_a = compile(&p, "alice", "c");
    empty = compile(&p, "dis", "c");
    CHECK(old_a != NULL && empty != NULL);
    CHECK(secmq__acl_only_gained(old_a, old_a));
    CHECK(!secmq__acl_only_gained(old_a, empty));
    CHECK(secmq__acl_only_gained(empty, old_a) == 0); /* deny is new */
    CHECK(secmq__acl_only_gained(empty, empty));
    CHECK(secmq__acl_only_gained(NULL, empty));
    CHECK(!secmq__acl_only_gained(old_a, NULL));

    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        new_a = compile_alice(&q, changes[i].rules);
        CHECKF(secmq__acl_only_gained(old_a, new_a) == changes[i].gained, "%s",
               changes[i].what);
        if (changes[i].gained) {
            CHECKF(!secmq__acl_only_gained(new_a, old_a), "%s",
                   changes[i].what);
        }
        secmq__acl_free(new_a);
        secmq__policy_clear(&q);
    }

    secmq__acl_free(old_a);
    secmq__acl_free(empty);
    secmq__policy_clear(&p);
}

/* Many rules for one client: the trie must still answer exactly. */
static void test_many_rules(void)
{
    secmq_policy p;
    secmq_acl *a;
    char t[64];

    memset(&p, 0, sizeof p);
    add_user(&p, "bench", 0, NULL, NULL);
    for (int i = 0; i < 1000; i++) {
        snprintf(t, sizeof t, "site/%d/dev%d/+", i % 10, i);
        add_rule(&p, SECMQ_RULE_USER, "bench", t, i % 3 ? RW : RD, 0);
    }
    add_rule(&p, SECMQ_RULE_USER, "bench", "site/3/dev3/off", DENY, 0);
    a = compile(&p, "bench", "b");
    CHECK(a != NULL);
    CHECK_INT_EQ(secmq__acl_count(a), 1001);
    for (int i = 0; i < 1000; i++) {
        snprintf(t, sizeof t, "site/%d/dev%d/x", i % 10, i);
        CHECKF(can(a, SECMQ_ACL_READ, t), "%s", t);
        CHECKF(can(a, WR, t) == (i % 3 != 0), "%s", t);
        snprintf(t, sizeof t, "site/%d/dev%d/x", (i + 1) % 10, i);
        CHECKF(!can(a, SECMQ_ACL_READ, t), "%s", t);
    }
    CHECK(!can(a, SECMQ_ACL_READ, "site/3/dev3/off"));
    CHECK(can(a, SECMQ_ACL_READ, "site/3/dev3/on"));
    secmq__acl_free(a);
    secmq__policy_clear(&p);
}

int main(void)
{
    RUN(test_filter_valid);
    RUN(test_matches_table);
    RUN(test_contains_intersects_table);
    RUN(test_algebra_brute_force);
    RUN(test_compiled_against_definition);
    RUN(test_pattern_substitute);
    RUN(test_name_ok);
    RUN(test_policy_lookup);
    RUN(test_seed_policy);
    RUN(test_unknown_disabled_and_bad_names);
    RUN(test_user_patterns);
    RUN(test_groups);
    RUN(test_deny_beats_allow);
    RUN(test_require_signed);
    RUN(test_dedup);
    RUN(test_survives_policy_clear);
    RUN(test_only_gained);
    RUN(test_many_rules);
    return check_exit();
}
