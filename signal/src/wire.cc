#include "holdfast/signal/wire.h"

#include <string>

#include "holdfast/crypto/hash.h"
#include "proto/signal_wire.pb.h"

namespace holdfast::signal {
namespace {

const Error kMalformedMessage{ErrorCode::kMalformed, "malformed signal message"};

std::string AsString(ByteSpan b) { return std::string(b.begin(), b.end()); }

Result<void> CheckVersion(ByteSpan bytes) {
  if (bytes.empty() || bytes.size() > kMaxMessageBytes) {
    return kMalformedMessage;
  }
  if ((bytes[0] >> 4) != kCiphertextVersion) {
    return Error{ErrorCode::kUnsupportedVersion, "signal message version"};
  }
  return Ok();
}

Result<crypto::X25519PublicKey> ParseKey(const std::string& s) {
  auto key = crypto::X25519PublicKey::Parse(AsBytes(s));
  if (!key.ok()) {
    return kMalformedMessage;
  }
  return *key;
}

Secret<32> Mac(ByteSpan body, const Secret<kKeyBytes>& mac_key,
               const crypto::X25519PublicKey& sender, const crypto::X25519PublicKey& receiver) {
  const auto s = sender.Serialize();
  const auto r = receiver.Serialize();
  return crypto::HmacSha256Key(mac_key.span()).Mac({s, r, body});
}

}  // namespace

Bytes SerializeSignalMessage(const crypto::X25519PublicKey& ratchet_key, uint32_t counter,
                             uint32_t previous_counter, ByteSpan ciphertext,
                             const Secret<kKeyBytes>& mac_key,
                             const crypto::X25519PublicKey& sender_identity,
                             const crypto::X25519PublicKey& receiver_identity) {
  wire::SignalMessage pb;
  const auto key = ratchet_key.Serialize();
  pb.set_ratchet_key(AsString(key));
  pb.set_counter(counter);
  pb.set_previous_counter(previous_counter);
  pb.set_ciphertext(AsString(ciphertext));
  Bytes out = {kVersionByte};
  const std::string body = pb.SerializeAsString();
  out.insert(out.end(), body.begin(), body.end());
  const auto mac = Mac(out, mac_key, sender_identity, receiver_identity);
  out.insert(out.end(), mac.data(), mac.data() + kMacBytes);
  return out;
}

Result<SignalMessage> ParseSignalMessage(ByteSpan bytes) {
  HF_RETURN_IF_ERROR(CheckVersion(bytes));
  if (bytes.size() < 1 + kMacBytes) {
    return kMalformedMessage;
  }
  const ByteSpan body = bytes.subspan(1, bytes.size() - 1 - kMacBytes);
  wire::SignalMessage pb;
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size())) || !pb.has_ratchet_key() ||
      !pb.has_counter() || !pb.has_ciphertext()) {
    return kMalformedMessage;
  }
  HF_ASSIGN_OR_RETURN(auto key, ParseKey(pb.ratchet_key()));
  return SignalMessage{key, pb.counter(), pb.previous_counter(), ToBytes(AsBytes(pb.ciphertext())),
                       ToBytes(bytes)};
}

Result<void> VerifyMac(const SignalMessage& message, const Secret<kKeyBytes>& mac_key,
                       const crypto::X25519PublicKey& sender_identity,
                       const crypto::X25519PublicKey& receiver_identity) {
  const ByteSpan all(message.serialized);
  const ByteSpan signed_part = all.first(all.size() - kMacBytes);
  const auto mac = Mac(signed_part, mac_key, sender_identity, receiver_identity);
  if (!ConstantTimeEquals(mac.span().first(kMacBytes), all.last(kMacBytes))) {
    return ErrorCode::kAuthenticationFailed;
  }
  return Ok();
}

Bytes SerializePreKeySignalMessage(uint32_t registration_id, std::optional<uint32_t> pre_key_id,
                                   uint32_t signed_pre_key_id,
                                   const crypto::X25519PublicKey& base_key,
                                   const crypto::X25519PublicKey& identity_key,
                                   ByteSpan signal_message) {
  wire::PreKeySignalMessage pb;
  pb.set_registration_id(registration_id);
  if (pre_key_id) {
    pb.set_pre_key_id(*pre_key_id);
  }
  pb.set_signed_pre_key_id(signed_pre_key_id);
  pb.set_base_key(AsString(base_key.Serialize()));
  pb.set_identity_key(AsString(identity_key.Serialize()));
  pb.set_message(AsString(signal_message));
  Bytes out = {kVersionByte};
  const std::string body = pb.SerializeAsString();
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<PreKeySignalMessage> ParsePreKeySignalMessage(ByteSpan bytes) {
  HF_RETURN_IF_ERROR(CheckVersion(bytes));
  const ByteSpan body = bytes.subspan(1);
  wire::PreKeySignalMessage pb;
  if (!pb.ParseFromArray(body.data(), static_cast<int>(body.size())) || !pb.has_base_key() ||
      !pb.has_identity_key() || !pb.has_message() || !pb.has_signed_pre_key_id()) {
    return kMalformedMessage;
  }
  HF_ASSIGN_OR_RETURN(auto base_key, ParseKey(pb.base_key()));
  HF_ASSIGN_OR_RETURN(auto identity_key, ParseKey(pb.identity_key()));
  HF_ASSIGN_OR_RETURN(auto message, ParseSignalMessage(AsBytes(pb.message())));
  return PreKeySignalMessage{
      pb.registration_id(),
      pb.has_pre_key_id() ? std::optional<uint32_t>(pb.pre_key_id()) : std::nullopt,
      pb.signed_pre_key_id(),
      base_key,
      identity_key,
      std::move(message)};
}

}  // namespace holdfast::signal
