/*
 * keys_list.c -- what `secmq-keys list` prints: the identity, the trusted
 * peers and every channel with its key, publishers, previous key,
 * receipts and epoch ratchet (secmq/keyring.h's listing calls).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keys_list.h"

static const char *hex8(char out[17], const unsigned char *b)
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < 8; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[16] = 0;
    return out;
}

static const char *utc(char out[32], uint64_t ms)
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, 32, "%" PRIu64 " ms", ms);
    }
    return out;
}

static void list_receipts(const secmq_channel_receipt_info *r)
{
    if (!r->on) {
        printf("    receipts: off\n");
        return;
    }
    printf("    receipts: on  topic %s  needed from %s", r->topic,
           r->need == 0 ? "every one of" : "any");
    if (r->need != 0) {
        printf(" %u of", r->need);
    }
    for (size_t i = 0; i < r->n_receipters; i++) {
        printf(" %s", r->receipters[i]);
    }
    printf("\n");
}

static void list_channel(const secmq_channel_info *c, uint64_t now)
{
    char h[17], t[32];

    printf("  %s\n", c->filter);
    printf("    owner: %s%s\n", c->owner, c->owned ? " (this keyring)" : "");
    printf("    key: %s  epoch %" PRIu32 "  created %s\n", hex8(h, c->key_id),
           c->epoch, utc(t, c->created_ms));
    printf("    publishers:");
    for (size_t i = 0; i < c->n_publishers; i++) {
        printf(" %s", c->publishers[i]);
    }
    printf("\n");
    if (c->owned) {
        printf("    members:");
        for (size_t i = 0; i < c->n_members; i++) {
            printf(" %s%s", c->members[i],
                   c->member_publishes[i] ? "(pub)" : "(sub)");
        }
        printf("\n");
    }
    printf("    this identity: %s\n", !c->member ? "not a member (owner only)"
                                      : c->may_publish
                                          ? "may publish and subscribe"
                                          : "may subscribe only");
    printf("    mac-only: %s\n", c->allow_mac ? "allowed" : "refused");
    if (!c->has_prev) {
        printf("    previous key: none\n");
    } else if (c->prev_deadline_ms == 0) {
        printf("    previous key: %s  refused (no grace period)\n",
               hex8(h, c->prev_key_id));
    } else {
        printf("    previous key: %s  %s %s%s\n", hex8(h, c->prev_key_id),
               now >= c->prev_deadline_ms ? "expired at" : "accepted until",
               utc(t, c->prev_deadline_ms), c->prev_held ? "" : " (not held)");
    }
}

/* A duration in ms as the shortest exact "1h", "90s", "1500ms". */
/* The key changes the keyring knows of (PROTOCOL.md §2.3), a chain oldest
 * first. */
static void list_successions(const secmq_keyring *kr)
{
    secmq_succession_info si;
    char a[17], b[17], t[32];
    size_t n = secmq_keyring_succession_count(kr);

    printf("successions: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (secmq_keyring_succession(kr, i, &si) == SECMQ_OK) {
            printf("  %s  id %s -> id %s  made %s%s\n", si.name,
                   hex8(a, si.old_id), hex8(b, si.new_id),
                   utc(t, si.created_ms), si.own ? "  (this identity)" : "");
        }
    }
}

static const char *dur(char out[32], uint64_t ms)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {
        {86400000u, "d"}, {3600000u, "h"}, {60000u, "m"}, {1000u, "s"}};

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms >= units[i].ms && ms % units[i].ms == 0) {
            snprintf(out, 32, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
            return out;
        }
    }
    snprintf(out, 32, "%" PRIu64 "ms", ms);
    return out;
}

static void list_ratchet(const secmq_channel_ratchet_info *r)
{
    char p[32], g[32], t[32];

    if (!r->on) {
        printf("    ratchet: off (the key changes only when rotated)\n");
        return;
    }
    printf("    ratchet: epochs of %s, grace %s; epoch %" PRIu32
           " now; keys held from epoch %" PRIu32 " (erased %s)\n",
           dur(p, r->period_ms), dur(g, r->grace_ms), r->step, r->lowest,
           utc(t, r->erase_ms));
}

void keys_list(secmq_keyring *kr)
{
    char h[17];
    unsigned char id[SECMQ_ID_BYTES];
    secmq_peer_info p;
    secmq_channel_receipt_info rc_info;
    secmq_channel_ratchet_info rt_info;
    secmq_channel_info c;
    size_t n;
    struct timespec ts;
    uint64_t now;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    secmq_keyring_id(kr, id);
    printf("identity: %s  id %s\n", secmq_keyring_name(kr), hex8(h, id));
    n = secmq_keyring_peer_count(kr);
    printf("peers: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (secmq_keyring_peer(kr, i, &p) == SECMQ_OK) {
            printf("  %s  id %s\n", p.name, hex8(h, p.id));
        }
    }
    list_successions(kr);
    n = secmq_keyring_channel_count(kr);
    printf("channels: %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        if (secmq_keyring_channel(kr, i, &c) == SECMQ_OK) {
            list_channel(&c, now);
        }
        if (secmq_keyring_channel_ratchet(kr, i, &rt_info) == SECMQ_OK) {
            list_ratchet(&rt_info);
        }
        if (secmq_keyring_channel_receipts(kr, i, &rc_info) == SECMQ_OK) {
            list_receipts(&rc_info);
        }
    }
}
