/*
 * secmq-sub.c -- subscribe over TLS and print messages; a mosquitto_sub
 * work-alike. Runs until SIGINT/SIGTERM (exit 0), -C messages, the first
 * fresh message with --retained-only, or -W seconds (exit 27, "Timed out").
 * Which messages to print is decided here; how, in sub_output.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_msg.h"
#include "cli_options.h"
#include "cli_session.h"
#include "cli_signal.h"
#include "secmq.h"
#include "sub_output.h"
#include "sub_refused.h"

/* mosquitto_sub's exit code for -W (MOSQ_ERR_TIMEOUT). */
#define SUB_EXIT_TIMEOUT 27
/* --max-age default with --keyring: an hour (docs/SECURITY.md, Freshness). */
#define SUB_MAX_AGE_DEFAULT 3600.0

enum sub_id {
    S_TOPIC = 1,
    S_FILTER_OUT,
    S_QOS,
    S_COUNT,
    S_TIMEOUT,
    S_VERBOSE,
    S_NO_EOL,
    S_NO_RETAINED,
    S_FORMAT,
    S_RETAINED_ONLY,
    S_MAX_AGE,
    S_ALLOW_PLAIN,
    S_UNSUBSCRIBE,
    S_EXIT_AFTER_SUB,
    S_REMOVE_RETAINED
};

static const struct cli_opt sub_opts[] = {
    {"-t", "--topic", 1, S_TOPIC},
    {"-T", "--filter-out", 1, S_FILTER_OUT},
    {"-q", "--qos", 1, S_QOS},
    {"-C", "--count", 1, S_COUNT},
    {"-W", "--timeout", 1, S_TIMEOUT},
    {"-v", "--verbose", 0, S_VERBOSE},
    {"-N", "--no-eol", 0, S_NO_EOL},
    {"-R", "--no-retained", 0, S_NO_RETAINED},
    {"-F", "--format", 1, S_FORMAT},
    {NULL, "--retained-only", 0, S_RETAINED_ONLY},
    {NULL, "--max-age", 1, S_MAX_AGE},
    {NULL, "--allow-plain", 1, S_ALLOW_PLAIN},
    {"-U", "--unsubscribe", 1, S_UNSUBSCRIBE},
    {"-E", NULL, 0, S_EXIT_AFTER_SUB},
    {NULL, "--remove-retained", 0, S_REMOVE_RETAINED},
    {NULL, NULL, 0, 0},
};

struct sub {
    /* Options. */
    const char **topics; /* -t, ntopics of them */
    size_t ntopics;
    const char **filters; /* -T, nfilters of them */
    size_t nfilters;
    const char **plain; /* --allow-plain, nplain of them */
    size_t nplain;
    const char **unsubs; /* -U, nunsubs of them */
    size_t nunsubs;
    int exit_after_sub;  /* -E */
    int remove_retained; /* --remove-retained */
    atomic_int clears;   /* its empty publishes not yet acknowledged */
    atomic_int finished; /* -C or --retained-only is done: exit once
                            clears is 0 */
    int qos;
    long count;        /* -C; 0 = no limit */
    double timeout;    /* -W seconds; 0 = none */
    int no_retained;   /* -R */
    int retained_only; /* --retained-only */
    double max_age;    /* --max-age seconds; 0 = off */
    int max_age_given; /* --max-age was on the command line */
    struct sub_output out;
    /* State of the subscription round; loop thread only. */
    struct cli_session s;
    int *mids;    /* SUBSCRIBE packet id per topic */
    int *refused; /* 1 when the broker refused topic i */
    size_t acks;
    size_t unsub_acks; /* UNSUBACKs of this connection's -U */
    int subs_done;     /* every SUBACK of this connection is in */
    long printed;
};

/* Signal handling: the handler may only touch these. */

