#!/usr/bin/python3
"""test_e2e.py -- end-to-end payload protection through the real tools.

Keyrings are made with secmq-keys in each test's temp dir (sam owns the
channels and publishes, alice and bob subscribe, eve has no grant); sam
publishes with secmq-pub --keyring, alice reads with secmq-sub --keyring,
and python3-paho-mqtt, subscribed as an ordinary client, shows what the
broker sees and re-publishes captured or altered envelopes. Envelopes are
read with tests/harness/keys.py, written from docs/PROTOCOL.md.

Here: round trips at QoS 0/1/2, the bytes on the broker, tampering, topic
moves, replays and QoS 1 duplicates, sequence numbers across a SIGKILL,
mac-only envelopes. Authorisation, revocation, rotation and the failure
counts are in test_e2e_keys.py.
"""

import json
import os
import secrets
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keys import (E2ETestCase, Envelope, MODE_MAC, MODE_SIGNED,  # noqa: E402
                  expected_flip_reason, field_of, flip, now_ms, open_envelope,
                  open_grant, seal, verify_signature)


class EndToEnd(E2ETestCase):

    def test_round_trip_qos_0_1_2(self):
        """sam -> alice on a covered topic: alice prints the plaintext and
        sam as the verified sender (%S), at every QoS. On a topic no
        channel covers, a message is refused (no_channel) unless
        --allow-plain names the topic: then it passes as it is, %S
        empty."""
        self.make_world()
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                sub = self.sub("alice", "-t", "status", "-q", "2",
                               "-F", "%S %p", "-C", "1",
                               client_id="alice-q%d" % qos)
                msg = "online at qos %d ✓" % qos
                self.epub("sam", "-t", "status", "-q", qos, "-m", msg)
                rc = sub.wait_exit()
                self.assertEqual(rc, 0, sub.text())
                self.assertEqual(sub.out, ["sam " + msg], sub.text())
                self.assertEqual(sub.drops(), [])
        sub = self.sub("alice", "-t", "other", "-F", "[%S] %p", "-C", "1",
                       "--allow-plain", "elsewhere/#", "--allow-plain", "+",
                       client_id="alice-plain")
        self.epub("sam", "-t", "other", "-q", "1", "-m", "not covered")
        self.assertEqual(sub.wait_exit(), 0, sub.text())
        self.assertEqual(sub.out, ["[] not covered"])
        self.assertEqual(sub.drops(), [])

    def test_uncovered_topic_refused(self):
        """alice, with her keyring, subscribed to `other` (no channel
        covers it) and `#`: a plain message on `other` and sam's envelope
        on a topic the broker renamed (`status` re-published as `status.x`
        and as `a/status`, as a broker mapping `.` to `/` would) are
        refused with no_channel and one stderr line naming the topic; -C 1
        is not reached; -d counts them; a mac-only or
        signed envelope is never printed as bytes. --allow-plain for `#`
        does not make a covered topic's plaintext acceptable."""
        self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-cap")
        inj = self.paho(user="eve", client_id="paho-inj")
        sub = self.sub("alice", "-t", "other", "-t", "status.x", "-t",
                       "a/status", "-t", "esc/#", "-q", "1", "-F", "%S|%x",
                       "-C", "1", "-d", client_id="alice-unc")
        self.epub("sam", "-t", "other", "-q", "1", "-m", "plain text")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "sealed")
        [(_, env)] = self.capture(cap)
        inj.publish("status.x", env, qos=1)
        inj.publish("a/status", env, qos=1)
        # A topic chosen to reorder the warning on a terminal is shown
        # escaped, never as it is.
        inj.publish("esc/\u202egpj.exe", b"x", qos=1)
        self.assertTrue(sub.wait_drops(4), sub.text())
        time.sleep(0.3)
        self.assertIsNone(sub.proc.poll(), "-C 1 reached: %s" % sub.text())
        self.assertEqual(sub.stop(), 0, sub.text())
        self.assertEqual(sub.out, [], "alice printed something unopened")
        self.assertEqual(sub.drops(), [("other", "no_channel"),
                                       ("status.x", "no_channel"),
                                       ("a/status", "no_channel"),
                                       ("esc/<U+202E>gpj.exe",
                                        "no_channel")])
        self.assertNotIn("\u202e", "\n".join(sub.err))
        self.assertIn("no channel of this keyring covers this topic",
                      "\n".join(sub.err))
        self.assertEqual(sub.counts(), {"ok": 0, "no_channel": 4})
        # Plaintext on a covered topic stays refused under --allow-plain '#'.
        sub = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S|%p",
                       "--allow-plain", "#", client_id="alice-unc2")
        inj.publish("status", b"impostor", qos=1)
        self.assertTrue(sub.wait_drops(1), sub.text())
        self.assertEqual(sub.stop(), 0, sub.text())
        self.assertEqual(sub.out, [])
        self.assertEqual(sub.drops(), [("status", "version")])
        self.assertRegex("\n".join(sub.err), r"dropped a message on 'status'"
                         r" that did not open: not a secmq envelope")
        # --allow-plain without a keyring is a usage error.
        r = self.run_tool("secmq-sub", self.conn_args("alice") +
                          ["-t", "other", "--allow-plain", "other"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--allow-plain needs --keyring", r.stderr)

    def test_sender_shown_only_when_proved(self):
        """%S and %j: a signed message names its sender as verified, a
        mac-only one as "unverified:sam" (%S) and "verified": false,
        "mode": "mac" (%j); an allowed plain message has no sender. Width
        flags apply to %S as a whole."""
        self.make_world(channels=(("status", False), ("sensors/#", True)))
        bob = self.sub("bob", "-t", "status", "-t", "sensors/#", "-t",
                       "plain/#", "--allow-plain", "plain/#", "-q", "1",
                       "-F", "%-16S|%j", client_id="bob-json")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "signed one")
        self.assertTrue(bob.wait_out(1), bob.text())
        self.epub("sam", "--mac", "-t", "sensors/t", "-q", "1", "-m",
                  "mac one")
        self.assertTrue(bob.wait_out(2), bob.text())
        self.epub("sam", "-t", "plain/x", "-q", "1", "-m", "plain one")
        self.assertTrue(bob.wait_out(3), bob.text())
        self.assertEqual(bob.stop(), 0, bob.text())
        rows = [ln.split("|", 1) for ln in bob.out]
        self.assertEqual([r[0] for r in rows],
                         ["sam".ljust(16), "unverified:sam".ljust(16),
                          " " * 16])
        got = [json.loads(r[1]) for r in rows]
        self.assertEqual([(j["topic"], j["payload"], j["sender"],
                           j["verified"], j["mode"]) for j in got],
                         [("status", "signed one", "sam", True, "signed"),
                          ("sensors/t", "mac one", "sam", False, "mac"),
                          ("plain/x", "plain one", None, False, "plain")])
        # Without --keyring, %j is mosquitto_sub's: no sender fields.
        raw = self.sub("bob", "-t", "plain/#", "-F", "%j", "-C", "1",
                       keyring=False, client_id="bob-raw")
        self.pub("-t", "plain/y", "-m", "x", user="alice")
        self.assertEqual(raw.wait_exit(), 0, raw.text())
        self.assertNotIn("sender", json.loads(raw.out[0]))

    def test_sender_format_without_keyring_warned(self):
        """-F with %S but no --keyring: a plain payload is printed with an
        empty sender, so secmq-sub says so on stderr before anything
        arrives (a "status from : door closed" line never comes
        silently); %%S is a literal and is not warned about."""
        self.make_world(channels=(("status", False),))
        raw = self.sub("bob", "-t", "plain/#", "-F", "%t from %-8S: %p",
                       "-C", "1", keyring=False, client_id="bob-nokr")
        self.pub("-t", "plain/y", "-m", "door closed", user="alice")
        self.assertEqual(raw.wait_exit(), 0, raw.text())
        self.assertEqual(raw.out, ["plain/y from         : door closed"])
        warned = [l for l in raw.err if "without --keyring" in l]
        self.assertEqual(len(warned), 1, raw.text())
        self.assertIn("%S", warned[0])
        lit = self.sub("bob", "-t", "plain/#", "-F", "%t 100%%S %p", "-C",
                       "1", keyring=False, client_id="bob-lit")
        self.pub("-t", "plain/z", "-m", "x", user="alice")
        self.assertEqual(lit.wait_exit(), 0, lit.text())
        self.assertEqual(lit.out, ["plain/z 100%S x"])
        self.assertEqual(lit.err, [], lit.text())
        # With the keyring the sender is named and nothing is warned.
        bob = self.sub("bob", "-t", "status", "-q", "1", "-C", "1", "-F",
                       "%t from %S: %p", client_id="bob-kr")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "door closed")
        self.assertEqual(bob.wait_exit(), 0, bob.text())
        self.assertEqual(bob.out, ["status from sam: door closed"])
        self.assertEqual(bob.err, [], bob.text())

    def test_broker_sees_only_the_envelope(self):
        """An independent client (paho over TLS) subscribed to the topic
        gets the envelope: version 1, signed, plaintext + 138 bytes, no
        plaintext inside, sam's sender id, the channel's key id, a
        signature that sam's public key verifies for this topic only, and
        a ciphertext that opens (in Python) with the channel key."""
        outs = self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-eve")
        plain = ("CANARY-%s-do-not-leak" % secrets.token_hex(8)).encode()
        t0 = now_ms()
        self.epub("sam", "-t", "status", "-q", "1", "-m", plain.decode())
        [(topic, env)] = self.capture(cap)
        self.assertEqual(topic, "status")
        self.assertNotIn(plain, env, "the broker saw the plaintext")
        self.assertNotIn(plain[:12], env)
        self.assertEqual(env[0], 0x01, "version byte")
        self.assertEqual(env[1], MODE_SIGNED, "mode byte")
        self.assertEqual(len(env), len(plain) + 138)
        e = Envelope(env)
        sam = self.public("sam")
        self.assertEqual(e.sender_id, sam.id)
        g = open_grant(self.grant(outs["status"], "alice"),
                       self.identity("alice"), owner_pk=sam.pk)
        self.assertEqual(g["filter"], "status")
        self.assertEqual(e.key_id, g["key_id"])
        self.assertLessEqual(abs(e.time_ms - t0), 30000, "time_ms")
        self.assertTrue(verify_signature(env, "status", sam.pk),
                        "sam's signature does not verify (PROTOCOL.md §4)")
        self.assertFalse(verify_signature(env, "status2", sam.pk))
        self.assertEqual(open_envelope(env, "status", g["channel_key"]),
                         plain)
        self.assertIsNone(open_envelope(env, "other", g["channel_key"]))
        self.assert_no_more(cap, 0.3)

    def test_tampering_moves_replays_and_duplicates(self):
        """Every single-byte change of an envelope is refused with the
        reason of its field; an envelope moved to another topic of the
        same channel is bad_tag; a re-published envelope is replay; the
        same envelope published twice at QoS 1 is delivered once. Nothing
        refused is printed, each refusal is one stderr line, and the -d
        counts at exit add up."""
        self.make_world(channels=(("status", False), ("home/#", False)))
        cap = self.paho(subscribe="#", client_id="paho-cap")
        inj = self.paho(user="eve", client_id="paho-inj")

        # An envelope alice has not seen: sealed while she is away.
        self.epub("sam", "-t", "status", "-q", "1", "-m", "dup-me")
        [(_, dup_env)] = self.capture(cap)
        alice = self.sub("alice", "-t", "status", "-t", "home/#", "-q", "1",
                         "-F", "%S %t %p", "-d", client_id="alice-tamper")
        want_out = []
        want_drops = []

        # QoS 1 duplicate: the same envelope twice is delivered once.
        inj.publish("status", dup_env, qos=1)
        inj.publish("status", dup_env, qos=1)
        self.capture(cap, 2)
        want_out.append("sam status dup-me")
        want_drops.append(("status", "replay"))
        self.assertTrue(alice.wait_drops(1), alice.text())

        self.epub("sam", "-t", "status", "-q", "1", "-m", "tamper-me")
        [(_, env)] = self.capture(cap)
        want_out.append("sam status tamper-me")
        self.assertTrue(alice.wait_out(2), alice.text())

        # Every byte XOR 0x01, re-published by paho.
        for i in range(len(env)):
            inj.publish("status", flip(env, i), qos=1)
            want_drops.append(("status", expected_flip_reason(i, len(env))))
        self.capture(cap, len(env))
        # The untouched envelope again: a replay.
        inj.publish("status", env, qos=1)
        want_drops.append(("status", "replay"))

        # Moved to another topic covered by the same channel (home/#).
        self.epub("sam", "-t", "home/a", "-q", "1", "-m", "moved")
        got = self.capture(cap, 2)  # the replay, then home/a
        self.assertEqual(got[0], ("status", env))
        self.assertEqual(got[1][0], "home/a")
        home_env = got[1][1]
        want_out.append("sam home/a moved")
        self.assertTrue(alice.wait_out(3), alice.text())
        inj.publish("home/b", home_env, qos=1)
        want_drops.append(("home/b", "bad_tag"))
        inj.publish("home/a", home_env, qos=1)
        want_drops.append(("home/a", "replay"))

        ok = alice.wait_drops(len(want_drops), timeout=20)
        time.sleep(0.3)  # nothing more may arrive
        rc = alice.stop()
        self.assertTrue(ok, "alice reported %d of %d refusals: %s"
                        % (len(alice.drops()), len(want_drops),
                           alice.text()))
        self.assertEqual(rc, 0, alice.text())
        self.assertEqual(alice.out, want_out,
                         "alice printed something that did not open")
        got = alice.drops()
        for i, (g, w) in enumerate(zip(got, want_drops)):
            if g != w:
                self.fail("refusal %d: got %r, want %r%s" % (
                    i, g, w, "" if not 1 <= i <= len(env) else
                    " (byte %d, %s)" % (i - 1, field_of(i - 1, MODE_SIGNED,
                                                        len(env)))))
        self.assertEqual(len(got), len(want_drops))
        want_counts = {"ok": len(want_out)}
        for _, reason in want_drops:
            want_counts[reason] = want_counts.get(reason, 0) + 1
        self.assertEqual(alice.counts(), want_counts, alice.text())

    def start_line_pub(self, client_id):
        p = self.spawn("secmq-pub", self.e2e_conn("sam") +
                       ["-i", client_id, "-l", "-q", "1", "-t", "status"],
                       stdin=subprocess.PIPE)
        return p

    def test_sequence_numbers_survive_sigkill(self):
        """secmq-pub -l -q 1 killed with SIGKILL after a few lines and
        started again: alice gets every line once, nothing is refused as a
        replay, and on the wire seq strictly increases across the restart
        (PROTOCOL.md §4) and no nonce repeats."""
        self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-seq")
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S %p",
                         "-d", client_id="alice-seq")
        first, second = 5, 5
        lines = ["line %d %s" % (i, secrets.token_hex(4))
                 for i in range(first + second)]
        p1 = self.start_line_pub("sam-pub-1")
        for ln in lines[:first]:
            p1.stdin.write(ln.encode() + b"\n")
        p1.stdin.flush()
        envs = self.capture(cap, first)  # all on the broker
        self.assertTrue(alice.wait_out(first), alice.text())
        self.assertIsNone(p1.poll(), "secmq-pub -l exited early")
        p1.kill()
        p1.wait(timeout=10)
        self.assertEqual(p1.returncode, -9)

        p2 = self.start_line_pub("sam-pub-2")
        data = "".join(ln + "\n" for ln in lines[first:]).encode()
        try:
            _, err = p2.communicate(data, timeout=20)
        except subprocess.TimeoutExpired:
            p2.kill()
            self.fail("the restarted secmq-pub did not finish")
        self.assertEqual(p2.returncode, 0, err)
        envs += self.capture(cap, second)
        self.assertTrue(alice.wait_out(first + second), alice.text())
        time.sleep(0.3)  # nothing more may arrive
        self.assertEqual(alice.stop(), 0, alice.text())

        self.assertEqual(alice.out, ["sam " + ln for ln in lines],
                         "alice did not get every line exactly once")
        self.assertEqual(alice.drops(), [])
        self.assertEqual(alice.counts(), {"ok": first + second})
        parsed = [Envelope(e) for _, e in envs]
        seqs = [e.seq for e in parsed]
        for a, b in zip(seqs, seqs[1:]):
            self.assertLess(a, b, "seq not strictly increasing: %r" % seqs)
        self.assertEqual(len({e.nonce for e in parsed}), len(parsed),
                         "a nonce repeated")
        self.assertEqual(len({(e.key_id, e.sender_id) for e in parsed}), 1)

    def test_mac_only(self):
        """--mac on a channel created with --allow-mac: mode 0x02 and
        plaintext + 74 bytes, opened by bob with sam as the claimed sender
        (%S shows "unverified:sam"); on a channel without it --mac stays signed (+ 138). A
        mac-only envelope on the signed channel, made by a member with the
        channel key, is refused as mode_refused; on the mac channel a
        member can claim to be sam, as PROTOCOL.md §4.3 says."""
        outs = self.make_world(channels=(("status", False),
                                         ("sensors/#", True)))
        cap = self.paho(subscribe="#", client_id="paho-mac")
        bob = self.sub("bob", "-t", "status", "-t", "sensors/#", "-q", "1",
                       "-F", "%S %t %p", "-d", client_id="bob-mac")
        sam = self.public("sam")

        pt = "MAC-ONLY-%s" % secrets.token_hex(6)
        self.epub("sam", "--mac", "-t", "sensors/t", "-q", "1", "-m", pt)
        [(topic, env)] = self.capture(cap)
        self.assertEqual(topic, "sensors/t")
        self.assertEqual(len(env), len(pt) + 74)
        self.assertEqual(env[0], 0x01)
        self.assertEqual(env[1], MODE_MAC)
        self.assertEqual(Envelope(env).sender_id, sam.id)
        self.assertNotIn(pt.encode(), env)

        pt2 = "SIGNED-ANYWAY-%s" % secrets.token_hex(6)
        self.epub("sam", "--mac", "-t", "status", "-q", "1", "-m", pt2)
        [(topic, env2)] = self.capture(cap)
        self.assertEqual(len(env2), len(pt2) + 138)
        self.assertEqual(env2[1], MODE_SIGNED)
        self.assertTrue(verify_signature(env2, "status", sam.pk))

        alice = self.identity("alice")
        inj = self.paho(user="alice", client_id="paho-alice")
        g = open_grant(self.grant(outs["status"], "alice"), alice, sam.pk)
        self.assertFalse(g["flags"] & 0x02, "status allows mac-only")
        forged = seal(alice, g["channel_key"], g["key_id"], "status",
                      "mac on status", seq=time.time_ns() // 1000,
                      mode=MODE_MAC, sender_id=sam.id)
        inj.publish("status", forged, qos=1)
        gm = open_grant(self.grant(outs["sensors/#"], "alice"), alice, sam.pk)
        self.assertTrue(gm["flags"] & 0x02, "sensors/# refuses mac-only")
        claimed = seal(alice, gm["channel_key"], gm["key_id"], "sensors/x",
                       "claimed", seq=time.time_ns() // 1000,
                       mode=MODE_MAC, sender_id=sam.id)
        inj.publish("sensors/x", claimed, qos=1)

        ok = bob.wait_out(3) and bob.wait_drops(1)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertTrue(ok, bob.text())
        # %S: a mac-only sender is a claim, never shown as proved.
        self.assertEqual(bob.out, ["unverified:sam sensors/t " + pt,
                                   "sam status " + pt2,
                                   "unverified:sam sensors/x claimed"])
        self.assertEqual(bob.drops(), [("status", "mode_refused")])
        self.assertEqual(bob.counts(), {"ok": 3, "mode_refused": 1})


if __name__ == "__main__":
    unittest.main()
