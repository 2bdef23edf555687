/*
 * authd_revoke.c -- secmq-authd closes the RabbitMQ connections of users
 * who lost access (the mosquitto plugin kicks them; RabbitMQ keeps a
 * connection's answers): after a reload, users deleted, disabled or with
 * a new password, and pairs whose remembered questions are now denied
 * (authd_remember.c), become targets; a worker thread lists RabbitMQ's
 * connections through the management API and closes the targets' ones
 * made before the reload, so HTTP answers never wait for it (RabbitMQ
 * asks secmq-authd about the management user's own login, too). A pass
 * that fails is logged and tried again later. Not for the answers
 * themselves (authd_rules.c) nor for HTTP or JSON (authd_mgmt.c,
 * authd_json.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "authd_revoke.h"

/* A connection made just before a reload may not be listed yet (the
 * management API lists connections as its statistics come, every 5 s by
 * default): a target is looked for again at every retry interval until
 * this long after it was made. */
#define RECHECK_MS 12000u
#define FAIL_LOG_EVERY_MS 60000u
#define TARGETS_MAX 100000u

typedef struct target {
    unsigned long long seq; /* identifies it across a pass */
    char *user;
    char *id;          /* NULL: every connection of the user */
    char *why;         /* the cause, for the log and X-Reason */
    int queues;        /* also delete id's subscription queues (once) */
    int64_t before_ms; /* wall clock: connections made after are kept */
    uint64_t made_ms;  /* monotonic */
    uint64_t due_ms;   /* monotonic: the next pass may start */
} target;

/* One pass, owned by the worker while it runs. */
typedef struct job {
    const authd *d; /* its log callback only */
    authd_mgmt_cfg api;
    const char *creds_path;
    const char *vhost; /* the MQTT plugin's (borrowed from argv) */
    target *t;         /* copies */
    size_t nt;
    int *ok; /* per target: every matching connection is closed */
    uint64_t started_ms;
    atomic_int *stop; /* set when secmq-authd stops: no new request */
    size_t closed;
    char err[512]; /* the first failure, "" when none */
} job;

struct authd_revoke {
    authd *d;
    authd_revoke_cfg cfg;
    authd_remember *mem;
    target *t;
    size_t nt, cap;
    unsigned long long seq;
    pthread_t th;
    pthread_mutex_t mu;
    int running, done; /* done: under mu */
    atomic_int stop;
    job *job;
    char last_err[512];
    uint64_t last_err_ms;
    unsigned long fails; /* passes failed in a row */
};

int authd_creds_read(const char *path, char *user, size_t ucap, char *pass,
                     size_t pcap, char *err, size_t errlen)
{
    char buf[AUTHD_CREDS_MAX + 2];
    struct stat st;
    ssize_t n;
    size_t len;
    char *colon;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc = -1;

    if (fd < 0) {
        (void)snprintf(err, errlen, "cannot open %s: %s", path,
                       strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)snprintf(err, errlen, "%s is not a regular file", path);
        goto done;
    }
    /* SECURITY: the management user may close every connection. */
    if ((st.st_mode & 077) != 0) {
        (void)snprintf(err, errlen,
                       "%s may be read or written by others (mode %04o): "
                       "chmod 600 it",
                       path, (unsigned)(st.st_mode & 07777));
        goto done;
    }
    n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        (void)snprintf(err, errlen, "cannot read %s: %s", path,
                       strerror(errno));
        goto done;
    }
    len = (size_t)n;
    if (len > AUTHD_CREDS_MAX) {
        (void)snprintf(err, errlen, "%s is over %d bytes", path,
                       AUTHD_CREDS_MAX);
        goto done;
    }
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\n') {
        buf[--len] = '\0';
    }
    if (len > 0 && buf[len - 1] == '\r') {
        buf[--len] = '\0';
    }
    colon = strchr(buf, ':');
    if (strlen(buf) != len || strchr(buf, '\n') != NULL || colon == NULL ||
        colon == buf || colon[1] == '\0') {
        (void)snprintf(err, errlen, "%s: one line \"user:password\" expected",
                       path);
        goto done;
    }
    *colon = '\0';
    if (strlen(buf) + 1 > ucap || strlen(colon + 1) + 1 > pcap) {
        (void)snprintf(err, errlen, "%s: user or password too long", path);
        goto done;
    }
    memcpy(user, buf, strlen(buf) + 1);
    memcpy(pass, colon + 1, strlen(colon + 1) + 1);
    rc = 0;
