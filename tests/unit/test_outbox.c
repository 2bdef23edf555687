/*
 * test_outbox.c -- unit tests for the durable outbox (outbox.c,
 * outbox_store.c) through the public API, without a broker: the file
 * (created 0600, its id and version, foreign, corrupt and busy files
 * refused and left byte for byte as they were), rows committed before
 * publish returns and found again after reopening, ids and order, both
 * bound policies with their counters and log lines, ASYNC publishes and
 * on_durable, group commit under several threads, and rows committed by a
 * process that is SIGKILLed. Delivery through a broker is
 * tests/integration/test_outbox.py's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <secmq.h>

#include "testutil.h"

/* ---- a client that never connects, with recorded callbacks ---- */

struct rec {
    pthread_mutex_t mu;
    char log[4096];
    int warnings;
    uint64_t durable[2048];
    int ndurable;
    int durable_errors;
};

static void on_log(secmq_client *c, void *user, int level, const char *line)
{
    struct rec *r = user;
    size_t n;

    (void)c;
    if (level > SECMQ_LOG_WARNING) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->warnings++;
    n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "%s\n", line);
    pthread_mutex_unlock(&r->mu);
}

static void on_durable(secmq_client *c, void *user, uint64_t id, int rc)
{
    struct rec *r = user;

    (void)c;
    pthread_mutex_lock(&r->mu);
    if (r->ndurable < 2048) {
        r->durable[r->ndurable++] = id;
    }
    r->durable_errors += rc != SECMQ_OK;
    pthread_mutex_unlock(&r->mu);
}

static secmq_client *client(struct rec *r)
{
    secmq_config cfg;
    secmq_client *c = NULL;

    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    secmq_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 1; /* never connected in these tests */
    cfg.transport = SECMQ_TRANSPORT_PLAIN;
    if (secmq_client_new(&c, &cfg, r) != SECMQ_OK) {
        return NULL;
    }
    secmq_client_on_log(c, on_log);
    secmq_client_on_durable(c, on_durable);
    return c;
}

static int attach(secmq_client *c, const char *path, uint64_t rows,
                  uint64_t bytes, int policy)
{
    secmq_outbox_config oc;

    secmq_outbox_config_init(&oc);
    oc.path = path;
    if (rows > 0) {
        oc.max_rows = rows;
    }
    if (bytes > 0) {
        oc.max_bytes = bytes;
    }
    oc.policy = (secmq_outbox_policy)policy;
    return secmq_client_set_outbox(c, &oc);
}

static secmq_outbox_stats stats(secmq_client *c)
{
    secmq_outbox_stats st;

    memset(&st, 0xff, sizeof st);
    (void)secmq_client_outbox_stats(c, &st);
    return st;
}

