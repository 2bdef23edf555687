/*
 * clients.c -- the plugin's table of logged-in clients (clients.h): a hash
 * table keyed by the broker's context pointer, each entry with the rules
 * and signing keys compiled for its user and client id. Not for deciding
 * who may log in (plugin.c) or what a rule allows (acl.c).
 */
#include <stdlib.h>
#include <string.h>

#include "clients.h"

#define INITIAL_BUCKETS 64

static size_t bucket_of(const secmq_pclients *t, const void *key)
{
    uintptr_t h = (uintptr_t)key;

    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    return (size_t)h & (t->nbuckets - 1);
}

static void client_free(secmq_pclient *c)
{
    if (c == NULL) {
        return;
    }
    secmq__acl_free(c->acl);
    free(c->id);
    free(c->user);
    free(c->keys);
    free(c->key_ids);
    free(c);
}

int secmq__clients_init(secmq_pclients *t)
{
    memset(t, 0, sizeof *t);
    t->buckets = calloc(INITIAL_BUCKETS, sizeof *t->buckets);
    if (t->buckets == NULL) {
        return -1;
    }
    t->nbuckets = INITIAL_BUCKETS;
    return 0;
}

void secmq__clients_free(secmq_pclients *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        secmq_pclient *c = t->buckets[i];
        while (c != NULL) {
            secmq_pclient *next = c->next;
            client_free(c);
            c = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

int secmq__client_compile(const secmq_policy *pol, secmq_pclient *c)
{
    const secmq_user *u = secmq__policy_user(pol, c->user);
    secmq_acl *acl = NULL;
    unsigned char(*keys)[SECMQ_SIGN_KEY_BYTES] = NULL;
    unsigned char(*ids)[SECMQ_ID_BYTES] = NULL;
    size_t n = (u != NULL && !u->disabled) ? u->nkeys : 0;

    if (secmq__acl_compile(pol, c->user, c->id, &acl) != 0) {
        return -1;
    }
    if (n > 0) {
        keys = calloc(n, sizeof *keys);
        ids = calloc(n, sizeof *ids);
        if (keys == NULL || ids == NULL) {
            free(keys);
            free(ids);
            secmq__acl_free(acl);
            return -1;
        }
        memcpy(keys, u->keys, n * sizeof *keys);
        for (size_t i = 0; i < n; i++) {
            secmq_identity_id(ids[i], keys[i]);
        }
    }
    secmq__acl_free(c->acl);
    free(c->keys);
    free(c->key_ids);
    c->acl = acl;
    c->keys = keys;
    c->key_ids = ids;
    c->nkeys = n;
    c->pw_gen = u != NULL ? u->pw_gen : 0;
    c->relay = u != NULL && !u->disabled && u->relay;
    return 0;
}

static int table_grow(secmq_pclients *t)
{
    size_t n = t->nbuckets * 2;
    secmq_pclient **nb = calloc(n, sizeof *nb);
    secmq_pclient **old = t->buckets;
    size_t oldn = t->nbuckets;

    if (nb == NULL) {
        return -1;
    }
    t->buckets = nb;
    t->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        secmq_pclient *c = old[i];
        while (c != NULL) {
            secmq_pclient *next = c->next;
            size_t b = bucket_of(t, c->key);
            c->next = nb[b];
            nb[b] = c;
            c = next;
        }
    }
    free(old);
    return 0;
}

void secmq__clients_remove(secmq_pclients *t, const void *key)
{
    secmq_pclient **pp = &t->buckets[bucket_of(t, key)];

    while (*pp != NULL) {
        if ((*pp)->key == key) {
            secmq_pclient *c = *pp;
            *pp = c->next;
            client_free(c);
            t->nclients--;
            return;
        }
        pp = &(*pp)->next;
    }
}

secmq_pclient *secmq__clients_add(secmq_pclients *t, const secmq_policy *pol,
                                  const void *key, const char *user,
                                  const char *id)
{
    secmq_pclient *c;
    size_t b;

    secmq__clients_remove(t, key);
    if (t->nclients + 1 > t->nbuckets && table_grow(t) != 0) {
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->key = key;
    c->user = strdup(user);
    c->id = strdup(id);
    if (c->user == NULL || c->id == NULL ||
        secmq__client_compile(pol, c) != 0) {
        client_free(c);
        return NULL;
    }
    b = bucket_of(t, key);
    c->next = t->buckets[b];
    t->buckets[b] = c;
    t->nclients++;
    return c;
}

secmq_pclient *secmq__clients_find(secmq_pclients *t, const secmq_policy *pol,
                                   const void *key, const char *user,
                                   const char *id)
{
    secmq_pclient *c;

    for (c = t->buckets[bucket_of(t, key)]; c != NULL; c = c->next) {
        if (c->key == key) {
            break;
        }
    }
    if (c != NULL && (strcmp(c->user, user) != 0 || strcmp(c->id, id) != 0)) {
        char *nu = strdup(user);
        char *ni = strdup(id);

        if (nu != NULL && ni != NULL) {
            free(c->user);
            free(c->id);
            c->user = nu;
            c->id = ni;
            nu = NULL;
            ni = NULL;
        }
        free(nu);
        free(ni);
        /* SECURITY: the entry stays (a reload must still see the
         * client), with no rights unless the new names are valid and
         * compiled. */
        if (strcmp(c->user, user) != 0 || strcmp(c->id, id) != 0 ||
            !secmq__name_ok(user) || !secmq__name_ok(id) ||
            secmq__client_compile(pol, c) != 0) {
            secmq__acl_free(c->acl);
            c->acl = NULL;
        }
    }
    return c;
}

int secmq__client_temp(const secmq_policy *pol, secmq_pclient *c,
                       const char *user, const char *id)
{
    memset(c, 0, sizeof *c);
    /* SECURITY: names that could not log in never get rules. */
    if (!secmq__name_ok(user) || !secmq__name_ok(id)) {
        return -1;
    }
    c->user = (char *)user;
    c->id = (char *)id;
    if (secmq__client_compile(pol, c) != 0) {
        memset(c, 0, sizeof *c);
        return -2;
    }
    return 0;
}

void secmq__client_release(secmq_pclient *c)
{
    secmq__acl_free(c->acl);
    free(c->keys);
    free(c->key_ids);
    memset(c, 0, sizeof *c);
}
