// AES-256 in CBC mode with PKCS#7 padding, and in CTR mode (OpenSSL 3).
//
// Keys are 32 bytes and IVs 16 bytes; other sizes are kInvalidArgument. Each thread reuses
// one cipher context, so a call costs the cipher and not an allocation.
#ifndef HOLDFAST_CRYPTO_AES_H_
#define HOLDFAST_CRYPTO_AES_H_

#include <cstddef>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"

namespace holdfast::crypto {

inline constexpr size_t kAes256KeyBytes = 32;
inline constexpr size_t kAesBlockBytes = 16;
inline constexpr size_t kAesIvBytes = 16;

// Aes256CbcEncrypt pads `plaintext` with PKCS#7 and encrypts it. The result is always a
// non-zero multiple of 16 bytes.
Result<Bytes> Aes256CbcEncrypt(ByteSpan key, ByteSpan iv, ByteSpan plaintext);

// Aes256CbcDecrypt decrypts and removes PKCS#7 padding. A ciphertext whose length is not a
// non-zero multiple of 16 is kMalformed; bad padding is kAuthenticationFailed (CBC must only
// ever be decrypted after its MAC has verified).
Result<SecretBytes> Aes256CbcDecrypt(ByteSpan key, ByteSpan iv, ByteSpan ciphertext);

// Aes256Ctr XORs `in` with the AES-256-CTR keystream starting at counter block `iv`
// (big-endian 128-bit counter) and writes `out`, which must be exactly as long as `in` and
// may be the same buffer. Encryption and decryption are the same operation.
Result<void> Aes256Ctr(ByteSpan key, ByteSpan iv, ByteSpan in, MutableByteSpan out);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_AES_H_
