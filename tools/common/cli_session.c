/*
 * cli_session.c -- create, connect and stop a secmq client for the tools.
 *
 * The one place where library return codes become the tools' stderr line
 * and exit code, so secmq-pub and secmq-sub explain failures alike. Owns the
 * connect, disconnect and log callbacks; the tools own the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_msg.h"
#include "cli_session.h"

/* ------------------------------------------------------------------------ */
/* Turning return codes into sentences                                      */
/* ------------------------------------------------------------------------ */

/*
 * The exit code for rc: the broker's CONNACK code for a refusal; with
 * s->mosquitto_codes, as mosquitto_pub/_sub 2.0 give them, MOSQ_ERR_TLS (8)
 * for any TLS failure and MOSQ_ERR_CONN_LOST (7) for a connection that was
 * lost (or, for a QoS 0 message, stayed away); else 1.
 */
static int exit_code_for(const struct cli_session *s, int rc)
{
    switch (rc) {
    case SECMQ_E_AUTH:
    case SECMQ_E_NOT_AUTHORIZED:
    case SECMQ_E_REFUSED:
    case SECMQ_E_PROTOCOL:
        if (s->reason > 0 && s->reason < 256) {
            return s->reason;
        }
        return CLI_EXIT_ERROR;
    case SECMQ_E_TLS:
    case SECMQ_E_TLS_CA:
    case SECMQ_E_TLS_HOSTNAME:
    case SECMQ_E_TLS_EXPIRED:
    case SECMQ_E_TLS_PIN:
        return s->mosquitto_codes ? CLI_EXIT_TLS : CLI_EXIT_ERROR;
    case SECMQ_E_CONN_LOST:
    case SECMQ_E_NO_CONN:
        return s->mosquitto_codes ? CLI_EXIT_CONN_LOST : CLI_EXIT_ERROR;
    default:
        return CLI_EXIT_ERROR;
    }
}

/* One sentence for rc, using the client's detail message when it has one. */
static void describe(const struct cli_session *s, int rc, char *out, size_t len)
{
    const struct cli_conn *o = s->opts;
    char detail[SECMQ_ERRMSG_BYTES] = "";
    const char *hint = "";
    const char *host = cli_conn_host(o);
    int port = cli_conn_port(o);

    switch (rc) {
    case SECMQ_E_AUTH:
        if (s->reason == 5 || s->reason == 135) {
            /* mosquitto says "not authorised" for a wrong password and for
             * a client id the broker's plugin ties to another user. */
            snprintf(out, len,
                     "broker refused: bad username or password, or a "
                     "client id this user may not use (-i/-I)");
            return;
        }
        snprintf(out, len, "broker refused: bad username or password");
        return;
    case SECMQ_E_NOT_AUTHORIZED:
        /* mosquitto answers "not authorised" to a wrong password too. */
        snprintf(out, len,
                 "broker refused: not authorised (wrong username or "
                 "password, or not allowed to connect)");
        return;
    case SECMQ_E_REFUSED:
    case SECMQ_E_PROTOCOL:
        if (s->reason > 0) {
            snprintf(out, len, "broker refused the connection (code %d)%s",
                     s->reason,
                     s->reason == 1 || s->reason == 132
                         ? ": it does not speak this MQTT version (-V)"
                         : "");
            return;
        }
        break;
    default:
        break;
    }
    if (s->client != NULL) {
        secmq_client_errmsg(s->client, detail, sizeof detail);
    }
    if (s->accepted == 0) {
        /* Before the first CONNACK a transport mix-up is the usual cause. */
        if (o->plain && (rc == SECMQ_E_CONN_LOST || rc == SECMQ_E_TIMEOUT ||
                         rc == SECMQ_E_PROTOCOL)) {
            hint = " (--no-tls was given: is this a TLS port?)";
        } else if (!o->plain && rc == SECMQ_E_TLS) {
            hint = " (is this a plain MQTT port? Plain TCP needs --no-tls)";
        }
    }
    if (rc == SECMQ_E_TLS_HOSTNAME) {
        hint = " (connect with -h set to a name in the broker's "
               "certificate)";
    }
    if (detail[0] != '\0') {
        /* The library's detail already names the cause (and its hints). */
        snprintf(out, len, "%s%s", detail,
                 rc == SECMQ_E_TLS_HOSTNAME ? hint : "");
    } else if (rc == SECMQ_E_CONN_LOST && s->accepted == 0) {
        snprintf(out, len,
                 "%s port %d closed the connection before the broker "
                 "answered%s",
                 host, port, hint);
    } else if (rc == SECMQ_E_TIMEOUT && s->accepted == 0) {
        snprintf(out, len, "no answer from %s port %d within %d s%s", host,
                 port, CLI_CONNECT_TIMEOUT_MS / 1000, hint);
    } else {
        snprintf(out, len, "%s%s", secmq_strerror(rc), hint);
    }
}

