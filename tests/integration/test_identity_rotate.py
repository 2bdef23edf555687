#!/usr/bin/python3
"""test_identity_rotate.py -- an identity replacing its key pair
(`secmq-keys identity rotate`, successor statements, PROTOCOL.md §2.3 and
§5.3) end to end: a broker with TLS and the secmq_auth.so plugin, keyrings
made and changed by secmq-keys, messages sent by secmq-pub and opened by
secmq-sub, files and statements read from the page with python3-nacl.

The world: sam owns `status` (sam and bob publish, alice subscribes),
bob owns `cmd` (bob publishes, sam subscribes) and `ack` (sam publishes,
bob subscribes); alice trusts sam and bob, bob trusts sam, sam trusts bob.
A copy of sam's keyring taken before the rotation is the thief's.

- Rotation and a peer: the tool's files, nothing of the old secret key
  left on sam's disk (a hard link to the old identity file reads zeros),
  every local file sealed with the new key; alice imports sam.successor
  and her new grant in one call and opens sam's new messages; envelopes
  sealed under the old channel key before the rotation (bob's, and sam's
  with its old key), which alice never received, still open within the
  grace, and so does the thief's (the window PROTOCOL.md §5.3 warns of).
- A key that may be stolen, rotated with `--grace 0`: nothing under the
  old channel key opens at alice (key_expired), the thief's messages
  included; sam's new ones do; a new grant the thief signs with the old
  key is refused.
- Statements refused: forged, tampered, for an untrusted key, naming
  alice's own key, under another name, and a second successor (the
  thief's own rotation) for sam's old key; each changes nothing.
- sam as a member: bob's channel still opens for sam after the rotation;
  sam may not publish on bob's `ack` until bob imports the statement and
  rotates; then both channels work under sam's new key.
- Both sides of a channel with epochs rotate: the member's chain goes
  over to its new keyring; the owner, having imported the member's
  statement, issues the fresh chain's grant to the member's new key.
- An interrupted rotation: a half-built new keyring beside the old one
  (DIR.rotating) refuses the keyring until `identity rotate` runs again
  and erases it; a rotation stopped after the exchange (its statement not
  written) finishes with the same new key when run again; one refused
  before the exchange leaves the keyring as it was.
- A keyring in use (secmq-sub receiving, secmq-pub publishing) is not
  rotated; once free it is, and its replay state goes along (what alice
  opened before is still a replay).

Every wait is bounded; only loopback. Run with /usr/bin/python3.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

import nacl.bindings as nb
from nacl.exceptions import CryptoError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
from test_plugin_common import PluginTestCase  # noqa: E402
from keys import (E2ETestCase, Envelope, GRANT_MAGIC,  # noqa: E402
                  channel_id, kdf_derive, now_ms, open_grant,
                  read_public_identity)
from successor import (b64, make_successor, new_keypair,  # noqa: E402
                       read_successor)
from testcase import TIMEOUT_SCALE  # noqa: E402

WAIT_S = 10.0 * TIMEOUT_SCALE
LOCAL_MAGIC = b"SECMQLF1"
LOCAL_KINDS = (b"owned", b"seq", b"replay", b"chain")

# --------------------------------------------------------------------------
# Keyring files (PROTOCOL.md §5, §5.3)
# --------------------------------------------------------------------------

def files_under(top):
    out = []
    for d, _, names in os.walk(top):
        out += [os.path.join(d, n) for n in names]
    return sorted(out)


def snapshot(top, skip=("lock",)):
    """{relative path: (mode, bytes)} of every file under top, and every
    directory (content None), but the names in skip."""
    snap = {}
    for d, dirs, names in os.walk(top):
        for n in dirs:
            p = os.path.join(d, n)
            snap[os.path.relpath(p, top) + "/"] = (os.stat(p).st_mode, None)
        for n in names:
            if n in skip:
                continue
            p = os.path.join(d, n)
            with open(p, "rb") as fh:
                snap[os.path.relpath(p, top)] = (os.stat(p).st_mode,
                                                 fh.read())
    return snap


def local_key(seed):
    """k = crypto_kdf_derive_from_key(32, 1, "secmqkr1", ed25519_seed)."""
    return kdf_derive(32, 1, b"secmqkr1", seed)


def opens_local(raw, k):
    """True when raw is a local sealed file that opens under k."""
    nonce, ct = raw[8:32], raw[32:]
    for kind in LOCAL_KINDS:
        try:
            nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ct, LOCAL_MAGIC + kind, nonce, k)
            return True
        except (CryptoError, ValueError):
            continue
    return False


def open_grant_body(path, member):
    """The body of a grant addressed (outer id, sealed box) to member, an
    Identity with its secret key; (owner_pk, member_pk)."""
    with open(path, "rb") as fh:
        grant = fh.read()
    if grant[:8] != GRANT_MAGIC or grant[8:16] != member.id:
        raise ValueError("%s is not addressed to %s's key %s"
                         % (path, member.name, member.id.hex()))
    body = nb.crypto_box_seal_open(grant[16:], member.x_pk, member.x_sk)
    return body[8:40], body[40:72]


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------

class RotateTestCase(E2ETestCase, PluginTestCase):
    """E2ETestCase (keyrings) over PluginTestCase (the plugin's broker)."""

    def setUp(self):
        super().setUp()
        for n in ("sam", "alice", "bob", "eve"):
            self.make_identity(n)
        self.outs = {
            "status": self.create_channel("status", owner="sam",
                                          publishers=("sam", "bob"),
                                          subscribers=("alice",)),
            "cmd": self.create_channel("cmd", owner="bob",
                                       publishers=("bob",),
                                       subscribers=("sam",)),
            "ack": self.create_channel("ack", owner="bob",
                                       publishers=("sam",),
                                       subscribers=("bob",)),
        }
        self.import_("alice", self.pubfile("sam"), self.pubfile("bob"),
                     self.grant(self.outs["status"], "alice"))
        self.import_("bob", self.pubfile("sam"),
                     self.grant(self.outs["status"], "bob"))
        self.import_("sam", self.pubfile("bob"),
                     self.grant(self.outs["cmd"], "sam"),
                     self.grant(self.outs["ack"], "sam"))
        # bob logs in as alice (keys.MQTT_USER).
        for rule in (("alice", "status", "write"),
                     ("alice", "cmd", "write"), ("sam", "cmd", "read"),
                     ("sam", "ack", "write"), ("alice", "ack", "read")):
            self.acl_add("--user", *rule)
        self.old_sam = self.identity("sam")

    # -- helpers --------------------------------------------------------------

    def rotate(self, who, out, *extra, ok=True):
        return self.keys("identity", "rotate", "--keyring", self.kdir(who),
                         "--out", out, *extra, ok=ok)

    def refused(self, r, pattern, what):
        """secmq-keys refused (exit 1) with a reason matching pattern."""
        self.assertEqual(r.returncode, 1, "%s: want exit 1, got %d: %r %r"
                         % (what, r.returncode, r.stdout, r.stderr))
        self.assertRegex(r.stderr, re.compile(pattern, re.I),
                         "%s: the reason does not say why" % what)

    def opened(self, live, send, want, what):
        """After send(), live (secmq-sub -F '%S %p') prints want as its
        next line."""
        with live.cond:
            n = len(live.out) + 1
        send()
        self.assertTrue(live.wait_out(n, timeout=WAIT_S),
                        "%s: nothing printed: %s" % (what, live.text()))
        self.assertEqual(live.out[n - 1], want, what)

    def send_and_open(self, live, who, topic, text, keyring=None):
        self.opened(live, lambda: self.epub(who, "-t", topic, "-q", "1",
                                            "-m", text, keyring=keyring),
                    "%s %s" % (who, text), "%r on %s" % (text, topic))

    def watch(self, who, topic, cid):
        return self.sub(who, "-t", topic, "-q", "1", "-F", "%S %p", "-d",
                        client_id=cid, timeout=WAIT_S)

    def check_out_dir(self, out, old, members=("alice", "bob", "sam")):
        """The files of sam's rotation in out: the statement (checked from
        §2.3), the new public file, and in <new channel id>/ a grant per
        member of `status`."""
        s = read_successor(os.path.join(out, "sam.successor"))
        new = read_public_identity(os.path.join(out, "sam.pub"))
        self.assertEqual((s.name, s.old_pk, s.new_pk),
                         ("sam", old.pk, new.pk))
        self.assertLessEqual(abs(s.created_ms - now_ms()), 600000)
        cid = channel_id(s.new_pk, "status")
        self.assertEqual(sorted(os.listdir(out)),
                         sorted(["sam.successor", "sam.pub", cid]))
        self.assertEqual(sorted(os.listdir(os.path.join(out, cid))),
                         sorted(m + ".grant" for m in members))
        return s

    def status_grant(self, out, s, member):
        """member's grant of `status` from the rotation s wrote to out."""
        return os.path.join(out, channel_id(s.new_pk, "status"),
                            member + ".grant")

    # -- a-e ------------------------------------------------------------------

    def assert_listed(self, kdir, new_sam, tail):
        """secmq-keys list names the succession old sam -> new sam once,
        with its date, marked as its own only in sam's keyring."""
        out = self.keys("list", "--keyring", kdir).stdout
        self.assertIn("\nsuccessions: 1\n", out)
        line = re.search(r"^  sam  id %s -> id %s  made "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(.*)$"
                         % (self.old_sam.id.hex(), new_sam.id.hex()), out,
                         re.M)
        self.assertIsNotNone(line, out)
        self.assertEqual(line.group(1), tail, out)

    def test_rotation_seen_by_a_peer(self):
        status_out = self.outs["status"]
        g_old = open_grant(self.grant(status_out, "alice"),
                           self.identity("alice"), self.old_sam.pk)
        alice = self.watch("alice", "status", "alice-1")
        self.send_and_open(alice, "sam", "status", "before")
        self.assertEqual(alice.stop(), 0, alice.text())

        # Envelopes alice never receives (QoS 0 to a raw subscriber), one
        # from each publisher, under the old channel key.
        cap = self.paho(user="alice", client_id="capture",
                        subscribe="status")
        in_flight = {}
        for who in ("sam", "bob"):
            self.epub(who, "-t", "status", "-q", "0", "-m", "in flight")
            [(_, in_flight[who])] = self.capture(cap, timeout=WAIT_S)
            e = Envelope(in_flight[who])
            self.assertEqual((e.key_id, e.sender_id),
                             (g_old["key_id"], self.identity(who).id))

        thief = self.copy_keyring("sam", "sam-thief")
        kept = os.path.join(self.keys_dir, "old-identity.link")
        os.link(os.path.join(self.kdir("sam"), "identity"), kept)
        old_len = os.path.getsize(kept)

        out = self.out_dir("rotate")
        self.rotate("sam", out)
        s = self.check_out_dir(out, self.old_sam)
        new_sam = self.identity("sam")
        self.assertEqual(new_sam.pk, s.new_pk)
        self.assertEqual(new_sam.name, "sam")
        self.assertFalse(os.path.exists(os.path.join(self.kdir("sam"),
                                                     "state", "rotated")))
        self.assertFalse(os.path.exists(self.kdir("sam") + ".rotating"))
        # The old identity file's bytes were overwritten, not unlinked.
        with open(kept, "rb") as fh:
            self.assertEqual(fh.read(), bytes(old_len),
                             "the old identity file still holds its bytes")
        self.assert_no_old_secret(self.kdir("sam"), self.old_sam)
        self.assert_resealed(self.kdir("sam"), self.old_sam, new_sam)
        self.assert_same_file(os.path.join(self.kdir("sam"), "successions",
                                           self.old_sam.id.hex() +
                                           ".successor"),
                              os.path.join(out, "sam.successor"))
        exported = self.keys("export", "--keyring", self.kdir("sam")).stdout
        with open(os.path.join(out, "sam.pub")) as fh:
            self.assertEqual(exported, fh.read())
        self.assert_listed(self.kdir("sam"), new_sam, "  (this identity)")
        owned = os.listdir(os.path.join(self.kdir("sam"), "owned"))
        self.assertEqual(owned,
                         [channel_id(new_sam.pk, "status") + ".chan"])

        # The new grants: owner and only publisher the new key, epoch + 1,
        # the old key as previous.
        g = open_grant(self.status_grant(out, s, "alice"),
                       self.identity("alice"), new_sam.pk)
        self.assertEqual((g["filter"], g["epoch"], g["prev_key_id"]),
                         ("status", g_old["epoch"] + 1, g_old["key_id"]))
        self.assertEqual(sorted(g["publishers"]),
                         sorted([new_sam.pk, self.identity("bob").pk]))
        self.assertGreater(g["grace_ms"], now_ms())
        open_grant(self.status_grant(out, s, "sam"), new_sam, new_sam.pk)

        # d. alice: the statement and the grant in one call.
        before = snapshot(self.kdir("alice"))
        self.import_("alice", os.path.join(out, "sam.successor"),
                     self.status_grant(out, s, "alice"))
        self.assertNotEqual(snapshot(self.kdir("alice")), before)
        peer = read_public_identity(os.path.join(self.kdir("alice"),
                                                 "peers", "sam.pub"))
        self.assertEqual(peer.pk, new_sam.pk)
        self.assert_same_file(os.path.join(self.kdir("alice"), "successions",
                                           self.old_sam.id.hex() +
                                           ".successor"),
                              os.path.join(out, "sam.successor"))
        grants = os.listdir(os.path.join(self.kdir("alice"), "grants"))
        self.assertIn(channel_id(new_sam.pk, "status") + ".grant", grants)
        self.assertNotIn(channel_id(self.old_sam.pk, "status") + ".grant",
                         grants)
        self.assert_listed(self.kdir("alice"), new_sam, "")

        alice = self.watch("alice", "status", "alice-2")
        self.send_and_open(alice, "sam", "status", "after")
        # Within the grace the old channel key still opens what was sealed
        # under it just before the rotation: bob's, and sam's signed with
        # the old key (a predecessor of a listed publisher: from sam).
        replayer = self.paho(user="sam", client_id="replayer")
        for who in ("bob", "sam"):
            self.opened(alice, lambda: replayer.publish(
                "status", in_flight[who], qos=1), who + " in flight",
                "%s's envelope under the old channel key" % who)

        # e. The thief's copy seals under the old channel key with sam's
        # old key: during the grace that opens too, as from sam (the
        # window PROTOCOL.md §5.3 warns of; test_stolen_key_no_grace is
        # the rotation for a key that may be stolen).
        self.send_and_open(alice, "sam", "status", "from the thief",
                           keyring=thief)
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(alice.out, ["sam after", "bob in flight",
                                     "sam in flight", "sam from the thief"])
        self.assertEqual(alice.drops(), [])
        # What alice's raw subscriber saw meanwhile: sam's (new key, new
        # channel), the two replayed envelopes, the thief's (old key, old
        # channel key).
        got = [Envelope(m[1]) for m in self.capture(cap, 4, timeout=WAIT_S)]
        self.assertEqual([got[1].raw, got[2].raw],
                         [in_flight["bob"], in_flight["sam"]])
        self.assertEqual((got[0].sender_id, got[0].key_id),
                         (new_sam.id, g["key_id"]))
        self.assertEqual((got[3].sender_id, got[3].key_id),
                         (self.old_sam.id, g_old["key_id"]))

    def test_stolen_key_no_grace(self):
        """sam's device may be stolen: `identity rotate --grace 0`. Once
        alice has imported the statement and her grant, nothing under the
        old channel key opens: neither the thief's messages nor sam's own
        sent before the rotation (key_expired); sam's new ones do."""
        cap = self.paho(user="alice", client_id="capture",
                        subscribe="status")
        self.epub("sam", "-t", "status", "-q", "0", "-m", "in flight")
        [(_, in_flight)] = self.capture(cap, timeout=WAIT_S)
        thief = self.copy_keyring("sam", "sam-thief")
        out = self.out_dir("rotate")
        self.rotate("sam", out, "--grace", "0")
        s = self.check_out_dir(out, self.old_sam)
        g = open_grant(self.status_grant(out, s, "alice"),
                       self.identity("alice"), s.new_pk)
        self.assertEqual(g["grace_ms"], 0)
        self.assertEqual(g["prev_key_id"], Envelope(in_flight).key_id)
        self.import_("alice", os.path.join(out, "sam.successor"),
                     self.status_grant(out, s, "alice"))

        alice = self.watch("alice", "status", "alice-nograce")
        self.epub("sam", "-i", "thief", "-t", "status", "-q", "1", "-m",
                  "from the thief", keyring=thief)
        self.assertTrue(alice.wait_drops(1, timeout=WAIT_S),
                        "the thief's message was not refused: %s"
                        % alice.text())
        replayer = self.paho(user="sam", client_id="replayer")
        replayer.publish("status", in_flight, qos=1)
        self.assertTrue(alice.wait_drops(2, timeout=WAIT_S),
                        "sam's old envelope was not refused: %s"
                        % alice.text())
        self.send_and_open(alice, "sam", "status", "new key")
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(alice.out, ["sam new key"])
        self.assertEqual(alice.drops(), [("status", "key_expired")] * 2)

        # Nor can the thief hand alice a new key of its own: a new grant
        # signed by the old key is refused.
        tout = self.out_dir("thief-rotate")
        self.keys("channel", "rotate", "--keyring", thief, "--topic",
                  "status", "--out", tout)
        before = snapshot(self.kdir("alice"))
        r = self.keys("import", "--keyring", self.kdir("alice"),
                      self.grant(tout, "alice"), ok=False)
        self.refused(r, r"succeeded|replaced",
                     "a new grant from sam's old key")
        self.assertEqual(snapshot(self.kdir("alice")), before)

    def assert_same_file(self, a, b):
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read(), "%s is not %s" % (a, b))

    def assert_no_old_secret(self, top, old):
        secrets = {"the old seed": old.seed,
                   "the old seed in base64": b64(old.seed),
                   "the old seed in base64, unpadded": b64(old.seed)[:43],
                   "the old secret key": old.sk,
                   "the old secret key in base64": b64(old.sk),
                   "the old local key": local_key(old.seed)}
        for path in files_under(top):
            with open(path, "rb") as fh:
                data = fh.read()
            for what, secret in secrets.items():
                self.assertNotIn(secret, data, "%s holds %s" % (path, what))

    def assert_resealed(self, top, old, new):
        """Every local sealed file opens with the new local key, none with
        the old one; every held grant is addressed to the new key."""
        k_old, k_new = local_key(old.seed), local_key(new.seed)
        n = 0
        for path in files_under(top):
            with open(path, "rb") as fh:
                data = fh.read()
            if data[:8] == LOCAL_MAGIC:
                n += 1
                self.assertTrue(opens_local(data, k_new),
                                "%s is not sealed with the new key" % path)
                self.assertFalse(opens_local(data, k_old),
                                 "%s still opens with the old key" % path)
            if data[:8] == GRANT_MAGIC:
                self.assertEqual(data[8:16], new.id,
                                 "%s is not addressed to the new key" % path)
        self.assertGreater(n, 0, "no local sealed file under %s" % top)

    # -- f ------------------------------------------------------------------

    def test_statements_refused(self):
        out = self.out_dir("rotate")
        self.copy_keyring("sam", "sam-thief")
        self.rotate("sam", out)
        new_sam = self.identity("sam")
        good = os.path.join(out, "sam.successor")
        with open(good, "rb") as fh:
            text = fh.read()
        alice_id, bob_id = self.identity("alice"), self.identity("bob")
        old = self.old_sam

        def write(name, data):
            p = os.path.join(self.keys_dir, name)
            with open(p, "wb") as fh:
                fh.write(data)
            return p

        # A byte changed in each signed field (the base64 stays valid).
        lines = text.split(b"\n")
        tampered = []
        for i, what in ((2, "bad_signature"), (3, "bad_signature"),
                        (4, "bad_signature"), (5, "bad_signature"),
                        (6, "bad_proof")):
            ln = bytearray(lines[i])
            j = len(ln) - 10
            if i == 4:      # created-ms: another digit
                ln[j] = ord("0") + (ln[j] - ord("0") + 1) % 10
            else:           # base64: another letter
                ln[j] = ord("A") if ln[j] != ord("A") else ord("B")
            data = b"\n".join(lines[:i] + [bytes(ln)] + lines[i + 1:])
            with self.assertRaisesRegex(ValueError, what):
                read_successor(data)
            tampered.append(write("t%d.successor" % i, data))
        other_pk, other_sk = new_keypair()
        eve = self.identity("eve")
        cases = [
            ("a statement signed by eve's key claiming sam's old key",
             write("x1.successor",
                   make_successor("sam", eve.sk, other_sk, old_pk=old.pk)),
             r"signature|forged"),
        ] + [("a statement with one byte changed", p, r"signature|proof|"
              r"tampered|forged") for p in tampered] + [
            ("a statement for eve, whom alice does not trust",
             write("x2.successor", make_successor("eve", eve.sk, other_sk)),
             r"trust|peer"),
            ("sam's old key naming alice's own key",
             write("x3.successor", make_successor("sam", old.sk,
                                                  alice_id.sk)),
             r"."),
            ("sam's old key naming bob's key (a peer of alice's)",
             write("x4.successor", make_successor("sam", old.sk,
                                                  bob_id.sk)),
             r"bob|peer|already|another"),
            ("sam's old key under another name",
             write("x5.successor", make_successor("carol", old.sk,
                                                  other_sk)),
             r"name|carol|sam"),
        ]
        for n, (what, path, pattern) in enumerate(cases):
            before = snapshot(self.kdir("alice"))
            r = self.keys("import", "--keyring", self.kdir("alice"), path,
                          ok=False)
            self.refused(r, pattern, what)
            self.assertIn(os.path.basename(path), r.stderr,
                          "%s: the reason does not name the file" % what)
            self.assertEqual(snapshot(self.kdir("alice")), before,
                             "%s changed alice's keyring" % what)

        # The real statement, then the thief's own rotation of its copy:
        # two successors for sam's old key.
        self.import_("alice", good)
        self.assertEqual(read_public_identity(os.path.join(
            self.kdir("alice"), "peers", "sam.pub")).pk, new_sam.pk)
        out2 = self.out_dir("thief")
        self.rotate("sam-thief", out2)
        stolen = read_successor(os.path.join(out2, "sam.successor"))
        self.assertEqual(stolen.old_pk, old.pk)
        self.assertNotEqual(stolen.new_pk, new_sam.pk)
        before = snapshot(self.kdir("alice"))
        r = self.keys("import", "--keyring", self.kdir("alice"),
                      os.path.join(out2, "sam.successor"), ok=False)
        self.refused(r, r"two successors for 'sam'", "the thief's statement")
        self.assertRegex(r.stderr, r"conflicting|stolen")
        self.assertEqual(snapshot(self.kdir("alice")), before)
        # bob, who has accepted neither, takes whichever comes first; the
        # other is then the conflicting one.
        self.import_("bob", os.path.join(out2, "sam.successor"))
        r = self.keys("import", "--keyring", self.kdir("bob"), good, ok=False)
        self.refused(r, r"two successors for 'sam'", "sam's statement at bob")

    # -- g ------------------------------------------------------------------

    def test_member_of_another_owners_channel(self):
        sam = self.watch("sam", "cmd", "sam-cmd-1")
        self.send_and_open(sam, "bob", "cmd", "c1")
        self.assertEqual(sam.stop(), 0, sam.text())
        cmd_cid = channel_id(self.identity("bob").pk, "cmd")
        held = os.path.join(self.kdir("sam"), "grants", cmd_cid + ".grant")

        out = self.out_dir("rotate")
        self.rotate("sam", out)
        new_sam = self.identity("sam")
        # Re-sealed to the new key; the body (bob's signature) still names
        # the old one.
        owner, member = open_grant_body(held, new_sam)
        self.assertEqual((owner, member),
                         (self.identity("bob").pk, self.old_sam.pk))
        sam = self.watch("sam", "cmd", "sam-cmd-2")
        self.send_and_open(sam, "bob", "cmd", "c2")
        self.assertEqual(sam.stop(), 0, sam.text())
        # As a publisher on bob's `ack`: the grant names sam's old key.
        r = self.epub("sam", "-t", "ack", "-q", "1", "-m", "too early",
                      ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"the grant of (channel )?'ack'.* names "
                         r"this identity's previous key: the owner must "
                         r"import sam\.successor and rotate the channel")

        r = self.import_("bob", os.path.join(out, "sam.successor"))
        for topic in ("cmd", "ack"):
            word = re.compile(r"(?<![\w/])%s(?![\w/])" % topic)
            self.assertTrue([ln for ln in r.stdout.splitlines()
                             if word.search(ln) and "rotate" in ln],
                            "no note to rotate %s: %r" % (topic, r.stdout))
        self.assertEqual(read_public_identity(os.path.join(
            self.kdir("bob"), "peers", "sam.pub")).pk, new_sam.pk)
        grants = {}
        for topic in ("cmd", "ack"):
            grants[topic] = self.out_dir("rot-" + topic)
            self.keys("channel", "rotate", "--keyring", self.kdir("bob"),
                      "--topic", topic, "--out", grants[topic])
        self.import_("sam", self.grant(grants["cmd"], "sam"),
                     self.grant(grants["ack"], "sam"))
        g = open_grant(held, new_sam, self.identity("bob").pk)
        self.assertEqual(g["filter"], "cmd")
        g = open_grant(os.path.join(self.kdir("sam"), "grants",
                                    channel_id(self.identity("bob").pk,
                                               "ack") + ".grant"),
                       new_sam, self.identity("bob").pk)
        self.assertEqual(g["publishers"], [new_sam.pk])

        sam = self.watch("sam", "cmd", "sam-cmd-3")
        self.send_and_open(sam, "bob", "cmd", "c3")
        self.assertEqual(sam.stop(), 0, sam.text())
        self.assertEqual(sam.drops(), [])
        bob = self.watch("bob", "ack", "bob-ack")
        self.send_and_open(bob, "sam", "ack", "done")
        self.assertEqual(bob.stop(), 0, bob.text())

    def test_both_sides_rotate_a_channel_with_epochs(self):
        """sam owns `tele` with epochs (1 h), alice subscribes. alice
        rotates first: her chain goes over to her new keyring and still
        opens. sam imports alice's statement, then rotates: the fresh
        chain's grant is issued to alice's new key, and alice opens what
        sam sends under it once she has imported sam's statement."""
        self.acl_add("--user", "sam", "tele", "write")
        self.acl_add("--user", "alice", "tele", "read")
        tele = self.create_channel("tele", owner="sam", publishers=("sam",),
                                   subscribers=("alice",), epoch="1h")
        self.import_("alice", self.grant(tele, "alice"))
        old_alice = self.identity("alice")
        aout = self.out_dir("alice-rotate")
        self.rotate("alice", aout)
        new_alice = self.identity("alice")
        self.assertNotEqual(new_alice.pk, old_alice.pk)
        self.assert_no_old_secret(self.kdir("alice"), old_alice)
        self.assert_resealed(self.kdir("alice"), old_alice, new_alice)
        alice = self.watch("alice", "tele", "alice-tele-1")
        self.send_and_open(alice, "sam", "tele", "epoch chain kept")
        self.assertEqual(alice.stop(), 0, alice.text())

        r = self.import_("sam", os.path.join(aout, "alice.successor"))
        self.assertRegex(r.stdout, r"(?<![\w/])tele(?![\w/])")
        sout = self.out_dir("sam-rotate")
        self.rotate("sam", sout)
        new_sam = self.identity("sam")
        cid = channel_id(new_sam.pk, "tele")
        self.assertEqual(sorted(os.listdir(os.path.join(sout, cid))),
                         ["alice.grant", "sam.grant"])
        grant = os.path.join(sout, cid, "alice.grant")
        owner, member = open_grant_body(grant, new_alice)
        self.assertEqual((owner, member), (new_sam.pk, new_alice.pk))
        self.import_("alice", os.path.join(sout, "sam.successor"), grant)
        alice = self.watch("alice", "tele", "alice-tele-2")
        self.send_and_open(alice, "sam", "tele", "fresh chain")
        self.assertEqual(alice.stop(), 0, alice.text())

    # -- h ------------------------------------------------------------------

    def assert_open_refused(self, who):
        r = self.keys("list", "--keyring", self.kdir(who), ok=False)
        self.refused(r, r"secmq-keys identity rotate", "list while a "
                     "rotation is under way")
        r = self.epub(who, "-t", "status", "-q", "1", "-m", "x", ok=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("secmq-keys identity rotate", r.stderr)

    def test_interrupted_rotation_finishes(self):
        sam_dir = self.kdir("sam")
        # 1. Stopped while the new keyring was being built beside the old
        # one (DIR.rotating): refused at open until the rotation is run
        # again, which erases the half-built tree and its secret.
        stage = sam_dir + ".rotating"
        os.mkdir(stage, 0o700)
        _, sk = new_keypair()
        fd = os.open(os.path.join(stage, "identity"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"secmq-identity 1\nname: sam\ned25519-seed: " +
                     b64(sk[:32]) + b"\n")
        kept = os.path.join(self.keys_dir, "staged-identity.link")
        os.link(os.path.join(stage, "identity"), kept)
        self.assert_open_refused("sam")
        outs = [self.out_dir("again")]
        out = outs[-1]
        self.rotate("sam", out)
        self.assertFalse(os.path.exists(stage))
        with open(kept, "rb") as fh:
            staged = fh.read()
        self.assertEqual(staged, bytes(len(staged)),
                         "the half-built keyring's identity was not erased")
        s = self.check_out_dir(out, self.old_sam)
        second = self.identity("sam")
        self.assertEqual(second.pk, s.new_pk)
        self.assert_no_old_secret(sam_dir, self.old_sam)

        # 2. Stopped after the exchange, before the files for the peers
        # were written (NAME.successor cannot be): the keyring already has
        # the new key and nothing of the old one; run again, it writes the
        # statement for that same key.
        outs.append(self.out_dir("late"))
        out = outs[-1]
        os.makedirs(os.path.join(out, "sam.successor", "in-the-way"))
        r = self.rotate("sam", out, ok=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("sam.successor", r.stderr)
        third = self.identity("sam")
        self.assertNotEqual(third.pk, second.pk)
        self.assertFalse(os.path.exists(stage))
        self.assert_no_old_secret(sam_dir, second)
        shutil.rmtree(os.path.join(out, "sam.successor"))
        self.rotate("sam", out)
        s = self.check_out_dir(out, second)
        self.assertEqual((s.new_pk, self.identity("sam").pk),
                         (third.pk, third.pk), "not the same rotation")

        # 3. Refused before the exchange (the members' grants cannot be
        # written: OUT is a file): the keyring stays as it was, and rotates
        # afterwards.
        outs.append(self.out_dir("blocked"))
        out = outs[-1]
        with open(out, "w") as fh:
            fh.write("in the way\n")
        before = snapshot(sam_dir)
        r = self.rotate("sam", out, ok=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(out, r.stderr)
        self.assertFalse(os.path.exists(stage))
        self.assertEqual(snapshot(sam_dir), before)
        self.keys("list", "--keyring", sam_dir)
        os.unlink(out)
        self.rotate("sam", out)
        s = self.check_out_dir(out, third)
        self.assertEqual(self.identity("sam").pk, s.new_pk)

        # alice, who saw none of the three, takes the chain of statements
        # in one call, newest first (import follows the chain whatever the
        # order), with her newest grant.
        self.import_("alice", *[os.path.join(o, "sam.successor")
                                for o in reversed(outs)],
                     self.status_grant(out, s, "alice"))
        self.assertEqual(read_public_identity(os.path.join(
            self.kdir("alice"), "peers", "sam.pub")).pk, s.new_pk)
        alice = self.watch("alice", "status", "alice-chain")
        self.send_and_open(alice, "sam", "status", "three keys later")
        self.assertEqual(alice.stop(), 0, alice.text())

    # -- i ------------------------------------------------------------------

    def test_keyring_in_use_not_rotated(self):
        cap = self.paho(user="alice", client_id="capture",
                        subscribe="status")
        alice = self.watch("alice", "status", "alice-busy")
        self.send_and_open(alice, "sam", "status", "receiving")
        before = snapshot(self.kdir("alice"), skip=("lock", "replay",
                                                    "replay.journal",
                                                    "replay.lock"))
        out = self.out_dir("busy")
        r = self.rotate("alice", out, ok=False)
        self.refused(r, r"in use", "rotating alice's keyring while "
                     "secmq-sub receives with it")
        self.assertEqual(snapshot(self.kdir("alice"),
                                  skip=("lock", "replay", "replay.journal",
                                        "replay.lock")), before)
        self.assertFalse(os.path.exists(os.path.join(out, "alice.successor")))
        self.assertEqual(self.identity("alice").pk,
                         self.public("alice").pk)
        self.send_and_open(alice, "sam", "status", "still receiving")
        self.assertEqual(alice.stop(), 0, alice.text())

        # sam publishing: secmq-pub -l holds the keyring after a line.
        since = self.broker.log_size()
        pub = self.spawn("secmq-pub", self.e2e_conn("sam") +
                         ["-i", "sam-busy", "-t", "status", "-q", "1", "-l"],
                         stdin=subprocess.PIPE)
        pub.stdin.write(b"one\n")
        pub.stdin.flush()
        self.wait_log_or_exit(pub, r"Received PUBLISH from sam-busy", since,
                              timeout=WAIT_S)
        r = self.rotate("sam", self.out_dir("busy-sam"), ok=False)
        self.refused(r, r"in use", "rotating sam's keyring while secmq-pub "
                     "publishes with it")
        self.assertEqual(self.identity("sam").pk, self.old_sam.pk)
        pub.stdin.close()
        self.assertEqual(pub.wait(timeout=WAIT_S), 0)

        # Once they are done, both rotate.
        self.rotate("alice", out)
        self.assertNotEqual(self.identity("alice").pk,
                            self.public("alice").pk)
        # alice's replay state went over to the new keyring: what she
        # opened before is still refused as a replay.
        opened = [m[1] for m in self.capture(cap, 3, timeout=WAIT_S)]
        alice = self.watch("alice", "status", "alice-rotated")
        replayer = self.paho(user="sam", client_id="replayer")
        replayer.publish("status", opened[1], qos=1)
        self.assertTrue(alice.wait_drops(1, timeout=WAIT_S), alice.text())
        self.send_and_open(alice, "sam", "status", "alice rotated")
        self.assertEqual(alice.stop(), 0, alice.text())
        self.assertEqual(alice.drops(), [("status", "replay")])
        self.assertEqual(alice.out, ["sam alice rotated"])
        self.rotate("sam", self.out_dir("sam-free"))
        self.assertNotEqual(self.identity("sam").pk, self.old_sam.pk)


if __name__ == "__main__":
    unittest.main()
