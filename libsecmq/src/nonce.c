/*
 * nonce.c -- random envelope nonces from a per-thread user-space generator.
 *
 * libsodium 1.0.18's randombytes_buf() makes one getrandom(2) system call
 * per call, which was the largest single cost of sealing a small message.
 * Each thread here keeps a fast-key-erasure ChaCha20 generator: a 32-byte
 * key seeded from randombytes_buf(); a refill computes 1 KiB of keystream,
 * whose first 32 bytes replace the key at once and whose rest is handed
 * out and wiped as it is used, so the state never holds anything that
 * reveals nonces already handed out. Not for keys: those keep using
 * randombytes_buf() directly.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "nonce_int.h"

#define KEY_BYTES crypto_stream_chacha20_KEYBYTES
/* Keystream per refill: the next key, then 992 bytes to hand out. */
#define STREAM_BYTES 1024u
/* Refills between two seeds from the system (about 4 MiB of output). */
#define RESEED_REFILLS 4096u

_Static_assert(STREAM_BYTES - KEY_BYTES >= SECMQ__NONCE_MAX, "stream size");

typedef struct nstate {
    unsigned char key[KEY_BYTES];
    unsigned char buf[STREAM_BYTES];
    size_t pos;        /* next unused byte of buf */
    unsigned refills;  /* since the last seed */
    unsigned long gen; /* fork generation the state was seeded in */
    int ready;         /* 0: never seeded, or wiped by a fork */
} nstate;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int key_ok;
static atomic_ulong fork_gen;
static atomic_long live;
static _Thread_local nstate *tls_state;

/* Bytes of a state's mapping (whole pages), 0 if unknown. */
static size_t map_size(void)
{
    long page = sysconf(_SC_PAGESIZE);

    if (page <= 0) {
        return 0;
    }
    return ((sizeof(nstate) + (size_t)page - 1) / (size_t)page) * (size_t)page;
}

/* SECURITY: a fork()ed child must never continue its parent's stream (it
 * would hand out the nonces the parent hands out next). The child's copy
 * of this thread's state is wiped here; MADV_WIPEONFORK (below) also
 * zeroes every state's page in a child made without fork() handlers. */
static void after_fork_child(void)
{
    nstate *s = tls_state;

    atomic_fetch_add(&fork_gen, 1);
    if (s != NULL) {
        sodium_memzero(s, sizeof *s);
    }
    atomic_store(&live, s != NULL ? 1 : 0);
}

/* Thread exit: wipe and release the thread's state. */
static void state_free(void *p)
{
    nstate *s = p;

    if (s == NULL) {
        return;
    }
    if (tls_state == s) {
        tls_state = NULL;
    }
    sodium_memzero(s, sizeof *s);
    munmap(s, map_size());
    atomic_fetch_sub(&live, 1);
}

static void init_once(void)
{
    key_ok = pthread_key_create(&key, state_free) == 0;
    (void)pthread_atfork(NULL, NULL, after_fork_child);
}

/* A zeroed state in a page of its own, wiped by the kernel in any forked
 * child, or NULL (then the caller uses randombytes_buf). */
static nstate *state_new(void)
{
    size_t n = map_size();
    nstate *s;

    pthread_once(&once, init_once);
    if (!key_ok || n == 0) {
        return NULL;
    }
    s = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
             0);
    if (s == MAP_FAILED) {
        return NULL;
    }
#ifdef MADV_WIPEONFORK
    (void)madvise(s, n, MADV_WIPEONFORK); /* Linux 4.14+; else atfork only */
#endif
#ifdef MADV_DONTDUMP
    (void)madvise(s, n, MADV_DONTDUMP);
#endif
    if (pthread_setspecific(key, s) != 0) {
        munmap(s, n);
        return NULL;
    }
    atomic_fetch_add(&live, 1);
    tls_state = s;
    return s;
}

/* Compute the next keystream block; its first bytes become the key. */
static void stream(nstate *s)
{
    static const unsigned char zero[crypto_stream_chacha20_NONCEBYTES];

    /* Each key is used for exactly one block, so a fixed nonce is fine. */
    crypto_stream_chacha20(s->buf, sizeof s->buf, zero, s->key);
    memcpy(s->key, s->buf, KEY_BYTES);
    sodium_memzero(s->buf, KEY_BYTES);
    s->pos = KEY_BYTES;
}

static void seed(nstate *s, unsigned long gen)
{
    randombytes_buf(s->key, sizeof s->key);
    s->refills = 0;
    s->gen = gen;
    s->ready = 1;
    stream(s);
}

void secmq__nonce_fill(unsigned char *out, size_t n)
{
    nstate *s = tls_state;
    unsigned long gen;

    if (n == 0 || n > SECMQ__NONCE_MAX) {
        randombytes_buf(out, n);
        return;
    }
    if (s == NULL) {
        s = state_new();
        if (s == NULL) {
            randombytes_buf(out, n);
            return;
        }
    }
    gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (!s->ready || s->gen != gen) {
        seed(s, gen);
    } else if (sizeof s->buf - s->pos < n) {
        if (++s->refills >= RESEED_REFILLS) {
            seed(s, gen);
        } else {
            stream(s);
        }
    }
    memcpy(out, s->buf + s->pos, n);
    sodium_memzero(s->buf + s->pos, n);
    s->pos += n;
}

long secmq__nonce_live(void)
{
    return atomic_load(&live);
}
