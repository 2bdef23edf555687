/*
 * test_channel_receipts.c -- channels created with receipts, through the
 * public API on real keyring directories (PROTOCOL.md §5 SECMQGB2, §5.3,
 * §9.1): the defaults (subscribers, every receipt, secmq/receipts/<cid>),
 * named receipters and a count, what the owner and a member list, the
 * owned state across a reopen, a revoked member dropped from the
 * receipters, a channel without receipts unchanged (SECMQGB1), the reader
 * from before receipts refusing the grant, and every refused creation
 * leaving nothing behind; receipts sealed and opened with keyrings
 * (secmq_keyring_seal_receipt / _open_receipt): from each receipter, none
 * from a non-receipter, none on another topic, and after a revocation with
 * grace the revoked member's receipts refused while a member still on the
 * previous key is accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <secmq.h>

#include "check.h"
#include "testutil.h"

#define ERRLEN 512

static const char *pubfile(const char *name)
{
    static char buf[4][300];
    static int k;
    char rel[64];

    k = (k + 1) % 4;
    snprintf(rel, sizeof rel, "%s.pub", name);
    snprintf(buf[k], sizeof buf[k], "%s", tu_at(rel));
    return buf[k];
}

/* owner creates filter: publisher sam, subscribers alice and bob. */
static int create(const char *filter, const secmq_channel_receipts *r,
                  const char *out, char *err)
{
    const char *pv[1], *sv[2];
    secmq_channel_spec spec;
    char o[300];

    pv[0] = pubfile("sam");
    sv[0] = pubfile("alice");
    sv[1] = pubfile("bob");
    memset(&spec, 0, sizeof spec);
    spec.filter = filter;
    spec.publishers = pv;
    spec.n_publishers = 1;
    spec.subscribers = sv;
    spec.n_subscribers = 2;
    snprintf(o, sizeof o, "%s", tu_at(out));
    return secmq_channel_create_v2(tu_at("owner"), &spec, r, o, NULL, NULL, err,
                                   ERRLEN);
}

/* The receipt fields of the channel with filter in keyring name, as a
 * line: "topic need name name..." or "off"; "(missing)" if not there. */
static const char *receipts_line(const char *name, const char *filter)
{
    static char line[1024];
    secmq_channel_receipt_info ri;
    secmq_channel_info ci;
    secmq_keyring *kr = tu_keyring_open(name);
    size_t n;

    snprintf(line, sizeof line, "(missing)");
    if (kr == NULL) {
        return line;
    }
    for (size_t i = 0; i < secmq_keyring_channel_count(kr); i++) {
        if (secmq_keyring_channel(kr, i, &ci) != SECMQ_OK ||
            strcmp(ci.filter, filter) != 0 ||
            secmq_keyring_channel_receipts(kr, i, &ri) != SECMQ_OK) {
            continue;
        }
        if (!ri.on) {
            snprintf(line, sizeof line, "off");
            break;
        }
        n = (size_t)snprintf(line, sizeof line, "%s %u", ri.topic, ri.need);
        for (size_t k = 0; k < ri.n_receipters && n < sizeof line; k++) {
            n += (size_t)snprintf(line + n, sizeof line - n, " %s",
                                  ri.receipters[k]);
        }
    }
    secmq_keyring_free(kr);
    return line;
}

/* The opened body of out/<member>.grant for keyring member; its magic
 * into magic (9 bytes), and what the old and new parsers say. */
