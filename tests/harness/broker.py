"""broker.py -- a throw-away mosquitto broker with its own PKI, for tests.

Each Broker lives in its own temporary directory: certificates made by
BUILD/bin/secmq-certs, a password file with random passwords for sam, alice
and eve, a mosquitto.conf with loopback-only listeners on free ports, and the
broker's log (kept for failure output). With auth="plugin" the password
file is replaced by the secmq_auth.so broker plugin and an auth database made
with BUILD/bin/secmq-admin (same users, same kind of passwords, the seed
policy: sam writes `status`, alice reads it). It is not a general broker manager:
it only starts mosquitto (/usr/sbin/mosquitto; for the plugin, the one
plugin_mosquitto() names) on 127.0.0.1 and every wait is bounded.
Run with /usr/bin/python3 (Debian's modules are only visible to it).
"""

import ctypes
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
STDBUF = "/usr/bin/stdbuf"
HOST = "127.0.0.1"
USERS = ("sam", "alice", "eve")

# Listener kinds a broker can offer. "tls" is the main listener.
#   tls        broker.crt (localhost, 127.0.0.1, ::1); client cert only
#              when require_cert is set
#   mtls       broker.crt, require_certificate true
#   expired    a certificate for localhost/127.0.0.1 that expired yesterday
#   wrongname  a certificate valid only for other.example
#   tls13      broker.crt, tls_version tlsv1.3 (TLS 1.3 minimum)
#   plain      no TLS at all
#   wss        MQTT over WebSockets with TLS (protocol websockets), broker.crt;
#              what a browser connects to (wss://127.0.0.1:PORT/). Clients
#              use 127.0.0.1 only, but mosquitto 2.0.11 opens a websockets
#              listener on every address whatever the listener line names
#              (seen with ss: *:PORT): a test with one runs in a network
#              namespace of its own, with only loopback in it
#              (test_web_dashboard.py)
LISTENER_KINDS = ("tls", "mtls", "expired", "wrongname", "tls13", "plain",
                  "wss")

START_ATTEMPTS = 5        # port collisions tolerated on a first start
READY_TIMEOUT_S = 10.0    # broker must accept connections within this
STOP_TIMEOUT_S = 5.0      # SIGTERM grace before SIGKILL
ADMIN_TIMEOUT_S = 30.0    # no secmq-admin run may take longer

# How the broker authenticates and authorises (Broker(auth=...)):
#   passwd  a mosquitto password file, no ACLs (every user may do anything)
#   plugin  the secmq_auth.so plugin (broker-plugin/) with an auth database
#           made by secmq-admin; no password_file, no acl_file
AUTH_MODES = ("passwd", "plugin")

# The seed policy: sam may write `status`, alice may read (and
# subscribe to) it, nobody else anything. Arguments of `secmq-admin acl add`.
SEED_RULES = (("--user", "sam", "status", "write"),
              ("--user", "alice", "status", "read"))

# The name of the plugin's database option (plugin_opt_NAME PATH).
# SECMQ_PLUGIN_DB_OPTION overrides it. mosquitto 2.0.11 refuses every
# plugin_opt_ / auth_opt_ key shorter than 3 characters ("Error: Invalid
# auth_opt_ config option."): its length check counts the key, a space and
# a value, but sees the key alone.
PLUGIN_DB_OPTION = os.environ.get("SECMQ_PLUGIN_DB_OPTION") or "database"


# The PKI and the auth database a Broker starts from are made once per test
# run and build: by that build's secmq-certs and secmq-admin, into a
# template directory under SECMQ_TEST_TMPDIR (or the system's temp dir)
# named by the tools' paths, sizes and times, then copied into each
# broker's own directory (each test still has its own files to change).
# Running the tools for every broker was 8-14 processes per test, each
# ~0.1 s of CPU under the sanitizers (LeakSanitizer's exit scan) and more
# under qemu-user. The tools' own
# behaviour is tested by their tests (test_config, test_admin_cli, ...).
TEMPLATE_MAX_AGE_S = 6 * 3600.0


