/*
 * secmq.h -- the public API of libsecmq, and its specification.
 *
 * libsecmq is an MQTT client whose link to the broker is TLS done by wolfSSL,
 * on top of Debian's stock libmosquitto. This header documents every function,
 * who owns every pointer, every return code and on which thread every callback
 * runs. Nothing outside this header is part of the API.
 *
 * Conventions (as in libuv and libsodium):
 *  - Functions return int: SECMQ_OK (0) on success, a negative SECMQ_E_* code
 *    on failure. secmq_strerror() turns a code into a sentence; the client's
 *    detail message (secmq_client_errmsg()) names the precise foreign cause
 *    ("certificate is not signed by a trusted CA", "host name mismatch", ...).
 *  - Pointer parameters are either BORROWED (read during the call only) or
 *    COPIED (the library keeps its own copy); each function says which.
 *  - Data handed to a callback is valid only during that callback.
 *  - A function that returns an error never invokes a callback for that call.
 *  - _free(NULL) is a no-op.
 *
 * Threading:
 *  - A secmq_client may be used from several threads. secmq_client_publish(),
 *    _subscribe(), _unsubscribe(), _disconnect() may be called from any
 *    thread at any time after secmq_client_connect() succeeded, including
 *    from inside callbacks; _errmsg(), _tls_info() and _id() at any time
 *    from any thread.
 *  - Callbacks run on the thread that drives the network loop: after
 *    secmq_client_loop_start(), the client's internal TLS tunnel thread
 *    (TLS transport) or the thread libmosquitto started (plain transport);
 *    otherwise the caller of secmq_client_loop(), secmq_client_loop_forever()
 *    and secmq_client_wait_connected(). They never run concurrently with
 *    each other for one client.
 *    Exception: with a keyring, on_message and on_open_failure run on the
 *    client's delivery thread (secmq_client_set_keyring), one at a time,
 *    in arrival order, and may overlap the loop thread's callbacks. No
 *    callback runs on the verify threads (secmq_client_set_open_threads).
 *  - secmq_client_free() must not be called from a callback, nor while another
 *    thread is inside a call on the same client.
 */
#ifndef SECMQ_H
#define SECMQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SECMQ_STATIC)
#define SECMQ_API
#elif defined(__GNUC__)
#define SECMQ_API __attribute__((visibility("default")))
#else
#define SECMQ_API
#endif

#if defined(__GNUC__)
#define SECMQ_NODISCARD __attribute__((warn_unused_result))
#else
#define SECMQ_NODISCARD
#endif

#define SECMQ_VERSION_MAJOR 0
#define SECMQ_VERSION_MINOR 1
#define SECMQ_VERSION_PATCH 0
#define SECMQ_VERSION_STRING "0.1.0"

/* Size of a SHA-256 SPKI pin in bytes. */
#define SECMQ_PIN_BYTES 32u
/* Longest detail message secmq_client_errmsg() produces, NUL included. */
#define SECMQ_ERRMSG_BYTES 256u
/* Default ports: MQTT over TLS and plain MQTT. */
#define SECMQ_PORT_TLS 8883
#define SECMQ_PORT_PLAIN 1883

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Return codes. New codes are only ever added at the end; numbers never change.
 */
enum secmq_error {
    SECMQ_OK = 0,
    SECMQ_E_INVAL = -1,         /* an argument or option is invalid */
    SECMQ_E_NOMEM = -2,         /* out of memory */
    SECMQ_E_STATE = -3,         /* call not valid in the client's state */
    SECMQ_E_IO = -4,            /* operating-system I/O error (see detail) */
    SECMQ_E_TIMEOUT = -5,       /* the operation did not finish in time */
    SECMQ_E_NO_CONN = -6,       /* not connected to the broker */
    SECMQ_E_CONN_REFUSED = -7,  /* TCP connection refused or unreachable */
    SECMQ_E_CONN_LOST = -8,     /* connection to the broker was lost */
    SECMQ_E_DNS = -9,           /* the broker's host name did not resolve */
    SECMQ_E_TLS = -10,          /* TLS handshake or record failure */
    SECMQ_E_TLS_CA = -11,       /* broker certificate not from a trusted CA */
    SECMQ_E_TLS_HOSTNAME = -12, /* broker certificate is for another host */
    SECMQ_E_TLS_EXPIRED = -13,  /* a certificate is expired or not yet valid */
    SECMQ_E_TLS_PIN = -14,      /* broker public key does not match the pin */
    SECMQ_E_AUTH = -15,         /* broker refused: bad username or password */
    SECMQ_E_NOT_AUTHORIZED = -16,  /* broker refused: not authorised */
    SECMQ_E_REFUSED = -17,         /* broker refused the connection otherwise */
    SECMQ_E_PROTOCOL = -18,        /* MQTT protocol violation */
    SECMQ_E_OVERSIZE = -19,        /* payload or packet too large */
    SECMQ_E_CONFIG = -20,          /* configuration file error (see detail) */
    SECMQ_E_OPEN = -21,            /* an envelope did not open (reason given
                                      separately, see secmq_open_reason) */
    SECMQ_E_KEYRING = -22,         /* keyring, identity or grant file error */
    SECMQ_E_NO_KEY = -23,          /* no channel key covers this topic for
                                      this use (publishing or reading) */
    SECMQ_E_PLAINTEXT = -24,       /* plaintext publish to a topic that has a
                                      channel refused (use publish_raw) */
    SECMQ_E_FULL = -25,            /* the outbox is at its bound (rows or
                                      bytes) and refuses new messages */
    SECMQ_E_DB = -26,              /* a database file is foreign, corrupt or
                                      of another version (left untouched) */
    SECMQ_E_BUSY = -27,            /* a file is in use by another process */
    SECMQ_E_QOS_UNSUPPORTED = -28, /* the broker does not do QoS 2: it
                                      answered a QoS 2 PUBLISH with PUBACK
                                      (RabbitMQ does); publish at QoS 1 */
    SECMQ_E_NO_RECEIPT = -29       /* a message of a channel with receipts
                                      got no receipt from the receipters it
                                      needs in time (secmq/receipt.h) */
};

