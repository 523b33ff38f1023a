// Both stores keep the same records in a small key-value table: the records' byte formats
// are shared, only where they live differs.
#include "holdfast/signal/store.h"

#include <cstdio>
#include <map>
#include <set>

#include "holdfast/common/sqlite.h"

namespace holdfast::signal {
namespace {

constexpr char kLocal[] = "local";
constexpr char kRemote[] = "remote_identity";
constexpr char kPreKey[] = "prekey";
constexpr char kSignedPreKey[] = "signed_prekey";
constexpr char kSession[] = "session";
constexpr char kSenderKey[] = "sender_key";
constexpr char kCounter[] = "counter";

using Kv = RecordStore;

std::string IdKey(uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%010u", id);
  return buf;
}

const Error kCorrupt{ErrorCode::kStorageFailure, "corrupt protocol store record"};

// Key pairs are stored as private[32] || public[33], so loading one costs no scalar
// multiplication.
constexpr size_t kPairBytes = crypto::kX25519KeyBytes + crypto::kSignalPublicKeyBytes;

void PutPair(uint8_t* out, const crypto::X25519KeyPair& pair) {
  const ByteSpan priv = pair.private_key.Serialize();
  const auto pub = pair.public_key.Serialize();
  std::copy(priv.begin(), priv.end(), out);
  std::copy(pub.begin(), pub.end(), out + priv.size());
}

Result<crypto::X25519KeyPair> ReadPair(ByteReader& r) {
  auto priv = r.ReadBytes(crypto::kX25519KeyBytes);
  auto pub = r.ReadBytes(crypto::kSignalPublicKeyBytes);
  if (!priv.ok() || !pub.ok()) {
    return kCorrupt;
  }
  auto key = crypto::X25519PrivateKey::FromBytes(*priv);
  auto public_key = crypto::X25519PublicKey::Parse(*pub);
  if (!key.ok() || !public_key.ok()) {
    return kCorrupt;
  }
  return crypto::X25519KeyPair{std::move(*key), *public_key};
}

class KvProtocolStore final : public ProtocolStore {
 public:
  explicit KvProtocolStore(std::unique_ptr<Kv> kv) : owned_(std::move(kv)), kv_(owned_.get()) {}
  explicit KvProtocolStore(Kv& kv) : kv_(&kv) {}

  // Transactions nest: only the outermost reaches storage, and a rollback anywhere makes
  // the whole outer transaction roll back.
  Result<void> Begin() override {
    if (depth_++ == 0) {
      failed_ = false;
      auto r = kv_->Begin();
      if (!r.ok()) {
        depth_ = 0;
      }
      return r;
    }
    return Ok();
  }
  Result<void> Commit() override {
    if (depth_ == 0) {
      return Error{ErrorCode::kInvalidArgument, "commit without begin"};
    }
    if (--depth_ > 0) {
      return Ok();
    }
    if (failed_) {
      kv_->Rollback();
      return Error{ErrorCode::kStorageFailure, "an inner operation failed"};
    }
    return kv_->Commit();
  }
  void Rollback() override {
    if (depth_ == 0) {
      return;
    }
    failed_ = true;
    if (--depth_ == 0) {
      kv_->Rollback();
    }
  }

  Result<LocalIdentity> GetLocalIdentity() override {
    HF_ASSIGN_OR_RETURN(auto v, kv_->Get(kLocal, "identity"));
    if (!v) {
      return ErrorCode::kNotFound;
    }
    ByteReader r(v->span());
    HF_ASSIGN_OR_RETURN(auto pair, ReadPair(r));
    auto reg = r.ReadU32Be();
    if (!reg.ok() || !r.empty()) {
      return kCorrupt;
    }
    return LocalIdentity{std::move(pair), *reg};
  }

  Result<void> SetLocalIdentity(const LocalIdentity& id) override {
    SecretBytes v(kPairBytes + 4);
    PutPair(v.data(), id.identity);
    for (int i = 0; i < 4; ++i) {
      v.data()[kPairBytes + i] = static_cast<uint8_t>(id.registration_id >> (24 - 8 * i));
    }
    return kv_->Put(kLocal, "identity", v.span());
  }

