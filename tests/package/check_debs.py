#!/usr/bin/python3
"""check_debs.py -- check secmq's .deb files without installing them.

Reads each package with dpkg-deb (control fields, maintainer scripts, file
list) and the ELF files in it with readelf, and checks what a Debian
system relies on: the six packages are there, each of the project's
version and the given architecture, with Maintainer, Section, Priority and
a Description of its own; Depends computed from the binaries
(dpkg-shlibdeps: libc6, libsodium23, ...) plus the explicit ones, every
name known to apt for that architecture; files owned by root with sane
modes, /etc files listed as conffiles; the library, the plugin and the
tools where Debian looks for them; every ELF file built for the
architecture (readelf -h Machine), without RUNPATH, the tools needing
libsecmq.so.0 and libsecmq0 shipping shlibs and the ldconfig trigger.

Used by tests/package/test_packages.py (native packages) and on its own
for cross-built ones:
    check_debs.py --arch arm64 [--version V] [--run] FILE.deb...
--run also unpacks every package into one root and starts each program
from it (--help, and secmq-pub --version naming the packaged library).
Exit status 0 when every check passed, 1 otherwise (each failure printed).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
STEP_TIMEOUT_S = 60

# readelf -h "Machine:" for each Debian architecture packages are made for.
MACHINES = {
    "amd64": "Advanced Micro Devices X86-64",
    "arm64": "AArch64",
    "armhf": "ARM",
    "i386": "Intel 80386",
}

TOOLS = ["secmq-pub", "secmq-sub", "secmq-keys", "secmq-file", "secmq-certs"]

# package -> (files it must hold, with {ma} for the multiarch triplet,
#             Depends it must name besides what dpkg-shlibdeps finds)
PACKAGES = {
    "libsecmq0": (
        ["usr/lib/{ma}/libsecmq.so.0", "usr/lib/{ma}/libsecmq.so.{v}"],
        ["libc6", "libsodium23", "libwolfssl35", "libmosquitto1",
         "libsqlite3-0"]),
    "libsecmq-dev": (
        ["usr/include/secmq.h", "usr/include/secmq/keyring.h",
         "usr/lib/{ma}/libsecmq.so", "usr/lib/{ma}/libsecmq.a",
         "usr/lib/{ma}/pkgconfig/secmq.pc",
         "usr/lib/{ma}/cmake/secmq/secmqConfig.cmake",
         "usr/lib/{ma}/cmake/secmq/secmqTargets.cmake"],
        ["libsecmq0 (= {v})", "libmosquitto-dev", "libsodium-dev",
         "libwolfssl-dev", "libsqlite3-dev"]),
    "secmq-tools": (
        ["usr/bin/" + t for t in TOOLS] +
        ["usr/lib/systemd/system/secmq-sub@.service",
         "usr/share/doc/secmq-tools/examples/status.env"],
        ["libsecmq0 (= {v})", "libc6", "libsodium23", "libwolfssl35"]),
    "secmq-broker-plugin": (
        ["usr/lib/{ma}/mosquitto/secmq_auth.so", "usr/bin/secmq-admin",
         "usr/share/doc/secmq-broker-plugin/examples/secmq.conf"],
        ["libsecmq0 (= {v})", "mosquitto (>= 2.0)", "libc6", "libsodium23",
         "libsqlite3-0"]),
    "secmq-authd": (
        ["usr/bin/secmq-authd", "usr/lib/systemd/system/secmq-authd.service",
         "usr/share/doc/secmq-authd/examples/authd.env",
         "usr/share/doc/secmq-authd/examples/rabbitmq-secmq.conf"],
        ["libc6", "libsodium23", "libsqlite3-0", "libmicrohttpd12",
         "libcurl4", "libjson-c5"]),
    "secmq-bench": (
        ["usr/bin/secmq-bench"],
        ["libsecmq0 (= {v})", "secmq-tools (= {v})", "libc6",
         "libmosquitto1"]),
    "python3-secmq": (
        ["usr/lib/python3/dist-packages/secmq/__init__.py",
         "usr/lib/python3/dist-packages/secmq/_install.py"],
        ["libsecmq0 (= {v})", "python3"]),
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL,
                          **kw)


def project_version():
    """VERSION from the top-level project() call."""
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"^project\(secmq VERSION ([0-9.]+)", f.read(), re.M)
    if m is None:
        raise SystemExit("check_debs.py: no project(secmq VERSION ...) in "
                         "CMakeLists.txt")
    return m.group(1)


def multiarch(arch):
    r = run(["dpkg-architecture", "-a" + arch, "-qDEB_HOST_MULTIARCH"])
    if r.returncode != 0 or not r.stdout.strip():
        raise SystemExit("check_debs.py: dpkg-architecture knows no %s: %s"
                         % (arch, r.stderr.strip()))
    return r.stdout.strip()


def control(deb):
    """The control fields of deb as a dict (continuation lines joined)."""
    r = run(["dpkg-deb", "-f", deb])
    if r.returncode != 0:
        raise AssertionError("dpkg-deb -f %s: %s" % (deb, r.stderr))
    fields, key = {}, None
    for line in r.stdout.splitlines():
        if line.startswith((" ", "\t")) and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def depends(value):
    """Depends: as a list of alternatives lists of (name, version-or-'')."""
    out = []
    for group in filter(None, (g.strip() for g in value.split(","))):
        alts = []
        for alt in group.split("|"):
            m = re.match(r"^\s*([a-z0-9][a-z0-9+.-]*)(?::\S+)?\s*(\(.*\))?",
                         alt)
            alts.append((m.group(1), (m.group(2) or "").replace(" ", "")))
        out.append(alts)
    return out


def contents(deb):
    """[(mode string, owner/group, path without ./, link target)]."""
    r = run(["dpkg-deb", "-c", deb])
    if r.returncode != 0:
        raise AssertionError("dpkg-deb -c %s: %s" % (deb, r.stderr))
    rows = []
    for line in r.stdout.splitlines():
        parts = line.split(None, 5)
        path = parts[5]
        target = ""
        if " -> " in path:
            path, target = path.split(" -> ", 1)
        rows.append((parts[0], parts[1], path[2:].rstrip("/"), target))
    return rows


class Checker:
    def __init__(self, arch, version):
        self.arch = arch
        self.version = version
        self.ma = multiarch(arch)
        self.failures = []
        self.known = {}

    def fail(self, deb, what):
        self.failures.append("%s: %s" % (os.path.basename(deb), what))

    def fmt(self, s):
        return s.format(ma=self.ma, v=self.version)

    def apt_knows(self, name):
        """Whether apt has package name for this architecture (or all)."""
        if name not in self.known:
            r = run(["apt-cache", "show", "--no-all-versions",
                     "%s:%s" % (name, self.arch)])
            ok = r.returncode == 0 and "Package:" in r.stdout
            if not ok:
                r = run(["apt-cache", "show", "--no-all-versions", name])
                ok = (r.returncode == 0 and
                      re.search(r"^Architecture: all$", r.stdout, re.M)
                      is not None)
            self.known[name] = ok
        return self.known[name]

    def check_all(self, debs):
        by_name = {}
        for deb in debs:
            fields = control(deb)
            by_name.setdefault(fields.get("Package", "?"), []).append(deb)
        for name in PACKAGES:
            if len(by_name.get(name, [])) != 1:
                self.failures.append("package %s: %d .deb files (want 1)"
                                     % (name, len(by_name.get(name, []))))
        for name in by_name:
            if name not in PACKAGES:
                self.failures.append("unexpected package %s" % name)
        for deb in debs:
            self.check_one(deb)
        return self.failures

    def check_one(self, deb):
        f = control(deb)
        name = f.get("Package", "?")
        if name not in PACKAGES:
            return
        want_files, want_deps = PACKAGES[name]
        if f.get("Version") != self.version:
            self.fail(deb, "Version %r, not %r" % (f.get("Version"),
                                                     self.version))
        if f.get("Architecture") != self.arch:
            self.fail(deb, "Architecture %r, not %r"
                      % (f.get("Architecture"), self.arch))
        want_name = "%s_%s_%s.deb" % (name, self.version, self.arch)
        if os.path.basename(deb) != want_name:
            self.fail(deb, "file name is not %s" % want_name)
        if not re.match(r"^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$",
                        f.get("Maintainer", "")):
            self.fail(deb, "Maintainer %r is not 'Name <address>'"
                      % f.get("Maintainer"))
        for key in ("Section", "Priority"):
            if not f.get(key):
                self.fail(deb, "no %s field" % key)
        self.check_description(deb, f.get("Description", ""))
        self.check_depends(deb, f.get("Depends", ""), want_deps)
        rows = contents(deb)
        self.check_files(deb, name, rows, want_files)
        with tempfile.TemporaryDirectory(prefix="secmq-deb-") as tmp:
            self.check_control_files(deb, name, rows, tmp)
            self.check_elf(deb, name, rows, tmp)

    def check_description(self, deb, desc):
        lines = desc.split("\n")
        summary = lines[0]
        if not summary or len(summary) > 80 or "built using CMake" in summary:
            self.fail(deb, "Description summary %r" % summary)
        body = lines[1:]
        if len(body) < 2 or not all(l.startswith(" ") for l in body):
            self.fail(deb, "Description has no long text indented by one "
                      "space: %r" % desc)

    def check_depends(self, deb, value, want):
        deps = depends(value)
        flat = {(n, v) for alts in deps for n, v in alts}
        names = {n for n, _ in flat}
        for w in want:
            m = re.match(r"^(\S+)(?: \((.*)\))?$", self.fmt(w))
            wname, wver = m.group(1), (m.group(2) or "").replace(" ", "")
            if wver:
                if (wname, "(" + wver + ")") not in flat:
                    self.fail(deb, "Depends lacks %s (%s): %r"
                              % (wname, wver, value))
            elif wname not in names:
                self.fail(deb, "Depends lacks %s: %r" % (wname, value))
        for alts in deps:
            if not any(n in PACKAGES or self.apt_knows(n) for n, _ in alts):
                self.fail(deb, "Depends names %s, which apt does not know "
                          "for %s" % (" | ".join(n for n, _ in alts),
                                      self.arch))

    def check_files(self, deb, name, rows, want):
        paths = {p for _, _, p, _ in rows}
        for w in want:
            if self.fmt(w) not in paths:
                self.fail(deb, "does not hold /%s" % self.fmt(w))
        for mode, owner, path, target in rows:
            if owner != "root/root":
                self.fail(deb, "/%s owned by %s" % (path, owner))
            kind = mode[0]
            if kind == "d" and mode != "drwxr-xr-x":
                self.fail(deb, "directory /%s mode %s" % (path, mode))
            elif kind == "-" and mode not in ("-rw-r--r--", "-rwxr-xr-x"):
                self.fail(deb, "file /%s mode %s" % (path, mode))
            elif kind == "-" and path.startswith("usr/bin/") and \
                    mode != "-rwxr-xr-x":
                self.fail(deb, "program /%s mode %s" % (path, mode))
            elif kind == "l" and target.startswith("/"):
                self.fail(deb, "symlink /%s -> absolute %s" % (path, target))
            elif kind not in "-dl":
                self.fail(deb, "/%s is of type %s" % (path, kind))
            if not path.startswith(("usr", "etc")) and path not in ("",):
                self.fail(deb, "/%s is outside /usr and /etc" % path)

    def extract(self, deb, option, dest):
        """dpkg-deb -e (control files) or -x (the files) into dest."""
        r = run(["dpkg-deb", option, deb, dest])
        if r.returncode != 0:
            self.fail(deb, "dpkg-deb %s: %s" % (option, r.stderr))
        return r.returncode == 0

    def check_control_files(self, deb, name, rows, tmp):
        ctl = os.path.join(tmp, "DEBIAN")
        if not self.extract(deb, "-e", ctl):
            return

        def read(n):
            p = os.path.join(ctl, n)
            if not os.path.exists(p):
                return None
            with open(p) as fh:
                return fh.read()

        etc = sorted("/" + p for m, _, p, _ in rows
                     if m.startswith("-") and p.startswith("etc/"))
        conffiles = sorted((read("conffiles") or "").split())
        if etc != conffiles:
            self.fail(deb, "conffiles %r, files under /etc %r"
                      % (conffiles, etc))
        for script in ("preinst", "postinst", "prerm", "postrm"):
            p = os.path.join(ctl, script)
            if os.path.exists(p):
                if os.stat(p).st_mode & 0o777 != 0o755:
                    self.fail(deb, "%s mode %o" % (script,
                                                   os.stat(p).st_mode))
                if run(["sh", "-n", p]).returncode != 0:
                    self.fail(deb, "%s is not valid sh" % script)
        if name == "libsecmq0":
            shlibs = read("shlibs") or ""
            want = "libsecmq 0 libsecmq0 (>= %s)" % self.version
            if shlibs.strip() != want:
                self.fail(deb, "shlibs %r, want %r" % (shlibs, want))
            if "activate-noawait ldconfig" not in (read("triggers") or ""):
                self.fail(deb, "no ldconfig trigger")
        if name == "secmq-tools":
            post = read("postinst") or ""
            if "useradd --system" not in post or "secmq" not in post:
                self.fail(deb, "postinst does not create the user secmq")

    def check_elf(self, deb, name, rows, tmp):
        root = os.path.join(tmp, "root")
        if not self.extract(deb, "-x", root):
            return
        machine = MACHINES.get(self.arch)
        elves = 0
        for mode, _, path, _ in rows:
            full = os.path.join(root, path)
            if not mode.startswith("-"):
                continue
            with open(full, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
            if path.endswith(".a"):
                continue
            elves += 1
            h = run(["readelf", "-h", full]).stdout
            m = re.search(r"^\s*Machine:\s*(.*)$", h, re.M)
            got = m.group(1).strip() if m else "?"
            if machine is None or got != machine:
                self.fail(deb, "/%s is for %r, not %s (%r)"
                          % (path, got, self.arch, machine))
            d = run(["readelf", "-d", full]).stdout
            if re.search(r"\((RUNPATH|RPATH)\)", d):
                self.fail(deb, "/%s has a RUNPATH/RPATH (the library is in "
                          "the loader's path)" % path)
            needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", d)
            # secmq-certs (wolfSSL only) and secmq-authd (the plugin's
            # policy engine, libmicrohttpd) use nothing of libsecmq.
            if path.startswith("usr/bin/") and \
                    os.path.basename(path) not in ("secmq-certs",
                                                   "secmq-authd") and \
                    "libsecmq.so.0" not in needed:
                self.fail(deb, "/%s does not need libsecmq.so.0: %r"
                          % (path, needed))
            if path.endswith("libsecmq.so.%s" % self.version) and \
                    "(SONAME)" not in d:
                self.fail(deb, "/%s has no SONAME" % path)
        if name not in ("libsecmq-dev", "python3-secmq") and elves == 0:
            self.fail(deb, "no ELF file in it")


PROGRAMS = TOOLS + ["secmq-admin", "secmq-authd", "secmq-bench"]


def run_unpacked(checker, debs):
    """Unpack every package into one root and start each program there.

    The programs carry no RUNPATH (the library is in the loader's path once
    installed), so the unpacked root's multiarch libdir is given with
    LD_LIBRARY_PATH; everything else they need comes from this machine's
    libraries of that architecture (for arm64: the :arm64 packages, run by
    qemu-user through binfmt_misc). Each must answer --help with exit 0,
    and secmq-pub --version must name the packaged libsecmq's version: a
    program that cannot load its libraries fails here, as it would when
    installed.
    """
    with tempfile.TemporaryDirectory(prefix="secmq-debroot-") as root:
        for deb in debs:
            checker.extract(deb, "-x", root)
        env = dict(os.environ,
                   LD_LIBRARY_PATH=os.path.join(root, "usr/lib", checker.ma))
        for prog in PROGRAMS:
            path = os.path.join(root, "usr/bin", prog)
            r = run([path, "--help"], env=env)
            if r.returncode != 0 or not (r.stdout + r.stderr).strip():
                checker.failures.append(
                    "unpacked /usr/bin/%s --help: exit %d: %s"
                    % (prog, r.returncode, (r.stderr or r.stdout).strip()))
        r = run([os.path.join(root, "usr/bin/secmq-pub"), "--version"],
                env=env)
        want = "libsecmq %s" % checker.version
        if r.returncode != 0 or want not in r.stdout:
            checker.failures.append(
                "unpacked secmq-pub --version: exit %d, %r (want %r)"
                % (r.returncode, (r.stdout + r.stderr).strip(), want))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--arch", required=True, help="Debian architecture")
    ap.add_argument("--version", default=None,
                    help="package version (default: the project's)")
    ap.add_argument("--run", action="store_true",
                    help="also unpack all packages into one root and start "
                    "each program from it (an arm64 one through qemu-user)")
    ap.add_argument("debs", nargs="+")
    a = ap.parse_args()
    for tool in ("dpkg-deb", "dpkg-architecture", "readelf", "apt-cache"):
        if shutil.which(tool) is None:
            raise SystemExit("check_debs.py: %s not found" % tool)
    c = Checker(a.arch, a.version or project_version())
    failures = c.check_all(a.debs)
    if a.run:
        run_unpacked(c, a.debs)
    for f in failures:
        print("FAIL " + f)
    if failures:
        print("check_debs.py: %d problem(s) in %d package(s)"
              % (len(failures), len(a.debs)))
        return 1
    print("check_debs.py: %d packages for %s, version %s: all checks passed"
          % (len(a.debs), a.arch, c.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
