"""Independent check of secmq receipts (docs/PROTOCOL.md section 9) and of
grant bodies with receipt fields (section 5, SECMQGB2), written from the
page alone with python3-nacl, on top of check_vectors.py's envelope and
grant code. check_vectors.py runs it on receipt-v1.json; it is not a
program of its own.
"""
import secrets
import struct

import check_vectors as cv

RC_MAGIC = b"SECMQRC1"
GB2_MAGIC = b"SECMQGB2"
MAX_RANGES = 512
RANGE_BYTES = 28
MAX_RECEIPT = 18 + MAX_RANGES * RANGE_BYTES + 138


def receipt_key(channel_key):
    """§9.2: crypto_kdf_derive_from_key(32, 2, "secmqenv", channel_key)."""
    return cv.kdf_derive(32, 2, b"secmqenv", channel_key)


def encode_plain(channel_id, ranges):
    """§9.2 plaintext: magic, channel id, u16 n, n ranges."""
    out = RC_MAGIC + channel_id + cv.u16(len(ranges))
    for key_id, sender_id, first, count in ranges:
        out += key_id + sender_id + cv.u64(first) + cv.u32(count)
    return out


def decode_plain(pt, channel_id):
    """§9.3 step 5; raises OpenFailure("malformed")."""
    if len(pt) < 18 or pt[:8] != RC_MAGIC:
        raise cv.OpenFailure("malformed", "magic or length")
    n = struct.unpack(">H", pt[16:18])[0]
    if not 1 <= n <= MAX_RANGES or len(pt) != 18 + RANGE_BYTES * n:
        raise cv.OpenFailure("malformed", "n = %d, %d bytes" % (n, len(pt)))
    if pt[8:16] != channel_id:
        raise cv.OpenFailure("malformed", "another channel id")
    ranges = []
    for i in range(n):
        r = pt[18 + RANGE_BYTES * i:18 + RANGE_BYTES * (i + 1)]
        first = struct.unpack(">Q", r[16:24])[0]
        count = struct.unpack(">I", r[24:28])[0]
        if count < 1 or first + count - 1 > 2 ** 64 - 1:
            raise cv.OpenFailure("malformed", "range %d" % i)
        ranges.append((r[0:8], r[8:16], first, count))
    return ranges


def seal_receipt(receipter, channel_key, key_id, seq, time_ms, nonce, topic,
                 channel_id, ranges):
    """§9.2: a signed envelope (§4.1 steps 2-4) under the receipt key."""
    mk = cv.message_key(receipt_key(channel_key))
    return cv.seal(cv.MODE_SIGNED, mk, receipter, key_id, seq, time_ms, nonce,
                   topic, encode_plain(channel_id, ranges))


def open_receipt(env, topic, channel_key, channel_id, receipters):
    """§9.3 steps 1 and 3-5, with channel_key the key held for the
    envelope's key id (step 2 is the holder's state). Returns (ranges,
    receipter pk) or raises OpenFailure(reason)."""
    cv.env_step1(env, topic)
    if env[1] != cv.MODE_SIGNED:
        raise cv.OpenFailure("malformed", "not signed")
    if len(env) > MAX_RECEIPT:
        raise cv.OpenFailure("malformed", "longer than any receipt")
    mk = cv.message_key(receipt_key(channel_key))
    senders = {cv.identity_id(pk): pk for pk in receipters}
    try:
        pt, f = cv.open_envelope(env, topic, {env[2:10]: mk}, senders,
                                 allow_mac=False)
    except cv.OpenFailure as e:
        if e.reason == "unknown_sender":
            raise cv.OpenFailure("unauthorised", e.detail)
        raise
    return decode_plain(pt, channel_id), senders[f["sender_id"]]


