#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "holdfast/common/rng.h"
#include "holdfast/common/sqlite.h"
#include "holdfast/server/database.h"
#include "holdfast/server/storage.h"
#include "queue_slot.h"

namespace holdfast::server {
namespace {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("hf-storage-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline std::atomic<int> counter_{0};
  std::filesystem::path path_;
};

AccountId Id(uint8_t b) {
  AccountId id{};
  id.fill(b);
  return id;
}

Account MakeAccount(uint8_t b, const std::string& phone) {
  Account a;
  a.id = Id(b);
  a.phone = phone;
  a.created_ms = 1000;
  return a;
}

Envelope MakeEnvelope(uint8_t b, int64_t server_ts) {
  Envelope e;
  e.id.fill(b);
  e.type = 1;
  e.source_account = Bytes(16, 0xaa);
  e.source_device = 2;
  e.client_timestamp = 5;
  e.server_timestamp = server_ts;
  e.content = Bytes{b, b, b};
  return e;
}

// HoldDatabase queues an item that keeps the database thread until the returned promise is
// set, so that what is submitted meanwhile runs as one batch.
std::promise<void> HoldDatabase(Database& db) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  db.Submit(
      [released](Storage&) -> Result<void> {
        released.wait();
        return Ok();
      },
      nullptr);
  return release;
}

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }
  // Restart closes the storage (if open) and opens its database again, as a new server
  // process would.
  void Restart() {
    storage_.reset();
    auto s = OpenSqliteStorage(dir_.File("server.db"));
    ASSERT_TRUE(s.ok());
    storage_ = std::move(*s);
  }
  // FillQueue puts envelopes 1..n (id and content numbered) in account 1's device 1 queue.
  std::vector<uint64_t> FillQueue(uint8_t n) {
    std::vector<uint64_t> seqs;
    for (uint8_t i = 1; i <= n; ++i) {
      auto seq = storage_->queues().Insert(Id(1), 1, MakeEnvelope(i, 100));
      EXPECT_TRUE(seq.ok());
      seqs.push_back(seq.ok() ? *seq : 0);
    }
    return seqs;
  }
  TempDir dir_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(StorageTest, AccountsAndDevices) {
  auto& accounts = storage_->accounts();
  ASSERT_TRUE(accounts.Create(MakeAccount(1, "+14155550001")).ok());
  EXPECT_EQ(accounts.Create(MakeAccount(2, "+14155550001")).code(), ErrorCode::kAlreadyExists);
  auto by_phone = accounts.ByPhone("+14155550001");
  ASSERT_TRUE(by_phone.ok() && by_phone->has_value());
  EXPECT_EQ((*by_phone)->id, Id(1));
  EXPECT_FALSE(accounts.ByPhone("+14155550002")->has_value());

  Device d;
  d.registration_id = 77;
  d.name = "phone";
  d.credential_hash = Bytes{1, 2, 3};
  EXPECT_EQ(*accounts.AddDevice(Id(1), d), 1u);
  EXPECT_EQ(*accounts.AddDevice(Id(1), d), 2u);
  ASSERT_TRUE(accounts.RemoveDevice(Id(1), 2).ok());
  // A removed device's id is not given out again.
  EXPECT_EQ(*accounts.AddDevice(Id(1), d), 3u);
  auto devices = accounts.Devices(Id(1));
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, 1u);
  EXPECT_EQ((*devices)[1].id, 3u);
  EXPECT_EQ((*devices)[1].registration_id, 77u);
  EXPECT_EQ(accounts.AddDevice(Id(9), d).code(), ErrorCode::kNotFound);

  ASSERT_TRUE(accounts.SetAccessKey(Id(1), Bytes(16, 7)).ok());
  EXPECT_EQ((*accounts.ById(Id(1)))->access_key, Bytes(16, 7));
}

