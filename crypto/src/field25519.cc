#include "field25519.h"

#include <cstring>

namespace holdfast::crypto::internal {
namespace {

using u128 = unsigned __int128;
constexpr uint64_t kMask51 = (uint64_t{1} << 51) - 1;

uint64_t Load64Le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}

void Store64Le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}

// Carry propagates so that every limb is below 2^51 (limb 0 may be slightly above after
// the final wrap, still far below 2^52). The value is unchanged modulo p.
FieldElement Carry(std::array<u128, 5> t) {
  FieldElement r;
  t[1] += static_cast<uint64_t>(t[0] >> 51);
  r.limb[0] = static_cast<uint64_t>(t[0]) & kMask51;
  t[2] += static_cast<uint64_t>(t[1] >> 51);
  r.limb[1] = static_cast<uint64_t>(t[1]) & kMask51;
  t[3] += static_cast<uint64_t>(t[2] >> 51);
  r.limb[2] = static_cast<uint64_t>(t[2]) & kMask51;
  t[4] += static_cast<uint64_t>(t[3] >> 51);
  r.limb[3] = static_cast<uint64_t>(t[3]) & kMask51;
  // 2^255 = 19 (mod p).
  const uint64_t top = static_cast<uint64_t>(t[4] >> 51);
  r.limb[4] = static_cast<uint64_t>(t[4]) & kMask51;
  r.limb[0] += top * 19;
  r.limb[1] += r.limb[0] >> 51;
  r.limb[0] &= kMask51;
  return r;
}

FieldElement SquareTimes(FieldElement a, int n) {
  for (int i = 0; i < n; ++i) {
    a = FeSquare(a);
  }
  return a;
}

}  // namespace

FieldElement FeFromBytes(std::span<const uint8_t, kFieldBytes> in) {
  const uint8_t* s = in.data();
  FieldElement f;
  f.limb[0] = Load64Le(s) & kMask51;
  f.limb[1] = (Load64Le(s + 6) >> 3) & kMask51;
  f.limb[2] = (Load64Le(s + 12) >> 6) & kMask51;
  f.limb[3] = (Load64Le(s + 19) >> 1) & kMask51;
  f.limb[4] = (Load64Le(s + 24) >> 12) & kMask51;
  return f;
}

std::array<uint8_t, kFieldBytes> FeToBytes(const FieldElement& f) {
  // Bring limbs below 2^51, so the value h is below 2^255 + 2^51 < 2p.
  FieldElement h = Carry({f.limb[0], f.limb[1], f.limb[2], f.limb[3], f.limb[4]});
  h = Carry({h.limb[0], h.limb[1], h.limb[2], h.limb[3], h.limb[4]});
  // q = 1 iff h >= p, found by checking whether h + 19 overflows 2^255.
  uint64_t q = (h.limb[0] + 19) >> 51;
  q = (h.limb[1] + q) >> 51;
  q = (h.limb[2] + q) >> 51;
  q = (h.limb[3] + q) >> 51;
  q = (h.limb[4] + q) >> 51;
  // h - q*p = h + 19q - q*2^255: add 19q, carry, and drop bit 255.
  h.limb[0] += 19 * q;
  h.limb[1] += h.limb[0] >> 51;
  h.limb[0] &= kMask51;
  h.limb[2] += h.limb[1] >> 51;
  h.limb[1] &= kMask51;
  h.limb[3] += h.limb[2] >> 51;
  h.limb[2] &= kMask51;
  h.limb[4] += h.limb[3] >> 51;
  h.limb[3] &= kMask51;
  h.limb[4] &= kMask51;

  std::array<uint8_t, kFieldBytes> out;
  Store64Le(out.data(), h.limb[0] | (h.limb[1] << 51));
  Store64Le(out.data() + 8, (h.limb[1] >> 13) | (h.limb[2] << 38));
  Store64Le(out.data() + 16, (h.limb[2] >> 26) | (h.limb[3] << 25));
  Store64Le(out.data() + 24, (h.limb[3] >> 39) | (h.limb[4] << 12));
  return out;
}

bool FeIsCanonical(std::span<const uint8_t, kFieldBytes> in) {
  // The canonical encoding of the value read (bit 255 dropped) equals the input exactly
  // when the input was already below p and had bit 255 clear.
  const auto canonical = FeToBytes(FeFromBytes(in));
  uint8_t diff = 0;
  for (size_t i = 0; i < kFieldBytes; ++i) {
    diff |= static_cast<uint8_t>(canonical[i] ^ in[i]);
  }
  return diff == 0;
}

FieldElement FeZero() { return FieldElement{{0, 0, 0, 0, 0}}; }
FieldElement FeOne() { return FieldElement{{1, 0, 0, 0, 0}}; }

FieldElement FeAdd(const FieldElement& a, const FieldElement& b) {
  return Carry({u128{a.limb[0]} + b.limb[0], u128{a.limb[1]} + b.limb[1],
                u128{a.limb[2]} + b.limb[2], u128{a.limb[3]} + b.limb[3],
                u128{a.limb[4]} + b.limb[4]});
}

