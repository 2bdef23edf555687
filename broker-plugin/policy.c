/*
 * policy.c -- the in-memory access policy (policy.h): freeing it, finding a
 * user, group membership and the name rule every user, group and client id
 * must pass. Pure data: loading from sqlite is authdb.c's job, compiling
 * rules for one client is acl.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "policy.h"

static void free_user(secmq_user *u)
{
    if (u->hash != NULL) {
        /* SECURITY: a password hash is an offline-attack target: wipe it
         * before the memory goes back to the allocator. */
        sodium_memzero(u->hash, strlen(u->hash));
        free(u->hash);
    }
    free(u->name);
    for (size_t i = 0; i < u->ngroups; i++) {
        free(u->groups[i]);
    }
    free(u->groups);
    free(u->keys);
}

void secmq__policy_clear(secmq_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nusers; i++) {
        free_user(&p->users[i]);
    }
    free(p->users);
    for (size_t i = 0; i < p->nrules; i++) {
        free(p->rules[i].subject);
        free(p->rules[i].topic);
    }
    free(p->rules);
    sodium_memzero(p, sizeof *p);
}

const secmq_user *secmq__policy_user(const secmq_policy *p, const char *name)
{
    size_t lo = 0, hi;

    if (p == NULL || name == NULL || p->users == NULL) {
        return NULL;
    }
    hi = p->nusers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->users[mid].name);

        if (c == 0) {
            return &p->users[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

int secmq__user_in_group(const secmq_user *u, const char *group)
{
    if (u == NULL || group == NULL) {
        return 0;
    }
    for (size_t i = 0; i < u->ngroups; i++) {
        if (u->groups[i] != NULL && strcmp(u->groups[i], group) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Length of the UTF-8 sequence starting at s (n bytes available) and its
 * code point in *cp, or 0 when it is not a valid shortest-form sequence of a
 * Unicode scalar value (no overlong forms, no surrogates, <= U+10FFFF).
 */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
    unsigned long c;
    size_t len;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        c = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        c = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        c = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0u) != 0x80u) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
        (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return len;
}

int secmq__name_ok(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n, i = 0;

    if (name == NULL) {
        return 0;
    }
    n = strnlen(name, SECMQ_AUTH_NAME_MAX + 1);
    if (n == 0 || n > SECMQ_AUTH_NAME_MAX) {
        return 0;
    }
    while (i < n) {
        unsigned long cp;
        size_t len = utf8_seq(s + i, n - i, &cp);

        if (len == 0) {
            return 0;
        }
        /* SECURITY: '+', '#' and '/' would turn "%u" or "%c" in a pattern
         * rule into a wildcard or extra topic levels (a user "a/#" with
         * pattern "users/%u" would get "users/a/#"). Control characters
         * (C0, DEL and C1) would be written raw into the broker's log. */
        if (cp == '+' || cp == '#' || cp == '/' || cp < 0x20 ||
            (cp >= 0x7f && cp <= 0x9f)) {
            return 0;
        }
        i += len;
    }
    return 1;
}
