/*
 * example_conn.h -- the connection options every secmq example shares.
 *
 * Parses -h HOST -p PORT --cafile F -u USER -P PASS -i ID --cert F --key F
 * --no-tls and --help (handing every other argument to the example), turns
 * the options into a secmq_config and connects with clear error messages.
 * Only the examples use it; it is a helper to read, not an API.
 */
#ifndef EXAMPLE_CONN_H
#define EXAMPLE_CONN_H

#include <stdio.h>

#include <secmq.h>

/* Exit codes shared by the examples. */
#define EXAMPLE_EXIT_OK 0
#define EXAMPLE_EXIT_FAILURE 1 /* failed while running (timeout, lost link) */
#define EXAMPLE_EXIT_USAGE 2   /* bad command line */
#define EXAMPLE_EXIT_CONNECT 3 /* could not connect, or the broker refused */

/* Help text for the shared options, one option per line. */
#define EXAMPLE_CONN_USAGE                                                     \
    "  -h HOST        broker host (default localhost)\n"                       \
    "  -p PORT        broker port (default 8883, or 1883 with --no-tls)\n"     \
    "  --cafile FILE  CA certificates (PEM) that signed the broker's\n"        \
    "                 certificate (default: the system CAs)\n"                 \
    "  -u USER        username\n"                                              \
    "  -P PASS        password (default: $SECMQ_PASSWORD when -u is given)\n"  \
    "  -i ID          client id (default: secmq- and random hex; a broker\n"   \
    "                 that ties ids to users wants USER or USER-...)\n"        \
    "  --cert FILE    client certificate (PEM), with --key, for mutual TLS\n"  \
    "  --key FILE     client private key (PEM)\n"                              \
    "  --no-tls       plain TCP instead of TLS (never over a real network)\n"  \
    "  --keyring DIR  seal what is sent and open what arrives with this\n"     \
    "                 secmq keyring (secmq-keys; plain messages refused)\n"

/* The shared options. Strings are borrowed from argv or the environment. */
typedef struct example_conn {
    const char *host;
    int port; /* 0 = the transport's default port */
    const char *cafile;
    const char *username;
    const char *password;
    const char *client_id; /* NULL = the library's random id */
    const char *certfile;
    const char *keyfile;
    int no_tls;
    const char *keyring; /* a secmq keyring directory, or NULL */
} example_conn;

/* Set every option to its default. */
void example_conn_init(example_conn *opt);

/*
 * Consume argv[*i], and its value, if it is a shared option; *i is left on
 * the last argument consumed. Returns 1 if consumed, 0 if argv[*i] is not a
 * shared option, -1 if its value is missing or invalid (reason printed to
 * stderr, prefixed with prog).
 */
int example_conn_arg(example_conn *opt, const char *prog, int argc, char **argv,
                     int *i);

/*
 * An example's own options, for example_parse_args(): consume argv[*i], and
 * its value by moving *i on, and return 1; return 0 if argv[*i] is not one
 * of them; or print why it is wrong (prefixed with the program name) and
 * return -1.
 */
typedef int (*example_arg_fn)(void *user, int argc, char **argv, int *i);

/*
 * For an example_arg_fn: if argv[*i] is the option name, parse its value, a
 * whole number in [min, max], into *out. Returns 1 if consumed, 0 if
 * argv[*i] is another argument, -1 after printing "prog: name needs
 * min..max" (value missing or out of range).
 */
int example_arg_long(const char *prog, const char *name, long min, long max,
                     long *out, int argc, char **argv, int *i);

/* example_parse_args() returns this when main() should go on. */
#define EXAMPLE_CONTINUE (-1)

/*
 * Parse the whole command line: the shared options into opt (initialised
 * here), --help, and the example's own options through own(user, ...) (own
 * may be NULL: none). usage(f) prints the example's help. Returns
 * EXAMPLE_CONTINUE, or the exit code to end with: EXAMPLE_EXIT_OK after
 * --help, EXAMPLE_EXIT_USAGE after printing what was wrong. Call
 * example_conn_finish() afterwards.
 */
int example_parse_args(example_conn *opt, const char *prog, int argc,
                       char **argv, void (*usage)(FILE *f), example_arg_fn own,
                       void *user);

/*
 * Check the options as a whole (--cert needs --key, -P needs -u) and take
 * the password from $SECMQ_PASSWORD when -u is given without -P. Returns 0,
 * or -1 after printing the reason to stderr.
 */
int example_conn_finish(example_conn *opt, const char *prog);

/* Fill cfg (initialised here) from the options; cfg borrows opt's strings. */
void example_conn_config(const example_conn *opt, secmq_config *cfg);

/*
 * Connect c and wait up to timeout_ms for the broker to accept the session.
 * With --keyring, first open that keyring and give it to c (once per
 * process; free it with example_keyring_free() after freeing c).
 * Callbacks, including on_connect, run on the calling thread while waiting.
 * Returns SECMQ_OK, or the secmq error after printing to stderr what failed
 * and why (secmq_strerror plus the client's detail message).
 */
int example_connect(secmq_client *c, const example_conn *opt, const char *prog,
                    int timeout_ms);

/* Free the keyring example_connect() opened (none: nothing happens). Call
 * it after secmq_client_free() of the client that used it. */
void example_keyring_free(void);

/*
 * Parse a whole decimal integer in [min, max] into *out. Returns 0, or -1
 * (nothing written) for empty text, trailing junk or a value out of range.
 */
int example_parse_long(const char *text, long min, long max, long *out);

/* Milliseconds on a monotonic clock, for deadlines. */
long long example_now_ms(void);

/*
 * Print len bytes of untrusted text (a payload, a topic) to f, at most max
 * of them, with anything but printable ASCII shown as '?', so a message
 * cannot send control sequences to the terminal.
 */
void example_print_safe(FILE *f, const void *payload, size_t len, size_t max);

#endif /* EXAMPLE_CONN_H */
