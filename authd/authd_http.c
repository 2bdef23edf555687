/*
 * authd_http.c -- the HTTP side of secmq-authd, the only file that sees
 * libmicrohttpd: one thread, an epoll set the caller polls, requests
 * answered when their body is complete. POST with a form-encoded body
 * (auth_http.http_method = post) and GET with a query string are
 * accepted; everything else is refused with a 4xx status and body "deny"
 * and logged. Not for deciding anything: authd_rules.c does.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "authd.h"
#include "authd_revoke.h"

#define CONN_TIMEOUT_S 10u

struct authd_http {
    authd *d;
    struct MHD_Daemon *mhd;
};

/* One request in progress. */
typedef struct req {
    char *body; /* owned; the bytes received so far */
    size_t len;
    int too_big; /* more than AUTHD_BODY_MAX bytes came */
} req;

void authd_logf(const authd *d, secmq_svc_level lv, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->svc.log(d->svc.log_user, lv, line);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
                              const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (r == NULL) {
        return MHD_NO;
    }
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  "text/plain");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The peer, printable, into buf. */
static const char *peer(struct MHD_Connection *c, char *buf, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

    if (sa == NULL || sa->sa_family == AF_UNIX) {
        return "unix";
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        return inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)cap);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        return inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)cap);
    }
    return "?";
}

typedef struct get_ctx {
    authd_form *form;
    int failed;
    char err[128];
} get_ctx;

static enum MHD_Result get_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    get_ctx *g = cls;

    (void)kind;
    if (!g->failed && authd_form_add(g->form, key, value != NULL ? value : "",
                                     g->err, sizeof g->err) != 0) {
        g->failed = 1;
    }
    return MHD_YES;
}

static int kind_of(const char *url, authd_kind *out)
{
    static const struct {
        const char *path;
        authd_kind kind;
    } paths[] = {{"/auth/user", AUTHD_USER},
                 {"/auth/vhost", AUTHD_VHOST},
                 {"/auth/resource", AUTHD_RESOURCE},
                 {"/auth/topic", AUTHD_TOPIC}};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (strcmp(url, paths[i].path) == 0) {
            *out = paths[i].kind;
            return 1;
        }
    }
    return 0;
}

static const char *const kind_names[] = {"user", "vhost", "resource", "topic"};

