#include "holdfast/testing/libsignal_peer.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <signal/curve.h>
#include <signal/signal_protocol.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>


namespace holdfast::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "libsignal peer: %s\n", what);
  std::abort();
}

// The crypto provider is OpenSSL used directly, as libsignal-protocol-c's own OpenSSL test
// provider (tests/test_common_openssl.c) does, in OpenSSL 3's non-deprecated API: a MAC
// context per HMAC, a digest context per SHA-512, a cipher context per encryption. The peer so
// shares no code with Holdfast's crypto module: an interop test that passes means two
// independent implementations agree, and benchmarks time libsignal as its users run it.

// HmacTemplate is an HMAC-SHA256 context with its digest set and no key; each HMAC starts from
// a copy of it, which saves looking the digest up by name every time.
const EVP_MAC_CTX* HmacTemplate() {
  static EVP_MAC_CTX* ctx = [] {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* c = mac == nullptr ? nullptr : EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (c == nullptr || EVP_MAC_CTX_set_params(c, params) != 1) {
      Die("HMAC context");
    }
    return c;
  }();
  return ctx;
}

int RandomFunc(uint8_t* data, size_t len, void*) {
  return RAND_bytes(data, static_cast<int>(len)) == 1 ? SG_SUCCESS : SG_ERR_UNKNOWN;
}

int HmacInit(void** ctx, const uint8_t* key, size_t key_len, void*) {
  EVP_MAC_CTX* c = EVP_MAC_CTX_dup(HmacTemplate());
  static const uint8_t kEmpty = 0;
  if (c == nullptr || EVP_MAC_init(c, key_len == 0 ? &kEmpty : key, key_len, nullptr) != 1) {
    EVP_MAC_CTX_free(c);
    return SG_ERR_UNKNOWN;
  }
  *ctx = c;
  return SG_SUCCESS;
}

int HmacUpdate(void* ctx, const uint8_t* data, size_t len, void*) {
  return EVP_MAC_update(static_cast<EVP_MAC_CTX*>(ctx), data, len) == 1 ? SG_SUCCESS
                                                                         : SG_ERR_UNKNOWN;
}

int HmacFinal(void* ctx, signal_buffer** out, void*) {
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(ctx), mac, &len, sizeof(mac)) != 1) {
    return SG_ERR_UNKNOWN;
  }
  *out = signal_buffer_create(mac, len);
  OPENSSL_cleanse(mac, sizeof(mac));
  return *out ? SG_SUCCESS : SG_ERR_NOMEM;
}

void HmacCleanup(void* ctx, void*) { EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(ctx)); }

int ShaInit(void** ctx, void*) {
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  if (c == nullptr || EVP_DigestInit_ex(c, EVP_sha512(), nullptr) != 1) {
    EVP_MD_CTX_free(c);
    return SG_ERR_UNKNOWN;
  }
  *ctx = c;
  return SG_SUCCESS;
}

int ShaUpdate(void* ctx, const uint8_t* data, size_t len, void*) {
  return EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx), data, len) == 1 ? SG_SUCCESS
                                                                         : SG_ERR_UNKNOWN;
}

int ShaFinal(void* ctx, signal_buffer** out, void*) {
  auto* c = static_cast<EVP_MD_CTX*>(ctx);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // libsignal reuses the context after final, so it is reset for the next digest.
  if (EVP_DigestFinal_ex(c, digest, &len) != 1 ||
      EVP_DigestInit_ex(c, EVP_sha512(), nullptr) != 1) {
    return SG_ERR_UNKNOWN;
  }
  *out = signal_buffer_create(digest, len);
  return *out ? SG_SUCCESS : SG_ERR_NOMEM;
}

void ShaCleanup(void* ctx, void*) { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx)); }

int Crypt(bool encrypt, signal_buffer** out, int cipher, const uint8_t* key, size_t key_len,
          const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len) {
  const EVP_CIPHER* evp = nullptr;
  if (key_len == 32 && iv_len == 16 && cipher == SG_CIPHER_AES_CTR_NOPADDING) {
    evp = EVP_aes_256_ctr();
  } else if (key_len == 32 && iv_len == 16 && cipher == SG_CIPHER_AES_CBC_PKCS5) {
    evp = EVP_aes_256_cbc();
  } else {
    return SG_ERR_UNKNOWN;
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) {
    return SG_ERR_NOMEM;
  }
  Bytes result(in_len + 16);
  int n = 0;
  int tail = 0;
  const bool ok =
      EVP_CipherInit_ex(ctx, evp, nullptr, key, iv, encrypt ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx, result.data(), &n, in, static_cast<int>(in_len)) == 1 &&
      EVP_CipherFinal_ex(ctx, result.data() + n, &tail) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    return SG_ERR_UNKNOWN;
  }
  *out = signal_buffer_create(result.data(), static_cast<size_t>(n + tail));
  OPENSSL_cleanse(result.data(), result.size());
  return *out ? SG_SUCCESS : SG_ERR_NOMEM;
}