// Sends read their destination through GetRecipient, which SqliteStorage answers from memory.
// Whatever the transaction does, it must agree with a read from SQLite itself.
TEST_F(StorageTest, RecipientCacheFollowsWritesCommitsAndRollbacks) {
  auto& accounts = storage_->accounts();
  auto expect_agrees = [&](const char* step) {
    SCOPED_TRACE(step);
    auto cached = accounts.GetRecipient(Id(1));
    auto fresh = accounts.AccountStore::GetRecipient(Id(1));  // no cache: straight from SQLite
    ASSERT_TRUE(cached.ok() && fresh.ok());
    ASSERT_EQ(*cached == nullptr, *fresh == nullptr);
    if (*fresh == nullptr) {
      return;
    }
    EXPECT_EQ((*cached)->access_key, (*fresh)->access_key);
    ASSERT_EQ((*cached)->devices.size(), (*fresh)->devices.size());
    for (size_t i = 0; i < (*fresh)->devices.size(); ++i) {
      EXPECT_EQ((*cached)->devices[i].id, (*fresh)->devices[i].id);
      EXPECT_EQ((*cached)->devices[i].registration_id, (*fresh)->devices[i].registration_id);
    }
  };
  auto devices = [&] {
    std::vector<std::pair<uint32_t, uint32_t>> out;
    const auto recipient = accounts.GetRecipient(Id(1));
    for (const auto& d : (*recipient)->devices) {
      out.emplace_back(d.id, d.registration_id);
    }
    return out;
  };
  using Pairs = std::vector<std::pair<uint32_t, uint32_t>>;
  Device d;
  d.name = "phone";
  d.credential_hash = Bytes{1, 2, 3};

  EXPECT_EQ(*accounts.GetRecipient(Id(1)), nullptr);
  ASSERT_TRUE(accounts.Create(MakeAccount(1, "+14155550001")).ok());
  expect_agrees("created");
  d.registration_id = 77;
  ASSERT_TRUE(accounts.AddDevice(Id(1), d).ok());
  expect_agrees("first device");
  EXPECT_EQ(devices(), (Pairs{{1, 77}}));

  // A device added and read inside a transaction, then rolled back, is gone from the cache.
  ASSERT_TRUE(storage_->Begin().ok());
  d.registration_id = 88;
  ASSERT_TRUE(accounts.AddDevice(Id(1), d).ok());
  EXPECT_EQ(devices(), (Pairs{{1, 77}, {2, 88}}));
  expect_agrees("added in the transaction");
  storage_->Rollback();
  EXPECT_EQ(devices(), (Pairs{{1, 77}}));
  expect_agrees("rolled back");

  // The same through a savepoint, for the access key.
  ASSERT_TRUE(storage_->Begin().ok());
  ASSERT_TRUE(storage_->Savepoint().ok());
  ASSERT_TRUE(accounts.SetAccessKey(Id(1), Bytes(16, 7)).ok());
  EXPECT_EQ((*accounts.GetRecipient(Id(1)))->access_key, Bytes(16, 7));
  ASSERT_TRUE(storage_->RollbackToSavepoint().ok());
  EXPECT_TRUE((*accounts.GetRecipient(Id(1)))->access_key.empty());
  ASSERT_TRUE(storage_->Savepoint().ok());
  ASSERT_TRUE(accounts.SetAccessKey(Id(1), Bytes(16, 9)).ok());
  ASSERT_TRUE(storage_->Release().ok());
  ASSERT_TRUE(storage_->Commit().ok());
  EXPECT_EQ((*accounts.GetRecipient(Id(1)))->access_key, Bytes(16, 9));
  expect_agrees("access key committed");

  // Committed writes show at once. Each runs in a transaction of its own, with the cache
  // filled just before it (an account written outside one stays out of the cache until the
  // next transaction begins, which would hide a missing invalidation).
  auto committed = [&](const std::function<Result<void>()>& write) {
    (void)devices();  // fills the cache
    ASSERT_TRUE(storage_->Begin().ok());
    ASSERT_TRUE(write().ok());
    ASSERT_TRUE(storage_->Commit().ok());
  };
  committed([&] {
    d.registration_id = 99;
    auto added = accounts.AddDevice(Id(1), d);
    return added.ok() ? Result<void>(Ok()) : Result<void>(added.error());
  });
  EXPECT_EQ(devices(), (Pairs{{1, 77}, {2, 99}}));  // the rolled-back device's id is free
  committed([&] { return accounts.RemoveDevice(Id(1), 1); });
  EXPECT_EQ(devices(), (Pairs{{2, 99}}));
  committed([&] { return accounts.ResetDevices(Id(1)); });
  EXPECT_TRUE(devices().empty());
  EXPECT_TRUE((*accounts.GetRecipient(Id(1)))->access_key.empty());  // reset clears the key
  committed([&] {
    d.registration_id = 5;
    auto added = accounts.AddDevice(Id(1), d);
    return added.ok() ? Result<void>(Ok()) : Result<void>(added.error());
  });
  EXPECT_EQ(devices(), (Pairs{{1, 5}}));
  expect_agrees("re-registered");
}

TEST_F(StorageTest, CodesExpireAndLinkCodesAreSingleUse) {
  auto& accounts = storage_->accounts();
  ASSERT_TRUE(accounts.PutCode("+14155550001", PendingCode{Bytes{1}, 100, 0}).ok());
  ASSERT_TRUE(accounts.PutCode("+14155550002", PendingCode{Bytes{2}, 300, 2}).ok());
  EXPECT_EQ((*accounts.GetCode("+14155550002"))->attempts, 2u);
  ASSERT_TRUE(accounts.PutLinkCode(Bytes{9}, LinkCode{Id(1), 150}).ok());
  EXPECT_EQ(*accounts.PurgeExpiredCodes(200), 2u);  // one code and the link code
  EXPECT_FALSE(accounts.GetCode("+14155550001")->has_value());
  EXPECT_TRUE(accounts.GetCode("+14155550002")->has_value());

  ASSERT_TRUE(accounts.PutLinkCode(Bytes{8}, LinkCode{Id(1), 500}).ok());
  auto taken = accounts.TakeLinkCode(Bytes{8});
  ASSERT_TRUE(taken.ok() && taken->has_value());
  EXPECT_EQ((*taken)->account, Id(1));
  EXPECT_FALSE(accounts.TakeLinkCode(Bytes{8})->has_value());
}

