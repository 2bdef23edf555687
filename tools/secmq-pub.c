/*
 * secmq-pub.c -- publish MQTT messages over TLS; a mosquitto_pub work-alike.
 *
 * Sends one message (-m, -f, -s, -n, maybe --repeat'ed) or one per line of
 * stdin (-l), and exits 0 only once the broker has every one (PUBACK or
 * PUBCOMP at QoS 1/2). Connection options and errors live in common/.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_msg.h"
#include "cli_options.h"
#include "cli_session.h"
#include "pub_outbox.h"
#include "pub_payload.h"
#include "pub_receipts.h"
#include "secmq.h"

/* Messages handed to the library but not yet complete, at most: up to
 * PUB_MAX_PENDING small ones, fewer when they are large (about
 * PUB_PENDING_BYTES in all), but never fewer than PUB_MIN_PENDING. A
 * publisher held back waits until half of them are complete, so it hands
 * over a batch per wake-up instead of one message per PUBACK. */
#define PUB_MAX_PENDING 1000ul
#define PUB_MIN_PENDING 100ul
#define PUB_PENDING_BYTES (8ul << 20)
/* How long a QoS 0 message waits for a lost connection to come back. */
#define PUB_NO_CONN_WAIT_S 60

enum pub_id {
    P_TOPIC = 1,
    P_MESSAGE,
    P_FILE,
    P_STDIN_FILE,
    P_STDIN_LINE,
    P_NULL,
    P_QOS,
    P_RETAIN,
    P_REPEAT,
    P_REPEAT_DELAY,
    P_RAW,
    P_MAC,
    P_RABBITMQ
};

static const struct cli_opt pub_opts[] = {
    {"-t", "--topic", 1, P_TOPIC},
    {"-m", "--message", 1, P_MESSAGE},
    {"-f", "--file", 1, P_FILE},
    {"-s", "--stdin-file", 0, P_STDIN_FILE},
    {"-l", "--stdin-line", 0, P_STDIN_LINE},
    {"-n", "--null-message", 0, P_NULL},
    {"-q", "--qos", 1, P_QOS},
    {"-r", "--retain", 0, P_RETAIN},
    {NULL, "--repeat", 1, P_REPEAT},
    {NULL, "--repeat-delay", 1, P_REPEAT_DELAY},
    {NULL, "--raw", 0, P_RAW},
    {NULL, "--mac", 0, P_MAC},
    {NULL, "--rabbitmq", 0, P_RABBITMQ},
    {NULL, "--outbox", 1, PO_OUTBOX},
    {NULL, "--outbox-sync", 1, PO_SYNC},
    {NULL, "--outbox-max-rows", 1, PO_MAX_ROWS},
    {NULL, "--outbox-max-bytes", 1, PO_MAX_BYTES},
    {NULL, "--outbox-full", 1, PO_FULL},
    {NULL, "--outbox-qos0", 0, PO_QOS0},
    {NULL, "--outbox-wait", 1, PO_WAIT},
    {NULL, "--outbox-release-qos2", 1, PO_RELEASE_QOS2},
    {NULL, "--receipt-wait", 1, PR_WAIT},
    {NULL, "--receipt-resend", 1, PR_RESEND},
    {NULL, "--receipt-give-up", 1, PR_GIVE_UP},
    {NULL, NULL, 0, 0},
};

struct pub {
    /* Options. */
    const char *topic;
    int mode;             /* P_MESSAGE, P_FILE, P_STDIN_FILE, ... or 0 */
    const char *mode_opt; /* the option that chose the mode */
    const char *message;
    const char *file;
    int qos;
    int retain;
    long repeat;
    int repeat_given;
    double repeat_delay;
    int raw;      /* --raw: never seal */
    int mac;      /* --mac: mac-only envelopes where the channel allows it */
    int rabbitmq; /* --rabbitmq: the broker is RabbitMQ */
    struct pub_outbox ob;   /* --outbox and its options */
    struct pub_receipts rc; /* --receipt-* */
    /* The payload of -m, -f, -s, -n. */
    unsigned char *payload;
    size_t payloadlen;
    /* Progress, shared with the loop thread. */
    struct cli_session s;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled on completion and on stop */
    unsigned long queued;
    unsigned long completed;
    unsigned long refused;
    int refused_rc;
    unsigned long wake_below; /* on_publish wakes the waiter once fewer
                                 than this are pending; 0: nobody waits */
};

