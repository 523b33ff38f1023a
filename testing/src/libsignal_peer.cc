#include "holdfast/testing/libsignal_peer.h"

#include <signal/curve.h>
#include <signal/signal_protocol.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "holdfast/crypto/aes.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/random.h"

namespace holdfast::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "libsignal peer: %s\n", what);
  std::abort();
}

// HMAC contexts collect the key and data; the MAC is computed at final.
struct HmacState {
  Bytes key;
  Bytes data;
};

int RandomFunc(uint8_t* data, size_t len, void*) {
  static crypto::SystemRng rng;
  rng.Fill({data, len});
  return SG_SUCCESS;
}

int HmacInit(void** ctx, const uint8_t* key, size_t key_len, void*) {
  *ctx = new HmacState{Bytes(key, key + key_len), {}};
  return SG_SUCCESS;
}

int HmacUpdate(void* ctx, const uint8_t* data, size_t len, void*) {
  auto* s = static_cast<HmacState*>(ctx);
  s->data.insert(s->data.end(), data, data + len);
  return SG_SUCCESS;
}

int HmacFinal(void* ctx, signal_buffer** out, void*) {
  auto* s = static_cast<HmacState*>(ctx);
  const auto mac = crypto::HmacSha256(s->key, s->data);
  *out = signal_buffer_create(mac.data(), mac.size());
  return *out ? SG_SUCCESS : SG_ERR_NOMEM;
}

void HmacCleanup(void* ctx, void*) { delete static_cast<HmacState*>(ctx); }

int ShaInit(void** ctx, void*) {
  *ctx = new crypto::Sha512Hasher();
  return SG_SUCCESS;
}

int ShaUpdate(void* ctx, const uint8_t* data, size_t len, void*) {
  static_cast<crypto::Sha512Hasher*>(ctx)->Update({data, len});
  return SG_SUCCESS;
}

int ShaFinal(void* ctx, signal_buffer** out, void*) {
  const auto digest = static_cast<crypto::Sha512Hasher*>(ctx)->Finish();
  *out = signal_buffer_create(digest.data(), digest.size());
  return *out ? SG_SUCCESS : SG_ERR_NOMEM;
}

void ShaCleanup(void* ctx, void*) { delete static_cast<crypto::Sha512Hasher*>(ctx); }

int Crypt(bool encrypt, signal_buffer** out, int cipher, const uint8_t* key, size_t key_len,
          const uint8_t* iv, size_t iv_len, const uint8_t* in, size_t in_len) {
  const ByteSpan k(key, key_len), v(iv, iv_len), input(in, in_len);
  if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
    Bytes result(in_len);
    if (!crypto::Aes256Ctr(k, v, input, result).ok()) {
      return SG_ERR_UNKNOWN;
    }
    *out = signal_buffer_create(result.data(), result.size());
  } else if (cipher == SG_CIPHER_AES_CBC_PKCS5 && encrypt) {
    auto result = crypto::Aes256CbcEncrypt(k, v, input);
    if (!result.ok()) {
      return SG_ERR_UNKNOWN;
    }
    *out = signal_buffer_create(result->data(), result->size());
  } else if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
    auto result = crypto::Aes256CbcDecrypt(k, v, input);
    if (!result.ok()) {
      return SG_ERR_UNKNOWN;
    }
    *out = signal_buffer_create(result->data(), result->size());
  } else {
    return SG_ERR_UNKNOWN;
  }
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