  Result<std::optional<crypto::X25519PublicKey>> GetRemoteIdentity(std::string_view name) override {
    HF_ASSIGN_OR_RETURN(auto v, kv_->Get(kRemote, std::string(name)));
    if (!v) {
      return std::optional<crypto::X25519PublicKey>();
    }
    auto key = crypto::X25519PublicKey::Parse(v->span());
    if (!key.ok()) {
      return kCorrupt;
    }
    return std::optional<crypto::X25519PublicKey>(*key);
  }

  Result<void> CheckRemoteIdentity(std::string_view name,
                                   const crypto::X25519PublicKey& key) override {
    HF_ASSIGN_OR_RETURN(const auto known, GetRemoteIdentity(name));
    if (known && !(*known == key)) {
      return ErrorCode::kUntrustedIdentity;
    }
    return Ok();
  }

  Result<void> SaveRemoteIdentity(std::string_view name,
                                  const crypto::X25519PublicKey& key) override {
    HF_RETURN_IF_ERROR(CheckRemoteIdentity(name, key));
    return kv_->Put(kRemote, std::string(name), key.Serialize());
  }

  Result<void> AcceptRemoteIdentity(std::string_view name,
                                    const crypto::X25519PublicKey& key) override {
    return kv_->Put(kRemote, std::string(name), key.Serialize());
  }

  Result<std::optional<crypto::X25519KeyPair>> LoadPreKey(uint32_t id) override {
    HF_ASSIGN_OR_RETURN(auto v, kv_->Get(kPreKey, IdKey(id)));
    if (!v) {
      return std::optional<crypto::X25519KeyPair>();
    }
    ByteReader r(v->span());
    HF_ASSIGN_OR_RETURN(auto pair, ReadPair(r));
    if (!r.empty()) {
      return kCorrupt;
    }
    return std::optional<crypto::X25519KeyPair>(std::move(pair));
  }

  Result<void> StorePreKey(uint32_t id, const crypto::X25519KeyPair& key) override {
    SecretBytes v(kPairBytes);
    PutPair(v.data(), key);
    return kv_->Put(kPreKey, IdKey(id), v.span());
  }

  Result<void> RemovePreKey(uint32_t id) override { return kv_->Delete(kPreKey, IdKey(id)); }

  Result<std::vector<uint32_t>> PreKeyIds() override {
    HF_ASSIGN_OR_RETURN(const auto keys, kv_->Keys(kPreKey));
    std::vector<uint32_t> ids;
    for (const auto& k : keys) {
      ids.push_back(static_cast<uint32_t>(std::stoul(k)));
    }
    return ids;
  }

  Result<std::optional<SignedPreKeyRecord>> LoadSignedPreKey(uint32_t id) override {
    HF_ASSIGN_OR_RETURN(auto v, kv_->Get(kSignedPreKey, IdKey(id)));
    if (!v) {
      return std::optional<SignedPreKeyRecord>();
    }
    ByteReader r(v->span());
    HF_ASSIGN_OR_RETURN(auto pair, ReadPair(r));
    return std::optional<SignedPreKeyRecord>(
        SignedPreKeyRecord{id, std::move(pair), ToBytes(r.Rest())});
  }

  Result<void> StoreSignedPreKey(const SignedPreKeyRecord& rec) override {
    SecretBytes v(kPairBytes + rec.signature.size());
    PutPair(v.data(), rec.key);
    std::copy(rec.signature.begin(), rec.signature.end(), v.data() + kPairBytes);
    return kv_->Put(kSignedPreKey, IdKey(rec.id), v.span());
  }

  Result<void> RemoveSignedPreKey(uint32_t id) override {
    return kv_->Delete(kSignedPreKey, IdKey(id));
  }

  Result<SignedPreKeyRecord> LatestSignedPreKey() override {
    HF_ASSIGN_OR_RETURN(const auto keys, kv_->Keys(kSignedPreKey));
    if (keys.empty()) {
      return ErrorCode::kNotFound;
    }
    HF_ASSIGN_OR_RETURN(auto rec, LoadSignedPreKey(static_cast<uint32_t>(std::stoul(keys.back()))));
    if (!rec) {
      return kCorrupt;
    }
    return std::move(*rec);
  }

