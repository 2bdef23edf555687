#!/usr/bin/python3
"""test_keys_cli.py -- secmq-keys as a process: the key management flows
(init, export, channel create, import, rotate, revoke, list) and every
refusal it promises, each a one-line message and the right exit status.

No broker: keyrings live in a temp dir per test. What the keys then do on
the wire is tested by the C unit tests (tests/unit/test_keyring.c) and by
the tools' integration tests.
"""

import os
import re
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keys import (FLAG_PUBLISH, make_grant,  # noqa: E402
                  read_public_identity, read_secret_identity)
from keystool import KeysToolCase  # noqa: E402



class KeysCli(KeysToolCase):

    TMP_PREFIX = "secmq-keys-"

    def refused(self, *args, says):
        """A run that fails with exit 1 and one line naming the reason."""
        run = self.run_keys(*args, code=1)
        lines = run.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertTrue(lines[0].startswith("secmq-keys: "), lines[0])
        self.assertIn(says, lines[0])
        return lines[0]

    def usage(self, *args, says=None):
        run = self.run_keys(*args, code=2)
        self.assertIn("see --help", run.stderr)
        self.assertIn("usage: secmq-keys", run.stderr)
        if says:
            self.assertIn(says, run.stderr)

    def identity(self, name):
        kr = self.p(name)
        self.run_keys("init", "--keyring", kr, "--name", name)
        out = self.run_keys("export", "--keyring", kr).stdout
        with open(self.p(name + ".pub"), "w") as f:
            f.write(out)
        return kr

    def listing(self, name):
        return self.run_keys("list", "--keyring", self.p(name)).stdout

    def world(self):
        """sam owns 'status' (sam publishes; alice and bob subscribe)."""
        for n in ("sam", "alice", "bob", "eve"):
            self.identity(n)
        run = self.run_keys("channel", "create", "--keyring", self.p("sam"),
                            "--topic", "status",
                            "--publisher", self.p("sam.pub"),
                            "--subscriber", self.p("alice.pub"),
                            self.p("bob.pub"),
                            "--out", self.p("g1"))
        for n in ("sam", "alice", "bob"):
            self.assertIn(self.p("g1", n + ".grant"), run.stdout)
            self.assertTrue(os.path.exists(self.p("g1", n + ".grant")))
        # Grants and peers in any order in one call: peers go first.
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g1", "alice.grant"), self.p("sam.pub"))
        self.run_keys("import", "--keyring", self.p("bob"),
                      self.p("sam.pub"), self.p("g1", "bob.grant"))

    # -- help and usage -------------------------------------------------------

    def test_help_documents_everything(self):
        out = self.run_keys("--help").stdout
        for word in ("init", "export", "import", "channel create",
                     "channel rotate", "channel revoke", "list", "--keyring",
                     "--name", "--topic", "--publisher", "--subscriber",
                     "--out", "--allow-mac", "--grace", "--receipts",
                     "--receipt-topic", "--receipts-from", "--receipt-count",
                     "Exit status"):
            self.assertIn(word, out)
        self.assertEqual(self.run_keys("list", "--help").stdout, out)

    def test_usage_errors_exit_2(self):
        self.usage(says="no command")
        self.usage("frobnicate", says="unknown command 'frobnicate'")
        self.usage("list", "--keyring", self.dir, "--bogus",
                   says="unknown option '--bogus'")
        self.usage("list", says="--keyring DIR is required")
        self.usage("init", "--keyring", self.p("x"), says="--name")
        self.usage("channel", "twist", "--keyring", self.dir,
                   says="unknown channel command")
        self.usage("channel", "create", "--keyring", self.dir, "--topic",
                   "a", "--out", self.p("o"), says="--publisher")
        self.usage("channel", "rotate", "--keyring", self.dir, "--topic", "a",
                   "--out", self.p("o"), "--grace", "soon", says="--grace")
        self.usage("channel", "revoke", "--keyring", self.dir, "--topic", "a",
                   "--out", self.p("o"), says="NAME")
        self.usage("import", "--keyring", self.dir, says="FILE")
        self.usage("init", "--keyring", self.p("x"), "--name", "a/b",
                   says="invalid name")

    # -- identities -------------------------------------------------------------

    def test_init_and_export(self):
        kr = self.identity("sam")
        mode = stat.S_IMODE(os.stat(self.p("sam", "identity")).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(kr).st_mode), 0o700)
        with open(self.p("sam.pub")) as f:
            text = f.read()
        self.assertRegex(text, r"\Asecmq-public 1\nname: sam\n"
                               r"ed25519: [A-Za-z0-9+/]{43}=\n\Z")
        self.assertNotIn("seed", text)
        # Never overwritten.
        with open(self.p("sam", "identity"), "rb") as f:
            before = f.read()
        self.refused("init", "--keyring", kr, "--name", "sam",
                     says="exists already")
        with open(self.p("sam", "identity"), "rb") as f:
            self.assertEqual(f.read(), before)

    def test_identity_readable_by_others_refused(self):
        self.world()
        os.chmod(self.p("alice", "identity"), 0o644)
        line = self.refused("list", "--keyring", self.p("alice"),
                            says="readable or writable by group or others")
        self.assertIn(self.p("alice", "identity"), line)
        self.refused("export", "--keyring", self.p("alice"),
                     says=self.p("alice", "identity"))
        self.refused("import", "--keyring", self.p("alice"),
                     self.p("bob.pub"), says="0644")
        os.chmod(self.p("alice", "identity"), 0o600)
        self.listing("alice")

    def test_keyring_dir_open_to_others_refused(self):
        """SECURITY.md: the keyring directory is 0700; a wider one is
        refused by every command, naming the path, mode and fix."""
        self.world()
        kr = self.p("alice")
        for mode in (0o755, 0o750, 0o701):
            os.chmod(kr, mode)
            want = "%s: keyring directory is accessible by group or " \
                   "others (mode %04o); it must be 0700 (chmod 700 %s)" \
                   % (kr, mode, kr)
            self.assertIn(want, self.refused("list", "--keyring", kr,
                                             says="chmod 700"))
            self.refused("export", "--keyring", kr, says=want)
            self.refused("import", "--keyring", kr, self.p("bob.pub"),
                         says=want)
            self.refused("channel", "create", "--keyring", kr, "--topic",
                         "a", "--publisher", self.p("alice.pub"),
                         "--out", self.p("gx"), says=want)
        os.chmod(kr, 0o700)
        self.listing("alice")
        # init into a directory made with the usual umask: refused, and
        # no identity written into it.
        wide = self.p("wide")
        os.mkdir(wide)
        os.chmod(wide, 0o755)
        self.refused("init", "--keyring", wide, "--name", "w",
                     says="chmod 700 " + wide)
        self.assertFalse(os.path.exists(os.path.join(wide, "identity")))
        # A new keyring is 0700 even under umask 000.
        old = os.umask(0)
        try:
            self.run_keys("init", "--keyring", self.p("fresh"), "--name", "f")
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(self.p("fresh")).st_mode),
                         0o700)
        for sub in os.listdir(self.p("fresh")):
            m = stat.S_IMODE(os.stat(self.p("fresh", sub)).st_mode)
            self.assertEqual(m & 0o077, 0, "%s is %04o" % (sub, m))

    def test_no_keyring(self):
        self.refused("list", "--keyring", self.p("nowhere"),
                     says="no identity")
        self.refused("import", "--keyring", self.p("nowhere"),
                     self.p("x.pub"), says="no keyring")

    # -- the flows ----------------------------------------------------------------

    def test_create_import_list(self):
        self.world()
        sam = self.listing("sam")
        self.assertIn("identity: sam", sam)
        self.assertRegex(sam, r"alice  id [0-9a-f]{16}")
        self.assertIn("owner: sam (this keyring)", sam)
        self.assertIn("members: sam(pub) alice(sub) bob(sub)", sam)
        self.assertIn("may publish", sam)
        alice = self.listing("alice")
        self.assertRegex(alice, r"sam  id [0-9a-f]{16}")
        self.assertIn("  status\n", alice)
        self.assertRegex(alice, r"key: [0-9a-f]{16}  epoch 1 ")
        self.assertIn("publishers: sam", alice)
        self.assertIn("may subscribe only", alice)
        self.assertIn("previous key: none", alice)
        self.assertIn("mac-only: refused", alice)
        # The same key id on both sides.
        kid = re.search(r"key: ([0-9a-f]{16})", sam).group(1)
        self.assertIn("key: " + kid, alice)

    def test_rotate_and_revoke(self):
        self.world()
        old = re.search(r"key: ([0-9a-f]{16})",
                        self.listing("alice")).group(1)
        self.run_keys("channel", "rotate", "--keyring", self.p("sam"),
                      "--topic", "status", "--out", self.p("g2"),
                      "--grace", "600")
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g2", "alice.grant"))
        alice = self.listing("alice")
        self.assertRegex(alice, r"epoch 2 ")
        self.assertIn("previous key: %s  accepted until" % old, alice)
        self.assertNotIn("key: " + old + "  epoch", alice)
        # The epoch 1 grant now is older; the epoch 2 one a replay.
        self.refused("import", "--keyring", self.p("alice"),
                     self.p("g1", "alice.grant"), says="older or replayed")
        self.refused("import", "--keyring", self.p("alice"),
                     self.p("g2", "alice.grant"), says="older or replayed")

        run = self.run_keys("channel", "revoke", "--keyring", self.p("sam"),
                            "--topic", "status", "bob",
                            "--out", self.p("g3"))
        self.assertIn("revoked 'bob'", run.stdout)
        self.assertFalse(os.path.exists(self.p("g3", "bob.grant")))
        self.assertTrue(os.path.exists(self.p("g3", "alice.grant")))
        sam = self.listing("sam")
        self.assertIn("members: sam(pub) alice(sub)\n", sam)
        self.assertIn("epoch 3", sam)
        # Revocation defaults to no grace: the old key is refused at once.
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g3", "alice.grant"))
        self.assertIn("refused (no grace period)", self.listing("alice"))
        # bob cannot use alice's grant.
        self.refused("import", "--keyring", self.p("bob"),
                     self.p("g3", "alice.grant"), says="someone else")
        self.refused("channel", "revoke", "--keyring", self.p("sam"),
                     "--topic", "status", "bob", "--out", self.p("g4"),
                     says="not a member")
        self.refused("channel", "rotate", "--keyring", self.p("alice"),
                     "--topic", "status", "--out", self.p("g4"),
                     says="no channel 'status' owned by 'alice'")

    def crafted(self, name, filt="lights", flags=0, publishers=("sam",),
                **kw):
        """A grant for alice signed by sam, built without §5.1's rules."""
        sam = read_secret_identity(self.p("sam", "identity"))
        alice = read_public_identity(self.p("alice.pub"))
        pubs = [read_public_identity(self.p(n + ".pub")).pk
                for n in publishers]
        grant, _, _ = make_grant(sam, alice, filt, flags, pubs, **kw)
        path = self.p(name + ".grant")
        with open(path, "wb") as fh:
            fh.write(grant)
        return path

    def test_grants_breaking_field_rules(self):
        """Grants validly signed by a trusted owner that break a rule of
        PROTOCOL.md §5.1 are refused at import with the rule's reason,
        naming the file, and nothing is written."""
        self.world()
        before = self.listing("alice")
        cases = [
            # may publish, not listed: all she sent would be unauthorised
            (dict(flags=FLAG_PUBLISH), "publisher_mismatch",
             "publishers list"),
            # listed, may not publish
            (dict(publishers=("sam", "alice")), "publisher_mismatch",
             "publishers list"),
            (dict(publishers=("sam", "sam")), "bad_publishers", "twice"),
            (dict(publishers=()), "bad_publishers", "empty"),
            (dict(flags=0x04), "bad_flags", "flag bits"),
            (dict(prev_key_id=b"\x01" * 8), "bad_epoch", "epoch 1"),
            (dict(epoch=0), "bad_epoch", "epoch 0"),
            (dict(epoch=3, grace_ms=1), "bad_epoch", "grace deadline"),
        ]
        for i, (kw, reason, words) in enumerate(cases):
            path = self.crafted("bad-%d" % i, **kw)
            line = self.refused("import", "--keyring", self.p("alice"), path,
                                says=reason)
            self.assertIn(path, line)
            self.assertIn(words, line)
        self.assertEqual(self.listing("alice"), before)
        # The same construction within the rules is accepted.
        ok = self.crafted("good", flags=FLAG_PUBLISH,
                          publishers=("sam", "alice"))
        self.run_keys("import", "--keyring", self.p("alice"), ok)
        self.assertIn("lights", self.listing("alice"))

    def test_create_refusals(self):
        self.world()
        self.refused("channel", "create", "--keyring", self.p("sam"),
                     "--topic", "status", "--publisher", self.p("sam.pub"),
                     "--out", self.p("g9"), says="exists already")
        self.usage("channel", "create", "--keyring", self.p("sam"),
                   "--topic", "a/#/b", "--publisher", self.p("sam.pub"),
                   "--out", self.p("g9"))
        self.refused("channel", "create", "--keyring", self.p("sam"),
                     "--topic", "x", "--publisher", self.p("sam", "identity"),
                     "--out", self.p("g9"), says="SECRET")

    def test_mac_allowed_channel(self):
        self.world()
        self.run_keys("channel", "create", "--keyring", self.p("sam"),
                      "--topic", "fast/#", "--publisher", self.p("sam.pub"),
                      self.p("alice.pub"), "--out", self.p("gf"),
                      "--allow-mac")
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("gf", "alice.grant"))
        alice = self.listing("alice")
        self.assertIn("mac-only: allowed", alice)
        self.assertIn("may publish and subscribe", alice)
        self.assertIn("publishers: sam alice", alice)

    def test_receipts_channel(self):
        """channel create --receipts (PROTOCOL.md 9.1): the defaults, named
        receipters with a count, what list shows on both sides, a revoked
        member dropped, and the usage errors."""
        self.world()
        self.assertIn("receipts: off", self.listing("alice"))
        self.run_keys("channel", "create", "--keyring", self.p("sam"),
                      "--topic", "door/#", "--publisher", self.p("sam.pub"),
                      "--subscriber", self.p("alice.pub"), self.p("bob.pub"),
                      "--out", self.p("gr"), "--receipts")
        sam = self.listing("sam")
        m = re.search(r"receipts: on  topic (secmq/receipts/[0-9a-f]{16})  "
                      r"needed from every one of alice bob\n", sam)
        self.assertIsNotNone(m, sam)
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("gr", "alice.grant"))
        # alice knows bob only by id; the topic is the same.
        self.assertRegex(self.listing("alice"),
                         r"receipts: on  topic %s  needed from every one of "
                         r"alice [0-9a-f]{16}\n" % re.escape(m.group(1)))
        self.run_keys("channel", "revoke", "--keyring", self.p("sam"),
                      "--topic", "door/#", "bob", "--out", self.p("gr2"))
        self.assertIn("topic %s  needed from every one of alice\n"
                      % m.group(1), self.listing("sam"))
        self.run_keys("channel", "create", "--keyring", self.p("sam"),
                      "--topic", "bell", "--publisher", self.p("sam.pub"),
                      "--subscriber", self.p("alice.pub"), self.p("bob.pub"),
                      "--out", self.p("gb"), "--receipts", "--receipts-from",
                      "bob", "sam", "--receipt-count", "1",
                      "--receipt-topic", "acks/bell")
        self.assertIn("receipts: on  topic acks/bell  needed from any 1 of "
                      "bob sam\n", self.listing("sam"))
        base = ("channel", "create", "--keyring", self.p("sam"), "--topic",
                "knock", "--publisher", self.p("sam.pub"), "--subscriber",
                self.p("alice.pub"), "--out", self.p("gk"))
        self.usage(*base, "--receipt-count", "1", says="need --receipts")
        self.usage(*base, "--receipts", "--receipt-count", "0",
                   says="--receipt-count takes a number")
        self.usage(*base, "--receipts", "--receipt-count", "2",
                   says="receipt count 2 is more than the 1")
        self.usage(*base, "--receipts", "--receipts-from", "carl",
                   says="'carl': not a member")
        self.usage(*base, "--receipts", "--receipt-topic", "acks/#",
                   says="invalid receipt topic")
        self.assertNotIn("  knock\n", self.listing("sam"))

    # -- refusals ---------------------------------------------------------------------

    def test_untrusted_owner(self):
        self.world()
        self.run_keys("channel", "create", "--keyring", self.p("sam"),
                      "--topic", "eve/#", "--publisher", self.p("sam.pub"),
                      "--subscriber", self.p("eve.pub"), "--out",
                      self.p("ge"))
        self.refused("import", "--keyring", self.p("eve"),
                     self.p("ge", "eve.grant"), says="untrusted owner")
        self.assertIn("channels: 0", self.listing("eve"))

    def test_grant_for_someone_else(self):
        self.world()
        self.refused("import", "--keyring", self.p("eve"), self.p("sam.pub"),
                     self.p("g1", "alice.grant"), says="someone else")
        # All or nothing: sam.pub was not kept either.
        self.assertIn("peers: 0", self.listing("eve"))

    def test_tampered_grant(self):
        self.world()
        self.run_keys("channel", "create", "--keyring", self.p("sam"),
                      "--topic", "eve/#", "--publisher", self.p("sam.pub"),
                      "--subscriber", self.p("eve.pub"), "--out",
                      self.p("ge"))
        self.run_keys("import", "--keyring", self.p("eve"), self.p("sam.pub"))
        with open(self.p("ge", "eve.grant"), "rb") as f:
            good = f.read()
        positions = sorted({0, 7, 8, 15, 16, 40, 63, 64, len(good) // 2,
                            len(good) - 17, len(good) - 1})
        for i in positions:
            bad = bytearray(good)
            bad[i] ^= 0x01
            with open(self.p("bad.grant"), "wb") as f:
                f.write(bad)
            self.refused("import", "--keyring", self.p("eve"),
                         self.p("bad.grant"), says="bad.grant")
        for bad in (good[:-1], good + b"\0"):
            with open(self.p("bad.grant"), "wb") as f:
                f.write(bad)
            self.refused("import", "--keyring", self.p("eve"),
                         self.p("bad.grant"), says="does not open")
        self.assertIn("channels: 0", self.listing("eve"))
        self.run_keys("import", "--keyring", self.p("eve"),
                      self.p("ge", "eve.grant"))
        self.assertIn("channels: 1", self.listing("eve"))

    def test_tampered_keyring_files(self):
        self.world()
        # A stored grant with a changed byte no longer loads.
        gdir = self.p("alice", "grants")
        name = os.listdir(gdir)[0]
        with open(os.path.join(gdir, name), "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x40
            f.seek(0)
            f.write(data)
        self.refused("list", "--keyring", self.p("alice"),
                     says=os.path.join(gdir, name))
        # So does the owner's sealed channel state.
        odir = self.p("sam", "owned")
        name = os.listdir(odir)[0]
        with open(os.path.join(odir, name), "r+b") as f:
            data = bytearray(f.read())
            data[-1] ^= 0x01
            f.seek(0)
            f.write(data)
        self.refused("list", "--keyring", self.p("sam"),
                     says="fails authentication")

    def test_import_refusals(self):
        self.world()
        self.refused("import", "--keyring", self.p("alice"),
                     self.p("alice", "identity"), says="SECRET")
        with open(self.p("junk"), "w") as f:
            f.write("hello\n")
        self.refused("import", "--keyring", self.p("alice"), self.p("junk"),
                     says="neither a public identity, a successor statement nor a grant")
        self.refused("import", "--keyring", self.p("alice"),
                     self.p("missing.pub"), says="missing")
        # Another key under a known name.
        with open(self.p("eve.pub")) as f:
            text = f.read().replace("name: eve", "name: sam")
        with open(self.p("fake.pub"), "w") as f:
            f.write(text)
        self.refused("import", "--keyring", self.p("alice"),
                     self.p("fake.pub"), says="already known")
        # The same peer twice and one's own public file are fine.
        run = self.run_keys("import", "--keyring", self.p("alice"),
                            self.p("sam.pub"), self.p("alice.pub"))
        self.assertIn("already known", run.stdout)


if __name__ == "__main__":
    unittest.main()
