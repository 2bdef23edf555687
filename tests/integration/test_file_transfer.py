#!/usr/bin/python3
"""test_file_transfer.py -- secmq-file against a real broker: a file of 8-10 MB
arrives byte-identical although the broker restarts, or the receiver is
SIGKILLed and restarted, mid-transfer; the same when the SENDER, sending
through its durable outbox (--outbox), is SIGKILLed and restarted, or starts
while the broker is down; a tampered chunk injected by a raw client is
rejected and the file still completes, with protocol 2 (the default:
chunks carry a proof to the signed tree root) and protocol 1 (--protocol
1: signed chunks), also a chunk forged by another receiver holding the
file key; a file changed while it is sent stops the sender loudly.

Keyrings are made with secmq-keys (docs/PROTOCOL.md §8.1): sam owns
`files/#` (publisher sam, subscriber alice) and `files/r/#` (publisher
alice, subscriber sam). The sender is slowed down with --rate so that the
restarts happen while chunks are moving; progress is read from the
receiver's --json events, never from sleeps.
"""

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import TIMEOUT_SCALE  # noqa: E402
from keys import (E2ETestCase, LiveProc, flip, kdf_derive,  # noqa: E402
                  open_envelope, open_grant, u16)
from nacl import bindings as nb  # noqa: E402
import broker as brokermod  # noqa: E402

TOPIC = "files"
MB = 1000 * 1000


def make_file(path, size, seed=b"secmq"):
    """size pseudo-random bytes (Python's generator seeded with seed: not
    secret, only different for each seed), written in 1 MiB pieces;
    returns the SHA-256 of the content."""
    h = hashlib.sha256()
    rnd = random.Random(seed)
    with open(path, "wb") as fh:
        n = 0
        while n < size:
            piece = rnd.randbytes(min(1 << 20, size - n))
            fh.write(piece)
            h.update(piece)
            n += len(piece)
    return h.hexdigest()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


class FileTestCase(E2ETestCase):
    """sam sends to alice on `files`; helpers to run both sides. epoch:
    the two channels' --epoch (None: static keys)."""
    epoch = None
    epoch_grace = None

    def setUp(self):
        super().setUp()
        for n in ("sam", "alice"):
            self.make_identity(n)
        g1 = self.create_channel(TOPIC + "/#", publishers=("sam",),
                                 subscribers=("alice",), epoch=self.epoch,
                                 epoch_grace=self.epoch_grace)
        g2 = self.create_channel(TOPIC + "/r/#", publishers=("alice",),
                                 subscribers=("sam",), epoch=self.epoch,
                                 epoch_grace=self.epoch_grace)
        self.import_("alice", self.pubfile("sam"), self.grant(g1, "alice"),
                     self.grant(g2, "alice"))
        self.files_grants = g1
        self.work = os.path.join(self.broker.dir, "work")
        self.out = os.path.join(self.work, "out")
        os.makedirs(self.out)

    def recv(self, *args, client_id="alice-files", wait_sub=True):
        """Start secmq-file recv as alice (persistent session, --json)."""
        conn = self.e2e_conn("alice")
        since = self.broker.log_size()
        p = self.spawn("secmq-file", ["recv"] + conn +
                       ["-i", client_id, "-c", "-t", TOPIC, "-o", self.out,
                        "--json", "--retry", "1"] + list(args))
        live = LiveProc(p, "secmq-file recv")
        if wait_sub:
            self.wait_log_or_exit(p, r": Sending SUBACK to %s$" % client_id,
                                  since)
            # Two subscriptions: TOPIC/m and TOPIC/c/+.
            self.assertTrue(self.broker.wait_for_log(
                r": Sending SUBACK to %s$" % client_id, 10, since, count=2))
        return live

    def send(self, *args, client_id="sam-files"):
        conn = self.e2e_conn("sam")
        p = self.spawn("secmq-file", ["send"] + conn +
                       ["-i", client_id, "-c", "-t", TOPIC, "--json",
                        "--retry", "1",
                        "--state", os.path.join(self.broker.dir, "send.db")] +
                       list(args))
        return LiveProc(p, "secmq-file send")

    @staticmethod
    def events(live, kind=None):
        out = []
        with live.cond:
            lines = list(live.out)
        for ln in lines:
            try:
                ev = json.loads(ln)
            except ValueError:
                continue
            if kind is None or ev.get("event") == kind:
                out.append(ev)
        return out

    def wait_bytes(self, live, at_least, timeout=60.0):
        """Wait until a progress event reports at least at_least bytes."""
        def pred():
            for ln in live.out:
                if '"progress"' in ln or '"start"' in ln:
                    try:
                        if json.loads(ln)["bytes"] >= at_least:
                            return True
                    except (ValueError, KeyError):
                        pass
            return False
        self.assertTrue(live.wait_until(pred, timeout),
                        "no progress past %d bytes: %s"
                        % (at_least, live.text()[-2000:]))

    def leftovers(self):
        """Files in the output directory besides the receiver's state."""
        return sorted(f for f in os.listdir(self.out)
                      if not f.startswith(".secmq-recv.db"))


