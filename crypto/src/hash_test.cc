#include "holdfast/crypto/hash.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/testing/kat.h"

namespace holdfast::crypto {
namespace {

using testing::ForEachKat;
using testing::KatBlock;

TEST(Sha, FipsVectors) {
  ForEachKat("crypto/testdata/sha.txt", [](const KatBlock& t) {
    const Bytes msg = t.GetBytes("Message");
    const Bytes want = t.GetBytes("Digest");
    const std::string alg = t.Text("Algorithm");
    if (alg == "\"sha256\"") {
      EXPECT_EQ(HexEncode(Sha256(msg)), HexEncode(want));
      Sha256Hasher h;
      for (uint8_t b : msg) {
        h.Update(ByteSpan(&b, 1));
      }
      EXPECT_EQ(HexEncode(h.Finish()), HexEncode(want));
    } else if (alg == "\"sha512\"") {
      EXPECT_EQ(HexEncode(Sha512(msg)), HexEncode(want));
      Sha512Hasher h;
      h.Update(ByteSpan(msg).first(msg.size() / 2)).Update(ByteSpan(msg).subspan(msg.size() / 2));
      EXPECT_EQ(HexEncode(h.Finish()), HexEncode(want));
    } else {
      ADD_FAILURE() << "unknown algorithm " << alg;
    }
  });
}

TEST(Sha, HasherResetsAfterFinish) {
  Sha256Hasher h;
  h.Update(AsBytes("abc"));
  const auto first = h.Finish();
  h.Update(AsBytes("abc"));
  EXPECT_EQ(h.Finish(), first);
  EXPECT_EQ(first, Sha256(AsBytes("abc")));
}

TEST(HmacSha256, Rfc4231Vectors) {
  ForEachKat("crypto/testdata/hmac_sha256.txt", [](const KatBlock& t) {
    const Bytes key = t.GetBytes("Key");
    const Bytes data = t.GetBytes("Data");
    const Bytes want = t.GetBytes("Mac");
    ASSERT_LE(want.size(), kHmacSha256Bytes);
    const auto mac = HmacSha256(key, data);
    EXPECT_EQ(HexEncode(mac.span().first(want.size())), HexEncode(want));
    EXPECT_TRUE(VerifyHmacSha256(key, data, want).ok());
    Bytes bad = want;
    bad.back() ^= 1;
    EXPECT_EQ(VerifyHmacSha256(key, data, bad).code(), ErrorCode::kAuthenticationFailed);
  });
}

// HMAC is built on OpenSSL's SHA-256 states (hmac.cc); OpenSSL's own HMAC must agree on keys
// and messages around every block boundary (empty key, short, exactly 64, longer than a block
// so hashed first) and on multi-part input split at every point.
TEST(HmacSha256, AgreesWithOpenSslHmac) {
  DeterministicRng rng(11);
  const std::vector<size_t> key_sizes = {0, 1, 31, 32, 55, 63, 64, 65, 100, 200};
  const std::vector<size_t> message_sizes = {0, 1, 32, 55, 56, 63, 64, 65, 119, 120, 128, 1000};
  for (size_t k : key_sizes) {
    for (size_t m : message_sizes) {
      Bytes key(k), message(m);
      rng.Fill(key);
      rng.Fill(message);
      uint8_t want[32];
      unsigned int len = 0;
      static const uint8_t kEmpty = 0;
      ASSERT_NE(HMAC(EVP_sha256(), k == 0 ? &kEmpty : key.data(), static_cast<int>(k),
                     message.data(), message.size(), want, &len),
                nullptr);
      ASSERT_EQ(len, 32u);
      EXPECT_EQ(HexEncode(HmacSha256(key, message).span()), HexEncode(ByteSpan(want, len)))
          << "key " << k << " message " << m;
      const HmacSha256Key keyed(key);
      const size_t cut = m / 3;
      const ByteSpan all(message);
      EXPECT_EQ(HexEncode(keyed.Mac({all.first(cut), {}, all.subspan(cut)}).span()),
                HexEncode(ByteSpan(want, len)));
      // The keyed object stays usable: a second MAC under it gives the same answer.
      EXPECT_TRUE(keyed.Verify({all}, ByteSpan(want, 8)).ok());
    }
  }
}

TEST(HmacSha256, VerifyRefusesEmptyAndOverlongTags) {
  const Bytes key(32, 7), data = {1, 2, 3};
  const auto mac = HmacSha256(key, data);
  EXPECT_EQ(VerifyHmacSha256(key, data, {}).code(), ErrorCode::kAuthenticationFailed);
  Bytes longer = ToBytes(mac.span());
  longer.push_back(0);
  EXPECT_EQ(VerifyHmacSha256(key, data, longer).code(), ErrorCode::kAuthenticationFailed);
  // Signal truncates its message MAC to 8 bytes.
  EXPECT_TRUE(VerifyHmacSha256(key, data, mac.span().first(8)).ok());
  Bytes other_key = key;
  other_key[0] ^= 0x80;
  EXPECT_FALSE(VerifyHmacSha256(other_key, data, mac.span().first(8)).ok());
}

TEST(HkdfSha256, Rfc5869Vectors) {
  ForEachKat("crypto/testdata/hkdf_sha256.txt", [](const KatBlock& t) {
    const Bytes ikm = t.GetBytes("IKM"), salt = t.GetBytes("Salt"), info = t.GetBytes("Info");
    const Bytes prk = t.GetBytes("PRK"), okm = t.GetBytes("OKM");
    ASSERT_EQ(okm.size(), t.Number("L"));
    EXPECT_EQ(HexEncode(HkdfSha256Extract(salt, ikm).span()), HexEncode(prk));
    Bytes out(okm.size());
    ASSERT_TRUE(HkdfSha256(ikm, salt, info, out).ok());
    EXPECT_EQ(HexEncode(out), HexEncode(okm));
    Bytes expanded(okm.size());
    ASSERT_TRUE(HkdfSha256Expand(prk, info, expanded).ok());
    EXPECT_EQ(HexEncode(expanded), HexEncode(okm));
  });
}

TEST(HkdfSha256, LengthLimits) {
  const Bytes ikm(22, 0x0b);
  Bytes empty;
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, empty).code(), ErrorCode::kInvalidArgument);
  Bytes max(kHkdfSha256MaxOutputBytes);
  EXPECT_TRUE(HkdfSha256(ikm, {}, {}, max).ok());
  Bytes too_long(kHkdfSha256MaxOutputBytes + 1);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, too_long).code(), ErrorCode::kInvalidArgument);
  Bytes out(32);
  EXPECT_EQ(HkdfSha256Expand(Bytes(31, 1), {}, out).code(), ErrorCode::kInvalidArgument);
}

TEST(HkdfSha256, PrefixProperty) {
  // Longer outputs extend shorter ones: T(1) || T(2) || ...
  DeterministicRng rng(3);
  Bytes ikm(40), salt(13), info(9);
  rng.Fill(ikm);
  rng.Fill(salt);
  rng.Fill(info);
  Bytes a(80), b(33);
  ASSERT_TRUE(HkdfSha256(ikm, salt, info, a).ok());
  ASSERT_TRUE(HkdfSha256(ikm, salt, info, b).ok());
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin()));
}

}  // namespace
}  // namespace holdfast::crypto
