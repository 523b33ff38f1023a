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

namespace {

// MessageKeysFrom expands a message key seed: (cipher 32 || mac 32 || iv 16).
MessageKeys MessageKeysFrom(const Secret<kKeyBytes>& seed, uint32_t counter) {
  SecretBytes derived(2 * kKeyBytes + kIvBytes);
  // An empty salt is libsignal's 32 zero bytes. The length is fixed and valid, so this
  // cannot fail.
  (void)crypto::HkdfSha256(seed.span(), {}, AsBytes(kInfoMessageKeys), derived.mutable_span());
  MessageKeys keys;
  std::copy_n(derived.data(), kKeyBytes, keys.cipher_key.data());
  std::copy_n(derived.data() + kKeyBytes, kKeyBytes, keys.mac_key.data());
  std::copy_n(derived.data() + 2 * kKeyBytes, kIvBytes, keys.iv.data());
  keys.counter = counter;
  return keys;
}

}  // namespace

ChainKey ChainKey::Next() const {
  const uint8_t seed = kChainKeySeed;
  return ChainKey{crypto::HmacSha256(key.span(), ByteSpan(&seed, 1)), index + 1};
}

MessageKeys ChainKey::Keys() const {
  const uint8_t seed = kMessageKeySeed;
  return MessageKeysFrom(crypto::HmacSha256(key.span(), ByteSpan(&seed, 1)), index);
}

MessageKeys ChainKey::Step() {
  const crypto::HmacSha256Key keyed(key.span());
  const uint8_t message_seed = kMessageKeySeed;
  const uint8_t chain_seed = kChainKeySeed;
  MessageKeys keys = MessageKeysFrom(keyed.Mac({ByteSpan(&message_seed, 1)}), index);
  keyed.MacInto({ByteSpan(&chain_seed, 1)}, key.data());
  ++index;
  return keys;
}

RootAndChain DeriveInitialKeys(ByteSpan agreements) {
  SecretBytes derived(2 * kKeyBytes);
  (void)crypto::HkdfSha256(agreements, {}, AsBytes(kInfoText), derived.mutable_span());
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
