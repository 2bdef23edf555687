/*
 * test_client_qos2_refused.c -- libsecmq against a broker that answers a
 * QoS 2 PUBLISH with PUBACK, as RabbitMQ does: the client reports
 * SECMQ_E_QOS_UNSUPPORTED with a message naming the cause and the fix,
 * does not reconnect, and refuses later QoS 2 publishes at once; a QoS 1
 * PUBACK from the same broker is an ordinary success. The broker is a
 * minimal MQTT 3.1.1 responder on a thread of this process (plain TCP on
 * 127.0.0.1), so no RabbitMQ is needed; test_cluster_rabbitmq.py checks
 * the real one through secmq-pub.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#define WHY                                                                    \
    "the broker answered QoS 2 with PUBACK (RabbitMQ does not support QoS "    \
    "2); publish at QoS 1"

static int listen_fd = -1;
static int port;
static atomic_int accepted; /* connections the fake broker accepted */
static atomic_int stop;

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
        } else if (hdr >> 4 == 3 && ((hdr >> 1) & 3) > 0 && len >= 4) {
            size_t tl = ((size_t)body[0] << 8) | body[1];
            if (tl + 4 <= len) {
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

static int broker_start(pthread_t *th)
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
    return pthread_create(th, NULL, broker_main, NULL) == 0 ? 0 : -1;
}

static int connect_client(tu_client *t, const char *prefix)
{
    secmq_config cfg;
    int rc;

    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.transport = SECMQ_TRANSPORT_PLAIN;
    cfg.client_id = tu_id(prefix);
    rc = tu_client_new(t, &cfg);
    return rc == SECMQ_OK ? tu_connect(t, TU_WAIT_MS) : rc;
}

/* A PUBACK for a QoS 1 message is what it always was. */
static void test_qos1_puback_is_success(void)
{
    tu_client t;
    int mid = 0;

    CHECK_INT_EQ(connect_client(&t, "qos1"), SECMQ_OK);
    CHECK_INT_EQ(
        secmq_client_publish(t.c, &mid, "room/1/temp", "21.5", 4, 1, 0),
        SECMQ_OK);
    CHECK_INT_EQ(tu_wait_published(&t, 1, TU_WAIT_MS), 0);
    CHECK_INT_EQ(t.publish_errors, 0);
    CHECK_INT_EQ(tu_disconnects(&t), 0);
    tu_client_free(&t);
}

/* A PUBACK for a QoS 2 message: SECMQ_E_QOS_UNSUPPORTED, no reconnect,
 * later QoS 2 publishes refused with the same reason. */
static void test_qos2_puback_refused(void)
{
    char msg[SECMQ_ERRMSG_BYTES];
    tu_client t;
    int before, mid = 0;
    long long t0;

    CHECK_INT_EQ(connect_client(&t, "qos2"), SECMQ_OK);
    before = atomic_load(&accepted);
    t0 = tu_now_ms();
    CHECK_INT_EQ(
        secmq_client_publish(t.c, &mid, "room/1/temp", "21.5", 4, 2, 0),
        SECMQ_OK);
    CHECK_INT_EQ(tu_wait_disconnects(&t, 1, TU_WAIT_MS), 0);
    fprintf(stderr, "QoS 2 refusal reported after %lld ms\n", tu_now_ms() - t0);
    CHECK_INT_EQ(t.disconnect_rc, SECMQ_E_QOS_UNSUPPORTED);
    secmq_client_errmsg(t.c, msg, sizeof msg);
    CHECK_STR_EQ(msg, WHY);
    CHECK_INT_EQ(tu_published(&t), 0);
    CHECK_INT_EQ(secmq_client_publish(t.c, &mid, "room/1/temp", "x", 1, 2, 0),
                 SECMQ_E_QOS_UNSUPPORTED);
    secmq_client_errmsg(t.c, msg, sizeof msg);
    CHECKF(check_contains(msg, WHY, 0), "errmsg: %s", msg);
    /* reconnect_min_s is 1: a reconnect would have come by now. */
    tu_sleep_ms(2500);
    CHECK_INT_EQ(atomic_load(&accepted), before);
    CHECK_INT_EQ(tu_connects(&t), 1);
    tu_client_free(&t);
}

int main(void)
{
    pthread_t th;

    if (secmq_init() != SECMQ_OK || broker_start(&th) != 0) {
        return 1;
    }
    RUN(test_qos1_puback_is_success);
    RUN(test_qos2_puback_refused);
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    close(listen_fd);
    return check_exit();
}
