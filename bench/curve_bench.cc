// X25519, Ed25519 and XEdDSA: Holdfast against libsignal-protocol-c and libsodium.
//
// The libsignal benchmarks decode their keys once, outside the timed loop, so they time the
// curve operation and not libsignal's key parsing. libsignal draws randomness from the peer's
// crypto provider, which is Holdfast's SystemRng, the same source Holdfast's side uses.
#include <benchmark/benchmark.h>
#include <signal/curve.h>
#include <signal/signal_protocol.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "bench_util.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"

namespace holdfast::bench {
namespace {

constexpr size_t kSignedMessageBytes = 100;

crypto::SystemRng& SystemRandom() {
  static crypto::SystemRng rng;
  return rng;
}

crypto::X25519KeyPair FixedKeyPair(uint64_t seed) {
  DeterministicRng rng(seed);
  return crypto::X25519KeyPair::Generate(rng);
}

// LibsignalKeys holds one key pair decoded into libsignal's types; it releases them when
// destroyed. ok() is false if libsignal refused the bytes.
class LibsignalKeys {
 public:
  explicit LibsignalKeys(const crypto::X25519KeyPair& pair) {
    const ByteSpan priv = pair.private_key.Serialize();
    const auto pub = pair.public_key.Serialize();  // 0x05 || u
    ok_ = curve_decode_private_point(&private_, priv.data(), priv.size(), Peer().context()) == 0 &&
          curve_decode_point(&public_, pub.data(), pub.size(), Peer().context()) == 0;
  }
  ~LibsignalKeys() {
    if (private_ != nullptr) {
      SIGNAL_UNREF(private_);
    }
    if (public_ != nullptr) {
      SIGNAL_UNREF(public_);
    }
  }
  LibsignalKeys(const LibsignalKeys&) = delete;
  LibsignalKeys& operator=(const LibsignalKeys&) = delete;

  bool ok() const { return ok_; }
  const ec_private_key* private_key() const { return private_; }
  const ec_public_key* public_key() const { return public_; }

