/*
 * plugin.c -- secmq_auth.so, the mosquitto 2.0 plugin (API v5): the only
 * file that sees the broker's API. It authenticates logins against the
 * auth database, keeps each client's compiled ACL, answers ACL checks from
 * memory, enforces signed envelopes where asked, and follows changes to the
 * database (reload, kick). Policy logic lives in acl.c, storage in
 * authdb.c, password hashes in pwhash.c, the table of logged-in clients
 * in clients.c, client ids tied to users in clientid.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* mosquitto_broker.h must come before mosquitto_plugin.h in 2.0.11. */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <secmq.h>

#include "acl.h"
#include "authdb.h"
#include "authguard.h"
#include "authsvc.h"
#include "clientid.h"
#include "clients.h"
#include "policy.h"
#include "pwhash.h"
#include "relay.h"

#define PLUGIN_EXPORT __attribute__((visibility("default")))
#define LOG_PREFIX "secmq_auth: "
#define ERR_LEN 256
#define RELOAD_DEFAULT_S 1
#define RELOAD_MAX_S 3600
/* A client the plugin logged in (clients.h). */
typedef secmq_pclient client;

typedef struct plugin {
    mosquitto_plugin_id_t *pid;
    secmq_authsvc svc; /* database, policy, logins (authsvc.h) */
    bool require_signed;
    bool bridge_in_signed; /* plugin_opt_bridge_in_signed */
    int reload_interval;
    secmq_idpats id_patterns; /* plugin_opt_client_id_pattern */
    char *id_pattern_spec;    /* as given, for the log; NULL: off */
    secmq_signers signers;    /* every user's keys, for relay users */
    secmq_pclients clients;   /* the connected clients it logged in */
    time_t next_check;
} plugin;

static void logf_(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mosquitto_log_printf(level, LOG_PREFIX "%s", line);
}

/* --- the client table (clients.c) ------------------------------------ */

/* A connected client's entry, from its login to its DISCONNECT event. */
static client *table_add(plugin *p, const struct mosquitto *ctx,
                         const char *user, const char *id)
{
    return secmq__clients_add(&p->clients, &p->svc.policy, ctx, user, id);
}

/* --- the policy --------------------------------------------------------- */

/* Before a new policy replaces the old one: the signing keys of every
 * user, for relay users (relay.h). */
static int on_load(void *user, const secmq_policy *fresh, char *err,
                   size_t errlen)
{
    plugin *p = user;
    secmq_signers signers;

    if (secmq__signers_build(fresh, &signers) != 0) {
        (void)snprintf(err, errlen, "out of memory for the signing keys");
        return -1;
    }
    secmq__signers_free(&p->signers);
    p->signers = signers;
    return 0;
}

/* The service's log lines, through the broker's log. */
static void svc_log(void *user, secmq_svc_level level, const char *line)
{
    static const int levels[] = {MOSQ_LOG_ERR, MOSQ_LOG_WARNING,
                                 MOSQ_LOG_NOTICE, MOSQ_LOG_INFO,
                                 MOSQ_LOG_DEBUG};

    (void)user;
    mosquitto_log_printf(levels[level], LOG_PREFIX "%s", line);
}

typedef struct kick {
    char *id;
    const char *why;
} kick;

/* After a reload: recompile every client's ACL; clients whose user is
 * gone, disabled or has a new password, or who lost any right, are
 * disconnected (their subscriptions are not re-checked by the broker). */
