/*
 * test_kfile.c -- unit tests for kfile.c's erasure: a file replaced by
 * secmq__kfile_write or removed by secmq__kfile_remove has its bytes
 * overwritten with zeros (seen through a second hard link to it, which
 * shares its blocks), the new content is whole under the name at every
 * moment (a concurrent reader and a writer SIGKILLed at random points
 * never see zeros or half a file), no temporary files stay behind, an
 * erase that cannot be done is reported while the replace or removal
 * still happens, and symbolic links and FIFOs are never followed or
 * opened. Internal API (kfile_int.h), so kfile.c is compiled into this
 * test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../../libsecmq/src/kfile_int.h"

#include "check.h"
#include "testutil.h"

#define SECRET_LEN 5000u
#define VERSION_LEN 8192u
#define STOPS 300
#define REPLACES 200
#define KILLS 25
#define ERRLEN 512

/* One case's file (path), a second name for it (keep, path ".keep") and
 * its error slot. Copied: tu_at()'s buffers rotate. */
typedef struct fx {
    char path[512], keep[520], err[ERRLEN];
    secmq__kerr e;
} fx;

static void fx_init(fx *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s", tu_at(name));
    snprintf(f->keep, sizeof f->keep, "%s.keep", f->path);
    f->err[0] = 0;
    f->e.buf = f->err;
    f->e.len = sizeof f->err;
}

/* SECRET_LEN bytes of a recognisable pattern (never zero). */
static void secret_pattern(unsigned char *b, size_t n, unsigned char tag)
{
    static const char pat[] = "KEY-MATERIAL-";

    for (size_t i = 0; i < n; i++) {
        b[i] = (unsigned char)pat[i % (sizeof pat - 1)] ^ tag;
    }
}

/* 1 when the file at path has exactly len bytes, all zero. */
static int all_zero(const char *path, size_t len)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int ok;

    if (tu_read_file(path, &d, &n) != 0) {
        return 0;
    }
    ok = n == len;
    for (size_t i = 0; ok && i < n; i++) {
        ok = d[i] == 0;
    }
    free(d);
    return ok;
}

/* 1 when the file at path holds exactly want (len bytes). */
static int holds(const char *path, const void *want, size_t len)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int ok;

    if (tu_read_file(path, &d, &n) != 0) {
        return 0;
    }
    ok = n == len && memcmp(d, want, len) == 0;
    free(d);
    return ok;
}

/* Entries in dir whose name contains ".tmp" (a writer's leftovers). */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".tmp") != NULL) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* A self-checking version: BLAKE2b-256 of the rest, then random bytes. */
static void make_version_n(unsigned char *v, size_t n)
{
    randombytes_buf(v + 32, n - 32);
    crypto_generichash(v, 32, v + 32, n - 32, NULL, 0);
}

static void make_version(unsigned char v[VERSION_LEN])
{
    make_version_n(v, VERSION_LEN);
}

static int version_ok_n(const unsigned char *v, size_t len, size_t want)
{
    unsigned char h[32];

    if (len != want) {
        return 0;
    }
    crypto_generichash(h, 32, v + 32, want - 32, NULL, 0);
    return memcmp(h, v, 32) == 0;
}

static int version_ok(const unsigned char *v, size_t len)
{
    return version_ok_n(v, len, VERSION_LEN);
}

/* In a child: replace path with n fresh versions of size bytes (or until
 * killed), then exit 0 (2 if a write failed). */
static void writer(const char *path, size_t size, int n)
{
    unsigned char *v = malloc(size);

    for (int i = 0; v != NULL && i < n; i++) {
        make_version_n(v, size);
        if (secmq__kfile_write(path, v, size, 0600, NULL) != SECMQ_OK) {
            _exit(2);
        }
    }
    _exit(v != NULL ? 0 : 2);
}

/*
 * Read path over and over while a child writer replaces it n times with
 * versions of size bytes (stopping after 20 s at most). Returns the number
 * of reads that were not one whole version (-1: the writer failed), and
 * the number of reads in *reads.
 */
