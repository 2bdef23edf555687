/*
 * net.c -- TCP connections to the broker, bounded in time.
 *
 * Resolves the broker's name, connects to each address in turn with a
 * non-blocking connect and a shared deadline, and hands back a non-blocking
 * socket with TCP_NODELAY (small MQTT packets must not wait for Nagle).
 * TLS is not this file's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"

int64_t secmq__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int secmq__net_wait(int fd, short events, int64_t deadline_ms)
{
    for (int tries = 0; tries < 1000; tries++) {
        struct pollfd p = {.fd = fd, .events = events, .revents = 0};
        int64_t left = deadline_ms - secmq__now_ms();
        int n;

        if (left <= 0) {
            return SECMQ_E_TIMEOUT;
        }
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0) {
            return SECMQ_OK;
        }
        if (n < 0 && errno != EINTR) {
            return SECMQ_E_IO;
        }
    }
    return SECMQ_E_TIMEOUT;
}

/* Connect one address; returns an fd or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ms)
{
    int fd, soerr = 0, one = 1, rc;
    socklen_t len = sizeof soerr;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        goto err;
    }
    rc = secmq__net_wait(fd, POLLOUT, deadline_ms);
    if (rc == SECMQ_E_TIMEOUT) {
        errno = ETIMEDOUT;
        goto err;
    }
    if (rc != SECMQ_OK ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
        goto err;
    }
    if (soerr != 0) {
        errno = soerr;
        goto err;
    }
    return fd;
err:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

int secmq__net_connect(const char *host, int port, int64_t deadline_ms,
                       int *fd_out, secmq__err *err)
{
    struct addrinfo hints, *res = NULL;
    char service[16];
    int gai, fd = -1, last_errno = ECONNREFUSED;

    *fd_out = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    snprintf(service, sizeof service, "%d", port);
    gai = getaddrinfo(host, service, &hints, &res);
    if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME) {
        /* AI_ADDRCONFIG hides ::1 on hosts with only loopback IPv6. */
        hints.ai_flags = 0;
        gai = getaddrinfo(host, service, &hints, &res);
    }
    if (gai != 0) {
        return secmq__err_set(err, SECMQ_E_DNS, "cannot resolve '%s': %s", host,
                              gai_strerror(gai));
    }
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = connect_one(ai, deadline_ms);
        if (fd >= 0) {
            break;
        }
        last_errno = errno;
        if (last_errno == ETIMEDOUT) {
            break;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        *fd_out = fd;
        return SECMQ_OK;
    }
    if (last_errno == ETIMEDOUT) {
        return secmq__err_set(err, SECMQ_E_TIMEOUT,
                              "connect to %s port %d timed out", host, port);
    }
    if (last_errno == ECONNREFUSED || last_errno == EHOSTUNREACH ||
        last_errno == ENETUNREACH) {
        return secmq__err_set(err, SECMQ_E_CONN_REFUSED,
                              "connect to %s port %d: %s", host, port,
                              strerror(last_errno));
    }
    return secmq__err_set(err, SECMQ_E_IO, "connect to %s port %d: %s", host,
                          port, strerror(last_errno));
}
