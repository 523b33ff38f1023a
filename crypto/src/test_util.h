// Helpers shared by the crypto tests.
#ifndef HOLDFAST_CRYPTO_SRC_TEST_UTIL_H_
#define HOLDFAST_CRYPTO_SRC_TEST_UTIL_H_

#include <cstdint>
#include <span>

namespace holdfast::crypto::test {

// AddGroupOrder adds L = 2^252 + 27742317777372353535851937790883648493 to the 32-byte
// little-endian scalar in place (mod 2^256). s + L is the same scalar, non-canonically.
inline void AddGroupOrder(std::span<uint8_t, 32> s) {
  static constexpr uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                     0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                     0,    0,    0,    0,    0,    0,    0,    0,
                                     0,    0,    0,    0,    0,    0,    0,    0x10};
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    carry += s[i] + kL[i];
    s[i] = static_cast<uint8_t>(carry);
    carry >>= 8;
  }
}

}  // namespace holdfast::crypto::test

#endif  // HOLDFAST_CRYPTO_SRC_TEST_UTIL_H_
