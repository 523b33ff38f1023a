// The Signal Protocol end to end: two Holdfast parties against two libsignal-protocol-c
// parties (testing::LibsignalParty, in-memory stores), 100-byte messages, the full path every
// time: encrypt, serialize to wire bytes, parse, decrypt.
//
// Implementations:
//   holdfast        two signal::Session objects held in memory (no persistence)
//   holdfast_store  the messenger operations (StartSession, EncryptTo, DecryptFrom) on
//                   NewMemoryProtocolStore(): every operation loads and deserializes the
//                   session, checks identities and stores the serialized session in one store
//                   transaction, as LibsignalParty's stores do for libsignal
//   libsignal       two LibsignalParty objects; libsignal loads and stores the serialized
//                   session record on every operation
//
//   BM_SignalSessionSetup        Bob makes a bundle (new signed prekey with its XEdDSA
//                                signature, one new one-time prekey); Alice parses it, checks
//                                the signature, runs X3DH and encrypts a first (prekey)
//                                message; Bob decrypts it. Identity keys are made once,
//                                outside the loop; both sessions are dropped each iteration.
//   BM_SignalAlternating         established session; Alice->Bob then Bob->Alice, so every
//                                message makes its receiver take a DH ratchet step.
//   BM_SignalOneDirection        established session; Alice->Bob, same sending chain.
//   BM_SignalOneDirectionBacklog the same while Bob holds N skipped message keys (2000 per
//                                receiving chain, from messages that never arrived), the
//                                most a session keeps. Every implementation carries them
//                                through every decryption: libsignal and holdfast_store in the
//                                record they load and store, holdfast in the state it copies.
//   BM_SignalSessionClone        holdfast only: Session::Clone of Bob's session above, the
//                                copy Session::Decrypt makes of the state for every message.
//
// Both sides draw randomness from Holdfast's SystemRng; libsignal's HMAC, SHA-512 and AES come
// from Holdfast's crypto module through its crypto provider (testing/src/libsignal_peer.cc).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bench_util.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
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

void SessionCloneHoldfast(benchmark::State& state) {
  SessionPair* pair = BacklogPair<SessionPair>(static_cast<int>(state.range(0)));
  if (pair == nullptr) {
    state.SkipWithError("backlog setup failed");
    return;
  }
  for (auto _ : state) {
    auto copy = pair->bob().session().Clone();
    benchmark::DoNotOptimize(copy);
  }
}

void Backlogs(benchmark::internal::Benchmark* b) {
  b->Arg(kBacklogPerChain)->Arg(kBacklogMax)->Unit(benchmark::kMicrosecond);
}

// Registered under the names run.sh pairs: BM_<Op>/<implementation>[/<arg>].
#define HF_SIGNAL_BENCH(op, fn)                                                             \
  HF_BENCH("BM_Signal" op "/holdfast", fn<SessionPair>)->Unit(benchmark::kMicrosecond);     \
  HF_BENCH("BM_Signal" op "/holdfast_store", fn<StorePair>)->Unit(benchmark::kMicrosecond); \
  HF_BENCH("BM_Signal" op "/libsignal", fn<LibsignalPair>)->Unit(benchmark::kMicrosecond)

HF_SIGNAL_BENCH("SessionSetup", SessionSetup);
HF_SIGNAL_BENCH("Alternating", Alternating);
HF_SIGNAL_BENCH("OneDirection", OneDirection);
HF_BENCH("BM_SignalOneDirectionBacklog/holdfast", OneDirectionBacklog<SessionPair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalOneDirectionBacklog/holdfast_store", OneDirectionBacklog<StorePair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalOneDirectionBacklog/libsignal", OneDirectionBacklog<LibsignalPair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalSessionClone/holdfast", SessionCloneHoldfast)->Apply(Backlogs);

}  // namespace
}  // namespace holdfast::bench
