/*
 * file_output.c -- secmq-file's output: result lines, JSON events, the
 * progress bar (bytes, percent, rate, ETA) and stderr messages. Names
 * from the other side are escaped before they reach a terminal or JSON.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_msg.h"
#include "cli_session.h"
#include "file_output.h"

#define BAR_EVERY_S 0.2

/* What the hash of a finished file is: the whole file's BLAKE2b-256
 * (protocol 1) or the root of its chunk tree, keyed with the file's key
 * (protocol 2; the same at the sender and every receiver). */
static const char *hash_label(const secmq_file_event *ev)
{
    return ev->protocol == SECMQ_FILE_PROTOCOL_2 ? "tree-v2" : "blake2b-256";
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case SECMQ_FILE_EV_START:
        return "start";
    case SECMQ_FILE_EV_PROGRESS:
        return "progress";
    case SECMQ_FILE_EV_DONE:
        return "done";
    case SECMQ_FILE_EV_REFUSED:
        return "refused";
    case SECMQ_FILE_EV_FAILED:
        return "failed";
    case SECMQ_FILE_EV_REJECTED:
        return "rejected";
    case SECMQ_FILE_EV_REQUEST:
        return "request";
    case SECMQ_FILE_EV_EXPIRED:
        return "expired";
    default:
        return "unknown";
    }
}

void file_out_init(struct file_out *o, int json, int recv, int quiet)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    o->json = json;
    o->recv = recv;
    o->bar = !json && !quiet && isatty(STDERR_FILENO);
}

