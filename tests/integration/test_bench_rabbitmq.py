#!/usr/bin/python3
"""test_bench_rabbitmq.py -- `secmq-bench --suite rabbitmq` (label
`cluster`) still runs and measures what it claims: it starts a 2-node
RabbitMQ cluster on loopback (Debian's rabbitmq-server) and its private
mosquitto, and sealed 64 B QoS 1 messages went from node A to a subscriber
on node B, through node A alone and through mosquitto: every message sent
arrived and opened, each path has a positive rate and its ratio to
mosquitto. Messages published on one node reach a subscriber on the other
only when the nodes formed a cluster, so the cluster row proves the
cluster. Afterwards no process of its nodes is left. Speed is never
asserted (docs/PERFORMANCE.md holds the figures).

Not in test_bench_smoke: starting the nodes takes 15-60 s, and the label
keeps it out of the sanitizer and arm64 passes (scripts/test.sh), where
Erlang's boot would be most of the time and the bench's C paths are the
ones the other suites run. Without rabbitmq-server the test exits 77
(ctest: skipped) and says so. Run with /usr/bin/python3.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from testcase import TIMEOUT_SCALE  # noqa: E402

SKIP = 77
BIN_DIR = os.environ.get("SECMQ_BIN_DIR", "")
SUITE_TIMEOUT_S = 300 * TIMEOUT_SCALE
PATHS = ("mosquitto", "rabbitmq-node", "rabbitmq-cluster")
# What the bench runs by default (its --rabbitmq-server).
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def node_processes(tag):
    """Pids of processes whose environment names a node of tag."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if tag.encode() in env:
            found.append(int(pid))
    return found


class BenchRabbitmq(unittest.TestCase):

    def test_quick_json(self):
        bench = os.path.join(BIN_DIR, "secmq-bench")
        self.assertTrue(os.access(bench, os.X_OK), bench + " not built")
        proc = subprocess.Popen([bench, "--suite", "rabbitmq", "--quick",
                                 "--json", "--count", "500"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=SUITE_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["suite"], "rabbitmq")
        self.assertEqual(doc["nodes"], 2)
        self.assertTrue(doc["rabbitmq"].startswith("3."), doc["rabbitmq"])
        self.assertEqual(len(doc["node_start_s"]), 2)
        for s in doc["node_start_s"]:
            self.assertGreater(s, 0)
        self.assertEqual((doc["transport"], doc["payload"], doc["qos"]),
                         ("secmq-mac", 64, 1))
        rows = {r["path"]: r for r in doc["rows"]}
        self.assertEqual(set(rows), set(PATHS))
        mosq = rows["mosquitto"]["msgs_per_s"]
        for path, r in rows.items():
            self.assertEqual(r["sent"], 500, path)
            self.assertEqual(r["arrived"], r["sent"], path)
            self.assertEqual(r["open_failed"], 0, path)
            self.assertGreater(r["msgs_per_s"], 0, path)
            self.assertAlmostEqual(r["msgs_per_s"],
                                   r["arrived"] / r["seconds"],
                                   delta=r["msgs_per_s"] * 0.01, msg=path)
            self.assertAlmostEqual(r["ratio_vs_mosquitto"],
                                   r["msgs_per_s"] / mosq, delta=0.001,
                                   msg=path)
            self.assertGreater(r["cpu_broker"], 0, path)
        # Its nodes are gone (the suite stops them before it exits).
        deadline = time.monotonic() + 10 * TIMEOUT_SCALE
        tag = "secmqbench%d" % proc.pid
        while node_processes(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(node_processes(tag), [], tag)


if __name__ == "__main__":
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        sys.stderr.write("test_bench_rabbitmq: skipped: rabbitmq-server is "
                         "not installed (apt-get install rabbitmq-server)\n")
        sys.exit(SKIP)
    unittest.main()