class Resume(FileTestCase):
    persistence = True

    def test_broker_restart_mid_transfer(self):
        """An 8 MB file, sent at 4 MB/s; the broker (persistence on) is
        restarted when about a third has arrived. Both sides reconnect
        with their persistent sessions; the file arrives byte-identical,
        the receiver prints name, size, hash and sender, the sender exits
        0."""
        src = os.path.join(self.work, "image.raw")
        digest = make_file(src, 8 * MB)
        rx = self.recv("-C", "1")
        tx = self.send("--rate", "4M", src)
        self.wait_bytes(rx, 3 * MB)
        self.broker.restart()
        self.assertEqual(rx.wait_exit(90), 0, rx.text()[-3000:])
        self.assertEqual(tx.wait_exit(30), 0, tx.text()[-3000:])
        self.assertEqual(sha256(os.path.join(self.out, "image.raw")), digest)
        done = self.events(rx, "done")
        self.assertEqual(len(done), 1, rx.text()[-2000:])
        self.assertEqual(done[0]["name"], "image.raw")
        self.assertEqual(done[0]["size"], 8 * MB)
        self.assertEqual(done[0]["sender"], "sam")
        # Protocol 2: the keyed tree root, the same at both ends.
        self.assertTrue(done[0]["hash"].startswith("tree-v2:"), done)
        self.assertEqual(self.leftovers(), ["image.raw"])
        txdone = self.events(tx, "done")
        self.assertEqual(len(txdone), 1, tx.text())
        self.assertEqual(txdone[0]["hash"], done[0]["hash"])

    def test_receiver_sigkill_and_restart(self):
        """The receiver is SIGKILLed at 6 MB of a 10 MB file (after its
        first bitmap commit, which comes within a second) and
        started again with the same client id and directory: its bitmap
        survived, the sender (still running) answers its requests, and
        the file arrives byte-identical, without the partial file."""
        src = os.path.join(self.work, "photo.jpg")
        digest = make_file(src, 10 * MB, seed=b"other")
        rx = self.recv("-C", "1")
        tx = self.send("--rate", "4M", src)
        self.wait_bytes(rx, 6 * MB)
        rx.proc.send_signal(signal.SIGKILL)
        rx.wait_exit(10)
        held_before = max(e["bytes"] for e in self.events(rx, "progress"))
        parts = [f for f in os.listdir(self.out) if f.startswith(".secmq-part-")]
        self.assertEqual(len(parts), 1, os.listdir(self.out))
        rx2 = self.recv("-C", "1")
        self.assertEqual(rx2.wait_exit(90), 0, rx2.text()[-3000:])
        self.assertEqual(tx.wait_exit(30), 0, tx.text()[-3000:])
        starts = self.events(rx2, "start")
        self.assertTrue(starts, rx2.text()[-2000:])
        # Resumed, not started over: it held chunks from the first run.
        self.assertGreater(starts[0]["bytes"], 0, starts)
        self.assertLessEqual(starts[0]["bytes"], held_before + 4 * MB)
        self.assertEqual(sha256(os.path.join(self.out, "photo.jpg")), digest)
        self.assertEqual(self.leftovers(), ["photo.jpg"])


