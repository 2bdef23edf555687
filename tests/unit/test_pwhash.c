/*
 * test_pwhash.c -- the broker's password hashes (broker-plugin/pwhash.c):
 * argon2id round trips and rehash decisions, and known answers for the
 * mosquitto formats made by the real mosquitto_passwd 2.0.11, so an
 * imported password file verifies exactly as mosquitto would.
 *
 * The passwords below are test vectors, not secrets.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pwhash.h"

/* Made with: mosquitto_passwd -c -b v.txt p7a 'correct horse battery staple'
 * (and -b for the others; -H sha512 for the "$6$" ones), mosquitto 2.0.11. */
static const struct {
    const char *pw;
    const char *hash;
} mosq_vectors[] = {
    {"correct horse battery staple",
     "$7$101$WeCojiKErZmFf3GA$UTe2mAlUR9iLFBNm7G0+UpR1z4EZP1X9OswU21Wk/"
     "X+pNxsRBMuCClSGG5lJ/Qc8QMnhRzteCCkJHvL6IDDZag=="},
    {"p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93", /* "pässwörd ✓" in UTF-8 */
     "$7$101$fmg6pnUUs0QZE0IR$8I8f5etHXG73Jg52ZpogaJZLTDCgl3uP+"
     "QVVDzaqUO6mOEPsn3WshfLVeeg4/dyKK5I5eyOudvP7QCROeTySLQ=="},
    {"hunter2", "$6$K1b2nTqx1SstfmyE$dw4MK02ZT09y1hurlBwwA4pWua0/"
                "USVgrNHjcUEhtcS2xekxxl8fARPL2nOupLvqTpfjHmQgQhPCGOv5eHdDHA=="},
    {"x", "$6$mjFG9oFEDvpMgX7E$r9F3t55XxHnAMHIoVwPc4dQVrDMdItB1H+"
          "mZMB0wjQ3V7qhmD5pJdz4nsfJ9A31mU+9moB28O4CU4uzHd5SDUw=="},
    /* Two more from Python's hashlib.pbkdf2_hmac('sha512', ...): other
     * iteration counts than mosquitto's fixed 101. */
    {"one", "$7$1$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ+"
            "BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ=="},
    {"thousand",
     "$7$1000$c2FsdHNhbHRzYWx0$gPU4Ft6NiENdVE5noGPpRgk28/"
     "9ZHq7dF4agyHbedCMaie3gN5hijjPwJAhl2osx3JWf8ipusql/cbmTAQzhsg=="},
};

/* mosquitto_passwd -b with a 200-byte password ('a' x 200): longer than
 * the SHA-512 block, so HMAC hashes the key first. */
static const char long_pw_hash[] =
    "$7$101$lujKpVOhsEBw8t/8$2mhNt0r0h2V7Kdv2nLBoTqlXBWLxQ0DsFqRV45PjZz1mKjD1"
    "wuXXe+Dtt5/Lr18ZTvfPTLsy3A0JdLp7iGaJ7g==";

static int verify_str(const char *hash, const char *pw)
{
    return secmq__pw_verify(hash, pw, strlen(pw));
}

