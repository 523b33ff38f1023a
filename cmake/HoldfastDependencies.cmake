# Every dependency comes from a Debian 12 package that scripts/setup.sh installs.

find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
find_package(OpenSSL 3.0 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(Threads REQUIRED)

if(HOLDFAST_BUILD_TESTS OR HOLDFAST_BUILD_BENCH)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(HOLDFAST_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
if(HOLDFAST_BUILD_TESTS OR HOLDFAST_BUILD_BENCH)
  # The interop peer. Linked only into tests and benchmarks, never into a shipped binary.
  pkg_check_modules(LIBSIGNAL REQUIRED IMPORTED_TARGET libsignal-protocol-c)
endif()
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
