#include "holdfast/server/tls_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "holdfast/common/encoding.h"
#include "tls_test_util.h"

namespace holdfast::server::tls {
namespace {

Bytes Hex(std::string_view hex) { return HexDecode(hex).value(); }

Bytes Pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) {
    b[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return b;
}

// A server layer and its mirror: the mirror reads what the server writes and writes what the
// server reads, as the client's side of the connection does.
struct Pair {
  TlsRecordLayer server;
  TlsRecordLayer client;
};

Pair MakePair(uint16_t suite) {
  const size_t hash = suite == 0x1302 ? 48 : 32;
  const Bytes c = Pattern(hash, 1);
  const Bytes s = Pattern(hash, 2);
  return Pair{TlsRecordLayer::Create(suite, c, s).value(),
              TlsRecordLayer::Create(suite, s, c).value()};
}

// OpenAll opens every record in `wire` with `layer` and returns the application data.
Result<Bytes> OpenAll(TlsRecordLayer& layer, std::vector<uint8_t> wire, bool* closed = nullptr) {
  Bytes data;
  size_t at = 0;
  while (at < wire.size()) {
    auto size = TlsRecordLayer::RecordSize(ByteSpan(wire).subspan(at));
    if (!size.ok()) {
      return size.error();
    }
    if (size.value() == 0 || at + size.value() > wire.size()) {
      return Error{ErrorCode::kTruncated, "partial record"};
    }
    auto opened = layer.Open(MutableByteSpan(wire.data() + at, size.value()));
    if (!opened.ok()) {
      return opened.error();
    }
    if (opened.value().kind == Opened::Kind::kData) {
      data.insert(data.end(), opened.value().data.begin(), opened.value().data.end());
    } else if (opened.value().kind == Opened::Kind::kClosed && closed != nullptr) {
      *closed = true;
    }
    at += size.value();
  }
  return data;
}

// RFC 8448 §3 ("Simple 1-RTT Handshake"): the server's application traffic secret and the
// write key and IV derived from it.
TEST(TlsRecord, HkdfExpandLabelMatchesRfc8448) {
  const Bytes secret =
      Hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
  Bytes key(16);
  Bytes iv(12);
  ASSERT_TRUE(HkdfExpandLabel(32, secret, "key", key));
  ASSERT_TRUE(HkdfExpandLabel(32, secret, "iv", iv));
  EXPECT_EQ(HexEncode(key), "9f02283b6c9c07efc26bb9f2ac92e356");
  EXPECT_EQ(HexEncode(iv), "cf782b88dd83549aadf1e984");
}

TEST(TlsRecord, CreateRefusesUnknownSuitesAndWrongSecretLengths) {
  const Bytes s32 = Pattern(32, 1);
  const Bytes s48 = Pattern(48, 1);
  EXPECT_EQ(TlsRecordLayer::Create(0x1304, s32, s32).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TlsRecordLayer::Create(0x1302, s32, s32).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(TlsRecordLayer::Create(0x1301, s48, s32).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(TlsRecordLayer::Create(0x1302, s48, s48).ok());
}

class EverySuite : public ::testing::TestWithParam<uint16_t> {};

TEST_P(EverySuite, DataRoundTripsAndIsSplitIntoFullRecords) {
  Pair p = MakePair(GetParam());
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, kMaxPlaintextBytes, kMaxPlaintextBytes + 1,
                   size_t{100000}}) {
    const Bytes data = Pattern(n, static_cast<uint8_t>(n));
    std::vector<uint8_t> wire;
    p.server.SealData(data, wire);
    const size_t records = n == 0 ? 1 : (n + kMaxPlaintextBytes - 1) / kMaxPlaintextBytes;
    EXPECT_EQ(wire.size(), n + records * (kHeaderBytes + 1 + kTagBytes)) << n;
    EXPECT_EQ(OpenAll(p.client, wire).value(), data) << n;
    // and the other way
    wire.clear();
    p.client.SealData(data, wire);
    EXPECT_EQ(OpenAll(p.server, wire).value(), data) << n;
  }
  EXPECT_EQ(p.server.suite(), static_cast<CipherSuite>(GetParam()));
}

TEST_P(EverySuite, EveryFlippedBitIsRejected) {
  Pair p = MakePair(GetParam());
  std::vector<uint8_t> wire;
  p.client.SealData(Pattern(40, 3), wire);
  for (size_t i = 0; i < wire.size(); ++i) {
    Pair fresh = MakePair(GetParam());
    std::vector<uint8_t> bad = wire;
    bad[i] ^= 0x01;
    auto r = OpenAll(fresh.server, bad);
    ASSERT_FALSE(r.ok()) << i;
    if (i == 0) {
      EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << i;  // no longer application_data
    } else if (i == 3 || i == 4) {
      // The length now claims more (the record is incomplete) or less (the tag is cut).
      EXPECT_TRUE(r.error().code == ErrorCode::kAuthenticationFailed ||
                  r.error().code == ErrorCode::kTruncated)
          << i;
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kAuthenticationFailed) << i;  // version is AAD too
    }
  }
}

TEST_P(EverySuite, TheWriteKeyIsRenewedAtItsLimitAndTheReadSequenceCannotWrap) {
  Pair p = MakePair(GetParam());
  p.server.SetSequencesForTesting(0, kRekeyAfterRecords);
  p.client.SetSequencesForTesting(kRekeyAfterRecords, 0);
  std::vector<uint8_t> wire;
  p.server.SealData(Pattern(10, 1), wire);
  // A KeyUpdate went first, then the data under the next key.
  EXPECT_EQ(wire.size(), (kHeaderBytes + 5 + 1 + kTagBytes) + (kHeaderBytes + 10 + 1 + kTagBytes));
  EXPECT_EQ(p.server.write_sequence(), 1u);
  EXPECT_EQ(OpenAll(p.client, wire).value(), Pattern(10, 1));

  Pair q = MakePair(GetParam());
  q.server.SetSequencesForTesting(UINT64_MAX, 0);
  q.client.SetSequencesForTesting(0, UINT64_MAX);
  wire.clear();
  q.client.SealData(Pattern(10, 2), wire);
  EXPECT_EQ(OpenAll(q.server, wire).error().code, ErrorCode::kMalformed);
}

TEST_P(EverySuite, ReplayedOrReorderedRecordsFail) {
  Pair p = MakePair(GetParam());
  std::vector<uint8_t> first;
  std::vector<uint8_t> second;
  p.client.SealData(Pattern(10, 1), first);
  p.client.SealData(Pattern(10, 2), second);
  ASSERT_TRUE(OpenAll(p.server, first).ok());
  EXPECT_EQ(OpenAll(p.server, first).error().code, ErrorCode::kAuthenticationFailed);

  Pair q = MakePair(GetParam());
  EXPECT_EQ(OpenAll(q.server, second).error().code, ErrorCode::kAuthenticationFailed);
}

TEST_P(EverySuite, KeyUpdateRequestedIsAnsweredBeforeTheNextData) {
  Pair p = MakePair(GetParam());
  std::vector<uint8_t> wire;
  p.client.SealKeyUpdate(/*request_peer_update=*/true, wire);
  p.client.SealData(Pattern(50, 4), wire);
  EXPECT_EQ(OpenAll(p.server, wire).value(), Pattern(50, 4));
  EXPECT_EQ(p.server.read_sequence(), 1u);  // the new key has opened one record

  // The server's next data is preceded by its own KeyUpdate, which the client follows.
  std::vector<uint8_t> reply;
  p.server.SealData(Pattern(60, 5), reply);
  EXPECT_EQ(p.server.write_sequence(), 1u);
  EXPECT_EQ(reply.size(), (kHeaderBytes + 5 + 1 + kTagBytes) + (kHeaderBytes + 60 + 1 + kTagBytes));
  EXPECT_EQ(OpenAll(p.client, reply).value(), Pattern(60, 5));
  EXPECT_EQ(p.client.read_sequence(), 1u);  // it followed the update: one record since

  // Only once: the next data goes without another KeyUpdate.
  reply.clear();
  p.server.SealData(Pattern(60, 6), reply);
  EXPECT_EQ(reply.size(), kHeaderBytes + 60 + 1 + kTagBytes);
  EXPECT_EQ(OpenAll(p.client, reply).value(), Pattern(60, 6));
}

TEST_P(EverySuite, KeyUpdateNotRequestedChangesOnlyTheReadKey) {
  Pair p = MakePair(GetParam());
  for (int i = 0; i < 5; ++i) {
    std::vector<uint8_t> wire;
    p.client.SealKeyUpdate(false, wire);
    p.client.SealData(Pattern(20, static_cast<uint8_t>(i)), wire);
    EXPECT_EQ(OpenAll(p.server, wire).value(), Pattern(20, static_cast<uint8_t>(i)));
  }
  std::vector<uint8_t> reply;
  p.server.SealData(Pattern(7, 9), reply);
  EXPECT_EQ(reply.size(), kHeaderBytes + 7 + 1 + kTagBytes);  // no KeyUpdate went out
  EXPECT_EQ(OpenAll(p.client, reply).value(), Pattern(7, 9));
}

TEST_P(EverySuite, CloseNotifyAndErrorAlerts) {
  Pair p = MakePair(GetParam());
  std::vector<uint8_t> wire;
  p.client.SealAlert(Alert::kCloseNotify, wire);
  bool closed = false;
  ASSERT_TRUE(OpenAll(p.server, wire, &closed).ok());
  EXPECT_TRUE(closed);

  wire.clear();
  p.client.SealAlert(Alert::kDecodeError, wire);
  EXPECT_EQ(OpenAll(p.server, wire).error().code, ErrorCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Suites, EverySuite, ::testing::Values(0x1301, 0x1302, 0x1303));

TEST(TlsRecord, HeadersAreCheckedBeforeDecryption) {
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("17030300")).value(), 0u);  // header incomplete
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1703030011")).value(), 5u + 17u);
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1703034100")).value(), 5u + 16640u);
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1703034101")).error().code, ErrorCode::kOversized);
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1703030010")).error().code, ErrorCode::kMalformed);
  // change_cipher_spec, handshake and alert records in the clear after the handshake
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1403030001")).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1603030020")).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(TlsRecordLayer::RecordSize(Hex("1503030002")).error().code, ErrorCode::kMalformed);
}