/*
 * secmq_strerror -- a short English sentence for a return code.
 * Never returns NULL; unknown codes give "unknown error". The string is
 * static and must not be freed.
 */
SECMQ_API const char *secmq_strerror(int rc);

/*
 * secmq_text_show -- s (BORROWED, NUL-terminated; e.g. a topic or a name a
 * peer chose) as it may be shown on a terminal or in a log: control
 * characters (C0, DEL, C1) and Unicode format characters (bidi overrides,
 * zero-width characters: the table of PROTOCOL.md §8.6) as "<U+202E>",
 * bytes that are not UTF-8 as "\xE9", everything else as it is, so a peer
 * cannot move the cursor, recolour the screen or reorder what follows.
 * Writes into out (cap bytes; cut at a whole character, always
 * NUL-terminated when cap > 0). Returns the length written. Never fails;
 * any thread.
 */
SECMQ_API size_t secmq_text_show(char *out, size_t cap, const char *s);

/*
 * secmq_version -- the library version as "MAJOR.MINOR.PATCH" (static).
 */
SECMQ_API const char *secmq_version(void);

/*
 * secmq_dependency_versions -- the versions of the libraries libsecmq runs
 * on, as loaded at run time, e.g. "libmosquitto 2.0.11, wolfSSL 5.5.4,
 * libsodium 1.0.18". Writes at most len bytes, NUL included, into buf
 * (written; truncated to fit, like snprintf; buf may be NULL when len is 0).
 * Returns the length of the whole text without the NUL (a value >= len means
 * it was truncated). Never fails; any thread; no secmq_init() needed.
 */
SECMQ_API size_t secmq_dependency_versions(char *buf, size_t len);

/*
 * secmq_init -- initialise the crypto libraries (libsodium, wolfSSL).
 * Safe to call many times and from several threads; secmq_client_new() calls
 * it for you. Returns SECMQ_OK, or SECMQ_E_IO if a library failed to start.
 */
SECMQ_API int secmq_init(void);

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

typedef enum secmq_transport {
    SECMQ_TRANSPORT_TLS = 0,  /* TLS via wolfSSL (the default) */
    SECMQ_TRANSPORT_PLAIN = 1 /* plain TCP: only when explicitly asked for */
} secmq_transport;

typedef enum secmq_tls_version {
    SECMQ_TLS_1_2 = 12, /* TLS 1.2 or newer (the default minimum) */
    SECMQ_TLS_1_3 = 13  /* TLS 1.3 only */
} secmq_tls_version;

typedef enum secmq_protocol {
    SECMQ_MQTT_311 = 4, /* MQTT 3.1.1 (the default) */
    SECMQ_MQTT_5 = 5    /* MQTT 5.0 */
} secmq_protocol;

/*
 * TLS settings. All strings are BORROWED by secmq_client_new(), which copies
 * them. With neither cafile nor capath set, the system CA directory
 * /etc/ssl/certs is used.
 */
typedef struct secmq_tls_config {
    const char *cafile;   /* PEM file of trusted CA certificates */
    const char *capath;   /* directory of trusted CA certificates (PEM) */
    const char *certfile; /* client certificate chain (PEM), for mutual TLS */
    const char *keyfile;  /* client private key (PEM), with certfile */
    const char *server_name; /* name to verify and send as SNI; NULL = host */
    const char *ciphers;     /* wolfSSL cipher list; NULL = ChaCha20 first */
    secmq_tls_version min_version; /* default SECMQ_TLS_1_2 */
    int insecure; /* 1 = do NOT check the host name (CA is still
                     checked); logged loudly at every connect */
    int has_pin;  /* 1 = pin_sha256 is set */
    unsigned char pin_sha256[SECMQ_PIN_BYTES]; /* SHA-256 of the broker
                                certificate's DER SubjectPublicKeyInfo */
} secmq_tls_config;

