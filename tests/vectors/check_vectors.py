#!/usr/bin/python3
"""Independent check of the secmq wire format (docs/PROTOCOL.md, version 1).

Written from docs/PROTOCOL.md alone, never from the C code, with nothing but
the standard library and Debian's python3-nacl (run it with /usr/bin/python3:
a pyenv `python3` does not see python3-nacl). It checks the known-answer
vectors the C library wrote (envelope-v1.json, grant-v1.json, file-v1.json,
receipt-v1.json with check_receipts.py, ratchet-v1.json with check_ratchet.py,
successor-v1.json with check_successor.py, beside this file) by rebuilding
every envelope, grant body, manifest, chunk, request and statement from its
inputs byte for byte and by opening them, plus checks that need no vector
file at all (libsodium KDF known answers, fresh envelopes and grants made
here).

    /usr/bin/python3 tests/vectors/check_vectors.py [--dir DIR] [-q]

One line per check (PASS/FAIL), then `N passed, M failed`. Exit status 0 only
when nothing failed; a missing vector file counts as a failure.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import secrets
import struct
import sys

try:
    import nacl.bindings as nb
    import nacl.encoding
    import nacl.hash
    from nacl.exceptions import BadSignatureError, CryptoError
except ImportError as e:  # pragma: no cover
    print("FAIL import nacl: %s (run with /usr/bin/python3 and Debian's "
          "python3-nacl)" % e)
    print("0 passed, 1 failed")
    sys.exit(2)

# --------------------------------------------------------------------------
# The spec (docs/PROTOCOL.md), section by section
# --------------------------------------------------------------------------

# §1 sizes
AEAD_KEY = 32
NONCE = 24
TAG = 16
SIG = 64
SEAL_OVERHEAD = 48
ID = 8

# §4 envelope
VERSION = 0x01
MODE_SIGNED = 0x01
MODE_MAC = 0x02
HEADER_LEN = 58
OVERHEAD = {MODE_SIGNED: HEADER_LEN + TAG + SIG,   # 138
            MODE_MAC: HEADER_LEN + TAG}            # 74
AD_CONTEXT = b"secmq-env-v1"
SIG_CONTEXT = b"secmq-sig-v1"
KDF_CONTEXT = b"secmqenv"
KDF_ENVELOPE_SUBKEY = 1
TOPIC_MAX = 4096          # §4: topics of 1..4096 bytes can be protected
SIG_DIGEST = 64           # §4: the signature covers BLAKE2b-64(ciphertext)

# §5 grants
GRANT_MAGIC = b"SECMQGR1"
BODY_MAGIC = b"SECMQGB1"
GRANT_SIG_CONTEXT = b"secmq-grant-v1"
BODY_FIXED = 143          # up to and including filter_len
FLAG_PUBLISH = 0x01
FLAG_MAC_ONLY = 0x02

# §4 envelope layout, for naming the field a mismatch falls in
ENV_FIELDS = [(0, 1, "version"), (1, 1, "mode"), (2, 8, "key_id"),
              (10, 8, "sender_id"), (18, 8, "seq"), (26, 8, "time_ms"),
              (34, 24, "nonce")]
BODY_FIELDS = [(0, 8, "magic"), (8, 32, "owner_pk"), (40, 32, "member_pk"),
               (72, 8, "key_id"), (80, 32, "channel_key"), (112, 4, "epoch"),
               (116, 8, "created_ms"), (124, 8, "prev_key_id"),
               (132, 8, "grace_ms"), (140, 1, "flags"), (141, 2, "filter_len")]


def u16(x):
    return struct.pack(">H", x)


def u32(x):
    return struct.pack(">I", x)


def u64(x):
    return struct.pack(">Q", x)


def blake2b(data, n):
    """BLAKE2b-n(x): crypto_generichash, n-byte output, no key."""
    return hashlib.blake2b(data, digest_size=n).digest()


def kdf_derive(subkey_len, subkey_id, ctx, key):
    """crypto_kdf_derive_from_key (BLAKE2b), from its libsodium definition:
    BLAKE2b(out=subkey_len, key=key, message=empty,
            salt=LE64(subkey_id) || 8 zero bytes, personal=ctx || 8 zero bytes).
    Checked against libsodium's own known answers in check_kdf_kat()."""
    if len(ctx) != 8 or len(key) != 32 or not 16 <= subkey_len <= 64:
        raise ValueError("kdf arguments")
    return hashlib.blake2b(b"", digest_size=subkey_len, key=key,
                           salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=ctx + bytes(8)).digest()


# §2 identities
class Identity:
    def __init__(self, seed):
        if len(seed) != 32:
            raise ValueError("seed must be 32 bytes, got %d" % len(seed))
        self.seed = seed
        self.pk, self.sk = nb.crypto_sign_seed_keypair(seed)
        self.id = identity_id(self.pk)
        self.x_pk = nb.crypto_sign_ed25519_pk_to_curve25519(self.pk)
        self.x_sk = nb.crypto_sign_ed25519_sk_to_curve25519(self.sk)


def identity_id(pk):
    """identity id = first 8 bytes of BLAKE2b-32(ed25519_pk)."""
    return blake2b(pk, 32)[:8]


def sign_detached(sk, msg):
    """crypto_sign_detached: the first 64 bytes of combined crypto_sign."""
    return nb.crypto_sign(msg, sk)[:SIG]


def verify_detached(pk, sig, msg):
    try:
        nb.crypto_sign_open(sig + msg, pk)
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


# §3 channel keys
def message_key(channel_key):
    """message_key = crypto_kdf_derive_from_key(32, 1, "secmqenv", key)."""
    return kdf_derive(32, KDF_ENVELOPE_SUBKEY, KDF_CONTEXT, channel_key)


# §4 envelope
def env_header(mode, key_id, sender_id, seq, time_ms, nonce):
    if len(key_id) != ID or len(sender_id) != ID or len(nonce) != NONCE:
        raise ValueError("header field sizes")
    h = (bytes([VERSION, mode]) + key_id + sender_id + u64(seq) +
         u64(time_ms) + nonce)
    assert len(h) == HEADER_LEN
    return h


def topic_ok(topic):
    """§4 / §4.2 step 1: the topic is 1..4096 bytes without '+' or '#'."""
    return 1 <= len(topic) <= TOPIC_MAX and b"+" not in topic \
        and b"#" not in topic


def topic_part(topic):
    return u16(len(topic)) + topic


def env_ad(header, topic):
    """AD = "secmq-env-v1" || header || u16(len(topic)) || topic"""
    return AD_CONTEXT + header + topic_part(topic)


def env_sig_input(header, topic, ciphertext):
    """§4 Signature (mode 0x01):
    signed    = "secmq-sig-v1" || header || u16(len(topic)) || topic
                || BLAKE2b-64(ciphertext)
    signature = Ed25519-sign(sender_secret, signed)   (pure Ed25519)
    where ciphertext includes the tag and BLAKE2b-64 is the 64-byte unkeyed
    digest."""
    return (SIG_CONTEXT + header + topic_part(topic) +
            blake2b(ciphertext, SIG_DIGEST))


def seal(mode, mkey, sender, key_id, seq, time_ms, nonce, topic, plaintext):
    """§4.1 steps 2-4, with every input given (nonce included)."""
    if not topic_ok(topic):
        raise ValueError("§4: a sender refuses to seal for topic %r" % topic)
    header = env_header(mode, key_id, sender.id, seq, time_ms, nonce)
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, env_ad(header, topic), nonce, mkey)
    env = header + ct
    if mode == MODE_SIGNED:
        env += sign_detached(sender.sk, env_sig_input(header, topic, ct))
    return env


class OpenFailure(Exception):
    def __init__(self, reason, detail=""):
        Exception.__init__(self, reason)
        self.reason = reason
        self.detail = detail


def open_envelope(env, topic, keys, senders, allow_mac=True):
    """§4.2 steps 1-5 (the steps about the channel's publishers, age and
    replay need receiver state no vector carries).
    keys: key_id -> message_key; senders: sender_id -> Ed25519 pk.
    Returns (plaintext, fields) or raises OpenFailure(reason)."""
    env_step1(env, topic)
    mode = env[1]
    header = env[:HEADER_LEN]
    key_id = env[2:10]
    sender_id = env[10:18]
    seq = struct.unpack(">Q", env[18:26])[0]
    time_ms = struct.unpack(">Q", env[26:34])[0]
    nonce = env[34:58]
    if mode == MODE_SIGNED:
        ct, sig = env[HEADER_LEN:-SIG], env[-SIG:]
    else:
        ct, sig = env[HEADER_LEN:], None
    # 2. key
    if key_id not in keys:
        raise OpenFailure("unknown_key", key_id.hex())
    # 3. mode policy
    if mode == MODE_MAC and not allow_mac:
        raise OpenFailure("mode_refused")
    # 4. AEAD
    try:
        pt = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ct, env_ad(header, topic), nonce, keys[key_id])
    except (CryptoError, ValueError):
        raise OpenFailure("bad_tag")
    # 5. signature
    if mode == MODE_SIGNED:
        if sender_id not in senders:
            raise OpenFailure("unknown_sender", sender_id.hex())
        if not verify_detached(senders[sender_id], sig,
                               env_sig_input(header, topic, ct)):
            raise OpenFailure("bad_signature")
    fields = dict(version=env[0], mode=mode, key_id=key_id,
                  sender_id=sender_id, seq=seq, time_ms=time_ms, nonce=nonce,
                  signature=sig)
    return pt, fields


