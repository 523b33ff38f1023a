// The Signal Protocol end to end: two Holdfast parties against two libsignal-protocol-c
// parties (testing::LibsignalParty, in-memory stores) and two libolm parties (Olm and Megolm,
// Matrix's double ratchet and group ratchet), 100-byte messages, the full path every time:
// encrypt, serialize to wire bytes, parse, decrypt.
//
// Implementations:
//   holdfast        two signal::Session objects held in memory (no persistence)
//   holdfast_store  the messenger operations (StartSession, EncryptTo, DecryptFrom) on
//                   NewMemoryProtocolStore(): every operation loads and deserializes the
//                   session, checks identities and stores the serialized session in one store
//                   transaction, as LibsignalParty's stores do for libsignal
//   libsignal       two LibsignalParty objects; libsignal loads and stores the serialized
//                   session record on every operation
//   libolm          two OlmParty objects: an OlmAccount and an OlmSession each, held in memory
//                   (no pickling, so no persistence: compare with holdfast); messages are
//                   libolm's base64, which is its wire format. For groups, an
//                   OlmOutboundGroupSession and an OlmInboundGroupSession (Megolm).
//
//   BM_SignalSessionSetup        Bob makes a bundle (new signed prekey with its XEdDSA
//                                signature, one new one-time prekey); Alice parses it, checks
//                                the signature, runs X3DH and encrypts a first (prekey)
//                                message; Bob decrypts it. Identity keys are made once,
//                                outside the loop; both sessions are dropped each iteration.
//                                libolm: Bob makes one one-time key and signs it with Ed25519
//                                (Matrix's signed_curve25519 key); Alice checks the signature
//                                and creates an outbound session with his identity key and the
//                                one-time key; Bob creates the inbound session from the prekey
//                                message, removes the one-time key and decrypts.
//   BM_SignalAlternating         established session; Alice->Bob then Bob->Alice, so every
//                                message makes its receiver take a DH ratchet step.
//   BM_SignalOneDirection        established session; Alice->Bob, same sending chain.
//   BM_SignalOneDirectionBacklog the same while Bob holds N skipped message keys (2000 per
//                                receiving chain, from messages that never arrived), the
//                                most a session keeps. Every implementation carries them
//                                through every decryption: libsignal and holdfast_store in the
//                                record they load and store; holdfast decrypts in place.
//                                Not for libolm, which keeps at most 40 skipped keys.
//   BM_SignalGroup               one group sender encrypts, one receiver decrypts. Sender
//                                Keys (holdfast, holdfast_store, libsignal): a
//                                SenderKeyMessage signed with XEdDSA, checked on receipt;
//                                holdfast_store and libsignal load and store the sender key
//                                state on both sides for every message. libolm: Megolm, a
//                                message signed with Ed25519, checked on receipt. The
//                                distribution (the Megolm session key) is processed once,
//                                outside the loop.
//
// Holdfast and libolm draw randomness from Holdfast's SystemRng (libolm takes random bytes
// from its caller). libsignal's HMAC, SHA-512, AES and randomness come from OpenSSL through
// the crypto provider in testing/src/libsignal_peer.cc, written as libsignal-protocol-c's own
// OpenSSL test provider is (a context per operation). libolm's crypto is its own throughout.
#include <benchmark/benchmark.h>
#include <olm/olm.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bench_util.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/signal/group.h"
#include "holdfast/signal/messenger.h"
#include "holdfast/signal/session.h"
#include "holdfast/signal/store.h"
#include "holdfast/testing/libsignal_party.h"

