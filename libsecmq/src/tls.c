/*
 * tls.c -- the wolfSSL adapter: verified TLS sessions to the broker.
 *
 * This file and tls_io.c (the socket callbacks) are the only ones that
 * include wolfSSL. It builds a context from a
 * client's trust settings, dials the broker (TCP, handshake, CA chain, host
 * name, optional SPKI pin), resumes the previous session when it can, and
 * moves bytes over a non-blocking socket. wolfSSL's error codes are turned
 * into SECMQ_E_* codes and sentences here and go no further.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfio.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/cryptocb.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "net_int.h"
#include "tls_conn_int.h"
#include "tls_int.h"

/*
 * Cipher suites. Debian's wolfSSL is built without assembly: its AES-GCM
 * runs at ~120 MB/s and its ChaCha20-Poly1305 at ~300 MB/s. On a CPU with
 * AES-NI and PCLMUL, libsodium's AES-256-GCM runs at several GB/s, so there
 * AES-256-GCM records are handed to libsodium (see aes_gcm_cb) and that
 * suite comes first. Elsewhere (a Raspberry Pi has no AES instructions)
 * ChaCha20-Poly1305 comes first, and TLS 1.3 AES-256-GCM is left out:
 * brokers on OpenSSL choose by their own preference (AES-256-GCM, ChaCha20,
 * AES-128-GCM), so they then pick ChaCha20, while AES-128-GCM remains for
 * brokers without ChaCha20. Only AEAD suites with forward secrecy.
 */
static const char ciphers_chacha_first[] =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
static const char ciphers_aes_first[] =
    "TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "TLS13-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

/* wolfSSL crypto-callback device id for AES-256-GCM by libsodium. */
#define SODIUM_AES_DEVID 0x73716d31
static int sodium_aes; /* 1 when the device is registered */

static const char system_ca_file[] = "/etc/ssl/certs/ca-certificates.crt";

struct secmq__tls_ctx {
    WOLFSSL_CTX *ssl_ctx;
    pthread_mutex_t lock;     /* serialises dials and the saved session */
    WOLFSSL_SESSION *session; /* last session, for resumption */
    char *host;
    char *server_name; /* name checked against the certificate */
    char *trust;       /* where trusted CAs came from, for messages */
    char *certfile;    /* our client certificate's file, NULL if none */
    int port;
    int insecure;
    int has_pin;
    unsigned char pin[SECMQ_PIN_BYTES];
    int handshakes;
    const secmq__log *log;
};

/*
 * AES-256-GCM for wolfSSL's TLS records, computed by libsodium. wolfSSL
 * asks through its crypto-callback interface (WOLF_CRYPTO_CB) and keeps the
 * raw key in aes->devKey for us. Anything else (other ciphers, AES-128,
 * other nonce or tag sizes) is left to wolfSSL's own code.
 */
static int aes_gcm_cb(int devid, wc_CryptoInfo *info, void *arg)
{
    (void)devid;
    (void)arg;
    if (info->algo_type != WC_ALGO_TYPE_CIPHER ||
        info->cipher.type != WC_CIPHER_AES_GCM) {
        return CRYPTOCB_UNAVAILABLE;
    }
    if (info->cipher.enc) {
        const Aes *aes = info->cipher.aesgcm_enc.aes;
        unsigned long long maclen;
        if (aes->keylen != crypto_aead_aes256gcm_KEYBYTES ||
            info->cipher.aesgcm_enc.ivSz != crypto_aead_aes256gcm_NPUBBYTES ||
            info->cipher.aesgcm_enc.authTagSz != crypto_aead_aes256gcm_ABYTES) {
            return CRYPTOCB_UNAVAILABLE;
        }
        crypto_aead_aes256gcm_encrypt_detached(
            info->cipher.aesgcm_enc.out, info->cipher.aesgcm_enc.authTag,
            &maclen, info->cipher.aesgcm_enc.in, info->cipher.aesgcm_enc.sz,
            info->cipher.aesgcm_enc.authIn, info->cipher.aesgcm_enc.authInSz,
            NULL, info->cipher.aesgcm_enc.iv,
            (const unsigned char *)aes->devKey);
        return 0;
    } else {
        const Aes *aes = info->cipher.aesgcm_dec.aes;
        if (aes->keylen != crypto_aead_aes256gcm_KEYBYTES ||
            info->cipher.aesgcm_dec.ivSz != crypto_aead_aes256gcm_NPUBBYTES ||
            info->cipher.aesgcm_dec.authTagSz != crypto_aead_aes256gcm_ABYTES) {
            return CRYPTOCB_UNAVAILABLE;
        }
        /* SECURITY: libsodium writes no plaintext unless the tag verifies;
         * a forged record fails exactly as in wolfSSL's own code. */
        if (crypto_aead_aes256gcm_decrypt_detached(
                info->cipher.aesgcm_dec.out, NULL, info->cipher.aesgcm_dec.in,
                info->cipher.aesgcm_dec.sz, info->cipher.aesgcm_dec.authTag,
                info->cipher.aesgcm_dec.authIn,
                info->cipher.aesgcm_dec.authInSz, info->cipher.aesgcm_dec.iv,
                (const unsigned char *)aes->devKey) != 0) {
            return AES_GCM_AUTH_E;
        }
        return 0;
    }
}

