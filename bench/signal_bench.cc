// The Signal Protocol end to end: two Holdfast parties against two libsignal-protocol-c
// parties (testing::LibsignalParty, in-memory stores), 100-byte messages, the full path every
// time: encrypt, serialize to wire bytes, parse, decrypt.
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
//                                most a session keeps. Both implementations carry them through
//                                every decryption: libsignal in the session record it loads
//                                and stores, Holdfast in the state it copies.
//   BM_SignalSessionClone        Holdfast only: Session::Clone of Bob's session above, the
//                                copy Session::Decrypt makes of the state for every message.
//
// libsignal persists (serializes) the session record in its store on every operation, as in
// real use; Holdfast's Session has no serialization yet, so its numbers exclude persistence.
// Both sides draw randomness from Holdfast's SystemRng; libsignal's HMAC, SHA-512 and AES come
// from Holdfast's crypto module through its crypto provider (testing/src/libsignal_peer.cc).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bench_util.h"
#include "holdfast/crypto/random.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/signal/session.h"
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

// HoldfastParty is one Holdfast user, like signal/src/test_party.h's Party, with
// LibsignalParty's interface: bundles leave as bytes (Signal's 33-byte keys) and are parsed on
// arrival, messages travel as their wire bytes. Prekeys are kept as key pairs in maps.
class HoldfastParty : public signal::PreKeySource {
 public:
  explicit HoldfastParty(uint32_t registration_id)
      : identity_(crypto::X25519KeyPair::Generate(Random())), registration_id_(registration_id) {}

  // MakeBundle makes a new signed prekey (id 1) and one-time prekey, as libsignal's does.
  Result<PeerBundle> MakeBundle(uint32_t pre_key_id) {
    auto signed_pre_key = crypto::X25519KeyPair::Generate(Random());
    HF_ASSIGN_OR_RETURN(const auto signature,
                        crypto::XEdDsaSign(identity_.private_key,
                                           signed_pre_key.public_key.Serialize(), Random()));
    PeerBundle b;
    b.registration_id = registration_id_;
    b.identity_key = ToBytes(identity_.public_key.Serialize());
    b.signed_pre_key_id = kSignedPreKeyId;
    b.signed_pre_key = ToBytes(signed_pre_key.public_key.Serialize());
    b.signed_pre_key_signature = ToBytes(signature);
    signed_pre_keys_.insert_or_assign(kSignedPreKeyId, std::move(signed_pre_key));
    auto one_time = crypto::X25519KeyPair::Generate(Random());
    b.pre_key_id = pre_key_id;
    b.pre_key = ToBytes(one_time.public_key.Serialize());
    one_time_.insert_or_assign(pre_key_id, std::move(one_time));
    return b;
  }

  Result<void> ProcessBundle(const PeerBundle& p) {
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
    return session_.ProcessBundle(identity_, registration_id_, b, Random());
  }

  Result<signal::Ciphertext> Encrypt(ByteSpan plaintext) { return session_.Encrypt(plaintext); }

  Result<SecretBytes> Decrypt(const signal::Ciphertext& c) {
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

  void DropSession() { session_ = signal::Session(); }
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

// Each pair below has the same interface, so that the scenarios are written once:
//   Setup(text, got)        bundle, X3DH, first message Alice->Bob (a prekey message)
//   AliceToBob(text, got)   one message, encrypted, serialized, parsed and decrypted
//   BobToAlice(text, got)
//   Drop()                  forget both sessions (not the identities or Bob's prekeys)
// `got` receives the plaintext when it is not null. They return false on any failure.

class HoldfastPair {
 public:
  bool Setup(ByteSpan text, Bytes* got) {
    auto bundle = bob_.MakeBundle(kOneTimePreKeyId);
    return bundle.ok() && alice_.ProcessBundle(*bundle).ok() && Send(alice_, bob_, text, got);
  }
  bool AliceToBob(ByteSpan text, Bytes* got) { return Send(alice_, bob_, text, got); }
  bool BobToAlice(ByteSpan text, Bytes* got) { return Send(bob_, alice_, text, got); }
  void Drop() {
    alice_.DropSession();
    bob_.DropSession();
  }
  // Sending without delivery: the message is lost.
  bool AliceLoses(ByteSpan text) { return alice_.Encrypt(text).ok(); }
  const signal::Session& bob_session() const { return bob_.session(); }

 private:
  static bool Send(HoldfastParty& from, HoldfastParty& to, ByteSpan text, Bytes* got) {
    auto c = from.Encrypt(text);
    if (!c.ok()) {
      return false;
    }
    auto plaintext = to.Decrypt(*c);
    if (!plaintext.ok()) {
      return false;
    }
    if (got != nullptr) {
      *got = ToBytes(plaintext->span());
    }
    benchmark::DoNotOptimize(plaintext->data());
    return true;
  }

  HoldfastParty alice_{kAliceRegistrationId};
  HoldfastParty bob_{kBobRegistrationId};
};

// --- libsignal-protocol-c --------------------------------------------------------------------

class LibsignalPair {
 public:
  bool Setup(ByteSpan text, Bytes* got) {
    return alice_.ProcessBundle("bob", bob_.MakeBundle(kOneTimePreKeyId)) == kLibsignalSuccess &&
           Send(alice_, "bob", bob_, "alice", text, got);
  }
  bool AliceToBob(ByteSpan text, Bytes* got) { return Send(alice_, "bob", bob_, "alice", text, got); }
  bool BobToAlice(ByteSpan text, Bytes* got) { return Send(bob_, "alice", alice_, "bob", text, got); }
  void Drop() {
    alice_.sessions_.clear();
    bob_.sessions_.clear();
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
  if (!pair.Setup(text, &got) || !Same(got, text) || !pair.BobToAlice(text, &got) ||
      !Same(got, text)) {
    state.SkipWithError("session setup failed or the plaintext differs");
    return;
  }
  for (auto _ : state) {
    pair.Drop();
    if (!pair.Setup(text, nullptr)) {
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
  HoldfastPair* pair = BacklogPair<HoldfastPair>(static_cast<int>(state.range(0)));
  if (pair == nullptr) {
    state.SkipWithError("backlog setup failed");
    return;
  }
  for (auto _ : state) {
    auto copy = pair->bob_session().Clone();
    benchmark::DoNotOptimize(copy);
  }
}

void Backlogs(benchmark::internal::Benchmark* b) {
  b->Arg(kBacklogPerChain)->Arg(kBacklogMax)->Unit(benchmark::kMicrosecond);
}

HF_BENCH("BM_SignalSessionSetup/holdfast", SessionSetup<HoldfastPair>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalSessionSetup/libsignal", SessionSetup<LibsignalPair>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalAlternating/holdfast", Alternating<HoldfastPair>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalAlternating/libsignal", Alternating<LibsignalPair>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalOneDirection/holdfast", OneDirection<HoldfastPair>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalOneDirection/libsignal", OneDirection<LibsignalPair>)
    ->Unit(benchmark::kMicrosecond);
HF_BENCH("BM_SignalOneDirectionBacklog/holdfast", OneDirectionBacklog<HoldfastPair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalOneDirectionBacklog/libsignal", OneDirectionBacklog<LibsignalPair>)
    ->Apply(Backlogs);
HF_BENCH("BM_SignalSessionClone/holdfast", SessionCloneHoldfast)->Apply(Backlogs);

}  // namespace
}  // namespace holdfast::bench
