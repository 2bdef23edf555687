/*
 * bench_file.c -- `secmq-bench --suite file`: encrypted, resumable file
 * transfer (secmq-file, PROTOCOL.md §8) against secmq's TLS-only
 * throughput at the same message size, and the receiver's peak memory for
 * two file sizes.
 *
 * Rows:
 *   tls-qos1   secmq TLS, no envelopes: N messages of the chunk size at
 *              QoS 1 with the same window as the sender, one publisher and
 *              one subscriber in this process (MB/s of payload)
 *   file       `secmq-file send` of a file of that many bytes to
 *              `secmq-file recv -C 1`, both as child processes: from the
 *              sender's start until the receiver exits (the file hashed,
 *              sent, written, fsynced, verified, renamed), MB/s of file;
 *              50 MB and 4 MB (a camera image) with protocol 2 and 1
 *   mosquitto  `mosquitto_pub -f` of an 8 MB file in one QoS 1 message
 *              over TLS to a `mosquitto_sub -C 1` writing it to a file,
 *              from the publisher's start until the subscriber exits,
 *              next to secmq-file (protocol 2) of the same 8 MB
 *   rss        peak RSS (ru_maxrss from wait4) of the receiver and the
 *              sender for each file size
 *   cpu        user + system CPU time (from wait4) of the receiver and the
 *              sender for each file size, and that per chunk
 *   codec      the crypto of one 64 KiB chunk in each protocol, in this
 *              process (bench_filecodec.c): the least noisy comparison
 * The keyrings are made with secmq-keys as in docs/PROTOCOL.md §8.1.
 * Everything runs against the bench's private mosquitto on 127.0.0.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <secmq.h>

#include "bench.h"
#include "bench_filecodec.h"

#define MB 1000000.0
#define CHUNK 65536u
#define WINDOW 16u
#define FILE_TIMEOUT_S 300
/* Paths made here: a directory of BENCH_PATH_BYTES plus a file name. */
#define PATHB (BENCH_PATH_BYTES + 64u)

struct fopts {
    int json;
    int quick;
    int keep;
    const char *mosquitto;
};

/* ---- child processes ------------------------------------------------------
 */

