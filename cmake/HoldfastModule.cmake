# holdfast_module(NAME SOURCES ... DEPS ... PRIVATE_DEPS ...)
#
# Declares the library target holdfast_<NAME> for the module in ${CMAKE_CURRENT_SOURCE_DIR}.
# Its public headers live in include/holdfast/<NAME>/. A module sees only the headers of the
# modules it lists in DEPS, so including a higher layer fails to compile.
function(holdfast_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(holdfast_${name} STATIC ${ARG_SOURCES})
  add_library(holdfast::${name} ALIAS holdfast_${name})
  target_include_directories(holdfast_${name}
    PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/include"
    PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_link_libraries(holdfast_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} holdfast_warnings)
endfunction()

# holdfast_test(NAME SOURCES ... DEPS ...)
#
# A GoogleTest binary registered with CTest. Tests run from the source tree root so that
# data files can be named relative to it; HOLDFAST_SOURCE_DIR is also defined.
function(holdfast_test name)
  if(NOT HOLDFAST_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main holdfast_warnings)
  # Tests sit beside the code they test and may include that module's internal headers.
  target_include_directories(${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/src")
  target_compile_definitions(${name} PRIVATE HOLDFAST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}" DISCOVERY_TIMEOUT 60)
endfunction()
