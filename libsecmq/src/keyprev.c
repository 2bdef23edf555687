/*
 * keyprev.c -- a static channel's previous key is kept only until its
 * grace deadline (PROTOCOL.md §3): after it, a member's
 * grants/<cid>.prev.grant is erased (removed, its bytes overwritten) and
 * an owner's owned file is rewritten with the previous key zeroed. Done
 * when a keyring is opened and, for an open keyring, by the ticker thread
 * (keychain.c) at the deadline. In memory the previous key stays until the
 * keyring is freed, refused by its deadline (the key slots are read
 * without a lock while open).
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes_int.h"
#include "keyring_int.h"

#define OWNED_MAX (70000u + 65535u * (SECMQ_SIGN_PK_BYTES + 2u + 64u))

/* A channel whose previous key is past its deadline and still on disk. */
static int stale(const secmq__kchan *ch, uint64_t now)
{
    return ch->chain == NULL && ch->has_prev && !ch->prev_erased &&
           now > ch->prev_deadline_ms;
}

uint64_t secmq__prev_next_deadline(const secmq_keyring *kr, uint64_t now)
{
    uint64_t next = UINT64_MAX;

    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (ch->chain == NULL && ch->has_prev && !ch->prev_erased &&
            ch->prev_deadline_ms >= now && ch->prev_deadline_ms < next) {
            next = ch->prev_deadline_ms;
        }
    }
    return next;
}

/* The owned file of ch without its previous key (same key id only). */
static int owned_zero_prev(const secmq_keyring *kr, const secmq__kchan *ch,
                           secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    unsigned char *pl = NULL;
    size_t len = 0, flen, id_off, prev_off;
    int rc;

    if (secmq__chan_path(path, sizeof path, kr->dir, "owned", ch->cid,
                         ".chan") != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    rc = secmq__kfile_seal_read(path, "owned", kr->sec->local_key, OWNED_MAX, 1,
                                &pl, &len, e);
    if (rc != SECMQ_OK || pl == NULL) {
        return rc;
    }
    /* §5.3: filter, allow_mac, epoch, key id, key, created, has_prev,
     * prev key id, prev key. */
    flen = len >= 2 ? secmq__get_u16(pl) : 0;
    id_off = 2 + flen + 1 + 4;
    prev_off =
        id_off + SECMQ_ID_BYTES + SECMQ_KEY_BYTES + 8 + 1 + SECMQ_ID_BYTES;
    if (len < prev_off + SECMQ_KEY_BYTES ||
        memcmp(pl + id_off, ch->key_id, SECMQ_ID_BYTES) != 0 || /* not secret */
        sodium_is_zero(pl + prev_off, SECMQ_KEY_BYTES)) {
        goto out; /* another key since, or already erased */
    }
    sodium_memzero(pl + prev_off, SECMQ_KEY_BYTES);
    rc = secmq__kfile_seal_write(path, "owned", kr->sec->local_key, pl, len, e);
out:
    sodium_free(pl);
    return rc;
}

int secmq__prev_tick(secmq_keyring *kr, secmq__kerr *e)
{
    char path[SECMQ__PATH_MAX];
    uint64_t now = secmq__unix_ms();
    int any = 0, fd = -1, rc = SECMQ_OK, r;

    for (size_t i = 0; i < kr->nchans && !any; i++) {
        any = stale(&kr->chans[i], now);
    }
    if (!any) {
        return SECMQ_OK;
    }
    if (secmq__kpath(path, sizeof path, kr->dir, "lock", NULL) != 0) {
        return secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
    }
    rc = secmq__kfile_lock(path, 1, 0, 1, &fd, e);
    if (rc != SECMQ_OK) {
        return rc;
    }
    for (size_t i = 0; i < kr->nchans; i++) {
        secmq__kchan *ch = &kr->chans[i];
        if (!stale(ch, now)) {
            continue;
        }
        if (ch->owned) {
            r = owned_zero_prev(kr, ch, e);
        } else if (secmq__chan_path(path, sizeof path, kr->dir, "grants",
                                    ch->cid, ".prev.grant") != 0) {
            r = secmq__kerr_set(e, SECMQ_E_IO, "%s: path too long", kr->dir);
        } else {
            /* A later import may have replaced it with the grant of
             * another previous key: only the file loaded goes. */
            struct stat st;
            r = ch->prev_held && stat(path, &st) == 0 &&
                        (unsigned long long)st.st_ino == ch->prev_ino
                    ? secmq__kfile_remove(path, e)
                    : SECMQ_OK;
        }
        if (r == SECMQ_OK) {
            ch->prev_erased = 1;
        } else if (rc == SECMQ_OK) {
            rc = r;
        }
    }
    close(fd);
    return rc;
}
