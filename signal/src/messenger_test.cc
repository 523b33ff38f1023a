#include "holdfast/signal/messenger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "holdfast/common/rng.h"

namespace holdfast::signal {
namespace {

std::string Text(const SecretBytes& b) { return std::string(b.span().begin(), b.span().end()); }

class StoreFactory {
 public:
  explicit StoreFactory(bool sqlite) : sqlite_(sqlite) {
    char tmpl[] = "/tmp/holdfast-signal-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~StoreFactory() { std::filesystem::remove_all(dir_); }
  // Open (re)opens the store called `name`: a SQLite store is closed and opened again from
  // its file; a memory store stays as it is.
  ProtocolStore& Open(const std::string& name) {
    auto& slot = stores_[name];
    if (!sqlite_) {
      if (!slot) {
        slot = NewMemoryProtocolStore();
      }
      return *slot;
    }
    slot.reset();
    auto s = OpenSqliteProtocolStore(dir_ + "/" + name + ".db");
    EXPECT_TRUE(s.ok());
    slot = std::move(*s);
    return *slot;
  }

 private:
  bool sqlite_;
  std::string dir_;
  std::map<std::string, std::unique_ptr<ProtocolStore>> stores_;
};

class Messenger : public ::testing::TestWithParam<bool> {
 protected:
  StoreFactory stores{GetParam()};
  DeterministicRng rng{9};
};

TEST_P(Messenger, BundlesNeverRepeatAPreKeyAndRefill) {
  ProtocolStore* bob = &stores.Open("bob");
  ASSERT_TRUE(InitLocal(*bob, rng, 77, 3).ok());
  EXPECT_EQ(InitLocal(*bob, rng, 77, 3).code(), ErrorCode::kAlreadyExists);
  std::set<uint32_t> seen;
  for (int i = 0; i < 8; ++i) {
    auto b = NextBundle(*bob, rng);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE(b->pre_key_id.has_value());
    EXPECT_TRUE(seen.insert(*b->pre_key_id).second)
        << "prekey " << *b->pre_key_id << " handed out twice";
    EXPECT_EQ(b->registration_id, 77u);
  }
}

TEST_P(Messenger, ConversationThroughStoresSurvivesReopening) {
  {
    ProtocolStore* alice = &stores.Open("alice");
    ProtocolStore* bob = &stores.Open("bob");
    ASSERT_TRUE(InitLocal(*alice, rng, 1, 5).ok());
    ASSERT_TRUE(InitLocal(*bob, rng, 2, 5).ok());
    ASSERT_TRUE(StartSession(*alice, "bob", *NextBundle(*bob, rng), rng).ok());
    auto first = EncryptTo(*alice, "bob", AsBytes("hello"));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->type, MessageType::kPreKey);
    const size_t prekeys_before = bob->PreKeyIds()->size();
    ASSERT_EQ(Text(*DecryptFrom(*bob, "alice", *first, rng)), "hello");
    EXPECT_EQ(bob->PreKeyIds()->size(), prekeys_before - 1) << "used one-time prekey removed";
  }
  for (int round = 0; round < 5; ++round) {  // reopen the stores every round
    ProtocolStore* alice = &stores.Open("alice");
    ProtocolStore* bob = &stores.Open("bob");
    auto reply = EncryptTo(*bob, "alice", AsBytes("reply " + std::to_string(round)));
    ASSERT_TRUE(reply.ok());
    ASSERT_EQ(Text(*DecryptFrom(*alice, "bob", *reply, rng)), "reply " + std::to_string(round));
    auto next = EncryptTo(*alice, "bob", AsBytes("next"));
    ASSERT_EQ(next->type, MessageType::kMessage);
    ASSERT_EQ(Text(*DecryptFrom(*bob, "alice", *next, rng)), "next");
  }
}

TEST_P(Messenger, FailedDecryptionLeavesTheStoreUnchanged) {
  ProtocolStore* alice = &stores.Open("alice");
  ProtocolStore* bob = &stores.Open("bob");
  ASSERT_TRUE(InitLocal(*alice, rng, 1, 5).ok());
  ASSERT_TRUE(InitLocal(*bob, rng, 2, 5).ok());
  ASSERT_TRUE(StartSession(*alice, "bob", *NextBundle(*bob, rng), rng).ok());
  ASSERT_TRUE(DecryptFrom(*bob, "alice", *EncryptTo(*alice, "bob", AsBytes("a")), rng).ok());
  // (A prekey message's outer fields are not authenticated, as in libsignal; tamper with an
  // ordinary message, whose every byte is.)
  ASSERT_TRUE(DecryptFrom(*alice, "bob", *EncryptTo(*bob, "alice", AsBytes("ack")), rng).ok());
  Ciphertext m = *EncryptTo(*alice, "bob", AsBytes("b"));
  ASSERT_EQ(m.type, MessageType::kMessage);
  const auto before = bob->LoadSession("alice");
  m.body.back() ^= 1;
  EXPECT_EQ(DecryptFrom(*bob, "alice", m, rng).code(), ErrorCode::kAuthenticationFailed);
  EXPECT_TRUE((*before)->Equals(**bob->LoadSession("alice")));
  m.body.back() ^= 1;
  ASSERT_EQ(Text(*DecryptFrom(*bob, "alice", m, rng)), "b");
  EXPECT_EQ(DecryptFrom(*bob, "alice", m, rng).code(), ErrorCode::kDuplicateMessage);
}

TEST_P(Messenger, AChangedIdentityIsRefusedUntilAccepted) {
  ProtocolStore* alice = &stores.Open("alice");
  ProtocolStore* bob = &stores.Open("bob");
  ProtocolStore* new_bob = &stores.Open("new-bob");
  ASSERT_TRUE(InitLocal(*alice, rng, 1, 5).ok());
  ASSERT_TRUE(InitLocal(*bob, rng, 2, 5).ok());
  ASSERT_TRUE(InitLocal(*new_bob, rng, 3, 5).ok());  // Bob reinstalled: a new identity key
  ASSERT_TRUE(StartSession(*alice, "bob", *NextBundle(*bob, rng), rng).ok());
  ASSERT_TRUE(DecryptFrom(*bob, "alice", *EncryptTo(*alice, "bob", AsBytes("hi")), rng).ok());

  const PreKeyBundle changed = *NextBundle(*new_bob, rng);
  EXPECT_EQ(StartSession(*alice, "bob", changed, rng).code(), ErrorCode::kUntrustedIdentity);
  // A prekey message from the new identity is refused as well.
  ASSERT_TRUE(StartSession(*new_bob, "alice", *NextBundle(*alice, rng), rng).ok());
  const Ciphertext from_new = *EncryptTo(*new_bob, "alice", AsBytes("it's me"));
  EXPECT_EQ(DecryptFrom(*alice, "bob", from_new, rng).code(), ErrorCode::kUntrustedIdentity);
  // The user compares safety numbers and accepts.
  ASSERT_TRUE(alice->AcceptRemoteIdentity("bob", changed.identity_key).ok());
  ASSERT_EQ(Text(*DecryptFrom(*alice, "bob", from_new, rng)), "it's me");
}

TEST_P(Messenger, RollbackRestoresEveryWriteAndNestedFailuresAbortTheWhole) {
  ProtocolStore& store = stores.Open("s");
  ASSERT_TRUE(InitLocal(store, rng, 5, 3).ok());
  const auto ids_before = *store.PreKeyIds();
  ASSERT_EQ(ids_before.size(), 3u);
  const auto kept = *store.LoadPreKey(ids_before[0]);

  ASSERT_TRUE(store.Begin().ok());
  ASSERT_TRUE(store.StorePreKey(999, crypto::X25519KeyPair::Generate(rng)).ok());
  ASSERT_TRUE(store.RemovePreKey(ids_before[0]).ok());
  ASSERT_TRUE(store.StorePreKey(ids_before[1], crypto::X25519KeyPair::Generate(rng)).ok());
  ASSERT_TRUE(store.SetCounter("c", 7).ok());
  store.Rollback();
  EXPECT_EQ(*store.PreKeyIds(), ids_before);
  EXPECT_EQ((*store.LoadPreKey(ids_before[0]))->public_key, kept->public_key);
  EXPECT_EQ(*store.GetCounter("c"), 0u);

  // An inner transaction that fails makes the outer commit fail and undo everything.
  ASSERT_TRUE(store.Begin().ok());
  ASSERT_TRUE(store.SetCounter("c", 1).ok());
  EXPECT_EQ(StartSession(store, "x", PreKeyBundle{}, rng).code(), ErrorCode::kInvalidSignature);
  EXPECT_FALSE(store.Commit().ok());
  EXPECT_EQ(*store.GetCounter("c"), 0u);
}

INSTANTIATE_TEST_SUITE_P(MemoryAndSqlite, Messenger, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Sqlite" : "Memory";
                         });

}  // namespace
}  // namespace holdfast::signal
