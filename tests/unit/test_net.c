/*
 * test_net.c -- unit tests for net.c and the client's argument and state
 * checks, through the public API with no broker: a refused TCP connection
 * on 127.0.0.1 (TLS and plain transport), and the calls that must fail
 * before any connection exists. Nothing here leaves the loopback interface.
 *
 * Usage: unit_net CAFILE   (any CA certificate: TLS settings are loaded
 * before the TCP connect, but the handshake is never reached)
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <secmq.h>

#include "check.h"

/* A refused connect on loopback takes microseconds; allow for slow CI. */
#define QUICK_MS 2000

static const char *cafile;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A 127.0.0.1 port that was free a moment ago and has no listener now:
 * bound to port 0 (the kernel picks), then closed. 0 on failure. */
static int closed_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;

    if (fd < 0) {
        return 0;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    close(fd);
    return port;
}

static void refused(secmq_transport transport)
{
    secmq_config cfg;
    secmq_client *c = NULL;
    char msg[SECMQ_ERRMSG_BYTES], want[32];
    int port = closed_port();
    int64_t t0, took;
    int rc;

    CHECK(port > 0);
    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.transport = transport;
    cfg.tls.cafile = cafile;
    cfg.connect_timeout_ms = 5000;
    CHECK_INT_EQ(secmq_client_new(&c, &cfg, NULL), SECMQ_OK);
    t0 = now_ms();
    rc = secmq_client_connect(c);
    took = now_ms() - t0;
    secmq_client_errmsg(c, msg, sizeof msg);
    fprintf(stderr, "   %s, port %d: rc %d (%s) in %lld ms: %s\n",
            transport == SECMQ_TRANSPORT_TLS ? "TLS" : "plain", port, rc,
            secmq_strerror(rc), (long long)took, msg);
    CHECKF(rc == SECMQ_E_CONN_REFUSED,
           "connect returned %d (%s), detail \"%s\"", rc, secmq_strerror(rc),
           msg);
    CHECKF(took < QUICK_MS, "a refused connect took %lld ms", (long long)took);
    snprintf(want, sizeof want, "port %d", port);
    CHECK_CONTAINS(msg, want, 0);
    /* A failed connect leaves the client idle: trying again is allowed and
     * fails the same way (not SECMQ_E_STATE). */
    rc = secmq_client_connect(c);
    CHECKF(rc == SECMQ_E_CONN_REFUSED, "second connect returned %d (%s)", rc,
           secmq_strerror(rc));
    secmq_client_free(c);
}

static void test_refused_tls(void)
{
    refused(SECMQ_TRANSPORT_TLS);
}

static void test_refused_plain(void)
{
    refused(SECMQ_TRANSPORT_PLAIN);
}

/* A client that was created and never connected. */
static secmq_client *fresh(secmq_transport transport)
{
    secmq_config cfg;
    secmq_client *c = NULL;

    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.transport = transport;
    cfg.tls.cafile = cafile;
    if (secmq_client_new(&c, &cfg, NULL) != SECMQ_OK) {
        return NULL;
    }
    return c;
}

