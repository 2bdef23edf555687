/*
 * client_drive.c -- the client's loops (secmq_client_loop*), and over TLS
 * libmosquitto's threaded loop run by the tunnel's thread.
 *
 * Over TLS every byte already passes through the tunnel thread, so
 * secmq_client_loop_start() does not start libmosquitto's own thread: the
 * tunnel thread polls libmosquitto's socket too and calls its external-loop
 * functions, doing what mosquitto_loop_forever() (libmosquitto 2.0.11,
 * lib/loop.c) would do, one thread and fewer wake-ups per message. The
 * plain transport and the application-driven loops use libmosquitto's own.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

#include <mosquitto.h>

#include "client_int.h"
#include "net_int.h"

/* Packets read per round at most (mosquitto_loop_read reads one packet a
 * call while no QoS > 0 message waits), so a burst costs one poll. */
#define READ_BURST 64

/* loop_misc (keep-alive) runs at least this often. */
#define MISC_MS 1000

struct secmq__drive {
    secmq_client *c;
    secmq__tunnel_driver hook;
    atomic_int active; /* loop_start ran, loop_stop did not yet */
    atomic_int halt;   /* loop_stop from a callback: drive no more */

    /* The tunnel thread's own state, between its hooks. */
    int over;             /* the loop ended (loop_forever returned) */
    int started;          /* libmosquitto had a socket since loop_start */
    unsigned reconnects;  /* as libmosquitto's own, for the backoff */
    int64_t reconnect_at; /* secmq__now_ms of the next reconnect; 0: none */

    pthread_mutex_t lock; /* guards ended and attached */
    pthread_cond_t cond;  /* ended set, or a kick without a tunnel */
    int ended;
    secmq__tunnel *attached; /* the tunnel running the hooks, or NULL */
};

/* The loop ended, as mosquitto_loop_forever() returning: the tunnel goes on
 * carrying what libmosquitto still has, but nobody reads or reconnects. */
