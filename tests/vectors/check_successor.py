#!/usr/bin/python3
"""Independent check of successor statements (docs/PROTOCOL.md §2.3),
written from the page alone with python3-nacl, on top of check_vectors.py's
identity code. check_vectors.py runs it on successor-v1.json; by hand:

    /usr/bin/python3 tests/vectors/check_successor.py [FILE] [-q]

One PASS/FAIL line per check, then `N passed, M failed`; the exit status is
0 only when nothing failed (a missing file is a failure).
"""
import base64
import re
import secrets
import sys

import check_vectors as cv

FIRST_LINE = b"secmq-successor 1"
LABEL = b"secmq-successor-v1"          # 18 bytes, no NUL
PREFIXES = (b"name: ", b"old-ed25519: ", b"ed25519: ", b"created-ms: ",
            b"signature: ", b"proof: ")
U64_MAX = 2 ** 64 - 1
NAME_RE = re.compile(rb"[A-Za-z0-9._@-]{1,64}\Z")
B64_RE = re.compile(rb"(?:[A-Za-z0-9+/]{4})*"
                    rb"(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
DECIMAL_RE = re.compile(rb"(?:0|[1-9][0-9]*)\Z")
REASONS = ("ok", "malformed", "same_key", "bad_signature", "bad_proof")
CHAIN_MAX = 64              # §5.3: a chain of at most 64 links


class Refused(Exception):
    def __init__(self, reason, detail=""):
        super().__init__("%s (%s)" % (reason, detail) if detail else reason)
        self.reason = reason


def message(name, old_pk, new_pk, created_ms):
    """M = "secmq-successor-v1" || old_pk || new_pk || u64(created_ms)
    || u8(name_len) || name"""
    if len(old_pk) != 32 or len(new_pk) != 32 or len(name) > 255:
        raise ValueError("message() arguments")
    return (LABEL + old_pk + new_pk + cv.u64(created_ms)
            + bytes([len(name)]) + name)


def b64(b):
    return base64.b64encode(b)


def b64_exact(s, n, what):
    """Standard base64 with padding, canonical (it is the encoding of the
    bytes it decodes to), of exactly n bytes."""
    if not B64_RE.match(s):
        raise Refused("malformed", "%s: not base64" % what)
    b = base64.b64decode(s, validate=True)
    if b64(b) != s:
        raise Refused("malformed", "%s: not the canonical base64" % what)
    if len(b) != n:
        raise Refused("malformed", "%s: %d bytes, not %d" % (what, len(b), n))
    return b


def format_statement(name, old_pk, new_pk, created_ms, sig, proof):
    return b"".join(line + b"\n" for line in (
        FIRST_LINE, b"name: " + name, b"old-ed25519: " + b64(old_pk),
        b"ed25519: " + b64(new_pk),
        b"created-ms: " + str(created_ms).encode(),
        b"signature: " + b64(sig), b"proof: " + b64(proof)))


def sign_statement(name, old, new, created_ms):
    """The text of old's statement naming new (cv.Identity each)."""
    m = message(name, old.pk, new.pk, created_ms)
    return format_statement(name, old.pk, new.pk, created_ms,
                            cv.sign_detached(old.sk, m),
                            cv.sign_detached(new.sk, m))


def parse(text):
    """§2.3: a dict of the fields, or Refused with the first reason in
    order (malformed, same_key, bad_signature, bad_proof)."""
    if not text.endswith(b"\n"):
        raise Refused("malformed", "the last line does not end in \\n")
    lines = text[:-1].split(b"\n")
    if lines[0] != FIRST_LINE:
        raise Refused("malformed", "first line %r" % lines[0][:40])
    if len(lines) != 1 + len(PREFIXES):
        raise Refused("malformed", "%d lines, not 7" % len(lines))
    vals = []
    for line, prefix in zip(lines[1:], PREFIXES):
        if not line.startswith(prefix):
            raise Refused("malformed", "expected %r, got %r"
                          % (prefix, line[:20]))
        vals.append(line[len(prefix):])
    name, old_s, new_s, created_s, sig_s, proof_s = vals
    if not NAME_RE.match(name):
        raise Refused("malformed", "name %r" % name[:70])
    old_pk = b64_exact(old_s, 32, "old-ed25519")
    new_pk = b64_exact(new_s, 32, "ed25519")
    if not DECIMAL_RE.match(created_s) or int(created_s) > U64_MAX:
        raise Refused("malformed", "created-ms %r" % created_s[:30])
    created_ms = int(created_s)
    sig = b64_exact(sig_s, 64, "signature")
    proof = b64_exact(proof_s, 64, "proof")
    if new_pk == old_pk:
        raise Refused("same_key")
    m = message(name, old_pk, new_pk, created_ms)
    if not cv.verify_detached(old_pk, sig, m):
        raise Refused("bad_signature")
    if not cv.verify_detached(new_pk, proof, m):
        raise Refused("bad_proof")
    return {"name": name, "old_pk": old_pk, "new_pk": new_pk,
            "created_ms": created_ms, "signature": sig, "proof": proof,
            "message": m}


def judge(text):
    try:
        parse(text)
        return "ok"
    except Refused as e:
        return e.reason


def expect_judged(text, want, what="the statement"):
    try:
        parse(text)
        got, detail = "ok", ""
    except Refused as e:
        got, detail = e.reason, str(e)
    if got != want:
        raise AssertionError("%s: %s, expected %s" % (what, detail or got,
                                                      want))


def every_change_refused(text):
    """Each single-byte change (xor 0x01, 0x20 and 0xff), each truncation
    and an appended byte is refused: the format has exactly one spelling
    of each statement."""
    n = 0
    for i in range(len(text)):
        for x in (0x01, 0x20, 0xff):
            t = bytearray(text)
            t[i] ^= x
            if judge(bytes(t)) == "ok":
                raise AssertionError("byte %d xor 0x%02x accepted" % (i, x))
            n += 1
    for k in range(len(text)):
        if judge(text[:k]) == "ok":
            raise AssertionError("truncated to %d bytes accepted" % k)
        n += 1
    for extra in (b"\n", b"x", b"\0"):
        if judge(text + extra) == "ok":
            raise AssertionError("appended %r accepted" % extra)
        n += 1
    return "%d changes refused" % n


def check_fresh(rounds):
    """Statements made here: accepted; each rule broken alone refused with
    its reason, and the reasons in the order of §2.3."""
    for r in range(rounds):
        old = cv.Identity(secrets.token_bytes(32))
        new = cv.Identity(secrets.token_bytes(32))
        other = cv.Identity(secrets.token_bytes(32))
        name = secrets.choice([b"a", b"alice", b"x" * 64, b"A.b_c@d-9"])
        ms = secrets.choice([0, 1, secrets.randbits(63), U64_MAX])
        text = sign_statement(name, old, new, ms)
        d = parse(text)
        assert d["old_pk"] == old.pk and d["new_pk"] == new.pk
        assert d["created_ms"] == ms and d["name"] == name
        m = message(name, old.pk, new.pk, ms)
        m2 = message(name, old.pk, new.pk, (ms + 1) % (U64_MAX + 1))
        good = (cv.sign_detached(old.sk, m), cv.sign_detached(new.sk, m))
        cases = [
            (format_statement(name, old.pk, old.pk, ms,
                              cv.sign_detached(old.sk, message(
                                  name, old.pk, old.pk, ms)),
                              cv.sign_detached(old.sk, message(
                                  name, old.pk, old.pk, ms))), "same_key"),
            (format_statement(name, old.pk, new.pk, ms,
                              cv.sign_detached(old.sk, m2), good[1]),
             "bad_signature"),
            (format_statement(name, old.pk, new.pk, ms,
                              cv.sign_detached(other.sk, m), good[1]),
             "bad_signature"),
            (format_statement(name, old.pk, new.pk, ms, good[0],
                              cv.sign_detached(new.sk, m2)), "bad_proof"),
            (format_statement(name, old.pk, new.pk, ms, good[0],
                              cv.sign_detached(old.sk, m)), "bad_proof"),
            # two rules broken: the first in §2.3's order is the reason
            (format_statement(name, old.pk, new.pk, ms, good[1], good[0]),
             "bad_signature"),
            (format_statement(name, old.pk, old.pk, ms, good[1], good[0]),
             "same_key"),
            (text.replace(b"created-ms: ", b"created-ms: 0", 1)
             if ms else text + b"\n", "malformed"),
        ]
        for i, (t, want) in enumerate(cases):
            expect_judged(t, want, "round %d case %d" % (r, i))
        if r == 0:
            every_change_refused(text)
    return "%d rounds" % rounds


def check_statement(v):
    """An accepted statement: keys and ids from the seeds, M and the text
    rebuilt byte for byte (Ed25519 is deterministic), then parsed and
    verified back; every change of it refused."""
    old = cv.Identity(cv.get_bytes(v, "old_seed", size=32))
    new = cv.Identity(cv.get_bytes(v, "new_seed", size=32))
    name = cv.get_bytes(v, "name", text=True)
    ms = cv.get_int(v, "created_ms")
    cv.expect_eq("old_pk", cv.get_bytes(v, "old_pk", size=32), old.pk)
    cv.expect_eq("new_pk", cv.get_bytes(v, "new_pk", size=32), new.pk)
    if "old_id" in v:
        cv.expect_eq("old_id", cv.get_bytes(v, "old_id", size=8), old.id)
    m = message(name, old.pk, new.pk, ms)
    cv.expect_eq("message (M)", cv.get_bytes(v, "message"), m,
                 [(0, 18, "label"), (18, 32, "old_pk"), (50, 32, "new_pk"),
                  (82, 8, "created_ms"), (90, 1, "name_len"),
                  (91, len(name), "name")])
    text = cv.get_bytes(v, "statement", text=True)
    cv.expect_eq("statement", text, sign_statement(name, old, new, ms))
    want = v.get("result")
    if want != "ok":
        raise AssertionError("result %r, expected \"ok\"" % want)
    d = parse(text)
    cv.expect_eq("parsed message", d["message"], m)
    return every_change_refused(text)


def check_negative(v):
    text = cv.get_bytes(v, "statement", text=True)
    want = v.get("result")
    if want not in REASONS[1:]:
        raise AssertionError("result %r is not a reason of §2.3" % want)
    expect_judged(text, want)


def follow(statements, start_pk):
    """The key that succeeds start_pk through accepted statements (§5.3):
    the end of the chain from it. Refused as "conflicting" when one old key
    has two statements naming different new keys, "too_long" past 64 links
    or on a loop."""
    nxt = {}
    for t in statements:
        d = parse(t)
        if nxt.get(d["old_pk"], d["new_pk"]) != d["new_pk"]:
            raise Refused("conflicting", "two successors for %r" % d["name"])
        nxt[d["old_pk"]] = d["new_pk"]
    k, links = start_pk, 0
    while k in nxt:
        if links == CHAIN_MAX:
            raise Refused("too_long")
        k, links = nxt[k], links + 1
    return k, links


def check_chain(c):
    """A -> B -> C: each link rebuilt and accepted, each link's old key the
    previous link's new key, all under one name; following from A gives C
    in two links, from B C in one; a second statement for A naming another
    key is a conflict."""
    seeds = [cv.get_bytes(s, "seed", size=32) if isinstance(s, dict)
             else cv.get_bytes({"seed": s}, "seed", size=32)
             for s in c["seeds"]]
    ids = [cv.Identity(s) for s in seeds]
    name = cv.get_bytes(c, "name", text=True)
    links = c["links"]
    if len(links) != len(ids) - 1 or len(links) < 2:
        raise AssertionError("%d links for %d seeds" % (len(links), len(ids)))
    texts = []
    for i, link in enumerate(links):
        ms = cv.get_int(link, "created_ms")
        text = cv.get_bytes(link, "statement", text=True)
        cv.expect_eq("link %d" % i, text,
                     sign_statement(name, ids[i], ids[i + 1], ms))
        cv.expect_eq("link %d message" % i, cv.get_bytes(link, "message"),
                     message(name, ids[i].pk, ids[i + 1].pk, ms))
        d = parse(text)
        if i and d["old_pk"] != parse(texts[-1])["new_pk"]:
            raise AssertionError("link %d does not start where %d ends"
                                 % (i, i - 1))
        texts.append(text)
    end, n = follow(texts, ids[0].pk)
    cv.expect_eq("end of the chain from the first key", end, ids[-1].pk)
    if n != len(links):
        raise AssertionError("%d links followed, not %d" % (n, len(links)))
    cv.expect_eq("end from the second key", follow(texts, ids[1].pk)[0],
                 ids[-1].pk)
    cv.expect_eq("end from the last key", follow(texts, ids[-1].pk),
                 (ids[-1].pk, 0))
    if "end_pk" in c:
        cv.expect_eq("end_pk", cv.get_bytes(c, "end_pk", size=32),
                     ids[-1].pk)
    if "conflict" in c:
        other = cv.get_bytes(c["conflict"], "statement", text=True)
        d = parse(other)
        if d["old_pk"] != ids[0].pk or d["new_pk"] == ids[1].pk:
            raise AssertionError("the conflict does not name another key "
                                 "for the first key")
        for order in ([texts[0], other], [other, texts[0]]):
            try:
                follow(order + texts[1:], ids[0].pk)
            except Refused as e:
                if e.reason != "conflicting":
                    raise
            else:
                raise AssertionError("two successors for one key followed")
    return "%d links" % len(links)


def check_long_chain():
    """65 links made here: 64 are followed, the 65th is refused."""
    ids = [cv.Identity(secrets.token_bytes(32)) for _ in range(CHAIN_MAX + 2)]
    texts = [sign_statement(b"n", ids[i], ids[i + 1], i)
             for i in range(CHAIN_MAX + 1)]
    assert follow(texts[:CHAIN_MAX], ids[0].pk) == (ids[CHAIN_MAX].pk,
                                                     CHAIN_MAX)
    try:
        follow(texts, ids[0].pk)
    except Refused as e:
        assert e.reason == "too_long", e.reason
    else:
        raise AssertionError("65 links followed")


def check_file(rep, doc):
    rep.check("fresh successor statements: accepted, each rule refused in "
              "order (§2.3)", check_fresh, 4)
    rep.check("successor chains: 64 links followed, not 65 (§5.3)",
              check_long_chain)
    if not isinstance(doc, dict):
        rep.fail("successor-v1.json", "not an object")
        return
    for key in ("statements", "negative", "order"):
        if not isinstance(doc.get(key), list) or not doc[key]:
            rep.fail("successor-v1.json", "\"%s\" missing or empty" % key)
            return
    if not isinstance(doc.get("chain"), dict):
        rep.fail("successor-v1.json", "\"chain\" missing")
        return
    for i, v in enumerate(doc["statements"]):
        rep.check("successor[%d] %s: rebuilt, accepted, every change "
                  "refused (§2.3)" % (i, v.get("desc", "")),
                  check_statement, v)
    reasons = set()
    for key in ("negative", "order"):
        for i, v in enumerate(doc[key]):
            if rep.check("successor %s[%d] %s: %s" % (
                    key, i, v.get("desc", ""), v.get("result")),
                    check_negative, v):
                reasons.add(v["result"])
    missing = [r for r in REASONS[1:] if r not in reasons]
    if missing:
        rep.fail("successor negatives", "no passing vector for %s"
                 % ", ".join(missing))
    rep.check("successor chain %s (§2.3, §5.3)" % doc["chain"].get("desc", ""),
              check_chain, doc["chain"])


def main():
    return cv.run_alone(__doc__.split("\n")[0], "successor-v1.json", check_file)


if __name__ == "__main__":
    sys.exit(main())
