#include "holdfast/signal/group.h"

#include <gtest/gtest.h>

#include <string>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::signal {
namespace {

std::string Text(const SecretBytes& b) { return std::string(b.span().begin(), b.span().end()); }

TEST(SenderKey, MembersReadInAnyOrderAndReplaysFail) {
  DeterministicRng rng(1);
  SenderKey alice = SenderKey::CreateOwn(rng);
  SenderKey at_bob, at_carol;
  ASSERT_TRUE(at_bob.ProcessDistribution(*alice.DistributionMessage()).ok());
  ASSERT_TRUE(at_carol.ProcessDistribution(*alice.DistributionMessage()).ok());
  std::vector<Bytes> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(*alice.Encrypt(AsBytes("m" + std::to_string(i)), rng));
  }
  for (int i = 19; i >= 0; --i) {
    ASSERT_EQ(Text(*at_bob.Decrypt(sent[i])), "m" + std::to_string(i));
  }
  for (int i = 0; i < 20; i += 3) {
    ASSERT_EQ(Text(*at_carol.Decrypt(sent[i])), "m" + std::to_string(i));
  }
  EXPECT_EQ(at_bob.Decrypt(sent[5]).code(), ErrorCode::kDuplicateMessage);
  EXPECT_EQ(at_carol.Decrypt(sent[3]).code(), ErrorCode::kDuplicateMessage);
  ASSERT_EQ(Text(*at_carol.Decrypt(sent[4])), "m4") << "skipped keys survive a duplicate";
}

// A record in the first stored format (the X25519 private key instead of XEdDSA's form) is
// still read: its key signs messages that a member who got its distribution accepts.
TEST(SenderKey, ReadsFormatVersion1) {
  DeterministicRng rng(9);
  const auto signing = crypto::X25519KeyPair::Generate(rng);
  Bytes v1 = {1, 1, 0, 0, 0, 42, 0, 0, 0, 7};  // version 1, one state, id 42, iteration 7
  Bytes chain(32);
  rng.Fill(chain);
  v1.insert(v1.end(), chain.begin(), chain.end());
  const auto pub = signing.public_key.Serialize();
  v1.insert(v1.end(), pub.begin(), pub.end());
  v1.push_back(1);  // has the private key
  const ByteSpan priv = signing.private_key.Serialize();
  v1.insert(v1.end(), priv.begin(), priv.end());
  v1.push_back(0);  // no skipped keys
  v1.push_back(0);
  auto own = SenderKey::Deserialize(v1);
  ASSERT_TRUE(own.ok());
  SenderKey member;
  ASSERT_TRUE(member.ProcessDistribution(*own->DistributionMessage()).ok());
  auto message = own->Encrypt(AsBytes("still here"), rng);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(Text(*member.Decrypt(*message)), "still here");
  // Stored again, it is in the current format and reads back the same.
  auto again = SenderKey::Deserialize(own->Serialize().span());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Serialize().span()[0], 2);
  EXPECT_TRUE(member.Decrypt(*again->Encrypt(AsBytes("x"), rng)).ok());
}

TEST(SenderKey, TamperingAndUnknownKeysFailWithoutHarm) {
  DeterministicRng rng(2);
  SenderKey alice = SenderKey::CreateOwn(rng);
  SenderKey at_bob;
  ASSERT_TRUE(at_bob.ProcessDistribution(*alice.DistributionMessage()).ok());
  const Bytes m = *alice.Encrypt(AsBytes("hello"), rng);
  for (size_t i : {size_t{3}, m.size() - 70, m.size() - 1}) {
    Bytes bad = m;
    bad[i] ^= 0x01;
    EXPECT_FALSE(at_bob.Decrypt(bad).ok()) << i;
  }
  EXPECT_EQ(at_bob.Decrypt(ByteSpan(m).first(40)).code(), ErrorCode::kMalformed);
  SenderKey stranger;
  EXPECT_EQ(stranger.Decrypt(m).code(), ErrorCode::kNoSession);
  EXPECT_EQ(stranger.Encrypt(AsBytes("x"), rng).code(), ErrorCode::kNoSession);
  EXPECT_EQ(at_bob.DistributionMessage().code(), ErrorCode::kNoSession);
  ASSERT_EQ(Text(*at_bob.Decrypt(m)), "hello");
}

TEST(SenderKey, RotationLocksOutWhoOnlyHadTheOldKey) {
  DeterministicRng rng(3);
  SenderKey alice = SenderKey::CreateOwn(rng);
  SenderKey at_bob, at_mallory;
  ASSERT_TRUE(at_bob.ProcessDistribution(*alice.DistributionMessage()).ok());
  ASSERT_TRUE(at_mallory.ProcessDistribution(*alice.DistributionMessage()).ok());
  ASSERT_TRUE(at_mallory.Decrypt(*alice.Encrypt(AsBytes("before"), rng)).ok());
  alice.Rotate(rng);  // Mallory left the group; only Bob gets the new key
  ASSERT_TRUE(at_bob.ProcessDistribution(*alice.DistributionMessage()).ok());
  const Bytes after = *alice.Encrypt(AsBytes("after"), rng);
  ASSERT_EQ(Text(*at_bob.Decrypt(after)), "after");
  EXPECT_EQ(at_mallory.Decrypt(after).code(), ErrorCode::kNoSession);
}

TEST(SenderKey, SerializedKeysCarryOn) {
  DeterministicRng rng(5);
  SenderKey alice = SenderKey::CreateOwn(rng);
  SenderKey at_bob;
  ASSERT_TRUE(at_bob.ProcessDistribution(*alice.DistributionMessage()).ok());
  const Bytes early = *alice.Encrypt(AsBytes("early"), rng);
  ASSERT_TRUE(at_bob.Decrypt(*alice.Encrypt(AsBytes("later"), rng)).ok());  // skips "early"
  for (SenderKey* k : {&alice, &at_bob}) {
    const SecretBytes bytes = k->Serialize();
    auto restored = SenderKey::Deserialize(bytes.span());
    ASSERT_TRUE(restored.ok());
    EXPECT_TRUE(restored->Serialize().Equals(bytes));
    *k = std::move(*restored);
    for (size_t n = 0; n < bytes.size(); ++n) {
      ASSERT_FALSE(SenderKey::Deserialize(bytes.span().first(n)).ok()) << n;
    }
  }
  ASSERT_EQ(Text(*at_bob.Decrypt(early)), "early");
  ASSERT_EQ(Text(*at_bob.Decrypt(*alice.Encrypt(AsBytes("after"), rng))), "after");
}

TEST(SenderKey, RefusesMessagesTooFarAhead) {
  DeterministicRng rng(4);
  SenderKey alice = SenderKey::CreateOwn(rng);
  SenderKey at_bob;
  ASSERT_TRUE(at_bob.ProcessDistribution(*alice.DistributionMessage()).ok());
  for (uint32_t i = 0; i <= kMaxSenderKeyGap; ++i) {
    (void)alice.Encrypt(AsBytes("x"), rng);
  }
  EXPECT_EQ(at_bob.Decrypt(*alice.Encrypt(AsBytes("far"), rng)).code(), ErrorCode::kOversized);
}

}  // namespace
}  // namespace holdfast::signal
