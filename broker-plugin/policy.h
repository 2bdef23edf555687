/*
 * policy.h -- the broker's access policy in memory: users (password hash,
 * disabled flag, groups, signing keys), groups and ACL rules, as loaded
 * from the auth database by authdb.c. Pure data, no sqlite, no mosquitto:
 * the plugin, secmq-admin, the tests and the fuzzer all share it.
 */
#ifndef SECMQ_POLICY_H
#define SECMQ_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* Access bits of a rule. `read` in secmq-admin is READ|SUBSCRIBE,
 * `readwrite` is READ|WRITE|SUBSCRIBE, `write` is WRITE, `subscribe` is
 * SUBSCRIBE, `deny` is DENY alone. */
#define SECMQ_ACL_READ 0x1u      /* receive messages on matching topics */
#define SECMQ_ACL_WRITE 0x2u     /* publish on matching topics */
#define SECMQ_ACL_SUBSCRIBE 0x4u /* (un)subscribe to filters inside */
#define SECMQ_ACL_DENY 0x8u      /* explicit deny: beats every allow */

#define SECMQ_AUTH_NAME_MAX 256   /* user, group and client id bytes */
#define SECMQ_AUTH_TOPIC_MAX 4096 /* rule topic bytes (as PROTOCOL.md) */
#define SECMQ_SIGN_KEY_BYTES 32   /* Ed25519 public key */

typedef enum secmq_rule_kind {
    SECMQ_RULE_USER = 0,   /* subject is a user name */
    SECMQ_RULE_GROUP = 1,  /* subject is a group name */
    SECMQ_RULE_PATTERN = 2 /* subject NULL; topic may hold %u and %c */
} secmq_rule_kind;

typedef struct secmq_rule {
    int64_t id; /* database row id, stable, shown by acl list */
    secmq_rule_kind kind;
    char *subject;      /* owned; NULL for patterns */
    char *topic;        /* owned; an MQTT filter (after substitution) */
    unsigned access;    /* SECMQ_ACL_* bits */
    int require_signed; /* 1: publishes allowed by this rule must be
                           secmq envelopes signed by the user's key */
} secmq_rule;

typedef struct secmq_user {
    char *name;     /* owned */
    char *hash;     /* owned; argon2id string, or an imported
                       mosquitto "$6$" / "$7$" hash */
    int disabled;   /* 1: may not connect */
    int relay;      /* 1: a bridge: its signed publishes may carry any
                       user's signature (plugin.c, relay.h) */
    int64_t pw_gen; /* +1 at each `user passwd`: a change kicks */
    char **groups;  /* owned; names of the groups it belongs to */
    size_t ngroups;
    unsigned char (*keys)[SECMQ_SIGN_KEY_BYTES]; /* owned; signing keys */
    size_t nkeys;
} secmq_user;

typedef struct secmq_policy {
    secmq_user *users; /* owned; sorted by name (strcmp) */
    size_t nusers;
    secmq_rule *rules; /* owned; sorted by id */
    size_t nrules;
    unsigned long long pw_ops; /* argon2id cost for new and rehashed */
    size_t pw_mem;             /* passwords (opslimit, memlimit bytes) */
} secmq_policy;

/* Frees everything p owns and zeroes *p (password hashes are wiped).
 * p may be NULL. */
void secmq__policy_clear(secmq_policy *p);

/* The user called name (binary search), or NULL. Borrowed from p. */
const secmq_user *secmq__policy_user(const secmq_policy *p, const char *name);

/* 1 if the user belongs to group, else 0. */
int secmq__user_in_group(const secmq_user *u, const char *group);

/*
 * 1 if name may be a user, group or client id name: 1..SECMQ_AUTH_NAME_MAX
 * bytes of valid UTF-8 without control characters and without '+', '#'
 * or '/' (SECURITY: those would turn a %u/%c pattern into a wildcard or a
 * different topic level). 0 otherwise.
 */
int secmq__name_ok(const char *name);

#endif /* SECMQ_POLICY_H */