done:
    sodium_memzero(buf, sizeof buf);
    (void)close(fd);
    return rc;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void target_clear(target *t)
{
    free(t->user);
    free(t->id);
    free(t->why);
    memset(t, 0, sizeof *t);
}

static int target_copy(target *dst, const target *src)
{
    *dst = *src;
    dst->user = strdup(src->user);
    dst->id = src->id != NULL ? strdup(src->id) : NULL;
    dst->why = strdup(src->why);
    if (dst->user == NULL || dst->why == NULL ||
        (src->id != NULL && dst->id == NULL)) {
        target_clear(dst);
        return -1;
    }
    return 0;
}

/* A new target (copied names); logged. */
static void add_target(authd_revoke *r, const char *user, const char *id,
                       const char *why, int queues, int64_t before_ms,
                       uint64_t now)
{
    char b1[80], b2[80];
    target t = {0}, *nt;

    if (r->nt == r->cap) {
        size_t nc = r->cap == 0 ? 16 : r->cap * 2;
        if (nc > TARGETS_MAX || (nt = realloc(r->t, nc * sizeof *nt)) == NULL) {
            authd_logf(r->d, SECMQ_SVC_ERR,
                       "cannot keep more users to disconnect (out of memory): "
                       "'%s' stays connected to RabbitMQ until it reconnects",
                       secmq__printable(user, b1, sizeof b1));
            return;
        }
        r->t = nt;
        r->cap = nc;
    }
    t.seq = ++r->seq;
    t.user = strdup(user);
    t.id = id != NULL && id[0] != '\0' ? strdup(id) : NULL;
    t.why = strdup(why);
    t.queues = queues && t.id != NULL;
    t.before_ms = before_ms;
    t.made_ms = now;
    t.due_ms = now;
    if (t.user == NULL || t.why == NULL ||
        (id != NULL && id[0] != '\0' && t.id == NULL)) {
        target_clear(&t);
        authd_logf(r->d, SECMQ_SVC_ERR, "out of memory: '%s' stays connected",
                   secmq__printable(user, b1, sizeof b1));
        return;
    }
    r->t[r->nt++] = t;
    authd_logf(
        r->d, SECMQ_SVC_NOTICE,
        "closing the RabbitMQ connections of user '%s'%s%s%s made before "
        "this reload: %s",
        secmq__printable(user, b1, sizeof b1), t.id != NULL ? " (client '" : "",
        t.id != NULL ? secmq__printable(t.id, b2, sizeof b2) : "",
        t.id != NULL ? "')" : "", why);
}

typedef struct lost_ctx {
    authd_revoke *r;
    int64_t before_ms;
    uint64_t now;
} lost_ctx;

static void on_lost(void *user, const char *name, const char *id,
                    const char *why)
{
    lost_ctx *c = user;

    /* SECURITY: a persistent session's queue keeps its bindings, and
     * RabbitMQ does not ask about them again when the client is back. */
    add_target(c->r, name, id, why, 1, c->before_ms, c->now);
}

int authd_revoke_on_load(void *user, const secmq_policy *fresh, char *err,
                         size_t errlen)
{
    authd *d = user;
    authd_revoke *r = d->rv;
    const secmq_policy *old = &d->svc.policy;
    lost_ctx c = {r, wall_ms(), secmq__mono_ms()};
    authd *view;
    size_t ev;

    (void)err;
    (void)errlen;
    if (r == NULL) {
        return 0;
    }
    for (size_t i = 0; i < old->nusers; i++) {
        const secmq_user *uo = &old->users[i];
        const secmq_user *un = secmq__policy_user(fresh, uo->name);
        const char *why = un == NULL                      ? "user deleted"
                          : un->disabled && !uo->disabled ? "user disabled"
                          : un->pw_gen != uo->pw_gen      ? "password changed"
                                                          : NULL;
        if (why != NULL) {
            add_target(r, uo->name, NULL, why, 0, c.before_ms, c.now);
        }
    }
    /* The remembered questions, asked of the new policy: a view of d
     * with it (read only; d keeps the old one until this returns). */
    view = malloc(sizeof *view);
    if (view == NULL) {
        authd_logf(d, SECMQ_SVC_ERR,
                   "out of memory: removed rules do not close connections at "
                   "this reload");
        return 0;
    }
    *view = *d;
    view->svc.policy = *fresh;
    (void)authd_remember_recheck(r->mem, view, old, on_lost, &c);
    free(view);
    ev = authd_remember_evicted(r->mem);
    if (ev > 0) {
        authd_logf(
            d, SECMQ_SVC_WARNING,
            "%zu clients' answers were forgotten to stay within "
            "--rabbitmq-remember %zu: a removed rule does not close their "
            "connections (deleted, disabled and re-passworded users' "
            "connections are still closed)",
            ev, r->cfg.remember_max);
    }
    return 0;
}

