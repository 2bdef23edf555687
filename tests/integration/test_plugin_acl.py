#!/usr/bin/python3
"""test_plugin_acl.py -- the secmq_auth.so broker plugin: who may log in,
publish and subscribe, against a real mosquitto 2.0.

The broker of each test loads the plugin with an auth database made by
secmq-admin: users sam, alice and eve, and the seed policy (sam
may write `status`, alice may read and subscribe to it, nobody else
anything). Checked twice, with python3-paho-mqtt (the independent client:
CONNACK and SUBACK codes as the broker sent them, MQTT 3.1.1 and 5) and
with secmq-pub / secmq-sub (exit codes and messages). Every "not delivered"
is followed by a message that is delivered to the same subscriber, so a
negative cannot pass because nothing works. Also %u and %c pattern rules,
and user names and client ids with + # / refused by secmq-admin and at
CONNECT.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (CONNACK_NOT_AUTHORIZED,  # noqa: E402
                                SUBACK_FAILURE, V5_BAD_USER_OR_PASSWORD,
                                V5_NOT_AUTHORIZED, PluginTestCase, q,
                                rx_denied_subscribe, rx_refused_login,
                                rx_sent_to)


# What secmq-pub / secmq-sub print for CONNACK 5 (libsecmq calls it a bad
# user name or password when one was given).
REFUSED = r"bad username or password|not authori[sz]ed"


class SeedMatrixPaho(PluginTestCase):
    """The seed policy seen by paho (MQTT 3.1.1)."""

    def test_sam_publishes_alice_receives(self):
        alice = self.mqtt("alice", "alice-sub")
        self.assertEqual(alice.subscribe("status", qos=1), [1],
                         "alice's subscription to status was not granted")
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"online", qos=1)
        self.expect(alice, "status", b"online")
        sam.publish("status", b"qos0", qos=0)
        self.expect(alice, "status", b"qos0")
        self.expect_nothing(alice, 0.3)

    def test_alice_publish_not_delivered(self):
        """alice (read only) publishes on status from a second connection
        while she is subscribed: the broker acknowledges it (MQTT 3.1.1)
        but delivers it to nobody; sam's message afterwards is the first
        thing her subscription receives."""
        alice = self.mqtt("alice", "alice-sub")
        self.assertEqual(alice.subscribe("status"), [1])
        alice_pub = self.mqtt("alice", "alice-pub")
        since = self.broker.log_size()
        alice_pub.publish("status", b"from alice", qos=1)
        alice_pub.publish("status", b"from alice q0", qos=0)
        self.wait_log(r"PUBLISH from alice-pub .*'status'", since)
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"from sam", qos=1)
        self.expect(alice, "status", b"from sam")
        self.expect_nothing(alice, 0.3)
        self.assert_not_logged(rx_sent_to("alice-sub") + r".*\(10 bytes\)",
                               "alice's message was sent to a subscriber",
                               since)

    def test_sam_subscribe_refused(self):
        sam = self.mqtt("sam", "sam-sub")
        since = self.broker.log_size()
        self.assertEqual(sam.subscribe("status"), [SUBACK_FAILURE])
        self.wait_log(rx_denied_subscribe("status", "sam-sub", "sam"), since)
        # Refused, so sam's own message does not come back to him, while
        # alice (the positive control) gets it.
        alice = self.mqtt("alice", "alice-sub")
        self.assertEqual(alice.subscribe("status"), [1])
        sam.publish("status", b"hello", qos=1)
        self.expect(alice, "status", b"hello")
        self.expect_nothing(sam, 0.3)

    def test_alice_wildcards_refused(self):
        """`status` is granted, so no filter that can match anything else
        is: #, +, status/# (also matches status/x), +/#, status/+, $SYS/#.
        In one SUBSCRIBE with several filters each gets its own code, and
        the one granted filter works (one copy of each message)."""
        alice = self.mqtt("alice", "alice-sub")
        for filt in ("#", "+", "status/#", "+/#", "status/+", "$SYS/#"):
            with self.subTest(filter=filt):
                since = self.broker.log_size()
                self.assertEqual(alice.subscribe(filt), [SUBACK_FAILURE],
                                 "alice may subscribe to %r" % filt)
                self.wait_log(rx_denied_subscribe(filt, "alice-sub",
                                                  "alice"), since)
        mixed = self.mqtt("alice", "alice-mixed")
        codes = mixed.subscribe([("#", 1), ("status", 1), ("+", 0),
                                 ("status/#", 2)])
        self.assertEqual(codes, [SUBACK_FAILURE, 1, SUBACK_FAILURE,
                                 SUBACK_FAILURE])
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"one copy", qos=1)
        self.expect(mixed, "status", b"one copy")
        self.expect_nothing(mixed, 0.3)
        self.expect_nothing(alice, 0.1)

    def test_eve_may_do_nothing(self):
        """eve has a login and no rule: every subscription refused, her
        publishes on status (and elsewhere) delivered to nobody."""
        eve = self.mqtt("eve", "eve-1")
        for filt in ("status", "#", "eve/x", "+"):
            with self.subTest(filter=filt):
                self.assertEqual(eve.subscribe(filt), [SUBACK_FAILURE])
        self.assertEqual(eve.subscribe([("status", 1), ("eve", 0)]),
                         [SUBACK_FAILURE, SUBACK_FAILURE])
        alice = self.mqtt("alice", "alice-sub")
        self.assertEqual(alice.subscribe("status"), [1])
        since = self.broker.log_size()
        eve.publish("status", b"eve was here", qos=1)
        eve.publish("eve/x", b"eve elsewhere", qos=1)
        self.wait_log(r"PUBLISH from eve-1 .*'eve/x'", since)
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"control", qos=1)
        self.expect(alice, "status", b"control")
        self.expect_nothing(alice, 0.3)
        self.expect_nothing(eve, 0.1)

    def test_subscribe_only_rule_receives_nothing(self):
        """`subscribe` grants SUBSCRIBE without READ: eve's subscription is
        accepted, and the broker's per-message READ check delivers her
        nothing, while alice (read) gets every message."""
        self.acl_add("--user", "eve", "status", "subscribe")
        eve = self.mqtt("eve", "eve-subonly")
        self.assertEqual(eve.subscribe("status"), [1])
        alice = self.mqtt("alice", "alice-sub")
        self.assertEqual(alice.subscribe("status"), [1])
        sam = self.mqtt("sam", "sam-pub")
        since = self.broker.log_size()
        for i in range(3):
            sam.publish("status", b"m%d" % i, qos=1)
        for i in range(3):
            self.expect(alice, "status", b"m%d" % i)
        self.expect_nothing(eve, 0.5)
        self.assert_not_logged(rx_sent_to("eve-subonly"),
                               "a message was sent to a subscriber without "
                               "read access", since)

    def test_refused_logins(self):
        """Wrong password, unknown user, empty user name, no user name and
        a disabled user: CONNACK 5, and the plugin logs why. The right
        password is accepted (the control)."""
        self.assertEqual(self.connack("sam", "sam-ok"), 0)
        cases = [
            ("sam", "wrong-" + self.broker.users["sam"], "c-wrongpw",
             q("sam"), "bad password"),
            ("alice", self.broker.users["sam"], "c-otherspw", q("alice"),
             "bad password"),
            ("mallory", "whatever", "c-unknown", q("mallory"),
             "unknown user"),
            ("", self.broker.users["sam"], "c-empty", r"(|\(none\))",
             "(no username|invalid username)"),
            (None, None, "c-nouser", ".*", "no username"),
        ]
        for user, pw, cid, rx_user, reason in cases:
            with self.subTest(user=user):
                since = self.broker.log_size()
                if user is None:
                    rc = self.connack(None, cid)
                else:
                    rc = self.connack(user, cid, password=pw)
                self.assertEqual(rc, CONNACK_NOT_AUTHORIZED,
                                 "user %r was not refused" % user)
                self.wait_log(rx_refused_login(rx_user, q(cid), reason),
                              since)
        self.change("user", "disable", "eve")
        since = self.broker.log_size()
        self.assertEqual(self.connack("eve", "c-disabled"),
                         CONNACK_NOT_AUTHORIZED)
        self.wait_log(rx_refused_login(q("eve"), q("c-disabled"),
                                       "disabled user"), since)
        self.change("user", "enable", "eve")
        self.assertEqual(self.connack("eve", "c-enabled"), 0)


class SeedMatrixTools(PluginTestCase):
    """The seed policy seen by secmq-pub and secmq-sub."""

    def sub_tool(self, user, *args, client_id, subacks=1):
        """Start secmq-sub and wait for its subacks SUBACKs (it sends one
        SUBSCRIBE per filter)."""
        since = self.broker.log_size()
        p = self.spawn("secmq-sub", self.conn_args(user) +
                       ["-i", client_id] + list(args))
        deadline_ok = self.broker.wait_for_log(
            r": Sending SUBACK to %s$" % re.escape(client_id), 10.0, since,
            count=subacks)
        if not deadline_ok:
            rc = p.poll()
            self.fail("secmq-sub as %s: %d SUBACK(s) not sent in 10 s "
                      "(exit %r)" % (user, subacks, rc))
        return p

    def test_delivery_and_refusals(self):
        alice = self.sub_tool("alice", "-t", "status", "-q", "1", "-C", "2",
                              "-v", client_id="alice-sub")
        # alice's own message is acknowledged (3.1.1) and not delivered.
        r = self.run_tool("secmq-pub", self.conn_args("alice") +
                          ["-i", "alice-pub", "-t", "status", "-q", "1",
                           "-m", "forged by alice"])
        self.assertEqual(r.returncode, 0, r.stderr)
        # With MQTT v5 the broker says "not authorised" in the PUBACK.
        r = self.run_tool("secmq-pub", self.conn_args("alice") +
                          ["-i", "alice-pub5", "-V", "mqttv5", "-t", "status",
                           "-q", "1", "-m", "forged by alice v5"])
        self.assertEqual(r.returncode, 1, "v5 refusal not reported: %r"
                         % r.stderr)
        self.assertRegex(r.stderr, r"refused 1 of 1 message\(s\) on "
                         r"'status': not authori[sz]ed")
        # eve too.
        r = self.run_tool("secmq-pub", self.conn_args("eve") +
                          ["-t", "status", "-q", "1", "-m", "from eve"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.pub("-t", "status", "-q", "1", "-m", "first from sam")
        self.pub("-t", "status", "-q", "1", "-m", "second from sam")
        rc, out, err = self.finish(alice)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "status first from sam\n"
                              "status second from sam\n")

    def test_refused_subscriptions(self):
        # sam may not subscribe to status: every subscription refused.
        r = self.run_tool("secmq-sub", self.conn_args("sam") +
                          ["-i", "sam-sub", "-t", "status", "-W", "10"])
        self.assert_refused(r, r"refused every subscription.*status")
        self.assertEqual(r.returncode, 1)
        # alice, wildcards only.
        r = self.run_tool("secmq-sub", self.conn_args("alice") +
                          ["-i", "alice-wild", "-t", "#", "-t", "+", "-t",
                           "status/#", "-W", "10"])
        self.assert_refused(r, r"refused every subscription")
        self.assertEqual(r.returncode, 1)
        # eve, anything.
        r = self.run_tool("secmq-sub", self.conn_args("eve") +
                          ["-i", "eve-sub", "-t", "status", "-W", "10"])
        self.assert_refused(r, r"refused every subscription")
        # alice, # with status: a warning for #, and status works.
        alice = self.sub_tool("alice", "-t", "#", "-t", "status", "-C", "1",
                              "-v", client_id="alice-mixed", subacks=2)
        self.pub("-t", "status", "-q", "1", "-m", "mixed")
        rc, out, err = self.finish(alice)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "status mixed\n")
        self.assertRegex(err, r"refused the subscription to '#'")

    def test_refused_logins(self):
        wrong = self.conn_args("sam", password="wrong")
        r = self.run_tool("secmq-pub", wrong + ["-t", "status", "-m", "x"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)
        r = self.run_tool("secmq-sub", wrong + ["-t", "status", "-W", "5"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)
        # MQTT v5: 0x86 bad user name or password, or 0x87 not authorised.
        r = self.run_tool("secmq-pub", wrong + ["-V", "mqttv5", "-t",
                                                "status", "-m", "x"])
        self.assertIn(r.returncode, (V5_BAD_USER_OR_PASSWORD,
                                     V5_NOT_AUTHORIZED), r.stderr)
        # an empty user name, an unknown user, no user at all
        empty = self.conn_args(None) + ["-u", "", "-P",
                                        self.broker.users["sam"]]
        r = self.run_tool("secmq-pub", empty + ["-t", "status", "-m", "x"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)
        unknown = self.conn_args(None) + ["-u", "mallory", "-P", "pw"]
        r = self.run_tool("secmq-pub", unknown + ["-t", "status", "-m", "x"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)
        r = self.run_tool("secmq-pub", self.conn_args(None) +
                          ["-t", "status", "-m", "x"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)
        # A disabled user, then enabled again (the control).
        self.change("user", "disable", "sam")
        r = self.run_tool("secmq-pub", self.conn_args("sam") +
                          ["-t", "status", "-m", "x"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)
        self.change("user", "enable", "sam")
        self.pub("-t", "status", "-m", "x")


class Patterns(PluginTestCase):

    def test_user_pattern(self):
        """`acl add --pattern users/%u/# readwrite`: each user has a
        subtree of their own, and no other."""
        self.acl_add("--pattern", "users/%u/#", "readwrite")
        alice = self.mqtt("alice", "alice-u")
        self.assertEqual(alice.subscribe("users/alice/#"), [1])
        self.assertEqual(alice.subscribe("users/alice/x"), [1])
        for filt in ("users/sam/#", "users/#", "users/+/x", "#"):
            with self.subTest(filter=filt):
                self.assertEqual(alice.subscribe(filt), [SUBACK_FAILURE])
        sam = self.mqtt("sam", "sam-u")
        self.assertEqual(sam.subscribe("users/sam/#"), [1])
        alice.publish("users/alice/x", b"mine", qos=1)
        self.expect(alice, "users/alice/x", b"mine")
        alice.publish("users/alice", b"the top", qos=1)
        self.expect(alice, "users/alice", b"the top")
        # alice writing into sam's subtree reaches nobody; sam's own
        # message afterwards is the first he gets.
        alice.publish("users/sam/x", b"intrusion", qos=1)
        sam.publish("users/sam/x", b"own", qos=1)
        self.expect(sam, "users/sam/x", b"own")
        self.expect_nothing(sam, 0.3)
        self.expect_nothing(alice, 0.1)
        # eve has the pattern too: hers works, alice's subtree does not.
        eve = self.mqtt("eve", "eve-u")
        self.assertEqual(eve.subscribe("users/eve/#"), [1])
        self.assertEqual(eve.subscribe("users/alice/#"), [SUBACK_FAILURE])

    def test_client_id_pattern(self):
        self.acl_add("--pattern", "clients/%c/#", "readwrite")
        dev = self.mqtt("alice", "dev-1")
        self.assertEqual(dev.subscribe("clients/dev-1/#"), [1])
        self.assertEqual(dev.subscribe("clients/dev-2/#"), [SUBACK_FAILURE])
        self.assertEqual(dev.subscribe("clients/+/#"), [SUBACK_FAILURE])
        other = self.mqtt("alice", "dev-2")
        self.assertEqual(other.subscribe("clients/dev-2/#"), [1])
        dev.publish("clients/dev-2/cmd", b"not yours", qos=1)
        other.publish("clients/dev-2/cmd", b"yours", qos=1)
        self.expect(other, "clients/dev-2/cmd", b"yours")
        dev.publish("clients/dev-1/cmd", b"own", qos=1)
        self.expect(dev, "clients/dev-1/cmd", b"own")
        self.expect_nothing(other, 0.3)

    def test_admin_refuses_bad_names(self):
        for name in ("a/#", "x+", "a/b", "#", "+", ""):
            with self.subTest(user=name):
                r = self.admin("user", "add", name, "--password-file", "-",
                               input="pw-for-bad-name\n", ok=False)
                self.assertNotEqual(r.returncode, 0,
                                    "secmq-admin added user %r" % name)
                self.assertTrue(r.stderr.strip(), "refused without a reason")
        for name in ("g/#", "g+"):
            with self.subTest(group=name):
                r = self.admin("group", "add", name, ok=False)
                self.assertNotEqual(r.returncode, 0,
                                    "secmq-admin added group %r" % name)
        listed = self.admin("user", "list").stdout
        for name in ("a/#", "x+", "a/b"):
            self.assertNotIn(name, listed)
        for name in ("sam", "alice", "eve"):
            self.assertIn(name, listed)

    def test_bad_names_refused_at_connect(self):
        """User names and client ids with + # / never reach a pattern: the
        plugin refuses them at CONNECT even with a valid password."""
        self.acl_add("--pattern", "clients/%c/#", "readwrite")
        self.acl_add("--pattern", "users/%u/#", "readwrite")
        pw = self.broker.users["alice"]
        cases = [("a/#", pw, "c-user1", "invalid username"),
                 ("x+", pw, "c-user2", "invalid username"),
                 ("a/b", pw, "c-user3", "invalid username"),
                 ("alice", pw, "x+", "invalid client id"),
                 ("alice", pw, "c/d", "invalid client id"),
                 ("alice", pw, "#", "invalid client id"),
                 ("alice", pw, "+", "invalid client id")]
        for user, pw, cid, reason in cases:
            with self.subTest(user=user, client_id=cid):
                since = self.broker.log_size()
                self.assertEqual(self.connack(user, cid, password=pw),
                                 CONNACK_NOT_AUTHORIZED)
                self.wait_log(rx_refused_login(q(user), q(cid), reason),
                              since)
        # The control: the same password and a plain client id.
        c = self.mqtt("alice", "c-d")
        self.assertEqual(c.subscribe("clients/c-d/#"), [1])
        # secmq-sub with such a client id: exit 5 and the reason.
        r = self.run_tool("secmq-sub", self.conn_args("alice") +
                          ["-i", "c/d", "-t", "clients/c/d/#", "-W", "5"])
        self.assert_refused(r, REFUSED)
        self.assertEqual(r.returncode, CONNACK_NOT_AUTHORIZED)


class MQTTv5(PluginTestCase):

    def test_v5_codes(self):
        alice = self.mqtt("alice", "alice-v5", v5=True)
        self.assertEqual(alice.subscribe("status"), [1])
        self.assertEqual(alice.subscribe("#"), [V5_NOT_AUTHORIZED])
        self.assertEqual(alice.subscribe([("status/#", 1), ("status", 0)]),
                         [V5_NOT_AUTHORIZED, 0])
        sam = self.mqtt("sam", "sam-v5", v5=True)
        self.assertEqual(sam.subscribe("status"), [V5_NOT_AUTHORIZED])
        sam.publish("status", b"v5", qos=1)
        self.expect(alice, "status", b"v5")
        rc = self.connack("sam", "sam-wrong", password="wrong", v5=True)
        self.assertIn(rc, (V5_BAD_USER_OR_PASSWORD, V5_NOT_AUTHORIZED))
        rc = self.connack("mallory", "m-v5", password="x", v5=True)
        self.assertIn(rc, (V5_BAD_USER_OR_PASSWORD, V5_NOT_AUTHORIZED))
        rc = self.connack(None, "anon-v5", v5=True)
        self.assertIn(rc, (V5_BAD_USER_OR_PASSWORD, V5_NOT_AUTHORIZED))


if __name__ == "__main__":
    unittest.main()