/* A last will. No will is sent when topic is NULL. */
typedef struct secmq_will {
    const char *topic;   /* BORROWED, copied by secmq_client_new() */
    const void *payload; /* BORROWED, copied; may be NULL when payloadlen 0 */
    size_t payloadlen;
    int qos;    /* 0, 1 or 2 */
    int retain; /* 0 or 1 */
} secmq_will;

/*
 * Everything a client needs to reach the broker. Initialise with
 * secmq_config_init(), then set what differs from the defaults. Every string
 * is BORROWED by secmq_client_new(), which copies it (the password into
 * guarded memory that is wiped on free).
 */
typedef struct secmq_config {
    size_t size;               /* sizeof(secmq_config); set by _init */
    const char *host;          /* broker host name or address; default
                                  "localhost" */
    int port;                  /* 0 = 8883 with TLS, 1883 with plain TCP */
    secmq_transport transport; /* default SECMQ_TRANSPORT_TLS */
    secmq_tls_config tls;
    const char *username;    /* NULL = no username */
    const char *password;    /* NULL = no password; needs username */
    const char *client_id;   /* NULL = "secmq-" + 16 random hex digits */
    int keepalive;           /* seconds, 5..65535; default 60 */
    int clean_session;       /* 1 (default) = clean; 0 = persistent session,
                                needs a client_id */
    secmq_protocol protocol; /* default SECMQ_MQTT_311 */
    secmq_will will;
    int reconnect_min_s;    /* first reconnect delay; default 1 */
    int reconnect_max_s;    /* backoff doubles up to this; default 30 */
    int connect_timeout_ms; /* TCP + TLS handshake limit; default 10000 */
} secmq_config;

/*
 * secmq_config_init -- fill *cfg with the defaults listed above.
 * cfg is BORROWED and written. Never fails.
 */
SECMQ_API void secmq_config_init(secmq_config *cfg);

/*
 * secmq_pin_parse -- parse an SPKI pin "sha256:<base64>" into out.
 * text is BORROWED; out receives SECMQ_PIN_BYTES bytes.
 * Returns SECMQ_OK, or SECMQ_E_INVAL if the text is not such a pin.
 */
SECMQ_API int secmq_pin_parse(const char *text,
                              unsigned char out[SECMQ_PIN_BYTES]);

/* ------------------------------------------------------------------------ */
/* Client                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct secmq_client secmq_client;

/* A received message. Valid only during the on_message callback. */
typedef struct secmq_message {
    const char *topic;   /* NUL-terminated */
    const void *payload; /* payloadlen bytes, followed by a NUL byte */
    size_t payloadlen;
    int qos;
    int retain;
    int mid;            /* MQTT packet id, 0 for QoS 0 */
    int sealed;         /* 1: opened from an envelope (see
                           secmq_client_set_keyring); payload is the
                           verified plaintext */
    const char *sender; /* sealed: the sender's name, PROVED by a signature
                           only when seal_mode is SECMQ_SEAL_SIGNED; in
                           mac-only mode (SECMQ_SEAL_MAC) merely CLAIMED
                           by some member of the channel, which must be
                           shown as unverified. NULL when not sealed */
    int seal_mode;      /* sealed: SECMQ_SEAL_SIGNED or SECMQ_SEAL_MAC; 0
                           when not sealed */
} secmq_message;

/* TLS details of the current connection, from secmq_client_tls_info(). */
typedef struct secmq_tls_info {
    char version[16]; /* "TLSv1.3", "TLSv1.2" */
    char cipher[64];  /* e.g. "TLS13-CHACHA20-POLY1305-SHA256" */
    int resumed;      /* 1 if the session was resumed */
    int handshakes;   /* TLS handshakes done by this client so far */
} secmq_tls_info;

/*
 * on_connect: the broker answered CONNECT. rc is SECMQ_OK when accepted,
 * otherwise SECMQ_E_AUTH (bad username or password; mosquitto says "not
 * authorised" for a wrong password, which is reported as SECMQ_E_AUTH when a
 * username was sent), SECMQ_E_NOT_AUTHORIZED, SECMQ_E_REFUSED or
 * SECMQ_E_PROTOCOL. reason is the broker's raw code
 * (MQTT 3.1.1 return code or MQTT 5 reason code); session_present is the
 * CONNACK flag. Runs on the loop thread.
 */
typedef void (*secmq_connect_cb)(secmq_client *c, void *user, int rc,
                                 int reason, int session_present);
