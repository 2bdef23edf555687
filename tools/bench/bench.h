/*
 * bench.h -- declarations shared by the files of secmq-bench.
 *
 * secmq-bench measures MQTT throughput and latency of three transports
 * (libmosquitto plain TCP, libmosquitto's OpenSSL TLS, secmq's wolfSSL TLS)
 * through one mosquitto broker, and the throughput of secmq's wolfSSL TLS
 * with end-to-end envelopes (signed and mac-only) on top; and, as the
 * broker suite, mosquitto with the secmq_auth.so plugin against mosquitto
 * with its own password_file and acl_file. This header is
 * private to tools/bench; it is not part of libsecmq and nothing outside this
 * directory includes it.
 */
#ifndef SECMQ_BENCH_H
#define SECMQ_BENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "secmq.h"

/* Size of every error buffer the bench passes around: one line of reason. */
#define BENCH_ERR_BYTES 512u
/* Size of an inner reason that gets a prefix before it reaches the user. */
#define BENCH_WHY_BYTES 256u
/* Every payload starts with this header (row, sequence, send time). */
#define BENCH_HDR_BYTES 16u
/* Most payload sizes and transports one run handles. */
#define BENCH_MAX_SIZES 8u
/* Most repetitions of one row (--repeat). */
#define BENCH_MAX_REPEAT 9
/* Longest path the bench builds (temp dir, files in it). */
#define BENCH_PATH_BYTES 4096u
/* The latency phase's messages: payload bytes and QoS. */
#define BENCH_LAT_SIZE 64u
#define BENCH_LAT_QOS 1

/* ------------------------------------------------------------------------ */
/* Transports and clients                                                   */
/* ------------------------------------------------------------------------ */

typedef enum bench_transport {
    BENCH_MOSQ_TCP = 0,     /* libmosquitto, plain TCP */
    BENCH_MOSQ_TLS = 1,     /* libmosquitto, its own TLS (OpenSSL) */
    BENCH_SECMQ_TLS = 2,    /* libsecmq, wolfSSL TLS tunnel */
    BENCH_SECMQ_SIGNED = 3, /* secmq-tls + keyring, signed envelopes */
    BENCH_SECMQ_MAC = 4     /* secmq-tls + keyring, mac-only envelopes */
} bench_transport;
#define BENCH_TRANSPORTS 5
/* Transports 0..BENCH_PLAIN_TRANSPORTS-1 carry the payload as it is; they
 * alone have latency runs and TLS entries in the report. */
#define BENCH_PLAIN_TRANSPORTS 3

/* Short stable name of a transport ("mosq-tcp", "mosq-tls", "secmq-tls",
 * "secmq-signed", "secmq-mac"). */
const char *bench_transport_name(bench_transport t);

/* 1 for the transports that seal every payload (secmq-signed, secmq-mac). */
int bench_transport_sealed(bench_transport t);

/* Envelope open results the bench keeps apart (secmq_open_reason values
 * 0..BENCH_OPEN_REASONS-1; 0 is "opened"). */
#define BENCH_OPEN_REASONS 16

/* Where the broker is. Strings are borrowed for the lifetime of the run. */
typedef struct bench_endpoint {
    const char *host;    /* loopback address or name */
    int port;            /* plain MQTT listener */
    int tls_port;        /* TLS listener */
    const char *cafile;  /* CA that signed the broker certificate */
    const char *ciphers; /* secmq cipher list, NULL = library default */
} bench_endpoint;

/* Arrival accounting for one subscriber; defined in bench_run.c. */
typedef struct bench_sink bench_sink;

/*
 * Called by the adapters from their library's message callback (the
 * library's network thread) for every message that reaches a subscriber.
 * payload is borrowed for the call.
 */
void bench_sink_deliver(bench_sink *s, const void *payload, size_t len);

/* TLS parameters a client negotiated, filled in its on_connect callback. */
typedef struct bench_tls_info {
    char library[32]; /* "OpenSSL", "wolfSSL (secmq)" */
    char version[32]; /* "TLSv1.3"; "" when unknown */
    char cipher[64];  /* suite name; "" when unknown */
} bench_tls_info;

/*
 * One MQTT client connection under test. Each adapter embeds this as the
 * first member of its own structure, so the measurement code never sees
 * which library is underneath.
 */
typedef struct bench_client bench_client;

typedef struct bench_client_ops {
    /* Publishes one message; payload is borrowed (copied by the library).
     * Returns 0, or -1 with a reason in err. Called from the main thread
     * while the library's network thread runs. */
    int (*publish)(bench_client *c, const char *topic, const void *payload,
                   size_t len, int qos, char *err, size_t errlen);
    /* Subscribes and waits for SUBACK, at most timeout_ms. 0 or -1. */
    int (*subscribe)(bench_client *c, const char *filter, int qos,
                     int timeout_ms, char *err, size_t errlen);
    /* Copies the negotiated TLS parameters (empty strings for plain TCP). */
    void (*tls_info)(bench_client *c, bench_tls_info *out);
    /* Envelope open results since the client was made: counts[0] opened,
     * counts[r] failed for reason r (BENCH_OPEN_REASONS entries). Returns
     * 0, or -1 for a client without a keyring (counts untouched). */
    int (*open_counts)(bench_client *c, long *counts);
    /* Disconnects, stops the network thread and frees. NULL is a no-op. */
    void (*close)(bench_client *c);
} bench_client_ops;

struct bench_client {
    const bench_client_ops *ops;
};

