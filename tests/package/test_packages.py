#!/usr/bin/python3
"""test_packages.py -- build secmq's Debian packages, install, use, purge.

Builds the packages from this source tree with scripts/package.sh (a
packaging build in BUILD/package: prefix /usr, multiarch libdir, no
RUNPATH), checks that the install components cover every installed file
and the .deb files (check_debs.py), then, as root, `apt-get install`s
them on this machine and runs the demo from the installed files only (no
build tree on PATH or in LD_LIBRARY_PATH, a PATH of /usr/bin:/bin):
secmq-certs makes a PKI, secmq-admin users sam and alice and their rules,
/usr/sbin/mosquitto runs on a free loopback port with the installed plugin
and the packaged example config, secmq-keys makes keyrings and a channel,
the packaged unit secmq-sub@.service's ExecStart (with the packaged
example instance file) runs as the system user secmq the package made,
and sam's secmq-pub arrives as `status from sam: door closed`. Then
`apt-get purge` must leave no file of the packages behind, the loader
cache without libsecmq, the keys and database in the temp dir unchanged,
and the user secmq in place (as docs/DEPLOY.md says).

The machine is left as it was found: packages of an earlier run are
purged first, and at the end (also on failure) everything installed is
purged, and the user and directories the packages made are removed when
they did not exist before. One run at a time (a lock in /run/lock).

In two steps, two ctest tests (label package):
    test_packages.py --step build --build-dir B --source-dir S \
        --version V [--cc CC]
builds the packages and checks them without installing (test
package_build, run beside the other tests: it changes nothing outside B);
    test_packages.py --step install --build-dir B --source-dir S \
        --version V
installs those packages, runs the demo and purges (test package_install,
beside the other tests but holding ctest's resource lock
secmq_system_install with the tests that would see a libsecmq in /usr;
needs root: it exits 77, skipped, otherwise).
"""

import argparse
import fcntl
import hashlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_debs  # noqa: E402

OPTS = None
BUILD_TIMEOUT_S = 900     # the packaging build (incremental after the first)
APT_TIMEOUT_S = 900       # apt-get, including waiting for the dpkg lock
STEP_TIMEOUT_S = 60       # one tool run
LINE_TIMEOUT_S = 20       # a subscriber's line, a broker log line
LOCK = "/run/lock/secmq-package-test.lock"
PACKAGES = ["libsecmq0", "libsecmq-dev", "secmq-tools",
            "secmq-broker-plugin", "secmq-authd", "secmq-bench",
            "python3-secmq"]
COMPONENTS = ["lib", "dev", "tools", "plugin", "authd", "bench", "python"]
USER = "secmq"
USER_HOME = "/var/lib/secmq-sub"
SYSTEM_DIRS = [USER_HOME, "/etc/secmq/sub", "/etc/secmq"]
# What the installed programs see: no build tree, no LD_LIBRARY_PATH.
CLEAN_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q"]
EXPECTED = "status from sam: door closed"


def run(cmd, timeout=STEP_TIMEOUT_S, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish in %d s: %r %r"
                             % (" ".join(cmd), timeout, e.stdout, e.stderr))


def installed(names):
    """Those of names dpkg has installed (or half-installed/config-files)."""
    r = run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\n"]
            + names)
    out = []
    for line in r.stdout.splitlines():
        name, status = line.split("\t")
        if status.strip() and status[1] != "n":
            out.append(name)
    return out


def clean_env(**extra):
    env = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree_digest(paths):
    """{path: sha256} of every file below paths."""
    out = {}
    for top in paths:
        for d, _, files in os.walk(top):
            for f in files:
                p = os.path.join(d, f)
                if not os.path.isfile(p) or os.path.islink(p):
                    continue
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
    return out


