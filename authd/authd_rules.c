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

#include <sodium.h>

#include "acl.h"
#include "authd.h"

#define QUEUE_PREFIX "mqtt-subscription-"

const char *authd_form_get(const authd_form *form, const char *key)
{
    for (size_t i = 0; i < form->n; i++) {
        if (strcmp(form->f[i].key, key) == 0) {
            return form->f[i].value;
        }
    }
    return NULL;
}

void authd_form_clear(authd_form *form)
{
    for (size_t i = 0; i < form->n; i++) {
        free(form->f[i].key);
        if (form->f[i].value != NULL) {
            /* It may be a password. */
            memset(form->f[i].value, 0, strlen(form->f[i].value));
        }
        free(form->f[i].value);
    }
    form->n = 0;
}

int authd_form_add(authd_form *form, const char *key, const char *value,
                   char *err, size_t errlen)
{
    if (form->n == AUTHD_FIELDS_MAX) {
        (void)snprintf(err, errlen, "more than %d fields", AUTHD_FIELDS_MAX);
        return -1;
    }
    /* SECURITY: a field given twice could be read one way here and
     * another way by whoever looked at the request first. */
    if (authd_form_get(form, key) != NULL) {
        (void)snprintf(err, errlen, "field given twice");
        return -1;
    }
    form->f[form->n].key = strdup(key);
    form->f[form->n].value = strdup(value);
    if (form->f[form->n].key == NULL || form->f[form->n].value == NULL) {
        free(form->f[form->n].key);
        free(form->f[form->n].value);
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    form->n++;
    return 0;
}

/* Decode len bytes of s into out (at least len + 1 bytes). */
static int decode(const char *s, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            unsigned char b;
            size_t n = 0;
            const char *end = NULL;
            if (i + 2 >= len ||
                sodium_hex2bin(&b, 1, s + i + 1, 2, NULL, &n, &end) != 0 ||
                n != 1 || end != s + i + 3) {
                return -1;
            }
            c = (char)b;
            i += 2;
        }
        if (c == '\0') {
            return -1;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int authd_form_parse(authd_form *form, const char *body, size_t len, char *err,
                     size_t errlen)
{
    size_t i = 0;
    char *buf = malloc(len + 1);
    int rc = 0;

    if (buf == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (i < len && rc == 0) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - body) : len;
        const char *eq = memchr(body + i, '=', end - i);
        size_t kend = eq != NULL ? (size_t)(eq - body) : end;
        char *key;

        if (end > i) {
            if (decode(body + i, kend - i, buf) != 0) {
                (void)snprintf(err, errlen, "bad %%-escape or NUL in a key");
                rc = -1;
                break;
            }
            key = strdup(buf);
            if (key == NULL) {
                (void)snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            if (eq != NULL ? decode(eq + 1, end - kend - 1, buf) != 0
                           : decode("", 0, buf) != 0) {
                (void)snprintf(err, errlen, "bad %%-escape or NUL in a value");
                rc = -1;
            } else {
                rc = authd_form_add(form, key, buf, err, errlen);
            }
            free(key);
        }
        i = end + 1;
    }
    memset(buf, 0, len + 1);
    free(buf);
    if (rc != 0) {
        authd_form_clear(form);
    }
    return rc;
}

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

/* An MQTT subscription queue, "mqtt-subscription-<client id>qos0|1"; its
 * client id into id (cap bytes). 1 if name is one, else 0. */
static int subscription_queue(const char *name, char *id, size_t cap)
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
        if (!subscription_queue(name, id, sizeof id)) {
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
        (void)snprintf(why, why_len, "no rule allows %s on MQTT %s '%s'", perm,
                       strcmp(perm, "read") == 0 ? "filter" : "topic", topic);
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
