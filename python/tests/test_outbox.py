"""test_outbox.py -- Client(outbox=path) and outbox_set(): publish()
returns once the message is committed to the file (read back here with
sqlite3); what was published while the broker was away, or before the
first connect(), arrives after it is back, in order, also from a process
that was SIGKILLed right after publishing (persistent broker, a
subscriber with a persistent session); the settings take effect (bounds
with both policies, qos0, max_inflight) and bad ones are refused with
the library's reason."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest  # noqa: F401

from pyclient import (ClientMixin, get, nothing, secmq, threads_named,
                      wait_until)
from testcase import BrokerTestCase  # noqa: E402
import broker as brokermod  # noqa: E402

CHILD = textwrap.dedent("""\
    import os, sys, secmq
    c = secmq.Client(outbox=sys.argv[3])
    c.tls_set(ca_certs=sys.argv[1])
    c.username_pw_set("sam", os.environ["PY_PASSWORD"])
    c.loop_start()
    if sys.argv[4] == "connect":
        c.connect("127.0.0.1", int(sys.argv[2]))
    print("connected" if c.is_connected() else "never connected",
          flush=True)
    sys.stdin.readline()                 # the broker is stopped now
    for i in range(20):
        info = c.publish("py/ob", "kill %d" % i, qos=1)
        assert info.id > 0 and info.mid == 0
    print("queued", c.outbox_stats()["rows"], flush=True)
    sys.stdin.readline()                 # SIGKILLed while waiting here
""")


def file_rows(path):
    """(id, topic, payload, qos) of every row of the outbox file, by id,
    read with sqlite3 (read only) while the client may hold it."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        return con.execute("SELECT id, topic, payload, qos FROM outbox "
                           "ORDER BY id").fetchall()
    finally:
        con.close()


