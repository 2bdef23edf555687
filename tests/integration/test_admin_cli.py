#!/usr/bin/python3
"""test_admin_cli.py -- secmq-admin as a process: every command, the exit
status it promises (0 done, 1 refused, 2 usage), passwords from a file,
stdin and a terminal (a pty, echo checked off), refused names and topics,
foreign database files, and import-mosquitto of files made by the real
mosquitto_passwd.

No broker: what the database then means to mosquitto is tested with the
plugin loaded (test_plugin_*.py). Passwords are checked here independently
of secmq: argon2id hashes with python3-nacl, imported mosquitto hashes with
hashlib, read straight from the sqlite file.
"""

import base64
import hashlib
import os
import pty
import re
import select
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

import nacl.exceptions
import nacl.pwhash

BIN_DIR = os.environ.get("SECMQ_BIN_DIR", "")
ADMIN = os.path.join(BIN_DIR, "secmq-admin")
KEYS = os.path.join(BIN_DIR, "secmq-keys")
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
TIMEOUT_S = 30
DEFAULT_OPS, DEFAULT_MEM = 3, 8 * 1024 * 1024


def env_without_db():
    env = dict(os.environ)
    env.pop("SECMQ_AUTH_DB", None)
    return env


class AdminCli(unittest.TestCase):

    def setUp(self):
        self.assertTrue(os.access(ADMIN, os.X_OK), ADMIN + " not built")
        self.dir = tempfile.mkdtemp(prefix="secmq-admin-")
        if os.environ.get("SECMQ_TEST_KEEP"):
            print("keeping", self.dir)
        else:
            self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = self.p("auth.db")

    # -- helpers ------------------------------------------------------------

    def p(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, name, text, mode=0o600):
        path = self.p(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def run_admin(self, *args, code=0, input=None, db=True, env=None):
        cmd = [ADMIN] + (["--db", self.db] if db else []) + \
            [str(a) for a in args]
        run = subprocess.run(cmd, input=input, capture_output=True,
                             text=True, timeout=TIMEOUT_S,
                             stdin=None if input is not None
                             else subprocess.DEVNULL,
                             env=env if env is not None else env_without_db())
        self.assertEqual(run.returncode, code,
                         "secmq-admin %s\nstdout: %s\nstderr: %s"
                         % (" ".join(cmd[1:]), run.stdout, run.stderr))
        return run

    def refused(self, *args, says, input=None):
        """Exit 1 with one line "secmq-admin: ..." naming the reason."""
        run = self.run_admin(*args, code=1, input=input)
        lines = run.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertTrue(lines[0].startswith("secmq-admin: "), lines[0])
        self.assertIn(says, lines[0])
        return lines[0]

    def usage(self, *args, says=None, db=True, env=None):
        run = self.run_admin(*args, code=2, db=db, env=env)
        lines = run.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertTrue(lines[0].startswith("secmq-admin: "), lines[0])
        if says:
            self.assertIn(says, lines[0])
        self.assertEqual(run.stdout, "")

    def init(self, *args):
        self.run_admin("init", *args)

    def add_user(self, name, pw="pw-" + "x" * 8):
        self.run_admin("user", "add", name, "--password-file", "-",
                       input=pw + "\n")
        return pw

    def read(self, path, mode="r"):
        with open(path, mode) as f:
            return f.read()

    def lines(self, *args):
        return self.run_admin(*args).stdout.splitlines()

    def stored_hash(self, name, db=None):
        con = sqlite3.connect("file:%s?mode=ro" % (db or self.db), uri=True)
        try:
            row = con.execute("SELECT hash FROM users WHERE name = ?",
                              (name,)).fetchone()
        finally:
            con.close()
        self.assertIsNotNone(row, "no user %r in the database" % name)
        return row[0]

    def assert_password(self, name, pw):
        """The stored argon2id hash verifies pw, and not pw + 'x'."""
        h = self.stored_hash(name).encode()
        self.assertTrue(h.startswith(b"$argon2id$"), h)
        self.assertTrue(nacl.pwhash.verify(h, pw.encode()))
        with self.assertRaises(nacl.exceptions.InvalidkeyError):
            nacl.pwhash.verify(h, (pw + "x").encode())

    def seed(self):
        """The seed policy of the issue: two commands per user."""
        self.init()
        self.write("sam.pw", "sam-secret\n")
        self.write("alice.pw", "alice-secret\n")
        self.run_admin("user", "add", "sam", "--password-file",
                       self.p("sam.pw"))
        self.assertEqual(self.run_admin("acl", "add", "--user", "sam",
                                        "status", "write").stdout,
                         "added rule 1\n")
        self.run_admin("user", "add", "alice", "--password-file",
                       self.p("alice.pw"))
        self.assertEqual(self.run_admin("acl", "add", "--user", "alice",
                                        "status", "read").stdout,
                         "added rule 2\n")

    def identity(self, name):
        """A public identity file exported by secmq-keys; (path, pk)."""
        self.assertTrue(os.access(KEYS, os.X_OK), KEYS + " not built")
        kr = self.p("kr-" + name)
        subprocess.run([KEYS, "init", "--keyring", kr, "--name", name],
                       check=True, capture_output=True, timeout=TIMEOUT_S)
        out = subprocess.run([KEYS, "export", "--keyring", kr], check=True,
                             capture_output=True, text=True,
                             timeout=TIMEOUT_S).stdout
        path = self.write(name + ".pub", out, 0o644)
        m = re.search(r"^ed25519: (\S+)$", out, re.M)
        self.assertIsNotNone(m, out)
        return path, base64.b64decode(m.group(1))

    @staticmethod
    def key_id(pk):
        # PROTOCOL.md: first 8 bytes of BLAKE2b-32(pk).
        return hashlib.blake2b(pk, digest_size=32).digest()[:8].hex()

    # -- help and usage -------------------------------------------------------

    def test_help_documents_everything(self):
        for flag in ("-h", "--help"):
            run = self.run_admin(flag, db=False)
            self.assertEqual(run.stderr, "")
            for word in ("--db", "SECMQ_AUTH_DB", "init", "cost", "user add",
                         "user passwd", "user del", "user disable",
                         "user enable", "user list", "user relay",
                         "--relay", "--remove", "group add",
                         "group member", "group list", "acl add", "acl del",
                         "acl list", "--pattern", "--signed", "readwrite",
                         "subscribe", "deny", "key add", "key del",
                         "key list", "import-mosquitto", "--password-file",
                         "--pw-ops", "--pw-mem", "Exit status"):
                self.assertIn(word, run.stdout, flag)
        # Help also after a command.
        self.assertIn("import-mosquitto",
                      self.run_admin("acl", "add", "--help").stdout)

    def test_usage_errors_exit_2(self):
        self.init()
        self.usage(db=False, says="no command")
        self.usage("init", db=False, says="--db FILE is required")
        self.usage("frobnicate", says="unknown command")
        self.usage("--frob", "user", "list", db=False)
        self.usage("user", says="user needs")
        self.usage("user", "rename", "sam")
        self.usage("user", "add", says="missing")
        self.usage("user", "add", "a", "b", says="unexpected argument")
        self.usage("user", "del", "sam", "--password-file", "x",
                   says="unknown option")
        self.usage("user", "add", "sam", "--password-file",
                   says="needs a value")
        self.usage("group", "member", "g")
        self.usage("acl", "add", "status", "write", says="one of --user")
        self.usage("acl", "add", "--user", "sam", "--pattern", "status",
                   "write", says="one of --user")
        self.usage("acl", "add", "--user", "sam", "status", "publish",
                   says="ACCESS")
        self.usage("acl", "add", "--user", "sam", "status")
        self.usage("acl", "add", "--user", "sam", "status", "write",
                   "--signed=yes", says="takes no value")
        self.usage("acl", "del", "one", says="number")
        self.usage("acl", "del")
        self.usage("key", "del", "sam", "XYZ", says="KEYID")
        self.usage("key", "del", "sam", "0123456789abcdefa", says="KEYID")
        self.usage("key", "add", "sam")
        self.usage("import-mosquitto", says="--passwd")
        self.usage("cost", "--pw-ops", "lots", says="--pw-ops")
        self.usage("cost", "--pw-mem", "8X", says="--pw-mem")
        self.usage("cost", "--pw-ops", "0", says="out of range")
        self.usage("cost", "--pw-mem", "4K", says="out of range")

    # -- init and cost ---------------------------------------------------------

    def test_init_mode_0600_and_refuses_existing(self):
        run = subprocess.run([ADMIN, "--db", self.db, "init"],
                             capture_output=True, text=True,
                             timeout=TIMEOUT_S, env=env_without_db(),
                             preexec_fn=lambda: os.umask(0))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)
        before = self.read(self.db, "rb")
        self.refused("init", says="exists")
        self.assertEqual(self.read(self.db, "rb"), before)
        # Any existing file, even empty.
        self.write("empty", "")
        self.db = self.p("empty")
        self.refused("init", says="exists")
        self.assertEqual(os.path.getsize(self.db), 0)
        # No -wal/-shm/-journal files are left behind.
        self.assertEqual(sorted(os.listdir(self.dir)), ["auth.db", "empty"])

    def test_db_from_environment(self):
        env = env_without_db()
        env["SECMQ_AUTH_DB"] = self.db
        self.run_admin("init", db=False, env=env)
        self.assertTrue(os.path.exists(self.db))
        run = self.run_admin("cost", db=False, env=env)
        self.assertEqual(run.stdout, "pw_ops %d pw_mem %d\n"
                         % (DEFAULT_OPS, DEFAULT_MEM))
        # --db wins over the environment.
        other = self.p("other.db")
        self.run_admin("--db", other, "init", db=False, env=env)
        self.assertTrue(os.path.exists(other))

    def test_cost(self):
        self.init("--pw-ops", "1", "--pw-mem", "64K")
        self.assertEqual(self.run_admin("cost").stdout,
                         "pw_ops 1 pw_mem 65536\n")
        pw = self.add_user("sam")
        h = self.stored_hash("sam")
        self.assertIn("$m=64,t=1,", h)
        self.assertEqual(self.lines("user", "list"),
                         ["sam\tenabled\tgroups=-\tkeys=0\thash=argon2id"])
        self.assertEqual(self.run_admin("cost", "--pw-ops", "2",
                                        "--pw-mem", "1M").stdout,
                         "pw_ops 2 pw_mem 1048576\n")
        self.assertEqual(self.run_admin("cost").stdout,
                         "pw_ops 2 pw_mem 1048576\n")
        # The old hash is left for the broker to upgrade at the next login.
        self.assertEqual(self.stored_hash("sam"), h)
        self.assertEqual(self.lines("user", "list"),
                         ["sam\tenabled\tgroups=-\tkeys=0\thash=argon2id "
                          "(rehash at next login)"])
        self.assert_password("sam", pw)
        # New passwords use the new cost.
        self.add_user("bob")
        self.assertIn("$m=1024,t=2,", self.stored_hash("bob"))
        self.run_admin("cost", "--pw-ops=3")
        self.assertEqual(self.run_admin("cost").stdout,
                         "pw_ops 3 pw_mem 1048576\n")

    # -- the seed policy ---------------------------------------------------------

    def test_seed_policy(self):
        self.seed()
        self.assertEqual(self.lines("acl", "list"),
                         ["1\tuser sam\twrite\tstatus",
                          "2\tuser alice\tread\tstatus"])
        self.assertEqual(self.lines("user", "list"),
                         ["alice\tenabled\tgroups=-\tkeys=0\thash=argon2id",
                          "sam\tenabled\tgroups=-\tkeys=0\thash=argon2id"])
        self.assert_password("sam", "sam-secret")
        self.assert_password("alice", "alice-secret")
        self.assertEqual(self.lines("acl", "list", "--user", "alice"),
                         ["2\tuser alice\tread\tstatus"])

    # -- passwords ----------------------------------------------------------------

    def test_password_file_mode_same_rule_as_secmq_pub(self):
        """One rule for a password file in secmq-admin --password-file and
        secmq-pub --pw-file (tools/common/cli_config.c): group-writable or
        anything for others is refused by both, naming the file, its mode
        and the chmod; 0600 and 0640 are accepted by both."""
        self.init("--pw-ops", "1", "--pw-mem", "64K")
        pub = os.path.join(BIN_DIR, "secmq-pub")
        self.assertTrue(os.access(pub, os.X_OK), pub + " not built")
        self.add_user("sam", "sam-before")
        for n, mode in enumerate((0o644, 0o604, 0o620, 0o602, 0o601, 0o660)):
            path = self.write("open%d.pw" % n, "open-secret\n", mode)
            want = "password file %s is writable by group or accessible " \
                   "to others (mode %04o); fix it with: chmod 600 %s" \
                   % (path, mode, path)
            self.refused("user", "add", "u%d" % n, "--password-file", path,
                         says=want)
            self.refused("user", "passwd", "sam", "--password-file",
                         path, says=want)
            # secmq-pub refuses it before connecting anywhere (port 1 of
            # loopback, which nothing serves).
            run = subprocess.run(
                [pub, "--no-config", "-h", "127.0.0.1", "-p", "1", "-u",
                 "sam", "--pw-file", path, "-t", "t", "-m", "m"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=TIMEOUT_S, env=env_without_db())
            self.assertNotEqual(run.returncode, 0, run.stderr)
            self.assertIn(want, run.stderr)
            self.assertNotIn("connect", run.stderr)
        self.assertEqual([l.split("\t")[0] for l in self.lines("user", "list")],
                         ["sam"])
        self.assert_password("sam", "sam-before")
        for n, mode in enumerate((0o600, 0o640, 0o400)):
            path = self.write("ok%d.pw" % n, "ok-secret-%d\n" % n, mode)
            self.run_admin("user", "add", "k%d" % n, "--password-file", path)
            self.assert_password("k%d" % n, "ok-secret-%d" % n)
            run = subprocess.run(
                [pub, "--no-config", "-h", "127.0.0.1", "-p", "1", "-u",
                 "sam", "--pw-file", path, "-t", "t", "-m", "m"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=TIMEOUT_S, env=env_without_db())
            self.assertNotIn("password file", run.stderr)
            self.assertIn("127.0.0.1", run.stderr)  # it tried to connect

    def test_password_sources(self):
        self.init("--pw-ops", "1", "--pw-mem", "64K")
        # A file with a CRLF line end and a second line that is ignored.
        self.write("crlf.pw", "from file\r\nsecond line\n")
        self.run_admin("user", "add", "f", "--password-file",
                       self.p("crlf.pw"))
        self.assert_password("f", "from file")
        # No final newline.
        self.write("nonl.pw", "no newline")
        self.run_admin("user", "add", "g", "--password-file",
                       self.p("nonl.pw"))
        self.assert_password("g", "no newline")
        # "-" is stdin; without --password-file stdin too (not a tty).
        self.run_admin("user", "add", "s", "--password-file", "-",
                       input="from stdin\nrest\n")
        self.assert_password("s", "from stdin")
        self.run_admin("user", "add", "t", input="piped  \n")
        self.assert_password("t", "piped  ")  # blanks are kept
        # Empty passwords, and missing files, are refused.
        self.refused("user", "add", "e", input="\n", says="empty password")
        self.refused("user", "add", "e", input="", says="empty password")
        self.write("empty.pw", "\n")
        self.refused("user", "add", "e", "--password-file",
                     self.p("empty.pw"), says="empty password")
        self.refused("user", "add", "e", "--password-file", self.p("nope"),
                     says="nope")
        self.refused("user", "add", "e", input="x" * 5000 + "\n",
                     says="longer than 4096")
        self.assertNotIn("e", [l.split("\t")[0]
                               for l in self.lines("user", "list")])
        # user passwd: a new password (pw_gen + 1, so the broker kicks).
        self.run_admin("user", "passwd", "s", "--password-file", "-",
                       input="changed\n")
        self.assert_password("s", "changed")
        con = sqlite3.connect(self.db)
        gens = dict(con.execute("SELECT name, pw_gen FROM users"))
        con.close()
        self.assertEqual(gens["s"], 2)
        self.assertEqual(gens["t"], 1)
        self.refused("user", "passwd", "nobody", input="x\n",
                     says="no user 'nobody'")
        self.refused("user", "add", "s", input="x\n", says="already exists")

    def pty_admin(self, *args, answers):
        """Run secmq-admin on a pty; answer each prompt in turn. Returns
        (exit status, everything the terminal showed)."""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(ADMIN, [ADMIN, "--db", self.db] + list(args),
                          env_without_db())
            finally:
                os._exit(127)
        out = b""
        pending = list(answers)
        deadline = time.monotonic() + TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.5)
                if fd in r:
                    try:
                        chunk = os.read(fd, 1024)
                    except OSError:  # EIO: the child closed the pty
                        break
                    if not chunk:
                        break
                    out += chunk
                    for prompt in (b"Password: ", b"Repeat: "):
                        if pending and out.endswith(prompt):
                            os.write(fd, pending.pop(0).encode() + b"\n")
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    def test_password_prompt_on_tty_without_echo(self):
        self.init("--pw-ops", "1", "--pw-mem", "64K")
        code, shown = self.pty_admin("user", "add", "tty",
                                     answers=["typed-secret", "typed-secret"])
        self.assertEqual(code, 0, shown)
        self.assertIn("Password: ", shown)
        self.assertIn("Repeat: ", shown)
        self.assertIn("added user tty", shown)
        # SECURITY: the terminal never echoed what was typed.
        self.assertNotIn("typed-secret", shown)
        self.assert_password("tty", "typed-secret")
        # Mismatch: refused, nothing stored.
        code, shown = self.pty_admin("user", "passwd", "tty",
                                     answers=["one-thing", "another"])
        self.assertEqual(code, 1, shown)
        self.assertIn("secmq-admin: the passwords do not match", shown)
        self.assertNotIn("one-thing", shown)
        self.assert_password("tty", "typed-secret")

    # -- names, topics, duplicates ---------------------------------------------

    def test_bad_names_refused(self):
        self.init()
        self.add_user("sam")
        for bad in ("a/#", "x+", "", "a/b", "tab\there", "#"):
            self.refused("user", "add", bad, input="pw\n",
                         says="invalid user name")
            self.refused("group", "add", bad, says="invalid group name")
            if bad:  # an empty option value is a usage error
                self.refused("acl", "add", "--user", bad, "status", "read",
                             says="invalid user name")
        self.refused("user", "add", "n" * 257, input="pw\n",
                     says="invalid user name")
        self.run_admin("user", "add", "n" * 256, input="pw\n")
        self.run_admin("user", "add", "Zoë café", input="pw\n")
        names = [l.split("\t")[0] for l in self.lines("user", "list")]
        self.assertEqual(names, sorted(["sam", "n" * 256, "Zoë café"]))

    def test_bad_topics_refused(self):
        self.init()
        self.add_user("sam")
        for bad in ("a/#/b", "a+", "a#", "#/a", "", "a/+b"):
            self.refused("acl", "add", "--user", "sam", "--", bad, "write",
                         says="invalid topic filter")
        for bad in ("a/%u#", "a/%c+"):
            self.refused("acl", "add", "--pattern", bad, "write",
                         says="invalid topic filter")
        self.run_admin("acl", "add", "--pattern", "users/%u/#", "readwrite")
        self.run_admin("acl", "add", "--pattern", "dev/%c/+/cmd", "read")
        self.run_admin("acl", "add", "--user", "sam", "a/+/b/#", "subscribe")
        self.run_admin("acl", "add", "--user", "sam", "#", "deny")
        self.assertEqual(self.lines("acl", "list"),
                         ["1\tpattern\treadwrite\tusers/%u/#",
                          "2\tpattern\tread\tdev/%c/+/cmd",
                          "3\tuser sam\tsubscribe\ta/+/b/#",
                          "4\tuser sam\tdeny\t#"])

    def test_duplicates_and_missing_subjects(self):
        self.seed()
        self.refused("acl", "add", "--user", "sam", "status", "write",
                     says="rule exists (id 1)")
        self.refused("acl", "add", "--user", "sam", "status", "write",
                     "--signed", says="rule exists (id 1)")
        self.run_admin("acl", "add", "--pattern", "p/%u", "write")
        self.refused("acl", "add", "--pattern", "p/%u", "write",
                     says="rule exists (id 3)")
        self.refused("acl", "add", "--user", "eve", "status", "read",
                     says="no user 'eve'")
        self.refused("acl", "add", "--group", "staff", "status", "read",
                     says="no group 'staff'")
        self.run_admin("group", "add", "staff")
        self.refused("group", "add", "staff", says="already exists")
        self.refused("user", "add", "sam", input="pw\n",
                     says="already exists")
        self.refused("acl", "del", "99", says="no rule with id 99")
        self.assertEqual(len(self.lines("acl", "list")), 3)

    # -- users, groups, rules ---------------------------------------------------

    def test_user_disable_enable_del(self):
        self.seed()
        self.run_admin("user", "disable", "sam")
        self.assertIn("sam\tdisabled\t", self.run_admin("user", "list").stdout)
        self.run_admin("user", "enable", "sam")
        self.assertIn("sam\tenabled\t", self.run_admin("user", "list").stdout)
        self.refused("user", "disable", "nobody", says="no user 'nobody'")
        self.run_admin("group", "add", "staff")
        self.run_admin("group", "member", "staff", "sam")
        self.run_admin("acl", "add", "--group", "staff", "staff/#",
                       "readwrite")
        self.run_admin("user", "del", "sam")
        self.refused("user", "del", "sam", says="no user 'sam'")
        # Its rules and memberships went with it; the group's rule stays.
        self.assertEqual(self.lines("acl", "list"),
                         ["2\tuser alice\tread\tstatus",
                          "3\tgroup staff\treadwrite\tstaff/#"])
        self.assertEqual(self.lines("group", "list"), ["staff\tmembers=-"])
        # A new sam starts from nothing.
        self.add_user("sam")
        self.assertEqual(self.lines("acl", "list", "--user", "sam"), [])

    def test_user_relay(self):
        """The relay role (docs/DEPLOY.md section 10): set at `user add`
        or later, shown by `user list`, taken away with --remove."""
        self.init()
        self.add_user("sam")
        run = self.run_admin("user", "add", "bridge", "--relay",
                             "--password-file", "-", input="pw-bridge\n")
        self.assertEqual(run.stdout, "added user bridge (relay)\n")
        self.assertEqual(self.lines("user", "list"),
                         ["bridge\tenabled,relay\tgroups=-\tkeys=0\t"
                          "hash=argon2id",
                          "sam\tenabled\tgroups=-\tkeys=0\thash=argon2id"])
        self.assertEqual(self.run_admin("user", "relay", "sam").stdout,
                         "relay: sam\n")
        self.assertIn("sam\tenabled,relay\t", self.run_admin(
            "user", "list").stdout)
        self.assertEqual(self.run_admin("user", "relay", "sam",
                                        "--remove").stdout,
                         "no longer a relay: sam\n")
        self.assertIn("sam\tenabled\t", self.run_admin("user", "list").stdout)
        self.run_admin("user", "disable", "bridge")
        self.assertIn("bridge\tdisabled,relay\t",
                      self.run_admin("user", "list").stdout)
        self.refused("user", "relay", "nobody", says="no user 'nobody'")
        self.usage("user", "relay", says="missing")
        self.usage("user", "passwd", "sam", "--relay", says="unknown option")
        self.usage("user", "relay", "sam", "--relay", says="unknown option")
        # A refused add leaves no user behind, relay or not.
        self.refused("user", "add", "bridge", "--relay", "--password-file",
                     "-", input="pw\n", says="already exists")
        self.assertEqual(len(self.lines("user", "list")), 2)

    def test_schema_1_upgraded_when_written(self):
        """A database from before the relay role (schema version 1, no
        users.relay): read as it is, upgraded in place by the first
        change."""
        self.init()
        self.add_user("sam")
        con = sqlite3.connect(self.db)
        con.executescript(
            "CREATE TABLE u1 AS SELECT name, hash, disabled, pw_gen, created,"
            " changed FROM users; DROP TABLE users;"
            " CREATE TABLE users(name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
            " disabled INTEGER NOT NULL DEFAULT 0,"
            " pw_gen INTEGER NOT NULL DEFAULT 1,"
            " created INTEGER NOT NULL, changed INTEGER NOT NULL);"
            " INSERT INTO users SELECT * FROM u1; DROP TABLE u1;"
            " PRAGMA user_version = 1;")
        con.close()

        def version():
            c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
            try:
                return c.execute("PRAGMA user_version").fetchone()[0]
            finally:
                c.close()
        self.assertEqual(self.lines("user", "list"),
                         ["sam\tenabled\tgroups=-\tkeys=0\thash=argon2id"])
        self.assertEqual(version(), 1)
        self.run_admin("user", "relay", "sam")
        self.assertEqual(version(), 2)
        self.assertIn("sam\tenabled,relay\t",
                      self.run_admin("user", "list").stdout)

    def test_groups(self):
        self.seed()
        self.add_user("bob")
        self.run_admin("group", "add", "staff")
        self.run_admin("group", "add", "empty")
        self.run_admin("group", "member", "staff", "sam")
        self.run_admin("group", "member", "staff", "bob")
        self.run_admin("group", "member", "empty", "bob")
        self.run_admin("group", "member", "empty", "bob", "--remove")
        self.refused("group", "member", "staff", "sam", says="already")
        self.refused("group", "member", "empty", "sam", "--remove",
                     says="not a member")
        self.refused("group", "member", "nogroup", "sam", says="no group")
        self.refused("group", "member", "staff", "nobody", says="no user")
        self.assertEqual(self.lines("group", "list"),
                         ["empty\tmembers=-", "staff\tmembers=bob,sam"])
        self.assertIn("sam\tenabled\tgroups=staff\tkeys=0\thash=argon2id",
                      self.lines("user", "list"))
        self.assertEqual(self.run_admin("acl", "add", "--group", "staff",
                                        "staff/#", "readwrite",
                                        "--signed").stdout,
                         "added rule 3\n")
        self.run_admin("acl", "add", "--pattern", "home/%u/#", "readwrite")
        self.run_admin("acl", "add", "--user", "bob", "bob/only", "write")
        # --user: own rules, its groups' rules and the patterns, by id.
        self.assertEqual(self.lines("acl", "list", "--user", "sam"),
                         ["1\tuser sam\twrite\tstatus",
                          "3\tgroup staff\treadwrite\tstaff/#\tsigned",
                          "4\tpattern\treadwrite\thome/%u/#"])
        self.assertEqual(self.lines("acl", "list", "--user", "alice"),
                         ["2\tuser alice\tread\tstatus",
                          "4\tpattern\treadwrite\thome/%u/#"])
        self.refused("acl", "list", "--user", "nobody", says="no user")
        # Deleting the group deletes its rules and memberships.
        self.run_admin("group", "del", "staff")
        self.refused("group", "del", "staff", says="no group 'staff'")
        self.assertEqual(self.lines("acl", "list", "--user", "sam"),
                         ["1\tuser sam\twrite\tstatus",
                          "4\tpattern\treadwrite\thome/%u/#"])
        self.assertEqual(self.lines("group", "list"), ["empty\tmembers=-"])
        # acl del.
        self.assertEqual(self.run_admin("acl", "del", "4").stdout,
                         "deleted rule 4\n")
        self.assertEqual([l.split("\t")[0] for l in self.lines("acl", "list")],
                         ["1", "2", "5"])

    # -- keys ---------------------------------------------------------------------

    def test_keys(self):
        self.seed()
        pub, pk = self.identity("sam-pi")
        kid = self.key_id(pk)
        self.assertEqual(self.run_admin("key", "add", "sam", pub).stdout,
                         "added key %s for sam\n" % kid)
        self.assertEqual(self.lines("key", "list"),
                         ["sam\t%s\tsam-pi" % kid])
        self.assertEqual(self.lines("key", "list", "sam"),
                         ["sam\t%s\tsam-pi" % kid])
        self.assertEqual(self.lines("key", "list", "alice"), [])
        self.assertIn("sam\tenabled\tgroups=-\tkeys=1\thash=argon2id",
                      self.lines("user", "list"))
        self.refused("key", "add", "sam", pub, says="already registered")
        self.refused("key", "add", "nobody", pub, says="no user")
        self.write("junk.pub", "not an identity\n")
        self.refused("key", "add", "sam", self.p("junk.pub"),
                     says="junk.pub")
        self.refused("key", "add", "sam", self.p("missing.pub"),
                     says="missing.pub")
        self.refused("key", "del", "sam", "0000000000000000",
                     says="no key 0000000000000000")
        self.refused("key", "del", "alice", kid, says="no key")
        # KEYID in either case.
        self.assertEqual(self.run_admin("key", "del", "sam",
                                        kid.upper()).stdout,
                         "deleted key %s for sam\n" % kid)
        self.assertEqual(self.lines("key", "list"), [])
        # Deleting the user deletes its keys.
        self.run_admin("key", "add", "sam", pub)
        self.run_admin("user", "del", "sam")
        self.assertEqual(self.lines("key", "list"), [])

    # -- files that are not ours ------------------------------------------------

    def test_foreign_database_refused_untouched(self):
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE users(name TEXT, hash TEXT)")
        con.execute("INSERT INTO users VALUES('sam', 'x')")
        con.commit()
        con.close()
        before = self.read(self.db, "rb")
        for args in (("user", "list"), ("acl", "list"), ("cost",),
                     ("user", "del", "sam"), ("group", "add", "g"),
                     ("cost", "--pw-ops", "2")):
            self.refused(*args, says="is not a secmq auth database")
        self.refused("user", "add", "bob", input="pw\n",
                     says="is not a secmq auth database")
        self.assertEqual(self.read(self.db, "rb"), before)
        # Not sqlite at all: a mosquitto password file given by mistake.
        self.db = self.write("passwd", "sam:$7$101$abc$def\n")
        line = self.refused("user", "list",
                            says="is not a secmq auth database")
        self.assertIn(self.db, line)
        self.assertEqual(self.read(self.db), "sam:$7$101$abc$def\n")
        # Missing: never created by anything but init.
        self.db = self.p("missing.db")
        self.refused("user", "list", says="missing.db")
        self.refused("user", "add", "x", input="pw\n", says="missing.db")
        self.assertFalse(os.path.exists(self.db))

    # -- import-mosquitto ---------------------------------------------------------

    def mosquitto_passwd(self, path, user, pw, *opts):
        self.assertTrue(os.access(MOSQUITTO_PASSWD, os.X_OK),
                        MOSQUITTO_PASSWD + " is not installed")
        create = [] if os.path.exists(path) else ["-c"]
        subprocess.run([MOSQUITTO_PASSWD] + list(opts) + create +
                       ["-b", path, user, pw], check=True,
                       capture_output=True, timeout=TIMEOUT_S)

    ACL_FILE = """\
# mosquitto acl_file
topic read $SYS/#
topic public/anon

user sam
topic write status
  topic status/#
topic deny status/secret

user alice
topic read status
topic subscribe-me

user ghost
topic read ghost/#

pattern read devices/%u/#
pattern write devices/%c/out
"""

    def test_import_mosquitto(self):
        self.init()
        self.add_user("carol")
        pwfile = self.p("passwd")
        self.mosquitto_passwd(pwfile, "sam", "sam pbkdf2")
        self.mosquitto_passwd(pwfile, "alice", "alice sha512", "-H", "sha512")
        self.mosquitto_passwd(pwfile, "bob", "bob pbkdf2", "-H",
                              "sha512-pbkdf2")
        with open(pwfile, "a") as f:
            f.write("\n# a comment\n")
        acl = self.write("acl", self.ACL_FILE + "user carol\ntopic carol\n")
        run = self.run_admin("import-mosquitto", "--passwd", pwfile,
                             "--acl", acl)
        # 3 users; rules: sam 3, alice 2, carol 1, patterns 2; skipped: the
        # two anonymous lines and ghost's rule.
        self.assertEqual(run.stdout, "imported 3 users, 8 rules (3 skipped)\n")
        self.assertIn("acl:2: rule for anonymous clients skipped", run.stderr)
        self.assertIn("acl:3: rule for anonymous clients skipped", run.stderr)
        self.assertIn("acl:15: no user 'ghost'", run.stderr)
        self.assertEqual(self.lines("user", "list"), [
            "alice\tenabled\tgroups=-\tkeys=0\thash=mosquitto-sha512 "
            "(rehash at next login)",
            "bob\tenabled\tgroups=-\tkeys=0\thash=mosquitto-pbkdf2 "
            "(rehash at next login)",
            "carol\tenabled\tgroups=-\tkeys=0\thash=argon2id",
            "sam\tenabled\tgroups=-\tkeys=0\thash=mosquitto-pbkdf2 "
            "(rehash at next login)"])
        self.assertEqual(self.lines("acl", "list"), [
            "1\tuser sam\twrite\tstatus",
            "2\tuser sam\treadwrite\tstatus/#",
            "3\tuser sam\tdeny\tstatus/secret",
            "4\tuser alice\tread\tstatus",
            "5\tuser alice\treadwrite\tsubscribe-me",
            "6\tpattern\tread\tdevices/%u/#",
            "7\tpattern\twrite\tdevices/%c/out",
            "8\tuser carol\treadwrite\tcarol"])
        # The hashes went in as mosquitto_passwd wrote them ...
        with open(pwfile) as f:
            written = dict(l.strip().split(":", 1) for l in f
                           if ":" in l)
        for user in ("sam", "alice", "bob"):
            self.assertEqual(self.stored_hash(user), written[user])
        # ... and verify with the mosquitto algorithms, independently.
        _, it, salt, dk = self.stored_hash("sam").split("$")[1:]
        self.assertEqual(it, "101")
        self.assertEqual(base64.b64decode(dk), hashlib.pbkdf2_hmac(
            "sha512", b"sam pbkdf2", base64.b64decode(salt), int(it), 64))
        _, salt, dk = self.stored_hash("alice").split("$")[1:]
        self.assertEqual(base64.b64decode(dk), hashlib.sha512(
            b"alice sha512" + base64.b64decode(salt)).digest())
        # Again: the users exist, so nothing at all changes.
        self.refused("import-mosquitto", "--passwd", pwfile, "--acl", acl,
                     says="passwd:1: user 'sam' already exists")
        self.assertEqual(len(self.lines("acl", "list")), 8)
        # Only the acl file: existing rules are skipped as duplicates.
        run = self.run_admin("import-mosquitto", "--acl", acl)
        self.assertEqual(run.stdout, "imported 0 users, 0 rules (11 skipped)\n")
        self.assertIn("rule exists (id 1)", run.stderr)

    def test_import_mosquitto_refusals(self):
        self.init()
        pwfile = self.p("passwd")
        self.mosquitto_passwd(pwfile, "sam", "pw")
        with open(pwfile, "a") as f:
            f.write("plain:notahash\n")
        self.refused("import-mosquitto", "--passwd", pwfile,
                     says="passwd:2: unknown password hash format")
        good = self.read(pwfile).splitlines(True)[0]
        self.write("bad-name", good.replace("sam:", "a/#:", 1))
        self.refused("import-mosquitto", "--passwd", self.p("bad-name"),
                     says="bad-name:1: invalid user name")
        self.write("twice", good + good)
        self.refused("import-mosquitto", "--passwd", self.p("twice"),
                     says="twice:2: user 'sam' appears twice")
        self.write("nocolon", "sam\n")
        self.refused("import-mosquitto", "--passwd", self.p("nocolon"),
                     says="nocolon:1:")
        self.write("ok", good)
        for name, text, says in (
                ("acl1", "user sam\ntopic a/#/b\n", "acl1:2: invalid topic"),
                ("acl2", "user sam\nfrobnicate x\n", "acl2:2: expected"),
                ("acl3", "user x+\n", "acl3:1: invalid user name"),
                ("acl4", "user sam\ntopic read\n", "acl4:2:"),
                ("acl5", "pattern write a/%u#\n", "acl5:1: invalid topic")):
            self.write(name, text)
            self.refused("import-mosquitto", "--passwd", self.p("ok"),
                         "--acl", self.p(name), says=says)
        self.refused("import-mosquitto", "--acl", self.p("nope"),
                     says="nope")
        # Nothing was imported by any of the refused runs.
        self.assertEqual(self.lines("user", "list"), [])
        self.assertEqual(self.lines("acl", "list"), [])


if __name__ == "__main__":
    unittest.main()