TEST(TlsRecord, SealingAgreesWithAnIndependentSealer) {
  Pair p = MakePair(0x1301);
  const Bytes data = Pattern(33, 8);
  std::vector<uint8_t> ours;
  p.client.SealData(data, ours);
  Bytes inner = data;
  inner.push_back(0x17);
  EXPECT_EQ(ours, RawSealAes128(Pattern(32, 1), 0, inner));
}

TEST(TlsRecord, PaddingIsStripped) {
  Pair p = MakePair(0x1301);
  Bytes inner = Pattern(12, 6);
  inner.push_back(0x17);
  inner.resize(inner.size() + 200, 0);
  EXPECT_EQ(OpenAll(p.server, RawSealAes128(Pattern(32, 1), 0, inner)).value(), Pattern(12, 6));
}

TEST(TlsRecord, BadInnerContentIsRefused) {
  struct Case {
    const char* name;
    Bytes inner;
    ErrorCode want;
  };
  Bytes too_long(kMaxPlaintextBytes + 1, 0x41);
  too_long.push_back(0x17);
  const std::vector<Case> cases = {
      {"only padding", Bytes(20, 0), ErrorCode::kMalformed},
      {"unknown content type", {1, 2, 99}, ErrorCode::kMalformed},
      {"change_cipher_spec inside", {1, 20}, ErrorCode::kMalformed},
      {"alert of three bytes", {1, 0, 0, 21}, ErrorCode::kTruncated},
      {"fatal alert from the client", {2, 40, 21}, ErrorCode::kUnavailable},
      {"short handshake message", {24, 0, 0, 22}, ErrorCode::kTruncated},
      {"NewSessionTicket from a client", {4, 0, 0, 1, 0, 22}, ErrorCode::kMalformed},
      {"Finished again", {20, 0, 0, 32, 0, 22}, ErrorCode::kMalformed},
      {"KeyUpdate with a long body", {24, 0, 0, 2, 0, 0, 22}, ErrorCode::kTruncated},
      {"KeyUpdate cut short", {24, 0, 0, 1, 22}, ErrorCode::kTruncated},
      {"KeyUpdate request 2", {24, 0, 0, 1, 2, 22}, ErrorCode::kInvalidArgument},
      {"data after KeyUpdate", {24, 0, 0, 1, 0, 24, 0, 0, 1, 0, 22}, ErrorCode::kMalformed},
      {"plaintext over 2^14", too_long, ErrorCode::kOversized},
  };
  for (const Case& c : cases) {
    Pair p = MakePair(0x1301);
    auto r = OpenAll(p.server, RawSealAes128(Pattern(32, 1), 0, c.inner));
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, c.want) << c.name;
  }
  // user_canceled is a warning: the connection goes on to close_notify.
  Pair p = MakePair(0x1301);
  const Bytes canceled = {1, 90, 21};
  EXPECT_TRUE(OpenAll(p.server, RawSealAes128(Pattern(32, 1), 0, canceled)).ok());
}