TEST_F(StorageTest, KeysAndOneTimePreKeysAreTakenOnce) {
  auto& keys = storage_->keys();
  EXPECT_FALSE(keys.GetDeviceKeys(Id(1), 1)->has_value());
  ASSERT_TRUE(keys.SetIdentityKey(Id(1), 1, Bytes(33, 5)).ok());
  ASSERT_TRUE(keys.SetSignedPreKey(Id(1), 1, {4, Bytes(33, 6), Bytes(64, 7)}).ok());
  ASSERT_TRUE(keys.AddOneTimePreKeys(Id(1), 1, {{12, Bytes(33, 12)}, {10, Bytes(33, 10)}}).ok());
  EXPECT_EQ(*keys.CountOneTimePreKeys(Id(1), 1), 2u);
  auto dk = keys.GetDeviceKeys(Id(1), 1);
  ASSERT_TRUE(dk.ok() && dk->has_value());
  EXPECT_EQ((*dk)->identity_key, Bytes(33, 5));
  EXPECT_EQ((*dk)->signed_pre_key->id, 4u);
  EXPECT_EQ((*keys.TakeOneTimePreKey(Id(1), 1))->id, 10u);  // lowest id first
  EXPECT_EQ((*keys.TakeOneTimePreKey(Id(1), 1))->id, 12u);
  EXPECT_FALSE(keys.TakeOneTimePreKey(Id(1), 1)->has_value());
  ASSERT_TRUE(keys.DeleteDeviceKeys(Id(1), 1).ok());
  EXPECT_FALSE(keys.GetDeviceKeys(Id(1), 1)->has_value());
}

TEST_F(StorageTest, QueuesKeepOrderAndPurgeByAge) {
  auto& q = storage_->queues();
  std::vector<uint64_t> seqs;
  for (uint8_t i = 1; i <= 5; ++i) {
    seqs.push_back(*q.Insert(Id(1), 1, MakeEnvelope(i, 100 * i)));
  }
  ASSERT_TRUE(q.Insert(Id(1), 2, MakeEnvelope(9, 100)).ok());
  EXPECT_EQ(*q.Count(Id(1), 1), 5u);
  auto page = q.Fetch(Id(1), 1, seqs[1], 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, seqs[2]);
  EXPECT_EQ((*page)[0].envelope.content, (Bytes{3, 3, 3}));
  EXPECT_EQ((*page)[1].envelope.source_device, 2u);

  EnvelopeId e3;
  e3.fill(3);
  EXPECT_TRUE(*q.Delete(Id(1), 1, e3));
  EXPECT_FALSE(*q.Delete(Id(1), 1, e3));
  EXPECT_FALSE(*q.Delete(Id(1), 2, e3));  // another device's queue is not touched
  // Sequence numbers are never reused, even after the newest envelope is deleted.
  EnvelopeId e5;
  e5.fill(5);
  EXPECT_TRUE(*q.Delete(Id(1), 1, e5));
  EXPECT_GT(*q.Insert(Id(1), 1, MakeEnvelope(6, 600)), seqs[4]);

  EXPECT_EQ(*q.PurgeBefore(250), 3u);  // envelopes 1, 2 and device 2's
  EXPECT_EQ(*q.TotalCount(), 2u);
  EXPECT_EQ(*q.DeleteDevice(Id(1), 1), 2u);
  EXPECT_EQ(*q.TotalCount(), 0u);
}

// Ids of `queue`'s envelopes, oldest first, as Fetch returns them `page` at a time.
std::vector<uint8_t> QueueIds(QueueStore& q, const AccountId& account, uint32_t device,
                              size_t page) {
  std::vector<uint8_t> out;
  uint64_t after = 0;
  while (true) {
    auto got = q.Fetch(account, device, after, page);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || got->empty()) {
      return out;
    }
    for (const QueuedEnvelope& e : *got) {
      EXPECT_GT(e.seq, after);
      after = e.seq;
      out.push_back(e.envelope.id[0]);
    }
  }
}

