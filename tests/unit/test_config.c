/*
 * test_config.c -- unit tests for config.c: the defaults of
 * secmq_config_init(), the validation secmq_client_new() does with it (the
 * checker itself is private, so it is reached through the constructor), the
 * generated client id, and SPKI pin parsing. No network and no files.
 */
#include <ctype.h>
#include <string.h>

#include <secmq.h>

#include "check.h"

/* A byte pattern no default has, to see that _init writes every field. */
#define JUNK 0xa5

static void test_defaults(void)
{
    secmq_config cfg;
    static const unsigned char zero_pin[SECMQ_PIN_BYTES] = {0};

    memset(&cfg, JUNK, sizeof cfg);
    secmq_config_init(&cfg);
    CHECK_INT_EQ(cfg.size, sizeof(secmq_config));
    CHECK_STR_EQ(cfg.host, "localhost");
    CHECK_INT_EQ(cfg.port, 0);
    CHECK_INT_EQ(cfg.transport, SECMQ_TRANSPORT_TLS);
    CHECK(cfg.tls.cafile == NULL);
    CHECK(cfg.tls.capath == NULL);
    CHECK(cfg.tls.certfile == NULL);
    CHECK(cfg.tls.keyfile == NULL);
    CHECK(cfg.tls.server_name == NULL);
    CHECK(cfg.tls.ciphers == NULL);
    CHECK_INT_EQ(cfg.tls.min_version, SECMQ_TLS_1_2);
    CHECK_INT_EQ(cfg.tls.insecure, 0);
    CHECK_INT_EQ(cfg.tls.has_pin, 0);
    CHECK_MEM_EQ(cfg.tls.pin_sha256, sizeof cfg.tls.pin_sha256, zero_pin,
                 sizeof zero_pin);
    CHECK(cfg.username == NULL);
    CHECK(cfg.password == NULL);
    CHECK(cfg.client_id == NULL);
    CHECK_INT_EQ(cfg.keepalive, 60);
    CHECK_INT_EQ(cfg.clean_session, 1);
    CHECK_INT_EQ(cfg.protocol, SECMQ_MQTT_311);
    CHECK(cfg.will.topic == NULL);
    CHECK(cfg.will.payload == NULL);
    CHECK_INT_EQ(cfg.will.payloadlen, 0);
    CHECK_INT_EQ(cfg.will.qos, 0);
    CHECK_INT_EQ(cfg.will.retain, 0);
    CHECK_INT_EQ(cfg.reconnect_min_s, 1);
    CHECK_INT_EQ(cfg.reconnect_max_s, 30);
    CHECK_INT_EQ(cfg.connect_timeout_ms, 10000);
}

/* ---- validation through secmq_client_new() ---- */

/* The invalid configurations, each one field off a default config. */
enum bad_kind {
    BAD_SIZE_UNSET,
    BAD_SIZE_OTHER,
    BAD_HOST_NULL,
    BAD_HOST_EMPTY,
    BAD_PORT_NEGATIVE,
    BAD_PORT_TOO_BIG,
    BAD_TRANSPORT,
    BAD_KEEPALIVE_LOW,
    BAD_KEEPALIVE_HIGH,
    BAD_PROTOCOL,
    BAD_MIN_VERSION,
    BAD_CERT_NO_KEY,
    BAD_KEY_NO_CERT,
    BAD_PASSWORD_NO_USER,
    BAD_PERSISTENT_NO_ID,
    BAD_PERSISTENT_EMPTY_ID,
    BAD_WILL_QOS,
    BAD_WILL_PAYLOAD,
    BAD_RECONNECT_MIN,
    BAD_RECONNECT_MAX,
    BAD_CONNECT_TIMEOUT,
    BAD_COUNT
};

/*
 * What each case is called and the words (case-insensitive) the detail
 * message must contain to name the field; word2 may be NULL.
 */
