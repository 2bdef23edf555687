#!/usr/bin/python3
"""test_interop_arm64.py -- an arm64 build and an amd64 build of secmq talk
to each other through one (amd64) mosquitto.

sam runs the arm64 tools (through qemu-user and binfmt_misc), alice the
amd64 ones. Each keyring is made by its own side's secmq-keys; each side
owns a channel and issues the other's grant, which the other side's
secmq-keys imports. Then sealed, signed messages go both ways and the
receiver names the verified sender (secmq-sub -F '%S' and '%j'); and a
4 MiB file goes each way with secmq-file, its SHA-256 compared with the
original and its BLAKE2b-256 and sender checked in the receiver's report.
This proves that the wire formats (identity and public files, grants,
envelopes, file manifests and chunks) do not depend on the architecture.

Not part of either build's ctest: scripts/test-arm64.sh runs it with both
build directories:
    test_interop_arm64.py --arm64-bin build-arm64/bin --native-bin build/bin
"""

import argparse
import contextlib
import json
import os
import secrets
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from keys import E2ETestCase, LiveProc  # noqa: E402
from test_file_transfer import sha256  # noqa: E402
from testcase import TIMEOUT_SCALE, elf_machine  # noqa: E402

EM_AARCH64 = 183
OPTS = None            # parsed command line, set by main()
SIDE = {"sam": "arm64", "alice": "native"}
FILE_BYTES = 4 * 1024 * 1024
MSG_TIMEOUT_S = 20.0 * TIMEOUT_SCALE
FILE_TIMEOUT_S = 120.0 * TIMEOUT_SCALE


