// XEdDSA over Curve25519, built from libsodium's Ed25519 group and scalar operations. Only the
// Montgomery-to-Edwards map needs field arithmetic of our own (field25519.h).
#include "holdfast/crypto/xeddsa.h"

#include <sodium/core.h>
#include <sodium/crypto_core_ed25519.h>
#include <sodium/crypto_scalarmult_ed25519.h>
#include <sodium/crypto_sign_ed25519.h>

#include <algorithm>

#include "field25519.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/hash.h"
#include "internal.h"

namespace holdfast::crypto {
namespace {

constexpr size_t kScalarBytes = 32;
constexpr uint8_t kSignBit = 0x80;

// hash_1 of the specification: SHA-512 over the 32-byte little-endian encoding of 2^256 - 2,
// then the inputs.
constexpr std::array<uint8_t, 32> kHash1Prefix = {
    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// ReduceWide reduces a 64-byte little-endian integer modulo the group order.
Secret<kScalarBytes> ReduceWide(Secret<64>& wide) {
  Secret<kScalarBytes> out;
  crypto_core_ed25519_scalar_reduce(out.data(), wide.data());
  return out;
}

Secret<kScalarBytes> HashToScalar(Sha512Hasher& hasher) {
  auto digest = hasher.Finish();
  auto wide = std::move(Secret<64>::FromSpan(digest).value());
  SecureWipe(digest);
  return ReduceWide(wide);
}

}  // namespace

Result<XEdDsaSignature> XEdDsaSignWithNonce(const X25519PrivateKey& key, ByteSpan message,
                                            std::span<const uint8_t, kXEdDsaNonceBytes> z) {
  internal::EnsureSodium();
  const ByteSpan k = key.Serialize();  // clamped scalar

  // calculate_key_pair: E = kB; A = E with its sign bit forced to 0; a = -k if E was negative.
  std::array<uint8_t, kScalarBytes> big_a;
  if (crypto_scalarmult_ed25519_base_noclamp(big_a.data(), k.data()) != 0) {
    return Error{ErrorCode::kInvalidKey, "x25519 scalar"};
  }
  const uint8_t negative = static_cast<uint8_t>(big_a[31] >> 7);
  big_a[31] &= static_cast<uint8_t>(~kSignBit);

  Secret<64> k_wide;
  std::copy(k.begin(), k.end(), k_wide.data());
  Secret<kScalarBytes> a = ReduceWide(k_wide);
  Secret<kScalarBytes> minus_a;
  crypto_core_ed25519_scalar_negate(minus_a.data(), a.data());
  // Constant-time select of -a when `negative` is 1.
  const uint8_t mask = static_cast<uint8_t>(-negative);
  for (size_t i = 0; i < kScalarBytes; ++i) {
    a.data()[i] = static_cast<uint8_t>(a.data()[i] ^ (mask & (a.data()[i] ^ minus_a.data()[i])));
  }

  // r = hash_1(a || M || Z) mod q; R = rB.
  Sha512Hasher hasher;
  hasher.Update(kHash1Prefix).Update(a.span()).Update(message).Update(z);
  const Secret<kScalarBytes> r = HashToScalar(hasher);
  XEdDsaSignature sig;
  if (crypto_scalarmult_ed25519_base_noclamp(sig.data(), r.data()) != 0) {
    return Error{ErrorCode::kCryptoFailure, "zero nonce"};
  }

  // h = hash(R || A || M) mod q; s = r + h*a mod q.
  hasher.Update(std::span(sig).first(kScalarBytes)).Update(big_a).Update(message);
  const Secret<kScalarBytes> h = HashToScalar(hasher);
  Secret<kScalarBytes> ha;
  crypto_core_ed25519_scalar_mul(ha.data(), h.data(), a.data());
  crypto_core_ed25519_scalar_add(sig.data() + kScalarBytes, r.data(), ha.data());
  return sig;
}

Result<XEdDsaSignature> XEdDsaSign(const X25519PrivateKey& key, ByteSpan message, Rng& rng) {
  Secret<kXEdDsaNonceBytes> z;
  rng.Fill(z.mutable_span());
  return XEdDsaSignWithNonce(key, message, std::span<const uint8_t, kXEdDsaNonceBytes>(z.span()));
}

Result<void> XEdDsaVerify(const X25519PublicKey& key, ByteSpan message, ByteSpan signature) {
  if (signature.size() != kXEdDsaSignatureBytes) {
    return ErrorCode::kAuthenticationFailed;
  }
  const std::span<const uint8_t, internal::kFieldBytes> u(key.raw());
  if (!internal::FeIsCanonical(u)) {
    return ErrorCode::kAuthenticationFailed;
  }

  // A = the Edwards point for u, with the sign bit the signature carries (0 for signatures
  // made as the specification says).
  auto big_a = internal::FeToBytes(internal::MontgomeryUToEdwardsY(internal::FeFromBytes(u)));
  big_a[31] |= static_cast<uint8_t>(signature[63] & kSignBit);
  XEdDsaSignature sig;
  std::copy(signature.begin(), signature.end(), sig.begin());
  sig[63] &= static_cast<uint8_t>(~kSignBit);

  // libsodium's verification refuses s >= q, small-order R and A, non-canonical A, and
  // compares R with the canonical encoding of sB - hA.
  internal::EnsureSodium();
  if (crypto_sign_ed25519_verify_detached(sig.data(), message.data(), message.size(),
                                          big_a.data()) != 0) {
    return ErrorCode::kAuthenticationFailed;
  }
  return Ok();
}

}  // namespace holdfast::crypto
