/*
 * admin_users.c -- secmq-admin's commands for who may log in: init and
 * cost (the database and its password cost), user, group and key.
 *
 * Each command makes one change through broker-plugin/authdb.h and says
 * what it did. Password input is admin_input.c's; ACL rules admin_acl.c's.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "admin_input.h"
#include "pwhash.h"
#include "secmq.h"

/*
 * Hash a new password (admin_password_read) at the database's cost in p
 * into hash. Returns 0, or ADMIN_EXIT_FAIL after saying why.
 */
static int new_hash(const char *pwfile, const secmq_policy *p,
                    char hash[SECMQ_PW_HASH_MAX])
{
    char *pw;
    size_t len = 0;
    int rc = admin_password_read(pwfile, &pw, &len);

    if (rc != 0) {
        return rc;
    }
    if (secmq__pw_hash(hash, pw, len, p->pw_ops, p->pw_mem) != 0) {
        rc = admin_fail("cannot hash the password (out of memory?)");
    }
    sodium_free(pw);
    return rc;
}

/* What made a stored hash, for user list. */
static const char *hash_kind(const char *hash)
{
    if (strncmp(hash, "$argon2id$", 10) == 0) {
        return "argon2id";
    }
    if (strncmp(hash, "$6$", 3) == 0) {
        return "mosquitto-sha512";
    }
    if (strncmp(hash, "$7$", 3) == 0) {
        return "mosquitto-pbkdf2";
    }
    return "unknown";
}

/* ---------------------------------------------------------------------- */
/* init, cost                                                             */
/* ---------------------------------------------------------------------- */

int admin_cmd_init(int argc, char **argv, int first, struct admin_opts *o)
{
    unsigned long long ops = SECMQ_PW_DEFAULT_OPS;
    size_t mem = SECMQ_PW_DEFAULT_MEM;
    char err[512] = "";
    int rc = admin_parse(argc, argv, first, OPT_PWOPS | OPT_PWMEM, 0, 0, "", o);

    if (rc == 0) {
        rc = admin_parse_cost(o, &ops, &mem);
    }
    if (rc != 0) {
        return rc;
    }
    rc = secmq__authdb_create(o->db, ops, mem, err, sizeof err);
    if (rc != SECMQ_OK) {
        return admin_fail_rc(rc, err);
    }
    printf("created %s (pw_ops %llu pw_mem %zu)\n", o->db, ops, mem);
    return 0;
}

