// The SQLite implementation of holdfastd's storage (storage.h). The schema is written as a
// list of migrations; a database records the last one applied in meta.schema_version.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "holdfast/common/sqlite.h"
#include "holdfast/server/storage.h"
#include "queue_slot.h"

namespace holdfast::server {
namespace {

ByteSpan Span(const AccountId& id) { return ByteSpan(id.data(), id.size()); }

Result<AccountId> ReadAccountId(ByteSpan b) {
  if (b.size() != kAccountIdBytes) {
    return Error{ErrorCode::kStorageFailure, "corrupt account id"};
  }
  AccountId id;
  std::copy(b.begin(), b.end(), id.begin());
  return id;
}

Result<void> MoveEnvelopesIntoQueueRanges(SqliteDb& db);

// A Migration takes the schema one version up: its SQL, then, if it has one, C++ on the same
// connection inside the same transaction (for data SQL alone cannot compute).
struct Migration {
  const char* sql;
  Result<void> (*then)(SqliteDb&) = nullptr;
};

// kMigrations[i] takes the schema from version i to version i + 1. Never edit one that has
// shipped: add a new one.
constexpr std::array<Migration, 2> kMigrations = {{
    // 1: accounts, devices, codes, keys, queues, IP records.
    {R"sql(
CREATE TABLE accounts (
  id BLOB PRIMARY KEY,
  phone TEXT NOT NULL UNIQUE,
  access_key BLOB NOT NULL DEFAULT x'',
  created_ms INTEGER NOT NULL,
  next_device INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE TABLE devices (
  account BLOB NOT NULL,
  id INTEGER NOT NULL,
  registration_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  credential_hash BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (account, id)
) WITHOUT ROWID;
CREATE TABLE codes (
  phone TEXT PRIMARY KEY,
  code_hash BLOB NOT NULL,
  expires_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE link_codes (
  code_hash BLOB PRIMARY KEY,
  account BLOB NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE identity_keys (
  account BLOB NOT NULL,
  device INTEGER NOT NULL,
  key BLOB NOT NULL,
  PRIMARY KEY (account, device)
) WITHOUT ROWID;
CREATE TABLE signed_pre_keys (
  account BLOB NOT NULL,
  device INTEGER NOT NULL,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (account, device)
) WITHOUT ROWID;
CREATE TABLE one_time_pre_keys (
  account BLOB NOT NULL,
  device INTEGER NOT NULL,
  id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (account, device, id)
) WITHOUT ROWID;
CREATE TABLE envelopes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  account BLOB NOT NULL,
  device INTEGER NOT NULL,
  id BLOB NOT NULL,
  type INTEGER NOT NULL,
  source_account BLOB NOT NULL,
  source_device INTEGER NOT NULL,
  client_ts INTEGER NOT NULL,
  server_ts INTEGER NOT NULL,
  content BLOB NOT NULL
);
CREATE INDEX envelopes_queue ON envelopes (account, device, seq);
CREATE UNIQUE INDEX envelopes_id ON envelopes (account, device, id);
CREATE INDEX envelopes_age ON envelopes (server_ts);
CREATE TABLE ip_records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account BLOB NOT NULL,
  device INTEGER NOT NULL,
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER
);
CREATE INDEX ip_records_account ON ip_records (account, start_ms);
CREATE INDEX ip_records_end ON ip_records (end_ms);
)sql"},
    // 2: each device's envelopes in a range of rowids of their own (QueueSlot), so that a
    // device's queue lies on neighbouring pages; the queue index goes (a rowid range replaces
    // it). MoveEnvelopesIntoQueueRanges moves the rows and swaps the tables.
    {R"sql(
CREATE TABLE envelopes_2 (
  seq INTEGER PRIMARY KEY,
  account BLOB NOT NULL,
  device INTEGER NOT NULL,
  id BLOB NOT NULL,
  type INTEGER NOT NULL,
  source_account BLOB NOT NULL,
  source_device INTEGER NOT NULL,
  client_ts INTEGER NOT NULL,
  server_ts INTEGER NOT NULL,
  content BLOB NOT NULL
);
)sql",
     &MoveEnvelopesIntoQueueRanges},
}};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// MoveEnvelopesIntoQueueRanges is migration 2's C++: every envelope, oldest first, moves to
// envelopes_2 with a sequence number in its device's range, in the same order; then
// envelopes_2 takes the old table's place and indexes.
Result<void> MoveEnvelopesIntoQueueRanges(SqliteDb& db) {
  HF_ASSIGN_OR_RETURN(auto read, db.Prepare("SELECT account, device, id, type, source_account, "
                                            "source_device, client_ts, server_ts, content FROM "
                                            "envelopes ORDER BY seq"));
  HF_ASSIGN_OR_RETURN(auto write,
                      db.Prepare("INSERT INTO envelopes_2 (seq, account, device, id, type, "
                                 "source_account, source_device, client_ts, server_ts, "
                                 "content) VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  std::unordered_map<uint64_t, uint64_t> last;
  while (true) {
    HF_ASSIGN_OR_RETURN(const bool row, read.Step());
    if (!row) {
      break;
    }
    HF_ASSIGN_OR_RETURN(const AccountId account, ReadAccountId(read.ColumnBlob(0)));
    const auto device = static_cast<uint32_t>(read.ColumnInt64(1));
    const uint64_t slot = QueueSlot(account, device);
    const uint64_t n = ++last[slot];
    if (n > kQueueCounterMax) {
      return Error{ErrorCode::kStorageFailure, "queue sequence numbers exhausted"};
    }
    for (int c : {0, 2, 4, 8}) {  // account, id, source_account, content
      HF_RETURN_IF_ERROR(write.BindBlob(c + 1, read.ColumnBlob(c)));
    }
    for (int c : {1, 3, 5, 6, 7}) {  // device, type, source_device, client_ts, server_ts
      HF_RETURN_IF_ERROR(write.BindInt64(c + 1, read.ColumnInt64(c)));
    }
    HF_RETURN_IF_ERROR(write.BindInt64(10, static_cast<int64_t>(QueueRangeStart(slot) | n)));
    HF_RETURN_IF_ERROR(write.Run());
    write.Reset();
  }
  read.Reset();  // no statement may be reading the table DROP TABLE removes
  return db.Exec(R"sql(
DROP TABLE envelopes;
ALTER TABLE envelopes_2 RENAME TO envelopes;
CREATE UNIQUE INDEX envelopes_id ON envelopes (account, device, id);
CREATE INDEX envelopes_age ON envelopes (server_ts);
)sql");
}

// Statements is a lazily prepared statement cache: each SQL text is compiled once.
class Statements {
 public:
  explicit Statements(SqliteDb& db) : db_(db) {}
  Result<SqliteStatement*> Get(int slot, std::string_view sql) {
    if (cache_[slot] == nullptr) {
      HF_ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare(sql));
      cache_[slot] = std::make_unique<SqliteStatement>(std::move(stmt));
    }
    return cache_[slot].get();
  }

 private:
  static constexpr int kSlots = 64;
  SqliteDb& db_;
  std::array<std::unique_ptr<SqliteStatement>, kSlots> cache_;
};

// Query runs a prepared statement and resets it afterwards, whatever happens.
class Query {
 public:
  explicit Query(SqliteStatement* stmt) : stmt_(stmt) {}
  ~Query() { stmt_->Reset(); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  SqliteStatement* operator->() { return stmt_; }
  SqliteStatement& operator*() { return *stmt_; }

 private:
  SqliteStatement* stmt_;
};

// Statement slots (one per SQL text below).
enum Slot : int {
  kAccountByPhone,
  kAccountById,
  kCreateAccount,
  kSetAccessKey,
  kDevices,
  kGetDevice,
  kNextDevice,
  kAddDevice,
  kRemoveDevice,
  kTouchDevice,
  kResetDevices,
  kResetNextDevice,
  kGetCode,
  kPutCode,
  kDeleteCode,
  kPutLinkCode,
  kTakeLinkCode,
  kPurgeCodes,
  kPurgeLinkCodes,
  kSetIdentity,
  kSetSignedPreKey,
  kAddOneTime,
  kCountOneTime,
  kTakeOneTime,
  kGetIdentity,
  kGetSignedPreKey,
  kDeleteIdentity,
  kDeleteSignedPreKey,
  kDeleteOneTime,
  kInsertEnvelope,
  kLastInSlot,
  kCountEnvelopes,
  kFetchEnvelopes,
  kDeleteEnvelope,
  kDeleteDeviceEnvelopes,
  kPurgeEnvelopes,
  kTotalEnvelopes,
  kOpenIp,
  kCloseIp,
  kCloseAllIp,
  kIpForAccount,
  kPurgeIp,
  kBegin,
  kCommit,
  kRollback,
  kSavepoint,
  kRelease,
  kRollbackToSavepoint,
};

class SqliteStorage final : public Storage,
                            AccountStore,
                            KeyStore,
                            QueueStore,
                            IpRecordStore {
 public:
  explicit SqliteStorage(SqliteDb db) : db_(std::move(db)), stmts_(db_) {}

  Result<void> Migrate(int target, bool upgrade_existing) {
    HF_RETURN_IF_ERROR(
        db_.Exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                 "INSERT OR IGNORE INTO meta VALUES ('schema_version', 0);"));
    HF_ASSIGN_OR_RETURN(auto version,
                        db_.Prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
    HF_ASSIGN_OR_RETURN(const bool row, version.Step());
    if (!row) {
      return Error{ErrorCode::kStorageFailure, "schema version missing"};
    }
    schema_version_ = static_cast<int>(version.ColumnInt64(0));
    version.Reset();
    if (schema_version_ > kSchemaVersion || schema_version_ < 0) {
      return Error{ErrorCode::kUnsupportedVersion, "database schema is newer than this server"};
    }
    if (!upgrade_existing && schema_version_ > 0 && schema_version_ < target) {
      return Error{ErrorCode::kUnsupportedVersion,
                   "database schema is older than this tool: start the new holdfastd first"};
    }
    while (schema_version_ < target) {
      HF_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
      const Migration& m = kMigrations[static_cast<size_t>(schema_version_)];
      auto step = db_.Exec(m.sql);
      if (step.ok() && m.then != nullptr) {
        step = m.then(db_);
      }
      if (step.ok()) {
        step = db_.Exec("UPDATE meta SET value = " + std::to_string(schema_version_ + 1) +
                        " WHERE key = 'schema_version'");
      }
      if (!step.ok()) {
        (void)db_.Exec("ROLLBACK");
        return step.error();
      }
      HF_RETURN_IF_ERROR(db_.Exec("COMMIT"));
      ++schema_version_;
    }
    return Ok();
  }

  // Storage.
  AccountStore& accounts() override { return *this; }
  KeyStore& keys() override { return *this; }
  QueueStore& queues() override { return *this; }
  IpRecordStore& ip_records() override { return *this; }
  // Transaction control runs prepared statements: a batch opens and releases a savepoint per
  // item, and parsing that SQL each time cost more than the savepoint itself.
  Result<void> Begin() override {
    written_.clear();
    ForgetSlotsReadSince(0);  // left by a failed commit not followed by Rollback
    savepoint_marks_.clear();
    return RunControl(kBegin, "BEGIN IMMEDIATE");
  }
  Result<void> Commit() override {
    Result<void> done = RunControl(kCommit, "COMMIT");
    if (!db_.InTransaction()) {
      written_.clear();  // (a COMMIT refused for SQLITE_BUSY leaves the transaction open)
    }
    if (done.ok()) {
      // Kept on failure (SQLite may have rolled the transaction back by itself): Rollback,
      // which follows every failed commit, forgets them.
      slots_read_.clear();
      savepoint_marks_.clear();
    }
    return done;
  }
  void Rollback() override {
    written_.clear();
    ForgetSlotsReadSince(0);
    savepoint_marks_.clear();
    (void)RunControl(kRollback, "ROLLBACK");
  }
  Result<void> Savepoint() override {
    if (!db_.InTransaction()) {
      return Error{ErrorCode::kStorageFailure, "no transaction (rolled back by SQLite)"};
    }
    HF_RETURN_IF_ERROR(RunControl(kSavepoint, "SAVEPOINT item"));
    savepoint_marks_.push_back(slots_read_.size());
    return Ok();
  }
  Result<void> Release() override {
    // The item's slots stay listed: should the whole transaction roll back, they go too.
    PopSavepointMark();
    return RunControl(kRelease, "RELEASE item");
  }
  Result<void> RollbackToSavepoint() override {
    // Only what this item read: earlier items' reads stand unless the transaction fails.
    ForgetSlotsReadSince(savepoint_marks_.empty() ? 0 : savepoint_marks_.back());
    PopSavepointMark();
    // After a failed ROLLBACK TO, RELEASE would keep the item's partial writes: stop there.
    HF_RETURN_IF_ERROR(RunControl(kRollbackToSavepoint, "ROLLBACK TO item"));
    return RunControl(kRelease, "RELEASE item");
  }
  bool InTransaction() const override { return db_.InTransaction(); }
  int SchemaVersion() const override { return schema_version_; }

  Result<void> RunControl(Slot slot, const char* sql) {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(slot, sql));
    Query q(s);
    return q->Run();
  }

  // AccountStore.
  Result<std::optional<Account>> ByPhone(std::string_view phone) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kAccountByPhone,
                                            "SELECT id, phone, access_key, created_ms FROM "
                                            "accounts WHERE phone = ?1"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindText(1, phone));
    return ReadAccount(*q);
  }
  Result<std::optional<Account>> ById(const AccountId& id) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kAccountById,
                                            "SELECT id, phone, access_key, created_ms FROM "
                                            "accounts WHERE id = ?1"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    return ReadAccount(*q);
  }
  Result<void> Create(const Account& a) override {
    Forget(a.id);
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kCreateAccount,
                                            "INSERT INTO accounts (id, phone, access_key, "
                                            "created_ms) VALUES (?1, ?2, ?3, ?4)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(a.id)));
    HF_RETURN_IF_ERROR(q->BindText(2, a.phone));
    HF_RETURN_IF_ERROR(q->BindBlob(3, a.access_key));
    HF_RETURN_IF_ERROR(q->BindInt64(4, a.created_ms));
    return q->Run();
  }
  Result<void> SetAccessKey(const AccountId& id, ByteSpan key) override {
    Forget(id);
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kSetAccessKey,
                                            "UPDATE accounts SET access_key = ?2 WHERE id = ?1"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindBlob(2, key));
    return q->Run();
  }

  Result<std::vector<Device>> Devices(const AccountId& id) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kDevices,
                                            "SELECT id, registration_id, name, credential_hash, "
                                            "created_ms, last_seen_ms FROM devices WHERE "
                                            "account = ?1 ORDER BY id"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    std::vector<Device> out;
    while (true) {
      HF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) {
        break;
      }
      out.push_back(ReadDevice(*q));
    }
    return out;
  }
  Result<std::shared_ptr<const Recipient>> GetRecipient(const AccountId& id) override {
    if (auto hit = recipients_.find(id); hit != recipients_.end()) {
      return hit->second;
    }
    HF_ASSIGN_OR_RETURN(auto recipient, AccountStore::GetRecipient(id));
    if (recipient && written_.count(id) == 0) {
      if (recipients_.size() >= kMaxCachedRecipients) {
        recipients_.clear();
      }
      recipients_.emplace(id, recipient);
    }
    return recipient;
  }
  Result<std::optional<Device>> GetDevice(const AccountId& id, uint32_t device) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kGetDevice,
                                            "SELECT id, registration_id, name, credential_hash, "
                                            "created_ms, last_seen_ms FROM devices WHERE "
                                            "account = ?1 AND id = ?2"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    if (!row) {
      return std::optional<Device>();
    }
    return std::optional<Device>(ReadDevice(*q));
  }
  Result<uint32_t> AddDevice(const AccountId& id, const Device& d) override {
    Forget(id);
    HF_ASSIGN_OR_RETURN(auto* next,
                        stmts_.Get(kNextDevice,
                                   "UPDATE accounts SET next_device = next_device + 1 WHERE "
                                   "id = ?1 RETURNING next_device - 1"));
    uint32_t device_id = 0;
    {
      Query q(next);
      HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
      HF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) {
        return ErrorCode::kNotFound;
      }
      device_id = static_cast<uint32_t>(q->ColumnInt64(0));
    }
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kAddDevice,
                                            "INSERT INTO devices (account, id, registration_id, "
                                            "name, credential_hash, created_ms, last_seen_ms) "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device_id));
    HF_RETURN_IF_ERROR(q->BindInt64(3, d.registration_id));
    HF_RETURN_IF_ERROR(q->BindText(4, d.name));
    HF_RETURN_IF_ERROR(q->BindBlob(5, d.credential_hash));
    HF_RETURN_IF_ERROR(q->BindInt64(6, d.created_ms));
    HF_RETURN_IF_ERROR(q->BindInt64(7, d.last_seen_ms));
    HF_RETURN_IF_ERROR(q->Run());
    return device_id;
  }
  Result<void> RemoveDevice(const AccountId& id, uint32_t device) override {
    Forget(id);
    return RunIdDevice(kRemoveDevice, "DELETE FROM devices WHERE account = ?1 AND id = ?2", id,
                       device);
  }
  Result<void> TouchDevice(const AccountId& id, uint32_t device, int64_t day_ms) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kTouchDevice,
                                            "UPDATE devices SET last_seen_ms = ?3 WHERE "
                                            "account = ?1 AND id = ?2"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_RETURN_IF_ERROR(q->BindInt64(3, day_ms));
    return q->Run();
  }

  Result<void> ResetDevices(const AccountId& id) override {
    Forget(id);
    HF_RETURN_IF_ERROR(RunIdDevice(kResetDevices, "DELETE FROM devices WHERE account = ?1 AND ?2 = ?2",
                                   id, 0));
    return RunIdDevice(kResetNextDevice,
                       "UPDATE accounts SET next_device = 1, access_key = x'' WHERE id = ?1 AND "
                       "?2 = ?2",
                       id, 0);
  }

  Result<std::optional<PendingCode>> GetCode(std::string_view phone) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kGetCode,
                                            "SELECT code_hash, expires_ms, attempts FROM codes "
                                            "WHERE phone = ?1"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindText(1, phone));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    if (!row) {
      return std::optional<PendingCode>();
    }
    return std::optional<PendingCode>(PendingCode{ToBytes(q->ColumnBlob(0)), q->ColumnInt64(1),
                                                  static_cast<uint32_t>(q->ColumnInt64(2))});
  }
  Result<void> PutCode(std::string_view phone, const PendingCode& c) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kPutCode,
                                            "INSERT OR REPLACE INTO codes VALUES (?1, ?2, ?3, "
                                            "?4)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindText(1, phone));
    HF_RETURN_IF_ERROR(q->BindBlob(2, c.code_hash));
    HF_RETURN_IF_ERROR(q->BindInt64(3, c.expires_ms));
    HF_RETURN_IF_ERROR(q->BindInt64(4, c.attempts));
    return q->Run();
  }
  Result<void> DeleteCode(std::string_view phone) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kDeleteCode, "DELETE FROM codes WHERE phone = ?1"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindText(1, phone));
    return q->Run();
  }
  Result<void> PutLinkCode(ByteSpan code_hash, const LinkCode& c) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kPutLinkCode,
                                            "INSERT OR REPLACE INTO link_codes VALUES (?1, ?2, "
                                            "?3)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, code_hash));
    HF_RETURN_IF_ERROR(q->BindBlob(2, Span(c.account)));
    HF_RETURN_IF_ERROR(q->BindInt64(3, c.expires_ms));
    return q->Run();
  }
  Result<std::optional<LinkCode>> TakeLinkCode(ByteSpan code_hash) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kTakeLinkCode,
                                            "DELETE FROM link_codes WHERE code_hash = ?1 "
                                            "RETURNING account, expires_ms"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, code_hash));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    if (!row) {
      return std::optional<LinkCode>();
    }
    LinkCode c;
    HF_ASSIGN_OR_RETURN(c.account, ReadAccountId(q->ColumnBlob(0)));
    c.expires_ms = q->ColumnInt64(1);
    // Step to the end so that the deletion completes before the reset.
    HF_ASSIGN_OR_RETURN(const bool more, q->Step());
    (void)more;
    return std::optional<LinkCode>(c);
  }
  Result<uint64_t> PurgeExpiredCodes(int64_t now_ms) override {
    HF_ASSIGN_OR_RETURN(const uint64_t codes,
                        RunCount(kPurgeCodes, "DELETE FROM codes WHERE expires_ms < ?1", now_ms));
    HF_ASSIGN_OR_RETURN(const uint64_t links,
                        RunCount(kPurgeLinkCodes, "DELETE FROM link_codes WHERE expires_ms < ?1",
                                 now_ms));
    return codes + links;
  }

  // KeyStore.
  Result<void> SetIdentityKey(const AccountId& id, uint32_t device, ByteSpan key) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kSetIdentity,
                                            "INSERT OR REPLACE INTO identity_keys VALUES (?1, "
                                            "?2, ?3)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_RETURN_IF_ERROR(q->BindBlob(3, key));
    return q->Run();
  }
  Result<void> SetSignedPreKey(const AccountId& id, uint32_t device,
                               const SignedPreKeyRecord& k) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kSetSignedPreKey,
                                            "INSERT OR REPLACE INTO signed_pre_keys VALUES (?1, "
                                            "?2, ?3, ?4, ?5)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_RETURN_IF_ERROR(q->BindInt64(3, k.id));
    HF_RETURN_IF_ERROR(q->BindBlob(4, k.public_key));
    HF_RETURN_IF_ERROR(q->BindBlob(5, k.signature));
    return q->Run();
  }
  Result<void> AddOneTimePreKeys(const AccountId& id, uint32_t device,
                                 const std::vector<OneTimePreKeyRecord>& keys) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kAddOneTime,
                                            "INSERT OR REPLACE INTO one_time_pre_keys VALUES "
                                            "(?1, ?2, ?3, ?4)"));
    for (const auto& k : keys) {
      Query q(s);
      HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
      HF_RETURN_IF_ERROR(q->BindInt64(2, device));
      HF_RETURN_IF_ERROR(q->BindInt64(3, k.id));
      HF_RETURN_IF_ERROR(q->BindBlob(4, k.public_key));
      HF_RETURN_IF_ERROR(q->Run());
    }
    return Ok();
  }
  Result<uint32_t> CountOneTimePreKeys(const AccountId& id, uint32_t device) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kCountOneTime,
                                            "SELECT count(*) FROM one_time_pre_keys WHERE "
                                            "account = ?1 AND device = ?2"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    return row ? static_cast<uint32_t>(q->ColumnInt64(0)) : 0u;
  }
  Result<std::optional<OneTimePreKeyRecord>> TakeOneTimePreKey(const AccountId& id,
                                                               uint32_t device) override {
    HF_ASSIGN_OR_RETURN(auto* s,
                        stmts_.Get(kTakeOneTime,
                                   "DELETE FROM one_time_pre_keys WHERE account = ?1 AND device "
                                   "= ?2 AND id = (SELECT min(id) FROM one_time_pre_keys WHERE "
                                   "account = ?1 AND device = ?2) RETURNING id, public_key"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    if (!row) {
      return std::optional<OneTimePreKeyRecord>();
    }
    OneTimePreKeyRecord k{static_cast<uint32_t>(q->ColumnInt64(0)), ToBytes(q->ColumnBlob(1))};
    HF_ASSIGN_OR_RETURN(const bool more, q->Step());
    (void)more;
    return std::optional<OneTimePreKeyRecord>(std::move(k));
  }
  Result<std::optional<DeviceKeys>> GetDeviceKeys(const AccountId& id, uint32_t device) override {
    DeviceKeys keys;
    {
      HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kGetIdentity,
                                              "SELECT key FROM identity_keys WHERE account = ?1 "
                                              "AND device = ?2"));
      Query q(s);
      HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
      HF_RETURN_IF_ERROR(q->BindInt64(2, device));
      HF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) {
        return std::optional<DeviceKeys>();
      }
      keys.identity_key = ToBytes(q->ColumnBlob(0));
    }
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kGetSignedPreKey,
                                            "SELECT id, public_key, signature FROM "
                                            "signed_pre_keys WHERE account = ?1 AND device = ?2"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    if (row) {
      keys.signed_pre_key = SignedPreKeyRecord{static_cast<uint32_t>(q->ColumnInt64(0)),
                                               ToBytes(q->ColumnBlob(1)), ToBytes(q->ColumnBlob(2))};
    }
    return std::optional<DeviceKeys>(std::move(keys));
  }
  Result<void> DeleteDeviceKeys(const AccountId& id, uint32_t device) override {
    HF_RETURN_IF_ERROR(RunIdDevice(kDeleteIdentity,
                                   "DELETE FROM identity_keys WHERE account = ?1 AND device = ?2",
                                   id, device));
    HF_RETURN_IF_ERROR(RunIdDevice(
        kDeleteSignedPreKey, "DELETE FROM signed_pre_keys WHERE account = ?1 AND device = ?2", id,
        device));
    return RunIdDevice(kDeleteOneTime,
                       "DELETE FROM one_time_pre_keys WHERE account = ?1 AND device = ?2", id,
                       device);
  }

  // QueueStore.
  Result<uint64_t> Insert(const AccountId& id, uint32_t device, const Envelope& e) override {
    const uint64_t slot = QueueSlot(id, device);
    HF_ASSIGN_OR_RETURN(const uint64_t last, LastInSlot(slot));
    if (last >= kQueueCounterMax) {
      return Error{ErrorCode::kStorageFailure, "queue sequence numbers exhausted"};
    }
    const uint64_t seq = QueueRangeStart(slot) | (last + 1);
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kInsertEnvelope,
                                            "INSERT INTO envelopes (seq, account, device, id, "
                                            "type, source_account, source_device, client_ts, "
                                            "server_ts, content) VALUES (?10, ?1, ?2, ?3, ?4, "
                                            "?5, ?6, ?7, ?8, ?9)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_RETURN_IF_ERROR(q->BindBlob(3, ByteSpan(e.id.data(), e.id.size())));
    HF_RETURN_IF_ERROR(q->BindInt64(4, e.type));
    HF_RETURN_IF_ERROR(q->BindBlob(5, e.source_account));
    HF_RETURN_IF_ERROR(q->BindInt64(6, e.source_device));
    HF_RETURN_IF_ERROR(q->BindInt64(7, e.client_timestamp));
    HF_RETURN_IF_ERROR(q->BindInt64(8, e.server_timestamp));
    HF_RETURN_IF_ERROR(q->BindBlob(9, e.content));
    HF_RETURN_IF_ERROR(q->BindInt64(10, static_cast<int64_t>(seq)));
    if (auto inserted = q->Run(); !inserted.ok()) {
      // Should the number clash with a stored one (this process is meant to be the only
      // writer), every later insert into the slot would clash too: catch up with the table.
      if (auto newest = NewestInSlot(slot); newest.ok() && *newest > last) {
        last_in_slot_[slot] = *newest;
      }
      return inserted.error();
    }
    // Kept even if the transaction rolls back later: a gap. (Only a counter read inside a
    // transaction that rolls back is forgotten, and then nobody learned its numbers.)
    last_in_slot_[slot] = last + 1;
    return seq;
  }
  Result<uint64_t> Count(const AccountId& id, uint32_t device) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kCountEnvelopes,
                                            "SELECT count(*) FROM envelopes WHERE account = ?1 "
                                            "AND device = ?2"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    return row ? static_cast<uint64_t>(q->ColumnInt64(0)) : 0u;
  }
  Result<std::vector<QueuedEnvelope>> Fetch(const AccountId& id, uint32_t device,
                                            uint64_t after_seq, size_t limit) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kFetchEnvelopes, kFetchQueueSql));
    const uint64_t slot = QueueSlot(id, device);
    const uint64_t start = QueueRangeStart(slot);
    // Every number a connection learns comes from Insert or from here: read the slot's
    // counter first, so that it is at least the newest number this returns.
    HF_RETURN_IF_ERROR(LastInSlot(slot));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    HF_RETURN_IF_ERROR(q->BindInt64(3, static_cast<int64_t>(std::max(after_seq, start))));
    HF_RETURN_IF_ERROR(q->BindInt64(4, static_cast<int64_t>(limit)));
    HF_RETURN_IF_ERROR(q->BindInt64(5, static_cast<int64_t>(start + kQueueCounterMax)));
    std::vector<QueuedEnvelope> out;
    while (true) {
      HF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) {
        break;
      }
      QueuedEnvelope qe;
      qe.seq = static_cast<uint64_t>(q->ColumnInt64(0));
      const ByteSpan envelope_id = q->ColumnBlob(1);
      if (envelope_id.size() != kEnvelopeIdBytes) {
        return Error{ErrorCode::kStorageFailure, "corrupt envelope id"};
      }
      std::copy(envelope_id.begin(), envelope_id.end(), qe.envelope.id.begin());
      qe.envelope.type = static_cast<uint32_t>(q->ColumnInt64(2));
      qe.envelope.source_account = ToBytes(q->ColumnBlob(3));
      qe.envelope.source_device = static_cast<uint32_t>(q->ColumnInt64(4));
      qe.envelope.client_timestamp = q->ColumnInt64(5);
      qe.envelope.server_timestamp = q->ColumnInt64(6);
      qe.envelope.content = ToBytes(q->ColumnBlob(7));
      out.push_back(std::move(qe));
    }
    return out;
  }
  Result<bool> Delete(const AccountId& id, uint32_t device, const EnvelopeId& e) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kDeleteEnvelope,
                                            "DELETE FROM envelopes WHERE account = ?1 AND device "
                                            "= ?2 AND id = ?3"));
    {
      Query q(s);
      HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
      HF_RETURN_IF_ERROR(q->BindInt64(2, device));
      HF_RETURN_IF_ERROR(q->BindBlob(3, ByteSpan(e.data(), e.size())));
      HF_RETURN_IF_ERROR(q->Run());
    }
    HF_ASSIGN_OR_RETURN(const uint64_t n, Changes());
    return n > 0;
  }
  Result<uint64_t> DeleteDevice(const AccountId& id, uint32_t device) override {
    HF_RETURN_IF_ERROR(RunIdDevice(kDeleteDeviceEnvelopes,
                                   "DELETE FROM envelopes WHERE account = ?1 AND device = ?2", id,
                                   device));
    return Changes();
  }
  Result<uint64_t> PurgeBefore(int64_t cutoff_ms) override {
    return RunCount(kPurgeEnvelopes, "DELETE FROM envelopes WHERE server_ts < ?1", cutoff_ms);
  }
  Result<uint64_t> TotalCount() override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kTotalEnvelopes, "SELECT count(*) FROM envelopes"));
    Query q(s);
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    return row ? static_cast<uint64_t>(q->ColumnInt64(0)) : 0u;
  }

  // IpRecordStore.
  Result<uint64_t> Open(const IpRecord& r) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kOpenIp,
                                            "INSERT INTO ip_records (account, device, ip, port, "
                                            "start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(r.account)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, r.device));
    HF_RETURN_IF_ERROR(q->BindText(3, r.ip));
    HF_RETURN_IF_ERROR(q->BindInt64(4, r.port));
    HF_RETURN_IF_ERROR(q->BindInt64(5, r.start_ms));
    HF_RETURN_IF_ERROR(q->Run());
    return static_cast<uint64_t>(db_.LastInsertRowid());  // id is the rowid
  }
  Result<void> Close(uint64_t record_id, int64_t end_ms) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kCloseIp,
                                            "UPDATE ip_records SET end_ms = ?2 WHERE id = ?1 AND "
                                            "end_ms IS NULL"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindInt64(1, static_cast<int64_t>(record_id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, end_ms));
    return q->Run();
  }
  Result<uint64_t> CloseAllOpen(int64_t end_ms) override {
    return RunCount(kCloseAllIp,
                    "UPDATE ip_records SET end_ms = max(?1, start_ms) WHERE end_ms IS NULL",
                    end_ms);
  }
  Result<std::vector<IpRecord>> ForAccount(const AccountId& id, int64_t from_ms,
                                           int64_t to_ms) override {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kIpForAccount,
                                            "SELECT device, ip, port, start_ms, end_ms FROM "
                                            "ip_records WHERE account = ?1 AND start_ms <= ?3 AND "
                                            "(end_ms IS NULL OR end_ms >= ?2) ORDER BY start_ms, "
                                            "id"));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, from_ms));
    HF_RETURN_IF_ERROR(q->BindInt64(3, to_ms));
    std::vector<IpRecord> out;
    while (true) {
      HF_ASSIGN_OR_RETURN(const bool row, q->Step());
      if (!row) {
        break;
      }
      IpRecord r;
      r.account = id;
      r.device = static_cast<uint32_t>(q->ColumnInt64(0));
      r.ip = q->ColumnText(1);
      r.port = static_cast<uint16_t>(q->ColumnInt64(2));
      r.start_ms = q->ColumnInt64(3);
      if (!q->ColumnIsNull(4)) {
        r.end_ms = q->ColumnInt64(4);
      }
      out.push_back(std::move(r));
    }
    return out;
  }
  Result<uint64_t> PurgeEndedBefore(int64_t cutoff_ms) override {
    return RunCount(kPurgeIp, "DELETE FROM ip_records WHERE end_ms < ?1", cutoff_ms);
  }

 private:
  static Result<std::optional<Account>> ReadAccount(SqliteStatement& q) {
    HF_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) {
      return std::optional<Account>();
    }
    Account a;
    HF_ASSIGN_OR_RETURN(a.id, ReadAccountId(q.ColumnBlob(0)));
    a.phone = q.ColumnText(1);
    a.access_key = ToBytes(q.ColumnBlob(2));
    a.created_ms = q.ColumnInt64(3);
    return std::optional<Account>(std::move(a));
  }

  static Device ReadDevice(SqliteStatement& q) {
    Device d;
    d.id = static_cast<uint32_t>(q.ColumnInt64(0));
    d.registration_id = static_cast<uint32_t>(q.ColumnInt64(1));
    d.name = q.ColumnText(2);
    d.credential_hash = ToBytes(q.ColumnBlob(3));
    d.created_ms = q.ColumnInt64(4);
    d.last_seen_ms = q.ColumnInt64(5);
    return d;
  }

  Result<void> RunIdDevice(Slot slot, std::string_view sql, const AccountId& id,
                           uint32_t device) {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(slot, sql));
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindBlob(1, Span(id)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, device));
    return q->Run();
  }

  Result<uint64_t> RunCount(Slot slot, std::string_view sql, int64_t arg) {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(slot, sql));
    {
      Query q(s);
      HF_RETURN_IF_ERROR(q->BindInt64(1, arg));
      HF_RETURN_IF_ERROR(q->Run());
    }
    return Changes();
  }

  Result<uint64_t> Changes() { return db_.Changes(); }

  // LastInSlot is the last counter a slot's range gave out: remembered from this process's
  // inserts, else read from its newest envelope (0 for an empty range). Insert and Fetch,
  // the only ways a connection learns a number, both read it first, so within a process a
  // device's numbers only grow, even after its newest envelopes are deleted. Across a
  // restart they may start again after the newest envelope left: no connection of the new
  // process has seen a number that is not still in the table.
  Result<uint64_t> LastInSlot(uint64_t slot) {
    if (auto it = last_in_slot_.find(slot); it != last_in_slot_.end()) {
      return it->second;
    }
    HF_ASSIGN_OR_RETURN(const uint64_t last, NewestInSlot(slot));
    last_in_slot_[slot] = last;
    if (db_.InTransaction()) {
      // Read inside a transaction that may have deleted the slot's newest envelopes: if it
      // (or the item's savepoint) rolls back they return, and the value read would be too
      // low. Nobody learned a number of the slot in what rolled back: forgetting the value
      // cannot lower one that was handed out.
      slots_read_.push_back(slot);
    }
    return last;
  }

  // NewestInSlot is the counter of the slot's newest stored envelope (0 for none).
  Result<uint64_t> NewestInSlot(uint64_t slot) {
    HF_ASSIGN_OR_RETURN(auto* s, stmts_.Get(kLastInSlot,
                                            "SELECT max(seq) FROM envelopes WHERE seq >= ?1 "
                                            "AND seq <= ?2"));
    const uint64_t start = QueueRangeStart(slot);
    Query q(s);
    HF_RETURN_IF_ERROR(q->BindInt64(1, static_cast<int64_t>(start)));
    HF_RETURN_IF_ERROR(q->BindInt64(2, static_cast<int64_t>(start + kQueueCounterMax)));
    HF_ASSIGN_OR_RETURN(const bool row, q->Step());
    return row && !q->ColumnIsNull(0) ? static_cast<uint64_t>(q->ColumnInt64(0)) - start : 0;
  }

  // ForgetSlotsReadSince drops the counters read from SQLite since the `mark`th read of the
  // open transaction; the next use reads them again.
  void ForgetSlotsReadSince(size_t mark) {
    for (size_t i = std::min(mark, slots_read_.size()); i < slots_read_.size(); ++i) {
      last_in_slot_.erase(slots_read_[i]);
    }
    slots_read_.resize(std::min(mark, slots_read_.size()));
  }
  void PopSavepointMark() {
    if (!savepoint_marks_.empty()) {
      savepoint_marks_.pop_back();
    }
  }

  // Forget drops the account from the recipient cache before a write to its access key or
  // devices, and keeps it out until the transaction ends: a rollback then leaves nothing
  // uncommitted in the cache.
  void Forget(const AccountId& id) {
    recipients_.erase(id);
    written_.insert(id);
  }

  struct AccountIdHash {
    size_t operator()(const AccountId& id) const {
      return std::hash<std::string_view>()(
          std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
    }
  };
  // Bounded: cleared when full. An entry costs about 150 bytes.
  static constexpr size_t kMaxCachedRecipients = 100000;

  SqliteDb db_;
  Statements stmts_;
  int schema_version_ = 0;
  // What sends read of their destination, kept because this process is the only writer of
  // accounts and devices (holdfast-admin reads phone numbers and IP records). Accounts written
  // in the open transaction are read from SQLite until it ends.
  std::unordered_map<AccountId, std::shared_ptr<const Recipient>, AccountIdHash> recipients_;
  std::unordered_set<AccountId, AccountIdHash> written_;
  // The last counter given out in each queue slot's range (LastInSlot). Never evicted: an
  // entry read again from SQLite after the slot's newest envelope was deleted would be lower,
  // and a connection that saw the higher number would miss the next envelope. About 40 bytes
  // per device that connected or received an envelope since start.
  std::unordered_map<uint64_t, uint64_t> last_in_slot_;
  // Slots whose counter LastInSlot read from SQLite in the open transaction, in order, and
  // where each open savepoint began in that list: what a rollback undoes is forgotten.
  std::vector<uint64_t> slots_read_;
  std::vector<size_t> savepoint_marks_;
};

// kPageCacheKiB bounds SQLite's page cache, which grows only as pages are read.
constexpr int kPageCacheKiB = 64 * 1024;

}  // namespace

Result<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                   SqliteStorageOptions options) {
  HF_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  if (options.background_checkpoints) {
    HF_RETURN_IF_ERROR(db.CheckpointInBackground());
  }
  // SQLite's default page cache (2 MB) holds the queues' indexes only while they are small;
  // beyond it every insert and delete read its b-tree pages back through pread.
  HF_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size = -" + std::to_string(kPageCacheKiB)));
  auto storage = std::make_unique<SqliteStorage>(std::move(db));
  HF_RETURN_IF_ERROR(storage->Migrate(
      options.migrate_to > 0 ? std::min(options.migrate_to, kSchemaVersion) : kSchemaVersion,
      options.upgrade_existing));
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace holdfast::server
