#!/usr/bin/python3
"""test_plugin_receipts.py -- receipts (docs/PROTOCOL.md §9) through the
secmq_auth.so plugin with signature enforcement on (every publish must be
an envelope signed by a key registered for its user), as DEPLOY.md
section 2 sets it up: alice may write the receipt topic (--signed), sam
may read it.

sam owns `status` with receipts, alice its receipter; sam publishes with
`secmq-pub --outbox`, which keeps every message until alice's receipt is
in. Checked: alice's receipts pass the plugin (her key registered) and
free sam's outbox; with her key not registered the plugin drops them
(logged) and sam's rows stay in the file; without sam's `read` rule the
broker refuses his subscription to the receipt topic and secmq-pub says
so.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_plugin_signed as tps  # noqa: E402
from test_plugin_common import rx_dropped  # noqa: E402

N = 30  # messages per run: more than a receipt batch is not needed


class PluginReceipts(tps.SignedTestCase):

    channels = ()  # the channel with receipts is made below

    def setUp(self):
        super().setUp()
        out = self.out_dir("receipts")
        self.keys("channel", "create", "--keyring", self.kdir("sam"),
                  "--topic", "status", "--publisher", self.pubfile("sam"),
                  "--subscriber", self.pubfile("alice"), "--receipts",
                  "--out", out)
        self.import_("alice", self.pubfile("sam"), self.grant(out, "alice"))
        listed = self.keys("list", "--keyring", self.kdir("sam")).stdout
        m = re.search(r"secmq/receipts/[0-9a-f]{16}", listed)
        self.assertIsNotNone(m, "secmq-keys list shows no receipt topic:\n"
                             + listed)
        self.rtopic = m.group(0)
        self.ob = os.path.join(self.broker.dir, "sam.outbox")

    def allow(self, alice_key=True, sam_read=True):
        """The receipt topic's rules (and alice's key), each change waiting
        for its own reload: one reload may pick up only the first of
        several quick changes."""
        self.change("acl", "add", "--user", "alice", self.rtopic, "write",
                    "--signed")
        if sam_read:
            self.change("acl", "add", "--user", "sam", self.rtopic, "read")
        if alice_key:
            self.change("key", "add", "alice", self.pubfile("alice"))

    def rows(self):
        db = sqlite3.connect(self.ob)
        try:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            db.close()

    def publish(self, wait_s, debug=True):
        """secmq-pub --outbox --receipt-wait wait_s of N messages as sam.
        Returns (exit code, stderr); None if it outlived the wait by far
        (stopped with SIGTERM)."""
        p = self.spawn("secmq-pub", self.e2e_conn("sam") + [
            "-t", "status", "-q", "1", "-m", "m", "--repeat", str(N),
            "--outbox", self.ob, "--receipt-wait", str(wait_s)] +
            (["-d"] if debug else []))
        try:
            _out, err = p.communicate(timeout=wait_s + 30)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
            _out, err = p.communicate(timeout=20)
            rc = None
        return rc, err.decode(errors="replace")

    def test_receipts_pass_the_plugin(self):
        self.allow()
        alice = self.sub("alice", "-t", "status", "-q", "1", "-d",
                         client_id="alice-rc")
        since = self.broker.log_size()
        rc, err = self.publish(60)
        self.assertEqual(rc, 0, err[-3000:])
        self.assertTrue(alice.wait_out(N), alice.text())
        # Every message was receipted by alice through the plugin: the
        # outbox let them go only then.
        self.assertEqual(self.rows(), 0)
        log = self.broker.log_text()[since:]
        self.assertNotRegex(log, r"dropped publish on '%s'" % self.rtopic)
        self.assertRegex(log, r"Received PUBLISH from alice-rc \(d0, q1, "
                         r"r0, m\d+, '%s'" % self.rtopic)

    def test_unregistered_receipter_frees_nothing(self):
        """alice's receipts are signed by a key the plugin does not know
        for her: dropped at the broker, and sam's rows stay."""
        self.allow(alice_key=False)
        alice = self.sub("alice", "-t", "status", "-q", "1",
                         client_id="alice-rc")
        since = self.broker.log_size()
        rc, err = self.publish(6)
        self.assertEqual(rc, 1, "secmq-pub did not fail although no "
                         "receipt passed:\n" + err[-3000:])
        self.assertRegex(err, r"%d of %d message\(s\) got no receipt"
                         % (N, N))
        self.assertTrue(alice.wait_out(N), alice.text())
        self.assertTrue(self.broker.wait_for_log(
            rx_dropped(self.rtopic, "alice-rc", "alice",
                       "key not registered for user"), since=since),
            self.broker.log_tail())
        self.assertEqual(self.rows(), N)

    def test_publisher_without_read_is_told(self):
        self.allow(sam_read=False)
        self.sub("alice", "-t", "status", "-q", "1", client_id="alice-rc")
        rc, err = self.publish(5, debug=False)  # said without -d too
        self.assertEqual(rc, 1, err[-3000:])
        self.assertIn("the broker refused the subscription to the receipt "
                      "topic '%s'" % self.rtopic, err)
        self.assertEqual(self.rows(), N)


if __name__ == "__main__":
    unittest.main(verbosity=2)