/*
 * on_disconnect: the connection ended. rc is SECMQ_OK after
 * secmq_client_disconnect(), otherwise the cause (SECMQ_E_CONN_LOST, a
 * SECMQ_E_TLS* code when the TLS link failed, ...); the detail message says
 * more. SECMQ_E_QOS_UNSUPPORTED: the broker answered a QoS 2 PUBLISH with
 * PUBACK, which libmosquitto treats as a protocol error and drops the link
 * (RabbitMQ does this: it has no QoS 2). The client then stops: the loops do
 * not reconnect (every reconnect would resend the message and end the same
 * way), later QoS 2 publishes return SECMQ_E_QOS_UNSUPPORTED, and the QoS 2
 * messages stay unacknowledged (on_publish is not called for them): free
 * the client and publish at QoS 1 with a new one. With an outbox, its QoS 2
 * rows are set aside in the file and reported before this call (see "A
 * broker without QoS 2" in secmq/outbox.h). Runs on the loop thread.
 */
typedef void (*secmq_disconnect_cb)(secmq_client *c, void *user, int rc);
/*
 * on_message: a message arrived. msg is valid only during the callback.
 * Runs on the loop thread; with a keyring (secmq_client_set_keyring) on the
 * client's delivery thread instead, see there.
 */
typedef void (*secmq_message_cb)(secmq_client *c, void *user,
                                 const secmq_message *msg);
/*
 * on_publish: a publish is complete: handed to the network (QoS 0), PUBACK
 * (QoS 1) or PUBCOMP (QoS 2) received. rc is SECMQ_OK, or, from an MQTT 5
 * broker, SECMQ_E_NOT_AUTHORIZED (reason 0x87) or SECMQ_E_REFUSED (another
 * reason code of 0x80 or more). An MQTT 3.1.1 broker acknowledges even a
 * publish it dropped for lack of permission.
 */
typedef void (*secmq_publish_cb)(secmq_client *c, void *user, int mid, int rc);
/*
 * on_subscribe: SUBACK received. granted[i] is the QoS granted for the i-th
 * filter, or 128 (0x80) when the broker refused it. granted is valid only
 * during the callback.
 */
typedef void (*secmq_subscribe_cb)(secmq_client *c, void *user, int mid,
                                   int count, const int *granted);
/* on_unsubscribe: UNSUBACK received. */
typedef void (*secmq_unsubscribe_cb)(secmq_client *c, void *user, int mid);

/*
 * on_open_failure: a client with a keyring refused a message (reason: a
 * secmq_open_reason): one on a topic a keyring channel covers that did not
 * open (e.g. SECMQ_OPEN_VERSION for something that is not an envelope,
 * such as plaintext; SECMQ_OPEN_BAD_TAG for a tampered message;
 * SECMQ_OPEN_REPLAY for a replay or a QoS 1 duplicate), or one on a topic
 * no channel covers and no secmq_client_allow_plain() filter matches
 * (SECMQ_OPEN_NO_CHANNEL). It is not delivered to on_message. topic is
 * valid during the callback.
 * Runs where on_message runs, in arrival order with it.
 */
typedef void (*secmq_open_failure_cb)(secmq_client *c, void *user,
                                      const char *topic, int reason);

/* Levels of log lines delivered to on_log. */
typedef enum secmq_log_level {
    SECMQ_LOG_ERROR = 0,
    SECMQ_LOG_WARNING = 1,
    SECMQ_LOG_INFO = 2,
    SECMQ_LOG_DEBUG = 3
} secmq_log_level;
/*
 * on_log: a diagnostic line (NUL-terminated, valid during the call). May run
 * on any thread, including the internal tunnel thread, so it must be
 * thread-safe. Without on_log, SECMQ_LOG_WARNING and worse go to stderr.
 */
typedef void (*secmq_log_cb)(secmq_client *c, void *user, int level,
                             const char *line);

/*
 * secmq_client_new -- create a client from a configuration.
 * out receives the client (owned by the caller, release with
 * secmq_client_free()); cfg is BORROWED and copied entirely; user is stored
 * and passed to every callback.
 * Returns SECMQ_OK, SECMQ_E_INVAL (invalid configuration), SECMQ_E_NOMEM or
 * SECMQ_E_IO (libsodium or wolfSSL failed to start). On failure *out is NULL,
 * nothing is allocated, and secmq_client_errmsg(NULL, ...) called on the
 * same thread names the problem (e.g. "keep-alive 2 s is out of range").
 * No file or network I/O happens here: CA, certificate and key files are
 * read by the first secmq_client_connect(), which reports them.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_client_new(secmq_client **out, const secmq_config *cfg, void *user);

/*
 * secmq_client_free -- stop the loop if running, close the connection, wipe
 * secrets and release everything. Bytes already handed to the TLS tunnel (a
 * last QoS 0 message, a DISCONNECT) are still delivered to the broker first;
 * this may block for at most connect_timeout_ms when the broker is slow.
 * Call secmq_client_disconnect() before, or the broker publishes the will.
 * NULL is a no-op.
 */
SECMQ_API void secmq_client_free(secmq_client *c);

