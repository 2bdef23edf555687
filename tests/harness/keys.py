"""keys.py -- keyrings and envelopes for the end-to-end tests.

Two halves:

- The wire format of docs/PROTOCOL.md (§2 identity files, §4 envelopes, §5
  grants) written here from that page alone with python3-nacl and hashlib,
  never from the C code, so the tests can read, check and forge what the
  tools send. (tests/vectors/check_vectors.py does the same for the vectors;
  this module does not depend on it.)
- E2ETestCase: a BrokerTestCase whose tests get keyrings made with
  BUILD/bin/secmq-keys in the test's own temp dir (sam owns the channels and
  publishes, alice and bob subscribe, eve has an identity but no grant), and
  background tools whose stdout and stderr are read line by line while they
  run, with bounded waits.

MQTT logins and keyring identities are unrelated: the broker of the harness
only knows the users sam, alice and eve, and bob logs in as alice.
Run with /usr/bin/python3 (Debian's python3-nacl and paho are only there).
"""

import base64
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time

import nacl.bindings as nb
from nacl.exceptions import BadSignatureError, CryptoError

import broker as brokermod  # noqa: E402 (beside this file)
from testcase import BrokerTestCase, PahoClient

# --------------------------------------------------------------------------
# docs/PROTOCOL.md
# --------------------------------------------------------------------------

VERSION = 0x01
MODE_SIGNED = 0x01
MODE_MAC = 0x02
HEADER_LEN = 58
TAG = 16
SIG = 64
OVERHEAD = {MODE_SIGNED: 138, MODE_MAC: 74}
AD_CONTEXT = b"secmq-env-v1"
SIG_CONTEXT = b"secmq-sig-v1"
GRANT_SIG_CONTEXT = b"secmq-grant-v1"
KDF_CONTEXT = b"secmqenv"
GRANT_MAGIC = b"SECMQGR1"
BODY_MAGIC = b"SECMQGB1"
FLAG_PUBLISH = 0x01
FLAG_MAC_ONLY = 0x02

# Field offsets of the envelope header (§4): name -> (offset, size).
FIELDS = {"version": (0, 1), "mode": (1, 1), "key_id": (2, 8),
          "sender_id": (10, 8), "seq": (18, 8), "time_ms": (26, 8),
          "nonce": (34, 24)}

# The reasons of §4.2, as secmq-sub names them.
REASONS = ("malformed", "version", "unknown_key", "key_expired",
           "mode_refused", "bad_tag", "unknown_sender", "bad_signature",
           "unauthorised", "too_old", "replay")


def u16(x):
    return struct.pack(">H", x)


def u32(x):
    return struct.pack(">I", x)


def u64(x):
    return struct.pack(">Q", x)


def blake2b(data, n):
    """BLAKE2b-n: crypto_generichash with an n-byte output, no key."""
    return hashlib.blake2b(data, digest_size=n).digest()


def kdf_derive(subkey_len, subkey_id, ctx, key):
    """crypto_kdf_derive_from_key as libsodium defines it: keyed BLAKE2b
    of the empty message, salt = LE64(subkey_id) || 0^8, personal = ctx ||
    0^8."""
    return hashlib.blake2b(b"", digest_size=subkey_len, key=key,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx + bytes(8)).digest()


def message_key(channel_key):
    """§3: crypto_kdf_derive_from_key(32, 1, "secmqenv", channel_key)."""
    return kdf_derive(32, 1, KDF_CONTEXT, channel_key)


def identity_id(pk):
    """§2: the first 8 bytes of BLAKE2b-32(ed25519_pk)."""
    return blake2b(pk, 32)[:8]


def now_ms():
    return int(time.time() * 1000)


class Identity:
    """An Ed25519 identity (§2); sk is None for a public one."""

    def __init__(self, name, pk, sk=None, seed=None):
        self.name = name
        self.pk = pk
        self.sk = sk
        self.seed = seed
        self.id = identity_id(pk)
        self.x_pk = nb.crypto_sign_ed25519_pk_to_curve25519(pk)
        self.x_sk = (nb.crypto_sign_ed25519_sk_to_curve25519(sk)
                     if sk is not None else None)


