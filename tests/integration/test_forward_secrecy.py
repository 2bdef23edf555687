#!/usr/bin/python3
"""test_forward_secrecy.py -- channels with an epoch ratchet (secmq-keys
channel create --epoch, PROTOCOL.md 3.2) end to end: real broker, real
processes, keys checked from outside.

- Capture and a stolen device: sam streams through about four epochs,
  alice's secmq-sub opens every message while a paho subscriber records
  the envelopes. alice's secmq-sub is SIGKILLed and her keyring directory
  copied. The chain of her grant (opened here with her identity seed) gives
  every chain key and message key: none of the steps below the lowest held
  one is in any file of the copy, raw or inside a local sealed file
  (SECMQLF1, opened with her local key), and no .grant file is kept. The
  copy (fs_open.c) refuses the envelopes of erased epochs (key_expired) and
  opens those of the epochs it still holds.
- A removed member: after bob is revoked, what sam sends is refused by bob
  (unknown_key) and opens for alice.
- An added member: carol, added with `channel add`, opens what is sent
  after, and nothing captured before.
- An offline publisher: sam's outbox queues across several epochs while
  the broker is away; when it is back every message either arrives and
  opens at alice or is set aside in the outbox's quarantine table (and said
  by secmq-pub); none is refused at alice. The same for a channel without
  epochs whose previous key's grace ended while rows waited.

Epochs are 2 s (times TIMEOUT_SCALE); waits are bounded. The grant and the
local files are read from docs/PROTOCOL.md with python3-nacl.
"""

import glob
import os
import re
import sqlite3
import struct
import subprocess
import sys
import time
import unittest

import nacl.bindings as nb
from nacl.exceptions import CryptoError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keys import (E2ETestCase, Envelope, blake2b,  # noqa: E402
                  channel_id, kdf_derive, message_key, now_ms)
from testcase import TIMEOUT_SCALE  # noqa: E402

GRANT_MAGIC = b"SECMQGR1"
BODY_MAGIC3 = b"SECMQGB3"
LOCAL_MAGIC = b"SECMQLF1"
# The kinds of local sealed files (PROTOCOL.md 5.3): the AD names one.
LOCAL_KINDS = (b"owned", b"seq", b"replay", b"chain")
SIG = 64
PERIOD_S = 2 * TIMEOUT_SCALE
EXIT_QUEUED = 75


# --------------------------------------------------------------------------
# PROTOCOL.md 3.2 and 5.3, written from the page
# --------------------------------------------------------------------------

def chain_next(k):
    """k_{s+1} = crypto_kdf_derive_from_key(32, 1, "secmqrat", k_s)."""
    return kdf_derive(32, 1, b"secmqrat", k)


def step_key_id(key_id, s):
    """First 8 bytes of BLAKE2b-32("secmq-step-v1" || key_id || u32(s))."""
    return blake2b(b"secmq-step-v1" + key_id + struct.pack(">I", s), 32)[:8]


