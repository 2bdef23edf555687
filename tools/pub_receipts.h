/*
 * pub_receipts.h -- secmq-pub's end-to-end receipts (PROTOCOL.md §9): the
 * --receipt-* options, the private outbox of a one-shot --receipt-wait,
 * the check that the topic's channel has receipts, and the wait at the end
 * until every message held for receipts has settled. The holding, resending
 * and giving up are the library's (secmq/receipt.h).
 */
#ifndef PUB_RECEIPTS_H
#define PUB_RECEIPTS_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "cli_session.h"
#include "pub_outbox.h"

/* Option ids (secmq-pub's table uses them). */
enum pub_receipts_opt { PR_WAIT = 200, PR_RESEND, PR_GIVE_UP };

struct pub_receipts {
    /* Options. */
    double wait_s;    /* --receipt-wait; < 0: not given */
    long resend_ms;   /* --receipt-resend; 0: library default */
    double give_up_s; /* --receipt-give-up; < 0: library default */
    /* The channel of the topic (after pub_receipts_check). */
    char filter[256];
    char missing[512]; /* its receipters other than this identity */
    unsigned need;     /* receipters a message needs */
    int any;           /* 1: any `need` of them; 0: every one */
    /* The private outbox of --receipt-wait without --outbox. */
    char tmpdir[PATH_MAX];
    char tmpdb[PATH_MAX + 16];
    /* Counted by on_receipt (any thread). */
    pthread_mutex_t lock;
    int attached;
    unsigned long receipted;
    unsigned long missed;
    unsigned missed_min_got; /* fewest receipts a given-up row had */
    char missed_names[512];  /* receipters the library named missing in
                                rows it gave up ("a, b") */
    int give_up_tied;        /* 1: give-up set to --receipt-wait */
};

/* Defaults: no option given. */
void pub_receipts_init(struct pub_receipts *pr);
/* One of the PR_* options. 0, or -1 with a reason in err. */
int pub_receipts_option(struct pub_receipts *pr, int id, const char *name,
                        const char *arg, char *err, size_t errlen);
/* Prints the options' help. */
void pub_receipts_help(void);
/* Whether any --receipt-* option was given. */
int pub_receipts_wanted(const struct pub_receipts *pr);
/*
 * Before connecting, options only: they need --keyring, -q 1 or 2 and no
 * --raw. 0 or -1 after printing a usage error.
 */
int pub_receipts_check_options(const struct pub_receipts *pr, int has_keyring,
                               int qos, int raw);
/*
 * --receipt-wait without --outbox: make a private directory (mkdtemp in
 * $TMPDIR, 0700) and point ob at an outbox file in it; removed by
 * pub_receipts_cleanup(), or by SIGINT, SIGTERM or SIGHUP (then the
 * signal's default action follows). 0 or an exit code after printing.
 */
int pub_receipts_private_outbox(struct pub_receipts *pr, struct pub_outbox *ob);
/*
 * After cli_session_open() and pub_receipts_private_outbox(), before
 * connecting: the channel sealing topic must have receipts and a receipter
 * other than this identity; set the library's resend and give-up times
 * (with a private outbox and no --receipt-give-up, give-up is
 * --receipt-wait, so the library settles and names every row by the end of
 * the wait), on_receipt, and an on_log that keeps the library's give-up
 * lines (they name the receipters missing). 0 or an exit code after
 * printing.
 */
int pub_receipts_attach(struct pub_receipts *pr, struct cli_session *s,
                        const char *topic);
/*
 * After pub_outbox_finish() returned code (every row acknowledged, or
 * not): with --receipt-wait and code 0, wait up to that long until every
 * row held for receipts is settled. Returns code, or 1 after saying how
 * many messages got no receipt and whose receipts are missing. With -d
 * prints the receipt counters.
 */
int pub_receipts_finish(struct pub_receipts *pr, struct pub_outbox *ob,
                        int code);
/* Remove the private outbox, if any. Safe to call more than once. */
void pub_receipts_cleanup(struct pub_receipts *pr);

#endif /* PUB_RECEIPTS_H */
