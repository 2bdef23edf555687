#!/usr/bin/python3
"""test_plugin_migrate.py -- moving to the secmq_auth.so plugin and keeping
its password hashes current, against a real mosquitto 2.0.

- import-mosquitto into the running broker's database: a user whose hash
  came from /usr/bin/mosquitto_passwd ($7$, PBKDF2-SHA512) logs in with
  his old password, the plugin replaces the hash by argon2id at that login
  (log line and `user list`), and his imported acl-file rules apply, with
  subscriptions checked as the plugin does (not as acl_file did).
- `secmq-admin cost` while the broker runs: the next login of each user
  rehashes at the new cost (crypto_pwhash_str_needs_rehash).
- group rules: a member gets the group's rights; removing it from the
  group takes them away and disconnects it.
Every refusal has a positive control. Run with /usr/bin/python3.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (CONNACK_NOT_AUTHORIZED,  # noqa: E402
                                SUBACK_FAILURE, PluginTestCase, rx_kicked)

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


def rx_upgraded(user):
    return (r"secmq_auth: upgraded the password hash of '%s' to argon2id"
            % re.escape(user))


class Migration(PluginTestCase):

    def user_line(self, name):
        out = self.admin("user", "list").stdout
        for line in out.splitlines():
            if line.split("\t")[0] == name:
                return line
        self.fail("secmq-admin user list has no %r:\n%s" % (name, out))

    def test_imported_mosquitto_user(self):
        work = self.broker.dir
        passwd = os.path.join(work, "import.passwd")
        acl = os.path.join(work, "import.acl")
        r = subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", passwd, "carol",
                            "carol's old password"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(acl, "w") as fh:
            fh.write("# a mosquitto acl_file\n"
                     "user carol\n"
                     "topic readwrite carol/#\n"
                     "topic read status\n")
        since = self.broker.log_size()
        out = self.admin("import-mosquitto", "--passwd", passwd, "--acl",
                         acl).stdout
        self.assertRegex(out, r"imported 1 users?, 2 rules")
        self.wait_reloaded(since)
        self.assertIn("hash=mosquitto-pbkdf2", self.user_line("carol"))

        self.assertEqual(self.connack("carol", "carol-bad",
                                      password="not it"),
                         CONNACK_NOT_AUTHORIZED)
        since = self.broker.log_size()
        carol = self.mqtt("carol", "carol-1",
                          password="carol's old password")
        self.wait_log(rx_upgraded("carol"), since)
        line = self.user_line("carol")
        self.assertIn("hash=argon2id", line)
        self.assertNotIn("rehash", line)
        # The upgrade is the plugin's own write: no reload, nobody kicked.
        self.assert_not_logged(r"secmq_auth: (reloaded policy|disconnecting)",
                               "the hash upgrade caused a reload", since)

        # The imported rules: carol/# both ways, status read only; a
        # subscription wider than what she may read is refused (acl_file
        # would have allowed it).
        self.assertEqual(carol.subscribe([("carol/#", 1), ("status", 1),
                                          ("#", 1)]),
                         [1, 1, SUBACK_FAILURE])
        carol.publish("carol/x", b"mine", qos=1)
        self.expect(carol, "carol/x", b"mine")
        sam = self.mqtt("sam", "sam-pub")
        sam.publish("status", b"for carol", qos=1)
        self.expect(carol, "status", b"for carol")
        carol.close()

        # The argon2id hash now in the database takes the same password,
        # and only it.
        self.assertEqual(self.connack("carol", "carol-2",
                                      password="carol's old password"), 0)
        self.assertEqual(self.connack("carol", "carol-3",
                                      password="carol's old passwor"),
                         CONNACK_NOT_AUTHORIZED)

    def test_cost_change_rehashes_at_next_login(self):
        since = self.broker.log_size()
        self.admin("cost", "--pw-ops", "1", "--pw-mem", "8M")
        self.wait_reloaded(since)
        self.assertEqual(self.admin("cost").stdout.strip(),
                         "pw_ops 1 pw_mem 8388608")
        self.assertIn("rehash at next login", self.user_line("sam"))
        self.assertIn("rehash at next login", self.user_line("alice"))

        since = self.broker.log_size()
        self.assertEqual(self.connack("sam", "sam-1"), 0)
        self.wait_log(rx_upgraded("sam"), since)
        self.assertNotIn("rehash", self.user_line("sam"))
        # alice did not log in: still the old cost.
        self.assertIn("rehash at next login", self.user_line("alice"))
        self.assertEqual(self.connack("sam", "sam-2"), 0)
        self.assertEqual(self.connack("sam", "sam-3", password="wrong"),
                         CONNACK_NOT_AUTHORIZED)


class Groups(PluginTestCase):

    def test_group_rules_follow_membership(self):
        # Each change waits for its reload, so that the reload acl_add
        # waits for is the one that read the rule (not one that a change
        # before it started).
        self.change("group", "add", "sensors")
        self.change("group", "member", "sensors", "eve")
        self.acl_add("--group", "sensors", "sensors/#", "readwrite")
        eve = self.mqtt("eve", "eve-sensor")
        self.assertEqual(eve.subscribe("sensors/#"), [1])
        eve.publish("sensors/t1", b"21.5", qos=1)
        self.expect(eve, "sensors/t1", b"21.5")
        # alice is not a member (the control for the rule being a group's).
        alice = self.mqtt("alice", "alice-1")
        self.assertEqual(alice.subscribe("sensors/#"), [SUBACK_FAILURE])

        since = self.broker.log_size()
        self.change("group", "member", "sensors", "eve", "--remove")
        self.wait_log(rx_kicked("eve-sensor", "eve", "access reduced"), since)
        self.assertTrue(eve.wait_disconnected(10))
        again = self.mqtt("eve", "eve-again")
        self.assertEqual(again.subscribe("sensors/#"), [SUBACK_FAILURE])


if __name__ == "__main__":
    unittest.main()