  Result<std::optional<SecretBytes>> LoadSession(std::string_view name) override {
    return kv_->Get(kSession, std::string(name));
  }
  Result<void> RemoveSession(std::string_view name) override {
    return kv_->Delete(kSession, std::string(name));
  }
  Result<void> StoreSession(std::string_view name, ByteSpan serialized) override {
    return kv_->Put(kSession, std::string(name), serialized);
  }
  Result<std::optional<SecretBytes>> LoadSenderKey(std::string_view group,
                                                   std::string_view sender) override {
    return kv_->Get(kSenderKey, std::string(group) + "\n" + std::string(sender));
  }
  Result<void> StoreSenderKey(std::string_view group, std::string_view sender,
                              ByteSpan serialized) override {
    return kv_->Put(kSenderKey, std::string(group) + "\n" + std::string(sender), serialized);
  }

  Result<uint32_t> GetCounter(std::string_view name) override {
    HF_ASSIGN_OR_RETURN(auto v, kv_->Get(kCounter, std::string(name)));
    if (!v) {
      return uint32_t{0};
    }
    auto n = ByteReader(v->span()).ReadU32Be();
    if (!n.ok()) {
      return kCorrupt;
    }
    return *n;
  }

  Result<void> SetCounter(std::string_view name, uint32_t value) override {
    ByteWriter w;
    w.WriteU32Be(value);
    return kv_->Put(kCounter, std::string(name), w.view());
  }

 private:
  std::unique_ptr<Kv> owned_;  // null when the records are borrowed
  Kv* kv_;
  int depth_ = 0;
  bool failed_ = false;
};

class MemoryKv final : public Kv {
 public:
  using Table = std::map<std::string, Bytes, std::less<>>;
  Result<std::optional<SecretBytes>> Get(const char* table, const std::string& key) override {
    const Table& t = tables_[table];
    auto it = t.find(key);
    if (it == t.end()) {
      return std::optional<SecretBytes>();
    }
    return std::optional<SecretBytes>(SecretBytes::Copy(it->second));
  }
  Result<void> Put(const char* table, const std::string& key, ByteSpan value) override {
    Table& t = tables_[table];
    auto [it, inserted] = t.try_emplace(key);
    Remember(table, key, inserted ? nullptr : &it->second);
    SecureWipe(it->second);  // empty unless a transaction's undo log did not take the bytes
    it->second.assign(value.begin(), value.end());
    return Ok();
  }
  Result<void> Delete(const char* table, const std::string& key) override {
    Table& t = tables_[table];
    auto it = t.find(key);
    if (it == t.end()) {
      return Ok();
    }
    Remember(table, key, &it->second);
    SecureWipe(it->second);
    t.erase(it);
    return Ok();
  }
  Result<std::vector<std::string>> Keys(const char* table) override {
    std::vector<std::string> out;
    for (const auto& [k, v] : tables_[table]) {
      out.push_back(k);
    }
    return out;
  }
  // A transaction keeps an undo log of the values it overwrote, so its cost follows what it
  // changes rather than the size of the store.
  Result<void> Begin() override {
    in_transaction_ = true;
    return Ok();
  }
  Result<void> Commit() override {
    ForgetUndo();
    return Ok();
  }
  void Rollback() override {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      Table& t = tables_[it->table];
      if (auto cur = t.find(it->key); cur != t.end()) {
        SecureWipe(cur->second);
        t.erase(cur);
      }
      if (it->old) {
        t[it->key] = std::move(*it->old);
      }
    }
    undo_.clear();
    in_transaction_ = false;
  }
  ~MemoryKv() override {
    ForgetUndo();
    for (auto& [name, t] : tables_) {
      for (auto& [k, v] : t) {
        SecureWipe(v);
      }
    }
  }

 private:
  struct Undo {
    const char* table;
    std::string key;
    std::optional<Bytes> old;  // absent: the key did not exist
  };

  // Remember logs, inside a transaction, the value a write is about to replace (`old`, null
  // when the key is new); the log takes the old bytes, leaving `old` empty.
  void Remember(const char* table, const std::string& key, Bytes* old) {
    if (!in_transaction_) {
      return;
    }
    undo_.push_back(
        Undo{table, key, old == nullptr ? std::nullopt : std::optional<Bytes>(std::move(*old))});
    if (old != nullptr) {
      old->clear();
    }
  }

  void ForgetUndo() {
    for (auto& u : undo_) {
      if (u.old) {
        SecureWipe(*u.old);
      }
    }
    undo_.clear();
    in_transaction_ = false;
  }

