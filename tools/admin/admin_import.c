/*
 * admin_import.c -- secmq-admin's import-mosquitto: read a mosquitto
 * password file and acl file and put their users and rules into the
 * database in one transaction. It converts no hashes: the broker upgrades
 * each to argon2id at the user's next login.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "acl.h"
#include "admin.h"
#include "pwhash.h"
#include "secmq.h"

struct imp_user {
    char *name;
    char *hash;
    size_t line;
};

struct imp_rule {
    secmq_rule r;
    size_t line;
};

struct import {
    struct imp_user *users;
    size_t nusers;
    struct imp_rule *rules;
    size_t nrules;
    size_t skipped;
    char **notes;  /* warnings, printed only when the import succeeds, so */
    size_t nnotes; /* a refusal stays one line */
};

static void note(struct import *im, const char *fmt, ...) ADMIN_PRINTF(2, 3);

/* A skipped line, counted, with its warning kept for later. */
static void note(struct import *im, const char *fmt, ...)
{
    char line[512], **nn;
    va_list ap;

    im->skipped++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nn = realloc(im->notes, (im->nnotes + 1) * sizeof *nn);
    if (nn == NULL) {
        return; /* the count stays right; only the message is lost */
    }
    im->notes = nn;
    im->notes[im->nnotes] = strdup(line);
    if (im->notes[im->nnotes] != NULL) {
        im->nnotes++;
    }
}

static void import_free(struct import *im)
{
    size_t i;

    for (i = 0; i < im->nusers; i++) {
        free(im->users[i].name);
        sodium_memzero(im->users[i].hash, strlen(im->users[i].hash));
        free(im->users[i].hash);
    }
    free(im->users);
    for (i = 0; i < im->nrules; i++) {
        free(im->rules[i].r.subject);
        free(im->rules[i].r.topic);
    }
    free(im->rules);
    for (i = 0; i < im->nnotes; i++) {
        free(im->notes[i]);
    }
    free(im->notes);
}

static const struct imp_user *imp_find(const struct import *im,
                                       const char *name)
{
    size_t i;

    for (i = 0; i < im->nusers; i++) {
        if (strcmp(im->users[i].name, name) == 0) {
            return &im->users[i];
        }
    }
    return NULL;
}

/* Trim blanks and line ends from both ends of s, in place. */
static char *trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n')) {
        s[--n] = 0;
    }
    return s;
}

/* mosquitto_passwd's file: "user:hash" lines. */
static int read_passwd(const char *file, struct import *im)
{
    FILE *f = fopen(file, "r");
    char *buf = NULL;
    size_t cap = 0, line = 0;
    int rc = 0;

    if (f == NULL) {
        return admin_fail("cannot open %s: %s", SHOWN(file), strerror(errno));
    }
    while (rc == 0 && getline(&buf, &cap, f) >= 0) {
        char *s, *colon;
        struct imp_user *nu;
        line++;
        s = trim(buf);
        if (s[0] == 0 || s[0] == '#') {
            continue;
        }
        colon = strchr(s, ':');
        if (colon == NULL) {
            rc =
                admin_fail("%s:%zu: not a 'user:hash' line", SHOWN(file), line);
            break;
        }
        *colon = 0;
        if (!secmq__name_ok(s)) {
            rc = admin_fail("%s:%zu: invalid user name '%s'", SHOWN(file), line,
                            SHOWN(s));
        } else if (!secmq__pw_hash_known(colon + 1)) {
            rc =
                admin_fail("%s:%zu: unknown password hash format for user '%s' "
                           "(expected $6$ or $7$ from mosquitto_passwd)",
                           SHOWN(file), line, SHOWN(s));
        } else if (imp_find(im, s) != NULL) {
            rc = admin_fail("%s:%zu: user '%s' appears twice", SHOWN(file),
                            line, SHOWN(s));
        }
        if (rc != 0) {
            break;
        }
        nu = realloc(im->users, (im->nusers + 1) * sizeof *nu);
        if (nu == NULL) {
            rc = admin_fail("out of memory");
            break;
        }
        im->users = nu;
        nu = &im->users[im->nusers];
        nu->name = strdup(s);
        nu->hash = strdup(colon + 1);
        nu->line = line;
        if (nu->name == NULL || nu->hash == NULL) {
            free(nu->name);
            free(nu->hash);
            rc = admin_fail("out of memory");
            break;
        }
        im->nusers++;
    }
    if (rc == 0 && ferror(f)) {
        rc = admin_fail("cannot read %s: %s", SHOWN(file), strerror(errno));
    }
    if (buf != NULL) {
        sodium_memzero(buf, cap); /* it held hashes */
    }
    free(buf);
    fclose(f);
    return rc;
}

