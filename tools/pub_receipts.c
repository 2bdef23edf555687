/*
 * pub_receipts.c -- secmq-pub --receipt-wait: exit 0 only once the
 * subscribers themselves have the messages.
 *
 * Checks before connecting that the topic's channel has receipts, sets the
 * library's resend and give-up times, gives a one-shot publish a private
 * outbox (the library holds rows for receipts only in an outbox), and at
 * the end waits until every held row is receipted or says which are not
 * and whose receipts are missing. Holding, resending and giving up are
 * the library's (secmq/receipt.h); this file only counts and reports.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_msg.h"
#include "pub_receipts.h"
#include "sub_refused.h"

/* The receipts of this process, for on_receipt and the signal handler. */
static struct pub_receipts *the_pr;
/* How long to wait past --receipt-wait for give-ups due at its end. */
#define GIVE_UP_GRACE_S 1.0

/* Names of the files sqlite may make beside the outbox file. */
static const char *const db_suffixes[] = {"", "-wal", "-shm", "-journal"};

void pub_receipts_init(struct pub_receipts *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->wait_s = -1.0;
    pr->give_up_s = -1.0;
    pr->missed_min_got = UINT32_MAX;
    pthread_mutex_init(&pr->lock, NULL);
}

void pub_receipts_help(void)
{
    fputs("End-to-end receipts (a channel created with secmq-keys channel "
          "create --receipts):\n"
          " --receipt-wait SEC  after the broker has acknowledged every "
          "message, wait up\n"
          "                     to SEC seconds until the channel's receipters "
          "have sent\n"
          "                     signed receipts for all of them; exit status "
          "0 only if\n"
          "                     they did, else 1 with a line saying how many "
          "got none and\n"
          "                     whose receipts are missing. Until then the "
          "library holds\n"
          "                     each message in the outbox and sends it "
          "again (after a\n"
          "                     reconnect at once, else with backoff), so a "
          "broker that\n"
          "                     lost messages it had acknowledged loses "
          "nothing. Without\n"
          "                     --outbox a private outbox file is used "
          "(in $TMPDIR,\n"
          "                     removed at exit). Needs --keyring, -q 1 or 2, "
          "and a topic\n"
          "                     whose channel has receipts (else refused "
          "before\n"
          "                     connecting). With --outbox FILE and without "
          "--receipt-wait,\n"
          "                     messages still waiting for receipts at exit "
          "stay in FILE\n"
          "                     and the next run sends them again\n"
          " --receipt-resend MS   first resend MS milliseconds after the "
          "broker's PUBACK\n"
          "                     when no receipt came, doubling up to 30 s "
          "(default 2000)\n"
          " --receipt-give-up SEC give a message up SEC seconds after it was "
          "first sent\n"
          "                     (default 600; with --receipt-wait and no "
          "--outbox, the\n"
          "                     --receipt-wait time): it leaves the outbox, "
          "counted as not\n"
          "                     receipted, and the receipters missing are "
          "named\n"
          " -d                  with receipts: each message receipted or "
          "given up, and the\n"
          "                     receipt counters at exit (received receipts "
          "that did not\n"
          "                     open are counted as refused)\n"
          "\n",
          stdout);
}

int pub_receipts_option(struct pub_receipts *pr, int id, const char *name,
                        const char *arg, char *err, size_t errlen)
{
    switch (id) {
    case PR_WAIT:
    case PR_GIVE_UP: {
        double *v = id == PR_WAIT ? &pr->wait_s : &pr->give_up_s;
        if (cli_parse_seconds(arg, 86400.0, v) != 0 ||
            (id == PR_GIVE_UP && *v < 0.001)) {
            snprintf(err, errlen,
                     "%s: needs seconds between %s and 86400, not '%s'", name,
                     id == PR_WAIT ? "0" : "0.001", arg);
            *v = -1.0;
            return -1;
        }
        return 0;
    }
    case PR_RESEND:
        if (cli_parse_long(arg, 1, 3600000, &pr->resend_ms) != 0) {
            snprintf(err, errlen,
                     "%s: needs milliseconds between 1 and 3600000, not "
                     "'%s'",
                     name, arg);
            return -1;
        }
        return 0;
    default:
        snprintf(err, errlen, "%s: not handled", name);
        return -1;
    }
}

int pub_receipts_wanted(const struct pub_receipts *pr)
{
    return pr->wait_s >= 0.0 || pr->resend_ms > 0 || pr->give_up_s >= 0.0;
}