static void apply_to_clients(plugin *p)
{
    kick *kicks = NULL;
    size_t nkicks = 0;
    size_t cap = p->clients.nclients;

    if (cap > 0) {
        kicks = calloc(cap, sizeof *kicks);
    }
    for (size_t i = 0; i < p->clients.nbuckets; i++) {
        for (client *c = p->clients.buckets[i]; c != NULL; c = c->next) {
            const secmq_user *u = secmq__policy_user(&p->svc.policy, c->user);
            secmq_acl *old = c->acl;
            const char *why = NULL;
            int64_t old_gen = c->pw_gen;

            c->acl = NULL;
            if (secmq__client_compile(&p->svc.policy, c) != 0) {
                /* SECURITY: no memory for the new rules: deny all. */
                secmq__acl_free(c->acl);
                c->acl = NULL;
                why = "out of memory";
            } else if (u == NULL) {
                why = "user deleted";
            } else if (u->disabled) {
                why = "user disabled";
            } else if (u->pw_gen != old_gen) {
                why = "password changed";
            } else if (!secmq__acl_only_gained(old, c->acl)) {
                why = "access reduced";
            } else {
                /* A new user may now own the id (clientid.h). */
                why = secmq__idpats_check(&p->id_patterns, &p->svc.policy,
                                          c->user, c->id, NULL);
            }
            secmq__acl_free(old);
            if (why != NULL && kicks != NULL && nkicks < cap) {
                kicks[nkicks].id = strdup(c->id);
                if (kicks[nkicks].id != NULL) {
                    kicks[nkicks].why = why;
                    char b1[80], b2[80];
                    logf_(MOSQ_LOG_NOTICE,
                          "disconnecting client '%s' (user '%s'): %s",
                          secmq__printable(c->id, b1, sizeof b1),
                          secmq__printable(c->user, b2, sizeof b2), why);
                    nkicks++;
                }
            }
        }
    }
    /* Kicking runs the DISCONNECT callback, which edits the table: only
     * now that the walk is over. */
    for (size_t i = 0; i < nkicks; i++) {
        (void)mosquitto_kick_client_by_clientid(kicks[i].id, false);
        free(kicks[i].id);
    }
    free(kicks);
}

static void reload(plugin *p, int force)
{
    if (secmq__authsvc_reload(&p->svc, force) == 1) {
        logf_(MOSQ_LOG_NOTICE,
              "reloaded policy: %zu users, %zu rules; checking %zu "
              "connected clients",
              p->svc.policy.nusers, p->svc.policy.nrules, p->clients.nclients);
        apply_to_clients(p);
    }
}

/* --- events --------------------------------------------------------------- */

static int on_basic_auth(int event, void *event_data, void *userdata)
{
    plugin *p = userdata;
    struct mosquitto_evt_basic_auth *ed = event_data;
    const char *name = ed->username;
    const char *id = mosquitto_client_id(ed->client);
    const char *pw = ed->password != NULL ? ed->password : "";
    const char *addr = mosquitto_client_address(ed->client);

    (void)event;
    /* An id the broker does not give is "" here: an invalid client id. */
    if (secmq__authsvc_login(&p->svc, name, id != NULL ? id : "", pw,
                             strnlen(pw, SECMQ_PW_MAX + 1), addr, addr,
                             secmq__mono_ms()) != NULL) {
        return MOSQ_ERR_AUTH;
    }
    if (table_add(p, ed->client, name, id) == NULL) {
        logf_(MOSQ_LOG_ERR, "out of memory: refusing '%s'", name);
        return MOSQ_ERR_AUTH;
    }
    return MOSQ_ERR_SUCCESS;
}

/* Is payload a secmq envelope for topic signed by one of c's keys? NULL if
 * so, else why not (for the log). */
static const char *signature_problem(const client *c, const char *topic,
                                     const void *payload, uint32_t len)
{
    secmq_envelope_fields f;

    if (payload == NULL || secmq_envelope_parse(payload, len, &f) != 0 ||
        f.mode != SECMQ_SEAL_SIGNED) {
        return "not a signed secmq envelope";
    }
    for (size_t i = 0; i < c->nkeys; i++) {
        if (memcmp(f.sender_id, c->key_ids[i], SECMQ_ID_BYTES) == 0) {
            if (secmq_envelope_verify_signature(&f, topic, c->keys[i]) ==
                SECMQ_OPEN_OK) {
                return NULL;
            }
            return "bad signature";
        }
    }
    return "key not registered for user";
}

