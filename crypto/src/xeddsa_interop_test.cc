// XEdDSA against libsignal-protocol-c: each side verifies the other's signatures, on
// thousands of random keys and messages, and both refuse tampered ones.
#include <gtest/gtest.h>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/testing/libsignal_peer.h"

namespace holdfast::crypto {
namespace {

using testing::LibsignalPeer;

constexpr int kRounds = 2000;

TEST(XEdDsaInterop, SignaturesVerifyBothWays) {
  LibsignalPeer peer;
  DeterministicRng rng(0x5e1f);
  int peer_sign_bit_set = 0;
  for (int i = 0; i < kRounds; ++i) {
    // Alternate who makes the key: both must agree on the public key for either.
    std::array<uint8_t, 32> priv_bytes;
    if (i % 2 == 0) {
      priv_bytes = peer.GenerateKeyPair().private_key;
    } else {
      auto k = X25519PrivateKey::Generate(rng);
      std::copy(k.Serialize().begin(), k.Serialize().end(), priv_bytes.begin());
    }
    const auto ours = X25519KeyPair::FromPrivate(*X25519PrivateKey::FromBytes(priv_bytes));
    ASSERT_EQ(peer.PublicKeyFor(priv_bytes), ours.public_key.raw()) << i;

    Bytes msg(rng.Uniform(300));
    rng.Fill(msg);

    const auto our_sig = XEdDsaSign(ours.private_key, msg, rng);
    ASSERT_TRUE(our_sig.ok());
    EXPECT_TRUE(peer.Verify(ours.public_key.raw(), msg, *our_sig)) << "peer rejects ours, " << i;

    const Bytes peer_sig = peer.Sign(priv_bytes, msg);
    ASSERT_EQ(peer_sig.size(), kXEdDsaSignatureBytes);
    peer_sign_bit_set += (peer_sig[63] & 0x80) ? 1 : 0;
    EXPECT_TRUE(XEdDsaVerify(ours.public_key, msg, peer_sig).ok()) << "we reject peer's, " << i;

    // One flipped bit anywhere in either signature fails on both sides.
    const size_t bit = rng.Uniform(kXEdDsaSignatureBytes * 8);
    auto bad_ours = *our_sig;
    bad_ours[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    Bytes bad_peer = peer_sig;
    bad_peer[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(peer.Verify(ours.public_key.raw(), msg, bad_ours)) << i << " bit " << bit;
    EXPECT_FALSE(XEdDsaVerify(ours.public_key, msg, bad_ours).ok()) << i << " bit " << bit;
    EXPECT_FALSE(XEdDsaVerify(ours.public_key, msg, bad_peer).ok()) << i << " bit " << bit;
    if (!msg.empty()) {
      Bytes bad_msg = msg;
      bad_msg[rng.Uniform(msg.size())] ^= 0x01;
      EXPECT_FALSE(XEdDsaVerify(ours.public_key, bad_msg, peer_sig).ok());
      EXPECT_FALSE(peer.Verify(ours.public_key.raw(), bad_msg, *our_sig));
    }
  }
  // libsignal carries the Edwards sign bit in the signature: about half its signatures set
  // it, so both of its forms were checked.
  EXPECT_GT(peer_sign_bit_set, kRounds / 4);
  EXPECT_LT(peer_sign_bit_set, kRounds * 3 / 4);
}

TEST(XEdDsaInterop, SystemRngKeysToo) {
  LibsignalPeer peer;
  SystemRng rng;
  for (int i = 0; i < 200; ++i) {
    const auto pair = X25519KeyPair::Generate(rng);
    Bytes msg(64);
    rng.Fill(msg);
    const auto sig = *XEdDsaSign(pair.private_key, msg, rng);
    EXPECT_TRUE(peer.Verify(pair.public_key.raw(), msg, sig));
  }
}

}  // namespace
}  // namespace holdfast::crypto