int cli_session_fail(struct cli_session *s, int rc, const char *what)
{
    char why[SECMQ_ERRMSG_BYTES + 256];

    describe(s, rc, why, sizeof why);
    if (what != NULL) {
        cli_err("%s: %s", what, why);
    } else {
        cli_err("%s", why);
    }
    return exit_code_for(s, rc);
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

static void on_connect(secmq_client *c, void *user, int rc, int reason,
                       int session_present)
{
    struct cli_session *s = user;

    (void)c;
    if (rc != SECMQ_OK) {
        s->reason = reason;
        /* The first refusal is reported by cli_session_connect(); a later
         * one (the loop reconnecting) ends the program like mosquitto's. */
        if (s->accepted > 0) {
            cli_session_stop(s, cli_session_fail(s, rc, "reconnect"));
        }
        return;
    }
    s->accepted++;
    atomic_store(&s->up, 1);
    if (s->accepted > 1) {
        cli_debug("reconnected (session present: %s)",
                  session_present ? "yes" : "no");
    }
    if (s->on_connected != NULL) {
        s->on_connected(s, session_present);
    }
}

static void on_disconnect(secmq_client *c, void *user, int rc)
{
    struct cli_session *s = user;
    char why[SECMQ_ERRMSG_BYTES + 256];

    (void)c;
    atomic_store(&s->up, 0);
    if (rc == SECMQ_OK || s->accepted == 0 || atomic_load(&s->stopped)) {
        return;
    }
    if (rc == SECMQ_E_QOS_UNSUPPORTED) {
        /* The library does not reconnect: nothing would change. */
        s->stop_rc = rc;
        cli_session_stop(s, cli_session_fail(s, rc, NULL));
        return;
    }
    describe(s, rc, why, sizeof why);
    cli_warn("connection lost: %s; reconnecting", why);
}

void cli_session_on_log(secmq_client *c, void *user, int level, const char *raw)
{
    /* SECURITY: library lines quote topics and ids that peers chose:
     * shown escaped, so they cannot drive the terminal. */
    char line[1024];

    (void)c;
    (void)user;
    if (!cli_msg_debug_enabled()) {
        /* Shown only with -d: libmosquitto logs every packet, so escaping
         * lines nobody sees would cost a pass over each one. */
        return;
    }
    (void)secmq_text_show(line, sizeof line, raw);
    if (level == SECMQ_LOG_ERROR) {
        cli_debug("library error: %s", line);
    } else if (level == SECMQ_LOG_WARNING) {
        cli_debug("library warning: %s", line);
    } else {
        cli_debug("%s", line);
    }
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

/* Name a missing or unreadable TLS file ourselves: secmq_client_new() can
 * only return a code. 0 or -1 after printing. */
static int check_readable(const char *path, const char *opt, int dir)
{
    int fd;

    if (path == NULL) {
        return 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
    if (fd < 0) {
        cli_err("cannot read %s %s: %s", opt, path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

int cli_session_open(struct cli_session *s, struct cli_conn *o, void *tool,
                     cli_connected_fn on_connected, cli_stopped_fn on_stopped)
{
    secmq_config cfg;
    int rc;

    memset(s, 0, sizeof *s);
    s->opts = o;
    s->tool = tool;
    s->on_connected = on_connected;
    s->on_stopped = on_stopped;
    atomic_init(&s->stopped, 0);
    atomic_init(&s->exit_code, CLI_EXIT_OK);
    atomic_init(&s->up, 0);
    atomic_init(&s->loop_running, 0);
    atomic_init(&s->disconnected, 0);
    if (!o->plain && (check_readable(o->cafile, "--cafile", 0) != 0 ||
                      check_readable(o->capath, "--capath", 1) != 0 ||
                      check_readable(o->certfile, "--cert", 0) != 0 ||
                      check_readable(o->keyfile, "--key", 0) != 0)) {
        cli_conn_forget_password(o);
        return CLI_EXIT_ERROR;
    }
    cli_conn_config(o, &cfg);
    rc = secmq_client_new(&s->client, &cfg, s);
    /* SECURITY: the library has its own (guarded) copy now, or failed. */
    cli_conn_forget_password(o);
    if (rc != SECMQ_OK) {
        s->client = NULL;
        if (rc == SECMQ_E_TLS || rc == SECMQ_E_IO) {
            cli_err("cannot load the TLS certificates or key: %s",
                    secmq_strerror(rc));
        } else {
            cli_err("cannot create the client: %s", secmq_strerror(rc));
        }
        return CLI_EXIT_ERROR;
    }
    if (o->keyring != NULL) {
        char why[256];
        rc = secmq_keyring_open(&s->keyring, o->keyring, why, sizeof why);
        if (rc != SECMQ_OK) {
            cli_err("keyring %s: %s", o->keyring, why);
            secmq_client_free(s->client);
            s->client = NULL;
            return CLI_EXIT_ERROR;
        }
        (void)secmq_client_set_keyring(s->client, s->keyring);
        cli_debug("keyring %s: identity '%s'", o->keyring,
                  secmq_keyring_name(s->keyring));
    }
    if (o->has_expiry) {
        /* -x: checked to go with -V mqttv5 when parsed. */
        (void)secmq_client_set_session_expiry(s->client, o->session_expiry);
    }
    secmq_client_on_connect(s->client, on_connect);
    secmq_client_on_disconnect(s->client, on_disconnect);
    /* Always set, so the library's own stderr lines appear only with -d. */
    secmq_client_on_log(s->client, cli_session_on_log);
    /* Without -d nothing below a warning is shown: libmosquitto's line per
     * packet is then not even made. */
    if (secmq_client_set_log_level(s->client, cli_msg_debug_enabled()
                                                  ? SECMQ_LOG_DEBUG
                                                  : SECMQ_LOG_WARNING) !=
        SECMQ_OK) {
        return cli_session_fail(s, SECMQ_E_INVAL, "cannot set the log level");
    }
    return CLI_EXIT_OK;
}

int cli_session_connect(struct cli_session *s)
{
    const struct cli_conn *o = s->opts;
    secmq_tls_info info;
    int rc;

    if (!o->plain && o->insecure) {
        cli_alert("--insecure: the broker's certificate is NOT checked "
                  "against the host name; anyone with a certificate from "
                  "the same CA can pose as the broker. Use for testing "
                  "only.");
    }
    cli_debug("connecting to %s port %d over %s", cli_conn_host(o),
              cli_conn_port(o), o->plain ? "plain TCP (no TLS)" : "TLS");
    rc = secmq_client_connect(s->client);
    if (rc != SECMQ_OK) {
        return cli_session_fail(s, rc, NULL);
    }
    rc = secmq_client_wait_connected(s->client, CLI_CONNECT_TIMEOUT_MS);
    if (rc != SECMQ_OK) {
        return cli_session_fail(s, rc, NULL);
    }
    cli_debug("connected as client id '%s'", secmq_client_id(s->client));
    if (!o->plain && cli_msg_debug_enabled() &&
        secmq_client_tls_info(s->client, &info) == SECMQ_OK) {
        cli_debug("TLS: %s, cipher %s%s", info.version, info.cipher,
                  info.resumed ? ", resumed session" : "");
    }
    return CLI_EXIT_OK;
}

int cli_session_loop_start(struct cli_session *s)
{
    int rc = secmq_client_loop_start(s->client);

    if (rc != SECMQ_OK) {
        return cli_session_fail(s, rc, "cannot start the network loop");
    }
    atomic_store(&s->loop_running, 1);
    return CLI_EXIT_OK;
}

void cli_session_stop(struct cli_session *s, int exit_code)
{
    int expected = 0;

    if (!atomic_compare_exchange_strong(&s->stopped, &expected, 1)) {
        return;
    }
    atomic_store(&s->exit_code, exit_code);
    atomic_store(&s->disconnected,
                 secmq_client_disconnect(s->client) == SECMQ_OK);
    if (s->on_stopped != NULL) {
        s->on_stopped(s);
    }
}

void cli_session_close(struct cli_session *s)
{
    int expected = 0;

    if (s->client == NULL) {
        return;
    }
    if (atomic_compare_exchange_strong(&s->stopped, &expected, 1)) {
        atomic_store(&s->disconnected,
                     secmq_client_disconnect(s->client) == SECMQ_OK);
    }
    if (atomic_load(&s->loop_running)) {
        /* Without a connection to end, a polite stop could wait forever. */
        (void)secmq_client_loop_stop(s->client,
                                     atomic_load(&s->disconnected) ? 0 : 1);
        atomic_store(&s->loop_running, 0);
    }
    secmq_client_free(s->client);
    s->client = NULL;
    /* After the client: it borrowed the keyring. */
    secmq_keyring_free(s->keyring);
    s->keyring = NULL;
}

double cli_mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_mono_timespec(double t, struct timespec *ts)
{
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec < 0) {
        ts->tv_nsec = 0;
    } else if (ts->tv_nsec > 999999999L) {
        ts->tv_nsec = 999999999L;
    }
}
