#!/usr/bin/python3
"""test_cluster_rabbitmq.py -- secmq through a RabbitMQ cluster (label
`cluster`): three RabbitMQ nodes on loopback (Debian's rabbitmq-server; one
epmd, one Erlang cookie, classic_config peer discovery, MQTT sessions in
quorum queues, each node's MQTT plugin on its own TLS listener with the
test's certificates), each node authenticating and authorising every MQTT
client through rabbitmq_auth_backend_http against its own secmq-authd, on
its own copy of an auth database made by secmq-admin with the seed rules.

- secmq-pub as sam publishes sealed, signed messages on `status` on node 1;
  secmq-sub as alice on node 2 receives them with the sender shown; a wrong
  password is refused (node 3, on its secmq-authd's word); alice may not
  publish there; alice subscribing to `#` gets no SUBACK: RabbitMQ closes
  the connection after secmq-authd's denial.
- alice's persistent session (-c, QoS 1: a quorum queue with a member on
  every node) survives the loss of the node holding its leader: alice
  leaves, sam publishes N messages, that node is SIGKILLed, alice comes
  back on another node with the same client id and gets all N in order,
  opened, from sam; the node is started again and rejoins.
- secmq-file sends a 3 MB file from node 1 to a receiver on node 3.
- What RabbitMQ does differently, made loud: secmq-pub -q 2 (RabbitMQ
  answers QoS 2 with PUBACK) fails at once naming the cause and the fix; a
  sealed message on `room.1/temp` (delivered as `room/1/temp`) is refused
  at the receiver with a message saying the broker may have changed the
  topic.

One cluster for all tests of the class (setUpClass). Needs rabbitmq-server
(scripts/deps.sh installs it): without it the test exits 77 (ctest:
skipped) and says so. Every wait is bounded and scaled (TIMEOUT_SCALE).
Run with /usr/bin/python3.
"""

