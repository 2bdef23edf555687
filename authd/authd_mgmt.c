/*
 * authd_mgmt.c -- requests to RabbitMQ's management API for
 * secmq-authd, the only file that sees libcurl: a GET or DELETE with
 * Basic auth, bounded in time and size, TLS verified as libcurl does by
 * default (never turned off). Not for what is asked or why
 * (authd_revoke.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "authd_revoke.h"

#define CONNECT_TIMEOUT_MS 3000L
#define REQUEST_TIMEOUT_MS 10000L

int authd_mgmt_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void authd_mgmt_cleanup(void)
{
    curl_global_cleanup();
}

static int host_is_loopback(const char *h)
{
    if (strcmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0 ||
        strcmp(h, "::1") == 0) {
        return 1;
    }
    /* 127.0.0.0/8 written as a dotted IPv4 address. */
    if (strncmp(h, "127.", 4) != 0) {
        return 0;
    }
    for (const char *p = h + 4; *p != '\0'; p++) {
        if ((*p < '0' || *p > '9') && *p != '.') {
            return 0;
        }
    }
    return 1;
}

int authd_mgmt_check_url(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *pw = NULL;
    int rc = -1;

    if (u == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        (void)snprintf(err, errlen, "'%s' is not a URL (http://HOST:PORT)",
                       url);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK) {
        /* SECURITY: a password in the URL would be on the command line. */
        (void)snprintf(err, errlen,
                       "no user name or password in the URL: use "
                       "--rabbitmq-api-credentials FILE");
        goto done;
    }
    if (strcmp(scheme, "https") == 0) {
        rc = 0;
    } else if (strcmp(scheme, "http") != 0) {
        (void)snprintf(err, errlen, "'%s': http or https only", url);
    } else if (!host_is_loopback(host)) {
        (void)snprintf(err, errlen,
                       "'%s' is http to a host that is not loopback: the "
                       "management password would cross the network in "
                       "clear; use https",
                       url);
    } else {
        rc = 0;
    }
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    if (pw != NULL) {
        sodium_memzero(pw, strlen(pw));
    }
    curl_free(pw);
    curl_url_cleanup(u);
    return rc;
}

char *authd_mgmt_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;

    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

typedef struct sink {
    char *buf;
    size_t len;
    int too_big;
} sink;

static size_t on_data(char *p, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t n = size * nmemb;
    char *nb;

    if (s->len + n > AUTHD_API_BODY_MAX) {
        s->too_big = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    nb = realloc(s->buf, s->len + n + 1);
    if (nb == NULL) {
        return 0;
    }
    s->buf = nb;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

/* "Authorization: Basic base64(user:pass)" into a fresh slist entry; the
 * clear text and the header are wiped by the caller's wipe_headers. */
static struct curl_slist *auth_header(struct curl_slist *h, const char *user,
                                      const char *pass)
{
    size_t ul = strlen(user), pl = strlen(pass);
    size_t cl = ul + 1 + pl;
    size_t b64 = sodium_base64_ENCODED_LEN(cl, sodium_base64_VARIANT_ORIGINAL);
    size_t hl = sizeof "Authorization: Basic " - 1 + b64;
    unsigned char *clear = sodium_malloc(cl + 1);
    char *line = sodium_malloc(hl + 1);
    struct curl_slist *nh = NULL;

    if (clear != NULL && line != NULL) {
        memcpy(clear, user, ul);
        clear[ul] = ':';
        memcpy(clear + ul + 1, pass, pl);
        memcpy(line, "Authorization: Basic ", 21);
        (void)sodium_bin2base64(line + 21, b64, clear, cl,
                                sodium_base64_VARIANT_ORIGINAL);
        nh = curl_slist_append(h, line);
    }
    sodium_free(clear); /* sodium_free wipes */
    sodium_free(line);
    return nh;
}

/* Wipes every header line (one holds the password) and frees the list. */
static void wipe_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p != NULL; p = p->next) {
        sodium_memzero(p->data, strlen(p->data));
    }
    curl_slist_free_all(h);
}

long authd_mgmt_request(const authd_mgmt_cfg *cfg, const char *method,
                        const char *path, const char *reason, const char *user,
                        const char *pass, char **body, size_t *len, char *err,
                        size_t errlen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL, *nh;
    char curl_err[CURL_ERROR_SIZE] = "";
    sink s = {NULL, 0, 0};
    size_t blen = strlen(cfg->url);
    char *url = NULL, *xr = NULL;
    long status = -1;
    CURLcode rc;

    *body = NULL;
    *len = 0;
    if (c == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (blen > 0 && cfg->url[blen - 1] == '/') {
        blen--;
    }
    url = malloc(blen + strlen(path) + 1);
    nh = auth_header(NULL, user, pass);
    if (url == NULL || nh == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        goto done;
    }
    h = nh;
    memcpy(url, cfg->url, blen);
    memcpy(url + blen, path, strlen(path) + 1);
    if (reason != NULL) {
        size_t xl = strlen(reason) + sizeof "X-Reason: ";
        xr = malloc(xl);
        if (xr == NULL) {
            (void)snprintf(err, errlen, "out of memory");
            goto done;
        }
        (void)snprintf(xr, xl, "X-Reason: %s", reason);
        /* A header value ends at a line break: none may get in. */
        for (char *p = xr; *p != '\0'; p++) {
            if ((unsigned char)*p < 0x20) {
                *p = ' ';
            }
        }
        nh = curl_slist_append(h, xr);
        if (nh == NULL) {
            (void)snprintf(err, errlen, "out of memory");
            goto done;
        }
        h = nh;
    }
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    /* SECURITY: peer and host name verification stay libcurl's default
     * (on); a private CA is given with --rabbitmq-api-cafile. */
    if (cfg->cafile != NULL) {
        (void)curl_easy_setopt(c, CURLOPT_CAINFO, cfg->cafile);
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        (void)snprintf(err, errlen, "%s %s: %s", method, url,
                       s.too_big             ? "answer over the size limit"
                       : curl_err[0] != '\0' ? curl_err
                                             : curl_easy_strerror(rc));
        goto done;
    }
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *body = s.buf != NULL ? s.buf : calloc(1, 1);
    s.buf = NULL;
    *len = s.len;
    if (*body == NULL) {
        status = -1;
        (void)snprintf(err, errlen, "out of memory");
    }
done:
    free(s.buf);
    wipe_headers(h);
    free(xr);
    free(url);
    curl_easy_cleanup(c);
    return status;
}