  // Tables are named by the constants above, so their addresses identify them.
  std::map<const char*, Table> tables_;
  std::vector<Undo> undo_;
  bool in_transaction_ = false;
};

class SqliteKv final : public Kv {
 public:
  explicit SqliteKv(SqliteDb db) : db_(std::move(db)) {}

  Result<void> Init() {
    HF_RETURN_IF_ERROR(db_.Exec(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS kv (tbl TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL,"
        " PRIMARY KEY (tbl, k));"
        "INSERT OR IGNORE INTO meta VALUES ('version', 1);"));
    HF_ASSIGN_OR_RETURN(auto version, db_.Prepare("SELECT value FROM meta WHERE key = 'version'"));
    HF_ASSIGN_OR_RETURN(const bool row, version.Step());
    if (!row || version.ColumnInt64(0) != 1) {
      return Error{ErrorCode::kUnsupportedVersion, "protocol store format"};
    }
    HF_ASSIGN_OR_RETURN(get_, db_.Prepare("SELECT v FROM kv WHERE tbl = ?1 AND k = ?2"));
    HF_ASSIGN_OR_RETURN(put_, db_.Prepare("INSERT OR REPLACE INTO kv VALUES (?1, ?2, ?3)"));
    HF_ASSIGN_OR_RETURN(del_, db_.Prepare("DELETE FROM kv WHERE tbl = ?1 AND k = ?2"));
    HF_ASSIGN_OR_RETURN(keys_, db_.Prepare("SELECT k FROM kv WHERE tbl = ?1 ORDER BY k"));
    return Ok();
  }

  Result<std::optional<SecretBytes>> Get(const char* table, const std::string& key) override {
    HF_RETURN_IF_ERROR(get_->BindText(1, table));
    HF_RETURN_IF_ERROR(get_->BindText(2, key));
    auto row = get_->Step();
    std::optional<SecretBytes> out;
    if (row.ok() && *row) {
      out = SecretBytes::Copy(get_->ColumnBlob(0));
    }
    get_->Reset();
    if (!row.ok()) {
      return row.error();
    }
    return out;
  }
  Result<void> Put(const char* table, const std::string& key, ByteSpan value) override {
    HF_RETURN_IF_ERROR(put_->BindText(1, table));
    HF_RETURN_IF_ERROR(put_->BindText(2, key));
    HF_RETURN_IF_ERROR(put_->BindBlob(3, value));
    return put_->Run();
  }
  Result<void> Delete(const char* table, const std::string& key) override {
    HF_RETURN_IF_ERROR(del_->BindText(1, table));
    HF_RETURN_IF_ERROR(del_->BindText(2, key));
    return del_->Run();
  }
  Result<std::vector<std::string>> Keys(const char* table) override {
    HF_RETURN_IF_ERROR(keys_->BindText(1, table));
    std::vector<std::string> out;
    Result<bool> row = keys_->Step();
    while (row.ok() && *row) {
      out.push_back(keys_->ColumnText(0));
      row = keys_->Step();
    }
    keys_->Reset();
    if (!row.ok()) {
      return row.error();
    }
    return out;
  }
  Result<void> Begin() override { return db_.Exec("BEGIN IMMEDIATE"); }
  Result<void> Commit() override { return db_.Exec("COMMIT"); }
  void Rollback() override { (void)db_.Exec("ROLLBACK"); }

 private:
  SqliteDb db_;
  std::optional<SqliteStatement> get_, put_, del_, keys_;
};

}  // namespace

std::unique_ptr<ProtocolStore> NewProtocolStore(RecordStore& records) {
  return std::make_unique<KvProtocolStore>(records);
}

std::unique_ptr<ProtocolStore> NewMemoryProtocolStore() {
  return std::make_unique<KvProtocolStore>(std::make_unique<MemoryKv>());
}

Result<std::unique_ptr<ProtocolStore>> OpenSqliteProtocolStore(const std::string& path) {
  HF_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  auto kv = std::make_unique<SqliteKv>(std::move(db));
  HF_RETURN_IF_ERROR(kv->Init());
  return std::unique_ptr<ProtocolStore>(std::make_unique<KvProtocolStore>(std::move(kv)));
}

}  // namespace holdfast::signal
