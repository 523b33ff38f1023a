// Sender Keys for groups, byte-compatible with libsignal v3.
//
//   SenderKeyDistributionMessage = 0x33 || protobuf { 1: id, 2: iteration, 3: chain_key[32],
//                                                     4: signing_key[33] }
//   SenderKeyMessage = 0x33 || protobuf { 1: id, 2: iteration, 3: ciphertext } || sig[64]
//   sig = XEdDSA(signing_key, 0x33 || protobuf)
//   chain: seed = HMAC(chain, 0x01), chain' = HMAC(chain, 0x02)
//   message key: iv[16] || key[32] = HKDF(seed, salt 0*32, "WhisperGroup", 48); AES-256-CBC
//
// Each sender has one SenderKey per group: its own (which can encrypt) or one learned from a
// distribution message (which can only decrypt). Decryption is transactional.
#ifndef HOLDFAST_SIGNAL_GROUP_H_
#define HOLDFAST_SIGNAL_GROUP_H_

#include <cstdint>
#include <deque>
#include <memory>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/common/secret.h"

namespace holdfast::signal {

// Limits, as libsignal's: how far ahead a message may be, skipped keys kept, and how many
// key generations (after rotations) a receiver keeps per sender.
inline constexpr uint32_t kMaxSenderKeyGap = 2000;
inline constexpr size_t kMaxSenderSkippedKeys = 2000;
inline constexpr size_t kMaxSenderKeyStates = 5;

struct SenderKeyState;  // src/group.cc

class SenderKey {
 public:
  SenderKey();
  ~SenderKey();
  SenderKey(SenderKey&&) noexcept;
  SenderKey& operator=(SenderKey&&) noexcept;

  // CreateOwn makes a fresh sending key (random id, chain key and signing key).
  static SenderKey CreateOwn(Rng& rng);
  // Rotate replaces our own key with a fresh one, e.g. after a member left: those who
  // received only the old distribution message cannot read what follows.
  void Rotate(Rng& rng);

  // DistributionMessage describes our current key for the members (send it pairwise).
  // kNoSession for a key learned from someone else.
  Result<Bytes> DistributionMessage() const;

  // Serialize/Deserialize: format version 1 (docs/signal.md), in a wiping buffer.
  SecretBytes Serialize() const;
  static Result<SenderKey> Deserialize(ByteSpan bytes);
  // ProcessDistribution learns (or refreshes) a sender's key from its distribution message.
  Result<void> ProcessDistribution(ByteSpan message);

  // Encrypt signs with XEdDSA, whose nonce comes from `rng`.
  Result<Bytes> Encrypt(ByteSpan plaintext, Rng& rng);
  // Decrypt checks the signature (kInvalidSignature), finds the key generation
  // (kNoSession if unknown), and refuses replays (kDuplicateMessage).
  Result<SecretBytes> Decrypt(ByteSpan message);

 private:
  std::deque<std::unique_ptr<SenderKeyState>> states_;  // newest first
};

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_GROUP_H_
