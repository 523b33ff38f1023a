#include "holdfast/client/local_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "holdfast/common/sqlite.h"
#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/random.h"

namespace holdfast::client {
namespace {

constexpr int64_t kFormat = 1;
constexpr size_t kMasterKeyBytes = 32;
constexpr size_t kTagBytes = 16;
constexpr size_t kNonceBytes = 24;
constexpr size_t kMaxKeyBytes = 0xffff;
constexpr char kAad[] = "holdfast/store/v1";
constexpr char kCheckLabel[] = "holdfast/store/check";
constexpr char kKdfArgon2id[] = "argon2id";
constexpr char kKdfKeyFile[] = "key-file";

const Error kNotAuthentic{ErrorCode::kStorageFailure, "record does not authenticate"};
const Error kAborted{ErrorCode::kStorageFailure, "the transaction was rolled back"};

// Keys are the two working keys derived from the master key.
struct WorkingKeys {
  std::unique_ptr<crypto::HmacSha256Key> index;
  Secret<crypto::kAeadKeyBytes> data;
};

Result<WorkingKeys> DeriveKeys(ByteSpan master) {
  Secret<32> index;
  WorkingKeys keys;
  HF_RETURN_IF_ERROR(crypto::HkdfSha256(master, {}, AsBytes("holdfast/store/index"),
                                        index.mutable_span()));
  HF_RETURN_IF_ERROR(crypto::HkdfSha256(master, {}, AsBytes("holdfast/store/data"),
                                        keys.data.mutable_span()));
  keys.index = std::make_unique<crypto::HmacSha256Key>(index.span());
  return keys;
}

Result<SecretBytes> MasterKey(const StoreSecret& secret, ByteSpan salt,
                              const crypto::Argon2idParams& kdf) {
  if (secret.kind == StoreSecret::Kind::kKeyFile) {
    if (secret.bytes.size() != kMasterKeyBytes) {
      return Error{ErrorCode::kInvalidArgument, "a key file holds exactly 32 bytes"};
    }
    return SecretBytes::Copy(secret.bytes.span());
  }
  if (secret.bytes.empty()) {
    return Error{ErrorCode::kInvalidArgument, "empty passphrase"};
  }
  return crypto::Argon2id(secret.bytes.span(), salt, kdf, kMasterKeyBytes);
}

Result<Bytes> Seal(const WorkingKeys& keys, ByteSpan aad, ByteSpan plaintext) {
  Bytes nonce(kNonceBytes);
  crypto::SystemRng().Fill(nonce);
  HF_ASSIGN_OR_RETURN(Bytes sealed, crypto::AeadSeal(crypto::AeadAlgorithm::kXChaCha20Poly1305,
                                                     keys.data.span(), nonce, aad, plaintext));
  nonce.insert(nonce.end(), sealed.begin(), sealed.end());
  return nonce;
}

Result<SecretBytes> Unseal(const WorkingKeys& keys, ByteSpan aad, ByteSpan stored) {
  if (stored.size() < kNonceBytes + crypto::kAeadTagBytes) {
    return kNotAuthentic;
  }
  auto opened = crypto::AeadOpen(crypto::AeadAlgorithm::kXChaCha20Poly1305, keys.data.span(),
                                 stored.first(kNonceBytes), aad, stored.subspan(kNonceBytes));
  if (!opened.ok()) {
    return kNotAuthentic;
  }
  return std::move(opened).value();
}

}  // namespace

class LocalStore::Impl {
 public:
  Impl(SqliteDb db, WorkingKeys keys) : db_(std::move(db)), keys_(std::move(keys)) {}

  Result<void> Prepare() {
    HF_ASSIGN_OR_RETURN(get_, db_.Prepare("SELECT v FROM kv WHERE k = ?1"));
    HF_ASSIGN_OR_RETURN(put_, db_.Prepare("INSERT OR REPLACE INTO kv (tag, k, v) VALUES (?1, ?2, ?3)"));
    HF_ASSIGN_OR_RETURN(del_, db_.Prepare("DELETE FROM kv WHERE k = ?1"));
    HF_ASSIGN_OR_RETURN(list_, db_.Prepare("SELECT k, v FROM kv WHERE tag = ?1"));
    return Ok();
  }

