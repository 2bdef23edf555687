"""test_process.py -- secmq in a process of its own: Ctrl-C (SIGINT) ends
loop_forever() with a clean DISCONNECT, the interpreter exits with a
running network thread, and a missing library is an ImportError that
says what was tried and how to fix it."""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest  # noqa: F401

from pyclient import SOURCE_DIR, ClientMixin, secmq
from testcase import BrokerTestCase  # noqa: E402
import broker as brokermod  # noqa: E402

CHILD = textwrap.dedent("""\
    import os, sys, secmq
    c = secmq.Client(client_id=sys.argv[3])
    c.tls_set(ca_certs=sys.argv[1])
    c.username_pw_set("alice", os.environ["PY_PASSWORD"])
    c.on_connect = lambda cl, u, f, rc: cl.subscribe("py/sig", 1)
    c.on_subscribe = lambda cl, u, mid, g: print("ready", flush=True)
    c.on_message = lambda cl, u, m: print("got", m.payload.decode(),
                                          flush=True)
    c.connect("127.0.0.1", int(sys.argv[2]))
    if os.environ.get("PY_MODE") == "exit":
        c.loop_start()
        import time; time.sleep(0.5)
        print("leaving", flush=True)
        sys.exit(0)
    rc = c.loop_forever()
    print("returned", rc, flush=True)
""")


class Process(ClientMixin, BrokerTestCase):

    def start_child(self, client_id, mode="forever"):
        path = os.path.join(self.broker.dir, "child.py")
        with open(path, "w") as fh:
            fh.write(CHILD)
        env = self.child_env({"PY_PASSWORD": self.broker.users["alice"],
                              "PY_MODE": mode})
        p = subprocess.Popen([sys.executable, path, self.broker.cafile,
                              str(self.broker.port), client_id],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, text=True,
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        return p

    def test_sigint_returns_from_loop_forever(self):
        since = self.broker.log_size()
        p = self.start_child("py-sigint")
        self.assertEqual(p.stdout.readline(), "ready\n", p.stderr.read()
                         if p.poll() is not None else "")
        c, rec = self.client(user="sam")
        c.publish("py/sig", "one", qos=1).wait_for_publish(5)
        self.assertEqual(p.stdout.readline(), "got one\n")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "returned 0\n")
        self.assertNotIn("Traceback", err)
        # A clean DISCONNECT, not a dropped socket.
        self.assertTrue(self.broker.wait_for_log(
            r"Client py-sigint disconnected\.$", since=since), err)

    def test_exit_with_running_loop(self):
        """A script that ends without disconnect(): the atexit hook stops
        the network thread and frees the client; the process exits 0."""
        since = self.broker.log_size()
        p = self.start_child("py-exit", mode="exit")
        out, err = p.communicate(timeout=15)
        self.assertEqual((p.returncode, out), (0, "ready\nleaving\n"), err)
        self.assertTrue(self.broker.wait_for_log(
            r"Client py-exit disconnected\.$", since=since), err)


class Loading(BrokerTestCase.__base__):
    """No broker: how the package finds libsecmq."""

    def run_import(self, env_extra, drop=("SECMQ_LIBRARY",)):
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.pop("LD_LIBRARY_PATH", None)
        env.update(env_extra)
        env["PYTHONPATH"] = os.path.join(SOURCE_DIR, "python")
        return subprocess.run([sys.executable, "-c",
                               "import secmq; print(secmq.library_path, "
                               "secmq.library_version)"],
                              capture_output=True, text=True, timeout=60,
                              env=env, cwd=tempfile.gettempdir())

    def test_secmq_library_variable(self):
        lib = os.environ["SECMQ_LIBRARY"]
        r = self.run_import({"SECMQ_LIBRARY": lib})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "%s %s\n" % (lib, secmq.library_version))

    def test_missing_library_says_what_and_how(self):
        r = self.run_import({"SECMQ_LIBRARY": "/nonexistent/libsecmq.so.0"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError: secmq: cannot load libsecmq from "
                      "SECMQ_LIBRARY=/nonexistent/libsecmq.so.0", r.stderr)
        if os.path.exists("/usr/local/lib/x86_64-linux-gnu/libsecmq.so.0") \
                or os.path.exists("/usr/lib/x86_64-linux-gnu/libsecmq.so.0"):
            self.skipTest("a libsecmq is installed on this machine")
        r = self.run_import({})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("libsecmq not found; tried:", r.stderr)
        self.assertIn("SECMQ_LIBRARY=/path/to/libsecmq.so.0", r.stderr)
        self.assertIn("cmake --install", r.stderr)

    def test_abi_checked(self):
        """The package's struct secmq_config is the library's: size and
        the defaults secmq_config_init() writes, read back by ctypes."""
        cfg = secmq._lib.Config()
        secmq._lib.lib.secmq_config_init(secmq._lib.ctypes.byref(cfg))
        self.assertEqual(cfg.size, secmq._lib.ctypes.sizeof(cfg))
        self.assertEqual(secmq._lib.text(cfg.host), "localhost")
        for name, (restype, argtypes) in secmq._lib.PROTOTYPES.items():
            fn = getattr(secmq._lib.lib, name)
            self.assertEqual((fn.restype, fn.argtypes), (restype, argtypes))
