#include "holdfast/legal/registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "holdfast/common/encoding.h"
#include "holdfast/common/secret.h"
#include "holdfast/common/sqlite.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/legal/jcs.h"
#include "holdfast/tlog/checkpoint.h"
#include "holdfast/tlog/proof_file.h"
#include "holdfast/tlog/publish.h"
#include "holdfast/tlog/storage.h"

namespace holdfast::legal {
namespace {

constexpr int kSchemaVersion = 1;
constexpr uint8_t kOperatorKeyVersion = 1;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS authorities (
  id TEXT PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policies (
  version INTEGER PRIMARY KEY,
  effective_from INTEGER NOT NULL,
  json TEXT NOT NULL,
  log_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  authority_id TEXT NOT NULL,   -- '' unless signed by that registered authority
  order_id TEXT NOT NULL,       -- likewise
  order_hash TEXT NOT NULL,
  decision TEXT NOT NULL,       -- the log entry, JCS
  receipt TEXT NOT NULL,
  log_index INTEGER             -- NULL while the entry is being appended
);
CREATE UNIQUE INDEX IF NOT EXISTS orders_by_id ON orders (authority_id, order_id)
  WHERE order_id != '';
CREATE INDEX IF NOT EXISTS orders_by_hash ON orders (order_hash);
CREATE TABLE IF NOT EXISTS notices (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_seq INTEGER NOT NULL,
  account_id BLOB NOT NULL,
  log_index INTEGER,            -- NULL until the decision is in the log
  salt BLOB NOT NULL,
  commitment TEXT NOT NULL,
  deliver_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX IF NOT EXISTS notices_due ON notices (delivered_at, deliver_at);
CREATE INDEX IF NOT EXISTS notices_by_order ON notices (order_seq);
)sql";

// Missing: true when `path` does not exist. Any other reason it cannot be read (permissions,
// too many open files) must not make a key look missing: a new key would replace it.
bool Missing(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) != 0 && errno == ENOENT;
}

Result<void> WriteFile(const std::string& path, ByteSpan bytes, mode_t mode) {
  const std::string tmp = path + ".tmp";
  // A leftover temporary file could carry looser permissions: start afresh.
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Error{ErrorCode::kStorageFailure, "cannot create key file"};
  }
  const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error{ErrorCode::kStorageFailure, "cannot write key file"};
  }
  return Ok();
}

Result<crypto::Ed25519PrivateKey> LoadOrCreateOperatorKey(const std::string& dir, Rng& rng) {
  const std::string path = dir + "/operator.key";
  SecretBytes bytes(1 + crypto::kEd25519SeedBytes + 1);
  if (!Missing(path)) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Error{ErrorCode::kStorageFailure, "cannot read operator.key"};
    }
    const ssize_t n = ::read(fd, bytes.data(), bytes.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(1 + crypto::kEd25519SeedBytes) ||
        bytes.data()[0] != kOperatorKeyVersion) {
      return Error{ErrorCode::kStorageFailure, "operator.key is damaged"};
    }
    return crypto::Ed25519PrivateKey::FromSeed(bytes.span().subspan(1, crypto::kEd25519SeedBytes));
  }
  auto key = crypto::Ed25519PrivateKey::Generate(rng);
  bytes.data()[0] = kOperatorKeyVersion;
  std::copy(key.Seed().begin(), key.Seed().end(), bytes.data() + 1);
  HF_RETURN_IF_ERROR(WriteFile(path, bytes.span().first(1 + crypto::kEd25519SeedBytes), 0600));
  const std::string pub = Base64Encode(key.PublicKey().bytes()) + "\n";
  HF_RETURN_IF_ERROR(WriteFile(dir + "/operator.pub", AsBytes(pub), 0644));
  return key;
}

