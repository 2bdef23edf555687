#!/usr/bin/python3
"""test_plugin_common.py -- what the broker plugin tests share (no tests).

test_plugin_acl.py, test_plugin_live.py and test_plugin_signed.py import
this module: PluginTestCase (a BrokerTestCase whose broker runs the
secmq_auth.so plugin with an auth database made by secmq-admin; see
Broker(auth="plugin") in tests/harness/broker.py), the plugin's log lines
as regexes, and Mqtt, a python3-paho-mqtt 1.6.1 client (the independent
implementation) that reports what the broker answered -- CONNACK codes,
SUBACK codes per filter, disconnections -- instead of failing on them.
Every wait is bounded. Run with /usr/bin/python3.
"""

import os
import queue
import re
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import broker as brokermod  # noqa: E402
from testcase import HOST, BrokerTestCase  # noqa: E402

SUBACK_FAILURE = 0x80          # MQTT 3.1.1
V5_NOT_AUTHORIZED = 0x87       # MQTT v5 reason code
V5_BAD_USER_OR_PASSWORD = 0x86
CONNACK_NOT_AUTHORIZED = 5     # MQTT 3.1.1

RELOAD_WAIT_S = 8.0    # reload_interval is 1 s by default; generous

# The plugin's login guard (broker-plugin/authguard.c) relaxed for the
# plugin tests: they make several failed logins in a row from 127.0.0.1
# and expect each one checked and logged with its reason. A class's
# plugin_opts override these; test_plugin_flood.py tests the guard itself.
GUARD_RELAXED = {"login_source_failures": 1000000, "login_user_failures": 0,
                 "login_pause_ms": 0}


def q(s):
    """A literal for a regex."""
    return re.escape(s)


# The plugin's log lines (docs/DEPLOY.md section 7).
def rx_loaded():
    return r"secmq_auth: loaded (\d+) users, (\d+) rules from "


def rx_reloaded():
    return r"secmq_auth: reloaded policy: (\d+) users, (\d+) rules"


def rx_refused_login(user, client_id, reason):
    """user and client_id are regexes (the plugin's name for "no
    username" is not fixed by the specification)."""
    return (r"secmq_auth: refused login for '?%s'? \(client '%s'\): %s"
            % (user, client_id, reason))


def rx_kicked(client_id, user, reason):
    return (r"secmq_auth: disconnecting client '%s' \(user '%s'\): %s"
            % (q(client_id), q(user), reason))


def rx_denied_subscribe(filt, client_id, user):
    return (r"secmq_auth: denied subscribe to '%s' for client '%s' "
            r"\(user '%s'\)" % (q(filt), q(client_id), q(user)))


def rx_dropped(topic, client_id, user, reason):
    return (r"secmq_auth: dropped publish on '%s' from client '%s' "
            r"\(user '%s'\): %s" % (q(topic), q(client_id), q(user), reason))


def rx_sent_to(client_id, topic=None):
    """mosquitto's own line for a delivery to client_id."""
    return (r": Sending PUBLISH to %s \(d\d, q\d, r\d, m\d+, '%s'"
            % (q(client_id), q(topic) if topic else r"[^']*"))