static void sub_help(void)
{
    printf("secmq-sub %s -- print the messages of MQTT topics, over TLS\n"
           "\n"
           "Usage: secmq-sub [options] -t FILTER [-t FILTER ...]\n"
           "       secmq-sub [options] -L mqtts://[USER[:PASS]@]HOST[:PORT]/"
           "FILTER\n"
           "\n",
           secmq_version());
    fputs("Works like mosquitto_sub, but TLS (done by wolfSSL) is the default "
          "and the\n"
          "broker's certificate and host name are always checked.\n"
          "\n"
          "Subscription and output:\n"
          " -t, --topic FILTER  subscribe to FILTER (+ and # wildcards "
          "allowed); repeat\n"
          "                     for several. With -c, when the broker still "
          "has the\n"
          "                     session, its subscriptions are kept and -t is "
          "not resent.\n"
          " -T, --filter-out FILTER\n"
          "                     do not print messages whose topic matches "
          "FILTER;\n"
          "                     repeatable\n"
          " -q, --qos QOS       subscription QoS 0, 1 or 2 (default: 0)\n"
          " -U, --unsubscribe FILTER\n"
          "                     unsubscribe from FILTER after subscribing, "
          "at every\n"
          "                     connect (e.g. to drop a subscription a "
          "persistent session\n"
          "                     -c still holds); repeatable\n"
          " -E                  exit (0) once the broker has answered every "
          "SUBSCRIBE\n"
          "                     and UNSUBSCRIBE, e.g. to set up a persistent "
          "session\n"
          " --remove-retained   clear each retained message received (that "
          "-R and -T let\n"
          "                     through) by publishing an empty retained "
          "message to its\n"
          "                     topic at QoS 1, as mosquitto_sub does. With "
          "--keyring only\n"
          "                     messages that opened are cleared.\n"
          " -v, --verbose       print \"topic payload\" (an empty payload "
          "prints as\n"
          "                     \"topic (null)\"); without -v only the payload "
          "is printed\n"
          "                     and an empty payload prints nothing\n"
          " -N, --no-eol        do not end each message with a newline\n"
          " -F, --format FMT    print each message as FMT (a newline follows "
          "unless -N):\n"
          "                       %t topic      %p payload     %l payload "
          "length\n"
          "                       %q QoS        %r retain flag %m message id "
          "(0 at QoS 0)\n"
          "                       %x %X payload in lower / upper case hex\n"
          "                       %I ISO-8601 local time, "
          "2016-08-10T09:47:38+0100\n"
          "                       %U Unix time with nanoseconds, "
          "1470818943.786368637\n"
          "                       %j the message as JSON, like "
          "mosquitto_sub    %% a %\n"
          "                          (with --keyring also \"sender\", "
          "\"verified\" true/false\n"
          "                          and \"mode\" \"signed\", \"mac\" or "
          "\"plain\")\n"
          "                       %S the sender of a sealed message "
          "(--keyring): its name\n"
          "                          when a signature proved it, "
          "\"unverified:NAME\" for a\n"
          "                          mac-only message (any member could "
          "claim NAME), empty\n"
          "                          for plain messages (--allow-plain)\n"
          "                     Flags, width and precision as in printf: "
          "%-20t, %08l,\n"
          "                     %.10p (at most 10 bytes of payload).\n"
          "                       @X strftime's %X (e.g. @Y@m@d, @H:@M:@S),"
          " @N nanoseconds,\n"
          "                       @@ a @\n"
          "                       \\n newline  \\t tab  \\e escape  \\r "
          "\\a \\v  \\0 NUL  \\\\ a \\\n"
          "                     MQTT v5 property sequences (%A %C %D %E %F "
          "%P %R) and %J\n"
          "                     are not supported; %S is the sender, not "
          "mosquitto_sub's\n"
          "                     subscription identifier.\n"
          " -C, --count N       exit after printing N messages (refused ones "
          "do not count)\n"
          " -R, --no-retained   do not print retained (stale) messages\n"
          " --retained-only     print only retained messages; exit at the "
          "first message\n"
          "                     that is not retained\n"
          " --max-age SEC       with --keyring: refuse sealed messages whose "
          "time differs\n"
          "                     from this clock by more than SEC seconds "
          "(default: 3600;\n"
          "                     0 turns the check off). The replay state "
          "refuses copies\n"
          "                     of what was delivered, across crashes; the "
          "age is what\n"
          "                     refuses old copies when that state was lost "
          "or restored\n"
          "                     from a backup. Raise it for a persistent "
          "session (-c)\n"
          "                     that may stay offline longer.\n"
          " --allow-plain FILTER\n"
          "                     with --keyring: print messages on topics "
          "matching FILTER\n"
          "                     that no channel covers as they are (%S "
          "empty); repeatable.\n"
          "                     Covered topics are always opened.\n"
          "With --keyring, nothing that did not open is printed: a message on "
          "a covered\n"
          "topic that does not open (not an envelope, tampered, forged, "
          "replayed, moved\n"
          "from another topic, not from a publisher), and one on a topic no "
          "channel\n"
          "covers (unless --allow-plain matches), is refused: one line on "
          "stderr names\n"
          "the topic and why, -d prints the counts at exit. Refused messages "
          "do not count\n"
          "for -C and do not end --retained-only.\n"
          " -W, --timeout SEC   give up SEC seconds (fractions allowed) after "
          "connecting,\n"
          "                     printing \"Timed out\" and exiting with 27, "
          "unless -C or\n"
          "                     --retained-only finished first\n"
          "Output is flushed after every message. Connection losses are "
          "repaired\n"
          "automatically (with a warning on stderr).\n"
          "With --keyring, on a channel created with --receipts that names "
          "this\n"
          "identity, a signed receipt for the messages opened goes to the "
          "channel's\n"
          "receipt topic (PROTOCOL.md 9) every 64 messages or 100 ms and at "
          "exit\n"
          "(-d counts them): the broker must let this user write that "
          "topic.\n"
          "\n",
          stdout);
    cli_help_common(stdout);
    fputs(
        "\n"
        "Exit status:\n"
        "  0    SIGINT or SIGTERM (after a clean DISCONNECT, so no will is "
        "sent), -C\n"
        "       messages printed, --retained-only met a fresh message, or -E "
        "(messages\n"
        "       refused with --keyring are warned about, never printed nor "
        "counted)\n"
        "  1    an error: usage (also an option of mosquitto_sub that "
        "secmq-sub does\n"
        "       not support, said as \"not supported: why\"), config "
        "file, host name,\n"
        "       connection refused or timed out, every subscription "
        "refused, output not\n"
        "       writable, or interrupted before the broker accepted us\n"
        "  7    the connection was lost before the broker answered CONNECT "
        "(e.g.\n"
        "       --no-tls to a TLS port), as mosquitto_sub's "
        "MOSQ_ERR_CONN_LOST. A loss\n"
        "       after that is repaired by reconnecting.\n"
        "  8    TLS failed: the handshake, an untrusted CA, the host name, an "
        "expired\n"
        "       certificate, the pin, or a client certificate the broker "
        "wants\n"
        "       (mosquitto_sub's MOSQ_ERR_TLS)\n"
        "  27   -W expired (\"Timed out\"), as with mosquitto_sub, e.g. "
        "fewer than -C\n"
        "       messages opened\n"
        "  N    the broker refused the connection; N is its CONNACK code, "
        "as with\n"
        "       mosquitto_sub: 4 bad username or password, 5 not authorised "
        "(MQTT\n"
        "       3.1.1); 134, 135 for MQTT v5. mosquitto answers 5 to a wrong "
        "password.\n"
        "\n"
        "Examples:\n"
        "  alice follows sam's status over TLS, checked against the broker's "
        "CA:\n"
        "    secmq-sub -h broker.local --cafile /etc/secmq/ca.crt \\\n"
        "              -u alice --pw-file ~/.alice.pw -t status -v\n"
        "  while sam publishes it:\n"
        "    secmq-pub -h broker.local --cafile /etc/secmq/ca.crt \\\n"
        "              -u sam --pw-file ~/.sam.pw -t status -m online -q 1\n"
        "  Wait at most 5 s for one message:   secmq-sub -t status -C 1 -W "
        "5\n"
        "  Everything but the camera:          secmq-sub -t '#' -T 'cam/#' "
        "-v\n"
        "  Timestamped lines:                  secmq-sub -t 'sensors/+' -F "
        "'%I %t %p'\n"
        "  Keep a queue while away (QoS 1):    secmq-sub -c -i alice-pc -q 1 "
        "-t status\n",
        stdout);
}