static const struct {
    const char *name, *word1, *word2;
} bad_cases[BAD_COUNT] = {
    [BAD_SIZE_UNSET] = {"size not set", "secmq_config_init", NULL},
    [BAD_SIZE_OTHER] = {"size of another struct", "secmq_config_init", NULL},
    [BAD_HOST_NULL] = {"host NULL", "host", NULL},
    [BAD_HOST_EMPTY] = {"host empty", "host", NULL},
    [BAD_PORT_NEGATIVE] = {"port -1", "port", "-1"},
    [BAD_PORT_TOO_BIG] = {"port 65536", "port", "65536"},
    [BAD_TRANSPORT] = {"transport 7", "transport", NULL},
    [BAD_KEEPALIVE_LOW] = {"keepalive 4", "keep-alive", "4"},
    [BAD_KEEPALIVE_HIGH] = {"keepalive 65536", "keep-alive", "65536"},
    [BAD_PROTOCOL] = {"protocol 3", "protocol", NULL},
    [BAD_MIN_VERSION] = {"min_version 11", "TLS version", NULL},
    [BAD_CERT_NO_KEY] = {"certificate without key", "certificate", "key"},
    [BAD_KEY_NO_CERT] = {"key without certificate", "certificate", "key"},
    [BAD_PASSWORD_NO_USER] = {"password without username", "password",
                              "username"},
    [BAD_PERSISTENT_NO_ID] = {"clean_session 0, no client id", "client id",
                              NULL},
    [BAD_PERSISTENT_EMPTY_ID] = {"clean_session 0, empty client id",
                                 "client id", NULL},
    [BAD_WILL_QOS] = {"will qos 3", "will", "QoS"},
    [BAD_WILL_PAYLOAD] = {"will payload NULL with length", "will", "payload"},
    [BAD_RECONNECT_MIN] = {"reconnect min 0", "reconnect", NULL},
    [BAD_RECONNECT_MAX] = {"reconnect max < min", "reconnect", NULL},
    [BAD_CONNECT_TIMEOUT] = {"connect timeout 50 ms", "connect timeout", NULL},
};

static void break_config(secmq_config *c, enum bad_kind kind)
{
    switch (kind) {
    case BAD_SIZE_UNSET:
        c->size = 0;
        break;
    case BAD_SIZE_OTHER:
        c->size = sizeof *c - 8;
        break;
    case BAD_HOST_NULL:
        c->host = NULL;
        break;
    case BAD_HOST_EMPTY:
        c->host = "";
        break;
    case BAD_PORT_NEGATIVE:
        c->port = -1;
        break;
    case BAD_PORT_TOO_BIG:
        c->port = 65536;
        break;
    case BAD_TRANSPORT:
        c->transport = (secmq_transport)7;
        break;
    case BAD_KEEPALIVE_LOW:
        c->keepalive = 4;
        break;
    case BAD_KEEPALIVE_HIGH:
        c->keepalive = 65536;
        break;
    case BAD_PROTOCOL:
        c->protocol = (secmq_protocol)3;
        break;
    case BAD_MIN_VERSION:
        c->tls.min_version = (secmq_tls_version)11;
        break;
    case BAD_CERT_NO_KEY:
        c->tls.certfile = "client.crt";
        break;
    case BAD_KEY_NO_CERT:
        c->tls.keyfile = "client.key";
        break;
    case BAD_PASSWORD_NO_USER:
        c->password = "secret";
        break;
    case BAD_PERSISTENT_NO_ID:
        c->clean_session = 0;
        break;
    case BAD_PERSISTENT_EMPTY_ID:
        c->clean_session = 0;
        c->client_id = "";
        break;
    case BAD_WILL_QOS:
        c->will.topic = "w/t";
        c->will.qos = 3;
        break;
    case BAD_WILL_PAYLOAD:
        c->will.topic = "w/t";
        c->will.payload = NULL;
        c->will.payloadlen = 5;
        break;
    case BAD_RECONNECT_MIN:
        c->reconnect_min_s = 0;
        break;
    case BAD_RECONNECT_MAX:
        c->reconnect_min_s = 10;
        c->reconnect_max_s = 9;
        break;
    case BAD_CONNECT_TIMEOUT:
        c->connect_timeout_ms = 50;
        break;
    case BAD_COUNT:
        break;
    }
}