class OutboxSender(FileTestCase):
    """send --outbox FILE: the manifest and the chunks in flight (at most
    --window) are rows of a durable outbox; which chunks are done stays in
    the state file (FILE.xfer)."""

    persistence = True
    WINDOW = 8

    def send_outbox(self, src, *args):
        conn = self.e2e_conn("sam")
        p = self.spawn("secmq-file", ["send"] + conn +
                       ["-i", "sam-files", "-c", "-t", TOPIC, "--json",
                        "--retry", "1", "--window", str(self.WINDOW),
                        "--outbox", self.outbox] + list(args) + [src])
        return LiveProc(p, "secmq-file send --outbox")

    def setUp(self):
        super().setUp()
        self.outbox = os.path.join(self.work, "send-outbox.db")

    def outbox_rows(self):
        """Rows left in the outbox file (read while no sender has it)."""
        import sqlite3
        db = sqlite3.connect(self.outbox)
        try:
            return db.execute("SELECT topic, payload FROM outbox").fetchall()
        finally:
            db.close()

    def test_sender_sigkill_and_restart(self):
        """The SENDER is SIGKILLed at 3 MB of a 5 MB file sent
        through its outbox, and started again with the same outbox: the
        outbox held at most the window of chunks (ciphertext only), the
        second run resumes the same transfer (it does not start over), and
        the file arrives byte-identical."""
        src = os.path.join(self.work, "shot.raw")
        digest = make_file(src, 5 * MB, seed=b"kill-sender")
        rx = self.recv("-C", "1")
        tx = self.send_outbox(src, "--rate", "2M")
        self.wait_bytes(rx, 3 * MB)
        tx.proc.send_signal(signal.SIGKILL)
        tx.wait_exit(10)
        self.assertTrue(os.path.exists(self.outbox + ".xfer"))
        rows = self.outbox_rows()
        chunks = [r for r in rows if "/c/" in r[0]]
        self.assertLessEqual(len(chunks), self.WINDOW, [r[0] for r in rows])
        with open(src, "rb") as fh:
            data = fh.read()
        for topic, payload in rows:
            self.assertNotIn(data[:64], payload)
        tx2 = self.send_outbox(src)
        self.assertEqual(rx.wait_exit(90), 0, rx.text()[-3000:])
        self.assertEqual(tx2.wait_exit(30), 0, tx2.text()[-3000:])
        starts = self.events(tx2, "start")
        self.assertTrue(starts, tx2.text()[-2000:])
        self.assertGreater(starts[0]["bytes"], 0, starts)   # resumed
        self.assertEqual(sha256(os.path.join(self.out, "shot.raw")), digest)
        self.assertEqual(self.leftovers(), ["shot.raw"])
        self.assertEqual(len(self.events(rx, "done")), 1, rx.text())
        # Delivered and confirmed: the second run emptied its outbox.
        self.assertEqual(self.outbox_rows(), [])

    def test_broker_down_at_start(self):
        """`send --outbox` started while the broker is down says it
        queues, commits the manifest and the first window of chunks, and
        completes once the broker is back."""
        src = os.path.join(self.work, "early.bin")
        digest = make_file(src, 2 * MB, seed=b"early")
        self.broker.stop()
        tx = self.send_outbox(src)
        self.assertTrue(tx.wait_until(
            lambda: any("queueing in outbox" in ln for ln in tx.err), 20),
            tx.text()[-2000:])
        self.broker.start()
        rx = self.recv("-C", "1")
        self.assertEqual(rx.wait_exit(90), 0, rx.text()[-3000:])
        self.assertEqual(tx.wait_exit(30), 0, tx.text()[-3000:])
        self.assertEqual(sha256(os.path.join(self.out, "early.bin")), digest)
        self.assertEqual(len(self.events(tx, "done")), 1, tx.text())


def forge_chunk(manifest_env, mtopic, chunk, ctopic, channel_key):
    """What a receiver holding the channel key can do (PROTOCOL.md §8.8):
    open the manifest, take the file key, and seal other bytes as the
    captured chunk's index under the chunk key, with the captured proof.
    The AEAD of the result opens; its leaf is not the sender's."""
    m = open_envelope(manifest_env, mtopic, channel_key)
    assert m is not None and m[:8] == b"SECMQFM2", m and m[:8]
    file_key, chunk_size = m[24:56], int.from_bytes(m[96:100], "big")
    header = chunk[:14] + os.urandom(24)
    ad = b"secmq-chunk-v2" + header + u16(len(ctopic)) + ctopic.encode()
    forged = bytes(chunk_size)   # a full chunk of zeros
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(
        forged, ad, header[14:], kdf_derive(32, 2, b"secmqfil", file_key))
    return header + ct + chunk[38 + chunk_size + 16:]


