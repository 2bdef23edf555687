/*
 * config_int.h -- checking a secmq_config before a client is built from it.
 */
#ifndef SECMQ_CONFIG_INT_H
#define SECMQ_CONFIG_INT_H

#include <stddef.h>

#include "secmq.h"

/*
 * Check cfg for values the library cannot use. Returns SECMQ_OK, or
 * SECMQ_E_INVAL with a sentence naming the field in why (len bytes).
 */
int secmq__config_check(const secmq_config *cfg, char *why, size_t len);

#endif
