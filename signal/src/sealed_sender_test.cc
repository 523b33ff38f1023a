// Sealed sender v1: round trips, a misbehaving network (every flipped byte, every truncation,
// other versions, forged and malformed envelopes), a known answer computed a second way, step
// by step from docs/signal.md, so that a wrong salt order or key split cannot pass, and
// messages exchanged with libsignal itself in both directions.
#include "holdfast/signal/sealed_sender.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"
#include "holdfast/crypto/aes.h"
#include "holdfast/crypto/hash.h"
#include "holdfast/crypto/x25519.h"

namespace holdfast::signal {
namespace {

using crypto::X25519KeyPair;
using crypto::X25519PrivateKey;
using crypto::X25519PublicKey;

Bytes B(std::string_view s) { return ToBytes(AsBytes(s)); }

Bytes Cat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (ByteSpan p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// The protobuf encoding written out by hand, so that the reference below shares nothing with
// the generated code: a length-delimited field is (n << 3 | 2) || varint length || bytes.
void LenField(ByteWriter& w, uint8_t field, ByteSpan value) {
  w.WriteU8(static_cast<uint8_t>(field << 3 | 2));
  w.WriteVarint(value.size());
  w.WriteBytes(value);
}

void VarintField(ByteWriter& w, uint8_t field, uint64_t value) {
  w.WriteU8(static_cast<uint8_t>(field << 3));
  w.WriteVarint(value);
}

Bytes InnerContent(uint32_t type, ByteSpan certificate, ByteSpan content) {
  ByteWriter w;
  VarintField(w, 1, type);
  LenField(w, 2, certificate);
  LenField(w, 3, content);
  return w.Take();
}

Bytes Envelope(ByteSpan ephemeral, ByteSpan encrypted_static, ByteSpan encrypted_message,
               uint8_t version = 0x11) {
  ByteWriter w;
  w.WriteU8(version);
  LenField(w, 1, ephemeral);
  LenField(w, 2, encrypted_static);
  LenField(w, 3, encrypted_message);
  return w.Take();
}

// CtrThenMac is AES-256-CTR under `cipher_key` from a zero counter, then the first 10 bytes
// of HMAC-SHA256 over the ciphertext under `mac_key`.
Bytes CtrThenMac(ByteSpan cipher_key, ByteSpan mac_key, ByteSpan plaintext) {
  const std::array<uint8_t, 16> zero_iv{};
  Bytes ciphertext(plaintext.size());
  EXPECT_TRUE(crypto::Aes256Ctr(cipher_key, zero_iv, plaintext, ciphertext).ok());
  const auto mac = crypto::HmacSha256(mac_key, ciphertext);
  return Cat({ciphertext, mac.span().first(10)});
}

// ReferenceSeal seals `inner` (already-encoded content) the way libsignal-metadata-java's
// SealedSessionCipher.encrypt does, one step at a time. `claimed_sender` goes into
// encrypted_static; the static keys come from `sender_private`, so a forger can pass someone
// else's key there.
Bytes ReferenceSeal(const X25519PrivateKey& ephemeral_private,
                    const X25519PrivateKey& sender_private, const X25519PublicKey& claimed_sender,
                    const X25519PublicKey& recipient, ByteSpan inner) {
  const X25519PublicKey ephemeral = ephemeral_private.PublicKey();
  const auto e_pub = ephemeral.Serialize();
  const auto r_pub = recipient.Serialize();

  // Ephemeral keys: salt "UnidentifiedDelivery" || recipient || ephemeral; chain | cipher | mac.
  const Bytes ephemeral_salt = Cat({AsBytes("UnidentifiedDelivery"), r_pub, e_pub});
  auto ephemeral_shared = crypto::X25519Agree(ephemeral_private, recipient);
  EXPECT_TRUE(ephemeral_shared.ok());
  std::array<uint8_t, 96> ek{};
  EXPECT_TRUE(crypto::HkdfSha256(ephemeral_shared->span(), ephemeral_salt, {}, ek).ok());
  const ByteSpan chain = ByteSpan(ek).subspan(0, 32);
  const Bytes encrypted_static = CtrThenMac(
      ByteSpan(ek).subspan(32, 32), ByteSpan(ek).subspan(64, 32), claimed_sender.Serialize());

  // Static keys: salt chain || encrypted_static (its MAC included); the first third unused.
  const Bytes static_salt = Cat({chain, encrypted_static});
  auto static_shared = crypto::X25519Agree(sender_private, recipient);
  EXPECT_TRUE(static_shared.ok());
  std::array<uint8_t, 96> sk{};
  EXPECT_TRUE(crypto::HkdfSha256(static_shared->span(), static_salt, {}, sk).ok());
  const Bytes encrypted_message =
      CtrThenMac(ByteSpan(sk).subspan(32, 32), ByteSpan(sk).subspan(64, 32), inner);

  return Envelope(e_pub, encrypted_static, encrypted_message);
}

class SealedSenderTest : public ::testing::Test {
 protected:
  Bytes Seal(const SealedContent& content) {
    auto sealed = SealSender(alice, bob.public_key, content, rng);
    EXPECT_TRUE(sealed.ok());
    return sealed.ok() ? std::move(*sealed) : Bytes{};
  }

  DeterministicRng rng{7};
  X25519KeyPair alice = X25519KeyPair::Generate(rng);
  X25519KeyPair bob = X25519KeyPair::Generate(rng);
  X25519KeyPair mallory = X25519KeyPair::Generate(rng);
  SealedContent small{SealedContentType::kMessage, B("certificate"), B("hello")};
};

TEST_F(SealedSenderTest, RoundTripsEveryType) {
  for (SealedContentType type :
       {SealedContentType::kPreKey, SealedContentType::kMessage, SealedContentType::kSenderKey}) {
    const SealedContent content{type, B("alice's certificate"), B("a signal message")};
    auto opened = UnsealSender(bob, Seal(content));
    ASSERT_TRUE(opened.ok()) << static_cast<uint32_t>(type);
    EXPECT_EQ(opened->sender_identity, alice.public_key);
    EXPECT_EQ(opened->content.type, type);
    EXPECT_EQ(opened->content.sender_certificate, content.sender_certificate);
    EXPECT_EQ(opened->content.content, content.content);
  }
}

TEST_F(SealedSenderTest, RoundTripsEmptyAndLargeContent) {
  const SealedContent empty{SealedContentType::kMessage, {}, {}};
  auto opened = UnsealSender(bob, Seal(empty));
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->content.sender_certificate.empty());
  EXPECT_TRUE(opened->content.content.empty());

  SealedContent large{SealedContentType::kPreKey, B("certificate"), Bytes(size_t{200} * 1024)};
  rng.Fill(large.content);
  auto big = UnsealSender(bob, Seal(large));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->sender_identity, alice.public_key);
  EXPECT_EQ(big->content.content, large.content);
}

TEST_F(SealedSenderTest, EachSealIsFresh) {
  EXPECT_NE(Seal(small), Seal(small)) << "a new ephemeral key every time";
}

TEST_F(SealedSenderTest, OnlyTheRecipientCanOpen) {
  const Bytes sealed = Seal(small);
  EXPECT_EQ(UnsealSender(mallory, sealed).code(), ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(UnsealSender(alice, sealed).code(), ErrorCode::kAuthenticationFailed);
  EXPECT_TRUE(UnsealSender(bob, sealed).ok());
}

TEST_F(SealedSenderTest, EveryFlippedByteFails) {
  const Bytes sealed = Seal(small);
  ASSERT_TRUE(UnsealSender(bob, sealed).ok());
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      Bytes bad = sealed;
      bad[i] ^= mask;
      EXPECT_FALSE(UnsealSender(bob, bad).ok()) << "byte " << i << " mask " << int{mask};
    }
  }
}

