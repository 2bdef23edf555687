#!/usr/bin/python3
"""test_plugin_live.py -- the secmq_auth.so plugin while the broker runs:
changes made with secmq-admin take effect within seconds, clients who lose
access are disconnected and get nothing more (persistent sessions too),
clients who only gain access are left alone, the database replaced or
broken under the running broker, the reload interval, SIGHUP, and a
broker that must refuse to start on a bad database.

Every "gets nothing" is checked against a second subscriber who is still
allowed and does get the same messages.
"""

import os
import re
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (CONNACK_NOT_AUTHORIZED,  # noqa: E402
                                RELOAD_WAIT_S, SUBACK_FAILURE,
                                PluginTestCase, brokermod, q, rx_kicked,
                                rx_loaded, rx_refused_login, rx_reloaded,
                                rx_sent_to)

KICK_WAIT_S = 5.0      # a client who lost access is gone within this


class LiveChanges(PluginTestCase):

    def add_reader(self, name="carol"):
        """A second user allowed to read status (the positive control of
        every "alice gets nothing"), connected and subscribed."""
        self.add_user(name)
        self.acl_add("--user", name, "status", "read")
        c = self.mqtt(name, name + "-sub")
        self.assertEqual(c.subscribe("status"), [1])
        return c

    def alice_subscribed(self, client_id="alice-live", clean_session=True):
        alice = self.mqtt("alice", client_id, clean_session=clean_session)
        self.assertEqual(alice.subscribe("status"), [1])
        return alice

    def test_added_rule_takes_effect(self):
        """A rule for eve added while she is connected: within a few
        seconds she may subscribe, and gets sam's messages. A change that
        only adds rights disconnects nobody."""
        alice = self.alice_subscribed()
        eve = self.mqtt("eve", "eve-live")
        self.assertEqual(eve.subscribe("status"), [SUBACK_FAILURE])
        since = self.broker.log_size()
        t0 = time.monotonic()
        self.broker.acl_add("--user", "eve", "status", "read")
        granted = self.poll(lambda: eve.subscribe("status") == [1],
                            timeout=RELOAD_WAIT_S, interval=0.3)
        self.assertTrue(granted, "eve's new rule did not apply within "
                        "%.0f s" % RELOAD_WAIT_S)
        self.assertLess(time.monotonic() - t0, 5.0)
        self.wait_log(rx_reloaded(), since)
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"for both", qos=1)
        self.expect(eve, "status", b"for both")
        self.expect(alice, "status", b"for both")
        # Nobody lost anything, so nobody was disconnected.
        self.assert_not_logged(r"secmq_auth: disconnecting client",
                               "a change that only adds rights kicked a "
                               "client", since)
        self.assertEqual(alice.disconnects, [])
        self.assertEqual(eve.disconnects, [])
        self.assertEqual(sam.disconnects, [])
        # A group rule, also only adding: nobody kicked either.
        self.change("group", "add", "readers")
        self.change("group", "member", "readers", "alice")
        self.acl_add("--group", "readers", "news/#", "read")
        self.assertEqual(alice.subscribe("news/#"), [1])
        self.assert_not_logged(r"secmq_auth: disconnecting client",
                               "a change that only adds rights kicked a "
                               "client", since)
        self.assertEqual(alice.disconnects, [])

    def revoke_read(self, clean_session):
        carol = self.add_reader()
        cid = "alice-cs%d" % int(clean_session)
        alice = self.alice_subscribed(cid, clean_session)
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"before", qos=1)
        self.expect(alice, "status", b"before")
        self.expect(carol, "status", b"before")

        since = self.broker.log_size()
        self.admin("acl", "del", self.broker.seed_rules["alice"])
        self.wait_log(rx_kicked(cid, "alice", "access reduced"), since,
                      timeout=KICK_WAIT_S + 1)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S),
                        "paho did not see the disconnection")
        self.assert_not_logged(rx_kicked("carol-sub", "carol", ".*"),
                               "carol lost nothing but was kicked", since)
        sam.publish("status", b"after 1", qos=1)
        self.expect(carol, "status", b"after 1")
        # paho reconnects by itself (alice's password is still good). With
        # a persistent session the broker keeps the session; mosquitto
        # 2.0.11 re-checks its subscriptions with the ACL (SUBSCRIBE, now
        # denied: the plugin logs "denied subscribe") and drops them. The
        # case where the subscription stays and only READ stops messages
        # is test_read_revoked_subscription_kept.
        self.assertTrue(alice.wait_connacks(2, timeout=10),
                        "paho did not reconnect: %r" % alice.connacks)
        self.assertEqual(alice.connacks[1], 0)
        if not clean_session:
            self.assertTrue(alice.flags[1].get("session present"),
                            "the broker lost alice's persistent session")
        sam.publish("status", b"after 2", qos=1)
        self.expect(carol, "status", b"after 2")
        self.expect_nothing(alice, 1.0)
        self.assertEqual(alice.subscribe("status"), [SUBACK_FAILURE])
        sam.publish("status", b"after 3", qos=1)
        self.expect(carol, "status", b"after 3")
        self.expect_nothing(alice, 0.5)
        self.assert_not_logged(rx_sent_to(cid), "a message was sent to "
                               "alice after she lost access", since)

    def test_revoked_subscriber_clean_session(self):
        self.revoke_read(clean_session=True)

    def test_revoked_subscriber_persistent_session(self):
        self.revoke_read(clean_session=False)

    def test_read_revoked_subscription_kept(self):
        """alice's `read` rule becomes `subscribe` (no READ) while she has
        a persistent session: she is kicked (access reduced); her session
        and its subscription to status survive (SUBSCRIBE is still
        allowed), so only the broker's per-message READ check stands
        between sam's messages and her -- and she gets none, while carol
        gets them all, before and after alice reconnects."""
        carol = self.add_reader()
        alice = self.alice_subscribed("alice-keep", clean_session=False)
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"before", qos=1)
        self.expect(alice, "status", b"before")
        self.expect(carol, "status", b"before")
        since = self.broker.log_size()
        self.broker.acl_add("--user", "alice", "status", "subscribe")
        self.admin("acl", "del", self.broker.seed_rules["alice"])
        self.wait_log(rx_kicked("alice-keep", "alice", "access reduced"),
                      since, timeout=KICK_WAIT_S + 1)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S))
        sam.publish("status", b"while away", qos=1)
        self.expect(carol, "status", b"while away")
        self.assertTrue(alice.wait_connacks(2, timeout=10),
                        "paho did not reconnect: %r" % alice.connacks)
        self.assertEqual(alice.connacks[1], 0)
        self.assertTrue(alice.flags[1].get("session present"),
                        "the broker lost alice's persistent session")
        for i in range(3):
            sam.publish("status", b"after %d" % i, qos=1)
            self.expect(carol, "status", b"after %d" % i)
        self.expect_nothing(alice, 1.0)
        self.assert_not_logged(rx_sent_to("alice-keep"), "a message was "
                               "sent to alice after she lost read access",
                               since)

    def test_disabled_user(self):
        carol = self.add_reader()
        alice = self.alice_subscribed()
        since = self.broker.log_size()
        self.admin("user", "disable", "alice")
        self.wait_log(rx_kicked("alice-live", "alice", "user disabled"),
                      since, timeout=KICK_WAIT_S + 1)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S))
        # paho's own reconnection is refused (it then stops trying).
        self.assertTrue(alice.wait_connacks(2, timeout=10),
                        "paho did not try again: %r" % alice.connacks)
        self.assertEqual(alice.connacks[1], CONNACK_NOT_AUTHORIZED)
        since = self.broker.log_size()
        self.assertEqual(self.connack("alice", "alice-again"),
                         CONNACK_NOT_AUTHORIZED)
        self.wait_log(rx_refused_login(q("alice"), q("alice-again"),
                                       "disabled user"), since)
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"while disabled", qos=1)
        self.expect(carol, "status", b"while disabled")
        self.expect_nothing(alice, 0.3)
        self.change("user", "enable", "alice")
        again = self.alice_subscribed("alice-enabled")
        sam.publish("status", b"enabled", qos=1)
        self.expect(again, "status", b"enabled")

    def test_password_changed(self):
        carol = self.add_reader()
        alice = self.alice_subscribed()
        old = self.broker.users["alice"]
        since = self.broker.log_size()
        new = self.broker.set_password("alice")
        self.wait_log(rx_kicked("alice-live", "alice", "password changed"),
                      since, timeout=KICK_WAIT_S + 1)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S))
        self.assert_not_logged(r"secmq_auth: disconnecting client "
                               r"'(sam|carol)", "others were kicked", since)
        # The old password is refused (paho's own retry uses it too), the
        # new one works.
        self.assertTrue(alice.wait_connacks(2, timeout=10))
        self.assertEqual(alice.connacks[1], CONNACK_NOT_AUTHORIZED)
        since = self.broker.log_size()
        self.assertEqual(self.connack("alice", "alice-old", password=old),
                         CONNACK_NOT_AUTHORIZED)
        self.wait_log(rx_refused_login(q("alice"), q("alice-old"),
                                       "bad password"), since)
        fresh = self.mqtt("alice", "alice-new", password=new)
        self.assertEqual(fresh.subscribe("status"), [1])
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"new password", qos=1)
        self.expect(fresh, "status", b"new password")
        self.expect(carol, "status", b"new password")
        self.assertEqual(carol.disconnects, [])

    def test_user_deleted(self):
        carol = self.add_reader()
        alice = self.alice_subscribed()
        since = self.broker.log_size()
        self.admin("user", "del", "alice")
        self.wait_log(rx_kicked("alice-live", "alice", "user deleted"),
                      since, timeout=KICK_WAIT_S + 1)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S))
        since = self.broker.log_size()
        self.assertEqual(self.connack("alice", "alice-gone"),
                         CONNACK_NOT_AUTHORIZED)
        self.wait_log(rx_refused_login(q("alice"), q("alice-gone"),
                                       "unknown user"), since)
        self.assertNotIn("alice", self.admin("user", "list").stdout)
        # Her rules went with her: `acl list` no longer has one for her.
        self.assertNotRegex(self.admin("acl", "list").stdout,
                            r"(?m)\balice\b")
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"after delete", qos=1)
        self.expect(carol, "status", b"after delete")
        self.expect_nothing(alice, 0.3)

    def test_deny_rule_added(self):
        """An explicit deny beats the allow rule and is a loss of access."""
        carol = self.add_reader()
        alice = self.alice_subscribed()
        since = self.broker.log_size()
        self.broker.acl_add("--user", "alice", "status", "deny")
        self.wait_log(rx_kicked("alice-live", "alice", "access reduced"),
                      since, timeout=KICK_WAIT_S + 1)
        self.assertTrue(alice.wait_disconnected(KICK_WAIT_S))
        again = self.mqtt("alice", "alice-denied")
        self.assertEqual(again.subscribe("status"), [SUBACK_FAILURE])
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"denied", qos=1)
        self.expect(carol, "status", b"denied")
        self.expect_nothing(again, 0.5)

    def test_database_replaced(self):
        """Another database moved over auth.db (rename, as a deployment
        tool would): the plugin notices, eve gets rights, alice loses
        hers and is kicked."""
        alice = self.alice_subscribed()
        eve = self.mqtt("eve", "eve-live")
        new = os.path.join(self.broker.dir, "auth-new.db")
        self.admin("init", db=new)
        for user in ("sam", "alice", "eve"):
            self.broker.add_user(user, self.broker.users[user], db=new)
        self.admin("acl", "add", "--user", "sam", "status", "write", db=new)
        self.admin("acl", "add", "--user", "eve", "status", "read", db=new)
        since = self.broker.log_size()
        os.replace(new, self.broker.auth_db)
        self.wait_reloaded(since)
        self.wait_log(rx_kicked("alice-live", "alice", "access reduced"),
                      since, timeout=KICK_WAIT_S + 1)
        self.assertEqual(eve.subscribe("status"), [1])
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"new db", qos=1)
        self.expect(eve, "status", b"new db")
        self.expect_nothing(alice, 0.5)

    def test_broken_database_keeps_last_policy(self):
        """auth.db replaced by garbage while the broker runs: the plugin
        says it keeps the last good policy, and does; a good database
        put back is loaded again."""
        alice = self.alice_subscribed()
        good = os.path.join(self.broker.dir, "auth-good.db")
        with open(self.broker.auth_db, "rb") as src, \
                open(good, "wb") as dst:
            dst.write(src.read())
        bad = os.path.join(self.broker.dir, "auth-bad.db")
        with open(bad, "wb") as fh:
            fh.write(b"this is not an sqlite database\n" * 100)
        since = self.broker.log_size()
        os.replace(bad, self.broker.auth_db)
        self.wait_log(r"secmq_auth: .*(last good policy|keep)", since,
                      timeout=RELOAD_WAIT_S,
                      msg="no log line about keeping the policy")
        self.assertTrue(self.broker.running(), "the broker died")
        self.assert_not_logged(rx_reloaded(), "garbage was loaded", since)
        self.assert_not_logged(r"secmq_auth: disconnecting client",
                               "a client was kicked by a broken database",
                               since)
        # The last good policy still applies: logins, rights, refusals.
        again = self.mqtt("alice", "alice-2")
        self.assertEqual(again.subscribe("status"), [1])
        eve = self.mqtt("eve", "eve-2")
        self.assertEqual(eve.subscribe("status"), [SUBACK_FAILURE])
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"still working", qos=1)
        self.expect(alice, "status", b"still working")
        self.expect(again, "status", b"still working")
        since = self.broker.log_size()
        os.replace(good, self.broker.auth_db)
        self.wait_reloaded(since)


