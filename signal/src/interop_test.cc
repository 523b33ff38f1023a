// The Signal Protocol against libsignal-protocol-c 2.3.3 (Debian's libsignal-protocol-c-dev),
// in both directions: the peer starts a session from our bundle, and we start one from its.
#include <gtest/gtest.h>
#include <signal/fingerprint.h>
#include <signal/signal_protocol.h>

#include <string>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/random.h"
#include "holdfast/signal/fingerprint.h"
#include "holdfast/signal/group.h"
#include "holdfast/signal/session.h"
#include "holdfast/testing/libsignal_party.h"
#include "holdfast/testing/libsignal_peer.h"
#include "test_party.h"

namespace holdfast::signal {
namespace {

using testing::LibsignalParty;
using testing::PeerBundle;
using testing::PeerMessage;

constexpr int kPreKeyType = 3;
constexpr int kSignalType = 2;

std::string Str(ByteSpan b) { return std::string(b.begin(), b.end()); }

PeerBundle OurBundleForPeer(const Party& us, Rng& rng, std::optional<uint32_t> pre_key_id) {
  const PreKeyBundle b = us.Bundle(rng, pre_key_id);
  PeerBundle p;
  p.registration_id = b.registration_id;
  p.pre_key_id = b.pre_key_id.value_or(0);
  if (b.pre_key) {
    p.pre_key = ToBytes(b.pre_key->Serialize());
  }
  p.signed_pre_key_id = b.signed_pre_key_id;
  p.signed_pre_key = ToBytes(b.signed_pre_key.Serialize());
  p.signed_pre_key_signature = b.signed_pre_key_signature;
  p.identity_key = ToBytes(b.identity_key.Serialize());
  return p;
}

PreKeyBundle PeerBundleForUs(const PeerBundle& p) {
  PreKeyBundle b;
  b.registration_id = p.registration_id;
  if (p.pre_key_id != 0) {
    b.pre_key_id = p.pre_key_id;
    b.pre_key = *crypto::X25519PublicKey::Parse(p.pre_key);
  }
  b.signed_pre_key_id = p.signed_pre_key_id;
  b.signed_pre_key = *crypto::X25519PublicKey::Parse(p.signed_pre_key);
  b.signed_pre_key_signature = p.signed_pre_key_signature;
  b.identity_key = *crypto::X25519PublicKey::Parse(p.identity_key);
  return b;
}

Ciphertext ToOurs(const PeerMessage& m) {
  return Ciphertext{m.type == kPreKeyType ? MessageType::kPreKey : MessageType::kMessage, m.body};
}

PeerMessage ToPeers(const Ciphertext& c) {
  return PeerMessage{c.type == MessageType::kPreKey ? kPreKeyType : kSignalType, c.body};
}

// Each test runs twice: the peer starts the session (from our bundle), or we do.
class Interop : public ::testing::TestWithParam<bool> {
 protected:
  bool peer_starts() const { return GetParam(); }

  void Start() {
    if (peer_starts()) {
      ASSERT_EQ(peer.ProcessBundle("us", OurBundleForPeer(us, rng, 101)), SG_SUCCESS);
      ASSERT_EQ(Str(PeerToUs("hello from libsignal")), "hello from libsignal");
      EXPECT_EQ(us.one_time.count(101), 0u);
    } else {
      ASSERT_TRUE(us.session
                      .ProcessBundle(us.identity, us.registration_id,
                                     PeerBundleForUs(peer.MakeBundle(77)), rng)
                      .ok());
      ASSERT_EQ(UsToPeer("hello from holdfast"), "hello from holdfast");
      EXPECT_EQ(peer.pre_keys_.count(77), 0u) << "the peer consumed its one-time prekey";
    }
  }

  PeerMessage PeerSend(const std::string& text) {
    PeerMessage m;
    EXPECT_EQ(peer.Encrypt("us", AsBytes(text), &m), SG_SUCCESS);
    return m;
  }
  Bytes PeerToUs(const std::string& text) {
    auto got = us.Receive(ToOurs(PeerSend(text)), rng);
    EXPECT_TRUE(got.ok()) << ErrorName(got.code());
    return got.ok() ? ToBytes(got->span()) : Bytes{};
  }
  std::string UsToPeer(const std::string& text) {
    auto c = us.session.Encrypt(AsBytes(text));
    EXPECT_TRUE(c.ok());
    Bytes out;
    EXPECT_EQ(peer.Decrypt("us", ToPeers(*c), &out), SG_SUCCESS);
    return Str(out);
  }

