/*
 * testutil.h -- what secmq's C integration tests share: the broker
 * described by tests/harness/with_broker.py's SECMQ_TEST_* variables, and
 * a recording client whose callbacks store everything they see so a test
 * can wait (always with a time limit) and then assert; and, for the unit
 * tests, a per-run temporary directory and whole-file reads and writes.
 * Not a test itself and not part of libsecmq.
 */
#ifndef SECMQ_TEST_TESTUTIL_H
#define SECMQ_TEST_TESTUTIL_H

#include <pthread.h>
#include <stddef.h>

#include <secmq.h>

#include "check.h"

/* Default limit for one wait, in ms. */
#define TU_WAIT_MS 10000
/* How long a test waits to be sure that something does NOT arrive. */
#define TU_QUIET_MS 700

/* The value of environment variable name; exits with status 2 and a message
 * if it is unset (the test was not started by with_broker.py). */
const char *tu_env(const char *name);
/* tu_env() as a port number; exits with status 2 if it is not one. */
int tu_env_port(const char *name);
/* Writes "<$dir_var>/<file>" into buf (len bytes) and returns buf. */
const char *tu_path(char *buf, size_t len, const char *dir_var,
                    const char *file);

/*
 * A configuration for the test broker's main TLS listener: host, port,
 * cafile and, when user is not NULL, that user's name and password (from
 * SECMQ_TEST_USER_<USER> / SECMQ_TEST_PASS_<USER>, user in lower case).
 * Strings point into the environment or static storage.
 */
void tu_config(secmq_config *cfg, const char *user);

/* One received message, copied out of the callback. */
typedef struct tu_msg {
    char *topic;
    unsigned char *payload; /* payloadlen bytes + NUL */
    size_t payloadlen;
    int qos;
    int retain;
    int mid;
    int nul_terminated; /* the library put a NUL after the payload */
} tu_msg;

/* A client and the record of its callbacks. All counters are guarded by mu
 * and signalled on cv; read them with the tu_* functions or under mu. */
typedef struct tu_client {
    secmq_client *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connects;   /* on_connect calls */
    int connect_rc; /* rc, reason, flag of the last on_connect */
    int connect_reason;
    int session_present;
    int disconnects; /* on_disconnect calls */
    int disconnect_rc;
    int subacks;    /* on_subscribe calls */
    int granted[8]; /* granted QoS of the last SUBACK */
    int granted_count;
    int unsubacks;      /* on_unsubscribe calls */
    int published;      /* on_publish calls */
    int publish_errors; /* on_publish calls with rc != SECMQ_OK */
    tu_msg *msgs;
    size_t nmsgs, capmsgs;
} tu_client;

/* Creates t->c from cfg with every callback recording into t. Returns the
 * secmq_client_new() code. */
int tu_client_new(tu_client *t, const secmq_config *cfg);
/* Frees the client and everything recorded. t may be all zeros. */
void tu_client_free(tu_client *t);

/* connect, loop_start and wait_connected; returns the first error or
 * SECMQ_OK once the broker accepted the connection. */
int tu_connect(tu_client *t, int timeout_ms);

/* tu_client_new + connect + wait_connected, with the loop driven by
 * wait_connected itself (no loop thread). Returns the first failure or
 * SECMQ_OK; *t keeps the client for errmsg / tls_info. */
int tu_attempt(tu_client *t, const secmq_config *cfg, int timeout_ms);

/* tu_client_new(cfg) + tu_connect with a loop thread; prints the reason,
 * headed by label, on failure. Returns a SECMQ code. */
int tu_connect_cfg(tu_client *t, const secmq_config *cfg, const char *label);

/* Connects t as user (tu_config) with client id tu_id(prefix) and a loop
 * thread; prints the reason on failure. Returns a SECMQ code. */
int tu_connect_as(tu_client *t, const char *user, const char *prefix);

/* Subscribes and waits for the SUBACK. Returns the granted QoS (0..2, 128
 * refused) or a negative error (SECMQ_E_TIMEOUT when no SUBACK came). */
int tu_subscribe(tu_client *t, const char *filter, int qos, int timeout_ms);