/* The first --receipt-* option given, for messages. */
static const char *first_option(const struct pub_receipts *pr)
{
    if (pr->wait_s >= 0.0) {
        return "--receipt-wait";
    }
    return pr->resend_ms > 0 ? "--receipt-resend" : "--receipt-give-up";
}

int pub_receipts_check_options(const struct pub_receipts *pr, int has_keyring,
                               int qos, int raw)
{
    if (!pub_receipts_wanted(pr)) {
        return 0;
    }
    if (!has_keyring) {
        cli_usage_err("%s needs --keyring (receipts are for sealed "
                      "messages)",
                      first_option(pr));
        return -1;
    }
    if (raw) {
        cli_usage_err("%s and --raw exclude each other (a raw message is "
                      "never receipted)",
                      first_option(pr));
        return -1;
    }
    if (qos == 0) {
        cli_usage_err("%s needs -q 1 or 2 (a QoS 0 message is not held "
                      "for receipts)",
                      first_option(pr));
        return -1;
    }
    return 0;
}

/* ---- the private outbox ---- */

/* Remove the private directory; async-signal-safe (unlink, rmdir). */
static void remove_private(struct pub_receipts *pr)
{
    char path[PATH_MAX + 32];
    size_t n = strlen(pr->tmpdb);

    if (pr->tmpdir[0] == '\0') {
        return;
    }
    for (size_t i = 0; i < sizeof db_suffixes / sizeof db_suffixes[0]; i++) {
        size_t k = strlen(db_suffixes[i]);
        memcpy(path, pr->tmpdb, n);
        memcpy(path + n, db_suffixes[i], k + 1);
        (void)unlink(path);
    }
    (void)rmdir(pr->tmpdir);
}

static void on_signal(int sig)
{
    if (the_pr != NULL) {
        remove_private(the_pr);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

int pub_receipts_private_outbox(struct pub_receipts *pr, struct pub_outbox *ob)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    const char *base = getenv("TMPDIR");
    struct sigaction sa;
    int n;

    if (pr->wait_s < 0.0 || ob->path != NULL) {
        return CLI_EXIT_OK;
    }
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    n = snprintf(pr->tmpdir, sizeof pr->tmpdir, "%s/secmq-pub-XXXXXX", base);
    if (n < 0 || (size_t)n + 16 >= sizeof pr->tmpdir) {
        cli_err("TMPDIR %s: too long a path", base);
        pr->tmpdir[0] = '\0';
        return CLI_EXIT_ERROR;
    }
    /* mkdtemp makes it 0700: the outbox is this process's alone. */
    if (mkdtemp(pr->tmpdir) == NULL) {
        cli_err("--receipt-wait: cannot make a private outbox directory in "
                "%s: %s",
                base, strerror(errno));
        pr->tmpdir[0] = '\0';
        return CLI_EXIT_ERROR;
    }
    snprintf(pr->tmpdb, sizeof pr->tmpdb, "%s/outbox.db", pr->tmpdir);
    ob->path = pr->tmpdb;
    ob->ephemeral = 1;
    the_pr = pr;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        (void)sigaction(sigs[i], &sa, NULL);
    }
    cli_debug("--receipt-wait without --outbox: private outbox %s", pr->tmpdb);
    return CLI_EXIT_OK;
}

void pub_receipts_cleanup(struct pub_receipts *pr)
{
    DIR *d;

    if (pr->tmpdir[0] == '\0') {
        return;
    }
    /* Whatever the outbox made there (its file, sqlite's -wal, -shm). */
    d = opendir(pr->tmpdir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                (void)unlinkat(dirfd(d), e->d_name, 0);
            }
        }
        closedir(d);
    }
    remove_private(pr);
    if (access(pr->tmpdir, F_OK) == 0) {
        cli_warn("cannot remove the private outbox directory %s", pr->tmpdir);
    }
    pr->tmpdir[0] = '\0';
}

/* ---- the channel ---- */

/* Rank of a filter level for PROTOCOL.md §4.1's "most specific": a
 * literal beats +, and + beats #. */
static int level_rank(const char *lvl, size_t len)
{
    if (len == 1 && lvl[0] == '#') {
        return 0;
    }
    return len == 1 && lvl[0] == '+' ? 1 : 2;
}

/* 1 if filter a is more specific than filter b, two filters matching one
 * topic: the first level where they differ decides, and a filter with no
 * more levels beats the other's '#'. */