Result<tlog::NoteSigner> LoadOrCreateLogKey(const std::string& dir, Rng& rng) {
  const std::string path = dir + "/log.key";
  if (!Missing(path)) {
    // Read into wiping memory in one go: a growing string would leave copies of the key.
    SecretBytes buf(512);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Error{ErrorCode::kStorageFailure, "cannot read log.key"};
    }
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    ::close(fd);
    if (n <= 0 || static_cast<size_t>(n) == buf.size()) {
      return Error{ErrorCode::kStorageFailure, "log.key is damaged"};
    }
    std::string_view text(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.remove_suffix(1);
    }
    auto signer = tlog::NoteSigner::Parse(text);
    if (!signer.ok()) {
      return Error{ErrorCode::kStorageFailure, "log.key is damaged"};
    }
    return signer;
  }
  HF_ASSIGN_OR_RETURN(auto signer,
                      tlog::NoteSigner::Create(std::string(kLogOrigin), tlog::NoteKeyType::kEd25519,
                                               crypto::Ed25519PrivateKey::Generate(rng)));
  const SecretBytes skey = signer.ToString();
  HF_RETURN_IF_ERROR(WriteFile(path, skey.span(), 0600));
  // The key's text form is only ever held in the wiping buffer above.
  const std::string vkey = signer.Verifier().ToString() + "\n";
  HF_RETURN_IF_ERROR(WriteFile(dir + "/log.vkey", AsBytes(vkey), 0644));
  return signer;
}

// DirLock holds an exclusive flock on DIR/lock for one change.
class DirLock {
 public:
  explicit DirLock(const std::string& path)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) {
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~DirLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

Result<Bytes> EntryBytes(const nlohmann::json& entry) {
  auto c = Canonicalize(entry);
  if (!c.ok()) {
    return Error{ErrorCode::kInvalidArgument, "log entry is not valid JSON text"};
  }
  return Bytes(c->begin(), c->end());
}

std::string JsonText(const nlohmann::json& j) {
  auto c = Canonicalize(j);
  return c.ok() ? std::move(*c) : std::string();
}

}  // namespace

nlohmann::json AuthorityLogEntry(std::string_view action, const Authority& a, int64_t at_ms) {
  return {{"type", "authority"},
          {"v", 1},
          {"action", std::string(action)},
          {"at", FormatTime(at_ms)},
          {"authority", AuthorityToJson(a)}};
}

nlohmann::json PolicyLogEntry(const Policy& p, int64_t at_ms) {
  return {{"type", "policy"}, {"v", 1}, {"at", FormatTime(at_ms)}, {"policy", PolicyToJson(p)}};
}

class Registry::Impl {
 public:
  Impl(std::string dir, const Clock& clock, Rng& rng, SqliteDb db,
       crypto::Ed25519PrivateKey operator_key, tlog::NoteSigner log_key)
      : dir_(std::move(dir)),
        clock_(clock),
        rng_(rng),
        db_(std::move(db)),
        operator_key_(std::move(operator_key)),
        log_key_(std::move(log_key)) {}

  int64_t Now() const { return ToUnixMillis(clock_.Now()); }

  // OpenLog reloads the log from storage: another process may have appended since.
  Result<std::unique_ptr<tlog::Log>> OpenLog() {
    HF_ASSIGN_OR_RETURN(auto storage, tlog::OpenSqliteLogStorage(dir_ + "/transparency.db"));
    return tlog::Log::Open(std::move(storage), tlog::LogOptions{std::string(kLogOrigin)});
  }

  Result<uint64_t> Append(const nlohmann::json& entry) {
    HF_ASSIGN_OR_RETURN(const Bytes bytes, EntryBytes(entry));
    HF_ASSIGN_OR_RETURN(auto log, OpenLog());
    const ByteSpan one[] = {bytes};
    return log->Append(one, &log_key_);
  }

  std::string dir_;
  const Clock& clock_;
  Rng& rng_;
  SqliteDb db_;
  crypto::Ed25519PrivateKey operator_key_;
  tlog::NoteSigner log_key_;
};

Registry::Registry(std::string dir, std::unique_ptr<Impl> impl)
    : dir_(std::move(dir)), impl_(std::move(impl)) {}
Registry::~Registry() = default;

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& data_dir, const Clock& clock,
                                                 Rng& rng) {
  const std::string dir = data_dir + "/legal";
  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{ErrorCode::kStorageFailure, "cannot create the data directory"};
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{ErrorCode::kStorageFailure, "cannot create DIR/legal"};
  }
  DirLock lock(dir + "/lock");
  if (!lock.ok()) {
    return Error{ErrorCode::kStorageFailure, "cannot lock DIR/legal"};
  }
  HF_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(dir + "/legal.db"));
  // Freed pages are zeroed, so a delivered notice's salt does not linger in the file.
  HF_RETURN_IF_ERROR(db.Exec("PRAGMA secure_delete = ON"));
  HF_RETURN_IF_ERROR(db.Exec(kSchema));
  {
    HF_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
    HF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      HF_RETURN_IF_ERROR(db.Exec("INSERT INTO meta VALUES ('schema_version', 1)"));
    } else if (st.ColumnInt64(0) != kSchemaVersion) {
      return Error{ErrorCode::kUnsupportedVersion, "legal.db schema"};
    }
  }
  HF_ASSIGN_OR_RETURN(auto operator_key, LoadOrCreateOperatorKey(dir, rng));
  HF_ASSIGN_OR_RETURN(auto log_key, LoadOrCreateLogKey(dir, rng));
  auto impl = std::make_unique<Impl>(dir, clock, rng, std::move(db), std::move(operator_key),
                                     std::move(log_key));
  return std::unique_ptr<Registry>(new Registry(dir, std::move(impl)));
}

