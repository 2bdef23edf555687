#!/usr/bin/python3
"""test_delivery.py -- secmq-pub -> broker -> secmq-sub over TLS at QoS 0/1/2.

Checks that exactly the published payloads arrive, in order, with the QoS
the subscription allows, and that -C, -v, -F and -l behave as in
mosquitto_pub/mosquitto_sub. Retained messages, wills and sessions have
their own files.
"""

import os
import sys
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
