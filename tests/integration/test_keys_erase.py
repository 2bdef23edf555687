#!/usr/bin/python3
"""test_keys_erase.py -- secmq-keys erases the keyring files it replaces
or removes (docs/SECURITY.md "Erasing keys on disk"): the old file's bytes
are overwritten with zeros, not only unlinked.

A second hard link made to a keyring file before a command shares that
file's blocks: afterwards it must hold as many bytes as before, all zero,
while the keyring itself works with its new files. Without the erase the
link would still hold the old keys. No broker: keyrings live in a temp
dir per test.
"""

import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keystool import KEYS, TIMEOUT_S, KeysToolCase  # noqa: E402



class KeysErase(KeysToolCase):

    TMP_PREFIX = "secmq-erase-"

    def world(self):
        """sam owns 'status' (sam publishes; alice and bob subscribe),
        grants in g/; alice holds sam's key and her grant."""
        for n in ("sam", "alice", "bob"):
            kr = self.p(n)
            self.run_keys("init", "--keyring", kr, "--name", n)
            with open(self.p(n + ".pub"), "w") as f:
                f.write(self.run_keys("export", "--keyring", kr).stdout)
        self.run_keys("channel", "create", "--keyring", self.p("sam"),
                      "--topic", "status", "--publisher", self.p("sam.pub"),
                      "--subscriber", self.p("alice.pub"), self.p("bob.pub"),
                      "--out", self.p("g"))
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("sam.pub"), self.p("g", "alice.grant"))

    def keep(self, path, name):
        """A second name for path's file; returns (name, its bytes)."""
        kept = self.p(name)
        os.link(path, kept)
        with open(kept, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 0)
        self.assertNotEqual(data, bytes(len(data)))
        return kept, data

    def assert_erased(self, kept, old, what):
        with open(kept, "rb") as f:
            now = f.read()
        self.assertEqual(len(now), len(old), what)
        self.assertEqual(now, bytes(len(old)),
                         "%s still holds its old bytes" % what)
        self.assertEqual(os.stat(kept).st_nlink, 1,
                         "%s: the keyring still links it" % what)

    def epoch(self, name):
        listing = self.run_keys("list", "--keyring", self.p(name)).stdout
        return int(re.search(r"epoch (\d+)", listing).group(1))

    def test_rotate_erases_owned_file_and_grants(self):
        self.world()
        owned = glob.glob(self.p("sam", "owned", "*.chan"))
        self.assertEqual(len(owned), 1, owned)
        kept_chan, old_chan = self.keep(owned[0], "owned.keep")
        kept_grant, old_grant = self.keep(self.p("g", "alice.grant"),
                                          "grant.keep")
        self.run_keys("channel", "rotate", "--keyring", self.p("sam"),
                      "--topic", "status", "--out", self.p("g"))
        # The owner's sealed channel file held the epoch 1 key.
        self.assert_erased(kept_chan, old_chan, "the replaced owned file")
        self.assert_erased(kept_grant, old_grant, "the replaced grant")
        # The keyring works with the new files.
        self.assertEqual(self.epoch("sam"), 2)
        with open(owned[0], "rb") as f:
            self.assertNotEqual(f.read(), bytes(len(old_chan)))
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g", "alice.grant"))
        self.assertEqual(self.epoch("alice"), 2)

    def test_import_erases_replaced_grants(self):
        self.world()
        grants = self.p("alice", "grants")
        cur = [n for n in os.listdir(grants) if not n.endswith(".prev.grant")]
        self.assertEqual(len(cur), 1, cur)
        cur = os.path.join(grants, cur[0])
        kept1, old1 = self.keep(cur, "epoch1.keep")
        self.run_keys("channel", "rotate", "--keyring", self.p("sam"),
                      "--topic", "status", "--out", self.p("g2"))
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g2", "alice.grant"))
        # The epoch 1 grant lives on as the previous one (the grace
        # period), as a new file: the one it was is erased.
        self.assert_erased(kept1, old1, "alice's replaced epoch 1 grant")
        prev = cur[:-len(".grant")] + ".prev.grant"
        with open(prev, "rb") as f:
            self.assertEqual(f.read(), old1)
        kept_prev, old_prev = self.keep(prev, "prev.keep")
        self.run_keys("channel", "revoke", "--keyring", self.p("sam"),
                      "--topic", "status", "bob", "--out", self.p("g3"))
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g3", "alice.grant"))
        # Epoch 3: the copy of epoch 1 is replaced by epoch 2, and erased.
        self.assert_erased(kept_prev, old_prev, "alice's epoch 1 copy")
        self.assertEqual(self.epoch("alice"), 3)

    def test_revoke_erases_removed_grant(self):
        self.world()
        kept, old = self.keep(self.p("g", "bob.grant"), "bob.keep")
        run = self.run_keys("channel", "revoke", "--keyring", self.p("sam"),
                            "--topic", "status", "bob", "--out", self.p("g"))
        self.assertIn("revoked 'bob'", run.stdout)
        # bob's grant in the output directory is removed, and erased.
        self.assertFalse(os.path.exists(self.p("g", "bob.grant")))
        self.assert_erased(kept, old, "bob's removed grant")

    def test_erase_failure_is_reported(self):
        self.world()
        # A file in bob's grant's place too large to be a keyring file
        # (65 MiB, sparse): replaced, but not overwritten, and said so.
        big = self.p("g", "bob.grant")
        with open(big, "r+b") as f:
            f.truncate(65 * 1024 * 1024)
        kept, _ = self.keep(big, "big.keep")
        run = subprocess.run([KEYS, "channel", "rotate", "--keyring",
                              self.p("sam"), "--topic", "status",
                              "--out", self.p("g")],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=TIMEOUT_S)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn(big + ": replaced, but its old content could not be "
                      "overwritten", run.stderr)
        self.assertIn("may still be on the disk", run.stderr)
        self.assertLess(os.path.getsize(big), 4096)
        self.assertEqual(os.path.getsize(kept), 65 * 1024 * 1024)


    def test_previous_key_erased_after_its_grace(self):
        """A rotation with --grace 1 leaves the previous key with alice
        (grants/<cid>.prev.grant) and with sam (in his owned file) for a
        second; the next time either keyring is opened after that (here
        `secmq-keys list`), the previous grant file is removed and
        overwritten, and the owned file is rewritten without the key: hard
        links to both read zeros."""
        import time
        self.world()
        self.run_keys("channel", "rotate", "--keyring", self.p("sam"),
                      "--topic", "status", "--out", self.p("g2"),
                      "--grace", "1")
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g2", "alice.grant"))
        prev = glob.glob(self.p("alice", "grants", "*.prev.grant"))
        owned = glob.glob(self.p("sam", "owned", "*.chan"))
        self.assertEqual((len(prev), len(owned)), (1, 1), (prev, owned))
        kept_prev, old_prev = self.keep(prev[0], "prev.keep")
        kept_own, old_own = self.keep(owned[0], "owned.keep")
        # Within the grace nothing goes.
        self.run_keys("list", "--keyring", self.p("alice"))
        self.assertTrue(os.path.exists(prev[0]))
        time.sleep(1.5)
        listing = self.run_keys("list", "--keyring", self.p("alice")).stdout
        self.assertRegex(listing, r"previous key: \S+  expired at")
        self.run_keys("list", "--keyring", self.p("sam"))
        self.assertFalse(os.path.exists(prev[0]))
        self.assert_erased(kept_prev, old_prev, "the previous grant")
        self.assert_erased(kept_own, old_own, "the owned file before")
        # The owner still rotates and issues grants afterwards.
        self.run_keys("channel", "rotate", "--keyring", self.p("sam"),
                      "--topic", "status", "--out", self.p("g3"))
        self.run_keys("import", "--keyring", self.p("alice"),
                      self.p("g3", "alice.grant"))


if __name__ == "__main__":
    unittest.main()
