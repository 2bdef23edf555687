/*
 * sensor_monitor.c -- prints the readings of every temperature sensor.
 *
 * One wildcard subscription, appiot/+ at QoS 1, receives every room's
 * sensor (see sensor.c); each reading is printed as "<room> <value>", e.g.
 * "kitchen 21.5", the room taken from the topic's last level.
 *
 * Shows: a single-level wildcard subscription, subscribing in on_connect so
 * it survives reconnects, and secmq_client_loop_forever() ended from a
 * callback with secmq_client_disconnect().
 *
 * Run, with a broker on localhost:8883 whose certificate ca.crt signed:
 *   secmq-example-sensor-monitor --cafile ca.crt [--count N]
 * Once subscribed it prints "... subscribed to appiot/+" on stderr; start
 * sensors after that, since readings are not retained. Exit codes: 0 after
 * --count readings, 1 the subscription was refused, 2 bad usage, 3 could not
 * connect. Without --count (or with 0) it runs until killed.
 */
#include <stdio.h>
#include <string.h>

#include <secmq.h>

#include "example_conn.h"

#define PROG "secmq-example-sensor-monitor"
#define TOPIC_PREFIX "appiot/"
#define FILTER TOPIC_PREFIX "+"
#define CONNECT_TIMEOUT_MS 10000

/* Only callbacks, on the thread in secmq_client_loop_forever(), touch it. */
typedef struct monitor {
    long count; /* readings to print before exiting; 0 = no limit */
    long seen;
    int refused;
} monitor;

static void on_connect(secmq_client *c, void *user, int rc, int reason,
                       int session_present)
{
    (void)user;
    (void)reason;
    (void)session_present;
    if (rc != SECMQ_OK) {
        return; /* a refused login; example_connect() reports it */
    }
    /* The broker forgets a clean session's subscriptions when the link
     * drops: subscribing here renews it after every reconnect. */
    rc = secmq_client_subscribe(c, NULL, FILTER, 1);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot subscribe to %s: %s\n", PROG, FILTER,
                secmq_strerror(rc));
    }
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    monitor *m = user;

    (void)mid;
    if (count < 1 || granted[0] == 0x80) {
        fprintf(stderr, "%s: the broker refused the subscription to %s\n", PROG,
                FILTER);
        m->refused = 1;
        (void)secmq_client_disconnect(c);
        return;
    }
    fprintf(stderr, "%s: subscribed to %s\n", PROG, FILTER);
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    monitor *m = user;
    size_t prefix = strlen(TOPIC_PREFIX);
    const char *room;

    /* "appiot/+" matches exactly one level after the prefix. */
    if (strncmp(msg->topic, TOPIC_PREFIX, prefix) != 0) {
        return;
    }
    room = msg->topic + prefix;
    example_print_safe(stdout, room, strlen(room), 64);
    putchar(' ');
    example_print_safe(stdout, msg->payload, msg->payloadlen, 32);
    putchar('\n');
    fflush(stdout);

    m->seen++;
    if (m->count > 0 && m->seen == m->count) {
        (void)secmq_client_disconnect(c); /* ends loop_forever() */
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [--count N]\n"
            "Prints \"<room> <value>\" for every reading on %s.\n"
            "options:\n" EXAMPLE_CONN_USAGE
            "  --count N      exit after N readings (default 0 = never)\n"
            "  --help         show this help\n",
            PROG, FILTER);
}

/* --count N, the one option of our own (see example_arg_fn). */
static int own_option(void *user, int argc, char **argv, int *i)
{
    monitor *m = user;

    return example_arg_long(PROG, "--count", 0, 1000000000L, &m->count, argc,
                            argv, i);
}

int main(int argc, char **argv)
{
    example_conn opt;
    secmq_config cfg;
    secmq_client *c = NULL;
    monitor m = {0, 0, 0};
    int rc;
    int status = EXAMPLE_EXIT_FAILURE;

    rc = example_parse_args(&opt, PROG, argc, argv, usage, own_option, &m);
    if (rc != EXAMPLE_CONTINUE) {
        return rc;
    }
    if (example_conn_finish(&opt, PROG) != 0) {
        return EXAMPLE_EXIT_USAGE;
    }

    example_conn_config(&opt, &cfg);
    rc = secmq_client_new(&c, &cfg, &m);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot create the client: %s\n", PROG,
                secmq_strerror(rc));
        return EXAMPLE_EXIT_CONNECT;
    }
    secmq_client_on_connect(c, on_connect);
    secmq_client_on_subscribe(c, on_subscribe);
    secmq_client_on_message(c, on_message);

    if (example_connect(c, &opt, PROG, CONNECT_TIMEOUT_MS) != SECMQ_OK) {
        status = EXAMPLE_EXIT_CONNECT;
        goto out;
    }
    /* Runs the network on this thread, reconnecting after a broken link,
     * until a callback calls secmq_client_disconnect(). */
    rc = secmq_client_loop_forever(c);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: network loop failed: %s\n", PROG,
                secmq_strerror(rc));
    } else if (!m.refused) {
        status = EXAMPLE_EXIT_OK;
    }

out:
    secmq_client_free(c);
    example_keyring_free(); /* after the client that used it */
    return status;
}
