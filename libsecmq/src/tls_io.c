/*
 * tls_io.c -- the socket under wolfSSL: its send and receive callbacks.
 *
 * Reads go through a read-ahead buffer (one recv() for many records);
 * the records of one secmq__tls_write are gathered and sent with one
 * send(). Only ciphertext passes here. With tls.c, the only file that
 * includes wolfSSL.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfio.h>

#include "tls_conn_int.h"

/* wolfSSL's code for the errno of a failed send(). */
static int send_errno(void)
{
    switch (errno) {
    case EAGAIN:
        return WOLFSSL_CBIO_ERR_WANT_WRITE;
    case EINTR:
        return WOLFSSL_CBIO_ERR_ISR;
    case ECONNRESET:
    case EPIPE:
        return WOLFSSL_CBIO_ERR_CONN_RST;
    default:
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

/* Send the gathered records. 0 when none is left, else send_errno()'s
 * code (WANT_WRITE: the socket is full, the rest stays). */
int secmq__tls_flush(secmq__tls_conn *conn)
{
    while (conn->wb_off < conn->wb_len) {
        ssize_t n = send(conn->fd, conn->wb + conn->wb_off,
                         conn->wb_len - conn->wb_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return send_errno();
        }
        conn->wb_off += (size_t)n;
    }
    conn->wb_len = conn->wb_off = 0;
    return 0;
}

/* send() without SIGPIPE: a broker that hangs up must not kill the app.
 * While gathering, a record that fits is only kept (sent by
 * secmq__tls_write once wolfSSL has made them all); gathered bytes always
 * go out before anything else. */
int secmq__tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    secmq__tls_conn *conn = arg;
    ssize_t n;
    int r;

    (void)ssl;
    if (conn->gather && conn->wb_len + (size_t)sz <= sizeof conn->wb) {
        memcpy(conn->wb + conn->wb_len, buf, (size_t)sz);
        conn->wb_len += (size_t)sz;
        return sz;
    }
    if ((r = secmq__tls_flush(conn)) != 0) {
        return r;
    }
    if (conn->gather && (size_t)sz <= sizeof conn->wb) {
        memcpy(conn->wb, buf, (size_t)sz);
        conn->wb_len = (size_t)sz;
        return sz;
    }
    n = send(conn->fd, buf, (size_t)sz, MSG_NOSIGNAL);
    if (n >= 0) {
        return (int)n;
    }
    return send_errno();
}

/* recv() through the read-ahead buffer. WANT_READ only when the buffer is
 * empty and the socket has nothing, so polling the socket stays correct. */
int secmq__tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    secmq__tls_conn *conn = arg;
    size_t k;

    (void)ssl;
    if (conn->ra_off == conn->ra_len) {
        ssize_t n;
        if (conn->lazy && conn->drained) {
            /* The socket had nothing more at the last recv(): say so
             * without asking again; the caller polls before the next
             * try (secmq__tls_readable). */
            return WOLFSSL_CBIO_ERR_WANT_READ;
        }
        n = recv(conn->fd, conn->ra, sizeof conn->ra, 0);
        if (n == 0) {
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        }
        if (n < 0) {
            switch (errno) {
            case EAGAIN:
                conn->drained = 1;
                return WOLFSSL_CBIO_ERR_WANT_READ;
            case EINTR:
                return WOLFSSL_CBIO_ERR_ISR;
            case ECONNRESET:
                return WOLFSSL_CBIO_ERR_CONN_RST;
            default:
                return WOLFSSL_CBIO_ERR_GENERAL;
            }
        }
        conn->ra_len = (size_t)n;
        conn->ra_off = 0;
        /* A stream socket gives less than asked only when it has no more
         * queued. */
        conn->drained = (size_t)n < sizeof conn->ra;
    }
    k = conn->ra_len - conn->ra_off;
    if (k > (size_t)sz) {
        k = (size_t)sz;
    }
    memcpy(buf, conn->ra + conn->ra_off, k);
    conn->ra_off += k;
    return (int)k;
}
