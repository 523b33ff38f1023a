// TlsRecordLayer: the TLS 1.3 record protocol (RFC 8446 §5) of one server connection, after
// OpenSSL has done the handshake.
//
// Why: an idle OpenSSL connection keeps about 14 KiB (the SSL object, two cipher contexts,
// handshake hashes, key shares), and Asio's ssl::stream adds 68 KiB of buffers. After the
// handshake a TLS 1.3 connection needs only its two traffic secrets, keys, IVs and sequence
// numbers. holdfastd therefore lets OpenSSL run the handshake, takes the application traffic
// secrets from it and frees the SSL object (tls_stream.h); this class then protects and opens
// records with crypto/'s record ciphers (OpenSSL's AEADs) and answers the one
// post-handshake message a client may send, KeyUpdate. It holds about 250 bytes, all of it in wiping types.
//
// It does no I/O and never logs. Cipher contexts are per thread, keyed per record.
#ifndef HOLDFAST_SERVER_TLS_RECORD_H_
#define HOLDFAST_SERVER_TLS_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"

namespace holdfast::server::tls {

// Record sizes (RFC 8446 §5.1, §5.2).
inline constexpr size_t kHeaderBytes = 5;
inline constexpr size_t kMaxPlaintextBytes = 16384;
inline constexpr size_t kMaxCiphertextBytes = kMaxPlaintextBytes + 256;
inline constexpr size_t kMaxRecordBytes = kHeaderBytes + kMaxCiphertextBytes;
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kIvBytes = 12;
inline constexpr size_t kMaxSecretBytes = 48;  // SHA-384

// kRekeyAfterRecords: our write key is updated (KeyUpdate) after this many records, well
// below AES-GCM's limit of 2^24.5 full-size records per key (RFC 8446 §5.5).
inline constexpr uint64_t kRekeyAfterRecords = uint64_t{1} << 23;

// Budgets for records that cost work but carry no data: a KeyUpdate costs three key
// derivations and an empty record (or user_canceled) a decryption. A client gets a few of
// each, then one more KeyUpdate per MiB and one more empty record per KiB of data it sent,
// so that sprinkling 1-byte records between them does not refill the budget.
inline constexpr uint64_t kFreeKeyUpdates = 8;
inline constexpr uint64_t kBytesPerKeyUpdate = uint64_t{1} << 20;
inline constexpr uint64_t kFreeEmptyRecords = 32;
inline constexpr uint64_t kBytesPerEmptyRecord = 1024;

// The TLS 1.3 cipher suites (RFC 8446 §B.4), by their two-byte code.
enum class CipherSuite : uint16_t {
  kAes128GcmSha256 = 0x1301,
  kAes256GcmSha384 = 0x1302,
  kChaCha20Poly1305Sha256 = 0x1303,
};

// ContentType of a record (RFC 8446 §5.1).
enum class ContentType : uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
};

// Alert descriptions this layer sends (RFC 8446 §6).
enum class Alert : uint8_t {
  kCloseNotify = 0,
  kUnexpectedMessage = 10,
  kBadRecordMac = 20,
  kRecordOverflow = 22,
  kIllegalParameter = 47,
  kDecodeError = 50,
  kInternalError = 80,
};

// Opened is what one incoming record carried.
struct Opened {
  enum class Kind {
    kData,    // application data: `data` (possibly empty)
    kClosed,  // close_notify: the peer sends nothing more
    kNone,    // a KeyUpdate, handled here
  };
  Kind kind = Kind::kNone;
  MutableByteSpan data;  // inside the record passed to Open
};

class TlsRecordLayer {
 public:
  // Create takes the negotiated suite's code and the two application traffic secrets
  // (hash-length bytes): the peer's, which the layer reads with, and its own, which it writes
  // with. A server passes client_application_traffic_secret_0 then server_..., a client the
  // other way round. An unknown suite or a secret of the wrong length is kInvalidArgument.
  static Result<TlsRecordLayer> Create(uint16_t suite, ByteSpan read_secret,
                                       ByteSpan write_secret);

  TlsRecordLayer(TlsRecordLayer&&) noexcept = default;
  TlsRecordLayer& operator=(TlsRecordLayer&&) noexcept = default;

