#!/usr/bin/python3
"""test_plugin_signed.py -- signature enforcement in the secmq_auth.so
plugin: with plugin_opt_require_signed true (or a rule added with
--signed) a publish must be a secmq envelope signed by a key registered
for the MQTT user (`secmq-admin key add`), or the broker drops it. A
stolen password alone then cannot inject messages.

Keyrings are made with secmq-keys as in test_e2e_keys.py (sam owns the
channel on `status` and publishes, alice and bob subscribe, eve has an
identity of her own); forged and tampered envelopes are built in Python
from docs/PROTOCOL.md (tests/harness/keys.py). alice watches the topic
twice: with paho (the bytes as the broker delivers them) and with
secmq-sub and her keyring (what opens). Every dropped message is followed
by a signed one from sam that must be the next thing delivered.
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_common import (PluginTestCase, rx_dropped,  # noqa: E402
                                rx_sent_to)
from keys import (E2ETestCase, Envelope, MODE_MAC,  # noqa: E402
                  flip, open_grant, seal, verify_signature)


def now_us():
    return time.time_ns() // 1000


class SignedTestCase(E2ETestCase, PluginTestCase):
    """E2ETestCase (keyrings) over PluginTestCase (the plugin's broker):
    E2ETestCase.setUp reaches PluginTestCase.setUp through super()."""

    require_signed = True
    channels = (("status", False),)

    def setUp(self):
        super().setUp()
        self.outs = self.make_world(channels=self.channels)
        since = self.broker.log_size()
        r = self.admin("key", "add", "sam", self.pubfile("sam"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_reloaded(since)

    def watch(self, topic="status", n=1):
        """alice's two views of topic: paho (raw bytes) and secmq-sub
        with her keyring (opened, "%S %p")."""
        cap = self.paho(user="alice", client_id="alice-cap-%d" % n,
                        subscribe=topic)
        opened = self.sub("alice", "-t", topic, "-q", "1", "-F", "%S %p",
                          "-d", client_id="alice-open-%d" % n)
        return cap, opened

    def sam_signed(self, cap, opened, text, topic="status"):
        """The positive control: sam's sealed, signed message is the next
        thing alice's paho gets (an envelope with sam's valid signature)
        and opens at alice's secmq-sub."""
        with opened.cond:
            want = len(opened.out) + 1
        self.epub("sam", "-t", topic, "-q", "1", "-m", text)
        [(t, env)] = self.capture(cap)
        self.assertEqual(t, topic)
        self.assertTrue(verify_signature(env, topic, self.public("sam").pk),
                        "the next message on %s was not sam's signed "
                        "envelope: %r" % (topic, env[:40]))
        self.assertTrue(opened.wait_out(want), opened.text())
        self.assertEqual(opened.out[-1], "sam " + text)
        return env

    def channel(self, filt="status"):
        g = open_grant(self.grant(self.outs[filt], "alice"),
                       self.identity("alice"), self.public("sam").pk)
        return g["channel_key"], g["key_id"]


