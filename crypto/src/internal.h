// Shared internals of the crypto module: library initialisation and cached OpenSSL objects.
#ifndef HOLDFAST_CRYPTO_SRC_INTERNAL_H_
#define HOLDFAST_CRYPTO_SRC_INTERNAL_H_

#include <openssl/evp.h>

namespace holdfast::crypto::internal {

// EnsureSodium runs sodium_init() once per process. It aborts if libsodium cannot start
// (no entropy source): continuing would risk predictable keys.
void EnsureSodium();

// Algorithm objects fetched once per process from the default OpenSSL provider, so that no
// call pays for a name lookup. Never null: a failed fetch aborts at first use.
const EVP_MD* Sha256Md();
const EVP_MD* Sha512Md();

enum class CipherKind { kAes256Cbc, kAes256Ctr, kAes256Gcm };

// CipherSession borrows this thread's context for one cipher and installs a key and IV.
// Contexts are made once per thread and cipher and reused, because a fresh context per call
// costs more than the cipher on short messages. When the session ends it overwrites the key
// schedule with an all-zero key, so no key outlives the call in the cached context.
class CipherSession {
 public:
  // `encrypt` selects the direction. Check ok() before use.
  CipherSession(CipherKind kind, const uint8_t* key, const uint8_t* iv, bool encrypt);
  ~CipherSession();
  CipherSession(const CipherSession&) = delete;
  CipherSession& operator=(const CipherSession&) = delete;

  bool ok() const { return ok_; }
  EVP_CIPHER_CTX* ctx() const { return ctx_; }

 private:
  EVP_CIPHER_CTX* ctx_;
  bool ok_;
};
// ThreadMdCtx returns this thread's reusable digest context.
EVP_MD_CTX* ThreadMdCtx();

[[noreturn]] void FatalLibraryError(const char* what);

}  // namespace holdfast::crypto::internal

#endif  // HOLDFAST_CRYPTO_SRC_INTERNAL_H_
