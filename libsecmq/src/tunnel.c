/*
 * tunnel.c -- carries libmosquitto's bytes over wolfSSL TLS.
 *
 * Debian's libmosquitto speaks TLS only through OpenSSL and cannot be handed
 * a socket, so it connects to a unix socket of ours instead (port 0). One
 * thread accepts each (re)connection, checks with SO_PEERCRED that it comes
 * from this very process, pairs it with a verified TLS session to the broker
 * and copies bytes both ways until either side closes. With a driver
 * (secmq__tunnel_drive) the same thread also runs libmosquitto's loop, so
 * application callbacks run here then; this file only polls the driver's
 * descriptor and calls its hooks. TLS itself is tls.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"
#include "tunnel_int.h"

/* One read from libmosquitto is passed whole to one TLS write, so many small
 * MQTT packets share a record. 128 KiB holds a whole 64 KiB message and its
 * header either way: one recv() and one TLS write per message up, and all of
 * its records in one send() down (with 64 KiB each such message took two of
 * each, the second for a few bytes). */
#define TUNNEL_BUF 131072

struct secmq__tunnel {
    secmq__tls_ctx *tls;
    secmq__err *err;    /* the client's: for calls on the caller's thread */
    secmq__err own_err; /* the tunnel thread's failures */
    const secmq__log *log;
    int timeout_ms;
    char dir[PATH_MAX];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;
    int wake[2];              /* self-pipe: wakes the thread to stop */
    int kick_fd;              /* eventfd: wakes the thread for the driver */
    atomic_int sleeping;      /* the thread is in (or about to enter) poll */
    pthread_mutex_t drv_lock; /* held by the thread around driver hooks */
    const secmq__tunnel_driver *drv; /* guarded by drv_lock; NULL: none */
    atomic_int has_drv;              /* drv != NULL, read without the lock */
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    pthread_mutex_t lock; /* guards pending, active, failure */
    pthread_cond_t idle;  /* signalled when active becomes NULL */
    secmq__tls_conn *pending;
    secmq__tls_conn *active;
    int failure;
    unsigned char *up;   /* libmosquitto -> broker */
    unsigned char *down; /* broker -> libmosquitto */
};

static void set_failure(secmq__tunnel *t, int rc)
{
    pthread_mutex_lock(&t->lock);
    t->failure = rc;
    pthread_mutex_unlock(&t->lock);
}

/* SECURITY: only this process may use the tunnel. The directory is 0700,
 * and the peer's pid must be ours, so another local program (even of the
 * same user) cannot ride on our authenticated TLS session. */
static int peer_is_self(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return 0;
    }
    return cred.pid == getpid() && cred.uid == geteuid();
}

/*
 * What the copy loop knows about its two sockets. A socket is tried only
 * while it may be ready (a flag below, or no *_want), and polled once it
 * is not: a short read or write means the socket had no more room or
 * data, so the loop sleeps in poll() instead of asking again and getting
 * EAGAIN, which costs a system call per wake-up in each direction.
 */
typedef struct pump_state {
    size_t up_len;
    size_t down_len, down_off;
    int rd_want;  /* what the TLS read waits for; 0: try it */
    int wr_want;  /* what the pending TLS write waits for; 0: try it */
    int u_in;     /* libmosquitto's end may have bytes for us */
    int u_out;    /* libmosquitto's end may take bytes */
    int u_closed; /* libmosquitto closed its end */
    int u_hup;    /* hang-up seen while data was still pending */
    int end;      /* broker-side result to report once down is flushed */
    int handed;   /* bytes reached libmosquitto since the driver last ran */
} pump_state;

/* Largest TLS record plaintext; a read into less room could split one. */
#define RECORD_MAX 16384

/* Read decrypted records into t->down until the socket has no more or
 * there is no room for another whole record, so many records go to
 * libmosquitto in one send(). A broker-side failure after some data (a
 * CONNACK refusal, then the close) is kept in s->end and reported only once
 * that data has been delivered. */
static int fill_down(secmq__tunnel *t, secmq__tls_conn *conn, pump_state *s)
{
    int moved = 0;

    for (int k = 0; k < 64 && s->end == 0; k++) {
        size_t got;
        int r;

        if (TUNNEL_BUF - s->down_len < RECORD_MAX) {
            break;
        }
        r = secmq__tls_read(conn, t->down + s->down_len,
                            TUNNEL_BUF - s->down_len, &got);
        if (r == SECMQ_OK) {
            s->down_len += got;
            moved = 1;
        } else if (r > 0) {
            s->rd_want = r;
            break;
        } else {
            s->end = r;
        }
    }
    return moved;
}

