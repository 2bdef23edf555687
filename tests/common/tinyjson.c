/*
 * tinyjson.c -- the small JSON reader of tinyjson.h, for test vectors.
 * Recursive descent over a NUL-terminated copy of the file; strings are
 * decoded to UTF-8 (\uXXXX and surrogate pairs included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyjson.h"

void tj_free(tj_value *j)
{
    if (j == NULL) {
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        tj_free(j->v[i]);
        if (j->k != NULL) {
            free(j->k[i]);
        }
    }
    free(j->v);
    free(j->k);
    free(j->str);
    free(j);
}

static void skip_space(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t') {
        (*p)++;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int read_u4(const char *p, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0) {
            return -1;
        }
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A JSON string at *p (after the quote), decoded; NULL if invalid. */
static char *parse_string(const char **p)
{
    const char *s = *p;
    size_t cap = 0, n = 0;
    char *out;

    while (s[cap] != '"' && s[cap] != '\0') {
        cap += s[cap] == '\\' && s[cap + 1] != '\0' ? 2 : 1;
    }
    out = malloc(cap * 2 + 1);
    if (out == NULL) {
        return NULL;
    }
    while (*s != '"') {
        uint32_t cp, lo;

        if (*s == '\0') {
            goto bad;
        }
        if (*s != '\\') {
            out[n++] = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case '"':
            out[n++] = '"';
            s++;
            break;
        case '\\':
            out[n++] = '\\';
            s++;
            break;
        case '/':
            out[n++] = '/';
            s++;
            break;
        case 'n':
            out[n++] = '\n';
            s++;
            break;
        case 't':
            out[n++] = '\t';
            s++;
            break;
        case 'r':
            out[n++] = '\r';
            s++;
            break;
        case 'b':
            out[n++] = '\b';
            s++;
            break;
        case 'f':
            out[n++] = '\f';
            s++;
            break;
        case 'u':
            if (read_u4(s + 1, &cp) != 0) {
                goto bad;
            }
            s += 5;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (s[0] != '\\' || s[1] != 'u' || read_u4(s + 2, &lo) != 0 ||
                    lo < 0xdc00 || lo >= 0xe000) {
                    goto bad;
                }
                s += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            n += put_utf8(out + n, cp);
            break;
        default:
            goto bad;
        }
    }
    *p = s + 1;
    out[n] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static tj_value *parse_value(const char **p, int depth)
{
    tj_value *j;

    if (depth > 20) {
        return NULL;
    }
    j = calloc(1, sizeof *j);
    if (j == NULL) {
        return NULL;
    }
    skip_space(p);
    if (**p == '{' || **p == '[') {
        int obj = **p == '{';
        char close = obj ? '}' : ']';

        j->type = obj ? TJ_OBJ : TJ_ARR;
        (*p)++;
        skip_space(p);
        if (**p == close) {
            (*p)++;
            return j;
        }
        for (;;) {
            char *key = NULL;
            tj_value *val;

            skip_space(p);
            if (obj) {
                if (**p != '"') {
                    goto bad;
                }
                (*p)++;
                key = parse_string(p);
                skip_space(p);
                if (key == NULL || **p != ':') {
                    free(key);
                    goto bad;
                }
                (*p)++;
            }
            val = parse_value(p, depth + 1);
            if (val == NULL) {
                free(key);
                goto bad;
            }
            j->v = realloc(j->v, (j->n + 1) * sizeof *j->v);
            if (obj) {
                j->k = realloc(j->k, (j->n + 1) * sizeof *j->k);
            }
            if (j->v == NULL || (obj && j->k == NULL)) {
                abort(); /* a test; nothing sensible to do */
            }
            j->v[j->n] = val;
            if (obj) {
                j->k[j->n] = key;
            }
            j->n++;
            skip_space(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (**p == close) {
                (*p)++;
                return j;
            }
            goto bad;
        }
    }
    if (**p == '"') {
        (*p)++;
        j->type = TJ_STR;
        j->str = parse_string(p);
        if (j->str == NULL) {
            goto bad;
        }
        return j;
    }
    if (**p >= '0' && **p <= '9') {
        j->type = TJ_NUM;
        while (**p >= '0' && **p <= '9') {
            uint64_t d = (uint64_t)(**p - '0');
            if (j->num > (UINT64_MAX - d) / 10) {
                goto bad;
            }
            j->num = j->num * 10 + d;
            (*p)++;
        }
        return j;
    }
    if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "false", 5) == 0) {
        j->type = TJ_BOOL;
        j->num = **p == 't';
        *p += j->num ? 4 : 5;
        return j;
    }
    if (strncmp(*p, "null", 4) == 0) {
        *p += 4;
        return j;
    }
bad:
    tj_free(j);
    return NULL;
}

const tj_value *tj_get(const tj_value *o, const char *key, tj_type type)
{
    if (o == NULL || o->type != TJ_OBJ) {
        return NULL;
    }
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->k[i], key) == 0) {
            return o->v[i]->type == type ? o->v[i] : NULL;
        }
    }
    return NULL;
}

/* Hex member key of o, decoded into a new buffer; NULL if absent or bad. */
unsigned char *tj_hex(const tj_value *o, const char *key, size_t *len)
{
    const tj_value *s = tj_get(o, key, TJ_STR);
    size_t n;
    unsigned char *b;

    if (s == NULL || strlen(s->str) % 2 != 0) {
        return NULL;
    }
    n = strlen(s->str) / 2;
    b = malloc(n + 1);
    if (b == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)s->str[2 * i]);
        int lo = hexval((unsigned char)s->str[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return NULL;
        }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n;
    return b;
}

tj_value *tj_load(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *text;
    long size;
    const char *p;
    tj_value *root;

    if (fp == NULL) {
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return NULL;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, fp) != (size_t)size) {
        free(text);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    text[size] = '\0';
    p = text;
    root = parse_value(&p, 0);
    skip_space(&p);
    if (root != NULL && *p != '\0') {
        tj_free(root);
        root = NULL;
    }
    free(text);
    return root;
}
