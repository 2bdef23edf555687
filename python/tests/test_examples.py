"""test_examples.py -- examples/python/ run as processes against a real
broker: the light switch pair without and with keyrings (a paho client
then sees only envelopes on home/light/#); the status pair on a broker
with the secmq_auth.so plugin and its seed policy (sam publishes status,
alice reads it): alice prints sam's messages with sender sam, eve's are
refused (by her keyring, or by the broker's ACL) and never shown, a paho
client reading status sees only ciphertext, and the README's Python
program (alice's side) prints exactly what status_alice.py prints."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest  # noqa: F401

from pyclient import SOURCE_DIR, ClientMixin
import broker as brokermod  # noqa: E402
from keys import (E2ETestCase, LiveProc, open_envelope,  # noqa: E402
                  open_grant, verify_signature)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
from test_plugin_common import PluginTestCase  # noqa: E402
from test_readme import python_programs  # noqa: E402

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")
README_ALICE = 'client.subscribe("status", qos=1)'


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


class StatusPair(ClientMixin, E2ETestCase, PluginTestCase):
    """status_sam.py and status_alice.py, with keyrings (make_world: sam
    owns the channel status, alice holds a grant, eve an identity without
    one), through the broker plugin."""

    def conn(self, user):
        return ["--host", self.broker.host, "-p", str(self.broker.port),
                "--cafile", self.broker.cafile, "-u", user]

    def env(self, user):
        return self.child_env({"SECMQ_PASSWORD": self.broker.users[user]})

    def sam(self, *messages, user="sam", keyring="sam", stdin=None,
            outbox=None):
        """status_sam.py as user (with keyring's keyring, or none)."""
        args = self.conn(user) + (["--keyring", self.kdir(keyring)]
                                  if keyring else [])
        args += ["--outbox", outbox] if outbox else []
        return subprocess.run([sys.executable,
                               os.path.join(EXAMPLES, "status_sam.py")]
                              + args + list(messages), input=stdin or "",
                              capture_output=True, text=True, timeout=30,
                              env=self.env(user))

    def start(self, argv, cwd=None, env=None):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             cwd=cwd, env=env or self.env("alice"),
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        return LiveProc(p, os.path.basename(argv[1]))

    def readme_alice(self):
        """The README's Python program (alice's side), as shown, but for
        the broker's address; ~/.secmq/alice is a copy of alice's keyring
        (HOME in the temp dir), ca.crt the test CA in its directory."""
        progs = [t for _, _, t in python_programs() if README_ALICE in t]
        self.assertEqual(len(progs), 1, "README.md: alice's program")
        old = 'client.connect("broker.local")'
        self.assertIn(old, progs[0])
        text = progs[0].replace(old, 'client.connect("%s", %d)'
                                % (self.broker.host, self.broker.port))
        work = os.path.join(self.broker.dir, "readme")
        os.makedirs(os.path.join(work, "home", ".secmq"))
        shutil.copytree(self.kdir("alice"),
                        os.path.join(work, "home", ".secmq", "alice"))
        shutil.copy(self.broker.cafile, os.path.join(work, "ca.crt"))
        with open(os.path.join(work, "alice.py"), "w") as fh:
            fh.write(text)
        env = dict(self.env("alice"), HOME=os.path.join(work, "home"))
        return self.start([sys.executable, "alice.py"], cwd=work, env=env)

    def test_status_pair(self):
        outs = self.make_world()
        watcher = self.paho(user="alice", client_id="paho-watch",
                            subscribe="status")
        alice = self.start([sys.executable,
                            os.path.join(EXAMPLES, "status_alice.py")]
                           + self.conn("alice") +
                           ["-i", "alice-py", "--keyring", self.kdir("alice"),
                            "-C", "4"])
        self.assertTrue(alice.wait_until(
            lambda: "listening on status" in alice.err, 15), alice.text())
        since = self.broker.log_size()
        readme = self.readme_alice()
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to secmq-[0-9a-f]+$", 15, since=since),
            readme.text())

        sent = ["door closed", "window open %d" % time.monotonic_ns()]
        r = self.sam(*sent)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.splitlines(), ["sent: " + m for m in sent])
        # eve, with her keyring: no channel of hers covers status, so it
        # goes out as it is, and the broker's ACL drops it.
        since = self.broker.log_size()
        r = self.sam("eve was here", user="eve", keyring="eve")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.broker.wait_for_log(
            r"Denied PUBLISH from \S+ \(.*'status'", 5, since=since),
            self.broker.log_tail(20))
        # With bob's keyring (a reader's grant) the keyring refuses first.
        r = self.sam("eve as bob", user="eve", keyring="bob")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"^status_sam: .*status")
        self.assertNotIn("sent:", r.stderr)
        lines = ["lights off", "heater on"]
        r = self.sam(stdin="\n".join(lines) + "\n\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        sent += lines

        want = ["status from sam: %s" % m for m in sent]
        self.assertEqual(alice.wait_exit(20), 0, alice.text())
        self.assertEqual(alice.out, want)
        self.assertFalse([ln for ln in alice.err if "refused" in ln],
                         alice.text())
        self.assertTrue(readme.wait_out(4, 10), readme.text())
        readme.proc.send_signal(signal.SIGINT)
        self.assertEqual(readme.wait_exit(15), 0, readme.text())
        self.assertEqual(readme.out, alice.out)

        # What the broker handed a plain MQTT client on status: sam's
        # four envelopes, none carrying its plaintext; nothing of eve's.
        # Opened from PROTOCOL.md (harness/keys.py, python3-nacl) with
        # alice's grant, they are sam's messages, signed by him.
        seen = [m[1] for m in self.capture(watcher, 4)]
        self.assert_no_more(watcher, 0.5)
        for payload in seen:
            for text in sent + ["eve was here", "eve as bob"]:
                self.assertNotIn(text.encode(), payload)
        sam = self.public("sam")
        grant = open_grant(self.grant(outs["status"], "alice"),
                           self.identity("alice"), owner_pk=sam.pk)
        self.assertTrue(all(verify_signature(env, "status", sam.pk)
                            for env in seen))
        self.assertEqual([open_envelope(env, "status", grant["channel_key"])
                          for env in seen], [m.encode() for m in sent])

    def test_sam_with_an_outbox(self):
        """The broker is down: status_sam.py --outbox commits and exits
        75; the next run, the broker back, sends those first, then its
        own, and alice prints them in that order."""
        self.make_world()
        path = os.path.join(self.broker.dir, "sam-outbox.db")
        self.broker.stop()
        r = self.sam("away 1", "away 2", outbox=path)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("queued: away 1\nqueued: away 2\n", r.stderr)
        self.assertIn("2 message(s) wait in %s" % path, r.stderr)
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        stored = [row[0] for row in con.execute("SELECT payload FROM outbox")]
        con.close()
        self.assertEqual(len(stored), 2)
        self.assertFalse([p for p in stored if b"away" in p])
        self.broker.start()
        alice = self.start([sys.executable,
                            os.path.join(EXAMPLES, "status_alice.py")]
                           + self.conn("alice") +
                           ["--keyring", self.kdir("alice"), "-C", "3"])
        self.assertTrue(alice.wait_until(
            lambda: "listening on status" in alice.err, 15), alice.text())
        r = self.sam("back", outbox=path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "sent: back\n")
        self.assertEqual(alice.wait_exit(20), 0, alice.text())
        self.assertEqual(alice.out, ["status from sam: away 1",
                                     "status from sam: away 2",
                                     "status from sam: back"])

    def test_loud_failures(self):
        """No password, a wrong one, a keyring that is not there: each
        program says so on stderr and exits with its documented code."""
        self.make_world()
        for prog in ("status_sam.py", "status_alice.py"):
            def run(password, keyring="alice"):
                env = self.child_env({})
                env.pop("SECMQ_PASSWORD", None)
                if password is not None:
                    env["SECMQ_PASSWORD"] = password
                return subprocess.run(
                    [sys.executable, os.path.join(EXAMPLES, prog)] +
                    self.conn("alice") + ["--keyring", self.kdir(keyring)],
                    capture_output=True, text=True, timeout=30, env=env,
                    stdin=subprocess.DEVNULL)
            with self.subTest(prog=prog):
                r = run(None)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("needs the password in SECMQ_PASSWORD",
                              r.stderr)
                r = run("not-" + self.broker.users["alice"])
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertRegex(r.stderr, r"^%s: .*(?i:password)"
                                 % prog[:-3])
                r = run(self.broker.users["alice"], keyring="none")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, r"^%s: .*none" % prog[:-3])
