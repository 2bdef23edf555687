#!/usr/bin/python3
"""test_bench_smoke.py -- secmq-bench still runs and measures what it claims.

Runs `secmq-bench --quick --json` (it starts its own broker on loopback) and
checks the shape of the result: every transport x payload x QoS row is
there, every message that was sent arrived, both TLS sides name a version
and a suite, latency samples were taken with none lost, and every target
row carries a value. Speed itself is never asserted here: performance lives
in docs/PERFORMANCE.md, measured by the bench, not in a timed test.
"""

import json
import os
import subprocess
import unittest

BIN_DIR = os.environ.get("SECMQ_BIN_DIR", "")
TRANSPORTS = {"mosq-tcp", "mosq-tls", "secmq-tls"}
PAYLOADS = {64, 1024, 65536}


class BenchSmoke(unittest.TestCase):

    def test_quick_json(self):
        bench = os.path.join(BIN_DIR, "secmq-bench")
        self.assertTrue(os.access(bench, os.X_OK), bench + " not built")
        run = subprocess.run([bench, "--quick", "--json"], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=240)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)

        rows = {(r["transport"], r["payload"], r["qos"]): r
                for r in doc["throughput"]}
        for t in TRANSPORTS:
            for p in PAYLOADS:
                for q in (0, 1):
                    self.assertIn((t, p, q), rows, "missing row")
        for key, r in rows.items():
            self.assertGreater(r["sent"], 0, key)
            self.assertEqual(r["arrived"], r["sent"], key)
            self.assertGreater(r["msgs_per_s"], 0, key)

        tls = {e["transport"]: e for e in doc["tls"]}
        self.assertEqual(set(tls), {"mosq-tls", "secmq-tls"})
        for e in tls.values():
            self.assertRegex(e["version"], r"^TLSv1\.[23]$")
            self.assertTrue(e["cipher"], e)

        lat = {e["transport"]: e for e in doc["latency"]}
        self.assertEqual(set(lat), TRANSPORTS)
        for e in lat.values():
            self.assertGreater(e["samples"], 0, e)
            self.assertEqual(e["lost"], 0, e)
            self.assertLessEqual(e["p50_us"], e["p99_us"], e)

        self.assertTrue(doc["targets"])
        for t in doc["targets"]:
            self.assertIsInstance(t["value"], (int, float), t)
            self.assertIsInstance(t["met"], bool, t)


if __name__ == "__main__":
    unittest.main()
