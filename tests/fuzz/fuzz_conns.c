/*
 * fuzz_conns.c -- libFuzzer target for secmq-authd's reading of RabbitMQ's
 * GET /api/connections answer (authd/authd_json.c over json-c): any input
 * is refused with a reason, or gives connections that each have a name
 * and no more connections than the input has bytes. Aborts on a broken
 * invariant.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd_revoke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_conns: %s:%d: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    authd_conn *c = NULL;
    size_t n = 99;
    char err[256] = "";

    if (authd_conns_parse((const char *)data, size, &c, &n, err, sizeof err) !=
        0) {
        REQUIRE(c == NULL && n == 0 && err[0] != '\0');
        return 0;
    }
    REQUIRE(n <= size);
    for (size_t i = 0; i < n; i++) {
        REQUIRE(c[i].name != NULL);
    }
    authd_conns_free(c, n);
    return 0;
}
