#!/usr/bin/python3
"""test_will.py -- last will through secmq-sub / secmq-pub --will-* flags.

A client that dies without DISCONNECT (SIGKILL) has its will published by
the broker; a client that ends cleanly does not. Keep-alive expiry has its
own file (test_keepalive.py).
"""

import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase  # noqa: E402

WILL = ["--will-topic", "status/device", "--will-payload", "offline",
        "--will-qos", "1"]


class Will(BrokerTestCase):

    def watcher(self, name, count=1):
        return self.start_sub("-t", "status/#", "-q", "1", "-v",
                              "-C", count, "-W", "15", client_id=name)

    def connected(self, proc, client_id, since):
        self.wait_log_or_exit(proc, r": New client connected from .* as %s "
                              % client_id, since)

    def test_will_on_sigkill_of_subscriber(self):
        w = self.watcher("watch-1")
        dev = self.start_sub("-t", "cmd/device", *WILL, client_id="dev-sub")
        self.assert_logged(r"Will message specified \(\d+ bytes\)",
                           "--will-topic did not reach CONNECT")
        dev.send_signal(signal.SIGKILL)
        rc, out, err = self.finish(w)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "status/device offline\n")

    def test_will_on_sigkill_of_line_publisher(self):
        """secmq-pub -l reading from a pipe that stays open, then killed."""
        w = self.watcher("watch-2")
        since = self.broker.log_size()
        dev = self.spawn("secmq-pub", self.conn_args() +
                         ["-i", "dev-pub", "-t", "data/device", "-q", "1",
                          "-l"] + WILL, stdin=subprocess.PIPE)
        self.connected(dev, "dev-pub", since)
        dev.stdin.write(b"reading 1\n")
        dev.stdin.flush()
        self.assertTrue(self.broker.wait_for_log(
            r"Received PUBLISH from dev-pub", since=since),
            "the line publisher did not publish its line")
        dev.send_signal(signal.SIGKILL)
        rc, out, err = self.finish(w)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "status/device offline\n")

    def test_no_will_after_clean_exit(self):
        # Watcher wants two messages: if the will were sent it would be
        # the first, before the sentinel published afterwards.
        w = self.watcher("watch-3", count=2)
        dev = self.start_sub("-t", "cmd/device", "-C", "1", *WILL,
                             client_id="dev-clean")
        self.pub("-t", "cmd/device", "-m", "bye")
        rc, out, err = self.finish(dev)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "bye\n")
        self.assertTrue(self.broker.wait_for_log(
            r"Received DISCONNECT from dev-clean$"),
            "secmq-sub -C 1 did not send DISCONNECT")
        # A line publisher whose stdin ends also leaves cleanly.
        r = self.run_tool("secmq-pub", self.conn_args() +
                          ["-i", "dev-eof", "-t", "data/device", "-l"] + WILL,
                          input="one line\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.broker.wait_for_log(
            r"Received DISCONNECT from dev-eof$"),
            "secmq-pub -l did not send DISCONNECT at end of input")
        self.pub("-t", "status/sentinel", "-q", "1", "-m", "s1")
        self.pub("-t", "status/sentinel", "-q", "1", "-m", "s2")
        rc, out, err = self.finish(w)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(),
                         ["status/sentinel s1", "status/sentinel s2"])

    def test_retained_will(self):
        """--will-retain: a subscriber arriving after the death sees it."""
        dev = self.start_sub("-t", "cmd/device", "--will-topic",
                             "status/ret", "--will-payload", "gone",
                             "--will-qos", "1", "--will-retain",
                             client_id="dev-ret")
        since = self.broker.log_size()
        dev.send_signal(signal.SIGKILL)
        self.assertTrue(self.broker.wait_client_gone("dev-ret", since=since))
        late = self.start_sub("-t", "status/ret", "-C", "1", "-W", "10",
                              "-F", "%r %p", client_id="late-ret")
        rc, out, err = self.finish(late)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "1 gone\n")


if __name__ == "__main__":
    unittest.main()
