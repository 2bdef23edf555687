#!/usr/bin/python3
"""test_session.py -- persistent (-c) versus clean sessions with secmq-sub.

A subscriber with -c -i ID -q 1 that goes away gets the QoS 1 messages
published meanwhile when it comes back; a clean-session subscriber with the
same steps gets none of them. With broker persistence, the queued messages
also survive a broker restart.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase  # noqa: E402

AWAY = ["while away %d" % i for i in range(5)]


class SessionBase(BrokerTestCase):

    def first_visit(self, topic, client_id, *flags):
        """Subscribe, receive one message, leave (cleanly, via -C 1)."""
        sub = self.start_sub("-t", topic, "-q", "1", "-C", "1", *flags,
                             client_id=client_id)
        self.pub("-t", topic, "-q", "1", "-m", "hello")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "hello\n")
        # -C 1 ends with a clean DISCONNECT, after the PUBACK for "hello";
        # without them the broker redelivers "hello" to the session.
        self.assertTrue(self.broker.wait_client_gone(client_id))
        self.assert_logged(r"Received PUBACK from %s " % client_id,
                           "secmq-sub exited without acknowledging its "
                           "message")
        self.assert_logged(r"Received DISCONNECT from %s$" % client_id,
                           "secmq-sub -C 1 exited without sending DISCONNECT")


class Session(SessionBase):

    def test_persistent_session_gets_messages_sent_while_away(self):
        topic = "test/session/persistent"
        self.first_visit(topic, "fixedid", "-c")
        for m in AWAY:
            self.pub("-t", topic, "-q", "1", "-m", m)
        # Back again: no new SUBSCRIBE is needed for the queued messages,
        # but the tool subscribes anyway; count on exactly five.
        since = self.broker.log_size()
        sub = self.spawn("secmq-sub", self.conn_args() +
                         ["-i", "fixedid", "-c", "-q", "1", "-t", topic,
                          "-C", len(AWAY), "-W", "10"])
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), AWAY)
        self.assertTrue(self.broker.wait_for_log(
            r"New client connected from .* as fixedid \(p\d, c0,",
            since=since, timeout=1), "-c did not ask for a persistent "
            "session (clean session flag still set)")

    def test_clean_session_loses_messages_sent_while_away(self):
        topic = "test/session/clean"
        self.first_visit(topic, "cleanid")
        for m in AWAY:
            self.pub("-t", topic, "-q", "1", "-m", m)
        sub = self.start_sub("-t", topic, "-q", "1", "-C", "1", "-W", "10",
                             client_id="cleanid")
        self.pub("-t", topic, "-q", "1", "-m", "after return")
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "after return\n")


class SessionAcrossRestart(SessionBase):
    """The same, with persistence on and a broker restart while away."""

    persistence = True

    def test_persistent_session_survives_broker_restart(self):
        topic = "test/session/restart"
        self.first_visit(topic, "durable", "-c")
        for m in AWAY:
            self.pub("-t", topic, "-q", "1", "-m", m)
        self.broker.restart()
        self.assert_logged(r"Saving in-memory database",
                           "the broker did not save its state at restart")
        sub = self.spawn("secmq-sub", self.conn_args() +
                         ["-i", "durable", "-c", "-q", "1", "-t", topic,
                          "-C", len(AWAY), "-W", "10"])
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), AWAY)


if __name__ == "__main__":
    unittest.main()
