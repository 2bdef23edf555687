/*
 * acl.c -- per-client compiled ACLs (acl.h).
 * At connect the client's rules are copied, deduplicated and built into a
 * level trie, so a publish/receive check is one walk down the trie with no
 * allocation; (un)subscribe checks use containment and intersection of
 * filters (filter.c). Not for loading rules (authdb.c) or talking to
 * mosquitto.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "level.h"

#define ALLOW_BITS (SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE)

/*
 * One compiled rule. A deny rule has access == SECMQ_ACL_DENY and nothing
 * else (its other bits grant nothing); an allow rule has only ALLOW_BITS.
 * sig is 1 only for an allow rule with WRITE that requires signatures.
 * Rules are sorted by (topic in level order, allow before deny) and unique
 * on that key: rules with the same topic and kind are merged (bits OR-ed).
 */
typedef struct arule {
    const char *topic; /* NUL-terminated, inside secmq_acl.text */
    uint32_t len;
    unsigned access;
    int sig;
} arule;

/*
 * A trie node: the rules whose filters share the levels on the path from
 * the root. Literal children are contiguous in secmq_acl.nodes and sorted
 * by label (bytes, then shorter first), so a lookup is a binary search.
 * "end" flags are for rules ending at this node ("a/b" at node a->b), "hash"
 * flags for rules ending in "/#" here ("a/#" at node a: it matches "a" and
 * everything below).
 */
typedef struct tnode {
    const char *label; /* not NUL-terminated; NULL for the root and '+' */
    uint32_t label_len;
    uint32_t kids;  /* index of the first literal child */
    uint32_t nkids; /* number of literal children */
    uint32_t plus;  /* index of the '+' child, 0 for none */
    unsigned char end_allow, hash_allow; /* ALLOW_BITS */
    unsigned char end_deny, hash_deny;
    unsigned char end_sig, hash_sig;
} tnode;

struct secmq_acl {
    arule *rules;
    size_t nrules;
    char *text;   /* every rule topic, owned */
    tnode *nodes; /* nodes[0] is the root; NULL when there are no rules */
    size_t nnodes;
};

/* --- compiling ----------------------------------------------------------- */

/*
 * Order of filters as sequences of levels (levels compared bytewise, a
 * prefix first): bytewise with '/' below every byte and the end below '/'.
 * Rules sharing their first d levels are then contiguous, as the trie
 * builder needs.
 */
static int topic_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    for (size_t i = 0;; i++) {
        int ca = i < an ? (a[i] == '/' ? 1 : (unsigned char)a[i] + 2) : 0;
        int cb = i < bn ? (b[i] == '/' ? 1 : (unsigned char)b[i] + 2) : 0;

        if (ca != cb) {
            return ca < cb ? -1 : 1;
        }
        if (ca == 0) {
            return 0;
        }
    }
}

static int rule_key_cmp(const arule *r, const char *topic, size_t len, int deny)
{
    int c = topic_cmp(r->topic, r->len, topic, len);
    int rdeny = (r->access & SECMQ_ACL_DENY) != 0;

    if (c != 0) {
        return c;
    }
    return rdeny - deny;
}

static int rule_qsort_cmp(const void *x, const void *y)
{
    const arule *a = x, *b = y;

    return rule_key_cmp(a, b->topic, b->len, (b->access & SECMQ_ACL_DENY) != 0);
}

/* Collected rule before the text buffer stops moving. */
typedef struct ent {
    size_t off;
    size_t len;
    unsigned access;
    int sig;
} ent;

typedef struct builder {
    char *text;
    size_t tlen, tcap;
    ent *ents;
    size_t n, cap;
} builder;

/* Adds a valid filter with its (raw) rule access. 0, or -1 out of memory. */
static int add_rule(builder *b, const char *topic, unsigned access,
                    int require_signed)
{
    size_t len = strlen(topic);
    ent *e;

    if (access & SECMQ_ACL_DENY) {
        /* SECURITY: a rule with the deny bit only ever denies. */
        access = SECMQ_ACL_DENY;
        require_signed = 0;
    } else {
        access &= ALLOW_BITS;
        require_signed = require_signed && (access & SECMQ_ACL_WRITE);
    }
    if (access == 0) {
        return 0;
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? 2 * b->cap : 16;
        ent *ne = realloc(b->ents, ncap * sizeof *ne);

        if (ne == NULL) {
            return -1;
        }
        b->ents = ne;
        b->cap = ncap;
    }
    if (b->tcap - b->tlen < len + 1) {
        size_t ncap = b->tcap ? 2 * b->tcap : 1024;
        char *nt;

        while (ncap - b->tlen < len + 1) {
            ncap *= 2;
        }
        nt = realloc(b->text, ncap);
        if (nt == NULL) {
            return -1;
        }
        b->text = nt;
        b->tcap = ncap;
    }
    memcpy(b->text + b->tlen, topic, len + 1);
    e = &b->ents[b->n++];
    e->off = b->tlen;
    e->len = len;
    e->access = access;
    e->sig = require_signed ? 1 : 0;
    b->tlen += len + 1;
    return 0;
}