namespace holdfast::bench {
namespace {

using testing::PeerBundle;
using testing::PeerMessage;

constexpr size_t kMessageBytes = 100;
constexpr uint32_t kSignedPreKeyId = 1;  // as LibsignalParty::MakeBundle
constexpr uint32_t kOneTimePreKeyId = 77;
constexpr uint32_t kAliceRegistrationId = 1111;
constexpr uint32_t kBobRegistrationId = 2222;
constexpr int kLibsignalSuccess = 0;  // SG_SUCCESS
// The group and its one sender, for the stores that name them.
constexpr std::string_view kGroup = "group";
constexpr std::string_view kSender = "alice";
// Skipped keys a receiving chain keeps, and receiving chains a state keeps (libsignal's limits
// too): the backlog benchmark fills them.
constexpr int kBacklogPerChain = static_cast<int>(signal::kMaxSkippedKeys);
constexpr int kBacklogMax = kBacklogPerChain * static_cast<int>(signal::kMaxReceiverChains);

crypto::SystemRng& Random() {
  static crypto::SystemRng rng;
  return rng;
}

const Bytes& Plaintext() {
  static const Bytes text = TestBytes(kMessageBytes, 60);
  return text;
}

// --- Holdfast --------------------------------------------------------------------------------

// Bundles leave a party as bytes (Signal's 33-byte keys, as LibsignalParty's do) and are
// parsed on arrival.
Result<signal::PreKeyBundle> ParseBundle(const PeerBundle& p) {
  signal::PreKeyBundle b;
  b.registration_id = p.registration_id;
  if (p.pre_key_id != 0) {
    b.pre_key_id = p.pre_key_id;
    HF_ASSIGN_OR_RETURN(b.pre_key, crypto::X25519PublicKey::Parse(p.pre_key));
  }
  b.signed_pre_key_id = p.signed_pre_key_id;
  HF_ASSIGN_OR_RETURN(b.signed_pre_key, crypto::X25519PublicKey::Parse(p.signed_pre_key));
  b.signed_pre_key_signature = p.signed_pre_key_signature;
  HF_ASSIGN_OR_RETURN(b.identity_key, crypto::X25519PublicKey::Parse(p.identity_key));
  return b;
}

PeerBundle BundleBytes(uint32_t registration_id, const crypto::X25519PublicKey& identity,
                       const crypto::X25519PublicKey& signed_pre_key, ByteSpan signature,
                       uint32_t pre_key_id, const crypto::X25519PublicKey& pre_key) {
  PeerBundle b;
  b.registration_id = registration_id;
  b.identity_key = ToBytes(identity.Serialize());
  b.signed_pre_key_id = kSignedPreKeyId;
  b.signed_pre_key = ToBytes(signed_pre_key.Serialize());
  b.signed_pre_key_signature = ToBytes(signature);
  b.pre_key_id = pre_key_id;
  b.pre_key = ToBytes(pre_key.Serialize());
  return b;
}

// HoldfastParty is one Holdfast user holding its keys and its one Session in memory, like
// signal/src/test_party.h's Party. Prekeys are key pairs in maps. The `peer` arguments are
// ignored (one session).
class HoldfastParty : public signal::PreKeySource {
 public:
  explicit HoldfastParty(uint32_t registration_id)
      : identity_(crypto::X25519KeyPair::Generate(Random())), registration_id_(registration_id) {}

  // MakeBundle makes a new signed prekey (id 1) and one-time prekey, as libsignal's does.
  Result<PeerBundle> MakeBundle(uint32_t pre_key_id) {
    auto signed_pre_key = crypto::X25519KeyPair::Generate(Random());
    HF_ASSIGN_OR_RETURN(
        const auto signature,
        crypto::XEdDsaSign(identity_.private_key, signed_pre_key.public_key.Serialize(), Random()));
    auto one_time = crypto::X25519KeyPair::Generate(Random());
    PeerBundle b = BundleBytes(registration_id_, identity_.public_key, signed_pre_key.public_key,
                               signature, pre_key_id, one_time.public_key);
    signed_pre_keys_.insert_or_assign(kSignedPreKeyId, std::move(signed_pre_key));
    one_time_.insert_or_assign(pre_key_id, std::move(one_time));
    return b;
  }

  Result<void> ProcessBundle(std::string_view, const PeerBundle& p) {
    HF_ASSIGN_OR_RETURN(const signal::PreKeyBundle b, ParseBundle(p));
    return session_.ProcessBundle(identity_, registration_id_, b, Random());
  }

  Result<signal::Ciphertext> Encrypt(std::string_view, ByteSpan plaintext) {
    return session_.Encrypt(plaintext);
  }

  Result<SecretBytes> Decrypt(std::string_view, const signal::Ciphertext& c) {
    if (c.type == signal::MessageType::kPreKey) {
      std::optional<uint32_t> used;
      auto r = session_.DecryptPreKey(identity_, registration_id_, *this, c.body, Random(), &used);
      if (r.ok() && used) {
        one_time_.erase(*used);
      }
      return r;
    }
    return session_.Decrypt(c.body, Random());
  }

  Result<void> DropSession(std::string_view) {
    session_ = signal::Session();
    return Ok();
  }
  const signal::Session& session() const { return session_; }

  const crypto::X25519KeyPair* SignedPreKey(uint32_t id) const override {
    auto it = signed_pre_keys_.find(id);
    return it == signed_pre_keys_.end() ? nullptr : &it->second;
  }
  const crypto::X25519KeyPair* OneTimePreKey(uint32_t id) const override {
    auto it = one_time_.find(id);
    return it == one_time_.end() ? nullptr : &it->second;
  }

