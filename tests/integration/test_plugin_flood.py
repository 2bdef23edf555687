#!/usr/bin/python3
"""test_plugin_flood.py -- the secmq_auth.so plugin's login guard
(broker-plugin/authguard.c) in a real mosquitto: a source address over its
failure budget is refused without a password check (and told nothing more
than a wrong password), while the same user from another address gets in;
the per-username budget backs off every failing source but never a clean
one; a source recovers after its backoff; a recent successful check serves
a reconnect without hashing and stops serving the moment a new password is
loaded.

Clients bind to 127.0.0.2 .. 127.0.0.4 (the attacker's addresses) or
127.0.0.1 (the genuine device's); the broker listens on 127.0.0.1. What the
plugin did is read from its log lines; nothing here is timed (the cost of
a flood is measured by `secmq-bench --suite broker`, docs/PERFORMANCE.md).
Budgets are set small with plugin_opt_login_* so that the tests are quick
(PluginTestCase relaxes the guard for the other plugin tests; each class
here sets what it tests).
Run with /usr/bin/python3.
"""

import os
import re
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (CONNACK_NOT_AUTHORIZED,  # noqa: E402
                                HOST, Mqtt, PluginTestCase, brokermod, q,
                                rx_refused_login)

ATTACKER = "127.0.0.2"
ATTACKER2 = "127.0.0.3"
GENUINE = "127.0.0.1"


def rx_backoff(addr, seconds=r"\d+"):
    return (r"secmq_auth: too many failed logins from %s: its logins are "
            r"refused without checking for %s s" % (q(addr), seconds))


def rx_unchecked(user, client_id, addr):
    return (rx_refused_login(q(user), q(client_id),
                             r"not checked, the address is backing off "
                             r"after failed logins \(from %s;" % q(addr)))


def rx_cached(user, client_id, addr):
    return (r"secmq_auth: login for '%s' \(client '%s'\) from %s matched a "
            r"recent check \(not hashed\)" % (q(user), q(client_id), q(addr)))


class BoundMqtt(Mqtt):
    """An Mqtt client whose connection comes from a given loopback
    address."""

    def __init__(self, broker, source, **kw):
        super().__init__(broker, **kw)
        self.source = source

    def connect(self, timeout=10.0):
        n, d = len(self.connacks), len(self.disconnects)
        kw = {"clean_start": self.clean_session} if self.v5 else {}
        try:
            self.c.connect(HOST, self.broker.port, keepalive=30,
                           bind_address=self.source, **kw)
        except (OSError, ssl.SSLError):
            return None
        self.c.loop_start()
        self.looping = True
        if not self.wait(lambda: len(self.connacks) > n or
                         len(self.disconnects) > d, timeout):
            return None
        with self.cond:
            return self.connacks[n] if len(self.connacks) > n else None


class GuardTestCase(PluginTestCase):

    def login(self, source, client_id, user="alice", password=None, **kw):
        """One connect from source; the CONNACK code (None: no answer)."""
        c = BoundMqtt(self.broker, source, user=user, password=password,
                      client_id=client_id, **kw)
        try:
            return c.connect()
        finally:
            c.close()

    def bad_logins(self, source, n, user="alice", tag="bad"):
        for i in range(n):
            rc = self.login(source, "%s-%d" % (tag, i), user=user,
                            password="not-the-password-%d" % i)
            self.assertEqual(rc, CONNACK_NOT_AUTHORIZED,
                             "a wrong password from %s got CONNACK %r"
                             % (source, rc))

    def count_log(self, pattern, since=0):
        return len(re.findall(pattern, (self.broker.log_text() or "")[since:]))