  std::array<uint8_t, kTagBytes> Tag(std::string_view table) const {
    const auto mac = keys_.index->Mac({AsBytes("table"), Zero(), AsBytes(table)});
    std::array<uint8_t, kTagBytes> out;
    std::copy_n(mac.data(), kTagBytes, out.begin());
    return out;
  }
  std::array<uint8_t, 32> RowKey(std::string_view table, std::string_view key) const {
    const auto mac =
        keys_.index->Mac({AsBytes("record"), Zero(), AsBytes(table), Zero(), AsBytes(key)});
    std::array<uint8_t, 32> out;
    std::copy_n(mac.data(), out.size(), out.begin());
    return out;
  }
  Bytes Aad(ByteSpan row_key) const {
    Bytes aad(AsBytes(kAad).begin(), AsBytes(kAad).end());
    aad.insert(aad.end(), row_key.begin(), row_key.end());
    return aad;
  }

  // Open decrypts one stored value and checks that it is the record for `key` (or, when
  // `key` is null, returns its key in *found_key).
  Result<SecretBytes> OpenValue(ByteSpan row_key, ByteSpan stored, const std::string* key,
                                std::string* found_key) const {
    HF_ASSIGN_OR_RETURN(SecretBytes plain, Unseal(keys_, Aad(row_key), stored));
    ByteReader r(plain.span());
    auto name = r.ReadPrefixed16();
    if (!name.ok()) {
      return kNotAuthentic;
    }
    const std::string_view name_view(reinterpret_cast<const char*>(name->data()), name->size());
    if (key != nullptr && name_view != *key) {
      return kNotAuthentic;
    }
    if (found_key != nullptr) {
      found_key->assign(name_view);
    }
    return SecretBytes::Copy(r.Rest());
  }

  Result<void> Usable() const {
    if (aborted_) {
      return kAborted;
    }
    return Ok();
  }

  SqliteDb db_;
  WorkingKeys keys_;
  std::optional<SqliteStatement> get_, put_, del_, list_;
  int depth_ = 0;
  bool aborted_ = false;  // a nested Rollback happened; the outermost level has not ended

 private:
  static ByteSpan Zero() {
    static constexpr uint8_t kZero[1] = {0};
    return ByteSpan(kZero, 1);
  }
};

LocalStore::LocalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalStore::~LocalStore() {
  if (impl_ && impl_->depth_ > 0) {
    (void)impl_->db_.Exec("ROLLBACK");
  }
}

namespace {

Result<void> PutMeta(SqliteDb& db, std::string_view name, ByteSpan value) {
  HF_ASSIGN_OR_RETURN(auto st, db.Prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)"));
  HF_RETURN_IF_ERROR(st.BindText(1, name));
  HF_RETURN_IF_ERROR(st.BindBlob(2, value));
  return st.Run();
}

Result<std::optional<Bytes>> GetMeta(SqliteDb& db, std::string_view name) {
  HF_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT value FROM meta WHERE name = ?1"));
  HF_RETURN_IF_ERROR(st.BindText(1, name));
  HF_ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return std::optional<Bytes>();
  }
  return std::optional<Bytes>(ToBytes(st.ColumnBlob(0)));
}

Bytes U64(uint64_t v) {
  Bytes out(8);
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  }
  return out;
}

std::optional<uint64_t> ReadU64(const std::optional<Bytes>& b) {
  if (!b || b->size() != 8) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (uint8_t c : *b) {
    v = (v << 8) | c;
  }
  return v;
}

