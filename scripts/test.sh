#!/usr/bin/env bash
# test.sh -- install dependencies, build with warnings as errors, run the
# whole test suite (ctest), then build again with AddressSanitizer +
# UndefinedBehaviorSanitizer and run the suite once more, then cross-build
# for arm64 and run the suite (all but the fuzzers) under qemu-user, with
# an arm64/amd64 interop test (scripts/test-arm64.sh, docs/ARM64.md).
# Usage: scripts/test.sh [--no-sanitize] [--no-arm64]
#   --no-sanitize  skip the sanitizer build and its run
#   --no-arm64     skip the arm64 cross build and its run under qemu-user
#                  (only amd64 machines make it: elsewhere it is skipped)
# SECMQ_TEST_JOBS: tests run at once by each ctest (default 2 per core).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=1
arm64=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    --no-arm64) arm64=0 ;;
    -h | --help)
      sed -n '2,11s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "secmq test.sh: unknown option '$arg' (try --help)" >&2
      exit 1
      ;;
  esac
done

scripts/deps.sh
# Most tests wait on a broker, a timer or another process far more than
# they compute (test_plugin_live: 55 s, 13 s of CPU), so ctest runs twice
# as many at once as there are cores (SECMQ_TEST_JOBS overrides); their
# time limits allow for that. Three per core took the native pass from
# 357 to 312 s on a 2-core VM, but the load then held a subscriber of
# secmq-bench's 1 s epoch row back past its key's grace (messages refused
# as key_expired, the smoke test failed): not the default.
jobs=${SECMQ_TEST_JOBS:-$((2 * $(nproc)))}
case "$jobs" in
  '' | *[!0-9]* | 0)
    echo "secmq test.sh: SECMQ_TEST_JOBS must be a positive number" >&2
    exit 1
    ;;
esac

scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir build --output-on-failure -j"$jobs"

# The sanitizer pass leaves out what it would only repeat: the fuzzers
# (always built with ASan+UBSan by run_fuzz.sh, run in the pass above), the
# package test (installs release packages), deps.sh's own test (shell) and
# the RabbitMQ tests (label cluster: test_cluster_rabbitmq and
# test_bench_rabbitmq; Erlang's boot is most of their CPU time, and
# secmq-authd, the tools and the bench's clients are under test in
# test_authd, test_client_qos2_refused, test_bench_smoke and the rest), and
# the browser dashboard's tests (label web: JavaScript, no C of ours runs
# there but the controller, which the native pass covers), and the identity
# rotation's end-to-end test (its library code runs under the sanitizers in
# unit_rotate and python_asan_keyring, the tools' part is argument parsing).
if [ "$sanitize" -eq 1 ]; then
  scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DSECMQ_SANITIZE=ON
  # intercept_tls_get_addr=0: GCC 12's LeakSanitizer tracer can crash at
  # exit without it (python/tests/asan_run.py says why). handle_sigill=1:
  # UBSan runs in trap mode (cmake/SecmqWarnings.cmake), a finding is an
  # illegal instruction whose stack AddressSanitizer then prints.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0:handle_sigill=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" \
      -LE 'fuzz|package|cluster|web' -E '^(deps_script|test_identity_rotate)$'
fi

# The arm64 pass cross-builds on amd64; an arm64 machine's own run above
# already was the arm64 one.
if [ "$arm64" -eq 1 ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
  SECMQ_NATIVE_BUILD=build scripts/test-arm64.sh build-arm64
elif [ "$arm64" -eq 1 ]; then
  echo "secmq test.sh: not amd64, no arm64 cross pass (the run above was" \
    "$(dpkg --print-architecture))" >&2
fi
