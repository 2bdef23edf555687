/*
 * clientid.c -- client ids tied to users (clientid.h): parsing
 * plugin_opt_client_id_pattern and deciding whether a user may connect
 * with an id. Not for ACL patterns (%u/%c in topics are acl.c's).
 */
#include <stdio.h>
#include <string.h>

#include "clientid.h"

static void say(char *err, size_t errlen, const char *what, const char *pat)
{
    if (err != NULL && errlen > 0) {
        (void)snprintf(err, errlen, "client id pattern '%.64s': %s", pat, what);
    }
}

/* Parse one pattern of len bytes at s into *pt. */
static int parse_one(secmq_idpat *pt, const char *s, size_t len, char *err,
                     size_t errlen)
{
    char tok[SECMQ_IDPAT_LEN];
    const char *u;
    size_t pl, sl;

    if (len >= sizeof tok) {
        say(err, errlen, "too long", "(long)");
        return -1;
    }
    memcpy(tok, s, len);
    tok[len] = '\0';
    u = strstr(tok, "%u");
    if (u == NULL || strstr(u + 2, "%u") != NULL) {
        say(err, errlen, "needs %u exactly once", tok);
        return -1;
    }
    memset(pt, 0, sizeof *pt);
    if (len > 0 && tok[len - 1] == '*') {
        pt->open = 1;
        tok[--len] = '\0';
    }
    pl = (size_t)(u - tok);
    sl = len - pl - 2;
    memcpy(pt->prefix, tok, pl);
    memcpy(pt->suffix, u + 2, sl);
    if (strchr(pt->prefix, '%') != NULL || strchr(pt->suffix, '%') != NULL ||
        strchr(pt->prefix, '*') != NULL || strchr(pt->suffix, '*') != NULL) {
        say(err, errlen,
            "only %u and a final * are special ('%' and '*' elsewhere are "
            "not allowed)",
            tok);
        return -1;
    }
    /* SECURITY: literal parts follow the client id rules, so a pattern
     * cannot admit ids the login check refuses anyway. */
    if ((pl > 0 && !secmq__name_ok(pt->prefix)) ||
        (sl > 0 && !secmq__name_ok(pt->suffix))) {
        say(err, errlen, "has a character not allowed in client ids", tok);
        return -1;
    }
    return 0;
}

int secmq__idpats_parse(secmq_idpats *out, const char *spec, char *err,
                        size_t errlen)
{
    const char *s = spec != NULL ? spec : "";

    memset(out, 0, sizeof *out);
    if (strcmp(s, "none") == 0) {
        return 0;
    }
    while (*s != '\0') {
        size_t len;

        if (*s == ' ' || *s == '\t') {
            s++;
            continue;
        }
        len = strcspn(s, " \t");
        if (out->n == SECMQ_IDPAT_MAX) {
            say(err, errlen, "too many patterns (at most 8)", "...");
            memset(out, 0, sizeof *out);
            return -1;
        }
        if (parse_one(&out->pat[out->n], s, len, err, errlen) != 0) {
            memset(out, 0, sizeof *out);
            return -1;
        }
        out->n++;
        s += len;
    }
    return 0;
}

/* Does pattern pt give id (idlen bytes) for name (nlen bytes)? */
static int gives(const secmq_idpat *pt, const char *name, size_t nlen,
                 const char *id, size_t idlen)
{
    size_t pl = strlen(pt->prefix), sl = strlen(pt->suffix);

    if (idlen < pl + nlen + sl || memcmp(id, pt->prefix, pl) != 0 ||
        memcmp(id + pl, name, nlen) != 0 ||
        memcmp(id + pl + nlen, pt->suffix, sl) != 0) {
        return 0;
    }
    return pt->open || idlen == pl + nlen + sl;
}

const char *secmq__idpats_check(const secmq_idpats *ps, const secmq_policy *pol,
                                const char *user, const char *id,
                                const char **owner)
{
    size_t ulen = strlen(user), idlen = strlen(id);
    int mine = 0;

    if (owner != NULL) {
        *owner = NULL;
    }
    if (ps == NULL || ps->n == 0) {
        return NULL;
    }
    for (size_t i = 0; i < ps->n && !mine; i++) {
        mine = gives(&ps->pat[i], user, ulen, id, idlen);
    }
    if (!mine) {
        return "client id does not match the user's pattern";
    }
    /* SECURITY: every name at least as long as user's that some pattern
     * makes id from; an existing user among them owns the id. */
    for (size_t i = 0; i < ps->n; i++) {
        const secmq_idpat *pt = &ps->pat[i];
        size_t pl = strlen(pt->prefix), sl = strlen(pt->suffix);
        char name[SECMQ_AUTH_NAME_MAX + 1];

        if (idlen < pl + sl || memcmp(id, pt->prefix, pl) != 0) {
            continue;
        }
        for (size_t n = ulen; n <= idlen - pl - sl && n <= SECMQ_AUTH_NAME_MAX;
             n++) {
            const secmq_user *v;

            memcpy(name, id + pl, n);
            name[n] = '\0';
            if (!gives(pt, name, n, id, idlen) || strcmp(name, user) == 0) {
                continue;
            }
            v = secmq__policy_user(pol, name);
            if (v != NULL) {
                if (owner != NULL) {
                    *owner = v->name;
                }
                return "client id belongs to another user";
            }
        }
    }
    return NULL;
}
