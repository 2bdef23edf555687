/*
 * client.c -- the MQTT client: the libmosquitto adapter.
 *
 * Implements the connection side of the secmq_client API on top of Debian's
 * libmosquitto: creation, connect (plain, or through the TLS tunnel of
 * tunnel.c), callbacks, subscribe. It and client_drive.c (the loops,
 * secmq_client_loop*) are the only files that see libmosquitto and
 * MOSQ_ERR_* codes; they are mapped to SECMQ_E_* here. Configuration
 * copies, sealing and the publish path are client_*.c's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "client_int.h"
#include "config_int.h"
#include "net_int.h"

/* Detail for secmq_client_new() failures, which have no client to hold it. */
static _Thread_local char new_errmsg[SECMQ_ERRMSG_BYTES];

/* ---- error mapping (the MOSQ_ERR_* boundary) ---- */

static int map_mosq(int mrc)
{
    switch (mrc) {
    case MOSQ_ERR_SUCCESS:
        return SECMQ_OK;
    case MOSQ_ERR_NOMEM:
        return SECMQ_E_NOMEM;
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_QOS_NOT_SUPPORTED:
    case MOSQ_ERR_DUPLICATE_PROPERTY:
        return SECMQ_E_INVAL;
    case MOSQ_ERR_NO_CONN:
        return SECMQ_E_NO_CONN;
    case MOSQ_ERR_CONN_LOST:
        return SECMQ_E_CONN_LOST;
    case MOSQ_ERR_CONN_REFUSED:
        return SECMQ_E_REFUSED;
    case MOSQ_ERR_PROTOCOL:
    case MOSQ_ERR_MALFORMED_PACKET:
        return SECMQ_E_PROTOCOL;
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
        return SECMQ_E_OVERSIZE;
    case MOSQ_ERR_AUTH:
        return SECMQ_E_AUTH;
    case MOSQ_ERR_ACL_DENIED:
        return SECMQ_E_NOT_AUTHORIZED;
    case MOSQ_ERR_EAI:
        return SECMQ_E_DNS;
    case MOSQ_ERR_KEEPALIVE:
        return SECMQ_E_CONN_LOST;
    case MOSQ_ERR_ERRNO:
        if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
            errno == ENETUNREACH) {
            return SECMQ_E_CONN_REFUSED;
        }
        if (errno == ETIMEDOUT) {
            return SECMQ_E_TIMEOUT;
        }
        return SECMQ_E_IO;
    default:
        return SECMQ_E_PROTOCOL;
    }
}

int secmq__client_map_mosq(int mrc)
{
    return map_mosq(mrc);
}

/* CONNACK return code (3.1.1) or reason code (5) -> SECMQ code. */
static int map_connack(int reason, const char **why)
{
    switch (reason) {
    case 0:
        *why = "accepted";
        return SECMQ_OK;
    case 1:
    case MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION:
        *why = "unsupported MQTT protocol version";
        return SECMQ_E_PROTOCOL;
    case 2:
    case MQTT_RC_CLIENTID_NOT_VALID:
        *why = "client id rejected";
        return SECMQ_E_REFUSED;
    case 3:
    case MQTT_RC_SERVER_UNAVAILABLE:
    case MQTT_RC_SERVER_BUSY:
        *why = "server unavailable";
        return SECMQ_E_REFUSED;
    case 4:
    case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
    case MQTT_RC_BAD_AUTHENTICATION_METHOD:
        *why = "bad username or password";
        return SECMQ_E_AUTH;
    case 5:
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BANNED:
        *why = "not authorised";
        return SECMQ_E_NOT_AUTHORIZED;
    default:
        *why = "refused";
        return SECMQ_E_REFUSED;
    }
}

/* ---- state ---- */

