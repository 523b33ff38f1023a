#include "holdfast/crypto/aead.h"

#include <gtest/gtest.h>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"

namespace holdfast::crypto {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

void CheckVectors(AeadAlgorithm alg, const char* file, const char* nonce_key) {
  ForEachKat(file, [&](const KatBlock& t) {
    const Bytes key = t.GetBytes("Key"), nonce = t.GetBytes(nonce_key), aad = t.GetBytes("AAD");
    const Bytes pt = t.GetBytes("Plaintext"), ct = t.GetBytes("Ciphertext"),
                tag = t.GetBytes("Tag");
    Bytes sealed = ct;
    sealed.insert(sealed.end(), tag.begin(), tag.end());
    auto got = AeadSeal(alg, key, nonce, aad, pt);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(HexEncode(*got), HexEncode(sealed));
    auto opened = AeadOpen(alg, key, nonce, aad, sealed);
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(HexEncode(opened->span()), HexEncode(pt));
  });
}

TEST(Aead, ChaCha20Poly1305Rfc8439Vectors) {
  CheckVectors(AeadAlgorithm::kChaCha20Poly1305, "crypto/testdata/chacha20_poly1305.txt", "Nonce");
}

TEST(Aead, XChaCha20Poly1305DraftVector) {
  CheckVectors(AeadAlgorithm::kXChaCha20Poly1305, "crypto/testdata/xchacha20_poly1305.txt",
               "Nonce");
}

TEST(Aead, Aes256GcmVectors) {
  CheckVectors(AeadAlgorithm::kAes256Gcm, "crypto/testdata/aes256_gcm.txt", "IV");
}

class AeadTamper : public ::testing::TestWithParam<AeadAlgorithm> {};

TEST_P(AeadTamper, EveryFlippedBitIsRejected) {
  const AeadAlgorithm alg = GetParam();
  DeterministicRng rng(21);
  Bytes key(kAeadKeyBytes), nonce(AeadNonceBytes(alg)), aad(11), pt(23);
  rng.Fill(key);
  rng.Fill(nonce);
  rng.Fill(aad);
  rng.Fill(pt);
  const Bytes sealed = *AeadSeal(alg, key, nonce, aad, pt);
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    Bytes bad = sealed;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(AeadOpen(alg, key, nonce, aad, bad).code(), ErrorCode::kAuthenticationFailed) << bit;
  }
  for (Bytes* field : {&key, &nonce, &aad}) {
    (*field)[0] ^= 1;
    EXPECT_EQ(AeadOpen(alg, key, nonce, aad, sealed).code(), ErrorCode::kAuthenticationFailed);
    (*field)[0] ^= 1;
  }
  EXPECT_EQ(AeadOpen(alg, key, nonce, aad, ByteSpan(sealed).first(sealed.size() - 1)).code(),
            ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(AeadOpen(alg, key, nonce, aad, ByteSpan(sealed).first(kAeadTagBytes - 1)).code(),
            ErrorCode::kAuthenticationFailed);
  auto ok = AeadOpen(alg, key, nonce, aad, sealed);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ToBytes(ok->span()), pt);
}

TEST_P(AeadTamper, WrongSizesAreInvalidArguments) {
  const AeadAlgorithm alg = GetParam();
  const Bytes key(kAeadKeyBytes), nonce(AeadNonceBytes(alg));
  EXPECT_EQ(AeadSeal(alg, Bytes(31), nonce, {}, {}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AeadSeal(alg, key, Bytes(nonce.size() + 1), {}, {}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(AeadOpen(alg, key, Bytes(nonce.size() - 1), {}, Bytes(16)).code(),
            ErrorCode::kInvalidArgument);
  // Empty plaintext and aad still authenticate.
  const Bytes sealed = *AeadSeal(alg, key, nonce, {}, {});
  EXPECT_EQ(sealed.size(), kAeadTagBytes);
  EXPECT_TRUE(AeadOpen(alg, key, nonce, {}, sealed).ok());
}

INSTANTIATE_TEST_SUITE_P(All, AeadTamper,
                         ::testing::Values(AeadAlgorithm::kXChaCha20Poly1305,
                                           AeadAlgorithm::kChaCha20Poly1305,
                                           AeadAlgorithm::kAes256Gcm));

}  // namespace
}  // namespace holdfast::crypto

namespace holdfast::crypto {
namespace {

TEST(RecordCipher, RoundTripsInPlaceAndRejectsTampering) {
  for (RecordCipher c :
       {RecordCipher::kAes128Gcm, RecordCipher::kAes256Gcm, RecordCipher::kChaCha20Poly1305}) {
    const Bytes key(RecordCipherKeyBytes(c), 0x42);
    const Bytes nonce(kRecordNonceBytes, 0x07);
    const Bytes aad = {1, 2, 3, 4, 5};
    const Bytes plaintext(300, 0x61);
    Bytes data = plaintext;
    Bytes tag(16);
    ASSERT_TRUE(SealRecordInPlace(c, key, nonce, aad, data, tag).ok());
    EXPECT_NE(data, plaintext);
    Bytes opened = data;
    ASSERT_TRUE(OpenRecordInPlace(c, key, nonce, aad, opened, tag).ok());
    EXPECT_EQ(opened, plaintext);
    // Any changed input fails.
    Bytes bad_tag = tag;
    bad_tag[0] ^= 1;
    Bytes copy = data;
    EXPECT_EQ(OpenRecordInPlace(c, key, nonce, aad, copy, bad_tag).code(),
              ErrorCode::kAuthenticationFailed);
    copy = data;
    copy[299] ^= 1;
    EXPECT_EQ(OpenRecordInPlace(c, key, nonce, aad, copy, tag).code(),
              ErrorCode::kAuthenticationFailed);
    copy = data;
    const Bytes other_aad = {1, 2, 3, 4, 6};
    EXPECT_EQ(OpenRecordInPlace(c, key, nonce, other_aad, copy, tag).code(),
              ErrorCode::kAuthenticationFailed);
    // Wrong sizes are refused before any work.
    EXPECT_EQ(SealRecordInPlace(c, Bytes(key.size() + 1), nonce, aad, data, tag).code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(SealRecordInPlace(c, key, Bytes(24), aad, data, tag).code(),
              ErrorCode::kInvalidArgument);
  }
  // ChaCha20-Poly1305 agrees with the AEAD used for storage (libsodium).
  const Bytes key(32, 9);
  const Bytes nonce(12, 3);
  const Bytes aad = {7};
  Bytes data(50, 0x33);
  Bytes tag(16);
  ASSERT_TRUE(
      SealRecordInPlace(RecordCipher::kChaCha20Poly1305, key, nonce, aad, data, tag).ok());
  data.insert(data.end(), tag.begin(), tag.end());
  auto opened = AeadOpen(AeadAlgorithm::kChaCha20Poly1305, key, nonce, aad, data);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(Bytes(opened.value().span().begin(), opened.value().span().end()), Bytes(50, 0x33));
}

TEST(RecordCipher, HkdfSha384ExpandChecksSizes) {
  Bytes out(48);
  EXPECT_EQ(HkdfSha384Expand(Bytes(47, 1), {}, out).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(HkdfSha384Expand(Bytes(48, 1), {}, out).ok());
  Bytes again(48);
  EXPECT_TRUE(HkdfSha384Expand(Bytes(48, 1), {}, again).ok());
  EXPECT_EQ(out, again);
  EXPECT_NE(out, Bytes(48, 0));
}

}  // namespace
}  // namespace holdfast::crypto
