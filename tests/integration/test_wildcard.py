#!/usr/bin/python3
"""test_wildcard.py -- wildcard subscriptions with secmq-sub.

appiot/+ receives appiot/kitchen and appiot/livingroom but not deeper or
unrelated topics; appiot/# receives the deeper one too. The example
programs have their own file (test_examples.py).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase  # noqa: E402

PUBLISHED = [("appiot/kitchen", "21.5"), ("appiot/kitchen/humidity", "40"),
             ("other/kitchen", "99"), ("appiot/livingroom", "19.0"),
             ("appiotx/hall", "5"), ("appiot/kitchen", "21.7")]


def matches(filt, topic):
    f, t = filt.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


class Wildcard(BrokerTestCase):

    def check(self, filt, client_id):
        want = ["%s %s" % (t, p) for t, p in PUBLISHED if matches(filt, t)]
        sub = self.start_sub("-t", filt, "-q", "1", "-v", "-C", len(want),
                             client_id=client_id)
        for topic, payload in PUBLISHED:
            self.pub("-t", topic, "-q", "1", "-m", payload)
        # The last message published matches every filter tested, so a
        # wrongly delivered message would use up -C before it and show.
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), want)
        return want

    def test_single_level(self):
        got = self.check("appiot/+", "wild-plus")
        self.assertEqual(got, ["appiot/kitchen 21.5", "appiot/livingroom 19.0",
                               "appiot/kitchen 21.7"])

    def test_multi_level(self):
        got = self.check("appiot/#", "wild-hash")
        self.assertIn("appiot/kitchen/humidity 40", got)
        self.assertEqual(len(got), 4)

    def test_several_topics(self):
        """Two -t options on one secmq-sub."""
        sub = self.start_sub("-t", "appiot/kitchen", "-t", "other/+", "-v",
                             "-q", "1", "-C", "2", client_id="wild-two")
        for topic, payload in PUBLISHED:
            self.pub("-t", topic, "-q", "1", "-m", payload)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(),
                         ["appiot/kitchen 21.5", "other/kitchen 99"])


if __name__ == "__main__":
    unittest.main()
