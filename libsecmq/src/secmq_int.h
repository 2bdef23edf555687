/*
 * secmq_int.h -- private declarations shared by the library's files.
 *
 * The error slot (code + detail sentence, guarded by a mutex because the
 * tunnel thread writes it too) and the logging hook live here. Nothing in
 * this file is part of the public API.
 */
#ifndef SECMQ_INT_H
#define SECMQ_INT_H

#include <pthread.h>
#include <stdarg.h>

#include "secmq.h"

#if defined(__GNUC__)
#define SECMQ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SECMQ_PRINTF(f, a)
#endif

/* The most recent failure of a client: its code and a sentence naming it. */
typedef struct secmq__err {
    pthread_mutex_t lock;
    int code;
    char msg[SECMQ_ERRMSG_BYTES];
} secmq__err;

void secmq__err_init(secmq__err *e);
void secmq__err_destroy(secmq__err *e);
/* Record code and a printf-style detail; returns code, for `return set()`. */
int secmq__err_set(secmq__err *e, int code, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);
int secmq__err_vset(secmq__err *e, int code, const char *fmt, va_list ap)
    SECMQ_PRINTF(3, 0);
/* Copy the message out; same contract as secmq_client_errmsg(). */
size_t secmq__err_copy(secmq__err *e, char *buf, size_t len);
/* A one-line printf-style reason into err (errlen bytes), for the
 * constructors that report through a caller's buffer; a no-op when err is
 * NULL or errlen is 0. */
void secmq__say(char *err, size_t errlen, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);

/*
 * A sink for diagnostic lines. fn may be NULL: then warnings and errors go
 * to stderr. fn must be safe to call from any thread.
 */
typedef struct secmq__log {
    void (*fn)(void *ctx, int level, const char *line);
    void *ctx;
} secmq__log;

void secmq__log_write(const secmq__log *log, int level, const char *fmt, ...)
    SECMQ_PRINTF(3, 4);

/* Copy a string into a fresh allocation; NULL stays NULL. 0 or -1. */
int secmq__strdup_opt(char **out, const char *s);

/* The version of the libmosquitto loaded at run time (client.c, the only
 * file that sees libmosquitto). Never fails. */
void secmq__mqtt_lib_version(int *major, int *minor, int *revision);

#endif /* SECMQ_INT_H */
