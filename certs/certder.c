/* certder.c -- the little DER handling secmq-certs needs beyond wolfCrypt:
 * locating a certificate's SubjectPublicKeyInfo for pins, encoding headers
 * for subjectAltName, and marking basicConstraints critical before signing.
 * Not a general ASN.1 parser: definite lengths, low tag numbers, bounded.
 */
#include "certgen.h"
#include "certgen_int.h"

#include <string.h>

#define ASN1_BOOLEAN 0x01
#define ASN1_EXPLICIT0 0xa0
#define ASN1_EXPLICIT3 0xa3

/* Largest TBSCertificate certgen__tbs_bc_critical rewrites. */
#define TBS_MAX 8192

/* OBJECT IDENTIFIER 2.5.29.19 (basicConstraints), and BOOLEAN TRUE. */
static const unsigned char bc_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x13};
static const unsigned char critical_true[] = {0x01, 0x01, 0xff};

/* Reads the DER header at buf[*pos] (end: buffer length): sets *tag and
 * *len, and moves *pos to the first content byte. Only low tag numbers and
 * definite lengths of up to 4 length bytes; the content must end by end.
 * Returns 0, or -1 on malformed input. */
static int der_header(const unsigned char *buf, size_t end, size_t *pos,
                      unsigned char *tag, size_t *len)
{
    size_t p = *pos, n, i, l;

    if (p > end || end - p < 2)
        return -1;
    *tag = buf[p++];
    if ((*tag & 0x1f) == 0x1f)
        return -1;
    l = buf[p++];
    if (l & 0x80) {
        n = l & 0x7f;
        if (n == 0 || n > 4 || end - p < n)
            return -1;
        l = 0;
        for (i = 0; i < n; i++)
            l = (l << 8) | buf[p++];
    }
    if (l > end - p)
        return -1;
    *pos = p;
    *len = l;
    return 0;
}

/* Skips one element, which must have tag want, at *pos. Returns 0 or -1. */
static int der_skip(const unsigned char *buf, size_t end, size_t *pos,
                    unsigned char want)
{
    unsigned char tag;
    size_t len;

    if (der_header(buf, end, pos, &tag, &len) != 0 || tag != want)
        return -1;
    *pos += len;
    return 0;
}

