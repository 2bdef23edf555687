/*
 * acl.h -- ACLs compiled per client and the MQTT filter algebra they need.
 * A client's rules (its user rules, its groups' rules and every pattern with
 * %u/%c substituted) are compiled once at connect; each check is then a walk
 * over a few in-memory filters, no allocation, no database. Pure C: no
 * sqlite, no mosquitto (the fuzzer and the unit tests link it alone).
 */
#ifndef SECMQ_ACL_H
#define SECMQ_ACL_H

#include "policy.h"

typedef struct secmq_acl secmq_acl;

/*
 * secmq__acl_compile -- the rules that apply to (username, client_id) under
 * p, copied into *out (the caller frees it with secmq__acl_free). Patterns
 * get %u replaced by username and %c by client_id; a pattern whose result
 * is not a valid filter is skipped. An unknown or disabled user gets an
 * empty ACL (everything denied).
 * SECURITY: username and client_id must have passed secmq__name_ok; if
 * either did not, *out is an empty ACL.
 * Returns 0, or -1 when out of memory (*out untouched).
 */
int secmq__acl_compile(const secmq_policy *p, const char *username,
                       const char *client_id, secmq_acl **out);

/*
 * secmq__acl_compile_signer -- the rules of username as the signer of a
 * message another user (a relay) published, whose client id is unknown:
 * as secmq__acl_compile, except that a pattern holding %c grants nothing
 * when it allows, and denies with each level holding %c made '+'.
 * Returns 0, or -1 when out of memory (*out untouched).
 */
int secmq__acl_compile_signer(const secmq_policy *p, const char *username,
                              secmq_acl **out);

/* Frees a compiled ACL. NULL is a no-op. */
void secmq__acl_free(secmq_acl *a);

/* Number of rules compiled into a (for logs and tests). */
size_t secmq__acl_count(const secmq_acl *a);

/*
 * secmq__acl_check_topic -- may the client publish (access ==
 * SECMQ_ACL_WRITE) or receive (SECMQ_ACL_READ) a message on topic (a topic
 * name, no wildcards)? Allowed when an allow rule with that bit matches
 * and no deny rule matches. When allowed and access is WRITE,
 * *require_signed (may be NULL) is set to 1 if any matching allow rule
 * requires signed messages, else 0.
 * Returns 1 allowed, 0 denied (also for a NULL acl or an invalid topic).
 */
int secmq__acl_check_topic(const secmq_acl *a, const char *topic,
                           unsigned access, int *require_signed);

/*
 * secmq__acl_check_filter -- may the client subscribe to (or unsubscribe
 * from) filter? SECURITY: only if everything the filter can match is
 * allowed: some rule with SUBSCRIBE contains the whole filter
 * (secmq__filter_contains) and no deny rule intersects it. A "$share/G/"
 * prefix is removed first (G must be a valid name).
 * Returns 1 allowed, 0 denied (also for a NULL acl or an invalid filter).
 */
int secmq__acl_check_filter(const secmq_acl *a, const char *filter);

/*
 * secmq__acl_only_gained -- 1 if going from old to new takes nothing away:
 * every allow rule of old (topic, access bits) is in new with at least the
 * same bits and no stricter signature requirement, and every deny rule of
 * new is in old. 0 otherwise (the client lost something and is kicked).
 */
int secmq__acl_only_gained(const secmq_acl *old_acl, const secmq_acl *new_acl);

/* --- MQTT filter algebra (MQTT 3.1.1 section 4.7) --------------------- */

/* 1 if s is a valid topic filter: 1..SECMQ_AUTH_TOPIC_MAX bytes, '#' only as
 * the whole last level, '+' only as a whole level, no NUL. Else 0. */
int secmq__filter_valid(const char *s);

/* 1 if s is a valid topic name (a valid filter without '+' or '#'). */
int secmq__topic_valid(const char *s);

/* 1 if topic (a valid name) matches filter (a valid filter): '#' matches
 * the parent level too ("a/#" matches "a"); a topic whose first level
 * starts with '$' is not matched by a first-level '+' or '#'. Else 0. */
int secmq__topic_matches(const char *filter, const char *topic);

/* 1 if every topic matching inner also matches outer (both valid). */
int secmq__filter_contains(const char *outer, const char *inner);

/* 1 if some topic matches both a and b (both valid). */
int secmq__filter_intersects(const char *a, const char *b);

/*
 * secmq__pattern_substitute -- pattern with every "%u" replaced by username
 * and every "%c" by client_id into out (cap bytes, NUL-terminated). Other
 * '%' sequences are copied as they are.
 * Returns 0, or -1 when the result does not fit.
 */
int secmq__pattern_substitute(const char *pattern, const char *username,
                              const char *client_id, char *out, size_t cap);

#endif /* SECMQ_ACL_H */
