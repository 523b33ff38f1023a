// Record ciphers (aead.h) and HKDF-Expand with SHA-384 (hash.h), on OpenSSL's EVP.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <array>

#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::crypto {

namespace {

constexpr size_t kTagBytes = 16;

const EVP_CIPHER* Cipher(RecordCipher c) {
  switch (c) {
    case RecordCipher::kAes128Gcm:
      return EVP_aes_128_gcm();
    case RecordCipher::kAes256Gcm:
      return EVP_aes_256_gcm();
    case RecordCipher::kChaCha20Poly1305:
      return EVP_chacha20_poly1305();
  }
  return nullptr;
}

// ThreadContexts keeps one context per cipher and direction for this thread.
struct ThreadContexts {
  std::array<std::array<EVP_CIPHER_CTX*, 2>, 3> ctx{};
  ~ThreadContexts() {
    for (auto& row : ctx) {
      for (EVP_CIPHER_CTX* c : row) {
        EVP_CIPHER_CTX_free(c);
      }
    }
  }
};

EVP_CIPHER_CTX* Context(RecordCipher cipher, bool encrypt) {
  thread_local ThreadContexts contexts;
  EVP_CIPHER_CTX*& c = contexts.ctx[static_cast<size_t>(cipher)][encrypt ? 1 : 0];
  if (c == nullptr) {
    EVP_CIPHER_CTX* fresh = EVP_CIPHER_CTX_new();
    if (fresh == nullptr ||
        EVP_CipherInit_ex(fresh, Cipher(cipher), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1) {
      EVP_CIPHER_CTX_free(fresh);
      return nullptr;
    }
    c = fresh;
  }
  return c;
}

bool SizesOk(RecordCipher cipher, ByteSpan key, ByteSpan nonce, size_t tag, size_t data) {
  return key.size() == RecordCipherKeyBytes(cipher) && nonce.size() == kRecordNonceBytes &&
         tag == kTagBytes && data <= static_cast<size_t>(INT32_MAX) &&
         static_cast<size_t>(static_cast<int>(data)) == data;
}

}  // namespace

size_t RecordCipherKeyBytes(RecordCipher cipher) {
  return cipher == RecordCipher::kAes128Gcm ? 16 : 32;
}

Result<void> SealRecordInPlace(RecordCipher cipher, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                               MutableByteSpan data, MutableByteSpan tag) {
  if (!SizesOk(cipher, key, nonce, tag.size(), data.size()) || aad.size() > INT32_MAX) {
    return Error{ErrorCode::kInvalidArgument, "record cipher sizes"};
  }
  EVP_CIPHER_CTX* ctx = Context(cipher, true);
  int n = 0;
  int final_n = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx, data.data(), &n, data.data(), static_cast<int>(data.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, data.data() + n, &final_n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagBytes, tag.data()) != 1) {
    return Error{ErrorCode::kCryptoFailure, "record seal"};
  }
  return Ok();
}

Result<void> OpenRecordInPlace(RecordCipher cipher, ByteSpan key, ByteSpan nonce, ByteSpan aad,
                               MutableByteSpan data, ByteSpan tag) {
  if (!SizesOk(cipher, key, nonce, tag.size(), data.size()) || aad.size() > INT32_MAX) {
    return Error{ErrorCode::kInvalidArgument, "record cipher sizes"};
  }
  EVP_CIPHER_CTX* ctx = Context(cipher, false);
  if (ctx == nullptr) {
    return Error{ErrorCode::kCryptoFailure, "record cipher context"};
  }
  std::array<uint8_t, kTagBytes> expected;
  std::copy(tag.begin(), tag.end(), expected.begin());
  int n = 0;
  int final_n = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      EVP_DecryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx, data.data(), &n, data.data(), static_cast<int>(data.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagBytes, expected.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx, data.data() + n, &final_n) != 1) {
    return Error{ErrorCode::kAuthenticationFailed, "record"};
  }
  return Ok();
}

Result<void> HkdfSha384Expand(ByteSpan prk, ByteSpan info, MutableByteSpan out) {
  if (prk.size() < 48 || out.empty() || out.size() > 255 * 48) {
    return Error{ErrorCode::kInvalidArgument, "HKDF-SHA384 sizes"};
  }
  // Fetched once per thread: a fetch takes the provider store's lock.
  struct ThreadKdf {
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
    ~ThreadKdf() { EVP_KDF_free(kdf); }
  };
  thread_local ThreadKdf hkdf;
  EVP_KDF_CTX* ctx = hkdf.kdf == nullptr ? nullptr : EVP_KDF_CTX_new(hkdf.kdf);
  if (ctx == nullptr) {
    return Error{ErrorCode::kCryptoFailure, "HKDF context"};
  }
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  char digest[] = "SHA384";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(prk.data()),
                                        prk.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end(),
  };
  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) {
    return Error{ErrorCode::kCryptoFailure, "HKDF-SHA384"};
  }
  return Ok();
}

}  // namespace holdfast::crypto