static void test_invalid_configs(void)
{
    for (int i = 0; i < BAD_COUNT; i++) {
        const char *name = bad_cases[i].name;
        const char *word1 = bad_cases[i].word1, *word2 = bad_cases[i].word2;
        secmq_config cfg;
        secmq_client *c = (secmq_client *)&cfg; /* must become NULL */
        char msg[SECMQ_ERRMSG_BYTES];
        size_t n;
        int rc;

        secmq_config_init(&cfg);
        CHECKF(name != NULL && word1 != NULL, "bad_cases[%d] missing", i);
        break_config(&cfg, (enum bad_kind)i);
        rc = secmq_client_new(&c, &cfg, NULL);
        CHECKF(rc == SECMQ_E_INVAL, "%s: secmq_client_new returned %d (%s)",
               name, rc, secmq_strerror(rc));
        CHECKF(c == NULL, "%s: *out was not set to NULL", name);
        memset(msg, 'x', sizeof msg);
        n = secmq_client_errmsg(NULL, msg, sizeof msg);
        CHECKF(n > 0 && msg[0] != '\0', "%s: no detail message", name);
        CHECKF(n == strlen(msg), "%s: errmsg returned %zu for \"%s\"", name, n,
               msg);
        CHECKF(check_contains(msg, word1, 1),
               "%s: detail \"%s\" does not mention \"%s\"", name, msg, word1);
        CHECKF(word2 == NULL || check_contains(msg, word2, 1),
               "%s: detail \"%s\" does not mention \"%s\"", name, msg, word2);
        fprintf(stderr, "   %-34s -> %s\n", name, msg);
    }
}

/* The extremes that are allowed pass; each fix of a bad field passes. */
static void test_valid_edges(void)
{
    secmq_config cfg;
    secmq_client *c = NULL;

    secmq_config_init(&cfg);
    cfg.port = 65535;
    cfg.keepalive = 5;
    cfg.reconnect_min_s = 7;
    cfg.reconnect_max_s = 7;
    cfg.connect_timeout_ms = 100;
    cfg.protocol = SECMQ_MQTT_5;
    cfg.tls.min_version = SECMQ_TLS_1_3;
    cfg.username = "u";
    cfg.password = "p";
    cfg.clean_session = 0;
    cfg.client_id = "edge-client";
    cfg.will.topic = "w/t";
    cfg.will.qos = 2;
    cfg.will.payload = NULL;
    cfg.will.payloadlen = 0;
    cfg.tls.certfile = "does-not-exist.crt"; /* files are read at connect */
    cfg.tls.keyfile = "does-not-exist.key";
    CHECK_INT_EQ(secmq_client_new(&c, &cfg, NULL), SECMQ_OK);
    CHECK(c != NULL);
    CHECK_STR_EQ(secmq_client_id(c), "edge-client");
    secmq_client_free(c);

    secmq_config_init(&cfg);
    cfg.keepalive = 65535;
    cfg.port = 1;
    cfg.transport = SECMQ_TRANSPORT_PLAIN;
    c = NULL;
    CHECK_INT_EQ(secmq_client_new(&c, &cfg, NULL), SECMQ_OK);
    CHECK(c != NULL);
    secmq_client_free(c);
}

static void test_new_null_args(void)
{
    secmq_client *c = (secmq_client *)&c;
    secmq_config cfg;

    CHECK_INT_EQ(secmq_client_new(&c, NULL, NULL), SECMQ_E_INVAL);
    CHECK(c == NULL);
    secmq_config_init(&cfg);
    CHECK_INT_EQ(secmq_client_new(NULL, &cfg, NULL), SECMQ_E_INVAL);
}

/* secmq_client_errmsg truncates safely and reports the full length. */
static void test_errmsg_truncation(void)
{
    secmq_config cfg;
    secmq_client *c = NULL;
    char full[SECMQ_ERRMSG_BYTES], small[5];
    size_t n, m;

    secmq_config_init(&cfg);
    cfg.keepalive = 2;
    CHECK_INT_EQ(secmq_client_new(&c, &cfg, NULL), SECMQ_E_INVAL);
    n = secmq_client_errmsg(NULL, full, sizeof full);
    CHECK(n > sizeof small);
    memset(small, 'x', sizeof small);
    m = secmq_client_errmsg(NULL, small, sizeof small);
    CHECK_INT_EQ(m, n);
    CHECK_INT_EQ(small[sizeof small - 1], '\0');
    CHECK_MEM_EQ(small, sizeof small - 1, full, sizeof small - 1);
    CHECK_INT_EQ(secmq_client_errmsg(NULL, NULL, 0), n);
}

