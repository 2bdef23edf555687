/*
 * xfername.c -- the rule that turns an announced file name into a name a
 * receiver may create (docs/PROTOCOL.md §8.6), and says why when it
 * cannot: last component only, not hidden, valid UTF-8 without control or
 * format characters, so that a name can neither leave the receiver's
 * directory nor show as something it is not; and the same escaping for
 * any peer-chosen text a tool prints (secmq_text_show). Pure: no I/O, no
 * allocation.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <secmq.h>

#include "xfer_int.h"

/*
 * The code points of Unicode 15.0 general category Cf (format characters),
 * as PROTOCOL.md §8.6 lists them: bidirectional embeddings, overrides and
 * isolates, zero-width characters, the soft hyphen, the byte order mark,
 * tags... They change how a name is shown without showing themselves
 * ("invoice<U+202E>gpj.exe" shows as "invoiceexe.jpg").
 */
static const struct {
    uint32_t lo, hi;
} cf_ranges[] = {
    {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
    {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},
    {0x08E2, 0x08E2},   {0x180E, 0x180E},   {0x200B, 0x200F},
    {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD},
    {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
};

int secmq__unicode_is_cf(uint32_t cp)
{
    for (size_t i = 0; i < sizeof cf_ranges / sizeof cf_ranges[0]; i++) {
        if (cp >= cf_ranges[i].lo && cp <= cf_ranges[i].hi) {
            return 1;
        }
    }
    return 0;
}

/*
 * Decode the UTF-8 sequence at s (len bytes left, len >= 1) as RFC 3629
 * allows it. Returns its length (1..4) with the code point in *cp, or 0
 * when it is not valid: a continuation byte first, 0xC0, 0xC1 or
 * 0xF5..0xFF, a truncated sequence, an overlong form, a surrogate
 * (U+D800..U+DFFF) or a code point above U+10FFFF.
 */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n;
    uint32_t v;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        v = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        v = s[0] & 0x0Fu;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        v = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < least[n] || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) {
        return 0;
    }
    *cp = v;
    return n;
}

static int refuse(char *why, size_t whylen, const char *text)
{
    if (why != NULL && whylen > 0) {
        snprintf(why, whylen, "%s", text);
    }
    return SECMQ_E_INVAL;
}

/* "it holds <what> U+XXXX<tail>" */
static int refuse_cp(char *why, size_t whylen, const char *what, uint32_t cp,
                     const char *tail)
{
    if (why != NULL && whylen > 0) {
        snprintf(why, whylen, "it holds %s U+%04X%s", what, (unsigned)cp, tail);
    }
    return SECMQ_E_INVAL;
}

int secmq__file_name_judge(char *out, size_t cap, const char *announced,
                           char *why, size_t whylen)
{
    const unsigned char *b;
    const char *base;
    size_t len, n;
    uint32_t cp = 0;

    if (why != NULL && whylen > 0) {
        why[0] = '\0';
    }
    if (out == NULL || cap < SECMQ_FILE_NAME_MAX + 1) {
        return SECMQ_E_INVAL;
    }
    out[0] = '\0';
    if (announced == NULL) {
        return SECMQ_E_INVAL;
    }
    /* SECURITY: only the last component is ever used, so no announced
     * name can reach outside the receiver's directory; "." and ".." and
     * hidden names (our partial files start with a dot) are refused. */
    base = strrchr(announced, '/');
    base = base != NULL ? base + 1 : announced;
    len = strlen(base);
    if (len == 0) {
        return refuse(why, whylen, "it is empty after the last '/'");
    }
    if (len > SECMQ_FILE_NAME_MAX) {
        return refuse(why, whylen, "it is longer than 255 bytes");
    }
    if (base[0] == '.') {
        return refuse(why, whylen, "it starts with '.'");
    }
    /* SECURITY: a name must show what it is: valid UTF-8, no control
     * character (C0, DEL, C1: a terminal would act on them) and no format
     * character (Cf: a bidirectional override turns "gpj.exe" around). */
    b = (const unsigned char *)base;
    for (size_t i = 0; i < len; i += n) {
        n = utf8_next(b + i, len - i, &cp);
        if (n == 0) {
            return refuse(why, whylen, "it is not valid UTF-8");
        }
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            return refuse_cp(why, whylen, "the control character", cp, "");
        }
        if (secmq__unicode_is_cf(cp)) {
            return refuse_cp(why, whylen, "the invisible format character", cp,
                             " (Unicode category Cf), which changes how "
                             "the name is shown");
        }
        if (cp == '\\') {
            return refuse(why, whylen, "it holds '\\'");
        }
    }
    memcpy(out, base, len + 1);
    return SECMQ_OK;
}

size_t secmq__file_name_show(char *out, size_t cap, const char *s)
{
    const unsigned char *b = (const unsigned char *)s;
    size_t len = strlen(s), used = 0, n;
    uint32_t cp = 0;
    char piece[16];

    if (cap == 0) {
        return 0;
    }
    out[0] = '\0';
    for (size_t i = 0; i < len; i += n) {
        size_t plen;

        n = utf8_next(b + i, len - i, &cp);
        if (n == 0) {
            n = 1;
            snprintf(piece, sizeof piece, "\\x%02X", b[i]);
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
                   secmq__unicode_is_cf(cp)) {
            snprintf(piece, sizeof piece, "<U+%04X>", (unsigned)cp);
        } else {
            memcpy(piece, b + i, n);
            piece[n] = '\0';
        }
        plen = strlen(piece);
        if (used + plen >= cap) {
            break; /* whole characters only */
        }
        memcpy(out + used, piece, plen + 1);
        used += plen;
    }
    return used;
}

size_t secmq_text_show(char *out, size_t cap, const char *s)
{
    if (out == NULL || s == NULL) {
        if (out != NULL && cap > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    return secmq__file_name_show(out, cap, s);
}

int secmq_file_name_check(char *out, size_t cap, const char *announced)
{
    return secmq__file_name_judge(out, cap, announced, NULL, 0);
}
