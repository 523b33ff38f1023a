#include "holdfast/signal/session.h"

#include <algorithm>
#include <vector>

#include "holdfast/crypto/aes.h"
#include "holdfast/crypto/xeddsa.h"
#include "session_state.h"

namespace holdfast::signal {

namespace {

constexpr uint8_t kDiscontinuity = 0xFF;

Result<void> AppendAgreement(SecretBytes& buf, size_t& used, const crypto::X25519PrivateKey& ours,
                             const crypto::X25519PublicKey& theirs) {
  HF_ASSIGN_OR_RETURN(const auto shared, crypto::X25519Agree(ours, theirs));
  std::copy_n(shared.data(), shared.size(), buf.data() + used);
  used += shared.size();
  return Ok();
}

// X3DH's input: 32 bytes of 0xFF, then the three or four agreements.
SecretBytes NewAgreementBuffer(size_t& used) {
  SecretBytes buf(kKeyBytes * 5);
  std::fill_n(buf.data(), kKeyBytes, kDiscontinuity);
  used = kKeyBytes;
  return buf;
}

ReceiverChain* FindReceiver(SessionState& s, const crypto::X25519PublicKey& key) {
  for (auto& r : s.receivers) {
    if (r.ratchet_key == key) {
      return &r;
    }
  }
  return nullptr;
}

// Open checks a message's MAC with `keys` and decrypts it. Nothing is changed.
Result<SecretBytes> Open(const SessionState& s, const SignalMessage& m, const MessageKeys& keys) {
  HF_RETURN_IF_ERROR(VerifyMac(m, keys.mac_key, s.remote_identity, s.local_identity));
  auto plaintext = crypto::Aes256CbcDecrypt(keys.cipher_key.span(), keys.iv.span(), m.ciphertext);
  if (!plaintext.ok()) {
    return ErrorCode::kAuthenticationFailed;
  }
  return std::move(*plaintext);
}

// Advanced is a receiving chain moved forward to a message's counter, beside the chain it
// came from: the keys it passed over and the message's own keys.
struct Advanced {
  ChainKey chain;                   // the link after the message's
  std::vector<MessageKeys> passed;  // keys of the messages skipped on the way, oldest first
  MessageKeys keys;                 // the message's
};

Result<Advanced> AdvanceTo(const ChainKey& from, uint32_t counter) {
  if (counter - from.index > kMaxMessageGap) {
    return Error{ErrorCode::kOversized, "message too far ahead in its chain"};
  }
  Advanced a{from.Clone(), {}, {}};
  a.passed.reserve(counter - from.index);
  while (a.chain.index < counter) {
    a.passed.push_back(a.chain.Step());
  }
  a.keys = a.chain.Step();
  return a;
}

void KeepSkipped(ReceiverChain& r, std::vector<MessageKeys>& passed) {
  for (auto& k : passed) {
    r.skipped.push_back(std::move(k));
    if (r.skipped.size() > kMaxSkippedKeys) {
      r.skipped.pop_front();
    }
  }
}

// DecryptIn reads one message with state `s`, which it changes only once the message has
// authenticated and decrypted: on any failure `s` is exactly as it was. The work is done on
// the side (the chain's next links, a new ratchet step) and moved in at the end, so a
// message costs no copy of the state, however many skipped keys it holds.
Result<SecretBytes> DecryptIn(SessionState& s, const SignalMessage& m, Rng& rng) {
  if (ReceiverChain* r = FindReceiver(s, m.ratchet_key)) {
    if (m.counter < r->chain.index) {
      auto it = std::find_if(r->skipped.begin(), r->skipped.end(),
                             [&](const MessageKeys& k) { return k.counter == m.counter; });
      if (it == r->skipped.end()) {
        return ErrorCode::kDuplicateMessage;
      }
      HF_ASSIGN_OR_RETURN(SecretBytes plaintext, Open(s, m, *it));
      r->skipped.erase(it);
      s.pending.reset();  // the peer has our session now
      return plaintext;
    }
    HF_ASSIGN_OR_RETURN(Advanced a, AdvanceTo(r->chain, m.counter));
    HF_ASSIGN_OR_RETURN(SecretBytes plaintext, Open(s, m, a.keys));
    KeepSkipped(*r, a.passed);
    r->chain = std::move(a.chain);
    s.pending.reset();
    return plaintext;
  }
  // A new ratchet key: a DH ratchet step, two root steps and a new ratchet key of ours.
  HF_ASSIGN_OR_RETURN(RootAndChain receiving,
                      RootStep(s.root_key, m.ratchet_key, s.sender_ratchet_private));
  HF_ASSIGN_OR_RETURN(Advanced a, AdvanceTo(receiving.chain, m.counter));
  HF_ASSIGN_OR_RETURN(SecretBytes plaintext, Open(s, m, a.keys));
  auto ours = crypto::X25519KeyPair::Generate(rng);
  HF_ASSIGN_OR_RETURN(RootAndChain sending,
                      RootStep(receiving.root, m.ratchet_key, ours.private_key));
  // Authenticated: from here on nothing fails.
  ReceiverChain chain{m.ratchet_key, std::move(a.chain), {}};
  KeepSkipped(chain, a.passed);
  s.receivers.push_front(std::move(chain));
  if (s.receivers.size() > kMaxReceiverChains) {
    s.receivers.pop_back();
  }
  s.root_key = std::move(sending.root);
  s.previous_counter = s.sender_chain.index > 0 ? s.sender_chain.index - 1 : 0;
  s.sender_ratchet_private = std::move(ours.private_key);
  s.sender_ratchet_public = ours.public_key;
  s.sender_chain = std::move(sending.chain);
  s.pending.reset();
  return plaintext;
}

}  // namespace

Session::Session() = default;
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

Session Session::Clone() const {
  Session s;
  if (current_) {
    s.current_ = current_->Clone();
  }
  for (const auto& p : previous_) {
    s.previous_.push_back(p->Clone());
  }
  return s;
}

bool Session::has_current() const { return current_ != nullptr; }

std::optional<crypto::X25519PublicKey> Session::RemoteIdentity() const {
  if (!current_) {
    return std::nullopt;
  }
  return current_->remote_identity;
}

Result<void> Session::ProcessBundle(const crypto::X25519KeyPair& our_identity,
                                    uint32_t our_registration_id, const PreKeyBundle& bundle,
                                    Rng& rng) {
  if (!crypto::XEdDsaVerify(bundle.identity_key, bundle.signed_pre_key.Serialize(),
                            bundle.signed_pre_key_signature)
           .ok()) {
    return ErrorCode::kInvalidSignature;
  }
  if (bundle.pre_key_id.has_value() != bundle.pre_key.has_value()) {
    return Error{ErrorCode::kMalformed, "one-time prekey id without key"};
  }
  const auto base = crypto::X25519KeyPair::Generate(rng);
  size_t used = 0;
  SecretBytes agreements = NewAgreementBuffer(used);
  HF_RETURN_IF_ERROR(
      AppendAgreement(agreements, used, our_identity.private_key, bundle.signed_pre_key));
  HF_RETURN_IF_ERROR(AppendAgreement(agreements, used, base.private_key, bundle.identity_key));
  HF_RETURN_IF_ERROR(AppendAgreement(agreements, used, base.private_key, bundle.signed_pre_key));
  if (bundle.pre_key) {
    HF_RETURN_IF_ERROR(AppendAgreement(agreements, used, base.private_key, *bundle.pre_key));
  }
  RootAndChain initial = DeriveInitialKeys(agreements.span().first(used));

  auto ratchet = crypto::X25519KeyPair::Generate(rng);
  HF_ASSIGN_OR_RETURN(RootAndChain sending,
                      RootStep(initial.root, bundle.signed_pre_key, ratchet.private_key));
  auto state = std::unique_ptr<SessionState>(
      new SessionState{our_identity.public_key,
                       bundle.identity_key,
                       our_registration_id,
                       bundle.registration_id,
                       std::move(sending.root),
                       std::move(ratchet.private_key),
                       ratchet.public_key,
                       std::move(sending.chain),
                       0,
                       {},
                       PendingPreKey{bundle.pre_key_id, bundle.signed_pre_key_id, base.public_key},
                       base.public_key});
  state->receivers.push_front(ReceiverChain{bundle.signed_pre_key, std::move(initial.chain), {}});
  Install(std::move(state));
  return Ok();
}

Result<Ciphertext> Session::Encrypt(ByteSpan plaintext) {
  if (!current_) {
    return ErrorCode::kNoSession;
  }
  SessionState& s = *current_;
  ChainKey next = s.sender_chain.Clone();
  const MessageKeys keys = next.Step();
  HF_ASSIGN_OR_RETURN(const Bytes body,
                      crypto::Aes256CbcEncrypt(keys.cipher_key.span(), keys.iv.span(), plaintext));
  Bytes message =
      SerializeSignalMessage(s.sender_ratchet_public, keys.counter, s.previous_counter, body,
                             keys.mac_key, s.local_identity, s.remote_identity);
  s.sender_chain = std::move(next);
  if (s.pending) {
    return Ciphertext{MessageType::kPreKey,
                      SerializePreKeySignalMessage(s.local_registration_id, s.pending->pre_key_id,
                                                   s.pending->signed_pre_key_id,
                                                   s.pending->base_key, s.local_identity, message)};
  }
  return Ciphertext{MessageType::kMessage, std::move(message)};
}

Result<SecretBytes> Session::Decrypt(ByteSpan message, Rng& rng) {
  HF_ASSIGN_OR_RETURN(const SignalMessage m, ParseSignalMessage(message));
  return DecryptParsed(m, rng);
}

Result<SecretBytes> Session::DecryptParsed(const SignalMessage& m, Rng& rng) {
  if (!current_) {
    return ErrorCode::kNoSession;
  }
  // Try the current state, then the archived ones; the first that reads the message keeps
  // its changes (DecryptIn changes a state only on success).
  auto first = DecryptIn(*current_, m, rng);
  if (first.ok()) {
    return first;
  }
  for (size_t i = 0; i < previous_.size(); ++i) {
    auto plaintext = DecryptIn(*previous_[i], m, rng);
    if (plaintext.ok()) {
      // A message for an archived state makes it current again.
      auto revived = std::move(previous_[i]);
      previous_.erase(previous_.begin() + static_cast<ptrdiff_t>(i));
      previous_.push_front(std::move(current_));
      current_ = std::move(revived);
      return plaintext;
    }
  }
  return first.error();
}

void Session::Install(std::unique_ptr<SessionState> state) {
  if (current_) {
    previous_.push_front(std::move(current_));
    if (previous_.size() > kMaxArchivedStates) {
      previous_.pop_back();
    }
  }
  current_ = std::move(state);
}

Result<SecretBytes> Session::DecryptPreKey(const crypto::X25519KeyPair& our_identity,
                                           uint32_t our_registration_id,
                                           const PreKeySource& prekeys, ByteSpan message, Rng& rng,
                                           std::optional<uint32_t>* used_pre_key) {
  HF_ASSIGN_OR_RETURN(const PreKeySignalMessage m, ParsePreKeySignalMessage(message));
  bool known = current_ && current_->alice_base_key == m.base_key;
  for (const auto& p : previous_) {
    known = known || p->alice_base_key == m.base_key;
  }
  if (known) {
    // A retransmitted or later prekey message of a session we already have.
    HF_ASSIGN_OR_RETURN(SecretBytes plaintext, DecryptParsed(m.message, rng));
    if (used_pre_key != nullptr) {
      *used_pre_key = std::nullopt;
    }
    return plaintext;
  }
  const crypto::X25519KeyPair* signed_pre_key = prekeys.SignedPreKey(m.signed_pre_key_id);
  if (signed_pre_key == nullptr) {
    return Error{ErrorCode::kUnknownPreKey, "signed prekey"};
  }
  const crypto::X25519KeyPair* one_time = nullptr;
  if (m.pre_key_id) {
    one_time = prekeys.OneTimePreKey(*m.pre_key_id);
    if (one_time == nullptr) {
      return Error{ErrorCode::kUnknownPreKey, "one-time prekey"};
    }
  }
  size_t used = 0;
  SecretBytes agreements = NewAgreementBuffer(used);
  HF_RETURN_IF_ERROR(
      AppendAgreement(agreements, used, signed_pre_key->private_key, m.identity_key));
  HF_RETURN_IF_ERROR(AppendAgreement(agreements, used, our_identity.private_key, m.base_key));
  HF_RETURN_IF_ERROR(AppendAgreement(agreements, used, signed_pre_key->private_key, m.base_key));
  if (one_time != nullptr) {
    HF_RETURN_IF_ERROR(AppendAgreement(agreements, used, one_time->private_key, m.base_key));
  }
  RootAndChain initial = DeriveInitialKeys(agreements.span().first(used));
  auto state = std::unique_ptr<SessionState>(new SessionState{our_identity.public_key,
                                                              m.identity_key,
                                                              our_registration_id,
                                                              m.registration_id,
                                                              std::move(initial.root),
                                                              signed_pre_key->private_key.Clone(),
                                                              signed_pre_key->public_key,
                                                              std::move(initial.chain),
                                                              0,
                                                              {},
                                                              std::nullopt,
                                                              m.base_key});
  // The new state reads the message before it replaces anything.
  HF_ASSIGN_OR_RETURN(SecretBytes plaintext, DecryptIn(*state, m.message, rng));
  Install(std::move(state));
  if (used_pre_key != nullptr) {
    *used_pre_key = m.pre_key_id;
  }
  return plaintext;
}

}  // namespace holdfast::signal