Result<SqliteDb> OpenDb(const std::string& path) {
  HF_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  // Deleted records are overwritten, not left in free pages (they are encrypted anyway).
  HF_RETURN_IF_ERROR(db.Exec("PRAGMA secure_delete = ON"));
  return db;
}

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::Create(const std::string& path,
                                                       const StoreSecret& secret,
                                                       const crypto::Argon2idParams& kdf) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return Error{ErrorCode::kAlreadyExists, "a local store already exists there"};
  }
  Bytes salt(crypto::kArgon2idSaltBytes);
  crypto::SystemRng().Fill(salt);
  HF_ASSIGN_OR_RETURN(SecretBytes master, MasterKey(secret, salt, kdf));
  HF_ASSIGN_OR_RETURN(WorkingKeys keys, DeriveKeys(master.span()));
  HF_ASSIGN_OR_RETURN(const Bytes check, Seal(keys, AsBytes(kCheckLabel), {}));

  HF_ASSIGN_OR_RETURN(SqliteDb db, OpenDb(path));
  ::chmod(path.c_str(), 0600);
  HF_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto init = [&]() -> Result<void> {
    HF_RETURN_IF_ERROR(db.Exec(
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "CREATE TABLE kv (tag BLOB NOT NULL, k BLOB PRIMARY KEY, v BLOB NOT NULL);"
        "CREATE INDEX kv_tag ON kv (tag);"));
    HF_RETURN_IF_ERROR(PutMeta(db, "format", U64(kFormat)));
    const bool file = secret.kind == StoreSecret::Kind::kKeyFile;
    HF_RETURN_IF_ERROR(PutMeta(db, "kdf", AsBytes(file ? kKdfKeyFile : kKdfArgon2id)));
    HF_RETURN_IF_ERROR(PutMeta(db, "salt", salt));
    HF_RETURN_IF_ERROR(PutMeta(db, "ops", U64(kdf.ops_limit)));
    HF_RETURN_IF_ERROR(PutMeta(db, "mem", U64(kdf.mem_limit_bytes)));
    return PutMeta(db, "check", check);
  };
  if (auto r = init(); !r.ok()) {
    (void)db.Exec("ROLLBACK");
    return r.error();
  }
  HF_RETURN_IF_ERROR(db.Exec("COMMIT"));
  auto impl = std::make_unique<Impl>(std::move(db), std::move(keys));
  HF_RETURN_IF_ERROR(impl->Prepare());
  return std::unique_ptr<LocalStore>(new LocalStore(std::move(impl)));
}

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& path,
                                                     const StoreSecret& secret) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Error{ErrorCode::kNotFound, "no local store there"};
  }
  HF_ASSIGN_OR_RETURN(SqliteDb db, OpenDb(path));
  const Error not_a_store{ErrorCode::kUnsupportedVersion, "not a holdfast local store"};
  auto format = GetMeta(db, "format");
  if (!format.ok()) {
    return not_a_store;
  }
  const auto version = ReadU64(*format);
  if (!version || *version != kFormat) {
    return not_a_store;
  }
  HF_ASSIGN_OR_RETURN(const auto kdf_name, GetMeta(db, "kdf"));
  HF_ASSIGN_OR_RETURN(const auto salt, GetMeta(db, "salt"));
  HF_ASSIGN_OR_RETURN(const auto ops, GetMeta(db, "ops"));
  HF_ASSIGN_OR_RETURN(const auto mem, GetMeta(db, "mem"));
  HF_ASSIGN_OR_RETURN(const auto check, GetMeta(db, "check"));
  if (!kdf_name || !salt || !check || !ReadU64(ops) || !ReadU64(mem)) {
    return not_a_store;
  }
  const std::string kdf(kdf_name->begin(), kdf_name->end());
  const bool wants_file = kdf == kKdfKeyFile;
  if (!wants_file && kdf != kKdfArgon2id) {
    return not_a_store;
  }
  if (wants_file != (secret.kind == StoreSecret::Kind::kKeyFile)) {
    return Error{ErrorCode::kInvalidArgument,
                 wants_file ? "this store is unlocked with a key file, not a passphrase"
                            : "this store is unlocked with a passphrase, not a key file"};
  }
  const crypto::Argon2idParams params{*ReadU64(ops), static_cast<size_t>(*ReadU64(mem))};
  HF_ASSIGN_OR_RETURN(SecretBytes master, MasterKey(secret, *salt, params));
  HF_ASSIGN_OR_RETURN(WorkingKeys keys, DeriveKeys(master.span()));
  if (!Unseal(keys, AsBytes(kCheckLabel), *check).ok()) {
    return Error{kWrongSecret, "wrong passphrase or key file"};
  }
  auto impl = std::make_unique<Impl>(std::move(db), std::move(keys));
  HF_RETURN_IF_ERROR(impl->Prepare());
  return std::unique_ptr<LocalStore>(new LocalStore(std::move(impl)));
}

Result<std::optional<SecretBytes>> LocalStore::Get(const char* table, const std::string& key) {
  HF_RETURN_IF_ERROR(impl_->Usable());
  const auto k = impl_->RowKey(table, key);
  auto& st = *impl_->get_;
  HF_RETURN_IF_ERROR(st.BindBlob(1, k));
  auto row = st.Step();
  if (!row.ok()) {
    st.Reset();
    return row.error();
  }
  if (!*row) {
    st.Reset();
    return std::optional<SecretBytes>();
  }
  auto value = impl_->OpenValue(k, st.ColumnBlob(0), &key, nullptr);
  st.Reset();
  if (!value.ok()) {
    return value.error();
  }
  return std::optional<SecretBytes>(std::move(value).value());
}

