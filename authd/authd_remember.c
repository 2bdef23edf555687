/*
 * authd_remember.c -- what secmq-authd allowed, per user and client id:
 * RabbitMQ keeps each answer for the life of a connection, so after a
 * reload the remembered questions are asked again of the new policy and
 * the pairs that lost something are handed to authd_revoke.c. Bounded:
 * a hash table of at most max pairs, the least recently used dropped
 * first, at most AUTHD_REMEMBER_QUESTIONS questions a pair (beyond that
 * the pair's whole rule set is compared instead). No HTTP, no threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "authd_revoke.h"

/* One allowed question: a queue (rk NULL) or a topic. */
typedef struct question {
    authd_kind kind;
    char *perm;
    char *name;
    char *rk;
} question;

typedef struct pair {
    struct pair *next;          /* hash chain */
    struct pair *newer, *older; /* use order */
    char *user;
    char *id;    /* "" when RabbitMQ did not say */
    question *q; /* grown as questions come, up to the bound */
    size_t nq, cap;
    int overflow; /* more questions came than fit */
    int login;    /* the login was seen (client id patterns apply) */
} pair;

struct authd_remember {
    pair **buckets;
    size_t nbuckets; /* a power of two */
    size_t n, max, evicted;
    pair *newest, *oldest;
};

