// RawSealAes128: a TLS 1.3 record sealer written out with OpenSSL, independent of
// TlsRecordLayer, for tests and the fuzz target: it seals any TLSInnerPlaintext, including
// ones TlsRecordLayer would never produce.
#ifndef HOLDFAST_SERVER_SRC_TLS_TEST_UTIL_H_
#define HOLDFAST_SERVER_SRC_TLS_TEST_UTIL_H_

#include <openssl/evp.h>

#include <cstdlib>
#include <vector>

#include "tls_record.h"

namespace holdfast::server::tls {

// RawSealAes128 protects `inner` (content, type and padding) as record number `seq` of the
// direction whose traffic secret is `secret` (32 bytes), under TLS_AES_128_GCM_SHA256.
// Aborts if OpenSSL fails.
inline std::vector<uint8_t> RawSealAes128(ByteSpan secret, uint64_t seq, ByteSpan inner) {
  uint8_t key[16];
  uint8_t iv[kIvBytes];
  if (!HkdfExpandLabel(32, secret, "key", key) || !HkdfExpandLabel(32, secret, "iv", iv)) {
    std::abort();
  }
  for (size_t i = 0; i < 8; ++i) {
    iv[kIvBytes - 1 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
  }
  const size_t length = inner.size() + kTagBytes;
  std::vector<uint8_t> out(kHeaderBytes + length);
  out[0] = 0x17;
  out[1] = 0x03;
  out[2] = 0x03;
  out[3] = static_cast<uint8_t>(length >> 8);
  out[4] = static_cast<uint8_t>(length);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  int m = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, key, iv) != 1 ||
      EVP_EncryptUpdate(ctx, nullptr, &n, out.data(), kHeaderBytes) != 1 ||
      EVP_EncryptUpdate(ctx, out.data() + kHeaderBytes, &n, inner.data(),
                        static_cast<int>(inner.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, out.data() + kHeaderBytes + n, &m) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagBytes,
                          out.data() + kHeaderBytes + inner.size()) != 1) {
    std::abort();
  }
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

}  // namespace holdfast::server::tls

#endif  // HOLDFAST_SERVER_SRC_TLS_TEST_UTIL_H_
