// crypto_bench's entry point: initialises libsodium for the benchmarks that call it directly
// and records the library versions in the report's context.
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "crypto_bench: sodium_init failed\n");
    return 1;
  }
  benchmark::AddCustomContext("openssl", OpenSSL_version(OPENSSL_VERSION));
  benchmark::AddCustomContext("libsodium", sodium_version_string());
  benchmark::AddCustomContext("libsodium_aes256gcm",
                              crypto_aead_aes256gcm_is_available() != 0 ? "available" : "no AES-NI");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
