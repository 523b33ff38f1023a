// fuzz_tls_record: TlsRecordLayer on untrusted records. The first byte picks a mode:
//   even: the rest is a raw byte stream of records (headers, lengths, forged tags), opened by
//         a layer of the suite that byte also picks;
//   odd:  the rest is a list of TLSInnerPlaintexts (2-byte length each) sealed correctly
//         under the client's keys, so that the content parsing behind the AEAD is reached
//         (alerts, handshake messages, KeyUpdate, padding).
// Properties: no crash; data returned lies inside the record; after a KeyUpdate the layer
// still opens records sealed under the next key; it still seals afterwards.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "holdfast/server/tls_record.h"
#include "tls_test_util.h"

using holdfast::ByteSpan;
using holdfast::MutableByteSpan;
namespace tls = holdfast::server::tls;

namespace {

std::vector<uint8_t> Secret(uint8_t seed) {
  std::vector<uint8_t> s(32);
  for (size_t i = 0; i < s.size(); ++i) {
    s[i] = static_cast<uint8_t>(seed * 31 + i);
  }
  return s;
}

void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  std::vector<uint8_t> client = Secret(1);
  std::vector<uint8_t> server = Secret(2);
  uint16_t suite = 0x1301;
  if (data[0] % 2 == 0) {
    suite = static_cast<uint16_t>(0x1301 + (data[0] / 2) % 3);
    if (suite == 0x1302) {  // SHA-384 secrets
      client.resize(48, 7);
      server.resize(48, 8);
    }
  }
  auto layer = tls::TlsRecordLayer::Create(suite, client, server);
  Check(layer.ok());
  tls::TlsRecordLayer& l = layer.value();
  ByteSpan in(data + 1, size - 1);

  if (data[0] % 2 == 0) {
    std::vector<uint8_t> buf(in.begin(), in.end());
    size_t at = 0;
    while (at < buf.size()) {
      auto n = tls::TlsRecordLayer::RecordSize(ByteSpan(buf).subspan(at));
      if (!n.ok() || n.value() == 0 || at + n.value() > buf.size()) {
        break;
      }
      Check(n.value() <= tls::kMaxRecordBytes);
      MutableByteSpan record(buf.data() + at, n.value());
      auto opened = l.Open(record);
      if (!opened.ok()) {
        break;
      }
      at += n.value();
    }
    return 0;
  }

  // Sealed inner plaintexts. The sealer tracks the client's key generation the way a client
  // would: after it seals a KeyUpdate that the layer accepted, it moves to the next secret.
  std::vector<uint8_t> secret = client;
  uint64_t seq = 0;
  while (in.size() >= 2) {
    const size_t len = std::min<size_t>((size_t{in[0]} << 8) | in[1], in.size() - 2);
    const ByteSpan inner = in.subspan(2, len);
    in = in.subspan(2 + len);
    if (inner.size() + tls::kTagBytes > tls::kMaxCiphertextBytes) {
      continue;
    }
    std::vector<uint8_t> record = tls::RawSealAes128(secret, seq, inner);
    auto opened = l.Open(record);
    if (!opened.ok()) {
      return 0;
    }
    ++seq;
    const tls::Opened& o = opened.value();
    if (o.kind == tls::Opened::Kind::kData) {
      Check(o.data.empty() || (o.data.data() >= record.data() + tls::kHeaderBytes &&
                               o.data.data() + o.data.size() <= record.data() + record.size()));
    }
    if (o.kind == tls::Opened::Kind::kNone && l.read_sequence() == 0) {
      // A KeyUpdate was taken: follow it.
      std::vector<uint8_t> next(32);
      Check(tls::HkdfExpandLabel(32, secret, "traffic upd", next));
      secret = next;
      seq = 0;
    }
    if (o.kind == tls::Opened::Kind::kClosed) {
      return 0;
    }
  }
  // Whatever was taken, the layer still writes records its peer can be sent.
  std::vector<uint8_t> out;
  l.SealData(ByteSpan(data, size), out);
  Check(out.size() > size);
  return 0;
}
