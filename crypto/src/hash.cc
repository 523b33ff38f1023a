#include "holdfast/crypto/hash.h"

#include <openssl/evp.h>

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

}  // namespace holdfast::crypto
