#include "holdfast/crypto/certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <climits>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/crypto/hash.h"
#include "internal.h"

namespace holdfast::crypto {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct X509NameDeleter {
  void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};
struct X509ExtensionDeleter {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct BignumDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct Asn1IntegerDeleter {
  void operator()(ASN1_INTEGER* i) const { ASN1_INTEGER_free(i); }
};

using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using X509NamePtr = std::unique_ptr<X509_NAME, X509NameDeleter>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, X509ExtensionDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Asn1IntegerDeleter>;

// kSerialBytes gives 128 random bits less the sign bit (RFC 5280 allows up to 20 octets and
// asks for at least 64 bits of randomness in CA-issued serials).
constexpr size_t kSerialBytes = 16;

// Failure drops whatever OpenSSL queued about the failure, so that a later, unrelated call
// (a TLS read in the same thread) does not report it, and returns `code`.
Error Failure(ErrorCode code, const char* detail) {
  ERR_clear_error();
  return Error{code, detail};
}

// NoPassword refuses to decrypt: without it OpenSSL would prompt on the terminal for the
// passphrase of an encrypted key.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

Result<BioPtr> ReadOnlyBio(ByteSpan text) {
  if (text.size() > kMaxPemBytes) {
    return Error{ErrorCode::kOversized, "pem length"};
  }
  static_assert(kMaxPemBytes <= INT_MAX);
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) {
    return Failure(ErrorCode::kCryptoFailure, "BIO_new_mem_buf");
  }
  return bio;
}

Result<X509Ptr> ParseCertificate(std::string_view pem) {
  if (pem.empty()) {
    return Error{ErrorCode::kMalformed, "certificate pem"};
  }
  HF_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(AsBytes(pem)));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr));
  if (cert == nullptr) {
    return Failure(ErrorCode::kMalformed, "certificate pem");
  }
  return cert;
}

Result<PkeyPtr> ParsePrivateKey(ByteSpan pem) {
  if (pem.empty()) {
    return Error{ErrorCode::kInvalidKey, "private key pem"};
  }
  HF_ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return Failure(ErrorCode::kInvalidKey, "private key pem");
  }
  return key;
}

// MemoryContents views what has been written to a memory BIO; the view lives as long as
// the BIO and its contents.
ByteSpan MemoryContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type
  if (len <= 0 || data == nullptr) {
    return {};
  }
  return {reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)};
}

Result<void> AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  // The values are fixed strings of this file, never caller text, so the config syntax
  // cannot be injected into.
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "certificate extension");
  }
  return Ok();
}

Result<void> SetRandomSerial(X509* cert) {
  std::array<uint8_t, kSerialBytes> serial;
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "serial");
  }
  // Clear the top bit so the DER INTEGER is positive without a padding byte, and set the
  // next one so every serial has the same length and is never zero.
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x40);
  BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (bn == nullptr) {
    return Failure(ErrorCode::kCryptoFailure, "serial");
  }
  Asn1IntegerPtr asn1(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (asn1 == nullptr || X509_set_serialNumber(cert, asn1.get()) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "serial");
  }
  return Ok();
}

Result<void> SetValidity(X509* cert, const Clock& clock, std::chrono::days validity) {
  const auto now = std::chrono::floor<std::chrono::seconds>(clock.Now());
  const auto not_before = now - kCertificateBackdate;
  const auto not_after = now + validity;
  const auto to_time_t = [](auto t) { return static_cast<time_t>(t.time_since_epoch().count()); };
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime from then on (RFC 5280
  // section 4.1.2.5).
  if (ASN1_TIME_set(X509_getm_notBefore(cert), to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), to_time_t(not_after)) == nullptr) {
    return Failure(ErrorCode::kCryptoFailure, "validity");
  }
  return Ok();
}

Result<void> SetName(X509* cert, std::string_view common_name) {
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return Failure(ErrorCode::kInvalidArgument, "common name");
  }
  if (X509_set_subject_name(cert, name.get()) != 1 || X509_set_issuer_name(cert, name.get()) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "certificate name");
  }
  return Ok();
}