static int read_while_replaced(const char *path, size_t size, int n, int *reads)
{
    unsigned char *d = NULL;
    char err[ERRLEN] = "";
    secmq__kerr e = {err, sizeof err};
    size_t len = 0;
    int status = 0, bad = 0, done = 0;
    pid_t pid = fork();

    *reads = 0;
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        writer(path, size, n);
    }
    for (long long t0 = tu_now_ms(); !done && tu_now_ms() - t0 < 20000;) {
        int rc = secmq__kfile_read(path, size, 0, &d, &len, &e);

        if (rc != SECMQ_OK || !version_ok_n(d, len, size)) {
            if (bad++ < 5) {
                fprintf(stderr, "read %d: %s (%zu bytes)\n", *reads,
                        rc != SECMQ_OK ? err : "not a whole version", len);
            }
        }
        secmq__kfile_release(d, len + 1, 0);
        (*reads)++;
        done = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    fprintf(stderr, "%d reads during %d replaces of %zu bytes\n", *reads, n,
            size);
    if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return -1;
    }
    return bad;
}

static void test_replace_erases_old(void)
{
    unsigned char secret[SECRET_LEN], fresh[100];
    fx f;
    const char *path = f.path, *keep = f.keep;
    struct stat a, b;

    fx_init(&f, "replace.chan");
    secret_pattern(secret, sizeof secret, 0);
    memset(fresh, 'n', sizeof fresh);
    CHECK_INT_EQ(secmq__kfile_write(path, secret, sizeof secret, 0600, &f.e),
                 SECMQ_OK);
    /* A second name for the same inode: it shows what happens to the old
     * file's blocks once the keyring replaces it. */
    CHECK(link(path, keep) == 0);
    CHECK(holds(keep, secret, sizeof secret));
    CHECKF(secmq__kfile_write(path, fresh, sizeof fresh, 0640, &f.e) ==
               SECMQ_OK,
           "%s", f.err);
    CHECK(holds(path, fresh, sizeof fresh));
    CHECKF(all_zero(keep, sizeof secret),
           "the replaced file still holds its old bytes");
    CHECK(stat(path, &a) == 0 && stat(keep, &b) == 0);
    CHECK(a.st_ino != b.st_ino);
    CHECK_INT_EQ(a.st_mode & 07777, 0640);
    CHECK_INT_EQ(count_tmp(tu_tmpdir()), 0);
    unlink(keep);
    unlink(path);
}

static void test_sealed_replace_erases_old(void)
{
    unsigned char key[32], secret[SECRET_LEN], *pt = NULL;
    fx f;
    const char *path = f.path, *keep = f.keep;
    struct stat st;
    size_t len = 0;
    int rc;

    fx_init(&f, "seq");
    randombytes_buf(key, sizeof key);
    secret_pattern(secret, sizeof secret, 1);
    CHECK_INT_EQ(
        secmq__kfile_seal_write(path, "seq", key, secret, sizeof secret, &f.e),
        SECMQ_OK);
    CHECK(link(path, keep) == 0 && stat(keep, &st) == 0);
    CHECK_INT_EQ(secmq__kfile_seal_write(path, "seq", key, secret, 10, &f.e),
                 SECMQ_OK);
    CHECK(all_zero(keep, (size_t)st.st_size));
    rc = secmq__kfile_seal_read(path, "seq", key, SECRET_LEN, 0, &pt, &len,
                                &f.e);
    CHECKF(rc == SECMQ_OK, "%s", f.err);
    CHECK(len == 10 && memcmp(pt, secret, 10) == 0);
    sodium_free(pt);
    unlink(keep);
    unlink(path);
}

static void test_remove_erases(void)
{
    unsigned char secret[SECRET_LEN];
    fx f;
    const char *path = f.path, *keep = f.keep;
    struct stat st;

    fx_init(&f, "remove.grant");
    secret_pattern(secret, sizeof secret, 2);
    CHECK_INT_EQ(secmq__kfile_create(path, secret, sizeof secret, &f.e),
                 SECMQ_OK);
    CHECK(link(path, keep) == 0);
    CHECKF(secmq__kfile_remove(path, &f.e) == SECMQ_OK, "%s", f.err);
    CHECK(lstat(path, &st) != 0 && errno == ENOENT);
    CHECKF(all_zero(keep, sizeof secret),
           "the removed file still holds its old bytes");
    /* Nothing there: fine, and nothing to erase. */
    CHECK_INT_EQ(secmq__kfile_remove(path, &f.e), SECMQ_OK);
    unlink(keep);
}

/* path as a 65 MiB sparse file (no disk space used). 0 or -1. */
static int make_huge(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc;

    if (fd < 0) {
        return -1;
    }
    rc = ftruncate(fd, (off_t)65 * 1024 * 1024);
    close(fd);
    return rc;
}

/* A file too large for any keyring file is not overwritten: the replace
 * and the removal still happen, and the failure is reported. (Mode bits
 * cannot stop root, which the tests may run as; size can.) */
