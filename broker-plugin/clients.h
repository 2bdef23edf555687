/*
 * clients.h -- the plugin's table of logged-in clients: each connected
 * client's compiled ACL and signing keys, keyed by the broker's context
 * pointer (an opaque key here), from its login to its DISCONNECT event.
 * No mosquitto API (plugin.c calls in with the context pointer); compiled
 * into secmq_auth.so only (it needs the envelope code for key ids).
 */
#ifndef SECMQ_CLIENTS_H
#define SECMQ_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include <secmq.h>

#include "acl.h"
#include "policy.h"

/* One client and what the plugin compiled for it. */
typedef struct secmq_pclient {
    struct secmq_pclient *next; /* hash chain */
    const void *key;            /* the broker's context pointer */
    char *id;                   /* owned (borrowed in a temporary) */
    char *user;                 /* owned (borrowed in a temporary) */
    secmq_acl *acl;             /* owned; NULL: everything denied */
    int64_t pw_gen;
    int relay; /* the user is a relay (policy.h); its signed publishes are
                  checked against every user's keys (relay.h) */
    unsigned char (*keys)[SECMQ_SIGN_KEY_BYTES]; /* owned: the user's */
    unsigned char (*key_ids)[SECMQ_ID_BYTES];    /* signing keys, ids */
    size_t nkeys;
} secmq_pclient;

/*
 * The table. SECURITY: entries leave only through secmq__clients_remove
 * (the DISCONNECT event) or secmq__clients_free: a reload re-checks
 * exactly the clients in it, so a connected client is never dropped.
 */
typedef struct secmq_pclients {
    secmq_pclient **buckets; /* owned */
    size_t nbuckets;         /* a power of two */
    size_t nclients;
} secmq_pclients;

/* An empty table in *t. Returns 0, or -1 when out of memory. */
int secmq__clients_init(secmq_pclients *t);

/* Frees every entry and the buckets. t may be NULL. */
void secmq__clients_free(secmq_pclients *t);

/*
 * secmq__client_compile -- fill c's ACL, password generation, relay flag
 * and keys from pol for c->user and c->id. Returns 0, or -1 when out of memory
 * (c unchanged).
 */
int secmq__client_compile(const secmq_policy *pol, secmq_pclient *c);

/*
 * secmq__clients_add -- a new entry for key with user and id (COPIED) and
 * rules compiled from pol, replacing any entry key had. The caller has
 * checked the names (secmq__name_ok). Returns the entry (owned by t), or
 * NULL when out of memory (key then has no entry).
 */
secmq_pclient *secmq__clients_add(secmq_pclients *t, const secmq_policy *pol,
                                  const void *key, const char *user,
                                  const char *id);

/* Drops key's entry, if any (the DISCONNECT event). */
void secmq__clients_remove(secmq_pclients *t, const void *key);

/*
 * secmq__clients_find -- key's entry, or NULL when key has none (a client
 * the plugin did not log in: see secmq__client_temp). When the broker now
 * gives the client other names (another plugin renamed it), the entry
 * takes them (COPIED) and is compiled again; SECURITY: it stays in the
 * table, with no rights when the names are invalid or memory ran out.
 */
secmq_pclient *secmq__clients_find(secmq_pclients *t, const secmq_policy *pol,
                                   const void *key, const char *user,
                                   const char *id);

/*
 * secmq__client_temp -- rules for a client not in the table, compiled
 * into *c for one check; user and id are BORROWED by *c until
 * secmq__client_release(c). Returns 0; -1 for names that could not log
 * in, -2 when out of memory (nothing compiled: the caller denies).
 */
int secmq__client_temp(const secmq_policy *pol, secmq_pclient *c,
                       const char *user, const char *id);

/* Frees what secmq__client_temp compiled into c (not the names). */
void secmq__client_release(secmq_pclient *c);

#endif /* SECMQ_CLIENTS_H */