def env_step1(env, topic):
    """§4.2 step 1, in this order: at least 1 byte, version (whatever the
    length), mode, length, topic. Raises OpenFailure."""
    if len(env) < 1:
        raise OpenFailure("malformed", "empty")
    if env[0] != VERSION:
        raise OpenFailure("version", "version 0x%02x" % env[0])
    if len(env) < 2:
        raise OpenFailure("malformed", "no mode byte")
    mode = env[1]
    if mode not in (MODE_SIGNED, MODE_MAC):
        raise OpenFailure("malformed", "mode 0x%02x" % mode)
    if len(env) < OVERHEAD[mode]:
        raise OpenFailure("malformed", "%d bytes < %d" % (len(env),
                                                          OVERHEAD[mode]))
    if not topic_ok(topic):
        raise OpenFailure("malformed", "topic %r" % topic[:40])


# §3.1 topic filters and matching, §4.1 the most specific channel
def filter_matches(filt, topic):
    """MQTT 3.1.1 §4.7 as §3.1 states it, on bytes: '+' one level (also
    empty), '#' any number of levels including none; a topic starting with
    '$' is not matched by a filter whose first level is '+' or '#'."""
    if topic[:1] == b"$" and filt.split(b"/")[0] in (b"+", b"#"):
        return False
    fl, tl = filt.split(b"/"), topic.split(b"/")
    for i, lv in enumerate(fl):
        if lv == b"#":
            return True
        if i >= len(tl):
            return False
        if lv != b"+" and lv != tl[i]:
            return False
    return len(fl) == len(tl)


def level_rank(levels, i):
    """§4.1: a filter with no more levels beats '#', a literal beats '+',
    '+' beats '#'."""
    if i >= len(levels):
        return 4
    return {b"#": 1, b"+": 2}.get(levels[i], 3)


def more_specific(a, b):
    """> 0 if filter a is more specific than b (both matching one topic),
    < 0 if b is, 0 if they are the same filter. Raises on a tie between
    different filters, which §4.1 says cannot happen."""
    la, lb = a.split(b"/"), b.split(b"/")
    for i in range(max(len(la), len(lb))):
        ra, rb = level_rank(la, i), level_rank(lb, i)
        if ra != rb:
            return 1 if ra > rb else -1
        if ra == 3 and la[i] != lb[i]:
            raise ValueError("%r and %r differ in literal level %d: they "
                             "cannot both match one topic" % (a, b, i))
    if a != b:
        raise ValueError("tie between different filters %r and %r" % (a, b))
    return 0


def select_channel(filters, topic):
    """§4.1 step 1: the most specific of the filters matching topic, or
    None (each filter is one channel of one owner here)."""
    best = None
    for f in filters:
        if filter_matches(f, topic) and \
                (best is None or more_specific(f, best) > 0):
            best = f
    return best


# §5 grants
def valid_filter(f):
    """A valid MQTT topic filter (§3.1): 1..65535 bytes without NUL
    (UTF-8 is not checked); '+' only as a whole level, '#' only as the
    whole last level."""
    if not 1 <= len(f) <= 0xFFFF or b"\0" in f:
        return False
    levels = f.split(b"/")
    for i, lv in enumerate(levels):
        if b"#" in lv and (lv != b"#" or i != len(levels) - 1):
            return False
        if b"+" in lv and lv != b"+":
            return False
    return True


def body_unsigned(owner_pk, member_pk, key_id, channel_key, epoch,
                  created_ms, prev_key_id, grace_ms, flags, filt, publishers):
    """§5 body, everything before the signature."""
    return (BODY_MAGIC + owner_pk + member_pk + key_id + channel_key +
            u32(epoch) + u64(created_ms) + prev_key_id + u64(grace_ms) +
            bytes([flags]) + u16(len(filt)) + filt + u16(len(publishers)) +
            b"".join(publishers))


def grant_sig_input(unsigned):
    """signature = Ed25519-sign(owner_sk, "secmq-grant-v1" || body without
    signature)"""
    return GRANT_SIG_CONTEXT + unsigned


def sign_body(owner, unsigned):
    return unsigned + sign_detached(owner.sk, grant_sig_input(unsigned))


class GrantFailure(Exception):
    def __init__(self, reason, detail=""):
        Exception.__init__(self, reason)
        self.reason = reason
        self.detail = detail


def parse_body(body, magic=BODY_MAGIC, tail=0, rule=None):
    """§5 body -> dict; exact lengths, filter valid, signature verified with
    the owner_pk inside (whether that owner is trusted is the member's
    business, not the format's). Other magics reuse it: `tail` bytes of
    their own fields between the publishers and the signature (d["tail"]),
    and `rule(d)`, their own refusal, judged after rule 3."""
    if len(body) < BODY_FIXED + 2 + tail + SIG:
        raise GrantFailure("malformed", "body of %d bytes" % len(body))
    if body[:8] != magic:
        raise GrantFailure("malformed", "body magic %r" % body[:8])
    d = body_head(body)
    flen = struct.unpack(">H", body[141:143])[0]
    if flen == 0:
        raise GrantFailure("malformed", "filter_len 0")
    off = BODY_FIXED + flen
    if len(body) < off + 2 + tail + SIG:
        raise GrantFailure("malformed", "truncated after filter")
    d["filter"] = body[BODY_FIXED:off]
    n = struct.unpack(">H", body[off:off + 2])[0]
    off += 2
    if len(body) != off + 32 * n + tail + SIG:
        raise GrantFailure("malformed", "length %d, expected %d for %d "
                           "publishers" % (len(body),
                                           off + 32 * n + tail + SIG, n))
    d["publishers"] = [body[off + 32 * i:off + 32 * (i + 1)]
                       for i in range(n)]
    d["tail"] = body[off + 32 * n:-SIG]
    d["signature"] = body[-SIG:]
    if not valid_filter(d["filter"]):
        raise GrantFailure("malformed", "bad filter %r" % d["filter"])
    if not verify_detached(d["owner_pk"], d["signature"],
                           grant_sig_input(body[:-SIG])):
        raise GrantFailure("bad_signature")
    rule_epoch(d)
    if rule is not None:
        rule(d)
    rules_members(d)
    return d


def body_head(body):
    """The fields at offsets 8..140 that every grant body magic shares."""
    return dict(owner_pk=body[8:40], member_pk=body[40:72],
                key_id=body[72:80], channel_key=body[80:112],
                epoch=struct.unpack(">I", body[112:116])[0],
                created_ms=struct.unpack(">Q", body[116:124])[0],
                prev_key_id=body[124:132],
                grace_ms=struct.unpack(">Q", body[132:140])[0],
                flags=body[140])


def rule_epoch(d):
    """§5.1 rule 3, on signed fields."""
    no_prev = d["prev_key_id"] == bytes(8)
    if d["epoch"] == 0:
        raise GrantFailure("bad_epoch", "epoch 0")
    if d["epoch"] == 1 and not no_prev:
        raise GrantFailure("bad_epoch", "epoch 1 with a prev_key_id")
    if no_prev and d["grace_ms"] != 0:
        raise GrantFailure("bad_epoch", "grace_ms without a prev_key_id")
    if not no_prev and d["prev_key_id"] == d["key_id"]:
        raise GrantFailure("bad_epoch", "prev_key_id = key_id")


def rules_members(d):
    """§5.1 rules 4-6, on signed fields, in this order."""
    if d["flags"] & ~(FLAG_PUBLISH | FLAG_MAC_ONLY):
        raise GrantFailure("bad_flags", "flags 0x%02x" % d["flags"])
    if not d["publishers"]:
        raise GrantFailure("bad_publishers", "no publisher")
    if len(set(d["publishers"])) != len(d["publishers"]):
        raise GrantFailure("bad_publishers", "a publisher listed twice")
    if bool(d["flags"] & FLAG_PUBLISH) != (d["member_pk"] in d["publishers"]):
        raise GrantFailure("publisher_mismatch",
                           "flag bit 0 %d, member listed %s"
                           % (d["flags"] & FLAG_PUBLISH,
                              d["member_pk"] in d["publishers"]))


def seal_grant(body, member):
    return GRANT_MAGIC + member.id + nb.crypto_box_seal(body, member.x_pk)


def open_grant(grant, member):
    """§5 outer file -> body (not yet parsed)."""
    if len(grant) < 16 + SEAL_OVERHEAD:
        raise GrantFailure("malformed", "grant of %d bytes" % len(grant))
    if grant[:8] != GRANT_MAGIC:
        raise GrantFailure("malformed", "magic %r" % grant[:8])
    if grant[8:16] != member.id:
        raise GrantFailure("not_for_me", "recipient_id %s" % grant[8:16].hex())
    try:
        return nb.crypto_box_seal_open(grant[16:], member.x_pk, member.x_sk)
    except (CryptoError, ValueError):
        raise GrantFailure("bad_seal")


