// Integration tests: clients built on this library talk through the real holdfastd, spawned
// on 127.0.0.1 (port 0) with development codes. Every test starts its own server and stops
// it; every wait is bounded.
#include "holdfast/client/messenger.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "holdfast/client/local_store.h"
#include "holdfast/common/encoding.h"
#include "holdfast/crypto/random.h"
#include "holdfast/signal/messenger.h"
#include "test_server.h"

namespace holdfast::client {
namespace {

class MessengerTest : public ServerTest {};

TEST_F(MessengerTest, TwoUsersTalkBothWaysWithReceiptsAndThenSealedSender) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550001");
  Messenger& bob = Register("bob", "+14155550002");

  // Alice does not know Bob's access key yet: her first message goes signed in.
  auto first = alice.SendText("+14155550002", "hello bob");
  ASSERT_TRUE(first.ok()) << PersonError(first.error());
  EXPECT_FALSE(first->sealed);
  auto at_bob = Receive(bob);
  ASSERT_EQ(Texts(at_bob), std::vector<std::string>{"hello bob"});
  EXPECT_EQ(at_bob[0].message.sender, "+14155550001");
  EXPECT_FALSE(at_bob[0].message.sealed);

  // Bob learned Alice's access key from it: his answer is sealed, the server sees no sender.
  auto reply = bob.SendText("+14155550001", "hi alice");
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->sealed);
  auto at_alice = Receive(alice);
  ASSERT_EQ(Texts(at_alice), std::vector<std::string>{"hi alice"});
  EXPECT_TRUE(std::find_if(at_alice.begin(), at_alice.end(), [](const Event& e) {
                return e.kind == Event::Kind::kMessage && e.message.sealed &&
                       e.message.sender == "+14155550002";
              }) != at_alice.end());
  // Bob's device sent a delivery receipt for "hello bob".
  EXPECT_EQ(Count(at_alice, Event::Kind::kDelivered), 1u);
  auto history = alice.History("+14155550002");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_TRUE((*history)[0].outgoing);
  EXPECT_EQ((*history)[0].status, Message::Status::kDelivered);

  // Alice reads Bob's message: Bob gets a read receipt.
  ASSERT_TRUE(alice.MarkRead("+14155550002").ok());
  auto convs = alice.Conversations();
  ASSERT_TRUE(convs.ok());
  ASSERT_EQ(convs->size(), 1u);
  EXPECT_EQ((*convs)[0].unread, 0u);
  auto receipts = Receive(bob);
  EXPECT_EQ(Count(receipts, Event::Kind::kDelivered), 1u);
  EXPECT_EQ(Count(receipts, Event::Kind::kRead), 1u);
  auto bob_history = bob.History("+14155550001");
  ASSERT_TRUE(bob_history.ok());
  ASSERT_EQ(bob_history->size(), 2u);
  EXPECT_EQ((*bob_history)[1].status, Message::Status::kRead);

  // Now Alice's messages are sealed too, and both sides see the same safety number.
  auto sealed = alice.SendText("+14155550002", "sealed now");
  ASSERT_TRUE(sealed.ok());
  EXPECT_TRUE(sealed->sealed);
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"sealed now"});
  auto sa = alice.SafetyNumber("+14155550002");
  auto sb = bob.SafetyNumber("+14155550001");
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sa->displayable.size(), 60u);
  EXPECT_EQ(sa->displayable, sb->displayable);
}

TEST_F(MessengerTest, OfflineMessagesArriveInOrderExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550011");
  Register("bob", "+14155550012");
  Close("bob");  // offline
  std::vector<std::string> sent;
  for (int i = 0; i < 12; ++i) {
    sent.push_back("offline " + std::to_string(i));
    ASSERT_TRUE(alice.SendText("+14155550012", sent.back()).ok());
  }
  Messenger& bob = User("bob");
  EXPECT_EQ(Texts(Receive(bob)), sent);
  EXPECT_TRUE(Texts(Receive(bob)).empty()) << "acked messages must not come back";
  auto history = bob.History("+14155550011");
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->size(), sent.size());
}

