"""keystool.py -- a TestCase base for tests that run secmq-keys as a
process on keyrings in a temp dir of their own (no broker):
test_keys_cli.py and test_keys_erase.py."""

import os
import shutil
import subprocess
import tempfile
import unittest

BIN_DIR = os.environ.get("SECMQ_BIN_DIR", "")
KEYS = os.path.join(BIN_DIR, "secmq-keys")
TIMEOUT_S = 20


class KeysToolCase(unittest.TestCase):
    """self.dir: a fresh temp dir per test (kept with SECMQ_TEST_KEEP)."""

    TMP_PREFIX = "secmq-keys-"

    def setUp(self):
        self.assertTrue(os.access(KEYS, os.X_OK), KEYS + " not built")
        self.dir = tempfile.mkdtemp(prefix=self.TMP_PREFIX)
        if os.environ.get("SECMQ_TEST_KEEP"):
            print("keeping", self.dir)
        else:
            self.addCleanup(shutil.rmtree, self.dir, True)

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def run_keys(self, *args, code=0):
        """secmq-keys ARGS; its exit status must be code."""
        run = subprocess.run([KEYS] + [str(a) for a in args],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=TIMEOUT_S)
        self.assertEqual(run.returncode, code,
                         "secmq-keys %s\nstdout: %s\nstderr: %s"
                         % (" ".join(map(str, args)), run.stdout, run.stderr))
        return run
