"""successor.py -- successor statements (docs/PROTOCOL.md §2.3) written
from that page alone with python3-nacl, never from the C code: read_successor
parses and checks a `<name>.successor` file with the reasons of §2.3 in
their order, make_successor writes one from two secret keys without any of
a keyring's rules (what a thief or a careless tool could sign). Used by
tests/integration/test_identity_rotate.py and python/tests/test_keyring.py.
"""

import base64
import os
import re

import nacl.bindings as nb
from nacl.exceptions import BadSignatureError, CryptoError

from keys import identity_id, now_ms

SIG = 64

SUCC_LABEL = b"secmq-successor-v1"
SUCC_RX = re.compile(
    rb"secmq-successor 1\nname: ([A-Za-z0-9._@-]{1,64})\n"
    rb"old-ed25519: ([A-Za-z0-9+/=]+)\ned25519: ([A-Za-z0-9+/=]+)\n"
    rb"created-ms: (0|[1-9][0-9]{0,19})\nsignature: ([A-Za-z0-9+/=]+)\n"
    rb"proof: ([A-Za-z0-9+/=]+)\n")


class Successor:
    """The fields of a statement that passed every check of §2.3."""

    def __init__(self, name, old_pk, new_pk, created_ms):
        self.name = name
        self.old_pk = old_pk
        self.new_pk = new_pk
        self.created_ms = created_ms
        self.old_id = identity_id(old_pk)
        self.new_id = identity_id(new_pk)


def succ_message(name, old_pk, new_pk, created_ms):
    """M = "secmq-successor-v1" || old_pk || new_pk || u64 created_ms ||
    u8 name_len || name."""
    n = name.encode()
    return (SUCC_LABEL + old_pk + new_pk + created_ms.to_bytes(8, "big") +
            bytes([len(n)]) + n)


def b64(data):
    """Standard base64 with padding (sodium_base64_VARIANT_ORIGINAL)."""
    return base64.b64encode(data)


def unb64(text, n, what):
    """Canonical padded standard base64 of exactly n bytes."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != n or b64(raw) != text:
        raise ValueError("malformed: %s is not base64 of %d bytes"
                         % (what, n))
    return raw


def read_successor(data):
    """Parse and verify a statement (bytes, or a path): a Successor, or
    ValueError whose text starts with the reason of §2.3 (malformed,
    same_key, bad_signature, bad_proof), checked in that order."""
    if not isinstance(data, bytes):
        with open(data, "rb") as fh:
            data = fh.read()
    m = SUCC_RX.fullmatch(data)
    if not m:
        raise ValueError("malformed: %r" % data[:60])
    created = int(m.group(4))
    if created >= 1 << 64:
        raise ValueError("malformed: created-ms %d" % created)
    old_pk = unb64(m.group(2), 32, "old-ed25519")
    new_pk = unb64(m.group(3), 32, "ed25519")
    sig = unb64(m.group(5), SIG, "signature")
    proof = unb64(m.group(6), SIG, "proof")
    name = m.group(1).decode()
    if old_pk == new_pk:
        raise ValueError("same_key")
    msg = succ_message(name, old_pk, new_pk, created)
    for what, s, pk in (("bad_signature", sig, old_pk),
                        ("bad_proof", proof, new_pk)):
        try:
            nb.crypto_sign_open(s + msg, pk)
        except (BadSignatureError, CryptoError, ValueError):
            raise ValueError(what) from None
    return Successor(name, old_pk, new_pk, created)


def make_successor(name, old_sk, new_sk, created_ms=None, old_pk=None):
    """A statement signed by old_sk and proved by new_sk (64-byte libsodium
    secret keys), as an owner that keeps no rule would write it; old_pk
    overrides the key written on the old-ed25519 line."""
    old_pk = old_pk or old_sk[32:]
    new_pk = new_sk[32:]
    created_ms = now_ms() if created_ms is None else created_ms
    msg = succ_message(name, old_pk, new_pk, created_ms)
    # python3-nacl 1.5 has no crypto_sign_detached: the first 64 bytes.
    sig = nb.crypto_sign(msg, old_sk)[:SIG]
    proof = nb.crypto_sign(msg, new_sk)[:SIG]
    return (b"secmq-successor 1\nname: " + name.encode() +
            b"\nold-ed25519: " + b64(old_pk) + b"\ned25519: " +
            b64(new_pk) + b"\ncreated-ms: " + str(created_ms).encode() +
            b"\nsignature: " + b64(sig) + b"\nproof: " + b64(proof) +
            b"\n")


def new_keypair():
    """(pk, sk) of a fresh Ed25519 key pair (sk: libsodium's 64 bytes)."""
    return nb.crypto_sign_seed_keypair(os.urandom(32))
