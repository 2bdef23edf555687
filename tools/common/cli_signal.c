/*
 * cli_signal.c -- SIGINT/SIGTERM handling and the main-thread wake-up
 * semaphore shared by the long-running command-line tools. Decides nothing
 * about what a tool does once woken.
 */
#include "cli_signal.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "cli_msg.h"

static atomic_int got_signal;
static atomic_int connected_once;
/* Never destroyed: a late signal may still post it. */
static sem_t wake;

/* Any thread may run this, so it uses only async-signal-safe calls. */
static void on_signal(int sig)
{
    if (!atomic_load(&connected_once)) {
        _exit(CLI_EXIT_ERROR);
    }
    atomic_store(&got_signal, sig);
    sem_post(&wake);
}

int cli_signal_install(void)
{
    struct sigaction sa;

    if (sem_init(&wake, 0, 0) != 0) {
        cli_err("cannot create a semaphore: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGTERM, &sa, NULL) != 0) {
        cli_err("cannot install signal handlers: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void cli_signal_connected(void)
{
    atomic_store(&connected_once, 1);
}

int cli_signal_received(void)
{
    return atomic_load(&got_signal);
}

void cli_wake(void)
{
    sem_post(&wake);
}

void cli_wake_wait(void)
{
    (void)sem_wait(&wake);
}

void cli_wake_wait_until(const struct timespec *until)
{
    (void)sem_clockwait(&wake, CLOCK_MONOTONIC, until);
}

void cli_wake_on_stopped(struct cli_session *s)
{
    (void)s;
    sem_post(&wake);
}
