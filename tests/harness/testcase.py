"""testcase.py -- unittest base class for process-level secmq tests.

BrokerTestCase gives every test method its own Broker (temp dir, PKI,
passwords, free ports), runs BUILD/bin/secmq-pub and secmq-sub against it
with bounded timeouts, waits on the broker log instead of sleeping, and
prints the broker log when a test fails. It knows nothing about what a test
asserts; that stays in tests/integration/test_*.py.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as brokermod  # noqa: E402
from broker import HOST  # noqa: E402,F401

TOOL_TIMEOUT_S = 20.0   # no single tool run may take longer


def _timeout_scale():
    v = os.environ.get("SECMQ_TEST_TIMEOUT_SCALE", "1")
    if not v.isdigit() or int(v) < 1:
        raise ValueError("SECMQ_TEST_TIMEOUT_SCALE must be a whole number "
                         ">= 1, not %r" % v)
    return int(v)


# A build whose programs run slowly (sanitizers, a cross build run through
# qemu-user) gives the time budgets a test sets its programs this factor:
# SECMQ_TEST_TIMEOUT_SCALE, set by CMake with the ctest TIMEOUTs' scale.
# It only lengthens budgets; what a test asserts stays the same.
TIMEOUT_SCALE = _timeout_scale()


def budget(seconds):
    """A time limit given to a program on its command line (secmq-sub -W)
    that only bounds a wait for what the test expects: seconds, scaled."""
    return str(int(seconds) * TIMEOUT_SCALE)


def volume(n, least=100):
    """How many messages a volume test sends: n, or n / TIMEOUT_SCALE (at
    least `least`) where the programs run TIMEOUT_SCALE times slower. The
    same paths run with fewer messages; the native pass keeps n."""
    return max(least, n // TIMEOUT_SCALE)


def elf_machine(path):
    """The e_machine field of ELF file path (e.g. 62 x86-64, 183 AArch64)."""
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        raise ValueError("%s is not an ELF file" % path)
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def emulated(path):
    """True when program path is of another architecture than this
    machine's (a cross build, run through qemu-user via binfmt_misc)."""
    return elf_machine(path) != elf_machine(os.path.realpath(sys.executable))


