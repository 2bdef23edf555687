#!/usr/bin/python3
"""test_delivery.py -- secmq-pub -> broker -> secmq-sub over TLS at QoS 0/1/2.

Checks that exactly the published payloads arrive, in order, with the QoS
the subscription allows, and that -C, -v, -F and -l behave as in
mosquitto_pub/mosquitto_sub. Retained messages, wills and sessions have
their own files.
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase, budget  # noqa: E402

PAYLOADS = ["first", "second message with spaces", "ünïcödé ✓",
            "x" * 2000, "last"]


class Delivery(BrokerTestCase):

    def roundtrip(self, qos):
        topic = "test/delivery/qos%d" % qos
        sub = self.start_sub("-t", topic, "-q", "2", "-C", len(PAYLOADS),
                             "-W", budget(10), "-F", "%q|%r|%t|%p",
                             client_id="sub-qos%d" % qos)
        for p in PAYLOADS:
            self.pub("-t", topic, "-q", qos, "-m", p, "-i", "pub-qos%d" % qos)
        rc, out, err = self.finish(sub)
        want = ["%d|0|%s|%s" % (qos, topic, p) for p in PAYLOADS]
        self.assertEqual([ln[:80] for ln in out.splitlines()],
                         [ln[:80] for ln in want], "missing or extra messages")
        self.assertEqual(out.splitlines(), want)
        self.assertEqual(rc, 0, "secmq-sub failed: %r" % err)

    def test_qos0(self):
        self.roundtrip(0)

    def test_qos1(self):
        self.roundtrip(1)

    def test_qos2(self):
        self.roundtrip(2)

    def test_subscription_qos_caps_delivery(self):
        """A QoS 2 publish to a QoS 0 subscription arrives at QoS 0."""
        sub = self.start_sub("-t", "test/cap", "-q", "0", "-C", "1",
                             "-F", "%q %p", client_id="sub-cap")
        self.pub("-t", "test/cap", "-q", "2", "-m", "capped")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "0 capped\n")

    def test_count_and_verbose(self):
        """-C 3 stops after exactly three messages; -v prints the topic."""
        sub = self.start_sub("-t", "test/count/#", "-q", "1", "-C", "3",
                             "-v", client_id="sub-count")
        for i in range(3):
            self.pub("-t", "test/count/%d" % i, "-q", "1", "-m", "m%d" % i)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(),
                         ["test/count/0 m0", "test/count/1 m1",
                          "test/count/2 m2"])

    def test_line_mode(self):
        """secmq-pub -l publishes every stdin line as one message."""
        lines = ["line %d" % i for i in range(20)]
        sub = self.start_sub("-t", "test/lines", "-q", "1",
                             "-C", len(lines), client_id="sub-lines")
        r = self.run_tool("secmq-pub", self.conn_args() +
                          ["-t", "test/lines", "-q", "1", "-l"],
                          input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), lines)

    def test_line_mode_many_all_acknowledged(self):
        """-l at QoS 1 with more lines than secmq-pub keeps in the library
        at once (1,000): every line arrives, in order, and secmq-pub exits
        0 only after the broker has acknowledged each one."""
        lines = ["many %05d" % i for i in range(2500)]
        sub = self.start_sub("-t", "test/many", "-q", "1",
                             "-C", len(lines), client_id="sub-many")
        since = self.broker.log_size()
        r = self.run_tool("secmq-pub", self.conn_args() +
                          ["-i", "pub-many", "-t", "test/many", "-q", "1",
                           "-l", "-d"], input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("published 2500 message(s)", r.stderr[-300:])
        acks = re.findall(r"Sending PUBACK to pub-many ",
                          self.broker.log_text().encode()[since:].decode(
                              "utf-8", "replace"))
        self.assertEqual(len(acks), len(lines), "PUBACKs in the broker log")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), lines)

    def test_line_mode_waits_for_a_stopped_broker(self):
        """-l at QoS 1: while the broker is frozen (SIGSTOP) no PUBACK can
        come, so secmq-pub must still be running after stdin ended; once
        the broker runs again every line arrives and it exits 0."""
        first = ["before %04d" % i for i in range(1500)]
        second = ["during %04d" % i for i in range(1500)]
        sub = self.start_sub("-t", "test/frozen", "-q", "1",
                             "-C", len(first) + len(second),
                             client_id="sub-frozen")
        since = self.broker.log_size()
        pub = self.spawn("secmq-pub", self.conn_args() +
                         ["-i", "pub-frozen", "-t", "test/frozen", "-q", "1",
                          "-l"], stdin=subprocess.PIPE)
        pub.stdin.write(("\n".join(first) + "\n").encode())
        pub.stdin.flush()
        self.wait_log_or_exit(pub, r"Received PUBLISH from pub-frozen ",
                              since)
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            pub.stdin.write(("\n".join(second) + "\n").encode())
            pub.stdin.close()
            pub.stdin = None  # for communicate() in finish()
            time.sleep(2.0)
            self.assertIsNone(pub.poll(), "secmq-pub exited (%r) with its "
                              "messages unacknowledged"
                              % pub.returncode)
        finally:
            self.broker.proc.send_signal(signal.SIGCONT)
        rc, out, err = self.finish(pub)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), first + second)

    def test_large_message_while_the_broker_is_stopped(self):
        """secmq-pub -f of 16 MB at QoS 1 while the broker is frozen
        (SIGSTOP): the TLS socket fills, so the records the library
        gathered for one send() go out only in part and the rest must
        follow, in order, once the broker runs again (SIGCONT after 1 s).
        The subscriber gets the file byte for byte, over one connection
        and one PUBLISH."""
        data = os.urandom(16 * 1024 * 1024)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "big.bin")
        with open(path, "wb") as f:
            f.write(data)
        sub = self.start_sub("-t", "test/big", "-q", "1", "-C", "1",
                             client_id="sub-big")
        since = self.broker.log_size()
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            pub = self.spawn("secmq-pub", self.conn_args() +
                             ["-i", "pub-big", "-t", "test/big", "-q", "1",
                              "-f", path])
            time.sleep(1.0)
            self.assertIsNone(pub.poll(), "secmq-pub exited while the "
                              "broker was stopped")
        finally:
            self.broker.proc.send_signal(signal.SIGCONT)
        self.wait_log_or_exit(None, r"Received PUBLISH from pub-big ", since)
        rc, out, err = self.finish(pub)
        self.assertEqual(rc, 0, err)
        out, err = sub.communicate(timeout=60)
        self.assertEqual(sub.returncode, 0, err)
        self.assertEqual(len(out), len(data) + 1, "payload length")
        self.assertEqual(hashlib.sha256(out[:-1]).hexdigest(),
                         hashlib.sha256(data).hexdigest(),
                         "the payload changed on the way")
        # Over one connection: a lost or reordered record would break the
        # TLS session, and QoS 1 would hide that behind a reconnect and a
        # resend.
        log = self.broker.log_text().encode()[since:].decode(
            "utf-8", "replace")
        self.assertEqual(len(re.findall(r"New client connected from .* as "
                                        r"pub-big ", log)), 1,
                         "secmq-pub connected more than once")
        self.assertEqual(len(re.findall(r"Received PUBLISH from pub-big ",
                                        log)), 1, "the message was resent")

    def test_repeat(self):
        """--repeat N publishes the message N times."""
        sub = self.start_sub("-t", "test/repeat", "-q", "1", "-C", "4",
                             "-W", budget(10), client_id="sub-repeat")
        self.pub("-t", "test/repeat", "-q", "1", "-m", "again",
                 "--repeat", "4")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), ["again"] * 4)

    def test_timeout_without_messages(self):
        """-W 1 with nothing published ends the subscriber by itself, with
        a non-zero exit and no output (as mosquitto_sub does)."""
        sub = self.start_sub("-t", "test/silence", "-W", "1",
                             client_id="sub-silence")
        rc, out, err = self.finish(sub, timeout=10)
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, "")


if __name__ == "__main__":
    unittest.main()