/*
 * What an adapter waits for from its library's network thread: the CONNACK,
 * the SUBACK of one SUBSCRIBE, and the TLS parameters read on connect. Both
 * adapters embed one (bench_wait.c); mu guards every field, and the
 * library's callbacks set them under it and broadcast cv.
 */
typedef struct bench_acks {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connack; /* 1 once on_connect has run */
    int sub_mid; /* mid of the SUBSCRIBE waited for */
    int suback;  /* 1 once its SUBACK arrived */
    int granted; /* QoS granted to it; 0x80 refused */
    bench_tls_info info;
} bench_acks;

/* Zeroes a, names the TLS library in a->info ("none" for plain TCP) and
 * creates the lock and the condition variable. */
void bench_acks_init(bench_acks *a, const char *library);
/* Destroys the lock and the condition variable; no thread may use a. */
void bench_acks_destroy(bench_acks *a);

/* Waits at most timeout_ms, or until an interrupt, for a->connack (a->mu
 * not held). Returns 1 if it is set. */
int bench_acks_wait_connack(bench_acks *a, int timeout_ms);

/* For the library's SUBACK callback: records the answer to the SUBSCRIBE
 * mid, if it is the one waited for. */
void bench_acks_suback(bench_acks *a, int mid, int count, const int *granted);

/*
 * The second half of a subscribe: the caller locked a->mu, had the library
 * send the SUBSCRIBE for filter (packet id mid) and held the lock across
 * that call, so the SUBACK cannot be missed. Waits at most timeout_ms for
 * the SUBACK and unlocks. Returns 0, or -1 with "<lib> subscribe: <why>" in
 * err when none came or the broker refused.
 */
int bench_acks_subscribed(bench_acks *a, int mid, const char *lib,
                          const char *filter, int timeout_ms, char *err,
                          size_t errlen);

/* Copies a->info (locks a->mu). */
void bench_acks_tls_info(bench_acks *a, bench_tls_info *out);

/* A username and password for CONNECT (the broker suite's brokers refuse
 * anonymous clients). Strings borrowed for the call that takes it. */
typedef struct bench_login {
    const char *username;
    const char *password;
} bench_login;

/*
 * Opens a connected client (CONNACK received, network thread running).
 * sink (may be NULL for a publisher) is borrowed for the client's lifetime
 * and receives every message. id is borrowed and copied. login (may be
 * NULL: anonymous) is copied by libmosquitto.
 * Returns 0 and sets *out, or -1 with a reason in err.
 */
int bench_mosq_open(bench_client **out, int tls, const bench_endpoint *ep,
                    const char *id, const bench_login *login, bench_sink *sink,
                    char *err, size_t errlen);
/*
 * keyring (may be NULL: no sealing) is the directory of a keyring made by
 * bench_secmq_keys(), opened for the client's lifetime and handed to it
 * with secmq_client_set_keyring(); mac 1 seals mac-only
 * (secmq_keyring_set_mode). A client with a keyring hands only messages
 * that opened to sink.
 */
int bench_secmq_open(bench_client **out, const bench_endpoint *ep,
                     const char *id, const char *keyring, int mac,
                     bench_sink *sink, char *err, size_t errlen);

/*
 * Makes the keyrings of one sealed transport under dir (created 0700 if
 * needed, must not hold keyrings yet), with the management API as
 * secmq-keys does: identities pub_name in dir/pub and sub_name in dir/sub,
 * a channel for exactly topic owned by the publisher, with the publisher
 * as publisher and the subscriber as subscriber (allow_mac: mac-only
 * allowed), grants in dir/grants, and the subscriber trusting the
 * publisher and holding its grant. pub_dir and sub_dir (BENCH_PATH_BYTES)
 * receive the two keyring directories. Returns 0, or -1 with err.
 */
int bench_secmq_keys(const char *dir, const char *topic, const char *pub_name,
                     const char *sub_name, int allow_mac, char *pub_dir,
                     char *sub_dir, char *err, size_t errlen);

/* The name of an envelope open result ("bad_tag", "replay"; static). */
const char *bench_secmq_reason_name(int reason);

/*
 * How fast this thread verifies Ed25519 signatures: crypto_sign_verify_
 * detached of one msg_len-byte message under one key, repeated for about
 * seconds. *count receives the verifications done, *elapsed the seconds
 * they took. Returns 0, or -1 (libsodium failed to start, or a signature
 * did not verify).
 */
int bench_ed25519_verify(size_t msg_len, double seconds, long *count,
                         double *elapsed);

/* libmosquitto's global init/cleanup, once per process around all use. */
int bench_mosq_lib_init(char *err, size_t errlen);
void bench_mosq_lib_cleanup(void);

/* Version strings of the libraries under test (static or in buf). */
void bench_mosq_versions(char *mosq, size_t mosqlen, char *openssl,
                         size_t openssllen);
void bench_secmq_versions(char *secmq, size_t secmqlen, char *wolfssl,
                          size_t wolfssllen);

/* ------------------------------------------------------------------------ */
/* Broker                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct bench_broker {
    char dir[BENCH_PATH_BYTES];    /* mkdtemp directory, "" when none */
    char cafile[BENCH_PATH_BYTES]; /* dir/pki/ca.crt */
    char log[BENCH_PATH_BYTES];    /* dir/mosquitto.log */
    char version[32];              /* from the broker's log, "" if unknown */
    pid_t pid;                     /* 0 when not running */
    int port;
    int tls_port;
    int keep; /* 1 = leave dir on disk after stop */
} bench_broker;

