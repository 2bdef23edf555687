/*
 * xfersend_int.h -- the sender's inside, shared by xfersend.c (publishing,
 * requests, the API) and xferqueue.c (queueing a file: hashing it or
 * building its chunk tree, or resuming it from the state file). Not part
 * of the public API.
 */
#ifndef SECMQ_XFERSEND_INT_H
#define SECMQ_XFERSEND_INT_H

#include <pthread.h>

#include "secmq_int.h"
#include "xfer_int.h"
#include "xferleaves_int.h"

#define PROGRESS_EVERY_MS 500u
#define SAVE_EVERY_MS 1000u
#define WINDOW_MAX 1024u
#define BUSY_MAX_MS 60000u /* longest wait after a busy answer */
#define MAN_MIDS 16u       /* manifest packet ids remembered */
#define ENV_BUF (SECMQ_FILE_REQUEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED)

enum { F_QUEUED = 0, F_SENDING = 1, F_FINISHED = 2 };

/* One file. Lives in sodium_malloc memory: the manifest holds its key. */
typedef struct sfile {
    secmq_file_manifest m;
    char path[SECMQ__XPATH_MAX];
    int64_t src_size, src_mtime_ns;
    int fd;
    int state;
    unsigned char *acked; /* PUBACK received (saved to the state file) */
    unsigned char *want;  /* to be published (again) */
    uint32_t acked_n;
    uint32_t cursor; /* where the search for a wanted chunk starts */
    unsigned dones;
    int dirty;
    uint64_t last_save_ms, last_manifest_ms, last_answer_ms;
    uint64_t wait_ms; /* silence before the manifest is repeated: retry_ms,
                         doubled (up to BUSY_MAX_MS) by each busy answer */
    uint64_t last_progress_ms, progress_bytes;
    char ctopic[SECMQ_TOPIC_MAX + 1];
    /* Protocol 2: the tree key and the whole tree (malloc'd, leaves
     * first, secmq_file_tree_nodes(chunk_count) nodes); rebuilt from the
     * file after a restart. */
    unsigned char ktree[SECMQ_KEY_BYTES];
    unsigned char *nodes;
    /* Protocol 2: a keyed tag of each chunk (xferleaves_int.h), taken with
     * its leaf; a chunk read again to send must still match it. The key
     * is random for this run (rebuilt with the tree after a restart). */
    unsigned char ktag[SECMQ__LEAF_TAG_KEY_BYTES];
    unsigned char *tags;
} sfile;

typedef struct flight {
    sfile *f;    /* NULL: free slot */
    int mid;     /* without an outbox: the packet id */
    uint64_t id; /* with an outbox: the row id */
    uint32_t index;
} flight;

struct secmq_file_sender {
    pthread_mutex_t lock;
    secmq_client *c;
    secmq_keyring *kr;
    secmq__xtopics t; /* TOPIC/r/ is the peer's */
    secmq_file_send_opts o;
    secmq__xdb *db;
    secmq_file_event_cb cb;
    void *user;
    sfile **files;
    size_t nfiles, cur;
    flight *fl;
    unsigned inflight;
    /* The client has an outbox (secmq/outbox.h): chunks and manifests
     * are outbox rows; a chunk counts as acknowledged once its row is
     * durable, and leaves the window once the row is delivered. */
    int outbox;
    uint64_t recovered_left; /* rows from before this run, not delivered */
    uint64_t first_id;       /* first row id queued by this run; 0: none */
    unsigned char *pt, *env; /* one chunk's plaintext and envelope */
    size_t env_cap;
    unsigned char pk[SECMQ_SIGN_PK_BYTES];
    const unsigned char *sk;
    unsigned ndone, nrefused, nfailed;
    int sub_mid; /* the SUBSCRIBE to TOPIC/r/+ */
    /* Publishes awaiting an ack that no flight holds: the last manifests
     * and the chunks of files finished first (a receiver's DONE can come
     * before the broker's acks), so handle_publish_v2 /
     * handle_delivered_v2 can claim their acks. A ring of window +
     * MAN_MIDS; an entry is (0, 0) once its ack came. */
    struct late {
        int mid;     /* without an outbox */
        uint64_t id; /* with one */
    } * late;
    unsigned nlate, late_next;
    int fatal; /* a SECMQ_E_* that ends the sender (tick returns it) */
    uint64_t rate_t0_ms, rate_bytes; /* --rate: since the first chunk */
    secmq__err err;
};

/* Close, free and wipe f. NULL is a no-op. */
void secmq__xs_free(sfile *f);
/* A new sfile for path announced as name, resumed from the state file
 * when it holds an unfinished transfer of the same source; *out. Returns
 * SECMQ_OK or a code with s->err set. */
int secmq__xs_make(secmq_file_sender *s, const char *path, const char *name,
                   sfile **out);
/* Shared by xfersend.c and xfersendack.c (lock held). */
/* The file is over (DONE, REFUSED or FAILED): event, state file, slots. */
void secmq__xs_finish(secmq_file_sender *s, sfile *f, int kind,
                      const char *peer, int reason, int rc, const char *detail);
/* Start the next queued file, if no file is being sent. */
void secmq__xs_start_next(secmq_file_sender *s);
/* Publish wanted chunks while the window has room. */
void secmq__xs_pump(secmq_file_sender *s);
/* Remember a publish no flight holds (a manifest, a chunk of a finished
 * file) until its ack comes. */
void secmq__xs_late_push(secmq_file_sender *s, int mid, uint64_t id);

#endif /* SECMQ_XFERSEND_INT_H */
