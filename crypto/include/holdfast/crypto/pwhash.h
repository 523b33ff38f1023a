// Argon2id passphrase hashing (libsodium crypto_pwhash), for keys derived from passphrases.
#ifndef HOLDFAST_CRYPTO_PWHASH_H_
#define HOLDFAST_CRYPTO_PWHASH_H_

#include <cstddef>
#include <cstdint>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"

namespace holdfast::crypto {

inline constexpr size_t kArgon2idSaltBytes = 16;

// Argon2idParams is the cost: passes over memory and memory in bytes.
struct Argon2idParams {
  uint64_t ops_limit;
  size_t mem_limit_bytes;
};

// kArgon2idInteractive suits unlocking a local store on a phone or laptop (libsodium's
// INTERACTIVE: 2 passes, 64 MiB). kArgon2idSensitive is for long-lived secrets (4 passes,
// 1 GiB).
inline constexpr Argon2idParams kArgon2idInteractive{2, size_t{64} << 20};
inline constexpr Argon2idParams kArgon2idModerate{3, size_t{256} << 20};
inline constexpr Argon2idParams kArgon2idSensitive{4, size_t{1} << 30};

// Argon2id derives `out_len` bytes (16..4096) from `passphrase` and a 16-byte `salt`. Costs
// below libsodium's minimum (1 pass, 8 KiB) or other sizes are kInvalidArgument; running out
// of memory is kCryptoFailure.
Result<SecretBytes> Argon2id(ByteSpan passphrase, ByteSpan salt, const Argon2idParams& params,
                             size_t out_len);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_PWHASH_H_
