#!/usr/bin/env bash
# run_fuzz.sh -- build one fuzzer with clang (libFuzzer + ASan + UBSan) out
# of tree in a temp dir and run it for a bounded time from generated seeds.
# Called by ctest (fuzz_envelope, fuzz_acl); independent of the project's
# compiler and build type.
# Usage: run_fuzz.sh SOURCE_DIR [PYTHON] [SECONDS] [TARGET]
#   TARGET envelope (default): seeded with tests/vectors/envelope-v1.json;
#   TARGET acl: broker-plugin/acl.c + filter.c + policy.c, seeded with a few policies.
#   TARGET xfer: libsecmq/src/xfercodec.c + xfername.c + xfertree.c +
#   xferform.c (file-transfer manifests, requests, names, chunks of both
#   protocols).
#   TARGET grant: libsecmq/src/grant.c (grant bodies, re-signed to reach the
#   field rules; SECMQGB1, SECMQGB2 and SECMQGB3) and topicfilter.c (the
#   most-specific-filter order), seeded with tests/vectors/grant-v1.json,
#   receipt-v1.json, ratchet-v1.json and channel-v1.json.
#   TARGET form: authd/authd_form.c (secmq-authd's request fields).
#   TARGET conns: authd/authd_json.c (RabbitMQ's connection list, json-c).
#   TARGET receipt: libsecmq/src/receipt.c (receipt plaintexts and receipt
#   envelopes), seeded with tests/vectors/receipt-v1.json.
#   TARGET successor: libsecmq/src/identity_succ.c (successor statements)
#   and identity.c (public identity files), seeded with
#   tests/vectors/successor-v1.json.
# Exit 77 (ctest: skipped) when clang or its libFuzzer runtime is missing.
set -euo pipefail
src=$1
python=${2:-/usr/bin/python3}
secs=${3:-20}
target=${4:-envelope}
cc=${SECMQ_FUZZ_CC:-clang}

case $target in
envelope | acl | xfer | grant | form | conns | receipt | successor) ;;
*)
  echo "run_fuzz: unknown target '$target' (envelope, acl, xfer, grant, form, conns, receipt or successor)" >&2
  exit 2
  ;;
esac

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "run_fuzz: $cc not found, skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
san=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
# libFuzzer's own default for a crash is exit 77, which ctest would report
# as "skipped": a finding must fail the test.
run=(-error_exitcode=1 -timeout_exitcode=1 -max_total_time="$secs" -timeout=10
  -rss_limit_mb=2048 -print_final_stats=1)

# Can this clang link a libFuzzer program at all?
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\n%s\n' \
  'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
  >"$tmp/probe.c"
if ! "$cc" "${san[@]}" "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
  echo "run_fuzz: $cc cannot build libFuzzer programs here, skipped"
  exit 77
fi

read -r -a sodium <<<"$(pkg-config --cflags --libs libsodium)"
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror "${san[@]}")
mkdir "$tmp/corpus"

if [ "$target" = acl ]; then
  "$cc" "${cflags[@]}" -I "$src/broker-plugin" -I "$src/libsecmq/include" \
    -I "$src/tests/common" "$src/tests/fuzz/fuzz_acl.c" \
    "$src/broker-plugin/acl.c" "$src/broker-plugin/filter.c" \
    "$src/broker-plugin/policy.c" "${sodium[@]}" -o "$tmp/fuzz_acl"
  # Seeds: flags byte (bits 0-2 pattern access, 3-5 filter access, 6 signed,
  # 7 disabled), then user, client id, pattern, filter, topic, NUL-separated.
  i=0
  seed() {
    printf "$1" >"$tmp/corpus/seed-$i"
    i=$((i + 1))
  }
  seed '\x01alice\0pi-1\0users/%%u/#\0status\0users/alice/x'
  seed '\x00alice\0c\0status\0#\0status'
  seed '\x21sam\0sam-pi\0%%c/#\0a/+/b\0a//b'
  seed '\x0cbob\0$SYS\0%%c/#\0+/#\0$SYS/broker/uptime'
  seed '\x59eve\0x+\0a/%%u/%%c\0a/secret/#\0a/secret/x'
  seed '\x8balice\0c\0%%%%u/%%x\0$share/g/status\0/a/'
  seed '\x42u\0c\0+/+/#\0#\0+'
  seed '\x13\xc3\xa9l\xc3\xa8ve\0id\0\xc3\xa9/%%u\0/#\0/'
  echo "run_fuzz: acl, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_acl" "${run[@]}" -max_len=6000 "$tmp/corpus"
  exit 0
fi

