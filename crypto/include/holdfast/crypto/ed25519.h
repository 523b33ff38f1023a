// Ed25519 signatures (RFC 8032, libsodium), used for authorities' orders and checkpoints.
#ifndef HOLDFAST_CRYPTO_ED25519_H_
#define HOLDFAST_CRYPTO_ED25519_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/common/secret.h"

namespace holdfast::crypto {

inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SeedBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

using Ed25519Signature = std::array<uint8_t, kEd25519SignatureBytes>;

class Ed25519PublicKey {
 public:
  // A default key is all zeros: a small-order point that Ed25519Verify refuses, so a key
  // left unset verifies nothing.
  Ed25519PublicKey() : bytes_{} {}
  // FromBytes takes the 32-byte encoded point. It is checked only when a signature is
  // verified, where a bad point is kAuthenticationFailed.
  static Result<Ed25519PublicKey> FromBytes(ByteSpan bytes);
  const std::array<uint8_t, kEd25519PublicKeyBytes>& bytes() const { return bytes_; }
  friend bool operator==(const Ed25519PublicKey&, const Ed25519PublicKey&) = default;

 private:
  friend class Ed25519PrivateKey;
  explicit Ed25519PublicKey(const std::array<uint8_t, kEd25519PublicKeyBytes>& b) : bytes_(b) {}
  std::array<uint8_t, kEd25519PublicKeyBytes> bytes_;
};

class Ed25519PrivateKey {
 public:
  static Ed25519PrivateKey Generate(Rng& rng);
  // FromSeed expands RFC 8032's 32-byte private key; other lengths are kInvalidKey.
  static Result<Ed25519PrivateKey> FromSeed(ByteSpan seed);

  Ed25519PublicKey PublicKey() const;
  // Seed returns the 32-byte RFC 8032 private key, for a store that encrypts it.
  ByteSpan Seed() const { return expanded_.span().first(kEd25519SeedBytes); }
  Ed25519Signature Sign(ByteSpan message) const;

 private:
  explicit Ed25519PrivateKey(Secret<64> expanded) : expanded_(std::move(expanded)) {}
  Secret<64> expanded_;  // libsodium's form: seed || public key
};

// Ed25519Verify checks `signature` (64 bytes) over `message`. It refuses non-canonical
// scalars, small-order keys and points, as libsodium does. Every failure is
// kAuthenticationFailed.
Result<void> Ed25519Verify(const Ed25519PublicKey& key, ByteSpan message, ByteSpan signature);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_ED25519_H_