static void pub_help(void)
{
    printf("secmq-pub %s -- publish a message to an MQTT broker over TLS\n"
           "\n"
           "Usage: secmq-pub [options] -t TOPIC "
           "{-m MESSAGE | -f FILE | -s | -l | -n}\n"
           "       secmq-pub [options] -L mqtts://[USER[:PASS]@]HOST[:PORT]/"
           "TOPIC {-m ...}\n"
           "\n",
           secmq_version());
    fputs(
        "Works like mosquitto_pub, but TLS (done by wolfSSL) is the default "
        "and the\n"
        "broker's certificate and host name are always checked.\n"
        "\n"
        "Message:\n"
        " -t, --topic TOPIC   topic to publish to (no + or # wildcards)\n"
        " -m, --message TEXT  send TEXT\n"
        " -f, --file FILE     send the whole contents of FILE as one message\n"
        " -s, --stdin-file    send all of standard input as one message\n"
        " -l, --stdin-line    send one message per line of standard input "
        "(without the\n"
        "                     newline; an empty line is an empty message)\n"
        " -n, --null-message  send an empty (zero-length) message\n"
        "                     Exactly one of -m, -f, -s, -l and -n is "
        "needed.\n"
        " -q, --qos QOS       0, 1 or 2 (default: 0). At QoS 1 and 2 "
        "secmq-pub waits\n"
        "                     until the broker has acknowledged every "
        "message.\n"
        " -r, --retain        the broker keeps the message for future "
        "subscribers\n"
        "                     (-r -n deletes the topic's retained message)\n"
        " --repeat N          with -m, -f, -s or -n: publish the message N "
        "times\n"
        "                     (default: 1)\n"
        " --repeat-delay SEC  wait SEC seconds between repeats; fractions "
        "such as 0.5\n"
        "                     are allowed (default: 0)\n"
        " --raw               with --keyring: publish the payload as it is, "
        "even on a\n"
        "                     topic a channel covers (receivers with the "
        "keyring refuse\n"
        "                     it). Without --raw, secmq-pub seals on covered "
        "topics and\n"
        "                     refuses to publish there when it cannot seal "
        "(e.g. not in\n"
        "                     the publishers list of the most specific "
        "channel: then it\n"
        "                     exits before connecting); it never falls back "
        "to plaintext.\n"
        " --mac               with --keyring: mac-only envelopes (no "
        "signature; proves\n"
        "                     channel membership, not the sender) on "
        "channels whose grant\n"
        "                     allows it; elsewhere envelopes stay signed\n"
        " --rabbitmq          the broker is RabbitMQ: refuse -q 2 before "
        "connecting (it\n"
        "                     has no QoS 2) and warn when the topic has a "
        "'.', which\n"
        "                     RabbitMQ delivers as '/' (a sealed message "
        "there does not\n"
        "                     open). Without it, secmq-pub warns so only "
        "once the broker\n"
        "                     has answered QoS 2 with PUBACK.\n"
        "\n",
        stdout);
    pub_outbox_help();
    pub_receipts_help();
    cli_help_common(stdout);
    fputs(
        "\n"
        "Exit status:\n"
        "  0    every message was published (at QoS 1/2: acknowledged by the "
        "broker),\n"
        "       then the client disconnected cleanly (the will is not "
        "sent)\n"
        "  1    an error: usage (also an option of mosquitto_pub that "
        "secmq-pub does\n"
        "       not support, said as \"not supported: why\"), config "
        "file, file or\n"
        "       stdin, host name, connection refused or timed out, or a "
        "message the\n"
        "       broker refused (reported with -V mqttv5 only: with MQTT "
        "3.1.1 a broker\n"
        "       acknowledges and drops a message it does not allow), or "
        "with\n"
        "       --receipt-wait a message not receipted in time\n"
        "  7    the connection was lost: before the broker answered CONNECT "
        "(e.g.\n"
        "       --no-tls to a TLS port), or for 60 s while a QoS 0 message "
        "waited for\n"
        "       it (mosquitto_pub's MOSQ_ERR_CONN_LOST). QoS 1/2 messages "
        "wait for the\n"
        "       reconnect.\n"
        "  8    TLS failed: the handshake, an untrusted CA, the host name, an "
        "expired\n"
        "       certificate, the pin, or a client certificate the broker "
        "wants\n"
        "       (mosquitto_pub's MOSQ_ERR_TLS)\n",
        stdout);
    fputs("  75   --outbox: the broker could not be reached (or stayed away "
          "for\n"
          "       --outbox-wait); the messages are committed to the outbox "
          "and the next\n"
          "       run with the same --outbox FILE sends them first\n"
          "  N    the broker refused the connection; N is its CONNACK code, "
          "as with\n"
          "       mosquitto_pub: 4 bad username or password, 5 not authorised "
          "(MQTT\n"
          "       3.1.1); 134, 135 for MQTT v5. mosquitto answers 5 to a wrong "
          "password.\n"
          "\n"
          "Examples:\n"
          "  sam publishes his status to alice over TLS, checked against the "
          "broker's CA:\n"
          "    secmq-pub -h broker.local --cafile /etc/secmq/ca.crt \\\n"
          "              -u sam --pw-file ~/.sam.pw -t status -m online -q 1\n"
          "  and alice, subscribed, sees it:\n"
          "    secmq-sub -h broker.local --cafile /etc/secmq/ca.crt \\\n"
          "              -u alice --pw-file ~/.alice.pw -t status -v\n"
          "  The same with mutual TLS (client certificate):\n"
          "    secmq-pub -h broker.local --cafile ca.crt --cert sam.crt "
          "--key sam.key \\\n"
          "              -u sam --pw-file ~/.sam.pw -t status -m online\n"
          "  Send a file at QoS 1:        secmq-pub -t cam/image -f snap.jpg "
          "-q 1\n"
          "  One message per line:        tail -f log | secmq-pub -t log/lines "
          "-l\n"
          "  Delete a retained message:   secmq-pub -t status -r -n\n"
          "  Plain MQTT to a test broker: secmq-pub --no-tls -h localhost -t "
          "test -m hi\n"
          "  The same as a URL:           secmq-pub -L "
          "mqtt://localhost/test -m hi\n"
          "  Nothing lost while the uplink is down (sealed on disk):\n"
          "    sensor | secmq-pub --keyring ~/.secmq -t status -q 1 -l \\\n"
          "              --outbox /var/lib/secmq/outbox.db\n",
          stdout);
}

