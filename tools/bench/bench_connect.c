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
    const bench_login *login;
    int index;
    long count;        /* attempts to make at most */
    uint64_t deadline; /* no new attempt after this */
    uint64_t *lat_ns;  /* count entries, owned by the row */
    long attempts;
    long accepted;
    long refused;
    long failed;
    int capped;
    char err[BENCH_WHY_BYTES]; /* "" unless a socket call failed */
} conn_worker;

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

    for (i = 0; i < w->count && !bench_interrupted; i++) {
        if (bench_now_ns() >= w->deadline) {
            w->capped = 1;
            break;
        }
        r = attempt(w, i, &ns);
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

int bench_connect_run(const char *host, int port, const bench_login *login,
                      int parallel, long count, double cap_s,
                      const bench_broker *broker, bench_connect_row *out,
                      char *err, size_t errlen)
{
    conn_worker w[BENCH_CONNECT_MAX_THREADS];
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    uint64_t *all = NULL;
    uint64_t t0, t1;
    double bcpu0, bcpu1, sum = 0.0;
    long n = 0, i, share;
    int k, rc = -1;

    memset(w, 0, sizeof(w));
    out->parallel = parallel;
    out->attempts = out->accepted = out->refused = out->failed = 0;
    out->capped = 0;
    if (parallel < 1 || parallel > BENCH_CONNECT_MAX_THREADS || count < 1) {
        snprintf(err, errlen, "connect row: bad thread count or count");
        return -1;
    }
    if (resolve(host, port, &ss, &sslen, err, errlen) != 0) {
        return -1;
    }
    all = calloc((size_t)count, sizeof(*all));
    if (all == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Each thread writes its own slice of all. */
    share = count / parallel;
    bcpu0 = bench_broker_cpu_s(broker);
    t0 = bench_now_ns();
    for (k = 0; k < parallel; k++) {
        w[k].addr = &ss;
        w[k].addrlen = sslen;
        w[k].login = login;
        w[k].index = k;
        w[k].count = k == parallel - 1 ? count - share * k : share;
        w[k].deadline = t0 + (uint64_t)(cap_s * 1e9);
        w[k].lat_ns = all + share * k;
        if (pthread_create(&w[k].th, NULL, worker_main, &w[k]) != 0) {
            snprintf(err, errlen, "pthread_create failed");
            break;
        }
        w[k].started = 1;
    }
    for (k = 0; k < parallel; k++) {
        if (w[k].started) {
            pthread_join(w[k].th, NULL);
        }
    }
    t1 = bench_now_ns();
    bcpu1 = bench_broker_cpu_s(broker);
    for (k = 0; k < parallel; k++) {
        if (!w[k].started) {
            goto done;
        }
        if (w[k].err[0] != '\0') {
            snprintf(err, errlen, "connect row: %s", w[k].err);
            goto done;
        }
    }
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        goto done;
    }
    /* Gather the slices' samples at the front of all. */
    for (k = 0; k < parallel; k++) {
        memmove(all + n, w[k].lat_ns, (size_t)w[k].attempts * sizeof(*all));
        n += w[k].attempts;
        out->accepted += w[k].accepted;
        out->refused += w[k].refused;
        out->failed += w[k].failed;
        out->capped |= w[k].capped;
    }
    out->attempts = n;
    out->seconds = (double)(t1 - t0) / 1e9;
    out->per_s = out->seconds > 0.0
                     ? (double)(out->accepted + out->refused) / out->seconds
                     : 0.0;
    out->cpu_broker = bcpu0 >= 0.0 && bcpu1 >= 0.0 && out->seconds > 0.0
                          ? (bcpu1 - bcpu0) / out->seconds
                          : -1.0;
    if (n > 0) {
        bench_u64_sort(all, n);
        for (i = 0; i < n; i++) {
            sum += (double)all[i];
        }
        out->ms_mean = sum / (double)n / 1e6;
        out->ms_p50 = (double)bench_u64_percentile(all, n, 0.50) / 1e6;
        out->ms_p99 = (double)bench_u64_percentile(all, n, 0.99) / 1e6;
        out->ms_max = (double)all[n - 1] / 1e6;
    }
    rc = 0;

done:
    free(all);
    return rc;
}
