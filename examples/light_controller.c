/*
 * light_controller.c -- the light of a light-switch pair (see
 * light_dashboard.c for the switch).
 *
 * The light starts OFF and obeys ON, OFF and TOGGLE sent to
 * home/light/control (QoS 1). It answers every command, even one that
 * changes nothing, by publishing its new state, "ON" or "OFF", retained at
 * QoS 1 on home/light/status, and it publishes its state once when it
 * connects. Its last will puts "OFFLINE" (retained) on the status topic if
 * it vanishes; on SIGINT/SIGTERM it says OFFLINE itself, since a clean
 * disconnect suppresses the will.
 *
 * Shows: a last will, retained QoS 1 status, subscribing in on_connect, the
 * threaded network loop and a clean shutdown.
 *
 * Run, with a broker on localhost:8883 whose certificate ca.crt signed:
 *   secmq-example-light-controller --cafile ca.crt
 *   secmq-example-light-dashboard --cafile ca.crt TOGGLE   (another shell)
 * Each command prints "<COMMAND>: light is <STATE>" on stdout. Once it
 * listens for commands, the controller prints "... listening on
 * home/light/control" on stderr. Once connected it reconnects by itself
 * whenever the link breaks. Exit codes: 0 after SIGINT/SIGTERM, 1 the
 * network loop could not start, 2 bad usage, 3 could not connect.
 */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <secmq.h>

#include "example_conn.h"

#define PROG "secmq-example-light-controller"
#define CONTROL_TOPIC "home/light/control"
#define STATUS_TOPIC "home/light/status"
#define OFFLINE "OFFLINE"
#define CONNECT_TIMEOUT_MS 10000
#define GOODBYE_TIMEOUT_MS 2000

/*
 * The light. Callbacks run one at a time on the loop thread, so they share
 * it without a lock; main() touches it only when no loop thread runs.
 */
typedef struct light {
    int on;          /* 1 = ON, 0 = OFF */
    int offline_mid; /* packet id of the final OFFLINE publish, or 0 */
    int offline_done;
} light;

static const char *state_name(const light *l)
{
    return l->on ? "ON" : "OFF";
}

static void publish_state(secmq_client *c, const light *l)
{
    const char *state = state_name(l);
    int rc;

    rc =
        secmq_client_publish(c, NULL, STATUS_TOPIC, state, strlen(state), 1, 1);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot publish status %s: %s\n", PROG, state,
                secmq_strerror(rc));
    }
}

static void on_connect(secmq_client *c, void *user, int rc, int reason,
                       int session_present)
{
    (void)reason;
    (void)session_present;
    if (rc != SECMQ_OK) {
        return; /* a refused login; example_connect() reports it */
    }
    /* With a clean session the broker forgets subscriptions when the link
     * drops, so subscribe on every (re)connect, not once. Subscribe before
     * publishing: the broker handles both in order, so whoever sees our
     * status knows we already listen for commands. */
    rc = secmq_client_subscribe(c, NULL, CONTROL_TOPIC, 1);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot subscribe to %s: %s\n", PROG, CONTROL_TOPIC,
                secmq_strerror(rc));
    }
    /* After a broken link the broker has published our will (OFFLINE), so
     * the state goes out again on every connect. */
    publish_state(c, user);
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    (void)c;
    (void)user;
    (void)mid;
    if (count < 1 || granted[0] == 0x80) {
        fprintf(stderr, "%s: the broker refused the subscription to %s\n", PROG,
                CONTROL_TOPIC);
        return;
    }
    fprintf(stderr, "%s: listening on %s\n", PROG, CONTROL_TOPIC);
}

/* 1 if the payload is exactly the text word (no NUL, no newline). */
static int payload_is(const secmq_message *msg, const char *word)
{
    size_t n = strlen(word);

    return msg->payloadlen == n && memcmp(msg->payload, word, n) == 0;
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    light *l = user;
    const char *command;

    /* A command is an event, not a state: a retained one (left by a
     * careless `mosquitto_pub -r`) would be obeyed again at every start. */
    if (msg->retain) {
        fprintf(stderr, "%s: ignoring a retained command\n", PROG);
        return;
    }
    if (payload_is(msg, "ON")) {
        command = "ON";
        l->on = 1;
    } else if (payload_is(msg, "OFF")) {
        command = "OFF";
        l->on = 0;
    } else if (payload_is(msg, "TOGGLE")) {
        command = "TOGGLE";
        l->on = !l->on;
    } else {
        fprintf(stderr, "%s: ignoring unknown command '", PROG);
        example_print_safe(stderr, msg->payload, msg->payloadlen, 64);
        fputs("'\n", stderr);
        return;
    }
    publish_state(c, l);
    /* With --keyring, who sent it (proved by a signature in signed mode). */
    if (msg->sender != NULL) {
        printf("%s: light is %s (from %s%s)\n", command, state_name(l),
               msg->sender,
               msg->seal_mode == SECMQ_SEAL_SIGNED ? "" : ", unverified");
    } else {
        printf("%s: light is %s\n", command, state_name(l));
    }
    fflush(stdout);
}