 private:
  crypto::X25519KeyPair identity_;
  uint32_t registration_id_;
  std::map<uint32_t, crypto::X25519KeyPair> signed_pre_keys_;
  std::map<uint32_t, crypto::X25519KeyPair> one_time_;
  signal::Session session_;
};

// HoldfastStoreParty is one Holdfast user on an in-memory ProtocolStore, through the
// messenger operations: what a client does, persistence included.
class HoldfastStoreParty {
 public:
  explicit HoldfastStoreParty(uint32_t registration_id) : store_(signal::NewMemoryProtocolStore()) {
    if (!store_->SetLocalIdentity({crypto::X25519KeyPair::Generate(Random()), registration_id})
             .ok()) {
      std::abort();
    }
  }

  // MakeBundle makes and stores a new signed prekey (id 1) and one-time prekey, as
  // libsignal's does (the messenger's NextBundle hands out prekeys made earlier instead).
  Result<PeerBundle> MakeBundle(uint32_t pre_key_id) {
    HF_ASSIGN_OR_RETURN(const signal::LocalIdentity local, store_->GetLocalIdentity());
    signal::SignedPreKeyRecord spk{kSignedPreKeyId, crypto::X25519KeyPair::Generate(Random()), {}};
    HF_ASSIGN_OR_RETURN(
        const auto signature,
        crypto::XEdDsaSign(local.identity.private_key, spk.key.public_key.Serialize(), Random()));
    spk.signature = ToBytes(signature);
    HF_RETURN_IF_ERROR(store_->StoreSignedPreKey(spk));
    const auto one_time = crypto::X25519KeyPair::Generate(Random());
    HF_RETURN_IF_ERROR(store_->StorePreKey(pre_key_id, one_time));
    return BundleBytes(local.registration_id, local.identity.public_key, spk.key.public_key,
                       signature, pre_key_id, one_time.public_key);
  }

  Result<void> ProcessBundle(std::string_view peer, const PeerBundle& p) {
    HF_ASSIGN_OR_RETURN(const signal::PreKeyBundle b, ParseBundle(p));
    return signal::StartSession(*store_, peer, b, Random());
  }

  Result<signal::Ciphertext> Encrypt(std::string_view peer, ByteSpan plaintext) {
    return signal::EncryptTo(*store_, peer, plaintext);
  }

  Result<SecretBytes> Decrypt(std::string_view peer, const signal::Ciphertext& c) {
    return signal::DecryptFrom(*store_, peer, c, Random());
  }

  // DropSession stores an empty session (the store has no delete); identities stay known.
  Result<void> DropSession(std::string_view peer) {
    return store_->StoreSession(peer, signal::Session().Serialize().span());
  }

 private:
  std::unique_ptr<signal::ProtocolStore> store_;
};

// Each pair below has the same interface, so that the scenarios are written once:
//   Setup(text, got)        bundle, X3DH, first message Alice->Bob (a prekey message)
//   AliceToBob(text, got)   one message, encrypted, serialized, parsed and decrypted
//   BobToAlice(text, got)
//   Drop()                  forget both sessions (not the identities or Bob's prekeys)
//   AliceLoses(text)        Alice encrypts a message that never arrives
// `got` receives the plaintext when it is not null. They return false on any failure.

template <typename Party>
class HoldfastPair {
 public:
  bool Setup(ByteSpan text, Bytes* got) {
    auto bundle = bob_.MakeBundle(kOneTimePreKeyId);
    return bundle.ok() && alice_.ProcessBundle("bob", *bundle).ok() &&
           Send(alice_, "bob", bob_, "alice", text, got);
  }
  bool AliceToBob(ByteSpan text, Bytes* got) {
    return Send(alice_, "bob", bob_, "alice", text, got);
  }
  bool BobToAlice(ByteSpan text, Bytes* got) {
    return Send(bob_, "alice", alice_, "bob", text, got);
  }
  bool Drop() { return alice_.DropSession("bob").ok() && bob_.DropSession("alice").ok(); }
  bool AliceLoses(ByteSpan text) { return alice_.Encrypt("bob", text).ok(); }
  const Party& bob() const { return bob_; }

 private:
  static bool Send(Party& from, std::string_view to_name, Party& to, std::string_view from_name,
                   ByteSpan text, Bytes* got) {
    auto c = from.Encrypt(to_name, text);
    if (!c.ok()) {
      return false;
    }
    auto plaintext = to.Decrypt(from_name, *c);
    if (!plaintext.ok()) {
      return false;
    }
    if (got != nullptr) {
      *got = ToBytes(plaintext->span());
    }
    benchmark::DoNotOptimize(plaintext->data());
    return true;
  }

