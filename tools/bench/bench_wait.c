/*
 * bench_wait.c -- how the bench's threads wait for each other.
 *
 * Condition variables on the monotonic clock, waited on in short slices so
 * that an interrupt is noticed, and the CONNACK/SUBACK handshake both client
 * adapters (bench_mosq.c, bench_secmq.c) share. Knows no MQTT library: the
 * adapters feed it from their own callbacks.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Slice of the adapters' waits for CONNACK and SUBACK. */
#define ACK_SLICE_NS 100000000u /* 100 ms */

void bench_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

void bench_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline,
                     uint64_t slice_ns)
{
    uint64_t t = bench_now_ns() + slice_ns;
    struct timespec ts;

    if (t > deadline) {
        t = deadline;
    }
    ts.tv_sec = (time_t)(t / 1000000000u);
    ts.tv_nsec = (long)(t % 1000000000u);
    (void)pthread_cond_timedwait(cv, mu, &ts);
}

void bench_acks_init(bench_acks *a, const char *library)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->info.library, sizeof(a->info.library), "%s", library);
    pthread_mutex_init(&a->mu, NULL);
    bench_cond_init(&a->cv);
}

void bench_acks_destroy(bench_acks *a)
{
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
}

/* Waits (a->mu held) until *flag is set, at most timeout_ms, or until an
 * interrupt. Returns 1 if it is set. */
static int acks_wait(bench_acks *a, const int *flag, int timeout_ms)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;

    while (!*flag && !bench_interrupted && bench_now_ns() < deadline) {
        bench_cond_wait(&a->cv, &a->mu, deadline, ACK_SLICE_NS);
    }
    return *flag;
}

int bench_acks_wait_connack(bench_acks *a, int timeout_ms)
{
    int set;

    pthread_mutex_lock(&a->mu);
    set = acks_wait(a, &a->connack, timeout_ms);
    pthread_mutex_unlock(&a->mu);
    return set;
}

void bench_acks_suback(bench_acks *a, int mid, int count, const int *granted)
{
    pthread_mutex_lock(&a->mu);
    if (mid == a->sub_mid) {
        a->suback = 1;
        a->granted = count > 0 ? granted[0] : 0x80;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
}

int bench_acks_subscribed(bench_acks *a, int mid, const char *lib,
                          const char *filter, int timeout_ms, char *err,
                          size_t errlen)
{
    int rc;

    /* a->mu was held across the SUBSCRIBE call, so the SUBACK cannot have
     * been recorded yet: it waits for the lock. */
    a->sub_mid = mid;
    a->suback = 0;
    rc = !acks_wait(a, &a->suback, timeout_ms) ? -1 : a->granted > 2 ? -2 : 0;
    pthread_mutex_unlock(&a->mu);
    if (rc == -1) {
        snprintf(err, errlen, "%s subscribe: no SUBACK within %d ms", lib,
                 timeout_ms);
        return -1;
    }
    if (rc == -2) {
        snprintf(err, errlen, "%s subscribe: broker refused %s", lib, filter);
        return -1;
    }
    return 0;
}

void bench_acks_tls_info(bench_acks *a, bench_tls_info *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->info;
    pthread_mutex_unlock(&a->mu);
}