/* s with control characters as '?', for a terminal (cap bytes). */
static const char *printable(const char *s, char *buf, size_t cap)
{
    size_t n = 0;

    if (s == NULL) {
        return "";
    }
    for (; *s != '\0' && n + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[n] = '\0';
    return buf;
}

/* A JSON string (with quotes) for s on f. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void hex(char *out, const unsigned char *b, size_t n)
{
    static const char d[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void json_event(struct file_out *o, const secmq_file_event *ev)
{
    char id[2 * SECMQ_FILE_ID_BYTES + 1], h[2 * SECMQ_FILE_HASH_BYTES + 1];

    hex(id, ev->file_id, SECMQ_FILE_ID_BYTES);
    printf("{\"event\":\"%s\",\"id\":\"%s\",\"name\":", kind_name(ev->kind),
           id);
    json_str(stdout, ev->name);
    printf(",\"size\":%llu,\"bytes\":%llu,\"chunks\":%u,\"chunk_count\":%u",
           (unsigned long long)ev->size, (unsigned long long)ev->bytes,
           ev->chunks, ev->chunk_count);
    if (ev->peer != NULL) {
        printf(",\"%s\":", o->recv ? "sender" : "receiver");
        json_str(stdout, ev->peer);
    }
    if (ev->path != NULL) {
        printf(",\"path\":");
        json_str(stdout, ev->path);
    }
    if (ev->hash != NULL) {
        hex(h, ev->hash, SECMQ_FILE_HASH_BYTES);
        printf(",\"hash\":\"%s:%s\"", hash_label(ev), h);
    }
    if (ev->kind == SECMQ_FILE_EV_REFUSED || ev->kind == SECMQ_FILE_EV_FAILED) {
        printf(",\"reason\":\"%s\"", secmq_file_reason_name(ev->reason));
    } else if (ev->kind == SECMQ_FILE_EV_REJECTED) {
        printf(",\"reason\":\"%s\"", secmq_open_reason_name(ev->reason));
    }
    printf(",\"detail\":");
    json_str(stdout, ev->detail);
    printf("}\n");
    fflush(stdout);
}

static void human(char *out, size_t cap, double v)
{
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;

    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

/* Draw the bar (lock held). */
static void draw(struct file_out *o, double now)
{
    char done[16], total[16], rate[16], eta[16];
    double el = now - o->first_t, r = 0.0;
    int pct = o->total > 0 ? (int)(o->bytes * 100 / o->total) : 100;

    if (el > 0.05 && o->bytes > o->first_bytes) {
        r = (double)(o->bytes - o->first_bytes) / el;
    }
    human(done, sizeof done, (double)o->bytes);
    human(total, sizeof total, (double)o->total);
    human(rate, sizeof rate, r);
    if (r > 0.0 && o->total >= o->bytes) {
        double left = (double)(o->total - o->bytes) / r;
        snprintf(eta, sizeof eta, "%d:%02d", (int)(left / 60.0),
                 (int)left % 60);
    } else {
        snprintf(eta, sizeof eta, "--:--");
    }
    fprintf(stderr, "\r%-24.24s %9s / %-9s %3d%% %9s/s ETA %s\x1b[K", o->name,
            done, total, pct, rate, eta);
    fflush(stderr);
    o->drawn = 1;
    o->last_draw = now;
}

static void erase(struct file_out *o)
{
    if (o->drawn) {
        fputs("\r\x1b[K", stderr);
        fflush(stderr);
        o->drawn = 0;
    }
}

/* The plain-text result line of a finished file. */
static void result_line(const secmq_file_event *ev)
{
    char h[2 * SECMQ_FILE_HASH_BYTES + 1], n[300], p[100];

    hex(h, ev->hash, SECMQ_FILE_HASH_BYTES);
    printf("%s\t%llu\t%s:%s\t%s\n", printable(ev->name, n, sizeof n),
           (unsigned long long)ev->size, hash_label(ev), h,
           printable(ev->peer, p, sizeof p));
    fflush(stdout);
}

void file_out_event(struct file_out *o, const secmq_file_event *ev)
{
    char d[700];
    double now = cli_mono_now();

    pthread_mutex_lock(&o->lock);
    if (ev->kind == SECMQ_FILE_EV_START || ev->kind == SECMQ_FILE_EV_PROGRESS) {
        if (ev->kind == SECMQ_FILE_EV_START || !o->active) {
            printable(ev->name, o->name, sizeof o->name);
            o->first_t = now;
            o->first_bytes = ev->bytes;
            o->active = 1;
        }
        o->bytes = ev->bytes;
        o->total = ev->size;
    } else if (ev->kind == SECMQ_FILE_EV_DONE ||
               ev->kind == SECMQ_FILE_EV_FAILED ||
               ev->kind == SECMQ_FILE_EV_REFUSED) {
        o->active = 0;
    }
    if (o->bar) {
        erase(o);
    }
    if (o->json) {
        json_event(o, ev);
    } else {
        printable(ev->detail, d, sizeof d);
        switch (ev->kind) {
        case SECMQ_FILE_EV_DONE:
            result_line(ev);
            break;
        case SECMQ_FILE_EV_FAILED:
            cli_err("%s", d);
            break;
        case SECMQ_FILE_EV_REFUSED:
            if (o->recv || ev->reason == SECMQ_FILE_R_BUSY) {
                cli_warn("%s", d);
            } else {
                cli_err("%s", d);
            }
            break;
        case SECMQ_FILE_EV_REJECTED:
        case SECMQ_FILE_EV_EXPIRED:
            cli_warn("%s", d);
            break;
        case SECMQ_FILE_EV_START:
        case SECMQ_FILE_EV_REQUEST:
            cli_debug("%s", d);
            break;
        default:
            break;
        }
    }
    if (o->bar && o->active) {
        draw(o, now);
    }
    pthread_mutex_unlock(&o->lock);
}

void file_out_tick(struct file_out *o)
{
    double now = cli_mono_now();

    pthread_mutex_lock(&o->lock);
    if (o->bar && o->active && now - o->last_draw >= BAR_EVERY_S) {
        draw(o, now);
    }
    pthread_mutex_unlock(&o->lock);
}

void file_out_end(struct file_out *o)
{
    pthread_mutex_lock(&o->lock);
    erase(o);
    pthread_mutex_unlock(&o->lock);
}
