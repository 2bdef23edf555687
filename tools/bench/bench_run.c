/*
 * bench_run.c -- the measurement itself: pairs of clients and throughput rows.
 *
 * Per transport, one publisher and one subscriber client in this process.
 * Throughput: publish a fixed count with a bounded window of messages in
 * flight (sent but not yet arrived at the subscriber), count what ARRIVED,
 * time first send .. last arrival. Latency (bench_latency.c) sends one
 * message at a time through bench_pair_sample, send time in the payload,
 * receipt time taken in the subscriber callback.
 * The sealed transports (secmq-signed, secmq-mac) get their own keyrings,
 * made in a temp dir before their clients open; for them ARRIVED means
 * opened, and the envelopes that did not open are counted per row.
 * Knows nothing of the libraries: clients are bench_client vtables. The
 * broker suite (bench_auth.c) runs the same rows through its own brokers
 * with logins, through bench_pair_open_login and bench_pair_row.
 */
#include "bench.h"
#include "bench_authd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBACK_TIMEOUT_MS 5000
#define WAIT_SLICE_NS 50000000u           /* 50 ms: interrupt/stall checks */
#define LAT_SAMPLE_TIMEOUT_NS 1000000000u /* one latency sample: 1 s */
#define WARMUP_COUNT 500
#define WARMUP_SIZE 1024u
#define NO_ROW 0xffffffffu
#define VERIFY_MSG_BYTES 64u /* the Ed25519 reference: a 64-byte message */

volatile int bench_interrupted;

/* Arrival accounting of one subscriber. The library's network thread
 * writes it (bench_sink_deliver), the main thread reads and waits on it. */
struct bench_sink {
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled when arrived reaches wake_at */
    uint32_t row;       /* messages of other rows are strays */
    long arrived;       /* messages of the current row */
    uint64_t last_ns;   /* monotonic time of the latest arrival */
    long stray;
    long wake_at;      /* signal when arrived >= wake_at (0 = nobody) */
    uint32_t want_seq; /* latency: the sequence number awaited */
    uint64_t lat_ns;   /* its one-way time, 0 until it arrived */
    uint64_t *rec;     /* bench_pair_record: every arrival's one-way */
    long rec_cap;      /* time, rec_n of at most rec_cap (NULL: off) */
    long rec_n;
};

/* One transport under test: its clients, sink and topic. */
struct bench_pair {
    bench_transport t;
    bench_client *pub;
    bench_client *sub;
    bench_sink sink;
    int sink_ready;
    char topic[96];
    const long (*counts)[2];  /* messages per row, by size index and QoS */
    bench_tsnap snap0, snap1; /* this process's threads, a row's start/end */
};

const char *bench_transport_name(bench_transport t)
{
    switch (t) {
    case BENCH_MOSQ_TCP:
        return "mosq-tcp";
    case BENCH_MOSQ_TLS:
        return "mosq-tls";
    case BENCH_SECMQ_TLS:
        return "secmq-tls";
    case BENCH_SECMQ_SIGNED:
        return "secmq-signed";
    case BENCH_SECMQ_MAC:
        return "secmq-mac";
    }
    return "?";
}

