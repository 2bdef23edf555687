/*
 * cli_session.h -- a secmq client as the command-line tools use it.
 *
 * Creates the client from parsed options, connects and waits for the
 * broker's answer, turns every failure into one line on stderr plus an exit
 * code, and stops cleanly. What to publish or print is the tool's business.
 */
#ifndef CLI_SESSION_H
#define CLI_SESSION_H

#include <stdatomic.h>
#include <time.h>

#include "cli_options.h"
#include "secmq.h"

/* How long to wait for TCP, TLS and the broker's CONNACK. */
#define CLI_CONNECT_TIMEOUT_MS 10000

/* Exit codes that are not CONNACK codes. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
/* mosquitto_pub/_sub's exit codes (their MOSQ_ERR_* values). */
#define CLI_EXIT_CONN_LOST 7 /* MOSQ_ERR_CONN_LOST */
#define CLI_EXIT_TLS 8       /* MOSQ_ERR_TLS */

struct cli_session;

/*
 * Called on the loop thread after every accepted CONNACK (the first one
 * runs inside cli_session_connect(), on the caller's thread).
 */
typedef void (*cli_connected_fn)(struct cli_session *s, int session_present);
/* Called once when the session stops by itself (see cli_session_stop()). */
typedef void (*cli_stopped_fn)(struct cli_session *s);

struct cli_session {
    struct cli_conn *opts;  /* BORROWED */
    secmq_client *client;   /* owned; NULL until opened */
    secmq_keyring *keyring; /* owned; NULL without --keyring */
    void *tool;             /* the tool's state, for its callbacks */
    cli_connected_fn on_connected;
    cli_stopped_fn on_stopped;
    atomic_int stopped;      /* 1 once cli_session_stop() ran */
    atomic_int exit_code;    /* set by cli_session_stop() */
    atomic_int up;           /* 1 while the broker has accepted us */
    atomic_int loop_running; /* 1 after cli_session_loop_start() */
    atomic_int disconnected; /* 1 if our DISCONNECT was accepted */
    int accepted;            /* CONNACKs accepted so far */
    int reason;              /* raw code of the last CONNACK refusal */
    int stop_rc;             /* the library code that stopped the session
                                on a lost link (SECMQ_E_QOS_UNSUPPORTED),
                                else 0 */
    int mosquitto_codes;     /* set to 1 after cli_session_open() for
                                CLI_EXIT_TLS and CLI_EXIT_CONN_LOST as
                                mosquitto_pub/_sub exit; 0: those are 1 */
};

/*
 * cli_session_open -- create the client (no network yet). The client's
 * user pointer is s; callbacks of the tool find their state in s->tool.
 * The password in *o is wiped once the library holds its copy.
 * Returns 0, or an exit code after printing the reason.
 */
int cli_session_open(struct cli_session *s, struct cli_conn *o, void *tool,
                     cli_connected_fn on_connected, cli_stopped_fn on_stopped);

/*
 * cli_session_connect -- connect, and wait at most CLI_CONNECT_TIMEOUT_MS
 * for the broker to accept. With -d, prints the client id and the TLS
 * version and cipher. Returns 0, the CONNACK code when the broker refused
 * (as mosquitto's clients do), CLI_EXIT_TLS or CLI_EXIT_CONN_LOST (with
 * s->mosquitto_codes), or 1; the reason is printed.
 */
int cli_session_connect(struct cli_session *s);

/* cli_session_loop_start -- run the network on a thread. 0 or exit code. */
int cli_session_loop_start(struct cli_session *s);

/*
 * cli_session_stop -- from any thread, including callbacks: remember
 * exit_code (the first one wins), disconnect, and call on_stopped.
 */
void cli_session_stop(struct cli_session *s, int exit_code);

/*
 * cli_session_fail -- print "prog: <what>: <reason of rc>" (what may be
 * NULL) and return the exit code for rc.
 */
int cli_session_fail(struct cli_session *s, int rc, const char *what);

/*
 * cli_session_close -- disconnect cleanly (no will), stop the loop, free
 * the client. Safe on a session that never opened.
 */
void cli_session_close(struct cli_session *s);

/*
 * cli_session_on_log -- the on_log every session sets: library lines
 * appear (escaped) only with -d. May run on any library thread. A tool
 * that sets its own on_log calls this for each line.
 */
void cli_session_on_log(secmq_client *c, void *user, int level,
                        const char *raw);

/* Seconds on CLOCK_MONOTONIC, the clock of every wait in the tools. */
double cli_mono_now(void);
/* The CLOCK_MONOTONIC time t (seconds) as a timespec, for timed waits. */
void cli_mono_timespec(double t, struct timespec *ts);

#endif /* CLI_SESSION_H */
