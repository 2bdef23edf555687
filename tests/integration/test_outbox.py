#!/usr/bin/python3
"""test_outbox.py -- secmq-pub --outbox against a real broker that goes away.

Keyrings are made with secmq-keys (sam publishes `status` sealed, bob reads
it), so "exactly once" is checked twice: by what the application (bob's
secmq-sub) prints, and by the envelopes' sequence numbers that an
independent paho subscriber sees on the wire. The outbox file is read with
Python's own sqlite3 to watch the queue and to check what is on disk.

- 1,000 QoS 1 messages published (-l) while the broker is down all arrive,
  once and in order, after it starts (bob and the paho watcher hold
  persistent sessions on a broker with persistence, so nothing depends on
  who reconnects first).
- The publisher is SIGKILLed halfway through draining its outbox; the next
  run sends the rest; bob sees every message once, in order.
- A one-shot publish with the broker down queues, says so, exits 75; the
  next run sends it first.
- Both bound policies, said on stderr and counted (-d).
- A corrupt file and a foreign sqlite file: a clear error, left untouched.
- Only ciphertext on disk (file, -wal, -shm) on a sealed topic.
- A row with one byte changed (sqlite sees nothing wrong) or one sqlite
  cannot read: named, set aside in the quarantine table, never sent (bob
  and a paho watcher see no trace of it), the others delivered, exit 1.
- A version 1 file (no checksums) is upgraded and delivered.
- A full disk (a small tmpfs mounted by the test): what is queued is sent
  before the new message is refused; deletes that cannot be written are
  said, exit 1; once there is room the next run resends them (receivers
  drop the copies) and empties the file.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from keys import E2ETestCase, Envelope, LiveProc  # noqa: E402
from testcase import HOST, volume  # noqa: E402

EXIT_QUEUED = 75


def outbox_rows(path):
    """Rows in the outbox file now (0 when it does not exist yet)."""
    if not os.path.exists(path):
        return 0
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return -1


class RawWatcher:
    """A paho subscriber with a persistent session (QoS 1) that records
    every payload it receives, reconnecting by itself."""

    def __init__(self, broker, client_id, topic):
        import paho.mqtt.client as mqtt
        import ssl
        self.payloads = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.topic = topic
        self.c = mqtt.Client(client_id=client_id, clean_session=False,
                             protocol=mqtt.MQTTv311)
        self.c.tls_set(ca_certs=broker.cafile,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.username_pw_set("eve", broker.users["eve"])
        self.c.reconnect_delay_set(min_delay=1, max_delay=2)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda c, u, m, g: self.subscribed.set()
        self.c.on_message = self._on_message
        self.c.connect(HOST, broker.port, keepalive=30)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            raise AssertionError("paho watcher did not subscribe")

    def _on_connect(self, c, u, flags, rc):
        if rc == 0 and not flags.get("session present"):
            c.subscribe(self.topic, qos=1)

    def _on_message(self, c, u, msg):
        with self.lock:
            self.payloads.append(bytes(msg.payload))

    def count(self):
        with self.lock:
            return len(self.payloads)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class OutboxBase(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.make_world()
        self.db = os.path.join(self.broker.dir, "outbox.db")

    def opub(self, *args, db=None, input=None):
        """secmq-pub as sam with his keyring and --outbox; returns the
        CompletedProcess without asserting."""
        return self.run_tool("secmq-pub", self.e2e_conn("sam") +
                             ["--outbox", db or self.db] + list(args),
                             timeout=60, input=input)

    def spawn_pub(self, *args, db=None):
        p = subprocess.Popen(
            [self.tool("secmq-pub")] + self.e2e_conn("sam") +
            ["--outbox", db or self.db] + [str(a) for a in args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=self.child_env())
        self._procs.append(p)
        return p

    def wait_rows(self, pred, timeout, what, db=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = outbox_rows(db or self.db)
            if pred(n):
                return n
            time.sleep(0.005)
        self.fail("%s: outbox rows %d" % (what, outbox_rows(db or self.db)))

    def finish_pub(self, p, timeout=60):
        if p.stdin is not None and p.stdin.closed:
            p.stdin = None
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=5)
            self.fail("secmq-pub did not finish: %r" % err)
        return p.returncode, out.decode(), err.decode()


class BrokerAway(OutboxBase):
    persistence = True

    def test_1000_published_while_down_arrive_once_in_order(self):
        """secmq-pub -l --outbox keeps reading while the broker is down
        (it was down before the publisher started) and delivers all 1,000
        QoS 1 messages after the broker starts: bob's application sees
        each once, in order; on the wire the envelopes' sequence numbers
        are 1,000 distinct, increasing values."""
        bob = self.sub("bob", "-t", "status", "-q", "1", "-c", "-F", "%p",
                       "-d", client_id="bob-persist")
        raw = RawWatcher(self.broker, "paho-raw", "status")
        self.addCleanup(raw.close)
        self.broker.stop()

        n = 1000
        pub = self.spawn_pub("-t", "status", "-q", "1", "-l", "-d",
                             "--outbox-wait", "60")
        live = LiveProc(pub, "secmq-pub -l")  # drains its -d output
        lines = ["msg-%04d" % i for i in range(n)]
        pub.stdin.write(("\n".join(lines) + "\n").encode())
        pub.stdin.flush()
        # All committed while the broker is away, and the tool still runs.
        self.wait_rows(lambda k: k == n, 30, "1000 rows committed")
        time.sleep(0.5)
        self.assertIsNone(pub.poll(), "secmq-pub -l exited while the "
                          "broker was down")
        self.assertEqual(outbox_rows(self.db), n)

        self.broker.start()
        self.assertTrue(bob.wait_out(n, timeout=60),
                        "bob got %d of %d; rows left %d; publisher: %s"
                        % (len(bob.out), n, outbox_rows(self.db),
                           live.text()[-3000:]))
        pub.stdin.close()
        code = live.wait_exit(30)
        err = "\n".join(live.err)
        self.assertEqual(code, 0, err[-3000:])
        self.assertIn("broker unreachable", err)
        self.assertRegex(err, r"queued 1000, committed 1000 .*sent 1000, "
                              r"acknowledged 1000")
        self.assertEqual(outbox_rows(self.db), 0)
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text()[-2000:])
        self.assertEqual(bob.out, lines, "not exactly once, in order")
        self.assertEqual(bob.drops(), [])

        deadline = time.monotonic() + 10
        while raw.count() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        with raw.lock:
            seqs = [Envelope(p).seq for p in raw.payloads]
        self.assertEqual(len(set(seqs)), n, "distinct envelopes on the wire")
        firsts = []
        for s in seqs:
            if s not in firsts[-1:] and (not firsts or s > firsts[-1]):
                firsts.append(s)
        self.assertEqual(len(firsts), n, "sequence numbers out of order")

    def test_sigkill_while_draining(self):
        """The publisher is SIGKILLed halfway through draining a full
        outbox; the next run sends the rest. bob sees every message once
        and in order (a resent envelope is dropped by its sequence number:
        `replay`), and the outbox ends empty."""
        n = volume(10000)
        self.broker.stop()
        feed = "".join("k-%05d\n" % i for i in range(n))
        # Filled quickly (NORMAL); drained below with the default, FULL.
        p = self.spawn_pub("-t", "status", "-q", "1", "-l", "--outbox-wait",
                           "0", "--outbox-sync", "normal")
        p.stdin.write(feed.encode())
        p.stdin.close()
        code, _, err = self.finish_pub(p)
        self.assertEqual(code, EXIT_QUEUED, err)
        self.assertIn("stay queued", err)
        self.assertEqual(outbox_rows(self.db), n)

        self.broker.start()
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p", "-d",
                       client_id="bob-kill")
        drain = self.spawn_pub("-t", "status", "-q", "1", "-l",
                               "--outbox-wait", "30")
        left = self.wait_rows(lambda k: 0 <= k <= n * 8 // 10, 30,
                              "draining")
        drain.send_signal(signal.SIGKILL)
        drain.wait(10)
        after_kill = outbox_rows(self.db)
        self.assertGreater(after_kill, 0, "drained before the kill")
        self.assertLess(after_kill, n)
        sys.stderr.write("\n   killed with %d of %d rows left (seen %d)\n"
                         % (after_kill, n, left))

        again = self.spawn_pub("-t", "status", "-q", "1", "-l",
                               "--outbox-wait", "30")
        again.stdin.close()
        code, _, err = self.finish_pub(again)
        self.assertEqual(code, 0, err)
        self.assertEqual(outbox_rows(self.db), 0)
        self.assertTrue(bob.wait_out(n, timeout=60), bob.text()[-2000:])
        time.sleep(0.5)
        self.assertEqual(bob.stop(), 0, bob.text()[-2000:])
        want = ["k-%05d" % i for i in range(n)]
        self.assertEqual(len(bob.out), n, "duplicates or losses")
        self.assertEqual(bob.out, want)
        self.assertTrue(all(reason == "replay" for _, reason in bob.drops()),
                        bob.drops()[:5])

    def test_broker_restart_while_draining(self):
        """The broker restarts while secmq-pub drains a full outbox:
        libmosquitto resends what it had in flight, and the outbox hands
        nothing newer until that resend was acknowledged, so bob (a
        persistent session) still sees every message once and in order
        (a later message overtaking would show up out of order, or be
        refused as too far behind the replay window)."""
        n = volume(10000)
        bob = self.sub("bob", "-t", "status", "-q", "1", "-c", "-F", "%p",
                       client_id="bob-restart")
        self.broker.stop()
        p = self.spawn_pub("-t", "status", "-q", "1", "-l", "--outbox-wait",
                           "0", "--outbox-sync", "normal")
        p.stdin.write("".join("r-%05d\n" % i for i in range(n)).encode())
        p.stdin.close()
        code, _, err = self.finish_pub(p)
        self.assertEqual(code, EXIT_QUEUED, err)
        self.broker.start()
        drain = self.spawn_pub("-t", "status", "-q", "1", "-l",
                               "--outbox-wait", "60")
        live = LiveProc(drain, "secmq-pub draining")
        self.wait_rows(lambda k: 0 <= k <= n * 8 // 10, 30, "draining")
        self.broker.stop()
        left = outbox_rows(self.db)
        self.assertGreater(left, 0, "drained before the restart")
        self.broker.start()
        drain.stdin.close()
        self.assertEqual(live.wait_exit(60), 0, live.text()[-3000:])
        self.assertEqual(outbox_rows(self.db), 0)
        self.assertTrue(bob.wait_out(n, timeout=60),
                        "bob got %d" % len(bob.out))
        time.sleep(0.5)
        self.assertEqual(bob.stop(), 0, bob.text()[-2000:])
        sys.stderr.write("\n   restarted with %d of %d rows left; bob "
                         "dropped %d resent copies\n"
                         % (left, n, len(bob.drops())))
        self.assertEqual(bob.out, ["r-%05d" % i for i in range(n)])
        self.assertTrue(all(reason == "replay" for _, reason in bob.drops()),
                        bob.drops()[:5])

    def test_one_shot_queues_then_sent_first(self):
        """A one-shot publish with the broker down commits the message,
        says so on one line and exits 75; the next run (broker up) sends
        the queued message first, then its own."""
        self.broker.stop()
        r = self.opub("-t", "status", "-q", "1", "-m", "first")
        self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertRegex(lines[0], r"broker unreachable")
        self.assertIn("1 message(s) stay queued in outbox %s" % self.db,
                      lines[0])
        self.assertEqual(outbox_rows(self.db), 1)
        self.broker.start()
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p",
                       client_id="bob-oneshot")
        r = self.opub("-t", "status", "-q", "1", "-m", "second", "-d")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"recovered 1, queued 1, committed 1")
        self.assertRegex(r.stderr, r"at exit: 0 message\(s\), 0 bytes")
        self.assertTrue(bob.wait_out(2), bob.text())
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertEqual(bob.out, ["first", "second"])
        self.assertEqual(outbox_rows(self.db), 0)


class Bounds(OutboxBase):

    def test_policies(self):
        """At --outbox-max-rows 5, eight lines: `refuse` keeps the first
        five, says so on stderr and counts 3 refusals (-d, exit 1 once the
        broker took the rest); `drop-oldest` keeps the newest five, warns
        and counts 3 drops. Delivered afterwards: exactly the kept ones."""
        refuse = os.path.join(self.broker.dir, "refuse.db")
        drop = os.path.join(self.broker.dir, "drop.db")
        feed = "".join("b-%d\n" % i for i in range(1, 9))
        self.broker.stop()
        r = self.run_tool("secmq-pub", self.e2e_conn("sam") + [
            "--outbox", refuse, "--outbox-max-rows", "5", "-t", "status",
            "-q", "1", "-l", "-d", "--outbox-wait", "0"], input=feed,
            timeout=30)
        self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        self.assertRegex(r.stderr, r"message not queued: outbox .* is full")
        self.assertRegex(r.stderr, r"refused full 3\b")
        self.assertEqual(outbox_rows(refuse), 5)
        r = self.run_tool("secmq-pub", self.e2e_conn("sam") + [
            "--outbox", drop, "--outbox-max-rows", "5", "--outbox-full",
            "drop-oldest", "-t", "status", "-q", "1", "-l", "-d",
            "--outbox-wait", "0"], input=feed, timeout=30)
        self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        self.assertRegex(r.stderr, r"warning: outbox .* is full .*dropped "
                                   r"the \d+ oldest")
        self.assertRegex(r.stderr, r"dropped oldest 3\b")
        self.assertEqual(outbox_rows(drop), 5)

        self.broker.start()
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p",
                       client_id="bob-bounds")
        for path in (refuse, drop):
            r = self.run_tool("secmq-pub", self.e2e_conn("sam") + [
                "--outbox", path, "-t", "status", "-q", "1", "-l"],
                timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(bob.wait_out(10), bob.text())
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertEqual(bob.out, ["b-%d" % i for i in range(1, 6)] +
                         ["b-%d" % i for i in range(4, 9)])


class Files(OutboxBase):

    def refused(self, path, pattern):
        with open(path, "rb") as fh:
            before = fh.read()
        r = self.opub("-t", "status", "-q", "1", "-m", "x", db=path)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(path, lines[0])
        self.assertRegex(lines[0], pattern)
        self.assertRegex(lines[0], r"left as it is")
        with open(path, "rb") as fh:
            self.assertEqual(fh.read(), before, "the file was changed")
        self.assertFalse(os.path.exists(path + "-wal"))

    def test_corrupt_and_foreign_files_untouched(self):
        """A file of junk and another application's sqlite database are
        refused with a one-line reason naming the file, exit 1, and are
        byte for byte unchanged."""
        junk = os.path.join(self.broker.dir, "junk.db")
        with open(junk, "wb") as fh:
            fh.write(os.urandom(8192))
        self.refused(junk, r"not a database")
        foreign = os.path.join(self.broker.dir, "foreign.db")
        db = sqlite3.connect(foreign)
        db.execute("CREATE TABLE photos(name TEXT, data BLOB)")
        db.execute("INSERT INTO photos VALUES ('cat', x'00ff')")
        db.commit()
        db.close()
        self.refused(foreign, r"not a secmq outbox")

    def test_only_ciphertext_on_disk(self):
        """Sealed: the database, its -wal and -shm never contain the
        plaintext; the stored payload is the envelope (138 bytes more, the
        version byte first). The scan itself is checked by a --raw
        message, which the outbox stores as given (documented)."""
        secret = "SECRET-%s" % os.urandom(8).hex()
        self.broker.stop()
        r = self.opub("-t", "status", "-q", "1", "-m", secret)
        self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        blobs = b""
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                with open(self.db + suffix, "rb") as fh:
                    blobs += fh.read()
        self.assertNotIn(secret.encode(), blobs)
        self.assertNotIn(secret.encode().hex().encode(), blobs)
        self.assertEqual(os.stat(self.db).st_mode & 0o777, 0o600)
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        [(topic, payload, sealed)] = db.execute(
            "SELECT topic, payload, sealed FROM outbox").fetchall()
        db.close()
        self.assertEqual((topic, sealed), ("status", 1))
        self.assertEqual(len(payload), len(secret) + 138)
        self.assertEqual(payload[0], 0x01)

        plain = "PLAIN-%s" % os.urandom(8).hex()
        r = self.opub("-t", "status", "-q", "1", "-m", plain, "--raw")
        self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        blobs = b""
        for suffix in ("", "-wal"):
            if os.path.exists(self.db + suffix):
                with open(self.db + suffix, "rb") as fh:
                    blobs += fh.read()
        self.assertIn(plain.encode(), blobs)
        self.assertNotIn(secret.encode(), blobs)


def checkpoint(path):
    """Move everything from the -wal into the file itself (as the last
    close does), so bytes can be changed in the file."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def flip_byte(path, offset):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x01]))


