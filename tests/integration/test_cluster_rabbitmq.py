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
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import broker as brokermod  # noqa: E402
from testcase import TIMEOUT_SCALE  # noqa: E402

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
SKIP = 77
BIN_DIR = brokermod.default_bin_dir()
NODE_START_S = 90.0 * TIMEOUT_SCALE
TOOL_S = 20.0 * TIMEOUT_SCALE
DELIVERY_S = 20.0 * TIMEOUT_SCALE
# secmq-pub -q 2 must give up this soon (it used to wait forever).
QOS2_FAIL_S = 10.0 * TIMEOUT_SCALE
QOS2_WHY = ("the broker answered QoS 2 with PUBACK (RabbitMQ does not "
            "support QoS 2); publish at QoS 1")


def tool(name):
    return os.path.join(BIN_DIR, name)


class RabbitNode:
    """One RabbitMQ node with rabbitmq_mqtt and rabbitmq_auth_backend_http
    in its own directory, ports and epmd."""

    def __init__(self, workdir, pki, authd_addr):
        self.dir = os.path.join(workdir, "rabbit")
        os.makedirs(self.dir, 0o700)
        self.mqtt_port, dist_port, epmd_port = brokermod.free_ports(3)
        self.node = "secmq%d@localhost" % os.getpid()
        conf = os.path.join(self.dir, "rabbitmq.conf")
        url = "http://%s/auth/" % authd_addr
        with open(conf, "w") as fh:
            fh.write("\n".join([
                "listeners.tcp = none",
                "mqtt.listeners.tcp = none",
                "mqtt.listeners.ssl.default = %s:%d" % (brokermod.HOST,
                                                        self.mqtt_port),
                "ssl_options.cacertfile = %s" % os.path.join(pki, "ca.crt"),
                "ssl_options.certfile = %s" % os.path.join(pki, "broker.crt"),
                "ssl_options.keyfile = %s" % os.path.join(pki, "broker.key"),
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
                "mqtt.allow_anonymous = false",
                "mqtt.vhost = /",
                "mqtt.exchange = amq.topic",
                "auth_backends.1 = http",
                "auth_http.http_method = post",
                "auth_http.user_path = %suser" % url,
                "auth_http.vhost_path = %svhost" % url,
                "auth_http.resource_path = %sresource" % url,
                "auth_http.topic_path = %stopic" % url,
                ""]))
        plugins = os.path.join(self.dir, "enabled_plugins")
        with open(plugins, "w") as fh:
            fh.write("[rabbitmq_mqtt,rabbitmq_auth_backend_http].\n")
        self.env = dict(os.environ, HOME=self.dir,
                        RABBITMQ_NODENAME=self.node,
                        RABBITMQ_DIST_PORT=str(dist_port),
                        ERL_EPMD_PORT=str(epmd_port),
                        ERL_EPMD_ADDRESS=brokermod.HOST,
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_LOGS="-",
                        RABBITMQ_CONFIG_FILE=conf,
                        RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
                        RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"),
                        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                            "-kernel inet_dist_use_interface {127,0,0,1}"))
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.start_s = None

    def start(self):
        t0 = time.monotonic()
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(RABBIT_BIN, "rabbitmq-server")], env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = t0 + NODE_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rabbitmq-server exited %d:\n%s"
                                     % (self.proc.returncode, self.tail()))
            try:
                socket.create_connection((brokermod.HOST, self.mqtt_port),
                                         timeout=1).close()
                self.start_s = time.monotonic() - t0
                return self.start_s
            except OSError:
                time.sleep(0.2)
        raise AssertionError("RabbitMQ's MQTT listener did not open within "
                             "%.0f s:\n%s" % (NODE_START_S, self.tail()))

    def tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().replace(b"\0", b"").decode(
                    "utf-8", "replace")[-n:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n",
                            self.node, "stop"], env=self.env,
                           capture_output=True, timeout=30 * TIMEOUT_SCALE)
            try:
                self.proc.wait(15 * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # The epmd this node started (its own port).
        subprocess.run(["epmd", "-kill"], env=self.env, capture_output=True,
                       timeout=10)
        if self.proc is not None:
            self.log.close()


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
        cls.authd_log = open(os.path.join(cls.b.dir, "authd.log"), "wb")
        cls.authd = subprocess.Popen(
            [tool("secmq-authd"), "--db", cls.b.auth_db, "--listen",
             "127.0.0.1:0", "-v"], stderr=cls.authd_log,
            stdout=subprocess.DEVNULL)
        cls.addClassCleanup(cls.stop_authd)
        addr = cls.wait_authd(r"listening on (\S+)", 10 * TIMEOUT_SCALE)
        if addr is None:
            raise AssertionError("secmq-authd did not start: %s"
                                 % cls.authd_text())
        cls.node = RabbitNode(cls.b.dir, cls.b.pki, addr)
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
    def stop_authd(cls):
        if cls.authd.poll() is None:
            cls.authd.terminate()
            cls.authd.wait(5 * TIMEOUT_SCALE)
        cls.authd_log.close()

    @classmethod
    def authd_text(cls):
        with open(cls.authd_log.name, "r", errors="replace") as fh:
            return fh.read()

    @classmethod
    def wait_authd(cls, pattern, timeout):
        import re
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, cls.authd_text())
            if m:
                return m.group(1) if m.groups() else m.group(0)
            if cls.authd.poll() is not None:
                return None
            time.sleep(0.05)
        return None

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
    if not os.path.exists(os.path.join(RABBIT_BIN, "rabbitmq-server")):
        print("SKIP: rabbitmq-server is not installed (apt-get install "
              "rabbitmq-server, as scripts/deps.sh does)")
        sys.exit(SKIP)
    unittest.main()