int EncryptFunc(signal_buffer** out, int cipher, const uint8_t* key, size_t key_len,
                const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len, void*) {
  return Crypt(true, out, cipher, key, key_len, iv, iv_len, in, in_len);
}

int DecryptFunc(signal_buffer** out, int cipher, const uint8_t* key, size_t key_len,
                const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len, void*) {
  return Crypt(false, out, cipher, key, key_len, iv, iv_len, in, in_len);
}

ec_private_key* DecodePrivate(signal_context* ctx, const std::array<uint8_t, 32>& k) {
  ec_private_key* key = nullptr;
  if (curve_decode_private_point(&key, k.data(), k.size(), ctx) != 0) {
    Die("decode private");
  }
  return key;
}

std::array<uint8_t, 32> RawPublic(const ec_public_key* pub) {
  signal_buffer* buf = nullptr;
  if (ec_public_key_serialize(&buf, pub) != 0 || signal_buffer_len(buf) != 33) {
    Die("serialize");
  }
  std::array<uint8_t, 32> out;
  std::memcpy(out.data(), signal_buffer_data(buf) + 1, 32);
  signal_buffer_free(buf);
  return out;
}

}  // namespace

LibsignalPeer::LibsignalPeer() {
  if (signal_context_create(&ctx_, nullptr) != 0) {
    Die("context");
  }
  signal_crypto_provider provider = {};
  provider.random_func = RandomFunc;
  provider.hmac_sha256_init_func = HmacInit;
  provider.hmac_sha256_update_func = HmacUpdate;
  provider.hmac_sha256_final_func = HmacFinal;
  provider.hmac_sha256_cleanup_func = HmacCleanup;
  provider.sha512_digest_init_func = ShaInit;
  provider.sha512_digest_update_func = ShaUpdate;
  provider.sha512_digest_final_func = ShaFinal;
  provider.sha512_digest_cleanup_func = ShaCleanup;
  provider.encrypt_func = EncryptFunc;
  provider.decrypt_func = DecryptFunc;
  if (signal_context_set_crypto_provider(ctx_, &provider) != 0) {
    Die("provider");
  }
}

LibsignalPeer::~LibsignalPeer() { signal_context_destroy(ctx_); }

PeerKeyPair LibsignalPeer::GenerateKeyPair() {
  ec_key_pair* pair = nullptr;
  if (curve_generate_key_pair(ctx_, &pair) != 0) {
    Die("generate");
  }
  PeerKeyPair out;
  signal_buffer* priv = nullptr;
  if (ec_private_key_serialize(&priv, ec_key_pair_get_private(pair)) != 0 ||
      signal_buffer_len(priv) != 32) {
    Die("serialize private");
  }
  std::memcpy(out.private_key.data(), signal_buffer_data(priv), 32);
  signal_buffer_bzero_free(priv);
  out.public_key = RawPublic(ec_key_pair_get_public(pair));
  SIGNAL_UNREF(pair);
  return out;
}

std::array<uint8_t, 32> LibsignalPeer::PublicKeyFor(const std::array<uint8_t, 32>& private_key) {
  ec_private_key* priv = DecodePrivate(ctx_, private_key);
  ec_public_key* pub = nullptr;
  if (curve_generate_public_key(&pub, priv) != 0) {
    Die("public key");
  }
  auto out = RawPublic(pub);
  SIGNAL_UNREF(pub);
  SIGNAL_UNREF(priv);
  return out;
}

Bytes LibsignalPeer::Sign(const std::array<uint8_t, 32>& private_key, ByteSpan message) {
  ec_private_key* priv = DecodePrivate(ctx_, private_key);
  signal_buffer* sig = nullptr;
  if (curve_calculate_signature(ctx_, &sig, priv, message.data(), message.size()) != 0) {
    Die("sign");
  }
  Bytes out(signal_buffer_data(sig), signal_buffer_data(sig) + signal_buffer_len(sig));
  signal_buffer_free(sig);
  SIGNAL_UNREF(priv);
  return out;
}

bool LibsignalPeer::Verify(const std::array<uint8_t, 32>& public_key, ByteSpan message,
                           ByteSpan signature) {
  uint8_t serialized[33];
  serialized[0] = 0x05;
  std::memcpy(serialized + 1, public_key.data(), 32);
  ec_public_key* pub = nullptr;
  if (curve_decode_point(&pub, serialized, sizeof(serialized), ctx_) != 0) {
    Die("decode public");
  }
  const int rc = curve_verify_signature(pub, message.data(), message.size(), signature.data(),
                                        signature.size());
  SIGNAL_UNREF(pub);
  return rc == 1;
}

}  // namespace holdfast::testing