size_t certgen__der_header_size(size_t len)
{
    return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

void certgen__der_put_header(unsigned char *out, size_t *pos, unsigned char tag,
                             size_t len)
{
    out[(*pos)++] = tag;
    if (len < 0x80) {
        out[(*pos)++] = (unsigned char)len;
    } else if (len < 0x100) {
        out[(*pos)++] = 0x81;
        out[(*pos)++] = (unsigned char)len;
    } else {
        out[(*pos)++] = 0x82;
        out[(*pos)++] = (unsigned char)(len >> 8);
        out[(*pos)++] = (unsigned char)(len & 0xff);
    }
}

int certgen__spki_locate(const unsigned char *der, size_t der_len, size_t *off,
                         size_t *len)
{
    unsigned char tag;
    size_t pos = 0, clen, tbs_end, start;

    /* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... } ... } */
    if (der_header(der, der_len, &pos, &tag, &clen) != 0 ||
        tag != CERTGEN_ASN1_SEQUENCE)
        return -1;
    if (der_header(der, der_len, &pos, &tag, &clen) != 0 ||
        tag != CERTGEN_ASN1_SEQUENCE)
        return -1;
    tbs_end = pos + clen;
    /* [0] version is optional (absent means v1). */
    if (pos < tbs_end && der[pos] == ASN1_EXPLICIT0 &&
        der_skip(der, tbs_end, &pos, ASN1_EXPLICIT0) != 0)
        return -1;
    if (der_skip(der, tbs_end, &pos, CERTGEN_ASN1_INTEGER) != 0 ||  /* serial */
        der_skip(der, tbs_end, &pos, CERTGEN_ASN1_SEQUENCE) != 0 || /* alg */
        der_skip(der, tbs_end, &pos, CERTGEN_ASN1_SEQUENCE) != 0 || /* issuer */
        der_skip(der, tbs_end, &pos, CERTGEN_ASN1_SEQUENCE) != 0 || /* dates */
        der_skip(der, tbs_end, &pos, CERTGEN_ASN1_SEQUENCE) != 0) /* subject */
        return -1;
    start = pos;
    if (der_skip(der, tbs_end, &pos, CERTGEN_ASN1_SEQUENCE) != 0)
        return -1;
    *off = start;
    *len = pos - start;
    return 0;
}

int certgen__tbs_bc_critical(unsigned char *tbs, size_t cap, size_t *len)
{
    unsigned char out[TBS_MAX];
    unsigned char tag;
    size_t pos = 0, elen, tbs_end, prefix_start, prefix_len;
    size_t ext_start, ext_end, bc_start = 0, bc_end = 0, bc_content = 0;
    size_t bc_new, exts_new, a3_new, tbs_new, total, q;
    int found = 0;

    if (der_header(tbs, *len, &pos, &tag, &elen) != 0 ||
        tag != CERTGEN_ASN1_SEQUENCE || pos + elen != *len)
        return -1;
    tbs_end = *len;
    prefix_start = pos;
    /* Everything up to [3] extensions, the last field, is copied as is. */
    while (pos < tbs_end && tbs[pos] != ASN1_EXPLICIT3) {
        if (der_header(tbs, tbs_end, &pos, &tag, &elen) != 0)
            return -1;
        pos += elen;
    }
    if (pos == tbs_end)
        return 0;
    prefix_len = pos - prefix_start;
    if (der_header(tbs, tbs_end, &pos, &tag, &elen) != 0 ||
        pos + elen != tbs_end)
        return -1;
    if (der_header(tbs, tbs_end, &pos, &tag, &elen) != 0 ||
        tag != CERTGEN_ASN1_SEQUENCE || pos + elen != tbs_end)
        return -1;
    ext_start = pos;
    ext_end = tbs_end;

    /* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
     * extnValue }: DER omits a FALSE critical, so absence means "not". */
    while (pos < ext_end) {
        size_t start = pos, content;

        if (der_header(tbs, ext_end, &pos, &tag, &elen) != 0 ||
            tag != CERTGEN_ASN1_SEQUENCE)
            return -1;
        content = pos;
        pos += elen;
        if (elen > sizeof(bc_oid) &&
            memcmp(tbs + content, bc_oid, sizeof(bc_oid)) == 0) {
            if (tbs[content + sizeof(bc_oid)] == ASN1_BOOLEAN)
                return 0;
            found = 1;
            bc_start = start;
            bc_end = pos;
            bc_content = content;
        }
    }
    if (!found)
        return 0;

    /* New sizes, innermost first; a header may grow by a byte on the way. */
    bc_new = (bc_end - bc_content) + sizeof(critical_true);
    exts_new = (ext_end - ext_start) - (bc_end - bc_start) +
               certgen__der_header_size(bc_new) + bc_new;
    a3_new = certgen__der_header_size(exts_new) + exts_new;
    tbs_new = prefix_len + certgen__der_header_size(a3_new) + a3_new;
    total = certgen__der_header_size(tbs_new) + tbs_new;
    if (tbs_new >= 0x10000 || total > sizeof(out) || total > cap)
        return -1;

    q = 0;
    certgen__der_put_header(out, &q, CERTGEN_ASN1_SEQUENCE, tbs_new);
    memcpy(out + q, tbs + prefix_start, prefix_len);
    q += prefix_len;
    certgen__der_put_header(out, &q, ASN1_EXPLICIT3, a3_new);
    certgen__der_put_header(out, &q, CERTGEN_ASN1_SEQUENCE, exts_new);
    memcpy(out + q, tbs + ext_start, bc_start - ext_start);
    q += bc_start - ext_start;
    certgen__der_put_header(out, &q, CERTGEN_ASN1_SEQUENCE, bc_new);
    memcpy(out + q, bc_oid, sizeof(bc_oid));
    q += sizeof(bc_oid);
    memcpy(out + q, critical_true, sizeof(critical_true));
    q += sizeof(critical_true);
    memcpy(out + q, tbs + bc_content + sizeof(bc_oid),
           bc_end - bc_content - sizeof(bc_oid));
    q += bc_end - bc_content - sizeof(bc_oid);
    memcpy(out + q, tbs + bc_end, ext_end - bc_end);
    q += ext_end - bc_end;
    if (q != total)
        return -1;
    memcpy(tbs, out, total);
    *len = total;
    return 0;
}
