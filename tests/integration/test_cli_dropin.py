#!/usr/bin/python3
"""test_cli_dropin.py -- secmq-pub/sub as drop-ins for mosquitto_pub/_sub.

Against a real broker: the exit codes of mosquitto's clients (8 for TLS,
7 for a lost connection; mosquitto_pub itself is run in the same cases when
it is installed), --version, -L URLs (mqtts:// and mqtt://, user and
password, default ports, the password wiped from /proc/PID/cmdline, bad
URLs refused), secmq-sub's --remove-retained, -U and -E, and the
mosquitto options secmq refuses with "not supported: <why>" and exit 1
before connecting, and MQTT v5 session expiry (-x; -c keeping the session
with -V mqttv5).
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import broker as brokermod  # noqa: E402
from testcase import BrokerTestCase, budget, HOST, emulated  # noqa: E402

EXIT_CONN_LOST = 7   # MOSQ_ERR_CONN_LOST
EXIT_TLS = 8         # MOSQ_ERR_TLS
EXIT_TIMEOUT = 27    # MOSQ_ERR_TIMEOUT (-W)

VERSION_RE = (r"^%s \d+\.\d+\.\d+ \(libsecmq \d+\.\d+\.\d+, libmosquitto "
              r"\d+\.\d+\.\d+, wolfSSL \d+\.\d+\.\d+, libsodium "
              r"\d+\.\d+\.\d+\)\n$")


class DropIn(BrokerTestCase):

    listeners = ("tls", "plain")

    def password(self, user="sam"):
        return self.broker.users[user]

    def url(self, scheme="mqtts", user="sam", password=None, port=None,
            topic="test/url"):
        auth = ""
        if user is not None:
            auth = user
            if password is not False:
                auth += ":" + (password or self.password(user))
            auth += "@"
        port = self.broker.port if port is None else port
        hostport = HOST + (":%d" % port if port else "")
        return "%s://%s%s/%s" % (scheme, auth, hostport, topic)

    # -- exit codes ---------------------------------------------------------

    def test_tls_failure_exits_8(self):
        for tool, extra in (("secmq-pub", ["-m", "x", "-q", "1"]),
                            ("secmq-sub", ["-W", "5"])):
            r = self.run_tool(tool, self.conn_args(
                cafile=self.broker.other_cafile) + ["-t", "test/x"] + extra)
            self.assertEqual(r.returncode, EXIT_TLS, "%s: %r"
                             % (tool, r.stderr))
            self.assertRegex(r.stderr, r"(?i)\bCA\b|trusted")

    def test_lost_connection_exits_7(self):
        """--no-tls to the TLS listener: the broker closes the connection
        before any CONNACK."""
        for tool, extra in (("secmq-pub", ["-m", "x", "-q", "1"]),
                            ("secmq-sub", ["-W", "5"])):
            r = self.run_tool(tool, self.conn_args(cafile=False) +
                              ["--no-tls", "-t", "test/x"] + extra)
            self.assertEqual(r.returncode, EXIT_CONN_LOST, "%s: %r"
                             % (tool, r.stderr))
            self.assertIn("closed the connection", r.stderr)

    def test_codes_as_mosquitto_pub(self):
        """The same two cases with mosquitto_pub 2.0, when installed."""
        mosq = shutil.which("mosquitto_pub")
        if mosq is None:
            self.skipTest("mosquitto_pub not installed")
        pw = self.password()
        cases = (
            (["--no-tls", "-p", str(self.broker.port)],
             ["-p", str(self.broker.port)], EXIT_CONN_LOST),
            (["-p", str(self.broker.ports["plain"]), "--cafile",
              self.broker.cafile],
             ["-p", str(self.broker.ports["plain"]), "--cafile",
              self.broker.cafile], EXIT_TLS),
        )
        for ours, theirs, code in cases:
            common = ["-h", HOST, "-u", "sam", "-P", pw, "-t", "test/x",
                      "-m", "x", "-q", "1"]
            r = self.run_tool("secmq-pub", ours + common)
            m = subprocess.run([mosq] + theirs + common, capture_output=True,
                               text=True, timeout=20,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(m.returncode, code, "mosquitto_pub: %r"
                             % m.stderr)
            self.assertEqual(r.returncode, m.returncode, r.stderr)

    def test_help_documents_exit_codes_and_options(self):
        for tool in ("secmq-pub", "secmq-sub"):
            r = self.run_tool(tool, ["--help"])
            self.assertEqual(r.returncode, 0)
            status = r.stdout.split("Exit status:")[1]
            self.assertRegex(status, r"\n  7 .*lost")
            self.assertRegex(status, r"\n  8 .*TLS")
            for opt in ("-L, --url", "--version"):
                self.assertIn(opt, r.stdout)
        r = self.run_tool("secmq-sub", ["--help"])
        for opt in ("--remove-retained", "-U, --unsubscribe", "\n -E "):
            self.assertIn(opt, r.stdout)

    def test_version(self):
        """Every tool's --version names the tool and the libraries it runs
        on; secmq-certs, which does not link libsecmq, its own two."""
        for tool in ("secmq-pub", "secmq-sub", "secmq-file", "secmq-keys",
                     "secmq-admin", "secmq-bench"):
            r = self.run_tool(tool, ["--version"])
            self.assertEqual(r.returncode, 0, "%s: %s" % (tool, r.stderr))
            self.assertRegex(r.stdout, VERSION_RE % tool)
            self.assertEqual(r.stderr, "")
        r = self.run_tool("secmq-certs", ["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^secmq-certs \d+\.\d+\.\d+ \(wolfSSL "
                         r"\d+\.\d+\.\d+, libsodium \d+\.\d+\.\d+\)\n$")

    # -- -L URL -------------------------------------------------------------

    def test_url_mqtts_publish_and_subscribe(self):
        sub = self.start_sub("-t", "test/url", "-q", "1", "-C", "1", "-v",
                             client_id="url-watch")
        r = self.run_tool("secmq-pub", ["-L", self.url(), "--cafile",
                                        self.broker.cafile, "-q", "1",
                                        "-m", "via url"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = self.finish(sub)
        self.assertEqual((rc, out), (0, "test/url via url\n"), err)
        self.assert_logged(r"New client connected from .* as \S+ .*u'sam'",
                           "the URL's user did not log in")
        # secmq-sub takes its filter (wildcards allowed) from the URL.
        since = self.broker.log_size()
        sub = self.spawn("secmq-sub", [
            "-L", self.url(user="alice", topic="test/url/#"), "--cafile",
            self.broker.cafile, "-i", "url-sub", "-q", "1", "-C", "1",
            "-v"])
        self.wait_log_or_exit(sub, r"Sending SUBACK to url-sub$", since)
        self.pub("-t", "test/url/deep", "-q", "1", "-m", "hello")
        rc, out, err = self.finish(sub)
        self.assertEqual((rc, out), (0, "test/url/deep hello\n"), err)

    def test_url_mqtt_is_plain_tcp(self):
        sub = self.start_sub("-t", "test/url", "-q", "1", "-C", "1",
                             client_id="plain-watch")
        r = self.run_tool("secmq-pub", [
            "-L", self.url("mqtt", port=self.broker.ports["plain"]),
            "-q", "1", "-m", "plain", "-d"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("over plain TCP", r.stderr)
        rc, out, err = self.finish(sub)
        self.assertEqual((rc, out), (0, "plain\n"), err)

    def test_url_default_ports(self):
        """Without a port, mqtts:// means 8883 and mqtt:// 1883 (the debug
        line says where it connects; whatever listens there or not)."""
        for scheme, port, how in (("mqtts", 8883, "over TLS"),
                                  ("mqtt", 1883, "over plain TCP")):
            r = self.run_tool("secmq-pub", [
                "-L", self.url(scheme, user=None, port=0), "-m", "x", "-d",
                "--cafile" if scheme == "mqtts" else "-q",
                self.broker.cafile if scheme == "mqtts" else "0"],
                timeout=30)
            self.assertIn("connecting to %s port %d %s" % (HOST, port, how),
                          r.stderr)

    def test_url_then_options_override(self):
        """Options after -L win, as with mosquitto: a wrong password in
        the URL, then the right one with -P."""
        r = self.run_tool("secmq-pub", [
            "-L", self.url(password="wrong"), "--cafile", self.broker.cafile,
            "-m", "x"])
        self.assertEqual(r.returncode, 5, r.stderr)
        r = self.run_tool("secmq-pub", [
            "-L", self.url(password="wrong"), "-P", self.password(),
            "--cafile", self.broker.cafile, "-m", "x"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_url_password_wiped_from_cmdline(self):
        if emulated(os.path.join(brokermod.default_bin_dir(), "secmq-sub")):
            # /proc/PID/cmdline is then qemu-user's own argv; the program
            # wipes its copy in the emulated stack, which no /proc file
            # shows. The wipe is checked by the native build's run.
            self.skipTest("secmq-sub runs through qemu-user: /proc/PID/"
                          "cmdline shows qemu's arguments, not the program's")
        pw = self.password("alice")
        since = self.broker.log_size()
        sub = self.spawn("secmq-sub", [
            "-L", self.url(user="alice", topic="test/wipe"), "--cafile",
            self.broker.cafile, "-i", "wipe-sub"])
        self.wait_log_or_exit(sub, r"Sending SUBACK to wipe-sub$", since)
        with open("/proc/%d/cmdline" % sub.pid, "rb") as fh:
            cmdline = fh.read()
        self.assertNotIn(pw.encode(), cmdline)
        self.assertIn(b"alice:", cmdline)
        self.assertIn(b"/test/wipe", cmdline)

    def test_bad_urls_refused(self):
        cases = (
            ("http://%s/t" % HOST, "scheme"),
            ("mqtts://%s" % HOST, "topic"),
            ("mqtts://%s:99999/t" % HOST, "port"),
            ("mqtts://%s:/t" % HOST, "port"),
            ("mqtts:///t", "host"),
            ("mqtts://:pw@%s/t" % HOST, "user"),
            ("mqtts://%s/a/+/b" % HOST, "topic"),
        )
        for url, word in cases:
            r = self.run_tool("secmq-pub", ["-L", url, "-m", "x"])
            self.assertEqual(r.returncode, 1, "%s: %r" % (url, r.stderr))
            self.assertIn(word, r.stderr.lower(), url)
            self.assertEqual(r.stdout, "")
        # Only on the command line: a config file cannot set a topic.
        conf = os.path.join(self.broker.dir, "url.conf")
        with open(conf, "w") as fh:
            fh.write("-L %s\n" % self.url(password=False))
        os.chmod(conf, 0o600)
        r = self.run_tool("secmq-pub", ["--config", conf, "-m", "x"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("command line", r.stderr)

    # -- secmq-sub: --remove-retained, -U, -E ------------------------------

    def test_remove_retained(self):
        for t in ("a", "b"):
            self.pub("-t", "test/rr/" + t, "-r", "-q", "1", "-m", "old " + t)
        r = self.run_tool("secmq-sub", self.conn_args() + [
            "-t", "test/rr/#", "--remove-retained", "-C", "2", "-v"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()),
                         ["test/rr/a old a", "test/rr/b old b"])
        self.pub("-t", "test/rr/c", "-r", "-q", "1", "-m", "fresh")
        # Only the retained message published after the clean-up is left.
        r = self.run_tool("secmq-sub", self.conn_args() + [
            "-t", "test/rr/#", "-C", "3", "-W", "3", "-v"])
        self.assertEqual(r.returncode, EXIT_TIMEOUT, r.stderr)
        self.assertEqual(r.stdout, "test/rr/c fresh\n")

    def test_exit_after_subscribe_and_unsubscribe(self):
        # -E sets up a persistent session with two subscriptions, exits 0.
        args = self.conn_args("alice") + ["-c", "-i", "sess-u", "-q", "1"]
        since = self.broker.log_size()
        r = self.run_tool("secmq-sub", args + ["-t", "test/u/a", "-t",
                                               "test/u/b", "-E"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assert_logged(r"Sending SUBACK to sess-u$", "no SUBACK",
                           since=since)
        # -U drops one of them from the session the broker kept.
        since = self.broker.log_size()
        r = self.run_tool("secmq-sub", args + ["-t", "test/u/b", "-U",
                                               "test/u/a", "-E"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_logged(r"Received UNSUBSCRIBE from sess-u$",
                           "-U sent no UNSUBSCRIBE", since=since)
        # While away: the message on a is not queued, the one on b is.
        self.pub("-t", "test/u/a", "-q", "1", "-m", "gone")
        self.pub("-t", "test/u/b", "-q", "1", "-m", "kept")
        r = self.run_tool("secmq-sub", args + ["-t", "test/u/b", "-C", "1",
                                               "-W", budget(10), "-v"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "test/u/b kept\n")

    # -- MQTT v5 session expiry (-x) ----------------------------------------

    def test_v5_persistent_session_kept(self):
        """-c -V mqttv5 keeps the session as -c does with 3.1.1 (and as
        mosquitto_sub does: session expiry -1 by default with -c)."""
        args = self.conn_args("alice") + ["-V", "mqttv5", "-c", "-i",
                                          "v5-kept", "-q", "1", "-t",
                                          "test/v5"]
        r = self.run_tool("secmq-sub", args + ["-E"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.pub("-t", "test/v5", "-q", "1", "-m", "queued while away")
        r = self.run_tool("secmq-sub", args + ["-C", "1", "-W", budget(10)])
        self.assertEqual((r.returncode, r.stdout), (0, "queued while away\n"),
                         r.stderr)

    def test_session_expiry_zero_ends_session(self):
        """-x 0: the broker drops the session at disconnect, so nothing is
        queued; the next session gets only what is published later."""
        args = self.conn_args("alice") + ["-V", "mqttv5", "-c", "-i",
                                          "v5-x0", "-q", "1", "-t",
                                          "test/v5x"]
        r = self.run_tool("secmq-sub", args + ["-x", "0", "-E"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.pub("-t", "test/v5x", "-q", "1", "-m", "lost")
        sub = self.start_sub("-V", "mqttv5", "-c", "-q", "1", "-t",
                             "test/v5x", "-x", "600", "-C", "1", "-W", budget(10),
                             user="alice", client_id="v5-x0")
        self.pub("-t", "test/v5x", "-q", "1", "-m", "after")
        rc, out, err = self.finish(sub)
        self.assertEqual((rc, out), (0, "after\n"), err)

    def test_session_expiry_refusals(self):
        for extra, words in (
                (["-x", "60"], "needs -V mqttv5"),
                (["-V", "mqttv5", "-x", "soon"], "-x: needs seconds"),
                (["-V", "mqttv5", "-x", "-1"], "needs a client id")):
            r = self.run_tool("secmq-sub", self.conn_args() + extra +
                              ["-t", "test/x"])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(words, r.stderr)

    # -- refused mosquitto options -----------------------------------------

    def test_unsupported_options_refused(self):
        cases = (
            (["-D", "connect", "session-expiry-interval", "60"], "-D"),
            (["--property", "connect", "user-property", "a", "b"],
             "--property"),
            (["--unix", "/tmp/mosquitto.sock"], "--unix"),
            (["-V", "mqttv31"], "-V mqttv31"),
            (["--psk", "deadbeef"], "--psk"),
        )
        since = self.broker.log_size()
        for extra, name in cases:
            for tool, rest in (("secmq-pub", ["-m", "x"]), ("secmq-sub", [])):
                r = self.run_tool(tool, self.conn_args() + extra +
                                  ["-i", "refused-opt", "-t", "test/x"] +
                                  rest)
                self.assertEqual(r.returncode, 1, "%s %s: %r"
                                 % (tool, extra, r.stderr))
                self.assertRegex(r.stderr, r"^%s: %s: not supported: \S+"
                                 % (tool, re.escape(name)))
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertEqual(r.stdout, "")
        self.assert_not_logged(r"refused-opt", "a refused option still "
                               "connected", since=since)
        # The same tools still work (the refusals were about the options).
        self.pub("-t", "test/x", "-m", "ok")


if __name__ == "__main__":
    unittest.main()
