/*
 * bench_connect.c -- connect rate: MQTT 3.1.1 CONNECT .. CONNACK ..
 * DISCONNECT over plain loopback TCP, each attempt timed.
 *
 * The two packets are built here by hand (a few bytes of framing) so that
 * no client library's start-up (threads, allocations, timers) is in the
 * measured time: what is measured is the broker's side of a login, its
 * password check included. Not an MQTT client: it sends CONNECT and
 * DISCONNECT and reads one CONNACK, nothing else.
 */
#include "bench.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNACK_TIMEOUT_MS 10000
#define KEEPALIVE_S 60
#define FIELD_MAX 1024u /* longest client id, username or password */
#define PACKET_MAX (16u + 3u * (2u + FIELD_MAX))

/* One client thread's share of a row. */
typedef struct conn_worker {
    pthread_t th;
    int started;
    const struct sockaddr_storage *addr;
    socklen_t addrlen;
    const struct sockaddr_storage *src; /* bind to it first; NULL: no */
    socklen_t srclen;
    const bench_login *login;
    int index;
    long count;        /* attempts to make at most */
    uint64_t deadline; /* no new attempt after this */
    uint64_t pause_ns; /* between attempts */
    int tolerant;      /* a failed local socket call counts as failed */
    volatile int *stop;
    uint64_t *lat_ns; /* count entries, owned by the row */
    long attempts;
    long accepted;
    long refused;
    long failed;
    int capped;
    char err[BENCH_WHY_BYTES]; /* "" unless a socket call failed */
} conn_worker;

/* A running set of client threads (bench_connect_bg_start). Heap
 * allocated: the workers point into it. */
struct bench_connect_bg {
    conn_worker w[BENCH_FLOOD_MAX_THREADS];
    int n;
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct sockaddr_storage src;
    socklen_t srclen;
    uint64_t *all;
    long count;
    volatile int stop;
    uint64_t t0;
    const bench_broker *broker;
    double bcpu0;
};

/* Appends a 2-byte length and s to p; returns the new end. */
static unsigned char *put_str(unsigned char *p, const char *s, size_t len)
{
    p[0] = (unsigned char)(len >> 8);
    p[1] = (unsigned char)(len & 0xffu);
    memcpy(p + 2, s, len);
    return p + 2 + len;
}

/* Builds a CONNECT (MQTT 3.1.1, clean session, keepalive 60 s, username
 * and password when login has them) into buf (PACKET_MAX bytes).
 * Returns its length, or 0 when a field is too long. */
static size_t build_connect(unsigned char *buf, const char *id,
                            const bench_login *login)
{
    size_t idl = strlen(id);
    size_t ul =
        login != NULL && login->username != NULL ? strlen(login->username) : 0;
    size_t pl =
        login != NULL && login->password != NULL ? strlen(login->password) : 0;
    size_t rem, n;
    unsigned char body[PACKET_MAX];
    unsigned char *p = body;
    unsigned char flags = 0x02; /* clean session */

    if (idl > FIELD_MAX || ul > FIELD_MAX || pl > FIELD_MAX) {
        return 0;
    }
    if (ul > 0) {
        flags |= 0x80;
        if (login->password != NULL) {
            flags |= 0x40;
        }
    }
    p = put_str(p, "MQTT", 4);
    *p++ = 4; /* protocol level: 3.1.1 */
    *p++ = flags;
    *p++ = 0;
    *p++ = KEEPALIVE_S;
    p = put_str(p, id, idl);
    if (ul > 0) {
        p = put_str(p, login->username, ul);
        if (login->password != NULL) {
            p = put_str(p, login->password, pl);
        }
    }
    rem = (size_t)(p - body);
    /* Fixed header: type and a variable-length remaining length. */
    n = 0;
    buf[n++] = 0x10;
    do {
        unsigned char b = (unsigned char)(rem % 128u);

        rem /= 128u;
        buf[n++] = rem > 0 ? (unsigned char)(b | 0x80u) : b;
    } while (rem > 0 && n < 5);
    memcpy(buf + n, body, (size_t)(p - body));
    return n + (size_t)(p - body);
}

