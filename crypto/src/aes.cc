#include "holdfast/crypto/aes.h"

#include <openssl/evp.h>

#include <climits>

#include "internal.h"

namespace holdfast::crypto {
namespace {

Result<void> CheckKeyIv(ByteSpan key, ByteSpan iv) {
  if (key.size() != kAes256KeyBytes) {
    return Error{ErrorCode::kInvalidArgument, "aes key length"};
  }
  if (iv.size() != kAesIvBytes) {
    return Error{ErrorCode::kInvalidArgument, "aes iv length"};
  }
  return Ok();
}

// OpenSSL takes int lengths; inputs beyond that are refused rather than truncated.
Result<int> IntLength(size_t n) {
  if (n > static_cast<size_t>(INT_MAX) - kAesBlockBytes) {
    return Error{ErrorCode::kOversized};
  }
  return static_cast<int>(n);
}

}  // namespace

Result<Bytes> Aes256CbcEncrypt(ByteSpan key, ByteSpan iv, ByteSpan plaintext) {
  HF_RETURN_IF_ERROR(CheckKeyIv(key, iv));
  HF_ASSIGN_OR_RETURN(const int in_len, IntLength(plaintext.size()));
  Bytes out(plaintext.size() + kAesBlockBytes - plaintext.size() % kAesBlockBytes);
  internal::CipherSession session(internal::CipherKind::kAes256Cbc, key.data(), iv.data(), true);
  int n1 = 0, n2 = 0;
  if (!session.ok() ||
      EVP_EncryptUpdate(session.ctx(), out.data(), &n1, plaintext.data(), in_len) != 1 ||
      EVP_EncryptFinal_ex(session.ctx(), out.data() + n1, &n2) != 1 ||
      static_cast<size_t>(n1 + n2) != out.size()) {
    return Error{ErrorCode::kCryptoFailure, "aes-cbc encrypt"};
  }
  return out;
}

Result<SecretBytes> Aes256CbcDecrypt(ByteSpan key, ByteSpan iv, ByteSpan ciphertext) {
  HF_RETURN_IF_ERROR(CheckKeyIv(key, iv));
  if (ciphertext.empty() || ciphertext.size() % kAesBlockBytes != 0) {
    return Error{ErrorCode::kMalformed, "cbc ciphertext length"};
  }
  HF_ASSIGN_OR_RETURN(const int in_len, IntLength(ciphertext.size()));
  SecretBytes out(ciphertext.size());
  internal::CipherSession session(internal::CipherKind::kAes256Cbc, key.data(), iv.data(), false);
  int n1 = 0, n2 = 0;
  const bool ok =
      session.ok() &&
      EVP_DecryptUpdate(session.ctx(), out.data(), &n1, ciphertext.data(), in_len) == 1 &&
      EVP_DecryptFinal_ex(session.ctx(), out.data() + n1, &n2) == 1;
  if (!ok) {
    return ErrorCode::kAuthenticationFailed;  // bad padding; `out` is wiped on return
  }
  out.Shrink(static_cast<size_t>(n1 + n2));
  return out;
}

Result<void> Aes256Ctr(ByteSpan key, ByteSpan iv, ByteSpan in, MutableByteSpan out) {
  HF_RETURN_IF_ERROR(CheckKeyIv(key, iv));
  if (out.size() != in.size()) {
    return Error{ErrorCode::kInvalidArgument, "ctr output length"};
  }
  HF_ASSIGN_OR_RETURN(const int in_len, IntLength(in.size()));
  internal::CipherSession session(internal::CipherKind::kAes256Ctr, key.data(), iv.data(), true);
  int n1 = 0, n2 = 0;
  const bool ok = session.ok() &&
                  EVP_EncryptUpdate(session.ctx(), out.data(), &n1, in.data(), in_len) == 1 &&
                  EVP_EncryptFinal_ex(session.ctx(), out.data() + n1, &n2) == 1 &&
                  static_cast<size_t>(n1 + n2) == in.size();
  if (!ok) {
    return Error{ErrorCode::kCryptoFailure, "aes-ctr"};
  }
  return Ok();
}

}  // namespace holdfast::crypto