/* Row ids and payloads in the file, through sqlite itself. */
static int file_rows(const char *path, uint64_t *ids, char (*payloads)[64],
                     int max)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int n = 0;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT id, payload FROM outbox ORDER BY id", -1,
                           &s, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    while (sqlite3_step(s) == SQLITE_ROW && n < max) {
        ids[n] = (uint64_t)sqlite3_column_int64(s, 0);
        if (payloads != NULL) {
            snprintf(payloads[n], 64, "%.*s", sqlite3_column_bytes(s, 1),
                     (const char *)sqlite3_column_blob(s, 1));
        }
        n++;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* ---- tests ---- */

static void test_create_and_reopen(void)
{
    const char *path = tu_at("new.db");
    struct rec r;
    secmq_client *c = client(&r);
    secmq_outbox_stats st;
    struct stat sb;
    unsigned char *data = NULL;
    size_t len = 0;
    uint64_t id = 0, ids[8];
    char pl[8][64];

    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    CHECK_INT_EQ(stat(path, &sb), 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0600);
    /* Returns after the commit: the row is in the file now. */
    CHECK_INT_EQ(
        secmq_client_publish_v2(c, &id, NULL, "a/b", "one", 3, 1, 0, 0),
        SECMQ_OK);
    CHECK_INT_EQ(id, 1);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "a/b", "two", 3, 2, 0),
                 SECMQ_OK);
    CHECK_INT_EQ(file_rows(path, ids, pl, 8), 2);
    CHECK_INT_EQ(ids[0], 1);
    CHECK_INT_EQ(ids[1], 2);
    CHECK_STR_EQ(pl[0], "one");
    CHECK_STR_EQ(pl[1], "two");
    /* QoS 0 bypasses the outbox by default: no connection, no queue. */
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "a/b", "q0", 2, 0, 0),
                 SECMQ_E_NO_CONN);
    /* Topics are checked before a row is stored. */
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "a/#", "x", 1, 1, 0),
                 SECMQ_E_INVAL);
    st = stats(c);
    CHECK_INT_EQ(st.rows, 2);
    CHECK_INT_EQ(st.bytes, 2 * (3 + 3));
    CHECK_INT_EQ(st.queued, 2);
    CHECK_INT_EQ(st.committed, 2);
    CHECK_INT_EQ(st.sent, 0);
    CHECK_INT_EQ(st.inflight, 0);
    CHECK(st.commits >= 1 && st.commits <= 2);
    /* A second outbox, or a second process on the same file: refused. */
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_E_STATE);
    {
        struct rec r2;
        secmq_client *c2 = client(&r2);
        char why[SECMQ_ERRMSG_BYTES];
        CHECK(c2 != NULL);
        CHECK_INT_EQ(attach(c2, path, 0, 0, 0), SECMQ_E_BUSY);
        secmq_client_errmsg(c2, why, sizeof why);
        CHECK_CONTAINS(why, "in use", 1);
        secmq_client_free(c2);
    }
    secmq_client_free(c);

    /* The application_id in the sqlite header (offset 68, big-endian). */
    CHECK_INT_EQ(tu_read_file(path, &data, &len), 0);
    CHECK(len >= 100);
    CHECK(data[68] == 'S' && data[69] == 'Q' && data[70] == 'O' &&
          data[71] == 'B');
    free(data);

    c = client(&r);
    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    st = stats(c);
    CHECK_INT_EQ(st.recovered, 2);
    CHECK_INT_EQ(st.rows, 2);
    CHECK_INT_EQ(
        secmq_client_publish_v2(c, &id, NULL, "a/b", "three", 5, 1, 0, 0),
        SECMQ_OK);
    CHECK_INT_EQ(id, 3); /* ids keep growing over the life of the file */
    secmq_client_free(c);
}

/* A file that is not ours: refused with SECMQ_E_DB, left as it was. */
static void refused_untouched(const char *path, const char *want)
{
    unsigned char *before = NULL, *after = NULL;
    size_t blen = 0, alen = 0;
    struct rec r;
    secmq_client *c = client(&r);
    char why[SECMQ_ERRMSG_BYTES];

    CHECK(c != NULL);
    CHECK_INT_EQ(tu_read_file(path, &before, &blen), 0);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_E_DB);
    secmq_client_errmsg(c, why, sizeof why);
    CHECK_CONTAINS(why, path, 0);
    CHECK_CONTAINS(why, want, 1);
    CHECK_CONTAINS(why, "left as it is", 1);
    /* Publishing goes on without an outbox, as if none had been set. */
    CHECK_INT_EQ(secmq_client_outbox_stats(c, &(secmq_outbox_stats){0}),
                 SECMQ_E_STATE);
    secmq_client_free(c);
    CHECK_INT_EQ(tu_read_file(path, &after, &alen), 0);
    CHECK_MEM_EQ(after, alen, before, blen);
    free(before);
    free(after);
    CHECK(access(tu_at("foreign.db-wal"), F_OK) != 0);
}