static int set_mode(struct pub *p, int mode, const char *name, char *err,
                    size_t errlen)
{
    if (p->mode != 0) {
        snprintf(err, errlen,
                 "only one of -m, -f, -s, -l and -n can be given (%s and %s "
                 "were)",
                 p->mode_opt, name);
        return -1;
    }
    p->mode = mode;
    p->mode_opt = name;
    return 0;
}

static int pub_option(void *ctx, int id, const char *name, const char *arg,
                      char *err, size_t errlen)
{
    struct pub *p = ctx;

    switch (id) {
    case P_TOPIC:
        p->topic = arg;
        return 0;
    case P_MESSAGE:
        p->message = arg;
        return set_mode(p, id, name, err, errlen);
    case P_FILE:
        p->file = arg;
        return set_mode(p, id, name, err, errlen);
    case P_STDIN_FILE:
    case P_STDIN_LINE:
    case P_NULL:
        return set_mode(p, id, name, err, errlen);
    case P_QOS:
        return cli_parse_qos(name, arg, &p->qos, err, errlen);
    case P_RETAIN:
        p->retain = 1;
        return 0;
    case P_RAW:
        p->raw = 1;
        return 0;
    case P_MAC:
        p->mac = 1;
        return 0;
    case P_RABBITMQ:
        p->rabbitmq = 1;
        return 0;
    case PO_OUTBOX:
    case PO_SYNC:
    case PO_MAX_ROWS:
    case PO_MAX_BYTES:
    case PO_FULL:
    case PO_QOS0:
    case PO_WAIT:
    case PO_RELEASE_QOS2:
        return pub_outbox_option(&p->ob, id, name, arg, err, errlen);
    case PR_WAIT:
    case PR_RESEND:
    case PR_GIVE_UP:
        return pub_receipts_option(&p->rc, id, name, arg, err, errlen);
    case P_REPEAT:
        if (cli_parse_count(name, arg, &p->repeat, err, errlen) != 0) {
            return -1;
        }
        p->repeat_given = 1;
        return 0;
    case P_REPEAT_DELAY:
        if (cli_parse_seconds(arg, 86400.0, &p->repeat_delay) != 0) {
            snprintf(err, errlen,
                     "%s: needs seconds between 0 and 86400, not '%s'", name,
                     arg);
            return -1;
        }
        p->repeat_given = 1;
        return 0;
    default:
        snprintf(err, errlen, "%s: not handled", name);
        return -1;
    }
}

