// Self-signed TLS server certificates (OpenSSL 3), and the SHA-256 fingerprint clients pin.
//
// holdfastd makes its certificate on first start. Clients do not check it against a CA: they
// pin its fingerprint, which the operator publishes, so the certificate only has to be a
// well-formed X.509 v3 server certificate for an ECDSA P-256 key.
#ifndef HOLDFAST_CRYPTO_CERTIFICATE_H_
#define HOLDFAST_CRYPTO_CERTIFICATE_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "holdfast/common/bytes.h"
#include "holdfast/common/clock.h"
#include "holdfast/common/result.h"
#include "holdfast/common/secret.h"

// OpenSSL's TLS connection (SSL), declared here so that callers need no OpenSSL header.
struct ssl_st;

namespace holdfast::crypto {

// kMaxCommonNameBytes is X.509's upper bound for a common name (RFC 5280, ub-common-name).
inline constexpr size_t kMaxCommonNameBytes = 64;
// kMaxCertificateValidity bounds the validity a caller may ask for (ten years).
inline constexpr std::chrono::days kMaxCertificateValidity{3650};
// kCertificateBackdate is how far before "now" a new certificate becomes valid, so that
// peers whose clocks lag a little still accept it.
inline constexpr std::chrono::hours kCertificateBackdate{1};
// kMaxPemBytes bounds the PEM text the parsers below accept.
inline constexpr size_t kMaxPemBytes = 64 * 1024;
// kCertificateFingerprintHexChars is the length of a fingerprint: 32 bytes in hex.
inline constexpr size_t kCertificateFingerprintHexChars = 64;

// SelfSignedCertificate is a certificate and its private key, both PEM-encoded.
struct SelfSignedCertificate {
  // certificate_pem is one "CERTIFICATE" PEM block.
  std::string certificate_pem;
  // private_key_pem is the unencrypted PKCS#8 "PRIVATE KEY" PEM block. It is key material:
  // it is held in a SecretBytes, which wipes it when destroyed.
  SecretBytes private_key_pem;
};

// GenerateSelfSignedCertificate makes a new ECDSA P-256 key and a self-signed X.509 v3
// certificate for it, signed with ECDSA-SHA256:
//   - subject and issuer: CN=`common_name`;
//   - a random, positive 128-bit serial number;
//   - valid from clock.Now() - kCertificateBackdate to clock.Now() + `validity`;
//   - subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1; basicConstraints CA:FALSE;
//     keyUsage digitalSignature; extendedKeyUsage serverAuth; a subjectKeyIdentifier.
// The key and serial come from OpenSSL's own generator, not from a caller's Rng: OpenSSL
// cannot generate an EC key from caller bytes, and both must be unpredictable anyway.
// An empty or over-long (> kMaxCommonNameBytes) common name, or a validity outside
// [1 day, kMaxCertificateValidity], is kInvalidArgument; a library failure is kCryptoFailure.
Result<SelfSignedCertificate> GenerateSelfSignedCertificate(std::string_view common_name,
                                                            const Clock& clock,
                                                            std::chrono::days validity);

// CertificateFingerprintSha256 returns the lower-case hex SHA-256 of the DER encoding of the
// first certificate in `certificate_pem` (kCertificateFingerprintHexChars characters), the
// value clients pin. Text that holds no parsable certificate is kMalformed; text longer than
// kMaxPemBytes is kOversized.
Result<std::string> CertificateFingerprintSha256(std::string_view certificate_pem);

// PeerCertificateFingerprintSha256 returns the lower-case hex SHA-256 of the DER encoding of
// the certificate the peer of `ssl` presented in its handshake (kCertificateFingerprintHexChars
// characters): the value a pinning client compares with its pin once the TLS handshake is
// done. It only reads `ssl`, which the caller keeps owning. A null `ssl` is kInvalidArgument;
// a connection whose peer sent no certificate (no handshake yet, or an anonymous peer) is
// kNotFound; a library failure is kCryptoFailure.
Result<std::string> PeerCertificateFingerprintSha256(const ssl_st* ssl);

// ClearTlsErrors empties this thread's OpenSSL error queue, after a TLS call that failed or
// wants I/O, so that its errors are not read as those of a later call.
void ClearTlsErrors();

// CheckCertificateMatchesKey succeeds if the public key of the first certificate in
// `certificate_pem` belongs to the unencrypted private key in `private_key_pem` (PKCS#8 or
// the traditional form). An unparsable certificate is kMalformed, an unparsable or encrypted
// key kInvalidKey, a key that does not match kInvalidKey, over-long text kOversized. The key
// text is only read; it is not copied.
Result<void> CheckCertificateMatchesKey(std::string_view certificate_pem, ByteSpan private_key_pem);

}  // namespace holdfast::crypto

#endif  // HOLDFAST_CRYPTO_CERTIFICATE_H_
