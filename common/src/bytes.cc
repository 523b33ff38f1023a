#include "holdfast/common/bytes.h"

#include <limits>

namespace holdfast {
namespace {

template <typename T>
Result<T> ReadBigEndian(ByteReader& r) {
  auto bytes = r.ReadBytes(sizeof(T));
  if (!bytes.ok()) {
    return bytes.error();
  }
  T v = 0;
  for (uint8_t b : *bytes) {
    v = static_cast<T>((v << 8) | b);
  }
  return v;
}

template <typename T>
Result<T> ReadLittleEndian(ByteReader& r) {
  auto bytes = r.ReadBytes(sizeof(T));
  if (!bytes.ok()) {
    return bytes.error();
  }
  T v = 0;
  for (size_t i = sizeof(T); i > 0; --i) {
    v = static_cast<T>((v << 8) | (*bytes)[i - 1]);
  }
  return v;
}

template <typename T>
void WriteBigEndian(Bytes& out, T v) {
  for (size_t i = sizeof(T); i > 0; --i) {
    out.push_back(static_cast<uint8_t>(v >> (8 * (i - 1))));
  }
}

template <typename T>
void WriteLittleEndian(Bytes& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}

}  // namespace

Result<uint8_t> ByteReader::ReadU8() {
  if (data_.empty()) {
    return Error{ErrorCode::kTruncated, "u8"};
  }
  uint8_t v = data_[0];
  data_ = data_.subspan(1);
  return v;
}

Result<uint16_t> ByteReader::ReadU16Be() { return ReadBigEndian<uint16_t>(*this); }
Result<uint32_t> ByteReader::ReadU32Be() { return ReadBigEndian<uint32_t>(*this); }
Result<uint64_t> ByteReader::ReadU64Be() { return ReadBigEndian<uint64_t>(*this); }
Result<uint32_t> ByteReader::ReadU32Le() { return ReadLittleEndian<uint32_t>(*this); }
Result<uint64_t> ByteReader::ReadU64Le() { return ReadLittleEndian<uint64_t>(*this); }

Result<uint64_t> ByteReader::ReadVarint() {
  uint64_t value = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (i >= data_.size()) {
      return Error{ErrorCode::kTruncated, "varint"};
    }
    const uint8_t b = data_[i];
    const uint64_t group = b & 0x7f;
    // The tenth byte may carry only the top bit of a 64-bit value.
    if (i == kMaxVarintBytes - 1 && b > 1) {
      return Error{ErrorCode::kMalformed, "varint overflow"};
    }
    value |= group << (7 * i);
    if ((b & 0x80) == 0) {
      // A final zero group after the first byte is a redundant (non-minimal) encoding.
      if (i > 0 && b == 0) {
        return Error{ErrorCode::kMalformed, "non-minimal varint"};
      }
      data_ = data_.subspan(i + 1);
      return value;
    }
  }
  return Error{ErrorCode::kMalformed, "varint too long"};
}

Result<ByteSpan> ByteReader::ReadBytes(size_t n) {
  if (n > data_.size()) {
    return Error{ErrorCode::kTruncated, "bytes"};
  }
  ByteSpan out = data_.first(n);
  data_ = data_.subspan(n);
  return out;
}

Result<ByteSpan> ByteReader::ReadPrefixed8() {
  ByteReader copy = *this;
  auto n = copy.ReadU8();
  if (!n.ok()) {
    return n.error();
  }
  auto out = copy.ReadBytes(*n);
  if (!out.ok()) {
    return out.error();
  }
  *this = copy;
  return out;
}

Result<ByteSpan> ByteReader::ReadPrefixed16() {
  ByteReader copy = *this;
  auto n = copy.ReadU16Be();
  if (!n.ok()) {
    return n.error();
  }
  auto out = copy.ReadBytes(*n);
  if (!out.ok()) {
    return out.error();
  }
  *this = copy;
  return out;
}

Result<ByteSpan> ByteReader::ReadPrefixed32() {
  ByteReader copy = *this;
  auto n = copy.ReadU32Be();
  if (!n.ok()) {
    return n.error();
  }
  auto out = copy.ReadBytes(*n);
  if (!out.ok()) {
    return out.error();
  }
  *this = copy;
  return out;
}

Result<void> ByteReader::Skip(size_t n) {
  if (n > data_.size()) {
    return Error{ErrorCode::kTruncated, "skip"};
  }
  data_ = data_.subspan(n);
  return Ok();
}

Result<void> ByteReader::ExpectEnd() const {
  if (!data_.empty()) {
    return Error{ErrorCode::kTrailingData};
  }
  return Ok();
}

void ByteWriter::WriteU16Be(uint16_t v) { WriteBigEndian(out_, v); }
void ByteWriter::WriteU32Be(uint32_t v) { WriteBigEndian(out_, v); }
void ByteWriter::WriteU64Be(uint64_t v) { WriteBigEndian(out_, v); }
void ByteWriter::WriteU32Le(uint32_t v) { WriteLittleEndian(out_, v); }
void ByteWriter::WriteU64Le(uint64_t v) { WriteLittleEndian(out_, v); }

void ByteWriter::WriteVarint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(v));
}

Result<void> ByteWriter::WritePrefixed8(ByteSpan bytes) {
  if (bytes.size() > std::numeric_limits<uint8_t>::max()) {
    return Error{ErrorCode::kOversized, "u8 prefix"};
  }
  WriteU8(static_cast<uint8_t>(bytes.size()));
  WriteBytes(bytes);
  return Ok();
}

Result<void> ByteWriter::WritePrefixed16(ByteSpan bytes) {
  if (bytes.size() > std::numeric_limits<uint16_t>::max()) {
    return Error{ErrorCode::kOversized, "u16 prefix"};
  }
  WriteU16Be(static_cast<uint16_t>(bytes.size()));
  WriteBytes(bytes);
  return Ok();
}

Result<void> ByteWriter::WritePrefixed32(ByteSpan bytes) {
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    return Error{ErrorCode::kOversized, "u32 prefix"};
  }
  WriteU32Be(static_cast<uint32_t>(bytes.size()));
  WriteBytes(bytes);
  return Ok();
}

}  // namespace holdfast