/*
 * Starts a private mosquitto for the run: makes a temp dir, generates a PKI
 * with certs_bin ("secmq-certs dev --dir DIR/pki"), writes a config with a
 * plain and a TLS listener on free 127.0.0.1 ports, starts mosquitto_bin and
 * waits until both listeners accept. b is written; strings are borrowed.
 * Returns 0, or -1 with a reason in err; on failure everything started so
 * far has already been stopped and removed.
 */
int bench_broker_start(bench_broker *b, const char *mosquitto_bin,
                       const char *certs_bin, int keep, char *err,
                       size_t errlen);

/*
 * A new secmq client (user passed to its callbacks) for client id id to
 * br's TLS listener on 127.0.0.1, the broker's CA checked; not connected.
 * Returns 0, or -1 (*c is then NULL).
 */
int bench_client_new(secmq_client **c, const bench_broker *br, const char *id,
                     void *user);

/*
 * A suite's option value v of option opt as a number 1..top into *out;
 * otherwise says so on stderr ("secmq-bench --suite SUITE: OPT: not within
 * 1..TOP: 'V'") and returns -1. Returns 0.
 */
int bench_suite_number(const char *suite, const char *opt, const char *v,
                       long top, long *out);

/* What a broker of the broker suite changes in the private broker's
 * configuration. Strings borrowed for the call. */
typedef struct bench_broker_conf {
    const char *dir;   /* temp dir already made (its files go in it), or
                          NULL: make one; either way it is b->dir and is
                          removed by bench_broker_stop unless keep */
    const char *pki;   /* PKI directory already made (ca.crt, broker.crt,
                          broker.key), or NULL: generate DIR/pki */
    int anonymous;     /* allow_anonymous true (1) or false (0) */
    long max_queued;   /* max_queued_messages; 0 = no limit */
    const char *extra; /* config lines appended ("password_file ...\n"),
                          or NULL */
} bench_broker_conf;

/* bench_broker_start with conf (NULL: as bench_broker_start). certs_bin
 * may be NULL when conf->pki is given. */
int bench_broker_start_conf(bench_broker *b, const char *mosquitto_bin,
                            const char *certs_bin,
                            const bench_broker_conf *conf, int keep, char *err,
                            size_t errlen);

/* Runs argv[0] (argv NULL-terminated, borrowed) with stdin from in_path
 * (NULL: /dev/null) and stdout and stderr to out_path, at most timeout_ms.
 * Returns 0 when it exited with status 0, else -1 with a reason in err
 * (its exit status and the last line it printed). */
int bench_run_tool(char *const argv[], const char *in_path,
                   const char *out_path, long timeout_ms, char *err,
                   size_t errlen);

/* Terminates (then kills) and reaps the broker, removes the temp dir unless
 * b->keep. Safe on a zeroed or already stopped b. */
void bench_broker_stop(bench_broker *b);

/* Removes the directory tree dir, never following symbolic links; best
 * effort (what cannot be removed stays). */
void bench_rmtree(const char *dir);

/* Makes a new private directory for the run's files (as mkdtemp, in
 * $TMPDIR or /tmp, named prefix.XXXXXX) into out (BENCH_PATH_BYTES).
 * Returns 0, or -1 with err. */
int bench_mkdtemp(char *out, const char *prefix, char *err, size_t errlen);

/* CPU seconds the broker used so far (all its threads: schedstat in ns,
 * else utime + stime in clock ticks), or -1. */
double bench_broker_cpu_s(const bench_broker *b);

/* Path of the secmq-certs binary next to this executable, in buf.
 * Returns 0, or -1 with a reason in err. */
int bench_broker_default_certs_bin(char *buf, size_t len, char *err,
                                   size_t errlen);

/* dir/name into out (BENCH_PATH_BYTES). 0, or -1 with err (too long). */
int bench_path_join(char *out, const char *dir, const char *name, char *err,
                    size_t errlen);

/* Path of rel (e.g. "secmq-admin", "../lib/secmq_auth.so") relative to the
 * directory of this executable, in buf. Returns 0, or -1 with err. */
int bench_path_near_self(char *buf, size_t len, const char *rel, char *err,
                         size_t errlen);

/* ------------------------------------------------------------------------ */
/* Host                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct bench_host {
    char cpu[128]; /* /proc/cpuinfo model name */
    int cores;     /* online CPUs */
    int aes_flag;  /* 1 if the CPU advertises AES instructions */
    char kernel[160];
} bench_host;

void bench_host_probe(bench_host *h);

/* The 1, 5 and 15 minute load averages (/proc/loadavg) into v; -1 each
 * when unknown. Other work on the machine shows here. */
void bench_host_load(double v[3]);

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Initialises cv to time its waits on the monotonic clock, the clock of
 * bench_now_ns() and of every deadline in the bench (bench_wait.c). */
void bench_cond_init(pthread_cond_t *cv);
/* One timed wait on cv, mu held: until deadline (bench_now_ns() time) but
 * never longer than slice_ns, so that the caller, which loops, notices an
 * interrupt soon. */
void bench_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline,
                     uint64_t slice_ns);
/* CPU seconds this process used so far (all threads). */
double bench_self_cpu_s(void);

/* Threads of this process a snapshot holds at most (others are left out
 * of the thread figures, never out of bench_self_cpu_s). */
#define BENCH_TSNAP_MAX 128
/* Thread names a row reports at most: the threads of any further names
 * are added up under BENCH_THREAD_MORE, the last group. */
#define BENCH_THREAD_GROUPS 8
#define BENCH_THREAD_MORE "(more names)"
/* Longest thread name, with its NUL (the kernel's TASK_COMM_LEN). */
#define BENCH_THREAD_NAME 16

