#include "holdfast/common/bytes.h"

#include <gtest/gtest.h>

namespace holdfast {
namespace {

TEST(ByteReader, ReadsIntegersInBothByteOrders) {
  const Bytes data = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                      0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  ByteReader r(data);
  EXPECT_EQ(*r.ReadU8(), 0x01);
  EXPECT_EQ(*r.ReadU16Be(), 0x0203);
  EXPECT_EQ(*r.ReadU32Be(), 0x04050607u);
  EXPECT_EQ(*r.ReadU32Le(), 0x0b0a0908u);
  EXPECT_EQ(r.remaining(), 4u);
  EXPECT_EQ(r.ReadU64Be().code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.remaining(), 4u) << "a failed read must not consume";
  EXPECT_EQ(*r.ReadU32Be(), 0x0c0d0e0fu);
  EXPECT_TRUE(r.ExpectEnd().ok());
}

TEST(ByteReader, U64RoundTrip) {
  ByteWriter w;
  w.WriteU64Be(0x0102030405060708ULL);
  w.WriteU64Le(0x0102030405060708ULL);
  ByteReader r(w.view());
  EXPECT_EQ(*r.ReadU64Be(), 0x0102030405060708ULL);
  EXPECT_EQ(*r.ReadU64Le(), 0x0102030405060708ULL);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReader, EmptyInputFailsEveryRead) {
  ByteReader r(ByteSpan{});
  EXPECT_EQ(r.ReadU8().code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.ReadVarint().code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.ReadBytes(1).code(), ErrorCode::kTruncated);
  EXPECT_TRUE(r.ReadBytes(0).ok());
  EXPECT_EQ(r.Skip(1).code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.ReadPrefixed8().code(), ErrorCode::kTruncated);
}

TEST(ByteReader, ReadBytesHugeLengthDoesNotOverflow) {
  const Bytes data = {1, 2, 3};
  ByteReader r(data);
  EXPECT_EQ(r.ReadBytes(SIZE_MAX).code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.remaining(), 3u);
}

TEST(ByteReader, PrefixedReadsAreAtomic) {
  // Length 5 but only 3 bytes follow: the reader must stay before the prefix.
  const Bytes data = {0x00, 0x05, 0xaa, 0xbb, 0xcc};
  ByteReader r(data);
  EXPECT_EQ(r.ReadPrefixed16().code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.remaining(), 5u);
  EXPECT_EQ(*r.ReadU16Be(), 5);
}

TEST(ByteReader, PrefixedRoundTrip) {
  const Bytes payload = {9, 8, 7};
  ByteWriter w;
  ASSERT_TRUE(w.WritePrefixed8(payload).ok());
  ASSERT_TRUE(w.WritePrefixed16(payload).ok());
  ASSERT_TRUE(w.WritePrefixed32(payload).ok());
  ByteReader r(w.view());
  for (auto read :
       {&ByteReader::ReadPrefixed8, &ByteReader::ReadPrefixed16, &ByteReader::ReadPrefixed32}) {
    auto got = (r.*read)();
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(ToBytes(*got), payload);
  }
  EXPECT_TRUE(r.empty());
}

TEST(ByteWriter, PrefixLimitsAreEnforced) {
  const Bytes big(256, 0);
  ByteWriter w;
  EXPECT_EQ(w.WritePrefixed8(big).code(), ErrorCode::kOversized);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_TRUE(w.WritePrefixed16(big).ok());
}

TEST(ByteReader, TrailingDataIsReported) {
  const Bytes data = {1, 2};
  ByteReader r(data);
  ASSERT_TRUE(r.ReadU8().ok());
  EXPECT_EQ(r.ExpectEnd().code(), ErrorCode::kTrailingData);
}

TEST(Varint, RoundTripsBoundaryValues) {
  for (uint64_t v : std::initializer_list<uint64_t>{0ULL, 1ULL, 127ULL, 128ULL, 300ULL, 16383ULL,
                                                    16384ULL, (1ULL << 32) - 1, 1ULL << 32,
                                                    (1ULL << 63) - 1, 1ULL << 63, UINT64_MAX}) {
    ByteWriter w;
    w.WriteVarint(v);
    ByteReader r(w.view());
    auto got = r.ReadVarint();
    ASSERT_TRUE(got.ok()) << v;
    EXPECT_EQ(*got, v);
    EXPECT_TRUE(r.empty());
  }
}

TEST(Varint, KnownEncodings) {
  ByteWriter w;
  w.WriteVarint(300);
  EXPECT_EQ(ToBytes(w.view()), (Bytes{0xac, 0x02}));
}

TEST(Varint, RejectsNonMinimalOverlongAndOverflowingEncodings) {
  const Bytes non_minimal = {0x81, 0x00};
  EXPECT_EQ(ByteReader(non_minimal).ReadVarint().code(), ErrorCode::kMalformed);
  const Bytes overflow = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  EXPECT_EQ(ByteReader(overflow).ReadVarint().code(), ErrorCode::kMalformed);
  const Bytes too_long = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  EXPECT_EQ(ByteReader(too_long).ReadVarint().code(), ErrorCode::kMalformed);
  const Bytes truncated = {0x80, 0x80};
  ByteReader r(truncated);
  EXPECT_EQ(r.ReadVarint().code(), ErrorCode::kTruncated);
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(ByteReader, ReadArrayCopies) {
  const Bytes data = {1, 2, 3, 4};
  ByteReader r(data);
  auto a = r.ReadArray<3>();
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)[2], 3);
  EXPECT_EQ(r.ReadArray<2>().code(), ErrorCode::kTruncated);
}

}  // namespace
}  // namespace holdfast