/* The first target of j that conn belongs to, or -1. */
static long match(const job *j, const authd_conn *conn)
{
    if (conn->user == NULL) {
        return -1;
    }
    for (size_t i = 0; i < j->nt; i++) {
        const target *t = &j->t[i];
        if (strcmp(t->user, conn->user) != 0 ||
            (t->id != NULL && (conn->client_id == NULL ||
                               strcmp(t->id, conn->client_id) != 0))) {
            continue;
        }
        /* Made after the reload: logged in under the new policy. A
         * connection without a time is closed. */
        if (conn->connected_at >= 0 && conn->connected_at > t->before_ms) {
            continue;
        }
        return (long)i;
    }
    return -1;
}

static void job_fail(job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void job_fail(job *j, const char *fmt, ...)
{
    va_list ap;

    if (j->err[0] != '\0') {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(j->err, sizeof j->err, fmt, ap);
    va_end(ap);
}

static const char *status_hint(long status)
{
    return status == 401   ? " (refused: check the user and password in the "
                             "credentials file, and that the user has the "
                             "administrator tag)"
           : status == 403 ? " (forbidden)"
                           : "";
}

/* Closes conn (target i of j); 0 when it is gone. */
static int close_one(job *j, const authd_conn *conn, size_t i, const char *user,
                     const char *pass)
{
    const target *t = &j->t[i];
    char *esc = authd_mgmt_escape(conn->name);
    char path[64 + 3 * 1024], reason[600], err[512];
    char b1[80], b2[80], b3[200];
    char *body = NULL;
    size_t len;
    long st;

    if (esc == NULL || strlen(esc) > 3 * 1024) {
        free(esc);
        job_fail(j, "out of memory or a connection name too long");
        return -1;
    }
    (void)snprintf(path, sizeof path, "/api/connections/%s", esc);
    free(esc);
    (void)snprintf(reason, sizeof reason, "secmq-authd: %s", t->why);
    st = authd_mgmt_request(&j->api, "DELETE", path, reason, user, pass, &body,
                            &len, err, sizeof err);
    free(body);
    if (st == 200 || st == 204) {
        j->closed++;
        authd_logf(
            j->d, SECMQ_SVC_NOTICE,
            "closed RabbitMQ connection '%s' of user '%s' (client '%s'): %s",
            secmq__printable(conn->name, b3, sizeof b3),
            secmq__printable(conn->user, b1, sizeof b1),
            secmq__printable(conn->client_id, b2, sizeof b2), t->why);
        return 0;
    }
    if (st == 404) {
        return 0; /* gone already */
    }
    if (st < 0) {
        job_fail(j, "the RabbitMQ management API is unreachable: %s", err);
    } else {
        job_fail(j,
                 "the RabbitMQ management API answered HTTP %ld to DELETE "
                 "of connection '%s'%s",
                 st, secmq__printable(conn->name, b3, sizeof b3),
                 status_hint(st));
    }
    return -1;
}

/* Deletes target i's MQTT subscription queues (qos0, qos1) in j's vhost:
 * a persistent session keeps its queue and bindings across the close,
 * and RabbitMQ does not ask about a binding again. 0 when both are gone. */
static int delete_queues(job *j, size_t i, const char *user, const char *pass)
{
    static const char *const qos[] = {"qos0", "qos1"};
    const target *t = &j->t[i];
    char *ev = authd_mgmt_escape(j->vhost), *eq = NULL;
    char name[SECMQ_AUTH_NAME_MAX + 32], path[64 + 3 * 2 * 300], err[512];
    char b1[80], b2[80], b3[360];
    int rc = 0;

    for (size_t k = 0; k < 2 && rc == 0; k++) {
        char *body = NULL;
        size_t len;
        long st;

        (void)snprintf(name, sizeof name, "mqtt-subscription-%s%s", t->id,
                       qos[k]);
        free(eq);
        eq = authd_mgmt_escape(name);
        if (ev == NULL || eq == NULL ||
            strlen(ev) + strlen(eq) + 16 > sizeof path) {
            job_fail(j, "out of memory or a queue name too long");
            rc = -1;
            break;
        }
        (void)snprintf(path, sizeof path, "/api/queues/%s/%s", ev, eq);
        st = authd_mgmt_request(&j->api, "DELETE", path, NULL, user, pass,
                                &body, &len, err, sizeof err);
        free(body);
        if (st == 200 || st == 204) {
            authd_logf(j->d, SECMQ_SVC_NOTICE,
                       "deleted RabbitMQ queue '%s' (the session of user "
                       "'%s', client '%s'): %s",
                       secmq__printable(name, b3, sizeof b3),
                       secmq__printable(t->user, b1, sizeof b1),
                       secmq__printable(t->id, b2, sizeof b2), t->why);
        } else if (st != 404) {
            if (st < 0) {
                job_fail(j, "the RabbitMQ management API is unreachable: %s",
                         err);
            } else {
                job_fail(j,
                         "the RabbitMQ management API answered HTTP %ld to "
                         "DELETE of queue '%s'%s",
                         st, secmq__printable(name, b3, sizeof b3),
                         st == 401 ? " (the management user needs the "
                                     "configure permission on the MQTT "
                                     "subscription queues of the vhost)"
                                   : "");
            }
            rc = -1;
        }
    }
    free(ev);
    free(eq);
    return rc;
}

static void run_job(job *j)
{
    char user[AUTHD_CREDS_MAX + 1], err[512];
    char *pass = sodium_malloc(AUTHD_CREDS_MAX + 1);
    char *body = NULL;
    authd_conn *conns = NULL;
    size_t n = 0, len = 0;
    long st;

    if (pass == NULL) {
        job_fail(j, "out of memory");
        return;
    }
    if (authd_creds_read(j->creds_path, user, sizeof user, pass,
                         AUTHD_CREDS_MAX + 1, err, sizeof err) != 0) {
        job_fail(j, "cannot read the management API credentials: %s", err);
        goto done;
    }
    st = authd_mgmt_request(&j->api, "GET",
                            "/api/connections?columns=name,user,"
                            "connected_at,variable_map,client_properties",
                            NULL, user, pass, &body, &len, err, sizeof err);
    if (st < 0) {
        job_fail(j, "the RabbitMQ management API is unreachable: %s", err);
        goto done;
    }
    if (st != 200) {
        job_fail(j,
                 "the RabbitMQ management API answered HTTP %ld to GET "
                 "/api/connections%s",
                 st, status_hint(st));
        goto done;
    }
    if (authd_conns_parse(body, len, &conns, &n, err, sizeof err) != 0) {
        job_fail(j,
                 "cannot read the connection list of the management "
                 "API: %s",
                 err);
        goto done;
    }
    for (size_t i = 0; i < j->nt; i++) {
        j->ok[i] = 1;
    }
    for (size_t c = 0; c < n && !atomic_load(j->stop); c++) {
        long i = match(j, &conns[c]);
        if (i >= 0 && close_one(j, &conns[c], (size_t)i, user, pass) != 0) {
            j->ok[i] = 0;
        }
    }
    for (size_t i = 0; i < j->nt && !atomic_load(j->stop); i++) {
        if (j->t[i].queues && delete_queues(j, i, user, pass) != 0) {
            j->ok[i] = 0;
        }
    }
    authd_logf(j->d, SECMQ_SVC_DEBUG,
               "management API: %zu connections listed, %zu closed for %zu "
               "users' revocations",
               n, j->closed, j->nt);
done:
    authd_conns_free(conns, n);
    free(body);
    sodium_memzero(user, sizeof user);
    sodium_free(pass); /* wipes */
}

static void *worker(void *arg)
{
    authd_revoke *r = arg;

    run_job(r->job);
    (void)pthread_mutex_lock(&r->mu);
    r->done = 1;
    (void)pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void job_free(job *j)
{
    if (j == NULL) {
        return;
    }
    for (size_t i = 0; i < j->nt; i++) {
        target_clear(&j->t[i]);
    }
    free(j->t);
    free(j->ok);
    free(j);
}

static target *find_seq(authd_revoke *r, unsigned long long seq)
{
    for (size_t i = 0; i < r->nt; i++) {
        if (r->t[i].seq == seq) {
            return &r->t[i];
        }
    }
    return NULL;
}

/* A finished pass: retire the targets it settled, log its failure. */
static void collect(authd_revoke *r, uint64_t now)
{
    job *j = r->job;
    size_t w = 0;

    for (size_t i = 0; i < j->nt; i++) {
        target *t = find_seq(r, j->t[i].seq);
        if (t == NULL) {
            continue;
        }
        if (j->ok[i]) {
            t->queues = 0; /* deleted once: a new session may follow */
        }
        if (!j->ok[i]) {
            t->due_ms = now + (uint64_t)r->cfg.retry_s * 1000u;
        } else if (j->started_ms >= t->made_ms + RECHECK_MS) {
            t->due_ms = 0; /* settled */
        } else {
            t->due_ms = now + (uint64_t)r->cfg.retry_s * 1000u;
        }
    }
    for (size_t i = 0; i < r->nt; i++) {
        if (r->t[i].due_ms == 0) {
            target_clear(&r->t[i]);
        } else {
            r->t[w++] = r->t[i];
        }
    }
    r->nt = w;
    if (j->err[0] != '\0') {
        r->fails++;
        /* Loud, but not once a second for a long outage. */
        if (strcmp(j->err, r->last_err) != 0 ||
            now >= r->last_err_ms + FAIL_LOG_EVERY_MS) {
            authd_logf(r->d, SECMQ_SVC_ERR,
                       "%s; %zu revocations pending, trying again every %ld s "
                       "(%lu failed passes)",
                       j->err, r->nt, r->cfg.retry_s, r->fails);
            (void)snprintf(r->last_err, sizeof r->last_err, "%s", j->err);
            r->last_err_ms = now;
        }
    } else {
        if (r->fails > 0) {
            authd_logf(
                r->d, SECMQ_SVC_NOTICE,
                "the RabbitMQ management API works again (after %lu failed "
                "passes)",
                r->fails);
        }
        r->fails = 0;
        r->last_err[0] = '\0';
    }
    job_free(j);
    r->job = NULL;
}

static void start(authd_revoke *r, uint64_t now)
{
    job *j = calloc(1, sizeof *j);
    size_t due = 0;

    for (size_t i = 0; i < r->nt; i++) {
        due += r->t[i].due_ms <= now;
    }
    if (j == NULL || due == 0) {
        free(j);
        return;
    }
    j->t = calloc(due, sizeof *j->t);
    j->ok = calloc(due, sizeof *j->ok);
    if (j->t == NULL || j->ok == NULL) {
        job_free(j);
        return;
    }
    for (size_t i = 0; i < r->nt; i++) {
        if (r->t[i].due_ms <= now && target_copy(&j->t[j->nt], &r->t[i]) == 0) {
            j->nt++;
        }
    }
    j->d = r->d;
    j->api = r->cfg.api;
    j->creds_path = r->cfg.creds_path;
    j->vhost = r->d->vhost;
    j->started_ms = now;
    j->stop = &r->stop;
    r->job = j;
    r->done = 0;
    if (pthread_create(&r->th, NULL, worker, r) != 0) {
        authd_logf(r->d, SECMQ_SVC_ERR,
                   "cannot start a thread to close "
                   "connections; trying again later");
        job_free(j);
        r->job = NULL;
        return;
    }
    r->running = 1;
}

void authd_revoke_tick(authd_revoke *r)
{
    uint64_t now = secmq__mono_ms();
    int done;

    if (r == NULL) {
        return;
    }
    if (r->running) {
        (void)pthread_mutex_lock(&r->mu);
        done = r->done;
        (void)pthread_mutex_unlock(&r->mu);
        if (!done) {
            return;
        }
        (void)pthread_join(r->th, NULL);
        r->running = 0;
        collect(r, now);
    }
    if (r->nt > 0) {
        start(r, now);
    }
}

void authd_revoke_answer(authd_revoke *r, authd_kind kind,
                         const authd_form *form)
{
    if (r != NULL) {
        authd_remember_answer(r->mem, kind, form);
    }
}

size_t authd_revoke_pending(const authd_revoke *r)
{
    return r != NULL ? r->nt : 0;
}

authd_revoke *authd_revoke_new(authd *d, const authd_revoke_cfg *cfg, char *err,
                               size_t errlen)
{
    authd_revoke *r = calloc(1, sizeof *r);

    if (r == NULL || pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->d = d;
    r->cfg = *cfg;
    atomic_init(&r->stop, 0);
    r->mem = authd_remember_new(cfg->remember_max);
    if (r->mem == NULL) {
        (void)pthread_mutex_destroy(&r->mu);
        free(r);
        (void)snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return r;
}

void authd_revoke_free(authd_revoke *r)
{
    if (r == NULL) {
        return;
    }
    if (r->running) {
        /* The request under way ends within its timeouts; no other
         * starts. */
        atomic_store(&r->stop, 1);
        (void)pthread_join(r->th, NULL);
        job_free(r->job);
    }
    for (size_t i = 0; i < r->nt; i++) {
        target_clear(&r->t[i]);
    }
    free(r->t);
    authd_remember_free(r->mem);
    (void)pthread_mutex_destroy(&r->mu);
    free(r);
}
