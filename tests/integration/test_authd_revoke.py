#!/usr/bin/python3
"""test_authd_revoke.py -- secmq-authd closes the RabbitMQ connections of
users who lose access (label `cluster`): one RabbitMQ node on loopback
with its MQTT plugin asking secmq-authd (rabbitmq_auth_backend_http) and
its management API (rabbitmq_management) on a free loopback port, with a
management user made by rabbitmqctl (tag administrator, configure on the
subscription queues) whose
"user:password" secmq-authd reads from a 0600 file.

sam publishes sealed messages on `status` over one connection for the whole
class; eve's secmq-sub receives them throughout. alice is disabled, bob's
read rule is removed, carol gets a new password, each while their
secmq-sub (QoS 1) is connected: secmq-authd logs the close of exactly that
connection with the cause, the subscriber loses its connection and gets
none of the messages sam publishes afterwards, its reconnect is refused,
and sam's and eve's connections keep delivering. gil's persistent session
(-c) loses its rule: its subscription queue is deleted too (RabbitMQ keeps
the binding and does not ask again), so gil, back, gets nothing. With a wrong password in
the credentials file, a revocation is logged loudly (HTTP 401) and
secmq-authd keeps answering; once the file is fixed the connection is
closed. An https API is verified: with the test's CA it closes, with the
system's CAs the certificate is refused loudly. Without --rabbitmq-api
secmq-authd says at start that revoked
users stay connected; a credentials file others may read, or http to a
host that is not loopback, is refused. How long each close took after
secmq-admin returned is printed.

Needs rabbitmq-server (scripts/deps.sh installs it): without it the test
exits 77 (ctest: skipped). Every wait is bounded and scaled
(TIMEOUT_SCALE). Run with /usr/bin/python3.
"""

import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import broker as brokermod  # noqa: E402
import rabbit  # noqa: E402
from testcase import TIMEOUT_SCALE  # noqa: E402

SKIP = 77
BIN_DIR = brokermod.default_bin_dir()
TOOL_S = 20.0 * TIMEOUT_SCALE
DELIVERY_S = 20.0 * TIMEOUT_SCALE
# A revocation must close the connection this soon after secmq-admin
# returned (reload interval 1 s; measured well under it, printed).
CLOSE_S = 10.0 * TIMEOUT_SCALE
# After eve got a message, how long alice's copy would have had to arrive.
QUIET_S = 1.5 * TIMEOUT_SCALE
MGMT_USER = "secmq-mgmt"
SUBSCRIBERS = ("alice", "bob", "carol", "dan", "eve", "fay", "gil")


def tool(name):
    return os.path.join(BIN_DIR, name)


def read(path):
    with open(path, "r", errors="replace") as fh:
        return fh.read()


class Sub:
    """A secmq-sub on status (QoS 1) as user with client id cid; its
    output and errors in files."""

    def __init__(self, test, user, cid, *extra):
        d = test.b.dir
        self.out = os.path.join(d, "%s.out" % cid)
        self.err = os.path.join(d, "%s.err" % cid)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [tool("secmq-sub")] + test.conn(user) +
                ["--keyring", test.kdir(user), "-t", "status", "-q", "1",
                 "-i", cid, "-F", "%S %p"] + list(extra),
                stdout=out, stderr=err, env=test.env,
                stdin=subprocess.DEVNULL)

    def lines(self):
        return read(self.out).splitlines()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


