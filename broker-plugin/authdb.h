/*
 * authdb.h -- the auth database (sqlite): users, groups, ACL rules and
 * signing keys, shared by the broker plugin (reads it, and writes upgraded
 * password hashes) and secmq-admin (writes it). authdb.c (open, load,
 * changes seen) and authdb_change.c (changes, listings) are the only files
 * of the plugin and the admin tool that see sqlite. Schema and file rules
 * are in docs/DEPLOY.md ("The auth database").
 *
 * Every function returns SECMQ_OK or a negative SECMQ_E_* code and, on
 * error, writes a one-line reason into err (errlen bytes, may be NULL/0):
 *   SECMQ_E_INVAL   bad argument, or the named user/group/rule/key does not
 *                   exist, or already exists (err says which)
 *   SECMQ_E_CONFIG  the file is not a secmq auth database (foreign or
 *                   corrupt file, newer schema version); never replaced
 *   SECMQ_E_IO      sqlite or operating-system error (disk full, locked
 *                   for longer than the busy timeout, permissions)
 *   SECMQ_E_NOMEM   out of memory
 */
#ifndef SECMQ_AUTHDB_H
#define SECMQ_AUTHDB_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

typedef struct secmq_authdb secmq_authdb;

#define SECMQ_AUTHDB_READONLY 0
#define SECMQ_AUTHDB_READWRITE 1

/*
 * secmq__authdb_create -- make a new, empty auth database at path (mode
 * 0600, refuses an existing file: SECMQ_E_INVAL) whose new passwords are
 * hashed at argon2id cost (pw_ops, pw_mem).
 */
int secmq__authdb_create(const char *path, unsigned long long pw_ops,
                         size_t pw_mem, char *err, size_t errlen);

/*
 * secmq__authdb_open -- open an existing auth database (never creates one)
 * and check it is ours (application_id, schema version, integrity of the
 * header); *out owns the connection. Opened for writing, a file of an
 * older schema version is upgraded first. mode is SECMQ_AUTHDB_READONLY or
 * SECMQ_AUTHDB_READWRITE. Waits up to 2 s for a lock held by a writer.
 */
int secmq__authdb_open(secmq_authdb **out, const char *path, int mode,
                       char *err, size_t errlen);

/* Closes db. NULL is a no-op. */
void secmq__authdb_close(secmq_authdb *db);

/*
 * secmq__authdb_load -- the whole policy, read in one transaction, into
 * *out (cleared first; the caller frees it with secmq__policy_clear).
 * Rows that are not valid (a bad name, an invalid filter) are skipped and
 * counted in *skipped (may be NULL) so a hand-edited database cannot widen
 * access. On error *out is empty.
 */
int secmq__authdb_load(secmq_authdb *db, secmq_policy *out, size_t *skipped,
                       char *err, size_t errlen);

/*
 * secmq__authdb_changed -- 1 if the database changed since the last
 * secmq__authdb_load on db (a commit by another connection, or the file
 * replaced by another one at the same path), 0 if not, negative SECMQ_E_*
 * on error. Cheap: meant to be called about once a second.
 * Commits made through db itself do not count. Also 1 before the first
 * load. On 1 the caller must close db, open the path again and load from
 * the new connection: a connection keeps reading the file it opened, so
 * after a replacement (mv new.db auth.db) only a reopen sees the new one.
 * A failed reopen or load should keep the previous policy in force and be
 * retried at the next check. SECMQ_E_IO when the path cannot be stat()ed
 * (removed, or mid-replacement): nothing to reload yet.
 */
int secmq__authdb_changed(secmq_authdb *db, char *err, size_t errlen);

/* --- changes, each one transaction ------------------------------------- */

/* A new user name (secmq__name_ok) with hash (secmq__pw_hash_known). */
int secmq__authdb_user_add(secmq_authdb *db, const char *name, const char *hash,
                           char *err, size_t errlen);

