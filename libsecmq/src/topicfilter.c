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

unsigned secmq__filter_literals(const char *f, size_t flen)
{
    unsigned n = 0;
    size_t i = 0, e;

    for (;;) {
        e = level_end(f, flen, i);
        if (!(e - i == 1 && (f[i] == '+' || f[i] == '#'))) {
            n++;
        }
        if (e >= flen) {
            return n;
        }
        i = e + 1;
    }
}
