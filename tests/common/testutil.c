/*
 * testutil.c -- the shared part of secmq's C integration tests: reading the
 * SECMQ_TEST_* environment from with_broker.py, a client whose callbacks
 * record what they see, bounded waits on that record, the CHECK failure
 * counter, and the unit tests' temporary directory and file helpers.
 * Everything that waits takes a time limit.
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int check_failures = 0;
const char *check_current = "";

void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: [%s] FAIL: ", file, line, check_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    check_failures++;
}

int check_contains(const char *haystack, const char *needle, int nocase)
{
    size_t hl, nl, i, j;

    if (haystack == NULL || needle == NULL) {
        return 0;
    }
    hl = strlen(haystack);
    nl = strlen(needle);
    for (i = 0; i + nl <= hl; i++) {
        for (j = 0; j < nl; j++) {
            int a = (unsigned char)haystack[i + j];
            int b = (unsigned char)needle[j];
            if (nocase) {
                a = tolower(a);
                b = tolower(b);
            }
            if (a != b) {
                break;
            }
        }
        if (j == nl) {
            return 1;
        }
    }
    return 0;
}

int check_exit(void)
{
    if (check_failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", check_failures);
        return 1;
    }
    fprintf(stderr, "all checks passed\n");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Environment                                                            */
/* ---------------------------------------------------------------------- */

const char *tu_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        fprintf(stderr,
                "%s is not set: run this test through "
                "tests/harness/with_broker.py\n",
                name);
        exit(2);
    }
    return v;
}

int tu_env_port(const char *name)
{
    const char *v = tu_env(name);
    char *end = NULL;
    long port;

    errno = 0;
    port = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "%s=%s is not a port\n", name, v);
        exit(2);
    }
    return (int)port;
}

const char *tu_path(char *buf, size_t len, const char *dir_var,
                    const char *file)
{
    int n = snprintf(buf, len, "%s/%s", tu_env(dir_var), file);

    if (n < 0 || (size_t)n >= len) {
        fprintf(stderr, "path too long: %s/%s\n", tu_env(dir_var), file);
        exit(2);
    }
    return buf;
}

void tu_config(secmq_config *cfg, const char *user)
{
    char var[64];
    size_t i;

    secmq_config_init(cfg);
    cfg->host = tu_env("SECMQ_TEST_HOST");
    cfg->port = tu_env_port("SECMQ_TEST_PORT");
    cfg->tls.cafile = tu_env("SECMQ_TEST_CAFILE");
    cfg->connect_timeout_ms = 5000;
    if (user == NULL) {
        return;
    }
    snprintf(var, sizeof(var), "SECMQ_TEST_USER_%s", user);
    for (i = strlen("SECMQ_TEST_USER_"); var[i] != '\0'; i++) {
        var[i] = (char)toupper((unsigned char)var[i]);
    }
    cfg->username = tu_env(var);
    memcpy(var + strlen("SECMQ_TEST_"), "PASS", 4);
    cfg->password = tu_env(var);
}

/* ---------------------------------------------------------------------- */
/* Recording client                                                       */
/* ---------------------------------------------------------------------- */

static void enter(tu_client *t)
{
    pthread_mutex_lock(&t->mu);
}

