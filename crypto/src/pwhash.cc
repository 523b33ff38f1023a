#include "holdfast/crypto/pwhash.h"

#include <sodium/crypto_pwhash.h>

#include "internal.h"

namespace holdfast::crypto {

Result<SecretBytes> Argon2id(ByteSpan passphrase, ByteSpan salt, const Argon2idParams& params,
                             size_t out_len) {
  static_assert(kArgon2idSaltBytes == crypto_pwhash_SALTBYTES);
  if (salt.size() != kArgon2idSaltBytes) {
    return Error{ErrorCode::kInvalidArgument, "salt length"};
  }
  if (out_len < crypto_pwhash_BYTES_MIN || out_len > 4096) {
    return Error{ErrorCode::kInvalidArgument, "output length"};
  }
  if (params.ops_limit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      params.ops_limit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      params.mem_limit_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      params.mem_limit_bytes > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return Error{ErrorCode::kInvalidArgument, "argon2id cost"};
  }
  if (passphrase.size() > crypto_pwhash_PASSWD_MAX) {
    return ErrorCode::kOversized;
  }
  internal::EnsureSodium();
  SecretBytes out(out_len);
  // libsodium takes a char pointer; a passphrase may hold any bytes, including NUL.
  const char* pw = passphrase.empty() ? "" : reinterpret_cast<const char*>(passphrase.data());
  if (crypto_pwhash(out.data(), out.size(), pw, passphrase.size(), salt.data(), params.ops_limit,
                    params.mem_limit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error{ErrorCode::kCryptoFailure, "argon2id (out of memory?)"};
  }
  return out;
}

}  // namespace holdfast::crypto
