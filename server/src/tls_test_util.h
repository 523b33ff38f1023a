// RawSealAes128: a TLS 1.3 record sealer written apart from TlsRecordLayer (its own nonce,
// header and key derivation), for tests and the fuzz target: it seals any TLSInnerPlaintext,
// including ones TlsRecordLayer would never produce.
#ifndef HOLDFAST_SERVER_SRC_TLS_TEST_UTIL_H_
#define HOLDFAST_SERVER_SRC_TLS_TEST_UTIL_H_

#include <cstdlib>
#include <vector>

#include "holdfast/crypto/aead.h"
#include "holdfast/server/tls_record.h"

namespace holdfast::server::tls {

// RawSealAes128 protects `inner` (content, type and padding) as record number `seq` of the
// direction whose traffic secret is `secret` (32 bytes), under TLS_AES_128_GCM_SHA256.
// Aborts if the cipher fails.
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
  std::copy(inner.begin(), inner.end(), out.begin() + kHeaderBytes);
  if (!crypto::SealRecordInPlace(crypto::RecordCipher::kAes128Gcm, key, iv,
                                 ByteSpan(out.data(), kHeaderBytes),
                                 MutableByteSpan(out.data() + kHeaderBytes, inner.size()),
                                 MutableByteSpan(out.data() + kHeaderBytes + inner.size(),
                                                 kTagBytes))
           .ok()) {
    std::abort();
  }
  return out;
}

}  // namespace holdfast::server::tls

#endif  // HOLDFAST_SERVER_SRC_TLS_TEST_UTIL_H_
