#!/usr/bin/python3
"""test_outbox_qos2_cli.py -- secmq-pub --outbox and a broker without QoS 2.

The broker is tests/common/fakebroker_main.c (secmq_fakebroker): it answers
QoS 2 with PUBACK, as RabbitMQ does, and prints what it was sent when it
stops. The outbox file is read with Python's own sqlite3.

- A QoS 2 message: said on stderr (the cause and the count), kept in the
  file (quarantine table, reason 'qos2-unsupported'), exit status 1.
- The next run with a QoS 1 message: sent, the held one is not; the run
  still says it and exits 1.
- --outbox-release-qos2 1: the held message is sent first, at QoS 1, then
  the run's own; the file is empty; exit 0.
- --outbox-release-qos2 3 is refused before anything happens.
"""

import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

TIMEOUT = 30 * int(os.environ.get("SECMQ_TEST_TIMEOUT_SCALE", "1"))


def bin_dir():
    d = os.environ.get("SECMQ_BIN_DIR")
    if d:
        return d
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "build", "bin")


def fakebroker_path():
    p = os.environ.get("SECMQ_FAKEBROKER")
    if not p:
        p = os.path.join(bin_dir(), "..", "tests", "secmq_fakebroker")
    return p


class FakeBroker:
    """secmq_fakebroker on a free loopback port; stop() returns the
    (qos, payload) pairs it read, in order."""

    def __init__(self):
        self.p = subprocess.Popen([fakebroker_path()], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            self.p.kill()
            raise RuntimeError("secmq_fakebroker did not start: %r" % line)
        self.port = int(line[1])

    def stop(self):
        out, _ = self.p.communicate(input="", timeout=TIMEOUT)
        pubs = []
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if parts[0] == "pub":
                pubs.append((int(parts[1]), parts[2] if len(parts) > 2
                             else ""))
        return pubs


def file_state(path):
    """(rows in the outbox table, {id: reason} of the quarantine table)."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        rows = db.execute("SELECT id, qos FROM outbox ORDER BY id").fetchall()
        quar = dict(db.execute("SELECT id, reason FROM quarantine"))
        return rows, quar
    finally:
        db.close()


class OutboxQos2Cli(unittest.TestCase):

    def setUp(self):
        if not os.access(fakebroker_path(), os.X_OK):
            self.fail("secmq_fakebroker not found at %s (not built?)"
                      % fakebroker_path())
        self.tmp = tempfile.TemporaryDirectory(prefix="secmq-ob-qos2-")
        self.outbox = os.path.join(self.tmp.name, "outbox.db")
        self.broker = FakeBroker()
        self.addCleanup(self.tmp.cleanup)

    def tearDown(self):
        if self.broker is not None:
            self.broker.stop()

    def pub(self, *args):
        cmd = [os.path.join(bin_dir(), "secmq-pub"), "--no-tls",
               "-h", "127.0.0.1", "-p", str(self.broker.port),
               "--outbox", self.outbox, "--outbox-wait", "3"] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr

    def test_held_said_kept_then_released(self):
        code, err = self.pub("-t", "t/b", "-m", "b", "-q", "2")
        self.assertEqual(code, 1, err)
        self.assertIn("1 QoS 2 message(s) set aside and not sent: the broker "
                      "does not support QoS 2", err)
        self.assertIn("--outbox-release-qos2 1", err)
        rows, quar = file_state(self.outbox)
        self.assertEqual(rows, [(1, 2)])
        self.assertEqual(quar, {1: "qos2-unsupported"})

        code, err = self.pub("-t", "t/c", "-m", "c", "-q", "1")
        self.assertEqual(code, 1, err)
        self.assertIn("set aside by an earlier run", err)
        self.assertIn("1 QoS 2 message(s) set aside and not sent", err)
        rows, quar = file_state(self.outbox)
        self.assertEqual(rows, [(1, 2)])

        code, err = self.pub("--outbox-release-qos2", "1",
                             "-t", "t/d", "-m", "d", "-q", "1")
        self.assertEqual(code, 0, err)
        self.assertIn("1 QoS 2 message(s) set aside earlier released at "
                      "QoS 1", err)
        rows, quar = file_state(self.outbox)
        self.assertEqual((rows, quar), ([], {}))

        pubs = self.broker.stop()
        self.broker = None
        # b once at QoS 2 (refused), c, then b at QoS 1 before d.
        self.assertEqual(pubs, [(2, "b"), (1, "c"), (1, "b"), (1, "d")])

    def test_release_qos_checked(self):
        code, err = self.pub("--outbox-release-qos2", "3", "-t", "t/x",
                             "-m", "x", "-q", "1")
        self.assertNotEqual(code, 0)
        self.assertIn("1 or 2, not '3'", err)
        self.assertFalse(os.path.exists(self.outbox))


if __name__ == "__main__":
    unittest.main()
