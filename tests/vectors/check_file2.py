"""Independent check of secmq file transfer protocol 2 (docs/PROTOCOL.md
sections 8.2, 8.3.1 and 8.3.2), written from the page alone with
python3-nacl and hashlib, on top of check_vectors.py's helpers.
check_vectors.py runs it on file-v2.json; it is not a program of its own.
"""
import hashlib
import secrets
import struct

from nacl import bindings as nb
from nacl.exceptions import CryptoError

import check_vectors as cv

FM2_MAGIC = b"SECMQFM2"
KDF_CTX = b"secmqfil"
HEADER = 38
TAG = 16
NODE = 32


def tree_key(file_key):
    """§8.3.1: K_tree = crypto_kdf_derive_from_key(32, 1, "secmqfil", key)."""
    return cv.kdf_derive(32, 1, KDF_CTX, file_key)


def chunk_key(file_key):
    """§8.3.2: K_chunk = crypto_kdf_derive_from_key(32, 2, "secmqfil", key)."""
    return cv.kdf_derive(32, 2, KDF_CTX, file_key)


def h(kt, data):
    return hashlib.blake2b(data, digest_size=32, key=kt).digest()


def leaf(kt, index, pt):
    return h(kt, b"\x00" + struct.pack(">I", index) + pt)


def levels(kt, leaves):
    """Every level, leaves first: neighbours paired, an odd last node
    promoted unchanged."""
    out = [list(leaves)]
    while len(out[-1]) > 1:
        lv = out[-1]
        out.append([h(kt, b"\x01" + lv[i] + lv[i + 1]) if i + 1 < len(lv)
                    else lv[i] for i in range(0, len(lv), 2)])
    return out


def root(kt, leaves):
    if not leaves:
        return h(kt, b"\x02")
    return levels(kt, leaves)[-1][0]


def proof_len(count, index):
    n, i, p = count, index, 0
    while n > 1:
        if (i ^ 1) < n:
            p += 1
        i >>= 1
        n = (n + 1) // 2
    return p


def chunk_len(size, chunk_size, index):
    return min(chunk_size, size - index * chunk_size)


def open_chunk(c, topic, m):
    """§8.3.2 receiver checks, in order; (index, plaintext) or raises
    OpenFailure with the reason."""
    if len(c) < 1:
        raise cv.OpenFailure("malformed", "empty")
    if c[0] != 0x02:
        raise cv.OpenFailure("version", "byte 0 = 0x%02x" % c[0])
    if len(c) < HEADER or c[1] != 0x43 or c[2:10] != m["file_id"][:8]:
        raise cv.OpenFailure("malformed", "kind, key id or length")
    index = struct.unpack(">I", c[10:14])[0]
    if index >= m["chunk_count"]:
        raise cv.OpenFailure("malformed", "index %d" % index)
    n = chunk_len(m["size"], m["chunk_size"], index)
    p = proof_len(m["chunk_count"], index)
    if len(c) != HEADER + n + TAG + NODE * p:
        raise cv.OpenFailure("malformed", "length %d" % len(c))
    t = topic.encode() if isinstance(topic, str) else topic
    ad = b"secmq-chunk-v2" + c[:HEADER] + cv.u16(len(t)) + t
    try:
        pt = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(
            c[HEADER:HEADER + n + TAG], ad, c[14:38], chunk_key(m["file_key"]))
    except CryptoError:
        raise cv.OpenFailure("bad_tag")
    kt = tree_key(m["file_key"])
    x, i = leaf(kt, index, pt), index
    proof = c[HEADER + n + TAG:]
    cnt = m["chunk_count"]
    while cnt > 1:
        if (i ^ 1) < cnt:
            sib, proof = proof[:NODE], proof[NODE:]
            x = h(kt, b"\x01" + (sib + x if i & 1 else x + sib))
        i >>= 1
        cnt = (cnt + 1) // 2
    if x != m["root"]:
        raise cv.OpenFailure("bad_proof")
    return index, pt


