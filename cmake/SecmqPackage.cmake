# Debian packages of secmq, made by CPack from the install components.
# Included by the top level after every install() exists. Not for what is
# installed where (each directory's install() says that) nor for building
# and checking the packages (scripts/package.sh, tests/package/).
#
# component  package              contents
# lib        libsecmq0            libsecmq.so.0 (the shared library)
# dev        libsecmq-dev         headers, libsecmq.so, libsecmq.a, secmq.pc,
#                                 the CMake package
# tools      secmq-tools          secmq-pub/-sub/-keys/-file/-certs, the
#                                 subscriber unit secmq-sub@.service
# plugin     secmq-broker-plugin  secmq_auth.so for mosquitto, secmq-admin,
#                                 an example mosquitto config (not active)
# authd      secmq-authd          secmq-authd (RabbitMQ's HTTP auth backend on
#                                 the auth database), its systemd unit and
#                                 example settings (not active)
# bench      secmq-bench          secmq-bench (the only one linking OpenSSL)
# python     python3-secmq        the Python package secmq (ctypes binding; its
#                                 _install.py names the multiarch libdir, so
#                                 the package is per architecture)
#
# Depends come from the binaries (dpkg-shlibdeps) plus the ones no binary
# shows: each package on libsecmq0 of the same version, libsecmq-dev on the
# -dev packages its headers, secmq.pc and CMake package need, the plugin on
# mosquitto. Packages are meant for prefix /usr (scripts/package.sh).

set(SECMQ_PACKAGE_MAINTAINER "secmq maintainers <maintainers@secmq.invalid>"
  CACHE STRING "Maintainer field of the Debian packages")
set(SECMQ_PACKAGE_HOMEPAGE ""
  CACHE STRING "Homepage field of the Debian packages (none when empty)")

# packaging/: maintainer scripts and the systemd unit.
set(SECMQ_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

if(SECMQ_BUILD_TOOLS)
  # The unit for a subscriber (docs/DEPLOY.md, section 8), with ExecStart in
  # this install's bindir. lib/systemd/system below the prefix: systemd
  # reads /usr/lib/systemd/system (packages) and /usr/local/lib/systemd/system.
  configure_file(${SECMQ_PACKAGING_DIR}/secmq-sub@.service.in
    ${PROJECT_BINARY_DIR}/packaging/secmq-sub@.service @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/secmq-sub@.service
    DESTINATION lib/systemd/system COMPONENT tools)
  install(FILES ${SECMQ_PACKAGING_DIR}/status.env
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/secmq-tools/examples
    COMPONENT tools)
endif()
if(TARGET secmq_auth)
  # Under doc/, not /etc/mosquitto/conf.d: mosquitto would load it, and it
  # names a database that does not exist yet.
  configure_file(${SECMQ_PACKAGING_DIR}/secmq.conf.in
    ${PROJECT_BINARY_DIR}/packaging/secmq.conf @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/secmq.conf
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/secmq-broker-plugin/examples
    COMPONENT plugin)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME secmq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${SECMQ_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SECMQ_PACKAGE_MAINTAINER}")
if(SECMQ_PACKAGE_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${SECMQ_PACKAGE_HOMEPAGE}")
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Maintainer scripts 0755, control files 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The library of this build is not installed: dpkg-shlibdeps reads it in
# the build tree, and each package names libsecmq0 itself (below).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
# The architecture: dpkg's for a native build; for a cross build the one
# dpkg-architecture gives for the compiler's multiarch triplet
# (aarch64-linux-gnu: arm64). scripts/package.sh passes it on to
# dpkg-shlibdeps (DEB_HOST_ARCH).
if(CMAKE_CROSSCOMPILING AND NOT CPACK_DEBIAN_PACKAGE_ARCHITECTURE)
  find_program(SECMQ_DPKG_ARCHITECTURE dpkg-architecture)
  if(SECMQ_DPKG_ARCHITECTURE AND CMAKE_LIBRARY_ARCHITECTURE)
    execute_process(COMMAND ${SECMQ_DPKG_ARCHITECTURE}
                            -t ${CMAKE_LIBRARY_ARCHITECTURE} -qDEB_HOST_ARCH
                    OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(NOT CPACK_DEBIAN_PACKAGE_ARCHITECTURE)
    message(WARNING "secmq: no Debian architecture for this cross build "
            "(CMAKE_LIBRARY_ARCHITECTURE '${CMAKE_LIBRARY_ARCHITECTURE}'); "
            "pass -DCPACK_DEBIAN_PACKAGE_ARCHITECTURE=... to package it")
  endif()
endif()

set(SECMQ_DEB_VERSION ${PROJECT_VERSION})
set(SECMQ_DEB_LIB "libsecmq${PROJECT_VERSION_MAJOR}")
set(SECMQ_DEB_LIB_DEP "${SECMQ_DEB_LIB} (= ${SECMQ_DEB_VERSION})")

set(CPACK_COMPONENTS_ALL lib dev)
if(SECMQ_BUILD_TOOLS)
  list(APPEND CPACK_COMPONENTS_ALL tools)
  if(TARGET secmq-bench)
    list(APPEND CPACK_COMPONENTS_ALL bench)
  endif()
endif()
if(TARGET secmq_auth)
  list(APPEND CPACK_COMPONENTS_ALL plugin)
endif()
if(TARGET secmq-authd)
  list(APPEND CPACK_COMPONENTS_ALL authd)
endif()
if(SECMQ_INSTALL_PYTHON)
  list(APPEND CPACK_COMPONENTS_ALL python)
endif()

# Each package's Description is its own: a summary line, then the text
# (CPack indents it). CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY (from
# project(DESCRIPTION)) in front of every component's description unless it
# is CPack's own default, so it is set to that default here.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(SECMQ_DEB_ABOUT
  "secmq is a secure messaging layer for MQTT: the link to an ordinary\nmosquitto broker is TLS done by wolfSSL, and payloads are sealed end to\nend, so that the broker sees only ciphertext and receivers know who sent\neach message.\n\n")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${SECMQ_DEB_LIB})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_DESCRIPTION
  "secure end-to-end encrypted MQTT - shared library\n${SECMQ_DEB_ABOUT}This package holds the shared library libsecmq.")
