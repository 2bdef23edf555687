/*
 * bench_mosq.c -- the baseline transports: libmosquitto over plain TCP and
 * over libmosquitto's own TLS (OpenSSL underneath).
 *
 * The only bench file that sees libmosquitto and OpenSSL. It adapts a
 * mosquitto client to bench_client (connect, subscribe, publish, close) and
 * reports the TLS version and suite OpenSSL negotiated; the broker suite's
 * clients log in with a username and password. Not used for the secmq
 * rows: those go through bench_secmq.c and libsecmq only.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#ifdef BENCH_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#endif

#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_S 60

typedef struct mosq_client {
    bench_client base; /* first: the measurement code sees only this */
    struct mosquitto *mosq;
    bench_sink *sink;
    int tls;
    int looping;
    bench_acks acks;
    int conn_rc; /* the CONNACK's return code; guarded by acks.mu */
} mosq_client;

static void set_err(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "libmosquitto %s: %s", what,
             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

static void on_connect(struct mosquitto *mosq, void *user, int rc)
{
    mosq_client *c = user;
    bench_acks *a = &c->acks;

    pthread_mutex_lock(&a->mu);
    a->connack = 1;
    c->conn_rc = rc;
#ifdef BENCH_HAVE_OPENSSL
    /* Read here, on the network thread, while no SSL_read can run. */
    if (c->tls) {
        SSL *ssl = mosquitto_ssl_get(mosq);

        if (ssl != NULL) {
            snprintf(a->info.version, sizeof(a->info.version), "%s",
                     SSL_get_version(ssl));
            snprintf(a->info.cipher, sizeof(a->info.cipher), "%s",
                     SSL_get_cipher_name(ssl));
        }
    }
#else
    (void)mosq;
#endif
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void on_subscribe(struct mosquitto *mosq, void *user, int mid, int count,
                         const int *granted)
{
    mosq_client *c = user;

    (void)mosq;
    bench_acks_suback(&c->acks, mid, count, granted);
}

static void on_message(struct mosquitto *mosq, void *user,
                       const struct mosquitto_message *msg)
{
    mosq_client *c = user;

    (void)mosq;
    if (c->sink != NULL && msg->payloadlen > 0) {
        bench_sink_deliver(c->sink, msg->payload, (size_t)msg->payloadlen);
    }
}

static int mosq_publish(bench_client *base, const char *topic,
                        const void *payload, size_t len, int qos, char *err,
                        size_t errlen)
{
    mosq_client *c = (mosq_client *)base;
    int rc;

    if (len > INT_MAX) {
        snprintf(err, errlen, "payload too large");
        return -1;
    }
    rc = mosquitto_publish(c->mosq, NULL, topic, (int)len, payload, qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        set_err(err, errlen, "publish", rc);
        return -1;
    }
    return 0;
}

static int mosq_subscribe(bench_client *base, const char *filter, int qos,
                          int timeout_ms, char *err, size_t errlen)
{
    mosq_client *c = (mosq_client *)base;
    int mid = 0;
    int rc;

    /* Hold the lock across the call so the SUBACK cannot be missed. */
    pthread_mutex_lock(&c->acks.mu);
    rc = mosquitto_subscribe(c->mosq, &mid, filter, qos);
    if (rc != MOSQ_ERR_SUCCESS) {
        pthread_mutex_unlock(&c->acks.mu);
        set_err(err, errlen, "subscribe", rc);
        return -1;
    }
    return bench_acks_subscribed(&c->acks, mid, "libmosquitto", filter,
                                 timeout_ms, err, errlen);
}

static void mosq_tls_info(bench_client *base, bench_tls_info *out)
{
    bench_acks_tls_info(&((mosq_client *)base)->acks, out);
}

static void mosq_close(bench_client *base)
{
    mosq_client *c = (mosq_client *)base;
    int rc;

    if (c == NULL) {
        return;
    }
    if (c->looping) {
        rc = mosquitto_disconnect(c->mosq);
        /* Without a DISCONNECT sent the loop thread would keep
         * reconnecting; then stop it by force. */
        (void)mosquitto_loop_stop(c->mosq, rc != MOSQ_ERR_SUCCESS);
    }
    mosquitto_destroy(c->mosq);
    bench_acks_destroy(&c->acks);
    free(c);
}

/* No keyring, no envelopes: open_counts is NULL. */
static const bench_client_ops mosq_ops = {mosq_publish, mosq_subscribe,
                                          mosq_tls_info, NULL, mosq_close};

int bench_mosq_open(bench_client **out, int tls, const bench_endpoint *ep,
                    const char *id, const bench_login *login, bench_sink *sink,
                    char *err, size_t errlen)
{
    mosq_client *c;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->base.ops = &mosq_ops;
    c->sink = sink;
    c->tls = tls;
    bench_acks_init(&c->acks, tls ? "OpenSSL (libmosquitto)" : "none");

    c->mosq = mosquitto_new(id, true, c);
    if (c->mosq == NULL) {
        snprintf(err, errlen, "mosquitto_new: %s", strerror(errno));
        goto err;
    }
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
    mosquitto_message_callback_set(c->mosq, on_message);
    /* Both baseline transports run without Nagle, like the broker and the
     * secmq tunnel. */
    rc = mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        set_err(err, errlen, "MOSQ_OPT_TCP_NODELAY", rc);
        goto err;
    }
    if (login != NULL) {
        rc = mosquitto_username_pw_set(c->mosq, login->username,
                                       login->password);
        if (rc != MOSQ_ERR_SUCCESS) {
            set_err(err, errlen, "username_pw_set", rc);
            goto err;
        }
    }
    if (tls) {
        /* Verify the broker against the run's CA, host name included. */
        rc = mosquitto_tls_set(c->mosq, ep->cafile, NULL, NULL, NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            set_err(err, errlen, "tls_set", rc);
            goto err;
        }
    }
    rc = mosquitto_connect(c->mosq, ep->host, tls ? ep->tls_port : ep->port,
                           KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        set_err(err, errlen, tls ? "TLS connect" : "connect", rc);
        goto err;
    }
    rc = mosquitto_loop_start(c->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        set_err(err, errlen, "loop_start", rc);
        goto err;
    }
    c->looping = 1;
    if (!bench_acks_wait_connack(&c->acks, CONNECT_TIMEOUT_MS)) {
        snprintf(err, errlen,
                 "libmosquitto%s: no CONNACK from %s:%d "
                 "within %d ms",
                 tls ? " TLS" : "", ep->host, tls ? ep->tls_port : ep->port,
                 CONNECT_TIMEOUT_MS);
        goto err;
    }
    if (c->conn_rc != 0) {
        snprintf(err, errlen, "libmosquitto: broker refused: %s",
                 mosquitto_connack_string(c->conn_rc));
        goto err;
    }
    *out = &c->base;
    return 0;

err:
    mosq_close(&c->base);
    return -1;
}

void bench_mosq_versions(char *mosq, size_t mosqlen, char *openssl,
                         size_t openssllen)
{
    int major = 0;
    int minor = 0;
    int rev = 0;

    (void)mosquitto_lib_version(&major, &minor, &rev);
    snprintf(mosq, mosqlen, "%d.%d.%d", major, minor, rev);
#ifdef BENCH_HAVE_OPENSSL
    snprintf(openssl, openssllen, "%s", OpenSSL_version(OPENSSL_VERSION));
#else
    snprintf(openssl, openssllen, "unknown (built without OpenSSL headers)");
#endif
}

int bench_mosq_lib_init(char *err, size_t errlen)
{
    int rc = mosquitto_lib_init();

    if (rc != MOSQ_ERR_SUCCESS) {
        set_err(err, errlen, "init", rc);
        return -1;
    }
    return 0;
}

void bench_mosq_lib_cleanup(void)
{
    (void)mosquitto_lib_cleanup();
}
