"""test_files.py -- secmq.send_file, FileSender and FileReceiver against a
real broker and the C tool: Python -> `secmq-file recv` and `secmq-file
send` -> Python with a few-MB random file (SHA-256 compared, progress
monotonic up to the size, the transfer's messages kept from on_message);
a receiver whose keyring lacks the channel raises NoKeyError; a Python
sender SIGKILLed mid-file and started again with its state file resumes;
a raising callback is logged and changes nothing; the camera example
pair (examples/python/camera_*.py) moves an image.

Keyrings as in tests/integration/test_file_transfer.py: sam publishes
`files/#` to alice, alice answers on `files/r/#`.
"""

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import time

import pytest  # noqa: F401

from pyclient import SOURCE_DIR, ClientMixin, get, nothing, secmq
import broker as brokermod  # noqa: E402
from keys import E2ETestCase, LiveProc  # noqa: E402

TOPIC = "files"
MB = 1000 * 1000
EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")

# A Python sender in a process of its own (killed and started again):
# one line per event, "<kind> <bytes>", then "result <name> <size> <peer>".
SENDER = r"""
import os, sys
import secmq
host, port, cafile, keyring, state, path, rate = sys.argv[1:8]
c = secmq.Client()
c.tls_set(ca_certs=cafile)
c.username_pw_set("sam", os.environ["SECMQ_PASSWORD"])
c.loop_start()
c.connect(host, int(port))
show = lambda ev: print(ev.kind, ev.bytes, flush=True)
r = secmq.send_file(c, path, "files", keyring=keyring, state=state,
                    max_rate=int(rate), retry=1, timeout=60, progress=show)
print("result", r.name, r.size, r.peer, flush=True)
c.close()
"""


