/*
 * clientid.h -- which client ids a user may connect with
 * (plugin_opt_client_id_pattern): patterns such as "%u %u-*" tie each id
 * to one user, so that nobody can take over another user's session by
 * connecting with its client id. Pure C over the policy: no sqlite, no
 * mosquitto (the unit tests link it alone).
 */
#ifndef SECMQ_CLIENTID_H
#define SECMQ_CLIENTID_H

#include <stddef.h>

#include "policy.h"

#define SECMQ_IDPAT_MAX 8   /* patterns in one option value */
#define SECMQ_IDPAT_LEN 128 /* bytes of one pattern */

/* One pattern: prefix "%u" suffix, and with open set any further bytes
 * (a trailing '*'). */
typedef struct secmq_idpat {
    char prefix[SECMQ_IDPAT_LEN];
    char suffix[SECMQ_IDPAT_LEN];
    int open;
} secmq_idpat;

/* A parsed option value; n == 0 means "no restriction" (the option off). */
typedef struct secmq_idpats {
    secmq_idpat pat[SECMQ_IDPAT_MAX];
    size_t n;
} secmq_idpats;

/*
 * secmq__idpats_parse -- parse spec (BORROWED), patterns separated by
 * spaces or tabs, into *out. Each pattern holds "%u" exactly once, may end in
 * '*' (any further bytes, none included), and has no other '%' or '*'; its
 * other bytes must be allowed in a client id (secmq__name_ok: no '+', '#',
 * '/' or control characters). "none" (or an empty spec) gives n == 0.
 * Returns 0, or -1 with a one-line reason in err (errlen bytes, may be
 * NULL/0); *out is then empty.
 */
int secmq__idpats_parse(secmq_idpats *out, const char *spec, char *err,
                        size_t errlen);

/*
 * secmq__idpats_check -- may user connect with client id id under ps and
 * the users of pol? Yes when ps is empty. Otherwise some pattern must give
 * id with "%u" replaced by user, and SECURITY: no other user of pol whose
 * name is at least as long as user's may be given id by some pattern (an
 * id belongs to the longest name it can be made from, so that with
 * "%u-*" user "sam" cannot take "sam-cam-1" from user "sam-cam"; a tie
 * between two names belongs to neither).
 * user and id are BORROWED and must have passed secmq__name_ok.
 * Returns NULL when allowed, else a constant reason for the log ("client
 * id does not match the user's pattern", "client id belongs to another
 * user"); *owner (may be NULL) is then set to the other user's name
 * (BORROWED from pol) or NULL.
 */
const char *secmq__idpats_check(const secmq_idpats *ps, const secmq_policy *pol,
                                const char *user, const char *id,
                                const char **owner);

#endif /* SECMQ_CLIENTID_H */