static void test_foreign_and_corrupt(void)
{
    const char *foreign = tu_at("foreign.db");
    const char *corrupt = tu_at("corrupt.db");
    const char *newer = tu_at("newer.db");
    sqlite3 *db = NULL;
    unsigned char junk[4096];

    /* Another application's sqlite database. */
    CHECK_INT_EQ(sqlite3_open(foreign, &db), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(db,
                              "CREATE TABLE notes(x TEXT);"
                              "INSERT INTO notes VALUES ('keep me');",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    refused_untouched(foreign, "not a secmq outbox");

    /* Our id, another version. */
    CHECK_INT_EQ(sqlite3_open(newer, &db), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(db,
                              "PRAGMA application_id = 1397837634;"
                              "PRAGMA user_version = 9;"
                              "CREATE TABLE outbox(x);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    refused_untouched(newer, "version 9");

    /* Not a database at all. */
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (unsigned char)(i * 7 + 3);
    }
    CHECK_INT_EQ(tu_write_file(corrupt, junk, sizeof junk), 0);
    refused_untouched(corrupt, "not a database");

    /* A real outbox whose first page was damaged. */
    {
        const char *dmg = tu_at("damaged.db");
        unsigned char *data = NULL;
        size_t len = 0;
        struct rec r;
        secmq_client *c = client(&r);
        CHECK(c != NULL);
        CHECK_INT_EQ(attach(c, dmg, 0, 0, 0), SECMQ_OK);
        CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "x", 1, 1, 0),
                     SECMQ_OK);
        secmq_client_free(c);
        CHECK_INT_EQ(tu_read_file(dmg, &data, &len), 0);
        memset(data, 0x5a, 32); /* the header string */
        CHECK_INT_EQ(tu_write_file(dmg, data, len), 0);
        free(data);
        refused_untouched(dmg, "not a database");
    }
}

static void test_refuse_new(void)
{
    const char *path = tu_at("refuse.db");
    struct rec r;
    secmq_client *c = client(&r);
    secmq_outbox_stats st;
    char why[SECMQ_ERRMSG_BYTES];
    uint64_t ids[8];

    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 3, 0, SECMQ_OUTBOX_REFUSE_NEW), SECMQ_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "m", 1, 1, 0),
                     SECMQ_OK);
    }
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "m", 1, 1, 0),
                 SECMQ_E_FULL);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "m", 1, 1, 0),
                 SECMQ_E_FULL);
    secmq_client_errmsg(c, why, sizeof why);
    CHECK_CONTAINS(why, "full", 1);
    CHECK_STR_EQ(secmq_strerror(SECMQ_E_FULL), "outbox full");
    st = stats(c);
    CHECK_INT_EQ(st.rows, 3);
    CHECK_INT_EQ(st.refused_full, 2);
    CHECK_INT_EQ(st.dropped_oldest, 0);
    CHECK_INT_EQ(st.max_rows, 3);
    /* Said once (rate-limited), through the client's log. */
    pthread_mutex_lock(&r.mu);
    CHECK_CONTAINS(r.log, "refused new messages", 1);
    pthread_mutex_unlock(&r.mu);
    secmq_client_free(c);
    CHECK_INT_EQ(file_rows(path, ids, NULL, 8), 3);
    CHECK_INT_EQ(ids[2], 3);

    /* The byte bound: 10 bytes = two rows of "t" + 4 bytes. */
    c = client(&r);
    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, tu_at("bytes.db"), 0, 10, SECMQ_OUTBOX_REFUSE_NEW),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "abcd", 4, 1, 0), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "abcd", 4, 1, 0), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "a", 1, 1, 0),
                 SECMQ_E_FULL);
    /* Larger than the whole bound: refused under any policy. */
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "0123456789", 10, 1, 0),
                 SECMQ_E_FULL);
    st = stats(c);
    CHECK_INT_EQ(st.bytes, 10);
    CHECK_INT_EQ(st.refused_full, 2);
    secmq_client_free(c);
}