const char *secmq__tls_lib_version(void)
{
    return wolfSSL_lib_version();
}

int secmq__tls_global_init(void)
{
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        return -1;
    }
    /* Called after sodium_init(). SECMQ_NO_SODIUM_AES=1 turns this off
     * (benchmarks, and a way out should it ever misbehave). */
    if (crypto_aead_aes256gcm_is_available() &&
        getenv("SECMQ_NO_SODIUM_AES") == NULL &&
        wc_CryptoCb_RegisterDevice(SODIUM_AES_DEVID, aes_gcm_cb, NULL) == 0) {
        sodium_aes = 1;
    }
    return 0;
}

void secmq__tls_thread_cleanup(void)
{
#ifdef FP_ECC
    /* Debian's wolfSSL keeps a per-thread cache of ECC fixed points, which
     * leaks when a thread exits without freeing it. */
    wc_ecc_fp_free();
#endif
}

static int is_ip_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static const char *wolf_reason(int code, char *buf, size_t len)
{
    wolfSSL_ERR_error_string_n((unsigned long)code, buf, len);
    return buf;
}

/* A readable file, or an error naming it. */
static int check_readable(const char *what, const char *path, secmq__err *err)
{
    if (access(path, R_OK) != 0) {
        return secmq__err_set(err, SECMQ_E_IO, "TLS: cannot read %s '%s': %s",
                              what, path, strerror(errno));
    }
    return SECMQ_OK;
}

static int load_trust(secmq__tls_ctx *ctx, const secmq_tls_config *cfg,
                      secmq__err *err)
{
    char desc[512];
    int rc;

    if (cfg->cafile != NULL || cfg->capath != NULL) {
        if (cfg->cafile != NULL &&
            (rc = check_readable("CA file", cfg->cafile, err)) != SECMQ_OK) {
            return rc;
        }
        if (cfg->capath != NULL &&
            (rc = check_readable("CA directory", cfg->capath, err)) !=
                SECMQ_OK) {
            return rc;
        }
        /* A CA directory may hold files that are not certificates. */
        if (wolfSSL_CTX_load_verify_locations_ex(
                ctx->ssl_ctx, cfg->cafile, cfg->capath,
                WOLFSSL_LOAD_FLAG_IGNORE_ERR) != WOLFSSL_SUCCESS) {
            return secmq__err_set(err, SECMQ_E_TLS,
                                  "TLS: no CA certificate could be loaded from "
                                  "%s%s%s",
                                  cfg->cafile ? cfg->cafile : "",
                                  cfg->cafile && cfg->capath ? " and " : "",
                                  cfg->capath ? cfg->capath : "");
        }
        snprintf(desc, sizeof desc, "%s%s%s", cfg->cafile ? cfg->cafile : "",
                 cfg->cafile && cfg->capath ? ", " : "",
                 cfg->capath ? cfg->capath : "");
    } else {
        if ((rc = check_readable("system CA file", system_ca_file, err)) !=
            SECMQ_OK) {
            return rc;
        }
        if (wolfSSL_CTX_load_verify_locations(ctx->ssl_ctx, system_ca_file,
                                              NULL) != WOLFSSL_SUCCESS) {
            return secmq__err_set(err, SECMQ_E_TLS,
                                  "TLS: cannot load the system CAs from %s",
                                  system_ca_file);
        }
        snprintf(desc, sizeof desc, "system CAs");
    }
    return secmq__strdup_opt(&ctx->trust, desc) == 0 ? SECMQ_OK : SECMQ_E_NOMEM;
}

