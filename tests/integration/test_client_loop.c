/*
 * test_client_loop.c -- over TLS, secmq_client_loop_start() runs the MQTT
 * loop on the tunnel thread: no thread of its own.
 *
 * Checks that loop_start adds no thread to the process and that callbacks
 * run on the tunnel thread (neither the caller's nor a thread libmosquitto
 * started, which it names "mosquitto loop"); that an idle connected client
 * costs almost no CPU (no busy loop) and still sends its keep-alives (the
 * broker keeps it past 1.5 times the keep-alive); and that loop_stop ends
 * the loop: after a disconnect (force 0), at once (force 1), and from a
 * callback on that thread without a deadlock.
 * Run through tests/harness/with_broker.py.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

static pid_t gettid_now(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Threads of this process (/proc/self/task), or -1. */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (d == NULL) {
        return -1;
    }
    for (int i = 0; i < 100000 && (e = readdir(d)) != NULL; i++) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The name of thread tid of this process into buf (len bytes). */
static void thread_name(pid_t tid, char *buf, size_t len)
{
    char path[64];
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    buf[0] = '\0';
    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    if (fgets(buf, (int)len, f) == NULL) {
        buf[0] = '\0';
    }
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

/* What the on_publish callback below saw. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seen_cv = PTHREAD_COND_INITIALIZER;
static int seen_acks;
static pid_t seen_tid;
static char seen_name[32];
static int stop_in_callback; /* call loop_stop(c, 0) from on_publish */
static int stop_rc = 1;

static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    (void)user;
    (void)mid;
    (void)rc;
    if (stop_in_callback) {
        /* From the loop's own thread: must not wait for itself. */
        stop_rc = secmq_client_loop_stop(c, 0);
    }
    pthread_mutex_lock(&seen_mu);
    seen_acks++;
    seen_tid = gettid_now();
    thread_name(seen_tid, seen_name, sizeof seen_name);
    pthread_cond_broadcast(&seen_cv);
    pthread_mutex_unlock(&seen_mu);
}

/* Wait (bounded) until on_publish ran n times in all. 0 or -1. */
static int wait_acks(int n, int timeout_ms)
{
    long long end = tu_now_ms() + timeout_ms;
    int ok;

    pthread_mutex_lock(&seen_mu);
    for (int i = 0; i < 1000 && seen_acks < n && tu_now_ms() < end; i++) {
        pthread_mutex_unlock(&seen_mu);
        tu_sleep_ms(10);
        pthread_mutex_lock(&seen_mu);
    }
    ok = seen_acks >= n;
    pthread_mutex_unlock(&seen_mu);
    return ok ? 0 : -1;
}

/* A TLS client of sam's (keepalive in seconds), connected, without the
 * loop started yet. Returns a SECMQ code; on failure the check failed and
 * t is freed. */
static int make_client(tu_client *t, const char *prefix, int keepalive)
{
    secmq_config cfg;
    int rc;

    tu_config(&cfg, "sam");
    cfg.client_id = tu_id(prefix);
    cfg.keepalive = keepalive;
    rc = tu_client_new(t, &cfg);
    if (rc == SECMQ_OK) {
        secmq_client_on_publish(t->c, on_publish);
        rc = secmq_client_connect(t->c);
    }
    if (rc != SECMQ_OK) {
        check_fail(__FILE__, __LINE__, "%s: %s: %s", prefix, tu_rc_name(rc),
                   tu_errmsg(t));
        tu_client_free(t);
    }
    return rc;
}