Result<uint64_t> Registry::AddAuthority(const Authority& a) {
  if (!IsValidId(a.id) || !IsCountryCode(a.country) || a.name.empty() ||
      a.name.size() > kMaxNameBytes || a.valid_until_ms < a.valid_from_ms || a.revoked_ms ||
      !Canonicalize(AuthorityToJson(a)).ok()) {  // e.g. a name that is not UTF-8
    return Error{ErrorCode::kInvalidArgument, "authority"};
  }
  DirLock lock(dir_ + "/lock");
  HF_ASSIGN_OR_RETURN(auto existing, FindAuthority(a.id));
  if (existing) {
    return Error{ErrorCode::kAlreadyExists, "authority id"};
  }
  // Log first: an authority that is not in the public log must not be recognized.
  HF_ASSIGN_OR_RETURN(uint64_t index, impl_->Append(AuthorityLogEntry("add", a, impl_->Now())));
  HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare("INSERT INTO authorities VALUES (?, ?)"));
  HF_RETURN_IF_ERROR(st.BindText(1, a.id));
  HF_RETURN_IF_ERROR(st.BindText(2, JsonText(AuthorityToJson(a))));
  HF_RETURN_IF_ERROR(st.Run());
  return index;
}

Result<uint64_t> Registry::RevokeAuthority(std::string_view id) {
  DirLock lock(dir_ + "/lock");
  HF_ASSIGN_OR_RETURN(auto existing, FindAuthority(id));
  if (!existing) {
    return Error{ErrorCode::kNotFound, "authority id"};
  }
  if (existing->revoked_ms) {
    return Error{ErrorCode::kAlreadyExists, "authority already revoked"};
  }
  existing->revoked_ms = impl_->Now();
  HF_ASSIGN_OR_RETURN(uint64_t index,
                      impl_->Append(AuthorityLogEntry("revoke", *existing, *existing->revoked_ms)));
  HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare("UPDATE authorities SET json = ? WHERE id = ?"));
  HF_RETURN_IF_ERROR(st.BindText(1, JsonText(AuthorityToJson(*existing))));
  HF_RETURN_IF_ERROR(st.BindText(2, existing->id));
  HF_RETURN_IF_ERROR(st.Run());
  return index;
}

Result<std::vector<Authority>> Registry::Authorities() {
  HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare("SELECT json FROM authorities ORDER BY id"));
  std::vector<Authority> out;
  while (true) {
    HF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      break;
    }
    HF_ASSIGN_OR_RETURN(auto j, ParseStrictJson(st.ColumnText(0)));
    HF_ASSIGN_OR_RETURN(auto a, AuthorityFromJson(j));
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::optional<Authority>> Registry::FindAuthority(std::string_view id) {
  HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare("SELECT json FROM authorities WHERE id = ?"));
  HF_RETURN_IF_ERROR(st.BindText(1, id));
  HF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return std::optional<Authority>();
  }
  HF_ASSIGN_OR_RETURN(auto j, ParseStrictJson(st.ColumnText(0)));
  HF_ASSIGN_OR_RETURN(auto a, AuthorityFromJson(j));
  return std::optional<Authority>(std::move(a));
}

