// Decryption entry points on attacker-chosen ciphertexts under a fixed key: every AEAD, and
// AES-256-CBC with PKCS#7. The first byte picks the algorithm, then nonce/IV, then ciphertext.
// AEAD forgeries must never open; CBC output must never exceed its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/aes.h"

using namespace holdfast;  // NOLINT(google-build-using-namespace): a fuzz entry point

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint8_t kKey[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  ByteReader r(ByteSpan(data, size));
  auto op = r.ReadU8();
  if (!op.ok()) {
    return 0;
  }
  const ByteSpan key(kKey, sizeof(kKey));
  if (*op % 4 == 3) {
    auto iv = r.ReadBytes(crypto::kAesIvBytes);
    if (!iv.ok()) {
      return 0;
    }
    auto pt = crypto::Aes256CbcDecrypt(key, *iv, r.Rest());
    if (pt.ok() && pt->size() >= r.remaining()) {
      std::abort();
    }
    return 0;
  }
  const auto alg = static_cast<crypto::AeadAlgorithm>(*op % 3);
  auto nonce = r.ReadBytes(crypto::AeadNonceBytes(alg));
  auto aad = r.ReadPrefixed8();
  if (!nonce.ok() || !aad.ok()) {
    return 0;
  }
  // Under a key the fuzzer cannot see, opening would mean a forged tag.
  if (crypto::AeadOpen(alg, key, *nonce, *aad, r.Rest()).ok()) {
    std::abort();
  }
  return 0;
}