static void set_state(secmq_client *c, enum secmq__conn_state st, int result)
{
    pthread_mutex_lock(&c->lock);
    c->state = st;
    c->result = result;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* ---- libmosquitto callbacks (run on the loop thread: over TLS with
 * secmq_client_loop_start, the tunnel thread; see client_drive.c) ---- */

static void cb_connect(struct mosquitto *mosq, void *obj, int reason, int flags,
                       const mosquitto_property *props)
{
    secmq_client *c = obj;
    const char *why;
    int rc = map_connack(reason, &why);

    (void)mosq;
    (void)props;
    if (rc == SECMQ_E_NOT_AUTHORIZED && c->username != NULL) {
        /* mosquitto answers a wrong password with "not authorised" (5, or
         * 135 in MQTT 5): at CONNECT time that can only be the login. */
        rc = SECMQ_E_AUTH;
        why = "bad username or password, or a client id this user may "
              "not use (the broker said: not authorised)";
    }
    if (rc != SECMQ_OK) {
        secmq__err_set(&c->err, rc,
                       "broker refused the connection: %s "
                       "(reason %d)",
                       why, reason);
    }
    pthread_mutex_lock(&c->lock);
    c->refused = rc != SECMQ_OK;
    pthread_mutex_unlock(&c->lock);
    if (reason == 0) {
        secmq__drive_connack(c);
    }
    if (c->on_connect != NULL) {
        c->on_connect(c, c->user, rc, reason, flags & 1);
    }
    if (rc == SECMQ_OK && c->outbox != NULL) {
        /* Receipts for held rows (secmq/receipt.h), then drain the outbox
         * (or wait for libmosquitto's own resends first: see
         * secmq/outbox.h). */
        secmq__crin_connected(c);
        secmq__outbox_connected(c->outbox);
    }
    /* After the callback: secmq_client_wait_connected() returns only once
     * on_connect has run (and, say, subscribed). */
    set_state(c, rc == SECMQ_OK ? ST_CONNECTED : ST_FAILED, rc);
}

static void cb_disconnect(struct mosquitto *mosq, void *obj, int mrc,
                          const mosquitto_property *props)
{
    secmq_client *c = obj;
    int rc = SECMQ_OK, refused, failure = SECMQ_OK;
    enum secmq__conn_state was;

    (void)mosq;
    (void)props;
    pthread_mutex_lock(&c->lock);
    was = c->state;
    refused = c->refused;
    c->refused = 0;
    if (refused) {
        /* The broker refused in CONNACK and hung up: keep its reason. */
        rc = c->result;
    }
    pthread_mutex_unlock(&c->lock);
    if (c->tunnel != NULL) {
        failure =
            secmq__tunnel_take_failure(c->tunnel, refused ? NULL : &c->err);
    }
    if (!refused && mrc == MOSQ_ERR_PROTOCOL && secmq__qos2_check_lost(c) < 0) {
        failure = SECMQ_E_QOS_UNSUPPORTED;
        /* Every reconnect would resend the QoS 2 message and end alike:
         * stop here (the loops return; see secmq.h, on_disconnect). */
        atomic_store(&c->mosq_disc, 1);
        (void)mosquitto_disconnect_v5(c->mosq, 0, NULL);
    }
    if (!refused && mrc != MOSQ_ERR_SUCCESS) {
        rc = failure < 0 ? failure : SECMQ_E_CONN_LOST;
        if (failure >= 0 && was != ST_CONNECTED) {
            secmq__err_set(&c->err, rc,
                           "the broker closed the connection before answering "
                           "CONNECT%s",
                           c->transport == SECMQ_TRANSPORT_PLAIN
                               ? " (plain TCP was chosen: is this a TLS port?)"
                               : "");
        } else if (failure >= 0) {
            secmq__err_set(&c->err, rc, "connection to the broker lost");
        }
    }
    set_state(c, was == ST_CONNECTED ? ST_IDLE : ST_FAILED, rc);
    if (c->outbox != NULL && failure == SECMQ_E_QOS_UNSUPPORTED) {
        /* Set its QoS 2 rows aside, reported before on_disconnect. */
        secmq__outbox_qos2_refused(c->outbox);
    }
    if (c->outbox != NULL) {
        secmq__outbox_disconnected(c->outbox);
    }
    if (c->on_disconnect != NULL) {
        c->on_disconnect(c, c->user, rc);
    }
}

static void cb_message(struct mosquitto *mosq, void *obj,
                       const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    secmq_client *c = obj;
    secmq_message msg;

    (void)mosq;
    (void)props;
    msg.topic = m->topic;
    /* libmosquitto NUL-terminates payloads; an empty one may be NULL. */
    msg.payload = m->payload != NULL ? m->payload : "";
    msg.payloadlen = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    msg.qos = m->qos;
    msg.retain = m->retain ? 1 : 0;
    msg.mid = m->mid;
    msg.sealed = 0;
    msg.sender = NULL;
    msg.seal_mode = 0;
    if (secmq__crin_message(c, msg.topic, msg.payload, msg.payloadlen)) {
        return; /* a receipt for this client's outbox (client_rcptin.c) */
    }
    if (c->keyring != NULL) {
        /* Delivered by the delivery thread once durable (client_deliver.c);
         * uncovered topics queue too, so the order stays the arrival
         * order. */
        secmq__client_enqueue(c, &msg);
        return;
    }
    if (c->on_message != NULL) {
        c->on_message(c, c->user, &msg);
    }
}

static void cb_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    secmq_client *c = obj;
    int rc = SECMQ_OK;

    (void)mosq;
    (void)props;
    if (reason == MQTT_RC_NOT_AUTHORIZED) {
        rc = SECMQ_E_NOT_AUTHORIZED;
    } else if (reason >= 0x80) {
        rc = SECMQ_E_REFUSED;
    }
    if (secmq__crcpt_puback(c, mid)) {
        return; /* a receipt the client sent (client_rcpt.c) */
    }
    if (c->outbox != NULL && secmq__outbox_completed(c->outbox, mid, rc)) {
        return; /* an outbox row: reported by on_delivered */
    }
    if (c->on_publish != NULL) {
        c->on_publish(c, c->user, mid, rc);
    }
}

