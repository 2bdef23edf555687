/*
 * sensor.c -- a simulated temperature sensor for one room.
 *
 * Publishes a reading every --interval-ms on appiot/<room> at QoS 1, the
 * payload being degrees Celsius with one decimal, e.g. "21.5". The values
 * wander slowly around a base that depends on the room name.
 *
 * Shows: publishing from the main thread while the library's loop thread
 * runs the network (and reconnects: QoS 1 messages published meanwhile are
 * queued and sent after the reconnect), and waiting for the last PUBACK
 * before exiting so no reading is lost.
 *
 * Run, with a broker on localhost:8883 whose certificate ca.crt signed:
 *   secmq-example-sensor --cafile ca.crt --room kitchen --count 10
 *   secmq-example-sensor-monitor --cafile ca.crt        (another shell)
 * Each reading is also printed on stdout as "<room> <value>". Exit codes:
 * 0 all readings published (and acknowledged, within 10 s of the last),
 * 1 a publish failed or was not acknowledged, 2 bad usage, 3 could not
 * connect. With --count 0 (the default) it runs until killed.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <secmq.h>

#include "example_conn.h"

#define PROG "secmq-example-sensor"
#define TOPIC_PREFIX "appiot/"
#define ROOM_MAX 64
#define CONNECT_TIMEOUT_MS 10000
#define ACK_TIMEOUT_MS 10000

/* What to publish, from the command line. */
typedef struct sensor_args {
    const char *room;
    long count;       /* readings; 0 = until killed */
    long interval_ms; /* between readings */
} sensor_args;

/* Published messages the broker acknowledged; written by the loop thread. */
static atomic_long acked;

static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    (void)c;
    (void)user;
    (void)mid;
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: the broker refused a reading: %s\n", PROG,
                secmq_strerror(rc));
        return;
    }
    atomic_fetch_add(&acked, 1);
}

/* A room is one topic level: no '/', and no wildcard characters. */
static int room_ok(const char *room)
{
    size_t n = strlen(room);

    return n > 0 && n <= ROOM_MAX && strpbrk(room, "/+#") == NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted by a signal: sleep the rest */
    }
}

/* The next simulated reading: a small random step, kept near base. */
static double next_reading(double now, double base)
{
    double step = (double)(rand() % 7 - 3) / 10.0; /* -0.3 .. +0.3 */
    double next = now + step;

    if (next < base - 3.0 || next > base + 3.0) {
        next = now - step;
    }
    return next;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [--room NAME] [--count N] "
            "[--interval-ms MS]\n"
            "Publishes simulated temperatures on %s<NAME> at QoS 1.\n"
            "options:\n" EXAMPLE_CONN_USAGE
            "  --room NAME    room, one topic level (default kitchen)\n"
            "  --count N      readings to publish, 0 = until killed "
            "(default 0)\n"
            "  --interval-ms MS  time between readings (default 1000)\n"
            "  --help         show this help\n",
            PROG, TOPIC_PREFIX);
}

/* --room, --count and --interval-ms, the options of our own (see
 * example_arg_fn). */
static int own_option(void *user, int argc, char **argv, int *i)
{
    sensor_args *args = user;
    const char *name = argv[*i];
    int bad = 0;

    if (strcmp(name, "--room") != 0 && strcmp(name, "--count") != 0 &&
        strcmp(name, "--interval-ms") != 0) {
        return 0;
    }
    if (++*i == argc) {
        bad = 1;
    } else if (strcmp(name, "--room") == 0) {
        args->room = argv[*i];
        bad = !room_ok(args->room);
    } else if (strcmp(name, "--count") == 0) {
        bad = example_parse_long(argv[*i], 0, 1000000000L, &args->count) != 0;
    } else {
        bad =
            example_parse_long(argv[*i], 0, 86400000L, &args->interval_ms) != 0;
    }
    if (bad) {
        fprintf(stderr, "%s: %s needs a valid value (see --help)\n", PROG,
                name);
        return -1;
    }
    return 1;
}

int main(int argc, char **argv)
{
    example_conn opt;
    secmq_config cfg;
    secmq_client *c = NULL;
    sensor_args args = {"kitchen", 0, 1000};
    char topic[sizeof(TOPIC_PREFIX) + ROOM_MAX];
    long sent = 0;
    unsigned room_sum = 0;
    double base;
    double reading;
    long long deadline;
    int rc;
    int status = EXAMPLE_EXIT_FAILURE;

    rc = example_parse_args(&opt, PROG, argc, argv, usage, own_option, &args);
    if (rc != EXAMPLE_CONTINUE) {
        return rc;
    }
    if (example_conn_finish(&opt, PROG) != 0) {
        return EXAMPLE_EXIT_USAGE;
    }
    snprintf(topic, sizeof(topic), "%s%s", TOPIC_PREFIX, args.room);

    /* Each room gets its own base temperature, 18.0 .. 23.9 degrees. */
    for (const char *p = args.room; *p != '\0'; p++) {
        room_sum += (unsigned char)*p;
    }
    base = 18.0 + (double)(room_sum % 60) / 10.0;
    reading = base;
    srand((unsigned)time(NULL));

    example_conn_config(&opt, &cfg);
    rc = secmq_client_new(&c, &cfg, NULL);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot create the client: %s\n", PROG,
                secmq_strerror(rc));
        return EXAMPLE_EXIT_CONNECT;
    }
    secmq_client_on_publish(c, on_publish);
    if (example_connect(c, &opt, PROG, CONNECT_TIMEOUT_MS) != SECMQ_OK) {
        status = EXAMPLE_EXIT_CONNECT;
        goto out;
    }
    rc = secmq_client_loop_start(c);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot start the network loop: %s\n", PROG,
                secmq_strerror(rc));
        goto out;
    }

    while (args.count == 0 || sent < args.count) {
        char payload[32];
        int len;

        if (sent > 0) {
            sleep_ms(args.interval_ms);
            reading = next_reading(reading, base);
        }
        len = snprintf(payload, sizeof(payload), "%.1f", reading);
        rc = secmq_client_publish(c, NULL, topic, payload, (size_t)len, 1, 0);
        if (rc != SECMQ_OK) {
            fprintf(stderr, "%s: cannot publish on %s: %s\n", PROG, topic,
                    secmq_strerror(rc));
            goto stop;
        }
        sent++;
        printf("%s %s\n", args.room, payload);
        fflush(stdout);
    }

    /* QoS 1 messages still waiting for their PUBACK would die with the
     * process, so wait (bounded) until the broker has them all. */
    deadline = example_now_ms() + ACK_TIMEOUT_MS;
    while (atomic_load(&acked) < sent && example_now_ms() < deadline) {
        sleep_ms(10);
    }
    if (atomic_load(&acked) < sent) {
        fprintf(stderr, "%s: %ld of %ld readings not acknowledged\n", PROG,
                sent - atomic_load(&acked), sent);
    } else {
        status = EXAMPLE_EXIT_OK;
    }

stop:
    (void)secmq_client_disconnect(c);
    (void)secmq_client_loop_stop(c, 0);
out:
    secmq_client_free(c);
    example_keyring_free(); /* after the client that used it */
    return status;
}