/* The broker asked for a client certificate and we have one (wolfSSL's
 * certificate set-up callback; 1 = go on with the loaded one). */
static int cert_asked_cb(WOLFSSL *ssl, void *arg)
{
    secmq__tls_conn *conn = wolfSSL_GetIOReadCtx(ssl);

    (void)arg;
    if (conn != NULL) {
        conn->cert_requested = 1;
    }
    return 1;
}

/* The broker asked for a client certificate and none is configured
 * (OpenSSL-style client certificate callback; 0 = send none). */
static int no_cert_cb(WOLFSSL *ssl, WOLFSSL_X509 **x509,
                      WOLFSSL_EVP_PKEY **pkey)
{
    secmq__tls_conn *conn = wolfSSL_GetIOReadCtx(ssl);

    (void)x509;
    (void)pkey;
    if (conn != NULL) {
        conn->cert_requested = 1;
    }
    return 0;
}

static int load_client_cert(secmq__tls_ctx *ctx, const secmq_tls_config *cfg,
                            secmq__err *err)
{
    int rc;

    if (cfg->certfile == NULL && cfg->keyfile == NULL) {
        /* Only told when no certificate is loaded: wolfSSL 5.5.4 would
         * try to sign with a missing key if the set-up callback were
         * installed without one. */
        wolfSSL_CTX_set_client_cert_cb(ctx->ssl_ctx, no_cert_cb);
        return SECMQ_OK;
    }
    if (cfg->certfile == NULL || cfg->keyfile == NULL) {
        return secmq__err_set(err, SECMQ_E_INVAL,
                              "TLS: a client certificate needs both a "
                              "certificate file and a key file");
    }
    if ((rc = check_readable("client certificate", cfg->certfile, err)) !=
            SECMQ_OK ||
        (rc = check_readable("client key", cfg->keyfile, err)) != SECMQ_OK) {
        return rc;
    }
    if (wolfSSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cfg->certfile) !=
        WOLFSSL_SUCCESS) {
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: '%s' is not a PEM certificate chain",
                              cfg->certfile);
    }
    if (wolfSSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, cfg->keyfile,
                                        WOLFSSL_FILETYPE_PEM) !=
        WOLFSSL_SUCCESS) {
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: '%s' is not a PEM private key",
                              cfg->keyfile);
    }
    if (wolfSSL_CTX_check_private_key(ctx->ssl_ctx) != WOLFSSL_SUCCESS) {
        return secmq__err_set(err, SECMQ_E_TLS,
                              "TLS: key '%s' does not match certificate '%s'",
                              cfg->keyfile, cfg->certfile);
    }
    wolfSSL_CTX_set_cert_cb(ctx->ssl_ctx, cert_asked_cb, NULL);
    if (secmq__strdup_opt(&ctx->certfile, cfg->certfile) != 0) {
        return secmq__err_set(err, SECMQ_E_NOMEM, "out of memory");
    }
    return SECMQ_OK;
}