/* Hand t->down to libmosquitto. 1 if bytes moved, 0 if none could, -1 if
 * libmosquitto went away. */
static int send_down(secmq__tunnel *t, int ufd, pump_state *s)
{
    size_t want = s->down_len - s->down_off;
    ssize_t n = send(ufd, t->down + s->down_off, want, MSG_NOSIGNAL);

    if (n > 0) {
        s->handed = 1;
        s->down_off += (size_t)n;
        if (s->down_off == s->down_len) {
            s->down_len = s->down_off = 0;
        } else {
            s->u_out = 0; /* its buffer is full: wait for POLLOUT */
        }
        return 1;
    }
    if (n < 0 && errno == EAGAIN) {
        s->u_out = 0;
    } else if (n < 0 && errno != EINTR) {
        return -1;
    }
    return 0;
}

/* Take what libmosquitto wrote into t->up. 1 if bytes came, else 0. */
static int recv_up(secmq__tunnel *t, int ufd, pump_state *s)
{
    ssize_t n = recv(ufd, t->up, TUNNEL_BUF, 0);

    if (n > 0) {
        s->up_len = (size_t)n;
        if (n < TUNNEL_BUF) {
            s->u_in = 0; /* it had no more: wait for POLLIN */
        }
        return 1;
    }
    if (n < 0 && errno == EAGAIN) {
        s->u_in = 0;
    } else if (n == 0 || errno != EINTR) {
        s->u_closed = 1;
    }
    return 0;
}

/* Move what can move without blocking. Returns 1 if something moved, 0 if
 * nothing could, or a final result (SECMQ_OK on a clean end, or an error)
 * through *done. */
static int pump_step(secmq__tunnel *t, int ufd, secmq__tls_conn *conn,
                     pump_state *s, int *done)
{
    int progress = 0;

    /* broker -> libmosquitto */
    if (s->down_len == 0) {
        s->down_off = 0;
        if (s->end != 0) {
            *done = s->end;
            return 0;
        }
        if (s->rd_want == 0) {
            progress |= fill_down(t, conn, s);
        }
        if (s->down_len == 0 && s->end != 0) {
            *done = s->end;
            return 0;
        }
    }
    if (s->down_len > s->down_off && !s->u_closed && s->u_out) {
        int r = send_down(t, ufd, s);
        if (r < 0) {
            *done = SECMQ_OK; /* libmosquitto went away */
            return 0;
        }
        progress |= r;
    }
    /* libmosquitto -> broker */
    if (s->up_len == 0 && !s->u_closed && s->u_in) {
        progress |= recv_up(t, ufd, s);
    }
    if (s->up_len > 0 && s->wr_want == 0) {
        int r = secmq__tls_write(conn, t->up, s->up_len);
        if (r == SECMQ_OK) {
            s->up_len = 0;
            progress = 1;
        } else if (r > 0) {
            s->wr_want = r;
        } else {
            *done = r;
            return 0;
        }
    }
    /* Everything libmosquitto wrote before closing (a DISCONNECT, which
     * keeps the will from being sent) has reached the broker. */
    if (s->u_closed && s->up_len == 0) {
        *done = SECMQ_OK;
        return 0;
    }
    return progress;
}

/* What to poll for on libmosquitto's end (ufd) and the broker's (tfd). */
static void poll_events(const pump_state *s, struct pollfd *u, struct pollfd *b)
{
    u->events = 0;
    if (s->up_len == 0 && !s->u_in) {
        u->events |= POLLIN;
    }
    if (s->down_len > s->down_off && !s->u_out) {
        u->events |= POLLOUT;
    }
    b->events = 0;
    if (s->down_len == 0 && s->rd_want != 0) {
        b->events |= s->rd_want == SECMQ__TLS_WANT_WRITE ? POLLOUT : POLLIN;
    }
    if (s->up_len > 0 && s->wr_want != 0) {
        b->events |= s->wr_want == SECMQ__TLS_WANT_READ ? POLLIN : POLLOUT;
    }
}

