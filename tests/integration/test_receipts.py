#!/usr/bin/python3
"""test_receipts.py -- the receipts a subscriber sends (PROTOCOL.md §9),
through the real tools and a real mosquitto.

sam owns `status`, created with --receipts --receipts-from alice (alice
and bob subscribe), and `quiet`, created without receipts (alice and bob
subscribe). alice and bob run secmq-sub; sam publishes with secmq-pub. A
paho watcher on `secmq/receipts/#` and on the data topics collects what
crosses the broker; every receipt is opened with the channel key from
alice's grant by tests/vectors/check_receipts.py (python3-nacl, written
from the spec), not by libsecmq. A second channel, `chat`, where sam and
alice both publish, checks that nobody receipts its own messages. Copies of
envelopes published again raw (as a sender's resend comes) are refused as
replays and receipted again exactly when alice knows she opened them
(§9.2): inside her window, or in her journal after a SIGKILL or a clean
restart; never one below the window, one she never saw, or one below a
top restored without her journal. LostReceipts runs the same through the
secmq_auth plugin with a real sender: receipts dropped at the broker are
made up for when sam's outbox hands the messages again.
"""

import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, os.path.join(HERE, "..", "vectors"))
import nacl.bindings as nb  # noqa: E402

import check_receipts as cr  # noqa: E402
from keys import E2ETestCase, Envelope, channel_id  # noqa: E402
sys.path.insert(0, HERE)
import test_plugin_receipts as tpr  # noqa: E402
from test_plugin_common import rx_dropped  # noqa: E402

N_STATUS = 150  # more than two default batches of 64
N_QUIET = 5
BATCH_MSGS = 64  # SECMQ_RECEIPT_DEFAULT_MSGS
STATS_RX = re.compile(r"receipts sent: (\d+) \(ranges (\d+), messages (\d+), "
                      r"acknowledged (\d+), failed (\d+), pending (\d+)\)")


