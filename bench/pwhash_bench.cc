// Argon2id at Holdfast's interactive cost (2 passes, 64 MiB). Holdfast calls libsodium's
// crypto_pwhash; the peer calls it directly, so the ratio should be 1.0 and only checks that
// the wrapper adds nothing.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstdint>

#include "bench_util.h"
#include "holdfast/crypto/pwhash.h"

namespace holdfast::bench {
namespace {

constexpr size_t kDerivedKeyBytes = 32;
constexpr char kPassphrase[] = "correct horse battery staple";

void Argon2idHoldfast(benchmark::State& state) {
  const Bytes salt = TestBytes(crypto::kArgon2idSaltBytes, 60);
  for (auto _ : state) {
    auto key = crypto::Argon2id(AsBytes(kPassphrase), salt, crypto::kArgon2idInteractive,
                                kDerivedKeyBytes);
    if (!key.ok()) {
      state.SkipWithError("Argon2id failed");
      break;
    }
    benchmark::DoNotOptimize(key);
  }
}

void Argon2idLibsodium(benchmark::State& state) {
  const Bytes salt = TestBytes(crypto::kArgon2idSaltBytes, 60);
  const ByteSpan passphrase = AsBytes(kPassphrase);
  for (auto _ : state) {
    std::array<uint8_t, kDerivedKeyBytes> key{};
    if (crypto_pwhash(key.data(), key.size(), kPassphrase, passphrase.size(), salt.data(),
                      crypto::kArgon2idInteractive.ops_limit,
                      crypto::kArgon2idInteractive.mem_limit_bytes,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
      state.SkipWithError("crypto_pwhash failed");
      break;
    }
    benchmark::DoNotOptimize(key);
  }
}

// A few fixed iterations: each call takes tens to hundreds of milliseconds.
HF_BENCH("BM_Argon2idInteractive/holdfast", Argon2idHoldfast)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
HF_BENCH("BM_Argon2idInteractive/libsodium", Argon2idLibsodium)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace holdfast::bench
