/*
 * bench_host.c -- what machine the benchmark ran on, the clocks it uses and
 * the CPU time this process spends, in all and by thread.
 *
 * Reads the CPU model and flags from /proc/cpuinfo and the core count from
 * sysconf, so every report says where its numbers came from, and each
 * thread's name and run time from /proc/self/task. Not a general
 * system-information module: it knows only what the report prints.
 */
#include "bench.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The first line of /proc/self/task/<tid>/<file> into buf; 0 or -1. */
static int task_line(long tid, const char *file, char *buf, size_t len)
{
    char path[64];
    FILE *f;
    int ok;

    snprintf(path, sizeof path, "/proc/self/task/%ld/%s", tid, file);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    return ok ? 0 : -1;
}

/* The CPU time thread tid used so far, in ns: schedstat's run time, or
 * utime + stime from stat (clock ticks). 0 when neither can be read. */
static uint64_t task_cpu_ns(long tid)
{
    char buf[1024];
    unsigned long long ns, ut, st;
    const char *p;
    long hz = sysconf(_SC_CLK_TCK);

    if (task_line(tid, "schedstat", buf, sizeof buf) == 0 &&
        sscanf(buf, "%llu", &ns) == 1) {
        return (uint64_t)ns;
    }
    /* stat: "tid (comm) state ..." with utime and stime the 14th and 15th
     * fields; comm may hold spaces and ')', so count from the last ')'. */
    if (task_line(tid, "stat", buf, sizeof buf) != 0 ||
        (p = strrchr(buf, ')')) == NULL || hz <= 0 ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2) {
        return 0;
    }
    return (uint64_t)((ut + st) * (1000000000ull / (unsigned long long)hz));
}

int bench_tsnap_take(bench_tsnap *s)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    char *end;
    long tid;

    s->n = 0;
    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL && s->n < BENCH_TSNAP_MAX) {
        tid = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0' ||
            task_line(tid, "comm", s->t[s->n].name, BENCH_THREAD_NAME) != 0) {
            continue; /* ".", "..", or a thread that just ended */
        }
        s->t[s->n].name[strcspn(s->t[s->n].name, "\n")] = '\0';
        s->t[s->n].tid = tid;
        s->t[s->n].ns = task_cpu_ns(tid);
        s->n++;
    }
    closedir(d);
    return 0;
}

void bench_thread_cpu_diff(const bench_tsnap *a, const bench_tsnap *b,
                           bench_thread_cpu *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < b->n; i++) {
        uint64_t before = 0;
        int g;

        for (size_t k = 0; k < a->n; k++) {
            if (a->t[k].tid == b->t[i].tid) {
                before = a->t[k].ns;
                break;
            }
        }
        for (g = 0; g < out->n; g++) {
            if (strcmp(out->name[g], b->t[i].name) == 0) {
                break;
            }
        }
        if (g == out->n && out->n < BENCH_THREAD_GROUPS - 1) {
            memcpy(out->name[g], b->t[i].name, BENCH_THREAD_NAME);
            out->n++;
        } else if (g == out->n) {
            /* Names beyond the table share its last group. */
            g = BENCH_THREAD_GROUPS - 1;
            snprintf(out->name[g], BENCH_THREAD_NAME, "%s", BENCH_THREAD_MORE);
            out->n = BENCH_THREAD_GROUPS;
        }
        if (b->t[i].ns > before) {
            out->s[g] += (double)(b->t[i].ns - before) / 1e9;
        }
    }
}

double bench_thread_cpu_of(const bench_thread_cpu *t, const char *name)
{
    for (int g = 0; g < t->n; g++) {
        if (strcmp(t->name[g], name) == 0) {
            return t->s[g];
        }
    }
    return 0.0;
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
