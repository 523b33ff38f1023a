// Secret<N> and SecretBytes: the only types that hold key material.
//
// Both are move-only, wipe their storage when destroyed or moved from, compare in constant
// time and have no stream operator, so a key cannot be printed or copied by accident. Their
// storage never grows, so no unwiped copy is left behind by a reallocation.
#ifndef HOLDFAST_COMMON_SECRET_H_
#define HOLDFAST_COMMON_SECRET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "holdfast/common/bytes.h"

namespace holdfast {

// SecureWipe overwrites `bytes` with zeros in a way the compiler cannot elide.
void SecureWipe(MutableByteSpan bytes);

// ConstantTimeEquals compares two spans in time that depends only on their lengths. Spans of
// different lengths are unequal (lengths are not treated as secret).
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

// Secret<N> is N bytes of key material.
template <size_t N>
class Secret {
 public:
  static constexpr size_t kSize = N;

  // A new Secret is all zeros.
  Secret() { bytes_.fill(0); }
  ~Secret() { SecureWipe(bytes_); }

  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept : bytes_(other.bytes_) { SecureWipe(other.bytes_); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      bytes_ = other.bytes_;
      SecureWipe(other.bytes_);
    }
    return *this;
  }

  // FromSpan copies exactly N bytes; any other length is kInvalidArgument.
  static Result<Secret> FromSpan(ByteSpan bytes) {
    if (bytes.size() != N) {
      return Error{ErrorCode::kInvalidArgument, "secret length"};
    }
    Secret s;
    std::copy(bytes.begin(), bytes.end(), s.bytes_.begin());
    return s;
  }

  // Clone makes an explicit copy; copying a secret is never implicit.
  Secret Clone() const {
    Secret s;
    s.bytes_ = bytes_;
    return s;
  }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return N; }
  ByteSpan span() const { return bytes_; }
  MutableByteSpan mutable_span() { return bytes_; }

  // Equals compares in constant time.
  bool Equals(const Secret& other) const { return ConstantTimeEquals(span(), other.span()); }

 private:
  std::array<uint8_t, N> bytes_;
};

// SecretBytes is a secret whose length is fixed when it is made (a plaintext, a derived key
// of a chosen length). It never reallocates.
class SecretBytes {
 public:
  SecretBytes() = default;
  // SecretBytes(n) holds n zero bytes.
  explicit SecretBytes(size_t n);
  ~SecretBytes();

  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;

  // Copy makes a SecretBytes holding a copy of `bytes`.
  static SecretBytes Copy(ByteSpan bytes);

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ByteSpan span() const { return {data_.get(), size_}; }
  MutableByteSpan mutable_span() { return {data_.get(), size_}; }

  // Shrink drops bytes past `n` (wiping them). `n` larger than size() is a broken invariant.
  void Shrink(size_t n);

  bool Equals(const SecretBytes& other) const { return ConstantTimeEquals(span(), other.span()); }

 private:
  void Reset();

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_SECRET_H_
