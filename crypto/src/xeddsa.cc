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

Result<XEdDsaSigningKey> XEdDsaSigningKey::FromPrivate(const X25519PrivateKey& key) {
  internal::EnsureSodium();
  const ByteSpan k = key.Serialize();  // clamped scalar

  // calculate_key_pair: E = kB; A = E with its sign bit forced to 0; a = -k if E was negative.
  XEdDsaSigningKey out;
  if (crypto_scalarmult_ed25519_base_noclamp(out.big_a_.data(), k.data()) != 0) {
    return Error{ErrorCode::kInvalidKey, "x25519 scalar"};
  }
  const uint8_t negative = static_cast<uint8_t>(out.big_a_[31] >> 7);
  out.big_a_[31] &= static_cast<uint8_t>(~kSignBit);

  Secret<64> k_wide;
  std::copy(k.begin(), k.end(), k_wide.data());
  out.a_ = ReduceWide(k_wide);
  Secret<kScalarBytes> minus_a;
  crypto_core_ed25519_scalar_negate(minus_a.data(), out.a_.data());
  // Constant-time select of -a when `negative` is 1.
  const uint8_t mask = static_cast<uint8_t>(-negative);
  uint8_t* a = out.a_.data();
  for (size_t i = 0; i < kScalarBytes; ++i) {
    a[i] = static_cast<uint8_t>(a[i] ^ (mask & (a[i] ^ minus_a.data()[i])));
  }
  return out;
}

Result<XEdDsaSigningKey> XEdDsaSigningKey::FromBytes(ByteSpan bytes) {
  if (bytes.size() != kBytes || (bytes[kBytes - 1] & kSignBit) != 0) {
    return Error{ErrorCode::kInvalidKey, "xeddsa signing key"};
  }
  XEdDsaSigningKey out;
  HF_ASSIGN_OR_RETURN(out.a_, Secret<kScalarBytes>::FromSpan(bytes.first(kScalarBytes)));
  std::copy(bytes.begin() + kScalarBytes, bytes.end(), out.big_a_.begin());
  return out;
}

SecretBytes XEdDsaSigningKey::Serialize() const {
  SecretBytes out(kBytes);
  std::copy(a_.data(), a_.data() + kScalarBytes, out.data());
  std::copy(big_a_.begin(), big_a_.end(), out.data() + kScalarBytes);
  return out;
}

Result<XEdDsaSignature> XEdDsaSigningKey::SignWithNonce(
    ByteSpan message, std::span<const uint8_t, kXEdDsaNonceBytes> z) const {
  internal::EnsureSodium();
  // r = hash_1(a || M || Z) mod q; R = rB.
  Sha512Hasher hasher;
  hasher.Update(kHash1Prefix).Update(a_.span()).Update(message).Update(z);
  const Secret<kScalarBytes> r = HashToScalar(hasher);
  XEdDsaSignature sig;
  if (crypto_scalarmult_ed25519_base_noclamp(sig.data(), r.data()) != 0) {
    return Error{ErrorCode::kCryptoFailure, "zero nonce"};
  }

  // h = hash(R || A || M) mod q; s = r + h*a mod q.
  hasher.Update(std::span(sig).first(kScalarBytes)).Update(big_a_).Update(message);
  const Secret<kScalarBytes> h = HashToScalar(hasher);
  Secret<kScalarBytes> ha;
  crypto_core_ed25519_scalar_mul(ha.data(), h.data(), a_.data());
  crypto_core_ed25519_scalar_add(sig.data() + kScalarBytes, r.data(), ha.data());
  return sig;
}

Result<XEdDsaSignature> XEdDsaSigningKey::Sign(ByteSpan message, Rng& rng) const {
  Secret<kXEdDsaNonceBytes> z;
  rng.Fill(z.mutable_span());
  return SignWithNonce(message, std::span<const uint8_t, kXEdDsaNonceBytes>(z.span()));
}

Result<XEdDsaSignature> XEdDsaSignWithNonce(const X25519PrivateKey& key, ByteSpan message,
                                            std::span<const uint8_t, kXEdDsaNonceBytes> z) {
  HF_ASSIGN_OR_RETURN(const XEdDsaSigningKey signer, XEdDsaSigningKey::FromPrivate(key));
  return signer.SignWithNonce(message, z);
}

Result<XEdDsaSignature> XEdDsaSign(const X25519PrivateKey& key, ByteSpan message, Rng& rng) {
  HF_ASSIGN_OR_RETURN(const XEdDsaSigningKey signer, XEdDsaSigningKey::FromPrivate(key));
  return signer.Sign(message, rng);
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
