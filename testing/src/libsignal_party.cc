#include "holdfast/testing/libsignal_party.h"

#include <signal/group_cipher.h>
#include <signal/group_session_builder.h>
#include <signal/key_helper.h>
#include <signal/protocol.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/session_pre_key.h>
#include <signal/signal_protocol.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace holdfast::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "libsignal party: %s\n", what);
  std::abort();
}

LibsignalParty* Self(void* ud) { return static_cast<LibsignalParty*>(ud); }

std::string Key(const signal_protocol_address* a) {
  return std::string(a->name, a->name_len) + "." + std::to_string(a->device_id);
}

Bytes BufferBytes(signal_buffer* b) {
  return Bytes(signal_buffer_data(b), signal_buffer_data(b) + signal_buffer_len(b));
}

Bytes PublicBytes(ec_public_key* key) {
  signal_buffer* b = nullptr;
  if (ec_public_key_serialize(&b, key) != 0) {
    Die("serialize public key");
  }
  Bytes out = BufferBytes(b);
  signal_buffer_free(b);
  return out;
}

int LoadFrom(const std::map<uint32_t, Bytes>& m, signal_buffer** record, uint32_t id) {
  auto it = m.find(id);
  if (it == m.end()) {
    return SG_ERR_INVALID_KEY_ID;
  }
  *record = signal_buffer_create(it->second.data(), it->second.size());
  return SG_SUCCESS;
}

// Session store.
int LoadSession(signal_buffer** record, signal_buffer** user_record,
                const signal_protocol_address* a, void* ud) {
  *user_record = nullptr;
  auto& m = Self(ud)->sessions_;
  auto it = m.find(Key(a));
  if (it == m.end()) {
    return 0;
  }
  *record = signal_buffer_create(it->second.data(), it->second.size());
  return 1;
}
int SubDevices(signal_int_list** sessions, const char*, size_t, void*) {
  *sessions = signal_int_list_alloc();
  return 0;
}
int StoreSession(const signal_protocol_address* a, uint8_t* record, size_t len, uint8_t*, size_t,
                 void* ud) {
  Self(ud)->sessions_[Key(a)] = Bytes(record, record + len);
  return 0;
}
int ContainsSession(const signal_protocol_address* a, void* ud) {
  return Self(ud)->sessions_.count(Key(a)) ? 1 : 0;
}
int DeleteSession(const signal_protocol_address* a, void* ud) {
  return static_cast<int>(Self(ud)->sessions_.erase(Key(a)));
}
int DeleteAllSessions(const char*, size_t, void*) { return 0; }

// Prekey stores.
int LoadPreKey(signal_buffer** r, uint32_t id, void* ud) {
  return LoadFrom(Self(ud)->pre_keys_, r, id);
}
int StorePreKey(uint32_t id, uint8_t* r, size_t n, void* ud) {
  Self(ud)->pre_keys_[id] = Bytes(r, r + n);
  return 0;
}
int ContainsPreKey(uint32_t id, void* ud) { return Self(ud)->pre_keys_.count(id) ? 1 : 0; }
int RemovePreKey(uint32_t id, void* ud) {
  Self(ud)->pre_keys_.erase(id);
  return 0;
}
int LoadSigned(signal_buffer** r, uint32_t id, void* ud) {
  return LoadFrom(Self(ud)->signed_pre_keys_, r, id);
}
int StoreSigned(uint32_t id, uint8_t* r, size_t n, void* ud) {
  Self(ud)->signed_pre_keys_[id] = Bytes(r, r + n);
  return 0;
}
int ContainsSigned(uint32_t id, void* ud) { return Self(ud)->signed_pre_keys_.count(id) ? 1 : 0; }
int RemoveSigned(uint32_t id, void* ud) {
  Self(ud)->signed_pre_keys_.erase(id);
  return 0;
}