static void test_erase_failure_reported(void)
{
    fx f;
    const char *path = f.path;
    struct stat st;

    fx_init(&f, "huge");
    CHECK(make_huge(path) == 0);
    CHECK_INT_EQ(secmq__kfile_write(path, "new", 3, 0600, &f.e), SECMQ_E_IO);
    CHECK_CONTAINS(f.err, "replaced, but its old content could not be", 0);
    CHECK_CONTAINS(f.err, path, 0);
    CHECK(holds(path, "new", 3));

    CHECK(make_huge(path) == 0);
    f.err[0] = 0;
    CHECK_INT_EQ(secmq__kfile_remove(path, &f.e), SECMQ_E_IO);
    CHECK_CONTAINS(f.err, "removed, but its old content could not be", 0);
    CHECK(lstat(path, &st) != 0 && errno == ENOENT);
}

/* A symbolic link is replaced or removed itself; what it points at is not
 * a keyring file and is never overwritten. A FIFO is never opened (that
 * would block). */
static void test_links_and_fifos(void)
{
    unsigned char secret[SECRET_LEN];
    fx f, t;
    const char *path = f.path, *target = f.keep, *fifo = t.path;
    struct stat st;

    fx_init(&f, "linked.chan");
    fx_init(&t, "fifo.chan");
    secret_pattern(secret, sizeof secret, 3);
    CHECK(tu_write_file(target, secret, sizeof secret) == 0);
    CHECK(symlink(target, path) == 0);
    CHECKF(secmq__kfile_write(path, "new", 3, 0600, &f.e) == SECMQ_OK, "%s",
           f.err);
    CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(holds(path, "new", 3));
    CHECK(holds(target, secret, sizeof secret));
    unlink(path);
    CHECK(symlink(target, path) == 0);
    CHECK_INT_EQ(secmq__kfile_remove(path, &f.e), SECMQ_OK);
    CHECK(lstat(path, &st) != 0);
    CHECK(holds(target, secret, sizeof secret));

    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_INT_EQ(secmq__kfile_remove(fifo, &f.e), SECMQ_OK);
    CHECK(lstat(fifo, &st) != 0);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_INT_EQ(secmq__kfile_write(fifo, "new", 3, 0600, &f.e), SECMQ_OK);
    CHECK(holds(fifo, "new", 3));
    unlink(fifo);
    unlink(target);
}

/*
 * Many replaces, each version kept under a second name: afterwards every
 * version but the last is zeros, the last is whole under the name, and no
 * temporary file is left. Meanwhile a reader in this process reads the
 * name over and over: every read is a whole version, never zeros (which
 * an overwrite before the rename would show).
 */
static void test_many_replaces(void)
{
    unsigned char v[VERSION_LEN], *d = NULL;
    char name[64];
    fx f;
    const char *path = f.path;
    size_t len = 0;
    int reads = 0;

    fx_init(&f, "many/state");
    CHECK(mkdir(tu_at("many"), 0700) == 0);
    make_version(v);
    CHECK_INT_EQ(secmq__kfile_write(path, v, sizeof v, 0600, &f.e), SECMQ_OK);
    for (int i = 0; i < 20; i++) {
        make_version(v);
        snprintf(name, sizeof name, "many/keep%d", i);
        CHECK(link(path, tu_at(name)) == 0);
        CHECK_INT_EQ(secmq__kfile_write(path, v, sizeof v, 0600, &f.e),
                     SECMQ_OK);
    }
    CHECK(holds(path, v, sizeof v));
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "many/keep%d", i);
        CHECKF(all_zero(tu_at(name), VERSION_LEN), "version %d not erased", i);
        unlink(tu_at(name));
    }

    CHECK_INT_EQ(read_while_replaced(path, VERSION_LEN, REPLACES, &reads), 0);
    CHECK(reads > 0);
    CHECK_INT_EQ(secmq__kfile_read(path, VERSION_LEN, 0, &d, &len, &f.e),
                 SECMQ_OK);
    CHECK(version_ok(d, len));
    secmq__kfile_release(d, len + 1, 0);
    CHECK_INT_EQ(count_tmp(tu_at("many")), 0);
}

/* In a child: read path over and over (for 60 s at most), writing a byte
 * to fd after each whole version; exit 3 at the first read that is not
 * one (its reason on stderr). */
