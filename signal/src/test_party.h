// Party: one Holdfast user's keys and session, shared by the signal tests.
#ifndef HOLDFAST_SIGNAL_SRC_TEST_PARTY_H_
#define HOLDFAST_SIGNAL_SRC_TEST_PARTY_H_

#include <map>

#include "holdfast/common/rng.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/signal/session.h"

namespace holdfast::signal {

struct Party : PreKeySource {
  crypto::X25519KeyPair identity;
  uint32_t registration_id;
  std::map<uint32_t, crypto::X25519KeyPair> signed_pre_keys;
  std::map<uint32_t, crypto::X25519KeyPair> one_time;
  Session session;

  Party(Rng& rng, uint32_t reg)
      : identity(crypto::X25519KeyPair::Generate(rng)), registration_id(reg) {
    signed_pre_keys.emplace(7, crypto::X25519KeyPair::Generate(rng));
    for (uint32_t id = 100; id < 105; ++id) {
      one_time.emplace(id, crypto::X25519KeyPair::Generate(rng));
    }
  }
  const crypto::X25519KeyPair* SignedPreKey(uint32_t id) const override {
    auto it = signed_pre_keys.find(id);
    return it == signed_pre_keys.end() ? nullptr : &it->second;
  }
  const crypto::X25519KeyPair* OneTimePreKey(uint32_t id) const override {
    auto it = one_time.find(id);
    return it == one_time.end() ? nullptr : &it->second;
  }
  PreKeyBundle Bundle(Rng& rng, std::optional<uint32_t> pre_key_id) const {
    PreKeyBundle b;
    b.registration_id = registration_id;
    if (pre_key_id) {
      b.pre_key_id = pre_key_id;
      b.pre_key = one_time.at(*pre_key_id).public_key;
    }
    b.signed_pre_key_id = 7;
    b.signed_pre_key = signed_pre_keys.at(7).public_key;
    b.signed_pre_key_signature =
        ToBytes(*crypto::XEdDsaSign(identity.private_key, b.signed_pre_key.Serialize(), rng));
    b.identity_key = identity.public_key;
    return b;
  }
  // Receive decrypts either kind of message.
  Result<SecretBytes> Receive(const Ciphertext& c, Rng& rng) {
    if (c.type == MessageType::kPreKey) {
      std::optional<uint32_t> used;
      auto r = session.DecryptPreKey(identity, registration_id, *this, c.body, rng, &used);
      if (r.ok() && used) {
        one_time.erase(*used);
      }
      return r;
    }
    return session.Decrypt(c.body, rng);
  }
};

}  // namespace holdfast::signal

#endif  // HOLDFAST_SIGNAL_SRC_TEST_PARTY_H_
