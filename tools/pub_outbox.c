/*
 * pub_outbox.c -- secmq-pub --outbox: commit first, send when the broker is
 * there.
 *
 * Options, opening the outbox, committing each message, connecting (in the
 * background with bounded backoff while -l keeps reading), and waiting at
 * the end until the broker has acknowledged everything, or saying what stays
 * queued. The order and durability rules are the library's (secmq/outbox.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_msg.h"
#include "pub_outbox.h"

/* Background reconnect attempts: from this delay, doubling, up to the max. */
#define CONNECT_DELAY_MIN_S 0.5
#define CONNECT_DELAY_MAX_S 8.0
/* Default of --outbox-wait. */
#define DEFAULT_WAIT_S 10.0

/* The one outbox of this process, for the library's callbacks. */
static struct pub_outbox *the_ob;

void pub_outbox_init(struct pub_outbox *ob)
{
    memset(ob, 0, sizeof *ob);
    ob->sync = SECMQ_OUTBOX_SYNC_FULL;
    ob->policy = SECMQ_OUTBOX_REFUSE_NEW;
    ob->wait_s = DEFAULT_WAIT_S;
}

void pub_outbox_help(void)
{
    fputs(
        "Durable outbox:\n"
        " --outbox FILE       commit every QoS 1/2 message to the sqlite "
        "file FILE\n"
        "                     (created 0600) before sending it; messages the "
        "broker has\n"
        "                     not acknowledged stay there and are sent first, "
        "in order,\n"
        "                     by the next run with the same FILE. With "
        "--keyring only\n"
        "                     envelopes (ciphertext) are stored on sealed "
        "topics; other\n"
        "                     payloads are stored as given. A broker that is "
        "away does\n"
        "                     not stop -l: lines are queued and connecting "
        "is retried\n"
        "                     in the background (every 0.5..8 s)\n"
        " --outbox-sync MODE  full (default: nothing acknowledged is lost on "
        "power loss)\n"
        "                     or normal (faster; a power cut can lose the "
        "last commits)\n"
        " --outbox-max-rows N   bound on queued messages (default 100000)\n"
        " --outbox-max-bytes N  bound on queued bytes, topic + stored "
        "payload\n"
        "                     (default 67108864)\n"
        " --outbox-full POLICY  at a bound: refuse (default: the new "
        "message is not\n"
        "                     queued, said on stderr, exit status 1) or "
        "drop-oldest\n"
        "                     (the oldest unsent messages are deleted, "
        "with a warning)\n"
        " --outbox-qos0       QoS 0 messages go through the outbox too\n"
        " --outbox-wait SEC   at the end, how long to wait for an absent "
        "broker before\n"
        "                     leaving messages queued (default 10)\n"
        "                     A message damaged in FILE (checked by its "
        "checksum) is\n"
        "                     named, set aside in FILE's quarantine table "
        "and never\n"
        "                     sent; the others are (exit status 1). A "
        "message FILE\n"
        "                     cannot take (disk full) is said and not sent; "
        "what was\n"
        "                     queued before still is (exit status 1)\n"
        "                     A broker without QoS 2 (RabbitMQ answers QoS 2 "
        "with PUBACK):\n"
        "                     the QoS 2 messages are kept in FILE, set aside "
        "and not\n"
        "                     sent, said with their count (exit status 1, "
        "also in each\n"
        "                     later run while they stay); the QoS 0/1 "
        "messages behind\n"
        "                     them are sent by the next run\n"
        "                     A message sealed under a key the keyring has "
        "erased before\n"
        "                     it could be sent (a channel with --epoch and "
        "the broker away\n"
        "                     longer than an epoch and its grace, or a "
        "rotated channel's\n"
        "                     previous key past its grace) is named, set "
        "aside\n"
        "                     in FILE's quarantine table and never sent (exit "
        "status 1):\n"
        "                     only its ciphertext was kept, so it cannot be "
        "sealed again\n"
        " --outbox-release-qos2 QOS  before connecting, put those set-aside "
        "QoS 2\n"
        "                     messages back in the queue, sent first: at "
        "QoS 1 (they\n"
        "                     are rewritten as QoS 1 messages; receivers "
        "with a keyring\n"
        "                     drop any copy) or at QoS 2 (for a broker that "
        "does QoS 2)\n"
        " -d                  with --outbox: prints the queue depth and "
        "counters\n"
        "\n",
        stdout);
}