class Packages(unittest.TestCase):
    """One packaging build and install, shared by the test methods."""

    @classmethod
    def setUpClass(cls):
        cls.lock = open(LOCK, "w")
        fcntl.flock(cls.lock, fcntl.LOCK_EX)
        cls.tmp = tempfile.mkdtemp(prefix="secmq-pkg-")
        # The system user reaches its home in here (alice's, below).
        os.chmod(cls.tmp, 0o711)
        cls.had_user = user_exists(USER)
        cls.had_dirs = {d: os.path.isdir(d) for d in SYSTEM_DIRS}
        cls.procs = []
        cls.created = []
        try:
            cls.prepare()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def prepare(cls):
        left = installed(PACKAGES) if OPTS.step == "install" else []
        if left:
            sys.stderr.write("purging packages of an earlier run: %s\n"
                             % " ".join(left))
            r = run(APT + ["purge"] + left, timeout=APT_TIMEOUT_S)
            assert r.returncode == 0, "purge failed: %s%s" % (r.stdout,
                                                              r.stderr)
        cls.pkg_build = os.path.join(OPTS.build_dir, "package")
        cls.build_error = None
        if OPTS.step == "build":
            cmd = [os.path.join(OPTS.source_dir, "scripts", "package.sh"),
                   cls.pkg_build]
            if OPTS.cc:
                cmd.append("-DCMAKE_C_COMPILER=" + OPTS.cc)
            r = run(cmd, timeout=BUILD_TIMEOUT_S)
            if r.returncode != 0:
                cls.build_error = ("scripts/package.sh failed:\n%s%s"
                                   % (r.stdout, r.stderr))
            cls.debs = sorted(r.stdout.split()) if r.returncode == 0 else []
        else:
            # The packages the step `build` (test package_build) made.
            d = os.path.join(cls.pkg_build, "packages")
            cls.debs = sorted(os.path.join(d, n) for n in os.listdir(d)
                              if n.endswith(".deb")) \
                if os.path.isdir(d) else []
            if not cls.debs:
                cls.build_error = ("no .deb in %s: run the step build "
                                   "(test package_build) first" % d)
        cls.ma = check_debs.multiarch(cls.arch())

    @classmethod
    def arch(cls):
        return run(["dpkg", "--print-architecture"]).stdout.strip()

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        left = installed(PACKAGES) if OPTS.step == "install" else []
        problems = []
        if left:
            r = run(APT + ["purge"] + left, timeout=APT_TIMEOUT_S)
            if r.returncode != 0:
                problems.append("purge of %s failed: %s" % (left, r.stderr))
        # What a failed purge left of paths that did not exist before.
        for path in sorted(cls.created, reverse=True):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)
        if OPTS.step == "install" and not cls.had_user and \
                user_exists(USER):
            r = run(["userdel", USER])
            if r.returncode != 0:
                problems.append("userdel %s: %s" % (USER, r.stderr))
        for d in SYSTEM_DIRS if OPTS.step == "install" else []:
            if not cls.had_dirs[d] and os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError as e:
                    problems.append("%s left behind: %s" % (d, e))
        if os.environ.get("SECMQ_TEST_KEEP") == "1":
            sys.stderr.write("kept %s\n" % cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        fcntl.flock(cls.lock, fcntl.LOCK_UN)
        cls.lock.close()
        if problems:
            raise AssertionError("cleanup: " + "; ".join(problems))

    def setUp(self):
        if self.build_error:
            self.fail(self.build_error)
        self.assertEqual(len(self.debs), len(PACKAGES), self.debs)

    def needs_step(self, step):
        if OPTS.step != step:
            self.skipTest("part of the step %s" % step)

    # -- without installing ----------------------------------------------

    def test_components_cover_every_file(self):
        """Each installed file belongs to one of the packaged components;
        the unnamed component installs nothing."""
        self.needs_step("build")
        def files(component):
            dest = os.path.join(self.tmp, "comp", component or "all")
            cmd = ["cmake", "--install", self.pkg_build, "--prefix", dest]
            if component:
                cmd += ["--component", component]
            r = run(cmd)
            self.assertEqual(r.returncode, 0, r.stderr)
            found = set()
            for d, _, names in os.walk(dest):
                for n in names:
                    found.add(os.path.relpath(os.path.join(d, n), dest))
            return found
        everything = files(None)
        self.assertIn("lib/systemd/system/secmq-sub@.service", everything)
        seen = {}
        for c in COMPONENTS:
            for f in files(c):
                self.assertNotIn(f, seen, "%s in components %s and %s"
                                 % (f, seen.get(f), c))
                seen[f] = c
        self.assertEqual(sorted(everything - set(seen)), [],
                         "installed but in no packaged component")
        self.assertEqual(sorted(files("Unspecified")), [])

    def test_debs(self):
        """check_debs.py: fields, Depends, modes, ELF, no RUNPATH."""
        self.needs_step("build")
        c = check_debs.Checker(self.arch(), OPTS.version)
        self.assertEqual(c.check_all(self.debs), [])

    # -- installed -----------------------------------------------------------

    def test_install_run_purge(self):
        self.needs_step("install")
        owned = self.install()
        self.check_installed(owned)
        self.check_unit_file()
        self.demo()
        kept = tree_digest([os.path.join(self.tmp, d)
                            for d in ("pki", "sam", "alice", "db")])
        self.assertGreater(len(kept), 5)
        self.purge(owned)
        self.assertEqual(tree_digest([os.path.join(self.tmp, d) for d in
                                      ("pki", "sam", "alice", "db")]),
                         kept, "purge changed the user's files")

    def install(self):
        """apt-get install the .debs (after a simulation that removes
        nothing); return {package: dpkg -L list}."""
        sim = run(APT + ["-s", "install"] + self.debs, timeout=APT_TIMEOUT_S)
        self.assertEqual(sim.returncode, 0, sim.stdout + sim.stderr)
        self.assertNotRegex(sim.stdout, r"(?m)^Remv ",
                            "installing the packages would remove others")
        # Which of the packages' paths exist already (shared directories);
        # the others are the test's to remove if a purge leaves them.
        self.preexisting = set()
        for deb in self.debs:
            for _, _, path, _ in check_debs.contents(deb):
                if os.path.lexists("/" + path):
                    self.preexisting.add("/" + path)
                else:
                    type(self).created.append("/" + path)
        r = run(APT + ["install", "--no-install-recommends"] + self.debs,
                timeout=APT_TIMEOUT_S,
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(sorted(installed(PACKAGES)), sorted(PACKAGES))
        owned = {}
        for p in PACKAGES:
            r = run(["dpkg", "-L", p])
            self.assertEqual(r.returncode, 0, r.stderr)
            owned[p] = [l for l in r.stdout.splitlines() if l != "/."]
        return owned

    def check_installed(self, owned):
        ma = self.ma
        want = {
            "libsecmq0": ["/usr/lib/%s/libsecmq.so.0" % ma],
            "libsecmq-dev": ["/usr/include/secmq.h",
                             "/usr/lib/%s/pkgconfig/secmq.pc" % ma],
            "secmq-tools": ["/usr/bin/" + t for t in check_debs.TOOLS] +
                           ["/usr/lib/systemd/system/secmq-sub@.service"],
            "secmq-broker-plugin": [
                "/usr/lib/%s/mosquitto/secmq_auth.so" % ma,
                "/usr/bin/secmq-admin",
                "/usr/share/doc/secmq-broker-plugin/examples/secmq.conf"],
            "secmq-authd": ["/usr/bin/secmq-authd",
                            "/usr/lib/systemd/system/secmq-authd.service"],
            "secmq-bench": ["/usr/bin/secmq-bench"],
        }
        for p, paths in want.items():
            for path in paths:
                self.assertIn(path, owned[p], "dpkg -L %s" % p)
                self.assertTrue(os.path.exists(path), path)
        # The loader finds the library through its cache (the trigger ran),
        # and the tools resolve it there, without RUNPATH or LD_LIBRARY_PATH.
        lib = "/usr/lib/%s/libsecmq.so.0" % ma
        self.assertEqual(self.cached("libsecmq.so.0"), [lib],
                         "ldconfig -p: libsecmq.so.0 not in the cache")
        for t in check_debs.TOOLS + ["secmq-admin", "secmq-authd",
                                     "secmq-bench"]:
            r = run(["/usr/bin/" + t, "--help"], env=clean_env())
            self.assertEqual(r.returncode, 0, "%s --help: %s" % (t, r.stderr))
        r = run(["ldd", "/usr/bin/secmq-sub"], env=clean_env())
        m = re.search(r"^\s*libsecmq\.so\.0 => (\S+)", r.stdout, re.M)
        self.assertIsNotNone(m, "ldd /usr/bin/secmq-sub: %s" % r.stdout)
        self.assertEqual(os.path.realpath(m.group(1)), os.path.realpath(lib))
        # The Python package loads the installed library (run away from
        # the source tree, with no PYTHONPATH or SECMQ_LIBRARY).
        r = run(["/usr/bin/python3", "-c", "import secmq; print(secmq."
                 "library_version); print(secmq.library_path)"],
                env=clean_env(), cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        version, path = r.stdout.split()
        self.assertEqual(version, OPTS.version)
        self.assertEqual(os.path.realpath(path), os.path.realpath(lib))
        # pkg-config finds the installed library with no PKG_CONFIG_PATH.
        r = run(["pkg-config", "--modversion", "secmq"], env=clean_env())
        self.assertEqual(r.stdout.strip(), OPTS.version, r.stderr)
        # The system user, as postinst and docs/DEPLOY.md say.
        u = pwd.getpwnam(USER)
        self.assertEqual(u.pw_dir, USER_HOME)
        self.assertLess(u.pw_uid, 1000, "not a system user")
        st = os.stat(USER_HOME)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (u.pw_uid, 0o700))
        self.assertTrue(os.path.isdir("/etc/secmq/sub"))

    def cached(self, soname):
        """Where the loader cache (ldconfig -p) has soname, as /usr paths
        (Debian 12 is merged-/usr: it may say /lib/<triplet>)."""
        out = []
        for line in run(["ldconfig", "-p"]).stdout.splitlines():
            m = re.match(r"^\s*(\S+) \(.*\) => (\S+)$", line)
            if m and m.group(1) == soname:
                path = m.group(2)
                if not path.startswith("/usr/") and \
                        os.path.samefile(path, "/usr" + path):
                    path = "/usr" + path
                out.append(path)
        return out

    def check_unit_file(self):
        unit = "/usr/lib/systemd/system/secmq-sub@.service"
        with open(unit) as f:
            text = f.read()
        for line in ("User=secmq", "Group=secmq",
                     "Environment=HOME=%s" % USER_HOME,
                     "EnvironmentFile=/etc/secmq/sub/%i.env",
                     "ReadWritePaths=%s" % USER_HOME,
                     "WantedBy=multi-user.target", "Restart=always"):
            self.assertIn("\n" + line + "\n", text, "unit lacks " + line)
        if shutil.which("systemd-analyze"):
            r = run(["systemd-analyze", "verify", "--man=no", unit])
            self.assertEqual(r.returncode, 0, "systemd-analyze verify: %s%s"
                             % (r.stdout, r.stderr))
        self.unit_text = text

    # -- the demo from installed files ---------------------------------------

    def tool(self, name, args, env=None, as_user=None, input=None):
        cmd = ["/usr/bin/" + name] + [str(a) for a in args]
        if as_user:
            cmd = ["setpriv", "--reuid", as_user, "--regid", as_user,
                   "--init-groups", "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, input=input,
                           timeout=STEP_TIMEOUT_S,
                           env=env or clean_env(HOME=self.tmp))
        self.assertEqual(r.returncode, 0, "%s failed (%d): %s%s"
                         % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def secret_file(self, path, text, owner=None):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if owner:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def demo(self):
        t = self.tmp
        u = pwd.getpwnam(USER)
        pki, db = os.path.join(t, "pki"), os.path.join(t, "db")
        sam, alice = os.path.join(t, "sam"), os.path.join(t, "alice")
        os.makedirs(db, 0o700)
        os.makedirs(sam, 0o700)
        self.tool("secmq-certs", ["dev", "--dir", pki])
        auth = os.path.join(db, "auth.db")
        self.tool("secmq-admin", ["--db", auth, "init"])
        pw = {n: hashlib.sha256(os.urandom(16)).hexdigest()[:24]
              for n in ("sam", "alice")}
        for name, rule in (("sam", "write"), ("alice", "read")):
            self.tool("secmq-admin", ["--db", auth, "user", "add", name,
                                      "--password-file", "-"],
                      input=pw[name] + "\n")
            self.tool("secmq-admin", ["--db", auth, "acl", "add", "--user",
                                      name, "status", rule])
        port = self.start_broker(pki, auth)

        # Keyrings: sam's as root, alice's as the packaged system user in
        # her own home, as on the Pi.
        os.makedirs(alice, 0o700)
        os.chown(alice, u.pw_uid, u.pw_gid)
        as_alice = clean_env(HOME=alice)
        self.tool("secmq-keys", ["init", "--keyring", sam + "/keys",
                                 "--name", "sam"])
        sam_pub = self.tool("secmq-keys", ["export", "--keyring",
                                           sam + "/keys"])
        self.tool("secmq-keys", ["init", "--keyring", alice + "/keys",
                                 "--name", "alice"],
                  env=as_alice, as_user=USER)
        alice_pub = self.tool("secmq-keys", ["export", "--keyring",
                                             alice + "/keys"],
                              env=as_alice, as_user=USER)
        for path, text in ((sam + "/sam.pub", sam_pub),
                           (sam + "/alice.pub", alice_pub)):
            with open(path, "w") as f:
                f.write(text)
        self.tool("secmq-keys", ["channel", "create", "--keyring",
                                 sam + "/keys", "--topic", "status",
                                 "--publisher", sam + "/sam.pub",
                                 "--subscriber", sam + "/alice.pub",
                                 "--out", sam + "/grants"])
        inbox = os.path.join(alice, "in")
        os.makedirs(inbox, 0o700)
        for src in (sam + "/sam.pub", sam + "/grants/alice.grant",
                    pki + "/ca.crt"):
            shutil.copy(src, inbox)
        for f in os.listdir(inbox) + [""]:
            os.chown(os.path.join(inbox, f), u.pw_uid, u.pw_gid)
        self.tool("secmq-keys", ["import", "--keyring", alice + "/keys",
                                 inbox + "/sam.pub", inbox + "/alice.grant"],
                  env=as_alice, as_user=USER)

        # alice's client.conf where the unit's HOME has it, her password
        # file beside it, both the user's and 0600.
        conf_dir = os.path.join(alice, ".config", "secmq")
        os.makedirs(conf_dir, 0o700)
        for d in (os.path.join(alice, ".config"), conf_dir):
            os.chown(d, u.pw_uid, u.pw_gid)
        self.secret_file(alice + "/alice.pw", pw["alice"] + "\n", u)
        self.secret_file(conf_dir + "/client.conf",
                         "-h 127.0.0.1\n-p %d\n--cafile %s/ca.crt\n-u alice\n"
                         "--pw-file %s/alice.pw\n--keyring %s/keys\n"
                         % (port, inbox, alice, alice), u)
        self.secret_file(sam + "/sam.pw", pw["sam"] + "\n")

        sub = self.start_unit(alice, u)
        self.tool("secmq-pub", ["--keyring", sam + "/keys", "-h",
                                "127.0.0.1", "-p", port, "--cafile",
                                pki + "/ca.crt", "-u", "sam", "--pw-file",
                                sam + "/sam.pw", "-i", "sam-laptop", "-t",
                                "status", "-q", "1", "-m", "door closed"],
                  env=clean_env(HOME=sam))
        m = self.wait_text(self.sub_out, 0, r"^(.*)\n", sub)
        sub.kill()
        sub.wait(timeout=LINE_TIMEOUT_S)
        line = m.group(1) if m else self.read_from(self.sub_out, 0)
        self.assertEqual(line, EXPECTED, "the unit's secmq-sub printed %r; "
                         "stderr: %s" % (line, self.read_from(self.sub_err, 0)))
        self.broker.terminate()
        self.broker.wait(timeout=LINE_TIMEOUT_S)

    def start_broker(self, pki, auth):
        """/usr/sbin/mosquitto with the packaged example config, its paths
        moved into the temp dir and its listener on a free loopback port."""
        with open("/usr/share/doc/secmq-broker-plugin/examples/"
                  "secmq.conf") as f:
            conf = f.read()
        plugin = "/usr/lib/%s/mosquitto/secmq_auth.so" % self.ma
        self.assertIn("\nplugin %s\n" % plugin, conf)
        port = free_port()
        for a, b in (("/var/lib/secmq/auth.db", auth),
                     ("/etc/mosquitto/certs/broker.", pki + "/broker."),
                     ("/etc/mosquitto/certs/ca.crt", pki + "/ca.crt"),
                     ("listener 8883", "listener %d 127.0.0.1" % port)):
            self.assertIn(a, conf)
            conf = conf.replace(a, b)
        self.log = os.path.join(self.tmp, "mosquitto.log")
        conf = ("user root\n" + conf + "log_dest file %s\nlog_type all\n"
                % self.log)
        path = os.path.join(self.tmp, "mosquitto.conf")
        with open(path, "w") as f:
            f.write(conf)
        out = open(os.path.join(self.tmp, "mosquitto.out"), "w")
        self.broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", path],
                                       stdout=out, stderr=out,
                                       stdin=subprocess.DEVNULL,
                                       env=clean_env())
        out.close()
        self.procs.append(self.broker)
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.broker.poll() is not None:
                self.fail("mosquitto exited %d: %s" % (self.broker.returncode,
                                                       self.broker_output()))
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return port
            except OSError:
                time.sleep(0.1)
        self.fail("mosquitto did not listen on %d: %s"
                  % (port, self.broker_output()))

    def broker_output(self):
        text = ""
        for name in ("mosquitto.out", "mosquitto.log"):
            p = os.path.join(self.tmp, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()[-3000:]
        return text

    def start_unit(self, home, u):
        """secmq-sub as the unit starts it: its ExecStart with the values of
        the packaged example instance file, as the unit's user, with the
        unit's HOME and runtime directory moved into the temp dir."""
        m = re.search(r"^ExecStart=(.*)$", self.unit_text, re.M)
        with open("/usr/share/doc/secmq-tools/examples/status.env") as f:
            values = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
        self.assertEqual(values, {"SECMQ_TOPIC": "status",
                                  "SECMQ_CLIENT_ID": "alice-status"})
        line = m.group(1)
        for k, v in values.items():
            line = line.replace("${%s}" % k, v)
        self.assertNotIn("${", line)
        argv = shlex.split(line.replace("%%", "%"))
        self.assertEqual(argv[0], "/usr/bin/secmq-sub")
        run_dir = os.path.join(home, "run")
        os.makedirs(run_dir, 0o700)
        os.chown(run_dir, u.pw_uid, u.pw_gid)
        since = os.path.getsize(self.log)
        self.sub_out = os.path.join(self.tmp, "sub.out")
        self.sub_err = os.path.join(self.tmp, "sub.err")
        with open(self.sub_out, "w") as out, open(self.sub_err, "w") as err:
            p = subprocess.Popen(["setpriv", "--reuid", USER, "--regid", USER,
                                  "--init-groups", "--"] + argv,
                                 stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL,
                                 env=clean_env(HOME=home,
                                               XDG_RUNTIME_DIR=run_dir))
        self.procs.append(p)
        if self.wait_text(self.log, since, r"Sending SUBACK to alice-status\b",
                          p) is None:
            self.fail("no SUBACK to alice-status in the broker log; the "
                      "unit's secmq-sub (exit %s) said: %s"
                      % (p.poll(), self.read_from(self.sub_err, 0)))
        return p

    @staticmethod
    def read_from(path, offset):
        with open(path, errors="replace") as f:
            f.seek(offset)
            return f.read()

    def wait_text(self, path, offset, pattern, proc):
        """Wait (bounded) until the text proc writes to path from offset on
        matches pattern; the match, or None if proc exited or time ran
        out first."""
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while time.monotonic() < deadline:
            m = re.search(pattern, self.read_from(path, offset))
            if m:
                return m
            if proc.poll() is not None:
                return re.search(pattern, self.read_from(path, offset))
            time.sleep(0.1)
        return None

    # -- purge ---------------------------------------------------------------

    def purge(self, owned):
        r = run(APT + ["purge"] + PACKAGES, timeout=APT_TIMEOUT_S,
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(installed(PACKAGES), [])
        left = [p for paths in owned.values() for p in paths
                if p not in self.preexisting and os.path.lexists(p)]
        self.assertEqual(left, [], "left behind by apt-get purge")
        self.assertEqual(self.cached("libsecmq.so.0"), [],
                         "ldconfig -p still lists libsecmq.so.0")
        # postrm removes the directories postinst made when empty; the user
        # stays (docs/DEPLOY.md: it may still own files; userdel by hand).
        for d in SYSTEM_DIRS:
            if not self.had_dirs[d]:
                self.assertFalse(os.path.exists(d), d + " left behind")
        self.assertTrue(user_exists(USER), "purge removed the user secmq")


def main():
    global OPTS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--step", choices=("build", "install"), required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--cc", default=None)
    OPTS, rest = ap.parse_known_args()
    if OPTS.step == "install" and os.geteuid() != 0:
        sys.stderr.write("test_packages.py: SKIPPED: it installs packages "
                         "with apt-get and needs root\n")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