def _purge_templates(base):
    """Remove this user's templates (of earlier builds) older than
    TEMPLATE_MAX_AGE_S from base."""
    prefix = "secmq-template-%d-" % os.getuid()
    for name in os.listdir(base):
        if not name.startswith(prefix) or name.endswith(".lock"):
            continue
        path = os.path.join(base, name)
        try:
            old = time.time() - os.stat(path).st_mtime > TEMPLATE_MAX_AGE_S
        except OSError:
            continue
        if old:
            shutil.rmtree(path, ignore_errors=True)
            try:
                os.unlink(path + ".lock")
            except OSError:
                pass


def template(bin_dir, what, make, tools=("secmq-certs", "secmq-admin"),
             max_age_s=TEMPLATE_MAX_AGE_S):
    """The directory holding template `what` made with the tools (names in
    bin_dir), made by make(dir) the first time (under a lock: parallel
    tests wait for one maker) and again when older than max_age_s or made
    by other tools (another build, or the tools rebuilt)."""
    h = hashlib.sha256(os.path.realpath(bin_dir).encode())
    for tool in tools:
        try:
            st = os.stat(os.path.join(bin_dir, tool))
            h.update(b"%s %d %d" % (tool.encode(), st.st_size,
                                    st.st_mtime_ns))
        except OSError:
            h.update(tool.encode() + b" missing")
    h.update(what.encode())
    base = os.environ.get("SECMQ_TEST_TMPDIR") or tempfile.gettempdir()
    path = os.path.join(base, "secmq-template-%d-%s" % (os.getuid(),
                                                         h.hexdigest()[:20]))
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = os.path.join(path, "complete")
        try:
            if time.time() - os.stat(done).st_mtime < max_age_s:
                return path
        except OSError:
            pass
        shutil.rmtree(path, ignore_errors=True)
        _purge_templates(base)
        tmp = tempfile.mkdtemp(prefix="secmq-template-", dir=base)
        try:
            make(tmp)
            with open(os.path.join(tmp, "complete"), "w"):
                pass
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return path


def pw_cost_args():
    """secmq-admin init options for the argon2id cost of test databases.

    Empty (the deployed default, ops 3 and 8 MiB) unless the environment
    sets SECMQ_TEST_PW_COST=OPS:MEM (e.g. 1:64K). The arm64 pass sets it:
    under qemu-user one default-cost hash takes ~250 ms of emulated CPU in
    the broker for every login, and the cost is libsodium's, not this
    project's code; the native and sanitizer passes keep the default."""
    cost = os.environ.get("SECMQ_TEST_PW_COST", "")
    if not cost:
        return []
    ops, sep, mem = cost.partition(":")
    if not sep or not ops.isdigit() or not mem:
        raise BrokerError("SECMQ_TEST_PW_COST=%r is not OPS:MEM (e.g. 1:64K)"
                          % cost)
    return ["--pw-ops", ops, "--pw-mem", mem]


class BrokerError(RuntimeError):
    """The broker or its PKI could not be set up; the message says why."""


try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None
_PR_SET_PDEATHSIG = 1


def plugin_mosquitto():
    """The mosquitto that loads the secmq_auth.so plugin (auth="plugin"):
    SECMQ_PLUGIN_MOSQUITTO from the environment (CMake sets it from
    SECMQ_TEST_PLUGIN_MOSQUITTO), else MOSQUITTO. A cross-built plugin
    (arm64, scripts/test-arm64.sh) can only be loaded by a broker of its
    own architecture, run through qemu-user; brokers without the plugin
    stay the machine's own MOSQUITTO."""
    path = os.environ.get("SECMQ_PLUGIN_MOSQUITTO") or MOSQUITTO
    if not os.access(path, os.X_OK):
        raise BrokerError("SECMQ_PLUGIN_MOSQUITTO: %s is not an executable"
                          % path)
    return path


