#!/usr/bin/python3
"""test_e2e_replay.py -- replays after a subscriber crash.

A message secmq-sub showed must never be shown again, whatever happens to
the subscriber: its replay record is in DIR/state/replay.journal, synced,
before the line is printed. Envelopes are captured with paho (an
independent client subscribed to the topic) and re-published with sam's
MQTT password, as a thief holding that password could. Keyrings by
secmq-keys (tests/harness/keys.py): sam publishes `status`, bob reads it.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keys import E2ETestCase, now_ms, open_grant, seal  # noqa: E402

SUB_ARGS = ("-t", "status", "-q", "1", "-F", "%S %p", "-d")


class ReplayAfterCrash(E2ETestCase):

    def journal(self, who):
        return os.path.join(self.kdir(who), "state", "replay.journal")

    def replay_and_check(self, sub, envs, inj, new_msg):
        """Re-publish envs (sam's captured envelopes) with sam's password,
        then a new genuine message: only the new one is shown, every
        replayed one is reported and counted as a replay."""
        for env in envs:
            inj.publish("status", env, qos=1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", new_msg)
        ok = sub.wait_drops(len(envs)) and sub.wait_out(1)
        time.sleep(0.3)
        self.assertEqual(sub.stop(), 0, sub.text())
        self.assertTrue(ok, sub.text())
        self.assertEqual(sub.out, ["sam " + new_msg], sub.text())
        self.assertEqual(sub.drops(), [("status", "replay")] * len(envs))
        self.assertEqual(sub.counts(), {"ok": 1, "replay": len(envs)},
                         sub.text())

    def test_replays_refused_after_sigkill(self):
        """bob receives 5 messages and is SIGKILLed (no clean exit, no
        state written at exit); 30 bytes of garbage are appended to his
        journal (a write torn by a power cut); restarted with the same
        keyring he refuses all 5 envelopes re-published by paho with sam's
        password (replay, counted), says that it ignored the torn bytes,
        and shows a new message from sam."""
        self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-cap")
        bob = self.sub("bob", *SUB_ARGS, client_id="bob-1")
        for i in range(5):
            self.epub("sam", "-t", "status", "-q", "1", "-m", "msg %d" % i)
        envs = [p for _, p in self.capture(cap, 5)]
        self.assertTrue(bob.wait_out(5), bob.text())
        bob.proc.kill()
        bob.wait_exit()
        self.assertEqual(bob.out, ["sam msg %d" % i for i in range(5)])
        with open(self.journal("bob"), "ab") as fh:
            fh.write(os.urandom(30))

        bob2 = self.sub("bob", *SUB_ARGS, client_id="bob-2")
        inj = self.paho(user="sam", client_id="paho-sam")
        self.replay_and_check(bob2, envs, inj, "after the crash")
        self.assertTrue(any("replay.journal: ignored 30 bytes" in ln
                            for ln in bob2.err), bob2.text())

    def test_sigkill_right_after_the_line(self):
        """Three times: bob is SIGKILLed as soon as sam's message appears
        on his stdout, restarted, and the envelope just shown is
        re-published: it is refused, so its record was durable before the
        line was printed."""
        self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-cap")
        inj = self.paho(user="sam", client_id="paho-sam")
        env = None
        for r in range(3):
            bob = self.sub("bob", *SUB_ARGS, client_id="bob-k%d" % r)
            if env is not None:
                inj.publish("status", env, qos=1)
                self.capture(cap)
                self.assertTrue(bob.wait_drops(1), bob.text())
            self.epub("sam", "-t", "status", "-q", "1", "-m", "round %d" % r)
            [(_, env)] = self.capture(cap)
            shown = bob.wait_out(1)
            bob.proc.kill()
            bob.wait_exit()
            self.assertTrue(shown, bob.text())
            self.assertEqual(bob.out, ["sam round %d" % r], bob.text())
            self.assertEqual(bob.drops(), [("status", "replay")] if r else [])
        bob = self.sub("bob", *SUB_ARGS, client_id="bob-last")
        self.replay_and_check(bob, [env], inj, "last")

    def test_two_receivers_one_keyring(self):
        """Two secmq-sub processes with bob's keyring both show sam's
        messages (they take turns at the journal under its flock); after
        both are SIGKILLed, a restarted one refuses every replayed
        envelope."""
        self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-cap")
        a = self.sub("bob", *SUB_ARGS, client_id="bob-a")
        b = self.sub("bob", *SUB_ARGS, client_id="bob-b")
        for i in range(3):
            self.epub("sam", "-t", "status", "-q", "1", "-m", "both %d" % i)
        envs = [p for _, p in self.capture(cap, 3)]
        ok = a.wait_out(3) and b.wait_out(3)
        a.proc.kill()
        b.proc.kill()
        a.wait_exit()
        b.wait_exit()
        self.assertTrue(ok, "a %s; b %s" % (a.text(), b.text()))
        want = ["sam both %d" % i for i in range(3)]
        self.assertEqual(a.out, want)
        self.assertEqual(b.out, want)
        bob = self.sub("bob", *SUB_ARGS, client_id="bob-c")
        inj = self.paho(user="sam", client_id="paho-sam")
        self.replay_and_check(bob, envs, inj, "one more")

    def test_damaged_journal_refused(self):
        """A journal record changed in the middle (not a torn tail) could
        hide a delivered message: secmq-sub refuses to start, naming the
        file, instead of guessing."""
        self.make_world()
        cap = self.paho(subscribe="status", client_id="paho-cap")
        bob = self.sub("bob", *SUB_ARGS, client_id="bob-1")
        for i in range(2):
            self.epub("sam", "-t", "status", "-q", "1", "-m", "m%d" % i)
        self.capture(cap, 2)
        self.assertTrue(bob.wait_out(2), bob.text())
        bob.proc.kill()
        bob.wait_exit()
        with open(self.journal("bob"), "r+b") as fh:
            fh.seek(48 + 20)  # inside the first record
            b = fh.read(1)
            fh.seek(48 + 20)
            fh.write(bytes([b[0] ^ 1]))
        r = self.run_tool("secmq-sub", self.e2e_conn("bob") +
                          ["-i", "bob-2", "-t", "status", "-C", "1",
                           "-W", "5"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("replay.journal", r.stderr)
        self.assertIn("damaged", r.stderr)
        self.assertEqual(r.stdout, "")


    def test_default_max_age(self):
        """The second line, for replay state lost or restored from an old
        copy: without --max-age secmq-sub refuses an envelope sam signed
        two hours ago (too_old) and shows one signed a minute ago;
        --max-age 0 turns the check off and shows both."""
        outs = self.make_world()
        g = open_grant(self.grant(outs["status"], "bob"),
                       self.identity("bob"), self.public("sam").pk)
        sam = self.identity("sam")
        seq = time.time_ns() // 1000
        old = seal(sam, g["channel_key"], g["key_id"], "status", "two hours",
                   seq=seq, time_ms=now_ms() - 2 * 3600 * 1000)
        recent = seal(sam, g["channel_key"], g["key_id"], "status",
                      "a minute", seq=seq + 1, time_ms=now_ms() - 60 * 1000)
        inj = self.paho(user="sam", client_id="paho-sam")
        bob = self.sub("bob", *SUB_ARGS, client_id="bob-age")
        inj.publish("status", old, qos=1)
        inj.publish("status", recent, qos=1)
        ok = bob.wait_drops(1) and bob.wait_out(1)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertTrue(ok, bob.text())
        self.assertEqual(bob.out, ["sam a minute"])
        self.assertEqual(bob.drops(), [("status", "too_old")])
        # Off, and bob's replay state removed (as a lost state directory
        # would be): nothing refuses the two any more.
        for f in ("replay", "replay.journal"):
            os.unlink(os.path.join(self.kdir("bob"), "state", f))
        bob2 = self.sub("bob", *SUB_ARGS, "--max-age", "0",
                        client_id="bob-noage")
        inj.publish("status", old, qos=1)
        inj.publish("status", recent, qos=1)
        ok = bob2.wait_out(2)
        self.assertEqual(bob2.stop(), 0, bob2.text())
        self.assertTrue(ok, bob2.text())
        self.assertEqual(bob2.out, ["sam two hours", "sam a minute"])
        self.assertEqual(bob2.drops(), [])


if __name__ == "__main__":
    unittest.main()