// Identity store: trust on first use.
int GetIdentityPair(signal_buffer** pub, signal_buffer** priv, void* ud) {
  *pub = signal_buffer_create(Self(ud)->identity_public_.data(), Self(ud)->identity_public_.size());
  *priv =
      signal_buffer_create(Self(ud)->identity_private_.data(), Self(ud)->identity_private_.size());
  return 0;
}
int GetRegistrationId(void* ud, uint32_t* id) {
  *id = Self(ud)->registration_id_;
  return 0;
}
int SaveIdentity(const signal_protocol_address* a, uint8_t* key, size_t len, void* ud) {
  Self(ud)->identities_[std::string(a->name, a->name_len)] = Bytes(key, key + len);
  return 0;
}
int IsTrusted(const signal_protocol_address* a, uint8_t* key, size_t len, void* ud) {
  auto& ids = Self(ud)->identities_;
  auto it = ids.find(std::string(a->name, a->name_len));
  if (it == ids.end()) {
    return Self(ud)->strict_identities_ ? 0 : 1;
  }
  return it->second == Bytes(key, key + len) ? 1 : 0;
}

// Sender key store.
std::string SenderKeyId(const signal_protocol_sender_key_name* n) {
  return std::string(n->group_id, n->group_id_len) + "|" + Key(&n->sender);
}
int StoreSenderKey(const signal_protocol_sender_key_name* n, uint8_t* r, size_t len, uint8_t*,
                   size_t, void* ud) {
  Self(ud)->sender_keys_[SenderKeyId(n)] = Bytes(r, r + len);
  return 0;
}
int LoadSenderKey(signal_buffer** r, signal_buffer** user_record,
                  const signal_protocol_sender_key_name* n, void* ud) {
  *user_record = nullptr;
  auto& m = Self(ud)->sender_keys_;
  auto it = m.find(SenderKeyId(n));
  if (it == m.end()) {
    return 0;
  }
  *r = signal_buffer_create(it->second.data(), it->second.size());
  return 1;
}

void NoDestroy(void*) {}

signal_protocol_address Address(const std::string& peer) {
  return signal_protocol_address{peer.c_str(), peer.size(), 1};
}

}  // namespace

LibsignalParty::LibsignalParty(uint32_t registration_id) : registration_id_(registration_id) {
  ratchet_identity_key_pair* pair = nullptr;
  if (signal_protocol_key_helper_generate_identity_key_pair(&pair, peer_.context()) != 0) {
    Die("identity");
  }
  identity_pair_ = pair;
  identity_public_ = PublicBytes(ratchet_identity_key_pair_get_public(pair));
  signal_buffer* priv = nullptr;
  if (ec_private_key_serialize(&priv, ratchet_identity_key_pair_get_private(pair)) != 0) {
    Die("private");
  }
  identity_private_ = BufferBytes(priv);
  signal_buffer_bzero_free(priv);

  if (signal_protocol_store_context_create(&store_, peer_.context()) != 0) {
    Die("store");
  }
  signal_protocol_session_store ss = {LoadSession,     SubDevices,    StoreSession,
                                      ContainsSession, DeleteSession, DeleteAllSessions,
                                      NoDestroy,       this};
  signal_protocol_pre_key_store ps = {LoadPreKey,   StorePreKey, ContainsPreKey,
                                      RemovePreKey, NoDestroy,   this};
  signal_protocol_signed_pre_key_store sps = {LoadSigned,   StoreSigned, ContainsSigned,
                                              RemoveSigned, NoDestroy,   this};
  signal_protocol_identity_key_store is = {GetIdentityPair, GetRegistrationId, SaveIdentity,
                                           IsTrusted,       NoDestroy,         this};
  if (signal_protocol_store_context_set_session_store(store_, &ss) != 0 ||
      signal_protocol_store_context_set_pre_key_store(store_, &ps) != 0 ||
      signal_protocol_store_context_set_signed_pre_key_store(store_, &sps) != 0 ||
      signal_protocol_store_context_set_identity_key_store(store_, &is) != 0) {
    Die("set stores");
  }
  signal_protocol_sender_key_store sks = {StoreSenderKey, LoadSenderKey, NoDestroy, this};
  if (signal_protocol_store_context_set_sender_key_store(store_, &sks) != 0) {
    Die("set stores");
  }
}

LibsignalParty::~LibsignalParty() {
  signal_protocol_store_context_destroy(store_);
  auto* pair = static_cast<ratchet_identity_key_pair*>(identity_pair_);
  SIGNAL_UNREF(pair);
}