def step_at(created_ms, period_ms, t_ms):
    return max(0, (t_ms - created_ms) // period_ms)


def lowest_held(g, t_ms):
    """max(grant step, smallest s with t <= created + (s+1)*period +
    grace)."""
    lo = g["step"]
    while t_ms > g["created_ms"] + (lo + 1) * g["period_ms"] + g["grace_ms"]:
        lo += 1
    return lo


def open_grant3(path, member, owner_pk):
    """A ratcheted grant (body SECMQGB3) for member: the GB1 fields, then
    period, grace and step; the signature is checked."""
    with open(path, "rb") as fh:
        grant = fh.read()
    if grant[:8] != GRANT_MAGIC or grant[8:16] != member.id:
        raise ValueError("%s: not a grant for %s" % (path, member.name))
    body = nb.crypto_box_seal_open(grant[16:], member.x_pk, member.x_sk)
    if body[:8] != BODY_MAGIC3:
        raise ValueError("%s: body magic %r" % (path, body[:8]))
    nb.crypto_sign_open(body[-SIG:] + b"secmq-grant-v1" + body[:-SIG],
                        owner_pk)
    flen = struct.unpack(">H", body[141:143])[0]
    off = 143 + flen
    n = struct.unpack(">H", body[off:off + 2])[0]
    off += 2 + 32 * n
    if len(body) != off + 12 + SIG:
        raise ValueError("%s: body of %d bytes" % (path, len(body)))
    period, grace, step = struct.unpack(">III", body[off:off + 12])
    return dict(key_id=body[72:80], channel_key=body[80:112],
                epoch=struct.unpack(">I", body[112:116])[0],
                created_ms=struct.unpack(">Q", body[116:124])[0],
                filter=body[143:143 + flen].decode(), period_ms=period,
                grace_ms=grace, step=step)


def local_key(seed):
    """k = crypto_kdf_derive_from_key(32, 1, "secmqkr1", ed25519_seed)."""
    return kdf_derive(32, 1, b"secmqkr1", seed)


def open_local(raw, k):
    """(kind, payload) of a local sealed file, or None when no kind of
    LOCAL_KINDS opens it."""
    nonce, ct = raw[8:32], raw[32:]
    for kind in LOCAL_KINDS:
        try:
            return kind, nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ct, LOCAL_MAGIC + kind, nonce, k)
        except (CryptoError, ValueError):
            continue
    return None


def files_under(top):
    out = []
    for d, _, names in os.walk(top):
        for n in names:
            out.append(os.path.join(d, n))
    return sorted(out)


