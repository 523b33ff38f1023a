#include "holdfast/signal/group.h"

#include <algorithm>
#include <optional>
#include <string>

#include "holdfast/crypto/aes.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/x25519.h"
#include "holdfast/crypto/xeddsa.h"
#include "holdfast/signal/wire.h"
#include "proto/signal_wire.pb.h"

namespace holdfast::signal {

struct SenderMessageKey {
  uint32_t iteration = 0;
  Secret<32> seed;
};

struct SenderKeyState {
  uint32_t id = 0;
  uint32_t iteration = 0;  // of `chain`
  Secret<32> chain;
  crypto::X25519PublicKey signing_public;
  // Only for our own key: the signing key in XEdDSA's form, so that a message costs one
  // fixed-base multiplication, not two.
  std::optional<crypto::XEdDsaSigningKey> signer;
  std::deque<SenderMessageKey> skipped;  // oldest first

  std::unique_ptr<SenderKeyState> Clone() const {
    auto c = std::make_unique<SenderKeyState>();
    c->id = id;
    c->iteration = iteration;
    c->chain = chain.Clone();
    c->signing_public = signing_public;
    if (signer) {
      c->signer = signer->Clone();
    }
    for (const auto& k : skipped) {
      c->skipped.push_back(SenderMessageKey{k.iteration, k.seed.Clone()});
    }
    return c;
  }
};

namespace {

constexpr std::string_view kInfoGroup = "WhisperGroup";
constexpr size_t kSignatureBytes = 64;
const Error kMalformedGroupMessage{ErrorCode::kMalformed, "malformed sender key message"};

Secret<32> ChainStep(const Secret<32>& chain, uint8_t seed) {
  return crypto::HmacSha256(chain.span(), ByteSpan(&seed, 1));
}

struct GroupKeys {
  Secret<16> iv;
  Secret<32> key;
};

GroupKeys DeriveGroupKeys(const Secret<32>& seed) {
  SecretBytes out(48);
  // An empty salt is 32 zero bytes.
  (void)crypto::HkdfSha256(seed.span(), {}, AsBytes(kInfoGroup), out.mutable_span());
  GroupKeys k;
  std::copy_n(out.data(), 16, k.iv.data());
  std::copy_n(out.data() + 16, 32, k.key.data());
  return k;
}

std::unique_ptr<SenderKeyState> NewOwnState(Rng& rng) {
  auto s = std::make_unique<SenderKeyState>();
  uint32_t id = 0;
  rng.Fill({reinterpret_cast<uint8_t*>(&id), sizeof(id)});
  s->id = id & 0x7fffffff;
  rng.Fill(s->chain.mutable_span());
  // A signing key fails only for a scalar that is zero modulo the group order, which a
  // clamped random key is not (probability 2^-250); draw again if it ever happens.
  while (!s->signer) {
    auto pair = crypto::X25519KeyPair::Generate(rng);
    if (auto signer = crypto::XEdDsaSigningKey::FromPrivate(pair.private_key); signer.ok()) {
      s->signing_public = pair.public_key;
      s->signer = std::move(*signer);
    }
  }
  return s;
}

// KeyFor finds or derives the seed for `iteration`, advancing the state's chain.
Result<Secret<32>> KeyFor(SenderKeyState& s, uint32_t iteration) {
  if (iteration < s.iteration) {
    auto it = std::find_if(s.skipped.begin(), s.skipped.end(),
                           [&](const SenderMessageKey& k) { return k.iteration == iteration; });
    if (it == s.skipped.end()) {
      return ErrorCode::kDuplicateMessage;
    }
    Secret<32> seed = std::move(it->seed);
    s.skipped.erase(it);
    return seed;
  }
  if (iteration - s.iteration > kMaxSenderKeyGap) {
    return Error{ErrorCode::kOversized, "sender key message too far ahead"};
  }
  while (s.iteration < iteration) {
    s.skipped.push_back(SenderMessageKey{s.iteration, ChainStep(s.chain, 0x01)});
    if (s.skipped.size() > kMaxSenderSkippedKeys) {
      s.skipped.pop_front();
    }
    s.chain = ChainStep(s.chain, 0x02);
    ++s.iteration;
  }
  Secret<32> seed = ChainStep(s.chain, 0x01);
  s.chain = ChainStep(s.chain, 0x02);
  ++s.iteration;
  return seed;
}

}  // namespace

SenderKey::SenderKey() = default;
SenderKey::~SenderKey() = default;
SenderKey::SenderKey(SenderKey&&) noexcept = default;
SenderKey& SenderKey::operator=(SenderKey&&) noexcept = default;

SenderKey SenderKey::CreateOwn(Rng& rng) {
  SenderKey k;
  k.states_.push_front(NewOwnState(rng));
  return k;
}

void SenderKey::Rotate(Rng& rng) {
  states_.clear();  // the old key must not be used to send again
  states_.push_front(NewOwnState(rng));
}

Result<Bytes> SenderKey::DistributionMessage() const {
  if (states_.empty() || !states_.front()->signer) {
    return ErrorCode::kNoSession;
  }
  const SenderKeyState& s = *states_.front();
  wire::SenderKeyDistributionMessage pb;
  pb.set_id(s.id);
  pb.set_iteration(s.iteration);
  pb.set_chain_key(std::string(s.chain.span().begin(), s.chain.span().end()));
  const auto key = s.signing_public.Serialize();
  pb.set_signing_key(std::string(key.begin(), key.end()));
  Bytes out = {kVersionByte};
  const std::string body = pb.SerializeAsString();
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<void> SenderKey::ProcessDistribution(ByteSpan message) {
  if (message.empty() || message.size() > kMaxMessageBytes) {
    return kMalformedGroupMessage;
  }
  if ((message[0] >> 4) != kCiphertextVersion) {
    return Error{ErrorCode::kUnsupportedVersion, "sender key version"};
  }
  wire::SenderKeyDistributionMessage pb;
  const ByteSpan body = message.subspan(1);
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size())) || !pb.has_id() ||
      !pb.has_iteration() || !pb.has_chain_key() || !pb.has_signing_key() ||
      pb.chain_key().size() != 32) {
    return kMalformedGroupMessage;
  }
  auto signing = crypto::X25519PublicKey::Parse(AsBytes(pb.signing_key()));
  if (!signing.ok()) {
    return kMalformedGroupMessage;
  }
  auto state = std::make_unique<SenderKeyState>();
  state->id = pb.id();
  state->iteration = pb.iteration();
  state->chain = std::move(Secret<32>::FromSpan(AsBytes(pb.chain_key())).value());
  state->signing_public = *signing;
  // A repeated distribution of a key we hold already changes nothing.
  for (const auto& s : states_) {
    if (s->id == state->id && s->signing_public == state->signing_public) {
      return Ok();
    }
  }
  states_.push_front(std::move(state));
  if (states_.size() > kMaxSenderKeyStates) {
    states_.pop_back();
  }
  return Ok();
}