class SourceBudget(GuardTestCase):
    plugin_opts = {"login_source_failures": 3, "login_user_failures": 0,
                   "login_pause_ms": 0, "login_backoff": 120,
                   "login_backoff_max": 120, "login_log_interval": 600}

    def test_source_over_budget_refused_unchecked(self):
        """Three wrong passwords from 127.0.0.2: its next login, with the
        right password, is refused without a password check (logged as
        such, CONNACK 5 as for a wrong password), while alice from
        127.0.0.1 gets in. Further refusals are not logged one by one."""
        since = self.broker.log_size()
        self.bad_logins(ATTACKER, 3)
        rc = self.login(ATTACKER, "alice-attacker")
        self.assertEqual(rc, CONNACK_NOT_AUTHORIZED,
                         "the right password from a backing-off address "
                         "was not refused")
        self.wait_log(rx_backoff(ATTACKER, "120"), since=since,
                      msg="no backoff after 3 failures")
        self.wait_log(rx_unchecked("alice", "alice-attacker", ATTACKER),
                      since=since, msg="the refusal was not logged as "
                      "unchecked")
        # The hashed refusals were 3; the unchecked one was not hashed.
        self.assertEqual(self.count_log(
            rx_refused_login("alice", r"bad-\d", "bad password"), since), 3)
        self.assertEqual(self.login(GENUINE, "alice-genuine"), 0,
                         "alice from 127.0.0.1 was refused")
        # A flood of further refusals: no line each (one summary per
        # interval, 600 s here).
        for i in range(20):
            self.assertEqual(self.login(ATTACKER, "flood-%d" % i),
                             CONNACK_NOT_AUTHORIZED)
        self.assertEqual(self.count_log(r"not checked, the address is "
                                        r"backing off", since), 1,
                         "refusals of a backing-off address were logged "
                         "one by one")

    def test_settings_logged(self):
        """The settings in force are logged at start-up."""
        self.wait_log(r"secmq_auth: login guard: 0 ms pause after a failed "
                      r"login, backoff after 3 failures per address "
                      r"\(120\.\.120 s\), 0 per user name \(0: off\); 4096 "
                      r"successful checks cached for 900 s")

    def test_refusal_looks_like_wrong_password(self):
        """MQTT v5: the unchecked refusal carries the same reason code as
        a wrong password from a clean address."""
        self.bad_logins(ATTACKER, 3)
        wrong = self.login(ATTACKER2, "v5-wrong", password="nope", v5=True)
        unchecked = self.login(ATTACKER, "v5-unchecked", v5=True)
        self.assertIn(wrong, (0x86, 0x87))
        self.assertEqual(unchecked, wrong)


class NotGuesses(GuardTestCase):
    """A right password refused for another reason (someone else's client
    id, a disabled user) spends no failure budget."""
    plugin_opts = {"login_source_failures": 2, "login_user_failures": 2,
                   "login_pause_ms": 0, "login_backoff": 120,
                   "login_backoff_max": 120,
                   "client_id_pattern": "%u %u-*"}

    def test_refused_client_ids_are_not_guesses(self):
        since = self.broker.log_size()
        for i in range(4):
            self.assertEqual(self.login(ATTACKER, "alice-%d" % i, user="sam"),
                             CONNACK_NOT_AUTHORIZED)
        self.change("user", "disable", "alice")
        for i in range(3):
            self.assertEqual(self.login(ATTACKER, "alice-%d" % i),
                             CONNACK_NOT_AUTHORIZED)
        self.change("user", "enable", "alice")
        self.assertEqual(self.login(ATTACKER, "sam-1", user="sam"), 0,
                         "refused client ids backed off the address")
        self.assertEqual(self.login(ATTACKER, "alice-ok"), 0)
        self.assertEqual(self.count_log(r"too many failed logins", since), 0)


class UserBudget(GuardTestCase):
    plugin_opts = {"login_source_failures": 100, "login_user_failures": 3,
                   "login_pause_ms": 0, "login_backoff": 120,
                   "login_backoff_max": 120}

    def test_user_budget_spares_genuine_source(self):
        """Three wrong passwords for alice from 127.0.0.2 spend alice's
        budget: 127.0.0.3 then backs off at its first failure (its right
        password is refused unchecked), though each source's own budget
        is 100; alice from 127.0.0.1, which has not failed, still gets in,
        and so does sam from the backing-off address's neighbour."""
        since = self.broker.log_size()
        self.bad_logins(ATTACKER, 3)
        self.bad_logins(ATTACKER2, 1, tag="bad3")
        self.assertEqual(self.login(ATTACKER2, "alice-3"),
                         CONNACK_NOT_AUTHORIZED,
                         "a second source failing for alice did not back "
                         "off at its first failure")
        self.wait_log(rx_backoff(ATTACKER), since=since,
                      msg="alice's budget did not back off 127.0.0.2")
        self.wait_log(rx_backoff(ATTACKER2), since=since)
        self.wait_log(rx_unchecked("alice", "alice-3", ATTACKER2),
                      since=since)
        self.assertEqual(self.login(GENUINE, "alice-genuine"), 0,
                         "the per-user budget locked alice out of a clean "
                         "address")
        self.assertEqual(self.login("127.0.0.4", "sam-4", user="sam"), 0)