static void test_publish_args(void)
{
    secmq_client *c = fresh(SECMQ_TRANSPORT_TLS);
    int mid = -12345;

    CHECK(c != NULL);
    CHECK_INT_EQ(secmq_client_publish(c, &mid, NULL, "x", 1, 0, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_publish(c, &mid, "a/b", "x", 1, 3, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_publish(c, &mid, "a/b", "x", 1, -1, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_publish(c, &mid, "a/b", NULL, 1, 0, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_publish(c, &mid, "a/+", "x", 1, 0, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_publish(c, &mid, "a/#", "x", 1, 1, 0),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_publish(NULL, &mid, "a/b", "x", 1, 0, 0),
                 SECMQ_E_INVAL);
    /* Valid arguments at QoS 0 while not connected. */
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "a/b", "x", 1, 0, 0),
                 SECMQ_E_NO_CONN);
    secmq_client_free(c);
}

static void test_subscribe_args(void)
{
    secmq_client *c = fresh(SECMQ_TRANSPORT_TLS);

    CHECK(c != NULL);
    CHECK_INT_EQ(secmq_client_subscribe(c, NULL, NULL, 0), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_subscribe(c, NULL, "a/#", 3), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_subscribe(c, NULL, "a/#", -1), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_subscribe(NULL, NULL, "a/#", 0), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_unsubscribe(c, NULL, NULL), SECMQ_E_INVAL);
    /* Valid arguments while not connected. */
    CHECK_INT_EQ(secmq_client_subscribe(c, NULL, "a/#", 1), SECMQ_E_NO_CONN);
    CHECK_INT_EQ(secmq_client_unsubscribe(c, NULL, "a/#"), SECMQ_E_NO_CONN);
    secmq_client_free(c);
}

static void test_wait_connected_never_connected(void)
{
    secmq_client *c = fresh(SECMQ_TRANSPORT_TLS);
    int64_t t0;

    CHECK(c != NULL);
    t0 = now_ms();
    CHECK_INT_EQ(secmq_client_wait_connected(c, 3000), SECMQ_E_STATE);
    /* It must not have waited for the timeout. */
    CHECK(now_ms() - t0 < 1000);
    secmq_client_free(c);
}

static void test_loop_stop_without_start(void)
{
    secmq_client *c = fresh(SECMQ_TRANSPORT_PLAIN);

    CHECK(c != NULL);
    CHECK_INT_EQ(secmq_client_loop_stop(c, 0), SECMQ_E_STATE);
    CHECK_INT_EQ(secmq_client_loop_stop(c, 1), SECMQ_E_STATE);
    secmq_client_free(c);
}

static void test_disconnect_never_connected(void)
{
    secmq_client *c = fresh(SECMQ_TRANSPORT_TLS);

    CHECK(c != NULL);
    CHECK_INT_EQ(secmq_client_disconnect(c), SECMQ_E_NO_CONN);
    secmq_client_free(c);
}

/* Session expiry: MQTT 5 clients only, before connecting. */
static void test_session_expiry_args(void)
{
    secmq_config cfg;
    secmq_client *c = fresh(SECMQ_TRANSPORT_PLAIN);

    CHECK(c != NULL);
    CHECK_INT_EQ(secmq_client_set_session_expiry(NULL, 5), SECMQ_E_INVAL);
    /* MQTT 3.1.1 (the default) has no session expiry. */
    CHECK_INT_EQ(secmq_client_set_session_expiry(c, 5), SECMQ_E_INVAL);
    secmq_client_free(c);
    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.transport = SECMQ_TRANSPORT_PLAIN;
    cfg.protocol = SECMQ_MQTT_5;
    c = NULL;
    CHECK_INT_EQ(secmq_client_new(&c, &cfg, NULL), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_set_session_expiry(c, 0), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_set_session_expiry(c, SECMQ_SESSION_EXPIRY_NEVER),
                 SECMQ_OK);
    secmq_client_free(c);
}

/* Receipt batching: values in range, before connecting; stats of a client
 * that sent nothing, also into an older, shorter struct. */
static void test_receipts_args(void)
{
    secmq_client *c = fresh(SECMQ_TRANSPORT_PLAIN);
    secmq_receipt_stats st;
    uint64_t first[2] = {7, 7};

    CHECK(c != NULL);
    CHECK_INT_EQ(secmq_client_set_receipts(NULL, 0, 0), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_set_receipts(c, 65536, 0), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_set_receipts(c, 0, 60001), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_set_receipts(c, 0, 0), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_set_receipts(c, 65535, 60000), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_receipt_stats(NULL, &st, sizeof st),
                 SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_receipt_stats(c, NULL, sizeof st), SECMQ_E_INVAL);
    CHECK_INT_EQ(secmq_client_receipt_stats(c, &st, 0), SECMQ_E_INVAL);
    memset(&st, 0xff, sizeof st);
    CHECK_INT_EQ(secmq_client_receipt_stats(c, &st, sizeof st), SECMQ_OK);
    CHECK(st.sent == 0 && st.acked == 0 && st.ranges == 0 && st.messages == 0 &&
          st.failed == 0 && st.pending == 0);
    /* Only the size given is written. */
    CHECK_INT_EQ(secmq_client_receipt_stats(c, (secmq_receipt_stats *)first,
                                            sizeof first[0]),
                 SECMQ_OK);
    CHECK(first[0] == 0 && first[1] == 7);
    secmq_client_free(c);
}

static void test_free_null(void)
{
    secmq_client_free(NULL);
    CHECK(1); /* reaching this line is the test */
}

static void test_tls_info(void)
{
    secmq_client *plain = fresh(SECMQ_TRANSPORT_PLAIN);
    secmq_client *tls = fresh(SECMQ_TRANSPORT_TLS);
    secmq_tls_info info;

    CHECK(plain != NULL);
    CHECK(tls != NULL);
    memset(&info, 'x', sizeof info);
    CHECK_INT_EQ(secmq_client_tls_info(plain, &info), SECMQ_E_STATE);
    /* The TLS client has no session yet. */
    CHECK_INT_EQ(secmq_client_tls_info(tls, &info), SECMQ_E_NO_CONN);
    CHECK_INT_EQ(secmq_client_tls_info(tls, NULL), SECMQ_E_INVAL);
    secmq_client_free(plain);
    secmq_client_free(tls);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CAFILE\n", argv[0]);
        return 2;
    }
    cafile = argv[1];
    RUN(test_refused_tls);
    RUN(test_refused_plain);
    RUN(test_publish_args);
    RUN(test_subscribe_args);
    RUN(test_wait_connected_never_connected);
    RUN(test_loop_stop_without_start);
    RUN(test_disconnect_never_connected);
    RUN(test_session_expiry_args);
    RUN(test_receipts_args);
    RUN(test_free_null);
    RUN(test_tls_info);
    return check_exit();
}
