// SHA-256, SHA-512, a Merkle node hash, HMAC-SHA256 and HKDF-SHA256: Holdfast (OpenSSL 3
// EVP underneath) against libsodium and libsignal-protocol-c.
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <signal/hkdf.h>
#include <signal/signal_protocol.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>

#include "bench_util.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::bench {
namespace {

// --- SHA-256 / SHA-512 -------------------------------------------------------------------

template <size_t N>
std::array<uint8_t, N> HoldfastDigest(ByteSpan data) {
  if constexpr (N == crypto::kSha256Bytes) {
    return crypto::Sha256(data);
  } else {
    return crypto::Sha512(data);
  }
}

template <size_t N>
std::array<uint8_t, N> SodiumDigest(ByteSpan data) {
  std::array<uint8_t, N> out{};
  if constexpr (N == crypto::kSha256Bytes) {
    crypto_hash_sha256(out.data(), data.data(), data.size());
  } else {
    crypto_hash_sha512(out.data(), data.data(), data.size());
  }
  return out;
}

template <size_t N>
void ShaHoldfast(benchmark::State& state) {
  const Bytes data = TestBytes(Size(state), 1);
  for (auto _ : state) {
    auto digest = HoldfastDigest<N>(data);
    benchmark::DoNotOptimize(digest);
  }
  SetBytes(state);
}

template <size_t N>
void ShaLibsodium(benchmark::State& state) {
  const Bytes data = TestBytes(Size(state), 1);
  if (SodiumDigest<N>(data) != HoldfastDigest<N>(data)) {
    state.SkipWithError("libsodium digest differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    auto digest = SodiumDigest<N>(data);
    benchmark::DoNotOptimize(digest);
  }
  SetBytes(state);
}

HF_BENCH("BM_Sha256/holdfast", ShaHoldfast<crypto::kSha256Bytes>)->Apply(MessageSizes);
HF_BENCH("BM_Sha256/libsodium", ShaLibsodium<crypto::kSha256Bytes>)->Apply(MessageSizes);
HF_BENCH("BM_Sha512/holdfast", ShaHoldfast<crypto::kSha512Bytes>)->Apply(MessageSizes);
HF_BENCH("BM_Sha512/libsodium", ShaLibsodium<crypto::kSha512Bytes>)->Apply(MessageSizes);

// --- Merkle interior node: SHA-256(0x01 || left || right), RFC 9162 ----------------------

constexpr uint8_t kNodePrefix = 0x01;

Bytes MerkleNodeInput() {
  Bytes node = TestBytes(1 + 2 * crypto::kSha256Bytes, 2);
  node[0] = kNodePrefix;
  return node;
}

// One contiguous 65-byte buffer, hashed in one call.
void MerkleNodeHoldfast(benchmark::State& state) {
  const Bytes node = MerkleNodeInput();
  for (auto _ : state) {
    auto digest = crypto::Sha256(node);
    benchmark::DoNotOptimize(digest);
  }
}

void MerkleNodeLibsodium(benchmark::State& state) {
  const Bytes node = MerkleNodeInput();
  for (auto _ : state) {
    std::array<uint8_t, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), node.data(), node.size());
    benchmark::DoNotOptimize(digest);
  }
}

HF_BENCH("BM_MerkleNodeSha256/holdfast", MerkleNodeHoldfast);
HF_BENCH("BM_MerkleNodeSha256/libsodium", MerkleNodeLibsodium);

// The same node hashed from its three pieces with a streaming hasher made per node, as tree
// code that does not copy the children into one buffer would do it.
void MerkleNodeHasherHoldfast(benchmark::State& state) {
  const Bytes node = MerkleNodeInput();
  const ByteSpan prefix = ByteSpan(node).first(1);
  const ByteSpan left = ByteSpan(node).subspan(1, crypto::kSha256Bytes);
  const ByteSpan right = ByteSpan(node).subspan(1 + crypto::kSha256Bytes);
  for (auto _ : state) {
    crypto::Sha256Hasher hasher;
    auto digest = hasher.Update(prefix).Update(left).Update(right).Finish();
    benchmark::DoNotOptimize(digest);
  }
}

