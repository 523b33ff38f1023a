#include "holdfast/server/tls_record.h"

#include <array>
#include <string>

#include "holdfast/crypto/aead.h"
#include "holdfast/crypto/hash.h"

namespace holdfast::server::tls {

namespace {

constexpr uint8_t kHandshakeKeyUpdate = 24;
constexpr uint8_t kUpdateNotRequested = 0;
constexpr uint8_t kUpdateRequested = 1;
constexpr uint8_t kAlertUserCanceled = 90;
constexpr size_t kMaxInnerPlaintextBytes = kMaxPlaintextBytes + 1;  // content + type

crypto::RecordCipher SuiteCipher(CipherSuite s) {
  switch (s) {
    case CipherSuite::kAes128GcmSha256:
      return crypto::RecordCipher::kAes128Gcm;
    case CipherSuite::kAes256GcmSha384:
      return crypto::RecordCipher::kAes256Gcm;
    case CipherSuite::kChaCha20Poly1305Sha256:
      return crypto::RecordCipher::kChaCha20Poly1305;
  }
  return crypto::RecordCipher::kAes128Gcm;
}

// Nonce is the per-record nonce: the IV XOR the 64-bit sequence number (RFC 8446 §5.3).
Secret<kIvBytes> Nonce(const Secret<kIvBytes>& iv, uint64_t sequence) {
  Secret<kIvBytes> nonce = iv.Clone();
  for (size_t i = 0; i < 8; ++i) {
    nonce.data()[kIvBytes - 1 - i] ^= static_cast<uint8_t>(sequence >> (8 * i));
  }
  return nonce;
}

void PutHeader(ContentType type, size_t length, uint8_t* out) {
  out[0] = static_cast<uint8_t>(type);
  out[1] = 0x03;  // legacy_record_version 0x0303
  out[2] = 0x03;
  out[3] = static_cast<uint8_t>(length >> 8);
  out[4] = static_cast<uint8_t>(length);
}

}  // namespace

bool HkdfExpandLabel(size_t hash_bytes, ByteSpan secret, std::string_view label,
                     MutableByteSpan out) {
  // HkdfLabel: uint16 length, opaque label<7..255> = "tls13 " + label, opaque context<0..255>
  // (empty here).
  const std::string full = "tls13 " + std::string(label);
  if (out.size() > 0xffff || full.size() > 255) {
    return false;
  }
  Bytes info;
  info.push_back(static_cast<uint8_t>(out.size() >> 8));
  info.push_back(static_cast<uint8_t>(out.size()));
  info.push_back(static_cast<uint8_t>(full.size()));
  info.insert(info.end(), full.begin(), full.end());
  info.push_back(0);

  const auto done = hash_bytes == 48 ? crypto::HkdfSha384Expand(secret, info, out)
                                      : crypto::HkdfSha256Expand(secret, info, out);
  return done.ok();
}

Result<TlsRecordLayer> TlsRecordLayer::Create(uint16_t suite, ByteSpan read_secret,
                                              ByteSpan write_secret) {
  TlsRecordLayer layer;
  switch (suite) {
    case static_cast<uint16_t>(CipherSuite::kAes128GcmSha256):
      layer.hash_bytes_ = 32;
      layer.key_bytes_ = 16;
      break;
    case static_cast<uint16_t>(CipherSuite::kAes256GcmSha384):
      layer.hash_bytes_ = 48;
      layer.key_bytes_ = 32;
      break;
    case static_cast<uint16_t>(CipherSuite::kChaCha20Poly1305Sha256):
      layer.hash_bytes_ = 32;
      layer.key_bytes_ = 32;
      break;
    default:
      return Error{ErrorCode::kInvalidArgument, "TLS cipher suite"};  // not from the network
  }
  layer.suite_ = static_cast<CipherSuite>(suite);
  if (read_secret.size() != layer.hash_bytes_ || write_secret.size() != layer.hash_bytes_) {
    return Error{ErrorCode::kInvalidArgument, "traffic secret length"};
  }
  std::copy(read_secret.begin(), read_secret.end(), layer.read_.secret.data());
  std::copy(write_secret.begin(), write_secret.end(), layer.write_.secret.data());
  if (!layer.Derive(layer.read_) || !layer.Derive(layer.write_)) {
    return Error{ErrorCode::kCryptoFailure, "traffic keys"};
  }
  return layer;
}

bool TlsRecordLayer::Derive(Direction& d) const {
  const ByteSpan secret(d.secret.data(), hash_bytes_);
  return HkdfExpandLabel(hash_bytes_, secret, "key", MutableByteSpan(d.key.data(), key_bytes_)) &&
         HkdfExpandLabel(hash_bytes_, secret, "iv", d.iv.mutable_span());
}

bool TlsRecordLayer::Update(Direction& d) const {
  Secret<kMaxSecretBytes> next;
  if (!HkdfExpandLabel(hash_bytes_, ByteSpan(d.secret.data(), hash_bytes_), "traffic upd",
                       MutableByteSpan(next.data(), hash_bytes_))) {
    return false;
  }
  d.secret = std::move(next);
  d.sequence = 0;
  return Derive(d);
}

Result<size_t> TlsRecordLayer::RecordSize(ByteSpan buffered) {
  if (buffered.size() < kHeaderBytes) {
    return size_t{0};
  }
  if (buffered[0] != static_cast<uint8_t>(ContentType::kApplicationData)) {
    // After the handshake every record is protected and so typed application_data; a
    // change_cipher_spec or a plaintext record here is unexpected_message (RFC 8446 §5).
    return Error{ErrorCode::kMalformed, "record type"};
  }
  const size_t length = (size_t{buffered[3]} << 8) | buffered[4];
  if (length > kMaxCiphertextBytes) {
    return Error{ErrorCode::kOversized, "record length"};
  }
  if (length < kTagBytes + 1) {
    return Error{ErrorCode::kMalformed, "record shorter than a tag"};
  }
  return kHeaderBytes + length;
}

Result<Opened> TlsRecordLayer::Open(MutableByteSpan record) {
  auto size = RecordSize(record);
  if (!size.ok()) {
    return size.error();
  }
  if (size.value() != record.size()) {
    return Error{ErrorCode::kMalformed, "not one whole record"};
  }
  if (read_.sequence == UINT64_MAX) {
    return Error{ErrorCode::kMalformed, "sequence number exhausted"};
  }
  uint8_t* body = record.data() + kHeaderBytes;
  const size_t inner_size = record.size() - kHeaderBytes - kTagBytes;
  const Secret<kIvBytes> nonce = Nonce(read_.iv, read_.sequence);
  if (!crypto::OpenRecordInPlace(SuiteCipher(suite_), ByteSpan(read_.key.data(), key_bytes_),
                                 nonce.span(), ByteSpan(record.data(), kHeaderBytes),
                                 MutableByteSpan(body, inner_size),
                                 ByteSpan(body + inner_size, kTagBytes))
           .ok()) {
    return Error{ErrorCode::kAuthenticationFailed, "record"};
  }
  ++read_.sequence;

  // TLSInnerPlaintext: content, the real type, then zero padding.
  size_t end = inner_size;
  while (end > 0 && body[end - 1] == 0) {
    --end;
  }
  if (end == 0) {
    return Error{ErrorCode::kMalformed, "record without a content type"};
  }
  if (inner_size > kMaxInnerPlaintextBytes) {
    return Error{ErrorCode::kOversized, "record plaintext"};
  }
  const uint8_t type = body[end - 1];
  const MutableByteSpan content(body, end - 1);
  switch (type) {
    case static_cast<uint8_t>(ContentType::kApplicationData):
      if (content.empty() && !TakeEmptyRecord()) {
        return Error{ErrorCode::kMalformed, "too many empty records"};
      }
      data_received_ += content.size();
      return Opened{Opened::Kind::kData, content};
    case static_cast<uint8_t>(ContentType::kAlert):
      if (content.size() != 2) {
        return Error{ErrorCode::kTruncated, "alert"};
      }
      if (content[1] == static_cast<uint8_t>(Alert::kCloseNotify)) {
        return Opened{Opened::Kind::kClosed, {}};
      }
      if (content[1] == kAlertUserCanceled) {
        if (!TakeEmptyRecord()) {
          return Error{ErrorCode::kMalformed, "too many user_canceled alerts"};
        }
        return Opened{};  // a close_notify follows (RFC 8446 §6.1)
      }
      return Error{ErrorCode::kUnavailable, "the peer sent an error alert"};
    case static_cast<uint8_t>(ContentType::kHandshake):
      return OnHandshake(content);
    default:
      return Error{ErrorCode::kMalformed, "content type"};
  }
}

bool TlsRecordLayer::TakeEmptyRecord() {
  if (empty_records_received_ >= kFreeEmptyRecords + data_received_ / kBytesPerEmptyRecord) {
    return false;
  }
  ++empty_records_received_;
  return true;
}

Result<Opened> TlsRecordLayer::OnHandshake(ByteSpan messages) {
  // The only handshake message a client may send once the handshake is over is KeyUpdate
  // (we never request post-handshake authentication). It ends the record: messages must not
  // span a key change (RFC 8446 §5.1). Fragmented messages are refused, not reassembled.
  if (messages.size() < 4) {
    return Error{ErrorCode::kTruncated, "handshake message"};
  }
  if (messages[0] != kHandshakeKeyUpdate) {
    return Error{ErrorCode::kMalformed, "handshake message after the handshake"};
  }
  const size_t length = (size_t{messages[1]} << 16) | (size_t{messages[2]} << 8) | messages[3];
  if (length != 1 || messages.size() < 5) {
    return Error{ErrorCode::kTruncated, "KeyUpdate"};
  }
  if (messages.size() != 5) {
    return Error{ErrorCode::kMalformed, "data after KeyUpdate"};
  }
  if (key_updates_received_ >= kFreeKeyUpdates + data_received_ / kBytesPerKeyUpdate) {
    return Error{ErrorCode::kMalformed, "too many KeyUpdates"};
  }
  ++key_updates_received_;
  const uint8_t request = messages[4];
  if (request != kUpdateNotRequested && request != kUpdateRequested) {
    return Error{ErrorCode::kInvalidArgument, "KeyUpdate request"};
  }
  if (!Update(read_)) {
    return Error{ErrorCode::kCryptoFailure, "key update"};
  }
  if (request == kUpdateRequested) {
    key_update_owed_ = true;
  }
  return Opened{};
}

void TlsRecordLayer::Seal(ContentType type, ByteSpan plaintext, std::vector<uint8_t>& out) {
  const size_t inner_size = plaintext.size() + 1;
  const size_t start = out.size();
  out.resize(start + kHeaderBytes + inner_size + kTagBytes);
  uint8_t* header = out.data() + start;
  uint8_t* body = header + kHeaderBytes;
  PutHeader(ContentType::kApplicationData, inner_size + kTagBytes, header);
  std::copy(plaintext.begin(), plaintext.end(), body);
  body[plaintext.size()] = static_cast<uint8_t>(type);

  const Secret<kIvBytes> nonce = Nonce(write_.iv, write_.sequence);
  if (!crypto::SealRecordInPlace(SuiteCipher(suite_), ByteSpan(write_.key.data(), key_bytes_),
                                 nonce.span(), ByteSpan(header, kHeaderBytes),
                                 MutableByteSpan(body, inner_size),
                                 MutableByteSpan(body + inner_size, kTagBytes))
           .ok()) {
    // Sealing fails only if OpenSSL cannot allocate or is broken: nothing may go out in the
    // clear, and there is no way to continue the connection.
    std::abort();
  }
  ++write_.sequence;
}

void TlsRecordLayer::SealKeyUpdate(bool request_peer_update, std::vector<uint8_t>& out) {
  const uint8_t message[5] = {kHandshakeKeyUpdate, 0, 0, 1,
                              request_peer_update ? kUpdateRequested : kUpdateNotRequested};
  Seal(ContentType::kHandshake, message, out);
  if (!Update(write_)) {
    std::abort();  // see Seal
  }
  key_update_owed_ = false;
}

void TlsRecordLayer::SealData(ByteSpan plaintext, std::vector<uint8_t>& out) {
  do {
    if (key_update_owed_ || write_.sequence >= kRekeyAfterRecords) {
      SealKeyUpdate(false, out);
    }
    const size_t n = std::min(plaintext.size(), kMaxPlaintextBytes);
    Seal(ContentType::kApplicationData, plaintext.first(n), out);
    plaintext = plaintext.subspan(n);
  } while (!plaintext.empty());
}

void TlsRecordLayer::SealAlert(Alert alert, std::vector<uint8_t>& out) {
  const uint8_t level = alert == Alert::kCloseNotify ? 1 : 2;  // warning, fatal
  const uint8_t message[2] = {level, static_cast<uint8_t>(alert)};
  Seal(ContentType::kAlert, message, out);
}

Alert TlsRecordLayer::AlertFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::kAuthenticationFailed:
      return Alert::kBadRecordMac;
    case ErrorCode::kOversized:
      return Alert::kRecordOverflow;
    case ErrorCode::kTruncated:
      return Alert::kDecodeError;
    case ErrorCode::kInvalidArgument:
      return Alert::kIllegalParameter;
    case ErrorCode::kCryptoFailure:
      return Alert::kInternalError;
    default:
      return Alert::kUnexpectedMessage;
  }
}

}  // namespace holdfast::server::tls
