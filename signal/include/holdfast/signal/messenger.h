// Messenger-level Signal Protocol operations on a ProtocolStore: they load what they need,
// check identities (trust on first use), and save every change in one store transaction,
// so a failed operation changes nothing.
#ifndef HOLDFAST_SIGNAL_MESSENGER_H_
#define HOLDFAST_SIGNAL_MESSENGER_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "holdfast/common/result.h"
#include "holdfast/common/rng.h"
#include "holdfast/signal/group.h"
#include "holdfast/signal/session.h"
#include "holdfast/signal/store.h"

namespace holdfast::signal {

// kPreKeyBatch one-time prekeys are made at a time.
inline constexpr uint32_t kPreKeyBatch = 100;
inline constexpr uint32_t kSignedPreKeyId = 1;

// InitLocal creates our identity, a signed prekey and `prekeys` one-time prekeys.
// kAlreadyExists if the store has an identity.
Result<void> InitLocal(ProtocolStore& store, Rng& rng, uint32_t registration_id, uint32_t prekeys);

// NextBundle hands out our bundle with a one-time prekey never handed out before, making a
// new batch when none is left.
Result<PreKeyBundle> NextBundle(ProtocolStore& store, Rng& rng, uint32_t device_id = 1);

// PublicPreKey is a one-time prekey as it is uploaded to the server.
struct PublicPreKey {
  uint32_t id = 0;
  crypto::X25519PublicKey key;
};

// MakeMorePreKeys makes `count` new one-time prekeys (ids continue from the last one made)
// and returns their public halves, for a client refilling the server's supply.
Result<std::vector<PublicPreKey>> MakeMorePreKeys(ProtocolStore& store, Rng& rng, uint32_t count);
// OneTimePreKeys lists the public halves of every one-time prekey held.
Result<std::vector<PublicPreKey>> OneTimePreKeys(ProtocolStore& store);

// RotateSignedPreKey makes a new signed prekey (the next id) and deletes those older than
// the one it replaces, which stays so that prekey messages already sent to it still open.
Result<SignedPreKeyRecord> RotateSignedPreKey(ProtocolStore& store, Rng& rng);

// StartSession starts a session with `peer` from its bundle. A bundle whose identity key
// differs from the one recorded for `peer` is kUntrustedIdentity.
Result<void> StartSession(ProtocolStore& store, std::string_view peer, const PreKeyBundle& bundle,
                          Rng& rng);

// EncryptTo encrypts for `peer` (kNoSession without a session; kUntrustedIdentity if the
// recorded identity changed since).
Result<Ciphertext> EncryptTo(ProtocolStore& store, std::string_view peer, ByteSpan plaintext);

// DecryptFrom decrypts a message from `peer`, building the session from a prekey message if
// needed and removing the one-time prekey it used.
Result<SecretBytes> DecryptFrom(ProtocolStore& store, std::string_view peer,
                                const Ciphertext& message, Rng& rng);

// Groups: our sender key for `group` is stored under (group, self); others' under
// (group, sender).
Result<Bytes> GroupCreate(ProtocolStore& store, std::string_view group, std::string_view self,
                          Rng& rng);
// GroupDistribution is our current sender key's distribution message for `group`, for a
// member who joined since (it opens what we send from now on, nothing before);
// kNotFound before GroupCreate.
Result<Bytes> GroupDistribution(ProtocolStore& store, std::string_view group,
                                std::string_view self);
Result<void> GroupProcess(ProtocolStore& store, std::string_view group, std::string_view sender,
                          ByteSpan distribution);
Result<Bytes> GroupEncrypt(ProtocolStore& store, std::string_view group, std::string_view self,
                           ByteSpan plaintext, Rng& rng);
Result<SecretBytes> GroupDecrypt(ProtocolStore& store, std::string_view group,
                                 std::string_view sender, ByteSpan message);

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_MESSENGER_H_