int pub_outbox_option(struct pub_outbox *ob, int id, const char *name,
                      const char *arg, char *err, size_t errlen)
{
    long v;

    switch (id) {
    case PO_OUTBOX:
        ob->path = arg;
        return 0;
    case PO_SYNC:
        if (strcmp(arg, "full") == 0) {
            ob->sync = SECMQ_OUTBOX_SYNC_FULL;
        } else if (strcmp(arg, "normal") == 0) {
            ob->sync = SECMQ_OUTBOX_SYNC_NORMAL;
        } else {
            snprintf(err, errlen, "%s: full or normal, not '%s'", name, arg);
            return -1;
        }
        return 0;
    case PO_FULL:
        if (strcmp(arg, "refuse") == 0) {
            ob->policy = SECMQ_OUTBOX_REFUSE_NEW;
        } else if (strcmp(arg, "drop-oldest") == 0) {
            ob->policy = SECMQ_OUTBOX_DROP_OLDEST;
        } else {
            snprintf(err, errlen, "%s: refuse or drop-oldest, not '%s'", name,
                     arg);
            return -1;
        }
        return 0;
    case PO_MAX_ROWS:
    case PO_MAX_BYTES:
        if (cli_parse_long(arg, 1, 0x7fffffffffffL, &v) != 0) {
            snprintf(err, errlen, "%s: needs a number of 1 or more, not '%s'",
                     name, arg);
            return -1;
        }
        if (id == PO_MAX_ROWS) {
            ob->max_rows = v;
        } else {
            ob->max_bytes = v;
        }
        return 0;
    case PO_QOS0:
        ob->qos0 = 1;
        return 0;
    case PO_RELEASE_QOS2:
        if (strcmp(arg, "1") != 0 && strcmp(arg, "2") != 0) {
            snprintf(err, errlen, "%s: 1 or 2, not '%s'", name, arg);
            return -1;
        }
        ob->release_qos2 = arg[0] - '0';
        return 0;
    case PO_WAIT:
        if (cli_parse_seconds(arg, 86400.0, &ob->wait_s) != 0) {
            snprintf(err, errlen,
                     "%s: needs seconds between 0 and 86400, not '%s'", name,
                     arg);
            return -1;
        }
        return 0;
    default:
        snprintf(err, errlen, "%s: not handled", name);
        return -1;
    }
}

int pub_outbox_wants(const struct pub_outbox *ob, int qos)
{
    return ob->path != NULL && (qos > 0 || ob->qos0);
}

/* ---- callbacks ---- */

