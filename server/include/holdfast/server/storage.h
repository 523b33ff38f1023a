// holdfastd's storage: one interface per concern (accounts and devices, keys, queues, IP
// records), all used inside one transaction at a time. SQLite is the embedded
// implementation (OpenSqliteStorage); the interfaces use no SQLite types, so that a
// PostgreSQL implementation can stand beside it.
//
// What is stored, and nothing more (docs/server.md): phone numbers, device credentials as
// slow hashes, public keys, opaque envelopes until their recipient acknowledges them or they
// expire, and per-connection IP records until their retention ends.
#ifndef HOLDFAST_SERVER_STORAGE_H_
#define HOLDFAST_SERVER_STORAGE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"

namespace holdfast::server {

inline constexpr size_t kAccountIdBytes = 16;
inline constexpr size_t kEnvelopeIdBytes = 16;

using AccountId = std::array<uint8_t, kAccountIdBytes>;
using EnvelopeId = std::array<uint8_t, kEnvelopeIdBytes>;

struct Account {
  AccountId id{};
  std::string phone;   // E.164
  Bytes access_key;    // the unidentified access key for sealed sender; empty if unset
  int64_t created_ms = 0;
};

struct Device {
  uint32_t id = 0;
  uint32_t registration_id = 0;
  std::string name;
  Bytes credential_hash;  // salt || Argon2id(credential, salt)
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;  // rounded down to the day
};

// Recipient is what a send needs of its destination account: the access key for sealed
// sender, and each device's id and registration id in id order.
struct Recipient {
  struct Device {
    uint32_t id = 0;
    uint32_t registration_id = 0;
  };
  Bytes access_key;  // empty if unset
  std::vector<Device> devices;
};

// PendingCode is a registration code sent to a phone, stored as a keyed hash.
struct PendingCode {
  Bytes code_hash;
  int64_t expires_ms = 0;
  uint32_t attempts = 0;  // wrong guesses so far
};

// LinkCode lets a new device join an account; stored under a hash of the code.
struct LinkCode {
  AccountId account{};
  int64_t expires_ms = 0;
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;
  virtual Result<std::optional<Account>> ByPhone(std::string_view phone) = 0;
  virtual Result<std::optional<Account>> ById(const AccountId& id) = 0;
  // Create fails with kAlreadyExists for a phone or id already present.
  virtual Result<void> Create(const Account& account) = 0;
  virtual Result<void> SetAccessKey(const AccountId& id, ByteSpan key) = 0;

  // Devices lists the account's devices in ascending id order.
  virtual Result<std::vector<Device>> Devices(const AccountId& id) = 0;
  // GetRecipient returns the account's access key and devices, or nullptr if there is no
  // such account. Every send reads it. An implementation may answer from memory, provided
  // the answer holds what this transaction wrote and otherwise what was committed.
  virtual Result<std::shared_ptr<const Recipient>> GetRecipient(const AccountId& id) {
    HF_ASSIGN_OR_RETURN(const auto account, ById(id));
    if (!account) {
      return std::shared_ptr<const Recipient>();
    }
    HF_ASSIGN_OR_RETURN(const auto devices, Devices(id));
    auto r = std::make_shared<Recipient>();
    r->access_key = account->access_key;
    for (const Device& d : devices) {
      r->devices.push_back({d.id, d.registration_id});
    }
    return std::shared_ptr<const Recipient>(std::move(r));
  }
  virtual Result<std::optional<Device>> GetDevice(const AccountId& id, uint32_t device) = 0;
  // AddDevice gives the device the account's next device id (never one used before) and
  // returns it. `device.id` is ignored.
  virtual Result<uint32_t> AddDevice(const AccountId& id, const Device& device) = 0;
  virtual Result<void> RemoveDevice(const AccountId& id, uint32_t device) = 0;
  virtual Result<void> TouchDevice(const AccountId& id, uint32_t device, int64_t day_ms) = 0;
  // ResetDevices removes every device of the account and starts device ids again at 1 (a
  // re-registration: the new primary device is device 1). Keys and queues are the caller's.
  virtual Result<void> ResetDevices(const AccountId& id) = 0;

