#include "holdfast/crypto/x25519.h"

#include <sodium/crypto_scalarmult_curve25519.h>
#include <sodium/crypto_scalarmult_ed25519.h>

#include <algorithm>

#include "field25519.h"
#include "internal.h"

namespace holdfast::crypto {
namespace {

void Clamp(MutableByteSpan k) {
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
}

}  // namespace

Result<X25519PublicKey> X25519PublicKey::Parse(ByteSpan serialized) {
  if (serialized.size() != kSignalPublicKeyBytes || serialized[0] != kDjbKeyType) {
    return Error{ErrorCode::kInvalidKey, "expected 0x05 || 32-byte key"};
  }
  return FromRaw(serialized.subspan(1));
}

Result<X25519PublicKey> X25519PublicKey::FromRaw(ByteSpan raw) {
  if (raw.size() != kX25519KeyBytes) {
    return Error{ErrorCode::kInvalidKey, "x25519 key length"};
  }
  std::array<uint8_t, kX25519KeyBytes> u;
  std::copy(raw.begin(), raw.end(), u.begin());
  return X25519PublicKey(u);
}

std::array<uint8_t, kSignalPublicKeyBytes> X25519PublicKey::Serialize() const {
  std::array<uint8_t, kSignalPublicKeyBytes> out;
  out[0] = kDjbKeyType;
  std::copy(u_.begin(), u_.end(), out.begin() + 1);
  return out;
}

X25519PrivateKey X25519PrivateKey::Generate(Rng& rng) {
  Secret<kX25519KeyBytes> k;
  rng.Fill(k.mutable_span());
  Clamp(k.mutable_span());
  return X25519PrivateKey(std::move(k));
}

Result<X25519PrivateKey> X25519PrivateKey::FromBytes(ByteSpan scalar) {
  auto k = Secret<kX25519KeyBytes>::FromSpan(scalar);
  if (!k.ok()) {
    return Error{ErrorCode::kInvalidKey, "x25519 private key length"};
  }
  Clamp(k->mutable_span());
  return X25519PrivateKey(std::move(*k));
}

X25519PublicKey X25519PrivateKey::PublicKey() const {
  internal::EnsureSodium();
  // X25519(k, 9) is the u-coordinate of [k]B, and libsodium's fixed-base multiplication on
  // Ed25519 (precomputed tables) is about twice as fast as its Montgomery ladder from u = 9:
  // compute [k]B there and map y to u = (1 + y) / (1 - y). The scalar is clamped, so it is
  // below 2^255 as the Edwards routine needs. That routine refuses only a result at the
  // identity (k a multiple of the group order, which clamping makes practically impossible);
  // the ladder then gives the answer. Both paths run in constant time.
  std::array<uint8_t, kX25519KeyBytes> u;
  Secret<kX25519KeyBytes> edwards;  // [k]B reveals nothing, but it is wiped like the scalar
  if (crypto_scalarmult_ed25519_base_noclamp(edwards.data(), scalar_.data()) == 0) {
    const std::span<const uint8_t, internal::kFieldBytes> y(edwards.data(), kX25519KeyBytes);
    u = internal::FeToBytes(internal::EdwardsYToMontgomeryU(internal::FeFromBytes(y)));
    return X25519PublicKey(u);
  }
  // Fails only for a scalar that is zero modulo the group order, which clamping rules out.
  if (crypto_scalarmult_curve25519_base(u.data(), scalar_.data()) != 0) {
    internal::FatalLibraryError("x25519 base");
  }
  return X25519PublicKey(u);
}

X25519KeyPair X25519KeyPair::Generate(Rng& rng) {
  return FromPrivate(X25519PrivateKey::Generate(rng));
}

X25519KeyPair X25519KeyPair::FromPrivate(X25519PrivateKey key) {
  X25519PublicKey pub = key.PublicKey();
  return X25519KeyPair{std::move(key), pub};
}

Result<Secret<kX25519SharedBytes>> X25519Agree(const X25519PrivateKey& ours,
                                               const X25519PublicKey& theirs) {
  internal::EnsureSodium();
  Secret<kX25519SharedBytes> shared;
  // libsodium returns -1 for small-order peer points, whose result would be all zeros.
  if (crypto_scalarmult_curve25519(shared.data(), ours.Serialize().data(), theirs.raw().data()) !=
      0) {
    return ErrorCode::kWeakKey;
  }
  return shared;
}

Result<std::array<uint8_t, kX25519KeyBytes>> X25519(ByteSpan scalar, ByteSpan u) {
  if (scalar.size() != kX25519KeyBytes || u.size() != kX25519KeyBytes) {
    return Error{ErrorCode::kInvalidArgument, "x25519 input length"};
  }
  internal::EnsureSodium();
  std::array<uint8_t, kX25519KeyBytes> out;
  if (crypto_scalarmult_curve25519(out.data(), scalar.data(), u.data()) != 0) {
    return ErrorCode::kWeakKey;
  }
  return out;
}

}  // namespace holdfast::crypto