bool IsAcceptableCommonName(std::string_view name) {
  if (name.empty() || name.size() > kMaxCommonNameBytes) {
    return false;
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<SelfSignedCertificate> GenerateSelfSignedCertificate(std::string_view common_name,
                                                            const Clock& clock,
                                                            std::chrono::days validity) {
  if (!IsAcceptableCommonName(common_name)) {
    return Error{ErrorCode::kInvalidArgument, "common name"};
  }
  if (validity < std::chrono::days(1) || validity > kMaxCertificateValidity) {
    return Error{ErrorCode::kInvalidArgument, "certificate validity"};
  }

  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) {
    return Failure(ErrorCode::kCryptoFailure, "P-256 keygen");
  }
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "certificate");
  }
  HF_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  HF_RETURN_IF_ERROR(SetValidity(cert.get(), clock, validity));
  HF_RETURN_IF_ERROR(SetName(cert.get(), common_name));
  HF_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  HF_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  HF_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  HF_RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"));
  HF_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), internal::Sha256Md()) <= 0) {
    return Failure(ErrorCode::kCryptoFailure, "certificate signature");
  }

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (cert_bio == nullptr || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "certificate pem");
  }
  // A secure-memory BIO: OpenSSL wipes its buffer when it grows and when it is freed, so the
  // encoded key is left nowhere but in the SecretBytes below.
  BioPtr key_bio(BIO_new(BIO_s_secmem()));
  if (key_bio == nullptr || PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0,
                                                     nullptr, nullptr) != 1) {
    return Failure(ErrorCode::kCryptoFailure, "private key pem");
  }

  const ByteSpan cert_pem = MemoryContents(cert_bio.get());
  SelfSignedCertificate out;
  out.certificate_pem.assign(reinterpret_cast<const char*>(cert_pem.data()), cert_pem.size());
  out.private_key_pem = SecretBytes::Copy(MemoryContents(key_bio.get()));
  if (out.certificate_pem.empty() || out.private_key_pem.empty()) {
    return Failure(ErrorCode::kCryptoFailure, "pem output");
  }
  return out;
}

Result<std::string> CertificateFingerprintSha256(std::string_view certificate_pem) {
  HF_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(certificate_pem));
  const int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) {
    return Failure(ErrorCode::kMalformed, "certificate der");
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_X509(cert.get(), &p) != len) {
    return Failure(ErrorCode::kCryptoFailure, "certificate der");
  }
  return HexEncode(Sha256(der));
}

Result<std::string> PeerCertificateFingerprintSha256(const ssl_st* ssl) {
  if (ssl == nullptr) {
    return Error{ErrorCode::kInvalidArgument, "ssl"};
  }
  // get0: the certificate stays owned by the connection.
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return Error{ErrorCode::kNotFound, "peer certificate"};
  }
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    return Failure(ErrorCode::kCryptoFailure, "peer certificate der");
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_X509(cert, &p) != len) {
    return Failure(ErrorCode::kCryptoFailure, "peer certificate der");
  }
  return HexEncode(Sha256(der));
}

Result<void> CheckCertificateMatchesKey(std::string_view certificate_pem,
                                        ByteSpan private_key_pem) {
  HF_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(certificate_pem));
  HF_ASSIGN_OR_RETURN(PkeyPtr key, ParsePrivateKey(private_key_pem));
  const EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  if (cert_key == nullptr) {
    return Failure(ErrorCode::kMalformed, "certificate public key");
  }
  // EVP_PKEY_eq compares the public parts: 1 for a match, 0 for a different key, negative
  // for keys of different types, which do not match either.
  if (EVP_PKEY_eq(cert_key, key.get()) != 1) {
    return Failure(ErrorCode::kInvalidKey, "key does not match certificate");
  }
  return Ok();
}

void ClearTlsErrors() { ERR_clear_error(); }

}  // namespace holdfast::crypto
