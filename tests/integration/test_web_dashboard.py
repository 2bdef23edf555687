#!/usr/bin/python3
"""test_web_dashboard.py -- the browser dashboard (web/) in a real browser
against a real broker.

A broker with the secmq_auth.so plugin and a TLS and a WebSockets-over-TLS
(wss) listener; users controller, dash and mallory with their ACLs
(mallory may write the light's status but holds no key). Keyrings made
with secmq-keys: identities controller and dashboard, a channel on
home/light/# owned by controller with both as publishers. The light is
examples/python/light_controller.py with controller's keyring (the C
example has no keyring option). Debian's chromium, headless and driven
through playwright-core by web/test/browser/driver.mjs, trusts the test
CA only through an NSS database in a temporary HOME (no certificate
check is switched off). In the page: import the dashboard's secret
identity, controller's public file and the grant, save them under a
passphrase, reload, see a wrong passphrase refused, unlock, see a wrong
MQTT password refused by the plugin on the wss listener, connect, switch
the light ON (the light says so), reload and unlock again (the retained ON
is shown again), see mallory's forgeries (a raw OFF, an envelope under an
unknown key) refused with their reasons while the shown state stays ON,
restart the broker (both connect again by themselves), switch it OFF (a
sequence number above those used before the reload), stop the light (the
page shows its sealed OFFLINE). A screenshot taken after the OFF is kept
in SECMQ_WEB_ARTIFACTS (CMake sets BUILD/tests/web; default
build/tests/web) and its path printed. Exits 77 (skipped) when
/usr/bin/chromium is missing.
"""

import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import broker as brokermod  # noqa: E402
from keys import E2ETestCase, LiveProc, open_grant  # noqa: E402
from testcase import TIMEOUT_SCALE, PahoClient  # noqa: E402
from test_plugin_common import PluginTestCase  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEB = os.path.join(SOURCE_DIR, "web")
DRIVER = os.path.join(WEB, "test", "browser", "driver.mjs")
CONTROLLER = os.path.join(SOURCE_DIR, "examples", "python",
                          "light_controller.py")
CHROMIUM = "/usr/bin/chromium"
NODE = shutil.which("node") or "/usr/bin/node"
CERTUTIL = "/usr/bin/certutil"
CONTROL = "home/light/control"
STATUS = "home/light/status"
PASSPHRASE = "light switch passphrase"
STEP_S = 20.0 * TIMEOUT_SCALE      # bound of one browser command
START_S = 60.0 * TIMEOUT_SCALE     # chromium's start