PeerBundle LibsignalParty::MakeBundle(uint32_t pre_key_id) {
  auto* pair = static_cast<ratchet_identity_key_pair*>(identity_pair_);
  PeerBundle b;
  b.registration_id = registration_id_;
  b.identity_key = identity_public_;
  session_signed_pre_key* spk = nullptr;
  if (signal_protocol_key_helper_generate_signed_pre_key(&spk, pair, 1, 0, peer_.context()) != 0) {
    Die("signed prekey");
  }
  signal_buffer* rec = nullptr;
  if (session_signed_pre_key_serialize(&rec, spk) != 0) {
    Die("serialize signed prekey");
  }
  signed_pre_keys_[1] = BufferBytes(rec);
  signal_buffer_free(rec);
  b.signed_pre_key_id = 1;
  b.signed_pre_key = PublicBytes(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)));
  b.signed_pre_key_signature = Bytes(
      session_signed_pre_key_get_signature(spk),
      session_signed_pre_key_get_signature(spk) + session_signed_pre_key_get_signature_len(spk));
  SIGNAL_UNREF(spk);
  if (pre_key_id != 0) {
    signal_protocol_key_helper_pre_key_list_node* head = nullptr;
    if (signal_protocol_key_helper_generate_pre_keys(&head, pre_key_id, 1, peer_.context()) != 0) {
      Die("prekeys");
    }
    session_pre_key* pk = signal_protocol_key_helper_key_list_element(head);
    if (session_pre_key_serialize(&rec, pk) != 0) {
      Die("serialize prekey");
    }
    pre_keys_[session_pre_key_get_id(pk)] = BufferBytes(rec);
    signal_buffer_free(rec);
    b.pre_key_id = session_pre_key_get_id(pk);
    b.pre_key = PublicBytes(ec_key_pair_get_public(session_pre_key_get_key_pair(pk)));
    signal_protocol_key_helper_key_list_free(head);
  }
  return b;
}

int LibsignalParty::ProcessBundle(const std::string& peer, const PeerBundle& b) {
  ec_public_key *identity = nullptr, *spk = nullptr, *pk = nullptr;
  int rc =
      curve_decode_point(&identity, b.identity_key.data(), b.identity_key.size(), peer_.context());
  if (rc == 0) {
    rc =
        curve_decode_point(&spk, b.signed_pre_key.data(), b.signed_pre_key.size(), peer_.context());
  }
  if (rc == 0 && b.pre_key_id != 0) {
    rc = curve_decode_point(&pk, b.pre_key.data(), b.pre_key.size(), peer_.context());
  }
  session_pre_key_bundle* bundle = nullptr;
  if (rc == 0) {
    rc = session_pre_key_bundle_create(&bundle, b.registration_id, 1, b.pre_key_id, pk,
                                       b.signed_pre_key_id, spk, b.signed_pre_key_signature.data(),
                                       b.signed_pre_key_signature.size(), identity);
  }
  const signal_protocol_address addr = Address(peer);
  session_builder* builder = nullptr;
  if (rc == 0) {
    rc = session_builder_create(&builder, store_, &addr, peer_.context());
  }
  if (rc == 0) {
    rc = session_builder_process_pre_key_bundle(builder, bundle);
  }
  session_builder_free(builder);
  SIGNAL_UNREF(bundle);
  SIGNAL_UNREF(identity);
  SIGNAL_UNREF(spk);
  SIGNAL_UNREF(pk);
  return rc;
}

int LibsignalParty::Encrypt(const std::string& peer, ByteSpan plaintext, PeerMessage* out) {
  const signal_protocol_address addr = Address(peer);
  session_cipher* cipher = nullptr;
  int rc = session_cipher_create(&cipher, store_, &addr, peer_.context());
  ciphertext_message* msg = nullptr;
  if (rc == 0) {
    rc = session_cipher_encrypt(cipher, plaintext.data(), plaintext.size(), &msg);
  }
  if (rc == 0) {
    out->type = ciphertext_message_get_type(msg);
    out->body = BufferBytes(ciphertext_message_get_serialized(msg));
  }
  SIGNAL_UNREF(msg);
  session_cipher_free(cipher);
  return rc;
}

