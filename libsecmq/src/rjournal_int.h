/*
 * rjournal_int.h -- the receiver's replay journal, DIR/state/replay.journal:
 * an append-only file of fixed-size authenticated records, one per
 * accepted (key id, sender id, seq), written in group commits that each end
 * with a commit record and one fdatasync. Only the file format, reading,
 * appending and replacing; when to do which (and the flock that makes one
 * writer at a time) is rxstate.c's business.
 */
#ifndef SECMQ_RJOURNAL_INT_H
#define SECMQ_RJOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kfile_int.h"
#include "seqstate_int.h"

/* Header and record size: every unit of the file is this long. */
#define SECMQ__RJ_UNIT 48u
/* Largest journal read (longer files are refused as damaged). */
#define SECMQ__RJ_MAX_BYTES (64u * 1024u * 1024u)

/* An open journal. fd -1: none. */
typedef struct secmq__rj {
    int fd;
    dev_t dev;
    ino_t ino;
    unsigned char file_id[16];
    uint64_t nrec; /* records after the header */
    int broken;    /* a write failed: replace before appending again */
} secmq__rj;

/* Called for every authenticated accepted-record of a journal. */
typedef void (*secmq__rj_rec_cb)(void *user, const secmq__stream_ent *rec);
/* Called for every authenticated commit record: the group of n accepted
 * records before it was written whole. */
typedef void (*secmq__rj_commit_cb)(void *user, uint64_t n);

/* A closed journal (fd -1). */
void secmq__rj_init(secmq__rj *j);

/*
 * secmq__rj_read -- read the journal at path, sealed for local key lkey
 * (the keyring's 32-byte local key), and call cb for every authenticated
 * accepted record, in file order, and commit_cb (when not NULL) for every
 * commit record, in the same order. A missing file has no records.
 * Records that do not authenticate at the END of the file (a write cut
 * short by a crash or power loss, never synced, so never delivered) are
 * skipped; their byte count goes to *torn. A damaged header, a record
 * that does not authenticate FOLLOWED by one that does, an unknown record
 * type or a file over SECMQ__RJ_MAX_BYTES is damage that could hide an
 * accepted message: SECMQ_E_KEYRING, the reason naming path and offset.
 * Returns SECMQ_OK, SECMQ_E_KEYRING, SECMQ_E_IO, SECMQ_E_NOMEM.
 */
int secmq__rj_read(const char *path, const unsigned char *lkey,
                   secmq__rj_rec_cb cb, secmq__rj_commit_cb commit_cb,
                   void *user, uint64_t *torn, secmq__kerr *e);

/*
 * secmq__rj_reset -- replace path atomically (temporary file, fsync,
 * rename, fsync of the directory) with an empty journal under a new
 * random file id, and open it in j (closing what j had).
 * Returns SECMQ_OK or SECMQ_E_IO (j closed).
 */
int secmq__rj_reset(secmq__rj *j, const char *path, const unsigned char *lkey,
                    secmq__kerr *e);

/*
 * secmq__rj_attach -- make j the journal now at path, ready to append:
 * keep j's descriptor if it is still that file, else open path and check
 * its header. Returns SECMQ_OK (j->nrec counted from the size), or
 * SECMQ_E_STATE when the journal must be rebuilt before appending: no
 * file, a size that is not whole records (a torn tail), a header that does
 * not authenticate, or j->broken. Other failures: SECMQ_E_IO.
 */
int secmq__rj_attach(secmq__rj *j, const char *path, const unsigned char *lkey,
                     secmq__kerr *e);

/*
 * secmq__rj_append -- append n accepted records and a commit record to
 * the attached journal j in one write, then fdatasync. On failure j is
 * marked broken (the file may hold a partial write) and SECMQ_E_IO is
 * returned; nothing in the group counts as durable.
 */
int secmq__rj_append(secmq__rj *j, const secmq__stream_ent *recs, size_t n,
                     const unsigned char *lkey, secmq__kerr *e);

/* Close j's descriptor (j becomes closed). */
void secmq__rj_close(secmq__rj *j);

#endif /* SECMQ_RJOURNAL_INT_H */