Result<Bytes> SenderKey::Encrypt(ByteSpan plaintext, Rng& rng) {
  if (states_.empty() || !states_.front()->signer) {
    return ErrorCode::kNoSession;
  }
  SenderKeyState& s = *states_.front();
  const uint32_t iteration = s.iteration;
  const GroupKeys keys = DeriveGroupKeys(ChainStep(s.chain, 0x01));
  HF_ASSIGN_OR_RETURN(const Bytes body,
                      crypto::Aes256CbcEncrypt(keys.key.span(), keys.iv.span(), plaintext));
  wire::SenderKeyMessage pb;
  pb.set_id(s.id);
  pb.set_iteration(iteration);
  pb.set_ciphertext(std::string(body.begin(), body.end()));
  Bytes out = {kVersionByte};
  const std::string serialized = pb.SerializeAsString();
  out.insert(out.end(), serialized.begin(), serialized.end());
  HF_ASSIGN_OR_RETURN(const auto sig, s.signer->Sign(out, rng));
  out.insert(out.end(), sig.begin(), sig.end());
  s.chain = ChainStep(s.chain, 0x02);
  ++s.iteration;
  return out;
}

Result<SecretBytes> SenderKey::Decrypt(ByteSpan message) {
  if (message.size() < 1 + kSignatureBytes || message.size() > kMaxMessageBytes) {
    return kMalformedGroupMessage;
  }
  if ((message[0] >> 4) != kCiphertextVersion) {
    return Error{ErrorCode::kUnsupportedVersion, "sender key version"};
  }
  const ByteSpan signed_part = message.first(message.size() - kSignatureBytes);
  const ByteSpan body = signed_part.subspan(1);
  wire::SenderKeyMessage pb;
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size())) || !pb.has_id() ||
      !pb.has_iteration() || !pb.has_ciphertext()) {
    return kMalformedGroupMessage;
  }
  auto it =
      std::find_if(states_.begin(), states_.end(), [&](const auto& s) { return s->id == pb.id(); });
  if (it == states_.end()) {
    return Error{ErrorCode::kNoSession, "no sender key with this id"};
  }
  if (!crypto::XEdDsaVerify((*it)->signing_public, signed_part, message.last(kSignatureBytes))
           .ok()) {
    return ErrorCode::kInvalidSignature;
  }
  auto scratch = (*it)->Clone();
  HF_ASSIGN_OR_RETURN(const Secret<32> seed, KeyFor(*scratch, pb.iteration()));
  const GroupKeys keys = DeriveGroupKeys(seed);
  auto plaintext =
      crypto::Aes256CbcDecrypt(keys.key.span(), keys.iv.span(), AsBytes(pb.ciphertext()));
  if (!plaintext.ok()) {
    return ErrorCode::kAuthenticationFailed;
  }
  *it = std::move(scratch);
  return std::move(*plaintext);
}

