#include "content.h"

#include <gtest/gtest.h>

#include <string>

namespace holdfast::load {
namespace {

ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(ContentTest, TheHeaderComesBackAsItWasMadeAndTheFillerIsRandom) {
  DeterministicRng rng(7);
  const ContentHeader h{0x01020304, 17, 4242, 1'000'000'123, 1'000'900'456};
  const std::string a = MakeContent(h, 100, rng);
  const std::string b = MakeContent(h, 100, rng);
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(a.substr(0, kContentHeaderBytes), b.substr(0, kContentHeaderBytes));
  EXPECT_NE(a.substr(kContentHeaderBytes), b.substr(kContentHeaderBytes));
  const auto parsed = ParseContent(Span(a));
  ASSERT_TRUE(parsed.ok()) << ErrorText(parsed.error());
  EXPECT_EQ(parsed->run, h.run);
  EXPECT_EQ(parsed->pair, h.pair);
  EXPECT_EQ(parsed->seq, h.seq);
  EXPECT_EQ(parsed->due_ns, h.due_ns);
  EXPECT_EQ(parsed->sent_ns, h.sent_ns);
}

TEST(ContentTest, ABodySmallerThanTheHeaderStillHoldsTheWholeHeader) {
  DeterministicRng rng(1);
  const std::string c = MakeContent(ContentHeader{1, 2, 3, 4, 5}, 3, rng);
  EXPECT_EQ(c.size(), kContentHeaderBytes);
  const auto parsed = ParseContent(Span(c));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->sent_ns, 5u);
}

TEST(ContentTest, ShortOrForeignContentIsRefused) {
  DeterministicRng rng(2);
  const std::string c = MakeContent(ContentHeader{1, 2, 3, 4, 5}, 40, rng);
  for (size_t n = 0; n < kContentHeaderBytes; ++n) {
    const auto parsed = ParseContent(Span(c.substr(0, n)));
    EXPECT_FALSE(parsed.ok()) << n;
  }
  std::string foreign = c;
  foreign[3] = static_cast<char>(foreign[3] ^ 1);  // "hfL2" becomes another magic
  const auto parsed = ParseContent(Span(foreign));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.code(), ErrorCode::kMalformed);  // "hfL3" is not the previous layout
}

TEST(ContentTest, ContentOfTheEarlierLayoutIsRecognised) {
  const std::string previous = std::string("hfL1") + std::string(kContentHeaderBytes, '\0');
  const auto parsed = ParseContent(Span(previous));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.code(), ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(ParseContent(Span(previous.substr(0, 3))).code(), ErrorCode::kTruncated);
}

}  // namespace
}  // namespace holdfast::load
