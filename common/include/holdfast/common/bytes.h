// Bytes, and the one bounds-checked reader and writer for untrusted input.
//
// ByteReader is the only way Holdfast code reads bytes that came from the network or disk.
// Every read checks the remaining length first and returns an error value instead of reading
// past the end; a failed read leaves the reader where it was.
#ifndef HOLDFAST_COMMON_BYTES_H_
#define HOLDFAST_COMMON_BYTES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "holdfast/common/result.h"

namespace holdfast {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

// AsBytes views the characters of `s` as bytes. The span borrows from `s`.
inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// ToBytes copies `s` into a new Bytes.
inline Bytes ToBytes(ByteSpan s) { return Bytes(s.begin(), s.end()); }

// kMaxVarintBytes is the longest encoding of a 64-bit base-128 varint.
inline constexpr size_t kMaxVarintBytes = 10;

// ByteReader reads from a span it does not own; the span must outlive the reader and every
// span it returns.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}

  size_t remaining() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  // Rest returns the unread bytes without consuming them.
  ByteSpan Rest() const { return data_; }

  Result<uint8_t> ReadU8();
  Result<uint16_t> ReadU16Be();
  Result<uint32_t> ReadU32Be();
  Result<uint64_t> ReadU64Be();
  Result<uint32_t> ReadU32Le();
  Result<uint64_t> ReadU64Le();
  // ReadVarint reads a protobuf-style base-128 varint. Encodings longer than
  // kMaxVarintBytes, overflowing 64 bits, or with redundant trailing zero groups are
  // malformed: each value has exactly one accepted encoding.
  Result<uint64_t> ReadVarint();
  // ReadBytes returns the next `n` bytes as a span into the input.
  Result<ByteSpan> ReadBytes(size_t n);
  // ReadArray copies the next N bytes.
  template <size_t N>
  Result<std::array<uint8_t, N>> ReadArray() {
    auto bytes = ReadBytes(N);
    if (!bytes.ok()) {
      return bytes.error();
    }
    std::array<uint8_t, N> out;
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
  }
  // ReadPrefixed8/16/32 read a big-endian length prefix, then that many bytes. The length
  // must fit in what remains.
  Result<ByteSpan> ReadPrefixed8();
  Result<ByteSpan> ReadPrefixed16();
  Result<ByteSpan> ReadPrefixed32();
  // Skip drops `n` bytes.
  Result<void> Skip(size_t n);
  // ExpectEnd fails with kTrailingData unless every byte was consumed.
  Result<void> ExpectEnd() const;

 private:
  ByteSpan data_;
};

// ByteWriter appends to a Bytes buffer it owns. Writes cannot fail except through the length
// prefix limits, which are reported as kOversized.
class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(size_t reserve) { out_.reserve(reserve); }

  void WriteU8(uint8_t v) { out_.push_back(v); }
  void WriteU16Be(uint16_t v);
  void WriteU32Be(uint32_t v);
  void WriteU64Be(uint64_t v);
  void WriteU32Le(uint32_t v);
  void WriteU64Le(uint64_t v);
  void WriteVarint(uint64_t v);
  void WriteBytes(ByteSpan bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  [[nodiscard]] Result<void> WritePrefixed8(ByteSpan bytes);
  [[nodiscard]] Result<void> WritePrefixed16(ByteSpan bytes);
  [[nodiscard]] Result<void> WritePrefixed32(ByteSpan bytes);

  size_t size() const { return out_.size(); }
  ByteSpan view() const { return out_; }
  // Take moves the written bytes out; the writer is empty afterwards.
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

}  // namespace holdfast

#endif  // HOLDFAST_COMMON_BYTES_H_
