#include "holdfast/crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "internal.h"

namespace holdfast::crypto {
namespace {

using internal::FatalLibraryError;

template <size_t N>
std::array<uint8_t, N> DigestOneShot(const EVP_MD* md, ByteSpan data) {
  std::array<uint8_t, N> out;
  EVP_MD_CTX* ctx = internal::ThreadMdCtx();
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != N) {
    FatalLibraryError("digest");
  }
  return out;
}

// HMAC contexts are per thread: the HMAC algorithm and digest are set once, and each call
// only installs its key.
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

EVP_MAC_CTX* ThreadHmacSha256() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) {
      FatalLibraryError("HMAC fetch");
    }
    return m;
  }();
  thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx = [] {
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
    char digest[] = "SHA2-256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    if (c == nullptr || EVP_MAC_CTX_set_params(c, params) != 1) {
      FatalLibraryError("HMAC ctx");
    }
    return std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>(c);
  }();
  return ctx.get();
}

// HMAC keys may be empty (HKDF with an empty salt); OpenSSL needs a non-null pointer.
const uint8_t* NonNull(ByteSpan s) {
  static const uint8_t kEmpty = 0;
  return s.empty() ? &kEmpty : s.data();
}

struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

EVP_KDF_CTX* ThreadHkdf() {
  static EVP_KDF* kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (k == nullptr) {
      FatalLibraryError("HKDF fetch");
    }
    return k;
  }();
  thread_local std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf));
  if (!ctx) {
    FatalLibraryError("HKDF ctx");
  }
  EVP_KDF_CTX_reset(ctx.get());
  return ctx.get();
}

Result<void> RunHkdf(int mode, ByteSpan key, ByteSpan salt, ByteSpan info, MutableByteSpan out) {
  if (out.empty() || out.size() > kHkdfSha256MaxOutputBytes) {
    return Error{ErrorCode::kInvalidArgument, "hkdf output length"};
  }
  char digest[] = "SHA2-256";
  OSSL_PARAM params[6];
  OSSL_PARAM* p = params;
  *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(NonNull(key)),
                                           key.size());
  if (!salt.empty()) {
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                             salt.size());
  }
  if (!info.empty()) {
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()),
                                             info.size());
  }
  *p = OSSL_PARAM_construct_end();
  EVP_KDF_CTX* ctx = ThreadHkdf();
  if (EVP_KDF_derive(ctx, out.data(), out.size(), params) != 1) {
    SecureWipe(out);
    return Error{ErrorCode::kCryptoFailure, "hkdf"};
  }
  EVP_KDF_CTX_reset(ctx);  // drop the key material OpenSSL copied
  return Ok();
}

}  // namespace

Sha256Digest Sha256(ByteSpan data) {
  return DigestOneShot<kSha256Bytes>(internal::Sha256Md(), data);
}

Sha512Digest Sha512(ByteSpan data) {
  return DigestOneShot<kSha512Bytes>(internal::Sha512Md(), data);
}

template <size_t DigestBytes>
Hasher<DigestBytes>::Hasher() : ctx_(EVP_MD_CTX_new()) {
  const EVP_MD* md = DigestBytes == kSha256Bytes ? internal::Sha256Md() : internal::Sha512Md();
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_, md, nullptr) != 1) {
    FatalLibraryError("hasher");
  }
}

template <size_t DigestBytes>
Hasher<DigestBytes>::~Hasher() {
  EVP_MD_CTX_free(ctx_);
}

template <size_t DigestBytes>
Hasher<DigestBytes>& Hasher<DigestBytes>::Update(ByteSpan data) {
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) {
    FatalLibraryError("hasher update");
  }
  return *this;
}

template <size_t DigestBytes>
std::array<uint8_t, DigestBytes> Hasher<DigestBytes>::Finish() {
  std::array<uint8_t, DigestBytes> out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != DigestBytes ||
      EVP_DigestInit_ex2(ctx_, nullptr, nullptr) != 1) {
    FatalLibraryError("hasher final");
  }
  return out;
}

template class Hasher<kSha256Bytes>;
template class Hasher<kSha512Bytes>;

Secret<kHmacSha256Bytes> HmacSha256(ByteSpan key, ByteSpan data) {
  Secret<kHmacSha256Bytes> out;
  EVP_MAC_CTX* ctx = ThreadHmacSha256();
  size_t len = 0;
  if (EVP_MAC_init(ctx, NonNull(key), key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != kHmacSha256Bytes) {
    FatalLibraryError("hmac");
  }
  return out;
}

Result<void> VerifyHmacSha256(ByteSpan key, ByteSpan data, ByteSpan tag) {
  if (tag.empty() || tag.size() > kHmacSha256Bytes) {
    return ErrorCode::kAuthenticationFailed;
  }
  const auto mac = HmacSha256(key, data);
  if (!ConstantTimeEquals(mac.span().first(tag.size()), tag)) {
    return ErrorCode::kAuthenticationFailed;
  }
  return Ok();
}

Result<void> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, MutableByteSpan out) {
  return RunHkdf(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, salt, info, out);
}

Secret<kSha256Bytes> HkdfSha256Extract(ByteSpan salt, ByteSpan ikm) {
  // RFC 5869: an absent salt is HashLen zero bytes, which as an HMAC key equals the empty key.
  return HmacSha256(salt, ikm);
}

Result<void> HkdfSha256Expand(ByteSpan prk, ByteSpan info, MutableByteSpan out) {
  if (prk.size() < kSha256Bytes) {
    return Error{ErrorCode::kInvalidArgument, "prk length"};
  }
  return RunHkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, {}, info, out);
}

}  // namespace holdfast::crypto
