/*
 * net_int.h -- TCP connect with a deadline, and monotonic time.
 */
#ifndef SECMQ_NET_INT_H
#define SECMQ_NET_INT_H

#include <stdint.h>

#include "secmq_int.h"

/* Milliseconds from a monotonic clock. */
int64_t secmq__now_ms(void);

/*
 * Resolve host and connect to port over TCP, trying every address, until
 * deadline_ms (secmq__now_ms() scale). On success *fd_out is a non-blocking
 * socket with TCP_NODELAY, owned by the caller. Returns SECMQ_OK,
 * SECMQ_E_DNS, SECMQ_E_CONN_REFUSED, SECMQ_E_TIMEOUT or SECMQ_E_IO, with the
 * detail in err.
 */
int secmq__net_connect(const char *host, int port, int64_t deadline_ms,
                       int *fd_out, secmq__err *err);

/*
 * Wait until fd is ready for events (POLLIN/POLLOUT) or deadline passes.
 * Returns SECMQ_OK, SECMQ_E_TIMEOUT or SECMQ_E_IO.
 */
int secmq__net_wait(int fd, short events, int64_t deadline_ms);

#endif
