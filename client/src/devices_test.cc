// Integration tests of several devices per account, and of the keys a device keeps on the
// server over time (one-time prekey refills, signed prekey rotation), against the real
// holdfastd.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/wire/client.h"
#include "holdfast/wire/frame.h"
#include "test_server.h"

namespace holdfast::client {
namespace {

namespace pb = wire::pb;
using std::chrono::milliseconds;

class DevicesTest : public ServerTest {
 protected:
  // Link links the new device `home` to the account of `primary`, which answers from this
  // thread while the new device waits on another.
  void Link(Messenger& primary, const std::string& home) {
    auto code = primary.CreateLinkCode();
    ASSERT_TRUE(code.ok()) << PersonError(code.error());
    Messenger& fresh = User(home);
    std::atomic<bool> done{false};
    Result<void> linked = Error{ErrorCode::kUnavailable};
    std::thread t([&] {
      linked = fresh.Link(*code, milliseconds(10000));
      done = true;
    });
    bool announced = false;
    for (int i = 0; i < 100 && !done; ++i) {
      for (const auto& e : Receive(primary)) {
        announced = announced || e.kind == Event::Kind::kDeviceLinked;
      }
    }
    t.join();
    ASSERT_TRUE(linked.ok()) << PersonError(linked.error());
    EXPECT_TRUE(announced);
    EXPECT_TRUE(fresh.registered());
    EXPECT_EQ(fresh.phone(), primary.phone());
  }

  // Dial opens a wire connection to the server, as any client may.
  std::unique_ptr<wire::Client> Dial() {
    wire::ClientOptions o;
    o.url = server_.url();
    o.timeout = milliseconds(5000);
    auto c = wire::Client::Connect(o);
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(c).value() : nullptr;
  }
  static bool SignIn(wire::Client& c, const std::string& account, uint32_t device,
                     const std::string& credential) {
    pb::Request a;
    a.mutable_auth()->set_account_id(account);
    a.mutable_auth()->set_device_id(device);
    a.mutable_auth()->set_credential(credential);
    auto res = c.Call(a);
    return res.ok() && res->status() == pb::OK;
  }

  // RawDevice registers an account through the wire protocol alone, to ask the server for
  // bundles the way any client may.
  std::unique_ptr<wire::Client> RawDevice(const std::string& phone) {
    auto c = Dial();
    if (c == nullptr) {
      return nullptr;
    }
    pb::Request reg;
    reg.mutable_register_()->set_phone(phone);
    EXPECT_EQ(c->Call(reg)->status(), pb::OK);
    pb::Request v;
    v.mutable_verify()->set_phone(phone);
    v.mutable_verify()->set_code(Code(phone));
    v.mutable_verify()->set_credential(std::string(32, 'c'));
    v.mutable_verify()->set_registration_id(7);
    auto verified = c->Call(v);
    EXPECT_TRUE(verified.ok() && verified->status() == pb::OK);
    EXPECT_TRUE(SignIn(*c, verified->verify().account_id(), verified->verify().device_id(),
                       std::string(32, 'c')));
    return c;
  }

  static pb::Bundle FetchBundle(wire::Client& c, const std::string& account) {
    pb::Request r;
    r.mutable_get_bundles()->set_account_id(account);
    r.mutable_get_bundles()->set_device_id(1);
    auto res = c.Call(r);
    EXPECT_TRUE(res.ok() && res->status() == pb::OK && res->get_bundles().bundles_size() == 1);
    return res.ok() && res->get_bundles().bundles_size() == 1 ? res->get_bundles().bundles(0)
                                                               : pb::Bundle();
  }

  static std::string AccountOf(Messenger& m, const std::string& phone) {
    auto contacts = m.Contacts();
    for (const auto& c : *contacts) {
      if (c.phone == phone) {
        return c.account_id;
      }
    }
    return "";
  }
};

TEST_F(DevicesTest, EveryDeviceOfEveryoneGetsEveryMessage) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550201");
  Messenger& bob = Register("bob", "+14155550202");
  Messenger& carol = Register("carol", "+14155550203");
  ASSERT_NO_FATAL_FAILURE(Link(alice, "alice-laptop"));
  ASSERT_NO_FATAL_FAILURE(Link(bob, "bob-laptop"));
  ASSERT_NO_FATAL_FAILURE(Link(bob, "bob-tablet"));
  Messenger& alice2 = User("alice-laptop");
  Messenger& bob2 = User("bob-laptop");
  Messenger& bob3 = User("bob-tablet");
  auto devices = bob3.Devices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 3u);