class ReloadInterval(PluginTestCase):
    """plugin_opt_reload_interval 60: a change is not seen by the
    periodic check for a minute, but SIGHUP (MOSQ_EVT_RELOAD) re-reads
    the database at once."""

    reload_interval = 60

    def test_sighup_reloads(self):
        eve = self.mqtt("eve", "eve-hup")
        since = self.broker.log_size()
        self.broker.admin("acl", "add", "--user", "eve", "status", "read")
        time.sleep(2.5)
        self.assert_not_logged(rx_reloaded(), "reloaded before the "
                               "60 s interval", since)
        self.assertEqual(eve.subscribe("status"), [SUBACK_FAILURE])
        self.broker.proc.send_signal(signal.SIGHUP)
        self.wait_reloaded(since, timeout=5)
        self.assertEqual(eve.subscribe("status"), [1])


class ShortReloadInterval(PluginTestCase):

    reload_interval = 2

    def test_change_seen_within_interval(self):
        eve = self.mqtt("eve", "eve-2s")
        for n in range(2):
            since = self.broker.log_size()
            t0 = time.monotonic()
            self.broker.admin("acl", "add", "--user", "eve", "t%d" % n,
                              "read")
            self.wait_reloaded(since, timeout=6)
            took = time.monotonic() - t0
            self.assertLess(took, 2 + 1.5, "the 2 s interval took %.1f s"
                            % took)
            self.assertEqual(eve.subscribe("t%d" % n), [1])


