/*
 * fakeclock.c -- an LD_PRELOAD shim for tests: time() returns the real
 * time plus an offset in seconds read from the file named by
 * SECMQ_FAKECLOCK_FILE (re-read at most every 100 ms), so a test can move
 * a running broker's (and its plugin's) wall clock forward without
 * waiting. Monotonic clocks are left alone (mosquitto's keep-alive keeps
 * real time). Test-only: never installed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long offset_s;
static long shown = -1;
static struct timespec last_read;

static void read_offset(void)
{
    const char *path = getenv("SECMQ_FAKECLOCK_FILE");
    struct timespec now;
    FILE *f;
    long v;

    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    if (last_read.tv_sec != 0 &&
        (now.tv_sec - last_read.tv_sec) * 1000L +
                (now.tv_nsec - last_read.tv_nsec) / 1000000L <
            100) {
        return;
    }
    last_read = now;
    if (path == NULL) {
        return;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    if (fscanf(f, "%ld", &v) == 1) {
        offset_s = v;
    }
    fclose(f);
    if (offset_s != shown) {
        /* Tests wait for this line (the broker's stderr is its log) to
         * know the process runs on the new clock. */
        fprintf(stderr, "fakeclock: offset %ld s\n", offset_s);
        fflush(stderr);
        shown = offset_s;
    }
}

__attribute__((visibility("default"))) time_t time(time_t *out)
{
    struct timespec ts;
    time_t now;

    read_offset();
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    now = ts.tv_sec + (time_t)offset_s;
    if (out != NULL) {
        *out = now;
    }
    return now;
}
