// C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and C2SP timestamped
// Ed25519 cosignatures (c2sp.org/tlog-cosignature, signature type 0x04).
//
// A signed note is UTF-8 text ending in a newline, a blank line, and one line per signature:
// "— <key name> <base64(4-byte key ID || signature)>\n". The grammar and limits are in
// docs/tlog.md; they follow golang.org/x/mod/sumdb/note, whose published examples the tests
// replay.
#ifndef HOLDFAST_TLOG_NOTE_H_
#define HOLDFAST_TLOG_NOTE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/ed25519.h"

namespace holdfast::tlog {

// kMaxNoteSignatures: notes with more signature lines are malformed (as note.go).
inline constexpr size_t kMaxNoteSignatures = 100;
// kMaxNoteBytes bounds the input we parse at all.
inline constexpr size_t kMaxNoteBytes = 1 << 20;

enum class NoteKeyType : uint8_t {
  kEd25519 = 0x01,        // a log's own checkpoint signature
  kCosignatureV1 = 0x04,  // a witness's timestamped Ed25519 cosignature
};

// IsValidKeyName: non-empty UTF-8 with no Unicode white space and no '+'.
bool IsValidKeyName(std::string_view name);

// NoteKeyId is SHA-256(name || 0x0A || type || public key)[:4], big-endian.
uint32_t NoteKeyId(std::string_view name, NoteKeyType type, ByteSpan public_key);

// NoteVerifier is a trusted public key, named by (name, key ID).
class NoteVerifier {
 public:
  // Parse reads "<name>+<8 hex digits>+<base64(type || 32-byte key)>". A bad format, name,
  // key length or key ID is kInvalidKey; a type other than 0x01 or 0x04 is
  // kInvalidKey with detail "unknown verifier algorithm".
  static Result<NoteVerifier> Parse(std::string_view vkey);
  static NoteVerifier FromKey(std::string name, NoteKeyType type,
                              const crypto::Ed25519PublicKey& key);

  // ToString gives the Parse form.
  std::string ToString() const;
  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  NoteKeyType type() const { return type_; }

  // Verify checks `signature` (the bytes after the key ID) over the note `text`. For a
  // cosignature it also returns the signed timestamp. Failure is kAuthenticationFailed.
  Result<std::optional<uint64_t>> Verify(std::string_view text, ByteSpan signature) const;

 private:
  NoteVerifier(std::string name, uint32_t key_id, NoteKeyType type, crypto::Ed25519PublicKey key)
      : name_(std::move(name)), key_id_(key_id), type_(type), key_(key) {}
  std::string name_;
  uint32_t key_id_;
  NoteKeyType type_;
  crypto::Ed25519PublicKey key_;
};

// NoteSigner holds a private key and signs note texts.
class NoteSigner {
 public:
  // Parse reads "PRIVATE+KEY+<name>+<8 hex digits>+<base64(type || 32-byte seed)>".
  static Result<NoteSigner> Parse(std::string_view skey);
  // Create makes a signer from a key; an invalid name is kInvalidArgument.
  static Result<NoteSigner> Create(std::string name, NoteKeyType type,
                                   crypto::Ed25519PrivateKey key);

  // ToString gives the Parse form. It holds the private key, so it comes in a wiping buffer.
  SecretBytes ToString() const;
  NoteVerifier Verifier() const;
  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }

  // SignatureLine signs `text` and returns its signature line, "— name base64\n".
  // `timestamp` (seconds since the epoch) is used only by cosigners.
  std::string SignatureLine(std::string_view text, uint64_t timestamp) const;

 private:
  NoteSigner(std::string name, uint32_t key_id, NoteKeyType type, crypto::Ed25519PrivateKey key)
      : name_(std::move(name)), key_id_(key_id), type_(type), key_(std::move(key)) {}
  std::string name_;
  uint32_t key_id_;
  NoteKeyType type_;
  crypto::Ed25519PrivateKey key_;
};

// NoteSignature is one parsed signature line.
struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  Bytes signature;   // after the key ID
  std::string line;  // the whole line, with its newline
  // Set for verified cosignatures.
  std::optional<uint64_t> timestamp;
};

// Note is a parsed, not yet verified, signed note.
struct Note {
  std::string text;  // ends with '\n'
  std::vector<NoteSignature> signatures;
};

// ParseNote checks the grammar only. Every violation is kMalformed.
Result<Note> ParseNote(std::string_view message);

// VerifiedNote is a note at least one trusted key has signed.
struct VerifiedNote {
  std::string text;
  std::vector<NoteSignature> verified;    // one per trusted key that signed, in note order
  std::vector<NoteSignature> unverified;  // signatures by keys not in the trusted set
};

// OpenNote parses `message` and verifies it against `verifiers`. Signatures by unknown keys
// are set aside. A signature by a trusted key that does not verify, or no trusted signature
// at all, is kAuthenticationFailed; a trusted set naming one (name, key ID) twice, when that
// key signed, is kInvalidArgument; grammar errors are kMalformed.
Result<VerifiedNote> OpenNote(std::string_view message, std::span<const NoteVerifier> verifiers);

// SignNote signs `text` with each signer, keeping `existing` signature lines from other
// keys. The text must be valid note text ending in '\n' (kMalformed otherwise).
Result<std::string> SignNote(std::string_view text, std::span<const NoteSigner* const> signers,
                             std::span<const NoteSignature> existing = {}, uint64_t timestamp = 0);

}  // namespace holdfast::tlog

#endif  // HOLDFAST_TLOG_NOTE_H_