/* A rule topic as secmq-admin would take it (patterns: %u/%c = a level). */
static int import_topic_ok(const char *topic, int pattern)
{
    char buf[SECMQ_AUTH_TOPIC_MAX + 1];

    if (!pattern) {
        return secmq__filter_valid(topic);
    }
    return strlen(topic) <= SECMQ_AUTH_TOPIC_MAX &&
           secmq__pattern_substitute(topic, "x", "x", buf, sizeof buf) == 0 &&
           secmq__filter_valid(buf);
}

/*
 * mosquitto's acl_file: "user NAME" starts a section; "topic [ACCESS]
 * TOPIC" lines belong to it (before any user line: to anonymous clients);
 * "pattern [ACCESS] TOPIC" applies to everyone. ACCESS read, write,
 * readwrite (the default) or deny.
 */
static int read_acl(const char *file, struct import *im)
{
    FILE *f = fopen(file, "r");
    char *buf = NULL, *user = NULL;
    size_t cap = 0, line = 0;
    int rc = 0;

    if (f == NULL) {
        return admin_fail("cannot open %s: %s", SHOWN(file), strerror(errno));
    }
    while (rc == 0 && getline(&buf, &cap, f) >= 0) {
        char *s, *rest, *topic;
        int pattern;
        unsigned access =
            SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE;
        size_t wlen;
        struct imp_rule *nr;
        line++;
        s = trim(buf);
        if (s[0] == 0 || s[0] == '#') {
            continue;
        }
        wlen = strcspn(s, " \t");
        rest = trim(s + wlen);
        if (wlen == 4 && strncmp(s, "user", 4) == 0) {
            if (!secmq__name_ok(rest)) {
                rc = admin_fail("%s:%zu: invalid user name '%s'", SHOWN(file),
                                line, SHOWN(rest));
                break;
            }
            free(user);
            user = strdup(rest);
            if (user == NULL) {
                rc = admin_fail("out of memory");
            }
            continue;
        }
        if (wlen == 5 && strncmp(s, "topic", 5) == 0) {
            pattern = 0;
        } else if (wlen == 7 && strncmp(s, "pattern", 7) == 0) {
            pattern = 1;
        } else {
            rc = admin_fail("%s:%zu: expected 'user', 'topic' or 'pattern'",
                            SHOWN(file), line);
            break;
        }
        /* An optional access word, then the topic (the rest of the line):
         * "topic read" is an access word without a topic, as mosquitto
         * says, not a rule for the topic "read". */
        wlen = strcspn(rest, " \t");
        topic = rest;
        {
            char word[16];
            unsigned a;
            if (wlen < sizeof word) {
                memcpy(word, rest, wlen);
                word[wlen] = 0;
                if (strcmp(word, "subscribe") != 0 &&
                    admin_access_parse(word, &a) == 0) {
                    access = a;
                    topic = trim(rest + wlen);
                }
            }
        }
        if (topic[0] == 0) {
            rc = admin_fail("%s:%zu: no topic", SHOWN(file), line);
            break;
        }
        if (!import_topic_ok(topic, pattern)) {
            rc = admin_fail("%s:%zu: invalid topic filter '%s'", SHOWN(file),
                            line, SHOWN(topic));
            break;
        }
        if (!pattern && user == NULL) {
            note(im,
                 "%s:%zu: rule for anonymous clients skipped (anonymous "
                 "clients are always refused)",
                 SHOWN(file), line);
            continue;
        }
        nr = realloc(im->rules, (im->nrules + 1) * sizeof *nr);
        if (nr == NULL) {
            rc = admin_fail("out of memory");
            break;
        }
        im->rules = nr;
        nr = &im->rules[im->nrules];
        memset(nr, 0, sizeof *nr);
        nr->line = line;
        nr->r.kind = pattern ? SECMQ_RULE_PATTERN : SECMQ_RULE_USER;
        nr->r.access = access;
        nr->r.topic = strdup(topic);
        nr->r.subject = pattern ? NULL : strdup(user);
        if (nr->r.topic == NULL || (!pattern && nr->r.subject == NULL)) {
            free(nr->r.topic);
            free(nr->r.subject);
            rc = admin_fail("out of memory");
            break;
        }
        im->nrules++;
    }
    if (rc == 0 && ferror(f)) {
        rc = admin_fail("cannot read %s: %s", SHOWN(file), strerror(errno));
    }
    free(user);
    free(buf);
    fclose(f);
    return rc;
}

