/*
 * admin_acl.c -- secmq-admin's acl command: add, delete and list the
 * per-topic rules, and the ACCESS words (read, write, ...) they are
 * written with. Whether a rule matches a topic is the plugin's business.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "admin.h"
#include "secmq.h"

static const struct {
    const char *word;
    unsigned access;
} access_words[] = {
    {"read", SECMQ_ACL_READ | SECMQ_ACL_SUBSCRIBE},
    {"write", SECMQ_ACL_WRITE},
    {"readwrite", SECMQ_ACL_READ | SECMQ_ACL_WRITE | SECMQ_ACL_SUBSCRIBE},
    {"subscribe", SECMQ_ACL_SUBSCRIBE},
    {"deny", SECMQ_ACL_DENY},
};

int admin_access_parse(const char *word, unsigned *access)
{
    size_t i;

    for (i = 0; i < sizeof access_words / sizeof access_words[0]; i++) {
        if (strcmp(word, access_words[i].word) == 0) {
            *access = access_words[i].access;
            return 0;
        }
    }
    return -1;
}

/* The word for access bits; combinations without a word (made by hand)
 * are shown as their bits, "r", "w", "s". */
static const char *access_word(unsigned access, char buf[8])
{
    size_t i, n = 0;

    for (i = 0; i < sizeof access_words / sizeof access_words[0]; i++) {
        if (access_words[i].access == access) {
            return access_words[i].word;
        }
    }
    if (access & SECMQ_ACL_READ) {
        buf[n++] = 'r';
    }
    if (access & SECMQ_ACL_WRITE) {
        buf[n++] = 'w';
    }
    if (access & SECMQ_ACL_SUBSCRIBE) {
        buf[n++] = 's';
    }
    buf[n] = 0;
    return buf;
}

static void print_rule(const secmq_rule *r)
{
    char bits[8];

    printf("%" PRId64 "\t%s%s\t%s\t%s%s\n", r->id,
           r->kind == SECMQ_RULE_USER    ? "user "
           : r->kind == SECMQ_RULE_GROUP ? "group "
                                         : "pattern",
           r->subject != NULL ? r->subject : "", access_word(r->access, bits),
           r->topic, r->require_signed ? "\tsigned" : "");
}

static int cmd_acl_list(struct admin_opts *o)
{
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    const secmq_user *u = NULL;
    size_t i;
    int rc = admin_open_load(o->db, SECMQ_AUTHDB_READONLY, &db, &p);

    if (rc == 0 && o->user != NULL) {
        u = secmq__policy_user(&p, o->user);
        if (u == NULL) {
            rc = admin_fail("no user '%s'", SHOWN(o->user));
        }
    }
    for (i = 0; rc == 0 && i < p.nrules; i++) {
        const secmq_rule *r = &p.rules[i];
        if (u != NULL && !(r->kind == SECMQ_RULE_PATTERN ||
                           (r->kind == SECMQ_RULE_USER &&
                            strcmp(r->subject, u->name) == 0) ||
                           (r->kind == SECMQ_RULE_GROUP &&
                            secmq__user_in_group(u, r->subject)))) {
            continue;
        }
        print_rule(r);
    }
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

int admin_cmd_acl(int argc, char **argv, int first, struct admin_opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL;
    secmq_authdb *db = NULL;
    char err[512] = "";
    int rc, r;

    if (sub == NULL) {
        return admin_usage_error("acl needs add, del or list");
    }
    if (strcmp(sub, "list") == 0) {
        rc = admin_parse(argc, argv, first + 1, OPT_USER, 0, 0, "", o);
        return rc != 0 ? rc : cmd_acl_list(o);
    }
    if (strcmp(sub, "add") == 0) {
        secmq_rule rule;
        int64_t id = 0;
        rc = admin_parse(argc, argv, first + 1,
                         OPT_USER | OPT_GROUP | OPT_PATTERN | OPT_SIGNED, 2, 2,
                         "TOPIC ACCESS", o);
        if (rc != 0) {
            return rc;
        }
        if ((o->user != NULL) + (o->group != NULL) + o->pattern != 1) {
            return admin_usage_error(
                "acl add needs one of --user NAME, --group G "
                "or --pattern");
        }
        memset(&rule, 0, sizeof rule);
        if (admin_access_parse(o->pos[1], &rule.access) != 0) {
            return admin_usage_error(
                "ACCESS is read, write, readwrite, subscribe "
                "or deny, not '%s'",
                SHOWN(o->pos[1]));
        }
        rule.kind = o->user != NULL    ? SECMQ_RULE_USER
                    : o->group != NULL ? SECMQ_RULE_GROUP
                                       : SECMQ_RULE_PATTERN;
        rule.subject = (char *)(o->user != NULL ? o->user : o->group);
        rule.topic = (char *)o->pos[0];
        rule.require_signed = o->sign;
        if (rule.subject != NULL &&
            admin_name_check(rule.subject,
                             o->user != NULL ? "user" : "group") != 0) {
            return ADMIN_EXIT_FAIL;
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = secmq__authdb_rule_add(db, &rule, &id, err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        printf("added rule %" PRId64 "\n", id);
        return 0;
    }
    if (strcmp(sub, "del") == 0) {
        unsigned long long id;
        rc = admin_parse(argc, argv, first + 1, 0, 1, 1, "rule ID", o);
        if (rc != 0) {
            return rc;
        }
        if (admin_parse_u64(o->pos[0], &id) != 0 || id > INT64_MAX) {
            return admin_usage_error("rule ID is a number, not '%s'",
                                     SHOWN(o->pos[0]));
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = secmq__authdb_rule_del(db, (int64_t)id, err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        printf("deleted rule %llu\n", id);
        return 0;
    }
    return admin_usage_error("unknown command 'acl %s'", SHOWN(sub));
}
