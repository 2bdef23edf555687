#!/usr/bin/python3
"""test_tls12.py -- TLS 1.2 suites and the AES-GCM engines, end to end.

mosquitto's listeners negotiate TLS 1.3, so the TLS 1.2 cases put a TLS
1.2-only front end (Python's ssl module, i.e. OpenSSL, offering exactly one
suite) before the broker's plain listener. secmq-sub and secmq-pub connect
through it with the test CA; a 300 KB random binary payload must arrive
byte-identical, and both the tools' -d output and the front end must agree
on TLS 1.2 and the suite. The AES case runs once more with
SECMQ_NO_SODIUM_AES=1 (wolfSSL's own AES-GCM instead of libsodium's). Two
more cases use the broker's own TLS listener and check the TLS 1.3 suite the
library picks with and without libsodium's AES-GCM.
Only 127.0.0.1 is used; the front end runs in a thread of this process and is
stopped at the end of each test.
"""

import hashlib
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import broker as brokermod  # noqa: E402
from testcase import BrokerTestCase, HOST, TOOL_TIMEOUT_S  # noqa: E402

PAYLOAD_BYTES = 300 * 1024
AES_TLS12 = "ECDHE-ECDSA-AES256-GCM-SHA384"
CHACHA_TLS12 = "ECDHE-ECDSA-CHACHA20-POLY1305"
AES_TLS13 = "TLS13-AES256-GCM-SHA384"
CHACHA_TLS13 = "TLS13-CHACHA20-POLY1305-SHA256"
NO_SODIUM_AES = {"SECMQ_NO_SODIUM_AES": "1"}
# What `secmq-pub -d` / `secmq-sub -d` print once connected.
TLS_LINE = re.compile(r"TLS: (TLSv[0-9.]+), cipher ([A-Za-z0-9_-]+)")


def sodium_aes_available():
    """True/False: does libsodium offer AES-256-GCM on the CPU the tools
    run on (what the library asks before using it)? Asked by
    harness/sodium_aes.c, built with the tools and linked like them
    (SECMQ_SODIUM_AES_PROBE, set by CMake), so a cross build run through
    qemu-user answers for its own architecture, not for this machine's
    libsodium."""
    probe = os.environ.get("SECMQ_SODIUM_AES_PROBE") or os.path.join(
        brokermod.default_bin_dir(), os.pardir, "tests", "harness",
        "secmq_sodium_aes")
    r = subprocess.run([probe], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=TOOL_TIMEOUT_S)
    if r.returncode != 0 or r.stdout.strip() not in ("0", "1"):
        raise AssertionError("%s: exit %d, %r %r (build it, or set "
                             "SECMQ_SODIUM_AES_PROBE)" % (probe, r.returncode,
                                                          r.stdout, r.stderr))
    return r.stdout.strip() == "1"