int secmq__tls_ctx_new(secmq__tls_ctx **out, const secmq_tls_config *cfg,
                       const char *host, int port, const secmq__log *log,
                       secmq__err *err)
{
    secmq__tls_ctx *ctx;
    int rc = SECMQ_E_NOMEM;
    int minv;
    const char *ciphers = cfg->ciphers;

    *out = NULL;
    ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        return secmq__err_set(err, SECMQ_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->port = port;
    ctx->insecure = cfg->insecure;
    ctx->has_pin = cfg->has_pin;
    memcpy(ctx->pin, cfg->pin_sha256, SECMQ_PIN_BYTES);
    ctx->log = log;
    if (secmq__strdup_opt(&ctx->host, host) != 0 ||
        secmq__strdup_opt(&ctx->server_name,
                          cfg->server_name ? cfg->server_name : host) != 0) {
        secmq__err_set(err, rc, "out of memory");
        goto err;
    }
    ctx->ssl_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (ctx->ssl_ctx == NULL) {
        secmq__err_set(err, rc, "TLS: cannot create a wolfSSL context");
        goto err;
    }
    minv =
        cfg->min_version == SECMQ_TLS_1_3 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
    if (sodium_aes) {
        wolfSSL_CTX_SetDevId(ctx->ssl_ctx, SODIUM_AES_DEVID);
    }
    if (cfg->ciphers == NULL) {
        ciphers = sodium_aes ? ciphers_aes_first : ciphers_chacha_first;
    }
    if (wolfSSL_CTX_SetMinVersion(ctx->ssl_ctx, minv) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(ctx->ssl_ctx, ciphers) != WOLFSSL_SUCCESS) {
        rc = secmq__err_set(err, SECMQ_E_INVAL,
                            "TLS: unsupported minimum version or cipher list");
        goto err;
    }
    /* SECURITY: the broker's certificate chain is always verified; the
     * insecure switch only skips the host name comparison. */
    wolfSSL_CTX_set_verify(ctx->ssl_ctx, WOLFSSL_VERIFY_PEER, NULL);
    if ((rc = load_trust(ctx, cfg, err)) != SECMQ_OK ||
        (rc = load_client_cert(ctx, cfg, err)) != SECMQ_OK) {
        goto err;
    }
    *out = ctx;
    return SECMQ_OK;
err:
    secmq__tls_ctx_free(ctx);
    return rc;
}

void secmq__tls_ctx_free(secmq__tls_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    if (ctx->session != NULL) {
        wolfSSL_SESSION_free(ctx->session);
    }
    if (ctx->ssl_ctx != NULL) {
        wolfSSL_CTX_free(ctx->ssl_ctx);
    }
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->host);
    free(ctx->server_name);
    free(ctx->trust);
    free(ctx->certfile);
    free(ctx);
}

/* What the broker told us, or did, about our client certificate. */
static secmq__tls_peer_view peer_view(const secmq__tls_conn *conn)
{
    secmq__tls_peer_view v;

    v.certfile = conn->ctx->certfile;
    v.cert_requested = conn->cert_requested;
    return v;
}

/* Turn a fatal alert from the broker into a code and a sentence. */
static int map_alert(secmq__tls_conn *conn, int wolf_code)
{
    WOLFSSL_ALERT_HISTORY h;
    secmq__tls_peer_view v = peer_view(conn);
    char buf[128];

    memset(&h, 0, sizeof h);
    wolfSSL_get_alert_history(conn->ssl, &h);
    return secmq__tls_explain_alert(
        &v, h.last_rx.code, wolf_reason(wolf_code, buf, sizeof buf), conn->err);
}

/* The broker hung up. Before any application data (its CONNACK), after it
 * asked for a client certificate, that is most likely its verdict on the
 * certificate (see secmq__tls_explain_close). */
static int map_close(secmq__tls_conn *conn, int code, int in_handshake)
{
    secmq__tls_peer_view v = peer_view(conn);

    if (!conn->got_data &&
        secmq__tls_explain_close(&v, conn->err) != SECMQ_OK) {
        return SECMQ_E_TLS;
    }
    if (in_handshake) {
        return secmq__err_set(conn->err, SECMQ_E_TLS,
                              "TLS: the broker closed the connection "
                              "during the handshake (not a TLS port?)");
    }
    if (code == WOLFSSL_ERROR_ZERO_RETURN) {
        return secmq__err_set(conn->err, SECMQ_E_CONN_LOST,
                              "TLS: the broker closed the session");
    }
    return secmq__err_set(conn->err, SECMQ_E_CONN_LOST,
                          "the broker closed the connection");
}