// Two devices whose queues hash to the same slot share its range of sequence numbers; each
// still sees only its own envelopes, in order, a page at a time.
TEST_F(StorageTest, DevicesThatShareAQueueSlotKeepTheirOwnQueues) {
  DeterministicRng rng(11);
  std::unordered_map<uint64_t, AccountId> seen;
  AccountId a{};
  AccountId b{};
  for (int i = 0; i < 1'000'000; ++i) {
    AccountId id;
    rng.Fill(MutableByteSpan(id.data(), id.size()));
    auto [it, fresh] = seen.emplace(QueueSlot(id, 1), id);
    if (!fresh) {
      a = it->second;
      b = id;
      break;
    }
  }
  ASSERT_NE(a, b) << "no two accounts shared a slot";
  ASSERT_EQ(QueueSlot(a, 1), QueueSlot(b, 1));
  auto& q = storage_->queues();
  std::vector<uint64_t> seqs;
  for (uint8_t i = 1; i <= 9; ++i) {
    auto seq = q.Insert(i % 3 == 0 ? b : a, 1, MakeEnvelope(i, 100));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq >> kQueueSlotShift, QueueSlot(a, 1));
    if (!seqs.empty()) {
      EXPECT_GT(*seq, seqs.back());
    }
    seqs.push_back(*seq);
  }
  EXPECT_EQ(QueueIds(q, a, 1, 2), (std::vector<uint8_t>{1, 2, 4, 5, 7, 8}));
  EXPECT_EQ(QueueIds(q, b, 1, 2), (std::vector<uint8_t>{3, 6, 9}));
  EXPECT_EQ(*q.Count(a, 1), 6u);
  EXPECT_EQ(*q.Count(b, 1), 3u);
  EnvelopeId e6;
  e6.fill(6);
  EXPECT_FALSE(*q.Delete(a, 1, e6));
  EXPECT_TRUE(*q.Delete(b, 1, e6));
  EXPECT_EQ(QueueIds(q, b, 1, 10), (std::vector<uint8_t>{3, 9}));
  EXPECT_EQ(*q.DeleteDevice(a, 1), 6u);
  EXPECT_EQ(QueueIds(q, b, 1, 10), (std::vector<uint8_t>{3, 9}));
}

// Fetch reads the device's range of rowids, not the (account, device, id) index.
TEST_F(StorageTest, FetchReadsTheQueuesRangeOfRowids) {
  ASSERT_TRUE(storage_->queues().Insert(Id(1), 1, MakeEnvelope(1, 100)).ok());
  storage_.reset();
  auto db = SqliteDb::Open(dir_.File("server.db"));
  ASSERT_TRUE(db.ok());
  auto plan = db->Prepare(std::string("EXPLAIN QUERY PLAN ") + kFetchQueueSql);
  ASSERT_TRUE(plan.ok());
  std::string text;
  while (*plan->Step()) {
    text += plan->ColumnText(3) + "\n";
  }
  EXPECT_NE(text.find("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), std::string::npos)
      << text;
}

// After a restart a queue's numbers go on after its newest envelope.
TEST_F(StorageTest, SequenceNumbersGoOnAfterARestart) {
  const std::vector<uint64_t> seqs = FillQueue(2);
  EXPECT_EQ(seqs[1], seqs[0] + 1);
  Restart();
  auto third = storage_->queues().Insert(Id(1), 1, MakeEnvelope(3, 100));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, seqs[1] + 1);
  EXPECT_EQ(QueueIds(storage_->queues(), Id(1), 1, 10), (std::vector<uint8_t>{1, 2, 3}));
}

// A connection of a restarted server learns numbers through Fetch: once they are deleted,
// the next envelope still gets a larger one (else the live push would take it for one
// already pushed, and Fetch after the last seen would skip it).
TEST_F(StorageTest, NumbersAFetchReturnedAreNeverGivenAgain) {
  FillQueue(5);
  Restart();
  auto& q = storage_->queues();
  auto page = q.Fetch(Id(1), 1, 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 5u);
  const uint64_t newest = page->back().seq;
  EXPECT_EQ(*q.DeleteDevice(Id(1), 1), 5u);
  auto next = q.Insert(Id(1), 1, MakeEnvelope(6, 100));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, newest);
}

// A counter read inside a transaction that deleted the queue's newest envelopes is
// forgotten when the transaction (or the item's savepoint) rolls back: the envelopes come
// back, and the next insert must not collide with them.
TEST_F(StorageTest, ARollbackForgetsCountersReadInsideIt) {
  std::vector<uint64_t> seqs = FillQueue(3);
  for (bool whole_transaction : {true, false}) {
    Restart();
    auto& q = storage_->queues();
    ASSERT_TRUE(storage_->Begin().ok());
    ASSERT_TRUE(storage_->Savepoint().ok());
    // The two newest go; one insert then takes the number after the third newest.
    for (size_t back = 0; back < 2; ++back) {
      EnvelopeId e;
      e.fill(static_cast<uint8_t>(seqs.size() - back));
      ASSERT_TRUE(*q.Delete(Id(1), 1, e));
    }
    ASSERT_TRUE(q.Insert(Id(1), 1, MakeEnvelope(99, 100)).ok());
    if (whole_transaction) {
      storage_->Rollback();
    } else {
      ASSERT_TRUE(storage_->RollbackToSavepoint().ok());
      ASSERT_TRUE(storage_->Commit().ok());
    }
    auto next = q.Insert(Id(1), 1, MakeEnvelope(static_cast<uint8_t>(seqs.size() + 1), 100));
    ASSERT_TRUE(next.ok()) << whole_transaction << " " << ErrorText(next.error());
    EXPECT_GT(*next, seqs.back());
    seqs.push_back(*next);
  }
  EXPECT_EQ(QueueIds(storage_->queues(), Id(1), 1, 10), (std::vector<uint8_t>{1, 2, 3, 4, 5}));
}

