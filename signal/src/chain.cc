#include "holdfast/signal/chain.h"

#include <algorithm>

#include "holdfast/crypto/hash.h"

namespace holdfast::signal {
namespace {

constexpr uint8_t kMessageKeySeed = 0x01;
constexpr uint8_t kChainKeySeed = 0x02;
constexpr std::string_view kInfoText = "WhisperText";
constexpr std::string_view kInfoRatchet = "WhisperRatchet";
constexpr std::string_view kInfoMessageKeys = "WhisperMessageKeys";

RootAndChain Split(const SecretBytes& derived) {
  RootAndChain out;
  std::copy_n(derived.data(), kKeyBytes, out.root.data());
  std::copy_n(derived.data() + kKeyBytes, kKeyBytes, out.chain.key.data());
  out.chain.index = 0;
  return out;
}

}  // namespace

ChainKey ChainKey::Next() const {
  const uint8_t seed = kChainKeySeed;
  return ChainKey{crypto::HmacSha256(key.span(), ByteSpan(&seed, 1)), index + 1};
}

MessageKeys ChainKey::Keys() const {
  const uint8_t seed_byte = kMessageKeySeed;
  const auto seed = crypto::HmacSha256(key.span(), ByteSpan(&seed_byte, 1));
  SecretBytes derived(2 * kKeyBytes + kIvBytes);
  const std::array<uint8_t, kKeyBytes> zero_salt{};
  // Output length is fixed and valid, so this cannot fail.
  (void)crypto::HkdfSha256(seed.span(), zero_salt, AsBytes(kInfoMessageKeys),
                           derived.mutable_span());
  MessageKeys keys;
  std::copy_n(derived.data(), kKeyBytes, keys.cipher_key.data());
  std::copy_n(derived.data() + kKeyBytes, kKeyBytes, keys.mac_key.data());
  std::copy_n(derived.data() + 2 * kKeyBytes, kIvBytes, keys.iv.data());
  keys.counter = index;
  return keys;
}

RootAndChain DeriveInitialKeys(ByteSpan agreements) {
  SecretBytes derived(2 * kKeyBytes);
  const std::array<uint8_t, kKeyBytes> zero_salt{};
  (void)crypto::HkdfSha256(agreements, zero_salt, AsBytes(kInfoText), derived.mutable_span());
  return Split(derived);
}

Result<RootAndChain> RootStep(const Secret<kKeyBytes>& root, const crypto::X25519PublicKey& theirs,
                              const crypto::X25519PrivateKey& ours) {
  HF_ASSIGN_OR_RETURN(const auto shared, crypto::X25519Agree(ours, theirs));
  SecretBytes derived(2 * kKeyBytes);
  (void)crypto::HkdfSha256(shared.span(), root.span(), AsBytes(kInfoRatchet),
                           derived.mutable_span());
  return Split(derived);
}

}  // namespace holdfast::signal
