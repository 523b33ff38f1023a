#include "holdfast/signal/session.h"

#include <algorithm>

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

// ReceiverFor returns the receiving chain for `their` ratchet key, taking a DH ratchet step
// (two root steps and a new ratchet key of ours) when the key is new.
Result<ReceiverChain*> ReceiverFor(SessionState& s, const crypto::X25519PublicKey& their,
                                   Rng& rng) {
  if (ReceiverChain* r = FindReceiver(s, their)) {
    return r;
  }
  HF_ASSIGN_OR_RETURN(RootAndChain receiving,
                      RootStep(s.root_key, their, s.sender_ratchet_private));
  auto ours = crypto::X25519KeyPair::Generate(rng);
  HF_ASSIGN_OR_RETURN(RootAndChain sending, RootStep(receiving.root, their, ours.private_key));
  s.root_key = std::move(sending.root);
  s.receivers.push_front(ReceiverChain{their, std::move(receiving.chain), {}});
  if (s.receivers.size() > kMaxReceiverChains) {
    s.receivers.pop_back();
  }
  s.previous_counter = s.sender_chain.index > 0 ? s.sender_chain.index - 1 : 0;
  s.sender_ratchet_private = std::move(ours.private_key);
  s.sender_ratchet_public = ours.public_key;
  s.sender_chain = std::move(sending.chain);
  return &s.receivers.front();
}

Result<MessageKeys> KeysFor(ReceiverChain& r, uint32_t counter) {
  if (r.chain.index > counter) {
    auto it = std::find_if(r.skipped.begin(), r.skipped.end(),
                           [&](const MessageKeys& k) { return k.counter == counter; });
    if (it == r.skipped.end()) {
      return ErrorCode::kDuplicateMessage;
    }
    MessageKeys keys = std::move(*it);
    r.skipped.erase(it);
    return keys;
  }
  if (counter - r.chain.index > kMaxMessageGap) {
    return Error{ErrorCode::kOversized, "message too far ahead in its chain"};
  }
  while (r.chain.index < counter) {
    r.skipped.push_back(r.chain.Keys());
    if (r.skipped.size() > kMaxSkippedKeys) {
      r.skipped.pop_front();
    }
    r.chain = r.chain.Next();
  }
  MessageKeys keys = r.chain.Keys();
  r.chain = r.chain.Next();
  return keys;
}

// DecryptWith runs one message through a state. The state is a scratch copy: callers keep
// it only on success.
Result<SecretBytes> DecryptWith(SessionState& s, const SignalMessage& m, Rng& rng) {
  HF_ASSIGN_OR_RETURN(ReceiverChain * r, ReceiverFor(s, m.ratchet_key, rng));
  HF_ASSIGN_OR_RETURN(const MessageKeys keys, KeysFor(*r, m.counter));
  HF_RETURN_IF_ERROR(VerifyMac(m, keys.mac_key, s.remote_identity, s.local_identity));
  auto plaintext = crypto::Aes256CbcDecrypt(keys.cipher_key.span(), keys.iv.span(), m.ciphertext);
  if (!plaintext.ok()) {
    return ErrorCode::kAuthenticationFailed;
  }
  s.pending.reset();  // the peer has our session now
  return std::move(*plaintext);
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
  if (current_) {
    previous_.push_front(std::move(current_));
    if (previous_.size() > kMaxArchivedStates) {
      previous_.pop_back();
    }
  }
  current_ = std::move(state);
  return Ok();
}

Result<Ciphertext> Session::Encrypt(ByteSpan plaintext) {
  if (!current_) {
    return ErrorCode::kNoSession;
  }
  SessionState& s = *current_;
  const MessageKeys keys = s.sender_chain.Keys();
  HF_ASSIGN_OR_RETURN(const Bytes body,
                      crypto::Aes256CbcEncrypt(keys.cipher_key.span(), keys.iv.span(), plaintext));
  Bytes message =
      SerializeSignalMessage(s.sender_ratchet_public, s.sender_chain.index, s.previous_counter,
                             body, keys.mac_key, s.local_identity, s.remote_identity);
  s.sender_chain = s.sender_chain.Next();
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
  if (!current_) {
    return ErrorCode::kNoSession;
  }
  // Try the current state, then the archived ones; keep the first that works.
  Error first_error{ErrorCode::kAuthenticationFailed};
  for (size_t i = 0; i <= previous_.size(); ++i) {
    const SessionState& candidate = i == 0 ? *current_ : *previous_[i - 1];
    auto scratch = candidate.Clone();
    auto plaintext = DecryptWith(*scratch, m, rng);
    if (plaintext.ok()) {
      if (i == 0) {
        current_ = std::move(scratch);
      } else {
        // A message for an archived state makes it current again.
        previous_.erase(previous_.begin() + static_cast<ptrdiff_t>(i - 1));
        previous_.push_front(std::move(current_));
        current_ = std::move(scratch);
      }
      return plaintext;
    }
    if (i == 0) {
      first_error = plaintext.error();
    }
  }
  return first_error;
}

Result<SecretBytes> Session::DecryptPreKey(const crypto::X25519KeyPair& our_identity,
                                           uint32_t our_registration_id,
                                           const PreKeySource& prekeys, ByteSpan message, Rng& rng,
                                           std::optional<uint32_t>* used_pre_key) {
  HF_ASSIGN_OR_RETURN(const PreKeySignalMessage m, ParsePreKeySignalMessage(message));
  Session work = Clone();
  bool known = false;
  if (work.current_ && work.current_->alice_base_key == m.base_key) {
    known = true;
  }
  for (const auto& p : work.previous_) {
    known = known || p->alice_base_key == m.base_key;
  }
  if (!known) {
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
    if (work.current_) {
      work.previous_.push_front(std::move(work.current_));
      if (work.previous_.size() > kMaxArchivedStates) {
        work.previous_.pop_back();
      }
    }
    work.current_ = std::move(state);
  }
  HF_ASSIGN_OR_RETURN(SecretBytes plaintext, work.Decrypt(m.message.serialized, rng));
  *this = std::move(work);
  if (used_pre_key != nullptr) {
    *used_pre_key = known ? std::nullopt : m.pre_key_id;
  }
  return plaintext;
}

}  // namespace holdfast::signal
