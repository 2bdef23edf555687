#!/usr/bin/python3
"""Independent check of the epoch ratchet (docs/PROTOCOL.md §3.2) and of its
grant bodies (§5, SECMQGB3), written from the page alone with python3-nacl,
on top of check_vectors.py's envelope and grant code. check_vectors.py runs
it on ratchet-v1.json; by hand:

    /usr/bin/python3 tests/vectors/check_ratchet.py [FILE] [-q]

One PASS/FAIL line per check, then `N passed, M failed`; the exit status is
0 only when nothing failed (a missing file is a failure).
"""
import secrets
import struct
import sys

import check_vectors as cv

GB3_MAGIC = b"SECMQGB3"
RATCHET_CTX = b"secmqrat"
STEP_ID_CTX = b"secmq-step-v1"
RATCHET_TAIL = 12            # u32 period_ms, u32 grace_ms, u32 step
PERIOD_MIN = 1000
FIELD_MAX = 2 ** 31 - 1      # period_ms and grace_ms
GRACE_PERIODS = 1024         # grace_ms <= 1024 * period_ms
STEP_MAX = 2 ** 32 - 1       # step is a u32 in the body and in step ids
EXPIRED_WINDOW = 64          # key ids of lo - 64 .. lo - 1: key_expired
DERIVE_MAX = 1 << 20         # bound on the steps derived for one vector
GRANT_REASONS = ("ok", "malformed", "bad_signature", "bad_epoch",
                 "bad_flags", "bad_publishers", "publisher_mismatch",
                 "bad_ratchet")


# §3.2 the chain
def next_key(k):
    """k_{s+1} = crypto_kdf_derive_from_key(32, 1, "secmqrat", k_s)"""
    return cv.kdf_derive(32, 1, RATCHET_CTX, k)


def step_key_id(key_id, s):
    """first 8 bytes of BLAKE2b-32("secmq-step-v1" || key_id || u32(s))"""
    if len(key_id) != cv.ID or not 0 <= s <= STEP_MAX:
        raise ValueError("step_key_id(%r, %d)" % (key_id, s))
    return cv.blake2b(STEP_ID_CTX + key_id + cv.u32(s), 32)[:8]


def chain_key(start_key, start_step, s):
    """k_s derived forward from k_start (never backwards: §3.2)."""
    if not start_step <= s <= start_step + DERIVE_MAX:
        raise ValueError("step %d not derivable from step %d"
                         % (s, start_step))
    k = start_key
    for _ in range(s - start_step):
        k = next_key(k)
    return k


def step_of(t, created_ms, period_ms):
    """step(t) = floor((t - created_ms) / period_ms), 0 before created_ms."""
    return (t - created_ms) // period_ms if t >= created_ms else 0


def erased(s, now_ms, created_ms, period_ms, grace_ms):
    """Step s is erased once now_ms > created_ms + (s + 1) * period_ms +
    grace_ms."""
    return now_ms > created_ms + (s + 1) * period_ms + grace_ms


