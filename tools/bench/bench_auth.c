/*
 * bench_auth.c -- the broker suite (--suite broker): mosquitto with the
 * secmq_auth.so plugin against mosquitto with its own password_file and
 * acl_file, both holding the same users and the same 1,000 rules.
 *
 * Has the policy written for both brokers (bench_auth_files.c: a
 * mosquitto password file and acl file, and the plugin's database made
 * from them with secmq-admin), starts the two brokers side by side
 * (max_queued_messages 1000000, not 0: see start_brokers), and measures:
 * a control (a publish no rule allows must not arrive), throughput
 * (bench_run.c's rows, interleaved), connects per second (bench_connect.c)
 * and the in-process ACL check cost (bench_aclcost.c). Output is in
 * bench_auth_report.c. Not a test of the plugin's rules: it checks only
 * that the rows' traffic is allowed and that a denied publish is dropped.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTROL_COUNT 20
#define MAX_QUEUED 1000000L
#define WARMUP_COUNT 500

const char *bench_auth_broker_name(bench_auth_broker b)
{
    return b == BENCH_AUTH_PLUGIN ? "plugin" : "acl-file";
}

/* --- the brokers -------------------------------------------------------- */

/* The plugin's login guard (authguard.c) off: the connect rows measure the
 * password check itself, every attempt from 127.0.0.1, which the guard
 * would otherwise answer from its cache or refuse unchecked after a few
 * failures. The login flood row has a broker of its own with the guard as
 * deployed (start_plugin, guard 1). */
#define GUARD_OFF                                                              \
    "plugin_opt_login_cache_size 0\n"                                          \
    "plugin_opt_login_source_failures 1000000\n"                               \
    "plugin_opt_login_user_failures 0\n"                                       \
    "plugin_opt_login_pause_ms 0\n"