/* This process's live threads: id, name and CPU time used so far. */
typedef struct bench_tsnap {
    size_t n;
    struct {
        long tid;
        char name[BENCH_THREAD_NAME];
        uint64_t ns;
    } t[BENCH_TSNAP_MAX];
} bench_tsnap;

/* CPU seconds used during a row, summed over the threads of each name. */
typedef struct bench_thread_cpu {
    int n;
    char name[BENCH_THREAD_GROUPS][BENCH_THREAD_NAME];
    double s[BENCH_THREAD_GROUPS];
} bench_thread_cpu;

/* Takes a snapshot of this process's threads (/proc/self/task: each
 * thread's schedstat run time, or its stat ticks where the kernel has no
 * schedstat). Returns 0, or -1 when /proc cannot be read (s->n 0). */
int bench_tsnap_take(bench_tsnap *s);
/* What each thread name used from a to b: a thread absent from a (started
 * since) counts from 0; one absent from b (ended since) is not counted.
 * The names in order of first appearance in b. */
void bench_thread_cpu_diff(const bench_tsnap *a, const bench_tsnap *b,
                           bench_thread_cpu *out);
/* The CPU seconds of the threads called name in t; 0 when none. */
double bench_thread_cpu_of(const bench_thread_cpu *t, const char *name);

/* ------------------------------------------------------------------------ */
/* Measurement and results                                                  */
/* ------------------------------------------------------------------------ */

typedef struct bench_params {
    size_t sizes[BENCH_MAX_SIZES]; /* payload sizes in bytes */
    size_t nsizes;
    long counts[BENCH_MAX_SIZES][2];        /* messages per row, by size, QoS */
    long counts_signed[BENCH_MAX_SIZES][2]; /* the same for secmq-signed */
    long counts_mac[BENCH_MAX_SIZES][2];    /* the same for secmq-mac */
    int repeat;         /* runs per row; the median is kept */
    int qos_mask;       /* bit 0 = QoS 0, bit 1 = QoS 1 */
    int transport_mask; /* bit t = transport t */
    double duration_s;  /* cap on sending time per row */
    long window;        /* messages in flight (sent, not arrived) */
    long window_bytes;  /* payload bytes in flight */
    long lat_samples;   /* latency samples kept */
    long lat_warmup;    /* latency samples discarded first */
    double stall_s;     /* no arrival for this long: stop waiting */
    double drain_max_s; /* hard cap on waiting after sending */
    double verify_s;    /* time of the Ed25519 verification measurement,
                           all slices together */
    int keep;           /* 1 = leave the keyrings' temp dir on disk */
} bench_params;

typedef struct bench_row {
    bench_transport transport;
    size_t size;
    int qos;
    long sent;
    long arrived;
    double seconds;      /* first send .. last arrival */
    double msgs_per_s;   /* arrived / seconds */
    double mb_per_s;     /* arrived * size / seconds / 1e6 */
    double cpu_self;     /* bench process CPU, in cores (1.0 = one core) */
    double cpu_self_s;   /* bench process CPU seconds during the row */
    double cpu_broker;   /* broker CPU in cores, -1 if unknown */
    double cpu_broker_s; /* broker CPU seconds during the row, -1 unknown */
    int capped;          /* 1 if --duration stopped sending before count */
    int runs;            /* repetitions measured; this row is the median */
    double rate_min;     /* slowest and fastest repetition, msgs/s */
    double rate_max;
    /* Sealed transports: envelopes the subscriber failed to open during
     * the row (total, and per reason); -1 for the other transports. The
     * worst repetition's total when there are several. */
    long open_failed;
    long open_failed_by[BENCH_OPEN_REASONS];
    /* The CPU of this process's threads during the row, by thread name
     * (n 0: not measured). */
    bench_thread_cpu threads;
} bench_row;

typedef struct bench_latency {
    bench_transport transport;
    size_t size;
    int qos;
    long samples; /* kept */
    long lost;    /* not arrived within the per-sample timeout */
    double p50_us;
    double p99_us;
    double min_us;
    double max_us;
    double mean_us;
} bench_latency;

#define BENCH_MAX_ROWS (BENCH_TRANSPORTS * BENCH_MAX_SIZES * 2)

typedef struct bench_results {
    bench_row rows[BENCH_MAX_ROWS];
    size_t nrows;
    bench_latency lat[BENCH_TRANSPORTS];
    size_t nlat;
    bench_tls_info tls[BENCH_TRANSPORTS]; /* by transport */
    int have_tls[BENCH_TRANSPORTS];
    /* Ed25519 verifications/s of this machine, one thread, measured in
     * slices spread over the run (one before the rows, one after each
     * size/QoS group); -1 when not measured (no secmq-signed rows). */
    double verify_per_s; /* all slices: verify_count / verify_seconds */
    double verify_min;   /* slowest and fastest slice, per second */
    double verify_max;
    int verify_slices;
    size_t verify_msg_len;
    double verify_seconds; /* how long it was measured, in all */
    long verify_count;     /* verifications done in that time */
} bench_results;

/* Set by the SIGINT/SIGTERM handler; every wait loop checks it. */
extern volatile int bench_interrupted;

/*
 * One publisher and one subscriber of a libmosquitto transport (mosq-tcp or
 * mosq-tls), for the broker suite (bench_auth.c), which runs the rows of
 * bench_run.c through brokers of its own. Opaque; defined in bench_run.c.
 */
typedef struct bench_pair bench_pair;

/*
 * Opens the subscriber (login sub, subscribed to topic at QoS 1; a refused
 * subscription is an error) and the publisher (login pub) of transport t
 * (BENCH_MOSQ_TCP or BENCH_MOSQ_TLS) at ep; client ids are
 * "secmq-bench-PID-TAG-sub" and "-pub". topic and tag are copied.
 * Returns 0 and sets *out, or -1 with err.
 */