static void on_delivered(secmq_client *c, void *user, uint64_t id, int rc)
{
    struct pub_outbox *ob = the_ob;

    (void)c;
    (void)user;
    pthread_mutex_lock(&ob->lock);
    if (rc == SECMQ_E_NO_RECEIPT) {
        /* Acknowledged by the broker, given up for want of receipts:
         * pub_receipts.c counts and reports it. */
        ob->delivered++;
        pthread_cond_broadcast(&ob->cond);
        pthread_mutex_unlock(&ob->lock);
        return;
    }
    if (rc == SECMQ_E_DB || rc == SECMQ_E_QOS_UNSUPPORTED ||
        rc == SECMQ_E_NO_KEY) {
        /* Never sent: the library set the row aside in the file, damaged,
         * at QoS 2 for a broker without QoS 2, or sealed under a key the
         * keyring has erased since (counted by the library). */
        if (rc == SECMQ_E_DB) {
            ob->damaged++;
        } else if (rc == SECMQ_E_QOS_UNSUPPORTED) {
            ob->held++;
        }
        cli_err("outbox %s: message %" PRIu64 " %s: set aside in the file's "
                "quarantine table and not sent",
                ob->path, id,
                rc == SECMQ_E_DB
                    ? "is damaged in the file (its checksum does not match, "
                      "or it cannot be read)"
                : rc == SECMQ_E_NO_KEY
                    ? "was sealed under an erased key (an epoch, or a "
                      "previous key, past its grace: the keyring no longer "
                      "holds it, receivers would refuse it, and it cannot be "
                      "sealed again)"
                    : "is at QoS 2 and the broker does not support QoS 2 (it "
                      "answered QoS 2 with PUBACK); it is kept");
        pthread_cond_broadcast(&ob->cond);
        pthread_mutex_unlock(&ob->lock);
        return;
    }
    ob->delivered++;
    if (rc != SECMQ_OK) {
        ob->delivery_refused++;
        ob->delivery_rc = rc;
        cli_debug("outbox message %" PRIu64 " refused: %s", id,
                  secmq_strerror(rc));
    }
    pthread_cond_broadcast(&ob->cond);
    pthread_mutex_unlock(&ob->lock);
}

static secmq_outbox_stats stats(struct pub_outbox *ob)
{
    secmq_outbox_stats st;

    memset(&st, 0, sizeof st);
    (void)secmq_client_outbox_stats_v2(ob->s->client, &st, sizeof st);
    return st;
}

static void print_stats(struct pub_outbox *ob, const char *when)
{
    secmq_outbox_stats st = stats(ob);

    cli_debug("outbox %s %s: %" PRIu64 " message(s), %" PRIu64
              " bytes queued (bounds %" PRIu64 ", %" PRIu64
              " bytes); recovered %" PRIu64 ", queued %" PRIu64
              ", committed %" PRIu64 " in %" PRIu64 " commit(s), sent %" PRIu64
              ", acknowledged %" PRIu64 ", in flight %" PRIu64
              ", dropped oldest %" PRIu64 ", refused full %" PRIu64
              ", failed %" PRIu64 ", damaged %" PRIu64
              " (set aside in all %" PRIu64 "), held at QoS 2 %" PRIu64
              ", under an erased key %" PRIu64 ", not yet deleted %" PRIu64
              ", commit errors %" PRIu64,
              ob->path, when, st.rows, st.bytes, st.max_rows, st.max_bytes,
              st.recovered, st.queued, st.committed, st.commits, st.sent,
              st.acked, st.inflight, st.dropped_oldest, st.refused_full,
              st.failed, st.damaged, st.quarantined, st.held_qos2,
              st.key_erased, st.undeleted, st.commit_errors);
}