  crypto::SystemRng rng;
  Party us{rng, 4242};
  LibsignalParty peer{5151};
};

TEST_P(Interop, ThousandMessagesChangingDirectionAtRandom) {
  Start();
  DeterministicRng turns(11);
  for (int i = 0; i < 1000; ++i) {
    const std::string text = "message " + std::to_string(i) + std::string(turns.Uniform(200), 'x');
    if (turns.Uniform(2) == 0) {
      ASSERT_EQ(Str(PeerToUs(text)), text) << i;
    } else {
      ASSERT_EQ(UsToPeer(text), text) << i;
    }
  }
}

TEST_P(Interop, OutOfOrderAndLostMessagesBothWays) {
  Start();
  ASSERT_EQ(UsToPeer("ack"), "ack");
  ASSERT_EQ(Str(PeerToUs("ack")), "ack");
  for (int round = 0; round < 5; ++round) {
    // Peer -> us: five messages, delivered 4, 2, 0, 3; message 1 is lost.
    std::vector<PeerMessage> theirs;
    for (int i = 0; i < 5; ++i) {
      theirs.push_back(PeerSend("p" + std::to_string(i)));
    }
    for (int i : {4, 2, 0, 3}) {
      auto got = us.Receive(ToOurs(theirs[i]), rng);
      ASSERT_TRUE(got.ok()) << round << " " << i << " " << ErrorName(got.code());
      ASSERT_EQ(Str(got->span()), "p" + std::to_string(i));
    }
    // Us -> peer, across a ratchet step: two before and two after the peer's reply.
    std::vector<Ciphertext> ours;
    ours.push_back(*us.session.Encrypt(AsBytes("u0")));
    ours.push_back(*us.session.Encrypt(AsBytes("u1")));
    Bytes out;
    ASSERT_EQ(peer.Decrypt("us", ToPeers(ours[1]), &out), SG_SUCCESS);
    ASSERT_EQ(Str(PeerToUs("turn")), "turn");
    ours.push_back(*us.session.Encrypt(AsBytes("u2")));
    ASSERT_EQ(peer.Decrypt("us", ToPeers(ours[2]), &out), SG_SUCCESS);
    ASSERT_EQ(Str(out), "u2");
    ASSERT_EQ(peer.Decrypt("us", ToPeers(ours[0]), &out), SG_SUCCESS) << "old chain, late";
    ASSERT_EQ(Str(out), "u0");
  }
}

TEST_P(Interop, DuplicatesFailAndTheSessionGoesOn) {
  Start();
  const PeerMessage m = PeerSend("once");
  ASSERT_TRUE(us.Receive(ToOurs(m), rng).ok());
  EXPECT_EQ(us.Receive(ToOurs(m), rng).code(), ErrorCode::kDuplicateMessage);
  ASSERT_EQ(Str(PeerToUs("after")), "after");

  const Ciphertext c = *us.session.Encrypt(AsBytes("twice"));
  Bytes out;
  ASSERT_EQ(peer.Decrypt("us", ToPeers(c), &out), SG_SUCCESS);
  EXPECT_EQ(peer.Decrypt("us", ToPeers(c), &out), SG_ERR_DUPLICATE_MESSAGE);
  ASSERT_EQ(UsToPeer("after"), "after");
}

TEST_P(Interop, TamperedBodyAndMacFailBothWays) {
  Start();
  ASSERT_EQ(UsToPeer("ack"), "ack");
  PeerMessage m = PeerSend("secret");
  PeerMessage bad_mac = m;
  bad_mac.body.back() ^= 0x01;
  EXPECT_EQ(us.Receive(ToOurs(bad_mac), rng).code(), ErrorCode::kAuthenticationFailed);
  PeerMessage bad_body = m;
  bad_body.body[bad_body.body.size() - 12] ^= 0x01;
  EXPECT_EQ(us.Receive(ToOurs(bad_body), rng).code(), ErrorCode::kAuthenticationFailed);
  ASSERT_EQ(Str(us.Receive(ToOurs(m), rng)->span()), "secret");

  Ciphertext c = *us.session.Encrypt(AsBytes("secret"));
  Bytes out;
  Ciphertext c_mac = {c.type, c.body};
  c_mac.body.back() ^= 0x80;
  EXPECT_EQ(peer.Decrypt("us", ToPeers(c_mac), &out), SG_ERR_INVALID_MESSAGE);
  Ciphertext c_body = {c.type, c.body};
  c_body.body[c_body.body.size() - 12] ^= 0x80;
  EXPECT_EQ(peer.Decrypt("us", ToPeers(c_body), &out), SG_ERR_INVALID_MESSAGE);
  ASSERT_EQ(peer.Decrypt("us", ToPeers(c), &out), SG_SUCCESS);
  ASSERT_EQ(Str(out), "secret");
}

INSTANTIATE_TEST_SUITE_P(PeerStartsOrWeStart, Interop, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "PeerStarts" : "WeStart";
                         });

TEST(InteropSetup, BadSignedPreKeySignaturesAreRefusedBothWays) {
  crypto::SystemRng rng;
  Party us(rng, 1);
  LibsignalParty peer(2);
  PreKeyBundle theirs = PeerBundleForUs(peer.MakeBundle(5));
  theirs.signed_pre_key_signature[3] ^= 0x10;
  EXPECT_EQ(us.session.ProcessBundle(us.identity, 1, theirs, rng).code(),
            ErrorCode::kInvalidSignature);
  PeerBundle ours = OurBundleForPeer(us, rng, 100);
  ours.signed_pre_key_signature[3] ^= 0x10;
  EXPECT_EQ(peer.ProcessBundle("us", ours), SG_ERR_INVALID_KEY);
}

TEST(InteropSetup, UnknownOneTimePreKeyIdsAreRefusedBothWays) {
  crypto::SystemRng rng;
  Party us(rng, 1);
  LibsignalParty peer(2);
  // The peer uses a one-time prekey we no longer have.
  ASSERT_EQ(peer.ProcessBundle("us", OurBundleForPeer(us, rng, 102)), SG_SUCCESS);
  us.one_time.erase(102);
  PeerMessage m;
  ASSERT_EQ(peer.Encrypt("us", AsBytes("x"), &m), SG_SUCCESS);
  EXPECT_EQ(us.Receive(ToOurs(m), rng).code(), ErrorCode::kUnknownPreKey);
  // We use one the peer no longer has.
  ASSERT_TRUE(
      us.session.ProcessBundle(us.identity, 1, PeerBundleForUs(peer.MakeBundle(9)), rng).ok());
  peer.pre_keys_.erase(9);
  Bytes out;
  EXPECT_EQ(peer.Decrypt("us", ToPeers(*us.session.Encrypt(AsBytes("y"))), &out),
            SG_ERR_INVALID_KEY_ID);
}

TEST(InteropSetup, PeerRefusesAChangedIdentity) {
  crypto::SystemRng rng;
  Party us(rng, 1);
  LibsignalParty peer(2);
  ASSERT_TRUE(
      us.session.ProcessBundle(us.identity, 1, PeerBundleForUs(peer.MakeBundle(9)), rng).ok());
  Bytes out;
  ASSERT_EQ(peer.Decrypt("us", ToPeers(*us.session.Encrypt(AsBytes("hi"))), &out), SG_SUCCESS);
  // We come back with a new identity key: the peer must refuse it.
  Party impostor(rng, 1);
  ASSERT_TRUE(impostor.session
                  .ProcessBundle(impostor.identity, 1, PeerBundleForUs(peer.MakeBundle(10)), rng)
                  .ok());
  EXPECT_EQ(peer.Decrypt("us", ToPeers(*impostor.session.Encrypt(AsBytes("hi"))), &out),
            SG_ERR_UNTRUSTED_IDENTITY);
}

// A group of four: Alice and Carol use Holdfast, Bob and Dave libsignal-protocol-c. Every
// sender's key reaches every other member; each reads every other's messages, out of order.
TEST(InteropGroup, FourMembersTwoImplementationsOutOfOrder) {
  crypto::SystemRng rng;
  const std::string group = "group-1";
  SenderKey alice = SenderKey::CreateOwn(rng), carol = SenderKey::CreateOwn(rng);
  LibsignalParty bob(1), dave(2);
  Bytes bob_dist, dave_dist;
  ASSERT_EQ(bob.GroupCreate(group, "bob", &bob_dist), SG_SUCCESS);
  ASSERT_EQ(dave.GroupCreate(group, "dave", &dave_dist), SG_SUCCESS);
  // What each Holdfast member holds of the others' keys.
  SenderKey alice_has_bob, alice_has_dave, alice_has_carol, carol_has_alice, carol_has_bob,
      carol_has_dave;
  ASSERT_TRUE(alice_has_bob.ProcessDistribution(bob_dist).ok());
  ASSERT_TRUE(alice_has_dave.ProcessDistribution(dave_dist).ok());
  ASSERT_TRUE(alice_has_carol.ProcessDistribution(*carol.DistributionMessage()).ok());
  ASSERT_TRUE(carol_has_alice.ProcessDistribution(*alice.DistributionMessage()).ok());
  ASSERT_TRUE(carol_has_bob.ProcessDistribution(bob_dist).ok());
  ASSERT_TRUE(carol_has_dave.ProcessDistribution(dave_dist).ok());
  for (LibsignalParty* p : {&bob, &dave}) {
    ASSERT_EQ(p->GroupProcess(group, "alice", *alice.DistributionMessage()), SG_SUCCESS);
    ASSERT_EQ(p->GroupProcess(group, "carol", *carol.DistributionMessage()), SG_SUCCESS);
  }
  ASSERT_EQ(bob.GroupProcess(group, "dave", dave_dist), SG_SUCCESS);
  ASSERT_EQ(dave.GroupProcess(group, "bob", bob_dist), SG_SUCCESS);

  for (int round = 0; round < 3; ++round) {
    std::vector<Bytes> from_alice, from_bob;
    for (int i = 0; i < 6; ++i) {
      from_alice.push_back(*alice.Encrypt(AsBytes("alice " + std::to_string(i)), rng));
      Bytes b;
      ASSERT_EQ(bob.GroupEncrypt(group, "bob", AsBytes("bob " + std::to_string(i)), &b),
                SG_SUCCESS);
      from_bob.push_back(b);
    }
    for (int i : {5, 1, 3, 0, 4, 2}) {
      Bytes out;
      ASSERT_EQ(dave.GroupDecrypt(group, "alice", from_alice[i], &out), SG_SUCCESS) << i;
      ASSERT_EQ(Str(out), "alice " + std::to_string(i));
      ASSERT_EQ(bob.GroupDecrypt(group, "alice", from_alice[i], &out), SG_SUCCESS) << i;
      ASSERT_EQ(Str(carol_has_alice.Decrypt(from_alice[i])->span()), "alice " + std::to_string(i));
      ASSERT_EQ(Str(alice_has_bob.Decrypt(from_bob[i])->span()), "bob " + std::to_string(i));
      ASSERT_EQ(Str(carol_has_bob.Decrypt(from_bob[i])->span()), "bob " + std::to_string(i));
      ASSERT_EQ(dave.GroupDecrypt(group, "bob", from_bob[i], &out), SG_SUCCESS);
    }
    const Bytes from_carol = *carol.Encrypt(AsBytes("carol"), rng);
    Bytes out;
    ASSERT_EQ(bob.GroupDecrypt(group, "carol", from_carol, &out), SG_SUCCESS);
    ASSERT_EQ(Str(alice_has_carol.Decrypt(from_carol)->span()), "carol");
    Bytes from_dave;
    ASSERT_EQ(dave.GroupEncrypt(group, "dave", AsBytes("dave"), &from_dave), SG_SUCCESS);
    ASSERT_EQ(Str(alice_has_dave.Decrypt(from_dave)->span()), "dave");
    ASSERT_EQ(Str(carol_has_dave.Decrypt(from_dave)->span()), "dave");
    // Replays fail on both implementations.
    EXPECT_EQ(carol_has_alice.Decrypt(from_alice[0]).code(), ErrorCode::kDuplicateMessage);
    EXPECT_EQ(dave.GroupDecrypt(group, "alice", from_alice[0], &out), SG_ERR_DUPLICATE_MESSAGE);
    // A flipped bit in our signature is refused by libsignal, and in its by us.
    Bytes bad = *alice.Encrypt(AsBytes("x"), rng);
    bad.back() ^= 0x01;
    EXPECT_NE(dave.GroupDecrypt(group, "alice", bad, &out), SG_SUCCESS);
    Bytes bad_bob;
    ASSERT_EQ(bob.GroupEncrypt(group, "bob", AsBytes("y"), &bad_bob), SG_SUCCESS);
    bad_bob[bad_bob.size() - 10] ^= 0x01;
    EXPECT_EQ(alice_has_bob.Decrypt(bad_bob).code(), ErrorCode::kInvalidSignature);
  }
}

TEST(InteropFingerprint, SafetyNumbersMatchDigitForDigit) {
  crypto::SystemRng rng;
  testing::LibsignalPeer peer;
  // libsignal-protocol-c 2.3.3 only makes version 1 scannable fingerprints.
  for (uint32_t version : {1u}) {
    fingerprint_generator* gen = nullptr;
    ASSERT_EQ(fingerprint_generator_create(&gen, kFingerprintIterations, static_cast<int>(version),
                                           peer.context()),
              SG_SUCCESS);
    for (int i = 0; i < 5; ++i) {
      const auto a = crypto::X25519KeyPair::Generate(rng).public_key;
      const auto b = crypto::X25519KeyPair::Generate(rng).public_key;
      const std::string a_id = "+1415555" + std::to_string(1000 + i);
      const std::string b_id = "+4930123" + std::to_string(4000 + i);
      ec_public_key *ka = nullptr, *kb = nullptr;
      ASSERT_EQ(curve_decode_point(&ka, a.Serialize().data(), 33, peer.context()), SG_SUCCESS);
      ASSERT_EQ(curve_decode_point(&kb, b.Serialize().data(), 33, peer.context()), SG_SUCCESS);
      fingerprint* fp = nullptr;
      ASSERT_EQ(fingerprint_generator_create_for(gen, a_id.c_str(), ka, b_id.c_str(), kb, &fp),
                SG_SUCCESS);
      const SafetyNumber ours = ComputeSafetyNumber(version, a_id, a, b_id, b);
      EXPECT_EQ(ours.displayable, displayable_fingerprint_text(fingerprint_get_displayable(fp)));
      EXPECT_EQ(ours.local, displayable_fingerprint_local(fingerprint_get_displayable(fp)));
      EXPECT_EQ(ours.displayable.size(), 60u);
      signal_buffer* scannable = nullptr;
      ASSERT_EQ(scannable_fingerprint_serialize(&scannable, fingerprint_get_scannable(fp)),
                SG_SUCCESS);
      EXPECT_EQ(ours.scannable,
                Bytes(signal_buffer_data(scannable),
                      signal_buffer_data(scannable) + signal_buffer_len(scannable)));
      // Both sides see the same displayable number.
      EXPECT_EQ(ComputeSafetyNumber(version, b_id, b, a_id, a).displayable, ours.displayable);
      // Version 2 differs only in the version written into the scannable form (field 1).
      const SafetyNumber v2 = ComputeSafetyNumber(2, a_id, a, b_id, b);
      EXPECT_EQ(v2.displayable, ours.displayable);
      ASSERT_EQ(v2.scannable.size(), ours.scannable.size());
      EXPECT_EQ(ours.scannable[0], 0x08);
      EXPECT_EQ(ours.scannable[1], 0x01);
      EXPECT_EQ(v2.scannable[1], 0x02);
      EXPECT_TRUE(
          std::equal(v2.scannable.begin() + 2, v2.scannable.end(), ours.scannable.begin() + 2));
      signal_buffer_free(scannable);
      SIGNAL_UNREF(fp);
      SIGNAL_UNREF(ka);
      SIGNAL_UNREF(kb);
    }
    fingerprint_generator_free(gen);
  }
}

}  // namespace
}  // namespace holdfast::signal