static int map_error(secmq__tls_conn *conn, int e, int in_handshake)
{
    secmq__tls_ctx *ctx = conn->ctx;
    char buf[128];

    switch (e) {
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
    case ASN_SIG_CONFIRM_E:
        return secmq__err_set(conn->err, SECMQ_E_TLS_CA,
                              "TLS: the broker's certificate is not signed by "
                              "a trusted CA (trusted: %s)",
                              ctx->trust);
    case ASN_AFTER_DATE_E:
        return secmq__err_set(conn->err, SECMQ_E_TLS_EXPIRED,
                              "TLS: the broker's certificate has expired");
    case ASN_BEFORE_DATE_E:
        return secmq__err_set(conn->err, SECMQ_E_TLS_EXPIRED,
                              "TLS: the broker's certificate is not valid yet "
                              "(check the clock)");
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
        return secmq__err_set(conn->err, SECMQ_E_TLS_HOSTNAME,
                              "TLS: host name mismatch: the broker's "
                              "certificate is not valid for '%s'",
                              ctx->server_name);
    case FATAL_ERROR:
        return map_alert(conn, e);
    case VERSION_ERROR:
        return secmq__err_set(conn->err, SECMQ_E_TLS,
                              "TLS: the broker did not answer with TLS (is "
                              "port %d a TLS listener?)",
                              ctx->port);
    case MATCH_SUITE_ERROR:
        return secmq__err_set(conn->err, SECMQ_E_TLS,
                              "TLS: no cipher suite in common with the broker");
    case WOLFSSL_ERROR_ZERO_RETURN:
    case SOCKET_PEER_CLOSED_E:
    case SOCKET_ERROR_E:
        return map_close(conn, e, in_handshake);
    default:
        return secmq__err_set(conn->err, SECMQ_E_TLS, "TLS: %s (wolfSSL %d)",
                              wolf_reason(e, buf, sizeof buf), e);
    }
}

/* SHA-256 of the DER SubjectPublicKeyInfo of cert. 0 or -1. */
static int spki_sha256(WOLFSSL_X509 *cert, unsigned char out[32])
{
    WOLFSSL_EVP_PKEY *pk = wolfSSL_X509_get_pubkey(cert);
    unsigned char *der = NULL, *p;
    int n, rc = -1;

    if (pk == NULL) {
        return -1;
    }
    n = wolfSSL_i2d_PUBKEY(pk, NULL);
    if (n <= 0 || (der = malloc((size_t)n)) == NULL) {
        goto err;
    }
    p = der;
    if (wolfSSL_i2d_PUBKEY(pk, &p) != n) {
        goto err;
    }
    crypto_hash_sha256(out, der, (unsigned long long)n);
    rc = 0;
err:
    free(der);
    wolfSSL_EVP_PKEY_free(pk);
    return rc;
}

/* The checks wolfSSL does not do for us: host name and pin. */
static int check_peer(secmq__tls_conn *conn)
{
    secmq__tls_ctx *ctx = conn->ctx;
    WOLFSSL_X509 *peer = wolfSSL_get_peer_certificate(conn->ssl);
    unsigned char hash[32];
    int rc = SECMQ_OK;

    if (peer == NULL) {
        return secmq__err_set(conn->err, SECMQ_E_TLS,
                              "TLS: the broker sent no certificate");
    }
    if (!ctx->insecure) {
        int ok;
        /* SECURITY: an IP literal is matched against IP SANs only, a name
         * against DNS SANs (and CN), never one against the other. */
        if (is_ip_literal(ctx->server_name)) {
            ok = wolfSSL_X509_check_ip_asc(peer, ctx->server_name, 0) == 1;
        } else {
            ok =
                wolfSSL_X509_check_host(peer, ctx->server_name,
                                        strlen(ctx->server_name), 0, NULL) == 1;
        }
        if (!ok) {
            rc = map_error(conn, DOMAIN_NAME_MISMATCH, 1);
            goto out;
        }
    }
    if (ctx->has_pin) {
        if (spki_sha256(peer, hash) != 0) {
            rc = secmq__err_set(conn->err, SECMQ_E_TLS,
                                "TLS: cannot read the broker's public key");
            goto out;
        }
        if (sodium_memcmp(hash, ctx->pin, sizeof hash) != 0) {
            char b64[64];
            sodium_bin2base64(b64, sizeof b64, hash, sizeof hash,
                              sodium_base64_VARIANT_ORIGINAL);
            rc = secmq__err_set(conn->err, SECMQ_E_TLS_PIN,
                                "TLS: the broker's public key does not match "
                                "the pin (it is sha256:%s)",
                                b64);
            goto out;
        }
    }
out:
    wolfSSL_X509_free(peer);
    return rc;
}