Result<uint64_t> Registry::SetPolicy(const Policy& p) {
  DirLock lock(dir_ + "/lock");
  HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare("SELECT MAX(version) FROM policies"));
  HF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row && !st.ColumnIsNull(0) && st.ColumnInt64(0) >= p.version) {
    return Error{ErrorCode::kInvalidArgument, "policy version must increase"};
  }
  HF_ASSIGN_OR_RETURN(uint64_t index, impl_->Append(PolicyLogEntry(p, impl_->Now())));
  HF_ASSIGN_OR_RETURN(auto ins, impl_->db_.Prepare("INSERT INTO policies VALUES (?, ?, ?, ?)"));
  HF_RETURN_IF_ERROR(ins.BindInt64(1, p.version));
  HF_RETURN_IF_ERROR(ins.BindInt64(2, p.effective_from_ms));
  HF_RETURN_IF_ERROR(ins.BindText(3, JsonText(PolicyToJson(p))));
  HF_RETURN_IF_ERROR(ins.BindInt64(4, static_cast<int64_t>(index)));
  HF_RETURN_IF_ERROR(ins.Run());
  return index;
}

Result<Policy> Registry::CurrentPolicy(int64_t at_ms) {
  HF_ASSIGN_OR_RETURN(auto st,
                      impl_->db_.Prepare("SELECT json FROM policies WHERE effective_from <= ? "
                                         "ORDER BY version DESC LIMIT 1"));
  HF_RETURN_IF_ERROR(st.BindInt64(1, at_ms));
  HF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return Error{ErrorCode::kNotFound, "no policy in effect"};
  }
  HF_ASSIGN_OR_RETURN(auto j, ParseStrictJson(st.ColumnText(0)));
  return PolicyFromJson(j);
}

namespace {

Result<OrderRecord> ReadOrderRow(SqliteStatement& st) {
  OrderRecord r;
  r.seq = st.ColumnInt64(0);
  r.authority_id = st.ColumnText(1);
  r.order_id = st.ColumnText(2);
  HF_ASSIGN_OR_RETURN(auto j, ParseStrictJson(st.ColumnText(3)));
  HF_ASSIGN_OR_RETURN(r.decision, DecisionFromLogEntry(j));
  r.receipt = st.ColumnText(4);
  r.log_index = static_cast<uint64_t>(st.ColumnInt64(5));
  return r;
}

constexpr std::string_view kOrderColumns =
    "SELECT seq, authority_id, order_id, decision, receipt, log_index FROM orders ";

}  // namespace

Result<void> Registry::FinishPending() {
  // At most one order can be pending: the one whose process died holding the lock between
  // writing its row and recording its log index. Its entry, if it was appended, is the
  // log's last: every append happens under the same lock.
  HF_ASSIGN_OR_RETURN(
      auto st, impl_->db_.Prepare("SELECT seq, decision FROM orders WHERE log_index IS NULL"));
  HF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return Ok();
  }
  const int64_t seq = st.ColumnInt64(0);
  const std::string entry = st.ColumnText(1);
  st.Reset();
  HF_ASSIGN_OR_RETURN(auto log, impl_->OpenLog());
  std::optional<uint64_t> index;
  if (log->size() > 0) {
    HF_ASSIGN_OR_RETURN(Bytes last, log->Entry(log->size() - 1));
    if (std::string_view(reinterpret_cast<const char*>(last.data()), last.size()) == entry) {
      index = log->size() - 1;
    }
  }
  if (!index) {
    const ByteSpan one[] = {AsBytes(entry)};
    HF_ASSIGN_OR_RETURN(index, log->Append(one, &impl_->log_key_));
  }
  return SetLogIndex(seq, *index);
}

Result<void> Registry::SetLogIndex(int64_t seq, uint64_t index) {
  HF_RETURN_IF_ERROR(impl_->db_.Exec("BEGIN IMMEDIATE"));
  auto update = [&]() -> Result<void> {
    for (const char* sql : {"UPDATE orders SET log_index = ? WHERE seq = ?",
                            "UPDATE notices SET log_index = ? WHERE order_seq = ?"}) {
      HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare(sql));
      HF_RETURN_IF_ERROR(st.BindInt64(1, static_cast<int64_t>(index)));
      HF_RETURN_IF_ERROR(st.BindInt64(2, seq));
      HF_RETURN_IF_ERROR(st.Run());
    }
    return Ok();
  };
  if (auto r = update(); !r.ok()) {
    (void)impl_->db_.Exec("ROLLBACK");
    return r;
  }
  return impl_->db_.Exec("COMMIT");
}

