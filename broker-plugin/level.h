/*
 * level.h -- walking MQTT topic levels, shared by the filter algebra
 * (filter.c) and the ACL compiler (acl.c). Tiny static inline helpers, no
 * state; not for matching whole filters (that is filter.c).
 */
#ifndef SECMQ_LEVEL_H
#define SECMQ_LEVEL_H

#include <stddef.h>
#include <string.h>

/*
 * Level cursor: *cur points at the start of the next level, or is NULL when
 * the string is exhausted. "a/" has two levels ("a" and ""), "" has one.
 */
static inline int level_next(const char **cur, const char **lp, size_t *ln)
{
    const char *s = *cur, *q;

    if (s == NULL) {
        return 0;
    }
    q = s;
    while (*q != '\0' && *q != '/') {
        q++;
    }
    *lp = s;
    *ln = (size_t)(q - s);
    *cur = *q == '/' ? q + 1 : NULL;
    return 1;
}

static inline int is_hash(const char *l, size_t n)
{
    return n == 1 && l[0] == '#';
}

static inline int is_plus(const char *l, size_t n)
{
    return n == 1 && l[0] == '+';
}

static inline int level_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

#endif /* SECMQ_LEVEL_H */