/* A plugin broker in af->root/NAME with the PKI pki; guard 0: GUARD_OFF. */
static int start_plugin(const bench_auth_opts *o, const bench_auth_files *af,
                        const char *name, const char *pki, int guard,
                        bench_broker *b, char *err, size_t errlen)
{
    char dir[BENCH_PATH_BYTES];
    char extra[2 * BENCH_PATH_BYTES + 256];
    bench_broker_conf conf;
    int n;

    if (bench_path_join(dir, af->root, name, err, errlen) != 0) {
        return -1;
    }
    if (mkdir(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    n = snprintf(extra, sizeof(extra), "plugin %s\nplugin_opt_%s %s\n%s",
                 o->plugin, o->db_option, af->db, guard ? "" : GUARD_OFF);
    if (n < 0 || (size_t)n >= sizeof(extra)) {
        snprintf(err, errlen, "path too long: %s", o->plugin);
        return -1;
    }
    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.pki = pki;
    conf.anonymous = 0;
    conf.max_queued = MAX_QUEUED;
    conf.extra = extra;
    return bench_broker_start_conf(b, o->mosquitto, NULL, &conf, o->p.keep, err,
                                   errlen);
}

static int start_brokers(const bench_auth_opts *o, const bench_auth_files *af,
                         bench_broker *b, char *err, size_t errlen)
{
    char dir[BENCH_PATH_BYTES];
    char pki[BENCH_PATH_BYTES];
    char extra[3 * BENCH_PATH_BYTES + 128];
    bench_broker_conf conf;
    int n;

    /* mosquitto's own authentication: the baseline. */
    if (bench_path_join(dir, af->root, "acl-file", err, errlen) != 0) {
        return -1;
    }
    if (mkdir(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    n = snprintf(extra, sizeof(extra), "password_file %s\nacl_file %s\n",
                 af->passwd, af->acl);
    if (n < 0 || (size_t)n >= sizeof(extra)) {
        snprintf(err, errlen, "path too long: %s", af->root);
        return -1;
    }
    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.anonymous = 0;
    /* Not 0 (no limit) as the transport suite has it: mosquitto 2.0.11
     * compares its queue with the limit when it refuses a PUBLISH, and
     * with 0 every refused PUBLISH disconnects the client ("Bad socket
     * read/write ... Unknown error"). A limit the rows never reach. */
    conf.max_queued = MAX_QUEUED;
    conf.extra = extra;
    if (bench_broker_start_conf(&b[BENCH_AUTH_FILES], o->mosquitto,
                                o->certs_bin, &conf, o->p.keep, err,
                                errlen) != 0) {
        return -1;
    }
    /* The plugin, with the same PKI; with --flood-only it is the flood
     * row's broker (guard on), else the guard is off for the cost rows. */
    if (bench_path_join(pki, dir, "pki", err, errlen) != 0) {
        return -1;
    }
    return start_plugin(o, af, "plugin", pki, o->flood_only,
                        &b[BENCH_AUTH_PLUGIN], err, errlen);
}

/* --- the measurement ---------------------------------------------------- */

static void endpoint_of(const bench_broker *b, bench_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->host = "127.0.0.1";
    ep->port = b->port;
    ep->tls_port = b->tls_port;
    ep->cafile = b->cafile;
}

/* The two-character tag of a (broker, transport) pair: "ft" = acl-file
 * over mosq-tcp, "ps" = plugin over mosq-tls (s for SSL). Equal lengths:
 * every topic and client id is as long as the others. */
static void pair_tag(bench_auth_broker b, bench_transport t, char tag[3])
{
    tag[0] = b == BENCH_AUTH_PLUGIN ? 'p' : 'f';
    tag[1] = t == BENCH_MOSQ_TLS ? 's' : 't';
    tag[2] = '\0';
}

/*
 * The control: bench-sub publishing on a row's topic, which no rule lets
 * it write, CONTROL_COUNT messages at QoS 1 to a subscriber that may read
 * it. Nothing may arrive; *arrived says what did.
 */
static int run_control(const bench_auth_opts *o, const bench_broker *b,
                       bench_auth_broker which, const bench_login *sub,
                       uint32_t *row_id, unsigned char *buf, long *sent,
                       long *arrived, char *err, size_t errlen)
{
    bench_endpoint ep;
    bench_pair *pr = NULL;
    bench_row row;
    char topic[64];
    char tag[3];

    pair_tag(which, BENCH_MOSQ_TCP, tag);
    tag[1] = 'x';
    snprintf(topic, sizeof(topic), BENCH_AUTH_TOPIC_FMT, tag);
    endpoint_of(b, &ep);
    if (bench_pair_open_login(&pr, BENCH_MOSQ_TCP, &ep, topic, tag, sub, sub,
                              err, errlen) != 0) {
        return -1;
    }
    if (bench_pair_row(&o->p, b, pr, (*row_id)++, o->p.sizes[0], 1,
                       CONTROL_COUNT, buf, &row, err, errlen) != 0) {
        bench_pair_free(pr);
        return -1;
    }
    bench_pair_free(pr);
    *sent = row.sent;
    *arrived = row.arrived;
    return 0;
}

static int run_throughput(const bench_auth_opts *o, const bench_broker *b,
                          const bench_login *pub, const bench_login *sub,
                          bench_auth_results *res, char *err, size_t errlen)
{
    bench_pair *pairs[BENCH_AUTH_BROKERS][2] = {{NULL, NULL}, {NULL, NULL}};
    bench_row reps[BENCH_AUTH_BROKERS][2][BENCH_MAX_REPEAT];
    bench_row warm;
    bench_endpoint ep;
    unsigned char *buf = NULL;
    size_t size = o->p.sizes[0];
    uint32_t row_id = 1;
    char topic[64];
    char tag[3];
    int w, t, q, r, k, rc = -1;

    buf = malloc(size);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (k = 0; (size_t)k < size; k++) {
        buf[k] = (unsigned char)((unsigned)k * 131u + 7u);
    }
    /* The control first: the ACL must really be in force. */
    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        if (run_control(o, &b[w], (bench_auth_broker)w, sub, &row_id, buf,
                        &res->control_sent[w], &res->control_arrived[w], err,
                        errlen) != 0) {
            goto done;
        }
    }
    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        endpoint_of(&b[w], &ep);
        for (t = 0; t < 2; t++) {
            if (!(o->p.transport_mask & (1 << t))) {
                continue;
            }
            pair_tag((bench_auth_broker)w, (bench_transport)t, tag);
            snprintf(topic, sizeof(topic), BENCH_AUTH_TOPIC_FMT, tag);
            if (bench_pair_open_login(&pairs[w][t], (bench_transport)t, &ep,
                                      topic, tag, pub, sub, err, errlen) != 0) {
                goto done;
            }
            /* Warm-up (not reported). */
            if (bench_pair_row(&o->p, &b[w], pairs[w][t], row_id++, size, 0,
                               WARMUP_COUNT, buf, &warm, err, errlen) != 0) {
                goto done;
            }
        }
    }
    /* Interleaved: per QoS and repetition every pair in turn, the order of
     * the brokers swapped at every repetition. */
    for (q = 0; q <= 1; q++) {
        if (!(o->p.qos_mask & (1 << q))) {
            continue;
        }
        for (r = 0; r < o->p.repeat; r++) {
            for (t = 0; t < 2; t++) {
                for (k = 0; k < BENCH_AUTH_BROKERS; k++) {
                    w = (r % 2 == 0) ? k : BENCH_AUTH_BROKERS - 1 - k;
                    if (pairs[w][t] == NULL) {
                        continue;
                    }
                    if (bench_pair_row(&o->p, &b[w], pairs[w][t], row_id++,
                                       size, q, o->counts[q], buf,
                                       &reps[w][t][r], err, errlen) != 0) {
                        goto done;
                    }
                }
            }
        }
        for (t = 0; t < 2; t++) {
            for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
                if (pairs[w][t] == NULL || res->nrows >= BENCH_AUTH_MAX_ROWS) {
                    continue;
                }
                res->rows[res->nrows].broker = (bench_auth_broker)w;
                bench_rows_median(reps[w][t], o->p.repeat,
                                  &res->rows[res->nrows].r);
                res->nrows++;
            }
        }
    }
    rc = 0;

done:
    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        for (t = 0; t < 2; t++) {
            bench_pair_free(pairs[w][t]);
        }
    }
    free(buf);
    return rc;
}

