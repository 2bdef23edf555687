/*
 * sub_output.c -- print received messages the way mosquitto_sub does.
 *
 * One walker both checks a -F format (without a message) and prints with
 * it, so checking and printing cannot disagree about a sequence. MQTT v5
 * property sequences are refused: libsecmq does not hand properties out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sub_output.h"

/* Widths beyond this are surely a typo, and keep the arithmetic small. */
#define MAX_WIDTH 9999

/* One "%-08.3t" sequence. */
struct spec {
    int left;     /* '-': pad on the right */
    int zero;     /* '0': pad numbers and payloads with zeros */
    size_t width; /* minimum width, 0 = none */
    int has_prec; /* a '.' was given */
    size_t prec;  /* maximum width (characters or payload bytes) */
    char conv;    /* the letter; '\0' if the format ended early */
};

/* The time of a message, taken once so all its sequences agree. */
struct stamp {
    int have;
    struct timespec ts;
    struct tm tm;
};

static void get_stamp(struct stamp *st)
{
    if (st->have) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &st->ts);
    if (localtime_r(&st->ts.tv_sec, &st->tm) == NULL) {
        memset(&st->tm, 0, sizeof st->tm);
    }
    st->have = 1;
}

static void pad(FILE *out, size_t n, int ch)
{
    for (size_t i = 0; i < n; i++) {
        fputc(ch, out);
    }
}

/* How many of len bytes the precision lets through. */
static size_t cut(const struct spec *sp, size_t len)
{
    return sp->has_prec && len > sp->prec ? sp->prec : len;
}

/* Pads a field that shows shown characters to the width: called once
 * before the field (after = 0) and once after it (after = 1), it fills on
 * the right with '-', else on the left, with '0' where zero_ok and the '0'
 * flag say so. */
static void pad_field(FILE *out, const struct spec *sp, size_t shown, int after,
                      int zero_ok)
{
    size_t fill = sp->width > shown ? sp->width - shown : 0;

    if (after && sp->left) {
        pad(out, fill, ' ');
    } else if (!after && !sp->left) {
        pad(out, fill, zero_ok && sp->zero ? '0' : ' ');
    }
}

/* len bytes of s, cut to the precision and padded to the width. */
static void put_bytes(FILE *out, const void *s, size_t len,
                      const struct spec *sp, int zero_ok)
{
    size_t n = cut(sp, len);

    pad_field(out, sp, n, 0, zero_ok);
    fwrite(s, 1, n, out);
    pad_field(out, sp, n, 1, zero_ok);
}

/* The bytes of s as two hex digits each; the precision counts bytes, the
 * width digits. */
static void put_hex(FILE *out, const unsigned char *s, size_t len,
                    const struct spec *sp, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t n = cut(sp, len);

    pad_field(out, sp, 2 * n, 0, 1);
    for (size_t i = 0; i < n; i++) {
        fputc(digits[s[i] >> 4], out);
        fputc(digits[s[i] & 0x0f], out);
    }
    pad_field(out, sp, 2 * n, 1, 1);
}

static void put_number(FILE *out, unsigned long value, const struct spec *sp)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lu", value);
    struct spec s = *sp;

    s.has_prec = 0;
    put_bytes(out, buf, n > 0 ? (size_t)n : 0, &s, 1);
}

/* A JSON string body as cJSON (mosquitto_sub's JSON writer) escapes it:
 * the characters of json_plain as a backslash and their letter in
 * json_escaped, other control characters as a backslash, 'u' and four hex
 * digits. */
static void put_json_string(FILE *out, const unsigned char *s, size_t len)
{
    static const char json_plain[] = "\"\\\b\f\n\r\t";
    static const char json_escaped[] = "\"\\bfnrt";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        const char *hit = c != '\0' ? strchr(json_plain, c) : NULL;

        if (hit != NULL) {
            fputc('\\', out);
            fputc(json_escaped[hit - json_plain], out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", (unsigned)c);
        } else {
            fputc(c, out);
        }
    }
}

/*
 * The sender as %S shows it: the name when a signature proved it;
 * "unverified:NAME" for a mac-only envelope, where any member of the
 * channel could have claimed NAME; empty for a message that was not
 * sealed. Into buf (len bytes); returns its length.
 */