TEST(TlsRecord, RecordsWithoutDataHaveABudgetThatTinyRecordsDoNotRefill) {
  // KeyUpdates: 8 free, then only one per MiB of data, however many 1-byte records come.
  Pair p = MakePair(0x1301);
  for (uint64_t i = 0; i < kFreeKeyUpdates; ++i) {
    std::vector<uint8_t> wire;
    p.client.SealData(Pattern(1, 1), wire);
    p.client.SealKeyUpdate(false, wire);
    ASSERT_TRUE(OpenAll(p.server, wire).ok()) << i;
  }
  {
    std::vector<uint8_t> wire;
    p.client.SealData(Pattern(1, 1), wire);
    p.client.SealKeyUpdate(false, wire);
    EXPECT_EQ(OpenAll(p.server, wire).error().code, ErrorCode::kMalformed);
  }
  // A MiB of data earns one more.
  Pair q = MakePair(0x1301);
  for (uint64_t i = 0; i < kFreeKeyUpdates; ++i) {
    std::vector<uint8_t> wire;
    q.client.SealKeyUpdate(false, wire);
    ASSERT_TRUE(OpenAll(q.server, wire).ok());
  }
  std::vector<uint8_t> wire;
  q.client.SealData(Bytes(kBytesPerKeyUpdate, 7), wire);
  q.client.SealKeyUpdate(false, wire);
  EXPECT_TRUE(OpenAll(q.server, wire).ok());
  wire.clear();
  q.client.SealKeyUpdate(false, wire);
  EXPECT_EQ(OpenAll(q.server, wire).error().code, ErrorCode::kMalformed);

  // Empty records and user_canceled: 32 free, then one per KiB.
  Pair r = MakePair(0x1301);
  for (uint64_t i = 0; i < kFreeEmptyRecords; ++i) {
    std::vector<uint8_t> w;
    r.client.SealData({}, w);
    ASSERT_TRUE(OpenAll(r.server, w).ok()) << i;
  }
  std::vector<uint8_t> w;
  r.client.SealData(Pattern(kBytesPerEmptyRecord, 1), w);
  r.client.SealData({}, w);  // earned by the KiB just sent
  ASSERT_TRUE(OpenAll(r.server, w).ok());
  w.clear();
  r.client.SealData({}, w);
  EXPECT_EQ(OpenAll(r.server, w).error().code, ErrorCode::kMalformed);
}

TEST(TlsRecord, AlertForNamesTheAlert) {
  EXPECT_EQ(TlsRecordLayer::AlertFor(Error{ErrorCode::kAuthenticationFailed}), Alert::kBadRecordMac);
  EXPECT_EQ(TlsRecordLayer::AlertFor(Error{ErrorCode::kOversized}), Alert::kRecordOverflow);
  EXPECT_EQ(TlsRecordLayer::AlertFor(Error{ErrorCode::kTruncated}), Alert::kDecodeError);
  EXPECT_EQ(TlsRecordLayer::AlertFor(Error{ErrorCode::kMalformed}), Alert::kUnexpectedMessage);
  EXPECT_EQ(TlsRecordLayer::AlertFor(Error{ErrorCode::kInvalidArgument}),
            Alert::kIllegalParameter);
}

}  // namespace
}  // namespace holdfast::server::tls
