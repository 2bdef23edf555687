# Compiler warnings and sanitizers shared by every target of the project.
set(SECMQ_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Wstrict-prototypes
    -Wformat=2 -Wmissing-prototypes -Wpointer-arith -Wundef)
if(SECMQ_WERROR)
  list(APPEND SECMQ_WARNINGS -Werror)
endif()
add_compile_options("$<$<COMPILE_LANGUAGE:C>:${SECMQ_WARNINGS}>")
add_compile_definitions(_GNU_SOURCE)
if(SECMQ_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # A Debug build (-O0) with the sanitizers compiles at -O1: what the
  # AddressSanitizer documentation advises for reasonable speed; measured
  # here, a quarter less CPU for the sanitizer pass of the test suite.
  add_compile_options("$<$<CONFIG:Debug>:-O1>")
endif()