int admin_cmd_cost(int argc, char **argv, int first, struct admin_opts *o)
{
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    unsigned long long ops;
    size_t mem;
    char err[512] = "";
    int set,
        rc = admin_parse(argc, argv, first, OPT_PWOPS | OPT_PWMEM, 0, 0, "", o);

    if (rc != 0) {
        return rc;
    }
    set = o->pw_ops != NULL || o->pw_mem != NULL;
    rc = admin_open_load(
        o->db, set ? SECMQ_AUTHDB_READWRITE : SECMQ_AUTHDB_READONLY, &db, &p);
    ops = p.pw_ops;
    mem = p.pw_mem;
    if (rc == 0 && set) {
        rc = admin_parse_cost(o, &ops, &mem);
        if (rc == 0) {
            int r = secmq__authdb_set_cost(db, ops, mem, err, sizeof err);
            rc = r == SECMQ_OK ? 0 : admin_fail_rc(r, err);
        }
    }
    if (rc == 0) {
        printf("pw_ops %llu pw_mem %zu\n", ops, mem);
    }
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* user                                                                   */
/* ---------------------------------------------------------------------- */

static int user_list(const secmq_policy *p)
{
    size_t i, j;

    for (i = 0; i < p->nusers; i++) {
        const secmq_user *u = &p->users[i];
        printf("%s\t%s%s\tgroups=", u->name,
               u->disabled ? "disabled" : "enabled", u->relay ? ",relay" : "");
        for (j = 0; j < u->ngroups; j++) {
            printf("%s%s", j ? "," : "", u->groups[j]);
        }
        printf("%s\tkeys=%zu\thash=%s%s\n", u->ngroups ? "" : "-", u->nkeys,
               hash_kind(u->hash),
               secmq__pw_needs_rehash(u->hash, p->pw_ops, p->pw_mem)
                   ? " (rehash at next login)"
                   : "");
    }
    return 0;
}

int admin_cmd_user(int argc, char **argv, int first, struct admin_opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL, *name;
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    char err[512] = "", hash[SECMQ_PW_HASH_MAX] = "";
    size_t npos;
    int rc, r = SECMQ_OK, add, list, relay;

    if (sub == NULL) {
        return admin_usage_error(
            "user needs add, passwd, del, disable, enable, relay or "
            "list");
    }
    add = strcmp(sub, "add") == 0;
    list = strcmp(sub, "list") == 0;
    relay = strcmp(sub, "relay") == 0;
    if (!add && !list && !relay && strcmp(sub, "passwd") != 0 &&
        strcmp(sub, "del") != 0 && strcmp(sub, "disable") != 0 &&
        strcmp(sub, "enable") != 0) {
        return admin_usage_error("unknown command 'user %s'", SHOWN(sub));
    }
    npos = list ? 0 : 1;
    rc = admin_parse(argc, argv, first + 1,
                     add                          ? OPT_PWFILE | OPT_RELAY
                     : strcmp(sub, "passwd") == 0 ? OPT_PWFILE
                     : relay                      ? OPT_REMOVE
                                                  : 0,
                     npos, npos, "user NAME", o);
    if (rc != 0) {
        return rc;
    }
    if (list) {
        rc = admin_open_load(o->db, SECMQ_AUTHDB_READONLY, &db, &p);
        if (rc == 0) {
            rc = user_list(&p);
        }
        goto out;
    }
    name = o->pos[0];
    if (add && admin_name_check(name, "user") != 0) {
        return ADMIN_EXIT_FAIL;
    }
    rc = admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db);
    if (rc != 0) {
        goto out;
    }
    if (add || strcmp(sub, "passwd") == 0) {
        /* Refuse before asking for a password that would be thrown away. */
        rc = admin_load(db, &p);
        if (rc == 0 && add && secmq__policy_user(&p, name) != NULL) {
            rc = admin_fail("user '%s' already exists", SHOWN(name));
        }
        if (rc == 0 && !add && secmq__policy_user(&p, name) == NULL) {
            rc = admin_fail("no user '%s'", SHOWN(name));
        }
        if (rc == 0) {
            rc = new_hash(o->pwfile, &p, hash);
        }
        if (rc != 0) {
            goto out;
        }
        if (add && o->relay) {
            /* One transaction: never a relay user without the flag. */
            r = secmq__authdb_begin(db, err, sizeof err);
            if (r == SECMQ_OK) {
                r = secmq__authdb_user_add(db, name, hash, err, sizeof err);
            }
            if (r == SECMQ_OK) {
                r = secmq__authdb_user_set_relay(db, name, 1, err, sizeof err);
            }
            if (r == SECMQ_OK) {
                r = secmq__authdb_commit(db, err, sizeof err);
            } else {
                secmq__authdb_rollback(db);
            }
        } else {
            r = add ? secmq__authdb_user_add(db, name, hash, err, sizeof err)
                    : secmq__authdb_user_set_hash(db, name, hash, 1, err,
                                                  sizeof err);
        }
    } else if (relay) {
        r = secmq__authdb_user_set_relay(db, name, !o->remove, err, sizeof err);
    } else if (strcmp(sub, "del") == 0) {
        r = secmq__authdb_user_del(db, name, err, sizeof err);
    } else {
        r = secmq__authdb_user_set_disabled(db, name, sub[0] == 'd', err,
                                            sizeof err);
    }
    if (r != SECMQ_OK) {
        rc = admin_fail_rc(r, err);
        goto out;
    }
    if (relay) {
        printf("%s %s\n", o->remove ? "no longer a relay:" : "relay:", name);
    } else {
        printf("%s user %s%s\n",
               add                           ? "added"
               : strcmp(sub, "passwd") == 0  ? "new password for"
               : strcmp(sub, "del") == 0     ? "deleted"
               : strcmp(sub, "disable") == 0 ? "disabled"
                                             : "enabled",
               name, add && o->relay ? " (relay)" : "");
    }
out:
    sodium_memzero(hash, sizeof hash);
    secmq__policy_clear(&p);
    secmq__authdb_close(db);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* group                                                                  */
/* ---------------------------------------------------------------------- */

static void print_group(void *arg, const char *group)
{
    const secmq_policy *p = arg;
    size_t i, n = 0;

    printf("%s\tmembers=", group);
    for (i = 0; i < p->nusers; i++) {
        if (secmq__user_in_group(&p->users[i], group)) {
            printf("%s%s", n++ ? "," : "", p->users[i].name);
        }
    }
    printf("%s\n", n ? "" : "-");
}

int admin_cmd_group(int argc, char **argv, int first, struct admin_opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL;
    secmq_policy p = {0};
    secmq_authdb *db = NULL;
    char err[512] = "";
    int rc, r;

    if (sub == NULL) {
        return admin_usage_error("group needs add, del, member or list");
    }
    if (strcmp(sub, "list") == 0) {
        rc = admin_parse(argc, argv, first + 1, 0, 0, 0, "", o);
        if (rc == 0) {
            rc = admin_open_load(o->db, SECMQ_AUTHDB_READONLY, &db, &p);
        }
        if (rc == 0) {
            r = secmq__authdb_group_list(db, print_group, &p, err, sizeof err);
            rc = r == SECMQ_OK ? 0 : admin_fail_rc(r, err);
        }
        secmq__policy_clear(&p);
        secmq__authdb_close(db);
        return rc;
    }
    if (strcmp(sub, "add") == 0 || strcmp(sub, "del") == 0) {
        rc = admin_parse(argc, argv, first + 1, 0, 1, 1, "group name G", o);
        if (rc != 0) {
            return rc;
        }
        if (sub[0] == 'a' && admin_name_check(o->pos[0], "group") != 0) {
            return ADMIN_EXIT_FAIL;
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = sub[0] == 'a'
                ? secmq__authdb_group_add(db, o->pos[0], err, sizeof err)
                : secmq__authdb_group_del(db, o->pos[0], err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        printf("%s group %s\n", sub[0] == 'a' ? "added" : "deleted", o->pos[0]);
        return 0;
    }
    if (strcmp(sub, "member") == 0) {
        rc = admin_parse(argc, argv, first + 1, OPT_REMOVE, 2, 2, "G USER", o);
        if (rc != 0) {
            return rc;
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = secmq__authdb_group_member(db, o->pos[0], o->pos[1], !o->remove,
                                       err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        printf("%s %s %s %s\n", o->remove ? "removed" : "added", o->pos[1],
               o->remove ? "from" : "to", o->pos[0]);
        return 0;
    }
    return admin_usage_error("unknown command 'group %s'", SHOWN(sub));
}

/* ---------------------------------------------------------------------- */
/* key                                                                    */
/* ---------------------------------------------------------------------- */

static void key_hex(const unsigned char *pk, char hex[2 * SECMQ_ID_BYTES + 1])
{
    unsigned char id[SECMQ_ID_BYTES];

    secmq_identity_id(id, pk);
    sodium_bin2hex(hex, 2 * SECMQ_ID_BYTES + 1, id, sizeof id);
}

static void print_key(void *arg, const char *user, const unsigned char *pk,
                      const char *label)
{
    char hex[2 * SECMQ_ID_BYTES + 1];

    (void)arg;
    key_hex(pk, hex);
    printf("%s\t%s\t%s\n", user, hex, label != NULL ? SHOWN(label) : "-");
}

struct key_find {
    char hex[2 * SECMQ_ID_BYTES + 1];
    unsigned char pk[SECMQ_SIGN_KEY_BYTES];
    int found;
};

static void find_key(void *arg, const char *user, const unsigned char *pk,
                     const char *label)
{
    struct key_find *f = arg;
    char hex[2 * SECMQ_ID_BYTES + 1];

    (void)user;
    (void)label;
    key_hex(pk, hex);
    if (strcmp(hex, f->hex) == 0) {
        memcpy(f->pk, pk, sizeof f->pk);
        f->found = 1;
    }
}

int admin_cmd_key(int argc, char **argv, int first, struct admin_opts *o)
{
    const char *sub = first < argc ? argv[first] : NULL;
    secmq_authdb *db = NULL;
    char err[512] = "";
    int rc, r;

    if (sub == NULL) {
        return admin_usage_error("key needs add, del or list");
    }
    if (strcmp(sub, "list") == 0) {
        rc = admin_parse(argc, argv, first + 1, 0, 0, 1, "", o);
        if (rc != 0) {
            return rc;
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READONLY, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = secmq__authdb_key_list(db, o->npos ? o->pos[0] : NULL, print_key,
                                   NULL, err, sizeof err);
        secmq__authdb_close(db);
        return r == SECMQ_OK ? 0 : admin_fail_rc(r, err);
    }
    if (strcmp(sub, "add") == 0) {
        unsigned char pk[SECMQ_SIGN_PK_BYTES];
        char label[SECMQ_NAME_MAX + 1], hex[2 * SECMQ_ID_BYTES + 1];
        rc = admin_parse(argc, argv, first + 1, 0, 2, 2, "NAME PUBFILE", o);
        if (rc != 0) {
            return rc;
        }
        r = secmq_identity_read_public(o->pos[1], label, sizeof label, pk, err,
                                       sizeof err);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = secmq__authdb_key_set(db, o->pos[0], pk, label, 1, err, sizeof err);
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        key_hex(pk, hex);
        printf("added key %s for %s\n", hex, o->pos[0]);
        return 0;
    }
    if (strcmp(sub, "del") == 0) {
        struct key_find f;
        size_t i;
        rc = admin_parse(argc, argv, first + 1, 0, 2, 2, "NAME KEYID", o);
        if (rc != 0) {
            return rc;
        }
        memset(&f, 0, sizeof f);
        for (i = 0; o->pos[1][i] != 0 && i < 2 * SECMQ_ID_BYTES; i++) {
            char c = o->pos[1][i];
            if (c >= 'A' && c <= 'F') {
                c = (char)(c - 'A' + 'a');
            }
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                break;
            }
            f.hex[i] = c;
        }
        if (i != 2 * SECMQ_ID_BYTES || o->pos[1][i] != 0) {
            return admin_usage_error("KEYID is 16 hex digits, not '%s'",
                                     SHOWN(o->pos[1]));
        }
        if (admin_open_db(o->db, SECMQ_AUTHDB_READWRITE, &db) != 0) {
            return ADMIN_EXIT_FAIL;
        }
        r = secmq__authdb_key_list(db, o->pos[0], find_key, &f, err,
                                   sizeof err);
        if (r == SECMQ_OK && !f.found) {
            secmq__authdb_close(db);
            return admin_fail("no key %s for '%s'", f.hex, SHOWN(o->pos[0]));
        }
        if (r == SECMQ_OK) {
            r = secmq__authdb_key_set(db, o->pos[0], f.pk, NULL, 0, err,
                                      sizeof err);
        }
        secmq__authdb_close(db);
        if (r != SECMQ_OK) {
            return admin_fail_rc(r, err);
        }
        printf("deleted key %s for %s\n", f.hex, o->pos[0]);
        return 0;
    }
    return admin_usage_error("unknown command 'key %s'", SHOWN(sub));
}