def read_secret_identity(path):
    """§2.1: exactly three lines; mode 0600 (no group or other bits)."""
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise ValueError("%s has mode %o, readable by others" % (path, mode))
    with open(path, "rb") as fh:
        text = fh.read()
    m = re.fullmatch(rb"secmq-identity 1\nname: ([A-Za-z0-9._@-]{1,64})\n"
                     rb"ed25519-seed: ([A-Za-z0-9+/=]+)\n", text)
    if not m:
        raise ValueError("%s is not a secret identity file (§2.1): %r"
                         % (path, text[:40]))
    seed = base64.b64decode(m.group(2), validate=True)
    if len(seed) != 32:
        raise ValueError("%s: seed of %d bytes" % (path, len(seed)))
    pk, sk = nb.crypto_sign_seed_keypair(seed)
    return Identity(m.group(1).decode(), pk, sk, seed)


def read_public_identity(path):
    """§2.2: exactly three lines."""
    with open(path, "rb") as fh:
        text = fh.read()
    m = re.fullmatch(rb"secmq-public 1\nname: ([A-Za-z0-9._@-]{1,64})\n"
                     rb"ed25519: ([A-Za-z0-9+/=]+)\n", text)
    if not m:
        raise ValueError("%s is not a public identity file (§2.2): %r"
                         % (path, text[:40]))
    pk = base64.b64decode(m.group(2), validate=True)
    if len(pk) != 32:
        raise ValueError("%s: key of %d bytes" % (path, len(pk)))
    return Identity(m.group(1).decode(), pk)


class Envelope:
    """The fields of an envelope (§4), without checking anything but the
    length needed to split it."""

    def __init__(self, raw):
        if len(raw) < HEADER_LEN:
            raise ValueError("envelope of %d bytes" % len(raw))
        self.raw = bytes(raw)
        self.version = raw[0]
        self.mode = raw[1]
        self.key_id = raw[2:10]
        self.sender_id = raw[10:18]
        self.seq = struct.unpack(">Q", raw[18:26])[0]
        self.time_ms = struct.unpack(">Q", raw[26:34])[0]
        self.nonce = raw[34:58]
        self.header = raw[:HEADER_LEN]
        if self.mode == MODE_SIGNED:
            self.ct, self.sig = raw[HEADER_LEN:-SIG], raw[-SIG:]
        else:
            self.ct, self.sig = raw[HEADER_LEN:], None


def env_ad(header, topic):
    """AD = "secmq-env-v1" || header || u16(len(topic)) || topic"""
    return AD_CONTEXT + header + u16(len(topic)) + topic


def sig_input(header, topic, ct):
    """signed = "secmq-sig-v1" || header || u16(len(topic)) || topic ||
    BLAKE2b-64(ciphertext)"""
    return SIG_CONTEXT + header + u16(len(topic)) + topic + blake2b(ct, 64)


def seal(sender, channel_key, key_id, topic, plaintext, seq, time_ms=None,
         mode=MODE_SIGNED, nonce=None, sender_id=None):
    """§4.1 steps 2-4 with every input given. sender is an Identity with
    its secret key (only needed in signed mode); sender_id overrides the id
    written in the header (a mac-only envelope claiming someone else)."""
    if isinstance(topic, str):
        topic = topic.encode()
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    if time_ms is None:
        time_ms = now_ms()
    if nonce is None:
        nonce = os.urandom(24)
    sid = sender_id if sender_id is not None else sender.id
    header = (bytes([VERSION, mode]) + key_id + sid + u64(seq) +
              u64(time_ms) + nonce)
    assert len(header) == HEADER_LEN
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, env_ad(header, topic), nonce, message_key(channel_key))
    env = header + ct
    if mode == MODE_SIGNED:
        env += nb.crypto_sign(sig_input(header, topic, ct), sender.sk)[:SIG]
    return env


def verify_signature(env, topic, pk):
    """What a broker holding the sender's public key can check (§4.3)."""
    if isinstance(topic, str):
        topic = topic.encode()
    e = Envelope(env)
    try:
        nb.crypto_sign_open(e.sig + sig_input(e.header, topic, e.ct), pk)
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


