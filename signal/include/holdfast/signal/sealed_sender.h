// Sealed sender, version 1: libsignal's UnidentifiedSenderMessage (libsignal-metadata-java's
// SealedSessionCipher), which hides who sent a message from the server that carries it. The
// grammar and the key schedule are in docs/signal.md:
//
//   sealed           = 0x11 || protobuf UnidentifiedSenderMessage {
//                        1: ephemeral_public[33], 2: encrypted_static, 3: encrypted_message }
//   (chain, ck, mk)  = HKDF-SHA256(DH(e, IK_R), "UnidentifiedDelivery" || IK_R[33] || E[33], 96)
//   encrypted_static = AES-256-CTR(ck, iv 0, IK_S[33]) || HMAC-SHA256(mk, ciphertext)[0:10]
//   (_, ck', mk')    = HKDF-SHA256(DH(IK_S, IK_R), chain || encrypted_static, 96)
//   encrypted_message = AES-256-CTR(ck', iv 0, protobuf content) || HMAC(mk', ciphertext)[0:10]
//
// This module only seals and opens the envelope. The sender certificate is opaque bytes here:
// whoever opens a message must check that the certificate is valid and names the identity key
// that UnsealSender returns (see Unsealed), and then decrypt the content with the sender's
// session.
#ifndef HOLDFAST_SIGNAL_SEALED_SENDER_H_
#define HOLDFAST_SIGNAL_SEALED_SENDER_H_

#include <cstddef>
#include <cstdint>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::signal {

// kSealedSenderVersionByte is the only version byte sealed and accepted: (1 << 4) | 1.
inline constexpr uint8_t kSealedSenderVersionByte = 0x11;
// kSealedSenderMacBytes is the length of both truncated HMAC-SHA256 tags.
inline constexpr size_t kSealedSenderMacBytes = 10;
// kMaxSealedSenderBytes bounds a whole sealed message, version byte included, both when we
// seal (kOversized) and before we parse anything we receive (kOversized).
inline constexpr size_t kMaxSealedSenderBytes = size_t{512} * 1024;

// SealedContentType says what the sealed content is, with libsignal's numbers for the inner
// message's type field (not CiphertextMessageType's: a prekey message is 1 here, 3 there).
enum class SealedContentType : uint32_t {
  kPreKey = 1,     // a PreKeySignalMessage
  kMessage = 2,    // a SignalMessage
  kSenderKey = 7,  // a SenderKeyMessage
};

// SealedContent is what travels inside the envelope.
struct SealedContent {
  SealedContentType type = SealedContentType::kMessage;
  Bytes sender_certificate;  // a serialized SenderCertificate; opaque to this module
  Bytes content;             // the serialized message of `type`
};

// SealSender seals `content` from `sender_identity` (our identity key pair) to the holder of
// `recipient_identity`. It draws exactly one thing from `rng`, the ephemeral key pair (32
// bytes, as crypto::X25519KeyPair::Generate does), so a seeded Rng gives repeatable bytes.
// Fails with kInvalidArgument for a `content.type` outside SealedContentType, kOversized when
// the sealed message would exceed kMaxSealedSenderBytes, and kWeakKey when
// `recipient_identity` is a small-order point. Nothing is kept after it returns.
Result<Bytes> SealSender(const crypto::X25519KeyPair& sender_identity,
                         const crypto::X25519PublicKey& recipient_identity,
                         const SealedContent& content, Rng& rng);

// Unsealed is an opened envelope.
struct Unsealed {
  // sender_identity is the identity key the message was sealed with: only its holder (or the
  // recipient itself) could have made the message. It says nothing about who the certificate
  // names; the caller must reject the message unless the certificate is valid and its
  // identity key equals this one, or any sender could present someone else's certificate.
  crypto::X25519PublicKey sender_identity;
  SealedContent content;
};

// UnsealSender opens a sealed message addressed to `recipient_identity` (our identity key
// pair). Both MACs are checked, in constant time, before the bytes they cover are decrypted.
// Errors:
//   kOversized            more than kMaxSealedSenderBytes;
//   kUnsupportedVersion   a version byte other than 0x11 (sealed sender v2 included);
//   kMalformed            bad protobuf, a missing field, a key not in its 33-byte form, a
//                         field of the wrong length, or an unknown content type;
//   kAuthenticationFailed either MAC does not verify (a message for another recipient too);
//   kWeakKey              the ephemeral or the sealed identity key is a small-order point.
// `sealed` is only read during the call; the result owns copies of what it returns.
Result<Unsealed> UnsealSender(const crypto::X25519KeyPair& recipient_identity, ByteSpan sealed);

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_SEALED_SENDER_H_
