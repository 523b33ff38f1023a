// X25519 key pairs and key agreement (RFC 7748, libsodium), with Signal's public key
// encoding: a 0x05 type byte followed by the 32-byte u-coordinate.
#ifndef HOLDFAST_CRYPTO_X25519_H_
#define HOLDFAST_CRYPTO_X25519_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/common/secret.h"

namespace holdfast::crypto {

inline constexpr size_t kX25519KeyBytes = 32;
inline constexpr size_t kX25519SharedBytes = 32;
// kDjbKeyType is the type byte libsignal puts before a Curve25519 public key.
inline constexpr uint8_t kDjbKeyType = 0x05;
inline constexpr size_t kSignalPublicKeyBytes = 1 + kX25519KeyBytes;

// X25519PublicKey is a Curve25519 u-coordinate. It is public, so it copies freely.
class X25519PublicKey {
 public:
  // A default key is all zeros: a small-order point that agreement refuses (kWeakKey), so
  // a key left unset cannot be used by mistake.
  X25519PublicKey() : u_{} {}
  // Parse reads Signal's 33-byte form. A missing or different type byte, or a different
  // length, is kInvalidKey.
  static Result<X25519PublicKey> Parse(ByteSpan serialized);
  // FromRaw takes a bare 32-byte u-coordinate.
  static Result<X25519PublicKey> FromRaw(ByteSpan raw);

  // Serialize returns Signal's 33-byte form.
  std::array<uint8_t, kSignalPublicKeyBytes> Serialize() const;
  const std::array<uint8_t, kX25519KeyBytes>& raw() const { return u_; }

  friend bool operator==(const X25519PublicKey&, const X25519PublicKey&) = default;

 private:
  friend class X25519PrivateKey;
  explicit X25519PublicKey(const std::array<uint8_t, kX25519KeyBytes>& u) : u_(u) {}
  std::array<uint8_t, kX25519KeyBytes> u_;
};

// X25519PrivateKey is a clamped Curve25519 scalar, the same bytes libsignal stores.
class X25519PrivateKey {
 public:
  // Generate draws 32 bytes from `rng` and clamps them.
  static X25519PrivateKey Generate(Rng& rng);
  // FromBytes clamps a 32-byte scalar; other lengths are kInvalidKey.
  static Result<X25519PrivateKey> FromBytes(ByteSpan scalar);

  X25519PublicKey PublicKey() const;
  // Serialize exposes the clamped scalar, for a store that encrypts it at rest.
  ByteSpan Serialize() const { return scalar_.span(); }
  X25519PrivateKey Clone() const { return X25519PrivateKey(scalar_.Clone()); }

 private:
  explicit X25519PrivateKey(Secret<kX25519KeyBytes> scalar) : scalar_(std::move(scalar)) {}
  Secret<kX25519KeyBytes> scalar_;
};

struct X25519KeyPair {
  X25519PrivateKey private_key;
  X25519PublicKey public_key;

  static X25519KeyPair Generate(Rng& rng);
  static X25519KeyPair FromPrivate(X25519PrivateKey key);
};

// X25519Agree computes the shared secret. A peer key of small order, which would give an
// all-zero secret, is kWeakKey.
Result<Secret<kX25519SharedBytes>> X25519Agree(const X25519PrivateKey& ours,
                                               const X25519PublicKey& theirs);

// X25519 is RFC 7748's raw function X25519(k, u) on 32-byte strings, without the clamping
// done by key generation (the function clamps k itself, as the RFC says). For tests.
Result<std::array<uint8_t, kX25519KeyBytes>> X25519(ByteSpan scalar, ByteSpan u);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_X25519_H_
