"""test_keyring.py -- secmq.Keyring's management calls (what secmq-keys
does) making a world from Python alone, checked against the tools and a
real broker: the grants it writes work with secmq-pub, a rotation keeps
the channel working after the new grant is imported, a revoked member
refuses what is sealed under the new key, an identity rotated from Python
is followed by its peer, refusals raise with the library's reason."""

import os

import pytest  # noqa: F401

from pyclient import ClientMixin, get, secmq, wait_until
from keys import (E2ETestCase, channel_id, open_grant,  # noqa: E402
                  read_public_identity, read_secret_identity)
from successor import read_successor  # noqa: E402


class KeyringManagement(ClientMixin, E2ETestCase):

    def pubfile_py(self, who):
        path = os.path.join(self.keys_dir, who + ".pub")
        with open(path, "w") as fh:
            fh.write(secmq.Keyring.export(self.kdir(who)))
        return path

    def alice_opens(self, text, what):
        """A client with alice's keyring opens text, sealed by sam's
        secmq-pub on `status`, from sam."""
        c, rec = self.client(user="alice", keyring=self.kdir("alice"))
        self.subscribe(c, rec, "status", 1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", text)
        m = get(rec.messages, what)
        self.assertEqual((m.payload, m.sender), (text.encode(), "sam"))
        c.close()

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

    def test_channel_with_epochs_made_in_python(self):
        """channel_create(epoch=...) makes a channel with epochs: the
        member keeps a chain file (no grant), the tools list the epoch,
        secmq-pub's message opens in Python; channel_add brings in carol,
        who opens what is sealed after, not before."""
        K = secmq.Keyring
        for who in ("sam", "alice", "carol"):
            K.init(self.kdir(who), who)
        pubs = {w: self.pubfile_py(w) for w in ("sam", "alice", "carol")}
        g1 = os.path.join(self.keys_dir, "e1")
        with self.assertRaises(ValueError):
            K.channel_create(self.kdir("sam"), "status", [pubs["sam"]],
                             out_dir=g1, epoch_grace=5)
        with self.assertRaises(secmq.InvalidArgumentError) as cm:
            K.channel_create(self.kdir("sam"), "status", [pubs["sam"]],
                             out_dir=g1, epoch=0.5)
        self.assertIn("epoch", str(cm.exception))
        K.channel_create(self.kdir("sam"), "status", [pubs["sam"]],
                         [pubs["alice"]], out_dir=g1, epoch=3600)
        K.import_files(self.kdir("alice"),
                       [pubs["sam"], os.path.join(g1, "alice.grant")])
        names = os.listdir(os.path.join(self.kdir("alice"), "grants"))
        self.assertEqual([n[-6:] for n in names], [".chain"], names)
        listing = self.keys("list", "--keyring", self.kdir("alice")).stdout
        self.assertIn("ratchet: epochs of 1h, grace 10m", listing)

        self.alice_opens("hour one", "message under the ratchet")

        g2 = os.path.join(self.keys_dir, "e2")
        notes = K.channel_add(self.kdir("sam"), "status",
                              subscribers=[pubs["carol"]], out_dir=g2)
        self.assertTrue(any("added" in n for n in notes), notes)
        K.import_files(self.kdir("carol"),
                       [pubs["sam"], os.path.join(g2, "carol.grant")])
        K.import_files(self.kdir("alice"), [os.path.join(g2, "alice.grant")])
        c, rec = self.client(user="alice", keyring=self.kdir("alice"))
        self.subscribe(c, rec, "status", 1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "new chain")
        self.assertEqual(get(rec.messages, "after channel_add").payload,
                         b"new chain")
        c.close()

    def test_identity_rotate_in_python(self):
        """identity_rotate: the statement (read from PROTOCOL.md §2.3)
        names sam's old and new keys, the notes name the new identity id,
        export gives the new key; alice imports the statement and her new
        grant and opens what secmq-pub sends with sam's new key. Refused
        with KeyringError while a client in this process receives with
        the keyring."""
        K = secmq.Keyring
        for who in ("sam", "alice"):
            K.init(self.kdir(who), who)
        sam_pub, alice_pub = self.pubfile_py("sam"), self.pubfile_py("alice")
        old_pk = read_public_identity(sam_pub).pk
        g1 = os.path.join(self.keys_dir, "g1")
        K.channel_create(self.kdir("sam"), "status", [sam_pub], [alice_pub],
                         out_dir=g1)
        K.import_files(self.kdir("alice"),
                       [sam_pub, os.path.join(g1, "alice.grant")])
        out = os.path.join(self.keys_dir, "rotated")
        with self.assertRaises(ValueError):
            K.identity_rotate(self.kdir("sam"), out, grace=-1)

        # sam's keyring receiving in this process: refused, nothing done.
        c, rec = self.client(user="sam", keyring=self.kdir("sam"))
        self.subscribe(c, rec, "status", 1)
        self.epub("sam", "-t", "status", "-q", "1", "-m", "busy")
        self.assertEqual(get(rec.messages, "sam's own message").payload,
                         b"busy")
        with self.assertRaises(secmq.KeyringError) as cm:
            K.identity_rotate(self.kdir("sam"), out)
        self.assertIn("in use", str(cm.exception))
        self.assertFalse(os.path.exists(os.path.join(out, "sam.successor")))
        self.assertEqual(read_public_identity(sam_pub).pk, old_pk)
        c.close()

        notes = K.identity_rotate(self.kdir("sam"), out, grace=60)
        s = read_successor(os.path.join(out, "sam.successor"))
        new_pub = os.path.join(out, "sam.pub")
        self.assertEqual((s.name, s.old_pk, s.new_pk),
                         ("sam", old_pk, read_public_identity(new_pub).pk))
        with open(new_pub) as fh:
            self.assertEqual(K.export(self.kdir("sam")), fh.read())
        self.assertTrue([n for n in notes if s.new_id.hex() in n], notes)
        # The new grants of an owned channel: in <its new channel id>/;
        # grace in seconds, as channel_rotate's (the grant's deadline).
        alice_grant = os.path.join(out, channel_id(s.new_pk, "status"),
                                   "alice.grant")
        g = open_grant(alice_grant,
                       read_secret_identity(os.path.join(self.kdir("alice"),
                                                         "identity")),
                       s.new_pk)
        self.assertLessEqual(abs(g["grace_ms"] - (s.created_ms + 60000)),
                             10000)

        K.import_files(self.kdir("alice"),
                       [os.path.join(out, "sam.successor"), alice_grant])
        with open(os.path.join(self.kdir("alice"), "peers", "sam.pub")) as a:
            with open(new_pub) as b:
                self.assertEqual(a.read(), b.read())
        self.alice_opens("new key", "message under sam's new key")