/* One connect row into res. */
static int connect_row(const bench_auth_opts *o, const bench_broker *b,
                       bench_auth_broker which, const char *what,
                       const bench_login *login, int expect_ok, int threads,
                       bench_auth_results *res, char *err, size_t errlen)
{
    bench_connect_row *c;
    long count =
        which == BENCH_AUTH_PLUGIN ? o->connects_plugin : o->connects_files;

    if (res->nconns >= BENCH_AUTH_MAX_CONNS) {
        return 0;
    }
    c = &res->conns[res->nconns];
    memset(c, 0, sizeof(*c));
    c->broker = which;
    c->what = what;
    c->expect_ok = expect_ok;
    if (bench_connect_run("127.0.0.1", b->port, login, threads, count,
                          o->connect_cap_s, b, c, err, errlen) != 0) {
        return -1;
    }
    res->nconns++;
    return 0;
}

static int run_connects(const bench_auth_opts *o, const bench_broker *b,
                        const bench_login *good, const bench_login *wrong,
                        const bench_login *unknown, bench_auth_results *res,
                        char *err, size_t errlen)
{
    int w;

    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        if (connect_row(o, &b[w], (bench_auth_broker)w, "good", good, 1, 1, res,
                        err, errlen) != 0 ||
            connect_row(o, &b[w], (bench_auth_broker)w, "wrong-password", wrong,
                        0, 1, res, err, errlen) != 0 ||
            connect_row(o, &b[w], (bench_auth_broker)w, "unknown-user", unknown,
                        0, 1, res, err, errlen) != 0) {
            return -1;
        }
        if (o->parallel > 1 &&
            connect_row(o, &b[w], (bench_auth_broker)w, "good", good, 1,
                        o->parallel, res, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

static int check_exec(const char *path, const char *what, const char *opt,
                      char *err, size_t errlen)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s not found at %s (build it, or give %s)", what,
                 path, opt);
        return -1;
    }
    return 0;
}

