/*
 * acl_ref.h -- the reference topic matcher the ACL tests check
 * broker-plugin/filter.c against (tests/unit/test_acl.c, the fuzzer
 * tests/fuzz/fuzz_acl.c). Written from MQTT 3.1.1 4.7 on purpose in
 * another way than filter.c: recursive, level by level. Header-only
 * (static), so the fuzzer, built out of tree, needs only -I.
 */
#ifndef SECMQ_TEST_ACL_REF_H
#define SECMQ_TEST_ACL_REF_H

#include <string.h>

/* 1 if filter f matches topic t, else 0; first is 1 at the top level
 * (where '+' and '#' do not match a topic starting with '$'). */
static int ref_match(const char *f, const char *t, int first)
{
    const char *fs = strchr(f, '/'), *ts = strchr(t, '/');
    size_t fn = fs ? (size_t)(fs - f) : strlen(f);
    size_t tn = ts ? (size_t)(ts - t) : strlen(t);
    int dollar = first && t[0] == '$';

    if (fn == 1 && f[0] == '#') {
        return !dollar;
    }
    if (fn == 1 && f[0] == '+') {
        if (dollar) {
            return 0;
        }
    } else if (fn != tn || memcmp(f, t, fn) != 0) {
        return 0;
    }
    if (fs == NULL && ts == NULL) {
        return 1;
    }
    if (fs == NULL) {
        return 0;
    }
    if (ts == NULL) {
        /* topic done: only a final "/#" still matches (parent level). */
        return strcmp(fs + 1, "#") == 0;
    }
    return ref_match(fs + 1, ts + 1, 0);
}

#endif
