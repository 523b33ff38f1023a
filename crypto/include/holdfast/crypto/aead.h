// Authenticated encryption for storage at rest: XChaCha20-Poly1305 (the default),
// ChaCha20-Poly1305 (RFC 8439) and AES-256-GCM.
#ifndef HOLDFAST_CRYPTO_AEAD_H_
#define HOLDFAST_CRYPTO_AEAD_H_

#include <cstddef>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"

namespace holdfast::crypto {

enum class AeadAlgorithm {
  // 24-byte random nonces are safe: the default for anything stored.
  kXChaCha20Poly1305,
  // RFC 8439, 12-byte nonces (counters only, never random).
  kChaCha20Poly1305,
  // 12-byte nonces (counters only, never random).
  kAes256Gcm,
};

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadTagBytes = 16;

// AeadNonceBytes is the nonce length of `algorithm`: 24 for XChaCha20, else 12.
size_t AeadNonceBytes(AeadAlgorithm algorithm);

// AeadSeal encrypts and authenticates `plaintext` and authenticates `aad`. It returns
// ciphertext || 16-byte tag. Wrong key or nonce sizes are kInvalidArgument.
Result<Bytes> AeadSeal(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                       ByteSpan plaintext);

// AeadOpen verifies and decrypts ciphertext || tag. Any tampering with key, nonce, aad,
// ciphertext or tag is kAuthenticationFailed, and no plaintext is released.
Result<SecretBytes> AeadOpen(AeadAlgorithm algorithm, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                             ByteSpan sealed);

// Record ciphers: the AEADs of TLS 1.3 (RFC 8446 §5.2), applied in place to one record at
// a time with a 12-byte nonce, for a protocol that frames its own records. Each thread keeps
// one cipher context per cipher and keys it per call, so no per-connection context exists.
enum class RecordCipher {
  kAes128Gcm,
  kAes256Gcm,
  kChaCha20Poly1305,
};
inline constexpr size_t kRecordNonceBytes = 12;

// RecordCipherKeyBytes is 16 for AES-128-GCM, else 32.
size_t RecordCipherKeyBytes(RecordCipher cipher);

// SealRecordInPlace encrypts `data` in place, authenticating `aad`, and writes the 16-byte
// tag to `tag`. Wrong key, nonce or tag sizes are kInvalidArgument; a library failure is
// kCryptoFailure.
Result<void> SealRecordInPlace(RecordCipher cipher, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                               MutableByteSpan data, MutableByteSpan tag);

// OpenRecordInPlace verifies `tag` over `aad` and the ciphertext `data` and decrypts `data` in
// place. Any tampering is kAuthenticationFailed; `data` then holds no usable plaintext.
Result<void> OpenRecordInPlace(RecordCipher cipher, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                               MutableByteSpan data, ByteSpan tag);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_AEAD_H_
