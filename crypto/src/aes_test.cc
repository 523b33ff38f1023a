#include "holdfast/crypto/aes.h"

#include <gtest/gtest.h>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"

namespace holdfast::crypto {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

TEST(Aes256Cbc, Sp80038aVectors) {
  ForEachKat("crypto/testdata/aes256_cbc.txt", [](const KatBlock& t) {
    const Bytes key = t.GetBytes("Key"), iv = t.GetBytes("IV");
    const Bytes pt = t.GetBytes("Plaintext"), ct = t.GetBytes("Ciphertext");
    // SP 800-38A has no padding; PKCS#7 adds one whole block after block-aligned input.
    auto enc = Aes256CbcEncrypt(key, iv, pt);
    ASSERT_TRUE(enc.ok());
    ASSERT_EQ(enc->size(), ct.size() + kAesBlockBytes);
    EXPECT_EQ(HexEncode(ByteSpan(*enc).first(ct.size())), HexEncode(ct));
    auto dec = Aes256CbcDecrypt(key, iv, *enc);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(HexEncode(dec->span()), HexEncode(pt));
  });
}

TEST(Aes256Ctr, Sp80038aVectors) {
  ForEachKat("crypto/testdata/aes256_ctr.txt", [](const KatBlock& t) {
    const Bytes key = t.GetBytes("Key"), iv = t.GetBytes("Counter");
    const Bytes pt = t.GetBytes("Plaintext"), ct = t.GetBytes("Ciphertext");
    Bytes out(pt.size());
    ASSERT_TRUE(Aes256Ctr(key, iv, pt, out).ok());
    EXPECT_EQ(HexEncode(out), HexEncode(ct));
    // In place, and decryption is the same operation.
    ASSERT_TRUE(Aes256Ctr(key, iv, out, out).ok());
    EXPECT_EQ(HexEncode(out), HexEncode(pt));
  });
}

TEST(Aes256Cbc, RoundTripsEveryLengthAndPadsCorrectly) {
  DeterministicRng rng(11);
  Bytes key(32), iv(16);
  rng.Fill(key);
  rng.Fill(iv);
  for (size_t len = 0; len <= 80; ++len) {
    Bytes pt(len);
    rng.Fill(pt);
    auto ct = Aes256CbcEncrypt(key, iv, pt);
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(ct->size(), (len / 16 + 1) * 16);
    auto back = Aes256CbcDecrypt(key, iv, *ct);
    ASSERT_TRUE(back.ok()) << len;
    EXPECT_EQ(ToBytes(back->span()), pt);
  }
}

TEST(Aes256Cbc, BadPaddingAndLengthsAreErrors) {
  const Bytes key(32, 1), iv(16, 2);
  auto ct = *Aes256CbcEncrypt(key, iv, Bytes(5, 9));
  // Corrupting the last block scrambles the padding.
  Bytes bad = ct;
  bad.back() ^= 0xff;
  EXPECT_EQ(Aes256CbcDecrypt(key, iv, bad).code(), ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(Aes256CbcDecrypt(key, iv, Bytes{}).code(), ErrorCode::kMalformed);
  EXPECT_EQ(Aes256CbcDecrypt(key, iv, Bytes(17)).code(), ErrorCode::kMalformed);
  EXPECT_EQ(Aes256CbcEncrypt(Bytes(16), iv, Bytes(1)).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Aes256CbcEncrypt(key, Bytes(12), Bytes(1)).code(), ErrorCode::kInvalidArgument);
  Bytes out(3);
  EXPECT_EQ(Aes256Ctr(key, iv, Bytes(4), out).code(), ErrorCode::kInvalidArgument);
}

TEST(Aes, ReusedContextsDoNotLeakStateBetweenCalls) {
  // Interleave modes, directions and keys: each call must behave like a fresh context.
  DeterministicRng rng(12);
  Bytes k1(32), k2(32), iv(16), pt(37);
  rng.Fill(k1);
  rng.Fill(k2);
  rng.Fill(iv);
  rng.Fill(pt);
  const Bytes c1 = *Aes256CbcEncrypt(k1, iv, pt);
  Bytes ctr1(pt.size());
  ASSERT_TRUE(Aes256Ctr(k1, iv, pt, ctr1).ok());
  // A failed decryption in between must not poison the next call.
  Bytes garbage(32, 0x55);
  (void)Aes256CbcDecrypt(k2, iv, garbage);
  const Bytes c2 = *Aes256CbcEncrypt(k2, iv, pt);
  EXPECT_NE(c1, c2);
  EXPECT_EQ(*Aes256CbcEncrypt(k1, iv, pt), c1);
  EXPECT_EQ(ToBytes(Aes256CbcDecrypt(k1, iv, c1)->span()), pt);
  EXPECT_EQ(ToBytes(Aes256CbcDecrypt(k2, iv, c2)->span()), pt);
  Bytes ctr_again(pt.size());
  ASSERT_TRUE(Aes256Ctr(k1, iv, pt, ctr_again).ok());
  EXPECT_EQ(ctr_again, ctr1);
}

}  // namespace
}  // namespace holdfast::crypto
