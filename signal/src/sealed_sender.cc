#include "holdfast/signal/sealed_sender.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "holdfast/common/secret.h"
#include "holdfast/crypto/aes.h"
#include "holdfast/crypto/hash.h"
#include "proto/signal_wire.pb.h"

namespace holdfast::signal {
namespace {

constexpr std::string_view kSaltPrefix = "UnidentifiedDelivery";
constexpr size_t kKeyBytes = 32;
// Both HKDF calls derive three 32-byte keys; the static one throws its first third away, so
// that the two derivations have the same shape (as libsignal does).
constexpr size_t kDerivedBytes = 3 * kKeyBytes;
constexpr size_t kEncryptedStaticBytes = crypto::kSignalPublicKeyBytes + kSealedSenderMacBytes;
// Counter mode with a zero counter block is safe only because every cipher key below encrypts
// exactly one plaintext: the ephemeral keys come from a fresh ephemeral key, and the static
// keys' salt holds the ephemeral chain key, although DH(IK_S, IK_R) never changes.
constexpr std::array<uint8_t, crypto::kAesIvBytes> kZeroIv{};

const Error kMalformedSealed{ErrorCode::kMalformed, "malformed sealed sender message"};

std::string AsString(ByteSpan b) { return std::string(b.begin(), b.end()); }

bool KnownType(uint32_t type) {
  switch (static_cast<SealedContentType>(type)) {
    case SealedContentType::kPreKey:
    case SealedContentType::kMessage:
    case SealedContentType::kSenderKey:
      return true;
  }
  return false;
}

// Keys is one HKDF output: chain key, cipher key and MAC key, in that order.
struct Keys {
  Secret<kDerivedBytes> bytes;

