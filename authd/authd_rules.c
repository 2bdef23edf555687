/*
 * authd_rules.c -- RabbitMQ's four questions (rabbitmq_auth_backend_http:
 * user, vhost, resource, topic) answered with the plugin's policy: logins
 * through authsvc.c, topics through the compiled ACLs of acl.c after the
 * MQTT plugin's routing-key translation is undone. No HTTP here: the
 * fields arrive decoded (authd_http.c). Deny by default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "authd.h"

#define QUEUE_PREFIX "mqtt-subscription-"

int authd_mqtt_from_rk(const char *rk, char *out, size_t cap)
{
    size_t n = strlen(rk);

    if (n + 1 > cap) {
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = rk[i];
        out[i] = c == '.' ? '/' : c == '*' ? '+' : c;
    }
    return 0;
}

/* The user of a question that is not a login: it must exist and be
 * enabled (RabbitMQ asks these after a login the policy may since have
 * revoked). NULL when it may go on, else why not. */
static const char *user_problem(const authd *d, const authd_form *form,
                                const char **user)
{
    const secmq_user *u;
    const char *vhost = authd_form_get(form, "vhost");

    *user = authd_form_get(form, "username");
    if (*user == NULL || !secmq__name_ok(*user)) {
        return "no valid username";
    }
    u = secmq__policy_user(&d->svc.policy, *user);
    if (u == NULL) {
        return "unknown user";
    }
    if (u->disabled) {
        return "disabled user";
    }
    if (vhost == NULL || strcmp(vhost, d->vhost) != 0) {
        return "not the vhost secmq-authd serves";
    }
    return NULL;
}

int authd_queue_client_id(const char *name, char *id, size_t cap)
{
    size_t n = strlen(name), pl = sizeof QUEUE_PREFIX - 1;

    if (n <= pl + 4 || strncmp(name, QUEUE_PREFIX, pl) != 0 ||
        (strcmp(name + n - 4, "qos0") != 0 &&
         strcmp(name + n - 4, "qos1") != 0) ||
        n - pl - 4 + 1 > cap) {
        return 0;
    }
    memcpy(id, name + pl, n - pl - 4);
    id[n - pl - 4] = '\0';
    return 1;
}

static const char *resource_answer(authd *d, const authd_form *form)
{
    const char *user = NULL;
    const char *why = user_problem(d, form, &user);
    const char *res = authd_form_get(form, "resource");
    const char *name = authd_form_get(form, "name");
    const char *perm = authd_form_get(form, "permission");
    char id[SECMQ_AUTH_NAME_MAX + 1];

    if (why != NULL) {
        return why;
    }
    if (res == NULL || name == NULL || perm == NULL) {
        return "resource, name or permission missing";
    }
    if (strcmp(perm, "configure") != 0 && strcmp(perm, "read") != 0 &&
        strcmp(perm, "write") != 0) {
        return "unknown permission";
    }
    if (strcmp(res, "exchange") == 0) {
        if (strcmp(name, d->exchange) != 0) {
            return "not the MQTT exchange";
        }
        /* The topic checks (topic_path) decide what passes through it. */
        return strcmp(perm, "configure") == 0 ? "the exchange is not "
                                                "configured by clients"
                                              : NULL;
    }
    if (strcmp(res, "queue") == 0) {
        if (!authd_queue_client_id(name, id, sizeof id)) {
            return "not an MQTT subscription queue";
        }
        if (!secmq__name_ok(id)) {
            return "invalid client id in the queue name";
        }
        /* SECURITY: with client id patterns, a user's queues are those
         * of the ids it may connect with. */
        return d->idpats.n > 0 ? secmq__idpats_check(&d->idpats, &d->svc.policy,
                                                     user, id, NULL)
                               : NULL;
    }
    return "not a queue or exchange";
}

static const char *topic_answer(authd *d, const authd_form *form, char *why,
                                size_t why_len)
{
    const char *user = NULL;
    const char *problem = user_problem(d, form, &user);
    const char *name = authd_form_get(form, "name");
    const char *perm = authd_form_get(form, "permission");
    const char *rk = authd_form_get(form, "routing_key");
    const char *id = authd_form_get(form, "variable_map.client_id");
    const char *vuser = authd_form_get(form, "variable_map.username");
    char topic[SECMQ_AUTH_TOPIC_MAX + 1];
    secmq_acl *acl = NULL;
    int ok, need_sig = 0, rc;

    if (problem != NULL) {
        return problem;
    }
    if (name == NULL || strcmp(name, d->exchange) != 0) {
        return "not the MQTT exchange";
    }
    if (perm == NULL || rk == NULL) {
        return "permission or routing_key missing";
    }
    if (vuser != NULL && strcmp(vuser, user) != 0) {
        return "variable_map.username is not the username";
    }
    if (id != NULL && !secmq__name_ok(id)) {
        return "invalid client id";
    }
    if (authd_mqtt_from_rk(rk, topic, sizeof topic) != 0) {
        return "routing key too long";
    }
    /* Without a client id, %c patterns grant nothing and deny with '+'
     * (the rules of a signer whose client id is unknown). */
    rc = id != NULL ? secmq__acl_compile(&d->svc.policy, user, id, &acl)
                    : secmq__acl_compile_signer(&d->svc.policy, user, &acl);
    if (rc != 0) {
        return "out of memory";
    }
    if (strcmp(perm, "write") == 0) {
        ok = secmq__acl_check_topic(acl, topic, SECMQ_ACL_WRITE, &need_sig);
        if (ok && need_sig) {
            /* SECURITY: RabbitMQ asks once per topic, never with the
             * message: a signature cannot be checked here. */
            secmq__acl_free(acl);
            return "the rule requires signed messages, which secmq-authd "
                   "cannot check";
        }
    } else if (strcmp(perm, "read") == 0) {
        /* A subscription (its filter): the plugin's filter rule. */
        ok = secmq__acl_check_filter(acl, topic);
    } else {
        secmq__acl_free(acl);
        return "unknown permission";
    }
    secmq__acl_free(acl);
    if (!ok) {
        char shown[80];
        /* SECURITY: the topic comes from the client: no control bytes in
         * the log. */
        (void)snprintf(why, why_len, "no rule allows %s on MQTT %s '%s'", perm,
                       strcmp(perm, "read") == 0 ? "filter" : "topic",
                       secmq__printable(topic, shown, sizeof shown));
        return why;
    }
    return NULL;
}

const char *authd_decide(authd *d, authd_kind kind, const authd_form *form,
                         const char *addr, char *why, size_t why_len)
{
    const char *user = authd_form_get(form, "username");
    const char *pw = authd_form_get(form, "password");
    char key[SECMQ_AUTH_NAME_MAX + 16];

    switch (kind) {
    case AUTHD_USER:
        /* RabbitMQ does not say where a client connects from: the login
         * guard budgets failures per user name instead (docs/DEPLOY.md). */
        (void)snprintf(key, sizeof key, "user %s",
                       user != NULL ? user : "(none)");
        return secmq__authsvc_login(
            &d->svc, user, authd_form_get(form, "client_id"), pw,
            pw != NULL ? strlen(pw) : 0, addr, key, secmq__mono_ms());
    case AUTHD_VHOST:
        return user_problem(d, form, &user);
    case AUTHD_RESOURCE:
        return resource_answer(d, form);
    case AUTHD_TOPIC:
        return topic_answer(d, form, why, why_len);
    }
    return "unknown question";
}
