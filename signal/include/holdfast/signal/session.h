// Signal Protocol sessions: X3DH to start, the Double Ratchet after, libsignal v3 exactly.
//
// A Session holds the current state and up to kMaxArchivedStates earlier ones (kept so that
// two people who start sessions with each other at once can still read each other).
// Decryption is transactional: a message's changes (the chain's next links, a DH ratchet step,
// a new state) are computed on the side and applied only after the message authenticated and
// decrypted; on any failure the session is exactly as it was.
#ifndef HOLDFAST_SIGNAL_SESSION_H_
#define HOLDFAST_SIGNAL_SESSION_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/signal/chain.h"
#include "holdfast/signal/wire.h"

namespace holdfast::signal {

// Limits, as libsignal's: skipped message keys kept per receiving chain, receiving chains
// kept per state, archived states per session, and how far ahead a message may be.
inline constexpr size_t kMaxSkippedKeys = 2000;
inline constexpr size_t kMaxReceiverChains = 5;
inline constexpr size_t kMaxArchivedStates = 40;
inline constexpr uint32_t kMaxMessageGap = 2000;

// PreKeyBundle is what a server hands out for starting a session with one device.
struct PreKeyBundle {
  uint32_t registration_id = 0;
  uint32_t device_id = 1;
  std::optional<uint32_t> pre_key_id;
  std::optional<crypto::X25519PublicKey> pre_key;
  uint32_t signed_pre_key_id = 0;
  crypto::X25519PublicKey signed_pre_key;
  Bytes signed_pre_key_signature;  // XEdDSA by identity_key over signed_pre_key's 33 bytes
  crypto::X25519PublicKey identity_key;
};

// PreKeySource finds our own prekeys when a prekey message arrives.
class PreKeySource {
 public:
  virtual ~PreKeySource() = default;
  // Return nullptr when the key is not (or no longer) there.
  virtual const crypto::X25519KeyPair* SignedPreKey(uint32_t id) const = 0;
  virtual const crypto::X25519KeyPair* OneTimePreKey(uint32_t id) const = 0;
};

enum class MessageType { kPreKey, kMessage };

struct Ciphertext {
  MessageType type;
  Bytes body;
};

struct SessionState;  // defined in src/session.cc

class Session {
 public:
  Session();
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session Clone() const;

  // Serialize writes the whole session (format version 1, docs/signal.md) into a wiping
  // buffer; Deserialize reads it back. Another version is kUnsupportedVersion; anything
  // malformed is kMalformed.
  SecretBytes Serialize() const;
  static Result<Session> Deserialize(ByteSpan bytes);

  bool has_current() const;
  // RemoteIdentity is the peer's identity key in the current state.
  std::optional<crypto::X25519PublicKey> RemoteIdentity() const;

  // ProcessBundle starts a new session as the initiator (X3DH): it checks the signed
  // prekey's XEdDSA signature (kInvalidSignature) and makes the new state current, keeping
  // the old one archived. Messages until the peer's first reply are prekey messages.
  Result<void> ProcessBundle(const crypto::X25519KeyPair& our_identity,
                             uint32_t our_registration_id, const PreKeyBundle& bundle, Rng& rng);

  // Encrypt encrypts with the current state (kNoSession without one).
  Result<Ciphertext> Encrypt(ByteSpan plaintext);

  // Decrypt reads a SignalMessage with the current or an archived state.
  Result<SecretBytes> Decrypt(ByteSpan message, Rng& rng);

  // DecryptPreKey reads a PreKeySignalMessage, building the responder's state from our
  // prekeys unless a state for its base key exists already. On success `used_pre_key` names
  // the one-time prekey consumed (delete it), if any.
  Result<SecretBytes> DecryptPreKey(const crypto::X25519KeyPair& our_identity,
                                    uint32_t our_registration_id, const PreKeySource& prekeys,
                                    ByteSpan message, Rng& rng,
                                    std::optional<uint32_t>* used_pre_key = nullptr);

 private:
  Result<SecretBytes> DecryptParsed(const SignalMessage& message, Rng& rng);
  // Install makes `state` current, archiving the current one.
  void Install(std::unique_ptr<SessionState> state);

  std::unique_ptr<SessionState> current_;
  std::deque<std::unique_ptr<SessionState>> previous_;  // newest first
};

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_SESSION_H_
