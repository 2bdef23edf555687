#!/usr/bin/python3
"""test_file_setup.py -- secmq-file fails loudly when the setup is wrong,
and does not stall for good when a sender does.

- Only the channel `files/#` made, the request channel `files/r/#`
  missing: `secmq-file recv` (also with -d) and `secmq-file send` each
  exit 1 within seconds, naming the identity, the topic and the missing
  channel, instead of receiving files they can never confirm (recv) or
  waiting for an answer that cannot come (send).
- `secmq-keys channel create --files files` makes both channels and their
  grants in one step, and a file then arrives.
- The broker plugin refusing a subscription (SUBACK 0x80): recv (files/m)
  and send (files/r/+) say "the broker refused the subscription to ...:
  not authorised" and exit 1 at once, instead of "Timed out".
- 20 manifests, sealed and signed as sam in Python and published raw,
  with no chunk ever following: the receiver takes 16 (its slots),
  answers the other 4 `busy` and reports it; after a restart it resumes
  the 16, gives each up after --stall-timeout (partial file removed), and
  a genuine file whose first announcement was answered `busy` (the sender
  reports it and announces again later) arrives.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_file_transfer import FileTestCase, make_file, sha256  # noqa
from test_file_limits import encode_manifest  # noqa: E402
from test_plugin_common import PluginTestCase, rx_reloaded  # noqa: E402
from keys import E2ETestCase, now_ms, open_grant, seal  # noqa: E402

EXIT_S = 15  # a loud failure comes at once; this only bounds the wait


class MissingRequestChannel(FileTestCase):
    """sam owns only `files/#` (publisher sam, subscriber alice)."""

    def setUp(self):
        E2ETestCase.setUp(self)
        for n in ("sam", "alice"):
            self.make_identity(n)
        g1 = self.create_channel("files/#", publishers=("sam",),
                                 subscribers=("alice",))
        self.import_("alice", self.pubfile("sam"), self.grant(g1, "alice"))
        self.work = os.path.join(self.broker.dir, "work")
        self.out = os.path.join(self.work, "out")
        os.makedirs(self.out)

    def test_receiver_names_the_missing_channel(self):
        """recv exits 1 before subscribing, naming alice, files/r/ and the
        channel files/r/#; with -d too. Nothing is written."""
        for extra in ((), ("-d",)):
            with self.subTest(extra=extra):
                rx = self.recv("-W", "30", *extra, wait_sub=False)
                self.assertEqual(rx.wait_exit(EXIT_S), 1, rx.text())
                err = "\n".join(rx.err)
                self.assertRegex(err, r"secmq-file: 'alice' cannot answer "
                                 r"senders on files/r/<file id>")
                self.assertIn("not a publisher of channel 'files/#'", err)
                self.assertIn("request channel files/r/#", err)
                self.assertIn("secmq-keys channel create --files files", err)
        self.assertEqual(self.leftovers(), [])

    def test_sender_names_the_missing_channel(self):
        """send exits 1 at once: no receiver can answer on files/r/, the
        channel files/# that covers it lists only sam; nothing is
        published. A rerun says the same. With files/r/# made but sam
        not among its members, it says that."""
        src = os.path.join(self.work, "a.bin")
        make_file(src, 10 * 1000)
        since = self.broker.log_size()
        for _ in range(2):
            tx = self.send("-W", "30", src)
            self.assertEqual(tx.wait_exit(EXIT_S), 1, tx.text())
            err = "\n".join(tx.err)
            self.assertRegex(err, r"secmq-file: no receiver can answer on "
                             r"files/r/<file id>: the channel 'files/#' "
                             r"\(owner sam\) that covers it lists only "
                             r"'sam' as publisher")
            self.assertIn("request channel files/r/# with the receivers as "
                          "publishers is missing", err)
        self.assert_not_logged(r"Received PUBLISH from sam-files",
                               "a sender without answers published", since)
        # The request channel made, but without sam among its members.
        self.create_channel("files/r/#", publishers=("alice",),
                            subscribers=())
        tx = self.send("-W", "30", src)
        self.assertEqual(tx.wait_exit(EXIT_S), 1, tx.text())
        self.assertIn("secmq-file: 'sam' owns the channel 'files/r/#' for "
                      "the receivers' answers but is not a member of it",
                      "\n".join(tx.err))


