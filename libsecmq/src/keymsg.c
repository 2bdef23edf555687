/*
 * keymsg.c -- the message keys of a keyring's channel keys (PROTOCOL.md
 * §4: a KDF of the channel key), derived once when the keyring is opened
 * instead of once per message sealed. Deriving is envelope.c's; which key
 * seals what is keyring.c's and keychoose.c's.
 */
#include <sodium.h>

#include "envelope_int.h"
#include "keyring_int.h"

void secmq__msg_keys_derive(secmq_keyring *kr)
{
    size_t n = 2 * kr->key_slots;

    if (kr->keys == NULL || n == 0 || kr->msg_keys != NULL) {
        return;
    }
    kr->msg_keys = sodium_malloc(n * SECMQ_KEY_BYTES);
    if (kr->msg_keys == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        secmq__envelope_msg_key(kr->msg_keys + i * SECMQ_KEY_BYTES,
                                kr->keys + i * SECMQ_KEY_BYTES);
    }
    /* SECURITY: as secret as the channel keys, and as read-only. */
    sodium_mprotect_readonly(kr->msg_keys);
}

void secmq__msg_keys_free(secmq_keyring *kr)
{
    sodium_free(kr->msg_keys); /* wipes; NULL is a no-op */
    kr->msg_keys = NULL;
}

const unsigned char *secmq__msg_key(const secmq_keyring *kr,
                                    const secmq__kchan *ch, int prev)
{
    if (kr->msg_keys == NULL) {
        return NULL;
    }
    return kr->msg_keys + (2 * ch->slot + (prev ? 1u : 0u)) * SECMQ_KEY_BYTES;
}
