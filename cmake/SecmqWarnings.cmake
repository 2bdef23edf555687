# Compiler warnings and sanitizers shared by every target of the project.
set(SECMQ_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Wstrict-prototypes
    -Wformat=2 -Wmissing-prototypes -Wpointer-arith -Wundef)
if(SECMQ_WERROR)
  list(APPEND SECMQ_WARNINGS -Werror)
endif()
add_compile_options("$<$<COMPILE_LANGUAGE:C>:${SECMQ_WARNINGS}>")
add_compile_definitions(_GNU_SOURCE)
if(SECMQ_SANITIZE)
  # UndefinedBehaviorSanitizer in trap mode by default: a finding executes
  # an illegal instruction, so the program stops with SIGILL where the
  # undefined behaviour happened (with ASAN_OPTIONS=handle_sigill=1, as the
  # test scripts set it, AddressSanitizer prints that stack), and no
  # libubsan is loaded. libubsan's 6 MB of zeroed globals were read by
  # LeakSanitizer's scan at the exit of every process, one page fault per
  # page: a fifth of the sanitizer pass's CPU (tests/README.md). Its
  # messages ("runtime error: ...") come back with
  # -DSECMQ_SANITIZE_UBSAN_RUNTIME=ON.
  set(_secmq_san -fsanitize=address,undefined)
  if(NOT SECMQ_SANITIZE_UBSAN_RUNTIME)
    list(APPEND _secmq_san -fsanitize-undefined-trap-on-error)
  endif()
  add_compile_options(${_secmq_san} -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(${_secmq_san})
  # A Debug build (-O0) with the sanitizers compiles at -O1: what the
  # AddressSanitizer documentation advises for reasonable speed; measured
  # here, a quarter less CPU for the sanitizer pass of the test suite.
  add_compile_options("$<$<CONFIG:Debug>:-O1>")
endif()
