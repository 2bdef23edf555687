/*
 * fuzz_form.c -- libFuzzer target for secmq-authd's form decoder
 * (authd/authd_form.c): any input is either refused or decoded into at
 * most AUTHD_FIELDS_MAX fields with distinct keys and no NUL byte, and a
 * decoded form, encoded again (every byte as %XX, or '+' for a space),
 * decodes to the same fields. Aborts on a broken invariant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_form: %s:%d: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* s percent-encoded onto out at *o (out has room: 3 bytes per byte). */
static void encode(const char *s, char *out, size_t *o)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ') {
            out[(*o)++] = '+';
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    authd_form a = {0}, b = {0};
    char err[128];
    char *enc;
    size_t o = 0;

    if (authd_form_parse(&a, (const char *)data, size, err, sizeof err) != 0) {
        REQUIRE(a.n == 0);
        REQUIRE(err[0] != '\0');
        return 0;
    }
    REQUIRE(a.n <= AUTHD_FIELDS_MAX);
    enc = malloc(size * 3 + 2);
    REQUIRE(enc != NULL);
    for (size_t i = 0; i < a.n; i++) {
        REQUIRE(strlen(a.f[i].key) <= size);
        REQUIRE(strlen(a.f[i].value) <= size);
        for (size_t j = 0; j < i; j++) {
            REQUIRE(strcmp(a.f[i].key, a.f[j].key) != 0);
        }
        REQUIRE(authd_form_get(&a, a.f[i].key) == a.f[i].value);
        if (i > 0) {
            enc[o++] = '&';
        }
        encode(a.f[i].key, enc, &o);
        enc[o++] = '=';
        encode(a.f[i].value, enc, &o);
    }
    REQUIRE(o <= size * 3 + 2);
    /* An empty key encodes to "=value", which decodes to the same. */
    REQUIRE(authd_form_parse(&b, enc, o, err, sizeof err) == 0);
    REQUIRE(b.n == a.n);
    for (size_t i = 0; i < a.n; i++) {
        REQUIRE(strcmp(a.f[i].key, b.f[i].key) == 0);
        REQUIRE(strcmp(a.f[i].value, b.f[i].value) == 0);
    }
    free(enc);
    authd_form_clear(&a);
    authd_form_clear(&b);
    return 0;
}
