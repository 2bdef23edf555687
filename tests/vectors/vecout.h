/*
 * vecout.h -- building the JSON text of the vector files and writing or
 * checking it, shared by the gen_*_vectors programs. Test tooling only:
 * failures end the program with "PROG: what".
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
/* "NAME": then put_hex() of b. */
void put_key(text *t, const char *name, const unsigned char *b, size_t n);
/* The fixed byte runs the vectors use: b[i] = start + i (mod 256). */
void fill(unsigned char *b, size_t n, unsigned start);
/* A quoted JSON string of the UTF-8 bytes s (n of them, NUL allowed), in
 * ASCII: other characters, controls and 0x7f as \uXXXX (UTF-16). Dies on
 * bytes that are not UTF-8 (JSON strings cannot carry them). */
void put_json_str(text *t, const char *s, size_t n);
/* put_json_str() of the NUL-terminated string s. */
void put_str(text *t, const char *s);

/* Writes t to path. Returns 0, or 1 after printing "PROG: path: why". */
int vec_write_file(const char *path, const text *t);
/* Compares t with the committed file at path: returns 0 after printing
 * "PROG: path matches the code", or 1 after saying how to go on when it
 * differs or cannot be read. */
int vec_check_file(const char *path, const text *t);
/*
 * The generators' command line: "--out FILE" writes t (vec_write_file),
 * "--check FILE" compares it with FILE (vec_check_file), no argument
 * writes it to stdout. Returns the exit code: 0, 1, or 2 after printing
 * the usage.
 */
int vec_output(int argc, char **argv, const text *t);

#endif
