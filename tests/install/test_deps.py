#!/usr/bin/python3
"""test_deps.py -- scripts/deps.sh against a fake dpkg database and apt-get.

deps.sh runs for real, with a directory of fakes first on PATH: dpkg
(--print-architecture), dpkg-query (answers -W -f=FORMAT from a table of
installed packages, expanding ${Package}, ${Architecture} and ${Status} as
dpkg-query does), apt-get (records its arguments, "installs" by adding the
named packages to the table, or fails on request), id and sudo. Nothing is
installed or removed on this machine. Checks: a package present only for a
foreign architecture (libwolfssl-dev:arm64 on amd64) or only as leftover
config files counts as missing; architecture-independent and multi-arch
copies count; every apt-get call waits for the dpkg lock
(-o DPkg::Lock::Timeout=N); --check installs nothing; a failing apt-get or
a package still missing afterwards fails loudly.

Started by ctest (test deps_script): test_deps.py --source-dir S
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

OPTS = None
RUN_TIMEOUT_S = 60

# The packages deps.sh asks for (scripts/deps.sh PACKAGES), with the
# architecture Debian 12 builds them for: "all" or the native one.
ARCH_ALL = {"python3-paho-mqtt", "python3-nacl", "python3-pytest",
            "python3-setuptools"}

FAKE_DPKG = r'''#!/bin/sh
[ "$1" = "--print-architecture" ] || { echo "fake dpkg: $*" >&2; exit 2; }
echo "$FAKE_ARCH"
'''

FAKE_DPKG_QUERY = r'''#!/usr/bin/python3
# dpkg-query -W [-f=FORMAT | --showformat=FORMAT] [--] NAME[:ARCH]...
import os, re, sys
args = sys.argv[1:]
fmt = "${Package}\t${Version}\n"
names = []
seen_w = False
i = 0
while i < len(args):
    a = args[i]
    if a in ("-W", "--show"):
        seen_w = True
    elif a.startswith("-f="):
        fmt = a[3:]
    elif a.startswith("--showformat="):
        fmt = a[len("--showformat="):]
    elif a in ("-f", "--showformat"):
        i += 1
        fmt = args[i]
    elif a == "--":
        names += args[i + 1:]
        break
    elif a.startswith("-"):
        sys.stderr.write("fake dpkg-query: unsupported option %s\n" % a)
        sys.exit(2)
    else:
        names.append(a)
    i += 1
if not seen_w:
    sys.stderr.write("fake dpkg-query: only -W is supported\n")
    sys.exit(2)
db = []
with open(os.environ["FAKE_DPKG_DB"]) as fh:
    for line in fh:
        if line.strip():
            db.append(line.rstrip("\n").split("\t"))
fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
rc = 0
for name in names:
    pkg, _, arch = name.partition(":")
    rows = [r for r in db if r[0] == pkg and (not arch or r[1] == arch)]
    if not rows:
        sys.stderr.write("dpkg-query: no packages found matching %s\n" % name)
        rc = 1
    for p, a, st in rows:
        fields = {"Package": p, "binary:Package": p if a in ("all", os.environ["FAKE_ARCH"]) else p + ":" + a,
                  "Architecture": a, "Status": st, "Version": "1.0"}
        def sub(m):
            if m.group(1) not in fields:
                sys.stderr.write("fake dpkg-query: field %s\n" % m.group(1))
                sys.exit(2)
            return fields[m.group(1)]
        sys.stdout.write(re.sub(r"\$\{([^}]+)\}", sub, fmt))
sys.exit(rc)
'''

FAKE_APT_GET = r'''#!/usr/bin/python3
# Records its arguments; `install` adds the named packages (native, or
# "all" for the ones listed in FAKE_ARCH_ALL) unless FAKE_APT_NOOP is set.
import os, sys
with open(os.environ["FAKE_LOG"], "a") as fh:
    fh.write("apt-get\t" + "\t".join(sys.argv[1:]) + "\n")
rc = int(os.environ.get("FAKE_APT_RC", "0"))
if rc:
    sys.stderr.write("E: fake apt-get failure\n")
    sys.exit(rc)
args = [a for a in sys.argv[1:]]
if "install" in args and not os.environ.get("FAKE_APT_NOOP"):
    pkgs, skip = [], False
    for a in args[args.index("install") + 1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif not a.startswith("-"):
            pkgs.append(a)
    every = set(os.environ.get("FAKE_ARCH_ALL", "").split())
    with open(os.environ["FAKE_DPKG_DB"], "a") as fh:
        for p in pkgs:
            name, _, arch = p.partition(":")
            if not arch or arch == "native":
                arch = "all" if name in every else os.environ["FAKE_ARCH"]
            fh.write("%s\t%s\tinstall ok installed\n" % (name, arch))
'''

FAKE_ID = r'''#!/bin/sh
[ "$1" = "-u" ] || { echo "fake id: $*" >&2; exit 2; }
echo "$FAKE_UID"
'''

FAKE_SUDO = r'''#!/bin/sh
printf 'sudo\n' >> "$FAKE_LOG"
exec "$@"
'''


def read_packages():
    """The PACKAGES array of scripts/deps.sh, read from its text (sourcing
    it would run it against the real dpkg)."""
    script = os.path.join(OPTS.source_dir, "scripts", "deps.sh")
    with open(script) as fh:
        text = fh.read()
    m = re.search(r"^PACKAGES=\((.*?)\)", text, re.M | re.S)
    if m is None:
        raise AssertionError("no PACKAGES=( ... ) in %s" % script)
    pkgs = m.group(1).split()
    if "libwolfssl-dev" not in pkgs or "python3-paho-mqtt" not in pkgs:
        raise AssertionError("unexpected PACKAGES in deps.sh: %r" % pkgs)
    return pkgs


class DepsScript(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="secmq-deps-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        for name, text in (("dpkg", FAKE_DPKG),
                           ("dpkg-query", FAKE_DPKG_QUERY),
                           ("apt-get", FAKE_APT_GET), ("id", FAKE_ID),
                           ("sudo", FAKE_SUDO)):
            path = os.path.join(self.bin, name)
            with open(path, "w") as fh:
                fh.write(text)
            os.chmod(path, 0o755)
        self.db = os.path.join(self.tmp, "db")
        self.log = os.path.join(self.tmp, "log")
        open(self.log, "w").close()
        self.packages = read_packages()

    def native(self, p):
        return "all" if p in ARCH_ALL else "amd64"

    def write_db(self, rows):
        with open(self.db, "w") as fh:
            for r in rows:
                fh.write("\t".join(r) + "\n")

    def all_installed(self, but=()):
        return [(p, self.native(p), "install ok installed")
                for p in self.packages if p not in but]

    def deps(self, *args, uid="0", apt_rc=0, apt_noop=False):
        env = {
            "PATH": self.bin + os.pathsep + "/usr/bin:/bin",
            "FAKE_ARCH": "amd64", "FAKE_DPKG_DB": self.db,
            "FAKE_LOG": self.log, "FAKE_UID": uid,
            "FAKE_APT_RC": str(apt_rc),
            "FAKE_ARCH_ALL": " ".join(sorted(ARCH_ALL)),
            "SECMQ_APT_LOCK_TIMEOUT": "123",
        }
        if apt_noop:
            env["FAKE_APT_NOOP"] = "1"
        return subprocess.run(
            ["bash", os.path.join(OPTS.source_dir, "scripts", "deps.sh")]
            + list(args), capture_output=True, text=True, env=env,
            timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)

    def calls(self):
        with open(self.log) as fh:
            return [ln.rstrip("\n").split("\t") for ln in fh if ln.strip()]

    def installed_by_apt(self):
        for c in self.calls():
            if c[0] == "apt-get" and "install" in c:
                rest = c[c.index("install") + 1:]
                return sorted(a for a in rest if not a.startswith("-")
                              and "=" not in a)
        return None

    # -----------------------------------------------------------------------

    def test_nothing_missing_runs_no_apt(self):
        self.write_db(self.all_installed())
        r = self.deps()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.calls(), [])
        r = self.deps("--check")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_foreign_architecture_does_not_count(self):
        """libwolfssl-dev:arm64 (which replaces the amd64 one: it is not
        Multi-Arch: same) is not the native package."""
        self.write_db(self.all_installed(but=("libwolfssl-dev",))
                      + [("libwolfssl-dev", "arm64",
                          "install ok installed")])
        r = self.deps("--check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("libwolfssl-dev", r.stderr)
        self.assertEqual(self.calls(), [], "--check must not run apt-get")
        r = self.deps()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.installed_by_apt(), ["libwolfssl-dev"])

    def test_multiarch_copy_besides_native_counts(self):
        self.write_db(self.all_installed()
                      + [("libsodium-dev", "arm64", "install ok installed")])
        r = self.deps()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.calls(), [])

    def test_config_files_only_is_missing(self):
        self.write_db(self.all_installed(but=("mosquitto",))
                      + [("mosquitto", "amd64",
                          "deinstall ok config-files")])
        r = self.deps()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.installed_by_apt(), ["mosquitto"])

    def test_every_apt_call_waits_for_the_lock(self):
        self.write_db(self.all_installed(but=("cmake", "python3-nacl")))
        r = self.deps(uid="1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        calls = self.calls()
        apt = [c for c in calls if c[0] == "apt-get"]
        self.assertEqual([("update" in c, "install" in c) for c in apt],
                         [(True, False), (False, True)], calls)
        for c in apt:
            self.assertIn("-o", c, "apt-get without -o DPkg::Lock::Timeout")
            i = c.index("-o")
            self.assertEqual(c[i + 1], "DPkg::Lock::Timeout=123", c)
        self.assertEqual(calls.count(["sudo"]), 2,
                         "not root: each apt-get under sudo")
        self.assertEqual(self.installed_by_apt(), ["cmake", "python3-nacl"])

    def test_apt_failure_is_loud(self):
        self.write_db(self.all_installed(but=("clang",)))
        r = self.deps(apt_rc=100)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("apt-get update failed", r.stderr)

    def test_still_missing_after_install_is_loud(self):
        self.write_db(self.all_installed(but=("clang",)))
        r = self.deps(apt_noop=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("still missing", r.stderr)
        self.assertIn("clang", r.stderr)

    def test_unknown_option_refused(self):
        self.write_db(self.all_installed(but=("clang",)))
        r = self.deps("--frobnicate")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown option", r.stderr)
        self.assertEqual(self.calls(), [])


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--source-dir", required=True)
    OPTS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