class StartupRefusals(PluginTestCase):
    """A broker whose plugin cannot use its database (or options) does
    not start, and says why. Each case is a second Broker in this test's
    temp dir (the test's own broker is a running control)."""

    def other_broker(self, **kw):
        b = brokermod.Broker(name="refusal", auth="plugin", **kw)
        self.addCleanup(b.close)
        b.setup()
        return b

    def refuses(self, b, pattern):
        with self.assertRaises(brokermod.BrokerError,
                               msg="mosquitto started anyway"):
            b.start()
        self.assertFalse(b.running())
        self.assertNotEqual(b.last_returncode, 0,
                            "mosquitto exited with status 0")
        self.assertIsNotNone(b.last_returncode)
        text = b.log_text()
        self.assertRegex(text, re.compile(pattern, re.M),
                         "no clear log line; log:\n" + b.log_tail(20))

    def test_corrupt_database(self):
        b = self.other_broker()
        with open(b.auth_db, "wb") as fh:
            fh.write(os.urandom(8192))
        self.refuses(b, r"secmq_auth: .*%s" % q(b.auth_db))

    def test_foreign_sqlite_database(self):
        b = self.other_broker()
        os.unlink(b.auth_db)
        con = sqlite3.connect(b.auth_db)
        con.execute("CREATE TABLE users (name TEXT, password TEXT)")
        con.execute("INSERT INTO users VALUES ('sam', 'x')")
        con.commit()
        con.close()
        self.refuses(b, r"secmq_auth: .*%s.*(not a secmq|secmq auth)"
                     % q(b.auth_db))

    def test_missing_database(self):
        b = self.other_broker()
        os.unlink(b.auth_db)
        self.refuses(b, r"secmq_auth: .*%s" % q(b.auth_db))
        self.assertFalse(os.path.exists(b.auth_db),
                         "the plugin created a database")

    def test_bad_options(self):
        for opts, word in (({"reload_interval": "0"}, "reload_interval"),
                           ({"reload_interval": "soon"}, "reload_interval"),
                           ({"require_signed": "maybe"}, "require_signed"),
                           ({"no_such_option": "1"}, "no_such_option")):
            with self.subTest(opts=opts):
                b = self.other_broker(plugin_opts=opts)
                self.refuses(b, r"secmq_auth: .*%s" % word)

    def test_control_broker_loaded(self):
        """The running broker of this test logged what it loaded."""
        self.assertRegex(self.broker.log_text(),
                         rx_loaded() + q(self.broker.auth_db))
        m = re.search(rx_loaded(), self.broker.log_text())
        self.assertEqual((m.group(1), m.group(2)), ("3", "2"))


if __name__ == "__main__":
    unittest.main()