 private:
  bool ok_ = false;
  ec_private_key* private_ = nullptr;
  ec_public_key* public_ = nullptr;
};

// --- X25519 ------------------------------------------------------------------------------

void X25519KeyGenHoldfast(benchmark::State& state) {
  for (auto _ : state) {
    auto pair = crypto::X25519KeyPair::Generate(SystemRandom());
    benchmark::DoNotOptimize(pair);
  }
}

void X25519KeyGenLibsignal(benchmark::State& state) {
  for (auto _ : state) {
    ec_key_pair* pair = nullptr;
    if (curve_generate_key_pair(Peer().context(), &pair) != 0) {
      state.SkipWithError("curve_generate_key_pair failed");
      break;
    }
    benchmark::DoNotOptimize(pair);
    SIGNAL_UNREF(pair);
  }
}

HF_BENCH("BM_X25519KeyGen/holdfast", X25519KeyGenHoldfast);
HF_BENCH("BM_X25519KeyGen/libsignal", X25519KeyGenLibsignal);

void X25519AgreeHoldfast(benchmark::State& state) {
  const auto alice = FixedKeyPair(30);
  const auto bob = FixedKeyPair(31);
  for (auto _ : state) {
    auto shared = crypto::X25519Agree(alice.private_key, bob.public_key);
    if (!shared.ok()) {
      state.SkipWithError("X25519Agree failed");
      break;
    }
    benchmark::DoNotOptimize(shared);
  }
}

void X25519AgreeLibsignal(benchmark::State& state) {
  const auto alice = FixedKeyPair(30);
  const auto bob = FixedKeyPair(31);
  const LibsignalKeys alice_keys(alice);
  const LibsignalKeys bob_keys(bob);
  auto ours = crypto::X25519Agree(alice.private_key, bob.public_key);
  uint8_t* check = nullptr;
  const int n =
      alice_keys.ok() && bob_keys.ok()
          ? curve_calculate_agreement(&check, bob_keys.public_key(), alice_keys.private_key())
          : -1;
  const bool same = n == static_cast<int>(crypto::kX25519SharedBytes) && ours.ok() &&
                    Same({check, crypto::kX25519SharedBytes}, ours->span());
  std::free(check);
  if (!same) {
    state.SkipWithError("libsignal agreement differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    uint8_t* shared = nullptr;
    const int len =
        curve_calculate_agreement(&shared, bob_keys.public_key(), alice_keys.private_key());
    benchmark::DoNotOptimize(len);
    benchmark::DoNotOptimize(shared);
    std::free(shared);
  }
}

HF_BENCH("BM_X25519Agree/holdfast", X25519AgreeHoldfast);
HF_BENCH("BM_X25519Agree/libsignal", X25519AgreeLibsignal);

// --- Ed25519, 100-byte message ------------------------------------------------------------

struct Ed25519Fixture {
  Ed25519Fixture() {
    crypto_sign_ed25519_seed_keypair(public_key.data(), secret_key.data(), seed.data());
  }
  Bytes seed = TestBytes(crypto::kEd25519SeedBytes, 40);
  Bytes message = TestBytes(kSignedMessageBytes, 41);
  std::array<uint8_t, crypto_sign_ed25519_PUBLICKEYBYTES> public_key{};
  std::array<uint8_t, crypto_sign_ed25519_SECRETKEYBYTES> secret_key{};
};

void Ed25519SignHoldfast(benchmark::State& state) {
  const Ed25519Fixture f;
  auto key = crypto::Ed25519PrivateKey::FromSeed(f.seed);
  if (!key.ok()) {
    state.SkipWithError("FromSeed failed");
    return;
  }
  for (auto _ : state) {
    auto sig = key->Sign(f.message);
    benchmark::DoNotOptimize(sig);
  }
}

void Ed25519SignLibsodium(benchmark::State& state) {
  const Ed25519Fixture f;
  auto key = crypto::Ed25519PrivateKey::FromSeed(f.seed);
  std::array<uint8_t, crypto_sign_ed25519_BYTES> sig{};
  const auto sign = [&] {
    return crypto_sign_ed25519_detached(sig.data(), nullptr, f.message.data(), f.message.size(),
                                        f.secret_key.data());
  };
  if (!key.ok() || sign() != 0 || sig != key->Sign(f.message)) {
    state.SkipWithError("libsodium signature differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(sign());
    benchmark::ClobberMemory();
  }
}

void Ed25519VerifyHoldfast(benchmark::State& state) {
  const Ed25519Fixture f;
  auto key = crypto::Ed25519PrivateKey::FromSeed(f.seed);
  if (!key.ok()) {
    state.SkipWithError("FromSeed failed");
    return;
  }
  const auto public_key = key->PublicKey();
  const auto sig = key->Sign(f.message);
  for (auto _ : state) {
    auto ok = crypto::Ed25519Verify(public_key, f.message, sig);
    if (!ok.ok()) {
      state.SkipWithError("Ed25519Verify failed");
      break;
    }
    benchmark::DoNotOptimize(ok);
  }
}

void Ed25519VerifyLibsodium(benchmark::State& state) {
  const Ed25519Fixture f;
  std::array<uint8_t, crypto_sign_ed25519_BYTES> sig{};
  crypto_sign_ed25519_detached(sig.data(), nullptr, f.message.data(), f.message.size(),
                               f.secret_key.data());
  const auto verify = [&] {
    return crypto_sign_ed25519_verify_detached(sig.data(), f.message.data(), f.message.size(),
                                               f.public_key.data());
  };
  if (verify() != 0) {
    state.SkipWithError("libsodium refused its own signature");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(verify());
  }
}

HF_BENCH("BM_Ed25519Sign/holdfast", Ed25519SignHoldfast);
HF_BENCH("BM_Ed25519Sign/libsodium", Ed25519SignLibsodium);
HF_BENCH("BM_Ed25519Verify/holdfast", Ed25519VerifyHoldfast);
HF_BENCH("BM_Ed25519Verify/libsodium", Ed25519VerifyLibsodium);

// --- XEdDSA, 100-byte message, one X25519 key for both sides ------------------------------

void XEdDsaSignHoldfast(benchmark::State& state) {
  const auto pair = FixedKeyPair(50);
  const Bytes message = TestBytes(kSignedMessageBytes, 51);
  for (auto _ : state) {
    auto sig = crypto::XEdDsaSign(pair.private_key, message, SystemRandom());
    if (!sig.ok()) {
      state.SkipWithError("XEdDsaSign failed");
      break;
    }
    benchmark::DoNotOptimize(sig);
  }
}

void XEdDsaSignLibsignal(benchmark::State& state) {
  const auto pair = FixedKeyPair(50);
  const Bytes message = TestBytes(kSignedMessageBytes, 51);
  const LibsignalKeys keys(pair);
  signal_buffer* check = nullptr;
  const bool signed_ok =
      keys.ok() && curve_calculate_signature(Peer().context(), &check, keys.private_key(),
                                             message.data(), message.size()) == 0;
  const bool verifies =
      signed_ok && curve_verify_signature(keys.public_key(), message.data(), message.size(),
                                          signal_buffer_data(check), signal_buffer_len(check)) == 1;
  if (check != nullptr) {
    signal_buffer_free(check);
  }
  if (!verifies) {
    state.SkipWithError("libsignal signature does not verify");
    return;
  }
  for (auto _ : state) {
    signal_buffer* sig = nullptr;
    if (curve_calculate_signature(Peer().context(), &sig, keys.private_key(), message.data(),
                                  message.size()) != 0) {
      state.SkipWithError("curve_calculate_signature failed");
      break;
    }
    benchmark::DoNotOptimize(signal_buffer_data(sig));
    signal_buffer_free(sig);
  }
}

void XEdDsaVerifyHoldfast(benchmark::State& state) {
  const auto pair = FixedKeyPair(50);
  const Bytes message = TestBytes(kSignedMessageBytes, 51);
  auto sig = crypto::XEdDsaSign(pair.private_key, message, SystemRandom());
  if (!sig.ok()) {
    state.SkipWithError("XEdDsaSign failed");
    return;
  }
  for (auto _ : state) {
    auto ok = crypto::XEdDsaVerify(pair.public_key, message, *sig);
    if (!ok.ok()) {
      state.SkipWithError("XEdDsaVerify failed");
      break;
    }
    benchmark::DoNotOptimize(ok);
  }
}

void XEdDsaVerifyLibsignal(benchmark::State& state) {
  const auto pair = FixedKeyPair(50);
  const Bytes message = TestBytes(kSignedMessageBytes, 51);
  const LibsignalKeys keys(pair);
  signal_buffer* buf = nullptr;
  if (!keys.ok() || curve_calculate_signature(Peer().context(), &buf, keys.private_key(),
                                              message.data(), message.size()) != 0) {
    state.SkipWithError("curve_calculate_signature failed");
    return;
  }
  const Bytes sig(signal_buffer_data(buf), signal_buffer_data(buf) + signal_buffer_len(buf));
  signal_buffer_free(buf);
  const auto verify = [&] {
    return curve_verify_signature(keys.public_key(), message.data(), message.size(), sig.data(),
                                  sig.size());
  };
  if (verify() != 1) {
    state.SkipWithError("libsignal signature does not verify");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(verify());
  }
}

HF_BENCH("BM_XEdDsaSign/holdfast", XEdDsaSignHoldfast);
HF_BENCH("BM_XEdDsaSign/libsignal", XEdDsaSignLibsignal);
HF_BENCH("BM_XEdDsaVerify/holdfast", XEdDsaVerifyHoldfast);
HF_BENCH("BM_XEdDsaVerify/libsignal", XEdDsaVerifyLibsignal);

}  // namespace
}  // namespace holdfast::bench
