/*
 * test_client_will.c -- the last will configured through secmq_config.
 *
 * A second process (this program re-executed in child mode) connects with
 * a will; when it is SIGKILLed the broker publishes the will (topic,
 * payload, QoS, retain as configured), and when it calls
 * secmq_client_disconnect() first, no will is published. A child process
 * is used because a will only fires when the client's connection dies
 * without DISCONNECT, which a process cannot do to itself and survive.
 * Run through tests/harness/with_broker.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define CHILD_READY_MS 10000

/* ---- child mode: connect with a will, say "ready", then wait ------------ */

static int child_main(const char *mode, const char *tag)
{
    secmq_config cfg;
    secmq_client *c = NULL;
    char topic[128], payload[128], line[16];
    int rc;

    snprintf(topic, sizeof(topic), "c/will/%s", tag);
    snprintf(payload, sizeof(payload), "gone %s", tag);
    tu_config(&cfg, "sam");
    cfg.client_id = tu_id("will-child");
    cfg.will.topic = topic;
    cfg.will.payload = payload;
    cfg.will.payloadlen = strlen(payload);
    cfg.will.qos = 1;
    cfg.will.retain = strcmp(mode, "retain") == 0;
    rc = secmq_client_new(&c, &cfg, NULL);
    if (rc == SECMQ_OK) {
        rc = secmq_client_connect(c);
    }
    if (rc == SECMQ_OK) {
        rc = secmq_client_loop_start(c);
    }
    if (rc == SECMQ_OK) {
        rc = secmq_client_wait_connected(c, TU_WAIT_MS);
    }
    if (rc != SECMQ_OK) {
        fprintf(stderr, "child: %s\n", tu_rc_name(rc));
        secmq_client_free(c);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    /* Wait for a line (clean mode) or to be killed; at most 60 s. */
    alarm(60);
    if (fgets(line, sizeof(line), stdin) == NULL) {
        line[0] = '\0';
    }
    if (strcmp(mode, "clean") == 0) {
        rc = secmq_client_disconnect(c);
        secmq_client_free(c);
        return rc == SECMQ_OK ? 0 : 1;
    }
    secmq_client_free(c);
    return 0;
}

/* ---- parent ------------------------------------------------------------- */

static const char *self_path;
static tu_client watch;

typedef struct child {
    pid_t pid;
    int to_child;   /* child's stdin */
    int from_child; /* child's stdout */
} child;

/* Starts this program in child mode; waits for its "ready". */
static int start_child(child *ch, const char *mode, const char *tag)
{
    int in[2], out[2];
    char buf[16];
    struct pollfd p;
    ssize_t n;

    if (pipe(in) != 0 || pipe(out) != 0) {
        return -1;
    }
    ch->pid = fork();
    if (ch->pid < 0) {
        return -1;
    }
    if (ch->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(self_path, self_path, "--child", mode, tag, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    ch->to_child = in[1];
    ch->from_child = out[0];
    p.fd = ch->from_child;
    p.events = POLLIN;
    if (poll(&p, 1, CHILD_READY_MS) != 1) {
        return -1;
    }
    n = read(ch->from_child, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    return strncmp(buf, "ready", 5) == 0 ? 0 : -1;
}

/* Reaps the child within a few seconds (SIGKILL if it hangs). */
static int reap(child *ch)
{
    int status = -1, i;

    for (i = 0; i < 100; i++) {
        pid_t r = waitpid(ch->pid, &status, WNOHANG);
        if (r == ch->pid) {
            break;
        }
        tu_sleep_ms(50);
    }
    if (i == 100) {
        kill(ch->pid, SIGKILL);
        waitpid(ch->pid, &status, 0);
    }
    close(ch->to_child);
    close(ch->from_child);
    return status;
}

static void forget_watch(void)
{
    size_t i;

    pthread_mutex_lock(&watch.mu);
    for (i = 0; i < watch.nmsgs; i++) {
        free(watch.msgs[i].topic);
        free(watch.msgs[i].payload);
    }
    watch.nmsgs = 0;
    pthread_mutex_unlock(&watch.mu);
}

static void test_will_on_kill(void)
{
    child ch;
    int ok;

    forget_watch();
    CHECKF(start_child(&ch, "kill", "killed") == 0, "child did not start");
    kill(ch.pid, SIGKILL);
    reap(&ch);
    CHECKF(tu_wait_msgs(&watch, 1, TU_WAIT_MS) == 0,
           "no will within %d ms of SIGKILL", TU_WAIT_MS);
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&watch.mu);
    ok = watch.nmsgs == 1 &&
         strcmp(watch.msgs[0].topic, "c/will/killed") == 0 &&
         strcmp((const char *)watch.msgs[0].payload, "gone killed") == 0 &&
         watch.msgs[0].qos == 1 && watch.msgs[0].retain == 0;
    pthread_mutex_unlock(&watch.mu);
    CHECKF(ok, "want exactly one will \"gone killed\" on c/will/killed at "
               "QoS 1, not retained");
}

static void test_no_will_after_disconnect(void)
{
    char first[256];
    child ch;
    size_t n;
    int status, ok;

    forget_watch();
    CHECKF(start_child(&ch, "clean", "clean") == 0, "child did not start");
    CHECK(write(ch.to_child, "go\n", 3) == 3);
    status = reap(&ch);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "child in clean mode ended with status %d", status);
    /* A sentinel after the child's exit: the will, had it come, would be
     * the first message. */
    CHECK_RC(
        secmq_client_publish(watch.c, NULL, "c/will/sentinel", "s", 1, 1, 0),
        SECMQ_OK);
    CHECK(tu_wait_msgs(&watch, 1, TU_WAIT_MS) == 0);
    tu_sleep_ms(TU_QUIET_MS);
    pthread_mutex_lock(&watch.mu);
    n = watch.nmsgs;
    ok = n == 1 && strcmp(watch.msgs[0].topic, "c/will/sentinel") == 0;
    snprintf(first, sizeof(first), "%s \"%s\"", watch.msgs[0].topic,
             (const char *)watch.msgs[0].payload);
    pthread_mutex_unlock(&watch.mu);
    CHECKF(ok,
           "a will was published after a clean disconnect: %zu "
           "message(s), the first %s",
           n, first);
}

static void test_retained_will(void)
{
    child ch;
    tu_client late = {0};
    secmq_config cfg;
    int ok = 0;

    forget_watch();
    CHECKF(start_child(&ch, "retain", "kept") == 0, "child did not start");
    kill(ch.pid, SIGKILL);
    reap(&ch);
    CHECK(tu_wait_msgs(&watch, 1, TU_WAIT_MS) == 0);
    tu_config(&cfg, "alice");
    cfg.client_id = tu_id("will-late");
    if (tu_client_new(&late, &cfg) == SECMQ_OK &&
        tu_connect(&late, TU_WAIT_MS) == SECMQ_OK &&
        tu_subscribe(&late, "c/will/kept", 1, TU_WAIT_MS) == 1 &&
        tu_wait_msgs(&late, 1, TU_WAIT_MS) == 0) {
        pthread_mutex_lock(&late.mu);
        ok = late.msgs[0].retain == 1 &&
             strcmp((const char *)late.msgs[0].payload, "gone kept") == 0;
        pthread_mutex_unlock(&late.mu);
    }
    if (late.c != NULL) {
        secmq_client_disconnect(late.c);
    }
    tu_client_free(&late);
    CHECKF(ok, "a later subscriber did not get the retained will");
}

int main(int argc, char **argv)
{
    secmq_config cfg;
    int rc;

    if (argc == 4 && strcmp(argv[1], "--child") == 0) {
        return child_main(argv[2], argv[3]);
    }
    self_path = "/proc/self/exe";
    signal(SIGPIPE, SIG_IGN);
    tu_config(&cfg, "alice");
    cfg.client_id = tu_id("will-watch");
    rc = tu_client_new(&watch, &cfg);
    if (rc == SECMQ_OK) {
        rc = tu_connect(&watch, TU_WAIT_MS);
    }
    if (rc == SECMQ_OK &&
        tu_subscribe(&watch, "c/will/#", 1, TU_WAIT_MS) != 1) {
        rc = SECMQ_E_PROTOCOL;
    }
    if (rc != SECMQ_OK) {
        fprintf(stderr, "watcher: %s: %s\n", tu_rc_name(rc), tu_errmsg(&watch));
        return 1;
    }
    RUN(test_will_on_kill);
    RUN(test_no_will_after_disconnect);
    RUN(test_retained_will);
    secmq_client_disconnect(watch.c);
    tu_client_free(&watch);
    return check_exit();
}