/* Collects the rules of p that apply to user u / client_id into b. */
/*
 * Pattern r for a user whose client id is unknown (the signer of a relayed
 * message) into out: %u replaced by username, and each level that holds %c
 * replaced by '+'. SECURITY: only deny rules are kept that way (they then
 * deny whatever client id the signer had); an allow rule that depends on
 * the client id grants nothing. Returns 0, or -1 to skip the rule.
 */
static int any_client(const secmq_rule *r, const char *username, char *out,
                      size_t cap)
{
    char tmp[SECMQ_AUTH_TOPIC_MAX + 1];
    size_t o = 0;
    const char *lv;

    if (strstr(r->topic, "%c") == NULL) {
        return secmq__pattern_substitute(r->topic, username, "x", out, cap);
    }
    if (!(r->access & SECMQ_ACL_DENY)) {
        return -1;
    }
    /* "\x01" cannot be in a user name (secmq__name_ok): it marks where
     * the client id went. */
    if (secmq__pattern_substitute(r->topic, username, "\x01", tmp,
                                  sizeof tmp) != 0) {
        return -1;
    }
    for (lv = tmp;;) {
        const char *end = strchr(lv, '/');
        size_t len = end != NULL ? (size_t)(end - lv) : strlen(lv);
        int marked = memchr(lv, '\x01', len) != NULL;
        size_t n = marked ? 1 : len;

        if (o + n + 2 > cap) {
            return -1;
        }
        memcpy(out + o, marked ? "+" : lv, n);
        o += n;
        if (end == NULL) {
            break;
        }
        out[o++] = '/';
        lv = end + 1;
    }
    out[o] = '\0';
    return 0;
}

static int collect(builder *b, const secmq_policy *p, const secmq_user *u,
                   const char *client_id)
{
    /* 4 KiB on the stack, once per connect: no allocation to fail. */
    char buf[SECMQ_AUTH_TOPIC_MAX + 1];

    for (size_t i = 0; i < p->nrules; i++) {
        const secmq_rule *r = &p->rules[i];
        const char *topic = NULL;

        if (r->topic == NULL) {
            continue;
        }
        switch (r->kind) {
        case SECMQ_RULE_USER:
            if (r->subject != NULL && strcmp(r->subject, u->name) == 0) {
                topic = r->topic;
            }
            break;
        case SECMQ_RULE_GROUP:
            if (r->subject != NULL && secmq__user_in_group(u, r->subject)) {
                topic = r->topic;
            }
            break;
        case SECMQ_RULE_PATTERN:
            if (client_id == NULL) {
                /* A relayed signer (secmq__acl_compile_signer). */
                if (any_client(r, u->name, buf, sizeof buf) != 0) {
                    break;
                }
            } else if (secmq__pattern_substitute(r->topic, u->name, client_id,
                                                 buf, sizeof buf) != 0) {
                break;
            }
            /* SECURITY: a name may start with '$' (names only exclude
             * '+', '#', '/'), and a client chooses its own id: pattern
             * "%c/#" must not become "$SYS/#". */
            if (buf[0] == '$' && r->topic[0] != '$') {
                break;
            }
            topic = buf;
            break;
        }
        /* SECURITY: the algebra assumes valid filters; a malformed rule
         * from the database grants nothing. */
        if (topic == NULL || !secmq__filter_valid(topic)) {
            continue;
        }
        if (add_rule(b, topic, r->access, r->require_signed) != 0) {
            return -1;
        }
    }
    return 0;
}

static size_t level_len(const char *p, const char *end)
{
    const char *q = memchr(p, '/', (size_t)(end - p));

    return q != NULL ? (size_t)(q - p) : (size_t)(end - p);
}

