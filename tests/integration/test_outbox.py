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
from testcase import HOST  # noqa: E402

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

    def opub(self, *args, db=None):
        """secmq-pub as sam with his keyring and --outbox; returns the
        CompletedProcess without asserting."""
        return self.run_tool("secmq-pub", self.e2e_conn("sam") +
                             ["--outbox", db or self.db] + list(args),
                             timeout=60)

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
        n = 10000
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
        n = 10000
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


if __name__ == "__main__":
    unittest.main()
