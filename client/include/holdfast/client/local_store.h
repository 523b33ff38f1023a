// LocalStore: the client's database, a SQLite file encrypted at rest.
//
// The file holds no plaintext message, key or name: each record is a row
//   kv(tag, k, v)   tag = HMAC-SHA256(K_index, "table" || 0 || table)[0..16)
//                   k   = HMAC-SHA256(K_index, "record" || 0 || table || 0 || key)
//                   v   = nonce[24] || XChaCha20-Poly1305(K_data, nonce,
//                           aad = "holdfast/store/v1" || k, u16 len(key) || key || value)
// so a row cannot be moved to another table or key without failing to open, and all an
// attacker holding the file learns is how many records each table has and their sizes.
// K_index and K_data come from a 32-byte master key by HKDF-SHA256; the master key is
// Argon2id(passphrase, salt) or the contents of a 32-byte key file. A check value (an AEAD
// tag over a fixed label) tells a wrong passphrase apart from a damaged file.
#ifndef HOLDFAST_CLIENT_LOCAL_STORE_H_
#define HOLDFAST_CLIENT_LOCAL_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/pwhash.h"
#include "holdfast/signal/store.h"

namespace holdfast::client {

// StoreSecret unlocks a store: a passphrase (stretched with Argon2id) or the bytes of a key
// file (exactly 32 bytes, used as the master key).
struct StoreSecret {
  enum class Kind { kPassphrase, kKeyFile };
  Kind kind = Kind::kPassphrase;
  SecretBytes bytes;
};

// kWrongSecret is the error of opening a store with the wrong passphrase or key file.
inline constexpr ErrorCode kWrongSecret = ErrorCode::kAuthenticationFailed;

class LocalStore final : public signal::RecordStore {
 public:
  // Create makes a new store at `path` (kAlreadyExists if the file exists). `kdf` is the
  // Argon2id cost for a passphrase; tests use a small one.
  static Result<std::unique_ptr<LocalStore>> Create(
      const std::string& path, const StoreSecret& secret,
      const crypto::Argon2idParams& kdf = crypto::kArgon2idInteractive);
  // Open opens an existing store (kNotFound if there is none). A wrong passphrase or key
  // file is kWrongSecret; a key file for a passphrase store, or the other way round, is
  // kInvalidArgument; a file that is not a store, or a newer format, is kUnsupportedVersion.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& path,
                                                  const StoreSecret& secret);
  ~LocalStore() override;

  // signal::RecordStore. A record that does not authenticate (the file was altered) is
  // kStorageFailure with the detail "record does not authenticate".
  Result<std::optional<SecretBytes>> Get(const char* table, const std::string& key) override;
  Result<void> Put(const char* table, const std::string& key, ByteSpan value) override;
  Result<void> Delete(const char* table, const std::string& key) override;
  Result<std::vector<std::string>> Keys(const char* table) override;

  // Transactions nest. Only the outermost Begin and Commit reach SQLite. A Rollback at any
  // depth rolls the whole transaction back at once; until the outermost level has ended
  // (by Commit, which then fails, or Rollback) every read and write fails.
  Result<void> Begin() override;
  Result<void> Commit() override;
  void Rollback() override;

  // Entries returns every (key, value) of `table`, in ascending key order.
  struct Entry {
    std::string key;
    SecretBytes value;
  };
  Result<std::vector<Entry>> Entries(const char* table);

  class Impl;

 private:
  explicit LocalStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// GenerateKeyFile writes 32 random bytes to a new file at `path` (mode 0600); kAlreadyExists
// if it exists.
Result<void> GenerateKeyFile(const std::string& path);
// ReadKeyFile reads a key file: exactly 32 bytes, else kInvalidArgument.
Result<SecretBytes> ReadKeyFile(const std::string& path);

}  // namespace holdfast::client

#endif  // HOLDFAST_CLIENT_LOCAL_STORE_H_