class AuthdRevoke(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.b = brokermod.Broker(auth="plugin", name="revoke")
        cls.b.setup()
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.b.dir])
        cls.rules = {}
        for n in ("bob", "carol", "dan", "fay", "gil"):
            cls.b.add_user(n)
        for n in ("bob", "carol", "dan", "eve", "fay", "gil"):
            cls.rules[n] = cls.b.acl_add("--user", n, "status", "read")
        # The management user's password: made here, in a 0600 file.
        cls.mgmt_pw = secrets.token_urlsafe(18)
        cls.creds = os.path.join(cls.b.dir, "mgmt.creds")
        cls.write_creds(cls.mgmt_pw)
        mgmt_port = brokermod.free_ports(1)[0]
        cls.authd = rabbit.Authd(
            cls.b.auth_db, cls.b.dir, "--rabbitmq-api",
            "http://127.0.0.1:%d" % mgmt_port,
            "--rabbitmq-api-credentials", cls.creds)
        cls.addClassCleanup(cls.authd.stop)
        cls.node = rabbit.RabbitNode(cls.b.dir, cls.b.pki, cls.authd.addr,
                                     management=True, mgmt_port=mgmt_port,
                                     management_tls=True)
        cls.addClassCleanup(cls.node.stop)
        t0 = time.monotonic()
        cls.node.start()
        cls.node.add_user(MGMT_USER, cls.mgmt_pw, "administrator")
        # Deleting a persistent session's queue needs the configure
        # permission on it (and nothing else), as docs/DEPLOY.md says.
        cls.node.ctl("set_permissions", "-p", "/", MGMT_USER,
                     "^mqtt-subscription-", "^$", "^$", check=True)
        cls.node.wait_management(MGMT_USER, cls.mgmt_pw)
        sys.stderr.write("RabbitMQ node with the management API up in "
                         "%.1f s\n" % (time.monotonic() - t0))
        cls.env = dict(os.environ, XDG_RUNTIME_DIR=cls.b.run_dir)
        cls.keys_dir = os.path.join(cls.b.dir, "keys")
        os.mkdir(cls.keys_dir, 0o700)
        for n in ("sam",) + SUBSCRIBERS:
            cls.sh_cls("secmq-keys", "init", "--keyring", cls.kdir(n),
                       "--name", n)
            r = cls.sh_cls("secmq-keys", "export", "--keyring", cls.kdir(n))
            with open(cls.pub(n), "w") as fh:
                fh.write(r.stdout)
        grants = os.path.join(cls.keys_dir, "grants")
        cls.sh_cls("secmq-keys", "channel", "create", "--keyring",
                   cls.kdir("sam"), "--topic", "status", "--publisher",
                   cls.pub("sam"), "--subscriber",
                   *[cls.pub(n) for n in SUBSCRIBERS], "--out", grants)
        for n in SUBSCRIBERS:
            cls.sh_cls("secmq-keys", "import", "--keyring", cls.kdir(n),
                       cls.pub("sam"), os.path.join(grants, n + ".grant"))
        # sam: one connection for the whole class, a message per line.
        cls.sam_err = open(os.path.join(cls.b.dir, "sam.err"), "wb")
        cls.addClassCleanup(cls.sam_err.close)
        cls.sam = subprocess.Popen(
            [tool("secmq-pub")] + cls.conn("sam") +
            ["--keyring", cls.kdir("sam"), "-t", "status", "-q", "1", "-l",
             "-i", "sam-pub"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=cls.sam_err, env=cls.env)
        cls.addClassCleanup(cls.stop_sam)
        cls.n = 0
        cls.eve = Sub(cls, "eve", "eve-rv")
        cls.addClassCleanup(cls.eve.stop)

    @classmethod
    def stop_sam(cls):
        if cls.sam.poll() is None:
            cls.sam.stdin.close()
            try:
                cls.sam.wait(5)
            except subprocess.TimeoutExpired:
                cls.sam.kill()
                cls.sam.wait(5)

    @classmethod
    def write_creds(cls, pw):
        fd = os.open(cls.creds + ".new", os.O_WRONLY | os.O_CREAT |
                     os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("%s:%s\n" % (MGMT_USER, pw))
        os.replace(cls.creds + ".new", cls.creds)

    @classmethod
    def sh_cls(cls, name, *args):
        r = subprocess.run([tool(name)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=TOOL_S,
                           env=getattr(cls, "env", None),
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError("%s %s: %s" % (
                name, " ".join(map(str, args)), r.stderr))
        return r

    @classmethod
    def conn(cls, user):
        return ["-h", brokermod.HOST, "-p", str(cls.node.mqtt_port),
                "--cafile", cls.b.cafile, "-u", user, "-P",
                cls.b.users[user]]

    @classmethod
    def kdir(cls, n):
        return os.path.join(cls.keys_dir, n)

    @classmethod
    def pub(cls, n):
        return os.path.join(cls.keys_dir, n + ".pub")

    def publish(self):
        """One message from sam's connection; its text."""
        self.assertIsNone(self.sam.poll(), "sam's secmq-pub ended:\n%s"
                          % read(os.path.join(self.b.dir, "sam.err")))
        type(self).n += 1
        text = "m%d" % self.n
        self.sam.stdin.write((text + "\n").encode())
        self.sam.stdin.flush()
        return text

    def wait_line(self, sub, line, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in sub.lines():
                return True
            time.sleep(0.05)
        return False

    def delivering(self, *subs):
        """Publish until every sub printed one message (the bindings
        follow secmq-authd's answers); the last text."""
        deadline = time.monotonic() + DELIVERY_S
        while time.monotonic() < deadline:
            text = self.publish()
            if all(self.wait_line(s, "sam " + text, 0.5) for s in subs):
                return text
        self.fail("no message reached %s:\n%s" % (
            [s.out for s in subs], self.authd.text()[-3000:]))

    def revoke_case(self, user, change, why_rx, refused_rx, *sub_args,
                    closed_rx=None):
        """user's secmq-sub connected and receiving; change() (secmq-admin)
        closes its connection with a log line matching why_rx, no later
        message reaches it, its reconnect is refused (refused_rx in the
        log), and eve keeps receiving over sam's connection."""
        cid = "%s-rv" % user
        sub = Sub(self, user, cid, *sub_args)
        self.addCleanup(sub.stop)
        self.delivering(sub, self.eve)
        since = len(self.authd.text())
        t0 = time.monotonic()
        change()
        rx = closed_rx or (r"closed RabbitMQ connection '[^']+' of user "
                           r"'%s' \(client '%s'\): %s" % (user, cid, why_rx))
        deadline = t0 + CLOSE_S
        while time.monotonic() < deadline and \
                not re.search(rx, self.authd.text()[since:]):
            time.sleep(0.02)
        took = time.monotonic() - t0
        text = self.authd.text()[since:]
        self.assertRegex(text, rx)
        sys.stderr.write("%s: connection closed %.2f s after secmq-admin "
                         "returned\n" % (user, took))
        # Only that connection (a deleted queue may have closed it first).
        closes = re.findall(r"closed RabbitMQ connection [^\n]* of user "
                            r"'([^']*)' \(client '([^']*)'\)", text)
        self.assertLessEqual(len(closes), 1, text)
        self.assertEqual(set(closes) - {(user, cid)}, set(), text)
        if closed_rx is None:
            self.assertEqual(len(closes), 1, text)
        # secmq-sub saw it go.
        deadline = time.monotonic() + CLOSE_S
        while time.monotonic() < deadline and \
                "connection lost" not in read(sub.err):
            time.sleep(0.05)
        self.assertIn("connection lost", read(sub.err))
        # Nothing more for it; sam and eve go on.
        for _ in range(3):
            text = self.publish()
            self.assertTrue(self.wait_line(self.eve, "sam " + text,
                                           DELIVERY_S),
                            "eve stopped receiving after %s's revocation"
                            % user)
        time.sleep(QUIET_S)
        self.assertNotIn("sam " + text, sub.lines(),
                         "%s still receives after losing access:\n%s"
                         % (user, self.authd.text()[since:][-4000:]))
        self.assertIsNone(self.sam.poll())
        # Its reconnect (secmq-sub retries) is refused.
        if refused_rx is not None:
            self.assertIsNotNone(self.authd.wait(refused_rx, CLOSE_S),
                                 self.authd.text()[since:])
        self.assertNotRegex(self.authd.text(),
                            r"closed RabbitMQ connection [^\n]* of user "
                            r"'(sam|eve)'")
        # The management user logs in through the internal database first:
        # its logins never reach secmq-authd.
        self.assertNotIn("login for '%s'" % MGMT_USER,
                         self.authd.text()[since:])
        return took

    def test_disabled_user_closed(self):
        """A persistent session (-c), so that its queue outlives the
        connection: only secmq-authd removes it (a clean session's queue
        goes with the connection, racing secmq-authd's DELETE)."""
        self.revoke_case(
            "alice", lambda: self.b.admin("user", "disable", "alice"),
            "user disabled", r"refused login for 'alice' \(client "
            r"'alice-rv'\): disabled user", "-c",
            closed_rx=self.reduced_rx("alice", "user disabled"))
        # Its session goes too (a later `user enable` must not bring back
        # bindings made under rules changed meanwhile).
        self.assertIsNotNone(self.authd.wait(
            r"deleted RabbitMQ queue 'mqtt-subscription-alice-rvqos1' \(the "
            r"session of user 'alice', client 'alice-rv'\): user disabled",
            CLOSE_S), self.authd.text()[-4000:])
        st, _ = self.node.api("GET", "/api/queues/%2F/mqtt-subscription-"
                              "alice-rvqos1", MGMT_USER, self.mgmt_pw)
        self.assertEqual(st, 404, "alice's session queue is still there")

    @staticmethod
    def reduced_rx(user, why=r"access reduced: no rule allows read on MQTT "
                   r"filter 'status'"):
        """A lost rule or user: the connection closed by secmq-authd, or its
        subscription queue deleted (which ends the connection, often
        before the management API lists it)."""
        return (r"(closed RabbitMQ connection '[^']+' of user '%s' \(client "
                r"'%s-rv'\)|deleted RabbitMQ queue 'mqtt-subscription-"
                r"%s-rvqos1' \(the session of user '%s', client '%s-rv'\)): "
                % ((user,) * 5)) + why

    def test_removed_rule_closed(self):
        self.revoke_case(
            "bob", lambda: self.b.admin("acl", "del", self.rules["bob"]),
            r"access reduced: no rule allows read on MQTT filter 'status'",
            r"denied (resource|topic) read '[^']*' for 'bob'",
            closed_rx=self.reduced_rx("bob"))

    def test_removed_rule_persistent_session(self):
        """A persistent session (-c): its queue and binding outlive the
        connection and RabbitMQ does not ask about the binding again, so
        secmq-authd deletes the queue too; gil, back, gets nothing."""
        # Deleting the queue ends its consumer: RabbitMQ may close the
        # connection before secmq-authd finds it in the list.
        self.revoke_case(
            "gil", lambda: self.b.admin("acl", "del", self.rules["gil"]),
            r"access reduced: no rule allows read on MQTT filter 'status'",
            r"denied topic read 'status' for 'gil'", "-c",
            closed_rx=self.reduced_rx("gil"))
        self.assertRegex(self.authd.text(),
                         r"deleted RabbitMQ queue 'mqtt-subscription-"
                         r"gil-rvqos1' \(the session of user 'gil', client "
                         r"'gil-rv'\): access reduced")
        # Back (secmq-sub reconnects) and still nothing.
        self.assertIsNotNone(self.authd.wait(
            r"allowed login for 'gil' \(client 'gil-rv'\)[^\n]*\n(.|\n)*"
            r"allowed login for 'gil' \(client 'gil-rv'\)", CLOSE_S))
        sub_out = os.path.join(self.b.dir, "gil-rv.out")
        before = read(sub_out)
        for _ in range(3):
            text = self.publish()
            self.assertTrue(self.wait_line(self.eve, "sam " + text,
                                           DELIVERY_S))
        time.sleep(QUIET_S)
        self.assertEqual(read(sub_out), before,
                         "gil's persistent session still receives")

    def test_new_password_closed(self):
        self.revoke_case(
            "carol", lambda: self.b.set_password("carol"), "password changed",
            r"refused login for 'carol' \(client 'carol-rv'\): bad password")

    def test_https_api_verified(self):
        """--rabbitmq-api https://: verified against --rabbitmq-api-cafile
        (the test's CA) it closes; without it (the system's CAs) the
        certificate is refused, loudly, and nothing is closed. Two more
        secmq-authd on a copy of the database, changed alone, so that
        only they act."""
        sub = Sub(self, "fay", "fay-rv")
        self.addCleanup(sub.stop)
        self.delivering(sub, self.eve)
        db2 = os.path.join(self.b.dir, "copy.db")
        src, dst = sqlite3.connect(self.b.auth_db), sqlite3.connect(db2)
        src.backup(dst)
        src.close()
        dst.close()
        started = {}
        for name, extra in (("good", ["--rabbitmq-api-cafile",
                                      self.b.cafile]),
                            ("bad", [])):
            d = os.path.join(self.b.dir, "authd-" + name)
            os.mkdir(d, 0o700)
            started[name] = rabbit.Authd(
                db2, d, "--rabbitmq-api", self.node.mgmt_tls_url,
                "--rabbitmq-api-credentials", self.creds, *extra)
            self.addCleanup(started[name].stop)
        since = len(self.authd.text())
        self.b.admin("user", "disable", "fay", db=db2)
        self.assertIsNotNone(started["bad"].wait(
            r"error: the RabbitMQ management API is unreachable: GET "
            r"https://[^ ]*: SSL certificate problem", CLOSE_S),
            started["bad"].text())
        self.assertIsNotNone(started["good"].wait(
            r"closed RabbitMQ connection '[^']+' of user 'fay' \(client "
            r"'fay-rv'\): user disabled", CLOSE_S), started["good"].text())
        self.assertNotIn("closed RabbitMQ connection",
                         started["bad"].text())
        # The class's secmq-authd (its database unchanged) closed nothing.
        self.assertNotIn("closed RabbitMQ connection",
                         self.authd.text()[since:])

    def test_wrong_credentials_loud_then_closed(self):
        """A wrong management password: a loud line, no crash, answers go
        on; fixed, the pending close happens."""
        sub = Sub(self, "dan", "dan-rv")
        self.addCleanup(sub.stop)
        self.delivering(sub, self.eve)
        self.write_creds("wrong-" + self.mgmt_pw)
        since = len(self.authd.text())
        self.b.admin("user", "disable", "dan")
        self.assertIsNotNone(self.authd.wait(
            r"error: the RabbitMQ management API answered HTTP 401 to GET "
            r"/api/connections \(refused: check the user and password",
            CLOSE_S), self.authd.text()[since:])
        # Still answering RabbitMQ meanwhile: a new connection logs in.
        t0 = time.monotonic()
        # (plain: sam's keyring is in use by its publisher; eve's
        # secmq-sub refuses it, which does not matter here)
        self.sh_cls("secmq-pub", *self.conn("sam"), "-t", "status", "-q",
                    "1", "-i", "sam-fresh", "-m", "fresh login")
        sys.stderr.write("a new connection published in %.2f s while the "
                         "management API refused secmq-authd\n"
                         % (time.monotonic() - t0))
        self.delivering(self.eve)
        self.assertIsNone(self.authd.proc.poll())
        self.assertNotIn("closed RabbitMQ connection",
                         self.authd.text()[since:])
        self.write_creds(self.mgmt_pw)
        self.assertIsNotNone(self.authd.wait(
            self.reduced_rx("dan", "user disabled"), CLOSE_S),
            self.authd.text()[since:])
        deadline = time.monotonic() + CLOSE_S
        while time.monotonic() < deadline and \
                "connection lost" not in read(sub.err):
            time.sleep(0.05)
        self.assertIn("connection lost", read(sub.err))
        self.assertIsNotNone(self.authd.wait(
            r"the RabbitMQ management API works again", CLOSE_S))


class AuthdRevokeOptions(unittest.TestCase):
    """The options alone (no RabbitMQ)."""

    @classmethod
    def setUpClass(cls):
        cls.b = brokermod.Broker(auth="plugin", name="revoke-opts")
        cls.b.setup()
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.b.dir])

    def authd(self, *args, until=None):
        """secmq-authd with args: (exit status or None if it ran, stderr
        until the `until` line or its exit)."""
        p = subprocess.Popen([tool("secmq-authd"), "--db", self.b.auth_db,
                              "--listen", "127.0.0.1:0"] + list(args),
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             text=True)
        err = ""
        deadline = time.monotonic() + 10 * TIMEOUT_SCALE
        while time.monotonic() < deadline:
            line = p.stderr.readline()
            if line == "":
                break
            err += line
            if until is not None and until in line:
                p.terminate()
                p.wait(5)
                p.stderr.close()
                return None, err
        p.wait(5)
        p.stderr.close()
        return p.returncode, err

    def creds(self, mode, text="u:p\n"):
        path = os.path.join(self.b.dir, "creds-%o" % mode)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(path, mode)
        return path

    def test_without_api_warns(self):
        rc, err = self.authd(until="listening on")
        self.assertIsNone(rc, err)
        self.assertIn("warning: no --rabbitmq-api: users who are deleted, "
                      "disabled, get a new password or lose a rule stay "
                      "connected to RabbitMQ until they reconnect", err)

    def test_refusals(self):
        api = "http://127.0.0.1:1"
        for mode in (0o640, 0o604, 0o660):
            rc, err = self.authd("--rabbitmq-api", api,
                                 "--rabbitmq-api-credentials",
                                 self.creds(mode))
            self.assertEqual(rc, 1, err)
            self.assertIn("may be read or written by others (mode 0%o): "
                          "chmod 600 it" % mode, err)
        rc, err = self.authd("--rabbitmq-api", api,
                             "--rabbitmq-api-credentials",
                             self.creds(0o600, "no colon\n"))
        self.assertEqual(rc, 1, err)
        self.assertIn('one line "user:password" expected', err)
        rc, err = self.authd("--rabbitmq-api", "http://192.0.2.1:15672",
                             "--rabbitmq-api-credentials",
                             self.creds(0o600))
        self.assertEqual(rc, 2, err)
        self.assertIn("is http to a host that is not loopback", err)
        rc, err = self.authd("--rabbitmq-api", "http://u:pw@127.0.0.1:1",
                             "--rabbitmq-api-credentials",
                             self.creds(0o600))
        self.assertEqual(rc, 2, err)
        self.assertIn("no user name or password in the URL", err)
        rc, err = self.authd("--rabbitmq-api", api)
        self.assertEqual(rc, 2, err)
        self.assertIn("go together", err)
        # A good file: it starts and says where it closes connections.
        rc, err = self.authd("--rabbitmq-api", api,
                             "--rabbitmq-api-credentials",
                             self.creds(0o400, "mgmt:pw:with:colons\n"),
                             until="listening on")
        self.assertIsNone(rc, err)
        self.assertIn("closing the RabbitMQ connections of users who lose "
                      "access, through %s as 'mgmt'" % api, err)
        self.assertNotIn("pw:with", err)
        self.assertNotIn("warning: no --rabbitmq-api", err)


if __name__ == "__main__":
    if not rabbit.installed():
        print("SKIP: rabbitmq-server is not installed (apt-get install "
              "rabbitmq-server, as scripts/deps.sh does)")
        sys.exit(SKIP)
    unittest.main()