/*
 * A file chunk of protocol 2 where signatures are enforced: the user's
 * ACL let it write the topic already; it must also be one with a
 * registered signing key (a file sender signs its manifests), or, for a
 * relay, some user with a key must be allowed the topic.
 */
static int chunk_answer(const plugin *p, const client *c,
                        const struct mosquitto_evt_acl_check *ed)
{
    const char *writer = NULL;
    char b1[80], b2[160], b3[160];

    if (c->relay) {
        writer = secmq__signers_chunk_writer(&p->signers, ed->topic);
    } else if (c->nkeys > 0) {
        writer = c->user;
    }
    if (writer == NULL) {
        logf_(MOSQ_LOG_NOTICE,
              "dropped publish on '%s' from client '%s' (user '%s'): a file "
              "chunk (protocol 2) from %s",
              secmq__printable(ed->topic, b3, sizeof b3),
              secmq__printable(c->id, b1, sizeof b1),
              secmq__printable(c->user, b2, sizeof b2),
              c->relay ? "a relay, on a topic no user with a signing key may "
                         "publish on"
                       : "a user without a registered signing key");
        return MOSQ_ERR_ACL_DENIED;
    }
    logf_(MOSQ_LOG_DEBUG,
          "accepted unsigned file chunk (protocol 2) on '%s' from client "
          "'%s' (user '%s'): receivers check it against the signed "
          "manifest",
          secmq__printable(ed->topic, b3, sizeof b3),
          secmq__printable(c->id, b1, sizeof b1),
          secmq__printable(c->user, b2, sizeof b2));
    return MOSQ_ERR_SUCCESS;
}

/* Why secmq__signers_check refused (v), for a log line, in buf. */
static const char *relay_why(secmq_relay_verdict v, const char *signer,
                             char *buf, size_t cap)
{
    char b[80];

    if (v != SECMQ_RELAY_NOT_ALLOWED) {
        return secmq__relay_verdict_str(v);
    }
    (void)snprintf(buf, cap, "signed by '%s', who may not publish there",
                   secmq__printable(signer, b, sizeof b));
    return buf;
}

/*
 * A signed publish by a relay user c (a bridge), already allowed by c's
 * own rules: accepted when a user whose rules allow the topic signed it
 * (relay.h); the log names that user either way.
 */
static int relay_answer(const plugin *p, const client *c,
                        const struct mosquitto_evt_acl_check *ed)
{
    char b1[80], b2[80], b3[160], b4[160];
    const char *signer = NULL;
    secmq_relay_verdict v = secmq__signers_check(
        &p->signers, ed->topic, ed->payload, ed->payloadlen, &signer);

    if (v == SECMQ_RELAY_OK) {
        logf_(MOSQ_LOG_DEBUG,
              "relayed publish on '%s' from client '%s' (relay user '%s'): "
              "signed by '%s'",
              secmq__printable(ed->topic, b3, sizeof b3),
              secmq__printable(c->id, b1, sizeof b1),
              secmq__printable(c->user, b2, sizeof b2),
              secmq__printable(signer, b4, sizeof b4));
        return MOSQ_ERR_SUCCESS;
    }
    logf_(MOSQ_LOG_NOTICE,
          "dropped publish on '%s' from client '%s' (relay user '%s'): %s",
          secmq__printable(ed->topic, b3, sizeof b3),
          secmq__printable(c->id, b1, sizeof b1),
          secmq__printable(c->user, b2, sizeof b2),
          relay_why(v, signer, b4, sizeof b4));
    return MOSQ_ERR_ACL_DENIED;
}

