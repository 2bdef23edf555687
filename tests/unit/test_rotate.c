/*
 * test_rotate.c -- identity rotation (PROTOCOL.md §2.3) with real keyrings
 * in a temp dir: secmq_identity_rotate refused while the keyring is open,
 * the old seed gone from every file, peers taking the successor statement
 * (forged and conflicting ones refused, grants from the replaced key
 * refused), the owner's channels issued again from the new key, a
 * member's held grant still opening and not publishing until the owner
 * issues a new one, what was signed with the old key under the old
 * channel key while a grace lasts, and both interrupted states (a
 * half-built new keyring; an exchange made, the old tree not erased).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <secmq.h>

#include "testutil.h"

#define ERRLEN 512
#define MSG "rotated message"

static char notes[8192];
static char rot_notes[8192]; /* the notes of the last rotation */

static void note_cb(void *user, const char *line)
{
    (void)user;
    strncat(notes, line, sizeof notes - strlen(notes) - 2);
    strncat(notes, "\n", sizeof notes - strlen(notes) - 1);
}

static int rotate(const char *who, const char *out, uint64_t grace_ms,
                  char *err)
{
    int rc;

    notes[0] = 0;
    rc = secmq_identity_rotate(tu_at(who), tu_at(out), grace_ms, note_cb, NULL,
                               err, ERRLEN);
    memcpy(rot_notes, notes, sizeof rot_notes);
    return rc;
}

/* The path of the grant the last rotation wrote for member on filter, from
 * its notes ("PATH: grant for 'alice' (...), channel 'status' ..."), or
 * "" (the tests then fail to import it). */
