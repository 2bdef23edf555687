#!/usr/bin/python3
"""test_client_cert_refusals.py -- a client certificate the broker refuses.

With TLS 1.3 the broker checks the client certificate after the client's
side of the handshake is done, so its verdict arrives as an alert after
secmq-pub/-sub consider the session open, or not at all when the broker
hangs up on data the client already sent. Whatever the timing, the tools
must say that the broker refused our client certificate (naming the file
and, when an alert arrived, the reason) or that it requires one, and exit
8 (MOSQ_ERR_TLS), never 7 ("the broker closed the connection").

Cases: a certificate from another CA (unknown CA), an expired one, one for
servers only (extendedKeyUsage serverAuth), and none. Against mosquitto's
require_certificate listener (TLS 1.3), each is run several times, so a
message that depended on timing would show. TLS 1.2 is offered by
mosquitto too but never chosen by our clients, so the TLS 1.2 cases use a
TLS 1.2-only server of Python's ssl module (OpenSSL, like mosquitto's) with
the same CA and require_certificate's settings. A server that asks for a
certificate, accepts the handshake and then hangs up without an alert
gives the "probably refused" wording; one that asks for none and hangs up
must not blame the certificate.
"""

import os
import re
import socket
import ssl
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase, HOST  # noqa: E402

EXIT_CONN_LOST = 7
EXIT_TLS = 8
REPEATS = 5           # runs per case against mosquitto
FAKE_REPEATS = 3      # runs per case against the Python server
SERVER_LIFE_S = 60.0  # the Python server stops by itself after this

# The reason each alert gives; CASES' last field picks one.
REASONS = {
    "unknown_ca": r"unknown CA, not signed by a CA the broker trusts",
    "certificate_expired": r"expired or not valid yet",
    "unsupported_certificate": r"unsupported certificate, perhaps not "
                               r"meant for client use",
}
NONE_CONFIGURED = (r"TLS: the broker requires a client certificate and "
                   r"none was configured")


def refused_line(path, alert):
    """The line for a refused certificate, with the broker's alert."""
    return (r"TLS: the broker refused our client certificate '%s': %s "
            r"\(alert %s\)" % (re.escape(path), REASONS[alert], alert))


def probably_line(path):
    """The line when the broker hung up without an alert."""
    return (r"TLS: the broker closed the connection before answering, "
            r"right after it asked for our client certificate: it probably "
            r"refused '%s'" % re.escape(path))