class Outbox(ClientMixin, BrokerTestCase):

    persistence = True

    def subscriber(self):
        sub, rec = self.client(user="alice", client_id="py-ob-sub",
                               clean_session=False)
        self.subscribe(sub, rec, "py/ob", 1)
        return sub, rec

    def test_broker_away_then_back(self):
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "outbox.db")
        before = threads_named("secmq-outbox")
        pub, prec = self.client(user="sam", outbox=path)
        # The outbox's commit thread, by its name (top -H, ps -L), which
        # it gives itself once it runs.
        self.assertTrue(wait_until(
            lambda: threads_named("secmq-outbox") - before == 1, 5))
        delivered = []
        pub.on_delivered = lambda c, u, row, rc: delivered.append((row, rc))
        since = self.broker.log_size()
        first = pub.publish("py/ob", "before", qos=1)
        self.assertTrue(first.wait_for_publish(10))
        self.assertEqual(get(srec.messages, "first").payload, b"before")
        # Else the restarted broker sends it again (a QoS 1 duplicate).
        self.assertTrue(self.broker.wait_for_log(
            r"Received PUBACK from py-ob-sub", 10, since=since))
        self.broker.stop()
        infos = [pub.publish("py/ob", "away %d" % i, qos=1)
                 for i in range(50)]
        self.assertEqual(pub.outbox_stats()["rows"], 50)
        self.assertFalse(any(i.is_published() for i in infos))
        self.assertEqual(os.stat(path).st_mode & 0o077, 0)
        self.broker.start()
        pub.outbox_wait(30)
        got = [get(srec.messages, "message %d" % i, timeout=20).payload
               for i in range(50)]
        self.assertEqual(got, [b"away %d" % i for i in range(50)])
        self.assertTrue(all(i.is_published() for i in infos))
        self.assertEqual(sorted(delivered),
                         [(i.id, 0) for i in [first] + infos])
        self.assertEqual(pub.outbox_stats()["rows"], 0)
        nothing(srec.messages, 0.3)

    def test_rows_survive_sigkill(self):
        self.sigkilled_publisher("connect", "connected\n")

    def test_rows_published_before_connect_survive_sigkill(self):
        self.sigkilled_publisher("never", "never connected\n")

    def sigkilled_publisher(self, mode, first_line):
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "outbox.db")
        prog = os.path.join(self.broker.dir, "child.py")
        with open(prog, "w") as fh:
            fh.write(CHILD)
        p = subprocess.Popen([sys.executable, prog, self.broker.cafile,
                              str(self.broker.port), path, mode],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=self.child_env({
                                 "PY_PASSWORD": self.broker.users["sam"]}),
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        self.assertEqual(p.stdout.readline(), first_line)
        self.broker.stop()
        p.stdin.write("go\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), "queued 20\n")
        p.kill()
        p.wait(10)
        self.assertEqual([r[2] for r in file_rows(path)],
                         [b"kill %d" % i for i in range(20)])
        self.broker.start()
        # A new client on the same file sends what the dead one queued.
        pub, _ = self.client(user="sam", outbox=path)
        self.assertEqual(pub.outbox_stats()["recovered"], 20)
        pub.outbox_wait(30)
        got = [get(srec.messages, "message %d" % i, timeout=20).payload
               for i in range(20)]
        self.assertEqual(got, [b"kill %d" % i for i in range(20)])

    # -- before the first connect() ----------------------------------------

    def unconnected(self, **kw):
        """A client of sam's with an outbox that has not connected."""
        pub, rec = self.client(user="sam", connect=False, **kw)
        delivered = []
        pub.on_delivered = lambda c, u, row, rc: delivered.append((row, rc))
        return pub, rec, delivered

    def connect(self, pub, rec):
        pub.loop_start()
        pub.connect(self.broker.host, self.broker.port, keepalive=30)
        self.assertEqual(get(rec.connects, "on_connect")[3], 0)

    def expect(self, pub, srec, want):
        """Once pub's outbox is empty, the subscriber has got exactly the
        payloads want, in that order."""
        pub.outbox_wait(30)
        self.assertEqual([get(srec.messages, "message %d" % i).payload
                          for i in range(len(want))], want)
        nothing(srec.messages, 0.3)

    def test_publish_before_connect(self):
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "early.db")
        since = self.broker.log_size()
        pub, rec, delivered = self.unconnected(outbox=path,
                                               client_id="py-ob-early")
        # QoS 1 only: mosquitto forwards a QoS 2 message at PUBREL, which
        # reorders a mix of both on its way out.
        infos = [pub.publish("py/ob", "early %d" % i, qos=1)
                 for i in range(30)]
        # Committed before any connection exists: in the file, in order.
        self.assertFalse(pub.is_connected())
        self.assertEqual(pub.client_id, "py-ob-early")
        rows = file_rows(path)
        self.assertEqual([(r[0], r[2], r[3]) for r in rows],
                         [(inf.id, b"early %d" % i, 1)
                          for i, inf in enumerate(infos)])
        self.assertEqual(pub.outbox_stats()["rows"], 30)
        self.assertFalse(any(i.is_published() for i in infos))
        self.assertFalse(self.broker.wait_for_log(r"py-ob-early", 0.2,
                                                  since=since))
        with self.assertRaises(secmq.NotConnectedError):
            pub.publish("py/ob", "qos 0 goes around the outbox", qos=0)
        self.connect(pub, rec)
        self.assertEqual(pub.outbox_stats()["recovered"], 30)
        later = pub.publish("py/ob", "after connect", qos=1)
        self.expect(pub, srec, [r[2] for r in rows] + [b"after connect"])
        self.assertTrue(all(i.is_published() for i in infos + [later]))
        self.assertEqual(sorted(delivered),
                         [(i.id, 0) for i in infos + [later]])
        self.assertEqual(file_rows(path), [])

    def test_publish_after_failed_connect(self):
        """The broker is down at the first connect(): it raises, and
        publish() still commits; a later connect() sends it all."""
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "down.db")
        pub, rec, delivered = self.unconnected(outbox=path)
        pub.connect_timeout_set(2)
        self.broker.stop()
        with self.assertRaises(secmq.ConnectRefusedError):
            pub.connect(self.broker.host, self.broker.port)
        infos = [pub.publish("py/ob", "down %d" % i, qos=1)
                 for i in range(10)]
        self.assertEqual(len(file_rows(path)), 10)
        self.broker.start()
        self.connect(pub, rec)
        self.expect(pub, srec, [b"down %d" % i for i in range(10)])
        self.assertTrue(all(i.wait_for_publish(5) for i in infos))

    # -- settings ---------------------------------------------------------

    def test_bad_settings_refused_with_the_library_reason(self):
        path = os.path.join(self.broker.dir, "bad.db")
        c = secmq.Client()
        self.addCleanup(c.close)
        for kw, reason in (
                ({"max_rows": 0}, "max_rows and max_bytes must be at least"),
                ({"max_bytes": 0}, "max_rows and max_bytes must be at least"),
                ({"max_inflight": 0}, "max_inflight 0 is not within 1..1000"),
                ({"max_inflight": 1001}, "max_inflight 1001 is not within"),
                ({"max_batch": 100001}, "max_batch 100001 is not within"),
                ({"max_rows": -1}, "max_rows must be at least 1"),
                ({"max_inflight": 2 ** 40}, "max_inflight 1099511627776 is "
                 "too large"),
                ({"max_rows": 2.5}, "max_rows must be a whole number"),
                ({"sync": "fast"}, "sync must be 'full' or 'normal'"),
                ({"policy": "drop"}, "policy must be 'refuse' or "
                 "'drop-oldest'")):
            with self.subTest(**{k: repr(v) for k, v in kw.items()}):
                with self.assertRaises(secmq.InvalidArgumentError) as cm:
                    c.outbox_set(path, **kw)
                self.assertIn(reason, str(cm.exception))
                self.assertFalse(os.path.exists(path))
        with self.assertRaises(secmq.InvalidArgumentError) as cm:
            c.outbox_set("")
        self.assertIn("outbox: no file given", str(cm.exception))
        notdb = os.path.join(self.broker.dir, "notes.txt")
        with open(notdb, "w") as fh:
            fh.write("not an outbox\n" * 100)
        with self.assertRaises(secmq.DatabaseError):
            c.outbox_set(notdb)
        # A file one client holds is refused to another (flock).
        c.outbox_set(path)
        other = secmq.Client()
        self.addCleanup(other.close)
        with self.assertRaises(secmq.BusyError):
            other.outbox_set(path)
        pub, _ = self.client(user="sam")
        with self.assertRaises(secmq.StateError):
            pub.outbox_set(os.path.join(self.broker.dir, "late.db"))

    def test_refuse_when_full(self):
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "full.db")
        pub, rec, _ = self.unconnected()
        pub.outbox_set(path, max_rows=5)
        infos = [pub.publish("py/ob", "r%d" % i, qos=1) for i in range(5)]
        with self.assertRaises(secmq.OutboxFullError) as cm:
            pub.publish("py/ob", "r5", qos=1)
        self.assertRegex(str(cm.exception), r"is full: 5 messages, .*"
                         r"\(bounds 5 messages, 67108864 bytes\)")
        st = pub.outbox_stats()
        self.assertEqual((st["rows"], st["refused_full"], st["max_rows"]),
                         (5, 1, 5))
        self.assertEqual(len(file_rows(path)), 5)
        # max_bytes: a row counts its topic and payload (5 + 10 here).
        pub.outbox_set(path, max_rows=100, max_bytes=16)
        self.assertEqual(pub.outbox_stats()["recovered"], 5)
        with self.assertRaises(secmq.OutboxFullError) as cm:
            pub.publish("py/ob", "0123456789ab", qos=1)
        self.assertIn("larger than the outbox's bound of 16 bytes",
                      str(cm.exception))
        self.connect(pub, rec)
        self.expect(pub, srec, [b"r%d" % i for i in range(5)])
        self.assertTrue(all(i.wait_for_publish(5) for i in infos))

    def test_drop_oldest_when_full(self):
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "drop.db")
        pub, rec, delivered = self.unconnected()
        pub.outbox_set(path, max_rows=3, policy="drop-oldest")
        infos = [pub.publish("py/ob", "d%d" % i, qos=1) for i in range(8)]
        st = pub.outbox_stats()
        self.assertEqual((st["rows"], st["dropped_oldest"],
                          st["refused_full"]), (3, 5, 0))
        self.assertEqual([r[2] for r in file_rows(path)],
                         [b"d5", b"d6", b"d7"])
        self.connect(pub, rec)
        self.expect(pub, srec, [b"d5", b"d6", b"d7"])
        self.assertEqual(sorted(delivered), [(i.id, 0) for i in infos[5:]])
        self.assertFalse(any(i.is_published() for i in infos[:5]))

    def test_qos0_through_the_outbox(self):
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "qos0.db")
        pub, rec, _ = self.unconnected()
        pub.outbox_set(path, qos0=True, sync="normal")
        info = pub.publish("py/ob", "zero", qos=0)
        self.assertGreater(info.id, 0)
        self.assertEqual([(r[2], r[3]) for r in file_rows(path)],
                         [(b"zero", 0)])
        self.connect(pub, rec)
        self.expect(pub, srec, [b"zero"])

    def test_max_inflight(self):
        """With the broker frozen (SIGSTOP), no PUBACK comes: the client
        hands max_inflight rows to it and holds the others."""
        sub, srec = self.subscriber()
        pub, rec, _ = self.unconnected()
        pub.outbox_set(os.path.join(self.broker.dir, "inf.db"),
                       max_inflight=3)
        self.connect(pub, rec)
        os.kill(self.broker.proc.pid, signal.SIGSTOP)
        try:
            for i in range(12):
                pub.publish("py/ob", "i%d" % i, qos=1)
            self.assertTrue(wait_until(
                lambda: pub.outbox_stats()["inflight"] == 3))
            nothing(srec.messages, 0.3)
            st = pub.outbox_stats()
            self.assertEqual((st["inflight"], st["sent"], st["rows"]),
                             (3, 3, 12))
        finally:
            os.kill(self.broker.proc.pid, signal.SIGCONT)
        self.expect(pub, srec, [b"i%d" % i for i in range(12)])