static int add_to_list(const char ***list, size_t *n, const char *item,
                       char *err, size_t errlen)
{
    const char **bigger = realloc(*list, (*n + 1) * sizeof **list);

    if (bigger == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bigger[*n] = item;
    *list = bigger;
    (*n)++;
    return 0;
}

/* An MQTT topic filter: non-empty, + and # only as whole levels, # last. */
static int valid_filter(const char *f)
{
    size_t len = strlen(f);

    if (len == 0 || len > 65535) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        int starts = i == 0 || f[i - 1] == '/';
        int ends = i + 1 == len || f[i + 1] == '/';

        if (f[i] == '+' && !(starts && ends)) {
            return 0;
        }
        if (f[i] == '#' && !(starts && i + 1 == len)) {
            return 0;
        }
    }
    return 1;
}

static int sub_option(void *ctx, int id, const char *name, const char *arg,
                      char *err, size_t errlen)
{
    struct sub *u = ctx;

    switch (id) {
    case S_TOPIC:
    case S_FILTER_OUT:
    case S_ALLOW_PLAIN:
    case S_UNSUBSCRIBE:
        if (!valid_filter(arg)) {
            snprintf(err, errlen,
                     "%s '%s': not a valid topic filter (+ and # must be "
                     "whole levels, # the last)",
                     name, arg);
            return -1;
        }
        if (id == S_ALLOW_PLAIN) {
            return add_to_list(&u->plain, &u->nplain, arg, err, errlen);
        }
        if (id == S_UNSUBSCRIBE) {
            return add_to_list(&u->unsubs, &u->nunsubs, arg, err, errlen);
        }
        return id == S_TOPIC
                   ? add_to_list(&u->topics, &u->ntopics, arg, err, errlen)
                   : add_to_list(&u->filters, &u->nfilters, arg, err, errlen);
    case S_QOS:
        return cli_parse_qos(name, arg, &u->qos, err, errlen);
    case S_COUNT:
        return cli_parse_count(name, arg, &u->count, err, errlen);
    case S_TIMEOUT:
        if (cli_parse_seconds(arg, 31536000.0, &u->timeout) != 0 ||
            u->timeout <= 0.0) {
            snprintf(err, errlen,
                     "%s: needs a number of seconds above 0, "
                     "not '%s'",
                     name, arg);
            return -1;
        }
        return 0;
    case S_VERBOSE:
        u->out.verbose = 1;
        return 0;
    case S_NO_EOL:
        u->out.eol = 0;
        return 0;
    case S_NO_RETAINED:
        u->no_retained = 1;
        return 0;
    case S_FORMAT:
        if (sub_format_check(arg, err, errlen) != 0) {
            return -1;
        }
        u->out.format = arg;
        return 0;
    case S_RETAINED_ONLY:
        u->retained_only = 1;
        return 0;
    case S_EXIT_AFTER_SUB:
        u->exit_after_sub = 1;
        return 0;
    case S_REMOVE_RETAINED:
        u->remove_retained = 1;
        return 0;
    case S_MAX_AGE:
        if (cli_parse_seconds(arg, 86400.0 * 365, &u->max_age) != 0 ||
            u->max_age < 0) {
            snprintf(err, errlen,
                     "%s: needs a number of seconds >= 0 (0: off), not '%s'",
                     name, arg);
            return -1;
        }
        u->max_age_given = 1;
        return 0;
    default:
        snprintf(err, errlen, "%s: not handled", name);
        return -1;
    }
}