/* Turn what poll saw into what may be tried again. */
static void poll_seen(pump_state *s, secmq__tls_conn *conn,
                      const struct pollfd *u, const struct pollfd *b)
{
    short bad = POLLHUP | POLLERR | POLLNVAL;

    if (b->revents & (POLLIN | bad)) {
        secmq__tls_readable(conn);
        if (s->rd_want == SECMQ__TLS_WANT_READ) {
            s->rd_want = 0;
        }
        if (s->wr_want == SECMQ__TLS_WANT_READ) {
            s->wr_want = 0;
        }
    }
    if (b->revents & (POLLOUT | bad)) {
        if (s->rd_want == SECMQ__TLS_WANT_WRITE) {
            s->rd_want = 0;
        }
        if (s->wr_want == SECMQ__TLS_WANT_WRITE) {
            s->wr_want = 0;
        }
    }
    if (u->revents & (POLLIN | bad)) {
        s->u_in = 1;
    }
    if (u->revents & (POLLOUT | bad)) {
        s->u_out = 1;
    }
    if (u->revents & (POLLHUP | POLLERR)) {
        if (s->up_len > 0) {
            s->u_hup = 1; /* flush what we hold, then read the rest */
        } else if (!(u->revents & POLLIN)) {
            s->u_closed = 1;
        }
    }
}

/* ---- the driver's hooks (libmosquitto's loop, client_drive.c) ---- */

/* Before a poll: the kick descriptor into *k, the driver's descriptor (or
 * -1) and events into *d, and its deadline lowers *timeout. The thread is
 * marked asleep BEFORE the driver looks at libmosquitto's queue (in
 * prepare): secmq__tunnel_kick() explains why. */
static void drive_prepare(secmq__tunnel *t, struct pollfd *d, struct pollfd *k,
                          int *timeout)
{
    d->fd = -1;
    d->events = d->revents = 0;
    k->fd = t->kick_fd;
    k->events = POLLIN;
    k->revents = 0;
    atomic_store(&t->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load(&t->has_drv)) {
        return;
    }
    pthread_mutex_lock(&t->drv_lock);
    if (t->drv != NULL) {
        int due = -1;
        short ev = 0;
        d->fd = t->drv->prepare(t->drv->ctx, &ev, &due);
        d->events = ev;
        if (due >= 0 && (*timeout < 0 || due < *timeout)) {
            *timeout = due;
        }
    }
    pthread_mutex_unlock(&t->drv_lock);
}

/* After a poll: awake again; take the kick if one came. */
static void drive_woke(secmq__tunnel *t, const struct pollfd *k)
{
    atomic_store(&t->sleeping, 0);
    if (k->revents & POLLIN) {
        uint64_t v;
        ssize_t r = read(t->kick_fd, &v, sizeof v);
        (void)r; /* EAGAIN: another round took it */
    }
}

/* Run the driver (revents: what poll saw on its descriptor, POLLIN after
 * bytes reached libmosquitto). 1 if it wrote or closed, so libmosquitto's
 * end may hold output for us, else 0 (also without a driver). */
static int drive_run(secmq__tunnel *t, short revents)
{
    int moved = 0;

    if (!atomic_load_explicit(&t->has_drv, memory_order_relaxed)) {
        return 0;
    }
    pthread_mutex_lock(&t->drv_lock);
    if (t->drv != NULL) {
        moved = t->drv->run(t->drv->ctx, revents);
    }
    pthread_mutex_unlock(&t->drv_lock);
    return moved;
}

/* Copy until either side closes. SECMQ_OK for a clean end (libmosquitto
 * closed, or the tunnel stops), otherwise the broker-side failure.
 * When the tunnel is told to stop, it first drains: what libmosquitto wrote
 * before closing (a last QoS 0 message, a DISCONNECT) still goes to the
 * broker, for at most the connect timeout. */
