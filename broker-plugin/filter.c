/*
 * filter.c -- the MQTT filter algebra of acl.h (MQTT 3.1.1 section 4.7):
 * validity, matching, containment and intersection of filters (with the
 * '$' rule), and %u/%c pattern substitution. Pure functions on strings; not
 * for per-client rules (acl.c).
 */
#include <stdint.h>
#include <string.h>

#include "acl.h"
#include "level.h"

int secmq__filter_valid(const char *s)
{
    size_t n;

    if (s == NULL) {
        return 0;
    }
    n = strnlen(s, SECMQ_AUTH_TOPIC_MAX + 1);
    if (n == 0 || n > SECMQ_AUTH_TOPIC_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '+' && s[i] != '#') {
            continue;
        }
        /* A wildcard is a whole level ... */
        if ((i > 0 && s[i - 1] != '/') || (i + 1 < n && s[i + 1] != '/')) {
            return 0;
        }
        /* ... and '#' only the last one. */
        if (s[i] == '#' && i + 1 != n) {
            return 0;
        }
    }
    return 1;
}

int secmq__topic_valid(const char *s)
{
    size_t n;

    if (s == NULL) {
        return 0;
    }
    n = strnlen(s, SECMQ_AUTH_TOPIC_MAX + 1);
    if (n == 0 || n > SECMQ_AUTH_TOPIC_MAX) {
        return 0;
    }
    return memchr(s, '+', n) == NULL && memchr(s, '#', n) == NULL;
}

/*
 * SECURITY (all three below): MQTT 3.1.1 4.7.2: a topic whose first level
 * starts with '$' ($SYS/...) is not matched by a first-level '+' or '#', so
 * a grant of "#" never reaches broker internals; only a filter spelling out
 * the '$' level does.
 */
int secmq__topic_matches(const char *filter, const char *topic)
{
    const char *f = filter, *t = topic, *fl = NULL, *tl = NULL;
    size_t fn = 0, tn = 0;
    int dollar;

    if (filter == NULL || topic == NULL) {
        return 0;
    }
    dollar = topic[0] == '$';
    for (int depth = 0;; depth++) {
        if (!level_next(&f, &fl, &fn)) {
            return t == NULL;
        }
        if (is_hash(fl, fn)) {
            /* Matches the parent level too: t may be exhausted. */
            return !(depth == 0 && dollar);
        }
        if (!level_next(&t, &tl, &tn)) {
            return 0;
        }
        if (is_plus(fl, fn)) {
            if (depth == 0 && dollar) {
                return 0;
            }
        } else if (!level_eq(fl, fn, tl, tn)) {
            return 0;
        }
    }
}

/* 1 if the level l (of a filter) can only match levels starting with '$'. */
static int dollar_literal(const char *l, size_t n)
{
    return n > 0 && l[0] == '$';
}

int secmq__filter_contains(const char *outer, const char *inner)
{
    const char *o = outer, *i = inner, *ol = NULL, *il = NULL;
    size_t on = 0, in = 0;

    if (outer == NULL || inner == NULL) {
        return 0;
    }
    for (int depth = 0;; depth++) {
        int ohas = level_next(&o, &ol, &on);
        int ihas = level_next(&i, &il, &in);

        if (!ohas) {
            return !ihas;
        }
        if (is_hash(ol, on)) {
            /* Everything from here on, except '$' names at the top. A
             * first-level '+' or '#' in inner excludes them too. */
            return !(depth == 0 && ihas && dollar_literal(il, in));
        }
        /* At the top, inner "#" is "+/#" (there is no 0-level topic). */
        if (depth == 0 && is_hash(il, in) && is_plus(ol, on)) {
            return o != NULL && strcmp(o, "#") == 0;
        }
        /* inner ends here (outer wants another level) or inner's '#' also
         * matches this parent level (outer has more, not '#'). */
        if (!ihas || is_hash(il, in)) {
            return 0;
        }
        if (is_plus(ol, on)) {
            if (depth == 0 && dollar_literal(il, in)) {
                return 0;
            }
        } else if (is_plus(il, in) || !level_eq(ol, on, il, in)) {
            return 0;
        }
    }
}

int secmq__filter_intersects(const char *a, const char *b)
{
    const char *x = a, *y = b, *al = NULL, *bl = NULL;
    size_t an = 0, bn = 0;

    if (a == NULL || b == NULL) {
        return 0;
    }
    for (int depth = 0;; depth++) {
        int ahas = level_next(&x, &al, &an);
        int bhas = level_next(&y, &bl, &bn);

        if ((ahas && is_hash(al, an)) || (bhas && is_hash(bl, bn))) {
            /* '#' meets anything below this point (and the parent level),
             * but at the top not a literal '$' level. */
            if (depth == 0) {
                if ((ahas && dollar_literal(al, an)) ||
                    (bhas && dollar_literal(bl, bn))) {
                    return 0;
                }
            }
            return 1;
        }
        if (!ahas || !bhas) {
            return !ahas && !bhas;
        }
        if (is_plus(al, an) && is_plus(bl, bn)) {
            continue;
        }
        if (is_plus(al, an)) {
            if (depth == 0 && dollar_literal(bl, bn)) {
                return 0;
            }
            continue;
        }
        if (is_plus(bl, bn)) {
            if (depth == 0 && dollar_literal(al, an)) {
                return 0;
            }
            continue;
        }
        if (!level_eq(al, an, bl, bn)) {
            return 0;
        }
    }
}

/*
 * Like mosquitto's acl_file patterns: "%u" and "%c" are replaced, any other
 * '%' is copied and scanning goes on at the next byte ("%%u" gives "%" and
 * the user name, "%x" stays "%x"). NULL names fail.
 */
int secmq__pattern_substitute(const char *pattern, const char *username,
                              const char *client_id, char *out, size_t cap)
{
    size_t o = 0;

    if (out == NULL || cap == 0) {
        return -1;
    }
    out[0] = '\0';
    if (pattern == NULL || username == NULL || client_id == NULL) {
        return -1;
    }
    for (const char *s = pattern; *s != '\0'; s++) {
        const char *ins = NULL;

        if (s[0] == '%' && s[1] == 'u') {
            ins = username;
        } else if (s[0] == '%' && s[1] == 'c') {
            ins = client_id;
        }
        if (ins != NULL) {
            size_t n = strlen(ins);

            /* o < cap always; room for n bytes and the NUL. */
            if (n >= cap - o) {
                goto overflow;
            }
            memcpy(out + o, ins, n);
            o += n;
            s++;
        } else {
            if (cap - o < 2) {
                goto overflow;
            }
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return 0;

overflow:
    out[0] = '\0';
    return -1;
}
