#include "holdfast/crypto/sealed_box.h"

#include <gtest/gtest.h>
#include <sodium/crypto_box.h>

#include "holdfast/crypto/random.h"

namespace holdfast::crypto {
namespace {

TEST(SealedBoxTest, OursOpensWithLibsodiumAndTheirsOpensWithOurs) {
  SystemRng rng;
  auto kp = X25519KeyPair::Generate(rng);
  const Bytes message = {'o', 'r', 'd', 'e', 'r', 0, 1, 2};

  auto sealed = SealedBoxSeal(kp.public_key, message, rng);
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(sealed->size(), message.size() + kSealedBoxOverhead);
  Bytes opened(message.size());
  ASSERT_EQ(crypto_box_seal_open(opened.data(), sealed->data(), sealed->size(),
                                 kp.public_key.raw().data(), kp.private_key.Serialize().data()),
            0);
  EXPECT_EQ(opened, message);

  Bytes theirs(message.size() + crypto_box_SEALBYTES);
  ASSERT_EQ(
      crypto_box_seal(theirs.data(), message.data(), message.size(), kp.public_key.raw().data()),
      0);
  auto ours = SealedBoxOpen(kp.private_key, theirs);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours, message);
}

TEST(SealedBoxTest, EmptyMessageRoundTrips) {
  SystemRng rng;
  auto kp = X25519KeyPair::Generate(rng);
  auto sealed = SealedBoxSeal(kp.public_key, {}, rng);
  ASSERT_TRUE(sealed.ok());
  auto opened = SealedBoxOpen(kp.private_key, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->empty());
}

TEST(SealedBoxTest, WrongKeyTamperingAndTruncationFail) {
  SystemRng rng;
  auto kp = X25519KeyPair::Generate(rng);
  auto other = X25519KeyPair::Generate(rng);
  const Bytes message(100, 0x42);
  auto sealed = SealedBoxSeal(kp.public_key, message, rng);
  ASSERT_TRUE(sealed.ok());

  EXPECT_EQ(SealedBoxOpen(other.private_key, *sealed).error().code,
            ErrorCode::kAuthenticationFailed);
  for (size_t i = 0; i < sealed->size(); i += 7) {
    Bytes bad = *sealed;
    bad[i] ^= 0x01;
    EXPECT_EQ(SealedBoxOpen(kp.private_key, bad).error().code, ErrorCode::kAuthenticationFailed)
        << "flipped byte " << i;
  }
  for (size_t n : {size_t{0}, size_t{1}, kSealedBoxOverhead - 1, sealed->size() - 1}) {
    EXPECT_EQ(SealedBoxOpen(kp.private_key, ByteSpan(sealed->data(), n)).error().code,
              ErrorCode::kAuthenticationFailed)
        << "length " << n;
  }
}

TEST(SealedBoxTest, TwoSealsOfOneMessageDiffer) {
  SystemRng rng;
  auto kp = X25519KeyPair::Generate(rng);
  const Bytes message(32, 7);
  auto a = SealedBoxSeal(kp.public_key, message, rng);
  auto b = SealedBoxSeal(kp.public_key, message, rng);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(SealedBoxTest, SmallOrderRecipientIsRefused) {
  SystemRng rng;
  X25519PublicKey zero;  // all zeros: small order
  EXPECT_EQ(SealedBoxSeal(zero, Bytes{1, 2, 3}, rng).error().code, ErrorCode::kWeakKey);
}

}  // namespace
}  // namespace holdfast::crypto