TEST_F(MessengerTest, AGroupOfThreeAndARemovalThatRotatesTheSenderKey) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550021");
  Messenger& bob = Register("bob", "+14155550022");
  Messenger& carol = Register("carol", "+14155550023");
  auto group = alice.CreateGroup("friends", {"+14155550022", "+14155550023"});
  ASSERT_TRUE(group.ok()) << PersonError(group.error());
  ASSERT_TRUE(alice.SendGroupText(*group, "hi all").ok());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"hi all"});
  EXPECT_EQ(Texts(Receive(carol)), std::vector<std::string>{"hi all"});
  // Members who never talked before reach each other through the group.
  auto from_bob = bob.SendGroupText(*group, "bob here");
  ASSERT_TRUE(from_bob.ok()) << PersonError(from_bob.error());
  EXPECT_EQ(Texts(Receive(alice)), std::vector<std::string>{"bob here"});
  EXPECT_EQ(Texts(Receive(carol)), std::vector<std::string>{"bob here"});
  // Carol knew Bob only from the member list; his messages gave her his identity key, so she
  // can write to him directly, and a later change of it would be noticed.
  auto direct = carol.SendText("+14155550022", "carol to bob directly");
  ASSERT_TRUE(direct.ok()) << PersonError(direct.error());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"carol to bob directly"});
  auto carol_view = carol.SafetyNumber("+14155550022");
  auto bob_view = bob.SafetyNumber("+14155550023");
  ASSERT_TRUE(carol_view.ok() && bob_view.ok());
  EXPECT_EQ(carol_view->displayable, bob_view->displayable);
  auto groups = carol.Groups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].name, "friends");
  EXPECT_EQ((*groups)[0].members.size(), 2u);

  // Before the removal, Carol holds Alice's current sender key: a message Alice's store
  // encrypts now opens with Carol's store. After it, it must not.
  const auto alice_account = [&] {
    auto contacts = bob.Contacts();
    for (const auto& c : *contacts) {
      if (c.phone == "+14155550021") {
        return c.account_id;
      }
    }
    return std::string();
  }();
  ASSERT_EQ(alice_account.size(), 16u);
  const std::string alice_addr = HexEncode(AsBytes(alice_account)) + ".1";
  auto carol_can_read_alice = [&]() -> bool {
    Close("alice");
    Close("carol");
    crypto::SystemRng rng;
    auto a = LocalStore::Open(dir_ + "/alice/holdfast.db",
                              StoreSecret{StoreSecret::Kind::kPassphrase,
                                          SecretBytes::Copy(AsBytes("pw"))});
    auto c = LocalStore::Open(dir_ + "/carol/holdfast.db",
                              StoreSecret{StoreSecret::Kind::kPassphrase,
                                          SecretBytes::Copy(AsBytes("pw"))});
    EXPECT_TRUE(a.ok() && c.ok());
    auto a_proto = signal::NewProtocolStore(**a);
    auto c_proto = signal::NewProtocolStore(**c);
    // Alice's store encrypts a probe (not sent anywhere; it rolls her chain forward, which
    // a receiver tolerates).
    auto probe = signal::GroupEncrypt(*a_proto, *group, alice_addr, AsBytes("probe"), rng);
    EXPECT_TRUE(probe.ok());
    c_proto->Begin().ok();
    auto opened = signal::GroupDecrypt(*c_proto, *group, alice_addr, *probe);
    c_proto->Rollback();
    return opened.ok();
  };
  EXPECT_TRUE(carol_can_read_alice()) << "the check itself must see a shared key";

  Messenger& alice2 = User("alice");
  ASSERT_TRUE(alice2.RemoveMembers(*group, {"+14155550023"}).ok());
  ASSERT_TRUE(alice2.SendGroupText(*group, "without carol").ok());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"without carol"});
  Messenger& carol2 = User("carol");
  auto at_carol = Receive(carol2);
  EXPECT_TRUE(Texts(at_carol).empty());
  EXPECT_EQ(Count(at_carol, Event::Kind::kGroupUpdated), 1u);
  EXPECT_EQ(carol2.SendGroupText(*group, "still here?").code(), ErrorCode::kNotFound);
  EXPECT_FALSE(carol_can_read_alice()) << "Carol still holds Alice's sender key";
}

