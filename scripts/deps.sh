#!/usr/bin/env bash
# deps.sh -- install the Debian packages secmq needs to build, test and demo.
# Installs only what is missing; uses sudo when not root. Safe to re-run.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang
  libmosquitto-dev mosquitto mosquitto-dev mosquitto-clients
  libwolfssl-dev libsodium-dev libsqlite3-dev libssl-dev
  python3 python3-paho-mqtt python3-nacl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo)
fi
echo "secmq: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
