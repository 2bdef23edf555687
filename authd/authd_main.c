/*
 * authd_main.c -- secmq-authd: options, the listening socket (loopback or
 * a unix socket unless told otherwise), logging to stderr, and the one
 * loop that serves HTTP, reloads the auth database when it changes and
 * stops on SIGTERM/SIGINT (SIGHUP reloads at once). The answers are
 * authd_rules.c's; HTTP is authd_http.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <secmq.h>

#include "authd.h"
#include "authd_revoke.h"

#define EXIT_USAGE 2
#define RELOAD_MAX_S 3600
#define CONNS_DEFAULT 64u

static const char usage_text[] =
    "Usage: secmq-authd --db PATH [options]\n"
    "\n"
    "Answers RabbitMQ's HTTP auth backend (rabbitmq_auth_backend_http, with\n"
    "auth_http.http_method post or get) from the secmq auth database made by\n"
    "secmq-admin, with the same rules as the mosquitto plugin secmq_auth.so:\n"
    "POST /auth/user, /auth/vhost, /auth/resource, /auth/topic; body 'allow'\n"
    "or 'deny'. See docs/DEPLOY.md, \"secmq-authd\".\n"
    "\n"
    "Options:\n"
    "  --db PATH              the auth database (required; never created)\n"
    "  --listen ADDR          where to listen: HOST:PORT (an IP address;\n"
    "                         [IPv6]:PORT) or unix:PATH "
    "(default " AUTHD_DEFAULT_LISTEN ").\n"
    "                         PORT 0 picks a free port (logged).\n"
    "  --allow-remote         allow a non-loopback HOST (refused without it;\n"
    "                         the requests carry passwords in clear)\n"
    "  --vhost NAME           the RabbitMQ vhost of the MQTT plugin\n"
    "                         (mqtt.vhost; default " AUTHD_DEFAULT_VHOST ")\n"
    "  --exchange NAME        its exchange (mqtt.exchange; "
    "default " AUTHD_DEFAULT_EXCHANGE ")\n"
    "  --reload-interval S    check the database for changes every S seconds\n"
    "                         (1..3600, default 1)\n"
    "  --client-id-pattern P  client ids tied to users, as the plugin's\n"
    "                         plugin_opt_client_id_pattern (e.g. \"%u %u-*\")\n"
    "  --max-connections N    HTTP connections at once (default 64)\n"
    "  --rabbitmq-api URL     RabbitMQ's management API\n"
    "                         (rabbitmq_management), e.g.\n"
    "                         http://127.0.0.1:15672: after a reload, close\n"
    "                         the RabbitMQ connections of users deleted,\n"
    "                         disabled or with a new password, and of\n"
    "                         clients whose allowed topics or queues are\n"
    "                         now denied (deleting those clients'\n"
    "                         subscription queues too). http only to a\n"
    "                         loopback host; https is verified. Without it,\n"
    "                         such users stay connected until they\n"
    "                         reconnect.\n"
    "  --rabbitmq-api-credentials FILE\n"
    "                         \"user:password\" of a management user with\n"
    "                         the administrator tag (to close other users'\n"
    "                         connections) and the configure permission on\n"
    "                         the vhost's mqtt-subscription- queues (to\n"
    "                         delete them); FILE mode 0600 or stricter,\n"
    "                         read at each use. Required with\n"
    "                         --rabbitmq-api.\n"
    "  --rabbitmq-api-cafile FILE\n"
    "                         CA certificates for an https API (default:\n"
    "                         the system's)\n"
    "  --rabbitmq-remember N  clients whose allowed answers are remembered\n"
    "                         (default 10000; the least recently used go)\n"
    "  --login-source-failures N, --login-user-failures N,\n"
    "  --login-pause-ms N, --login-backoff S, --login-backoff-max S,\n"
    "  --login-window S, --login-cache-size N, --login-cache-ttl S,\n"
    "  --login-log-interval S\n"
    "                         the login guard, as the plugin's\n"
    "                         plugin_opt_login_* options; the \"source\" of a\n"
    "                         login is its user name here (RabbitMQ does not\n"
    "                         pass the client's address)\n"
    "  -v, --verbose          log allowed answers too\n"
    "  -h, --help             this text\n"
    "\n"
    "Logs to stderr. SIGHUP reloads the database at once; SIGTERM/SIGINT\n"
    "stop. Exit status: 0 stopped by a signal, 1 cannot start (database,\n"
    "socket, credentials file), 2 bad options.\n";

static int g_verbose;

static void log_line(void *user, secmq_svc_level level, const char *line)
{
    (void)user;
    if (level == SECMQ_SVC_DEBUG && !g_verbose) {
        return;
    }
    (void)fprintf(stderr, "secmq-authd: %s%s\n",
                  level == SECMQ_SVC_ERR       ? "error: "
                  : level == SECMQ_SVC_WARNING ? "warning: "
                                               : "",
                  line);
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    (void)fprintf(stderr, "secmq-authd: ");
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fprintf(stderr, "\nTry 'secmq-authd --help'.\n");
    return EXIT_USAGE;
}

static int parse_num(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

/* A bound, listening unix socket at path; -1 with err. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof sun.sun_path) {
        (void)snprintf(err, errlen, "unix socket path too long: %s", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        (void)snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (lstat(path, &st) == 0) {
        /* A socket left by a stopped secmq-authd is replaced; one that
         * answers belongs to a running service; anything else is kept. */
        if (!S_ISSOCK(st.st_mode)) {
            (void)snprintf(err, errlen, "%s exists and is not a socket", path);
            (void)close(fd);
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
            (void)snprintf(err, errlen,
                           "%s is in use (another secmq-authd runs there)",
                           path);
            (void)close(fd);
            return -1;
        }
        (void)close(fd);
        (void)unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            (void)snprintf(err, errlen, "socket: %s", strerror(errno));
            return -1;
        }
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
        chmod(path, 0660) != 0 || listen(fd, 128) != 0) {
        (void)snprintf(err, errlen, "cannot listen on %s: %s", path,
                       strerror(errno));
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* A listening TCP socket for HOST:PORT; -1 with err, -2 for a refused
 * non-loopback address. Its real address printed into shown. */
static int listen_tcp(const char *spec, int allow_remote, char *shown,
                      size_t shown_len, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen;
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char abuf[INET6_ADDRSTRLEN];
    int fd, one = 1, rc;

    if (colon == NULL || colon[1] == '\0') {
        (void)snprintf(err, errlen, "--listen %s: HOST:PORT or unix:PATH",
                       spec);
        return -2;
    }
    hlen = (size_t)(colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        h = spec + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host) {
        (void)snprintf(err, errlen, "--listen %s: no host", spec);
        return -2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        (void)snprintf(err, errlen,
                       "--listen %s: %s (an IP address and a "
                       "port number)",
                       spec, gai_strerror(rc));
        return -2;
    }
    if (!is_loopback(ai->ai_addr) && !allow_remote) {
        (void)snprintf(err, errlen,
                       "--listen %s is not a loopback address: RabbitMQ "
                       "sends passwords in clear; add --allow-remote to "
                       "listen there anyway",
                       spec);
        freeaddrinfo(ai);
        return -2;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        (void)snprintf(err, errlen, "cannot listen on %s: %s", spec,
                       strerror(errno));
        if (fd >= 0) {
            (void)close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&ss;
        (void)inet_ntop(AF_INET, &in->sin_addr, abuf, sizeof abuf);
        (void)snprintf(shown, shown_len, "%s:%u", abuf, ntohs(in->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const void *)&ss;
        (void)inet_ntop(AF_INET6, &in6->sin6_addr, abuf, sizeof abuf);
        (void)snprintf(shown, shown_len, "[%s]:%u", abuf,
                       ntohs(in6->sin6_port));
    }
    return fd;
}

enum {
    OPT_DB = 256,
    OPT_LISTEN,
    OPT_ALLOW_REMOTE,
    OPT_VHOST,
    OPT_EXCHANGE,
    OPT_RELOAD,
    OPT_IDPAT,
    OPT_CONNS,
    OPT_API,
    OPT_API_CREDS,
    OPT_API_CA,
    OPT_REMEMBER,
    OPT_LOGIN /* + index into login_keys */
};

static const char *const login_keys[] = {
    "login_source_failures", "login_user_failures", "login_pause_ms",
    "login_backoff",         "login_backoff_max",   "login_window",
    "login_cache_size",      "login_cache_ttl",     "login_log_interval"};

typedef struct opts {
    const char *db;
    const char *listen;
    int allow_remote;
    long reload_s;
    long conns;
    const char *idpat;
    const char *api;
    const char *api_creds;
    const char *api_ca;
    long remember;
} opts;

static int parse_args(int argc, char **argv, authd *d, opts *o)
{
    static struct option lo[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
        {"vhost", required_argument, NULL, OPT_VHOST},
        {"exchange", required_argument, NULL, OPT_EXCHANGE},
        {"reload-interval", required_argument, NULL, OPT_RELOAD},
        {"client-id-pattern", required_argument, NULL, OPT_IDPAT},
        {"max-connections", required_argument, NULL, OPT_CONNS},
        {"rabbitmq-api", required_argument, NULL, OPT_API},
        {"rabbitmq-api-credentials", required_argument, NULL, OPT_API_CREDS},
        {"rabbitmq-api-cafile", required_argument, NULL, OPT_API_CA},
        {"rabbitmq-remember", required_argument, NULL, OPT_REMEMBER},
        {"login-source-failures", required_argument, NULL, OPT_LOGIN + 0},
        {"login-user-failures", required_argument, NULL, OPT_LOGIN + 1},
        {"login-pause-ms", required_argument, NULL, OPT_LOGIN + 2},
        {"login-backoff", required_argument, NULL, OPT_LOGIN + 3},
        {"login-backoff-max", required_argument, NULL, OPT_LOGIN + 4},
        {"login-window", required_argument, NULL, OPT_LOGIN + 5},
        {"login-cache-size", required_argument, NULL, OPT_LOGIN + 6},
        {"login-cache-ttl", required_argument, NULL, OPT_LOGIN + 7},
        {"login-log-interval", required_argument, NULL, OPT_LOGIN + 8},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char err[256];
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":vh", lo, NULL)) != -1) {
        switch (c) {
        case OPT_DB:
            o->db = optarg;
            break;
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_ALLOW_REMOTE:
            o->allow_remote = 1;
            break;
        case OPT_VHOST:
            d->vhost = optarg;
            break;
        case OPT_EXCHANGE:
            d->exchange = optarg;
            break;
        case OPT_RELOAD:
            if (parse_num(optarg, 1, RELOAD_MAX_S, &o->reload_s) != 0) {
                return usage_error("--reload-interval must be 1..3600 "
                                   "seconds, not '%s'",
                                   optarg);
            }
            break;
        case OPT_IDPAT:
            o->idpat = optarg;
            break;
        case OPT_CONNS:
            if (parse_num(optarg, 1, 100000, &o->conns) != 0) {
                return usage_error("--max-connections must be 1..100000, "
                                   "not '%s'",
                                   optarg);
            }
            break;
        case OPT_API:
            o->api = optarg;
            break;
        case OPT_API_CREDS:
            o->api_creds = optarg;
            break;
        case OPT_API_CA:
            o->api_ca = optarg;
            break;
        case OPT_REMEMBER:
            if (parse_num(optarg, 1, 10000000, &o->remember) != 0) {
                return usage_error("--rabbitmq-remember must be "
                                   "1..10000000, not '%s'",
                                   optarg);
            }
            break;
        case 'v':
            d->verbose = 1;
            break;
        case 'h':
            (void)fputs(usage_text, stdout);
            exit(0);
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        case '?':
            return usage_error("unknown option '%s'", argv[optind - 1]);
        default:
            if (c >= OPT_LOGIN && c < OPT_LOGIN + 9) {
                if (secmq__guard_option(&d->svc.guard_cfg,
                                        login_keys[c - OPT_LOGIN], optarg, err,
                                        sizeof err) != 1) {
                    return usage_error("%s", err);
                }
                break;
            }
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (o->db == NULL || o->db[0] == '\0') {
        return usage_error("%s", "--db PATH (the auth database) is required");
    }
    if ((o->api != NULL) != (o->api_creds != NULL)) {
        return usage_error("%s", "--rabbitmq-api and "
                                 "--rabbitmq-api-credentials go together");
    }
    if (o->api_ca != NULL && o->api == NULL) {
        return usage_error("%s", "--rabbitmq-api-cafile needs --rabbitmq-api");
    }
    if (o->api != NULL && authd_mgmt_check_url(o->api, err, sizeof err) != 0) {
        return usage_error("--rabbitmq-api: %s", err);
    }
    if (o->idpat != NULL &&
        secmq__idpats_parse(&d->idpats, o->idpat, err, sizeof err) != 0) {
        return usage_error("--client-id-pattern: %s", err);
    }
    return 0;
}

static int open_listener(const opts *o, char *shown, size_t shown_len)
{
    char err[512];
    int fd;

    if (strncmp(o->listen, "unix:", 5) == 0) {
        fd = listen_unix(o->listen + 5, err, sizeof err);
        (void)snprintf(shown, shown_len, "%s", o->listen);
    } else {
        fd = listen_tcp(o->listen, o->allow_remote, shown, shown_len, err,
                        sizeof err);
    }
    if (fd == -2) {
        (void)usage_error("%s", err);
        return -EXIT_USAGE;
    }
    if (fd < 0) {
        log_line(NULL, SECMQ_SVC_ERR, err);
        return -1;
    }
    return fd;
}

/* Serve until a signal stops it. */
static int serve(authd *d, authd_http *h, long reload_s)
{
    sigset_t set;
    struct pollfd pf[2];
    time_t next = time(NULL) + reload_s;

    (void)sigemptyset(&set);
    (void)sigaddset(&set, SIGTERM);
    (void)sigaddset(&set, SIGINT);
    (void)sigaddset(&set, SIGHUP);
    pf[0].fd = authd_http_fd(h);
    pf[0].events = POLLIN;
    pf[1].fd = signalfd(-1, &set, SFD_CLOEXEC);
    pf[1].events = POLLIN;
    if (pf[0].fd < 0 || pf[1].fd < 0) {
        log_line(NULL, SECMQ_SVC_ERR, "cannot poll (epoll or signalfd)");
        return 1;
    }
    for (;;) {
        int force = 0;
        (void)poll(pf, 2, authd_http_timeout_ms(h, 1000));
        if (pf[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(pf[1].fd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo != SIGHUP) {
                    secmq__svc_logf(&d->svc, SECMQ_SVC_NOTICE,
                                    "stopping (signal %u)", si.ssi_signo);
                    (void)close(pf[1].fd);
                    return 0;
                }
                force = 1;
            }
        }
        authd_http_run(h);
        if (force || time(NULL) >= next) {
            next = time(NULL) + reload_s;
            if (secmq__authsvc_reload(&d->svc, force) == 1) {
                secmq__svc_logf(&d->svc, SECMQ_SVC_NOTICE,
                                "reloaded policy: %zu users, %zu rules",
                                d->svc.policy.nusers, d->svc.policy.nrules);
            }
        }
        authd_revoke_tick(d->rv);
        secmq__authsvc_tick(&d->svc, secmq__mono_ms());
    }
}

/* The management API's side, when asked for: the credentials are read
 * once now to fail early (and again at each use). 0, or 1 to stop. */
static int revoke_start(authd *d, const opts *o)
{
    authd_revoke_cfg cfg = {
        {o->api, o->api_ca}, o->api_creds, (size_t)o->remember, o->reload_s};
    char user[AUTHD_CREDS_MAX + 1], err[512];
    char *pass;

    if (o->api == NULL) {
        return 0;
    }
    pass = sodium_malloc(AUTHD_CREDS_MAX + 1);
    if (pass == NULL || authd_mgmt_init() != 0) {
        log_line(NULL, SECMQ_SVC_ERR, "out of memory");
        sodium_free(pass);
        return 1;
    }
    if (authd_creds_read(o->api_creds, user, sizeof user, pass,
                         AUTHD_CREDS_MAX + 1, err, sizeof err) != 0) {
        sodium_free(pass);
        secmq__svc_logf(&d->svc, SECMQ_SVC_ERR,
                        "--rabbitmq-api-credentials: %s", err);
        return 1;
    }
    sodium_free(pass); /* wipes */
    d->rv = authd_revoke_new(d, &cfg, err, sizeof err);
    if (d->rv == NULL) {
        secmq__svc_logf(&d->svc, SECMQ_SVC_ERR, "%s", err);
        return 1;
    }
    d->svc.on_load = authd_revoke_on_load;
    d->svc.load_user = d;
    secmq__svc_logf(&d->svc, SECMQ_SVC_NOTICE,
                    "closing the RabbitMQ connections of users who lose "
                    "access, through %s as '%s'",
                    o->api, user);
    sodium_memzero(user, sizeof user);
    return 0;
}

int main(int argc, char **argv)
{
    authd d = {0};
    opts o = {
        NULL, AUTHD_DEFAULT_LISTEN,  0, 1, CONNS_DEFAULT, NULL, NULL, NULL,
        NULL, AUTHD_REMEMBER_DEFAULT};
    char err[512] = "", shown[300];
    authd_http *h;
    sigset_t set;
    int rc, fd;

    d.vhost = AUTHD_DEFAULT_VHOST;
    d.exchange = AUTHD_DEFAULT_EXCHANGE;
    secmq__guard_cfg_default(&d.svc.guard_cfg);
    rc = parse_args(argc, argv, &d, &o);
    if (rc != 0) {
        return rc;
    }
    g_verbose = d.verbose;
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (sodium_init() < 0) {
        log_line(NULL, SECMQ_SVC_ERR, "libsodium failed to start");
        return 1;
    }
    /* Signals arrive through signalfd (serve) from here on. */
    (void)sigemptyset(&set);
    (void)sigaddset(&set, SIGTERM);
    (void)sigaddset(&set, SIGINT);
    (void)sigaddset(&set, SIGHUP);
    (void)sigprocmask(SIG_BLOCK, &set, NULL);
    (void)signal(SIGPIPE, SIG_IGN);

    d.svc.db_path = strdup(o.db);
    d.svc.idpats = &d.idpats;
    d.svc.log = log_line;
    if (d.svc.db_path == NULL || revoke_start(&d, &o) != 0) {
        free(d.svc.db_path);
        return 1;
    }
    if (d.rv == NULL) {
        secmq__svc_logf(&d.svc, SECMQ_SVC_WARNING,
                        "no --rabbitmq-api: users who are deleted, "
                        "disabled, get a new password or lose a rule stay "
                        "connected to RabbitMQ until they reconnect "
                        "(docs/DEPLOY.md, section 11)");
    }
    rc = secmq__authsvc_start(&d.svc, err, sizeof err);
    if (rc != SECMQ_OK) {
        secmq__svc_logf(&d.svc, SECMQ_SVC_ERR,
                        "cannot use the auth database %s: %s", o.db, err);
        authd_revoke_free(d.rv);
        secmq__authsvc_clear(&d.svc);
        return 1;
    }
    fd = open_listener(&o, shown, sizeof shown);
    if (fd < 0) {
        authd_revoke_free(d.rv);
        secmq__authsvc_clear(&d.svc);
        return fd == -EXIT_USAGE ? EXIT_USAGE : 1;
    }
    if (strncmp(o.listen, "unix:", 5) != 0 && o.allow_remote) {
        secmq__svc_logf(&d.svc, SECMQ_SVC_WARNING,
                        "--allow-remote: listening on %s, which may not be "
                        "loopback: passwords cross the network in clear "
                        "unless a TLS proxy or a private link carries them",
                        shown);
    }
    h = authd_http_start(&d, fd, (unsigned)o.conns, err, sizeof err);
    if (h == NULL) {
        secmq__svc_logf(&d.svc, SECMQ_SVC_ERR, "%s", err);
        authd_revoke_free(d.rv);
        secmq__authsvc_clear(&d.svc);
        return 1;
    }
    secmq__svc_logf(&d.svc, SECMQ_SVC_NOTICE,
                    "loaded %zu users, %zu rules from %s; vhost '%s', "
                    "exchange '%s'; checked for changes every %ld s",
                    d.svc.policy.nusers, d.svc.policy.nrules, o.db, d.vhost,
                    d.exchange, o.reload_s);
    secmq__svc_logf(&d.svc, SECMQ_SVC_NOTICE, "listening on %s", shown);
    rc = serve(&d, h, o.reload_s);
    authd_http_stop(h);
    authd_revoke_free(d.rv);
    if (d.rv != NULL) {
        authd_mgmt_cleanup();
    }
    if (strncmp(o.listen, "unix:", 5) == 0) {
        (void)unlink(o.listen + 5);
    }
    secmq__authsvc_clear(&d.svc);
    return rc;
}