static int pump(secmq__tunnel *t, int ufd, secmq__tls_conn *conn)
{
    pump_state s = {0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0};
    int tfd = secmq__tls_fd(conn);
    int64_t drain_until = 0;

    secmq__tls_lazy_recv(conn, 1);
    for (;;) {
        struct pollfd p[5];
        int done = 1; /* 1 = keep going */
        int timeout = -1;
        int moved;

        if (drain_until == 0 && atomic_load(&t->stop)) {
            drain_until = secmq__now_ms() + t->timeout_ms;
        }
        if (drain_until != 0) {
            int64_t left = drain_until - secmq__now_ms();
            if (left <= 0) {
                secmq__log_write(t->log, SECMQ_LOG_WARNING,
                                 "tunnel: stopped before all data reached "
                                 "the broker");
                return SECMQ_E_TIMEOUT;
            }
            timeout = left > 1000 ? 1000 : (int)left;
        }
        moved = pump_step(t, ufd, conn, &s, &done);
        if (done != 1) {
            return done;
        }
        if (s.handed) {
            /* Let libmosquitto read what it got now, without a poll, and
             * take its answers (PUBACKs) in the same round. */
            s.handed = 0;
            if (drive_run(t, POLLIN)) {
                s.u_in = 1;
            }
        }
        if (moved) {
            continue;
        }
        if (s.u_hup && s.up_len == 0) {
            s.u_hup = 0; /* flushed: read the rest */
        }
        p[0].fd = (s.u_closed || s.u_hup) ? -1 : ufd;
        p[1].fd = tfd;
        poll_events(&s, &p[0], &p[1]);
        p[2].fd = drain_until != 0 ? -1 : t->wake[0];
        p[2].events = POLLIN;
        p[0].revents = p[1].revents = p[2].revents = 0;
        drive_prepare(t, &p[4], &p[3], &timeout);
        if (poll(p, 5, timeout) < 0 && errno != EINTR) {
            drive_woke(t, &p[3]);
            return secmq__err_set(&t->own_err, SECMQ_E_IO, "tunnel: poll: %s",
                                  strerror(errno));
        }
        drive_woke(t, &p[3]);
        poll_seen(&s, conn, &p[0], &p[1]);
        /* Also when only a kick or the deadline woke us: the driver writes
         * what other threads queued and runs keep-alive. */
        if (drive_run(t, p[4].revents)) {
            s.u_in = 1;
        }
    }
}

static void serve(secmq__tunnel *t, int ufd)
{
    secmq__tls_conn *conn;
    int rc;

    pthread_mutex_lock(&t->lock);
    conn = t->pending;
    t->pending = NULL;
    t->failure = SECMQ_OK;
    pthread_mutex_unlock(&t->lock);
    if (conn == NULL) {
        rc = secmq__tls_dial(t->tls, secmq__now_ms() + t->timeout_ms, &conn,
                             &t->own_err);
        if (rc != SECMQ_OK) {
            char msg[SECMQ_ERRMSG_BYTES];
            secmq__err_copy(&t->own_err, msg, sizeof msg);
            secmq__log_write(t->log, SECMQ_LOG_WARNING, "reconnect: %s", msg);
            set_failure(t, rc); /* before the close that libmosquitto sees */
            close(ufd);
            return;
        }
    }
    secmq__tls_set_err(conn, &t->own_err);
    pthread_mutex_lock(&t->lock);
    t->active = conn;
    pthread_mutex_unlock(&t->lock);
    rc = pump(t, ufd, conn);
    pthread_mutex_lock(&t->lock);
    t->failure = rc; /* before the close that libmosquitto sees */
    pthread_mutex_unlock(&t->lock);
    secmq__tls_close(conn); /* keeps the session for the next dial */
    close(ufd);
    pthread_mutex_lock(&t->lock);
    t->active = NULL;
    pthread_cond_broadcast(&t->idle);
    pthread_mutex_unlock(&t->lock);
}

