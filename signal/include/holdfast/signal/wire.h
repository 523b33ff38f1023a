// Signal Protocol v3 wire messages, byte-compatible with libsignal (grammar in docs/signal.md):
//
//   SignalMessage       = version(0x33) || protobuf SignalMessage || mac[8]
//   PreKeySignalMessage = version(0x33) || protobuf PreKeySignalMessage
//   mac = HMAC-SHA256(mac_key, sender_identity[33] || receiver_identity[33] ||
//                     version || protobuf)[0:8]
#ifndef HOLDFAST_SIGNAL_WIRE_H_
#define HOLDFAST_SIGNAL_WIRE_H_

#include <cstdint>
#include <optional>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/signal/chain.h"

namespace holdfast::signal {

inline constexpr uint8_t kCiphertextVersion = 3;
inline constexpr uint8_t kVersionByte = (kCiphertextVersion << 4) | kCiphertextVersion;
inline constexpr size_t kMacBytes = 8;
// kMaxMessageBytes bounds what we parse at all.
inline constexpr size_t kMaxMessageBytes = size_t{1} << 20;

struct SignalMessage {
  crypto::X25519PublicKey ratchet_key;
  uint32_t counter = 0;
  uint32_t previous_counter = 0;
  Bytes ciphertext;
  Bytes serialized;  // the whole message as sent, MAC included
};

// SerializeSignalMessage builds and MACs a message.
Bytes SerializeSignalMessage(const crypto::X25519PublicKey& ratchet_key, uint32_t counter,
                             uint32_t previous_counter, ByteSpan ciphertext,
                             const Secret<kKeyBytes>& mac_key,
                             const crypto::X25519PublicKey& sender_identity,
                             const crypto::X25519PublicKey& receiver_identity);

// ParseSignalMessage checks the version and grammar; the MAC is checked by VerifyMac.
// Another major version is kUnsupportedVersion; anything else wrong is kMalformed.
Result<SignalMessage> ParseSignalMessage(ByteSpan bytes);

// VerifyMac checks the message's 8-byte MAC in constant time (kAuthenticationFailed).
Result<void> VerifyMac(const SignalMessage& message, const Secret<kKeyBytes>& mac_key,
                       const crypto::X25519PublicKey& sender_identity,
                       const crypto::X25519PublicKey& receiver_identity);

struct PreKeySignalMessage {
  uint32_t registration_id = 0;
  std::optional<uint32_t> pre_key_id;
  uint32_t signed_pre_key_id = 0;
  crypto::X25519PublicKey base_key;
  crypto::X25519PublicKey identity_key;
  SignalMessage message;
};

Bytes SerializePreKeySignalMessage(uint32_t registration_id, std::optional<uint32_t> pre_key_id,
                                   uint32_t signed_pre_key_id,
                                   const crypto::X25519PublicKey& base_key,
                                   const crypto::X25519PublicKey& identity_key,
                                   ByteSpan signal_message);

Result<PreKeySignalMessage> ParsePreKeySignalMessage(ByteSpan bytes);

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_WIRE_H_
