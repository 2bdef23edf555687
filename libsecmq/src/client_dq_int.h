/*
 * client_dq_int.h -- the received-message queue of a client with a
 * keyring, shared by client_deliver.c (the queue in arrival order, the
 * replay check and the delivery thread) and client_verify.c (the threads
 * that verify signed envelopes in parallel). Not public API.
 */
#ifndef SECMQ_CLIENT_DQ_INT_H
#define SECMQ_CLIENT_DQ_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client_int.h"
#include "keyring_int.h"

/* The most verify threads secmq_client_set_open_threads() accepts. */
#define SECMQ__OPEN_THREADS_MAX 64u

/* One received message, from the loop thread to the application. One
 * block, reused for later messages: the topic, the plaintext buffer and
 * (while a worker verifies it) the envelope follow the struct. */
typedef struct secmq__dq_item {
    struct secmq__dq_item *next;  /* arrival order */
    struct secmq__dq_item *wnext; /* the verify threads' queue */
    int pending;                  /* a verify thread has not finished it
                                     (secmq__dq.mu) */
    int accept;                   /* verified; the replay check (steps 8-9)
                                     is still to run, in arrival order */
    int vrc, vreason;             /* secmq__keyring_verify's result */
    secmq__kopened o;
    const unsigned char *env; /* the envelope copy, or NULL */
    size_t envlen;
    size_t qbytes; /* counted in secmq__dq.bytes */
    size_t room;   /* bytes after the struct (kept when recycled) */

    int failed; /* 1: for on_open_failure, with reason */
    int reason;
    secmq_keyring *kr; /* whose ticket */
    uint64_t ticket;   /* 0: nothing to make durable */
    long rchan;        /* opened on a channel this identity receipts; else -1 */
    int again;         /* refused as a replay of one the keyring knows it
                          opened: receipted again once ticket is durable */
    unsigned char key_id[SECMQ_ID_BYTES], sender_id[SECMQ_ID_BYTES];
    uint64_t seq;
    secmq_message msg; /* topic and payload point at the copies below */
    char *topic;
    unsigned char *data; /* the plaintext (or plain payload) buffer */
    size_t datacap, datalen;
} secmq__dq_item;

typedef struct secmq__dq {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    secmq__dq_item *head, *tail; /* arrival order, pending or not */
    size_t count, bytes;
    int stop;
    /* Delivered items kept for reuse, wiped (client_deliver.c): the
     * delivery thread returns them (mu held), the loop thread takes the
     * whole list into its own (lfree, no lock) while it holds mu. */
    secmq__dq_item *free_items, *lfree;
    size_t nfree, free_bytes;
    /* Group commits start at most once per interval_us under load
     * (secmq_client_set_sync_interval); last_us: when the last began. */
    int64_t interval_us, last_us;
    /* The verify threads (client_verify.c); nworkers 0: none, the loop
     * thread opens every envelope itself. */
    pthread_cond_t work;
    secmq__dq_item *whead, *wtail;
    pthread_t *workers;
    size_t nworkers;
    int wstop;
} secmq__dq;

/* client_verify.c: start the verify threads of q (how many: the client's
 * setting, or the online cores; none on one core). SECMQ_OK or
 * SECMQ_E_NOMEM (then none run and the loop thread opens everything). */
int secmq__verify_start(secmq_client *c, secmq__dq *q);
/* client_verify.c: 1 when the envelope env (len bytes, a covered topic)
 * goes to a verify thread. */
int secmq__verify_wanted(const secmq__dq *q, const void *env, size_t len);
/* client_verify.c: hand it (pending) to the verify threads (q->mu held). */
void secmq__verify_push(secmq__dq *q, secmq__dq_item *it);
/* client_verify.c: end the verify threads once their queue is empty. */
void secmq__verify_stop(secmq__dq *q);
/* client_deliver.c: a setting read when the delivery thread starts:
 * value into *field (and 1 into *set, when not NULL) under c->lock,
 * unless the client is connecting or connected. SECMQ_OK or
 * SECMQ_E_STATE. */
int secmq__dq_set_idle(secmq_client *c, unsigned *field, unsigned value,
                       int *set);
/* client_deliver.c: steps 1-7 for it, on whichever thread (no order). */
void secmq__dq_verify(secmq_client *c, secmq__dq_item *it);

#endif /* SECMQ_CLIENT_DQ_INT_H */