  virtual Result<std::optional<PendingCode>> GetCode(std::string_view phone) = 0;
  virtual Result<void> PutCode(std::string_view phone, const PendingCode& code) = 0;
  virtual Result<void> DeleteCode(std::string_view phone) = 0;
  virtual Result<void> PutLinkCode(ByteSpan code_hash, const LinkCode& code) = 0;
  // TakeLinkCode returns and deletes the code stored under `code_hash`.
  virtual Result<std::optional<LinkCode>> TakeLinkCode(ByteSpan code_hash) = 0;
  // PurgeExpiredCodes deletes registration and link codes that expired before `now_ms`.
  virtual Result<uint64_t> PurgeExpiredCodes(int64_t now_ms) = 0;
};

struct SignedPreKeyRecord {
  uint32_t id = 0;
  Bytes public_key;  // 33 bytes
  Bytes signature;   // 64 bytes
};

struct OneTimePreKeyRecord {
  uint32_t id = 0;
  Bytes public_key;
};

// DeviceKeys is what a bundle needs besides a one-time prekey.
struct DeviceKeys {
  Bytes identity_key;
  std::optional<SignedPreKeyRecord> signed_pre_key;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  virtual Result<void> SetIdentityKey(const AccountId& id, uint32_t device, ByteSpan key) = 0;
  virtual Result<void> SetSignedPreKey(const AccountId& id, uint32_t device,
                                       const SignedPreKeyRecord& key) = 0;
  // AddOneTimePreKeys stores keys; an id already stored for the device is replaced.
  virtual Result<void> AddOneTimePreKeys(const AccountId& id, uint32_t device,
                                         const std::vector<OneTimePreKeyRecord>& keys) = 0;
  virtual Result<uint32_t> CountOneTimePreKeys(const AccountId& id, uint32_t device) = 0;
  // TakeOneTimePreKey removes and returns the device's oldest one-time prekey, if any. Run
  // inside a transaction, two takers never get the same key.
  virtual Result<std::optional<OneTimePreKeyRecord>> TakeOneTimePreKey(const AccountId& id,
                                                                       uint32_t device) = 0;
  virtual Result<std::optional<DeviceKeys>> GetDeviceKeys(const AccountId& id,
                                                          uint32_t device) = 0;
  virtual Result<void> DeleteDeviceKeys(const AccountId& id, uint32_t device) = 0;
};

// Envelope is one message for one device, opaque to the server. A sealed envelope has no
// source (empty source_account, source_device 0).
struct Envelope {
  EnvelopeId id{};
  uint32_t type = 0;
  Bytes source_account;
  uint32_t source_device = 0;
  int64_t client_timestamp = 0;
  int64_t server_timestamp = 0;
  Bytes content;
};

// QueuedEnvelope is an envelope in a device's queue; `seq` orders a queue (increasing).
struct QueuedEnvelope {
  uint64_t seq = 0;
  Envelope envelope;
};

class QueueStore {
 public:
  virtual ~QueueStore() = default;
  // Insert appends to the device's queue and returns the envelope's sequence number, which is
  // larger than any this process gave the device before (even after the newest was deleted).
  // Numbers are not global: Fetch compares them only within one device's queue.
  virtual Result<uint64_t> Insert(const AccountId& id, uint32_t device, const Envelope& e) = 0;
  virtual Result<uint64_t> Count(const AccountId& id, uint32_t device) = 0;
  // Fetch returns up to `limit` envelopes with seq > `after_seq`, oldest first.
  virtual Result<std::vector<QueuedEnvelope>> Fetch(const AccountId& id, uint32_t device,
                                                    uint64_t after_seq, size_t limit) = 0;
  // Delete removes one envelope from the device's queue; false if it was not there.
  virtual Result<bool> Delete(const AccountId& id, uint32_t device, const EnvelopeId& e) = 0;
  virtual Result<uint64_t> DeleteDevice(const AccountId& id, uint32_t device) = 0;
  // PurgeBefore deletes envelopes that the server received before `cutoff_ms` (TTL).
  virtual Result<uint64_t> PurgeBefore(int64_t cutoff_ms) = 0;
  virtual Result<uint64_t> TotalCount() = 0;
};

// IpRecord is one connection of one device: where from, and when.
struct IpRecord {
  AccountId account{};
  uint32_t device = 0;
  std::string ip;  // textual IPv4 or IPv6 address
  uint16_t port = 0;
  int64_t start_ms = 0;
  std::optional<int64_t> end_ms;  // absent while connected
};

// IpRecordStore keeps connection records for the retention period. Together with phone
// numbers they are the only personal data lawful disclosure may ever read (issue 7).
class IpRecordStore {
 public:
  virtual ~IpRecordStore() = default;
  virtual Result<uint64_t> Open(const IpRecord& record) = 0;  // returns the record's id
  virtual Result<void> Close(uint64_t record_id, int64_t end_ms) = 0;
  // CloseAllOpen ends every record still open (after a restart: those connections are gone).
  virtual Result<uint64_t> CloseAllOpen(int64_t end_ms) = 0;
  // ForAccount returns the account's records that overlap [from_ms, to_ms].
  virtual Result<std::vector<IpRecord>> ForAccount(const AccountId& id, int64_t from_ms,
                                                   int64_t to_ms) = 0;
  // PurgeEndedBefore deletes, for good, records that ended before `cutoff_ms`.
  virtual Result<uint64_t> PurgeEndedBefore(int64_t cutoff_ms) = 0;
};

// Storage bundles the stores over one database. Not thread-safe: it is driven by one
// thread (Database below). Every call between Begin and Commit is one transaction;
// Savepoint/Release/RollbackTo nest inside it.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual AccountStore& accounts() = 0;
  virtual KeyStore& keys() = 0;
  virtual QueueStore& queues() = 0;
  virtual IpRecordStore& ip_records() = 0;