static int send_all(int fd, const unsigned char *p, size_t len)
{
    ssize_t w;
    int tries = 0;

    /* A CONNECT fits a socket buffer; allow a few short writes. */
    while (len > 0 && tries++ < 100) {
        w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return len == 0 ? 0 : -1;
}

/* Reads the 4-byte CONNACK, at most CONNACK_TIMEOUT_MS. Returns its return
 * code (0..255), or -1 when the broker closed, reset or did not answer. */
static int read_connack(int fd)
{
    unsigned char b[4];
    size_t got = 0;
    uint64_t deadline =
        bench_now_ns() + (uint64_t)CONNACK_TIMEOUT_MS * 1000000u;
    struct pollfd pfd;
    ssize_t r;
    uint64_t now;
    int i;

    for (i = 0; i < 1000 && got < sizeof(b); i++) {
        now = bench_now_ns();
        if (now >= deadline || bench_interrupted) {
            return -1;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) <= 0) {
            continue;
        }
        r = recv(fd, b + got, sizeof(b) - got, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        got += (size_t)r;
    }
    if (got < sizeof(b) || b[0] != 0x20 || b[1] != 0x02) {
        return -1;
    }
    return b[3];
}

/* One attempt. Returns 0 accepted, 1 refused, 2 failed (no CONNACK), or
 * -1 with w->err when a local socket call failed. *ns: connect .. CONNACK. */
static int attempt(conn_worker *w, long i, uint64_t *ns)
{
    static const unsigned char disconnect[2] = {0xe0, 0x00};
    unsigned char pkt[PACKET_MAX];
    char id[64];
    uint64_t t0;
    size_t len;
    int fd, one = 1, rc;

    snprintf(id, sizeof(id), "bc-%ld-%d-%ld", (long)getpid(), w->index, i);
    len = build_connect(pkt, id, w->login);
    if (len == 0) {
        snprintf(w->err, sizeof(w->err), "username or password too long");
        return -1;
    }
    t0 = bench_now_ns();
    fd = socket(w->addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(w->err, sizeof(w->err), "socket: %s", strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (w->tolerant) {
        /* Thousands of connects a second from one address: close with a
         * reset, so no TIME_WAIT uses up the source ports. */
        struct linger lg = {1, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    if (w->src != NULL) {
        /* The port is chosen at connect, per destination. */
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof(one));
        if (bind(fd, (const struct sockaddr *)w->src, w->srclen) != 0) {
            snprintf(w->err, sizeof(w->err), "bind: %s", strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (const struct sockaddr *)w->addr, w->addrlen) != 0) {
        snprintf(w->err, sizeof(w->err), "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (send_all(fd, pkt, len) != 0) {
        close(fd);
        *ns = bench_now_ns() - t0;
        return 2;
    }
    rc = read_connack(fd);
    *ns = bench_now_ns() - t0;
    if (rc == 0) {
        /* Best effort: the broker ends the session either way. */
        (void)send_all(fd, disconnect, sizeof(disconnect));
    }
    close(fd);
    return rc == 0 ? 0 : rc > 0 ? 1 : 2;
}

static void *worker_main(void *arg)
{
    conn_worker *w = arg;
    uint64_t ns = 0;
    long i;
    int r;

    for (i = 0; i < w->count && !bench_interrupted && !w->stop[0]; i++) {
        if (bench_now_ns() >= w->deadline) {
            w->capped = 1;
            break;
        }
        if (i > 0 && w->pause_ns > 0) {
            struct timespec ts = {(time_t)(w->pause_ns / 1000000000u),
                                  (long)(w->pause_ns % 1000000000u)};
            (void)nanosleep(&ts, NULL);
        }
        r = attempt(w, i, &ns);
        if (r < 0 && w->tolerant) {
            /* Out of ports or descriptors for a moment: count it, pause
             * a millisecond, carry on. */
            struct timespec ts = {0, 1000000L};
            w->err[0] = '\0';
            w->failed++;
            (void)nanosleep(&ts, NULL);
            continue;
        }
        if (r < 0) {
            break;
        }
        w->lat_ns[w->attempts++] = ns;
        if (r == 0) {
            w->accepted++;
        } else if (r == 1) {
            w->refused++;
        } else {
            w->failed++;
        }
    }
    return NULL;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss,
                   socklen_t *len, char *err, size_t errlen)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char serv[16];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(serv, sizeof(serv), "%d", port);
    rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
        snprintf(err, errlen, "cannot resolve %s: %s", host,
                 rc != 0 ? gai_strerror(rc) : "no address");
        if (res != NULL) {
            freeaddrinfo(res);
        }
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int bg_finish(bench_connect_bg *bg, int stop_now, bench_connect_row *out,
                     char *err, size_t errlen);

int bench_connect_bg_start(bench_connect_bg **out, const char *host, int port,
                           const bench_connect_spec *spec,
                           const bench_broker *broker, char *err, size_t errlen)
{
    bench_connect_bg *bg;
    long share;
    int k;

    *out = NULL;
    if (spec->threads < 1 || spec->threads > BENCH_FLOOD_MAX_THREADS ||
        spec->count < 1) {
        snprintf(err, errlen, "connect row: bad thread count or count");
        return -1;
    }
    bg = calloc(1, sizeof(*bg));
    if (bg == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (resolve(host, port, &bg->ss, &bg->sslen, err, errlen) != 0 ||
        (spec->from != NULL &&
         resolve(spec->from, 0, &bg->src, &bg->srclen, err, errlen) != 0)) {
        free(bg);
        return -1;
    }
    bg->all = calloc((size_t)spec->count, sizeof(*bg->all));
    if (bg->all == NULL) {
        free(bg);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bg->count = spec->count;
    bg->broker = broker;
    /* Each thread writes its own slice of all. */
    share = spec->count / spec->threads;
    bg->bcpu0 = bench_broker_cpu_s(broker);
    bg->t0 = bench_now_ns();
    for (k = 0; k < spec->threads; k++) {
        conn_worker *w = &bg->w[k];
        w->addr = &bg->ss;
        w->addrlen = bg->sslen;
        w->src = spec->from != NULL ? &bg->src : NULL;
        w->srclen = bg->srclen;
        w->login = spec->login;
        w->index = spec->id_base + k;
        w->count = k == spec->threads - 1 ? spec->count - share * k : share;
        w->deadline = bg->t0 + (uint64_t)(spec->cap_s * 1e9);
        w->pause_ns = (uint64_t)spec->pause_ms * 1000000u;
        w->tolerant = spec->tolerant;
        w->stop = &bg->stop;
        w->lat_ns = bg->all + share * k;
        if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
            snprintf(err, errlen, "pthread_create failed");
            bg->stop = 1;
            break;
        }
        w->started = 1;
        bg->n = k + 1;
    }
    if (bg->n < spec->threads) {
        (void)bg_finish(bg, 1, NULL, NULL, 0);
        return -1;
    }
    *out = bg;
    return 0;
}

/* Joins the threads (told to stop first when stop_now), fills out (may be
 * NULL) and frees bg. */
static int bg_finish(bench_connect_bg *bg, int stop_now, bench_connect_row *out,
                     char *err, size_t errlen)
{
    uint64_t t1;
    double bcpu1, sum = 0.0;
    long n = 0, i;
    int k, rc = -1;

    if (bg == NULL) {
        return 0;
    }
    if (stop_now) {
        bg->stop = 1;
    }
    for (k = 0; k < bg->n; k++) {
        pthread_join(bg->w[k].th, NULL);
    }
    t1 = bench_now_ns();
    bcpu1 = bench_broker_cpu_s(bg->broker);
    if (out == NULL) {
        goto done;
    }
    out->attempts = out->accepted = out->refused = out->failed = 0;
    out->capped = 0;
    out->parallel = bg->n;
    for (k = 0; k < bg->n; k++) {
        if (bg->w[k].err[0] != '\0') {
            snprintf(err, errlen, "connect row: %s", bg->w[k].err);
            goto done;
        }
    }
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        goto done;
    }
    /* Gather the slices' samples at the front of all. */
    for (k = 0; k < bg->n; k++) {
        conn_worker *w = &bg->w[k];
        memmove(bg->all + n, w->lat_ns, (size_t)w->attempts * sizeof(*bg->all));
        n += w->attempts;
        out->accepted += w->accepted;
        out->refused += w->refused;
        out->failed += w->failed;
        out->capped |= w->capped;
    }
    out->attempts = n;
    out->seconds = (double)(t1 - bg->t0) / 1e9;
    out->per_s = out->seconds > 0.0
                     ? (double)(out->accepted + out->refused) / out->seconds
                     : 0.0;
    out->cpu_broker = bg->bcpu0 >= 0.0 && bcpu1 >= 0.0 && out->seconds > 0.0
                          ? (bcpu1 - bg->bcpu0) / out->seconds
                          : -1.0;
    if (n > 0) {
        bench_u64_sort(bg->all, n);
        for (i = 0; i < n; i++) {
            sum += (double)bg->all[i];
        }
        out->ms_mean = sum / (double)n / 1e6;
        out->ms_p50 = (double)bench_u64_percentile(bg->all, n, 0.50) / 1e6;
        out->ms_p99 = (double)bench_u64_percentile(bg->all, n, 0.99) / 1e6;
        out->ms_max = (double)bg->all[n - 1] / 1e6;
    }
    rc = 0;

done:
    free(bg->all);
    free(bg);
    return rc;
}

int bench_connect_run(const char *host, int port, const bench_login *login,
                      int parallel, long count, double cap_s,
                      const bench_broker *broker, bench_connect_row *out,
                      char *err, size_t errlen)
{
    bench_connect_spec spec;
    bench_connect_bg *bg = NULL;

    out->parallel = parallel;
    out->attempts = out->accepted = out->refused = out->failed = 0;
    out->capped = 0;
    if (parallel < 1 || parallel > BENCH_CONNECT_MAX_THREADS || count < 1) {
        snprintf(err, errlen, "connect row: bad thread count or count");
        return -1;
    }
    memset(&spec, 0, sizeof(spec));
    spec.login = login;
    spec.threads = parallel;
    spec.count = count;
    spec.cap_s = cap_s;
    if (bench_connect_bg_start(&bg, host, port, &spec, broker, err, errlen) !=
        0) {
        return -1;
    }
    /* The threads end at their count or the cap: join them. */
    return bg_finish(bg, 0, out, err, errlen);
}

int bench_connect_bg_stop(bench_connect_bg *bg, bench_connect_row *out,
                          char *err, size_t errlen)
{
    return bg_finish(bg, 1, out, err, errlen);
}
