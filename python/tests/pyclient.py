"""pyclient.py -- helpers for the secmq Python package's tests.

Puts tests/harness on sys.path (broker.py, keys.py, testcase.py), gives
a Recorder (callbacks that record into queues, with bounded waits) and
a mixin that connects secmq.Client objects to the test's broker. The
package itself comes from PYTHONPATH (python/), the library from
SECMQ_LIBRARY; both are set by ctest (python/CMakeLists.txt).
"""

import os
import queue
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "harness"))

import secmq  # noqa: E402

WAIT_S = 10.0


class Recorder:
    """Every callback of a secmq.Client (or paho Client), recorded."""

    def __init__(self, client):
        self.client = client
        self.connects = queue.Queue()
        self.disconnects = queue.Queue()
        self.messages = queue.Queue()
        self.published = queue.Queue()
        self.subscribed = queue.Queue()
        self.unsubscribed = queue.Queue()
        self.logs = []
        self.log_lock = threading.Lock()
        self.threads = set()
        client.on_connect = self._connect
        client.on_disconnect = self._disconnect
        client.on_message = self._message
        client.on_publish = self._publish
        client.on_subscribe = self._subscribe
        client.on_unsubscribe = self._unsubscribe
        client.on_log = self._log

    def _connect(self, client, userdata, flags, rc):
        self.connects.put((client, userdata, flags, rc))

    def _disconnect(self, client, userdata, rc):
        self.disconnects.put((client, userdata, rc))

    def _message(self, client, userdata, msg):
        self.threads.add(threading.get_ident())
        self.messages.put(msg)

    def _publish(self, client, userdata, mid):
        self.published.put(mid)

    def _subscribe(self, client, userdata, mid, granted):
        self.subscribed.put((mid, granted))

    def _unsubscribe(self, client, userdata, mid):
        self.unsubscribed.put(mid)

    def _log(self, client, userdata, level, buf):
        with self.log_lock:
            self.logs.append((level, buf))

    def logged(self, text):
        with self.log_lock:
            return [b for _, b in self.logs if text in b]


def get(q, what, timeout=WAIT_S):
    """The next item of queue q, failing with what when none comes."""
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("no %s within %.0f s" % (what, timeout))


def nothing(q, wait=0.5):
    try:
        item = q.get(timeout=wait)
    except queue.Empty:
        return True
    raise AssertionError("unexpected %r" % (item,))


def threads_named(name):
    """How many threads of this process have the name the library gave
    them (/proc/self/task/*/comm: what top -H and ps -L show)."""
    n = 0
    for t in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % t) as fh:
                n += fh.read().strip() == name
        except OSError:
            pass        # a thread that ended meanwhile
    return n


class ClientMixin:
    """For a BrokerTestCase: secmq.Client objects against self.broker,
    closed at cleanup. The library's tunnel sockets go under the
    broker's temp dir."""

    def setUp(self):
        super().setUp()
        os.environ["XDG_RUNTIME_DIR"] = self.broker.run_dir

    def _problems(self):
        # Under pytest the outcome has no failure lists: the broker log is
        # then always written, and pytest shows it for failed tests only.
        try:
            return super()._problems()
        except AttributeError:
            return None

    def client(self, user="alice", password=None, connect=True,
               loop=True, **kw):
        c = secmq.Client(**kw)
        self.addCleanup(c.close)
        c.tls_set(ca_certs=self.broker.cafile)
        c.username_pw_set(user, password if password is not None
                          else self.broker.users[user])
        rec = Recorder(c)
        if connect:
            if loop:
                c.loop_start()
            c.connect(self.broker.host, self.broker.port, keepalive=30)
            client, _, flags, rc = get(rec.connects, "on_connect")
            self.assertIs(client, c)
            self.assertEqual(rc, 0)
        return c, rec

    def subscribe(self, c, rec, *args):
        _, mid = c.subscribe(*args)
        got_mid, granted = get(rec.subscribed, "on_subscribe")
        self.assertEqual(got_mid, mid)
        return granted


def wait_until(pred, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()