Result<SubmitResult> Registry::SubmitOrder(std::string_view bytes, PersonalData& data) {
  const int64_t received = impl_->Now();
  DirLock lock(dir_ + "/lock");
  if (!lock.ok()) {
    return Error{ErrorCode::kStorageFailure, "cannot lock DIR/legal"};
  }
  HF_RETURN_IF_ERROR(FinishPending());

  // An order id belongs to an authority only once the authority's key has signed it: a
  // forgery naming a real order id must not take that id from the genuine order. Everything
  // else is known by the hash of what was submitted.
  ParsedOrder peek = ParseOrderFile(bytes);
  bool signed_by_authority = false;
  if (!peek.canonical.empty() && !peek.authority_id.empty() && !peek.order_id.empty() &&
      peek.signature.size() == crypto::kEd25519SignatureBytes) {
    HF_ASSIGN_OR_RETURN(auto a, FindAuthority(peek.authority_id));
    signed_by_authority =
        a && crypto::Ed25519Verify(a->sign_key, AsBytes(peek.canonical), peek.signature).ok();
  }
  const std::string authority_id = signed_by_authority ? peek.authority_id : std::string();
  const std::string order_id = signed_by_authority ? peek.order_id : std::string();
  {
    HF_ASSIGN_OR_RETURN(
        auto st,
        impl_->db_.Prepare(std::string(kOrderColumns) +
                           (signed_by_authority ? "WHERE authority_id = ? AND order_id = ?"
                                                : "WHERE order_hash = ? AND order_id = ''")));
    if (signed_by_authority) {
      HF_RETURN_IF_ERROR(st.BindText(1, authority_id));
      HF_RETURN_IF_ERROR(st.BindText(2, order_id));
    } else {
      HF_RETURN_IF_ERROR(st.BindText(1, HexEncode(peek.order_hash)));
    }
    HF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) {
      SubmitResult out;
      HF_ASSIGN_OR_RETURN(out.record, ReadOrderRow(st));
      out.replayed = true;
      return out;
    }
  }
  HF_ASSIGN_OR_RETURN(Policy policy, CurrentPolicy(received));
  AuthorityLookup lookup = [this](std::string_view id) { return FindAuthority(id); };
  HF_ASSIGN_OR_RETURN(auto result, Decide(std::move(peek), received, impl_->Now(), policy,
                                          lookup, data, impl_->rng_));

  // The signed acknowledgment of receipt.
  nlohmann::json receipt_body = {{"order_hash", result.decision.order_hash},
                                 {"authority_id", authority_id},
                                 {"order_id", order_id},
                                 {"received_at", FormatTime(received)}};
  HF_ASSIGN_OR_RETURN(const Bytes receipt_text, EntryBytes(receipt_body));
  const nlohmann::json receipt = {
      {"receipt", receipt_body},
      {"signature", Base64Encode(impl_->operator_key_.Sign(
                        ContextMessage(kReceiptSignatureContext, receipt_text)))}};

  SubmitResult out;
  if (result.package) {
    HF_ASSIGN_OR_RETURN(auto authority, FindAuthority(result.package->authority_id));
    HF_ASSIGN_OR_RETURN(out.sealed_package, SealPackage(*result.package, impl_->operator_key_,
                                                        authority->box_key, impl_->rng_));
  }
  const nlohmann::json entry = DecisionToLogEntry(result.decision);
  HF_ASSIGN_OR_RETURN(const Bytes entry_bytes, EntryBytes(entry));
  const std::string entry_text(entry_bytes.begin(), entry_bytes.end());

  // 1. The order row and its notices, pending (no log index), in one transaction.
  HF_RETURN_IF_ERROR(impl_->db_.Exec("BEGIN IMMEDIATE"));
  auto write = [&]() -> Result<int64_t> {
    HF_ASSIGN_OR_RETURN(
        auto st, impl_->db_.Prepare("INSERT INTO orders (authority_id, order_id, order_hash, "
                                    "decision, receipt, log_index) VALUES (?, ?, ?, ?, ?, NULL)"));
    HF_RETURN_IF_ERROR(st.BindText(1, authority_id));
    HF_RETURN_IF_ERROR(st.BindText(2, order_id));
    HF_RETURN_IF_ERROR(st.BindText(3, result.decision.order_hash));
    HF_RETURN_IF_ERROR(st.BindText(4, entry_text));
    HF_RETURN_IF_ERROR(st.BindText(5, JsonText(receipt)));
    HF_RETURN_IF_ERROR(st.Run());
    HF_ASSIGN_OR_RETURN(auto rowid, impl_->db_.Prepare("SELECT last_insert_rowid()"));
    HF_RETURN_IF_ERROR(rowid.Step());
    const int64_t seq = rowid.ColumnInt64(0);
    for (const auto& n : result.notices) {
      HF_ASSIGN_OR_RETURN(
          auto ns,
          impl_->db_.Prepare("INSERT INTO notices (order_seq, account_id, log_index, "
                             "salt, commitment, deliver_at) VALUES (?, ?, NULL, ?, ?, ?)"));
      HF_RETURN_IF_ERROR(ns.BindInt64(1, seq));
      HF_RETURN_IF_ERROR(ns.BindBlob(2, n.account_id));
      HF_RETURN_IF_ERROR(ns.BindBlob(3, n.salt));
      HF_RETURN_IF_ERROR(ns.BindText(4, n.commitment));
      HF_RETURN_IF_ERROR(ns.BindInt64(5, n.deliver_at_ms));
      HF_RETURN_IF_ERROR(ns.Run());
    }
    return seq;
  };
  auto seq = write();
  if (!seq.ok()) {
    (void)impl_->db_.Exec("ROLLBACK");
    return seq.error();
  }
  HF_RETURN_IF_ERROR(impl_->db_.Exec("COMMIT"));

  // 2. The public log entry. 3. Its index on the row. A crash between 1 and 3 is finished
  // by the next submission (FinishPending), so a decision is logged exactly once.
  auto index = impl_->Append(entry);
  if (!index.ok()) {
    // Nothing was appended: forget the pending row, so that the order can be sent again.
    for (const char* sql :
         {"DELETE FROM notices WHERE order_seq = ?", "DELETE FROM orders WHERE seq = ?"}) {
      auto del = impl_->db_.Prepare(sql);
      if (del.ok() && del->BindInt64(1, *seq).ok()) {
        (void)del->Run();
      }
    }
    return index.error();
  }
  HF_RETURN_IF_ERROR(SetLogIndex(*seq, *index));
  out.record.seq = *seq;
  out.record.authority_id = authority_id;
  out.record.order_id = order_id;
  out.record.decision = std::move(result.decision);
  out.record.log_index = *index;
  out.record.receipt = JsonText(receipt);
  return out;
}

