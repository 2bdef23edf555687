/*
 * check.h -- tiny assertion macros for secmq's C tests.
 *
 * A test case is a `static void test_x(void)`; a failed CHECK prints
 * file:line, the expression and both values on stderr, counts the failure
 * and returns from the test case (later cases still run). RUN() calls a case
 * and check_exit() turns the count into the process exit status. No
 * dependency on secmq: library-specific checks live in testutil.h.
 */
#ifndef SECMQ_TEST_CHECK_H
#define SECMQ_TEST_CHECK_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Failures so far in this process (defined in testutil.c). */
extern int check_failures;
/* Name of the test case RUN() is running, for messages. */
extern const char *check_current;

/* Prints "file:line: [case] FAIL: ..." on stderr and counts it. */
void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 if needle occurs in haystack (case-insensitive when nocase). */
int check_contains(const char *haystack, const char *needle, int nocase);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            check_fail(__FILE__, __LINE__, "%s", #cond);                       \
            return;                                                            \
        }                                                                      \
    } while (0)

/* Like CHECK, with a printf-style explanation. */
#define CHECKF(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            check_fail(__FILE__, __LINE__, __VA_ARGS__);                       \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                     \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_) {                                                        \
            check_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,   \
                       a_, b_);                                                \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                     \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                 \
            check_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a,   \
                       #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
            return;                                                            \
        }                                                                      \
    } while (0)

/* Byte-exact comparison of two buffers with their lengths. */
#define CHECK_MEM_EQ(a, alen, b, blen)                                         \
    do {                                                                       \
        size_t al_ = (alen), bl_ = (blen);                                     \
        if (al_ != bl_ || (al_ > 0 && memcmp((a), (b), al_) != 0)) {           \
            check_fail(__FILE__, __LINE__,                                     \
                       "%s (%zu bytes) differs from %s (%zu bytes)", #a, al_,  \
                       #b, bl_);                                               \
            return;                                                            \
        }                                                                      \
    } while (0)

/* haystack contains needle; nocase 1 ignores ASCII case. */
#define CHECK_CONTAINS(haystack, needle, nocase)                               \
    do {                                                                       \
        const char *h_ = (haystack), *n_ = (needle);                           \
        if (!check_contains(h_, n_, (nocase))) {                               \
            check_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",   \
                       h_ ? h_ : "(null)", n_);                                \
            return;                                                            \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        int before_ = check_failures;                                          \
        check_current = #fn;                                                   \
        fprintf(stderr, "-- %s\n", #fn);                                       \
        fn();                                                                  \
        fprintf(stderr, "%s %s\n",                                             \
                check_failures == before_ ? "ok  " : "FAIL", #fn);             \
    } while (0)

/* Exit status for main(): 0 when nothing failed, 1 otherwise. */
int check_exit(void);

#endif /* SECMQ_TEST_CHECK_H */