FieldElement FeSub(const FieldElement& a, const FieldElement& b) {
  // Add 4p (limbs 4*(2^51 - 19) and 4*(2^51 - 1)) so that no limb goes negative for any
  // b with limbs below 2^53.
  constexpr uint64_t kFourP0 = 4 * ((uint64_t{1} << 51) - 19);
  constexpr uint64_t kFourPi = 4 * ((uint64_t{1} << 51) - 1);
  return Carry({u128{a.limb[0]} + kFourP0 - b.limb[0], u128{a.limb[1]} + kFourPi - b.limb[1],
                u128{a.limb[2]} + kFourPi - b.limb[2], u128{a.limb[3]} + kFourPi - b.limb[3],
                u128{a.limb[4]} + kFourPi - b.limb[4]});
}

FieldElement FeMul(const FieldElement& a, const FieldElement& b) {
  const auto& x = a.limb;
  const auto& y = b.limb;
  // Limbs above position 4 wrap around multiplied by 19, since 2^255 = 19 (mod p).
  const uint64_t y1_19 = y[1] * 19, y2_19 = y[2] * 19, y3_19 = y[3] * 19, y4_19 = y[4] * 19;
  std::array<u128, 5> t;
  t[0] = u128{x[0]} * y[0] + u128{x[1]} * y4_19 + u128{x[2]} * y3_19 + u128{x[3]} * y2_19 +
         u128{x[4]} * y1_19;
  t[1] = u128{x[0]} * y[1] + u128{x[1]} * y[0] + u128{x[2]} * y4_19 + u128{x[3]} * y3_19 +
         u128{x[4]} * y2_19;
  t[2] = u128{x[0]} * y[2] + u128{x[1]} * y[1] + u128{x[2]} * y[0] + u128{x[3]} * y4_19 +
         u128{x[4]} * y3_19;
  t[3] = u128{x[0]} * y[3] + u128{x[1]} * y[2] + u128{x[2]} * y[1] + u128{x[3]} * y[0] +
         u128{x[4]} * y4_19;
  t[4] = u128{x[0]} * y[4] + u128{x[1]} * y[3] + u128{x[2]} * y[2] + u128{x[3]} * y[1] +
         u128{x[4]} * y[0];
  return Carry(t);
}

FieldElement FeSquare(const FieldElement& a) {
  // FeMul(a, a) with the symmetric products computed once: 15 multiplications, not 25.
  const auto& x = a.limb;
  const uint64_t d0 = 2 * x[0], d1 = 2 * x[1], d2 = 2 * x[2];
  const uint64_t x3_19 = 19 * x[3], x4_19 = 19 * x[4], x4_38 = 38 * x[4];
  std::array<u128, 5> t;
  t[0] = u128{x[0]} * x[0] + u128{d1} * x4_19 + u128{d2} * x3_19;
  t[1] = u128{d0} * x[1] + u128{x[3]} * x3_19 + u128{d2} * x4_19;
  t[2] = u128{d0} * x[2] + u128{x[1]} * x[1] + u128{x[3]} * x4_38;
  t[3] = u128{d0} * x[3] + u128{d1} * x[2] + u128{x[4]} * x4_19;
  t[4] = u128{d0} * x[4] + u128{d1} * x[3] + u128{x[2]} * x[2];
  return Carry(t);
}

FieldElement FeInvert(const FieldElement& z) {
  // z^(p-2) = z^(2^255 - 21) by the usual addition chain: 254 squarings, 11 multiplications.
  const FieldElement z2 = FeSquare(z);
  const FieldElement z9 = FeMul(SquareTimes(z2, 2), z);
  const FieldElement z11 = FeMul(z9, z2);
  const FieldElement z_5_0 = FeMul(FeSquare(z11), z9);              // z^(2^5 - 1)
  const FieldElement z_10_0 = FeMul(SquareTimes(z_5_0, 5), z_5_0);  // z^(2^10 - 1)
  const FieldElement z_20_0 = FeMul(SquareTimes(z_10_0, 10), z_10_0);
  const FieldElement z_40_0 = FeMul(SquareTimes(z_20_0, 20), z_20_0);
  const FieldElement z_50_0 = FeMul(SquareTimes(z_40_0, 10), z_10_0);
  const FieldElement z_100_0 = FeMul(SquareTimes(z_50_0, 50), z_50_0);
  const FieldElement z_200_0 = FeMul(SquareTimes(z_100_0, 100), z_100_0);
  const FieldElement z_250_0 = FeMul(SquareTimes(z_200_0, 50), z_50_0);
  return FeMul(SquareTimes(z_250_0, 5), z11);  // z^(2^255 - 32 + 11)
}

FieldElement MontgomeryUToEdwardsY(const FieldElement& u) {
  const FieldElement one = FeOne();
  return FeMul(FeSub(u, one), FeInvert(FeAdd(u, one)));
}

FieldElement EdwardsYToMontgomeryU(const FieldElement& y) {
  const FieldElement one = FeOne();
  return FeMul(FeAdd(one, y), FeInvert(FeSub(one, y)));
}

}  // namespace holdfast::crypto::internal