static size_t hash_of(const authd_remember *m, const char *user, const char *id)
{
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = user; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (const char *p = id; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return (size_t)h & (m->nbuckets - 1);
}

static void questions_clear(pair *p)
{
    for (size_t i = 0; i < p->nq; i++) {
        free(p->q[i].perm);
        free(p->q[i].name);
        free(p->q[i].rk);
    }
    free(p->q);
    p->q = NULL;
    p->nq = p->cap = 0;
    p->overflow = 0;
}

static void unlink_use(authd_remember *m, pair *p)
{
    if (p->newer != NULL) {
        p->newer->older = p->older;
    } else {
        m->newest = p->older;
    }
    if (p->older != NULL) {
        p->older->newer = p->newer;
    } else {
        m->oldest = p->newer;
    }
    p->newer = p->older = NULL;
}

static void link_newest(authd_remember *m, pair *p)
{
    p->older = m->newest;
    p->newer = NULL;
    if (m->newest != NULL) {
        m->newest->newer = p;
    }
    m->newest = p;
    if (m->oldest == NULL) {
        m->oldest = p;
    }
}

static void forget(authd_remember *m, pair *p)
{
    pair **pp = &m->buckets[hash_of(m, p->user, p->id)];

    while (*pp != NULL && *pp != p) {
        pp = &(*pp)->next;
    }
    if (*pp == p) {
        *pp = p->next;
    }
    unlink_use(m, p);
    questions_clear(p);
    free(p->user);
    free(p->id);
    free(p);
    m->n--;
}

authd_remember *authd_remember_new(size_t max_clients)
{
    authd_remember *m = calloc(1, sizeof *m);
    size_t nb = 64;

    if (m == NULL || max_clients == 0) {
        free(m);
        return NULL;
    }
    while (nb < max_clients && nb < ((size_t)1 << 24)) {
        nb *= 2;
    }
    m->buckets = calloc(nb, sizeof *m->buckets);
    if (m->buckets == NULL) {
        free(m);
        return NULL;
    }
    m->nbuckets = nb;
    m->max = max_clients;
    return m;
}

void authd_remember_free(authd_remember *m)
{
    if (m == NULL) {
        return;
    }
    while (m->oldest != NULL) {
        forget(m, m->oldest);
    }
    free(m->buckets);
    free(m);
}

/* The pair (user, id), made (and room made) when absent; NULL when out of
 * memory. Becomes the most recently used. */
static pair *pair_get(authd_remember *m, const char *user, const char *id)
{
    size_t b = hash_of(m, user, id);
    pair *p;

    for (p = m->buckets[b]; p != NULL; p = p->next) {
        if (strcmp(p->user, user) == 0 && strcmp(p->id, id) == 0) {
            unlink_use(m, p);
            link_newest(m, p);
            return p;
        }
    }
    if (m->n >= m->max) {
        forget(m, m->oldest);
        m->evicted++;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->user = strdup(user);
    p->id = strdup(id);
    if (p->user == NULL || p->id == NULL) {
        free(p->user);
        free(p->id);
        free(p);
        return NULL;
    }
    p->next = m->buckets[b];
    m->buckets[b] = p;
    link_newest(m, p);
    m->n++;
    return p;
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void add_question(pair *p, authd_kind kind, const char *perm,
                         const char *name, const char *rk)
{
    question *q;

    for (size_t i = 0; i < p->nq; i++) {
        if (p->q[i].kind == kind && same(p->q[i].perm, perm) &&
            same(p->q[i].name, name) && same(p->q[i].rk, rk)) {
            return;
        }
    }
    if (p->nq == AUTHD_REMEMBER_QUESTIONS) {
        p->overflow = 1;
        return;
    }
    if (p->nq == p->cap) {
        size_t nc = p->cap == 0 ? 4 : p->cap * 2;
        question *nq = realloc(p->q, nc * sizeof *nq);
        if (nq == NULL) {
            p->overflow = 1; /* SECURITY: covered by the rule comparison */
            return;
        }
        p->q = nq;
        p->cap = nc;
    }
    q = &p->q[p->nq];
    q->kind = kind;
    q->perm = strdup(perm);
    q->name = strdup(name);
    q->rk = rk != NULL ? strdup(rk) : NULL;
    if (q->perm == NULL || q->name == NULL || (rk != NULL && q->rk == NULL)) {
        free(q->perm);
        free(q->name);
        free(q->rk);
        /* SECURITY: a question not remembered must still be covered. */
        p->overflow = 1;
        return;
    }
    p->nq++;
}

void authd_remember_answer(authd_remember *m, authd_kind kind,
                           const authd_form *form)
{
    const char *user = authd_form_get(form, "username");
    const char *perm = authd_form_get(form, "permission");
    const char *name = authd_form_get(form, "name");
    const char *id = NULL;
    char qid[SECMQ_AUTH_NAME_MAX + 1];
    pair *p;

    if (m == NULL || user == NULL) {
        return;
    }
    switch (kind) {
    case AUTHD_USER:
        id = authd_form_get(form, "client_id");
        p = pair_get(m, user, id != NULL ? id : "");
        if (p != NULL) {
            /* A new connection: RabbitMQ asks everything again. */
            questions_clear(p);
            p->login = 1;
        }
        return;
    case AUTHD_RESOURCE: {
        const char *res = authd_form_get(form, "resource");
        /* Exchanges depend on the user alone (the caller's check). */
        if (res == NULL || strcmp(res, "queue") != 0 || name == NULL ||
            perm == NULL || !authd_queue_client_id(name, qid, sizeof qid)) {
            return;
        }
        p = pair_get(m, user, qid);
        if (p != NULL) {
            add_question(p, kind, perm, name, NULL);
        }
        return;
    }
    case AUTHD_TOPIC: {
        const char *rk = authd_form_get(form, "routing_key");
        id = authd_form_get(form, "variable_map.client_id");
        if (perm == NULL || name == NULL || rk == NULL) {
            return;
        }
        p = pair_get(m, user, id != NULL ? id : "");
        if (p != NULL) {
            add_question(p, kind, perm, name, rk);
        }
        return;
    }
    case AUTHD_VHOST:
        return; /* the user alone decides it */
    }
}

/* Asks q of d again for p; NULL when still allowed, else why not. */
static const char *ask_again(authd *d, const pair *p, const question *q,
                             char *why, size_t why_len)
{
    authd_form form = {0};
    char err[128];
    const char *no;
    int bad = authd_form_add(&form, "username", p->user, err, sizeof err) ||
              authd_form_add(&form, "vhost", d->vhost, err, sizeof err) ||
              authd_form_add(&form, "name", q->name, err, sizeof err) ||
              authd_form_add(&form, "permission", q->perm, err, sizeof err);

    if (!bad && q->kind == AUTHD_RESOURCE) {
        bad = authd_form_add(&form, "resource", "queue", err, sizeof err);
    } else if (!bad) {
        bad =
            authd_form_add(&form, "resource", "topic", err, sizeof err) ||
            authd_form_add(&form, "routing_key", q->rk, err, sizeof err) ||
            authd_form_add(&form, "variable_map.username", p->user, err,
                           sizeof err) ||
            (p->id[0] != '\0' && authd_form_add(&form, "variable_map.client_id",
                                                p->id, err, sizeof err));
    }
    /* SECURITY: a question that cannot be asked counts as denied. */
    no = bad ? "out of memory"
             : authd_decide(d, q->kind, &form, "reload", why, why_len);
    if (no != NULL && no != why) {
        (void)snprintf(why, why_len, "%s", no);
        no = why;
    }
    authd_form_clear(&form);
    return no;
}

/* 1 when the rules of (user, id) lost any right from old to fresh (or
 * cannot be compared). */
static int rules_lost(const secmq_policy *old, const secmq_policy *fresh,
                      const pair *p)
{
    secmq_acl *a = NULL, *b = NULL;
    int lost = 1;
    int ra = p->id[0] != '\0' ? secmq__acl_compile(old, p->user, p->id, &a)
                              : secmq__acl_compile_signer(old, p->user, &a);
    int rb = p->id[0] != '\0' ? secmq__acl_compile(fresh, p->user, p->id, &b)
                              : secmq__acl_compile_signer(fresh, p->user, &b);

    if (ra == 0 && rb == 0) {
        lost = !secmq__acl_only_gained(a, b);
    }
    secmq__acl_free(a);
    secmq__acl_free(b);
    return lost;
}

size_t authd_remember_recheck(authd_remember *m, authd *fresh,
                              const secmq_policy *old, authd_lost_fn lost,
                              void *user)
{
    const secmq_policy *pol = &fresh->svc.policy;
    char why[SECMQ_AUTH_TOPIC_MAX + 160], no_buf[SECMQ_AUTH_TOPIC_MAX + 128];
    size_t count = 0;
    pair *p, *next;

    if (m == NULL) {
        return 0;
    }
    for (p = m->oldest; p != NULL; p = next) {
        const secmq_user *un = secmq__policy_user(pol, p->user);
        const secmq_user *uo = secmq__policy_user(old, p->user);
        const char *no = NULL;

        next = p->newer;
        if (un == NULL || un->disabled) {
            /* The caller closes all the user's connections; its sessions
             * go too (their bindings would outlive later rule changes). */
            if (p->id[0] != '\0') {
                lost(user, p->user, p->id,
                     un == NULL ? "user deleted" : "user disabled");
            }
            forget(m, p);
            continue;
        }
        if (uo != NULL && uo->pw_gen != un->pw_gen) {
            forget(m, p); /* the caller closes all the user's connections */
            continue;
        }
        if (p->login && p->id[0] != '\0' && fresh->idpats.n > 0) {
            no = secmq__idpats_check(&fresh->idpats, pol, p->user, p->id, NULL);
        }
        for (size_t i = 0; no == NULL && i < p->nq; i++) {
            no = ask_again(fresh, p, &p->q[i], no_buf, sizeof no_buf);
        }
        if (no == NULL && p->overflow && rules_lost(old, pol, p)) {
            no = "its rules lost a right";
        }
        if (no != NULL) {
            (void)snprintf(why, sizeof why, "access reduced: %s", no);
            lost(user, p->user, p->id, why);
            forget(m, p);
            count++;
        }
    }
    return count;
}

size_t authd_remember_count(const authd_remember *m)
{
    return m != NULL ? m->n : 0;
}

size_t authd_remember_evicted(authd_remember *m)
{
    size_t n = m != NULL ? m->evicted : 0;

    if (m != NULL) {
        m->evicted = 0;
    }
    return n;
}
