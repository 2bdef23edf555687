/*
 * tinyjson.h -- just enough JSON for the tests to read known-answer vector
 * files in tests/vectors/: objects, arrays, strings with every escape,
 * non-negative integers, true/false/null. Not a validator and not for
 * anything but test data that the project writes itself.
 */
#ifndef SECMQ_TEST_TINYJSON_H
#define SECMQ_TEST_TINYJSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum tj_type {
    TJ_NULL,
    TJ_BOOL,
    TJ_NUM,
    TJ_STR,
    TJ_ARR,
    TJ_OBJ
} tj_type;

typedef struct tj_value {
    tj_type type;
    char *str;           /* TJ_STR: UTF-8, NUL-terminated */
    uint64_t num;        /* TJ_NUM: non-negative integers only */
    struct tj_value **v; /* TJ_ARR, TJ_OBJ: n values */
    char **k;            /* TJ_OBJ: n keys */
    size_t n;
} tj_value;

/* Reads and parses a whole file; NULL if unreadable or not JSON. Free the
 * result with tj_free(). */
tj_value *tj_load(const char *path);

/* Frees a value from tj_load and everything in it; NULL is a no-op. */
void tj_free(tj_value *j);

/* Member key of object o if it has that type, else NULL. */
const tj_value *tj_get(const tj_value *o, const char *key, tj_type type);

/* String member key of o decoded from hex into a new malloc'd buffer
 * (*len bytes, free() it); NULL if absent, not a string or not hex. */
unsigned char *tj_hex(const tj_value *o, const char *key, size_t *len);

#endif