int LibsignalParty::Decrypt(const std::string& peer, const PeerMessage& m, Bytes* plaintext) {
  const signal_protocol_address addr = Address(peer);
  session_cipher* cipher = nullptr;
  int rc = session_cipher_create(&cipher, store_, &addr, peer_.context());
  signal_buffer* out = nullptr;
  if (rc == 0 && m.type == CIPHERTEXT_PREKEY_TYPE) {
    pre_key_signal_message* msg = nullptr;
    rc = pre_key_signal_message_deserialize(&msg, m.body.data(), m.body.size(), peer_.context());
    if (rc == 0) {
      rc = session_cipher_decrypt_pre_key_signal_message(cipher, msg, nullptr, &out);
    }
    SIGNAL_UNREF(msg);
  } else if (rc == 0) {
    signal_message* msg = nullptr;
    rc = signal_message_deserialize(&msg, m.body.data(), m.body.size(), peer_.context());
    if (rc == 0) {
      rc = session_cipher_decrypt_signal_message(cipher, msg, nullptr, &out);
    }
    SIGNAL_UNREF(msg);
  }
  if (rc == 0) {
    *plaintext = BufferBytes(out);
  }
  signal_buffer_bzero_free(out);
  session_cipher_free(cipher);
  return rc;
}

namespace {
signal_protocol_sender_key_name SenderKeyName(const std::string& group, const std::string& sender) {
  return signal_protocol_sender_key_name{group.c_str(), group.size(), Address(sender)};
}
}  // namespace

int LibsignalParty::GroupCreate(const std::string& group, const std::string& self,
                                Bytes* distribution) {
  group_session_builder* builder = nullptr;
  int rc = group_session_builder_create(&builder, store_, peer_.context());
  const auto name = SenderKeyName(group, self);
  sender_key_distribution_message* dist = nullptr;
  if (rc == 0) {
    rc = group_session_builder_create_session(builder, &dist, &name);
  }
  if (rc == 0) {
    *distribution =
        BufferBytes(ciphertext_message_get_serialized(reinterpret_cast<ciphertext_message*>(dist)));
  }
  SIGNAL_UNREF(dist);
  group_session_builder_free(builder);
  return rc;
}

int LibsignalParty::GroupProcess(const std::string& group, const std::string& sender,
                                 ByteSpan distribution) {
  group_session_builder* builder = nullptr;
  int rc = group_session_builder_create(&builder, store_, peer_.context());
  sender_key_distribution_message* dist = nullptr;
  if (rc == 0) {
    rc = sender_key_distribution_message_deserialize(&dist, distribution.data(),
                                                     distribution.size(), peer_.context());
  }
  const auto name = SenderKeyName(group, sender);
  if (rc == 0) {
    rc = group_session_builder_process_session(builder, &name, dist);
  }
  SIGNAL_UNREF(dist);
  group_session_builder_free(builder);
  return rc;
}

int LibsignalParty::GroupEncrypt(const std::string& group, const std::string& self,
                                 ByteSpan plaintext, Bytes* out) {
  const auto name = SenderKeyName(group, self);
  group_cipher* cipher = nullptr;
  int rc = group_cipher_create(&cipher, store_, &name, peer_.context());
  ciphertext_message* msg = nullptr;
  if (rc == 0) {
    rc = group_cipher_encrypt(cipher, plaintext.data(), plaintext.size(), &msg);
  }
  if (rc == 0) {
    *out = BufferBytes(ciphertext_message_get_serialized(msg));
  }
  SIGNAL_UNREF(msg);
  group_cipher_free(cipher);
  return rc;
}

int LibsignalParty::GroupDecrypt(const std::string& group, const std::string& sender,
                                 ByteSpan message, Bytes* plaintext) {
  const auto name = SenderKeyName(group, sender);
  group_cipher* cipher = nullptr;
  int rc = group_cipher_create(&cipher, store_, &name, peer_.context());
  sender_key_message* msg = nullptr;
  if (rc == 0) {
    rc = sender_key_message_deserialize(&msg, message.data(), message.size(), peer_.context());
  }
  signal_buffer* out = nullptr;
  if (rc == 0) {
    rc = group_cipher_decrypt(cipher, msg, nullptr, &out);
  }
  if (rc == 0) {
    *plaintext = BufferBytes(out);
  }
  signal_buffer_bzero_free(out);
  SIGNAL_UNREF(msg);
  group_cipher_free(cipher);
  return rc;
}

}  // namespace holdfast::testing