int bench_transport_sealed(bench_transport t)
{
    return t == BENCH_SECMQ_SIGNED || t == BENCH_SECMQ_MAC;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

void bench_sink_deliver(bench_sink *s, const void *payload, size_t len)
{
    uint64_t now = bench_now_ns();
    const unsigned char *p = payload;
    uint32_t row;
    uint32_t seq;
    uint64_t ts;

    if (len < BENCH_HDR_BYTES) {
        pthread_mutex_lock(&s->mu);
        s->stray++;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    /* Header written by fill_header() in this process: native order. */
    memcpy(&row, p, sizeof(row));
    memcpy(&seq, p + 4, sizeof(seq));
    memcpy(&ts, p + 8, sizeof(ts));
    pthread_mutex_lock(&s->mu);
    if (row != s->row) {
        s->stray++;
    } else {
        s->arrived++;
        s->last_ns = now;
        if (seq == s->want_seq && s->lat_ns == 0) {
            s->lat_ns = now > ts ? now - ts : 1;
            pthread_cond_signal(&s->cv);
        }
        if (s->rec != NULL && s->rec_n < s->rec_cap) {
            s->rec[s->rec_n++] = now > ts ? now - ts : 1;
        }
        if (s->wake_at > 0 && s->arrived >= s->wake_at) {
            pthread_cond_signal(&s->cv);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void sink_init(bench_sink *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    bench_cond_init(&s->cv);
    s->row = NO_ROW;
    s->want_seq = NO_ROW;
}

static void sink_reset(bench_sink *s, uint32_t row)
{
    pthread_mutex_lock(&s->mu);
    s->row = row;
    s->arrived = 0;
    s->last_ns = 0;
    s->wake_at = 0;
    s->want_seq = NO_ROW;
    s->lat_ns = 0;
    pthread_mutex_unlock(&s->mu);
}

/* One timed wait on the sink's condvar, at most until deadline and never
 * longer than one slice. s->mu is held. */
static void sink_wait(bench_sink *s, uint64_t deadline)
{
    bench_cond_wait(&s->cv, &s->mu, deadline, WAIT_SLICE_NS);
}

/*
 * Waits (s->mu held) until s->arrived >= target, or until no message has
 * arrived for stall_ns, or deadline, or an interrupt. Bounded by deadline.
 * Returns 1 if the target was reached.
 */
static int wait_arrived(bench_sink *s, long target, uint64_t stall_ns,
                        uint64_t deadline)
{
    long seen = s->arrived;
    uint64_t progress = bench_now_ns();
    uint64_t now;

    s->wake_at = target;
    while (s->arrived < target && !bench_interrupted) {
        now = bench_now_ns();
        if (s->arrived != seen) {
            seen = s->arrived;
            progress = now;
        }
        if (now >= deadline || now - progress >= stall_ns) {
            break;
        }
        sink_wait(s, deadline);
    }
    s->wake_at = 0;
    return s->arrived >= target;
}

static void fill_header(unsigned char *buf, uint32_t row, uint32_t seq)
{
    put_u32(buf, row);
    put_u32(buf + 4, seq);
    put_u64(buf + 8, bench_now_ns());
}

/*
 * One throughput row: count messages of size bytes at qos through pair.
 * buf holds at least size bytes. Fills out; returns 0, or -1 with err.
 */
static int run_row(const bench_params *p, const bench_broker *broker,
                   bench_pair *pr, uint32_t row_id, size_t size, int qos,
                   long count, unsigned char *buf, bench_row *out, char *err,
                   size_t errlen)
{
    bench_sink *s = &pr->sink;
    char why[BENCH_WHY_BYTES];
    uint64_t stall_ns = (uint64_t)(p->stall_s * 1e9);
    uint64_t t0, send_end, drain_end, end;
    double cpu0, bcpu0, bcpu1;
    long window, sent, credited = 0, inflight;
    long open0[BENCH_OPEN_REASONS], open1[BENCH_OPEN_REASONS];
    int capped = 0, has_open, r;

    window = p->window_bytes / (long)size;
    window = window < 1 ? 1 : window;
    window = window > p->window ? p->window : window;
    memset(out, 0, sizeof(*out));
    out->transport = pr->t;
    out->size = size;
    out->qos = qos;
    out->open_failed = -1;
    has_open = pr->sub->ops->open_counts != NULL &&
               pr->sub->ops->open_counts(pr->sub, open0) == 0;
    sink_reset(s, row_id);
    (void)bench_tsnap_take(&pr->snap0);
    cpu0 = bench_self_cpu_s();
    bcpu0 = bench_broker_cpu_s(broker);
    t0 = bench_now_ns();
    send_end = t0 + (uint64_t)(p->duration_s * 1e9);
    for (sent = 0; sent < count && !bench_interrupted; sent++) {
        if (bench_now_ns() >= send_end) {
            capped = 1;
            break;
        }
        pthread_mutex_lock(&s->mu);
        inflight = sent - s->arrived - credited;
        if (inflight >= window) {
            /* Resume at half a window, so the two threads do not wake
             * each other once per message. */
            if (!wait_arrived(s, sent - credited - window / 2, stall_ns,
                              send_end) &&
                bench_now_ns() - s->last_ns >= stall_ns) {
                /* Nothing arrived for a while: presume the rest of the
                 * window lost (QoS 0) and carry on; arrived/sent shows it. */
                credited = sent - s->arrived;
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (bench_now_ns() >= send_end) {
            capped = 1;
            break;
        }
        fill_header(buf, row_id, (uint32_t)sent);
        if (pr->pub->ops->publish(pr->pub, pr->topic, buf, size, qos, why,
                                  sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: %s", bench_transport_name(pr->t), why);
            return -1;
        }
    }
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        return -1;
    }
    /* Bounded drain: stop waiting when all arrived, or nothing arrived for
     * stall_s, or after drain_max_s. */
    drain_end = bench_now_ns() + (uint64_t)(p->drain_max_s * 1e9);
    pthread_mutex_lock(&s->mu);
    (void)wait_arrived(s, sent, stall_ns, drain_end);
    out->arrived = s->arrived;
    out->seconds = s->arrived > 0 ? (double)(s->last_ns - t0) / 1e9 : 0.0;
    pthread_mutex_unlock(&s->mu);
    end = bench_now_ns();
    /* Envelopes of this row that reached the subscriber but did not open
     * (counted by the library, on its network thread, before the drain
     * above ended: every message of the row has been handled by then, or
     * the row is short in arrived/sent). */
    if (has_open && pr->sub->ops->open_counts(pr->sub, open1) == 0) {
        out->open_failed = 0;
        for (r = 1; r < BENCH_OPEN_REASONS; r++) {
            out->open_failed_by[r] = open1[r] - open0[r];
            out->open_failed += open1[r] - open0[r];
        }
    }
    bcpu1 = bench_broker_cpu_s(broker);
    out->sent = sent;
    out->capped = capped;
    if (out->seconds > 0.0) {
        out->msgs_per_s = (double)out->arrived / out->seconds;
        out->mb_per_s =
            (double)out->arrived * (double)size / out->seconds / 1e6;
    }
    out->cpu_self_s = bench_self_cpu_s() - cpu0;
    if (pr->snap0.n > 0 && bench_tsnap_take(&pr->snap1) == 0) {
        bench_thread_cpu_diff(&pr->snap0, &pr->snap1, &out->threads);
    }
    out->cpu_self = out->cpu_self_s / ((double)(end - t0) / 1e9);
    out->cpu_broker = bcpu0 >= 0.0 && bcpu1 >= 0.0
                          ? (bcpu1 - bcpu0) / ((double)(end - t0) / 1e9)
                          : -1.0;
    out->cpu_broker_s = bcpu0 >= 0.0 && bcpu1 >= 0.0 ? bcpu1 - bcpu0 : -1.0;
    if (bench_interrupted) {
        snprintf(err, errlen, "interrupted");
        return -1;
    }
    return 0;
}

/* One latency sample through pr (bench_latency.c): publish message seq
 * and wait (at most 1 s) for it at the subscriber. Returns 0 with *lat_ns
 * (0 when it did not arrive in time), or -1 with err. */
int bench_pair_sample(bench_pair *pr, uint32_t row_id, uint32_t seq,
                      unsigned char *buf, uint64_t *lat_ns, char *err,
                      size_t errlen)
{
    bench_sink *s = &pr->sink;
    char why[BENCH_WHY_BYTES];
    uint64_t sample_end;

    pthread_mutex_lock(&s->mu);
    s->row = row_id;
    s->want_seq = seq;
    s->lat_ns = 0;
    pthread_mutex_unlock(&s->mu);
    fill_header(buf, row_id, seq);
    if (pr->pub->ops->publish(pr->pub, pr->topic, buf, BENCH_LAT_SIZE,
                              BENCH_LAT_QOS, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", bench_transport_name(pr->t), why);
        return -1;
    }
    sample_end = bench_now_ns() + LAT_SAMPLE_TIMEOUT_NS;
    pthread_mutex_lock(&s->mu);
    while (s->lat_ns == 0 && !bench_interrupted &&
           bench_now_ns() < sample_end) {
        sink_wait(s, sample_end);
    }
    *lat_ns = s->lat_ns;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int bench_pair_send(bench_pair *pr, uint32_t row_id, uint32_t seq,
                    unsigned char *buf, char *err, size_t errlen)
{
    char why[BENCH_WHY_BYTES];

    fill_header(buf, row_id, seq);
    if (pr->pub->ops->publish(pr->pub, pr->topic, buf, BENCH_LAT_SIZE,
                              BENCH_LAT_QOS, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", bench_transport_name(pr->t), why);
        return -1;
    }
    return 0;
}

void bench_pair_record(bench_pair *pr, uint32_t row_id, uint64_t *lat, long cap)
{
    bench_sink *s = &pr->sink;

    pthread_mutex_lock(&s->mu);
    s->row = row_id;
    s->arrived = 0;
    s->want_seq = NO_ROW;
    s->rec = lat;
    s->rec_cap = cap;
    s->rec_n = 0;
    pthread_mutex_unlock(&s->mu);
}

long bench_pair_recorded(bench_pair *pr, int stop)
{
    bench_sink *s = &pr->sink;
    long n;

    pthread_mutex_lock(&s->mu);
    n = s->rec_n;
    if (stop) {
        s->rec = NULL;
        s->rec_cap = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void pair_close(bench_pair *pr)
{
    if (pr->pub != NULL) {
        pr->pub->ops->close(pr->pub);
        pr->pub = NULL;
    }
    if (pr->sub != NULL) {
        pr->sub->ops->close(pr->sub);
        pr->sub = NULL;
    }
    if (pr->sink_ready) {
        pthread_cond_destroy(&pr->sink.cv);
        pthread_mutex_destroy(&pr->sink.mu);
        pr->sink_ready = 0;
    }
}

/* keyring: NULL, or the keyring directory of a sealed transport's
 * client. login: NULL (anonymous), libmosquitto transports only. */
static int open_client(bench_transport t, const bench_endpoint *ep,
                       const char *id, const char *keyring,
                       const bench_login *login, bench_sink *sink,
                       bench_client **out, char *err, size_t errlen)
{
    if (t == BENCH_MOSQ_TCP || t == BENCH_MOSQ_TLS) {
        return bench_mosq_open(out, t == BENCH_MOSQ_TLS, ep, id, login, sink,
                               err, errlen);
    }
    return bench_secmq_open(out, ep, id, keyring, t == BENCH_SECMQ_MAC, sink,
                            err, errlen);
}

/*
 * Opens subscriber (subscribed at QoS 1) and publisher of transport t. A
 * sealed transport first gets its keyrings in keys_root/<transport>: one
 * publisher and one subscriber identity and a channel for exactly the
 * pair's topic (mac-only allowed for secmq-mac), each keyring used by one
 * client only.
 */
static int pair_open(bench_pair *pr, bench_transport t,
                     const bench_endpoint *pub_ep, const bench_endpoint *sub_ep,
                     const bench_params *p, const char *keys_root,
                     const char *tag, char *err, size_t errlen)
{
    char id[64];
    char why[BENCH_WHY_BYTES];
    char dir[BENCH_PATH_BYTES];
    char pub_dir[BENCH_PATH_BYTES];
    char sub_dir[BENCH_PATH_BYTES];
    char pub_name[64];
    char sub_name[64];
    const char *pub_kr = NULL;
    const char *sub_kr = NULL;
    const char *mode;
    long pid = (long)getpid();
    int n;

    memset(pr, 0, sizeof(*pr));
    pr->t = t;
    pr->counts = t == BENCH_SECMQ_SIGNED ? p->counts_signed
                 : t == BENCH_SECMQ_MAC  ? p->counts_mac
                                         : p->counts;
    sink_init(&pr->sink);
    pr->sink_ready = 1;
    /* Same topic length for every transport: per-message work is equal. */
    if (tag != NULL) {
        snprintf(pr->topic, sizeof(pr->topic), "secmq-bench/%ld/%.40s", pid,
                 tag);
    } else {
        snprintf(pr->topic, sizeof(pr->topic), "secmq-bench/%ld/t%d", pid,
                 (int)t);
        tag = bench_transport_name(t);
    }
    if (bench_transport_sealed(t)) {
        n = snprintf(dir, sizeof(dir), "%s/%s", keys_root,
                     bench_transport_name(t));
        if (n < 0 || (size_t)n >= sizeof(dir)) {
            snprintf(why, sizeof(why), "keyring path too long");
            goto err;
        }
        mode = t == BENCH_SECMQ_MAC ? "mac" : "signed";
        snprintf(pub_name, sizeof(pub_name), "bench-pub-%s", mode);
        snprintf(sub_name, sizeof(sub_name), "bench-sub-%s", mode);
        if (bench_secmq_keys(dir, pr->topic, pub_name, sub_name,
                             t == BENCH_SECMQ_MAC, pub_dir, sub_dir, why,
                             sizeof(why)) != 0) {
            goto err;
        }
        pub_kr = pub_dir;
        sub_kr = sub_dir;
    }
    snprintf(id, sizeof(id), "secmq-bench-%ld-%.32s-sub", pid, tag);
    if (open_client(t, sub_ep, id, sub_kr, NULL, &pr->sink, &pr->sub, why,
                    sizeof(why)) != 0) {
        goto err;
    }
    if (pr->sub->ops->subscribe(pr->sub, pr->topic, 1, SUBACK_TIMEOUT_MS, why,
                                sizeof(why)) != 0) {
        goto err;
    }
    snprintf(id, sizeof(id), "secmq-bench-%ld-%.32s-pub", pid, tag);
    if (open_client(t, pub_ep, id, pub_kr, NULL, NULL, &pr->pub, why,
                    sizeof(why)) != 0) {
        goto err;
    }
    return 0;

err:
    snprintf(err, errlen, "%s: %s", bench_transport_name(t), why);
    pair_close(pr);
    return -1;
}

int bench_pair_open_split(bench_pair **out, bench_transport t,
                          const bench_endpoint *pub_ep,
                          const bench_endpoint *sub_ep, const bench_params *p,
                          const char *keys_root, const char *tag, char *err,
                          size_t errlen)
{
    bench_pair *pr = calloc(1, sizeof(*pr));

    *out = NULL;
    if (pr == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pair_open(pr, t, pub_ep, sub_ep, p, keys_root, tag, err, errlen) != 0) {
        free(pr);
        return -1;
    }
    *out = pr;
    return 0;
}

int bench_pair_open_login(bench_pair **out, bench_transport t,
                          const bench_endpoint *ep, const char *topic,
                          const char *tag, const bench_login *pub,
                          const bench_login *sub, char *err, size_t errlen)
{
    char id[96];
    char why[BENCH_WHY_BYTES];
    long pid = (long)getpid();
    bench_pair *pr;

    *out = NULL;
    if (t != BENCH_MOSQ_TCP && t != BENCH_MOSQ_TLS) {
        snprintf(err, errlen, "%s: logins are for libmosquitto transports",
                 bench_transport_name(t));
        return -1;
    }
    if (strlen(topic) >= sizeof(pr->topic) || strlen(tag) > 32) {
        snprintf(err, errlen, "topic or tag too long");
        return -1;
    }
    pr = calloc(1, sizeof(*pr));
    if (pr == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pr->t = t;
    sink_init(&pr->sink);
    pr->sink_ready = 1;
    snprintf(pr->topic, sizeof(pr->topic), "%s", topic);
    snprintf(id, sizeof(id), "secmq-bench-%ld-%s-sub", pid, tag);
    if (open_client(t, ep, id, NULL, sub, &pr->sink, &pr->sub, why,
                    sizeof(why)) != 0 ||
        pr->sub->ops->subscribe(pr->sub, pr->topic, 1, SUBACK_TIMEOUT_MS, why,
                                sizeof(why)) != 0) {
        goto err;
    }
    snprintf(id, sizeof(id), "secmq-bench-%ld-%s-pub", pid, tag);
    if (open_client(t, ep, id, NULL, pub, NULL, &pr->pub, why, sizeof(why)) !=
        0) {
        goto err;
    }
    *out = pr;
    return 0;

err:
    snprintf(err, errlen, "%s %s: %s", bench_transport_name(t), tag, why);
    bench_pair_free(pr);
    return -1;
}

void bench_pair_free(bench_pair *pr)
{
    if (pr == NULL) {
        return;
    }
    pair_close(pr);
    free(pr);
}

int bench_pair_row(const bench_params *p, const bench_broker *broker,
                   bench_pair *pr, uint32_t row_id, size_t size, int qos,
                   long count, unsigned char *buf, bench_row *out, char *err,
                   size_t errlen)
{
    return run_row(p, broker, pr, row_id, size, qos, count, buf, out, err,
                   errlen);
}

/*
 * One slice of the Ed25519 reference figure (single thread, while no
 * message is in flight): seconds of crypto_sign_verify_detached, added to
 * res. The slices are spread over the run because this machine's speed
 * drifts, and the signed rows are compared with it. 0 or -1.
 */
static int verify_slice(double seconds, bench_results *res, char *err,
                        size_t errlen)
{
    long n = 0;
    double s = 0.0, rate;

    if (bench_ed25519_verify(VERIFY_MSG_BYTES, seconds, &n, &s) != 0 ||
        s <= 0.0) {
        snprintf(err, errlen, "Ed25519 reference: a signature did not verify");
        return -1;
    }
    rate = (double)n / s;
    if (res->verify_slices == 0 || rate < res->verify_min) {
        res->verify_min = rate;
    }
    if (res->verify_slices == 0 || rate > res->verify_max) {
        res->verify_max = rate;
    }
    res->verify_slices++;
    res->verify_msg_len = VERIFY_MSG_BYTES;
    res->verify_count += n;
    res->verify_seconds += s;
    res->verify_per_s = (double)res->verify_count / res->verify_seconds;
    return 0;
}

/* Where the sealed transports' keyrings go: DIR/keys in the private
 * broker's temp dir (removed with it, kept with --keep-dir), else a temp
 * dir of their own (*own set: the caller removes it). 0 or -1. */
static int keys_root_make(const bench_broker *broker, char *root, int *own,
                          char *err, size_t errlen)
{
    int n;

    *own = 0;
    if (broker != NULL && broker->dir[0] != '\0') {
        n = snprintf(root, BENCH_PATH_BYTES, "%s/keys", broker->dir);
        if (n < 0 || (size_t)n >= BENCH_PATH_BYTES) {
            snprintf(err, errlen, "temp dir path too long: %s", broker->dir);
            return -1;
        }
        if (mkdir(root, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", root,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    if (bench_mkdtemp(root, "secmq-bench-keys", err, errlen) != 0) {
        return -1;
    }
    *own = 1;
    return 0;
}

int bench_run(const bench_params *p, const bench_endpoint *ep,
              const bench_broker *broker, bench_results *res, char *err,
              size_t errlen)
{
    bench_pair pairs[BENCH_TRANSPORTS];
    bench_pair *open_pairs[BENCH_TRANSPORTS];
    bench_row reps[BENCH_TRANSPORTS][BENCH_MAX_REPEAT];
    bench_row warm;
    char keys_root[BENCH_PATH_BYTES];
    unsigned char *buf = NULL;
    size_t maxsize =
        WARMUP_SIZE > BENCH_LAT_SIZE ? WARMUP_SIZE : BENCH_LAT_SIZE;
    uint32_t row_id = 1;
    size_t i;
    int t, q, r;
    int own_keys = 0;
    int sealed = (p->transport_mask &
                  ((1 << BENCH_SECMQ_SIGNED) | (1 << BENCH_SECMQ_MAC))) != 0;
    int signed_on = (p->transport_mask & (1 << BENCH_SECMQ_SIGNED)) != 0;
    int groups;
    double slice_s;

    memset(pairs, 0, sizeof(pairs));
    keys_root[0] = '\0';
    if (p->repeat < 1 || p->repeat > BENCH_MAX_REPEAT) {
        snprintf(err, errlen, "repeat must be 1..%d", BENCH_MAX_REPEAT);
        return -1;
    }
    memset(res, 0, sizeof(*res));
    res->verify_per_s = -1.0;
    for (i = 0; i < p->nsizes; i++) {
        maxsize = p->sizes[i] > maxsize ? p->sizes[i] : maxsize;
    }
    buf = malloc(maxsize);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    /* Payload bytes after the header: a fixed non-zero pattern (TLS does
     * not compress, so content does not matter). */
    for (i = 0; i < maxsize; i++) {
        buf[i] = (unsigned char)(i * 131u + 7u);
    }
    /* Verification slices: one now, one after each size/QoS group. */
    groups = (int)p->nsizes * ((p->qos_mask & 1) + ((p->qos_mask >> 1) & 1));
    slice_s = p->verify_s / (double)(groups + 1);
    if (signed_on && verify_slice(slice_s, res, err, errlen) != 0) {
        goto err;
    }
    if (sealed &&
        keys_root_make(broker, keys_root, &own_keys, err, errlen) != 0) {
        goto err;
    }

    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        if (!(p->transport_mask & (1 << t))) {
            continue;
        }
        if (pair_open(&pairs[t], (bench_transport)t, ep, ep, p, keys_root, NULL,
                      err, errlen) != 0) {
            goto err;
        }
        pairs[t].pub->ops->tls_info(pairs[t].pub, &res->tls[t]);
        /* The sealed transports' TLS is secmq-tls's: not listed again. */
        res->have_tls[t] = t == BENCH_MOSQ_TLS || t == BENCH_SECMQ_TLS;
        /* Warm-up (not reported): TCP windows, allocator, caches. */
        if (run_row(p, broker, &pairs[t], row_id++, WARMUP_SIZE, 0,
                    WARMUP_COUNT, buf, &warm, err, errlen) != 0) {
            goto err;
        }
    }

    /* Interleaved: every (size, QoS) runs all transports back to back,
     * --repeat times, so drift and noise hit all transports alike. */
    for (i = 0; i < p->nsizes; i++) {
        for (q = 0; q <= 1; q++) {
            if (!(p->qos_mask & (1 << q))) {
                continue;
            }
            for (r = 0; r < p->repeat; r++) {
                for (t = 0; t < BENCH_TRANSPORTS; t++) {
                    if (pairs[t].pub == NULL) {
                        continue;
                    }
                    if (run_row(p, broker, &pairs[t], row_id++, p->sizes[i], q,
                                pairs[t].counts[i][q], buf, &reps[t][r], err,
                                errlen) != 0) {
                        goto err;
                    }
                }
            }
            for (t = 0; t < BENCH_TRANSPORTS; t++) {
                if (pairs[t].pub != NULL && res->nrows < BENCH_MAX_ROWS) {
                    bench_rows_median(reps[t], p->repeat,
                                      &res->rows[res->nrows]);
                    res->nrows++;
                }
            }
            if (signed_on && verify_slice(slice_s, res, err, errlen) != 0) {
                goto err;
            }
        }
    }
    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        open_pairs[t] = pairs[t].pub != NULL ? &pairs[t] : NULL;
    }
    if (p->lat_samples > 0 && bench_latency_run(p, open_pairs, row_id++, buf,
                                                res, err, errlen) != 0) {
        goto err;
    }
    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        pair_close(&pairs[t]);
    }
    free(buf);
    if (own_keys && !p->keep) {
        bench_rmtree(keys_root);
    } else if (own_keys) {
        fprintf(stderr, "secmq-bench: keyrings kept in %s\n", keys_root);
    }
    return 0;

err:
    for (t = 0; t < BENCH_TRANSPORTS; t++) {
        pair_close(&pairs[t]);
    }
    free(buf);
    if (own_keys && !p->keep) {
        bench_rmtree(keys_root);
    }
    return -1;
}