static void test_drop_oldest(void)
{
    const char *path = tu_at("drop.db");
    struct rec r;
    secmq_client *c = client(&r);
    secmq_outbox_stats st;
    uint64_t ids[8];
    char pl[8][64];

    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 3, 0, SECMQ_OUTBOX_DROP_OLDEST), SECMQ_OK);
    for (int i = 1; i <= 5; i++) {
        char m[16];
        snprintf(m, sizeof m, "m%d", i);
        CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", m, strlen(m), 1, 0),
                     SECMQ_OK);
    }
    st = stats(c);
    CHECK_INT_EQ(st.rows, 3);
    CHECK_INT_EQ(st.dropped_oldest, 2);
    CHECK_INT_EQ(st.refused_full, 0);
    CHECK_INT_EQ(st.queued, 5);
    pthread_mutex_lock(&r.mu);
    CHECK_CONTAINS(r.log, "dropped the oldest", 1);
    pthread_mutex_unlock(&r.mu);
    secmq_client_free(c);
    /* The newest three survive, in order. */
    CHECK_INT_EQ(file_rows(path, ids, pl, 8), 3);
    CHECK_STR_EQ(pl[0], "m3");
    CHECK_STR_EQ(pl[1], "m4");
    CHECK_STR_EQ(pl[2], "m5");
    CHECK_INT_EQ(ids[0], 3);
}

static void test_async_durable(void)
{
    const char *path = tu_at("async.db");
    struct rec r;
    secmq_client *c = client(&r);
    secmq_outbox_stats st;
    uint64_t id = 0;
    int n = 1000;

    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    for (int i = 0; i < n; i++) {
        char m[32];
        snprintf(m, sizeof m, "async %d", i);
        CHECK_INT_EQ(secmq_client_publish_v2(c, &id, NULL, "t/async", m,
                                             strlen(m), 1, 0,
                                             SECMQ_PUBLISH_ASYNC),
                     SECMQ_OK);
        CHECK_INT_EQ(id, (uint64_t)i + 1);
    }
    CHECK_INT_EQ(secmq_client_outbox_wait(c, SECMQ_OUTBOX_WAIT_DURABLE, 10000),
                 SECMQ_OK);
    /* Nothing is delivered without a broker. */
    CHECK_INT_EQ(secmq_client_outbox_wait(c, SECMQ_OUTBOX_WAIT_EMPTY, 50),
                 SECMQ_E_TIMEOUT);
    st = stats(c);
    CHECK_INT_EQ(st.committed, (uint64_t)n);
    /* Group commit: far fewer transactions than rows. */
    CHECK(st.commits < (uint64_t)n / 2);
    pthread_mutex_lock(&r.mu);
    CHECK_INT_EQ(r.ndurable, n);
    CHECK_INT_EQ(r.durable_errors, 0);
    for (int i = 0; i < n; i++) {
        CHECK_INT_EQ(r.durable[i], (uint64_t)i + 1); /* in id order */
    }
    pthread_mutex_unlock(&r.mu);
    secmq_client_free(c);
}

struct thr {
    secmq_client *c;
    int k;
    int fails;
};

static void *publisher(void *arg)
{
    struct thr *t = arg;

    for (int i = 0; i < 200; i++) {
        char m[32];
        snprintf(m, sizeof m, "%d-%d", t->k, i);
        if (secmq_client_publish(t->c, NULL, "t/threads", m, strlen(m), 1, 0) !=
            SECMQ_OK) {
            t->fails++;
        }
    }
    return NULL;
}

