/*
 * bench_secmq.c -- the transports under test: libsecmq's wolfSSL TLS link,
 * without and with end-to-end envelopes.
 *
 * The only bench file that sees libsecmq (and libsodium, for the Ed25519
 * reference figure). It adapts a secmq_client to bench_client through the
 * public API in secmq.h alone, exactly as an application would use it, and
 * reports the TLS version and suite from secmq_client_tls_info(). For the
 * sealed transports it makes keyrings with the management API (what
 * secmq-keys runs) and hands an opened keyring to the client. It never
 * reaches into the library's internals.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <secmq.h>
#include <sodium.h>

/* wolfSSL's version is not in secmq's API; its header names the version the
 * bench was built against (the same Debian package the library links). */
#if defined(__has_include)
#if __has_include(<wolfssl/version.h>)
#include <wolfssl/version.h>
#endif
#endif

#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_S 60

typedef struct sq_client {
    bench_client base; /* first: the measurement code sees only this */
    secmq_client *c;
    secmq_keyring *kr; /* NULL: payloads go as they are */
    bench_sink *sink;
    int looping;
    bench_acks acks;
} sq_client;

/* Writes "secmq <what>: <sentence> (<detail>)" into err. */
static void set_err(sq_client *s, char *err, size_t errlen, const char *what,
                    int rc)
{
    char detail[SECMQ_ERRMSG_BYTES];

    detail[0] = '\0';
    if (s->c != NULL) {
        (void)secmq_client_errmsg(s->c, detail, sizeof(detail));
    }
    snprintf(err, errlen, "secmq %s: %s%s%s%s", what, secmq_strerror(rc),
             detail[0] != '\0' ? " (" : "", detail,
             detail[0] != '\0' ? ")" : "");
}

static void on_connect(secmq_client *c, void *user, int rc, int reason,
                       int session_present)
{
    sq_client *s = user;
    bench_acks *a = &s->acks;
    secmq_tls_info ti;

    (void)reason;
    (void)session_present;
    /* Read on the loop thread, as a callback: the session cannot change
     * under us here. */
    memset(&ti, 0, sizeof(ti));
    if (rc == SECMQ_OK && secmq_client_tls_info(c, &ti) != SECMQ_OK) {
        memset(&ti, 0, sizeof(ti));
    }
    pthread_mutex_lock(&a->mu);
    snprintf(a->info.version, sizeof(a->info.version), "%.*s",
             (int)sizeof(ti.version), ti.version);
    snprintf(a->info.cipher, sizeof(a->info.cipher), "%.*s",
             (int)sizeof(ti.cipher), ti.cipher);
    a->connack = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    sq_client *s = user;

    (void)c;
    bench_acks_suback(&s->acks, mid, count, granted);
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    sq_client *s = user;

    (void)c;
    /* With a keyring only what opened counts: the library hands
     * on_message the verified plaintext (sealed = 1); what did not open
     * goes to the open counts instead. */
    if (s->kr != NULL && !msg->sealed) {
        return;
    }
    if (s->sink != NULL && msg->payloadlen > 0) {
        bench_sink_deliver(s->sink, msg->payload, msg->payloadlen);
    }
}

static int sq_publish(bench_client *base, const char *topic,
                      const void *payload, size_t len, int qos, char *err,
                      size_t errlen)
{
    sq_client *s = (sq_client *)base;
    int rc;

    rc = secmq_client_publish(s->c, NULL, topic, payload, len, qos, 0);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "publish", rc);
        return -1;
    }
    return 0;
}

static int sq_subscribe(bench_client *base, const char *filter, int qos,
                        int timeout_ms, char *err, size_t errlen)
{
    sq_client *s = (sq_client *)base;
    int mid = 0;
    int rc;

    /* Hold the lock across the call so the SUBACK cannot be missed. */
    pthread_mutex_lock(&s->acks.mu);
    rc = secmq_client_subscribe(s->c, &mid, filter, qos);
    if (rc != SECMQ_OK) {
        pthread_mutex_unlock(&s->acks.mu);
        set_err(s, err, errlen, "subscribe", rc);
        return -1;
    }
    return bench_acks_subscribed(&s->acks, mid, "secmq", filter, timeout_ms,
                                 err, errlen);
}

static void sq_tls_info(bench_client *base, bench_tls_info *out)
{
    bench_acks_tls_info(&((sq_client *)base)->acks, out);
}