static long long cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void test_no_loop_thread(void)
{
    tu_client t = {0};
    int before, after, acks;
    pid_t tid;
    char name[32];

    if (make_client(&t, "loop-one", 60) != SECMQ_OK) {
        return;
    }
    /* The tunnel thread exists since connect. */
    before = count_threads();
    CHECK_RC(secmq_client_loop_start(t.c), SECMQ_OK);
    CHECK_RC(secmq_client_wait_connected(t.c, TU_WAIT_MS), SECMQ_OK);
    after = count_threads();

    pthread_mutex_lock(&seen_mu);
    acks = seen_acks;
    pthread_mutex_unlock(&seen_mu);
    CHECK_RC(secmq_client_publish(t.c, NULL, "c/loop", "x", 1, 1, 0), SECMQ_OK);
    CHECK(wait_acks(acks + 1, TU_WAIT_MS) == 0);
    pthread_mutex_lock(&seen_mu);
    tid = seen_tid;
    memcpy(name, seen_name, sizeof name);
    pthread_mutex_unlock(&seen_mu);
    fprintf(stderr, "   on_publish ran on thread %d \"%s\"\n", (int)tid, name);
    CHECKF(tid != gettid_now(), "on_publish ran on the caller's thread");
    CHECKF(strcmp(name, "mosquitto loop") != 0,
           "on_publish ran on libmosquitto's own thread");
    CHECK(before > 1);
    CHECKF(after == before,
           "loop_start went from %d to %d threads: it started a thread", before,
           after);

    /* force 0 returns once the disconnect ended the loop. */
    CHECK_RC(secmq_client_disconnect(t.c), SECMQ_OK);
    CHECK_RC(secmq_client_loop_stop(t.c, 0), SECMQ_OK);
    CHECK_RC(secmq_client_loop_stop(t.c, 0), SECMQ_E_STATE);
    tu_client_free(&t);
}

static void test_idle_and_keepalive(void)
{
    tu_client t = {0};
    long long cpu0, cpu1, start;
    int acks;

    if (make_client(&t, "loop-idle", 5) != SECMQ_OK) {
        return;
    }
    start = tu_now_ms();
    CHECK_RC(secmq_client_loop_start(t.c), SECMQ_OK);
    CHECK_RC(secmq_client_wait_connected(t.c, TU_WAIT_MS), SECMQ_OK);
    tu_sleep_ms(200);
    cpu0 = cpu_us();
    tu_sleep_ms(3000);
    cpu1 = cpu_us();
    fprintf(stderr, "   idle connected client: %lld us of CPU in 3 s\n",
            cpu1 - cpu0);
    CHECKF(cpu1 - cpu0 < 50000,
           "an idle client used %lld us of CPU in 3 s (a busy loop?)",
           cpu1 - cpu0);
    /* keep-alive 5 s: without PINGREQs the broker closes after 7.5 s. */
    tu_sleep_ms((int)(12000 - (tu_now_ms() - start)));
    CHECKF(tu_disconnects(&t) == 0,
           "the broker dropped an idle client: no keep-alive sent");
    pthread_mutex_lock(&seen_mu);
    acks = seen_acks;
    pthread_mutex_unlock(&seen_mu);
    CHECK_RC(secmq_client_publish(t.c, NULL, "c/loop", "y", 1, 1, 0), SECMQ_OK);
    CHECK(wait_acks(acks + 1, TU_WAIT_MS) == 0);

    /* force 1 stops at once, connected or not. */
    CHECK_RC(secmq_client_loop_stop(t.c, 1), SECMQ_OK);
    CHECK_RC(secmq_client_disconnect(t.c), SECMQ_OK);
    tu_client_free(&t);
}

static void test_stop_from_callback(void)
{
    tu_client t = {0};
    int acks;

    if (make_client(&t, "loop-cb", 60) != SECMQ_OK) {
        return;
    }
    CHECK_RC(secmq_client_loop_start(t.c), SECMQ_OK);
    CHECK_RC(secmq_client_wait_connected(t.c, TU_WAIT_MS), SECMQ_OK);
    pthread_mutex_lock(&seen_mu);
    acks = seen_acks;
    stop_in_callback = 1;
    pthread_mutex_unlock(&seen_mu);
    CHECK_RC(secmq_client_publish(t.c, NULL, "c/loop", "z", 1, 1, 0), SECMQ_OK);
    CHECKF(wait_acks(acks + 1, TU_WAIT_MS) == 0,
           "on_publish calling loop_stop never returned");
    stop_in_callback = 0;
    CHECK_RC(stop_rc, SECMQ_OK);
    /* The loop is stopped: the application may drive it now. */
    CHECK_RC(secmq_client_loop_start(t.c), SECMQ_OK);
    CHECK_RC(secmq_client_publish(t.c, NULL, "c/loop", "w", 1, 1, 0), SECMQ_OK);
    CHECK(wait_acks(acks + 2, TU_WAIT_MS) == 0);
    CHECK_RC(secmq_client_disconnect(t.c), SECMQ_OK);
    tu_client_free(&t);
}

int main(void)
{
    RUN(test_no_loop_thread);
    RUN(test_idle_and_keepalive);
    RUN(test_stop_from_callback);
    return check_exit();
}