/* Start argv (NULL-terminated) with stdout/stderr to out_path. */
static pid_t spawn(char *const argv[], const char *out_path)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0) {
            dup2(nul, 0);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* What one child used: peak RSS and CPU time (user + system). */
struct usage {
    long rss_kb;
    double cpu_s;
};

/* Wait for pid at most timeout_s; *u what it used. Exit status or -1. */
static int reap(pid_t pid, double timeout_s, struct usage *u)
{
    uint64_t end = bench_now_ns() + (uint64_t)(timeout_s * 1e9);
    struct rusage ru;
    int st = 0;

    for (;;) {
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid) {
            u->rss_kb = ru.ru_maxrss;
            u->cpu_s =
                (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        if (r < 0 || bench_now_ns() > end || bench_interrupted) {
            kill(pid, SIGKILL);
            (void)wait4(pid, &st, 0, &ru);
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static int keys(const char *tool, char *const args[], const char *log,
                char *err, size_t errlen)
{
    char *argv[16];
    size_t n = 0;

    argv[n++] = (char *)tool;
    for (size_t i = 0; args[i] != NULL && n < 15; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return bench_run_tool(argv, NULL, log, 20000, err, errlen);
}

/* sam sends on "files" to alice: identities, two channels, imports. */
static int make_keyrings(const char *dir, const char *keys_bin, char *err,
                         size_t errlen)
{
    char sam[PATHB], alice[PATHB], sampub[PATHB], alicepub[PATHB];
    char g1[PATHB], g2[PATHB], log[PATHB], ga1[2 * PATHB], ga2[2 * PATHB];

    snprintf(sam, sizeof sam, "%s/sam", dir);
    snprintf(alice, sizeof alice, "%s/alice", dir);
    snprintf(sampub, sizeof sampub, "%s/sam.pub", dir);
    snprintf(alicepub, sizeof alicepub, "%s/alice.pub", dir);
    snprintf(g1, sizeof g1, "%s/g1", dir);
    snprintf(g2, sizeof g2, "%s/g2", dir);
    snprintf(log, sizeof log, "%s/keys.log", dir);
    snprintf(ga1, sizeof ga1, "%s/alice.grant", g1);
    snprintf(ga2, sizeof ga2, "%s/alice.grant", g2);
    {
        char *a1[] = {"init", "--keyring", sam, "--name", "sam", NULL};
        char *a2[] = {"init", "--keyring", alice, "--name", "alice", NULL};
        char *a3[] = {"export", "--keyring", sam, NULL};
        char *a4[] = {"export", "--keyring", alice, NULL};
        char *a5[] = {"channel",     "create",  "--keyring",
                      sam,           "--topic", "files/#",
                      "--publisher", sampub,    "--subscriber",
                      alicepub,      "--out",   g1,
                      NULL};
        char *a6[] = {"channel",     "create",  "--keyring",
                      sam,           "--topic", "files/r/#",
                      "--publisher", alicepub,  "--subscriber",
                      sampub,        "--out",   g2,
                      NULL};
        char *a7[] = {"import", "--keyring", alice, sampub, ga1, ga2, NULL};
        if (keys(keys_bin, a1, log, err, errlen) != 0 ||
            keys(keys_bin, a2, log, err, errlen) != 0) {
            return -1;
        }
        {
            char *e1[] = {(char *)keys_bin, a3[0], a3[1], a3[2], NULL};
            char *e2[] = {(char *)keys_bin, a4[0], a4[1], a4[2], NULL};
            if (bench_run_tool(e1, NULL, sampub, 20000, err, errlen) != 0 ||
                bench_run_tool(e2, NULL, alicepub, 20000, err, errlen) != 0) {
                return -1;
            }
        }
        if (keys(keys_bin, a5, log, err, errlen) != 0 ||
            keys(keys_bin, a6, log, err, errlen) != 0 ||
            keys(keys_bin, a7, log, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A file of size bytes of random-looking data (xorshift, not secret). */
static int make_file(const char *path, size_t size)
{
    static unsigned char buf[1 << 20];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    FILE *f = fopen(path, "wb");

    if (f == NULL) {
        return -1;
    }
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        for (size_t i = 0; i + 8 <= sizeof buf; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(buf + i, &x, 8);
        }
        if (fwrite(buf, 1, n, f) != n) {
            fclose(f);
            return -1;
        }
        done += n;
    }
    return fclose(f);
}

/* One file transfer with protocol proto ("1" or "2"); MB/s into *rate,
 * peak RSS of both sides. */
static int run_file(const bench_broker *b, const char *dir, const char *bin,
                    size_t size, int n, const char *proto, double *rate,
                    struct usage *recv_u, struct usage *send_u, char *err,
                    size_t errlen)
{
    char tool[PATHB], port[16], src[PATHB], out[PATHB], log[PATHB];
    char st[PATHB], sam[PATHB], alice[PATHB], rid[32], sid[32];
    pid_t rp, sp;
    uint64_t t0;
    int rrc, src_rc;

    snprintf(tool, sizeof tool, "%s/secmq-file", bin);
    snprintf(port, sizeof port, "%d", b->tls_port);
    snprintf(src, sizeof src, "%s/file-%d.bin", dir, n);
    snprintf(out, sizeof out, "%s/out-%d", dir, n);
    snprintf(log, sizeof log, "%s/file-%d.log", dir, n);
    snprintf(st, sizeof st, "%s/send-%d.db", dir, n);
    snprintf(sam, sizeof sam, "%s/sam", dir);
    snprintf(alice, sizeof alice, "%s/alice", dir);
    snprintf(rid, sizeof rid, "bench-recv-%d", n);
    snprintf(sid, sizeof sid, "bench-send-%d", n);
    if (mkdir(out, 0700) != 0 || make_file(src, size) != 0) {
        snprintf(err, errlen, "cannot make %.300s: %s", src, strerror(errno));
        return -1;
    }
    {
        char *rargv[] = {tool,        "recv",      "--no-config",
                         "-h",        "127.0.0.1", "-p",
                         port,        "--cafile",  (char *)b->cafile,
                         "--keyring", alice,       "-i",
                         rid,         "-t",        "files",
                         "-o",        out,         "-C",
                         "1",         "--quiet",   NULL};
        rp = spawn(rargv, log);
    }
    /* Let it subscribe (the sender repeats its manifest anyway). */
    {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    t0 = bench_now_ns();
    {
        char win[16];
        snprintf(win, sizeof win, "%u", WINDOW);
        char *sargv[] = {tool,
                         "send",
                         "--no-config",
                         "-h",
                         "127.0.0.1",
                         "-p",
                         port,
                         "--cafile",
                         (char *)b->cafile,
                         "--keyring",
                         sam,
                         "-i",
                         sid,
                         "-t",
                         "files",
                         "--window",
                         win,
                         "--state",
                         st,
                         "--quiet",
                         "--protocol",
                         (char *)proto,
                         src,
                         NULL};
        sp = spawn(sargv, log);
    }
    rrc = reap(rp, FILE_TIMEOUT_S, recv_u);
    *rate = (double)size / ((double)(bench_now_ns() - t0) / 1e9) / MB;
    src_rc = reap(sp, 30, send_u);
    if (rrc != 0 || src_rc != 0) {
        snprintf(err, errlen,
                 "secmq-file recv exited %d, send %d (see %.300s with --keep)",
                 rrc, src_rc, log);
        return -1;
    }
    (void)unlink(src);
    return 0;
}

/*
 * The same file as one message with mosquitto's own clients over TLS, as
 * a user would: mosquitto_sub -C 1 writes it to a file, mosquitto_pub -f
 * sends it at QoS 1; from the publisher's start until the subscriber has
 * written it and exited. MB/s into *rate.
 */
static int run_mosquitto(const bench_broker *b, const char *dir, size_t size,
                         int n, double *rate, char *err, size_t errlen)
{
    char port[16], src[PATHB], out[PATHB], log[PATHB];
    struct usage u;
    pid_t rp, sp;
    uint64_t t0;
    int rrc, src_rc;
    struct stat got;

    snprintf(port, sizeof port, "%d", b->tls_port);
    snprintf(src, sizeof src, "%s/mq-%d.bin", dir, n);
    snprintf(out, sizeof out, "%s/mq-%d.out", dir, n);
    snprintf(log, sizeof log, "%s/mq-%d.log", dir, n);
    if (make_file(src, size) != 0) {
        snprintf(err, errlen, "cannot make %.300s: %s", src, strerror(errno));
        return -1;
    }
    /* The same connection and topic for both; then -C 1 -N, or -f. */
    {
        char *av[] = {"/usr/bin/mosquitto_sub",
                      "-h",
                      "127.0.0.1",
                      "-p",
                      port,
                      "--cafile",
                      (char *)b->cafile,
                      "-t",
                      "raw/file",
                      "-q",
                      "1",
                      "-C",
                      "1",
                      "-N",
                      NULL};
        rp = spawn(av, out);
        {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
        t0 = bench_now_ns();
        av[0] = "/usr/bin/mosquitto_pub";
        av[11] = "-f";
        av[12] = src;
        av[13] = NULL;
        sp = spawn(av, log);
    }
    rrc = reap(rp, FILE_TIMEOUT_S, &u);
    *rate = (double)size / ((double)(bench_now_ns() - t0) / 1e9) / MB;
    src_rc = reap(sp, 30, &u);
    if (rrc != 0 || src_rc != 0 || stat(out, &got) != 0 ||
        (size_t)got.st_size != size) {
        snprintf(err, errlen,
                 "mosquitto_sub exited %d, mosquitto_pub %d, or %.300s is "
                 "not the whole file",
                 rrc, src_rc, out);
        return -1;
    }
    (void)unlink(src);
    (void)unlink(out);
    return 0;
}

/* ---- TLS-only baseline ------------------------------------------------------
 */

struct base {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long arrived, acked;
    int subscribed, connected;
};

static void b_msg(secmq_client *c, void *user, const secmq_message *m)
{
    struct base *b = user;
    (void)c;
    (void)m;
    pthread_mutex_lock(&b->mu);
    b->arrived++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void b_pub(secmq_client *c, void *user, int mid, int rc)
{
    struct base *b = user;
    (void)c;
    (void)mid;
    (void)rc;
    pthread_mutex_lock(&b->mu);
    b->acked++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void b_sub(secmq_client *c, void *user, int mid, int n, const int *g)
{
    struct base *b = user;
    (void)c;
    (void)mid;
    (void)n;
    (void)g;
    pthread_mutex_lock(&b->mu);
    b->subscribed = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int open_client(secmq_client **c, const bench_broker *br, struct base *b,
                       const char *id)
{
    if (bench_client_new(c, br, id, b) != 0) {
        return -1;
    }
    secmq_client_on_message(*c, b_msg);
    secmq_client_on_publish(*c, b_pub);
    secmq_client_on_subscribe(*c, b_sub);
    if (secmq_client_connect(*c) != SECMQ_OK ||
        secmq_client_wait_connected(*c, 10000) != SECMQ_OK ||
        secmq_client_loop_start(*c) != SECMQ_OK) {
        return -1;
    }
    return 0;
}

/* count messages of CHUNK bytes at QoS 1, WINDOW unacknowledged at most. */
static int run_tls(const bench_broker *br, long count, double *rate, char *err,
                   size_t errlen)
{
    secmq_client *pub = NULL, *sub = NULL;
    unsigned char *payload = calloc(1, CHUNK);
    struct base b;
    uint64_t t0, end;
    int rc = -1;

    memset(&b, 0, sizeof b);
    pthread_mutex_init(&b.mu, NULL);
    bench_cond_init(&b.cv);
    if (payload == NULL || open_client(&sub, br, &b, "bench-tls-sub") != 0 ||
        open_client(&pub, br, &b, "bench-tls-pub") != 0 ||
        secmq_client_subscribe(sub, NULL, "tlsonly", 1) != SECMQ_OK) {
        snprintf(err, errlen, "secmq TLS baseline: cannot connect");
        goto out;
    }
    end = bench_now_ns() + 10000000000ull;
    pthread_mutex_lock(&b.mu);
    while (!b.subscribed && bench_now_ns() < end) {
        bench_cond_wait(&b.cv, &b.mu, end, 100000000ull);
    }
    pthread_mutex_unlock(&b.mu);
    t0 = bench_now_ns();
    end = t0 + 120000000000ull;
    for (long i = 0; i < count && !bench_interrupted; i++) {
        pthread_mutex_lock(&b.mu);
        while (i - b.acked >= (long)WINDOW && bench_now_ns() < end) {
            bench_cond_wait(&b.cv, &b.mu, end, 100000000ull);
        }
        pthread_mutex_unlock(&b.mu);
        if (secmq_client_publish(pub, NULL, "tlsonly", payload, CHUNK, 1, 0) !=
            SECMQ_OK) {
            snprintf(err, errlen, "secmq TLS baseline: publish failed");
            goto out;
        }
    }
    pthread_mutex_lock(&b.mu);
    while (b.arrived < count && bench_now_ns() < end && !bench_interrupted) {
        bench_cond_wait(&b.cv, &b.mu, end, 100000000ull);
    }
    rc = b.arrived >= count ? 0 : -1;
    pthread_mutex_unlock(&b.mu);
    *rate = (double)count * CHUNK / ((double)(bench_now_ns() - t0) / 1e9) / MB;
    if (rc != 0) {
        snprintf(err, errlen, "secmq TLS baseline: messages lost");
    }
out:
    if (pub != NULL) {
        (void)secmq_client_disconnect(pub);
    }
    if (sub != NULL) {
        (void)secmq_client_disconnect(sub);
    }
    secmq_client_free(pub);
    secmq_client_free(sub);
    free(payload);
    return rc;
}

/* ---- the suite ------------------------------------------------------------
 */

static long chunks_of(size_t size)
{
    return (long)((size + CHUNK - 1) / CHUNK);
}

/* A process's CPU seconds per chunk of a file of size bytes, in us. */
static double per_chunk(double cpu_s, size_t size)
{
    return cpu_s / (double)chunks_of(size) * 1e6;
}

static const char file_usage[] =
    "usage: secmq-bench --suite file [--json] [--quick] [--keep] "
    "[--mosquitto PATH]\n"
    "\n"
    "secmq-file (PROTOCOL.md section 8) through a private mosquitto on\n"
    "127.0.0.1, keyrings made with secmq-keys. Rows:\n"
    "  TLS only   secmq, no envelopes: 50 MB in 64 KiB messages, QoS 1,\n"
    "             window 16, one publisher and one subscriber (MB/s)\n"
    "  file       secmq-file send of a 50 MB file to secmq-file recv -C 1,\n"
    "             both child processes, from the sender's start until the\n"
    "             receiver exits (MB/s of file), and its ratio to TLS only,\n"
    "             with protocol 2 and protocol 1 (--protocol 1)\n"
    "  image      the same for a 4 MB file (a camera image), v2 and v1\n"
    "  mosquitto  an 8 MB file as one QoS 1 message over TLS:\n"
    "             mosquitto_pub -f to mosquitto_sub -C 1 writing it, from\n"
    "             the publisher's start until the subscriber exits, next\n"
    "             to secmq-file (v2) of the same 8 MB\n"
    "  memory     peak RSS of receiver and sender for every run (50, 4, 8,\n"
    "             10 and 100 MB)\n"
    "  codec      the crypto of a 64 KiB chunk in each protocol, in this\n"
    "             process (hashes, AEAD, signature or proof; min of 3)\n"
    "  CPU        user + system CPU time of receiver and sender (wait4),\n"
    "             whole process, and that divided by the file's chunks\n"
    "Options:\n"
    "  --quick    2 MB instead of 50, a 1 MB image instead of 4 MB, 1 and\n"
    "             4 MB instead of 10 and 100 (the 8 MB row stays)\n"
    "  --json     one JSON document instead of the text\n"
    "  --keep     keep the temp dirs (logs, keyrings)\n"
    "  --mosquitto PATH  broker binary (default /usr/sbin/mosquitto)\n"
    "  --help     this text\n";

/* 0, -1 for a usage error (reported), 1 after --help. */
static int parse(struct fopts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->mosquitto = "/usr/sbin/mosquitto";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o->json = 1;
        } else if (strcmp(argv[i], "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(argv[i], "--keep") == 0) {
            o->keep = 1;
        } else if (strcmp(argv[i], "--mosquitto") == 0 && i + 1 < argc) {
            o->mosquitto = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("%s", file_usage);
            return 1;
        } else {
            fprintf(stderr,
                    "secmq-bench --suite file: unknown option '%s'\n"
                    "usage: secmq-bench --suite file [--json] [--quick] "
                    "[--keep] [--mosquitto PATH]\n",
                    argv[i]);
            return -1;
        }
    }
    return 0;
}

/* The transfers of the suite, in the order they run. */
struct run {
    size_t size;
    const char *proto; /* "1" or "2" */
    const char *what;
    double rate;
    struct usage r, s;
};

int bench_file_main(int argc, char **argv)
{
    char err[BENCH_ERR_BYTES], certs[BENCH_PATH_BYTES], bin[BENCH_PATH_BYTES];
    char keys_bin[BENCH_PATH_BYTES], dir[BENCH_PATH_BYTES];
    /* 50 MB for the rate (both protocols), a 4 MB camera image, 8 MB
     * against mosquitto_pub, 10 and 100 MB for the memory. */
    struct run runs[] = {
        {50000000, "2", "rate", 0, {0, 0}, {0, 0}},
        {50000000, "1", "rate", 0, {0, 0}, {0, 0}},
        {4000000, "2", "image", 0, {0, 0}, {0, 0}},
        {4000000, "1", "image", 0, {0, 0}, {0, 0}},
        {8000000, "2", "vs mosquitto_pub", 0, {0, 0}, {0, 0}},
        {10000000, "2", "memory", 0, {0, 0}, {0, 0}},
        {100000000, "2", "memory", 0, {0, 0}, {0, 0}},
    };
    enum { NRUNS = sizeof runs / sizeof runs[0], MQ_SIZE = 8000000 };
    double tls = 0, mq = 0;
    struct codec_cost cc;
    bench_broker br;
    bench_host h;
    struct fopts o;
    int rc = 1;

    rc = parse(&o, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    if (o.quick) {
        runs[0].size = runs[1].size = 2000000;
        runs[2].size = runs[3].size = 1000000;
        runs[5].size = 1000000;
        runs[6].size = 4000000;
    }
    memset(&br, 0, sizeof br);
    dir[0] = '\0';
    signal(SIGPIPE, SIG_IGN);
    if (bench_broker_default_certs_bin(certs, sizeof certs, err, sizeof err) !=
            0 ||
        bench_path_near_self(bin, sizeof bin, ".", err, sizeof err) != 0 ||
        bench_path_near_self(keys_bin, sizeof keys_bin, "secmq-keys", err,
                             sizeof err) != 0 ||
        bench_broker_start(&br, o.mosquitto, certs, o.keep, err, sizeof err) !=
            0 ||
        bench_mkdtemp(dir, "secmq-bench-file", err, sizeof err) != 0 ||
        make_keyrings(dir, keys_bin, err, sizeof err) != 0) {
        goto out;
    }
    if (run_tls(&br, (long)(runs[0].size / CHUNK), &tls, err, sizeof err) !=
        0) {
        goto out;
    }
    for (int i = 0; i < (int)NRUNS; i++) {
        if (run_file(&br, dir, bin, runs[i].size, i, runs[i].proto,
                     &runs[i].rate, &runs[i].r, &runs[i].s, err,
                     sizeof err) != 0) {
            goto out;
        }
        if (runs[i].size == MQ_SIZE &&
            run_mosquitto(&br, dir, MQ_SIZE, i, &mq, err, sizeof err) != 0) {
            goto out;
        }
    }
    if (bench_filecodec(&cc) != 0) {
        snprintf(err, sizeof err, "the file codecs failed in-process");
        goto out;
    }
    bench_host_probe(&h);
    if (o.json) {
        printf("{\"suite\":\"file\",\"cpu\":\"%s\",\"cores\":%d,"
               "\"chunk\":%u,\"window\":%u,"
               "\"tls_qos1_mb_s\":%.2f,\"file_mb\":%.0f,\"file_mb_s\":%.2f,"
               "\"ratio\":%.3f,\"file_v1_mb_s\":%.2f,\"ratio_v1\":%.3f,"
               "\"mosquitto_pub_8mb_mb_s\":%.2f,\"file_8mb_mb_s\":%.2f,"
               "\"codec_us_per_chunk\":{\"v1_send\":%.1f,\"v1_recv\":%.1f,"
               "\"v2_send\":%.1f,\"v2_recv\":%.1f},\"runs\":[",
               h.cpu, h.cores, CHUNK, WINDOW, tls, (double)runs[0].size / MB,
               runs[0].rate, tls > 0 ? runs[0].rate / tls : 0.0, runs[1].rate,
               tls > 0 ? runs[1].rate / tls : 0.0, mq, runs[4].rate, cc.v1_send,
               cc.v1_recv, cc.v2_send, cc.v2_recv);
        for (int i = 0; i < (int)NRUNS; i++) {
            const struct run *r = &runs[i];
            printf("%s{\"file_mb\":%.0f,\"protocol\":%s,\"what\":\"%s\","
                   "\"recv_kb\":%ld,\"send_kb\":%ld,"
                   "\"mb_s\":%.2f,\"recv_cpu_s\":%.6f,\"send_cpu_s\":%.6f,"
                   "\"chunks\":%ld,\"recv_cpu_us_per_chunk\":%.1f,"
                   "\"send_cpu_us_per_chunk\":%.1f}",
                   i ? "," : "", (double)r->size / MB, r->proto, r->what,
                   r->r.rss_kb, r->s.rss_kb, r->rate, r->r.cpu_s, r->s.cpu_s,
                   chunks_of(r->size), per_chunk(r->r.cpu_s, r->size),
                   per_chunk(r->s.cpu_s, r->size));
        }
        printf("]}\n");
    } else {
        printf("secmq-bench --suite file (%s, %d cores)\n", h.cpu, h.cores);
        printf("  secmq TLS only, %u B messages, QoS 1, window %u: %8.1f "
               "MB/s\n",
               CHUNK, WINDOW, tls);
        for (int i = 0; i < 2; i++) {
            printf("  secmq-file v%s, %.0f MB file, %u B chunks, window %u: "
                   "%8.1f MB/s  (%.2fx TLS only; target 0.8x)\n",
                   runs[i].proto, (double)runs[i].size / MB, CHUNK, WINDOW,
                   runs[i].rate, tls > 0 ? runs[i].rate / tls : 0.0);
        }
        for (int i = 2; i < 4; i++) {
            printf("  secmq-file v%s, %.0f MB camera image: %8.1f MB/s\n",
                   runs[i].proto, (double)runs[i].size / MB, runs[i].rate);
        }
        printf("  8 MB file over TLS: mosquitto_pub -f (one QoS 1 message) "
               "%.1f MB/s, secmq-file v2 %.1f MB/s (%.2fx; target 0.9x)\n",
               mq, runs[4].rate, mq > 0 ? runs[4].rate / mq : 0.0);
        printf("  crypto per 64 KiB chunk, in process: v1 sender %.1f us, "
               "receiver %.1f us; v2 sender %.1f us, receiver %.1f us\n",
               cc.v1_send, cc.v1_recv, cc.v2_send, cc.v2_recv);
        printf("  CPU (user + system, whole process: start, TLS, keyring, "
               "hashing, chunks) and peak RSS:\n");
        for (int i = 0; i < (int)NRUNS; i++) {
            const struct run *r = &runs[i];
            printf("  v%s %4.0f MB, %5ld chunks: receiver %.3f s = %.1f "
                   "us/chunk, %ld KiB; sender %.3f s = %.1f us/chunk, %ld "
                   "KiB\n",
                   r->proto, (double)r->size / MB, chunks_of(r->size),
                   r->r.cpu_s, per_chunk(r->r.cpu_s, r->size), r->r.rss_kb,
                   r->s.cpu_s, per_chunk(r->s.cpu_s, r->size), r->s.rss_kb);
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "secmq-bench --suite file: %s\n", err);
    }
    bench_broker_stop(&br);
    if (dir[0] != '\0' && !o.keep) {
        bench_rmtree(dir);
    }
    return rc;
}
