/*
 * bench_mosq.c -- the baseline transports: libmosquitto over plain TCP and
 * over libmosquitto's own TLS (OpenSSL underneath).
 *
 * The only bench file that sees libmosquitto and OpenSSL. It adapts a
 * mosquitto client to bench_client (connect, subscribe, publish, close) and
 * reports the TLS version and suite OpenSSL negotiated. Not used for the
 * secmq rows: those go through bench_secmq.c and libsecmq only.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#ifdef BENCH_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#endif

#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_S 60
#define WAIT_SLICE_MS 100

typedef struct mosq_client {
    bench_client base; /* first: the measurement code sees only this */
    struct mosquitto *mosq;
    bench_sink *sink;
    int tls;
    int looping;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    int connack; /* 1 once on_connect ran */
    int conn_rc; /* its MQTT return code */
    int sub_mid; /* mid of the SUBSCRIBE we wait for */
    int suback;  /* 1 once its SUBACK arrived */
    int granted; /* QoS granted to it */
    bench_tls_info info;
} mosq_client;

static void set_err(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "libmosquitto %s: %s", what,
             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

/* Waits on c->cv until *flag is set, at most timeout_ms. c->mu is held.
 * Returns 0 when set, -1 on timeout or interruption. */
static int wait_flag(mosq_client *c, const int *flag, int timeout_ms)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec ts;
    uint64_t t;

    while (!*flag) {
        t = bench_now_ns();
        if (t >= deadline || bench_interrupted) {
            return -1;
        }
        /* Short slices so an interrupt is noticed; the condvar uses the
         * monotonic clock (set in open). */
        t += (uint64_t)WAIT_SLICE_MS * 1000000u;
        if (t > deadline) {
            t = deadline;
        }
        ts.tv_sec = (time_t)(t / 1000000000u);
        ts.tv_nsec = (long)(t % 1000000000u);
        (void)pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    return 0;
}

static void on_connect(struct mosquitto *mosq, void *user, int rc)
{
    mosq_client *c = user;

    pthread_mutex_lock(&c->mu);
    c->connack = 1;
    c->conn_rc = rc;
#ifdef BENCH_HAVE_OPENSSL
    /* Read here, on the network thread, while no SSL_read can run. */
    if (c->tls) {
        SSL *ssl = mosquitto_ssl_get(mosq);

        if (ssl != NULL) {
            snprintf(c->info.version, sizeof(c->info.version), "%s",
                     SSL_get_version(ssl));
            snprintf(c->info.cipher, sizeof(c->info.cipher), "%s",
                     SSL_get_cipher_name(ssl));
        }
    }
#else
    (void)mosq;
#endif
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_subscribe(struct mosquitto *mosq, void *user, int mid, int count,
                         const int *granted)
{
    mosq_client *c = user;

    (void)mosq;
    pthread_mutex_lock(&c->mu);
    if (mid == c->sub_mid) {
        c->suback = 1;
        c->granted = count > 0 ? granted[0] : 0x80;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
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
    pthread_mutex_lock(&c->mu);
    c->suback = 0;
    rc = mosquitto_subscribe(c->mosq, &mid, filter, qos);
    if (rc != MOSQ_ERR_SUCCESS) {
        pthread_mutex_unlock(&c->mu);
        set_err(err, errlen, "subscribe", rc);
        return -1;
    }
    c->sub_mid = mid;
    rc = wait_flag(c, &c->suback, timeout_ms);
    if (rc == 0 && c->granted > 2) {
        rc = -2;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == -1) {
        snprintf(err, errlen,
                 "libmosquitto subscribe: no SUBACK within "
                 "%d ms",
                 timeout_ms);
        return -1;
    }
    if (rc == -2) {
        snprintf(err, errlen, "libmosquitto subscribe: broker refused %s",
                 filter);
        return -1;
    }
    return 0;
}

static void mosq_tls_info(bench_client *base, bench_tls_info *out)
{
    mosq_client *c = (mosq_client *)base;

    pthread_mutex_lock(&c->mu);
    *out = c->info;
    pthread_mutex_unlock(&c->mu);
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
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static const bench_client_ops mosq_ops = {mosq_publish, mosq_subscribe,
                                          mosq_tls_info, mosq_close};

int bench_mosq_open(bench_client **out, int tls, const bench_endpoint *ep,
                    const char *id, bench_sink *sink, char *err, size_t errlen)
{
    pthread_condattr_t ca;
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
    snprintf(c->info.library, sizeof(c->info.library), "%s",
             tls ? "OpenSSL (libmosquitto)" : "none");
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);

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
    pthread_mutex_lock(&c->mu);
    rc = wait_flag(c, &c->connack, CONNECT_TIMEOUT_MS);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) {
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