int bench_auth_run(const bench_auth_opts *o, bench_auth_results *res, char *err,
                   size_t errlen)
{
    bench_broker b[BENCH_AUTH_BROKERS];
    bench_broker flood_broker;
    bench_auth_policy pol;
    bench_auth_files af;
    bench_login pub, sub, good, wrong, unknown;
    char wrong_pw[2 * BENCH_AUTH_PW_BYTES + 8];
    int w, rc = -1;

    memset(b, 0, sizeof(b));
    memset(&flood_broker, 0, sizeof(flood_broker));
    memset(&af, 0, sizeof(af));
    memset(res, 0, sizeof(*res));
    bench_host_load(res->load_start);
    if (o->p.repeat < 1 || o->p.repeat > BENCH_MAX_REPEAT || o->p.nsizes < 1) {
        snprintf(err, errlen, "bad repeat or size");
        return -1;
    }
    if (check_exec(o->plugin, "secmq_auth.so", "--plugin", err, errlen) != 0 ||
        check_exec(o->admin, "secmq-admin", "--admin-bin", err, errlen) != 0 ||
        check_exec(o->passwd_bin, "mosquitto_passwd", "--mosquitto-passwd", err,
                   errlen) != 0) {
        return -1;
    }
    snprintf(res->plugin, sizeof(res->plugin), "%s", o->plugin);
    if (bench_auth_policy_make(&pol) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    res->nrules = pol.nrules;
    res->nusers = pol.nusers;
    res->npatterns = pol.npatterns;
    if (bench_mkdtemp(af.root, "secmq-bench-auth", err, errlen) != 0) {
        goto done;
    }
    if (bench_auth_files_make(o, &pol, &af, err, errlen) != 0) {
        goto done;
    }

    /* In process first, while nothing else runs. */
    if (!o->flood_only &&
        bench_aclcost_run(&pol, o->acl_iterations, o->acl_runs, o->acl_runs,
                          af.conn_hash,
                          bench_auth_password(&pol, &af, BENCH_AUTH_CONN),
                          &res->acl, err, errlen) != 0) {
        goto done;
    }
    res->pw_ops = o->pw_ops > 0 ? o->pw_ops : res->acl.pw_ops;
    res->pw_mem = o->pw_mem > 0 ? o->pw_mem : res->acl.pw_mem;

    if (start_brokers(o, &af, b, err, errlen) != 0) {
        goto done;
    }
    for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
        res->port[w] = b[w].port;
        res->tls_port[w] = b[w].tls_port;
    }
    snprintf(res->broker_version, sizeof(res->broker_version), "%s",
             b[0].version);

    pub.username = BENCH_AUTH_PUB;
    pub.password = bench_auth_password(&pol, &af, BENCH_AUTH_PUB);
    sub.username = BENCH_AUTH_SUB;
    sub.password = bench_auth_password(&pol, &af, BENCH_AUTH_SUB);
    good.username = BENCH_AUTH_CONN;
    good.password = bench_auth_password(&pol, &af, BENCH_AUTH_CONN);
    snprintf(wrong_pw, sizeof(wrong_pw), "x%s", good.password);
    wrong.username = BENCH_AUTH_CONN;
    wrong.password = wrong_pw;
    unknown.username = "bench-nobody";
    unknown.password = good.password;

    if (!o->flood_only &&
        (run_throughput(o, b, &pub, &sub, res, err, errlen) != 0 ||
         run_connects(o, b, &good, &wrong, &unknown, res, err, errlen) != 0)) {
        goto done;
    }
    if (o->flood_threads > 0) {
        bench_flood_logins lg = {&pub, &sub, &good, &wrong};
        char pki[BENCH_PATH_BYTES];
        const bench_broker *fb;

        /* The plugin as deployed: its guard on, in a broker of its own. */
        if (!o->flood_only && (bench_path_join(pki, b[BENCH_AUTH_FILES].dir,
                                               "pki", err, errlen) != 0 ||
                               start_plugin(o, &af, "plugin-guard", pki, 1,
                                            &flood_broker, err, errlen) != 0)) {
            goto done;
        }
        for (w = 0; w < BENCH_AUTH_BROKERS; w++) {
            fb = w == BENCH_AUTH_PLUGIN && !o->flood_only ? &flood_broker
                                                          : &b[w];
            if (bench_flood_run(o, fb, (bench_auth_broker)w, &lg,
                                &res->flood[res->nflood], err, errlen) != 0) {
                goto done;
            }
            res->nflood++;
        }
    }
    bench_host_load(res->load_end);
    rc = 0;

done:
    /* The plugin's brokers use the first one's PKI: stop them first. */
    bench_broker_stop(&flood_broker);
    bench_broker_stop(&b[BENCH_AUTH_PLUGIN]);
    bench_broker_stop(&b[BENCH_AUTH_FILES]);
    if (af.root[0] != '\0') {
        if (o->p.keep) {
            fprintf(stderr, "secmq-bench: broker suite files kept in %s\n",
                    af.root);
        } else {
            bench_rmtree(af.root);
        }
    }
    if (af.pw != NULL) {
        free(af.pw);
    }
    bench_auth_policy_free(&pol);
    return rc;
}