static void grant_body(const char *out, const char *member, char magic[9],
                       int *old_st, int *new_st)
{
    char rel[128], path[300];
    unsigned char *raw = NULL, body[4096], seed_sk[64], pk[32];
    unsigned char *id_text = NULL;
    size_t len = 0, blen = 0, tlen = 0;
    secmq_grant_fields g;
    secmq_grant_receipts r;
    char *seed_line;

    memset(magic, 0, 9);
    *old_st = *new_st = -1;
    snprintf(rel, sizeof rel, "%s/%s.grant", out, member);
    snprintf(path, sizeof path, "%s", tu_at(rel));
    snprintf(rel, sizeof rel, "%s/identity", member);
    if (tu_read_file(path, &raw, &len) != 0 ||
        tu_read_file(tu_at(rel), &id_text, &tlen) != 0) {
        free(raw);
        free(id_text);
        return;
    }
    /* The secret identity file (§2.1): the seed on its third line. */
    seed_line = strstr((char *)id_text, "ed25519-seed: ");
    if (seed_line != NULL) {
        unsigned char seed[32];
        size_t sl = 0;
        char *nl = strchr(seed_line, '\n');
        if (nl != NULL) {
            *nl = 0;
        }
        if (sodium_base642bin(seed, sizeof seed, seed_line + 14,
                              strlen(seed_line + 14), NULL, &sl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            sl == 32) {
            crypto_sign_seed_keypair(pk, seed_sk, seed);
            if (secmq_grant_open(body, sizeof body, &blen, raw, len, seed_sk) ==
                SECMQ_GRANT_OK) {
                memcpy(magic, body, 8);
                *old_st = secmq_grant_body_parse(body, blen, &g);
                *new_st = secmq_grant_body_parse_v2(body, blen, &g, &r);
            }
        }
        sodium_memzero(seed, sizeof seed);
    }
    sodium_memzero(seed_sk, sizeof seed_sk);
    sodium_memzero(id_text, tlen);
    free(id_text);
    free(raw);
}

static const char *default_topic(const char *filter)
{
    static char t[64];
    unsigned char pk[32], h[32];
    char name[80], hex[17];
    unsigned char *in;
    size_t fl = strlen(filter);

    if (secmq_identity_read_public(pubfile("owner"), name, sizeof name, pk,
                                   NULL, 0) != SECMQ_OK) {
        return "(no owner)";
    }
    in = malloc(32 + fl);
    if (in == NULL) {
        return "(no memory)";
    }
    memcpy(in, pk, 32);
    memcpy(in + 32, filter, fl);
    crypto_generichash(h, 32, in, 32 + fl, NULL, 0);
    free(in);
    sodium_bin2hex(hex, sizeof hex, h, 8);
    snprintf(t, sizeof t, "secmq/receipts/%s", hex);
    return t;
}

static int import(const char *member, const char *out)
{
    char err[ERRLEN], rel[128], g[300], o[300];
    const char *files[2];
    int rc;

    snprintf(o, sizeof o, "%s", pubfile("owner"));
    snprintf(rel, sizeof rel, "%s/%s.grant", out, member);
    snprintf(g, sizeof g, "%s", tu_at(rel));
    files[0] = o;
    files[1] = g;
    rc = secmq_keyring_import(tu_at(member), files, 2, NULL, NULL, err,
                              sizeof err);
    if (rc != SECMQ_OK) {
        fprintf(stderr, "import %s: %s\n", member, err);
    }
    return rc;
}

static void test_defaults(void)
{
    char err[ERRLEN], want[200], magic[9];
    secmq_channel_receipts r;
    int old_st, new_st;

    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(create("home/+/status", &r, "out1", err), SECMQ_OK);
    snprintf(want, sizeof want, "%s 0 alice bob",
             default_topic("home/+/status"));
    CHECK_STR_EQ(receipts_line("owner", "home/+/status"), want);
    /* The member sees the same fields (bob only by id: not its peer). */
    CHECK_INT_EQ(import("alice", "out1"), SECMQ_OK);
    CHECK(strncmp(receipts_line("alice", "home/+/status"), want,
                  strlen(want) - 3) == 0);
    CHECK_INT_EQ(import("sam", "out1"), SECMQ_OK);
    grant_body("out1", "alice", magic, &old_st, &new_st);
    CHECK_STR_EQ(magic, "SECMQGB2");
    /* A reader from before receipts refuses the grant (§6). */
    CHECK_INT_EQ(old_st, SECMQ_GRANT_MALFORMED);
    CHECK_INT_EQ(new_st, SECMQ_GRANT_OK);
    /* Revoking bob drops him from the receipters, also after a reopen of
     * the owner's state, and alice's new grant says so. */
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("owner"), "home/+/status", "bob", 0,
                                      tu_at("out2"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_OK);
    snprintf(want, sizeof want, "%s 0 alice", default_topic("home/+/status"));
    CHECK_STR_EQ(receipts_line("owner", "home/+/status"), want);
    CHECK_INT_EQ(import("alice", "out2"), SECMQ_OK);
    CHECK_STR_EQ(receipts_line("alice", "home/+/status"), want);
}

static void test_named_and_count(void)
{
    char err[ERRLEN], magic[9];
    const char *from[2] = {"bob", "sam"};
    secmq_channel_receipts r;
    int old_st, new_st;

    memset(&r, 0, sizeof r);
    r.topic = "acks/x";
    r.from = from;
    r.n_from = 2;
    r.count = 1;
    CHECK_INT_EQ(create("x", &r, "out3", err), SECMQ_OK);
    CHECK_STR_EQ(receipts_line("owner", "x"), "acks/x 1 bob sam");
    /* Rotation keeps them. */
    CHECK_INT_EQ(secmq_channel_rotate(tu_at("owner"), "x", 0, tu_at("out4"),
                                      NULL, NULL, err, sizeof err),
                 SECMQ_OK);
    CHECK_STR_EQ(receipts_line("owner", "x"), "acks/x 1 bob sam");
    /* Revoking a named receipter lowers nothing here (1 <= 1 left). */
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("owner"), "x", "bob", 0,
                                      tu_at("out4"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_OK);
    CHECK_STR_EQ(receipts_line("owner", "x"), "acks/x 1 sam");
    /* Without sam no named receipter is left while alice stays. */
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("owner"), "x", "sam", 0,
                                      tu_at("out4"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_E_KEYRING);
    /* A channel without receipts: SECMQGB1, as before. */
    CHECK_INT_EQ(create("plain", NULL, "out5", err), SECMQ_OK);
    CHECK_STR_EQ(receipts_line("owner", "plain"), "off");
    grant_body("out5", "alice", magic, &old_st, &new_st);
    CHECK_STR_EQ(magic, "SECMQGB1");
    CHECK_INT_EQ(old_st, SECMQ_GRANT_OK);
    CHECK_INT_EQ(new_st, SECMQ_GRANT_OK);
}

static void test_refused(void)
{
    char err[ERRLEN];
    const char *carl[1] = {"carl"};
    const char *twice[2] = {"alice", "alice"};
    secmq_channel_receipts r;
    struct {
        const char *what, *topic;
        const char *const *from;
        size_t n_from;
        unsigned count;
    } cases[] = {
        {"no member carl", NULL, carl, 1, 0},
        {"alice twice", NULL, twice, 2, 0},
        {"count above the receipters", NULL, NULL, 0, 3},
        {"a wildcard topic", "acks/#", NULL, 0, 0},
        {"an empty topic", "", NULL, 0, 0},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(&r, 0, sizeof r);
        r.topic = cases[c].topic;
        r.from = cases[c].from;
        r.n_from = cases[c].n_from;
        r.count = cases[c].count;
        CHECKF(create("refused", &r, "out6", err) == SECMQ_E_INVAL,
               "%s: created", cases[c].what);
        CHECKF(strcmp(receipts_line("owner", "refused"), "(missing)") == 0,
               "%s: a channel was left behind", cases[c].what);
    }
}

/* The key id of the channel filter in keyring name (zeros if none). */
static void key_id_of(const char *name, const char *filter, unsigned char id[8])
{
    secmq_keyring *kr = tu_keyring_open(name);
    secmq_channel_info ci;

    memset(id, 0, 8);
    for (size_t i = 0; kr != NULL && i < secmq_keyring_channel_count(kr); i++) {
        if (secmq_keyring_channel(kr, i, &ci) == SECMQ_OK &&
            strcmp(ci.filter, filter) == 0) {
            memcpy(id, ci.key_id, 8);
        }
    }
    secmq_keyring_free(kr);
}

/* from seals a receipt for (key id, seq 100..104 of sam's), to opens it
 * on the receipt topic the seal named; the open's return, its reason and
 * the receipter's name into who (64 bytes). */
static int send_receipt(const char *from, const char *to,
                        const unsigned char *kid, int *reason, char *who)
{
    static secmq_receipt_range got[SECMQ_RECEIPT_MAX_RANGES];
    unsigned char env[SECMQ_RECEIPT_MAX_BYTES];
    secmq_keyring *a = tu_keyring_open(from), *b = tu_keyring_open(to);
    secmq_receipt_range r;
    const char *topic = NULL, *name = NULL;
    char pk_name[80];
    unsigned char pk[32];
    size_t len = 0, n = 0;
    int rc = -999;

    *reason = -1;
    who[0] = 0;
    memset(&r, 0, sizeof r);
    memcpy(r.key_id, kid, 8);
    if (secmq_identity_read_public(pubfile("sam"), pk_name, sizeof pk_name, pk,
                                   NULL, 0) == SECMQ_OK) {
        secmq_identity_id(r.sender_id, pk);
    }
    r.first = 100;
    r.count = 5;
    if (a != NULL && b != NULL) {
        rc =
            secmq_keyring_seal_receipt(a, &r, 1, env, sizeof env, &len, &topic);
        if (rc == SECMQ_OK) {
            rc = secmq_keyring_open_receipt(b, topic, env, len, got,
                                            SECMQ_RECEIPT_MAX_RANGES, &n, &name,
                                            reason);
        }
        if (rc == SECMQ_OK &&
            (n != 1 || got[0].first != 100 || got[0].count != 5 ||
             memcmp(got[0].sender_id, r.sender_id, 8))) {
            rc = -998;
        }
        if (rc == SECMQ_OK) {
            snprintf(who, 64, "%s", name != NULL ? name : "(null)");
        }
        /* The same receipt on another topic is no receipt of b's. */
        if (rc == SECMQ_OK &&
            secmq_keyring_open_receipt(b, "other/topic", env, len, got,
                                       SECMQ_RECEIPT_MAX_RANGES, &n, &name,
                                       reason) != SECMQ_E_NO_KEY) {
            rc = -997;
        }
    }
    secmq_keyring_free(a);
    secmq_keyring_free(b);
    return rc;
}

/* The 16 hex digits of name's identity id: how a keyring that does not
 * know name as a peer names it. */
static const char *id_hex(const char *name)
{
    static char hex[17];
    unsigned char pk[32], id[8];
    char n[80];

    hex[0] = 0;
    if (secmq_identity_read_public(pubfile(name), n, sizeof n, pk, NULL, 0) ==
        SECMQ_OK) {
        secmq_identity_id(id, pk);
        sodium_bin2hex(hex, sizeof hex, id, 8);
    }
    return hex;
}

static void test_keyring_receipts(void)
{
    char err[ERRLEN], who[64];
    secmq_channel_receipts r;
    unsigned char kid[8], kid2[8];
    int reason;

    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(create("rc/#", &r, "out7", err), SECMQ_OK);
    CHECK_INT_EQ(import("sam", "out7"), SECMQ_OK);
    CHECK_INT_EQ(import("alice", "out7"), SECMQ_OK);
    CHECK_INT_EQ(import("bob", "out7"), SECMQ_OK);
    key_id_of("sam", "rc/#", kid);
    CHECK_INT_EQ(send_receipt("alice", "sam", kid, &reason, who), SECMQ_OK);
    CHECK_STR_EQ(who, id_hex("alice"));
    CHECK_INT_EQ(send_receipt("bob", "sam", kid, &reason, who), SECMQ_OK);
    CHECK_STR_EQ(who, id_hex("bob"));
    /* sam publishes: no receipter of the default list. */
    CHECK_INT_EQ(send_receipt("sam", "alice", kid, &reason, who),
                 SECMQ_E_NO_KEY);
    /* A channel without receipts sends none. */
    key_id_of("alice", "plain", kid2);
    CHECK_INT_EQ(send_receipt("alice", "sam", kid2, &reason, who),
                 SECMQ_E_NO_KEY);
    /* bob revoked with an hour of grace; sam takes the new key, alice and
     * bob still hold the old one. */
    CHECK_INT_EQ(secmq_channel_revoke(tu_at("owner"), "rc/#", "bob", 3600000,
                                      tu_at("out8"), NULL, NULL, err,
                                      sizeof err),
                 SECMQ_OK);
    CHECK_INT_EQ(import("sam", "out8"), SECMQ_OK);
    CHECK_INT_EQ(send_receipt("alice", "sam", kid, &reason, who), SECMQ_OK);
    CHECK_INT_EQ(send_receipt("bob", "sam", kid, &reason, who), SECMQ_E_OPEN);
    CHECK_INT_EQ(reason, SECMQ_OPEN_UNAUTHORISED);
}

int main(void)
{
    if (sodium_init() < 0 || tu_tmpdir_make("chanrcpt") != 0) {
        return 1;
    }
    if (tu_identity_make("owner") != 0 || tu_identity_make("sam") != 0 ||
        tu_identity_make("alice") != 0 || tu_identity_make("bob") != 0) {
        return 1;
    }
    RUN(test_defaults);
    RUN(test_named_and_count);
    RUN(test_refused);
    RUN(test_keyring_receipts);
    tu_tmpdir_done("keyrings");
    return check_exit();
}
