// The plaintext layer of client messages: padding, and the checks on a sealed envelope's
// sender certificate. Internal to client/.
#ifndef HOLDFAST_CLIENT_CONTENT_H_
#define HOLDFAST_CLIENT_CONTENT_H_

#include <cstdint>
#include <string>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/ed25519.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::client {

// kPaddingBlock: plaintexts are padded to a multiple of 160 bytes (as Signal's clients do),
// so that a message's length says little about its text.
inline constexpr size_t kPaddingBlock = 160;
// kMaxContentBytes bounds a decrypted Content before it is parsed.
inline constexpr size_t kMaxContentBytes = 200 * 1024;

// Pad appends 0x80 and then zeros up to the next multiple of kPaddingBlock (at least one byte
// is added).
SecretBytes Pad(ByteSpan plaintext);
// Unpad removes the padding: trailing zeros, then one 0x80. Anything else is kMalformed.
Result<SecretBytes> Unpad(ByteSpan padded);

// SenderIdentity is what a valid sender certificate says about the sender.
struct SenderIdentity {
  std::string account_id;  // 16 bytes
  uint32_t device_id = 0;
  std::string phone;
  crypto::X25519PublicKey identity_key;
  int64_t expires_ms = 0;
};

// CheckSenderCertificate verifies a sealed envelope's certificate: the server's Ed25519
// signature under `server_key`, the key id, that it has not expired at `now_ms`, and that it
// names `unsealed_identity`, the identity key that sealed the envelope. Any failure is
// kAuthenticationFailed (with a detail naming it) or kMalformed.
Result<SenderIdentity> CheckSenderCertificate(ByteSpan certificate, ByteSpan signature,
                                              const crypto::Ed25519PublicKey& server_key,
                                              uint32_t server_key_id, int64_t now_ms,
                                              const crypto::X25519PublicKey& unsealed_identity);

}  // namespace holdfast::client

#endif  // HOLDFAST_CLIENT_CONTENT_H_