int bench_pair_open_login(bench_pair **out, bench_transport t,
                          const bench_endpoint *ep, const char *topic,
                          const char *tag, const bench_login *pub,
                          const bench_login *sub, char *err, size_t errlen);

/* Closes both clients and frees. NULL is a no-op. */
void bench_pair_free(bench_pair *pr);

/*
 * For rows that take their own samples (the login flood): publishes
 * message seq of row row_id, BENCH_LAT_SIZE bytes at BENCH_LAT_QOS from buf
 * (header written into it), without waiting. Returns 0, or -1 with err.
 */
int bench_pair_send(bench_pair *pr, uint32_t row_id, uint32_t seq,
                    unsigned char *buf, char *err, size_t errlen);

/*
 * Starts recording the one-way time (ns) of every arrival of row row_id at
 * pr's subscriber into lat (borrowed until bench_pair_recorded(pr, 1); at
 * most cap entries, later ones are dropped).
 */
void bench_pair_record(bench_pair *pr, uint32_t row_id, uint64_t *lat,
                       long cap);

/* How many arrivals were recorded so far; stop 1 also ends recording (lat
 * is then no longer written). */
long bench_pair_recorded(bench_pair *pr, int stop);

/*
 * One throughput row through pr, as the transport rows are measured
 * (bench_run.c): count messages of size bytes at qos, at most p->window in
 * flight, counted at the subscriber. row_id must differ from every earlier
 * row's of pr. buf holds at least size bytes. broker (may be NULL) gives
 * the broker CPU column. Returns 0, or -1 with err.
 */
int bench_pair_row(const bench_params *p, const bench_broker *broker,
                   bench_pair *pr, uint32_t row_id, size_t size, int qos,
                   long count, unsigned char *buf, bench_row *out, char *err,
                   size_t errlen);

/*
 * One latency sample through pr (bench_latency.c): publishes message seq of
 * row row_id (BENCH_LAT_SIZE bytes at BENCH_LAT_QOS, from buf) and waits at
 * most 1 s for it at the subscriber. Returns 0 with *lat_ns (0 when it did
 * not arrive in time), or -1 with err.
 */
int bench_pair_sample(bench_pair *pr, uint32_t row_id, uint32_t seq,
                      unsigned char *buf, uint64_t *lat_ns, char *err,
                      size_t errlen);

/*
 * Latency of every pair in pairs[0..BENCH_PLAIN_TRANSPORTS-1] (NULL: not
 * open; the sealed transports are not sampled), p->lat_samples kept per
 * transport after p->lat_warmup, one message in flight in the process.
 * buf holds at least BENCH_LAT_SIZE bytes. Fills res->lat and res->nlat;
 * returns 0, or -1 with err.
 */
