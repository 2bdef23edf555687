#!/usr/bin/python3
"""paho_vs_secmq.py -- messages/s of secmq.Client against paho-mqtt, both
over TLS through the same broker in the same run (not a timed test).

For each client kind and QoS: a subscriber and a publisher of that kind
(their own connections) on one topic; the publisher sends N payloads of
SIZE bytes as fast as its publish() returns, and the rate is N over the
time from the first publish to the last on_message in Python. The broker
is tests/harness/broker.py's (TLS, password file, no message limit).

    PYTHONPATH=python SECMQ_LIBRARY=build/lib/libsecmq.so.0 \\
    SECMQ_BIN_DIR=build/bin /usr/bin/python3 python/bench/paho_vs_secmq.py
"""

import argparse
import json
import os
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "harness"))

import broker as brokermod  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402
import secmq  # noqa: E402

TIMEOUT_S = 120.0


def make(kind, b, user):
    if kind == "paho":
        c = paho.Client(protocol=paho.MQTTv311)
        c.tls_set(ca_certs=b.cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    else:
        c = secmq.Client()
        c.tls_set(ca_certs=b.cafile)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    with brokermod.Broker(name="pybench") as b:
        os.environ["XDG_RUNTIME_DIR"] = b.run_dir
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
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    print("%-5s %-6s %12s %12s %7s" % ("qos", "bytes", "paho msg/s",
                                       "secmq msg/s", "ratio"))
    for r in rows:
        print("%-5d %-6d %12.0f %12.0f %6.2fx" % (r["qos"], r["size"],
                                                 r["paho"], r["secmq"],
                                                 r["ratio"]))


if __name__ == "__main__":
    main()
