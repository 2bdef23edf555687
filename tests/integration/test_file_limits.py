#!/usr/bin/python3
"""test_file_limits.py -- what a secmq-file receiver refuses: a manifest
naming `../../etc/x` writes only inside the output directory; names that
are only dots, not UTF-8, or hold Unicode format characters (a
right-to-left override) are refused by the receiver, and by the sender
before it sends anything; a file over --max-size is refused before
anything is written; a write that fails (a file size limit set with
prlimit --fsize: EFBIG, as a full disk gives ENOSPC) ends the transfer
with a clear error and leaves no partial file behind. The sender learns
each refusal and exits 3.
"""

import hashlib
import os
import shutil
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_file_transfer import MB, FileTestCase, make_file, sha256  # noqa
from keys import now_ms, open_grant, seal  # noqa: E402


def encode_manifest(file_id, file_key, sender_pk, content, name,
                    chunk_size=1024):
    """PROTOCOL.md §8.2 for content (bytes) announced as name (bytes)."""
    count = -(-len(content) // chunk_size)
    return (b"SECMQFM1" + file_id + file_key + sender_pk +
            struct.pack(">QII", len(content), chunk_size, count) +
            hashlib.blake2b(content, digest_size=32).digest() +
            struct.pack(">QH", now_ms(), len(name)) + name)

PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"


class Limits(FileTestCase):

    def test_traversal_name_stays_inside(self):
        """sam announces `../../etc/x` (a name whose last component is
        fine): alice writes DIR/x and nothing outside DIR. `a/..`, which
        a receiver would refuse, is refused by the sender itself (exit 1,
        the reason on stderr, nothing published)."""
        src = os.path.join(self.work, "payload.bin")
        digest = make_file(src, 200 * 1000)
        before = sorted(os.listdir(self.work))
        rx = self.recv("-C", "1")
        tx = self.send("--name", "../../etc/x", src)
        self.assertEqual(tx.wait_exit(30), 0, tx.text())
        self.assertEqual(rx.wait_exit(30), 0, rx.text())
        self.assertEqual(self.leftovers(), ["x"])
        self.assertEqual(sha256(os.path.join(self.out, "x")), digest)
        # Nothing appeared next to DIR, nor two levels up.
        self.assertEqual(sorted(os.listdir(self.work)), before)
        self.assertFalse(os.path.exists(os.path.join(self.broker.dir,
                                                     "etc")))
        since = self.broker.log_size()
        tx2 = self.send("--name", "a/..", src, client_id="sam-files-2")
        self.assertEqual(tx2.wait_exit(30), 1, tx2.text())
        self.assertRegex("\n".join(tx2.err), r"receivers refuse the name "
                         r"'a/\.\.' of .*payload\.bin: it starts with '\.'")
        self.assert_not_logged(r"Received PUBLISH from sam-files-2",
                               "a refused name was published", since)

    def test_sender_refuses_names_that_lie(self):
        """secmq-file send refuses, before connecting, a --name holding a
        right-to-left override (invoice<U+202E>gpj.exe, which shows as
        "invoiceexe.jpg"), a zero-width space, or bytes that are not
        UTF-8, and a file whose own name holds one: exit 1, one line
        naming the character, nothing published."""
        src = os.path.join(self.work, "payload.bin")
        make_file(src, 10 * 1000)
        lying = os.path.join(self.work, "photo\u202egpj.exe")
        make_file(lying, 10 * 1000)
        since = self.broker.log_size()
        cases = [(("--name", "invoice\u202egpj.exe", src),
                  r"'invoice<U\+202E>gpj\.exe' of .*: it holds the "
                  r"invisible format character U\+202E \(Unicode category "
                  r"Cf\)"),
                 (("--name", "zero\u200bwidth.txt", src),
                  r"'zero<U\+200B>width\.txt' of .*U\+200B"),
                 # surrogateescape: the bytes "caf", 0xE9, ".jpg"
                 (("--name", "caf\udce9.jpg", src),
                  r"'caf\\xE9\.jpg' of .*: it is not valid UTF-8"),
                 (("--name", "csi\u009b.txt", src),
                  r"'csi<U\+009B>\.txt' of .*: it holds the control "
                  r"character U\+009B"),
                 ((lying,), r"'photo<U\+202E>gpj\.exe' of .*/photo<U\+202E>"
                  r"gpj\.exe: it holds the invisible format character "
                  r"U\+202E")]
        for i, (args, why) in enumerate(cases):
            with self.subTest(args=args):
                tx = self.send(*args, client_id="sam-lie-%d" % i)
                self.assertEqual(tx.wait_exit(30), 1, tx.text())
                err = [ln for ln in tx.err if ln.strip()]
                self.assertEqual(len(err), 1, tx.text())
                self.assertRegex(err[0], r"^secmq-file: receivers refuse "
                                 r"the name " + why)
                # The refusal itself shows no raw format character.
                self.assertNotRegex(err[0], "[\u202e\u200b\u009b\ufffd]")
                self.assertEqual(self.events(tx), [], tx.text())
        self.assert_not_logged(r"Received PUBLISH from sam-lie-",
                               "a refused name was published", since)

    def test_receiver_refuses_names_that_lie(self):
        """Manifests sealed and signed as sam in Python (PROTOCOL.md §8.2,
        so no sender-side check is involved) and published raw: names
        with U+202E, U+2066, U+FEFF, invalid UTF-8 (overlong, surrogate,
        truncated) and `a/..` are each refused as bad_name, with the
        reason in the event; nothing is written; a good one still
        arrives."""
        g = open_grant(self.grant(self.files_grants, "alice"),
                       self.identity("alice"))
        sam = self.identity("sam")
        names = [("invoice\u202egpj.exe".encode(), "U+202E"),
                 ("a\u2066b.txt".encode(), "U+2066"),
                 ("\ufeffbom.txt".encode(), "U+FEFF"),
                 (b"x\xc0\xaf.txt", "not valid UTF-8"),
                 (b"x\xed\xa0\x80.txt", "not valid UTF-8"),
                 (b"trunc\xe2\x82", "not valid UTF-8"),
                 (b"a/..", "starts with '.'")]
        rx = self.recv("-C", str(len(names) + 1))
        inj = self.paho(user="sam", client_id="paho-sam")
        seq = now_ms() * 1000
        good = b"caf\xc3\xa9 ok.txt"
        for i, (name, _) in enumerate(names + [(good, "")]):
            # Empty files: no chunks, the good one is done at once.
            man = encode_manifest(os.urandom(16), os.urandom(32), sam.pk,
                                  b"", name)
            env = seal(sam, g["channel_key"], g["key_id"], "files/m", man,
                       seq + i)
            inj.publish("files/m", env, qos=1)
        self.assertEqual(rx.wait_exit(30), 3, rx.text())
        refused = self.events(rx, "refused")
        self.assertEqual([e["reason"] for e in refused],
                         ["bad_name"] * len(names), rx.text())
        for ev, (_, why) in zip(refused, names):
            self.assertIn(why, ev["detail"])
        self.assertEqual([e.get("name") for e in self.events(rx, "done")],
                         ["caf\u00e9 ok.txt"], rx.text())
        self.assertEqual(self.leftovers(), ["caf\u00e9 ok.txt"])

    def test_existing_name_gets_suffix(self):
        """A file whose name exists in DIR is never replaced: it arrives
        as NAME-1.EXT."""
        src = os.path.join(self.work, "img.jpg")
        digest = make_file(src, 100 * 1000)
        with open(os.path.join(self.out, "img.jpg"), "w") as fh:
            fh.write("keep me")
        rx = self.recv("-C", "1")
        tx = self.send(src)
        self.assertEqual(tx.wait_exit(30), 0, tx.text())
        self.assertEqual(rx.wait_exit(30), 0, rx.text())
        with open(os.path.join(self.out, "img.jpg")) as fh:
            self.assertEqual(fh.read(), "keep me")
        self.assertEqual(sha256(os.path.join(self.out, "img-1.jpg")), digest)
        self.assertEqual(self.events(rx, "done")[0]["name"], "img-1.jpg")

    def test_over_size_limit_refused(self):
        """--max-size 1M and a 2 MB file: refused (too_large) at the
        manifest, no file created; the sender prints why and exits 3."""
        src = os.path.join(self.work, "big.raw")
        make_file(src, 2 * MB)
        rx = self.recv("-C", "1", "--max-size", "1M")
        tx = self.send(src)
        self.assertEqual(tx.wait_exit(30), 3, tx.text())
        self.assertEqual(rx.wait_exit(30), 3, rx.text())
        self.assertEqual(self.leftovers(), [])
        ev = self.events(rx, "refused")
        self.assertEqual([e["reason"] for e in ev], ["too_large"])
        self.assertIn("over the limit", ev[0]["detail"])
        self.assertEqual([e["reason"] for e in self.events(tx, "refused")],
                         ["too_large"])

    def test_write_failure_removes_partial_file(self):
        """The receiver runs under prlimit --fsize=1000000 and gets a 3 MB
        file: the write past 1 MB fails (EFBIG, as ENOSPC on a full disk);
        it reports "File too large", removes the partial file, and the
        sender is told (no_space) and exits 3. Without text output: one
        error line on stderr."""
        if not os.access(PRLIMIT, os.X_OK):
            self.skipTest("prlimit not available")
        src = os.path.join(self.work, "cam.raw")
        make_file(src, 3 * MB)
        conn = self.e2e_conn("alice")
        since = self.broker.log_size()
        cmd = ["--fsize=1000000", self.tool("secmq-file"), "recv"] + conn + \
            ["-i", "alice-lim", "-t", "files", "-o", self.out, "-C", "1"]
        rxp = self.spawn_path(PRLIMIT, cmd)
        self.wait_log_or_exit(rxp, r": Sending SUBACK to alice-lim$", since)
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to alice-lim$", 10, since, count=2))
        tx = self.send(src)
        self.assertEqual(tx.wait_exit(30), 3, tx.text())
        out, err = rxp.communicate(timeout=30)
        self.assertEqual(rxp.returncode, 3, err)
        self.assertEqual(out, b"")
        self.assertRegex(err.decode(), r"secmq-file: cannot write cam\.raw: "
                         r"File too large; the partial file was removed")
        self.assertEqual(self.leftovers(), [])
        self.assertEqual([e["reason"] for e in self.events(tx, "refused")],
                         ["no_space"])

    def spawn_path(self, path, args):
        import subprocess
        import broker as brokermod
        p = subprocess.Popen([path] + [str(a) for a in args],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.child_env(),
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        return p


if __name__ == "__main__":
    unittest.main()