int pub_outbox_attach(struct pub_outbox *ob, struct cli_session *s)
{
    secmq_outbox_config cfg;
    secmq_outbox_stats st;
    char why[SECMQ_ERRMSG_BYTES];
    pthread_condattr_t ca;
    int rc;

    ob->s = s;
    the_ob = ob;
    pthread_mutex_init(&ob->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ob->cond, &ca);
    pthread_condattr_destroy(&ca);
    secmq_outbox_config_init(&cfg);
    cfg.path = ob->path;
    cfg.sync = (secmq_outbox_sync)ob->sync;
    cfg.policy = (secmq_outbox_policy)ob->policy;
    cfg.qos0 = ob->qos0;
    if (ob->max_rows > 0) {
        cfg.max_rows = (uint64_t)ob->max_rows;
    }
    if (ob->max_bytes > 0) {
        cfg.max_bytes = (uint64_t)ob->max_bytes;
    }
    rc = secmq_client_set_outbox(s->client, &cfg);
    if (rc != SECMQ_OK) {
        secmq_client_errmsg(s->client, why, sizeof why);
        cli_err("%s", why[0] != '\0' ? why : secmq_strerror(rc));
        return CLI_EXIT_ERROR;
    }
    secmq_client_on_delivered(s->client, on_delivered);
    if (ob->release_qos2 != 0) {
        uint64_t n = 0;
        rc = secmq_client_outbox_release_qos2(s->client, ob->release_qos2, &n);
        if (rc != SECMQ_OK) {
            secmq_client_errmsg(s->client, why, sizeof why);
            cli_err("outbox %s: cannot release the QoS 2 messages set aside: "
                    "%s",
                    ob->path, why[0] != '\0' ? why : secmq_strerror(rc));
            return CLI_EXIT_ERROR;
        }
        cli_warn("outbox %s: %" PRIu64 " QoS 2 message(s) set aside earlier "
                 "released at QoS %d; they are sent first",
                 ob->path, n, ob->release_qos2);
    }
    st = stats(ob);
    if (st.held_qos2 > 0) {
        cli_warn("outbox %s: %" PRIu64 " QoS 2 message(s) set aside by an "
                 "earlier run (the broker did not support QoS 2) stay in the "
                 "file and are not sent (--outbox-release-qos2 1 sends them "
                 "at QoS 1)",
                 ob->path, st.held_qos2);
    }
    if (st.recovered > 0) {
        cli_debug("outbox %s: %" PRIu64 " message(s) (%" PRIu64
                  " bytes) queued from before; they are sent first",
                  ob->path, st.recovered, st.bytes);
    }
    ob->erased_at_open = st.key_erased;
    if (st.key_erased > 0) {
        cli_warn("outbox %s: %" PRIu64 " message(s) sealed under erased "
                 "keys, set aside by an earlier run, stay in its "
                 "quarantine table; they are never sent",
                 ob->path, st.key_erased);
    }
    if (st.quarantined > st.damaged) {
        cli_warn("outbox %s: %" PRIu64 " damaged message(s) set aside by an "
                 "earlier run stay in its quarantine table; they are never "
                 "sent",
                 ob->path, st.quarantined - st.damaged);
    }
    print_stats(ob, "opened");
    return CLI_EXIT_OK;
}

static void warn_drops(struct pub_outbox *ob, int force)
{
    secmq_outbox_stats st = stats(ob);
    double now = cli_mono_now();

    if (st.dropped_oldest > ob->dropped_seen &&
        (force || now - ob->last_drop_warn >= 1.0)) {
        cli_warn("outbox %s is full (%" PRIu64 " messages, %" PRIu64
                 " bytes): dropped the %" PRIu64
                 " oldest unsent message(s) (%" PRIu64 " in all)",
                 ob->path, st.rows, st.bytes,
                 st.dropped_oldest - ob->dropped_seen, st.dropped_oldest);
        ob->dropped_seen = st.dropped_oldest;
        ob->last_drop_warn = now;
    }
}

int pub_outbox_publish(struct pub_outbox *ob, const char *topic,
                       const void *payload, size_t len, int qos, int retain,
                       int raw)
{
    char what[300];
    uint64_t id = 0;
    int rc;

    rc = secmq_client_publish_v2(ob->s->client, &id, NULL, topic, payload, len,
                                 qos, retain, raw ? SECMQ_PUBLISH_RAW : 0u);
    if (rc == SECMQ_OK && id != 0) {
        if (ob->first_id == 0) {
            ob->first_id = id;
        }
        ob->last_id = id;
    }
    if (rc == SECMQ_E_FULL) {
        char why[SECMQ_ERRMSG_BYTES];
        if (ob->refused_full++ == 0) {
            secmq_client_errmsg(ob->s->client, why, sizeof why);
            cli_err("message not queued: %s (--outbox-full refuse; further "
                    "refusals are counted)",
                    why);
        }
        return 0;
    }
    if (rc == SECMQ_E_IO) {
        /* The file cannot take it (disk full, I/O error): what is queued
         * already is still sent; the exit status says this one was not. */
        char why[SECMQ_ERRMSG_BYTES];
        if (ob->not_queued++ == 0) {
            secmq_client_errmsg(ob->s->client, why, sizeof why);
            cli_err("message for '%.200s' not queued and not sent: %s "
                    "(messages queued before are still sent; further "
                    "failures are counted)",
                    topic, why);
        }
        return 0;
    }
    if (rc != SECMQ_OK) {
        snprintf(what, sizeof what, "cannot queue a message for '%.200s'",
                 topic);
        return cli_session_fail(ob->s, rc, what);
    }
    warn_drops(ob, 0);
    return 0;
}