/* Put the parsed files into the database inside the caller's transaction.
 * Returns 0, or 1 after printing why. */
static int import_apply(secmq_authdb *db, const secmq_policy *p,
                        const struct admin_opts *o, struct import *im,
                        size_t *nrules)
{
    char err[512];
    size_t i;
    int r;

    for (i = 0; i < im->nusers; i++) {
        err[0] = 0;
        r = secmq__authdb_user_add(db, im->users[i].name, im->users[i].hash,
                                   err, sizeof err);
        if (r != SECMQ_OK) {
            return admin_fail("%s:%zu: %s", SHOWN(o->passwd), im->users[i].line,
                              err[0] ? err : secmq_strerror(r));
        }
    }
    for (i = 0; i < im->nrules; i++) {
        const secmq_rule *rule = &im->rules[i].r;
        size_t line = im->rules[i].line;
        if (rule->kind == SECMQ_RULE_USER &&
            secmq__policy_user(p, rule->subject) == NULL &&
            imp_find(im, rule->subject) == NULL) {
            note(im,
                 "%s:%zu: no user '%s' in the password file or the database: "
                 "rule skipped",
                 SHOWN(o->acl), line, SHOWN(rule->subject));
            continue;
        }
        err[0] = 0;
        r = secmq__authdb_rule_add(db, rule, NULL, err, sizeof err);
        if (r == SECMQ_E_INVAL && strncmp(err, "rule exists", 11) == 0) {
            note(im, "%s:%zu: %s: skipped", SHOWN(o->acl), line, err);
            continue;
        }
        if (r != SECMQ_OK) {
            return admin_fail("%s:%zu: %s", SHOWN(o->acl), line,
                              err[0] ? err : secmq_strerror(r));
        }
        (*nrules)++;
    }
    return 0;
}

int admin_cmd_import(int argc, char **argv, int first, struct admin_opts *o)
{
    struct import im;
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    char err[512] = "";
    size_t i, nrules = 0;
    int rc = admin_parse(argc, argv, first, OPT_PASSWD | OPT_ACL, 0, 0, "", o),
        r;

    if (rc == 0 && o->passwd == NULL && o->acl == NULL) {
        rc = admin_usage_error("import-mosquitto needs --passwd FILE and/or "
                               "--acl FILE");
    }
    if (rc != 0) {
        return rc;
    }
    memset(&im, 0, sizeof im);
    if (o->passwd != NULL) {
        rc = read_passwd(o->passwd, &im);
    }
    if (rc == 0 && o->acl != NULL) {
        rc = read_acl(o->acl, &im);
    }
    if (rc == 0) {
        rc = admin_open_load(o->db, SECMQ_AUTHDB_READWRITE, &db, &p);
    }
    for (i = 0; rc == 0 && i < im.nusers; i++) {
        if (secmq__policy_user(&p, im.users[i].name) != NULL) {
            rc = admin_fail("%s:%zu: user '%s' already exists in %s",
                            SHOWN(o->passwd), im.users[i].line,
                            SHOWN(im.users[i].name), SHOWN(o->db));
        }
    }
    if (rc == 0) {
        r = secmq__authdb_begin(db, err, sizeof err);
        rc = r == SECMQ_OK ? 0 : admin_fail_rc(r, err);
    }
    if (rc == 0) {
        rc = import_apply(db, &p, o, &im, &nrules);
        if (rc != 0) {
            secmq__authdb_rollback(db);
        } else {
            r = secmq__authdb_commit(db, err, sizeof err);
            rc = r == SECMQ_OK ? 0 : admin_fail_rc(r, err);
        }
    }
    for (i = 0; rc == 0 && i < im.nnotes; i++) {
        admin_warn("%s", im.notes[i]);
    }
    if (rc == 0) {
        printf("imported %zu users, %zu rules (%zu skipped)\n", im.nusers,
               nrules, im.skipped);
    }
    import_free(&im);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}
