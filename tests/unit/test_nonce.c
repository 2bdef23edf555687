/*
 * test_nonce.c -- unit tests for nonce.c, the per-thread nonce generator:
 * nonces distinct over many draws (past refills and reseeds) and across
 * threads; a fork()ed child (through fork(), and through a raw clone that
 * runs no fork handlers) never hands out the nonces its parent hands out
 * next; a thread's state is released when the thread exits. Internal API
 * (nonce_int.h), so nonce.c is compiled into this test.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "../../libsecmq/src/nonce_int.h"

#include "check.h"

#define NB 24u
/* More than RESEED_REFILLS (4096) refills of 41 nonces: crosses a reseed. */
#define MANY 200000u
#define THREADS 4u
#define PER_THREAD 20000u
#define AFTER_FORK 16u

static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, NB);
}

/* 1 if the n nonces at v (sorted here) are pairwise distinct. */
static int all_distinct(unsigned char *v, size_t n)
{
    qsort(v, n, NB, cmp_nonce);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(v + (i - 1) * NB, v + i * NB, NB) == 0) {
            return 0;
        }
    }
    return 1;
}

static void test_many_draws_distinct(void)
{
    unsigned char *v = malloc((size_t)MANY * NB);
    unsigned char zero[NB] = {0};
    size_t zeros = 0;

    CHECK(v != NULL);
    for (size_t i = 0; i < MANY; i++) {
        secmq__nonce_fill(v + i * NB, NB);
        zeros += memcmp(v + i * NB, zero, NB) == 0;
    }
    CHECK_INT_EQ(zeros, 0);
    CHECKF(all_distinct(v, MANY), "a nonce repeated within %u draws", MANY);
    free(v);
}

static void test_odd_sizes(void)
{
    unsigned char a[SECMQ__NONCE_MAX], b[SECMQ__NONCE_MAX];

    /* Sizes that do not divide the stream: no byte handed out twice. */
    for (size_t n = 1; n <= SECMQ__NONCE_MAX; n++) {
        secmq__nonce_fill(a, n);
        secmq__nonce_fill(b, n);
        if (n >= 8) {
            CHECK(memcmp(a, b, n) != 0);
        }
    }
}

struct draws {
    unsigned char *v;
};

static void *draw_thread(void *arg)
{
    struct draws *d = arg;

    for (size_t i = 0; i < PER_THREAD; i++) {
        secmq__nonce_fill(d->v + i * NB, NB);
    }
    return NULL;
}

static void test_threads_distinct_and_released(void)
{
    unsigned char *all = malloc((size_t)THREADS * PER_THREAD * NB);
    pthread_t th[THREADS];
    struct draws d[THREADS];
    long before;

    CHECK(all != NULL);
    before = secmq__nonce_live();
    for (size_t t = 0; t < THREADS; t++) {
        d[t].v = all + t * PER_THREAD * NB;
        CHECK(pthread_create(&th[t], NULL, draw_thread, &d[t]) == 0);
    }
    for (size_t t = 0; t < THREADS; t++) {
        CHECK(pthread_join(th[t], NULL) == 0);
    }
    /* Each thread's state was wiped and unmapped when it exited. */
    CHECK_INT_EQ(secmq__nonce_live(), before);
    CHECKF(all_distinct(all, (size_t)THREADS * PER_THREAD),
           "two threads drew the same nonce");
    free(all);
}

/* Child side: draw AFTER_FORK nonces into the pipe, then _exit. */
static void child_draws(int fd)
{
    unsigned char v[AFTER_FORK * NB];
    ssize_t w;

    for (size_t i = 0; i < AFTER_FORK; i++) {
        secmq__nonce_fill(v + i * NB, NB);
    }
    w = write(fd, v, sizeof v);
    _exit(w == (ssize_t)sizeof v ? 0 : 1);
}

/* raw: fork with the clone system call, so no fork handler runs and only
 * MADV_WIPEONFORK keeps the child from continuing the parent's stream. */
static void fork_case(int raw)
{
    unsigned char parent[AFTER_FORK * NB], child[AFTER_FORK * NB];
    unsigned char one[NB];
    size_t got = 0;
    int fds[2], status = 0;
    pid_t pid;

    secmq__nonce_fill(one, NB); /* this thread's state exists and runs */
    CHECK(pipe(fds) == 0);
    if (raw) {
        pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    } else {
        pid = fork();
    }
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_draws(fds[1]);
    }
    close(fds[1]);
    for (size_t i = 0; i < AFTER_FORK; i++) {
        secmq__nonce_fill(parent + i * NB, NB);
    }
    while (got < sizeof child) {
        ssize_t r = read(fds[0], child + got, sizeof child - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT_EQ(got, sizeof child);
    for (size_t i = 0; i < AFTER_FORK; i++) {
        for (size_t j = 0; j < AFTER_FORK; j++) {
            CHECKF(memcmp(child + i * NB, parent + j * NB, NB) != 0,
                   "child nonce %zu equals parent nonce %zu (%s)", i, j,
                   raw ? "clone" : "fork");
        }
    }
}

static void test_fork_child_never_continues_parent(void)
{
    fork_case(0);
}

/* 1 when this kernel zeroes a MADV_WIPEONFORK page in a child made by a
 * raw clone. qemu-user (the arm64 pass of the suite) accepts the madvise
 * but does not honour it; a real kernel since Linux 4.14 does. */
static int wipeonfork_honoured(void)
{
#ifdef MADV_WIPEONFORK
    size_t n = (size_t)sysconf(_SC_PAGESIZE);
    volatile unsigned char *page;
    int status = 0;
    pid_t pid;

    page = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                -1, 0);
    if (page == MAP_FAILED) {
        return 0;
    }
    if (madvise((void *)page, n, MADV_WIPEONFORK) != 0) {
        munmap((void *)page, n);
        return 0;
    }
    page[0] = 0xa5;
    pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        _exit(page[0] == 0 ? 0 : 1);
    }
    munmap((void *)page, n);
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
#else
    return 0;
#endif
}

static void test_raw_clone_child_never_continues_parent(void)
{
    if (!wipeonfork_honoured()) {
        /* Only the kernel can protect a child no fork handler ran in; the
         * fork() case above covers the handler. Said, not silently passed. */
        printf("     not checked here: MADV_WIPEONFORK is not honoured (an "
               "emulator such as qemu-user); fork() was checked above\n");
        fflush(stdout);
        return;
    }
    fork_case(1);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    RUN(test_many_draws_distinct);
    RUN(test_odd_sizes);
    RUN(test_threads_distinct_and_released);
    RUN(test_fork_child_never_continues_parent);
    RUN(test_raw_clone_child_never_continues_parent);
    return check_exit();
}
