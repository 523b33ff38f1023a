#include "holdfast/signal/messenger.h"

#include "holdfast/common/transaction.h"
#include "holdfast/crypto/xeddsa.h"

namespace holdfast::signal {
namespace {

Result<Session> LoadSession(ProtocolStore& store, std::string_view peer) {
  HF_ASSIGN_OR_RETURN(auto bytes, store.LoadSession(peer));
  if (!bytes) {
    return Session();
  }
  return Session::Deserialize(bytes->span());
}

constexpr char kLastPreKeyMade[] = "prekey_made";
constexpr char kLastPreKeyHandedOut[] = "prekey_handed_out";

Result<void> MakePreKeys(ProtocolStore& store, Rng& rng, uint32_t count) {
  HF_ASSIGN_OR_RETURN(uint32_t id, store.GetCounter(kLastPreKeyMade));
  for (uint32_t i = 0; i < count; ++i) {
    if (++id == 0) {
      return Error{ErrorCode::kOversized, "prekey ids exhausted"};
    }
    HF_RETURN_IF_ERROR(store.StorePreKey(id, crypto::X25519KeyPair::Generate(rng)));
  }
  return store.SetCounter(kLastPreKeyMade, id);
}

// Store-backed prekeys for one incoming prekey message.
class LoadedPreKeys final : public PreKeySource {
 public:
  std::optional<SignedPreKeyRecord> signed_pre_key;
  std::optional<crypto::X25519KeyPair> one_time;
  uint32_t one_time_id = 0;

