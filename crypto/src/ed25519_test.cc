#include "holdfast/crypto/ed25519.h"

#include <gtest/gtest.h>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"
#include "test_util.h"

namespace holdfast::crypto {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

TEST(Ed25519, Rfc8032Vectors) {
  ForEachKat("crypto/testdata/ed25519.txt", [](const KatBlock& t) {
    auto key = Ed25519PrivateKey::FromSeed(t.GetBytes("SecretKey"));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(HexEncode(key->PublicKey().bytes()), HexEncode(t.GetBytes("PublicKey")));
    const Bytes msg = t.GetBytes("Message");
    const auto sig = key->Sign(msg);
    EXPECT_EQ(HexEncode(sig), HexEncode(t.GetBytes("Signature")));
    auto pub = Ed25519PublicKey::FromBytes(t.GetBytes("PublicKey"));
    ASSERT_TRUE(pub.ok());
    EXPECT_TRUE(Ed25519Verify(*pub, msg, sig).ok());
  });
}

TEST(Ed25519, DefaultKeyVerifiesNothing) {
  // The all-zero encoding is a point of small order. With A and R of small order and s = 0,
  // the verification equation holds for every message: libsodium must refuse the key.
  const Ed25519PublicKey unset;
  std::array<uint8_t, kEd25519SignatureBytes> forged{};
  forged[0] = 1;  // R = the identity point (y = 1)
  const Bytes msg = {'o', 'r', 'd', 'e', 'r'};
  EXPECT_EQ(Ed25519Verify(unset, msg, forged).code(), ErrorCode::kAuthenticationFailed);
  DeterministicRng rng(7);
  const auto key = Ed25519PrivateKey::Generate(rng);
  EXPECT_EQ(Ed25519Verify(unset, msg, key.Sign(msg)).code(), ErrorCode::kAuthenticationFailed);
}

TEST(Ed25519, AnyFlippedBitFails) {
  DeterministicRng rng(31);
  const auto key = Ed25519PrivateKey::Generate(rng);
  const Bytes msg = {'h', 'o', 'l', 'd'};
  const auto sig = key.Sign(msg);
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    auto bad = sig;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(Ed25519Verify(key.PublicKey(), msg, bad).code(), ErrorCode::kAuthenticationFailed);
  }
  Bytes bad_msg = msg;
  bad_msg[0] ^= 1;
  EXPECT_FALSE(Ed25519Verify(key.PublicKey(), bad_msg, sig).ok());
  EXPECT_FALSE(Ed25519Verify(key.PublicKey(), msg, ByteSpan(sig).first(63)).ok());
}

TEST(Ed25519, NonCanonicalScalarIsRefused) {
  DeterministicRng rng(32);
  const auto key = Ed25519PrivateKey::Generate(rng);
  const Bytes msg = {1};
  auto sig = key.Sign(msg);
  // s + L encodes the same scalar but is not canonical.
  test::AddGroupOrder(std::span(sig).subspan<32, 32>());
  EXPECT_EQ(Ed25519Verify(key.PublicKey(), msg, sig).code(), ErrorCode::kAuthenticationFailed);
}

TEST(Ed25519, SeedRoundTrip) {
  DeterministicRng rng(33);
  const auto key = Ed25519PrivateKey::Generate(rng);
  auto again = Ed25519PrivateKey::FromSeed(key.Seed());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->PublicKey(), key.PublicKey());
  EXPECT_EQ(Ed25519PrivateKey::FromSeed(Bytes(31)).code(), ErrorCode::kInvalidKey);
  EXPECT_EQ(Ed25519PublicKey::FromBytes(Bytes(33)).code(), ErrorCode::kInvalidKey);
}

}  // namespace
}  // namespace holdfast::crypto