static int sq_open_counts(bench_client *base, long *counts)
{
    sq_client *s = (sq_client *)base;
    uint64_t n[SECMQ_OPEN_REASON_COUNT];
    int r;

    if (s->kr == NULL ||
        secmq_client_open_counts_v2(s->c, n, SECMQ_OPEN_REASON_COUNT) < 0) {
        return -1;
    }
    for (r = 0; r < BENCH_OPEN_REASONS; r++) {
        counts[r] = r < SECMQ_OPEN_REASON_COUNT ? (long)n[r] : 0;
    }
    return 0;
}

static void sq_close(bench_client *base)
{
    sq_client *s = (sq_client *)base;
    int rc;

    if (s == NULL) {
        return;
    }
    if (s->looping) {
        rc = secmq_client_disconnect(s->c);
        /* Without a requested disconnect the loop would wait forever for
         * one; stop it by force then. */
        (void)secmq_client_loop_stop(s->c, rc != SECMQ_OK);
    }
    secmq_client_free(s->c);
    /* After the client: it borrows the keyring until it is freed. */
    secmq_keyring_free(s->kr);
    bench_acks_destroy(&s->acks);
    free(s);
}

static const bench_client_ops sq_ops = {sq_publish, sq_subscribe, sq_tls_info,
                                        sq_open_counts, sq_close};

/* Opens the keyring in dir for s, in mac-only mode when mac. 0 or -1. */
/* SECMQ_BENCH_OPEN_THREADS=N (for A/B runs of the verify threads, see
 * docs/PERFORMANCE.md "Sealed messages"): secmq_client_set_open_threads(N)
 * on every client with a keyring; unset: the library's default. */
static int set_open_threads(secmq_client *c)
{
    const char *v = getenv("SECMQ_BENCH_OPEN_THREADS");
    char *end = NULL;
    unsigned long n;

    if (v == NULL || v[0] == '\0') {
        return SECMQ_OK;
    }
    n = strtoul(v, &end, 10);
    if (end == v || *end != '\0' || n > 64) {
        return SECMQ_E_INVAL;
    }
    return secmq_client_set_open_threads(c, (unsigned)n);
}

static int open_keyring(sq_client *s, const char *dir, int mac, char *err,
                        size_t errlen)
{
    char why[BENCH_WHY_BYTES];
    int rc;

    why[0] = '\0';
    rc = secmq_keyring_open(&s->kr, dir, why, sizeof(why));
    if (rc != SECMQ_OK) {
        s->kr = NULL;
        snprintf(err, errlen, "secmq keyring_open %s: %s (%s)", dir,
                 secmq_strerror(rc), why);
        return -1;
    }
    if (mac) {
        rc = secmq_keyring_set_mode(s->kr, SECMQ_SEAL_MAC);
        if (rc != SECMQ_OK) {
            snprintf(err, errlen, "secmq keyring_set_mode: %s",
                     secmq_strerror(rc));
            return -1;
        }
    }
    return 0;
}

int bench_secmq_open(bench_client **out, const bench_endpoint *ep,
                     const char *id, const char *keyring, int mac,
                     bench_sink *sink, char *err, size_t errlen)
{
    secmq_config cfg;
    sq_client *s;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->base.ops = &sq_ops;
    s->sink = sink;
    bench_acks_init(&s->acks, "wolfSSL (secmq)");

    secmq_config_init(&cfg);
    cfg.host = ep->host;
    cfg.port = ep->tls_port;
    cfg.transport = SECMQ_TRANSPORT_TLS;
    cfg.tls.cafile = ep->cafile;
    cfg.tls.ciphers = ep->ciphers;
    cfg.client_id = id;
    cfg.keepalive = KEEPALIVE_S;
    cfg.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    rc = secmq_client_new(&s->c, &cfg, s);
    if (rc != SECMQ_OK) {
        s->c = NULL;
        set_err(s, err, errlen, "client_new", rc);
        goto err;
    }
    if (keyring != NULL) {
        if (open_keyring(s, keyring, mac, err, errlen) != 0) {
            goto err;
        }
        rc = secmq_client_set_keyring(s->c, s->kr);
        if (rc != SECMQ_OK) {
            set_err(s, err, errlen, "set_keyring", rc);
            goto err;
        }
        rc = set_open_threads(s->c);
        if (rc != SECMQ_OK) {
            set_err(s, err, errlen, "set_open_threads", rc);
            goto err;
        }
    }
    secmq_client_on_connect(s->c, on_connect);
    secmq_client_on_subscribe(s->c, on_subscribe);
    secmq_client_on_message(s->c, on_message);
    rc = secmq_client_connect(s->c);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "connect", rc);
        goto err;
    }
    rc = secmq_client_loop_start(s->c);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "loop_start", rc);
        goto err;
    }
    s->looping = 1;
    rc = secmq_client_wait_connected(s->c, CONNECT_TIMEOUT_MS);
    if (rc != SECMQ_OK) {
        set_err(s, err, errlen, "wait_connected", rc);
        goto err;
    }
    /* wait_connected may return before on_connect has finished on the
     * loop thread; the TLS details are read there, so wait for it. */
    if (!bench_acks_wait_connack(&s->acks, CONNECT_TIMEOUT_MS)) {
        snprintf(err, errlen, "secmq: on_connect did not run within %d ms",
                 CONNECT_TIMEOUT_MS);
        goto err;
    }
    *out = &s->base;
    return 0;

