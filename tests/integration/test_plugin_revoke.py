#!/usr/bin/python3
"""test_plugin_revoke.py -- the secmq_auth.so plugin re-checks every
connected client on a change, however long the client has been idle, and
its table of clients is exactly the connected ones.

The broker runs on a fake wall clock (harness/fakeclock.c, LD_PRELOAD):
the test moves it 700 s ahead while sam and alice sit idle, then changes
their password, disables them, deletes them or removes their rules; both
must be disconnected. (A plugin that forgot clients idle for 600 s left
them connected with their old rights.)

test_table_is_connected_clients lets clients go every way mosquitto 2.0.11
knows -- DISCONNECT packet, socket closed, keep-alive timeout, takeover by
their client id, kick -- plus a persistent session that gets messages
while away and a Will published after its client went, and checks the
number of clients the plugin reports at the next reload.
"""

import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (CONNACK_NOT_AUTHORIZED,  # noqa: E402
                                SUBACK_FAILURE, PluginTestCase, brokermod,
                                rx_kicked)
from testcase import HOST  # noqa: E402

KICK_WAIT_S = 6.0
IDLE_S = 700        # past the 600 s after which rules used to be dropped
RX_CHECKING = (r"secmq_auth: reloaded policy: \d+ users, \d+ rules; "
               r"checking (\d+) connected clients")


