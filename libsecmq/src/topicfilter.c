/*
 * topicfilter.c -- MQTT topic names and filters for the keyring: which
 * channel covers a topic, and which of several is the most specific.
 * Byte-level rules only (MQTT 3.1.1 §4.7); UTF-8 validity is the broker's.
 */
#include <string.h>

#include "topicfilter_int.h"

#define TOPIC_MAX 65535u

int secmq__topic_valid(const char *t, size_t len)
{
    if (len < 1 || len > TOPIC_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (t[i] == 0 || t[i] == '+' || t[i] == '#') {
            return 0;
        }
    }
    return 1;
}

int secmq__filter_valid(const char *f, size_t len)
{
    size_t start = 0; /* start of the current level */

    if (len < 1 || len > TOPIC_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = f[i];
        if (c == 0) {
            return 0;
        }
        if (c == '/') {
            start = i + 1;
            continue;
        }
        if (c == '+' && (i != start || (i + 1 < len && f[i + 1] != '/'))) {
            return 0;
        }
        if (c == '#' && (i != start || i + 1 != len)) {
            return 0;
        }
    }
    return 1;
}

/* End of the level starting at i of s (len bytes): index of '/' or len. */
static size_t level_end(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] != '/') {
        i++;
    }
    return i;
}

int secmq__filter_match(const char *f, size_t flen, const char *t, size_t tlen)
{
    size_t fi = 0, ti = 0, fe, te;
    int topic_done = 0;

    if (tlen > 0 && t[0] == '$' && flen > 0 && (f[0] == '+' || f[0] == '#')) {
        return 0;
    }
    for (;;) {
        fe = level_end(f, flen, fi);
        if (fe - fi == 1 && f[fi] == '#') {
            return 1; /* also matches the parent level: "a/#" matches "a" */
        }
        if (topic_done) {
            return 0;
        }
        te = level_end(t, tlen, ti);
        if (!(fe - fi == 1 && f[fi] == '+') &&
            (fe - fi != te - ti ||
             memcmp(f + fi, t + ti, fe - fi) != 0)) { /* not secret */
            return 0;
        }
        if (fe >= flen) {
            return te >= tlen;
        }
        fi = fe + 1;
        if (te >= tlen) {
            topic_done = 1;
        } else {
            ti = te + 1;
        }
    }
}

/* How specific one level of a filter is (PROTOCOL.md §4.1): a filter
 * that has ended beats #, a literal beats +, + beats #. */
enum { RANK_HASH = 1, RANK_PLUS = 2, RANK_LITERAL = 3, RANK_END = 4 };

static int level_rank(const char *f, size_t b, size_t e, int ended)
{
    if (ended) {
        return RANK_END;
    }
    if (e - b == 1 && f[b] == '#') {
        return RANK_HASH;
    }
    if (e - b == 1 && f[b] == '+') {
        return RANK_PLUS;
    }
    return RANK_LITERAL;
}

int secmq__filter_cmp_specific(const char *a, size_t alen, const char *b,
                               size_t blen)
{
    size_t ai = 0, bi = 0, ae, be;
    int a_end = 0, b_end = 0, ra, rb, c;

    for (;;) {
        if (a_end && b_end) {
            return 0; /* every level equal: the same filter */
        }
        ae = a_end ? ai : level_end(a, alen, ai);
        be = b_end ? bi : level_end(b, blen, bi);
        ra = level_rank(a, ai, ae, a_end);
        rb = level_rank(b, bi, be, b_end);
        if (ra != rb) {
            return ra > rb ? 1 : -1;
        }
        if (ra == RANK_LITERAL) {
            /* Two filters matching one topic have equal literals here;
             * for others, byte order keeps the comparison total. */
            size_t la = ae - ai, lb = be - bi;
            c = memcmp(a + ai, b + bi, la < lb ? la : lb); /* not secret */
            if (c != 0) {
                return c > 0 ? -1 : 1;
            }
            if (la != lb) {
                return la < lb ? 1 : -1;
            }
        }
        if (ae >= alen) {
            a_end = 1;
        }
        if (be >= blen) {
            b_end = 1;
        }
        ai = ae + 1;
        bi = be + 1;
    }
}