def random_file(path, size):
    data = os.urandom(size)
    with open(path, "wb") as fh:
        fh.write(data)
    return data


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class Files(ClientMixin, E2ETestCase):

    def setUp(self):
        super().setUp()
        for n in ("sam", "alice", "bob"):
            self.make_identity(n)
        g1 = self.create_channel(TOPIC + "/#", publishers=("sam",),
                                 subscribers=("alice",))
        g2 = self.create_channel(TOPIC + "/r/#", publishers=("alice",),
                                 subscribers=("sam",))
        self.import_("alice", self.pubfile("sam"), self.grant(g1, "alice"),
                     self.grant(g2, "alice"))
        self.import_("bob", self.pubfile("sam"))     # no grant
        self.work = os.path.join(self.broker.dir, "work")
        self.out = os.path.join(self.work, "out")
        os.makedirs(self.out)

    # -- helpers -------------------------------------------------------------

    def c_recv(self, *args, client_id="alice-files"):
        """secmq-file recv as alice (--json), once subscribed."""
        since = self.broker.log_size()
        p = self.spawn("secmq-file", ["recv"] + self.e2e_conn("alice") +
                       ["-i", client_id, "-c", "-t", TOPIC, "-o", self.out,
                        "--json", "--retry", "1"] + list(args))
        live = LiveProc(p, "secmq-file recv")
        self.wait_log_or_exit(p, r": Sending SUBACK to %s$" % client_id,
                              since)
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to %s$" % client_id, 10, since, count=2))
        return live

    def c_send(self, *args):
        p = self.spawn("secmq-file", ["send"] + self.e2e_conn("sam") +
                       ["-i", "sam-files", "-t", TOPIC, "--json",
                        "--retry", "1"] + list(args))
        return LiveProc(p, "secmq-file send")

    @staticmethod
    def json_events(live, kind):
        with live.cond:
            lines = list(live.out)
        out = []
        for ln in lines:
            try:
                ev = json.loads(ln)
            except ValueError:
                continue
            if ev.get("event") == kind:
                out.append(ev)
        return out

    def assert_progress(self, events, size):
        """start, progress..., done: bytes never go back, end at size."""
        kinds = [e.kind for e in events]
        self.assertEqual((kinds[0], kinds[-1]), ("start", "done"), kinds)
        self.assertIn("progress", kinds)
        got = [e.bytes for e in events if e.kind in ("start", "progress",
                                                     "done")]
        self.assertEqual(got, sorted(got), "progress went backwards")
        self.assertEqual(got[-1], size)

    def assert_leftovers_dropped(self, c, rec, topics):
        """Messages on a closed transfer's topics (the client is still
        subscribed) do not reach on_message; one published after them on
        another topic does, so they had their chance to."""
        self.subscribe(c, rec, "side/#", 1)
        for t in topics:
            c.publish(t, b"late", qos=1).wait_for_publish(10)
        c.publish("side/after", b"after", qos=1).wait_for_publish(10)
        msg = get(rec.messages, "on_message")
        self.assertEqual((msg.topic, msg.payload), ("side/after", b"after"))
        nothing(rec.messages, 0.2)

    # -- tests ---------------------------------------------------------------

    def test_send_file_to_c_receiver(self):
        src = os.path.join(self.work, "image.raw")
        data = random_file(src, 3 * MB)
        rx = self.c_recv("-C", "1")
        c, rec = self.client(user="sam")
        events = []
        # At 2 MB/s: progress events come at most every 0.5 s.
        done = secmq.send_file(c, src, TOPIC, keyring=self.kdir("sam"),
                               timeout=30, progress=events.append,
                               max_rate=2 * MB)
        self.assertEqual(rx.wait_exit(20), 0, rx.text()[-2000:])
        self.assertEqual(sha256(os.path.join(self.out, "image.raw")),
                         hashlib.sha256(data).hexdigest())
        self.assertEqual((done.kind, done.name, done.size, done.peer),
                         ("done", "image.raw", 3 * MB, "alice"))
        # Protocol 2: the root of the file's keyed chunk tree, the same
        # value the receiver reports.
        self.assertEqual("tree-v2:" + done.hash.hex(),
                         self.json_events(rx, "done")[0]["hash"])
        self.assertIs(events[-1], done)
        self.assert_progress(events, 3 * MB)
        self.assertEqual(self.json_events(rx, "done")[0]["sender"], "sam")

    def test_send_file_protocol_1(self):
        """protocol=1 (for receivers older than protocol 2): the C
        receiver gets the file with protocol 1's whole-file BLAKE2b-256;
        other protocols refused before anything is sent."""
        src = os.path.join(self.work, "old.raw")
        data = random_file(src, MB)
        c, rec = self.client(user="sam")
        for bad in (0, 3, "2", True):
            with self.assertRaises(secmq.InvalidArgumentError):
                secmq.FileSender(c, TOPIC, keyring=self.kdir("sam"),
                                 protocol=bad)
        rx = self.c_recv("-C", "1")
        done = secmq.send_file(c, src, TOPIC, keyring=self.kdir("sam"),
                               timeout=30, protocol=1)
        self.assertEqual(rx.wait_exit(20), 0, rx.text()[-2000:])
        self.assertEqual(sha256(os.path.join(self.out, "old.raw")),
                         hashlib.sha256(data).hexdigest())
        self.assertEqual(done.hash,
                         hashlib.blake2b(data, digest_size=32).digest())
        self.assertEqual("blake2b-256:" + done.hash.hex(),
                         self.json_events(rx, "done")[0]["hash"])

    def test_user_publishes_beside_a_sender(self):
        """The application's publishes on a client a FileSender shares
        get their own on_publish calls and nothing else: the transfer's
        chunk and manifest acks reach neither on_publish nor the client's
        table of acks that came before publish() returned."""
        src = os.path.join(self.work, "side.bin")
        random_file(src, 1 * MB)
        rx = self.c_recv("-C", "1")
        c, rec = self.client(user="sam")
        mine = []
        with secmq.FileSender(c, TOPIC, keyring=self.kdir("sam"),
                              chunk_size=16384, max_rate=1 * MB) as tx:
            tx.add(src)
            for i in range(40):
                info = c.publish("side/%d" % (i % 3), b"x%d" % i, qos=1)
                info.wait_for_publish(10)
                self.assertTrue(info.is_published())
                mine.append(info.mid)
                if i % 10 == 9:
                    time.sleep(0.1)
            done, = tx.wait(30)
        self.assertEqual(done.bytes, 1 * MB)
        self.assertEqual(rx.wait_exit(20), 0, rx.text()[-2000:])
        got = []
        while not rec.published.empty():
            got.append(rec.published.get_nowait())
        self.assertEqual(sorted(got), sorted(mine))
        # 62 chunks and a manifest went out; none of their acks is kept.
        with c._lock:
            early = [k for k in c._early if k[0] in ("pub", "row")]
        self.assertEqual(early, [])
        # Closed, the sender left its subscription to files/r/+: what
        # still comes there is dropped; other topics reach on_message.
        self.assert_leftovers_dropped(c, rec, ["files/r/0123abcd"])

    def test_c_sender_to_receiver_made_before_connect(self):
        src = os.path.join(self.work, "photo.jpg")
        data = random_file(src, 2 * MB)
        c, rec = self.client(user="alice", connect=False,
                             client_id="alice-py", clean_session=False)
        arrived, events = [], []
        rx = secmq.FileReceiver(c, TOPIC, self.out,
                                keyring=self.kdir("alice"),
                                on_file=arrived.append,
                                progress=events.append, retry=1)
        c.loop_start()
        c.connect(self.broker.host, self.broker.port)
        get(rec.connects, "on_connect")
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to alice-py$", 10, count=2))
        tx = self.c_send("--rate", "1M", src)   # progress every 0.5 s
        done = rx.wait(1, timeout=30)
        # Manifest and chunks went to the receiver, not to on_message.
        nothing(rec.messages, 0.2)
        rx.close()      # waits until the broker has the DONE answer
        self.assertEqual(tx.wait_exit(20), 0, tx.text()[-2000:])
        self.assertEqual(arrived, done)
        ev = done[0]
        self.assertEqual((ev.name, ev.size, ev.peer, ev.path),
                         ("photo.jpg", 2 * MB, "sam",
                          os.path.join(self.out, "photo.jpg")))
        self.assertEqual(sha256(ev.path), hashlib.sha256(data).hexdigest())
        self.assert_progress(events, 2 * MB)
        # The C sender heard the DONE answer that close() waited for.
        self.assertEqual(self.json_events(tx, "done")[0]["receiver"],
                         "alice")
        # The receiver's answers were its own publishes: not the
        # application's on_publish, not kept in the client's ack table.
        nothing(rec.published, 0.2)
        with c._lock:
            self.assertEqual([k for k in c._early if k[0] == "pub"], [])
        self.assert_leftovers_dropped(c, rec, ["files/m", "files/c/77ee"])

    def test_receiver_closed_mid_file_and_made_again(self):
        """close() while chunks stream in (the network thread calling
        into the receiver) frees it safely; a new receiver on the same
        directory resumes the file from its state file."""
        src = os.path.join(self.work, "clip.bin")
        data = random_file(src, 2 * MB)
        c, rec = self.client(user="alice", client_id="alice-py",
                             clean_session=False)
        held = queue.Queue()

        def progress(ev):
            if ev.kind == "progress":
                held.put(ev.bytes)

        rx = secmq.FileReceiver(c, TOPIC, self.out,
                                keyring=self.kdir("alice"),
                                progress=progress)
        self.assertTrue(self.broker.wait_for_log(
            r": Sending SUBACK to alice-py$", 10, count=2))
        tx = self.c_send("--rate", "1M", src)
        while get(held, "receiver progress", 20) < MB // 2:
            pass
        rx.close()
        with self.assertRaises(secmq.StateError):
            rx.wait(1, timeout=1)
        starts = []
        rx2 = secmq.FileReceiver(c, TOPIC, self.out,
                                 keyring=self.kdir("alice"), retry=1,
                                 progress=lambda ev: starts.append(ev)
                                 if ev.kind == "start" else None)
        done = rx2.wait(1, timeout=30)
        rx2.close()
        self.assertEqual(sha256(done[0].path),
                         hashlib.sha256(data).hexdigest())
        self.assertEqual(tx.wait_exit(20), 0, tx.text()[-2000:])
        # Resumed: the new receiver started with the chunks it held.
        self.assertTrue(starts)
        self.assertGreaterEqual(starts[0].bytes, MB // 2)

    def test_receiver_keyring_without_channel(self):
        c, _ = self.client(user="alice")
        with self.assertRaises(secmq.NoKeyError) as cm:
            secmq.FileReceiver(c, TOPIC, self.out, keyring=self.kdir("bob"))
        text = str(cm.exception)
        self.assertIn("bob", text)
        self.assertIn(TOPIC + "/", text)
        # Nothing stays attached: the client works on.
        info = c.publish("files/other", "x", qos=1)
        self.assertTrue(info.wait_for_publish(10))
        # Made before connect(): connect() raises it, and so does wait().
        c2, _ = self.client(user="alice", connect=False)
        rx = secmq.FileReceiver(c2, TOPIC, self.out,
                                keyring=self.kdir("bob"))
        c2.loop_start()
        with self.assertRaises(secmq.NoKeyError) as cm2:
            c2.connect(self.broker.host, self.broker.port)
        self.assertEqual(str(cm2.exception), text)
        with self.assertRaises(secmq.NoKeyError):
            rx.wait(1, timeout=1)
        # A client closed before it ever connected closes its transfers
        # too, which let go of their keyring.
        c3 = secmq.Client()
        kr = secmq.Keyring(self.kdir("sam"))
        tx = secmq.FileSender(c3, TOPIC, keyring=kr)
        c3.close()
        with self.assertRaises(secmq.StateError):
            tx.wait(1)
        kr.close()
        # A client with a keyring of its own would open the transfer's
        # messages first: refused, saying so.
        keyed = secmq.Client(keyring=self.kdir("sam"))
        self.addCleanup(keyed.close)
        with self.assertRaises(secmq.StateError) as cm:
            secmq.FileSender(keyed, TOPIC, keyring=self.kdir("sam"))
        self.assertIn("keyring", str(cm.exception))

    def test_sender_killed_and_resumed(self):
        src = os.path.join(self.work, "big.bin")
        data = random_file(src, 3 * MB)
        state = os.path.join(self.work, "send.db")
        rx = self.c_recv("-C", "1")

        def sender():
            p = subprocess.Popen(
                [sys.executable, "-c", SENDER, self.broker.host,
                 str(self.broker.port), self.broker.cafile,
                 self.kdir("sam"), state, src, str(MB)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=self.child_env({"SECMQ_PASSWORD":
                                    self.broker.users["sam"]}),
                preexec_fn=brokermod.die_with_parent)
            self._procs.append(p)
            return LiveProc(p, "python sender")

        tx = sender()
        self.assertTrue(tx.wait_until(lambda: any(
            ln.startswith("progress") and int(ln.split()[1]) >= MB
            for ln in tx.out), 20), tx.text()[-2000:])
        tx.proc.send_signal(signal.SIGKILL)
        tx.wait_exit(10)
        tx2 = sender()
        self.assertEqual(tx2.wait_exit(30), 0, tx2.text()[-2000:])
        self.assertEqual(rx.wait_exit(20), 0, rx.text()[-2000:])
        self.assertEqual(sha256(os.path.join(self.out, "big.bin")),
                         hashlib.sha256(data).hexdigest())
        starts = [int(ln.split()[1]) for ln in tx2.out
                  if ln.startswith("start")]
        # Resumed from the state file: the second run started with the
        # chunks the first had saved as acknowledged (the state is saved
        # at ticks, progress printed every 0.5 s: neither bounds the
        # other), not from zero, and under the same file id: the
        # receiver saw one transfer, not a second one.
        self.assertTrue(starts, tx2.text())
        self.assertGreater(starts[0], 0)
        self.assertLess(starts[0], 3 * MB)
        self.assertEqual(len(self.json_events(rx, "start")), 1, rx.text())
        self.assertEqual(tx2.out[-1], "result big.bin %d alice" % (3 * MB))

    def test_raising_callback_is_logged(self):
        """Made and given its file before connect(); a progress callback
        that raises on every event changes nothing but the log."""
        src = os.path.join(self.work, "x.bin")
        data = random_file(src, 300 * 1000)
        rx = self.c_recv("-C", "1")
        c, rec = self.client(user="sam", connect=False)
        calls, refused = [], []

        def boom(ev):
            calls.append(ev.kind)
            try:
                tx.close()      # refused here: it would join this thread
            except secmq.StateError as e:
                refused.append(str(e))
            raise ZeroDivisionError("callback failure %s" % ev.kind)

        kr = secmq.Keyring(self.kdir("sam"))
        self.addCleanup(kr.close)
        with secmq.FileSender(c, TOPIC, keyring=kr, progress=boom) as tx:
            tx.add(src, "renamed.bin")
            c.loop_start()
            c.connect(self.broker.host, self.broker.port)
            done = tx.wait(30)
            # The receiver's answers went to the sender, not on_message.
            nothing(rec.messages, 0.2)
        self.assertEqual([(d.name, d.size) for d in done],
                         [("renamed.bin", len(data))])
        self.assertEqual(rx.wait_exit(20), 0, rx.text()[-2000:])
        self.assertEqual(sha256(os.path.join(self.out, "renamed.bin")),
                         hashlib.sha256(data).hexdigest())
        self.assertEqual(calls[0], "start")
        self.assertEqual(calls[-1], "done")
        self.assertEqual(len(refused), len(calls))
        self.assertTrue(rec.logged("ZeroDivisionError: callback failure "
                                   "done"), rec.logs)

    def test_sender_through_outbox(self):
        """With Client(outbox=...), chunks are outbox rows: on_durable and
        on_delivered reach the sender, also one made before connect()."""
        src = os.path.join(self.work, "o.bin")
        data = random_file(src, 1 * MB)
        # A receiver that asks for missing chunks only after 10 s of
        # silence: a NEED of acknowledged chunks makes the sender send them
        # again, and they count again only once committed anew (the DONE
        # may come first). Every other chunk counts by the DONE.
        rx = self.c_recv("-C", "1", "--retry", "10")
        box = os.path.join(self.work, "outbox.db")
        # The outbox is open before connect(): the sender is made on the
        # client that connect() makes.
        c, rec = self.client(user="sam", outbox=box, connect=False)
        delivered, rows = queue.Queue(), []
        c.on_delivered = lambda cl, ud, row, rc: delivered.put((row, rc))
        events = []
        with secmq.FileSender(c, TOPIC, keyring=self.kdir("sam"),
                              state=box + ".xfer",
                              progress=events.append) as tx:
            tx.add(src)
            c.loop_start()
            c.connect(self.broker.host, self.broker.port)
            # The application's rows beside the transfer's.
            for i in range(5):
                info = c.publish("side/o", b"o%d" % i, qos=1)
                rows.append(info.id)
            done, = tx.wait(30)
            got = sorted(get(delivered, "on_delivered") for _ in rows)
        self.assertEqual(got, [(r, 0) for r in sorted(rows)])
        # on_delivered reported the application's 5 rows, not the
        # transfer's manifest and chunks, and the ack table keeps none.
        nothing(delivered, 0.3)
        with c._lock:
            self.assertEqual([k for k in c._early if k[0] == "row"], [])
        self.assertEqual((done.name, done.size), ("o.bin", len(data)))
        # Chunks count as acknowledged once committed to the outbox, which
        # on_durable reports before the row is handed to MQTT (and
        # on_delivered would count it too): every chunk by the DONE.
        again = sum(e.chunks for e in events if e.kind == "request")
        self.assertGreaterEqual(done.chunks, done.chunk_count - again,
                                events)
        if again == 0:
            self.assertEqual(done.bytes, len(data))
            self.assertEqual(max(e.bytes for e in events), len(data))
        self.assertEqual(rx.wait_exit(20), 0, rx.text()[-2000:])
        self.assertEqual(sha256(os.path.join(self.out, "o.bin")),
                         hashlib.sha256(data).hexdigest())
        self.assertGreater(c.outbox_stats()["acked"], 16)   # the chunks

    def test_camera_examples(self):
        image = os.path.join(self.work, "snapshot.jpg")
        data = random_file(image, 1 * MB)
        env = self.child_env({"SECMQ_PASSWORD": self.broker.users["alice"]})
        conn = ["--host", self.broker.host, "-p", str(self.broker.port),
                "--cafile", self.broker.cafile, "-t", TOPIC]
        since = self.broker.log_size()
        dash = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, "camera_receiver.py")] +
            conn + ["-u", "alice", "-i", "alice-dash", "--keyring",
                    self.kdir("alice"), "-o", self.out, "--count", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            preexec_fn=brokermod.die_with_parent)
        self._procs.append(dash)
        dlive = LiveProc(dash, "camera_receiver.py")
        self.wait_log_or_exit(dash, r": Sending SUBACK to alice-dash$",
                              since, timeout=15)
        r = subprocess.run(
            [sys.executable, os.path.join(EXAMPLES, "camera_sender.py")] +
            conn + ["-u", "sam", "--keyring", self.kdir("sam"), image],
            capture_output=True, text=True, timeout=40,
            env=self.child_env({"SECMQ_PASSWORD":
                                self.broker.users["sam"]}),
            stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("snapshot.jpg", r.stdout)
        self.assertEqual(dlive.wait_exit(20), 0, dlive.text())
        with open(os.path.join(self.out, "snapshot.jpg"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        self.assertIn("snapshot.jpg", "".join(dlive.out))
