#include "holdfast/crypto/pwhash.h"

#include <gtest/gtest.h>

#include "holdfast/common/encoding.h"
#include "holdfast/testing/kat.h"

namespace holdfast::crypto {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

constexpr Argon2idParams kCheap{1, 8 << 10};

TEST(Argon2id, IndependentImplementationVectors) {
  ForEachKat("crypto/testdata/argon2id.txt", [](const KatBlock& t) {
    const Bytes want = t.GetBytes("Output");
    const Argon2idParams params{t.Number("Passes"), t.Number("MemoryKiB") << 10};
    auto out = Argon2id(t.GetBytes("Passphrase"), t.GetBytes("Salt"), params, want.size());
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(HexEncode(out->span()), HexEncode(want));
  });
}

TEST(Argon2id, SaltAndPassphraseMatter) {
  const Bytes salt(16, 1), other_salt(16, 2);
  const auto a = *Argon2id(AsBytes("pass"), salt, kCheap, 32);
  EXPECT_TRUE(a.Equals(*Argon2id(AsBytes("pass"), salt, kCheap, 32)));
  EXPECT_FALSE(a.Equals(*Argon2id(AsBytes("pass"), other_salt, kCheap, 32)));
  EXPECT_FALSE(a.Equals(*Argon2id(AsBytes("pasS"), salt, kCheap, 32)));
}

TEST(Argon2id, RefusesBadParameters) {
  const Bytes salt(16, 1);
  EXPECT_EQ(Argon2id({}, Bytes(15), kCheap, 32).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Argon2id({}, salt, kCheap, 15).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Argon2id({}, salt, {0, 8 << 10}, 32).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Argon2id({}, salt, {1, 4 << 10}, 32).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace holdfast::crypto
