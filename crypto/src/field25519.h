// Arithmetic in GF(2^255 - 19), radix 2^51, for XEdDSA's Montgomery-to-Edwards conversion
// and X25519 public keys computed on the Edwards curve (x25519.cc).
//
// libsodium 1.0.18 exposes no field operations, so these few live here. Every operation runs
// in time independent of its operands. Limbs of a FieldElement stay below 2^52 between
// operations (each operation ends with a carry pass), which keeps products inside 128 bits.
#ifndef HOLDFAST_CRYPTO_SRC_FIELD25519_H_
#define HOLDFAST_CRYPTO_SRC_FIELD25519_H_

#include <array>
#include <cstdint>
#include <span>

namespace holdfast::crypto::internal {

inline constexpr size_t kFieldBytes = 32;

struct FieldElement {
  std::array<uint64_t, 5> limb;
};

// FeFromBytes reads a little-endian integer, ignoring bit 255 as RFC 7748 does.
FieldElement FeFromBytes(std::span<const uint8_t, kFieldBytes> in);
// FeToBytes writes the canonical little-endian encoding (fully reduced, bit 255 clear).
std::array<uint8_t, kFieldBytes> FeToBytes(const FieldElement& f);
// FeIsCanonical is true iff `in`, read as a 256-bit integer, is below p.
bool FeIsCanonical(std::span<const uint8_t, kFieldBytes> in);

FieldElement FeZero();
FieldElement FeOne();
FieldElement FeAdd(const FieldElement& a, const FieldElement& b);
FieldElement FeSub(const FieldElement& a, const FieldElement& b);
FieldElement FeMul(const FieldElement& a, const FieldElement& b);
FieldElement FeSquare(const FieldElement& a);
// FeInvert returns a^(p-2), which is 1/a for non-zero a and 0 for a = 0.
FieldElement FeInvert(const FieldElement& a);

// MontgomeryUToEdwardsY maps a Curve25519 u-coordinate to the birationally equivalent
// Ed25519 y-coordinate, y = (u - 1) / (u + 1). u = -1 maps to y = 0.
FieldElement MontgomeryUToEdwardsY(const FieldElement& u);

// EdwardsYToMontgomeryU is the inverse map, u = (1 + y) / (1 - y). y = 1 (the identity)
// maps to u = 0.
FieldElement EdwardsYToMontgomeryU(const FieldElement& y);

}  // namespace holdfast::crypto::internal

#endif  // HOLDFAST_CRYPTO_SRC_FIELD25519_H_
