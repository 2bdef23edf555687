/*
 * xferrecv_int.h -- the receiver's inside, shared by xferrecv.c (judging
 * manifests, the API, resuming) and xferwrite.c (writing chunks, requests,
 * finishing a file). Not part of the public API.
 */
#ifndef SECMQ_XFERRECV_INT_H
#define SECMQ_XFERRECV_INT_H

#include <sodium.h>

#include "secmq_int.h"
#include "xfer_int.h"

#define PROGRESS_EVERY_MS 500u
#define COMMIT_EVERY_MS 1000u
#define COMMIT_EVERY_CHUNKS 256u
#define RETRY_MAX_MS 60000u
#define STALL_DEFAULT_MS 600000 /* secmq_file_recv_opts.stall_ms */
#define DONE_REPLY_GAP_MS 1000u
#define PART_PREFIX ".secmq-part-"
#define STATE_NAME ".secmq-recv.db"
#define MENV_BUF (SECMQ_FILE_MANIFEST_MAX + SECMQ_ENV_OVERHEAD_SIGNED)
#define UNACKED_MAX 256u
#define WRITEBACK_BYTES (1u << 20) /* written bytes between writeback hints */
/* A transfer in progress. sodium_malloc'd: the manifest holds the key. */
typedef struct rfile {
    secmq_file_manifest m;
    char name[SECMQ_FILE_NAME_MAX + 1]; /* checked, before any suffix */
    char sender[SECMQ_NAME_MAX + 1];
    char part[64];
    char ctopic[SECMQ_TOPIC_MAX + 1];
    int fd;
    unsigned char *have; /* written (and, up to `unsynced`, committed) */
    uint32_t have_n;
    uint32_t unsynced; /* written since the last commit */
    size_t unflushed;  /* bytes written since the last writeback hint */
    uint64_t last_chunk_ms, last_req_ms, backoff_ms, last_commit_ms;
    uint64_t last_progress_ms;
    uint32_t progress_n;
    /* The whole-file hash over chunks 0..hashed-1, fed as they arrive in
     * order, so a transfer without gaps needs no read-back at the end. */
    crypto_generichash_state hst;
    uint32_t hashed;
} rfile;

struct secmq_file_receiver {
    pthread_mutex_t lock;
    secmq_client *c;
    secmq_keyring *kr;
    secmq__xtopics t; /* TOPIC/c/ is the peer's */
    char *dir;
    int dirfd;
    secmq_file_recv_opts o;
    secmq__xdb *db;
    secmq_file_event_cb cb;
    void *user;
    rfile **act;
    size_t nact;
    unsigned char *buf; /* one chunk's plaintext */
    size_t buf_cap;
    unsigned char last_done_id[SECMQ_FILE_ID_BYTES];
    uint64_t last_done_ms;
    int unacked[UNACKED_MAX]; /* mids of requests awaiting PUBACK */
    unsigned nunacked;
    int sub_mid[2]; /* SUBSCRIBE packets for TOPIC/m and TOPIC/c/+ */
    int fatal;      /* a SECMQ_E_* that ends the receiver (tick returns it) */
    unsigned char busy_id[SECMQ_FILE_ID_BYTES]; /* the latest busy answer */
    uint64_t busy_ms;
    secmq__err err;
};

/* An event for the application (lock held). f or m describes the file. */
void secmq__xr_emit(secmq_file_receiver *r, int kind, const rfile *f,
                    const secmq_file_manifest *m, const char *sender,
                    const char *path, int reason, int rc, const char *fmt, ...)
    SECMQ_PRINTF(9, 10);
/* Seal and publish a request (kind, reason, n ranges g). SECMQ_OK or why. */
int secmq__xr_request(secmq_file_receiver *r, const unsigned char *file_id,
                      int kind, int reason, const secmq_file_range *g,
                      size_t n);
/* Ask for the missing chunks of f. */
void secmq__xr_ask(secmq_file_receiver *r, rfile *f, uint64_t now);
/* Close, free and wipe f. NULL is a no-op. */
void secmq__xr_free(rfile *f);
/* fdatasync the data, then save the bitmap. */
int secmq__xr_commit(secmq_file_receiver *r, rfile *f, uint64_t now);
/* Every chunk held: verify, sync, rename, answer DONE; f is freed. */
void secmq__xr_complete(secmq_file_receiver *r, rfile *f);
/* A new transfer for manifest m under the checked name. */
int secmq__xr_new(secmq_file_receiver *r, const secmq_file_manifest *m,
                  const char *name, const char *sender, rfile **out);
/* Record and answer a refusal of manifest m. */
void secmq__xr_refuse(secmq_file_receiver *r, const secmq_file_manifest *m,
                      const char *sender, int reason, const char *detail);
/* The transfer in progress with this file id, or NULL. */
rfile *secmq__xr_find(secmq_file_receiver *r, const unsigned char *id);
/* A file no longer in progress: repeat the answer given (rate-limited). */
void secmq__xr_answer(secmq_file_receiver *r, const unsigned char *id);
/* Give up f after a stall: partial file removed, forgotten, an event. */
void secmq__xr_expire(secmq_file_receiver *r, rfile *f, uint64_t idle_ms);
/* A message on TOPIC/c/<id>. */
void secmq__xr_on_chunk(secmq_file_receiver *r, const secmq_message *msg,
                        const unsigned char *id);

#endif /* SECMQ_XFERRECV_INT_H */
