#!/usr/bin/python3
"""test_authd.py -- secmq-authd as a process, asked what RabbitMQ's
rabbitmq_auth_backend_http asks (form-encoded POSTs, or GET queries), with
an auth database made by secmq-admin: users sam, alice and eve and the
seed rules (sam may publish `status`, alice may read and subscribe to it).

Checked: the login matrix, topic_path with the MQTT plugin's routing-key
translation (`/` -> `.`, `+` -> `*`, `#`) undone and the plugin's rules
applied (%u/%c patterns, the subscription-filter rule), resource_path for
the mqtt-subscription queues and amq.topic, vhost_path, a revocation seen
within the reload interval, malformed requests (4xx + "deny", logged),
a flood of bad logins next to good ones, a unix socket, and the start-up
errors (database, busy socket, options). Every wait is bounded and scaled
by TIMEOUT_SCALE. Run with /usr/bin/python3.
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from broker import SEED_RULES, USERS, default_bin_dir, pw_cost_args  # noqa
from testcase import TIMEOUT_SCALE  # noqa: E402

BIN_DIR = default_bin_dir()
AUTHD = os.path.join(BIN_DIR, "secmq-authd")
ADMIN = os.path.join(BIN_DIR, "secmq-admin")
START_S = 10.0 * TIMEOUT_SCALE      # until "listening on"
REQ_S = 10.0 * TIMEOUT_SCALE        # one HTTP request
RELOAD_S = 8.0 * TIMEOUT_SCALE      # reload interval 1 s; generous
STOP_S = 5.0 * TIMEOUT_SCALE


class Authd:
    """A secmq-authd process on a database; its log in a file."""

    def __init__(self, db, workdir, *extra):
        self.log_path = os.path.join(workdir, "authd-%d.log" % time.time_ns())
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([AUTHD, "--db", db] + list(extra),
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.listen = None

    def text(self):
        with open(self.log_path, "r", errors="replace") as fh:
            return fh.read()

    def wait_log(self, pattern, timeout, since=0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.text()[since:])
            if m:
                return m
            if self.proc.poll() is not None:
                return re.search(pattern, self.text()[since:])
            time.sleep(0.05)
        return None

    def wait_listening(self):
        m = self.wait_log(r"listening on (\S+)", START_S)
        if m is None:
            raise AssertionError("secmq-authd did not start listening:\n"
                                 + self.text())
        self.listen = m.group(1)
        return self.listen

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_S)
        self.log.close()
        return self.proc.returncode


class AuthdTestCase(unittest.TestCase):
    extra_args = ()

    def setUp(self):
        if not os.access(AUTHD, os.X_OK):
            self.fail("secmq-authd not found at %s (build it first, or set "
                      "SECMQ_BIN_DIR)" % AUTHD)
        self.dir = tempfile.mkdtemp(prefix="secmq-authd-",
                                    dir=os.environ.get("SECMQ_TEST_TMPDIR"))
        self.db = os.path.join(self.dir, "auth.db")
        self.users = {}
        self.admin("init", *pw_cost_args())
        for u in USERS:
            self.users[u] = "pw-%s-%d" % (u, os.getpid())
            self.admin("user", "add", u, "--password-file", "-",
                       input=self.users[u] + "\n")
        for rule in SEED_RULES:
            self.admin("acl", "add", *rule)
        self.authd = None

    def tearDown(self):
        if self.authd is not None:
            rc = self.authd.stop()
            text = self.authd.text()
            if self._outcome_failed():
                print("--- secmq-authd log ---\n" + text[-4000:])
            self.assertNotIn("ERROR: AddressSanitizer", text)
            self.assertNotIn("LeakSanitizer", text)
            self.assertIn(rc, (0,), "secmq-authd exited %r on SIGTERM" % rc)
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def _outcome_failed(self):
        res = getattr(self, "_outcome", None)
        errs = getattr(getattr(res, "result", None), "errors", []) + \
            getattr(getattr(res, "result", None), "failures", [])
        return any(t is self for t, _ in errs)

    def admin(self, *args, input=None, ok=True):
        r = subprocess.run([ADMIN, "--db", self.db] + [str(a) for a in args],
                           input=input, capture_output=True, text=True,
                           timeout=30 * TIMEOUT_SCALE,
                           stdin=None if input is not None
                           else subprocess.DEVNULL)
        if ok:
            self.assertEqual(r.returncode, 0, "secmq-admin %s: %s"
                             % (" ".join(map(str, args)), r.stderr))
        return r

    def start(self, *extra):
        self.authd = Authd(self.db, self.dir, "--listen", "127.0.0.1:0",
                           *(self.extra_args + extra))
        self.authd.wait_listening()
        return self.authd

    # -- RabbitMQ's questions ------------------------------------------------

    def post(self, path, fields, raw=None, method="POST", ctype=None):
        """(status, body) of one request as RabbitMQ sends it."""
        url = "http://%s/auth/%s" % (self.authd.listen, path)
        data = raw if raw is not None else \
            urllib.parse.urlencode(fields).encode()
        if method == "GET":
            url += "?" + urllib.parse.urlencode(fields)
            data = None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", ctype or
                           "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=REQ_S) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def login(self, user, password=None, client_id=None, method="POST"):
        f = {"username": user, "vhost": "/",
             "client_id": client_id or ("c-" + user)}
        f["password"] = password if password is not None else \
            self.users.get(user, "x")
        return self.post("user", f, method=method)[1]

    def topic(self, user, perm, routing_key, client_id="c1", name="amq.topic"):
        f = {"username": user, "vhost": "/", "resource": "topic",
             "name": name, "permission": perm, "routing_key": routing_key,
             "variable_map.username": user}
        if client_id is not None:
            f["variable_map.client_id"] = client_id
        return self.post("topic", f)[1]

    def resource(self, user, res, name, perm):
        return self.post("resource", {"username": user, "vhost": "/",
                                      "resource": res, "name": name,
                                      "permission": perm})[1]

    def assert_logged(self, pattern, since=0, timeout=2.0):
        self.assertIsNotNone(self.authd.wait_log(pattern, timeout * TIMEOUT_SCALE,
                                                 since),
                             "not logged: %s\n%s" % (pattern,
                                                     self.authd.text()[-3000:]))


class TestAuthd(AuthdTestCase):

    def test_login_matrix(self):
        self.admin("user", "disable", "eve")
        self.start()
        self.assertEqual(self.login("sam"), "allow")
        self.assertEqual(self.login("alice"), "allow")
        self.assertEqual(self.login("alice", method="GET"), "allow")
        self.assertEqual(self.login("sam", password="wrong"), "deny")
        self.assert_logged(r"refused login for 'sam' \(client 'c-sam'\): "
                           r"bad password")
        self.assertEqual(self.login("mallory", password="x"), "deny")
        self.assert_logged(r"refused login for 'mallory' \(client "
                           r"'c-mallory'\): unknown user")
        self.assertEqual(self.login("eve"), "deny")
        self.assert_logged(r"refused login for 'eve' \(client 'c-eve'\): "
                           r"disabled user")
        # No password field at all (another auth mechanism): refused.
        st, body = self.post("user", {"username": "alice", "vhost": "/"})
        self.assertEqual((st, body), (200, "deny"))
        # A name the plugin refuses ('+' would widen a %u pattern).
        self.assertEqual(self.login("al+ce", password="x"), "deny")
        self.assert_logged(r"refused login for 'al\+ce'.*invalid username")

    def test_publish_subscribe_matrix(self):
        self.start()
        self.assertEqual(self.topic("sam", "write", "status"), "allow")
        self.assertEqual(self.topic("alice", "write", "status"), "deny")
        self.assertEqual(self.topic("alice", "read", "status"), "allow")
        self.assertEqual(self.topic("sam", "read", "status"), "deny")
        self.assertEqual(self.topic("alice", "read", "#"), "deny")
        self.assert_logged(r"denied topic read '#' for 'alice' \(client "
                           r"'c1'\): no rule allows read on MQTT filter '#'")
        self.assertEqual(self.topic("eve", "write", "status"), "deny")
        self.assertEqual(self.topic("mallory", "write", "status"), "deny")
        # Only the MQTT plugin's exchange, only the served vhost.
        self.assertEqual(self.topic("sam", "write", "status",
                                    name="amq.direct"), "deny")
        st, body = self.post("topic", {
            "username": "sam", "vhost": "other", "resource": "topic",
            "name": "amq.topic", "permission": "write",
            "routing_key": "status", "variable_map.client_id": "c1"})
        self.assertEqual(body, "deny")
        # variable_map.username must be the user asking.
        st, body = self.post("topic", {
            "username": "alice", "vhost": "/", "resource": "topic",
            "name": "amq.topic", "permission": "read",
            "routing_key": "status", "variable_map.client_id": "c1",
            "variable_map.username": "sam"})
        self.assertEqual(body, "deny")

    def test_topic_translation(self):
        self.admin("acl", "add", "--user", "alice", "sensors/#", "read")
        self.admin("acl", "add", "--user", "alice", "sensors/kitchen/secret",
                   "deny")
        self.admin("acl", "add", "--pattern", "users/%u/#", "readwrite")
        self.admin("acl", "add", "--pattern", "clients/%c/state", "write")
        self.admin("acl", "add", "--user", "sam", "a/b", "write")
        self.start()
        # '*' is MQTT's '+', '.' its '/', '#' as it is: the filter rule.
        self.assertEqual(self.topic("alice", "read", "sensors.*.temp"),
                         "allow")
        # The subscription-filter rule: a filter that could match a denied
        # topic is refused.
        self.assertEqual(self.topic("alice", "read", "sensors.#"), "deny")
        self.assertEqual(self.topic("alice", "read", "sensors.kitchen.#"),
                         "deny")
        self.assertEqual(self.topic("alice", "read", "sensors.*.secret"),
                         "deny")
        self.assertEqual(self.topic("alice", "read", "sensors.hall.#"),
                         "allow")
        self.assertEqual(self.topic("alice", "read",
                                    "sensors.kitchen.secret"), "deny")
        self.assertEqual(self.topic("alice", "read", "*.temp"), "deny")
        # %u
        self.assertEqual(self.topic("alice", "write", "users.alice.x"),
                         "allow")
        self.assertEqual(self.topic("alice", "read", "users.alice.#"),
                         "allow")
        self.assertEqual(self.topic("alice", "write", "users.sam.x"), "deny")
        self.assertEqual(self.topic("alice", "read", "users.*.x"), "deny")
        # %c, from variable_map.client_id; without it %c grants nothing.
        self.assertEqual(self.topic("sam", "write", "clients.c7.state",
                                    client_id="c7"), "allow")
        self.assertEqual(self.topic("sam", "write", "clients.c8.state",
                                    client_id="c7"), "deny")
        self.assertEqual(self.topic("sam", "write", "clients.c7.state",
                                    client_id=None), "deny")
        # The documented ambiguity: MQTT "a.b" and "a/b" are one routing
        # key, checked as "a/b".
        self.assertEqual(self.topic("sam", "write", "a.b"), "allow")
        self.assertEqual(self.topic("sam", "write", "a.c"), "deny")

    def test_signed_rule_refused(self):
        self.admin("acl", "add", "--user", "sam", "signed/x", "write",
                   "--signed")
        self.start()
        self.assertEqual(self.topic("sam", "write", "signed.x"), "deny")
        self.assert_logged(r"denied topic write 'signed.x' for 'sam'.*"
                           r"requires signed messages")

    def test_resources_and_vhost(self):
        self.start()
        for perm in ("configure", "read", "write"):
            for q in ("mqtt-subscription-c1qos0", "mqtt-subscription-c1qos1"):
                self.assertEqual(self.resource("alice", "queue", q, perm),
                                 "allow", (q, perm))
        self.assertEqual(self.resource("alice", "queue", "orders", "read"),
                         "deny")
        self.assertEqual(self.resource("alice", "queue",
                                       "mqtt-subscription-a+bqos1", "read"),
                         "deny")
        self.assertEqual(self.resource("alice", "exchange", "amq.topic",
                                       "write"), "allow")
        self.assertEqual(self.resource("alice", "exchange", "amq.topic",
                                       "read"), "allow")
        self.assertEqual(self.resource("alice", "exchange", "amq.topic",
                                       "configure"), "deny")
        self.assertEqual(self.resource("alice", "exchange", "amq.fanout",
                                       "write"), "deny")
        self.assertEqual(self.resource("mallory", "queue",
                                       "mqtt-subscription-c1qos0", "read"),
                         "deny")
        self.assert_logged(r"denied resource read 'mqtt-subscription-c1qos0'"
                           r" for 'mallory': unknown user")
        f = {"username": "alice", "vhost": "/", "ip": "127.0.0.1"}
        self.assertEqual(self.post("vhost", f)[1], "allow")
        self.assertEqual(self.post("vhost", dict(f, vhost="other"))[1],
                         "deny")

    def test_client_id_pattern(self):
        self.start("--client-id-pattern", "%u %u-*")
        self.assertEqual(self.login("alice", client_id="alice-1"), "allow")
        self.assertEqual(self.login("alice", client_id="sam-1"), "deny")
        self.assert_logged(r"refused login for 'alice' \(client 'sam-1'\): "
                           r"client id does not match the user's pattern")
        st, body = self.post("user", {"username": "alice", "vhost": "/",
                                      "password": self.users["alice"]})
        self.assertEqual((st, body), (200, "deny"))
        self.assert_logged(r"refused login for 'alice' \(client '\(none\)'\)"
                           r": no client id")
        self.assertEqual(self.resource("alice", "queue",
                                       "mqtt-subscription-alice-1qos1",
                                       "read"), "allow")
        self.assertEqual(self.resource("alice", "queue",
                                       "mqtt-subscription-sam-1qos1", "read"),
                         "deny")

    def test_reload_revokes(self):
        self.start()
        self.assertEqual(self.login("alice"), "allow")
        self.assertEqual(self.topic("alice", "read", "status"), "allow")
        since = len(self.authd.text())
        self.admin("user", "del", "alice")
        t0 = time.monotonic()
        self.assert_logged(r"reloaded policy: 2 users, 1 rules", since,
                           timeout=RELOAD_S / TIMEOUT_SCALE)
        self.assertLess(time.monotonic() - t0, RELOAD_S)
        # The cached success went with the reload.
        self.assertEqual(self.login("alice"), "deny")
        self.assertEqual(self.topic("alice", "read", "status"), "deny")
        self.assertEqual(self.resource("alice", "exchange", "amq.topic",
                                       "read"), "deny")
        # A rule added is in force after the next reload too.
        since = len(self.authd.text())
        self.admin("acl", "add", "--user", "sam", "lights/#", "write")
        self.assert_logged(r"reloaded policy: 2 users, 2 rules", since,
                           timeout=RELOAD_S / TIMEOUT_SCALE)
        self.assertEqual(self.topic("sam", "write", "lights.kitchen"),
                         "allow")

    def test_malformed_requests(self):
        self.start()
        cases = [
            # (what, kwargs of post, status, log regex)
            ("a bad %-escape", dict(path="user", fields=None,
                                    raw=b"username=sam&password=%zz"),
             400, r"malformed user question .*%-escape"),
            ("a field twice", dict(path="user", fields=None,
                                   raw=b"username=sam&username=alice"),
             400, r"malformed user question .*field given twice"),
            ("not a form", dict(path="user", fields=None, raw=b"{}",
                                ctype="application/json"),
             400, r"malformed user question .*not a form-encoded body"),
            ("an oversized body", dict(path="user", fields=None,
                                       raw=b"username=" + b"a" * 70000),
             413, r"body over 16384 bytes"),
            ("PUT", dict(path="user", fields=None, raw=b"x", method="PUT"),
             405, r"refused a PUT request"),
            ("DELETE", dict(path="topic", fields=None, raw=b"",
                            method="DELETE"),
             405, r"refused a DELETE request"),
            ("no such path", dict(path="admin", fields={"username": "sam"}),
             404, r"request for '/auth/admin' .*no such path"),
        ]
        for what, kw, status, rx in cases:
            since = len(self.authd.text())
            st, body = self.post(**kw)
            self.assertEqual((st, body), (status, "deny"), what)
            self.assert_logged(rx, since)
        # Missing fields: a plain deny, with the reason logged.
        since = len(self.authd.text())
        st, body = self.post("topic", {"username": "sam", "vhost": "/",
                                       "name": "amq.topic",
                                       "permission": "write"})
        self.assertEqual((st, body), (200, "deny"))
        self.assert_logged(r"denied topic write .*routing_key missing", since)
        st, body = self.post("resource", {"username": "sam", "vhost": "/"})
        self.assertEqual((st, body), (200, "deny"))
        self.assertEqual(self.post("vhost", {"vhost": "/"})[1], "deny")
        # Names and topics from the client cannot forge log lines.
        since = len(self.authd.text())
        self.assertEqual(self.topic("alice", "read", "x\nsecmq-authd: forged"),
                         "deny")
        self.assertEqual(self.login("a\nsecmq-authd: forged", "x"), "deny")
        self.assert_logged(r"denied topic read 'x\?secmq-authd: forged'",
                           since)
        self.assertNotIn("\nsecmq-authd: forged", self.authd.text()[since:])
        # Still serving.
        self.assertEqual(self.login("sam"), "allow")

    def test_bad_logins_do_not_stall_good_ones(self):
        self.start()
        n_bad, threads = 1000, 8
        results = []
        lock = threading.Lock()

        def flood(k):
            for i in range(k, n_bad, threads):
                # Wrong passwords for known names, unknown names (a few
                # distinct ones: each costs one hash before it backs off).
                user = ("sam", "mallory", "eve", "u%d" % (i % 20))[i % 4]
                try:
                    r = self.login(user, password="wrong-%d" % i)
                except OSError as e:
                    r = "error %s" % e
                with lock:
                    results.append(r)

        workers = [threading.Thread(target=flood, args=(k,), daemon=True)
                   for k in range(threads)]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        good = []
        while any(w.is_alive() for w in workers) and len(good) < 50:
            t = time.monotonic()
            self.assertEqual(self.login("alice"), "allow")
            good.append(time.monotonic() - t)
            time.sleep(0.02)
        for w in workers:
            w.join(60 * TIMEOUT_SCALE)
            self.assertFalse(w.is_alive(), "the flood did not finish")
        total = time.monotonic() - t0
        self.assertEqual(len(results), n_bad)
        self.assertEqual(set(results), {"deny"})
        self.assertGreater(len(good), 0)
        # Bounded: a good login waits at most for the hashes of the
        # requests before it, never for the flood.
        self.assertLess(max(good), 2.0 * TIMEOUT_SCALE,
                        "slowest good login %.2f s" % max(good))
        self.assertLess(total, 15.0 * TIMEOUT_SCALE)
        self.assertEqual(self.login("alice"), "allow")
        # The flood was refused mostly without hashing: per user name
        # (RabbitMQ does not pass the client's address), a failure pauses
        # that name's logins.
        self.assert_logged(r"refused login for 'sam' .*not checked, the "
                           r"address is backing off .*from user sam")
        checked = len(re.findall(r"\): (?:bad password|unknown user) ",
                                 self.authd.text()))
        self.assertLess(checked, 24 * (total + 2),
                        "%d of %d bad logins were hashed" % (checked, n_bad))


class TestAuthdUnixSocket(AuthdTestCase):

    def request(self, path, body):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(REQ_S)
        s.connect(path)
        conn = http.client.HTTPConnection("localhost", timeout=REQ_S)
        conn.sock = s
        conn.request("POST", "/auth/user", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        out = (r.status, r.read().decode())
        conn.close()
        return out

    def test_unix_socket(self):
        sock = os.path.join(self.dir, "authd.sock")
        self.authd = Authd(self.db, self.dir, "--listen", "unix:" + sock)
        self.authd.wait_listening()
        body = urllib.parse.urlencode({"username": "sam", "vhost": "/",
                                       "password": self.users["sam"]})
        self.assertEqual(self.request(sock, body), (200, "allow"))
        bad = urllib.parse.urlencode({"username": "alice", "password": "no"})
        self.assertEqual(self.request(sock, bad), (200, "deny"))
        self.assert_logged(r"refused login for 'alice' .*bad password "
                           r"\(from unix\)")
        # A second one on the same socket: refused, loudly, exit 1.
        r = subprocess.run([AUTHD, "--db", self.db, "--listen",
                            "unix:" + sock], capture_output=True, text=True,
                           timeout=START_S)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is in use", r.stderr)
        self.assertEqual(self.request(sock, body), (200, "allow"))


class TestAuthdStartup(AuthdTestCase):

    def run_authd(self, *args):
        return subprocess.run([AUTHD] + list(args), capture_output=True,
                              text=True, timeout=START_S,
                              stdin=subprocess.DEVNULL)

    def test_errors(self):
        r = self.run_authd("--db", os.path.join(self.dir, "missing.db"))
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"cannot use the auth database .*missing")
        junk = os.path.join(self.dir, "junk.db")
        with open(junk, "w") as fh:
            fh.write("not a database\n" * 100)
        r = self.run_authd("--db", junk)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot use the auth database", r.stderr)
        r = self.run_authd()
        self.assertEqual(r.returncode, 2)
        self.assertIn("--db PATH", r.stderr)
        r = self.run_authd("--db", self.db, "--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option", r.stderr)
        r = self.run_authd("--db", self.db, "--reload-interval", "0")
        self.assertEqual(r.returncode, 2)
        r = self.run_authd("--db", self.db, "--login-backoff", "x")
        self.assertEqual(r.returncode, 2)
        # Not loopback: refused without --allow-remote.
        r = self.run_authd("--db", self.db, "--listen", "0.0.0.0:0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--allow-remote", r.stderr)
        # A busy port.
        self.start()
        r = self.run_authd("--db", self.db, "--listen", self.authd.listen)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Address already in use", r.stderr)

    def test_allow_remote_is_loud(self):
        a = Authd(self.db, self.dir, "--listen", "0.0.0.0:0",
                  "--allow-remote")
        try:
            a.wait_listening()
            self.assertRegex(a.text(), r"warning: --allow-remote: listening "
                                       r"on 0\.0\.0\.0:\d+")
        finally:
            self.assertEqual(a.stop(), 0)

    def test_help(self):
        r = self.run_authd("--help")
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "..", "authd", "authd_main.c")) as fh:
            src = fh.read()
        opts = set(re.findall(r'\{"([a-z-]+)", (?:required|no)_argument',
                              src))
        self.assertGreater(len(opts), 10)
        for o in opts:
            self.assertIn("--" + o, r.stdout, "--help does not explain --%s"
                          % o)


if __name__ == "__main__":
    unittest.main()
