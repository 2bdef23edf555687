#!/usr/bin/python3
"""test_readme.py -- every program shown in README.md is compiled and run.

The code blocks are read from README.md (and docs/*.md) as a reader sees
them:
  - every ```c block that is a program (has main) is compiled exactly as
    shown, with -std=c11 -pedantic -Wall -Werror, against the build tree's
    libsecmq, then run against a real broker (harness/broker.py) by the
    recipe RUNS names for it; a program without a recipe fails the test;
  - every ```python block that is a program (imports secmq) is compiled
    and run the same way (RUNS_PY), with the package from python/ and
    the build's libsecmq;
  - every secmq-* command line of README.md's ```sh blocks is checked
    against the tool's --help: its command word and each option exist
    (nothing connects anywhere);
  - the ```sh blocks that can run on their own (RUNNABLE_SH: the
    development PKI, the auth database) are run in a temp dir with the
    build's tools, and what they made is checked;
  - scripts/demo.sh (the README's first block) runs on this build and
    must pass its own checks; scripts/test.sh (which runs this test) is
    checked to exist and parse.

Run by ctest (test_readme); SECMQ_BIN_DIR names the build's bin/,
SECMQ_TEST_CC the C compiler, SECMQ_TEST_SANITIZE=1 an ASan build.
"""

