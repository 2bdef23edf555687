/*
 * vecout.c -- a growing text buffer for the vector generators' JSON output.
 * Test tooling only; not part of the library.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vecout.h"

const char *vec_prog = "gen_vectors";

void die(const char *what)
{
    fprintf(stderr, "%s: %s\n", vec_prog, what);
    exit(1);
}

void put(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            die("vsnprintf failed");
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)n + 1;
        t->s = realloc(t->s, t->cap);
        if (t->s == NULL) {
            die("out of memory");
        }
    }
}

void put_hex(text *t, const unsigned char *b, size_t n)
{
    put(t, "\"");
    for (size_t i = 0; i < n; i++) {
        put(t, "%02x", b[i]);
    }
    put(t, "\"");
}
