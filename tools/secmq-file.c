/*
 * secmq-file.c -- send and receive files end-to-end encrypted and
 * resumable over MQTT (docs/PROTOCOL.md section 8): `secmq-file send` and
 * `secmq-file recv`. Options, the session and the main loop live here; the
 * transfer is the library's (secmq/file.h), what is printed file_output.c's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_dropin.h"
#include "cli_msg.h"
#include "cli_options.h"
#include "cli_session.h"
#include "cli_signal.h"
#include "file/file_help.h"
#include "file/file_output.h"
#include "secmq.h"

/* Exit codes besides 0, 1 and CONNACK codes. */
#define FILE_EXIT_REFUSED 3  /* a file was refused or failed */
#define FILE_EXIT_TIMEOUT 27 /* -W expired, as secmq-sub */
#define TICK_MS 100
#define FLUSH_S 5.0     /* longest wait for the last answers at exit */
#define RETRY_MIN_S 0.5 /* --outbox: first wait before connecting again */
#define RETRY_MAX_S 5.0 /* and the longest */

enum file_id_opt {
    F_TOPIC = 1,
    F_OUT,
    F_COUNT,
    F_TIMEOUT,
    F_JSON,
    F_CHUNK,
    F_WINDOW,
    F_STATE,
    F_NAME,
    F_RECEIVERS,
    F_RETRY,
    F_MAX_SIZE,
    F_RESERVE,
    F_RATE,
    F_OUTBOX,
    F_STALL,
    F_PROTOCOL
};

static const struct cli_opt send_opts[] = {
    {"-t", "--topic", 1, F_TOPIC},
    {"-W", "--timeout", 1, F_TIMEOUT},
    {NULL, "--json", 0, F_JSON},
    {NULL, "--chunk-size", 1, F_CHUNK},
    {NULL, "--window", 1, F_WINDOW},
    {NULL, "--state", 1, F_STATE},
    {NULL, "--outbox", 1, F_OUTBOX},
    {NULL, "--name", 1, F_NAME},
    {NULL, "--receivers", 1, F_RECEIVERS},
    {NULL, "--retry", 1, F_RETRY},
    {NULL, "--rate", 1, F_RATE},
    {NULL, "--protocol", 1, F_PROTOCOL},
    {NULL, NULL, 0, 0},
};

static const struct cli_opt recv_opts[] = {
    {"-t", "--topic", 1, F_TOPIC},
    {"-o", "--output", 1, F_OUT},
    {"-C", "--count", 1, F_COUNT},
    {"-W", "--timeout", 1, F_TIMEOUT},
    {NULL, "--json", 0, F_JSON},
    {NULL, "--state", 1, F_STATE},
    {NULL, "--max-size", 1, F_MAX_SIZE},
    {NULL, "--reserve", 1, F_RESERVE},
    {NULL, "--retry", 1, F_RETRY},
    {NULL, "--stall-timeout", 1, F_STALL},
    {NULL, NULL, 0, 0},
};

struct tool {
    int recv;
    const char *topic;
    const char *dir;
    const char *state;
    const char *outbox; /* send --outbox FILE */
    char *state_buf;    /* the state file derived from it */
    const char *name;
    const char **files;
    size_t nfiles;
    long count;
    double timeout;
    int json;
    secmq_file_send_opts so;
    secmq_file_recv_opts ro;
    struct cli_session s;
    struct file_out out;
    secmq_file_sender *sender;
    secmq_file_receiver *receiver;
    atomic_int finished; /* receiver: files done, refused or failed */
    atomic_int failed;
    atomic_int busy;   /* sender: a receiver answered busy */
    int offline;       /* --outbox: not connected yet, retrying */
    double next_try_s; /* when to try again */
    double retry_s;
};

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

/* A byte count with an optional K, M or G (powers of 1024). */
static int parse_bytes(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;
    uint64_t mul = 1;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s) {
        return -1;
    }
    if (*end == 'K' || *end == 'k') {
        mul = 1024;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        mul = 1024 * 1024;
        end++;
    } else if (*end == 'G' || *end == 'g') {
        mul = 1024ull * 1024 * 1024;
        end++;
    }
    if (*end != '\0' || v > max / mul) {
        return -1;
    }
    *out = (uint64_t)v * mul;
    return 0;
}

