# Where installed programs find libsecmq, and the loader cache after install.
# Included by the top level after GNUInstallDirs, before any target exists.
# Not for where things are installed: each directory's install() says that.

option(SECMQ_INSTALL_RPATH
  "Installed programs find libsecmq through a RUNPATH relative to themselves"
  ON)

# Installed programs start without LD_LIBRARY_PATH or ldconfig, wherever the
# tree is installed (cmake --install --prefix, DESTDIR, a moved tree): their
# RUNPATH is $ORIGIN/<bin-to-lib>, computed from GNUInstallDirs, so a
# multiarch libdir (lib/x86_64-linux-gnu) gets $ORIGIN/../lib/x86_64-linux-gnu.
# Only executables get it (secmq_install_rpath below): libsecmq.so and the
# broker plugin link nothing of this project and carry no RUNPATH. The build
# tree's RUNPATH (build/lib) is replaced at install time, so no build path
# reaches an installed file's dynamic section. Packagers who install into
# the loader's own directories may turn it off (-DSECMQ_INSTALL_RPATH=OFF).
set(CMAKE_SKIP_INSTALL_RPATH OFF)
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH OFF)
set(CMAKE_INSTALL_RPATH "")
if(SECMQ_INSTALL_RPATH)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}" OR
     IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    message(FATAL_ERROR "SECMQ_INSTALL_RPATH needs CMAKE_INSTALL_BINDIR and "
            "CMAKE_INSTALL_LIBDIR relative to the prefix (got "
            "'${CMAKE_INSTALL_BINDIR}', '${CMAKE_INSTALL_LIBDIR}'); set "
            "them relative or pass -DSECMQ_INSTALL_RPATH=OFF")
  endif()
  file(RELATIVE_PATH SECMQ_BIN_TO_LIB /prefix/${CMAKE_INSTALL_BINDIR}
       /prefix/${CMAKE_INSTALL_LIBDIR})
  set(SECMQ_PROGRAM_RPATH "$ORIGIN/${SECMQ_BIN_TO_LIB}")
endif()

# secmq_install_rpath(target...): give installed executables their RUNPATH.
function(secmq_install_rpath)
  if(NOT SECMQ_INSTALL_RPATH)
    return()
  endif()
  foreach(t ${ARGN})
    set_target_properties(${t} PROPERTIES INSTALL_RPATH "${SECMQ_PROGRAM_RPATH}")
  endforeach()
endfunction()
