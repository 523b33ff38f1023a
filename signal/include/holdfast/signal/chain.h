// The Double Ratchet's key derivation chains, exactly as libsignal v3 derives them.
//
//   X3DH:        (root, chain) = HKDF(0xFF*32 || DH1 || DH2 || DH3 [|| DH4], salt 0*32,
//                                     "WhisperText", 64)
//   root step:   (root', chain) = HKDF(DH(ours, theirs), salt root, "WhisperRatchet", 64)
//   chain step:  seed = HMAC(chain, 0x01); chain' = HMAC(chain, 0x02)
//   message keys: (cipher 32 || mac 32 || iv 16) = HKDF(seed, salt 0*32, "WhisperMessageKeys", 80)
#ifndef HOLDFAST_SIGNAL_CHAIN_H_
#define HOLDFAST_SIGNAL_CHAIN_H_

#include <cstdint>

#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::signal {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kIvBytes = 16;

// MessageKeys encrypt and authenticate one message.
struct MessageKeys {
  Secret<kKeyBytes> cipher_key;
  Secret<kKeyBytes> mac_key;
  Secret<kIvBytes> iv;
  uint32_t counter = 0;
};

// ChainKey is one link of a sending or receiving chain.
struct ChainKey {
  Secret<kKeyBytes> key;
  uint32_t index = 0;

  ChainKey Next() const;
  MessageKeys Keys() const;
  // Step returns Keys() and moves this link to Next(), keying HMAC once for both.
  MessageKeys Step();
  ChainKey Clone() const { return ChainKey{key.Clone(), index}; }
};

struct RootAndChain {
  Secret<kKeyBytes> root;
  ChainKey chain;
};

// DeriveInitialKeys runs X3DH's final KDF over the concatenated agreements.
RootAndChain DeriveInitialKeys(ByteSpan agreements);

// RootStep advances the root key with a new DH output.
Result<RootAndChain> RootStep(const Secret<kKeyBytes>& root, const crypto::X25519PublicKey& theirs,
                              const crypto::X25519PrivateKey& ours);

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_CHAIN_H_
