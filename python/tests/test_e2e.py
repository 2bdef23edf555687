"""test_e2e.py -- secmq.Client with keyrings (made by secmq-keys) against
the tools and a paho client: sealed Python -> secmq-sub shows the
sender, secmq-pub -> Python shows msg.sender, paho sees only envelopes
(checked with tests/harness/keys.py, written from docs/PROTOCOL.md)."""

import time

import pytest  # noqa: F401

from pyclient import (ClientMixin, get, nothing, secmq,  # noqa: I100
                      threads_named, wait_until)
import keys  # noqa: E402 (tests/harness, put on sys.path by pyclient)
from keys import E2ETestCase  # noqa: E402


class PythonE2E(ClientMixin, E2ETestCase):

    def setUp(self):
        super().setUp()
        self.make_world(channels=(("status", False), ("mac/#", True)))

    def keyed(self, who, user=None, **kw):
        return self.client(user=user or keys.MQTT_USER[who],
                           keyring=self.kdir(who), **kw)

    def test_python_sealed_to_secmq_sub_and_paho(self):
        sub = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S|%p",
                       "-C", "1", client_id="alice-sub")
        eve = self.paho(user="eve", subscribe="status")
        c, rec = self.keyed("sam")
        info = c.publish("status", "door closed", qos=1)
        self.assertTrue(info.wait_for_publish(10))
        self.assertTrue(sub.wait_out(1), sub.text())
        self.assertEqual(sub.out[0], "sam|door closed")
        # What crossed the broker is an envelope signed by sam, not the
        # plaintext.
        topic, raw = self.capture(eve)[0]
        self.assertNotIn(b"door closed", raw)
        env = keys.Envelope(raw)
        self.assertEqual((env.version, env.mode),
                         (keys.VERSION, keys.MODE_SIGNED))
        self.assertEqual(env.sender_id, self.identity("sam").id)
        self.assertTrue(keys.verify_signature(raw, "status",
                                              self.identity("sam").pk))

    def test_secmq_pub_to_python_sender(self):
        c, rec = self.keyed("alice")
        refused = []
        c.on_open_failure = lambda cl, u, topic, reason: \
            refused.append((topic, reason))
        self.subscribe(c, rec, "status", 1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "hello alice")
        m = get(rec.messages, "sealed message")
        self.assertEqual((m.topic, m.payload, m.sealed, m.sender,
                          m.seal_mode), ("status", b"hello alice", True,
                                         "sam", secmq.SEAL_SIGNED))
        # Plaintext from paho on the covered topic is refused, not
        # delivered; the next genuine message is.
        self.paho(user="sam").publish("status", b"forged", qos=1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "second")
        m = get(rec.messages, "second sealed message")
        self.assertEqual((m.payload, m.sender), (b"second", "sam"))
        self.assertEqual(refused, [("status", "version")])
        counts = c.open_counts()
        self.assertEqual((counts["ok"], counts["version"]), (2, 1))
        nothing(rec.messages, 0.2)

    def test_mac_only_has_no_verified_sender(self):
        c, rec = self.keyed("alice")
        self.subscribe(c, rec, "mac/#", 1)
        self.epub("sam", "-t", "mac/x", "-q", "1", "--mac", "-m", "m1")
        m = get(rec.messages, "mac-only message")
        self.assertEqual((m.payload, m.sealed, m.sender, m.claimed_sender,
                          m.seal_mode), (b"m1", True, None, "sam",
                                         secmq.SEAL_MAC))

    def test_not_a_publisher_raises_no_key(self):
        c, rec = self.keyed("alice")
        with self.assertRaises(secmq.NoKeyError) as cm:
            c.publish("status", "I am not sam", qos=1)
        self.assertIn("status", str(cm.exception))
        # Python to Python, with a Keyring object shared by nobody else.
        kr = secmq.Keyring(self.kdir("bob"))
        self.addCleanup(kr.close)
        self.assertEqual(kr.name, "bob")
        b, brec = self.client(user="alice", keyring=kr)
        with self.assertRaises(secmq.StateError):
            kr.close()
        self.subscribe(b, brec, "status", 1)
        s, _ = self.keyed("sam")
        s.publish("status", "to bob", qos=1).wait_for_publish(10)
        m = get(brec.messages, "message for bob")
        self.assertEqual((m.payload, m.sender), (b"to bob", "sam"))
        b.close()
        kr.close()

    def test_open_threads(self):
        """set_open_threads(3): three verify threads (named secmq-verify)
        open sam's signed messages, delivered in order with the sender;
        values outside 0..64 and a call after connect() refused. The
        client's network and delivery threads have their names too."""
        names = ("secmq-verify", "secmq-tunnel", "secmq-deliver")
        before = {n: threads_named(n) for n in names}
        c, rec = self.keyed("alice", connect=False)
        for bad in (65, -1, 2.0, True):
            with self.assertRaises(secmq.InvalidArgumentError):
                c.set_open_threads(bad)
        c.set_open_threads(3)
        c.loop_start()
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        self.assertEqual(get(rec.connects, "on_connect")[3], 0)
        with self.assertRaises(secmq.StateError):
            c.set_open_threads(1)
        self.subscribe(c, rec, "status", 1)
        for text in ("one", "two", "three"):
            self.epub("sam", "-t", "status", "-q", "1", "-m", text)
        got = [get(rec.messages, "sealed message") for _ in range(3)]
        self.assertEqual([(m.payload, m.sender) for m in got],
                         [(b"one", "sam"), (b"two", "sam"),
                          (b"three", "sam")])
        want = {"secmq-verify": 3, "secmq-tunnel": 1, "secmq-deliver": 1}
        # Each thread names itself once it runs.
        wait_until(lambda: all(threads_named(n) - before[n] == k
                               for n, k in want.items()), 5)
        for n, k in want.items():
            self.assertEqual(threads_named(n) - before[n], k, n)

    def test_sync_interval_holds_a_burst(self):
        """set_sync_interval(1 s): sam's first message is committed and
        delivered at once; four more sent the moment it arrives wait for
        the next group commit, about a second after the first began (with
        the default 1 ms they follow within milliseconds); bad values and
        a call after connect() refused."""
        c, rec = self.keyed("alice", connect=False)
        for bad in (1000001, -1, 0.5, True):
            with self.assertRaises(secmq.InvalidArgumentError):
                c.set_sync_interval(bad)
        c.set_sync_interval(1000000)
        sam, _ = self.keyed("sam")
        got = []

        def on_message(client, userdata, msg):
            got.append((time.monotonic(), msg.payload, msg.sender))
            if msg.payload == b"first":
                for i in range(4):
                    sam.publish("status", "burst %d" % i, qos=1)
        c.loop_start()
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        self.assertEqual(get(rec.connects, "on_connect")[3], 0)
        with self.assertRaises(secmq.StateError):
            c.set_sync_interval(0)
        self.subscribe(c, rec, "status", 1)
        c.on_message = on_message
        sam.publish("status", "first", qos=1)
        deadline = time.monotonic() + 20
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual([(p, s) for _, p, s in got],
                         [(b"first", "sam")] + [(b"burst %d" % i, "sam")
                                                for i in range(4)])
        self.assertGreater(got[1][0] - got[0][0], 0.5,
                           "the burst was not held for the next commit")

    def test_bad_keyring_refused(self):
        with self.assertRaises(secmq.KeyringError) as cm:
            secmq.Client(keyring=self.kdir("nobody"))
        self.assertIn("nobody", str(cm.exception))