class _Relay:
    """One client connection through Tls12FrontEnd: TLS from the client,
    decrypted by an SSLObject over memory BIOs, plaintext to the broker."""

    def __init__(self, front, csock):
        self.front = front
        self.csock = csock
        self.csock.setblocking(False)
        self.usock = socket.create_connection((HOST, front.upstream_port),
                                              timeout=5)
        self.usock.setblocking(False)
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.tls = front.ctx.wrap_bio(self.inc, self.out, server_side=True)
        self.handshaken = False
        self.to_client = bytearray()
        self.to_upstream = bytearray()
        self.closing_since = None

    def sockets(self):
        return (self.csock, self.usock)

    def wants_write(self, sock):
        return bool(self.to_client if sock is self.csock
                    else self.to_upstream)

    def close_soon(self):
        if self.closing_since is None:
            self.closing_since = time.monotonic()

    def done(self):
        """Closing, and everything flushed or given 2 s to flush."""
        if self.closing_since is None:
            return False
        flushed = not self.to_client and not self.to_upstream
        return flushed or time.monotonic() - self.closing_since > 2.0

    def _drain_tls(self):
        if not self.handshaken:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLError, OSError) as e:
                self.front.note_error("handshake: %s" % e)
                self.close_soon()
            else:
                self.handshaken = True
                self.front.note_session(self.tls.version(),
                                        self.tls.cipher()[0])
        while self.handshaken and self.closing_since is None:
            try:
                data = self.tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.close_soon()
                break
            except (ssl.SSLError, OSError) as e:
                self.front.note_error("read: %s" % e)
                self.close_soon()
                break
            if not data:
                self.close_soon()
                break
            self.to_upstream += data
        self.to_client += self.out.read()

    def readable(self, sock):
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if sock is self.csock:
            if not data:
                self.close_soon()
                return
            self.inc.write(data)
            self._drain_tls()
        else:
            if not data:
                self.close_soon()
                return
            if not self.handshaken:
                self.front.note_error("broker spoke before the handshake")
                self.close_soon()
                return
            try:
                self.tls.write(data)
            except (ssl.SSLError, OSError) as e:
                self.front.note_error("write: %s" % e)
                self.close_soon()
            self.to_client += self.out.read()

    def writable(self, sock):
        buf = self.to_client if sock is self.csock else self.to_upstream
        try:
            n = sock.send(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            buf.clear()
            self.close_soon()
            return
        del buf[:n]

    def close(self):
        for s in self.sockets():
            try:
                s.close()
            except OSError:
                pass


class Tls12FrontEnd:
    """A TLS 1.2-only server on a free 127.0.0.1 port that relays the
    decrypted stream to upstream_port (the broker's plain listener).

    Offers exactly the given OpenSSL cipher list. Records every completed
    handshake as (version, cipher) in sessions and every failure in errors.
    Runs in one thread; close() stops it (it also stops by itself after
    max_life_s)."""

    def __init__(self, certfile, keyfile, ciphers, upstream_port,
                 max_life_s=60.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ciphers)
        ctx.load_cert_chain(certfile, keyfile)
        self.ctx = ctx
        self.upstream_port = upstream_port
        self.max_life_s = max_life_s
        self.sessions = []
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self._relays = []
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="tls12-front-end")
        self._thread.start()

    def note_session(self, version, cipher):
        with self._lock:
            self.sessions.append((version, cipher))

    def note_error(self, what):
        with self._lock:
            self.errors.append(what)

    def _run(self):
        deadline = time.monotonic() + self.max_life_s
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._step()
        except Exception as e:  # report, never hang the test
            self.note_error("front end crashed: %r" % e)
        finally:
            for r in self._relays:
                r.close()
            self._relays = []
            self.lsock.close()

    def _step(self):
        readers = [self.lsock]
        writers = []
        owner = {}
        for r in self._relays:
            for s in r.sockets():
                owner[s] = r
                readers.append(s)
                if r.wants_write(s):
                    writers.append(s)
        rd, wr, _ = select.select(readers, writers, [], 0.05)
        for s in rd:
            if s is self.lsock:
                try:
                    csock, _ = self.lsock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                try:
                    self._relays.append(_Relay(self, csock))
                except OSError as e:
                    self.note_error("cannot reach the broker: %s" % e)
                    csock.close()
            else:
                owner[s].readable(s)
        for s in wr:
            owner[s].writable(s)
        for r in [r for r in self._relays if r.done()]:
            r.close()
            self._relays.remove(r)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


