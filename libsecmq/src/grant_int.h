/*
 * grant_int.h -- the grant codec's entry points for the keyring only.
 */
#ifndef SECMQ_GRANT_INT_H
#define SECMQ_GRANT_INT_H

#include <stddef.h>

#include "secmq_int.h"

/*
 * Parse a SECMQGB1 or SECMQGB3 body the keyring verified at import and
 * keeps in its own sealed file (PROTOCOL.md §5.3, grants/<cid>.chain):
 * every rule of §5.1 but the signature. rt is zeroed for a SECMQGB1 body.
 * Returns a secmq_grant_status; g as secmq_grant_body_parse_v3 leaves it.
 */
int secmq__grant_body_parse_kept(const unsigned char *body, size_t len,
                                 secmq_grant_fields *g,
                                 secmq_grant_ratchet *rt);

/* Offset of the channel key in a grant body (PROTOCOL.md §5). */
size_t secmq__grant_key_offset(void);

#endif