static void mark(tnode *n, const arule *r, int hash)
{
    if (r->access & SECMQ_ACL_DENY) {
        if (hash) {
            n->hash_deny = 1;
        } else {
            n->end_deny = 1;
        }
        return;
    }
    if (hash) {
        n->hash_allow = (unsigned char)(n->hash_allow | r->access);
        n->hash_sig = (unsigned char)(n->hash_sig | r->sig);
    } else {
        n->end_allow = (unsigned char)(n->end_allow | r->access);
        n->end_sig = (unsigned char)(n->end_sig | r->sig);
    }
}

/*
 * Builds node ni from rules [lo, hi), which share the levels on its path;
 * pos[r] is the offset of rule r's next level, or len + 1 when it has no
 * more. Children of one node get consecutive indices before any of them is
 * built, so they stay contiguous. Recursion depth <= levels of a filter.
 */
static void build(secmq_acl *a, uint32_t *pos, size_t lo, size_t hi,
                  uint32_t ni)
{
    const arule *R = a->rules;
    size_t i = lo, g, ge;
    uint32_t nlit = 0, k;
    int has_plus = 0;

    while (i < hi && pos[i] > R[i].len) {
        mark(&a->nodes[ni], &R[i], 0);
        i++;
    }
    /* Pass 1: count the literal children. */
    for (g = i; g < hi; g = ge) {
        const char *l = R[g].topic + pos[g];
        size_t n = level_len(l, R[g].topic + R[g].len);

        for (ge = g + 1; ge < hi; ge++) {
            const char *m = R[ge].topic + pos[ge];

            if (!level_eq(l, n, m, level_len(m, R[ge].topic + R[ge].len))) {
                break;
            }
        }
        if (is_plus(l, n)) {
            has_plus = 1;
        } else if (!is_hash(l, n)) {
            nlit++;
        }
    }
    a->nodes[ni].kids = (uint32_t)a->nnodes;
    a->nodes[ni].nkids = nlit;
    a->nnodes += nlit;
    if (has_plus) {
        a->nodes[ni].plus = (uint32_t)a->nnodes++;
    }
    /* Pass 2: fill and build them. */
    k = a->nodes[ni].kids;
    for (g = i; g < hi; g = ge) {
        const char *l = R[g].topic + pos[g];
        size_t n = level_len(l, R[g].topic + R[g].len);
        uint32_t child;

        for (ge = g + 1; ge < hi; ge++) {
            const char *m = R[ge].topic + pos[ge];

            if (!level_eq(l, n, m, level_len(m, R[ge].topic + R[ge].len))) {
                break;
            }
        }
        if (is_hash(l, n)) {
            /* '#' is always the last level. */
            for (size_t r = g; r < ge; r++) {
                mark(&a->nodes[ni], &R[r], 1);
            }
            continue;
        }
        if (is_plus(l, n)) {
            child = a->nodes[ni].plus;
        } else {
            child = k++;
            a->nodes[child].label = l;
            a->nodes[child].label_len = (uint32_t)n;
        }
        for (size_t r = g; r < ge; r++) {
            uint32_t next = pos[r] + (uint32_t)n;

            pos[r] = next < R[r].len ? next + 1 : R[r].len + 1;
        }
        build(a, pos, g, ge, child);
    }
}

/* Sorts, merges duplicates and builds the trie. 0, or -1 out of memory. */
static int finish(secmq_acl *a, builder *b)
{
    size_t n = 0, cap = 1;
    uint32_t *pos;

    if (b->n == 0) {
        free(b->text);
        b->text = NULL;
        return 0;
    }
    a->text = b->text;
    b->text = NULL;
    a->rules = malloc(b->n * sizeof *a->rules);
    if (a->rules == NULL) {
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        a->rules[i].topic = a->text + b->ents[i].off;
        a->rules[i].len = (uint32_t)b->ents[i].len;
        a->rules[i].access = b->ents[i].access;
        a->rules[i].sig = b->ents[i].sig;
    }
    qsort(a->rules, b->n, sizeof *a->rules, rule_qsort_cmp);
    for (size_t i = 0; i < b->n; i++) {
        arule *r = &a->rules[i];

        if (n > 0 && rule_qsort_cmp(&a->rules[n - 1], r) == 0) {
            a->rules[n - 1].access |= r->access;
            a->rules[n - 1].sig |= r->sig;
            continue;
        }
        a->rules[n++] = *r;
    }
    a->nrules = n;
    /* At most one node per level of every rule, plus the root. */
    for (size_t i = 0; i < n; i++) {
        cap += (size_t)a->rules[i].len + 1;
    }
    if (cap > UINT32_MAX) {
        return -1;
    }
    a->nodes = calloc(cap, sizeof *a->nodes);
    pos = calloc(n, sizeof *pos);
    if (a->nodes == NULL || pos == NULL) {
        free(pos);
        return -1;
    }
    a->nnodes = 1;
    build(a, pos, 0, n, 0);
    free(pos);
    return 0;
}

