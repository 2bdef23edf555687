#!/usr/bin/python3
"""test_e2e_keys.py -- who may publish and read: authorisation, grants,
revocation, rotation with a grace period, and the per-reason failure
counts of secmq-sub -d.

Keyrings are made with secmq-keys in each test's temp dir (sam owns the
channel on `status` and publishes, alice and bob subscribe, eve has an
identity but no grant). Forged envelopes are built in Python from
docs/PROTOCOL.md (tests/harness/keys.py) with keys taken the way a member
could: alice's grant opened with her own identity seed.
"""

import os
import re
import secrets
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keys import (E2ETestCase, FLAG_PUBLISH, MODE_MAC,  # noqa: E402
                  channel_id, flip, make_grant, now_ms, open_grant, seal)
from testcase import TIMEOUT_SCALE  # noqa: E402


def now_us():
    return time.time_ns() // 1000


class Authorisation(E2ETestCase):

    def alice_grant(self, outs, filt="status"):
        """What alice can learn from her grant: the channel key."""
        return open_grant(self.grant(outs[filt], "alice"),
                          self.identity("alice"),
                          owner_pk=self.public("sam").pk)

    def test_subscriber_cannot_publish_or_forge(self):
        """alice (subscriber only): secmq-pub refuses to publish with a
        one-line reason and a non-zero exit, and nothing reaches the
        broker; an envelope she seals and signs herself with the channel
        key is refused by bob as unauthorised, while the same construction
        signed with sam's key is accepted (so the forgery fails on
        authorisation, not on format)."""
        outs = self.make_world()
        cap = self.paho(subscribe="#", client_id="paho-watch")
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%S %p",
                       "-d", client_id="bob-auth")

        since = self.broker.log_size()
        r = self.epub("alice", "-i", "alice-pub", "-t", "status", "-m", "x",
                      ok=False)
        self.assertNotEqual(r.returncode, 0, "alice published: %r"
                            % (r.stderr,))
        self.assertEqual(r.stdout, "")
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, "want one reason line: %r"
                         % r.stderr)
        self.assertRegex(lines[0], re.compile(r"not a publisher", re.I))
        self.assertRegex(lines[0], re.compile(r"'status'"))
        self.assert_not_logged(r"Received PUBLISH from alice-pub",
                               "alice's refused message reached the broker",
                               since)
        # Refused locally, before connecting (PROTOCOL.md §4.1 step 1).
        self.assert_not_logged(r"New client connected .* as alice-pub ",
                               "secmq-pub connected before refusing", since)
        # --raw is the explicit way to send plaintext; without it, never.
        self.assert_no_more(cap, 0.3)

        g = self.alice_grant(outs)
        self.assertEqual(g["flags"] & FLAG_PUBLISH, 0)
        self.assertEqual(g["publishers"], [self.public("sam").pk])
        forged = seal(self.identity("alice"), g["channel_key"], g["key_id"],
                      "status", "forged by alice", seq=now_us())
        control = seal(self.identity("sam"), g["channel_key"], g["key_id"],
                       "status", "sealed in python as sam", seq=now_us())
        inj = self.paho(user="alice", client_id="paho-alice")
        inj.publish("status", forged, qos=1)
        inj.publish("status", control, qos=1)
        ok = bob.wait_out(1) and bob.wait_drops(1)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertTrue(ok, bob.text())
        self.assertEqual(bob.drops(), [("status", "unauthorised")])
        self.assertEqual(bob.out, ["sam sealed in python as sam"])

    def test_flag_set_but_not_listed(self):
        """A grant that says 'may publish' while its publishers list does
        not name the member, validly signed by sam: every receiver would
        refuse what she sends (unauthorised), so the grant itself is
        refused (PROTOCOL.md §5.1, publisher_mismatch): at import, and
        when it is put into her keyring by hand, secmq-pub refuses to
        start with a one-line reason and a non-zero exit, and nothing
        reaches the broker."""
        self.make_world()
        sam, alice = self.identity("sam"), self.identity("alice")
        grant, _, _ = make_grant(sam, alice, "status", FLAG_PUBLISH,
                                 [sam.pk], epoch=2)
        path = os.path.join(self.keys_dir, "crafted-alice.grant")
        with open(path, "wb") as fh:
            fh.write(grant)
        r = self.keys("import", "--keyring", self.kdir("alice"), path,
                      ok=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("publisher_mismatch", r.stderr)
        self.assertIn("publishers list", r.stderr)
        self.assertIn(path, r.stderr)

        # As an earlier version would have imported it.
        held = os.path.join(self.kdir("alice"), "grants",
                            channel_id(sam.pk, "status") + ".grant")
        self.assertTrue(os.path.exists(held), held)
        with open(held, "wb") as fh:
            fh.write(grant)
        since = self.broker.log_size()
        r = self.epub("alice", "-i", "alice-pub", "-t", "status", "-q", "1",
                      "-m", "x", ok=False)
        self.assertNotEqual(r.returncode, 0, "alice published: %r"
                            % (r.stderr,))
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("publisher_mismatch", lines[0])
        self.assertIn(held, lines[0])
        self.assert_not_logged(r"New client connected .* as alice-pub ",
                               "secmq-pub connected with a refused grant",
                               since)
        self.assert_not_logged(r"Received PUBLISH from alice-pub",
                               "a message reached the broker", since)

    def test_non_member_never_sees_plaintext(self):
        """eve has an identity and trusts sam but holds no grant: she
        cannot import alice's grant; subscribed with her keyring she
        prints nothing (no channel of hers covers the topic: no_channel,
        the envelope is not shown as if it were a payload); what she
        publishes on the topic (plaintext: no channel of hers covers it)
        is refused by bob as "not a secmq envelope", never printed."""
        outs = self.make_world()
        r = self.keys("import", "--keyring", self.kdir("eve"),
                      self.grant(outs["status"], "alice"), ok=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("alice.grant", r.stderr)
        eve = self.sub("eve", "-t", "status", "-q", "1", "-F", "%S|%x",
                       "-C", "1", client_id="eve-sub")
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%S %p",
                       client_id="bob-sub")
        secret = "SECRET-%s" % secrets.token_hex(8)
        self.epub("sam", "-t", "status", "-q", "1", "-m", secret)
        self.assertTrue(eve.wait_drops(1), eve.text())
        self.epub("eve", "-t", "status", "-q", "1", "-m", "eve was here")
        ok = bob.wait_drops(1)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertTrue(ok, bob.text())
        self.assertEqual(bob.out, ["sam " + secret])
        self.assertEqual(bob.drops(), [("status", "version")])
        self.assertIn("not a secmq envelope", "\n".join(bob.err))
        # sam's envelope and, subscribed as she is, her own plaintext.
        self.assertTrue(eve.wait_drops(2), eve.text())
        self.assertEqual(eve.stop(), 0, eve.text())
        self.assertEqual(eve.out, [], "eve printed an unopened envelope")
        self.assertEqual(eve.drops(), [("status", "no_channel")] * 2)
        self.assertNotIn(secret, eve.text())

    def test_revocation_and_rotation_grace(self):
        """sam revokes alice (grace 0): bob, with his new grant, reads new
        messages; alice, still on the old key, reads none (unknown_key).
        sam rotates with --grace 3: a publisher still on the previous key
        (a copy of sam's keyring from before the rotation) is accepted by
        bob during the grace period and refused (key_expired) after it."""
        self.make_world()
        sam = self.kdir("sam")

        out = self.out_dir("revoke")
        self.keys("channel", "revoke", "--keyring", sam, "--topic", "status",
                  "alice", "--out", out, "--grace", "0")
        self.assertFalse(os.path.exists(self.grant(out, "alice")),
                         "a revoked member got a grant")
        self.import_("bob", self.grant(out, "bob"))
        g = open_grant(self.grant(out, "bob"), self.identity("bob"),
                       self.public("sam").pk)
        self.assertEqual(g["epoch"], 2)
        # No grace: the previous key is named, its deadline is 0 (§3).
        self.assertEqual(g["grace_ms"], 0, "grace 0")
        self.assertNotEqual(g["prev_key_id"], bytes(8))

        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%S %p",
                       "-d", client_id="bob-1")
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S %p",
                         "-d", client_id="alice-1")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "after revoke")
        ok = bob.wait_out(1) and alice.wait_drops(1)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertTrue(ok, "bob %s; alice %s" % (bob.text(), alice.text()))
        self.assertEqual(bob.out, ["sam after revoke"])
        self.assertEqual(bob.drops(), [])
        self.assertEqual(alice.out, [], "the revoked member read a message")
        self.assertEqual(alice.drops(), [("status", "unknown_key")])

        # Rotation with a grace period of 3 s (times TIMEOUT_SCALE: a build
        # run through qemu-user starts each tool in about a second). The
        # message under the old key must reach bob before the deadline the
        # grant names; on a machine so loaded that it did not, the rotation
        # is tried again (at most 3 times) rather than failing for the
        # wrong reason.
        grace_s = 3 * TIMEOUT_SCALE
        for attempt in range(3):
            old = self.copy_keyring("sam", "sam-old-%d" % attempt)
            out = self.out_dir("rotate")
            self.keys("channel", "rotate", "--keyring", sam, "--topic",
                      "status", "--out", out, "--grace", str(grace_s))
            self.import_("bob", self.grant(out, "bob"))
            g = open_grant(self.grant(out, "bob"), self.identity("bob"),
                           self.public("sam").pk)
            self.assertEqual(g["epoch"], 3 + attempt)
            deadline = g["grace_ms"] / 1000.0
            self.assertAlmostEqual(g["grace_ms"] - g["created_ms"],
                                   grace_s * 1000, delta=1000,
                                   msg="--grace %d deadline" % grace_s)
            bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%S %p",
                           "-d", client_id="bob-%d" % (2 + attempt))
            self.epub("sam", "-t", "status", "-q", "1", "-m",
                      "old key in grace", keyring=old)
            self.epub("sam", "-t", "status", "-q", "1", "-m", "new key")
            self.assertTrue(bob.wait_until(
                lambda: len(bob.out) + len(bob.drops()) >= 2, 10),
                bob.text())
            if bob.out == ["sam old key in grace", "sam new key"]:
                break
            late = time.time() > deadline
            bob.stop()
            self.assertTrue(late and bob.drops() == [("status",
                                                       "key_expired")],
                            "the previous key was refused within its grace "
                            "period: %s" % bob.text())
        else:
            self.fail("this machine never published within %d s of a "
                      "rotation" % grace_s)
        self.assertEqual(bob.drops(), [])
        time.sleep(max(0.0, deadline + 0.3 - time.time()))
        self.epub("sam", "-t", "status", "-q", "1", "-m", "old key too late",
                  keyring=old)
        ok = bob.wait_drops(1)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertTrue(ok, bob.text())
        self.assertEqual(bob.out, ["sam old key in grace", "sam new key"])
        self.assertEqual(bob.drops(), [("status", "key_expired")])
        self.assertEqual(bob.counts(), {"ok": 2, "key_expired": 1})

    def test_failure_counts(self):
        """secmq-sub -d prints at exit how many sealed messages opened and
        how many were refused per reason; they match what was sent, one
        or more of every reason of PROTOCOL.md §4.2 but key_expired
        (test_revocation_and_rotation_grace)."""
        outs = self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-cap")
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%S %p",
                       "--max-age", "60", "-d", client_id="bob-counts")
        inj = self.paho(user="eve", client_id="paho-inj")
        want = []

        def send(payload, reason):
            inj.publish("status", payload, qos=1)
            self.capture(cap)
            want.append(reason)

        self.epub("sam", "-t", "status", "-q", "1", "-m", "one")
        [(_, env)] = self.capture(cap)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "hello", "--raw")
        [(_, raw)] = self.capture(cap)
        self.assertEqual(raw, b"hello", "--raw did not publish as is")
        want.append("version")  # 'h' is not version 0x01
        send(b"", "malformed")
        send(b"\x01\x01" + bytes(40), "malformed")
        send(b"\x01\x07" + env[2:], "malformed")
        send(flip(env, 5), "unknown_key")
        g = open_grant(self.grant(outs["status"], "alice"),
                       self.identity("alice"), self.public("sam").pk)
        key, kid = g["channel_key"], g["key_id"]
        alice, sam = self.identity("alice"), self.identity("sam")
        eve = self.identity("eve")
        send(seal(alice, key, kid, "status", "mac", seq=now_us(),
                  mode=MODE_MAC, sender_id=sam.id), "mode_refused")
        send(flip(env, 70), "bad_tag")
        send(seal(eve, key, kid, "status", "eve", seq=now_us()),
             "unknown_sender")
        send(flip(env, len(env) - 1), "bad_signature")
        send(seal(alice, key, kid, "status", "alice", seq=now_us()),
             "unauthorised")
        send(seal(sam, key, kid, "status", "an hour ago", seq=now_us(),
                  time_ms=now_ms() - 3600 * 1000), "too_old")
        send(env, "replay")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "two")
        self.capture(cap)

        ok = bob.wait_out(2) and bob.wait_drops(len(want))
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertTrue(ok, bob.text())
        self.assertEqual(bob.out, ["sam one", "sam two"])
        self.assertEqual([r for _, r in bob.drops()], want)
        counts = {"ok": 2}
        for r in want:
            counts[r] = counts.get(r, 0) + 1
        self.assertEqual(bob.counts(), counts, bob.text())


if __name__ == "__main__":
    unittest.main()