class Tls12(BrokerTestCase):

    listeners = ("tls", "plain")

    def setUp(self):
        super().setUp()
        self.payload = os.urandom(PAYLOAD_BYTES)
        self.payload_file = os.path.join(self.broker.dir, "payload.bin")
        with open(self.payload_file, "wb") as fh:
            fh.write(self.payload)

    def front_end(self, ciphers):
        pki = self.broker.pki
        fe = Tls12FrontEnd(os.path.join(pki, "broker.crt"),
                           os.path.join(pki, "broker.key"), ciphers,
                           self.broker.ports["plain"])
        self.addCleanup(fe.close)
        return fe

    def wait_subscribed(self, proc, client_id, since, err_path,
                        timeout=10.0):
        pattern = r": Sending SUBACK to %s$" % re.escape(client_id)
        deadline = time.monotonic() + timeout
        while not self.broker.wait_for_log(pattern, timeout=0.1,
                                           since=since):
            if proc.poll() is not None:
                with open(err_path, errors="replace") as fh:
                    self.fail("secmq-sub exited (%d) before subscribing: %r"
                              % (proc.returncode, fh.read()))
            if time.monotonic() >= deadline:
                self.fail("no SUBACK for %s within %.0f s"
                          % (client_id, timeout))

    def tls_of(self, stderr, who):
        """(version, cipher) from a tool's -d output."""
        m = TLS_LINE.search(stderr)
        self.assertIsNotNone(m, "%s -d printed no TLS line: %r"
                             % (who, stderr))
        return m.group(1), m.group(2)

    def transfer(self, port, tag, env=None):
        """secmq-sub (-C 1 -N > file) and secmq-pub (-f, -q 1), both with -d,
        through port; the payload must arrive byte-identical. Returns the
        (version, cipher) each tool reported: (pub, sub)."""
        topic = "test/tls12/" + tag
        out_path = os.path.join(self.broker.dir, "received-%s.bin" % tag)
        err_path = os.path.join(self.broker.dir, "sub-%s.err" % tag)
        conn = self.conn_args(port=port)
        sub_id = "sub-" + tag
        since = self.broker.log_size()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            sub = subprocess.Popen(
                [self.tool("secmq-sub")] + conn +
                ["-i", sub_id, "-t", topic, "-q", "1", "-C", "1", "-N",
                 "-d", "-W", "20"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=self.child_env(env),
                preexec_fn=brokermod.die_with_parent)
        self._procs.append(sub)
        self.wait_subscribed(sub, sub_id, since, err_path)
        r = self.run_tool("secmq-pub", conn +
                          ["-i", "pub-" + tag, "-t", topic, "-q", "1",
                           "-f", self.payload_file, "-d"], env=env)
        self.assertEqual(r.returncode, 0, "secmq-pub failed: %r" % r.stderr)
        try:
            sub.wait(timeout=TOOL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("secmq-sub did not exit after one message")
        with open(err_path, errors="replace") as fh:
            sub_err = fh.read()
        self.assertEqual(sub.returncode, 0, "secmq-sub failed: %r" % sub_err)
        with open(out_path, "rb") as fh:
            got = fh.read()
        if got != self.payload:
            self.fail("payload differs: sent %d bytes (sha256 %s), received "
                      "%d bytes (sha256 %s)"
                      % (len(self.payload),
                         hashlib.sha256(self.payload).hexdigest()[:16],
                         len(got), hashlib.sha256(got).hexdigest()[:16]))
        return self.tls_of(r.stderr, "secmq-pub"), \
            self.tls_of(sub_err, "secmq-sub")

    # -- TLS 1.2 through the front end --------------------------------------

    def tls12_case(self, suite, env=None):
        fe = self.front_end(suite)
        pub, sub = self.transfer(fe.port, suite.lower(), env=env)
        self.assertEqual(pub, ("TLSv1.2", suite), "secmq-pub negotiated")
        self.assertEqual(sub, ("TLSv1.2", suite), "secmq-sub negotiated")
        fe.close()
        self.assertEqual(fe.errors, [], "the front end saw failures")
        # Both tools' handshakes, as the server saw them.
        self.assertEqual(fe.sessions, [("TLSv1.2", suite)] * 2)

    def test_tls12_aes256_gcm(self):
        self.tls12_case(AES_TLS12)

    def test_tls12_chacha20_poly1305(self):
        self.tls12_case(CHACHA_TLS12)

    def test_tls12_aes256_gcm_without_sodium_aes(self):
        """wolfSSL's own AES-GCM: same suite, same bytes."""
        self.tls12_case(AES_TLS12, env=NO_SODIUM_AES)

    def test_front_end_refuses_tls13_only_client(self):
        """The front end really is TLS 1.2 only: a client that insists on
        TLS 1.3 (--tls-version tlsv1.3 is not an option of the tools, so
        Python's ssl is the client here) is refused."""
        fe = self.front_end(AES_TLS12)
        ctx = ssl.create_default_context(cafile=self.broker.cafile)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection((HOST, fe.port), timeout=5) as s:
            with self.assertRaises(ssl.SSLError):
                with ctx.wrap_socket(s, server_hostname="localhost"):
                    pass
        fe.close()
        self.assertEqual(fe.sessions, [])

    # -- TLS 1.3 on the broker's own listener -------------------------------

    def test_tls13_default_suite(self):
        pub, sub = self.transfer(self.broker.port, "tls13-default")
        self.assertEqual(pub, sub)
        self.assertEqual(pub[0], "TLSv1.3")
        aes = sodium_aes_available()
        self.assertEqual(pub[1], AES_TLS13 if aes else CHACHA_TLS13,
                         "libsodium AES-256-GCM available: %s" % aes)

    def test_tls13_without_sodium_aes(self):
        pub, sub = self.transfer(self.broker.port, "tls13-no-sodium-aes",
                                 env=NO_SODIUM_AES)
        self.assertEqual(pub, ("TLSv1.3", CHACHA_TLS13))
        self.assertEqual(sub, ("TLSv1.3", CHACHA_TLS13))


if __name__ == "__main__":
    unittest.main()
