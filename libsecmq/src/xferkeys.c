/*
 * xferkeys.c -- the keyring facts a file transfer needs beyond sealing and
 * opening: this identity's signing key (chunks are signed with it) and
 * whether the public key a manifest names is its signer's. Reads the
 * keyring's inside (keyring_int.h); changes nothing in it.
 */
#include <string.h>

#include <sodium.h>

#include "keyring_int.h"
#include "topicfilter_int.h"
#include "xfer_int.h"

void secmq__xfer_self(const secmq_keyring *kr, unsigned char *pk,
                      const unsigned char **sk)
{
    memcpy(pk, kr->self.pk, SECMQ_SIGN_PK_BYTES);
    *sk = kr->sec->sk;
}

/* The full key kr holds for sender id, or NULL. */
static const unsigned char *known_pk(const secmq_keyring *kr, const char *topic,
                                     const unsigned char *id)
{
    size_t tlen = strlen(topic);

    if (sodium_memcmp(kr->self.id, id, SECMQ_ID_BYTES) == 0) {
        return kr->self.pk;
    }
    for (size_t i = 0; i < kr->npeers; i++) {
        if (sodium_memcmp(kr->peers[i].id, id, SECMQ_ID_BYTES) == 0) {
            return kr->peers[i].pk;
        }
    }
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *ch = &kr->chans[i];
        if (!secmq__filter_match(ch->filter, ch->filter_len, topic, tlen)) {
            continue;
        }
        for (size_t j = 0; j < ch->npubs; j++) {
            if (sodium_memcmp(ch->pubs[j].id, id, SECMQ_ID_BYTES) == 0) {
                return ch->pubs[j].pk;
            }
        }
    }
    return NULL;
}

int secmq__xfer_sender_is(const secmq_keyring *kr, const char *topic,
                          const void *env, size_t len, const unsigned char *pk)
{
    unsigned char id[SECMQ_ID_BYTES];
    const unsigned char *full;
    secmq_envelope_fields f;

    /* SECURITY: the chunks are verified with pk only, so pk must be the
     * key that signed the manifest's envelope: a mac-only envelope
     * proves no sender and is refused. */
    if (secmq_envelope_parse(env, len, &f) != SECMQ_OPEN_OK ||
        f.mode != SECMQ_SEAL_SIGNED) {
        return 0;
    }
    secmq_identity_id(id, pk);
    if (sodium_memcmp(id, f.sender_id, SECMQ_ID_BYTES) != 0) {
        return 0;
    }
    full = known_pk(kr, topic, f.sender_id);
    return full == NULL || sodium_memcmp(full, pk, SECMQ_SIGN_PK_BYTES) == 0;
}

/* TOPIC/r/<an id of zeros>: where requests for any file go. */
static void any_request_topic(char *out, size_t cap, const char *topic)
{
    unsigned char zero[SECMQ_FILE_ID_BYTES] = {0};

    (void)secmq_file_request_topic(out, cap, topic, zero);
}

int secmq__xfer_check_sender(secmq_keyring *kr, const char *topic, char *why,
                             size_t whylen)
{
    char mtopic[SECMQ_TOPIC_MAX + 1], rtopic[SECMQ_TOPIC_MAX + 1];
    char detail[SECMQ_ERRMSG_BYTES] = "";
    const secmq__kchan *ch;
    size_t others = 0;

    (void)secmq_file_manifest_topic(mtopic, sizeof mtopic, topic);
    any_request_topic(rtopic, sizeof rtopic, topic);
    if (secmq_keyring_may_publish(kr, mtopic) != SECMQ_OK) {
        secmq_keyring_errmsg(kr, detail, sizeof detail);
        secmq__say(why, whylen,
                   "'%s' may not announce files on %s (%s): the sender "
                   "must be a publisher of a channel covering %s/# "
                   "(secmq-keys channel create --files %s ...)",
                   kr->self.name, mtopic, detail, topic, topic);
        return SECMQ_E_NO_KEY;
    }
    ch = secmq__chan_best(kr, rtopic, strlen(rtopic));
    for (size_t i = 0; ch != NULL && i < ch->npubs; i++) {
        others += sodium_memcmp(ch->pubs[i].pk, kr->self.pk,
                                SECMQ_SIGN_PK_BYTES) != 0;
    }
    if (others > 0) {
        return SECMQ_OK;
    }
    /* An owned channel for the answers that does not list the owner: a
     * common slip when the owner is also the sender. */
    for (size_t i = 0; i < kr->nchans; i++) {
        const secmq__kchan *c = &kr->chans[i];
        if (c->owned && !c->member &&
            secmq__filter_match(c->filter, c->filter_len, rtopic,
                                strlen(rtopic))) {
            secmq__say(why, whylen,
                       "'%s' owns the channel '%s' for the receivers' "
                       "answers but is not a member of it: create it with "
                       "'%s' among the subscribers (secmq-keys channel "
                       "create --files %s ...)",
                       kr->self.name, c->filter, kr->self.name, topic);
            return SECMQ_E_NO_KEY;
        }
    }
    if (ch == NULL) {
        secmq__say(why, whylen,
                   "'%s' holds no channel covering the receivers' answers "
                   "on %s/r/<file id>: it must be a member of the request "
                   "channel %s/r/# (secmq-keys channel create --files %s "
                   "...)",
                   kr->self.name, topic, topic, topic);
        return SECMQ_E_NO_KEY;
    }
    secmq__say(why, whylen,
               "no receiver can answer on %s/r/<file id>: the channel '%s' "
               "(owner %s) that covers it lists only '%s' as publisher; the "
               "request channel %s/r/# with the receivers as publishers is "
               "missing (secmq-keys channel create --files %s ...)",
               topic, ch->filter, ch->owner_display, kr->self.name, topic,
               topic);
    return SECMQ_E_NO_KEY;
}

int secmq__xfer_check_receiver(secmq_keyring *kr, const char *topic, char *why,
                               size_t whylen)
{
    char mtopic[SECMQ_TOPIC_MAX + 1], rtopic[SECMQ_TOPIC_MAX + 1];
    char detail[SECMQ_ERRMSG_BYTES] = "";

    (void)secmq_file_manifest_topic(mtopic, sizeof mtopic, topic);
    any_request_topic(rtopic, sizeof rtopic, topic);
    if (secmq__chan_best(kr, mtopic, strlen(mtopic)) == NULL) {
        secmq__say(why, whylen,
                   "'%s' holds no channel covering %s: import the grant of "
                   "the channel %s/# (secmq-keys channel create --files %s "
                   "...)",
                   kr->self.name, mtopic, topic, topic);
        return SECMQ_E_NO_KEY;
    }
    if (secmq_keyring_may_publish(kr, rtopic) != SECMQ_OK) {
        secmq_keyring_errmsg(kr, detail, sizeof detail);
        secmq__say(why, whylen,
                   "'%s' cannot answer senders on %s/r/<file id> (%s): "
                   "receivers must be publishers of the request channel "
                   "%s/r/# (secmq-keys channel create --files %s ...)",
                   kr->self.name, topic, detail, topic, topic);
        return SECMQ_E_NO_KEY;
    }
    return SECMQ_OK;
}
