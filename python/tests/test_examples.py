"""test_examples.py -- examples/python/: the light switch pair run as
processes against a real broker, without and with keyrings (a paho
client then sees only envelopes on home/light/#)."""

import os
import signal
import subprocess
import sys

import pytest  # noqa: F401

from pyclient import SOURCE_DIR, ClientMixin
import broker as brokermod  # noqa: E402
from keys import E2ETestCase, LiveProc  # noqa: E402

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


class LightSwitch(ClientMixin, E2ETestCase):

    def args(self, user, keyring):
        a = ["--host", self.broker.host, "-p", str(self.broker.port),
             "--cafile", self.broker.cafile, "-u", user]
        return a + (["--keyring", self.kdir(keyring)] if keyring else [])

    def env(self, user):
        return self.child_env({"SECMQ_PASSWORD": self.broker.users[user]})

    def controller(self, keyring=None):
        p = subprocess.Popen([sys.executable,
                              os.path.join(EXAMPLES, "light_controller.py")]
                             + self.args("sam", keyring),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env("sam"),
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        live = LiveProc(p, "light_controller.py")
        self.assertTrue(live.wait_until(
            lambda: any("listening on" in ln for ln in live.err), 15),
            live.text())
        return live

    def dashboard(self, command, user="sam", keyring=None):
        r = subprocess.run([sys.executable,
                            os.path.join(EXAMPLES, "light_dashboard.py"),
                            command] + self.args(user, keyring),
                           capture_output=True, text=True, timeout=30,
                           env=self.env(user), stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def run_pair(self, keyring_sam=None, keyring_dash=None, dash_user="sam"):
        watcher = self.paho(user="eve", subscribe="home/light/#")
        light = self.controller(keyring_sam)
        self.assertEqual(self.dashboard("ON", dash_user, keyring_dash),
                         "ON: light is ON\n")
        self.assertEqual(self.dashboard("TOGGLE", dash_user, keyring_dash),
                         "TOGGLE: light is OFF\n")
        light.proc.send_signal(signal.SIGINT)
        self.assertEqual(light.wait_exit(15), 0, light.text())
        self.assertEqual(light.out, ["ON: light is ON",
                                     "TOGGLE: light is OFF"])
        seen = []
        while True:
            m = watcher.get(timeout=1.0)
            if m is None:
                break
            seen.append((m[0], m[1]))
        return seen

    def test_plain_tls(self):
        seen = self.run_pair()
        self.assertEqual(seen[-1], ("home/light/status", b"OFFLINE"))
        self.assertIn(("home/light/control", b"TOGGLE"), seen)

    def test_sealed_with_keyrings(self):
        self.make_world(channels=())
        out = self.create_channel("home/light/#", publishers=("sam", "alice"),
                                  subscribers=())
        self.import_("alice", self.pubfile("sam"), self.grant(out, "alice"))
        seen = self.run_pair("sam", "alice", dash_user="alice")
        self.assertTrue(seen)
        for topic, payload in seen:
            self.assertNotIn(payload, (b"ON", b"OFF", b"TOGGLE", b"OFFLINE"),
                             "paho saw plaintext on %s" % topic)