class OneCommand(FileTestCase):
    """The two channels from one `secmq-keys channel create --files`."""

    def setUp(self):
        E2ETestCase.setUp(self)
        for n in ("sam", "alice"):
            self.make_identity(n)
        self.work = os.path.join(self.broker.dir, "work")
        self.out = os.path.join(self.work, "out")
        os.makedirs(self.out)

    def test_files_channels_in_one_command(self):
        g = os.path.join(self.keys_dir, "g")
        r = self.keys("channel", "create", "--keyring", self.kdir("sam"),
                      "--files", "files", "--publisher", self.pubfile("sam"),
                      "--subscriber", self.pubfile("alice"), "--out", g)
        self.assertIn("channel files/r/#: grants in %s/requests/" % g,
                      r.stdout)
        self.import_("alice", self.pubfile("sam"),
                     os.path.join(g, "files", "alice.grant"),
                     os.path.join(g, "requests", "alice.grant"))
        lst = self.keys("list", "--keyring", self.kdir("alice")).stdout
        self.assertIn("files/#", lst)
        self.assertIn("files/r/#", lst)
        src = os.path.join(self.work, "cam.jpg")
        digest = make_file(src, 300 * 1000)
        rx = self.recv("-C", "1")
        tx = self.send(src)
        self.assertEqual(tx.wait_exit(30), 0, tx.text())
        self.assertEqual(rx.wait_exit(30), 0, rx.text())
        self.assertEqual(sha256(os.path.join(self.out, "cam.jpg")), digest)
        # Usage errors: wildcards, a missing side.
        bad = self.keys("channel", "create", "--keyring", self.kdir("sam"),
                        "--files", "x/#", "--publisher", self.pubfile("sam"),
                        "--subscriber", self.pubfile("alice"), "--out", g,
                        ok=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        bad = self.keys("channel", "create", "--keyring", self.kdir("sam"),
                        "--files", "y", "--publisher", self.pubfile("sam"),
                        "--out", g, ok=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("--subscriber", bad.stderr)


class RefusedSubscription(FileTestCase, PluginTestCase):
    """The plugin broker: alice may read files/c/# and write files/r/#
    but not read files/m; sam may write files/m and files/c/# but not read
    files/r/#."""

    reload_interval = 1

    def setUp(self):
        super().setUp()
        since = self.broker.log_size()
        for user, topic, access in (("alice", "files/c/#", "read"),
                                    ("alice", "files/r/#", "write"),
                                    ("sam", "files/m", "write"),
                                    ("sam", "files/c/#", "write")):
            self.admin("acl", "add", "--user", user, topic, access)
        self.assertTrue(self.broker.wait_for_log(rx_reloaded(), 10, since),
                        "the plugin did not reload its rules")

    def test_receiver_refused_subscription(self):
        rx = self.recv("-W", "30", wait_sub=False)
        self.assertEqual(rx.wait_exit(EXIT_S), 1, rx.text())
        self.assertIn("secmq-file: the broker refused the subscription to "
                      "files/m: not authorised", "\n".join(rx.err))
        self.assertNotIn("Timed out", "\n".join(rx.err))

    def test_sender_refused_subscription(self):
        src = os.path.join(self.work, "a.bin")
        make_file(src, 10 * 1000)
        tx = self.send("-W", "30", src)
        self.assertEqual(tx.wait_exit(EXIT_S), 1, tx.text())
        self.assertIn("secmq-file: the broker refused the subscription to "
                      "files/r/+: not authorised", "\n".join(tx.err))


class Stalled(FileTestCase):

    def inject_manifests(self, n):
        """n manifests of 2048-byte files (2 chunks) that never follow,
        sealed and signed as sam, published by paho as sam."""
        g = open_grant(self.grant(self.files_grants, "alice"),
                       self.identity("alice"))
        sam = self.identity("sam")
        inj = self.paho(user="sam", client_id="paho-sam")
        seq = now_ms() * 1000
        for i in range(n):
            man = encode_manifest(os.urandom(16), os.urandom(32), sam.pk,
                                  os.urandom(2048), b"ghost-%d.bin" % i)
            env = seal(sam, g["channel_key"], g["key_id"], "files/m", man,
                       seq + i)
            inj.publish("files/m", env, qos=1)

    def count(self, live, kind, reason=None):
        return len([e for e in self.events(live, kind)
                    if reason is None or e.get("reason") == reason])

    def test_stalled_transfers_expire_and_busy_is_answered(self):
        rx = self.recv("--stall-timeout", "3600")
        self.inject_manifests(20)
        self.assertTrue(rx.wait_until(
            lambda: self.count(rx, "start") >= 16 and
            self.count(rx, "refused", "busy") >= 4, 20),
            "no 16 accepted and 4 busy: %s" % rx.text()[-3000:])
        self.assertEqual(self.count(rx, "start"), 16, rx.text()[-3000:])
        busy = self.events(rx, "refused")[0]
        self.assertIn("16 transfers are in progress", busy["detail"])
        parts = [f for f in os.listdir(self.out)
                 if f.startswith(".secmq-part-")]
        self.assertEqual(len(parts), 16)
        rx.stop()

        # Restarted: the 16 are resumed, then given up after 5 s without
        # a chunk; meanwhile a genuine file is answered busy, announced
        # again by the sender, and arrives.
        rx = self.recv("-C", "1", "--stall-timeout", "5")
        src = os.path.join(self.work, "real.jpg")
        digest = make_file(src, 200 * 1000)
        tx = self.send("-W", "60", src)
        self.assertEqual(tx.wait_exit(60), 0, tx.text()[-3000:])
        self.assertEqual(rx.wait_exit(30), 0, rx.text()[-3000:])
        self.assertEqual(sha256(os.path.join(self.out, "real.jpg")), digest)
        self.assertEqual(self.count(rx, "expired"), 16, rx.text()[-3000:])
        self.assertGreaterEqual(self.count(tx, "refused", "busy"), 1,
                                tx.text()[-3000:])
        self.assertIn("is busy", self.events(tx, "refused")[0]["detail"])
        self.assertEqual([e["event"] for e in self.events(tx)
                          if e["event"] in ("done", "failed")], ["done"])
        parts = [f for f in os.listdir(self.out)
                 if f.startswith(".secmq-part-")]
        self.assertEqual(parts, [])
        self.assertEqual([f for f in self.leftovers()
                          if not f.startswith(".secmq-part-")], ["real.jpg"])


if __name__ == "__main__":
    unittest.main()
