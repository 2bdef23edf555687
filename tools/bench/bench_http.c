/*
 * bench_http.c -- the smallest HTTP/1.1 client the bench needs to ask
 * secmq-authd what RabbitMQ asks: form-encoded POSTs on one kept-alive
 * loopback connection, answers with a Content-Length body. Not a general
 * client: no chunked bodies, no redirects, no TLS, no pipelining.
 */
#include "bench_authd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One answer waits at most this long (a slow argon2id check under qemu
 * is seconds; the server being gone is noticed at once). */
#define HTTP_TIMEOUT_S 60

static int connect_fd(bench_http *h, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    struct timeval tv = {HTTP_TIMEOUT_S, 0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)h->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "connect to 127.0.0.1:%d: %s", h->port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    h->fd = fd;
    h->connects++;
    return 0;
}

int bench_http_open(bench_http *h, int port, char *err, size_t errlen)
{
    h->fd = -1;
    h->port = port;
    h->connects = 0;
    return connect_fd(h, err, errlen);
}

void bench_http_close(bench_http *h)
{
    if (h->fd >= 0) {
        close(h->fd);
        h->fd = -1;
    }
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The value of header name in the header block hdr (NUL-ended, lines
 * ending in CRLF), or NULL. */
static const char *header(const char *hdr, const char *name)
{
    size_t n = strlen(name);
    const char *p = strstr(hdr, "\r\n");

    while (p != NULL && p[2] != '\0') {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            return p;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

/* Reads one answer. Returns the status, 0 when the connection was closed
 * before any byte of it came, or -1 with err. */
static int read_answer(bench_http *h, char *resp, size_t resp_cap, char *err,
                       size_t errlen)
{
    size_t have = 0, hlen, blen;
    const char *cl, *conn;
    char *end = NULL;
    long clen;
    int status;

    for (;;) {
        ssize_t r;
        h->buf[have] = '\0';
        end = strstr(h->buf, "\r\n\r\n");
        if (end != NULL) {
            break;
        }
        if (have + 1 >= sizeof h->buf) {
            snprintf(err, errlen, "HTTP answer headers over %u bytes",
                     BENCH_HTTP_BUF);
            return -1;
        }
        r = recv(h->fd, h->buf + have, sizeof h->buf - 1 - have, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r == 0 && have == 0) {
            return 0;
        }
        if (r <= 0) {
            snprintf(err, errlen, "reading the HTTP answer: %s",
                     r == 0 ? "connection closed" : strerror(errno));
            return -1;
        }
        have += (size_t)r;
    }
    end[2] = '\0'; /* the headers end with their last CRLF */
    hlen = (size_t)(end + 4 - h->buf);
    if (sscanf(h->buf, "HTTP/1.%*1[01] %3d", &status) != 1) {
        snprintf(err, errlen, "not an HTTP/1.x status line: %.60s", h->buf);
        return -1;
    }
    cl = header(h->buf, "Content-Length");
    clen = cl != NULL ? strtol(cl, NULL, 10) : -1;
    if (clen < 0 || (size_t)clen >= resp_cap) {
        snprintf(err, errlen, "HTTP answer without a usable Content-Length");
        return -1;
    }
    conn = header(h->buf, "Connection");
    blen = have - hlen; /* body bytes already read */
    if (blen > (size_t)clen) {
        snprintf(err, errlen, "more bytes than the HTTP answer's length");
        return -1;
    }
    memcpy(resp, h->buf + hlen, blen);
    while (blen < (size_t)clen) {
        ssize_t r = recv(h->fd, resp + blen, (size_t)clen - blen, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            snprintf(err, errlen, "reading the HTTP body: %s",
                     r == 0 ? "connection closed" : strerror(errno));
            return -1;
        }
        blen += (size_t)r;
    }
    resp[blen] = '\0';
    if (conn != NULL && strncasecmp(conn, "close", 5) == 0) {
        bench_http_close(h);
    }
    return status;
}

int bench_http_post(bench_http *h, const char *path, const char *body,
                    size_t len, char *resp, size_t resp_cap, char *err,
                    size_t errlen)
{
    char req[BENCH_HTTP_BUF];
    int n, attempt;

    n = snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 path, h->port, len);
    if (n < 0 || (size_t)n + len > sizeof req) {
        snprintf(err, errlen, "HTTP request over %u bytes", BENCH_HTTP_BUF);
        return -1;
    }
    memcpy(req + n, body, len);
    /* A kept-alive connection the server closed (its idle timeout) is
     * noticed at the first send or read after it: reopened once. */
    for (attempt = 0; attempt < 2; attempt++) {
        int st;
        if (h->fd < 0 && connect_fd(h, err, errlen) != 0) {
            return -1;
        }
        if (send_all(h->fd, req, (size_t)n + len) != 0) {
            bench_http_close(h);
            continue;
        }
        st = read_answer(h, resp, resp_cap, err, errlen);
        if (st != 0) {
            return st;
        }
        bench_http_close(h);
    }
    snprintf(err, errlen,
             "127.0.0.1:%d closed the connection twice without "
             "answering %s",
             h->port, path);
    return -1;
}

int bench_form_add(char *out, size_t cap, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(out);
    const char *parts[2] = {key, value};

    if (n > 0) {
        if (n + 1 >= cap) {
            return -1;
        }
        out[n++] = '&';
    }
    for (int k = 0; k < 2; k++) {
        const unsigned char *s = (const unsigned char *)parts[k];
        if (k == 1) {
            if (n + 1 >= cap) {
                return -1;
            }
            out[n++] = '=';
        }
        for (; *s != '\0'; s++) {
            int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                        (*s >= '0' && *s <= '9') || strchr("-_.~", *s) != NULL;
            if (n + (plain ? 1 : 3) >= cap) {
                return -1;
            }
            if (plain) {
                out[n++] = (char)*s;
            } else {
                out[n++] = '%';
                out[n++] = hex[*s >> 4];
                out[n++] = hex[*s & 0xfu];
            }
        }
    }
    out[n] = '\0';
    return 0;
}
