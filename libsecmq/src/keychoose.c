/*
 * keychoose.c -- which channel of a keyring covers a topic: the most
 * specific member channel (PROTOCOL.md §4.1), the one place every tool
 * (secmq-pub, secmq-sub, secmq-file, through the client) and the keyring's
 * seal and open pick a channel. The order of two filters is
 * topicfilter.c's; sealing and opening are keyring.c's.
 */
#include <string.h>

#include "keyring_int.h"
#include "topicfilter_int.h"

static int cid_less(const unsigned char *a, const unsigned char *b)
{
    return memcmp(a, b, SECMQ__CID_BYTES) < 0; /* not secret: channel ids */
}

const secmq__kchan *secmq__chan_best(const secmq_keyring *kr, const char *topic,
                                     size_t tlen)
{
    const secmq__kchan *best = NULL;
    int c;

    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (!ch->member ||
            !secmq__filter_match(ch->filter, ch->filter_len, topic, tlen)) {
            continue;
        }
        if (best == NULL) {
            best = ch;
            continue;
        }
        c = secmq__filter_cmp_specific(ch->filter, ch->filter_len, best->filter,
                                       best->filter_len);
        if (c > 0 || (c == 0 && cid_less(ch->cid, best->cid))) {
            best = ch;
        }
    }
    return best;
}

int secmq_keyring_covers(secmq_keyring *kr, const char *topic)
{
    size_t tlen;

    if (kr == NULL || topic == NULL) {
        return 0;
    }
    tlen = strlen(topic);
    if (!secmq__topic_valid(topic, tlen)) {
        return 0;
    }
    return secmq__chan_best(kr, topic, tlen) != NULL;
}
