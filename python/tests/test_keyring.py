"""test_keyring.py -- secmq.Keyring's management calls (what secmq-keys
does) making a world from Python alone, checked against the tools and a
real broker: the grants it writes work with secmq-pub, a rotation keeps
the channel working after the new grant is imported, a revoked member
refuses what is sealed under the new key, refusals raise with the
library's reason."""

import os

import pytest  # noqa: F401

from pyclient import ClientMixin, get, secmq, wait_until
from keys import E2ETestCase, read_public_identity  # noqa: E402


class KeyringManagement(ClientMixin, E2ETestCase):

    def pubfile_py(self, who):
        path = os.path.join(self.keys_dir, who + ".pub")
        with open(path, "w") as fh:
            fh.write(secmq.Keyring.export(self.kdir(who)))
        return path

    def test_world_made_in_python(self):
        K = secmq.Keyring
        for who in ("sam", "alice"):
            K.init(self.kdir(who), who)
        with self.assertRaises(secmq.KeyringError) as cm:
            K.init(self.kdir("sam"), "sam")
        self.assertIn("identity", str(cm.exception))
        sam_pub, alice_pub = self.pubfile_py("sam"), self.pubfile_py("alice")
        # The export is the public file secmq-keys writes (§2.2).
        self.assertEqual(read_public_identity(sam_pub).pk,
                         self.identity("sam").pk)
        g1 = os.path.join(self.keys_dir, "g1")
        notes = K.channel_create(self.kdir("sam"), "status", [sam_pub],
                                 [alice_pub], out_dir=g1)
        self.assertTrue(notes)
        self.assertTrue(os.path.isfile(os.path.join(g1, "alice.grant")))
        K.import_files(self.kdir("alice"),
                       [sam_pub, os.path.join(g1, "alice.grant")])
        with self.assertRaises(secmq.KeyringError):
            K.import_files(self.kdir("alice"), [os.path.join(g1, "nope")])
        # The tool lists what Python made.
        listing = self.keys("list", "--keyring", self.kdir("alice")).stdout
        self.assertIn("status", listing)

        c, rec = self.client(user="alice", keyring=self.kdir("alice"))
        refused = []
        c.on_open_failure = lambda cl, u, t, reason: refused.append(reason)
        self.subscribe(c, rec, "status", 1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "epoch 1")
        m = get(rec.messages, "message under epoch 1")
        self.assertEqual((m.payload, m.sender), (b"epoch 1", "sam"))

        # Rotation: alice imports the new grant (a reopened keyring sees
        # it) and opens what sam seals under the new key.
        g2 = os.path.join(self.keys_dir, "g2")
        K.channel_rotate(self.kdir("sam"), "status", g2, grace=0)
        K.import_files(self.kdir("alice"), [os.path.join(g2, "alice.grant")])
        c.close()
        c, rec = self.client(user="alice", keyring=self.kdir("alice"))
        c.on_open_failure = lambda cl, u, t, reason: refused.append(reason)
        self.subscribe(c, rec, "status", 1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "epoch 2")
        self.assertEqual(get(rec.messages, "message under epoch 2").payload,
                         b"epoch 2")

        # Revocation: sam rotates without alice (sam, the owner, stays a
        # member); alice cannot open the new key's messages.
        g3 = os.path.join(self.keys_dir, "g3")
        with self.assertRaises(secmq.KeyringError) as cm:
            K.channel_revoke(self.kdir("sam"), "status", "nobody", g3)
        self.assertIn("nobody", str(cm.exception))
        K.channel_revoke(self.kdir("sam"), "status", "alice", g3)
        self.assertFalse(os.path.exists(os.path.join(g3, "alice.grant")))
        self.epub("sam", "-t", "status", "-q", "1", "-m", "after revoke")
        self.assertTrue(wait_until(lambda: refused), "not refused")
        self.assertEqual(refused, ["unknown_key"])
        self.assertTrue(rec.messages.empty())
