// Sealed boxes (libsodium's crypto_box_seal construction): anonymous public-key encryption
// to an X25519 key. Lawful-disclosure packages are sealed to the authority's key, so that
// only the authority can read them, and the operator keeps no readable copy.
#ifndef HOLDFAST_CRYPTO_SEALED_BOX_H_
#define HOLDFAST_CRYPTO_SEALED_BOX_H_

#include <cstddef>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::crypto {

// kSealedBoxOverhead is the ephemeral public key (32) plus the Poly1305 tag (16).
inline constexpr size_t kSealedBoxOverhead = 48;
// kMaxSealedBoxPlaintext bounds what Seal accepts (64 MiB).
inline constexpr size_t kMaxSealedBoxPlaintext = 64u << 20;

// SealedBoxSeal encrypts `plaintext` to `recipient`. The ephemeral key comes from `rng` (the
// caller's randomness, so tests are deterministic); the output is byte-compatible with
// libsodium's crypto_box_seal: ephemeral_pk || crypto_box_easy(m, nonce, recipient, eph_sk)
// with nonce = BLAKE2b-192(ephemeral_pk || recipient_pk). Oversized input is kOversized.
Result<Bytes> SealedBoxSeal(const X25519PublicKey& recipient, ByteSpan plaintext, Rng& rng);

// SealedBoxOpen decrypts a sealed box with the recipient's private key. Any tampering, a
// different key or a short input is kAuthenticationFailed.
Result<Bytes> SealedBoxOpen(const X25519PrivateKey& recipient, ByteSpan sealed);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_SEALED_BOX_H_
