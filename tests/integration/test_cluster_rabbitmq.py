#!/usr/bin/python3
"""test_cluster_rabbitmq.py -- secmq through RabbitMQ (label `cluster`):
one RabbitMQ node on loopback (Debian's rabbitmq-server, its MQTT plugin on
a TLS listener with the test's certificates) authenticating and
authorising every MQTT client through rabbitmq_auth_backend_http against
secmq-authd, on an auth database made by secmq-admin with the seed rules.

secmq-pub as sam publishes sealed, signed messages on `status`; secmq-sub
as alice receives them with the sender shown; a wrong password is refused
by RabbitMQ because secmq-authd said no; alice may not publish there.
What RabbitMQ does differently, made loud: secmq-pub -q 2 (RabbitMQ answers
QoS 2 with PUBACK) fails at once naming the cause and the fix; a sealed
message on `room.1/temp` (delivered as `room/1/temp`) is refused at the
receiver with a message saying the broker may have changed the topic.

One node for all tests of the class (setUpClass). Needs rabbitmq-server
(scripts/deps.sh installs it): without it the test exits 77 (ctest:
skipped) and says so. Every wait is bounded and scaled (TIMEOUT_SCALE).
Run with /usr/bin/python3.
"""

import os
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
# secmq-pub -q 2 must give up this soon (it used to wait forever).
QOS2_FAIL_S = 10.0 * TIMEOUT_SCALE
QOS2_WHY = ("the broker answered QoS 2 with PUBACK (RabbitMQ does not "
            "support QoS 2); publish at QoS 1")


def tool(name):
    return os.path.join(BIN_DIR, name)


