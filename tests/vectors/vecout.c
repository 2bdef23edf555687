/*
 * vecout.c -- a growing text buffer for the vector generators' JSON output,
 * and writing it out or comparing it with the committed file.
 * Test tooling only; not part of the library.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void put_key(text *t, const char *name, const unsigned char *b, size_t n)
{
    put(t, "\"%s\": ", name);
    put_hex(t, b, n);
}

void fill(unsigned char *b, size_t n, unsigned start)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (unsigned char)(start + i);
    }
}

void put_json_str(text *t, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s,
                        *end = (const unsigned char *)s + n;
    uint32_t cp;
    int more;

    put(t, "\"");
    while (p < end) {
        if (*p < 0x80) {
            if (*p == '"' || *p == '\\') {
                put(t, "\\%c", *p);
            } else if (*p < 0x20 || *p == 0x7f) {
                put(t, "\\u%04x", *p);
            } else {
                put(t, "%c", *p);
            }
            p++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1fu;
            more = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0fu;
            more = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            cp = *p & 0x07u;
            more = 3;
        } else {
            die("string is not UTF-8");
        }
        p++;
        for (; more > 0; more--, p++) {
            if (p >= end || (*p & 0xc0) != 0x80) {
                die("string is not UTF-8");
            }
            cp = (cp << 6) | (*p & 0x3fu);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put(t, "\\u%04x\\u%04x", 0xd800u + (cp >> 10),
                0xdc00u + (cp & 0x3ffu));
        } else {
            put(t, "\\u%04x", cp);
        }
    }
    put(t, "\"");
}

void put_str(text *t, const char *s)
{
    put_json_str(t, s, strlen(s));
}

int vec_write_file(const char *path, const text *t)
{
    FILE *fp = fopen(path, "wb");

    if (fp == NULL) {
        fprintf(stderr, "%s: %s: %s\n", vec_prog, path, strerror(errno));
        return 1;
    }
    if (fwrite(t->s, 1, t->len, fp) != t->len || fclose(fp) != 0) {
        fprintf(stderr, "%s: %s: write failed\n", vec_prog, path);
        return 1;
    }
    return 0;
}

int vec_check_file(const char *path, const text *t)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    size_t got;
    int same;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s: %s\n", vec_prog, path, strerror(errno));
        return 1;
    }
    buf = malloc(t->len + 1);
    if (buf == NULL) {
        die("out of memory");
    }
    got = fread(buf, 1, t->len + 1, fp);
    fclose(fp);
    same = got == t->len && memcmp(buf, t->s, t->len) == 0;
    free(buf);
    if (!same) {
        fprintf(stderr,
                "%s: %s differs from what the code produces now.\n"
                "If the wire format changed on purpose (new PROTOCOL.md "
                "version), regenerate it with --out; otherwise the code is "
                "wrong.\n",
                vec_prog, path);
        return 1;
    }
    printf("%s: %s matches the code\n", vec_prog, path);
    return 0;
}

int vec_output(int argc, char **argv, const text *t)
{
    if (argc == 3 && strcmp(argv[1], "--out") == 0) {
        return vec_write_file(argv[2], t);
    }
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        return vec_check_file(argv[2], t);
    }
    if (argc == 1) {
        return fwrite(t->s, 1, t->len, stdout) == t->len ? 0 : 1;
    }
    fprintf(stderr, "usage: %s [--out FILE | --check FILE]\n", vec_prog);
    return 2;
}
