/*
 * test_error.c -- unit tests for error.c: return codes as sentences, the
 * version string and library start-up, through the public API only.
 * Not for per-client detail messages: those belong to the modules that set
 * them (test_config.c, test_net.c).
 */
#include <string.h>

#include <secmq.h>
#include <sodium.h>

#include "check.h"

/* Every code the header defines, SECMQ_OK .. SECMQ_E_NO_RECEIPT. */
static const int all_codes[] = {
    SECMQ_OK,
    SECMQ_E_INVAL,
    SECMQ_E_NOMEM,
    SECMQ_E_STATE,
    SECMQ_E_IO,
    SECMQ_E_TIMEOUT,
    SECMQ_E_NO_CONN,
    SECMQ_E_CONN_REFUSED,
    SECMQ_E_CONN_LOST,
    SECMQ_E_DNS,
    SECMQ_E_TLS,
    SECMQ_E_TLS_CA,
    SECMQ_E_TLS_HOSTNAME,
    SECMQ_E_TLS_EXPIRED,
    SECMQ_E_TLS_PIN,
    SECMQ_E_AUTH,
    SECMQ_E_NOT_AUTHORIZED,
    SECMQ_E_REFUSED,
    SECMQ_E_PROTOCOL,
    SECMQ_E_OVERSIZE,
    SECMQ_E_CONFIG,
    SECMQ_E_OPEN,
    SECMQ_E_KEYRING,
    SECMQ_E_NO_KEY,
    SECMQ_E_PLAINTEXT,
    SECMQ_E_FULL,
    SECMQ_E_DB,
    SECMQ_E_BUSY,
    SECMQ_E_QOS_UNSUPPORTED,
    SECMQ_E_NO_RECEIPT,
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

/* The codes are 0, -1, ..., -29 with no gap: numbers never change. */
static void test_codes_are_contiguous(void)
{
    CHECK_INT_EQ(NCODES, 30);
    for (size_t i = 0; i < NCODES; i++) {
        CHECK_INT_EQ(all_codes[i], -(int)i);
    }
}

static void test_strerror_known_codes(void)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = secmq_strerror(all_codes[i]);
        CHECKF(s != NULL, "secmq_strerror(%d) is NULL", all_codes[i]);
        CHECKF(s[0] != '\0', "secmq_strerror(%d) is empty", all_codes[i]);
        CHECKF(strcmp(s, "unknown error") != 0,
               "secmq_strerror(%d) is \"unknown error\"", all_codes[i]);
    }
}

static void test_strerror_distinct(void)
{
    for (size_t i = 0; i < NCODES; i++) {
        for (size_t j = i + 1; j < NCODES; j++) {
            const char *a = secmq_strerror(all_codes[i]);
            const char *b = secmq_strerror(all_codes[j]);
            CHECKF(strcmp(a, b) != 0,
                   "codes %d and %d share the sentence \"%s\"", all_codes[i],
                   all_codes[j], a);
        }
    }
}

static void test_strerror_unknown_codes(void)
{
    static const int unknown[] = {1, -30, -999, 1000, -2147483647 - 1};

    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = secmq_strerror(unknown[i]);
        CHECKF(s != NULL, "secmq_strerror(%d) is NULL", unknown[i]);
        CHECK_STR_EQ(s, "unknown error");
    }
}

/* The string is static: the same answer twice, unchanged by other calls. */
static void test_strerror_static(void)
{
    const char *a = secmq_strerror(SECMQ_E_TLS_CA);
    char copy[128];

    CHECK(strlen(a) < sizeof copy);
    memcpy(copy, a, strlen(a) + 1);
    (void)secmq_strerror(SECMQ_E_AUTH);
    (void)secmq_strerror(-999);
    CHECK(secmq_strerror(SECMQ_E_TLS_CA) == a);
    CHECK_STR_EQ(a, copy);
}

static void test_version(void)
{
    char want[32];
    const char *v = secmq_version();

    CHECK(v != NULL);
    CHECK_STR_EQ(v, SECMQ_VERSION_STRING);
    snprintf(want, sizeof want, "%d.%d.%d", SECMQ_VERSION_MAJOR,
             SECMQ_VERSION_MINOR, SECMQ_VERSION_PATCH);
    CHECK_STR_EQ(SECMQ_VERSION_STRING, want);
}

/* The run-time versions of the three libraries, snprintf-style. */
static void test_dependency_versions(void)
{
    char buf[256];
    char small[8];
    size_t n = secmq_dependency_versions(buf, sizeof buf);

    CHECK(n > 0 && n < sizeof buf);
    CHECK(strlen(buf) == n);
    CHECK(strncmp(buf, "libmosquitto ", 13) == 0);
    CHECK(strstr(buf, ", wolfSSL ") != NULL);
    CHECK(strstr(buf, ", libsodium ") != NULL);
    CHECK(strstr(buf, sodium_version_string()) != NULL);
    CHECK(secmq_dependency_versions(NULL, 0) == n);
    CHECK(secmq_dependency_versions(small, sizeof small) == n);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK(strncmp(small, buf, sizeof small - 1) == 0);
}

static void test_init_twice(void)
{
    CHECK_INT_EQ(secmq_init(), SECMQ_OK);
    CHECK_INT_EQ(secmq_init(), SECMQ_OK);
}

int main(void)
{
    RUN(test_codes_are_contiguous);
    RUN(test_strerror_known_codes);
    RUN(test_strerror_distinct);
    RUN(test_strerror_unknown_codes);
    RUN(test_strerror_static);
    RUN(test_version);
    RUN(test_dependency_versions);
    RUN(test_init_twice);
    return check_exit();
}
