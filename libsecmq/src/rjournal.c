/*
 * rjournal.c -- the replay journal's file format (rjournal_int.h).
 *
 * header  = "SECMQRJ1" 8 || file_id 16 || zero 8 || tag 16
 * record  = type 1 || zero 7 || key_id 8 || sender_id 8 || u64 value ||
 *           tag 16             (type 1: accepted seq; 2: commit, value =
 *                               records in the group)
 * tag     = BLAKE2b-128(key = mk, "SECMQRJ1" || file_id || u64 index ||
 *           the unit's first 32 bytes), index UINT64_MAX for the header
 *           and 0, 1, ... for the records; mk =
 *           crypto_kdf_derive_from_key(32, 2, "secmqrj1", local key).
 * The index in the tag makes a removed, moved or repeated record fail,
 * and the file id one from an older journal. Private to the keyring, like
 * the sealed state files: not part of the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes_int.h"
#include "rjournal_int.h"

#define RJ_MAGIC "SECMQRJ1"
#define RJ_BODY 32u
#define RJ_TAG 16u
#define RJ_ACCEPT 1u
#define RJ_COMMIT 2u
#define RJ_HEADER_INDEX UINT64_MAX

static void mac_key(unsigned char mk[32], const unsigned char *lkey)
{
    crypto_kdf_derive_from_key(mk, 32, 2, "secmqrj1", lkey);
}

/* The tag of unit (its first 32 bytes) at index of file file_id. */
static void unit_tag(unsigned char tag[RJ_TAG], const unsigned char *mk,
                     const unsigned char *file_id, uint64_t index,
                     const unsigned char *unit)
{
    crypto_generichash_state st;
    unsigned char ib[8];

    secmq__put_u64(ib, index);
    crypto_generichash_init(&st, mk, 32, RJ_TAG);
    crypto_generichash_update(&st, (const unsigned char *)RJ_MAGIC, 8);
    crypto_generichash_update(&st, file_id, 16);
    crypto_generichash_update(&st, ib, sizeof ib);
    crypto_generichash_update(&st, unit, RJ_BODY);
    crypto_generichash_final(&st, tag, RJ_TAG);
}

static int unit_ok(const unsigned char *mk, const unsigned char *file_id,
                   uint64_t index, const unsigned char *unit)
{
    unsigned char tag[RJ_TAG];

    unit_tag(tag, mk, file_id, index, unit);
    return sodium_memcmp(tag, unit + RJ_BODY, RJ_TAG) == 0;
}

/* Records a torn tail is searched for at a wrong position. */
#define RJ_SHIFT 64u

/* 1 if unit (at position i) authenticates at another index near i: a
 * record moved or removed, which no torn write produces. */
static int moved(const unsigned char *mk, const unsigned char *file_id,
                 uint64_t i, const unsigned char *unit)
{
    uint64_t lo = i > RJ_SHIFT ? i - RJ_SHIFT : 0;

    for (uint64_t k = lo; k <= i + RJ_SHIFT; k++) {
        if (k != i && unit_ok(mk, file_id, k, unit)) {
            return 1;
        }
    }
    return 0;
}

/* Check a header unit; its file id into file_id. 1 if good. */
static int header_ok(const unsigned char *mk, const unsigned char *h,
                     unsigned char file_id[16])
{
    if (memcmp(h, RJ_MAGIC, 8) != 0) { /* not secret */
        return 0;
    }
    memcpy(file_id, h + 8, 16);
    return unit_ok(mk, file_id, RJ_HEADER_INDEX, h);
}