void MerkleNodeHasherLibsodium(benchmark::State& state) {
  const Bytes node = MerkleNodeInput();
  const uint8_t* left = node.data() + 1;
  const uint8_t* right = left + crypto::kSha256Bytes;
  for (auto _ : state) {
    crypto_hash_sha256_state hasher;
    std::array<uint8_t, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256_init(&hasher);
    crypto_hash_sha256_update(&hasher, &kNodePrefix, 1);
    crypto_hash_sha256_update(&hasher, left, crypto::kSha256Bytes);
    crypto_hash_sha256_update(&hasher, right, crypto::kSha256Bytes);
    crypto_hash_sha256_final(&hasher, digest.data());
    benchmark::DoNotOptimize(digest);
  }
}

HF_BENCH("BM_MerkleNodeSha256Hasher/holdfast", MerkleNodeHasherHoldfast);
HF_BENCH("BM_MerkleNodeSha256Hasher/libsodium", MerkleNodeHasherLibsodium);

// --- HMAC-SHA256, 32-byte key ------------------------------------------------------------

constexpr size_t kMacKeyBytes = 32;

std::array<uint8_t, crypto_auth_hmacsha256_BYTES> SodiumHmac(ByteSpan key, ByteSpan data) {
  crypto_auth_hmacsha256_state st;
  std::array<uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, data.data(), data.size());
  crypto_auth_hmacsha256_final(&st, mac.data());
  return mac;
}

void HmacHoldfast(benchmark::State& state) {
  const Bytes key = TestBytes(kMacKeyBytes, 3);
  const Bytes data = TestBytes(Size(state), 4);
  for (auto _ : state) {
    auto mac = crypto::HmacSha256(key, data);
    benchmark::DoNotOptimize(mac);
  }
  SetBytes(state);
}

