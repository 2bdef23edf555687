/*
 * bench_authd.h -- declarations of the suites that measure services next
 * to the broker: `--suite authd` (secmq-authd over HTTP, bench_authd.c)
 * and `--suite rabbitmq` (a RabbitMQ cluster, bench_rabbit.c), with the
 * small HTTP/1.1 client they share (bench_http.c). Private to tools/bench.
 */
#ifndef SECMQ_BENCH_AUTHD_H
#define SECMQ_BENCH_AUTHD_H

#include <stddef.h>
#include <sys/types.h>

#include "bench.h"

/* --- a keep-alive HTTP/1.1 client over loopback (bench_http.c) ----------- */

#define BENCH_HTTP_BUF 4096u

typedef struct bench_http {
    int fd;        /* -1 when not connected */
    int port;      /* 127.0.0.1:port */
    long connects; /* TCP connections opened (1 + reconnects) */
    char buf[BENCH_HTTP_BUF];
} bench_http;

/* Sets h up for 127.0.0.1:port and connects (TCP_NODELAY). Returns 0, or
 * -1 with err. */
int bench_http_open(bench_http *h, int port, char *err, size_t errlen);

/*
 * POSTs body (len bytes, form-encoded, borrowed) to path on h's connection
 * as HTTP/1.1 (kept alive), and reads the answer: a status line, headers,
 * and a body of Content-Length bytes (at most resp_cap - 1, NUL-ended into
 * resp). A connection the server closed before answering is reopened once
 * (h->connects counts it); "Connection: close" in the answer closes it
 * after reading. Returns the HTTP status, or -1 with err.
 */
int bench_http_post(bench_http *h, const char *path, const char *body,
                    size_t len, char *resp, size_t resp_cap, char *err,
                    size_t errlen);

/* Closes the connection; safe on a closed h. */
void bench_http_close(bench_http *h);

/*
 * Appends key=value to the form body out (cap bytes, NUL-ended; "&"
 * between fields), both percent-encoded as application/x-www-form-
 * urlencoded. Returns 0, or -1 when it does not fit.
 */
int bench_form_add(char *out, size_t cap, const char *key, const char *value);

/* --- process helpers (bench_broker.c) ------------------------------------ */

/* Starts argv[0] (argv NULL-terminated) with stdout and stderr to
 * out_path; it gets SIGTERM when the bench's thread ends. Returns the pid,
 * or -1 with err. */
pid_t bench_spawn(char *const argv[], const char *out_path, char *err,
                  size_t errlen);

/* "load_start":[a,b,c],"load_end":[a,b,c] (JSON members, no comma
 * around; bench_report.c). */
void bench_json_load(const double start[3], const double end[3]);

/* fflush(stdout): 0, or -1 with "writing the report: ..." in err. */
int bench_stdout_flush(char *err, size_t errlen);

/* SIGINT and SIGTERM set bench_interrupted (every wait loop stops, and
 * what the run started is stopped); SIGPIPE is ignored (bench_main.c). */
void bench_catch_signals(void);

/* s as a whole decimal number in min..max into *out. 0, or -1. */
int bench_parse_long(const char *s, long min, long max, long *out);

/* A free TCP port on 127.0.0.1 into *port. Returns the socket bound to
 * it, to be closed just before the port is used (while it is open, later
 * calls get other ports), or -1 with err. */
int bench_free_port(int *port, char *err, size_t errlen);

/* --- a pair across two brokers (bench_run.c) ----------------------------- */

/*
 * Opens transport t's subscriber at sub_ep (subscribed at QoS 1) and its
 * publisher at pub_ep, e.g. two nodes of one cluster; a sealed transport
 * gets its keyrings in keys_root/<transport> first, as the transport
 * suite's pairs do. tag (at most 32 characters, copied) makes the pair's
 * topic "secmq-bench/PID/TAG" and client ids "secmq-bench-PID-TAG-sub"
 * and "-pub", unique in a cluster. Rows through it: bench_pair_row().
 * Returns 0 and sets *out (bench_pair_free), or -1 with err.
 */
int bench_pair_open_split(bench_pair **out, bench_transport t,
                          const bench_endpoint *pub_ep,
                          const bench_endpoint *sub_ep, const bench_params *p,
                          const char *keys_root, const char *tag, char *err,
                          size_t errlen);

/* --- the suites ---------------------------------------------------------- */

/*
 * --suite authd (bench_authd.c): secmq-authd's answers per second and
 * latency per question. Takes the arguments after "--suite authd"
 * (argv[0] is "authd"); returns the exit status.
 */
int bench_authd_main(int argc, char **argv);

/*
 * --suite rabbitmq (bench_rabbit.c): sealed QoS 1 messages across a
 * RabbitMQ cluster on loopback next to one mosquitto. Takes the arguments
 * after "--suite rabbitmq" (argv[0] is "rabbitmq"); returns the exit
 * status.
 */
int bench_rabbit_main(int argc, char **argv);

#endif /* SECMQ_BENCH_AUTHD_H */