static void test_threads_group_commit(void)
{
    const char *path = tu_at("threads.db");
    struct rec r;
    secmq_client *c = client(&r);
    struct thr t[8];
    pthread_t th[8];
    secmq_outbox_stats st;
    static uint64_t ids[2000];

    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    for (int i = 0; i < 8; i++) {
        t[i].c = c;
        t[i].k = i;
        t[i].fails = 0;
        CHECK_INT_EQ(pthread_create(&th[i], NULL, publisher, &t[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT_EQ(t[i].fails, 0);
    }
    st = stats(c);
    CHECK_INT_EQ(st.committed, 1600);
    CHECK_INT_EQ(st.rows, 1600);
    /* Eight waiting publishers share transactions. */
    CHECK(st.commits < 1600);
    fprintf(stderr, "   1600 rows from 8 threads in %llu commits\n",
            (unsigned long long)st.commits);
    secmq_client_free(c);
    CHECK_INT_EQ(file_rows(path, ids, NULL, 2000), 1600);
    for (int i = 0; i < 1600; i++) {
        CHECK_INT_EQ(ids[i], (uint64_t)i + 1);
    }
}

/* A process that publishes and is SIGKILLed keeps every row it was told
 * was committed. */
static void test_killed_process(void)
{
    const char *path = tu_at("killed.db");
    int fds[2];
    pid_t pid;
    int status = 0, told = 0;
    struct rec r;
    secmq_client *c;
    secmq_outbox_stats st;

    CHECK_INT_EQ(pipe(fds), 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct rec cr;
        secmq_client *cc = client(&cr);
        close(fds[0]);
        if (cc == NULL || attach(cc, path, 0, 0, 0) != SECMQ_OK) {
            _exit(3);
        }
        for (int i = 0;; i++) {
            char m[32];
            snprintf(m, sizeof m, "k%d", i);
            if (secmq_client_publish(cc, NULL, "t", m, strlen(m), 1, 0) !=
                SECMQ_OK) {
                _exit(4);
            }
            /* One byte per row the library said is durable. */
            if (write(fds[1], "x", 1) != 1 || i == 100000) {
                _exit(5);
            }
        }
    }
    close(fds[1]);
    {
        char buf[64];
        while (told < 300) {
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            told += (int)n;
        }
    }
    kill(pid, SIGKILL);
    {
        char buf[256];
        ssize_t n;
        while ((n = read(fds[0], buf, sizeof buf)) > 0) {
            told += (int)n;
        }
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(told >= 300);

    c = client(&r);
    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    st = stats(c);
    /* Every acknowledged row, plus at most the one being committed. */
    CHECKF(st.recovered >= (uint64_t)told && st.recovered <= (uint64_t)told + 1,
           "recovered %llu rows, %d were reported durable",
           (unsigned long long)st.recovered, told);
    secmq_client_free(c);
}

/* Run sql on the file with sqlite itself: 0 or -1. */
static int file_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* One integer from a query on the file (-1 on error). */
static int64_t file_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* A file of format version 1 (no checksums, no quarantine table) is
 * upgraded in place: every row gets its 16-byte sum, and keeps flowing. */
static void test_upgrade_v1(void)
{
    const char *path = tu_at("v1.db");
    struct rec r;
    secmq_client *c = client(&r);
    secmq_outbox_stats st;
    uint64_t id = 0;

    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "a/b", "one", 3, 1, 0),
                 SECMQ_OK);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "a/b", "two", 3, 1, 0),
                 SECMQ_OK);
    secmq_client_free(c);
    CHECK_INT_EQ(file_int(path, "PRAGMA user_version"), 2);
    CHECK_INT_EQ(file_exec(path, "ALTER TABLE outbox DROP COLUMN sum;"
                                 "DROP TABLE quarantine;"
                                 "PRAGMA user_version = 1;"),
                 0);

    c = client(&r);
    CHECK(c != NULL);
    CHECK_INT_EQ(attach(c, path, 0, 0, 0), SECMQ_OK);
    memset(&st, 0xff, sizeof st);
    CHECK_INT_EQ(secmq_client_outbox_stats_v2(c, &st, sizeof st), SECMQ_OK);
    CHECK_INT_EQ(st.recovered, 2);
    CHECK_INT_EQ(st.rows, 2);
    CHECK_INT_EQ(st.quarantined, 0);
    CHECK_INT_EQ(st.damaged, 0);
    CHECK_INT_EQ(st.undeleted, 0);
    /* Too small for the fields up to commit_errors. */
    CHECK_INT_EQ(secmq_client_outbox_stats_v2(c, &st, 8), SECMQ_E_INVAL);
    CHECK_INT_EQ(
        secmq_client_publish_v2(c, &id, NULL, "a/b", "three", 5, 1, 0, 0),
        SECMQ_OK);
    CHECK_INT_EQ(id, 3);
    secmq_client_free(c);
    CHECK_INT_EQ(file_int(path, "PRAGMA user_version"), 2);
    CHECK_INT_EQ(file_int(path, "SELECT count(*) FROM outbox WHERE "
                                "length(sum) = 16"),
                 3);
    CHECK_INT_EQ(file_int(path, "SELECT count(*) FROM quarantine"), 0);
}