void HmacLibsodium(benchmark::State& state) {
  const Bytes key = TestBytes(kMacKeyBytes, 3);
  const Bytes data = TestBytes(Size(state), 4);
  if (!Same(SodiumHmac(key, data), crypto::HmacSha256(key, data).span())) {
    state.SkipWithError("libsodium HMAC differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    auto mac = SodiumHmac(key, data);
    benchmark::DoNotOptimize(mac);
  }
  SetBytes(state);
}

HF_BENCH("BM_HmacSha256/holdfast", HmacHoldfast)->Arg(32)->Arg(1024);
HF_BENCH("BM_HmacSha256/libsodium", HmacLibsodium)->Arg(32)->Arg(1024);

// --- HKDF-SHA256: Signal's message-key derivation ----------------------------------------
// 32-byte IKM, salt of 32 zero bytes, info "WhisperMessageKeys", 80 bytes out (cipher key,
// MAC key, IV), as libsignal's ratchet_chain_key_get_message_keys does.

constexpr size_t kHkdfOutBytes = 80;
constexpr char kMessageKeysInfo[] = "WhisperMessageKeys";

struct HkdfInput {
  Bytes ikm = TestBytes(32, 5);
  Bytes salt = Bytes(32, 0);
  ByteSpan info = AsBytes(kMessageKeysInfo);
};

std::array<uint8_t, kHkdfOutBytes> HoldfastHkdf(const HkdfInput& in) {
  std::array<uint8_t, kHkdfOutBytes> out{};
  if (!crypto::HkdfSha256(in.ikm, in.salt, in.info, out).ok()) {
    out.fill(0);
  }
  return out;
}

void HkdfHoldfast(benchmark::State& state) {
  const HkdfInput in;
  for (auto _ : state) {
    std::array<uint8_t, kHkdfOutBytes> out{};
    auto ok = crypto::HkdfSha256(in.ikm, in.salt, in.info, out);
    if (!ok.ok()) {
      state.SkipWithError("HkdfSha256 failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
}

// libsignal's own HKDF (message version 3 = RFC 5869). Its HMAC comes from the peer's crypto
// provider, which is Holdfast's HmacSha256 behind libsignal's init/update/final glue.
void HkdfLibsignal(benchmark::State& state) {
  const HkdfInput in;
  hkdf_context* kdf = nullptr;
  if (hkdf_create(&kdf, 3, Peer().context()) != 0) {
    state.SkipWithError("hkdf_create failed");
    return;
  }
  const auto derive = [&](uint8_t** out) {
    return hkdf_derive_secrets(kdf, out, in.ikm.data(), in.ikm.size(), in.salt.data(),
                               in.salt.size(), in.info.data(), in.info.size(), kHkdfOutBytes);
  };
  uint8_t* check = nullptr;
  const bool same = derive(&check) == static_cast<ssize_t>(kHkdfOutBytes) &&
                    Same({check, kHkdfOutBytes}, HoldfastHkdf(in));
  std::free(check);
  if (!same) {
    SIGNAL_UNREF(kdf);
    state.SkipWithError("libsignal HKDF differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    uint8_t* out = nullptr;
    const ssize_t n = derive(&out);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(out);
    std::free(out);
  }
  SIGNAL_UNREF(kdf);
}

// ComposedHkdf is RFC 5869 written out over a one-shot HMAC-SHA256 `mac(key, data)`: one
// extract and three expand calls, no allocation.
template <typename Mac>
std::array<uint8_t, kHkdfOutBytes> ComposedHkdf(const HkdfInput& in, Mac mac) {
  constexpr size_t kMacBytes = crypto::kHmacSha256Bytes;
  const std::array<uint8_t, kMacBytes> prk = mac(in.salt, in.ikm);
  std::array<uint8_t, kHkdfOutBytes> out{};
  std::array<uint8_t, kMacBytes + sizeof(kMessageKeysInfo)> block{};  // T(i-1) || info || i
  size_t block_len = 0;
  for (size_t done = 0; done < kHkdfOutBytes; done += kMacBytes) {
    std::copy(in.info.begin(), in.info.end(), block.begin() + block_len);
    block[block_len + in.info.size()] = static_cast<uint8_t>(done / kMacBytes + 1);
    const auto t = mac(prk, ByteSpan(block).first(block_len + in.info.size() + 1));
    std::copy_n(t.begin(), std::min(kMacBytes, kHkdfOutBytes - done), out.begin() + done);
    std::copy(t.begin(), t.end(), block.begin());
    block_len = kMacBytes;
  }
  return out;
}

// On libsodium's HMAC (libsodium 1.0.18 has no HKDF of its own).
void HkdfLibsodiumHmac(benchmark::State& state) {
  const HkdfInput in;
  const auto derive = [&] { return ComposedHkdf(in, SodiumHmac); };
  if (derive() != HoldfastHkdf(in)) {
    state.SkipWithError("libsodium-HMAC HKDF differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    auto out = derive();
    benchmark::DoNotOptimize(out);
  }
}

// OpenSSL's own HKDF (EVP_KDF "HKDF", fetched once, one context per call): what HkdfSha256
// used before it moved onto the reused HMAC context.
void HkdfOpenssl(benchmark::State& state) {
  const HkdfInput in;
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  const auto derive = [&] {
    std::array<uint8_t, kHkdfOutBytes> out{};
    char digest[] = "SHA2-256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(in.ikm.data()),
                                          in.ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(in.salt.data()),
                                          in.salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(in.info.data()),
                                          in.info.size()),
        OSSL_PARAM_construct_end()};
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    const int rc = EVP_KDF_derive(ctx, out.data(), out.size(), params);
    EVP_KDF_CTX_free(ctx);
    return rc == 1 ? out : std::array<uint8_t, kHkdfOutBytes>{};
  };
  if (derive() != HoldfastHkdf(in)) {
    state.SkipWithError("OpenSSL HKDF differs from holdfast's");
    return;
  }
  for (auto _ : state) {
    auto out = derive();
    benchmark::DoNotOptimize(out);
  }
}

HF_BENCH("BM_HkdfSha256MessageKeys/holdfast", HkdfHoldfast);
HF_BENCH("BM_HkdfSha256MessageKeys/libsignal", HkdfLibsignal);
HF_BENCH("BM_HkdfSha256MessageKeys/libsodium_hmac", HkdfLibsodiumHmac);
HF_BENCH("BM_HkdfSha256MessageKeys/openssl_evp_kdf", HkdfOpenssl);

}  // namespace
}  // namespace holdfast::bench
