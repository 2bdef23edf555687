/*
 * keys_list.h -- the parts of secmq-keys outside its command parsing:
 * the listing of `secmq-keys list` (keys_list.c) and the help texts
 * (keys_help.c).
 */
#ifndef SECMQ_KEYS_LIST_H
#define SECMQ_KEYS_LIST_H

#include "secmq.h"

/* secmq-keys --help, and the synopsis printed with a usage error
 * (keys_help.c). */
extern const char keys_usage_text[];
extern const char keys_synopsis[];

/* Print kr's identity, peers and channels to stdout (moves every epoch
 * ratchet to now on the way, as secmq_keyring_channel_ratchet does). */
void keys_list(secmq_keyring *kr);

#endif
