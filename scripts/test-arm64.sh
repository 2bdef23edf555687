#!/usr/bin/env bash
# test-arm64.sh -- cross-build secmq for arm64 on an amd64 Debian 12 machine
# and run its test suite (all but the fuzzers) under qemu-user.
# Installs only what is missing: the cross toolchain, qemu-user-static and
# the :arm64 libraries (never anything that removes an amd64 package), and
# unpacks the arm64 libwolfssl-dev and mosquitto, which are not Multi-Arch:
# same, into SECMQ_ARM64_ROOT. Registers qemu-aarch64 with binfmt_misc so
# arm64 programs started by the Python tests run. Then cross-builds with
# cmake/toolchain-aarch64-linux-gnu.cmake (warnings as errors), runs ctest
# (client tests against this machine's mosquitto, plugin tests in the
# unpacked arm64 mosquitto) and tests/cross/test_interop_arm64.py (arm64
# and amd64 tools through one broker), builds the arm64 Debian packages
# into BUILD_DIR-deb and checks them (scripts/package.sh --check), and
# prints how long each step took.
# Safe to re-run; a failure stops it with a message and exit 1.
# Usage: scripts/test-arm64.sh [--deps-only] [--no-interop] [BUILD_DIR]
#   --deps-only   install and unpack the dependencies, register binfmt, stop
#   --no-interop  skip the arm64/amd64 interop test (tests/cross/)
#   BUILD_DIR     the arm64 build directory (default build-arm64)
# SECMQ_ARM64_ROOT: where the unpacked packages go (default
# /var/cache/secmq-arm64). SECMQ_NATIVE_BUILD: the amd64 build the interop
# test pairs with (default build). SECMQ_APT_LOCK_TIMEOUT: as in deps.sh.
# SECMQ_ARM64_TEST_JOBS: tests run at once by ctest (default 2 per core).
set -euo pipefail
cd "$(dirname "$0")/.."
# missing_packages ARCH PKG... (deps.sh does not run its main when sourced).
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

ARCH=arm64
TRIPLET=aarch64-linux-gnu
ROOT=${SECMQ_ARM64_ROOT:-/var/cache/secmq-arm64}
TOOLCHAIN=cmake/toolchain-aarch64-linux-gnu.cmake

# Native (amd64) tools for cross-building and running arm64 programs.
NATIVE_PACKAGES=(crossbuild-essential-arm64 qemu-user-static)
# :arm64 libraries, all Multi-Arch: same. The -dev packages to build
# against; libwolfssl35 (its -dev is unpacked, see unpack_deb); mosquitto's
# runtime libraries, for the unpacked arm64 broker that loads the arm64
# plugin; libssl-dev so secmq-bench names libmosquitto's TLS suite as the
# amd64 build does.
ARM64_PACKAGES=(
  libc6 libmosquitto-dev libsodium-dev libsqlite3-dev libssl-dev
  libmicrohttpd-dev libcurl4-openssl-dev libjson-c-dev
  libwolfssl35
  libmosquitto1 libcjson1 libcap2 libdlt2 libssl3 libsystemd0 libwrap0
)

die() {
  echo "secmq test-arm64.sh: $*" >&2
  exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi
APT_TIMEOUT=${SECMQ_APT_LOCK_TIMEOUT:-600}
case "$APT_TIMEOUT" in
  '' | *[!0-9]*) die "SECMQ_APT_LOCK_TIMEOUT must be a number of seconds" ;;
esac
APT=(apt-get -o "DPkg::Lock::Timeout=$APT_TIMEOUT")
export DEBIAN_FRONTEND=noninteractive

# apt_install PKG...: install PKGs (names may carry :arm64) after checking
# with a simulation that apt removes nothing: a package that is not
# Multi-Arch: same would replace the amd64 one the native build uses.
apt_install() {
  local sim removed
  sim=$("${APT[@]}" -s install -y --no-install-recommends "$@" 2>&1) ||
    die "apt-get -s install $* failed:
$sim"
  removed=$(grep '^Remv ' <<<"$sim" || true)
  if [ -n "$removed" ]; then
    die "installing $* would remove packages; not installing:
$removed"
  fi
  # Multi-Arch: same copies must have one version for both architectures:
  # an amd64 package older than the archive's is upgraded with its arm64
  # twin. Said, not hidden.
  local upgraded
  upgraded=$(sed -n \
    's/^Inst \([^ ]*\) \[\([^]]*\)\] (\([^ ]*\).*/    \1 \2 -> \3/p' <<<"$sim")
  if [ -n "$upgraded" ]; then
    echo "secmq: this also upgrades (versions must match across" \
      "architectures):" >&2
    echo "$upgraded" >&2
  fi
  "${SUDO[@]}" "${APT[@]}" install -y -qq --no-install-recommends "$@" \
    >/dev/null || die "apt-get install $* failed (exit $?)"
}