import hashlib
import json
import os
import queue
import re
import ssl
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
NODES = 3
PERSIST_N = 8              # messages queued for alice's persistent session
FILE_S = 60.0 * TIMEOUT_SCALE
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
        # `room/#` for sam to write and alice to read (secmq-authd reads
        # RabbitMQ's routing keys with '.' as '/'), and the topics of a
        # secmq-file transfer from sam to alice.
        cls.b = brokermod.Broker(auth="plugin", name="rabbit")
        cls.b.setup()
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", cls.b.dir])
        for rule in (("sam", "room/#", "write"), ("alice", "room/#", "read"),
                     ("sam", "files/m", "write"),
                     ("sam", "files/c/#", "write"),
                     ("sam", "files/r/#", "read"),
                     ("alice", "files/m", "read"),
                     ("alice", "files/c/#", "read"),
                     ("alice", "files/r/#", "write")):
            cls.b.acl_add("--user", *rule)
        # One secmq-authd next to each node, each on its own copy of the
        # database (docs/DEPLOY.md section 11).
        cls.authds = []
        for i in range(NODES):
            db = os.path.join(cls.b.dir, "auth%d.db" % (i + 1))
            rabbit.copy_db(cls.b.auth_db, db)
            authd = rabbit.Authd(db, cls.b.dir, name="authd%d" % (i + 1))
            cls.addClassCleanup(authd.stop)
            cls.authds.append(authd)
        cls.cluster = rabbit.RabbitCluster(cls.b.dir, cls.b.pki,
                                           [a.addr for a in cls.authds])
        cls.addClassCleanup(cls.cluster.stop)
        start_s = cls.cluster.start()
        cls.cluster.wait_ready(cls.b.cafile, "sam", cls.b.users["sam"])
        start_s = time.monotonic() - cls.cluster.nodes[0].t0
        sys.stderr.write("RabbitMQ cluster of %d nodes up (MQTT listeners "
                         "open at %s s, %d running nodes) in %.1f s\n"
                         % (NODES, ", ".join("%.1f" % n.start_s
                                             for n in cls.cluster.nodes),
                            NODES, start_s))
        cls.nodes = cls.cluster.nodes
        cls.env = dict(os.environ, XDG_RUNTIME_DIR=cls.b.run_dir)
        cls.keys_dir = os.path.join(cls.b.dir, "keys")
        os.mkdir(cls.keys_dir, 0o700)
        cls.channels = set()
        # sam's and alice's identities, each test makes its channel.
        for n in ("sam", "alice"):
            cls.sh_cls("secmq-keys", "init", "--keyring", cls.kdir(n),
                       "--name", n)
            r = cls.sh_cls("secmq-keys", "export", "--keyring", cls.kdir(n))
            with open(cls.pub(n), "w") as fh:
                fh.write(r.stdout)

    def authd_text(self, node=0):
        return self.authds[node].text()

    def wait_authd(self, pattern, timeout, node=0):
        """Wait for pattern in the log of node's secmq-authd."""
        return self.authds[node].wait(pattern, timeout)

    @classmethod
    def sh_cls(cls, name, *args):
        r = subprocess.run([tool(name)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=TOOL_S,
                           env=cls.env, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError("%s %s: %s" % (
                name, " ".join(map(str, args)), r.stderr))
        return r

    def sh(self, name, *args, ok=True, timeout=TOOL_S):
        r = subprocess.run([tool(name)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout,
                           env=self.env, stdin=subprocess.DEVNULL)
        if ok:
            self.assertEqual(r.returncode, 0, "%s %s: %s" % (
                name, " ".join(map(str, args)), r.stderr))
        return r

    def conn(self, user, password=None, node=0):
        """Login options for user on node (0: the first) of the cluster."""
        return ["-h", brokermod.HOST, "-p", str(self.nodes[node].mqtt_port),
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
        keys/name), made once per class."""
        if topic in self.channels:
            return
        self.channels.add(topic)
        grants = os.path.join(self.keys_dir, name)
        self.sh("secmq-keys", "channel", "create", "--keyring",
                self.kdir("sam"), "--topic", topic, "--publisher",
                self.pub("sam"), "--subscriber", self.pub("alice"), "--out",
                grants)
        self.sh("secmq-keys", "import", "--keyring", self.kdir("alice"),
                self.pub("sam"), os.path.join(grants, "alice.grant"))

    def test_sealed_status_across_nodes(self):
        """sam publishes on node 1, alice subscribed on node 2 opens it
        (sender sam); node 3 refuses a wrong password and node 1 a publish
        alice has no rule for, each on its own secmq-authd's word."""
        self.channel("status", "grants-status")

        sub = subprocess.Popen(
            [tool("secmq-sub")] + self.conn("alice", node=1) +
            ["--keyring", self.kdir("alice"), "-t", "status", "-q", "1",
             "-i", "alice-status", "-F", "%S %p", "-C", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())
        # RabbitMQ (node 2) asks its secmq-authd before it binds alice's
        # queue.
        self.assertIsNotNone(
            self.wait_authd(r"allowed topic read 'status' for 'alice' "
                            r"\(client 'alice-status'\)", DELIVERY_S, 1),
            self.authd_text(1))
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
                         % (out, err, self.authd_text(1)))
        lines = out.decode().splitlines()
        self.assertRegex(lines[0], r"^sam door open \d+$",
                         "the verified sender and the text")
        # Wrong password: refused by RabbitMQ on secmq-authd's word.
        r = self.sh("secmq-pub", *self.conn("sam", "wrong", 2), "--keyring",
                    self.kdir("sam"), "-t", "status", "-q", "1", "-m", "x",
                    ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bad username or password", r.stderr)
        self.assertIsNotNone(self.wait_authd(
            r"refused login for 'sam' \(client '[^']*'\): bad password",
            5 * TIMEOUT_SCALE, 2), self.authd_text(2))
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

    def test_subscribe_all_refused(self):
        """alice may read `status` only: her SUBSCRIBE to `#` (node 3) is
        denied by secmq-authd, and RabbitMQ 3.10 answers a denied
        subscription by closing the connection, without a SUBACK (no
        failure code 0x80). secmq-sub -E (exit once every SUBSCRIBE is
        answered) so never gets its answer; it reconnects and tries again
        until -W ends it with exit 27."""
        r = self.sh("secmq-sub", *self.conn("alice", node=2), "-t", "#",
                    "-q", "1", "-i", "alice-all", "-E", "-W",
                    3 * TIMEOUT_SCALE, ok=False)
        self.assertEqual(r.returncode, 27, r.stderr)
        self.assertIn("Timed out", r.stderr)
        self.assertIn("connection lost: TLS: the broker closed the session; "
                      "reconnecting", r.stderr)
        self.assertIsNotNone(self.wait_authd(
            r"denied topic read '#' for 'alice' \(client 'alice-all'\): no "
            r"rule allows read on MQTT filter '#'", 5 * TIMEOUT_SCALE, 2),
            self.authd_text(2))

        # The same with paho, to see the packets: CONNACK 0, no SUBACK,
        # the connection closed by the broker.
        import paho.mqtt.client as mqtt
        events = queue.Queue()
        c = mqtt.Client(client_id="alice-all-paho", clean_session=True,
                        protocol=mqtt.MQTTv311)
        c.tls_set(ca_certs=self.b.cafile,
                  tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.username_pw_set("alice", self.b.users["alice"])
        c.on_connect = lambda cl, u, f, rc: events.put(("connack", rc))
        c.on_subscribe = lambda cl, u, mid, q: events.put(("suback", q))
        c.on_disconnect = lambda cl, u, rc: events.put(("closed", rc))
        c.connect(brokermod.HOST, self.nodes[2].mqtt_port, 30)
        c.loop_start()
        self.addCleanup(c.loop_stop)
        self.assertEqual(events.get(timeout=DELIVERY_S), ("connack", 0))
        c.subscribe("#", 1)
        ev = events.get(timeout=DELIVERY_S)
        self.assertEqual(ev[0], "closed", "RabbitMQ answered %r" % (ev,))
        self.assertNotEqual(ev[1], 0, "closed by the broker, not by paho")
        self.assertIsNotNone(self.wait_authd(
            r"denied topic read '#' for 'alice' \(client 'alice-all-paho'\)",
            5 * TIMEOUT_SCALE, 2), self.authd_text(2))

    def test_retained_stays_on_its_node(self):
        """RabbitMQ 3.10 keeps a retained message on the node that received
        it: sam's sealed retained `room/state` (node 1) reaches a new
        subscriber on node 1, opened, and not one on node 2."""
        self.channel("room/state", "grants-state")
        self.sh("secmq-pub", *self.conn("sam"), "--keyring",
                self.kdir("sam"), "-t", "room/state", "-q", "1", "-r", "-m",
                "lights on")
        # An empty retained message clears it (as mosquitto_pub -r -n).
        self.addCleanup(self.sh, "secmq-pub", *self.conn("sam"), "-t",
                        "room/state", "-q", "1", "-r", "-n")
        r = self.sh("secmq-sub", *self.conn("alice"), "--keyring",
                    self.kdir("alice"), "-t", "room/state", "-q", "1",
                    "--retained-only", "-C", "1", "-F", "%S %r %p", "-W",
                    DELIVERY_S)
        self.assertEqual(r.stdout, "sam 1 lights on\n", r.stderr)
        r = self.sh("secmq-sub", *self.conn("alice", node=1), "--keyring",
                    self.kdir("alice"), "-t", "room/state", "-q", "1",
                    "-i", "alice-state-2", "--retained-only", "-C", "1",
                    "-W", 3 * TIMEOUT_SCALE, ok=False)
        self.assertEqual((r.returncode, r.stdout), (27, ""), r.stderr)
        # The subscription was made (and allowed) on node 2.
        self.assertIsNotNone(self.wait_authd(
            r"allowed topic read 'room\.state' for 'alice' \(client "
            r"'alice-state-2'\)", 5 * TIMEOUT_SCALE, 1), self.authd_text(1))

    def test_db_change_copied_to_every_node(self):
        """A rule added with secmq-admin on the master copy of the auth
        database reaches every node as deployed: a consistent copy
        (sqlite's backup) renamed over each node's file; each secmq-authd
        reloads it, and eve, refused `status` before, may subscribe on
        every node."""
        r = self.sh("secmq-sub", *self.conn("eve", node=2), "-t", "status",
                    "-i", "eve-before", "-E", "-W", 3 * TIMEOUT_SCALE,
                    ok=False)
        self.assertEqual(r.returncode, 27, r.stderr)
        self.assertIsNotNone(self.wait_authd(
            r"denied topic read 'status' for 'eve'", 5 * TIMEOUT_SCALE, 2),
            self.authd_text(2))
        before = [int(re.search(r"loaded 3 users, (\d+) rules",
                                self.authd_text(i)).group(1))
                  for i in range(NODES)]
        rule = self.b.acl_add("--user", "eve", "status", "read")
        self.addCleanup(self.copy_db_to_nodes)
        self.addCleanup(self.b.admin, "acl", "del", str(rule))
        self.copy_db_to_nodes()
        for i in range(NODES):
            self.assertIsNotNone(self.wait_authd(
                r"reloaded policy: 3 users, %d rules" % (before[i] + 1),
                DELIVERY_S, i), self.authd_text(i))
            self.sh("secmq-sub", *self.conn("eve", node=i), "-t", "status",
                    "-i", "eve-after-%d" % i, "-E")

    def copy_db_to_nodes(self):
        for i in range(NODES):
            db = os.path.join(self.b.dir, "auth%d.db" % (i + 1))
            rabbit.copy_db(self.b.auth_db, db + ".new")
            os.replace(db + ".new", db)

    def queue_of(self, node, name):
        """The queue called name as node lists it: {name, type, leader,
        members, online}."""
        r = node.ctl("list_queues", "name", "type", "leader", "members",
                     "online", "--formatter", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        found = [q for q in json.loads(r.stdout) if q["name"] == name]
        self.assertEqual(len(found), 1, r.stdout)
        return found[0]

    def test_persistent_session_survives_leader_loss(self):
        """alice's persistent session (-c, QoS 1) on node 2 is a quorum
        queue with a member on each node; while she is away sam publishes
        N sealed messages on node 1 and the node holding the queue's
        leader is SIGKILLed. alice comes back on a surviving node with
        the same client id and gets all N, in order, opened, from sam. The
        killed node is started again and rejoins: 3 running nodes, every
        member of the queue online."""
        self.channel("status", "grants-status")
        cid = "alice-persist"
        qname = "mqtt-subscription-%sqos1" % cid
        self.sh("secmq-sub", *self.conn("alice", node=1), "--keyring",
                self.kdir("alice"), "-t", "status", "-q", "1", "-c", "-i",
                cid, "-E")
        q = self.queue_of(self.nodes[0], qname)
        self.assertEqual(q["type"], "quorum", q)
        self.assertEqual(sorted(q["members"]),
                         sorted(n.node for n in self.nodes), q)
        sent = ["persist %d" % i for i in range(PERSIST_N)]
        for text in sent:
            self.sh("secmq-pub", *self.conn("sam"), "--keyring",
                    self.kdir("sam"), "-t", "status", "-q", "1", "-m", text)
        victim = [n for n in self.nodes if n.node == q["leader"]]
        self.assertEqual(len(victim), 1, q)
        victim = victim[0]
        survivors = [i for i, n in enumerate(self.nodes) if n is not victim]
        sys.stderr.write("queue leader on %s: SIGKILLed\n" % victim.node)
        victim.kill()
        # Started again however this test ends: the others need it.
        self.addCleanup(lambda: victim.running() or victim.restart())
        t0 = time.monotonic()
        r = self.sh("secmq-sub", *self.conn("alice", node=survivors[0]),
                    "--keyring", self.kdir("alice"), "-t", "status", "-q",
                    "1", "-c", "-i", cid, "-F", "%S %p", "-C", PERSIST_N,
                    "-W", DELIVERY_S, timeout=DELIVERY_S + TOOL_S)
        sys.stderr.write("alice had her %d messages %.1f s after the kill "
                         "(node %s)\n" % (PERSIST_N, time.monotonic() - t0,
                                          self.nodes[survivors[0]].node))
        self.assertEqual(r.stdout.splitlines(), ["sam " + t for t in sent],
                         r.stderr)
        q = self.queue_of(self.nodes[survivors[0]], qname)
        self.assertNotEqual(q["leader"], victim.node, q)
        self.assertNotIn(victim.node, q["online"], q)

        # The node comes back (same name and data) and rejoins.
        t0 = time.monotonic()
        victim.restart()
        victim.wait_mqtt_ready(self.b.cafile, "sam", self.b.users["sam"])
        self.cluster.wait_running(time.monotonic() + rabbit.NODE_START_S,
                                  via=self.nodes[survivors[0]])
        deadline = time.monotonic() + DELIVERY_S
        while time.monotonic() < deadline:
            q = self.queue_of(self.nodes[survivors[0]], qname)
            if sorted(q["online"]) == sorted(q["members"]):
                break
            time.sleep(0.5)
        self.assertEqual(sorted(q["online"]), sorted(q["members"]), q)
        sys.stderr.write("%s back in the cluster in %.1f s\n"
                         % (victim.node, time.monotonic() - t0))
        # A clean session with the client id ends the persistent one.
        self.sh("secmq-sub", *self.conn("alice", node=survivors[0]), "-t",
                "status", "-i", cid, "-E")
        r = self.nodes[survivors[0]].ctl("list_queues", "name")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(qname, r.stdout)

    def test_file_across_nodes(self):
        """secmq-file: sam sends a 3 MB random file on node 1, alice
        receives it on node 3; the SHA-256 is the same."""
        grants = os.path.join(self.keys_dir, "grants-files")
        self.sh("secmq-keys", "channel", "create", "--keyring",
                self.kdir("sam"), "--files", "files", "--publisher",
                self.pub("sam"), "--subscriber", self.pub("alice"), "--out",
                grants)
        self.sh("secmq-keys", "import", "--keyring", self.kdir("alice"),
                self.pub("sam"), os.path.join(grants, "files", "alice.grant"),
                os.path.join(grants, "requests", "alice.grant"))
        data = os.urandom(3 * 1000 * 1000)
        src = os.path.join(self.b.dir, "image.raw")
        with open(src, "wb") as fh:
            fh.write(data)
        out = os.path.join(self.b.dir, "files-out")
        os.mkdir(out)
        recv = subprocess.Popen(
            [tool("secmq-file"), "recv"] + self.conn("alice", node=2) +
            ["--keyring", self.kdir("alice"), "-i", "alice-files", "-t",
             "files", "-o", out, "-C", "1", "-W", str(FILE_S)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.addCleanup(lambda: recv.poll() is None and recv.kill())
        for key in (r"files\.m", r"files\.c\.\*"):
            self.assertIsNotNone(self.wait_authd(
                r"allowed topic read '%s' for 'alice' \(client "
                r"'alice-files'\)" % key, DELIVERY_S, 2), self.authd_text(2))
        t0 = time.monotonic()
        r = self.sh("secmq-file", "send", *self.conn("sam"), "--keyring",
                    self.kdir("sam"), "-i", "sam-files", "-t", "files",
                    "--retry", "1", "-W", FILE_S, src,
                    timeout=FILE_S + TOOL_S)
        took = time.monotonic() - t0
        self.assertRegex(r.stdout, r"^image\.raw\t3000000\ttree-v2:"
                         r"[0-9a-f]{64}\talice\n$")
        rout, rerr = recv.communicate(timeout=DELIVERY_S)
        self.assertEqual(recv.returncode, 0, rerr)
        self.assertRegex(rout.decode(), r"^image\.raw\t3000000\ttree-v2:"
                         r"[0-9a-f]{64}\tsam\n$")
        with open(os.path.join(out, "image.raw"), "rb") as fh:
            self.assertEqual(hashlib.sha256(fh.read()).hexdigest(),
                             hashlib.sha256(data).hexdigest())
        sys.stderr.write("3 MB from node 1 to node 3 in %.1f s\n" % took)


if __name__ == "__main__":
    if not rabbit.installed():
        print("SKIP: rabbitmq-server is not installed (apt-get install "
              "rabbitmq-server, as scripts/deps.sh does)")
        sys.exit(SKIP)
    unittest.main()