static int more_specific(const char *a, const char *b)
{
    for (;;) {
        size_t la, lb;

        if (a == NULL || b == NULL) {
            return a == NULL && b != NULL;
        }
        la = strcspn(a, "/");
        lb = strcspn(b, "/");
        if (la != lb || memcmp(a, b, la) != 0) {
            return level_rank(a, la) > level_rank(b, lb);
        }
        a = a[la] == '/' ? a + la + 1 : NULL;
        b = b[lb] == '/' ? b + lb + 1 : NULL;
    }
}

/* The channel secmq-pub seals topic with (the most specific one this
 * identity is a member of), or -1. Channels are listed by filter, then
 * channel id: the first of two with one filter has the lower id. */
static long sealing_channel(secmq_keyring *kr, const char *topic)
{
    size_t n = secmq_keyring_channel_count(kr);
    const char *best_filter = NULL;
    long best = -1;

    for (size_t i = 0; i < n; i++) {
        secmq_channel_info ci;
        if (secmq_keyring_channel(kr, i, &ci) != SECMQ_OK || !ci.member ||
            !sub_topic_matches(ci.filter, topic)) {
            continue;
        }
        if (best < 0 || more_specific(ci.filter, best_filter)) {
            best = (long)i;
            best_filter = ci.filter;
        }
    }
    return best;
}

/* 1 if name is one of list's ", "-separated names. */
static int name_listed(const char *list, const char *name)
{
    size_t n = strlen(name);

    while (*list != '\0') {
        size_t k = strcspn(list, ",");
        if (k == n && memcmp(list, name, n) == 0) {
            return 1;
        }
        list += k;
        while (*list == ',' || *list == ' ') {
            list++;
        }
    }
    return 0;
}

/* pr->missing: the receipters other than me, "a, b"; their number. */
static size_t list_receipters(struct pub_receipts *pr,
                              const secmq_channel_receipt_info *ri,
                              const char *me)
{
    size_t others = 0, len = 0;

    pr->missing[0] = '\0';
    for (size_t i = 0; i < ri->n_receipters; i++) {
        char shown[80];
        int k;
        if (strcmp(ri->receipters[i], me) == 0) {
            continue;
        }
        (void)secmq_text_show(shown, sizeof shown, ri->receipters[i]);
        k = snprintf(pr->missing + len, sizeof pr->missing - len, "%s%s",
                     others > 0 ? ", " : "", shown);
        if (k > 0 && (size_t)k < sizeof pr->missing - len) {
            len += (size_t)k;
        }
        others++;
    }
    return others;
}

/* Add the names of the library's give-up line ("...; missing: a, b): given
 * up") to pr->missed_names, each once. Lock held. */
static void add_missed_names(struct pub_receipts *pr, const char *line)
{
    const char *p = strstr(line, "missing: ");
    size_t end;

    if (p == NULL) {
        return;
    }
    p += strlen("missing: ");
    end = strcspn(p, ")");
    while (end > 0) {
        size_t k = strcspn(p, ",)");
        size_t have = strlen(pr->missed_names);
        char name[128];

        if (k > end) {
            k = end;
        }
        snprintf(name, sizeof name, "%.*s", (int)k, p);
        if (name[0] != '\0' && strcmp(name, "?") != 0 &&
            !name_listed(pr->missed_names, name)) {
            snprintf(pr->missed_names + have, sizeof pr->missed_names - have,
                     "%s%s", have > 0 ? ", " : "", name);
        }
        k += k < end && p[k] == ',' ? 1 : 0;
        while (k < end && p[k] == ' ') {
            k++;
        }
        p += k;
        end -= k;
    }
}

/* cli_session's on_log; a row given up is logged by the library as a
 * warning naming the receipters missing ("...; missing: a, b): given
 * up"): their names are kept. May run on any library thread. */
static void on_log(secmq_client *c, void *user, int level, const char *raw)
{
    struct pub_receipts *pr = the_pr;

    if (level == SECMQ_LOG_WARNING && strstr(raw, "): given up") != NULL) {
        /* SECURITY: names peers chose, kept escaped (printed later). */
        char line[1024];
        (void)secmq_text_show(line, sizeof line, raw);
        pthread_mutex_lock(&pr->lock);
        add_missed_names(pr, line);
        pthread_mutex_unlock(&pr->lock);
    }
    if (level == SECMQ_LOG_ERROR && strstr(raw, "receipt topic") != NULL) {
        /* No receipt can arrive (the broker refused the subscription):
         * said without -d, once, as the reason for what follows. */
        static atomic_int said;
        if (!atomic_exchange(&said, 1)) {
            char line[1024];
            (void)secmq_text_show(line, sizeof line, raw);
            cli_err("%s", line);
        }
    }
    cli_session_on_log(c, user, level, raw);
}

