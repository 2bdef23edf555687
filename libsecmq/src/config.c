/*
 * config.c -- defaults, validation and SPKI pins for client configuration.
 *
 * A secmq_config is a plain struct the application fills; this file gives it
 * its defaults and refuses values that cannot work, with a sentence saying
 * which field is wrong. It does no I/O: files are loaded at connect time.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "config_int.h"

void secmq_config_init(secmq_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->host = "localhost";
    cfg->port = 0;
    cfg->transport = SECMQ_TRANSPORT_TLS;
    cfg->tls.min_version = SECMQ_TLS_1_2;
    cfg->keepalive = 60;
    cfg->clean_session = 1;
    cfg->protocol = SECMQ_MQTT_311;
    cfg->reconnect_min_s = 1;
    cfg->reconnect_max_s = 30;
    cfg->connect_timeout_ms = 10000;
}

int secmq_pin_parse(const char *text, unsigned char out[SECMQ_PIN_BYTES])
{
    static const char prefix[] = "sha256:";
    unsigned char buf[SECMQ_PIN_BYTES];
    size_t n = 0;
    const char *end = NULL;

    if (text == NULL || out == NULL ||
        strncmp(text, prefix, sizeof prefix - 1) != 0) {
        return SECMQ_E_INVAL;
    }
    text += sizeof prefix - 1;
    if (sodium_base642bin(buf, sizeof buf, text, strlen(text), NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != sizeof buf || *end != '\0') {
        return SECMQ_E_INVAL;
    }
    memcpy(out, buf, sizeof buf);
    return SECMQ_OK;
}

#define FAIL(...)                                                              \
    do {                                                                       \
        snprintf(why, len, __VA_ARGS__);                                       \
        return SECMQ_E_INVAL;                                                  \
    } while (0)

int secmq__config_check(const secmq_config *cfg, char *why, size_t len)
{
    if (cfg == NULL) {
        FAIL("no configuration given");
    }
    if (cfg->size != sizeof *cfg) {
        FAIL("secmq_config was not set up with secmq_config_init()");
    }
    if (cfg->host == NULL || cfg->host[0] == '\0') {
        FAIL("no broker host given");
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        FAIL("port %d is out of range (1..65535, or 0 for the default)",
             cfg->port);
    }
    if (cfg->transport != SECMQ_TRANSPORT_TLS &&
        cfg->transport != SECMQ_TRANSPORT_PLAIN) {
        FAIL("unknown transport %d", (int)cfg->transport);
    }
    if (cfg->tls.min_version != SECMQ_TLS_1_2 &&
        cfg->tls.min_version != SECMQ_TLS_1_3) {
        FAIL("minimum TLS version must be 1.2 or 1.3");
    }
    if ((cfg->tls.certfile == NULL) != (cfg->tls.keyfile == NULL)) {
        FAIL("a client certificate needs both a certificate and a key file");
    }
    if (cfg->keepalive < 5 || cfg->keepalive > 65535) {
        FAIL("keep-alive %d s is out of range (5..65535)", cfg->keepalive);
    }
    if (cfg->protocol != SECMQ_MQTT_311 && cfg->protocol != SECMQ_MQTT_5) {
        FAIL("MQTT protocol must be 3.1.1 or 5");
    }
    if (cfg->password != NULL && cfg->username == NULL) {
        FAIL("a password needs a username");
    }
    if (!cfg->clean_session &&
        (cfg->client_id == NULL || cfg->client_id[0] == '\0')) {
        FAIL("a persistent session (clean_session 0) needs a client id");
    }
    if (cfg->client_id != NULL && strlen(cfg->client_id) > 65535) {
        FAIL("client id too long");
    }
    if (cfg->will.topic != NULL) {
        if (cfg->will.qos < 0 || cfg->will.qos > 2) {
            FAIL("will QoS must be 0, 1 or 2");
        }
        if (cfg->will.payloadlen > 0 && cfg->will.payload == NULL) {
            FAIL("will payload missing");
        }
        if (cfg->will.payloadlen > 268435455u) {
            FAIL("will payload too large");
        }
    }
    if (cfg->reconnect_min_s < 1 ||
        cfg->reconnect_max_s < cfg->reconnect_min_s) {
        FAIL("reconnect delays must satisfy 1 <= min <= max");
    }
    if (cfg->connect_timeout_ms < 100) {
        FAIL("connect timeout must be at least 100 ms");
    }
    return SECMQ_OK;
}