TEST_F(SealedSenderTest, EveryTruncationFails) {
  const Bytes sealed = Seal(small);
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(UnsealSender(bob, ByteSpan(sealed).first(n)).ok()) << n;
  }
  Bytes longer = sealed;
  longer.push_back(0);
  EXPECT_FALSE(UnsealSender(bob, longer).ok());
}

TEST_F(SealedSenderTest, OtherVersionsAreTheirOwnError) {
  const Bytes sealed = Seal(small);
  // 0x01 and 0x10 are what libsignal's high-nibble check would let through; 0x22 and 0x23
  // are sealed sender v2.
  for (uint8_t version : {0x00, 0x01, 0x10, 0x12, 0x21, 0x22, 0x23, 0x33, 0xff}) {
    Bytes other = sealed;
    other[0] = version;
    EXPECT_EQ(UnsealSender(bob, other).code(), ErrorCode::kUnsupportedVersion) << int{version};
  }
}

TEST_F(SealedSenderTest, SizeIsBoundedBothWays) {
  Bytes huge(kMaxSealedSenderBytes + 1, 0);
  huge[0] = kSealedSenderVersionByte;
  EXPECT_EQ(UnsealSender(bob, huge).code(), ErrorCode::kOversized);

  // The largest content that still fits seals and opens; one byte more is refused.
  SealedContent fits{SealedContentType::kMessage, {}, {}};
  const size_t overhead = Seal(fits).size();
  // Both length varints grow from 1 to 3 bytes at this size.
  fits.content.resize(kMaxSealedSenderBytes - overhead - 4);
  const Bytes at_limit = Seal(fits);
  EXPECT_EQ(at_limit.size(), kMaxSealedSenderBytes);
  EXPECT_TRUE(UnsealSender(bob, at_limit).ok());
  fits.content.push_back(0);
  EXPECT_EQ(SealSender(alice, bob.public_key, fits, rng).code(), ErrorCode::kOversized);
  fits.content.resize(kMaxSealedSenderBytes);
  EXPECT_EQ(SealSender(alice, bob.public_key, fits, rng).code(), ErrorCode::kOversized);
}

