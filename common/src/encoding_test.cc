#include "holdfast/common/encoding.h"

#include <gtest/gtest.h>

#include "holdfast/common/rng.h"

namespace holdfast {
namespace {

TEST(Hex, EncodesLowerCase) { EXPECT_EQ(HexEncode(Bytes{0x00, 0xab, 0xff}), "00abff"); }

TEST(Hex, DecodeRoundTripAndRejects) {
  EXPECT_EQ(*HexDecode("00abFF"), (Bytes{0x00, 0xab, 0xff}));
  EXPECT_TRUE(HexDecode("")->empty());
  EXPECT_EQ(HexDecode("abc").code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(HexDecode("zz").code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(HexDecode("ab cd").code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(HexDecode("ab\n").code(), ErrorCode::kInvalidEncoding);
}

// RFC 4648 section 10 test vectors.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, ToBytes(AsBytes(plain)));
  }
}

TEST(Base64, VariantsDiffer) {
  const Bytes b = {0xfb, 0xff};
  EXPECT_EQ(Base64Encode(b), "+/8=");
  EXPECT_EQ(Base64Encode(b, Base64Variant::kStandardRaw), "+/8");
  EXPECT_EQ(Base64Encode(b, Base64Variant::kUrlSafe), "-_8=");
  EXPECT_EQ(Base64Encode(b, Base64Variant::kUrlSafeRaw), "-_8");
  EXPECT_EQ(*Base64Decode("-_8", Base64Variant::kUrlSafeRaw), b);
  EXPECT_EQ(Base64Decode("-_8=").code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(Base64Decode("+/8=", Base64Variant::kUrlSafe).code(), ErrorCode::kInvalidEncoding);
}

TEST(Base64, RejectsNonCanonicalText) {
  EXPECT_EQ(Base64Decode("Zg").code(), ErrorCode::kInvalidEncoding) << "missing padding";
  EXPECT_EQ(Base64Decode("Zg===").code(), ErrorCode::kInvalidEncoding) << "extra padding";
  EXPECT_EQ(Base64Decode("Zh==").code(), ErrorCode::kInvalidEncoding) << "non-zero unused bits";
  EXPECT_EQ(Base64Decode("Zm9v\n").code(), ErrorCode::kInvalidEncoding) << "whitespace";
  EXPECT_EQ(Base64Decode("Zm 9v").code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(Base64Decode("Zm9v=").code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(Base64Decode("Zg==Zg==").code(), ErrorCode::kInvalidEncoding) << "padding mid-text";
  EXPECT_EQ(Base64Decode("Zg==", Base64Variant::kStandardRaw).code(), ErrorCode::kInvalidEncoding);
  EXPECT_EQ(Base64Decode("Z", Base64Variant::kStandardRaw).code(), ErrorCode::kInvalidEncoding);
}

TEST(Base64, RejectsBytesAboveAscii) {
  // Found by fuzz_encoding: libsodium 1.0.18 decodes 0xde as '/' because it reads a signed char.
  for (auto v : {Base64Variant::kStandard, Base64Variant::kStandardRaw, Base64Variant::kUrlSafe,
                 Base64Variant::kUrlSafeRaw}) {
    EXPECT_EQ(Base64Decode("00a\xde"
                           "bF0",
                           v)
                  .code(),
              ErrorCode::kInvalidEncoding);
    for (int c = 0x80; c <= 0xff; ++c) {
      const std::string text = std::string("Zm9") + static_cast<char>(c);
      EXPECT_EQ(Base64Decode(text, v).code(), ErrorCode::kInvalidEncoding) << c;
    }
  }
  for (int c = 0x80; c <= 0xff; ++c) {
    EXPECT_EQ(HexDecode(std::string("a") + static_cast<char>(c)).code(),
              ErrorCode::kInvalidEncoding);
  }
}

TEST(ParseDecimal, AcceptsOnlyCanonicalU64) {
  EXPECT_EQ(*ParseDecimal("0"), 0u);
  EXPECT_EQ(*ParseDecimal("1234"), 1234u);
  EXPECT_EQ(*ParseDecimal("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "01", "00", "+1", "-1", " 1", "1 ", "1a", "18446744073709551616",
                          "99999999999999999999"}) {
    EXPECT_EQ(ParseDecimal(bad).code(), ErrorCode::kMalformed) << bad;
  }
}

TEST(Base64, RandomRoundTrips) {
  DeterministicRng rng(7);
  for (size_t len = 0; len < 200; ++len) {
    Bytes b(len);
    rng.Fill(b);
    for (auto v : {Base64Variant::kStandard, Base64Variant::kStandardRaw, Base64Variant::kUrlSafe,
                   Base64Variant::kUrlSafeRaw}) {
      auto decoded = Base64Decode(Base64Encode(b, v), v);
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(*decoded, b);
    }
    EXPECT_EQ(*HexDecode(HexEncode(b)), b);
  }
}

}  // namespace
}  // namespace holdfast
