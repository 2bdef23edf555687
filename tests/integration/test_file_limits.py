#!/usr/bin/python3
"""test_file_limits.py -- what a secmq-file receiver refuses: a manifest
naming `../../etc/x` writes only inside the output directory (and a name
that is only dots is refused); a file over --max-size is refused before
anything is written; a write that fails (a file size limit set with
prlimit --fsize: EFBIG, as a full disk gives ENOSPC) ends the transfer
with a clear error and leaves no partial file behind. The sender learns
each refusal and exits 3.
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_file_transfer import MB, FileTestCase, make_file, sha256  # noqa

PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"


class Limits(FileTestCase):

    def test_traversal_name_stays_inside(self):
        """sam announces `../../etc/x` (secmq-file send --name passes any
        name; judging names is the receiver's business): alice writes
        DIR/x and nothing outside DIR; then `..` is refused as bad_name
        and the sender exits 3."""
        src = os.path.join(self.work, "payload.bin")
        digest = make_file(src, 200 * 1000)
        before = sorted(os.listdir(self.work))
        rx = self.recv("-C", "2")
        tx = self.send("--name", "../../etc/x", src)
        self.assertEqual(tx.wait_exit(30), 0, tx.text())
        tx2 = self.send("--name", "a/..", src, client_id="sam-files-2")
        self.assertEqual(tx2.wait_exit(30), 3, tx2.text())
        self.assertEqual(rx.wait_exit(30), 3, rx.text())
        self.assertEqual(self.leftovers(), ["x"])
        self.assertEqual(sha256(os.path.join(self.out, "x")), digest)
        # Nothing appeared next to DIR, nor two levels up.
        self.assertEqual(sorted(os.listdir(self.work)), before)
        self.assertFalse(os.path.exists(os.path.join(self.broker.dir,
                                                     "etc")))
        refused = self.events(rx, "refused")
        self.assertEqual([e["reason"] for e in refused], ["bad_name"])
        self.assertEqual([e["reason"] for e in self.events(tx2, "refused")],
                         ["bad_name"])

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