/* Callback setters: call before secmq_client_connect(). NULL unsets. */
SECMQ_API void secmq_client_on_connect(secmq_client *c, secmq_connect_cb cb);
SECMQ_API void secmq_client_on_disconnect(secmq_client *c,
                                          secmq_disconnect_cb cb);
SECMQ_API void secmq_client_on_message(secmq_client *c, secmq_message_cb cb);
SECMQ_API void secmq_client_on_publish(secmq_client *c, secmq_publish_cb cb);
SECMQ_API void secmq_client_on_subscribe(secmq_client *c,
                                         secmq_subscribe_cb cb);
SECMQ_API void secmq_client_on_unsubscribe(secmq_client *c,
                                           secmq_unsubscribe_cb cb);
SECMQ_API void secmq_client_on_log(secmq_client *c, secmq_log_cb cb);

/*
 * secmq_client_set_log_level -- the most detailed level handed to on_log
 * (default SECMQ_LOG_DEBUG: every line). Below SECMQ_LOG_DEBUG,
 * libmosquitto's line per packet sent and received ("Client ID sending
 * PUBLISH ...") is not even formatted, which saves a malloc and a
 * vsnprintf per packet on the loop thread: set SECMQ_LOG_WARNING (or
 * INFO) where debug lines are not shown. Lines above the level are
 * dropped, also where on_log is unset (then WARNING and worse still go
 * to stderr). Call before secmq_client_connect(). Returns SECMQ_OK, or
 * SECMQ_E_INVAL (c NULL, level not a secmq_log_level).
 */
SECMQ_API SECMQ_NODISCARD int secmq_client_set_log_level(secmq_client *c,
                                                         int level);
SECMQ_API void secmq_client_on_open_failure(secmq_client *c,
                                            secmq_open_failure_cb cb);

/* ------------------------------------------------------------------------ */
/* End-to-end sealing                                                       */
/* ------------------------------------------------------------------------ */

typedef struct secmq_keyring secmq_keyring; /* see secmq/keyring.h */

/*
 * secmq_client_set_keyring -- seal and open payloads with a keyring.
 * kr is BORROWED: it must stay alive until the client is freed or another
 * keyring (or NULL) is set. Call before secmq_client_connect().
 * From then on:
 *  - secmq_client_publish() on a topic that a channel covers publishes an
 *    envelope (docs/PROTOCOL.md) instead of the plaintext, and fails with
 *    SECMQ_E_NO_KEY when this identity may not publish there. An empty
 *    retained publish (which only deletes the retained message) is sent
 *    as is. Topics no channel covers are published as they are.
 *  - messages on covered topics are opened before on_message sees them
 *    (sealed = 1, sender and seal_mode set); those that do not open go to
 *    on_open_failure instead and are counted
 *    (secmq_client_open_counts_v2).
 *  - messages on topics no channel covers are refused the same way
 *    (reason SECMQ_OPEN_NO_CHANNEL), unless a filter given to
 *    secmq_client_allow_plain() matches the topic: then on_message gets
 *    them as they are, with sealed = 0. A client with a keyring never
 *    hands on_message bytes it did not open without being asked to.
 *  - threading and order: on_message and on_open_failure then run on a
 *    delivery thread of the client (started at the first message), not on
 *    the loop thread, in the order the messages arrived (covered or not),
 *    one at a time. The loop thread opens each envelope and queues it;
 *    signed envelopes may instead be verified by verify threads of the
 *    client, several at once (secmq_client_set_open_threads), while the
 *    replay check still runs in arrival order, one message at a time. The
 *    delivery thread makes the replay records of everything ready
 *    durable with one fdatasync (secmq_keyring_sync) and only then calls
 *    back, so a message handed to on_message is never handed out again,
 *    even after a crash, SIGKILL or power cut and a restart with the same
 *    keyring directory. A message whose record could not be made durable
 *    is not delivered (an error line goes to on_log). At most 1024
 *    messages (or 16 MiB) wait, verified or not; beyond that the loop
 *    thread waits for the application. Callbacks must not call
 *    secmq_client_free(); it verifies and delivers what is queued before
 *    it returns.
 *  - receipts: on channels whose grant asks this identity for receipts,
 *    the client sends them by itself (secmq/receipt.h,
 *    secmq_client_set_receipts).
 * Returns SECMQ_OK, SECMQ_E_STATE (while connected) or SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_client_set_keyring(secmq_client *c, secmq_keyring *kr);

/*
 * secmq_client_set_open_threads -- with a keyring: how many threads verify
 * received signed envelopes (PROTOCOL.md §4.2 steps 1-7, an Ed25519
 * verification each). 0 (the default): one per online core
 * (sysconf(_SC_NPROCESSORS_ONLN)), at most 8, so none on a one-core
 * machine; 1: none,
 * the loop thread opens every envelope itself; n > 1: n threads. The
 * threads are started with the delivery thread, at the first message
 * received, and the number is read then (a call after that, e.g. between
 * a disconnect and a reconnect, changes nothing); they end in
 * secmq_client_free(), after the last queued message was delivered.
 * They run no callback: on_message and on_open_failure still run on the
 * delivery thread, one at a time, in arrival order, and the replay check
 * and the durability of its record (see secmq_client_set_keyring) are
 * unchanged. Mac-only envelopes are always opened by the loop thread
 * (their check costs less than handing them over). Call before
 * secmq_client_connect().
 * Returns SECMQ_OK, SECMQ_E_INVAL (c NULL, or n above 64) or SECMQ_E_STATE
 * (while connecting or connected).
 */