class Browser:
    """driver.mjs: one JSON command per line on stdin, one JSON reply per
    line on stdout, each awaited at most STEP_S (or the given timeout)."""

    def __init__(self, dist, home, tmp):
        env = dict(os.environ, HOME=home)
        self.err = open(os.path.join(tmp, "driver.stderr"), "w+")
        self.proc = subprocess.Popen(
            [NODE, DRIVER, dist], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.err, env=env, cwd=WEB,
            text=True, preexec_fn=brokermod.die_with_parent)
        self.replies = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self._reply(START_S)
        if not first.get("ready"):
            raise AssertionError("driver.mjs did not start: %r %s"
                                 % (first, self.stderr()))

    def _read(self):
        for line in self.proc.stdout:
            self.replies.put(line)
        self.replies.put(None)

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()[-3000:]

    def _reply(self, timeout):
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("driver.mjs: no reply in %.0f s" % timeout)
        if line is None:
            raise AssertionError("driver.mjs exited: %s" % self.stderr())
        return json.loads(line)

    def do(self, cmd, timeout=None, **args):
        """Run a command; its reply (a dict), failing the test on an
        error."""
        args["cmd"] = cmd
        if "timeout_ms" in args:
            args["timeout"] = args.pop("timeout_ms")
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        r = self._reply(timeout or STEP_S)
        if not r.get("ok"):
            raise AssertionError("browser %s %r: %s" % (cmd, args,
                                                        r.get("error")))
        return r

    def wait_text(self, testid, regex, seconds=10.0):
        ms = int(seconds * 1000 * TIMEOUT_SCALE)
        return self.do("waitText", timeout=STEP_S + ms / 1000.0, id=testid,
                       re=regex, timeout_ms=ms)["text"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            try:
                f.close()
            except OSError:
                pass


class WebDashboard(E2ETestCase, PluginTestCase):
    listeners = ("tls", "wss")
    plugin_seed = False

    def setUp(self):
        super().setUp()
        if not os.path.isdir(os.path.join(WEB, "node_modules")):
            self.fail("web/node_modules is missing: run `npm ci` in web/ "
                      "(scripts/deps.sh does it)")
        self.tmp = tempfile.mkdtemp(prefix="secmq-web-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        for user in ("controller", "dash", "mallory"):
            self.add_user(user)
        self.acl_add("--user", "controller", CONTROL, "read")
        self.acl_add("--user", "controller", STATUS, "write")
        self.acl_add("--user", "dash", STATUS, "read")
        self.acl_add("--user", "dash", CONTROL, "write")
        self.acl_add("--user", "mallory", STATUS, "write")

    # -- set-up pieces --------------------------------------------------------

    def make_keys(self):
        """controller and dashboard, the channel home/light/# owned by
        controller with both as publishers; controller trusts dashboard.
        Returns the dashboard's grant file."""
        self.make_identity("controller")
        self.make_identity("dashboard")
        out = self.create_channel("home/light/#", owner="controller",
                                  publishers=("controller", "dashboard"),
                                  subscribers=())
        self.import_("controller", self.pubfile("dashboard"))
        return self.grant(out, "dashboard")

    def build_page(self):
        dist = os.path.join(self.tmp, "dist")
        r = subprocess.run([NODE, os.path.join(WEB, "build.mjs"), dist],
                           capture_output=True, text=True, cwd=WEB,
                           timeout=60 * TIMEOUT_SCALE)
        self.assertEqual(r.returncode, 0, "build.mjs: " + r.stderr)
        return dist

    def trusting_home(self):
        """A HOME whose NSS database (what chromium on Linux reads) trusts
        the test CA as an issuer of server certificates."""
        home = os.path.join(self.tmp, "home")
        nssdb = os.path.join(home, ".pki", "nssdb")
        os.makedirs(nssdb)
        for args in (["-N", "--empty-password"],
                     ["-A", "-t", "C,,", "-n", "secmq-test", "-i",
                      self.broker.cafile]):
            r = subprocess.run([CERTUTIL, "-d", "sql:" + nssdb] + args,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, "certutil %s: %s"
                             % (" ".join(args), r.stderr))
        return home

    def start_light(self):
        """light_controller.py with controller's keyring. With a sanitizer
        build of libsecmq (SECMQ_LIBRARY) the sanitizer runtimes are
        preloaded into Python, leak detection off (Python's own leaks at
        exit are nobody's verdict here): its errors are looked for in the
        light's stderr at the end."""
        env = self.child_env({
            "SECMQ_PASSWORD": self.broker.users["controller"],
            "PYTHONPATH": os.path.join(SOURCE_DIR, "python"),
            "PYTHONDONTWRITEBYTECODE": "1"})
        lib = os.environ.get("SECMQ_LIBRARY")
        preload = brokermod.sanitizer_preload(lib) if lib else {}
        if preload:
            env["LD_PRELOAD"] = preload["LD_PRELOAD"]
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
        p = subprocess.Popen(
            [sys.executable, CONTROLLER, "--host", self.broker.host,
             "-p", str(self.broker.port), "--cafile", self.broker.cafile,
             "-u", "controller", "--keyring", self.kdir("controller")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            stdin=subprocess.DEVNULL, preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        light = LiveProc(p, "light_controller.py")
        self.assertTrue(light.wait_until(
            lambda: any("listening on" in ln for ln in light.err),
            15 * TIMEOUT_SCALE), light.text())
        return light

    def artifact_path(self):
        d = os.environ.get("SECMQ_WEB_ARTIFACTS") or \
            os.path.join(SOURCE_DIR, "build", "tests", "web")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, "web-dashboard.png")

    # -- the scenario ---------------------------------------------------------

    def test_light_switch_in_the_browser(self):
        grant = self.make_keys()
        dist = self.build_page()
        home = self.trusting_home()
        light = self.start_light()
        b = Browser(dist, home, self.tmp)
        self.addCleanup(b.close)
        self.addCleanup(lambda: self._failed() and sys.stderr.write(
            "\n---- driver.mjs stderr ----\n%s\n" % b.stderr()))

        # Keys: the dashboard's secret identity, controller's public file,
        # the grant; kept under a passphrase.
        b.do("goto")
        b.do("files", id="import-identity",
             files=[os.path.join(self.kdir("dashboard"), "identity")])
        b.wait_text("identity-summary", r"^This browser is dashboard ")
        b.do("files", id="import-peer", files=[self.pubfile("controller")])
        b.do("files", id="import-grant", files=[grant])
        b.wait_text("channel-list", r"channel home/light/# .*owner "
                    r"controller, may publish")
        self.assertEqual(b.do("text", id="keys-error")["text"], "")
        # What the page exports is the file secmq-keys exported.
        b.do("click", id="export-public")
        with open(self.pubfile("dashboard")) as fh:
            self.assertEqual(b.do("value", id="public-identity")["value"],
                             fh.read())
        self.assertEqual(b.do("attr", id="public-download",
                              name="download")["value"], "dashboard.pub")
        b.do("fill", id="passphrase", value=PASSPHRASE)
        b.do("fill", id="passphrase-again", value=PASSPHRASE)
        b.do("click", id="save-keys")
        b.wait_text("keys-status", r"^unlocked$", 30)
        self.assert_stored_sealed(b, grant)

        # A reload: locked; a wrong passphrase is refused, the right one
        # unlocks.
        b.do("reload")
        self.assertTrue(b.do("visible", id="unlock-view")["visible"])
        self.assertFalse(b.do("visible", id="edit-view")["visible"])
        b.do("fill", id="unlock-passphrase", value=PASSPHRASE + "x")
        b.do("click", id="unlock")
        b.wait_text("unlock-error", r"^wrong passphrase: the keys stay "
                    r"locked$", 30)
        self.assertFalse(b.do("visible", id="edit-view")["visible"])
        # The plugin answers logins on the wss listener: a wrong password
        # is refused, and the page says so.
        b.do("fill", id="unlock-passphrase", value=PASSPHRASE)
        b.do("click", id="unlock")
        b.wait_text("keys-status", r"^unlocked$", 30)
        since = self.broker.log_size()
        self.connect(b, "not " + self.broker.users["dash"])
        b.wait_text("conn-error", r"[Nn]ot [Aa]uthori[sz]ed", 20)
        self.assertEqual(b.do("text", id="conn-status")["text"],
                         "not connected")
        self.assertTrue(self.broker.wait_for_log(
            r"secmq_auth: refused login for 'dash' \(client "
            r"'dash-dash-[0-9a-f]{8}'\): bad password", 5, since),
            "the plugin did not log the refused login")
        b.do("click", id="lock")
        self.unlock_and_connect(b)
        # The light's retained status, sealed by controller.
        b.wait_text("light-state", r"^OFF$")
        b.wait_text("light-sender", r"^controller$")

        # ON: the light switches and says so; the page shows its status.
        self.switch(b, light, "ON")
        self.assertRegex(b.do("attr", id="light-time",
                              name="datetime")["value"],
                         r"^\d{4}-\d\d-\d\dT")

        # Another reload: the retained ON is the message already opened,
        # shown again (it is refused as a replay unless its bytes are
        # exactly those of the last one opened); the OFF below is sealed
        # with a sequence number above those used before the reload, or
        # the light would refuse it as a replay.
        b.do("reload")
        self.unlock_and_connect(b)
        self.assert_shown(b, "ON")
        again = self.wait_log(b, lambda e: e["kind"] == "opened", 1)[0]
        self.assertIn("the same message as the last one opened",
                      again["text"])

        # mallory has the broker password, not a key: a raw OFF on the
        # status topic, then an envelope-shaped forgery under a key id
        # nobody holds, are delivered by the broker and refused by the
        # page with §4.2's reasons; the shown state stays ON.
        mallory = PahoClient(self.broker, user="mallory")
        mallory.connect()
        self.addCleanup(mallory.close)
        mallory.publish(STATUS, b"OFF", qos=1)
        forged = b"\x01\x01" + os.urandom(136) + b"OFF"
        mallory.publish(STATUS, forged, qos=1)
        refusals = self.wait_log(b, lambda e: e["kind"] == "refused", 2)
        self.assertEqual([e["reason"] for e in refusals],
                         ["unknown_key", "version"], refusals)
        for e in refusals:
            self.assertIn(STATUS, e["text"])
        self.assertEqual(b.do("text", id="light-state")["text"], "ON")
        self.assertEqual(b.do("text", id="light-sender")["text"],
                         "controller")

        # The broker restarts: the page and the light connect again by
        # themselves (the light says its state again, the page opens it).
        opened = sum(1 for e in b.do("log")["entries"]
                     if e["kind"] == "opened")
        self.broker.restart()
        b.wait_text("conn-status", r"^connected$", 30)
        self.assertTrue(light.wait_until(
            lambda: sum("listening on" in ln for ln in light.err) >= 2,
            30 * TIMEOUT_SCALE), light.text())
        self.wait_log(b, lambda e: e["kind"] == "opened", opened + 1)
        self.assert_shown(b, "ON")

        # OFF, from the page, back from the light.
        self.switch(b, light, "OFF")
        self.assertEqual(light.out, ["ON: light is ON", "OFF: light is OFF"])
        sent = self.wait_log(b, lambda e: e["kind"] == "sent", 1)
        self.assertIn('%s: "OFF" sealed' % CONTROL, sent[0]["text"])

        shot = self.artifact_path()
        b.do("screenshot", path=shot)
        sys.stderr.write("\nscreenshot: %s\n" % shot)
        errors = [ln for ln in b.do("console")["lines"]
                  if ln.startswith(("error:", "pageerror:"))]
        self.assertEqual(errors, [], "the page logged errors")

        # The light stops cleanly and says OFFLINE (sealed) on its way out.
        light.proc.send_signal(signal.SIGTERM)
        self.assertEqual(light.wait_exit(15 * TIMEOUT_SCALE), 0,
                         light.text())
        self.assert_shown(b, "OFFLINE")
        self.assertIsNone(brokermod.SANITIZER_REPORT.search(
            "\n".join(light.err)), light.text())

    def assert_shown(self, b, word):
        """The page comes to show the light in state word, as sent by
        controller (bounded wait)."""
        b.wait_text("light-state", r"^%s$" % word)
        self.assertEqual(b.do("text", id="light-sender")["text"],
                         "controller")

    def switch(self, b, light, word):
        """Press word's button: the light prints that it switched, the
        page shows its new state from controller."""
        b.do("click", id="light-" + word.lower())
        want = "%s: light is %s" % (word, word)
        self.assertTrue(light.wait_until(lambda: want in light.out,
                                         15 * TIMEOUT_SCALE), light.text())
        self.assert_shown(b, word)

    def unlock_and_connect(self, b):
        """Unlock with the passphrase and connect as dash over wss
        (chromium checks the broker's certificate against the CA it was
        given in NSS)."""
        b.do("fill", id="unlock-passphrase", value=PASSPHRASE)
        b.do("click", id="unlock")
        b.wait_text("keys-status", r"^unlocked$", 30)
        b.wait_text("identity-summary", r"^This browser is dashboard ")
        self.connect(b, self.broker.users["dash"])
        b.wait_text("conn-status", r"^connected$", 20)

    def connect(self, b, password):
        b.do("fill", id="broker-url",
             value="wss://127.0.0.1:%d/" % self.broker.ports["wss"])
        b.do("fill", id="mqtt-user", value="dash")
        b.do("fill", id="mqtt-password", value=password)
        b.do("click", id="connect")

    def wait_log(self, b, pred, count, seconds=10.0):
        """The count newest log entries for which pred is true, newest
        first (bounded wait)."""
        deadline = time.monotonic() + seconds * TIMEOUT_SCALE
        while True:
            found = [e for e in b.do("log")["entries"] if pred(e)]
            if len(found) >= count:
                return found[:count]
            if time.monotonic() >= deadline:
                self.fail("%d such log entries, not %d; log: %r"
                          % (len(found), count, b.do("log")["entries"]))
            time.sleep(0.1)

    def assert_stored_sealed(self, b, grant):
        """What the page stored holds neither the identity's seed and
        secret key nor the channel key, raw, in base64 or in hex."""
        stored = b.do("storage")["records"]
        self.assertIn("vault", stored)
        blob = base64.b64decode(stored["vault"])
        self.assertEqual(blob[:8], b"SECMQPW1")
        idn = self.identity("dashboard")
        key = open_grant(grant, idn)["channel_key"]
        dump = json.dumps(stored).encode()
        for secret in (idn.seed, idn.sk, key):
            for form in (secret, base64.b64encode(secret),
                         secret.hex().encode()):
                self.assertNotIn(form, blob)
                self.assertNotIn(form, dump)

if __name__ == "__main__":
    if not os.access(CHROMIUM, os.X_OK):
        print("skipped: %s is missing (scripts/deps.sh installs chromium)"
              % CHROMIUM)
        sys.exit(77)
    unittest.main()