namespace {

// Version 2 stores our own signing key as XEdDSA's (a, A); version 1 (still read) stored the
// X25519 private key.
constexpr uint8_t kSenderKeyFormatVersion = 2;
constexpr uint8_t kSenderKeyFormatVersion1 = 1;

void PutU32(SecretBytes& out, size_t& at, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out.data()[at++] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }
}

void PutBytes(SecretBytes& out, size_t& at, ByteSpan b) {
  std::copy(b.begin(), b.end(), out.data() + at);
  at += b.size();
}

size_t StateBytes(const SenderKeyState& s) {
  return 4 + 4 + 32 + 33 + 1 + (s.signer ? crypto::XEdDsaSigningKey::kBytes : 0) + 2 +
         s.skipped.size() * 36;
}

}  // namespace

SecretBytes SenderKey::Serialize() const {
  size_t total = 2;
  for (const auto& s : states_) {
    total += StateBytes(*s);
  }
  SecretBytes out(total);
  size_t at = 0;
  out.data()[at++] = kSenderKeyFormatVersion;
  out.data()[at++] = static_cast<uint8_t>(states_.size());
  for (const auto& s : states_) {
    PutU32(out, at, s->id);
    PutU32(out, at, s->iteration);
    PutBytes(out, at, s->chain.span());
    PutBytes(out, at, s->signing_public.Serialize());
    out.data()[at++] = s->signer ? 1 : 0;
    if (s->signer) {
      PutBytes(out, at, s->signer->Serialize().span());
    }
    out.data()[at++] = static_cast<uint8_t>(s->skipped.size() >> 8);
    out.data()[at++] = static_cast<uint8_t>(s->skipped.size());
    for (const auto& k : s->skipped) {
      PutU32(out, at, k.iteration);
      PutBytes(out, at, k.seed.span());
    }
  }
  return out;
}

Result<SenderKey> SenderKey::Deserialize(ByteSpan bytes) {
  const Error malformed{ErrorCode::kMalformed, "stored sender key"};
  ByteReader r(bytes);
  HF_ASSIGN_OR_RETURN(const uint8_t version, r.ReadU8());
  if (version != kSenderKeyFormatVersion && version != kSenderKeyFormatVersion1) {
    return Error{ErrorCode::kUnsupportedVersion, "sender key format"};
  }
  HF_ASSIGN_OR_RETURN(const uint8_t n, r.ReadU8());
  if (n > kMaxSenderKeyStates) {
    return malformed;
  }
  SenderKey key;
  for (uint8_t i = 0; i < n; ++i) {
    auto s = std::make_unique<SenderKeyState>();
    HF_ASSIGN_OR_RETURN(s->id, r.ReadU32Be());
    HF_ASSIGN_OR_RETURN(s->iteration, r.ReadU32Be());
    HF_ASSIGN_OR_RETURN(const ByteSpan chain, r.ReadBytes(32));
    HF_ASSIGN_OR_RETURN(s->chain, Secret<32>::FromSpan(chain));
    HF_ASSIGN_OR_RETURN(const ByteSpan pub, r.ReadBytes(crypto::kSignalPublicKeyBytes));
    auto parsed = crypto::X25519PublicKey::Parse(pub);
    if (!parsed.ok()) {
      return malformed;
    }
    s->signing_public = *parsed;
    HF_ASSIGN_OR_RETURN(const uint8_t has_private, r.ReadU8());
    if (has_private > 1) {
      return malformed;
    }
    if (has_private == 1 && version == kSenderKeyFormatVersion1) {
      // Version 1 kept the X25519 private key; make its signing form once, here.
      HF_ASSIGN_OR_RETURN(const ByteSpan priv, r.ReadBytes(32));
      HF_ASSIGN_OR_RETURN(auto k, crypto::X25519PrivateKey::FromBytes(priv));
      HF_ASSIGN_OR_RETURN(s->signer, crypto::XEdDsaSigningKey::FromPrivate(k));
    } else if (has_private == 1) {
      HF_ASSIGN_OR_RETURN(const ByteSpan signer, r.ReadBytes(crypto::XEdDsaSigningKey::kBytes));
      auto parsed_signer = crypto::XEdDsaSigningKey::FromBytes(signer);
      if (!parsed_signer.ok()) {
        return malformed;
      }
      s->signer = std::move(*parsed_signer);
    }
    HF_ASSIGN_OR_RETURN(const uint16_t skipped, r.ReadU16Be());
    if (skipped > kMaxSenderSkippedKeys) {
      return malformed;
    }
    for (uint16_t k = 0; k < skipped; ++k) {
      SenderMessageKey mk;
      HF_ASSIGN_OR_RETURN(mk.iteration, r.ReadU32Be());
      HF_ASSIGN_OR_RETURN(const ByteSpan seed, r.ReadBytes(32));
      HF_ASSIGN_OR_RETURN(mk.seed, Secret<32>::FromSpan(seed));
      s->skipped.push_back(std::move(mk));
    }
    key.states_.push_back(std::move(s));
  }
  HF_RETURN_IF_ERROR(r.ExpectEnd());
  return key;
}

}  // namespace holdfast::signal
