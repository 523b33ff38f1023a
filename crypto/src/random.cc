#include "holdfast/crypto/random.h"

#include <sodium/randombytes.h>

#include "internal.h"

namespace holdfast::crypto {

SystemRng::SystemRng() { internal::EnsureSodium(); }

void SystemRng::Fill(MutableByteSpan out) {
  if (!out.empty()) {
    randombytes_buf(out.data(), out.size());
  }
}

}  // namespace holdfast::crypto
