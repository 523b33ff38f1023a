// AES-256-CBC, AES-256-CTR and the three AEADs.
//
// Peers:
//   openssl_fresh_ctx   OpenSSL used the simple way: EVP_CIPHER_CTX_new, EVP_CipherInit_ex with
//                       EVP_aes_256_*(), update, final, free on every call.
//   openssl_reused_ctx  one EVP_CIPHER_CTX for the whole run, only re-keyed per call: the
//                       least OpenSSL itself can cost. Holdfast also reuses a context but
//                       re-keys it a second time with zeros after every call, to wipe it.
//   libsodium           libsodium's AEADs called directly.
// The OpenSSL baselines make their output exactly as Holdfast does (a new buffer for CBC and
// GCM, the caller's buffer for CTR), so their ratios measure the context handling alone. The
// libsodium peers write into buffers made once, as a direct caller would, so their ratios
// include everything Holdfast's API adds.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstdint>

#include "bench_util.h"
#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/aes.h"

namespace holdfast::bench {
namespace {

using crypto::AeadAlgorithm;

const Bytes& CipherKey() {
  static const Bytes key = TestBytes(32, 10);
  return key;
}
const Bytes& CipherIv() {
  static const Bytes iv = TestBytes(16, 11);
  return iv;
}

// --- OpenSSL helpers -----------------------------------------------------------------------

enum class Direction { kEncrypt, kDecrypt };
enum class CtxMode { kFresh, kReused };

// Crypt runs one whole cipher operation on `ctx` into `out`, which must have room for
// in.size() plus one block. A null `cipher` keeps the context's. It returns the bytes
// written, or -1 on any OpenSSL failure.
int Crypt(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, Direction dir, ByteSpan in, uint8_t* out) {
  const int enc = dir == Direction::kEncrypt ? 1 : 0;
  int n1 = 0, n2 = 0;
  const bool ok =
      EVP_CipherInit_ex(ctx, cipher, nullptr, CipherKey().data(), CipherIv().data(), enc) == 1 &&
      EVP_CipherUpdate(ctx, out, &n1, in.data(), static_cast<int>(in.size())) == 1 &&
      EVP_CipherFinal_ex(ctx, out + n1, &n2) == 1;
  return ok ? n1 + n2 : -1;
}

// OpensslCipher runs Crypt either on a new context per call or on one it keeps.
class OpensslCipher {
 public:
  OpensslCipher(const EVP_CIPHER* cipher, CtxMode mode) : cipher_(cipher), mode_(mode) {
    if (mode_ == CtxMode::kReused) {
      ctx_ = EVP_CIPHER_CTX_new();
      if (ctx_ != nullptr && EVP_CipherInit_ex(ctx_, cipher_, nullptr, nullptr, nullptr, 1) != 1) {
        EVP_CIPHER_CTX_free(ctx_);
        ctx_ = nullptr;
      }
    }
  }
  ~OpensslCipher() { EVP_CIPHER_CTX_free(ctx_); }
  // ctx is the kept context (kReused only); null if OpenSSL could not make it.
  EVP_CIPHER_CTX* ctx() const { return ctx_; }
  OpensslCipher(const OpensslCipher&) = delete;
  OpensslCipher& operator=(const OpensslCipher&) = delete;

  int Run(Direction dir, ByteSpan in, uint8_t* out) {
    if (mode_ == CtxMode::kReused) {
      return ctx_ == nullptr ? -1 : Crypt(ctx_, nullptr, dir, in, out);
    }
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (ctx == nullptr) {
      return -1;
    }
    const int n = Crypt(ctx, cipher_, dir, in, out);
    EVP_CIPHER_CTX_free(ctx);
    return n;
  }

  // RunAllocating makes a new output buffer, as Holdfast's CBC functions do. An empty result
  // means failure (every input here is non-empty).
  Bytes RunAllocating(Direction dir, ByteSpan in) {
    Bytes out(in.size() + crypto::kAesBlockBytes);
    const int n = Run(dir, in, out.data());
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  }