  // Alice's phone writes to Bob: all three of his devices read it, and her laptop gets a copy.
  ASSERT_TRUE(alice.SendText("+14155550202", "to all of bob").ok());
  for (Messenger* m : {&bob, &bob2, &bob3}) {
    EXPECT_EQ(Texts(Receive(*m)), std::vector<std::string>{"to all of bob"});
  }
  auto copy = Receive(alice2);
  ASSERT_EQ(Texts(copy), std::vector<std::string>{"to all of bob"});
  auto synced = std::find_if(copy.begin(), copy.end(),
                             [](const Event& e) { return e.kind == Event::Kind::kMessage; });
  EXPECT_TRUE(synced->message.outgoing);
  EXPECT_EQ(synced->conversation, "+14155550202");

  // Bob's tablet answers; Carol writes to Alice: both of Alice's devices read both.
  ASSERT_TRUE(bob3.SendText("+14155550201", "from bob's tablet").ok());
  ASSERT_TRUE(carol.SendText("+14155550201", "from carol").ok());
  for (Messenger* m : {&alice, &alice2}) {
    EXPECT_EQ(Texts(Receive(*m)), (std::vector<std::string>{"from bob's tablet", "from carol"}));
  }
  // Bob's other devices get the tablet's message as a sent copy.
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"from bob's tablet"});
  EXPECT_EQ(Texts(Receive(bob2)), std::vector<std::string>{"from bob's tablet"});

  // A group across all of them, made on Alice's laptop: her phone learns it too, sees the
  // laptop's message as her own, and can write to the group itself.
  auto group = alice2.CreateGroup("all devices", {"+14155550202", "+14155550203"});
  ASSERT_TRUE(group.ok()) << PersonError(group.error());
  ASSERT_TRUE(alice2.SendGroupText(*group, "group hello").ok());
  for (Messenger* m : {&bob, &bob2, &bob3, &carol}) {
    EXPECT_EQ(Texts(Receive(*m)), std::vector<std::string>{"group hello"});
  }
  auto at_phone = Receive(alice);
  EXPECT_EQ(Texts(at_phone), std::vector<std::string>{"group hello"});
  EXPECT_EQ(Count(at_phone, Event::Kind::kGroupUpdated), 1u);
  auto phone_groups = alice.Groups();
  ASSERT_TRUE(phone_groups.ok());
  ASSERT_EQ(phone_groups->size(), 1u);
  EXPECT_EQ((*phone_groups)[0].members.size(), 2u);
  ASSERT_TRUE(alice.SendGroupText(*group, "from alice's phone").ok());
  EXPECT_EQ(Texts(Receive(carol)), std::vector<std::string>{"from alice's phone"});
  EXPECT_EQ(Texts(Receive(alice2)), std::vector<std::string>{"from alice's phone"});
  for (Messenger* m : {&bob, &bob2, &bob3}) {
    EXPECT_EQ(Texts(Receive(*m)), std::vector<std::string>{"from alice's phone"});
  }

  // Bob's phone unlinks the tablet: it is signed out, and senders stop addressing it.
  ASSERT_TRUE(bob.RemoveDevice(3).ok());
  auto gone = bob3.Receive(kSettle);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.code(), ErrorCode::kAuthenticationFailed);
  ASSERT_TRUE(carol.SendText("+14155550202", "two devices now").ok());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"two devices now"});
  EXPECT_EQ(Texts(Receive(bob2)), std::vector<std::string>{"two devices now"});
}

TEST_F(DevicesTest, AWrongLinkSecretGetsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550211");
  auto code = alice.CreateLinkCode();
  ASSERT_TRUE(code.ok());
  // The server's part of the code with another secret: the device joins the account on the
  // server, but the primary never answers it.
  std::string forged = *code;
  forged.back() = forged.back() == '0' ? '1' : '0';
  Messenger& mallory = User("mallory");
  std::atomic<bool> done{false};
  Result<void> linked = Ok();
  std::thread t([&] {
    linked = mallory.Link(forged, milliseconds(1500));
    done = true;
  });
  size_t announced = 0;
  while (!done) {
    announced += Count(Receive(alice), Event::Kind::kDeviceLinked);
  }
  t.join();
  EXPECT_FALSE(linked.ok());
  EXPECT_EQ(announced, 0u);
  EXPECT_FALSE(mallory.registered());
  // The device the server made for it is gone again: a member without keys would stop
  // every send to Alice's account.
  auto devices = alice.Devices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
  EXPECT_EQ(mallory.Link("not a code", milliseconds(100)).code(), ErrorCode::kInvalidArgument);
}