class Tamper(FileTestCase):

    def tamper(self, *send_args, forge=False):
        """Send a 2 MB file; a raw client (paho, as eve) captures a chunk
        and re-publishes it with a byte of its ciphertext flipped, with
        its last byte flipped, moved to another file's topic (unknown:
        ignored), and (forge) as alice could forge it. The file still
        completes intact; returns the receiver's rejection reasons and
        both sides' done events."""
        src = os.path.join(self.work, "cam.ppm")
        digest = make_file(src, 2 * MB)
        cap = self.paho(subscribe=TOPIC + "/#", client_id="paho-eve")
        rx = self.recv("-C", "1")
        tx = self.send("--rate", "1M", *send_args, src)
        manifest = chunk = None
        for _ in range(40):
            m = cap.get(timeout=20)
            self.assertIsNotNone(m, "paho saw no chunk")
            if m[0] == TOPIC + "/m":
                manifest = m[1]
            elif "/c/" in m[0] and chunk is None:
                chunk = m
            if chunk is not None and (manifest is not None or not forge):
                break
        topic, payload = chunk[0], chunk[1]
        with open(src, "rb") as fh:
            self.assertNotIn(fh.read(64), payload)
        cap.publish(topic, flip(payload, len(payload) // 2), qos=1)
        cap.publish(topic[:-32] + "0" * 32, payload, qos=1)
        cap.publish(topic, flip(payload, len(payload) - 1), qos=1)
        if forge:
            ck = open_grant(self.grant(self.files_grants, "alice"),
                            self.identity("alice"))["channel_key"]
            cap.publish(topic, forge_chunk(manifest, TOPIC + "/m", payload,
                                           topic, ck), qos=1)
        self.assertEqual(rx.wait_exit(60), 0, rx.text()[-3000:])
        self.assertEqual(tx.wait_exit(30), 0, tx.text()[-3000:])
        self.assertEqual(sha256(os.path.join(self.out, "cam.ppm")), digest)
        reasons = sorted(e["reason"] for e in self.events(rx, "rejected"))
        return reasons, self.events(rx, "done"), self.events(tx, "done")

    def test_tampered_chunk_rejected(self):
        """Protocol 2: the flipped ciphertext byte is bad_tag; the flipped
        proof byte and the chunk forged with the file key (valid AEAD,
        other content, the honest proof) are bad_proof: the proof to the
        signed root, not the file key, says what the sender sent."""
        reasons, rxdone, txdone = self.tamper(forge=True)
        self.assertEqual(reasons, ["bad_proof", "bad_proof", "bad_tag"])
        self.assertTrue(rxdone[0]["hash"].startswith("tree-v2:"), rxdone)
        self.assertEqual(txdone[0]["hash"], rxdone[0]["hash"])

    def test_protocol_1_sender(self):
        """send --protocol 1 (for receivers not yet on protocol 2) reaches
        a current receiver: signed chunks (the flipped ciphertext byte is
        bad_tag, the flipped signature byte bad_signature) and the whole
        file's BLAKE2b-256, checked here independently."""
        reasons, rxdone, _ = self.tamper("--protocol", "1")
        self.assertEqual(reasons, ["bad_signature", "bad_tag"])
        with open(os.path.join(self.work, "cam.ppm"), "rb") as fh:
            b2 = hashlib.blake2b(fh.read(), digest_size=32).hexdigest()
        self.assertEqual(rxdone[0]["hash"], "blake2b-256:" + b2)

    def test_file_changed_while_sending(self):
        """The source is overwritten (same size) while it is being sent:
        the sender re-reads each chunk against the tree it announced and
        stops with "changed while it was being sent", exit status 3 (a file failed); the
        receiver holds no complete file."""
        src = os.path.join(self.work, "grow.log")
        make_file(src, 3 * MB, seed=b"changing")
        rx = self.recv()
        tx = self.send("--rate", "1M", src)
        self.wait_bytes(rx, 500 * 1000)
        with open(src, "r+b") as fh:
            fh.seek(2 * MB)
            fh.write(b"x" * (512 * 1024))
        self.assertEqual(tx.wait_exit(30), 3, tx.text()[-3000:])
        self.assertIn("changed while it was being sent", tx.text())
        rx.stop()
        self.assertNotIn("grow.log", os.listdir(self.out))


class Epochs(FileTestCase):
    """Both channels with epochs of 1 s (a grace of 2 s, scaled: a slow
    run's envelopes may arrive late): manifests and requests are envelopes
    under each epoch's step key, chunks use the file's own key."""
    epoch = "1s"
    epoch_grace = "%ds" % (2 * TIMEOUT_SCALE)

    def test_transfer_across_epochs(self):
        """A 3 MB file sent at 1 MB/s spans several epochs (each with its
        own key, erased a second after it ended): it arrives whole, signed
        by sam, and the sender's and receiver's hashes agree."""
        src = os.path.join(self.work, "frames.raw")
        digest = make_file(src, 3 * MB, seed=b"epochs")
        rx = self.recv("-C", "1")
        t0 = time.monotonic()
        tx = self.send("--rate", "1M", src)
        self.assertEqual(rx.wait_exit(90), 0, rx.text()[-3000:])
        self.assertEqual(tx.wait_exit(30), 0, tx.text()[-3000:])
        self.assertGreater(time.monotonic() - t0, 2.0)
        self.assertEqual(sha256(os.path.join(self.out, "frames.raw")), digest)
        done = self.events(rx, "done")
        self.assertEqual(len(done), 1, rx.text()[-2000:])
        self.assertEqual(done[0]["sender"], "sam")
        self.assertEqual(self.events(tx, "done")[0]["hash"], done[0]["hash"])


if __name__ == "__main__":
    unittest.main()