static void cb_subscribe(struct mosquitto *mosq, void *obj, int mid, int count,
                         const int *granted, const mosquitto_property *props)
{
    secmq_client *c = obj;

    (void)mosq;
    (void)props;
    if (secmq__crin_suback(c, mid, count, granted)) {
        return; /* a receipt topic's (client_rcptin.c) */
    }
    if (c->on_subscribe != NULL) {
        c->on_subscribe(c, c->user, mid, count, granted);
    }
}

static void cb_unsubscribe(struct mosquitto *mosq, void *obj, int mid,
                           const mosquitto_property *props)
{
    secmq_client *c = obj;

    (void)mosq;
    (void)props;
    if (c->on_unsubscribe != NULL) {
        c->on_unsubscribe(c, c->user, mid);
    }
}

static void cb_log(struct mosquitto *mosq, void *obj, int level,
                   const char *line)
{
    secmq_client *c = obj;

    (void)mosq;
    (void)level;
    secmq__qos2_note_log(c, line);
    if (c->on_log != NULL && c->log_level >= SECMQ_LOG_DEBUG) {
        c->on_log(c, c->user, SECMQ_LOG_DEBUG, line);
    }
}

void secmq__client_mosq_logging(secmq_client *c)
{
    /* libmosquitto formats a line per packet (a malloc and a vsnprintf)
     * only while a log callback is set: set it when someone reads them. */
    if (atomic_exchange(&c->mosq_logging, 1) == 0) {
        mosquitto_log_callback_set(c->mosq, cb_log);
    }
}

/* The library's own diagnostics (tls.c, tunnel.c) arrive here. */
static void log_forward(void *ctx, int level, const char *line)
{
    secmq_client *c = ctx;

    if (level > c->log_level) {
        return;
    }
    if (c->on_log != NULL) {
        c->on_log(c, c->user, level, line);
    } else if (level <= SECMQ_LOG_WARNING) {
        fprintf(stderr, "secmq: %s\n", line);
    }
}