static void finish(secmq__drive *d)
{
    d->over = 1;
    d->reconnect_at = 0;
    pthread_mutex_lock(&d->lock);
    d->ended = 1;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* The codes after which mosquitto_loop_forever() returns at once. */
static int is_fatal(int mrc, int err)
{
    switch (mrc) {
    case MOSQ_ERR_NOMEM:
    case MOSQ_ERR_PROTOCOL:
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_NOT_FOUND:
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_NOT_SUPPORTED:
    case MOSQ_ERR_AUTH:
    case MOSQ_ERR_ACL_DENIED:
    case MOSQ_ERR_UNKNOWN:
    case MOSQ_ERR_EAI:
    case MOSQ_ERR_PROXY:
        return 1;
    default:
        return err == EPROTO;
    }
}

/* The next reconnect's time, computed as mosquitto_loop_forever() does with
 * the delays secmq_client_new() set (exponential backoff). */
static void schedule(secmq__drive *d)
{
    unsigned long min = (unsigned long)d->c->reconnect_min_s;
    unsigned long max = (unsigned long)d->c->reconnect_max_s;
    unsigned long delay = min;

    if (max > min) {
        delay = min * (d->reconnects + 1) * (d->reconnects + 1);
    }
    if (delay > max) {
        delay = max;
    } else {
        d->reconnects++; /* stops once the delay reached max: bounded */
    }
    d->reconnect_at = secmq__now_ms() + (int64_t)delay * 1000;
}

/* libmosquitto's state is disconnecting or disconnected: a disconnect was
 * asked for (client.c sets mosq_disc with every mosquitto_disconnect). */
static int disconnecting(const secmq__drive *d)
{
    return atomic_load(&d->c->mosq_disc) != 0;
}

/* A call failed or left no socket: what mosquitto_loop_forever() does when
 * mosquitto_loop() returns mrc (errno err). 1 if the link is gone, 0 if the
 * socket is still there and all went well. */
static int after(secmq__drive *d, int mrc, int err)
{
    if (mosquitto_socket(d->c->mosq) >= 0 && mrc == MOSQ_ERR_SUCCESS) {
        return 0;
    }
    if (mrc == MOSQ_ERR_SUCCESS) {
        /* The socket went away without an error: libmosquitto only reports
         * success then in the disconnected state (our DISCONNECT written,
         * or the broker's MQTT 5 DISCONNECT read), and loop_forever ends. */
        finish(d);
    } else if (is_fatal(mrc, err) || disconnecting(d)) {
        finish(d);
    } else {
        schedule(d);
    }
    return 1;
}

/* No socket: wait for the first connect (libmosquitto's thread waits while
 * the state is new), or reconnect when due. */
static void no_socket(secmq__drive *d)
{
    int mrc;

    if (disconnecting(d)) {
        finish(d);
        return;
    }
    if (!d->started) {
        return;
    }
    if (d->reconnect_at == 0) {
        /* The socket went away outside our calls. */
        (void)after(d, MOSQ_ERR_NO_CONN, 0);
        return;
    }
    if (secmq__now_ms() < d->reconnect_at) {
        return;
    }
    d->reconnect_at = 0;
    /* On this thread: the connect to the tunnel's unix socket completes
     * from its listen backlog; this thread accepts it in its next poll and
     * dials TLS as for any other connection. */
    mrc = mosquitto_reconnect(d->c->mosq);
    if (mrc != MOSQ_ERR_SUCCESS) {
        schedule(d);
    }
}

static int hook_prepare(void *ctx, short *events, int *timeout_ms)
{
    secmq__drive *d = ctx;
    int fd;

    if (d->over || atomic_load(&d->halt)) {
        return -1;
    }
    fd = mosquitto_socket(d->c->mosq);
    if (fd < 0) {
        if (d->reconnect_at != 0) {
            int64_t left = d->reconnect_at - secmq__now_ms();
            *timeout_ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        } else if (d->started) {
            *timeout_ms = 0; /* lost outside our calls: see no_socket */
        }
        return -1;
    }
    /* Read after the caller marked its thread asleep: a packet queued by
     * another thread is either seen here or kicks (tunnel.c). */
    *events =
        (short)(POLLIN | (mosquitto_want_write(d->c->mosq) ? POLLOUT : 0));
    *timeout_ms = MISC_MS;
    return fd;
}

/*
 * Callbacks (on_connect, on_message, on_publish, ...) run inside these
 * calls, on the tunnel thread. They may block, as they could block
 * libmosquitto's own thread: a full delivery queue (secmq__client_enqueue)
 * makes on_message wait for the delivery thread, and the tunnel stops
 * reading from the broker meanwhile, which is the intended back-pressure.
 */
/* 1 if libmosquitto wrote to its socket or closed it (in external-loop
 * mode it writes only in loop_write), so the tunnel reads its end now. */
static int hook_run(void *ctx, short revents)
{
    secmq__drive *d = ctx;
    struct mosquitto *mosq = d->c->mosq;
    int moved = 0, mrc, err;

    if (d->over || atomic_load(&d->halt)) {
        return 0;
    }
    if (mosquitto_socket(mosq) < 0) {
        no_socket(d);
        return 0;
    }
    d->started = 1;
    d->reconnect_at = 0;
    if (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) {
        for (int k = 0; k < READ_BURST; k++) {
            errno = 0;
            mrc = mosquitto_loop_read(mosq, 1);
            err = errno;
            if (after(d, mrc, err)) {
                return 1;
            }
            if (err == EAGAIN || atomic_load(&d->halt)) {
                break;
            }
        }
    }
    if (atomic_load(&d->halt)) {
        return 0;
    }
    /* Keep-alive before the write, so a PINGREQ it queues goes out now. */
    errno = 0;
    mrc = mosquitto_loop_misc(mosq);
    if (after(d, mrc, errno)) {
        return 1;
    }
    if (mosquitto_want_write(mosq)) {
        moved = 1;
        errno = 0;
        mrc = mosquitto_loop_write(mosq, 1);
        if (after(d, mrc, errno)) {
            return 1;
        }
    }
    return moved;
}

int secmq__drive_new(secmq_client *c)
{
    secmq__drive *d = calloc(1, sizeof *d);

    if (d == NULL) {
        return SECMQ_E_NOMEM;
    }
    d->c = c;
    d->hook.ctx = d;
    d->hook.prepare = hook_prepare;
    d->hook.run = hook_run;
    atomic_init(&d->active, 0);
    atomic_init(&d->halt, 0);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    c->drive = d;
    return SECMQ_OK;
}

void secmq__drive_free(secmq_client *c)
{
    secmq__drive *d = c->drive;

    if (d == NULL) {
        return;
    }
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
    c->drive = NULL;
}

int secmq__drive_active(const secmq_client *c)
{
    return c->drive != NULL && atomic_load(&c->drive->active);
}

/* Hand the hooks to the tunnel, once both exist. */
void secmq__drive_attach(secmq_client *c)
{
    secmq__drive *d = c->drive;
    secmq__tunnel *t = NULL;

    if (d == NULL || !atomic_load(&d->active) || c->tunnel == NULL) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    if (d->attached == NULL) {
        d->attached = t = c->tunnel;
    }
    pthread_mutex_unlock(&d->lock);
    if (t != NULL) {
        secmq__tunnel_drive(t, &d->hook);
    }
}

void secmq__drive_start(secmq_client *c)
{
    secmq__drive *d = c->drive;

    /* loop_stop from a callback returns before that hook ends: wait for
     * it (the tunnel runs no driver now, this only takes its lock). */
    if (c->tunnel != NULL) {
        secmq__tunnel_drive(c->tunnel, NULL);
    }
    /* No hook runs now: a fresh loop, with the reconnect counter reset as
     * mosquitto_loop_forever() does. */
    d->over = 0;
    d->started = 0;
    d->reconnects = 0;
    d->reconnect_at = 0;
    atomic_store(&d->halt, 0);
    pthread_mutex_lock(&d->lock);
    d->ended = 0;
    pthread_mutex_unlock(&d->lock);
    /* Packets from other threads (and from callbacks) are only queued;
     * the tunnel thread writes them. */
    mosquitto_threaded_set(c->mosq, true);
    atomic_store(&d->active, 1);
    secmq__drive_attach(c);
}

void secmq__drive_stop(secmq_client *c, int force)
{
    secmq__drive *d = c->drive;
    secmq__tunnel *t;

    pthread_mutex_lock(&d->lock);
    t = d->attached;
    pthread_mutex_unlock(&d->lock);
    if (t != NULL && secmq__tunnel_on_thread(t)) {
        /* From a callback on the tunnel thread: just stop driving. */
        atomic_store(&d->halt, 1);
    } else if (force) {
        /* A hook blocked in a callback (a full delivery queue) finishes
         * that callback but reads no further packet. */
        atomic_store(&d->halt, 1);
    } else {
        /* Until the loop ends (after a disconnect), unbounded like
         * libmosquitto's pthread_join. Without a tunnel (never connected)
         * nothing runs the loop: a disconnect is its end. */
        pthread_mutex_lock(&d->lock);
        while (!d->ended &&
               !(d->attached == NULL && atomic_load(&c->mosq_disc))) {
            pthread_cond_wait(&d->cond, &d->lock);
        }
        pthread_mutex_unlock(&d->lock);
    }
    if (t != NULL) {
        secmq__tunnel_drive(t, NULL);
    }
    pthread_mutex_lock(&d->lock);
    d->attached = NULL;
    pthread_mutex_unlock(&d->lock);
    atomic_store(&d->active, 0);
    /* An outbox keeps the handle threaded (client_outbox.c). */
    mosquitto_threaded_set(c->mosq, c->outbox != NULL);
}

void secmq__drive_kick(secmq_client *c)
{
    secmq__drive *d = c->drive;

    if (d == NULL || !atomic_load_explicit(&d->active, memory_order_relaxed)) {
        return;
    }
    if (c->tunnel != NULL) {
        secmq__tunnel_kick(c->tunnel);
        return;
    }
    /* No tunnel yet: a loop_stop(c, 0) may wait for a disconnect. */
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void secmq__drive_connack(secmq_client *c)
{
    /* As libmosquitto does on an accepted CONNACK (handle_connack.c); on
     * the tunnel thread when it drives, else unused. */
    if (secmq__drive_active(c)) {
        c->drive->reconnects = 0;
    }
}

/* ---- loops ---- */

static int is_threaded(secmq_client *c)
{
    int t;

    pthread_mutex_lock(&c->lock);
    t = c->threaded;
    pthread_mutex_unlock(&c->lock);
    return t;
}

/* After libmosquitto reports a lost link, return the cause we recorded. */
static int loop_result(secmq_client *c, int mrc)
{
    int rc = secmq__client_map_mosq(mrc);

    if (rc == SECMQ_E_CONN_LOST || rc == SECMQ_E_IO ||
        (rc == SECMQ_E_PROTOCOL && atomic_load(&c->qos2_refused))) {
        pthread_mutex_lock(&c->lock);
        if (c->result < 0) {
            rc = c->result;
        }
        pthread_mutex_unlock(&c->lock);
    }
    return rc;
}

int secmq_client_loop(secmq_client *c, int timeout_ms)
{
    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    if (is_threaded(c)) {
        return SECMQ_E_STATE;
    }
    return loop_result(c, mosquitto_loop(c->mosq, timeout_ms, 1));
}

int secmq_client_loop_forever(secmq_client *c)
{
    int mrc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    if (is_threaded(c)) {
        return SECMQ_E_STATE;
    }
    mrc = mosquitto_loop_forever(c->mosq, -1, 1);
    if (mrc == MOSQ_ERR_NO_CONN) {
        return SECMQ_E_STATE;
    }
    return loop_result(c, mrc);
}

int secmq_client_loop_start(secmq_client *c)
{
    int mrc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    if (c->threaded) {
        pthread_mutex_unlock(&c->lock);
        return SECMQ_E_STATE;
    }
    c->threaded = 1;
    pthread_mutex_unlock(&c->lock);
    if (c->drive != NULL) {
        /* TLS: the tunnel thread, which carries every byte anyway, runs
         * the loop too (client_drive.c): one thread wakes per message,
         * not two. */
        secmq__drive_start(c);
        return SECMQ_OK;
    }
    if (c->outbox != NULL) {
        /* loop_start refuses a handle marked as threaded; it marks it
         * itself (see secmq_client_set_outbox). */
        mosquitto_threaded_set(c->mosq, false);
    }
    mrc = mosquitto_loop_start(c->mosq);
    if (mrc != MOSQ_ERR_SUCCESS) {
        if (c->outbox != NULL) {
            mosquitto_threaded_set(c->mosq, true);
        }
        pthread_mutex_lock(&c->lock);
        c->threaded = 0;
        pthread_mutex_unlock(&c->lock);
        return mrc == MOSQ_ERR_INVAL ? SECMQ_E_STATE
                                     : secmq__client_map_mosq(mrc);
    }
    return SECMQ_OK;
}

int secmq_client_loop_stop(secmq_client *c, int force)
{
    int mrc;

    if (c == NULL) {
        return SECMQ_E_INVAL;
    }
    if (!is_threaded(c)) {
        return SECMQ_E_STATE;
    }
    if (secmq__drive_active(c)) {
        secmq__drive_stop(c, force);
        mrc = MOSQ_ERR_SUCCESS;
    } else {
        mrc = mosquitto_loop_stop(c->mosq, force ? true : false);
        if (c->outbox != NULL) {
            mosquitto_threaded_set(c->mosq, true);
        }
    }
    pthread_mutex_lock(&c->lock);
    c->threaded = 0;
    pthread_mutex_unlock(&c->lock);
    return mrc == MOSQ_ERR_SUCCESS ? SECMQ_OK : SECMQ_E_STATE;
}
