#include "holdfast/common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace holdfast {
namespace {

TEST(Utf8, DecodesEachLength) {
  char32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("A", 0, cp), 1u);
  EXPECT_EQ(cp, U'A');
  EXPECT_EQ(DecodeUtf8("\xC3\xB6", 0, cp), 2u);
  EXPECT_EQ(cp, U'\u00F6');
  EXPECT_EQ(DecodeUtf8("\xE2\x82\xAC", 0, cp), 3u);
  EXPECT_EQ(cp, U'\u20AC');
  EXPECT_EQ(DecodeUtf8("\xF0\x9F\x98\x80", 0, cp), 4u);
  EXPECT_EQ(cp, U'\U0001F600');
  EXPECT_EQ(DecodeUtf8("x\xC3\xB6", 1, cp), 2u);
}

TEST(Utf8, RefusesInvalidSequences) {
  char32_t cp = 0;
  for (const std::string bad : {"\x80", "\xC3", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80",
                                "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xE2\x82",
                                "\xC3\x28"}) {
    EXPECT_EQ(DecodeUtf8(bad, 0, cp), 0u) << bad.size();
    EXPECT_FALSE(IsValidUtf8(bad));
  }
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xB6 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("ok then \xFF"));
}

}  // namespace
}  // namespace holdfast