static int is_generated_id(const char *id)
{
    static const char prefix[] = "secmq-";

    if (id == NULL || strlen(id) != sizeof prefix - 1 + 16 ||
        strncmp(id, prefix, sizeof prefix - 1) != 0) {
        return 0;
    }
    for (const char *p = id + sizeof prefix - 1; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f')) {
            return 0;
        }
    }
    return 1;
}

static void test_generated_client_id(void)
{
    secmq_config cfg;
    secmq_client *a = NULL, *b = NULL;
    char id_a[64];

    secmq_config_init(&cfg);
    CHECK_INT_EQ(secmq_client_new(&a, &cfg, NULL), SECMQ_OK);
    CHECK(a != NULL);
    snprintf(id_a, sizeof id_a, "%s", secmq_client_id(a));
    CHECKF(is_generated_id(id_a), "id \"%s\" is not secmq-<16 hex>", id_a);
    /* An empty id counts as none. */
    cfg.client_id = "";
    CHECK_INT_EQ(secmq_client_new(&b, &cfg, NULL), SECMQ_OK);
    CHECKF(is_generated_id(secmq_client_id(b)),
           "id \"%s\" is not secmq-<16 hex>", secmq_client_id(b));
    CHECKF(strcmp(id_a, secmq_client_id(b)) != 0,
           "two clients got the same random id %s", id_a);
    /* The id stays the same for the client's lifetime. */
    CHECK_STR_EQ(secmq_client_id(a), id_a);
    secmq_client_free(a);
    secmq_client_free(b);
}

static void test_given_client_id_is_copied(void)
{
    secmq_config cfg;
    secmq_client *c = NULL;
    char id[] = "my-client/42";

    secmq_config_init(&cfg);
    cfg.client_id = id;
    CHECK_INT_EQ(secmq_client_new(&c, &cfg, NULL), SECMQ_OK);
    id[0] = 'X'; /* BORROWED: the client must have its own copy */
    CHECK_STR_EQ(secmq_client_id(c), "my-client/42");
    CHECK(secmq_client_id(c) != id);
    secmq_client_free(c);
}

/* ---- SPKI pins ---- */

/* base64 of the bytes 0, 1, ..., 31 (and of 0..30 and 0..32). */
#define B64_32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define B64_31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
#define B64_33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"

static void test_pin_roundtrip(void)
{
    unsigned char want[SECMQ_PIN_BYTES], got[SECMQ_PIN_BYTES];

    for (unsigned i = 0; i < SECMQ_PIN_BYTES; i++) {
        want[i] = (unsigned char)i;
    }
    memset(got, JUNK, sizeof got);
    CHECK_INT_EQ(secmq_pin_parse("sha256:" B64_32, got), SECMQ_OK);
    CHECK_MEM_EQ(got, sizeof got, want, sizeof want);
}

static void test_pin_invalid(void)
{
    static const char *const bad[] = {
        B64_32,            /* no prefix */
        "sha1:" B64_32,    /* wrong prefix */
        "sha512:" B64_32,  /* wrong prefix */
        "sha256" B64_32,   /* prefix without the colon */
        " sha256:" B64_32, /* leading space */
        "sha256:",         /* nothing after the prefix */
        "",                /* empty */
        "sha256:" B64_31,  /* 31 bytes */
        "sha256:" B64_33,  /* 33 bytes */
        "sha256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw!Hh8=", /* bad char */
        "sha256:****************************************+++=", /* bad b64 */
        "sha256:" B64_32 "x",    /* trailing garbage */
        "sha256:" B64_32 " ",    /* trailing space */
        "sha256:" B64_32 B64_32, /* two pins */
    };
    unsigned char out[SECMQ_PIN_BYTES];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = secmq_pin_parse(bad[i], out);
        CHECKF(rc == SECMQ_E_INVAL, "secmq_pin_parse(\"%s\") returned %d",
               bad[i], rc);
    }
    CHECK_INT_EQ(secmq_pin_parse(NULL, out), SECMQ_E_INVAL);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_invalid_configs);
    RUN(test_valid_edges);
    RUN(test_new_null_args);
    RUN(test_errmsg_truncation);
    RUN(test_generated_client_id);
    RUN(test_given_client_id_is_copied);
    RUN(test_pin_roundtrip);
    RUN(test_pin_invalid);
    return check_exit();
}
