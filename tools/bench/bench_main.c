/*
 * bench_main.c -- secmq-bench: set-up and tear-down around one run.
 *
 * Takes the parsed options (bench_options.c), starts (or finds) the broker,
 * runs the measurement and prints the report; on any failure it stops what
 * it started and exits non-zero with a one-line reason. The measurement is
 * in bench_run.c, the broker in bench_broker.c, the output in
 * bench_report.c; --suite broker hands over to bench_auth.c (output in
 * bench_auth_report.c).
 */
#include "bench.h"
#include "bench_authd.h"
#include "bench_options.h"
#include "bench_receipts.h"

#include <secmq.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MOSQUITTO_PASSWD "/usr/bin/mosquitto_passwd"
/* plugin_opt_database: mosquitto 2.0.11 refuses names under 3 characters
 * (plugin_opt_db). */
#define DEFAULT_DB_OPTION "database"

enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

static void on_signal(int sig)
{
    (void)sig;
    bench_interrupted = 1;
}

void bench_catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Connect rows' counts: the plugin checks argon2id passwords on the
 * broker's thread (~10 ms each), mosquitto's password_file PBKDF2 ones. */
#define CONNECTS_FILES 2000L
#define CONNECTS_PLUGIN 200L
#define CONNECT_CAP_S 5.0
#define FLOOD_THREADS 50
#define FLOOD_S 10.0
#define ACL_ITERATIONS 200000L
#define ACL_RUNS 5

/* --suite broker: fills the suite's options from o, runs it, prints the
 * report. meta is filled but for total_s (t0: start of the run). Returns
 * 0, or -1 with err. */