def decode_manifest(b):
    """§8.2 with the SECMQFM2 magic (the layout of SECMQFM1)."""
    if len(b) < 146 or b[:8] != FM2_MAGIC:
        raise cv.OpenFailure("malformed", "magic or length")
    nl = struct.unpack(">H", b[144:146])[0]
    if len(b) != 146 + nl:
        raise cv.OpenFailure("malformed", "length")
    size, cs, cnt = struct.unpack(">QII", b[88:104])
    if cnt != -(-size // cs):
        raise cv.OpenFailure("malformed", "chunk count")
    return dict(file_id=b[8:24], file_key=b[24:56], sender_pk=b[56:88],
                size=size, chunk_size=cs, chunk_count=cnt, root=b[104:136],
                mtime_ms=struct.unpack(">Q", b[136:144])[0],
                announced=b[146:])


def check_tree(v):
    fk = cv.get_bytes(v, "file_key", size=32)
    kt = tree_key(fk)
    cv.expect_eq("tree_key", kt, cv.get_bytes(v, "tree_key", size=32))
    chunks = [bytes.fromhex(x) for x in v["chunks"]]
    cv.expect_eq("count", len(chunks), cv.get_int(v, "count"))
    leaves = [leaf(kt, i, c) for i, c in enumerate(chunks)]
    cv.expect_eq("leaves", leaves, [bytes.fromhex(x) for x in v["leaves"]])
    cv.expect_eq("root", root(kt, leaves), cv.get_bytes(v, "root", size=32))
    return "%d chunks" % len(chunks)


def check_manifest(v):
    m = decode_manifest(cv.get_bytes(v, "manifest"))
    for k in ("file_id", "file_key", "sender_pk", "root"):
        cv.expect_eq(k, m[k], cv.get_bytes(v, k))
    for k in ("size", "chunk_size", "chunk_count", "mtime_ms"):
        cv.expect_eq(k, m[k], cv.get_int(v, k))
    cv.expect_eq("announced", m["announced"],
                 cv.get_bytes(v, "announced", text=True))
    return m


def check_chunks(doc, m):
    """Every chunk opens to its plaintext; together they are the file, and
    their leaves make the manifest's root; each proof is as long as §8.3.2
    says; a fresh random chunk of this file opens too."""
    topic = doc["manifest"]["chunk_topic"]
    pts = {}
    cv.expect_eq("chunk_key", chunk_key(m["file_key"]),
                 cv.get_bytes(doc, "chunk_key", size=32))
    for v in doc["chunks"]:
        i, pt = open_chunk(cv.get_bytes(v, "chunk"), topic, m)
        cv.expect_eq("index", i, cv.get_int(v, "index"))
        cv.expect_eq("plaintext", pt, cv.get_bytes(v, "plaintext"))
        cv.expect_eq("proof_nodes", proof_len(m["chunk_count"], i),
                     cv.get_int(v, "proof_nodes"))
        pts[i] = pt
    data = b"".join(pts[i] for i in range(m["chunk_count"]))
    cv.expect_eq("file", data, bytes((31 * j + 7) & 0xff
                                     for j in range(m["size"])))
    kt = tree_key(m["file_key"])
    lv = levels(kt, [leaf(kt, i, pts[i]) for i in range(m["chunk_count"])])
    cv.expect_eq("root of the chunks", lv[-1][0], m["root"])
    # Sealed here, from the page: header, AEAD, proof from the levels.
    i, nonce = 3, secrets.token_bytes(24)
    hdr = b"\x02C" + m["file_id"][:8] + struct.pack(">I", i) + nonce
    t = topic.encode()
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pts[i], b"secmq-chunk-v2" + hdr + cv.u16(len(t)) + t, nonce,
        chunk_key(m["file_key"]))
    proof, j = b"", i
    for level in lv[:-1]:
        if (j ^ 1) < len(level):
            proof += level[j ^ 1]
        j >>= 1
    cv.expect_eq("fresh chunk opens", open_chunk(hdr + ct + proof, topic, m),
                 (i, pts[i]))
    return "%d chunks" % len(pts)


def check_negative(v, m):
    want = v.get("expect")
    try:
        open_chunk(cv.get_bytes(v, "chunk"), v["chunk_topic"], m)
    except cv.OpenFailure as e:
        cv.expect_eq("reason", e.reason, want)
        return "refused: " + e.reason
    raise AssertionError("accepted, expected %s" % want)


def check_file(rep, doc):
    """file-v2.json: "trees", "manifest", "chunks", "negative"."""
    if not isinstance(doc, dict) or len(doc.get("trees") or []) < 5 or \
            len(doc.get("chunks") or []) < 5 or \
            len(doc.get("negative") or []) < 10:
        rep.fail("file-v2.json", "missing or too few entries")
        return
    for i, v in enumerate(doc["trees"]):
        rep.check("file-v2 tree[%d] (§8.3.1)" % i, check_tree, v)
    m = {}
    rep.check("file-v2 manifest SECMQFM2 (§8.2)",
              lambda: m.update(check_manifest(doc["manifest"])) or "ok")
    if not m:
        return
    rep.check("file-v2 chunks open, make the file and its root (§8.3.2)",
              check_chunks, doc, m)
    for i, v in enumerate(doc["negative"]):
        rep.check(cv.label(v, i, "file-v2 negative"), check_negative, v, m)
