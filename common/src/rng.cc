#include "holdfast/common/rng.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace holdfast {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t Rng::Uniform(uint64_t bound) {
  if (bound == 0) {
    std::fputs("holdfast: broken invariant: Rng::Uniform(0)\n", stderr);
    std::abort();
  }
  // Rejection sampling: drop draws from the incomplete top interval.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  for (;;) {
    uint64_t v = 0;
    Fill({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
    if (v < limit) {
      return v % bound;
    }
  }
}

DeterministicRng::DeterministicRng(uint64_t seed) {
  for (auto& word : s_) {
    word = SplitMix64(seed);
  }
}

uint64_t DeterministicRng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

void DeterministicRng::Fill(MutableByteSpan out) {
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t v = Next();
    const size_t n = std::min(sizeof(v), out.size() - i);
    std::memcpy(out.data() + i, &v, n);
    i += n;
  }
}

}  // namespace holdfast
