/*
 * tls_int.h -- the wolfSSL adapter: the only interface to TLS.
 *
 * A tls context holds one client's trust settings (CA, client certificate,
 * host name, pin, minimum version) and the session kept for resumption. A
 * tls connection is one verified TLS session over a non-blocking TCP socket.
 * Foreign error codes never leave tls.c: they become SECMQ_E_* plus detail.
 */
#ifndef SECMQ_TLS_INT_H
#define SECMQ_TLS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "secmq_int.h"

typedef struct secmq__tls_ctx secmq__tls_ctx;
typedef struct secmq__tls_conn secmq__tls_conn;

/* Non-error results of secmq__tls_read/_write: retry when the fd is ready. */
#define SECMQ__TLS_WANT_READ 1
#define SECMQ__TLS_WANT_WRITE 2

/* Start wolfSSL once per process. 0 or -1. */
int secmq__tls_global_init(void);
/* The version of the wolfSSL loaded at run time (static string). */
const char *secmq__tls_lib_version(void);

/* Release wolfSSL's per-thread caches; call before a thread that dialed
 * exits. */
void secmq__tls_thread_cleanup(void);

/*
 * Build a context. cfg, host are BORROWED and copied. Loads CA and client
 * certificate files now, so a bad file fails here. Returns SECMQ_OK,
 * SECMQ_E_TLS, SECMQ_E_IO, SECMQ_E_NOMEM; detail in err.
 */
int secmq__tls_ctx_new(secmq__tls_ctx **out, const secmq_tls_config *cfg,
                       const char *host, int port, const secmq__log *log,
                       secmq__err *err);
void secmq__tls_ctx_free(secmq__tls_ctx *ctx);

/*
 * Connect TCP, run the handshake, check the CA chain, host name and pin,
 * all before deadline_ms. Resumes the context's saved session if any.
 * On success *out is owned by the caller (secmq__tls_close). Errors:
 * SECMQ_E_DNS, _CONN_REFUSED, _TIMEOUT, _IO, _TLS, _TLS_CA, _TLS_HOSTNAME,
 * _TLS_EXPIRED, _TLS_PIN, _NOMEM, with the detail in err.
 * Safe to call from any thread; calls on one context are serialised.
 */
int secmq__tls_dial(secmq__tls_ctx *ctx, int64_t deadline_ms,
                    secmq__tls_conn **out, secmq__err *err);

/* Send conn's later errors to err instead of the dial's slot. */
void secmq__tls_set_err(secmq__tls_conn *conn, secmq__err *err);

/* The socket under conn (for poll). */
int secmq__tls_fd(const secmq__tls_conn *conn);

/*
 * secmq__tls_lazy_recv -- with on = 1, a read that finds nothing buffered
 * after a recv() that returned less than it asked for (so the socket was
 * empty) returns SECMQ__TLS_WANT_READ without another recv(), which saves
 * a failing system call per wake-up. The caller must then poll the fd for
 * POLLIN and call secmq__tls_readable() when poll reports it (or an error
 * or hang-up) before reading again. Off after dial.
 */
void secmq__tls_lazy_recv(secmq__tls_conn *conn, int on);
void secmq__tls_readable(secmq__tls_conn *conn);

/*
 * Read decrypted bytes. Returns SECMQ_OK with *got > 0, SECMQ__TLS_WANT_READ
 * or SECMQ__TLS_WANT_WRITE, SECMQ_E_CONN_LOST when the broker closed the
 * session, or a SECMQ_E_TLS* code (e.g. the broker rejected the client
 * certificate) with the detail in the dial's err slot.
 */
int secmq__tls_read(secmq__tls_conn *conn, void *buf, size_t len, size_t *got);

/*
 * Write all len bytes. Returns SECMQ_OK, a SECMQ__TLS_WANT_* code (call again
 * later with the SAME buf and len), or a negative code as for read. The
 * records of one write go to the socket in one send() where they fit (up to
 * 128 KiB); when the socket cannot take them all, the rest is kept and
 * SECMQ__TLS_WANT_WRITE returned, and the call again sends it (without
 * encrypting buf anew). Nothing else is sent before them.
 */
int secmq__tls_write(secmq__tls_conn *conn, const void *buf, size_t len);

/*
 * Send close_notify (best effort, never blocks), keep the session in the
 * context for the next dial, close the socket and free conn. NULL is a no-op.
 */
void secmq__tls_close(secmq__tls_conn *conn);

/*
 * What tls.c knows about the client certificate when the broker sends an
 * alert or hangs up: the configured certificate file (BORROWED; NULL when
 * none) and whether the broker asked for a client certificate in this
 * handshake.
 */
typedef struct secmq__tls_peer_view {
    const char *certfile;
    int cert_requested;
} secmq__tls_peer_view;

/*
 * Set err for a fatal alert (an RFC 8446 alert number) the broker sent;
 * detail is wolfSSL's wording, used for alerts without a better sentence.
 * Refusals of the client certificate name the file and the reason. Returns
 * the code set: SECMQ_E_TLS, or SECMQ_E_TLS_EXPIRED for certificate_expired
 * about our certificate.
 */
int secmq__tls_explain_alert(const secmq__tls_peer_view *v, int alert,
                             const char *detail, secmq__err *err);

/*
 * The broker closed the connection without an alert before sending any
 * application data. If it had asked for a client certificate, set err to
 * say it (probably) refused ours, or requires one when none is configured,
 * and return SECMQ_E_TLS; otherwise leave err alone and return SECMQ_OK.
 */
int secmq__tls_explain_close(const secmq__tls_peer_view *v, secmq__err *err);

/* Describe conn (version, cipher, resumed) and the context's count. */
void secmq__tls_info(const secmq__tls_ctx *ctx, const secmq__tls_conn *conn,
                     secmq_tls_info *info);

#endif