TEST_F(SealedSenderTest, RefusesUnknownTypesAndWeakKeys) {
  SealedContent bad = small;
  bad.type = static_cast<SealedContentType>(3);  // CiphertextMessageType's prekey number
  EXPECT_EQ(SealSender(alice, bob.public_key, bad, rng).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(SealSender(alice, X25519PublicKey(), small, rng).code(), ErrorCode::kWeakKey);
}

// A forger who knows only public keys can make an encrypted_static naming Alice (its keys
// come from the ephemeral alone), but not the message MAC, whose keys need Alice's private key.
TEST_F(SealedSenderTest, ForgedSenderFails) {
  const auto ephemeral = X25519PrivateKey::Generate(rng);
  const Bytes inner = InnerContent(2, B("alice's certificate"), B("hi"));
  const Bytes forged =
      ReferenceSeal(ephemeral, mallory.private_key, alice.public_key, bob.public_key, inner);
  EXPECT_EQ(UnsealSender(bob, forged).code(), ErrorCode::kAuthenticationFailed);
  // Under her own key the same envelope opens, and says it is hers.
  const Bytes honest =
      ReferenceSeal(ephemeral, mallory.private_key, mallory.public_key, bob.public_key, inner);
  auto opened = UnsealSender(bob, honest);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->sender_identity, mallory.public_key);
}

// Authentic envelopes around content that breaks the inner grammar.
TEST_F(SealedSenderTest, MalformedContentFails) {
  const auto ephemeral = X25519PrivateKey::Generate(rng);
  auto seal_inner = [&](ByteSpan inner) {
    return ReferenceSeal(ephemeral, alice.private_key, alice.public_key, bob.public_key, inner);
  };
  const Bytes cert = B("certificate");
  const Bytes content = B("content");
  // PLAINTEXT_CONTENT (8), 3 and 0 are not types we read.
  for (uint32_t type : {0u, 3u, 8u, 0x80000001u}) {
    EXPECT_EQ(UnsealSender(bob, seal_inner(InnerContent(type, cert, content))).code(),
              ErrorCode::kMalformed)
        << type;
  }
  ByteWriter no_type, no_cert, no_content;
  LenField(no_type, 2, cert);
  LenField(no_type, 3, content);
  VarintField(no_cert, 1, 2);
  LenField(no_cert, 3, content);
  VarintField(no_content, 1, 2);
  LenField(no_content, 2, cert);
  for (ByteSpan inner : {no_type.view(), no_cert.view(), no_content.view(), ByteSpan(cert)}) {
    EXPECT_EQ(UnsealSender(bob, seal_inner(inner)).code(), ErrorCode::kMalformed);
  }
  // libsignal's later fields (content hint, group id) are ignored.
  ByteWriter newer;
  newer.WriteBytes(InnerContent(7, cert, content));
  VarintField(newer, 4, 1);
  LenField(newer, 5, B("group"));
  auto opened = UnsealSender(bob, seal_inner(newer.view()));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->content.type, SealedContentType::kSenderKey);
  EXPECT_EQ(opened->content.content, content);
}