static void test_argon2id_round_trip(void)
{
    char h[SECMQ_PW_HASH_MAX];

    CHECK_INT_EQ(secmq__pw_hash(h, "s3cret", 6, 1, SECMQ_PW_MIN_MEM * 8), 0);
    CHECK(strncmp(h, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
    CHECK_INT_EQ(secmq__pw_hash_known(h), 1);
    CHECK_INT_EQ(verify_str(h, "s3cret"), 1);
    CHECK_INT_EQ(verify_str(h, "s3creT"), 0);
    CHECK_INT_EQ(verify_str(h, "s3cret "), 0);
    CHECK_INT_EQ(verify_str(h, ""), 0);
    /* Embedded NUL: the length counts, not strlen. */
    CHECK_INT_EQ(secmq__pw_verify(h, "s3cret\0x", 8), 0);
    CHECK_INT_EQ(secmq__pw_verify(h, "s3cret\0x", 6), 1);
}

static void test_argon2id_default_cost(void)
{
    char h[SECMQ_PW_HASH_MAX];

    CHECK_INT_EQ(
        secmq__pw_hash(h, "pw", 2, SECMQ_PW_DEFAULT_OPS, SECMQ_PW_DEFAULT_MEM),
        0);
    CHECK_INT_EQ(verify_str(h, "pw"), 1);
    CHECK_INT_EQ(
        secmq__pw_needs_rehash(h, SECMQ_PW_DEFAULT_OPS, SECMQ_PW_DEFAULT_MEM),
        0);
}

static void test_hash_refusals(void)
{
    char h[SECMQ_PW_HASH_MAX];
    static char big[SECMQ_PW_MAX + 2];

    memset(big, 'b', sizeof big);
    CHECK_INT_EQ(secmq__pw_hash(h, "pw", 2, 0, SECMQ_PW_MIN_MEM), -1);
    CHECK_STR_EQ(h, "");
    CHECK_INT_EQ(secmq__pw_hash(h, "pw", 2, 1, SECMQ_PW_MIN_MEM - 1), -1);
    CHECK_INT_EQ(secmq__pw_hash(h, "pw", 2, 33, SECMQ_PW_MIN_MEM), -1);
    CHECK_INT_EQ(secmq__pw_hash(h, NULL, 0, 1, SECMQ_PW_MIN_MEM), -1);
    CHECK_INT_EQ(secmq__pw_hash(h, big, SECMQ_PW_MAX + 1, 1, SECMQ_PW_MIN_MEM),
                 -1);
    CHECK_INT_EQ(secmq__pw_hash(h, big, SECMQ_PW_MAX, 1, SECMQ_PW_MIN_MEM), 0);
    CHECK_INT_EQ(secmq__pw_verify(h, big, SECMQ_PW_MAX), 1);
    CHECK_INT_EQ(secmq__pw_verify(h, big, SECMQ_PW_MAX + 1), 0);
    CHECK_INT_EQ(secmq__pw_cost_ok(1, SECMQ_PW_MIN_MEM), 1);
    CHECK_INT_EQ(secmq__pw_cost_ok(32, 1024u * 1024u * 1024u), 1);
    CHECK_INT_EQ(secmq__pw_cost_ok(33, SECMQ_PW_MIN_MEM), 0);
    CHECK_INT_EQ(secmq__pw_cost_ok(1, 2048u * 1024u * 1024u), 0);
}

static void test_needs_rehash(void)
{
    char h[SECMQ_PW_HASH_MAX];

    CHECK_INT_EQ(secmq__pw_hash(h, "pw", 2, 1, 64u * 1024u), 0);
    CHECK_INT_EQ(secmq__pw_needs_rehash(h, 1, 64u * 1024u), 0);
    CHECK_INT_EQ(secmq__pw_needs_rehash(h, 2, 64u * 1024u), 1);
    CHECK_INT_EQ(secmq__pw_needs_rehash(h, 1, 128u * 1024u), 1);
    /* Legacy formats always need a rehash, and so does garbage. */
    CHECK_INT_EQ(secmq__pw_needs_rehash(mosq_vectors[0].hash, 1, 64u * 1024u),
                 1);
    CHECK_INT_EQ(secmq__pw_needs_rehash(mosq_vectors[2].hash, 1, 64u * 1024u),
                 1);
    CHECK_INT_EQ(secmq__pw_needs_rehash("", 1, 64u * 1024u), 1);
    CHECK_INT_EQ(secmq__pw_needs_rehash(NULL, 1, 64u * 1024u), 1);
}

static void test_mosquitto_known_answers(void)
{
    size_t i;
    char wrong[64];

    for (i = 0; i < sizeof mosq_vectors / sizeof mosq_vectors[0]; i++) {
        CHECKF(secmq__pw_hash_known(mosq_vectors[i].hash) == 1, "vector %zu",
               i);
        CHECKF(verify_str(mosq_vectors[i].hash, mosq_vectors[i].pw) == 1,
               "vector %zu", i);
        snprintf(wrong, sizeof wrong, "%sX", mosq_vectors[i].pw);
        CHECKF(verify_str(mosq_vectors[i].hash, wrong) == 0, "vector %zu", i);
        CHECKF(verify_str(mosq_vectors[i].hash, "") == 0, "vector %zu", i);
    }
}

static void test_mosquitto_long_password(void)
{
    char pw[201];

    memset(pw, 'a', 200);
    pw[200] = 0;
    CHECK_INT_EQ(verify_str(long_pw_hash, pw), 1);
    pw[199] = 0;
    CHECK_INT_EQ(verify_str(long_pw_hash, pw), 0);
}

/* The real tool, when it is installed: a fresh hash of each format. */
static void test_mosquitto_passwd_fresh(void)
{
    char dir[] = "/tmp/secmq-pwhash-XXXXXX", path[64], cmd[256], line[512];
    FILE *f;
    int n = 0;

    if (access("/usr/bin/mosquitto_passwd", X_OK) != 0) {
        fprintf(stderr, "   (mosquitto_passwd not installed: skipped)\n");
        return;
    }
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/pw", dir);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/mosquitto_passwd -c -b %s u7 'pw seven' && "
             "/usr/bin/mosquitto_passwd -H sha512 -b %s u6 'pw six'",
             path, path);
    CHECK_INT_EQ(system(cmd), 0);
    f = fopen(path, "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        char *hash = strchr(line, ':');
        int u7 = strncmp(line, "u7:", 3) == 0;
        const char *pw = u7 ? "pw seven" : "pw six";
        if (hash == NULL) {
            continue;
        }
        hash++;
        hash[strcspn(hash, "\r\n")] = 0;
        CHECKF(secmq__pw_hash_known(hash), "%s", hash);
        CHECKF(strncmp(hash, u7 ? "$7$" : "$6$", 3) == 0, "%s", hash);
        CHECKF(verify_str(hash, pw) == 1, "%s", hash);
        CHECKF(verify_str(hash, "pw eight") == 0, "%s", hash);
        n++;
    }
    fclose(f);
    unlink(path);
    rmdir(dir);
    CHECK_INT_EQ(n, 2);
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "",
        "plaintext",
        "$6$",
        "$6$$",
        "$6$K1b2nTqx1SstfmyE$",
        "$6$K1b2nTqx1SstfmyE",
        /* hash one byte short (63 bytes) */
        "$6$K1b2nTqx1SstfmyE$dw4MK02ZT09y1hurlBwwA4pWua0/"
        "USVgrNHjcUEhtcS2xekxxl8fARPL2nOupLvqTpfjHmQgQhPCGOv5eHdD",
        /* not base64 */
        "$6$K1b2nTqx1Sst*myE$dw4MK02ZT09y1hurlBwwA4pWua0/"
        "USVgrNHjcUEhtcS2xekxxl8fARPL2nOupLvqTpfjHmQgQhPCGOv5eHdDHA==",
        /* missing padding */
        "$6$K1b2nTqx1SstfmyE$dw4MK02ZT09y1hurlBwwA4pWua0/"
        "USVgrNHjcUEhtcS2xekxxl8fARPL2nOupLvqTpfjHmQgQhPCGOv5eHdDHA",
        /* trailing garbage */
        "$6$K1b2nTqx1SstfmyE$dw4MK02ZT09y1hurlBwwA4pWua0/"
        "USVgrNHjcUEhtcS2xekxxl8fARPL2nOupLvqTpfjHmQgQhPCGOv5eHdDHA==$",
        /* iterations: 0, too many, leading zero, sign, missing */
        "$7$0$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ+"
        "BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ==",
        "$7$1000001$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjN"
        "fZ+BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ==",
        "$7$99999999999$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0W"
        "KhjNfZ+BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ==",
        "$7$01$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ+"
        "BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ==",
        "$7$-1$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ+"
        "BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ==",
        "$7$$MDEyMzQ1Njc4OWFi$qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ+"
        "BmH/Wmw/AXbv2qNOy1j0hF+n08BkS1UHTKqcbKngsQ==",
        "$5$K1b2nTqx1SstfmyE$dw4MK02ZT09y1hurlBwwA4pWua0/"
        "USVgrNHjcUEhtcS2xekxxl8fARPL2nOupLvqTpfjHmQgQhPCGOv5eHdDHA==",
        "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
        "qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ",
        "$argon2id$v=19$m=64,t=1,p=1$",
        "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$"
        "qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ",
        /* SECURITY: costs a hostile row could use to stall the broker. */
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$"
        "qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ",
        "$argon2id$v=19$m=64,t=1000000,p=1$c2FsdHNhbHRzYWx0$"
        "qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ",
        "$argon2id$v=19$m=64,t=1,p=4$c2FsdHNhbHRzYWx0$"
        "qSCt4+imKkj5GNQVwYDUeXcZztZJCXqlN2b0WKhjNfZ",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(secmq__pw_hash_known(bad[i]) == 0, "known: %s", bad[i]);
        CHECKF(verify_str(bad[i], "one") == 0, "verify: %s", bad[i]);
        CHECKF(secmq__pw_needs_rehash(bad[i], 1, SECMQ_PW_MIN_MEM) == 1, "%s",
               bad[i]);
    }
    CHECK_INT_EQ(secmq__pw_hash_known(NULL), 0);
    CHECK_INT_EQ(secmq__pw_verify(NULL, "x", 1), 0);
    CHECK_INT_EQ(secmq__pw_verify(mosq_vectors[0].hash, NULL, 3), 0);
}

