/*
 * client_verify.c -- the threads that verify received signed envelopes in
 * parallel for a client with a keyring.
 *
 * An Ed25519 verification costs far more than anything else on the
 * receive path, and what it reads (keys, grants) never changes while the
 * keyring is open, so PROTOCOL.md §4.2 steps 1-7 of several envelopes may
 * run at once. The loop thread queues each message in arrival order
 * (client_deliver.c) and hands the signed ones to these threads; the
 * delivery thread waits for the oldest to be verified and runs the replay
 * check, the group commit and the callbacks one message at a time, in
 * arrival order. No callback ever runs here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "client_dq_int.h"

/* Mac-only envelopes are opened by the loop thread: their AEAD (about a
 * microsecond at 64 B) costs less than handing them to another thread
 * (docs/PERFORMANCE.md, "Sealed messages"). */
static int wanted_mode(unsigned mode)
{
    return mode == SECMQ_SEAL_SIGNED;
}

int secmq_client_set_open_threads(secmq_client *c, unsigned n)
{
    if (c == NULL || n > SECMQ__OPEN_THREADS_MAX) {
        return SECMQ_E_INVAL;
    }
    return secmq__dq_set_idle(c, &c->open_threads, n, NULL);
}

/* At most this many verify threads by default: each client has its own,
 * and a process may hold many clients. */
#define AUTO_MAX 8u

/* The number of verify threads: n, or one per online core (at most
 * AUTO_MAX) for 0; 1 means none (the loop thread opens everything). */
static size_t thread_count(unsigned n)
{
    long cores;

    if (n > 0) {
        return n;
    }
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) {
        return 1;
    }
    if (cores > (long)AUTO_MAX) {
        return AUTO_MAX;
    }
    return (size_t)cores;
}

static void *worker_main(void *arg)
{
    secmq_client *c = arg;
    secmq__dq *q = c->dq;
    secmq__dq_item *it;

    (void)pthread_setname_np(pthread_self(), "secmq-verify");
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->whead == NULL && !q->wstop) {
            pthread_cond_wait(&q->work, &q->mu);
        }
        it = q->whead;
        if (it == NULL) {
            break;
        }
        q->whead = it->wnext;
        if (q->whead == NULL) {
            q->wtail = NULL;
        }
        pthread_mutex_unlock(&q->mu);
        secmq__dq_verify(c, it);
        pthread_mutex_lock(&q->mu);
        it->pending = 0;
        if (it == q->head) {
            /* The delivery thread waits for the oldest message only. */
            pthread_cond_signal(&q->more);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int secmq__verify_start(secmq_client *c, secmq__dq *q)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = thread_count(c->open_threads);
    pthread_mutex_unlock(&c->lock);
    q->nworkers = 0;
    if (n <= 1) {
        return SECMQ_OK;
    }
    q->workers = calloc(n, sizeof *q->workers);
    if (q->workers == NULL) {
        return SECMQ_E_NOMEM;
    }
    pthread_cond_init(&q->work, NULL);
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&q->workers[i], NULL, worker_main, c) != 0) {
            break;
        }
        q->nworkers++;
    }
    if (q->nworkers == 0) {
        pthread_cond_destroy(&q->work);
        free(q->workers);
        q->workers = NULL;
        return SECMQ_E_NOMEM;
    }
    return SECMQ_OK;
}

int secmq__verify_wanted(const secmq__dq *q, const void *env, size_t len)
{
    secmq_envelope_fields f;

    if (q->nworkers == 0) {
        return 0;
    }
    if (secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK) {
        return 0; /* refused at once, wherever it is opened */
    }
    return wanted_mode(f.mode);
}

void secmq__verify_push(secmq__dq *q, secmq__dq_item *it)
{
    it->pending = 1;
    it->wnext = NULL;
    if (q->wtail != NULL) {
        q->wtail->wnext = it;
    } else {
        q->whead = it;
    }
    q->wtail = it;
    pthread_cond_signal(&q->work);
}

void secmq__verify_stop(secmq__dq *q)
{
    if (q->nworkers == 0) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->wstop = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (size_t i = 0; i < q->nworkers; i++) {
        pthread_join(q->workers[i], NULL);
    }
    pthread_cond_destroy(&q->work);
    free(q->workers);
    q->workers = NULL;
    q->nworkers = 0;
}
