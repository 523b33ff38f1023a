#include "holdfast/common/thread_name.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace holdfast {
namespace {

// NamedInNewThread names a new thread `name` and returns the name it then reads back.
std::string NamedInNewThread(const std::string& name) {
  std::string read_back;
  std::thread t([&] {
    NameThisThread(name);
    read_back = ThisThreadName();
  });
  t.join();
  return read_back;
}

TEST(ThreadNameTest, NamesTheCallingThreadOnly) {
  const std::string before = ThisThreadName();
  EXPECT_EQ(NamedInNewThread("hf-test"), "hf-test");
  EXPECT_EQ(ThisThreadName(), before);
}

TEST(ThreadNameTest, CutsLongNamesToFifteenBytes) {
  EXPECT_EQ(NamedInNewThread("hf-a-name-far-too-long-for-linux"), "hf-a-name-far-t");
}

}  // namespace
}  // namespace holdfast
