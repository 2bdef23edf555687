#!/usr/bin/python3
"""paho_vs_secmq.py -- messages/s of secmq.Client against paho-mqtt, both
over TLS through the same broker in the same run (not a timed test).

For each client kind and QoS: a subscriber and a publisher of that kind
(their own connections) on one topic; the publisher sends N payloads of
SIZE bytes as fast as its publish() returns, and the rate is N over the
time from the first publish to the last on_message in Python. The broker
is tests/harness/broker.py's (TLS, password file, no message limit), or
with --port and --cafile an existing one on loopback taking anonymous
clients over TLS (what `secmq-bench --suite python` passes: its own).

    PYTHONPATH=python SECMQ_LIBRARY=build/lib/libsecmq.so.0 \\
    SECMQ_BIN_DIR=build/bin /usr/bin/python3 python/bench/paho_vs_secmq.py

Exit status 0, 1 when a run failed, 3 when paho-mqtt or the secmq
package (or its library) cannot be imported (the reason on stderr).
"""

import argparse
import json
import os
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_MISSING = 3

try:
    import paho.mqtt as paho_mqtt
    import paho.mqtt.client as paho
except ImportError as e:
    sys.stderr.write("paho_vs_secmq.py: paho-mqtt is missing (%s); install "
                     "Debian's python3-paho-mqtt for %s\n"
                     % (e, sys.executable))
    sys.exit(EXIT_MISSING)
try:
    import secmq
except ImportError as e:
    sys.stderr.write("paho_vs_secmq.py: the secmq package cannot be "
                     "imported by %s: %s\n" % (sys.executable, e))
    sys.exit(EXIT_MISSING)

TIMEOUT_S = 120.0


class External:
    """An existing broker on loopback: TLS, anonymous clients."""

    def __init__(self, host, port, cafile):
        self.host, self.port, self.cafile = host, port, cafile
        self.users = None


def make(kind, b, user):
    if kind == "paho":
        c = paho.Client(protocol=paho.MQTTv311)
        c.tls_set(ca_certs=b.cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    else:
        c = secmq.Client()
        c.tls_set(ca_certs=b.cafile)
    if b.users is not None:
        c.username_pw_set(user, b.users[user])
    return c


def run(kind, b, qos, n, size, topic):
    done = threading.Event()
    ready = threading.Event()
    got = [0]
    first = [0.0]
    last = [0.0]

    def on_message(client, userdata, msg):
        got[0] += 1
        if got[0] == n:
            last[0] = time.monotonic()
            done.set()
    sub = make(kind, b, "alice")
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: ready.set()
    sub.connect(b.host, b.port, 60)
    sub.loop_start()
    sub.subscribe(topic, qos)
    pub = make(kind, b, "sam")
    pub.connect(b.host, b.port, 60)
    pub.loop_start()
    if not ready.wait(10):
        raise SystemExit("%s: no SUBACK" % kind)
    payload = b"x" * size
    first[0] = time.monotonic()
    for _ in range(n):
        pub.publish(topic, payload, qos=qos)
    ok = done.wait(TIMEOUT_S)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    if not ok:
        raise SystemExit("%s QoS %d: %d of %d messages arrived"
                         % (kind, qos, got[0], n))
    return n / (last[0] - first[0])


def measure(a, b):
    """Per QoS, a.rounds rounds alternating the kinds; the best of each."""
    rows = []
    for qos in (0, 1):
        rates = {"paho": [], "secmq": []}
        for r in range(a.rounds):
            for kind in ("paho", "secmq"):
                rates[kind].append(run(kind, b, qos, a.n, a.size,
                                       "bench/%s/%d/%d" % (kind, qos, r)))
        best = {k: max(v) for k, v in rates.items()}
        rows.append({"qos": qos, "size": a.size, "n": a.n,
                     "paho": best["paho"], "secmq": best["secmq"],
                     "ratio": best["secmq"] / best["paho"],
                     "rounds": rates})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--host", default="127.0.0.1",
                    help="with --port: the existing broker's address")
    ap.add_argument("--port", type=int, default=0,
                    help="an existing broker's TLS port (anonymous "
                    "clients); default: start tests/harness/broker.py's")
    ap.add_argument("--cafile", help="with --port: its CA certificate")
    ap.add_argument("--rows", action="store_true",
                    help="machine-readable lines (secmq-bench --suite "
                    "python reads them)")
    a = ap.parse_args()
    if a.n < 1 or a.rounds < 1 or a.size < 1:
        ap.error("-n, --size and --rounds must be at least 1")
    if bool(a.port) != bool(a.cafile):
        ap.error("--port and --cafile go together")
    if a.port:
        rows = measure(a, External(a.host, a.port, a.cafile))
    else:
        sys.path.insert(0, os.path.join(HERE, "..", "..", "tests",
                                        "harness"))
        import broker as brokermod
        with brokermod.Broker(name="pybench") as b:
            os.environ["XDG_RUNTIME_DIR"] = b.run_dir
            rows = measure(a, b)
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    if a.rows:
        # For secmq-bench --suite python (tools/bench/bench_python.c).
        print("info %s|%s|%s|%s|%s" % (
            sys.version.split()[0], paho_mqtt.__version__,
            secmq.library_version, secmq.library_path,
            os.path.dirname(os.path.abspath(secmq.__file__))))
        for r in rows:
            print("row %d %d %d %.1f %.1f %s %s" % (
                r["qos"], r["size"], r["n"], r["paho"], r["secmq"],
                ",".join("%.1f" % x for x in r["rounds"]["paho"]),
                ",".join("%.1f" % x for x in r["rounds"]["secmq"])))
        return
    print("%-5s %-6s %12s %12s %7s" % ("qos", "bytes", "paho msg/s",
                                       "secmq msg/s", "ratio"))
    for r in rows:
        print("%-5d %-6d %12.0f %12.0f %6.2fx" % (r["qos"], r["size"],
                                                 r["paho"], r["secmq"],
                                                 r["ratio"]))


if __name__ == "__main__":
    main()