if [ "$target" = form ]; then
  "$cc" "${cflags[@]}" -I "$src/authd" -I "$src/broker-plugin" \
    -I "$src/libsecmq/include" "$src/tests/fuzz/fuzz_form.c" \
    "$src/authd/authd_form.c" "${sodium[@]}" -o "$tmp/fuzz_form"
  i=0
  for s in 'username=sam&password=pw&vhost=%2F&client_id=c1' \
    'username=alice&vhost=/&resource=topic&name=amq.topic&permission=read&routing_key=a.*.%23&variable_map.client_id=c' \
    'a=1&a=2' '=x&y&&z=' 'k=%zz' 'p=%00' 'q=a+b%20c'; do
    printf '%s' "$s" >"$tmp/corpus/seed-$i"
    i=$((i + 1))
  done
  echo "run_fuzz: form, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_form" "${run[@]}" -max_len=20000 "$tmp/corpus"
  exit 0
fi

if [ "$target" = conns ]; then
  read -r -a jsonc <<<"$(pkg-config --cflags --libs json-c)"
  "$cc" "${cflags[@]}" -I "$src/authd" -I "$src/broker-plugin" \
    -I "$src/libsecmq/include" "$src/tests/fuzz/fuzz_conns.c" \
    "$src/authd/authd_json.c" "${jsonc[@]}" "${sodium[@]}" \
    -o "$tmp/fuzz_conns"
  i=0
  for s in '[]' '[{"name":"a -> b","user":"alice","connected_at":1,"variable_map":{"client_id":"c1"}}]' \
    '[{"client_properties":{},"client_properties":{"client_id":"x"},"name":"n"}]' \
    '[{"name":"n","connected_at":"x"},{"name":"m","user":null}]' '{}' '[[[' \
    '[{"name":"\u0000"}]'; do
    printf '%s' "$s" >"$tmp/corpus/seed-$i"
    i=$((i + 1))
  done
  echo "run_fuzz: conns, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_conns" "${run[@]}" -max_len=20000 "$tmp/corpus"
  exit 0
fi

if [ "$target" = xfer ]; then
  # The file-transfer codecs (PROTOCOL.md section 8): xfercodec.c, its
  # name rule (xfername.c) and protocol 2 (xfertree.c, xferform.c) need
  # the envelope and libsodium only.
  "$cc" "${cflags[@]}" -I "$src/libsecmq/include" -I "$src/libsecmq/src" \
    "$src/tests/fuzz/fuzz_xfer.c" "$src/libsecmq/src/xfercodec.c" \
    "$src/libsecmq/src/xfername.c" "$src/libsecmq/src/xfertree.c" \
    "$src/libsecmq/src/xferform.c" \
    "$src/libsecmq/src/envelope.c" "${sodium[@]}" -o "$tmp/fuzz_xfer"
  # Seeds: selector byte (0 manifest, 1 request, 2 name, 3 chunk), then data.
  i=0
  seedx() {
    printf "$1" >"$tmp/corpus/seed-$i"
    i=$((i + 1))
  }
  seedx '\x00SECMQFM1'
  seedx '\x01SECMQFR1\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02'
  seedx '\x02../../etc/x'
  seedx '\x02a/..'
  seedx '\x03\x01\x01\x01\x01\x01\x01\x01\x01\x01'
  seedx '\x03\x02C\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x02'
  echo "run_fuzz: xfer, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_xfer" "${run[@]}" -max_len=8192 "$tmp/corpus"
  exit 0
fi

if [ "$target" = receipt ]; then
  "$cc" "${cflags[@]}" -I "$src/libsecmq/include" -I "$src/libsecmq/src" \
    "$src/tests/fuzz/fuzz_receipt.c" "$src/libsecmq/src/receipt.c" \
    "$src/libsecmq/src/envelope.c" "${sodium[@]}" -o "$tmp/fuzz_receipt"
  # Seeds: 0 + plaintext, 1 + plaintext, 2 + envelope, from the vectors.
  if [ -x "$python" ]; then
    "$python" - "$src/tests/vectors/receipt-v1.json" "$tmp/corpus" <<'PY'
import json, os, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
n = 0
for v in d["receipts"] + d["negative"]:
    items = [b"\2" + bytes.fromhex(v["envelope"])]
    if "plaintext" in v:
        p = bytes.fromhex(v["plaintext"])
        items += [b"\0" + p, b"\1" + p]
    for b in items:
        with open(os.path.join(sys.argv[2], "seed-%03d" % n), "wb") as out:
            out.write(b)
        n += 1
PY
  fi
  echo "run_fuzz: receipt, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_receipt" "${run[@]}" -max_len=16000 "$tmp/corpus"
  exit 0
fi

if [ "$target" = successor ]; then
  # identity.c's file reading needs kfile.c; identity ids come from
  # envelope.c.
  "$cc" "${cflags[@]}" -I "$src/libsecmq/include" -I "$src/libsecmq/src" \
    "$src/tests/fuzz/fuzz_successor.c" "$src/libsecmq/src/identity_succ.c" \
    "$src/libsecmq/src/identity.c" "$src/libsecmq/src/kfile.c" \
    "$src/libsecmq/src/envelope.c" "${sodium[@]}" -o "$tmp/fuzz_successor"
  # Seeds: 0 + every statement of the vectors, 2 + public identity files of
  # their keys, and a few 1 + created_ms, position, xor, name.
  if [ -x "$python" ]; then
    "$python" - "$src/tests/vectors/successor-v1.json" "$tmp/corpus" <<'PY'