def gb2_parse(body):
    """§5 SECMQGB2 body: the SECMQGB1 rules on the fields before the
    receipt fields (signature over the whole body), then rule 7."""
    if len(body) < cv.BODY_FIXED + 2 + cv.SIG or body[:8] != GB2_MAGIC:
        raise cv.GrantFailure("malformed", "magic or length")
    flen = struct.unpack(">H", body[141:143])[0]
    off = cv.BODY_FIXED + flen
    if flen == 0 or len(body) < off + 2:
        raise cv.GrantFailure("malformed", "filter")
    npub = struct.unpack(">H", body[off:off + 2])[0]
    off += 2 + 32 * npub
    if len(body) < off + 2:
        raise cv.GrantFailure("malformed", "publishers")
    tlen = struct.unpack(">H", body[off:off + 2])[0]
    topic = body[off + 2:off + 2 + tlen]
    o2 = off + 2 + tlen
    if len(body) < o2 + 4:
        raise cv.GrantFailure("malformed", "receipt fields")
    need, nr = struct.unpack(">HH", body[o2:o2 + 4])
    rcpts = [body[o2 + 4 + 32 * i:o2 + 4 + 32 * (i + 1)] for i in range(nr)]
    if len(body) != o2 + 4 + 32 * nr + cv.SIG:
        raise cv.GrantFailure("malformed", "length")
    if not (1 <= tlen <= 4096 and cv.topic_ok(topic) and b"\0" not in topic):
        raise cv.GrantFailure("malformed", "receipt topic")
    if not cv.verify_detached(body[8:40], body[-cv.SIG:],
                              cv.GRANT_SIG_CONTEXT + body[:-cv.SIG]):
        raise cv.GrantFailure("bad_signature")
    # Rules 3-6 are SECMQGB1's (check_vectors.parse_body); the vector's
    # fields are checked by rebuilding the body from them. Rule 7:
    if nr == 0 or len(set(rcpts)) != nr or need > nr:
        raise cv.GrantFailure("bad_receipts")
    return dict(topic=topic, need=need, receipters=rcpts, off=off)


def hx(v, k, n=None):
    b = bytes.fromhex(v[k])
    if n is not None and len(b) != n:
        raise AssertionError("%s: %d bytes, want %d" % (k, len(b), n))
    return b


def ranges_of(v):
    return [(hx(r, "key_id", 8), hx(r, "sender_id", 8), r["first"],
             r["count"]) for r in v["ranges"]]


def check_receipt(v):
    s0 = v["receipter_seed_start"]
    who = cv.Identity(bytes((s0 + i) & 0xff for i in range(32)))
    cv.expect_eq("receipter_pk", who.pk, hx(v, "receipter_pk", 32))
    ck = hx(v, "channel_key", 32)
    cv.expect_eq("receipt_key", receipt_key(ck), hx(v, "receipt_key", 32))
    cid = hx(v, "channel_id", 8)
    ranges = ranges_of(v)
    cv.expect_eq("plaintext", encode_plain(cid, ranges), hx(v, "plaintext"))
    topic = v["topic"].encode()
    env = seal_receipt(who, ck, hx(v, "key_id", 8), v["seq"], v["time_ms"],
                       hx(v, "nonce", 24), topic, cid, ranges)
    cv.expect_eq("envelope", env, hx(v, "envelope"))
    rcpts = [bytes.fromhex(x) for x in v["receipters"]]
    got, pk = open_receipt(env, topic, ck, cid, rcpts)
    cv.expect_eq("ranges", got, ranges)
    cv.expect_eq("receipter", pk, who.pk)
    for i in range(len(env)):
        e = bytearray(env)
        e[i] ^= 0x01
        try:
            open_receipt(bytes(e), topic, ck, cid, rcpts)
        except cv.OpenFailure:
            continue
        raise AssertionError("byte %d changed, opened" % i)
    return "%d ranges" % len(got)


def check_negative(v):
    try:
        open_receipt(hx(v, "envelope"), v["topic"].encode(),
                     hx(v, "held_channel_key", 32), hx(v, "channel_id", 8),
                     [bytes.fromhex(x) for x in v["receipters"]])
    except cv.OpenFailure as e:
        cv.expect_eq("reason", e.reason, v["expect"])
        return e.reason
    raise AssertionError("opened, want %s" % v["expect"])