class Interop(E2ETestCase):
    """sam (arm64) and alice (amd64) through one amd64 broker."""

    def setUp(self):
        self.side = "native"
        super().setUp()
        for name in ("sam", "alice"):
            with self.on(SIDE[name]):
                self.make_identity(name)

    # -- which build runs a tool ---------------------------------------------

    @contextlib.contextmanager
    def on(self, side):
        """Tools started inside run from side's build ("arm64"/"native")."""
        old, self.side = self.side, side
        try:
            yield
        finally:
            self.side = old

    def tool(self, name):
        d = OPTS.arm64_bin if self.side == "arm64" else OPTS.native_bin
        path = os.path.join(d, name)
        if not os.access(path, os.X_OK):
            self.fail("%s not found in %s (not built?)" % (name, d))
        return path

    # -- keys ----------------------------------------------------------------

    def channel(self, owner, member, topics):
        """owner creates a channel per (filter, publisher) of topics with
        its own secmq-keys; member imports owner's public file and its
        grants with its own. Owner is also a member of each channel."""
        grants = []
        for filt, publisher in topics:
            with self.on(SIDE[owner]):
                out = self.out_dir(filt.replace("/", "_").replace("#", "all"))
                self.keys("channel", "create", "--keyring", self.kdir(owner),
                          "--topic", filt,
                          "--publisher", self.pubfile(publisher),
                          "--subscriber", self.pubfile(owner),
                          self.pubfile(member), "--out", out)
            grants.append(self.grant(out, member))
        with self.on(SIDE[member]):
            self.import_(member, self.pubfile(owner), *grants)

    # -- messages ------------------------------------------------------------

    def sealed_to(self, sender, receiver, topic):
        """receiver subscribes on its side, sender publishes two sealed
        messages on its side; receiver must print them with sender as the
        verified sender (%S and %j)."""
        with self.on(SIDE[receiver]):
            sub = self.sub(receiver, "-t", topic, "-q", "1", "-F", "%S\t%j",
                           client_id="%s-%s" % (receiver, SIDE[receiver]),
                           timeout=MSG_TIMEOUT_S)
        sent = ["%s on %s says %s" % (sender, SIDE[sender],
                                      secrets.token_hex(8))
                for _ in range(2)]
        with self.on(SIDE[sender]):
            for m in sent:
                self.epub(sender, "-t", topic, "-q", "1", "-m", m)
        self.assertTrue(sub.wait_out(len(sent), MSG_TIMEOUT_S), sub.text())
        sub.stop()
        self.assertEqual(sub.drops(), [], sub.text())
        self.assertEqual(len(sub.out), len(sent), sub.text())
        for line, m in zip(sub.out, sent):
            who, js = line.split("\t", 1)
            self.assertEqual(who, sender, "%%S of %r" % line)
            doc = json.loads(js)
            self.assertEqual(doc["payload"], m)
            self.assertEqual(doc["topic"], topic)
            self.assertEqual(doc["sender"], sender)
            self.assertIs(doc["verified"], True)
            self.assertEqual(doc["mode"], "signed")

    def test_sealed_messages_both_ways(self):
        # Each side owns one channel, both may publish on both.
        self.channel("sam", "alice", [("arm/status", "sam")])
        self.channel("alice", "sam", [("amd/status", "alice")])
        self.sealed_to("sam", "alice", "arm/status")
        self.sealed_to("alice", "sam", "amd/status")

    # -- files ---------------------------------------------------------------

    def file_to(self, sender, receiver, topic):
        """sender (its side's secmq-file) sends a 4 MiB file on topic to
        receiver (its side's): byte-identical, hash and sender reported."""
        self.channel(sender, receiver, [(topic + "/#", sender)])
        self.channel(receiver, sender, [(topic + "/r/#", receiver)])
        work = os.path.join(self.broker.dir, "work-" + topic)
        out = os.path.join(work, "out")
        os.makedirs(out)
        src = os.path.join(work, "image-%s.raw" % SIDE[sender])
        with open(src, "wb") as fh:
            fh.write(os.urandom(FILE_BYTES))
        since = self.broker.log_size()
        rx_id = "%s-files" % receiver
        with self.on(SIDE[receiver]):
            p = self.spawn("secmq-file", ["recv"] + self.e2e_conn(receiver) +
                           ["-i", rx_id, "-t", topic, "-o", out, "--json",
                            "-C", "1"])
        rx = LiveProc(p, "secmq-file recv on %s" % SIDE[receiver])
        # Two subscriptions: TOPIC/m and TOPIC/c/+.
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to %s$" % rx_id, MSG_TIMEOUT_S, since,
            count=2), rx.text())
        with self.on(SIDE[sender]):
            p = self.spawn("secmq-file", ["send"] + self.e2e_conn(sender) +
                           ["-i", "%s-files" % sender, "-t", topic,
                            "--json", src])
        tx = LiveProc(p, "secmq-file send on %s" % SIDE[sender])
        self.assertEqual(rx.wait_exit(FILE_TIMEOUT_S), 0, rx.text()[-3000:])
        self.assertEqual(tx.wait_exit(MSG_TIMEOUT_S), 0, tx.text()[-3000:])
        name = os.path.basename(src)
        self.assertEqual(sha256(os.path.join(out, name)), sha256(src))
        done = [json.loads(ln) for ln in rx.out if '"done"' in ln]
        self.assertEqual(len(done), 1, rx.text()[-2000:])
        self.assertEqual(done[0]["name"], name)
        self.assertEqual(done[0]["size"], FILE_BYTES)
        self.assertEqual(done[0]["sender"], sender)
        # Protocol 2: the root of the file's keyed chunk tree.
        self.assertRegex(done[0]["hash"], r"^tree-v2:[0-9a-f]{64}$")

    def test_file_arm64_to_amd64(self):
        self.file_to("sam", "alice", "files-a")

    def test_file_amd64_to_arm64(self):
        self.file_to("alice", "sam", "files-x")


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arm64-bin", required=True,
                    help="bin/ of the arm64 (cross) build")
    ap.add_argument("--native-bin", required=True,
                    help="bin/ of this machine's build (its secmq-certs "
                    "makes the broker's PKI)")
    OPTS, rest = ap.parse_known_args()
    OPTS.arm64_bin = os.path.abspath(OPTS.arm64_bin)
    OPTS.native_bin = os.path.abspath(OPTS.native_bin)
    # Both sides must be what they claim, or the test proves nothing.
    arm = elf_machine(os.path.join(OPTS.arm64_bin, "secmq-pub"))
    native = elf_machine(os.path.join(OPTS.native_bin, "secmq-pub"))
    here = elf_machine(os.path.realpath(sys.executable))
    if arm != EM_AARCH64:
        ap.error("%s/secmq-pub is not an AArch64 program (e_machine %d)"
                 % (OPTS.arm64_bin, arm))
    if native != here or native == EM_AARCH64:
        ap.error("%s/secmq-pub is not a program of this machine's "
                 "(non-arm64) architecture (e_machine %d)"
                 % (OPTS.native_bin, native))
    os.environ["SECMQ_BIN_DIR"] = OPTS.native_bin
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
