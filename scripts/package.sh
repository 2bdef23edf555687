#!/usr/bin/env bash
# package.sh -- build secmq's Debian packages (libsecmq0, libsecmq-dev,
# secmq-tools, secmq-broker-plugin, secmq-bench, python3-secmq) with CPack.
# Configures BUILD_DIR for packaging (prefix /usr, the multiarch libdir, no
# RUNPATH: the library is in the loader's path), builds, runs cpack and
# prints the path of each .deb, one a line, on stdout.
# Usage: scripts/package.sh [--check] [BUILD_DIR] [cmake options...]
#   scripts/package.sh                      native, into build-deb/
#   scripts/package.sh build-deb-arm64 \
#       -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
#   --check   then check the packages with tests/package/check_debs.py
#             (fields, Depends, file modes, ELF machine; then every program
#             started from the unpacked packages; report on stderr)
# A cross build needs the target's runtime libraries installed through dpkg
# (apt-get install libsodium23:arm64 ...): dpkg-shlibdeps computes the
# packages' Depends from them.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "secmq package.sh: $*" >&2
  exit 1
}

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
dir=${1:-build-deb}
shift || true
for tool in cmake cpack dpkg-shlibdeps dpkg-deb file readelf; do
  command -v "$tool" >/dev/null ||
    die "$tool not found (scripts/deps.sh installs what packaging needs)"
done

# A build directory configured before with another prefix keeps it in its
# cache (and a libdir derived from it): refuse rather than package that.
if [ -f "$dir/CMakeCache.txt" ] &&
  ! grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$dir/CMakeCache.txt"; then
  die "$dir was configured with another install prefix; use a new directory"
fi

# Compiled through ccache when it is installed, as scripts/build.sh does:
# the objects of a test build of the same tree are reused.
launcher=()
if command -v ccache >/dev/null; then
  launcher=("-DCMAKE_C_COMPILER_LAUNCHER=/usr/bin/env;CCACHE_NOHASHDIR=true;ccache")
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSECMQ_WERROR=ON \
  "${launcher[@]}" -DCMAKE_INSTALL_PREFIX=/usr -DSECMQ_INSTALL_RPATH=OFF \
  -DSECMQ_BUILD_TESTS=OFF -DSECMQ_BUILD_EXAMPLES=OFF "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null

arch=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "\(.*\)")$/\1/p' \
  "$dir/CPackConfig.cmake")
if [ -z "$arch" ]; then
  arch=$(dpkg --print-architecture)
fi
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$dir/CMakeCache.txt")
multiarch=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
[ "$libdir" = "lib/$multiarch" ] ||
  die "libdir is '$libdir', not lib/$multiarch (the compiler did not report" \
    "its multiarch triplet; pass -DCMAKE_INSTALL_LIBDIR=lib/$multiarch)"

rm -f "$dir"/packages/*.deb
# dpkg-shlibdeps reads the host architecture from DEB_HOST_ARCH (and picks
# <triplet>-objdump and /usr/lib/<triplet> from it).
log="$dir/cpack.log"
if ! (cd "$dir" && DEB_HOST_ARCH=$arch cpack -G DEB >cpack.log 2>&1); then
  cat "$log" >&2
  die "cpack failed (log above, also in $log)"
fi
shopt -s nullglob
debs=("$dir"/packages/*.deb)
[ ${#debs[@]} -gt 0 ] || die "cpack made no .deb in $dir/packages"
for d in "${debs[@]}"; do
  realpath "$d"
done
if [ "$check" = 1 ]; then
  /usr/bin/python3 tests/package/check_debs.py --arch "$arch" --run \
    "${debs[@]}" >&2 ||
    die "the packages in $dir/packages failed the checks above"
fi
