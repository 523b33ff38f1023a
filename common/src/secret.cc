// Wiping and constant-time comparison use libsodium's memory utilities. They are not
// cryptographic primitives, which stay in crypto/ (DESIGN.md "Layers").
#include "holdfast/common/secret.h"

#include <sodium/utils.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace holdfast {

void SecureWipe(MutableByteSpan bytes) {
  if (!bytes.empty()) {
    sodium_memzero(bytes.data(), bytes.size());
  }
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

SecretBytes::SecretBytes(size_t n) : data_(n ? new uint8_t[n]() : nullptr), size_(n) {}

SecretBytes::~SecretBytes() { Reset(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_) {
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

SecretBytes SecretBytes::Copy(ByteSpan bytes) {
  SecretBytes s(bytes.size());
  if (!bytes.empty()) {
    std::memcpy(s.data(), bytes.data(), bytes.size());
  }
  return s;
}

void SecretBytes::Shrink(size_t n) {
  if (n > size_) {
    std::fputs("holdfast: broken invariant: SecretBytes::Shrink grows\n", stderr);
    std::abort();
  }
  SecureWipe(mutable_span().subspan(n));
  size_ = n;
}

void SecretBytes::Reset() {
  SecureWipe(mutable_span());
  data_.reset();
  size_ = 0;
}

}  // namespace holdfast
