/*
 * bench_host.c -- what machine the benchmark ran on, and the clocks it uses.
 *
 * Reads the CPU model and flags from /proc/cpuinfo and the core count from
 * sysconf, so every report says where its numbers came from. Not a general
 * system-information module: it knows only what the report prints.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_self_cpu_s(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0.0;
    }
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Copies the value after "key<spaces>: " of a cpuinfo line into out. */
static int cpuinfo_value(const char *line, const char *key, char *out,
                         size_t outlen)
{
    size_t klen = strlen(key);
    const char *colon;
    size_t n;

    if (strncmp(line, key, klen) != 0) {
        return 0;
    }
    colon = strchr(line + klen, ':');
    if (colon == NULL) {
        return 0;
    }
    colon++;
    while (*colon == ' ' || *colon == '\t') {
        colon++;
    }
    n = strcspn(colon, "\n");
    if (n >= outlen) {
        n = outlen - 1;
    }
    memcpy(out, colon, n);
    out[n] = '\0';
    return 1;
}

void bench_host_probe(bench_host *h)
{
    /* A flags line is long (~1.5 KiB); 8 KiB covers every CPU seen. */
    char line[8192];
    char flags[8192];
    struct utsname u;
    FILE *f;
    long n;
    int lines = 0;

    memset(h, 0, sizeof(*h));
    snprintf(h->cpu, sizeof(h->cpu), "unknown");
    flags[0] = '\0';
    f = fopen("/proc/cpuinfo", "r");
    /* The first processor block tells all; stop after its blank line and
     * never read more than a few thousand lines. */
    while (f != NULL && lines < 4096 && fgets(line, sizeof(line), f) != NULL) {
        lines++;
        if (line[0] == '\n' && flags[0] != '\0') {
            break;
        }
        (void)cpuinfo_value(line, "model name", h->cpu, sizeof(h->cpu));
        (void)cpuinfo_value(line, "flags", flags, sizeof(flags));
    }
    if (f != NULL) {
        fclose(f);
    }
    /* Flags are space-separated words; look for the word "aes". */
    if (strstr(flags, " aes ") != NULL || strncmp(flags, "aes ", 4) == 0) {
        h->aes_flag = 1;
    }
    n = sysconf(_SC_NPROCESSORS_ONLN);
    h->cores = n > 0 && n < 1000000 ? (int)n : 0;
    if (uname(&u) == 0) {
        snprintf(h->kernel, sizeof(h->kernel), "%.32s %.100s", u.sysname,
                 u.release);
    }
}

void bench_host_load(double v[3])
{
    FILE *f = fopen("/proc/loadavg", "r");

    v[0] = v[1] = v[2] = -1.0;
    if (f == NULL) {
        return;
    }
    if (fscanf(f, "%lf %lf %lf", &v[0], &v[1], &v[2]) != 3) {
        v[0] = v[1] = v[2] = -1.0;
    }
    fclose(f);
}