// An item that rolls back forgets only the counters it read itself: one that an earlier
// item of the batch read for a Fetch stays, and covers the numbers that Fetch returned.
TEST_F(StorageTest, AnItemsRollbackKeepsCountersEarlierItemsRead) {
  FillQueue(5);
  Restart();
  auto& q = storage_->queues();
  ASSERT_TRUE(storage_->Begin().ok());
  ASSERT_TRUE(storage_->Savepoint().ok());
  auto page = q.Fetch(Id(1), 1, 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 5u);
  ASSERT_TRUE(storage_->Release().ok());
  ASSERT_TRUE(storage_->Savepoint().ok());
  ASSERT_TRUE(q.Insert(Id(2), 1, MakeEnvelope(9, 100)).ok());  // reads another slot
  ASSERT_TRUE(storage_->RollbackToSavepoint().ok());
  ASSERT_TRUE(storage_->Commit().ok());
  EXPECT_EQ(*q.DeleteDevice(Id(1), 1), 5u);  // the device acknowledged them all
  auto next = q.Insert(Id(1), 1, MakeEnvelope(6, 100));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, page->back().seq);
  EXPECT_EQ(*q.Count(Id(2), 1), 0u);
}

// Should a stored row hold the number an insert takes (a second writer, a bug), that insert
// fails, and the next one goes past the stored row instead of failing for good.
TEST_F(StorageTest, AnInsertThatClashesCatchesUpWithTheTable) {
  const std::vector<uint64_t> seqs = FillQueue(1);
  {
    auto db = SqliteDb::Open(dir_.File("server.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO envelopes SELECT seq + 1, account, device, x'" +
                         std::string(32, '7') +
                         "', type, source_account, source_device, client_ts, server_ts, "
                         "content FROM envelopes")
                    .ok());
  }
  auto& q = storage_->queues();
  EXPECT_FALSE(q.Insert(Id(1), 1, MakeEnvelope(2, 100)).ok());
  auto next = q.Insert(Id(1), 1, MakeEnvelope(3, 100));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, seqs[0] + 2);
}

// A tool opened beside a running holdfastd (holdfast-admin) never migrates that server's
// database; holdfastd itself does.
TEST_F(StorageTest, ToolsRefuseToMigrateAnExistingDatabase) {
  storage_.reset();
  TempDir dir;
  const std::string path = dir.File("old.db");
  ASSERT_TRUE(OpenSqliteStorage(path, SqliteStorageOptions{.migrate_to = 1}).ok());
  EXPECT_EQ(OpenSqliteStorage(path, SqliteStorageOptions{.upgrade_existing = false}).code(),
            ErrorCode::kUnsupportedVersion);
  auto fresh = OpenSqliteStorage(dir.File("new.db"), SqliteStorageOptions{.upgrade_existing = false});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->SchemaVersion(), 2);
  auto upgraded = OpenSqliteStorage(path);
  ASSERT_TRUE(upgraded.ok());
  EXPECT_EQ((*upgraded)->SchemaVersion(), 2);
}