def lowest_held(now_ms, created_ms, period_ms, grace_ms, grant_step):
    """max(grant_step, smallest s not erased), in closed form, checked
    against the definition at its edge."""
    x = now_ms - created_ms - grace_ms          # erased iff (s+1)*period < x
    low = max(0, -(-x // period_ms) - 1)
    if erased(low, now_ms, created_ms, period_ms, grace_ms) or \
            (low > 0 and not erased(low - 1, now_ms, created_ms, period_ms,
                                    grace_ms)):
        raise AssertionError("lowest step not erased: arithmetic")
    return max(grant_step, low)


def receiver_verdict(env_key_id, key_id, lo, now_step):
    """§3.2 receiver: ("open", s) for lo <= s <= max(step(now), lo) + 1,
    ("key_expired", s) for lo - 64 <= s < lo, else ("unknown_key", None)."""
    for s in range(lo, min(max(now_step, lo) + 1, STEP_MAX) + 1):
        if step_key_id(key_id, s) == env_key_id:
            return "open", s
    for s in range(max(0, lo - EXPIRED_WINDOW), lo):
        if step_key_id(key_id, s) == env_key_id:
            return "key_expired", s
    return "unknown_key", None


# §5 SECMQGB3 and §5.1 [bad_ratchet]
def ratchet_rule(d):
    """§5.1 [bad_ratchet], judged right after rule 3 (bad_epoch)."""
    period, grace, step = struct.unpack(">III", d["tail"])
    d.update(period_ms=period, ratchet_grace_ms=grace, step=step)
    if not PERIOD_MIN <= period <= FIELD_MAX:
        raise cv.GrantFailure("bad_ratchet", "period_ms %d" % period)
    if grace > FIELD_MAX or grace > GRACE_PERIODS * period:
        raise cv.GrantFailure("bad_ratchet", "grace_ms %d for a period of %d"
                              % (grace, period))
    if d["prev_key_id"] != bytes(8):
        raise cv.GrantFailure("bad_ratchet", "a prev_key_id")
    if d["grace_ms"] != 0:
        raise cv.GrantFailure("bad_ratchet", "a GB1 grace_ms")


def gb3_parse(body):
    """§5.1 rules 1-6 and [bad_ratchet] on a SECMQGB3 body."""
    return cv.parse_body(body, GB3_MAGIC, RATCHET_TAIL, ratchet_rule)


def gb3_unsigned(owner_pk, member_pk, key_id, channel_key, epoch, created_ms,
                 flags, filt, publishers, period_ms, grace_ms, step,
                 prev_key_id=bytes(8), gb1_grace_ms=0):
    """The SECMQGB1 fields with the magic replaced, then the ratchet's."""
    b = cv.body_unsigned(owner_pk, member_pk, key_id, channel_key, epoch,
                         created_ms, prev_key_id, gb1_grace_ms, flags, filt,
                         publishers)
    return (GB3_MAGIC + b[8:] + cv.u32(period_ms) + cv.u32(grace_ms) +
            cv.u32(step))


def any_reader(body):
    """A reader of every body magic: SECMQGB1, SECMQGB2 (check_receipts),
    SECMQGB3. Used to see that no changed byte turns one into another."""
    if body[:8] == GB3_MAGIC:
        return gb3_parse(body)
    if body[:8] == b"SECMQGB2":
        return gb2_reader(body)
    return cv.parse_body(body)


def gb2_reader(body):
    """§9's reader of SECMQGB2 (check_receipts), which predates SECMQGB3."""
    import check_receipts
    return check_receipts.gb2_parse(body)


# The vector file
def hx(v, k, n=None):
    if not isinstance(v.get(k), str):
        raise cv.Missing("%s (a hex string)" % k)
    b = bytes.fromhex(v[k])
    if n is not None and len(b) != n:
        raise AssertionError("%s: %d bytes, want %d" % (k, len(b), n))
    return b


def num(v, k):
    x = v.get(k)
    if not isinstance(x, int) or isinstance(x, bool) or x < 0:
        raise cv.Missing("%s (an integer >= 0)" % k)
    return x


class Chain:
    def __init__(self, v):
        self.name = v.get("name")
        self.key_id = hx(v, "key_id", 8)
        self.start_step = num(v, "start_step")
        self.start_key = hx(v, "start_key", 32)
        self.steps = v.get("steps")

    def key(self, s):
        return chain_key(self.start_key, self.start_step, s)


def check_chain(c):
    if not isinstance(c.steps, list) or not c.steps:
        raise cv.Missing("steps")
    last, k = c.start_step, c.start_key
    for i, st in enumerate(c.steps):
        s = num(st, "step")
        if s < last:
            raise AssertionError("steps[%d]: step %d out of order" % (i, s))
        if s - last > DERIVE_MAX:
            raise AssertionError("steps[%d]: step %d too far ahead" % (i, s))
        for _ in range(s - last):
            k = next_key(k)
        last = s
        w = "step %d " % s
        cv.expect_eq(w + "chain_key", k, hx(st, "chain_key", 32))
        cv.expect_eq(w + "step_key_id", step_key_id(c.key_id, s),
                     hx(st, "step_key_id", 8))
        cv.expect_eq(w + "message_key", cv.message_key(k),
                     hx(st, "message_key", 32))
    return "%d steps from %d up to %d" % (len(c.steps), c.start_step, last)


def check_schedule(v):
    created, period = num(v, "created_ms"), num(v, "period_ms")
    grace, gstep, now = num(v, "grace_ms"), num(v, "grant_step"), \
        num(v, "now_ms")
    if not PERIOD_MIN <= period <= FIELD_MAX or \
            grace > min(FIELD_MAX, GRACE_PERIODS * period):
        raise AssertionError("period_ms %d / grace_ms %d outside §3.2"
                             % (period, grace))
    cur = step_of(now, created, period)
    lo = lowest_held(now, created, period, grace, gstep)
    cv.expect_eq("current_step", cur, num(v, "current_step"))
    cv.expect_eq("lowest_held", lo, num(v, "lowest_held"))
    return "step %d, lowest held %d" % (cur, lo)


def check_grant(v, chains):
    owner = cv.Identity(hx(v, "owner_seed", 32))
    member = cv.Identity(hx(v, "member_seed", 32))
    body = hx(v, "body")
    want = v.get("result")
    if want not in GRANT_REASONS:
        raise AssertionError("result %r is none of %s" % (want,
                                                          GRANT_REASONS))
    try:
        d = gb3_parse(body)
    except cv.GrantFailure as e:
        if e.reason != want:
            raise AssertionError("refused with %s (%s), want %s"
                                 % (e.reason, e.detail, want))
        if want not in ("malformed", "bad_signature"):
            # §7: a rule negative is validly signed by the owner
            assert cv.verify_detached(owner.pk, body[-cv.SIG:],
                                      cv.grant_sig_input(body[:-cv.SIG])), \
                "%s negative not signed by owner_seed" % want
        return "refused: %s (%s)" % (e.reason, e.detail)
    if want != "ok":
        raise AssertionError("accepted, want %s" % want)
    cv.expect_eq("owner_pk", d["owner_pk"], owner.pk)
    cv.expect_eq("member_pk", d["member_pk"], member.pk)
    cv.expect_eq("body rebuilt from its fields", gb3_unsigned(
        d["owner_pk"], d["member_pk"], d["key_id"], d["channel_key"],
        d["epoch"], d["created_ms"], d["flags"], d["filter"],
        d["publishers"], d["period_ms"], d["ratchet_grace_ms"],
        d["step"]) + d["signature"], body)
    cv.expect_eq("owner signature (Ed25519 is deterministic)",
                 cv.sign_body(owner, body[:-cv.SIG]), body)
    # §6: readers from before the ratchet refuse it as malformed
    for what, reader in (("SECMQGB1", cv.parse_body),
                         ("SECMQGB2", gb2_reader)):
        try:
            reader(body)
        except cv.GrantFailure as e:
            cv.expect_eq(what + " reader", e.reason, "malformed")
        else:
            raise AssertionError("a %s reader accepted it" % what)
    flips = refuse_changes(body)
    link = ""
    for c in chains:
        if c.key_id == d["key_id"] and c.start_step <= d["step"]:
            cv.expect_eq("channel_key = k_step of chain %r" % c.name,
                         c.key(d["step"]), d["channel_key"])
            link = ", k_%d of chain %r" % (d["step"], c.name)
    return "step %d, period %d ms, grace %d ms%s; %s" % (
        d["step"], d["period_ms"], d["ratchet_grace_ms"], link, flips)


def refuse_changes(body):
    """Every single-byte change (xor 0x01, 0xff), every truncation and one
    appended byte of an accepted body is refused by a reader of every
    magic."""
    n = 0
    for i in range(len(body)):
        for mask in (0x01, 0xFF):
            b = bytearray(body)
            b[i] ^= mask
            try:
                any_reader(bytes(b))
            except cv.GrantFailure:
                n += 1
                continue
            raise AssertionError("byte %d ^ 0x%02x accepted" % (i, mask))
    for b in [body[:k] for k in range(len(body))] + [body + b"\0"]:
        try:
            any_reader(b)
        except cv.GrantFailure:
            n += 1
            continue
        raise AssertionError("a body of %d bytes accepted" % len(b))
    return "%d changed bodies refused" % n


def check_envelope(v, chains):
    c = chains.get(v.get("chain"))
    if c is None:
        raise AssertionError("chain %r not in \"chains\"" % v.get("chain"))
    s = num(v, "step")
    sender = cv.Identity(hx(v, "sender_seed", 32))
    mode = cv.get_mode(v)
    topic = v["topic"].encode("utf-8")
    mk, kid = cv.message_key(c.key(s)), step_key_id(c.key_id, s)
    pt, env = hx(v, "plaintext"), hx(v, "envelope")
    rebuilt = cv.seal(mode, mk, sender, kid, num(v, "seq"),
                      num(v, "time_ms"), hx(v, "nonce", cv.NONCE), topic, pt)
    cv.expect_eq("envelope", rebuilt, env, cv.ENV_FIELDS)
    keys, senders = {kid: mk}, {sender.id: sender.pk}
    got, _ = cv.open_envelope(env, topic, keys, senders)
    cv.expect_eq("opened plaintext", got, pt)
    # §3.2: the step's key only; the steps beside it do not open it
    for o in (s - 1, s + 1):
        if o >= c.start_step:
            cv.expect_refused(env, topic, {kid: cv.message_key(c.key(o))},
                              senders, "bad_tag")
            cv.expect_refused(env, topic, {step_key_id(c.key_id, o): mk},
                              senders, "unknown_key")
    # §3.2 receiver rules around the envelope's step
    for lo, cur, want in ((s, s, "open"), (s, s - 1, "open"),
                          (s - 2, s - 2, "unknown_key"), (s, s - 2, "open"),
                          (s + 1, s + 1, "key_expired"),
                          (s + 64, s + 64, "key_expired"),
                          (s + 65, s + 65, "unknown_key")):
        if cur >= 0:
            cv.expect_eq("verdict lo %d, step(now) %d" % (lo, cur),
                         receiver_verdict(env[2:10], c.key_id, lo, cur)[0],
                         want)
    return "step %d; %s" % (s, cv.flip_all(env, topic, keys, senders))


def check_fresh(rounds):
    """Fresh GB3 bodies made here: accepted, and each refusal rule in the
    order of §5.1 (rule 3 before [bad_ratchet] before rule 4)."""
    for r in range(rounds):
        o, m = (cv.Identity(secrets.token_bytes(32)) for _ in range(2))
        kid, ck = secrets.token_bytes(8), secrets.token_bytes(32)
        period = [1000, 3600000, FIELD_MAX][r % 3]
        args = dict(owner_pk=o.pk, member_pk=m.pk, key_id=kid,
                    channel_key=ck, epoch=1 + r, created_ms=1700000000000,
                    flags=1, filt=b"a/#", publishers=[m.pk],
                    period_ms=period, grace_ms=min(FIELD_MAX, 1024 * period),
                    step=secrets.randbelow(1 << 32))
        d = gb3_parse(cv.sign_body(o, gb3_unsigned(**args)))
        cv.expect_eq("step", d["step"], args["step"])
        for change, want in (
                (dict(period_ms=999), "bad_ratchet"),
                (dict(period_ms=FIELD_MAX + 1), "bad_ratchet"),
                (dict(grace_ms=min(FIELD_MAX + 1, 1024 * period + 1)),
                 "bad_ratchet"),
                (dict(epoch=2, prev_key_id=b"\1" * 8), "bad_ratchet"),
                (dict(epoch=2, prev_key_id=b"\1" * 8, gb1_grace_ms=5),
                 "bad_ratchet"),
                (dict(gb1_grace_ms=5), "bad_epoch"),
                (dict(epoch=0, period_ms=1), "bad_epoch"),
                (dict(flags=5), "bad_flags"),
                (dict(flags=4, period_ms=1), "bad_ratchet"),
                (dict(publishers=[]), "bad_publishers"),
                (dict(flags=0), "publisher_mismatch")):
            a = dict(args, **change)
            try:
                gb3_parse(cv.sign_body(o, gb3_unsigned(**a)))
            except cv.GrantFailure as e:
                cv.expect_eq("%r" % change, e.reason, want)
                continue
            raise AssertionError("%r accepted, want %s" % (change, want))
    return "%d bodies, 11 refusals each" % rounds


def check_file(rep, doc):
    """ratchet-v1.json: "chains", "schedule", "grants", "envelopes"."""
    rep.check("fresh SECMQGB3 bodies, refusal rules in order (§5.1)",
              check_fresh, 3)
    if not isinstance(doc, dict):
        rep.fail("ratchet-v1.json", "not an object")
        return
    for key in ("chains", "schedule", "grants", "envelopes"):
        if not isinstance(doc.get(key), list) or not doc[key]:
            rep.fail("ratchet-v1.json", "\"%s\" missing or empty" % key)
            return
    chains = {}
    for i, v in enumerate(doc["chains"]):
        name = cv.label(v, i, "chain") + ": keys, step ids (§3.2)"
        c = [None]

        def decode(v=v):
            c[0] = Chain(v)
            return check_chain(c[0])
        if rep.check(name, decode):
            if c[0].name in chains:
                rep.fail(name, "a second chain named %r" % c[0].name)
            chains[c[0].name] = c[0]
    for i, v in enumerate(doc["schedule"]):
        rep.check(cv.label(v, i, "schedule") + ": step(now), lowest held",
                  check_schedule, v)
    reasons = set()
    for i, v in enumerate(doc["grants"]):
        if rep.check(cv.label(v, i, "ratchet grant") + " (§5, §5.1)",
                     check_grant, v, list(chains.values())):
            reasons.add(v["result"])
    missing = [r for r in GRANT_REASONS if r not in reasons]
    if missing:
        rep.fail("ratchet grants", "no passing vector for %s"
                 % ", ".join(missing))
    for i, v in enumerate(doc["envelopes"]):
        rep.check(cv.label(v, i, "ratchet envelope") + ": rebuilt, opens, "
                  "every change refused (§3.2, §4)", check_envelope, v,
                  chains)


def main():
    return cv.run_alone(__doc__.split("\n")[0], "ratchet-v1.json", check_file)


if __name__ == "__main__":
    sys.exit(main())
