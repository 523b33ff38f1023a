// Sessions between two Holdfast parties: X3DH, the ratchet in both directions, and every
// failure leaving the session unchanged. (The same scenarios against libsignal-protocol-c
// are in interop_test.cc.)
#include "holdfast/signal/session.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/xeddsa.h"
#include "test_party.h"

namespace holdfast::signal {
namespace {

std::string Text(const SecretBytes& b) { return std::string(b.span().begin(), b.span().end()); }

Ciphertext Send(Party& from, const std::string& text) {
  auto c = from.session.Encrypt(AsBytes(text));
  EXPECT_TRUE(c.ok());
  return c.ok() ? std::move(*c) : Ciphertext{MessageType::kMessage, {}};
}

class SessionTest : public ::testing::TestWithParam<bool> {
 protected:
  void Start() {
    ASSERT_TRUE(alice.session
                    .ProcessBundle(
                        alice.identity, alice.registration_id,
                        bob.Bundle(rng, GetParam() ? std::optional<uint32_t>(101) : std::nullopt),
                        rng)
                    .ok());
  }
  DeterministicRng rng{42};
  Party alice{rng, 1111};
  Party bob{rng, 2222};
};

TEST_P(SessionTest, FirstMessagesAndReply) {
  Start();
  const Ciphertext first = Send(alice, "hello bob");
  EXPECT_EQ(first.type, MessageType::kPreKey);
  auto got = bob.Receive(first, rng);
  ASSERT_TRUE(got.ok()) << ErrorName(got.code());
  EXPECT_EQ(Text(*got), "hello bob");
  EXPECT_EQ(bob.one_time.count(101), GetParam() ? 0u : 1u) << "one-time prekey consumed";
  // Until Bob answers, Alice keeps sending prekey messages.
  const Ciphertext second = Send(alice, "still there?");
  EXPECT_EQ(second.type, MessageType::kPreKey);
  ASSERT_EQ(Text(*bob.Receive(second, rng)), "still there?");
  const Ciphertext reply = Send(bob, "hi alice");
  EXPECT_EQ(reply.type, MessageType::kMessage);
  ASSERT_EQ(Text(*alice.Receive(reply, rng)), "hi alice");
  EXPECT_EQ(Send(alice, "great").type, MessageType::kMessage);
}

TEST_P(SessionTest, LongConversationWithRandomTurnsLossAndReordering) {
  Start();
  ASSERT_TRUE(bob.Receive(Send(alice, "start"), rng).ok());
  DeterministicRng turns(7);
  struct Held {
    Ciphertext c;
    std::string text;
    int sent_at;
  };
  std::vector<Held> held;  // Alice's messages delivered a few turns late, out of order
  int late_delivered = 0;
  for (int i = 0; i < 1000; ++i) {
    const bool from_alice = turns.Uniform(3) != 0;
    Party& from = from_alice ? alice : bob;
    Party& to = from_alice ? bob : alice;
    const std::string text = "message " + std::to_string(i);
    Ciphertext c = Send(from, text);
    const uint64_t fate = turns.Uniform(10);
    if (fate == 0 && from_alice) {
      held.push_back({std::move(c), text, i});
    } else if (fate != 1) {  // fate 1: lost for good
      auto got = to.Receive(c, rng);
      ASSERT_TRUE(got.ok()) << i << " " << ErrorName(got.code());
      ASSERT_EQ(Text(*got), text);
    }
    // Deliver held messages in random order, each within three turns of being sent (well
    // inside the five receiving chains a state keeps).
    while (!held.empty() && (turns.Uniform(2) == 0 || i - held.front().sent_at >= 3)) {
      const size_t pick = turns.Uniform(held.size());
      Held h = std::move(held[pick]);
      held.erase(held.begin() + static_cast<ptrdiff_t>(pick));
      auto late = bob.Receive(h.c, rng);
      ASSERT_TRUE(late.ok()) << "late " << h.text << " " << ErrorName(late.code());
      ASSERT_EQ(Text(*late), h.text);
      ++late_delivered;
    }
  }
  EXPECT_GT(late_delivered, 30);
}

TEST_P(SessionTest, MessagesFromEvictedChainsFailWithoutHarm) {
  Start();
  ASSERT_TRUE(bob.Receive(Send(alice, "start"), rng).ok());
  const Ciphertext old = Send(alice, "from an old chain");
  // Six round trips: Alice's old sending chain falls out of Bob's five receiving chains.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(alice.Receive(Send(bob, "ping"), rng).ok());
    ASSERT_TRUE(bob.Receive(Send(alice, "pong"), rng).ok());
  }
  EXPECT_EQ(bob.Receive(old, rng).code(), ErrorCode::kAuthenticationFailed);
  ASSERT_EQ(Text(*bob.Receive(Send(alice, "still fine"), rng)), "still fine");
}

TEST_P(SessionTest, FailuresLeaveTheSessionAsItWas) {
  Start();
  ASSERT_TRUE(bob.Receive(Send(alice, "a"), rng).ok());
  ASSERT_TRUE(alice.Receive(Send(bob, "b"), rng).ok());
  const Ciphertext c = Send(alice, "c");
  // Tampered MAC, tampered body, truncated, and garbage.
  Ciphertext bad_mac = {c.type, c.body};
  bad_mac.body.back() ^= 1;
  EXPECT_EQ(bob.Receive(bad_mac, rng).code(), ErrorCode::kAuthenticationFailed);
  Ciphertext bad_body = {c.type, c.body};
  bad_body.body[bad_body.body.size() - 12] ^= 0x40;
  EXPECT_EQ(bob.Receive(bad_body, rng).code(), ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(bob.session.Decrypt(ByteSpan(c.body).first(5), rng).code(), ErrorCode::kMalformed);
  EXPECT_EQ(bob.session.Decrypt(Bytes{0x23, 1, 2, 3, 4, 5, 6, 7, 8, 9}, rng).code(),
            ErrorCode::kUnsupportedVersion);
  // The genuine message still decrypts; a replay of it is a duplicate.
  ASSERT_EQ(Text(*bob.Receive(c, rng)), "c");
  EXPECT_EQ(bob.Receive(c, rng).code(), ErrorCode::kDuplicateMessage);
  ASSERT_EQ(Text(*bob.Receive(Send(alice, "d"), rng)), "d");
}

TEST_P(SessionTest, RefusesMessagesTooFarAhead) {
  Start();
  ASSERT_TRUE(bob.Receive(Send(alice, "a"), rng).ok());
  ASSERT_TRUE(alice.Receive(Send(bob, "b"), rng).ok());
  for (uint32_t i = 0; i <= kMaxMessageGap; ++i) {
    (void)alice.session.Encrypt(AsBytes("skip"));
  }
  EXPECT_EQ(bob.Receive(Send(alice, "far"), rng).code(), ErrorCode::kOversized);
}

TEST(Session, BadBundleSignatureAndUnknownPreKeys) {
  DeterministicRng rng(3);
  Party alice(rng, 1), bob(rng, 2);
  PreKeyBundle bundle = bob.Bundle(rng, 100);
  bundle.signed_pre_key_signature[0] ^= 1;
  EXPECT_EQ(alice.session.ProcessBundle(alice.identity, 1, bundle, rng).code(),
            ErrorCode::kInvalidSignature);
  EXPECT_FALSE(alice.session.has_current());
  ASSERT_TRUE(alice.session.ProcessBundle(alice.identity, 1, bob.Bundle(rng, 100), rng).ok());
  const Ciphertext first = Send(alice, "x");
  bob.one_time.erase(100);
  EXPECT_EQ(bob.Receive(first, rng).code(), ErrorCode::kUnknownPreKey);
  EXPECT_FALSE(bob.session.has_current()) << "a failed prekey message leaves no session";
}

TEST_P(SessionTest, SerializedSessionsCarryOn) {
  Start();
  ASSERT_TRUE(bob.Receive(Send(alice, "one"), rng).ok());
  const Ciphertext skipped = Send(alice, "skipped for now");
  ASSERT_TRUE(bob.Receive(Send(alice, "two"), rng).ok());
  ASSERT_TRUE(alice.Receive(Send(bob, "three"), rng).ok());
  // Both sides go through storage, Bob's with a skipped message key in it.
  for (Party* p : {&alice, &bob}) {
    const SecretBytes bytes = p->session.Serialize();
    auto restored = Session::Deserialize(bytes.span());
    ASSERT_TRUE(restored.ok()) << ErrorName(restored.code());
    EXPECT_TRUE(restored->Serialize().Equals(bytes)) << "round trip is exact";
    p->session = std::move(*restored);
  }
  ASSERT_EQ(Text(*bob.Receive(skipped, rng)), "skipped for now");
  ASSERT_EQ(Text(*alice.Receive(Send(bob, "four"), rng)), "four");
  ASSERT_EQ(Text(*bob.Receive(Send(alice, "five"), rng)), "five");
}

TEST(SessionCodec, RefusesTruncatedGarbageAndOtherVersions) {
  DeterministicRng rng(6);
  Party alice(rng, 1), bob(rng, 2);
  ASSERT_TRUE(alice.session.ProcessBundle(alice.identity, 1, bob.Bundle(rng, 100), rng).ok());
  const SecretBytes bytes = alice.session.Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(Session::Deserialize(bytes.span().first(n)).ok()) << n;
  }
  Bytes longer = ToBytes(bytes.span());
  longer.push_back(0);
  EXPECT_EQ(Session::Deserialize(longer).code(), ErrorCode::kTrailingData);
  Bytes other = ToBytes(bytes.span());
  other[0] = 2;
  EXPECT_EQ(Session::Deserialize(other).code(), ErrorCode::kUnsupportedVersion);
  EXPECT_TRUE(Session::Deserialize(Session().Serialize().span()).ok());
}

TEST(Session, SimultaneousInitiation) {
  DeterministicRng rng(4);
  Party alice(rng, 1), bob(rng, 2);
  ASSERT_TRUE(alice.session.ProcessBundle(alice.identity, 1, bob.Bundle(rng, 100), rng).ok());
  ASSERT_TRUE(bob.session.ProcessBundle(bob.identity, 2, alice.Bundle(rng, 100), rng).ok());
  const Ciphertext from_alice = Send(alice, "hi from alice");
  const Ciphertext from_bob = Send(bob, "hi from bob");
  ASSERT_EQ(Text(*bob.Receive(from_alice, rng)), "hi from alice");
  ASSERT_EQ(Text(*alice.Receive(from_bob, rng)), "hi from bob");
  // Whichever state each now uses, the conversation goes on both ways.
  for (int i = 0; i < 10; ++i) {
    auto a = alice.Receive(Send(bob, "b" + std::to_string(i)), rng);
    ASSERT_TRUE(a.ok()) << i << " " << ErrorName(a.code());
    auto b = bob.Receive(Send(alice, "a" + std::to_string(i)), rng);
    ASSERT_TRUE(b.ok()) << i << " " << ErrorName(b.code());
  }
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutOneTimePreKey, SessionTest, ::testing::Bool());

}  // namespace
}  // namespace holdfast::signal