/* ---- construction ---- */

static int setup_mosquitto(secmq_client *c, const secmq_config *cfg)
{
    int mrc;

    c->mosq = mosquitto_new(c->client_id, cfg->clean_session ? true : false, c);
    if (c->mosq == NULL) {
        return errno == ENOMEM ? SECMQ_E_NOMEM : SECMQ_E_INVAL;
    }
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         cfg->protocol == SECMQ_MQTT_5 ? MQTT_PROTOCOL_V5
                                                       : MQTT_PROTOCOL_V311);
    if (c->transport == SECMQ_TRANSPORT_PLAIN) {
        /* Over TLS, libmosquitto talks to the tunnel's unix socket, where
         * TCP_NODELAY means nothing; the tunnel sets it on the TCP side. */
        mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    }
    if (c->username != NULL) {
        mrc = mosquitto_username_pw_set(c->mosq, c->username, c->password);
        if (mrc != MOSQ_ERR_SUCCESS) {
            return map_mosq(mrc);
        }
    }
    if (cfg->will.topic != NULL) {
        mrc = mosquitto_will_set(
            c->mosq, cfg->will.topic, (int)cfg->will.payloadlen,
            cfg->will.payload, cfg->will.qos, cfg->will.retain ? true : false);
        if (mrc != MOSQ_ERR_SUCCESS) {
            snprintf(new_errmsg, sizeof new_errmsg, "invalid will topic '%s'",
                     cfg->will.topic);
            return map_mosq(mrc);
        }
    }
    /* client_drive.c computes the same backoff when it runs the loop. */
    c->reconnect_min_s = cfg->reconnect_min_s;
    c->reconnect_max_s = cfg->reconnect_max_s;
    mosquitto_reconnect_delay_set(c->mosq, (unsigned)cfg->reconnect_min_s,
                                  (unsigned)cfg->reconnect_max_s, true);
    mosquitto_connect_v5_callback_set(c->mosq, cb_connect);
    mosquitto_disconnect_v5_callback_set(c->mosq, cb_disconnect);
    mosquitto_message_v5_callback_set(c->mosq, cb_message);
    mosquitto_publish_v5_callback_set(c->mosq, cb_publish);
    mosquitto_subscribe_v5_callback_set(c->mosq, cb_subscribe);
    mosquitto_unsubscribe_v5_callback_set(c->mosq, cb_unsubscribe);
    return SECMQ_OK;
}

static pthread_once_t mosq_once = PTHREAD_ONCE_INIT;
static void mosq_init(void)
{
    mosquitto_lib_init();
}

void secmq__mqtt_lib_version(int *major, int *minor, int *revision)
{
    (void)mosquitto_lib_version(major, minor, revision);
}

int secmq_client_new(secmq_client **out, const secmq_config *cfg, void *user)
{
    secmq_client *c;
    int rc;

    if (out == NULL) {
        return SECMQ_E_INVAL;
    }
    *out = NULL;
    new_errmsg[0] = '\0';
    rc = secmq__config_check(cfg, new_errmsg, sizeof new_errmsg);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (secmq_init() != SECMQ_OK) {
        snprintf(new_errmsg, sizeof new_errmsg,
                 "cannot initialise libsodium or wolfSSL");
        return SECMQ_E_IO;
    }
    pthread_once(&mosq_once, mosq_init);
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(new_errmsg, sizeof new_errmsg, "out of memory");
        return SECMQ_E_NOMEM;
    }
    c->user = user;
    for (int i = 0; i < SECMQ_OPEN_REASON_COUNT; i++) {
        atomic_init(&c->open_counts[i], 0);
    }
    atomic_init(&c->qos2_sent, 0);
    atomic_init(&c->mosq_logging, 0);
    atomic_init(&c->mosq_disc, 0);
    c->log_level = SECMQ_LOG_DEBUG;
    atomic_init(&c->qos2_last_puback, 0);
    atomic_init(&c->qos2_refused, 0);
    atomic_init(&c->rcpt_opened, 0);
    atomic_init(&c->rcpt_refused, 0);
    atomic_init(&c->rcpt_warned, 0);
    secmq_receipt_wait_init(&c->rcpt_wait);
    secmq__err_init(&c->err);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->log.fn = log_forward;
    c->log.ctx = c;
    if ((rc = secmq__client_copy_config(c, cfg)) != SECMQ_OK ||
        (rc = setup_mosquitto(c, cfg)) != SECMQ_OK ||
        (c->transport == SECMQ_TRANSPORT_TLS &&
         (rc = secmq__drive_new(c)) != SECMQ_OK)) {
        if (new_errmsg[0] == '\0') {
            snprintf(new_errmsg, sizeof new_errmsg, "%s", secmq_strerror(rc));
        }
        secmq_client_free(c);
        return rc;
    }
    *out = c;
    return SECMQ_OK;
}

