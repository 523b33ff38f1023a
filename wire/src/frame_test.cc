#include "holdfast/wire/frame.h"

#include <gtest/gtest.h>

#include <set>

namespace holdfast::wire {
namespace {

TEST(Frame, RoundTripsARequest) {
  pb::Frame f;
  f.mutable_request()->set_id(7);
  f.mutable_request()->mutable_register_()->set_phone("+14155550123");
  const Bytes bytes = EncodeFrame(f);
  auto back = DecodeFrame(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->version(), kProtocolVersion);
  EXPECT_EQ(back->request().id(), 7u);
  EXPECT_EQ(back->request().register_().phone(), "+14155550123");
}

TEST(Frame, RefusesOtherVersionsButNamesTheRequest) {
  pb::Frame f;
  f.mutable_request()->set_id(42);
  f.mutable_request()->mutable_server_info();
  Bytes bytes = EncodeFrame(f);
  f.set_version(2);
  bytes.resize(f.ByteSizeLong());
  f.SerializeToArray(bytes.data(), static_cast<int>(bytes.size()));
  uint64_t id = 0;
  EXPECT_EQ(DecodeFrame(bytes, &id).code(), ErrorCode::kUnsupportedVersion);
  EXPECT_EQ(id, 42u);
}

TEST(Frame, RefusesGarbageEmptyAndOversizedFrames) {
  EXPECT_EQ(DecodeFrame(Bytes{}).code(), ErrorCode::kMalformed);  // no kind
  EXPECT_EQ(DecodeFrame(Bytes{0xff, 0xff, 0xff}).code(), ErrorCode::kMalformed);
  EXPECT_EQ(DecodeFrame(Bytes(kMaxFrameBytes + 1, 0)).code(), ErrorCode::kOversized);
}

TEST(Frame, StatusNamesAreDistinct) {
  std::set<std::string_view> names;
  for (int s = pb::Status_MIN; s <= pb::Status_MAX; ++s) {
    ASSERT_TRUE(pb::Status_IsValid(s));
    EXPECT_TRUE(names.insert(StatusName(static_cast<pb::Status>(s))).second) << s;
  }
}

}  // namespace
}  // namespace holdfast::wire