def open_envelope(env, topic, channel_key):
    """AEAD-decrypt an envelope with the channel key (no other check);
    the plaintext, or None when the tag does not verify."""
    if isinstance(topic, str):
        topic = topic.encode()
    e = Envelope(env)
    try:
        return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
            e.ct, env_ad(e.header, topic), e.nonce, message_key(channel_key))
    except (CryptoError, ValueError):
        return None


def open_grant(path, member, owner_pk=None):
    """§5: open the grant file at path with member's secret identity and
    return its body fields. Checks the outer recipient id, the exact
    lengths, member_pk and (with owner_pk) the owner's signature."""
    with open(path, "rb") as fh:
        grant = fh.read()
    if grant[:8] != GRANT_MAGIC:
        raise ValueError("%s: magic %r" % (path, grant[:8]))
    if grant[8:16] != member.id:
        raise ValueError("%s: addressed to %s, not %s"
                         % (path, grant[8:16].hex(), member.id.hex()))
    body = nb.crypto_box_seal_open(grant[16:], member.x_pk, member.x_sk)
    if body[:8] != BODY_MAGIC:
        raise ValueError("%s: body magic %r" % (path, body[:8]))
    d = dict(owner_pk=body[8:40], member_pk=body[40:72], key_id=body[72:80],
             channel_key=body[80:112],
             epoch=struct.unpack(">I", body[112:116])[0],
             created_ms=struct.unpack(">Q", body[116:124])[0],
             prev_key_id=body[124:132],
             grace_ms=struct.unpack(">Q", body[132:140])[0],
             flags=body[140])
    flen = struct.unpack(">H", body[141:143])[0]
    d["filter"] = body[143:143 + flen].decode()
    off = 143 + flen
    n = struct.unpack(">H", body[off:off + 2])[0]
    off += 2
    d["publishers"] = [body[off + 32 * i:off + 32 * (i + 1)]
                       for i in range(n)]
    off += 32 * n
    if len(body) != off + SIG:
        raise ValueError("%s: body of %d bytes, want %d"
                         % (path, len(body), off + SIG))
    if d["member_pk"] != member.pk:
        raise ValueError("%s: member_pk is not %s's" % (path, member.name))
    if owner_pk is not None:
        nb.crypto_sign_open(body[-SIG:] + GRANT_SIG_CONTEXT + body[:-SIG],
                            owner_pk)
    return d


def make_grant(owner, member, filt, flags, publishers, epoch=1,
               key_id=None, channel_key=None, created_ms=None,
               prev_key_id=bytes(8), grace_ms=0):
    """§5: a grant file for member (an Identity) signed by owner (a secret
    Identity), built here without any of the rules of §5.1: what a careless
    or hostile owner could sign. Returns (grant bytes, key_id,
    channel_key)."""
    key_id = key_id or os.urandom(8)
    channel_key = channel_key or os.urandom(32)
    f = filt.encode()
    unsigned = (BODY_MAGIC + owner.pk + member.pk + key_id + channel_key +
                struct.pack(">I", epoch) +
                struct.pack(">Q", created_ms or now_ms()) + prev_key_id +
                struct.pack(">Q", grace_ms) + bytes([flags]) +
                struct.pack(">H", len(f)) + f +
                struct.pack(">H", len(publishers)) + b"".join(publishers))
    # python3-nacl 1.5 has no crypto_sign_detached: the signature is the
    # first 64 bytes of the combined form.
    body = unsigned + nb.crypto_sign(GRANT_SIG_CONTEXT + unsigned,
                                     owner.sk)[:SIG]
    grant = GRANT_MAGIC + member.id + nb.crypto_box_seal(body, member.x_pk)
    return grant, key_id, channel_key


def channel_id(owner_pk, filt):
    """§5.3: 16 hex digits of the first 8 bytes of BLAKE2b-32(owner_pk ||
    filter)."""
    return blake2b(owner_pk + filt.encode(), 32)[:8].hex()


