/* certgen_int.h -- declarations shared by the files behind certgen.h: error
 * text, file output (certfile.c) and the few DER walks and edits wolfCrypt
 * does not offer (certder.c). Not for secmq-certs.c, which uses certgen.h.
 */
#ifndef SECMQ_CERTGEN_INT_H
#define SECMQ_CERTGEN_INT_H

#include <stddef.h>
#include <sys/types.h>

#if defined(__GNUC__) || defined(__clang__)
#define CERTGEN_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define CERTGEN_PRINTF_LIKE(f, a)
#endif

#define CERTGEN_ASN1_INTEGER 0x02
#define CERTGEN_ASN1_SEQUENCE 0x30

/* Formats a reason into err (err_size bytes, always NUL-terminated when
 * err_size > 0). err may be NULL. Defined in certgen.c. */
CERTGEN_PRINTF_LIKE(3, 4)
void certgen__seterr(char *err, size_t err_size, const char *fmt, ...);

/* 1 for an ASCII letter or digit, whatever the locale. */
static inline int certgen__is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* ---- certfile.c ---------------------------------------------------------- */

/* Writes "dir/stem+suffix" into out. Returns CERTGEN_OK or CERTGEN_E_INVAL
 * (too long, reason in err). */
int certgen__path_join(char *out, size_t out_size, const char *dir,
                       const char *stem, const char *suffix, char *err,
                       size_t err_size);

/* Reads all of path into buf (cap bytes) and sets *len. Files of cap bytes
 * or more are refused. The caller wipes buf if it may hold a secret, on
 * success and on failure. Returns CERTGEN_OK, CERTGEN_E_IO or
 * CERTGEN_E_FORMAT (too large). */
int certgen__file_read(const char *path, unsigned char *buf, size_t cap,
                       size_t *len, char *err, size_t err_size);

/* Writes dir/stem.key (key_pem, mode 0600) and dir/stem.crt (crt_pem, mode
 * 0644). Both buffers are borrowed. Each file is written and synced under a
 * temporary name first; without CERTGEN_FORCE in flags an existing file is
 * never replaced, and a key whose certificate could not be placed is removed
 * again. Returns CERTGEN_OK, CERTGEN_E_EXISTS, CERTGEN_E_INVAL or
 * CERTGEN_E_IO. */
int certgen__pair_write(const char *dir, const char *stem,
                        const unsigned char *key_pem, size_t key_len,
                        const unsigned char *crt_pem, size_t crt_len,
                        unsigned flags, char *err, size_t err_size);

/* ---- certder.c ----------------------------------------------------------- */

/* Size of a DER header (tag and length) for content of len bytes, len <
 * 65536. */
size_t certgen__der_header_size(size_t len);

/* Writes a DER header for tag and len (< 65536) at out[*pos] and advances
 * *pos. The caller has made room (certgen__der_header_size). */
void certgen__der_put_header(unsigned char *out, size_t *pos, unsigned char tag,
                             size_t len);

/* Finds the SubjectPublicKeyInfo in the DER certificate der (der_len bytes):
 * sets *off and *len to the whole SEQUENCE, header included.
 * Returns 0, or -1 if der is not a well-formed certificate up to there. */
int certgen__spki_locate(const unsigned char *der, size_t der_len, size_t *off,
                         size_t *len);

/* Marks the basicConstraints extension of the DER TBSCertificate at tbs
 * (*len bytes, cap bytes of room) critical, as RFC 5280 4.2.1.9 requires for
 * CA certificates; wolfSSL 5.5 has no switch for it. Leaves the TBS alone if
 * the extension is absent or already critical, and updates *len.
 * Returns 0, or -1 on malformed input or lack of room (tbs unchanged). */
int certgen__tbs_bc_critical(unsigned char *tbs, size_t cap, size_t *len);

#endif /* SECMQ_CERTGEN_INT_H */