/* Checks that involve several of pub's options; 0 or -1 after printing. */
static int check_options(const struct pub *p)
{
    if (p->topic == NULL) {
        cli_usage_err("a topic is needed: -t TOPIC");
        return -1;
    }
    if (p->topic[0] == '\0' || strpbrk(p->topic, "+#") != NULL ||
        strlen(p->topic) > 65535) {
        cli_usage_err("-t '%s': not a topic one can publish to (it must be "
                      "non-empty, without + or # wildcards)",
                      p->topic);
        return -1;
    }
    if (p->mode == 0) {
        cli_usage_err("a message is needed: -m, -f, -s, -l or -n");
        return -1;
    }
    if (p->mode == P_STDIN_LINE && p->repeat_given) {
        cli_usage_err("--repeat and --repeat-delay work with -m, -f, -s "
                      "and -n, not with -l");
        return -1;
    }
    return 0;
}

/* The payload of -m, -f, -s and -n, read before connecting. 0 or -1. */
static int load_payload(struct pub *p)
{
    char what[4200];
    int fd, rc;

    switch (p->mode) {
    case P_MESSAGE:
        p->payloadlen = strlen(p->message);
        p->payload = malloc(p->payloadlen + 1);
        if (p->payload == NULL) {
            cli_err("out of memory");
            return -1;
        }
        memcpy(p->payload, p->message, p->payloadlen + 1);
        return 0;
    case P_FILE:
        fd = open(p->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            cli_err("cannot open -f %s: %s", p->file, strerror(errno));
            return -1;
        }
        snprintf(what, sizeof what, "-f %s", p->file);
        rc = pub_read_all(fd, what, &p->payload, &p->payloadlen);
        close(fd);
        return rc;
    case P_STDIN_FILE:
        return pub_read_all(STDIN_FILENO, "standard input", &p->payload,
                            &p->payloadlen);
    default:
        return 0; /* -n: nothing; -l: read while publishing */
    }
}

/* ------------------------------------------------------------------------ */
/* Publishing                                                               */
/* ------------------------------------------------------------------------ */

static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    struct cli_session *s = user;
    struct pub *p = s->tool;

    (void)c;
    pthread_mutex_lock(&p->lock);
    p->completed++;
    if (rc != SECMQ_OK) {
        p->refused++;
        p->refused_rc = rc;
        cli_debug("message %d refused: %s", mid, secmq_strerror(rc));
    }
    if (p->queued - p->completed < p->wake_below) {
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
}