SECMQ_API int secmq_client_set_open_threads(secmq_client *c, unsigned n);

/* The longest interval secmq_client_set_sync_interval() accepts (1 s). */
#define SECMQ_SYNC_INTERVAL_MAX_US 1000000u

/*
 * secmq_client_set_sync_interval -- with a keyring: how often, at most,
 * the delivery thread makes replay records durable while messages keep
 * arriving, in microseconds. Each group commit is one fdatasync
 * (secmq_client_set_keyring) that every message ready by then shares; it
 * costs the same CPU and disk time however many it covers. When messages
 * are ready less than usec after the last group commit began, the
 * delivery thread waits until usec have passed (or until 256 messages or
 * 4 MiB wait) and commits them all at once; a message that arrives after
 * a quiet interval is committed at once. So under load a sealed message
 * may reach on_message up to usec later, in exchange for fewer
 * fdatasyncs per message; 0 commits whatever is ready as soon as the
 * previous commit ended. Nothing is delivered before its record is
 * durable, whatever the interval. Default: 1000 (1 ms). The value is read
 * with the delivery thread's start, at the first message received (a
 * call after that changes nothing). Call before secmq_client_connect().
 * Returns SECMQ_OK, SECMQ_E_INVAL (c NULL, or usec above
 * SECMQ_SYNC_INTERVAL_MAX_US) or SECMQ_E_STATE (while connecting or
 * connected).
 */
SECMQ_API int secmq_client_set_sync_interval(secmq_client *c, unsigned usec);

/* secmq_client_set_session_expiry: a session that never expires. */
#define SECMQ_SESSION_EXPIRY_NEVER UINT32_MAX

/*
 * secmq_client_set_session_expiry -- MQTT 5 only: the Session Expiry
 * Interval sent in every CONNECT (and reconnect), in seconds: how long the
 * broker keeps the session (subscriptions, queued QoS 1/2 messages) after
 * the connection ends; 0 ends it with the connection,
 * SECMQ_SESSION_EXPIRY_NEVER keeps it for ever (within the broker's own
 * limits, e.g. mosquitto's persistent_client_expiration). Without this
 * call an MQTT 5 client sends SECMQ_SESSION_EXPIRY_NEVER when
 * clean_session is 0 (a persistent session, as with MQTT 3.1.1) and
 * nothing (0) otherwise. Call before secmq_client_connect().
 * Returns SECMQ_OK, SECMQ_E_INVAL (c NULL, or the client's protocol is not
 * SECMQ_MQTT_5: MQTT 3.1.1 has no such property) or SECMQ_E_STATE (after
 * secmq_client_connect()).
 */
SECMQ_API int secmq_client_set_session_expiry(secmq_client *c,
                                              uint32_t seconds);

/*
 * secmq_client_allow_plain -- with a keyring: deliver messages on topics
 * that match filter (BORROWED, copied; + and # allowed) and that no
 * channel covers to on_message as they are (sealed = 0), instead of
 * refusing them as SECMQ_OPEN_NO_CHANNEL. Call once per filter, before
 * secmq_client_connect(). A topic a channel covers is never delivered
 * unopened, whatever the filters say. Without a keyring every message is
 * delivered as it is and the filters are not used.
 * Returns SECMQ_OK, SECMQ_E_INVAL (c NULL, or not a valid topic filter),
 * SECMQ_E_NOMEM or SECMQ_E_STATE (while connected).
 */
SECMQ_API int secmq_client_allow_plain(secmq_client *c, const char *filter);

/*
 * secmq_client_publish_raw -- publish payload as it is, even on a topic a
 * channel covers (receivers with the keyring will refuse it). Same
 * parameters and return codes as secmq_client_publish().
 */
SECMQ_API SECMQ_NODISCARD int
secmq_client_publish_raw(secmq_client *c, int *mid, const char *topic,
                         const void *payload, size_t payloadlen, int qos,
                         int retain);

/*
 * secmq_client_open_counts_v2 -- how many messages on covered topics opened
 * (counts[SECMQ_OPEN_OK]) and how many were refused, per reason
 * (counts[SECMQ_OPEN_BAD_TAG], ..., counts[SECMQ_OPEN_NO_CHANNEL] for
 * topics no channel covers), since the client was created. counts
 * (BORROWED, written) has room for n entries; min(n,
 * SECMQ_OPEN_REASON_COUNT) are written, so a program built against an
 * older header with fewer reasons keeps working. Any thread.
 * Returns the number of entries written (>= 0), or SECMQ_E_INVAL (c or
 * counts NULL).
 */