static void on_receipt(secmq_client *c, void *user, uint64_t id, int rc,
                       unsigned got, unsigned need)
{
    struct pub_receipts *pr = the_pr;

    (void)c;
    (void)user;
    pthread_mutex_lock(&pr->lock);
    if (rc == SECMQ_OK) {
        pr->receipted++;
    } else {
        pr->missed++;
        if (got < pr->missed_min_got) {
            pr->missed_min_got = got;
        }
    }
    pthread_mutex_unlock(&pr->lock);
    if (rc == SECMQ_OK) {
        cli_debug("message %" PRIu64 " receipted (%u of %u receipters)", id,
                  got, need);
    } else {
        cli_debug("message %" PRIu64 " given up: %u of %u receipts in "
                  "time (%s)",
                  id, got, need, secmq_strerror(rc));
    }
}

int pub_receipts_attach(struct pub_receipts *pr, struct cli_session *s,
                        const char *topic)
{
    secmq_channel_receipt_info ri;
    secmq_channel_info ci;
    secmq_receipt_wait w;
    size_t others;
    long i;
    int rc;

    if (!pub_receipts_wanted(pr)) {
        return CLI_EXIT_OK;
    }
    i = sealing_channel(s->keyring, topic);
    if (i < 0 || secmq_keyring_channel(s->keyring, (size_t)i, &ci) != 0 ||
        secmq_keyring_channel_receipts(s->keyring, (size_t)i, &ri) != 0) {
        cli_err("%s: no channel of keyring %s covers '%.200s'",
                first_option(pr), s->opts->keyring, topic);
        return CLI_EXIT_ERROR;
    }
    (void)secmq_text_show(pr->filter, sizeof pr->filter, ci.filter);
    if (!ri.on) {
        cli_err("%s: channel '%s' (which seals '%.200s') has no receipts, "
                "so no message would ever be receipted; its owner makes "
                "one with secmq-keys channel create --receipts",
                first_option(pr), pr->filter, topic);
        return CLI_EXIT_ERROR;
    }
    others = list_receipters(pr, &ri, secmq_keyring_name(s->keyring));
    if (others == 0) {
        cli_err("%s: channel '%s' names no receipter but this identity "
                "('%s'), and a sender never waits for its own receipt",
                first_option(pr), pr->filter, secmq_keyring_name(s->keyring));
        return CLI_EXIT_ERROR;
    }
    pr->any = ri.need != 0 && ri.need < others;
    pr->need = pr->any ? ri.need : (unsigned)others;
    secmq_receipt_wait_init(&w);
    if (pr->resend_ms > 0) {
        w.resend_ms = (unsigned)pr->resend_ms;
        if (w.resend_max_ms < w.resend_ms) {
            w.resend_max_ms = w.resend_ms;
        }
    }
    if (pr->give_up_s >= 0.0) {
        w.give_up_ms = (uint64_t)(pr->give_up_s * 1000.0 + 0.5);
    } else if (pr->wait_s >= 0.0 && pr->tmpdir[0] != '\0') {
        /* A private outbox goes at exit: give each message --receipt-wait
         * from its first send, so the library settles every row by the
         * end of the wait and names whose receipts are missing. */
        w.give_up_ms = (uint64_t)(pr->wait_s * 1000.0 + 0.5);
        if (w.give_up_ms == 0) {
            w.give_up_ms = 1;
        }
        pr->give_up_tied = 1;
    }
    rc = secmq_client_set_receipt_wait(s->client, &w);
    if (rc != SECMQ_OK) {
        return cli_session_fail(s, rc,
                                "cannot set how receipts are waited "
                                "for");
    }
    the_pr = pr;
    pr->attached = 1;
    secmq_client_on_receipt(s->client, on_receipt);
    secmq_client_on_log(s->client, on_log);
    cli_debug("channel '%s' has receipts: each message waits for %s%s",
              pr->filter, pr->any ? "any of " : "", pr->missing);
    return CLI_EXIT_OK;
}

/* ---- the end ---- */

static void print_counters(struct cli_session *s)
{
    secmq_receipt_stats st;

    memset(&st, 0, sizeof st);
    if (secmq_client_receipt_stats(s->client, &st, sizeof st) != SECMQ_OK) {
        return;
    }
    cli_debug("receipts: awaiting %" PRIu64 ", receipted %" PRIu64
              ", resent %" PRIu64 ", given up %" PRIu64
              "; receipts received: opened %" PRIu64 ", refused %" PRIu64,
              st.awaiting, st.receipted, st.resent, st.missed, st.opened,
              st.refused);
}