TEST_F(SealedSenderTest, MalformedEnvelopesFail) {
  const Bytes sealed = Seal(small);
  const auto e_pub = mallory.public_key.Serialize();
  const Bytes statik(43, 1);
  const Bytes message(20, 2);
  const ByteSpan eph(e_pub);
  auto code = [&](const Bytes& bytes) { return UnsealSender(bob, bytes).code(); };
  EXPECT_EQ(code(Bytes{0x11}), ErrorCode::kMalformed);
  EXPECT_EQ(code(Bytes{0x11, 0xff}), ErrorCode::kMalformed);
  // A missing field (an empty one is present, and then has the wrong length).
  {
    ByteWriter w;
    w.WriteU8(0x11);
    LenField(w, 1, eph);
    LenField(w, 2, statik);
    EXPECT_EQ(code(w.Take()), ErrorCode::kMalformed);
  }
  EXPECT_EQ(code(Envelope({}, statik, message)), ErrorCode::kMalformed);
  EXPECT_EQ(code(Envelope(eph.first(32), statik, message)), ErrorCode::kMalformed);
  EXPECT_EQ(code(Envelope(Cat({eph, Bytes{0}}), statik, message)), ErrorCode::kMalformed);
  Bytes wrong_type = ToBytes(eph);
  wrong_type[0] = 0x06;
  EXPECT_EQ(code(Envelope(wrong_type, statik, message)), ErrorCode::kMalformed);
  EXPECT_EQ(code(Envelope(eph, Bytes(42, 1), message)), ErrorCode::kMalformed);
  EXPECT_EQ(code(Envelope(eph, Bytes(44, 1), message)), ErrorCode::kMalformed);
  EXPECT_EQ(code(Envelope(eph, statik, Bytes(9, 2))), ErrorCode::kMalformed);
  // Well-formed but not authentic.
  EXPECT_EQ(code(Envelope(eph, statik, message)), ErrorCode::kAuthenticationFailed);
  EXPECT_EQ(code(Envelope(eph, statik, Bytes(10, 2))), ErrorCode::kAuthenticationFailed);
  // A small-order ephemeral key gives no shared secret at all.
  Bytes zero(33, 0);
  zero[0] = crypto::kDjbKeyType;
  EXPECT_EQ(code(Envelope(zero, statik, message)), ErrorCode::kWeakKey);
  EXPECT_TRUE(UnsealSender(bob, sealed).ok());
}

// The known answer: a seeded Rng seals the same bytes twice, and they are the bytes that the
// step-by-step reference makes from the same ephemeral key (SealSender's only draw).
TEST_F(SealedSenderTest, KnownAnswerMatchesReference) {
  const SealedContent content{SealedContentType::kPreKey, B("sender certificate"),
                              B("prekey signal message")};
  DeterministicRng first(2024), second(2024), reference(2024);
  auto once = SealSender(alice, bob.public_key, content, first);
  auto twice = SealSender(alice, bob.public_key, content, second);
  ASSERT_TRUE(once.ok());
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(*once, *twice);

  const auto ephemeral = X25519PrivateKey::Generate(reference);
  const Bytes expected =
      ReferenceSeal(ephemeral, alice.private_key, alice.public_key, bob.public_key,
                    InnerContent(1, content.sender_certificate, content.content));
  EXPECT_EQ(*once, expected);
}

// Vectors made with libsignal itself (@signalapp/libsignal-client 0.103.0 for Node, the Rust
// implementation), from fixed identity scalars. The certificate is a real SenderCertificate
// for Alice's key, since libsignal parses it. kSealedByLibsignal is what its
// sealedSenderEncrypt made of a prekey-type content "a prekey message"; kSealedForLibsignal is
// what SealSender makes with DeterministicRng(1), which libsignal's sealedSenderDecryptToUsmc
// opened, reading type PreKey, the certificate, and "our prekey message".
constexpr std::string_view kAlicePrivate =
    "a01111111111111111111111111111111111111111111111111111111111114f";
constexpr std::string_view kAlicePublic =
    "05e22bef28f7dccbe4541d9066c2c8a3786b963b6e1488b2454309999d71a1dc47";
constexpr std::string_view kBobPrivate =
    "b02222222222222222222222222222222222222222222222222222222222225f";
constexpr std::string_view kBobPublic =
    "05f438e441cd68559602e158e308af2767d81cc66366245b321881ef1ea5601e37";
constexpr std::string_view kLibsignalCertificate =
    "0abf0110011900a0724e18090000222105e22bef28f7dccbe4541d9066c2c8a3786b963b6e1488b245430999"
    "9d71a1dc472a690a250801122105e67dc449f0bb5ef08804768717cda7827744371c2dd8d04925be42f146ee"
    "895f12409b3179a05c76aa2830843e943b6f88878d972742de67eb9526c90c9d886b030f72c8a5e8232a35f3"
    "bd4f5f02ab9900aabd4000ef56038f27348de3f93ee8f284322439643036353261332d646363332d34643131"
    "2d393735662d3734643631353938373333661240f229e5c53f698311d585a231c3cb6ee8894e20cf48fc6c03"
    "541e3d96f2694d74620bcca3b7dd516ca94338582948a6fb41412d3e87455824f2f53e8eaa3f4986";