# shlibs: programs built against libsecmq.so.0 depend on libsecmq0 of at
# least this version (dpkg-shlibdeps reads it). CPack writes postinst and
# postrm calling ldconfig itself; the trigger is how dpkg does it today.
configure_file(${SECMQ_PACKAGING_DIR}/libsecmq/shlibs.in
  ${PROJECT_BINARY_DIR}/packaging/libsecmq/shlibs @ONLY)
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/packaging/libsecmq/shlibs
  ${SECMQ_PACKAGING_DIR}/libsecmq/triggers)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsecmq-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "secure end-to-end encrypted MQTT - development files\n${SECMQ_DEB_ABOUT}This package holds the headers, the static library, secmq.pc and the\nCMake package (find_package(secmq)).")
# secmq.pc: Requires.private libmosquitto libsodium wolfssl sqlite3; the
# CMake package finds the same four with pkg-config.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "${SECMQ_DEB_LIB_DEP}, libmosquitto-dev, libsodium-dev, libwolfssl-dev, libsqlite3-dev, pkg-config | pkgconf")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME secmq-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION
  "secure end-to-end encrypted MQTT - command-line tools\n${SECMQ_DEB_ABOUT}This package holds secmq-pub and secmq-sub (mosquitto_pub/_sub\nwork-alikes), secmq-keys (keyrings and channels), secmq-file (encrypted\nresumable file transfer), secmq-certs (a development PKI) and the\nsystemd unit secmq-sub@.service for a subscriber running as the system\nuser secmq.")
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${SECMQ_DEB_LIB_DEP}, passwd")
set(CPACK_DEBIAN_TOOLS_PACKAGE_CONTROL_EXTRA
  ${SECMQ_PACKAGING_DIR}/secmq-tools/postinst
  ${SECMQ_PACKAGING_DIR}/secmq-tools/postrm)

set(CPACK_DEBIAN_PLUGIN_PACKAGE_NAME secmq-broker-plugin)
set(CPACK_DEBIAN_PLUGIN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PLUGIN_DESCRIPTION
  "secure end-to-end encrypted MQTT - mosquitto plugin\n${SECMQ_DEB_ABOUT}This package holds secmq_auth.so, a mosquitto 2.0 plugin for argon2id\nlogins, per-topic ACLs and signature enforcement, its admin tool\nsecmq-admin and an example broker configuration (not active).")
