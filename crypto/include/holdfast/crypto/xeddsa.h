// XEdDSA: EdDSA signatures made and checked with X25519 keys (Signal's XEdDSA and VXEdDSA
// specification, revision 1, section 2).
//
// Signing follows the specification exactly: the Edwards key is made to have sign bit 0 by
// negating the scalar when needed, so every signature has the top bit of s clear.
//
// Verification also accepts the form that libsignal's deployed signers produce, which keep
// the scalar as is and carry the Edwards sign bit in the top bit of the signature's last
// byte. Both forms verify against the same public key; everything else about the
// signature must be canonical.
#ifndef HOLDFAST_CRYPTO_XEDDSA_H_
#define HOLDFAST_CRYPTO_XEDDSA_H_

#include <array>
#include <cstddef>
#include <span>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::crypto {

inline constexpr size_t kXEdDsaSignatureBytes = 64;
inline constexpr size_t kXEdDsaNonceBytes = 64;

using XEdDsaSignature = std::array<uint8_t, kXEdDsaSignatureBytes>;

// XEdDsaSigningKey is an X25519 private key made ready for signing: the Edwards scalar a
// (negated when needed, so that A has sign bit 0) and A itself. Making one costs a fixed-base
// multiplication; each signature then costs one more, as an Ed25519 signature does, where
// XEdDsaSign below pays for both every time. Keep one for a key that signs often (a Sender
// Key). Serialize gives a || A (64 bytes, a wiping buffer); FromBytes takes them back without
// recomputing, so only feed it bytes that Serialize wrote.
class XEdDsaSigningKey {
 public:
  static constexpr size_t kBytes = 64;

  static Result<XEdDsaSigningKey> FromPrivate(const X25519PrivateKey& key);
  static Result<XEdDsaSigningKey> FromBytes(ByteSpan bytes);
  SecretBytes Serialize() const;

  Result<XEdDsaSignature> Sign(ByteSpan message, Rng& rng) const;
  Result<XEdDsaSignature> SignWithNonce(ByteSpan message,
                                        std::span<const uint8_t, kXEdDsaNonceBytes> z) const;
  XEdDsaSigningKey Clone() const {
    XEdDsaSigningKey c;
    c.a_ = a_.Clone();
    c.big_a_ = big_a_;
    return c;
  }

 private:
  XEdDsaSigningKey() = default;
  Secret<32> a_;
  std::array<uint8_t, 32> big_a_{};
};

// XEdDsaSign signs `message` with 64 fresh random bytes from `rng`. It fails only if the
// random nonce hashes to zero (kCryptoFailure, probability 2^-252).
Result<XEdDsaSignature> XEdDsaSign(const X25519PrivateKey& key, ByteSpan message, Rng& rng);

// XEdDsaSignWithNonce signs with caller-chosen nonce bytes Z. Reusing Z for two messages
// is safe (Z only adds randomness) but Z must be secret; exposed for known-answer tests.
Result<XEdDsaSignature> XEdDsaSignWithNonce(const X25519PrivateKey& key, ByteSpan message,
                                            std::span<const uint8_t, kXEdDsaNonceBytes> z);

// XEdDsaVerify checks a 64-byte signature. A public key u >= p, a non-canonical R or s,
// a small-order R or key, a wrong length or a bad signature are all kAuthenticationFailed.
Result<void> XEdDsaVerify(const X25519PublicKey& key, ByteSpan message, ByteSpan signature);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_XEDDSA_H_
