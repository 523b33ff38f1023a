// SHA-256, SHA-512, HMAC-SHA256 and HKDF-SHA256 (OpenSSL 3).
#ifndef HOLDFAST_CRYPTO_HASH_H_
#define HOLDFAST_CRYPTO_HASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;  // NOLINT: OpenSSL's own forward declaration

namespace holdfast::crypto {

inline constexpr size_t kSha256Bytes = 32;
inline constexpr size_t kSha512Bytes = 64;
inline constexpr size_t kHmacSha256Bytes = 32;
// kHkdfSha256MaxOutputBytes is RFC 5869's limit of 255 hash lengths.
inline constexpr size_t kHkdfSha256MaxOutputBytes = 255 * kSha256Bytes;

using Sha256Digest = std::array<uint8_t, kSha256Bytes>;
using Sha512Digest = std::array<uint8_t, kSha512Bytes>;

// Sha256 and Sha512 hash `data` in one call, on a digest context reused per thread.
Sha256Digest Sha256(ByteSpan data);
// Sha256 of the concatenation of `parts`, without copying them together.
Sha256Digest Sha256(std::initializer_list<ByteSpan> parts);
Sha512Digest Sha512(ByteSpan data);

// Hasher computes a digest over several pieces. Finish may be called once; afterwards the
// hasher is reset and can be reused. Not thread-safe.
template <size_t DigestBytes>
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  Hasher& Update(ByteSpan data);
  std::array<uint8_t, DigestBytes> Finish();

 private:
  EVP_MD_CTX* ctx_;
};

using Sha256Hasher = Hasher<kSha256Bytes>;
using Sha512Hasher = Hasher<kSha512Bytes>;

// HmacSha256Key is an HMAC-SHA256 key made ready for use (RFC 2104): it holds the SHA-256
// states after the key's inner and outer pads, so that each MAC under the key costs only the
// message's blocks and one more. Those states are as secret as the key: they live only in
// this object and are wiped when it is destroyed. Use one when a key makes several MACs (a
// ratchet chain step, an HKDF expand). Not copyable; const methods are thread-safe.
class HmacSha256Key {
 public:
  // kStateBytes holds one SHA-256 state (OpenSSL's SHA256_CTX; checked in hmac.cc).
  static constexpr size_t kStateBytes = 112;

  explicit HmacSha256Key(ByteSpan key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // Mac returns HMAC-SHA256(key, parts[0] || parts[1] || ...), without joining the parts.
  Secret<kHmacSha256Bytes> Mac(std::initializer_list<ByteSpan> parts) const;
  // MacInto writes the same 32 bytes to `out`.
  void MacInto(std::initializer_list<ByteSpan> parts, uint8_t* out) const;
  // Verify compares `tag` with the MAC's first tag.size() bytes in constant time, as
  // VerifyHmacSha256 below.
  Result<void> Verify(std::initializer_list<ByteSpan> parts, ByteSpan tag) const;

 private:
  alignas(8) std::array<uint8_t, kStateBytes> inner_;
  alignas(8) std::array<uint8_t, kStateBytes> outer_;
};

// HmacSha256 returns HMAC-SHA256(key, data). The output is kept in a Secret because the
// ratchet uses it as key material.
Secret<kHmacSha256Bytes> HmacSha256(ByteSpan key, ByteSpan data);

// VerifyHmacSha256 checks `tag` against HMAC-SHA256(key, data) in constant time. A tag
// shorter than 32 bytes is compared with the output's prefix (truncated MACs, as Signal's
// 8-byte message MAC); an empty or over-long tag never verifies.
Result<void> VerifyHmacSha256(ByteSpan key, ByteSpan data, ByteSpan tag);

// HkdfSha256 fills `out` with HKDF-SHA256(ikm, salt, info) (RFC 5869). An empty salt means
// a salt of 32 zero bytes. `out` may be 1..kHkdfSha256MaxOutputBytes long; other lengths are
// kInvalidArgument.
Result<void> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, MutableByteSpan out);
// HkdfSha256Extract is RFC 5869's extract step alone: PRK = HMAC-SHA256(salt, ikm).
Secret<kSha256Bytes> HkdfSha256Extract(ByteSpan salt, ByteSpan ikm);
// HkdfSha256Expand is RFC 5869's expand step alone. `prk` must be at least 32 bytes.
Result<void> HkdfSha256Expand(ByteSpan prk, ByteSpan info, MutableByteSpan out);
// HkdfSha384Expand is the same with SHA-384 (TLS_AES_256_GCM_SHA384's key schedule). `prk`
// must be at least 48 bytes and `out` at most 255 × 48 bytes.
Result<void> HkdfSha384Expand(ByteSpan prk, ByteSpan info, MutableByteSpan out);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_HASH_H_
