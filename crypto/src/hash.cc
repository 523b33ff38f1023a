#include "holdfast/crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <initializer_list>
#include <memory>

#include "internal.h"

namespace holdfast::crypto {
namespace {

using internal::FatalLibraryError;

template <size_t N>
std::array<uint8_t, N> DigestOneShot(const EVP_MD* md, std::initializer_list<ByteSpan> parts) {
  std::array<uint8_t, N> out;
  EVP_MD_CTX* ctx = internal::ThreadMdCtx();
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex2(ctx, md, nullptr) == 1;
  for (ByteSpan part : parts) {
    ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  }
  if (!ok || EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != N) {
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

// MacInto computes HMAC-SHA256(key, pieces...) into `out` on this thread's context. With
// `wipe`, the key copy OpenSSL keeps in the context is then replaced; callers making several
// MACs in a row (HKDF) wipe after the last one only.
void MacInto(ByteSpan key, std::initializer_list<ByteSpan> pieces, uint8_t* out, bool wipe = true) {
  EVP_MAC_CTX* ctx = ThreadHmacSha256();
  size_t len = 0;
  bool ok = EVP_MAC_init(ctx, NonNull(key), key.size(), nullptr) == 1;
  for (ByteSpan piece : pieces) {
    ok = ok && EVP_MAC_update(ctx, piece.data(), piece.size()) == 1;
  }
  if (!ok || EVP_MAC_final(ctx, out, &len, kHmacSha256Bytes) != 1 || len != kHmacSha256Bytes) {
    FatalLibraryError("hmac");
  }
  // OpenSSL keeps a copy of the key in the context for re-initialisation; replace it so
  // that no key outlives the call in the cached context.
  static constexpr uint8_t kZeroKey[1] = {};
  if (wipe && EVP_MAC_init(ctx, kZeroKey, sizeof(kZeroKey), nullptr) != 1) {
    FatalLibraryError("hmac key wipe");
  }
}

}  // namespace

Sha256Digest Sha256(ByteSpan data) {
  return DigestOneShot<kSha256Bytes>(internal::Sha256Md(), {data});
}

Sha256Digest Sha256(std::initializer_list<ByteSpan> parts) {
  return DigestOneShot<kSha256Bytes>(internal::Sha256Md(), parts);
}

Sha512Digest Sha512(ByteSpan data) {
  return DigestOneShot<kSha512Bytes>(internal::Sha512Md(), {data});
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
  MacInto(key, {data}, out.data());
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

// HKDF is RFC 5869 on top of HmacSha256, which reuses one HMAC context per thread. OpenSSL's
// EVP_KDF("HKDF") computes the same bytes but costs about 1.5x as much per call, which
// matters on the ratchet's per-message key derivation (see bench/).

namespace {

Secret<kSha256Bytes> ExtractKeepingContext(ByteSpan salt, ByteSpan ikm) {
  Secret<kSha256Bytes> prk;
  // The expand step that follows installs the PRK over the salt and wipes at its end.
  MacInto(salt, {ikm}, prk.data(), /*wipe=*/false);
  return prk;
}

}  // namespace

Result<void> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, MutableByteSpan out) {
  // Refuse a bad length before extracting: the extract leaves its key in the cached context
  // for the expand to replace and wipe.
  if (out.empty() || out.size() > kHkdfSha256MaxOutputBytes) {
    return Error{ErrorCode::kInvalidArgument, "hkdf output length"};
  }
  const Secret<kSha256Bytes> prk = ExtractKeepingContext(salt, ikm);
  return HkdfSha256Expand(prk.span(), info, out);
}

Secret<kSha256Bytes> HkdfSha256Extract(ByteSpan salt, ByteSpan ikm) {
  // RFC 5869: an absent salt is HashLen zero bytes, which as an HMAC key equals the empty key.
  return HmacSha256(salt, ikm);
}

Result<void> HkdfSha256Expand(ByteSpan prk, ByteSpan info, MutableByteSpan out) {
  if (prk.size() < kSha256Bytes) {
    return Error{ErrorCode::kInvalidArgument, "prk length"};
  }
  if (out.empty() || out.size() > kHkdfSha256MaxOutputBytes) {
    return Error{ErrorCode::kInvalidArgument, "hkdf output length"};
  }
  // T(i) = HMAC(PRK, T(i-1) || info || i), output = T(1) || T(2) || ...
  Secret<kSha256Bytes> block;
  size_t done = 0;
  for (uint8_t i = 1; done < out.size(); ++i) {
    const ByteSpan previous = i == 1 ? ByteSpan() : block.span();
    const size_t n = std::min(kSha256Bytes, out.size() - done);
    MacInto(prk, {previous, info, ByteSpan(&i, 1)}, block.data(), /*wipe=*/done + n == out.size());
    std::copy(block.data(), block.data() + n, out.data() + done);
    done += n;
  }
  return Ok();
}

}  // namespace holdfast::crypto