constexpr std::string_view kSealedByLibsignal =
    "110a2105adc0e35368937749c6dc85f4a91eb3a0d10aca467cdebecc85a57a7f4100fc70122b8649a70c8d67"
    "5e67fb605d3d07c0126aada2d9de93555f30b7468f9fb9f97b23f5d16f536be7b17e66583a1aa5021f659991"
    "ad4db949f43b89ed1b9d72d41b305c15dcf606d43607dbf3b15f3acc8e2eded7805eae975921cfa70924fe86"
    "c7d7cbbdd4c1cb15521c6f19e3b7366d9ec8a7ce4cd6d678bad634700e732d05143ea6e5b1c198a562fc74bf"
    "3c7779a5c27ba569c69f68f11299db1108f0c8feef326ec21bac079b131b6ab0aa885a7f1271738cf4f4af37"
    "0759d63a1ae5415d151198d0a12e1c94c6d20406ab1e2438bf5128ac56052fe46a75dce08b67f860d7313d34"
    "43386392e823995816f4d53c8471ef6d8dabb1f9cc7905e9d762e4789c1a3907a4e49c1be20e4713c83f485d"
    "2902e4b19f20a6005d1912ca232c6b62fd18e2dfe515346d27904324bb983105b14aa6184d6ea5ad81c86c04"
    "1102d168a12309bcb2d005bd7ae5f45ea9b6ef789ee5348f70";
constexpr std::string_view kSealedForLibsignal =
    "110a2105e92297a3956f9a788dd12eabaea906b3297847d9330b8a7e727df093ab56dd71122b54c5cb89b202"
    "d291a54ef6bcd0a4050094b6aa70a16a175f5fdee1ba95ecb9deadb5b0392de1c9b27568771aa7021bd8e8ee"
    "46d16b0f17afca126a6bd2a371c97829bea7a59623ff9fdfb468499df6e683b1dc1738d1f446f41394be24d8"
    "2345815ecb32d2c88f566a824adf00e970caa7dda8b8a9a27c96a13c889a638b85e2b1a15e39e6063e53f178"
    "7bd62182b733c4d4417f881b3d791a8b4398f642c94c6d15d90af343a4ac4869386702c429953bece7d09338"
    "91ee1cc26a3b13fe4f202757a6cb53feb212c7af224a7b52dcdb82bc154fd0bd423a9dd6276d928877ddc5bd"
    "9bb4edd16d2574a992c9b76dd0997621deeb38e801e4da5365571c09aae9b53aad542f4c3b2469a3614f5d49"
    "2220b6aa2337754b9235f4872b1908da35f7bea538b2008b93040167e91540133a4833ea5a5eb43178088819"
    "68dc9bd2194fbadd7971f0c5efcf243447f038c499164292a2260f";

Bytes Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? std::move(*bytes) : Bytes{};
}

X25519KeyPair FixedPair(std::string_view private_hex, std::string_view public_hex) {
  auto key = X25519PrivateKey::FromBytes(Unhex(private_hex));
  EXPECT_TRUE(key.ok());
  X25519KeyPair pair = X25519KeyPair::FromPrivate(std::move(*key));
  EXPECT_EQ(HexEncode(pair.public_key.Serialize()), public_hex);
  return pair;
}

TEST(SealedSenderLibsignal, OpensWhatLibsignalSealed) {
  const X25519KeyPair alice = FixedPair(kAlicePrivate, kAlicePublic);
  const X25519KeyPair bob = FixedPair(kBobPrivate, kBobPublic);
  const Bytes sealed = Unhex(kSealedByLibsignal);
  auto opened = UnsealSender(bob, sealed);
  ASSERT_TRUE(opened.ok()) << ErrorText(opened.error());
  EXPECT_EQ(opened->sender_identity, alice.public_key);
  EXPECT_EQ(opened->content.type, SealedContentType::kPreKey);
  EXPECT_EQ(opened->content.sender_certificate, Unhex(kLibsignalCertificate));
  EXPECT_EQ(opened->content.content, B("a prekey message"));
  EXPECT_EQ(UnsealSender(alice, sealed).code(), ErrorCode::kAuthenticationFailed);
}

TEST(SealedSenderLibsignal, SealsWhatLibsignalOpened) {
  const X25519KeyPair alice = FixedPair(kAlicePrivate, kAlicePublic);
  const X25519KeyPair bob = FixedPair(kBobPrivate, kBobPublic);
  DeterministicRng rng(1);
  const SealedContent content{SealedContentType::kPreKey, Unhex(kLibsignalCertificate),
                              B("our prekey message")};
  auto sealed = SealSender(alice, bob.public_key, content, rng);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(HexEncode(*sealed), kSealedForLibsignal);
}

}  // namespace
}  // namespace holdfast::signal
