/*
 * authd_json.c -- the connections in RabbitMQ's GET /api/connections
 * answer, the only file that sees json-c. Takes what closing a revoked
 * user's connections needs (name, user, MQTT client id, when it was
 * made) and nothing else; anything unexpected in the shape is an error,
 * never a guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "authd_revoke.h"

#define JSON_DEPTH 16

/* A string member of o (borrowed from o), or NULL; NULL too for one
 * with a NUL inside ("alice\u0000x" must not be read as "alice"). */
static const char *member_str(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    const char *str;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    str = json_object_get_string(v);
    if (str == NULL || strlen(str) != (size_t)json_object_get_string_len(v)) {
        return NULL;
    }
    return str;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *d;

    if (s == NULL) {
        return NULL;
    }
    d = strdup(s);
    if (d == NULL) {
        *oom = 1;
    }
    return d;
}

void authd_conns_free(authd_conn *c, size_t n)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].user);
        free(c[i].client_id);
    }
    free(c);
}

int authd_conns_parse(const char *body, size_t len, authd_conn **out, size_t *n,
                      char *err, size_t errlen)
{
    struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    struct json_object *root = NULL;
    authd_conn *conns = NULL;
    size_t count = 0, i;
    int oom = 0;

    *out = NULL;
    *n = 0;
    if (tok == NULL || len > (size_t)0x7fffffff) {
        (void)snprintf(err, errlen, "%s",
                       tok == NULL ? "out of memory" : "answer too long");
        goto fail;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, body, (int)len);
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int)len) {
        (void)snprintf(err, errlen, "not JSON (%s)",
                       json_tokener_error_desc(json_tokener_get_error(tok)));
        goto fail;
    }
    if (!json_object_is_type(root, json_type_array)) {
        (void)snprintf(err, errlen, "not a JSON array of connections");
        goto fail;
    }
    count = json_object_array_length(root);
    if (count > 0) {
        conns = calloc(count, sizeof *conns);
        if (conns == NULL) {
            (void)snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    for (i = 0; i < count; i++) {
        struct json_object *c = json_object_array_get_idx(root, i);
        struct json_object *vm = NULL, *cp = NULL, *at = NULL;
        const char *name = member_str(c, "name");
        const char *id = NULL;

        if (!json_object_is_type(c, json_type_object) || name == NULL) {
            (void)snprintf(err, errlen, "connection %zu has no name", i);
            goto fail;
        }
        /* MQTT connections carry the client id in both; other protocols
         * in neither. */
        if (json_object_object_get_ex(c, "variable_map", &vm)) {
            id = member_str(vm, "client_id");
        }
        if (id == NULL &&
            json_object_object_get_ex(c, "client_properties", &cp)) {
            id = member_str(cp, "client_id");
        }
        conns[i].connected_at = -1;
        if (json_object_object_get_ex(c, "connected_at", &at) &&
            json_object_is_type(at, json_type_int)) {
            conns[i].connected_at = json_object_get_int64(at);
        }
        conns[i].name = dup_or_null(name, &oom);
        conns[i].user = dup_or_null(member_str(c, "user"), &oom);
        conns[i].client_id = dup_or_null(id, &oom);
        if (oom) {
            (void)snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    json_object_put(root);
    json_tokener_free(tok);
    *out = conns;
    *n = count;
    return 0;

fail:
    /* calloc'd: entries not reached are empty. */
    authd_conns_free(conns, conns != NULL ? count : 0);
    json_object_put(root);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    return -1;
}