def flip(raw, i, mask=0x01):
    b = bytearray(raw)
    b[i] ^= mask
    return bytes(b)


def field_of(i, mode=MODE_SIGNED, length=None):
    """The §4 field byte i of an envelope falls in."""
    for name, (off, size) in FIELDS.items():
        if off <= i < off + size:
            return name
    if mode == MODE_SIGNED and length is not None and i >= length - SIG:
        return "signature"
    return "ciphertext"


def expected_flip_reason(i, length):
    """What §4.2 makes of a signed envelope whose byte i was XORed with 1,
    at a receiver holding the key: version byte -> version; mode 0x01 ->
    0x00 -> malformed; another key id -> unknown_key; every other header
    byte and the ciphertext are authenticated by the AEAD -> bad_tag (the
    AEAD runs before the signature, so a changed sender_id is bad_tag, not
    unknown_sender); the signature -> bad_signature."""
    f = field_of(i, MODE_SIGNED, length)
    return {"version": "version", "mode": "malformed",
            "key_id": "unknown_key", "signature": "bad_signature"}.get(
                f, "bad_tag")


# --------------------------------------------------------------------------
# Background tools read while they run
# --------------------------------------------------------------------------

DROP_RX = re.compile(r"dropped a message on '(.*)' that did not open: "
                     r".*\(([a-z_]+)\)\s*$")
COUNTS_RX = re.compile(r"sealed messages opened: (\d+)((?:, [a-z_]+: \d+)*)"
                       r"\s*$")