class Receipts(E2ETestCase):

    def world(self):
        for n in ("sam", "alice", "bob"):
            self.make_identity(n)
        subs = [self.pubfile("alice"), self.pubfile("bob")]
        status = self.out_dir("status")
        self.keys("channel", "create", "--keyring", self.kdir("sam"),
                  "--topic", "status", "--publisher", self.pubfile("sam"),
                  "--subscriber", *subs, "--receipts", "--receipts-from",
                  "alice", "--out", status)
        quiet = self.out_dir("quiet")
        self.keys("channel", "create", "--keyring", self.kdir("sam"),
                  "--topic", "quiet", "--publisher", self.pubfile("sam"),
                  "--subscriber", *subs, "--out", quiet)
        for who in ("alice", "bob"):
            self.import_(who, self.pubfile("sam"), self.grant(status, who),
                         self.grant(quiet, who))
        return self.grant_fields(self.grant(status, "alice"), "alice")

    def grant_fields(self, path, who):
        """The channel key, key id and receipt fields of who's SECMQGB2
        grant (§5), opened with who's secret identity."""
        me = self.identity(who)
        with open(path, "rb") as fh:
            raw = fh.read()
        body = nb.crypto_box_seal_open(raw[16:], me.x_pk, me.x_sk)
        g = cr.gb2_parse(body)
        g.update(key_id=body[72:80], channel_key=body[80:112],
                 cid=bytes.fromhex(channel_id(self.public("sam").pk,
                                              "status")))
        return g

    def collect(self, watch, g, n_status, timeout=15.0):
        """What watch sees until n_status status envelopes came and the
        receipts cover all of their seqs, or timeout: [(receipter pk,
        ranges)] of the receipts (opened) and {topic: [(key id, sender
        id, seq)]} of the data envelopes."""
        receipts, seqs, covered = [], {"status": [], "quiet": []}, set()
        self.raw = {"status": [], "quiet": []}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(seqs["status"]) >= n_status and \
                    covered >= {q for _k, _s, q in seqs["status"]}:
                break
            m = watch.get(timeout=0.2)
            if m is None:
                continue
            topic, payload = m[0], m[1]
            if topic in seqs:
                e = Envelope(payload)
                seqs[topic].append((e.key_id, e.sender_id, e.seq))
                self.raw[topic].append(payload)
                continue
            self.assertEqual(topic, g["topic"].decode(),
                             "a receipt on another topic")
            ranges, who = cr.open_receipt(payload, topic.encode(),
                                          g["channel_key"],
                                          g["cid"], g["receipters"])
            receipts.append((who, ranges))
            for _k, _s, first, count in ranges:
                covered |= set(range(first, first + count))
        return receipts, seqs

    def receipts_for(self, watch, g, want, timeout=5.0):
        """The receipts (opened, [(receipter pk, ranges)]) watch sees until
        their ranges cover every seq of want, or timeout; data envelopes
        are not expected meanwhile."""
        receipts, covered = [], set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not covered >= want:
            m = watch.get(timeout=0.2)
            if m is None:
                continue
            self.assertEqual(m[0], g["topic"].decode(),
                             "not a receipt: %r" % (m,))
            ranges, who = cr.open_receipt(m[1], m[0].encode(),
                                          g["channel_key"], g["cid"],
                                          g["receipters"])
            receipts.append((who, ranges))
            for _k, _s, first, count in ranges:
                covered |= set(range(first, first + count))
        return receipts

    def test_subscriber_receipts_what_it_opened(self):
        """alice (a receipter) receipts exactly the status messages she
        opened, every range once, in receipts of at most 64 messages, the
        last batch by the timer while she keeps running; bob (a member not
        named) and the channel without receipts send none; alice's -d
        counts match what crossed the broker."""
        g = self.world()
        alice_pk = self.public("alice").pk
        self.assertEqual(g["receipters"], [alice_pk])
        self.assertEqual(g["topic"].decode(),
                         "secmq/receipts/" + g["cid"].hex())
        watch = self.paho(user="eve", client_id="paho-watch")
        watch.subscribe("secmq/receipts/#", qos=1)
        watch.subscribe("status", qos=1)
        watch.subscribe("quiet", qos=1)
        # One status envelope before anyone subscribes: never seen by
        # alice, and far below her window once the rest came.
        self.epub("sam", "-t", "status", "-m", "unseen", "-q", "1")
        m = watch.get(timeout=5)
        self.assertIsNotNone(m, "the watcher missed sam's first envelope")
        self.assertEqual(m[0], "status")
        unseen = m[1]
        alice = self.sub("alice", "-t", "status", "-t", "quiet", "-q", "1",
                         "-d", client_id="alice-rc")
        bob = self.sub("bob", "-t", "status", "-t", "quiet", "-q", "1",
                       "-d", client_id="bob-rc")

        self.epub("sam", "-t", "quiet", "-m", "q", "-q", "1", "--repeat",
                  str(N_QUIET))
        self.epub("sam", "-t", "status", "-m", "s", "-q", "1", "--repeat",
                  str(N_STATUS))
        self.assertTrue(alice.wait_out(N_STATUS + N_QUIET, 20),
                        alice.text())
        self.assertTrue(bob.wait_out(N_STATUS + N_QUIET, 20), bob.text())
        sam_id = self.identity("sam").id
        receipts, seqs = self.collect(watch, g, N_STATUS)
        streams = seqs["status"]
        want = {q for _k, _s, q in streams}
        self.assertEqual(len(want), N_STATUS, "sam's status envelopes")
        self.assertEqual(len(seqs["quiet"]), N_QUIET)
        self.assertEqual({(k, s) for k, s, _q in streams},
                         {(g["key_id"], sam_id)})

        got = []
        for who, ranges in receipts:
            self.assertEqual(who, alice_pk, "a receipt not from alice")
            n = 0
            for k, s, first, count in ranges:
                self.assertEqual((k, s), (g["key_id"], sam_id))
                got += list(range(first, first + count))
                n += count
            self.assertLessEqual(n, BATCH_MSGS, "a batch over 64: %r"
                                 % (ranges,))
        self.assertEqual(sorted(got), sorted(want),
                         "receipts cover other seqs than sam sent "
                         "(duplicates or gaps)")
        self.assertGreaterEqual(len(receipts), 3)
        # All of it came while alice kept running: 150 is not a multiple
        # of 64, so the timer (not the exit) sent the last batch.
        self.assertIsNone(alice.proc.poll())
        # Nothing more: no receipt from bob, none for quiet, none twice.
        self.assert_no_more(watch, 0.5)
        # A copy of the newest message (as a sender's resend would come,
        # its receipt lost) is refused as a replay by both; alice knows
        # she opened it (inside her window) and receipts it again, in a
        # receipt of its own; bob, no receipter, does not.
        inj = self.paho(user="sam", client_id="paho-resend")
        last = self.raw["status"][-1]
        last_seq = Envelope(last).seq
        self.assertEqual(last_seq, max(want))
        inj.publish("status", last, qos=1)
        self.assertTrue(alice.wait_drops(1, 10), alice.text())
        self.assertTrue(bob.wait_drops(1, 10), bob.text())
        self.assertEqual(alice.drops()[0][1], "replay", alice.text())
        m = watch.get(timeout=5)
        self.assertEqual((m[0], m[1]), ("status", last))
        again = self.receipts_for(watch, g, {last_seq})
        self.assertEqual(again, [(alice_pk, [(g["key_id"], sam_id, last_seq,
                                              1)])],
                         "no second receipt for a copy alice opened")
        self.assert_no_more(watch, 0.5)
        # Copies alice cannot know she opened get no receipt: the first
        # message (opened, but 149 behind her newest, below the window)
        # and the one sent before she subscribed (never opened).
        first = self.raw["status"][0]
        self.assertLessEqual(Envelope(first).seq + 64, last_seq)
        self.assertLess(Envelope(unseen).seq, Envelope(first).seq)
        for k, copy in enumerate((first, unseen)):
            inj.publish("status", copy, qos=1)
            self.assertTrue(alice.wait_drops(2 + k, 10), alice.text())
            self.assertTrue(bob.wait_drops(2 + k, 10), bob.text())
            self.assertEqual(alice.drops()[1 + k][1], "replay", alice.text())
            m = watch.get(timeout=5)
            self.assertEqual((m[0], m[1]), ("status", copy))
            # Longer than a batch's delay (100 ms): nothing was receipted.
            self.assert_no_more(watch, 0.6)

        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(bob.stop(), 0, bob.text())
        m = [STATS_RX.search(ln) for ln in alice.err]
        m = [x for x in m if x]
        self.assertEqual(len(m), 1, alice.text())
        sent, nranges, msgs, _acked, failed, pending = map(int, m[0].groups())
        self.assertEqual((sent, msgs, failed, pending),
                         (len(receipts) + 1, N_STATUS + 1, 0, 0))
        self.assertEqual(nranges, sum(len(r) for _w, r in receipts) + 1)
        self.assertFalse(any(STATS_RX.search(ln) for ln in bob.err))
        # Her counters say the same: one copy receipted again.
        self.assertTrue(any("receipted again: 1 copy " in ln
                            for ln in alice.err), alice.text())
        self.assert_no_more(watch, 0.3)

    def restart_and_resend(self, inj, watch, copy):
        """Start alice's secmq-sub again, publish copy with inj, see it
        pass watch and alice refuse it as a replay; her LiveProc."""
        alice = self.sub("alice", "-t", "status", "-q", "1", "-d",
                         client_id="alice-k")
        inj.publish("status", copy, qos=1)
        m = watch.get(timeout=5)
        self.assertEqual((m[0], m[1]), ("status", copy))
        self.assertTrue(alice.wait_drops(1, 10), alice.text())
        self.assertEqual(alice.drops()[0][1], "replay", alice.text())
        return alice

    def test_copy_receipted_again_after_sigkill(self):
        """alice's secmq-sub killed with SIGKILL after receipting five
        messages (her journal not folded): started again, she refuses
        copies of them as replays and receipts them again, because her
        journal says she opened them; after a clean stop and start too
        (the fold carries what she knows). With her journal deleted she
        knows only that every seq up to the restored top counts as seen:
        a copy is refused and not receipted."""
        g = self.world()
        alice_pk = self.public("alice").pk
        sam_id = self.identity("sam").id
        watch = self.paho(user="eve", client_id="paho-watch")
        watch.subscribe("secmq/receipts/#", qos=1)
        watch.subscribe("status", qos=1)
        alice = self.sub("alice", "-t", "status", "-q", "1", "-d",
                         client_id="alice-k")
        self.epub("sam", "-t", "status", "-m", "s", "-q", "1", "--repeat",
                  "5")
        self.assertTrue(alice.wait_out(5, 10), alice.text())
        receipts, seqs = self.collect(watch, g, 5)
        want = {q for _k, _s, q in seqs["status"]}
        self.assertEqual(len(want), 5)
        got = {q for _w, r in receipts for _k, _s, f, c in r
               for q in range(f, f + c)}
        self.assertEqual(got, want, "the first receipts")
        alice.proc.kill()
        self.assertEqual(alice.wait_exit(10), -9)
        alice = self.sub("alice", "-t", "status", "-q", "1", "-d",
                         client_id="alice-k")
        inj = self.paho(user="sam", client_id="paho-resend")
        first, last = self.raw["status"][0], self.raw["status"][-1]
        pair = {Envelope(first).seq, Envelope(last).seq}
        for copy in (first, last):
            inj.publish("status", copy, qos=1)
            m = watch.get(timeout=5)
            self.assertEqual((m[0], m[1]), ("status", copy))
        self.assertTrue(alice.wait_drops(2, 10), alice.text())
        self.assertEqual([r for _t, r in alice.drops()], ["replay"] * 2)
        again = self.receipts_for(watch, g, pair)
        got = set()
        for who, ranges in again:
            self.assertEqual(who, alice_pk)
            for k, s, f, c in ranges:
                self.assertEqual((k, s), (g["key_id"], sam_id))
                got |= set(range(f, f + c))
        self.assertEqual(got, pair, "the receipts after the restart")
        self.assert_no_more(watch, 0.5)
        self.assertEqual(alice.out, [], "a copy was delivered")
        # A clean stop folds the journal and starts the new one with the
        # seqs she knows: a copy is still receipted again after it.
        self.assertEqual(alice.stop(), 0, alice.text())
        alice = self.restart_and_resend(inj, watch, last)
        again = self.receipts_for(watch, g, {Envelope(last).seq})
        self.assertEqual(again, [(alice_pk, [(g["key_id"], sam_id,
                                              Envelope(last).seq, 1)])],
                         "no receipt after a clean restart")
        self.assert_no_more(watch, 0.5)
        self.assertEqual(alice.stop(), 0, alice.text())
        # Her journal lost (only the table of tops left): every seq up to
        # the top counts as seen and none is known, so a copy is refused
        # and not receipted.
        os.unlink(os.path.join(self.kdir("alice"), "state",
                               "replay.journal"))
        alice = self.restart_and_resend(inj, watch, last)
        self.assert_no_more(watch, 0.6)
        self.assertEqual(alice.stop(), 0, alice.text())

    def test_own_messages_not_receipted(self):
        """On a channel where every member publishes (so every member is a
        receipter), alice's subscriber does not receipt what alice herself
        published, while sam's receipts it."""
        for n in ("sam", "alice"):
            self.make_identity(n)
        out = self.out_dir("chat")
        self.keys("channel", "create", "--keyring", self.kdir("sam"),
                  "--topic", "chat", "--publisher", self.pubfile("sam"),
                  self.pubfile("alice"), "--receipts", "--out", out)
        self.import_("alice", self.pubfile("sam"), self.grant(out, "alice"))
        self.import_("sam", self.pubfile("alice"))
        g = self.grant_fields(self.grant(out, "alice"), "alice")
        g["cid"] = bytes.fromhex(channel_id(self.public("sam").pk, "chat"))
        self.assertEqual(sorted(g["receipters"]),
                         sorted([self.public("sam").pk,
                                 self.public("alice").pk]))
        watch = self.paho(user="eve", client_id="paho-watch")
        watch.subscribe("secmq/receipts/#", qos=1)
        alice = self.sub("alice", "-t", "chat", "-q", "1", "-d",
                         client_id="alice-chat")
        sam = self.sub("sam", "-t", "chat", "-q", "1", "-d",
                       client_id="sam-chat")
        self.epub("alice", "-t", "chat", "-m", "a", "-q", "1", "--repeat",
                  "3")
        self.assertTrue(alice.wait_out(3, 10), alice.text())
        self.assertTrue(sam.wait_out(3, 10), sam.text())
        m = watch.get(timeout=5)
        self.assertIsNotNone(m, "no receipt from sam")
        ranges, who = cr.open_receipt(m[1], m[0].encode(), g["channel_key"],
                                      g["cid"], g["receipters"])
        self.assertEqual(who, self.public("sam").pk)
        self.assertEqual([(s, c) for _k, s, _f, c in ranges],
                         [(self.identity("alice").id, 3)])
        self.assert_no_more(watch, 0.5)
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(sam.stop(), 0, sam.text())
        self.assertFalse(any(STATS_RX.search(ln) for ln in alice.err),
                         alice.text())


