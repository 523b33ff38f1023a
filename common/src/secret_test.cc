#include "holdfast/common/secret.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace holdfast {
namespace {

static_assert(!std::is_copy_constructible_v<Secret<32>>);
static_assert(!std::is_copy_assignable_v<Secret<32>>);
static_assert(std::is_nothrow_move_constructible_v<Secret<32>>);
static_assert(!std::is_copy_constructible_v<SecretBytes>);
static_assert(!std::is_convertible_v<Secret<32>, ByteSpan>, "no implicit conversion");

TEST(Secret, MoveWipesTheSource) {
  auto s = Secret<4>::FromSpan(Bytes{1, 2, 3, 4});
  ASSERT_TRUE(s.ok());
  Secret<4> moved = std::move(*s);
  EXPECT_EQ(ToBytes(moved.span()), (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(ToBytes(s->span()), (Bytes{0, 0, 0, 0}));  // NOLINT(bugprone-use-after-move)
}

TEST(Secret, FromSpanChecksLength) {
  EXPECT_EQ(Secret<4>::FromSpan(Bytes{1, 2, 3}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Secret<4>::FromSpan(Bytes{1, 2, 3, 4, 5}).code(), ErrorCode::kInvalidArgument);
}

TEST(Secret, EqualsComparesContent) {
  auto a = *Secret<3>::FromSpan(Bytes{1, 2, 3});
  auto b = a.Clone();
  auto c = *Secret<3>::FromSpan(Bytes{1, 2, 4});
  EXPECT_TRUE(a.Equals(b));
  EXPECT_FALSE(a.Equals(c));
}

TEST(SecretBytes, CopyMoveShrink) {
  SecretBytes s = SecretBytes::Copy(Bytes{5, 6, 7, 8});
  EXPECT_EQ(s.size(), 4u);
  uint8_t* raw = s.data();
  s.Shrink(2);
  EXPECT_EQ(ToBytes(s.span()), (Bytes{5, 6}));
  EXPECT_EQ(raw[2], 0) << "shrunk bytes are wiped";
  EXPECT_EQ(raw[3], 0);
  SecretBytes t = std::move(s);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(t.Equals(SecretBytes::Copy(Bytes{5, 6})));
  EXPECT_FALSE(t.Equals(SecretBytes::Copy(Bytes{5, 6, 0})));
}

TEST(ConstantTimeEquals, HandlesLengthsAndEmpty) {
  EXPECT_TRUE(ConstantTimeEquals(ByteSpan{}, ByteSpan{}));
  EXPECT_FALSE(ConstantTimeEquals(Bytes{1}, Bytes{1, 2}));
  EXPECT_TRUE(ConstantTimeEquals(Bytes{1, 2}, Bytes{1, 2}));
  EXPECT_FALSE(ConstantTimeEquals(Bytes{1, 2}, Bytes{1, 3}));
}

}  // namespace
}  // namespace holdfast
