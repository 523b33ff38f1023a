#include "internal.h"

#include <sodium/core.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

namespace holdfast::crypto::internal {
namespace {

template <typename T>
T* FetchOrDie(T* fetched, const char* name) {
  if (fetched == nullptr) {
    FatalLibraryError(name);
  }
  return fetched;
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

void FatalLibraryError(const char* what) {
  std::fprintf(stderr, "holdfast: crypto library failure: %s\n", what);
  std::abort();
}

void EnsureSodium() {
  static const bool kReady = [] {
    if (sodium_init() < 0) {
      FatalLibraryError("sodium_init");
    }
    return true;
  }();
  (void)kReady;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* md = FetchOrDie(EVP_MD_fetch(nullptr, "SHA2-256", nullptr), "SHA2-256");
  return md;
}

const EVP_MD* Sha512Md() {
  static const EVP_MD* md = FetchOrDie(EVP_MD_fetch(nullptr, "SHA2-512", nullptr), "SHA2-512");
  return md;
}

namespace {

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

CipherCtxPtr NewCipherCtx(const char* name) {
  static EVP_CIPHER* cbc = FetchOrDie(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr), "cbc");
  static EVP_CIPHER* ctr = FetchOrDie(EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr), "ctr");
  static EVP_CIPHER* gcm = FetchOrDie(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), "gcm");
  const std::string_view n(name);
  EVP_CIPHER* cipher = n == "cbc" ? cbc : n == "ctr" ? ctr : gcm;
  CipherCtxPtr ctx(FetchOrDie(EVP_CIPHER_CTX_new(), "EVP_CIPHER_CTX_new"));
  if (EVP_CipherInit_ex2(ctx.get(), cipher, nullptr, nullptr, 1, nullptr) != 1) {
    FatalLibraryError(name);
  }
  return ctx;
}

EVP_CIPHER_CTX* ThreadCipherCtx(CipherKind kind) {
  switch (kind) {
    case CipherKind::kAes256Cbc: {
      thread_local CipherCtxPtr ctx = NewCipherCtx("cbc");
      return ctx.get();
    }
    case CipherKind::kAes256Ctr: {
      thread_local CipherCtxPtr ctx = NewCipherCtx("ctr");
      return ctx.get();
    }
    case CipherKind::kAes256Gcm: {
      thread_local CipherCtxPtr ctx = NewCipherCtx("gcm");
      return ctx.get();
    }
  }
  FatalLibraryError("cipher kind");
}

constexpr uint8_t kZeroKey[32] = {};

}  // namespace

CipherSession::CipherSession(CipherKind kind, const uint8_t* key, const uint8_t* iv, bool encrypt)
    : ctx_(ThreadCipherCtx(kind)) {
  // A null cipher keeps the context's algorithm and reuses its provider state.
  ok_ = EVP_CipherInit_ex2(ctx_, nullptr, key, iv, encrypt ? 1 : 0, nullptr) == 1;
  if (ok_ && kind == CipherKind::kAes256Cbc) {
    // PKCS#7 padding is on by default but a previous session may not have left it so.
    ok_ = EVP_CIPHER_CTX_set_padding(ctx_, 1) == 1;
  }
}

CipherSession::~CipherSession() {
  if (EVP_CipherInit_ex2(ctx_, nullptr, kZeroKey, nullptr, 1, nullptr) != 1) {
    FatalLibraryError("cipher key wipe");
  }
}

EVP_MD_CTX* ThreadMdCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(
      FetchOrDie(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  return ctx.get();
}

}  // namespace holdfast::crypto::internal
