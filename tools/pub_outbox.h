/*
 * pub_outbox.h -- secmq-pub's --outbox mode: messages are committed to a
 * durable outbox file before anything touches the network, so a broker that
 * is away (or a crash) loses nothing; they are sent in order once the
 * broker answers, by this run or the next one with the same file.
 */
#ifndef PUB_OUTBOX_H
#define PUB_OUTBOX_H

#include <pthread.h>
#include <stdint.h>

#include "cli_session.h"

/* Exit status: messages are still queued in the outbox (broker away). */
#define PUB_EXIT_QUEUED 75

/* Option ids (secmq-pub's table uses them). */
enum pub_outbox_opt {
    PO_OUTBOX = 100,
    PO_SYNC,
    PO_MAX_ROWS,
    PO_MAX_BYTES,
    PO_FULL,
    PO_QOS0,
    PO_WAIT,
    PO_RELEASE_QOS2
};

struct pub_outbox {
    /* Options. */
    const char *path; /* NULL: no outbox */
    int ephemeral;    /* 1: a private file removed at exit (nothing stays
                         queued for a next run: exit 1, not 75) */
    int sync;         /* secmq_outbox_sync */
    int policy;       /* secmq_outbox_policy */
    long max_rows;    /* 0: library default */
    long max_bytes;
    int qos0;
    double wait_s;    /* how long to wait for an absent broker at the end */
    int release_qos2; /* 1 or 2: release held QoS 2 rows at that QoS */
    /* State. */
    struct cli_session *s;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t connector;
    int connector_started;
    int closing;
    unsigned long refused_full;
    unsigned long not_queued; /* commits that failed (disk full, I/O) */
    unsigned long damaged;    /* rows found damaged and set aside */
    unsigned long held;       /* QoS 2 rows set aside: broker has no QoS 2 */
    uint64_t erased_at_open;  /* rows under an erased key set aside before */
    uint64_t dropped_seen;
    double last_drop_warn;
    unsigned long delivered;
    unsigned long delivery_refused;
    int delivery_rc;
    uint64_t first_id, last_id; /* rows queued by this run; 0: none */
};

/* Defaults; no outbox. */
void pub_outbox_init(struct pub_outbox *ob);
/* One of the PO_* options. 0, or -1 with a reason in err. */
int pub_outbox_option(struct pub_outbox *ob, int id, const char *name,
                      const char *arg, char *err, size_t errlen);
/* Prints the options' help. */
void pub_outbox_help(void);
/* Whether a message at qos goes through the outbox. */
int pub_outbox_wants(const struct pub_outbox *ob, int qos);
/* After cli_session_open(): open the file. 0 or an exit code (printed). */
int pub_outbox_attach(struct pub_outbox *ob, struct cli_session *s);
/* Commit one message (sealed as secmq-pub always does). 0 or an exit
 * code; a message refused because the outbox is full is counted and said
 * (first one in full), and 0 is returned so -l goes on reading. */
int pub_outbox_publish(struct pub_outbox *ob, const char *topic,
                       const void *payload, size_t len, int qos, int retain,
                       int raw);
/*
 * Connect. 0 when connected (loop started); with background, an absent
 * broker is retried on a thread (bounded backoff) and 0 is returned at
 * once; without, PUB_EXIT_QUEUED after saying what stays queued. Other
 * failures (refused login, TLS) give their exit code.
 */
int pub_outbox_connect(struct pub_outbox *ob, int background);
/* Wait until the outbox is empty, or until every row left was
 * acknowledged and waits for receipts (secmq/receipt.h; pub_receipts.h
 * waits for those); PUB_EXIT_QUEUED (said) when the broker stays away for
 * wait_s; 1 when messages were refused. */
int pub_outbox_finish(struct pub_outbox *ob);
/* Stop the connector thread (before cli_session_close). */
void pub_outbox_close(struct pub_outbox *ob);

#endif /* PUB_OUTBOX_H */