void secmq__rj_init(secmq__rj *j)
{
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

void secmq__rj_close(secmq__rj *j)
{
    if (j->fd >= 0) {
        close(j->fd);
    }
    secmq__rj_init(j);
}

int secmq__rj_read(const char *path, const unsigned char *lkey,
                   secmq__rj_rec_cb cb, secmq__rj_commit_cb commit_cb,
                   void *user, uint64_t *torn, secmq__kerr *e)
{
    unsigned char mk[32], file_id[16];
    unsigned char *d = NULL;
    size_t len = 0, nfull, first_bad = SIZE_MAX;
    int rc;

    *torn = 0;
    rc = secmq__kfile_read(path, SECMQ__RJ_MAX_BYTES, SECMQ__KF_OPTIONAL, &d,
                           &len, e);
    if (rc != SECMQ_OK || d == NULL) {
        return rc; /* SECMQ_OK with no file: nothing journaled */
    }
    mac_key(mk, lkey);
    /* SECURITY: the header is written whole and synced before the file
     * gets its name, so a bad header is damage, never a torn write. */
    if (len < SECMQ__RJ_UNIT || !header_ok(mk, d, file_id)) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                             "%s: damaged replay journal (its header does not "
                             "authenticate): refusing to guess which messages "
                             "were delivered",
                             path);
        goto out;
    }
    nfull = (len - SECMQ__RJ_UNIT) / SECMQ__RJ_UNIT;
    for (size_t i = 0; i < nfull; i++) {
        const unsigned char *u = d + SECMQ__RJ_UNIT * (i + 1);
        secmq__stream_ent rec;

        if (!unit_ok(mk, file_id, (uint64_t)i, u)) {
            if (first_bad == SIZE_MAX) {
                first_bad = i;
            }
            /* SECURITY: a torn write leaves garbage, zeros or records at
             * their own place, never a good record at another place. */
            if (moved(mk, file_id, (uint64_t)i, u)) {
                rc = secmq__kerr_set(
                    e, SECMQ_E_KEYRING,
                    "%s: damaged replay journal (record at byte %zu is "
                    "out of place): refusing to guess which messages were "
                    "delivered",
                    path, SECMQ__RJ_UNIT * (i + 1));
                goto out;
            }
            continue;
        }
        /* SECURITY: a bad record followed by a good one is not a torn
         * tail (appends are sequential): an accepted message may be lost
         * there, so the whole journal is refused. */
        if (first_bad != SIZE_MAX) {
            rc = secmq__kerr_set(
                e, SECMQ_E_KEYRING,
                "%s: damaged replay journal (record at byte %zu does not "
                "authenticate, later ones do): refusing to guess which "
                "messages were delivered",
                path, SECMQ__RJ_UNIT * (first_bad + 1));
            goto out;
        }
        if (u[0] == RJ_COMMIT) {
            if (commit_cb != NULL) {
                commit_cb(user, secmq__get_u64(u + 24));
            }
            continue;
        }
        if (u[0] != RJ_ACCEPT) {
            rc = secmq__kerr_set(e, SECMQ_E_KEYRING,
                                 "%s: unknown record type %u at byte %zu", path,
                                 (unsigned)u[0], SECMQ__RJ_UNIT * (i + 1));
            goto out;
        }
        memcpy(rec.key_id, u + 8, SECMQ_ID_BYTES);
        memcpy(rec.sender_id, u + 16, SECMQ_ID_BYTES);
        rec.value = secmq__get_u64(u + 24);
        cb(user, &rec);
    }
    *torn = (len - SECMQ__RJ_UNIT) % SECMQ__RJ_UNIT;
    if (first_bad != SIZE_MAX) {
        *torn += (uint64_t)(nfull - first_bad) * SECMQ__RJ_UNIT;
    }
    rc = SECMQ_OK;
out:
    sodium_memzero(mk, sizeof mk);
    secmq__kfile_release(d, len + 1, 0);
    return rc;
}

