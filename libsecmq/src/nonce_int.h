/*
 * nonce_int.h -- random envelope nonces without a system call per nonce
 * (nonce.c). Only for nonces: keys and other secrets keep coming from
 * randombytes_buf(). Nothing here is part of the public API.
 */
#ifndef SECMQ_NONCE_INT_H
#define SECMQ_NONCE_INT_H

#include <stddef.h>

/* The most bytes one secmq__nonce_fill call hands out. */
#define SECMQ__NONCE_MAX 64u

/*
 * Fill out with n (1..SECMQ__NONCE_MAX) random bytes from this thread's
 * generator: a fast-key-erasure ChaCha20 stream keyed from
 * randombytes_buf(), rekeyed on every refill, reseeded from
 * randombytes_buf() periodically, and never continued in a fork()ed child
 * (its state is wiped on fork, so the child seeds its own). out is
 * BORROWED. Any thread; no lock. Never fails (libsodium aborts the process
 * if the system gives no randomness, as randombytes_buf does); n out of
 * range falls back to randombytes_buf.
 */
void secmq__nonce_fill(unsigned char *out, size_t n);

/* For tests: generator states alive now (threads that drew and have not
 * exited). A thread's state is wiped and released when it exits. */
long secmq__nonce_live(void);

#endif /* SECMQ_NONCE_INT_H */