static void test_invalid_config(void)
{
    struct rec r;
    secmq_client *c = client(&r);
    secmq_outbox_config oc;

    CHECK(c != NULL);
    secmq_outbox_config_init(&oc);
    CHECK_INT_EQ(oc.sync, SECMQ_OUTBOX_SYNC_FULL);
    CHECK_INT_EQ(oc.policy, SECMQ_OUTBOX_REFUSE_NEW);
    CHECK_INT_EQ(oc.max_inflight, SECMQ_OUTBOX_DEFAULT_INFLIGHT);
    CHECK_INT_EQ(secmq_client_set_outbox(c, &oc), SECMQ_E_INVAL); /* path */
    oc.path = tu_at("inval.db");
    oc.max_rows = 0;
    CHECK_INT_EQ(secmq_client_set_outbox(c, &oc), SECMQ_E_INVAL);
    oc.max_rows = 10;
    oc.max_inflight = 0;
    CHECK_INT_EQ(secmq_client_set_outbox(c, &oc), SECMQ_E_INVAL);
    oc.max_inflight = 10;
    oc.path = tu_at("no/such/dir/x.db");
    CHECK_INT_EQ(secmq_client_set_outbox(c, &oc), SECMQ_E_IO);
    CHECK_INT_EQ(secmq_client_outbox_wait(c, SECMQ_OUTBOX_WAIT_EMPTY, 0),
                 SECMQ_E_STATE);
    CHECK_INT_EQ(
        secmq_client_publish_v2(c, NULL, NULL, "t", "x", 1, 1, 0, 0x80),
        SECMQ_E_INVAL);
    /* QoS 0 through the outbox when asked. */
    oc.path = tu_at("qos0.db");
    oc.qos0 = 1;
    CHECK_INT_EQ(secmq_client_set_outbox(c, &oc), SECMQ_OK);
    CHECK_INT_EQ(secmq_client_publish(c, NULL, "t", "q0", 2, 0, 0), SECMQ_OK);
    CHECK_INT_EQ(stats(c).rows, 1);
    /* DIRECT bypasses it. */
    CHECK_INT_EQ(secmq_client_publish_v2(c, NULL, NULL, "t", "x", 1, 0, 0,
                                         SECMQ_PUBLISH_DIRECT),
                 SECMQ_E_NO_CONN);
    secmq_client_free(c);
}

int main(void)
{
    if (tu_tmpdir_make("outbox") != 0) {
        return 1;
    }
    RUN(test_create_and_reopen);
    RUN(test_foreign_and_corrupt);
    RUN(test_refuse_new);
    RUN(test_drop_oldest);
    RUN(test_async_durable);
    RUN(test_threads_group_commit);
    RUN(test_killed_process);
    RUN(test_upgrade_v1);
    RUN(test_invalid_config);
    tu_tmpdir_done("files");
    return check_exit();
}