 private:
  const EVP_CIPHER* cipher_;
  CtxMode mode_;
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

// --- AES-256-CBC ---------------------------------------------------------------------------

Bytes HoldfastCbcCiphertext(ByteSpan plaintext) {
  auto ct = crypto::Aes256CbcEncrypt(CipherKey(), CipherIv(), plaintext);
  return ct.ok() ? std::move(ct).value() : Bytes();
}

void CbcEncryptHoldfast(benchmark::State& state) {
  const Bytes pt = TestBytes(Size(state), 12);
  for (auto _ : state) {
    auto ct = crypto::Aes256CbcEncrypt(CipherKey(), CipherIv(), pt);
    if (!ct.ok()) {
      state.SkipWithError("Aes256CbcEncrypt failed");
      break;
    }
    benchmark::DoNotOptimize(ct);
  }
  SetBytes(state);
}

void CbcDecryptHoldfast(benchmark::State& state) {
  const Bytes pt = TestBytes(Size(state), 12);
  const Bytes ct = HoldfastCbcCiphertext(pt);
  for (auto _ : state) {
    auto out = crypto::Aes256CbcDecrypt(CipherKey(), CipherIv(), ct);
    if (!out.ok()) {
      state.SkipWithError("Aes256CbcDecrypt failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state);
}

void CbcOpenssl(benchmark::State& state, Direction dir, CtxMode mode) {
  const Bytes pt = TestBytes(Size(state), 12);
  const Bytes ct = HoldfastCbcCiphertext(pt);
  const Bytes& in = dir == Direction::kEncrypt ? pt : ct;
  const Bytes& expected = dir == Direction::kEncrypt ? ct : pt;
  OpensslCipher cipher(EVP_aes_256_cbc(), mode);
  if (cipher.RunAllocating(dir, in) != expected) {
    state.SkipWithError("OpenSSL CBC output differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    Bytes out = cipher.RunAllocating(dir, in);
    if (out.empty()) {
      state.SkipWithError("OpenSSL CBC failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state);
}

HF_BENCH("BM_Aes256CbcEncrypt/holdfast", CbcEncryptHoldfast)->Apply(MessageSizes);
HF_BENCH("BM_Aes256CbcEncrypt/openssl_fresh_ctx", CbcOpenssl, Direction::kEncrypt, CtxMode::kFresh)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256CbcEncrypt/openssl_reused_ctx", CbcOpenssl, Direction::kEncrypt,
         CtxMode::kReused)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256CbcDecrypt/holdfast", CbcDecryptHoldfast)->Apply(MessageSizes);
HF_BENCH("BM_Aes256CbcDecrypt/openssl_fresh_ctx", CbcOpenssl, Direction::kDecrypt, CtxMode::kFresh)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256CbcDecrypt/openssl_reused_ctx", CbcOpenssl, Direction::kDecrypt,
         CtxMode::kReused)
    ->Apply(MessageSizes);

// --- AES-256-CTR: writes into the caller's buffer, so nothing allocates ---------------------

void CtrHoldfast(benchmark::State& state) {
  const Bytes in = TestBytes(Size(state), 13);
  Bytes out(in.size());
  for (auto _ : state) {
    auto ok = crypto::Aes256Ctr(CipherKey(), CipherIv(), in, out);
    if (!ok.ok()) {
      state.SkipWithError("Aes256Ctr failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

void CtrOpenssl(benchmark::State& state, CtxMode mode) {
  const Bytes in = TestBytes(Size(state), 13);
  Bytes ours(in.size());
  Bytes out(in.size() + crypto::kAesBlockBytes);
  OpensslCipher cipher(EVP_aes_256_ctr(), mode);
  if (!crypto::Aes256Ctr(CipherKey(), CipherIv(), in, ours).ok() ||
      cipher.Run(Direction::kEncrypt, in, out.data()) != static_cast<int>(in.size()) ||
      !Same(ByteSpan(out).first(in.size()), ours)) {
    state.SkipWithError("OpenSSL CTR output differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    if (cipher.Run(Direction::kEncrypt, in, out.data()) < 0) {
      state.SkipWithError("OpenSSL CTR failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

HF_BENCH("BM_Aes256Ctr/holdfast", CtrHoldfast)->Apply(MessageSizes);
HF_BENCH("BM_Aes256Ctr/openssl_fresh_ctx", CtrOpenssl, CtxMode::kFresh)->Apply(MessageSizes);
HF_BENCH("BM_Aes256Ctr/openssl_reused_ctx", CtrOpenssl, CtxMode::kReused)->Apply(MessageSizes);

// --- AEADs: seal and open, 16-byte associated data ----------------------------------------
// Holdfast returns a new Bytes (seal) or SecretBytes (open, wiped when dropped).

constexpr size_t kAadBytes = 16;

using SodiumEncrypt = int (*)(unsigned char*, unsigned long long*, const unsigned char*,
                              unsigned long long, const unsigned char*, unsigned long long,
                              const unsigned char*, const unsigned char*, const unsigned char*);
using SodiumDecrypt = int (*)(unsigned char*, unsigned long long*, unsigned char*,
                              const unsigned char*, unsigned long long, const unsigned char*,
                              unsigned long long, const unsigned char*, const unsigned char*);

struct SodiumAead {
  SodiumEncrypt encrypt;
  SodiumDecrypt decrypt;
};

SodiumAead SodiumFor(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kXChaCha20Poly1305:
      return {crypto_aead_xchacha20poly1305_ietf_encrypt,
              crypto_aead_xchacha20poly1305_ietf_decrypt};
    case AeadAlgorithm::kChaCha20Poly1305:
      return {crypto_aead_chacha20poly1305_ietf_encrypt, crypto_aead_chacha20poly1305_ietf_decrypt};
    case AeadAlgorithm::kAes256Gcm:
      return {crypto_aead_aes256gcm_encrypt, crypto_aead_aes256gcm_decrypt};
  }
  return {nullptr, nullptr};
}

struct AeadInput {
  AeadInput(AeadAlgorithm a, size_t size)
      : algorithm(a),
        nonce(TestBytes(crypto::AeadNonceBytes(a), 21)),
        plaintext(TestBytes(size, 22)) {
    auto s = crypto::AeadSeal(algorithm, key, nonce, aad, plaintext);
    if (s.ok()) {
      sealed = std::move(s).value();
    }
  }
  AeadAlgorithm algorithm;
  Bytes key = TestBytes(crypto::kAeadKeyBytes, 20);
  Bytes nonce;
  Bytes aad = TestBytes(kAadBytes, 23);
  Bytes plaintext;
  Bytes sealed;  // Holdfast's ciphertext || tag
};

// SodiumUsable says whether libsodium can run `algorithm` here; its AES-GCM needs AES-NI.
bool SodiumUsable(benchmark::State& state, AeadAlgorithm algorithm) {
  if (algorithm == AeadAlgorithm::kAes256Gcm && crypto_aead_aes256gcm_is_available() == 0) {
    state.SkipWithError("skipped: libsodium AES-256-GCM needs AES-NI");
    return false;
  }
  return true;
}

void AeadSealHoldfast(benchmark::State& state, AeadAlgorithm algorithm) {
  const AeadInput in(algorithm, Size(state));
  for (auto _ : state) {
    auto sealed = crypto::AeadSeal(algorithm, in.key, in.nonce, in.aad, in.plaintext);
    if (!sealed.ok()) {
      state.SkipWithError("AeadSeal failed");
      break;
    }
    benchmark::DoNotOptimize(sealed);
  }
  SetBytes(state);
}

void AeadSealLibsodium(benchmark::State& state, AeadAlgorithm algorithm) {
  if (!SodiumUsable(state, algorithm)) {
    return;
  }
  const AeadInput in(algorithm, Size(state));
  const SodiumEncrypt encrypt = SodiumFor(algorithm).encrypt;
  Bytes out(in.plaintext.size() + crypto::kAeadTagBytes);
  unsigned long long len = 0;
  const auto seal = [&] {
    return encrypt(out.data(), &len, in.plaintext.data(), in.plaintext.size(), in.aad.data(),
                   in.aad.size(), nullptr, in.nonce.data(), in.key.data());
  };
  if (seal() != 0 || out != in.sealed) {
    state.SkipWithError("libsodium ciphertext differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(seal());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

void AeadOpenHoldfast(benchmark::State& state, AeadAlgorithm algorithm) {
  const AeadInput in(algorithm, Size(state));
  for (auto _ : state) {
    auto opened = crypto::AeadOpen(algorithm, in.key, in.nonce, in.aad, in.sealed);
    if (!opened.ok()) {
      state.SkipWithError("AeadOpen failed");
      break;
    }
    benchmark::DoNotOptimize(opened);
  }
  SetBytes(state);
}

void AeadOpenLibsodium(benchmark::State& state, AeadAlgorithm algorithm) {
  if (!SodiumUsable(state, algorithm)) {
    return;
  }
  const AeadInput in(algorithm, Size(state));
  const SodiumDecrypt decrypt = SodiumFor(algorithm).decrypt;
  Bytes out(in.plaintext.size());
  unsigned long long len = 0;
  const auto open = [&] {
    return decrypt(out.data(), &len, nullptr, in.sealed.data(), in.sealed.size(), in.aad.data(),
                   in.aad.size(), in.nonce.data(), in.key.data());
  };
  if (open() != 0 || out != in.plaintext) {
    state.SkipWithError("libsodium cannot open holdfast's ciphertext");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(open());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

HF_BENCH("BM_XChaCha20Poly1305Seal/holdfast", AeadSealHoldfast, AeadAlgorithm::kXChaCha20Poly1305)
    ->Apply(MessageSizes);
HF_BENCH("BM_XChaCha20Poly1305Seal/libsodium", AeadSealLibsodium, AeadAlgorithm::kXChaCha20Poly1305)
    ->Apply(MessageSizes);
HF_BENCH("BM_XChaCha20Poly1305Open/holdfast", AeadOpenHoldfast, AeadAlgorithm::kXChaCha20Poly1305)
    ->Apply(MessageSizes);
HF_BENCH("BM_XChaCha20Poly1305Open/libsodium", AeadOpenLibsodium, AeadAlgorithm::kXChaCha20Poly1305)
    ->Apply(MessageSizes);

HF_BENCH("BM_ChaCha20Poly1305Seal/holdfast", AeadSealHoldfast, AeadAlgorithm::kChaCha20Poly1305)
    ->Apply(MessageSizes);
HF_BENCH("BM_ChaCha20Poly1305Seal/libsodium", AeadSealLibsodium, AeadAlgorithm::kChaCha20Poly1305)
    ->Apply(MessageSizes);
HF_BENCH("BM_ChaCha20Poly1305Open/holdfast", AeadOpenHoldfast, AeadAlgorithm::kChaCha20Poly1305)
    ->Apply(MessageSizes);
HF_BENCH("BM_ChaCha20Poly1305Open/libsodium", AeadOpenLibsodium, AeadAlgorithm::kChaCha20Poly1305)
    ->Apply(MessageSizes);

// GcmOpensslReused seals or opens with one AES-256-GCM context kept for the whole run,
// making the output buffer per call as Holdfast does.
void GcmOpensslReused(benchmark::State& state, Direction dir) {
  const AeadInput in(AeadAlgorithm::kAes256Gcm, Size(state));
  OpensslCipher cipher(EVP_aes_256_gcm(), CtxMode::kReused);
  EVP_CIPHER_CTX* ctx = cipher.ctx();
  const int aad_len = static_cast<int>(in.aad.size());
  const int text_len = static_cast<int>(in.plaintext.size());
  const auto seal = [&] {
    Bytes out(in.plaintext.size() + crypto::kAeadTagBytes);
    int n = 0, m = 0;
    const bool ok =
        ctx != nullptr &&
        EVP_EncryptInit_ex(ctx, nullptr, nullptr, in.key.data(), in.nonce.data()) == 1 &&
        EVP_EncryptUpdate(ctx, nullptr, &n, in.aad.data(), aad_len) == 1 &&
        EVP_EncryptUpdate(ctx, out.data(), &n, in.plaintext.data(), text_len) == 1 &&
        EVP_EncryptFinal_ex(ctx, out.data() + n, &m) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, crypto::kAeadTagBytes,
                            out.data() + text_len) == 1;
    if (!ok) {
      out.clear();
    }
    return out;
  };
  const auto open = [&] {
    Bytes out(in.plaintext.size());
    uint8_t final_block[crypto::kAesBlockBytes];
    int n = 0, m = 0;
    const bool ok =
        ctx != nullptr &&
        EVP_DecryptInit_ex(ctx, nullptr, nullptr, in.key.data(), in.nonce.data()) == 1 &&
        EVP_DecryptUpdate(ctx, nullptr, &n, in.aad.data(), aad_len) == 1 &&
        EVP_DecryptUpdate(ctx, out.data(), &n, in.sealed.data(), text_len) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, crypto::kAeadTagBytes,
                            const_cast<uint8_t*>(in.sealed.data() + text_len)) == 1 &&
        EVP_DecryptFinal_ex(ctx, final_block, &m) == 1;
    if (!ok) {
      out.clear();
    }
    return out;
  };
  const bool seal_dir = dir == Direction::kEncrypt;
  if ((seal_dir ? seal() : open()) != (seal_dir ? in.sealed : in.plaintext)) {
    state.SkipWithError("OpenSSL GCM output differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    Bytes out = seal_dir ? seal() : open();
    if (out.empty()) {
      state.SkipWithError("OpenSSL GCM failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state);
}

// Holdfast's AES-GCM is OpenSSL's (reused context); libsodium's is its own AES-NI code.
HF_BENCH("BM_Aes256GcmSeal/holdfast", AeadSealHoldfast, AeadAlgorithm::kAes256Gcm)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256GcmSeal/libsodium", AeadSealLibsodium, AeadAlgorithm::kAes256Gcm)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256GcmSeal/openssl_reused_ctx", GcmOpensslReused, Direction::kEncrypt)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256GcmOpen/holdfast", AeadOpenHoldfast, AeadAlgorithm::kAes256Gcm)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256GcmOpen/libsodium", AeadOpenLibsodium, AeadAlgorithm::kAes256Gcm)
    ->Apply(MessageSizes);
HF_BENCH("BM_Aes256GcmOpen/openssl_reused_ctx", GcmOpensslReused, Direction::kDecrypt)
    ->Apply(MessageSizes);

}  // namespace
}  // namespace holdfast::bench