/* Not a timed assertion: prints what a check costs, for the docs. */
static void test_report_cost(void)
{
    char h[SECMQ_PW_HASH_MAX];
    struct timespec a, b;
    static const struct {
        unsigned long long ops;
        size_t mem;
    } costs[] = {{SECMQ_PW_DEFAULT_OPS, SECMQ_PW_DEFAULT_MEM},
                 {1, 8u * 1024u * 1024u}};
    size_t i;

    for (i = 0; i < 2; i++) {
        CHECK_INT_EQ(secmq__pw_hash(h, "pw", 2, costs[i].ops, costs[i].mem), 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        CHECK_INT_EQ(verify_str(h, "pw"), 1);
        clock_gettime(CLOCK_MONOTONIC, &b);
        fprintf(stderr, "   argon2id verify ops %llu mem %zu: %.1f ms\n",
                costs[i].ops, costs[i].mem,
                (double)(b.tv_sec - a.tv_sec) * 1e3 +
                    (double)(b.tv_nsec - a.tv_nsec) / 1e6);
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_INT_EQ(verify_str(mosq_vectors[0].hash, mosq_vectors[0].pw), 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "   mosquitto $7$ (101 rounds) verify: %.3f ms\n",
            (double)(b.tv_sec - a.tv_sec) * 1e3 +
                (double)(b.tv_nsec - a.tv_nsec) / 1e6);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    RUN(test_argon2id_round_trip);
    RUN(test_argon2id_default_cost);
    RUN(test_hash_refusals);
    RUN(test_needs_rehash);
    RUN(test_mosquitto_known_answers);
    RUN(test_mosquitto_long_password);
    RUN(test_mosquitto_passwd_fresh);
    RUN(test_malformed);
    RUN(test_report_cost);
    return check_exit();
}
