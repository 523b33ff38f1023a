#include "holdfast/common/phone.h"

#include <gtest/gtest.h>

namespace holdfast {
namespace {

TEST(IsE164, AcceptsInternationalNumbers) {
  EXPECT_TRUE(IsE164("+14155550123"));
  EXPECT_TRUE(IsE164("+4930123456"));
  EXPECT_TRUE(IsE164("+12345678"));          // 8 digits
  EXPECT_TRUE(IsE164("+123456789012345"));   // 15 digits
}

TEST(IsE164, RefusesEverythingElse) {
  for (const char* bad : {"", "+", "14155550123", "+1234567", "+1234567890123456", "+04155550123",
                          "+1 415 555 0123", "+1415555012a", "++14155550123", "+1415555\n0123",
                          "+١٤١٥٥٥٥٠١٢٣"}) {
    EXPECT_FALSE(IsE164(bad)) << bad;
  }
}

}  // namespace
}  // namespace holdfast
