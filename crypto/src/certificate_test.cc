#include "holdfast/crypto/certificate.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "holdfast/common/clock.h"
#include "holdfast/common/encoding.h"

namespace holdfast::crypto {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

// 2024-01-01T00:00:00Z.
constexpr int64_t kStartSeconds = 1704067200;
constexpr std::chrono::days kValidity{30};

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

ManualClock StartClock() { return ManualClock(FromUnixMillis(kStartSeconds * 1000)); }

SelfSignedCertificate MustGenerate(std::string_view cn = "holdfastd") {
  ManualClock clock = StartClock();
  auto cert = GenerateSelfSignedCertificate(cn, clock, kValidity);
  if (!cert.ok()) {
    ADD_FAILURE() << "generate: " << ErrorName(cert.code());
    std::abort();
  }
  return std::move(cert).value();
}

X509Ptr Parse(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  return std::string(data, static_cast<size_t>(len));
}

std::string_view KeyText(const SelfSignedCertificate& c) {
  return {reinterpret_cast<const char*>(c.private_key_pem.data()), c.private_key_pem.size()};
}

TEST(Certificate, HasTheRequestedFields) {
  const SelfSignedCertificate c = MustGenerate("chat.example.org");
  EXPECT_TRUE(KeyText(c).starts_with("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_TRUE(c.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));

  X509Ptr cert = Parse(c.certificate_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);

  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
  char group[64] = {};
  size_t group_len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group, sizeof(group), &group_len), 1);
  EXPECT_EQ(std::string(group, group_len), "prime256v1");
  EXPECT_EQ(X509_verify(cert.get(), pub), 1);  // self-signed

  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  EXPECT_EQ(serial->type, V_ASN1_INTEGER);  // positive
  EXPECT_EQ(serial->length, 16);

  char cn[128] = {};
  ASSERT_GT(
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn)),
      0);
  EXPECT_STREQ(cn, "chat.example.org");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);

  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert.get()), kStartSeconds - 3600), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert.get()), kStartSeconds + 30 * 86400), 0);

  // X509_get_extension_flags caches the parsed extensions; EXFLAG_CA is set for CA:TRUE.
  const uint32_t flags = X509_get_extension_flags(cert.get());
  EXPECT_NE(flags & EXFLAG_BCONS, 0u);
  EXPECT_EQ(flags & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);

  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert.get(), "example.com", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 1);
}

TEST(Certificate, ValidityAfter2049UsesGeneralizedTime) {
  // 2049-12-01: notAfter falls in 2050, which UTCTime cannot express.
  constexpr int64_t kLate = 2522016000;
  ManualClock clock(FromUnixMillis(kLate * 1000 + 999));  // sub-second part is dropped
  auto c = GenerateSelfSignedCertificate("holdfastd", clock, std::chrono::days(365));
  ASSERT_TRUE(c.ok());
  X509Ptr cert = Parse(c->certificate_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get0_notBefore(cert.get())->type, V_ASN1_UTCTIME);
  EXPECT_EQ(X509_get0_notAfter(cert.get())->type, V_ASN1_GENERALIZEDTIME);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert.get()), kLate - 3600), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert.get()), kLate + 365 * 86400), 0);
}

