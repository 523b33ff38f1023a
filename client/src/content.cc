#include "content.h"

#include "holdfast/wire/frame.h"

namespace holdfast::client {

SecretBytes Pad(ByteSpan plaintext) {
  const size_t padded = (plaintext.size() / kPaddingBlock + 1) * kPaddingBlock;
  SecretBytes out(padded);  // zero-filled
  std::copy(plaintext.begin(), plaintext.end(), out.data());
  out.data()[plaintext.size()] = 0x80;
  return out;
}

Result<SecretBytes> Unpad(ByteSpan padded) {
  size_t end = padded.size();
  while (end > 0 && padded[end - 1] == 0) {
    --end;
  }
  if (end == 0 || padded[end - 1] != 0x80) {
    return Error{ErrorCode::kMalformed, "message padding"};
  }
  return SecretBytes::Copy(padded.first(end - 1));
}

Result<SenderIdentity> CheckSenderCertificate(ByteSpan certificate, ByteSpan signature,
                                              const crypto::Ed25519PublicKey& server_key,
                                              uint32_t server_key_id, int64_t now_ms,
                                              const crypto::X25519PublicKey& unsealed_identity) {
  if (!crypto::Ed25519Verify(server_key, certificate, signature).ok()) {
    return Error{ErrorCode::kAuthenticationFailed, "sender certificate signature"};
  }
  wire::pb::SenderCertificate::Certificate cert;
  if (!cert.ParseFromArray(certificate.data(), static_cast<int>(certificate.size())) ||
      cert.account_id().size() != wire::kAccountIdBytes || cert.device_id() == 0) {
    return Error{ErrorCode::kMalformed, "sender certificate"};
  }
  if (cert.key_id() != server_key_id) {
    return Error{ErrorCode::kAuthenticationFailed, "sender certificate key id"};
  }
  if (cert.expires_ms() < now_ms) {
    return Error{ErrorCode::kAuthenticationFailed, "sender certificate expired"};
  }
  auto identity = crypto::X25519PublicKey::Parse(AsBytes(cert.identity_key()));
  if (!identity.ok()) {
    return Error{ErrorCode::kMalformed, "sender certificate identity key"};
  }
  if (!(*identity == unsealed_identity)) {
    return Error{ErrorCode::kAuthenticationFailed, "sender certificate names another identity"};
  }
  return SenderIdentity{cert.account_id(), cert.device_id(), cert.phone(), *identity,
                        cert.expires_ms()};
}

}  // namespace holdfast::client