static int handshake(secmq__tls_conn *conn, int64_t deadline_ms)
{
    for (int rounds = 0; rounds < 10000; rounds++) {
        int r = wolfSSL_connect(conn->ssl);
        int e, wrc;

        if (r == WOLFSSL_SUCCESS) {
            return SECMQ_OK;
        }
        e = wolfSSL_get_error(conn->ssl, r);
        if (e == WOLFSSL_ERROR_WANT_READ) {
            wrc = secmq__net_wait(conn->fd, POLLIN, deadline_ms);
        } else if (e == WOLFSSL_ERROR_WANT_WRITE) {
            wrc = secmq__net_wait(conn->fd, POLLOUT, deadline_ms);
        } else {
            return map_error(conn, e, 1);
        }
        if (wrc == SECMQ_E_TIMEOUT) {
            return secmq__err_set(conn->err, SECMQ_E_TIMEOUT,
                                  "TLS: handshake with %s port %d timed out",
                                  conn->ctx->host, conn->ctx->port);
        }
        if (wrc != SECMQ_OK) {
            return secmq__err_set(conn->err, SECMQ_E_IO,
                                  "TLS: waiting for the broker: %s",
                                  strerror(errno));
        }
    }
    return secmq__err_set(conn->err, SECMQ_E_TLS,
                          "TLS: handshake did not finish");
}

static int dial_locked(secmq__tls_ctx *ctx, int64_t deadline_ms,
                       secmq__tls_conn **out, secmq__err *err)
{
    secmq__tls_conn *conn;
    int rc;

    conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        return secmq__err_set(err, SECMQ_E_NOMEM, "out of memory");
    }
    conn->ctx = ctx;
    conn->err = err;
    conn->fd = -1;
    rc = secmq__net_connect(ctx->host, ctx->port, deadline_ms, &conn->fd, err);
    if (rc != SECMQ_OK) {
        goto err;
    }
    conn->ssl = wolfSSL_new(ctx->ssl_ctx);
    if (conn->ssl == NULL) {
        rc = secmq__err_set(err, SECMQ_E_NOMEM, "TLS: cannot create session");
        goto err;
    }
    wolfSSL_set_fd(conn->ssl, conn->fd);
    wolfSSL_SSLSetIOSend(conn->ssl, secmq__tls_io_send);
    wolfSSL_SetIOWriteCtx(conn->ssl, conn);
    wolfSSL_SSLSetIORecv(conn->ssl, secmq__tls_io_recv);
    wolfSSL_SetIOReadCtx(conn->ssl, conn);
    /* X25519 first: the cheapest key share, and what OpenSSL prefers, so
     * no HelloRetryRequest round trip. */
    wolfSSL_UseKeyShare(conn->ssl, WOLFSSL_ECC_X25519);
    if (!is_ip_literal(ctx->server_name)) {
        wolfSSL_UseSNI(conn->ssl, WOLFSSL_SNI_HOST_NAME, ctx->server_name,
                       (unsigned short)strlen(ctx->server_name));
    }
    if (ctx->session != NULL) {
        wolfSSL_set_session(conn->ssl, ctx->session);
    }
    if ((rc = handshake(conn, deadline_ms)) != SECMQ_OK ||
        (rc = check_peer(conn)) != SECMQ_OK) {
        goto err;
    }
    conn->resumed = wolfSSL_session_reused(conn->ssl) ? 1 : 0;
    ctx->handshakes++;
    if (ctx->insecure) {
        secmq__log_write(ctx->log, SECMQ_LOG_WARNING,
                         "INSECURE: host name verification is disabled; any "
                         "certificate from a trusted CA is accepted for '%s'",
                         ctx->server_name);
    }
    secmq__log_write(ctx->log, SECMQ_LOG_DEBUG, "TLS: %s %s%s to %s port %d",
                     wolfSSL_get_version(conn->ssl),
                     wolfSSL_get_cipher_name(conn->ssl),
                     conn->resumed ? " (resumed)" : "", ctx->host, ctx->port);
    *out = conn;
    return SECMQ_OK;
err:
    if (conn->ssl != NULL) {
        wolfSSL_free(conn->ssl);
    }
    if (conn->fd >= 0) {
        close(conn->fd);
    }
    free(conn);
    return rc;
}