def check_grant(v):
    body = hx(v, "body")
    d = gb2_parse(body)
    pubs = [bytes.fromhex(x) for x in v["publishers"]]
    filt = v["filter"].encode()
    unsigned = cv.body_unsigned(
        hx(v, "owner_pk", 32), hx(v, "member_pk", 32), hx(v, "key_id", 8),
        hx(v, "channel_key", 32), v["epoch"], v["created_ms"],
        hx(v, "prev_key_id", 8), v["grace_ms"], v["flags"], filt, pubs)
    topic = v["receipt_topic"].encode()
    rcpts = [bytes.fromhex(x) for x in v["receipters"]]
    unsigned = (GB2_MAGIC + unsigned[8:] + cv.u16(len(topic)) + topic +
                cv.u16(v["need"]) + cv.u16(len(rcpts)) + b"".join(rcpts))
    cv.expect_eq("body rebuilt from the fields", body[:-cv.SIG], unsigned)
    cv.expect_eq("receipters", d["receipters"], rcpts)
    # §6: a reader from before receipts refuses the body.
    try:
        cv.parse_body(body)
    except cv.GrantFailure as e:
        cv.expect_eq("old reader", e.reason, "malformed")
    else:
        raise AssertionError("a SECMQGB1 reader accepted a SECMQGB2 body")
    return "need %d of %d" % (d["need"], len(rcpts))


def check_fresh(rounds):
    """Fresh receipts made here: open; refused under another key, on another
    topic, from a non-receipter, and claimed by another member."""
    for _ in range(rounds):
        a = cv.Identity(secrets.token_bytes(32))
        z = cv.Identity(secrets.token_bytes(32))
        ck, kid, cid = (secrets.token_bytes(32), secrets.token_bytes(8),
                        secrets.token_bytes(8))
        rs = [(kid, secrets.token_bytes(8), secrets.randbelow(2 ** 63), 5)]
        t = b"secmq/receipts/" + cid.hex().encode()
        env = seal_receipt(a, ck, kid, 3, 1700000000000,
                           secrets.token_bytes(24), t, cid, rs)
        cv.expect_eq("opens", open_receipt(env, t, ck, cid, [a.pk])[0], rs)
        for args, want in (((env, t, secrets.token_bytes(32), cid, [a.pk]),
                            "bad_tag"),
                           ((env, t + b"x", ck, cid, [a.pk]), "bad_tag"),
                           ((env, t, ck, cid, [z.pk]), "unauthorised"),
                           ((env, t, ck, secrets.token_bytes(8), [a.pk]),
                            "malformed")):
            try:
                open_receipt(*args)
                raise AssertionError("opened, want %s" % want)
            except cv.OpenFailure as e:
                cv.expect_eq("reason", e.reason, want)
    return "%d receipts" % rounds


def check_file(rep, doc):
    """receipt-v1.json: "receipts", "grants", "negative"."""
    rep.check("fresh receipts open, others refused (§9.3)", check_fresh, 8)
    if not isinstance(doc, dict) or not doc.get("receipts"):
        rep.fail("receipt-v1.json", "no receipt vectors")
        return
    for i, v in enumerate(doc["receipts"]):
        rep.check(cv.label(v, i, "receipt") + ": rebuilt, opens, every "
                  "changed byte refused", check_receipt, v)
    for i, v in enumerate(doc.get("grants") or []):
        rep.check(cv.label(v, i, "receipt grant") + ": SECMQGB2 body (§5)",
                  check_grant, v)
    negs = doc.get("negative") or []
    if not negs:
        rep.fail("receipt-v1.json", "no negatives")
    for i, v in enumerate(negs):
        rep.check(cv.label(v, i, "receipt negative"), check_negative, v)
