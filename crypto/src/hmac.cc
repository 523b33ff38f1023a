// HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869) on OpenSSL's SHA-256.
//
// HMAC is keyed once: the SHA-256 states after absorbing the key's inner and outer pads are
// kept (HmacSha256Key), and each MAC copies them, so a short message costs two compression
// calls instead of four. The ratchet derives about a dozen MACs per message, each under a new
// key, and OpenSSL's EVP_MAC spends most of a short MAC re-keying its context (bench/: 945 ns
// against 175 ns for a precomputed 32-byte MAC on the 2-core CI VM). OpenSSL 3 offers no
// non-deprecated way to copy a digest state without a heap allocation per copy, so this file
// uses the SHA256_CTX functions, which OpenSSL 3 still ships and which run the same
// assembly (SHA-NI where present) as EVP. hmac_test.cc checks the results against RFC 4231
// and RFC 5869 and against EVP_MAC on random keys and messages of every length class.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_CTX: see above. Must precede OpenSSL's headers.

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "holdfast/crypto/hash.h"

namespace holdfast::crypto {
namespace {

static_assert(sizeof(SHA256_CTX) <= HmacSha256Key::kStateBytes, "state buffer too small");
static_assert(alignof(SHA256_CTX) <= alignof(uint64_t), "state buffer under-aligned");
static_assert(SHA256_CBLOCK == 64 && SHA256_DIGEST_LENGTH == kSha256Bytes);

constexpr uint8_t kInnerPad = 0x36;
constexpr uint8_t kOuterPad = 0x5c;

// Ctx is a SHA256_CTX on the stack that is wiped when it goes out of scope.
struct Ctx {
  SHA256_CTX c;
  Ctx() = default;
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  ~Ctx() { OPENSSL_cleanse(&c, sizeof(c)); }

