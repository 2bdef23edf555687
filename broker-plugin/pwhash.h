/*
 * pwhash.h -- password hashes for the broker: argon2id (libsodium) for
 * every new password, and verification of hashes imported from a
 * mosquitto password file ("$6$" salted SHA-512, "$7$" PBKDF2-SHA512),
 * which are upgraded to argon2id at the next successful login.
 */
#ifndef SECMQ_PWHASH_H
#define SECMQ_PWHASH_H

#include <stddef.h>

#define SECMQ_PW_HASH_MAX 128 /* == crypto_pwhash_STRBYTES, with NUL */
#define SECMQ_PW_MAX 4096     /* longest password accepted, bytes */

/* Default argon2id cost (docs/DEPLOY.md explains the choice): about 10 ms
 * per check on a 2-core x86 VM, 30-40 ms on a Raspberry Pi 4; the broker
 * does it on its only thread. */
#define SECMQ_PW_DEFAULT_OPS 3ULL
#define SECMQ_PW_DEFAULT_MEM (8u * 1024u * 1024u)
#define SECMQ_PW_MIN_OPS 1ULL /* argon2id minimums */
#define SECMQ_PW_MIN_MEM (8u * 1024u)

/*
 * secmq__pw_hash -- argon2id hash string of pw (pwlen bytes, borrowed) at
 * cost (ops, mem) into out. Returns 0, or -1 (out of memory, or a cost or
 * length out of libsodium's range; out is then "").
 */
int secmq__pw_hash(char out[SECMQ_PW_HASH_MAX], const char *pw, size_t pwlen,
                   unsigned long long ops, size_t mem);

/*
 * secmq__pw_verify -- 1 if pw matches hash (argon2id, "$6$" or "$7$"
 * formats), 0 if not or if hash is malformed or of another kind.
 * Compares in constant time. Never allocates outside libsodium.
 */
int secmq__pw_verify(const char *hash, const char *pw, size_t pwlen);

/* 1 if hash is not argon2id at exactly (ops, mem): the plugin rehashes it
 * after a successful login. 0 if it is. */
int secmq__pw_needs_rehash(const char *hash, unsigned long long ops,
                           size_t mem);

/*
 * secmq__pw_cost_ok -- 1 if (ops, mem) is an argon2id cost this module
 * accepts: ops SECMQ_PW_MIN_OPS..32, mem SECMQ_PW_MIN_MEM..1 GiB. A stored
 * argon2id hash asking for more is treated as malformed, so a hostile
 * database row cannot stall the broker; secmq-admin refuses such a cost.
 * Else 0.
 */
int secmq__pw_cost_ok(unsigned long long ops, size_t mem);

/* 1 if hash is one of the accepted formats (syntax only, shorter than
 * SECMQ_PW_HASH_MAX, argon2id within secmq__pw_cost_ok), else 0. */
int secmq__pw_hash_known(const char *hash);

#endif /* SECMQ_PWHASH_H */
