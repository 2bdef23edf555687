#!/usr/bin/python3
"""test_bench_smoke.py -- secmq-bench still runs and measures what it claims.

Runs `secmq-bench --quick --json` (it starts its own broker on loopback) and
checks the shape of the result: every transport x payload x QoS row is
there, every message that was sent arrived, both TLS sides name a version
and a suite, latency samples were taken with none lost, and every target
row carries a value. Then the same for `--suite broker` (two brokers: the
secmq_auth.so plugin and mosquitto's password_file + acl_file): every
broker x transport x QoS row, arrived == sent, a publish no rule allows did
not arrive, good logins accepted and wrong ones refused, a short login
flood (8 threads, 1 s) against each broker with every wrong login refused,
every genuine one accepted and the subscriber's messages all arrived, ACL
costs and plugin/acl-file ratios are numbers; every throughput row carries the CPU
time per message, and the rows their CPU per message by thread: the
library's named threads (secmq-tunnel, secmq-deliver, secmq-verify) where
the transport runs them, libmosquitto's for the mosq-* rows, together no
more than the process. And `--suite file --quick`: files arrive, and each size
reports both ends' peak RSS and CPU time (also per chunk). And `--suite
python --quick`: the Python package against paho-mqtt, both QoS rows with
positive rates and their ratio, run with the build's library; a missing
Python or package fails with the reason. And `--suite authd --quick`: a
real secmq-authd answered every question from 1 and 2 kept-alive
connections, each answer as the policy says (the bench checks each), with
counts, rates and percentiles that agree with each other, and a login
without the cache slower than one from it (an argon2id check against none).
And `--suite receipts --count 200`: the rows without receipts, with
receipts batched by 1, 16, 32 and 64, and 64 without the sender's window
all finished (every message arrived, every row of the channel with
receipts left the outbox receipted), with receipts opened only on that
channel, at most a window of rows held, and sampled outbox rows.
And `--suite epochs --quick`: the static row and the rows with epochs of
1 s and 1 h all finished (every message arrived and opened), the 1 s row
spanning at least two epochs, and positive costs of a ratchet step and of
a day's catch-up.
And `--suite cli --count 2000 --repeat 2`: mosquitto_sub/pub, secmq-sub/pub
over TLS and with a keyring each delivered every line (exit 0), with
positive rates and ratios to mosquitto's tools.
`--suite rabbitmq` without rabbitmq-server fails naming the package (its
measuring run is test_bench_rabbitmq, label cluster). Speed itself is
never asserted here:
performance lives in docs/PERFORMANCE.md, measured by the bench, not in a
timed test.
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
from broker import (plugin_mosquitto, pw_cost_args,  # noqa: E402
                    sanitizer_preload)
from testcase import TIMEOUT_SCALE, emulated  # noqa: E402

BIN_DIR = os.environ.get("SECMQ_BIN_DIR", "")
TRANSPORTS = {"mosq-tcp", "mosq-tls", "secmq-tls"}
PAYLOADS = {64, 1024, 65536}
BROKERS = ("acl-file", "plugin")
BROKER_TRANSPORTS = ("mosq-tcp", "mosq-tls")
BROKER_SUITE_TIMEOUT_S = 60 * TIMEOUT_SCALE
FILE_SUITE_TIMEOUT_S = 120 * TIMEOUT_SCALE
PYTHON_SUITE_TIMEOUT_S = 120 * TIMEOUT_SCALE
AUTHD_SUITE_TIMEOUT_S = 120 * TIMEOUT_SCALE
RECEIPTS_SUITE_TIMEOUT_S = 120 * TIMEOUT_SCALE
EPOCHS_SUITE_TIMEOUT_S = 90 * TIMEOUT_SCALE
CLI_SUITE_TIMEOUT_S = 120 * TIMEOUT_SCALE
# The questions of --suite authd and the answer each must get.
AUTHD_QUESTIONS = {
    "user-uncached": ("/auth/user", "nocache", "allow"),
    "user-wrong": ("/auth/user", "nocache", "deny"),
    "user-cached": ("/auth/user", "default", "allow"),
    "vhost": ("/auth/vhost", "default", "allow"),
    "resource": ("/auth/resource", "default", "allow"),
    "topic-allow": ("/auth/topic", "default", "allow"),
    "topic-deny": ("/auth/topic", "default", "deny"),
    "user-wrong-guarded": ("/auth/user", "default", "deny"),
}


def bench_suite(name, *args, timeout=30):
    """secmq-bench --suite NAME ARGS, its output as text."""
    return subprocess.run([os.path.join(BIN_DIR, "secmq-bench"), "--suite",
                           name] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


class BenchSmoke(unittest.TestCase):

    def test_quick_json(self):
        bench = os.path.join(BIN_DIR, "secmq-bench")
        self.assertTrue(os.access(bench, os.X_OK), bench + " not built")
        # Generous --stall/--drain-max: "arrived == sent" must fail only for
        # a lost message, not for a slow machine (sanitizer builds, load).
        # Rows capped at 0.2 s of sending: the shape is checked, not speed.
        run = subprocess.run([bench, "--quick", "--json", "--stall", "10",
                              "--drain-max", "60", "--duration", "0.2"],
                             stdin=subprocess.DEVNULL,
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
            # CPU time per message: this process's getrusage over the row,
            # divided by what arrived (never 0: both clients did work).
            self.assertGreater(r["cpu_self_us_per_msg"], 0, key)
            self.assertAlmostEqual(
                r["cpu_self_us_per_msg"],
                r["cpu_self"] * r["seconds"] / r["arrived"] * 1e6,
                delta=r["cpu_self_us_per_msg"] * 0.5 + 1, msg=key)
            self.check_threads(key, r, doc["machine"]["cores"])

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

    def check_threads(self, key, r, cores):
        """A row's CPU by thread name: the client threads that did the
        row's work are there, by the names the library gives them, and
        the threads together used no more than the whole process."""
        th = r["cpu_threads_us_per_msg"]
        t = key[0]
        want = {"mosquitto loop"} if t.startswith("mosq-") else {
            "secmq-tunnel"}
        if t in ("secmq-signed", "secmq-mac"):
            want.add("secmq-deliver")
        if t == "secmq-signed" and cores > 1:
            want.add("secmq-verify")
        for name in want:
            self.assertGreater(th.get(name, 0), 0, (key, name, th))
        # schedstat (threads) and getrusage (process) count the same time.
        self.assertLessEqual(sum(th.values()),
                             r["cpu_self_us_per_msg"] * 1.1 + 2, (key, th))

    def test_broker_suite_quick_json(self):
        bench = os.path.join(BIN_DIR, "secmq-bench")
        self.assertTrue(os.access(bench, os.X_OK), bench + " not built")
        plugin = os.path.join(BIN_DIR, os.pardir, "lib", "secmq_auth.so")
        admin = os.path.join(BIN_DIR, "secmq-admin")
        if not (os.path.exists(plugin) and os.access(admin, os.X_OK)):
            self.skipTest("secmq_auth.so or secmq-admin not built")
        # Small counts: the plugin's logins cost an argon2id check each.
        # An ASan build of the plugin needs the sanitizer runtimes preloaded
        # into the broker the bench starts (it inherits the environment).
        env = dict(os.environ)
        env.update(sanitizer_preload(plugin))
        # Both brokers are the one that can load this build's plugin (a
        # cross build's runs through qemu-user; harness/broker.py).
        run = subprocess.run([bench, "--suite", "broker", "--quick", "--json",
                              "--connects", "10", "--connect-threads", "2",
                              "--acl-iterations", "2000",
                              "--flood-threads", "8", "--flood-seconds", "1",
                              "--mosquitto", plugin_mosquitto()] +
                             # The harness's argon2id cost (the arm64 pass
                             # lowers it: ~250 ms of emulated CPU a login).
                             pw_cost_args(),
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=BROKER_SUITE_TIMEOUT_S,
                             env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        self.assertEqual(doc["suite"], "broker")
        self.assertEqual(doc["policy"]["rules"], 1000)

        # The ACL is in force in both brokers: a denied publish was
        # answered (the client stayed connected) and never delivered.
        brokers = {b["broker"]: b for b in doc["brokers"]}
        self.assertEqual(set(brokers), set(BROKERS))
        for b in brokers.values():
            self.assertGreater(b["control_sent"], 0, b)
            self.assertEqual(b["control_arrived"], 0, b)

        rows = {(r["broker"], r["transport"], r["qos"]): r
                for r in doc["throughput"]}
        for b in BROKERS:
            for t in BROKER_TRANSPORTS:
                for q in (0, 1):
                    self.assertIn((b, t, q), rows, "missing row")
        for key, r in rows.items():
            self.assertEqual(r["payload"], 64, key)
            self.assertGreater(r["sent"], 0, key)
            self.assertEqual(r["arrived"], r["sent"], key)
            self.assertGreater(r["msgs_per_s"], 0, key)
            if key[0] == "plugin":
                self.assertIsInstance(r["ratio_vs_acl_file"], (int, float),
                                      key)
                self.assertGreater(r["ratio_vs_acl_file"], 0, key)
            else:
                self.assertIsNone(r["ratio_vs_acl_file"], key)

        conns = {(c["broker"], c["login"], c["threads"]): c
                 for c in doc["connects"]}
        for b in BROKERS:
            for login, threads in (("good", 1), ("good", 2),
                                   ("wrong-password", 1),
                                   ("unknown-user", 1)):
                c = conns.get((b, login, threads))
                self.assertIsNotNone(c, (b, login, threads))
                self.assertGreater(c["attempts"], 0, c)
                self.assertEqual(c["failed"], 0, c)
                self.assertGreater(c["per_s"], 0, c)
                if login == "good":
                    self.assertEqual(c["accepted"], c["attempts"], c)
                else:
                    self.assertEqual(c["refused"], c["attempts"], c)

        # The login flood (8 threads, 1 s): every wrong login refused,
        # every genuine one accepted, the subscriber's messages all there
        # (its latency is the bench's figure, not asserted).
        floods = {f["broker"]: f for f in doc["login_flood"]}
        self.assertEqual(set(floods), set(BROKERS))
        for f in floods.values():
            self.assertEqual(f["threads"], 8, f)
            self.assertGreater(f["flood"]["attempts"], 0, f)
            self.assertEqual(f["flood"]["refused"], f["flood"]["attempts"], f)
            self.assertEqual(f["flood"]["accepted"], 0, f)
            self.assertGreater(f["genuine"]["attempts"], 0, f)
            self.assertEqual(f["genuine"]["accepted"],
                             f["genuine"]["attempts"], f)
            self.assertGreater(f["subscriber"]["sent"], 0, f)
            self.assertEqual(f["subscriber"]["arrived"],
                             f["subscriber"]["sent"], f)

        acl = doc["acl_cost"]
        self.assertIsNotNone(acl, "built without secmq_authcore")
        self.assertEqual(acl["policy_rules"], 1000)
        self.assertTrue(acl["checks"])
        for c in acl["checks"]:
            self.assertGreater(c["ns"], 0, c)
        self.assertGreater(acl["argon2id_ms"], 0)

        self.assertEqual(len(doc["targets"]), 4)
        for t in doc["targets"]:
            self.assertIsInstance(t["value"], (int, float), t)
            self.assertIsInstance(t["met"], bool, t)

    def test_file_suite_quick_json(self):
        """--suite file --quick: every file arrived (exit 0), and each size
        reports peak RSS and CPU time of both ends, per chunk too."""
        bench = os.path.join(BIN_DIR, "secmq-bench")
        run = subprocess.run([bench, "--suite", "file", "--help"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("CPU", run.stdout)
        run = subprocess.run([bench, "--suite", "file", "--quick", "--json"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=FILE_SUITE_TIMEOUT_S)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        # --quick: 2 MB with protocol 2 and 1, a 1 MB camera image with
        # both, the 8 MB file beside mosquitto_pub -f, 1 and 4 MB.
        self.assertEqual([(r["file_mb"], r["protocol"]) for r in doc["runs"]],
                         [(2, 2), (2, 1), (1, 2), (1, 1), (8, 2), (1, 2),
                          (4, 2)])
        for key in ("tls_qos1_mb_s", "file_mb_s", "file_v1_mb_s",
                    "mosquitto_pub_8mb_mb_s", "file_8mb_mb_s"):
            self.assertGreater(doc[key], 0, key)
        self.assertAlmostEqual(doc["ratio"],
                               doc["file_mb_s"] / doc["tls_qos1_mb_s"],
                               delta=0.01)
        for key, us in doc["codec_us_per_chunk"].items():
            self.assertGreater(us, 0, key)
        for r in doc["runs"]:
            self.assertGreater(r["mb_s"], 0, r)
            self.assertEqual(r["chunks"], -(-int(r["file_mb"] * 1e6) // 65536))
            for side in ("recv", "send"):
                self.assertGreater(r[side + "_kb"], 0, r)
                self.assertGreater(r[side + "_cpu_s"], 0, r)
                self.assertAlmostEqual(
                    r[side + "_cpu_us_per_chunk"],
                    r[side + "_cpu_s"] / r["chunks"] * 1e6, delta=0.5, msg=r)

    def test_authd_suite_quick_json(self):
        """--suite authd: every question x {1, 2} connections, answered as
        the policy says, by a secmq-authd the bench started."""
        bench = os.path.join(BIN_DIR, "secmq-bench")
        if not os.access(os.path.join(BIN_DIR, "secmq-authd"), os.X_OK):
            self.skipTest("secmq-authd not built (libmicrohttpd-dev)")
        run = subprocess.run([bench, "--suite", "authd", "--help"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 0, run.stderr)
        for q in AUTHD_QUESTIONS:
            self.assertIn(q, run.stdout)
        # The database's default argon2id cost: the uncached rows must
        # differ from the cached ones by a hash, also under qemu.
        run = subprocess.run([bench, "--suite", "authd", "--quick", "--json",
                              "--seconds", "0.2", "--conns", "2"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=AUTHD_SUITE_TIMEOUT_S)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        self.assertEqual(doc["suite"], "authd")
        self.assertEqual(doc["policy"]["rules"], 1000)
        self.assertGreater(doc["first_login_ms"], 0)
        rows = {(r["question"], r["conns"]): r for r in doc["rows"]}
        self.assertEqual(set(rows), {(q, c) for q in AUTHD_QUESTIONS
                                     for c in (1, 2)})
        for key, r in rows.items():
            self.assertEqual((r["path"], r["instance"], r["expect"]),
                             AUTHD_QUESTIONS[key[0]], key)
            self.assertGreater(r["requests"], 0, key)
            # Kept alive: no connection was closed and reopened.
            self.assertEqual(r["reconnects"], 0, key)
            self.assertAlmostEqual(r["per_s"], r["requests"] / r["seconds"],
                                   delta=r["per_s"] * 0.01 + 0.1, msg=key)
            self.assertGreater(r["p50_us"], 0, key)
            self.assertLessEqual(r["p50_us"], r["p99_us"], key)
            self.assertLessEqual(r["p99_us"], r["max_us"], key)
            self.assertEqual(r["runs"], 1, key)
        for c in (1, 2):
            self.assertGreater(rows[("user-uncached", c)]["p50_us"],
                               rows[("user-cached", c)]["p50_us"], c)
        # A missing secmq-authd fails with what to do.
        run = subprocess.run([bench, "--suite", "authd", "--quick",
                              "--authd", "/nonexistent/secmq-authd"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 1)
        self.assertIn("no secmq-authd at /nonexistent/secmq-authd",
                      run.stderr)

    def test_receipts_suite_json(self):
        """--suite receipts: six rows (no receipts; receipts with alice
        batching 1, 16, 32, 64 messages; 64 with sam's window off), every
        one finished (exit 0: the bench checks that every message arrived
        and every row was receipted), receipts opened only where the
        channel has them."""
        run = bench_suite("receipts", "--help")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("receipts", run.stdout)
        run = bench_suite("receipts", "--count", "200", "--json",
                          timeout=RECEIPTS_SUITE_TIMEOUT_S)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        self.assertEqual((doc["suite"], doc["size"], doc["qos"],
                          doc["count"]), ("receipts", 64, 1, 200))
        self.assertEqual([(r["receipts"], r["batch"], r["window"])
                          for r in doc["rows"]],
                         [(False, 0, 64), (True, 1, 64), (True, 16, 64),
                          (True, 32, 64), (True, 64, 64), (True, 64, 0)])
        for r in doc["rows"]:
            self.assertGreater(r["msgs_per_s"], 0, r)
            self.assertGreater(r["whole_msgs_per_s"], 0, r)
            self.assertGreater(r["cpu_us_per_msg"], 0, r)
            self.assertLessEqual(r["min"], r["msgs_per_s"], r)
            self.assertLessEqual(r["msgs_per_s"], r["max"], r)
            self.assertLessEqual(r["held_mean"], r["held_max"], r)
            self.assertLessEqual(r["rows_mean"], r["rows_max"], r)
            if r["receipts"]:
                self.assertGreater(r["receipts_per_s"], 0, r)
                # At most batch messages per receipt.
                self.assertGreaterEqual(r["receipts_sent"] * r["batch"],
                                        200, r)
                if r["window"]:
                    self.assertLessEqual(r["held_max"], r["window"], r)
            else:
                self.assertEqual((r["receipts_per_s"], r["receipts_sent"],
                                  r["held_max"]), (0, 0, 0), r)
        self.assertAlmostEqual(doc["ratio"], doc["rows"][4]["msgs_per_s"] /
                               doc["rows"][0]["msgs_per_s"], delta=0.01)
        run = bench_suite("receipts", "--repeat", "0")
        self.assertEqual(run.returncode, 2)
        self.assertIn("--repeat", run.stderr)

    def test_epochs_suite_json(self):
        """--suite epochs --quick: the static row and the rows with epochs
        of 1 s and 1 h, each finished (exit 0: the bench fails a row unless
        every message arrived and opened, none refused), the 1 s row
        spanning at least two epochs by the sender's keyring (1.2 s of
        sending crosses a boundary), the others one (the 1 h channel was made seconds before); ratios consistent;
        a ratchet step and a day's catch-up of 1 s epochs cost something,
        the catch-up at least 86400 next-key derivations' worth."""
        run = bench_suite("epochs", "--help")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("--duration", run.stdout)
        run = bench_suite("epochs", "--quick", "--json",
                          timeout=EPOCHS_SUITE_TIMEOUT_S)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        self.assertEqual((doc["suite"], doc["size"], doc["qos"],
                          doc["repeat"], doc["duration_s"]),
                         ("epochs", 64, 1, 1, 1.2))
        self.assertEqual([(r["row"], r["period_ms"]) for r in doc["rows"]],
                         [("static", 0), ("epoch 1s", 1000),
                          ("epoch 1h", 3600000)])
        # --quick: the 1 s row's grace is 5 s (a slow subscriber on a busy
        # machine must not find its keys erased); the 1 h row's default.
        self.assertEqual(doc["rows"][1]["grace_ms"], 5000)
        base = doc["rows"][0]["msgs_per_s"]
        for r in doc["rows"]:
            self.assertGreater(r["messages"], 0, r)
            self.assertEqual((r["arrived"], r["refused"]),
                             (r["messages"], 0), r)
            self.assertGreater(r["msgs_per_s"], 0, r)
            self.assertGreater(r["cpu_us_per_msg"], 0, r)
            # Sent for 1.2 s, drained after: the row lasted that long.
            self.assertGreaterEqual(r["seconds"], 1.2, r)
            self.assertAlmostEqual(r["ratio"], r["msgs_per_s"] / base,
                                   delta=0.01)
        self.assertEqual(doc["rows"][0]["epochs"], 1)
        self.assertGreaterEqual(doc["rows"][1]["epochs"], 2)
        self.assertEqual(doc["rows"][2]["epochs"], 1)
        self.assertAlmostEqual(doc["ratio"], doc["rows"][1]["ratio"],
                               delta=0.01)
        self.assertEqual(doc["met"], doc["ratio"] >= 0.95)
        self.assertGreater(doc["step_ns"], 0)
        self.assertEqual(doc["catchup_steps"], 86400)
        # 86400 derivations cannot take less than 86400 ns.
        self.assertGreater(doc["catchup_ms"], 0.0864)
        run = bench_suite("epochs", "--count", "10", "--duration", "1")
        self.assertEqual(run.returncode, 2)
        self.assertIn("cannot be combined", run.stderr)

    def test_cli_suite_json(self):
        """--suite cli: mosquitto's tools, secmq-sub/pub over TLS and
        with a keyring, each subscriber got every line (exit 0: the bench
        checks the subscriber's exit status and its line count), positive
        rates in order with their range, ratios to mosquitto's row, the
        subscriber's and the publisher's CPU time per message."""
        run = bench_suite("cli", "--help")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("mosquitto_sub", run.stdout)
        run = bench_suite("cli", "--count", "2000", "--repeat", "2",
                          "--json", timeout=CLI_SUITE_TIMEOUT_S)
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        self.assertEqual((doc["suite"], doc["count"], doc["size"],
                          doc["qos"], doc["repeat"]), ("cli", 2000, 64, 1, 2))
        self.assertEqual([r["row"] for r in doc["rows"]],
                         ["mosquitto", "secmq-tls", "secmq-sealed"])
        base = doc["rows"][0]["msgs_per_s"]
        for r in doc["rows"]:
            self.assertGreater(r["msgs_per_s"], 0, r)
            self.assertLessEqual(r["min"], r["msgs_per_s"], r)
            self.assertLessEqual(r["msgs_per_s"], r["max"], r)
            self.assertAlmostEqual(r["ratio"], r["msgs_per_s"] / base,
                                   delta=0.01)
            # Each tool's CPU time per message (wait4's rusage): both did
            # work, and it is per message (a whole run's time is >= 0.1 s).
            for k in ("sub_cpu_us", "pub_cpu_us"):
                self.assertGreater(r[k], 0, r)
                self.assertLess(r[k], 5000, r)
            # Context switches per message: each tool waited for the
            # network at least once (so > 0), and a count per message is
            # far below the count of the whole run (2,000 messages).
            for k in ("sub_csw", "pub_csw"):
                self.assertGreater(r[k], 0, r)
                self.assertLess(r[k], 100, r)
        run = bench_suite("cli", "--count", "0")
        self.assertEqual(run.returncode, 2)
        self.assertIn("--count", run.stderr)

    def test_rabbitmq_suite_without_server(self):
        """--suite rabbitmq names what to install when RabbitMQ is not
        there (its measuring run is test_bench_rabbitmq, label cluster:
        starting the nodes is not quick)."""
        bench = os.path.join(BIN_DIR, "secmq-bench")
        run = subprocess.run([bench, "--suite", "rabbitmq", "--help"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("rabbitmq-cluster", run.stdout)
        run = subprocess.run([bench, "--suite", "rabbitmq", "--quick",
                              "--rabbitmq-server", "/nonexistent/rmq"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 1)
        self.assertIn("apt-get install rabbitmq-server", run.stderr)
        self.assertEqual(run.stdout, "")

    def python_suite(self, *args, env=None):
        """secmq-bench --suite python ARGS. A sanitizer build's library
        is loaded into python3 only with its runtimes preloaded
        (harness/broker.py sanitizer_preload); Python's own leaks at exit
        are not this test's business (python_asan judges them), so leak
        detection is off for this run."""
        bench = os.path.join(BIN_DIR, "secmq-bench")
        full = dict(os.environ)
        lib = os.path.join(BIN_DIR, "..", "lib", "libsecmq.so.0")
        pre = sanitizer_preload(lib)
        if pre:
            full["LD_PRELOAD"] = pre["LD_PRELOAD"]
            full["ASAN_OPTIONS"] = (full.get("ASAN_OPTIONS", "") +
                                    ":detect_leaks=0").lstrip(":")
        full.update(env or {})
        return subprocess.run([bench, "--suite", "python"] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=PYTHON_SUITE_TIMEOUT_S,
                              env=full)

    def test_python_suite_quick_json(self):
        """--suite python: both QoS rows with rates and their ratio, from
        the build's library and the source tree's package; clear failures
        without Python or the package."""
        lib = os.path.join(BIN_DIR, "..", "lib", "libsecmq.so.0")
        if emulated(os.path.realpath(lib)):
            # A cross build: this machine's python3 cannot load the
            # library (no python3 of the target architecture is here).
            self.skipTest("libsecmq is of another architecture than "
                          "python3; --suite python runs on the target")
        run = self.python_suite("--help")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("paho-mqtt", run.stdout)
        run = self.python_suite("--quick", "--count", "300", "--json")
        self.assertEqual(run.returncode, 0, run.stderr)
        doc = json.loads(run.stdout)
        self.assertEqual(doc["suite"], "python")
        self.assertEqual(os.path.dirname(os.path.realpath(doc["library"])),
                         os.path.realpath(os.path.join(BIN_DIR, "..",
                                                       "lib")))
        self.assertTrue(doc["paho"].startswith("1."), doc["paho"])
        self.assertEqual([r["qos"] for r in doc["rows"]], [0, 1])
        for r in doc["rows"]:
            self.assertEqual((r["payload"], r["count"]), (64, 300), r)
            self.assertEqual(len(r["paho_rounds"]), 1, r)
            self.assertEqual(len(r["secmq_rounds"]), 1, r)
            for kind in ("paho", "secmq"):
                rate = r[kind + "_msgs_per_s"]
                # 300 messages cannot take under 1 us nor over 2 min.
                self.assertTrue(300 / 120 < rate < 300 / 1e-6, r)
                self.assertAlmostEqual(rate, max(r[kind + "_rounds"]),
                                       delta=0.1)
            self.assertAlmostEqual(r["ratio"], r["secmq_msgs_per_s"] /
                                   r["paho_msgs_per_s"], delta=0.001)
        # The text report: the same two rows and the ratio.
        run = self.python_suite("--quick", "--count", "200")
        self.assertEqual(run.returncode, 0, run.stderr)
        rows = [ln.split() for ln in run.stdout.splitlines()
                if ln[:2] in ("0 ", "1 ")]
        self.assertEqual([(r[0], r[1], r[3]) for r in rows],
                         [("0", "64", "200"), ("1", "64", "200")], rows)
        for r in rows:
            self.assertAlmostEqual(float(r[6].rstrip("x")),
                                   float(r[5]) / float(r[4]), delta=0.01)
        # Failures: no such Python; a package that cannot load its library.
        run = self.python_suite("--quick", "--python", "/nonexistent/py3")
        self.assertEqual(run.returncode, 1)
        self.assertIn("no Python at /nonexistent/py3", run.stderr)
        run = self.python_suite("--quick", env={
            "SECMQ_LIBRARY": "/nonexistent/libsecmq.so.0"})
        self.assertEqual(run.returncode, 1)
        self.assertIn("secmq package cannot be imported", run.stderr)
        self.assertEqual(run.stdout, "")


if __name__ == "__main__":
    unittest.main()
