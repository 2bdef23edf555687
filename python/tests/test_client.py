"""test_client.py -- secmq.Client's paho-shaped calls against a real
mosquitto (TLS, password file) from tests/harness/broker.py, with
python3-paho-mqtt as the independent client on the other side."""

import logging
import threading

import pytest  # noqa: F401 (run by pytest)

from pyclient import ClientMixin, Recorder, get, nothing, secmq, wait_until
from testcase import BrokerTestCase, PahoClient


class ClientCalls(ClientMixin, BrokerTestCase):

    def paho(self, user="sam", subscribe=None):
        p = PahoClient(self.broker, user=user)
        p.connect()
        self.addCleanup(p.close)
        if subscribe:
            p.subscribe(subscribe, qos=2)
        return p

    def test_connect_callbacks_and_flags(self):
        c, rec = self.client(userdata={"u": 1}, client_id="py-flags",
                             clean_session=False, connect=False)
        c.loop_start()
        self.assertEqual(c.connect(self.broker.host, self.broker.port), 0)
        client, userdata, flags, rc = get(rec.connects, "on_connect")
        self.assertIs(client, c)
        self.assertEqual(userdata, {"u": 1})
        self.assertEqual((flags, rc), ({"session present": 0}, 0))
        self.assertTrue(c.is_connected())
        self.assertEqual(c.client_id, "py-flags")
        info = c.tls_info()
        self.assertRegex(info["version"], r"^TLSv1\.[23]$")
        self.assertEqual(c.disconnect(), 0)
        self.assertEqual(get(rec.disconnects, "on_disconnect")[2], 0)
        c.loop_stop()
        # The persistent session is found again.
        c.loop_start()
        c.connect(self.broker.host, self.broker.port)
        self.assertEqual(get(rec.connects, "on_connect")[2],
                         {"session present": 1})

    def test_publish_subscribe_round_trip(self):
        c, rec = self.client()
        self.assertEqual(self.subscribe(c, rec, "py/a", 2), (2,))
        granted = self.subscribe(c, rec, [("py/b", 0), ("py/c/#", 1)])
        self.assertEqual(granted, (0, 1))
        self.assertEqual(self.subscribe(c, rec, ("py/d", 1)), (1,))
        for qos in (0, 1, 2):
            info = c.publish("py/a", "hello %d" % qos, qos=qos)
            rc, mid = info
            self.assertEqual(rc, 0)
            self.assertTrue(info.wait_for_publish(5))
            self.assertTrue(info.is_published())
            self.assertEqual(get(rec.published, "on_publish"), mid)
            m = get(rec.messages, "message")
            self.assertIsInstance(m, secmq.MQTTMessage)
            self.assertEqual((m.topic, m.payload, m.qos, m.retain),
                             ("py/a", b"hello %d" % qos, qos, False))
            self.assertEqual(m.mid != 0, qos > 0)
            self.assertFalse(m.sealed)
            self.assertIsNone(m.sender)
        # bytes with NULs, numbers, None; wildcard subscription.
        c.publish("py/c/x", b"\x00\xff\x00", qos=1)
        self.assertEqual(get(rec.messages, "message").payload,
                         b"\x00\xff\x00")
        c.publish("py/b", 42)
        self.assertEqual(get(rec.messages, "message").payload, b"42")
        c.publish("py/b", None)
        self.assertEqual(get(rec.messages, "message").payload, b"")
        # unsubscribe: nothing more on py/a, py/b still arrives.
        _, mid = c.unsubscribe(["py/a"])
        self.assertEqual(get(rec.unsubscribed, "on_unsubscribe"), mid)
        c.publish("py/a", "gone", qos=1).wait_for_publish(5)
        c.publish("py/b", "still", qos=1).wait_for_publish(5)
        self.assertEqual(get(rec.messages, "message").payload, b"still")
        nothing(rec.messages)

    def test_retained_and_paho_interop(self):
        paho = self.paho(user="sam", subscribe="py/#")
        c, rec = self.client()
        c.publish("py/ret", "kept", qos=1, retain=True).wait_for_publish(5)
        self.assertEqual(paho.get(), ("py/ret", b"kept", 1, False))
        # A new subscriber gets it with the retain flag.
        d, drec = self.client(user="eve")
        self.subscribe(d, drec, "py/ret", 1)
        m = get(drec.messages, "retained message")
        self.assertEqual((m.payload, m.retain), (b"kept", True))
        # paho -> secmq.
        self.subscribe(c, rec, "py/from-paho", 1)
        paho.publish("py/from-paho", b"hi from paho", qos=1)
        m = get(rec.messages, "message from paho")
        self.assertEqual((m.topic, m.payload, m.qos), ("py/from-paho",
                                                       b"hi from paho", 1))

    def test_will(self):
        paho = self.paho(user="sam", subscribe="py/will")
        c, rec = self.client(connect=False)
        c.will_set("py/will", "gone away", qos=1, retain=False)
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        # A clean disconnect: no will (the marker after it must come
        # first).
        c.disconnect()
        c.close()
        self.paho(user="eve").publish("py/will", b"marker", qos=1)
        self.assertEqual(paho.get()[1], b"marker")
        # Gone without DISCONNECT (the library's client freed while
        # connected): the broker publishes the will.
        d, _ = self.client(connect=False)
        d.will_set("py/will", b"gone away", qos=1)
        d.connect(self.broker.host, self.broker.port, keepalive=30)
        h = d._h
        d._h = None
        secmq.client.lib.secmq_client_free(h)
        self.assertEqual(paho.get(), ("py/will", b"gone away", 1, False))

    def test_errors_raise(self):
        c = secmq.Client()
        self.addCleanup(c.close)
        with self.assertRaises(secmq.NotConnectedError):
            c.publish("t", "x")
        with self.assertRaises(secmq.InvalidArgumentError):
            secmq.Client(clean_session=False)
        with self.assertRaises(secmq.InvalidArgumentError):
            c.tls_set(cert_reqs=0)
        with self.assertRaises(secmq.InvalidArgumentError):
            c.tls_pin("sha256:nope")
        c, rec = self.client()
        with self.assertRaises(secmq.InvalidArgumentError):
            c.publish("a/+/b", "x")
        with self.assertRaises(secmq.InvalidArgumentError):
            c.publish("t", "x", qos=3)
        with self.assertRaisesRegex(secmq.StateError, "already connected"):
            c.connect(self.broker.host, self.broker.port)
        # QoS 0 while the link is down (it is not queued): raised.
        c.disconnect()
        c.loop_stop()
        with self.assertRaises(secmq.NotConnectedError):
            c.publish("t", "x", qos=0)
        self.assertTrue(issubclass(secmq.TLSCAError, secmq.TLSError))
        self.assertTrue(issubclass(secmq.AuthError, secmq.Error))
        self.assertEqual(secmq.error_string(-8),
                         secmq.client._lib.strerror(-8))
        # Every code the loaded library names has a class of its own, so
        # a code added to libsecmq without one here fails this test.
        unknown = secmq.error_string(-1000)
        named = [rc for rc in range(-1, -200, -1)
                 if secmq.error_string(rc) != unknown]
        self.assertGreaterEqual(len(named), 28)
        for rc in named:
            e = secmq.errors.from_code(rc)
            self.assertIsNot(type(e), secmq.Error, "no class for %d" % rc)
            self.assertEqual((type(e).rc, e.rc), (rc, rc))
        self.assertTrue(issubclass(secmq.QoSUnsupportedError,
                                   secmq.ProtocolError))

    def test_tls_and_login_refusals(self):
        port = self.broker.port
        host = self.broker.host
        cases = [
            ({"ca": self.broker.other_cafile}, secmq.TLSCAError,
             "not signed by a trusted CA"),
            ({"password": "wrong"}, secmq.AuthError,
             "bad username or password"),
            ({"pin": self.broker.pins["wrongname"]}, secmq.TLSPinError,
             "pin"),
            ({"ca": "/nonexistent/ca.crt"}, secmq.Error, "ca.crt"),
        ]
        for opts, exc, text in cases:
            with self.subTest(opts=opts):
                c = secmq.Client()
                self.addCleanup(c.close)
                c.tls_set(ca_certs=opts.get("ca", self.broker.cafile))
                c.username_pw_set("alice", opts.get(
                    "password", self.broker.users["alice"]))
                if "pin" in opts:
                    c.tls_pin(opts["pin"])
                with self.assertRaises(exc) as cm:
                    c.connect(host, port)
                self.assertIn(text, str(cm.exception))
                self.assertLess(cm.exception.rc, 0)
                self.assertFalse(c.is_connected())
        # The right pin connects; so does a retry after a refusal.
        c, rec = self.client(connect=False)
        c.tls_pin(self.broker.pins["broker"])
        c.connect(host, port)
        self.assertTrue(c.is_connected())
        d = secmq.Client()
        self.addCleanup(d.close)
        d.tls_set(ca_certs=self.broker.cafile)
        d.username_pw_set("alice", "wrong")
        with self.assertRaises(secmq.AuthError):
            d.connect(host, port)
        d.username_pw_set("alice", self.broker.users["alice"])
        self.assertEqual(d.connect(host, port), 0)

    def test_callback_that_raises_is_logged(self):
        c, rec = self.client()
        seen = []

        def bad(client, userdata, msg):
            seen.append(msg.payload)
            if msg.payload == b"boom":
                raise RuntimeError("on_message failed on purpose")
        c.on_message = bad
        self.subscribe(c, rec, "py/raise", 1)
        with self.assertLogs("secmq", level="ERROR") as logs:
            c.publish("py/raise", "boom", qos=1)
            c.publish("py/raise", "after", qos=1)
            self.assertTrue(wait_until(lambda: len(seen) == 2), seen)
        self.assertEqual(seen, [b"boom", b"after"])
        self.assertTrue(any("on_message failed on purpose" in line
                            for line in logs.output))
        self.assertTrue(rec.logged("on_message failed on purpose"))
        self.assertTrue(c.is_connected())
        # A raising on_log is not fed back into itself.

        def bad_log(*a):
            raise ValueError("on_log failed")
        c.on_log = bad_log
        with self.assertLogs("secmq", level="ERROR"):
            c.publish("py/raise", "boom", qos=1)
            self.assertTrue(wait_until(lambda: len(seen) == 3))

    def test_logger_level_decides_what_is_made(self):
        """enable_logger() without on_log: a logger at DEBUG at connect()
        gets libmosquitto's line per packet; one at INFO at connect() gets
        none of them, even once lowered to DEBUG afterwards (the C client
        was told WARNING... INFO at connect() and never made them)."""
        seen = {}
        for name, level in (("debug", logging.DEBUG),
                            ("info", logging.INFO)):
            lines = []
            handler = logging.Handler()
            handler.emit = lambda r, lines=lines: lines.append(r.getMessage())
            logger = logging.getLogger("secmq.test_level." + name)
            logger.setLevel(level)
            logger.propagate = False
            logger.addHandler(handler)
            self.addCleanup(logger.removeHandler, handler)
            c, rec = self.client(connect=False)
            c.on_log = None
            c.enable_logger(logger)
            c.loop_start()
            self.assertEqual(c.connect(self.broker.host, self.broker.port),
                             0)
            self.assertEqual(get(rec.connects, "on_connect")[3], 0)
            logger.setLevel(logging.DEBUG)
            info = c.publish("py/log", "x", qos=1)
            self.assertTrue(info.wait_for_publish(10))
            c.disconnect()
            seen[name] = list(lines)
        self.assertTrue(any("PUBLISH" in ln for ln in seen["debug"]),
                        seen["debug"])
        self.assertFalse(any("PUBLISH" in ln for ln in seen["info"]),
                         seen["info"])

    def test_disconnect_from_callback_ends_loop_forever(self):
        """on_message calls loop_stop() (refused: StateError, not a
        deadlock) and disconnect(); loop_forever() then returns."""
        c, rec = self.client(loop=False)
        got = []

        def on_message(client, userdata, msg):
            try:
                client.loop_stop()
            except secmq.StateError as e:
                got.append(str(e))
            got.append(msg.payload)
            client.disconnect()
        c.on_message = on_message
        since = self.broker.log_size()
        c.subscribe("py/stop", 1)
        t = threading.Thread(target=self._publish_when_subscribed,
                             args=(c.client_id, since))
        t.start()
        self.assertEqual(c.loop_forever(), 0)
        t.join(10)
        self.assertEqual(got, ["loop_stop() cannot be called from a "
                               "callback (use disconnect() there)", b"stop"])
        self.assertFalse(c.is_connected())
        self.assertEqual(get(rec.disconnects, "on_disconnect")[2], 0)

    def _publish_when_subscribed(self, client_id, since):
        self.broker.wait_subscribed(client_id, since=since)
        secmq_pub = self.paho(user="sam")
        secmq_pub.publish("py/stop", b"stop", qos=1)

    def test_thousand_qos1_messages(self):
        """In order, each on_publish once; and on_message runs on one
        library thread whose Python thread state lives across callbacks
        (a threading.local keeps counting: the package pins it, which
        is what makes callbacks cheap)."""
        c, rec = self.client()
        local = threading.local()
        seen = []
        record = c.on_message

        def on_message(client, userdata, msg):
            local.n = getattr(local, "n", 0) + 1
            seen.append(local.n)
            record(client, userdata, msg)
        c.on_message = on_message
        self.subscribe(c, rec, "py/n", 1)
        infos = [c.publish("py/n", "%d" % i, qos=1) for i in range(1000)]
        for info in infos:
            self.assertTrue(info.wait_for_publish(20), info.mid)
        got = [get(rec.messages, "message %d" % i).payload
               for i in range(1000)]
        self.assertEqual(got, [b"%d" % i for i in range(1000)])
        mids = {get(rec.published, "on_publish") for _ in range(1000)}
        self.assertEqual(mids, {i.mid for i in infos})
        nothing(rec.messages, 0.2)
        self.assertEqual(seen, list(range(1, 1001)))
        self.assertEqual(len(rec.threads), 1)

    def test_close_once_and_context_manager(self):
        with secmq.Client() as c:
            c.tls_set(ca_certs=self.broker.cafile)
            c.username_pw_set("alice", self.broker.users["alice"])
            c.loop_start()
            c.connect(self.broker.host, self.broker.port)
            self.assertTrue(c.is_connected())
        self.assertIsNone(c._h)
        c.close()
        c.close()
        with self.assertRaises(secmq.NotConnectedError):
            c.publish("t", "x")