SECMQ_API int secmq_client_open_counts_v2(secmq_client *c, uint64_t *counts,
                                          size_t n);

/*
 * secmq_client_open_counts -- secmq_client_open_counts_v2(c, counts, 12):
 * the first 12 entries (SECMQ_OPEN_OK .. SECMQ_OPEN_REPLAY), the reasons
 * this call was defined with; counts must have room for 12. Use
 * secmq_client_open_counts_v2() for SECMQ_OPEN_NO_CHANNEL and later
 * reasons. Returns SECMQ_OK or SECMQ_E_INVAL.
 */
SECMQ_API int secmq_client_open_counts(secmq_client *c, uint64_t *counts);

/*
 * secmq_client_connect -- open the link and send MQTT CONNECT.
 * Blocks for name resolution, TCP connect and (with TLS) the full handshake
 * and certificate checks, at most cfg->connect_timeout_ms. The broker's
 * answer (CONNACK) arrives later, through on_connect, while a loop runs; see
 * secmq_client_wait_connected().
 * Returns SECMQ_OK, SECMQ_E_STATE (already connected), SECMQ_E_INVAL (a
 * certificate without a key), SECMQ_E_IO (a CA, certificate or key file
 * cannot be read), SECMQ_E_DNS, SECMQ_E_CONN_REFUSED, SECMQ_E_TIMEOUT,
 * SECMQ_E_TLS (including unusable CA/certificate/key files and a broker that
 * rejects the session right after the handshake), SECMQ_E_TLS_CA,
 * SECMQ_E_TLS_HOSTNAME, SECMQ_E_TLS_EXPIRED, SECMQ_E_TLS_PIN or
 * SECMQ_E_NOMEM; secmq_client_errmsg() then names the cause.
 * Later reconnects (made by the loops) each do a new handshake, resuming the
 * previous TLS session when the broker allows it.
 */
SECMQ_API SECMQ_NODISCARD int secmq_client_connect(secmq_client *c);

/*
 * secmq_client_wait_connected -- wait for the broker's CONNACK.
 * If no threaded loop runs, drives the loop itself (callbacks then run on the
 * calling thread). timeout_ms < 0 waits forever.
 * It returns after on_connect (if set) has finished.
 * Returns SECMQ_OK once the broker accepted the connection, the refusal code
 * of on_connect (SECMQ_E_AUTH, SECMQ_E_NOT_AUTHORIZED, SECMQ_E_REFUSED,
 * SECMQ_E_PROTOCOL), the cause of a lost link (SECMQ_E_CONN_LOST, or a
 * SECMQ_E_TLS* code when the broker rejected the TLS session, e.g. a missing
 * client certificate), SECMQ_E_TIMEOUT, or SECMQ_E_STATE if never connected.
 * Meant for the first connect: once that has been answered, it reports the
 * outcome of the latest attempt without waiting for the loops' reconnects.
 */
SECMQ_API SECMQ_NODISCARD int secmq_client_wait_connected(secmq_client *c,
                                                          int timeout_ms);

/*
 * secmq_client_disconnect -- send DISCONNECT (no will is published) and
 * close the link; loops stop reconnecting. Any thread. With a keyring,
 * pending receipts are published first (best effort, secmq/receipt.h).
 * Returns SECMQ_OK or SECMQ_E_NO_CONN.
 */
SECMQ_API int secmq_client_disconnect(secmq_client *c);

/*
 * secmq_client_publish -- queue a message.
 * With an outbox (secmq_client_set_outbox, secmq/outbox.h), QoS 1/2
 * messages go through it instead: committed to the file before this
 * returns, *mid set to 0, completion reported by on_delivered; what follows
 * describes a client without one.
 * mid (may be NULL) receives the packet id reported later to on_publish;
 * topic and payload are BORROWED and copied before return. QoS 1/2 messages
 * are queued in memory: published while disconnected (SECMQ_OK is returned),
 * they are sent after the next (re)connect; they do not survive the process.
 * libmosquitto resends them only once on_connect has returned, so a message
 * published right after the reconnect can overtake them (order per topic
 * holds while connected).
 * Returns SECMQ_OK, SECMQ_E_INVAL (bad topic, qos or wildcard in topic),
 * SECMQ_E_OVERSIZE (exceeds the MQTT maximum or the broker's maximum packet
 * size), SECMQ_E_NO_CONN (QoS 0 while disconnected), SECMQ_E_NOMEM,
 * SECMQ_E_QOS_UNSUPPORTED (QoS 2 after this broker answered QoS 2 with
 * PUBACK, see on_disconnect; the detail message names the cause and the
 * fix).
 */
SECMQ_API SECMQ_NODISCARD int secmq_client_publish(secmq_client *c, int *mid,
                                                   const char *topic,
                                                   const void *payload,
                                                   size_t payloadlen, int qos,
                                                   int retain);