/* ------------------------------------------------------------------------ */
/* Callbacks (loop thread)                                                  */
/* ------------------------------------------------------------------------ */

/* -E: exit once every SUBACK and UNSUBACK of this connection is in. */
static void maybe_exit_after_sub(struct cli_session *s)
{
    struct sub *u = s->tool;

    if (u->exit_after_sub && u->subs_done && u->unsub_acks >= u->nunsubs) {
        cli_debug("-E: subscribed; exiting");
        cli_session_stop(s, CLI_EXIT_OK);
    }
}

/* -U: one UNSUBSCRIBE per filter. */
static void send_unsubscribes(struct cli_session *s)
{
    struct sub *u = s->tool;
    char what[300];

    for (size_t i = 0; i < u->nunsubs; i++) {
        int rc = secmq_client_unsubscribe(s->client, NULL, u->unsubs[i]);

        if (rc != SECMQ_OK) {
            snprintf(what, sizeof what, "cannot unsubscribe from '%.200s'",
                     u->unsubs[i]);
            cli_session_stop(s, cli_session_fail(s, rc, what));
            return;
        }
    }
    maybe_exit_after_sub(s);
}

static void on_unsubscribe(secmq_client *c, void *user, int mid)
{
    struct cli_session *s = user;
    struct sub *u = s->tool;

    (void)c;
    (void)mid;
    u->unsub_acks++;
    cli_debug("unsubscribed (%zu of %zu)", u->unsub_acks, u->nunsubs);
    maybe_exit_after_sub(s);
}