/* The answer to one ACL check for client c. */
static int acl_answer(const plugin *p, const client *c,
                      const struct mosquitto_evt_acl_check *ed)
{
    char b1[80], b2[80], b3[160];
    int need_sig = 0;

    switch (ed->access) {
    case MOSQ_ACL_SUBSCRIBE:
    case MOSQ_ACL_UNSUBSCRIBE:
        if (secmq__acl_check_filter(c->acl, ed->topic)) {
            return MOSQ_ERR_SUCCESS;
        }
        if (ed->access == MOSQ_ACL_SUBSCRIBE) {
            logf_(MOSQ_LOG_NOTICE,
                  "denied subscribe to '%s' for client '%s' (user '%s')",
                  secmq__printable(ed->topic, b3, sizeof b3),
                  secmq__printable(c->id, b1, sizeof b1),
                  secmq__printable(c->user, b2, sizeof b2));
        }
        return MOSQ_ERR_ACL_DENIED;
    case MOSQ_ACL_READ:
        return secmq__acl_check_topic(c->acl, ed->topic, SECMQ_ACL_READ, NULL)
                   ? MOSQ_ERR_SUCCESS
                   : MOSQ_ERR_ACL_DENIED;
    case MOSQ_ACL_WRITE:
        if (!secmq__acl_check_topic(c->acl, ed->topic, SECMQ_ACL_WRITE,
                                    &need_sig)) {
            logf_(MOSQ_LOG_NOTICE,
                  "denied publish to '%s' for client '%s' (user '%s')",
                  secmq__printable(ed->topic, b3, sizeof b3),
                  secmq__printable(c->id, b1, sizeof b1),
                  secmq__printable(c->user, b2, sizeof b2));
            return MOSQ_ERR_ACL_DENIED;
        }
        /* SECURITY: a file chunk of protocol 2 (PROTOCOL.md §8.3.2) is
         * not an envelope and carries no signature: its proof to the
         * signed manifest's root is what receivers check. Here only its
         * form (and, above, the user's ACL) can be checked; one that is
         * not the sender's is refused by every receiver (bad_proof). */
        if ((p->require_signed || need_sig) &&
            secmq_file_chunk_v2_form(ed->topic, ed->payload, ed->payloadlen)) {
            return chunk_answer(p, c, ed);
        }
        /* SECURITY: checked here rather than on MESSAGE so that a Will
         * (checked with its payload at CONNECT) is covered too. */
        if ((p->require_signed || need_sig) && c->relay) {
            return relay_answer(p, c, ed);
        }
        if (p->require_signed || need_sig) {
            const char *why =
                signature_problem(c, ed->topic, ed->payload, ed->payloadlen);
            if (why != NULL) {
                logf_(MOSQ_LOG_NOTICE,
                      "dropped publish on '%s' from client '%s' (user "
                      "'%s'): %s",
                      secmq__printable(ed->topic, b3, sizeof b3),
                      secmq__printable(c->id, b1, sizeof b1),
                      secmq__printable(c->user, b2, sizeof b2), why);
                return MOSQ_ERR_ACL_DENIED;
            }
        }
        return MOSQ_ERR_SUCCESS;
    default:
        return MOSQ_ERR_ACL_DENIED;
    }
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
    plugin *p = userdata;
    struct mosquitto_evt_acl_check *ed = event_data;
    const char *user = mosquitto_client_username(ed->client);
    const char *id = mosquitto_client_id(ed->client);
    client *c;
    client tmp;
    int rc;

    (void)event;
    if (user == NULL || id == NULL || ed->topic == NULL) {
        return MOSQ_ERR_ACL_DENIED;
    }
    c = secmq__clients_find(&p->clients, &p->svc.policy, ed->client, user, id);
    if (c != NULL) {
        return acl_answer(p, c, ed);
    }
    /* Not a client the plugin logged in: an offline persistent session
     * getting a message, or a Will published after the DISCONNECT event.
     * Its rules are compiled for this check only and kept nowhere, so
     * the table stays the set of connected clients. */
    rc = secmq__client_temp(&p->svc.policy, &tmp, user, id);
    if (rc != 0) {
        if (rc == -2) {
            logf_(MOSQ_LOG_ERR, "out of memory compiling an ACL");
        }
        return MOSQ_ERR_ACL_DENIED;
    }
    rc = acl_answer(p, &tmp, ed);
    secmq__client_release(&tmp);
    return rc;
}