static void on_disconnect(secmq_client *c, void *user, int rc)
{
    char detail[SECMQ_ERRMSG_BYTES];

    (void)user;
    if (rc == SECMQ_OK) {
        return; /* we asked for it */
    }
    if (secmq_client_errmsg(c, detail, sizeof(detail)) == 0) {
        detail[0] = '\0';
    }
    fprintf(stderr, "%s: %s%s%s; reconnecting\n", PROG, secmq_strerror(rc),
            detail[0] != '\0' ? " -- " : "", detail);
}

static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    light *l = user;

    (void)c;
    (void)rc;
    if (l->offline_mid != 0 && mid == l->offline_mid) {
        l->offline_done = 1;
    }
}

/*
 * Say OFFLINE before a clean disconnect (which suppresses the will) and
 * wait, bounded, for the broker's PUBACK so the word is not lost. Called
 * after the loop thread stopped: callbacks now run here, inside
 * secmq_client_loop().
 */
static void go_offline(secmq_client *c, light *l)
{
    long long deadline = example_now_ms() + GOODBYE_TIMEOUT_MS;
    int rc;

    rc = secmq_client_publish(c, &l->offline_mid, STATUS_TOPIC, OFFLINE,
                              strlen(OFFLINE), 1, 1);
    while (rc == SECMQ_OK && !l->offline_done && example_now_ms() < deadline) {
        rc = secmq_client_loop(c, 100);
    }
    if (!l->offline_done) {
        fprintf(stderr, "%s: could not confirm the OFFLINE status\n", PROG);
    }
    (void)secmq_client_disconnect(c);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Keeps a light (OFF at start) that obeys ON, OFF and TOGGLE on\n"
            "%s and publishes its state on %s.\n"
            "options:\n" EXAMPLE_CONN_USAGE "  --help         show this help\n",
            PROG, CONTROL_TOPIC, STATUS_TOPIC);
}

int main(int argc, char **argv)
{
    example_conn opt;
    secmq_config cfg;
    secmq_client *c = NULL;
    light l = {0, 0, 0};
    sigset_t stop_signals;
    int sig;
    int rc;
    int status = EXAMPLE_EXIT_FAILURE;

    rc = example_parse_args(&opt, PROG, argc, argv, usage, NULL, NULL);
    if (rc != EXAMPLE_CONTINUE) {
        return rc;
    }
    if (example_conn_finish(&opt, PROG) != 0) {
        return EXAMPLE_EXIT_USAGE;
    }

    /* Block SIGINT and SIGTERM before the library starts any thread: every
     * thread inherits the mask, so the signals wait for sigwait() below
     * instead of killing the process in the middle of a callback. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    example_conn_config(&opt, &cfg);
    cfg.will.topic = STATUS_TOPIC;
    cfg.will.payload = OFFLINE;
    cfg.will.payloadlen = strlen(OFFLINE);
    cfg.will.qos = 1;
    cfg.will.retain = 1;

    rc = secmq_client_new(&c, &cfg, &l);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot create the client: %s\n", PROG,
                secmq_strerror(rc));
        return EXAMPLE_EXIT_CONNECT;
    }
    secmq_client_on_connect(c, on_connect);
    secmq_client_on_subscribe(c, on_subscribe);
    secmq_client_on_message(c, on_message);
    secmq_client_on_publish(c, on_publish);
    secmq_client_on_disconnect(c, on_disconnect);

    if (example_connect(c, &opt, PROG, CONNECT_TIMEOUT_MS) != SECMQ_OK) {
        status = EXAMPLE_EXIT_CONNECT;
        goto out;
    }
    /* From here a library thread runs the network, calls the callbacks and
     * reconnects with backoff when the link breaks. */
    rc = secmq_client_loop_start(c);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: cannot start the network loop: %s\n", PROG,
                secmq_strerror(rc));
        goto out;
    }

    sigwait(&stop_signals, &sig);
    fprintf(stderr, "%s: %s, going offline\n", PROG,
            sig == SIGINT ? "interrupted" : "terminated");
    (void)secmq_client_loop_stop(c, 1);
    go_offline(c, &l);
    status = EXAMPLE_EXIT_OK;

out:
    secmq_client_free(c);
    example_keyring_free(); /* after the client that used it */
    return status;
}
