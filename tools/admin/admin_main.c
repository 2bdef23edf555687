/*
 * admin_main.c -- secmq-admin's command line: the --help text, the option
 * parser every command uses, and the dispatch to the commands.
 *
 * What the commands do lives in admin_users.c, admin_acl.c and
 * admin_import.c; this file only reads argv and picks one of them.
 * Exit status: 0 done, 1 refused or failed (one line on stderr), 2 usage.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "admin.h"
#include "cli_dropin.h"
#include "cli_msg.h"
#include "pwhash.h"

static const char usage_text[] =
    "Usage: secmq-admin --db FILE COMMAND [ARGS]\n"
    "\n"
    "Manage the auth database of the secmq broker plugin (secmq_auth.so):\n"
    "users, groups, per-topic ACL rules and signing keys. The broker picks\n"
    "up every change within a few seconds; no restart is needed.\n"
    "\n"
    "  --db FILE    the database (default: $SECMQ_AUTH_DB)\n"
    "  -h, --help   show this help\n"
    "  --version    show the versions of secmq-admin and its libraries\n"
    "\n"
    "Commands:\n"
    "  init [--pw-ops N] [--pw-mem BYTES]\n"
    "      Create a new, empty database (mode 0600; never overwrites a\n"
    "      file). N and BYTES are the argon2id cost of new passwords\n"
    "      (default ops 3, 8M); BYTES may end in K or M.\n"
    "  cost [--pw-ops N] [--pw-mem BYTES]\n"
    "      Show the password cost (\"pw_ops N pw_mem BYTES\"), or set it;\n"
    "      existing hashes are upgraded by the broker at their next login.\n"
    "  user add NAME [--password-file F] [--relay]\n"
    "  user passwd NAME [--password-file F]\n"
    "      Add a user, or give it a new password (its sessions are closed).\n"
    "      The password is the first line of F (\"-\" for stdin); without\n"
    "      --password-file it is asked for twice on a terminal, or read\n"
    "      from the first line of stdin. Empty passwords are refused.\n"
    "      F must be owned by you or root, not writable by group and not\n"
    "      accessible to others (chmod 600 F), as for secmq-pub --pw-file.\n"
    "  user del NAME          delete the user, its rules, keys, memberships\n"
    "  user disable NAME      refuse its logins (and close its sessions)\n"
    "  user enable NAME\n"
    "  user relay NAME [--remove]\n"
    "      Make NAME a relay (a bridge's user), or (--remove) an ordinary\n"
    "      user again. Where a relay's own rule requires signed publishes,\n"
    "      they may be signed by any user's registered key, if that user's\n"
    "      rules let it publish on the topic; the relay's rules still bound\n"
    "      the topics it may publish on. --relay on user add does the same.\n"
    "  user list              NAME, enabled|disabled (\",relay\" for a "
    "relay),\n"
    "                         groups=, keys=, hash=\n"
    "  group add G | group del G\n"
    "  group member G USER [--remove]\n"
    "  group list             G, members=\n"
    "  acl add (--user NAME | --group G | --pattern) TOPIC ACCESS [--signed]\n"
    "      Allow (or deny) a topic filter. ACCESS is read (receive and\n"
    "      subscribe), write (publish), readwrite, subscribe or deny (beats\n"
    "      every allow). A --pattern applies to every user, with %u and %c\n"
    "      in TOPIC replaced by the user name and client id. --signed: a\n"
    "      publish allowed by this rule must be a secmq envelope signed by\n"
    "      a key registered for the user (see key add). Prints the rule id.\n"
    "  acl del ID\n"
    "  acl list [--user NAME]\n"
    "      ID, subject (user NAME, group G or pattern), ACCESS, TOPIC and\n"
    "      \"signed\" when required; with --user only the rules that apply\n"
    "      to NAME (its own, its groups' and the patterns).\n"
    "  key add NAME PUBFILE   register the public identity PUBFILE (from\n"
    "                         `secmq-keys export`) as a signing key of NAME\n"
    "  key del NAME KEYID     KEYID: 16 hex digits as key list shows\n"
    "  key list [NAME]        NAME, KEYID, LABEL\n"
    "  import-mosquitto [--passwd FILE] [--acl FILE]\n"
    "      Import a mosquitto password file (its $6$/$7$ hashes as they are;\n"
    "      the broker upgrades each to argon2id at the next login) and acl\n"
    "      file (user sections, topic and pattern lines; rules for anonymous\n"
    "      clients are skipped: anonymous clients are always refused). One\n"
    "      transaction: all or nothing.\n"
    "\n"
    "Names of users and groups: 1..256 bytes of UTF-8 without control\n"
    "characters, '+', '#' or '/'. Options may also be written --opt=VALUE;\n"
    "\"--\" ends the options (for a TOPIC that starts with '-').\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed (the reason on stderr), 2\n"
    "usage error.\n";

/*
 * The options: the bit that allows one for a command, and the member of
 * struct admin_opts it sets (at offset field): a const char * for one that
 * takes a value, else an int flag set to 1. --db is allowed everywhere.
 */
struct optdef {
    const char *name;
    unsigned bit;
    int takes_value;
    size_t field;
};

#define AT(member) offsetof(struct admin_opts, member)