TEST_F(DevicesTest, AGhostDeviceAddedWithoutTheLinkSecretIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550241");
  Messenger& bob = Register("bob", "+14155550242");
  ASSERT_TRUE(alice.SendText("+14155550242", "before").ok());
  EXPECT_EQ(Texts(Receive(bob)), std::vector<std::string>{"before"});
  // Whoever runs the server can add a device to Alice's account with a link code alone, and
  // give it keys of its own; it cannot have Alice's identity key.
  auto code = alice.CreateLinkCode();
  ASSERT_TRUE(code.ok());
  auto ghost = Dial();
  ASSERT_NE(ghost, nullptr);
  pb::Request link;
  link.mutable_link_device()->set_code(code->substr(0, code->find('-')));
  link.mutable_link_device()->set_credential(std::string(32, 'g'));
  link.mutable_link_device()->set_registration_id(99);
  auto linked = ghost->Call(link);
  ASSERT_TRUE(linked.ok() && linked->status() == pb::OK);
  ASSERT_TRUE(SignIn(*ghost, linked->link_device().account_id(),
                     linked->link_device().device_id(), std::string(32, 'g')));
  crypto::SystemRng rng;
  const auto identity = crypto::X25519KeyPair::Generate(rng);
  const auto spk = crypto::X25519KeyPair::Generate(rng);
  const auto sig = crypto::XEdDsaSign(identity.private_key, spk.public_key.Serialize(), rng);
  ASSERT_TRUE(sig.ok());
  pb::Request keys;
  const auto id_bytes = identity.public_key.Serialize();
  const auto spk_bytes = spk.public_key.Serialize();
  keys.mutable_set_keys()->set_identity_key(std::string(id_bytes.begin(), id_bytes.end()));
  keys.mutable_set_keys()->mutable_signed_pre_key()->set_id(1);
  keys.mutable_set_keys()->mutable_signed_pre_key()->set_public_key(
      std::string(spk_bytes.begin(), spk_bytes.end()));
  keys.mutable_set_keys()->mutable_signed_pre_key()->set_signature(
      std::string(sig->begin(), sig->end()));
  ASSERT_EQ(ghost->Call(keys)->status(), pb::OK);

  // Alice's next send would copy the message to the ghost: her client refuses and says why.
  auto sent = alice.SendText("+14155550242", "after");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.code(), ErrorCode::kUntrustedIdentity);
  EXPECT_NE(PersonError(sent.error()).find("was not linked from here"), std::string::npos)
      << PersonError(sent.error());
  // Once she unlinks it, everything works again.
  ASSERT_TRUE(alice.RemoveDevice(linked->link_device().device_id()).ok());
  ASSERT_TRUE(alice.SendText("+14155550242", "ghost gone").ok());
  EXPECT_EQ(Texts(Receive(bob)), (std::vector<std::string>{"after", "ghost gone"}));
}

TEST_F(DevicesTest, OneTimePreKeysAreRefilledWhenTheServerRunsLow) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550221");
  Register("bob", "+14155550222");
  ASSERT_TRUE(alice.SafetyNumber("+14155550222").ok());  // looks Bob up (takes one prekey)
  const std::string bob_account = AccountOf(alice, "+14155550222");
  ASSERT_EQ(bob_account.size(), 16u);
  auto raw = RawDevice("+14155550223");
  ASSERT_NE(raw, nullptr);
  for (int i = 0; i < 95; ++i) {  // 100 uploaded, 1 taken above: 4 left
    EXPECT_TRUE(FetchBundle(*raw, bob_account).has_one_time_pre_key());
  }
  Receive(User("bob"));  // Bob's device notices and uploads another 100
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(FetchBundle(*raw, bob_account).has_one_time_pre_key()) << i;
  }
}

TEST_F(DevicesTest, TheSignedPreKeyIsRotatedAndTheOldOneStillOpensMessages) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Messenger& alice = Register("alice", "+14155550231");
  {
    MessengerOptions o = Options("bob");
    o.signed_prekey_rotation = milliseconds(0);  // due at every Receive
    auto bob = Messenger::Open(o);
    ASSERT_TRUE(bob.ok());
    ASSERT_TRUE((*bob)->Register("+14155550232").ok());
    ASSERT_TRUE((*bob)->Verify(Code("+14155550232")).ok());
  }
  // Alice starts a session from Bob's first signed prekey...
  ASSERT_TRUE(alice.SafetyNumber("+14155550232").ok());
  const std::string bob_account = AccountOf(alice, "+14155550232");
  auto raw = RawDevice("+14155550233");
  ASSERT_NE(raw, nullptr);
  const uint32_t before = FetchBundle(*raw, bob_account).signed_pre_key().id();
  // ...Bob rotates...
  MessengerOptions o = Options("bob");
  o.signed_prekey_rotation = milliseconds(0);
  auto bob = Messenger::Open(o);
  ASSERT_TRUE(bob.ok());
  Receive(**bob);
  const uint32_t after = FetchBundle(*raw, bob_account).signed_pre_key().id();
  EXPECT_EQ(after, before + 1);
  // ...and Alice's first message, built on the old one, still opens.
  ASSERT_TRUE(alice.SendText("+14155550232", "on the old signed prekey").ok());
  EXPECT_EQ(Texts(Receive(**bob)), std::vector<std::string>{"on the old signed prekey"});
}

}  // namespace
}  // namespace holdfast::client