// Migration 2 moves a version-1 database's envelopes, which shared one sequence, into their
// devices' ranges: every envelope kept, each queue in its order, and the queue index gone.
TEST_F(StorageTest, MigrationTwoMovesEveryQueueIntoItsRangeInOrder) {
  storage_.reset();
  TempDir dir;
  const std::string path = dir.File("v1.db");
  {
    auto v1 = OpenSqliteStorage(path, SqliteStorageOptions{.migrate_to = 1});
    ASSERT_TRUE(v1.ok());
    EXPECT_EQ((*v1)->SchemaVersion(), 1);
  }
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    auto insert = db->Prepare(
        "INSERT INTO envelopes (account, device, id, type, source_account, source_device, "
        "client_ts, server_ts, content) VALUES (?1, ?2, ?3, ?4 % 7, x'aa', ?4 % 5, ?4 + 1, ?4, "
        "?5)");
    ASSERT_TRUE(insert.ok());
    // 30 envelopes for three queues, interleaved as they arrive; id[0] numbers them.
    for (uint8_t i = 1; i <= 30; ++i) {
      const AccountId account = Id(i % 3 == 0 ? 2 : 1);
      const int64_t device = i % 3 == 1 ? 1 : 2;
      EnvelopeId id;
      id.fill(i);
      ASSERT_TRUE(insert->BindBlob(1, ByteSpan(account.data(), account.size())).ok());
      ASSERT_TRUE(insert->BindInt64(2, device).ok());
      ASSERT_TRUE(insert->BindBlob(3, ByteSpan(id.data(), id.size())).ok());
      ASSERT_TRUE(insert->BindInt64(4, 100 * i).ok());
      ASSERT_TRUE(insert->BindBlob(5, ByteSpan(id.data(), 3)).ok());
      ASSERT_TRUE(insert->Run().ok());
      insert->Reset();
    }
  }
  auto v2 = OpenSqliteStorage(path);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)->SchemaVersion(), 2);
  auto& q = (*v2)->queues();
  EXPECT_EQ(*q.TotalCount(), 30u);
  auto ids = [](uint8_t from) {
    std::vector<uint8_t> out;
    for (uint8_t i = from; i <= 30; i = static_cast<uint8_t>(i + 3)) {
      out.push_back(i);
    }
    return out;
  };
  EXPECT_EQ(QueueIds(q, Id(1), 1, 4), ids(1));
  EXPECT_EQ(QueueIds(q, Id(1), 2, 4), ids(2));
  EXPECT_EQ(QueueIds(q, Id(2), 2, 4), ids(3));
  auto page = q.Fetch(Id(2), 2, 0, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].seq, QueueRangeStart(QueueSlot(Id(2), 2)) | 1);
  EXPECT_EQ((*page)[0].envelope.server_timestamp, 300);
  EXPECT_EQ((*page)[0].envelope.client_timestamp, 301);
  EXPECT_EQ((*page)[0].envelope.type, 300u % 7);
  EXPECT_EQ((*page)[0].envelope.source_device, 300u % 5);
  EXPECT_EQ((*page)[0].envelope.content, (Bytes{3, 3, 3}));
  EXPECT_EQ((*page)[0].envelope.source_account, (Bytes{0xaa}));
  // New envelopes follow the moved ones; deletes and the age purge find them.
  auto seq = q.Insert(Id(1), 1, MakeEnvelope(31, 3100));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, QueueRangeStart(QueueSlot(Id(1), 1)) | 11);
  EnvelopeId e4;
  e4.fill(4);
  EXPECT_TRUE(*q.Delete(Id(1), 1, e4));
  EXPECT_EQ(*q.PurgeBefore(1000), 8u);  // envelopes 1 to 9 less 4
  EXPECT_EQ(*q.TotalCount(), 22u);
  v2->reset();
  auto db = SqliteDb::Open(path);
  ASSERT_TRUE(db.ok());
  auto indexes = db->Prepare(
      "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE "
      "tbl_name = 'envelopes' AND type = 'index' ORDER BY name)");
  ASSERT_TRUE(indexes.ok());
  ASSERT_TRUE(*indexes->Step());
  EXPECT_EQ(indexes->ColumnText(0), "envelopes_age envelopes_id");
}

TEST_F(StorageTest, IpRecordsOverlapCloseAndPurge) {
  auto& ip = storage_->ip_records();
  auto a = ip.Open(IpRecord{Id(1), 1, "127.0.0.2", 4000, 100, std::nullopt});
  auto b = ip.Open(IpRecord{Id(1), 2, "::1", 4001, 500, std::nullopt});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(ip.Close(*a, 200).ok());
  auto found = ip.ForAccount(Id(1), 150, 600);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].ip, "127.0.0.2");
  EXPECT_EQ(*(*found)[0].end_ms, 200);
  EXPECT_FALSE((*found)[1].end_ms.has_value());
  EXPECT_EQ(ip.ForAccount(Id(1), 250, 400)->size(), 0u);
  EXPECT_EQ(*ip.PurgeEndedBefore(300), 1u);
  EXPECT_EQ(*ip.PurgeEndedBefore(10000), 0u);  // the open record is kept
  EXPECT_EQ(*ip.CloseAllOpen(900), 1u);
  EXPECT_EQ(*ip.PurgeEndedBefore(10000), 1u);
  EXPECT_EQ(ip.ForAccount(Id(1), 0, 100000)->size(), 0u);
}