class RequireSigned(SignedTestCase):

    def test_raw_dropped_signed_delivered(self):
        cap, opened = self.watch()
        since = self.broker.log_size()
        sam = self.paho(user="sam", client_id="sam-raw")
        sam.publish("status", b"raw by sam", qos=1)
        self.wait_log(rx_dropped("status", "sam-raw", "sam",
                                 "not a signed secmq envelope"), since)
        # secmq-pub --raw with sam's keyring: the same.
        self.epub("sam", "-i", "sam-raw2", "-t", "status", "-q", "1",
                  "-m", "raw again", "--raw")
        self.wait_log(rx_dropped("status", "sam-raw2", "sam",
                                 "not a signed secmq envelope"), since)
        # and plain secmq-pub without a keyring.
        self.pub("-i", "sam-raw3", "-t", "status", "-q", "1", "-m", "plain")
        self.wait_log(rx_dropped("status", "sam-raw3", "sam",
                                 "not a signed secmq envelope"), since)
        self.sam_signed(cap, opened, "signed by sam")
        self.assert_no_more(cap, 0.3)
        self.assertEqual(opened.stop(), 0, opened.text())
        self.assertEqual(opened.out, ["sam signed by sam"])
        self.assertEqual(opened.drops(), [])

    def test_other_identity_dropped(self):
        """Envelopes valid in every way but signed by someone whose key is
        not registered for sam: eve's own channel on `status` (secmq-pub
        with eve's keyring and sam's password), eve's signature under
        alice's channel key, and eve's signature claiming sam's id."""
        cap, opened = self.watch()
        self.create_channel("status", owner="eve", publishers=("eve",),
                            subscribers=())
        since = self.broker.log_size()
        self.epub("eve", "-i", "eve-as-sam", "-t", "status", "-q", "1",
                  "-m", "eve's channel", user="sam")
        self.wait_log(rx_dropped("status", "eve-as-sam", "sam",
                                 "key not registered for user"), since)
        key, kid = self.channel()
        eve = self.identity("eve")
        sam_id = self.identity("sam").id
        forged = seal(eve, key, kid, "status", "eve signs", seq=now_us())
        claimed = seal(eve, key, kid, "status", "eve as sam", seq=now_us(),
                       sender_id=sam_id)
        inj = self.paho(user="sam", client_id="sam-stolen")
        inj.publish("status", forged, qos=1)
        self.wait_log(rx_dropped("status", "sam-stolen", "sam",
                                 "key not registered for user"), since)
        inj.publish("status", claimed, qos=1)
        self.wait_log(rx_dropped("status", "sam-stolen", "sam",
                                 "bad signature"), since)
        self.sam_signed(cap, opened, "the real sam")
        self.assert_no_more(cap, 0.3)
        self.assertEqual(opened.stop(), 0, opened.text())
        self.assertEqual(opened.out, ["sam the real sam"])

    def test_tampered_envelope_dropped(self):
        """A signed envelope of sam's captured from the wire, one byte
        flipped in each field, republished with sam's password: the broker
        drops every one; the untouched envelope (a replay, which only the
        receiver's window can refuse) still passes the broker."""
        cap, opened = self.watch()
        env = self.sam_signed(cap, opened, "original")
        e = Envelope(env)
        self.assertEqual(len(env), len("original") + 138)
        positions = [0, 1, 2, 12, 20, 30, 40, 58, len(env) - 65,
                     len(env) - 64, len(env) - 1]
        inj = self.paho(user="sam", client_id="sam-tamper")
        since = self.broker.log_size()
        for i in positions:
            inj.publish("status", flip(env, i), qos=1)
        self.wait_log(rx_dropped("status", "sam-tamper", "sam", ".*"),
                      since, msg="tampered envelopes")
        self.assertTrue(self.broker.wait_for_log(
            rx_dropped("status", "sam-tamper", "sam", ".*"), timeout=10,
            since=since, count=len(positions)),
            "not every tampered envelope was dropped by the broker")
        self.assert_not_logged(rx_sent_to("alice-cap-1"),
                               "a tampered envelope was delivered", since)
        self.assertIsNotNone(e.sig)
        self.sam_signed(cap, opened, "after tampering")
        self.assert_no_more(cap, 0.3)
        self.assertEqual(opened.stop(), 0, opened.text())
        self.assertEqual(opened.out, ["sam original", "sam after tampering"])
        self.assertEqual(opened.drops(), [])

    def test_unsigned_will_not_delivered(self):
        """sam's connection dies with a plaintext Will on `status`: the
        will never reaches alice (refused at CONNECT or dropped)."""
        cap, opened = self.watch()
        since = self.broker.log_size()
        dev = self.spawn("secmq-pub", self.conn_args("sam") +
                         ["-i", "sam-will", "-t", "sam/none", "-q", "1",
                          "-l", "--will-topic", "status",
                          "--will-payload", "sam is offline",
                          "--will-qos", "1"], stdin=subprocess.PIPE)
        connected = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.broker.wait_for_log(r"New client connected from .* as "
                                        r"sam-will ", timeout=0.1,
                                        since=since):
                connected = True
                break
            if dev.poll() is not None:
                break
        if connected:
            dev.send_signal(signal.SIGKILL)
            dev.wait(timeout=5)
            self.assertTrue(self.broker.wait_client_gone("sam-will",
                                                         since=since))
            self.wait_log(rx_dropped("status", "sam-will", "sam",
                                     "not a signed secmq envelope"), since,
                          msg="the plaintext will")
        else:
            # Refused at CONNECT because of its will: fine, with a reason.
            self.assertIsNotNone(dev.poll(), "secmq-pub neither connected "
                                 "nor exited")
            self.assertNotEqual(dev.returncode, 0)
        self.sam_signed(cap, opened, "after the will")
        self.assert_no_more(cap, 0.3)
        self.assertEqual(opened.stop(), 0, opened.text())
        self.assertEqual(opened.out, ["sam after the will"])
        self.assert_not_logged(rx_sent_to("alice-cap-1") + r".*\(14 bytes\)",
                               "the will was delivered", since)

    def test_signed_will_delivered(self):
        """The control of the will test: a will that is sam's signed
        envelope (captured earlier) is delivered when his connection
        dies."""
        cap, opened = self.watch()
        env = self.sam_signed(cap, opened, "will to be")
        c = self.paho_with_will(env)
        since = self.broker.log_size()
        c.socket().close()
        self.assertTrue(self.broker.wait_client_gone("sam-will2",
                                                     since=since))
        [(t, got)] = self.capture(cap)
        self.assertEqual((t, got), ("status", env))

    def paho_with_will(self, payload):
        """sam with paho, a Will on status, driven by hand (no network
        thread, so closing its socket is an abrupt end)."""
        import ssl
        import paho.mqtt.client as mqtt
        c = mqtt.Client(client_id="sam-will2", clean_session=True,
                        protocol=mqtt.MQTTv311)
        c.tls_set(ca_certs=self.broker.cafile,
                  tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.username_pw_set("sam", self.broker.users["sam"])
        c.will_set("status", payload, qos=1)
        got = []
        c.on_connect = lambda cl, u, f, rc: got.append(rc)
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            c.loop(timeout=0.1)
        self.assertEqual(got, [0], "sam with a signed will was refused")
        return c

    def test_mac_only_dropped(self):
        """A mac-only envelope proves channel membership, not the sender:
        refused under require_signed even on a channel that allows it."""
        self.outs.update(self.world_mac())
        cap, opened = self.watch("mac/status")
        since = self.broker.log_size()
        self.epub("sam", "-i", "sam-mac", "-t", "mac/status", "-q", "1",
                  "-m", "mac only", "--mac")
        self.wait_log(rx_dropped("mac/status", "sam-mac", "sam", ".*"),
                      since)
        # Also one built in Python (mode 0x02, sam's id).
        key, kid = self.channel("mac/status")
        raw = seal(self.identity("sam"), key, kid, "mac/status", "py mac",
                   seq=now_us(), mode=MODE_MAC)
        inj = self.paho(user="sam", client_id="sam-mac2")
        inj.publish("mac/status", raw, qos=1)
        self.wait_log(rx_dropped("mac/status", "sam-mac2", "sam", ".*"),
                      since)
        self.sam_signed(cap, opened, "signed on mac channel",
                        topic="mac/status")
        self.assert_no_more(cap, 0.3)

    def world_mac(self):
        """A second channel on mac/status that allows mac-only, with the
        rules for it (sam writes, alice reads)."""
        out = self.create_channel("mac/status", allow_mac=True)
        self.import_("alice", self.grant(out, "alice"))
        self.import_("bob", self.grant(out, "bob"))
        self.acl_add("--user", "sam", "mac/status", "write")
        self.acl_add("--user", "alice", "mac/status", "read")
        return {"mac/status": out}


class PerRuleSigned(SignedTestCase):
    """plugin_opt_require_signed false: only the topic whose rule was
    added with --signed is enforced."""

    require_signed = False
    channels = (("status", False), ("signed/status", False))

    def setUp(self):
        super().setUp()
        self.acl_add("--user", "sam", "signed/status", "write", "--signed")
        self.acl_add("--user", "alice", "signed/status", "read")

    def test_only_signed_rule_enforced(self):
        cap, opened = self.watch("status", 1)
        cap2, opened2 = self.watch("signed/status", 2)
        since = self.broker.log_size()
        # status: raw is delivered (no --signed on sam's rule).
        self.pub("-i", "sam-raw", "-t", "status", "-q", "1", "-m", "plain")
        [(t, m)] = self.capture(cap)
        self.assertEqual((t, m), ("status", b"plain"))
        # signed/status: raw dropped, signed delivered.
        self.pub("-i", "sam-raw2", "-t", "signed/status", "-q", "1", "-m",
                 "plain too")
        self.wait_log(rx_dropped("signed/status", "sam-raw2", "sam",
                                 "not a signed secmq envelope"), since)
        self.sam_signed(cap2, opened2, "signed rule", topic="signed/status")
        self.assert_no_more(cap2, 0.3)
        self.assert_not_logged(rx_dropped("status", ".*", ".*", ".*"),
                               "the rule without --signed was enforced",
                               since)
        # A signed message on status is delivered as well.
        self.sam_signed(cap, opened, "signed anyway")

    def test_rule_listed_as_signed(self):
        out = self.admin("acl", "list").stdout
        line = [ln for ln in out.splitlines() if "signed/status" in ln
                and "sam" in ln]
        self.assertEqual(len(line), 1, out)
        self.assertRegex(line[0], re.compile(r"signed", re.I))


class FileChunks(SignedTestCase):
    """File chunks of protocol 2 (PROTOCOL.md §8.3.2) carry no signature:
    with signatures enforced, the plugin lets through one of the right
    form (0x02 'C', header and tag, on .../c/<32 hex> whose first 16 are
    its key id) from a user with a registered signing key whom the ACL
    lets publish there; receivers then check its proof against the signed
    manifest. Anything else of that look is dropped and logged."""

    def setUp(self):
        super().setUp()
        self.acl_add("--user", "sam", "files/#", "write")
        self.acl_add("--user", "alice", "files/#", "readwrite")

    def test_chunk_form_enforced(self):
        cap = self.paho(user="alice", client_id="alice-chunks",
                        subscribe="files/#")
        sam = self.paho(user="sam", client_id="sam-chunks")
        alice = self.paho(user="alice", client_id="alice-pub")
        fid = os.urandom(16)
        topic = "files/c/" + fid.hex()

        def chunk(key_id=fid[:8], body=100, head=b"\x02C"):
            return head + key_id + b"\0\0\0\1" + os.urandom(24 + body)

        def delivered(payload):
            sam.publish(topic, payload, qos=1)
            [(t, got)] = self.capture(cap)
            self.assertEqual((t, got), (topic, payload))

        since = self.broker.log_size()
        delivered(chunk())
        bad = [(sam, "sam-chunks", "sam", topic, chunk(key_id=bytes(8)),
                "not a signed secmq envelope"),
               (sam, "sam-chunks", "sam", topic, chunk(body=15),
                "not a signed secmq envelope"),
               (sam, "sam-chunks", "sam", topic, chunk(head=b"\x02c"),
                "not a signed secmq envelope"),
               (sam, "sam-chunks", "sam", "files/x/" + fid.hex(), chunk(),
                "not a signed secmq envelope"),
               (alice, "alice-pub", "alice", topic, chunk(),
                "a file chunk \\(protocol 2\\) from a user without a "
                "registered signing key")]
        for who, cid, user, t, payload, why in bad:
            who.publish(t, payload, qos=1)
            self.wait_log(rx_dropped(t, cid, user, why), since)
            delivered(chunk())   # the next thing alice gets
        self.assert_no_more(cap, 0.3)


if __name__ == "__main__":
    unittest.main()
