// Session serialization, format version 1 (grammar in docs/signal.md). Written in two
// passes, size then bytes, straight into a SecretBytes so no unwiped copy of a key is left
// in a grown buffer.
#include <algorithm>

#include "holdfast/signal/session.h"
#include "session_state.h"

namespace holdfast::signal {
namespace {

constexpr uint8_t kSessionFormatVersion = 1;

// Out counts bytes when `buf` is null, else writes them.
class Out {
 public:
  explicit Out(uint8_t* buf) : buf_(buf) {}
  void Bytes(ByteSpan b) {
    if (buf_ != nullptr) {
      std::copy(b.begin(), b.end(), buf_ + n_);
    }
    n_ += b.size();
  }
  void U8(uint8_t v) { Bytes(ByteSpan(&v, 1)); }
  void U16(uint16_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    Bytes(b);
  }
  void U32(uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    Bytes(b);
  }
  void Key(const crypto::X25519PublicKey& k) { Bytes(k.Serialize()); }
  size_t size() const { return n_; }

 private:
  uint8_t* buf_;
  size_t n_ = 0;
};

void WriteState(Out& o, const SessionState& s) {
  o.Key(s.local_identity);
  o.Key(s.remote_identity);
  o.U32(s.local_registration_id);
  o.U32(s.remote_registration_id);
  o.Bytes(s.root_key.span());
  o.Bytes(s.sender_ratchet_private.Serialize());
  o.Key(s.sender_ratchet_public);
  o.Bytes(s.sender_chain.key.span());
  o.U32(s.sender_chain.index);
  o.U32(s.previous_counter);
  o.U8(static_cast<uint8_t>(s.receivers.size()));
  for (const auto& r : s.receivers) {
    o.Key(r.ratchet_key);
    o.Bytes(r.chain.key.span());
    o.U32(r.chain.index);
    o.U16(static_cast<uint16_t>(r.skipped.size()));
    for (const auto& k : r.skipped) {
      o.U32(k.counter);
      o.Bytes(k.cipher_key.span());
      o.Bytes(k.mac_key.span());
      o.Bytes(k.iv.span());
    }
  }
  o.U8(s.pending ? 1 : 0);
  if (s.pending) {
    o.U8(s.pending->pre_key_id ? 1 : 0);
    if (s.pending->pre_key_id) {
      o.U32(*s.pending->pre_key_id);
    }
    o.U32(s.pending->signed_pre_key_id);
    o.Key(s.pending->base_key);
  }
  o.Key(s.alice_base_key);
}

template <size_t N>
Result<Secret<N>> ReadSecret(ByteReader& r) {
  HF_ASSIGN_OR_RETURN(const ByteSpan b, r.ReadBytes(N));
  return Secret<N>::FromSpan(b);
}

Result<crypto::X25519PublicKey> ReadKey(ByteReader& r) {
  HF_ASSIGN_OR_RETURN(const ByteSpan b, r.ReadBytes(crypto::kSignalPublicKeyBytes));
  auto k = crypto::X25519PublicKey::Parse(b);
  if (!k.ok()) {
    return Error{ErrorCode::kMalformed, "stored key"};
  }
  return *k;
}

Result<std::unique_ptr<SessionState>> ReadState(ByteReader& r) {
  HF_ASSIGN_OR_RETURN(const auto local_identity, ReadKey(r));
  HF_ASSIGN_OR_RETURN(const auto remote_identity, ReadKey(r));
  HF_ASSIGN_OR_RETURN(const uint32_t local_registration_id, r.ReadU32Be());
  HF_ASSIGN_OR_RETURN(const uint32_t remote_registration_id, r.ReadU32Be());
  HF_ASSIGN_OR_RETURN(auto root_key, ReadSecret<kKeyBytes>(r));
  HF_ASSIGN_OR_RETURN(const auto priv, ReadSecret<32>(r));
  HF_ASSIGN_OR_RETURN(auto sender_private, crypto::X25519PrivateKey::FromBytes(priv.span()));
  HF_ASSIGN_OR_RETURN(const auto sender_public, ReadKey(r));
  HF_ASSIGN_OR_RETURN(auto sender_chain_key, ReadSecret<kKeyBytes>(r));
  HF_ASSIGN_OR_RETURN(const uint32_t sender_index, r.ReadU32Be());
  HF_ASSIGN_OR_RETURN(const uint32_t previous_counter, r.ReadU32Be());
  auto s = std::unique_ptr<SessionState>(
      new SessionState{local_identity,
                       remote_identity,
                       local_registration_id,
                       remote_registration_id,
                       std::move(root_key),
                       std::move(sender_private),
                       sender_public,
                       ChainKey{std::move(sender_chain_key), sender_index},
                       previous_counter,
                       {},
                       std::nullopt,
                       crypto::X25519PublicKey()});
  HF_ASSIGN_OR_RETURN(const uint8_t receivers, r.ReadU8());
  if (receivers > kMaxReceiverChains) {
    return Error{ErrorCode::kMalformed, "too many receiving chains"};
  }
  for (uint8_t i = 0; i < receivers; ++i) {
    ReceiverChain rc;
    HF_ASSIGN_OR_RETURN(rc.ratchet_key, ReadKey(r));
    HF_ASSIGN_OR_RETURN(rc.chain.key, ReadSecret<kKeyBytes>(r));
    HF_ASSIGN_OR_RETURN(rc.chain.index, r.ReadU32Be());
    HF_ASSIGN_OR_RETURN(const uint16_t skipped, r.ReadU16Be());
    if (skipped > kMaxSkippedKeys) {
      return Error{ErrorCode::kMalformed, "too many skipped keys"};
    }
    for (uint16_t k = 0; k < skipped; ++k) {
      MessageKeys mk;
      HF_ASSIGN_OR_RETURN(mk.counter, r.ReadU32Be());
      HF_ASSIGN_OR_RETURN(mk.cipher_key, ReadSecret<kKeyBytes>(r));
      HF_ASSIGN_OR_RETURN(mk.mac_key, ReadSecret<kKeyBytes>(r));
      HF_ASSIGN_OR_RETURN(mk.iv, ReadSecret<kIvBytes>(r));
      rc.skipped.push_back(std::move(mk));
    }
    s->receivers.push_back(std::move(rc));
  }
  HF_ASSIGN_OR_RETURN(const uint8_t has_pending, r.ReadU8());
  if (has_pending > 1) {
    return Error{ErrorCode::kMalformed, "flag"};
  }
  if (has_pending == 1) {
    PendingPreKey p;
    HF_ASSIGN_OR_RETURN(const uint8_t has_otk, r.ReadU8());
    if (has_otk > 1) {
      return Error{ErrorCode::kMalformed, "flag"};
    }
    if (has_otk == 1) {
      HF_ASSIGN_OR_RETURN(const uint32_t id, r.ReadU32Be());
      p.pre_key_id = id;
    }
    HF_ASSIGN_OR_RETURN(p.signed_pre_key_id, r.ReadU32Be());
    HF_ASSIGN_OR_RETURN(p.base_key, ReadKey(r));
    s->pending = p;
  }
  HF_ASSIGN_OR_RETURN(s->alice_base_key, ReadKey(r));
  return s;
}

}  // namespace

SecretBytes Session::Serialize() const {
  auto write = [&](Out& o) {
    o.U8(kSessionFormatVersion);
    o.U8(current_ ? 1 : 0);
    if (current_) {
      WriteState(o, *current_);
    }
    o.U16(static_cast<uint16_t>(previous_.size()));
    for (const auto& p : previous_) {
      WriteState(o, *p);
    }
  };
  Out counter(nullptr);
  write(counter);
  SecretBytes out(counter.size());
  Out writer(out.data());
  write(writer);
  return out;
}

Result<Session> Session::Deserialize(ByteSpan bytes) {
  ByteReader r(bytes);
  HF_ASSIGN_OR_RETURN(const uint8_t version, r.ReadU8());
  if (version != kSessionFormatVersion) {
    return Error{ErrorCode::kUnsupportedVersion, "session format"};
  }
  Session s;
  HF_ASSIGN_OR_RETURN(const uint8_t has_current, r.ReadU8());
  if (has_current > 1) {
    return Error{ErrorCode::kMalformed, "flag"};
  }
  if (has_current == 1) {
    HF_ASSIGN_OR_RETURN(s.current_, ReadState(r));
  }
  HF_ASSIGN_OR_RETURN(const uint16_t previous, r.ReadU16Be());
  if (previous > kMaxArchivedStates) {
    return Error{ErrorCode::kMalformed, "too many archived states"};
  }
  for (uint16_t i = 0; i < previous; ++i) {
    HF_ASSIGN_OR_RETURN(auto state, ReadState(r));
    s.previous_.push_back(std::move(state));
  }
  HF_RETURN_IF_ERROR(r.ExpectEnd());
  return s;
}

}  // namespace holdfast::signal
