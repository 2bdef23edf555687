/*
 * tls_conn_int.h -- one TLS session's state, shared by tls.c (the wolfSSL
 * adapter) and tls_io.c (its socket callbacks). Private to those two files:
 * everything else sees secmq__tls_conn as opaque (tls_int.h).
 */
#ifndef SECMQ_TLS_CONN_INT_H
#define SECMQ_TLS_CONN_INT_H

#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls_int.h"

/* Bytes read from the socket ahead of wolfSSL's asks: wolfSSL reads a
 * record's 5-byte header and then its body, so without this every record
 * would cost two or three recv() calls. Ciphertext only. 64 KiB: the four
 * records of a 64 KiB message in one recv() when they are all there. */
#define READ_AHEAD 65536

/* The records of one secmq__tls_write, gathered and sent in one send():
 * wolfSSL hands each record (at most 16 KiB of plaintext) to secmq__tls_io_send
 * on its own. Room for the tunnel's largest write (128 KiB) and the records'
 * headers and tags. Ciphertext only. */
#define WRITE_GATHER (128 * 1024 + 1024)

struct secmq__tls_conn {
    secmq__tls_ctx *ctx;
    WOLFSSL *ssl;
    int fd;
    int resumed;
    int cert_requested; /* the broker asked for a client certificate */
    int got_data;       /* application data arrived (a CONNACK, say) */
    secmq__err *err;
    int lazy;    /* secmq__tls_lazy_recv() was turned on */
    int drained; /* the last recv() found no more than it returned */
    size_t ra_len, ra_off;
    unsigned char ra[READ_AHEAD];
    /* Records gathered by secmq__tls_io_send while gather is on
     * (secmq__tls_write), and those not yet sent; nothing else is sent before
     * them. */
    int gather;
    int accepted; /* wolfSSL took the whole last write; only wb is left */
    size_t wb_len, wb_off;
    unsigned char wb[WRITE_GATHER];
};

/* wolfSSL's send callback (arg: the conn): send() without SIGPIPE; while
 * conn->gather is on, records are gathered in conn->wb instead. Gathered
 * bytes always go out before anything else. */
int secmq__tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *arg);
/* wolfSSL's receive callback (arg: the conn), through the read-ahead. */
int secmq__tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg);
/* Send the gathered records. 0 when none is left, else wolfSSL's
 * WOLFSSL_CBIO_ERR_* code (WANT_WRITE: the socket is full, the rest is
 * kept). */
int secmq__tls_flush(secmq__tls_conn *conn);

#endif /* SECMQ_TLS_CONN_INT_H */
