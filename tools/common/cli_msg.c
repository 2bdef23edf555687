/*
 * cli_msg.c -- one-line diagnostics on stderr for the command-line tools.
 *
 * Each message is formatted into a buffer first and written with a single
 * fputs, so lines from the library's threads (debug logging) never
 * interleave mid-line with the main thread's.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli_msg.h"

static const char *progname = "secmq";
static int quiet;
static int debug;

void cli_msg_init(const char *name)
{
    progname = name;
}

const char *cli_progname(void)
{
    return progname;
}

void cli_msg_set_quiet(int q)
{
    quiet = q;
}

void cli_msg_set_debug(int d)
{
    debug = d;
}

int cli_msg_debug_enabled(void)
{
    return debug;
}

static void vemit(const char *prefix, const char *suffix, const char *fmt,
                  va_list ap) CLI_PRINTF(3, 0);

static void vemit(const char *prefix, const char *suffix, const char *fmt,
                  va_list ap)
{
    char body[1024];
    char line[1200];

    vsnprintf(body, sizeof body, fmt, ap);
    snprintf(line, sizeof line, "%s: %s%s%s\n", progname, prefix, body, suffix);
    fputs(line, stderr);
    fflush(stderr);
}

void cli_err(const char *fmt, ...)
{
    va_list ap;

    if (quiet) {
        return;
    }
    va_start(ap, fmt);
    vemit("", "", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;

    if (quiet) {
        return;
    }
    va_start(ap, fmt);
    vemit("warning: ", "", fmt, ap);
    va_end(ap);
}

void cli_alert(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vemit("WARNING: ", "", fmt, ap);
    va_end(ap);
}

void cli_usage_err(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vemit("", " (see --help)", fmt, ap);
    va_end(ap);
}

void cli_debug(const char *fmt, ...)
{
    va_list ap;

    if (!debug) {
        return;
    }
    va_start(ap, fmt);
    vemit("debug: ", "", fmt, ap);
    va_end(ap);
}
