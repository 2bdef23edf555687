/*
 * cli_signal.h -- SIGINT/SIGTERM and the wake-up of a tool's main thread.
 *
 * The long-running tools (secmq-sub, secmq-file) sleep on one semaphore
 * that their callbacks and the signal handler post. Before the broker
 * accepted the first connection a signal exits at once (nothing to close);
 * after, it wakes the main thread, which disconnects cleanly. The rest of
 * each tool's signal handling (e.g. SIGXFSZ) stays in the tool.
 */
#ifndef CLI_SIGNAL_H
#define CLI_SIGNAL_H

#include <time.h>

#include "cli_session.h"

/*
 * cli_signal_install -- create the wake-up semaphore and handle SIGINT and
 * SIGTERM. Call once, before any callback may wake. Returns 0, or -1 after
 * printing the reason.
 */
int cli_signal_install(void);

/* From now on a signal wakes the main thread instead of exiting with
 * CLI_EXIT_ERROR: call once the broker has accepted (or committed work
 * must end cleanly). */
void cli_signal_connected(void);

/* The last SIGINT/SIGTERM received, or 0. */
int cli_signal_received(void);

/* Wake the main thread. Async-signal-safe; callable from any thread. */
void cli_wake(void);

/* Sleep until cli_wake() or a signal. */
void cli_wake_wait(void);

/* Sleep until cli_wake(), a signal, or the CLOCK_MONOTONIC time *until. */
void cli_wake_wait_until(const struct timespec *until);

/* A cli_stopped_fn that wakes the main thread. */
void cli_wake_on_stopped(struct cli_session *s);

#endif