TEST_F(MessengerTest, ANewGroupMemberReadsWhatFollowsAndNothingBefore) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550071");
  Messenger& bob = Register("bob", "+14155550072");
  Messenger& dave = Register("dave", "+14155550074");
  auto group = alice.CreateGroup("book club", {"+14155550072"});
  ASSERT_TRUE(group.ok());
  ASSERT_TRUE(alice.SendGroupText(*group, "before dave").ok());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"before dave"});
  ASSERT_TRUE(alice.AddMembers(*group, {"+14155550074"}).ok());
  ASSERT_TRUE(alice.SendGroupText(*group, "welcome dave").ok());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"welcome dave"});
  ASSERT_TRUE(bob.SendGroupText(*group, "hi dave, bob here").ok());
  auto at_dave = Receive(dave);
  EXPECT_EQ(Texts(at_dave), (std::vector<std::string>{"welcome dave", "hi dave, bob here"}));
  EXPECT_EQ(Count(at_dave, Event::Kind::kGroupUpdated), 1u);
  auto groups = dave.Groups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].members.size(), 2u);
  ASSERT_TRUE(dave.SendGroupText(*group, "thanks").ok());
  EXPECT_EQ(Texts(Receive(alice)), (std::vector<std::string>{"hi dave, bob here", "thanks"}));
}

TEST_F(MessengerTest, TextInAnyScriptIsStoredAndInvalidTextIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550081");
  Messenger& bob = Register("bob", "+14155550082");
  // 79 ASCII letters and then two-byte letters: a conversation's preview, cut at 80 bytes,
  // must not split one (a record with half a character would no longer parse).
  const std::string long_text = std::string(79, 'a') + "\xC3\xA9\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 "
                                "\xF0\x9F\x98\x80 \xD8\xB3\xD9\x84\xD8\xA7\xD9\x85";
  ASSERT_TRUE(alice.SendText("+14155550082", long_text).ok());
  ASSERT_TRUE(alice.SendText("+14155550082", "and after it").ok());
  EXPECT_EQ(Texts(Receive(bob)), (std::vector<std::string>{long_text, "and after it"}));
  auto convs = bob.Conversations();
  ASSERT_TRUE(convs.ok()) << PersonError(convs.error());
  ASSERT_EQ(convs->size(), 1u);
  EXPECT_LE((*convs)[0].last_text.size(), 80u);
  ASSERT_TRUE(bob.SendText("+14155550081", long_text).ok());
  EXPECT_EQ(Texts(Receive(alice)), std::vector<std::string>{long_text});
  // Bytes that are not UTF-8 are refused before anything is sent or stored.
  EXPECT_EQ(alice.SendText("+14155550082", "bad \xFF byte").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(alice.SendText("+14155550082", std::string(64 * 1024 + 1, 'x')).code(),
            ErrorCode::kOversized);
  EXPECT_TRUE(Texts(Receive(bob)).empty());
}

TEST_F(MessengerTest, RemovingAMemberWhoseSafetyNumberChangedStillRotatesTheKey) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550091");
  Messenger& bob = Register("bob", "+14155550092");
  Register("carol", "+14155550093");
  auto group = alice.CreateGroup("trip", {"+14155550092", "+14155550093"});
  ASSERT_TRUE(group.ok());
  // Carol's phone is lost; someone registers her number on a new device and writes.
  Close("carol");
  Messenger& carol2 = Register("carol-new", "+14155550093");
  ASSERT_TRUE(carol2.SendText("+14155550091", "it's me, new phone").ok());
  EXPECT_EQ(Count(Receive(alice), Event::Kind::kIdentityChanged), 1u);
  // Alice removes Carol without accepting the new key: the removal and the rotation go
  // through (only telling Carol is skipped), and the group works on.
  auto removed = alice.RemoveMembers(*group, {"+14155550093"});
  ASSERT_TRUE(removed.ok()) << PersonError(removed.error());
  ASSERT_TRUE(alice.SendGroupText(*group, "just us now").ok());
  auto at_bob = Receive(bob);
  EXPECT_EQ(Texts(at_bob), std::vector<std::string>{"just us now"});
  auto groups = bob.Groups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].members, std::vector<std::string>{"+14155550091"});
  EXPECT_TRUE(Texts(Receive(carol2)).empty());
}