static const struct optdef optdefs[] = {
    {"--db", OPT_DB, 1, AT(db)},
    {"--password-file", OPT_PWFILE, 1, AT(pwfile)},
    {"--pw-ops", OPT_PWOPS, 1, AT(pw_ops)},
    {"--pw-mem", OPT_PWMEM, 1, AT(pw_mem)},
    {"--user", OPT_USER, 1, AT(user)},
    {"--group", OPT_GROUP, 1, AT(group)},
    {"--pattern", OPT_PATTERN, 0, AT(pattern)},
    {"--signed", OPT_SIGNED, 0, AT(sign)},
    {"--remove", OPT_REMOVE, 0, AT(remove)},
    {"--relay", OPT_RELAY, 0, AT(relay)},
    {"--passwd", OPT_PASSWD, 1, AT(passwd)},
    {"--acl", OPT_ACL, 1, AT(acl)},
};

#undef AT

int admin_parse(int argc, char **argv, int first, unsigned allowed,
                size_t min_pos, size_t max_pos, const char *what,
                struct admin_opts *o)
{
    int i, only_pos = 0;

    for (i = first; i < argc; i++) {
        const char *arg = argv[i], *eq, *v = NULL;
        const struct optdef *def = NULL;
        char *member;
        size_t len, k;
        int takes;

        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (o->npos == ADMIN_MAX_POS) {
                return admin_usage_error("too many arguments");
            }
            o->pos[o->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        eq = strchr(arg, '=');
        len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        for (k = 0; k < sizeof optdefs / sizeof optdefs[0]; k++) {
            if (strlen(optdefs[k].name) == len &&
                strncmp(arg, optdefs[k].name, len) == 0) {
                def = &optdefs[k];
            }
        }
        if (def == NULL || !((allowed | OPT_DB) & def->bit)) {
            return admin_usage_error("unknown option '%s' for this command",
                                     SHOWN(arg));
        }
        takes = def->takes_value;
        if (!takes) {
            if (eq != NULL) {
                return admin_usage_error("'%.*s' takes no value", (int)len,
                                         arg);
            }
        } else if (eq != NULL) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        }
        if (takes && (v == NULL || v[0] == 0)) {
            return admin_usage_error("'%.*s' needs a value", (int)len, arg);
        }
        member = (char *)o + def->field;
        if (takes) {
            memcpy(member, &v, sizeof v);
        } else {
            memcpy(member, &(int){1}, sizeof(int));
        }
    }
    if (o->db == NULL) {
        o->db = getenv("SECMQ_AUTH_DB");
    }
    if (o->db == NULL || o->db[0] == 0) {
        return admin_usage_error("--db FILE is required (or SECMQ_AUTH_DB)");
    }
    if (o->npos < min_pos) {
        return admin_usage_error("missing %s", what);
    }
    if (o->npos > max_pos) {
        return admin_usage_error("unexpected argument '%s'",
                                 SHOWN(o->pos[max_pos]));
    }
    return 0;
}

int admin_parse_u64(const char *s, unsigned long long *v)
{
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno == 0 && *end == 0 ? 0 : -1;
}

/* BYTES with an optional K or M suffix (powers of 1024). */
static int parse_bytes(const char *s, size_t *v)
{
    unsigned long long n, mul = 1;
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    n = strtoull(s, &end, 10);
    if (errno != 0) {
        return -1;
    }
    if (*end == 'K' || *end == 'k') {
        mul = 1024u;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        mul = 1024u * 1024u;
        end++;
    }
    if (*end != 0 || n > SIZE_MAX / mul) {
        return -1;
    }
    *v = (size_t)(n * mul);
    return 0;
}

int admin_parse_cost(const struct admin_opts *o, unsigned long long *ops,
                     size_t *mem)
{
    if (o->pw_ops != NULL && admin_parse_u64(o->pw_ops, ops) != 0) {
        return admin_usage_error("--pw-ops takes a number, not '%s'",
                                 SHOWN(o->pw_ops));
    }
    if (o->pw_mem != NULL && parse_bytes(o->pw_mem, mem) != 0) {
        return admin_usage_error(
            "--pw-mem takes BYTES (e.g. 8M, 65536K), not '%s'",
            SHOWN(o->pw_mem));
    }
    if (!secmq__pw_cost_ok(*ops, *mem)) {
        return admin_usage_error("password cost out of range: --pw-ops 1..32, "
                                 "--pw-mem 8K..1024M");
    }
    return 0;
}

/* The commands, by the word that names them. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv, int first, struct admin_opts *o);
} commands[] = {
    {"init", admin_cmd_init},
    {"cost", admin_cmd_cost},
    {"user", admin_cmd_user},
    {"group", admin_cmd_group},
    {"acl", admin_cmd_acl},
    {"key", admin_cmd_key},
    {"import-mosquitto", admin_cmd_import},
};

int main(int argc, char **argv)
{
    struct admin_opts o;
    const char *cmd;
    size_t k;
    int i;

    memset(&o, 0, sizeof o);
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        cli_msg_init("secmq-admin");
        cli_print_version();
        return 0;
    }
    /* Options before the command: --db only. */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            o.db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            o.db = argv[i] + 5;
        } else {
            return admin_usage_error("unknown option '%s'", SHOWN(argv[i]));
        }
    }
    if (i >= argc) {
        return admin_usage_error("no command");
    }
    if (sodium_init() < 0) {
        return admin_fail("libsodium failed to start");
    }
    cmd = argv[i];
    for (k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(cmd, commands[k].name) == 0) {
            return commands[k].run(argc, argv, i + 1, &o);
        }
    }
    return admin_usage_error("unknown command '%s'", SHOWN(cmd));
}
