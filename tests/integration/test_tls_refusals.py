#!/usr/bin/python3
"""test_tls_refusals.py -- what secmq-pub/secmq-sub refuse, and say so.

Every refusal must end the tool with the exit code mosquitto_pub/_sub 2.0
give (8, MOSQ_ERR_TLS, for every TLS failure; 7, MOSQ_ERR_CONN_LOST, for a
connection closed before CONNACK; the CONNACK code for a refused login) and
exactly one line on stderr naming the cause (unknown CA, host name, expiry,
pin, password, missing client certificate); the matching correct setting
must work, so the refusal is not an accident. Certificate checks are never
turned off here: --insecure only skips the host name, and that is tested
as such.
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import BrokerTestCase  # noqa: E402

# Patterns a reason line must match (case-insensitive, except "CA").
CA_WORDS = r"(?-i:\bCA\b)|trust|issuer"
HOST_WORDS = r"host ?name"
EXPIRED_WORDS = r"expired"
PIN_WORDS = r"\bpin"
PASSWORD_WORDS = r"password|not authori[sz]ed"
CERT_WORDS = r"certificate"
INSECURE_WARNING = r"(?i)warning.*insecure|insecure.*warning"

# mosquitto_pub/_sub's exit codes (MOSQ_ERR_* in mosquitto.h).
EXIT_CONN_LOST = 7
EXIT_TLS = 8
CONNACK_NOT_AUTHORIZED = 5


class TlsRefusals(BrokerTestCase):

    listeners = ("tls", "mtls", "expired", "wrongname", "plain")

    def try_pub(self, *args, conn=None, tool="secmq-pub"):
        conn = conn if conn is not None else self.conn_args()
        extra = ["-t", "test/tls", "-q", "1", "-m", "should not matter"] \
            if tool == "secmq-pub" else ["-t", "test/tls", "-W", "3"]
        return self.run_tool(tool, conn + list(args) + extra)

    def port(self, kind):
        return self.broker.ports[kind]

    def refused(self, r, code, pattern=None, warning=None):
        """assert_refused, with exit code code."""
        self.assertEqual(r.returncode, code, "exit code; stderr %r"
                         % r.stderr)
        return self.assert_refused(r, pattern, warning=warning)

    # -- CA ---------------------------------------------------------------

    def test_unknown_ca(self):
        r = self.try_pub(conn=self.conn_args(
            cafile=self.broker.other_cafile))
        self.refused(r, EXIT_TLS, CA_WORDS)

    def test_unknown_ca_subscriber(self):
        r = self.try_pub(conn=self.conn_args(
            cafile=self.broker.other_cafile), tool="secmq-sub")
        self.refused(r, EXIT_TLS, CA_WORDS)

    def test_insecure_still_checks_ca(self):
        r = self.try_pub("--insecure", conn=self.conn_args(
            cafile=self.broker.other_cafile))
        self.refused(r, EXIT_TLS, CA_WORDS, warning=INSECURE_WARNING)

    def test_capath(self):
        """--capath with a directory holding only the test CA works; one
        holding only another CA is refused. Files are named by subject hash
        (<hash>.0) as OpenSSL-style c_rehash directories are."""
        conn = self.conn_args(cafile=False)
        for name, ca in (("good", self.broker.cafile),
                         ("bad", self.broker.other_cafile)):
            d = os.path.join(self.broker.dir, "capath-" + name)
            os.mkdir(d)
            h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in",
                                ca], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
            shutil.copy(ca, os.path.join(d, h + ".0"))
            r = self.try_pub("--capath", d, conn=conn)
            if name == "good":
                self.assertEqual(r.returncode, 0, r.stderr)
            else:
                self.refused(r, EXIT_TLS, CA_WORDS)

    # -- host name and validity -------------------------------------------

    def test_host_name_not_in_certificate(self):
        for host in ("localhost", "127.0.0.1"):
            r = self.try_pub(conn=self.conn_args(
                port=self.port("wrongname"), host=host))
            self.refused(r, EXIT_TLS, HOST_WORDS)

    def test_insecure_skips_only_host_name(self):
        r = self.try_pub("--insecure", conn=self.conn_args(
            port=self.port("wrongname")))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, INSECURE_WARNING,
                         "--insecure must print a warning")

    def test_host_name_matches_dns_and_ip(self):
        for host in ("localhost", "127.0.0.1"):
            r = self.try_pub(conn=self.conn_args(host=host))
            self.assertEqual(r.returncode, 0, "%s: %s" % (host, r.stderr))

    def test_expired_broker_certificate(self):
        r = self.try_pub(conn=self.conn_args(port=self.port("expired")))
        self.refused(r, EXIT_TLS, EXPIRED_WORDS)
        r = self.try_pub(conn=self.conn_args(port=self.port("expired")),
                         tool="secmq-sub")
        self.refused(r, EXIT_TLS, EXPIRED_WORDS)

    # -- pins -------------------------------------------------------------

    def test_right_pin_works(self):
        sub = self.start_sub("-t", "test/tls", "-q", "1", "-C", "1",
                             client_id="pin-watch")
        r = self.try_pub("--pin", self.broker.pins["broker"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = self.finish(sub)
        self.assertEqual(out, "should not matter\n")

    def test_wrong_pin_refused(self):
        r = self.try_pub("--pin", self.broker.pins["wrongname"])
        self.refused(r, EXIT_TLS, PIN_WORDS)

    def test_malformed_pin_refused(self):
        r = self.try_pub("--pin", "sha256:not-base64")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("pin", r.stderr.lower())

    def test_pin_does_not_replace_ca(self):
        r = self.try_pub("--pin", self.broker.pins["broker"],
                         conn=self.conn_args(
                             cafile=self.broker.other_cafile))
        self.refused(r, EXIT_TLS)

    # -- transport and login ------------------------------------------------

    def test_plaintext_client_against_tls_port(self):
        for tool in ("secmq-pub", "secmq-sub"):
            r = self.try_pub("--no-tls", conn=self.conn_args(cafile=False),
                             tool=tool)
            self.refused(r, EXIT_CONN_LOST)

    def test_tls_client_against_plain_port(self):
        for tool in ("secmq-pub", "secmq-sub"):
            r = self.try_pub(conn=self.conn_args(port=self.port("plain")),
                             tool=tool)
            self.refused(r, EXIT_TLS)

    def test_plain_only_when_asked(self):
        """--no-tls to the plain listener works (it is explicit)."""
        r = self.try_pub("--no-tls", conn=self.conn_args(
            port=self.port("plain"), cafile=False))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_wrong_password(self):
        r = self.try_pub(conn=self.conn_args(password="wrong-password"))
        self.refused(r, CONNACK_NOT_AUTHORIZED, PASSWORD_WORDS)
        r = self.try_pub(conn=self.conn_args(password="wrong-password"),
                         tool="secmq-sub")
        self.refused(r, CONNACK_NOT_AUTHORIZED, PASSWORD_WORDS)

    def test_unknown_user(self):
        conn = self.conn_args(user=None) + ["-u", "mallory", "-P", "x"]
        r = self.try_pub(conn=conn)
        self.assert_refused(r, PASSWORD_WORDS)

    def test_tls13(self):
        r = self.try_pub("--tls-version", "tlsv1.3")
        self.assertEqual(r.returncode, 0, r.stderr)

    # -- mutual TLS ---------------------------------------------------------

    def test_mutual_tls_with_client_certificate(self):
        sub = self.start_sub("-t", "test/tls", "-q", "1", "-C", "1",
                             client_id="mtls-watch")
        pki = self.broker.pki
        r = self.try_pub("--cert", os.path.join(pki, "sam.crt"),
                         "--key", os.path.join(pki, "sam.key"),
                         conn=self.conn_args(port=self.port("mtls")))
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = self.finish(sub)
        self.assertEqual(out, "should not matter\n")

    def test_mutual_tls_without_client_certificate(self):
        r = self.try_pub(conn=self.conn_args(port=self.port("mtls")))
        self.refused(r, EXIT_TLS, CERT_WORDS)
        r = self.try_pub(conn=self.conn_args(port=self.port("mtls")),
                         tool="secmq-sub")
        self.refused(r, EXIT_TLS, CERT_WORDS)

    def test_mutual_tls_with_certificate_from_other_ca(self):
        other = self.broker.other
        r = self.try_pub("--cert", os.path.join(other, "mallory.crt"),
                         "--key", os.path.join(other, "mallory.key"),
                         conn=self.conn_args(port=self.port("mtls")))
        self.refused(r, EXIT_TLS, CERT_WORDS + "|" + CA_WORDS)


if __name__ == "__main__":
    unittest.main()