  Party alice_{kAliceRegistrationId};
  Party bob_{kBobRegistrationId};
};

using SessionPair = HoldfastPair<HoldfastParty>;
using StorePair = HoldfastPair<HoldfastStoreParty>;

// --- libsignal-protocol-c --------------------------------------------------------------------

class LibsignalPair {
 public:
  bool Setup(ByteSpan text, Bytes* got) {
    return alice_.ProcessBundle("bob", bob_.MakeBundle(kOneTimePreKeyId)) == kLibsignalSuccess &&
           Send(alice_, "bob", bob_, "alice", text, got);
  }
  bool AliceToBob(ByteSpan text, Bytes* got) {
    return Send(alice_, "bob", bob_, "alice", text, got);
  }
  bool BobToAlice(ByteSpan text, Bytes* got) {
    return Send(bob_, "alice", alice_, "bob", text, got);
  }
  bool Drop() {
    alice_.sessions_.clear();
    bob_.sessions_.clear();
    return true;
  }
  bool AliceLoses(ByteSpan text) {
    PeerMessage m;
    return alice_.Encrypt("bob", text, &m) == kLibsignalSuccess;
  }

 private:
  static bool Send(testing::LibsignalParty& from, const std::string& to_name,
                   testing::LibsignalParty& to, const std::string& from_name, ByteSpan text,
                   Bytes* got) {
    PeerMessage m;
    if (from.Encrypt(to_name, text, &m) != kLibsignalSuccess) {
      return false;
    }
    Bytes plaintext;
    if (to.Decrypt(from_name, m, &plaintext) != kLibsignalSuccess) {
      return false;
    }
    benchmark::DoNotOptimize(plaintext.data());
    if (got != nullptr) {
      *got = std::move(plaintext);
    }
    return true;
  }

  testing::LibsignalParty alice_{kAliceRegistrationId};
  testing::LibsignalParty bob_{kBobRegistrationId};
};

// --- libolm (Olm, Megolm) --------------------------------------------------------------------

// OlmObject owns one libolm object (an account, a session, ...) in memory of libolm's size
// for it, and wipes it with libolm's olm_clear_* before freeing it.
template <typename T, size_t (*kSize)(), T* (*kInit)(void*), size_t (*kClear)(T*)>
class OlmObject {
 public:
  OlmObject()
      : memory_(std::make_unique_for_overwrite<uint8_t[]>(kSize())),
        object_(kInit(memory_.get())) {}
  ~OlmObject() { kClear(object_); }
  OlmObject(const OlmObject&) = delete;
  OlmObject& operator=(const OlmObject&) = delete;

  T* get() const { return object_; }

 private:
  std::unique_ptr<uint8_t[]> memory_;
  T* object_;  // in memory_
};

using OlmAccountObject = OlmObject<OlmAccount, olm_account_size, olm_account, olm_clear_account>;
using OlmSessionObject = OlmObject<OlmSession, olm_session_size, olm_session, olm_clear_session>;
using OlmUtilityObject = OlmObject<OlmUtility, olm_utility_size, olm_utility, olm_clear_utility>;
using OlmOutboundGroupObject =
    OlmObject<OlmOutboundGroupSession, olm_outbound_group_session_size, olm_outbound_group_session,
              olm_clear_outbound_group_session>;
using OlmInboundGroupObject = OlmObject<OlmInboundGroupSession, olm_inbound_group_session_size,
                                        olm_inbound_group_session, olm_clear_inbound_group_session>;

// OlmOk says whether a libolm call succeeded: every one returns olm_error() on failure.
bool OlmOk(size_t result) { return result != olm_error(); }

// OlmRandom returns `n` random bytes for one libolm call.
SecretBytes OlmRandom(size_t n) {
  SecretBytes random(n);
  Random().Fill(random.mutable_span());
  return random;
}

// OlmOutput fills a buffer of `n` bytes through `write(data, n)` (a libolm call that returns
// the length it wrote) and trims it to that length.
template <typename Buffer, typename Write>
bool OlmOutput(size_t n, Buffer* out, Write write) {
  Buffer buffer(n, {});
  const size_t written = write(buffer.data(), buffer.size());
  if (!OlmOk(written) || written > n) {
    return false;
  }
  buffer.resize(written);
  *out = std::move(buffer);
  return true;
}

// JsonString returns the string member `key` of the JSON object `j`, or null.
const std::string* JsonString(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) {
    return nullptr;
  }
  const auto it = j.find(key);
  return it != j.end() ? it->get_ptr<const std::string*>() : nullptr;
}

// SignedKeyJson is the canonical JSON of a Matrix signed_curve25519 key without its
// signatures: what its owner signs.
std::string SignedKeyJson(const std::string& key) { return "{\"key\":\"" + key + "\"}"; }

// OlmParty is one libolm user: an account (identity keys, one-time keys), held in memory with
// its one session.
class OlmParty {
 public:
  OlmParty() {
    SecretBytes random = OlmRandom(olm_create_account_random_length(account_.get()));
    std::string keys;
    if (!OlmOk(olm_create_account(account_.get(), random.data(), random.size())) ||
        !OlmOutput(olm_account_identity_keys_length(account_.get()), &keys,
                   [&](char* out, size_t n) {
                     return olm_account_identity_keys(account_.get(), out, n);
                   })) {
      return;
    }
    const auto j = nlohmann::json::parse(keys, nullptr, /*allow_exceptions=*/false);
    const std::string* curve25519 = JsonString(j, "curve25519");
    const std::string* ed25519 = JsonString(j, "ed25519");
    if (curve25519 != nullptr && ed25519 != nullptr) {
      curve25519_ = *curve25519;
      ed25519_ = *ed25519;
      ok_ = true;
    }
  }

