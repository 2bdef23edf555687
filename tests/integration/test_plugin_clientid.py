#!/usr/bin/python3
"""test_plugin_clientid.py -- plugin_opt_client_id_pattern ties client ids
to users: sam connecting with alice's client id is refused (CONNACK 5, or
0x87 for MQTT v5) and logged with user, id and reason, again and again,
while alice's persistent session keeps its queued message; sam with his
own ids is accepted; an id that a longer user name owns is refused; a user
added later takes its ids back from a connected client; a bad pattern
stops the broker; and without the option any id works as before (the
takeover then happens).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (CONNACK_NOT_AUTHORIZED,  # noqa: E402
                                V5_NOT_AUTHORIZED, PluginTestCase, brokermod,
                                q, rx_kicked, rx_refused_login)

NOT_MINE = "client id does not match the user's pattern"
OWNED = "client id belongs to another user"
KICK_WAIT_S = 6.0


class ClientIdPattern(PluginTestCase):
    plugin_opts = {"client_id_pattern": "%u %u-*"}

    def alice_with_queued_message(self):
        """alice's persistent session alice-phone, subscribed to status,
        offline, with one QoS 1 message from sam waiting in it."""
        alice = self.mqtt("alice", "alice-phone", clean_session=False)
        self.assertEqual(alice.subscribe("status"), [1])
        alice.close()
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"queued for alice", qos=1)
        return sam

    def refused(self, user, client_id, reason, v5=False):
        since = self.broker.log_size()
        rc = self.connack(user, client_id, v5=v5)
        self.assertEqual(rc, V5_NOT_AUTHORIZED if v5 else
                         CONNACK_NOT_AUTHORIZED,
                         "%s with client id %s was not refused" %
                         (user, client_id))
        self.wait_log(rx_refused_login(q(user), q(client_id), q(reason)),
                      since)

    def test_takeover_refused_session_kept(self):
        self.alice_with_queued_message()
        for _ in range(3):
            self.refused("sam", "alice-phone", NOT_MINE)
        self.refused("sam", "alice-phone", NOT_MINE, v5=True)
        self.refused("sam", "alice", NOT_MINE)
        # alice's session was never taken over: it is still there, with
        # the message sam published while she was away.
        alice = self.mqtt("alice", "alice-phone", clean_session=False)
        self.assertTrue(alice.flags[0].get("session present"),
                        "alice's persistent session was lost")
        self.expect(alice, "status", b"queued for alice")
        self.assertEqual(alice.disconnects, [])
        # sam's own ids are accepted: his name, and his name + "-...".
        for cid in ("sam", "sam-2", "sam-"):
            with self.subTest(client_id=cid):
                self.assertEqual(self.connack("sam", cid), 0)
        # alice was never kicked by any of it.
        self.expect_nothing(alice, 0.3)
        self.assertEqual(alice.disconnects, [])
        self.assertTrue(alice.connected)

    def test_tools_name_the_client_id(self):
        """secmq-pub refused for its client id says that the id may be the
        cause, not only the password (mosquitto answers both with 5)."""
        r = self.run_tool("secmq-pub", self.conn_args("sam") +
                          ["-i", "alice-phone", "-t", "status", "-m", "x"])
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED, r.stderr)
        self.assertRegex(r.stderr, r"client id this user may not use")
        r = self.run_tool("secmq-pub", self.conn_args("sam") +
                          ["-i", "sam-tool", "-t", "status", "-m", "x"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_longer_name_owns_its_ids(self):
        """With %u-*, "sam-cam-1" could be sam's or sam-cam's: it belongs
        to the longer name, and a user created later takes its ids back
        from a connected client."""
        self.assertEqual(self.connack("sam", "sam-cam-1"), 0)
        held = self.mqtt("sam", "sam-cam-2")
        since = self.broker.log_size()
        self.add_user("sam-cam")
        self.wait_log(rx_kicked("sam-cam-2", "sam", q(OWNED)), since,
                      timeout=KICK_WAIT_S)
        self.assertTrue(held.wait_disconnected(KICK_WAIT_S))
        self.refused("sam", "sam-cam-1", OWNED)
        self.refused("sam", "sam-cam", OWNED)
        self.assertEqual(self.connack("sam-cam", "sam-cam-1"), 0)
        self.assertEqual(self.connack("sam", "sam-camera"), 0)

    def test_wildcards_in_ids_refused(self):
        """'+', '#' and '/' in client ids (mosquitto 2.0.11 does not
        filter them for v5 plugins) never pass as one of sam's ids."""
        for cid in ("sam-+", "sam-#", "sam-a/b"):
            with self.subTest(client_id=cid):
                self.refused("sam", cid, "invalid client id", v5=True)

    def test_loaded_line_names_pattern(self):
        self.assertRegex(self.broker.log_text(),
                         r"secmq_auth: loaded .*client ids '%u %u-\*'")


class ClientIdPatternOff(PluginTestCase):
    """Without the option any id works, including another user's: the
    takeover mosquitto then does is the behaviour the option removes."""

    def test_any_id_accepted(self):
        alice = self.mqtt("alice", "alice-phone")
        alice.c.reconnect_delay_set(min_delay=60, max_delay=60)
        self.assertEqual(self.connack("sam", "alice-phone"), 0)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S),
                        "the takeover did not happen without the option")
        self.assertRegex(self.broker.log_text(),
                         r"secmq_auth: loaded .*client ids any")


class ClientIdPatternBad(unittest.TestCase):

    def test_bad_patterns_stop_the_broker(self):
        for pat in ("%u%u", "dev-*", "%u-*-x", "%u/x", "%c-%u",
                    " ".join("%%u-%d" % i for i in range(9))):
            with self.subTest(pattern=pat):
                b = brokermod.Broker(name="badpattern", auth="plugin",
                                     plugin_opts={"client_id_pattern": pat})
                self.addCleanup(b.close)
                b.setup()
                with self.assertRaises(brokermod.BrokerError,
                                       msg="mosquitto started anyway"):
                    b.start()
                self.assertRegex(b.log_text(),
                                 r"secmq_auth: plugin_opt_client_id_pattern:")


if __name__ == "__main__":
    unittest.main()
