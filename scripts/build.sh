#!/usr/bin/env bash
# build.sh -- configure and build secmq with CMake into a build directory.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
# ccache (scripts/deps.sh installs it) lets the package builds reuse what
# the test builds compiled: same sources, flags and compiler, another
# directory (not hashed: CCACHE_NOHASHDIR).
launcher=()
if command -v ccache >/dev/null; then
  launcher=("-DCMAKE_C_COMPILER_LAUNCHER=/usr/bin/env;CCACHE_NOHASHDIR=true;ccache")
fi
cmake -S . -B "$dir" -DSECMQ_WERROR=ON "${launcher[@]}" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