def accept_grant(grant, member):
    """open + parse + the member checks of §5 that need no keyring."""
    body = open_grant(grant, member)
    d = parse_body(body)
    if d["member_pk"] != member.pk:
        raise GrantFailure("not_for_me", "member_pk")
    return body, d


# §8 file transfer
MANIFEST_MAGIC = b"SECMQFM1"
REQUEST_MAGIC = b"SECMQFR1"
FILE_ID = 16
MANIFEST_FIXED = 146      # up to and including name_len
CHUNK_SIZE_MIN = 1024
CHUNK_SIZE_MAX = 16777216
CHUNKS_MAX = 1 << 24
NAME_MAX = 255
REQUEST_FIXED = 28
RANGES_MAX = 512
KIND_NEED, KIND_DONE, KIND_REFUSED = 1, 2, 3
KIND_NAMES = {KIND_NEED: "need", KIND_DONE: "done", KIND_REFUSED: "refused"}
FILE_REASONS = {1: "too_large", 2: "no_space", 3: "bad_name", 4: "io_error",
                5: "hash", 6: "busy"}
MANIFEST_FIELDS = [(0, 8, "magic"), (8, 16, "file_id"), (24, 32, "file_key"),
                   (56, 32, "sender_pk"), (88, 8, "size"),
                   (96, 4, "chunk_size"), (100, 4, "chunk_count"),
                   (104, 32, "hash"), (136, 8, "mtime_ms"),
                   (144, 2, "name_len"), (146, 255, "name")]
REQUEST_FIELDS = [(0, 8, "magic"), (8, 16, "file_id"), (24, 1, "kind"),
                  (25, 1, "reason"), (26, 2, "n"), (28, 8 * 512, "ranges")]


class FileFailure(Exception):
    def __init__(self, reason, detail=""):
        Exception.__init__(self, reason)
        self.reason = reason
        self.detail = detail


def ceil_div(a, b):
    return (a + b - 1) // b


def encode_manifest(file_id, file_key, sender_pk, size, chunk_size,
                    chunk_count, hash, mtime_ms, name):
    """§8.2, the plaintext of the envelope on TOPIC/m."""
    return (MANIFEST_MAGIC + file_id + file_key + sender_pk + u64(size) +
            u32(chunk_size) + u32(chunk_count) + hash + u64(mtime_ms) +
            u16(len(name)) + name)


def decode_manifest(b):
    """§8.2 bytes -> dict, or FileFailure("malformed"): magic, exact length
    146 + name_len, chunk_size 1024..16777216, chunk_count =
    ceil(size / chunk_size) and at most 2^24, name_len 1..255, no NUL."""
    if len(b) < MANIFEST_FIXED:
        raise FileFailure("malformed", "%d bytes" % len(b))
    if b[:8] != MANIFEST_MAGIC:
        raise FileFailure("malformed", "magic %r" % b[:8])
    name_len = struct.unpack(">H", b[144:146])[0]
    if len(b) != MANIFEST_FIXED + name_len:
        raise FileFailure("malformed", "length %d, name_len %d" %
                          (len(b), name_len))
    d = dict(file_id=b[8:24], file_key=b[24:56], sender_pk=b[56:88],
             size=struct.unpack(">Q", b[88:96])[0],
             chunk_size=struct.unpack(">I", b[96:100])[0],
             chunk_count=struct.unpack(">I", b[100:104])[0],
             hash=b[104:136], mtime_ms=struct.unpack(">Q", b[136:144])[0],
             name=b[146:])
    if not CHUNK_SIZE_MIN <= d["chunk_size"] <= CHUNK_SIZE_MAX:
        raise FileFailure("malformed", "chunk_size %d" % d["chunk_size"])
    if d["chunk_count"] != ceil_div(d["size"], d["chunk_size"]):
        raise FileFailure("malformed", "chunk_count %d for size %d" %
                          (d["chunk_count"], d["size"]))
    if d["chunk_count"] > CHUNKS_MAX:
        raise FileFailure("malformed", "chunk_count %d" % d["chunk_count"])
    if not 1 <= name_len <= NAME_MAX or b"\0" in d["name"]:
        raise FileFailure("malformed", "name %r" % d["name"][:40])
    return d