TEST(Certificate, RejectsBadArguments) {
  ManualClock clock = StartClock();
  const std::string long_name(kMaxCommonNameBytes + 1, 'a');
  const std::string longest_name(kMaxCommonNameBytes, 'a');
  EXPECT_EQ(GenerateSelfSignedCertificate("", clock, kValidity).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(GenerateSelfSignedCertificate(long_name, clock, kValidity).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(GenerateSelfSignedCertificate(longest_name, clock, kValidity).ok());
  EXPECT_EQ(GenerateSelfSignedCertificate("a\nb", clock, kValidity).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(GenerateSelfSignedCertificate(std::string_view("a\0b", 3), clock, kValidity).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(GenerateSelfSignedCertificate("\xff\xfe", clock, kValidity).code(),
            ErrorCode::kInvalidArgument);  // not UTF-8
  EXPECT_EQ(GenerateSelfSignedCertificate("holdfastd", clock, std::chrono::days(0)).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(GenerateSelfSignedCertificate("holdfastd", clock, std::chrono::days(-1)).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(GenerateSelfSignedCertificate("holdfastd", clock,
                                          kMaxCertificateValidity + std::chrono::days(1))
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(CertificateFingerprint, IsStableLowerHexOfTheDer) {
  const SelfSignedCertificate c = MustGenerate();
  auto fp = CertificateFingerprintSha256(c.certificate_pem);
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(fp->size(), kCertificateFingerprintHexChars);
  EXPECT_EQ(fp->find_first_not_of("0123456789abcdef"), std::string::npos);
  auto again = CertificateFingerprintSha256(c.certificate_pem);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*fp, *again);

  // Independently: OpenSSL's digest of the DER certificate.
  X509Ptr cert = Parse(c.certificate_pem);
  ASSERT_NE(cert, nullptr);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  ASSERT_EQ(X509_digest(cert.get(), EVP_sha256(), md, &md_len), 1);
  EXPECT_EQ(*fp, HexEncode(ByteSpan(md, md_len)));

  // Text around the PEM block (as in a file with comments) does not change it.
  auto padded = CertificateFingerprintSha256("# holdfastd\n" + c.certificate_pem + "\n");
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(*padded, *fp);
}

TEST(CertificateFingerprint, DiffersBetweenGenerations) {
  const SelfSignedCertificate a = MustGenerate();
  const SelfSignedCertificate b = MustGenerate();
  auto fa = CertificateFingerprintSha256(a.certificate_pem);
  auto fb = CertificateFingerprintSha256(b.certificate_pem);
  ASSERT_TRUE(fa.ok());
  ASSERT_TRUE(fb.ok());
  EXPECT_NE(*fa, *fb);
  EXPECT_FALSE(a.private_key_pem.Equals(b.private_key_pem));
}

TEST(CertificateKey, MatchesItsOwnCertificateOnly) {
  const SelfSignedCertificate a = MustGenerate();
  const SelfSignedCertificate b = MustGenerate();
  EXPECT_TRUE(CheckCertificateMatchesKey(a.certificate_pem, a.private_key_pem.span()).ok());
  EXPECT_TRUE(CheckCertificateMatchesKey(b.certificate_pem, b.private_key_pem.span()).ok());
  EXPECT_EQ(CheckCertificateMatchesKey(a.certificate_pem, b.private_key_pem.span()).code(),
            ErrorCode::kInvalidKey);
  EXPECT_EQ(CheckCertificateMatchesKey(b.certificate_pem, a.private_key_pem.span()).code(),
            ErrorCode::kInvalidKey);

  // A key of another type does not match either.
  PkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed, nullptr);
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), ed.get(), nullptr, nullptr, 0, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int)
  EXPECT_EQ(
      CheckCertificateMatchesKey(a.certificate_pem, ByteSpan(reinterpret_cast<const uint8_t*>(data),
                                                             static_cast<size_t>(len)))
          .code(),
      ErrorCode::kInvalidKey);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(CertificateKey, EncryptedKeyIsRefusedWithoutPrompting) {
  const SelfSignedCertificate a = MustGenerate();
  BioPtr in(BIO_new_mem_buf(a.private_key_pem.data(), static_cast<int>(a.private_key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  BioPtr out(BIO_new(BIO_s_mem()));
  static char kPass[] = "passphrase";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), EVP_aes_256_cbc(), kPass,
                                          sizeof(kPass) - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);  // NOLINT(runtime/int)
  const std::string encrypted(data, static_cast<size_t>(len));
  ASSERT_TRUE(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  EXPECT_EQ(CheckCertificateMatchesKey(a.certificate_pem, AsBytes(encrypted)).code(),
            ErrorCode::kInvalidKey);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(CertificateParsing, GarbageIsAnErrorNotACrash) {
  const SelfSignedCertificate c = MustGenerate();
  const std::string& pem = c.certificate_pem;
  const std::string truncated = pem.substr(0, pem.size() / 2);
  std::string corrupted = pem;
  corrupted[40] = '*';  // not base64
  std::string no_end = pem;
  no_end.resize(pem.find("-----END"));
  const std::string not_a_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const std::string key_as_cert(KeyText(c));
  for (const std::string& bad : {std::string(), std::string("garbage"), truncated, corrupted,
                                 no_end, not_a_cert, key_as_cert, std::string(5000, '\0')}) {
    EXPECT_EQ(CertificateFingerprintSha256(bad).code(), ErrorCode::kMalformed);
    EXPECT_EQ(CheckCertificateMatchesKey(bad, c.private_key_pem.span()).code(),
              ErrorCode::kMalformed);
  }
  std::string bad_key(KeyText(c));
  bad_key[40] = '*';
  for (const std::string& bad : {std::string(), std::string("garbage"), pem, bad_key,
                                 std::string(KeyText(c).substr(0, 100))}) {
    EXPECT_EQ(CheckCertificateMatchesKey(pem, AsBytes(bad)).code(), ErrorCode::kInvalidKey);
  }
  EXPECT_EQ(CheckCertificateMatchesKey(pem, ByteSpan()).code(), ErrorCode::kInvalidKey);
  const std::string huge(kMaxPemBytes + 1, 'A');
  EXPECT_EQ(CertificateFingerprintSha256(huge).code(), ErrorCode::kOversized);
  EXPECT_EQ(CheckCertificateMatchesKey(pem, AsBytes(huge)).code(), ErrorCode::kOversized);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// Handshake runs a TLS 1.3 server with `served` on 127.0.0.1 (port 0, in a thread) and a
// client that accepts the peer only if its certificate's fingerprint equals `pin`. It returns
// whether the client completed the handshake and exchanged a message. When it did and
// `peer_fingerprint` is given, that receives PeerCertificateFingerprintSha256 of the client's
// connection.
bool Handshake(const SelfSignedCertificate& served, const std::string& pin,
               std::string* peer_fingerprint = nullptr) {
  asio::io_context io;
  ssl::context server_ctx(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(server_ctx.native_handle(), TLS1_3_VERSION);
  boost::system::error_code ec;
  server_ctx.use_certificate_chain(asio::buffer(served.certificate_pem), ec);
  EXPECT_FALSE(ec) << ec.message();
  server_ctx.use_private_key(
      asio::buffer(served.private_key_pem.data(), served.private_key_pem.size()), ssl::context::pem,
      ec);
  EXPECT_FALSE(ec) << ec.message();

  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  bool server_ok = false;
  std::thread server([&] {
    boost::system::error_code sec;
    tcp::socket socket(io);
    acceptor.accept(socket, sec);
    if (sec) {
      return;
    }
    ssl::stream<tcp::socket&> stream(socket, server_ctx);
    stream.handshake(ssl::stream_base::server, sec);
    if (sec) {
      return;
    }
    char buf[4];
    asio::read(stream, asio::buffer(buf), sec);
    if (!sec && std::string_view(buf, 4) == "ping") {
      asio::write(stream, asio::buffer("pong", 4), sec);
      server_ok = !sec;
    }
    stream.shutdown(sec);
  });

  ssl::context client_ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(client_ctx.native_handle(), TLS1_3_VERSION);
  client_ctx.set_verify_mode(ssl::verify_peer);
  // Pinning: the chain is self-signed, so OpenSSL's own verdict (preverified) is ignored and
  // the only question is whether the leaf is the pinned certificate.
  bool pin_checked = false;
  client_ctx.set_verify_callback([&](bool /*preverified*/, ssl::verify_context& vc) {
    X509_STORE_CTX* store = vc.native_handle();
    if (X509_STORE_CTX_get_error_depth(store) != 0) {
      return false;
    }
    auto fp = CertificateFingerprintSha256(ToPem(X509_STORE_CTX_get_current_cert(store)));
    pin_checked = true;
    return fp.ok() && *fp == pin;
  });
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  EXPECT_FALSE(ec) << ec.message();
  ssl::stream<tcp::socket&> client(socket, client_ctx);
  client.handshake(ssl::stream_base::client, ec);
  bool client_ok = !ec;
  if (client_ok) {
    EXPECT_EQ(SSL_version(client.native_handle()), TLS1_3_VERSION);
    if (peer_fingerprint != nullptr) {
      auto fp = PeerCertificateFingerprintSha256(client.native_handle());
      EXPECT_TRUE(fp.ok());
      if (fp.ok()) {
        *peer_fingerprint = *fp;
      }
    }
    char buf[4];
    asio::write(client, asio::buffer("ping", 4), ec);
    asio::read(client, asio::buffer(buf), ec);
    client_ok = !ec && std::string_view(buf, 4) == "pong";
    client.shutdown(ec);  // the server's close_notify; errors here do not matter
  }
  socket.close(ec);
  server.join();
  EXPECT_TRUE(pin_checked);
  return client_ok && server_ok;
}

TEST(CertificateTls, Tls13HandshakeWithPinnedFingerprint) {
  const SelfSignedCertificate c = MustGenerate();
  auto fp = CertificateFingerprintSha256(c.certificate_pem);
  ASSERT_TRUE(fp.ok());
  std::string peer;
  EXPECT_TRUE(Handshake(c, *fp, &peer));
  // The fingerprint read off the live connection is the one computed from the PEM file.
  EXPECT_EQ(peer, *fp);
}

TEST(CertificateTls, PeerFingerprintNeedsAPeerCertificate) {
  EXPECT_EQ(PeerCertificateFingerprintSha256(nullptr).code(), ErrorCode::kInvalidArgument);
  // A connection that has not run its handshake has no peer certificate yet.
  ssl::context ctx(ssl::context::tls_client);
  std::unique_ptr<SSL, decltype(&SSL_free)> conn(SSL_new(ctx.native_handle()), &SSL_free);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(PeerCertificateFingerprintSha256(conn.get()).code(), ErrorCode::kNotFound);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(CertificateTls, WrongPinFailsTheHandshake) {
  const SelfSignedCertificate served = MustGenerate();
  const SelfSignedCertificate other = MustGenerate();
  auto other_fp = CertificateFingerprintSha256(other.certificate_pem);
  ASSERT_TRUE(other_fp.ok());
  EXPECT_FALSE(Handshake(served, *other_fp));
}

}  // namespace
}  // namespace holdfast::crypto