err:
    sq_close(&s->base);
    return -1;
}

void bench_secmq_versions(char *secmq, size_t secmqlen, char *wolfssl,
                          size_t wolfssllen)
{
    snprintf(secmq, secmqlen, "%s", secmq_version());
#ifdef LIBWOLFSSL_VERSION_STRING
    snprintf(wolfssl, wolfssllen, "%s", LIBWOLFSSL_VERSION_STRING);
#else
    snprintf(wolfssl, wolfssllen, "unknown");
#endif
}

const char *bench_secmq_reason_name(int reason)
{
    return reason == SECMQ_OPEN_OK ? "opened" : secmq_open_reason_name(reason);
}

/* Joins dir and name into out (BENCH_PATH_BYTES). 0, or -1 with err. */
static int keys_path(char *out, const char *dir, const char *name, char *err,
                     size_t errlen)
{
    int n = snprintf(out, BENCH_PATH_BYTES, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= BENCH_PATH_BYTES) {
        snprintf(err, errlen, "path too long: %s/%s", dir, name);
        return -1;
    }
    return 0;
}

/* Writes len bytes of data to a new file path (mode 0600). 0 or -1. */
static int write_new_file(const char *path, const char *data, size_t len,
                          char *err, size_t errlen)
{
    FILE *f = fopen(path, "wx");
    int ok;

    if (f == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

/* Makes identity name in dir and exports its public file to pub_file. */
static int make_identity(const char *dir, const char *name,
                         const char *pub_file, char *err, size_t errlen)
{
    char why[BENCH_WHY_BYTES];
    char text[512];
    size_t len = 0;
    int rc;

    why[0] = '\0';
    rc = secmq_identity_create(dir, name, why, sizeof(why));
    if (rc == SECMQ_OK) {
        rc = secmq_identity_export(dir, text, sizeof(text), &len, why,
                                   sizeof(why));
    }
    if (rc != SECMQ_OK) {
        snprintf(err, errlen, "keyring %s: %s (%s)", dir, secmq_strerror(rc),
                 why);
        return -1;
    }
    return write_new_file(pub_file, text, len, err, errlen);
}

/*
 * Checks that the publisher's keyring in dir, set to mode as its client's
 * will be, seals for topic in that mode: one empty envelope must be
 * exactly the mode's overhead long (a mac-only request on a channel that
 * does not allow it would silently seal signed). The keyring is freed
 * again, which releases its publishing lock. 0, or -1 with err.
 */
static int check_mode(const char *dir, const char *topic, secmq_seal_mode mode,
                      char *err, size_t errlen)
{
    unsigned char env[SECMQ_ENV_OVERHEAD_SIGNED];
    char why[BENCH_WHY_BYTES];
    secmq_keyring *kr = NULL;
    size_t len = 0;
    int rc;

    why[0] = '\0';
    rc = secmq_keyring_open(&kr, dir, why, sizeof(why));
    if (rc != SECMQ_OK) {
        snprintf(err, errlen, "keyring_open %s: %s (%s)", dir,
                 secmq_strerror(rc), why);
        return -1;
    }
    rc = secmq_keyring_set_mode(kr, mode);
    if (rc == SECMQ_OK) {
        rc = secmq_keyring_seal(kr, topic, NULL, 0, env, sizeof(env), &len);
    }
    if (rc != SECMQ_OK) {
        (void)secmq_keyring_errmsg(kr, why, sizeof(why));
        snprintf(err, errlen, "keyring %s: test seal: %s (%s)", dir,
                 secmq_strerror(rc), why);
        secmq_keyring_free(kr);
        return -1;
    }
    secmq_keyring_free(kr);
    if (len != secmq_envelope_size(mode, 0)) {
        snprintf(err, errlen,
                 "keyring %s: a %s envelope has %zu bytes of overhead, "
                 "not %zu",
                 dir, mode == SECMQ_SEAL_MAC ? "mac-only" : "signed", len,
                 secmq_envelope_size(mode, 0));
        return -1;
    }
    return 0;
}

int bench_secmq_keys(const char *dir, const char *topic, const char *pub_name,
                     const char *sub_name, int allow_mac, char *pub_dir,
                     char *sub_dir, char *err, size_t errlen)
{
    char pub_file[BENCH_PATH_BYTES];
    char sub_file[BENCH_PATH_BYTES];
    char grants[BENCH_PATH_BYTES];
    char sub_grant[BENCH_PATH_BYTES];
    char name[SECMQ_NAME_MAX + 16];
    char why[BENCH_WHY_BYTES];
    const char *pubs[1];
    const char *subs[1];
    const char *files[2];
    secmq_channel_spec spec;
    int rc;

    if (secmq_init() != SECMQ_OK) {
        snprintf(err, errlen, "secmq_init failed");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(name, sizeof(name), "%s.grant", sub_name);
    if (keys_path(pub_dir, dir, "pub", err, errlen) != 0 ||
        keys_path(sub_dir, dir, "sub", err, errlen) != 0 ||
        keys_path(pub_file, dir, "pub.pub", err, errlen) != 0 ||
        keys_path(sub_file, dir, "sub.pub", err, errlen) != 0 ||
        keys_path(grants, dir, "grants", err, errlen) != 0 ||
        keys_path(sub_grant, grants, name, err, errlen) != 0) {
        return -1;
    }
    /* What `secmq-keys init` and `export` do on each device. */
    if (make_identity(pub_dir, pub_name, pub_file, err, errlen) != 0 ||
        make_identity(sub_dir, sub_name, sub_file, err, errlen) != 0) {
        return -1;
    }
    /* `secmq-keys channel create --topic TOPIC --publisher pub.pub
     * --subscriber sub.pub [--allow-mac] --out grants`, by the publisher,
     * who owns the channel and keeps its key in its own keyring. */
    pubs[0] = pub_file;
    subs[0] = sub_file;
    memset(&spec, 0, sizeof(spec));
    spec.filter = topic;
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    spec.allow_mac = allow_mac;
    why[0] = '\0';
    rc = secmq_channel_create(pub_dir, &spec, grants, NULL, NULL, why,
                              sizeof(why));
    if (rc != SECMQ_OK) {
        snprintf(err, errlen, "channel create in %s: %s (%s)", pub_dir,
                 secmq_strerror(rc), why);
        return -1;
    }
    /* `secmq-keys import pub.pub grants/SUB.grant` by the subscriber. */
    files[0] = pub_file;
    files[1] = sub_grant;
    rc = secmq_keyring_import(sub_dir, files, 2, NULL, NULL, why, sizeof(why));
    if (rc != SECMQ_OK) {
        snprintf(err, errlen, "import into %s: %s (%s)", sub_dir,
                 secmq_strerror(rc), why);
        return -1;
    }
    return check_mode(pub_dir, topic,
                      allow_mac ? SECMQ_SEAL_MAC : SECMQ_SEAL_SIGNED, err,
                      errlen);
}

int bench_ed25519_verify(size_t msg_len, double seconds, long *count,
                         double *elapsed)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES];
    unsigned char msg[1024];
    uint64_t t0, now, end;
    long n = 0;
    int i, bad = 0;

    *count = 0;
    *elapsed = 0.0;
    if (sodium_init() < 0 || msg_len > sizeof(msg)) {
        return -1;
    }
    randombytes_buf(msg, msg_len);
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, msg_len, sk);
    sodium_memzero(sk, sizeof(sk));
    t0 = bench_now_ns();
    end = t0 + (uint64_t)(seconds * 1e9);
    /* Batches of 64 between clock reads; the result is used, so the
     * compiler cannot drop the calls. */
    do {
        for (i = 0; i < 64; i++) {
            bad |= crypto_sign_verify_detached(sig, msg, msg_len, pk) != 0;
        }
        n += 64;
        now = bench_now_ns();
    } while (now < end && !bench_interrupted);
    *count = n;
    *elapsed = (double)(now - t0) / 1e9;
    return bad ? -1 : 0;
}