static void reader(const char *path, int fd)
{
    unsigned char *d = NULL;
    size_t len = 0;

    for (long long t0 = tu_now_ms(); tu_now_ms() - t0 < 60000;) {
        char err[ERRLEN] = "";
        secmq__kerr e = {err, sizeof err};
        int rc = secmq__kfile_read(path, VERSION_LEN, 0, &d, &len, &e);

        if (rc != SECMQ_OK || !version_ok(d, len)) {
            fprintf(stderr, "reader: %s (%zu bytes)\n",
                    rc != SECMQ_OK ? err : "not a whole version", len);
            _exit(3);
        }
        secmq__kfile_release(d, len + 1, 0);
        if (write(fd, "r", 1) != 1) {
            _exit(4);
        }
    }
    _exit(0);
}

/* Read what the reader wrote to fd so far (fd is non-blocking). */
static void drain(int fd)
{
    char buf[4096];

    for (int i = 0; i < 64 && read(fd, buf, sizeof buf) > 0; i++) {
    }
}

/* Wait (10 s at most) until the reader finished one more read. 0 or -1
 * (it ended: a bad read, or it is stuck). */
static int one_more_read(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    char c;

    return poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1 ? 0 : -1;
}

/*
 * A reader stopped (SIGSTOP) at a random point of its loop while the file
 * is replaced and the old one erased, then continued: when it was stopped
 * after opening the old file and before reading it, it would read the
 * zeros; secmq__kfile_read sees that the name now points elsewhere and
 * reads again. Every read must be one whole version. After each replace
 * the reader finishes a read before it is stopped again: one read is
 * meant to meet one replace, not a series of them.
 */
static void test_reader_of_replaced_file(void)
{
    unsigned char v[VERSION_LEN];
    fx f;
    const char *path = f.path;
    int status = 0, rounds = 0, fds[2];
    pid_t pid;

    fx_init(&f, "stopped.grant");
    make_version(v);
    CHECK_INT_EQ(secmq__kfile_write(path, v, sizeof v, 0600, &f.e), SECMQ_OK);
    CHECK(pipe(fds) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        reader(path, fds[1]);
    }
    close(fds[1]);
    CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
    for (; rounds < STOPS; rounds++) {
        struct timespec ts = {0, (long)randombytes_uniform(50000u)};

        nanosleep(&ts, NULL);
        if (kill(pid, SIGSTOP) != 0 ||
            waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
            break; /* the reader ended: it found a bad read */
        }
        drain(fds[0]);
        make_version(v);
        if (secmq__kfile_write(path, v, sizeof v, 0600, &f.e) != SECMQ_OK) {
            break;
        }
        kill(pid, SIGCONT);
        if (one_more_read(fds[0]) != 0) {
            break;
        }
    }
    close(fds[0]);
    if (rounds == STOPS || !WIFEXITED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECKF(rounds == STOPS && WIFSIGNALED(status),
           "the reader read something that is not a whole version (after "
           "%d of %d replaces; status %d; %s)",
           rounds, STOPS, status, f.err);
}

/*
 * A writer SIGKILLed at random moments (sometimes between the rename and
 * the overwrite): the name always holds one whole version. Temporary
 * files of a killed writer may remain; the next write is unaffected.
 */
static void test_killed_writer(void)
{
    unsigned char *d = NULL;
    fx f;
    const char *path = f.path;
    unsigned char v[VERSION_LEN];
    size_t len = 0;
    int status;

    fx_init(&f, "killed");
    make_version(v);
    CHECK_INT_EQ(secmq__kfile_write(path, v, sizeof v, 0600, &f.e), SECMQ_OK);
    for (int k = 0; k < KILLS; k++) {
        struct timespec ts = {0, (long)randombytes_uniform(15000000u)};
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (pid == 0) {
            writer(path, VERSION_LEN, 1000000);
        }
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECKF(WIFSIGNALED(status), "writer status %d (not killed)", status);
        CHECKF(secmq__kfile_read(path, VERSION_LEN, 0, &d, &len, &f.e) ==
                   SECMQ_OK,
               "%s", f.err);
        CHECKF(version_ok(d, len),
               "kill %d left %zu bytes that are not a "
               "whole version",
               k, len);
        secmq__kfile_release(d, len + 1, 0);
    }
}

int main(void)
{
    if (sodium_init() < 0 || tu_tmpdir_make("kfile") != 0) {
        return 1;
    }
    RUN(test_replace_erases_old);
    RUN(test_sealed_replace_erases_old);
    RUN(test_remove_erases);
    RUN(test_erase_failure_reported);
    RUN(test_links_and_fifos);
    RUN(test_many_replaces);
    RUN(test_reader_of_replaced_file);
    RUN(test_killed_writer);
    tu_tmpdir_done("kfile test files");
    return check_exit();
}