class HangUpServer:
    """A TLS server on a free 127.0.0.1 port, in one thread: for each
    connection it runs the handshake with ctx and then closes the socket
    without a word (no close_notify, no data). Failed handshakes are closed
    too (OpenSSL has sent its alert by then). Stops after SERVER_LIFE_S."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.handshakes = 0
        self.failures = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        deadline = threading.Event()
        timer = threading.Timer(SERVER_LIFE_S, deadline.set)
        timer.start()
        try:
            while not self._stop.is_set() and not deadline.is_set():
                try:
                    conn, _ = self.sock.accept()
                except socket.timeout:
                    continue
                conn.settimeout(5.0)
                try:
                    tls = self.ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self.failures.append(str(e))
                    conn.close()
                    continue
                self.handshakes += 1
                tls.close()
        finally:
            timer.cancel()

    def close(self):
        self._stop.set()
        self._thread.join(5.0)
        self.sock.close()


class ClientCertRefusals(BrokerTestCase):

    listeners = ("tls", "mtls")

    def cases(self):
        """(name, --cert/--key arguments, certificate path or None,
        alert mosquitto sends)."""
        pki, other = self.broker.pki, self.broker.other

        def cert(d, stem):
            crt = os.path.join(d, stem + ".crt")
            return ["--cert", crt, "--key", os.path.join(d, stem + ".key")]
        return (
            ("other CA", cert(other, "mallory"),
             os.path.join(other, "mallory.crt"), "unknown_ca"),
            ("expired", cert(pki, "expired-client"),
             os.path.join(pki, "expired-client.crt"), "certificate_expired"),
            ("server-only usage", cert(pki, "broker"),
             os.path.join(pki, "broker.crt"), "unsupported_certificate"),
            ("no certificate", [], None, None),
        )

    def attempt(self, port, extra, tool="secmq-pub"):
        conn = self.conn_args(port=port)
        more = ["-t", "test/cert", "-q", "1", "-m", "x"] \
            if tool == "secmq-pub" else ["-t", "test/cert", "-W", "3"]
        return self.run_tool(tool, conn + extra + more)

    def expect(self, r, pattern, what, code=EXIT_TLS):
        self.assertEqual(r.returncode, code, "%s: exit code; stderr %r"
                         % (what, r.stderr))
        line = self.assert_refused(r)
        self.assertRegex(line, pattern, what)
        return line

    # -- mosquitto, TLS 1.3 -------------------------------------------------

    def test_mosquitto_refusals_tls13(self):
        """Every run names the certificate file and says refused (or, with
        none, that one is required). The alert's precise reason must come
        in every run that got the alert, and in at least one run per case;
        a run whose alert was lost must say 'probably refused'."""
        port = self.broker.ports["mtls"]
        for name, extra, path, alert in self.cases():
            precise = 0
            for i in range(REPEATS):
                tool = "secmq-sub" if i == REPEATS - 1 else "secmq-pub"
                r = self.attempt(port, extra + ["--tls-version", "tlsv1.3"],
                                 tool=tool)
                what = "%s, %s run %d" % (name, tool, i + 1)
                if path is None:
                    line = self.expect(r, NONE_CONFIGURED, what)
                    precise += "alert certificate_required" in line
                    continue
                line = self.expect(r, "%s|%s" % (refused_line(path, alert),
                                                 probably_line(path)), what)
                precise += "(alert %s)" % alert in line
            self.assertGreater(precise, 0, "%s: the broker's alert was never "
                               "reported in %d runs" % (name, REPEATS))

    def test_accepted_certificate_still_works(self):
        """The callbacks that note the broker's request change nothing for
        a certificate it accepts."""
        pki = self.broker.pki
        r = self.attempt(self.broker.ports["mtls"],
                         ["--cert", os.path.join(pki, "sam.crt"),
                          "--key", os.path.join(pki, "sam.key")])
        self.assertEqual(r.returncode, 0, r.stderr)

    # -- TLS 1.2 (Python's ssl module, OpenSSL) ---------------------------------

    def server_ctx(self, verify, cafile, tls12=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(self.broker.pki, "broker.crt"),
                            os.path.join(self.broker.pki, "broker.key"))
        ctx.verify_mode = verify
        if cafile is not None:
            ctx.load_verify_locations(cafile)
        return ctx

    def serve(self, ctx):
        srv = HangUpServer(ctx)
        self.addCleanup(srv.close)
        return srv

    def test_tls12_refusals(self):
        """A TLS 1.2 server with require_certificate's settings refuses
        during the handshake, with the same alerts; without a certificate
        TLS 1.2 says only handshake_failure, after asking for one."""
        srv = self.serve(self.server_ctx(ssl.CERT_REQUIRED,
                                         self.broker.cafile, tls12=True))
        for name, extra, path, alert in self.cases():
            for i in range(FAKE_REPEATS):
                r = self.attempt(srv.port, extra)
                what = "TLS 1.2, %s, run %d" % (name, i + 1)
                if path is None:
                    self.expect(r, NONE_CONFIGURED + r" \(it asked for one, "
                                r"then sent alert handshake_failure\)", what)
                else:
                    self.expect(r, refused_line(path, alert), what)
        self.assertEqual(srv.handshakes, 0, srv.failures)

    def test_hang_up_after_certificate_request(self):
        """A server that asks for a certificate, takes the handshake and
        hangs up without an alert: with a certificate, 'probably refused'
        naming it; without, 'requires one'. TLS 1.3 and 1.2."""
        other = self.broker.other
        for tls12 in (False, True):
            # Trusting mallory's CA, and only asking: every handshake
            # completes, then the server hangs up.
            srv = self.serve(self.server_ctx(
                ssl.CERT_OPTIONAL, os.path.join(other, "ca.crt"), tls12))
            mallory = ["--cert", os.path.join(other, "mallory.crt"),
                       "--key", os.path.join(other, "mallory.key")]
            for i in range(FAKE_REPEATS):
                what = "hang-up, TLS 1.%d, run %d" % (2 if tls12 else 3, i + 1)
                r = self.attempt(srv.port, mallory)
                self.expect(r, probably_line(os.path.join(other,
                                                          "mallory.crt")),
                            what + ", with a certificate")
                r = self.attempt(srv.port, [])
                self.expect(r, NONE_CONFIGURED + r" \(it asked for one, then "
                            r"closed the connection\)",
                            what + ", without a certificate")
            self.assertEqual(srv.handshakes, 2 * FAKE_REPEATS, srv.failures)

    def test_hang_up_without_certificate_request(self):
        """A server that never asks for a certificate and hangs up: the
        certificate is not blamed, exit 7 as mosquitto_pub's."""
        pki = self.broker.pki
        srv = self.serve(self.server_ctx(ssl.CERT_NONE, None))
        sam = ["--cert", os.path.join(pki, "sam.crt"),
               "--key", os.path.join(pki, "sam.key")]
        for extra in (sam, []):
            r = self.attempt(srv.port, extra)
            line = self.expect(r, r"closed the connection",
                               "no certificate request", code=EXIT_CONN_LOST)
            self.assertNotIn("certificate", line)


if __name__ == "__main__":
    unittest.main()