/* ---- connecting ---- */

/* A failure that a broker coming back would cure. */
static int retryable(int rc)
{
    return rc == SECMQ_E_CONN_REFUSED || rc == SECMQ_E_TIMEOUT ||
           rc == SECMQ_E_CONN_LOST || rc == SECMQ_E_NO_CONN ||
           rc == SECMQ_E_DNS || rc == SECMQ_E_IO;
}

static int try_connect(struct pub_outbox *ob)
{
    int rc = secmq_client_connect(ob->s->client);

    if (rc == SECMQ_OK) {
        rc = secmq_client_wait_connected(ob->s->client, CLI_CONNECT_TIMEOUT_MS);
    }
    return rc;
}

static void reason_of(struct pub_outbox *ob, int rc, char *buf, size_t len)
{
    char detail[SECMQ_ERRMSG_BYTES] = "";

    secmq_client_errmsg(ob->s->client, detail, sizeof detail);
    snprintf(buf, len, "%s", detail[0] != '\0' ? detail : secmq_strerror(rc));
}

static void say_queued(struct pub_outbox *ob, const char *why)
{
    secmq_outbox_stats st = stats(ob);

    if (ob->ephemeral) {
        cli_err("broker unreachable (%s): %" PRIu64 " message(s) not sent "
                "(without --outbox nothing is kept for a next run)",
                why, st.rows);
        return;
    }

    cli_err("broker unreachable (%s): %" PRIu64 " message(s) stay queued in "
            "outbox %s; the next run with --outbox %s sends them first",
            why, st.rows, ob->path, ob->path);
}

static int closing(struct pub_outbox *ob)
{
    int c;

    pthread_mutex_lock(&ob->lock);
    c = ob->closing;
    pthread_mutex_unlock(&ob->lock);
    return c || atomic_load(&ob->s->stopped);
}

