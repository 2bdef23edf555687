/*
 * seqstate.c -- the persisted stream tables of a keyring: reserved
 * sequence blocks of this sender and replay tops of the streams it
 * received, each a sealed local file under DIR/state/. Format:
 * u32 count || count * (key_id 8 || sender_id 8 || u64 value), big-endian.
 * When to write them is keyring.c's business.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes_int.h"
#include "seqstate_int.h"

#define ENT_BYTES (2u * SECMQ_ID_BYTES + 8u)

static int state_path(char *buf, size_t len, const char *dir, const char *kind)
{
    return secmq__kpath(buf, len, dir, "state", kind);
}

int secmq__streams_load(const char *dir, const char *kind,
                        const unsigned char *key, secmq__stream_ent **ents,
                        size_t *n, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *pl = NULL;
    secmq__stream_ent *out = NULL;
    size_t len = 0, count;
    int rc;

    *ents = NULL;
    *n = 0;
    if (state_path(path, sizeof path, dir, kind) != 0) {
        return secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: path too long", dir);
    }
    rc = secmq__kfile_seal_read(path, kind, key,
                                4u + (size_t)SECMQ__STREAMS_MAX * ENT_BYTES, 1,
                                &pl, &len, e);
    if (rc != SECMQ_OK || pl == NULL) {
        return rc;
    }
    if (len < 4) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto err;
    }
    count = ((size_t)pl[0] << 24) | ((size_t)pl[1] << 16) |
            ((size_t)pl[2] << 8) | pl[3];
    if (count > SECMQ__STREAMS_MAX || len != 4 + count * ENT_BYTES) {
        rc = secmq__kerr_set(e, SECMQ_E_KEYRING, "%s: malformed", path);
        goto err;
    }
    if (count > 0) {
        out = calloc(count, sizeof *out);
        if (out == NULL) {
            rc = secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
            goto err;
        }
    }
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = pl + 4 + i * ENT_BYTES;
        memcpy(out[i].key_id, p, SECMQ_ID_BYTES);
        memcpy(out[i].sender_id, p + SECMQ_ID_BYTES, SECMQ_ID_BYTES);
        out[i].value = secmq__get_u64(p + 2 * SECMQ_ID_BYTES);
    }
    sodium_free(pl);
    *ents = out;
    *n = count;
    return SECMQ_OK;
err:
    sodium_free(pl);
    return rc;
}

int secmq__streams_save(const char *dir, const char *kind,
                        const unsigned char *key, const secmq__stream_ent *ents,
                        size_t n, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *pl;
    size_t len;
    int rc;

    if (n > SECMQ__STREAMS_MAX) {
        return secmq__kerr_set(e, SECMQ_E_IO, "too many streams to save");
    }
    if (state_path(path, sizeof path, dir, kind) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", dir);
    }
    len = 4 + n * ENT_BYTES;
    pl = malloc(len);
    if (pl == NULL) {
        return secmq__kerr_set(e, SECMQ_E_NOMEM, "out of memory");
    }
    pl[0] = (unsigned char)(n >> 24);
    pl[1] = (unsigned char)(n >> 16);
    pl[2] = (unsigned char)(n >> 8);
    pl[3] = (unsigned char)n;
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = pl + 4 + i * ENT_BYTES;
        memcpy(p, ents[i].key_id, SECMQ_ID_BYTES);
        memcpy(p + SECMQ_ID_BYTES, ents[i].sender_id, SECMQ_ID_BYTES);
        secmq__put_u64(p + 2 * SECMQ_ID_BYTES, ents[i].value);
    }
    rc = secmq__kfile_seal_write(path, kind, key, pl, len, e);
    free(pl);
    return rc;
}

uint64_t secmq__seq_start(uint64_t reserved, uint64_t now_us)
{
    /* SECURITY: the larger of the two covers both a crash (reserved) and a
     * restored backup of the state file (the clock). */
    return reserved > now_us ? reserved : now_us;
}
