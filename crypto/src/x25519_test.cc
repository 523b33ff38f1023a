#include "holdfast/crypto/x25519.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"

namespace holdfast::crypto {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

TEST(X25519, Rfc7748ScalarMultVectors) {
  ForEachKat("crypto/testdata/x25519.txt", [](const KatBlock& t) {
    auto out = X25519(t.GetBytes("Scalar"), t.GetBytes("UCoordinate"));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(HexEncode(*out), HexEncode(t.GetBytes("Output")));
  });
}

TEST(X25519, Rfc7748IteratedVectors) {
  ForEachKat("crypto/testdata/x25519_iterated.txt", [](const KatBlock& t) {
    std::array<uint8_t, 32> k{}, u{};
    k[0] = u[0] = 9;
    for (uint64_t i = 0; i < t.Number("Iterations"); ++i) {
      auto next = X25519(k, u);
      ASSERT_TRUE(next.ok());
      u = k;
      k = *next;
    }
    EXPECT_EQ(HexEncode(k), HexEncode(t.GetBytes("Output")));
  });
}

TEST(X25519, Rfc7748DiffieHellman) {
  ForEachKat("crypto/testdata/x25519_dh.txt", [](const KatBlock& t) {
    auto alice =
        X25519KeyPair::FromPrivate(*X25519PrivateKey::FromBytes(t.GetBytes("AlicePrivate")));
    auto bob = X25519KeyPair::FromPrivate(*X25519PrivateKey::FromBytes(t.GetBytes("BobPrivate")));
    EXPECT_EQ(HexEncode(alice.public_key.raw()), HexEncode(t.GetBytes("AlicePublic")));
    EXPECT_EQ(HexEncode(bob.public_key.raw()), HexEncode(t.GetBytes("BobPublic")));
    auto ab = X25519Agree(alice.private_key, bob.public_key);
    auto ba = X25519Agree(bob.private_key, alice.public_key);
    ASSERT_TRUE(ab.ok());
    ASSERT_TRUE(ba.ok());
    EXPECT_EQ(HexEncode(ab->span()), HexEncode(t.GetBytes("Shared")));
    EXPECT_TRUE(ab->Equals(*ba));
  });
}

// Public keys are computed on the Edwards curve (x25519.cc); they must equal the Montgomery
// ladder's X25519(k, 9) for every scalar, including the extremes clamping allows.
TEST(X25519PrivateKey, PublicKeyEqualsLadderFromBasePoint) {
  DeterministicRng rng(21);
  std::array<uint8_t, kX25519KeyBytes> base{9};
  std::vector<Bytes> scalars = {Bytes(32, 0x00), Bytes(32, 0xff), Bytes(32, 0x55)};
  for (int i = 0; i < 500; ++i) {
    Bytes k(32);
    rng.Fill(k);
    scalars.push_back(k);
  }
  for (const Bytes& k : scalars) {
    auto key = X25519PrivateKey::FromBytes(k);
    ASSERT_TRUE(key.ok());
    auto ladder = X25519(key->Serialize(), base);
    ASSERT_TRUE(ladder.ok());
    EXPECT_EQ(HexEncode(key->PublicKey().raw()), HexEncode(*ladder)) << HexEncode(k);
  }
}

TEST(X25519PublicKey, SignalEncodingRoundTrip) {
  DeterministicRng rng(5);
  const auto pair = X25519KeyPair::Generate(rng);
  const auto serialized = pair.public_key.Serialize();
  EXPECT_EQ(serialized[0], kDjbKeyType);
  auto parsed = X25519PublicKey::Parse(serialized);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, pair.public_key);
}

TEST(X25519PublicKey, ParseRefusesBadTypeAndLength) {
  std::array<uint8_t, 33> bytes{};
  bytes[0] = 0x06;
  EXPECT_EQ(X25519PublicKey::Parse(bytes).code(), ErrorCode::kInvalidKey);
  bytes[0] = kDjbKeyType;
  EXPECT_TRUE(X25519PublicKey::Parse(bytes).ok());
  EXPECT_EQ(X25519PublicKey::Parse(ByteSpan(bytes).first(32)).code(), ErrorCode::kInvalidKey);
  EXPECT_EQ(X25519PublicKey::Parse(Bytes(34, 5)).code(), ErrorCode::kInvalidKey);
  EXPECT_EQ(X25519PublicKey::Parse({}).code(), ErrorCode::kInvalidKey);
}

TEST(X25519PrivateKey, IsClamped) {
  auto key = X25519PrivateKey::FromBytes(Bytes(32, 0xff));
  ASSERT_TRUE(key.ok());
  const ByteSpan k = key->Serialize();
  EXPECT_EQ(k[0] & 7, 0);
  EXPECT_EQ(k[31] & 0x80, 0);
  EXPECT_EQ(k[31] & 0x40, 0x40);
  EXPECT_EQ(X25519PrivateKey::FromBytes(Bytes(31)).code(), ErrorCode::kInvalidKey);
}

TEST(X25519Agree, SmallOrderPointsAreWeak) {
  DeterministicRng rng(6);
  const auto ours = X25519PrivateKey::Generate(rng);
  // u = 0 and u = 1 have small order; the shared secret would be all zeros.
  std::array<uint8_t, 32> zero{}, one{};
  one[0] = 1;
  EXPECT_EQ(X25519Agree(ours, *X25519PublicKey::FromRaw(zero)).code(), ErrorCode::kWeakKey);
  EXPECT_EQ(X25519Agree(ours, *X25519PublicKey::FromRaw(one)).code(), ErrorCode::kWeakKey);
}

TEST(X25519Agree, RandomPairsAgree) {
  DeterministicRng rng(8);
  for (int i = 0; i < 50; ++i) {
    auto a = X25519KeyPair::Generate(rng);
    auto b = X25519KeyPair::Generate(rng);
    EXPECT_TRUE(X25519Agree(a.private_key, b.public_key)
                    ->Equals(*X25519Agree(b.private_key, a.public_key)));
  }
}

}  // namespace
}  // namespace holdfast::crypto