def _row_sum(row_id, topic, payload, qos, retain, sealed, created_ms):
    """The row checksum as secmq/outbox.h specifies it (BLAKE2b-128)."""
    import hashlib
    h = hashlib.blake2b(digest_size=16)
    h.update(b"SQOBrow2")
    h.update(row_id.to_bytes(8, "big") + bytes([qos, retain, sealed]) +
             created_ms.to_bytes(8, "big") + len(topic).to_bytes(8, "big"))
    h.update(topic)
    h.update(len(payload).to_bytes(8, "big") + payload)
    return h.digest()


def test_held_qos2_counted_and_released(tmp_path):
    """A QoS 2 row set aside in the file (as the library does when a
    broker answers QoS 2 with PUBACK; tests/integration covers that part):
    outbox_stats() counts it as held_qos2, outbox_release_qos2(1) puts it
    back as a QoS 1 row with a checksum that matches the spec."""
    path = str(tmp_path / "outbox.db")
    c = secmq.Client(outbox=path)
    assert c.outbox_stats()["held_qos2"] == 0
    c.close()
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO outbox VALUES (7, 'py/ob', x'6869', 2, 0, 0,"
                    " 1000, ?)",
                    (_row_sum(7, b"py/ob", b"hi", 2, 0, 0, 1000),))
        con.execute("INSERT INTO quarantine VALUES (7, 'qos2-unsupported', "
                    "1000)")
    con.close()
    c = secmq.Client(outbox=path)
    st = c.outbox_stats()
    assert (st["held_qos2"], st["rows"], st["quarantined"]) == (1, 0, 0)
    with pytest.raises(secmq.InvalidArgumentError):
        c.outbox_release_qos2(3)
    assert c.outbox_release_qos2(1) == 1
    st = c.outbox_stats()
    assert (st["held_qos2"], st["rows"]) == (0, 1)
    assert c.outbox_release_qos2(1) == 0
    c.close()
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        row = con.execute("SELECT qos, sum FROM outbox "
                          "WHERE id = 7").fetchone()
        held = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    finally:
        con.close()
    assert row == (1, _row_sum(7, b"py/ob", b"hi", 1, 0, 0, 1000))
    assert held == 0
