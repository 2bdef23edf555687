/*
 * test_clientid.c -- unit tests for client ids tied to users
 * (broker-plugin/clientid.c, plugin_opt_client_id_pattern): parsing
 * patterns, which ids a user may take, and ids owned by the longest user
 * name they can be made from.
 */
#include <stdlib.h>
#include <string.h>

#include "clientid.h"
#include "policy.h"

#include "check.h"

/* A policy with these users only (sorted as secmq__policy_user needs);
 * names are borrowed string literals, so it is not freed with
 * secmq__policy_clear. */
static secmq_user users[8];

static secmq_policy policy_of(const char *const *names, size_t n)
{
    secmq_policy p;

    memset(&p, 0, sizeof p);
    memset(users, 0, sizeof users);
    for (size_t i = 0; i < n; i++) {
        users[i].name = (char *)names[i];
    }
    p.users = users;
    p.nusers = n;
    return p;
}

static void test_parse(void)
{
    static const char *const bad[] = {
        "%u%u", "dev-*",   "%u-*-x",
        "%u/x", "%c-%u",   "%u-%",
        "*%u",  "%u+",     "%u#",
        "x",    "%u-\x01", "%u-0 %u-1 %u-2 %u-3 %u-4 %u-5 %u-6 %u-7 %u-8",
    };
    secmq_idpats ps;
    char err[256];

    CHECK_INT_EQ(secmq__idpats_parse(&ps, "%u %u-*", err, sizeof err), 0);
    CHECK_INT_EQ(ps.n, 2);
    CHECK_STR_EQ(ps.pat[0].prefix, "");
    CHECK_STR_EQ(ps.pat[0].suffix, "");
    CHECK_INT_EQ(ps.pat[0].open, 0);
    CHECK_STR_EQ(ps.pat[1].suffix, "-");
    CHECK_INT_EQ(ps.pat[1].open, 1);
    CHECK_INT_EQ(secmq__idpats_parse(&ps, "  dev-%u.cam*\t", err, sizeof err),
                 0);
    CHECK_INT_EQ(ps.n, 1);
    CHECK_STR_EQ(ps.pat[0].prefix, "dev-");
    CHECK_STR_EQ(ps.pat[0].suffix, ".cam");
    CHECK_INT_EQ(secmq__idpats_parse(&ps, "none", err, sizeof err), 0);
    CHECK_INT_EQ(ps.n, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECKF(secmq__idpats_parse(&ps, bad[i], err, sizeof err) == -1,
               "pattern '%s' was accepted", bad[i]);
        CHECKF(ps.n == 0 && err[0] != '\0', "pattern '%s': no reason", bad[i]);
    }
}

static void test_own_ids(void)
{
    static const char *const names[] = {"alice", "sam"};
    secmq_policy p = policy_of(names, 2);
    secmq_idpats ps;
    const char *owner = "x";

    CHECK_INT_EQ(secmq__idpats_parse(&ps, "%u %u-*", NULL, 0), 0);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam", &owner) == NULL);
    CHECK(owner == NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam-", NULL) == NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam-phone-2", NULL) == NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "alice", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "alice-phone", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "samx", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "xsam", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sa", NULL) != NULL);
    /* No patterns: anything goes (the option off). */
    CHECK_INT_EQ(secmq__idpats_parse(&ps, "none", NULL, 0), 0);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "alice-phone", NULL) == NULL);
    /* Prefix and suffix around the name. */
    CHECK_INT_EQ(secmq__idpats_parse(&ps, "dev-%u.cam", NULL, 0), 0);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "dev-sam.cam", NULL) == NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "dev-sam.cam2", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "dev-sam", NULL) != NULL);
}

static void test_longest_name_owns(void)
{
    static const char *const names[] = {"alice", "sam", "sam-cam"};
    secmq_policy p = policy_of(names, 3);
    secmq_idpats ps;
    const char *owner = NULL;

    CHECK_INT_EQ(secmq__idpats_parse(&ps, "%u %u-*", NULL, 0), 0);
    /* "sam-cam-1" is sam's by "%u-*" and sam-cam's too: sam-cam's. */
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam-cam-1", &owner) != NULL);
    CHECK_STR_EQ(owner, "sam-cam");
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam-cam", &owner) != NULL);
    CHECK_STR_EQ(owner, "sam-cam");
    CHECK(secmq__idpats_check(&ps, &p, "sam-cam", "sam-cam-1", NULL) == NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam-cam", "sam-cam", NULL) == NULL);
    /* Not a longer user: still sam's. */
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam-camera", NULL) == NULL);
    CHECK(secmq__idpats_check(&ps, &p, "sam", "sam-ca", NULL) == NULL);
}

static void test_tie_belongs_to_neither(void)
{
    /* "axb" is "a" + "xb" and "ax" + "b": equally long names. */
    static const char *const names[] = {"ax", "xb"};
    secmq_policy p = policy_of(names, 2);
    secmq_idpats ps;

    CHECK_INT_EQ(secmq__idpats_parse(&ps, "a%u %ub", NULL, 0), 0);
    CHECK(secmq__idpats_check(&ps, &p, "xb", "axb", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "ax", "axb", NULL) != NULL);
    CHECK(secmq__idpats_check(&ps, &p, "xb", "xbb", NULL) == NULL);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_own_ids);
    RUN(test_longest_name_owns);
    RUN(test_tie_belongs_to_neither);
    return check_exit();
}