/* Rows still in the outbox; *min_got the fewest receipts one of this run's
 * rows has (UINT32_MAX when none was found). */
static uint64_t rows_left(struct pub_receipts *pr, struct pub_outbox *ob,
                          unsigned *min_got)
{
    secmq_outbox_stats st;

    (void)pr;
    *min_got = UINT32_MAX;
    for (uint64_t id = ob->first_id; id != 0 && id <= ob->last_id; id++) {
        secmq_receipt_row row;
        if (secmq_client_receipt_row(ob->s->client, id, &row, sizeof row) ==
                SECMQ_OK &&
            row.got < *min_got) {
            *min_got = row.got;
        }
    }
    memset(&st, 0, sizeof st);
    (void)secmq_client_outbox_stats_v2(ob->s->client, &st, sizeof st);
    return st.rows;
}

/* "alice" / "1 of alice, bob" / "1 more of alice, bob": whose receipts
 * are missing, from the fewest any unsettled message got. */
static void say_missing(const struct pub_receipts *pr, unsigned min_got,
                        char *buf, size_t len)
{
    if (min_got == 0 && !pr->any) {
        snprintf(buf, len, "%s", pr->missing);
    } else if (min_got == 0) {
        snprintf(buf, len, "%u of %s", pr->need, pr->missing);
    } else {
        snprintf(buf, len, "%u more of %s",
                 min_got < pr->need ? pr->need - min_got : 1u, pr->missing);
    }
}

int pub_receipts_finish(struct pub_receipts *pr, struct pub_outbox *ob,
                        int code)
{
    double end;
    unsigned long ok, missed;
    unsigned min_got;
    uint64_t left;
    char who[600];

    if (!pr->attached) {
        return code;
    }
    if (code == CLI_EXIT_OK && pr->wait_s >= 0.0) {
        end = cli_mono_now() + pr->wait_s +
              (pr->give_up_tied ? GIVE_UP_GRACE_S : 0.0);
        while (!atomic_load(&ob->s->stopped) && cli_mono_now() < end) {
            int rc = secmq_client_outbox_wait(ob->s->client,
                                              SECMQ_OUTBOX_WAIT_EMPTY, 100);
            if (rc != SECMQ_E_TIMEOUT) {
                break;
            }
        }
        if (atomic_load(&ob->s->stopped)) {
            code = atomic_load(&ob->s->exit_code);
        }
    }
    left = rows_left(pr, ob, &min_got);
    pthread_mutex_lock(&pr->lock);
    ok = pr->receipted;
    missed = pr->missed;
    if (pr->missed_min_got < min_got) {
        min_got = pr->missed_min_got;
    }
    pthread_mutex_unlock(&pr->lock);
    print_counters(ob->s);
    if (pr->wait_s < 0.0) {
        if (left > 0) {
            cli_debug("outbox %s: %" PRIu64 " message(s) still wait for "
                      "receipts; the next run with --outbox %s sends them "
                      "again",
                      ob->path, left, ob->path);
        }
        return code;
    }
    if (code != CLI_EXIT_OK) {
        return code;
    }
    if (left == 0 && missed == 0) {
        cli_debug("all %lu message(s) receipted", ok);
        return CLI_EXIT_OK;
    }
    if (left == 0 && pr->missed_names[0] != '\0') {
        /* Every row was given up by the library, which named them. */
        pthread_mutex_lock(&pr->lock);
        snprintf(who, sizeof who, "%s", pr->missed_names);
        pthread_mutex_unlock(&pr->lock);
    } else {
        say_missing(pr, min_got == UINT32_MAX ? 0 : min_got, who, sizeof who);
    }
    cli_err("%" PRIu64 " of %" PRIu64 " message(s) got no receipt within "
            "%.3g s (channel '%s': still missing %s)%s%s%s",
            left + missed, left + missed + ok, pr->wait_s, pr->filter, who,
            left > 0 && pr->tmpdir[0] == '\0' ? "; they stay in outbox " : "",
            left > 0 && pr->tmpdir[0] == '\0' ? ob->path : "",
            left > 0 && pr->tmpdir[0] == '\0'
                ? " and the next run with it sends them again"
                : "");
    return CLI_EXIT_ERROR;
}
