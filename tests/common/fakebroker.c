/*
 * fakebroker.c -- a broker answering QoS 2 with PUBACK, on a thread of the
 * test (see fakebroker.h). It reads MQTT packets well enough to answer
 * CONNECT, PUBLISH and PINGREQ; anything it does not follow ends the
 * connection.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakebroker.h"

static int listen_fd = -1;
static int port;
static pthread_t thread;
static atomic_int accepted;
static atomic_int stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static fb_pub pubs[FB_MAX_PUBS];
static int npubs, npubs_qos2;

/* Read exactly n bytes, waiting at most 200 ms at a time while not
 * stopped. 0, or -1 on EOF, error or stop. */
static int read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;

        if (atomic_load(&stop)) {
            return -1;
        }
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        r = read(fd, buf + got, n - got);
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void record(int qos, const unsigned char *payload, size_t len)
{
    pthread_mutex_lock(&mu);
    if (npubs < FB_MAX_PUBS) {
        size_t n =
            len < sizeof pubs[0].payload - 1 ? len : sizeof pubs[0].payload - 1;
        pubs[npubs].qos = qos;
        memcpy(pubs[npubs].payload, payload, n);
        pubs[npubs].payload[n] = '\0';
    }
    npubs++;
    npubs_qos2 += qos == 2;
    pthread_mutex_unlock(&mu);
}

/* Serve one connection: CONNACK, PUBACK for every QoS 1 and QoS 2 PUBLISH
 * (the latter is RabbitMQ's answer), PINGRESP; until EOF or stop. */
static void serve(int fd)
{
    unsigned char hdr, body[4096];

    for (;;) {
        size_t len = 0, mult = 1;
        unsigned char b;

        if (read_full(fd, &hdr, 1) != 0) {
            return;
        }
        do {
            if (read_full(fd, &b, 1) != 0 || mult > 128u * 128u * 128u) {
                return;
            }
            len += (b & 127u) * mult;
            mult *= 128;
        } while (b & 128u);
        if (len > sizeof body || read_full(fd, body, len) != 0) {
            return;
        }
        if (hdr >> 4 == 1) {
            static const unsigned char connack[] = {0x20, 2, 0, 0};
            (void)!write(fd, connack, sizeof connack);
        } else if (hdr >> 4 == 3 && len >= 2) {
            int qos = (hdr >> 1) & 3;
            size_t tl = ((size_t)body[0] << 8) | body[1];
            size_t off = 2 + tl + (qos > 0 ? 2 : 0);
            if (off > len) {
                return;
            }
            record(qos, body + off, len - off);
            if (qos > 0) {
                unsigned char puback[] = {0x40, 2, body[2 + tl], body[3 + tl]};
                (void)!write(fd, puback, sizeof puback);
            }
        } else if (hdr >> 4 == 12) {
            static const unsigned char pingresp[] = {0xd0, 0};
            (void)!write(fd, pingresp, sizeof pingresp);
        } else if (hdr >> 4 == 14) {
            return;
        }
    }
}

static void *broker_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        struct pollfd p = {listen_fd, POLLIN, 0};
        int fd;

        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        atomic_fetch_add(&accepted, 1);
        serve(fd);
        close(fd);
    }
    return NULL;
}

int fb_start(void)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) ||
        listen(listen_fd, 4) ||
        getsockname(listen_fd, (struct sockaddr *)&a, &alen)) {
        perror("fake broker");
        return -1;
    }
    port = ntohs(a.sin_port);
    if (pthread_create(&thread, NULL, broker_main, NULL) != 0) {
        fprintf(stderr, "fake broker: cannot start its thread\n");
        return -1;
    }
    return 0;
}

void fb_stop(void)
{
    atomic_store(&stop, 1);
    pthread_join(thread, NULL);
    close(listen_fd);
}

void fb_config(secmq_config *cfg, const char *client_id)
{
    secmq_config_init(cfg);
    cfg->host = "127.0.0.1";
    cfg->port = port;
    cfg->transport = SECMQ_TRANSPORT_PLAIN;
    cfg->client_id = client_id;
}

int fb_port(void)
{
    return port;
}

int fb_accepted(void)
{
    return atomic_load(&accepted);
}

int fb_pubs(void)
{
    int n;

    pthread_mutex_lock(&mu);
    n = npubs;
    pthread_mutex_unlock(&mu);
    return n;
}

int fb_pubs_qos2(void)
{
    int n;

    pthread_mutex_lock(&mu);
    n = npubs_qos2;
    pthread_mutex_unlock(&mu);
    return n;
}

int fb_pub_at(int i, fb_pub *out)
{
    int rc = -1;

    pthread_mutex_lock(&mu);
    if (i >= 0 && i < npubs && i < FB_MAX_PUBS) {
        *out = pubs[i];
        rc = 0;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}
