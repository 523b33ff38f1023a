#include <gtest/gtest.h>

#include <array>

#include "holdfast/common/clock.h"
#include "holdfast/common/rng.h"

namespace holdfast {
namespace {

TEST(DeterministicRng, SameSeedSameStreamDifferentSeedDifferentStream) {
  DeterministicRng a(42), b(42), c(43);
  std::array<uint8_t, 37> x{}, y{}, z{};
  a.Fill(x);
  b.Fill(y);
  c.Fill(z);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(Rng, UniformStaysInRangeAndCoversIt) {
  DeterministicRng rng(1);
  std::array<int, 7> seen{};
  for (int i = 0; i < 7000; ++i) {
    const uint64_t v = rng.Uniform(7);
    ASSERT_LT(v, 7u);
    ++seen[v];
  }
  for (int count : seen) {
    EXPECT_GT(count, 800);
  }
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(FromUnixMillis(1'000));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 1'000);
  clock.Advance(std::chrono::hours(24));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 1'000 + 86'400'000);
  clock.Set(FromUnixMillis(5));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 5);
}

TEST(SystemClock, IsAfter2020) {
  SystemClock clock;
  EXPECT_GT(ToUnixMillis(clock.Now()), 1'577'836'800'000);
}

}  // namespace
}  // namespace holdfast