void secmq_client_free(secmq_client *c)
{
    int threaded, requested;

    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    threaded = c->threaded;
    requested = c->disconnect_requested;
    pthread_mutex_unlock(&c->lock);
    if (threaded) {
        /* After secmq_client_disconnect() the loop thread ends by itself
         * once DISCONNECT is written; let it, so nothing queued is lost. */
        if (secmq__drive_active(c)) {
            secmq__drive_stop(c, requested ? 0 : 1);
        } else {
            mosquitto_loop_stop(c->mosq, requested ? false : true);
        }
    }
    /* The loop is stopped, so nothing is queued any more: deliver what
     * is (callbacks may still use the client, so before it goes). */
    secmq__client_deliver_stop(c);
    secmq__crcpt_free(c);
    /* The outbox's commit thread must not hand rows to a destroyed
     * libmosquitto. */
    secmq__outbox_detach(c->outbox);
    /* libmosquitto closes its end first, so the tunnel can flush a final
     * DISCONNECT to the broker before it stops. */
    if (c->mosq != NULL) {
        mosquitto_destroy(c->mosq);
        c->mosq = NULL;
    }
    /* After libmosquitto: no callback can reach the outbox any more; it
     * commits what was queued and closes the file. */
    secmq__outbox_free(c->outbox);
    secmq__tunnel_free(c->tunnel);
    secmq__drive_free(c);
    secmq__tls_ctx_free(c->tls);
    secmq__client_free_config(c);
    secmq__client_free_plain(c);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    secmq__err_destroy(&c->err);
    free(c);
}

/* ---- connecting ---- */

/* mosquitto_connect, with the MQTT 5 Session Expiry Interval when set
 * (libmosquitto keeps the property for its reconnects). */
static int mqtt_connect(secmq_client *c, const char *host, int port)
{
    mosquitto_property *props = NULL;
    int mrc;

    if (c->session_expiry == 0) {
        return mosquitto_connect(c->mosq, host, port, c->keepalive);
    }
    mrc = mosquitto_property_add_int32(
        &props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, c->session_expiry);
    if (mrc == MOSQ_ERR_SUCCESS) {
        mrc = mosquitto_connect_bind_v5(c->mosq, host, port, c->keepalive, NULL,
                                        props);
    }
    mosquitto_property_free_all(&props);
    return mrc;
}

