/*
 * error.c -- return codes as sentences, the per-client error slot, logging.
 *
 * Every SECMQ_E_* code gets one sentence here. A client's detail message
 * names the foreign cause (wolfSSL, errno, the broker's reason); this file
 * only stores and copies it. Library start-up (secmq_init) lives here too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "secmq_int.h"
#include "tls_int.h"

const char *secmq_strerror(int rc)
{
    switch (rc) {
    case SECMQ_OK:
        return "success";
    case SECMQ_E_INVAL:
        return "invalid argument";
    case SECMQ_E_NOMEM:
        return "out of memory";
    case SECMQ_E_STATE:
        return "call not valid in this state";
    case SECMQ_E_IO:
        return "input/output error";
    case SECMQ_E_TIMEOUT:
        return "timed out";
    case SECMQ_E_NO_CONN:
        return "not connected";
    case SECMQ_E_CONN_REFUSED:
        return "connection refused";
    case SECMQ_E_CONN_LOST:
        return "connection lost";
    case SECMQ_E_DNS:
        return "host name lookup failed";
    case SECMQ_E_TLS:
        return "TLS failure";
    case SECMQ_E_TLS_CA:
        return "broker certificate is not from a trusted CA";
    case SECMQ_E_TLS_HOSTNAME:
        return "broker certificate does not match the host name";
    case SECMQ_E_TLS_EXPIRED:
        return "certificate expired or not yet valid";
    case SECMQ_E_TLS_PIN:
        return "broker public key does not match the pin";
    case SECMQ_E_AUTH:
        return "bad username or password";
    case SECMQ_E_NOT_AUTHORIZED:
        return "not authorised";
    case SECMQ_E_REFUSED:
        return "broker refused the connection";
    case SECMQ_E_PROTOCOL:
        return "MQTT protocol error";
    case SECMQ_E_OVERSIZE:
        return "message too large";
    case SECMQ_E_CONFIG:
        return "configuration error";
    case SECMQ_E_OPEN:
        return "message could not be opened";
    case SECMQ_E_KEYRING:
        return "keyring error";
    case SECMQ_E_NO_KEY:
        return "no channel key for this topic";
    case SECMQ_E_PLAINTEXT:
        return "plaintext refused on a topic protected by a channel";
    case SECMQ_E_FULL:
        return "outbox full";
    case SECMQ_E_DB:
        return "not a usable database file (foreign, corrupt or another "
               "version)";
    case SECMQ_E_BUSY:
        return "file in use by another process";
    case SECMQ_E_QOS_UNSUPPORTED:
        return "the broker does not support QoS 2";
    case SECMQ_E_NO_RECEIPT:
        return "no end-to-end receipt in time";
    default:
        return "unknown error";
    }
}

const char *secmq_version(void)
{
    return SECMQ_VERSION_STRING;
}

size_t secmq_dependency_versions(char *buf, size_t len)
{
    char tmp[256];
    int major = 0, minor = 0, revision = 0;
    int n;

    secmq__mqtt_lib_version(&major, &minor, &revision);
    n = snprintf(tmp, sizeof tmp,
                 "libmosquitto %d.%d.%d, wolfSSL %s, libsodium %s", major,
                 minor, revision, secmq__tls_lib_version(),
                 sodium_version_string());
    if (n < 0) {
        n = 0;
        tmp[0] = '\0';
    }
    if (buf != NULL && len > 0) {
        snprintf(buf, len, "%s", tmp);
    }
    return (size_t)n;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = SECMQ_E_IO;

static void init_libraries(void)
{
    if (sodium_init() < 0) {
        return;
    }
    if (secmq__tls_global_init() != 0) {
        return;
    }
    init_rc = SECMQ_OK;
}

int secmq_init(void)
{
    if (pthread_once(&init_once, init_libraries) != 0) {
        return SECMQ_E_IO;
    }
    return init_rc;
}

void secmq__err_init(secmq__err *e)
{
    pthread_mutex_init(&e->lock, NULL);
    e->code = SECMQ_OK;
    e->msg[0] = '\0';
}

void secmq__err_destroy(secmq__err *e)
{
    pthread_mutex_destroy(&e->lock);
}

int secmq__err_vset(secmq__err *e, int code, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&e->lock);
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    pthread_mutex_unlock(&e->lock);
    return code;
}

int secmq__err_set(secmq__err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    secmq__err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

size_t secmq__err_copy(secmq__err *e, char *buf, size_t len)
{
    size_t n;

    pthread_mutex_lock(&e->lock);
    n = strlen(e->msg);
    if (buf != NULL && len > 0) {
        size_t k = n < len - 1 ? n : len - 1;
        memcpy(buf, e->msg, k);
        buf[k] = '\0';
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

void secmq__say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void secmq__log_write(const secmq__log *log, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log != NULL && log->fn != NULL) {
        log->fn(log->ctx, level, line);
    } else if (level <= SECMQ_LOG_WARNING) {
        fprintf(stderr, "secmq: %s\n", line);
    }
}

int secmq__strdup_opt(char **out, const char *s)
{
    size_t n;

    *out = NULL;
    if (s == NULL) {
        return 0;
    }
    n = strlen(s) + 1;
    *out = malloc(n);
    if (*out == NULL) {
        return -1;
    }
    memcpy(*out, s, n);
    return 0;
}
