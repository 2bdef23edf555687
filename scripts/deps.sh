#!/usr/bin/env bash
# deps.sh -- install the Debian packages secmq needs to build, test and demo.
# Installs only what is missing for this machine's native architecture
# (a foreign :arm64 copy of a package does not count); uses sudo when not
# root; waits for another apt/dpkg run to release its lock instead of
# failing. Safe to re-run.
# Usage: scripts/deps.sh           install what is missing
#        scripts/deps.sh --check   list what is missing (exit 1 if any)
# SECMQ_APT_LOCK_TIMEOUT: seconds to wait for the dpkg lock (default 600).
set -euo pipefail

# dpkg-dev and file: scripts/package.sh (dpkg-shlibdeps, dpkg-architecture;
# CPack runs file). rabbitmq-server: the cluster tests (label cluster) run
# their own nodes on loopback with it, through secmq-authd. chromium and
# libnss3-tools (certutil): the browser dashboard's test (label web) drives
# Debian's chromium, trusting the test CA through an NSS database.
PACKAGES=(
  build-essential cmake pkg-config clang ccache
  libmosquitto-dev mosquitto mosquitto-dev mosquitto-clients
  libwolfssl-dev libsodium-dev libsqlite3-dev libssl-dev libmicrohttpd-dev
  libcurl4-openssl-dev libjson-c-dev
  python3 python3-paho-mqtt python3-nacl
  python3-pytest python3-setuptools python3-venv
  dpkg-dev file rabbitmq-server
  chromium libnss3-tools
)

die() {
  echo "secmq deps.sh: $*" >&2
  exit 1
}

# missing_packages ARCH PKG...: print, one a line, each PKG that is not
# installed for ARCH (or for all: architecture-independent packages).
# dpkg-query without an architecture lists every installed instance of a
# name (libfoo:amd64 and libfoo:arm64), so each line's architecture is
# checked: a package present only as :arm64 on an amd64 machine is missing.
missing_packages() {
  local arch=$1
  shift
  local listing
  # Exit status 1 only means some names are unknown to dpkg: those are
  # missing, and found by their absence below.
  listing=$(dpkg-query -W -f='${Package}\t${Architecture}\t${Status}\n' \
    -- "$@" 2>/dev/null) || true
  local p
  for p in "$@"; do
    if ! awk -F '\t' -v p="$p" -v a="$arch" '
        $1 == p && ($2 == a || $2 == "all") && $3 == "install ok installed" \
          { found = 1 }
        END { exit found ? 0 : 1 }' <<<"$listing"; then
      echo "$p"
    fi
  done
}

main() {
  local check_only=0
  case "${1:-}" in
    "") ;;
    --check) check_only=1 ;;
    -h | --help)
      sed -n '2,10s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac

  local arch
  arch=$(dpkg --print-architecture) ||
    die "dpkg --print-architecture failed: not a Debian system?"
  [ -n "$arch" ] || die "dpkg --print-architecture printed nothing"

  # Node.js for web/ (the dashboard): Debian's nodejs and npm unless a
  # node is there already (another build of it ships its own npm, which
  # Debian's npm package would conflict with).
  local wanted=("${PACKAGES[@]}")
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    wanted+=(nodejs npm)
  fi
  local missing
  mapfile -t missing < <(missing_packages "$arch" "${wanted[@]}")
  if [ ${#missing[@]} -eq 0 ]; then
    web_modules "$check_only"
    exit 0
  fi
  if [ "$check_only" -eq 1 ]; then
    echo "secmq deps.sh: missing for $arch: ${missing[*]}" >&2
    exit 1
  fi

  local timeout=${SECMQ_APT_LOCK_TIMEOUT:-600}
  case "$timeout" in
    '' | *[!0-9]*) die "SECMQ_APT_LOCK_TIMEOUT must be a number of seconds" ;;
  esac
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  # Another apt-get or unattended-upgrades holding the lock is waited for
  # (up to $timeout s) rather than failing the build.
  local apt=(apt-get -o "DPkg::Lock::Timeout=$timeout")
  echo "secmq: installing ${missing[*]} ($arch)" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" "${apt[@]}" update -qq ||
    die "apt-get update failed (exit $?)"
  # Plain names: apt installs the native architecture's package.
  "${sudo[@]}" "${apt[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed (exit $?)"
  mapfile -t missing < <(missing_packages "$arch" "${wanted[@]}")
  if [ ${#missing[@]} -ne 0 ]; then
    die "still missing for $arch after apt-get install: ${missing[*]}"
  fi
  web_modules 0
}

# web_modules CHECK_ONLY: web/node_modules as web/package-lock.json pins it
# (npm ci from the npm registry), again only when the lockfile changed.
web_modules() {
  local web
  web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web"
  [ -f "$web/package-lock.json" ] || return 0
  local want have=""
  want=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
  [ -f "$web/node_modules/.secmq-lock-sha256" ] &&
    have=$(cat "$web/node_modules/.secmq-lock-sha256")
  [ "$want" = "$have" ] && return 0
  if [ "$1" -eq 1 ]; then
    echo "secmq deps.sh: web/node_modules missing or older than web/package-lock.json" >&2
    exit 1
  fi
  echo "secmq: npm ci in $web" >&2
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error) ||
    die "npm ci in $web failed (exit $?): the npm registry must be reachable"
  echo "$want" >"$web/node_modules/.secmq-lock-sha256"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