static void on_connected(struct cli_session *s, int session_present)
{
    struct sub *u = s->tool;
    char what[300];

    u->acks = 0;
    u->unsub_acks = 0;
    u->subs_done = 0;
    /* -U: after the subscriptions, as mosquitto_sub does; on every
     * connect, since it is meant for sessions the broker keeps (-c). */
    if (session_present && s->opts->persistent) {
        cli_debug("the broker kept the session: not subscribing again");
        u->subs_done = 1;
        send_unsubscribes(s);
        return;
    }
    for (size_t i = 0; i < u->ntopics; i++) {
        int rc = secmq_client_subscribe(s->client, &u->mids[i], u->topics[i],
                                        u->qos);
        u->refused[i] = 0;
        if (rc != SECMQ_OK) {
            snprintf(what, sizeof what, "cannot subscribe to '%.200s'",
                     u->topics[i]);
            cli_session_stop(s, cli_session_fail(s, rc, what));
            return;
        }
    }
    send_unsubscribes(s);
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    struct cli_session *s = user;
    struct sub *u = s->tool;
    size_t refused = 0;

    (void)c;
    for (size_t i = 0; i < u->ntopics; i++) {
        if (u->mids[i] != mid) {
            continue;
        }
        /* One filter per SUBSCRIBE, so one answer. */
        if (count < 1 || granted[0] >= 0x80) {
            u->refused[i] = 1;
        } else {
            cli_debug("subscribed to '%s' (QoS %d granted)", u->topics[i],
                      granted[0]);
        }
        u->acks++;
    }
    if (u->acks < u->ntopics) {
        return;
    }
    for (size_t i = 0; i < u->ntopics; i++) {
        refused += (size_t)u->refused[i];
    }
    if (refused == u->ntopics) {
        cli_err("the broker refused every subscription (not authorised for "
                "%s%s)",
                u->topics[0], u->ntopics > 1 ? " and the others" : "");
        cli_session_stop(s, CLI_EXIT_ERROR);
        return;
    }
    for (size_t i = 0; i < u->ntopics; i++) {
        if (u->refused[i]) {
            cli_warn("the broker refused the subscription to '%s'",
                     u->topics[i]);
        }
    }
    u->subs_done = 1;
    maybe_exit_after_sub(s);
}