class ForwardSecrecy(E2ETestCase):

    # -- helpers ------------------------------------------------------------

    def fs_open(self, keyring, envelopes, topic="status"):
        """What keyring opens of envelopes: a list of "ok PLAINTEXT-HEX" or
        reason names, one per envelope (fs_open.c)."""
        prog = os.environ.get("SECMQ_FS_OPEN")
        if not prog or not os.access(prog, os.X_OK):
            self.fail("SECMQ_FS_OPEN does not name the fs_open helper "
                      "(run through ctest)")
        r = subprocess.run([prog, keyring, topic],
                           input="".join(e.hex() + "\n" for e in envelopes),
                           capture_output=True, text=True,
                           timeout=30 * TIMEOUT_SCALE)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(envelopes), r.stdout)
        return lines

    def stolen_copy(self, name, new):
        """A copy of name's keyring as a thief has it, without its replay
        state (a thief can delete it: it protects receivers, not keys)."""
        dst = self.copy_keyring(name, new)
        for f in ("replay", "replay.journal", "replay.lock"):
            p = os.path.join(dst, "state", f)
            if os.path.exists(p):
                os.unlink(p)
        return dst

    def ratchet_world(self, grace, subscribers=("alice", "bob"),
                      period_s=PERIOD_S):
        """sam, alice, bob, carol (and eve): sam owns a channel on
        `status` with --epoch period_s and grace (a secmq-keys duration);
        alice and bob import their grants. Returns (grant dir, alice's
        grant fields)."""
        for n in ("sam", "alice", "bob", "carol"):
            self.make_identity(n)
        out = self.out_dir("create")
        self.keys("channel", "create", "--keyring", self.kdir("sam"),
                  "--topic", "status", "--publisher", self.pubfile("sam"),
                  "--subscriber", *[self.pubfile(n) for n in subscribers],
                  "--out", out, "--epoch", "%ds" % period_s,
                  "--epoch-grace", grace)
        for n in subscribers:
            self.import_(n, self.pubfile("sam"), self.grant(out, n))
        g = open_grant3(self.grant(out, "alice"), self.identity("alice"),
                        self.public("sam").pk)
        self.assertEqual(g["period_ms"], period_s * 1000)
        self.assertEqual(g["filter"], "status")
        return out, g

    def steps_of(self, g, envelopes, most=1000):
        """The chain step of each envelope (its key id among g's step key
        ids), None for one of another chain."""
        ids = {step_key_id(g["key_id"], s): s
               for s in range(0, g["step"] + most)}
        return [ids.get(Envelope(e).key_id) for e in envelopes]

    def wait_step_offset(self, g, offset_ms):
        """Sleep until offset_ms into the next epoch boundary's epoch
        (bounded by one period)."""
        p = g["period_ms"]
        t = now_ms()
        target = g["created_ms"] + (step_at(g["created_ms"], p, t) * p) + \
            offset_ms
        if target <= t:
            target += p
        time.sleep((target - t) / 1000.0)

    # -- a. capture, then a stolen device -----------------------------------

    def test_stolen_keyring_opens_no_erased_epoch(self):
        """alice's keyring, copied after four epochs, holds no key of an
        erased epoch and opens none of its envelopes; it opens those of the
        epochs it still holds."""
        # A grace of a second (scaled): what sam seals at the end of an
        # epoch still opens when it reaches alice just after it.
        out, g = self.ratchet_world("%ds" % TIMEOUT_SCALE,
                                    subscribers=("alice",))
        alice_id = self.identity("alice")
        cap = self.paho(subscribe="status", client_id="fs-capture")
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="alice-fs")
        pub = subprocess.Popen(
            [self.tool("secmq-pub")] + self.e2e_conn("sam") +
            ["-t", "status", "-q", "1", "-l"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=self.child_env())
        self._procs.append(pub)
        sent = []
        end = time.monotonic() + 4 * PERIOD_S
        while time.monotonic() < end:
            msg = "m%03d" % len(sent)
            pub.stdin.write((msg + "\n").encode())
            pub.stdin.flush()
            sent.append(msg)
            time.sleep(0.25)
        self.assertTrue(alice.wait_out(len(sent), timeout=10),
                        "alice opened %d of %d: %s"
                        % (len(alice.out), len(sent), alice.text()))
        # The stolen device: killed at once, its directory copied.
        alice.proc.kill()
        alice.wait_exit(10)
        t_copy = now_ms()
        stolen = self.copy_keyring("alice", "alice-stolen")
        pub.stdin.close()
        self.assertEqual(pub.wait(timeout=20), 0,
                         pub.stderr.read().decode(errors="replace"))
        self.assertEqual(alice.out, sent)
        self.assertEqual(alice.drops(), [])
        envs = [m[1] for m in self.capture(cap, len(sent))]
        steps = self.steps_of(g, envs)
        self.assertNotIn(None, steps, "an envelope of another key id")
        self.assertGreaterEqual(steps[-1] - steps[0], 3,
                                "four epochs should give four steps")

        # No .grant kept; the chain file opens with alice's local key.
        cid = channel_id(self.public("sam").pk, "status")
        self.assertFalse(os.path.exists(
            os.path.join(stolen, "grants", cid + ".grant")))
        chain_path = os.path.join(stolen, "grants", cid + ".chain")
        self.assertTrue(os.path.exists(chain_path), files_under(stolen))
        lk = local_key(alice_id.seed)
        with open(chain_path, "rb") as fh:
            opened = open_local(fh.read(), lk)
        self.assertIsNotNone(opened, "the chain file does not open")
        self.assertEqual(opened[0], b"chain")
        payload = opened[1]
        lo = struct.unpack(">I", payload[:4])[0]
        k_lo = payload[4:36]
        # The keys of every step of alice's grant, from the grant's key.
        chain = [None] * g["step"] + [g["channel_key"]]
        for s in range(g["step"] + 1, steps[-1] + 2):
            chain.append(chain_next(chain[-1]))
        self.assertEqual(k_lo, chain[lo], "k_lo is not the chain key of lo")
        self.assertGreater(lo, g["step"], "the chain never moved at rest")
        self.assertGreaterEqual(lo, lowest_held(g, t_copy) - 1,
                                "the file lags more than one epoch")
        erased = {}
        for s in range(g["step"], lo):
            erased["chain key %d" % s] = chain[s]
            erased["message key %d" % s] = message_key(chain[s])

        # Every file of the copy, raw and opened.
        blobs = []
        for path in files_under(stolen):
            with open(path, "rb") as fh:
                raw = fh.read()
            blobs.append((path, raw))
            if raw[:8] == LOCAL_MAGIC:
                o = open_local(raw, lk)
                self.assertIsNotNone(o, "%s does not open with alice's "
                                     "local key" % path)
                blobs.append((path + " (opened)", o[1]))
        for path, data in blobs:
            for what, key in erased.items():
                self.assertFalse(key in data, "%s holds the erased %s"
                                 % (path, what))

        # What the copy opens (without the replay state a thief deletes).
        for f in ("replay", "replay.journal"):
            p = os.path.join(stolen, "state", f)
            if os.path.exists(p):
                os.unlink(p)
        t0 = now_ms()
        got = self.fs_open(stolen, envs)
        lo_before, lo_after = lowest_held(g, t0), lowest_held(g, now_ms())
        n_ok = n_exp = 0
        for s, m, r in zip(steps, sent, got):
            if s < lo_before:
                self.assertEqual(r, "key_expired", "step %d (lo %d)"
                                 % (s, lo_before))
                n_exp += 1
            elif s >= lo_after:
                self.assertEqual(r, "ok " + m.encode().hex(),
                                 "step %d (lo %d)" % (s, lo_after))
                n_ok += 1
            else:
                self.assertIn(r.split(" ")[0], ("ok", "key_expired"))
        self.assertGreater(n_exp, 0, got)
        self.assertGreater(n_ok, 0, got)

    # -- b and c: a removed member, an added member ---------------------------

    def test_removed_and_added_members(self):
        """bob, revoked, cannot open what sam sends next (unknown_key);
        alice can. carol, added later, opens what is sent after and
        nothing captured before."""
        out, g = self.ratchet_world("1s")
        cap = self.paho(subscribe="status", client_id="fs-capture")
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="alice-1")
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p", "-d",
                       client_id="bob-1")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "before")
        self.assertTrue(alice.wait_out(1) and bob.wait_out(1),
                        "alice %s bob %s" % (alice.text(), bob.text()))
        before = [m[1] for m in self.capture(cap, 1)]

        rev = self.out_dir("revoke")
        self.keys("channel", "revoke", "--keyring", self.kdir("sam"),
                  "--topic", "status", "bob", "--out", rev)
        self.assertFalse(os.path.exists(self.grant(rev, "bob")))
        self.import_("alice", self.grant(rev, "alice"))
        g2 = open_grant3(self.grant(rev, "alice"), self.identity("alice"),
                         self.public("sam").pk)
        self.assertNotEqual(g2["key_id"], g["key_id"])
        self.assertEqual(g2["epoch"], g["epoch"] + 1)
        self.assertEqual(alice.stop(), 0, alice.text())
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="alice-2")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "after revoke")
        ok = alice.wait_out(1) and bob.wait_drops(1)
        self.assertTrue(ok, "alice %s bob %s" % (alice.text(), bob.text()))
        after_revoke = [m[1] for m in self.capture(cap, 1)]
        self.assertEqual(alice.out, ["after revoke"])
        self.assertEqual(bob.out, ["before"])
        self.assertEqual(bob.drops(), [("status", "unknown_key")])
        # Bob's keyring, whatever he does with it, opens none of it.
        self.assertEqual(self.fs_open(self.stolen_copy("bob", "bob-copy"),
                                      after_revoke), ["unknown_key"])
        self.assertEqual(bob.stop(), 0, bob.text())

        add = self.out_dir("add")
        self.keys("channel", "add", "--keyring", self.kdir("sam"),
                  "--topic", "status", "--subscriber", self.pubfile("carol"),
                  "--out", add)
        self.import_("carol", self.pubfile("sam"), self.grant(add, "carol"))
        self.import_("alice", self.grant(add, "alice"))
        self.assertEqual(alice.stop(), 0, alice.text())
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="alice-3")
        carol = self.sub("carol", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="carol-1", user="eve")
        self.epub("sam", "-t", "status", "-q", "1", "-m", "after add")
        ok = alice.wait_out(1) and carol.wait_out(1)
        self.assertTrue(ok, "alice %s carol %s"
                        % (alice.text(), carol.text()))
        after_add = [m[1] for m in self.capture(cap, 1)]
        self.assertEqual(carol.out, ["after add"])
        self.assertEqual(alice.out, ["after add"])
        self.assertEqual(carol.stop(), 0, carol.text())
        self.assertEqual(alice.stop(), 0, alice.text())
        got = self.fs_open(self.stolen_copy("carol", "carol-copy"),
                           before + after_revoke + after_add)
        self.assertEqual(got[:2], ["unknown_key", "unknown_key"])
        self.assertEqual(got[2], "ok " + b"after add".hex())

    # -- d. an offline publisher's outbox across epochs ------------------------

    def test_offline_outbox_across_epochs(self):
        """The broker away for more than an epoch and its grace while sam
        queues in his outbox: each message arrives and opens at alice, or
        is set aside in the outbox (quarantine 'key-erased') and said by
        secmq-pub (exit 1); the two counts make every message, and alice
        refuses none."""
        # Epochs of 3 s (scaled): under load a secmq-pub run can take half
        # a second, and the last epoch must see a message queued, the
        # broker back and the outbox drained.
        out, g = self.ratchet_world("0", subscribers=("alice",),
                                    period_s=3 * TIMEOUT_SCALE)
        db = os.path.join(self.broker.dir, "sam-outbox.db")
        p = g["period_ms"]
        # Start at the beginning of an epoch, queue through two more and
        # into the third: half a second of it, and at least one message
        # queued wholly inside it (bounded by half the epoch).
        self.wait_step_offset(g, 100)
        first = step_at(g["created_ms"], p, now_ms())
        self.broker.stop()
        sent = []
        in_last = 0
        stop_at = g["created_ms"] + (first + 2) * p + 500
        give_up = g["created_ms"] + (first + 2) * p + p // 2
        while len(sent) < 200 and now_ms() < give_up and \
                (now_ms() < stop_at or in_last == 0):
            msg = "q%03d" % len(sent)
            before = step_at(g["created_ms"], p, now_ms())
            r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                              ["--outbox", db, "-t", "status", "-q", "1",
                               "-m", msg])
            self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
            sent.append(msg)
            in_last += before == first + 2
            time.sleep(0.2)
        last = step_at(g["created_ms"], p, now_ms())
        self.assertEqual(last, first + 2, "queueing overran its epoch")
        # Back in the middle of the last epoch: the earlier ones erased (no
        # grace), the last one held for another second.
        self.broker.start()
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="alice-d")
        target = g["created_ms"] + last * p + p // 2
        if now_ms() < target:
            time.sleep((target - now_ms()) / 1000.0)
        self.assertEqual(step_at(g["created_ms"], p, now_ms()), last,
                         "the broker came back too late")
        sent.append("drain")
        r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                          ["--outbox", db, "-t", "status", "-q", "1",
                           "-m", "drain"])
        db_conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            aside = db_conn.execute(
                "SELECT count(*) FROM quarantine WHERE reason = "
                "'key-erased'").fetchone()[0]
            left = db_conn.execute(
                "SELECT count(*) FROM outbox WHERE id NOT IN "
                "(SELECT id FROM quarantine)").fetchone()[0]
        finally:
            db_conn.close()
        self.assertEqual(left, 0, r.stderr)
        self.assertGreater(aside, 0, "nothing was set aside: %s" % r.stderr)
        self.assertEqual(r.returncode, 1, r.stderr)
        said = [ln for ln in r.stderr.splitlines()
                if re.search(r"message \d+ was sealed under an erased "
                             r"key \(an epoch", ln)]
        self.assertEqual(len(said), aside, r.stderr)
        self.assertIn("%d message(s) were sealed under keys erased" % aside,
                      r.stderr)
        arrived = len(sent) - aside
        self.assertTrue(alice.wait_out(arrived, timeout=10), alice.text())
        time.sleep(0.3)
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(len(alice.out), arrived, alice.text())
        self.assertGreater(arrived, 1, alice.text())
        self.assertEqual(alice.drops(), [])
        self.assertEqual(alice.counts().get("ok"), arrived, alice.text())
        # What arrived is the newest part, in order: the set-aside rows
        # are the oldest (erased epochs).
        self.assertEqual(alice.out, sent[aside:])

    def test_offline_outbox_static_key_past_grace(self):
        """A channel without epochs, rotated with --grace 1 while sam's
        rows wait in his outbox: once the previous key's grace is over
        they are set aside too (receivers would refuse them as
        key_expired), and what sam sends next arrives."""
        self.make_world()
        db = os.path.join(self.broker.dir, "sam-outbox.db")
        self.broker.stop()
        for msg in ("old-1", "old-2"):
            r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                              ["--outbox", db, "-t", "status", "-q", "1",
                               "-m", msg])
            self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        rot = self.out_dir("rotate")
        self.keys("channel", "rotate", "--keyring", self.kdir("sam"),
                  "--topic", "status", "--out", rot, "--grace", "1")
        self.import_("alice", self.grant(rot, "alice"))
        time.sleep(1.5)
        self.broker.start()
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%p",
                         "-d", client_id="alice-static")
        r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                          ["--outbox", db, "-t", "status", "-q", "1",
                           "-m", "new"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("2 message(s) were sealed under keys erased",
                      r.stderr)
        self.assertTrue(alice.wait_out(1), alice.text())
        time.sleep(0.3)
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(alice.out, ["new"])
        self.assertEqual(alice.drops(), [])
        # The next run sends nothing of them and only warns.
        r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                          ["--outbox", db, "-t", "status", "-q", "1",
                           "-m", "newer"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 message(s) sealed under erased keys, set aside by "
                      "an earlier run", r.stderr)

    def test_offline_outbox_across_identity_rotation(self):
        """sam queues rows offline, then rotates his identity key
        (`secmq-keys identity rotate`, default grace): alice takes the
        successor statement and her new grant; the rows, signed with
        sam's old key under the old channel key, still go out and open at
        alice as from sam (PROTOCOL.md §4.2 step 5, §5.3 "Successions"),
        in order, before what sam signs with the new key."""
        self.make_world()
        db = os.path.join(self.broker.dir, "sam-outbox.db")
        self.broker.stop()
        for msg in ("before-1", "before-2"):
            r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                              ["--outbox", db, "-t", "status", "-q", "1",
                               "-m", msg])
            self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        rot = self.out_dir("identity")
        self.keys("identity", "rotate", "--keyring", self.kdir("sam"),
                  "--out", rot)
        grants = glob.glob(os.path.join(rot, "*", "alice.grant"))
        self.assertEqual(len(grants), 1, grants)
        self.import_("alice", os.path.join(rot, "sam.successor"), grants[0])
        self.broker.start()
        alice = self.sub("alice", "-t", "status", "-q", "1", "-F", "%S %p",
                         "-d", client_id="alice-rotated")
        r = self.run_tool("secmq-pub", self.e2e_conn("sam") +
                          ["--outbox", db, "-t", "status", "-q", "1",
                           "-m", "after"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(alice.wait_out(3), alice.text())
        time.sleep(0.3)
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(alice.out, ["sam before-1", "sam before-2",
                                     "sam after"])
        self.assertEqual(alice.drops(), [])


if __name__ == "__main__":
    unittest.main()
