"""test_client_receipts.py -- end-to-end receipts (PROTOCOL.md §9) from
Python, through a real mosquitto: sam publishes with secmq.Client and an
outbox on `py/rc`, a channel created by secmq-keys with --receipts (alice
its receipter), and on `py/plain`, one without; alice is a secmq.Client
with a keyring, sending receipts in batches set by set_receipts(). Each
of sam's rows on `py/rc` is settled by on_receipt (OK) before its
on_delivered, the counters of both sides say so, and a row nobody
receipts is given up after give_up_ms with NoReceiptError.rc (also when
on_receipt raises)."""

import threading
import time

import pytest  # noqa: F401

from pyclient import ClientMixin, get, secmq, wait_until
from keys import E2ETestCase  # noqa: E402 (tests/harness, via pyclient)

N = 20
BATCH = 8
NO_RECEIPT = -29


class Events:
    """on_receipt and on_delivered of one client, in the order they
    came: ("receipt", id, rc, got, need) and ("delivered", id, rc)."""

    def __init__(self, client):
        self.lock = threading.Lock()
        self.seen = []
        client.on_receipt = self._receipt
        client.on_delivered = self._delivered

    def _receipt(self, client, userdata, row, rc, got, need):
        with self.lock:
            self.seen.append(("receipt", row, rc, got, need))

    def _delivered(self, client, userdata, row, rc):
        with self.lock:
            self.seen.append(("delivered", row, rc))

    def of(self, kind):
        with self.lock:
            return [e[1:] for e in self.seen if e[0] == kind]

    def order(self, row):
        with self.lock:
            return [e[0] for e in self.seen if e[1] == row]