/* The rules of username under p into *out; client_id NULL: as a relayed
 * signer (any_client). See secmq__acl_compile. */
static int compile(const secmq_policy *p, const char *username,
                   const char *client_id, secmq_acl **out)
{
    builder b = {0};
    secmq_acl *a;
    const secmq_user *u;

    if (out == NULL) {
        return -1;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        return -1;
    }
    /* SECURITY: deny by default: any doubt about who this is gives the
     * empty ACL, never an error the caller might treat as "no ACL". */
    if (p == NULL || !secmq__name_ok(username) ||
        (client_id != NULL && !secmq__name_ok(client_id))) {
        goto done;
    }
    u = secmq__policy_user(p, username);
    if (u == NULL || u->disabled || u->name == NULL) {
        goto done;
    }
    if (collect(&b, p, u, client_id) != 0 || finish(a, &b) != 0) {
        goto err;
    }
    free(b.ents);
done:
    *out = a;
    return 0;

err:
    free(b.text);
    free(b.ents);
    secmq__acl_free(a);
    return -1;
}

int secmq__acl_compile(const secmq_policy *p, const char *username,
                       const char *client_id, secmq_acl **out)
{
    if (client_id == NULL) {
        /* SECURITY: never the signer's rules by accident. */
        client_id = "";
    }
    return compile(p, username, client_id, out);
}

int secmq__acl_compile_signer(const secmq_policy *p, const char *username,
                              secmq_acl **out)
{
    return compile(p, username, NULL, out);
}

void secmq__acl_free(secmq_acl *a)
{
    if (a == NULL) {
        return;
    }
    free(a->rules);
    free(a->text);
    free(a->nodes);
    free(a);
}

size_t secmq__acl_count(const secmq_acl *a)
{
    return a != NULL ? a->nrules : 0;
}

/* --- checks ------------------------------------------------------------ */

