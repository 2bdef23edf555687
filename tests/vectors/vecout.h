/*
 * vecout.h -- building the JSON text of the vector files, shared by
 * gen_vectors and gen_grant_vectors. Test tooling only: failures end the
 * program with "PROG: what".
 */
#ifndef VECOUT_H
#define VECOUT_H

#include <stddef.h>

typedef struct text {
    char *s;
    size_t len, cap;
} text;

/* The program name used by die(); each generator sets it in main(). */
extern const char *vec_prog;

void die(const char *what) __attribute__((noreturn));
void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes as a quoted lower-case hex JSON string. */
void put_hex(text *t, const unsigned char *b, size_t n);
/* A quoted JSON string of the UTF-8 bytes s (n of them, NUL allowed), in
 * ASCII: other characters, controls and 0x7f as \uXXXX (UTF-16). Dies on
 * bytes that are not UTF-8 (JSON strings cannot carry them). */
void put_json_str(text *t, const char *s, size_t n);

#endif