set(CPACK_DEBIAN_PLUGIN_PACKAGE_DEPENDS "${SECMQ_DEB_LIB_DEP}, mosquitto (>= 2.0)")

set(CPACK_DEBIAN_AUTHD_PACKAGE_NAME secmq-authd)
set(CPACK_DEBIAN_AUTHD_PACKAGE_SECTION net)
set(CPACK_DEBIAN_AUTHD_DESCRIPTION
  "secure end-to-end encrypted MQTT - HTTP auth service for RabbitMQ\n${SECMQ_DEB_ABOUT}This package holds secmq-authd, which answers RabbitMQ's HTTP auth\nbackend (rabbitmq_auth_backend_http) from the auth database that\nsecmq-admin manages, with the rules of the mosquitto plugin, and its\nsystemd unit secmq-authd.service (not enabled) with example settings.")
# It needs the database secmq-admin makes; RabbitMQ may run elsewhere.
set(CPACK_DEBIAN_AUTHD_PACKAGE_RECOMMENDS
  "secmq-broker-plugin (= ${SECMQ_DEB_VERSION})")
set(CPACK_DEBIAN_AUTHD_PACKAGE_SUGGESTS "rabbitmq-server")

set(CPACK_DEBIAN_BENCH_PACKAGE_NAME secmq-bench)
set(CPACK_DEBIAN_BENCH_PACKAGE_SECTION net)
set(CPACK_DEBIAN_BENCH_DESCRIPTION
  "secure end-to-end encrypted MQTT - benchmark\n${SECMQ_DEB_ABOUT}This package holds secmq-bench, which measures secmq's TLS link and\nenvelopes against libmosquitto's own TCP and OpenSSL TLS through a\nmosquitto broker, the Python package against paho-mqtt, secmq-authd's\nanswers, and sealed messages across a RabbitMQ cluster.")
# It runs secmq-certs and a mosquitto broker; --suite broker also
# secmq-admin and the plugin.
set(CPACK_DEBIAN_BENCH_PACKAGE_DEPENDS
  "${SECMQ_DEB_LIB_DEP}, secmq-tools (= ${SECMQ_DEB_VERSION}), mosquitto (>= 2.0)")
set(CPACK_DEBIAN_BENCH_PACKAGE_RECOMMENDS
  "secmq-broker-plugin (= ${SECMQ_DEB_VERSION})")
# --suite python runs share/secmq/bench/paho_vs_secmq.py with both;
# --suite authd runs secmq-authd, --suite rabbitmq rabbitmq-server.
set(CPACK_DEBIAN_BENCH_PACKAGE_SUGGESTS
  "python3-secmq (= ${SECMQ_DEB_VERSION}), python3-paho-mqtt, secmq-authd (= ${SECMQ_DEB_VERSION}), rabbitmq-server")

set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-secmq)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
set(CPACK_DEBIAN_PYTHON_DESCRIPTION
  "secure end-to-end encrypted MQTT - Python binding\n${SECMQ_DEB_ABOUT}This package holds the Python 3 module secmq, a ctypes binding of\nlibsecmq shaped like paho-mqtt's Client.")
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS "${SECMQ_DEB_LIB_DEP}, python3")
if(SECMQ_INSTALL_PYTHON)
  if(IS_ABSOLUTE "${SECMQ_PYTHON_INSTALL_DIR}")
    set(SECMQ_PYTHON_PKG_DIR "${SECMQ_PYTHON_INSTALL_DIR}/secmq")
  else()
    set(SECMQ_PYTHON_PKG_DIR
      "${CMAKE_INSTALL_PREFIX}/${SECMQ_PYTHON_INSTALL_DIR}/secmq")
  endif()
  configure_file(${SECMQ_PACKAGING_DIR}/python3-secmq/prerm.in
    ${PROJECT_BINARY_DIR}/packaging/python3-secmq/prerm @ONLY)
  set(CPACK_DEBIAN_PYTHON_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/packaging/python3-secmq/prerm)
endif()

set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
include(CPack)