/*
 * MOSQ_EVT_MESSAGE, registered with plugin_opt_bridge_in_signed only.
 * mosquitto 2.0.11 makes no ACL check for a message that arrives over the
 * broker's own bridge (a bridge context is allowed everything before any
 * plugin is asked), but it does raise this event for it. A publisher the
 * plugin logged in was checked on ACL_CHECK already; any other connection
 * (the broker's bridges) must bring a message signed by a user whom this
 * broker's rules let publish on the topic (relay.h).
 */
static int on_message(int event, void *event_data, void *userdata)
{
    plugin *p = userdata;
    struct mosquitto_evt_message *ed = event_data;
    const char *user = mosquitto_client_username(ed->client);
    const char *id = mosquitto_client_id(ed->client);
    const char *signer = NULL;
    char b1[80], b2[160], b3[160];
    secmq_relay_verdict v;

    (void)event;
    if (user != NULL && id != NULL &&
        secmq__clients_find(&p->clients, &p->svc.policy, ed->client, user,
                            id) != NULL) {
        return MOSQ_ERR_SUCCESS;
    }
    if (ed->topic == NULL) {
        return MOSQ_ERR_ACL_DENIED;
    }
    /* A file chunk of protocol 2 has no signature (PROTOCOL.md §8.3.2):
     * its form, and a user with a key who may publish there. */
    if (secmq_file_chunk_v2_form(ed->topic, ed->payload, ed->payloadlen)) {
        signer = secmq__signers_chunk_writer(&p->signers, ed->topic);
        if (signer != NULL) {
            logf_(MOSQ_LOG_DEBUG,
                  "bridged-in file chunk (protocol 2) on '%s' from '%s': "
                  "'%s' may publish there; receivers check the proof",
                  secmq__printable(ed->topic, b2, sizeof b2),
                  secmq__printable(id, b1, sizeof b1),
                  secmq__printable(signer, b3, sizeof b3));
            return MOSQ_ERR_SUCCESS;
        }
    }
    v = secmq__signers_check(&p->signers, ed->topic, ed->payload,
                             ed->payloadlen, &signer);
    if (v == SECMQ_RELAY_OK) {
        logf_(MOSQ_LOG_DEBUG,
              "bridged-in message on '%s' from '%s': signed by '%s'",
              secmq__printable(ed->topic, b2, sizeof b2),
              secmq__printable(id, b1, sizeof b1),
              secmq__printable(signer, b3, sizeof b3));
        return MOSQ_ERR_SUCCESS;
    }
    logf_(MOSQ_LOG_NOTICE, "dropped bridged-in message on '%s' from '%s': %s",
          secmq__printable(ed->topic, b2, sizeof b2),
          secmq__printable(id, b1, sizeof b1),
          relay_why(v, signer, b3, sizeof b3));
    return MOSQ_ERR_ACL_DENIED;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
    plugin *p = userdata;
    struct mosquitto_evt_disconnect *ed = event_data;

    (void)event;
    secmq__clients_remove(&p->clients, ed->client);
    return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *event_data, void *userdata)
{
    plugin *p = userdata;
    time_t now = time(NULL);

    (void)event;
    (void)event_data;
    if (now >= p->next_check) {
        p->next_check = now + p->reload_interval;
        reload(p, 0);
    }
    secmq__authsvc_tick(&p->svc, secmq__mono_ms());
    return MOSQ_ERR_SUCCESS;
}

static int on_reload(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    reload(userdata, 1);
    return MOSQ_ERR_SUCCESS;
}

/* --- entry points ----------------------------------------------------------
 */

static void plugin_free(plugin *p)
{
    if (p == NULL) {
        return;
    }
    secmq__clients_free(&p->clients);
    secmq__authsvc_clear(&p->svc);
    secmq__signers_free(&p->signers);
    free(p->id_pattern_spec);
    free(p);
}