static const char *rot_grant(const char *member, const char *filter)
{
    static char path[1024];
    char who[96], chan[96];
    const char *line = rot_notes;

    snprintf(who, sizeof who, ": grant for '%s' ", member);
    snprintf(chan, sizeof chan, "channel '%s' ", filter);
    path[0] = 0;
    while (line != NULL && *line != 0) {
        const char *end = strchr(line, '\n'), *w = strstr(line, who);
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        if (w != NULL && w < line + n && strstr(line, chan) != NULL &&
            strstr(line, chan) < line + n) {
            snprintf(path, sizeof path, "%.*s", (int)(w - line), line);
            /* relative to the tmpdir, as the other helpers take it */
            if (strncmp(path, tu_tmpdir(), strlen(tu_tmpdir())) == 0) {
                memmove(path, path + strlen(tu_tmpdir()) + 1,
                        strlen(path) - strlen(tu_tmpdir()));
            }
            return path;
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return path;
}

static int import2(const char *who, const char *f1, const char *f2, char *err)
{
    const char *files[2];
    size_t n = 0;

    files[n++] = tu_at(f1);
    if (f2 != NULL) {
        files[n++] = tu_at(f2);
    }
    notes[0] = 0;
    return secmq_keyring_import(tu_at(who), files, n, note_cb, NULL, err,
                                ERRLEN);
}

static int seal_as(const char *who, const char *topic, unsigned char *out,
                   size_t *len)
{
    secmq_keyring *kr = tu_keyring_open(who);
    int rc;

    if (kr == NULL) {
        return -1;
    }
    rc = secmq_keyring_seal(kr, topic, MSG, strlen(MSG), out, 512, len);
    if (rc != SECMQ_OK) {
        char msg[ERRLEN];
        secmq_keyring_errmsg(kr, msg, sizeof msg);
        fprintf(stderr, "seal as %s: %s\n", who, msg);
    }
    secmq_keyring_free(kr);
    return rc;
}

/* The reason who's keyring gives env on topic; *sender gets the sender's
 * name when it opens to MSG. */
static int open_as(const char *who, const char *topic, const unsigned char *env,
                   size_t len, char *sender)
{
    secmq_keyring *kr = tu_keyring_open(who);
    unsigned char pt[512];
    const char *s = NULL;
    size_t ptlen = 0;
    int reason = -1;

    if (kr == NULL) {
        return -2;
    }
    sender[0] = 0;
    if (secmq_keyring_open_msg(kr, topic, env, len, pt, sizeof pt, &ptlen, &s,
                               &reason) == SECMQ_OK) {
        if (ptlen != strlen(MSG) || memcmp(pt, MSG, ptlen) != 0) {
            reason = -1;
        }
        snprintf(sender, 65, "%s", s != NULL ? s : "");
    }
    secmq_keyring_free(kr);
    return reason;
}

static int copy_tree(const char *from, const char *to)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", tu_at(from), tu_at(to));
    return system(cmd) == 0 ? 0 : -1;
}

/* 1 if any file under dir (recursively) holds needle. */
static int tree_holds(const char *dir, const void *needle, size_t nlen)
{
    char sub[1024];
    struct dirent *de;
    struct stat st;
    int found = 0;
    DIR *d = opendir(dir);

    if (d == NULL) {
        return 0;
    }
    while (!found && (de = readdir(d)) != NULL) {
        unsigned char *data = NULL;
        size_t len = 0;
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        if (lstat(sub, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            found = tree_holds(sub, needle, nlen);
        } else if (tu_read_file(sub, &data, &len) == 0) {
            for (size_t i = 0; len >= nlen && i + nlen <= len && !found; i++) {
                found = memcmp(data + i, needle, nlen) == 0;
            }
            free(data);
        }
    }
    closedir(d);
    return found;
}

/* The seed in the secret identity file of the keyring at dir. */
static int read_seed(const char *who, unsigned char seed[32], char b64[64])
{
    char path[1024];
    unsigned char *data = NULL;
    size_t len = 0;
    const char *p;
    size_t got = 0;
    int rc = -1;

    snprintf(path, sizeof path, "%s/identity", tu_at(who));
    if (tu_read_file(path, &data, &len) != 0) {
        return -1;
    }
    data[len] = 0;
    p = strstr((const char *)data, "ed25519-seed: ");
    if (p != NULL) {
        p += 14;
        snprintf(b64, 64, "%.44s", p);
        rc = sodium_base642bin(seed, 32, b64, 44, NULL, &got, NULL,
                               sodium_base64_VARIANT_ORIGINAL) == 0 &&
                     got == 32
                 ? 0
                 : -1;
    }
    sodium_memzero(data, len);
    free(data);
    return rc;
}

static int exists(const char *rel)
{
    struct stat st;

    return lstat(tu_at(rel), &st) == 0;
}

static void test_rotation(void)
{
    char err[ERRLEN], sender[65], b64[64];
    unsigned char seed[32], sk[64], pk[32];
    unsigned char e_old[512], e_old2[512], e_new[512], e_thief[512];
    size_t l_old = 0, l_old2 = 0, l_new = 0, l_thief = 0;
    secmq_keyring *open_kr;

    CHECK(tu_status_world() == 0);
    CHECK_RC(seal_as("sam", "status", e_old, &l_old), SECMQ_OK);
    CHECK_RC(seal_as("sam", "status", e_old2, &l_old2), SECMQ_OK);
    CHECK(copy_tree("sam", "thief") == 0);
    CHECK(read_seed("sam", seed, b64) == 0);
    crypto_sign_seed_keypair(pk, sk, seed);

    /* A keyring in use is not rotated, and nothing changes. */
    open_kr = tu_keyring_open("sam");
    CHECK(open_kr != NULL);
    CHECK_RC(rotate("sam", "out", 0, err), SECMQ_E_KEYRING);
    CHECK(strstr(err, "in use") != NULL);
    secmq_keyring_free(open_kr);
    CHECK(!exists("out/sam.successor"));
    CHECK(!exists("sam.rotating"));

    /* Grace 0: the old channel key stops at once for those who took the
     * new grant. */
    CHECK_RC(rotate("sam", "out", 0, err), SECMQ_OK);
    CHECK(strstr(notes, "erased") != NULL);
    CHECK(exists("out/sam.successor") && exists("out/sam.pub"));
    CHECK(exists(rot_grant("alice", "status")) &&
          exists(rot_grant("sam", "status")));
    /* In out/<the channel's new id>/. */
    CHECK(strncmp(rot_grant("alice", "status"), "out/", 4) == 0);
    CHECK(strlen(rot_grant("alice", "status")) == 4 + 16 + 1 + 11);
    CHECK(!exists("sam.rotating"));
    CHECK(!exists("sam/state/rotated"));
    /* SECURITY: the old secret is on no file of the keyring. */
    CHECK(!tree_holds(tu_at("sam"), seed, 32));
    CHECK(!tree_holds(tu_at("sam"), b64, 44));
    CHECK(!tree_holds(tu_at("sam"), sk, 64));

    /* Alice before taking the successor: the old channel as it was. */
    CHECK_INT_EQ(open_as("alice", "status", e_old, l_old, sender),
                 SECMQ_OPEN_OK);
    CHECK(strcmp(sender, "sam") == 0);
    CHECK_RC(seal_as("sam", "status", e_new, &l_new), SECMQ_OK);
    CHECK_INT_EQ(open_as("alice", "status", e_new, l_new, sender),
                 SECMQ_OPEN_UNKNOWN_KEY);

    /* A forged statement: one signed byte changed. */
    {
        unsigned char *t = NULL;
        size_t tl = 0;
        char path[1024];
        snprintf(path, sizeof path, "%s", tu_at("out/sam.successor"));
        CHECK(tu_read_file(path, &t, &tl) == 0);
        t[tl] = 0;
        {
            char *c = strstr((char *)t, "created-ms: ");
            CHECK(c != NULL);
            c[12] = c[12] == '1' ? '2' : '1';
        }
        CHECK(tu_write_file(tu_at("forged.successor"), t, tl) == 0);
        free(t);
    }
    CHECK_RC(import2("alice", "forged.successor", NULL, err), SECMQ_E_KEYRING);
    CHECK(strstr(err, "signature does not verify") != NULL);
    /* The real one, with the new grant, in one call. */
    CHECK_RC(import2("alice", "out/sam.successor", rot_grant("alice", "status"),
                     err),
             SECMQ_OK);
    CHECK(strstr(notes, "replaced its key") != NULL);
    CHECK_INT_EQ(open_as("alice", "status", e_new, l_new, sender),
                 SECMQ_OPEN_OK);
    CHECK(strcmp(sender, "sam") == 0);
    CHECK_INT_EQ(open_as("alice", "status", e_old2, l_old2, sender),
                 SECMQ_OPEN_KEY_EXPIRED);
    /* Again: a no-op. */
    CHECK_RC(import2("alice", "out/sam.successor", NULL, err), SECMQ_OK);
    CHECK(strstr(notes, "already known") != NULL);
    /* The old public file is not trusted again. */
    CHECK_RC(import2("alice", "sam.pub", NULL, err), SECMQ_E_KEYRING);
    CHECK(strstr(err, "old key of 'sam'") != NULL);

    /* The thief's copy of the old keyring: what it seals is refused, a
     * grant it signs is refused, and its own successor conflicts. */
    CHECK_RC(seal_as("thief", "status", e_thief, &l_thief), SECMQ_OK);
    CHECK_INT_EQ(open_as("alice", "status", e_thief, l_thief, sender),
                 SECMQ_OPEN_KEY_EXPIRED);
    CHECK_RC(secmq_channel_rotate(tu_at("thief"), "status", 0, tu_at("tg"),
                                  NULL, NULL, err, ERRLEN),
             SECMQ_OK);
    CHECK_RC(import2("alice", "tg/alice.grant", NULL, err), SECMQ_E_KEYRING);
    CHECK(strstr(err, "replaced") != NULL);
    CHECK_RC(rotate("thief", "tout", 0, err), SECMQ_OK);
    CHECK_RC(import2("alice", "tout/sam.successor", NULL, err),
             SECMQ_E_KEYRING);
    CHECK(strstr(err, "conflicting successors") != NULL);
}

/* A member rotates: its grant still opens, it does not publish on it
 * until the owner issues one to the new key. */
static void test_member(void)
{
    char err[ERRLEN], sender[65], text[512];
    const char *pubs[2];
    secmq_channel_spec spec;
    unsigned char env[512];
    size_t len = 0;
    secmq_keyring *kr;

    /* alice publishes on "chat", owned by sam (from test_rotation). */
    CHECK(secmq_identity_export(tu_at("alice"), text, sizeof text, NULL, NULL,
                                0) == SECMQ_OK);
    CHECK(tu_write_file(tu_at("alice.pub"), text, strlen(text)) == 0);
    CHECK(secmq_identity_export(tu_at("sam"), text, sizeof text, NULL, NULL,
                                0) == SECMQ_OK);
    CHECK(tu_write_file(tu_at("sam.pub"), text, strlen(text)) == 0);
    pubs[0] = tu_at("alice.pub");
    pubs[1] = tu_at("sam.pub");
    memset(&spec, 0, sizeof spec);
    spec.filter = "chat";
    spec.publishers = pubs;
    spec.n_publishers = 2;
    CHECK_RC(secmq_channel_create(tu_at("sam"), &spec, tu_at("c1"), NULL, NULL,
                                  err, ERRLEN),
             SECMQ_OK);
    CHECK_RC(import2("alice", "c1/alice.grant", NULL, err), SECMQ_OK);
    CHECK_RC(seal_as("alice", "chat", env, &len), SECMQ_OK);
    CHECK_INT_EQ(open_as("sam", "chat", env, len, sender), SECMQ_OPEN_OK);

    CHECK_RC(rotate("alice", "aout", 60000, err), SECMQ_OK);
    /* sam's message still opens for alice (her grant sealed again). */
    CHECK_RC(seal_as("sam", "chat", env, &len), SECMQ_OK);
    CHECK_INT_EQ(open_as("alice", "chat", env, len, sender), SECMQ_OPEN_OK);
    /* alice does not publish with a grant naming her old key. */
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    CHECK_RC(
        secmq_keyring_seal(kr, "chat", MSG, strlen(MSG), env, sizeof env, &len),
        SECMQ_E_NO_KEY);
    secmq_keyring_errmsg(kr, err, sizeof err);
    CHECK(strstr(err, "previous key") != NULL);
    secmq_keyring_free(kr);
    /* A grant made for her old key does not import. */
    CHECK_RC(import2("alice", "c1/alice.grant", NULL, err), SECMQ_E_KEYRING);
    CHECK(strstr(err, "previous key") != NULL);
    /* The owner takes the successor, rotates; alice publishes again. */
    CHECK_RC(import2("sam", "aout/alice.successor", NULL, err), SECMQ_OK);
    CHECK(strstr(notes, "channel 'chat' grants to the old key") != NULL);
    CHECK_RC(secmq_channel_rotate(tu_at("sam"), "chat", 0, tu_at("c2"), NULL,
                                  NULL, err, ERRLEN),
             SECMQ_OK);
    CHECK_RC(import2("alice", "c2/alice.grant", NULL, err), SECMQ_OK);
    CHECK_RC(seal_as("alice", "chat", env, &len), SECMQ_OK);
    CHECK_INT_EQ(open_as("sam", "chat", env, len, sender), SECMQ_OPEN_OK);
    CHECK(strcmp(sender, "alice") == 0);

    /* The owner rotates with a grace: what it signed with its old key
     * under the old channel key still opens, as from sam, until then. */
    CHECK_RC(seal_as("sam", "chat", env, &len), SECMQ_OK);
    CHECK_RC(rotate("sam", "sout0", 60000, err), SECMQ_OK);
    CHECK_RC(import2("alice", "sout0/sam.successor", rot_grant("alice", "chat"),
                     err),
             SECMQ_OK);
    CHECK_INT_EQ(open_as("alice", "chat", env, len, sender), SECMQ_OPEN_OK);
    CHECK(strcmp(sender, "sam") == 0);
}

/* Interrupted rotations: refused at open, finished or started over. */
static void test_interrupted(void)
{
    char err[ERRLEN], before[512], after[512];
    unsigned char *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;
    secmq_keyring *kr = NULL;

    /* A half-built new keyring beside the old one. */
    CHECK(mkdir(tu_at("alice.rotating"), 0700) == 0);
    CHECK(tu_write_file(tu_at("alice.rotating/identity"), "x", 1) == 0);
    CHECK_RC(secmq_keyring_open(&kr, tu_at("alice"), err, ERRLEN),
             SECMQ_E_KEYRING);
    CHECK(strstr(err, "identity rotate") != NULL);
    CHECK_RC(rotate("alice", "aout2", 0, err), SECMQ_OK);
    CHECK(strstr(notes, "rotating again") != NULL);
    CHECK(!exists("alice.rotating"));
    kr = tu_keyring_open("alice");
    CHECK(kr != NULL);
    secmq_keyring_free(kr);

    /* The exchange made, the old tree not yet erased: the state a crash
     * leaves between the two, made by hand from a real rotation. */
    CHECK(copy_tree("sam", "sam-old") == 0);
    CHECK_RC(rotate("sam", "sout", 0, err), SECMQ_OK);
    CHECK(secmq_identity_export(tu_at("sam"), before, sizeof before, NULL, NULL,
                                0) == SECMQ_OK);
    CHECK(rename(tu_at("sam-old"), tu_at("sam.rotating")) == 0);
    CHECK(tu_read_file(tu_at("sout/sam.successor"), &s1, &l1) == 0);
    CHECK(tu_write_file(tu_at("sam/state/rotated"), s1, l1) == 0);
    CHECK_RC(secmq_keyring_open(&kr, tu_at("sam"), err, ERRLEN),
             SECMQ_E_KEYRING);
    CHECK_RC(rotate("sam", "sout2", 0, err), SECMQ_OK);
    CHECK(strstr(notes, "finishing") != NULL);
    CHECK(!exists("sam.rotating") && !exists("sam/state/rotated"));
    CHECK(secmq_identity_export(tu_at("sam"), after, sizeof after, NULL, NULL,
                                0) == SECMQ_OK);
    CHECK(strcmp(before, after) == 0); /* finished, not rotated again */
    CHECK(tu_read_file(tu_at("sout2/sam.successor"), &s2, &l2) == 0);
    CHECK_MEM_EQ(s1, l1, s2, l2);
    free(s1);
    free(s2);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    if (tu_tmpdir_make("rotate") != 0) {
        return 1;
    }
    RUN(test_rotation);
    RUN(test_member);
    RUN(test_interrupted);
    tu_tmpdir_done("rotated keyrings");
    return check_exit();
}