def die_with_parent():
    """preexec_fn: SIGTERM this child when the process that started it dies
    (a ctest timeout kills the test without running its teardown). libc is
    loaded beforehand: nothing may be dlopen'ed between fork and exec."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def free_ports(count):
    """Return count distinct free TCP ports on 127.0.0.1.

    All sockets are held open together so the ports differ; another process
    may still take one before mosquitto binds it, hence the retry in
    Broker.start()."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def sanitizer_preload(library):
    """Environment for a program that loads library (the plugin) when the
    library was built with ASan/UBSan (SECMQ_SANITIZE) and the program
    (/usr/sbin/mosquitto) was not: the sanitizer runtimes must be loaded
    first, so LD_PRELOAD them. The plugin is then checked by the
    sanitizers inside the real broker (reports land in the broker's log:
    see SANITIZER_REPORT). {} for an ordinary build."""
    try:
        r = subprocess.run(["ldd", library], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        m = re.search(r"^\s*%s\S* => (\S+)" % re.escape(name), r.stdout,
                      re.M)
        if m:
            libs.append(m.group(1))
    if not libs:
        return {}
    supp = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "lsan-mosquitto.supp")
    lsan = os.environ.get("LSAN_OPTIONS", "")
    lsan = (lsan + ":" if lsan else "") + "suppressions=" + supp
    return {"LD_PRELOAD": ":".join(libs), "LSAN_OPTIONS": lsan}


# What the sanitizers print when they find something (in the broker's log
# when the plugin runs under them).
SANITIZER_REPORT = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ")


def fakeclock_env(offset_file):
    """Environment that runs a program on the fake wall clock of
    harness/fakeclock.c (SECMQ_FAKECLOCK: its library, set by CMake):
    time() is off by the seconds written into offset_file. None when the
    library was not built (the caller skips)."""
    lib = os.environ.get("SECMQ_FAKECLOCK")
    if not lib or not os.path.exists(lib):
        return None
    return {"LD_PRELOAD": lib, "SECMQ_FAKECLOCK_FILE": offset_file}


def default_bin_dir():
    """SECMQ_BIN_DIR from the environment (set by CMake), else build/bin."""
    d = os.environ.get("SECMQ_BIN_DIR")
    if d:
        return d
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "build", "bin"))


