#include "holdfast/crypto/aead.h"

#include <openssl/evp.h>
#include <sodium/crypto_aead_chacha20poly1305.h>
#include <sodium/crypto_aead_xchacha20poly1305.h>

#include <climits>

#include "internal.h"

namespace holdfast::crypto {
namespace {

// Large enough for any message Holdfast stores, small enough for every library's int lengths.
constexpr size_t kMaxAeadInput = size_t{1} << 30;

Result<void> CheckSizes(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                        size_t text_len) {
  if (key.size() != kAeadKeyBytes) {
    return Error{ErrorCode::kInvalidArgument, "aead key length"};
  }
  if (nonce.size() != AeadNonceBytes(algorithm)) {
    return Error{ErrorCode::kInvalidArgument, "aead nonce length"};
  }
  if (text_len > kMaxAeadInput || aad.size() > kMaxAeadInput) {
    return ErrorCode::kOversized;
  }
  return Ok();
}

using SodiumEncrypt = int (*)(unsigned char*, unsigned long long*, const unsigned char*,
                              unsigned long long, const unsigned char*, unsigned long long,
                              const unsigned char*, const unsigned char*, const unsigned char*);
using SodiumDecrypt = int (*)(unsigned char*, unsigned long long*, unsigned char*,
                              const unsigned char*, unsigned long long, const unsigned char*,
                              unsigned long long, const unsigned char*, const unsigned char*);

Result<Bytes> GcmSeal(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext) {
  Bytes out(plaintext.size() + kAeadTagBytes);
  internal::CipherSession session(internal::CipherKind::kAes256Gcm, key.data(), nonce.data(), true);
  EVP_CIPHER_CTX* ctx = session.ctx();
  int n = 0;
  const bool ok = session.ok() &&
                  (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(),
                                                    static_cast<int>(aad.size())) == 1) &&
                  EVP_EncryptUpdate(ctx, out.data(), &n, plaintext.data(),
                                    static_cast<int>(plaintext.size())) == 1 &&
                  EVP_EncryptFinal_ex(ctx, out.data() + n, &n) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kAeadTagBytes,
                                      out.data() + plaintext.size()) == 1;
  if (!ok) {
    return Error{ErrorCode::kCryptoFailure, "aes-gcm seal"};
  }
  return out;
}

Result<SecretBytes> GcmOpen(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan sealed) {
  const size_t text_len = sealed.size() - kAeadTagBytes;
  SecretBytes out(text_len);
  internal::CipherSession session(internal::CipherKind::kAes256Gcm, key.data(), nonce.data(),
                                  false);
  EVP_CIPHER_CTX* ctx = session.ctx();
  int n = 0;
  uint8_t final_block[16];
  const bool ok =
      session.ok() &&
      (aad.empty() ||
       EVP_DecryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1) &&
      EVP_DecryptUpdate(ctx, out.data(), &n, sealed.data(), static_cast<int>(text_len)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kAeadTagBytes,
                          const_cast<uint8_t*>(sealed.data() + text_len)) == 1 &&
      EVP_DecryptFinal_ex(ctx, final_block, &n) == 1;
  if (!ok) {
    return ErrorCode::kAuthenticationFailed;  // `out` is wiped on return
  }
  return out;
}

}  // namespace

size_t AeadNonceBytes(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kXChaCha20Poly1305:
      return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    case AeadAlgorithm::kChaCha20Poly1305:
      return crypto_aead_chacha20poly1305_ietf_NPUBBYTES;
    case AeadAlgorithm::kAes256Gcm:
      return 12;
  }
  return 0;
}

Result<Bytes> AeadSeal(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                       ByteSpan plaintext) {
  HF_RETURN_IF_ERROR(CheckSizes(algorithm, key, nonce, aad, plaintext.size()));
  if (algorithm == AeadAlgorithm::kAes256Gcm) {
    return GcmSeal(key, nonce, aad, plaintext);
  }
  internal::EnsureSodium();
  const SodiumEncrypt encrypt = algorithm == AeadAlgorithm::kXChaCha20Poly1305
                                    ? crypto_aead_xchacha20poly1305_ietf_encrypt
                                    : crypto_aead_chacha20poly1305_ietf_encrypt;
  Bytes out(plaintext.size() + kAeadTagBytes);
  unsigned long long len = 0;
  if (encrypt(out.data(), &len, plaintext.data(), plaintext.size(), aad.data(), aad.size(), nullptr,
              nonce.data(), key.data()) != 0 ||
      len != out.size()) {
    return Error{ErrorCode::kCryptoFailure, "aead seal"};
  }
  return out;
}

Result<SecretBytes> AeadOpen(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                             ByteSpan sealed) {
  HF_RETURN_IF_ERROR(CheckSizes(algorithm, key, nonce, aad, sealed.size()));
  if (sealed.size() < kAeadTagBytes) {
    return ErrorCode::kAuthenticationFailed;
  }
  if (algorithm == AeadAlgorithm::kAes256Gcm) {
    return GcmOpen(key, nonce, aad, sealed);
  }
  internal::EnsureSodium();
  const SodiumDecrypt decrypt = algorithm == AeadAlgorithm::kXChaCha20Poly1305
                                    ? crypto_aead_xchacha20poly1305_ietf_decrypt
                                    : crypto_aead_chacha20poly1305_ietf_decrypt;
  SecretBytes out(sealed.size() - kAeadTagBytes);
  unsigned long long len = 0;
  if (decrypt(out.data(), &len, nullptr, sealed.data(), sealed.size(), aad.data(), aad.size(),
              nonce.data(), key.data()) != 0 ||
      len != out.size()) {
    return ErrorCode::kAuthenticationFailed;
  }
  return out;
}

}  // namespace holdfast::crypto