def row_payload(path, rid):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return db.execute("SELECT payload FROM outbox WHERE id = ?",
                          (rid,)).fetchone()[0]
    finally:
        db.close()


def quarantined(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return [r[0] for r in db.execute(
            "SELECT id FROM quarantine ORDER BY id")]
    finally:
        db.close()


class Damage(OutboxBase):
    """Rows damaged on disk are found by their checksum (or because sqlite
    cannot read them), named, set aside and never sent; the rest flows."""

    def queue_offline(self, args, inputs=None):
        self.broker.stop()
        for a in args:
            r = self.run_tool("secmq-pub", self.e2e_conn("sam") + [
                "--outbox", self.db, "-t", "status", "-q", "1",
                "--outbox-wait", "0"] + a, input=inputs, timeout=30)
            self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        checkpoint(self.db)
        self.broker.start()

    def watch(self, cid):
        raw = RawWatcher(self.broker, "paho-" + cid, "status")
        self.addCleanup(raw.close)
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p",
                       client_id="bob-" + cid)
        return bob, raw

    def test_changed_byte_set_aside_never_sent(self):
        """One byte of row 3's envelope changed in the file: sqlite's
        integrity check passes, but the row's checksum does not. secmq-pub
        -m names message 3, sends the four others and its own, exits 1;
        the damaged envelope never reaches the broker (paho sees 5
        envelopes, bob drops nothing). The row stays in the file, listed
        in its quarantine table; the next run warns and exits 0."""
        self.queue_offline([["-l"]], "".join("c-%d\n" % i
                                             for i in range(5)))
        env = row_payload(self.db, 3)
        with open(self.db, "rb") as fh:
            at = fh.read().find(env)
        self.assertGreater(at, 0)
        flip_byte(self.db, at + 60)  # inside the ciphertext
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0],
                         "ok")
        db.close()

        bob, raw = self.watch("damage")
        r = self.opub("-t", "status", "-q", "1", "-m", "six")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"outbox %s: message 3 is damaged in the "
                         r"file .*set aside .*not sent" % self.db)
        self.assertRegex(r.stderr, r"1 damaged message\(s\) were set aside")
        self.assertTrue(bob.wait_out(5), bob.text())
        self.assertEqual(quarantined(self.db), [3])
        self.assertEqual(outbox_rows(self.db), 1)  # row 3, kept as it was

        r = self.opub("-t", "status", "-q", "1", "-m", "seven")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"warning: outbox .*1 damaged "
                         r"message\(s\) set aside by an earlier run")
        self.assertTrue(bob.wait_out(6), bob.text())
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertEqual(bob.out, ["c-0", "c-1", "c-3", "c-4", "six",
                                   "seven"])
        self.assertEqual(bob.drops(), [])
        deadline = time.monotonic() + 10
        while raw.count() < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        with raw.lock:
            self.assertEqual(len(raw.payloads), 6)
            self.assertNotIn(env[:60] + bytes([env[60] ^ 1]) + env[61:],
                             raw.payloads)

    def break_overflow_pointer(self, rid, others):
        """Change one byte of the overflow page number of row rid's
        record, so sqlite cannot read it, while rows others still read as
        before. The row's first bytes may also lie in a freed part of a
        page (an older copy of its cell): each place they are found is
        tried until the damage hits rid and nothing else."""
        env = row_payload(self.db, rid)
        before = {o: row_payload(self.db, o) for o in others}
        with open(self.db, "rb") as fh:
            data = fh.read()
        at = data.find(env[:64])
        while at > 0:
            local = 0
            while data[at + local] == env[local]:
                local += 1
            # The 4-byte overflow page number follows the local part.
            flip_byte(self.db, at + local + 3)
            try:
                hit = row_payload(self.db, rid) != env
            except sqlite3.DatabaseError:
                hit = True
            try:
                kept = all(row_payload(self.db, o) == before[o]
                           for o in others)
            except sqlite3.DatabaseError:
                kept = False
            if hit and kept:
                return
            flip_byte(self.db, at + local + 3)
            at = data.find(env[:64], at + 1)
        self.fail("no place of row %d's record in %s could be damaged "
                  "alone" % (rid, self.db))

    def test_unreadable_row_does_not_stop_the_queue(self):
        """Row 2's record points to a wrong overflow page (one byte of the
        file changed): sqlite cannot read it. secmq-pub used to stop
        handing rows there and wait for ever; now -m and then -l name it,
        deliver the rest and exit 1."""
        big = os.path.join(self.broker.dir, "big")
        with open(big, "wb") as fh:
            fh.write(b"B" * 9000)
        self.queue_offline([["-f", big]] * 3 + [["-l"]], "line-1\n")
        self.break_overflow_pointer(2, (1, 3))

        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p",
                       client_id="bob-unreadable")
        p = self.spawn_pub("-t", "status", "-q", "1", "-l")
        p.stdin.write(b"line-2\n")
        p.stdin.close()
        code, _, err = self.finish_pub(p, timeout=30)
        self.assertEqual(code, 1, err)
        self.assertRegex(err, r"message 2 is damaged in the file")
        self.assertTrue(bob.wait_out(4), bob.text())
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertEqual(bob.out, ["B" * 9000, "B" * 9000, "line-1",
                                   "line-2"])
        self.assertEqual(bob.drops(), [])
        self.assertEqual(quarantined(self.db), [2])

    def test_version1_file_upgraded(self):
        """A file of format version 1 (no checksums, no quarantine table)
        is upgraded in place at open: its rows are delivered in order."""
        self.queue_offline([["-l"]], "v-1\nv-2\n")
        db = sqlite3.connect(self.db)
        db.execute("ALTER TABLE outbox DROP COLUMN sum")
        db.execute("DROP TABLE quarantine")
        db.execute("PRAGMA user_version = 1")
        db.commit()
        db.close()
        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p",
                       client_id="bob-v1")
        r = self.opub("-t", "status", "-q", "1", "-m", "v-3", "-d")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("upgraded from format version 1 to 2", r.stderr)
        self.assertTrue(bob.wait_out(3), bob.text())
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text())
        self.assertEqual(bob.out, ["v-1", "v-2", "v-3"])
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 2)
        db.close()