class Broker:
    """One mosquitto instance with its PKI, passwords and log.

    Use as a context manager, or call setup()/start() and close().
    Attributes after setup(): dir, pki (PKI directory: ca, broker, sam,
    alice, and expired-client, a client certificate that expired
    yesterday), cafile, other (an unrelated CA's directory, with its client
    mallory), other_cafile, users {name: password}, pins,
    ports {kind: port} after the first start(), port (the "tls" one).
    With auth="plugin": auth_db (the plugin's database), seed_rules, and
    admin() to change the database while the broker runs."""

    def __init__(self, bin_dir=None, listeners=("tls",), require_cert=False,
                 persistence=False, keepalive_max=None, name="broker",
                 auth="passwd", require_signed=False, plugin_seed=True,
                 reload_interval=None, plugin_opts=None,
                 max_queued_messages=0, env=None, extra_conf=()):
        for kind in listeners:
            if kind not in LISTENER_KINDS:
                raise ValueError("unknown listener kind %r" % kind)
        if auth not in AUTH_MODES:
            raise ValueError("unknown auth mode %r" % auth)
        if "tls" not in listeners:
            listeners = ("tls",) + tuple(listeners)
        self.bin_dir = bin_dir or default_bin_dir()
        self.listeners = tuple(dict.fromkeys(listeners))
        self.require_cert = require_cert
        self.persistence = persistence
        self.name = name
        self.dir = None
        self.pki = None
        self.other = None
        self.cafile = None
        self.other_cafile = None
        self.users = {}
        self.pins = {}
        self.ports = {}
        self.run_dir = None
        self.proc = None
        self.log_path = None
        self.conf_path = None
        self._log_fh = None
        self.starts = 0
        self.last_returncode = None
        # auth="plugin": the secmq_auth.so plugin and its database
        # (auth_db, made by secmq-admin in setup()). require_signed and
        # reload_interval become plugin_opt_require_signed and
        # plugin_opt_reload_interval; plugin_opts {name: value} adds other
        # plugin_opt_NAME lines. plugin_seed: give sam and alice the seed
        # policy (SEED_RULES); without it the database has users only.
        self.auth = auth
        self.require_signed = require_signed
        self.plugin_seed = plugin_seed
        self.reload_interval = reload_interval
        self.plugin_opts = dict(plugin_opts or {})
        self.auth_db = None
        self.passwd_path = None
        # 0 = unlimited (counting tests must not lose QoS 1 messages). But
        # mosquitto 2.0.11 then disconnects every client whose PUBLISH is
        # refused (handle__publish compares the client's queue length with
        # max_queued_messages, 0 included, and answers a refused message
        # with "quota exceeded"): ACL tests give a large number instead.
        self.max_queued_messages = max_queued_messages
        self.seed_rules = {}    # user -> id of its SEED_RULES rule
        # Extra environment for mosquitto ({name: value}); an LD_PRELOAD
        # here comes after the sanitizer runtimes (e.g. the fake clock of
        # harness/fakeclock.c, see fakeclock_env()).
        self.extra_env = dict(env or {})
        # More mosquitto.conf lines, written after the listeners (a bridge
        # section, say); a callable is called at each start and returns
        # them, for lines that depend on other brokers' ports.
        self.extra_conf = extra_conf
        self.mosquitto = plugin_mosquitto() if auth == "plugin" else MOSQUITTO
        # stdbuf -oL works by preloading a library of this machine's
        # architecture: a broker of another one (run through qemu-user)
        # logs to the file itself instead, which mosquitto flushes per line.
        self.log_to_file = self.mosquitto != MOSQUITTO or \
            not os.access(STDBUF, os.X_OK)

    # -- set-up -----------------------------------------------------------

    def __enter__(self):
        try:
            self.setup()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def host(self):
        return HOST

    @property
    def port(self):
        return self.ports["tls"]

    def certs_tool(self):
        path = os.path.join(self.bin_dir, "secmq-certs")
        if not os.access(path, os.X_OK):
            raise BrokerError("secmq-certs not found at %s (build it first, "
                              "or set SECMQ_BIN_DIR)" % path)
        return path

    def _certs(self, *args):
        """Run secmq-certs; return its stdout, raise with its stderr."""
        cmd = [self.certs_tool()] + list(args)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=30)
        except subprocess.TimeoutExpired:
            raise BrokerError("%s timed out" % " ".join(cmd))
        if r.returncode != 0:
            raise BrokerError("%s failed (exit %d): %s" % (
                " ".join(cmd), r.returncode, r.stderr.strip()))
        return r.stdout

    def setup(self):
        """Make the temp dir, the PKI and the password file."""
        base = os.environ.get("SECMQ_TEST_TMPDIR") or None
        self.dir = tempfile.mkdtemp(prefix="secmq-%s-" % self.name, dir=base)
        self.pki = os.path.join(self.dir, "pki")
        self.other = os.path.join(self.dir, "other-ca")
        tpl = template(self.bin_dir, "pki", self._make_pki)
        shutil.copytree(os.path.join(tpl, "pki"), self.pki)
        shutil.copytree(os.path.join(tpl, "other-ca"), self.other)
        with open(os.path.join(tpl, "pins.json")) as fh:
            self.pins.update(json.load(fh))
        self.cafile = os.path.join(self.pki, "ca.crt")
        self.other_cafile = os.path.join(self.other, "ca.crt")
        if self.auth == "plugin":
            self._write_auth_db()
        else:
            self._write_passwords()
        # Clients started for this test keep their private sockets here
        # (libsecmq puts its tunnel socket under $XDG_RUNTIME_DIR), so what
        # a killed client leaves behind goes away with the directory.
        self.run_dir = os.path.join(self.dir, "run")
        os.mkdir(self.run_dir, 0o700)
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")

    def _make_pki(self, tpl):
        """The test PKI in tpl/pki (secmq-certs dev, plus a wrong-name and
        an expired broker certificate and an expired client certificate,
        all from the test CA), an unrelated CA with its client mallory in
        tpl/other-ca, and the pins of broker.crt and wrongname.crt in
        tpl/pins.json."""
        pki = os.path.join(tpl, "pki")
        other = os.path.join(tpl, "other-ca")
        pins = {}
        self._certs("dev", "--dir", pki)
        for f in ("ca.crt", "broker.crt", "broker.key", "sam.crt", "sam.key",
                  "alice.crt", "alice.key"):
            if not os.path.isfile(os.path.join(pki, f)):
                raise BrokerError("secmq-certs dev did not write %s" % f)
        # A broker certificate that names only another host, and one that
        # expired yesterday; both signed by the test CA.
        self._certs("server", "--dir", pki, "--name", "wrongname",
                    "--dns", "other.example")
        self._certs("server", "--dir", pki, "--name", "expired",
                    "--dns", "localhost", "--ip", HOST, "--expired")
        # A client certificate from the test CA that expired yesterday.
        self._certs("client", "--dir", pki, "--name", "expired-client",
                    "--expired")
        # An unrelated CA with its own client certificate.
        self._certs("ca", "--dir", other)
        self._certs("client", "--dir", other, "--name", "mallory")
        pins["broker"] = self._certs(
            "pin", os.path.join(pki, "broker.crt")).strip()
        pins["wrongname"] = self._certs(
            "pin", os.path.join(pki, "wrongname.crt")).strip()
        if not re.fullmatch(r"sha256:[A-Za-z0-9+/]{43}=", pins["broker"]):
            raise BrokerError("secmq-certs pin printed %r, not sha256:<b64>"
                              % pins["broker"])
        with open(os.path.join(tpl, "pins.json"), "w") as fh:
            json.dump(pins, fh)

    def _write_passwords(self):
        path = os.path.join(self.dir, "passwd")
        for i, user in enumerate(USERS):
            pw = secrets.token_urlsafe(18)
            self.users[user] = pw
            cmd = [MOSQUITTO_PASSWD] + (["-c"] if i == 0 else []) + \
                ["-b", path, user, pw]
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=30)
            if r.returncode != 0:
                raise BrokerError("mosquitto_passwd failed: %s" %
                                  (r.stderr.strip() or r.stdout.strip()))
        os.chmod(path, 0o600)
        self.passwd_path = path

    # -- the plugin's auth database (auth="plugin") -----------------------

    def admin_tool(self):
        path = os.path.join(self.bin_dir, "secmq-admin")
        if not os.access(path, os.X_OK):
            raise BrokerError("secmq-admin not found at %s (build it first, "
                              "or set SECMQ_BIN_DIR)" % path)
        return path

    def plugin_path(self):
        """SECMQ_PLUGIN from the environment, else BIN_DIR/../lib/
        secmq_auth.so (where the build puts it)."""
        path = os.environ.get("SECMQ_PLUGIN") or os.path.normpath(
            os.path.join(self.bin_dir, "..", "lib", "secmq_auth.so"))
        if not os.path.isfile(path):
            raise BrokerError("secmq_auth.so not found at %s (build it "
                              "first, or set SECMQ_PLUGIN)" % path)
        return path

    def admin(self, *args, check=True, input=None, db=None,
              timeout=ADMIN_TIMEOUT_S):
        """Run `secmq-admin --db AUTH_DB ARGS...` (db: another database
        file) and return the CompletedProcess (text). input is its stdin
        (a password line for `user add` / `user passwd`); without it stdin
        is /dev/null. With check, a non-zero exit raises BrokerError with
        its stderr."""
        cmd = [self.admin_tool(), "--db", db or self.auth_db] + \
            [str(a) for a in args]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout, input=input,
                               stdin=None if input is not None
                               else subprocess.DEVNULL,
                               preexec_fn=die_with_parent)
        except subprocess.TimeoutExpired:
            raise BrokerError("%s timed out after %.0f s"
                              % (" ".join(cmd), timeout))
        if check and r.returncode != 0:
            raise BrokerError("%s failed (exit %d): %s" % (
                " ".join(cmd), r.returncode,
                (r.stderr.strip() or r.stdout.strip())))
        return r

    def add_user(self, name, password=None, db=None):
        """`secmq-admin user add NAME --password-file -` with the password
        on stdin (random when not given); remembered in self.users unless
        another database is named. Returns the password."""
        pw = password if password is not None else secrets.token_urlsafe(18)
        self.admin("user", "add", name, "--password-file", "-",
                   input=pw + "\n", db=db)
        if db is None:
            self.users[name] = pw
        return pw

    def set_password(self, name, password=None):
        """`secmq-admin user passwd NAME` with a new (random) password;
        self.users follows. Returns the new password."""
        pw = password if password is not None else secrets.token_urlsafe(18)
        self.admin("user", "passwd", name, "--password-file", "-",
                   input=pw + "\n")
        self.users[name] = pw
        return pw

    def acl_add(self, *args):
        """`secmq-admin acl add ARGS...`; returns the new rule's id (the
        tool prints "added rule ID")."""
        r = self.admin("acl", "add", *args)
        m = re.search(r"added rule (\d+)", r.stdout)
        if not m:
            raise BrokerError("secmq-admin acl add %s printed %r, not "
                              "'added rule ID'" % (" ".join(args), r.stdout))
        return int(m.group(1))

    def _write_auth_db(self):
        """auth.db (default argon2id cost, as deployed, unless
        SECMQ_TEST_PW_COST says otherwise) with sam, alice and eve and the
        same kind of random passwords as the password file; the seed
        policy unless plugin_seed is off. Copied from a template made once
        (template)."""
        self.auth_db = os.path.join(self.dir, "auth.db")
        cost = pw_cost_args()
        tpl = template(self.bin_dir, "auth %s seed=%d" % (
            " ".join(cost), self.plugin_seed), self._make_auth_db)
        shutil.copyfile(os.path.join(tpl, "auth.db"), self.auth_db)
        os.chmod(self.auth_db, 0o600)
        with open(os.path.join(tpl, "auth.json")) as fh:
            meta = json.load(fh)
        self.users.update(meta["users"])
        self.seed_rules = dict(meta["seed_rules"])

    def _make_auth_db(self, tpl):
        """The auth database template tpl/auth.db (secmq-admin init with
        pw_cost_args(), sam, alice and eve with random passwords, the seed
        rules unless plugin_seed is off) and tpl/auth.json with the
        passwords and the seed rules' ids."""
        db = os.path.join(tpl, "auth.db")
        self.admin("init", *pw_cost_args(), db=db)
        users = {u: self.add_user(u, db=db) for u in USERS}
        seed_rules = {}
        if self.plugin_seed:
            for rule in SEED_RULES:
                r = self.admin("acl", "add", *rule, db=db)
                m = re.search(r"added rule (\d+)", r.stdout)
                if not m:
                    raise BrokerError("secmq-admin acl add printed %r"
                                      % r.stdout)
                seed_rules[rule[1]] = int(m.group(1))
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                raise BrokerError("secmq-admin left %s%s behind" % (db,
                                                                    suffix))
        fd = os.open(os.path.join(tpl, "auth.json"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"users": users, "seed_rules": seed_rules}, fh)

    def _plugin_conf(self):
        opts = {PLUGIN_DB_OPTION: self.auth_db,
                "require_signed": "true" if self.require_signed else "false"}
        if self.reload_interval is not None:
            opts["reload_interval"] = str(self.reload_interval)
        opts.update(self.plugin_opts)
        return ["plugin " + self.plugin_path()] + \
            ["plugin_opt_%s %s" % (k, v) for k, v in opts.items()]

    def wait_reload(self, since, timeout=10.0):
        """Wait until the plugin logged a policy reload after byte offset
        since (after a change made with secmq-admin)."""
        return self.wait_for_log(r"secmq_auth: reloaded policy: ", timeout,
                                 since)

    def _listener_conf(self, kind, port):
        p = lambda f: os.path.join(self.pki, f)
        lines = ["", "listener %d %s" % (port, HOST)]
        if kind == "plain":
            return lines
        cert = {"expired": "expired", "wrongname": "wrongname"}.get(
            kind, "broker")
        lines += ["cafile " + p("ca.crt"),
                  "certfile " + p(cert + ".crt"),
                  "keyfile " + p(cert + ".key")]
        if kind == "mtls" or (kind == "tls" and self.require_cert):
            lines.append("require_certificate true")
        if kind == "tls13":
            lines.append("tls_version tlsv1.3")
        if kind == "wss":
            # The same users and ACLs: with per_listener_settings false the
            # plugin (or the password file) applies to every listener.
            lines.insert(2, "protocol websockets")
        return lines

    def _write_conf(self):
        lines = [
            "# written by tests/harness/broker.py for one test",
            "per_listener_settings false",
            "allow_anonymous false",
            "set_tcp_nodelay true",
            "max_queued_messages %d" % self.max_queued_messages,
            "log_dest " + ("file " + self.log_path if self.log_to_file
                           else "stdout"),
            "log_type all",
            "connection_messages true",
        ]
        if self.auth == "plugin":
            lines[3:3] = self._plugin_conf()
        else:
            lines.insert(3, "password_file " + self.passwd_path)
        if os.geteuid() == 0:
            lines.append("user root")
        if self.persistence:
            pdir = os.path.join(self.dir, "persist")
            os.makedirs(pdir, exist_ok=True)
            lines += ["persistence true",
                      "persistence_location " + pdir + "/",
                      "autosave_interval 1"]
        else:
            lines.append("persistence false")
        for kind in self.listeners:
            lines += self._listener_conf(kind, self.ports[kind])
        extra = self.extra_conf() if callable(self.extra_conf) \
            else self.extra_conf
        if extra:
            lines += [""] + list(extra)
        with open(self.conf_path, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    # -- running ----------------------------------------------------------

    def start(self):
        """Start mosquitto; on a first start, retry with new ports when one
        was taken. Later starts (restarts) keep the same ports."""
        if self.proc is not None:
            raise BrokerError("broker already running")
        first = not self.ports
        attempts = START_ATTEMPTS if first else 3
        last = ""
        for _ in range(attempts):
            if first:
                self.ports = dict(zip(self.listeners,
                                      free_ports(len(self.listeners))))
            self._write_conf()
            ok, last = self._spawn_and_wait()
            if ok:
                self.starts += 1
                return
            if "Address already in use" not in last:
                break
            if not first:
                time.sleep(0.5)
        if "Invalid auth_opt_ config option" in last:
            last += ("\n(mosquitto 2.0.11 refuses plugin_opt_ keys of "
                     "fewer than 3 characters)")
        raise BrokerError("mosquitto did not start:\n" + last)

    def _spawn_and_wait(self):
        self._log_fh = open(self.log_path, "ab")
        self._log_fh.write(b"==== harness: starting mosquitto on %s ====\n"
                           % str(self.ports).encode())
        self._log_fh.flush()
        # stdbuf -oL: mosquitto's stdout is block-buffered into a file, and
        # tests wait for log lines (e.g. "Sending SUBACK to id").
        # With log_to_file, mosquitto appends its log lines to log_path
        # itself; its stdout and stderr (messages before the log opens,
        # crashes) still land there too.
        cmd = [self.mosquitto, "-c", self.conf_path]
        if not self.log_to_file:
            cmd = [STDBUF, "-oL"] + cmd
        env = None
        if self.auth == "plugin" or self.extra_env:
            env = dict(os.environ)
            if self.auth == "plugin":
                env.update(sanitizer_preload(self.plugin_path()))
            extra = dict(self.extra_env)
            more = extra.pop("LD_PRELOAD", None)
            env.update(extra)
            if more:
                env["LD_PRELOAD"] = ":".join(
                    p for p in (env.get("LD_PRELOAD"), more) if p)
        self.proc = subprocess.Popen(cmd, stdout=self._log_fh,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = list(self.ports.values())
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection((HOST, pending[0]),
                                              timeout=0.5):
                    pass
                pending.pop(0)
                continue
            except OSError:
                time.sleep(0.05)
        if not pending and self.proc.poll() is None:
            return True, ""
        self._kill()
        return False, self.log_tail(40)

    def _kill(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        elif proc is not None:
            proc.wait(timeout=STOP_TIMEOUT_S)
        if proc is not None:
            self.last_returncode = proc.returncode
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def kill(self):
        """SIGKILL mosquitto (no clean shutdown: what was not autosaved is
        lost) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self._kill()

    def stop(self):
        """SIGTERM mosquitto (SIGKILL after a grace period) and reap it."""
        self._kill()

    def restart(self):
        """Stop and start again on the same ports."""
        self.stop()
        self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self, keep=None):
        """Stop the broker and remove its directory (unless keep, or
        SECMQ_TEST_KEEP=1 in the environment)."""
        self._kill()
        if keep is None:
            keep = os.environ.get("SECMQ_TEST_KEEP") == "1"
        if self.dir and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the log ----------------------------------------------------------

    def log_text(self):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except (OSError, TypeError):
            return 0

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, pattern, timeout=10.0, since=0, count=1):
        """Wait until regex pattern (multiline) matches count times in the
        log after byte offset since. Returns True, or False on timeout."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.log_path, "rb") as fh:
                    fh.seek(since)
                    text = fh.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            if len(rx.findall(text)) >= count:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def wait_subscribed(self, client_id, timeout=10.0, since=0):
        """Wait until the broker has sent a SUBACK to client_id."""
        return self.wait_for_log(r": Sending SUBACK to %s$"
                                 % re.escape(client_id), timeout, since)

    def wait_client_gone(self, client_id, timeout=10.0, since=0):
        """Wait until the broker logged client_id's disconnection."""
        return self.wait_for_log(r": Client %s (?:closed its connection|"
                                 r"disconnected)" % re.escape(client_id),
                                 timeout, since)

    # -- what tests need to know --------------------------------------------

    def env(self):
        """Environment variables describing this broker, for child tests."""
        e = {
            "SECMQ_TEST_HOST": HOST,
            "SECMQ_TEST_PORT": str(self.port),
            "SECMQ_TEST_CAFILE": self.cafile,
            "SECMQ_TEST_DIR": self.pki,
            "SECMQ_TEST_OTHER_DIR": self.other,
            "SECMQ_TEST_OTHER_CAFILE": self.other_cafile,
            "SECMQ_TEST_BROKER_PIN": self.pins["broker"],
            "SECMQ_TEST_WRONG_PIN": self.pins["wrongname"],
            "SECMQ_TEST_WORKDIR": self.dir,
            "SECMQ_TEST_LOG": self.log_path,
            "SECMQ_TEST_REQUIRE_CERT": "1" if self.require_cert else "0",
            "XDG_RUNTIME_DIR": self.run_dir,
        }
        if self.auth == "plugin":
            e["SECMQ_TEST_AUTH"] = "plugin"
            e["SECMQ_TEST_AUTH_DB"] = self.auth_db
            e["SECMQ_TEST_ADMIN"] = self.admin_tool()
        for kind, port in self.ports.items():
            if kind != "tls":
                e["SECMQ_TEST_PORT_" + kind.upper()] = str(port)
        for user, pw in self.users.items():
            e["SECMQ_TEST_USER_" + user.upper()] = user
            e["SECMQ_TEST_PASS_" + user.upper()] = pw
        return e