class Recorded(ClientMixin, BrokerTestCase):
    """Recorder also records paho callbacks (same signatures)."""

    def test_same_signatures_as_paho(self):
        p = PahoClient(self.broker, user="sam")
        rec = Recorder(p.c)
        p.connect = None
        p.c.connect(self.broker.host, self.broker.port)
        p.c.loop_start()
        self.addCleanup(p.c.loop_stop)
        self.assertEqual(get(rec.connects, "paho on_connect")[3], 0)
        p.c.subscribe([("x/a", 0), ("x/b", 1)])
        self.assertEqual(get(rec.subscribed, "paho on_subscribe")[1],
                         (0, 1))
        p.c.disconnect()


class TLSRefusals(ClientMixin, BrokerTestCase):
    """The certificate checks, each its own exception."""

    listeners = ("tls", "wrongname", "expired")

    def try_connect(self, kind, exc, text, insecure=False, ca=None):
        c = secmq.Client()
        self.addCleanup(c.close)
        c.tls_set(ca_certs=ca or self.broker.cafile)
        c.username_pw_set("alice", self.broker.users["alice"])
        if insecure:
            c.tls_insecure_set(True)
        if exc is None:
            c.connect(self.broker.host, self.broker.ports[kind])
            self.assertTrue(c.is_connected())
            return c
        with self.assertRaises(exc) as cm:
            c.connect(self.broker.host, self.broker.ports[kind])
        self.assertIn(text, str(cm.exception))
        return c

    def test_each_check_has_its_exception(self):
        self.try_connect("wrongname", secmq.TLSHostnameError, "host")
        self.try_connect("expired", secmq.TLSExpiredError, "expired")
        self.try_connect("tls", secmq.LocalIOError, "/nonexistent/ca.crt",
                         ca="/nonexistent/ca.crt")
        # Not checking the name still checks the CA: the wrong-name
        # certificate is accepted, an unrelated CA's is not.
        self.try_connect("wrongname", None, None, insecure=True)
        self.try_connect("wrongname", secmq.TLSCAError, "trusted CA",
                         insecure=True, ca=self.broker.other_cafile)


class Reconnect(ClientMixin, BrokerTestCase):
    """The network thread re-establishes a lost link: on_disconnect with
    the cause, on_connect again (which subscribes), messages flow."""

    def test_broker_restart(self):
        c, rec = self.client(client_id="py-re", connect=False)
        c.reconnect_delay_set(1, 2)
        c.on_connect = lambda cl, u, f, rc: (rec.connects.put(rc),
                                             cl.subscribe("py/re", 1))
        c.loop_start()
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        self.assertEqual(get(rec.connects, "on_connect"), 0)
        get(rec.subscribed, "on_subscribe")
        self.broker.restart()
        rc = get(rec.disconnects, "on_disconnect")[2]
        self.assertLess(rc, 0)
        self.assertIn("lost", secmq.error_string(rc))
        self.assertEqual(get(rec.connects, "on_connect after restart",
                             timeout=20), 0)
        get(rec.subscribed, "on_subscribe after restart")
        self.assertTrue(c.is_connected())
        c.publish("py/re", "back", qos=1)
        self.assertEqual(get(rec.messages, "message after restart").payload,
                         b"back")