class LiveProc:
    """A started tool whose stdout and stderr lines are collected by two
    threads, so a test can wait for output while the tool runs."""

    def __init__(self, proc, what):
        self.proc = proc
        self.what = what
        self.out = []
        self.err = []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._read, daemon=True,
                                         args=(proc.stdout, self.out)),
                        threading.Thread(target=self._read, daemon=True,
                                         args=(proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    def _read(self, fh, lines):
        try:
            for raw in iter(fh.readline, b""):
                with self.cond:
                    lines.append(raw.decode("utf-8", "replace")
                                 .rstrip("\n"))
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        with self.cond:
            self.cond.notify_all()

    def wait_until(self, pred, timeout):
        """Wait until pred() (called under the lock) is true; False on
        timeout or when the process has exited and both pipes are done
        without it becoming true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if pred():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if (self.proc.poll() is not None and
                        not any(t.is_alive() for t in self.threads)):
                    return pred()
                self.cond.wait(min(left, 0.1))

    def wait_out(self, n, timeout=10.0):
        return self.wait_until(lambda: len(self.out) >= n, timeout)

    def drops(self):
        """[(topic, reason)] of the "did not open" lines so far."""
        with self.cond:
            lines = list(self.err)
        return [m.groups() for m in map(DROP_RX.search, lines) if m]

    def wait_drops(self, n, timeout=10.0):
        return self.wait_until(
            lambda: sum(1 for ln in self.err if DROP_RX.search(ln)) >= n,
            timeout)

    def counts(self):
        """The -d count line printed at exit as {reason: n} ("ok" for the
        opened ones), or None when there is none."""
        with self.cond:
            lines = list(self.err)
        for ln in lines:
            m = COUNTS_RX.search(ln)
            if m:
                d = {"ok": int(m.group(1))}
                for part in m.group(2).split(", ")[1:]:
                    k, v = part.split(": ")
                    d[k] = int(v)
                return d
        return None

    def wait_exit(self, timeout=20.0):
        """Wait for the process and its pipes; returncode, or None."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.threads:
            t.join(timeout=5)
        return self.proc.returncode

    def stop(self, timeout=10.0):
        """SIGTERM (secmq-sub then disconnects cleanly and, with -d,
        prints its counts) and wait; returncode, or None."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def text(self):
        with self.cond:
            return "stdout %r stderr %r" % (self.out, self.err)


# --------------------------------------------------------------------------
# The test case
# --------------------------------------------------------------------------

MQTT_USER = {"sam": "sam", "alice": "alice", "bob": "alice", "eve": "eve"}
KEYS_TIMEOUT_S = 20.0
# make_world's template is made again after this long (grants and keys
# carry their creation time).
WORLD_TEMPLATE_MAX_AGE_S = 1800.0


class E2ETestCase(BrokerTestCase):
    """A broker per test (BrokerTestCase), and keyrings under
    <broker temp dir>/keys: self.kdir(name), self.pubfile(name)."""

    def setUp(self):
        super().setUp()
        self.keys_dir = os.path.join(self.broker.dir, "keys")
        os.mkdir(self.keys_dir, 0o700)
        self._grant_n = 0

    # -- secmq-keys ---------------------------------------------------------

    def keys(self, *args, ok=True):
        """Run secmq-keys; with ok, assert exit 0. Returns the
        CompletedProcess (text)."""
        r = self.run_tool("secmq-keys", list(args), timeout=KEYS_TIMEOUT_S)
        if ok:
            self.assertEqual(r.returncode, 0, "secmq-keys %s failed (%d): %s"
                             % (" ".join(map(str, args)), r.returncode,
                                r.stderr.strip()))
        return r

    def kdir(self, name):
        return os.path.join(self.keys_dir, name)

    def pubfile(self, name):
        return os.path.join(self.keys_dir, name + ".pub")

    def identity(self, name):
        """name's secret identity, read from its keyring (§2.1)."""
        return read_secret_identity(os.path.join(self.kdir(name),
                                                 "identity"))

    def public(self, name):
        return read_public_identity(self.pubfile(name))

    def make_identity(self, name):
        self.keys("init", "--keyring", self.kdir(name), "--name", name)
        r = self.keys("export", "--keyring", self.kdir(name))
        with open(self.pubfile(name), "w") as fh:
            fh.write(r.stdout)
        # The exported file is exactly §2.2 and names this identity.
        self.assertEqual(self.public(name).pk, self.identity(name).pk)

    def out_dir(self, what):
        self._grant_n += 1
        return os.path.join(self.keys_dir, "grants-%d-%s"
                            % (self._grant_n, what))

    def create_channel(self, filt, owner="sam", publishers=("sam",),
                       subscribers=("alice", "bob"), allow_mac=False,
                       epoch=None, epoch_grace=None):
        """owner creates a channel (with epoch, e.g. "1s": a channel with
        epochs, and its epoch_grace); returns the directory of the
        grants."""
        out = self.out_dir("create")
        args = ["channel", "create", "--keyring", self.kdir(owner),
                "--topic", filt, "--publisher"] + \
            [self.pubfile(n) for n in publishers]
        if subscribers:
            args += ["--subscriber"] + [self.pubfile(n) for n in subscribers]
        args += ["--out", out]
        if allow_mac:
            args.append("--allow-mac")
        if epoch is not None:
            args += ["--epoch", epoch]
        if epoch_grace is not None:
            args += ["--epoch-grace", epoch_grace]
        self.keys(*args)
        return out

    def grant(self, out, name):
        return os.path.join(out, name + ".grant")

    def import_(self, name, *files):
        return self.keys("import", "--keyring", self.kdir(name), *files)

    def make_world(self, channels=(("status", False),)):
        """sam, alice, bob, eve; sam creates each (filter, allow_mac)
        channel with himself as publisher and alice and bob as
        subscribers; alice and bob trust sam and each other and import
        their grants; eve trusts sam but holds no grant. Returns
        {filter: grant dir}.

        Made with this build's secmq-keys once per test run and channel
        list (a template, as the broker's PKI: twelve secmq-keys runs per
        world cost seconds of CPU under the sanitizers and qemu-user), then
        copied into this test's keys directory: each test has its own
        files, the same keys. A test that made keys of its own first gets
        a world made in place."""
        channels = tuple((f, bool(m)) for f, m in channels)
        if os.listdir(self.keys_dir) or self._grant_n:
            return self._make_world_here(channels)
        tool = self.tool("secmq-keys")

        def make(tpl):
            keys_dir = self.keys_dir
            self.keys_dir = os.path.join(tpl, "keys")
            os.mkdir(self.keys_dir, 0o700)
            try:
                self._make_world_here(channels)
            finally:
                self.keys_dir = keys_dir
                self._grant_n = 0

        tpl = brokermod.template(os.path.dirname(tool),
                                 "world %r" % (channels,), make,
                                 tools=("secmq-keys",),
                                 max_age_s=WORLD_TEMPLATE_MAX_AGE_S)
        src = os.path.join(tpl, "keys")
        for name in os.listdir(src):
            path = os.path.join(src, name)
            if os.path.isdir(path):
                shutil.copytree(path, self.kdir(name))
            else:
                shutil.copy2(path, self.kdir(name))
        outs = {}
        for filt, _ in channels:
            outs[filt] = self.out_dir("create")
        return outs

    def _make_world_here(self, channels):
        """make_world's keyrings, made in self.keys_dir."""
        for n in ("sam", "alice", "bob", "eve"):
            self.make_identity(n)
        outs = {}
        for filt, mac in channels:
            outs[filt] = self.create_channel(filt, allow_mac=mac)
        self.import_("alice", self.pubfile("sam"), self.pubfile("bob"),
                     *[self.grant(o, "alice") for o in outs.values()])
        self.import_("bob", self.pubfile("sam"), self.pubfile("alice"),
                     *[self.grant(o, "bob") for o in outs.values()])
        self.import_("eve", self.pubfile("sam"))
        return outs

    # -- tools with a keyring -----------------------------------------------

    def e2e_conn(self, who, user=None):
        return self.conn_args(user or MQTT_USER[who]) + \
            ["--keyring", self.kdir(who)]

    def sub(self, who, *args, client_id, user=None, keyring=True,
            timeout=10.0):
        """Start secmq-sub as who (with who's keyring unless keyring is
        False), wait for its SUBACK and return a LiveProc."""
        conn = self.e2e_conn(who, user) if keyring else \
            self.conn_args(user or MQTT_USER[who])
        since = self.broker.log_size()
        p = self.spawn("secmq-sub", conn + ["-i", client_id] + list(args))
        live = LiveProc(p, "secmq-sub as %s" % who)
        rx = re.compile(r": Sending SUBACK to %s$" % re.escape(client_id))
        deadline = time.monotonic() + timeout
        while not self.broker.wait_for_log(rx.pattern, timeout=0.1,
                                           since=since):
            if p.poll() is not None:
                live.wait_exit(5)
                self.fail("secmq-sub as %s exited (%d) before subscribing: "
                          "%s" % (who, p.returncode, live.text()))
            if time.monotonic() >= deadline:
                self.fail("secmq-sub as %s: no SUBACK in %.0f s"
                          % (who, timeout))
        return live

    def epub(self, who, *args, user=None, ok=True, keyring=None):
        """Run secmq-pub as who with who's keyring (or the keyring
        directory given); with ok, assert exit 0."""
        conn = self.conn_args(user or MQTT_USER[who]) + \
            ["--keyring", keyring or self.kdir(who)]
        r = self.run_tool("secmq-pub", conn + list(args))
        if ok:
            self.assertEqual(r.returncode, 0, "secmq-pub as %s %s failed: %r"
                             % (who, args, r.stderr))
        return r

    def paho(self, user="eve", client_id=None, subscribe=None, qos=1):
        c = PahoClient(self.broker, user=user, client_id=client_id)
        c.connect()
        self.addCleanup(c.close)
        if subscribe:
            c.subscribe(subscribe, qos=qos)
        return c

    def capture(self, paho, n=1, timeout=10.0):
        """The next n messages paho receives, as (topic, payload)."""
        got = []
        for _ in range(n):
            m = paho.get(timeout=timeout)
            self.assertIsNotNone(m, "paho received %d of %d messages"
                                 % (len(got), n))
            got.append((m[0], m[1]))
        return got

    def assert_no_more(self, paho, wait=0.5):
        m = paho.get(timeout=wait)
        self.assertIsNone(m, "paho received an unexpected message %r"
                          % (m,))

    def copy_keyring(self, name, new):
        """A copy of name's keyring directory as it is now (modes kept)."""
        dst = self.kdir(new)
        shutil.copytree(self.kdir(name), dst)
        return dst