  // ok is false if making the account failed.
  bool ok() const { return ok_; }
  // The identity keys (base64), published once, as Matrix's device keys.
  const std::string& curve25519() const { return curve25519_; }
  const std::string& ed25519() const { return ed25519_; }

  // PublishOneTimeKey makes one one-time key, marks it published and signs it with the
  // account's Ed25519 key, as a Matrix client uploads a signed_curve25519 key.
  bool PublishOneTimeKey(std::string* key, std::string* signature) {
    OlmAccount* a = account_.get();
    SecretBytes random = OlmRandom(olm_account_generate_one_time_keys_random_length(a, 1));
    std::string keys;
    if (!OlmOk(olm_account_generate_one_time_keys(a, 1, random.data(), random.size())) ||
        !OlmOutput(olm_account_one_time_keys_length(a), &keys,
                   [&](char* out, size_t n) { return olm_account_one_time_keys(a, out, n); }) ||
        !OlmOk(olm_account_mark_keys_as_published(a))) {
      return false;
    }
    // {"curve25519": {"<key id>": "<key>"}}, with the one key made above.
    const auto j = nlohmann::json::parse(keys, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return false;
    }
    const auto by_id = j.find("curve25519");
    if (by_id == j.end() || !by_id->is_object() || by_id->size() != 1) {
      return false;
    }
    const std::string* one_time = by_id->begin()->get_ptr<const std::string*>();
    if (one_time == nullptr) {
      return false;
    }
    *key = *one_time;
    const std::string signed_json = SignedKeyJson(*key);
    return OlmOutput(olm_account_signature_length(a), signature, [&](char* out, size_t n) {
      return olm_account_sign(a, signed_json.data(), signed_json.size(), out, n);
    });
  }

  // StartSession checks the signature on the peer's one-time key and creates an outbound
  // session to it. libolm decodes `signature` in place, so it is taken by value.
  bool StartSession(const OlmParty& peer, const std::string& one_time_key, std::string signature) {
    const std::string signed_json = SignedKeyJson(one_time_key);
    if (!OlmOk(olm_ed25519_verify(utility_.get(), peer.ed25519().data(), peer.ed25519().size(),
                                  signed_json.data(), signed_json.size(), signature.data(),
                                  signature.size()))) {
      return false;
    }
    session_.emplace();
    SecretBytes random = OlmRandom(olm_create_outbound_session_random_length(session_->get()));
    return OlmOk(olm_create_outbound_session(
        session_->get(), account_.get(), peer.curve25519().data(), peer.curve25519().size(),
        one_time_key.data(), one_time_key.size(), random.data(), random.size()));
  }

  // Encrypt encrypts `plaintext` into `message` (base64) of type `type`
  // (OLM_MESSAGE_TYPE_PRE_KEY until the peer has answered).
  bool Encrypt(ByteSpan plaintext, size_t* type, Bytes* message) {
    if (!session_) {
      return false;
    }
    OlmSession* s = session_->get();
    *type = olm_encrypt_message_type(s);
    SecretBytes random = OlmRandom(olm_encrypt_random_length(s));
    return OlmOutput(olm_encrypt_message_length(s, plaintext.size()), message,
                     [&](uint8_t* out, size_t n) {
                       return olm_encrypt(s, plaintext.data(), plaintext.size(), random.data(),
                                          random.size(), out, n);
                     });
  }