static size_t sender_text(const secmq_message *msg, char *buf, size_t len)
{
    int n;

    if (!msg->sealed || msg->sender == NULL) {
        buf[0] = '\0';
        return 0;
    }
    /* SECURITY: only a signature proves a sender; a mac-only envelope
     * carries a claim, and must not look like a proof. */
    n = snprintf(
        buf, len, "%s%s",
        msg->seal_mode == SECMQ_SEAL_SIGNED ? "" : "unverified:", msg->sender);
    return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

/* %j with --keyring: "sender", "verified" and "mode" of a message. */
static void put_json_sender(FILE *out, const secmq_message *msg)
{
    if (!msg->sealed) {
        fputs("\"sender\":null,\"verified\":false,\"mode\":\"plain\",", out);
        return;
    }
    fputs("\"sender\":", out);
    if (msg->sender != NULL) {
        fputc('"', out);
        put_json_string(out, (const unsigned char *)msg->sender,
                        strlen(msg->sender));
        fputc('"', out);
    } else {
        fputs("null", out);
    }
    fprintf(out, ",\"verified\":%s,\"mode\":\"%s\",",
            msg->seal_mode == SECMQ_SEAL_SIGNED ? "true" : "false",
            msg->seal_mode == SECMQ_SEAL_SIGNED ? "signed" : "mac");
}

/* %j: the message as one JSON object, field for field as mosquitto_sub
 * (with --keyring, the sender fields before the payload). */
static void put_json(FILE *out, const secmq_message *msg, struct stamp *st,
                     int keyring)
{
    const unsigned char *p = msg->payload;
    char when[64], zone[16];
    int printable = 1;

    get_stamp(st);
    if (strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &st->tm) == 0) {
        when[0] = '\0';
    }
    if (strftime(zone, sizeof zone, "%z", &st->tm) == 0) {
        zone[0] = '\0';
    }
    fprintf(out, "{\"tst\":\"%s.%06ldZ%s\",\"topic\":\"", when,
            st->ts.tv_nsec / 1000, zone);
    put_json_string(out, (const unsigned char *)msg->topic, strlen(msg->topic));
    fprintf(out, "\",\"qos\":%d,\"retain\":%d,\"payloadlen\":%zu,", msg->qos,
            msg->retain ? 1 : 0, msg->payloadlen);
    if (msg->qos > 0) {
        fprintf(out, "\"mid\":%d,", msg->mid);
    }
    if (keyring) {
        put_json_sender(out, msg);
    }
    fputs("\"payload\":", out);
    if (msg->payloadlen == 0) {
        fputs("null}", out);
        return;
    }
    for (size_t i = 0; i < msg->payloadlen; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e) {
            printable = 0;
            break;
        }
    }
    if (printable) {
        fputc('"', out);
        put_json_string(out, p, msg->payloadlen);
        fputs("\"}", out);
        return;
    }
    /* Binary payloads become an array of byte values. */
    fputc('[', out);
    for (size_t i = 0; i < msg->payloadlen; i++) {
        fprintf(out, i == 0 ? "%u" : ",%u", (unsigned)p[i]);
    }
    fputs("]}", out);
}

static void put_percent(FILE *out, const struct spec *sp,
                        const secmq_message *msg, struct stamp *st, int keyring)
{
    char buf[64], who[300];
    size_t n;

    switch (sp->conv) {
    case '%':
        fputc('%', out);
        break;
    case 't':
        put_bytes(out, msg->topic, strlen(msg->topic), sp, 0);
        break;
    case 'p':
        put_bytes(out, msg->payload, msg->payloadlen, sp, 1);
        break;
    case 'x':
    case 'X':
        put_hex(out, msg->payload, msg->payloadlen, sp, sp->conv == 'X');
        break;
    case 'l':
        put_number(out, msg->payloadlen, sp);
        break;
    case 'm':
        put_number(out, msg->mid > 0 ? (unsigned long)msg->mid : 0, sp);
        break;
    case 'q':
        fputc('0' + (msg->qos & 3), out);
        break;
    case 'r':
        fputc(msg->retain ? '1' : '0', out);
        break;
    case 'S':
        n = sender_text(msg, who, sizeof who);
        put_bytes(out, who, n, sp, 0);
        break;
    case 'I':
        get_stamp(st);
        n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &st->tm);
        put_bytes(out, buf, n, sp, 0);
        break;
    case 'U':
        get_stamp(st);
        fprintf(out, "%lld.%09ld", (long long)st->ts.tv_sec, st->ts.tv_nsec);
        break;
    case 'j':
        put_json(out, msg, st, keyring);
        break;
    default:
        break; /* refused by the check */
    }
}

/* @X: strftime's %X for one letter X. */
static void put_strftime(FILE *out, char letter, struct stamp *st)
{
    char conv[3] = {'%', letter, '\0'};
    char buf[128];
    size_t n;

    get_stamp(st);
/* The format is '%' and one letter the check accepted, nothing else. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    n = strftime(buf, sizeof buf, conv, &st->tm);
#pragma GCC diagnostic pop
    fwrite(buf, 1, n, out);
}

/* Parse the digits at *p, a width or a precision, and move *p past them.
 * Values above MAX_WIDTH come out as MAX_WIDTH + 1, for the check to
 * refuse. */
static size_t parse_digits(const char **p)
{
    size_t v = 0;

    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (size_t)(**p - '0');
        if (v > MAX_WIDTH) {
            v = MAX_WIDTH + 1;
        }
        (*p)++;
    }
    return v;
}

