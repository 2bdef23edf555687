#!/usr/bin/python3
"""test_bridge.py -- two mosquittos joined by a TLS bridge, the secmq_auth.so
plugin on both: an edge broker where sam publishes, and a central broker
where alice subscribes. The edge's bridge logs into the central broker as
the user `bridge`, a relay (`secmq-admin user add bridge --relay`).

- sealed QoS 1 messages from sam at the edge reach alice at the central
  broker with the verified sender sam; signatures are enforced at both
  (the edge refuses sam's unsigned publish; the central broker logs each
  relayed publish with its signer);
- envelopes the edge lets through (its database registers eve's and a
  stranger's keys for sam) are dropped by the central broker, which names
  why; the relay's own rules still bound what it relays; without the relay
  role the central broker refuses sam's messages, as before the role;
- `key del` and `user del` at the central broker stop sam's relayed
  messages;
- what mosquitto 2.0.11 does NOT check: a message the edge receives over
  its own bridge (`topic ... in`) reaches the edge's subscribers without
  any ACL check of the edge's plugin; with plugin_opt_bridge_in_signed
  true the edge's plugin checks it on the MESSAGE event instead (an
  unsigned one dropped, sam's signed one delivered, each logged);
- a `secmq-file` transfer from the edge to the central broker (the
  receiver's requests come back over the bridge's `in` topics, checked at
  the edge with that option);
- the central broker SIGKILLed and started again: the bridge reconnects
  and the QoS 1 messages sam published meanwhile arrive.
- the EDGE broker (persistence on) restarted, then SIGKILLed, in the
  middle of sam's sealed QoS 1 stream (secmq-pub -l --outbox): after the
  restart every message arrives once, in order, opened with sam as
  sender; after the SIGKILL only messages in flight at the kill may be
  missing (none in the runs measured); with the central broker away, a
  SIGKILL loses exactly the messages the edge acknowledged after its
  last autosave, and the saved bridge queue arrives;
- a bridge speaking MQTT v5 (bridge_protocol_version mqttv50): the relay
  role and signature checks behave as over MQTT 3.1.1.
Every wait is bounded. Run with /usr/bin/python3.
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import GUARD_RELAXED, PluginTestCase  # noqa: E402
from keys import E2ETestCase, LiveProc, verify_signature  # noqa: E402
from testcase import TIMEOUT_SCALE, PahoClient  # noqa: E402
import broker as brokermod  # noqa: E402

BRIDGE_ID = "bridge-edge1"
WAIT_S = 10.0 * TIMEOUT_SCALE   # a bound on each wait, not a timing


def q(s):
    return re.escape(s)


def rx_relayed(topic, signer):
    return (r"secmq_auth: relayed publish on '%s' from client '%s' "
            r"\(relay user 'bridge'\): signed by '%s'$"
            % (q(topic), BRIDGE_ID, q(signer)))


def rx_relay_dropped(topic, why):
    return (r"secmq_auth: dropped publish on '%s' from client '%s' "
            r"\(relay user 'bridge'\): %s$" % (q(topic), BRIDGE_ID, q(why)))


class BridgeTestCase(E2ETestCase, PluginTestCase):
    """self.broker is the central broker (PluginTestCase), self.edge the
    edge broker whose bridge connects to it."""

    plugin_seed = False
    reload_interval = 1
    # As docs/DEPLOY.md sets it: the bridge's client id is its user's.
    plugin_opts = {"client_id_pattern": "%u %u-*"}

    # Rules on both brokers (secmq-admin acl add ARGS), the topics the
    # bridge carries and the users whose keys the central broker knows;
    # each test class adds what it needs.
    CENTRAL_RULES = (
        ("--user", "sam", "status", "write", "--signed"),
        ("--user", "alice", "status", "read"),
        # The relay: only what the bridge carries; --signed on every topic
        # it writes, so each relayed publish needs an allowed signer.
        ("--user", "bridge", "status", "write", "--signed"),
    )
    EDGE_RULES = (("--user", "sam", "status", "write", "--signed"),)
    BRIDGE_TOPICS = ("status out 1",)
    CENTRAL_KEYS = ("sam",)
    EDGE_KEYS = ()           # (user, whose key) besides sam's keys
    edge_persistence = False  # the edge's persistence (autosave every 1 s)
    # How the central broker's log names the bridge's connection: MQTT
    # 3.1.1 bridges flag themselves in CONNECT, MQTT v5 has no such flag.
    bridge_seen_as = "bridge"

    def setUp(self):
        super().setUp()
        self.shown = []
        # sam owns the channel on status, alice subscribes to it.
        for n in ("sam", "alice", "eve"):
            self.make_identity(n)
        g = self.create_channel("status", subscribers=("alice",))
        self.import_("alice", self.pubfile("sam"), self.grant(g, "alice"))
        c = self.broker
        self.bridge_pw = c.add_user("bridge")
        self.admin("user", "relay", "bridge")
        for rule in self.CENTRAL_RULES:
            c.acl_add(*rule)
        for who in self.CENTRAL_KEYS:
            self.admin("key", "add", who, self.pubfile(who))
        # Everything committed: a reload logged after this reads it all.
        since = c.log_size()
        c.proc.send_signal(signal.SIGHUP)
        self.wait_reloaded(since)
        self.edge = self.start_edge()

    def bridge_conf(self):
        c = self.broker
        return ["connection central",
                "address %s:%d" % (c.host, c.port),
                "bridge_cafile " + c.cafile,
                "bridge_protocol_version mqttv311",
                "remote_username bridge",
                "remote_password " + self.bridge_pw,
                "remote_clientid " + BRIDGE_ID,
                "cleansession false",
                "notifications false",
                "restart_timeout 1",
                "keepalive_interval 10"] + \
            ["topic " + t for t in self.BRIDGE_TOPICS]

    def start_edge(self):
        edge = brokermod.Broker(
            name="edge-" + self._testMethodName[:18], auth="plugin",
            plugin_seed=False, plugin_opts=GUARD_RELAXED,
            persistence=self.edge_persistence,
            max_queued_messages=100000, extra_conf=self.bridge_conf)
        self.addCleanup(self.close_edge, edge)
        edge.setup()
        for rule in self.EDGE_RULES:
            edge.acl_add(*rule)
        # A careless (or taken-over) edge: eve's and mallory's keys are
        # registered for sam there.
        self.make_identity("mallory")
        for who in ("sam", "eve", "mallory"):
            edge.admin("key", "add", "sam", self.pubfile(who))
        for user, who in self.EDGE_KEYS:
            edge.admin("key", "add", user, self.pubfile(who))
        since = self.broker.log_size()
        edge.start()
        self.wait_bridge(since)
        return edge

    def close_edge(self, edge):
        edge.stop()
        if self._failed():
            print("\n---- edge broker log (tail) ----\n%s"
                  % edge.log_tail(60), file=sys.stderr)
        m = brokermod.SANITIZER_REPORT.search(edge.log_text() or "")
        edge.close()
        if m:
            self.fail("the sanitizers reported a problem in the edge "
                      "broker: %s" % m.group(0))

    def wait_log(self, pattern, since=0, timeout=WAIT_S, msg=None):
        super().wait_log(pattern, since, timeout, msg)

    def wait_bridge(self, since):
        """The bridge logged in at the central broker and, if it brings
        topics in, subscribed there."""
        self.wait_log(r": New %s connected from .* as %s \("
                      % (self.bridge_seen_as, BRIDGE_ID),
                      since, timeout=WAIT_S,
                      msg="the bridge did not (re)connect")
        if any(" in " in t or " both " in t for t in self.BRIDGE_TOPICS):
            self.wait_log(r": Sending SUBACK to %s$" % BRIDGE_ID, since,
                          timeout=WAIT_S, msg="the bridge did not subscribe")

    # -- tools at the edge ----------------------------------------------------

    def edge_conn(self, user):
        return self.conn_args(user, password=self.edge.users[user],
                              port=self.edge.port, cafile=self.edge.cafile)

    def edge_pub(self, *args, keyring="sam", input=None, ok=True):
        """secmq-pub as MQTT user sam at the edge, sealing with keyring
        (a name; None: no keyring)."""
        conn = self.edge_conn("sam")
        if keyring is not None:
            conn += ["--keyring", self.kdir(keyring)]
        r = self.run_tool("secmq-pub", conn + list(args), input=input)
        if ok:
            self.assertEqual(r.returncode, 0, "secmq-pub at the edge %s: %r"
                             % (args, r.stderr))
        return r

    def watch_status(self, client_id="alice-status", persistent=False):
        """alice at the central broker: paho (the bytes delivered) and
        secmq-sub with her keyring ("%S %p": verified sender, text)."""
        cap = self.paho(user="alice", client_id=client_id + "-raw",
                        subscribe="status")
        extra = ["-c"] if persistent else []
        opened = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S %p",
                          *extra, client_id=client_id)
        return cap, opened

    def expect_sam(self, cap, opened, texts):
        """Next on status: sam's signed envelopes of texts, in order
        (self.shown: what opened has shown so far)."""
        self.shown += ["sam " + t for t in texts]
        for t, env in self.capture(cap, len(texts), timeout=WAIT_S):
            self.assertEqual(t, "status")
            self.assertTrue(verify_signature(env, "status",
                                             self.public("sam").pk),
                            "not sam's signed envelope: %r" % env[:40])
        self.assertTrue(opened.wait_out(len(self.shown), WAIT_S),
                        opened.text())
        self.assertEqual(opened.out, self.shown)


class Relay(BridgeTestCase):
    CENTRAL_RULES = BridgeTestCase.CENTRAL_RULES + (
        ("--user", "sam", "other", "write", "--signed"),)
    EDGE_RULES = BridgeTestCase.EDGE_RULES + (
        ("--user", "sam", "other", "write", "--signed"),)
    BRIDGE_TOPICS = ("status out 1", "other out 1")
    CENTRAL_KEYS = ("sam", "eve")

    def relay_basics(self):
        """sam's signed messages relayed; his unsigned one stopped at the
        edge; eve's and mallory's dropped at the central broker; the
        relay's own rules bound it. Returns (cap, opened) of watch_status,
        having seen one, two, three and four."""
        c, e = self.broker, self.edge
        # eve and mallory seal on status with channels of their own; sam
        # has one on `other` too.
        for owner in ("eve", "mallory"):
            self.create_channel("status", owner=owner, publishers=(owner,),
                                subscribers=())
        self.create_channel("other", subscribers=())
        cap, opened = self.watch_status()
        since, esince = c.log_size(), e.log_size()
        self.edge_pub("-t", "status", "-q", "1", "-l",
                      input="one\ntwo\nthree\n")
        self.expect_sam(cap, opened, ["one", "two", "three"])
        self.assertTrue(c.wait_for_log(rx_relayed("status", "sam"), WAIT_S,
                                       since, count=3), c.log_tail())
        # Enforced at the edge too: sam's unsigned publish stops there.
        self.edge_pub("-i", "sam-plain", "-t", "status", "-q", "1",
                      "-m", "unsigned", keyring=None)
        self.assertTrue(e.wait_for_log(
            r"secmq_auth: dropped publish on 'status' from client "
            r"'sam-plain' \(user 'sam'\): not a signed secmq envelope$",
            WAIT_S, esince), e.log_tail())

        # Signed by eve (registered at the central broker, but not allowed
        # on status) and by mallory (registered there for no one): the
        # edge lets both through, the central broker drops them.
        since = c.log_size()
        self.edge_pub("-t", "status", "-q", "1", "-m", "eve's",
                      keyring="eve")
        self.edge_pub("-t", "status", "-q", "1", "-m", "mallory's",
                      keyring="mallory")
        self.wait_log(rx_relay_dropped(
            "status", "signed by 'eve', who may not publish there"), since)
        self.wait_log(rx_relay_dropped(
            "status", "key not registered for any user"), since)
        # The relay's own rules bound it: sam may write `other` at both
        # brokers, the bridge user may not at the central one.
        self.edge_pub("-t", "other", "-q", "1", "-m", "elsewhere")
        self.wait_log(r"secmq_auth: denied publish to 'other' for client "
                      r"'%s' \(user 'bridge'\)$" % BRIDGE_ID, since)
        self.edge_pub("-t", "status", "-q", "1", "-m", "four")
        self.expect_sam(cap, opened, ["four"])
        self.assert_no_more(cap, 0.2)
        return cap, opened

    def test_relayed_signed_forged_revoked(self):
        c = self.broker
        cap, opened = self.relay_basics()

        # Without the relay role, sam's key would have to be the bridge
        # user's own.
        self.assertIn("bridge\tenabled,relay\t",
                      self.admin("user", "list").stdout)
        since = c.log_size()
        self.change("user", "relay", "bridge", "--remove")
        self.assertIn("bridge\tenabled\t", self.admin("user", "list").stdout)
        self.edge_pub("-t", "status", "-q", "1", "-m", "not relayed")
        self.wait_log(r"secmq_auth: dropped publish on 'status' from client "
                      r"'%s' \(user 'bridge'\): key not registered for "
                      r"user$" % BRIDGE_ID, since)
        self.change("user", "relay", "bridge")
        self.edge_pub("-t", "status", "-q", "1", "-m", "five")
        self.expect_sam(cap, opened, ["five"])

        # Revocation at the central broker: sam's key, then sam.
        kid = self.admin("key", "list", "sam").stdout.split("\t")[1]
        since = c.log_size()
        self.change("key", "del", "sam", kid)
        self.edge_pub("-t", "status", "-q", "1", "-m", "revoked key")
        self.wait_log(rx_relay_dropped(
            "status", "key not registered for any user"), since)
        self.change("key", "add", "sam", self.pubfile("sam"))
        self.edge_pub("-t", "status", "-q", "1", "-m", "six")
        self.expect_sam(cap, opened, ["six"])
        since = c.log_size()
        self.change("user", "del", "sam")
        self.edge_pub("-t", "status", "-q", "1", "-m", "deleted user")
        self.wait_log(rx_relay_dropped(
            "status", "key not registered for any user"), since)
        self.assert_no_more(cap, 0.3)
        self.assertEqual(opened.stop(), 0, opened.text())
        self.assertEqual(opened.out, ["sam " + t for t in (
            "one", "two", "three", "four", "five", "six")])


class RelayV5(BridgeTestCase):
    """Relay's first half over a bridge that speaks MQTT v5 to the central
    broker (bridge_protocol_version mqttv50): the plugin sees the same
    client, user and payloads, so the same results. mosquitto logs it as
    an ordinary client ("New client connected ... (p5, ...)")."""
    CENTRAL_RULES = Relay.CENTRAL_RULES
    EDGE_RULES = Relay.EDGE_RULES
    BRIDGE_TOPICS = Relay.BRIDGE_TOPICS
    CENTRAL_KEYS = Relay.CENTRAL_KEYS
    bridge_seen_as = "client"
    relay_basics = Relay.relay_basics

    def bridge_conf(self):
        return [("bridge_protocol_version mqttv50"
                 if x.startswith("bridge_protocol_version ") else x)
                for x in super().bridge_conf()]

    def test_relayed_over_mqtt5(self):
        cap, opened = self.relay_basics()
        self.assertEqual(opened.stop(), 0, opened.text())
        self.assertEqual(opened.out, ["sam " + t for t in (
            "one", "two", "three", "four")])


class BridgeIn(BridgeTestCase):
    """What the edge does with messages its bridge brings in: nothing by
    default (mosquitto asks no plugin), a signature check of this
    broker's own with plugin_opt_bridge_in_signed true; then a secmq-file
    transfer edge -> central, whose requests come back in and are so
    checked at the edge."""
    CENTRAL_RULES = BridgeTestCase.CENTRAL_RULES + (
        ("--user", "sam", "files/m", "write", "--signed"),
        ("--user", "sam", "files/c/#", "write", "--signed"),
        ("--user", "sam", "files/r/#", "read"),
        ("--user", "sam", "cmd", "write"),
        ("--user", "alice", "files/m", "read"),
        ("--user", "alice", "files/c/#", "read"),
        ("--user", "alice", "files/r/#", "write", "--signed"),
        ("--user", "bridge", "files/m", "write", "--signed"),
        ("--user", "bridge", "files/c/#", "write", "--signed"),
        ("--user", "bridge", "files/r/#", "read"),
        ("--user", "bridge", "cmd", "read"))
    EDGE_RULES = BridgeTestCase.EDGE_RULES + (
        ("--user", "sam", "files/m", "write", "--signed"),
        ("--user", "sam", "files/c/#", "write", "--signed"),
        ("--user", "sam", "files/r/#", "read"),
        ("--user", "alice", "files/r/#", "write", "--signed"),
        ("--user", "sam", "cmd", "write"),
        ("--user", "alice", "cmd", "read"))
    EDGE_KEYS = (("alice", "alice"),)
    # The sender's manifest and chunks go out; the receiver's requests
    # come back in.
    BRIDGE_TOPICS = ("files/m out 1", "files/c/# out 1", "files/r/# in 1",
                     "cmd in 1")
    CENTRAL_KEYS = ("sam", "alice")

    def test_bridge_in_and_file_transfer(self):
        self.not_checked_by_default()
        e = self.edge
        # plugin_opt_bridge_in_signed true: the edge checks signatures.
        e.plugin_opts["bridge_in_signed"] = "true"
        since = self.broker.log_size()
        esince = e.log_size()
        e.restart()
        self.assertTrue(e.wait_for_log(
            r"secmq_auth: loaded .*signatures required where a rule says "
            r"so and on bridged-in messages", WAIT_S, esince))
        self.wait_bridge(since)
        self.checked_with_the_option()
        self.file_transfer_edge_to_central()

    def not_checked_by_default(self):
        """mosquitto 2.0.11 asks no plugin's ACL check about a message a
        bridge brings in (it allows bridge connections everything first):
        the bridge's user may write nothing at the edge, yet a plain
        message published at the central broker reaches alice's
        subscription at the edge over `topic cmd in`. docs/DEPLOY.md says
        so; if this fails, mosquitto changed and the documents must
        follow."""
        e = self.edge
        alice = PahoAt(self, e, "alice", "alice-edge", "cmd")
        esince = e.log_size()
        sam = self.paho(user="sam", client_id="sam-cmd")
        sam.publish("cmd", b"from the centre", qos=1)
        m = alice.get(timeout=WAIT_S)
        self.assertIsNotNone(m, "nothing came in over the bridge")
        self.assertEqual((m[0], m[1]), ("cmd", b"from the centre"))
        self.assertTrue(e.wait_for_log(
            r"Received PUBLISH from local\.%s .*'cmd'" % BRIDGE_ID, 2,
            esince))
        self.assertNotRegex(e.log_text()[esince:], r"secmq_auth: .*'cmd'")
        # A client of the edge that may not write cmd is refused there.
        local = self.run_tool("secmq-pub", self.edge_conn("alice") + [
            "-i", "alice-local", "-t", "cmd", "-q", "1", "-m", "local"])
        self.assertEqual(local.returncode, 0, local.stderr)
        self.assertTrue(e.wait_for_log(
            r"secmq_auth: denied publish to 'cmd' for client 'alice-local' "
            r"\(user 'alice'\)$", WAIT_S, esince), e.log_tail())
        self.assertIsNone(alice.get(timeout=0.3))
        alice.close()

    def checked_with_the_option(self):
        e = self.edge
        self.create_channel("cmd", subscribers=())
        alice = PahoAt(self, e, "alice", "alice-edge2", "cmd")
        esince = e.log_size()
        sam = self.paho(user="sam", client_id="sam-cmd2")
        sam.publish("cmd", b"plain", qos=1)
        self.assertTrue(e.wait_for_log(
            r"secmq_auth: dropped bridged-in message on 'cmd' from "
            r"'local\.%s': not a signed secmq envelope$" % BRIDGE_ID, WAIT_S,
            esince), e.log_tail())
        self.epub("sam", "-i", "sam-cmd3", "-t", "cmd", "-q", "1", "-m", "go")
        m = alice.get(timeout=WAIT_S)
        self.assertIsNotNone(m, "sam's signed message did not come in")
        self.assertEqual(m[0], "cmd")
        self.assertTrue(verify_signature(m[1], "cmd", self.public("sam").pk))
        self.assertTrue(e.wait_for_log(
            r"secmq_auth: bridged-in message on 'cmd' from 'local\.%s': "
            r"signed by 'sam'$" % BRIDGE_ID, WAIT_S, esince), e.log_tail())
        self.assertIsNone(alice.get(timeout=0.3))

    def file_transfer_edge_to_central(self):
        g1 = self.create_channel("files/#", publishers=("sam",),
                                 subscribers=("alice",))
        g2 = self.create_channel("files/r/#", publishers=("alice",),
                                 subscribers=("sam",))
        self.import_("alice", self.grant(g1, "alice"),
                     self.grant(g2, "alice"))
        out = os.path.join(self.broker.dir, "out")
        os.mkdir(out)
        src = os.path.join(self.broker.dir, "photo.bin")
        data = os.urandom(300 * 1000)
        with open(src, "wb") as fh:
            fh.write(data)
        since, esince = self.broker.log_size(), self.edge.log_size()
        recv = self.spawn("secmq-file", ["recv"] + self.e2e_conn("alice") +
                          ["-i", "alice-files", "-t", "files", "-o", out,
                           "-C", "1"])
        recv = LiveProc(recv, "secmq-file recv")
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to alice-files$", WAIT_S, since, count=2))
        r = self.run_tool("secmq-file", ["send"] + self.edge_conn("sam") +
                          ["--keyring", self.kdir("sam"), "-i", "sam-files",
                           "-t", "files", "--retry", "1",
                           "-W", str(30 * TIMEOUT_SCALE), src],
                          timeout=40 * TIMEOUT_SCALE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^photo\.bin\t300000\ttree-v2:"
                         r"[0-9a-f]{64}\talice\n$")
        self.assertEqual(recv.wait_exit(WAIT_S), 0, recv.text())
        with open(os.path.join(out, "photo.bin"), "rb") as fh:
            self.assertEqual(hashlib.sha256(fh.read()).digest(),
                             hashlib.sha256(data).digest())
        log = self.broker.log_text()[since:]
        self.assertRegex(log, rx_relayed("files/m", "sam").rstrip("$"))
        # Protocol 2 chunks carry no signature: accepted by their form
        # from the relay, since sam (who has a key) may publish there.
        self.assertRegex(log, r"accepted unsigned file chunk \(protocol 2\) "
                         r"on 'files/c/[0-9a-f]+' from client '%s' \(user "
                         r"'bridge'\)" % BRIDGE_ID)
        # alice's requests came in over the bridge, checked at the edge.
        self.assertRegex(self.edge.log_text()[esince:],
                         r"bridged-in message on 'files/r/[0-9a-f]+' from "
                         r"'local\.%s': signed by 'alice'" % BRIDGE_ID)


def PahoAt(test, b, user, client_id, topic):
    """A paho client of broker b subscribed to topic (closed at cleanup)."""
    c = PahoClient(b, user=user, client_id=client_id)
    c.connect()
    test.addCleanup(c.close)
    c.subscribe(topic, qos=1)
    return c


class CentralRestart(BridgeTestCase):
    persistence = True

    def test_sigkill_central_mid_stream(self):
        c = self.broker
        opened = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S %p",
                          "-c", client_id="alice-status")
        self.edge_pub("-t", "status", "-q", "1", "-l", input="m1\nm2\n")
        self.assertTrue(opened.wait_out(2, WAIT_S), opened.text())
        # alice's persistent session must be in the persistence file
        # before the kill (autosave_interval 1 in the harness).
        db = os.path.join(c.dir, "persist", "mosquitto.db")
        t0 = time.time()
        self.assertTrue(self.poll(lambda: os.path.exists(db) and
                                  os.path.getmtime(db) > t0, timeout=WAIT_S,
                                  interval=0.1),
                        "no autosave of the central broker")
        c.kill()
        # QoS 1 messages published at the edge while the central broker
        # is gone wait in the edge's queue for the bridge.
        self.edge_pub("-t", "status", "-q", "1", "-l", input="m3\nm4\nm5\n")
        since = c.log_size()
        c.start()
        self.wait_bridge(since)
        self.edge_pub("-t", "status", "-q", "1", "-l", input="m6\nm7\n")
        self.assertTrue(opened.wait_out(7, 2 * WAIT_S), opened.text())
        self.assertEqual(sorted(opened.out),
                         ["sam m%d" % i for i in range(1, 8)])
        self.assertTrue(c.wait_for_log(rx_relayed("status", "sam"), WAIT_S,
                                       since, count=5), c.log_tail())
        self.assertEqual(opened.stop(), 0, opened.text())


class EdgeRestart(BridgeTestCase):
    """The EDGE broker restarted, then SIGKILLed, in the middle of a sealed
    QoS 1 stream from sam's secmq-pub -l --outbox at the edge to alice's
    secmq-sub at the central broker; the edge has persistence on (every
    second), as DEPLOY.md section 10 recommends."""
    edge_persistence = True

    def edge_db(self):
        return os.path.join(self.edge.dir, "persist", "mosquitto.db")

    def edge_saved_after(self, t0):
        db = self.edge_db()
        return self.poll(lambda: os.path.exists(db) and
                         os.path.getmtime(db) > t0, timeout=WAIT_S,
                         interval=0.05)

    def test_edge_restart_and_sigkill_mid_stream(self):
        c, e = self.broker, self.edge
        opened = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S %p",
                          "-c", client_id="alice-status")
        outbox = os.path.join(e.dir, "sam-outbox.db")
        pub = self.spawn("secmq-pub", self.edge_conn("sam") + [
            "--keyring", self.kdir("sam"), "-t", "status", "-q", "1", "-l",
            "--outbox", outbox, "--outbox-wait", str(int(3 * WAIT_S)),
            "-d"],
            stdin=subprocess.PIPE)
        live = LiveProc(pub, "secmq-pub -l --outbox at the edge")
        sent = []

        def feed(first, last):
            lines = ["m%02d" % i for i in range(first, last + 1)]
            sent.extend(lines)
            pub.stdin.write(("\n".join(lines) + "\n").encode())
            pub.stdin.flush()

        def pubacks():
            return sum(" received PUBACK " in x for x in live.err)

        def acked(before, k, what):
            """k more PUBACKs from the edge: it holds those messages."""
            self.assertTrue(live.wait_until(lambda: pubacks() >= before + k,
                                            WAIT_S),
                            "the edge did not acknowledge %s" % what)

        def shown_ok(n, what):
            self.assertTrue(opened.wait_out(n, 2 * WAIT_S),
                            "%s: alice saw %r; publisher: %s"
                            % (what, opened.out, live.text()[-2000:]))

        feed(1, 5)
        shown_ok(5, "before any restart")
        # 1. A clean restart (SIGTERM: mosquitto saves and closes): sam's
        # messages meanwhile wait in his outbox; all arrive, in order.
        since = c.log_size()
        e.stop()
        feed(6, 10)
        e.start()
        self.wait_bridge(since)
        shown_ok(10, "after the edge's restart")
        self.assertEqual(opened.out, ["sam " + m for m in sent])
        # 2. SIGKILL while the stream flows, after an autosave: the rows
        # sam's outbox had not seen acknowledged are sent again after the
        # restart; a message the edge acknowledged but had not yet written
        # to the bridge would be lost (mosquitto's design).
        self.assertTrue(self.edge_saved_after(time.time()),
                        "no autosave of the edge broker")
        since = c.log_size()
        # sam writes a line every 20 ms; the kill comes once alice has
        # m13, so the lines around it are in every state: in the outbox,
        # on the way to the edge, acknowledged by it, on the bridge.
        pacer = threading.Thread(target=lambda: [
            (feed(i, i), time.sleep(0.02)) for i in range(11, 31)])
        pacer.start()
        shown_ok(13, "before the edge's SIGKILL")
        e.kill()
        killed_after = len(opened.out)
        e.start()
        self.wait_bridge(since)
        pacer.join(WAIT_S)
        feed(31, 35)
        shown_ok(len(sent) - 20, "after the edge's SIGKILL")
        opened.wait_out(len(sent), WAIT_S)
        lost2 = [m for m in sent if "sam " + m not in opened.out]
        print("\nedge SIGKILL mid-stream (alice had %d at the kill): %d of "
              "%d lost: %s" % (killed_after, len(lost2), len(sent), lost2),
              file=sys.stderr)
        # Only what was in flight at the kill can be lost (in the runs
        # measured for DEPLOY.md: none).
        self.assertTrue(set(lost2) <= {"m%02d" % i for i in range(11, 31)},
                        lost2)
        # 3. The central broker away: the edge queues for the bridge, and
        # its queue is only as durable as its last autosave. Five
        # messages acknowledged before a save, three after it, then
        # SIGKILL: the five arrive, the three are lost (mosquitto's design;
        # sam's outbox had deleted them on the edge's PUBACK).
        # alice leaves first (her persistent session keeps what comes for
        # her); she comes back once the central broker is up, instead of
        # waiting out secmq-sub's reconnect back-off.
        self.assertEqual(opened.stop(), 0, opened.text())
        shown = list(opened.out)
        c.stop()
        before = pubacks()
        feed(36, 40)
        acked(before, 5, "m36..m40")
        t_acked = time.time()
        self.assertTrue(self.edge_saved_after(t_acked),
                        "no autosave of the edge broker")
        saved = os.path.getmtime(self.edge_db())
        before = pubacks()
        feed(41, 43)
        acked(before, 3, "m41..m43")
        e.kill()
        # Normally no save comes between (it is 1 s away); if one did (a
        # slow machine), it kept what was acknowledged before it.
        no_save_since = os.path.getmtime(self.edge_db()) == saved
        c.start()
        opened = self.sub("alice", "-t", "status", "-q", "1", "-F",
                          "%S %p", "-c", client_id="alice-status")
        since = c.log_size()
        e.start()  # its bridge connects at once (no retry to wait for)
        self.wait_bridge(since)
        pub.stdin.close()
        self.assertEqual(live.wait_exit(3 * WAIT_S), 0, live.text()[-3000:])
        expect_lost = ["m41", "m42", "m43"]
        shown_ok(5, "after the central broker came back")
        time.sleep(0.5)  # anything late (a copy, a lost one) shows now
        shown += opened.out
        self.assertEqual(opened.stop(), 0, opened.text())
        print("edge SIGKILL with the central broker away: lost %s (acked "
              "after the edge's last save: %s)"
              % ([m for m in sent[-8:] if "sam " + m not in shown],
                 expect_lost if no_save_since else "a save came between"),
              file=sys.stderr)
        # Nothing twice, nothing unverified (each line is an envelope that
        # opened with sam as its verified sender), nothing out of order,
        # and exactly the by-design losses.
        self.assertEqual(len(shown), len(set(shown)), shown)
        self.assertTrue(all(x.startswith("sam m") for x in shown), shown)
        idx = [sent.index(x[4:]) for x in shown]
        self.assertEqual(idx, sorted(idx), shown)
        lost = [m for m in sent if "sam " + m not in shown]
        if no_save_since:
            self.assertEqual(lost, lost2 + expect_lost, shown)
        else:
            # Saved part way: what is lost is what came after that save.
            tail = lost[len(lost2):]
            self.assertEqual(tail, expect_lost[len(expect_lost) - len(tail):],
                             shown)


if __name__ == "__main__":
    unittest.main()