  // Decrypt decrypts `message` (libolm overwrites it). A prekey message that arrives without
  // a session creates the inbound session and removes the one-time key it used.
  bool Decrypt(size_t type, Bytes* message, SecretBytes* plaintext) {
    if (!session_) {
      if (type != OLM_MESSAGE_TYPE_PRE_KEY) {
        return false;
      }
      // Creating the session decodes the message in place, and decrypting needs it again.
      Bytes copy = *message;
      session_.emplace();
      if (!OlmOk(olm_create_inbound_session(session_->get(), account_.get(), copy.data(),
                                            copy.size())) ||
          !OlmOk(olm_remove_one_time_keys(account_.get(), session_->get()))) {
        session_.reset();
        return false;
      }
    }
    // The plaintext is shorter than its base64 message, so the message's length is enough
    // without olm_decrypt_max_plaintext_length (which would decode a copy first).
    SecretBytes out(message->size());
    const size_t n = olm_decrypt(session_->get(), type, message->data(), message->size(),
                                 out.data(), out.size());
    if (!OlmOk(n) || n > out.size()) {
      return false;
    }
    out.Shrink(n);
    *plaintext = std::move(out);
    return true;
  }

  void DropSession() { session_.reset(); }

 private:
  OlmAccountObject account_;
  OlmUtilityObject utility_;  // checks the peer's signatures
  std::optional<OlmSessionObject> session_;
  std::string curve25519_;
  std::string ed25519_;
  bool ok_ = false;
};

class OlmPair {
 public:
  bool Setup(ByteSpan text, Bytes* got) {
    std::string one_time_key;
    std::string signature;
    return alice_.ok() && bob_.ok() && bob_.PublishOneTimeKey(&one_time_key, &signature) &&
           alice_.StartSession(bob_, one_time_key, std::move(signature)) &&
           Send(alice_, bob_, text, got);
  }
  bool AliceToBob(ByteSpan text, Bytes* got) { return Send(alice_, bob_, text, got); }
  bool BobToAlice(ByteSpan text, Bytes* got) { return Send(bob_, alice_, text, got); }
  bool Drop() {
    alice_.DropSession();
    bob_.DropSession();
    return true;
  }
  bool AliceLoses(ByteSpan text) {
    size_t type = 0;
    Bytes message;
    return alice_.Encrypt(text, &type, &message);
  }

 private:
  static bool Send(OlmParty& from, OlmParty& to, ByteSpan text, Bytes* got) {
    size_t type = 0;
    Bytes message;
    SecretBytes plaintext;
    if (!from.Encrypt(text, &type, &message) || !to.Decrypt(type, &message, &plaintext)) {
      return false;
    }
    if (got != nullptr) {
      *got = ToBytes(plaintext.span());
    }
    benchmark::DoNotOptimize(plaintext.data());
    return true;
  }

  OlmParty alice_;
  OlmParty bob_;
};

// --- Groups ----------------------------------------------------------------------------------

// Each group below has the same interface, one sender and one receiver:
//   Setup()          the sender makes its key; the receiver processes its distribution
//   Send(text, got)  one message, encrypted by the sender and decrypted by the receiver
// `got` receives the plaintext when it is not null. They return false on any failure.

class HoldfastGroup {
 public:
  bool Setup() {
    sender_ = signal::SenderKey::CreateOwn(Random());
    auto distribution = sender_.DistributionMessage();
    return distribution.ok() && receiver_.ProcessDistribution(*distribution).ok();
  }
  bool Send(ByteSpan text, Bytes* got) {
    auto message = sender_.Encrypt(text, Random());
    if (!message.ok()) {
      return false;
    }
    auto plaintext = receiver_.Decrypt(*message);
    if (!plaintext.ok()) {
      return false;
    }
    if (got != nullptr) {
      *got = ToBytes(plaintext->span());
    }
    benchmark::DoNotOptimize(plaintext->data());
    return true;
  }

 private:
  signal::SenderKey sender_;
  signal::SenderKey receiver_;
};

class HoldfastStoreGroup {
 public:
  bool Setup() {
    auto distribution = signal::GroupCreate(*sender_, kGroup, kSender, Random());
    return distribution.ok() &&
           signal::GroupProcess(*receiver_, kGroup, kSender, *distribution).ok();
  }
  bool Send(ByteSpan text, Bytes* got) {
    auto message = signal::GroupEncrypt(*sender_, kGroup, kSender, text, Random());
    if (!message.ok()) {
      return false;
    }
    auto plaintext = signal::GroupDecrypt(*receiver_, kGroup, kSender, *message);
    if (!plaintext.ok()) {
      return false;
    }
    if (got != nullptr) {
      *got = ToBytes(plaintext->span());
    }
    benchmark::DoNotOptimize(plaintext->data());
    return true;
  }