import base64, json, os, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
items = []
links = d["chain"]["links"] + [d["chain"]["conflict"]]
for v in d["statements"] + d["negative"] + d["order"] + links:
    items.append(b"\0" + v["statement"].encode("utf-8"))
for v in d["statements"] + links:
    key = base64.b64encode(bytes.fromhex(v["new_pk"]))
    items.append(b"\2secmq-public 1\nname: " +
                 v.get("name", "carol").encode() + b"\ned25519: " + key + b"\n")
items += [b"\1" + bytes(8) + b"\0\0\0a",
          b"\1\0\0\1\x9b\x76\xda\xa8\0\0\x30\x01alice",
          b"\1" + b"\xff" * 8 + b"\x01\x20\xffA.b_c@d-9" + b"x" * 55]
for n, b in enumerate(items):
    with open(os.path.join(sys.argv[2], "seed-%03d" % n), "wb") as out:
        out.write(b)
PY
  fi
  echo "run_fuzz: successor, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_successor" "${run[@]}" -max_len=2048 "$tmp/corpus"
  exit 0
fi

if [ "$target" = grant ]; then
  "$cc" "${cflags[@]}" -I "$src/libsecmq/include" -I "$src/libsecmq/src" \
    "$src/tests/fuzz/fuzz_grant.c" "$src/libsecmq/src/grant.c" \
    "$src/libsecmq/src/topicfilter.c" "$src/libsecmq/src/envelope.c" \
    "$src/libsecmq/src/ratchet.c" \
    "${sodium[@]}" -o "$tmp/fuzz_grant"
  # Seeds: 0 + body, 1 + body without signature, 2 + "A\0B\0TOPIC",
  # 3 + SECMQGB2 body without signature, 4 + SECMQGB3 body without it.
  if [ -x "$python" ]; then
    "$python" - "$src/tests/vectors" "$tmp/corpus" <<'PY'
import json, os, sys
vec, out = sys.argv[1], sys.argv[2]
n = 0
def put(b):
    global n
    with open(os.path.join(out, "seed-%03d" % n), "wb") as f:
        f.write(b)
    n += 1
with open(os.path.join(vec, "grant-v1.json"), encoding="utf-8") as f:
    g = json.load(f)
for v in g["vectors"] + g["negative"]:
    if "body" in v:
        body = bytes.fromhex(v["body"])
        put(b"\0" + body)
        put(b"\1" + body[:-64])
with open(os.path.join(vec, "receipt-v1.json"), encoding="utf-8") as f:
    for v in json.load(f)["grants"]:
        put(b"\3" + bytes.fromhex(v["body"])[:-64])
with open(os.path.join(vec, "ratchet-v1.json"), encoding="utf-8") as f:
    for v in json.load(f)["grants"]:
        put(b"\4" + bytes.fromhex(v["body"])[:-64])
with open(os.path.join(vec, "channel-v1.json"), encoding="utf-8") as f:
    c = json.load(f)
for s in c["selection"]:
    fs = s["filters"]
    for case in s["cases"]:
        for i in range(len(fs) - 1):
            put(b"\2" + "\0".join([fs[i], fs[i + 1],
                                    case["topic"]]).encode())
PY
  fi
  echo "run_fuzz: grant, $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
  "$tmp/fuzz_grant" "${run[@]}" -max_len=4200 "$tmp/corpus"
  exit 0
fi

"$cc" "${cflags[@]}" -I "$src/libsecmq/include" \
  "$src/tests/fuzz/fuzz_envelope.c" "$src/libsecmq/src/envelope.c" \
  "${sodium[@]}" -o "$tmp/fuzz_envelope"

# Seeds: topic length byte, topic, envelope, for every vector.
if [ -x "$python" ]; then
  "$python" - "$src/tests/vectors/envelope-v1.json" "$tmp/corpus" <<'PY'
import json, os, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
items = [(v["topic"], v["envelope"]) for v in d["vectors"]]
items += [(v["topic"], v["envelope"]) for v in d["negative"]]
for i, (topic, env) in enumerate(items):
    t = topic.encode()
    if len(t) < 256:
        with open(os.path.join(sys.argv[2], "seed-%02d" % i), "wb") as out:
            out.write(bytes([len(t)]) + t + bytes.fromhex(env))
PY
fi
echo "run_fuzz: $(ls "$tmp/corpus" | wc -l) seeds, ${secs}s"
"$tmp/fuzz_envelope" "${run[@]}" -max_len=4096 "$tmp/corpus"
