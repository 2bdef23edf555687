/*
 * relay.c -- the signer table of relay.h: for a publish by a relay user
 * (a bridge carrying other users' messages), the signing key named in the
 * envelope leads to the user it is registered for, whose own rules must
 * allow the topic. Built from the policy at each load; read-only between
 * loads. Not for deciding what the relay itself may do (its ACL, plugin.c).
 */
#include "relay.h"

#include <stdlib.h>
#include <string.h>

static int cmp_key(const void *a, const void *b)
{
    return memcmp(((const secmq_signer_key *)a)->id,
                  ((const secmq_signer_key *)b)->id, SECMQ_ID_BYTES);
}

void secmq__signers_free(secmq_signers *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nusers; i++) {
        free(s->users[i].name);
        secmq__acl_free(s->users[i].acl);
    }
    free(s->users);
    free(s->keys);
    memset(s, 0, sizeof *s);
}

int secmq__signers_build(const secmq_policy *pol, secmq_signers *out)
{
    size_t nu = 0, nk = 0;

    memset(out, 0, sizeof *out);
    if (pol == NULL) {
        return 0;
    }
    for (size_t i = 0; i < pol->nusers; i++) {
        if (!pol->users[i].disabled && pol->users[i].nkeys > 0) {
            nu++;
            nk += pol->users[i].nkeys;
        }
    }
    if (nu == 0) {
        return 0;
    }
    out->users = calloc(nu, sizeof *out->users);
    out->keys = calloc(nk, sizeof *out->keys);
    if (out->users == NULL || out->keys == NULL) {
        goto err;
    }
    for (size_t i = 0; i < pol->nusers; i++) {
        const secmq_user *u = &pol->users[i];
        secmq_signer_user *su = &out->users[out->nusers];

        if (u->disabled || u->nkeys == 0) {
            continue;
        }
        su->name = strdup(u->name);
        if (su->name == NULL ||
            secmq__acl_compile_signer(pol, u->name, &su->acl) != 0) {
            free(su->name);
            su->name = NULL;
            goto err;
        }
        for (size_t k = 0; k < u->nkeys; k++) {
            secmq_signer_key *sk = &out->keys[out->nkeys++];
            memcpy(sk->pk, u->keys[k], SECMQ_SIGN_KEY_BYTES);
            secmq_identity_id(sk->id, sk->pk);
            sk->user = out->nusers;
        }
        out->nusers++;
    }
    qsort(out->keys, out->nkeys, sizeof *out->keys, cmp_key);
    return 0;
err:
    secmq__signers_free(out);
    return -1;
}

/* The index of the first key with this id, or s->nkeys when none. */
static size_t first_key(const secmq_signers *s, const unsigned char *id)
{
    size_t lo = 0, hi = s->nkeys;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(s->keys[mid].id, id, SECMQ_ID_BYTES) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

secmq_relay_verdict secmq__signers_check(const secmq_signers *s,
                                         const char *topic, const void *payload,
                                         size_t len, const char **signer)
{
    secmq_envelope_fields f;
    secmq_relay_verdict v = SECMQ_RELAY_UNKNOWN_KEY;

    if (signer != NULL) {
        *signer = NULL;
    }
    if (payload == NULL || secmq_envelope_parse(payload, len, &f) != 0 ||
        f.mode != SECMQ_SEAL_SIGNED) {
        return SECMQ_RELAY_NOT_SIGNED;
    }
    for (size_t i = first_key(s, f.sender_id);
         i < s->nkeys &&
         memcmp(s->keys[i].id, f.sender_id, SECMQ_ID_BYTES) == 0;
         i++) {
        const secmq_signer_user *u = &s->users[s->keys[i].user];

        if (secmq_envelope_verify_signature(&f, topic, s->keys[i].pk) !=
            SECMQ_OPEN_OK) {
            if (v == SECMQ_RELAY_UNKNOWN_KEY) {
                v = SECMQ_RELAY_BAD_SIGNATURE;
            }
            continue;
        }
        if (secmq__acl_check_topic(u->acl, topic, SECMQ_ACL_WRITE, NULL)) {
            if (signer != NULL) {
                *signer = u->name;
            }
            return SECMQ_RELAY_OK;
        }
        v = SECMQ_RELAY_NOT_ALLOWED;
        if (signer != NULL) {
            *signer = u->name;
        }
    }
    return v;
}

const char *secmq__signers_chunk_writer(const secmq_signers *s,
                                        const char *topic)
{
    for (size_t i = 0; i < s->nusers; i++) {
        if (secmq__acl_check_topic(s->users[i].acl, topic, SECMQ_ACL_WRITE,
                                   NULL)) {
            return s->users[i].name;
        }
    }
    return NULL;
}

const char *secmq__relay_verdict_str(secmq_relay_verdict v)
{
    switch (v) {
    case SECMQ_RELAY_OK:
        return "signed by an allowed user";
    case SECMQ_RELAY_NOT_SIGNED:
        return "not a signed secmq envelope";
    case SECMQ_RELAY_UNKNOWN_KEY:
        return "key not registered for any user";
    case SECMQ_RELAY_BAD_SIGNATURE:
        return "bad signature";
    case SECMQ_RELAY_NOT_ALLOWED:
        return "signer may not publish there";
    }
    return "refused";
}
