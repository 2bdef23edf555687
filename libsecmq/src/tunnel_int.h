/*
 * tunnel_int.h -- the TLS tunnel between libmosquitto and the broker.
 *
 * libmosquitto connects to a private unix socket; a tunnel thread accepts
 * each of its (re)connections, pairs it with a fresh, verified TLS session to
 * the broker and copies bytes both ways.
 */
#ifndef SECMQ_TUNNEL_INT_H
#define SECMQ_TUNNEL_INT_H

#include "secmq_int.h"
#include "tls_int.h"

typedef struct secmq__tunnel secmq__tunnel;

/*
 * Create the socket (in a new 0700 directory) and start the thread. tls,
 * err and log are BORROWED and must outlive the tunnel; err receives the
 * errors of secmq__tunnel_new() and secmq__tunnel_dial() only. timeout_ms
 * bounds each reconnect's TCP + TLS handshake. Returns SECMQ_OK, SECMQ_E_IO or
 * SECMQ_E_NOMEM with the detail in err.
 */
int secmq__tunnel_new(secmq__tunnel **out, secmq__tls_ctx *tls, int timeout_ms,
                      secmq__err *err, const secmq__log *log);

/* Stop the thread, close everything, remove the socket. NULL is a no-op. */
void secmq__tunnel_free(secmq__tunnel *t);

/* The unix socket path libmosquitto must connect to (port 0). */
const char *secmq__tunnel_path(const secmq__tunnel *t);

/*
 * Dial the broker now, on the calling thread, so that errors reach the
 * caller; the session is used for the next accepted connection. Returns the
 * codes of secmq__tls_dial().
 */
int secmq__tunnel_dial(secmq__tunnel *t, int64_t deadline_ms);

/*
 * The failure that ended the last tunnelled connection (a SECMQ_E_* code,
 * whose detail is then copied into err), or SECMQ_OK if it ended cleanly.
 * Clears it. err may be NULL. The tunnel thread never writes err itself, so a
 * detail the client recorded meanwhile (a refusal in CONNACK) is not
 * overwritten.
 */
int secmq__tunnel_take_failure(secmq__tunnel *t, secmq__err *err);

/* Describe the current TLS session. SECMQ_OK or SECMQ_E_NO_CONN. */
int secmq__tunnel_info(secmq__tunnel *t, secmq_tls_info *info);

/*
 * A driver: someone else's event loop that the tunnel thread runs in its
 * own polls (libmosquitto's, client_drive.c), so one thread serves both.
 * The hooks run on the tunnel thread only, one at a time, and may call
 * secmq__tunnel_drive() and secmq__tunnel_kick(); they must not block on
 * the tunnel's other work.
 */
typedef struct secmq__tunnel_driver {
    void *ctx; /* BORROWED: passed to the hooks */
    /* Before each poll: return the descriptor to poll (or -1) and its
     * events in *events; set *timeout_ms to when run must be called again
     * at the latest (-1: no deadline). */
    int (*prepare)(void *ctx, short *events, int *timeout_ms);
    /* After each poll (revents: what it saw on the descriptor, 0 for
     * none), and with POLLIN as soon as the tunnel handed bytes to the
     * descriptor's peer. Return 1 if it wrote to the descriptor or closed
     * it (its peer may have bytes or an end to read now), else 0. */
    int (*run)(void *ctx, short revents);
} secmq__tunnel_driver;

/*
 * Let the tunnel thread run d (BORROWED, must stay valid until cleared) in
 * both of its polls, or stop running any driver (d NULL). When this returns
 * the previous driver's hooks are not running and will not run again;
 * called from a hook (on the tunnel thread), the current hook finishes but
 * no other follows.
 */
void secmq__tunnel_drive(secmq__tunnel *t, const secmq__tunnel_driver *d);

/*
 * Wake the tunnel thread if it sleeps in a poll, so its driver looks again
 * at what it may write. Any thread; costs a system call only when the
 * thread sleeps (the proof is at its definition in tunnel.c).
 */
void secmq__tunnel_kick(secmq__tunnel *t);

/* 1 on the tunnel thread (inside a driver hook), else 0. */
int secmq__tunnel_on_thread(const secmq__tunnel *t);

#endif
