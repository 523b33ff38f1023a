// ProtocolStore: everything a Signal Protocol client keeps, behind one interface, with an
// in-memory and a SQLite implementation.
//
// Identities are trusted on first use: SaveRemoteIdentity records the first key seen for a
// name, and a different key later is kUntrustedIdentity until AcceptRemoteIdentity. Writes
// made between Begin and Commit land together or not at all; transactions nest, and a
// Rollback at any depth undoes the outermost one.
#ifndef HOLDFAST_SIGNAL_STORE_H_
#define HOLDFAST_SIGNAL_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::signal {

struct LocalIdentity {
  crypto::X25519KeyPair identity;
  uint32_t registration_id = 0;
};

struct SignedPreKeyRecord {
  uint32_t id = 0;
  crypto::X25519KeyPair key;
  Bytes signature;
};

class ProtocolStore {
 public:
  virtual ~ProtocolStore() = default;

  virtual Result<void> Begin() = 0;
  virtual Result<void> Commit() = 0;
  virtual void Rollback() = 0;

  // Our identity; kNotFound before SetLocalIdentity.
  virtual Result<LocalIdentity> GetLocalIdentity() = 0;
  virtual Result<void> SetLocalIdentity(const LocalIdentity& identity) = 0;

  // CheckRemoteIdentity is Ok for an unknown name or the recorded key, and
  // kUntrustedIdentity for a different key.
  virtual Result<void> CheckRemoteIdentity(std::string_view name,
                                           const crypto::X25519PublicKey& key) = 0;
  // SaveRemoteIdentity records the key for a name seen the first time (no-op if the same).
  virtual Result<void> SaveRemoteIdentity(std::string_view name,
                                          const crypto::X25519PublicKey& key) = 0;
  // AcceptRemoteIdentity replaces the recorded key: the user has checked the new safety number.
  virtual Result<void> AcceptRemoteIdentity(std::string_view name,
                                            const crypto::X25519PublicKey& key) = 0;
  virtual Result<std::optional<crypto::X25519PublicKey>> GetRemoteIdentity(
      std::string_view name) = 0;

  virtual Result<std::optional<crypto::X25519KeyPair>> LoadPreKey(uint32_t id) = 0;
  virtual Result<void> StorePreKey(uint32_t id, const crypto::X25519KeyPair& key) = 0;
  virtual Result<void> RemovePreKey(uint32_t id) = 0;
  // PreKeyIds lists the one-time prekeys held, lowest first.
  virtual Result<std::vector<uint32_t>> PreKeyIds() = 0;

  virtual Result<std::optional<SignedPreKeyRecord>> LoadSignedPreKey(uint32_t id) = 0;
  virtual Result<void> StoreSignedPreKey(const SignedPreKeyRecord& record) = 0;
  virtual Result<void> RemoveSignedPreKey(uint32_t id) = 0;
  // LatestSignedPreKey is the one with the highest id (kNotFound if none).
  virtual Result<SignedPreKeyRecord> LatestSignedPreKey() = 0;

  // Sessions and sender keys are kept in their serialized (versioned) forms.
  virtual Result<std::optional<SecretBytes>> LoadSession(std::string_view name) = 0;
  virtual Result<void> StoreSession(std::string_view name, ByteSpan serialized) = 0;
  // RemoveSession forgets the session with `name` (its recorded identity stays).
  virtual Result<void> RemoveSession(std::string_view name) = 0;
  virtual Result<std::optional<SecretBytes>> LoadSenderKey(std::string_view group,
                                                           std::string_view sender) = 0;
  virtual Result<void> StoreSenderKey(std::string_view group, std::string_view sender,
                                      ByteSpan serialized) = 0;

  // Counters are small named integers, 0 until set: the last prekey id made, the last one
  // handed out in a bundle.
  virtual Result<uint32_t> GetCounter(std::string_view name) = 0;
  virtual Result<void> SetCounter(std::string_view name, uint32_t value) = 0;
};

// RecordStore is the storage underneath a ProtocolStore: named tables of string keys and
// secret values. Table names are string constants (the store names them by kTable-style
// literals); keys are short ASCII names. Begin/Commit/Rollback bracket one transaction; the
// ProtocolStore calls them only at its outermost level.
class RecordStore {
 public:
  virtual ~RecordStore() = default;
  virtual Result<std::optional<SecretBytes>> Get(const char* table, const std::string& key) = 0;
  virtual Result<void> Put(const char* table, const std::string& key, ByteSpan value) = 0;
  virtual Result<void> Delete(const char* table, const std::string& key) = 0;
  // Keys lists a table's keys in ascending byte order.
  virtual Result<std::vector<std::string>> Keys(const char* table) = 0;
  virtual Result<void> Begin() = 0;
  virtual Result<void> Commit() = 0;
  virtual void Rollback() = 0;
};

// NewProtocolStore keeps the protocol's records in `records` (borrowed: it must outlive the
// store), so that an application can keep them in its own storage, e.g. encrypted at rest,
// and group them with its own writes in one transaction.
std::unique_ptr<ProtocolStore> NewProtocolStore(RecordStore& records);
std::unique_ptr<ProtocolStore> NewMemoryProtocolStore();
// OpenSqliteProtocolStore opens or creates the store at `path` (format version 1).
Result<std::unique_ptr<ProtocolStore>> OpenSqliteProtocolStore(const std::string& path);

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_STORE_H_
