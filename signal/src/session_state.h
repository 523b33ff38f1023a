// SessionState: one Double Ratchet state. Internal to signal/ (session.cc, session_codec.cc).
#ifndef HOLDFAST_SIGNAL_SRC_SESSION_STATE_H_
#define HOLDFAST_SIGNAL_SRC_SESSION_STATE_H_

#include <deque>
#include <memory>
#include <optional>

#include "holdfast/crypto/x25519.h"
#include "holdfast/signal/chain.h"

namespace holdfast::signal {

struct PendingPreKey {
  std::optional<uint32_t> pre_key_id;
  uint32_t signed_pre_key_id = 0;
  crypto::X25519PublicKey base_key;
};

struct ReceiverChain {
  crypto::X25519PublicKey ratchet_key;
  ChainKey chain;
  std::deque<MessageKeys> skipped;  // oldest first
};

struct SessionState {
  crypto::X25519PublicKey local_identity;
  crypto::X25519PublicKey remote_identity;
  uint32_t local_registration_id = 0;
  uint32_t remote_registration_id = 0;
  Secret<kKeyBytes> root_key;
  crypto::X25519PrivateKey sender_ratchet_private;
  crypto::X25519PublicKey sender_ratchet_public;
  ChainKey sender_chain;
  uint32_t previous_counter = 0;
  std::deque<ReceiverChain> receivers;  // newest first
  std::optional<PendingPreKey> pending;
  crypto::X25519PublicKey alice_base_key;

  std::unique_ptr<SessionState> Clone() const {
    auto c = std::unique_ptr<SessionState>(new SessionState{local_identity,
                                                            remote_identity,
                                                            local_registration_id,
                                                            remote_registration_id,
                                                            root_key.Clone(),
                                                            sender_ratchet_private.Clone(),
                                                            sender_ratchet_public,
                                                            sender_chain.Clone(),
                                                            previous_counter,
                                                            {},
                                                            pending,
                                                            alice_base_key});
    for (const auto& r : receivers) {
      ReceiverChain rc{r.ratchet_key, r.chain.Clone(), {}};
      for (const auto& k : r.skipped) {
        rc.skipped.push_back(
            MessageKeys{k.cipher_key.Clone(), k.mac_key.Clone(), k.iv.Clone(), k.counter});
      }
      c->receivers.push_back(std::move(rc));
    }
    return c;
  }
};

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_SRC_SESSION_STATE_H_
