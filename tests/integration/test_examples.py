#!/usr/bin/python3
"""test_examples.py -- the example programs against a real broker over TLS.

Temperature sensors publish on appiot/kitchen and appiot/livingroom and the
monitor's appiot/+ subscription (and an independent secmq-sub) receive
exactly their readings; the light switch pair does the ON / OFF / TOGGLE
round trip, keeps a retained status, and leaves OFFLINE when the light
dies or stops. Program names come from examples/CMakeLists.txt.
"""

import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase, budget  # noqa: E402

CONTROLLER = "secmq-example-light-controller"
DASHBOARD = "secmq-example-light-dashboard"
SENSOR = "secmq-example-sensor"
MONITOR = "secmq-example-sensor-monitor"


class Examples(BrokerTestCase):

    def ex_conn(self, user="sam"):
        """The examples take -h -p --cafile -u -P (no client id option)."""
        return ["-h", "127.0.0.1", "-p", str(self.broker.port),
                "--cafile", self.broker.cafile,
                "-u", user, "-P", self.broker.users[user]]

    def spawn_subscribed(self, name, args, topic, qos=1):
        """Start an example and wait until the broker acknowledged its
        subscription to topic (the examples pick random client ids, so
        the id is read from the broker's "<id> <qos> <topic>" line)."""
        since = self.broker.log_size()
        p = self.spawn(name, args)
        pat = r"^\d+: (\S+) %d %s$" % (qos, re.escape(topic))
        self.wait_log_or_exit(p, pat, since)
        text = self.broker.log_text().encode()[since:].decode(
            "utf-8", "replace")
        cid = re.search(pat, text, re.M).group(1)
        self.wait_log_or_exit(p, r": Sending SUBACK to %s$" % re.escape(cid),
                              since)
        return p, cid

    # -- temperature sensors ------------------------------------------------

    def test_sensors_and_wildcard_monitor(self):
        rooms = ("kitchen", "livingroom")
        count = 3
        total = count * len(rooms)
        monitor, _ = self.spawn_subscribed(
            MONITOR, self.ex_conn("alice") + ["--count", total], "appiot/+")
        watcher = self.start_sub("-t", "appiot/+", "-q", "1", "-v",
                                 "-C", total, client_id="appiot-watch")
        readings = []
        for room in rooms:
            r = self.run_tool(SENSOR, self.ex_conn() +
                              ["--room", room, "--count", count,
                               "--interval-ms", "100"])
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(len(lines), count, r.stdout)
            for ln in lines:
                self.assertRegex(ln, r"^%s -?\d+\.\d$" % room)
            readings += lines
        rc, out, err = self.finish(monitor)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(), readings)
        rc, out, err = self.finish(watcher)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(),
                         ["appiot/" + ln for ln in readings])

    def test_sensor_topic_is_one_level(self):
        r = self.run_tool(SENSOR, self.ex_conn() +
                          ["--room", "kitchen/oven", "--count", "1"])
        self.assertNotEqual(r.returncode, 0, "a room with '/' was accepted")

    # -- the light switch ---------------------------------------------------

    def dashboard(self, command):
        r = self.run_tool(DASHBOARD, self.ex_conn("alice") +
                          ["--timeout-ms", "5000", command])
        self.assertEqual(r.returncode, 0, "%s: %s" % (command, r.stderr))
        return r.stdout

    def retained_status(self, client_id):
        sub = self.start_sub("-t", "home/light/status", "-C", "1",
                             "-W", budget(10), "-F", "%r %p", client_id=client_id)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        return out.strip()

    def test_light_switch_round_trip(self):
        light, _ = self.spawn_subscribed(CONTROLLER, self.ex_conn(),
                                         "home/light/control")
        self.assertEqual(self.retained_status("status-0"), "1 OFF")
        steps = [("ON", "ON"), ("TOGGLE", "OFF"), ("TOGGLE", "ON"),
                 ("ON", "ON"), ("OFF", "OFF")]
        for command, state in steps:
            self.assertEqual(self.dashboard(command),
                             "light is %s\n" % state, command)
        self.assertEqual(self.retained_status("status-1"), "1 OFF")
        light.send_signal(signal.SIGTERM)
        rc, out, err = self.finish(light)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.splitlines(),
                         ["%s: light is %s" % s for s in steps])
        # A clean stop says OFFLINE itself (the will is not sent then).
        self.assertEqual(self.retained_status("status-2"), "1 OFFLINE")

    def test_light_will_when_killed(self):
        light, cid = self.spawn_subscribed(CONTROLLER, self.ex_conn(),
                                           "home/light/control")
        self.assertEqual(self.dashboard("ON"), "light is ON\n")
        since = self.broker.log_size()
        light.send_signal(signal.SIGKILL)
        self.assertTrue(self.broker.wait_client_gone(cid, since=since))
        self.assertEqual(self.retained_status("status-k"), "1 OFFLINE")

    def test_dashboard_without_light_times_out(self):
        r = self.run_tool(DASHBOARD, self.ex_conn("alice") +
                          ["--timeout-ms", "1000", "TOGGLE"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("timeout", r.stderr)


if __name__ == "__main__":
    unittest.main()