static void *tunnel_main(void *arg)
{
    secmq__tunnel *t = arg;

    (void)pthread_setname_np(pthread_self(), "secmq-tunnel");
    while (!atomic_load(&t->stop)) {
        struct pollfd p[4] = {{t->listen_fd, POLLIN, 0},
                              {t->wake[0], POLLIN, 0},
                              {-1, 0, 0},
                              {-1, 0, 0}};
        int timeout = -1;
        int ufd;

        /* Between connections the driver still runs: it reads the close
         * of a connection whose dial failed, and reconnects on time. */
        drive_prepare(t, &p[3], &p[2], &timeout);
        if (poll(p, 4, timeout) < 0) {
            drive_woke(t, &p[2]);
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        drive_woke(t, &p[2]);
        if (p[1].revents != 0) {
            break;
        }
        (void)drive_run(t, p[3].revents);
        if (!(p[0].revents & (POLLIN | POLLERR | POLLHUP))) {
            continue;
        }
        ufd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (ufd < 0) {
            continue;
        }
        if (!peer_is_self(ufd)) {
            secmq__log_write(t->log, SECMQ_LOG_WARNING,
                             "tunnel: refused a connection from another "
                             "process");
            close(ufd);
            continue;
        }
        serve(t, ufd);
    }
    secmq__tls_thread_cleanup();
    return NULL;
}

static int make_socket(secmq__tunnel *t)
{
    struct sockaddr_un sa;
    const char *base = getenv("XDG_RUNTIME_DIR");
    int n;

    if (base == NULL || access(base, W_OK | X_OK) != 0 || strlen(base) > 64) {
        base = "/tmp";
    }
    n = snprintf(t->dir, sizeof t->dir, "%s/secmq-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof t->dir || mkdtemp(t->dir) == NULL) {
        t->dir[0] = '\0';
        return secmq__err_set(t->err, SECMQ_E_IO,
                              "tunnel: cannot create a private directory in "
                              "%s: %s",
                              base, strerror(errno));
    }
    n = snprintf(t->path, sizeof t->path, "%s/mqtt.sock", t->dir);
    if (n < 0 || (size_t)n >= sizeof t->path) {
        return secmq__err_set(t->err, SECMQ_E_IO, "tunnel: path too long");
    }
    t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->listen_fd < 0) {
        return secmq__err_set(t->err, SECMQ_E_IO, "tunnel: socket: %s",
                              strerror(errno));
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, t->path, strlen(t->path) + 1);
    if (bind(t->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        chmod(t->path, 0600) != 0 || listen(t->listen_fd, 4) != 0) {
        return secmq__err_set(t->err, SECMQ_E_IO, "tunnel: %s: %s", t->path,
                              strerror(errno));
    }
    return SECMQ_OK;
}

int secmq__tunnel_new(secmq__tunnel **out, secmq__tls_ctx *tls, int timeout_ms,
                      secmq__err *err, const secmq__log *log)
{
    secmq__tunnel *t;
    int rc;

    *out = NULL;
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return secmq__err_set(err, SECMQ_E_NOMEM, "out of memory");
    }
    t->tls = tls;
    t->err = err;
    t->log = log;
    t->timeout_ms = timeout_ms;
    t->listen_fd = -1;
    t->wake[0] = t->wake[1] = -1;
    t->kick_fd = -1;
    atomic_init(&t->stop, 0);
    atomic_init(&t->sleeping, 0);
    atomic_init(&t->has_drv, 0);
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->drv_lock, NULL);
    pthread_cond_init(&t->idle, NULL);
    secmq__err_init(&t->own_err);
    t->up = malloc(TUNNEL_BUF);
    t->down = malloc(TUNNEL_BUF);
    if (t->up == NULL || t->down == NULL) {
        rc = secmq__err_set(err, SECMQ_E_NOMEM, "out of memory");
        goto err;
    }
    if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = secmq__err_set(err, SECMQ_E_IO, "tunnel: pipe: %s",
                            strerror(errno));
        goto err;
    }
    t->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->kick_fd < 0) {
        rc = secmq__err_set(err, SECMQ_E_IO, "tunnel: eventfd: %s",
                            strerror(errno));
        goto err;
    }
    if ((rc = make_socket(t)) != SECMQ_OK) {
        goto err;
    }
    if (pthread_create(&t->thread, NULL, tunnel_main, t) != 0) {
        rc = secmq__err_set(err, SECMQ_E_NOMEM, "tunnel: cannot start thread");
        goto err;
    }
    t->thread_started = 1;
    *out = t;
    return SECMQ_OK;
err:
    secmq__tunnel_free(t);
    return rc;
}

void secmq__tunnel_free(secmq__tunnel *t)
{
    if (t == NULL) {
        return;
    }
    atomic_store(&t->stop, 1);
    if (t->thread_started) {
        ssize_t w = write(t->wake[1], "x", 1);
        (void)w;
        pthread_join(t->thread, NULL);
    }
    secmq__tls_close(t->pending);
    if (t->listen_fd >= 0) {
        close(t->listen_fd);
    }
    if (t->path[0] != '\0') {
        unlink(t->path);
    }
    if (t->dir[0] != '\0') {
        rmdir(t->dir);
    }
    if (t->wake[0] >= 0) {
        close(t->wake[0]);
        close(t->wake[1]);
    }
    if (t->kick_fd >= 0) {
        close(t->kick_fd);
    }
    pthread_cond_destroy(&t->idle);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->drv_lock);
    secmq__err_destroy(&t->own_err);
    free(t->up);
    free(t->down);
    free(t);
}