/* Unsubscribes and waits for the UNSUBACK: SECMQ_OK, an error, or
 * SECMQ_E_TIMEOUT. */
int tu_unsubscribe(tu_client *t, const char *filter, int timeout_ms);

/* Wait until the named counter reaches n; 0 on success, -1 on timeout. */
int tu_wait_msgs(tu_client *t, size_t n, int timeout_ms);
int tu_wait_published(tu_client *t, int n, int timeout_ms);
int tu_wait_connects(tu_client *t, int n, int timeout_ms);
int tu_wait_disconnects(tu_client *t, int n, int timeout_ms);

/* Counters read under the lock. */
size_t tu_nmsgs(tu_client *t);
int tu_published(tu_client *t);
int tu_connects(tu_client *t);
int tu_disconnects(tu_client *t);

/* The client's detail message (secmq_client_errmsg) in a static buffer. */
const char *tu_errmsg(tu_client *t);

/* Sleep ms milliseconds. */
void tu_sleep_ms(int ms);
/* Monotonic clock in ms. */
long long tu_now_ms(void);
/* How many threads of this process are named name (/proc/self/task/N/comm,
 * what top -H shows); -1 when /proc cannot be read. */
int tu_threads_named(const char *name);

/* A unique client id "<prefix>-<pid>-<n>" in a static rotating buffer. */
const char *tu_id(const char *prefix);

/*
 * A per-run temporary directory "/tmp/secmq-<name>-XXXXXX" (mkdtemp, so
 * 0700). Returns 0, or -1 after printing the reason. One per process.
 */
int tu_tmpdir_make(const char *name);
/* The directory made by tu_tmpdir_make() ("" before). */
const char *tu_tmpdir(void);
/* "<tmpdir>/<name>" in a static rotating buffer (8 deep). */
const char *tu_at(const char *name);
/* Removes the directory when every check passed and SECMQ_TEST_KEEP is
 * unset; otherwise prints "<what> kept in <dir>" so it can be looked at. */
void tu_tmpdir_done(const char *what);

/* Reads the whole file at path into *data (malloc'd, owned by the caller,
 * with one spare byte) and its size into *len. Returns 0 or -1 (*data is
 * then NULL). */
int tu_read_file(const char *path, unsigned char **data, size_t *len);
/* Creates or truncates path with len bytes of data. Returns 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len);

/* A new identity in <tmpdir>/<name> (secmq_identity_create) and its
 * exported public file <tmpdir>/<name>.pub. Returns 0, or -1 after printing
 * the reason. */
int tu_identity_make(const char *name);
/* The keyring in <tmpdir>/<name>, opened (owned by the caller: free with
 * secmq_keyring_free), or NULL after printing the reason. */
secmq_keyring *tu_keyring_open(const char *name);
/* In <tmpdir>: identities sam and alice, the channel "status" owned by
 * sam (sam publishes, alice subscribes; grants in <tmpdir>/g), and alice's
 * keyring holding sam's public file and her grant. Returns 0, or -1 after
 * printing the reason. */
int tu_status_world(void);
/* A child process calls step(i, user) for i = 0..n-1 and tells the parent
 * after each one that returned 0 (a step that fails ends the child); the
 * parent SIGKILLs it right after the n-th: no free, no clean exit.
 * Returns 0 when all n steps ran and the child died of SIGKILL, else -1
 * after printing the reason. */
int tu_kill_after(int n, int (*step)(int i, void *user), void *user);

/* The name of a SECMQ_* return code, e.g. "SECMQ_E_TLS_CA". */
const char *tu_rc_name(int rc);

/* rc must equal want; prints both names on failure. */
#define CHECK_RC(rc, want)                                                     \
    do {                                                                       \
        int r_ = (rc), w_ = (want);                                            \
        if (r_ != w_) {                                                        \
            check_fail(__FILE__, __LINE__, "%s: got %s (%d), want %s (%d)",    \
                       #rc, tu_rc_name(r_), r_, tu_rc_name(w_), w_);           \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif /* SECMQ_TEST_TESTUTIL_H */