  virtual Result<void> Begin() = 0;
  virtual Result<void> Commit() = 0;
  virtual void Rollback() = 0;
  // Savepoint opens a savepoint inside the open transaction (outside one it fails: SQLite
  // would otherwise start a transaction that RELEASE commits on the spot).
  virtual Result<void> Savepoint() = 0;
  virtual Result<void> Release() = 0;
  // RollbackToSavepoint undoes the work since the last Savepoint and releases it. When it
  // fails, the transaction cannot be trusted: roll all of it back.
  [[nodiscard]] virtual Result<void> RollbackToSavepoint() = 0;
  // InTransaction is true while the transaction Begin opened is still open (SQLite rolls one
  // back by itself on some errors: disk full, I/O error, out of memory).
  virtual bool InTransaction() const = 0;
  // SchemaVersion is the version the database was migrated to.
  virtual int SchemaVersion() const = 0;
};

// SqliteStorageOptions tunes OpenSqliteStorage.
struct SqliteStorageOptions {
  // For holdfastd's long-lived writer: WAL checkpoints run on a thread of their own, and a
  // commit waits for one only when the WAL must restart (SqliteDb::CheckpointInBackground).
  // Needs a database file.
  bool background_checkpoints = false;
  // For tests of migrations: stop at this schema version (0: the current one).
  int migrate_to = 0;
  // False for tools that open holdfastd's database beside a running holdfastd: a database
  // that an older holdfastd made is then refused (kUnsupportedVersion) rather than migrated
  // under that server. A new database is still created.
  bool upgrade_existing = true;
};

// OpenSqliteStorage opens (creating if needed) the SQLite database at `path` in WAL mode and
// migrates its schema to the current version. A newer schema than this code knows is
// kUnsupportedVersion. Storage::Commit's contract: after a failed Commit, call Rollback.
Result<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                   SqliteStorageOptions options = {});

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_STORAGE_H_