static int tool_option(void *ctx, int id, const char *name, const char *arg,
                       char *err, size_t errlen)
{
    struct tool *t = ctx;
    uint64_t b;
    long v;
    double d;

    switch (id) {
    case F_TOPIC:
        if (arg[0] == '\0' || strpbrk(arg, "+#") != NULL ||
            strlen(arg) > SECMQ_FILE_TOPIC_MAX) {
            snprintf(err, errlen, "%s '%s': needs a topic without wildcards",
                     name, arg);
            return -1;
        }
        t->topic = arg;
        return 0;
    case F_OUT:
        t->dir = arg;
        return 0;
    case F_COUNT:
        return cli_parse_count(name, arg, &t->count, err, errlen);
    case F_TIMEOUT:
    case F_RETRY:
    case F_STALL:
        if (cli_parse_seconds(arg, 31536000.0, &d) != 0 ||
            d < (id == F_TIMEOUT ? 0.001 : 0.1) ||
            (id == F_STALL && d > 2000000.0)) {
            snprintf(err, errlen, "%s: needs a number of seconds, not '%s'",
                     name, arg);
            return -1;
        }
        if (id == F_TIMEOUT) {
            t->timeout = d;
        } else if (id == F_STALL) {
            t->ro.stall_ms = (int)(d * 1000.0);
        } else if (t->recv) {
            t->ro.retry_ms = (int)(d * 1000.0);
        } else {
            t->so.retry_ms = (int)(d * 1000.0);
        }
        return 0;
    case F_JSON:
        t->json = 1;
        return 0;
    case F_CHUNK:
        if (parse_bytes(arg, SECMQ_FILE_CHUNK_MAX, &b) != 0 ||
            b < SECMQ_FILE_CHUNK_MIN) {
            snprintf(err, errlen, "%s: needs %u..%u bytes, not '%s'", name,
                     SECMQ_FILE_CHUNK_MIN, SECMQ_FILE_CHUNK_MAX, arg);
            return -1;
        }
        t->so.chunk_size = (uint32_t)b;
        return 0;
    case F_WINDOW:
    case F_RECEIVERS:
        if (cli_parse_long(arg, 1, 1024, &v) != 0) {
            snprintf(err, errlen, "%s: needs 1..1024, not '%s'", name, arg);
            return -1;
        }
        if (id == F_WINDOW) {
            t->so.window = (unsigned)v;
        } else {
            t->so.receivers = (unsigned)v;
        }
        return 0;
    case F_STATE:
        t->state = arg;
        return 0;
    case F_OUTBOX:
        t->outbox = arg;
        return 0;
    case F_NAME:
        if (arg[0] == '\0' || strlen(arg) > SECMQ_FILE_NAME_MAX) {
            snprintf(err, errlen, "%s: needs 1..%u bytes", name,
                     SECMQ_FILE_NAME_MAX);
            return -1;
        }
        t->name = arg;
        return 0;
    case F_RATE:
        if (parse_bytes(arg, UINT64_MAX / 2, &b) != 0 || b == 0) {
            snprintf(err, errlen, "%s: needs bytes per second, not '%s'", name,
                     arg);
            return -1;
        }
        t->so.max_rate = b;
        return 0;
    case F_PROTOCOL:
        if (strcmp(arg, "1") != 0 && strcmp(arg, "2") != 0) {
            snprintf(err, errlen, "%s: needs 1 or 2, not '%s'", name, arg);
            return -1;
        }
        t->so.protocol =
            arg[0] == '1' ? SECMQ_FILE_PROTOCOL_1 : SECMQ_FILE_PROTOCOL_2;
        return 0;
    case F_MAX_SIZE:
    case F_RESERVE:
        if (parse_bytes(arg, UINT64_MAX / 2, &b) != 0) {
            snprintf(err, errlen, "%s: needs a number of bytes, not '%s'", name,
                     arg);
            return -1;
        }
        if (id == F_MAX_SIZE) {
            t->ro.max_size = b;
        } else {
            t->ro.reserve = b;
        }
        return 0;
    default:
        snprintf(err, errlen, "%s: not handled", name);
        return -1;
    }
}