Result<void> LocalStore::Put(const char* table, const std::string& key, ByteSpan value) {
  HF_RETURN_IF_ERROR(impl_->Usable());
  if (key.size() > kMaxKeyBytes) {
    return Error{ErrorCode::kInvalidArgument, "record key too long"};
  }
  const auto k = impl_->RowKey(table, key);
  SecretBytes plain(2 + key.size() + value.size());
  plain.data()[0] = static_cast<uint8_t>(key.size() >> 8);
  plain.data()[1] = static_cast<uint8_t>(key.size());
  std::copy(key.begin(), key.end(), plain.data() + 2);
  std::copy(value.begin(), value.end(), plain.data() + 2 + key.size());
  HF_ASSIGN_OR_RETURN(const Bytes sealed, Seal(impl_->keys_, impl_->Aad(k), plain.span()));
  auto& st = *impl_->put_;
  HF_RETURN_IF_ERROR(st.BindBlob(1, impl_->Tag(table)));
  HF_RETURN_IF_ERROR(st.BindBlob(2, k));
  HF_RETURN_IF_ERROR(st.BindBlob(3, sealed));
  return st.Run();
}

Result<void> LocalStore::Delete(const char* table, const std::string& key) {
  HF_RETURN_IF_ERROR(impl_->Usable());
  auto& st = *impl_->del_;
  HF_RETURN_IF_ERROR(st.BindBlob(1, impl_->RowKey(table, key)));
  return st.Run();
}

Result<std::vector<LocalStore::Entry>> LocalStore::Entries(const char* table) {
  HF_RETURN_IF_ERROR(impl_->Usable());
  auto& st = *impl_->list_;
  HF_RETURN_IF_ERROR(st.BindBlob(1, impl_->Tag(table)));
  std::vector<Entry> out;
  Result<bool> row = st.Step();
  while (row.ok() && *row) {
    Entry e;
    auto value = impl_->OpenValue(st.ColumnBlob(0), st.ColumnBlob(1), nullptr, &e.key);
    if (!value.ok()) {
      st.Reset();
      return value.error();
    }
    // The row key is a MAC of (table, key): a row whose plaintext names another key was moved.
    const auto expected = impl_->RowKey(table, e.key);
    if (!std::equal(expected.begin(), expected.end(), st.ColumnBlob(0).begin(),
                    st.ColumnBlob(0).end())) {
      st.Reset();
      return kNotAuthentic;
    }
    e.value = std::move(value).value();
    out.push_back(std::move(e));
    row = st.Step();
  }
  st.Reset();
  if (!row.ok()) {
    return row.error();
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
  return out;
}

Result<std::vector<std::string>> LocalStore::Keys(const char* table) {
  HF_ASSIGN_OR_RETURN(auto entries, Entries(table));
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (auto& e : entries) {
    keys.push_back(std::move(e.key));
  }
  return keys;
}

Result<void> LocalStore::Begin() {
  if (impl_->depth_++ > 0) {
    return impl_->Usable();
  }
  impl_->aborted_ = false;
  auto r = impl_->db_.Exec("BEGIN IMMEDIATE");
  if (!r.ok()) {
    impl_->depth_ = 0;
  }
  return r;
}

Result<void> LocalStore::Commit() {
  if (impl_->depth_ == 0) {
    return Error{ErrorCode::kInvalidArgument, "commit without begin"};
  }
  if (--impl_->depth_ > 0) {
    return impl_->Usable();
  }
  if (impl_->aborted_) {
    impl_->aborted_ = false;
    return kAborted;
  }
  auto r = impl_->db_.Exec("COMMIT");
  if (!r.ok()) {
    (void)impl_->db_.Exec("ROLLBACK");
  }
  return r;
}

void LocalStore::Rollback() {
  if (impl_->depth_ == 0) {
    return;
  }
  if (!impl_->aborted_) {
    (void)impl_->db_.Exec("ROLLBACK");
  }
  if (--impl_->depth_ > 0) {
    impl_->aborted_ = true;
  } else {
    impl_->aborted_ = false;
  }
}

Result<void> GenerateKeyFile(const std::string& path) {
  SecretBytes key(kMasterKeyBytes);
  crypto::SystemRng().Fill(key.mutable_span());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return errno == EEXIST ? Error{ErrorCode::kAlreadyExists, "the key file exists"}
                           : Error{ErrorCode::kStorageFailure, "cannot create the key file"};
  }
  const bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    return Error{ErrorCode::kStorageFailure, "cannot write the key file"};
  }
  return Ok();
}

Result<SecretBytes> ReadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{ErrorCode::kNotFound, "cannot open the key file"};
  }
  SecretBytes key(kMasterKeyBytes + 1);
  const ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(kMasterKeyBytes)) {
    return Error{ErrorCode::kInvalidArgument, "a key file holds exactly 32 bytes"};
  }
  key.Shrink(kMasterKeyBytes);
  return key;
}

}  // namespace holdfast::client