  const crypto::X25519KeyPair* SignedPreKey(uint32_t id) const override {
    return signed_pre_key && signed_pre_key->id == id ? &signed_pre_key->key : nullptr;
  }
  const crypto::X25519KeyPair* OneTimePreKey(uint32_t id) const override {
    return one_time && one_time_id == id ? &*one_time : nullptr;
  }
};

}  // namespace

Result<void> InitLocal(ProtocolStore& store, Rng& rng, uint32_t registration_id, uint32_t prekeys) {
  return InTransaction<void>(store, [&]() -> Result<void> {
    if (store.GetLocalIdentity().ok()) {
      return Error{ErrorCode::kAlreadyExists, "store already has an identity"};
    }
    LocalIdentity local{crypto::X25519KeyPair::Generate(rng), registration_id};
    SignedPreKeyRecord spk{kSignedPreKeyId, crypto::X25519KeyPair::Generate(rng), {}};
    HF_ASSIGN_OR_RETURN(const auto sig, crypto::XEdDsaSign(local.identity.private_key,
                                                           spk.key.public_key.Serialize(), rng));
    spk.signature = ToBytes(sig);
    HF_RETURN_IF_ERROR(store.SetLocalIdentity(local));
    HF_RETURN_IF_ERROR(store.StoreSignedPreKey(spk));
    return MakePreKeys(store, rng, prekeys);
  });
}

Result<std::vector<PublicPreKey>> MakeMorePreKeys(ProtocolStore& store, Rng& rng, uint32_t count) {
  return InTransaction<std::vector<PublicPreKey>>(
      store, [&]() -> Result<std::vector<PublicPreKey>> {
        HF_ASSIGN_OR_RETURN(const uint32_t first, store.GetCounter(kLastPreKeyMade));
        HF_RETURN_IF_ERROR(MakePreKeys(store, rng, count));
        std::vector<PublicPreKey> out;
        for (uint32_t i = 1; i <= count; ++i) {
          HF_ASSIGN_OR_RETURN(const auto pair, store.LoadPreKey(first + i));
          if (!pair) {
            return Error{ErrorCode::kStorageFailure, "prekey just made is missing"};
          }
          out.push_back(PublicPreKey{first + i, pair->public_key});
        }
        return out;
      });
}

Result<std::vector<PublicPreKey>> OneTimePreKeys(ProtocolStore& store) {
  HF_ASSIGN_OR_RETURN(const auto ids, store.PreKeyIds());
  std::vector<PublicPreKey> out;
  for (uint32_t id : ids) {
    HF_ASSIGN_OR_RETURN(const auto pair, store.LoadPreKey(id));
    if (pair) {
      out.push_back(PublicPreKey{id, pair->public_key});
    }
  }
  return out;
}

Result<SignedPreKeyRecord> RotateSignedPreKey(ProtocolStore& store, Rng& rng) {
  return InTransaction<SignedPreKeyRecord>(store, [&]() -> Result<SignedPreKeyRecord> {
    HF_ASSIGN_OR_RETURN(const LocalIdentity local, store.GetLocalIdentity());
    HF_ASSIGN_OR_RETURN(const SignedPreKeyRecord current, store.LatestSignedPreKey());
    if (current.id == UINT32_MAX) {
      return Error{ErrorCode::kOversized, "signed prekey ids exhausted"};
    }
    SignedPreKeyRecord next{current.id + 1, crypto::X25519KeyPair::Generate(rng), {}};
    HF_ASSIGN_OR_RETURN(const auto sig, crypto::XEdDsaSign(local.identity.private_key,
                                                           next.key.public_key.Serialize(), rng));
    next.signature = ToBytes(sig);
    HF_RETURN_IF_ERROR(store.StoreSignedPreKey(next));
    if (current.id > kSignedPreKeyId) {
      HF_RETURN_IF_ERROR(store.RemoveSignedPreKey(current.id - 1));
    }
    return next;
  });
}

Result<PreKeyBundle> NextBundle(ProtocolStore& store, Rng& rng, uint32_t device_id) {
  return InTransaction<PreKeyBundle>(store, [&]() -> Result<PreKeyBundle> {
    HF_ASSIGN_OR_RETURN(const LocalIdentity local, store.GetLocalIdentity());
    HF_ASSIGN_OR_RETURN(const SignedPreKeyRecord spk, store.LatestSignedPreKey());
    // Hand out the lowest prekey id above the last one handed out.
    HF_ASSIGN_OR_RETURN(const uint32_t last, store.GetCounter(kLastPreKeyHandedOut));
    auto pick = [&]() -> Result<std::optional<uint32_t>> {
      HF_ASSIGN_OR_RETURN(const auto ids, store.PreKeyIds());
      for (uint32_t id : ids) {
        if (id > last) {
          return std::optional<uint32_t>(id);
        }
      }
      return std::optional<uint32_t>();
    };
    HF_ASSIGN_OR_RETURN(auto id, pick());
    if (!id) {
      HF_RETURN_IF_ERROR(MakePreKeys(store, rng, kPreKeyBatch));
      HF_ASSIGN_OR_RETURN(id, pick());
    }
    HF_ASSIGN_OR_RETURN(const auto pre_key, store.LoadPreKey(*id));
    HF_RETURN_IF_ERROR(store.SetCounter(kLastPreKeyHandedOut, *id));
    PreKeyBundle b;
    b.registration_id = local.registration_id;
    b.device_id = device_id;
    b.pre_key_id = *id;
    b.pre_key = pre_key->public_key;
    b.signed_pre_key_id = spk.id;
    b.signed_pre_key = spk.key.public_key;
    b.signed_pre_key_signature = spk.signature;
    b.identity_key = local.identity.public_key;
    return b;
  });
}

Result<void> StartSession(ProtocolStore& store, std::string_view peer, const PreKeyBundle& bundle,
                          Rng& rng) {
  return InTransaction<void>(store, [&]() -> Result<void> {
    HF_RETURN_IF_ERROR(store.CheckRemoteIdentity(peer, bundle.identity_key));
    HF_ASSIGN_OR_RETURN(const LocalIdentity local, store.GetLocalIdentity());
    HF_ASSIGN_OR_RETURN(Session session, LoadSession(store, peer));
    HF_RETURN_IF_ERROR(session.ProcessBundle(local.identity, local.registration_id, bundle, rng));
    HF_RETURN_IF_ERROR(store.SaveRemoteIdentity(peer, bundle.identity_key));
    return store.StoreSession(peer, session.Serialize().span());
  });
}

Result<Ciphertext> EncryptTo(ProtocolStore& store, std::string_view peer, ByteSpan plaintext) {
  return InTransaction<Ciphertext>(store, [&]() -> Result<Ciphertext> {
    HF_ASSIGN_OR_RETURN(Session session, LoadSession(store, peer));
    const auto remote = session.RemoteIdentity();
    if (!remote) {
      return ErrorCode::kNoSession;
    }
    HF_RETURN_IF_ERROR(store.CheckRemoteIdentity(peer, *remote));
    HF_ASSIGN_OR_RETURN(Ciphertext c, session.Encrypt(plaintext));
    HF_RETURN_IF_ERROR(store.StoreSession(peer, session.Serialize().span()));
    return c;
  });
}

Result<SecretBytes> DecryptFrom(ProtocolStore& store, std::string_view peer,
                                const Ciphertext& message, Rng& rng) {
  return InTransaction<SecretBytes>(store, [&]() -> Result<SecretBytes> {
    HF_ASSIGN_OR_RETURN(Session session, LoadSession(store, peer));
    SecretBytes plaintext;
    if (message.type == MessageType::kPreKey) {
      HF_ASSIGN_OR_RETURN(const PreKeySignalMessage m, ParsePreKeySignalMessage(message.body));
      HF_RETURN_IF_ERROR(store.CheckRemoteIdentity(peer, m.identity_key));
      HF_ASSIGN_OR_RETURN(const LocalIdentity local, store.GetLocalIdentity());
      LoadedPreKeys keys;
      HF_ASSIGN_OR_RETURN(keys.signed_pre_key, store.LoadSignedPreKey(m.signed_pre_key_id));
      if (m.pre_key_id) {
        keys.one_time_id = *m.pre_key_id;
        HF_ASSIGN_OR_RETURN(keys.one_time, store.LoadPreKey(*m.pre_key_id));
      }
      std::optional<uint32_t> used;
      HF_ASSIGN_OR_RETURN(plaintext, session.DecryptPreKey(local.identity, local.registration_id,
                                                           keys, message.body, rng, &used));
      if (used) {
        HF_RETURN_IF_ERROR(store.RemovePreKey(*used));
      }
      HF_RETURN_IF_ERROR(store.SaveRemoteIdentity(peer, m.identity_key));
    } else {
      if (const auto remote = session.RemoteIdentity()) {
        HF_RETURN_IF_ERROR(store.CheckRemoteIdentity(peer, *remote));
      }
      HF_ASSIGN_OR_RETURN(plaintext, session.Decrypt(message.body, rng));
    }
    HF_RETURN_IF_ERROR(store.StoreSession(peer, session.Serialize().span()));
    return plaintext;
  });
}

namespace {

Result<SenderKey> LoadSenderKey(ProtocolStore& store, std::string_view group,
                                std::string_view who) {
  HF_ASSIGN_OR_RETURN(auto bytes, store.LoadSenderKey(group, who));
  if (!bytes) {
    return SenderKey();
  }
  return SenderKey::Deserialize(bytes->span());
}

}  // namespace

Result<Bytes> GroupCreate(ProtocolStore& store, std::string_view group, std::string_view self,
                          Rng& rng) {
  return InTransaction<Bytes>(store, [&]() -> Result<Bytes> {
    HF_ASSIGN_OR_RETURN(SenderKey key, LoadSenderKey(store, group, self));
    if (key.DistributionMessage().ok()) {
      key.Rotate(rng);  // creating again means a new key, e.g. after a member left
    } else {
      key = SenderKey::CreateOwn(rng);
    }
    HF_ASSIGN_OR_RETURN(Bytes dist, key.DistributionMessage());
    HF_RETURN_IF_ERROR(store.StoreSenderKey(group, self, key.Serialize().span()));
    return dist;
  });
}

Result<Bytes> GroupDistribution(ProtocolStore& store, std::string_view group,
                                std::string_view self) {
  HF_ASSIGN_OR_RETURN(auto bytes, store.LoadSenderKey(group, self));
  if (!bytes) {
    return Error{ErrorCode::kNotFound, "no sender key for the group"};
  }
  HF_ASSIGN_OR_RETURN(const SenderKey key, SenderKey::Deserialize(bytes->span()));
  return key.DistributionMessage();
}

Result<void> GroupProcess(ProtocolStore& store, std::string_view group, std::string_view sender,
                          ByteSpan distribution) {
  return InTransaction<void>(store, [&]() -> Result<void> {
    HF_ASSIGN_OR_RETURN(SenderKey key, LoadSenderKey(store, group, sender));
    HF_RETURN_IF_ERROR(key.ProcessDistribution(distribution));
    return store.StoreSenderKey(group, sender, key.Serialize().span());
  });
}

Result<Bytes> GroupEncrypt(ProtocolStore& store, std::string_view group, std::string_view self,
                           ByteSpan plaintext, Rng& rng) {
  return InTransaction<Bytes>(store, [&]() -> Result<Bytes> {
    HF_ASSIGN_OR_RETURN(SenderKey key, LoadSenderKey(store, group, self));
    HF_ASSIGN_OR_RETURN(Bytes message, key.Encrypt(plaintext, rng));
    HF_RETURN_IF_ERROR(store.StoreSenderKey(group, self, key.Serialize().span()));
    return message;
  });
}

Result<SecretBytes> GroupDecrypt(ProtocolStore& store, std::string_view group,
                                 std::string_view sender, ByteSpan message) {
  return InTransaction<SecretBytes>(store, [&]() -> Result<SecretBytes> {
    HF_ASSIGN_OR_RETURN(SenderKey key, LoadSenderKey(store, group, sender));
    HF_ASSIGN_OR_RETURN(SecretBytes plaintext, key.Decrypt(message));
    HF_RETURN_IF_ERROR(store.StoreSenderKey(group, sender, key.Serialize().span()));
    return plaintext;
  });
}

}  // namespace holdfast::signal
