#!/usr/bin/python3
"""test_install.py -- install a secmq build and build a program against it.

Runs `cmake --install BUILD --prefix TMP`, checks that the installed tree
holds the header, both libraries, secmq.pc, the CMake package and the tools;
runs every installed tool (--help) without LD_LIBRARY_PATH, from the prefix,
from a moved copy of it and from a DESTDIR staging tree, and checks with
readelf that their RUNPATH is $ORIGIN-relative and that no build- or
source-tree path is left in an installed file's dynamic strings; then builds tests/install/consumer/app.c two ways -- a CMake project with
find_package(secmq) + secmq::secmq (and secmq::secmq_static), and a plain
`cc app.c $(pkg-config --cflags --libs secmq)` -- runs each against the
installed library and checks what it prints. Everything happens in a fresh
temporary directory (kept with SECMQ_TEST_KEEP=1); nothing touches the build
directory except what `cmake --install` itself writes there.

Started by ctest (test install_consumer) with the build's facts:
    test_install.py --build-dir B --source-dir S --libdir lib --version 0.1.0
                    [--cc CC] [--toolchain-file F] [--tool secmq-pub ...]
                    [--sanitize]
A cross build's tests run through qemu-user (binfmt_misc): the loader is
asked through the programs themselves, never the machine's ldd, and
pkg-config gets the build's PKG_CONFIG_LIBDIR from ctest.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
STEP_TIMEOUT_S = 120   # one install, configure, build or run
OPTS = None            # parsed command line, set by main()

SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]


def run(cmd, env=None, cwd=None):
    """Run cmd (a list) to completion; return CompletedProcess (text)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=STEP_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish in %d s; stdout %r stderr %r"
                             % (" ".join(cmd), STEP_TIMEOUT_S, e.stdout,
                                e.stderr))


