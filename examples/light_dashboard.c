/*
 * light_dashboard.c -- the switch of a light-switch pair (see
 * light_controller.c for the light).
 *
 * Sends one command, ON, OFF or TOGGLE, to home/light/control and waits
 * (5 s by default) for the state it produced on home/light/status, then
 * prints "light is ON" or "light is OFF".
 *
 * Shows: request/response over two topics, telling retained (old) status
 * from live status, and driving the network with secmq_client_loop().
 *
 * Why the retained flag matters: the status is retained, so subscribing
 * delivers the state from before our command (if there is one), with the
 * retain flag set. The broker sets the flag only on messages delivered
 * because of a new subscription, never on messages routed to an existing
 * one (MQTT 3.1.1 section 3.3.1.3), so the answer to our command is the
 * first live (retain 0) ON/OFF after it:
 *  - ON and OFF: wait for a live status equal to the command. The controller
 *    answers every command, so "ON" comes back even if the light was on.
 *  - TOGGLE: the result is the opposite of the state before the command, the
 *    retained one (or a live one that arrived before we sent the command).
 *    The broker queues the retained status as we subscribe, before it can
 *    route our command, so that state is always known before the answer
 *    comes. With no state known (nothing retained, or OFFLINE), the first
 *    live ON/OFF after the command is taken as the result.
 * The command is sent only once the broker acknowledged the subscription,
 * so the answer cannot slip past us. Commands carry no request id, so two
 * dashboards commanding at the same moment may each see the other's answer.
 *
 * Run, with a controller and a broker on localhost:8883 (CA in ca.crt):
 *   secmq-example-light-dashboard --cafile ca.crt [--timeout-ms 5000] TOGGLE
 * Exit codes: 0 the state was seen, 1 no answer in time (or the link or the
 * subscription failed), 2 bad usage, 3 could not connect.
 */
#include <stdio.h>
#include <string.h>

#include <secmq.h>

#include "example_conn.h"

#define PROG "secmq-example-light-dashboard"
#define CONTROL_TOPIC "home/light/control"
#define STATUS_TOPIC "home/light/status"
#define DEFAULT_TIMEOUT_MS 5000

/* What we know, and how long to wait for it; only main() and the callbacks,
 * which run on the main thread, touch it. */
typedef struct dashboard {
    const char *command;  /* "ON", "OFF" or "TOGGLE" */
    const char *expected; /* the state the command leads to; NULL = any */
    int subscribed;       /* 0 waiting for SUBACK, 1 granted, -1 refused */
    int sent;             /* the command is published */
    char before[16];      /* last status seen before the command, or "" */
    char result[16];      /* the state the command produced, or "" */
    long timeout_ms;      /* --timeout-ms */
} dashboard;

/* Copy a status payload into out as a string; "" if it does not fit. */
static void status_text(const secmq_message *msg, char *out, size_t size)
{
    out[0] = '\0';
    if (msg->payloadlen < size) {
        memcpy(out, msg->payload, msg->payloadlen);
        out[msg->payloadlen] = '\0';
    }
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    dashboard *d = user;
    int rc;

    (void)mid;
    if (count < 1 || granted[0] == 0x80) {
        d->subscribed = -1;
        return;
    }
    d->subscribed = 1;
    /* A command is an event: never retained. */
    rc = secmq_client_publish(c, NULL, CONTROL_TOPIC, d->command,
                              strlen(d->command), 1, 0);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot send %s: %s\n", PROG, d->command,
                secmq_strerror(rc));
        d->subscribed = -1;
        return;
    }
    d->sent = 1;
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    dashboard *d = user;
    char state[sizeof(d->before)];

    (void)c;
    status_text(msg, state, sizeof(state));

    if (msg->retain || !d->sent) {
        /* The state before our command: TOGGLE will lead to its opposite.
         * An unknown state (OFFLINE) lets any ON/OFF answer count. */
        memcpy(d->before, state, sizeof(d->before));
        if (strcmp(d->command, "TOGGLE") == 0) {
            d->expected = NULL;
            if (strcmp(state, "ON") == 0) {
                d->expected = "OFF";
            } else if (strcmp(state, "OFF") == 0) {
                d->expected = "ON";
            }
        }
        return;
    }
    if (strcmp(state, "ON") != 0 && strcmp(state, "OFF") != 0) {
        return; /* e.g. OFFLINE: the controller went away; keep waiting */
    }
    if (d->expected == NULL || strcmp(state, d->expected) == 0) {
        memcpy(d->result, state, sizeof(d->result));
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] ON|OFF|TOGGLE\n"
            "Sends the command to %s and prints the light's new state\n"
            "from %s.\n"
            "options:\n" EXAMPLE_CONN_USAGE
            "  --timeout-ms N wait at most N ms for the new state "
            "(default %d)\n"
            "  --help         show this help\n",
            PROG, CONTROL_TOPIC, STATUS_TOPIC, DEFAULT_TIMEOUT_MS);
}

