#!/usr/bin/python3
"""test_config.py -- connection options from a config file (secmq-pub/sub).

--config FILE and the default $XDG_CONFIG_HOME/secmq/client.conf supply
host, port, CA, user and password; the command line overrides the file;
a file others may write, a file holding a password (-P) that others may
read, an unknown option and a message option in the file are refused with
an error naming the file.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase, HOST  # noqa: E402


class ConfigFile(BrokerTestCase):

    def write_conf(self, name, lines, mode=0o600):
        path = os.path.join(self.broker.dir, name)
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(path, mode)
        return path

    def good_lines(self, user="sam", password=None):
        return ["# test broker", "",
                "-h " + HOST,
                "-p %d" % self.broker.port,
                "--cafile " + self.broker.cafile,
                "-u " + user,
                "-P " + (password or self.broker.users[user])]

    def test_options_from_config_file(self):
        sub_conf = self.write_conf("sub.conf", self.good_lines("alice"))
        pub_conf = self.write_conf("pub.conf", self.good_lines("sam"))
        sub = self.start_sub("--config", sub_conf, "-t", "cfg/t", "-q", "1",
                             "-C", "1", "-v", conn=[], client_id="cfg-sub")
        self.assert_logged(r"as cfg-sub \(.*u'alice'\)",
                           "secmq-sub did not log in as the config's user")
        r = self.run_tool("secmq-pub", ["--config", pub_conf, "-t", "cfg/t",
                                        "-q", "1", "-m", "from config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = self.finish(sub)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "cfg/t from config\n")

    def test_command_line_overrides_file(self):
        conf = self.write_conf("wrongpw.conf",
                               self.good_lines(password="not-the-password"))
        r = self.run_tool("secmq-pub", ["--config", conf, "-t", "cfg/o",
                                        "-m", "x"])
        self.assertNotEqual(r.returncode, 0, "wrong password in the file "
                            "was not used")
        r = self.run_tool("secmq-pub", ["--config", conf,
                                        "-P", self.broker.users["sam"],
                                        "-t", "cfg/o", "-m", "x"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_world_writable_config_refused(self):
        for mode in (0o666, 0o602, 0o620):
            conf = self.write_conf("open-%o.conf" % mode, self.good_lines(),
                                   mode=mode)
            os.chmod(conf, mode)  # umask may have masked it at creation
            for tool in ("secmq-pub", "secmq-sub"):
                args = ["--config", conf, "-t", "cfg/w"] + \
                    (["-m", "x"] if tool == "secmq-pub" else ["-W", "2"])
                r = self.run_tool(tool, args)
                self.assertNotEqual(r.returncode, 0,
                                    "%s accepted a mode %o config file"
                                    % (tool, mode))
                self.assertNotEqual(r.returncode, 27, "it connected")
                self.assertIn(conf, r.stderr,
                              "the error does not name the file")
        self.assert_not_logged(r"New client connected",
                               "a client connected with a refused config")

    def test_config_with_password_obeys_the_password_file_rule(self):
        """A config file with -P is a password file: anything for others
        (or group write) is refused, naming the file, its mode and the
        chmod, before any connection; 0640 is fine, and a config file
        without a password may be 0644."""
        for mode in (0o644, 0o604, 0o601):
            conf = self.write_conf("pw-%o.conf" % mode, self.good_lines(),
                                   mode=mode)
            want = ("config file %s holds a password (-P) and is accessible "
                    "to others (mode %04o); fix it with: chmod 600 %s"
                    % (conf, mode, conf))
            for tool in ("secmq-pub", "secmq-sub"):
                args = ["--config", conf, "-t", "cfg/r"] + \
                    (["-m", "x"] if tool == "secmq-pub" else ["-W", "2"])
                r = self.run_tool(tool, args)
                self.assertNotEqual(r.returncode, 0,
                                    "%s accepted a mode %o config file "
                                    "holding a password" % (tool, mode))
                self.assertIn(want, r.stderr)
        self.assert_not_logged(r"New client connected",
                               "a client connected with a refused config")
        conf = self.write_conf("pw-640.conf", self.good_lines(), mode=0o640)
        r = self.run_tool("secmq-pub", ["--config", conf, "-t", "cfg/r",
                                        "-q", "1", "-m", "group may read"])
        self.assertEqual(r.returncode, 0, r.stderr)
        # No password in it: 0644 is fine (the password from a 0600 file).
        pwfile = self.write_conf("sam.pw", [self.broker.users["sam"]])
        lines = [l for l in self.good_lines() if not l.startswith("-P ")]
        conf = self.write_conf("nopw.conf", lines + ["--pw-file " + pwfile],
                               mode=0o644)
        r = self.run_tool("secmq-pub", ["--config", conf, "-t", "cfg/r",
                                        "-q", "1", "-m", "no secret here"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("warning", r.stderr)

    def test_unknown_option_refused(self):
        lines = self.good_lines() + ["--frobnicate yes"]
        conf = self.write_conf("unknown.conf", lines)
        r = self.run_tool("secmq-pub", ["--config", conf, "-t", "cfg/u",
                                        "-m", "x"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(conf, r.stderr)
        self.assertRegex(r.stderr, r"\b%d\b" % len(lines),
                         "the error does not name line %d" % len(lines))
        self.assertIn("frobnicate", r.stderr)

    def test_message_option_in_file_refused(self):
        conf = self.write_conf("msg.conf", self.good_lines() +
                               ["-t cfg/m", "-m from-file"])
        r = self.run_tool("secmq-pub", ["--config", conf, "-t", "cfg/m",
                                        "-m", "x"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(conf, r.stderr)

    def test_default_config_and_no_config(self):
        xdg = os.path.join(self.broker.dir, "xdg")
        os.makedirs(os.path.join(xdg, "secmq"))
        path = os.path.join(xdg, "secmq", "client.conf")
        with open(path, "w") as fh:
            fh.write("\n".join(self.good_lines()) + "\n")
        os.chmod(path, 0o600)
        env = {"XDG_CONFIG_HOME": xdg}
        r = self.run_tool("secmq-pub", ["-t", "cfg/d", "-q", "1",
                                        "-m", "default"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # --no-config: back to localhost:8883 and the system CAs, which
        # cannot reach this broker.
        r = self.run_tool("secmq-pub", ["--no-config", "-t", "cfg/d",
                                        "-m", "x"], env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assert_logged(r"New client connected .*u'sam'",
                           "the default config file was not used")


if __name__ == "__main__":
    unittest.main()
