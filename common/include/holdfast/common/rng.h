// Rng: the source of randomness that every Holdfast component takes from its caller.
//
// Production code passes crypto::SystemRng (libsodium's randombytes). Tests pass
// DeterministicRng so that runs repeat exactly.
#ifndef HOLDFAST_COMMON_RNG_H_
#define HOLDFAST_COMMON_RNG_H_

#include <array>
#include <cstdint>

#include "holdfast/common/bytes.h"

namespace holdfast {

class Rng {
 public:
  virtual ~Rng() = default;
  // Fill overwrites every byte of `out` with random bytes. It cannot fail: an implementation
  // that cannot produce randomness aborts rather than return predictable bytes.
  virtual void Fill(MutableByteSpan out) = 0;

  // Uniform returns a value in [0, bound) without modulo bias. `bound` must be non-zero.
  uint64_t Uniform(uint64_t bound);
};

// DeterministicRng is a seeded, reproducible generator (xoshiro256** seeded by SplitMix64).
// It is NOT cryptographically secure and exists only for tests and benchmarks.
class DeterministicRng final : public Rng {
 public:
  explicit DeterministicRng(uint64_t seed);
  void Fill(MutableByteSpan out) override;
  uint64_t Next();

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_RNG_H_