class RevokeIdle(PluginTestCase):

    def setUp(self):
        self._clockdir = tempfile.TemporaryDirectory(prefix="fakeclock-")
        self.addCleanup(self._clockdir.cleanup)
        self.clock_file = os.path.join(self._clockdir.name, "offset")
        with open(self.clock_file, "w") as f:
            f.write("0\n")
        self.broker_env = brokermod.fakeclock_env(self.clock_file)
        if self.broker_env is None:
            self.skipTest("SECMQ_FAKECLOCK (harness/fakeclock.c) not built")
        super().setUp()

    def advance_clock(self, seconds):
        """Move the broker's wall clock seconds ahead and let it run on
        the new time for a while (ticks, sweeps)."""
        since = self.broker.log_size()
        with open(self.clock_file, "w") as f:
            f.write("%d\n" % seconds)
        self.wait_log(r"fakeclock: offset %d s" % seconds, since,
                      msg="the broker did not pick up the fake clock")
        # The broker's timer events run several times a second; give them
        # time to see the new clock (nothing here depends on how long).
        time.sleep(2.0)

    def idle_pair(self):
        """alice subscribed to status and sam, both connected and shown to
        work, then idle for IDLE_S seconds of the broker's clock."""
        alice = self.mqtt("alice", "alice-idle")
        self.assertEqual(alice.subscribe("status"), [1])
        sam = self.mqtt("sam", "sam-idle")
        sam.publish("status", b"before", qos=1)
        self.expect(alice, "status", b"before")
        self.advance_clock(IDLE_S)
        return sam, alice

    def assert_kicked(self, since, reason):
        """Both idle clients were disconnected for reason."""
        for cid, user in (("sam-idle", "sam"), ("alice-idle", "alice")):
            self.wait_log(rx_kicked(cid, user, reason), since,
                          timeout=KICK_WAIT_S,
                          msg="%s, idle for %d s, was not disconnected "
                          "after '%s'" % (user, IDLE_S, reason))

    def wait_gone(self, *clients):
        for c in clients:
            self.assertTrue(c.wait_disconnected(KICK_WAIT_S),
                            "%s was not disconnected" % c.client_id)

    def test_password_change_kicks_idle_clients(self):
        sam, alice = self.idle_pair()
        since = self.broker.log_size()
        new_sam = self.broker.set_password("sam")
        self.broker.set_password("alice")
        self.assert_kicked(since, "password changed")
        self.wait_gone(sam, alice)
        # paho retries with the old passwords: refused.
        for c in (sam, alice):
            self.assertTrue(c.wait_connacks(2, timeout=10),
                            "%s did not try again" % c.client_id)
            self.assertEqual(c.connacks[1], CONNACK_NOT_AUTHORIZED)
        # The old session of sam publishes nothing any more, and alice's
        # old session receives nothing: a fresh sam with the new password
        # publishes, and a reader checks it went out.
        self.add_user("carol")
        self.acl_add("--user", "carol", "status", "read")
        carol = self.mqtt("carol", "carol-sub")
        self.assertEqual(carol.subscribe("status"), [1])
        fresh = self.mqtt("sam", "sam-new", password=new_sam)
        fresh.publish("status", b"after", qos=1)
        self.expect(carol, "status", b"after")
        self.expect_nothing(alice, 0.5)

    def test_disable_kicks_idle_clients(self):
        sam, alice = self.idle_pair()
        since = self.broker.log_size()
        self.admin("user", "disable", "sam")
        self.admin("user", "disable", "alice")
        self.assert_kicked(since, "user disabled")
        self.wait_gone(sam, alice)
        for c in (sam, alice):
            self.assertTrue(c.wait_connacks(2, timeout=10))
            self.assertEqual(c.connacks[1], CONNACK_NOT_AUTHORIZED)

    def test_delete_kicks_idle_clients(self):
        sam, alice = self.idle_pair()
        since = self.broker.log_size()
        self.admin("user", "del", "sam")
        self.admin("user", "del", "alice")
        self.assert_kicked(since, "user deleted")
        self.wait_gone(sam, alice)
        for c in (sam, alice):
            self.assertTrue(c.wait_connacks(2, timeout=10))
            self.assertEqual(c.connacks[1], CONNACK_NOT_AUTHORIZED)

    def test_rule_removal_kicks_idle_clients(self):
        sam, alice = self.idle_pair()
        since = self.broker.log_size()
        self.admin("acl", "del", self.broker.seed_rules["sam"])
        self.admin("acl", "del", self.broker.seed_rules["alice"])
        self.assert_kicked(since, "access reduced")
        self.wait_gone(sam, alice)
        # paho comes back (the passwords are good) with no rights left.
        self.assertTrue(alice.wait_connacks(2, timeout=10))
        self.assertEqual(alice.connacks[1], 0)
        self.assertEqual(alice.subscribe("status"), [SUBACK_FAILURE])

    def test_table_is_connected_clients(self):
        """After clients left every way, the plugin checks exactly the
        clients still connected at the next reload; an offline persistent
        session that got messages and a Will sent after its client went
        are answered without entering the table."""
        self.add_user("carol")
        self.acl_add("--user", "carol", "status", "read")
        carol = self.mqtt("carol", "carol-sub")
        self.assertEqual(carol.subscribe("status"), [1])
        sam = self.mqtt("sam", "sam-pub")
        self.add_user("dave")
        connected = [carol, sam]

        # A DISCONNECT packet.
        self.mqtt("alice", "alice-clean").close()
        # A persistent session that goes away and gets messages meanwhile.
        persist = self.mqtt("alice", "alice-persist", clean_session=False)
        self.assertEqual(persist.subscribe("status"), [1])
        since = self.broker.log_size()
        persist.close()
        self.broker_forgot_since("alice-persist", since)
        for i in range(3):
            sam.publish("status", b"while away %d" % i, qos=1)
            self.expect(carol, "status", b"while away %d" % i)
        # The socket closed under the client, with a Will (checked by the
        # plugin after mosquitto's DISCONNECT event) that carol gets.
        dropped = self.mqtt("sam", "sam-will", will=("status", b"gone", 1))
        self.drop_socket(dropped)
        self.expect(carol, "status", b"gone")
        # A keep-alive timeout: a client that stops talking.
        self.keepalive_timeout("alice", "alice-ka")
        # A takeover: a second alice-take replaces the first.
        first = self.mqtt("alice", "alice-take")
        first.c.reconnect_delay_set(min_delay=60, max_delay=60)
        second = self.mqtt("alice", "alice-take")
        self.assertTrue(first.wait_disconnected(KICK_WAIT_S))
        first.close()
        connected.append(second)
        # A kick: dave disabled (paho's retry is refused).
        dave = self.mqtt("dave", "dave-kick")
        since = self.broker.log_size()
        self.admin("user", "disable", "dave")
        self.wait_log(rx_kicked("dave-kick", "dave", "user disabled"), since,
                      timeout=KICK_WAIT_S)
        self.assertTrue(dave.wait_connacks(2, timeout=10))
        self.assertEqual(dave.connacks[1], CONNACK_NOT_AUTHORIZED)

        for c in connected:
            self.assertTrue(c.connected, "%s went away" % c.client_id)
        since = self.broker.log_size()
        self.add_user("zed")
        text = self.broker.log_text().encode()[since:].decode(
            "utf-8", "replace")
        m = re.findall(RX_CHECKING, text)
        self.assertTrue(m, "no 'checking N connected clients' in the "
                        "reload line:\n%s" % self.broker.log_tail(20))
        self.assertEqual(int(m[-1]), len(connected),
                         "the plugin holds rules for %s clients, %d are "
                         "connected" % (m[-1], len(connected)))

    # -- helpers for the ways a client goes -----------------------------------

    def drop_socket(self, c):
        """Close c's socket without a DISCONNECT packet."""
        cid = c.client_id
        since = self.broker.log_size()
        c.c.reconnect_delay_set(min_delay=60, max_delay=60)
        c.c.loop_stop()
        c.looping = False
        c.c.socket().close()
        self.broker_forgot_since(cid, since)

    def broker_forgot_since(self, cid, since):
        if not self.broker.wait_client_gone(cid, timeout=KICK_WAIT_S,
                                            since=since):
            self.fail("the broker did not see %s go" % cid)

    def keepalive_timeout(self, user, cid):
        """Connect with keep-alive 5 s, then stay silent until mosquitto
        gives up on the client (it checks every few seconds)."""
        import paho.mqtt.client as mqtt
        import ssl
        c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311)
        c.tls_set(ca_certs=self.broker.cafile,
                  tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.username_pw_set(user, self.broker.users[user])
        since = self.broker.log_size()
        c.connect(HOST, self.broker.port, keepalive=5)
        self.addCleanup(c.socket().close)
        deadline = time.monotonic() + 10
        while not c.is_connected() and time.monotonic() < deadline:
            c.loop(timeout=0.2)
        self.assertTrue(c.is_connected(), "%s did not connect" % cid)
        # No more loop() calls: no PINGREQ.
        self.wait_log(r"Client %s has exceeded timeout" % re.escape(cid),
                      since, timeout=25,
                      msg="mosquitto did not time %s out" % cid)


if __name__ == "__main__":
    unittest.main()
