# Cross-compiling secmq for arm64 (aarch64) on an amd64 Debian 12 machine,
# against Debian's multiarch :arm64 -dev packages (no separate sysroot).
# Not for native arm64 builds (they need no toolchain file), nor for other
# distributions. scripts/test-arm64.sh installs what this file expects:
#   dpkg --add-architecture arm64
#   apt-get install crossbuild-essential-arm64 libmosquitto-dev:arm64 \
#     libsodium-dev:arm64 libsqlite3-dev:arm64 libwolfssl35:arm64
# libwolfssl-dev is not Multi-Arch: same (installing :arm64 removes the amd64
# one), so its arm64 .deb is unpacked with `dpkg -x` into
# SECMQ_ARM64_WOLFSSL_ROOT (default /var/cache/secmq-arm64/wolfssl-dev) and
# its wolfssl.pc rewritten to point there; its options.h differs from the
# amd64 one (AARCH64_BUILD, SP_ARM64), so the amd64 headers must not be used.
# Usage:
#   cmake -S . -B build-arm64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
# Run the results with qemu-user (qemu-user-static + binfmt_misc): see
# docs/ARM64.md.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SECMQ_ARM64_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${SECMQ_ARM64_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SECMQ_ARM64_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${SECMQ_ARM64_TRIPLET})

# Debian's cross gcc already searches the multiarch directories
# (/usr/include/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu), so there is
# no CMAKE_SYSROOT; find_* looks in the whole file system for the target's
# headers and libraries, and never runs a found program on the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# ctest runs the programs it starts directly through qemu; programs started
# by other programs (the Python tests) need binfmt_misc (test-arm64.sh).
find_program(SECMQ_ARM64_QEMU NAMES qemu-aarch64-static qemu-aarch64)
if(SECMQ_ARM64_QEMU)
  # No -L: libc6:arm64 provides the loader at its usual path, and pairing
  # libc6-arm64-cross's loader with libc6:arm64's libc makes every
  # pthread_create spin.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SECMQ_ARM64_QEMU})
endif()

# GNUInstallDirs gives lib/ when cross-compiling; a Debian arm64 system
# keeps its libraries in lib/aarch64-linux-gnu, as a native build there
# would install them.
set(CMAKE_INSTALL_LIBDIR lib/${SECMQ_ARM64_TRIPLET} CACHE PATH
    "Object code libraries (multiarch)")

# The unpacked arm64 libwolfssl-dev. A cache variable, so try_compile
# projects (which re-read this file) see the same value.
if(NOT SECMQ_ARM64_WOLFSSL_ROOT)
  if(DEFINED ENV{SECMQ_ARM64_WOLFSSL_ROOT})
    set(SECMQ_ARM64_WOLFSSL_ROOT $ENV{SECMQ_ARM64_WOLFSSL_ROOT})
  else()
    set(SECMQ_ARM64_WOLFSSL_ROOT /var/cache/secmq-arm64/wolfssl-dev)
  endif()
endif()
set(SECMQ_ARM64_WOLFSSL_ROOT ${SECMQ_ARM64_WOLFSSL_ROOT} CACHE PATH
    "Where libwolfssl-dev_*_arm64.deb is unpacked (dpkg -x)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SECMQ_ARM64_WOLFSSL_ROOT)

set(_secmq_wolfssl_pc
    ${SECMQ_ARM64_WOLFSSL_ROOT}/usr/lib/${SECMQ_ARM64_TRIPLET}/pkgconfig)
if(NOT EXISTS ${_secmq_wolfssl_pc}/wolfssl.pc)
  message(FATAL_ERROR
    "arm64 toolchain: no ${_secmq_wolfssl_pc}/wolfssl.pc. Unpack the arm64 "
    "libwolfssl-dev there (scripts/test-arm64.sh --deps-only does) or pass "
    "-DSECMQ_ARM64_WOLFSSL_ROOT=<dir where it is unpacked>.")
endif()

# pkg-config sees only arm64 .pc files: the unpacked wolfssl first, then the
# multiarch :arm64 packages. Set in the environment on every read of this
# file, so try_compile and the top-level configure agree.
set(ENV{PKG_CONFIG_LIBDIR}
    "${_secmq_wolfssl_pc}:/usr/lib/${SECMQ_ARM64_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