int bench_latency_run(const bench_params *p,
                      bench_pair *const pairs[BENCH_TRANSPORTS],
                      uint32_t row_id, unsigned char *buf, bench_results *res,
                      char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Order statistics (bench_stats.c)                                         */
/* ------------------------------------------------------------------------ */

/* Sorts v[0..n-1] ascending; n <= 1 is a no-op. */
void bench_u64_sort(uint64_t *v, long n);

/* Nearest-rank percentile q (0..1) of v[0..n-1], sorted and n >= 1. */
uint64_t bench_u64_percentile(const uint64_t *v, long n, double q);

/* CPU microseconds per message that arrived: cpu_s (CPU seconds during a
 * row) / arrived; -1 when cpu_s < 0 (unknown) or nothing arrived. */
double bench_us_per_msg(double cpu_s, long arrived);

/* The repetition with the median msgs/s of v[0..n-1] into out, with the
 * spread (runs, rate_min, rate_max); v is reordered. */
void bench_rows_median(bench_row *v, int n, bench_row *out);

/*
 * Runs the whole measurement: opens a publisher and a subscriber per
 * selected transport, then for every (size, QoS) runs each transport in
 * turn (interleaved, so drift hits all transports alike), then the latency
 * runs. broker may be NULL (external broker: no broker CPU figures).
 * Returns 0, or -1 with a reason in err (everything opened is closed).
 */
int bench_run(const bench_params *p, const bench_endpoint *ep,
              const bench_broker *broker, bench_results *res, char *err,
              size_t errlen);

/* Everything the report prints besides the results. */
typedef struct bench_meta {
    bench_host host;
    char secmq_version[32];
    char wolfssl_version[32];
    char mosq_version[32];
    char openssl_version[96];
    char broker_version[32];
    const char *broker_mode; /* "spawned" or "external" */
    const char *host_addr;
    int port;
    int tls_port;
    double total_s;
} bench_meta;

/* Prints the --help text to f (bench_usage.c). */
void bench_usage(FILE *f);

void bench_report_table(const bench_meta *m, const bench_params *p,
                        const bench_results *r);
void bench_report_json(const bench_meta *m, const bench_params *p,
                       const bench_results *r);
/* Shared with bench_auth_report.c: a size as "64 B" or "1 KiB"; s as a JSON
 * string literal; v with 4 decimals, or null when negative (unknown). */
void bench_fmt_size(char *out, size_t len, size_t size);
void bench_json_str(const char *s);
void bench_json_num(double v);

/* ------------------------------------------------------------------------ */
/* Broker suite (--suite broker): secmq_auth.so against mosquitto's own     */
/* password_file + acl_file, with the same users and the same 1,000 rules   */
/* ------------------------------------------------------------------------ */

/* The two brokers compared. */
typedef enum bench_auth_broker {
    BENCH_AUTH_FILES = 0, /* mosquitto, password_file + acl_file (baseline) */
    BENCH_AUTH_PLUGIN = 1 /* mosquitto, secmq_auth.so + auth database */
} bench_auth_broker;
#define BENCH_AUTH_BROKERS 2

/* "acl-file" or "plugin". */
const char *bench_auth_broker_name(bench_auth_broker b);

/* Access of a rule, as mosquitto's acl_file writes it: read, write,
 * readwrite (READ|WRITE) or deny. secmq-admin's import maps read to
 * read+subscribe, as the plugin's `read` is. */
#define BENCH_AUTH_READ 0x1u
#define BENCH_AUTH_WRITE 0x2u
#define BENCH_AUTH_DENY 0x8u
#define BENCH_AUTH_NAME_BYTES 32u
#define BENCH_AUTH_TOPIC_BYTES 64u

typedef struct bench_auth_rule {
    int pattern;                         /* 1: a pattern (%u, %c) */
    char subject[BENCH_AUTH_NAME_BYTES]; /* the user; "" for a pattern */
    char topic[BENCH_AUTH_TOPIC_BYTES];  /* an MQTT filter */
    unsigned access;                     /* BENCH_AUTH_* */
} bench_auth_rule;

/* The policy both brokers get: every user and every rule, in the order
 * the acl file lists them (a user's rules together, patterns last). */
typedef struct bench_auth_policy {
    bench_auth_rule *rules; /* owned */
    size_t nrules;
    char (*users)[BENCH_AUTH_NAME_BYTES]; /* owned; the bench's users too */
    size_t nusers;
    size_t npatterns;
} bench_auth_policy;

/* The bench's own users: the publisher and the subscriber of the
 * throughput rows, and the user of the connect rows. */
#define BENCH_AUTH_PUB "bench-pub"
#define BENCH_AUTH_SUB "bench-sub"
#define BENCH_AUTH_CONN "bench-conn"
/* Topics the rows use: "bench/TAG/data" is allowed to bench-pub (write)
 * and bench-sub (read) by the last of their user rules; TAG is two
 * characters, one per broker and transport. */
#define BENCH_AUTH_TOPIC_FMT "bench/%s/data"

/* Builds the policy: 98 device users with 10 rules each, the 3 bench
 * users with 5 each, and 5 patterns (1,000 rules). 0, or -1 (no memory). */
int bench_auth_policy_make(bench_auth_policy *pol);
void bench_auth_policy_free(bench_auth_policy *pol);

/* --- the files (bench_auth_files.c) ------------------------------------ */

#define BENCH_AUTH_PW_BYTES 16 /* random bytes of each password, in hex */

/* Everything the suite writes, in one temp dir (root). */
typedef struct bench_auth_files {
    char root[BENCH_PATH_BYTES];
    char passwd[BENCH_PATH_BYTES]; /* mosquitto password file, all users */
    char acl[BENCH_PATH_BYTES];    /* mosquitto acl file */
    char db[BENCH_PATH_BYTES];     /* the plugin's auth database */
    char (*pw)[2 * BENCH_AUTH_PW_BYTES + 1]; /* of users[i]; owned */
    char conn_hash[160]; /* bench-conn's "$7$" hash, from passwd */
} bench_auth_files;

struct bench_auth_opts;

/*
 * Writes every file into af->root (an existing private directory):
 * random passwords, the mosquitto password file (mosquitto_passwd -U, its
 * default "$7$" PBKDF2-SHA512 hashes), the acl file, and the plugin's
 * database: `secmq-admin init` (at o's cost, or its default), the bench's
 * three users with `user add` (argon2id at that cost, so no login of
 * theirs upgrades a hash), then `import-mosquitto` of the other users'
 * hashes and all the rules, checked to have taken every one. Returns 0, or
 * -1 with err. af->pw is freed by the caller (free()).
 */
int bench_auth_files_make(const struct bench_auth_opts *o,
                          const bench_auth_policy *pol, bench_auth_files *af,
                          char *err, size_t errlen);

/* The password of user name ("" if there is none). Borrowed from af. */
const char *bench_auth_password(const bench_auth_policy *pol,
                                const bench_auth_files *af, const char *name);

/* --- ACL check cost, in process (bench_aclcost.c) ----------------------- */

#define BENCH_ACLCOST_MAX 8

typedef struct bench_aclcost {
    const char *what; /* static, e.g. "check_topic write, allowed" */
    const char *user;
    const char *arg; /* the topic or filter checked */
    int expect;      /* 1 allowed, 0 denied (checked once, before timing) */
    double ns;       /* median of the runs, ns per call */
    double ns_min;
    double ns_max;
    long iterations; /* calls per run */
    int runs;
} bench_aclcost;

typedef struct bench_aclcost_result {
    size_t policy_rules; /* rules in the policy */
    size_t compiled_pub; /* rules compiled for bench-pub */
    size_t compiled_sub;
    double compile_us; /* secmq__acl_compile for bench-pub, median */
    bench_aclcost items[BENCH_ACLCOST_MAX];
    size_t n;
    /* The password cost the plugin uses by default (pwhash.h) and what one
     * check costs in this process: secmq__pw_verify of a right password,
     * median of a few, in ms; also of a mosquitto "$7$" hash. */
    unsigned long long pw_ops;
    size_t pw_mem;
    double argon2_ms;
    double pbkdf2_ms; /* -1 when no "$7$" hash was given */
    int available;    /* 0: built without secmq_authcore */
} bench_aclcost_result;

/*
 * Times secmq__acl_check_topic / _check_filter on ACLs compiled from pol
 * (as the plugin compiles them), iterations calls per run, runs runs
 * (median kept); and the password checks (pw_runs verifications of each;
 * mosq_hash, may be NULL, a "$7$" hash of mosq_pw). Returns 0, or -1 with
 * err (a check that does not give the expected answer is an error).
 */
int bench_aclcost_run(const bench_auth_policy *pol, long iterations, int runs,
                      int pw_runs, const char *mosq_hash, const char *mosq_pw,
                      bench_aclcost_result *out, char *err, size_t errlen);

/* --- connect rate (bench_connect.c) ------------------------------------- */

typedef struct bench_connect_row {
    bench_auth_broker broker;
    const char *what; /* "good", "wrong-password", "unknown-user" (static) */
    int expect_ok;    /* 1: the CONNACK should accept */
    int parallel;     /* client threads, each connecting in sequence */
    long attempts;    /* CONNECTs sent */
    long accepted;    /* CONNACK 0 */
    long refused;     /* CONNACK with a refusal code */
    long failed;      /* no CONNACK: closed, reset, timed out */
    int capped;       /* 1 if the time cap stopped it before the count */
    double seconds;
    double per_s;   /* (accepted + refused) / seconds */
    double ms_mean; /* per attempt, TCP connect .. CONNACK */
    double ms_p50;
    double ms_p99;
    double ms_max;
    double cpu_broker; /* broker CPU in cores during the row, -1 unknown */
} bench_connect_row;

/*
 * count MQTT 3.1.1 CONNECT (clean session, login) .. CONNACK ..
 * DISCONNECT exchanges over plain TCP to host:port, from parallel threads
 * (1..BENCH_CONNECT_MAX_THREADS) each in sequence, sending stopped after
 * cap_s. Client ids are unique ("bc-PID-N-I"). Fills out (its broker, what
 * and expect_ok are the caller's); returns 0, or -1 with err (socket
 * errors; refusals and failures are counted, not errors).
 */
#define BENCH_CONNECT_MAX_THREADS 16
int bench_connect_run(const char *host, int port, const bench_login *login,
                      int parallel, long count, double cap_s,
                      const bench_broker *broker, bench_connect_row *out,
                      char *err, size_t errlen);

/* Client threads that connect in the background (the login flood). */
#define BENCH_FLOOD_MAX_THREADS 64
typedef struct bench_connect_bg bench_connect_bg;

typedef struct bench_connect_spec {
    const char *from;         /* local address to connect from (a loopback
                                 address); NULL: the kernel's choice */
    const bench_login *login; /* borrowed until bench_connect_bg_stop */
    int threads;              /* 1..BENCH_FLOOD_MAX_THREADS */
    long count;               /* attempts in all, at most (>= 1) */
    double cap_s;             /* no new attempt after this many seconds */
    long pause_ms;            /* each thread, between its attempts */
    int tolerant;             /* 1: local socket errors are counted as
                                 failed attempts (flood), not errors;
                                 sockets are closed with a reset */
    int id_base;              /* client ids "bc-PID-(id_base+N)-I" */
} bench_connect_spec;

/*
 * Starts spec->threads threads connecting to host:port as
 * bench_connect_run does (CONNECT .. CONNACK .. DISCONNECT, each timed),
 * until bench_connect_bg_stop, the count or the cap. broker (may be NULL)
 * gives the CPU column. Returns 0 and sets *out, or -1 with err.
 */
int bench_connect_bg_start(bench_connect_bg **out, const char *host, int port,
                           const bench_connect_spec *spec,
                           const bench_broker *broker, char *err,
                           size_t errlen);

/*
 * Stops and joins the threads of bg, fills out (may be NULL; its broker,
 * what and expect_ok are the caller's) and frees bg (NULL is a no-op).
 * Returns 0, or -1 with err (a socket call failed in a thread that was
 * not tolerant, or an interrupt).
 */
int bench_connect_bg_stop(bench_connect_bg *bg, bench_connect_row *out,
                          char *err, size_t errlen);

/* --- the suite (bench_auth.c, bench_auth_report.c) ---------------------- */

typedef struct bench_auth_opts {
    bench_params p;       /* size (sizes[0]), qos_mask, transport_mask
                             (mosq-tcp, mosq-tls), repeat, duration_s,
                             window, stall_s, drain_max_s, keep */
    long counts[2];       /* messages per throughput row, by QoS */
    long connects_files;  /* connects per row, acl-file broker */
    long connects_plugin; /* connects per row, plugin broker */
    int parallel;         /* threads of the parallel connect rows; 0 none */
    double connect_cap_s; /* cap on one connect row */
    long acl_iterations;  /* calls per ACL cost run */
    int acl_runs;
    unsigned long long pw_ops; /* 0: secmq-admin init's default */
    size_t pw_mem;             /* 0: the default */
    const char *mosquitto;
    const char *certs_bin;
    const char *plugin;     /* secmq_auth.so */
    const char *db_option;  /* its database option: plugin_opt_NAME */
    const char *admin;      /* secmq-admin */
    const char *passwd_bin; /* mosquitto_passwd */
    int flood_threads;      /* login flood row: threads; 0 no such row */
    double flood_s;         /* login flood row: how long */
    int flood_only;         /* 1: only the login flood rows */
} bench_auth_opts;

#define BENCH_AUTH_MAX_ROWS (BENCH_AUTH_BROKERS * 2 * 2)
#define BENCH_AUTH_MAX_CONNS 16

typedef struct bench_auth_row {
    bench_auth_broker broker;
    bench_row r;
} bench_auth_row;

/* One broker's login flood row (bench_flood.c). */
typedef struct bench_flood_result {
    bench_auth_broker broker;
    int threads;               /* flood threads */
    double seconds;            /* how long the flood ran */
    bench_connect_row flood;   /* the wrong-password loops, 127.0.0.2 */
    bench_connect_row genuine; /* the genuine device's reconnects */
    double first_login_ms;     /* its login before the flood */
    int first_login_ok;
    long sent; /* messages to the established subscriber */
    long arrived;
    double lat_p50_ms; /* their delivery latency (publish .. arrival) */
    double lat_p99_ms;
    double lat_max_ms;
} bench_flood_result;

/* The target of the login flood row: subscriber p99 and genuine reconnect
 * p99, plugin broker, in ms. */
#define BENCH_FLOOD_TARGET_MS 50.0

typedef struct bench_auth_results {
    bench_auth_row rows[BENCH_AUTH_MAX_ROWS];
    size_t nrows;
    bench_connect_row conns[BENCH_AUTH_MAX_CONNS];
    size_t nconns;
    bench_aclcost_result acl;
    /* The control: publishes no rule allows (bench-sub writing a row
     * topic), QoS 1, per broker: sent, and arrived (must be 0). */
    long control_sent[BENCH_AUTH_BROKERS];
    long control_arrived[BENCH_AUTH_BROKERS];
    size_t nrules; /* of the policy both brokers have */
    size_t nusers;
    size_t npatterns;
    unsigned long long pw_ops; /* the auth database's argon2id cost */
    size_t pw_mem;
    char broker_version[32];
    double load_start[3]; /* /proc/loadavg before and after; -1 unknown */
    double load_end[3];
    int port[BENCH_AUTH_BROKERS];
    int tls_port[BENCH_AUTH_BROKERS];
    char plugin[BENCH_PATH_BYTES];
    bench_flood_result flood[BENCH_AUTH_BROKERS]; /* login flood rows */
    size_t nflood;
} bench_auth_results;

/*
 * The broker suite: writes the policy as a mosquitto password file and acl
 * file and as a plugin auth database (secmq-admin), starts both brokers
 * side by side, runs the throughput rows interleaved (--repeat), the
 * connect rows and the in-process ACL cost. Returns 0, or -1 with err
 * (everything started is stopped and removed).
 */
int bench_auth_run(const bench_auth_opts *o, bench_auth_results *res, char *err,
                   size_t errlen);

/* The logins of the login flood row, borrowed for the call. */
typedef struct bench_flood_logins {
    const bench_login *pub; /* the established pair */
    const bench_login *sub;
    const bench_login *good; /* the genuine device */
    const bench_login *bad;  /* the flood: a wrong password */
} bench_flood_logins;

/*
 * The login flood row against broker b (bench_flood.c): o->flood_threads
 * threads log in with lg->bad from 127.0.0.2 for o->flood_s seconds while
 * an established pair and a genuine device (127.0.0.1) are measured.
 * Returns 0, or -1 with err.
 */
int bench_flood_run(const bench_auth_opts *o, const bench_broker *b,
                    bench_auth_broker which, const bench_flood_logins *lg,
                    bench_flood_result *out, char *err, size_t errlen);
/* The flood rows of r as a table (nothing when there are none) or as the
 * "login_flood" member of the suite's JSON (with a trailing comma). */
void bench_flood_report_table(const bench_auth_results *r);
void bench_flood_report_json(const bench_auth_results *r);

void bench_auth_report_table(const bench_meta *m, const bench_auth_opts *o,
                             const bench_auth_results *r);
void bench_auth_report_json(const bench_meta *m, const bench_auth_opts *o,
                            const bench_auth_results *r);

/*
 * --suite file (bench_file.c): secmq-file against secmq TLS at the chunk
 * size, and the receiver's peak memory. Takes the arguments after
 * "--suite file" (argv[0] is "file"); returns the exit status.
 */
int bench_file_main(int argc, char **argv);

/*
 * --suite outbox (bench_outbox.c): durable outbox messages/s, synchronous
 * FULL and NORMAL. Takes the arguments after "--suite outbox" (argv[0] is
 * "outbox"); returns the exit status.
 */
int bench_outbox_main(int argc, char **argv);

/*
 * --suite replay (bench_replay.c): the receiver's durable replay state,
 * opens/s without a broker. Takes the arguments after "--suite replay"
 * (argv[0] is "replay"); returns the exit status.
 */
int bench_replay_main(int argc, char **argv);

/*
 * --suite python (bench_python.c): the Python package's secmq.Client
 * against paho-mqtt through the private broker, measured by
 * python/bench/paho_vs_secmq.py as a child process. Takes the arguments
 * after "--suite python" (argv[0] is "python"); returns the exit status.
 */
int bench_python_main(int argc, char **argv);

/*
 * --suite cli (bench_cli.c): mosquitto_pub/sub against secmq-pub/sub (TLS
 * only, and with a keyring) as child processes through the private TLS
 * broker. Takes the arguments after "--suite cli" (argv[0] is "cli");
 * returns the exit status.
 */
int bench_cli_main(int argc, char **argv);

/*
 * --suite epochs (bench_epochs.c): sealed msgs/s on a channel with a
 * static key against channels with epochs of 1 s and 1 h through the
 * private TLS broker, and what a ratchet step and a day's catch-up cost.
 * Takes the arguments after "--suite epochs" (argv[0] is "epochs");
 * returns the exit status.
 */
int bench_epochs_main(int argc, char **argv);

#endif /* SECMQ_BENCH_H */