# §8.6: Unicode 15.0 general category Cf (format characters), as the spec
# lists them, inclusive ranges.
CF_RANGES = [(0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
             (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
             (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F),
             (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
             (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
             (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
             (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F)]


def is_format_char(cp):
    return any(lo <= cp <= hi for lo, hi in CF_RANGES)


def file_name(announced):
    """§8.6: the part after the last '/', refused [bad_name] when empty,
    longer than 255 bytes, starting with '.', not UTF-8 (RFC 3629: no
    overlong form, surrogate, code point above U+10FFFF or truncated
    sequence), or holding a control character (U+0000..U+001F,
    U+007F..U+009F), a format character (CF_RANGES) or '\\'."""
    base = announced.rsplit(b"/", 1)[-1]
    if not 1 <= len(base) <= NAME_MAX or base[:1] == b".":
        raise FileFailure("bad_name", repr(announced[:40]))
    try:
        text = base.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise FileFailure("bad_name", "not UTF-8: %r" % announced[:40])
    for ch in text:
        cp = ord(ch)
        if cp < 0x20 or 0x7f <= cp <= 0x9f or cp == 0x5c or \
                is_format_char(cp):
            raise FileFailure("bad_name", "U+%04X in %r" % (cp,
                                                              announced[:40]))
    return base


def check_cf_table():
    """§8.6's table is Unicode 15.0's category Cf: compared with this
    Python's unicodedata, every difference must be a code point that this
    Python's (older) Unicode version has not assigned yet (Cn)."""
    import unicodedata
    newer = []
    for cp in range(0x110000):
        py = unicodedata.category(chr(cp)) == "Cf"
        if py == is_format_char(cp):
            continue
        if py or unicodedata.category(chr(cp)) != "Cn":
            raise AssertionError("U+%04X: the table says %s, unicodedata %s "
                                 "says %s" % (cp, is_format_char(cp),
                                              unicodedata.unidata_version,
                                              unicodedata.category(chr(cp))))
        newer.append(cp)
    n = sum(hi - lo + 1 for lo, hi in CF_RANGES)
    if n != 170:
        raise AssertionError("%d code points, Unicode 15.0 has 170 Cf" % n)
    return "170 code points; unicodedata %s lacks %d of them (unassigned "\
        "there)" % (unicodedata.unidata_version, len(newer))


def judge_manifest(b):
    """§8.2 decoding, then §8.5 step 1 as far as it concerns the bytes (the
    name; size and space are the receiver's own limits)."""
    d = decode_manifest(b)
    return d, file_name(d["name"])


def hex_id(file_id):
    return binascii.hexlify(file_id)   # lower case


def manifest_topic(topic):
    return topic + b"/m"


def chunk_topic(topic, file_id):
    return topic + b"/c/" + hex_id(file_id)


def request_topic(topic, file_id):
    return topic + b"/r/" + hex_id(file_id)


def receive_manifest(env, mtopic, channel_key, sender_pk):
    """§8.2: the envelope on TOPIC/m opens (§4.2), is signed, and the
    manifest's sender_pk is the key that signed it (its identity id is the
    envelope's sender_id and it equals the key held for that id). The
    receiver holds channel_key for the envelope's key id and sender_pk for
    its sender id (as in §7). Returns the manifest dict."""
    env_step1(env, mtopic)
    keys = {env[2:10]: message_key(channel_key)}
    senders = {env[10:18]: sender_pk}
    pt, f = open_envelope(env, mtopic, keys, senders)
    d = decode_manifest(pt)
    if f["mode"] != MODE_SIGNED:
        raise FileFailure("malformed", "mac-only manifest")
    if identity_id(d["sender_pk"]) != f["sender_id"] or \
            d["sender_pk"] != sender_pk:
        raise FileFailure("malformed", "sender_pk is not the signer's")
    return d


def chunk_len(m, i):
    """§8.3: chunk i holds bytes [i * chunk_size, min(size, (i+1) *
    chunk_size))."""
    start = i * m["chunk_size"]
    return max(0, min(m["size"], start + m["chunk_size"]) - start)


def seal_chunk(m, sender, index, time_ms, nonce, topic, plaintext):
    """§8.3: §4.1 steps 2-4 with channel_key = file_key, key_id = the first
    8 bytes of file_id, seq = index, on TOPIC/c/<hex id>, signed."""
    return seal(MODE_SIGNED, message_key(m["file_key"]), sender,
                m["file_id"][:ID], index, time_ms, nonce,
                chunk_topic(topic, m["file_id"]), plaintext)


def open_chunk(env, ctopic, m):
    """§8.3 receiver checks, in order. Returns (index, plaintext) or raises
    OpenFailure(reason)."""
    env_step1(env, ctopic)                               # malformed/version
    sender_id = identity_id(m["sender_pk"])
    seq = struct.unpack(">Q", env[18:26])[0]
    if env[1] != MODE_SIGNED:
        raise OpenFailure("malformed", "not signed")
    if env[2:10] != m["file_id"][:ID]:
        raise OpenFailure("malformed", "key_id")
    if env[10:18] != sender_id:
        raise OpenFailure("malformed", "sender_id")
    if seq >= m["chunk_count"]:
        raise OpenFailure("malformed", "index %d >= %d" %
                          (seq, m["chunk_count"]))
    if len(env) - HEADER_LEN - SIG != chunk_len(m, seq) + TAG:
        raise OpenFailure("malformed", "ciphertext length")
    pt, f = open_envelope(env, ctopic,
                          {m["file_id"][:ID]: message_key(m["file_key"])},
                          {sender_id: m["sender_pk"]})   # bad_tag/_signature
    return seq, pt


def encode_request(file_id, kind, reason, ranges):
    """§8.4."""
    return (REQUEST_MAGIC + file_id + bytes([kind, reason]) +
            u16(len(ranges)) +
            b"".join(u32(first) + u32(count) for first, count in ranges))


def decode_request(b, rtopic, topic):
    """§8.4 bytes that arrived on rtopic for transfer TOPIC topic -> dict,
    or FileFailure("malformed")."""
    if len(b) < REQUEST_FIXED:
        raise FileFailure("malformed", "%d bytes" % len(b))
    if b[:8] != REQUEST_MAGIC:
        raise FileFailure("malformed", "magic %r" % b[:8])
    kind, reason = b[24], b[25]
    n = struct.unpack(">H", b[26:28])[0]
    if len(b) != REQUEST_FIXED + 8 * n:
        raise FileFailure("malformed", "length %d for n %d" % (len(b), n))
    if kind not in KIND_NAMES:
        raise FileFailure("malformed", "kind %d" % kind)
    if kind == KIND_REFUSED and reason not in FILE_REASONS:
        raise FileFailure("malformed", "refused, reason %d" % reason)
    if kind != KIND_REFUSED and reason != 0:
        raise FileFailure("malformed", "reason %d" % reason)
    if kind == KIND_NEED and not 1 <= n <= RANGES_MAX:
        raise FileFailure("malformed", "need with %d ranges" % n)
    if kind != KIND_NEED and n != 0:
        raise FileFailure("malformed", "%d ranges" % n)
    ranges = [struct.unpack(">II", b[28 + 8 * i:36 + 8 * i])
              for i in range(n)]
    if any(count < 1 for _, count in ranges):
        raise FileFailure("malformed", "a range of 0 chunks")
    file_id = b[8:24]
    if rtopic != request_topic(topic, file_id):
        raise FileFailure("malformed", "file_id is not the id in the topic")
    return dict(file_id=file_id, kind=kind, reason=reason, ranges=ranges)


# --------------------------------------------------------------------------
# Reading the JSON vectors (tolerant about spelling, strict about values)
# --------------------------------------------------------------------------

class Missing(Exception):
    pass


def _unhex(s, name):
    s = s.strip()
    if s.startswith(("0x", "0X")):
        s = s[2:]
    try:
        return binascii.unhexlify(s)
    except (binascii.Error, ValueError):
        raise ValueError("%s: not hex: %r" % (name, s[:40]))


def _lookup(obj, names):
    for n in names:
        if n in obj:
            return n, obj[n]
    raise Missing("none of %s in %s" % ("/".join(names), sorted(obj)))


def get_bytes(obj, *names, size=None, text=False):
    """A byte field: NAME_hex, NAME_b64/NAME_base64, or NAME (hex, or UTF-8
    text when text=True, e.g. topics), or a list of byte values."""
    cands = []
    for n in names:
        cands += [(n + "_hex", "hex"), (n + "_b64", "b64"),
                  (n + "_base64", "b64"), (n + "_text", "text"),
                  (n + "_utf8", "text"), (n, "text" if text else "hex")]
    for key, how in cands:
        if key in obj:
            v = obj[key]
            if isinstance(v, list):
                b = bytes(v)
            elif not isinstance(v, str):
                raise ValueError("%s: expected a string, got %r" % (key, v))
            elif how == "hex":
                b = _unhex(v, key)
            elif how == "b64":
                b = base64.b64decode(v, validate=True)
            else:
                b = v.encode("utf-8")
            if size is not None and len(b) != size:
                raise ValueError("%s: %d bytes, expected %d" % (key, len(b),
                                                                 size))
            return b
    raise Missing("none of %s" % "/".join(names))


def get_int(obj, *names):
    key, v = _lookup(obj, names)
    if isinstance(v, bool):
        raise ValueError("%s: boolean" % key)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v, 0)
    raise ValueError("%s: not an integer: %r" % (key, v))


def get_mode(obj):
    key, v = _lookup(obj, ("mode",))
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    s = str(v).strip().lower().replace("_", "-")
    if s in ("signed", "sign", "0x01", "1"):
        return MODE_SIGNED
    if s in ("mac-only", "mac", "maconly", "0x02", "2"):
        return MODE_MAC
    raise ValueError("mode: %r" % v)


def get_reason(obj):
    key, v = _lookup(obj, ("reason", "expect", "expected", "error",
                           "expected_reason", "result"))
    s = str(v).strip().lower().replace("-", "_")
    for p in ("secmq_open_", "secmq_err_", "secmq_e_"):
        if s.startswith(p):
            s = s[len(p):]
    return s


def flatten(v):
    """A vector with its nested objects (inputs/outputs/...) merged in."""
    out = {}
    for k, x in v.items():
        if isinstance(x, dict):
            for k2, x2 in flatten(x).items():
                out.setdefault(k2, x2)
    for k, x in v.items():
        if not isinstance(x, dict):
            out[k] = x
    return out


def label(v, i, kind):
    for n in ("name", "id", "desc", "description", "comment"):
        if isinstance(v.get(n), str):
            # "signed-short (seed 00..1f, ...)": the part before the details
            return "%s[%d] %s" % (kind, i, v[n].split(" (")[0])
    return "%s[%d]" % (kind, i)


def first_diff(a, b, layout):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            for off, size, name in layout:
                if off <= i < off + size:
                    return "first difference at byte %d (%s)" % (i, name)
            return "first difference at byte %d" % i
    return "lengths %d vs %d" % (len(a), len(b))


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

class Report:
    def __init__(self, quiet=False):
        self.passed = 0
        self.failed = 0
        self.quiet = quiet

    def check(self, name, fn, *args):
        """fn returns None or a detail string on success, raises on
        failure (AssertionError / any exception)."""
        try:
            detail = fn(*args)
        except AssertionError as e:
            self.fail(name, str(e))
            return False
        except Missing as e:
            self.fail(name, "missing field: %s" % e)
            return False
        except Exception as e:  # a bug or a bad vector: a failure either way
            self.fail(name, "%s: %s" % (type(e).__name__, e))
            return False
        self.passed += 1
        if not self.quiet:
            print("PASS %s%s" % (name, (": " + detail) if detail else ""))
        return True

    def fail(self, name, detail):
        self.failed += 1
        print("FAIL %s: %s" % (name, detail))


def expect_eq(what, got, want, layout=None):
    if got != want:
        if isinstance(got, bytes) and isinstance(want, bytes):
            msg = "%s differs: %s\n     got  %s\n     want %s" % (
                what, first_diff(got, want, layout or []),
                got.hex()[:160], want.hex()[:160])
        else:
            msg = "%s: got %r, want %r" % (what, got, want)
        raise AssertionError(msg)


def expect_refused(env, topic, keys, senders, want=None):
    try:
        open_envelope(env, topic, keys, senders)
    except OpenFailure as e:
        if want is not None and e.reason != want:
            raise AssertionError("refused with %s (%s), expected %s"
                                 % (e.reason, e.detail, want))
        return e.reason
    raise AssertionError("opened, expected %s" % (want or "a refusal"))


# libsodium test/default/kdf.c: key = 00 01 .. 1f, ctx "KDF test";
# expected output from test/default/kdf.exp (subkey_id, length -> hex).
KDF_KAT = [
    (0, 64, "a0c724404728c8bb95e5433eb6a9716171144d61efb23e74b873fcbeda51d807"
            "1b5d70aae12066dfc94ce943f145aa176c055040c3dd73b0a15e36254d450614"),
    (1, 64, "02507f144fa9bf19010bf7c70b235b4c2663cc00e074f929602a5e2c10a78075"
            "7d2a3993d06debc378a90efdac196dd841817b977d67b786804f6d3cd585bab5"),
    (16, 16, "a529216624ef9161e4cf117272aafff2"),
    (32, 32, "154b291f11196737f8b7f491e4ca11764e0227d34f94295408a869f007aa8618"),
]


def check_kdf_kat():
    key = bytes(range(32))
    for sid, n, want in KDF_KAT:
        expect_eq("kdf(id=%d, len=%d)" % (sid, n),
                  kdf_derive(n, sid, b"KDF test", key), bytes.fromhex(want))
    # and against libsodium's own BLAKE2b with salt and personal, as linked
    # into python3-nacl
    ck = secrets.token_bytes(32)
    ref = nb.crypto_generichash_blake2b_salt_personal(
        b"", digest_size=32, key=ck, salt=struct.pack("<Q", 1) + bytes(8),
        person=KDF_CONTEXT + bytes(8))
    expect_eq("message_key vs libsodium blake2b_salt_personal",
              message_key(ck), ref)
    m = secrets.token_bytes(100)
    expect_eq("BLAKE2b-32 vs crypto_generichash", blake2b(m, 32),
              nacl.hash.blake2b(m, digest_size=32,
                                encoder=nacl.encoding.RawEncoder))
    return "%d libsodium kdf.exp answers" % len(KDF_KAT)


def random_topic():
    levels = secrets.randbelow(4) + 1
    t = "/".join("l%x" % secrets.randbelow(1 << 20) for _ in range(levels))
    if secrets.randbelow(3) == 0:
        t += "/\u00e9\u6e29"  # UTF-8, more bytes than characters
    return t.encode("utf-8")


def check_fresh(mode, rounds):
    """Envelopes sealed here with random keys, nonces and sizes open here,
    their length is plaintext + overhead, and other topics, keys and senders
    are refused."""
    for r in range(rounds):
        sender = Identity(secrets.token_bytes(32))
        other = Identity(secrets.token_bytes(32))
        ck = secrets.token_bytes(32)
        mk = message_key(ck)
        kid = secrets.token_bytes(8)
        topic = {0: b"a", 1: b"t" * TOPIC_MAX}.get(r) or random_topic()
        pt = secrets.token_bytes([0, 1, 15, 16, 17, 255, 4096][r % 7])
        seq = secrets.randbits(64)
        tms = secrets.randbits(64)
        nonce = secrets.token_bytes(NONCE)
        env = seal(mode, mk, sender, kid, seq, tms, nonce, topic, pt)
        expect_eq("length", len(env), len(pt) + OVERHEAD[mode])
        keys, senders = {kid: mk}, {sender.id: sender.pk}
        got, f = open_envelope(env, topic, keys, senders)
        expect_eq("plaintext", got, pt)
        expect_eq("fields", (f["seq"], f["time_ms"], f["nonce"]),
                  (seq, tms, nonce))
        other_topic = topic[:-1] + bytes([topic[-1] ^ 1])
        expect_refused(env, other_topic, keys, senders, "bad_tag")
        expect_refused(env, topic, {kid: message_key(secrets.token_bytes(32))},
                       senders, "bad_tag")
        expect_refused(env, topic, {}, senders, "unknown_key")
        # §4: topics of 1..4096 bytes without '+' or '#', else malformed
        for bad in (b"", b"t" * (TOPIC_MAX + 1), b"a/+/b", b"a/#", b"+",
                    topic[:-1] + b"#"):
            expect_refused(env, bad, keys, senders, "malformed")
            try:
                seal(mode, mk, sender, kid, seq, tms, nonce, bad, pt)
            except ValueError:
                continue
            raise AssertionError("sealed for topic %r" % bad[:20])
        if mode == MODE_SIGNED:
            expect_refused(env, topic, keys, {}, "unknown_sender")
            expect_refused(env, topic, keys, {sender.id: other.pk},
                           "bad_signature")
            # the signature is checkable without the channel key (§4)
            h, ct = env[:HEADER_LEN], env[HEADER_LEN:-SIG]
            assert verify_detached(sender.pk, env[-SIG:],
                                   env_sig_input(h, topic, ct)), "broker view"
        # two envelopes of the same message differ (random nonce)
        env2 = seal(mode, mk, sender, kid, seq, tms,
                    secrets.token_bytes(NONCE), topic, pt)
        assert env2 != env, "same envelope with a new nonce"
    return "%d envelopes" % rounds


def flip_all(env, topic, keys, senders):
    """Every single-byte change (xor 0x01 and xor 0xff) of env, every
    truncation and one appended byte must be refused."""
    reasons = {}
    for i in range(len(env)):
        for mask in (0x01, 0xFF):
            e = bytearray(env)
            e[i] ^= mask
            try:
                r = expect_refused(bytes(e), topic, keys, senders)
            except AssertionError:
                raise AssertionError("byte %d ^ 0x%02x still opens" % (i, mask))
            reasons[r] = reasons.get(r, 0) + 1
    for n in range(len(env)):
        try:
            r = expect_refused(env[:n], topic, keys, senders)
        except AssertionError:
            raise AssertionError("truncated to %d bytes still opens" % n)
        reasons[r] = reasons.get(r, 0) + 1
    expect_refused(env + b"\0", topic, keys, senders)
    return "%d bytes x 2 masks + %d truncations + 1 extension refused (%s)" % (
        len(env), len(env), ", ".join("%s %d" % kv
                                      for kv in sorted(reasons.items())))


def check_fresh_grant(rounds):
    for r in range(rounds):
        owner = Identity(secrets.token_bytes(32))
        member = Identity(secrets.token_bytes(32))
        stranger = Identity(secrets.token_bytes(32))
        epoch = 1 if r == 0 else 2 + secrets.randbelow(1000)
        pubs = [Identity(secrets.token_bytes(32)).pk
                for _ in range(r % 3)] + [owner.pk]
        if r & FLAG_PUBLISH:  # §5.1: listed exactly when bit 0 is set
            pubs.append(member.pk)
        filt = [b"#", b"a/+/c", b"home/\xc3\xa9/#"][r % 3]
        unsigned = body_unsigned(
            owner.pk, member.pk, secrets.token_bytes(8),
            secrets.token_bytes(32), epoch, secrets.randbits(64),
            bytes(8) if epoch == 1 else secrets.token_bytes(8),
            0 if epoch == 1 else secrets.randbits(64), r & 3, filt, pubs)
        body = sign_body(owner, unsigned)
        grant = seal_grant(body, member)
        expect_eq("grant length", len(grant), 16 + len(body) + SEAL_OVERHEAD)
        got, d = accept_grant(grant, member)
        expect_eq("body", got, body)
        expect_eq("filter", d["filter"], filt)
        expect_eq("publishers", d["publishers"], pubs)
        try:
            open_grant(grant, stranger)
            raise AssertionError("a stranger opened the grant")
        except GrantFailure as e:
            expect_eq("stranger", e.reason, "not_for_me")
        # same recipient id, other key pair: the seal does not open
        try:
            open_grant(grant[:8] + stranger.id + grant[16:], stranger)
            raise AssertionError("a stranger opened the sealed box")
        except GrantFailure as e:
            expect_eq("stranger seal", e.reason, "bad_seal")
        for i in range(len(body)):
            b = bytearray(body)
            b[i] ^= 0x01
            try:
                parse_body(bytes(b))
            except GrantFailure:
                continue
            raise AssertionError("body with byte %d flipped accepted" % i)
        for extra in (body + b"\0", body[:-1]):
            try:
                parse_body(extra)
                raise AssertionError("body of wrong length accepted")
            except GrantFailure:
                pass
    return "%d grants" % rounds


# --------------------------------------------------------------------------
# The vector files
# --------------------------------------------------------------------------

def load(rep, path):
    if not os.path.exists(path):
        rep.fail("vector file %s" % path, "missing")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        rep.fail("vector file %s" % path, "unreadable: %s" % e)
        return None


def run_alone(description, default_file, check_file):
    """main() of a checker that runs by itself on one vector file (FILE,
    default default_file beside this file): check_file(rep, doc), then the
    total; the exit status."""
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("file", nargs="?",
                    default=os.path.join(here, default_file))
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="print failures only (and the total)")
    args = ap.parse_args()
    rep = Report(args.quiet)
    doc = load(rep, args.file)
    if doc is not None:
        check_file(rep, doc)
    print("%d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


class EnvVector:
    """One entry of envelope-v1.json "vectors", decoded."""

    def __init__(self, raw):
        v = flatten(raw)
        self.raw = v
        self.sender = Identity(get_bytes(v, "sender_seed", "seed", size=32))
        self.channel_key = get_bytes(v, "channel_key", size=32)
        self.mode = get_mode(v)
        self.key_id = get_bytes(v, "key_id", size=8)
        self.seq = get_int(v, "seq")
        self.time_ms = get_int(v, "time_ms")
        self.nonce = get_bytes(v, "nonce", size=NONCE)
        self.topic = get_bytes(v, "topic", text=True)
        self.plaintext = get_bytes(v, "plaintext", "payload")
        self.envelope = get_bytes(v, "envelope")


def check_vector_keys(vec):
    v = vec.raw
    expect_eq("sender_pk", vec.sender.pk,
              get_bytes(v, "sender_pk", "sender_public_key", size=32))
    expect_eq("sender_id", vec.sender.id, get_bytes(v, "sender_id", size=8))
    if any(k.startswith(("sender_sk", "sender_secret")) for k in v):
        expect_eq("sender_sk", vec.sender.sk,
                  get_bytes(v, "sender_sk", "sender_secret_key", size=64))


def check_vector_message_key(vec):
    expect_eq("message_key", message_key(vec.channel_key),
              get_bytes(vec.raw, "message_key", size=32))


def check_vector_rebuild(vec):
    env = seal(vec.mode, message_key(vec.channel_key), vec.sender, vec.key_id,
               vec.seq, vec.time_ms, vec.nonce, vec.topic, vec.plaintext)
    layout = ENV_FIELDS + [(HEADER_LEN, len(vec.plaintext) + TAG,
                            "ciphertext")]
    if vec.mode == MODE_SIGNED:
        layout.append((len(env) - SIG, SIG, "signature"))
    expect_eq("envelope", env, vec.envelope, layout)
    expect_eq("length", len(vec.envelope),
              len(vec.plaintext) + OVERHEAD[vec.mode])
    # the JSON's own pieces, where it gives them
    v = vec.raw
    for name, want in (("header", env[:HEADER_LEN]),
                       ("ad", env_ad(env[:HEADER_LEN], vec.topic)),
                       ("ciphertext", env[HEADER_LEN:len(env) - (
                           SIG if vec.mode == MODE_SIGNED else 0)])):
        if name in v or name + "_hex" in v:
            expect_eq(name, want, get_bytes(v, name))
    if vec.mode == MODE_SIGNED and ("signature" in v or "signature_hex" in v):
        expect_eq("signature", env[-SIG:], get_bytes(v, "signature"))
    return "%d bytes, %s" % (len(env), "signed" if vec.mode == MODE_SIGNED
                             else "mac-only")


def check_vector_open(vec, keys, senders):
    pt, f = open_envelope(vec.envelope, vec.topic, keys, senders)
    expect_eq("plaintext", pt, vec.plaintext)
    expect_eq("parsed fields",
              (f["mode"], f["key_id"], f["sender_id"], f["seq"], f["time_ms"],
               f["nonce"]),
              (vec.mode, vec.key_id, vec.sender.id, vec.seq, vec.time_ms,
               vec.nonce))
    # only with exactly its own key and sender, and only on its own topic
    own_keys = {vec.key_id: message_key(vec.channel_key)}
    own_senders = {vec.sender.id: vec.sender.pk}
    pt2, _ = open_envelope(vec.envelope, vec.topic, own_keys, own_senders)
    expect_eq("plaintext (own keys)", pt2, vec.plaintext)
    expect_refused(vec.envelope, vec.topic + b"/x", own_keys, own_senders,
                   "bad_tag")
    if vec.mode == MODE_SIGNED:
        h, ct = vec.envelope[:HEADER_LEN], vec.envelope[HEADER_LEN:-SIG]
        assert verify_detached(vec.sender.pk, vec.envelope[-SIG:],
                               env_sig_input(h, vec.topic, ct)), \
            "signature does not verify without the channel key"


REASONS = ("malformed", "version", "unknown_key", "key_expired",
           "mode_refused", "bad_tag", "unknown_sender", "bad_signature",
           "unauthorised", "too_old", "replay")


def check_negative(neg):
    """§7: a negative entry gives an envelope, the topic it arrived on, and
    channel_key and sender_pk: the keys the receiver holds for the
    envelope's own key_id and sender_id, whatever those bytes are; expect is
    the reason §4.2 steps 1, 4 and 5 give."""
    n = flatten(neg)
    want = get_reason(n)
    if want not in REASONS:
        raise AssertionError("expect %r is no reason of §4.2" % want)
    env = get_bytes(n, "envelope")
    topic = get_bytes(n, "topic", text=True)
    keys = {env[2:10]: message_key(get_bytes(n, "channel_key", size=32))}
    senders = {env[10:18]: get_bytes(n, "sender_pk", size=32)}
    got = expect_refused(env, topic, keys, senders, want)
    return "refused: %s" % got


def check_envelope_file(rep, doc):
    raws = doc.get("vectors") if isinstance(doc, dict) else None
    if not isinstance(raws, list) or not raws:
        rep.fail("envelope-v1.json", "no \"vectors\" list")
        return
    vectors = []
    for i, raw in enumerate(raws):
        vec = [None]

        def decode(raw=raw):
            vec[0] = EnvVector(raw)
        rep.check("%s: decode" % label(raw, i, "envelope"), decode)
        vectors.append(vec[0])
    keys, senders = {}, {}
    for vec in vectors:
        if vec is not None:
            keys[vec.key_id] = message_key(vec.channel_key)
            senders[vec.sender.id] = vec.sender.pk
    modes = set()
    for i, (raw, vec) in enumerate(zip(raws, vectors)):
        if vec is None:
            continue
        modes.add(vec.mode)
        name = label(raw, i, "envelope")
        rep.check(name + ": sender_pk, sender_id (§2)", check_vector_keys,
                  vec)
        rep.check(name + ": message_key (§3)", check_vector_message_key, vec)
        rep.check(name + ": rebuilt byte for byte (§4)",
                  check_vector_rebuild, vec)
        rep.check(name + ": opens (§4.2)", check_vector_open, vec, keys,
                  senders)
        rep.check(name + ": every changed byte refused", flip_all,
                  vec.envelope, vec.topic, keys, senders)

    def coverage():
        missing = {MODE_SIGNED: "signed", MODE_MAC: "mac-only"}
        for m in modes:
            missing.pop(m, None)
        assert not missing, "no %s vector" % " and no ".join(missing.values())
    rep.check("envelope-v1.json: covers signed and mac-only", coverage)

    negs = doc.get("negative", doc.get("negatives"))
    if not isinstance(negs, list) or not negs:
        rep.fail("envelope-v1.json", "no \"negative\" list")
        return
    for i, neg in enumerate(negs):
        rep.check(label(neg, i, "negative"), check_negative, neg)


class GrantVector:
    def __init__(self, raw):
        v = flatten(raw)
        self.raw = v
        self.member = Identity(get_bytes(v, "member_seed", size=32))
        self.owner = None
        if any(k.startswith("owner_seed") for k in v):
            self.owner = Identity(get_bytes(v, "owner_seed", size=32))
        self.body = get_bytes(v, "body")
        self.grant = get_bytes(v, "grant")


def grant_fields(gv):
    v = gv.raw
    pubs = _lookup(v, ("publishers", "publishers_hex"))[1]
    if not isinstance(pubs, list):
        raise ValueError("publishers: not a list")
    publishers = []
    for p in pubs:
        if isinstance(p, str):
            b = _unhex(p, "publisher")
        else:
            b = get_bytes(p, "pk", "ed25519", "public_key", "ed25519_pk")
        if len(b) != 32:
            raise ValueError("publisher of %d bytes" % len(b))
        publishers.append(b)
    flags = v.get("flags")
    if flags is None:
        flags = ((FLAG_PUBLISH if v.get("may_publish", v.get("publish"))
                  else 0) |
                 (FLAG_MAC_ONLY if v.get("mac_only", v.get("mac_allowed"))
                  else 0))
    else:
        flags = get_int(v, "flags")
    return dict(
        owner_pk=get_bytes(v, "owner_pk", size=32),
        member_pk=get_bytes(v, "member_pk", size=32),
        key_id=get_bytes(v, "key_id", size=8),
        channel_key=get_bytes(v, "channel_key", size=32),
        epoch=get_int(v, "epoch"),
        created_ms=get_int(v, "created_ms"),
        prev_key_id=get_bytes(v, "prev_key_id", size=8),
        grace_ms=get_int(v, "grace_ms"),
        flags=flags,
        filter=get_bytes(v, "filter", text=True),
        publishers=publishers)


def check_grant_keys(gv):
    f = grant_fields(gv)
    expect_eq("member_pk", gv.member.pk, f["member_pk"])
    v = gv.raw
    if any(k.startswith("member_id") for k in v):
        expect_eq("member_id", gv.member.id, get_bytes(v, "member_id"))
    if gv.owner is not None:
        expect_eq("owner_pk", gv.owner.pk, f["owner_pk"])
    return None if gv.owner else "no owner_seed: owner_pk taken as given"


def check_grant_body(gv):
    f = grant_fields(gv)
    unsigned = body_unsigned(f["owner_pk"], f["member_pk"], f["key_id"],
                             f["channel_key"], f["epoch"], f["created_ms"],
                             f["prev_key_id"], f["grace_ms"], f["flags"],
                             f["filter"], f["publishers"])
    layout = BODY_FIELDS + [(BODY_FIXED, len(f["filter"]), "filter"),
                            (BODY_FIXED + len(f["filter"]), 2, "n_pub"),
                            (BODY_FIXED + len(f["filter"]) + 2,
                             32 * len(f["publishers"]), "publishers"),
                            (len(unsigned), SIG, "signature")]
    expect_eq("body without signature", unsigned, gv.body[:-SIG], layout)
    expect_eq("body length", len(gv.body), len(unsigned) + SIG)
    if gv.owner is not None:  # Ed25519 is deterministic: all of it
        expect_eq("body", sign_body(gv.owner, unsigned), gv.body, layout)
    v = gv.raw
    if "signature" in v or "signature_hex" in v:
        expect_eq("signature field", gv.body[-SIG:],
                  get_bytes(v, "signature", size=SIG))
    return "%d bytes" % len(gv.body)


def check_grant_signature(gv):
    f = grant_fields(gv)
    assert verify_detached(f["owner_pk"], gv.body[-SIG:],
                           grant_sig_input(gv.body[:-SIG])), \
        "owner signature does not verify"
    d = parse_body(gv.body)
    for k in f:
        expect_eq(k, d[k], f[k])
    b = bytearray(gv.body)
    b[-1] ^= 1
    assert not verify_detached(f["owner_pk"], bytes(b[-SIG:]),
                               grant_sig_input(gv.body[:-SIG])), \
        "changed signature verifies"


def check_grant_open(gv):
    g = gv.grant
    expect_eq("magic", g[:8], GRANT_MAGIC)
    expect_eq("recipient_id", g[8:16], gv.member.id)
    expect_eq("grant length", len(g), 16 + len(gv.body) + SEAL_OVERHEAD)
    body, d = accept_grant(g, gv.member)
    expect_eq("opened body", body, gv.body)
    # refused by anyone else, and when any outer byte changes
    other = Identity(secrets.token_bytes(32))
    for bad, what in ((g[:8] + other.id + g[16:], "other member"),
                      (b"SECMQGR2" + g[8:], "magic"),
                      (g[:-1], "truncated")):
        try:
            open_grant(bad, other if what == "other member" else gv.member)
        except GrantFailure:
            continue
        raise AssertionError("%s: grant still opens" % what)
    for i in range(len(g)):
        b = bytearray(g)
        b[i] ^= 0x01
        try:
            accept_grant(bytes(b), gv.member)
        except GrantFailure:
            continue
        raise AssertionError("grant byte %d flipped still opens" % i)
    return "opened with the X25519 keys of member_seed"


def check_grant_negative(neg, grants):
    """A grant or body that must be refused with the reason §5.1/§5.2 give:
    malformed (magic, lengths, filter), bad_signature, bad_epoch, bad_flags,
    bad_publishers, publisher_mismatch, not_for_me (recipient_id or
    member_pk) or bad_seal (the sealed box does not open)."""
    n = flatten(neg)
    want = get_reason(n)
    if any(k.startswith("grant") for k in n):
        if any(k.startswith("member_seed") for k in n):
            member = Identity(get_bytes(n, "member_seed", size=32))
        elif grants:
            member = grants[0].member
        else:
            raise Missing("member_seed")
        what, fn = "grant", lambda: accept_grant(get_bytes(n, "grant"),
                                                 member)
    else:
        what, fn = "body", lambda: parse_body(get_bytes(n, "body"))
    try:
        fn()
    except GrantFailure as e:
        if e.reason != want:
            raise AssertionError("%s refused with %s (%s), expected %s"
                                 % (what, e.reason, e.detail, want))
        return "%s refused: %s" % (what, e.reason)
    raise AssertionError("%s accepted, expected %s" % (what, want))


def check_grant_file(rep, doc):
    if not isinstance(doc, dict):
        rep.fail("grant-v1.json", "not an object")
        return
    raws = doc.get("vectors", doc.get("grants"))
    if raws is None:
        raws = [doc]
    if not isinstance(raws, list) or not raws:
        rep.fail("grant-v1.json", "no grant vectors")
        return
    grants = []
    for i, raw in enumerate(raws):
        name = label(raw, i, "grant")
        gv = [None]

        def decode(raw=raw):
            gv[0] = GrantVector(raw)
        if not rep.check(name + ": decode", decode):
            continue
        gv = gv[0]
        grants.append(gv)
        rep.check(name + ": member and owner keys (§2)", check_grant_keys, gv)
        rep.check(name + ": body rebuilt from the fields (§5)",
                  check_grant_body, gv)
        rep.check(name + ": owner signature verifies, body parses exactly",
                  check_grant_signature, gv)
        rep.check(name + ": grant opens to body", check_grant_open, gv)
    negs = doc.get("negative", doc.get("negatives")) or []
    for i, neg in enumerate(negs):
        rep.check(label(neg, i, "grant negative"), check_grant_negative, neg,
                  grants)


# --------------------------------------------------------------------------
# channel-v1.json (§3.1, §4.1)
# --------------------------------------------------------------------------

def check_matching(v):
    filt = get_bytes(v, "filter", text=True)
    topic = get_bytes(v, "topic", text=True)
    want = v.get("match")
    if not isinstance(want, bool):
        raise Missing("match")
    if not valid_filter(filt):
        raise AssertionError("filter %r is not valid (§3.1)" % filt)
    got = filter_matches(filt, topic)
    expect_eq("match of %r by %r" % (topic, filt), got, want)


def check_selection(v):
    filters = [f.encode("utf-8") for f in v.get("filters") or []]
    cases = v.get("cases") or []
    if not filters or not cases:
        raise Missing("filters/cases")
    for f in filters:
        if not valid_filter(f):
            raise AssertionError("filter %r is not valid (§3.1)" % f)
    for c in cases:
        topic = get_bytes(c, "topic", text=True)
        want = c.get("expect")
        want = None if want is None else want.encode("utf-8")
        # every pair of matching filters is ordered (no ties, §4.1)
        matching = [f for f in filters if filter_matches(f, topic)]
        for a in matching:
            for b in matching:
                if a != b and more_specific(a, b) != -more_specific(b, a):
                    raise AssertionError("%r/%r not antisymmetric" % (a, b))
        expect_eq("channel for %r" % topic, select_channel(filters, topic),
                  want)
    return "%d filters, %d topics" % (len(filters), len(cases))


def check_channel_file(rep, doc):
    if not isinstance(doc, dict):
        rep.fail("channel-v1.json", "not an object")
        return
    matching = doc.get("matching") or []
    selection = doc.get("selection") or []
    if not matching or not selection:
        rep.fail("channel-v1.json", "no \"matching\" or \"selection\"")
        return
    for i, v in enumerate(matching):
        rep.check("matching[%d] %s by %s" % (i, v.get("topic"),
                                            v.get("filter")),
                  check_matching, v)
    for i, v in enumerate(selection):
        rep.check(label(v, i, "selection"), check_selection, v)


# --------------------------------------------------------------------------
# file-v1.json (§8)
# --------------------------------------------------------------------------

def manifest_fields(v):
    return dict(file_id=get_bytes(v, "file_id", size=FILE_ID),
                file_key=get_bytes(v, "file_key", size=32),
                sender_pk=get_bytes(v, "sender_pk", size=32),
                size=get_int(v, "size"),
                chunk_size=get_int(v, "chunk_size"),
                chunk_count=get_int(v, "chunk_count"),
                hash=get_bytes(v, "hash", size=32),
                mtime_ms=get_int(v, "mtime_ms"),
                name=get_bytes(v, "announced", text=True))


def check_file_manifest(v):
    sender = Identity(get_bytes(v, "sender_seed", size=32))
    f = manifest_fields(v)
    expect_eq("sender_pk", f["sender_pk"], sender.pk)
    expect_eq("sender_id", get_bytes(v, "sender_id", size=ID), sender.id)
    want = get_bytes(v, "manifest")
    built = encode_manifest(**f)
    expect_eq("manifest", built, want, MANIFEST_FIELDS)
    d, name = judge_manifest(want)
    expect_eq("decoded fields", d, f)
    expect_eq("file_name (§8.6)", name, get_bytes(v, "file_name", text=True))
    topic = get_bytes(v, "topic", text=True)
    mtopic = get_bytes(v, "manifest_topic", text=True)
    expect_eq("manifest_topic", mtopic, manifest_topic(topic))
    ck = get_bytes(v, "channel_key", size=32)
    env = seal(MODE_SIGNED, message_key(ck), sender,
               get_bytes(v, "key_id", size=ID), get_int(v, "seq"),
               get_int(v, "time_ms"), get_bytes(v, "nonce", size=NONCE),
               mtopic, want)
    expect_eq("envelope", env, get_bytes(v, "envelope"),
              ENV_FIELDS + [(HEADER_LEN, len(want) + TAG, "ciphertext"),
                            (len(env) - SIG, SIG, "signature")])
    expect_eq("received manifest", receive_manifest(env, mtopic, ck,
                                                    sender.pk), d)
    return "%d chunks of %d, name %r" % (f["chunk_count"], f["chunk_size"],
                                         name.decode("utf-8", "replace")[:30])


def check_file_chunk(v, files):
    m = decode_manifest(get_bytes(v, "manifest"))
    sender = Identity(get_bytes(v, "sender_seed", size=32))
    expect_eq("sender_pk (the manifest's)", sender.pk, m["sender_pk"])
    expect_eq("sender_id", get_bytes(v, "sender_id", size=ID), sender.id)
    expect_eq("file_key (the manifest's)", get_bytes(v, "file_key", size=32),
              m["file_key"])
    expect_eq("message_key", get_bytes(v, "message_key", size=32),
              message_key(m["file_key"]))
    expect_eq("key_id", get_bytes(v, "key_id", size=ID), m["file_id"][:ID])
    index = get_int(v, "index")
    expect_eq("seq", get_int(v, "seq"), index)
    topic = get_bytes(v, "topic", text=True)
    ctopic = get_bytes(v, "chunk_topic", text=True)
    expect_eq("chunk_topic", ctopic, chunk_topic(topic, m["file_id"]))
    pt = get_bytes(v, "plaintext")
    expect_eq("plaintext length", len(pt), chunk_len(m, index))
    want = get_bytes(v, "chunk")
    env = seal_chunk(m, sender, index, get_int(v, "time_ms"),
                     get_bytes(v, "nonce", size=NONCE), topic, pt)
    expect_eq("chunk", env, want,
              ENV_FIELDS + [(HEADER_LEN, len(pt) + TAG, "ciphertext"),
                            (len(env) - SIG, SIG, "signature")])
    got_index, got_pt = open_chunk(want, ctopic, m)
    expect_eq("opened index", got_index, index)
    expect_eq("opened plaintext", got_pt, pt)
    files.setdefault(m["file_id"], (m, {}))[1][index] = pt
    # every changed byte, truncation and an appended byte is refused
    for i in range(len(want)):
        for x in (0x01, 0xff):
            b = bytearray(want)
            b[i] ^= x
            try:
                open_chunk(bytes(b), ctopic, m)
            except OpenFailure:
                continue
            raise AssertionError("byte %d ^ 0x%02x still opens" % (i, x))
    for n in list(range(0, len(want), 97)) + [len(want) - 1]:
        try:
            open_chunk(want[:n], ctopic, m)
        except OpenFailure:
            continue
        raise AssertionError("cut to %d bytes still opens" % n)
    try:
        open_chunk(want + b"\0", ctopic, m)
        raise AssertionError("an appended byte still opens")
    except OpenFailure:
        pass
    return "%d bytes, index %d" % (len(want), index)


def check_file_hashes(files):
    """The chunks of each file with content: all there, and their
    concatenation is size bytes with BLAKE2b-256 = the manifest's hash."""
    done = 0
    for fid, (m, chunks) in files.items():
        assert sorted(chunks) == list(range(m["chunk_count"])), \
            "file %s: chunks %s of %d" % (fid.hex(), sorted(chunks),
                                          m["chunk_count"])
        data = b"".join(chunks[i] for i in range(m["chunk_count"]))
        expect_eq("file %s size" % fid.hex(), len(data), m["size"])
        expect_eq("file %s hash" % fid.hex(), blake2b(data, 32), m["hash"])
        done += 1
    assert done >= 2, "fewer than 2 complete files"
    return "%d files" % done


def check_file_request(v):
    fid = get_bytes(v, "file_id", size=FILE_ID)
    kind = get_int(v, "kind")
    reason = get_int(v, "reason")
    ranges = [tuple(r) for r in v["ranges"]]
    expect_eq("kind_name", v.get("kind_name"), KIND_NAMES.get(kind))
    expect_eq("reason_name", v.get("reason_name"),
              FILE_REASONS.get(reason, "none"))
    want = get_bytes(v, "request")
    expect_eq("request", encode_request(fid, kind, reason, ranges), want,
              REQUEST_FIELDS)
    topic = get_bytes(v, "topic", text=True)
    rtopic = get_bytes(v, "request_topic", text=True)
    expect_eq("request_topic", rtopic, request_topic(topic, fid))
    d = decode_request(want, rtopic, topic)
    expect_eq("decoded", (d["file_id"], d["kind"], d["reason"], d["ranges"]),
              (fid, kind, reason, ranges))
    return "%s, %d ranges" % (KIND_NAMES[kind], len(ranges))


def check_file_name(v):
    ann = get_bytes(v, "announced", text=True)
    if "file_name" in v:
        expect_eq("file_name", file_name(ann),
                  get_bytes(v, "file_name", text=True))
        return "ok"
    want = get_reason(v)
    try:
        file_name(ann)
    except FileFailure as e:
        expect_eq("reason", e.reason, want)
        return "refused: " + e.reason
    raise AssertionError("%r accepted, expected %s" % (ann, want))


def check_file_negative(v):
    want = get_reason(v)
    what = v.get("what")
    try:
        if what == "manifest":
            judge_manifest(get_bytes(v, "manifest"))
        elif what == "manifest_envelope":
            receive_manifest(get_bytes(v, "envelope"),
                             get_bytes(v, "manifest_topic", text=True),
                             get_bytes(v, "channel_key", size=32),
                             get_bytes(v, "sender_pk", size=32))
        elif what == "chunk":
            open_chunk(get_bytes(v, "chunk"),
                       get_bytes(v, "chunk_topic", text=True),
                       decode_manifest(get_bytes(v, "manifest")))
        elif what == "request":
            decode_request(get_bytes(v, "request"),
                           get_bytes(v, "request_topic", text=True),
                           get_bytes(v, "topic", text=True))
        else:
            raise AssertionError("unknown \"what\": %r" % what)
    except (FileFailure, OpenFailure) as e:
        if e.reason != want:
            raise AssertionError("%s refused with %s (%s), expected %s"
                                 % (what, e.reason, e.detail, want))
        return "%s refused: %s" % (what, e.reason)
    raise AssertionError("%s accepted, expected %s" % (what, want))


def check_file_file(rep, doc):
    if not isinstance(doc, dict):
        rep.fail("file-v1.json", "not an object")
        return
    need = {"manifests": 6, "chunks": 6, "requests": 11, "names": 20,
            "negative": 50}
    for key, n in need.items():
        if not isinstance(doc.get(key), list) or len(doc[key]) < n:
            rep.fail("file-v1.json", "\"%s\": missing or fewer than %d "
                     "entries" % (key, n))
            return
    for i, v in enumerate(doc["manifests"]):
        rep.check(label(v, i, "manifest") + ": rebuilt, decoded, envelope "
                  "(§8.2)", check_file_manifest, v)
    files = {}
    for i, v in enumerate(doc["chunks"]):
        rep.check(label(v, i, "chunk") + ": rebuilt, opens, every change "
                  "refused (§8.3)", check_file_chunk, v, files)
    rep.check("chunks: whole files match their manifest's size and hash",
              check_file_hashes, files)
    for i, v in enumerate(doc["requests"]):
        rep.check(label(v, i, "request") + " (§8.4)", check_file_request, v)
    for i, v in enumerate(doc["names"]):
        rep.check("name[%d] %r (§8.6)" % (i, v.get("announced",
                                                    v.get("comment", ""))[:40]),
                  check_file_name, v)
    for i, v in enumerate(doc["negative"]):
        rep.check(label(v, i, "file negative"), check_file_negative, v)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=here,
                    help="where the vector files (envelope-v1.json, "
                         "grant-v1.json, ..., ratchet-v1.json) are "
                         "(default: beside this script)")
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="print failures only (and the total)")
    args = ap.parse_args()
    rep = Report(args.quiet)

    rep.check("kdf: libsodium known answers (test/default/kdf.exp)",
              check_kdf_kat)
    rep.check("fresh signed envelopes open, others refused", check_fresh,
              MODE_SIGNED, 14)
    rep.check("fresh mac-only envelopes open, others refused", check_fresh,
              MODE_MAC, 14)

    def fresh_flip(mode):
        s = Identity(secrets.token_bytes(32))
        kid, mk = secrets.token_bytes(8), message_key(secrets.token_bytes(32))
        env = seal(mode, mk, s, kid, 7, 1700000000000,
                   secrets.token_bytes(NONCE), b"a/b", b"hello")
        return flip_all(env, b"a/b", {kid: mk}, {s.id: s.pk})
    rep.check("fresh signed envelope: every changed byte refused", fresh_flip,
              MODE_SIGNED)
    rep.check("fresh mac-only envelope: every changed byte refused",
              fresh_flip, MODE_MAC)
    rep.check("fresh grants open, others refused", check_fresh_grant, 6)

    doc = load(rep, os.path.join(args.dir, "envelope-v1.json"))
    if doc is not None:
        check_envelope_file(rep, doc)
    doc = load(rep, os.path.join(args.dir, "grant-v1.json"))
    if doc is not None:
        check_grant_file(rep, doc)
    doc = load(rep, os.path.join(args.dir, "channel-v1.json"))
    if doc is not None:
        check_channel_file(rep, doc)
    rep.check("§8.6 format characters: the table against unicodedata",
              check_cf_table)
    doc = load(rep, os.path.join(args.dir, "file-v1.json"))
    if doc is not None:
        check_file_file(rep, doc)
    # §8 protocol 2: check_file2.py beside this file, on this file's code.
    import check_file2
    doc = load(rep, os.path.join(args.dir, "file-v2.json"))
    if doc is not None:
        check_file2.check_file(rep, doc)
    # §9 receipts: check_receipts.py beside this file, on this file's code.
    import check_receipts
    doc = load(rep, os.path.join(args.dir, "receipt-v1.json"))
    if doc is not None:
        check_receipts.check_file(rep, doc)
    # §3.2 the epoch ratchet: check_ratchet.py beside this file.
    import check_ratchet
    doc = load(rep, os.path.join(args.dir, "ratchet-v1.json"))
    if doc is not None:
        check_ratchet.check_file(rep, doc)
    # §2.3 successor statements: check_successor.py beside this file.
    import check_successor
    doc = load(rep, os.path.join(args.dir, "successor-v1.json"))
    if doc is not None:
        check_successor.check_file(rep, doc)

    print("%d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