static int connect_tls(secmq_client *c)
{
    int64_t deadline = secmq__now_ms() + c->connect_timeout_ms;
    int rc;

    if (c->tls == NULL) {
        rc = secmq__tls_ctx_new(&c->tls, &c->tls_cfg, c->host, c->port, &c->log,
                                &c->err);
        if (rc != SECMQ_OK) {
            return rc;
        }
    }
    if (c->tunnel == NULL) {
        rc = secmq__tunnel_new(&c->tunnel, c->tls, c->connect_timeout_ms,
                               &c->err, &c->log);
        if (rc != SECMQ_OK) {
            return rc;
        }
        /* loop_start may have come first. */
        secmq__drive_attach(c);
    }
    /* Handshake here, on the caller's thread, so that a wrong CA or host
     * name is reported by this call and not by a later callback. */
    rc = secmq__tunnel_dial(c->tunnel, deadline);
    /* The caller's thread may be short-lived (a background connector):
     * do not leave wolfSSL's per-thread ECC cache behind on it. */
    secmq__tls_thread_cleanup();
    if (rc != SECMQ_OK) {
        return rc;
    }
    atomic_store(&c->mosq_disc, 0);
    rc = map_mosq(mqtt_connect(c, secmq__tunnel_path(c->tunnel), 0));
    /* A running loop writes the queued CONNECT (and, until now, had no
     * socket to poll). */
    secmq__drive_kick(c);
    if (rc != SECMQ_OK) {
        /* The broker may reject the session right after the handshake (a
         * TLS 1.3 broker that wants a client certificate says so then); the
         * tunnel closes, and libmosquitto's CONNECT write fails. */
        int failure = secmq__tunnel_take_failure(c->tunnel, &c->err);
        if (failure < 0) {
            return failure;
        }
        return secmq__err_set(&c->err, rc,
                              "cannot attach to the TLS tunnel: %s",
                              secmq_strerror(rc));
    }
    return SECMQ_OK;
}

static int connect_plain(secmq_client *c)
{
    int mrc = mqtt_connect(c, c->host, c->port);
    int rc = map_mosq(mrc);

    if (rc == SECMQ_OK) {
        return SECMQ_OK;
    }
    return secmq__err_set(
        &c->err, rc, "connect to %s port %d: %s", c->host, c->port,
        mrc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(mrc));
}

int secmq_client_connect(secmq_client *c)
{
    int rc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    if (c->state == ST_CONNECTING || c->state == ST_CONNECTED) {
        pthread_mutex_unlock(&c->lock);
        return secmq__err_set(&c->err, SECMQ_E_STATE, "already connected");
    }
    c->state = ST_CONNECTING;
    c->result = SECMQ_OK;
    c->disconnect_requested = 0;
    pthread_mutex_unlock(&c->lock);
    if (c->on_log != NULL && c->log_level >= SECMQ_LOG_DEBUG) {
        secmq__client_mosq_logging(c);
    }
    rc =
        c->transport == SECMQ_TRANSPORT_TLS ? connect_tls(c) : connect_plain(c);
    if (rc != SECMQ_OK) {
        set_state(c, ST_IDLE, rc);
    }
    return rc;
}

static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : secmq__now_ms() + timeout_ms;
}

