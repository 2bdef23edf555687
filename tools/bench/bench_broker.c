/*
 * bench_broker.c -- the private mosquitto broker a benchmark run talks to.
 *
 * Makes a temp dir, generates a development PKI in it with secmq-certs,
 * writes a config (plain + TLS listener on free loopback ports, anonymous
 * access, no queue limit, TCP_NODELAY), starts /usr/sbin/mosquitto, waits
 * until it listens, and on stop terminates, reaps and removes it all. The
 * broker suite adds its authentication lines (password_file + acl_file, or
 * the plugin) and runs the tools that make their files (bench_run_tool).
 * Not a general process supervisor: brokers of one run, loopback only.
 */
#include "bench.h"
#include "bench_authd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Time limits: certificate generation, broker start-up and shutdown. */
#define CERTS_TIMEOUT_MS 30000
#define READY_TIMEOUT_MS 5000
#define STOP_TERM_MS 2000
#define POLL_MS 10

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

/* Joins dir and name into out. Returns 0, or -1 if it does not fit. */
static int path_join(char *out, size_t outlen, const char *dir,
                     const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Forks and execs argv[0] with stdout and stderr sent to out_path. The child
 * dies with this thread (PR_SET_PDEATHSIG), so a crashed bench never leaves
 * a broker behind. Returns the pid, or -1 with a reason in err.
 */
static pid_t spawn_in(char *const argv[], const char *in_path,
                      const char *out_path, char *err, size_t errlen)
{
    pid_t parent = getpid();
    pid_t pid;
    int fd, in;

    in = open(in_path != NULL ? in_path : "/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        set_err(err, errlen, "cannot open %s: %s",
                in_path != NULL ? in_path : "/dev/null", strerror(errno));
        return -1;
    }
    fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", out_path, strerror(errno));
        close(in);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        set_err(err, errlen, "fork: %s", strerror(errno));
        close(fd);
        close(in);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(126);
        }
        if (dup2(in, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
            dup2(fd, STDERR_FILENO) < 0) {
            _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd);
    close(in);
    return pid;
}

static pid_t spawn(char *const argv[], const char *out_path, char *err,
                   size_t errlen)
{
    return spawn_in(argv, NULL, out_path, err, errlen);
}

pid_t bench_spawn(char *const argv[], const char *out_path, char *err,
                  size_t errlen)
{
    return spawn_in(argv, NULL, out_path, err, errlen);
}

/* Waits for pid, at most timeout_ms. Returns its exit status (>= 0), or -1
 * after killing it on timeout or interruption. */
static int wait_child(pid_t pid, long timeout_ms)
{
    long waited;
    int status;
    pid_t r;

    for (waited = 0; waited <= timeout_ms; waited += POLL_MS) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (bench_interrupted) {
            break;
        }
        sleep_ms(POLL_MS);
    }
    kill(pid, SIGKILL);
    (void)waitpid(pid, &status, 0);
    return -1;
}