/*
 * secmq_client_subscribe -- subscribe to a topic filter (wildcards + and #
 * allowed). filter is BORROWED. mid may be NULL. The broker's answer arrives
 * through on_subscribe.
 * Returns SECMQ_OK, SECMQ_E_INVAL, SECMQ_E_NO_CONN, SECMQ_E_NOMEM.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_client_subscribe(secmq_client *c, int *mid, const char *filter, int qos);

/*
 * secmq_client_unsubscribe -- remove a subscription. filter is BORROWED.
 * Returns SECMQ_OK, SECMQ_E_INVAL, SECMQ_E_NO_CONN, SECMQ_E_NOMEM.
 */
SECMQ_API SECMQ_NODISCARD int
secmq_client_unsubscribe(secmq_client *c, int *mid, const char *filter);

/*
 * secmq_client_loop -- run the network once: wait up to timeout_ms for
 * traffic, process it, send keep-alives. Callbacks run inside this call.
 * Does not reconnect. Do not use while a threaded loop runs.
 * Returns SECMQ_OK, SECMQ_E_NO_CONN, SECMQ_E_CONN_LOST (a SECMQ_E_TLS* code
 * if the TLS link failed), SECMQ_E_QOS_UNSUPPORTED (see on_disconnect),
 * SECMQ_E_STATE (threaded loop running).
 */
SECMQ_API int secmq_client_loop(secmq_client *c, int timeout_ms);

/*
 * secmq_client_loop_forever -- run the network on the calling thread until
 * secmq_client_disconnect() is called, reconnecting with exponential backoff
 * (reconnect_min_s .. reconnect_max_s) after a lost link.
 * Returns SECMQ_OK after a requested disconnect, SECMQ_E_QOS_UNSUPPORTED
 * (the broker answered QoS 2 with PUBACK: no reconnect, see on_disconnect),
 * SECMQ_E_STATE (not connected, or a threaded loop runs).
 */
SECMQ_API int secmq_client_loop_forever(secmq_client *c);

/*
 * secmq_client_loop_start -- run loop_forever's work in the background:
 * keep-alive, reconnects with backoff, callbacks. Over TLS the client's
 * tunnel thread (which carries the TLS connection) does it and no thread is
 * started; over plain TCP libmosquitto starts its own thread. Callbacks run
 * on that thread. Call it after secmq_client_connect() succeeded (over TLS
 * it may also come first: the loop begins once connect made the tunnel).
 * Returns SECMQ_OK, SECMQ_E_STATE (already running), SECMQ_E_NOMEM.
 */
SECMQ_API int secmq_client_loop_start(secmq_client *c);

/*
 * secmq_client_loop_stop -- stop the background loop (and join its thread
 * over plain TCP). With force 0, waits until secmq_client_disconnect() has
 * been called (by any thread) and the loop ended, which it does once the
 * DISCONNECT is written; with force 1, stops at once. Must not be called
 * from a callback over plain TCP; over TLS a callback may call it: the loop
 * stops after that callback, whatever force says.
 * Returns SECMQ_OK or SECMQ_E_STATE (no threaded loop).
 */
SECMQ_API int secmq_client_loop_stop(secmq_client *c, int force);

/*
 * secmq_client_errmsg -- copy the detail of the most recent failure into
 * buf (BORROWED, len bytes, always NUL-terminated when len > 0), e.g.
 * "TLS: the broker's certificate is not signed by a trusted CA (trusted:
 * ca.crt)". The message stays until the next failure replaces it. With c
 * NULL, gives the calling thread's last secmq_client_new() failure.
 * Returns the number of bytes the full message has (without NUL), 0 when
 * there was no failure.
 */
SECMQ_API size_t secmq_client_errmsg(secmq_client *c, char *buf, size_t len);

/*
 * secmq_client_tls_info -- describe the current TLS session.
 * info is written. Returns SECMQ_OK, SECMQ_E_NO_CONN (no TLS session now),
 * SECMQ_E_STATE (plain TCP transport).
 */
SECMQ_API int secmq_client_tls_info(secmq_client *c, secmq_tls_info *info);

/*
 * secmq_client_id -- the client id in use (given or generated). The string
 * belongs to the client and lives as long as it.
 */
SECMQ_API const char *secmq_client_id(const secmq_client *c);

#ifdef __cplusplus
}
#endif

/* End-to-end protection: the envelope (docs/PROTOCOL.md). */
#include "secmq/envelope.h"
#include "secmq/keyring.h"
/* End-to-end receipts (docs/PROTOCOL.md section 9). */
#include "secmq/receipt.h"
/* Encrypted, resumable file transfer (docs/PROTOCOL.md section 8). */
#include "secmq/file.h"
/* The durable outbox (sqlite): publish now, delivered after outages. */
#include "secmq/outbox.h"

#endif /* SECMQ_H */
