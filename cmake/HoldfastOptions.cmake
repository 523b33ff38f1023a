# Compiler flags shared by every Holdfast target.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

add_library(holdfast_warnings INTERFACE)
target_compile_options(holdfast_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wcast-align -Wformat=2
  -Wimplicit-fallthrough)

if(HOLDFAST_SANITIZE)
  string(REPLACE "," ";" _hf_sanitizers "${HOLDFAST_SANITIZE}")
  foreach(_san IN LISTS _hf_sanitizers)
    add_compile_options(-fsanitize=${_san})
    add_link_options(-fsanitize=${_san})
  endforeach()
  add_compile_options(-fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fno-sanitize-recover=all)
endif()

# Sanitizer and fuzz builds keep line tables only (-g1, given after the build type's -g, so it
# wins): enough for symbolized stack traces, and about a fifth of the disk that full debug
# information takes in these builds (CI's machine may have little disk to spare).
if(HOLDFAST_SANITIZE OR HOLDFAST_FUZZ)
  add_compile_options(-g1)
endif()

# Hardening for everything we ship.
add_compile_options(-fstack-protector-strong)
if(NOT HOLDFAST_SANITIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
