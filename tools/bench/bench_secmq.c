/*
 * bench_secmq.c -- the transport under test: libsecmq's wolfSSL TLS link.
 *
 * The only bench file that sees libsecmq. It adapts a secmq_client to
 * bench_client through the public API in secmq.h alone, exactly as an
 * application would use it, and reports the TLS version and suite from
 * secmq_client_tls_info(). It never reaches into the library's internals.
 */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secmq.h>

/* wolfSSL's version is not in secmq's API; its header names the version the
 * bench was built against (the same Debian package the library links). */
#if defined(__has_include)
#if __has_include(<wolfssl/version.h>)
#include <wolfssl/version.h>
#endif
#endif

#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_S 60

typedef struct sq_client {
    bench_client base; /* first: the measurement code sees only this */
    secmq_client *c;
    bench_sink *sink;
    int looping;
    bench_acks acks;
} sq_client;

/* Writes "secmq <what>: <sentence> (<detail>)" into err. */
static void set_err(sq_client *s, char *err, size_t errlen, const char *what,
                    int rc)
{
    char detail[SECMQ_ERRMSG_BYTES];

    detail[0] = '\0';
    if (s->c != NULL) {
        (void)secmq_client_errmsg(s->c, detail, sizeof(detail));
    }
    snprintf(err, errlen, "secmq %s: %s%s%s%s", what, secmq_strerror(rc),
             detail[0] != '\0' ? " (" : "", detail,
             detail[0] != '\0' ? ")" : "");
}

static void on_connect(secmq_client *c, void *user, int rc, int reason,
                       int session_present)
{
    sq_client *s = user;
    bench_acks *a = &s->acks;
    secmq_tls_info ti;

    (void)reason;
    (void)session_present;
    /* Read on the loop thread, as a callback: the session cannot change
     * under us here. */
    memset(&ti, 0, sizeof(ti));
    if (rc == SECMQ_OK && secmq_client_tls_info(c, &ti) != SECMQ_OK) {
        memset(&ti, 0, sizeof(ti));
    }
    pthread_mutex_lock(&a->mu);
    snprintf(a->info.version, sizeof(a->info.version), "%.*s",
             (int)sizeof(ti.version), ti.version);
    snprintf(a->info.cipher, sizeof(a->info.cipher), "%.*s",
             (int)sizeof(ti.cipher), ti.cipher);
    a->connack = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    sq_client *s = user;

    (void)c;
    bench_acks_suback(&s->acks, mid, count, granted);
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    sq_client *s = user;

    (void)c;
    if (s->sink != NULL && msg->payloadlen > 0) {
        bench_sink_deliver(s->sink, msg->payload, msg->payloadlen);
    }
}

static int sq_publish(bench_client *base, const char *topic,
                      const void *payload, size_t len, int qos, char *err,
                      size_t errlen)
{
    sq_client *s = (sq_client *)base;
    int rc;

    rc = secmq_client_publish(s->c, NULL, topic, payload, len, qos, 0);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "publish", rc);
        return -1;
    }
    return 0;
}

static int sq_subscribe(bench_client *base, const char *filter, int qos,
                        int timeout_ms, char *err, size_t errlen)
{
    sq_client *s = (sq_client *)base;
    int mid = 0;
    int rc;

    /* Hold the lock across the call so the SUBACK cannot be missed. */
    pthread_mutex_lock(&s->acks.mu);
    rc = secmq_client_subscribe(s->c, &mid, filter, qos);
    if (rc != SECMQ_OK) {
        pthread_mutex_unlock(&s->acks.mu);
        set_err(s, err, errlen, "subscribe", rc);
        return -1;
    }
    return bench_acks_subscribed(&s->acks, mid, "secmq", filter, timeout_ms,
                                 err, errlen);
}

static void sq_tls_info(bench_client *base, bench_tls_info *out)
{
    bench_acks_tls_info(&((sq_client *)base)->acks, out);
}

static void sq_close(bench_client *base)
{
    sq_client *s = (sq_client *)base;
    int rc;

    if (s == NULL) {
        return;
    }
    if (s->looping) {
        rc = secmq_client_disconnect(s->c);
        /* Without a requested disconnect the loop would wait forever for
         * one; stop it by force then. */
        (void)secmq_client_loop_stop(s->c, rc != SECMQ_OK);
    }
    secmq_client_free(s->c);
    bench_acks_destroy(&s->acks);
    free(s);
}

static const bench_client_ops sq_ops = {sq_publish, sq_subscribe, sq_tls_info,
                                        sq_close};

int bench_secmq_open(bench_client **out, const bench_endpoint *ep,
                     const char *id, bench_sink *sink, char *err, size_t errlen)
{
    secmq_config cfg;
    sq_client *s;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->base.ops = &sq_ops;
    s->sink = sink;
    bench_acks_init(&s->acks, "wolfSSL (secmq)");

    secmq_config_init(&cfg);
    cfg.host = ep->host;
    cfg.port = ep->tls_port;
    cfg.transport = SECMQ_TRANSPORT_TLS;
    cfg.tls.cafile = ep->cafile;
    cfg.tls.ciphers = ep->ciphers;
    cfg.client_id = id;
    cfg.keepalive = KEEPALIVE_S;
    cfg.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    rc = secmq_client_new(&s->c, &cfg, s);
    if (rc != SECMQ_OK) {
        s->c = NULL;
        set_err(s, err, errlen, "client_new", rc);
        goto err;
    }
    secmq_client_on_connect(s->c, on_connect);
    secmq_client_on_subscribe(s->c, on_subscribe);
    secmq_client_on_message(s->c, on_message);
    rc = secmq_client_connect(s->c);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "connect", rc);
        goto err;
    }
    rc = secmq_client_loop_start(s->c);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "loop_start", rc);
        goto err;
    }
    s->looping = 1;
    rc = secmq_client_wait_connected(s->c, CONNECT_TIMEOUT_MS);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "wait_connected", rc);
        goto err;
    }
    /* wait_connected may return before on_connect has finished on the
     * loop thread; the TLS details are read there, so wait for it. */
    if (!bench_acks_wait_connack(&s->acks, CONNECT_TIMEOUT_MS)) {
        snprintf(err, errlen, "secmq: on_connect did not run within %d ms",
                 CONNECT_TIMEOUT_MS);
        goto err;
    }
    *out = &s->base;
    return 0;

err:
    sq_close(&s->base);
    return -1;
}

void bench_secmq_versions(char *secmq, size_t secmqlen, char *wolfssl,
                          size_t wolfssllen)
{
    snprintf(secmq, secmqlen, "%s", secmq_version());
#ifdef LIBWOLFSSL_VERSION_STRING
    snprintf(wolfssl, wolfssllen, "%s", LIBWOLFSSL_VERSION_STRING);
#else
    snprintf(wolfssl, wolfssllen, "unknown");
#endif
}
