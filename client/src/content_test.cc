#include "content.h"

#include <gtest/gtest.h>

#include "holdfast/common/rng.h"
#include "holdfast/wire/frame.h"

namespace holdfast::client {
namespace {

TEST(Padding, PadsToWholeBlocksAndRoundTrips) {
  for (size_t n : {0u, 1u, 158u, 159u, 160u, 161u, 1000u}) {
    Bytes text(n, 0);  // zeros at the end are the hard case for unpadding
    for (size_t i = 0; i < n; i += 7) {
      text[i] = static_cast<uint8_t>(i + 1);
    }
    const SecretBytes padded = Pad(text);
    EXPECT_EQ(padded.size() % kPaddingBlock, 0u);
    EXPECT_GT(padded.size(), n);
    EXPECT_LE(padded.size(), n + kPaddingBlock);
    auto back = Unpad(padded.span());
    ASSERT_TRUE(back.ok()) << n;
    EXPECT_EQ(Bytes(back->span().begin(), back->span().end()), text);
  }
}

TEST(Padding, RefusesWhatIsNotPadding) {
  EXPECT_EQ(Unpad(Bytes{}).code(), ErrorCode::kMalformed);
  EXPECT_EQ(Unpad(Bytes(160, 0)).code(), ErrorCode::kMalformed);
  EXPECT_EQ(Unpad(Bytes{1, 2, 3}).code(), ErrorCode::kMalformed);
  EXPECT_EQ(Unpad(Bytes{1, 0x81, 0}).code(), ErrorCode::kMalformed);
  EXPECT_TRUE(Unpad(Bytes{0x80}).ok());
}

class Certificate : public ::testing::Test {
 protected:
  Certificate()
      : server_(crypto::Ed25519PrivateKey::Generate(rng_)),
        sender_(crypto::X25519KeyPair::Generate(rng_)) {}
  // Make signs a certificate the way holdfastd does.
  std::pair<std::string, Bytes> Make(int64_t expires, uint32_t key_id = 3) {
    wire::pb::SenderCertificate::Certificate c;
    c.set_account_id(std::string(16, 'a'));
    c.set_device_id(2);
    c.set_phone("+14155550100");
    const auto key = sender_.public_key.Serialize();
    c.set_identity_key(std::string(key.begin(), key.end()));
    c.set_expires_ms(expires);
    c.set_key_id(key_id);
    std::string body = c.SerializeAsString();
    const auto sig = server_.Sign(AsBytes(body));
    return {body, Bytes(sig.begin(), sig.end())};
  }
  DeterministicRng rng_{7};
  crypto::Ed25519PrivateKey server_;
  crypto::X25519KeyPair sender_;
};

TEST_F(Certificate, AValidOneNamesTheSender) {
  auto [body, sig] = Make(2000);
  auto id = CheckSenderCertificate(AsBytes(body), sig, server_.PublicKey(), 3, 1000,
                                   sender_.public_key);
  ASSERT_TRUE(id.ok()) << ErrorName(id.code());
  EXPECT_EQ(id->phone, "+14155550100");
  EXPECT_EQ(id->device_id, 2u);
  EXPECT_EQ(id->account_id, std::string(16, 'a'));
}

TEST_F(Certificate, ExpiredForgedOtherKeyOrOtherIdentityIsRefused) {
  auto [body, sig] = Make(2000);
  const auto pub = server_.PublicKey();
  EXPECT_EQ(CheckSenderCertificate(AsBytes(body), sig, pub, 3, 2001, sender_.public_key).code(),
            ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(CheckSenderCertificate(AsBytes(body), sig, pub, 4, 1000, sender_.public_key).code(),
            ErrorCode::kAuthenticationFailed);
  Bytes bad = sig;
  bad[5] ^= 1;
  EXPECT_EQ(CheckSenderCertificate(AsBytes(body), bad, pub, 3, 1000, sender_.public_key).code(),
            ErrorCode::kAuthenticationFailed);
  const auto other_server = crypto::Ed25519PrivateKey::Generate(rng_);
  EXPECT_EQ(CheckSenderCertificate(AsBytes(body), sig, other_server.PublicKey(), 3, 1000,
                                   sender_.public_key)
                .code(),
            ErrorCode::kAuthenticationFailed);
  // Someone else's certificate, presented with another identity key, is refused.
  const auto mallory = crypto::X25519KeyPair::Generate(rng_);
  EXPECT_EQ(CheckSenderCertificate(AsBytes(body), sig, pub, 3, 1000, mallory.public_key).code(),
            ErrorCode::kAuthenticationFailed);
  const std::string junk = "not a certificate";
  const auto junk_sig = server_.Sign(AsBytes(junk));
  EXPECT_EQ(CheckSenderCertificate(AsBytes(junk), Bytes(junk_sig.begin(), junk_sig.end()), pub, 3,
                                   1000, sender_.public_key)
                .code(),
            ErrorCode::kMalformed);
}

}  // namespace
}  // namespace holdfast::client