/* --timeout-ms N and the command, the arguments of our own (see
 * example_arg_fn); anything else is unexpected. */
static int own_option(void *user, int argc, char **argv, int *i)
{
    dashboard *d = user;
    const char *arg = argv[*i];
    int used;

    used = example_arg_long(PROG, "--timeout-ms", 1, 3600000, &d->timeout_ms,
                            argc, argv, i);
    if (used != 0) {
        return used;
    }
    if (d->command == NULL &&
        (strcmp(arg, "ON") == 0 || strcmp(arg, "OFF") == 0 ||
         strcmp(arg, "TOGGLE") == 0)) {
        d->command = arg;
        return 1;
    }
    fprintf(stderr, "%s: unexpected argument '%s'\n", PROG, arg);
    usage(stderr);
    return -1;
}

int main(int argc, char **argv)
{
    example_conn opt;
    secmq_config cfg;
    secmq_client *c = NULL;
    dashboard d;
    long long deadline;
    int rc;
    int status = EXAMPLE_EXIT_FAILURE;

    memset(&d, 0, sizeof(d));
    d.timeout_ms = DEFAULT_TIMEOUT_MS;
    rc = example_parse_args(&opt, PROG, argc, argv, usage, own_option, &d);
    if (rc != EXAMPLE_CONTINUE) {
        return rc;
    }
    if (d.command == NULL) {
        fprintf(stderr, "%s: say ON, OFF or TOGGLE\n", PROG);
        usage(stderr);
        return EXAMPLE_EXIT_USAGE;
    }
    if (strcmp(d.command, "TOGGLE") != 0) {
        d.expected = d.command;
    }
    if (example_conn_finish(&opt, PROG) != 0) {
        return EXAMPLE_EXIT_USAGE;
    }

    example_conn_config(&opt, &cfg);
    rc = secmq_client_new(&c, &cfg, &d);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot create the client: %s\n", PROG,
                secmq_strerror(rc));
        return EXAMPLE_EXIT_CONNECT;
    }
    secmq_client_on_subscribe(c, on_subscribe);
    secmq_client_on_message(c, on_message);

    if (example_connect(c, &opt, PROG, (int)d.timeout_ms) != SECMQ_OK) {
        status = EXAMPLE_EXIT_CONNECT;
        goto out;
    }
    rc = secmq_client_subscribe(c, NULL, STATUS_TOPIC, 1);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot subscribe to %s: %s\n", PROG, STATUS_TOPIC,
                secmq_strerror(rc));
        goto out;
    }

    /* No loop thread here: each secmq_client_loop() call handles the
     * traffic that arrived and runs our callbacks on this thread. */
    deadline = example_now_ms() + d.timeout_ms;
    while (d.result[0] == '\0' && d.subscribed >= 0) {
        long long left = deadline - example_now_ms();

        if (left <= 0) {
            break;
        }
        rc = secmq_client_loop(c, left < 100 ? (int)left : 100);
        if (rc != SECMQ_OK) {
            fprintf(stderr, "%s: lost the broker: %s\n", PROG,
                    secmq_strerror(rc));
            goto out;
        }
    }

    if (d.result[0] != '\0') {
        printf("light is %s\n", d.result);
        fflush(stdout);
        status = EXAMPLE_EXIT_OK;
    } else if (d.subscribed < 0) {
        fprintf(stderr, "%s: could not subscribe to %s or send %s\n", PROG,
                STATUS_TOPIC, d.command);
    } else {
        fprintf(stderr,
                "%s: timeout: no new state after %s within %ld ms "
                "(status before: %s); is the light controller running?\n",
                PROG, d.command, d.timeout_ms,
                d.before[0] != '\0' ? d.before : "none");
    }
    (void)secmq_client_disconnect(c);

out:
    secmq_client_free(c);
    example_keyring_free(); /* after the client that used it */
    return status;
}