  // RecordSize reads the header at the start of `buffered`: 0 when fewer than kHeaderBytes
  // are there, else the whole record's length (header included). A record type other than
  // application_data is kMalformed (unexpected_message); a length over kMaxCiphertextBytes
  // is kOversized (record_overflow); one too short to hold a tag and a type is kMalformed.
  static Result<size_t> RecordSize(ByteSpan buffered);

  // Open decrypts `record` (exactly one record, header included, as RecordSize measured) in
  // place. Application data comes back as a span inside `record`; close_notify as kClosed;
  // a KeyUpdate updates the read key (and, if the client asked, makes the next Seal send
  // ours first) and comes back as kNone. Errors: kAuthenticationFailed (bad_record_mac),
  // kOversized (record_overflow), kTruncated (decode_error: a message of the wrong length),
  // kInvalidArgument (illegal_parameter: a KeyUpdate request other than 0 or 1), kMalformed
  // (unexpected_message: any handshake message but KeyUpdate, data after a KeyUpdate in its
  // record, an unknown content type, a KeyUpdate or empty record over its budget), kUnavailable (the peer sent a fatal alert: answer
  // nothing). After an error the connection must be closed: the read state is undefined.
  Result<Opened> Open(MutableByteSpan record);

  // SealData appends to `out` the records carrying `plaintext` (split at kMaxPlaintextBytes),
  // preceded by a KeyUpdate record when one is owed or the write key is due for renewal.
  void SealData(ByteSpan plaintext, std::vector<uint8_t>& out);

  // SealKeyUpdate appends a KeyUpdate record and moves our write key to the next generation;
  // with `request_peer_update` the peer must answer with its own KeyUpdate.
  void SealKeyUpdate(bool request_peer_update, std::vector<uint8_t>& out);

  // SealAlert appends one alert record (a fatal one unless kCloseNotify).
  void SealAlert(Alert alert, std::vector<uint8_t>& out);

  // AlertFor names the alert to send for an error Open returned.
  static Alert AlertFor(const Error& error);

  // SetSequencesForTesting moves both sequence numbers, for tests of the limits.
  void SetSequencesForTesting(uint64_t read, uint64_t write) {
    read_.sequence = read;
    write_.sequence = write;
  }

  CipherSuite suite() const { return suite_; }
  uint64_t read_sequence() const { return read_.sequence; }
  uint64_t write_sequence() const { return write_.sequence; }

 private:
  struct Direction {
    Secret<kMaxSecretBytes> secret;  // the first hash-length bytes are used
    Secret<32> key;                  // the first key-length bytes are used
    Secret<kIvBytes> iv;
    uint64_t sequence = 0;
  };

  TlsRecordLayer() = default;

  // Derive sets key and iv from secret (RFC 8446 §7.3).
  [[nodiscard]] bool Derive(Direction& d) const;
  // Update replaces secret with the next generation and derives anew (§7.2).
  [[nodiscard]] bool Update(Direction& d) const;
  void Seal(ContentType type, ByteSpan plaintext, std::vector<uint8_t>& out);
  Result<Opened> OnHandshake(ByteSpan messages);
  // TakeEmptyRecord spends one of the empty-record budget: false when none is left.
  [[nodiscard]] bool TakeEmptyRecord();

  CipherSuite suite_ = CipherSuite::kAes128GcmSha256;
  size_t hash_bytes_ = 32;
  size_t key_bytes_ = 16;
  Direction read_;
  Direction write_;
  bool key_update_owed_ = false;
  uint64_t data_received_ = 0;  // application data bytes, for the budgets
  uint64_t key_updates_received_ = 0;
  uint64_t empty_records_received_ = 0;
};

// HkdfExpandLabel is HKDF-Expand-Label of RFC 8446 §7.1 with SHA-256 (hash_bytes 32) or
// SHA-384 (48), written into `out`. False if OpenSSL fails. Exposed for tests.
[[nodiscard]] bool HkdfExpandLabel(size_t hash_bytes, ByteSpan secret, std::string_view label,
                                   MutableByteSpan out);

}  // namespace holdfast::server::tls

#endif  // HOLDFAST_SERVER_TLS_RECORD_H_