static void on_open_failure(secmq_client *c, void *user, const char *topic,
                            int reason)
{
    struct cli_session *s = user;
    struct sub *u = s->tool;

    (void)c;
    sub_refused_report(topic, reason, u->topics, u->ntopics, s->keyring);
}

/*
 * -C or --retained-only is done: exit 0, but (as mosquitto_sub) only once
 * the broker has acknowledged the --remove-retained clears sent so far.
 */
static void finish_ok(struct cli_session *s)
{
    struct sub *u = s->tool;

    atomic_store(&u->finished, 1);
    if (atomic_load(&u->clears) == 0) {
        cli_session_stop(s, CLI_EXIT_OK);
    }
}

/* The PUBACK of a --remove-retained clear. */
static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    struct cli_session *s = user;
    struct sub *u = s->tool;

    (void)c;
    if (rc != SECMQ_OK) {
        cli_warn("--remove-retained: the broker refused a clear (message "
                 "%d): %s",
                 mid, secmq_strerror(rc));
    }
    if (atomic_fetch_sub(&u->clears, 1) == 1 && atomic_load(&u->finished)) {
        cli_session_stop(s, CLI_EXIT_OK);
    }
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    struct cli_session *s = user;
    struct sub *u = s->tool;

    if (atomic_load(&s->stopped) || atomic_load(&u->finished)) {
        return;
    }
    if (u->retained_only && !msg->retain) {
        finish_ok(s);
        return;
    }
    if (u->no_retained && msg->retain) {
        return;
    }
    for (size_t i = 0; i < u->nfilters; i++) {
        if (sub_topic_matches(u->filters[i], msg->topic)) {
            return;
        }
    }
    if (u->remove_retained && msg->retain) {
        /* As mosquitto_sub: an empty retained message at QoS 1 deletes
         * it (sent as is, also with a keyring). */
        int rc;

        atomic_fetch_add(&u->clears, 1);
        rc = secmq_client_publish(c, NULL, msg->topic, NULL, 0, 1, 1);
        if (rc != SECMQ_OK) {
            atomic_fetch_sub(&u->clears, 1);
            cli_warn("--remove-retained: cannot clear '%.200s': %s", msg->topic,
                     secmq_strerror(rc));
        }
    }
    if (sub_output_print(&u->out, msg, stdout) != 0) {
        if (errno != EPIPE) {
            cli_err("cannot write the output: %s", strerror(errno));
        }
        cli_session_stop(s, CLI_EXIT_ERROR);
        return;
    }
    u->printed++;
    if (u->count > 0 && u->printed >= u->count) {
        finish_ok(s);
    }
}

/* ------------------------------------------------------------------------ */
/* Main thread                                                              */
/* ------------------------------------------------------------------------ */

/* Wait for a signal, the end of the work, or -W. Returns the exit code. */
static int wait_for_end(struct sub *u)
{
    double end = cli_mono_now() + u->timeout;
    struct timespec ts;

    for (;;) {
        if (cli_signal_received() != 0) {
            cli_debug("signal %d: disconnecting", cli_signal_received());
            cli_session_stop(&u->s, CLI_EXIT_OK);
            return CLI_EXIT_OK;
        }
        if (atomic_load(&u->s.stopped)) {
            return atomic_load(&u->s.exit_code);
        }
        if (u->timeout <= 0.0) {
            cli_wake_wait();
            continue;
        }
        if (cli_mono_now() >= end) {
            cli_session_stop(&u->s, SUB_EXIT_TIMEOUT);
            if (atomic_load(&u->s.exit_code) == SUB_EXIT_TIMEOUT) {
                cli_err("Timed out");
            }
            return atomic_load(&u->s.exit_code);
        }
        cli_mono_timespec(end, &ts);
        cli_wake_wait_until(&ts);
    }
}