import glob
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tty
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import broker as brokermod  # noqa: E402
from testcase import BrokerTestCase, emulated  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))
README = os.path.join(SOURCE_DIR, "README.md")
STEP_TIMEOUT_S = 60
DEMO_TIMEOUT_S = 120
CFLAGS = ["-std=c11", "-pedantic", "-Wall", "-Werror"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
TOOLS = ("secmq-pub", "secmq-sub", "secmq-keys", "secmq-file",
         "secmq-admin", "secmq-certs", "secmq-bench")


def bin_dir():
    return brokermod.default_bin_dir()


def lib_dir():
    return os.path.normpath(os.path.join(bin_dir(), "..", "lib"))


def code_blocks(path):
    """[(lang, first line number, text)] of the fenced blocks in path."""
    blocks = []
    lang = None
    start = 0
    lines = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            m = re.match(r"^```\s*([\w+-]*)\s*$", line)
            if m and lang is None:
                lang, start, lines = m.group(1).lower(), n + 1, []
            elif m and lang is not None and m.group(1) == "":
                blocks.append((lang, start, "".join(lines)))
                lang = None
            elif lang is not None:
                lines.append(line)
    if lang is not None:
        raise AssertionError("%s: block opened at line %d never closed"
                             % (path, start - 1))
    return blocks


def doc_programs(want_lang, marker):
    """[(file, line, text)] of the ```want_lang blocks of README.md and
    docs/*.md in which regex marker matches (what makes them programs)."""
    out = []
    for path in [README] + sorted(glob.glob(os.path.join(SOURCE_DIR, "docs",
                                                         "*.md"))):
        for lang, line, text in code_blocks(path):
            if lang == want_lang and re.search(marker, text):
                out.append((os.path.relpath(path, SOURCE_DIR), line, text))
    return out


def c_programs():
    """The ```c blocks with a main()."""
    return doc_programs("c", r"\bmain\s*\(")


def python_programs():
    """The ```python blocks that import secmq."""
    return doc_programs("python", r"(?m)^import secmq$")


def python_env(base):
    """base with the package from python/ and the build's libsecmq."""
    env = dict(base)
    env["PYTHONPATH"] = os.path.join(SOURCE_DIR, "python")
    env["SECMQ_LIBRARY"] = os.path.join(lib_dir(), "libsecmq.so.0")
    return env


def compile_c(text, out_dir, name):
    """Compile text (a whole program) against the build tree's libsecmq.
    Returns (exe path, CompletedProcess)."""
    src = os.path.join(out_dir, name + ".c")
    exe = os.path.join(out_dir, name)
    with open(src, "w") as fh:
        fh.write(text)
    cc = os.environ.get("SECMQ_TEST_CC") or "cc"
    flags = list(CFLAGS)
    if os.environ.get("SECMQ_TEST_SANITIZE") == "1":
        flags += SANITIZE_FLAGS
    cmd = ([cc] + flags +
           ["-I", os.path.join(SOURCE_DIR, "libsecmq", "include"),
            src, "-o", exe, "-L", lib_dir(), "-lsecmq",
            "-Wl,-rpath," + lib_dir()])
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    return exe, r, cmd


def command_lines(text):
    """Logical lines of a sh block: continuations joined, comments and
    blank lines dropped. Yields (line, tokens)."""
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        lex = shlex.shlex(raw, posix=True, punctuation_chars="|&;<>")
        lex.whitespace_split = True
        lex.commenters = "#"
        try:
            tokens = list(lex)
        except ValueError as e:
            raise AssertionError("cannot split %r: %s" % (raw, e))
        if tokens:
            yield raw.strip(), tokens


def secmq_commands(tokens):
    """The secmq-* commands in one shell line (split at | ; && ||), each
    as [tool, args...] with redirections removed."""
    cmds, cur = [], []
    for t in tokens + [";"]:
        if t in ("|", ";", "&&", "||", "&"):
            if cur:
                cmds.append(cur)
            cur = []
        else:
            cur.append(t)
    out = []
    for c in cmds:
        args, skip = [], False
        for t in c:
            if skip:
                skip = False
            elif t in ("<", ">", ">>", "2>"):
                skip = True
            else:
                args.append(t)
        if args and os.path.basename(args[0]) in TOOLS:
            out.append([os.path.basename(args[0])] + args[1:])
    return out


class HelpTexts:
    """--help of each tool (and of secmq-file send / recv), cached."""

    def __init__(self):
        self.cache = {}

    def get(self, tool, sub=None):
        key = (tool, sub)
        if key not in self.cache:
            cmd = [os.path.join(bin_dir(), tool)]
            if sub:
                cmd.append(sub)
            r = subprocess.run(cmd + ["--help"], capture_output=True,
                               text=True, timeout=STEP_TIMEOUT_S,
                               stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                raise AssertionError("%s --help: exit %d %s"
                                     % (" ".join(cmd), r.returncode,
                                        r.stderr))
            self.cache[key] = r.stdout + r.stderr
        return self.cache[key]


def read_line(fd, timeout):
    """One line from fd (a process's stdout), waiting at most timeout
    seconds; what was read so far (maybe "") when the time is up or the
    process exits (a pty's reads then fail with EIO)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        try:
            chunk = os.read(fd, 1)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf.decode("utf-8", "replace")


def mentions(help_text, opt):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt),
                     help_text) is not None


def takes_value(help_text, opt):
    """The help shows opt with an argument: `--db FILE`, `-t, --topic
    TOPIC`, `--grace SECONDS`, `--opt=VALUE`."""
    return re.search(r"(?<![\w-])%s(?:, --[\w-]+)?[ =]\[?[A-Z<]"
                     % re.escape(opt), help_text) is not None


# Programs in the docs, and how each is run. The key is a line the block
# must contain; the value names the ReadmeRun method that runs it.
RUNS = {
    'secmq_client_subscribe(c, NULL, "status", 1)': "run_status_watcher",
}

# Python programs in the docs and how each is run (as RUNS).
RUNS_PY = {
    'client.subscribe("status", qos=1)': "run_python_status_watcher",
}

# README ```sh blocks that can run on their own, by a line they contain.
RUNNABLE_SH = {
    "secmq-certs dev --dir pki": "run_pki_block",
    "secmq-admin --db auth.db init": "run_admin_block",
}


class ReadmeStatic(unittest.TestCase):
    """What needs no broker: compiling, command lines, runnable sh."""

    @classmethod
    def setUpClass(cls):
        cls.help = HelpTexts()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="secmq-readme-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_c_programs_compile_as_shown(self):
        progs = c_programs()
        self.assertTrue(any(f == "README.md" for f, _, _ in progs),
                        "no C program found in README.md: the extraction "
                        "is broken")
        for i, (path, line, text) in enumerate(progs):
            with self.subTest(block="%s:%d" % (path, line)):
                exe, r, cmd = compile_c(text, self.tmp, "prog%d" % i)
                self.assertEqual(r.returncode, 0,
                                 "%s line %d does not compile as shown:\n"
                                 "%s\n%s" % (path, line, " ".join(cmd),
                                             r.stderr))
                recipes = [k for k in RUNS if k in text]
                self.assertEqual(len(recipes), 1,
                                 "%s line %d: a program with no run recipe "
                                 "in test_readme.py (RUNS)" % (path, line))

    def test_python_programs_compile(self):
        progs = python_programs()
        self.assertTrue(any(f == "README.md" for f, _, _ in progs),
                        "no Python program found in README.md")
        for path, line, text in progs:
            with self.subTest(block="%s:%d" % (path, line)):
                compile(text, "%s:%d" % (path, line), "exec")
                self.assertEqual(len([k for k in RUNS_PY if k in text]), 1,
                                 "%s line %d: a program with no run recipe "
                                 "in test_readme.py (RUNS_PY)" % (path, line))

    def test_secmq_command_lines_parse(self):
        """Every secmq-* command in README.md's sh blocks names a command
        and options its --help knows."""
        checked = 0
        for lang, line, text in code_blocks(README):
            if lang not in ("sh", "bash", "shell", "console"):
                continue
            for raw, tokens in command_lines(text):
                for cmd in secmq_commands(tokens):
                    with self.subTest(line=raw):
                        self.check_command(cmd, raw, line)
                        checked += 1
        self.assertGreater(checked, 20, "too few secmq commands found")

    def check_command(self, cmd, raw, block_line):
        tool, args = cmd[0], cmd[1:]
        self.assertTrue(os.access(os.path.join(bin_dir(), tool), os.X_OK),
                        "%s is not built" % tool)
        sub = None
        if tool == "secmq-file" and args and args[0] in ("send", "recv"):
            sub = args[0]
        text = self.help.get(tool, sub)
        where = "README.md block at line %d: %r" % (block_line, raw)
        positional = []
        i = 0
        while i < len(args):
            a = args[i]
            if a == "...":              # "secmq-pub ... -t status": elided
                i += 1
                continue
            if a.startswith("-") and a != "-":
                opt = a.split("=", 1)[0]
                self.assertTrue(mentions(text, opt),
                                "%s: %s has no option %s" % (where, tool,
                                                             opt))
                if "=" not in a and takes_value(text, opt):
                    i += 1
                i += 1
                continue
            positional.append(a)
            i += 1
        if tool in ("secmq-keys", "secmq-admin", "secmq-certs",
                    "secmq-file"):
            self.assertTrue(positional, "%s: no command" % where)
            word = positional[0]
            self.assertTrue(re.search(r"(?m)^(?:\s+|Usage:\s+\S+\s+)%s\b"
                                      % re.escape(word), text),
                            "%s: %s has no command %r (see its --help)"
                            % (where, tool, word))

    def test_runnable_sh_blocks(self):
        found = set()
        for lang, line, text in code_blocks(README):
            if lang != "sh":
                continue
            for marker, method in RUNNABLE_SH.items():
                if marker in text:
                    found.add(marker)
                    with self.subTest(block=line):
                        getattr(self, method)(text, line)
        self.assertEqual(sorted(found), sorted(RUNNABLE_SH),
                         "runnable blocks no longer in README.md")

    def test_readme_scripts(self):
        """The README's first block: ./scripts/demo.sh is run (on this
        build: SECMQ_DEMO_PREBUILT=1, in a temp SECMQ_DEMO_DIR) and must
        finish with its checks passed; ./scripts/test.sh is what runs this
        test, so it is only checked to exist and parse (bash -n)."""
        scripts = []
        for lang, line, text in code_blocks(README):
            if lang != "sh":
                continue
            for raw, tokens in command_lines(text):
                if re.match(r"^\./scripts/[\w-]+\.sh$", tokens[0]):
                    scripts.append(tokens[0])
        self.assertIn("./scripts/demo.sh", scripts)
        self.assertIn("./scripts/test.sh", scripts)
        for sc in scripts:
            path = os.path.join(SOURCE_DIR, sc)
            self.assertTrue(os.access(path, os.X_OK), "%s not executable"
                            % sc)
            r = subprocess.run(["bash", "-n", path], capture_output=True,
                               text=True, timeout=STEP_TIMEOUT_S)
            self.assertEqual(r.returncode, 0, "%s: %s" % (sc, r.stderr))
        if os.environ.get("SECMQ_TEST_SANITIZE") == "1":
            self.skipTest("demo.sh loads the plugin into an uninstrumented "
                          "mosquitto: not run in a sanitizer build")
        env = dict(os.environ, SECMQ_BUILD_DIR=os.path.dirname(bin_dir()),
                   SECMQ_DEMO_PREBUILT="1",
                   SECMQ_DEMO_DIR=os.path.join(self.tmp, "demo"),
                   SECMQ_MOSQUITTO=brokermod.plugin_mosquitto())
        try:
            r = subprocess.run([os.path.join(SOURCE_DIR, "scripts",
                                             "demo.sh")],
                               capture_output=True, text=True, env=env,
                               timeout=DEMO_TIMEOUT_S,
                               stdin=subprocess.DEVNULL,
                               preexec_fn=brokermod.die_with_parent)
        except subprocess.TimeoutExpired as e:
            self.fail("demo.sh did not finish in %d s: %r %r"
                      % (DEMO_TIMEOUT_S, e.stdout, e.stderr))
        self.assertEqual(r.returncode, 0, "demo.sh failed (exit %d):\n%s\n%s"
                         % (r.returncode, r.stdout[-4000:],
                            r.stderr[-4000:]))
        self.assertIn("== Done.", r.stdout)
        self.assertIn("(identical;", r.stdout)
        # Each refusal the README promises is shown for its own reason,
        # not masked by another (e.g. the login guard's pause after the
        # wrong password).
        for line in ("secmq-sub: the broker refused every subscription "
                     "(not authorised for #)",
                     "denied subscribe to '#' for client 'alice-wild'",
                     "client id does not match the user's pattern",
                     "denied publish to 'status' for client 'alice-",
                     "not a signed secmq envelope",
                     "the broker's certificate is not signed by a trusted "
                     "CA"):
            self.assertIn(line, r.stdout)

    def run_sh(self, text, line, stdin=""):
        env = dict(os.environ, PATH=bin_dir() + os.pathsep +
                   os.environ.get("PATH", "/usr/bin:/bin"))
        script = "set -eu\n" + text.replace("build/bin/", bin_dir() + "/")
        r = subprocess.run(["bash", "-c", script], cwd=self.tmp, env=env,
                           capture_output=True, text=True, input=stdin,
                           timeout=STEP_TIMEOUT_S)
        self.assertEqual(r.returncode, 0, "README.md block at line %d "
                         "failed (exit %d):\n%s%s"
                         % (line, r.returncode, r.stdout, r.stderr))
        return r

    def run_pki_block(self, text, line):
        r = self.run_sh(text, line)
        pki = os.path.join(self.tmp, "pki")
        for f in ("ca.crt", "ca.key", "broker.crt", "broker.key", "sam.crt",
                  "alice.crt", "mqtt1.crt", "bob.crt", "bob.key"):
            self.assertTrue(os.path.isfile(os.path.join(pki, f)),
                            "the PKI block did not make pki/%s" % f)
        self.assertEqual(os.stat(os.path.join(pki, "bob.key")).st_mode
                         & 0o077, 0, "bob.key readable by others")
        self.assertRegex(r.stdout, r"(?m)^sha256:[A-Za-z0-9+/]{43}=$",
                         "the pin line")

    def run_admin_block(self, text, line):
        # As the block's comment says: one line, mode 0600 (secmq-admin
        # refuses a password file others can read).
        fd = os.open(os.path.join(self.tmp, "alice.pw"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("alice-secret-%d\n" % os.getpid())
        # `user add sam` reads its password from stdin off a terminal.
        self.run_sh(text, line, stdin="sam-secret-%d\n" % os.getpid())
        r = subprocess.run([os.path.join(bin_dir(), "secmq-admin"), "--db",
                            os.path.join(self.tmp, "auth.db"), "acl",
                            "list"], capture_output=True, text=True,
                           timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"user sam\s+write\s+status")
        self.assertRegex(r.stdout, r"user alice\s+read\s+status")


class ReadmeRun(BrokerTestCase):
    """The README's programs against a real broker (password file, TLS)."""

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="secmq-readme-run-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_programs_run(self):
        ran = 0
        for i, (path, line, text) in enumerate(c_programs()):
            recipe = [v for k, v in RUNS.items() if k in text]
            if len(recipe) != 1:
                self.fail("%s line %d: no run recipe (RUNS)" % (path, line))
            with self.subTest(block="%s:%d" % (path, line)):
                getattr(self, recipe[0])(text, "%s:%d" % (path, line), i)
                ran += 1
        self.assertGreater(ran, 0)

    def test_python_programs_run(self):
        if os.environ.get("SECMQ_TEST_SANITIZE") == "1":
            self.skipTest("an ASan libsecmq cannot be loaded into an "
                          "uninstrumented python3: not run in a sanitizer "
                          "build")
        if emulated(os.path.join(lib_dir(), "libsecmq.so.0")):
            self.skipTest("libsecmq is of another architecture than "
                          "/usr/bin/python3 (a cross build): it cannot be "
                          "loaded; not run in the arm64 pass")
        ran = 0
        for i, (path, line, text) in enumerate(python_programs()):
            recipe = [v for k, v in RUNS_PY.items() if k in text]
            if len(recipe) != 1:
                self.fail("%s line %d: no run recipe (RUNS_PY)"
                          % (path, line))
            with self.subTest(block="%s:%d" % (path, line)):
                getattr(self, recipe[0])(text, "%s:%d" % (path, line), i)
                ran += 1
        self.assertGreater(ran, 0)

    def keys_tool(self, *args):
        r = subprocess.run([os.path.join(bin_dir(), "secmq-keys")] +
                           list(args), capture_output=True, text=True,
                           timeout=STEP_TIMEOUT_S, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, "secmq-keys %s: %s"
                         % (" ".join(args), r.stderr))
        return r.stdout

    def run_python_status_watcher(self, text, where, i):
        """The Python example: alice's keyring (~/.secmq/alice, HOME in
        the temp dir) holds sam's grant for `status`; sam publishes a
        sealed message with secmq-pub and the program prints it with the
        verified sender; a wrong password makes connect() raise
        secmq.AuthError (exit 1, the reason on stderr)."""
        text = self.substitute(text, where, 'client.connect("broker.local")',
                               'client.connect("127.0.0.1", %d)'
                               % self.broker.port)
        prog = os.path.join(self.tmp, "watch%d.py" % i)
        with open(prog, "w") as fh:
            fh.write(text)
        shutil.copy(self.broker.cafile, os.path.join(self.tmp, "ca.crt"))
        home = os.path.join(self.tmp, "home")
        keys = os.path.join(home, ".secmq")
        os.makedirs(keys, 0o700)
        for who in ("sam", "alice"):
            self.keys_tool("init", "--keyring", os.path.join(keys, who),
                           "--name", who)
            with open(os.path.join(self.tmp, who + ".pub"), "w") as fh:
                fh.write(self.keys_tool("export", "--keyring",
                                        os.path.join(keys, who)))
        grants = os.path.join(self.tmp, "grants")
        self.keys_tool("channel", "create", "--keyring",
                       os.path.join(keys, "sam"), "--topic", "status",
                       "--publisher", os.path.join(self.tmp, "sam.pub"),
                       "--subscriber", os.path.join(self.tmp, "alice.pub"),
                       "--out", grants)
        self.keys_tool("import", "--keyring", os.path.join(keys, "alice"),
                       os.path.join(self.tmp, "sam.pub"),
                       os.path.join(grants, "alice.grant"))

        env = python_env(self.child_env({"HOME": home}))
        env["SECMQ_PASSWORD"] = "not-" + self.broker.users["alice"]
        bad = subprocess.run([sys.executable, prog], cwd=self.tmp, env=env,
                             capture_output=True, text=True,
                             timeout=STEP_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertRegex(bad.stderr, r"secmq\.AuthError: .*password")

        env["SECMQ_PASSWORD"] = self.broker.users["alice"]
        since = self.broker.log_size()
        p = subprocess.Popen([sys.executable, prog], cwd=self.tmp, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL,
                             preexec_fn=brokermod.die_with_parent)
        self._procs.append(p)
        self.wait_log_or_exit(p, r": Sending SUBACK to \S+$", since)
        msg = "door closed %d" % time.monotonic_ns()
        self.pub("-t", "status", "-q", "1", "-m", msg, "--keyring",
                 os.path.join(keys, "sam"))
        self.assertEqual(read_line(p.stdout.fileno(), 10.0),
                         "status from sam: %s\n" % msg)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=10), 0)

    def substitute(self, text, where, old, new):
        """text with old replaced by new; old must be there (so a README
        change that breaks the recipe fails here, not silently)."""
        self.assertIn(old, text, "%s: the recipe expects %r" % (where, old))
        return text.replace(old, new)

    def run_status_watcher(self, text, where, i):
        """The library example: alice subscribes to `status` and prints
        what arrives; sam publishes; a wrong password exits 1 with the
        reason on stderr. Only the broker's address changes: the example
        says broker.local on 8883, the test broker listens on 127.0.0.1
        on a free port; ca.crt is the test CA in the program's directory."""
        text = self.substitute(
            text, where, 'cfg.host = "broker.local";',
            'cfg.host = "127.0.0.1"; cfg.port = %d;' % self.broker.port)
        exe, r, cmd = compile_c(text, self.tmp, "watch%d" % i)
        self.assertEqual(r.returncode, 0, "%s\n%s" % (" ".join(cmd),
                                                      r.stderr))
        shutil.copy(self.broker.cafile, os.path.join(self.tmp, "ca.crt"))

        # A wrong password: loud, exit 1, the reason on stderr.
        env = self.child_env({"SECMQ_PASSWORD": "not-" +
                              self.broker.users["alice"]})
        bad = subprocess.run([exe], cwd=self.tmp, env=env,
                             capture_output=True, text=True,
                             timeout=STEP_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertRegex(bad.stderr, r"(?i)password")

        env = self.child_env({"SECMQ_PASSWORD": self.broker.users["alice"]})
        since = self.broker.log_size()
        # printf to a pipe is block-buffered, and the example runs until it
        # is killed: its stdout is a pty (line-buffered), raw so that "\n"
        # stays "\n". Not stdbuf: its LD_PRELOAD library is of this
        # machine's architecture, and a cross build's program (run through
        # qemu-user) cannot load it.
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.addCleanup(os.close, master)
        try:
            p = subprocess.Popen([exe], cwd=self.tmp, env=env, stdout=slave,
                                 stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL,
                                 preexec_fn=brokermod.die_with_parent)
        finally:
            os.close(slave)
        self._procs.append(p)
        self.wait_log_or_exit(p, r": Sending SUBACK to \S+$", since)
        msg = "door closed %d" % time.monotonic_ns()
        self.pub("-t", "status", "-q", "1", "-m", msg)
        line = read_line(master, 10.0)
        self.assertEqual(line, "status %s\n" % msg)
        p.kill()
        p.wait(timeout=10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