class ClientReceipts(ClientMixin, E2ETestCase):

    def setUp(self):
        super().setUp()
        for n in ("sam", "alice"):
            self.make_identity(n)
        grants = []
        for topic, extra in (("py/rc", ["--receipts"]), ("py/plain", [])):
            out = self.out_dir(topic.replace("/", "-"))
            self.keys("channel", "create", "--keyring", self.kdir("sam"),
                      "--topic", topic, "--publisher", self.pubfile("sam"),
                      "--subscriber", self.pubfile("alice"), "--out", out,
                      *extra)
            grants.append(self.grant(out, "alice"))
        self.import_("alice", self.pubfile("sam"), *grants)
        self.outbox = self.broker.dir + "/sam-outbox.db"

    def publisher(self, **wait):
        c, rec = self.client(user="sam", keyring=self.kdir("sam"),
                             connect=False, outbox=self.outbox)
        if wait:
            c.set_receipt_wait(**wait)
        ev = Events(c)
        c.loop_start()
        c.connect(self.broker.host, self.broker.port, keepalive=30)
        self.assertEqual(get(rec.connects, "sam's on_connect")[3], 0)
        return c, rec, ev

    def test_rows_settle_by_receipts(self):
        alice, arec = self.client(user="alice", keyring=self.kdir("alice"),
                                  connect=False)
        alice.set_receipts(BATCH, 50)
        alice.loop_start()
        alice.connect(self.broker.host, self.broker.port, keepalive=30)
        get(arec.connects, "alice's on_connect")
        self.subscribe(alice, arec, "py/rc", 1)
        self.subscribe(alice, arec, "py/plain", 1)
        sam, srec, ev = self.publisher()

        infos = [sam.publish("py/rc", "m%d" % i, qos=1) for i in range(N)]
        ids = [i.id for i in infos]
        self.assertTrue(all(ids), "rows of the outbox")
        self.assertTrue(wait_until(lambda: len(ev.of("receipt")) >= N, 30),
                        "on_receipt %d of %d: %r"
                        % (len(ev.of("receipt")), N, ev.seen))
        self.assertEqual(sorted(ev.of("receipt")),
                         sorted((i, 0, 1, 1) for i in ids))
        self.assertTrue(wait_until(lambda: len(ev.of("delivered")) >= N))
        self.assertEqual(sorted(ev.of("delivered")),
                         sorted((i, 0) for i in ids))
        for i in ids:
            self.assertEqual(ev.order(i), ["receipt", "delivered"])
            self.assertIsNone(sam.receipt_row(i), "a settled row stays")
        self.assertTrue(all(i.is_published() for i in infos))
        got = sorted(get(arec.messages, "message %d" % k).payload
                     for k in range(N))
        self.assertEqual(got, sorted(b"m%d" % i for i in range(N)))

        st = sam.receipt_stats()
        self.assertEqual((st["receipted"], st["awaiting"], st["missed"],
                          st["refused"]), (N, 0, 0, 0), st)
        self.assertGreaterEqual(st["opened"], 1, st)
        self.assertEqual(sam.outbox_stats()["rows"], 0)
        # alice: every message receipted, in batches of at most BATCH.
        self.assertTrue(wait_until(
            lambda: alice.receipt_stats()["acked"] ==
            alice.receipt_stats()["sent"]))
        ast = alice.receipt_stats()
        self.assertEqual((ast["messages"], ast["failed"], ast["pending"]),
                         (N, 0, 0), ast)
        self.assertGreaterEqual(ast["sent"], -(-N // BATCH), ast)
        self.assertEqual(ast["rereceipted"], 0, ast)  # nothing resent

        # A channel without receipts: the PUBACK ends the row, no
        # on_receipt, no receipt counted.
        plain = sam.publish("py/plain", "p", qos=1)
        self.assertTrue(plain.wait_for_publish(10))
        self.assertEqual(get(arec.messages, "plain message").payload, b"p")
        self.assertTrue(wait_until(lambda: ev.order(plain.id)))
        self.assertEqual(ev.order(plain.id), ["delivered"])
        self.assertEqual(sam.receipt_stats()["receipted"], N)
        self.assertEqual(len(ev.of("receipt")), N)

    def test_no_receipter_gives_up(self):
        sam, srec, ev = self.publisher(resend_ms=100, resend_max_ms=200,
                                       give_up_ms=1500)
        # A callback that calls the client and raises: logged, and the
        # rows are settled all the same; it runs on a library thread.
        threads = []

        def failing(c, u, row, rc, got, need):
            ev._receipt(c, u, row, rc, got, need)
            threads.append(threading.get_ident())
            c.receipt_stats()
            raise RuntimeError("on_receipt fails")
        sam.on_receipt = failing
        t0 = time.monotonic()
        infos = [sam.publish("py/rc", "lost %d" % i, qos=1)
                 for i in range(3)]
        first = infos[0].id
        self.assertTrue(wait_until(
            lambda: (sam.receipt_row(first) or {}).get("state") ==
            "awaiting", 10), sam.receipt_row(first))
        row = sam.receipt_row(first)
        self.assertEqual((row["receipts"], row["got"], row["need"]),
                         (True, 0, 1), row)
        self.assertFalse(infos[0].is_published())
        self.assertTrue(wait_until(lambda: len(ev.of("receipt")) >= 3, 20),
                        ev.seen)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4,
                                "given up before give_up_ms")
        self.assertEqual(sorted(ev.of("receipt")),
                         sorted((i.id, NO_RECEIPT, 0, 1) for i in infos))
        self.assertEqual(secmq.NoReceiptError.rc, NO_RECEIPT)
        self.assertTrue(wait_until(lambda: len(ev.of("delivered")) >= 3))
        self.assertEqual(sorted(ev.of("delivered")),
                         sorted((i.id, NO_RECEIPT) for i in infos))
        for i in infos:
            self.assertEqual(ev.order(i.id), ["receipt", "delivered"])
            self.assertIsNone(sam.receipt_row(i.id))
        st = sam.receipt_stats()
        self.assertEqual((st["missed"], st["receipted"], st["awaiting"]),
                         (3, 0, 0), st)
        self.assertGreaterEqual(st["resent"], 3, st)
        self.assertEqual(sam.outbox_stats()["rows"], 0)
        self.assertTrue([b for lvl, b in srec.logs if "alice" in b and
                         lvl == secmq.MQTT_LOG_WARNING], srec.logs)
        self.assertEqual(len(srec.logged("on_receipt fails")), 3)
        self.assertNotIn(threading.get_ident(), threads)

    def test_settings_checked(self):
        c = secmq.Client()
        self.addCleanup(c.close)
        for bad in ({"max_msgs": 65536}, {"max_delay_ms": 60001},
                    {"max_msgs": -1}, {"max_msgs": 1.5}):
            with self.assertRaises(secmq.InvalidArgumentError):
                c.set_receipts(**bad)
        for bad in ({"window": 65}, {"window": -1}, {"resend_ms": 0},
                    {"resend_ms": 500, "resend_max_ms": 100},
                    {"give_up_ms": 0}):
            with self.assertRaises(secmq.InvalidArgumentError, msg=bad):
                c.set_receipt_wait(**bad)
        c.set_receipt_wait(window=0)        # no window
        with self.assertRaises(secmq.StateError):
            c.receipt_row(1)        # no outbox
        self.assertIs(type(secmq.errors.from_code(NO_RECEIPT)),
                      secmq.NoReceiptError)
        sam, _rec = self.client(user="sam", keyring=self.kdir("sam"))
        with self.assertRaises(secmq.StateError):
            sam.set_receipts(1, 1)
        with self.assertRaises(secmq.StateError):
            sam.set_receipt_wait(window=8)
        st = sam.receipt_stats()
        self.assertEqual(set(st), set(secmq._lib.RECEIPT_STATS_FIELDS))
        self.assertEqual(set(st.values()), {0})