static int tool_operand(void *ctx, const char *arg, char *err, size_t errlen)
{
    struct tool *t = ctx;
    const char **more;

    if (t->recv) {
        snprintf(err, errlen, "unexpected argument '%s'", arg);
        return -1;
    }
    more = realloc(t->files, (t->nfiles + 1) * sizeof *more);
    if (more == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->files = more;
    t->files[t->nfiles++] = arg;
    return 0;
}

static int check_options(struct tool *t, const struct cli_conn *o)
{
    if (t->topic == NULL) {
        cli_usage_err("a topic is needed: -t TOPIC");
        return -1;
    }
    if (o->keyring == NULL) {
        cli_usage_err("--keyring DIR is needed: files are always sealed");
        return -1;
    }
    if (t->recv && t->dir == NULL) {
        cli_usage_err("an output directory is needed: -o DIR");
        return -1;
    }
    if (!t->recv && t->nfiles == 0) {
        cli_usage_err("no FILE to send");
        return -1;
    }
    if (t->name != NULL && t->nfiles > 1) {
        cli_usage_err("--name works with one FILE only");
        return -1;
    }
    if (t->outbox != NULL && t->state == NULL) {
        /* The progress needs a file of its own: the outbox holds only
         * the messages in flight. */
        size_t n = strlen(t->outbox) + sizeof ".xfer";
        t->state_buf = malloc(n);
        if (t->state_buf == NULL) {
            cli_err("out of memory");
            return -1;
        }
        snprintf(t->state_buf, n, "%s.xfer", t->outbox);
        t->state = t->state_buf;
    }
    if (t->outbox != NULL && strcmp(t->outbox, t->state) == 0) {
        cli_usage_err("--outbox and --state need two different files");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

static void on_event(void *user, const secmq_file_event *ev)
{
    struct tool *t = user;

    file_out_event(&t->out, ev);
    if (ev->kind == SECMQ_FILE_EV_REFUSED && ev->reason == SECMQ_FILE_R_BUSY) {
        /* Not final on either side: the file is announced again. */
        atomic_store(&t->busy, 1);
        return;
    }
    if (t->recv &&
        (ev->kind == SECMQ_FILE_EV_DONE || ev->kind == SECMQ_FILE_EV_FAILED ||
         ev->kind == SECMQ_FILE_EV_REFUSED)) {
        if (ev->kind != SECMQ_FILE_EV_DONE) {
            atomic_fetch_add(&t->failed, 1);
        }
        atomic_fetch_add(&t->finished, 1);
        cli_wake();
    } else if (ev->kind == SECMQ_FILE_EV_DONE ||
               ev->kind == SECMQ_FILE_EV_FAILED ||
               ev->kind == SECMQ_FILE_EV_REFUSED) {
        cli_wake();
    }
}

static void on_connected(struct cli_session *s, int session_present)
{
    struct tool *t = s->tool;
    int rc =
        t->recv
            ? secmq_file_receiver_handle_connect(t->receiver, session_present)
            : secmq_file_sender_handle_connect(t->sender, session_present);

    if (rc != SECMQ_OK) {
        cli_session_stop(s, cli_session_fail(s, rc, "cannot subscribe"));
    }
}

static void on_message(secmq_client *c, void *user, const secmq_message *m)
{
    struct cli_session *s = user;
    struct tool *t = s->tool;

    (void)c;
    if (t->recv) {
        (void)secmq_file_receiver_handle_message(t->receiver, m);
    } else {
        (void)secmq_file_sender_handle_message(t->sender, m);
    }
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    struct cli_session *s = user;
    struct tool *t = s->tool;

    (void)c;
    if (t->recv) {
        secmq_file_receiver_handle_subscribe(t->receiver, mid, count, granted);
    } else {
        secmq_file_sender_handle_subscribe(t->sender, mid, count, granted);
    }
    cli_wake(); /* a refusal ends the run at once */
}

static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    struct cli_session *s = user;
    struct tool *t = s->tool;

    (void)c;
    if (!t->recv) {
        secmq_file_sender_handle_publish(t->sender, mid, rc);
    } else {
        secmq_file_receiver_handle_publish(t->receiver, mid, rc);
        /* With -C reached, the main loop waits for this: our last answer
         * acknowledged. Wake it now instead of at its next tick. */
        if (t->count > 0 && atomic_load(&t->finished) >= t->count &&
            secmq_file_receiver_unacked(t->receiver) == 0) {
            cli_wake();
        }
    }
}

static void on_durable(secmq_client *c, void *user, uint64_t id, int rc)
{
    struct cli_session *s = user;
    struct tool *t = s->tool;

    (void)c;
    secmq_file_sender_handle_durable(t->sender, id, rc);
}

static void on_delivered(secmq_client *c, void *user, uint64_t id, int rc)
{
    struct cli_session *s = user;
    struct tool *t = s->tool;

    (void)c;
    secmq_file_sender_handle_delivered(t->sender, id, rc);
}

static int install_signals(void)
{
    if (cli_signal_install() != 0) {
        return -1;
    }
    /* A file size limit (ulimit -f) must fail the write with EFBIG, which
     * the receiver reports, instead of killing the process. */
    signal(SIGXFSZ, SIG_IGN);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Main loop                                                                */
/* ------------------------------------------------------------------------ */

/* The exit code once every file is finished (sender) or -C reached. */
static int result_code(struct tool *t)
{
    unsigned done = 0, refused = 0, failed = 0;

    if (t->recv) {
        return atomic_load(&t->failed) > 0 ? FILE_EXIT_REFUSED : CLI_EXIT_OK;
    }
    secmq_file_sender_counts(t->sender, &done, &refused, &failed);
    return refused + failed > 0 ? FILE_EXIT_REFUSED : CLI_EXIT_OK;
}

static int connect_outbox(struct tool *t);

static int run(struct tool *t)
{
    double end = cli_mono_now() + t->timeout, flush_end = 0.0;
    char why[SECMQ_ERRMSG_BYTES];
    struct timespec ts;
    int left;

    for (;;) {
        if (cli_signal_received() != 0) {
            cli_debug("signal %d: disconnecting", cli_signal_received());
            cli_session_stop(&t->s, CLI_EXIT_OK);
            if (!t->recv) {
                file_out_end(&t->out);
                cli_err("interrupted before every file was delivered%s",
                        t->state != NULL ? "; run again to resume" : "");
                return CLI_EXIT_ERROR;
            }
            return CLI_EXIT_OK;
        }
        if (atomic_load(&t->s.stopped)) {
            return atomic_load(&t->s.exit_code);
        }
        if (t->offline && cli_mono_now() >= t->next_try_s &&
            connect_outbox(t) != CLI_EXIT_OK) {
            file_out_end(&t->out);
            return CLI_EXIT_ERROR;
        }
        left = t->recv ? secmq_file_receiver_tick(t->receiver)
                       : secmq_file_sender_tick(t->sender);
        if (left < 0) {
            if (t->recv) {
                secmq_file_receiver_errmsg(t->receiver, why, sizeof why);
            } else {
                secmq_file_sender_errmsg(t->sender, why, sizeof why);
            }
            file_out_end(&t->out);
            cli_err("%s", why);
            cli_session_stop(&t->s, CLI_EXIT_ERROR);
            return CLI_EXIT_ERROR;
        }
        if (!t->recv && left == 0) {
            if (t->outbox != NULL && !t->offline) {
                /* Every file is confirmed: what the outbox still holds
                 * is spare copies; let them go out (bounded) so the next
                 * run does not start with them. */
                (void)secmq_client_outbox_wait(t->s.client,
                                               SECMQ_OUTBOX_WAIT_EMPTY,
                                               (int)(FLUSH_S * 1000));
            }
            cli_session_stop(&t->s, result_code(t));
            return atomic_load(&t->s.exit_code);
        }
        if (t->recv && t->count > 0 && atomic_load(&t->finished) >= t->count) {
            /* Our last answers (DONE, REFUSED) must reach the broker
             * before we leave, or the sender waits for them in vain. */
            if (flush_end == 0.0) {
                flush_end = cli_mono_now() + FLUSH_S;
            }
            if (secmq_file_receiver_unacked(t->receiver) == 0 ||
                cli_mono_now() >= flush_end) {
                cli_session_stop(&t->s, result_code(t));
                return atomic_load(&t->s.exit_code);
            }
        }
        file_out_tick(&t->out);
        if (t->timeout > 0.0 && cli_mono_now() >= end) {
            cli_session_stop(&t->s, FILE_EXIT_TIMEOUT);
            file_out_end(&t->out);
            cli_err("Timed out%s%s",
                    !t->recv && atomic_load(&t->busy)
                        ? ": the receiver was busy (every transfer slot "
                          "taken) and did not take the file in time"
                        : "",
                    !t->recv && t->state != NULL ? "; run again to resume"
                                                 : "");
            return FILE_EXIT_TIMEOUT;
        }
        cli_mono_timespec(cli_mono_now() + TICK_MS / 1000.0, &ts);
        cli_wake_wait_until(&ts);
    }
}

/* send --outbox: open the outbox on the client (before the sender, which
 * sees it and publishes through it). */
static int attach_outbox(struct tool *t)
{
    secmq_outbox_config cfg;
    secmq_outbox_stats st;
    char why[SECMQ_ERRMSG_BYTES];
    uint64_t row;
    int rc;

    secmq_outbox_config_init(&cfg);
    cfg.path = t->outbox;
    /* The sender keeps at most --window chunks in it; room for that and
     * for manifests, so a full outbox means something is wrong. */
    cfg.max_inflight = t->so.window > SECMQ_OUTBOX_MAX_INFLIGHT
                           ? SECMQ_OUTBOX_MAX_INFLIGHT
                           : (int)t->so.window;
    cfg.max_rows = (uint64_t)t->so.window + 64u;
    row = (uint64_t)t->so.chunk_size + SECMQ_FILE_CHUNK_OVERHEAD +
          SECMQ_TOPIC_MAX;
    if (cfg.max_rows * row > cfg.max_bytes) {
        cfg.max_bytes = cfg.max_rows * row;
    }
    rc = secmq_client_set_outbox(t->s.client, &cfg);
    if (rc != SECMQ_OK) {
        secmq_client_errmsg(t->s.client, why, sizeof why);
        cli_err("%s", why[0] != '\0' ? why : secmq_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    secmq_client_on_durable(t->s.client, on_durable);
    secmq_client_on_delivered(t->s.client, on_delivered);
    if (secmq_client_outbox_stats(t->s.client, &st) == SECMQ_OK &&
        st.recovered > 0) {
        cli_debug("outbox %s: %llu message(s) from an earlier run; they are "
                  "sent first",
                  t->outbox, (unsigned long long)st.recovered);
    }
    return CLI_EXIT_OK;
}

static int retryable(int rc)
{
    return rc == SECMQ_E_CONN_REFUSED || rc == SECMQ_E_TIMEOUT ||
           rc == SECMQ_E_CONN_LOST || rc == SECMQ_E_NO_CONN ||
           rc == SECMQ_E_DNS || rc == SECMQ_E_IO;
}

/*
 * send --outbox: connect, or stay offline and try again later (the sender
 * commits to the outbox meanwhile). CLI_EXIT_OK or an exit code.
 */
static int connect_outbox(struct tool *t)
{
    char why[SECMQ_ERRMSG_BYTES] = "";
    int rc = secmq_client_connect(t->s.client);

    if (rc == SECMQ_OK) {
        rc = secmq_client_wait_connected(t->s.client, CLI_CONNECT_TIMEOUT_MS);
    }
    if (rc == SECMQ_OK) {
        if (t->offline) {
            cli_debug("connected to the broker; sending the outbox");
        }
        t->offline = 0;
        return cli_session_loop_start(&t->s);
    }
    if (!retryable(rc)) {
        return cli_session_fail(&t->s, rc, NULL);
    }
    if (!t->offline) {
        secmq_client_errmsg(t->s.client, why, sizeof why);
        cli_warn("broker unreachable (%s): queueing in outbox %s and "
                 "retrying",
                 why[0] != '\0' ? why : secmq_strerror(rc), t->outbox);
        t->retry_s = RETRY_MIN_S;
    } else {
        t->retry_s =
            t->retry_s * 2 > RETRY_MAX_S ? RETRY_MAX_S : t->retry_s * 2;
    }
    t->offline = 1;
    t->next_try_s = cli_mono_now() + t->retry_s;
    return CLI_EXIT_OK;
}

/* Create the sender or receiver (after the client, before connecting). */
static int make_transfer(struct tool *t)
{
    char err[600];
    int rc;

    /* The transfer seals and opens itself; its chunks are no channel
     * envelopes, which a client keyring would refuse. */
    (void)secmq_client_set_keyring(t->s.client, NULL);
    if (t->recv) {
        t->ro.state = t->state;
        rc = secmq_file_receiver_new(&t->receiver, t->s.client, t->s.keyring,
                                     t->topic, t->dir, &t->ro, on_event, t, err,
                                     sizeof err);
    } else {
        t->so.state = t->state;
        if (t->outbox != NULL && attach_outbox(t) != CLI_EXIT_OK) {
            return CLI_EXIT_ERROR;
        }
        rc = secmq_file_sender_new(&t->sender, t->s.client, t->s.keyring,
                                   t->topic, &t->so, on_event, t, err,
                                   sizeof err);
    }
    if (rc != SECMQ_OK) {
        cli_err("%s", err[0] ? err : secmq_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < t->nfiles; i++) {
        rc = secmq_file_sender_add(t->sender, t->files[i], t->name);
        if (rc != SECMQ_OK) {
            secmq_file_sender_errmsg(t->sender, err, sizeof err);
            cli_err("%s", err[0] ? err : secmq_strerror(rc));
            return CLI_EXIT_ERROR;
        }
    }
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    struct tool t;
    struct cli_conn o;
    struct cli_tool ct;
    int code;

    cli_msg_init("secmq-file");
    memset(&t, 0, sizeof t);
    secmq_file_send_opts_init(&t.so);
    secmq_file_recv_opts_init(&t.ro);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        file_usage_top();
        printf("\nSee secmq-file send --help and secmq-file recv --help.\n");
        return argc < 2 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        cli_print_version();
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "send") == 0) {
        ct = (struct cli_tool){send_opts, tool_option, &t, file_send_help};
    } else if (strcmp(argv[1], "recv") == 0) {
        t.recv = 1;
        ct = (struct cli_tool){recv_opts, tool_option, &t, file_recv_help};
    } else {
        cli_usage_err("unknown command '%s' (send or recv)", argv[1]);
        return CLI_EXIT_ERROR;
    }
    cli_conn_init(&o);
    code = cli_parse_v2(&o, &ct, tool_operand, argc - 1, argv + 1);
    if (code != 0 || check_options(&t, &o) != 0 || install_signals() != 0) {
        code = code > 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        goto out;
    }
    file_out_init(&t.out, t.json, t.recv, o.quiet);
    code = cli_session_open(&t.s, &o, &t, on_connected, cli_wake_on_stopped);
    if (code == 0) {
        code = make_transfer(&t);
    }
    if (code == 0) {
        secmq_client_on_message(t.s.client, on_message);
        secmq_client_on_publish(t.s.client, on_publish);
        secmq_client_on_subscribe(t.s.client, on_subscribe);
        if (t.outbox != NULL) {
            /* Committed work must be able to end cleanly from here on. */
            cli_signal_connected();
            code = connect_outbox(&t);
        } else {
            code = cli_session_connect(&t.s);
            if (code == 0) {
                cli_signal_connected();
                code = cli_session_loop_start(&t.s);
            }
        }
    }
    if (code == 0) {
        code = run(&t);
    }
    file_out_end(&t.out);
    cli_session_close(&t.s);
out:
    /* After the client: they borrowed it. */
    secmq_file_sender_free(t.sender);
    secmq_file_receiver_free(t.receiver);
    cli_conn_free(&o);
    free(t.files);
    free(t.state_buf);
    return code;
}