class LostReceipts(tpr.PluginReceipts):
    """Receipts lost at the broker, made up for by the sender's resends:
    the secmq_auth plugin enforces signatures and drops alice's receipts
    while her key is not registered; sam's `secmq-pub --outbox` keeps its
    rows and hands them again; once the key is registered, alice refuses
    the copies as replays and receipts them again (§9.2), and sam's
    outbox lets them go."""

    # The world of test_plugin_receipts.py (sam owns `status` with
    # receipts, alice its receipter, the receipt topic in self.rtopic, sam's
    # outbox at self.ob); load_tests below keeps its tests out of this file.

    def test_lost_receipts_made_up_by_resends(self):
        n = 5
        self.allow(alice_key=False)
        alice = self.sub("alice", "-t", "status", "-q", "1", "-d",
                         client_id="alice-rc")
        since = self.broker.log_size()
        pub = self.spawn("secmq-pub", self.e2e_conn("sam") + [
            "-t", "status", "-q", "1", "-m", "m", "--repeat", str(n),
            "--outbox", self.ob, "--receipt-wait", "40",
            "--receipt-resend", "500"])
        self.assertTrue(alice.wait_out(n, 20), alice.text())
        self.assertTrue(self.broker.wait_for_log(
            rx_dropped(self.rtopic, "alice-rc", "alice",
                       "key not registered for user"), since=since),
            self.broker.log_tail())
        self.assertIsNone(pub.poll(), "secmq-pub ended without receipts")
        since = self.broker.log_size()
        self.admin("key", "add", "alice", self.pubfile("alice"))
        self.wait_reloaded(since)
        # sam hands the rows again (0.5 s after the PUBACK, then 1 s ...).
        try:
            _out, err = pub.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            pub.kill()
            _out, err = pub.communicate(timeout=10)
            self.fail("the resent messages were never receipted: %s\n%s"
                      % (alice.text(), err.decode(errors="replace")[-2000:]))
        self.assertEqual(pub.returncode, 0, err.decode(errors="replace"))
        self.assertEqual(self.rows(), 0)
        # alice got each message once and refused the copies as replays.
        self.assertTrue(alice.wait_drops(n, 5), alice.text())
        self.assertEqual({r for _t, r in alice.drops()}, {"replay"})
        self.assertEqual(len(alice.out), n, alice.text())
        self.assertEqual(alice.stop(), 0, alice.text())


def load_tests(loader, _tests, _pattern):
    """The tests this file defines, not those LostReceipts inherits."""
    suite = unittest.TestSuite()
    for cls in (Receipts, LostReceipts):
        for name in loader.getTestCaseNames(cls):
            if name in cls.__dict__:
                suite.addTest(cls(name))
    return suite


if __name__ == "__main__":
    unittest.main()