static void *connector_main(void *arg)
{
    struct pub_outbox *ob = arg;
    double delay = CONNECT_DELAY_MIN_S;

    while (!closing(ob)) {
        struct timespec until;
        char why[SECMQ_ERRMSG_BYTES];
        int rc;

        pthread_mutex_lock(&ob->lock);
        cli_mono_timespec(cli_mono_now() + delay, &until);
        while (!ob->closing && pthread_cond_timedwait(&ob->cond, &ob->lock,
                                                      &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&ob->lock);
        if (closing(ob)) {
            break;
        }
        rc = try_connect(ob);
        if (rc == SECMQ_OK) {
            cli_debug("connected to the broker; sending the outbox");
            if (cli_session_loop_start(ob->s) != CLI_EXIT_OK) {
                cli_session_stop(ob->s, CLI_EXIT_ERROR);
            }
            break;
        }
        if (!retryable(rc)) {
            cli_session_stop(ob->s, cli_session_fail(ob->s, rc, NULL));
            break;
        }
        reason_of(ob, rc, why, sizeof why);
        cli_debug("broker still unreachable (%s); next try in %.1f s", why,
                  delay * 2 < CONNECT_DELAY_MAX_S ? delay * 2
                                                  : CONNECT_DELAY_MAX_S);
        delay =
            delay * 2 < CONNECT_DELAY_MAX_S ? delay * 2 : CONNECT_DELAY_MAX_S;
    }
    return NULL;
}

/* PUB_EXIT_QUEUED promises a next run: not for an ephemeral file. */
static int queued_code(const struct pub_outbox *ob, int code)
{
    return ob->ephemeral && code == PUB_EXIT_QUEUED ? CLI_EXIT_ERROR : code;
}

/* code, or CLI_EXIT_ERROR (said on stderr) when a message of this run
 * could not even be queued: exit status 75 promises that everything this
 * run was given waits in the outbox, 0 that it was delivered. */
static int not_all_queued(struct pub_outbox *ob, int code)
{
    if ((code == CLI_EXIT_OK || code == PUB_EXIT_QUEUED) &&
        ob->not_queued > 0) {
        cli_err("outbox %s: %lu message(s) could not be queued and were not "
                "sent",
                ob->path, ob->not_queued);
        return CLI_EXIT_ERROR;
    }
    return code;
}

int pub_outbox_connect(struct pub_outbox *ob, int background)
{
    char why[SECMQ_ERRMSG_BYTES];
    int rc = try_connect(ob);

    if (rc == SECMQ_OK) {
        cli_debug("connected as client id '%s'",
                  secmq_client_id(ob->s->client));
        return cli_session_loop_start(ob->s);
    }
    if (!retryable(rc)) {
        return cli_session_fail(ob->s, rc, NULL);
    }
    reason_of(ob, rc, why, sizeof why);
    if (!background) {
        say_queued(ob, why);
        return queued_code(ob, not_all_queued(ob, PUB_EXIT_QUEUED));
    }
    cli_warn("broker unreachable (%s): queueing in outbox %s and retrying "
             "in the background",
             why, ob->path);
    if (pthread_create(&ob->connector, NULL, connector_main, ob) != 0) {
        cli_err("cannot start a thread");
        return CLI_EXIT_ERROR;
    }
    ob->connector_started = 1;
    return CLI_EXIT_OK;
}

/* code, or CLI_EXIT_ERROR when QoS 2 messages stay set aside in the file
 * (said on stderr, with the way out, whatever code was). */
static int say_held(struct pub_outbox *ob, int code)
{
    secmq_outbox_stats st = stats(ob);

    if (st.held_qos2 == 0) {
        return code;
    }
    cli_err("outbox %s: %" PRIu64 " QoS 2 message(s) set aside and not sent: "
            "the broker does not support QoS 2 (it answered QoS 2 with "
            "PUBACK; RabbitMQ does). They stay in the file; run again with "
            "--outbox %s --outbox-release-qos2 1 to send them at QoS 1, or "
            "--outbox-release-qos2 2 with a broker that does QoS 2%s",
            ob->path, st.held_qos2, ob->path,
            st.rows > 0 ? "; the other queued messages are sent by the next "
                          "run"
                        : "");
    return code == CLI_EXIT_OK || code == PUB_EXIT_QUEUED ? CLI_EXIT_ERROR
                                                          : code;
}

/* 1 when rows are left and every one was handed and waits for receipts
 * (the rows are read first: a row counted there and not yet awaiting can
 * only make awaiting smaller, never equal by chance), and each of this
 * run's rows still in the file was acknowledged by the broker. */
static int only_awaiting(struct pub_outbox *ob)
{
    secmq_receipt_stats rs;
    secmq_outbox_stats st = stats(ob);

    memset(&rs, 0, sizeof rs);
    if (st.rows == 0 ||
        secmq_client_receipt_stats(ob->s->client, &rs, sizeof rs) != SECMQ_OK ||
        rs.awaiting != st.rows) {
        return 0;
    }
    for (uint64_t id = ob->first_id; id != 0 && id <= ob->last_id; id++) {
        secmq_receipt_row row;
        if (secmq_client_receipt_row(ob->s->client, id, &row, sizeof row) ==
                SECMQ_OK &&
            row.state != SECMQ_ROW_AWAITING) {
            return 0;
        }
    }
    return 1;
}

int pub_outbox_finish(struct pub_outbox *ob)
{
    double away_since = -1.0;
    int code = CLI_EXIT_OK;

    for (;;) {
        int rc = secmq_client_outbox_wait(ob->s->client,
                                          SECMQ_OUTBOX_WAIT_EMPTY, 200);
        if (rc == SECMQ_OK || (rc == SECMQ_E_TIMEOUT && only_awaiting(ob))) {
            break;
        }
        if (rc == SECMQ_E_IO) {
            secmq_outbox_stats st = stats(ob);
            char why[SECMQ_ERRMSG_BYTES];
            secmq_client_errmsg(ob->s->client, why, sizeof why);
            if (st.rows == 0 && st.undeleted > 0) {
                cli_err("outbox %s: %" PRIu64 " message(s) were delivered "
                        "but cannot be deleted from the file (%s); the next "
                        "run with --outbox %s sends them again (receivers "
                        "with a keyring drop the copies)",
                        ob->path, st.undeleted, why, ob->path);
            } else {
                cli_err("outbox %s: cannot read queued messages back from "
                        "the file (%s): %" PRIu64 " message(s) stay queued "
                        "and were not sent",
                        ob->path, why, st.rows);
            }
            code = CLI_EXIT_ERROR;
            break;
        }
        if (atomic_load(&ob->s->stopped)) {
            code = atomic_load(&ob->s->exit_code);
            if (code == CLI_EXIT_OK) {
                code = PUB_EXIT_QUEUED;
            }
            if (code == PUB_EXIT_QUEUED) {
                say_queued(ob, "stopped");
            }
            break;
        }
        if (atomic_load(&ob->s->up)) {
            away_since = -1.0;
        } else if (away_since < 0) {
            away_since = cli_mono_now();
        } else if (cli_mono_now() - away_since >= ob->wait_s) {
            char why[64];
            snprintf(why, sizeof why, "no connection for %.0f s", ob->wait_s);
            say_queued(ob, why);
            code = PUB_EXIT_QUEUED;
            break;
        }
    }
    warn_drops(ob, 1);
    code = not_all_queued(ob, code);
    code = say_held(ob, code);
    {
        secmq_outbox_stats st = stats(ob);
        if (code == CLI_EXIT_OK && st.damaged > 0) {
            cli_err("outbox %s: %" PRIu64 " damaged message(s) were set "
                    "aside and not sent; the others were delivered",
                    ob->path, st.damaged);
            code = CLI_EXIT_ERROR;
        }
        if (st.key_erased > ob->erased_at_open) {
            cli_err("outbox %s: %" PRIu64 " message(s) were sealed under "
                    "keys erased before they could be sent: set aside "
                    "and not sent (publish them again)%s",
                    ob->path, st.key_erased - ob->erased_at_open,
                    code == CLI_EXIT_OK ? "; the others were delivered" : "");
            code = code == CLI_EXIT_OK || code == PUB_EXIT_QUEUED
                       ? CLI_EXIT_ERROR
                       : code;
        }
    }
    if (code == CLI_EXIT_OK && ob->refused_full > 0) {
        cli_err("outbox %s was full: %lu message(s) were refused and not "
                "sent",
                ob->path, ob->refused_full);
        code = CLI_EXIT_ERROR;
    }
    pthread_mutex_lock(&ob->lock);
    if (code == CLI_EXIT_OK && ob->delivery_refused > 0) {
        cli_err("the broker refused %lu of %lu message(s): %s",
                ob->delivery_refused, ob->delivered,
                secmq_strerror(ob->delivery_rc));
        code = CLI_EXIT_ERROR;
    }
    pthread_mutex_unlock(&ob->lock);
    print_stats(ob, "at exit");
    return queued_code(ob, code);
}

void pub_outbox_close(struct pub_outbox *ob)
{
    if (ob->s == NULL) {
        return;
    }
    pthread_mutex_lock(&ob->lock);
    ob->closing = 1;
    pthread_cond_broadcast(&ob->cond);
    pthread_mutex_unlock(&ob->lock);
    if (ob->connector_started) {
        pthread_join(ob->connector, NULL);
        ob->connector_started = 0;
    }
}