/* Replace the user's hash. new_password 1: a new password (pw_gen + 1, so
 * the broker disconnects sessions logged in with the old one); 0: the same
 * password re-hashed at the current cost (no kick). */
int secmq__authdb_user_set_hash(secmq_authdb *db, const char *name,
                                const char *hash, int new_password, char *err,
                                size_t errlen);

/* Delete the user with its own rules, group memberships and keys. */
int secmq__authdb_user_del(secmq_authdb *db, const char *name, char *err,
                           size_t errlen);

int secmq__authdb_user_set_disabled(secmq_authdb *db, const char *name,
                                    int disabled, char *err, size_t errlen);

/* relay 1: the user is a relay (a bridge; see docs/DEPLOY.md); 0: not. */
int secmq__authdb_user_set_relay(secmq_authdb *db, const char *name, int relay,
                                 char *err, size_t errlen);

int secmq__authdb_group_add(secmq_authdb *db, const char *name, char *err,
                            size_t errlen);

/* Delete the group with its rules and memberships. */
int secmq__authdb_group_del(secmq_authdb *db, const char *name, char *err,
                            size_t errlen);

/* add 1: make user a member of group; 0: remove it. */
int secmq__authdb_group_member(secmq_authdb *db, const char *group,
                               const char *user, int add, char *err,
                               size_t errlen);

/* Add rule r (its id is ignored); the new id in *id (may be NULL). The
 * subject must exist; the topic must be a valid filter (patterns are
 * checked with %u/%c standing for one level). */
int secmq__authdb_rule_add(secmq_authdb *db, const secmq_rule *r, int64_t *id,
                           char *err, size_t errlen);

/* Delete the rule with this id. */
int secmq__authdb_rule_del(secmq_authdb *db, int64_t id, char *err,
                           size_t errlen);

/* Register (add 1) or remove (add 0) an Ed25519 signing key for user;
 * label (may be NULL) is the identity name it was exported under. */
int secmq__authdb_key_set(secmq_authdb *db, const char *user,
                          const unsigned char pk[SECMQ_SIGN_KEY_BYTES],
                          const char *label, int add, char *err, size_t errlen);

/* The argon2id cost for new and upgraded hashes. */
int secmq__authdb_set_cost(secmq_authdb *db, unsigned long long pw_ops,
                           size_t pw_mem, char *err, size_t errlen);

/* --- listings the policy does not carry -------------------------------- */

/* Called once per row; the strings and pk are valid during the call only. */
typedef void (*secmq__authdb_group_cb)(void *arg, const char *group);
typedef void (*secmq__authdb_key_cb)(void *arg, const char *user,
                                     const unsigned char *pk,
                                     const char *label);

/*
 * secmq__authdb_group_list -- cb(arg, name) for every group, sorted by name,
 * empty groups included (secmq_policy only knows groups through their
 * members). Rows with an invalid name are left out.
 */
int secmq__authdb_group_list(secmq_authdb *db, secmq__authdb_group_cb cb,
                             void *arg, char *err, size_t errlen);

/*
 * secmq__authdb_key_list -- cb(arg, user, pk, label) for every signing key
 * of user (BORROWED; NULL: of every user), sorted by user then key, with
 * its label (NULL when none; secmq_policy does not carry labels). Rows that
 * load() would skip are left out.
 */
int secmq__authdb_key_list(secmq_authdb *db, const char *user,
                           secmq__authdb_key_cb cb, void *arg, char *err,
                           size_t errlen);

/* Several changes as one transaction (import-mosquitto): begin, then any
 * change calls, then commit (or rollback on the first error). */
int secmq__authdb_begin(secmq_authdb *db, char *err, size_t errlen);
int secmq__authdb_commit(secmq_authdb *db, char *err, size_t errlen);
void secmq__authdb_rollback(secmq_authdb *db);

#endif /* SECMQ_AUTHDB_H */