TEST_F(MessengerTest, AChangedSafetyNumberStopsSendingUntilTrusted) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550031");
  Register("bob", "+14155550032");
  ASSERT_TRUE(alice.SendText("+14155550032", "before").ok());
  EXPECT_EQ(Texts(Receive(User("bob"))), std::vector<std::string>{"before"});
  auto before = alice.SafetyNumber("+14155550032");
  ASSERT_TRUE(before.ok());

  // Bob reinstalls: a new device registers the same number with a new identity key.
  Close("bob");
  Messenger& bob2 = Register("bob-new", "+14155550032");
  ASSERT_TRUE(bob2.SendText("+14155550031", "new phone").ok());
  auto at_alice = Receive(alice);
  EXPECT_EQ(Texts(at_alice), std::vector<std::string>{"new phone"});
  EXPECT_EQ(Count(at_alice, Event::Kind::kIdentityChanged), 1u);

  auto refused = alice.SendText("+14155550032", "are you really bob?");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), ErrorCode::kUntrustedIdentity);
  EXPECT_NE(PersonError(refused.error()).find("safety number changed"), std::string::npos);
  auto contacts = alice.Contacts();
  ASSERT_TRUE(contacts.ok());
  EXPECT_TRUE((*contacts)[0].identity_changed);
  auto after = alice.SafetyNumber("+14155550032");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->displayable, before->displayable);
  auto bobs_view = bob2.SafetyNumber("+14155550031");
  ASSERT_TRUE(bobs_view.ok());
  EXPECT_EQ(after->displayable, bobs_view->displayable);

  // Accepting checks the number the user compared: a stale or mistyped one is refused.
  std::string stale = after->displayable;
  stale[0] = stale[0] == '1' ? '2' : '1';
  EXPECT_EQ(alice.Trust("+14155550032", stale).code(), ErrorCode::kUntrustedIdentity);
  EXPECT_EQ(alice.SendText("+14155550032", "still paused").code(), ErrorCode::kUntrustedIdentity);
  ASSERT_TRUE(alice.Trust("+14155550032", after->displayable).ok());
  ASSERT_TRUE(alice.SendText("+14155550032", "verified").ok());
  EXPECT_EQ(Texts(Receive(bob2)), std::vector<std::string>{"verified"});
}

TEST_F(MessengerTest, AWrongPassphraseIsAClearErrorAndNothingIsLost) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Register("alice", "+14155550041");
  Close("alice");
  auto wrong = Messenger::Open(Options("alice", "not the passphrase"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.code(), kWrongSecret);
  EXPECT_EQ(PersonError(wrong.error()), "wrong passphrase or key file");
  EXPECT_TRUE(User("alice").registered());
  // A second process on the same home is refused while the first holds it.
  auto second = Messenger::Open(Options("alice"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), ErrorCode::kUnavailable);
}

TEST_F(MessengerTest, TheServerRestartsMidConversation) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string listen = "127.0.0.1:" + std::to_string(server_.port());
  Messenger& alice = Register("alice", "+14155550051");
  Messenger& bob = Register("bob", "+14155550052");
  ASSERT_TRUE(alice.SendText("+14155550052", "one").ok());
  ASSERT_EQ(server_.Stop(kStartWait), 0);

  auto down = alice.SendText("+14155550052", "lost?");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(PersonError(down.error()), "server unreachable");
  auto history = alice.History("+14155550052");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->back().status, Message::Status::kFailed);

  ASSERT_NO_FATAL_FAILURE(StartServer(false, listen));
  ASSERT_TRUE(alice.SendText("+14155550052", "two").ok());
  EXPECT_EQ(Texts(Receive(bob)), (std::vector<std::string>{"one", "two"}));
  ASSERT_TRUE(bob.SendText("+14155550051", "got both").ok());
  EXPECT_EQ(Texts(Receive(alice)), std::vector<std::string>{"got both"});
}

TEST_F(MessengerTest, TheTlsCertificateIsPinnedAtFirstContact) {
  ASSERT_NO_FATAL_FAILURE(StartServer(/*tls=*/true));
  const std::string listen = "127.0.0.1:" + std::to_string(server_.port());
  Messenger& alice = Register("alice", "+14155550061");
  EXPECT_EQ(alice.server_pin(), server_.fingerprint());
  Register("bob", "+14155550062");
  ASSERT_TRUE(alice.SendText("+14155550062", "over tls").ok());
  EXPECT_EQ(Texts(Receive(User("bob"))), std::vector<std::string>{"over tls"});

  // The server comes back with another certificate: the client refuses to talk to it.
  ASSERT_EQ(server_.Stop(kStartWait), 0);
  std::filesystem::remove(dir_ + "/server/tls/cert.pem");
  std::filesystem::remove(dir_ + "/server/tls/key.pem");
  ASSERT_NO_FATAL_FAILURE(StartServer(true, listen));
  ASSERT_NE(server_.fingerprint(), alice.server_pin());
  auto refused = alice.SendText("+14155550062", "to an impostor?");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), ErrorCode::kAuthenticationFailed);
  EXPECT_NE(PersonError(refused.error()).find("pinned"), std::string::npos);
}

}  // namespace
}  // namespace holdfast::client