install_deps() {
  local native
  native=$(dpkg --print-architecture) || die "dpkg --print-architecture failed"
  [ "$native" = amd64 ] ||
    die "this script cross-builds on amd64 (this machine is '$native')"

  local updated=0
  if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    echo "secmq: dpkg --add-architecture $ARCH" >&2
    "${SUDO[@]}" dpkg --add-architecture "$ARCH" ||
      die "dpkg --add-architecture $ARCH failed"
  fi

  local missing_native missing_arm64 want=()
  mapfile -t missing_native < <(missing_packages amd64 "${NATIVE_PACKAGES[@]}")
  mapfile -t missing_arm64 < <(missing_packages "$ARCH" "${ARM64_PACKAGES[@]}")
  want=("${missing_native[@]}")
  local p
  for p in "${missing_arm64[@]}"; do
    want+=("$p:$ARCH")
  done
  if [ ${#want[@]} -gt 0 ]; then
    echo "secmq: installing ${want[*]}" >&2
    "${SUDO[@]}" "${APT[@]}" update -qq || die "apt-get update failed"
    updated=1
    apt_install "${want[@]}"
    mapfile -t missing_native < <(missing_packages amd64 "${NATIVE_PACKAGES[@]}")
    mapfile -t missing_arm64 < <(missing_packages "$ARCH" "${ARM64_PACKAGES[@]}")
    if [ ${#missing_native[@]} -ne 0 ] || [ ${#missing_arm64[@]} -ne 0 ]; then
      die "still missing after apt-get install: ${missing_native[*]}" \
        "${missing_arm64[*]/%/:$ARCH}"
    fi
  fi

  # The unpacked packages match the installed arm64 libraries' versions
  # (libwolfssl-dev pins libwolfssl35; mosquitto pins libmosquitto1).
  local wolf_ver mosq_ver
  wolf_ver=$(dpkg-query -W -f='${Version}' "libwolfssl35:$ARCH") ||
    die "libwolfssl35:$ARCH is not installed"
  mosq_ver=$(dpkg-query -W -f='${Version}' "libmosquitto1:$ARCH") ||
    die "libmosquitto1:$ARCH is not installed"
  unpack_deb libwolfssl-dev "$wolf_ver" "$ROOT/wolfssl-dev" "$updated"
  rewrite_wolfssl_pc "$ROOT/wolfssl-dev"
  unpack_deb mosquitto "$mosq_ver" "$ROOT/mosquitto" "$updated"
  [ -x "$ROOT/mosquitto/usr/sbin/mosquitto" ] ||
    die "no $ROOT/mosquitto/usr/sbin/mosquitto after unpacking mosquitto:$ARCH"
}

# find_deb PKG VERSION: the downloaded PKG:arm64 .deb at VERSION, if any.
find_deb() {
  local f
  for f in "$ROOT/debs/${1}_"*"_$ARCH.deb"; do
    if [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$2" ]; then
      echo "$f"
      return 0
    fi
  done
}

# unpack_deb PKG VERSION DIR UPDATED: PKG:arm64 at VERSION unpacked with
# dpkg -x into DIR (nothing registered with dpkg), unless DIR already holds
# that version (DIR/.secmq-version).
unpack_deb() {
  local pkg=$1 ver=$2 dir=$3 updated=$4
  if [ -f "$dir/.secmq-version" ] &&
    [ "$(cat "$dir/.secmq-version")" = "$ver" ]; then
    return 0
  fi
  echo "secmq: unpacking $pkg:$ARCH $ver into $dir" >&2
  "${SUDO[@]}" mkdir -p "$ROOT/debs" || die "cannot create $ROOT/debs"
  local deb
  deb=$(find_deb "$pkg" "$ver")
  if [ -z "$deb" ]; then
    if [ "$updated" -eq 0 ]; then
      "${SUDO[@]}" "${APT[@]}" update -qq || die "apt-get update failed"
    fi
    (cd "$ROOT/debs" && "${SUDO[@]}" "${APT[@]}" download -qq \
      "$pkg:$ARCH=$ver") ||
      die "apt-get download $pkg:$ARCH=$ver failed (is it still in the archive?)"
    deb=$(find_deb "$pkg" "$ver")
    [ -n "$deb" ] || die "apt-get download left no ${pkg}_${ver}_$ARCH.deb"
  fi
  "${SUDO[@]}" rm -rf "$dir"
  "${SUDO[@]}" mkdir -p "$dir"
  "${SUDO[@]}" dpkg -x "$deb" "$dir" || die "dpkg -x $deb $dir failed"
  echo "$ver" | "${SUDO[@]}" tee "$dir/.secmq-version" >/dev/null
}

# rewrite_wolfssl_pc DIR: the unpacked wolfssl.pc names /usr; its headers
# are under DIR, its library (libwolfssl.so, a symlink in the -dev package)
# is the installed libwolfssl35:arm64 in /usr/lib/aarch64-linux-gnu.
rewrite_wolfssl_pc() {
  local dir=$1
  local libdir=$dir/usr/lib/$TRIPLET
  local pc=$libdir/pkgconfig/wolfssl.pc
  [ -f "$pc" ] || die "no $pc in the unpacked libwolfssl-dev"
  [ -f "$dir/usr/include/wolfssl/options.h" ] ||
    die "no usr/include/wolfssl/options.h in the unpacked libwolfssl-dev"
  local so
  so=$(readlink "$libdir/libwolfssl.so") ||
    die "no libwolfssl.so symlink in the unpacked libwolfssl-dev"
  # Relative as unpacked (libwolfssl.so.35.x.y), absolute once rewritten.
  so=/usr/lib/$TRIPLET/$(basename "$so")
  [ -e "$so" ] || die "$so missing (libwolfssl35:$ARCH not installed?)"
  "${SUDO[@]}" ln -sfn "$so" "$libdir/libwolfssl.so"
  if ! grep -q "^includedir=$dir/usr/include\$" "$pc"; then
    "${SUDO[@]}" sed -i \
      -e "s|^includedir=.*|includedir=$dir/usr/include|" \
      -e "s|^libdir=.*|libdir=$libdir|" "$pc" ||
      die "cannot rewrite $pc"
  fi
}

# register_binfmt: arm64 ELF files run through qemu-aarch64-static when
# exec'd, so programs the tests start (Python subprocess) run. PID 1 here is
# not necessarily systemd (no systemd-binfmt): mount binfmt_misc if needed
# and write Debian's rule into its register file.
register_binfmt() {
  local bm=/proc/sys/fs/binfmt_misc
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || die "no $conf (qemu-user-static not installed?)"
  if [ ! -e "$bm/register" ]; then
    "${SUDO[@]}" mount -t binfmt_misc binfmt_misc "$bm" ||
      die "cannot mount binfmt_misc on $bm"
  fi
  if [ ! -e "$bm/qemu-aarch64" ]; then
    grep -v '^#' "$conf" | grep . | "${SUDO[@]}" tee "$bm/register" >/dev/null ||
      die "cannot register $conf with binfmt_misc"
  fi
  grep -qx enabled "$bm/qemu-aarch64" ||
    die "binfmt_misc entry qemu-aarch64 is not enabled"
  # mosquitto -h exits non-zero after printing its usage.
  local out
  out=$("$ROOT/mosquitto/usr/sbin/mosquitto" -h 2>&1 || true)
  if ! grep -q '^mosquitto version' <<<"$out"; then
    die "the arm64 mosquitto does not run through binfmt_misc + qemu:
$out"
  fi
}

# build DIR: cross-build into DIR with warnings as errors; the plugin
# tests get the unpacked arm64 mosquitto.
build() {
  local dir=$1
  scripts/build.sh "$dir" -DCMAKE_TOOLCHAIN_FILE="$PWD/$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSECMQ_ARM64_WOLFSSL_ROOT="$ROOT/wolfssl-dev" \
    -DSECMQ_TEST_PLUGIN_MOSQUITTO="$ROOT/mosquitto/usr/sbin/mosquitto" ||
    die "cross build into $dir failed"
  local f
  for f in "$dir/bin/secmq-pub" "$dir/lib/secmq_auth.so"; do
    readelf -h "$f" 2>/dev/null | grep -q 'Machine: *AArch64' ||
      die "$f is not an arm64 binary"
  done
}

# run_suite DIR: every ctest test but the fuzzers (label fuzz: libFuzzer
# needs a native clang build) and the RabbitMQ test (label cluster: this
# machine's RabbitMQ; secmq-authd and the tools are under test in the
# rest) and the browser dashboard's (label web: JavaScript in node and a
# browser, no arm64 binary of this project in them), through qemu-user. The brokers' test
# databases hash passwords with argon2id at ops 1, 64 KiB instead of the
# deployed ops 3, 8 MiB (tests/harness/broker.py, SECMQ_TEST_PW_COST):
# emulated, one default hash costs ~250 ms of CPU per login, in libsodium,
# not in this project's code; the native passes keep the default.
run_suite() {
  local dir=$1
  # Two tests per core: under qemu the pass is CPU-bound (a program's
  # start alone costs ~30 ms of emulation); three per core made it slower
  # (335 -> 353 s, 2 cores).
  local count jobs=${SECMQ_ARM64_TEST_JOBS:-$((2 * $(nproc)))}
  case "$jobs" in
    '' | *[!0-9]* | 0) die "SECMQ_ARM64_TEST_JOBS must be a positive number" ;;
  esac
  count=$(ctest --test-dir "$dir" -N -LE 'fuzz|cluster|web' | sed -n 's/^Total Tests: //p')
  [ "${count:-0}" -gt 0 ] || die "ctest in $dir lists no tests"
  echo "secmq: running $count tests of $dir under qemu-user" >&2
  SECMQ_TEST_PW_COST=1:64K \
    ctest --test-dir "$dir" -LE 'fuzz|cluster|web' --output-on-failure -j"$jobs" ||
    die "the arm64 test suite failed ($dir, see above)"
}

# check_packages DIR: the arm64 Debian packages, cross-built into DIR by
# scripts/package.sh and checked (fields, Depends resolvable for arm64, file
# modes, ELF machine AArch64) by tests/package/check_debs.py.
check_packages() {
  local dir=$1
  scripts/package.sh --check "$dir" -DCMAKE_TOOLCHAIN_FILE="$PWD/$TOOLCHAIN" \
    -DSECMQ_ARM64_WOLFSSL_ROOT="$ROOT/wolfssl-dev" >/dev/null ||
    die "the arm64 packages failed their checks ($dir)"
}

# run_interop DIR NATIVE: arm64 and amd64 tools through one broker.
run_interop() {
  local dir=$1 native=$2
  scripts/build.sh "$native" -DCMAKE_BUILD_TYPE=RelWithDebInfo ||
    die "native build into $native failed"
  /usr/bin/python3 tests/cross/test_interop_arm64.py \
    --arm64-bin "$dir/bin" --native-bin "$native/bin" ||
    die "the arm64/amd64 interop test failed"
}

main() {
  local deps_only=0 interop=1 dir=build-arm64
  local native=${SECMQ_NATIVE_BUILD:-build}
  while [ $# -gt 0 ]; do
    case "$1" in
      --deps-only) deps_only=1 ;;
      --no-interop) interop=0 ;;
      -h | --help)
        sed -n '2,24s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
      -*) die "unknown option '$1' (try --help)" ;;
      *) dir=$1 ;;
    esac
    shift
  done

  local t0=$SECONDS
  # The native tools the arm64 tests use: mosquitto, mosquitto_passwd,
  # Debian's python3 with paho and nacl.
  scripts/deps.sh || die "scripts/deps.sh failed"
  install_deps
  register_binfmt
  local t_deps=$((SECONDS - t0))
  echo "secmq: arm64 dependencies ready (${t_deps} s)" >&2
  if [ "$deps_only" -eq 1 ]; then
    return 0
  fi

  t0=$SECONDS
  build "$dir"
  local t_build=$((SECONDS - t0))
  t0=$SECONDS
  run_suite "$dir"
  local t_suite=$((SECONDS - t0))
  t0=$SECONDS
  check_packages "$dir-deb"
  local t_deb=$((SECONDS - t0))
  local t_interop=skipped
  if [ "$interop" -eq 1 ]; then
    t0=$SECONDS
    run_interop "$dir" "$native"
    t_interop="$((SECONDS - t0)) s"
  fi
  echo "secmq: arm64 passed: deps ${t_deps} s, cross build ${t_build} s," \
    "suite under qemu ${t_suite} s, packages ${t_deb} s, interop ${t_interop}" >&2
}

main "$@"