/* Parse the flags, width and precision after a '%'; returns the rest. */
static const char *parse_spec(const char *p, struct spec *sp)
{
    memset(sp, 0, sizeof *sp);
    if (*p == '-') {
        sp->left = 1;
        p++;
    }
    if (*p == '0') {
        sp->zero = 1;
        p++;
    }
    sp->width = parse_digits(&p);
    if (*p == '.') {
        sp->has_prec = 1;
        p++;
        sp->prec = parse_digits(&p);
    }
    sp->conv = *p;
    return *p != '\0' ? p + 1 : p;
}

static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The character a backslash escape stands for, or -1. */
static int escape_char(char c)
{
    switch (c) {
    case '\\':
        return '\\';
    case '0':
        return '\0';
    case 'a':
        return '\a';
    case 'e':
        return 033;
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'v':
        return '\v';
    default:
        return -1;
    }
}

/*
 * Walk a format. With msg NULL, only check it: 0, or -1 with err set.
 * With a message, print it (the format was checked before).
 */
static int walk(const char *fmt, const secmq_message *msg, FILE *out,
                int keyring, char *err, size_t errlen)
{
    struct stamp st;
    const char *p = fmt;

    memset(&st, 0, sizeof st);
    while (*p != '\0') {
        char ch = *p++;

        if (ch == '%') {
            struct spec sp;

            p = parse_spec(p, &sp);
            if (msg == NULL) {
                if (sp.conv == '\0') {
                    snprintf(err, errlen,
                             "-F: the format ends inside a %% "
                             "sequence");
                    return -1;
                }
                if (sp.width > MAX_WIDTH || sp.prec > MAX_WIDTH) {
                    snprintf(err, errlen,
                             "-F: field widths above %d are not supported",
                             MAX_WIDTH);
                    return -1;
                }
                if (strchr("%tpxXlmqrIUjS", sp.conv) == NULL) {
                    snprintf(err, errlen,
                             strchr("ACDEFPRJ", sp.conv) != NULL
                                 ? "-F: %%%c is not supported by secmq-sub "
                                   "(MQTT v5 properties and %%J are not "
                                   "available)"
                                 : "-F: invalid format sequence '%%%c'",
                             sp.conv);
                    return -1;
                }
            } else {
                put_percent(out, &sp, msg, &st, keyring);
            }
        } else if (ch == '@') {
            char c = *p;

            if (msg == NULL && c != '@' && !is_letter(c)) {
                snprintf(err, errlen,
                         c == '\0' ? "-F: the format ends after '@'"
                                   : "-F: invalid time sequence '@%c'",
                         c);
                return -1;
            }
            p++;
            if (msg == NULL) {
                continue;
            }
            if (c == '@') {
                fputc('@', out);
            } else if (c == 'N') {
                get_stamp(&st);
                fprintf(out, "%09ld", st.ts.tv_nsec);
            } else {
                put_strftime(out, c, &st);
            }
        } else if (ch == '\\') {
            int e = escape_char(*p);

            if (msg == NULL && e < 0) {
                snprintf(err, errlen,
                         *p == '\0' ? "-F: the format ends after '\\'"
                                    : "-F: invalid escape '\\%c'",
                         *p);
                return -1;
            }
            p++;
            if (msg != NULL) {
                fputc(e, out);
            }
        } else if (msg != NULL) {
            fputc(ch, out);
        }
    }
    return 0;
}

int sub_format_check(const char *format, char *err, size_t errlen)
{
    return walk(format, NULL, NULL, 0, err, errlen);
}

int sub_output_print(const struct sub_output *o, const secmq_message *msg,
                     FILE *out)
{
    if (o->format != NULL) {
        (void)walk(o->format, msg, out, o->keyring, NULL, 0);
        if (o->eol) {
            fputc('\n', out);
        }
    } else if (o->verbose) {
        /* As mosquitto_sub: an empty payload shows as "(null)". */
        if (msg->payloadlen > 0) {
            fprintf(out, "%s ", msg->topic);
            fwrite(msg->payload, 1, msg->payloadlen, out);
            if (o->eol) {
                fputc('\n', out);
            }
        } else if (o->eol) {
            fprintf(out, "%s (null)\n", msg->topic);
        }
    } else if (msg->payloadlen > 0) {
        /* As mosquitto_sub: an empty payload prints nothing at all. */
        fwrite(msg->payload, 1, msg->payloadlen, out);
        if (o->eol) {
            fputc('\n', out);
        }
    }
    if (fflush(out) != 0 || ferror(out)) {
        return -1;
    }
    return 0;
}
