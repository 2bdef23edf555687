/* certgen.c -- the cryptography of secmq-certs, through wolfCrypt: P-256
 * keys, X.509 v3 certificates for a development CA, servers and clients, and
 * SubjectPublicKeyInfo pins. The only file of the tool that sees wolfSSL;
 * files are written by certfile.c, arguments parsed by secmq-certs.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "certgen.h"
#include "certgen_int.h"

/* options.h first: it carries the configuration the library was built with,
 * which decides the layout of Cert and ecc_key. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CERT_DER_MAX 4096
#define CERT_PEM_MAX 8192
#define KEY_DER_MAX 512
#define KEY_PEM_MAX 1024
#define INPUT_MAX 65536 /* largest ca.crt, ca.key or pin input we read */
#define SERIAL_BYTES 16
#define SKEW_SECONDS 3600 /* normal certs start an hour in the past */
#define DAY_SECONDS 86400
#define P256_BYTES 32

#define ASN1_UTCTIME 0x17
#define ASN1_GENTIME 0x18
#define GN_DNS 0x82 /* GeneralName [2] IMPLICIT IA5String */
#define GN_IP 0x87  /* GeneralName [7] IMPLICIT OCTET STRING */

static int crypto_ready;

void certgen__seterr(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_size == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* wolfCrypt's text for a negative return, never NULL. */
static const char *wolf_reason(int ret)
{
    const char *s = wc_GetErrorString(ret);

    return s != NULL ? s : "unknown wolfCrypt error";
}

int certgen_init(char *err, size_t err_size)
{
    int ret;

    if (sodium_init() < 0) {
        certgen__seterr(err, err_size, "libsodium initialisation failed");
        return CERTGEN_E_CRYPTO;
    }
    ret = wolfCrypt_Init();
    if (ret != 0) {
        certgen__seterr(err, err_size, "wolfCrypt initialisation failed: %s",
                        wolf_reason(ret));
        return CERTGEN_E_CRYPTO;
    }
    crypto_ready = 1;
    return CERTGEN_OK;
}

void certgen_cleanup(void)
{
    if (crypto_ready) {
        (void)wolfCrypt_Cleanup();
        crypto_ready = 0;
    }
}

/* ---- certificates in, keys ----------------------------------------------- */

/* Converts a PEM certificate (the first one in the text) or a DER one to DER
 * in der (cap bytes). Returns CERTGEN_OK or CERTGEN_E_FORMAT. */
static int cert_to_der(const char *path, const unsigned char *in, size_t in_len,
                       unsigned char *der, size_t cap, size_t *der_len,
                       char *err, size_t err_size)
{
    size_t off, len;
    int n;

    n = wc_CertPemToDer(in, (int)in_len, der, (int)cap, CERT_TYPE);
    if (n > 0) {
        *der_len = (size_t)n;
    } else if (in_len > 0 && in_len <= cap && in[0] == CERTGEN_ASN1_SEQUENCE) {
        memcpy(der, in, in_len);
        *der_len = in_len;
    } else {
        certgen__seterr(err, err_size, "%s: no PEM or DER certificate found",
                        path);
        return CERTGEN_E_FORMAT;
    }
    if (certgen__spki_locate(der, *der_len, &off, &len) != 0) {
        certgen__seterr(err, err_size, "%s: malformed certificate", path);
        return CERTGEN_E_FORMAT;
    }
    return CERTGEN_OK;
}

/* Reads the certificate file path, PEM or DER, into der as cert_to_der()
 * does; buf (INPUT_MAX bytes, the caller's) holds the file on the way. */
static int cert_read(const char *path, unsigned char *buf, unsigned char *der,
                     size_t cap, size_t *der_len, char *err, size_t err_size)
{
    size_t len = 0;
    int rc;

    rc = certgen__file_read(path, buf, INPUT_MAX, &len, err, err_size);
    if (rc != CERTGEN_OK)
        return rc;
    return cert_to_der(path, buf, len, der, cap, der_len, err, err_size);
}

static int key_generate(WC_RNG *rng, ecc_key *key, char *err, size_t err_size)
{
    int ret = wc_ecc_make_key_ex(rng, P256_BYTES, key, ECC_SECP256R1);

    if (ret != 0) {
        certgen__seterr(err, err_size, "P-256 key generation failed: %s",
                        wolf_reason(ret));
        return CERTGEN_E_CRYPTO;
    }
    return CERTGEN_OK;
}

/* Encodes key as a PEM "EC PRIVATE KEY" (SEC 1) into pem (cap bytes).
 * SECURITY: the intermediate DER is wiped; the caller wipes pem. */
static int key_to_pem(ecc_key *key, unsigned char *pem, size_t cap,
                      size_t *pem_len, char *err, size_t err_size)
{
    unsigned char der[KEY_DER_MAX];
    int n, rc = CERTGEN_E_CRYPTO;

    n = wc_EccKeyToDer(key, der, (word32)sizeof(der));
    if (n <= 0) {
        certgen__seterr(err, err_size, "cannot encode private key: %s",
                        wolf_reason(n));
        goto err;
    }
    n = wc_DerToPem(der, (word32)n, pem, (word32)cap, ECC_PRIVATEKEY_TYPE);
    if (n <= 0) {
        certgen__seterr(err, err_size, "cannot PEM-encode private key: %s",
                        wolf_reason(n));
        goto err;
    }
    *pem_len = (size_t)n;
    rc = CERTGEN_OK;
err:
    sodium_memzero(der, sizeof(der));
    return rc;
}

/* Loads dir/ca.crt into ca_der and dir/ca.key into key (initialised by the
 * caller, who frees it), and checks that they belong together and that the
 * key is P-256.
 * SECURITY: every buffer that held the private key is wiped. */
static int ca_load(const char *dir, ecc_key *key, unsigned char *ca_der,
                   size_t ca_cap, size_t *ca_len, char *err, size_t err_size)
{
    char crt_path[PATH_MAX], key_path[PATH_MAX];
    unsigned char *buf = NULL;
    unsigned char key_der[KEY_DER_MAX * 4];
    unsigned char spki[256];
    size_t len = 0, spki_off = 0, spki_len = 0;
    word32 idx = 0;
    int n, ret, rc;

    rc = certgen__path_join(crt_path, sizeof(crt_path), dir, "ca", ".crt", err,
                            err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = certgen__path_join(key_path, sizeof(key_path), dir, "ca", ".key", err,
                            err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = CERTGEN_E_IO;
    if (access(crt_path, F_OK) != 0 && errno == ENOENT) {
        certgen__seterr(err, err_size,
                        "no CA in %s (%s missing): run 'secmq-certs ca --dir "
                        "%s' first",
                        dir, crt_path, dir);
        goto err;
    }
    buf = malloc(INPUT_MAX);
    if (buf == NULL) {
        certgen__seterr(err, err_size, "out of memory");
        goto err;
    }

    rc = cert_read(crt_path, buf, ca_der, ca_cap, ca_len, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;

    rc = certgen__file_read(key_path, buf, INPUT_MAX, &len, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = CERTGEN_E_FORMAT;
    n = wc_KeyPemToDer(buf, (int)len, key_der, (int)sizeof(key_der), NULL);
    if (n <= 0) {
        certgen__seterr(err, err_size,
                        "%s: no unencrypted PEM private key found", key_path);
        goto err;
    }
    ret = wc_EccPrivateKeyDecode(key_der, &idx, key, (word32)n);
    if (ret != 0) {
        certgen__seterr(err, err_size, "%s: not an EC private key: %s",
                        key_path, wolf_reason(ret));
        goto err;
    }
    if (key->dp == NULL || key->dp->id != ECC_SECP256R1) {
        certgen__seterr(err, err_size, "%s: not a P-256 key", key_path);
        goto err;
    }
    if (key->type == ECC_PRIVATEKEY_ONLY) {
        ret = wc_ecc_make_pub(key, NULL);
        if (ret != 0) {
            certgen__seterr(err, err_size, "%s: cannot derive public key: %s",
                            key_path, wolf_reason(ret));
            rc = CERTGEN_E_CRYPTO;
            goto err;
        }
    }

    /* The CA key must be the one in the CA certificate, or every leaf it
     * signs would fail verification much later and far from the cause. */
    n = wc_EccPublicKeyToDer(key, spki, (word32)sizeof(spki), 1);
    if (n <= 0) {
        certgen__seterr(err, err_size, "cannot encode CA public key: %s",
                        wolf_reason(n));
        rc = CERTGEN_E_CRYPTO;
        goto err;
    }
    (void)certgen__spki_locate(ca_der, *ca_len, &spki_off, &spki_len);
    if ((size_t)n != spki_len || memcmp(spki, ca_der + spki_off, spki_len)) {
        certgen__seterr(err, err_size, "%s does not belong to %s", key_path,
                        crt_path);
        goto err;
    }
    rc = CERTGEN_OK;
err:
    sodium_memzero(key_der, sizeof(key_der));
    if (buf != NULL) {
        sodium_memzero(buf, INPUT_MAX);
        free(buf);
    }
    return rc;
}

/* ---- certificate fields -------------------------------------------------- */

/* Encodes t as a complete DER Time (tag, length, value) into out, which
 * holds CTC_DATE_SIZE bytes: UTCTime through 2049, GeneralizedTime after, as
 * RFC 5280 4.1.2.5 asks. Returns the encoded size, or -1. */
static int time_encode(time_t t, unsigned char *out)
{
    struct tm tm;
    char txt[64];
    long year;
    int n;

    if (gmtime_r(&t, &tm) == NULL)
        return -1;
    year = (long)tm.tm_year + 1900L;
    if (year >= 1950 && year < 2050) {
        n = snprintf(txt, sizeof(txt), "%02ld%02d%02d%02d%02d%02dZ", year % 100,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
        if (n != 13)
            return -1;
        out[0] = ASN1_UTCTIME;
    } else if (year >= 0 && year <= 9999) {
        n = snprintf(txt, sizeof(txt), "%04ld%02d%02d%02d%02d%02dZ", year,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
        if (n != 15)
            return -1;
        out[0] = ASN1_GENTIME;
    } else {
        return -1;
    }
    out[1] = (unsigned char)n;
    memcpy(out + 2, txt, (size_t)n);
    return n + 2;
}

/* Sets an explicit validity. wolfSSL copies beforeDate/afterDate verbatim
 * when both are set, instead of deriving them from daysValid. */
static int validity_set(Cert *cert, int days, int expired, char *err,
                        size_t err_size)
{
    time_t now = time(NULL), before, after;
    int n;

    if (now == (time_t)-1) {
        certgen__seterr(err, err_size, "cannot read the clock");
        return CERTGEN_E_IO;
    }
    if (expired) {
        before = now - 2 * (time_t)DAY_SECONDS;
        after = now - (time_t)DAY_SECONDS;
    } else {
        /* Tolerate peers whose clocks run a little behind ours. */
        before = now - (time_t)SKEW_SECONDS;
        after = now + (time_t)days * (time_t)DAY_SECONDS;
    }
    n = time_encode(before, cert->beforeDate);
    if (n < 0)
        goto bad;
    cert->beforeDateSz = n;
    n = time_encode(after, cert->afterDate);
    if (n < 0)
        goto bad;
    cert->afterDateSz = n;
    cert->daysValid = expired ? 1 : days;
    return CERTGEN_OK;
bad:
    certgen__seterr(err, err_size, "validity date out of range");
    return CERTGEN_E_INVAL;
}

/* Returns 1 if s is a usable DNS name: labels of letters, digits and '-' of
 * 1..63 characters, at most 253 in all, optionally "*." in front. */
static int dns_name_ok(const char *s)
{
    size_t len = strlen(s), i, label = 0;

    if (len == 0 || len > 253)
        return 0;
    i = 0;
    if (len > 2 && s[0] == '*' && s[1] == '.')
        i = 2;
    for (; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!certgen__is_alnum(s[i]) && s[i] != '-')
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0;
}

/* One subjectAltName entry, validated and in wire form. */
typedef struct san {
    unsigned char tag;
    unsigned char ip[16];
    const unsigned char *value;
    size_t len;
} san;

static int san_parse(san *out, const char *text, int is_ip, char *err,
                     size_t err_size)
{
    unsigned char probe[16];

    if (is_ip) {
        out->tag = GN_IP;
        if (inet_pton(AF_INET, text, out->ip) == 1) {
            out->len = 4;
        } else if (inet_pton(AF_INET6, text, out->ip) == 1) {
            out->len = 16;
        } else {
            certgen__seterr(err, err_size,
                            "'%s' is not an IPv4 or IPv6 address", text);
            return CERTGEN_E_INVAL;
        }
        out->value = out->ip;
        return CERTGEN_OK;
    }
    if (inet_pton(AF_INET, text, probe) == 1 ||
        inet_pton(AF_INET6, text, probe) == 1) {
        certgen__seterr(err, err_size, "'%s' is an address: use --ip for it",
                        text);
        return CERTGEN_E_INVAL;
    }
    if (!dns_name_ok(text)) {
        certgen__seterr(err, err_size, "'%s' is not a valid DNS name", text);
        return CERTGEN_E_INVAL;
    }
    out->tag = GN_DNS;
    out->value = (const unsigned char *)text;
    out->len = strlen(text);
    return CERTGEN_OK;
}

/* Fills cert->altNames with the GeneralNames SEQUENCE for a server leaf. */
static int altnames_set(Cert *cert, const certgen_leaf *leaf, char *err,
                        size_t err_size)
{
    static const char *const default_dns[] = {"localhost"};
    static const char *const default_ips[] = {"127.0.0.1", "::1"};
    const char *const *dns = leaf->dns, *const *ips = leaf->ips;
    size_t n_dns = leaf->n_dns, n_ips = leaf->n_ips;
    san sans[CERTGEN_SAN_MAX];
    size_t n = 0, i, body = 0, pos = 0;
    int rc;

    if (n_dns == 0 && n_ips == 0) {
        dns = default_dns;
        n_dns = sizeof(default_dns) / sizeof(default_dns[0]);
        ips = default_ips;
        n_ips = sizeof(default_ips) / sizeof(default_ips[0]);
    }
    if (n_dns > CERTGEN_SAN_MAX || n_ips > CERTGEN_SAN_MAX - n_dns) {
        certgen__seterr(err, err_size, "more than %d --dns/--ip entries",
                        CERTGEN_SAN_MAX);
        return CERTGEN_E_INVAL;
    }
    for (i = 0; i < n_dns; i++) {
        rc = san_parse(&sans[n], dns[i], 0, err, err_size);
        if (rc != CERTGEN_OK)
            return rc;
        body += certgen__der_header_size(sans[n].len) + sans[n].len;
        n++;
    }
    for (i = 0; i < n_ips; i++) {
        rc = san_parse(&sans[n], ips[i], 1, err, err_size);
        if (rc != CERTGEN_OK)
            return rc;
        body += certgen__der_header_size(sans[n].len) + sans[n].len;
        n++;
    }
    /* At most 32 entries of at most 257 bytes: always below both limits. */
    if (body >= 0x10000 ||
        certgen__der_header_size(body) + body > CTC_MAX_ALT_SIZE) {
        certgen__seterr(err, err_size, "subjectAltName too large");
        return CERTGEN_E_INVAL;
    }
    certgen__der_put_header(cert->altNames, &pos, CERTGEN_ASN1_SEQUENCE, body);
    for (i = 0; i < n; i++) {
        certgen__der_put_header(cert->altNames, &pos, sans[i].tag, sans[i].len);
        memcpy(cert->altNames + pos, sans[i].value, sans[i].len);
        pos += sans[i].len;
    }
    cert->altNamesSz = (int)pos;
    return CERTGEN_OK;
}

/* Fills cert->serial with 16 random bytes, top bit clear (a positive
 * INTEGER) and first byte nonzero (so it stays 16 bytes long in DER). */
static int serial_set(Cert *cert, WC_RNG *rng, char *err, size_t err_size)
{
    int ret;

    do {
        ret = wc_RNG_GenerateBlock(rng, cert->serial, SERIAL_BYTES);
        if (ret != 0) {
            certgen__seterr(err, err_size, "random number generator failed: %s",
                            wolf_reason(ret));
            return CERTGEN_E_CRYPTO;
        }
        cert->serial[0] &= 0x7f;
    } while (cert->serial[0] == 0);
    cert->serialSz = SERIAL_BYTES;
    return CERTGEN_OK;
}

static int subject_set(Cert *cert, const char *cn, char *err, size_t err_size)
{
    size_t len = strlen(cn), i;

    if (len == 0 || len >= sizeof(cert->subject.commonName)) {
        certgen__seterr(err, err_size, "common name must be 1..%zu bytes",
                        sizeof(cert->subject.commonName) - 1);
        return CERTGEN_E_INVAL;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)cn[i];

        if (c < 0x20 || c == 0x7f) {
            certgen__seterr(err, err_size,
                            "common name contains a control character");
            return CERTGEN_E_INVAL;
        }
    }
    memcpy(cert->subject.commonName, cn, len + 1);
    cert->subject.commonNameEnc = CTC_UTF8;
    return CERTGEN_OK;
}

/* Completes cert (serial, key identifiers, issuer, algorithm), signs it with
 * issuer_key and PEM-encodes it into pem (cap bytes). issuer_der is the
 * issuer's DER certificate, or NULL for a self-signed one. */
static int cert_sign(Cert *cert, WC_RNG *rng, ecc_key *subject_key,
                     ecc_key *issuer_key, const unsigned char *issuer_der,
                     size_t issuer_len, unsigned char *pem, size_t cap,
                     size_t *pem_len, char *err, size_t err_size)
{
    unsigned char der[CERT_DER_MAX];
    const char *step;
    size_t body;
    int ret, rc;

    cert->sigType = CTC_SHA256wECDSA;
    rc = serial_set(cert, rng, err, err_size);
    if (rc != CERTGEN_OK)
        return rc;
    step = "subjectKeyIdentifier";
    ret = wc_SetSubjectKeyIdFromPublicKey_ex(cert, ECC_TYPE, subject_key);
    if (ret != 0)
        goto fail;
    step = "authorityKeyIdentifier";
    ret = wc_SetAuthKeyIdFromPublicKey_ex(cert, ECC_TYPE, issuer_key);
    if (ret != 0)
        goto fail;
    if (issuer_der != NULL) {
        /* Raw copy of the CA's subject: the issuer matches byte for byte,
         * whatever encoding the CA certificate used. */
        cert->selfSigned = 0;
        step = "issuer";
        ret = wc_SetIssuerRaw(cert, issuer_der, (int)issuer_len);
        if (ret != 0)
            goto fail;
    } else {
        cert->selfSigned = 1;
    }
    step = "certificate encoding";
    ret = wc_MakeCert_ex(cert, der, (word32)sizeof(der), ECC_TYPE, subject_key,
                         rng);
    if (ret < 0)
        goto fail;
    body = (size_t)ret;
    if (certgen__tbs_bc_critical(der, sizeof(der), &body) != 0) {
        certgen__seterr(err, err_size, "cannot mark basicConstraints critical");
        return CERTGEN_E_CRYPTO;
    }
    step = "signing";
    ret = wc_SignCert_ex((int)body, cert->sigType, der, (word32)sizeof(der),
                         ECC_TYPE, issuer_key, rng);
    if (ret < 0)
        goto fail;
    step = "PEM encoding";
    ret = wc_DerToPem(der, (word32)ret, pem, (word32)cap, CERT_TYPE);
    if (ret <= 0)
        goto fail;
    *pem_len = (size_t)ret;
    return CERTGEN_OK;
fail:
    certgen__seterr(err, err_size, "%s failed: %s", step, wolf_reason(ret));
    return CERTGEN_E_CRYPTO;
}

static int days_ok(int days, char *err, size_t err_size)
{
    if (days < 1 || days > CERTGEN_DAYS_MAX) {
        certgen__seterr(err, err_size, "days must be 1..%d", CERTGEN_DAYS_MAX);
        return 0;
    }
    return 1;
}

/* Sets keyUsage and, unless ext_usage is NULL, extendedKeyUsage (wolfSSL's
 * comma-separated names). */
static int usage_set(Cert *cert, const char *key_usage, const char *ext_usage,
                     char *err, size_t err_size)
{
    int ret = wc_SetKeyUsage(cert, key_usage);

    if (ret != 0) {
        certgen__seterr(err, err_size, "keyUsage: %s", wolf_reason(ret));
        return CERTGEN_E_CRYPTO;
    }
    if (ext_usage == NULL)
        return CERTGEN_OK;
    ret = wc_SetExtKeyUsage(cert, ext_usage);
    if (ret != 0) {
        certgen__seterr(err, err_size, "extendedKeyUsage: %s",
                        wolf_reason(ret));
        return CERTGEN_E_CRYPTO;
    }
    return CERTGEN_OK;
}

/* ---- one new certificate ------------------------------------------------- */

/* What making one certificate and its key holds, CA or leaf alike: the
 * random generator, the new key, the certificate being filled in and the
 * PEM text of both. issue_begin() sets it up, the caller adds what its role
 * needs, issue_finish() signs and writes, and issue_end() releases it in
 * whatever state it was left. Zero it before issue_begin(). */
typedef struct issue {
    Cert *cert; /* first, so that "= {0}" zeroes the whole struct */
    WC_RNG rng;
    ecc_key key;
    unsigned char key_pem[KEY_PEM_MAX];
    unsigned char crt_pem[CERT_PEM_MAX];
    size_t key_len, crt_len;
    int rng_ready, key_ready;
} issue;

/* Starts a certificate for cn, valid for days (or expired): the random
 * generator, an initialised key and a Cert with subject and validity. On
 * failure is keeps what was set up, for issue_end(). */
static int issue_begin(issue *is, const char *cn, int days, int expired,
                       char *err, size_t err_size)
{
    int ret, rc;

    ret = wc_InitRng(&is->rng);
    if (ret != 0) {
        certgen__seterr(err, err_size, "random number generator: %s",
                        wolf_reason(ret));
        return CERTGEN_E_CRYPTO;
    }
    is->rng_ready = 1;
    if (wc_ecc_init(&is->key) != 0) {
        certgen__seterr(err, err_size, "cannot initialise key");
        return CERTGEN_E_CRYPTO;
    }
    is->key_ready = 1;
    is->cert = wc_CertNew(NULL);
    if (is->cert == NULL) {
        certgen__seterr(err, err_size, "out of memory");
        return CERTGEN_E_CRYPTO;
    }
    rc = subject_set(is->cert, cn, err, err_size);
    if (rc != CERTGEN_OK)
        return rc;
    return validity_set(is->cert, days, expired, err, err_size);
}

/* Generates the new key, signs the certificate with issuer_key (NULL: with
 * the new key itself, self-signed; issuer_der is then NULL as well) and
 * writes dir/stem.key and dir/stem.crt. */
static int issue_finish(issue *is, ecc_key *issuer_key,
                        const unsigned char *issuer_der, size_t issuer_len,
                        const char *dir, const char *stem, unsigned flags,
                        char *err, size_t err_size)
{
    int rc;

    rc = key_generate(&is->rng, &is->key, err, err_size);
    if (rc != CERTGEN_OK)
        return rc;
    rc = cert_sign(is->cert, &is->rng, &is->key,
                   issuer_key != NULL ? issuer_key : &is->key, issuer_der,
                   issuer_len, is->crt_pem, sizeof(is->crt_pem), &is->crt_len,
                   err, err_size);
    if (rc != CERTGEN_OK)
        return rc;
    rc = key_to_pem(&is->key, is->key_pem, sizeof(is->key_pem), &is->key_len,
                    err, err_size);
    if (rc != CERTGEN_OK)
        return rc;
    return certgen__pair_write(dir, stem, is->key_pem, is->key_len, is->crt_pem,
                               is->crt_len, flags, err, err_size);
}

/* Releases is, zeroed, half set up or complete.
 * SECURITY: the private key and its PEM text are wiped. */
static void issue_end(issue *is)
{
    sodium_memzero(is->key_pem, sizeof(is->key_pem));
    if (is->cert != NULL)
        wc_CertFree(is->cert);
    if (is->key_ready)
        wc_ecc_free(&is->key);
    sodium_memzero(&is->key, sizeof(is->key));
    if (is->rng_ready)
        wc_FreeRng(&is->rng);
}

/* ---- public operations --------------------------------------------------- */

int certgen_ca_create(const char *dir, const char *cn, int days, unsigned flags,
                      char *err, size_t err_size)
{
    issue is = {0};
    int rc;

    if (!days_ok(days, err, err_size))
        return CERTGEN_E_INVAL;
    rc = certgen_check_free(dir, "ca", flags, err, err_size);
    if (rc != CERTGEN_OK)
        return rc;

    rc = issue_begin(&is, cn, days, 0, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    is.cert->isCA = 1;
    is.cert->basicConstSet = 1;
    /* The development CA signs leaves directly, never another CA. */
    is.cert->pathLen = 0;
    is.cert->pathLenSet = 1;
    rc = usage_set(is.cert, "keyCertSign,cRLSign", NULL, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = issue_finish(&is, NULL, NULL, 0, dir, "ca", flags, err, err_size);
err:
    issue_end(&is);
    return rc;
}

int certgen_leaf_create(const char *dir, const certgen_leaf *leaf,
                        unsigned flags, char *err, size_t err_size)
{
    issue is = {0};
    ecc_key ca_key;
    unsigned char ca_der[CERT_DER_MAX];
    size_t ca_len = 0;
    int ca_ready = 0, rc;

    if (leaf == NULL || !certgen_name_ok(leaf->name, err, err_size))
        return CERTGEN_E_INVAL;
    if (!leaf->expired && !days_ok(leaf->days, err, err_size))
        return CERTGEN_E_INVAL;
    if (leaf->role == CERTGEN_ROLE_CLIENT && leaf->n_dns + leaf->n_ips > 0) {
        certgen__seterr(err, err_size,
                        "client certificates carry no --dns/--ip");
        return CERTGEN_E_INVAL;
    }
    rc = certgen_check_free(dir, leaf->name, flags, err, err_size);
    if (rc != CERTGEN_OK)
        return rc;

    rc = CERTGEN_E_CRYPTO;
    if (wc_ecc_init(&ca_key) != 0) {
        certgen__seterr(err, err_size, "cannot initialise key");
        goto err;
    }
    ca_ready = 1;
    rc = ca_load(dir, &ca_key, ca_der, sizeof(ca_der), &ca_len, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = issue_begin(&is, leaf->name, leaf->days, leaf->expired, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    if (leaf->role == CERTGEN_ROLE_SERVER) {
        rc = altnames_set(is.cert, leaf, err, err_size);
        if (rc != CERTGEN_OK)
            goto err;
    }
    /* basicConstraints CA:FALSE, stated rather than left implicit. */
    is.cert->isCA = 0;
    is.cert->basicConstSet = 1;
    rc = usage_set(is.cert, "digitalSignature",
                   leaf->role == CERTGEN_ROLE_SERVER ? "serverAuth"
                                                     : "clientAuth",
                   err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    rc = issue_finish(&is, &ca_key, ca_der, ca_len, dir, leaf->name, flags, err,
                      err_size);
err:
    issue_end(&is);
    if (ca_ready)
        wc_ecc_free(&ca_key);
    sodium_memzero(&ca_key, sizeof(ca_key));
    return rc;
}

int certgen_pin(const char *cert_path, char *out, size_t out_size, char *err,
                size_t err_size)
{
    static const char prefix[] = "sha256:";
    unsigned char *buf = NULL;
    unsigned char der[CERT_DER_MAX * 4];
    unsigned char hash[crypto_hash_sha256_BYTES];
    size_t der_len = 0, off = 0, spki_len = 0;
    int rc;

    if (out == NULL || out_size < CERTGEN_PIN_BYTES) {
        certgen__seterr(err, err_size, "pin buffer too small");
        return CERTGEN_E_INVAL;
    }
    buf = malloc(INPUT_MAX);
    if (buf == NULL) {
        certgen__seterr(err, err_size, "out of memory");
        return CERTGEN_E_IO;
    }
    rc = cert_read(cert_path, buf, der, sizeof(der), &der_len, err, err_size);
    if (rc != CERTGEN_OK)
        goto err;
    (void)certgen__spki_locate(der, der_len, &off, &spki_len);
    rc = CERTGEN_E_CRYPTO;
    if (crypto_hash_sha256(hash, der + off, spki_len) != 0) {
        certgen__seterr(err, err_size, "SHA-256 failed");
        goto err;
    }
    memcpy(out, prefix, sizeof(prefix) - 1);
    if (sodium_bin2base64(out + sizeof(prefix) - 1,
                          out_size - (sizeof(prefix) - 1), hash, sizeof(hash),
                          sodium_base64_VARIANT_ORIGINAL) == NULL) {
        certgen__seterr(err, err_size, "base64 encoding failed");
        goto err;
    }
    rc = CERTGEN_OK;
err:
    free(buf);
    return rc;
}
