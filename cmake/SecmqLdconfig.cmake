# After everything is installed: refresh the loader cache where it applies.
# Included by the top level after every add_subdirectory(), so this install
# step runs last (CMP0082). Not for RUNPATHs: SecmqInstall.cmake has them.

# The loader cache. A program built against libsecmq without a RUNPATH (cc
# app.c $(pkg-config --libs secmq)) finds it in a directory ldconfig scans
# only once ldconfig has run. So, after installing, ldconfig runs when the
# libdir is one of the loader's directories (e.g. /usr/local/lib), nothing
# is staged through DESTDIR (a package's postinst does it instead) and we
# are root; when not root it says to run it. Any other prefix is left alone.
# Component `lib`: it belongs with the library it makes the loader find.
install(CODE "set(SECMQ_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")"
  COMPONENT lib)
install(CODE [[
  if(IS_ABSOLUTE "${SECMQ_INSTALL_LIBDIR}")
    set(_secmq_libdir "${SECMQ_INSTALL_LIBDIR}")
  else()
    set(_secmq_libdir "${CMAKE_INSTALL_PREFIX}/${SECMQ_INSTALL_LIBDIR}")
  endif()
  find_program(_secmq_ldconfig ldconfig PATHS /sbin /usr/sbin)
  if("$ENV{DESTDIR}" STREQUAL "" AND _secmq_ldconfig)
    # `ldconfig -N -v` lists the directories the cache is built from.
    execute_process(COMMAND "${_secmq_ldconfig}" -N -v
                    OUTPUT_VARIABLE _secmq_dirs ERROR_QUIET
                    RESULT_VARIABLE _secmq_rc)
    get_filename_component(_secmq_real "${_secmq_libdir}" REALPATH)
    set(_secmq_scanned OFF)
    if(_secmq_rc EQUAL 0)
      string(REGEX MATCHALL "(^|\n)/[^:\n]*:" _secmq_lines "${_secmq_dirs}")
      foreach(_l ${_secmq_lines})
        string(REGEX REPLACE "^\n?(/[^:]*):$" "\\1" _d "${_l}")
        get_filename_component(_d "${_d}" REALPATH)
        if(_d STREQUAL _secmq_real)
          set(_secmq_scanned ON)
        endif()
      endforeach()
    endif()
    if(_secmq_scanned)
      execute_process(COMMAND id -u OUTPUT_VARIABLE _secmq_uid
                      OUTPUT_STRIP_TRAILING_WHITESPACE)
      if(_secmq_uid STREQUAL "0")
        message(STATUS "secmq: running ldconfig (${_secmq_libdir})")
        execute_process(COMMAND "${_secmq_ldconfig}"
                        RESULT_VARIABLE _secmq_rc)
        if(NOT _secmq_rc EQUAL 0)
          message(FATAL_ERROR "secmq: ldconfig failed (${_secmq_rc}); "
                  "programs linked to libsecmq may not find it until "
                  "ldconfig runs")
        endif()
      else()
        message(WARNING "secmq: ${_secmq_libdir} is in the loader's cache: "
                "run `sudo ldconfig` so programs linked to libsecmq without "
                "a RUNPATH find it (the secmq tools do not need it)")
      endif()
    endif()
  endif()
]] COMPONENT lib)
