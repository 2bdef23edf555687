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