int secmq__rj_reset(secmq__rj *j, const char *path, const unsigned char *lkey,
                    secmq__kerr *e)
{
    unsigned char mk[32], h[SECMQ__RJ_UNIT];
    struct stat st;
    int fd, rc;

    secmq__rj_close(j);
    memset(h, 0, sizeof h);
    memcpy(h, RJ_MAGIC, 8);
    randombytes_buf(h + 8, 16);
    mac_key(mk, lkey);
    unit_tag(h + RJ_BODY, mk, h + 8, RJ_HEADER_INDEX, h);
    sodium_memzero(mk, sizeof mk);
    rc = secmq__kfile_write(path, h, sizeof h, 0600, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot open: %s", path,
                             strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    j->fd = fd;
    j->dev = st.st_dev;
    j->ino = st.st_ino;
    memcpy(j->file_id, h + 8, 16);
    j->nrec = 0;
    j->broken = 0;
    return SECMQ_OK;
}

/* fstat fd into *st; 0 or -1. */
static int size_of(int fd, struct stat *st)
{
    return fstat(fd, st) == 0 ? 0 : -1;
}

int secmq__rj_attach(secmq__rj *j, const char *path, const unsigned char *lkey,
                     secmq__kerr *e)
{
    unsigned char mk[32], h[SECMQ__RJ_UNIT], file_id[16];
    struct stat ps, fs;
    int fd, good;
    ssize_t n;

    if (j->broken) {
        return SECMQ_E_STATE;
    }
    if (stat(path, &ps) != 0) {
        if (errno == ENOENT) {
            secmq__rj_close(j);
            return SECMQ_E_STATE;
        }
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
    }
    if (j->fd < 0 || j->dev != ps.st_dev || j->ino != ps.st_ino) {
        /* Another process replaced the journal (or this is the first
         * append): open the current one and check its header. */
        secmq__rj_close(j);
        fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            return secmq__kerr_set(e, SECMQ_E_IO, "%s: cannot open: %s", path,
                                   strerror(errno));
        }
        n = pread(fd, h, sizeof h, 0);
        mac_key(mk, lkey);
        good = n == (ssize_t)sizeof h && header_ok(mk, h, file_id);
        sodium_memzero(mk, sizeof mk);
        if (!good || size_of(fd, &fs) != 0) {
            close(fd);
            return SECMQ_E_STATE;
        }
        j->fd = fd;
        j->dev = fs.st_dev;
        j->ino = fs.st_ino;
        memcpy(j->file_id, file_id, 16);
    }
    if (size_of(j->fd, &fs) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: %s", path, strerror(errno));
    }
    if (fs.st_size < (off_t)SECMQ__RJ_UNIT ||
        (uint64_t)fs.st_size % SECMQ__RJ_UNIT != 0) {
        return SECMQ_E_STATE; /* a torn tail: rebuild, never append after */
    }
    j->nrec = (uint64_t)fs.st_size / SECMQ__RJ_UNIT - 1u;
    return SECMQ_OK;
}

static void put_unit(unsigned char *u, unsigned type, const unsigned char *kid,
                     const unsigned char *sid, uint64_t value,
                     const unsigned char *mk, const unsigned char *file_id,
                     uint64_t index)
{
    memset(u, 0, SECMQ__RJ_UNIT);
    u[0] = (unsigned char)type;
    if (kid != NULL) {
        memcpy(u + 8, kid, SECMQ_ID_BYTES);
        memcpy(u + 16, sid, SECMQ_ID_BYTES);
    }
    secmq__put_u64(u + 24, value);
    unit_tag(u + RJ_BODY, mk, file_id, index, u);
}

int secmq__rj_append(secmq__rj *j, const secmq__stream_ent *recs, size_t n,
                     const unsigned char *lkey, secmq__kerr *e)
{
    unsigned char mk[32];
    unsigned char *buf, *p;
    size_t len = (n + 1) * SECMQ__RJ_UNIT, done = 0;
    off_t at;
    ssize_t w;
    int rc = SECMQ_OK;

    if (j->fd < 0 || j->broken) {
        return secmq__kerr_set(e, SECMQ_E_IO, "replay journal not open");
    }
    buf = malloc(len);
    if (buf == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    mac_key(mk, lkey);
    for (size_t i = 0; i < n; i++) {
        put_unit(buf + i * SECMQ__RJ_UNIT, RJ_ACCEPT, recs[i].key_id,
                 recs[i].sender_id, recs[i].value, mk, j->file_id, j->nrec + i);
    }
    put_unit(buf + n * SECMQ__RJ_UNIT, RJ_COMMIT, NULL, NULL, (uint64_t)n, mk,
             j->file_id, j->nrec + n);
    sodium_memzero(mk, sizeof mk);
    at = (off_t)((j->nrec + 1) * SECMQ__RJ_UNIT);
    p = buf;
    while (done < len) {
        w = pwrite(j->fd, p + done, len - done, at + (off_t)done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = secmq__kerr_set(e, SECMQ_E_IO,
                                 "replay journal: cannot write: %s",
                                 w < 0 ? strerror(errno) : "no progress");
            goto out;
        }
        done += (size_t)w;
    }
    /* SECURITY: the group is durable (data and the new size) before any
     * of its messages may be handed to the application. */
    if (fdatasync(j->fd) != 0) {
        rc = secmq__kerr_set(e, SECMQ_E_IO, "replay journal: fdatasync: %s",
                             strerror(errno));
        goto out;
    }
    j->nrec += n + 1;
out:
    if (rc != SECMQ_OK) {
        j->broken = 1;
    }
    free(buf);
    return rc;
}