static void abs_time(struct timespec *ts, int64_t deadline_ms)
{
    int64_t left = deadline_ms - secmq__now_ms();

    clock_gettime(CLOCK_REALTIME, ts);
    if (left > 3600000) {
        left = 3600000;
    }
    ts->tv_sec += left / 1000;
    ts->tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int secmq_client_wait_connected(secmq_client *c, int timeout_ms)
{
    int64_t deadline = deadline_after(timeout_ms);
    int rc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    if (c->state == ST_IDLE && c->result == SECMQ_OK) {
        pthread_mutex_unlock(&c->lock);
        return SECMQ_E_STATE;
    }
    while (c->state == ST_CONNECTING) {
        if (secmq__now_ms() >= deadline) {
            pthread_mutex_unlock(&c->lock);
            return secmq__err_set(&c->err, SECMQ_E_TIMEOUT,
                                  "no answer from the broker to CONNECT "
                                  "within %d ms",
                                  timeout_ms);
        }
        if (c->threaded) {
            struct timespec ts;
            abs_time(&ts, deadline);
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
        } else {
            int64_t left = deadline - secmq__now_ms();
            int mrc;
            pthread_mutex_unlock(&c->lock);
            mrc = mosquitto_loop(c->mosq, left > 100 ? 100 : (int)left, 1);
            pthread_mutex_lock(&c->lock);
            if (mrc == MOSQ_ERR_NO_CONN && c->state == ST_CONNECTING) {
                c->state = ST_FAILED;
                c->result = SECMQ_E_NO_CONN;
            }
        }
    }
    rc = c->state == ST_CONNECTED ? SECMQ_OK : c->result;
    if (rc == SECMQ_OK && c->state != ST_CONNECTED) {
        rc = SECMQ_E_NO_CONN;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int secmq_client_disconnect(secmq_client *c)
{
    int mrc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    /* Pending receipts go out before the DISCONNECT (best effort). */
    (void)secmq__crcpt_pump(c, 1);
    atomic_store(&c->mosq_disc, 1);
    mrc = mosquitto_disconnect_v5(c->mosq, 0, NULL);
    secmq__drive_kick(c);
    pthread_mutex_lock(&c->lock);
    c->disconnect_requested = mrc == MOSQ_ERR_SUCCESS;
    c->state = ST_IDLE;
    c->result = SECMQ_OK;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return map_mosq(mrc);
}

/* ---- messages ---- */

/* Hand a message to libmosquitto as it is (client_int.h). */
int secmq__client_publish_direct(secmq_client *c, int *mid, const char *topic,
                                 const void *payload, size_t payloadlen,
                                 int qos, int retain)
{
    int mrc;

    if (payloadlen > 268435455u) {
        return SECMQ_E_OVERSIZE;
    }
    if (secmq__qos2_before_publish(c, qos) != SECMQ_OK) {
        return SECMQ_E_QOS_UNSUPPORTED;
    }
    mrc = mosquitto_publish_v5(c->mosq, mid, topic, (int)payloadlen, payload,
                               qos, retain ? true : false, NULL);
    secmq__drive_kick(c);
    if (mrc == MOSQ_ERR_NO_CONN && qos > 0) {
        /* libmosquitto queued it and sends it after the reconnect. */
        return SECMQ_OK;
    }
    return map_mosq(mrc);
}

void secmq__client_threaded_set(secmq_client *c)
{
    mosquitto_threaded_set(c->mosq, true);
}

/* A topic libmosquitto would accept for PUBLISH; checked before a row is
 * stored, since the row is sent much later. */
int secmq__client_check_topic(secmq_client *c, const char *topic)
{
    size_t n = strlen(topic);

    if (n == 0 || n > 65535 || mosquitto_pub_topic_check(topic) != 0 ||
        mosquitto_validate_utf8(topic, (int)n) != 0) {
        return secmq__err_set(&c->err, SECMQ_E_INVAL,
                              "'%.200s' is not a topic one can publish to",
                              topic);
    }
    return SECMQ_OK;
}

int secmq_client_subscribe(secmq_client *c, int *mid, const char *filter,
                           int qos)
{
    int mrc;

    if (c == NULL || filter == NULL || qos < 0 || qos > 2) {
        return SECMQ_E_INVAL;
    }
    mrc = mosquitto_subscribe_v5(c->mosq, mid, filter, qos, 0, NULL);
    secmq__drive_kick(c);
    return map_mosq(mrc);
}

int secmq_client_unsubscribe(secmq_client *c, int *mid, const char *filter)
{
    int mrc;

    if (c == NULL || filter == NULL) {
        return SECMQ_E_INVAL;
    }
    mrc = mosquitto_unsubscribe_v5(c->mosq, mid, filter, NULL);
    secmq__drive_kick(c);
    return map_mosq(mrc);
}

/* ---- introspection ---- */

size_t secmq_client_errmsg(secmq_client *c, char *buf, size_t len)
{
    if (c == NULL) {
        size_t n = strlen(new_errmsg);
        if (buf != NULL && len > 0) {
            snprintf(buf, len, "%s", new_errmsg);
        }
        return n;
    }
    return secmq__err_copy(&c->err, buf, len);
}