/* The complete request: decode, decide, answer. */
static enum MHD_Result finish(authd *d, struct MHD_Connection *c,
                              const char *url, const char *method, req *r)
{
    authd_form form = {0};
    authd_kind kind;
    char addr[INET6_ADDRSTRLEN], why[SECMQ_AUTH_TOPIC_MAX + 128];
    char b1[80], b2[80], b3[160];
    const char *who = peer(c, addr, sizeof addr);
    const char *no;
    enum MHD_Result rc;
    get_ctx g = {&form, 0, ""};

    if (r->too_big) {
        authd_logf(d, SECMQ_SVC_NOTICE,
                   "refused a %s request from %s: body over %d bytes", method,
                   who, AUTHD_BODY_MAX);
        return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "deny");
    }
    if (!kind_of(url, &kind)) {
        authd_logf(d, SECMQ_SVC_NOTICE,
                   "refused a request for '%s' from %s: no "
                   "such path",
                   secmq__printable(url, b3, sizeof b3), who);
        return answer(c, MHD_HTTP_NOT_FOUND, "deny");
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
        (void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, get_arg, &g);
    } else {
        const char *ct = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (ct == NULL ||
            strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
            g.failed = 1;
            (void)snprintf(g.err, sizeof g.err, "not a form-encoded body");
        } else if (authd_form_parse(&form, r->body != NULL ? r->body : "",
                                    r->len, g.err, sizeof g.err) != 0) {
            g.failed = 1;
        }
    }
    if (g.failed) {
        authd_form_clear(&form);
        authd_logf(d, SECMQ_SVC_NOTICE,
                   "refused a malformed %s question from %s: "
                   "%s",
                   kind_names[kind], who, g.err);
        return answer(c, MHD_HTTP_BAD_REQUEST, "deny");
    }
    no = authd_decide(d, kind, &form, who, why, sizeof why);
    if (no == NULL) {
        /* RabbitMQ keeps it for the connection: a reload re-asks it. */
        authd_revoke_answer(d->rv, kind, &form);
    }
    if (kind == AUTHD_USER) {
        /* authsvc.c logged a refusal with its reason. */
        if (no == NULL && d->verbose) {
            authd_logf(d, SECMQ_SVC_INFO,
                       "allowed login for '%s' (client '%s')",
                       secmq__printable(authd_form_get(&form, "username"), b1,
                                        sizeof b1),
                       secmq__printable(authd_form_get(&form, "client_id"), b2,
                                        sizeof b2));
        }
    } else if (no != NULL || d->verbose) {
        const char *what =
            authd_form_get(&form, kind == AUTHD_TOPIC      ? "routing_key"
                                  : kind == AUTHD_RESOURCE ? "name"
                                                           : "vhost");
        authd_logf(
            d, no != NULL ? SECMQ_SVC_NOTICE : SECMQ_SVC_INFO,
            "%s %s %s '%s' for '%s'%s%s%s%s%s",
            no != NULL ? "denied" : "allowed", kind_names[kind],
            kind == AUTHD_VHOST
                ? "access to"
                : secmq__printable(authd_form_get(&form, "permission"), b2,
                                   sizeof b2),
            secmq__printable(what, b3, sizeof b3),
            secmq__printable(authd_form_get(&form, "username"), b1, sizeof b1),
            kind == AUTHD_TOPIC ? " (client '" : "",
            kind == AUTHD_TOPIC
                ? secmq__printable(
                      authd_form_get(&form, "variable_map.client_id"), addr,
                      sizeof addr)
                : "",
            kind == AUTHD_TOPIC ? "')" : "", no != NULL ? ": " : "",
            no != NULL ? no : "");
    }
    authd_form_clear(&form);
    rc = answer(c, MHD_HTTP_OK, no == NULL ? "allow" : "deny");
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    authd *d = cls;
    req *r = *con_cls;
    char addr[INET6_ADDRSTRLEN], b[80];

    (void)version;
    if (r == NULL) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0 &&
            strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
            authd_logf(d, SECMQ_SVC_NOTICE,
                       "refused a %s request from %s: only "
                       "POST and GET are answered",
                       secmq__printable(method, b, sizeof b),
                       peer(c, addr, sizeof addr));
            return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "deny");
        }
        r = calloc(1, sizeof *r);
        if (r == NULL) {
            return MHD_NO;
        }
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_big || r->len + n > AUTHD_BODY_MAX) {
            r->too_big = 1; /* the rest is read and dropped */
            return MHD_YES;
        }
        char *nb = realloc(r->body, r->len + n + 1);
        if (nb == NULL) {
            return MHD_NO;
        }
        r->body = nb;
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    return finish(d, c, url, method, r);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    req *r = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (r != NULL) {
        if (r->body != NULL) {
            memset(r->body, 0, r->len); /* it may hold a password */
        }
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const authd *d = cls;
    char line[512];

    (void)vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    d->svc.log(d->svc.log_user, SECMQ_SVC_INFO, line);
}

authd_http *authd_http_start(authd *d, int fd, unsigned max_conns, char *err,
                             size_t errlen)
{
    authd_http *h = calloc(1, sizeof *h);

    if (h == NULL) {
        (void)close(fd);
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->d = d;
    /* The logger first, so that libmicrohttpd's own messages go there. */
    h->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, d,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, d, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, max_conns, MHD_OPTION_CONNECTION_TIMEOUT,
        CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
        MHD_OPTION_END);
    if (h->mhd == NULL) {
        (void)close(fd);
        free(h);
        (void)snprintf(err, errlen, "libmicrohttpd failed to start");
        return NULL;
    }
    return h;
}

int authd_http_fd(const authd_http *h)
{
    const union MHD_DaemonInfo *i =
        MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);

    return i != NULL ? i->epoll_fd : -1;
}

int authd_http_timeout_ms(authd_http *h, int cap_ms)
{
    MHD_UNSIGNED_LONG_LONG t;

    if (MHD_get_timeout(h->mhd, &t) == MHD_YES && t < (unsigned)cap_ms) {
        return (int)t;
    }
    return cap_ms;
}

void authd_http_run(authd_http *h)
{
    (void)MHD_run(h->mhd);
}

void authd_http_stop(authd_http *h)
{
    if (h != NULL) {
        MHD_stop_daemon(h->mhd);
        free(h);
    }
}
