#include "holdfast/crypto/xeddsa.h"

#include <gtest/gtest.h>

#include <array>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "test_util.h"

namespace holdfast::crypto {
namespace {

struct Fixture {
  X25519KeyPair pair;
  Bytes message;
  XEdDsaSignature sig;
};

Fixture Make(uint64_t seed, size_t message_len) {
  DeterministicRng rng(seed);
  auto pair = X25519KeyPair::Generate(rng);
  Bytes msg(message_len);
  rng.Fill(msg);
  auto sig = XEdDsaSign(pair.private_key, msg, rng);
  if (!sig.ok()) {
    ADD_FAILURE() << "sign failed";
  }
  return Fixture{std::move(pair), msg, sig.ok() ? *sig : XEdDsaSignature{}};
}

TEST(XEdDsa, SignVerifyRoundTrip) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const Fixture f = Make(seed, seed % 70);
    EXPECT_TRUE(XEdDsaVerify(f.pair.public_key, f.message, f.sig).ok()) << seed;
    // The specification's signatures always have the top bit of s clear.
    EXPECT_EQ(f.sig[63] & 0x80, 0);
  }
}

// A prepared signing key signs exactly as the one-shot function, also after a round trip
// through its stored form; malformed stored forms are refused.
TEST(XEdDsaSigningKey, SignsAsOneShotAndRoundTrips) {
  DeterministicRng rng(5);
  for (int i = 0; i < 50; ++i) {
    auto pair = X25519KeyPair::Generate(rng);
    Bytes msg(static_cast<size_t>(i) * 3);
    rng.Fill(msg);
    std::array<uint8_t, kXEdDsaNonceBytes> z;
    rng.Fill(z);
    auto signer = XEdDsaSigningKey::FromPrivate(pair.private_key);
    ASSERT_TRUE(signer.ok());
    auto stored = XEdDsaSigningKey::FromBytes(signer->Serialize().span());
    ASSERT_TRUE(stored.ok());
    auto want = XEdDsaSignWithNonce(pair.private_key, msg, z);
    auto got = stored->SignWithNonce(msg, z);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(HexEncode(*got), HexEncode(*want));
    auto random = signer->Sign(msg, rng);
    ASSERT_TRUE(random.ok());
    EXPECT_TRUE(XEdDsaVerify(pair.public_key, msg, *random).ok());
  }
  Bytes bad(XEdDsaSigningKey::kBytes, 1);
  bad.back() = 0x80;  // A with its sign bit set is never a stored XEdDSA key
  EXPECT_EQ(XEdDsaSigningKey::FromBytes(bad).code(), ErrorCode::kInvalidKey);
  EXPECT_EQ(XEdDsaSigningKey::FromBytes(Bytes(63, 1)).code(), ErrorCode::kInvalidKey);
}

TEST(XEdDsa, AnyFlippedBitFails) {
  const Fixture f = Make(1, 33);
  for (size_t bit = 0; bit < f.sig.size() * 8; ++bit) {
    auto bad = f.sig;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_EQ(XEdDsaVerify(f.pair.public_key, f.message, bad).code(),
              ErrorCode::kAuthenticationFailed)
        << "signature bit " << bit;
  }
  for (size_t bit = 0; bit < f.message.size() * 8; ++bit) {
    Bytes bad = f.message;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(XEdDsaVerify(f.pair.public_key, bad, f.sig).ok()) << "message bit " << bit;
  }
  for (size_t bit = 0; bit < 256; ++bit) {
    auto raw = f.pair.public_key.raw();
    raw[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(XEdDsaVerify(*X25519PublicKey::FromRaw(raw), f.message, f.sig).ok())
        << "key bit " << bit;
  }
}

TEST(XEdDsa, WrongLengthsFail) {
  const Fixture f = Make(2, 10);
  EXPECT_FALSE(XEdDsaVerify(f.pair.public_key, f.message, ByteSpan(f.sig).first(63)).ok());
  Bytes longer(f.sig.begin(), f.sig.end());
  longer.push_back(0);
  EXPECT_FALSE(XEdDsaVerify(f.pair.public_key, f.message, longer).ok());
  EXPECT_FALSE(XEdDsaVerify(f.pair.public_key, f.message, {}).ok());
}

TEST(XEdDsa, NonCanonicalInputsAreRefused) {
  const Fixture f = Make(3, 20);
  // s + q is the same scalar written non-canonically.
  auto s_plus_q = f.sig;
  test::AddGroupOrder(std::span(s_plus_q).subspan<32, 32>());
  ASSERT_EQ(s_plus_q[63] & 0x80, 0) << "still fits in 255 bits";
  EXPECT_FALSE(XEdDsaVerify(f.pair.public_key, f.message, s_plus_q).ok());
  // u with bit 255 set names the same X25519 key (which ignores that bit) but u >= p.
  auto raw = f.pair.public_key.raw();
  raw[31] |= 0x80;
  EXPECT_FALSE(XEdDsaVerify(*X25519PublicKey::FromRaw(raw), f.message, f.sig).ok());
  // u = p + 9 names the base point non-canonically; u = p - 1 maps to a point of order 4.
  auto p_plus_9 = *HexDecode("f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  auto p_minus_1 = *HexDecode("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  EXPECT_FALSE(XEdDsaVerify(*X25519PublicKey::FromRaw(p_plus_9), f.message, f.sig).ok());
  EXPECT_FALSE(XEdDsaVerify(*X25519PublicKey::FromRaw(p_minus_1), f.message, f.sig).ok());
}

TEST(XEdDsa, SmallOrderKeysNeverVerify) {
  // u = 0 and u = 1 are small-order points; an all-zero "signature" must not pass with them.
  XEdDsaSignature zero_sig{};
  Bytes u(32, 0);
  EXPECT_FALSE(XEdDsaVerify(*X25519PublicKey::FromRaw(u), {}, zero_sig).ok());
  u[0] = 1;
  EXPECT_FALSE(XEdDsaVerify(*X25519PublicKey::FromRaw(u), {}, zero_sig).ok());
}

TEST(XEdDsa, NonceOnlyRandomizes) {
  DeterministicRng rng(4);
  const auto pair = X25519KeyPair::Generate(rng);
  const Bytes msg = {'m'};
  std::array<uint8_t, kXEdDsaNonceBytes> z1{}, z2{};
  z2[0] = 1;
  const auto a = *XEdDsaSignWithNonce(pair.private_key, msg, z1);
  const auto b = *XEdDsaSignWithNonce(pair.private_key, msg, z1);
  const auto c = *XEdDsaSignWithNonce(pair.private_key, msg, z2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(XEdDsaVerify(pair.public_key, msg, a).ok());
  EXPECT_TRUE(XEdDsaVerify(pair.public_key, msg, c).ok());
}

TEST(XEdDsa, BothEdwardsSignsAreCovered) {
  // Half of all keys have a negative Edwards point and need the negated scalar; make sure the
  // round trip above exercised both branches by checking keys of each kind verify.
  int verified = 0;
  for (uint64_t seed = 100; seed < 164; ++seed) {
    const Fixture f = Make(seed, 16);
    verified += XEdDsaVerify(f.pair.public_key, f.message, f.sig).ok() ? 1 : 0;
  }
  EXPECT_EQ(verified, 64);
}

}  // namespace
}  // namespace holdfast::crypto