class BrokerTestCase(unittest.TestCase):
    """A TestCase with a running broker in self.broker.

    Class attributes choose the broker: listeners (extra kinds from
    broker.LISTENER_KINDS), require_cert, persistence."""

    listeners = ("tls",)
    require_cert = False
    persistence = False

    def setUp(self):
        self._procs = []
        self._problems0 = self._problems()
        self.broker = brokermod.Broker(listeners=self.listeners,
                                       require_cert=self.require_cert,
                                       persistence=self.persistence,
                                       name=self._testMethodName[:24])
        self.addCleanup(self._cleanup)
        self.broker.setup()
        self.broker.start()

    def _problems(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return None
        return len(result.failures) + len(result.errors)

    def _failed(self):
        """True when this test has failed so far (or we cannot tell)."""
        now = self._problems()
        return now is None or self._problems0 is None or now > self._problems0

    def _cleanup(self):
        for p in self._procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                except OSError:
                    pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdout, p.stderr, p.stdin):
                if f is not None:
                    f.close()
        if self._failed():
            sys.stderr.write("\n---- %s: mosquitto log (last 60 lines) ----\n"
                             "%s\n---- end ----\n"
                             % (self.id(), self.broker.log_tail(60)))
        self.broker.close()

    # -- tools --------------------------------------------------------------

    def tool(self, name):
        path = os.path.join(self.broker.bin_dir, name)
        if not os.access(path, os.X_OK):
            self.fail("%s not found in %s (not built?)"
                      % (name, self.broker.bin_dir))
        return path

    def child_env(self, extra=None):
        """Environment for a program under test: ours, with
        XDG_RUNTIME_DIR inside the broker's temp dir, plus extra."""
        env = dict(os.environ, XDG_RUNTIME_DIR=self.broker.run_dir)
        env.update(extra or {})
        return env

    def conn_args(self, user="sam", password=None, port=None, cafile=None,
                  host=HOST):
        """-h -p --cafile -u -P for the main TLS listener (or port)."""
        args = ["-h", host, "-p", str(port or self.broker.port)]
        if cafile is not False:
            args += ["--cafile", cafile or self.broker.cafile]
        if user is not None:
            args += ["-u", user, "-P",
                     password if password is not None
                     else self.broker.users[user]]
        return args

    def run_tool(self, name, args, timeout=TOOL_TIMEOUT_S, input=None,
                 env=None):
        """Run a tool to completion (timeout: scaled); returns
        CompletedProcess (text). env (optional) is added to this process's
        environment."""
        cmd = [self.tool(name)] + [str(a) for a in args]
        timeout *= TIMEOUT_SCALE
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=timeout, input=input,
                                  stdin=None if input is not None
                                  else subprocess.DEVNULL,
                                  env=self.child_env(env),
                                  preexec_fn=brokermod.die_with_parent)
        except subprocess.TimeoutExpired as e:
            self.fail("%s did not finish in %.0f s; stdout %r stderr %r"
                      % (" ".join(cmd), timeout, e.stdout, e.stderr))

    def pub(self, *args, user="sam", conn=None, timeout=TOOL_TIMEOUT_S):
        """Run secmq-pub with connection args and expect success."""
        full = (conn if conn is not None else self.conn_args(user)) + \
            list(args)
        r = self.run_tool("secmq-pub", full, timeout=timeout)
        self.assertEqual(r.returncode, 0,
                         "secmq-pub %s failed: %r" % (args, r.stderr))
        return r

    def spawn(self, name, args, stdin=subprocess.DEVNULL):
        """Start a tool in the background; it is killed at cleanup."""
        cmd = [self.tool(name)] + [str(a) for a in args]
        p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.child_env(),
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        return p

    def wait_log_or_exit(self, proc, pattern, since, timeout=10.0):
        """Wait for a broker log line, failing early if proc exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.broker.wait_for_log(pattern, timeout=0.1, since=since):
                return
            if proc is not None and proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")
                self.fail("process exited (%d) before the broker logged %r;"
                          " stderr: %r" % (proc.returncode, pattern, err))
            if time.monotonic() >= deadline:
                self.fail("broker did not log %r within %.0f s"
                          % (pattern, timeout))

    def assert_logged(self, pattern, msg, since=0):
        """The broker log (after byte offset since) matches regex pattern
        (multiline); on failure only msg is shown (the log tail is printed
        by the cleanup)."""
        text = self.broker.log_text().encode()[since:].decode(
            "utf-8", "replace")
        if not re.search(pattern, text, re.M):
            self.fail("%s (no broker log line matches %r)" % (msg, pattern))

    def assert_not_logged(self, pattern, msg, since=0):
        text = self.broker.log_text().encode()[since:].decode(
            "utf-8", "replace")
        m = re.search(pattern, text, re.M)
        if m:
            self.fail("%s (broker logged %r)" % (msg, m.group(0)))

    def start_sub(self, *args, client_id, user="sam", conn=None):
        """Start secmq-sub with -i client_id and wait until the broker has
        sent it a SUBACK, so later publishes are not lost to a race."""
        since = self.broker.log_size()
        full = (conn if conn is not None else self.conn_args(user)) + \
            ["-i", client_id] + list(args)
        p = self.spawn("secmq-sub", full)
        self.wait_log_or_exit(p, r": Sending SUBACK to %s$"
                              % re.escape(client_id), since)
        return p

    def finish(self, proc, timeout=TOOL_TIMEOUT_S):
        """Wait for proc (timeout: scaled); return (returncode, stdout,
        stderr) as text."""
        timeout *= TIMEOUT_SCALE
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
            self.fail("process did not finish in %.0f s; stdout %r "
                      "stderr %r" % (timeout, out, err))
        return (proc.returncode, out.decode("utf-8", "replace"),
                err.decode("utf-8", "replace"))

    def assert_refused(self, r, pattern=None, warning=None):
        """A refused connection: non-zero exit, nothing on stdout, exactly
        one non-empty line on stderr, matching regex pattern (searched
        case-insensitively) when given. A line matching regex warning (an
        expected warning, e.g. for --insecure) is set aside first, and must
        be there. Returns the reason line."""
        self.assertNotEqual(r.returncode, 0, "expected a failure; stdout %r"
                            " stderr %r" % (r.stdout, r.stderr))
        self.assertEqual(r.stdout, "", "a refused client printed output")
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        if warning:
            warned = [ln for ln in lines if re.search(warning, ln)]
            self.assertTrue(warned, "expected warning %r missing from %r"
                            % (warning, r.stderr))
            lines = [ln for ln in lines if ln not in warned]
        self.assertEqual(len(lines), 1,
                         "want a one-line reason on stderr, got %r"
                         % r.stderr)
        if pattern:
            self.assertRegex(lines[0], re.compile(pattern, re.I),
                             "the reason does not name the cause")
        return lines[0]


class PahoClient:
    """python3-paho-mqtt 1.6.1 client over TLS with the test CA: the
    independent implementation the tools are checked against."""

    def __init__(self, broker, user="alice", client_id=None):
        import paho.mqtt.client as mqtt
        self.mqtt = mqtt
        self.c = mqtt.Client(client_id=client_id or "", clean_session=True,
                             protocol=mqtt.MQTTv311)
        import ssl
        self.c.tls_set(ca_certs=broker.cafile,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.username_pw_set(user, broker.users[user])
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.published = queue.Queue()
        self.connack = None
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda c, u, mid, granted: self.subscribed.set()
        self.c.on_publish = lambda c, u, mid: self.published.put(mid)
        self.broker = broker

    def _on_connect(self, c, u, flags, rc):
        self.connack = rc
        self.connected.set()

    def _on_message(self, c, u, msg):
        self.messages.put((msg.topic, bytes(msg.payload), msg.qos,
                           msg.retain))

    def connect(self, timeout=10.0):
        self.c.connect(HOST, self.broker.port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(timeout):
            raise AssertionError("paho: no CONNACK in %.0f s" % timeout)
        if self.connack != 0:
            raise AssertionError("paho: broker refused, CONNACK %r"
                                 % self.connack)

    def subscribe(self, topic, qos=2, timeout=10.0):
        self.subscribed.clear()
        rc, _ = self.c.subscribe(topic, qos)
        if rc != 0 or not self.subscribed.wait(timeout):
            raise AssertionError("paho: subscribe %s failed" % topic)

    def publish(self, topic, payload, qos=1, retain=False, timeout=10.0):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise AssertionError("paho: publish to %s not completed" % topic)

    def get(self, timeout=10.0):
        """Next (topic, payload bytes, qos, retain), or None on timeout."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()