class ClusterRabbitmq(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # PKI, auth database (sam, alice, eve; seed rules) as for mosquitto,
        # and `room/#` for sam to write and alice to read (secmq-authd reads
        # RabbitMQ's routing keys with '.' as '/').
        cls.b = brokermod.Broker(auth="plugin", name="rabbit")
        cls.b.setup()
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.b.dir])
        cls.b.acl_add("--user", "sam", "room/#", "write")
        cls.b.acl_add("--user", "alice", "room/#", "read")
        cls.authd = rabbit.Authd(cls.b.auth_db, cls.b.dir)
        cls.addClassCleanup(cls.authd.stop)
        cls.node = rabbit.RabbitNode(cls.b.dir, cls.b.pki, cls.authd.addr)
        cls.addClassCleanup(cls.node.stop)
        start_s = cls.node.start()
        sys.stderr.write("RabbitMQ node up (MQTT listener open) in %.1f s\n"
                         % start_s)
        cls.env = dict(os.environ, XDG_RUNTIME_DIR=cls.b.run_dir)
        cls.keys_dir = os.path.join(cls.b.dir, "keys")
        os.mkdir(cls.keys_dir, 0o700)
        # sam's and alice's identities, each test makes its channel.
        for n in ("sam", "alice"):
            cls.sh_cls("secmq-keys", "init", "--keyring", cls.kdir(n),
                       "--name", n)
            r = cls.sh_cls("secmq-keys", "export", "--keyring", cls.kdir(n))
            with open(cls.pub(n), "w") as fh:
                fh.write(r.stdout)

    @classmethod
    def authd_text(cls):
        return cls.authd.text()

    @classmethod
    def wait_authd(cls, pattern, timeout):
        return cls.authd.wait(pattern, timeout)

    @classmethod
    def sh_cls(cls, name, *args):
        r = subprocess.run([tool(name)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=TOOL_S,
                           env=cls.env, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError("%s %s: %s" % (
                name, " ".join(map(str, args)), r.stderr))
        return r

    def sh(self, name, *args, ok=True):
        r = subprocess.run([tool(name)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=TOOL_S,
                           env=self.env, stdin=subprocess.DEVNULL)
        if ok:
            self.assertEqual(r.returncode, 0, "%s %s: %s" % (
                name, " ".join(map(str, args)), r.stderr))
        return r

    def conn(self, user, password=None):
        return ["-h", brokermod.HOST, "-p", str(self.node.mqtt_port),
                "--cafile", self.b.cafile, "-u", user, "-P",
                password if password is not None else self.b.users[user]]

    @classmethod
    def kdir(cls, n):
        return os.path.join(cls.keys_dir, n)

    @classmethod
    def pub(cls, n):
        return os.path.join(cls.keys_dir, n + ".pub")

    def channel(self, topic, name):
        """sam's channel on topic with alice as a member (grants in
        keys/name)."""
        grants = os.path.join(self.keys_dir, name)
        self.sh("secmq-keys", "channel", "create", "--keyring",
                self.kdir("sam"), "--topic", topic, "--publisher",
                self.pub("sam"), "--subscriber", self.pub("alice"), "--out",
                grants)
        self.sh("secmq-keys", "import", "--keyring", self.kdir("alice"),
                self.pub("sam"), os.path.join(grants, "alice.grant"))

    def test_sealed_status_through_rabbitmq(self):
        self.channel("status", "grants-status")

        sub = subprocess.Popen(
            [tool("secmq-sub")] + self.conn("alice") +
            ["--keyring", self.kdir("alice"), "-t", "status", "-q", "1",
             "-i", "alice-status", "-F", "%S %p", "-C", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())
        # RabbitMQ asks secmq-authd before it binds alice's queue.
        self.assertIsNotNone(
            self.wait_authd(r"allowed topic read 'status' for 'alice'",
                            DELIVERY_S), self.authd_text())
        # The binding follows the answer: publish until one arrives.
        deadline = time.monotonic() + DELIVERY_S
        n = 0
        while sub.poll() is None and time.monotonic() < deadline:
            n += 1
            self.sh("secmq-pub", *self.conn("sam"), "--keyring",
                    self.kdir("sam"), "-t", "status", "-q", "1", "-m",
                    "door open %d" % n)
            try:
                sub.wait(0.5)
            except subprocess.TimeoutExpired:
                pass
        if sub.poll() is None:
            sub.kill()
        out, err = sub.communicate(timeout=5)
        self.assertEqual(sub.returncode, 0, "secmq-sub: %r %r\n%s"
                         % (out, err, self.authd_text()))
        lines = out.decode().splitlines()
        self.assertRegex(lines[0], r"^sam door open \d+$",
                         "the verified sender and the text")
        # Wrong password: refused by RabbitMQ on secmq-authd's word.
        r = self.sh("secmq-pub", *self.conn("sam", "wrong"), "--keyring",
                    self.kdir("sam"), "-t", "status", "-q", "1", "-m", "x",
                    ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bad username or password", r.stderr)
        self.assertIsNotNone(self.wait_authd(
            r"refused login for 'sam' \(client '[^']*'\): bad password",
            5 * TIMEOUT_SCALE))
        # alice may not publish on status: RabbitMQ asks, secmq-authd
        # denies, RabbitMQ closes the connection (QoS 0: secmq-pub does not
        # wait for an acknowledgement that never comes).
        self.sh("secmq-pub", *self.conn("alice"), "-t", "status", "-q", "0",
                "-m", "forged", ok=False)
        self.assertIsNotNone(self.wait_authd(
            r"denied topic write 'status' for 'alice'", 5 * TIMEOUT_SCALE))

    def test_qos2_refused_loudly(self):
        """RabbitMQ answers a QoS 2 PUBLISH with PUBACK: secmq-pub stops
        within QOS2_FAIL_S (it used to wait forever) with exit 1, the cause
        and the fix; with --rabbitmq it refuses -q 2 before connecting."""
        t0 = time.monotonic()
        try:
            r = subprocess.run(
                [tool("secmq-pub")] + self.conn("sam") +
                ["-t", "status", "-q", "2", "-m", "qos two"],
                capture_output=True, text=True, timeout=QOS2_FAIL_S,
                env=self.env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("secmq-pub -q 2 through RabbitMQ still running after "
                      "%.0f s" % QOS2_FAIL_S)
        took = time.monotonic() - t0
        sys.stderr.write("secmq-pub -q 2 failed in %.2f s\n" % took)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(QOS2_WHY, r.stderr)
        # The topic has no '.': no warning about it.
        self.assertNotIn("has a '.'", r.stderr)
        r = self.sh("secmq-pub", *self.conn("sam"), "--rabbitmq", "-t",
                    "status", "-q", "2", "-m", "x", ok=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("-q 2 with --rabbitmq: RabbitMQ does not support QoS 2",
                      r.stderr)

    def test_dotted_topic_refused_at_receiver(self):
        """A sealed message on `room.1/temp` arrives as `room/1/temp`
        (RabbitMQ's routing keys have '.' for '/'), does not open there
        and is not printed; secmq-sub says the broker may have changed the
        topic, naming the subscription it matches with '.' as '/'.
        secmq-pub --rabbitmq warns about the '.' before publishing."""
        self.channel("room.1/temp", "grants-room")
        err_path = os.path.join(self.b.dir, "sub-room.err")
        with open(err_path, "wb") as err:
            sub = subprocess.Popen(
                [tool("secmq-sub")] + self.conn("alice") +
                ["--keyring", self.kdir("alice"), "-t", "room.1/temp", "-q",
                 "1", "-i", "alice-room", "-v"],
                stdout=subprocess.PIPE, stderr=err, env=self.env)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())

        def sub_err():
            with open(err_path, "r", errors="replace") as fh:
                return fh.read()
        self.assertIsNotNone(
            self.wait_authd(r"allowed topic read 'room\.1\.temp' for "
                            r"'alice' \(client 'alice-room'\)",
                            DELIVERY_S), self.authd_text())
        # The binding follows the answer: publish until one is refused.
        deadline = time.monotonic() + DELIVERY_S
        n = 0
        while "dropped a message" not in sub_err() and \
                time.monotonic() < deadline and sub.poll() is None:
            n += 1
            r = self.sh("secmq-pub", *self.conn("sam"), "--keyring",
                        self.kdir("sam"), "--rabbitmq", "-t", "room.1/temp",
                        "-q", "1", "-m", "21.%d" % n)
            self.assertIn("the topic 'room.1/temp' has a '.': RabbitMQ "
                          "delivers it to subscribers as 'room/1/temp'",
                          r.stderr)
            time.sleep(0.3)
        sub.kill()
        out, _ = sub.communicate(timeout=5)
        text = sub_err()
        self.assertIn("dropped a message on 'room/1/temp' that did not "
                      "open: the topic may have been changed by the broker: "
                      "it matches 'room.1/temp' with '.' read as '/'", text)
        self.assertIn("(no_channel)", text)
        # Refused means not printed: the check is not relaxed.
        self.assertEqual(out, b"", "a message that did not open was printed")


if __name__ == "__main__":
    if not rabbit.installed():
        print("SKIP: rabbitmq-server is not installed (apt-get install "
              "rabbitmq-server, as scripts/deps.sh does)")
        sys.exit(SKIP)
    unittest.main()
