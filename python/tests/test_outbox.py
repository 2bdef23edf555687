"""test_outbox.py -- Client(outbox=path): publish() returns once the
message is committed to the file; what was published while the broker
was away arrives after it is back, in order, also from a process that
was SIGKILLed right after publishing (persistent broker, a subscriber
with a persistent session)."""

import os
import subprocess
import sys
import textwrap

import pytest  # noqa: F401

from pyclient import ClientMixin, get, nothing, secmq
from testcase import BrokerTestCase  # noqa: E402
import broker as brokermod  # noqa: E402

CHILD = textwrap.dedent("""\
    import os, sys, secmq
    c = secmq.Client(outbox=sys.argv[3])
    c.tls_set(ca_certs=sys.argv[1])
    c.username_pw_set("sam", os.environ["PY_PASSWORD"])
    c.loop_start()
    c.connect("127.0.0.1", int(sys.argv[2]))
    print("connected", flush=True)
    sys.stdin.readline()                 # the broker is stopped now
    for i in range(20):
        info = c.publish("py/ob", "kill %d" % i, qos=1)
        assert info.id > 0 and info.mid == 0
    print("queued", c.outbox_stats()["rows"], flush=True)
    sys.stdin.readline()                 # SIGKILLed while waiting here
""")


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
        pub, prec = self.client(user="sam", outbox=path)
        delivered = []
        pub.on_delivered = lambda c, u, row, rc: delivered.append((row, rc))
        first = pub.publish("py/ob", "before", qos=1)
        self.assertTrue(first.wait_for_publish(10))
        self.assertEqual(get(srec.messages, "first").payload, b"before")
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
        sub, srec = self.subscriber()
        path = os.path.join(self.broker.dir, "outbox.db")
        prog = os.path.join(self.broker.dir, "child.py")
        with open(prog, "w") as fh:
            fh.write(CHILD)
        p = subprocess.Popen([sys.executable, prog, self.broker.cafile,
                              str(self.broker.port), path],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=self.child_env({
                                 "PY_PASSWORD": self.broker.users["sam"]}),
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        self.assertEqual(p.stdout.readline(), "connected\n")
        self.broker.stop()
        p.stdin.write("go\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), "queued 20\n")
        p.kill()
        p.wait(10)
        self.broker.start()
        # A new client on the same file sends what the dead one queued.
        pub, _ = self.client(user="sam", outbox=path)
        self.assertEqual(pub.outbox_stats()["recovered"], 20)
        pub.outbox_wait(30)
        got = [get(srec.messages, "message %d" % i, timeout=20).payload
               for i in range(20)]
        self.assertEqual(got, [b"kill %d" % i for i in range(20)])
