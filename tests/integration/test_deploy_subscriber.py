#!/usr/bin/python3
"""test_deploy_subscriber.py -- docs/DEPLOY.md section 8, run as written.

The shell blocks of "A secmq subscriber on a Raspberry Pi" are taken from
the document itself and run in order against a broker with the plugin, as
a new user would run them: the Pi's, the broker's and sam's blocks in one
scratch directory (files "copied" between machines are simply there),
with the paths moved into the test's temp dir and `sudo -u USER` dropped.
Then the systemd unit's ExecStart line is run as the unit would run it
(HOME, XDG_RUNTIME_DIR, `%%` unescaped). Both must print
`status from sam: door closed` for a message sam publishes with his
keyring, and nothing on stderr. Step 6 rotates the Pi's identity key in
between (after the check, since a keyring in use is not rotated): sam
imports the successor statement and rotates the channel, the Pi imports
its new grant, and the unit runs with the rotated keyring. A step missing
from the document (the grant, sam's identity, the password, the CA) makes
this fail.
"""

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import PluginTestCase  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, "..", "..", "docs", "DEPLOY.md")
SECTION = "## 8. A secmq subscriber on a Raspberry Pi (systemd)"
BLOCK_TIMEOUT_S = 60
LINE_TIMEOUT_S = 20
EXPECTED = "status from sam: door closed"


def section_text():
    with open(DEPLOY) as f:
        text = f.read()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def blocks(text, lang):
    return re.findall(r"```%s\n(.*?)```" % lang, text, re.S)