  void Load(const uint8_t* state) { std::memcpy(&c, state, sizeof(c)); }
  void Store(uint8_t* state) const { std::memcpy(state, &c, sizeof(c)); }
  void Update(ByteSpan data) {
    if (!data.empty()) {
      SHA256_Update(&c, data.data(), data.size());
    }
  }
};

// PadStates writes the SHA-256 states after absorbing (key ^ ipad) and (key ^ opad), where
// `block_key` is at most one block and zero-padded to one.
void PadStates(ByteSpan block_key, uint8_t* inner, uint8_t* outer) {
  constexpr size_t kWords = SHA256_CBLOCK / sizeof(uint64_t);
  constexpr uint64_t kInnerWord = 0x0101010101010101ULL * kInnerPad;
  constexpr uint64_t kOuterWord = 0x0101010101010101ULL * kOuterPad;
  uint64_t key[kWords] = {};
  if (!block_key.empty()) {
    std::memcpy(key, block_key.data(), block_key.size());
  }
  uint64_t block[kWords];
  Ctx ctx;
  for (size_t i = 0; i < kWords; ++i) {
    block[i] = key[i] ^ kInnerWord;
  }
  SHA256_Init(&ctx.c);
  SHA256_Update(&ctx.c, block, sizeof(block));
  ctx.Store(inner);
  for (size_t i = 0; i < kWords; ++i) {
    block[i] = key[i] ^ kOuterWord;
  }
  SHA256_Init(&ctx.c);
  SHA256_Update(&ctx.c, block, sizeof(block));
  ctx.Store(outer);
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(block, sizeof(block));
}

// The zero key, as HKDF's absent salt (RFC 5869: HashLen zero bytes, which as an HMAC key
// equals the empty key). It is public, so one instance serves every thread.
const HmacSha256Key& ZeroKey() {
  static const HmacSha256Key key{ByteSpan()};
  return key;
}

}  // namespace

HmacSha256Key::HmacSha256Key(ByteSpan key) {
  // RFC 2104: a key longer than the block is replaced by its hash.
  Secret<kSha256Bytes> hashed;
  if (key.size() > SHA256_CBLOCK) {
    Ctx ctx;
    SHA256_Init(&ctx.c);
    ctx.Update(key);
    SHA256_Final(hashed.data(), &ctx.c);
    key = hashed.span();
  }
  PadStates(key, inner_.data(), outer_.data());
}

HmacSha256Key::~HmacSha256Key() {
  OPENSSL_cleanse(inner_.data(), inner_.size());
  OPENSSL_cleanse(outer_.data(), outer_.size());
}

void HmacSha256Key::MacInto(std::initializer_list<ByteSpan> parts, uint8_t* out) const {
  Secret<kSha256Bytes> inner_hash;
  {
    Ctx ctx;
    ctx.Load(inner_.data());
    for (ByteSpan part : parts) {
      ctx.Update(part);
    }
    SHA256_Final(inner_hash.data(), &ctx.c);
  }
  Ctx ctx;
  ctx.Load(outer_.data());
  ctx.Update(inner_hash.span());
  SHA256_Final(out, &ctx.c);
}

Secret<kHmacSha256Bytes> HmacSha256Key::Mac(std::initializer_list<ByteSpan> parts) const {
  Secret<kHmacSha256Bytes> out;
  MacInto(parts, out.data());
  return out;
}

Result<void> HmacSha256Key::Verify(std::initializer_list<ByteSpan> parts, ByteSpan tag) const {
  if (tag.empty() || tag.size() > kHmacSha256Bytes) {
    return ErrorCode::kAuthenticationFailed;
  }
  const auto mac = Mac(parts);
  if (!ConstantTimeEquals(mac.span().first(tag.size()), tag)) {
    return ErrorCode::kAuthenticationFailed;
  }
  return Ok();
}

Secret<kHmacSha256Bytes> HmacSha256(ByteSpan key, ByteSpan data) {
  return HmacSha256Key(key).Mac({data});
}

Result<void> VerifyHmacSha256(ByteSpan key, ByteSpan data, ByteSpan tag) {
  return HmacSha256Key(key).Verify({data}, tag);
}

namespace {

void Expand(const HmacSha256Key& prk, ByteSpan info, MutableByteSpan out) {
  // T(i) = HMAC(PRK, T(i-1) || info || i), output = T(1) || T(2) || ...
  Secret<kSha256Bytes> block;
  size_t done = 0;
  for (uint8_t i = 1; done < out.size(); ++i) {
    const ByteSpan previous = i == 1 ? ByteSpan() : block.span();
    prk.MacInto({previous, info, ByteSpan(&i, 1)}, block.data());
    const size_t n = std::min(kSha256Bytes, out.size() - done);
    std::copy_n(block.data(), n, out.data() + done);
    done += n;
  }
}

bool ValidOutputLength(MutableByteSpan out) {
  return !out.empty() && out.size() <= kHkdfSha256MaxOutputBytes;
}

}  // namespace

Secret<kSha256Bytes> HkdfSha256Extract(ByteSpan salt, ByteSpan ikm) {
  return salt.empty() ? ZeroKey().Mac({ikm}) : HmacSha256(salt, ikm);
}

Result<void> HkdfSha256Expand(ByteSpan prk, ByteSpan info, MutableByteSpan out) {
  if (prk.size() < kSha256Bytes) {
    return Error{ErrorCode::kInvalidArgument, "prk length"};
  }
  if (!ValidOutputLength(out)) {
    return Error{ErrorCode::kInvalidArgument, "hkdf output length"};
  }
  Expand(HmacSha256Key(prk), info, out);
  return Ok();
}

Result<void> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, MutableByteSpan out) {
  if (!ValidOutputLength(out)) {
    return Error{ErrorCode::kInvalidArgument, "hkdf output length"};
  }
  const Secret<kSha256Bytes> prk = HkdfSha256Extract(salt, ikm);
  Expand(HmacSha256Key(prk.span()), info, out);
  return Ok();
}

}  // namespace holdfast::crypto