class Installed(unittest.TestCase):
    """One install into a temporary prefix, shared by the test methods."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="secmq-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        cls.libdir = os.path.join(cls.prefix, OPTS.libdir)
        r = run(["cmake", "--install", OPTS.build_dir, "--prefix",
                 cls.prefix])
        cls.install_result = r
        # An environment that can only find secmq in the install tree.
        env = dict(os.environ)
        for var in ("CMAKE_PREFIX_PATH", "PKG_CONFIG_PATH", "CPATH",
                    "LIBRARY_PATH", "C_INCLUDE_PATH"):
            env.pop(var, None)
        env["PKG_CONFIG_PATH"] = os.path.join(cls.libdir, "pkgconfig")
        env["LD_LIBRARY_PATH"] = cls.libdir
        cls.env = env

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SECMQ_TEST_KEEP") == "1":
            sys.stderr.write("kept %s\n" % cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        r = self.install_result
        self.assertEqual(r.returncode, 0, "cmake --install failed:\n%s%s"
                         % (r.stdout, r.stderr))

    # -- helpers ------------------------------------------------------------

    def cflags(self):
        return SANITIZE_FLAGS if OPTS.sanitize else []

    def check_app_output(self, exe):
        """Run an installed-secmq consumer and check what it prints."""
        r = run([exe], env=self.env)
        self.assertEqual(r.returncode, 0, "%s failed (exit %d): %r %r"
                         % (exe, r.returncode, r.stdout, r.stderr))
        lines = dict(ln.split(" ", 1) for ln in r.stdout.splitlines())
        self.assertEqual(sorted(lines), ["client_new", "header", "id_prefix",
                                         "strerror", "version"], r.stdout)
        self.assertEqual(lines["header"], OPTS.version)
        self.assertEqual(lines["version"], OPTS.version,
                         "secmq_version() of the installed library")
        err = lines["strerror"]
        self.assertNotEqual(err, "unknown error")
        self.assertRegex(err, r"\bCA\b",
                         "secmq_strerror(SECMQ_E_TLS_CA) does not say CA")
        self.assertEqual(lines["client_new"], "0")
        self.assertEqual(lines["id_prefix"], "secmq-")
        return r.stdout

    def loaded_objects(self, exe, env=None):
        """What the loader of exe's own architecture resolves exe's
        libraries to: the program run with LD_TRACE_LOADED_OBJECTS=1 (what
        ldd does with the machine's loaders; ldd cannot read a program of
        another architecture, while the program run through qemu-user
        still has its own loader print the list)."""
        env = dict(env or self.env, LD_TRACE_LOADED_OBJECTS="1")
        r = run([exe], env=env)
        self.assertEqual(r.returncode, 0, "%s with LD_TRACE_LOADED_OBJECTS"
                         "=1: exit %d\n%s%s" % (exe, r.returncode, r.stdout,
                                                 r.stderr))
        self.assertRegex(r.stdout, r"(?m)^\s*libc\.so\.6 => ",
                         "%s: the loader listed no libraries" % exe)
        return r.stdout

    def check_loads_installed_lib(self, exe, env=None, libdir=None):
        """The loader resolves libsecmq.so.N into the install tree (or
        libdir)."""
        out = self.loaded_objects(exe, env)
        m = re.search(r"^\s*libsecmq\.so\.\d+ => (\S+)", out, re.M)
        self.assertIsNotNone(m, "%s does not link libsecmq.so:\n%s"
                             % (exe, out))
        self.assertEqual(os.path.realpath(os.path.dirname(m.group(1))),
                         os.path.realpath(libdir or self.libdir),
                         "libsecmq resolved outside the install tree")

    # -- the installed tree --------------------------------------------------

    def test_installed_files(self):
        want = [
            os.path.join(self.prefix, "include", "secmq.h"),
            os.path.join(self.libdir, "libsecmq.so"),
            os.path.join(self.libdir, "libsecmq.a"),
            os.path.join(self.libdir, "pkgconfig", "secmq.pc"),
            os.path.join(self.libdir, "cmake", "secmq", "secmqConfig.cmake"),
            os.path.join(self.libdir, "cmake", "secmq",
                         "secmqConfigVersion.cmake"),
            os.path.join(self.libdir, "cmake", "secmq", "secmqTargets.cmake"),
        ]
        missing = [p for p in want if not os.path.isfile(p)]
        self.assertEqual(missing, [], "not installed")
        # The shared library's soname link and the real file.
        so = os.path.join(self.libdir, "libsecmq.so")
        self.assertRegex(os.path.basename(os.path.realpath(so)),
                         r"^libsecmq\.so\.%s$" % re.escape(OPTS.version))
        self.assertTrue(os.path.exists(
            os.path.join(self.libdir, "libsecmq.so.%s"
                         % OPTS.version.split(".")[0])))
        for tool in sorted(set(["secmq-certs"] + OPTS.tool)):
            path = os.path.join(self.prefix, "bin", tool)
            self.assertTrue(os.path.isfile(path) and os.access(path, os.X_OK),
                            "bin/%s not installed or not executable" % tool)
        with open(os.path.join(OPTS.source_dir, "libsecmq", "include",
                               "secmq.h"), "rb") as fh:
            src = fh.read()
        with open(os.path.join(self.prefix, "include", "secmq.h"),
                  "rb") as fh:
            self.assertEqual(fh.read(), src,
                             "installed secmq.h differs from the source")
        # Private headers stay private.
        leaked = [f for f in os.listdir(os.path.join(self.prefix, "include"))
                  if f.endswith("_int.h")]
        self.assertEqual(leaked, [], "private headers installed")

    def tool_env(self):
        """Our environment without anything that points the loader at the
        install tree: installed tools must find libsecmq by themselves."""
        env = dict(self.env)
        for var in ("LD_LIBRARY_PATH", "LD_PRELOAD", "LD_RUN_PATH"):
            env.pop(var, None)
        return env

    def check_tools_start(self, bindir, env):
        """Every tool in bindir answers --help (exit 0, its name in the
        text) with env, whose loader path knows nothing of the tree."""
        tools = sorted(set(["secmq-certs"] + OPTS.tool))
        for tool in tools:
            r = run([os.path.join(bindir, tool), "--help"], env=env)
            out = r.stdout + r.stderr
            self.assertNotIn("cannot open shared object", out,
                             "%s does not find its libraries when installed"
                             % tool)
            self.assertEqual(r.returncode, 0, "%s --help: exit %d\n%s"
                             % (tool, r.returncode, out))
            self.assertIn(tool, out, "%s --help says nothing of itself"
                          % tool)
        return tools

    def test_installed_tools_run_without_ld_library_path(self):
        """secmq-pub, -sub, -keys, -file, -admin, -bench, -certs start
        from the temporary prefix with no LD_LIBRARY_PATH and no ldconfig,
        and the loader takes libsecmq from the install tree."""
        self.check_tools_start(os.path.join(self.prefix, "bin"),
                               self.tool_env())
        if "secmq-pub" in OPTS.tool:
            r = run([os.path.join(self.prefix, "bin", "secmq-pub"),
                     "--help"], env=self.tool_env())
            self.assertIn("secmq-pub %s" % OPTS.version, r.stdout + r.stderr)
            self.check_loads_installed_lib(
                os.path.join(self.prefix, "bin", "secmq-pub"),
                env=self.tool_env())

    def test_moved_tree_still_runs(self):
        """The RUNPATH is relative: a copy of the whole prefix elsewhere
        runs from where it is (and loads its own libsecmq)."""
        moved = os.path.join(self.tmp, "moved", "elsewhere")
        shutil.copytree(self.prefix, moved, symlinks=True)
        self.check_tools_start(os.path.join(moved, "bin"), self.tool_env())
        if "secmq-pub" in OPTS.tool:
            self.check_loads_installed_lib(
                os.path.join(moved, "bin", "secmq-pub"), env=self.tool_env(),
                libdir=os.path.join(moved, OPTS.libdir))

    def test_destdir_staging(self):
        """DESTDIR=D cmake --install --prefix /usr/local (as a package
        build does) stages into D, runs no ldconfig, and the staged tools
        start from D."""
        dest = os.path.join(self.tmp, "destdir")
        env = dict(self.tool_env(), DESTDIR=dest)
        r = run(["cmake", "--install", OPTS.build_dir, "--prefix",
                 "/usr/local"], env=env)
        self.assertEqual(r.returncode, 0, "DESTDIR install failed:\n%s%s"
                         % (r.stdout, r.stderr))
        self.assertNotIn("ldconfig", r.stdout + r.stderr,
                         "a DESTDIR install must leave the loader cache "
                         "alone")
        self.check_tools_start(os.path.join(dest, "usr", "local", "bin"),
                               self.tool_env())

    def test_temp_prefix_install_leaves_loader_cache(self):
        """Installing into a prefix the loader does not scan runs no
        ldconfig and asks for none."""
        out = self.install_result.stdout + self.install_result.stderr
        self.assertNotIn("ldconfig", out)

    def elf_files(self):
        """Every ELF file installed under bin/ and the libdir."""
        found = []
        for top in (os.path.join(self.prefix, "bin"), self.libdir):
            for d, _, files in os.walk(top):
                for f in files:
                    p = os.path.join(d, f)
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    with open(p, "rb") as fh:
                        if fh.read(4) == b"\x7fELF":
                            found.append(p)
        return found

    def dynamic(self, path):
        """(NEEDED list, RUNPATH/RPATH strings) from readelf -d."""
        r = run(["readelf", "-d", "-W", path])
        self.assertEqual(r.returncode, 0, "readelf -d %s: %s"
                         % (path, r.stderr))
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]",
                            r.stdout)
        paths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r\w*path: "
                           r"\[(.*)\]", r.stdout)
        return needed, paths

    def test_runpath_relative_and_no_build_paths(self):
        """readelf: every installed program that needs libsecmq has a
        RUNPATH of $ORIGIN/<bin to libdir>; no installed ELF file has an
        absolute RUNPATH/RPATH, and no build- or source-tree path is left
        in any dynamic string table (RUNPATH, NEEDED, sonames)."""
        if shutil.which("readelf") is None:
            self.skipTest("no readelf (binutils)")
        elfs = self.elf_files()
        self.assertTrue(elfs, "no ELF file installed")
        want = "$ORIGIN/" + os.path.relpath(
            os.path.join("/p", OPTS.libdir), "/p/bin")
        build = os.path.realpath(OPTS.build_dir)
        source = os.path.realpath(OPTS.source_dir)
        needs_secmq = []
        for p in elfs:
            needed, paths = self.dynamic(p)
            for rp in paths:
                for entry in rp.split(":"):
                    self.assertTrue(entry.startswith("$ORIGIN"),
                                    "%s: RUNPATH entry %r is not relative to "
                                    "$ORIGIN (%r)" % (p, entry, rp))
            if any(n.startswith("libsecmq.so") for n in needed):
                needs_secmq.append(os.path.basename(p))
                if OPTS.no_rpath:
                    continue
                self.assertEqual(paths, [want], "%s needs libsecmq: RUNPATH"
                                 % p)
            r = run(["readelf", "-p", ".dynstr", "-W", p])
            self.assertEqual(r.returncode, 0, r.stderr)
            for tree in (build, source):
                self.assertNotIn(tree, r.stdout,
                                 "%s: the dynamic strings name %s"
                                 % (p, tree))
        for tool in OPTS.tool:
            if tool != "secmq-certs":
                self.assertIn(tool, needs_secmq,
                              "%s does not link libsecmq.so (checked "
                              "nothing)" % tool)

    # -- consumers -----------------------------------------------------------

    def test_pkgconfig_points_into_prefix(self):
        """secmq.pc, found through PKG_CONFIG_PATH, names the install tree
        (not the prefix the build was configured with)."""
        r = run(["pkg-config", "--modversion", "secmq"], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), OPTS.version)
        r = run(["pkg-config", "--cflags", "--libs", "secmq"], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        flags = shlex.split(r.stdout)
        # A relocatable .pc may say ${pcfiledir}/../..: compare real paths.
        dirs = lambda opt: [os.path.realpath(f[2:]) for f in flags
                            if f.startswith(opt)]
        inc = os.path.join(self.prefix, "include")
        self.assertIn(os.path.realpath(inc), dirs("-I"),
                      "pkg-config --cflags does not point at %s: %r"
                      % (inc, r.stdout.strip()))
        self.assertIn(os.path.realpath(self.libdir), dirs("-L"),
                      "pkg-config --libs does not point at %s: %r"
                      % (self.libdir, r.stdout.strip()))
        self.assertIn("-lsecmq", flags)

    def test_pkgconfig_consumer(self):
        r = run(["pkg-config", "--cflags", "--libs", "secmq"], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out_dir = os.path.join(self.tmp, "pc-build")
        os.makedirs(out_dir, exist_ok=True)
        exe = os.path.join(out_dir, "app")
        # As a user types it: cc app.c $(pkg-config --cflags --libs secmq)
        cmd = ([OPTS.cc] + self.cflags() +
               [os.path.join(HERE, "consumer", "app.c"), "-o", exe] +
               shlex.split(r.stdout))
        b = run(cmd, env=self.env)
        self.assertEqual(b.returncode, 0, "%s\n%s%s"
                         % (" ".join(cmd), b.stdout, b.stderr))
        self.check_app_output(exe)
        self.check_loads_installed_lib(exe)

    def test_cmake_consumer(self):
        build = os.path.join(self.tmp, "cmake-build")
        cfg = ["cmake", "-S", os.path.join(HERE, "consumer"), "-B", build,
               "-DCMAKE_PREFIX_PATH=" + self.prefix,
               "-DCMAKE_C_COMPILER=" + OPTS.cc,
               "-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
        if OPTS.toolchain_file:
            cfg.append("-DCMAKE_TOOLCHAIN_FILE=" + OPTS.toolchain_file)
        if OPTS.sanitize:
            flags = " ".join(SANITIZE_FLAGS)
            cfg += ["-DCMAKE_C_FLAGS=" + flags,
                    "-DCMAKE_EXE_LINKER_FLAGS=" + flags]
        r = run(cfg, env=self.env)
        self.assertEqual(r.returncode, 0, "configure failed:\n%s%s"
                         % (r.stdout, r.stderr))
        # find_package must have used the installed package.
        with open(os.path.join(build, "CMakeCache.txt")) as fh:
            cache = fh.read()
        m = re.search(r"^secmq_DIR:PATH=(.*)$", cache, re.M)
        self.assertIsNotNone(m, "secmq_DIR not in the consumer's cache")
        self.assertEqual(os.path.realpath(m.group(1)),
                         os.path.realpath(os.path.join(self.libdir, "cmake",
                                                       "secmq")))
        r = run(["cmake", "--build", build], env=self.env)
        self.assertEqual(r.returncode, 0, "build failed:\n%s%s"
                         % (r.stdout, r.stderr))
        shared = self.check_app_output(os.path.join(build, "app"))
        self.check_loads_installed_lib(os.path.join(build, "app"))
        static = self.check_app_output(os.path.join(build, "app_static"))
        self.assertEqual(static.splitlines()[:3], shared.splitlines()[:3])
        static_libs = self.loaded_objects(os.path.join(build, "app_static"))
        self.assertNotIn("libsecmq.so", static_libs,
                         "app_static is linked to the shared library")


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--libdir", required=True,
                    help="CMAKE_INSTALL_LIBDIR (relative to the prefix)")
    ap.add_argument("--version", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--toolchain-file",
                    help="the build's CMAKE_TOOLCHAIN_FILE (a cross build):"
                    " the CMake consumer is configured with it too")
    ap.add_argument("--tool", action="append", default=[],
                    help="a tool that must be installed in bin/")
    ap.add_argument("--no-rpath", action="store_true",
                    help="built with -DSECMQ_INSTALL_RPATH=OFF")
    ap.add_argument("--sanitize", action="store_true",
                    help="the build uses -fsanitize=address,undefined")
    OPTS, rest = ap.parse_known_args()
    if os.path.isabs(OPTS.libdir):
        ap.error("--libdir must be relative to the prefix")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