static void on_stopped(struct cli_session *s)
{
    struct pub *p = s->tool;

    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static int is_stopped(const struct pub *p)
{
    return atomic_load(&p->s.stopped);
}

/* Wait on p->cond (lock held) until woken or the monotonic time t. */
static void wait_until(struct pub *p, double t)
{
    struct timespec until;

    cli_mono_timespec(t, &until);
    (void)pthread_cond_timedwait(&p->cond, &p->lock, &until);
}

/* Sleep between repeats; a stop cuts it short. */
static void pause_for(struct pub *p, double seconds)
{
    double end = cli_mono_now() + seconds;

    pthread_mutex_lock(&p->lock);
    while (!is_stopped(p) && cli_mono_now() < end) {
        wait_until(p, end);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Hand one message to the library. 0, or an exit code after printing. */
static int publish_one(struct pub *p, const void *payload, size_t len)
{
    char what[300];
    unsigned long limit;
    double end;
    int rc;

    if (pub_outbox_wants(&p->ob, p->qos)) {
        /* Committed before anything else; sent whenever the broker is
         * there (pub_outbox_finish waits for that). */
        return is_stopped(p)
                   ? atomic_load(&p->s.exit_code)
                   : pub_outbox_publish(&p->ob, p->topic, payload, len, p->qos,
                                        p->retain, p->raw);
    }
    limit = PUB_PENDING_BYTES / (len + 1);
    if (limit < PUB_MIN_PENDING) {
        limit = PUB_MIN_PENDING;
    } else if (limit > PUB_MAX_PENDING) {
        limit = PUB_MAX_PENDING;
    }
    pthread_mutex_lock(&p->lock);
    if (p->queued - p->completed >= limit) {
        p->wake_below = limit / 2 + 1;
        while (p->queued - p->completed > limit / 2 && !is_stopped(p)) {
            pthread_cond_wait(&p->cond, &p->lock);
        }
        p->wake_below = 0;
    }
    p->queued++; /* before publishing: on_publish may come first */
    pthread_mutex_unlock(&p->lock);
    /* A QoS 0 message can't be queued while the link is down: give the
     * loop time to reconnect. */
    end = cli_mono_now() + PUB_NO_CONN_WAIT_S;
    for (;;) {
        if (is_stopped(p)) {
            rc = SECMQ_E_NO_CONN;
            break;
        }
        if (p->raw) {
            rc = secmq_client_publish_raw(p->s.client, NULL, p->topic, payload,
                                          len, p->qos, p->retain);
        } else {
            rc = secmq_client_publish(p->s.client, NULL, p->topic, payload, len,
                                      p->qos, p->retain);
        }
        if (rc != SECMQ_E_NO_CONN || cli_mono_now() >= end) {
            break;
        }
        pthread_mutex_lock(&p->lock);
        wait_until(p, cli_mono_now() + 0.1);
        pthread_mutex_unlock(&p->lock);
    }
    if (rc == SECMQ_OK) {
        return 0;
    }
    pthread_mutex_lock(&p->lock);
    p->queued--;
    pthread_mutex_unlock(&p->lock);
    if (is_stopped(p)) {
        return atomic_load(&p->s.exit_code);
    }
    snprintf(what, sizeof what, "cannot publish to '%.200s'", p->topic);
    return cli_session_fail(&p->s, rc, what);
}

static int publish_lines(struct pub *p)
{
    char *line = NULL;
    size_t cap = 0;
    int code = 0;

    for (;;) {
        ssize_t n = getline(&line, &cap, stdin);
        size_t len;

        if (n < 0) {
            break;
        }
        len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        code = publish_one(p, line, len);
        if (code != 0) {
            break;
        }
    }
    if (code == 0 && ferror(stdin)) {
        cli_err("cannot read standard input: %s", strerror(errno));
        code = CLI_EXIT_ERROR;
    }
    free(line);
    return code;
}

/* Wait for the outbox to drain, then (--receipt-wait) for receipts. */
static int finish_outbox(struct pub *p)
{
    return pub_receipts_finish(&p->rc, &p->ob, pub_outbox_finish(&p->ob));
}

static int publish_all(struct pub *p)
{
    int code = 0;

    if (p->mode == P_STDIN_LINE) {
        code = publish_lines(p);
    } else {
        for (long i = 0; i < p->repeat && code == 0; i++) {
            if (i > 0 && p->repeat_delay > 0.0) {
                pause_for(p, p->repeat_delay);
            }
            code = publish_one(p, p->payload, p->payloadlen);
        }
    }
    /* Whatever was handed over must complete before we disconnect. */
    pthread_mutex_lock(&p->lock);
    p->wake_below = 1;
    while (p->completed < p->queued && !is_stopped(p)) {
        pthread_cond_wait(&p->cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    if (code == 0 && is_stopped(p)) {
        code = atomic_load(&p->s.exit_code);
    }
    if (code == 0 && p->refused > 0) {
        cli_err("the broker refused %lu of %lu message(s) on '%s': %s",
                p->refused, p->completed, p->topic,
                secmq_strerror(p->refused_rc));
        code = CLI_EXIT_ERROR;
    }
    if (code == 0 && p->ob.path != NULL) {
        /* Older rows and this run's: all acknowledged, or said queued. */
        code = finish_outbox(p);
    }
    if (code == 0) {
        cli_debug("published %lu message(s)", p->completed);
    }
    return code;
}

/*
 * With a keyring, on a topic a channel covers: refuse before connecting
 * unless this identity is in that channel's publishers list (the list
 * receivers check, PROTOCOL.md §4.1). 0 or an exit code after saying why.
 */
static int check_may_publish(struct pub *p)
{
    char why[SECMQ_ERRMSG_BYTES];

    if (p->s.keyring == NULL || p->raw ||
        !secmq_keyring_covers(p->s.keyring, p->topic) ||
        secmq_keyring_may_publish(p->s.keyring, p->topic) == SECMQ_OK) {
        return 0;
    }
    secmq_keyring_errmsg(p->s.keyring, why, sizeof why);
    cli_err("cannot publish to '%.200s': %s", p->topic, why);
    return CLI_EXIT_ERROR;
}

/*
 * RabbitMQ turns an MQTT topic into a routing key with '/' as '.' and back
 * with '.' as '/': subscribers get a topic with a '.' with '/' instead, and
 * a sealed message, bound to the topic it was published on, does not open
 * there. Said when the broker is known to be RabbitMQ (--rabbitmq, or it
 * answered QoS 2 with PUBACK): mosquitto keeps such topics as they are.
 */
static void warn_rabbitmq_topic(const struct pub *p)
{
    char shown[256], mapped[256];

    if (strchr(p->topic, '.') == NULL) {
        return;
    }
    (void)secmq_text_show(shown, sizeof shown, p->topic);
    memcpy(mapped, shown, sizeof mapped);
    for (char *c = mapped; *c != '\0'; c++) {
        if (*c == '.') {
            *c = '/';
        }
    }
    cli_warn("the topic '%s' has a '.': RabbitMQ delivers it to subscribers "
             "as '%s' (and a topic with '/' in place of the '.' reaches the "
             "same subscribers), where a sealed message does not open; use "
             "topics without '.' on RabbitMQ",
             shown, mapped);
}

/* --raw and --mac only mean something with a keyring. 0 or -1. */
static int check_e2e(const struct pub *p, const struct cli_conn *o)
{
    if ((p->raw || p->mac) && o->keyring == NULL) {
        cli_usage_err("%s needs --keyring", p->raw ? "--raw" : "--mac");
        return -1;
    }
    if (p->raw && p->mac) {
        cli_usage_err("--raw and --mac exclude each other");
        return -1;
    }
    return 0;
}

/*
 * --outbox: open the file, then either commit the message(s) of -m/-f/-s/-n
 * first and connect (a broker that is away leaves them queued: exit 75), or
 * with -l connect (in the background if the broker is away) and commit
 * each line as it comes. Either way, wait until everything is
 * acknowledged. 0 or an exit code.
 */
static int run_with_outbox(struct pub *p)
{
    int code = pub_outbox_attach(&p->ob, &p->s);

    if (code != 0) {
        return code;
    }
    if (p->mode == P_STDIN_LINE) {
        code = pub_outbox_connect(&p->ob, 1);
        return code != 0 ? code : publish_all(p);
    }
    if (pub_outbox_wants(&p->ob, p->qos)) {
        for (long i = 0; i < p->repeat && code == 0; i++) {
            if (i > 0 && p->repeat_delay > 0.0) {
                pause_for(p, p->repeat_delay);
            }
            code = publish_one(p, p->payload, p->payloadlen);
        }
        if (code == 0) {
            code = pub_outbox_connect(&p->ob, 0);
        }
        return code != 0 ? code : finish_outbox(p);
    }
    /* QoS 0 without --outbox-qos0: sent directly, after older rows. */
    code = pub_outbox_connect(&p->ob, 0);
    return code != 0 ? code : publish_all(p);
}

int main(int argc, char **argv)
{
    struct pub p;
    struct cli_conn o;
    struct cli_tool t = {pub_opts, pub_option, &p, pub_help};
    pthread_condattr_t ca;
    int code;

    cli_msg_init("secmq-pub");
    memset(&p, 0, sizeof p);
    p.repeat = 1;
    pub_outbox_init(&p.ob);
    pub_receipts_init(&p.rc);
    cli_conn_init(&o);
    code = cli_parse_v3(&o, &t, NULL, P_TOPIC, argc, argv);
    if (code == 0 && p.rabbitmq && p.qos == 2) {
        cli_err("-q 2 with --rabbitmq: RabbitMQ does not support QoS 2 (it "
                "answers with PUBACK); publish at QoS 1");
        code = -1;
    }
    if (code != 0 || check_options(&p) != 0 || check_e2e(&p, &o) != 0 ||
        pub_receipts_check_options(&p.rc, o.keyring != NULL, p.qos, p.raw) !=
            0 ||
        load_payload(&p) != 0) {
        cli_conn_free(&o);
        free(p.payload);
        return code > 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    }
    pthread_mutex_init(&p.lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p.cond, &ca);
    pthread_condattr_destroy(&ca);

    if (p.rabbitmq) {
        warn_rabbitmq_topic(&p);
    }
    code = cli_session_open(&p.s, &o, &p, NULL, on_stopped);
    p.s.mosquitto_codes = 1;
    if (code == 0) {
        code = check_may_publish(&p);
    }
    if (code == 0) {
        code = pub_receipts_private_outbox(&p.rc, &p.ob);
    }
    if (code == 0) {
        code = pub_receipts_attach(&p.rc, &p.s, p.topic);
    }
    if (code == 0 && p.mac) {
        (void)secmq_keyring_set_mode(p.s.keyring, SECMQ_SEAL_MAC);
    }
    if (code == 0) {
        secmq_client_on_publish(p.s.client, on_publish);
    }
    if (code == 0 && p.ob.path != NULL) {
        code = run_with_outbox(&p);
    } else if (code == 0) {
        code = cli_session_connect(&p.s);
        if (code == 0) {
            code = cli_session_loop_start(&p.s);
        }
        if (code == 0) {
            code = publish_all(&p);
        }
    }
    pub_outbox_close(&p.ob);
    cli_session_close(&p.s);
    pub_receipts_cleanup(&p.rc);
    if (p.s.stop_rc == SECMQ_E_QOS_UNSUPPORTED && !p.rabbitmq) {
        /* After the loop thread ended (it set stop_rc). */
        warn_rabbitmq_topic(&p);
    }

    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
    cli_conn_free(&o);
    free(p.payload);
    return code;
}
