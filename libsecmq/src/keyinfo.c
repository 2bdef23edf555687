/*
 * keyinfo.c -- what a runtime keyring tells about itself and the
 * receiver's setting: the maximum age, the latest error message, the
 * peers, successions and channels it holds. Reads what loading set (and the
 * error slot under its lock); sealing and opening are keyring.c's.
 */
#include <string.h>

#include "keyring_int.h"

int secmq_keyring_set_max_age(secmq_keyring *kr, uint64_t max_age_ms)
{
    if (kr == NULL) {
        return SECMQ_E_INVAL;
    }
    pthread_mutex_lock(&kr->rx_lock);
    kr->max_age_ms = max_age_ms;
    pthread_mutex_unlock(&kr->rx_lock);
    return SECMQ_OK;
}

size_t secmq_keyring_errmsg(secmq_keyring *kr, char *buf, size_t len)
{
    size_t n;

    if (kr == NULL) {
        if (buf != NULL && len > 0) {
            buf[0] = 0;
        }
        return 0;
    }
    pthread_mutex_lock(&kr->err_lock);
    n = strlen(kr->errmsg);
    if (buf != NULL && len > 0) {
        size_t k = n < len - 1 ? n : len - 1;
        memcpy(buf, kr->errmsg, k);
        buf[k] = 0;
    }
    pthread_mutex_unlock(&kr->err_lock);
    return n;
}

size_t secmq_keyring_peer_count(const secmq_keyring *kr)
{
    return kr != NULL ? kr->npeers : 0;
}

int secmq_keyring_peer(const secmq_keyring *kr, size_t i, secmq_peer_info *info)
{
    if (kr == NULL || info == NULL || i >= kr->npeers) {
        return SECMQ_E_INVAL;
    }
    info->name = kr->peers[i].name;
    memcpy(info->id, kr->peers[i].id, SECMQ_ID_BYTES);
    memcpy(info->pk, kr->peers[i].pk, SECMQ_SIGN_PK_BYTES);
    return SECMQ_OK;
}

size_t secmq_keyring_succession_count(const secmq_keyring *kr)
{
    return kr != NULL ? kr->nsucc : 0;
}

int secmq_keyring_succession(const secmq_keyring *kr, size_t i,
                             secmq_succession_info *info)
{
    const secmq__succ *s;

    if (kr == NULL || info == NULL || i >= kr->nsucc) {
        return SECMQ_E_INVAL;
    }
    s = &kr->succ[i];
    info->name = s->name;
    secmq_identity_id(info->old_id, s->old_pk);
    secmq_identity_id(info->new_id, s->new_pk);
    info->created_ms = s->created_ms;
    info->own = secmq__succ_is_own_old(kr, s->old_pk);
    return SECMQ_OK;
}

size_t secmq_keyring_channel_count(const secmq_keyring *kr)
{
    return kr != NULL ? kr->nchans : 0;
}

int secmq_keyring_channel(const secmq_keyring *kr, size_t i,
                          secmq_channel_info *info)
{
    const secmq__kchan *ch;

    if (kr == NULL || info == NULL || i >= kr->nchans) {
        return SECMQ_E_INVAL;
    }
    ch = &kr->chans[i];
    memset(info, 0, sizeof *info);
    info->filter = ch->filter;
    info->owner = ch->owner_display;
    info->owned = ch->owned;
    info->member = ch->member;
    info->may_publish = ch->may_publish;
    info->allow_mac = ch->allow_mac;
    info->epoch = ch->epoch;
    memcpy(info->key_id, ch->key_id, SECMQ_ID_BYTES);
    info->created_ms = ch->created_ms;
    info->has_prev = ch->has_prev;
    info->prev_held = ch->prev_held;
    memcpy(info->prev_key_id, ch->prev_key_id, SECMQ_ID_BYTES);
    info->prev_deadline_ms = ch->prev_deadline_ms;
    info->n_publishers = ch->npubs;
    info->publishers = ch->pub_names;
    info->n_members = ch->nmembers;
    info->members = ch->member_names;
    info->member_publishes = ch->member_pub;
    return SECMQ_OK;
}