class DiskFull(OutboxBase):
    """The outbox on a filesystem that is full: a 1 MiB tmpfs the test
    mounts (root), with a filler file taking all but 32 KiB (room for
    sqlite's -shm, none for the -wal)."""

    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.broker.dir, "small")
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m",
                            "tmpfs", self.mnt], capture_output=True,
                           text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs for a full disk (needs "
                          "root and mount): %s" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        self.db = os.path.join(self.mnt, "outbox.db")

    def fill_disk(self):
        # The last connection to close removes -wal and -shm (a reader's
        # may be left otherwise): the next process must make them anew.
        checkpoint(self.db)
        for suffix in ("-wal", "-shm"):
            self.assertFalse(os.path.exists(self.db + suffix), suffix)
        st = os.statvfs(self.mnt)
        free = st.f_bavail * st.f_frsize
        self.assertGreater(free, 65536)
        with open(os.path.join(self.mnt, "filler"), "wb") as fh:
            fh.write(b"\0" * (free - 32768))

    def test_full_disk_sends_the_queue_and_says_what_stays(self):
        """20 rows queued while the broker was away, then the disk fills.
        secmq-pub -m sends the 20 queued rows although its own message
        cannot be committed, says that message was not sent, says the 20
        delivered rows cannot be deleted (no "0 queued"), exits 1. With
        room again the next run resends them (bob drops the copies as
        replays), sends its own and leaves the file empty."""
        n = 20
        self.broker.stop()
        r = self.opub("-t", "status", "-q", "1", "-l", "--outbox-wait", "0",
                      input="".join("d-%02d\n" % i for i in range(n)))
        self.assertEqual(r.returncode, EXIT_QUEUED, r.stderr)
        self.assertEqual(outbox_rows(self.db), n)
        self.broker.start()
        self.fill_disk()

        bob = self.sub("bob", "-t", "status", "-q", "1", "-F", "%p", "-d",
                       client_id="bob-full")
        r = self.opub("-t", "status", "-q", "1", "-m", "new", "-d")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"message for 'status' not queued and "
                                   r"not sent: .*full")
        self.assertRegex(r.stderr, r"%d message\(s\) were delivered but "
                                   r"cannot be deleted from the file" % n)
        self.assertRegex(r.stderr, r"not yet deleted %d\b" % n)
        self.assertTrue(bob.wait_out(n), bob.text()[-2000:])
        self.assertEqual(outbox_rows(self.db), n)

        os.unlink(os.path.join(self.mnt, "filler"))
        r = self.opub("-t", "status", "-q", "1", "-m", "again")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(bob.wait_out(n + 1), bob.text()[-2000:])
        self.assertTrue(bob.wait_drops(n), bob.text()[-2000:])
        time.sleep(0.3)
        self.assertEqual(bob.stop(), 0, bob.text()[-2000:])
        self.assertEqual(bob.out, ["d-%02d" % i for i in range(n)] +
                         ["again"])
        self.assertTrue(all(reason == "replay" for _, reason in bob.drops()),
                        bob.drops()[:5])
        self.assertEqual(outbox_rows(self.db), 0)

        # Full again and the broker away: exit status 75 would say the
        # message waits in the outbox; it does not, so the exit is 1.
        self.broker.stop()
        self.fill_disk()
        r = self.opub("-t", "status", "-q", "1", "-m", "lost")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"1 message\(s\) could not be queued "
                                   r"and were not sent")
        self.assertEqual(outbox_rows(self.db), 0)


if __name__ == "__main__":
    unittest.main()