/* Copies the last non-empty line of file path into out ("" if none). */
static void last_line(const char *path, char *out, size_t outlen)
{
    char line[512];
    FILE *f = fopen(path, "r");
    int lines = 0;
    size_t n;

    out[0] = '\0';
    /* Logs of a failed start are a few lines; read at most 100000. */
    while (f != NULL && lines < 100000 &&
           fgets(line, sizeof(line), f) != NULL) {
        lines++;
        n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n > 0) {
            /* Truncating a long log line is fine: it is a hint. */
            n = n < outlen ? n : outlen - 1;
            memcpy(out, line, n);
            out[n] = '\0';
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* Binds a TCP socket to 127.0.0.1 port 0 and reports the port the kernel
 * chose. The socket stays open (returned) so a second call gets another
 * port; the caller closes both before the broker binds. */
static int free_port(int *port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        set_err(err, errlen, "cannot find a free loopback port: %s",
                strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int bench_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int bench_free_port(int *port, char *err, size_t errlen)
{
    return free_port(port, err, errlen);
}

/* Returns 1 if a TCP connect to 127.0.0.1:port succeeds now. */
static int port_open(int port)
{
    struct sockaddr_in sa;
    int fd;
    int ok;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static int write_config(const bench_broker *b, const char *conf,
                        const char *pki, const bench_broker_conf *bc, char *err,
                        size_t errlen)
{
    FILE *f;
    int rc;

    f = fopen(conf, "w");
    if (f == NULL) {
        set_err(err, errlen, "cannot write %s: %s", conf, strerror(errno));
        return -1;
    }
    /* Benchmark broker: loopback listeners only, so anonymous access is
     * acceptable; no queue limit so that counted messages are not dropped
     * (the default of 1000 drops QoS 1 to a slow subscriber); TCP_NODELAY
     * avoids 40 ms Nagle/delayed-ACK stalls on small packets. */
    fprintf(f,
            "# secmq-bench private broker (loopback only, removed after "
            "the run)\n"
            "per_listener_settings false\n"
            "allow_anonymous %s\n"
            "persistence false\n"
            "max_queued_messages %ld\n"
            "set_tcp_nodelay true\n"
            "log_dest file %s\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "log_type information\n"
            "%s"
            "listener %d 127.0.0.1\n"
            "listener %d 127.0.0.1\n"
            "cafile %s/ca.crt\n"
            "certfile %s/broker.crt\n"
            "keyfile %s/broker.key\n"
            "%s",
            bc->anonymous ? "true" : "false", bc->max_queued, b->log,
            geteuid() == 0 ? "user root\n" : "", b->port, b->tls_port, pki, pki,
            pki, bc->extra != NULL ? bc->extra : "");
    rc = ferror(f);
    if (fclose(f) != 0 || rc != 0) {
        set_err(err, errlen, "cannot write %s", conf);
        return -1;
    }
    return 0;
}

/* Finds "mosquitto version X starting" in the log and copies X. */
static void read_version(bench_broker *b)
{
    static const char key[] = "mosquitto version ";
    char line[512];
    FILE *f = fopen(b->log, "r");
    int lines = 0;
    const char *v;
    size_t n;

    while (f != NULL && lines < 1000 && fgets(line, sizeof(line), f) != NULL) {
        lines++;
        v = strstr(line, key);
        if (v != NULL) {
            v += sizeof(key) - 1;
            n = strcspn(v, " \r\n");
            if (n >= sizeof(b->version)) {
                n = sizeof(b->version) - 1;
            }
            memcpy(b->version, v, n);
            b->version[n] = '\0';
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

int bench_path_join(char *out, const char *dir, const char *name, char *err,
                    size_t errlen)
{
    if (path_join(out, BENCH_PATH_BYTES, dir, name) != 0) {
        set_err(err, errlen, "path too long: %s/%s", dir, name);
        return -1;
    }
    return 0;
}

int bench_broker_default_certs_bin(char *buf, size_t len, char *err,
                                   size_t errlen)
{
    return bench_path_near_self(buf, len, "secmq-certs", err, errlen);
}

int bench_path_near_self(char *buf, size_t len, const char *rel, char *err,
                         size_t errlen)
{
    char self[BENCH_PATH_BYTES];
    ssize_t n;
    char *slash;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        set_err(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL) {
        set_err(err, errlen, "unexpected /proc/self/exe: %s", self);
        return -1;
    }
    *slash = '\0';
    if (path_join(buf, len, self, rel) != 0) {
        set_err(err, errlen, "path too long: %s", self);
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* Best effort: a file that cannot be removed leaves the dir behind,
     * which is harmless in a temp dir. */
    if (flag == FTW_DP) {
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
    return 0;
}

void bench_rmtree(const char *dir)
{
    /* FTW_PHYS: never follow a symlink out of our own temp dir. */
    (void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directory for temp dirs: $TMPDIR, or /tmp when it is unset or holds
 * white space (mosquitto.conf paths may not). */
static const char *tmp_root(void)
{
    const char *tmp = getenv("TMPDIR");

    if (tmp == NULL || tmp[0] == '\0' || strpbrk(tmp, " \t\n") != NULL) {
        tmp = "/tmp";
    }
    return tmp;
}

int bench_mkdtemp(char *out, const char *prefix, char *err, size_t errlen)
{
    const char *tmp = tmp_root();
    int n = snprintf(out, BENCH_PATH_BYTES, "%s/%s.XXXXXX", tmp, prefix);

    if (n < 0 || (size_t)n >= BENCH_PATH_BYTES || mkdtemp(out) == NULL) {
        set_err(err, errlen, "cannot create a temp dir in %s: %s", tmp,
                n < 0 || (size_t)n >= BENCH_PATH_BYTES ? "path too long"
                                                       : strerror(errno));
        out[0] = '\0';
        return -1;
    }
    return 0;
}

void bench_broker_stop(bench_broker *b)
{
    long waited;
    int status;

    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        for (waited = 0; waited < STOP_TERM_MS; waited += POLL_MS) {
            if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
                b->pid = 0;
                break;
            }
            sleep_ms(POLL_MS);
        }
        if (b->pid > 0) {
            kill(b->pid, SIGKILL);
            (void)waitpid(b->pid, &status, 0);
            b->pid = 0;
        }
    }
    if (b->dir[0] != '\0' && !b->keep) {
        bench_rmtree(b->dir);
    }
    if (b->dir[0] != '\0' && b->keep) {
        fprintf(stderr, "secmq-bench: broker files kept in %s\n", b->dir);
    }
    b->dir[0] = '\0';
}

/* CPU seconds of every thread of pid from /proc/PID/task/TID/schedstat
 * (nanoseconds on the CPU, first field), or -1 when the kernel does not
 * provide it. Finer than the clock ticks of /proc/PID/stat (10 ms), which
 * matters for rows of a second or two. */
static double schedstat_cpu_s(pid_t pid)
{
    char path[96];
    struct dirent *de;
    unsigned long long ns, sum = 0;
    DIR *d;
    FILE *f;
    int n = 0, ok = 1;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    d = opendir(path);
    if (d == NULL) {
        return -1.0;
    }
    /* A broker has a thread or two; never read more than 1024. */
    while (ok && n < 1024 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue;
        }
        n++;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.16s/schedstat",
                 (long)pid, de->d_name);
        f = fopen(path, "r");
        /* A thread that just ended has no file any more: skip it. */
        if (f == NULL) {
            continue;
        }
        if (fscanf(f, "%llu", &ns) == 1) {
            sum += ns;
        } else {
            ok = 0;
        }
        fclose(f);
    }
    closedir(d);
    return ok && n > 0 ? (double)sum / 1e9 : -1.0;
}

double bench_broker_cpu_s(const bench_broker *b)
{
    char path[64];
    char buf[1024];
    unsigned long utime = 0;
    unsigned long stime = 0;
    long hz = sysconf(_SC_CLK_TCK);
    const char *p;
    size_t n;
    FILE *f;
    int field;
    double exact;

    if (b == NULL || b->pid <= 0 || hz <= 0) {
        return -1.0;
    }
    exact = schedstat_cpu_s(b->pid);
    if (exact >= 0.0) {
        return exact;
    }
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)b->pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1.0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name is in parentheses and may hold spaces: fields are
     * counted from the last ')'; utime and stime are fields 14 and 15. */
    p = strrchr(buf, ')');
    if (p == NULL) {
        return -1.0;
    }
    for (field = 2; field < 14 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p == NULL || sscanf(p, " %lu %lu", &utime, &stime) != 2) {
        return -1.0;
    }
    return (double)(utime + stime) / (double)hz;
}

int bench_broker_start(bench_broker *b, const char *mosquitto_bin,
                       const char *certs_bin, int keep, char *err,
                       size_t errlen)
{
    return bench_broker_start_conf(b, mosquitto_bin, certs_bin, NULL, keep, err,
                                   errlen);
}

int bench_run_tool(char *const argv[], const char *in_path,
                   const char *out_path, long timeout_ms, char *err,
                   size_t errlen)
{
    char line[256];
    pid_t pid;
    int rc;

    pid = spawn_in(argv, in_path, out_path, err, errlen);
    if (pid < 0) {
        return -1;
    }
    rc = wait_child(pid, timeout_ms);
    if (rc == 0) {
        return 0;
    }
    last_line(out_path, line, sizeof(line));
    if (rc < 0) {
        set_err(err, errlen, "%s %s: no result within %ld ms", argv[0],
                argv[1] != NULL ? argv[1] : "", timeout_ms);
    } else {
        set_err(err, errlen, "%s %s failed (exit status %d): %s", argv[0],
                argv[1] != NULL ? argv[1] : "", rc,
                line[0] != '\0' ? line : "no output");
    }
    return -1;
}

int bench_broker_start_conf(bench_broker *b, const char *mosquitto_bin,
                            const char *certs_bin,
                            const bench_broker_conf *conf, int keep, char *err,
                            size_t errlen)
{
    static const bench_broker_conf plain = {NULL, NULL, 1, 0, NULL};
    char pki[BENCH_PATH_BYTES];
    char conf_path[BENCH_PATH_BYTES];
    char out[BENCH_PATH_BYTES];
    char file[BENCH_PATH_BYTES];
    char line[256];
    char *cargv[5];
    char *bargv[4];
    int fd1 = -1;
    int fd2 = -1;
    long waited;
    int status;
    pid_t pid;
    int rc;

    memset(b, 0, sizeof(*b));
    b->keep = keep;
    if (conf == NULL) {
        conf = &plain;
    }
    if (access(mosquitto_bin, X_OK) != 0) {
        set_err(err, errlen,
                "mosquitto broker not found at %s (install "
                "the mosquitto package or give --mosquitto)",
                mosquitto_bin);
        return -1;
    }
    if (conf->pki == NULL &&
        (certs_bin == NULL || access(certs_bin, X_OK) != 0)) {
        set_err(err, errlen,
                "secmq-certs not found at %s (give "
                "--certs-bin, or use --tls-port/--port/--cafile)",
                certs_bin != NULL ? certs_bin : "(none)");
        return -1;
    }
    if (conf->dir != NULL) {
        if (strlen(conf->dir) >= sizeof(b->dir)) {
            set_err(err, errlen, "temp dir path too long: %s", conf->dir);
            return -1;
        }
        snprintf(b->dir, sizeof(b->dir), "%s", conf->dir);
    } else if (bench_mkdtemp(b->dir, "secmq-bench", err, errlen) != 0) {
        goto err;
    }
    if (conf->pki != NULL) {
        if (strlen(conf->pki) >= sizeof(pki)) {
            set_err(err, errlen, "PKI path too long: %s", conf->pki);
            goto err;
        }
        snprintf(pki, sizeof(pki), "%s", conf->pki);
    } else if (path_join(pki, sizeof(pki), b->dir, "pki") != 0) {
        set_err(err, errlen, "temp dir path too long: %s", b->dir);
        goto err;
    }
    if (path_join(conf_path, sizeof(conf_path), b->dir, "mosquitto.conf") !=
            0 ||
        path_join(b->log, sizeof(b->log), b->dir, "mosquitto.log") != 0 ||
        path_join(b->cafile, sizeof(b->cafile), pki, "ca.crt") != 0 ||
        path_join(out, sizeof(out), b->dir, "certs.out") != 0) {
        set_err(err, errlen, "temp dir path too long: %s", b->dir);
        goto err;
    }

    /* PKI: CA, broker certificate for localhost/127.0.0.1/::1. */
    if (conf->pki == NULL) {
        cargv[0] = (char *)certs_bin;
        cargv[1] = (char *)"dev";
        cargv[2] = (char *)"--dir";
        cargv[3] = pki;
        cargv[4] = NULL;
        pid = spawn(cargv, out, err, errlen);
        if (pid < 0) {
            goto err;
        }
        rc = wait_child(pid, CERTS_TIMEOUT_MS);
        if (rc != 0) {
            last_line(out, line, sizeof(line));
            if (rc < 0) {
                set_err(err, errlen, "%s dev --dir %s: no result within %d ms",
                        certs_bin, pki, CERTS_TIMEOUT_MS);
            } else {
                set_err(
                    err, errlen, "%s dev --dir %s failed (exit status %d): %s",
                    certs_bin, pki, rc, line[0] != '\0' ? line : "no output");
            }
            goto err;
        }
    }
    if (path_join(file, sizeof(file), pki, "broker.key") != 0 ||
        access(file, R_OK) != 0 || access(b->cafile, R_OK) != 0) {
        set_err(err, errlen, "no %s/ca.crt and broker.key (from %s)", pki,
                conf->pki == NULL ? certs_bin : "the given PKI");
        goto err;
    }

    fd1 = free_port(&b->port, err, errlen);
    if (fd1 < 0) {
        goto err;
    }
    fd2 = free_port(&b->tls_port, err, errlen);
    if (fd2 < 0) {
        goto err;
    }
    close(fd1);
    close(fd2);
    fd1 = -1;
    fd2 = -1;
    if (write_config(b, conf_path, pki, conf, err, errlen) != 0) {
        goto err;
    }
    if (path_join(out, sizeof(out), b->dir, "mosquitto.out") != 0) {
        set_err(err, errlen, "temp dir path too long: %s", b->dir);
        goto err;
    }
    bargv[0] = (char *)mosquitto_bin;
    bargv[1] = (char *)"-c";
    bargv[2] = conf_path;
    bargv[3] = NULL;
    b->pid = spawn(bargv, out, err, errlen);
    if (b->pid < 0) {
        b->pid = 0;
        goto err;
    }
    for (waited = 0; waited <= READY_TIMEOUT_MS; waited += POLL_MS) {
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            last_line(b->log, line, sizeof(line));
            if (line[0] == '\0') {
                last_line(out, line, sizeof(line));
            }
            set_err(err, errlen, "%s exited at start-up (status %d): %s",
                    mosquitto_bin, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    line[0] != '\0' ? line : "no output");
            goto err;
        }
        if (port_open(b->port) && port_open(b->tls_port)) {
            break;
        }
        if (bench_interrupted) {
            set_err(err, errlen, "interrupted");
            goto err;
        }
        sleep_ms(POLL_MS);
    }
    if (waited > READY_TIMEOUT_MS) {
        set_err(err, errlen,
                "mosquitto did not listen on 127.0.0.1:%d and "
                ":%d within %d ms",
                b->port, b->tls_port, READY_TIMEOUT_MS);
        goto err;
    }
    read_version(b);
    return 0;

err:
    if (fd1 >= 0) {
        close(fd1);
    }
    if (fd2 >= 0) {
        close(fd2);
    }
    bench_broker_stop(b);
    return -1;
}
