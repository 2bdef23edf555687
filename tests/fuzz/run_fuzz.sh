#!/usr/bin/env bash
# run_fuzz.sh -- build the envelope fuzzer with clang (libFuzzer + ASan +
# UBSan) out of tree in a temp dir and run it for a bounded time, seeded
# with tests/vectors/envelope-v1.json. Called by ctest (fuzz_envelope);
# independent of the project's compiler and build type.
# Usage: run_fuzz.sh SOURCE_DIR [PYTHON] [SECONDS]
# Exit 77 (ctest: skipped) when clang or its libFuzzer runtime is missing.
set -euo pipefail
src=$1
python=${2:-/usr/bin/python3}
secs=${3:-20}
cc=${SECMQ_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "run_fuzz: $cc not found, skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
san=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

# Can this clang link a libFuzzer program at all?
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\n%s\n' \
  'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
  >"$tmp/probe.c"
if ! "$cc" "${san[@]}" "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
  echo "run_fuzz: $cc cannot build libFuzzer programs here, skipped"
  exit 77
fi

read -r -a sodium <<<"$(pkg-config --cflags --libs libsodium)"
"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror "${san[@]}" \
  -I "$src/libsecmq/include" \
  "$src/tests/fuzz/fuzz_envelope.c" "$src/libsecmq/src/envelope.c" \
  "${sodium[@]}" -o "$tmp/fuzz_envelope"

# Seeds: topic length byte, topic, envelope, for every vector.
mkdir "$tmp/corpus"
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
"$tmp/fuzz_envelope" -max_total_time="$secs" -max_len=4096 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "$tmp/corpus"