static void leave(tu_client *t)
{
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_connect(secmq_client *c, void *user, int rc, int reason,
                       int session_present)
{
    tu_client *t = user;

    (void)c;
    enter(t);
    t->connects++;
    t->connect_rc = rc;
    t->connect_reason = reason;
    t->session_present = session_present;
    leave(t);
}

static void on_disconnect(secmq_client *c, void *user, int rc)
{
    tu_client *t = user;

    (void)c;
    enter(t);
    t->disconnects++;
    t->disconnect_rc = rc;
    leave(t);
}

static void on_message(secmq_client *c, void *user, const secmq_message *msg)
{
    tu_client *t = user;
    tu_msg *m;
    size_t tl;

    (void)c;
    enter(t);
    if (t->nmsgs == t->capmsgs) {
        size_t cap = t->capmsgs ? t->capmsgs * 2 : 64;
        tu_msg *n = realloc(t->msgs, cap * sizeof(*n));
        if (n == NULL) {
            fprintf(stderr, "out of memory recording a message\n");
            abort();
        }
        t->msgs = n;
        t->capmsgs = cap;
    }
    m = &t->msgs[t->nmsgs];
    memset(m, 0, sizeof(*m));
    tl = strlen(msg->topic);
    m->topic = malloc(tl + 1);
    m->payload = malloc(msg->payloadlen + 1);
    if (m->topic == NULL || m->payload == NULL) {
        fprintf(stderr, "out of memory recording a message\n");
        abort();
    }
    memcpy(m->topic, msg->topic, tl + 1);
    if (msg->payloadlen > 0) {
        memcpy(m->payload, msg->payload, msg->payloadlen);
    }
    m->payload[msg->payloadlen] = '\0';
    m->payloadlen = msg->payloadlen;
    m->qos = msg->qos;
    m->retain = msg->retain;
    m->mid = msg->mid;
    m->nul_terminated =
        msg->payload == NULL
            ? msg->payloadlen == 0
            : ((const unsigned char *)msg->payload)[msg->payloadlen] == 0;
    t->nmsgs++;
    leave(t);
}

static void on_publish(secmq_client *c, void *user, int mid, int rc)
{
    tu_client *t = user;

    (void)c;
    (void)mid;
    enter(t);
    t->published++;
    if (rc != SECMQ_OK) {
        t->publish_errors++;
    }
    leave(t);
}

static void on_subscribe(secmq_client *c, void *user, int mid, int count,
                         const int *granted)
{
    tu_client *t = user;
    int i;

    (void)c;
    (void)mid;
    enter(t);
    t->subacks++;
    t->granted_count = count;
    for (i = 0; i < count && i < 8; i++) {
        t->granted[i] = granted[i];
    }
    leave(t);
}

static void on_unsubscribe(secmq_client *c, void *user, int mid)
{
    tu_client *t = user;

    (void)c;
    (void)mid;
    enter(t);
    t->unsubacks++;
    leave(t);
}

int tu_client_new(tu_client *t, const secmq_config *cfg)
{
    int rc;

    memset(t, 0, sizeof(*t));
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&t->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_mutex_init(&t->mu, NULL);
    rc = secmq_client_new(&t->c, cfg, t);
    if (rc != SECMQ_OK) {
        return rc;
    }
    secmq_client_on_connect(t->c, on_connect);
    secmq_client_on_disconnect(t->c, on_disconnect);
    secmq_client_on_message(t->c, on_message);
    secmq_client_on_publish(t->c, on_publish);
    secmq_client_on_subscribe(t->c, on_subscribe);
    secmq_client_on_unsubscribe(t->c, on_unsubscribe);
    return SECMQ_OK;
}

void tu_client_free(tu_client *t)
{
    size_t i;

    if (t->c != NULL) {
        secmq_client_free(t->c);
        t->c = NULL;
    }
    for (i = 0; i < t->nmsgs; i++) {
        free(t->msgs[i].topic);
        free(t->msgs[i].payload);
    }
    free(t->msgs);
    t->msgs = NULL;
    t->nmsgs = t->capmsgs = 0;
}

int tu_connect(tu_client *t, int timeout_ms)
{
    int rc = secmq_client_connect(t->c);

    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq_client_loop_start(t->c);
    if (rc != SECMQ_OK) {
        return rc;
    }
    return secmq_client_wait_connected(t->c, timeout_ms);
}

int tu_attempt(tu_client *t, const secmq_config *cfg, int timeout_ms)
{
    int rc = tu_client_new(t, cfg);

    if (rc != SECMQ_OK) {
        return rc;
    }
    rc = secmq_client_connect(t->c);
    if (rc != SECMQ_OK) {
        return rc;
    }
    return secmq_client_wait_connected(t->c, timeout_ms);
}

int tu_connect_cfg(tu_client *t, const secmq_config *cfg, const char *label)
{
    int rc = tu_client_new(t, cfg);

    if (rc == SECMQ_OK) {
        rc = tu_connect(t, TU_WAIT_MS);
    }
    if (rc != SECMQ_OK) {
        fprintf(stderr, "%s: connect: %s: %s\n", label, tu_rc_name(rc),
                tu_errmsg(t));
    }
    return rc;
}

int tu_connect_as(tu_client *t, const char *user, const char *prefix)
{
    secmq_config cfg;

    tu_config(&cfg, user);
    cfg.client_id = tu_id(prefix);
    return tu_connect_cfg(t, &cfg, prefix);
}

/* Waits until *counter >= n; counter points into t. */
static int wait_for(tu_client *t, const void *counter, int is_size, long long n,
                    int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    for (;;) {
        long long v = is_size ? (long long)*(const size_t *)counter
                              : (long long)*(const int *)counter;
        if (v >= n) {
            rc = 0;
            break;
        }
        if (pthread_cond_timedwait(&t->cv, &t->mu, &deadline) == ETIMEDOUT) {
            v = is_size ? (long long)*(const size_t *)counter
                        : (long long)*(const int *)counter;
            rc = v >= n ? 0 : -1;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int tu_subscribe(tu_client *t, const char *filter, int qos, int timeout_ms)
{
    int before, rc, granted;

    pthread_mutex_lock(&t->mu);
    before = t->subacks;
    pthread_mutex_unlock(&t->mu);
    rc = secmq_client_subscribe(t->c, NULL, filter, qos);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (wait_for(t, &t->subacks, 0, before + 1, timeout_ms) != 0) {
        return SECMQ_E_TIMEOUT;
    }
    pthread_mutex_lock(&t->mu);
    granted = t->granted_count >= 1 ? t->granted[0] : -1;
    pthread_mutex_unlock(&t->mu);
    return granted;
}

int tu_unsubscribe(tu_client *t, const char *filter, int timeout_ms)
{
    int before, rc;

    pthread_mutex_lock(&t->mu);
    before = t->unsubacks;
    pthread_mutex_unlock(&t->mu);
    rc = secmq_client_unsubscribe(t->c, NULL, filter);
    if (rc != SECMQ_OK) {
        return rc;
    }
    if (wait_for(t, &t->unsubacks, 0, before + 1, timeout_ms) != 0) {
        return SECMQ_E_TIMEOUT;
    }
    return SECMQ_OK;
}

int tu_wait_msgs(tu_client *t, size_t n, int timeout_ms)
{
    return wait_for(t, &t->nmsgs, 1, (long long)n, timeout_ms);
}

int tu_wait_published(tu_client *t, int n, int timeout_ms)
{
    return wait_for(t, &t->published, 0, n, timeout_ms);
}

int tu_wait_connects(tu_client *t, int n, int timeout_ms)
{
    return wait_for(t, &t->connects, 0, n, timeout_ms);
}

int tu_wait_disconnects(tu_client *t, int n, int timeout_ms)
{
    return wait_for(t, &t->disconnects, 0, n, timeout_ms);
}

size_t tu_nmsgs(tu_client *t)
{
    size_t n;

    pthread_mutex_lock(&t->mu);
    n = t->nmsgs;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int tu_published(tu_client *t)
{
    int n;

    pthread_mutex_lock(&t->mu);
    n = t->published;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int tu_connects(tu_client *t)
{
    int n;

    pthread_mutex_lock(&t->mu);
    n = t->connects;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int tu_disconnects(tu_client *t)
{
    int n;

    pthread_mutex_lock(&t->mu);
    n = t->disconnects;
    pthread_mutex_unlock(&t->mu);
    return n;
}

const char *tu_errmsg(tu_client *t)
{
    static char buf[SECMQ_ERRMSG_BYTES];

    buf[0] = '\0';
    if (t->c != NULL) {
        secmq_client_errmsg(t->c, buf, sizeof(buf));
    }
    return buf;
}

void tu_sleep_ms(int ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long long tu_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tu_threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    char path[300], comm[64];
    FILE *f;
    int n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        f = fopen(path, "r");
        if (f == NULL) {
            continue; /* a thread that just ended */
        }
        if (fgets(comm, sizeof comm, f) != NULL) {
            comm[strcspn(comm, "\n")] = '\0';
            n += strcmp(comm, name) == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

const char *tu_id(const char *prefix)
{
    static char bufs[8][64];
    static atomic_int next;
    int n = atomic_fetch_add(&next, 1);
    char *b = bufs[n % 8];

    snprintf(b, sizeof(bufs[0]), "%s-%ld-%d", prefix, (long)getpid(), n);
    return b;
}

static char tmpdir[256];

int tu_tmpdir_make(const char *name)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/secmq-%.200s-XXXXXX", name);
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

const char *tu_tmpdir(void)
{
    return tmpdir;
}

const char *tu_at(const char *name)
{
    static char bufs[8][512];
    static atomic_int next;
    char *b = bufs[atomic_fetch_add(&next, 1) % 8];

    snprintf(b, sizeof bufs[0], "%.255s/%.250s", tmpdir, name);
    return b;
}

void tu_tmpdir_done(const char *what)
{
    if (check_failures == 0 && getenv("SECMQ_TEST_KEEP") == NULL) {
        char cmd[300];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmpdir);
        }
    } else {
        fprintf(stderr, "%s kept in %s\n", what, tmpdir);
    }
}

int tu_read_file(const char *path, unsigned char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;

    *data = NULL;
    if (f == NULL) {
        return -1;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)n + 1);
    if (*data == NULL || fread(*data, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*data);
        *data = NULL;
        return -1;
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL) {
        return -1;
    }
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

int tu_identity_make(const char *name)
{
    char err[SECMQ_ERRMSG_BYTES], text[512], pub[300];
    size_t n = 0;

    if (secmq_identity_create(tu_at(name), name, err, sizeof err) != SECMQ_OK ||
        secmq_identity_export(tu_at(name), text, sizeof text, &n, err,
                              sizeof err) != SECMQ_OK) {
        fprintf(stderr, "identity %s: %s\n", name, err);
        return -1;
    }
    snprintf(pub, sizeof pub, "%s.pub", name);
    return tu_write_file(tu_at(pub), text, n);
}

secmq_keyring *tu_keyring_open(const char *name)
{
    char err[SECMQ_ERRMSG_BYTES];
    secmq_keyring *kr = NULL;

    if (secmq_keyring_open(&kr, tu_at(name), err, sizeof err) != SECMQ_OK) {
        fprintf(stderr, "open %s: %s\n", name, err);
        return NULL;
    }
    return kr;
}

int tu_status_world(void)
{
    char err[SECMQ_ERRMSG_BYTES];
    const char *pubs[1], *subs[1], *files[2];
    secmq_channel_spec spec;

    if (tu_identity_make("sam") != 0 || tu_identity_make("alice") != 0) {
        return -1;
    }
    pubs[0] = tu_at("sam.pub");
    subs[0] = tu_at("alice.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = "status";
    spec.publishers = pubs;
    spec.n_publishers = 1;
    spec.subscribers = subs;
    spec.n_subscribers = 1;
    if (secmq_channel_create(tu_at("sam"), &spec, tu_at("g"), NULL, NULL, err,
                             sizeof err) != SECMQ_OK) {
        fprintf(stderr, "channel: %s\n", err);
        return -1;
    }
    files[0] = tu_at("sam.pub");
    files[1] = tu_at("g/alice.grant");
    if (secmq_keyring_import(tu_at("alice"), files, 2, NULL, NULL, err,
                             sizeof err) != SECMQ_OK) {
        fprintf(stderr, "import: %s\n", err);
        return -1;
    }
    return 0;
}

int tu_kill_after(int n, int (*step)(int i, void *user), void *user)
{
    int fds[2], got = 0, status = 0;
    pid_t pid;
    char c;

    if (pipe(fds) != 0) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        for (int i = 0; i < n; i++) {
            if (step(i, user) != 0) {
                _exit(3);
            }
            if (write(fds[1], "k", 1) != 1) {
                _exit(4);
            }
        }
        for (;;) {
            pause();
        }
    }
    close(fds[1]);
    while (got < n && read(fds[0], &c, 1) == 1) {
        got++;
    }
    /* Killed as soon as the last step returned. */
    kill(pid, SIGKILL);
    close(fds[0]);
    if (waitpid(pid, &status, 0) != pid || got != n || !WIFSIGNALED(status) ||
        WTERMSIG(status) != SIGKILL) {
        fprintf(stderr, "child: %d of %d steps, status 0x%x\n", got, n,
                (unsigned)status);
        return -1;
    }
    return 0;
}

const char *tu_rc_name(int rc)
{
    switch (rc) {
    case SECMQ_OK:
        return "SECMQ_OK";
    case SECMQ_E_INVAL:
        return "SECMQ_E_INVAL";
    case SECMQ_E_NOMEM:
        return "SECMQ_E_NOMEM";
    case SECMQ_E_STATE:
        return "SECMQ_E_STATE";
    case SECMQ_E_IO:
        return "SECMQ_E_IO";
    case SECMQ_E_TIMEOUT:
        return "SECMQ_E_TIMEOUT";
    case SECMQ_E_NO_CONN:
        return "SECMQ_E_NO_CONN";
    case SECMQ_E_CONN_REFUSED:
        return "SECMQ_E_CONN_REFUSED";
    case SECMQ_E_CONN_LOST:
        return "SECMQ_E_CONN_LOST";
    case SECMQ_E_DNS:
        return "SECMQ_E_DNS";
    case SECMQ_E_TLS:
        return "SECMQ_E_TLS";
    case SECMQ_E_TLS_CA:
        return "SECMQ_E_TLS_CA";
    case SECMQ_E_TLS_HOSTNAME:
        return "SECMQ_E_TLS_HOSTNAME";
    case SECMQ_E_TLS_EXPIRED:
        return "SECMQ_E_TLS_EXPIRED";
    case SECMQ_E_TLS_PIN:
        return "SECMQ_E_TLS_PIN";
    case SECMQ_E_AUTH:
        return "SECMQ_E_AUTH";
    case SECMQ_E_NOT_AUTHORIZED:
        return "SECMQ_E_NOT_AUTHORIZED";
    case SECMQ_E_REFUSED:
        return "SECMQ_E_REFUSED";
    case SECMQ_E_PROTOCOL:
        return "SECMQ_E_PROTOCOL";
    case SECMQ_E_OVERSIZE:
        return "SECMQ_E_OVERSIZE";
    case SECMQ_E_CONFIG:
        return "SECMQ_E_CONFIG";
    default:
        return "(not a SECMQ code)";
    }
}
