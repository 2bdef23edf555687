/*
 * authd_form.c -- the fields of a request to secmq-authd: an
 * application/x-www-form-urlencoded body decoded (RabbitMQ's POSTs) or
 * fields added one by one (a GET query that libmicrohttpd decoded).
 * Refuses what could be read two ways: a field given twice, a NUL byte,
 * a bad %-escape. Pure C over libsodium (the fuzzer links it alone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "authd.h"

const char *authd_form_get(const authd_form *form, const char *key)
{
    for (size_t i = 0; i < form->n; i++) {
        if (strcmp(form->f[i].key, key) == 0) {
            return form->f[i].value;
        }
    }
    return NULL;
}

void authd_form_clear(authd_form *form)
{
    for (size_t i = 0; i < form->n; i++) {
        free(form->f[i].key);
        if (form->f[i].value != NULL) {
            /* It may be a password. */
            memset(form->f[i].value, 0, strlen(form->f[i].value));
        }
        free(form->f[i].value);
    }
    form->n = 0;
}

int authd_form_add(authd_form *form, const char *key, const char *value,
                   char *err, size_t errlen)
{
    if (form->n == AUTHD_FIELDS_MAX) {
        (void)snprintf(err, errlen, "more than %d fields", AUTHD_FIELDS_MAX);
        return -1;
    }
    /* SECURITY: a field given twice could be read one way here and
     * another way by whoever looked at the request first. */
    if (authd_form_get(form, key) != NULL) {
        (void)snprintf(err, errlen, "field given twice");
        return -1;
    }
    form->f[form->n].key = strdup(key);
    form->f[form->n].value = strdup(value);
    if (form->f[form->n].key == NULL || form->f[form->n].value == NULL) {
        free(form->f[form->n].key);
        free(form->f[form->n].value);
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    form->n++;
    return 0;
}

/* Decode len bytes of s into out (at least len + 1 bytes). */
static int decode(const char *s, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            unsigned char b;
            size_t n = 0;
            const char *end = NULL;
            if (i + 2 >= len ||
                sodium_hex2bin(&b, 1, s + i + 1, 2, NULL, &n, &end) != 0 ||
                n != 1 || end != s + i + 3) {
                return -1;
            }
            c = (char)b;
            i += 2;
        }
        if (c == '\0') {
            return -1;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int authd_form_parse(authd_form *form, const char *body, size_t len, char *err,
                     size_t errlen)
{
    size_t i = 0;
    char *buf = malloc(len + 1);
    int rc = 0;

    if (buf == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (i < len && rc == 0) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - body) : len;
        const char *eq = memchr(body + i, '=', end - i);
        size_t kend = eq != NULL ? (size_t)(eq - body) : end;
        char *key;

        if (end > i) {
            if (decode(body + i, kend - i, buf) != 0) {
                (void)snprintf(err, errlen, "bad %%-escape or NUL in a key");
                rc = -1;
                break;
            }
            key = strdup(buf);
            if (key == NULL) {
                (void)snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            if (eq != NULL ? decode(eq + 1, end - kend - 1, buf) != 0
                           : decode("", 0, buf) != 0) {
                (void)snprintf(err, errlen, "bad %%-escape or NUL in a value");
                rc = -1;
            } else {
                rc = authd_form_add(form, key, buf, err, errlen);
            }
            free(key);
        }
        i = end + 1;
    }
    memset(buf, 0, len + 1);
    free(buf);
    if (rc != 0) {
        authd_form_clear(form);
    }
    return rc;
}
