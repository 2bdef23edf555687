#!/usr/bin/python3
"""broker-crash-loss.py -- how many acknowledged QoS 1 messages a mosquitto
killed with SIGKILL loses, per persistence setting.

Not a test (nothing is asserted): a measurement for docs/DEPLOY.md. For
each setting it starts a broker with `persistence true` and that setting
(tests/harness/broker.py: loopback ports, TLS, its own temp dir), makes a
persistent session for a paho subscriber (QoS 1) and lets it go offline,
restarts the broker cleanly (so the session itself is on disk), then
streams N QoS 1 messages (RATE lines a second) with `secmq-pub -l
--outbox` while the broker is
SIGKILLed and restarted K times (each time it has received N / (K + 1)
more PUBLISHes since it started). secmq-pub exits 0 only once every message
was acknowledged (PUBACK) and deleted from its outbox. Then the subscriber
comes back and counts what its session kept: every missing message is one
the broker had acknowledged and lost.

    /usr/bin/python3 scripts/broker-crash-loss.py [--bin-dir build/bin]
        [-n 1000] [--kills 6] [--rate 100] [--runs 1]

Needs a build (secmq-pub, secmq-certs), mosquitto and python3-paho-mqtt.
"""

import argparse
import os
import signal
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "harness"))
from broker import Broker, HOST  # noqa: E402

# name -> mosquitto.conf lines replacing the harness's autosave line.
SETTINGS = [
    ("default (autosave_interval 1800)", []),
    ("autosave_interval 1", ["autosave_interval 1"]),
    ("autosave_on_changes true, autosave_interval 100",
     ["autosave_on_changes true", "autosave_interval 100"]),
    ("autosave_on_changes true, autosave_interval 1",
     ["autosave_on_changes true", "autosave_interval 1"]),
]


class TunedBroker(Broker):
    def __init__(self, autosave, **kw):
        super().__init__(persistence=True, **kw)
        self.autosave = autosave

    def _write_conf(self):
        super()._write_conf()
        with open(self.conf_path) as fh:
            lines = [ln for ln in fh.read().splitlines()
                     if not ln.startswith("autosave_")]
        with open(self.conf_path, "w") as fh:
            fh.write("\n".join(lines + self.autosave) + "\n")

    def received_since(self, offset):
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            return fh.read().count(b"Received PUBLISH from")

    def hard_restart(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._kill()
        self.start()


class Subscriber:
    def __init__(self, broker):
        import paho.mqtt.client as mqtt
        self.got = set()
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.c = mqtt.Client(client_id="crash-sub", clean_session=False,
                             protocol=mqtt.MQTTv311)
        self.c.tls_set(ca_certs=broker.cafile,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.c.username_pw_set("alice", broker.users["alice"])
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda c, u, m, g: self.ready.set()
        self.c.on_message = self._on_message
        self.c.connect(HOST, broker.port, keepalive=30)
        self.c.loop_start()

    def _on_connect(self, c, u, flags, rc):
        if rc == 0 and not flags.get("session present"):
            c.subscribe("crash/test", qos=1)
        else:
            self.ready.set()

    def _on_message(self, c, u, msg):
        with self.lock:
            self.got.add(bytes(msg.payload))

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def run_one(bin_dir, autosave, n, kills, rate):
    b = TunedBroker(autosave, bin_dir=bin_dir, max_queued_messages=0)
    b.setup()
    try:
        b.start()
        sub = Subscriber(b)
        if not sub.ready.wait(10):
            raise RuntimeError("subscriber did not subscribe")
        sub.close()
        b.restart()  # clean: the session is saved
        db = os.path.join(b.dir, "outbox.db")
        cmd = [os.path.join(bin_dir, "secmq-pub"), "-h", HOST, "-p",
               str(b.port), "--cafile", b.cafile, "-u", "sam", "-P",
               b.users["sam"], "--outbox", db, "-t", "crash/test", "-q",
               "1", "-l", "--outbox-wait", "60"]
        pub = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        start = time.monotonic()

        def feed():
            for i in range(n):
                pub.stdin.write(b"m-%05d\n" % i)
                pub.stdin.flush()
                time.sleep(max(0.0, start + (i + 1) / rate -
                               time.monotonic()))

        feeder = threading.Thread(target=feed)
        feeder.start()
        # Kill after every n / (kills + 1) PUBLISHes the broker received
        # (and acknowledged) since it last started.
        segment = n // (kills + 1)
        for _ in range(kills):
            since = b.log_size()
            deadline = time.monotonic() + 60
            while b.received_since(since) < segment:
                if time.monotonic() > deadline:
                    raise RuntimeError("the publisher stalled: rc %r, %d received; %s" % (pub.poll(), b.received_since(since), pub.stderr.read().decode()[-1500:] if pub.poll() is not None else ""))
                time.sleep(0.01)
            b.hard_restart()
        feeder.join()
        pub.stdin.close()
        err = pub.stderr.read().decode()
        code = pub.wait(120)
        took = time.monotonic() - start
        if code != 0:
            raise RuntimeError("secmq-pub exited %d: %s" % (code, err[-800:]))
        sub = Subscriber(b)
        last, stable = -1, 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and stable < 10:
            time.sleep(0.1)
            with sub.lock:
                k = len(sub.got)
            stable = stable + 1 if k == last else 0
            last = k
        sub.close()
        return n - last, took
    finally:
        b.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(HERE, "..", "build",
                                                      "bin"))
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--rate", type=float, default=100.0,
                    help="lines per second fed to secmq-pub -l")
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    bin_dir = os.path.abspath(a.bin_dir)
    print("%d QoS 1 messages at %.0f/s, broker SIGKILLed %d times; lost = "
          "acknowledged by the broker, never delivered"
          % (a.n, a.rate, a.kills))
    for name, lines in SETTINGS:
        for _ in range(a.runs):
            lost, took = run_one(bin_dir, lines, a.n, a.kills, a.rate)
            print("%-50s lost %4d of %d (%.1f%%), stream took %.1f s"
                  % (name, lost, a.n, 100.0 * lost / a.n, took), flush=True)


if __name__ == "__main__":
    main()
