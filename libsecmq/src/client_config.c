/*
 * client_config.c -- what a client was configured with, and reading it back.
 *
 * Owned copies of secmq_config (the password in guarded memory), the
 * application's callbacks (secmq_client_on_*) and introspection (id, TLS
 * info). Not the connection itself, nor libmosquitto: that is client.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client_int.h"

int secmq__client_copy_config(secmq_client *c, const secmq_config *cfg)
{
    const secmq_tls_config *t = &cfg->tls;

    if (secmq__strdup_opt(&c->host, cfg->host) != 0 ||
        secmq__strdup_opt(&c->username, cfg->username) != 0 ||
        secmq__strdup_opt(&c->cafile, t->cafile) != 0 ||
        secmq__strdup_opt(&c->capath, t->capath) != 0 ||
        secmq__strdup_opt(&c->certfile, t->certfile) != 0 ||
        secmq__strdup_opt(&c->keyfile, t->keyfile) != 0 ||
        secmq__strdup_opt(&c->server_name, t->server_name) != 0 ||
        secmq__strdup_opt(&c->ciphers, t->ciphers) != 0) {
        return SECMQ_E_NOMEM;
    }
    if (cfg->client_id != NULL && cfg->client_id[0] != '\0') {
        if (secmq__strdup_opt(&c->client_id, cfg->client_id) != 0) {
            return SECMQ_E_NOMEM;
        }
    } else {
        unsigned char r[8];
        char hex[17];
        randombytes_buf(r, sizeof r);
        sodium_bin2hex(hex, sizeof hex, r, sizeof r);
        c->client_id = malloc(6 + sizeof hex);
        if (c->client_id == NULL) {
            return SECMQ_E_NOMEM;
        }
        snprintf(c->client_id, 6 + sizeof hex, "secmq-%s", hex);
    }
    if (cfg->password != NULL) {
        size_t n = strlen(cfg->password) + 1;
        /* SECURITY: our copy of the password lives in guarded memory and is
         * wiped by sodium_free(). */
        c->password = sodium_malloc(n);
        if (c->password == NULL) {
            return SECMQ_E_NOMEM;
        }
        memcpy(c->password, cfg->password, n);
    }
    c->tls_cfg = *t;
    c->tls_cfg.cafile = c->cafile;
    c->tls_cfg.capath = c->capath;
    c->tls_cfg.certfile = c->certfile;
    c->tls_cfg.keyfile = c->keyfile;
    c->tls_cfg.server_name = c->server_name;
    c->tls_cfg.ciphers = c->ciphers;
    c->transport = cfg->transport;
    c->port = cfg->port != 0                          ? cfg->port
              : cfg->transport == SECMQ_TRANSPORT_TLS ? SECMQ_PORT_TLS
                                                      : SECMQ_PORT_PLAIN;
    c->keepalive = cfg->keepalive;
    c->connect_timeout_ms = cfg->connect_timeout_ms;
    c->mqtt5 = cfg->protocol == SECMQ_MQTT_5;
    /* MQTT 5 ends a session at disconnect unless CONNECT says otherwise:
     * a persistent session is kept, as with MQTT 3.1.1. */
    c->session_expiry =
        c->mqtt5 && !cfg->clean_session ? SECMQ_SESSION_EXPIRY_NEVER : 0;
    return SECMQ_OK;
}

int secmq_client_set_session_expiry(secmq_client *c, uint32_t seconds)
{
    if (c == NULL || !c->mqtt5) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    if (c->state != ST_IDLE) {
        pthread_mutex_unlock(&c->lock);
        return SECMQ_E_STATE;
    }
    c->session_expiry = seconds;
    pthread_mutex_unlock(&c->lock);
    return SECMQ_OK;
}

void secmq__client_free_config(secmq_client *c)
{
    if (c->password != NULL) {
        sodium_free(c->password);
    }
    free(c->host);
    free(c->client_id);
    free(c->username);
    free(c->cafile);
    free(c->capath);
    free(c->certfile);
    free(c->keyfile);
    free(c->server_name);
    free(c->ciphers);
}

void secmq_client_on_connect(secmq_client *c, secmq_connect_cb cb)
{
    c->on_connect = cb;
}
void secmq_client_on_disconnect(secmq_client *c, secmq_disconnect_cb cb)
{
    c->on_disconnect = cb;
}
void secmq_client_on_message(secmq_client *c, secmq_message_cb cb)
{
    c->on_message = cb;
}
void secmq_client_on_publish(secmq_client *c, secmq_publish_cb cb)
{
    c->on_publish = cb;
}
void secmq_client_on_subscribe(secmq_client *c, secmq_subscribe_cb cb)
{
    c->on_subscribe = cb;
}
void secmq_client_on_unsubscribe(secmq_client *c, secmq_unsubscribe_cb cb)
{
    c->on_unsubscribe = cb;
}
void secmq_client_on_log(secmq_client *c, secmq_log_cb cb)
{
    c->on_log = cb;
}
int secmq_client_set_log_level(secmq_client *c, int level)
{
    if (c == NULL || level < SECMQ_LOG_ERROR || level > SECMQ_LOG_DEBUG) {
        return SECMQ_E_INVAL;
    }
    c->log_level = level;
    return SECMQ_OK;
}
void secmq_client_on_open_failure(secmq_client *c, secmq_open_failure_cb cb)
{
    c->on_open_failure = cb;
}
void secmq_client_on_durable(secmq_client *c, secmq_durable_cb cb)
{
    c->on_durable = cb;
}
void secmq_client_on_delivered(secmq_client *c, secmq_delivered_cb cb)
{
    c->on_delivered = cb;
}

int secmq_client_tls_info(secmq_client *c, secmq_tls_info *info)
{
    if (c == NULL || info == NULL) {
        return SECMQ_E_INVAL;
    }
    memset(info, 0, sizeof *info);
    if (c->transport != SECMQ_TRANSPORT_TLS) {
        return SECMQ_E_STATE;
    }
    if (c->tunnel == NULL) {
        return SECMQ_E_NO_CONN;
    }
    return secmq__tunnel_info(c->tunnel, info);
}

const char *secmq_client_id(const secmq_client *c)
{
    return c != NULL ? c->client_id : "";
}
