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

TEST(Utf8, RepairsAndCutsWithoutSplittingACodePoint) {
  EXPECT_EQ(ToValidUtf8("plain"), "plain");
  EXPECT_EQ(ToValidUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ToValidUtf8("\xC3"), "\xEF\xBF\xBD");
  // "é" is two bytes: a cut after 2 bytes keeps "a" and drops the half character.
  EXPECT_EQ(ToValidUtf8("a\xC3\xA9z", 2), "a");
  EXPECT_EQ(ToValidUtf8("a\xC3\xA9z", 3), "a\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 7), "\xF0\x9F\x98\x80");
  for (size_t cut = 0; cut < 12; ++cut) {
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8("x\xE2\x82\xAC\xFFy\xC3\xB6\xE2\x82", cut))) << cut;
  }
  std::string out;
  AppendUtf8(U'\U0001F600', out);
  AppendUtf8(U'\u00f6', out);
  EXPECT_EQ(out, "\xF0\x9F\x98\x80\xC3\xB6");
}

TEST(Utf8, TerminalControlsAreNamed) {
  for (char32_t c : {U'\x1b', U'\n', U'\x7f', U'\x9b', U'\u202e', U'\u2066', U'\u200f'}) {
    EXPECT_TRUE(IsTerminalControl(c)) << static_cast<uint32_t>(c);
  }
  for (char32_t c : {U'a', U' ', U'\u00e9', U'\u4e2d', U'\U0001F600'}) {
    EXPECT_FALSE(IsTerminalControl(c)) << static_cast<uint32_t>(c);
  }
}

}  // namespace
}  // namespace holdfast
