#!/usr/bin/python3
"""test_retained.py -- retained messages through secmq-pub and secmq-sub.

A retained publish reaches a subscriber that arrives later (with the retain
flag), an empty retained publish (-r -n) clears it, and -R /
--retained-only filter on the flag as in mosquitto_sub.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase  # noqa: E402

TOPIC = "home/light/state"


class Retained(BrokerTestCase):

    def late_subscriber_sees(self, client_id, *extra):
        """Subscribe after the fact, then publish a non-retained sentinel;
        return the lines received up to and including the sentinel. A
        retained message, if any, is sent right after the SUBACK and so
        comes before the sentinel."""
        sub = self.start_sub("-t", TOPIC, "-q", "1", "-F", "%r|%p",
                             "-C", "2", "-W", "10", *extra,
                             client_id=client_id)
        self.pub("-t", TOPIC, "-q", "1", "-m", "sentinel")
        self.pub("-t", TOPIC, "-q", "1", "-m", "sentinel2")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        return out.splitlines()

    def test_retained_reaches_later_subscriber_and_clears(self):
        self.pub("-t", TOPIC, "-q", "1", "-r", "-m", "on")
        self.assertEqual(self.late_subscriber_sees("late-1"),
                         ["1|on", "0|sentinel"])
        # A second retained publish replaces the first.
        self.pub("-t", TOPIC, "-q", "1", "-r", "-m", "off")
        self.assertEqual(self.late_subscriber_sees("late-2"),
                         ["1|off", "0|sentinel"])
        # An empty retained message deletes it.
        self.pub("-t", TOPIC, "-q", "1", "-r", "-n")
        self.assertEqual(self.late_subscriber_sees("late-3"),
                         ["0|sentinel", "0|sentinel2"])

    def test_retained_at_qos0(self):
        self.pub("-t", TOPIC, "-q", "0", "-r", "-m", "q0")
        sub = self.start_sub("-t", TOPIC, "-C", "1", "-W", "10", "-v",
                             client_id="late-q0")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%s q0\n" % TOPIC)

    def test_no_stale(self):
        """-R does not print the retained (stale) message."""
        self.pub("-t", TOPIC, "-q", "1", "-r", "-m", "stale")
        sub = self.start_sub("-t", TOPIC, "-q", "1", "-R", "-C", "1",
                             "-W", "10", client_id="nostale")
        self.pub("-t", TOPIC, "-q", "1", "-m", "fresh")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "fresh\n")

    def test_retained_only(self):
        """--retained-only prints retained messages only."""
        self.pub("-t", "home/a", "-q", "1", "-r", "-m", "ra")
        self.pub("-t", "home/b", "-q", "1", "-r", "-m", "rb")
        sub = self.start_sub("-t", "home/+", "-q", "1", "--retained-only",
                             "-v", "-W", "3", client_id="ronly")
        self.pub("-t", "home/a", "-q", "1", "-m", "live")
        rc, out, err = self.finish(sub)
        self.assertEqual(sorted(out.splitlines()), ["home/a ra", "home/b rb"])


if __name__ == "__main__":
    unittest.main()
