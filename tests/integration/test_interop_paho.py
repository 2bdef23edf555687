#!/usr/bin/python3
"""test_interop_paho.py -- secmq tools against an independent MQTT client.

python3-paho-mqtt 1.6.1 (Python's ssl, i.e. OpenSSL, with the same test CA
and host name checks on) receives what secmq-pub sends, and secmq-sub
receives what paho publishes: the tools speak plain MQTT over standard TLS.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase, PahoClient  # noqa: E402

MESSAGES = [("interop/a", "alpha", 0), ("interop/b", "beta", 1),
            ("interop/c", "gamma ✓", 2), ("interop/a", "x" * 10000, 1)]


class PahoInterop(BrokerTestCase):

    def paho(self, **kw):
        c = PahoClient(self.broker, **kw)
        c.connect()
        self.addCleanup(c.close)
        return c

    def test_paho_receives_from_secmq_pub(self):
        p = self.paho(user="alice", client_id="paho-sub")
        p.subscribe("interop/#", qos=2)
        for topic, payload, qos in MESSAGES:
            self.pub("-t", topic, "-q", qos, "-m", payload)
        got = [p.get() for _ in MESSAGES]
        want = [(t, m.encode(), q, 0) for t, m, q in MESSAGES]
        self.assertEqual(got, want)
        self.assertIsNone(p.get(timeout=0.5), "an extra message arrived")

    def test_secmq_sub_receives_from_paho(self):
        sub = self.start_sub("-t", "interop/#", "-q", "2", "-v",
                             "-C", len(MESSAGES), client_id="secmq-sub")
        p = self.paho(user="alice", client_id="paho-pub")
        for topic, payload, qos in MESSAGES:
            p.publish(topic, payload.encode(), qos=qos)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        # Every message exactly once. MQTT orders messages per QoS only: an
        # incoming QoS 2 message reaches the application at PUBREL, so a
        # later QoS 1 message may overtake it. Within one QoS the order of
        # publishing holds.
        self.assertEqual(sorted(lines),
                         sorted("%s %s" % (t, m) for t, m, _ in MESSAGES))
        for qos in (0, 1, 2):
            want = ["%s %s" % (t, m) for t, m, q in MESSAGES if q == qos]
            self.assertEqual([ln for ln in lines if ln in want], want,
                             "QoS %d messages out of order" % qos)

    def test_retained_from_paho_seen_by_secmq_sub(self):
        p = self.paho(user="alice", client_id="paho-ret")
        p.publish("interop/retained", b"kept", qos=1, retain=True)
        sub = self.start_sub("-t", "interop/retained", "-C", "1", "-W", "10",
                             "-F", "%r %p", client_id="secmq-late")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "1 kept\n")


if __name__ == "__main__":
    unittest.main()
