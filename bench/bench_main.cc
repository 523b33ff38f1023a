// The entry point of crypto_bench and signal_bench: initialises libsodium for the benchmarks
// that call it directly and records the library versions in the report's context.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include <cstdio>
#include <cstring>

namespace {

const char* program = "bench";

// libsignal-protocol-c exports its own crypto_hash_sha512, so the process uses whichever of
// the two libraries the dynamic linker loads first, for libsodium's internal callers too.
// The link line puts libsodium first; say which one won, and warn if that ever changes.
const char* Sha512Provider() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&crypto_hash_sha512), &info) == 0 ||
      info.dli_fname == nullptr) {
    return "unknown";
  }
  if (std::strstr(info.dli_fname, "libsodium") == nullptr) {
    std::fprintf(stderr,
                 "%s: warning: crypto_hash_sha512 comes from %s, not libsodium; "
                 "libsodium numbers that hash with SHA-512 are not libsodium's\n",
                 program, info.dli_fname);
  }
  return info.dli_fname;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 0 && argv[0] != nullptr) {
    const char* slash = std::strrchr(argv[0], '/');
    program = slash != nullptr ? slash + 1 : argv[0];
  }
  if (sodium_init() < 0) {
    std::fprintf(stderr, "%s: sodium_init failed\n", program);
    return 1;
  }
  benchmark::AddCustomContext("openssl", OpenSSL_version(OPENSSL_VERSION));
  benchmark::AddCustomContext("libsodium", sodium_version_string());
  benchmark::AddCustomContext(
      "libsodium_aes256gcm", crypto_aead_aes256gcm_is_available() != 0 ? "available" : "no AES-NI");
  benchmark::AddCustomContext("crypto_hash_sha512", Sha512Provider());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