 private:
  std::unique_ptr<signal::ProtocolStore> sender_ = signal::NewMemoryProtocolStore();
  std::unique_ptr<signal::ProtocolStore> receiver_ = signal::NewMemoryProtocolStore();
};

class LibsignalGroup {
 public:
  bool Setup() {
    Bytes distribution;
    return sender_.GroupCreate(group_, name_, &distribution) == kLibsignalSuccess &&
           receiver_.GroupProcess(group_, name_, distribution) == kLibsignalSuccess;
  }
  bool Send(ByteSpan text, Bytes* got) {
    Bytes message;
    if (sender_.GroupEncrypt(group_, name_, text, &message) != kLibsignalSuccess) {
      return false;
    }
    Bytes plaintext;
    if (receiver_.GroupDecrypt(group_, name_, message, &plaintext) != kLibsignalSuccess) {
      return false;
    }
    benchmark::DoNotOptimize(plaintext.data());
    if (got != nullptr) {
      *got = std::move(plaintext);
    }
    return true;
  }

 private:
  const std::string group_{kGroup};
  const std::string name_{kSender};
  testing::LibsignalParty sender_{kAliceRegistrationId};
  testing::LibsignalParty receiver_{kBobRegistrationId};
};

class MegolmGroup {
 public:
  bool Setup() {
    OlmOutboundGroupSession* out = outbound_.get();
    SecretBytes random = OlmRandom(olm_init_outbound_group_session_random_length(out));
    if (!OlmOk(olm_init_outbound_group_session(out, random.data(), random.size()))) {
      return false;
    }
    // The session key (base64, signed by the session's Ed25519 key) is what a Matrix client
    // sends each member in an m.room_key event over Olm.
    SecretBytes key(olm_outbound_group_session_key_length(out));
    const size_t n = olm_outbound_group_session_key(out, key.data(), key.size());
    return OlmOk(n) && n <= key.size() &&
           OlmOk(olm_init_inbound_group_session(inbound_.get(), key.data(), n));
  }
  bool Send(ByteSpan text, Bytes* got) {
    OlmOutboundGroupSession* out = outbound_.get();
    Bytes message;
    if (!OlmOutput(olm_group_encrypt_message_length(out, text.size()), &message,
                   [&](uint8_t* buffer, size_t n) {
                     return olm_group_encrypt(out, text.data(), text.size(), buffer, n);
                   })) {
      return false;
    }
    // As OlmParty::Decrypt: the message is decoded in place, and its length bounds the
    // plaintext's.
    SecretBytes plaintext(message.size());
    uint32_t index = 0;
    const size_t n = olm_group_decrypt(inbound_.get(), message.data(), message.size(),
                                       plaintext.data(), plaintext.size(), &index);
    if (!OlmOk(n) || n > plaintext.size()) {
      return false;
    }
    plaintext.Shrink(n);
    if (got != nullptr) {
      *got = ToBytes(plaintext.span());
    }
    benchmark::DoNotOptimize(plaintext.data());
    return true;
  }