Result<std::vector<OrderRecord>> Registry::Orders() {
  HF_ASSIGN_OR_RETURN(auto st, impl_->db_.Prepare(std::string(kOrderColumns) +
                                                  "WHERE log_index IS NOT NULL ORDER BY seq"));
  std::vector<OrderRecord> out;
  while (true) {
    HF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      break;
    }
    HF_ASSIGN_OR_RETURN(auto r, ReadOrderRow(st));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<Bytes>> Registry::LogEntries() {
  HF_ASSIGN_OR_RETURN(auto log, impl_->OpenLog());
  std::vector<Bytes> out;
  out.reserve(log->size());
  for (uint64_t i = 0; i < log->size(); ++i) {
    HF_ASSIGN_OR_RETURN(auto e, log->Entry(i));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::string> Registry::LatestCheckpoint() {
  HF_ASSIGN_OR_RETURN(auto log, impl_->OpenLog());
  return log->LatestCheckpoint();
}

Result<legal::Report> Registry::ComputeReport(int64_t from_ms, int64_t to_ms) {
  HF_ASSIGN_OR_RETURN(auto log, impl_->OpenLog());
  HF_ASSIGN_OR_RETURN(std::string note, log->LatestCheckpoint());
  const auto verifier = impl_->log_key_.Verifier();
  HF_ASSIGN_OR_RETURN(auto opened, tlog::OpenCheckpoint(note, std::string(kLogOrigin), verifier));
  std::vector<Bytes> entries;
  entries.reserve(opened.checkpoint.size);
  for (uint64_t i = 0; i < opened.checkpoint.size; ++i) {
    HF_ASSIGN_OR_RETURN(auto e, log->Entry(i));
    entries.push_back(std::move(e));
  }
  return legal::ComputeReport(entries, from_ms, to_ms, Base64Encode(opened.checkpoint.root));
}

Result<uint64_t> Registry::PublishTiles(const std::string& out_dir) {
  HF_ASSIGN_OR_RETURN(auto log, impl_->OpenLog());
  return tlog::PublishTiles(*log, out_dir);
}

Result<std::vector<DueNotice>> Registry::DueNotices(int64_t now_ms, size_t limit) {
  HF_ASSIGN_OR_RETURN(
      auto st,
      impl_->db_.Prepare("SELECT id, account_id, log_index, salt, commitment FROM notices "
                         "WHERE delivered_at IS NULL AND log_index IS NOT NULL AND deliver_at <= ? "
                         "ORDER BY id "
                         "LIMIT ?"));
  HF_RETURN_IF_ERROR(st.BindInt64(1, now_ms));
  HF_RETURN_IF_ERROR(st.BindInt64(2, static_cast<int64_t>(limit)));
  std::vector<DueNotice> out;
  std::unique_ptr<tlog::Log> log;
  std::string checkpoint;
  uint64_t size = 0;
  while (true) {
    HF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      break;
    }
    if (!log) {
      HF_ASSIGN_OR_RETURN(log, impl_->OpenLog());
      HF_ASSIGN_OR_RETURN(checkpoint, log->LatestCheckpoint());
      HF_ASSIGN_OR_RETURN(auto opened, tlog::OpenCheckpoint(checkpoint, std::string(kLogOrigin),
                                                            impl_->log_key_.Verifier()));
      size = opened.checkpoint.size;
    }
    DueNotice n;
    n.id = st.ColumnInt64(0);
    const auto account = st.ColumnBlob(1);
    n.account_id.assign(account.begin(), account.end());
    const auto index = static_cast<uint64_t>(st.ColumnInt64(2));
    const auto salt = st.ColumnBlob(3);
    HF_ASSIGN_OR_RETURN(Bytes entry, log->Entry(index));
    HF_ASSIGN_OR_RETURN(auto path, log->Inclusion(index, size));
    HF_ASSIGN_OR_RETURN(auto entry_json,
                        ParseStrictJson(std::string_view(
                            reinterpret_cast<const char*>(entry.data()), entry.size())));
    HF_ASSIGN_OR_RETURN(Decision decision, DecisionFromLogEntry(entry_json));
    nlohmann::json authority = {{"id", decision.authority_id}, {"country", decision.country}};
    HF_ASSIGN_OR_RETURN(auto registered, FindAuthority(decision.authority_id));
    if (registered) {
      authority["name"] = registered->name;
      authority["kind"] = std::string(AuthorityKindName(registered->kind));
    }
    nlohmann::json disclosed = nlohmann::json::array();
    for (DataType t : decision.data_disclosed) {
      disclosed.push_back(std::string(DataTypeName(t)));
    }
    const nlohmann::json notice = {
        {"type", "disclosure_notice"},
        {"v", 1},
        {"message",
         "Under a court order, Holdfast disclosed the data listed here about your "
         "account. Messages, contacts and groups are end-to-end encrypted and were "
         "not disclosed: Holdfast cannot read them."},
        {"authority", authority},
        {"category", decision.category},
        {"data_disclosed", disclosed},
        {"decided_at", FormatTime(decision.decided_ms)},
        {"gag_until", decision.gag_until_ms ? nlohmann::json(FormatTime(*decision.gag_until_ms))
                                            : nlohmann::json(nullptr)},
        {"order_hash", decision.order_hash},
        {"log_index", index},
        {"entry", std::string(entry.begin(), entry.end())},
        {"salt", Base64Encode(salt)},
        {"commitment", st.ColumnText(4)},
        {"log_key", impl_->log_key_.Verifier().ToString()},
        {"tlog_proof",
         tlog::FormatTlogProof(tlog::TlogProof{std::nullopt, index, std::move(path), checkpoint})},
    };
    n.content = JsonText(notice);
    out.push_back(std::move(n));
  }
  return out;
}

Result<void> Registry::MarkNoticeDelivered(int64_t id, int64_t at_ms) {
  HF_ASSIGN_OR_RETURN(
      auto st, impl_->db_.Prepare("UPDATE notices SET delivered_at = ?, salt = x'' WHERE id = ?"));
  HF_RETURN_IF_ERROR(st.BindInt64(1, at_ms));
  HF_RETURN_IF_ERROR(st.BindInt64(2, id));
  HF_RETURN_IF_ERROR(st.Run());
  // The write-ahead log still holds the old page with the salt until it is checkpointed.
  return impl_->db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

tlog::NoteVerifier Registry::LogVerifier() const { return impl_->log_key_.Verifier(); }

crypto::Ed25519PublicKey Registry::OperatorKey() const { return impl_->operator_key_.PublicKey(); }

}  // namespace holdfast::legal
