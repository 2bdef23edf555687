/* certgen.h -- development PKI for secmq: an EC P-256 CA, TLS server and
 * client certificates, and SubjectPublicKeyInfo pins, made with wolfCrypt.
 * For test brokers and developer machines only: keys are unencrypted PEM,
 * there is no revocation and no CSR workflow. Not part of libsecmq.
 */
#ifndef SECMQ_CERTGEN_H
#define SECMQ_CERTGEN_H

#include <stddef.h>

/* Return codes: 0 on success, negative on failure. Every failing call also
 * writes a one-line, human-readable reason into the caller's err buffer. */
enum {
    CERTGEN_OK = 0,
    CERTGEN_E_INVAL = -1,  /* bad argument: name, host, address, days */
    CERTGEN_E_EXISTS = -2, /* an output file exists and CERTGEN_FORCE unset */
    CERTGEN_E_IO = -3,     /* file system error (errno text in err) */
    CERTGEN_E_FORMAT = -4, /* an input file is not the PEM/DER we need */
    CERTGEN_E_CRYPTO = -5  /* wolfCrypt or libsodium failed */
};

/* Size of an err buffer that never truncates a reason. */
#define CERTGEN_ERR_BYTES 512

/* Size of the text certgen_pin() writes: "sha256:" + 44 base64 + NUL. */
#define CERTGEN_PIN_BYTES (7 + 44 + 1)

/* Longest NAME/CN accepted (wolfSSL's CertName field minus the NUL). */
#define CERTGEN_NAME_MAX 63

/* Most --dns plus --ip entries in one certificate. */
#define CERTGEN_SAN_MAX 32

/* Longest --days value (100 years). */
#define CERTGEN_DAYS_MAX 36500

/* Flag for certgen_ca_create / certgen_leaf_create / certgen_check_free:
 * replace existing files instead of refusing. */
#define CERTGEN_FORCE 1u

/* Which extendedKeyUsage a leaf certificate carries. */
typedef enum certgen_role {
    CERTGEN_ROLE_SERVER, /* serverAuth, gets subjectAltNames */
    CERTGEN_ROLE_CLIENT  /* clientAuth, no subjectAltNames */
} certgen_role;

/* Parameters of a leaf certificate. All pointers are borrowed for the
 * duration of the call. */
typedef struct certgen_leaf {
    const char *name; /* file stem and subject CN; see certgen_name_ok */
    certgen_role role;
    const char *const *dns; /* n_dns host names (server only) */
    size_t n_dns;
    const char *const *ips; /* n_ips IPv4/IPv6 literals (server only) */
    size_t n_ips;
    int days;    /* validity from now, 1..CERTGEN_DAYS_MAX */
    int expired; /* nonzero: valid from now-2d to now-1d */
} certgen_leaf;

/* Initialises wolfCrypt and libsodium. Call once before anything else.
 * Returns CERTGEN_OK or CERTGEN_E_CRYPTO. */
int certgen_init(char *err, size_t err_size);

/* Releases what certgen_init acquired. Safe to call after a failed init. */
void certgen_cleanup(void);

/* Returns 1 if name is usable as a file stem and CN: 1..CERTGEN_NAME_MAX
 * printable ASCII characters, no '/', not starting with '.', not "ca" (that
 * would replace the CA's own files). Returns 0 otherwise and writes why. */
int certgen_name_ok(const char *name, char *err, size_t err_size);

/* Creates dir and any missing parents with mode 0700 (existing ones are left
 * as they are). Returns CERTGEN_OK, CERTGEN_E_INVAL (empty path or not a
 * directory) or CERTGEN_E_IO. */
int certgen_dir_prepare(const char *dir, char *err, size_t err_size);

/* Checks that dir/stem.key and dir/stem.crt do not exist, unless flags has
 * CERTGEN_FORCE. Used to refuse a whole batch before writing any of it; the
 * create calls repeat the check atomically when they write.
 * Returns CERTGEN_OK, CERTGEN_E_EXISTS or CERTGEN_E_IO. */
int certgen_check_free(const char *dir, const char *stem, unsigned flags,
                       char *err, size_t err_size);

/* Generates a self-signed CA: dir/ca.key (0600) and dir/ca.crt (0644).
 * cn is the subject CN (1..CERTGEN_NAME_MAX bytes), days its validity.
 * Without CERTGEN_FORCE, existing files are never replaced.
 * Returns CERTGEN_OK, CERTGEN_E_INVAL, CERTGEN_E_EXISTS, CERTGEN_E_IO or
 * CERTGEN_E_CRYPTO. */
int certgen_ca_create(const char *dir, const char *cn, int days, unsigned flags,
                      char *err, size_t err_size);

/* Generates dir/NAME.key (0600) and dir/NAME.crt (0644) for leaf, signed by
 * dir/ca.crt and dir/ca.key (which must belong together). A server leaf with
 * no dns and no ips gets DNS:localhost, IP:127.0.0.1, IP:::1.
 * Without CERTGEN_FORCE, existing files are never replaced.
 * Returns CERTGEN_OK, CERTGEN_E_INVAL, CERTGEN_E_EXISTS, CERTGEN_E_IO,
 * CERTGEN_E_FORMAT (CA files unreadable as such) or CERTGEN_E_CRYPTO. */
int certgen_leaf_create(const char *dir, const certgen_leaf *leaf,
                        unsigned flags, char *err, size_t err_size);

/* Computes the pin of the certificate in cert_path (PEM, first certificate,
 * or DER): "sha256:" + base64 (standard alphabet, padded) of SHA-256 over the
 * DER SubjectPublicKeyInfo, as bytes copied from the certificate. Writes the
 * NUL-terminated text to out, which must hold CERTGEN_PIN_BYTES.
 * Returns CERTGEN_OK, CERTGEN_E_INVAL (out too small), CERTGEN_E_IO,
 * CERTGEN_E_FORMAT or CERTGEN_E_CRYPTO. */
int certgen_pin(const char *cert_path, char *out, size_t out_size, char *err,
                size_t err_size);

#endif /* SECMQ_CERTGEN_H */