class Recovery(GuardTestCase):
    plugin_opts = {"login_source_failures": 2, "login_user_failures": 50,
                   "login_pause_ms": 0,
                   "login_backoff": 2, "login_backoff_max": 2,
                   "login_window": 1}

    def test_source_recovers_after_backoff(self):
        """Two failures from 127.0.0.2 start a 2 s backoff; after it the
        right password from 127.0.0.2 works again."""
        since = self.broker.log_size()
        self.bad_logins(ATTACKER, 2)
        self.wait_log(rx_backoff(ATTACKER, "2"), since=since)
        ok = self.poll(lambda: self.login(ATTACKER, "alice-back") == 0,
                       timeout=20.0, interval=0.5)
        self.assertTrue(ok, "127.0.0.2 was still refused 20 s after a 2 s "
                        "backoff")


class SuccessCache(GuardTestCase):
    # No pause after alice's failure (the old password) for the next
    # login from the same address (the new one).
    plugin_opts = {"login_pause_ms": 0}

    def test_cached_check_until_password_changes(self):
        """alice's second login needs no password hash (the first one's
        check is cached); `secmq-admin user passwd alice` ends that with
        the reload: the old password is refused at once, the new one is
        checked, then cached in turn."""
        since = self.broker.log_size()
        old = self.broker.users["alice"]
        self.assertEqual(self.login(GENUINE, "alice-1"), 0)
        self.assertEqual(self.login(GENUINE, "alice-2"), 0)
        self.wait_log(rx_cached("alice", "alice-2", GENUINE), since=since,
                      msg="a reconnect with the same password was hashed "
                      "again")
        self.assertEqual(self.count_log(rx_cached("alice", "alice-1",
                                                  GENUINE), since), 0,
                         "the first login cannot have been cached")
        since = self.broker.log_size()
        self.broker.set_password("alice")
        self.wait_reloaded(since)
        self.assertEqual(self.login(GENUINE, "alice-old", password=old),
                         CONNACK_NOT_AUTHORIZED,
                         "the old password still works after the reload")
        self.assertEqual(self.login(GENUINE, "alice-new"), 0)
        self.assertEqual(self.login(GENUINE, "alice-new2"), 0)
        self.wait_log(rx_cached("alice", "alice-new2", GENUINE), since=since)
        self.assertEqual(self.count_log(rx_cached("alice", r"alice-(old|new)",
                                                  GENUINE), since), 0)

    def test_disabled_user_leaves_cache(self):
        """A disabled user's cached check does not let it back in."""
        since = self.broker.log_size()
        self.assertEqual(self.login(GENUINE, "alice-1"), 0)
        self.assertEqual(self.login(GENUINE, "alice-2"), 0)
        self.wait_log(rx_cached("alice", "alice-2", GENUINE), since=since)
        self.change("user", "disable", "alice")
        since = self.broker.log_size()
        self.assertEqual(self.login(GENUINE, "alice-3"),
                         CONNACK_NOT_AUTHORIZED)
        self.assertEqual(self.count_log(rx_cached("alice", "alice-3",
                                                  GENUINE), since), 0)


class BadOptions(GuardTestCase):

    def test_bad_guard_options_stop_the_broker(self):
        """An out-of-range plugin_opt_login_* value stops the broker at
        start-up with a line naming the option and its range."""
        cases = (({"login_backoff": "0"},
                  r"plugin_opt_login_backoff must be 1\.\.86400 seconds"),
                 ({"login_cache_ttl": "soon"},
                  r"plugin_opt_login_cache_ttl must be 1\.\.86400"),
                 ({"login_source_failures": "-3"},
                  r"plugin_opt_login_source_failures must be 1\.\.1000000"),
                 ({"login_backoff": "60", "login_backoff_max": "10"},
                  r"plugin_opt_login_backoff_max must not be less than "
                  r"plugin_opt_login_backoff"))
        for opts, pattern in cases:
            with self.subTest(opts=opts):
                b = brokermod.Broker(name="guardopts", auth="plugin",
                                     plugin_opts=opts)
                self.addCleanup(b.close)
                b.setup()
                with self.assertRaises(brokermod.BrokerError,
                                       msg="mosquitto started anyway"):
                    b.start()
                self.assertRegex(b.log_text() or "",
                                 re.compile("secmq_auth: " + pattern))


if __name__ == "__main__":
    unittest.main(verbosity=2)
