#include "holdfast/crypto/ed25519.h"

#include <sodium/crypto_sign_ed25519.h>

#include <algorithm>

#include "internal.h"

namespace holdfast::crypto {

Result<Ed25519PublicKey> Ed25519PublicKey::FromBytes(ByteSpan bytes) {
  if (bytes.size() != kEd25519PublicKeyBytes) {
    return Error{ErrorCode::kInvalidKey, "ed25519 public key length"};
  }
  std::array<uint8_t, kEd25519PublicKeyBytes> b;
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return Ed25519PublicKey(b);
}

Ed25519PrivateKey Ed25519PrivateKey::Generate(Rng& rng) {
  Secret<kEd25519SeedBytes> seed;
  rng.Fill(seed.mutable_span());
  return std::move(FromSeed(seed.span())).value();
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(ByteSpan seed) {
  if (seed.size() != kEd25519SeedBytes) {
    return Error{ErrorCode::kInvalidKey, "ed25519 seed length"};
  }
  internal::EnsureSodium();
  Secret<64> expanded;
  std::array<uint8_t, kEd25519PublicKeyBytes> pk;
  if (crypto_sign_ed25519_seed_keypair(pk.data(), expanded.data(), seed.data()) != 0) {
    return ErrorCode::kCryptoFailure;
  }
  return Ed25519PrivateKey(std::move(expanded));
}

Ed25519PublicKey Ed25519PrivateKey::PublicKey() const {
  std::array<uint8_t, kEd25519PublicKeyBytes> pk;
  const ByteSpan tail = expanded_.span().subspan(kEd25519SeedBytes);
  std::copy(tail.begin(), tail.end(), pk.begin());
  return Ed25519PublicKey(pk);
}

Ed25519Signature Ed25519PrivateKey::Sign(ByteSpan message) const {
  Ed25519Signature sig;
  if (crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(),
                                   expanded_.data()) != 0) {
    internal::FatalLibraryError("ed25519 sign");
  }
  return sig;
}

Result<void> Ed25519Verify(const Ed25519PublicKey& key, ByteSpan message, ByteSpan signature) {
  if (signature.size() != kEd25519SignatureBytes) {
    return ErrorCode::kAuthenticationFailed;
  }
  internal::EnsureSodium();
  if (crypto_sign_ed25519_verify_detached(signature.data(), message.data(), message.size(),
                                          key.bytes().data()) != 0) {
    return ErrorCode::kAuthenticationFailed;
  }
  return Ok();
}

}  // namespace holdfast::crypto