class PluginTestCase(BrokerTestCase):
    """A broker per test with the plugin (Broker(auth="plugin")).

    Class attributes: require_signed, plugin_seed (sam may write `status`,
    alice may read it), reload_interval (None: the plugin's default),
    plugin_opts {name: value} for other plugin_opt_ lines."""

    require_signed = False
    plugin_seed = True
    reload_interval = None
    plugin_opts = None
    broker_env = None      # extra environment for mosquitto
    # Not 0: with 0, mosquitto 2.0.11 disconnects a client whose publish
    # the ACL refuses (see Broker.max_queued_messages).
    max_queued_messages = 100000

    def setUp(self):
        # BrokerTestCase.setUp with the plugin; E2ETestCase.setUp reaches
        # this through super() when a class derives from both.
        self._procs = []
        self._problems0 = self._problems()
        self.broker = brokermod.Broker(
            listeners=self.listeners, require_cert=self.require_cert,
            persistence=self.persistence, name=self._testMethodName[:24],
            auth="plugin", require_signed=self.require_signed,
            plugin_seed=self.plugin_seed,
            reload_interval=self.reload_interval,
            plugin_opts=dict(GUARD_RELAXED, **(self.plugin_opts or {})),
            max_queued_messages=self.max_queued_messages,
            env=self.broker_env)
        self.addCleanup(self._cleanup)
        # Runs before _cleanup (cleanups are LIFO): stop the broker so an
        # ASan build of the plugin reports leaks, then read its log.
        self.addCleanup(self._check_sanitizers)
        try:
            self.broker.setup()
        except brokermod.BrokerError as e:
            self.fail("cannot make the auth database: %s" % e)
        self.broker.start()
        self.assertTrue(self.broker.wait_for_log(rx_loaded(), timeout=5),
                        "the plugin did not log 'loaded N users, M rules'")

    def _check_sanitizers(self):
        if self.broker.running():
            self.broker.stop()
        m = brokermod.SANITIZER_REPORT.search(self.broker.log_text() or "")
        if m:
            self.fail("the sanitizers reported a problem in the broker "
                      "(plugin): %s\n%s" % (m.group(0),
                                            self.broker.log_tail(60)))

    # -- secmq-admin ----------------------------------------------------------

    def admin(self, *args, ok=True, input=None, db=None):
        """Run secmq-admin on the broker's database; with ok, assert exit
        0. Returns the CompletedProcess (text)."""
        r = self.broker.admin(*args, check=False, input=input, db=db)
        if ok:
            self.assertEqual(r.returncode, 0, "secmq-admin %s failed (%d): "
                             "%s" % (" ".join(map(str, args)), r.returncode,
                                     r.stderr.strip()))
        return r

    def change(self, *args, input=None):
        """A secmq-admin change while the broker runs; waits until the
        plugin logged the reload that follows it. Returns the
        CompletedProcess."""
        since = self.broker.log_size()
        r = self.admin(*args, input=input)
        self.wait_reloaded(since)
        return r

    def wait_reloaded(self, since, timeout=RELOAD_WAIT_S):
        if not self.broker.wait_reload(since, timeout):
            self.fail("the plugin did not log 'reloaded policy' within "
                      "%.0f s of a change to the database" % timeout)

    def add_user(self, name, password=None):
        """`user add NAME` while the broker runs (random password, kept in
        broker.users); returns after the reload. Every change made while
        the broker runs waits for its reload before the next one, so that
        the reload a later wait sees is the one with that later change."""
        since = self.broker.log_size()
        pw = self.broker.add_user(name, password)
        self.wait_reloaded(since)
        return pw

    def acl_add(self, *args):
        """`acl add ARGS` while the broker runs; the rule id after the
        reload."""
        since = self.broker.log_size()
        rid = self.broker.acl_add(*args)
        self.wait_reloaded(since)
        return rid

    # -- clients ----------------------------------------------------------------

    def mqtt(self, user="alice", client_id=None, connect=True, **kw):
        """An Mqtt client (closed at cleanup); connected (CONNACK 0
        asserted) unless connect is False."""
        c = Mqtt(self.broker, user=user, client_id=client_id, **kw)
        self.addCleanup(c.close)
        if connect:
            rc = c.connect()
            self.assertEqual(rc, 0, "%s (client %r) was refused: CONNACK %r"
                             % (user, client_id, rc))
        return c

    def connack(self, user, client_id, **kw):
        """Connect once and return the CONNACK code (the client is closed
        again)."""
        c = Mqtt(self.broker, user=user, client_id=client_id, **kw)
        try:
            return c.connect()
        finally:
            c.close()

    def wait_log(self, pattern, since=0, timeout=10.0, msg=None):
        if not self.broker.wait_for_log(pattern, timeout=timeout,
                                        since=since):
            self.fail("%sthe broker did not log %r within %.0f s"
                      % (msg + ": " if msg else "", pattern, timeout))

    def poll(self, fn, timeout=10.0, interval=0.25):
        """Call fn() until it returns a true value or timeout passes;
        returns the last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v or time.monotonic() >= deadline:
                return v
            time.sleep(interval)

    def expect(self, client, topic, payload, timeout=10.0):
        """The next message client receives is (topic, payload)."""
        m = client.get(timeout)
        self.assertIsNotNone(m, "%s received nothing within %.0f s (wanted "
                             "%r on %s)" % (client.client_id, timeout,
                                            payload, topic))
        self.assertEqual((m[0], m[1]), (topic, payload),
                         "%s received the wrong message" % client.client_id)

    def expect_nothing(self, client, wait=0.5):
        m = client.get(wait)
        self.assertIsNone(m, "%s received an unexpected message %r"
                          % (client.client_id, m))


class Mqtt:
    """python3-paho-mqtt 1.6.1 over TLS with the test CA, MQTT 3.1.1 or
    (v5=True) 5. user None: no username at all; password None: the
    broker's password for user. Records CONNACK codes, SUBACK codes,
    disconnections and messages; the caller decides what they mean.
    After a kick paho reconnects by itself (min 1 s delay), like a real
    client; a refused CONNACK stops it."""

    def __init__(self, broker, user="alice", password=None, client_id=None,
                 clean_session=True, v5=False, will=None):
        import paho.mqtt.client as mqtt
        self.mqtt = mqtt
        self.broker = broker
        self.v5 = v5
        self.clean_session = clean_session
        self.client_id = client_id if client_id is not None else \
            "paho-%s-%d" % (user, id(self) % 100000)
        if v5:
            self.c = mqtt.Client(client_id=self.client_id,
                                 protocol=mqtt.MQTTv5)
        else:
            self.c = mqtt.Client(client_id=self.client_id,
                                 clean_session=clean_session,
                                 protocol=mqtt.MQTTv311)
        self.c.tls_set(ca_certs=broker.cafile,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if user is not None:
            pw = password if password is not None else broker.users[user]
            self.c.username_pw_set(user, pw)
        if will is not None:
            self.c.will_set(*will)
        self.c.reconnect_delay_set(min_delay=1, max_delay=2)
        self.cond = threading.Condition()
        self.connacks = []       # CONNACK codes, in order
        self.flags = []          # CONNACK flags dicts
        self.disconnects = []    # rc of each disconnection
        self.subacks = {}        # mid -> [code per filter]
        self.messages = queue.Queue()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = self._on_message
        self.looping = False
        self.closed = False

    @staticmethod
    def _code(rc):
        return getattr(rc, "value", rc)

    def _on_connect(self, c, u, flags, rc, props=None):
        rc = self._code(rc)
        with self.cond:
            self.connacks.append(rc)
            self.flags.append(dict(flags))
            self.cond.notify_all()
        if rc != 0:
            # No retry loop against a refusal.
            c.disconnect()

    def _on_disconnect(self, c, u, rc, props=None):
        with self.cond:
            self.disconnects.append(self._code(rc))
            self.cond.notify_all()

    def _on_subscribe(self, c, u, mid, granted, props=None):
        with self.cond:
            self.subacks[mid] = [self._code(g) for g in granted]
            self.cond.notify_all()

    def _on_message(self, c, u, msg):
        self.messages.put((msg.topic, bytes(msg.payload), msg.qos,
                           msg.retain))

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.1))
            return True

    def connect(self, timeout=10.0):
        """Connect and return the CONNACK code (0 accepted), or None when
        the broker closed the connection or said nothing within timeout."""
        n, d = len(self.connacks), len(self.disconnects)
        kw = {"clean_start": self.clean_session} if self.v5 else {}
        try:
            self.c.connect(HOST, self.broker.port, keepalive=30, **kw)
        except (OSError, ssl.SSLError):
            return None
        self.c.loop_start()
        self.looping = True
        if not self.wait(lambda: len(self.connacks) > n or
                         len(self.disconnects) > d, timeout):
            return None
        with self.cond:
            return self.connacks[n] if len(self.connacks) > n else None

    @property
    def connected(self):
        return self.c.is_connected()

    def subscribe(self, filters, qos=1, timeout=10.0):
        """SUBSCRIBE to one filter (str) or several ([filter] or
        [(filter, qos)]) in ONE packet; returns the SUBACK codes, one per
        filter (granted QoS, or 0x80 / a v5 reason code)."""
        if isinstance(filters, str):
            filters = [filters]
        topics = [f if isinstance(f, tuple) else (f, qos) for f in filters]
        arg = topics[0][0] if len(topics) == 1 else topics
        if len(topics) == 1:
            rc, mid = self.c.subscribe(arg, topics[0][1])
        else:
            rc, mid = self.c.subscribe(arg)
        if rc != 0:
            raise AssertionError("paho: subscribe %r not sent (rc %d)"
                                 % (filters, rc))
        if not self.wait(lambda: mid in self.subacks, timeout):
            raise AssertionError("paho: no SUBACK for %r within %.0f s"
                                 % (filters, timeout))
        with self.cond:
            return self.subacks[mid]

    def publish(self, topic, payload, qos=1, retain=False, timeout=10.0):
        """Publish and, at QoS 1/2, wait for the broker's acknowledgement
        (a 3.1.1 broker acknowledges a message its ACL refuses too)."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != 0:
            raise AssertionError("paho: publish to %s not sent (rc %d)"
                                 % (topic, info.rc))
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise AssertionError("paho: publish to %s not acknowledged in "
                                 "%.0f s" % (topic, timeout))

    def get(self, timeout=10.0):
        """Next (topic, payload bytes, qos, retain), or None on timeout."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_disconnected(self, timeout=10.0, count=1):
        return self.wait(lambda: len(self.disconnects) >= count, timeout)

    def wait_connacks(self, count, timeout=10.0):
        return self.wait(lambda: len(self.connacks) >= count, timeout)

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.c.disconnect()
        except Exception:  # noqa: BLE001 -- best effort at cleanup
            pass
        if self.looping:
            self.c.loop_stop()