static int run_broker_suite(const bench_options *o, bench_meta *meta,
                            uint64_t t0, char *err, size_t errlen)
{
    char certs[BENCH_PATH_BYTES];
    char plugin[BENCH_PATH_BYTES];
    char admin[BENCH_PATH_BYTES];
    bench_auth_results *res;
    bench_auth_opts ao;
    int q;

    memset(&ao, 0, sizeof(ao));
    ao.p = o->p;
    /* The transport rows' counts of the size (--count and --quick are in
     * them already). */
    for (q = 0; q <= 1; q++) {
        ao.counts[q] = o->p.counts[0][q];
    }
    ao.connects_files = o->connects > 0 ? o->connects
                        : o->quick      ? CONNECTS_FILES / 10
                                        : CONNECTS_FILES;
    ao.connects_plugin = o->connects > 0 ? o->connects
                         : o->quick      ? CONNECTS_PLUGIN / 10
                                         : CONNECTS_PLUGIN;
    ao.parallel = o->connect_threads >= 0 ? (int)o->connect_threads : 4;
    ao.connect_cap_s = o->quick ? 1.0 : CONNECT_CAP_S;
    ao.acl_iterations = o->acl_iterations > 0 ? o->acl_iterations
                        : o->quick            ? ACL_ITERATIONS / 10
                                              : ACL_ITERATIONS;
    ao.acl_runs = o->quick ? 3 : ACL_RUNS;
    ao.flood_threads =
        o->flood_threads >= 0 ? (int)o->flood_threads : FLOOD_THREADS;
    ao.flood_s = o->flood_s > 0.0 ? o->flood_s : o->quick ? 2.0 : FLOOD_S;
    ao.flood_only = o->flood_only;
    ao.pw_ops = (unsigned long long)o->pw_ops;
    ao.pw_mem = (size_t)o->pw_mem;
    ao.mosquitto = o->mosquitto;
    ao.certs_bin = o->certs_bin;
    ao.plugin = o->plugin;
    ao.admin = o->admin;
    /* The test harness reads the same variable (tests/harness/broker.py). */
    ao.db_option = o->db_option;
    if (ao.db_option == NULL) {
        ao.db_option = getenv("SECMQ_PLUGIN_DB_OPTION");
    }
    if (ao.db_option == NULL || ao.db_option[0] == '\0' ||
        strpbrk(ao.db_option, " \t\r\n") != NULL) {
        ao.db_option = DEFAULT_DB_OPTION;
    }
    ao.passwd_bin =
        o->passwd_bin != NULL ? o->passwd_bin : DEFAULT_MOSQUITTO_PASSWD;
    if (ao.certs_bin == NULL) {
        if (bench_broker_default_certs_bin(certs, sizeof(certs), err, errlen) !=
            0) {
            return -1;
        }
        ao.certs_bin = certs;
    }
    if (ao.plugin == NULL) {
        if (bench_path_near_self(plugin, sizeof(plugin), "../lib/secmq_auth.so",
                                 err, errlen) != 0) {
            return -1;
        }
        ao.plugin = plugin;
    }
    if (ao.admin == NULL) {
        if (bench_path_near_self(admin, sizeof(admin), "secmq-admin", err,
                                 errlen) != 0) {
            return -1;
        }
        ao.admin = admin;
    }
    res = calloc(1, sizeof(*res));
    if (res == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (bench_auth_run(&ao, res, err, errlen) != 0) {
        free(res);
        return -1;
    }
    meta->broker_mode = "spawned";
    meta->host_addr = "127.0.0.1";
    meta->total_s = (double)(bench_now_ns() - t0) / 1e9;
    if (o->json) {
        bench_auth_report_json(meta, &ao, res);
    } else {
        bench_auth_report_table(meta, &ao, res);
    }
    free(res);
    return 0;
}

int main(int argc, char **argv)
{
    char err[BENCH_ERR_BYTES];
    char certs_bin[BENCH_PATH_BYTES];
    bench_broker broker;
    bench_results *res = NULL;
    bench_endpoint ep;
    bench_meta meta;
    bench_options o;
    uint64_t t0 = bench_now_ns();
    int spawned = 0;
    int mosq_init = 0;
    int rc;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        char deps[256];

        (void)secmq_dependency_versions(deps, sizeof deps);
        printf("secmq-bench %s (libsecmq %s, %s)\n", SECMQ_VERSION_STRING,
               secmq_version(), deps);
        return 0;
    }
    /* --suite outbox has options of its own (bench_outbox.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "outbox") == 0) {
        return bench_outbox_main(argc - 2, argv + 2);
    }
    /* --suite replay has options of its own (bench_replay.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "replay") == 0) {
        return bench_replay_main(argc - 2, argv + 2);
    }
    /* --suite file has options of its own (bench_file.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "file") == 0) {
        return bench_file_main(argc - 2, argv + 2);
    }
    /* --suite cli has options of its own (bench_cli.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "cli") == 0) {
        return bench_cli_main(argc - 2, argv + 2);
    }
    /* --suite python has options of its own (bench_python.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "python") == 0) {
        return bench_python_main(argc - 2, argv + 2);
    }
    /* --suite authd has options of its own (bench_authd.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "authd") == 0) {
        return bench_authd_main(argc - 2, argv + 2);
    }
    /* --suite receipts has options of its own (bench_receipts.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "receipts") == 0) {
        return bench_receipts_main(argc - 2, argv + 2);
    }
    /* --suite epochs has options of its own (bench_epochs.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "epochs") == 0) {
        return bench_epochs_main(argc - 2, argv + 2);
    }
    /* --suite rabbitmq has options of its own (bench_rabbit.c). */
    if (argc >= 3 && strcmp(argv[1], "--suite") == 0 &&
        strcmp(argv[2], "rabbitmq") == 0) {
        return bench_rabbit_main(argc - 2, argv + 2);
    }
    memset(&broker, 0, sizeof(broker));
    memset(&meta, 0, sizeof(meta));
    rc = bench_options_parse(&o, argc, argv, err, sizeof(err));
    if (rc == 1) {
        bench_usage(stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "secmq-bench: %s\n", err);
        return EXIT_USAGE;
    }

    bench_catch_signals();

    res = calloc(1, sizeof(*res));
    if (res == NULL) {
        snprintf(err, sizeof(err), "out of memory");
        goto err;
    }
    if (bench_mosq_lib_init(err, sizeof(err)) != 0) {
        goto err;
    }
    mosq_init = 1;
    bench_host_probe(&meta.host);
    bench_mosq_versions(meta.mosq_version, sizeof(meta.mosq_version),
                        meta.openssl_version, sizeof(meta.openssl_version));
    bench_secmq_versions(meta.secmq_version, sizeof(meta.secmq_version),
                         meta.wolfssl_version, sizeof(meta.wolfssl_version));

    if (o.suite_broker) {
        if (run_broker_suite(&o, &meta, t0, err, sizeof(err)) != 0) {
            goto err;
        }
        bench_mosq_lib_cleanup();
        free(res);
        return fflush(stdout) == 0 ? 0 : EXIT_RUN;
    }

    memset(&ep, 0, sizeof(ep));
    ep.host = o.host;
    ep.ciphers = o.ciphers;
    if (o.cafile != NULL) {
        ep.port = o.port;
        ep.tls_port = o.tls_port;
        ep.cafile = o.cafile;
        meta.broker_mode = "external";
    } else {
        if (o.certs_bin == NULL) {
            if (bench_broker_default_certs_bin(certs_bin, sizeof(certs_bin),
                                               err, sizeof(err)) != 0) {
                goto err;
            }
            o.certs_bin = certs_bin;
        }
        if (bench_broker_start(&broker, o.mosquitto, o.certs_bin, o.keep, err,
                               sizeof(err)) != 0) {
            goto err;
        }
        spawned = 1;
        ep.port = broker.port;
        ep.tls_port = broker.tls_port;
        ep.cafile = broker.cafile;
        meta.broker_mode = "spawned";
        snprintf(meta.broker_version, sizeof(meta.broker_version), "%s",
                 broker.version);
    }
    meta.host_addr = ep.host;
    meta.port = ep.port;
    meta.tls_port = ep.tls_port;

    if (bench_run(&o.p, &ep, spawned ? &broker : NULL, res, err, sizeof(err)) !=
        0) {
        goto err;
    }
    if (spawned) {
        bench_broker_stop(&broker);
    }
    bench_mosq_lib_cleanup();
    meta.total_s = (double)(bench_now_ns() - t0) / 1e9;
    if (o.json) {
        bench_report_json(&meta, &o.p, res);
    } else {
        bench_report_table(&meta, &o.p, res);
    }
    free(res);
    return fflush(stdout) == 0 ? 0 : EXIT_RUN;

err:
    if (spawned || broker.dir[0] != '\0') {
        bench_broker_stop(&broker);
    }
    if (mosq_init) {
        bench_mosq_lib_cleanup();
    }
    free(res);
    fprintf(stderr, "secmq-bench: %s\n", err);
    return EXIT_RUN;
}