class DeploySubscriber(PluginTestCase):
    plugin_seed = False
    plugin_opts = {"client_id_pattern": "%u %u-*"}

    def setUp(self):
        super().setUp()
        root = os.path.join(self.broker.dir, "deploy")
        self.pi = os.path.join(root, "var-lib-secmq-sub")
        self.etc = os.path.join(root, "etc-secmq")
        self.sam_home = os.path.join(root, "sam-home")
        self.work = os.path.join(root, "transfer")
        for d in (root, self.pi, self.sam_home, self.work):
            os.makedirs(d, 0o700)
        # What section 2 did already: sam may write status. alice is made
        # by the section's own block, so the harness's alice goes.
        self.broker.admin("user", "del", "alice")
        self.broker.acl_add("--user", "sam", "status", "write")
        # sam's keyring, as the section says ("made with secmq-keys init
        # --keyring ~/.secmq --name sam"), and his password file.
        self.run_shell("secmq-keys init --keyring ~/.secmq --name sam",
                       home=self.sam_home)
        path = os.path.join(self.work, "sam.pw")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.broker.users["sam"] + "\n")

    # -- the document's commands here --------------------------------------

    def localize(self, cmd):
        subs = [
            ("/usr/local/bin/secmq-sub",
             os.path.join(self.broker.bin_dir, "secmq-sub")),
            ("/var/lib/secmq-sub", self.pi),
            ("/var/lib/secmq/auth.db", self.broker.auth_db),
            ("/etc/secmq/ca.crt", os.path.join(self.etc, "ca.crt")),
            ("mqtt.example.lan", "127.0.0.1"),
            ("-p 8883", "-p %d" % self.broker.port),
            ("sudo -u secmq ", ""),
            ("sudo -u mosquitto ", ""),
            ("sudo ", ""),
            ("install -o secmq -g secmq ", "install "),
        ]
        for a, b in subs:
            cmd = cmd.replace(a, b)
        return cmd

    def env(self, home):
        path = self.broker.bin_dir + os.pathsep + os.environ.get("PATH", "")
        return self.child_env({"HOME": home, "PATH": path})

    def run_shell(self, script, home):
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                           cwd=self.work, env=self.env(home),
                           capture_output=True, text=True,
                           timeout=BLOCK_TIMEOUT_S, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, "DEPLOY.md block failed:\n%s\n"
                         "stdout: %s\nstderr: %s" % (script, r.stdout,
                                                     r.stderr))
        return r

    def script(self, block):
        lines = [l for l in block.splitlines()
                 if not re.search(r"\b(useradd|systemctl|journalctl)\b", l)]
        return self.localize("\n".join(lines) + "\n")

    def read_line(self, proc, what):
        deadline = time.monotonic() + LINE_TIMEOUT_S
        buf = b""
        while b"\n" not in buf and time.monotonic() < deadline:
            if proc.poll() is not None:
                buf += proc.stdout.read() or b""
                break
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        return buf.decode(errors="replace").split("\n")[0]

    def wait_suback(self, client_id, since, proc):
        pattern = r"Sending SUBACK to %s\b" % re.escape(client_id)
        ok = self.broker.wait_for_log(pattern, LINE_TIMEOUT_S, since)
        if not ok:
            proc.kill()
            out, err = proc.communicate(timeout=10)
            self.fail("%s never subscribed; stderr: %s" % (client_id, err))

    def spawn_sub(self, argv, home):
        p = subprocess.Popen(argv, cwd=self.work, env=self.env(home),
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._procs.append(p)
        return p

    def finish_check(self, waiting):
        """The check before the unit printed the message and exited 0,
        warning about nothing."""
        line = self.read_line(waiting, "the check")
        out, err = waiting.communicate(timeout=LINE_TIMEOUT_S)
        self.assertEqual(line, EXPECTED, "the check printed %r; stderr: %s"
                         % (line, err.decode(errors="replace")))
        self.assertEqual(waiting.returncode, 0, err)
        self.assertEqual(err, b"", "the check warned: %s" % err)

    # -- the test ------------------------------------------------------------

    def test_section_8_as_written(self):
        text = section_text()
        sh = blocks(text, "sh")
        kinds = [b.splitlines()[0] for b in sh]
        for want in ("# on the Pi", "# on the broker", "# on sam's machine"):
            self.assertTrue(any(k.startswith(want) for k in kinds),
                            "no block starting %r in section 8" % want)
        waiting = None
        checked = False
        rotated = any("identity rotate" in b for b in sh)
        for block, kind in zip(sh, kinds):
            if not kind.startswith("# on "):
                continue  # systemctl: no systemd here
            home = self.sam_home if kind.startswith("# on sam's") \
                else self.pi
            if "waits for" in kind:
                # The check before the unit: runs until one message came.
                cmd = [l for l in block.splitlines()[1:] if l.strip()]
                self.assertEqual(len(cmd), 1, block)
                since = self.broker.log_size()
                waiting = self.spawn_sub(
                    ["bash", "-c", "exec " + self.localize(cmd[0])], home)
                self.wait_suback("alice-check", since, waiting)
                continue
            if "identity rotate" in block and waiting is not None:
                # A keyring in use is not rotated: the check is over by
                # then (the section stops the service first).
                self.finish_check(waiting)
                checked = True
            r = self.run_shell(self.script(block), home)
            if kind.startswith("# on the broker"):
                # The broker picks a change up within a second, and a
                # periodic check may read the database half way through the
                # block: a SIGHUP makes the plugin read it now that the
                # block is done (a user who goes on at once may meet the
                # old policy for that second; the test waits).
                since = self.broker.log_size()
                self.broker.proc.send_signal(signal.SIGHUP)
                self.assertTrue(self.broker.wait_reload(since, 10.0),
                                "the plugin did not reload after the "
                                "broker block")
            if "secmq-keys list" in block:
                # "must show the channel status with owner sam and sam
                # among its publishers".
                self.assertRegex(r.stdout, r"(?m)^  status$")
                self.assertRegex(r.stdout, r"(?m)^    owner: sam\b")
                self.assertRegex(r.stdout, r"(?m)^    publishers: .*\bsam\b")
            if kind.startswith("# on the broker"):
                # "Copy alice.pw and /etc/mosquitto/certs/ca.crt (as
                # ca.crt) to the Pi".
                with open(self.broker.cafile, "rb") as f:
                    ca = f.read()
                with open(os.path.join(self.work, "ca.crt"), "wb") as f:
                    f.write(ca)
        self.assertIsNotNone(waiting, "no check block that waits")
        if not checked:
            self.finish_check(waiting)
        self.assertTrue(rotated, "no identity rotation in section 8")
        # The keyring and the password file are as SECURITY.md says.
        self.assertEqual(os.stat(os.path.join(self.pi, "keys")).st_mode
                         & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(self.pi, "alice.pw")).st_mode
                         & 0o777, 0o600)

        # The unit: its ExecStart with the unit's environment.
        ini = blocks(text, "ini")
        self.assertEqual(len(ini), 1, "one systemd unit in section 8")
        m = re.search(r"^ExecStart=(.*)$", ini[0], re.M)
        self.assertIsNotNone(m, "no ExecStart line")
        env_lines = re.findall(r"^Environment=(\w+)=(.*)$", ini[0], re.M)
        self.assertIn("HOME", dict(env_lines))
        argv = shlex.split(self.localize(m.group(1).replace("%%", "%")))
        self.assertEqual(dict(env_lines)["HOME"], "/var/lib/secmq-sub")
        since = self.broker.log_size()
        unit = self.spawn_sub(argv, self.pi)
        self.wait_suback("alice-status", since, unit)
        # sam publishes again (the Pi's keyring was rotated on the way).
        sam = [b for b, k in zip(sh, kinds)
               if k.startswith("# on sam's") and "secmq-pub" in b]
        self.run_shell(self.script(sam[-1]), self.sam_home)
        line = self.read_line(unit, "the unit")
        unit.kill()
        _, err = unit.communicate(timeout=LINE_TIMEOUT_S)
        self.assertEqual(line, EXPECTED, "the unit printed %r; stderr: %s"
                         % (line, err.decode(errors="replace")))
        self.assertEqual(err, b"", "the unit warned: %s" % err)


if __name__ == "__main__":
    unittest.main()
