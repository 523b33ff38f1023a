#include "holdfast/crypto/sealed_box.h"

#include <sodium/crypto_box.h>
#include <sodium/crypto_generichash.h>

#include <array>

#include "holdfast/common/secret.h"
#include "internal.h"

namespace holdfast::crypto {

static_assert(kSealedBoxOverhead == crypto_box_SEALBYTES);

Result<Bytes> SealedBoxSeal(const X25519PublicKey& recipient, ByteSpan plaintext, Rng& rng) {
  if (plaintext.size() > kMaxSealedBoxPlaintext) {
    return Error{ErrorCode::kOversized, "sealed box plaintext"};
  }
  internal::EnsureSodium();
  Secret<crypto_box_SEEDBYTES> seed;
  rng.Fill(seed.mutable_span());
  std::array<uint8_t, crypto_box_PUBLICKEYBYTES> eph_pk;
  Secret<crypto_box_SECRETKEYBYTES> eph_sk;
  if (crypto_box_seed_keypair(eph_pk.data(), eph_sk.mutable_span().data(), seed.span().data()) !=
      0) {
    return Error{ErrorCode::kCryptoFailure, "sealed box keypair"};
  }
  std::array<uint8_t, crypto_box_NONCEBYTES> nonce;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, nonce.size());
  crypto_generichash_update(&st, eph_pk.data(), eph_pk.size());
  crypto_generichash_update(&st, recipient.raw().data(), recipient.raw().size());
  crypto_generichash_final(&st, nonce.data(), nonce.size());

  Bytes out(kSealedBoxOverhead + plaintext.size());
  std::copy(eph_pk.begin(), eph_pk.end(), out.begin());
  if (crypto_box_easy(out.data() + eph_pk.size(), plaintext.data(), plaintext.size(), nonce.data(),
                      recipient.raw().data(), eph_sk.span().data()) != 0) {
    // A small-order recipient key gives an all-zero shared secret, which libsodium refuses.
    return Error{ErrorCode::kWeakKey, "sealed box recipient key"};
  }
  return out;
}

Result<Bytes> SealedBoxOpen(const X25519PrivateKey& recipient, ByteSpan sealed) {
  if (sealed.size() < kSealedBoxOverhead) {
    return Error{ErrorCode::kAuthenticationFailed, "sealed box"};
  }
  internal::EnsureSodium();
  const auto pk = recipient.PublicKey().raw();
  Bytes out(sealed.size() - kSealedBoxOverhead);
  if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(), pk.data(),
                           recipient.Serialize().data()) != 0) {
    return Error{ErrorCode::kAuthenticationFailed, "sealed box"};
  }
  return out;
}

}  // namespace holdfast::crypto