static int parse_options(plugin *p, struct mosquitto_opt *opts, int count)
{
    char err[ERR_LEN];

    for (int i = 0; i < count; i++) {
        const char *k = opts[i].key;
        const char *v = opts[i].value != NULL ? opts[i].value : "";
        int guard_opt =
            secmq__guard_option(&p->svc.guard_cfg, k, v, err, sizeof err);

        if (guard_opt < 0) {
            logf_(MOSQ_LOG_ERR, "%s", err);
            return -1;
        }

        /* mosquitto 2.0.11 refuses plugin_opt_ keys shorter than three
         * characters, so plugin_opt_db cannot reach the plugin there:
         * "database" is the name to use; "db" is for brokers that pass it. */
        if (strcmp(k, "database") == 0 || strcmp(k, "db") == 0) {
            free(p->svc.db_path);
            p->svc.db_path = strdup(v);
            if (p->svc.db_path == NULL) {
                return -1;
            }
        } else if (strcmp(k, "require_signed") == 0) {
            if (strcmp(v, "true") == 0) {
                p->require_signed = true;
            } else if (strcmp(v, "false") == 0) {
                p->require_signed = false;
            } else {
                logf_(MOSQ_LOG_ERR,
                      "plugin_opt_require_signed must be true or false, "
                      "not '%s'",
                      v);
                return -1;
            }
        } else if (strcmp(k, "bridge_in_signed") == 0) {
            if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
                p->bridge_in_signed = v[0] == 't';
            } else {
                logf_(MOSQ_LOG_ERR,
                      "plugin_opt_bridge_in_signed must be true or false, "
                      "not '%s'",
                      v);
                return -1;
            }
        } else if (strcmp(k, "client_id_pattern") == 0) {
            err[0] = '\0';
            if (secmq__idpats_parse(&p->id_patterns, v, err, sizeof err) != 0) {
                logf_(MOSQ_LOG_ERR, "plugin_opt_client_id_pattern: %s", err);
                return -1;
            }
            free(p->id_pattern_spec);
            p->id_pattern_spec = p->id_patterns.n > 0 ? strdup(v) : NULL;
            if (p->id_patterns.n > 0 && p->id_pattern_spec == NULL) {
                return -1;
            }
        } else if (strcmp(k, "reload_interval") == 0) {
            char *end = NULL;
            long s;
            errno = 0;
            s = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || s < 1 ||
                s > RELOAD_MAX_S) {
                logf_(MOSQ_LOG_ERR,
                      "plugin_opt_reload_interval must be 1..%d seconds, "
                      "not '%s'",
                      RELOAD_MAX_S, v);
                return -1;
            }
            p->reload_interval = (int)s;
        } else if (guard_opt > 0) {
            continue; /* a plugin_opt_login_* option (authguard.c) */
        } else {
            /* SECURITY: a misspelt option (require_sigend) must not
             * silently leave enforcement off. */
            logf_(MOSQ_LOG_ERR, "unknown option plugin_opt_%s", k);
            return -1;
        }
    }
    if (p->svc.db_path == NULL || p->svc.db_path[0] == '\0') {
        logf_(MOSQ_LOG_ERR,
              "plugin_opt_database (the auth database) is required");
        return -1;
    }
    return 0;
}

PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count,
                                           const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++) {
        if (supported_versions[i] == 5) {
            return 5;
        }
    }
    return -1;
}

PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier,
                                        void **userdata,
                                        struct mosquitto_opt *options,
                                        int option_count)
{
    plugin *p;
    char err[ERR_LEN] = "";
    int rc;

    if (sodium_init() < 0) {
        logf_(MOSQ_LOG_ERR, "libsodium failed to start");
        return MOSQ_ERR_UNKNOWN;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return MOSQ_ERR_NOMEM;
    }
    p->pid = identifier;
    p->reload_interval = RELOAD_DEFAULT_S;
    secmq__guard_cfg_default(&p->svc.guard_cfg);
    if (secmq__clients_init(&p->clients) != 0 ||
        parse_options(p, options, option_count) != 0) {
        plugin_free(p);
        return MOSQ_ERR_INVAL;
    }
    if (p->svc.guard_cfg.backoff_max_s < p->svc.guard_cfg.backoff_s) {
        logf_(MOSQ_LOG_ERR, "plugin_opt_login_backoff_max must not be less "
                            "than plugin_opt_login_backoff");
        plugin_free(p);
        return MOSQ_ERR_INVAL;
    }
    logf_(MOSQ_LOG_INFO,
          "login guard: %u ms pause after a failed login, backoff after %u "
          "failures per address (%u..%u s), %u per user name (0: off); "
          "%u successful checks cached for %u s",
          p->svc.guard_cfg.pause_ms, p->svc.guard_cfg.source_failures,
          p->svc.guard_cfg.backoff_s, p->svc.guard_cfg.backoff_max_s,
          p->svc.guard_cfg.user_failures, p->svc.guard_cfg.cache_size,
          p->svc.guard_cfg.cache_ttl_s);
    p->svc.idpats = &p->id_patterns;
    p->svc.log = svc_log;
    p->svc.on_load = on_load;
    p->svc.load_user = p;
    rc = secmq__authsvc_start(&p->svc, err, sizeof err);
    if (rc != SECMQ_OK) {
        logf_(MOSQ_LOG_ERR, "cannot use the auth database %s: %s",
              p->svc.db_path, err);
        plugin_free(p);
        return MOSQ_ERR_INVAL;
    }
    if (mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH,
                                    on_basic_auth, NULL, p) != 0 ||
        mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK,
                                    on_acl_check, NULL, p) != 0 ||
        mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT,
                                    on_disconnect, NULL, p) != 0 ||
        mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL,
                                    p) != 0 ||
        mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, on_reload,
                                    NULL, p) != 0 ||
        (p->bridge_in_signed &&
         mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message,
                                     NULL, p) != 0)) {
        logf_(MOSQ_LOG_ERR, "cannot register the plugin's callbacks");
        plugin_free(p);
        return MOSQ_ERR_UNKNOWN;
    }
    p->next_check = time(NULL) + p->reload_interval;
    logf_(MOSQ_LOG_NOTICE,
          "loaded %zu users, %zu rules from %s (signatures %s%s, client "
          "ids %s%s%s, checked for changes every %d s)",
          p->svc.policy.nusers, p->svc.policy.nrules, p->svc.db_path,
          p->require_signed ? "required on every topic"
                            : "required where a rule says so",
          p->bridge_in_signed ? " and on bridged-in messages" : "",
          p->id_pattern_spec != NULL ? "'" : "any",
          p->id_pattern_spec != NULL ? p->id_pattern_spec : "",
          p->id_pattern_spec != NULL ? "'" : "", p->reload_interval);
    *userdata = p;
    return MOSQ_ERR_SUCCESS;
}

PLUGIN_EXPORT int mosquitto_plugin_cleanup(void *userdata,
                                           struct mosquitto_opt *options,
                                           int option_count)
{
    plugin *p = userdata;

    (void)options;
    (void)option_count;
    if (p == NULL) {
        return MOSQ_ERR_SUCCESS;
    }
    (void)mosquitto_callback_unregister(p->pid, MOSQ_EVT_BASIC_AUTH,
                                        on_basic_auth, NULL);
    (void)mosquitto_callback_unregister(p->pid, MOSQ_EVT_ACL_CHECK,
                                        on_acl_check, NULL);
    (void)mosquitto_callback_unregister(p->pid, MOSQ_EVT_DISCONNECT,
                                        on_disconnect, NULL);
    (void)mosquitto_callback_unregister(p->pid, MOSQ_EVT_TICK, on_tick, NULL);
    (void)mosquitto_callback_unregister(p->pid, MOSQ_EVT_RELOAD, on_reload,
                                        NULL);
    if (p->bridge_in_signed) {
        (void)mosquitto_callback_unregister(p->pid, MOSQ_EVT_MESSAGE,
                                            on_message, NULL);
    }
    plugin_free(p);
    return MOSQ_ERR_SUCCESS;
}