 private:
  OlmOutboundGroupObject outbound_;
  OlmInboundGroupObject inbound_;
};

// --- Scenarios -------------------------------------------------------------------------------

// Established makes a session in which both sides have sent: Alice's messages are no longer
// prekey messages. It checks every plaintext.
template <typename Pair>
bool Established(Pair& pair) {
  const Bytes& text = Plaintext();
  Bytes got;
  return pair.Setup(text, &got) && Same(got, text) && pair.BobToAlice(text, &got) &&
         Same(got, text) && pair.AliceToBob(text, &got) && Same(got, text);
}

template <typename Pair>
void SessionSetup(benchmark::State& state) {
  Pair pair;
  const Bytes& text = Plaintext();
  Bytes got;
  // Twice, so that the timed setups all start from a dropped session.
  if (!pair.Setup(text, &got) || !Same(got, text) || !pair.BobToAlice(text, &got) ||
      !Same(got, text) || !pair.Drop() || !pair.Setup(text, &got) || !Same(got, text)) {
    state.SkipWithError("session setup failed or the plaintext differs");
    return;
  }
  for (auto _ : state) {
    if (!pair.Drop() || !pair.Setup(text, nullptr)) {
      state.SkipWithError("session setup failed");
      break;
    }
  }
}

template <typename Pair>
void Alternating(benchmark::State& state) {
  Pair pair;
  const Bytes& text = Plaintext();
  if (!Established(pair)) {
    state.SkipWithError("session setup failed or the plaintext differs");
    return;
  }
  for (auto _ : state) {
    if (!pair.AliceToBob(text, nullptr) || !pair.BobToAlice(text, nullptr)) {
      state.SkipWithError("message failed");
      break;
    }
  }
}

template <typename Pair>
void OneDirection(benchmark::State& state) {
  Pair pair;
  const Bytes& text = Plaintext();
  if (!Established(pair)) {
    state.SkipWithError("session setup failed or the plaintext differs");
    return;
  }
  for (auto _ : state) {
    if (!pair.AliceToBob(text, nullptr)) {
      state.SkipWithError("message failed");
      break;
    }
  }
}

// WithBacklog makes an established session in which Bob holds `skipped` skipped message keys:
// per receiving chain, Alice sends kBacklogPerChain messages that are lost and one that
// arrives; between chains Bob answers, so that Alice's next message starts a new chain.
template <typename Pair>
bool WithBacklog(Pair& pair, int skipped) {
  const Bytes& text = Plaintext();
  if (!Established(pair) || skipped % kBacklogPerChain != 0 || skipped > kBacklogMax) {
    return false;
  }
  Bytes got;
  for (int chain = 0; chain < skipped / kBacklogPerChain; ++chain) {
    if (chain > 0 && !pair.BobToAlice(text, nullptr)) {
      return false;
    }
    for (int i = 0; i < kBacklogPerChain; ++i) {
      if (!pair.AliceLoses(text)) {
        return false;
      }
    }
    if (!pair.AliceToBob(text, &got) || !Same(got, text)) {
      return false;
    }
  }
  return true;
}

// Building a backlog takes up to a second or two on libsignal, so each pair is built once per
// process and reused by every run of the benchmark (messages stay in one chain: the backlog
// neither grows nor shrinks).
template <typename Pair>
Pair* BacklogPair(int skipped) {
  static std::map<int, std::unique_ptr<Pair>> pairs;
  auto& p = pairs[skipped];
  if (!p) {
    p = std::make_unique<Pair>();
    if (!WithBacklog(*p, skipped)) {
      p.reset();
      return nullptr;
    }
  }
  return p.get();
}

template <typename Pair>
void OneDirectionBacklog(benchmark::State& state) {
  Pair* pair = BacklogPair<Pair>(static_cast<int>(state.range(0)));
  const Bytes& text = Plaintext();
  Bytes got;
  if (pair == nullptr || !pair->AliceToBob(text, &got) || !Same(got, text)) {
    state.SkipWithError("backlog setup failed or the plaintext differs");
    return;
  }
  for (auto _ : state) {
    if (!pair->AliceToBob(text, nullptr)) {
      state.SkipWithError("message failed");
      break;
    }
  }
}

// GroupMessage: one sender, one receiver; the distribution is processed once, outside the
// loop, and the first plaintext is checked before timing.
template <typename Group>
void GroupMessage(benchmark::State& state) {
  Group group;
  const Bytes& text = Plaintext();
  Bytes got;
  if (!group.Setup() || !group.Send(text, &got) || !Same(got, text)) {
    state.SkipWithError("group setup failed or the plaintext differs");
    return;
  }
  for (auto _ : state) {
    if (!group.Send(text, nullptr)) {
      state.SkipWithError("group message failed");
      break;
    }
  }
}

void Backlogs(benchmark::internal::Benchmark* b) {
  b->Arg(kBacklogPerChain)->Arg(kBacklogMax)->Unit(benchmark::kMicrosecond);
}

// Registered under the names run.sh pairs: BM_<Op>/<implementation>[/<arg>].
#define HF_SIGNAL_BENCH(op, fn)                                                             \
  HF_BENCH("BM_Signal" op "/holdfast", fn<SessionPair>)->Unit(benchmark::kMicrosecond);     \
  HF_BENCH("BM_Signal" op "/holdfast_store", fn<StorePair>)->Unit(benchmark::kMicrosecond); \
  HF_BENCH("BM_Signal" op "/libsignal", fn<LibsignalPair>)->Unit(benchmark::kMicrosecond);  \
  HF_BENCH("BM_Signal" op "/libolm", fn<OlmPair>)->Unit(benchmark::kMicrosecond)

HF_SIGNAL_BENCH("SessionSetup", SessionSetup);
HF_SIGNAL_BENCH("Alternating", Alternating);
HF_SIGNAL_BENCH("OneDirection", OneDirection);
HF_BENCH("BM_SignalOneDirectionBacklog/holdfast", OneDirectionBacklog<SessionPair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalOneDirectionBacklog/holdfast_store", OneDirectionBacklog<StorePair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalOneDirectionBacklog/libsignal", OneDirectionBacklog<LibsignalPair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalGroup/holdfast", GroupMessage<HoldfastGroup>)->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalGroup/holdfast_store", GroupMessage<HoldfastStoreGroup>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalGroup/libsignal", GroupMessage<LibsignalGroup>)->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalGroup/libolm", GroupMessage<MegolmGroup>)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace holdfast::bench