int secmq__tls_dial(secmq__tls_ctx *ctx, int64_t deadline_ms,
                    secmq__tls_conn **out, secmq__err *err)
{
    int rc;

    *out = NULL;
    pthread_mutex_lock(&ctx->lock);
    rc = dial_locked(ctx, deadline_ms, out, err);
    pthread_mutex_unlock(&ctx->lock);
    return rc;
}

void secmq__tls_set_err(secmq__tls_conn *conn, secmq__err *err)
{
    conn->err = err;
}

int secmq__tls_fd(const secmq__tls_conn *conn)
{
    return conn->fd;
}

static int io_result(secmq__tls_conn *conn, int r)
{
    int e = wolfSSL_get_error(conn->ssl, r);

    if (e == WOLFSSL_ERROR_WANT_READ) {
        return SECMQ__TLS_WANT_READ;
    }
    if (e == WOLFSSL_ERROR_WANT_WRITE) {
        return SECMQ__TLS_WANT_WRITE;
    }
    return map_error(conn, e, 0);
}

void secmq__tls_lazy_recv(secmq__tls_conn *conn, int on)
{
    conn->lazy = on;
    conn->drained = 0;
}

void secmq__tls_readable(secmq__tls_conn *conn)
{
    conn->drained = 0;
}

int secmq__tls_read(secmq__tls_conn *conn, void *buf, size_t len, size_t *got)
{
    int r;

    *got = 0;
    r = wolfSSL_read(conn->ssl, buf, len > 0x40000000 ? 0x40000000 : (int)len);
    if (r > 0) {
        *got = (size_t)r;
        conn->got_data = 1;
        return SECMQ_OK;
    }
    return io_result(conn, r);
}

/* The gathered records could not all be sent: WANT_WRITE, or the broker
 * is gone (as wolfSSL would have said it). */
static int flush_result(secmq__tls_conn *conn, int r)
{
    if (r == WOLFSSL_CBIO_ERR_WANT_WRITE || r == WOLFSSL_CBIO_ERR_ISR) {
        return SECMQ__TLS_WANT_WRITE;
    }
    return map_close(conn, SOCKET_ERROR_E, 0);
}

int secmq__tls_write(secmq__tls_conn *conn, const void *buf, size_t len)
{
    int r;

    if (len > 0x40000000) {
        return SECMQ_E_INVAL;
    }
    if (conn->accepted) {
        /* The caller retries the write wolfSSL already took whole (see
         * tls_int.h): only its records' sending was left. */
        if ((r = secmq__tls_flush(conn)) != 0) {
            return flush_result(conn, r);
        }
        conn->accepted = 0;
        return SECMQ_OK;
    }
    conn->gather = 1;
    r = wolfSSL_write(conn->ssl, buf, (int)len);
    conn->gather = 0;
    if (r == (int)len) {
        int f = secmq__tls_flush(conn);
        if (f != 0) {
            conn->accepted = 1;
            return flush_result(conn, f);
        }
        return SECMQ_OK;
    }
    return io_result(conn, r);
}

void secmq__tls_close(secmq__tls_conn *conn)
{
    secmq__tls_ctx *ctx;
    WOLFSSL_SESSION *s;

    if (conn == NULL) {
        return;
    }
    ctx = conn->ctx;
    /* TLS 1.3 tickets arrive after the handshake, so the session is kept
     * now, at the end, for the next dial to resume. */
    s = wolfSSL_get1_session(conn->ssl);
    pthread_mutex_lock(&ctx->lock);
    if (s != NULL) {
        if (ctx->session != NULL) {
            wolfSSL_SESSION_free(ctx->session);
        }
        ctx->session = s;
    }
    pthread_mutex_unlock(&ctx->lock);
    wolfSSL_shutdown(conn->ssl); /* non-blocking socket: never waits */
    wolfSSL_free(conn->ssl);
    close(conn->fd);
    free(conn);
}

void secmq__tls_info(const secmq__tls_ctx *ctx, const secmq__tls_conn *conn,
                     secmq_tls_info *info)
{
    memset(info, 0, sizeof *info);
    info->handshakes = ctx->handshakes;
    if (conn == NULL) {
        return;
    }
    snprintf(info->version, sizeof info->version, "%s",
             wolfSSL_get_version(conn->ssl));
    snprintf(info->cipher, sizeof info->cipher, "%s",
             wolfSSL_get_cipher_name(conn->ssl));
    info->resumed = conn->resumed;
}
