/*
 * sub_refused.c -- what secmq-sub says about a message that did not open.
 *
 * The reasons of secmq_open_reason as sentences, and one diagnosis on top:
 * a broker that changed the topic. RabbitMQ turns MQTT topics into routing
 * keys with '/' as '.', and back with '.' as '/', so a message published
 * on `room.1/temp` arrives as `room/1/temp`: bound to the topic it was
 * sealed for, it cannot open there. The check itself is libsecmq's and is
 * not relaxed here; this file only explains. Topic matching lives here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_msg.h"
#include "sub_refused.h"

int sub_topic_matches(const char *filter, const char *topic)
{
    /* Wildcards in the first level never match $SYS-style topics. */
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) {
        return 0;
    }
    for (;;) {
        size_t fl = strcspn(filter, "/");
        size_t tl = strcspn(topic, "/");

        if (fl == 1 && filter[0] == '#') {
            return 1;
        }
        if (!(fl == 1 && filter[0] == '+') &&
            (fl != tl || memcmp(filter, topic, fl) != 0)) {
            return 0;
        }
        filter += fl;
        topic += tl;
        if (*filter == '\0' || *topic == '\0') {
            /* "a/#" also matches "a" itself. */
            return *filter == *topic || strcmp(filter, "/#") == 0;
        }
        filter++;
        topic++;
    }
}

/* What a refusal reason means. */
static const char *reason_text(int reason)
{
    switch (reason) {
    case SECMQ_OPEN_NO_CHANNEL:
        return "no channel of this keyring covers this topic (a grant not "
               "imported yet, or a topic the broker changed: RabbitMQ "
               "delivers a message published on 'a.b' as 'a/b'); "
               "--allow-plain FILTER prints plain messages there";
    case SECMQ_OPEN_VERSION:
        return "not a secmq envelope (plaintext, or another protocol "
               "version)";
    case SECMQ_OPEN_MALFORMED:
        return "not a well-formed envelope";
    case SECMQ_OPEN_UNKNOWN_KEY:
        return "sealed with a key this keyring does not hold for the topic";
    case SECMQ_OPEN_KEY_EXPIRED:
        return "sealed with a previous key past its grace period";
    case SECMQ_OPEN_MODE_REFUSED:
        return "mac-only, which this channel does not allow";
    case SECMQ_OPEN_BAD_TAG:
        return "tampered, sealed with another key, or moved from another "
               "topic (the broker may have changed the topic: RabbitMQ "
               "delivers a message published on 'a.b' as 'a/b')";
    case SECMQ_OPEN_UNKNOWN_SENDER:
        return "signed by an identity this keyring does not know";
    case SECMQ_OPEN_BAD_SIGNATURE:
        return "the signature does not verify";
    case SECMQ_OPEN_UNAUTHORISED:
        return "the sender is not a publisher of the channel";
    case SECMQ_OPEN_TOO_OLD:
        return "older (or newer) than --max-age";
    case SECMQ_OPEN_REPLAY:
        return "a replay or a duplicate";
    default:
        return "refused";
    }
}

/* 1 if filter has a '.', does not match topic, and does with every '.'
 * read as '/': what RabbitMQ makes of a topic with a '.'. */
static int renamed_by_broker(const char *filter, const char *topic)
{
    char *mapped;
    int yes;

    if (strchr(filter, '.') == NULL || sub_topic_matches(filter, topic)) {
        return 0;
    }
    mapped = strdup(filter);
    if (mapped == NULL) {
        return 0;
    }
    for (char *p = mapped; *p != '\0'; p++) {
        if (*p == '.') {
            *p = '/';
        }
    }
    yes = sub_topic_matches(mapped, topic);
    free(mapped);
    return yes;
}

/* The subscription or member channel's filter the broker made topic of,
 * or NULL. */
static const char *renamed_from(const char *topic, const char *const *subs,
                                size_t nsubs, const secmq_keyring *kr)
{
    size_t n = kr != NULL ? secmq_keyring_channel_count(kr) : 0;
    secmq_channel_info info;

    for (size_t i = 0; i < nsubs; i++) {
        if (renamed_by_broker(subs[i], topic)) {
            return subs[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (secmq_keyring_channel(kr, i, &info) == SECMQ_OK && info.member &&
            renamed_by_broker(info.filter, topic)) {
            return info.filter;
        }
    }
    return NULL;
}

void sub_refused_report(const char *topic, int reason, const char *const *subs,
                        size_t nsubs, const secmq_keyring *kr)
{
    char shown[256], was[256];
    const char *from = NULL;

    if (reason == SECMQ_OPEN_NO_CHANNEL || reason == SECMQ_OPEN_BAD_TAG ||
        reason == SECMQ_OPEN_UNKNOWN_KEY) {
        from = renamed_from(topic, subs, nsubs, kr);
    }
    /* SECURITY: the topic is the sender's choice: shown escaped, so it
     * cannot drive the terminal or fake the text around it. */
    (void)secmq_text_show(shown, sizeof shown, topic);
    if (from != NULL) {
        (void)secmq_text_show(was, sizeof was, from);
        /* The reason's name stays last, in brackets, for scripts. */
        cli_warn("dropped a message on '%s' that did not open: the topic "
                 "may have been changed by the broker: it matches '%s' with "
                 "'.' read as '/', which is how RabbitMQ delivers a topic "
                 "with a '.', and an envelope opens only on the topic it "
                 "was sealed for; avoid '.' in topics on RabbitMQ (%s)",
                 shown, was, secmq_open_reason_name(reason));
        return;
    }
    cli_warn("dropped a message on '%s' that did not open: %s (%s)", shown,
             reason_text(reason), secmq_open_reason_name(reason));
}

void sub_report_counts(secmq_client *c, const secmq_keyring *kr)
{
    uint64_t n[SECMQ_OPEN_REASON_COUNT];
    secmq_receipt_stats rs;
    char line[512];
    size_t used;

    if (kr == NULL || !cli_msg_debug_enabled() ||
        secmq_client_open_counts_v2(c, n, SECMQ_OPEN_REASON_COUNT) < 0) {
        return;
    }
    used = (size_t)snprintf(line, sizeof line, "sealed messages opened: %llu",
                            (unsigned long long)n[SECMQ_OPEN_OK]);
    for (int r = 1; r < SECMQ_OPEN_REASON_COUNT && used < sizeof line; r++) {
        if (n[r] > 0) {
            used += (size_t)snprintf(line + used, sizeof line - used,
                                     ", %s: %llu", secmq_open_reason_name(r),
                                     (unsigned long long)n[r]);
        }
    }
    cli_debug("%s", line);
    if (secmq_client_receipt_stats(c, &rs, sizeof rs) != SECMQ_OK) {
        return;
    }
    if (rs.sent > 0 || rs.failed > 0 || rs.pending > 0) {
        cli_debug("receipts sent: %llu (ranges %llu, messages %llu, "
                  "acknowledged %llu, failed %llu, pending %llu)",
                  (unsigned long long)rs.sent, (unsigned long long)rs.ranges,
                  (unsigned long long)rs.messages, (unsigned long long)rs.acked,
                  (unsigned long long)rs.failed,
                  (unsigned long long)rs.pending);
    }
    if (rs.rereceipted > 0) {
        cli_debug("receipted again: %llu cop%s of messages opened before "
                  "(a sender's resends, refused as replays)",
                  (unsigned long long)rs.rereceipted,
                  rs.rereceipted == 1 ? "y" : "ies");
    }
}
