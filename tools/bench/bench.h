/*
 * bench.h -- declarations shared by the files of secmq-bench.
 *
 * secmq-bench measures MQTT throughput and latency of three transports
 * (libmosquitto plain TCP, libmosquitto's OpenSSL TLS, secmq's wolfSSL TLS)
 * through one mosquitto broker, and the throughput of secmq's wolfSSL TLS
 * with end-to-end envelopes (signed and mac-only) on top. This header is
 * private to tools/bench; it is not part of libsecmq and nothing outside this
 * directory includes it.
 */
#ifndef SECMQ_BENCH_H
#define SECMQ_BENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/*
 * Opens a connected client (CONNACK received, network thread running).
 * sink (may be NULL for a publisher) is borrowed for the client's lifetime
 * and receives every message. id is borrowed and copied.
 * Returns 0 and sets *out, or -1 with a reason in err.
 */
int bench_mosq_open(bench_client **out, int tls, const bench_endpoint *ep,
                    const char *id, bench_sink *sink, char *err, size_t errlen);
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

/* CPU seconds the broker used so far (utime + stime), or -1. */
double bench_broker_cpu_s(const bench_broker *b);

/* Path of the secmq-certs binary next to this executable, in buf.
 * Returns 0, or -1 with a reason in err. */
int bench_broker_default_certs_bin(char *buf, size_t len, char *err,
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
    double seconds;    /* first send .. last arrival */
    double msgs_per_s; /* arrived / seconds */
    double mb_per_s;   /* arrived * size / seconds / 1e6 */
    double cpu_self;   /* bench process CPU, in cores (1.0 = one core) */
    double cpu_broker; /* broker CPU in cores, -1 if unknown */
    int capped;        /* 1 if --duration stopped sending before count */
    int runs;          /* repetitions measured; this row is the median */
    double rate_min;   /* slowest and fastest repetition, msgs/s */
    double rate_max;
    /* Sealed transports: envelopes the subscriber failed to open during
     * the row (total, and per reason); -1 for the other transports. The
     * worst repetition's total when there are several. */
    long open_failed;
    long open_failed_by[BENCH_OPEN_REASONS];
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

void bench_report_table(const bench_meta *m, const bench_params *p,
                        const bench_results *r);
void bench_report_json(const bench_meta *m, const bench_params *p,
                       const bench_results *r);

#endif /* SECMQ_BENCH_H */