TEST_F(StorageTest, SchemaVersionIsRecordedAndNewerSchemasAreRefused) {
  EXPECT_EQ(storage_->SchemaVersion(), 2);
  storage_.reset();
  {
    auto db = SqliteDb::Open(dir_.File("server.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("UPDATE meta SET value = 99 WHERE key = 'schema_version'").ok());
  }
  EXPECT_EQ(OpenSqliteStorage(dir_.File("server.db")).code(), ErrorCode::kUnsupportedVersion);
}

TEST_F(StorageTest, DatabaseCommitsInBatchesAndIsolatesFailures) {
  Database db(std::move(storage_));
  ASSERT_TRUE(db.Run([](Storage& s) {
                  return s.accounts().Create(MakeAccount(1, "+14155550001"));
                }).ok());
  // A failing item rolls back its own changes only.
  EXPECT_EQ(db.Run([](Storage& s) -> Result<void> {
                HF_RETURN_IF_ERROR(s.accounts().Create(MakeAccount(2, "+14155550002")));
                return s.accounts().Create(MakeAccount(3, "+14155550001"));  // duplicate
              }).code(),
            ErrorCode::kAlreadyExists);
  ASSERT_TRUE(db.Run([](Storage& s) -> Result<void> {
                  HF_ASSIGN_OR_RETURN(const auto a, s.accounts().ByPhone("+14155550002"));
                  if (a.has_value()) {
                    return Error{ErrorCode::kAlreadyExists};
                  }
                  return Ok();
                }).ok());

  // Within one batch, failing items (duplicates) roll back only themselves, and the
  // savepoint is usable again for the items after them.
  {
    // The first item holds the database thread until all 40 are queued, so that they run
    // together (max_batch is far above 40).
    std::promise<void> queued = HoldDatabase(db);
    const uint64_t batches_before = db.Stats().batches;
    std::promise<void> all_done;
    std::atomic<int> remaining{40};
    std::atomic<int> failed{0};
    for (int i = 0; i < 40; ++i) {
      const bool dup = i % 2 == 1;
      db.Submit(
          [i, dup](Storage& s) -> Result<void> {
            HF_RETURN_IF_ERROR(s.accounts().Create(
                MakeAccount(static_cast<uint8_t>(100 + i), "+1415555" + std::to_string(1000 + i))));
            if (dup) {
              return s.accounts().Create(MakeAccount(static_cast<uint8_t>(200 + i), "+14155550001"));
            }
            return Ok();
          },
          [&](Result<void> r) {
            if (!r.ok()) {
              ++failed;
            }
            if (--remaining == 0) {
              all_done.set_value();
            }
          });
    }
    queued.set_value();
    all_done.get_future().wait();
    EXPECT_EQ(failed.load(), 20);
    EXPECT_LE(db.Stats().batches, batches_before + 2);  // the holder's batch, then the 40
    for (int i = 0; i < 40; ++i) {
      const std::string phone = "+1415555" + std::to_string(1000 + i);
      ASSERT_TRUE(db.Run([&](Storage& s) -> Result<void> {
                      HF_ASSIGN_OR_RETURN(const auto a, s.accounts().ByPhone(phone));
                      const bool want = i % 2 == 0;
                      return a.has_value() == want ? Ok() : Error{ErrorCode::kNotFound};
                    }).ok())
          << phone;
    }
  }

  // Many threads take one-time prekeys at once: each key goes to exactly one of them.
  constexpr int kKeys = 200;
  std::vector<OneTimePreKeyRecord> keys;
  for (int i = 1; i <= kKeys; ++i) {
    keys.push_back({static_cast<uint32_t>(i), Bytes(33, 1)});
  }
  ASSERT_TRUE(db.Run([&](Storage& s) { return s.keys().AddOneTimePreKeys(Id(1), 1, keys); }).ok());
  std::mutex mu;
  std::set<uint32_t> taken;
  int empty = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kKeys / 2; ++i) {
        std::optional<OneTimePreKeyRecord> got;
        ASSERT_TRUE(db.Run([&](Storage& s) -> Result<void> {
                        HF_ASSIGN_OR_RETURN(got, s.keys().TakeOneTimePreKey(Id(1), 1));
                        return Ok();
                      }).ok());
        std::lock_guard<std::mutex> lock(mu);
        if (got) {
          EXPECT_TRUE(taken.insert(got->id).second) << "key " << got->id << " given twice";
        } else {
          ++empty;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(taken.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(empty, kKeys);
  const DatabaseStats stats = db.Stats();
  EXPECT_GE(stats.items, stats.batches);
  db.Stop();
  // After Stop, work is refused with kUnavailable, not run.
  EXPECT_EQ(db.Run([](Storage&) { return Result<void>(Ok()); }).code(), ErrorCode::kUnavailable);
}

// A batch takes items until their declared bytes reach the bound or their number reaches
// max_batch. An item above the byte bound runs in a batch of its own.
TEST_F(StorageTest, BatchesStopAtTheirItemAndByteBounds) {
  Database db(std::move(storage_), /*max_batch=*/100, /*max_batch_bytes=*/1000);
  std::mutex mu;
  std::vector<size_t> sizes;
  db.SetCommitObserver([&](size_t items, double) {
    std::lock_guard<std::mutex> lock(mu);
    sizes.push_back(items);
  });
  // Batches returns the sizes of the batches that ran `bytes` (one item each), all queued
  // while the database thread was held.
  auto batches = [&](const std::vector<size_t>& bytes) {
    std::promise<void> started;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    db.Submit(
        [&started, released](Storage&) -> Result<void> {
          started.set_value();
          released.wait();
          return Ok();
        },
        nullptr);
    started.get_future().wait();  // the holder's batch is taken: it holds the holder alone
    std::promise<void> all_done;
    std::atomic<size_t> remaining{bytes.size()};
    for (size_t b : bytes) {
      db.SubmitOneWrite([](Storage&) { return Result<void>(Ok()); },
                        [&](Result<void>) {
                          if (--remaining == 0) {
                            all_done.set_value();
                          }
                        },
                        b);
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      sizes.clear();
    }
    release.set_value();
    all_done.get_future().wait();
    std::lock_guard<std::mutex> lock(mu);
    // The holder's batch ends after the release, so it comes first.
    std::vector<size_t> out = sizes;
    EXPECT_FALSE(out.empty());
    if (!out.empty()) {
      out.erase(out.begin());
    }
    return out;
  };
  EXPECT_EQ(batches(std::vector<size_t>(10, 400)), (std::vector<size_t>{2, 2, 2, 2, 2}));
  EXPECT_EQ(batches({1500, 100, 100}), (std::vector<size_t>{1, 2}));
  EXPECT_EQ(batches({100, 1500, 100}), (std::vector<size_t>{1, 1, 1}));
  EXPECT_EQ(batches(std::vector<size_t>(250, 0)), (std::vector<size_t>{100, 100, 50}));
  EXPECT_EQ(batches(std::vector<size_t>(5, 200)), (std::vector<size_t>{5}));
}

// Items submitted with SubmitOneWrite run without a savepoint: one whose only statement
// fails leaves the others of its batch alone, and none runs once SQLite has dropped the
// transaction (its statement would commit on its own).
TEST_F(StorageTest, OneWriteItemsFailAloneAndNeverRunOutsideTheTransaction) {
  Database db(std::move(storage_));
  ASSERT_TRUE(db.Run([](Storage& s) {
                  return s.accounts().Create(MakeAccount(1, "+14155550001"));
                }).ok());
  auto exists = [&](const std::string& phone) {
    bool found = false;
    EXPECT_TRUE(db.Run([&](Storage& s) -> Result<void> {
                    HF_ASSIGN_OR_RETURN(const auto a, s.accounts().ByPhone(phone));
                    found = a.has_value();
                    return Ok();
                  }).ok());
    return found;
  };
  // Run submits the items behind a holder, so that they share one batch, and returns the
  // codes their callbacks got.
  using Items = std::vector<std::pair<Database::Work, bool /*one write*/>>;
  auto run_batch = [&](Items items) {
    std::promise<void> queued = HoldDatabase(db);
    // nullopt: the item succeeded.
    auto codes = std::make_shared<std::vector<std::optional<ErrorCode>>>(items.size());
    std::promise<void> all_done;
    auto remaining = std::make_shared<std::atomic<size_t>>(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      auto done = [&, codes, remaining, i](Result<void> r) {
        (*codes)[i] = r.ok() ? std::nullopt : std::optional<ErrorCode>(r.code());
        if (--*remaining == 0) {
          all_done.set_value();
        }
      };
      if (items[i].second) {
        db.SubmitOneWrite(std::move(items[i].first), done);
      } else {
        db.Submit(std::move(items[i].first), done);
      }
    }
    queued.set_value();
    all_done.get_future().wait();
    return *codes;
  };
  auto create = [](uint8_t id, std::string phone) -> Database::Work {
    return [id, phone](Storage& s) { return s.accounts().Create(MakeAccount(id, phone)); };
  };

  // Failing items (duplicate phones) beside succeeding ones.
  Items items;
  for (int i = 0; i < 20; ++i) {
    const bool dup = i % 2 == 1;
    items.emplace_back(create(static_cast<uint8_t>(100 + i),
                              dup ? "+14155550001" : "+1415555" + std::to_string(2000 + i)),
                       true);
  }
  const auto codes = run_batch(std::move(items));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(codes[i], i % 2 == 1 ? std::optional<ErrorCode>(ErrorCode::kAlreadyExists)
                                   : std::nullopt)
        << i;
    if (i % 2 == 0) {
      EXPECT_TRUE(exists("+1415555" + std::to_string(2000 + i))) << i;
    }
  }

  // SQLite rolls the transaction back by itself (as on a full disk): here an item does it.
  // The one-write item after it must not run, or its insert would commit on its own.
  Items lost;
  lost.emplace_back(
      [](Storage& s) -> Result<void> {
        s.Rollback();
        return Ok();
      },
      false);
  lost.emplace_back(create(150, "+14155553000"), true);
  const auto lost_codes = run_batch(std::move(lost));
  EXPECT_TRUE(lost_codes[0].has_value());
  EXPECT_TRUE(lost_codes[1].has_value());
  EXPECT_FALSE(exists("+14155553000"));

  // And a one-write item whose failure took the transaction with it ends the batch.
  Items dropped;
  dropped.emplace_back(
      [](Storage& s) -> Result<void> {
        s.Rollback();
        return Error{ErrorCode::kStorageFailure, "disk full"};
      },
      true);
  dropped.emplace_back(create(151, "+14155553001"), true);
  const auto dropped_codes = run_batch(std::move(dropped));
  EXPECT_TRUE(dropped_codes[0].has_value());
  EXPECT_TRUE(dropped_codes[1].has_value());
  EXPECT_FALSE(exists("+14155553001"));
  EXPECT_TRUE(exists("+14155550001"));  // what was committed before is still there
}

}  // namespace
}  // namespace holdfast::server