static const tnode *find_kid(const tnode *nodes, const tnode *n, const char *l,
                             size_t len)
{
    size_t lo = n->kids, hi = (size_t)n->kids + n->nkids;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const tnode *c = &nodes[mid];
        size_t m = c->label_len < len ? c->label_len : len;
        int d = memcmp(l, c->label, m);

        if (d == 0) {
            if (len == c->label_len) {
                return c;
            }
            d = len < c->label_len ? -1 : 1;
        }
        if (d < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/*
 * Walks topic levels [p, end) from node n, OR-ing the allow bits and
 * signature flags of every matching rule into *allow and *sig; p NULL means
 * the topic is exhausted. top: n is the root and the topic starts with '$'
 * (SECURITY: no root '+' or '#'). Returns 1 as soon as a deny rule
 * matches. Recursion only for '+' branches: depth <= the topic's levels.
 */
static int walk(const tnode *nodes, const tnode *n, const char *p,
                const char *end, int top_dollar, unsigned *allow, int *sig)
{
    for (;;) {
        const char *next;
        const tnode *c;
        size_t len;

        if (!top_dollar) {
            if (n->hash_deny) {
                return 1;
            }
            *allow |= n->hash_allow;
            *sig |= n->hash_sig;
        }
        if (p == NULL) {
            if (n->end_deny) {
                return 1;
            }
            *allow |= n->end_allow;
            *sig |= n->end_sig;
            return 0;
        }
        len = level_len(p, end);
        next = p + len < end ? p + len + 1 : NULL;
        if (n->plus != 0 && !top_dollar &&
            walk(nodes, &nodes[n->plus], next, end, 0, allow, sig)) {
            return 1;
        }
        c = find_kid(nodes, n, p, len);
        if (c == NULL) {
            return 0;
        }
        n = c;
        p = next;
        top_dollar = 0;
    }
}

int secmq__acl_check_topic(const secmq_acl *a, const char *topic,
                           unsigned access, int *require_signed)
{
    unsigned allow = 0;
    int sig = 0;
    size_t n;

    if (require_signed != NULL) {
        *require_signed = 0;
    }
    /* One access bit at a time; DENY is not a question. */
    if (a == NULL || topic == NULL ||
        (access != SECMQ_ACL_READ && access != SECMQ_ACL_WRITE &&
         access != SECMQ_ACL_SUBSCRIBE)) {
        return 0;
    }
    n = strnlen(topic, SECMQ_AUTH_TOPIC_MAX + 1);
    if (n == 0 || n > SECMQ_AUTH_TOPIC_MAX || memchr(topic, '+', n) != NULL ||
        memchr(topic, '#', n) != NULL || a->nodes == NULL) {
        return 0;
    }
    if (walk(a->nodes, &a->nodes[0], topic, topic + n, topic[0] == '$', &allow,
             &sig)) {
        return 0;
    }
    if ((allow & access) == 0) {
        return 0;
    }
    if (require_signed != NULL && access == SECMQ_ACL_WRITE) {
        *require_signed = sig;
    }
    return 1;
}

/*
 * The filter a "$share/GROUP/FILTER" subscription really asks for, or NULL
 * when it is malformed. Other filters are returned as they are.
 */
static const char *unshare(const char *filter)
{
    static const char prefix[] = "$share/";
    char group[SECMQ_AUTH_NAME_MAX + 1];
    const char *g, *slash;
    size_t n;

    if (strncmp(filter, prefix, sizeof prefix - 1) != 0) {
        return filter;
    }
    g = filter + sizeof prefix - 1;
    slash = strchr(g, '/');
    if (slash == NULL) {
        return NULL;
    }
    n = (size_t)(slash - g);
    if (n == 0 || n > SECMQ_AUTH_NAME_MAX) {
        return NULL;
    }
    memcpy(group, g, n);
    group[n] = '\0';
    if (!secmq__name_ok(group)) {
        return NULL;
    }
    return slash + 1;
}

int secmq__acl_check_filter(const secmq_acl *a, const char *filter)
{
    const char *f;
    int allowed = 0;

    if (a == NULL || filter == NULL) {
        return 0;
    }
    /* SECURITY: a shared subscription receives a subset of what the plain
     * filter would, so it is judged as the plain filter. */
    f = unshare(filter);
    if (f == NULL || !secmq__filter_valid(f)) {
        return 0;
    }
    /* SECURITY: conservative: one rule must contain the whole filter (a
     * filter covered only by the union of several rules is refused), and
     * a deny rule touching any part of it refuses all of it. */
    for (size_t i = 0; i < a->nrules; i++) {
        const arule *r = &a->rules[i];

        if (r->access & SECMQ_ACL_DENY) {
            if (secmq__filter_intersects(r->topic, f)) {
                return 0;
            }
        } else if (!allowed && (r->access & SECMQ_ACL_SUBSCRIBE) &&
                   secmq__filter_contains(r->topic, f)) {
            allowed = 1;
        }
    }
    return allowed;
}

/* The rule of a with this topic and kind, or NULL (binary search). */
static const arule *find_rule(const secmq_acl *a, const arule *key)
{
    size_t lo = 0, hi = a != NULL ? a->nrules : 0;
    int deny = (key->access & SECMQ_ACL_DENY) != 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = rule_key_cmp(&a->rules[mid], key->topic, key->len, deny);

        if (c == 0) {
            return &a->rules[mid];
        }
        if (c > 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

int secmq__acl_only_gained(const secmq_acl *old_acl, const secmq_acl *new_acl)
{
    size_t nold = old_acl != NULL ? old_acl->nrules : 0;
    size_t nnew = new_acl != NULL ? new_acl->nrules : 0;

    for (size_t i = 0; i < nold; i++) {
        const arule *o = &old_acl->rules[i], *m;

        if (o->access & SECMQ_ACL_DENY) {
            continue;
        }
        m = find_rule(new_acl, o);
        if (m == NULL || (o->access & ~m->access) != 0) {
            return 0;
        }
        /* Publishing that needed no signature now needs one. */
        if ((o->access & SECMQ_ACL_WRITE) && !o->sig && m->sig) {
            return 0;
        }
    }
    for (size_t i = 0; i < nnew; i++) {
        const arule *r = &new_acl->rules[i];

        if ((r->access & SECMQ_ACL_DENY) && find_rule(old_acl, r) == NULL) {
            return 0;
        }
    }
    return 1;
}