static int check_options(struct sub *u)
{
    if (u->ntopics == 0) {
        cli_usage_err("at least one topic filter is needed: -t FILTER");
        return -1;
    }
    if (u->retained_only && u->no_retained) {
        cli_usage_err("--retained-only and -R cannot be used together");
        return -1;
    }
    u->mids = calloc(u->ntopics, sizeof *u->mids);
    u->refused = calloc(u->ntopics, sizeof *u->refused);
    if (u->mids == NULL || u->refused == NULL) {
        cli_err("out of memory");
        return -1;
    }
    return 0;
}

/* Does the -F format fmt (may be NULL) contain %S (not %%S)? Flags and
 * widths may stand between % and S, as sub_output.c allows them. */
static int format_names_sender(const char *fmt)
{
    for (const char *p = fmt; p != NULL && *p != '\0'; p++) {
        if (*p != '%') {
            continue;
        }
        p++;
        if (*p == '%') {
            continue;
        }
        while (*p == '-' || *p == '0' || (*p >= '1' && *p <= '9') ||
               *p == '.') {
            p++;
        }
        if (*p == 'S') {
            return 1;
        }
        if (*p == '\0') {
            break;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sub u;
    struct cli_conn o;
    struct cli_tool t = {sub_opts, sub_option, &u, sub_help};
    int code;

    cli_msg_init("secmq-sub");
    memset(&u, 0, sizeof u);
    atomic_init(&u.clears, 0);
    atomic_init(&u.finished, 0);
    u.out.eol = 1;
    u.max_age = SUB_MAX_AGE_DEFAULT;
    cli_conn_init(&o);
    code = cli_parse_v3(&o, &t, NULL, S_TOPIC, argc, argv);
    if (code == 0 && u.max_age_given && o.keyring == NULL) {
        cli_usage_err("--max-age needs --keyring");
        code = -1;
    }
    if (code == 0 && u.nplain > 0 && o.keyring == NULL) {
        cli_usage_err("--allow-plain needs --keyring (without one every "
                      "message is printed as it is)");
        code = -1;
    }
    if (code != 0 || check_options(&u) != 0 || cli_signal_install() != 0) {
        code = code > 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        goto out;
    }
    if (o.keyring == NULL && format_names_sender(u.out.format)) {
        /* A line such as "status from : door closed" must not look like
         * a verified message from nobody in particular. */
        cli_warn("-F uses %%S, but without --keyring nothing is opened or "
                 "verified: %%S stays empty and payloads are printed as they "
                 "arrive");
    }
    code = cli_session_open(&u.s, &o, &u, on_connected, cli_wake_on_stopped);
    u.s.mosquitto_codes = 1;
    if (code == 0) {
        secmq_client_on_subscribe(u.s.client, on_subscribe);
        secmq_client_on_unsubscribe(u.s.client, on_unsubscribe);
        secmq_client_on_publish(u.s.client, on_publish);
        secmq_client_on_message(u.s.client, on_message);
        secmq_client_on_open_failure(u.s.client, on_open_failure);
        u.out.keyring = u.s.keyring != NULL;
        for (size_t i = 0; i < u.nplain && code == 0; i++) {
            int rc = secmq_client_allow_plain(u.s.client, u.plain[i]);
            if (rc != SECMQ_OK) {
                cli_err("--allow-plain '%s': %s", u.plain[i],
                        secmq_strerror(rc));
                code = CLI_EXIT_ERROR;
            }
        }
        if (u.s.keyring != NULL && u.max_age > 0) {
            (void)secmq_keyring_set_max_age(u.s.keyring,
                                            (uint64_t)(u.max_age * 1000.0));
        }
        if (code == 0) {
            code = cli_session_connect(&u.s);
        }
    }
    if (code == 0) {
        cli_signal_connected();
        code = cli_session_loop_start(&u.s);
    }
    if (code == 0) {
        code = wait_for_end(&u);
    }
    if (u.s.client != NULL) {
        sub_report_counts(u.s.client, u.s.keyring);
    }
    cli_session_close(&u.s);
out:
    cli_conn_free(&o);
    free(u.topics);
    free(u.filters);
    free(u.plain);
    free(u.unsubs);
    free(u.mids);
    free(u.refused);
    return code;
}
