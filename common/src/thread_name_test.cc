#include "holdfast/common/thread_name.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace holdfast {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = ThisThreadName();
  std::string inside;
  std::thread t([&] {
    NameThisThread("hf-test");
    inside = ThisThreadName();
  });
  t.join();
  EXPECT_EQ(inside, "hf-test");
  EXPECT_EQ(ThisThreadName(), before);
}

TEST(ThreadNameTest, CutsLongNamesToFifteenBytes) {
  std::string inside;
  std::thread t([&] {
    NameThisThread("hf-a-name-far-too-long-for-linux");
    inside = ThisThreadName();
  });
  t.join();
  EXPECT_EQ(inside, "hf-a-name-far-t");
}

}  // namespace
}  // namespace holdfast