  ByteSpan chain() const { return bytes.span().subspan(0, kKeyBytes); }
  ByteSpan cipher() const { return bytes.span().subspan(kKeyBytes, kKeyBytes); }
  ByteSpan mac() const { return bytes.span().subspan(2 * kKeyBytes, kKeyBytes); }
};

Result<Keys> Derive(const crypto::X25519PrivateKey& ours, const crypto::X25519PublicKey& theirs,
                    ByteSpan salt) {
  HF_ASSIGN_OR_RETURN(const auto shared, crypto::X25519Agree(ours, theirs));
  Keys k;
  HF_RETURN_IF_ERROR(crypto::HkdfSha256(shared.span(), salt, {}, k.bytes.mutable_span()));
  return k;
}

// EphemeralSalt is "UnidentifiedDelivery" || recipient identity || ephemeral, both keys in
// their 33-byte form. Either side computes it the same way.
Bytes EphemeralSalt(const crypto::X25519PublicKey& recipient,
                    const crypto::X25519PublicKey& ephemeral) {
  const auto r = recipient.Serialize();
  const auto e = ephemeral.Serialize();
  Bytes salt(AsBytes(kSaltPrefix).begin(), AsBytes(kSaltPrefix).end());
  salt.insert(salt.end(), r.begin(), r.end());
  salt.insert(salt.end(), e.begin(), e.end());
  return salt;
}

// StaticSalt is the ephemeral chain key followed by the whole encrypted_static, its MAC
// included. It holds a key, so it lives in a wiping buffer.
SecretBytes StaticSalt(const Keys& ephemeral, ByteSpan encrypted_static) {
  SecretBytes salt(kKeyBytes + encrypted_static.size());
  std::copy(ephemeral.chain().begin(), ephemeral.chain().end(), salt.data());
  std::copy(encrypted_static.begin(), encrypted_static.end(), salt.data() + kKeyBytes);
  return salt;
}

// Encrypt returns AES-256-CTR(cipher key, iv 0, plaintext) || HMAC(mac key, ciphertext)[0:10].
Result<Bytes> Encrypt(const Keys& keys, ByteSpan plaintext) {
  Bytes out(plaintext.size() + kSealedSenderMacBytes);
  const MutableByteSpan ciphertext = MutableByteSpan(out).first(plaintext.size());
  HF_RETURN_IF_ERROR(crypto::Aes256Ctr(keys.cipher(), kZeroIv, plaintext, ciphertext));
  const auto mac = crypto::HmacSha256(keys.mac(), ciphertext);
  std::copy_n(mac.data(), kSealedSenderMacBytes, out.data() + plaintext.size());
  return out;
}

// Decrypt checks the truncated MAC in constant time and only then decrypts, so no byte of an
// unauthenticated ciphertext reaches the cipher (or, after it, a parser).
Result<SecretBytes> Decrypt(const Keys& keys, ByteSpan sealed) {
  if (sealed.size() < kSealedSenderMacBytes) {
    return kMalformedSealed;
  }
  const ByteSpan ciphertext = sealed.first(sealed.size() - kSealedSenderMacBytes);
  const ByteSpan tag = sealed.last(kSealedSenderMacBytes);
  if (!crypto::VerifyHmacSha256(keys.mac(), ciphertext, tag).ok()) {
    return ErrorCode::kAuthenticationFailed;
  }
  SecretBytes plaintext(ciphertext.size());
  HF_RETURN_IF_ERROR(
      crypto::Aes256Ctr(keys.cipher(), kZeroIv, ciphertext, plaintext.mutable_span()));
  return plaintext;
}

}  // namespace

Result<Bytes> SealSender(const crypto::X25519KeyPair& sender_identity,
                         const crypto::X25519PublicKey& recipient_identity,
                         const SealedContent& content, Rng& rng) {
  if (!KnownType(static_cast<uint32_t>(content.type))) {
    return Error{ErrorCode::kInvalidArgument, "sealed content type"};
  }
  wire::UnidentifiedSenderMessageContent inner;
  inner.set_type(static_cast<uint32_t>(content.type));
  inner.set_sender_certificate(AsString(content.sender_certificate));
  inner.set_content(AsString(content.content));
  // Refuse early what cannot fit (the envelope only adds to it), before any work; the exact
  // limit is checked on the finished message below.
  const size_t inner_size = inner.ByteSizeLong();
  if (inner_size > kMaxSealedSenderBytes) {
    return Error{ErrorCode::kOversized, "sealed sender message"};
  }
  // The serialized content names the sender, which is what sealing hides: keep it in a
  // wiping buffer.
  SecretBytes plaintext(inner_size);
  if (!inner.SerializeToArray(plaintext.data(), static_cast<int>(plaintext.size()))) {
    return Error{ErrorCode::kCryptoFailure, "sealed content serialization"};
  }

  // The ephemeral key is the only draw from `rng` (the header promises as much).
  const crypto::X25519KeyPair ephemeral = crypto::X25519KeyPair::Generate(rng);
  HF_ASSIGN_OR_RETURN(const Keys ephemeral_keys,
                      Derive(ephemeral.private_key, recipient_identity,
                             EphemeralSalt(recipient_identity, ephemeral.public_key)));
  HF_ASSIGN_OR_RETURN(const Bytes encrypted_static,
                      Encrypt(ephemeral_keys, sender_identity.public_key.Serialize()));
  HF_ASSIGN_OR_RETURN(const Keys static_keys,
                      Derive(sender_identity.private_key, recipient_identity,
                             StaticSalt(ephemeral_keys, encrypted_static).span()));
  HF_ASSIGN_OR_RETURN(const Bytes encrypted_message, Encrypt(static_keys, plaintext.span()));

  wire::UnidentifiedSenderMessage outer;
  outer.set_ephemeral_public(AsString(ephemeral.public_key.Serialize()));
  outer.set_encrypted_static(AsString(encrypted_static));
  outer.set_encrypted_message(AsString(encrypted_message));
  const std::string body = outer.SerializeAsString();
  if (1 + body.size() > kMaxSealedSenderBytes) {
    return Error{ErrorCode::kOversized, "sealed sender message"};
  }
  Bytes out;
  out.reserve(1 + body.size());
  out.push_back(kSealedSenderVersionByte);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<Unsealed> UnsealSender(const crypto::X25519KeyPair& recipient_identity, ByteSpan sealed) {
  if (sealed.size() > kMaxSealedSenderBytes) {
    return Error{ErrorCode::kOversized, "sealed sender message"};
  }
  if (sealed.empty()) {
    return kMalformedSealed;
  }
  // libsignal reads only the high nibble (and takes 0 as 1 too), but it only ever writes 0x11.
  // The version byte is under no MAC, so we take the one value and leave nothing to vary.
  if (sealed[0] != kSealedSenderVersionByte) {
    return Error{ErrorCode::kUnsupportedVersion, "sealed sender version"};
  }
  const ByteSpan body = sealed.subspan(1);
  wire::UnidentifiedSenderMessage outer;
  if (!outer.ParseFromArray(body.data(), static_cast<int>(body.size())) ||
      !outer.has_ephemeral_public() || !outer.has_encrypted_static() ||
      !outer.has_encrypted_message()) {
    return kMalformedSealed;
  }
  auto ephemeral = crypto::X25519PublicKey::Parse(AsBytes(outer.ephemeral_public()));
  if (!ephemeral.ok()) {
    return kMalformedSealed;
  }
  const ByteSpan encrypted_static = AsBytes(outer.encrypted_static());
  const ByteSpan encrypted_message = AsBytes(outer.encrypted_message());
  if (encrypted_static.size() != kEncryptedStaticBytes ||
      encrypted_message.size() < kSealedSenderMacBytes) {
    return kMalformedSealed;
  }

  HF_ASSIGN_OR_RETURN(const Keys ephemeral_keys,
                      Derive(recipient_identity.private_key, *ephemeral,
                             EphemeralSalt(recipient_identity.public_key, *ephemeral)));
  HF_ASSIGN_OR_RETURN(const SecretBytes static_key, Decrypt(ephemeral_keys, encrypted_static));
  auto sender_identity = crypto::X25519PublicKey::Parse(static_key.span());
  if (!sender_identity.ok()) {
    return kMalformedSealed;
  }
  // The static keys come from the sender's identity key, so a valid MAC on the message is
  // what shows that its holder sealed it: anyone can make encrypted_static, which the
  // ephemeral keys alone protect.
  HF_ASSIGN_OR_RETURN(const Keys static_keys,
                      Derive(recipient_identity.private_key, *sender_identity,
                             StaticSalt(ephemeral_keys, encrypted_static).span()));
  HF_ASSIGN_OR_RETURN(const SecretBytes plaintext, Decrypt(static_keys, encrypted_message));

  wire::UnidentifiedSenderMessageContent inner;
  if (!inner.ParseFromArray(plaintext.data(), static_cast<int>(plaintext.size())) ||
      !inner.has_type() || !inner.has_sender_certificate() || !inner.has_content() ||
      !KnownType(inner.type())) {
    return kMalformedSealed;
  }
  return Unsealed{*sender_identity, SealedContent{static_cast<SealedContentType>(inner.type()),
                                                  ToBytes(AsBytes(inner.sender_certificate())),
                                                  ToBytes(AsBytes(inner.content()))}};
}

}  // namespace holdfast::signal