const char *secmq__tunnel_path(const secmq__tunnel *t)
{
    return t->path;
}

/* Wait (bounded) until the previous connection has ended, so that its
 * session, kept at close, can be resumed and two sessions never overlap. */
static void wait_idle(secmq__tunnel *t, int64_t deadline_ms)
{
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < 100 && t->active != NULL; i++) {
        struct timespec ts;
        int64_t left = deadline_ms - secmq__now_ms();
        if (left <= 0) {
            break;
        }
        if (left > 100) {
            left = 100;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)left * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->idle, &t->lock, &ts);
    }
    pthread_mutex_unlock(&t->lock);
}

int secmq__tunnel_dial(secmq__tunnel *t, int64_t deadline_ms)
{
    secmq__tls_conn *conn = NULL, *old;
    int rc;

    wait_idle(t, deadline_ms < secmq__now_ms() + 1000 ? deadline_ms
                                                      : secmq__now_ms() + 1000);
    rc = secmq__tls_dial(t->tls, deadline_ms, &conn, t->err);

    if (rc != SECMQ_OK) {
        return rc;
    }
    pthread_mutex_lock(&t->lock);
    old = t->pending;
    t->pending = conn;
    pthread_mutex_unlock(&t->lock);
    secmq__tls_close(old);
    return SECMQ_OK;
}

int secmq__tunnel_take_failure(secmq__tunnel *t, secmq__err *err)
{
    char msg[SECMQ_ERRMSG_BYTES];
    int rc;

    pthread_mutex_lock(&t->lock);
    rc = t->failure;
    t->failure = SECMQ_OK;
    pthread_mutex_unlock(&t->lock);
    if (rc < 0 && err != NULL) {
        secmq__err_copy(&t->own_err, msg, sizeof msg);
        secmq__err_set(err, rc, "%s", msg);
    }
    return rc;
}

int secmq__tunnel_info(secmq__tunnel *t, secmq_tls_info *info)
{
    int rc = SECMQ_OK;

    pthread_mutex_lock(&t->lock);
    if (t->active == NULL) {
        rc = SECMQ_E_NO_CONN;
    }
    secmq__tls_info(t->tls, t->active, info);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void secmq__tunnel_drive(secmq__tunnel *t, const secmq__tunnel_driver *d)
{
    if (t->thread_started && pthread_equal(pthread_self(), t->thread)) {
        /* From inside a hook (a callback): this thread holds drv_lock. */
        t->drv = d;
        atomic_store(&t->has_drv, d != NULL);
        return;
    }
    /* Once the lock is ours, the thread is in no hook, and it takes the
     * lock again before the next one: after this, d is not called. */
    pthread_mutex_lock(&t->drv_lock);
    t->drv = d;
    atomic_store(&t->has_drv, d != NULL);
    pthread_mutex_unlock(&t->drv_lock);
    if (d != NULL) {
        secmq__tunnel_kick(t); /* it may sleep in a poll without d */
    }
}

/*
 * Why no wake-up is lost, though most kicks make no system call: the
 * thread stores sleeping = 1, then (seq_cst fence) asks the driver what to
 * poll for, which reads libmosquitto's queue (want_write); a kicker has
 * queued its packet before this call, then (seq_cst fence) reads
 * sleeping. Two seq_cst fences order the two store-then-load pairs in one
 * total order, so at least one side sees the other's store: either the
 * thread sees the packet (and polls for POLLOUT, which is ready at once),
 * or the kicker sees sleeping == 1 and writes the eventfd, which stays
 * readable until the thread reads it, even if written before poll() was
 * entered. The same holds for has_drv set by secmq__tunnel_drive(). The
 * exchange lets only one kicker per sleep pay for the write; the thread
 * stores 0 itself when it wakes for any other reason.
 */
void secmq__tunnel_kick(secmq__tunnel *t)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&t->sleeping) && atomic_exchange(&t->sleeping, 0)) {
        uint64_t one = 1;
        ssize_t w = write(t->kick_fd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is full, the thread will wake */
    }
}

int secmq__tunnel_on_thread(const secmq__tunnel *t)
{
    return t->thread_started && pthread_equal(pthread_self(), t->thread);
}
