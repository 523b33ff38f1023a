// SystemRng: the operating system's secure random generator (libsodium randombytes).
#ifndef HOLDFAST_CRYPTO_RANDOM_H_
#define HOLDFAST_CRYPTO_RANDOM_H_

#include "holdfast/common/rng.h"

namespace holdfast::crypto {

// SystemRng draws from getrandom(2) through libsodium. Thread-safe; Fill never fails.
class SystemRng final : public Rng {
 public:
  SystemRng();
  void Fill(MutableByteSpan out) override;
};

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_RANDOM_H_
