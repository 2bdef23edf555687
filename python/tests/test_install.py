"""test_install.py -- the package as users get it: `cmake --install` puts
it in SECMQ_PYTHON_INSTALL_DIR and `import secmq` then finds the installed
libsecmq with no setting (also from a moved prefix); `pip install` of
python/ works offline (--no-build-isolation --no-index) into a venv."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import pytest  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
STEP_S = 180
IMPORT = ("import secmq, os; print(os.path.dirname(secmq.__file__)); "
          "print(secmq.library_path); print(secmq.library_version)")


def run(cmd, env=None, cwd=None):
    return subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=cwd or tempfile.gettempdir(), timeout=STEP_S,
                          stdin=subprocess.DEVNULL)


def clean_env(**extra):
    """No hint where libsecmq is: the package must know."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECMQ_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env.update(extra)
    return env


class Install(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="secmq-pyinstall-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_cmake_install_finds_library(self):
        build = os.environ["SECMQ_BUILD_DIR"]
        pydir = os.environ["SECMQ_PYTHON_INSTALL_DIR"]
        libdir = os.environ["SECMQ_INSTALL_LIBDIR"]
        prefix = os.path.join(self.tmp, "prefix")
        r = run(["cmake", "--install", build, "--prefix", prefix])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for where in (prefix, os.path.join(self.tmp, "moved")):
            if where != prefix:
                shutil.move(prefix, where)
            with self.subTest(prefix=where):
                r = run([sys.executable, "-c", IMPORT],
                        env=clean_env(PYTHONPATH=os.path.join(where, pydir)))
                self.assertEqual(r.returncode, 0, r.stderr)
                pkg, lib, version = r.stdout.split("\n")[:3]
                self.assertEqual(pkg, os.path.join(where, pydir, "secmq"))
                self.assertEqual(lib, os.path.join(where, libdir,
                                                   "libsecmq.so.0"))
                self.assertTrue(os.path.exists(lib))
                self.assertRegex(version, r"^\d+\.\d+\.\d+$")

    def test_pip_install_offline(self):
        src = os.path.join(self.tmp, "src")
        # A copy: pip builds in the tree it is given.
        shutil.copytree(os.path.join(SOURCE_DIR, "python"), src,
                        ignore=shutil.ignore_patterns("tests",
                                                      "__pycache__"))
        venv = os.path.join(self.tmp, "venv")
        r = run([sys.executable, "-m", "venv", "--system-site-packages",
                 venv])
        self.assertEqual(r.returncode, 0, r.stderr)
        py = os.path.join(venv, "bin", "python")
        r = run([py, "-m", "pip", "install", "--no-build-isolation",
                 "--no-index", "--no-deps", src], env=clean_env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lib = os.environ["SECMQ_LIBRARY"]
        r = run([py, "-c", IMPORT], env=clean_env(SECMQ_LIBRARY=lib))
        self.assertEqual(r.returncode, 0, r.stderr)
        pkg, got_lib = r.stdout.split("\n")[:2]
        self.assertTrue(pkg.startswith(venv), pkg)
        self.assertEqual(got_lib, lib)
        r = run([py, "-c", "import secmq; help(secmq.Client)"],
                env=clean_env(SECMQ_LIBRARY=lib, PAGER="cat"))
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in ("class Client", "tls_set(self, ca_certs",
                     "on_message(client, userdata, msg)",
                     "loop_forever(self"):
            self.assertIn(text, r.stdout)
